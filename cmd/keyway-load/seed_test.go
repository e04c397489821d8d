package main

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/bolt"
)

// TestSeed seeds 1,000 contacts, checks what is stored, then starts keyway
// on the data: it gets ready, fires the waits that are due (the remind
// ones send), continues a waiting contact that answers, and the startup
// measurement runs on it.
func TestSeed(t *testing.T) {
	bin, _ := built(t)
	ctx := context.Background()
	dir := t.TempDir()
	fake, err := startFake("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer fake.Close()

	data := filepath.Join(dir, "seed")
	var out bytes.Buffer
	const contacts, overdue = 1000, 4
	if err := seed(ctx, seedOptions{Dir: data, Contacts: contacts, Overdue: overdue, Batch: 300, Listen: "127.0.0.1:0", APIBase: fake.URL()}, &out); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`seeded 1000 contacts, .*\(4 overdue\)`).MatchString(out.String()) {
		t.Errorf("seed says %q", out.String())
	}
	if err := seed(ctx, seedOptions{Dir: data, Contacts: 10, Batch: 10}, &out); err == nil {
		t.Error("seeding a folder with a data file again: no error")
	}

	st, err := bolt.Open(seedPath(data))
	if err != nil {
		t.Fatal(err)
	}
	err = st.View(ctx, func(tx engine.Tx) error {
		cs, err := tx.ContactsPage("", 0)
		if err != nil {
			return err
		}
		if len(cs) != contacts {
			t.Errorf("%d contacts stored, want %d", len(cs), contacts)
		}
		active, err := tx.CountActive()
		if err != nil {
			return err
		}
		if active["remind"] != contacts/2 || active["survey"] != contacts/2 {
			t.Errorf("active enrollments %v, want %d in remind and in survey", active, contacts/2)
		}
		due, err := tx.DueTimers(time.Now(), contacts)
		if err != nil {
			return err
		}
		all, err := tx.DueTimers(time.Now().Add(2*seedWait), 2*contacts)
		if err != nil {
			return err
		}
		if len(due) != overdue || len(all) != contacts {
			t.Errorf("%d timers due, %d in all; want %d and %d", len(due), len(all), overdue, contacts)
		}
		ms, err := tx.Messages(seedPhone(7), 0)
		if err != nil {
			return err
		}
		if len(ms) != 1 || ms[0].Body != "SURVEY" || ms[0].ProviderID != seedSID(7) || ms[0].Fields["MessageSid"] != seedSID(7) {
			t.Errorf("contact 7's messages: %+v", ms)
		}
		en, err := tx.ActiveEnrollment(seedPhone(7), "survey")
		if err != nil {
			return err
		}
		if en.Status != engine.EnrollmentWaitingReply || en.Trigger != ms[0].ID || en.WaitUntil == nil {
			t.Errorf("contact 7's enrollment: %+v", en)
		}
		return nil
	})
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	p, err := startProcess(data, bin, "serve", "--config", filepath.Join(data, "keyway.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.stop()
	if err := p.waitReady(time.Minute, func(out []byte) string {
		if m := listening.FindSubmatch(out); m != nil {
			return "http://" + string(m[1])
		}
		return ""
	}, "/readyz"); err != nil {
		t.Fatal(err)
	}
	// Contacts 0 and 2 wait in remind, overdue: each gets its reminder.
	// Contact 5 waits in survey and answers.
	if err := postOK(ctx, http.DefaultClient, p.URL, seedPhone(5), "SMtestanswer", "yes SMtestanswer"); err != nil {
		t.Fatal(err)
	}
	want := map[sendKey]bool{
		{Tag: seedPhone(0), To: seedPhone(0)}:   true,
		{Tag: seedPhone(2), To: seedPhone(2)}:   true,
		{Tag: "SMtestanswer", To: seedPhone(5)}: true,
	}
	if err := waitSends(ctx, fake, want, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	if counts, _ := fake.Snapshot(); len(counts) != len(want) {
		t.Errorf("sends %v, want only %v", counts, want)
	}

	out.Reset()
	if err := runStartup(ctx, []string{"--keyway", bin, "--data", data, "--webhooks", "3", "--runs", "2", "--from", "100", "--patience", "1m"}, &out); err != nil {
		t.Fatalf("startup: %v\n%s", err, out.String())
	}
	if !regexp.MustCompile(`run 2: ready in .* \(warm\); RSS .* MiB when ready, .* after 6 webhooks`).MatchString(out.String()) ||
		!regexp.MustCompile(`medians of 2: ready `).MatchString(out.String()) {
		t.Errorf("startup says:\n%s", out.String())
	}
}
