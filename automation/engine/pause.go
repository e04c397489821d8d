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

// Pause is an admin's override, from the dashboard, of the file's
// enabled for one automation, stored as a meta value (so that it survives
// a restart and every process sharing the store sees it). It stands for as
// long as the automation stays as it was when it was made: a reload that
// changes the automation drops it, and the file rules again.
//
// Paused overrides the file's enabled: true as enabled: false would: the
// automation's keywords enroll nobody (the message goes on as text that
// matched nothing), its catch_all takes nothing, its schedule's ticks are
// skipped, manual starts are refused, and its enrollments under way hold
// still (their timers are held, a reply is not taken as their answer)
// until the pause is lifted, when their overdue waits fire.
//
// Enabled overrides the file's enabled: false: the automation runs as if
// the file enabled it, its keywords, catch_all, schedule and starts
// enrolling and the enrollments it held going on.
type Pause struct {
	// Paused and Enabled are both false once the override was lifted
	// (By and At then say who lifted it and when).
	Paused  bool      `json:"paused"`
	Enabled bool      `json:"enabled,omitempty"`
	By      string    `json:"by,omitempty"`
	At      time.Time `json:"at"`
	// Config is the fingerprint of the automation when the override was
	// made: it stands while the automation has it still.
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

// MetaReader is the part of a transaction that the dashboard's overrides
// are read from.
type MetaReader interface{ Meta(string) ([]byte, error) }

// MetaPeeker is a transaction that can also read a meta value for reading
// only, sharing it with other readers: Meta, which serves values read then
// written, has each transaction that reads a value wait for the others
// (PostgreSQL). Every turn reads the dashboard's pause of the automations
// it starts or runs, and none of them writes it.
type MetaPeeker interface{ PeekMeta(string) ([]byte, error) }

// readPause returns the override stored for a, or nil when none stands:
// none was made, it was lifted, or a changed since.
func readPause(tx MetaReader, a *Automation) (*Pause, error) {
	read := tx.Meta
	if p, ok := tx.(MetaPeeker); ok {
		read = p.PeekMeta
	}
	raw, err := read(pauseKey(a.ID))
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
	if !(p.Paused || p.Enabled) || p.Config != a.fingerprint {
		return nil, nil
	}
	return &p, nil
}

// state is where an automation stands, from its file and the dashboard's
// override: the one place the engine decides whether it enrolls and runs.
type state int

const (
	stateEnabled      state = iota // enrolls and runs
	statePausedByFile              // enabled: false: enrolls nobody, its enrollments hold still
	statePausedByDash              // paused from the dashboard: as statePausedByFile
)

// stateOf returns where a stands as tx has it. The override is read only
// when there may be one to read, so an automation the file enables and
// the dashboard never paused costs one meta read.
func stateOf(tx MetaReader, a *Automation) (state, error) {
	p, err := readPause(tx, a)
	switch {
	case err != nil:
		return 0, err
	case p != nil && p.Paused && a.Enabled:
		return statePausedByDash, nil
	case p != nil && p.Enabled && !a.Enabled:
		return stateEnabled, nil
	case !a.Enabled:
		return statePausedByFile, nil
	}
	return stateEnabled, nil
}

// enrolls reports whether a takes new enrollments in the transaction of
// t (Enrolls).
func (t *turn) enrolls(a *Automation) (bool, error) {
	return Enrolls(t.tx, a)
}

// runs reports whether a's enrollments go on in the transaction of t
// (Runs).
func (t *turn) runs(a *Automation) (bool, error) {
	return Runs(t.tx, a)
}

// Enrolls reports whether a takes new enrollments, as tx has it: enabled
// in the file and not paused from the dashboard, or enabled from the
// dashboard against the file (what a broadcast checks before each batch).
func Enrolls(tx MetaReader, a *Automation) (bool, error) {
	st, err := stateOf(tx, a)
	return st == stateEnabled, err
}

// Runs reports whether a's enrollments under way go on, as tx has it:
// unless a is paused, by the file or from the dashboard (its timers are
// then held, and replies are not taken as answers).
func Runs(tx MetaReader, a *Automation) (bool, error) {
	st, err := stateOf(tx, a)
	return st == stateEnabled, err
}

// Refusal returns why a takes no new enrollments, as tx has it: an error
// wrapping ErrPaused when the file disables it, ErrPausedFromDashboard
// when an admin paused it from the dashboard, nil when it takes them (or
// the error reading the store).
func Refusal(tx MetaReader, a *Automation) error {
	st, err := stateOf(tx, a)
	switch {
	case err != nil:
		return err
	case st == statePausedByFile:
		return ErrPaused
	case st == statePausedByDash:
		return ErrPausedFromDashboard
	}
	return nil
}

// Refusal is Refusal as the store has it now, for the running automation
// a.
func (e *Engine) Refusal(ctx context.Context, a *Automation) error {
	return e.store.View(ctx, func(tx Tx) error { return Refusal(tx, a) })
}

// PauseOf returns the dashboard's override (a pause, or an enable of an
// automation the file disables) that stands for the running automation
// with id, or nil.
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

// SetPaused pauses (paused true) or enables (paused false) the running
// automation with id from the dashboard, recording who did it (WithActor)
// and when. For an automation the file enables, pausing stores a pause and
// enabling lifts it; for one the file disables (enabled: false), enabling
// stores an override that enables it, and pausing lifts it. Whenever the
// automation runs again, its held timers are released in the same commit.
func (e *Engine) SetPaused(ctx context.Context, id string, paused bool) (*Pause, error) {
	a := e.Set().Automation(id)
	if a == nil {
		return nil, fmt.Errorf("engine: pause %q: %w", id, ErrNotFound)
	}
	p := &Pause{Paused: paused && a.Enabled, Enabled: !paused && !a.Enabled, By: ActorOf(ctx), At: e.clock.Now(), Config: a.fingerprint}
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, err
	}
	err = e.transact(ctx, func(x *unitOfWork) error {
		if err := x.tx.PutMeta(pauseKey(id), raw); err != nil {
			return err
		}
		if !paused {
			_, err := x.tx.ReleaseTimers(id)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("engine: pause %q: %w", id, err)
	}
	return p, nil
}

// DropStalePauses lifts the dashboard's overrides (pauses and enables) that no longer stand for the
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
			if json.Unmarshal(raw, &p) != nil || !(p.Paused || p.Enabled) {
				continue
			}
			if a := set.Automation(id); a != nil && a.fingerprint == p.Config {
				continue
			}
			p.Paused, p.Enabled, p.By, p.At = false, false, "", x.now
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
