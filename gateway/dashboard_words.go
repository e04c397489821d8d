package gateway

import (
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/keyway-sms/keyway/automation/engine"
)

// dashTimeLayout is how the dashboard writes a time: in defaults.timezone,
// with the zone's abbreviation, so that nobody has to convert from UTC.
const dashTimeLayout = "2006-01-02 15:04 MST"

// pageFuncs are the functions the dashboard's pages call, for one request:
// times in loc, contacts by the names given (phone to name), staff numbers
// by set's names. A nil set knows no staff.
func pageFuncs(loc *time.Location, names map[string]string, set *engine.Set) template.FuncMap {
	when := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(loc).Format(dashTimeLayout)
	}
	staffName := func(number string) string {
		if set == nil {
			return ""
		}
		return set.StaffName(number)
	}
	return template.FuncMap{
		"when": when,
		"whenp": func(t *time.Time) string {
			if t == nil {
				return ""
			}
			return when(*t)
		},
		"join":     strings.Join,
		"clip":     clip,
		"pathesc":  url.PathEscape,
		"queryesc": url.QueryEscape,
		"diagram":  func(a *engine.Automation) template.HTML { return diagram(a, staffName) },
		"summary": func(a *engine.Automation, st *engine.CompiledStep) string {
			return strings.Join(stepSummary(a, st, staffName), " · ")
		},
		"steptitle": stepTitle,
		"who": func(phone string) person {
			p := person{Phone: phone, Name: names[phone]}
			if set != nil && set.IsStaff(phone) {
				p.Staff = true
				if p.Name == "" {
					p.Name = set.StaffName(phone)
				}
			}
			return p
		},
		"whos": func(phones []string) []person {
			out := make([]person, 0, len(phones))
			for _, phone := range phones {
				p := person{Phone: phone, Name: names[phone]}
				if set != nil && set.IsStaff(phone) {
					p.Staff = true
					if n := set.StaffName(phone); n != "" {
						p.Name = n
					}
				}
				out = append(out, p)
			}
			return out
		},
		"say":      statusWords,
		"attempts": attemptsWords,
		"why":      failureWords,
		"forward":  func(m *engine.Message) bool { return m.Purpose == engine.PurposeForward },
	}
}

// person is a contact or a staff member as a page names them: by name
// when they have one, with the number beside it.
type person struct {
	Phone string
	Name  string
	Staff bool
}

// statusWords says an enrollment's or a message's status in words.
func statusWords(status any) string {
	s := fmt.Sprint(status)
	switch s {
	case string(engine.EnrollmentRunning):
		return "running a step"
	case string(engine.EnrollmentWaiting):
		return "waiting"
	case string(engine.EnrollmentWaitingReply):
		return "waiting for a reply"
	case string(engine.EnrollmentPending):
		return "calling out"
	case string(engine.EnrollmentHandoff):
		return "with staff"
	case string(engine.StatusReceived):
		return "received"
	case string(engine.StatusQueued):
		return "queued to send"
	case string(engine.StatusDev):
		return "logged, not sent (dev mode)"
	case string(engine.StatusSuppressed):
		return "not sent"
	case "undelivered":
		return "not delivered"
	}
	return strings.ReplaceAll(s, "_", " ")
}

// failureWords says why a send failed, for the people who look at it: the
// provider's reason in its own words, with its error code, rather than the
// error as the log and the API keep it; or that error when there is no
// separate reason (a delivery report, a send not made, an older record).
func failureWords(m *engine.Message) string {
	words := m.Reason
	if words == "" {
		words = m.Error
	}
	if words != "" && m.ErrorCode != 0 && !strings.Contains(words, strconv.Itoa(m.ErrorCode)) {
		return fmt.Sprintf("%s (error %d)", words, m.ErrorCode)
	}
	return words
}

// attemptsWords counts a send's attempts, when there was more than one.
func attemptsWords(n int) string {
	if n <= 1 {
		return ""
	}
	return fmt.Sprintf("%d attempts", n)
}

// dashNames looks up the names of the contacts with these phones and
// keeps them in the request for render: a page shows contacts by name.
func (g *Gateway) dashNames(c *fiber.Ctx, phones []string) error {
	names := map[string]string{}
	err := g.view(c.UserContext(), func(tx adminTx) error {
		for _, p := range phones {
			if _, seen := names[p]; seen || p == "" {
				continue
			}
			contact, err := tx.Contact(p)
			if errors.Is(err, engine.ErrNotFound) {
				names[p] = ""
				continue
			}
			if err != nil {
				return err
			}
			names[p] = contact.Name
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("gateway: dashboard: contact names: %w", err)
	}
	c.Locals("names", names)
	return nil
}
