package test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyway-sms/keyway/providers/vonage"
	"github.com/keyway-sms/keyway/test/fakes"
)

// documentedConfig answers MENU with buttons, routes the AGENT button, and
// answers anything else, so that every documented payload below shows
// where it went.
const documentedConfig = `
automations:
  - id: menu
    keywords: [MENU]
    steps:
      - { type: reply, text: "How can we help?", buttons: [ { id: ORDER, title: "My order" }, { id: AGENT, title: "A person" } ] }
  - id: agent
    keywords: [AGENT]
    steps: [ { type: reply, text: "A person will call you ({{ message.body }})" } ]
  - id: other
    catch_all: true
    steps: [ { type: reply, text: "Got it" } ]
`

// twilioDocForm is an inbound message with the parameters Twilio's
// "request to your incoming message webhook URL" page lists for every
// message (ids, account, numbers with the geographic fields, status, API
// version, segments), plus extra.
func twilioDocForm(g *Gateway, sid, from, to, body string, extra map[string]string) url.Values {
	f := url.Values{
		"MessageSid": {sid}, "SmsSid": {sid}, "SmsMessageSid": {sid},
		"AccountSid": {g.Twilio.AccountSID}, "MessagingServiceSid": {"MG00000000000000000000000000000001"},
		"From": {from}, "To": {to}, "Body": {body}, "NumMedia": {"0"}, "NumSegments": {"1"},
		"SmsStatus": {"received"}, "ApiVersion": {"2010-04-01"},
		"FromCity": {"SAN FRANCISCO"}, "FromState": {"CA"}, "FromZip": {"94105"}, "FromCountry": {"US"},
		"ToCity": {""}, "ToState": {"CA"}, "ToZip": {""}, "ToCountry": {"US"},
	}
	for k, v := range extra {
		f.Set(k, v)
	}
	return f
}

