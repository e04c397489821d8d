package meta

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// payload is a webhook body: entry[].changes[].value holds the messages and
// statuses of one business phone number.
type payload struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string `json:"field"`
			Value struct {
				Metadata struct {
					DisplayPhoneNumber numeric `json:"display_phone_number"`
					PhoneNumberID      numeric `json:"phone_number_id"`
				} `json:"metadata"`
				Contacts []struct {
					WaID numeric `json:"wa_id"`
					// UserID is the business-scoped user id: given for
					// every contact, alone when the number is withheld.
					UserID  string `json:"user_id"`
					Profile struct {
						Name string `json:"name"`
					} `json:"profile"`
				} `json:"contacts"`
				// Messages and Statuses are read one by one: one that
				// cannot be read is skipped, not the POST.
				Messages []json.RawMessage `json:"messages"`
				Statuses []json.RawMessage `json:"statuses"`
				// Errors are problems Meta reports outside any message
				// (e.g. an incoming message it could not deliver to us).
				Errors []struct {
					Code  int    `json:"code"`
					Title string `json:"title"`
				} `json:"errors"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type message struct {
	// From is the sender's number; Meta leaves it out when the sender
	// shows a username and withholds its number, and FromUserID, its
	// business-scoped user id ("US.1349…"), is then who sent it.
	From       numeric `json:"from"`
	FromUserID string  `json:"from_user_id"`
	// GroupID is the group the message was sent in (Meta's Groups API);
	// empty for a message to the business alone.
	GroupID   string  `json:"group_id"`
	ID        string  `json:"id"`
	Timestamp numeric `json:"timestamp"`
	Type      string  `json:"type"`
	Text      struct {
		Body string `json:"body"`
	} `json:"text"`
	Interactive struct {
		Type        string `json:"type"`
		ButtonReply choice `json:"button_reply"`
		ListReply   choice `json:"list_reply"`
	} `json:"interactive"`
	Button struct {
		Payload string `json:"payload"`
		Text    string `json:"text"`
	} `json:"button"`
	Image    *media `json:"image"`
	Audio    *media `json:"audio"`
	Video    *media `json:"video"`
	Document *media `json:"document"`
	Sticker  *media `json:"sticker"`
	// Contacts are the contact cards of a contacts message.
	Contacts []struct {
		Name struct {
			FormattedName string `json:"formatted_name"`
			FirstName     string `json:"first_name"`
			LastName      string `json:"last_name"`
		} `json:"name"`
		Phones []struct {
			Phone string `json:"phone"`
		} `json:"phones"`
	} `json:"contacts"`
	Location *struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
		Address   string  `json:"address"`
	} `json:"location"`
}

type choice struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

type media struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
}

type status struct {
	ID          string  `json:"id"`
	Status      string  `json:"status"`
	RecipientID numeric `json:"recipient_id"`
	// Callback is the biz_opaque_callback_data of the send: keyway's id
	// of the message.
	Callback string `json:"biz_opaque_callback_data"`
	Errors   []struct {
		Code      int    `json:"code"`
		Title     string `json:"title"`
		Message   string `json:"message"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
	} `json:"errors"`
}

