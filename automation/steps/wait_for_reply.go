package steps

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

func init() { engine.Register("wait_for_reply", compileWaitForReply) }

// DefaultSaveAs is the variable a wait_for_reply without save_as saves the
// reply under: {{ vars.reply }}.
const DefaultSaveAs = "reply"

// WaitForReply pauses the enrollment until the contact's next message, which
// is saved under vars.<save_as> (default vars.reply) before the enrollment
// goes on. An answer to buttons or a list saves the chosen id there, and
// its title under vars.<save_as>_title (for a typed answer, the text is in
// both). The message that started the enrollment is never taken as the
// answer. With a timeout and no reply by then, the enrollment goes to
// on_timeout, or ends ("no reply within 24h") when on_timeout is unset.
// Without a timeout it ends after the automation's expire_after (30 days by
// default).
//
//   - type: wait_for_reply
//     timeout: 24h
//     save_as: name
//     on_timeout: bye
type WaitForReply struct {
	// Timeout is how long the question stays open; zero: until expire_after.
	Timeout time.Duration
	// TimeoutText is the timeout as written, for the end reason.
	TimeoutText string
	// OnTimeout is the step to go to on timeout; empty ends the enrollment.
	OnTimeout string
	// SaveAs names the variable the reply is saved under.
	SaveAs string
}

type waitForReplyFields struct {
	Timeout   *config.DurationText `yaml:"timeout"`
	OnTimeout string               `yaml:"on_timeout"`
	SaveAs    string               `yaml:"save_as"`
}

// saveAsName is a name templates can reach as vars.<name>.
var saveAsName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func compileWaitForReply(c *engine.Compiler, s *config.Step) (engine.Step, config.Problems) {
	var f waitForReplyFields
	c.Decode(s, &f)
	st := &WaitForReply{OnTimeout: f.OnTimeout, SaveAs: f.SaveAs}
	if f.Timeout != nil {
		st.TimeoutText = strings.TrimSpace(string(*f.Timeout))
		st.Timeout = c.Duration(s, "timeout", st.TimeoutText)
	}
	c.Target(s, "on_timeout", f.OnTimeout)
	if f.OnTimeout != "" && f.Timeout == nil && !c.Refused(s, "timeout") {
		c.Warnf(s, "on_timeout", "on_timeout has no effect without a timeout: an unanswered question ends after the automation's expire_after")
	}
	if st.SaveAs == "" {
		st.SaveAs = DefaultSaveAs
	} else if !saveAsName.MatchString(st.SaveAs) {
		c.Problemf(s, "save_as", "save_as %q is not a variable name (letters, digits and _, not starting with a digit)", st.SaveAs)
	}
	return st, nil
}

// Execute pauses the enrollment until the contact writes, or until the
// timeout.
func (st *WaitForReply) Execute(context.Context, *engine.Run) (engine.Outcome, error) {
	return engine.WaitReply(st.Timeout), nil
}

// Resume saves a reply and goes on, or takes the timeout's way.
func (st *WaitForReply) Resume(_ context.Context, r *engine.Run, ev engine.Event) (engine.Outcome, error) {
	switch ev.Kind {
	case engine.EventReply:
		if ev.Message == nil {
			return engine.Outcome{}, fmt.Errorf("wait_for_reply: reply event without a message")
		}
		saveReply(r, st.SaveAs, ev.Message)
		return engine.Continue(), nil
	case engine.EventTimer:
		if st.OnTimeout != "" {
			return engine.Next(st.OnTimeout), nil
		}
		return engine.End("no reply within " + st.TimeoutText), nil
	}
	return engine.Outcome{}, fmt.Errorf("wait_for_reply: resumed by a %s event; only a reply or its timeout resumes it", ev.Kind)
}

// saveReply saves reply m under vars.<name>: a choice's id (a tapped
// button or list row, or a number or title typed in answer to choices),
// else the text; and under vars.<name>_title the text, a choice's title.
// The text is saved without the spaces and line breaks around it (phone
// keyboards add a space after a word they complete): "Thanks {{ vars.name
// }}!" reads "Thanks Ann!", and "^yes$" matches. message.body keeps them.
func saveReply(r *engine.Run, name string, m *engine.Message) {
	text := strings.TrimSpace(m.Body)
	if m.Button != "" {
		r.SetVar(name, m.Button)
	} else {
		r.SetVar(name, text)
	}
	r.SetVar(name+TitleSuffix, text)
}

// TitleSuffix ends the variable a wait_for_reply saves a choice's title
// under: save_as: size gives vars.size (the id) and vars.size_title.
const TitleSuffix = "_title"

var (
	_ engine.Step    = (*WaitForReply)(nil)
	_ engine.Resumer = (*WaitForReply)(nil)
)

// LatePause returns how long the question stays open before it times out
// and carries on at on_timeout ("end" when a timeout ends the enrollment:
// without on_timeout, or without a timeout, when expire_after ends it); an
// answer goes on to the next step, the contact having just written.
func (st *WaitForReply) LatePause() (target string, longest time.Duration, renews bool) {
	if st.OnTimeout == "" || st.Timeout == 0 {
		return config.End, 0, true
	}
	return st.OnTimeout, st.Timeout, true
}

var _ engine.LatePauser = (*WaitForReply)(nil)