// Twilio's documented inbound shapes through the binary: SMS with its
// geographic fields, WhatsApp text with ProfileName and WaId, a tapped
// quick reply (ButtonPayload, ButtonText, the replied-to message), media
// (NumMedia, MediaUrl0, MediaContentType0), a shared location (Latitude,
// Longitude, Address, Label, no Body), and the status callbacks of the
// answers (queued, sent, delivered, read; undelivered with ErrorCode),
// each signed over the callback URL with its query.
func TestTwilioDocumentedPayloads(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, documentedConfig)
	const ann, bob = "+15557770001", "+15557770002"
	wa := func(n string) string { return "whatsapp:" + n }
	post := func(f url.Values) {
		t.Helper()
		if code, body := g.PostSigned("/webhooks/twilio", f); code != http.StatusOK {
			t.Fatalf("webhook %s answered %d: %s", f.Get("MessageSid"), code, body)
		}
	}

	// SMS, as documented.
	post(twilioDocForm(g, "SM10000000000000000000000000000001", bob, OurSMS, "menu", nil))
	// WhatsApp text with the sender's profile.
	post(twilioDocForm(g, "SM20000000000000000000000000000001", wa(ann), wa(OurWhatsApp), "Menu",
		map[string]string{"ProfileName": "Ann", "WaId": "15557770001", "MessageType": "text"}))
	g.Twilio.WaitSent(t, 2, patience)

	// The quick reply she taps, replying to the menu.
	menu := repliesTo(t, g, wa(ann), 1)
	if !strings.HasPrefix(menu[0], "How can we help?") {
		t.Fatalf("menu to Ann: %q", menu)
	}
	post(twilioDocForm(g, "SM20000000000000000000000000000002", wa(ann), wa(OurWhatsApp), "A person",
		map[string]string{"ProfileName": "Ann", "WaId": "15557770001", "MessageType": "button",
			"ButtonPayload": "AGENT", "ButtonText": "A person",
			"OriginalRepliedMessageSid": "SM99999999999999999999999999999999", "OriginalRepliedMessageSender": wa(OurWhatsApp)}))
	if got := repliesTo(t, g, wa(ann), 2); got[1] != "A person will call you (A person)" {
		t.Fatalf("answer to the quick reply: %q", got)
	}

	// A photo, without text.
	post(twilioDocForm(g, "MM20000000000000000000000000000003", wa(ann), wa(OurWhatsApp), "",
		map[string]string{"ProfileName": "Ann", "WaId": "15557770001", "MessageType": "image", "NumMedia": "1",
			"MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM2/Media/ME1", "MediaContentType0": "image/jpeg"}))
	// A shared location: coordinates and a place, no Body at all.
	loc := twilioDocForm(g, "SM20000000000000000000000000000004", wa(ann), wa(OurWhatsApp), "",
		map[string]string{"ProfileName": "Ann", "WaId": "15557770001", "MessageType": "location",
			"Latitude": "37.7879277", "Longitude": "-122.3937508", "Address": "375 Beale St, San Francisco", "Label": "Twilio HQ"})
	loc.Del("Body")
	post(loc)
	repliesTo(t, g, wa(ann), 4) // "Got it" to each

	var photo, place *Message
	Eventually(t, patience, "the photo and the place stored", func() bool {
		photo, place = nil, nil
		for _, m := range g.Messages(wa(ann)) {
			switch m.Fields["MessageSid"] {
			case "MM20000000000000000000000000000003":
				photo = &m
			case "SM20000000000000000000000000000004":
				place = &m
			}
		}
		return photo != nil && place != nil
	})
	if len(photo.Media) != 1 || !strings.HasSuffix(photo.Media[0], "/Media/ME1") {
		t.Errorf("photo media %q", photo.Media)
	}
	if place.Fields["Latitude"] != "37.7879277" || place.Fields["Label"] != "Twilio HQ" {
		t.Errorf("location fields %v", place.Fields)
	}
	if want := "37.7879277,-122.3937508 (Twilio HQ, 375 Beale St, San Francisco)"; place.Body != want {
		t.Errorf("location body %q, want %q", place.Body, want)
	}

	// Status callbacks, as Twilio posts them to the URL of each send.
	sent := g.Twilio.Sent()
	var toAnn, toBob []string
	for _, s := range sent {
		switch s.To {
		case wa(ann):
			toAnn = append(toAnn, s.SID, s.StatusCallback)
		case bob:
			toBob = append(toBob, s.SID, s.StatusCallback)
		}
	}
	status := func(sid, callback, st string, extra map[string]string) {
		t.Helper()
		f := url.Values{"MessageSid": {sid}, "SmsSid": {sid}, "AccountSid": {g.Twilio.AccountSID},
			"MessageStatus": {st}, "SmsStatus": {st}, "ApiVersion": {"2010-04-01"},
			"From": {wa(OurWhatsApp)}, "To": {wa(ann)}, "ChannelPrefix": {"whatsapp"},
			"ChannelInstallSid": {"XE00000000000000000000000000000001"}, "ChannelToAddress": {"+1555777XXXX"},
			"MessagingServiceSid": {"MG00000000000000000000000000000001"}}
		for k, v := range extra {
			f.Set(k, v)
		}
		path := strings.TrimPrefix(callback, PublicURL)
		if code, body := g.PostSigned(path, f); code != http.StatusOK {
			t.Fatalf("status %s to %s answered %d: %s", st, path, code, body)
		}
	}
	for _, st := range []string{"queued", "sent", "delivered", "read"} {
		status(toAnn[0], toAnn[1], st, nil)
	}
	status(toBob[0], toBob[1], "undelivered", map[string]string{"From": OurSMS, "To": bob, "ChannelPrefix": "",
		"ErrorCode": "30003", "ErrorMessage": "Unreachable destination handset"})
	Eventually(t, patience, "statuses recorded", func() bool {
		var annRead, bobFailed bool
		for _, m := range g.Messages(wa(ann)) {
			annRead = annRead || (m.Direction == "out" && m.ProviderID == toAnn[0] && m.Status == "read")
		}
		for _, m := range g.Messages(bob) {
			bobFailed = bobFailed || (m.Direction == "out" && m.ProviderID == toBob[0] && m.Status == "undelivered" && m.ErrorCode == 30003 && m.Error == "Unreachable destination handset")
		}
		return annRead && bobFailed
	})
}