// Parse answers the verification handshake on the GET route, and verifies
// and parses a webhook on the POST route. A signed webhook is always taken
// (200): what keyway cannot read in it (a body that is not JSON, a message
// or a status without its id) is ignored, with the reason, and the rest is
// handled. Meta would send a refused payload again, unchanged, for days,
// and the good messages in it with it.
func (m *Meta) Parse(route providers.Route, r *providers.Request) (providers.Batch, error) {
	if route.Kind == providers.RouteVerify {
		return m.verify(r)
	}
	if err := m.checkSignature(r); err != nil {
		return providers.Batch{}, err
	}
	var p payload
	if err := json.Unmarshal(r.Body, &p); err != nil {
		return providers.Batch{Ignored: []providers.Ignored{{Kind: "body", Reason: "not JSON: " + err.Error()}}}, nil
	}
	var b providers.Batch
	for _, e := range p.Entry {
		for _, ch := range e.Changes {
			// A change without a field is read as messages: the one field
			// whose value holds messages and statuses.
			if ch.Field != "messages" && ch.Field != "" {
				b.Ignored = append(b.Ignored, providers.Ignored{Kind: "field " + ch.Field, ID: e.ID, Reason: "keyway subscribes to messages only"})
				continue
			}
			v := ch.Value
			phoneNumberID := string(v.Metadata.PhoneNumberID)
			to := m.byID[phoneNumberID]
			display := string(v.Metadata.DisplayPhoneNumber)
			switch {
			case to == "" && display != "":
				to, _, _ = config.Address("+"+strings.TrimPrefix(digitsOnly(display), "+"), m.region, config.ChannelWhatsApp)
			case to == "" && phoneNumberID == "" && len(m.ids) == 1:
				// No metadata at all: with one number there is no doubt
				// which it was sent to.
				for n := range m.ids {
					to = n
				}
			}
			for _, e := range v.Errors {
				b.Ignored = append(b.Ignored, providers.Ignored{Kind: "error " + strconv.Itoa(e.Code), Reason: "an error outside any message: " + e.Title})
			}
			names := map[string]string{}
			for _, c := range v.Contacts {
				for _, id := range nonEmpty(string(c.WaID), c.UserID) {
					names[id] = c.Profile.Name
				}
			}
			for _, raw := range v.Messages {
				var msg message
				if err := json.Unmarshal(raw, &msg); err != nil {
					b.Ignored = append(b.Ignored, providers.Ignored{Kind: "malformed message", ID: idOf(raw), Reason: "not a message keyway can read: " + err.Error()})
					continue
				}
				in, ignored, err := m.inbound(msg, to, phoneNumberID, names[firstNonEmpty(string(msg.From), msg.FromUserID)])
				if err != nil {
					b.Ignored = append(b.Ignored, providers.Ignored{Kind: "malformed message", ID: msg.ID, Reason: err.Error()})
					continue
				}
				if ignored != nil {
					b.Ignored = append(b.Ignored, *ignored)
					continue
				}
				b.Messages = append(b.Messages, in)
			}
			for _, raw := range v.Statuses {
				var s status
				if err := json.Unmarshal(raw, &s); err != nil {
					b.Ignored = append(b.Ignored, providers.Ignored{Kind: "malformed status", ID: idOf(raw), Reason: "not a status keyway can read: " + err.Error()})
					continue
				}
				if s.ID == "" || s.Status == "" {
					b.Ignored = append(b.Ignored, providers.Ignored{Kind: "malformed status", ID: s.ID, Reason: "id and status are required"})
					continue
				}
				b.Statuses = append(b.Statuses, statusOf(s))
			}
		}
	}
	return b, nil
}

// statusOf is keyway's view of a status: a failed one carries the code
// of its first error and says what the codes of all of them mean (the
// same codes as a send's answer: 131050 a marketing opt-out, 131047
// outside the window, the throttling codes a message dropped for Meta's
// rate limits).
func statusOf(s status) providers.Status {
	st := providers.Status{ProviderID: s.ID, Status: s.Status, MessageID: s.Callback}
	if len(s.Errors) == 0 {
		return st
	}
	e := s.Errors[0]
	st.ErrorCode = e.Code
	st.ErrorMessage = strings.Join(nonEmpty(e.Title, firstNonEmpty(e.ErrorData.Details, e.Message)), ": ")
	for _, e := range s.Errors {
		switch e.Code {
		case codeMarketingOptOut:
			st.MarketingOptOut = true
		case codeOutsideWindow:
			st.OutsideWindow = true
		}
		if throttleCodes[e.Code] {
			st.Throttled = true
		}
	}
	return st
}

