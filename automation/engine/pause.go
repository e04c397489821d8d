package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/keyway-sms/keyway/config"
)

// Pause is an admin's pause of an automation from the dashboard, stored as
// a meta value (so that it survives a restart and every process sharing
// the store sees it). It overrides the file's enabled: true for as long as
// the automation stays as it was when paused: a reload that changes the
// automation drops it, and the file rules again. While it stands, the
// automation's keywords enroll nobody (the message goes on as text that
// matched nothing), its catch_all takes nothing, its schedule's ticks are
// skipped and manual starts are refused; enrollments under way go on.
type Pause struct {
	// Paused is false once the pause was lifted (By and At then say who
	// lifted it and when).
	Paused bool      `json:"paused"`
	By     string    `json:"by,omitempty"`
	At     time.Time `json:"at"`
	// Config is the fingerprint of the automation when the pause was
	// made: the pause stands while the automation has it still.
	Config string `json:"config"`
}

// ErrPausedFromDashboard is returned when starting an automation that an
// admin paused from the dashboard; errors.Is takes it for an ErrPaused.
var ErrPausedFromDashboard error = pausedFromDashboard{}

type pausedFromDashboard struct{}

func (pausedFromDashboard) Error() string        { return "automation is paused from the dashboard" }
func (pausedFromDashboard) Is(target error) bool { return target == ErrPaused }

func pauseKey(id string) string { return "pause/" + id }

// fingerprint identifies an automation as the file writes it: its settings
// and its steps' fields, without places in the file or comments.
func fingerprint(ca *config.Automation) string {
	steps := make([]any, len(ca.Steps))
	for i, st := range ca.Steps {
		var v any
		if st.Node != nil {
			_ = st.Node.Decode(&v) // it decoded at load; v stays nil otherwise
		}
		steps[i] = v
	}
	c := *ca
	c.Path, c.Steps = "", nil
	raw, err := json.Marshal(struct {
		A     config.Automation
		Steps []any
	}{c, steps})
	if err != nil {
		raw = []byte(err.Error())
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// readPause returns the pause stored for a, or nil when none stands: none
// was made, it was lifted, or a changed since.
func readPause(tx interface{ Meta(string) ([]byte, error) }, a *Automation) (*Pause, error) {
	raw, err := tx.Meta(pauseKey(a.ID))
	switch {
	case isNotFound(err):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("engine: read the pause of %q: %w", a.ID, err)
	}
	var p Pause
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("engine: read the pause of %q: %w", a.ID, err)
	}
	if !p.Paused || p.Config != a.fingerprint {
		return nil, nil
	}
	return &p, nil
}

// enrolls reports whether a takes new enrollments in the transaction of
// t: enabled in the file and not paused from the dashboard.
func (t *turn) enrolls(a *Automation) (bool, error) {
	return Enrolls(t.tx, a)
}

// Enrolls reports whether a takes new enrollments, as tx has it: enabled
// in the file and not paused from the dashboard (what a broadcast checks
// before each batch).
func Enrolls(tx interface{ Meta(string) ([]byte, error) }, a *Automation) (bool, error) {
	if !a.Enabled {
		return false, nil
	}
	p, err := readPause(tx, a)
	return p == nil, err
}

// PauseOf returns the dashboard pause that stands for the running
// automation with id, or nil.
func (e *Engine) PauseOf(ctx context.Context, id string) (*Pause, error) {
	a := e.Set().Automation(id)
	if a == nil {
		return nil, fmt.Errorf("engine: pause of %q: %w", id, ErrNotFound)
	}
	var p *Pause
	err := e.store.View(ctx, func(tx Tx) error {
		var err error
		p, err = readPause(tx, a)
		return err
	})
	return p, err
}

// SetPaused pauses (paused true) or resumes the running automation with id
// from the dashboard, recording who did it (WithActor) and when. Pausing
// an automation that the file disables is refused: the file holds its
// enrollments still, which the dashboard does not undo.
func (e *Engine) SetPaused(ctx context.Context, id string, paused bool) (*Pause, error) {
	a := e.Set().Automation(id)
	if a == nil {
		return nil, fmt.Errorf("engine: pause %q: %w", id, ErrNotFound)
	}
	if !a.Enabled {
		return nil, fmt.Errorf("engine: pause %q: %w", id, ErrPaused)
	}
	p := &Pause{Paused: paused, By: ActorOf(ctx), At: e.clock.Now(), Config: a.fingerprint}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	err = e.transact(ctx, func(x *unitOfWork) error { return x.tx.PutMeta(pauseKey(id), raw) })
	if err != nil {
		return nil, fmt.Errorf("engine: pause %q: %w", id, err)
	}
	return p, nil
}

// DropStalePauses lifts the dashboard pauses that no longer stand for the
// automations of set (changed in the file since) or of gone (removed from
// it), so that a later reload back to the paused version does not bring
// them back; it returns the ids it lifted. A reload and the start call it.
func (e *Engine) DropStalePauses(ctx context.Context, set *Set, gone []string) ([]string, error) {
	var dropped []string
	err := e.transact(ctx, func(x *unitOfWork) error {
		dropped = dropped[:0]
		ids := append([]string(nil), gone...)
		for _, a := range set.Automations() {
			ids = append(ids, a.ID)
		}
		for _, id := range ids {
			raw, err := x.tx.Meta(pauseKey(id))
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return err
			}
			var p Pause
			if json.Unmarshal(raw, &p) != nil || !p.Paused {
				continue
			}
			if a := set.Automation(id); a != nil && a.fingerprint == p.Config {
				continue
			}
			p.Paused, p.By, p.At = false, "", x.now
			if raw, err = json.Marshal(p); err != nil {
				return err
			}
			if err := x.tx.PutMeta(pauseKey(id), raw); err != nil {
				return err
			}
			dropped = append(dropped, id)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("engine: drop stale pauses: %w", err)
	}
	return dropped, nil
}
