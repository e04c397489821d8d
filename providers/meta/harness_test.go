package meta_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/providers/meta"
	"github.com/keyway-sms/keyway/providers/providertest"
)

const (
	appSecret   = "app-secret-0123"
	verifyToken = "verify-me"
	accessToken = "EAAG-token"
	ours        = "+16505551111"
	phoneID     = "106540352242922"
	contact     = "+16315551181"
)

func build(t *testing.T, apiBase string, dev bool) providers.Provider {
	t.Helper()
	set := meta.Settings{AppSecret: appSecret, VerifyToken: verifyToken, AccessToken: accessToken, APIBaseURL: apiBase}
	if dev {
		set.AppSecret, set.AccessToken = "", ""
	}
	return meta.New(set, []config.Number{{Number: ours, Channel: config.ChannelWhatsApp, PhoneNumberID: phoneID}}, "US", zerolog.New(io.Discard))
}

// hook wraps messages and statuses (JSON arrays) in the envelope of a
// webhook: Meta WhatsApp Cloud API docs, Webhooks > Components (object,
// entry[].changes[].value with messaging_product, metadata, contacts).
func hook(messages, statuses string) string {
	v := `"messaging_product":"whatsapp","metadata":{"display_phone_number":"16505551111","phone_number_id":"` + phoneID + `"},` +
		`"contacts":[{"profile":{"name":"Kerry Fisher"},"wa_id":"16315551181"}]`
	if messages != "" {
		v += `,"messages":[` + messages + `]`
	}
	if statuses != "" {
		v += `,"statuses":[` + statuses + `]`
	}
	return `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{` + v + `},"field":"messages"}]}]}`
}

// msg is a message object: from, id, timestamp, type and the type's own
// object (Meta WhatsApp Cloud API docs, Webhooks > Messages).
func msg(id, typ, obj string) string {
	return `{"from":"16315551181","id":"` + id + `","timestamp":"1683229471","type":"` + typ + `",` + obj + `}`
}