// verify answers Meta's handshake: hub.mode=subscribe with our verify
// token gets hub.challenge back. A missing or wrong token is refused first
// (403, whatever else the request holds); a request with the token that
// is no subscription handshake (another mode, or no challenge) is
// malformed (400).
func (m *Meta) verify(r *providers.Request) (providers.Batch, error) {
	u, err := url.Parse(r.URL)
	if err != nil {
		return providers.Batch{}, fmt.Errorf("meta: verify: %v: %w", err, providers.ErrNotHandshake)
	}
	q := u.Query()
	switch token := q.Get("hub.verify_token"); {
	case m.set.VerifyToken == "":
		return providers.Batch{}, fmt.Errorf("meta: verify: providers.meta.verify_token is not set, so no handshake can succeed: %w", providers.ErrVerifyToken)
	case token == "":
		return providers.Batch{}, fmt.Errorf("meta: verify: no hub.verify_token: %w", providers.ErrVerifyToken)
	case subtle.ConstantTimeCompare([]byte(token), []byte(m.set.VerifyToken)) != 1:
		return providers.Batch{}, fmt.Errorf("meta: verify: hub.verify_token is not providers.meta.verify_token: %w", providers.ErrVerifyToken)
	}
	if mode := q.Get("hub.mode"); mode != "subscribe" {
		return providers.Batch{}, fmt.Errorf("meta: verify: hub.mode is %q, not subscribe: %w", mode, providers.ErrNotHandshake)
	}
	challenge := q.Get("hub.challenge")
	if challenge == "" {
		return providers.Batch{}, fmt.Errorf("meta: verify: no hub.challenge: %w", providers.ErrNotHandshake)
	}
	return providers.Batch{Answer: challenge}, nil
}

// checkSignature checks X-Hub-Signature-256 against the raw body, in
// constant time; dev mode checks nothing.
func (m *Meta) checkSignature(r *providers.Request) error {
	if m.dev {
		return nil
	}
	sig, ok := strings.CutPrefix(r.Header.Get(SignatureHeader), "sha256=")
	if !ok || sig == "" {
		return fmt.Errorf("meta: webhook: no %s header: %w", SignatureHeader, providers.ErrSignature)
	}
	if !hmac.Equal([]byte(strings.ToLower(sig)), []byte(Sign(m.set.AppSecret, r.Body))) {
		return fmt.Errorf("meta: webhook: %s does not match the body: %w", SignatureHeader, providers.ErrSignature)
	}
	return nil
}