// metaChange is one change of a messages webhook for our number: value
// holds its contacts, messages and statuses as Meta's messages webhook
// reference writes them.
func metaChange(value string) string {
	return `{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001234","phone_number_id":"` + metaPhoneID + `"},` +
		value + `},"field":"messages"}`
}

// metaEntries is a webhook of several entries, each with its changes.
func metaEntries(entries ...[]string) string {
	var es []string
	for _, changes := range entries {
		es = append(es, `{"id":"102290129340398","changes":[`+strings.Join(changes, ",")+`]}`)
	}
	return `{"object":"whatsapp_business_account","entry":[` + strings.Join(es, ",") + `]}`
}

// The WhatsApp Cloud API's documented webhook shapes through the binary:
// text with context and a Click to WhatsApp referral, reply button, list
// reply and template quick reply (each with the context of the message it
// answers), image, audio, document, location and a contact card, the kinds
// keyway does not handle (reaction, unsupported with its errors, system, a
// message in a group), a
// field other than messages, several entries and changes in one POST, and
// statuses sent (with conversation and pricing), delivered, read and
// failed (with errors and error_data).
func TestMetaDocumentedPayloads(t *testing.T) {
	t.Parallel()
	graph := fakes.NewGraph(t, metaToken)
	g := StartGateway(t, metaSection(graph)+documentedConfig)
	const ann, bob = "+15557771001", "+15557771002"
	contact := func(wa, name string) string {
		return `"contacts":[{"profile":{"name":"` + name + `"},"wa_id":"` + wa + `"}]`
	}
	post := func(body string) {
		t.Helper()
		if code := postMeta(t, g, metaSecret, body); code != http.StatusOK {
			t.Fatalf("webhook answered %d: %s", code, body)
		}
	}
	ts := fmt.Sprint(time.Now().Unix())

	// Two entries in one POST: Ann's text (forwarded, from an ad), a
	// reaction, a shared contact card, an unsupported message, a system
	// notice, and a change of another field.
	text := `{"context":{"forwarded":true},"from":"15557771001","id":"wamid.DOC1","timestamp":"` + ts + `","type":"text","text":{"body":"MENU"},` +
		`"referral":{"source_url":"https://fb.me/3cr4Wqqkv","source_id":"120226305854810726","source_type":"ad","body":"Summer succulents are here!",` +
		`"headline":"Chat with us","media_type":"image","image_url":"https://scontent.xx.fbcdn.net/v/t45.1","ctwa_clid":"Aff-n8ZTODiE79d22KtAwQKj9e",` +
		`"welcome_message":{"text":"Hi there! Let us know how we can help!"}}}`
	reaction := `{"from":"15557771001","id":"wamid.DOC2","timestamp":"` + ts + `","type":"reaction","reaction":{"message_id":"wamid.X","emoji":"\uD83D\uDE00"}}`
	card := `{"from":"15557771001","id":"wamid.DOC3","timestamp":"` + ts + `","type":"contacts","contacts":[{"addresses":[{"city":"Menlo Park","country":"United States",` +
		`"country_code":"us","state":"CA","street":"1 Hacker Way","type":"WORK","zip":"94025"}],"birthday":"1999-01-23","emails":[{"email":"bjohnson@example.com","type":"WORK"}],` +
		`"name":{"formatted_name":"Barbara J. Johnson","first_name":"Barbara","last_name":"Johnson"},"org":{"company":"Lucky Shrub","department":"Sales","title":"Manager"},` +
		`"phones":[{"phone":"+1 (650) 555-1234","wa_id":"16505551234","type":"WORK"}],"urls":[{"url":"https://www.luckyshrub.com","type":"WORK"}]}]}`
	unsupported := `{"from":"15557771001","id":"wamid.DOC4","timestamp":"` + ts + `","type":"unsupported","errors":[{"code":131051,"title":"Message type unknown",` +
		`"message":"Message type unknown","error_data":{"details":"Message type is currently not supported."}}],"unsupported":{"type":"edit"}}`
	system := metaChange(`"messages":[{"from":"15557771001","id":"wamid.DOC5","timestamp":"` + ts + `","type":"system","system":{"body":"User Ann changed from 15557771001 to 15557771009",` +
		`"wa_id":"15557771009","type":"user_changed_number"}}]`)
	alerts := `{"value":{"entity_type":"WABA","entity_id":"102290129340398","alert_info":{"alert_severity":"INFORMATIONAL","alert_status":"NONE",` +
		`"alert_type":"OBA_APPROVED","alert_description":"Your request for Official Business Account status was approved."}},"field":"account_alerts"}`
	bobText := `{"from":"15557771002","id":"wamid.DOC6","timestamp":"` + ts + `","type":"text","text":{"body":"hello"}}`
	// Bob's MENU in a group the business is in is not answered to him.
	bobInGroup := `{"from":"15557771002","group_id":"Y2FwaV9ncm91cDoxNzA1NTU1MDEzOToxMjAzNjM0MDQ2OTQyMzM4MjAZD","id":"wamid.DOC14",` +
		`"timestamp":"` + ts + `","text":{"body":"MENU"},"type":"text"}`
	post(metaEntries(
		[]string{metaChange(contact("15557771001", "Ann") + `,"messages":[` + strings.Join([]string{text, reaction, card, unsupported}, ",") + `]`), system},
		[]string{alerts, metaChange(contact("15557771002", "Bob") + `,"messages":[` + bobInGroup + `,` + bobText + `]`)},
	))
	// The menu and an answer to her card, and one to Bob.
	Eventually(t, patience, "the menu and an answer to Ann, an answer to Bob", func() bool { return len(graph.Sent()) == 3 })
	var menu fakes.GraphSend
	for _, s := range graph.Sent() {
		if s.To == "15557771001" && s.Type == "interactive" {
			menu = s
		}
	}
	if menu.ID == "" {
		t.Fatalf("no menu to Ann: %+v", graph.Sent())
	}
	var ins []string
	for _, m := range storedMessages(t, g, "whatsapp:"+ann) {
		if m.Direction == "in" {
			ins = append(ins, m.Body)
		}
	}
	if want := []string{"Barbara J. Johnson: +1 (650) 555-1234", "MENU"}; !slices.Equal(ins, want) {
		t.Errorf("Ann's messages %q, want %q (reaction, unsupported and system ignored)", ins, want)
	}

	// Her answers to the menu: a reply button, a list row, a template's
	// quick reply; each routes by its id.
	reply := func(id, kind string) string {
		return `{"context":{"from":"15550001234","id":"` + menu.ID + `"},"from":"15557771001","id":"` + id + `","timestamp":"` + ts + `",` + kind + `}`
	}
	answers := []string{
		reply("wamid.DOC7", `"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"AGENT","title":"A person"}}`),
		reply("wamid.DOC8", `"type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"AGENT","title":"Call me","description":"A person calls you back"}}`),
		reply("wamid.DOC9", `"type":"button","button":{"payload":"AGENT","text":"Talk to someone"}`),
	}
	for i, a := range answers {
		post(metaEntries([]string{metaChange(contact("15557771001", "Ann") + `,"messages":[` + a + `]`)}))
		Eventually(t, patience, "the answer to Ann's choice", func() bool { return len(graph.Sent()) == 4+i })
	}
	for _, s := range graph.Sent() {
		if s.To == "15557771002" && s.Type == "interactive" {
			t.Errorf("Bob's MENU in a group was answered to him: %+v", s)
		}
	}
	var got []string
	for _, s := range graph.Sent()[3:] {
		got = append(got, s.Text())
	}
	if want := []string{"A person will call you (A person)", "A person will call you (Call me)", "A person will call you (Talk to someone)"}; !slices.Equal(got, want) {
		t.Errorf("answers to the choices %q, want %q", got, want)
	}

	// Media and a location from Bob.
	media := []string{
		`{"from":"15557771002","id":"wamid.DOC10","timestamp":"` + ts + `","type":"image","image":{"caption":"The best succulent ever?","mime_type":"image/jpeg",` +
			`"sha256":"KsRiXM4xz5b09cRCFaQ3BgdvZqTZlmkzqcKZ2KOpuDg=","id":"1003383421387256","url":"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1003383421387256"}}`,
		`{"from":"15557771002","id":"wamid.DOC11","timestamp":"` + ts + `","type":"audio","audio":{"mime_type":"audio/ogg; codecs=opus","sha256":"ZAQ0yOnC8HgcG9JJM+aKzWJaoGFeV7QWhFw48qIkdiQ=",` +
			`"id":"1003383421387257","voice":true}}`,
		`{"from":"15557771002","id":"wamid.DOC12","timestamp":"` + ts + `","type":"document","document":{"caption":"Lucky Shrub Invoice","filename":"lucky-shrub-invoice.pdf",` +
			`"mime_type":"application/pdf","sha256":"Ezu+Iuudx+i7pw2n7RAu9JV0jMd7V+gZRRLHf0e5q+o=","id":"1003383421387258"}}`,
		`{"from":"15557771002","id":"wamid.DOC13","timestamp":"` + ts + `","type":"location","location":{"address":"1 Hacker Way, Menlo Park, CA 94025",` +
			`"latitude":37.483307,"longitude":-122.148981,"name":"Meta Headquarters","url":"https://meta.com"}}`,
	}
	post(metaEntries([]string{metaChange(contact("15557771002", "Bob") + `,"messages":[` + strings.Join(media, ",") + `]`)}))
	Eventually(t, patience, "Bob's media and location stored", func() bool { return len(storedMessages(t, g, "whatsapp:"+bob)) >= 10 })
	byID := map[string]storedMessage{}
	for _, m := range storedMessages(t, g, "whatsapp:"+bob) {
		byID[m.ProviderID] = m
	}
	if m := byID["wamid.DOC10"]; m.Body != "The best succulent ever?" || len(m.Media) != 1 || !strings.HasSuffix(m.Media[0], "/1003383421387256") {
		t.Errorf("image stored as %+v", m)
	}
	if m := byID["wamid.DOC12"]; len(m.Media) != 1 || m.Body != "Lucky Shrub Invoice" {
		t.Errorf("document stored as %+v", m)
	}
	if m := byID["wamid.DOC13"]; !strings.HasPrefix(m.Body, "37.483307,-122.148981") {
		t.Errorf("location stored as %+v", m)
	}

	// Statuses of the menu: sent with its conversation and pricing,
	// delivered, read; Bob's first answer fails with an error.
	var toBob fakes.GraphSend
	for _, s := range graph.Sent() {
		if s.To == "15557771002" {
			toBob = s
			break
		}
	}
	conv := `"conversation":{"id":"a75d17ad06104c51166f948319b03c6a","expiration_timestamp":"` + ts + `","origin":{"type":"service"}},` +
		`"pricing":{"billable":true,"pricing_model":"PMP","category":"service","type":"free_customer_service"}`
	statuses := []string{
		`{"id":"` + menu.ID + `","status":"sent","timestamp":"` + ts + `","recipient_id":"15557771001",` + conv + `}`,
		`{"id":"` + menu.ID + `","status":"delivered","timestamp":"` + ts + `","recipient_id":"15557771001",` + conv + `}`,
		`{"id":"` + menu.ID + `","status":"read","timestamp":"` + ts + `","recipient_id":"15557771001"}`,
		`{"id":"` + toBob.ID + `","status":"failed","timestamp":"` + ts + `","recipient_id":"15557771002","errors":[{"code":131026,` +
			`"title":"Message undeliverable","message":"Message undeliverable","error_data":{"details":"Message Undeliverable."},` +
			`"href":"https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}]}`,
	}
	post(metaEntries([]string{metaChange(`"statuses":[` + strings.Join(statuses, ",") + `]`)}))
	Eventually(t, patience, "the statuses recorded", func() bool {
		var read, failed bool
		for _, m := range storedMessages(t, g, "whatsapp:"+ann) {
			read = read || (m.ProviderID == menu.ID && m.Status == "read")
		}
		for _, m := range storedMessages(t, g, "whatsapp:"+bob) {
			failed = failed || (m.ProviderID == toBob.ID && m.Status == "failed" && m.ErrorCode == 131026)
		}
		return read && failed
	})
}

