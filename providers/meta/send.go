package meta

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// Graph API error codes and what they mean to keyway.
const (
	codeOutsideWindow   = 131047 // re-engagement message: more than 24 hours since the customer last replied
	codeMarketingOptOut = 131050 // the user stopped marketing messages
)

// throttleCodes are Meta's rate limit errors: retried later, the number
// slowed down.
var throttleCodes = map[int]bool{
	130429: true, // rate limit hit
	131056: true, // pair rate limit hit (too many to one user)
	80007:  true, // WhatsApp Business Account rate limit
	131048: true, // spam rate limit hit
}

// Limits of WhatsApp interactive messages.
const (
	maxButtons = 3
	maxRows    = 10
	// maxButtonsBody is the longest text reply buttons may carry, in
	// characters; a list takes as much as a text message.
	maxButtonsBody = 1024
	// maxCaption is the longest caption of an image, a video or a
	// document, in characters.
	maxCaption = 1024
)

// SendsChoices reports whether m's choices go out as an interactive
// message: reply buttons (at most 3, with at most one image, video or
// document as their header, under a text of at most 1024 characters) or a
// list (at most 10 rows, without media), on a message that is not a
// template. Any other message with choices
// goes with them numbered in its text (the caption of its media), so
// that neither the media nor the choices are lost.
func (m *Meta) SendsChoices(o providers.Outbound) bool {
	c := o.Choices
	if c == nil || o.ContentSID != "" || o.Template != nil || o.Body == "" {
		return false
	}
	if c.List != nil {
		return len(o.Media) == 0 && len(c.All()) <= maxRows
	}
	switch len(o.Media) {
	case 0:
	case 1:
		if k := mediaKind(o.Media[0]); k != "image" && k != "video" && k != "document" {
			return false
		}
	default:
		return false
	}
	return len(c.Buttons) > 0 && len(c.Buttons) <= maxButtons && utf8.RuneCountInString(o.Body) <= maxButtonsBody
}

