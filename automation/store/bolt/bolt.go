// Package bolt implements engine.Store on bbolt, an
// embedded single-file database, with group commit: concurrent updates
// share one fsync.
package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// Buckets, one per entity or index. Index keys join parts with a zero byte.
// Record values leave out what their key holds (a contact's phone, a
// message's or an enrollment's id; a timer keeps only kind, epoch and
// automation: timers.go), and reads fill it in from the key. Values written
// by an earlier keyway still hold it, and read the same.
var (
	bContacts    = []byte("contacts")      // phone → Contact
	bGroups      = []byte("groups")        // group 0 phone → nil
	bMessages    = []byte("messages")      // id → Message
	bProviderIDs = []byte("provider_ids")  // provider 0 providerID → message id
	bContactMsgs = []byte("contact_msgs")  // phone 0 message id → nil
	bMsgCreated  = []byte("msg_created")   // dueKey(CreatedAt) message id → nil, unless the id says CreatedAt (created.go)
	bOutbox      = []byte("outbox")        // message id → sendEntry
	bSendQueues  = []byte("send_queues")   // queue 0 message id → nil
	bSendDue     = []byte("send_due")      // dueKey(claimable) message id → nil, queue heads only
	bSendLeases  = []byte("send_leases")   // owner 0 message id → nil
	bEnrollments = []byte("enrollments")   // id → Enrollment
	bActive      = []byte("active")        // phone 0 automation → enrollment id
	bByAuto      = []byte("by_automation") // automation 0 enrollment id → nil
	bByContact   = []byte("by_contact")    // phone 0 enrollment id → nil
	bTimers      = []byte("timers")        // due (8 bytes, big-endian ns) enrollment id → encodeTimer (timers.go)
	bHeld        = []byte("held_timers")   // automation 0 timer key → Timer
	bMeta        = []byte("meta")          // key → value
	allBuckets   = [][]byte{bContacts, bGroups, bMessages, bProviderIDs, bContactMsgs, bMsgCreated, bOutbox,
		bSendQueues, bSendDue, bSendLeases, bEnrollments, bActive, bByAuto, bByContact, bTimers, bHeld, bMeta,
		bCounts, bHandoffs, // counts.go
		bEvents, bEventQueues, bEventDue, bEventDone} // events.go
)

// maxGroup bounds how many updates share one commit.
const maxGroup = 512

// lockWait is how long Open waits for another process to let go of the
// file: long enough for a restart whose old process is still closing it,
// short enough that a second `keyway serve` on the same file says so at once.
const lockWait = time.Second

// ErrLocked is returned, wrapped with the path, by Open when another
// process holds the data file.
var ErrLocked = errors.New("the data file is in use by another keyway process")

// probeBytes is how much the health probe writes next to the data file: a
// disk without this much room cannot be trusted to take a webhook's commit,
// whose largest is a few pages over server.max_body_bytes.
const probeBytes = 1 << 20

// Bolt is an engine.Store in a bbolt file.
type Bolt struct {
	db      *bolt.DB
	path    string
	updates chan *update
	done    chan struct{} // closed by Close: take no more updates
	stopped chan struct{} // closed when the commit loop has exited
	health  engine.CommitHealth
}

type update struct {
	fn  func(engine.Tx) error
	err chan error
}

// Open opens (creating it and its folder if missing) the bbolt file at path.
// It gives back every lease on a queued send: only one process at a time
// can open the file, so a lease found in it was left by one that stopped,
// whatever its name, and its sends may be tried again at once.
func Open(path string) (*Bolt, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("store: create folder %s: %w", dir, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store: open %s: %w (stop it first, or give this one another storage.path)", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		indexCreated := tx.Bucket(bMsgCreated) == nil
		countsCreated := tx.Bucket(bCounts) == nil
		for _, b := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		t := &boltTx{tx: tx, writable: true}
		if err := migrateOutbox(t); err != nil {
			return err
		}
		if indexCreated {
			if err := indexMessagesCreated(t); err != nil {
				return err
			}
		}
		if countsCreated {
			if err := indexCounts(t); err != nil {
				return err
			}
		}
		return releaseLeases(t)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: create buckets in %s: %w", path, err)
	}
	s := &Bolt{db: db, path: path, updates: make(chan *update, maxGroup), done: make(chan struct{}), stopped: make(chan struct{})}
	s.health.Probe = s.probe
	go s.commitLoop()
	return s, nil
}

// Update runs fn in a read-write transaction and returns once it is
// durably committed. Updates that arrive while a commit is under way share
// the next one; when one of them fails, the others are run again without it.
func (s *Bolt) Update(ctx context.Context, fn func(engine.Tx) error) error {
	u := &update{fn: fn, err: make(chan error, 1)}
	select {
	case s.updates <- u:
	case <-s.done:
		return errors.New("store: closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued, the update will be committed or refused; wait for it
	// whatever the context says, so that the caller knows which.
	select {
	case err := <-u.err:
		return err
	case <-s.stopped:
		select {
		case err := <-u.err:
			return err
		default:
			return errors.New("store: closed")
		}
	}
}

// View runs fn in a read-only transaction.
func (s *Bolt) View(_ context.Context, fn func(engine.Tx) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return fn(&boltTx{tx: tx}) })
}

