package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/providers/meta"
)

// metaProvider is keyway's own WhatsApp Cloud API provider, set up as the
// tool's config sets it up, sending to apiBase.
func metaProvider(apiBase string) *meta.Meta {
	return meta.New(meta.Settings{AppSecret: fakeAppSecret, VerifyToken: fakeVerifyToken, AccessToken: fakeAccessToken, APIBaseURL: apiBase + graphVersion},
		[]config.Number{{Number: ourWhatsApp, Channel: config.ChannelWhatsApp, PhoneNumberID: fakePhoneID}}, "US", zerolog.New(io.Discard))
}

// The webhook the tool posts is one keyway's Meta provider takes: its
// signature checks, and each message of the batch comes out with its id,
// sender, our number and the body the automations match.
func TestMetaWebhookParses(t *testing.T) {
	batch := []sent{
		{SID: "wamid.LOAD1", From: "+15550000001", Kind: kindKeyword},
		{SID: "wamid.LOAD2", From: "+15550000002", Kind: kindJoin},
		{SID: "wamid.LOAD3", From: "+15550000002", Kind: kindReply},
	}
	body := metaWebhook(batch, time.Now())
	p := metaProvider("http://127.0.0.1:9")
	var route providers.Route
	for _, r := range p.Routes() {
		if r.Method == http.MethodPost {
			route = r
		}
	}
	h := http.Header{}
	h.Set(meta.SignatureHeader, "sha256="+meta.Sign(fakeAppSecret, body))
	b, err := p.Parse(route, &providers.Request{URL: publicURL + meta.Path, Header: h, Body: body})
	if err != nil {
		t.Fatalf("keyway refuses the tool's webhook: %v\n%s", err, body)
	}
	if len(b.Messages) != len(batch) {
		t.Fatalf("%d messages parsed, want %d", len(b.Messages), len(batch))
	}
	for i, m := range b.Messages {
		want := batch[i]
		if m.ID != want.SID || m.From != want.From || m.To != ourWhatsApp || m.Body != words[want.Kind]+" "+want.SID {
			t.Errorf("message %d: %+v, want id %s from %s body %q", i, m, want.SID, want.From, words[want.Kind]+" "+want.SID)
		}
	}
	h.Set(meta.SignatureHeader, "sha256="+meta.Sign("another-secret", body))
	if _, err := p.Parse(route, &providers.Request{URL: publicURL + meta.Path, Header: h, Body: body}); err == nil {
		t.Error("a webhook signed with another secret was taken")
	}
}

// The fake Graph API answers keyway's own Meta provider as Meta does: a
// send gets a wamid back and is counted by its tag and recipient; a wrong
// token is refused, and the refusal counts against the run.
func TestFakeGraphAPI(t *testing.T) {
	fake, err := startFake("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()
	p := metaProvider(fake.URL())
	id, err := p.Send(context.Background(), providers.Outbound{ID: "o1", Channel: config.ChannelWhatsApp, From: ourWhatsApp, To: "+15550000001", Body: "Open 9-5. hours wamid.LOAD1"})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if !strings.HasPrefix(id, "wamid.") {
		t.Errorf("send answered id %q, want a wamid", id)
	}
	counts, refused := fake.Snapshot()
	if counts[sendKey{Tag: "wamid.LOAD1", To: "+15550000001"}] != 1 || fake.Total() != 1 || refused != 0 {
		t.Errorf("counts %v, total %d, refused %d; want one send to +15550000001 for wamid.LOAD1", counts, fake.Total(), refused)
	}

	wrong := meta.New(meta.Settings{AppSecret: fakeAppSecret, AccessToken: "not-the-token", APIBaseURL: fake.URL() + graphVersion},
		[]config.Number{{Number: ourWhatsApp, Channel: config.ChannelWhatsApp, PhoneNumberID: fakePhoneID}}, "US", zerolog.New(io.Discard))
	if _, err := wrong.Send(context.Background(), providers.Outbound{ID: "o2", From: ourWhatsApp, To: "+15550000001", Body: "x wamid.LOAD2"}); err == nil {
		t.Error("a send with a wrong token was taken")
	}
	if _, refused := fake.Snapshot(); refused != 1 || fake.Total() != 1 {
		t.Errorf("refused %d, total %d after a wrong token; want 1 and 1", refused, fake.Total())
	}
}

// Each webhook of a Meta drive carries --per-post messages, the state of
// their senders moving on within it: an answer only ever follows its
// sender's JOIN, in the same webhook or an earlier one. A webhook that
// fails breaks every sender in it.
func TestDriveMetaBatches(t *testing.T) {
	type posted struct {
		ids, froms, bodies []string
	}
	got := make(chan posted, 100)
	fail := make(chan bool, 1)
	fail <- true // the first webhook fails
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p := metaProvider("http://127.0.0.1:9")
		b, err := p.Parse(providers.Route{Method: http.MethodPost, Path: meta.Path, Kind: providers.RouteInbound},
			&providers.Request{URL: publicURL + r.URL.Path, Header: r.Header, Body: body})
		if err != nil || r.URL.Path != meta.Path {
			t.Errorf("%s: %v", r.URL.Path, err)
			w.WriteHeader(http.StatusForbidden)
			return
		}
		var ps posted
		for _, m := range b.Messages {
			ps.ids, ps.froms, ps.bodies = append(ps.ids, m.ID), append(ps.froms, m.From), append(ps.bodies, m.Body)
		}
		select {
		case <-fail:
			w.WriteHeader(http.StatusInternalServerError)
			return
		default:
		}
		got <- ps
	}))
	defer srv.Close()
	res := drive(t.Context(), srv.URL, loadOptions{Conns: 1, Requests: 20, Senders: 12, Nonce: "b", Provider: providerMeta, PerPost: 5})
	close(got)
	if res.Webhooks != 19 || res.Errors["HTTP 500"] != 1 || len(res.Sent) != 100 || res.Accepted() != 95 {
		t.Fatalf("%d webhooks taken, errors %v, %d messages sent, %d accepted; want 19, one HTTP 500, 100, 95",
			res.Webhooks, res.Errors, len(res.Sent), res.Accepted())
	}
	broken := map[string]bool{}
	for _, s := range res.Sent[:5] {
		broken[s.From] = true
	}
	joined := map[string]bool{}
	for ps := range got {
		if len(ps.ids) != 5 {
			t.Errorf("a webhook of %d messages, want 5", len(ps.ids))
		}
		for i, from := range ps.froms {
			if broken[from] {
				t.Errorf("%s sent again after its webhook failed", from)
			}
			switch strings.Fields(ps.bodies[i])[0] {
			case words[kindJoin]:
				if joined[from] {
					t.Errorf("%s sent JOIN while it waits", from)
				}
				joined[from] = true
			case words[kindReply]:
				if !joined[from] {
					t.Errorf("%s answered without a JOIN", from)
				}
				joined[from] = false
			default:
				if joined[from] {
					t.Errorf("%s sent %q while it waits for an answer", from, ps.bodies[i])
				}
			}
		}
	}
}

