package bolt_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/keyway-sms/keyway/automation/engine"
)

// BenchmarkCommit measures durable commits per second as webhooks make
// them: each op is one small transaction (a message and a contact), at
// several concurrencies. "group" is this store's group commit; "batch" is
// bbolt's own DB.Batch with its default settings, for comparison. Compare
// ns/op between the two at the same concurrency.
func BenchmarkCommit(b *testing.B) {
	for _, conc := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("group/conc=%d", conc), func(b *testing.B) {
			s := open(b)
			var n atomic.Int64
			runParallel(b, conc, func() {
				i := n.Add(1)
				err := s.Update(context.Background(), func(tx engine.Tx) error {
					return writeOne(tx.PutMeta, i)
				})
				if err != nil {
					b.Error(err)
				}
			})
		})
		b.Run(fmt.Sprintf("batch/conc=%d", conc), func(b *testing.B) {
			db, err := bolt.Open(filepath.Join(b.TempDir(), "batch.db"), 0o600, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("meta")); return err }); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			runParallel(b, conc, func() {
				i := n.Add(1)
				err := db.Batch(func(tx *bolt.Tx) error {
					return writeOne(func(k string, v []byte) error { return tx.Bucket([]byte("meta")).Put([]byte(k), v) }, i)
				})
				if err != nil {
					b.Error(err)
				}
			})
		})
	}
}

func writeOne(put func(string, []byte) error, i int64) error {
	if err := put(fmt.Sprintf("msg:%012d", i), make([]byte, 600)); err != nil {
		return err
	}
	return put(fmt.Sprintf("contact:%012d", i), make([]byte, 300))
}

// runParallel runs fn b.N times spread over conc goroutines.
func runParallel(b *testing.B, conc int, fn func()) {
	var left atomic.Int64
	left.Store(int64(b.N))
	done := make(chan struct{})
	b.ResetTimer()
	for range conc {
		go func() {
			defer func() { done <- struct{}{} }()
			for left.Add(-1) >= 0 {
				fn()
			}
		}()
	}
	for range conc {
		<-done
	}
}
