// Package bolt implements engine.Store on bbolt, an
// embedded single-file database, with group commit: concurrent updates
// share one fsync.
package bolt

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Buckets, one per entity or index. Index keys join parts with a zero byte.
// Record values leave out what their key holds (a contact's phone, a
// message's or an enrollment's id; a timer keeps only kind, epoch and
// automation: timers.go), and reads fill it in from the key. Values written
// by an earlier keyway still hold it, and read the same.
var (
	bContacts    = []byte("contacts")      // phone → Contact
	bGroups      = []byte("groups")        // group 0 phone → nil
	bTags        = []byte("tags")          // tag 0 phone → nil
	bLeft        = []byte("left_groups")   // group 0 phone → nil, for the groups a contact left
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
	allBuckets   = [][]byte{bContacts, bGroups, bTags, bLeft, bMessages, bProviderIDs, bContactMsgs, bMsgCreated, bOutbox,
		bSendQueues, bSendDue, bSendLeases, bEnrollments, bActive, bByAuto, bByContact, bTimers, bHeld, bMeta,
		bCounts, bHandoffs, // counts.go
		bActivity,                                                  // activity.go
		bEvents, bEventBodies, bEventQueues, bEventDue, bEventDone} // events.go
)

// maxGroup bounds how many updates share one commit.
const maxGroup = 512

// lockWait is how long Open waits for another process to let go of the
// file: long enough for a restart whose old process is still closing it,
// short enough that a second `keyway serve` on the same file says so at once.
const lockWait = time.Second

// initialMmap is the size of address space bbolt maps the data file into
// from the start, whatever the file's size (mapped, not read: it is not
// memory in use). bbolt maps a new file small and maps it again, larger,
// each time the file outgrows the map, and to do so it waits for every
// open read transaction to end while every commit and every new read
// waits for it: under load a commit could stand for a slow reader for
// hundreds of milliseconds. With 1 GiB mapped at once, that happens again
// only past 1 GiB of data, once for each further GiB.
const initialMmap = 1 << 30

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
	// observe, when set, is told the wall time of each commit.
	observe atomic.Pointer[func(time.Duration)]
}

// ObserveCommits has observe told, from now on, the wall time of each
// commit of the one write goroutine: a group of updates run together,
// their page writes and the sync to disk. It is how long the updates
// that arrive meanwhile wait for the writer.
func (s *Bolt) ObserveCommits(observe func(time.Duration)) {
	s.observe.Store(&observe)
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
			return nil, fmt.Errorf("bolt: create folder %s: %w", dir, err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockWait, InitialMmapSize: initialMmap})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: open %s: %w (stop it first, or give this one another storage.path)", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		indexCreated := tx.Bucket(bMsgCreated) == nil
		countsCreated := tx.Bucket(bCounts) == nil
		eventLeasesCreated := tx.Bucket(bEventLeases) == nil
		tagsCreated := tx.Bucket(bTags) == nil
		leftCreated := tx.Bucket(bLeft) == nil
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
		if tagsCreated {
			if err := indexTags(t); err != nil {
				return err
			}
		}
		if leftCreated {
			if err := indexLeftGroups(t); err != nil {
				return err
			}
		}
		if err := releaseEventLeases(t, eventLeasesCreated); err != nil {
			return err
		}
		return releaseLeases(t)
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("bolt: create buckets in %s: %w", path, err)
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
		return errors.New("bolt: closed")
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
			return errors.New("bolt: closed")
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
		return errors.New("bolt: closed")
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
		return fmt.Errorf("bolt: no room for new data next to %s: %w", s.path, err)
	}
	if err := os.Remove(name); err != nil {
		return fmt.Errorf("bolt: remove %s: %w", name, err)
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

var (
	_ engine.Store = (*Bolt)(nil)
	_ engine.Tx    = (*boltTx)(nil)
)
