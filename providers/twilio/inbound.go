package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"hash"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// SignatureHeader is the header Twilio signs its webhook requests in.
const SignatureHeader = "X-Twilio-Signature"

// whatsappPrefix marks a WhatsApp address at Twilio: "whatsapp:+14155238886".
const whatsappPrefix = "whatsapp:"

// Sign computes the X-Twilio-Signature Twilio sends with a webhook request to
// url carrying form: the base64 HMAC-SHA1, keyed with authToken, of url
// followed by each parameter's name and value, parameters sorted by name. A
// repeated parameter contributes each of its distinct values, in sorted
// order, each after its name: "Digits=5678&Digits=1234" signs as
// "Digits1234Digits5678". That is the rule of Twilio's own validators
// (twilio-python, twilio-node), which compare values as a set: a value
// repeated verbatim counts once. url is the full URL Twilio calls, query
// string included, exactly as given.
func Sign(authToken, url string, form url.Values) string {
	var names []string
	msg := appendSignedParams([]byte(url), form, &names)
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write(msg)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// appendSignedParams appends to b what Sign signs after the URL: each
// parameter's name and value, sorted by name, each distinct value of a
// repeated parameter in sorted order. *names is scratch space for the
// sorted names, reused when large enough.
func appendSignedParams(b []byte, form url.Values, names *[]string) []byte {
	*names = (*names)[:0]
	for name := range form {
		*names = append(*names, name)
	}
	slices.Sort(*names)
	for _, name := range *names {
		values := form[name]
		if len(values) > 1 {
			values = slices.Compact(slices.Sorted(slices.Values(values)))
		}
		for _, v := range values {
			b = append(b, name...)
			b = append(b, v...)
		}
	}
	return b
}

// signer checks webhook signatures for one auth token (the first it is
// given), reusing its HMAC states and buffers across requests: a webhook's
// check then allocates nothing but the sorted values of a repeated
// parameter. Its zero value is ready to use.
type signer struct {
	once  sync.Once
	token string    // the auth token the pooled states are keyed with
	macs  sync.Pool // hash.Hash: HMAC-SHA1 keyed with token
	bufs  sync.Pool // *signBuf
}

// signBuf is the scratch space of one check.
type signBuf struct {
	params []byte   // appendSignedParams of the form
	msg    []byte   // a URL followed by params
	names  []string // the form's names, sorted
}

// verify reports whether sig is the signature Sign would compute with
// authToken for form sent to rawURL or to one of the other URLs Twilio may
// have signed for it (signedURLs). The exact URL, which Twilio signs unless
// the port is in question, is tried first, and the parameters are put
// together once for every URL tried.
func (s *signer) verify(authToken, rawURL string, form url.Values, sig string) bool {
	s.once.Do(func() {
		s.token = authToken
		key := []byte(authToken)
		s.macs.New = func() any { return hmac.New(sha1.New, key) }
		s.bufs.New = func() any { return new(signBuf) }
	})
	if len(sig) != base64.StdEncoding.EncodedLen(sha1.Size) {
		return false // no signature Sign computes
	}
	var mac hash.Hash
	if authToken == s.token {
		mac = s.macs.Get().(hash.Hash)
		defer s.macs.Put(mac)
	} else {
		mac = hmac.New(sha1.New, []byte(authToken)) // not the pooled states' key
	}
	buf := s.bufs.Get().(*signBuf)
	defer s.bufs.Put(buf)
	buf.params = appendSignedParams(buf.params[:0], form, &buf.names)
	check := func(u string) bool {
		buf.msg = append(append(buf.msg[:0], u...), buf.params...)
		mac.Reset()
		mac.Write(buf.msg)
		var sum [sha1.Size]byte
		var enc [28]byte // base64.StdEncoding.EncodedLen(sha1.Size)
		base64.StdEncoding.Encode(enc[:], mac.Sum(sum[:0]))
		return hmac.Equal(enc[:], []byte(sig))
	}
	if check(rawURL) {
		return true
	}
	for _, u := range signedURLs(rawURL)[1:] {
		if check(u) {
			return true
		}
	}
	return false
}

// ParseInbound verifies the signature of an incoming message webhook (unless
// in dev mode), then parses it. From and To are read with config.Address: a
// phone number is normalised to E.164; a short code or an alphanumeric
// sender id (SMS), or a business-scoped user id (WhatsApp: "whatsapp:US.1…",
// sent with ExternalUserId and often without WaId), is kept as written.
// A tapped quick-reply button (WhatsApp) gives its id, ButtonPayload, as
// Button, and its title, ButtonText, as Body. OptOutType (Advanced
// Opt-Out) gives Compliance. Errors wrap providers.ErrSignature or providers.ErrMalformed.
func (t *Twilio) ParseInbound(r *providers.Request) (providers.Inbound, error) {
	form, err := t.verifiedForm(r, "inbound")
	if err != nil {
		return providers.Inbound{}, err
	}
	in := providers.Inbound{
		Provider:    Name,
		ID:          first(form, "MessageSid", "SmsSid"),
		Channel:     config.ChannelSMS,
		Body:        form.Get("Body"),
		ProfileName: form.Get("ProfileName"),
		Button:      form.Get("ButtonPayload"),
		Fields:      make(map[string]string, len(form)),
	}
	for name, values := range form {
		if len(values) > 0 {
			in.Fields[name] = values[0]
		}
	}
	if in.Button != "" && in.Body == "" {
		// A quick reply's text comes as ButtonText, and Body with it as a
		// rule; the title is the body when Body is missing.
		in.Body = form.Get("ButtonText")
	}
	if in.Body == "" {
		in.Body = location(form)
	}
	in.Compliance = optOutTypes[strings.ToUpper(strings.TrimSpace(form.Get("OptOutType")))]
	if in.ID == "" {
		return providers.Inbound{}, fmt.Errorf("twilio: inbound: no MessageSid (nor SmsSid): %w", providers.ErrMalformed)
	}
	rawFrom, rawTo := form.Get("From"), form.Get("To")
	if rawFrom == "" {
		return providers.Inbound{}, fmt.Errorf("twilio: inbound %s: no From: %w", in.ID, providers.ErrMalformed)
	}
	if rawTo == "" {
		return providers.Inbound{}, fmt.Errorf("twilio: inbound %s: no To: %w", in.ID, providers.ErrMalformed)
	}
	from, whatsapp := cutWhatsApp(rawFrom)
	if whatsapp {
		in.Channel = config.ChannelWhatsApp
	}
	to, toWhatsApp := cutWhatsApp(rawTo)
	toChannel := config.ChannelSMS
	if toWhatsApp {
		toChannel = config.ChannelWhatsApp
	}
	if in.From, _, err = config.InboundAddress(from, t.region, in.Channel); err != nil {
		return providers.Inbound{}, fmt.Errorf("twilio: inbound %s: From %s is not an address on %s: %w", in.ID, config.MaskAddress(rawFrom), in.Channel, providers.ErrMalformed)
	}
	if in.To, _, err = config.InboundAddress(to, t.region, toChannel); err != nil {
		return providers.Inbound{}, fmt.Errorf("twilio: inbound %s: To %s is not an address on %s: %w", in.ID, config.MaskAddress(rawTo), toChannel, providers.ErrMalformed)
	}
	if in.Media, err = media(form); err != nil {
		return providers.Inbound{}, fmt.Errorf("twilio: inbound %s: %w", in.ID, err)
	}
	return in, nil
}

// optOutTypes are the values of OptOutType, which Twilio adds to an
// inbound message when a Messaging Service with Advanced Opt-Out
// recognised one of its keywords (its own list, which may hold words
// keyway's lacks) and opted the sender out or in, or answered for help.
var optOutTypes = map[string]string{
	"STOP":  providers.ComplianceOptOut,
	"START": providers.ComplianceOptIn,
	"HELP":  providers.ComplianceHelp,
}

// ParseStatus verifies the signature of a delivery status callback (unless
// in dev mode), then parses it. Errors wrap providers.ErrSignature or
// providers.ErrMalformed.
func (t *Twilio) ParseStatus(r *providers.Request) (providers.Status, error) {
	form, err := t.verifiedForm(r, "status")
	if err != nil {
		return providers.Status{}, err
	}
	st := providers.Status{
		ProviderID:   first(form, "MessageSid", "SmsSid"),
		Status:       first(form, "MessageStatus", "SmsStatus"),
		ErrorMessage: form.Get("ErrorMessage"),
	}
	if st.ProviderID == "" {
		return providers.Status{}, fmt.Errorf("twilio: status: no MessageSid (nor SmsSid): %w", providers.ErrMalformed)
	}
	if st.Status == "" {
		return providers.Status{}, fmt.Errorf("twilio: status %s: no MessageStatus (nor SmsStatus): %w", st.ProviderID, providers.ErrMalformed)
	}
	if code := strings.TrimSpace(form.Get("ErrorCode")); code != "" {
		if st.ErrorCode, err = strconv.Atoi(code); err != nil {
			return providers.Status{}, fmt.Errorf("twilio: status %s: ErrorCode %q is not a number: %w", st.ProviderID, code, providers.ErrMalformed)
		}
	}
	if st.ErrorMessage == "" {
		st.ErrorMessage = statusErrors[st.ErrorCode]
	}
	st.OptedOut = st.ErrorCode == codeOptedOut
	st.OutsideWindow = st.ErrorCode == codeOutsideWindow
	st.Throttled = st.ErrorCode == codeQueueOverflow
	return st, nil
}

// statusErrors are the names Twilio's error dictionary gives the codes its
// delivery status callbacks carry most, for a callback that gives the code
// alone: the dashboard says "Unreachable destination handset (error
// 30003)", not "provider error 30003".
var statusErrors = map[int]string{
	30001:             "Queue overflow",
	30002:             "Account suspended",
	30003:             "Unreachable destination handset",
	30004:             "Message blocked",
	30005:             "Unknown destination handset",
	30006:             "Landline or unreachable carrier",
	30007:             "Message filtered by the carrier",
	30008:             "Unknown error",
	30010:             "Message price exceeds max price",
	30034:             "Message from an unregistered number",
	codeOptedOut:      "Attempt to send to unsubscribed recipient",
	codeOutsideWindow: "Failed to send freeform message because you are outside the allowed window",
}

// verifiedForm parses the request body as a form and, unless in dev mode,
// checks its signature. A body that is not a form at all is malformed
// whatever its signature says: nothing in it could be verified or stored.
// kind names the webhook in errors.
func (t *Twilio) verifiedForm(r *providers.Request, kind string) (url.Values, error) {
	if r == nil {
		return nil, fmt.Errorf("twilio: %s: no request: %w", kind, providers.ErrMalformed)
	}
	form, err := url.ParseQuery(string(r.Body))
	if err != nil {
		return nil, fmt.Errorf("twilio: %s: body is not a form: %v: %w", kind, err, providers.ErrMalformed)
	}
	if t.dev {
		return form, nil
	}
	sig := r.Header.Get(SignatureHeader)
	if sig == "" {
		return nil, fmt.Errorf("twilio: %s: no %s header: %w", kind, SignatureHeader, providers.ErrSignature)
	}
	// twilio-go's validator takes one value per parameter, so a value added
	// to a signed parameter would pass unseen: every value is checked here.
	if t.signer.verify(t.authToken, r.URL, form, sig) {
		return form, nil
	}
	return nil, fmt.Errorf("twilio: %s: signature does not match %s: %w", kind, r.URL, providers.ErrSignature)
}

// signedURLs returns the URLs Twilio may have signed for a request to raw:
// raw itself, and raw with its scheme's default port added (":443" for
// https, ":80" for http) or, when raw names a port, without it. Twilio is
// not consistent about the port, and its SDKs try both.
func signedURLs(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return []string{raw}
	}
	other := *u
	switch host := u.Hostname(); {
	case u.Port() != "" && strings.Contains(host, ":"):
		other.Host = "[" + host + "]"
	case u.Port() != "":
		other.Host = host
	case strings.EqualFold(u.Scheme, "https"):
		other.Host = net.JoinHostPort(host, "443")
	default:
		other.Host = net.JoinHostPort(host, "80")
	}
	return []string{raw, other.String()}
}

