package hangup

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// A SIGHUP that comes before main runs is held in C, not the end of the
// process: the package asked for it in its init. (Without that, this test
// binary would die of the signal.)
func TestSIGHUPFromTheStartIsHeld(t *testing.T) {
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	select {
	case sig := <-C:
		if sig != syscall.SIGHUP {
			t.Errorf("got %v, want SIGHUP", sig)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the SIGHUP never reached C")
	}
}