// Healthy implements engine.Store: nil while the store is open and no
// commit has failed since the last successful probe. After a failed commit
// it probes, at most once a second, and is healthy again once the probe
// commits.
func (s *Bolt) Healthy(ctx context.Context) error {
	select {
	case <-s.done:
		return errors.New("store: closed")
	default:
	}
	return s.health.Check(ctx)
}

// probe checks that the disk has room for new data, by writing probeBytes
// to a file next to the data file, and that a small transaction commits. A
// small commit alone proves little: bbolt reuses the pages earlier commits
// freed, so it can succeed on a full disk where a webhook's cannot.
func (s *Bolt) probe(ctx context.Context) error {
	name := s.path + ".probe"
	if err := writeProbe(name); err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("store: no room for new data next to %s: %w", s.path, err)
	}
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("store: remove %s: %w", name, err)
	}
	return s.Update(ctx, func(tx engine.Tx) error {
		return tx.PutMeta(probeKey, []byte(time.Now().UTC().Format(time.RFC3339Nano)))
	})
}

// probeKey is the meta key the health probe writes.
const probeKey = "store/health_probe"

func writeProbe(name string) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(make([]byte, probeBytes))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close stops taking updates, commits the ones already queued and closes
// the file.
func (s *Bolt) Close() error {
	select {
	case <-s.done:
		return nil
	default:
	}
	close(s.done)
	<-s.stopped
	return s.db.Close()
}

func (s *Bolt) commitLoop() {
	defer close(s.stopped)
	for {
		select {
		case u := <-s.updates:
			s.commit(s.drain([]*update{u}))
		case <-s.done:
			// Commit what was queued before Close, then stop.
			for g := s.drain(nil); len(g) > 0; g = s.drain(nil) {
				s.commit(g)
			}
			return
		}
	}
}

// drain adds the updates already waiting to group, up to maxGroup.
func (s *Bolt) drain(group []*update) []*update {
	for len(group) < maxGroup {
		select {
		case u := <-s.updates:
			group = append(group, u)
		default:
			return group
		}
	}
	return group
}

// commit runs a group of updates in one transaction, with those that
// arrive while it runs them (up to maxGroup). If one fails, it is answered
// with its own error after a solo run, and the rest run again.
func (s *Bolt) commit(group []*update) {
	for len(group) > 0 {
		failed := -1
		var fnErr error
		err := s.db.Update(func(tx *bolt.Tx) error {
			t := &boltTx{tx: tx, writable: true}
			for i := 0; i < len(group); i++ {
				if err := group[i].fn(t); err != nil {
					failed, fnErr = i, err
					return err
				}
				if i == len(group)-1 {
					// Updates that arrived while the group ran join
					// it: they share this commit instead of waiting
					// for it to end and then for their own.
					group = s.drain(group)
				}
			}
			return nil
		})
		switch {
		case err == nil:
			for _, u := range group {
				u.err <- nil
			}
			return
		case failed < 0:
			// The commit itself failed: every update shares the fault.
			s.health.Failed(err)
			for _, u := range group {
				u.err <- fmt.Errorf("store: commit: %w", err)
			}
			return
		}
		bad := group[failed]
		if len(group) == 1 {
			bad.err <- fnErr
			return
		}
		bad.err <- s.commitOne(bad)
		group = append(group[:failed:failed], group[failed+1:]...)
	}
}

// commitOne runs one update in a transaction of its own.
func (s *Bolt) commitOne(u *update) error {
	fnFailed := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		err := u.fn(&boltTx{tx: tx, writable: true})
		fnFailed = err != nil
		return err
	})
	if err != nil && !fnFailed {
		s.health.Failed(err)
		return fmt.Errorf("store: commit: %w", err)
	}
	return err
}

// boltTx implements engine.Tx over a bbolt transaction.
type boltTx struct {
	tx       *bolt.Tx
	writable bool
	// groups holds, by phone, the groups of each contact this write
	// transaction has read or stored (nil for one found absent), so that
	// PutContact keeps the group index without reading and decoding the
	// contact a second time in the turn that loaded it.
	groups map[string][]string
}

var errReadOnly = errors.New("store: write in a read-only transaction")

func key(parts ...string) []byte {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(p)
	}
	return b.Bytes()
}

func (t *boltTx) get(bucket []byte, k []byte, v any, what string) error {
	name := string(k)
	if bytes.Equal(bucket, bContacts) {
		name = config.MaskAddress(name) // errors may reach the logs
	}
	raw := t.tx.Bucket(bucket).Get(k)
	if raw == nil {
		return fmt.Errorf("store: %s %q: %w", what, name, engine.ErrNotFound)
	}
	if err := decodeValue(raw, v); err != nil {
		return fmt.Errorf("store: decode %s %q: %w", what, name, err)
	}
	return nil
}