// A WhatsApp user who shows a username and withholds its number writes
// with from_user_id only (its contact has user_id and no wa_id): the
// message is the user id's, its keyword routes, and the answer goes back
// to the user id as the Graph API's recipient.
func TestMetaSenderWithoutNumber(t *testing.T) {
	t.Parallel()
	graph := fakes.NewGraph(t, metaToken)
	g := StartGateway(t, metaSection(graph)+documentedConfig)
	const user = "US.13491208655302741918"
	body := metaEntries([]string{metaChange(`"contacts":[{"profile":{"name":"Kerry","username":"@kerry"},"user_id":"` + user + `"}],` +
		`"messages":[{"from_user_id":"` + user + `","id":"wamid.USER1","timestamp":"` + fmt.Sprint(time.Now().Unix()) + `","type":"text","text":{"body":"menu"}}]`)})
	if code := postMeta(t, g, metaSecret, body); code != http.StatusOK {
		t.Fatalf("webhook answered %d", code)
	}
	Eventually(t, patience, "the menu sent to the user id", func() bool { return len(graph.Sent()) == 1 })
	if s := graph.Sent()[0]; s.Recipient != user || s.To != "" || s.Type != "interactive" {
		t.Errorf("send %+v, want interactive to recipient %s", s, user)
	}
	ms := storedMessages(t, g, "whatsapp:"+user)
	if len(ms) != 2 || ms[1].Body != "menu" || ms[1].Fields["user_id"] != user {
		t.Errorf("the user's messages: %+v", ms)
	}
}

