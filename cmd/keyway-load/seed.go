package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/bolt"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"

	// The seed automations' steps run in the engine that makes the
	// prototype records.
	_ "github.com/keyway-sms/keyway/automation/steps"
)

// seedAutomations are appended to loadAutomations in a seeded keyway's
// config. A seeded contact with an even index wrote REMIND and waits at the
// wait step of remind; one with an odd index wrote SURVEY and waits for its
// answer at survey's wait_for_reply, whose timeout is a pending timer too.
// The replies end with a tag for the fake provider's counts: the contact's
// number, and the answer's last word.
const seedAutomations = `  - id: remind
    keywords: [REMIND]
    steps:
      - { type: wait, duration: 720h }
      - { type: reply, text: "Reminder for {{ contact.phone }}" }
  - id: survey
    keywords: [SURVEY]
    steps:
      - { type: wait_for_reply, timeout: 720h, save_as: answer }
      - { type: reply, text: "Thanks {{ message.body }}" }
`

// seedWait is the wait of both seed automations: a seeded timer is due
// this long after its contact wrote.
const seedWait = 720 * time.Hour

// seedConfig is the config of a keyway on a data folder that seed wrote:
// the load tool's, with the seed automations.
func seedConfig(listen, dir, apiBase string) string {
	return keywayConfig(listen, dir, apiBase, false) + seedAutomations
}

// seedPath is the data file under a seeded data folder.
func seedPath(dir string) string { return filepath.Join(dir, "data", "keyway.db") }

// seedPhone is the number of seeded contact i: +1415 2xx xxxx onwards,
// apart from the numbers the load itself writes from (+1555...).
func seedPhone(i int) string { return fmt.Sprintf("+1415%07d", 2000000+i) }

// seedKind is the automation seeded contact i waits in.
func seedKind(i int) string {
	if i%2 == 0 {
		return "remind"
	}
	return "survey"
}

// seedSID is the MessageSid of seeded contact i's message.
func seedSID(i int) string { return fmt.Sprintf("SMseed%026d", i) }

// twilioForm is what Twilio posts with an inbound SMS, as the provider stores
// it in Message.Fields: every field of the request.
func twilioForm(sid, from, body string) map[string]string {
	return map[string]string{
		"ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": "0", "ToCity": "",
		"FromZip": "94105", "SmsSid": sid, "FromState": "CA", "SmsStatus": "received", "FromCity": "SAN FRANCISCO",
		"Body": body, "FromCountry": "US", "To": ourNumber, "ToZip": "", "NumSegments": "1", "ReferralNumMedia": "0",
		"MessageSid": sid, "AccountSid": fakeAccountSID, "From": from, "ApiVersion": "2010-04-01",
	}
}

// prototype is what keyway stores for one contact that wrote one of the
// seed keywords: made by the real engine, then copied for every contact.
type prototype struct {
	Contact    engine.Contact
	Message    engine.Message
	Enrollment engine.Enrollment
	Timer      engine.Timer
}

// fixedClock is a clock that stands still, for the prototypes.
type fixedClock time.Time

// Now implements engine.Clock.
func (c fixedClock) Now() time.Time { return time.Time(c) }

