package bolt

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BucketStat is what one bucket of a data file holds: its keys, and the
// bytes of its pages in use and allocated.
type BucketStat struct {
	Name             string
	Keys             int
	InUse, Allocated int
}

// FileStats reads, read-only, the page statistics of each non-empty bucket
// of the data file at path (a file no process has open for writing).
func FileStats(path string) ([]BucketStat, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("bolt: stats of %s: %w", path, err)
	}
	defer db.Close()
	var out []BucketStat
	err = db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			st := b.Stats()
			if st.KeyN == 0 {
				return nil
			}
			out = append(out, BucketStat{
				Name: string(name), Keys: st.KeyN,
				InUse: st.LeafInuse + st.BranchInuse, Allocated: st.LeafAlloc + st.BranchAlloc,
			})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: stats of %s: %w", path, err)
	}
	return out, nil
}