func (t *boltTx) put(bucket []byte, k []byte, v any) error {
	if !t.writable {
		return errReadOnly
	}
	raw, err := encodeValue(v)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", bucket, err)
	}
	return t.bucket(bucket).Put(k, raw)
}

func (t *boltTx) mark(bucket []byte, k []byte) error {
	if !t.writable {
		return errReadOnly
	}
	return t.bucket(bucket).Put(k, []byte{})
}

// remark stores the index entry k of a record stored before, which
// most likely has it already: an entry already there is left alone, since
// putting it again would copy its page into the transaction and write it
// at commit for nothing (a message or an enrollment is stored again each
// time it moves, with the same index keys). A new record's entries are
// new: mark them.
func (t *boltTx) remark(bucket []byte, k []byte) error {
	if !t.writable {
		return errReadOnly
	}
	b := t.bucket(bucket)
	if has(b, k) {
		return nil
	}
	return b.Put(k, []byte{})
}

// has reports whether b holds the key k.
func has(b *bolt.Bucket, k []byte) bool {
	found, _ := b.Cursor().Seek(k)
	return found != nil && bytes.Equal(found, k)
}

// putIndex stores the index entry k → v in bucket unless it holds that
// already (see mark).
func (t *boltTx) putIndex(bucket, k, v []byte) error {
	b := t.bucket(bucket)
	if cur := b.Get(k); cur != nil && bytes.Equal(cur, v) {
		return nil
	}
	return b.Put(k, v)
}

// bucket returns the bucket to write to, packing its pages as fillPercent
// says (counts.go).
func (t *boltTx) bucket(name []byte) *bolt.Bucket {
	b := t.tx.Bucket(name)
	if f, ok := fillPercent[string(name)]; ok {
		b.FillPercent = f
	}
	return b
}

func (t *boltTx) del(bucket []byte, k []byte) error {
	if !t.writable {
		return errReadOnly
	}
	return t.tx.Bucket(bucket).Delete(k)
}

// Contact implements engine.Tx.
func (t *boltTx) Contact(phone string) (*engine.Contact, error) {
	var c engine.Contact
	if err := t.get(bContacts, []byte(phone), &c, "contact"); err != nil {
		if errors.Is(err, engine.ErrNotFound) {
			t.rememberGroups(phone, nil)
		}
		return nil, err
	}
	c.Phone = phone
	t.rememberGroups(phone, c.Groups)
	return &c, nil
}

// rememberGroups notes the stored groups of the contact with phone, in a
// write transaction.
func (t *boltTx) rememberGroups(phone string, groups []string) {
	if !t.writable {
		return
	}
	if t.groups == nil {
		t.groups = map[string][]string{}
	}
	t.groups[phone] = slices.Clone(groups)
}

// PutContact implements engine.Tx; it keeps the group index.
func (t *boltTx) PutContact(c *engine.Contact) error {
	if !t.writable {
		return errReadOnly
	}
	old, known := t.groups[c.Phone]
	if !known {
		oc, err := t.Contact(c.Phone)
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			return err
		}
		if oc != nil {
			old = oc.Groups
		}
	}
	for _, g := range old {
		if !c.InGroup(g) {
			if err := t.del(bGroups, key(g, c.Phone)); err != nil {
				return err
			}
		}
	}
	for _, g := range c.Groups {
		if err := t.mark(bGroups, key(g, c.Phone)); err != nil {
			return err
		}
	}
	v := *c
	v.Phone = "" // the key says it
	if err := t.put(bContacts, []byte(c.Phone), &v); err != nil {
		return err
	}
	t.rememberGroups(c.Phone, c.Groups)
	return nil
}

