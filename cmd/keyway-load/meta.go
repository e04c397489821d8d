package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/providers/meta"
)

// The WhatsApp Cloud API side of the load (--provider meta): the app the
// tool configures keyway with, the webhooks it posts as Meta does, and the
// fake Graph API's messages endpoint that keyway's replies go to.
const (
	fakeAppSecret   = "load-app-secret"
	fakeAccessToken = "load-access-token"
	fakeVerifyToken = "load-verify-token"
	fakePhoneID     = "100000000000001"
	fakeWABA        = "200000000000002"
	// ourWhatsApp is the business number on the Cloud API: not ourNumber,
	// since a number belongs to one provider.
	ourWhatsApp = "+15005550009"
	// graphVersion is the Graph API version in the api_base_url written.
	graphVersion = "/v21.0"
	// graphMessagesPath is where keyway sends from ourWhatsApp.
	graphMessagesPath = graphVersion + "/" + fakePhoneID + "/messages"
)

// Provider names of --provider.
const (
	providerTwilio = "twilio"
	providerMeta   = "meta"
)

// metaSection is providers.meta pointing at the fake Graph API at apiBase.
// Its mps is lifted far above any load, as the loop guard is: the load
// measures keyway's webhook path, not Meta's default of 80 sends a second
// per number.
func metaSection(apiBase string) string {
	return fmt.Sprintf(`  meta:
    app_secret: %q
    verify_token: %q
    access_token: %q
    api_base_url: %q
    numbers:
      - { number: %q, phone_number_id: %q, mps: 1000000 }
`, fakeAppSecret, fakeVerifyToken, fakeAccessToken, apiBase+graphVersion, ourWhatsApp, fakePhoneID)
}

// graphSend answers POST {version}/{phone_number_id}/messages as the Graph
// API does for a text: the bearer token, a JSON body with "to" (digits, no
// plus) and text.body, and {"messages":[{"id":"wamid..."}]} at once. It
// counts each accepted message as the Twilio endpoint does.
func (f *fakeProvider) graphSend(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		f.refuseGraph(w, http.StatusMethodNotAllowed, 100, "unsupported method")
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+fakeAccessToken {
		f.refuseGraph(w, http.StatusUnauthorized, 190, "Invalid OAuth access token")
		return
	}
	var req struct {
		Product string `json:"messaging_product"`
		To      string `json:"to"`
		Type    string `json:"type"`
		Text    struct {
			Body string `json:"body"`
		} `json:"text"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil ||
		req.Product != "whatsapp" || req.Type != "text" || req.To == "" || req.Text.Body == "" {
		f.refuseGraph(w, http.StatusBadRequest, 100, "(#100) Invalid parameter")
		return
	}
	to := "+" + strings.TrimPrefix(req.To, "+")
	wamid := fmt.Sprintf("wamid.LOAD%032x", f.sids.Add(1))
	f.take(to, ourWhatsApp, wamid, req.Text.Body)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":%q,"wa_id":%q}],"messages":[{"id":%q}]}`, req.To, req.To, wamid)
}

// refuseGraph answers like the Graph API does when a request fails, and
// counts it.
func (f *fakeProvider) refuseGraph(w http.ResponseWriter, status, code int, msg string) {
	f.mu.Lock()
	f.bad++
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"message":%q,"type":"OAuthException","code":%d,"fbtrace_id":"load"}}`, msg, code)
}

// metaWebhook is the body of one webhook as Meta posts it: one entry, one
// change of field "messages" for ourWhatsApp, with a contact and a text
// message for each of batch (body: its kind's word, then its id).
func metaWebhook(batch []sent, at time.Time) []byte {
	var b bytes.Buffer
	b.Grow(400 + 220*len(batch))
	b.WriteString(`{"object":"whatsapp_business_account","entry":[{"id":"` + fakeWABA + `","changes":[{"field":"messages","value":{"messaging_product":"whatsapp",`)
	b.WriteString(`"metadata":{"display_phone_number":"` + strings.TrimPrefix(ourWhatsApp, "+") + `","phone_number_id":"` + fakePhoneID + `"},"contacts":[`)
	for i, s := range batch {
		if i > 0 {
			b.WriteByte(',')
		}
		waID := strings.TrimPrefix(s.From, "+")
		b.WriteString(`{"profile":{"name":"Load ` + waID[len(waID)-4:] + `"},"wa_id":"` + waID + `"}`)
	}
	b.WriteString(`],"messages":[`)
	ts := strconv.FormatInt(at.Unix(), 10)
	for i, s := range batch {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"from":"` + strings.TrimPrefix(s.From, "+") + `","id":"` + s.SID + `","timestamp":"` + ts + `","type":"text","text":{"body":"` + words[s.Kind] + " " + s.SID + `"}}`)
	}
	b.WriteString(`]}}]}]}`)
	return b.Bytes()
}

// postMeta posts batch as one webhook signed with the app secret, as Meta
// does, and returns the HTTP status.
func postMeta(ctx context.Context, client *http.Client, target string, batch []sent) (int, error) {
	body := metaWebhook(batch, time.Now())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target+meta.Path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(meta.SignatureHeader, "sha256="+meta.Sign(fakeAppSecret, body))
	return status(client, req)
}