// media returns the MediaUrl0..N-1 of a form, in order, N being NumMedia.
func media(form url.Values) ([]string, error) {
	raw := strings.TrimSpace(form.Get("NumMedia"))
	if raw == "" {
		return nil, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 0 {
		return nil, fmt.Errorf("NumMedia %q is not a count: %w", raw, providers.ErrMalformed)
	}
	if n == 0 {
		return nil, nil
	}
	if n > len(form) {
		return nil, fmt.Errorf("NumMedia is %d but the form has only %d fields: %w", n, len(form), providers.ErrMalformed)
	}
	urls := make([]string, 0, n)
	for i := range n {
		name := "MediaUrl" + strconv.Itoa(i)
		u := form.Get(name)
		if u == "" {
			return nil, fmt.Errorf("NumMedia is %d but %s is missing: %w", n, name, providers.ErrMalformed)
		}
		urls = append(urls, u)
	}
	return urls, nil
}

// location returns a shared WhatsApp location (Latitude and Longitude,
// with Label, the place's name, and Address when given) as text, as the
// WhatsApp Cloud API provider writes one: "37.78,-122.39 (Twilio HQ, 375
// Beale St)"; "" when the form has no coordinates. Twilio sends it without
// a Body, and automations see the message's body, not its fields.
func location(form url.Values) string {
	lat, long := strings.TrimSpace(form.Get("Latitude")), strings.TrimSpace(form.Get("Longitude"))
	if lat == "" || long == "" {
		return ""
	}
	text := lat + "," + long
	var place []string
	for _, name := range []string{"Label", "Address"} {
		if v := strings.TrimSpace(form.Get(name)); v != "" {
			place = append(place, v)
		}
	}
	if len(place) > 0 {
		text += " (" + strings.Join(place, ", ") + ")"
	}
	return text
}

// first returns the first non-empty value among the named form fields.
func first(form url.Values, names ...string) string {
	for _, name := range names {
		if v := form.Get(name); v != "" {
			return v
		}
	}
	return ""
}

// cutWhatsApp removes a "whatsapp:" prefix (in any case) from a Twilio
// address and reports whether it had one.
func cutWhatsApp(addr string) (string, bool) {
	if len(addr) >= len(whatsappPrefix) && strings.EqualFold(addr[:len(whatsappPrefix)], whatsappPrefix) {
		return addr[len(whatsappPrefix):], true
	}
	return addr, false
}
