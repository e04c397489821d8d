package bolt_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/bolt"
)

// Writes that grow the data file well past its first size commit while a
// read transaction stays open: the file is mapped large enough from the
// start, so growing it does not wait for every reader to end (a CSV export
// or a slow scrape would otherwise hold up every webhook meanwhile).
func TestGrowingTheFileDoesNotWaitForReaders(t *testing.T) {
	s, err := bolt.Open(filepath.Join(t.TempDir(), "keyway.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	reading, release := make(chan struct{}), make(chan struct{})
	viewed := make(chan error, 1)
	go func() {
		viewed <- s.View(ctx, func(engine.Tx) error {
			close(reading)
			<-release
			return nil
		})
	}()
	<-reading
	defer func() {
		close(release)
		if err := <-viewed; err != nil {
			t.Error(err)
		}
	}()

	// 8 MiB of bodies that do not compress, in commits of 256 KiB: far
	// past the few pages a new file is mapped at otherwise.
	wrote := make(chan error, 1)
	go func() {
		for i := range 32 {
			err := s.Update(ctx, func(tx engine.Tx) error {
				for j := range 16 {
					raw := make([]byte, 8<<10)
					if _, err := rand.Read(raw); err != nil {
						return err
					}
					id := fmt.Sprintf("m%03d-%02d", i, j)
					m := &engine.Message{ID: id, Direction: engine.Inbound, Kind: engine.KindText,
						Contact: "+15550001111", From: "+15550001111", To: []string{"+15005550006"},
						Body: hex.EncodeToString(raw), Status: engine.StatusReceived, CreatedAt: time.Now()}
					if err := tx.PutMessage(m); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				wrote <- err
				return
			}
		}
		wrote <- nil
	}()
	select {
	case err := <-wrote:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the writes that grow the file waited for the open read transaction")
	}
}
