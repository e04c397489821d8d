package gateway

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/keyway-sms/keyway/config"
)

// sessions are the dashboard's logins, kept in memory: a restart logs
// everybody out. Each remembers who opened it (a user, or the admin
// token) and a fingerprint of the secret it was opened with, the user's
// password hash or the token: a session whose user is no longer in
// admin.users, or whose secret changed, ends at its next request after
// the reload that changed it (and Reload drops it at once).
type sessions struct {
	mu sync.Mutex
	m  map[string]*session
}

type session struct {
	csrf string
	// user is the admin.users name the session was opened as; "" for the
	// admin token.
	user    string
	secret  [32]byte
	expires time.Time
}

func randomID() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("gateway: no randomness for a session id: %v", err))
	}
	return hex.EncodeToString(b)
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

// open opens a session for user ("" for the admin token) under admin.
func (s *sessions) open(admin config.Admin, user string) (string, *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.m == nil {
		s.m = map[string]*session{}
	}
	for id, se := range s.m {
		if now.After(se.expires) {
			delete(s.m, id)
		}
	}
	secret, _ := secretOf(admin, user)
	id := randomID()
	se := &session{csrf: randomID(), user: user, secret: secret, expires: now.Add(sessionTTL)}
	s.m[id] = se
	return id, se
}

// live reports whether se still stands under admin: not expired, its
// user still there with the same secret.
func (se *session) live(admin config.Admin, now time.Time) bool {
	secret, ok := secretOf(admin, se.user)
	return ok && secret == se.secret && !now.After(se.expires)
}

// get returns the live session with id under admin, or nil.
func (s *sessions) get(id string, admin config.Admin) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	se := s.m[id]
	if se == nil {
		return nil
	}
	if !se.live(admin, time.Now()) {
		delete(s.m, id)
		return nil
	}
	return se
}

// prune ends the sessions that no longer stand under admin (a reload
// removed their user or changed its password or the token), and returns
// how many it ended.
func (s *sessions) prune(admin config.Admin) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now, n := time.Now(), 0
	for id, se := range s.m {
		if !se.live(admin, now) {
			delete(s.m, id)
			n++
		}
	}
	return n
}

func (s *sessions) close(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}
