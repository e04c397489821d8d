package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// sessions are the dashboard's logins, kept in the store (the Meta value
// sessionsKey), so that every keyway process sharing a PostgreSQL
// database knows a session any of them opened, whichever one a load
// balancer sends the next click to, and a restart logs nobody out. The
// store holds a hash of each session's id, never the id (the cookie), so
// that what it holds opens no session.
//
// Each session remembers who opened it (a user, or the admin token) and a
// fingerprint of the secret it was opened with, the user's password hash
// or the token: a session whose user is no longer in admin.users, or
// whose secret changed, ends at its next request after the reload that
// changed it (and Reload drops it from the store).
type sessions struct {
	store engine.Store
}

// sessionsKey is the Meta value that holds the live sessions.
const sessionsKey = "dashboard/sessions"

// maxSessions bounds the sessions kept: past it, opening one drops those
// closest to expiring.
const maxSessions = 500

// session is a live dashboard session, as a request sees it.
type session struct {
	csrf string
	// user is the admin.users name the session was opened as; "" for the
	// admin token.
	user    string
	secret  [32]byte
	expires time.Time
}

// storedSession is a session as the store keeps it, under the hash of its
// id.
type storedSession struct {
	User    string    `json:"user,omitempty"`
	Secret  string    `json:"secret"` // hex of the secret's fingerprint
	Expires time.Time `json:"expires"`
}

func randomID() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("gateway: no randomness for a session id: %v", err))
	}
	return hex.EncodeToString(b)
}

// idHash is what the store keeps a session under: a hash of its id.
func idHash(id string) string {
	sum := sha256.Sum256([]byte("keyway session\x00" + id))
	return hex.EncodeToString(sum[:])
}

// csrfOf is the CSRF token of the session with id: derived from the id,
// which only the session's browser holds, so that every process computes
// the same one and the store keeps none.
func csrfOf(id string) string {
	sum := sha256.Sum256([]byte("keyway csrf\x00" + id))
	return hex.EncodeToString(sum[:])
}

// secretOf is the secret a session of user ("" for the token) stands on
// under admin, and whether there is one: the user's password hash, or the
// admin token.
func secretOf(admin config.Admin, user string) ([32]byte, bool) {
	if user == "" {
		return sha256.Sum256([]byte(admin.Token)), admin.Token != ""
	}
	u := admin.User(user)
	if u == nil {
		return [32]byte{}, false
	}
	return sha256.Sum256([]byte(u.PasswordHash)), true
}

// readSessions reads the stored sessions, by the hash of their ids.
func readSessions(tx engine.MetaStore) (map[string]storedSession, error) {
	raw, err := tx.Meta(sessionsKey)
	if errors.Is(err, engine.ErrNotFound) || (err == nil && len(raw) == 0) {
		return map[string]storedSession{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: read the dashboard sessions: %w", err)
	}
	m := map[string]storedSession{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("gateway: decode the dashboard sessions: %w", err)
	}
	return m, nil
}

func writeSessions(tx engine.MetaStore, m map[string]storedSession) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("gateway: encode the dashboard sessions: %w", err)
	}
	if err := tx.PutMeta(sessionsKey, raw); err != nil {
		return fmt.Errorf("gateway: store the dashboard sessions: %w", err)
	}
	return nil
}

// change reads the stored sessions, lets fn change them and stores them
// again, in one transaction.
func (s *sessions) change(ctx context.Context, fn func(m map[string]storedSession)) error {
	return s.store.Update(ctx, func(tx engine.Tx) error {
		m, err := readSessions(tx)
		if err != nil {
			return err
		}
		fn(m)
		return writeSessions(tx, m)
	})
}

// open opens a session for user ("" for the admin token) under admin, and
// returns its id, for the cookie.
func (s *sessions) open(ctx context.Context, admin config.Admin, user string) (string, error) {
	now := time.Now()
	secret, _ := secretOf(admin, user)
	id := randomID()
	err := s.change(ctx, func(m map[string]storedSession) {
		for h, st := range m {
			if now.After(st.Expires) {
				delete(m, h)
			}
		}
		if len(m) >= maxSessions {
			hs := make([]string, 0, len(m))
			for h := range m {
				hs = append(hs, h)
			}
			sort.Slice(hs, func(i, j int) bool { return m[hs[i]].Expires.Before(m[hs[j]].Expires) })
			for _, h := range hs[:len(m)-maxSessions+1] {
				delete(m, h)
			}
		}
		m[idHash(id)] = storedSession{User: user, Secret: hex.EncodeToString(secret[:]), Expires: now.Add(sessionTTL)}
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// live reports whether se still stands under admin: not expired, its
// user still there with the same secret.
func (se *session) live(admin config.Admin, now time.Time) bool {
	secret, ok := secretOf(admin, se.user)
	return ok && secret == se.secret && !now.After(se.expires)
}

// get returns the live session with id under admin, or nil.
func (s *sessions) get(ctx context.Context, id string, admin config.Admin) (*session, error) {
	if id == "" {
		return nil, nil
	}
	var st storedSession
	var found bool
	err := s.store.View(ctx, func(tx engine.Tx) error {
		m, err := readSessions(tx)
		st, found = m[idHash(id)]
		return err
	})
	if err != nil || !found {
		return nil, err
	}
	se := &session{csrf: csrfOf(id), user: st.User, expires: st.Expires}
	if b, err := hex.DecodeString(st.Secret); err == nil && len(b) == len(se.secret) {
		copy(se.secret[:], b)
	}
	if !se.live(admin, time.Now()) {
		return nil, nil
	}
	return se, nil
}

// prune ends the sessions that no longer stand under admin (a reload
// removed their user or changed its password or the token) or expired,
// and returns how many it ended.
func (s *sessions) prune(ctx context.Context, admin config.Admin) (int, error) {
	now, n := time.Now(), 0
	err := s.change(ctx, func(m map[string]storedSession) {
		n = 0
		for h, st := range m {
			secret, ok := secretOf(admin, st.User)
			if !ok || hex.EncodeToString(secret[:]) != st.Secret || now.After(st.Expires) {
				delete(m, h)
				n++
			}
		}
	})
	return n, err
}

// close ends the session with id.
func (s *sessions) close(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	return s.change(ctx, func(m map[string]storedSession) { delete(m, idHash(id)) })
}