// prototypes runs the engine on set over a store in memory and returns
// what one inbound REMIND and one inbound SURVEY leave stored.
func prototypes(ctx context.Context, set *engine.Set, now time.Time) (map[string]*prototype, error) {
	out := map[string]*prototype{}
	for i, keyword := range map[string]string{"remind": "REMIND", "survey": "SURVEY"} {
		st := mem.NewMemStore()
		eng := engine.New(st, set, engine.Options{Clock: fixedClock(now)})
		phone, sid := seedPhone(0), seedSID(0)
		if _, err := eng.HandleInbound(ctx, providers.Inbound{Provider: "twilio", ID: sid, Channel: config.ChannelSMS,
			From: phone, To: ourNumber, Body: keyword, Fields: twilioForm(sid, phone, keyword)}); err != nil {
			return nil, fmt.Errorf("seed: prototype %s: %w", i, err)
		}
		p := &prototype{}
		err := st.View(ctx, func(tx engine.Tx) error {
			c, err := tx.Contact(phone)
			if err != nil {
				return err
			}
			ms, err := tx.Messages(phone, 0)
			if err != nil {
				return err
			}
			ens, err := tx.ActiveEnrollments(phone)
			if err != nil {
				return err
			}
			ts, err := tx.DueTimers(now.Add(10*seedWait), 10)
			if err != nil {
				return err
			}
			if len(ms) != 1 || len(ens) != 1 || len(ts) != 1 {
				return fmt.Errorf("%d messages, %d active enrollments and %d timers stored, want one of each", len(ms), len(ens), len(ts))
			}
			if ens[0].Automation != i || !(ens[0].Status == engine.EnrollmentWaiting || ens[0].Status == engine.EnrollmentWaitingReply) {
				return fmt.Errorf("the enrollment is %s in %q, want waiting in %q", ens[0].Status, ens[0].Automation, i)
			}
			p.Contact, p.Message, p.Enrollment, p.Timer = *c, *ms[0], *ens[0], ts[0]
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("seed: prototype %s: %w", i, err)
		}
		if p.Message.ID == "" {
			return nil, fmt.Errorf("seed: prototype %s: the stored message has no id", i)
		}
		out[i] = p
	}
	return out, nil
}

// seedID makes an id as the engine does (16 hex digits of nanoseconds, 6
// random ones), so that ids sort by time.
func seedID(t time.Time) string {
	var r [3]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%016x%s", t.UnixNano(), hex.EncodeToString(r[:]))
}

// records are seeded contact i's records: its prototype's, with its number,
// ids and times. It wrote at at; its timer is due at due.
func (p *prototype) records(i int, at, due time.Time) (*engine.Contact, *engine.Message, *engine.Enrollment, engine.Timer) {
	phone, sid := seedPhone(i), seedSID(i)
	c := p.Contact
	c.Phone, c.CreatedAt, c.UpdatedAt = phone, at, at
	c.LastTo = maps.Clone(p.Contact.LastTo)
	c.LastInbound = map[string]time.Time{}
	for ch := range p.Contact.LastInbound {
		c.LastInbound[ch] = at
	}

	m := p.Message
	m.ID, m.ProviderID, m.Contact, m.From, m.CreatedAt, m.UpdatedAt = seedID(at), sid, phone, phone, at, at
	m.Fields = maps.Clone(p.Message.Fields)
	for _, k := range []string{"MessageSid", "SmsSid", "SmsMessageSid"} {
		m.Fields[k] = sid
	}
	m.Fields["From"] = phone

	en := p.Enrollment
	en.ID, en.Contact, en.Trigger, en.StartedAt, en.UpdatedAt = seedID(at.Add(time.Nanosecond)), phone, m.ID, at, at
	en.WaitUntil = &due
	en.Vars, en.HTTP = maps.Clone(p.Enrollment.Vars), maps.Clone(p.Enrollment.HTTP)
	if m.Enrollment != "" {
		m.Enrollment = en.ID
	}

	tm := p.Timer
	tm.Due, tm.Enrollment = due, en.ID
	return &c, &m, &en, tm
}

// seedOptions say what to seed.
type seedOptions struct {
	Dir      string // data folder: keyway.yaml and data/keyway.db
	Contacts int
	Overdue  int // the first this many contacts' timers are due already
	Batch    int // contacts per transaction
	Listen   string
	APIBase  string
}

// seed writes opts.Dir/keyway.yaml and fills opts.Dir/data/keyway.db with
// opts.Contacts contacts, each with its inbound message and an active
// enrollment waiting at a timer, through the bbolt store itself, in big
// transactions with keys in increasing order. It refuses a folder that
// holds a data file already.
func seed(ctx context.Context, opts seedOptions, out io.Writer) error {
	if opts.Contacts < 1 || opts.Batch < 1 || opts.Overdue < 0 {
		return errors.New("seed: --contacts and --batch must be at least 1, --overdue at least 0")
	}
	// The config names the data file: a relative path would be read from
	// wherever keyway runs.
	var err error
	if opts.Dir, err = filepath.Abs(opts.Dir); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	path := seedPath(opts.Dir)
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("seed: %s exists already: seed an empty folder", path)
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	cfgPath := filepath.Join(opts.Dir, "keyway.yaml")
	if err := os.WriteFile(cfgPath, []byte(seedConfig(opts.Listen, opts.Dir, opts.APIBase)), 0o600); err != nil {
		return fmt.Errorf("seed: write config: %w", err)
	}
	_, set, problems := engine.Load(cfgPath)
	if set == nil {
		return fmt.Errorf("seed: %s: %v", cfgPath, problems.Errors())
	}
	// Contact i wrote at start + i ms: ids, times and timers sort with i.
	now := time.Now().UTC()
	start := now.Add(-time.Duration(opts.Contacts) * time.Millisecond)
	protos, err := prototypes(ctx, set, start)
	if err != nil {
		return err
	}
	for i := range min(opts.Contacts, 2) {
		if p := seedPhone(i); config.KindOf(p) != config.AddressPhone {
			return fmt.Errorf("seed: %s is not a phone number", p)
		}
		if n, err := config.E164(seedPhone(i), "US"); err != nil || n != seedPhone(i) {
			return fmt.Errorf("seed: %s does not read back as itself (%q, %v)", seedPhone(i), n, err)
		}
	}
	st, err := bolt.Open(path)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	began := time.Now()
	for from := 0; from < opts.Contacts; from += opts.Batch {
		to := min(from+opts.Batch, opts.Contacts)
		err := st.Update(ctx, func(tx engine.Tx) error {
			for i := from; i < to; i++ {
				at := start.Add(time.Duration(i) * time.Millisecond)
				due := at.Add(seedWait)
				if i < opts.Overdue {
					due = now.Add(-time.Duration(opts.Overdue-i) * time.Millisecond)
				}
				c, m, en, tm := protos[seedKind(i)].records(i, at, due)
				if err := tx.PutContact(c); err != nil {
					return err
				}
				if err := tx.PutMessage(m); err != nil {
					return err
				}
				if err := tx.PutEnrollment(en); err != nil {
					return err
				}
				if err := tx.PutTimer(tm); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			st.Close()
			return fmt.Errorf("seed: contacts %d to %d: %w", from, to-1, err)
		}
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(out, "seeded %d contacts, each with an inbound message and an enrollment waiting at a timer (%d overdue), in %v: %s, %s (%.0f bytes per contact); config %s\n",
		opts.Contacts, min(opts.Overdue, opts.Contacts), time.Since(began).Round(10*time.Millisecond), path, mib(fi.Size()), float64(fi.Size())/float64(opts.Contacts), cfgPath)
	return bucketStats(path, opts.Contacts, out)
}

// bucketStats prints, per bucket of the data file at path, its keys, the
// bytes its pages hold in use and allocated, and both per contact.
func bucketStats(path string, contacts int, out io.Writer) error {
	stats, err := bolt.FileStats(path)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	fmt.Fprintf(out, "%-14s %9s %12s %12s %6s %9s %9s\n", "bucket", "keys", "in use", "allocated", "fill", "use/ct", "alloc/ct")
	var use, alloc int
	for _, st := range stats {
		use, alloc = use+st.InUse, alloc+st.Allocated
		fmt.Fprintf(out, "%-14s %9d %12d %12d %6.2f %9.0f %9.0f\n", st.Name, st.Keys, st.InUse, st.Allocated,
			float64(st.InUse)/float64(max(st.Allocated, 1)), float64(st.InUse)/float64(contacts), float64(st.Allocated)/float64(contacts))
	}
	fmt.Fprintf(out, "%-14s %9s %12d %12d %6.2f %9.0f %9.0f\n", "all", "", use, alloc, float64(use)/float64(max(alloc, 1)),
		float64(use)/float64(contacts), float64(alloc)/float64(contacts))
	return nil
}

// mib formats a byte count in MiB.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// runSeed is the seed subcommand.
func runSeed(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("keyway-load seed", flag.ContinueOnError)
	var o seedOptions
	fs.StringVar(&o.Dir, "data", "./keyway-seed", "data `folder` to create: keyway.yaml and data/keyway.db")
	fs.IntVar(&o.Contacts, "contacts", 1000000, "contacts to seed, each with one inbound message and one waiting enrollment")
	fs.IntVar(&o.Overdue, "overdue", 0, "how many of them have a timer due already (it fires when keyway starts)")
	fs.IntVar(&o.Batch, "batch", 20000, "contacts per transaction")
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:8080", "server.listen `address` in the config written")
	fakeListen := fs.String("fake-listen", "127.0.0.1:18080", "`address` of the fake Twilio API in the config written (see startup)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.APIBase = "http://" + *fakeListen
	return seed(ctx, o, out)
}