// The Vonage Messages API's documented webhooks through the binary, each
// signed with a JWT carrying the claims Vonage puts in one (iat, jti, iss,
// payload_hash, api_key, application_id): an inbound SMS with its sms,
// usage and origin objects and a timestamp with milliseconds; WhatsApp
// text, image, reply (a list row) and button (a template quick reply),
// which keyway, taking SMS only from Vonage, answers 200 and ignores; the
// statuses of the answer (submitted, delivered); and a WhatsApp read
// status about no message of keyway's.
func TestVonageDocumentedPayloads(t *testing.T) {
	t.Parallel()
	api := fakes.NewVonage(t, vonageKey, vonageSecret)
	g := StartGateway(t, vonageSection(api)+documentedConfig)
	const ann = "+447700900601"
	ours := strings.TrimPrefix(vonageNumber, "+")
	post := func(path, body string) {
		t.Helper()
		auth := vonageJWT(t, jwt.SigningMethodHS256, []byte(vonageSigSecret), body, jwt.MapClaims{
			"iat": time.Now().Unix(), "jti": "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5", "iss": "Vonage",
			"api_key": vonageKey, "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"})
		if code := postVonage(t, g, path, auth, body); code != http.StatusOK {
			t.Fatalf("%s answered %d: %s", path, code, body)
		}
	}
	ms := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")

	post(vonage.InboundPath, `{"channel":"sms","message_uuid":"aaaaaaaa-bbbb-4ccc-8ddd-000000000001","to":"`+ours+`","from":"447700900601",`+
		`"timestamp":"`+ms+`","text":"menu","sms":{"num_messages":"1","keyword":"MENU"},"usage":{"price":"0.0333","currency":"EUR"},`+
		`"message_type":"text","origin":{"network_code":"23410"}}`)
	Eventually(t, patience, "the menu sent through Vonage", func() bool { return len(api.Sent()) == 1 })
	menu := api.Sent()[0]
	if menu.To != "447700900601" || !strings.HasPrefix(menu.Text, "How can we help?\n1 My order") {
		t.Errorf("menu %+v", menu)
	}

	wa := func(uuid, rest string) string {
		return `{"channel":"whatsapp","message_uuid":"` + uuid + `","to":"` + ours + `","from":"447700900601","timestamp":"` + ms + `",` +
			`"profile":{"name":"Ann Smith"},"context_status":"none",` + rest + `}`
	}
	for _, body := range []string{
		wa("aaaaaaaa-bbbb-4ccc-8ddd-000000000002", `"message_type":"text","text":"Hello there"`),
		wa("aaaaaaaa-bbbb-4ccc-8ddd-000000000003", `"message_type":"image","image":{"url":"https://api-eu.nexmo.com/v3/media/1b456509-974c-458b-bf63-b7a1d5e1c2ae","caption":"a photo"}`),
		wa("aaaaaaaa-bbbb-4ccc-8ddd-000000000004", `"message_type":"reply","reply":{"id":"row1","title":"9am","description":"First appointment"},`+
			`"context":{"message_uuid":"aaaaaaaa-bbbb-4ccc-8ddd-0123456789ff","message_from":"`+ours+`"}`),
		wa("aaaaaaaa-bbbb-4ccc-8ddd-000000000005", `"message_type":"button","button":{"payload":"AGENT","text":"A person"},`+
			`"context":{"message_uuid":"aaaaaaaa-bbbb-4ccc-8ddd-0123456789fe","message_from":"`+ours+`"}`),
	} {
		post(vonage.InboundPath, body)
	}

	status := func(uuid, st, extra string) string {
		return `{"message_uuid":"` + uuid + `","to":"447700900601","from":"` + ours + `","timestamp":"` + ms + `","status":"` + st + `",` +
			`"channel":"sms","client_ref":"` + menu.ClientRef + `","usage":{"currency":"EUR","price":"0.0333"},"destination":{"network_code":"23410"},` +
			`"sms":{"count_total":"1"}` + extra + `}`
	}
	post(vonage.StatusPath, status(menu.UUID, "submitted", ""))
	post(vonage.StatusPath, status(menu.UUID, "delivered", ""))
	post(vonage.StatusPath, `{"message_uuid":"aaaaaaaa-bbbb-4ccc-8ddd-0000000000ff","to":"447700900601","from":"`+ours+`","timestamp":"`+ms+`",`+
		`"status":"read","channel":"whatsapp","whatsapp":{"conversation":{"id":"1234567890","origin":{"type":"utility"}}}}`)
	Eventually(t, patience, "the menu delivered", func() bool {
		for _, m := range storedMessages(t, g, ann) {
			if m.ProviderID == menu.UUID {
				return m.Status == "delivered"
			}
		}
		return false
	})
	stored := storedMessages(t, g, ann)
	if len(stored) != 2 || stored[1].Body != "menu" {
		t.Errorf("Ann's messages %+v, want her SMS and the menu (the WhatsApp ones ignored)", stored)
	}
	if n := len(api.Sent()); n != 1 {
		t.Errorf("%d sends, want the menu only", n)
	}
}