// ContactsInGroup implements engine.Tx.
func (t *boltTx) ContactsInGroup(group, after string, limit int) ([]*engine.Contact, error) {
	prefix := key(group, "")
	cur := t.tx.Bucket(bGroups).Cursor()
	start := prefix
	if after != "" {
		start = append(key(group, after), 0)
	}
	var out []*engine.Contact
	for k, _ := cur.Seek(start); k != nil && bytes.HasPrefix(k, prefix) && len(out) < limit; k, _ = cur.Next() {
		c, err := t.Contact(string(k[len(prefix):]))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// ContactsPage implements engine.Tx.
func (t *boltTx) ContactsPage(after string, limit int) ([]*engine.Contact, error) {
	cur := t.tx.Bucket(bContacts).Cursor()
	var out []*engine.Contact
	k, v := cur.First()
	if after != "" {
		k, v = cur.Seek(append([]byte(after), 0))
	}
	for ; k != nil && (limit <= 0 || len(out) < limit); k, v = cur.Next() {
		var c engine.Contact
		if err := decodeValue(v, &c); err != nil {
			return nil, fmt.Errorf("store: decode contact %q: %w", config.MaskAddress(string(k)), err)
		}
		c.Phone = string(k)
		out = append(out, &c)
	}
	return out, nil
}

// Message implements engine.Tx.
func (t *boltTx) Message(id string) (*engine.Message, error) {
	var m engine.Message
	if err := t.get(bMessages, []byte(id), &m, "message"); err != nil {
		return nil, err
	}
	m.ID = id
	return &m, nil
}

// MessageByProviderID implements engine.Tx.
func (t *boltTx) MessageByProviderID(provider, providerID string) (*engine.Message, error) {
	id := t.tx.Bucket(bProviderIDs).Get(key(provider, providerID))
	if id == nil {
		return nil, fmt.Errorf("store: message %s/%s: %w", provider, providerID, engine.ErrNotFound)
	}
	return t.Message(string(id))
}

// PutMessage implements engine.Tx.
func (t *boltTx) PutMessage(m *engine.Message) error {
	if !t.writable {
		return errReadOnly
	}
	// A message stored again has its index entries already (remark). Its
	// creation-time entry, kept only when the id does not say the time
	// (created.go), is looked up, not its old record decoded: only when
	// that entry is not there as expected is the old record read, to take
	// out the entry of a creation time that changed.
	again := t.tx.Bucket(bMessages).Get([]byte(m.ID)) != nil
	if m.ID != "" {
		ck, want := dueKey(m.CreatedAt, m.ID), !createdInID(m)
		switch {
		case !again:
			if want {
				if err := t.mark(bMsgCreated, ck); err != nil {
					return err
				}
			}
		case want && has(t.tx.Bucket(bMsgCreated), ck):
			// Unchanged.
		default:
			var old engine.Message
			if decodeValue(t.tx.Bucket(bMessages).Get([]byte(m.ID)), &old) == nil && !old.CreatedAt.Equal(m.CreatedAt) {
				if err := t.del(bMsgCreated, dueKey(old.CreatedAt, m.ID)); err != nil {
					return err
				}
			}
			if want {
				if err := t.mark(bMsgCreated, ck); err != nil {
					return err
				}
			}
		}
	}
	mark := t.mark
	if again {
		mark = t.remark
	}
	if m.ProviderID != "" {
		if !t.writable {
			return errReadOnly
		}
		k, id := key(m.Provider, m.ProviderID), []byte(m.ID)
		put := t.bucket(bProviderIDs).Put
		if again {
			put = func(k, v []byte) error { return t.putIndex(bProviderIDs, k, v) }
		}
		if err := put(k, id); err != nil {
			return err
		}
	}
	if m.Contact != "" {
		if err := mark(bContactMsgs, key(m.Contact, m.ID)); err != nil {
			return err
		}
	}
	v := *m
	v.ID = "" // the key says it
	return t.put(bMessages, []byte(m.ID), &v)
}

// PruneMessages implements engine.Tx, from the creation-time index and
// the ids that say their creation time (created.go).
func (t *boltTx) PruneMessages(before time.Time, limit int) (int, error) {
	if !t.writable {
		return 0, errReadOnly
	}
	ids, err := t.pruneCandidates(before, limit)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		m, err := t.Message(id)
		if err != nil {
			return 0, fmt.Errorf("store: message creation index: %w", err)
		}
		if m.ProviderID != "" {
			pk := key(m.Provider, m.ProviderID)
			if cur := t.tx.Bucket(bProviderIDs).Get(pk); string(cur) == id {
				if err := t.del(bProviderIDs, pk); err != nil {
					return 0, err
				}
			}
		}
		for _, d := range []struct{ bucket, key []byte }{
			{bContactMsgs, key(m.Contact, id)},
			{bMsgCreated, dueKey(m.CreatedAt, id)},
			{bMessages, []byte(id)},
		} {
			if err := t.del(d.bucket, d.key); err != nil {
				return 0, err
			}
		}
	}
	return len(ids), nil
}

// indexMessagesCreated fills the creation-time index of the messages
// stored by a keyway from before it existed.
func indexMessagesCreated(t *boltTx) error {
	return t.tx.Bucket(bMessages).ForEach(func(k, v []byte) error {
		var m engine.Message
		if err := decodeValue(v, &m); err != nil {
			return nil // unreadable: never pruned, as before
		}
		if m.ID = string(k); createdInID(&m) {
			return nil // found by its id (created.go)
		}
		return t.mark(bMsgCreated, dueKey(m.CreatedAt, string(k)))
	})
}

// Messages implements engine.Tx.
func (t *boltTx) Messages(contact string, limit int) ([]*engine.Message, error) {
	var out []*engine.Message
	err := t.reverse(bContactMsgs, key(contact, ""), limit, func(id string) error {
		m, err := t.Message(id)
		if err == nil {
			out = append(out, m)
		}
		return err
	})
	return out, err
}

// MessagesPage implements engine.Tx.
func (t *boltTx) MessagesPage(before string, limit int) ([]*engine.Message, error) {
	cur := t.tx.Bucket(bMessages).Cursor()
	var k, v []byte
	if before == "" {
		k, v = cur.Last()
	} else if k, _ = cur.Seek([]byte(before)); k == nil {
		k, v = cur.Last()
	} else {
		k, v = cur.Prev()
	}
	var out []*engine.Message
	for ; k != nil && (limit <= 0 || len(out) < limit); k, v = cur.Prev() {
		var m engine.Message
		if err := decodeValue(v, &m); err != nil {
			return nil, fmt.Errorf("store: decode message %q: %w", k, err)
		}
		m.ID = string(k)
		out = append(out, &m)
	}
	return out, nil
}

// reverse calls fn with the suffix of each key with prefix, last first.
func (t *boltTx) reverse(bucket, prefix []byte, limit int, fn func(suffix string) error) error {
	cur := t.tx.Bucket(bucket).Cursor()
	end := append(bytes.Clone(prefix), 0xff)
	k, _ := cur.Seek(end)
	if k == nil {
		k, _ = cur.Last()
	} else {
		k, _ = cur.Prev()
	}
	for n := 0; k != nil && bytes.HasPrefix(k, prefix) && (limit <= 0 || n < limit); k, _ = cur.Prev() {
		if err := fn(string(k[len(prefix):])); err != nil {
			return err
		}
		n++
	}
	return nil
}

// sendEntry is a message's outbox entry. Only the head of each queue sits
// in bSendDue, keyed by when it can be claimed: so a claim walks the heads
// that are due, never the sends waiting behind them.
type sendEntry struct {
	engine.QueuedSend
	Head bool `json:"head,omitempty"`
}

// claimable is when e can be claimed: its Due, or the end of its lease.
func (e *sendEntry) claimable() time.Time {
	if e.Owner != "" {
		return e.LeaseUntil
	}
	return e.Due
}

// dueKey orders instants, then message ids: seconds with the sign bit
// flipped, then nanoseconds, so that every instant (the zero time
// included) keeps its place.
func dueKey(t time.Time, id string) []byte {
	k := make([]byte, 12, 12+len(id))
	binary.BigEndian.PutUint64(k, uint64(t.Unix())^(1<<63))
	binary.BigEndian.PutUint32(k[8:], uint32(t.Nanosecond()))
	return append(k, id...)
}

// dueKeyTime reads the instant back from a dueKey.
func dueKeyTime(k []byte) time.Time {
	sec := int64(binary.BigEndian.Uint64(k[:8]) ^ (1 << 63))
	return time.Unix(sec, int64(binary.BigEndian.Uint32(k[8:12]))).UTC()
}

func (t *boltTx) sendEntry(id string) (*sendEntry, error) {
	var e sendEntry
	if err := t.get(bOutbox, []byte(id), &e, "queued send"); err != nil {
		return nil, err
	}
	return &e, nil
}

// putSend stores e, keeping the due and lease indexes in step with old,
// the entry it replaces (nil for a new one).
func (t *boltTx) putSend(old, e *sendEntry) error {
	if old != nil {
		if old.Head {
			if err := t.del(bSendDue, dueKey(old.claimable(), old.MessageID)); err != nil {
				return err
			}
		}
		if old.Owner != "" && old.Owner != e.Owner {
			if err := t.del(bSendLeases, key(old.Owner, old.MessageID)); err != nil {
				return err
			}
		}
	}
	if e.Head {
		if err := t.mark(bSendDue, dueKey(e.claimable(), e.MessageID)); err != nil {
			return err
		}
	}
	if e.Owner != "" {
		if err := t.mark(bSendLeases, key(e.Owner, e.MessageID)); err != nil {
			return err
		}
	}
	return t.put(bOutbox, []byte(e.MessageID), e)
}

// Enqueue implements engine.Tx.
func (t *boltTx) Enqueue(m *engine.Message) error {
	if !t.writable {
		return errReadOnly
	}
	if m == nil || m.ID == "" {
		return errors.New("store: enqueue: no message id")
	}
	if t.tx.Bucket(bOutbox).Get([]byte(m.ID)) != nil {
		return nil
	}
	q := m.QueueKey()
	prefix := key(q, "")
	k, _ := t.tx.Bucket(bSendQueues).Cursor().Seek(prefix)
	empty := k == nil || !bytes.HasPrefix(k, prefix)
	if err := t.mark(bSendQueues, key(q, m.ID)); err != nil {
		return err
	}
	return t.putSend(nil, &sendEntry{QueuedSend: engine.QueuedSend{MessageID: m.ID, Queue: q, Due: m.NextAttempt}, Head: empty})
}

// Dequeue implements engine.Tx.
func (t *boltTx) Dequeue(id string) error {
	if !t.writable {
		return errReadOnly
	}
	if t.tx.Bucket(bOutbox).Get([]byte(id)) == nil {
		return nil
	}
	e, err := t.sendEntry(id)
	if err != nil {
		return err
	}
	for _, d := range []struct{ bucket, key []byte }{
		{bOutbox, []byte(id)},
		{bSendQueues, key(e.Queue, id)},
		{bSendLeases, key(e.Owner, id)},
		{bSendDue, dueKey(e.claimable(), id)},
	} {
		if err := t.del(d.bucket, d.key); err != nil {
			return err
		}
	}
	if !e.Head {
		return nil
	}
	// The next message of the queue becomes its head.
	prefix := key(e.Queue, "")
	k, _ := t.tx.Bucket(bSendQueues).Cursor().Seek(prefix)
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return nil
	}
	next, err := t.sendEntry(string(k[len(prefix):]))
	if err != nil {
		return fmt.Errorf("store: outbox queue: %w", err)
	}
	old := *next
	next.Head = true
	return t.putSend(&old, next)
}

