package bolt_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/bolt"
)

// FileStats counts what a closed data file holds, per bucket.
func TestFileStatsCountsWhatIsStored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyway.db")
	s, err := bolt.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(context.Background(), func(tx engine.Tx) error {
		for i := range 25 {
			phone := fmt.Sprintf("+1202555%04d", i)
			if err := tx.PutContact(&engine.Contact{Phone: phone}); err != nil {
				return err
			}
		}
		return nil
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	stats, err := bolt.FileStats(path)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, st := range stats {
		if st.Keys == 0 || st.InUse <= 0 || st.Allocated < st.InUse {
			t.Errorf("bucket %s: %+v", st.Name, st)
		}
		if st.Name == "contacts" {
			found = true
			if st.Keys != 25 {
				t.Errorf("contacts: %d keys, want 25", st.Keys)
			}
		}
	}
	if !found {
		t.Errorf("no contacts bucket in %+v", stats)
	}
}