// Sign returns the hex HMAC-SHA256 of body keyed with appSecret: what Meta
// sends in X-Hub-Signature-256 after "sha256=".
func Sign(appSecret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// inbound turns one message into an Inbound, or says why it is ignored.
// The sender is its number (from) when Meta gives it, so that it is the
// same contact as on Twilio, and else its business-scoped user id
// (from_user_id), kept as written.
func (m *Meta) inbound(msg message, to, phoneNumberID, name string) (providers.Inbound, *providers.Ignored, error) {
	msg.Type = typeOf(msg)
	sender := firstNonEmpty(strings.TrimSpace(string(msg.From)), strings.TrimSpace(msg.FromUserID))
	if msg.ID == "" || sender == "" {
		return providers.Inbound{}, nil, fmt.Errorf("meta: message: id and from (or from_user_id) are required: %w", providers.ErrMalformed)
	}
	from, _, err := config.Address(waAddress(sender), m.region, config.ChannelWhatsApp)
	if err != nil {
		return providers.Inbound{}, nil, fmt.Errorf("meta: message %s: from %s is not a WhatsApp address: %w", msg.ID, config.MaskAddress(sender), providers.ErrMalformed)
	}
	if to == "" {
		return providers.Inbound{}, nil, fmt.Errorf("meta: message %s: no metadata.phone_number_id keyway knows nor display_phone_number: %w", msg.ID, providers.ErrMalformed)
	}
	if msg.GroupID != "" {
		// keyway answers a person one to one: a keyword said in a group
		// would be answered privately, to each member who says it.
		return providers.Inbound{}, &providers.Ignored{Kind: "group message", ID: msg.ID, Reason: "sent in a group: keyway answers people one to one"}, nil
	}
	in := providers.Inbound{Provider: Name, ID: msg.ID, Channel: config.ChannelWhatsApp, From: from, To: to, ProfileName: name,
		Fields: map[string]string{"type": msg.Type, "wa_id": string(msg.From), "phone_number_id": phoneNumberID, "timestamp": string(msg.Timestamp)}}
	if msg.FromUserID != "" {
		in.Fields["user_id"] = msg.FromUserID
	}
	if sec, err := strconv.ParseInt(string(msg.Timestamp), 10, 64); err == nil && sec > 0 {
		in.SentAt = time.Unix(sec, 0).UTC()
	}
	switch msg.Type {
	case "text":
		in.Body = msg.Text.Body
	case "interactive":
		c := msg.Interactive.ButtonReply
		if msg.Interactive.Type == "list_reply" {
			c = msg.Interactive.ListReply
		} else if msg.Interactive.Type != "button_reply" {
			return providers.Inbound{}, &providers.Ignored{Kind: "interactive " + msg.Interactive.Type, ID: msg.ID, Reason: "not a reply keyway handles"}, nil
		}
		in.Button, in.Body = c.ID, c.Title
	case "button":
		in.Button, in.Body = msg.Button.Payload, msg.Button.Text
	case "image", "audio", "video", "document", "sticker":
		md := map[string]*media{"image": msg.Image, "audio": msg.Audio, "video": msg.Video, "document": msg.Document, "sticker": msg.Sticker}[msg.Type]
		if md == nil || md.ID == "" {
			return providers.Inbound{}, nil, fmt.Errorf("meta: message %s: %s without a media id: %w", msg.ID, msg.Type, providers.ErrMalformed)
		}
		in.Body = md.Caption
		in.Media = []string{m.MediaURL(md.ID)}
		in.Fields["media_id"], in.Fields["mime_type"] = md.ID, md.MimeType
	case "location":
		if msg.Location == nil {
			return providers.Inbound{}, nil, fmt.Errorf("meta: message %s: location without coordinates: %w", msg.ID, providers.ErrMalformed)
		}
		l := msg.Location
		in.Body = strconv.FormatFloat(l.Latitude, 'f', -1, 64) + "," + strconv.FormatFloat(l.Longitude, 'f', -1, 64)
		if place := strings.TrimSpace(strings.Join(nonEmpty(l.Name, l.Address), ", ")); place != "" {
			in.Body += " (" + place + ")"
		}
	case "contacts":
		if in.Body = cards(msg); in.Body == "" {
			return providers.Inbound{}, &providers.Ignored{Kind: msg.Type, ID: msg.ID, Reason: "contact cards without a name or a phone"}, nil
		}
	default:
		// reaction, system, unsupported and types keyway does not know.
		return providers.Inbound{}, &providers.Ignored{Kind: msg.Type, ID: msg.ID, Reason: "a message type keyway does not handle"}, nil
	}
	return in, nil, nil
}

// cards writes the contact cards a contact shared as text, one card a
// line: its name and its phones ("Barbara J. Johnson: +1 (650) 555-1234"),
// as a Twilio WhatsApp message carries them in its vCard.
func cards(msg message) string {
	var lines []string
	for _, c := range msg.Contacts {
		name := strings.TrimSpace(c.Name.FormattedName)
		if name == "" {
			name = strings.TrimSpace(strings.Join(nonEmpty(c.Name.FirstName, c.Name.LastName), " "))
		}
		var phones []string
		for _, p := range c.Phones {
			phones = append(phones, nonEmpty(strings.TrimSpace(p.Phone))...)
		}
		line := strings.Join(phones, ", ")
		switch {
		case name != "" && line != "":
			line = name + ": " + line
		case name != "":
			line = name
		case line == "":
			continue
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

// waAddress is the address of a WhatsApp sender as Meta writes it: a
// phone number's digits (international, without "+") get their "+"; a
// business-scoped user id of someone who shows a username instead
// ("US.13491208655302741918") is kept as written.
func waAddress(raw string) string {
	s := strings.TrimSpace(raw)
	if d := strings.TrimPrefix(s, "+"); d != "" && digitsOnly(d) == d {
		return "+" + d
	}
	return s
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			out = append(out, v)
		}
	}
	return out
}