func TestHarness(t *testing.T) {
	at := time.Unix(1683229471, 0).UTC()
	in := func(id, body string) providers.Inbound {
		return providers.Inbound{Provider: "meta", ID: id, Channel: config.ChannelWhatsApp, From: contact, To: ours, Body: body, ProfileName: "Kerry Fisher", SentAt: at}
	}
	text := msg("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", "text", `"text":{"body":"this is a text message"}`)
	textIn := in("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", "this is a text message")
	withButton := func(i providers.Inbound, id string) providers.Inbound { i.Button = id; return i }
	withMedia := func(i providers.Inbound, media ...string) providers.Inbound { i.Media = media; return i }
	var fifty []string
	var fiftyIn []providers.Inbound
	for i := range 50 {
		id := "wamid.batch" + string(rune('A'+i/26)) + string(rune('a'+i%26))
		fifty = append(fifty, msg(id, "text", `"text":{"body":"JOIN"}`))
		fiftyIn = append(fiftyIn, in(id, "JOIN"))
	}
	webhooks := []providertest.WebhookCase{
		{Label: "verification handshake", Source: "Meta WhatsApp Cloud API docs, Webhooks > Set up webhooks > Verification requests", Method: http.MethodGet,
			Path: meta.Path + "?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=" + verifyToken, Answer: "1158201444"},
		{Label: "handshake with a wrong token", Method: http.MethodGet, Path: meta.Path + "?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=nope",
			Status: http.StatusForbidden, ErrContains: "hub.verify_token", Refusal: "the verify token does not match"},
		{Label: "handshake without a token", Method: http.MethodGet, Path: meta.Path + "?hub.mode=subscribe&hub.challenge=1158201444",
			Status: http.StatusForbidden, ErrContains: "no hub.verify_token", Refusal: "the verify token does not match"},
		{Label: "a wrong token is refused before anything else", Method: http.MethodGet, Path: meta.Path + "?hub.verify_token=nope",
			Status: http.StatusForbidden, Refusal: "the verify token does not match"},
		{Label: "handshake without hub.mode", Method: http.MethodGet, Path: meta.Path + "?hub.challenge=1158201444&hub.verify_token=" + verifyToken,
			Status: http.StatusBadRequest, ErrContains: "hub.mode", Refusal: "not a subscription handshake"},
		{Label: "handshake with another mode", Method: http.MethodGet, Path: meta.Path + "?hub.mode=unsubscribe&hub.challenge=1158201444&hub.verify_token=" + verifyToken,
			Status: http.StatusBadRequest, ErrContains: `"unsubscribe"`, Refusal: "not a subscription handshake"},
		{Label: "handshake without a challenge", Method: http.MethodGet, Path: meta.Path + "?hub.mode=subscribe&hub.verify_token=" + verifyToken,
			Status: http.StatusBadRequest, ErrContains: "hub.challenge", Refusal: "not a subscription handshake"},
		{Label: "text", Source: "Meta WhatsApp Cloud API docs, Webhooks > Messages > Text", Path: meta.Path, Body: hook(text, ""), Messages: []providers.Inbound{textIn}, Answer: "ok"},
		{Label: "text delivered twice parses to the same id", Path: meta.Path, Body: hook(text, ""), Repeat: true, Messages: []providers.Inbound{textIn}},
		{Label: "missing signature", Path: meta.Path, Body: hook(text, ""), Signature: providertest.NoSignature, Status: http.StatusForbidden, ErrContains: meta.SignatureHeader,
			Refusal: "bad or missing signature"},
		{Label: "bad signature", Path: meta.Path, Body: hook(text, ""), Signature: providertest.BadSignature, Status: http.StatusForbidden},
		{Label: "body changed after signing", Path: meta.Path, Body: hook(text, ""), Tamper: func(b string) string { return strings.Replace(b, "this is", "STOP", 1) }, Status: http.StatusForbidden},
		{Label: "dev mode skips the signature", Dev: true, Path: meta.Path, Body: hook(text, ""), Signature: providertest.NoSignature, Messages: []providers.Inbound{textIn}},
		{Label: "not JSON is taken and ignored", Path: meta.Path, Body: `{"entry":`, Ignored: []string{"body"}, Answer: "ok"},
		{Label: "reply button", Source: "Meta WhatsApp Cloud API docs, Webhooks > Messages > Interactive (button_reply)", Path: meta.Path,
			Body:     hook(msg("wamid.btn", "interactive", `"interactive":{"type":"button_reply","button_reply":{"id":"ORDER","title":"My order"}}`), ""),
			Messages: []providers.Inbound{withButton(in("wamid.btn", "My order"), "ORDER")}},
		{Label: "list row", Source: "Meta WhatsApp Cloud API docs, Webhooks > Messages > Interactive (list_reply)", Path: meta.Path,
			Body:     hook(msg("wamid.list", "interactive", `"interactive":{"type":"list_reply","list_reply":{"id":"LARGE","title":"Large","description":"16 oz"}}`), ""),
			Messages: []providers.Inbound{withButton(in("wamid.list", "Large"), "LARGE")}},
		{Label: "template quick reply", Source: "Meta WhatsApp Cloud API docs, Webhooks > Messages > Button (quick reply)", Path: meta.Path,
			Body:     hook(msg("wamid.qr", "button", `"context":{"from":"16505551111","id":"wamid.tmpl"},"button":{"payload":"STOP_PROMOS","text":"Stop promotions"}`), ""),
			Messages: []providers.Inbound{withButton(in("wamid.qr", "Stop promotions"), "STOP_PROMOS")}},
		{Label: "image keeps the media id", Source: "Meta WhatsApp Cloud API docs, Webhooks > Messages > Image", Path: meta.Path,
			Body: hook(msg("wamid.img", "image", `"image":{"caption":"my receipt","mime_type":"image/jpeg","sha256":"IMAGE_HASH","id":"1479537139650973"}`), ""),
			Messages: []providers.Inbound{func() providers.Inbound {
				i := withMedia(in("wamid.img", "my receipt"), providertest.APIBase+"/1479537139650973")
				i.Fields = map[string]string{"type": "image", "wa_id": "16315551181", "phone_number_id": phoneID, "timestamp": "1683229471", "media_id": "1479537139650973", "mime_type": "image/jpeg"}
				return i
			}()}},
		{Label: "audio, video, document and sticker", Source: "Meta WhatsApp Cloud API docs, Webhooks > Messages > Audio, Video, Document, Sticker", Path: meta.Path,
			Body: hook(strings.Join([]string{
				msg("wamid.aud", "audio", `"audio":{"mime_type":"audio/ogg; codecs=opus","sha256":"H","id":"A1","voice":true}`),
				msg("wamid.vid", "video", `"video":{"mime_type":"video/mp4","sha256":"H","id":"V1"}`),
				msg("wamid.doc", "document", `"document":{"caption":"invoice","filename":"inv.pdf","mime_type":"application/pdf","sha256":"H","id":"D1"}`),
				msg("wamid.stk", "sticker", `"sticker":{"mime_type":"image/webp","sha256":"H","id":"S1","animated":false}`),
			}, ","), ""),
			Messages: []providers.Inbound{withMedia(in("wamid.aud", ""), providertest.APIBase+"/A1"), withMedia(in("wamid.vid", ""), providertest.APIBase+"/V1"),
				withMedia(in("wamid.doc", "invoice"), providertest.APIBase+"/D1"), withMedia(in("wamid.stk", ""), providertest.APIBase+"/S1")}},
		{Label: "location as text with the coordinates", Source: "Meta WhatsApp Cloud API docs, Webhooks > Messages > Location", Path: meta.Path,
			Body:     hook(msg("wamid.loc", "location", `"location":{"address":"1 Hacker Way, Menlo Park, CA 94025","latitude":37.483307,"longitude":-122.148981,"name":"Main Street Beach"}`), ""),
			Messages: []providers.Inbound{in("wamid.loc", "37.483307,-122.148981 (Main Street Beach, 1 Hacker Way, Menlo Park, CA 94025)")}},
		{Label: "reaction, system and unknown types are ignored", Source: "Meta WhatsApp Cloud API docs, Webhooks > Messages > Reaction, System, Unknown", Path: meta.Path,
			Body: hook(strings.Join([]string{
				msg("wamid.rx", "reaction", `"reaction":{"message_id":"wamid.out","emoji":"👍"}`),
				msg("wamid.sys", "system", `"system":{"body":"NAME changed from 1 to 2","new_wa_id":"16315551182","type":"user_changed_number"}`),
				msg("wamid.unk", "unsupported", `"errors":[{"code":131051,"title":"Message type unknown"}]`),
				text,
			}, ","), ""),
			Messages: []providers.Inbound{textIn}, Ignored: []string{"reaction", "system", "unsupported"}},
		{Label: "a shared contact card becomes text with its names and phones", Source: "Meta WhatsApp Cloud API docs, Webhooks > Messages > Contacts", Path: meta.Path,
			Body: hook(msg("wamid.card", "contacts", `"contacts":[{"addresses":[{"city":"Menlo Park","country":"United States","type":"WORK"}],`+
				`"name":{"formatted_name":"Barbara J. Johnson","first_name":"Barbara","last_name":"Johnson"},"org":{"company":"Lucky Shrub"},`+
				`"phones":[{"phone":"+1 (650) 555-1234","wa_id":"16505551234","type":"WORK"},{"phone":"+1 (650) 555-9876","type":"HOME"}]},`+
				`{"name":{"first_name":"Ann","last_name":"Lee"},"phones":[{"phone":"+44 7700 900123"}]},{"emails":[{"email":"x@example.com"}]}]`), ""),
			Messages: []providers.Inbound{in("wamid.card", "Barbara J. Johnson: +1 (650) 555-1234, +1 (650) 555-9876\nAnn Lee: +44 7700 900123")}},
		{Label: "a message in a group is ignored, not answered one to one", Source: "Meta WhatsApp Cloud API docs, Webhooks > Messages > Group messages (group_id)", Path: meta.Path,
			Body:     hook(`{"from":"16315551181","group_id":"Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD","id":"wamid.grp","timestamp":"1683229471","text":{"body":"MENU"},"type":"text"},`+text, ""),
			Messages: []providers.Inbound{textIn}, Ignored: []string{"group message"}, IgnoredBecause: []string{"group"}},
		{Label: "an error outside any message is recorded and ignored", Source: "Meta WhatsApp Cloud API docs, Webhooks > Errors (value.errors)", Path: meta.Path,
			Body: `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"16505551111","phone_number_id":"` + phoneID + `"},` +
				`"errors":[{"code":131000,"title":"Something went wrong","message":"Something went wrong","error_data":{"details":"Unknown error"}}]},"field":"messages"}]}]}`,
			Ignored: []string{"error 131000"}},
		{Label: "another field is ignored", Path: meta.Path,
			Body:    `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"value":{"phone_number":"16505551111","event":"VERIFIED_ACCOUNT"},"field":"account_update"}]}]}`,
			Ignored: []string{"field account_update"}},
		{Label: "a status carries keyway's id of the message back", Source: "Meta WhatsApp Cloud API docs, Webhooks > Status messages (biz_opaque_callback_data)", Path: meta.Path,
			Body:     hook("", `{"id":"wamid.o5","status":"sent","timestamp":"1683229478","recipient_id":"16315551181","biz_opaque_callback_data":"18eee3f4430962b576bee8"}`),
			Statuses: []providers.Status{{ProviderID: "wamid.o5", Status: "sent", MessageID: "18eee3f4430962b576bee8"}}},
		{Label: "statuses sent, delivered, read and failed", Source: "Meta WhatsApp Cloud API docs, Webhooks > Status messages", Path: meta.Path,
			Body: hook("", strings.Join([]string{
				`{"id":"wamid.o1","status":"sent","timestamp":"1683229472","recipient_id":"16315551181","conversation":{"id":"c1","origin":{"type":"service"}},"pricing":{"billable":true,"pricing_model":"CBP","category":"service"}}`,
				`{"id":"wamid.o1","status":"delivered","timestamp":"1683229473","recipient_id":"16315551181"}`,
				`{"id":"wamid.o1","status":"read","timestamp":"1683229474","recipient_id":"16315551181"}`,
				`{"id":"wamid.o2","status":"failed","timestamp":"1683229475","recipient_id":"16315551181","errors":[{"code":131026,"title":"Message undeliverable","message":"Message undeliverable","error_data":{"details":"Message Undeliverable."}}]}`,
			}, ",")),
			Statuses: []providers.Status{{ProviderID: "wamid.o1", Status: "sent"}, {ProviderID: "wamid.o1", Status: "delivered"}, {ProviderID: "wamid.o1", Status: "read"},
				{ProviderID: "wamid.o2", Status: "failed", ErrorCode: 131026, ErrorMessage: "Message undeliverable: Message Undeliverable."}}},
		{Label: "failed statuses say what their codes mean", Source: "Meta WhatsApp Cloud API docs, Webhooks > Status messages (failed, errors[]); Support > Error codes", Path: meta.Path,
			Body: hook("", strings.Join([]string{
				`{"id":"wamid.o3","status":"failed","timestamp":"1683229476","recipient_id":"16315551181","errors":[{"code":131050,"title":"Marketing messages stopped","message":"Marketing messages stopped","error_data":{"details":"The recipient stopped marketing messages from this business."}}]}`,
				`{"id":"wamid.o4","status":"failed","timestamp":"1683229477","recipient_id":"16315551181","errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message","error_data":{"details":"More than 24 hours since the customer last wrote."}}]}`,
			}, ",")),
			Statuses: []providers.Status{
				{ProviderID: "wamid.o3", Status: "failed", ErrorCode: 131050, MarketingOptOut: true,
					ErrorMessage: "Marketing messages stopped: The recipient stopped marketing messages from this business."},
				{ProviderID: "wamid.o4", Status: "failed", ErrorCode: 131047, OutsideWindow: true,
					ErrorMessage: "Re-engagement message: More than 24 hours since the customer last wrote."}}},
		{Label: "a failed status with a title only says the title", Source: "Meta WhatsApp Cloud API docs, Webhooks > Status messages (errors[].message and error_data are optional)", Path: meta.Path,
			Body:     hook("", `{"id":"wamid.o5","status":"failed","timestamp":"1683229477","recipient_id":"16315551181","errors":[{"code":131026,"title":"Message undeliverable"}]}`),
			Statuses: []providers.Status{{ProviderID: "wamid.o5", Status: "failed", ErrorCode: 131026, ErrorMessage: "Message undeliverable"}}},
		{Label: "a status failed for throttling is sent again", Source: "Meta WhatsApp Cloud API docs, Support > Error codes (130429, 131056)", Path: meta.Path,
			Body: hook("", strings.Join([]string{
				`{"id":"wamid.o6","status":"failed","timestamp":"1683229478","recipient_id":"16315551181","errors":[{"code":130429,"title":"Rate limit hit","message":"Rate limit hit","error_data":{"details":"Cloud API message throughput has been reached."}}]}`,
				`{"id":"wamid.o7","status":"failed","timestamp":"1683229479","recipient_id":"16315551181","errors":[{"code":131056,"title":"(Business Account, Consumer Account) pair rate limit hit","message":"pair rate limit hit","error_data":{"details":"Too many messages sent to this phone number in a short time."}}]}`,
			}, ",")),
			Statuses: []providers.Status{
				{ProviderID: "wamid.o6", Status: "failed", ErrorCode: 130429, Throttled: true, ErrorMessage: "Rate limit hit: Cloud API message throughput has been reached."},
				{ProviderID: "wamid.o7", Status: "failed", ErrorCode: 131056, Throttled: true,
					ErrorMessage: "(Business Account, Consumer Account) pair rate limit hit: Too many messages sent to this phone number in a short time."}}},
		{Label: "fifty messages and a status in one POST", Path: meta.Path, Body: hook(strings.Join(fifty, ","), `{"id":"wamid.o1","status":"delivered","timestamp":"1683229473","recipient_id":"16315551181"}`),
			Messages: fiftyIn, Statuses: []providers.Status{{ProviderID: "wamid.o1", Status: "delivered"}}},
		{Label: "a sender who shows a username is kept as its user id", Source: "Meta WhatsApp Cloud API docs, business-scoped user ids", Path: meta.Path,
			Body: hook(`{"from":"US.13491208655302741918","id":"wamid.user","timestamp":"1683229471","type":"text","text":{"body":"hi"}}`, ""),
			Messages: []providers.Inbound{func() providers.Inbound {
				i := in("wamid.user", "hi")
				i.From, i.ProfileName = "US.13491208655302741918", ""
				return i
			}()}},
		{Label: "a sender whose number is withheld is its from_user_id", Source: "Meta WhatsApp Cloud API docs, Business-scoped user IDs (messages webhooks: from omitted, from_user_id, contacts[].user_id)", Path: meta.Path,
			Body: `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp",` +
				`"metadata":{"display_phone_number":"16505551111","phone_number_id":"` + phoneID + `"},` +
				`"contacts":[{"profile":{"name":"Kerry Fisher","username":"@kerry"},"user_id":"US.13491208655302741918"}],` +
				`"messages":[{"from_user_id":"US.13491208655302741918","id":"wamid.bsuid","timestamp":"1683229471","type":"text","text":{"body":"hi"}}]},"field":"messages"}]}]}`,
			Messages: []providers.Inbound{func() providers.Inbound {
				i := in("wamid.bsuid", "hi")
				i.From = "US.13491208655302741918"
				i.Fields = map[string]string{"type": "text", "wa_id": "", "user_id": "US.13491208655302741918", "phone_number_id": phoneID, "timestamp": "1683229471"}
				return i
			}()}},
		{Label: "a sender with both a number and a user id is its number", Source: "Meta WhatsApp Cloud API docs, Business-scoped user IDs", Path: meta.Path,
			Body: hook(`{"from":"16315551181","from_user_id":"US.13491208655302741918","id":"wamid.both","timestamp":"1683229471","type":"text","text":{"body":"hi"}}`, ""),
			Messages: []providers.Inbound{func() providers.Inbound {
				i := in("wamid.both", "hi")
				i.Fields = map[string]string{"type": "text", "wa_id": "16315551181", "user_id": "US.13491208655302741918", "phone_number_id": phoneID, "timestamp": "1683229471"}
				return i
			}()}},
		{Label: "a message without id is ignored, the good one beside it handled", Path: meta.Path,
			Body:     hook(`{"from":"16315551181","type":"text","text":{"body":"x"}},`+msg("wamid.ok", "text", `"text":{"body":"fine"}`), ""),
			Messages: []providers.Inbound{in("wamid.ok", "fine")}, Ignored: []string{"malformed message"}, IgnoredBecause: []string{"id"}},
		{Label: "numbers written as JSON numbers (timestamp, phone number id, sender) are read as Meta's strings", Path: meta.Path,
			Body: strings.NewReplacer(`"phone_number_id":"`+phoneID+`"`, `"phone_number_id":`+phoneID, `"display_phone_number":"16505551111"`, `"display_phone_number":16505551111`,
				`"wa_id":"16315551181"`, `"wa_id":16315551181`, `"from":"16315551181"`, `"from":16315551181`, `"timestamp":"1683229471"`, `"timestamp":1683229471`).
				Replace(hook(msg("wamid.n1", "text", `"text":{"body":"hi"}`), `{"id":"wamid.o1","status":"read","timestamp":1683229473,"recipient_id":16315551181}`)),
			Messages: []providers.Inbound{func() providers.Inbound {
				i := in("wamid.n1", "hi")
				i.Fields = map[string]string{"type": "text", "wa_id": "16315551181", "phone_number_id": phoneID, "timestamp": "1683229471"}
				return i
			}()},
			Statuses: []providers.Status{{ProviderID: "wamid.o1", Status: "read"}}},
		{Label: "a message or a status that cannot be read is ignored, the good ones beside it handled", Path: meta.Path,
			Body: hook(`{"from":"16315551181","id":"wamid.bad","timestamp":"1683229471","type":"text","text":"not an object"},`+msg("wamid.ok", "text", `"text":{"body":"fine"}`),
				`{"id":"wamid.o2","status":["delivered"]},{"id":"wamid.o1","status":"delivered","timestamp":"1683229473","recipient_id":"16315551181"}`),
			Messages: []providers.Inbound{in("wamid.ok", "fine")}, Statuses: []providers.Status{{ProviderID: "wamid.o1", Status: "delivered"}},
			Ignored: []string{"malformed message", "malformed status"}, IgnoredBecause: []string{"not a message", "not a status"}},
		{Label: "a message without its type, in a change without its field or metadata, is read by what it carries", Path: meta.Path,
			Body: `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messages":[` +
				`{"from":"16315551181","id":"wamid.t1","timestamp":"1683229471","text":{"body":"MENU"}},` +
				`{"from":"16315551181","id":"wamid.t2","timestamp":"1683229471","interactive":{"type":"button_reply","button_reply":{"id":"ORDER","title":"My order"}}}]}}]}]}`,
			Messages: []providers.Inbound{
				func() providers.Inbound { i := in("wamid.t1", "MENU"); i.ProfileName = ""; return i }(),
				func() providers.Inbound {
					i := withButton(in("wamid.t2", "My order"), "ORDER")
					i.ProfileName = ""
					return i
				}(),
			}},
		{Label: "image without media id is ignored", Path: meta.Path, Body: hook(msg("wamid.x", "image", `"image":{}`), ""),
			Ignored: []string{"malformed message"}, IgnoredBecause: []string{"media id"}},
		{Label: "a status without id is ignored, the good one beside it kept", Path: meta.Path,
			Body:     hook("", `{"status":"delivered","timestamp":"1683229473","recipient_id":"16315551181"},{"id":"wamid.o1","status":"delivered","timestamp":"1683229473","recipient_id":"16315551181"}`),
			Statuses: []providers.Status{{ProviderID: "wamid.o1", Status: "delivered"}}, Ignored: []string{"malformed status"}, IgnoredBecause: []string{"id and status"}},
	}

	auth := map[string]string{"Authorization": "Bearer " + accessToken, "Content-Type": "application/json"}
	sendPath := "/" + phoneID + "/messages"
	post := func(body string) []providertest.APIRequest {
		return []providertest.APIRequest{{Method: http.MethodPost, Path: sendPath, Header: auth, Body: body}}
	}
	// Meta WhatsApp Cloud API docs, Reference > Messages: the answer to a send.
	accepted := providertest.Answer{Body: `{"messaging_product":"whatsapp","contacts":[{"input":"16315551181","wa_id":"16315551181"}],"messages":[{"id":"wamid.SENT"}]}`}
	// Meta WhatsApp Cloud API docs, Support > Error codes: an error answer.
	graphErr := func(status, code int, title string) providertest.Answer {
		return providertest.Answer{Status: status, Body: `{"error":{"message":"(#` + itoa(code) + `) ` + title + `","type":"OAuthException","code":` + itoa(code) +
			`,"error_data":{"messaging_product":"whatsapp","details":"` + title + `"},"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}`}
	}
	hi := providers.Outbound{ID: "m1", Channel: config.ChannelWhatsApp, From: ours, To: contact, Body: "hi"}
	hiBody := `{"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551181","biz_opaque_callback_data":"m1","type":"text","text":{"body":"hi","preview_url":false}}`
	refusal := func(label string, status, code int, outcome providertest.Outcome) providertest.SendCase {
		return providertest.SendCase{Label: label, Source: "Meta WhatsApp Cloud API docs, Support > Error codes", Message: hi, Answers: []providertest.Answer{graphErr(status, code, label)},
			Requests: post(hiBody), Outcome: outcome, CheckCode: true, Status: status, Code: code}
	}
	sends := []providertest.SendCase{
		{Label: "text", Message: hi, Answers: []providertest.Answer{accepted}, Requests: post(hiBody), ProviderID: "wamid.SENT"},
		{Label: "to a user whose number is withheld, by its user id", Source: "Meta WhatsApp Cloud API docs, Business-scoped user IDs (send with recipient instead of to)",
			Message: providers.Outbound{ID: "m1", Channel: config.ChannelWhatsApp, From: ours, To: "US.13491208655302741918", Body: "hi"}, Answers: []providertest.Answer{accepted},
			Requests:   post(`{"messaging_product":"whatsapp","recipient_type":"individual","recipient":"US.13491208655302741918","biz_opaque_callback_data":"m1","type":"text","text":{"body":"hi","preview_url":false}}`),
			ProviderID: "wamid.SENT"},
		{Label: "image with caption", Message: providers.Outbound{ID: "m2", Channel: config.ChannelWhatsApp, From: ours, To: contact, Body: "your receipt", Media: []string{"https://cdn.example.com/r.jpg"}},
			Answers: []providertest.Answer{accepted}, ProviderID: "wamid.SENT",
			Requests: post(`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551181","biz_opaque_callback_data":"m2","type":"image","image":{"link":"https://cdn.example.com/r.jpg","caption":"your receipt"}}`)},
		{Label: "document", Message: providers.Outbound{ID: "m3", Channel: config.ChannelWhatsApp, From: ours, To: contact, Media: []string{"https://cdn.example.com/inv.pdf"}},
			Answers: []providertest.Answer{accepted}, ProviderID: "wamid.SENT",
			Requests: post(`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551181","biz_opaque_callback_data":"m3","type":"document","document":{"link":"https://cdn.example.com/inv.pdf"}}`)},
		{Label: "audio alone goes as audio", Source: "Meta WhatsApp Cloud API docs, Messages > Audio messages (no caption)",
			Message: providers.Outbound{ID: "m8", Channel: config.ChannelWhatsApp, From: ours, To: contact, Media: []string{"https://cdn.example.com/hello.mp3"}},
			Answers: []providertest.Answer{accepted}, ProviderID: "wamid.SENT",
			Requests: post(`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551181","biz_opaque_callback_data":"m8","type":"audio","audio":{"link":"https://cdn.example.com/hello.mp3"}}`)},
		{Label: "audio or a sticker with text, which they cannot carry, go as the text with their links", Source: "Meta WhatsApp Cloud API docs, Messages > Audio messages, Sticker messages (no caption)",
			Message: providers.Outbound{ID: "m9", Channel: config.ChannelWhatsApp, From: ours, To: contact, Body: "Our jingle", Media: []string{"https://cdn.example.com/hello.mp3", "https://cdn.example.com/thanks.webp"}},
			Answers: []providertest.Answer{accepted}, ProviderID: "wamid.SENT",
			Requests: post(`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551181","biz_opaque_callback_data":"m9","type":"text","text":{"body":"Our jingle\nhttps://cdn.example.com/hello.mp3\nhttps://cdn.example.com/thanks.webp","preview_url":true}}`)},
		{Label: "an image under a text longer than a caption takes goes as the text with its link", Source: "Meta WhatsApp Cloud API docs, Messages > Image messages (caption at most 1024 characters)",
			Message: providers.Outbound{ID: "m12", Channel: config.ChannelWhatsApp, From: ours, To: contact, Body: strings.Repeat("é", 1025), Media: []string{"https://cdn.example.com/r.jpg"}},
			Answers: []providertest.Answer{accepted}, ProviderID: "wamid.SENT",
			Requests: post(`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551181","biz_opaque_callback_data":"m12","type":"text","text":{"body":"` +
				strings.Repeat("é", 1025) + `\nhttps://cdn.example.com/r.jpg","preview_url":true}}`)},
		{Label: "an image under a text of 1024 characters has it as caption", Message: providers.Outbound{ID: "m13", Channel: config.ChannelWhatsApp, From: ours, To: contact, Body: strings.Repeat("é", 1024), Media: []string{"https://cdn.example.com/r.jpg"}},
			Answers: []providertest.Answer{accepted}, ProviderID: "wamid.SENT",
			Requests: post(`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551181","biz_opaque_callback_data":"m13","type":"image","image":{"link":"https://cdn.example.com/r.jpg","caption":"` +
				strings.Repeat("é", 1024) + `"}}`)},
		{Label: "template with body parameters in order", Message: providers.Outbound{ID: "m4", Channel: config.ChannelWhatsApp, From: ours, To: contact,
			Template: &providers.Template{Name: "order_update", Language: "en_US", Variables: []string{"Ann", "#1234"}}},
			Answers: []providertest.Answer{accepted}, ProviderID: "wamid.SENT",
			Requests: post(`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551181","biz_opaque_callback_data":"m4","type":"template","template":{"name":"order_update","language":{"code":"en_US"},` +
				`"components":[{"type":"body","parameters":[{"type":"text","text":"Ann"},{"type":"text","text":"#1234"}]}]}}`)},
		{Label: "reply buttons", Message: providers.Outbound{ID: "m5", Channel: config.ChannelWhatsApp, From: ours, To: contact, Body: "How can we help?",
			Choices: &providers.Choices{Buttons: []providers.Choice{{ID: "ORDER", Title: "My order"}, {ID: "AGENT", Title: "A person"}}}},
			Answers: []providertest.Answer{accepted}, ProviderID: "wamid.SENT",
			Requests: post(`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551181","biz_opaque_callback_data":"m5","type":"interactive","interactive":{"type":"button","body":{"text":"How can we help?"},` +
				`"action":{"buttons":[{"type":"reply","reply":{"id":"ORDER","title":"My order"}},{"type":"reply","reply":{"id":"AGENT","title":"A person"}}]}}}`)},
		{Label: "list", Message: providers.Outbound{ID: "m6", Channel: config.ChannelWhatsApp, From: ours, To: contact, Body: "Pick a size",
			Choices: &providers.Choices{List: &providers.List{Button: "Sizes", Sections: []providers.Section{{Title: "Coffee", Rows: []providers.Choice{{ID: "SMALL", Title: "Small", Description: "8 oz"}, {ID: "LARGE", Title: "Large"}}}}}}},
			Answers: []providertest.Answer{accepted}, ProviderID: "wamid.SENT",
			Requests: post(`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551181","biz_opaque_callback_data":"m6","type":"interactive","interactive":{"type":"list","body":{"text":"Pick a size"},` +
				`"action":{"button":"Sizes","sections":[{"title":"Coffee","rows":[{"id":"SMALL","title":"Small","description":"8 oz"},{"id":"LARGE","title":"Large"}]}]}}}`)},
		{Label: "reply buttons under an image", Message: providers.Outbound{ID: "m7", Channel: config.ChannelWhatsApp, From: ours, To: contact, Body: "Your table?",
			Media: []string{"https://cdn.example.com/room.jpg"}, Choices: &providers.Choices{Buttons: []providers.Choice{{ID: "IN", Title: "Inside"}, {ID: "OUT", Title: "Outside"}}}},
			Answers: []providertest.Answer{accepted}, ProviderID: "wamid.SENT",
			Requests: post(`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551181","biz_opaque_callback_data":"m7","type":"interactive","interactive":{"type":"button",` +
				`"header":{"type":"image","image":{"link":"https://cdn.example.com/room.jpg"}},"body":{"text":"Your table?"},` +
				`"action":{"buttons":[{"type":"reply","reply":{"id":"IN","title":"Inside"}},{"type":"reply","reply":{"id":"OUT","title":"Outside"}}]}}}`)},
		{Label: "a list with media goes as the media, its rows numbered in the caption", Message: providers.Deliverable(build(t, providertest.APIBase, false),
			providers.Outbound{ID: "m8", Channel: config.ChannelWhatsApp, From: ours, To: contact, Body: "Pick a size", Media: []string{"https://cdn.example.com/menu.jpg"},
				Choices: &providers.Choices{List: &providers.List{Button: "Sizes", Sections: []providers.Section{{Rows: []providers.Choice{{ID: "SMALL", Title: "Small"}, {ID: "LARGE", Title: "Large"}}}}}}}),
			Answers: []providertest.Answer{accepted}, ProviderID: "wamid.SENT",
			Requests: post(`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551181","biz_opaque_callback_data":"m8","type":"image","image":{"link":"https://cdn.example.com/menu.jpg","caption":"Pick a size\n1 Small\n2 Large"}}`)},
		{Label: "buttons under a text longer than reply buttons take go as the text with the choices numbered", Source: "Meta WhatsApp Cloud API docs, Messages > Interactive reply buttons (body text at most 1024 characters)",
			Message: providers.Deliverable(build(t, providertest.APIBase, false),
				providers.Outbound{ID: "m10", Channel: config.ChannelWhatsApp, From: ours, To: contact, Body: strings.Repeat("é", 1025),
					Choices: &providers.Choices{Buttons: []providers.Choice{{ID: "YES", Title: "Yes"}, {ID: "NO", Title: "No"}}}}),
			Answers: []providertest.Answer{accepted}, ProviderID: "wamid.SENT",
			Requests: post(`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551181","biz_opaque_callback_data":"m10","type":"text","text":{"body":"` +
				strings.Repeat("é", 1025) + `\n1 Yes\n2 No","preview_url":false}}`)},
		{Label: "buttons under a text of 1024 characters are buttons", Message: providers.Deliverable(build(t, providertest.APIBase, false),
			providers.Outbound{ID: "m11", Channel: config.ChannelWhatsApp, From: ours, To: contact, Body: strings.Repeat("é", 1024),
				Choices: &providers.Choices{Buttons: []providers.Choice{{ID: "YES", Title: "Yes"}}}}),
			Answers: []providertest.Answer{accepted}, ProviderID: "wamid.SENT",
			Requests: post(`{"messaging_product":"whatsapp","recipient_type":"individual","to":"16315551181","biz_opaque_callback_data":"m11","type":"interactive","interactive":{"type":"button","body":{"text":"` +
				strings.Repeat("é", 1024) + `"},"action":{"buttons":[{"type":"reply","reply":{"id":"YES","title":"Yes"}}]}}}`)},
		{Label: "a Twilio content template fails", Message: providers.Outbound{Channel: config.ChannelWhatsApp, From: ours, To: contact, ContentSID: "HX0123"}, Outcome: providertest.Failed, ErrContains: "content_sid"},
		{Label: "dev mode sends nothing", Dev: true, Message: hi, ProviderIDPattern: `^wamid\.DEV[0-9a-f]{32}$`},
		{Label: "a number of another provider fails", Message: providers.Outbound{Channel: config.ChannelWhatsApp, From: "+15005550006", To: contact, Body: "hi"}, Outcome: providertest.Failed, ErrContains: "not a number of providers.meta"},
		refusal("131047 is outside the window", 400, 131047, providertest.OutsideWindow),
		refusal("131050 stopped marketing messages", 400, 131050, providertest.MarketingOptOut),
		refusal("130429 rate limit is throttling", 400, 130429, providertest.Throttled),
		refusal("131056 pair rate limit is throttling", 400, 131056, providertest.Throttled),
		refusal("80007 account rate limit is throttling", 400, 80007, providertest.Throttled),
		refusal("131048 spam rate limit is throttling", 400, 131048, providertest.Throttled),
		refusal("131026 undeliverable fails with its code", 400, 131026, providertest.Failed),
		refusal("190 expired token fails", 401, 190, providertest.Failed),
		{Label: "an answer quoting the numbers shows them masked", Message: hi, Answers: []providertest.Answer{graphErr(400, 131026, "Message to 16315551181 from 16505551111 undeliverable")},
			Requests: post(hiBody), Outcome: providertest.Failed, CheckCode: true, Status: 400, Code: 131026, ErrContains: "from 16*******11",
			Reason: "Message to 16*******81 from 16*******11 undeliverable"},
		refusal("500 retries later", 500, 1, providertest.RetryLater),
		{Label: "503 without JSON retries later", Message: hi, Answers: []providertest.Answer{{Status: 503, Body: "upstream down"}}, Requests: post(hiBody), Outcome: providertest.RetryLater},
		{Label: "network error retries later", Message: hi, Unreachable: true, Outcome: providertest.RetryLater},
		{Label: "success without a message id fails", Message: hi, Answers: []providertest.Answer{{Body: `{"messaging_product":"whatsapp"}`}}, Requests: post(hiBody), Outcome: providertest.Failed, ErrContains: "without a message id"},
	}
	providertest.Run(t, providertest.Suite{
		New: build,
		Sign: func(r *providers.Request) {
			r.Header.Set(meta.SignatureHeader, "sha256="+meta.Sign(appSecret, r.Body))
		},
		SignatureHeader: meta.SignatureHeader,
		Webhooks:        webhooks,
		Sends:           sends,
		Lacks: map[providertest.Kind]string{
			providertest.SendKind(providertest.OptedOut): "the Cloud API has no error for a contact who stopped all messages; 131050 is the marketing opt-out",
		},
	})
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