// TestLoadMeta builds keyway and drives it with Twilio's webhooks and the
// WhatsApp Cloud API's, one and ten messages each, alternating: every
// accepted message is stored and every reply sent once through the fake
// Graph API, and the summary compares the modes.
func TestLoadMeta(t *testing.T) {
	bin, self := built(t)
	var out bytes.Buffer
	cmd := exec.Command(self, "--keyway", "kw="+bin, "--provider", "twilio,meta", "--per-post", "1,10",
		"--conns", "4", "--requests", "60", "--senders", "40")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("keyway-load: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		`kw/twilio  round 1: 60 accepted in 60 webhooks`,
		`verified: 60 accepted messages stored, [1-9][0-9]* replies sent exactly once, nothing else sent`,
		`kw/meta-1  round 1: 60 accepted in 60 webhooks`,
		`kw/meta-10 round 1: 600 accepted in 60 webhooks`,
		`verified: 600 accepted messages stored, [1-9][0-9]* replies sent exactly once, nothing else sent`,
		`kw/meta-10 / kw/twilio: [0-9.]+× webhooks/s, [0-9.]+× messages/s`,
		`load average `,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("output lacks %s:\n%s", want, out.String())
		}
	}
	if n := strings.Count(out.String(), "verified:"); n != 3 {
		t.Errorf("%d runs verified, want 3:\n%s", n, out.String())
	}
}

// TestRunRefusesBadModes proves an unknown provider, a count of messages
// that is no count, and a crash test of Meta's webhooks are refused.
func TestRunRefusesBadModes(t *testing.T) {
	for _, args := range [][]string{
		{"--baseline", "--provider", "sms"},
		{"--baseline", "--provider", "meta", "--per-post", "0"},
		{"--baseline", "--provider", "meta", "--per-post", "1,x"},
		{"--keyway", "a", "--provider", "meta", "--crash", "2"},
	} {
		if err := run(context.Background(), args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestModes proves each keyway gets each mode, named after it, the bare
// servers once, and a config for --write-config each provider once.
func TestModes(t *testing.T) {
	ms, err := parseModes("twilio, meta", "1,10")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tg := range ms.apply([]target{{Name: "kw", Binary: "k"}, {Name: "bare-batch", Baseline: bareBatch}}) {
		names = append(names, fmt.Sprintf("%s %s %d", tg.Name, tg.Provider, tg.PerPost))
	}
	if want := []string{"kw/twilio twilio 1", "kw/meta-1 meta 1", "kw/meta-10 meta 10", "bare-batch twilio 1"}; !slices.Equal(names, want) {
		t.Errorf("runs %q, want %q", names, want)
	}
	if got := ms.providers(); !slices.Equal(got, []string{"twilio", "meta"}) {
		t.Errorf("providers %q", got)
	}
	only, _ := parseModes("twilio", "1")
	if tg := only.apply([]target{{Name: "kw"}}); tg[0].Name != "kw" {
		t.Errorf("Twilio's mode alone renamed the target %q", tg[0].Name)
	}
	cfg := keywayConfig(":0", "/d", "http://127.0.0.1:1", false, ms.providers()...)
	for _, want := range []string{"  twilio:\n", "  meta:\n", `api_base_url: "http://127.0.0.1:1/v21.0"`, ourWhatsApp, ourNumber} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
}
