package providertest

import (
	"fmt"
	"net/http"
	"slices"

	"github.com/keyway-sms/keyway/providers"
)

// Kind is a kind of case every provider's Suite must hold at least one of,
// unless the provider has no such thing (Suite.Lacks): so that a provider
// handing the harness no bad signature, say, is noticed instead of passing.
type Kind string

// The kinds of webhook cases.
const (
	// KindSigned: a signed webhook carrying a message, taken.
	KindSigned Kind = "signed message"
	// KindBadSignature: a webhook whose signature is wrong, refused.
	KindBadSignature Kind = "bad signature"
	// KindNoSignature: a webhook without a signature, refused (outside dev
	// mode).
	KindNoSignature Kind = "missing signature"
	// KindTampered: a webhook whose body changed after signing, refused.
	KindTampered Kind = "body changed after signing"
	// KindDuplicate: a message posted twice, parsed the same both times.
	KindDuplicate Kind = "duplicate delivery"
	// KindStatus: a webhook carrying a delivery status.
	KindStatus Kind = "status"
	// KindMalformed: a webhook answered 400.
	KindMalformed Kind = "malformed request"
	// KindMedia: a message carrying media.
	KindMedia Kind = "inbound media"
	// KindDevWebhook: an unsigned webhook taken in dev mode.
	KindDevWebhook Kind = "dev mode webhook"
)

// The kinds of send cases: one for each outcome, besides these.
const (
	// KindSendMedia: a send with media, sent.
	KindSendMedia Kind = "media send"
	// KindDevSend: a send in dev mode, which makes no request.
	KindDevSend Kind = "dev mode send"
	// KindUnreachable: a send to an API that does not answer.
	KindUnreachable Kind = "unreachable API"
)

// Kinds are every kind a Suite is checked for, in the order missing ones
// are reported.
var Kinds = []Kind{
	KindSigned, KindBadSignature, KindNoSignature, KindTampered, KindDuplicate, KindStatus, KindMalformed, KindMedia, KindDevWebhook,
	SendKind(Sent), KindSendMedia, KindDevSend, KindUnreachable, SendKind(RetryLater), SendKind(Failed),
	SendKind(OptedOut), SendKind(MarketingOptOut), SendKind(OutsideWindow), SendKind(Throttled),
}

// SendKind is the kind of a send case whose API answer means o: one that
// makes a request and gets an answer, not one refused before it.
func SendKind(o Outcome) Kind { return Kind("send " + string(o)) }

// refused reports whether status is how keyway refuses a bad signature.
func refused(status int) bool {
	return status == http.StatusForbidden || status == http.StatusUnauthorized
}

// kinds returns the kinds c is a case of.
func (c WebhookCase) kinds() []Kind {
	var ks []Kind
	ok := c.Status == 0 || c.Status == http.StatusOK
	switch {
	case c.Dev && c.Signature == NoSignature && ok:
		ks = append(ks, KindDevWebhook)
	case c.Dev:
	case c.Signature == Signed && c.Tamper == nil && c.SignURL == "" && ok && len(c.Messages) > 0:
		ks = append(ks, KindSigned)
	case c.Signature == BadSignature && refused(c.Status):
		ks = append(ks, KindBadSignature)
	case c.Signature == NoSignature && refused(c.Status):
		ks = append(ks, KindNoSignature)
	case c.Signature == Signed && c.Tamper != nil && refused(c.Status):
		ks = append(ks, KindTampered)
	}
	if ok && c.Repeat && len(c.Messages) > 0 {
		ks = append(ks, KindDuplicate)
	}
	if ok && len(c.Statuses) > 0 {
		ks = append(ks, KindStatus)
	}
	if c.Status == http.StatusBadRequest {
		ks = append(ks, KindMalformed)
	}
	if ok && slices.ContainsFunc(c.Messages, func(m providers.Inbound) bool { return len(m.Media) > 0 }) {
		ks = append(ks, KindMedia)
	}
	return ks
}

// kinds returns the kinds c is a case of.
func (c SendCase) kinds() []Kind {
	outcome := c.Outcome
	if outcome == "" {
		outcome = Sent
	}
	switch {
	case c.Dev:
		if outcome == Sent && len(c.Requests) == 0 {
			return []Kind{KindDevSend}
		}
		return nil
	case c.Unreachable:
		return []Kind{KindUnreachable}
	case len(c.Requests) == 0:
		return nil // refused before asking the API: not an answer's meaning
	case outcome == Sent && len(c.Message.Media) > 0:
		return []Kind{SendKind(Sent), KindSendMedia}
	}
	return []Kind{SendKind(outcome)}
}

// coverage says what is wrong with the kinds of s's cases: each kind of
// Kinds that has no case and is not in s.Lacks, and each kind in s.Lacks
// that does have a case (or is not a kind).
func (s Suite) coverage() []string {
	count := map[Kind]int{}
	for _, c := range s.Webhooks {
		for _, k := range c.kinds() {
			count[k]++
		}
	}
	for _, c := range s.Sends {
		for _, k := range c.kinds() {
			count[k]++
		}
	}
	var out []string
	for _, k := range Kinds {
		why, lacks := s.Lacks[k]
		switch {
		case lacks && why == "":
			out = append(out, fmt.Sprintf("Lacks %q without saying why", k))
		case lacks && count[k] > 0:
			out = append(out, fmt.Sprintf("Lacks %q but has %d cases of it", k, count[k]))
		case !lacks && count[k] == 0:
			out = append(out, fmt.Sprintf("no case of %q (add one, or say in Lacks why the provider has none)", k))
		}
	}
	var unknown []string
	for k := range s.Lacks {
		if !slices.Contains(Kinds, k) {
			unknown = append(unknown, fmt.Sprintf("Lacks %q, which is not a kind", k))
		}
	}
	slices.Sort(unknown)
	return append(out, unknown...)
}
