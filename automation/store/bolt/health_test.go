//go:build linux

package bolt_test

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/bolt"
)

// fsizeChild names the data folder of the child process that runs
// TestHealthFollowsCommits under a file size limit.
const fsizeChild = "KEYWAY_STORE_FSIZE_CHILD"

// A commit that cannot grow the file (here: a file size limit, as a full
// disk would) makes the store unhealthy, with the reason; it is healthy
// again by itself once the file can grow. The limit applies to the whole
// process, so the test runs in a child process of its own.
func TestHealthFollowsCommits(t *testing.T) {
	dir := os.Getenv(fsizeChild)
	if dir == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHealthFollowsCommits$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), fsizeChild+"="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestHealthFollowsCommits") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	signal.Ignore(syscall.SIGXFSZ) // a write past the limit fails with EFBIG instead of killing us
	path := filepath.Join(dir, "keyway.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	put := func(n int) error {
		return s.Update(ctx, func(tx engine.Tx) error { return tx.PutMeta("big", make([]byte, n)) })
	}
	if err := put(10); err != nil {
		t.Fatal(err)
	}
	if err := s.Healthy(ctx); err != nil {
		t.Fatalf("Healthy after a commit: %v", err)
	}

	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	// No write may reach past 512 KiB of any file: a commit that needs
	// new pages fails, whatever room bbolt grew the file by ahead of
	// need, and so does the probe's 1 MiB file beside it.
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &syscall.Rlimit{Cur: 512 << 10, Max: old.Max}); err != nil {
		t.Fatal(err)
	}
	if err := put(1 << 20); err == nil {
		t.Fatal("a commit that grows the file past the limit succeeded")
	}
	if err := s.Healthy(ctx); err == nil || !strings.Contains(err.Error(), "file too large") {
		t.Fatalf("Healthy after a failed commit: %v, want the reason", err)
	}
	_ = put(10) // may well succeed: bbolt reuses freed pages
	if err := s.Healthy(ctx); err == nil {
		t.Fatal("healthy after a small commit although a commit that grows the file still fails")
	}

	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	// The store probes at most once a second: poll until it has.
	deadline := time.After(10 * time.Second)
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for s.Healthy(ctx) != nil {
		select {
		case <-deadline:
			t.Fatalf("still unhealthy 10s after the limit was lifted: %v", s.Healthy(ctx))
		case <-poll.C:
		}
	}
	if err := put(1 << 20); err != nil {
		t.Fatalf("a commit that grows the file once healthy: %v", err)
	}
}