// Send posts o to {api_base_url}/{phone_number_id}/messages with the access
// token and returns the message's wamid. Errors are *providers.SendError:
// 131047 outside the window, 131050 a marketing opt-out, 130429, 131056,
// 80007 and 131048 throttling (retried), other answers failures with the
// code; 5xx and network errors are retried. In dev mode nothing is sent.
func (m *Meta) Send(ctx context.Context, o providers.Outbound) (string, error) {
	masked := config.MaskAddress(o.To)
	if o.Channel != "" && o.Channel != config.ChannelWhatsApp {
		return "", &providers.SendError{Reason: fmt.Sprintf("the WhatsApp Cloud API sends on whatsapp only, not %q", o.Channel),
			Err: fmt.Errorf("meta: send to %s: the WhatsApp Cloud API has no %q channel", masked, o.Channel)}
	}
	if o.ContentSID != "" && o.Template == nil {
		return "", &providers.SendError{Reason: "a Twilio content_sid template cannot go through the WhatsApp Cloud API",
			Err: fmt.Errorf("meta: send to %s: a Twilio content_sid template cannot go through the WhatsApp Cloud API", masked)}
	}
	id, ok := m.ids[o.From]
	if !ok && !m.dev {
		return "", &providers.SendError{Err: fmt.Errorf("meta: send to %s: %s is not a number of providers.meta", masked, config.MaskAddress(o.From))}
	}
	body, err := json.Marshal(m.request(o))
	if err != nil {
		return "", &providers.SendError{Err: fmt.Errorf("meta: send to %s: %w", masked, err)}
	}
	if m.dev {
		var b [16]byte
		_, _ = rand.Read(b[:])
		wamid := "wamid.DEV" + hex.EncodeToString(b[:])
		m.log.Info().Str("id", o.ID).Str("wamid", wamid).Str("from", config.MaskAddress(o.From)).Str("to", masked).Msg("meta: dev mode, message not sent")
		m.log.Debug().Str("id", o.ID).RawJSON("request", body).Msg("meta: dev mode message")
		return wamid, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.base+"/"+url.PathEscape(id)+"/messages", bytes.NewReader(body))
	if err != nil {
		return "", &providers.SendError{Err: fmt.Errorf("meta: send to %s: %w", masked, err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+m.set.AccessToken)
	res, err := m.client.Do(req)
	if err != nil {
		return "", &providers.SendError{Retryable: true, Unreached: providers.Unreached(err),
			Err: fmt.Errorf("meta: send to %s: %s", masked, strings.ReplaceAll(err.Error(), m.set.AccessToken, "***"))}
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var a struct {
		Messages []struct {
			ID string `json:"id"`
		} `json:"messages"`
		Error struct {
			Message   string `json:"message"`
			Code      int    `json:"code"`
			ErrorData struct {
				Details string `json:"details"`
			} `json:"error_data"`
		} `json:"error"`
	}
	jerr := json.Unmarshal(raw, &a)
	if res.StatusCode/100 == 2 {
		if jerr != nil || len(a.Messages) == 0 || a.Messages[0].ID == "" {
			// Meta may have taken it: another attempt could send it twice.
			return "", &providers.SendError{Status: res.StatusCode, Reason: providers.ReasonTakenUnknown,
				Err: fmt.Errorf("meta: send to %s: answer without a message id", masked)}
		}
		m.log.Debug().Str("id", o.ID).Str("wamid", a.Messages[0].ID).Str("to", masked).Msg("meta: message sent")
		return a.Messages[0].ID, nil
	}
	code := a.Error.Code
	what := firstNonEmpty(a.Error.ErrorData.Details, a.Error.Message, http.StatusText(res.StatusCode))
	what = providers.NumberMasker(o.To, o.From).Replace(what)
	se := &providers.SendError{Status: res.StatusCode, Code: code, Reason: what,
		Err: fmt.Errorf("meta: send to %s: %d (code %d): %s", masked, res.StatusCode, code, what)}
	switch {
	case code == codeOutsideWindow:
		se.OutsideWindow = true
	case code == codeMarketingOptOut:
		se.MarketingOptOut = true
	case throttleCodes[code] || (code == 0 && res.StatusCode == http.StatusTooManyRequests):
		se.Throttled, se.Retryable = true, true
	case res.StatusCode >= 500:
		se.Retryable = true
	}
	return "", se
}

// request builds the Graph API body of o: a template, interactive choices,
// media with the text as caption, or text; keyway's id of the message goes
// as biz_opaque_callback_data. A phone number goes as to, without its "+";
// a business-scoped user id (a contact who withholds its number) goes as
// recipient, which the Graph API reads only when to is absent.
func (m *Meta) request(o providers.Outbound) map[string]any {
	r := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual"}
	if config.KindOf(o.To) == config.AddressWhatsAppUser {
		r["recipient"] = o.To
	} else {
		r["to"] = strings.TrimPrefix(o.To, "+")
	}
	if o.ID != "" {
		// Meta hands it back on every status of the message, so that a
		// status that overtakes the record of the send still finds it.
		r["biz_opaque_callback_data"] = o.ID
	}
	switch {
	case o.Template != nil:
		t := map[string]any{"name": o.Template.Name, "language": map[string]any{"code": o.Template.Language}}
		if len(o.Template.Variables) > 0 {
			params := make([]map[string]any, len(o.Template.Variables))
			for i, v := range o.Template.Variables {
				params[i] = map[string]any{"type": "text", "text": v}
			}
			t["components"] = []map[string]any{{"type": "body", "parameters": params}}
		}
		r["type"], r["template"] = "template", t
	case m.SendsChoices(o):
		r["type"], r["interactive"] = "interactive", interactive(o)
	case len(o.Media) > 0 && captionless(o):
		// Rather than lose the text or have the send refused, it goes
		// with the media's links after it.
		r["type"], r["text"] = "text", map[string]any{"body": strings.TrimSpace(strings.Join(append([]string{o.Body}, o.Media...), "\n")), "preview_url": true}
	case len(o.Media) > 0:
		kind := mediaKind(o.Media[0])
		md := map[string]any{"link": o.Media[0]}
		caption := o.Body
		for _, extra := range o.Media[1:] {
			caption = strings.TrimSpace(caption + "\n" + extra)
		}
		if caption != "" { // never for audio or a sticker: see captionless
			md["caption"] = caption
		}
		r["type"], r[kind] = kind, md
	default:
		r["type"], r["text"] = "text", map[string]any{"body": o.Body, "preview_url": false}
	}
	return r
}

// interactive is the interactive object of o's choices.
func interactive(o providers.Outbound) map[string]any {
	c := o.Choices
	if c.List != nil {
		sections := make([]map[string]any, 0, len(c.List.Sections))
		for _, s := range c.List.Sections {
			rows := make([]map[string]any, 0, len(s.Rows))
			for _, row := range s.Rows {
				r := map[string]any{"id": row.ID, "title": row.Title}
				if row.Description != "" {
					r["description"] = row.Description
				}
				rows = append(rows, r)
			}
			sec := map[string]any{"rows": rows}
			if s.Title != "" {
				sec["title"] = s.Title
			}
			sections = append(sections, sec)
		}
		return map[string]any{"type": "list", "body": map[string]any{"text": o.Body},
			"action": map[string]any{"button": c.List.Button, "sections": sections}}
	}
	buttons := make([]map[string]any, 0, len(c.Buttons))
	for _, b := range c.Buttons {
		buttons = append(buttons, map[string]any{"type": "reply", "reply": map[string]any{"id": b.ID, "title": b.Title}})
	}
	i := map[string]any{"type": "button", "body": map[string]any{"text": o.Body}, "action": map[string]any{"buttons": buttons}}
	if len(o.Media) == 1 {
		kind := mediaKind(o.Media[0])
		i["header"] = map[string]any{"type": kind, kind: map[string]any{"link": o.Media[0]}}
	}
	return i
}

// captionless reports whether o's text (with its further media's links)
// cannot go as the caption of its first media: a kind that carries none
// (audio, a sticker), or a caption longer than the 1024 characters Meta
// takes.
func captionless(o providers.Outbound) bool {
	caption := strings.TrimSpace(strings.Join(append([]string{o.Body}, o.Media[1:]...), "\n"))
	if caption == "" {
		return false
	}
	k := mediaKind(o.Media[0])
	return k == "audio" || k == "sticker" || utf8.RuneCountInString(caption) > maxCaption
}

// mediaKind guesses the WhatsApp media type of a URL from its extension;
// image when it cannot tell.
func mediaKind(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "image"
	}
	switch strings.ToLower(path.Ext(u.Path)) {
	case ".mp4", ".3gp":
		return "video"
	case ".mp3", ".ogg", ".aac", ".amr", ".m4a", ".opus":
		return "audio"
	case ".pdf", ".doc", ".docx", ".xls", ".xlsx", ".ppt", ".pptx", ".txt":
		return "document"
	case ".webp":
		return "sticker"
	}
	return "image"
}

var _ providers.ChoiceSender = (*Meta)(nil)