// With Advanced Opt-Out on a Messaging Service, Twilio names the keyword
// it recognised in OptOutType, also for words of the service's own list
// that keyway's lacks ("BAJA"): Twilio has opted the contact out on its
// side, and keyway takes the message as that compliance word. START and
// HELP come the same way.
func TestTwilioOptOutTypeIsACompliance(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, documentedConfig)
	const who = "+15557772001"
	post := func(sid, body, optOutType string) {
		t.Helper()
		f := twilioDocForm(g, sid, who, OurSMS, body, map[string]string{"OptOutType": optOutType})
		if code, answer := g.PostSigned("/webhooks/twilio", f); code != http.StatusOK {
			t.Fatalf("webhook answered %d: %s", code, answer)
		}
	}
	post("SM30000000000000000000000000000001", "menu", "")
	repliesTo(t, g, who, 1)
	post("SM30000000000000000000000000000002", "BAJA", "STOP")
	Eventually(t, patience, "the contact opted out", func() bool { return g.Contact(who).Contact.OptedOut })
	post("SM30000000000000000000000000000003", "ALTA", "START")
	Eventually(t, patience, "the contact opted back in", func() bool { return !g.Contact(who).Contact.OptedOut })
	got := repliesTo(t, g, who, 3)
	for i, r := range got[1:] {
		if r == "Got it" {
			t.Errorf("reply %d to a word Twilio recognised went to the catch-all: %q", i+2, got)
		}
	}
}