// Outbox implements engine.Tx.
func (t *boltTx) Outbox(after string, limit int) ([]string, error) {
	var out []string
	cur := t.tx.Bucket(bOutbox).Cursor()
	k, _ := cur.Seek([]byte(after))
	if k != nil && string(k) == after {
		k, _ = cur.Next()
	}
	for ; k != nil && (limit <= 0 || len(out) < limit); k, _ = cur.Next() {
		out = append(out, string(k))
	}
	return out, nil
}

// QueuedSend implements engine.Tx.
func (t *boltTx) QueuedSend(id string) (*engine.QueuedSend, error) {
	e, err := t.sendEntry(id)
	if err != nil {
		return nil, err
	}
	return &e.QueuedSend, nil
}

// ClaimSends implements engine.Tx: a cursor from the first key of the
// due index, stopping at the first head not yet claimable.
func (t *boltTx) ClaimSends(now time.Time, lease time.Duration, owner string, limit int) ([]string, error) {
	if !t.writable {
		return nil, errReadOnly
	}
	if owner == "" {
		return nil, errors.New("store: claim sends: no owner")
	}
	end := dueKey(now, "")
	var ids []string
	cur := t.tx.Bucket(bSendDue).Cursor()
	for k, _ := cur.First(); k != nil && len(ids) < limit && bytes.Compare(k[:12], end) <= 0; k, _ = cur.Next() {
		ids = append(ids, string(k[12:]))
	}
	until := now.Add(lease)
	for _, id := range ids {
		e, err := t.sendEntry(id)
		if err != nil {
			return nil, fmt.Errorf("store: outbox due index: %w", err)
		}
		old := *e
		e.Owner, e.LeaseUntil = owner, until
		if err := t.putSend(&old, e); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// ReleaseSend implements engine.Tx.
func (t *boltTx) ReleaseSend(id, owner string, due time.Time) error {
	if !t.writable {
		return errReadOnly
	}
	e, err := t.sendEntry(id)
	if err != nil {
		return err
	}
	if e.Owner != owner || owner == "" {
		return fmt.Errorf("store: release send %q: %w", id, engine.ErrLeaseLost)
	}
	old := *e
	e.Owner, e.LeaseUntil, e.Due = "", time.Time{}, due
	return t.putSend(&old, e)
}

// RecoverSends implements engine.Tx.
func (t *boltTx) RecoverSends(owner string) (int, error) {
	if !t.writable {
		return 0, errReadOnly
	}
	if owner == "" {
		return 0, errors.New("store: recover sends: no owner")
	}
	prefix := key(owner, "")
	var ids []string
	cur := t.tx.Bucket(bSendLeases).Cursor()
	for k, _ := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = cur.Next() {
		ids = append(ids, string(k[len(prefix):]))
	}
	for _, id := range ids {
		e, err := t.sendEntry(id)
		if err != nil {
			return 0, fmt.Errorf("store: outbox lease index: %w", err)
		}
		old := *e
		e.Owner, e.LeaseUntil = "", time.Time{}
		if err := t.putSend(&old, e); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// NextSendDue implements engine.Tx.
func (t *boltTx) NextSendDue() (time.Time, error) {
	k, _ := t.tx.Bucket(bSendDue).Cursor().First()
	if k == nil {
		return time.Time{}, fmt.Errorf("store: next send: %w", engine.ErrNotFound)
	}
	return dueKeyTime(k), nil
}

// releaseLeases gives back every lease on a queued send.
func releaseLeases(t *boltTx) error {
	var owners []string
	err := t.tx.Bucket(bSendLeases).ForEach(func(k, _ []byte) error {
		if i := bytes.IndexByte(k, 0); i >= 0 && (len(owners) == 0 || owners[len(owners)-1] != string(k[:i])) {
			owners = append(owners, string(k[:i]))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, o := range owners {
		if _, err := t.RecoverSends(o); err != nil {
			return fmt.Errorf("store: release the leases of %q: %w", o, err)
		}
	}
	return nil
}

// migrateOutbox converts an outbox written by an earlier keyway, whose
// entries held nothing but the message id, into queues with a due index:
// each message is enqueued again, in id order. A message that cannot be
// read gets a queue of its own, so that the outbox finds it unreadable and
// takes it out without holding up anyone else.
func migrateOutbox(t *boltTx) error {
	k, v := t.tx.Bucket(bOutbox).Cursor().First()
	if k == nil || len(v) > 0 {
		return nil // empty, or migrated already
	}
	var ids []string
	err := t.tx.Bucket(bOutbox).ForEach(func(k, v []byte) error {
		if len(v) == 0 {
			ids = append(ids, string(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := t.del(bOutbox, []byte(id)); err != nil {
			return err
		}
		m, err := t.Message(id)
		if err != nil {
			m = &engine.Message{ID: id, Kind: "unreadable", To: []string{id}}
		}
		if err := t.Enqueue(m); err != nil {
			return fmt.Errorf("store: migrate outbox entry %q: %w", id, err)
		}
	}
	return nil
}

// Enrollment implements engine.Tx.
func (t *boltTx) Enrollment(id string) (*engine.Enrollment, error) {
	var e engine.Enrollment
	if err := t.get(bEnrollments, []byte(id), &e, "enrollment"); err != nil {
		return nil, err
	}
	e.ID = id
	return &e, nil
}

// ActiveEnrollment implements engine.Tx.
func (t *boltTx) ActiveEnrollment(contact, automationID string) (*engine.Enrollment, error) {
	id := t.tx.Bucket(bActive).Get(key(contact, automationID))
	if id == nil {
		return nil, fmt.Errorf("store: active enrollment of %s in %q: %w", config.MaskAddress(contact), automationID, engine.ErrNotFound)
	}
	return t.Enrollment(string(id))
}

// ActiveEnrollments implements engine.Tx.
func (t *boltTx) ActiveEnrollments(contact string) ([]*engine.Enrollment, error) {
	prefix := key(contact, "")
	cur := t.tx.Bucket(bActive).Cursor()
	var out []*engine.Enrollment
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		e, err := t.Enrollment(string(v))
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// PutEnrollment implements engine.Tx.
func (t *boltTx) PutEnrollment(e *engine.Enrollment) error {
	ak := key(e.Contact, e.Automation)
	ck := key(string(countActive), e.Automation)
	if e.Active() {
		cur := t.tx.Bucket(bActive).Get(ak)
		if cur == nil {
			if err := t.count(ck, 1); err != nil {
				return err
			}
		}
		if string(cur) != e.ID {
			if err := t.bucket(bActive).Put(ak, []byte(e.ID)); err != nil {
				return err
			}
		}
	} else if cur := t.tx.Bucket(bActive).Get(ak); cur != nil && string(cur) == e.ID {
		if err := t.del(bActive, ak); err != nil {
			return err
		}
		if err := t.count(ck, -1); err != nil {
			return err
		}
	}
	if e.Status == engine.EnrollmentHandoff && e.Handoff != nil {
		if err := t.mark(bHandoffs, []byte(e.ID)); err != nil {
			return err
		}
	} else if err := t.del(bHandoffs, []byte(e.ID)); err != nil {
		return err
	}
	mark := t.mark
	if t.tx.Bucket(bEnrollments).Get([]byte(e.ID)) != nil {
		mark = t.remark
	}
	if err := mark(bByAuto, key(e.Automation, e.ID)); err != nil {
		return err
	}
	if err := mark(bByContact, key(e.Contact, e.ID)); err != nil {
		return err
	}
	v := *e
	v.ID = "" // the key says it
	return t.put(bEnrollments, []byte(e.ID), &v)
}

// Enrollments implements engine.Tx. Active enrollments are listed from
// the active index, so reconciling or listing them costs what is active,
// not every enrollment ever made; a limit stops the scan once reached.
func (t *boltTx) Enrollments(automationID, contact string, activeOnly bool, limit int) ([]*engine.Enrollment, error) {
	if activeOnly && contact == "" {
		return t.activeEnrollments(automationID, limit)
	}
	var out []*engine.Enrollment
	keep := func(id string) error {
		e, err := t.Enrollment(id)
		if err != nil {
			return err
		}
		if (automationID == "" || e.Automation == automationID) && (contact == "" || e.Contact == contact) && (!activeOnly || e.Active()) {
			out = append(out, e)
		}
		if limit > 0 && len(out) >= limit {
			return errEnough
		}
		return nil
	}
	var err error
	switch {
	case contact != "":
		err = t.reverse(bByContact, key(contact, ""), 0, keep)
	case automationID != "":
		err = t.reverse(bByAuto, key(automationID, ""), 0, keep)
	default:
		err = t.reverse(bEnrollments, nil, 0, keep)
	}
	if errors.Is(err, errEnough) {
		err = nil
	}
	return out, err
}

// ActiveEnrollmentsOf implements engine.Tx: a cursor through the
// automation's enrollments, from after, that stops at limit active ones.
func (t *boltTx) ActiveEnrollmentsOf(automationID, after string, limit int) ([]*engine.Enrollment, error) {
	prefix := key(automationID, "")
	start := prefix
	if after != "" {
		start = append(key(automationID, after), 0)
	}
	var out []*engine.Enrollment
	cur := t.tx.Bucket(bByAuto).Cursor()
	for k, _ := cur.Seek(start); k != nil && bytes.HasPrefix(k, prefix) && (limit <= 0 || len(out) < limit); k, _ = cur.Next() {
		e, err := t.Enrollment(string(k[len(prefix):]))
		if err != nil {
			return nil, fmt.Errorf("store: automation index: %w", err)
		}
		if e.Active() && e.Automation == automationID {
			out = append(out, e)
		}
	}
	return out, nil
}

// errEnough stops a scan that has found what it needs.
var errEnough = errors.New("enough")

// activeEnrollments lists active enrollments, of one automation when given,
// newest first, from the active index.
func (t *boltTx) activeEnrollments(automationID string, limit int) ([]*engine.Enrollment, error) {
	var ids []string
	err := t.tx.Bucket(bActive).ForEach(func(k, v []byte) error {
		if i := bytes.IndexByte(k, 0); automationID == "" || (i >= 0 && string(k[i+1:]) == automationID) {
			ids = append(ids, string(v))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids))) // ids sort by creation time
	if limit > 0 && len(ids) > limit {
		ids = ids[:limit]
	}
	out := make([]*engine.Enrollment, 0, len(ids))
	for _, id := range ids {
		e, err := t.Enrollment(id)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// CountActive implements engine.Tx, from the counters PutEnrollment
// keeps (counts.go).
func (t *boltTx) CountActive() (map[string]int, error) {
	out := map[string]int{}
	prefix := key(string(countActive), "")
	cur := t.tx.Bucket(bCounts).Cursor()
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		if len(v) == 8 {
			out[string(k[len(prefix):])] = int(binary.BigEndian.Uint64(v))
		}
	}
	return out, nil
}

func timerKey(due time.Time, enrollment string) []byte {
	k := make([]byte, 8, 8+len(enrollment))
	binary.BigEndian.PutUint64(k, uint64(due.UnixNano()))
	return append(k, enrollment...)
}

// PutTimer implements engine.Tx; it counts the timers (counts.go).
func (t *boltTx) PutTimer(tm engine.Timer) error {
	k := timerKey(tm.Due, tm.Enrollment)
	if t.writable && t.tx.Bucket(bTimers).Get(k) == nil {
		if err := t.count(countTimers, 1); err != nil {
			return err
		}
	}
	if !t.writable {
		return errReadOnly
	}
	return t.bucket(bTimers).Put(k, encodeTimer(tm))
}

// DeleteTimer implements engine.Tx.
func (t *boltTx) DeleteTimer(tm engine.Timer) error {
	k := timerKey(tm.Due, tm.Enrollment)
	if t.writable && t.tx.Bucket(bTimers).Get(k) != nil {
		if err := t.count(countTimers, -1); err != nil {
			return err
		}
	}
	return t.del(bTimers, k)
}

// DueTimers implements engine.Tx: a cursor from the earliest key,
// stopping at the first timer not yet due.
func (t *boltTx) DueTimers(now time.Time, limit int) ([]engine.Timer, error) {
	var out []engine.Timer
	end := uint64(now.UnixNano())
	cur := t.tx.Bucket(bTimers).Cursor()
	for k, v := cur.First(); k != nil && len(out) < limit; k, v = cur.Next() {
		if binary.BigEndian.Uint64(k[:8]) > end {
			break
		}
		tm, err := decodeTimer(k, v)
		if err != nil {
			return nil, fmt.Errorf("store: decode timer: %w", err)
		}
		out = append(out, tm)
	}
	return out, nil
}

// HoldTimer implements engine.Tx.
func (t *boltTx) HoldTimer(tm engine.Timer) error {
	if err := t.DeleteTimer(tm); err != nil {
		return err
	}
	return t.put(bHeld, append(key(tm.Automation, ""), timerKey(tm.Due, tm.Enrollment)...), tm)
}

// ReleaseTimers implements engine.Tx.
func (t *boltTx) ReleaseTimers(automationID string) (int, error) {
	prefix := key(automationID, "")
	cur := t.tx.Bucket(bHeld).Cursor()
	var keys [][]byte
	var timers []engine.Timer
	for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
		var tm engine.Timer
		if err := decodeValue(v, &tm); err != nil {
			return 0, fmt.Errorf("store: decode held timer: %w", err)
		}
		keys, timers = append(keys, bytes.Clone(k)), append(timers, tm)
	}
	for i, k := range keys {
		if err := t.del(bHeld, k); err != nil {
			return 0, err
		}
		if err := t.PutTimer(timers[i]); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// Meta implements engine.Tx.
func (t *boltTx) Meta(k string) ([]byte, error) {
	v := t.tx.Bucket(bMeta).Get([]byte(k))
	if v == nil {
		return nil, fmt.Errorf("store: meta %q: %w", k, engine.ErrNotFound)
	}
	return bytes.Clone(v), nil
}

// PutMeta implements engine.Tx.
func (t *boltTx) PutMeta(k string, v []byte) error {
	if !t.writable {
		return errReadOnly
	}
	return t.tx.Bucket(bMeta).Put([]byte(k), v)
}

var (
	_ engine.Store = (*Bolt)(nil)
	_ engine.Tx    = (*boltTx)(nil)
)
