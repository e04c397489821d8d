package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// readImportJob reads the upload with id, nil when there is none.
func readImportJob(tx engine.MetaStore, id string) (*contactImport, error) {
	raw, err := tx.Meta(importKey(id))
	if errors.Is(err, engine.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gateway: read upload %s: %w", id, err)
	}
	var j contactImport
	if err := json.Unmarshal(raw, &j); err != nil {
		return nil, fmt.Errorf("gateway: decode upload %s: %w", id, err)
	}
	return &j, nil
}

func writeImportJob(tx engine.MetaStore, j *contactImport) error {
	raw, err := json.Marshal(j)
	if err != nil {
		return fmt.Errorf("gateway: encode upload %s: %w", j.ID, err)
	}
	if err := tx.PutMeta(importKey(j.ID), raw); err != nil {
		return fmt.Errorf("gateway: store upload %s: %w", j.ID, err)
	}
	return nil
}

// dropImport removes an upload, its chunks and its place in the index.
func dropImport(tx engine.MetaStore, e importEntry) error {
	for n := range e.Chunks {
		if err := tx.DeleteMeta(importChunkKey(e.ID, n)); err != nil {
			return err
		}
	}
	return tx.DeleteMeta(importKey(e.ID))
}

// get returns the upload with id, nil when there is none (or it expired).
func (ci *contactImports) get(ctx context.Context, id string) (*contactImport, error) {
	var j *contactImport
	err := ci.store.View(ctx, func(tx engine.Tx) error {
		var err error
		j, err = readImportJob(tx, id)
		return err
	})
	if err != nil || j == nil || j.expired(time.Now()) {
		return nil, err
	}
	return j, nil
}

// keep stores job with the file spooled at path, a few chunks a
// transaction, then the upload itself and its place in the index. Uploads
// past keeping, and the oldest beyond importJobs, are forgotten, unless
// being applied.
func (ci *contactImports) keep(ctx context.Context, job *contactImport, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("gateway: store upload: %w", err)
	}
	defer f.Close()
	for done := false; !done; {
		// The chunks are read before the transaction: its function may
		// run again (a group commit that one of its other updates
		// failed), and must then write the same chunks at the same keys.
		var chunks [][]byte
		for len(chunks) < importChunksPerTx && !done {
			buf := make([]byte, importChunk)
			n, err := io.ReadFull(f, buf)
			if n > 0 {
				chunks = append(chunks, buf[:n])
			}
			switch {
			case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
				done = true
			case err != nil:
				return fmt.Errorf("gateway: store upload %s: %w", job.ID, err)
			}
		}
		first := job.Chunks
		err := ci.store.Update(ctx, func(tx engine.Tx) error {
			for i, c := range chunks {
				if err := tx.PutMeta(importChunkKey(job.ID, first+i), c); err != nil {
					return fmt.Errorf("gateway: store upload %s: %w", job.ID, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		job.Chunks += len(chunks)
	}
	now := time.Now()
	return ci.store.Update(ctx, func(tx engine.Tx) error {
		var index []importEntry
		if _, err := getJSON(tx, importsKey, &index); err != nil {
			return err
		}
		kept := []importEntry{}
		for i, e := range index {
			j, err := readImportJob(tx, e.ID)
			if err != nil {
				return err
			}
			if j != nil && !j.expired(now) && (len(index)-i < importJobs || (j.Applying && now.Before(j.Lease))) {
				kept = append(kept, importEntry{ID: e.ID, At: e.At, Chunks: j.Chunks})
				continue
			}
			if err := dropImport(tx, e); err != nil {
				return fmt.Errorf("gateway: forget upload %s: %w", e.ID, err)
			}
		}
		if err := writeImportJob(tx, job); err != nil {
			return err
		}
		return putJSON(tx, importsKey, append(kept, importEntry{ID: job.ID, At: job.At, Chunks: job.Chunks}))
	})
}

// claim takes the upload with id to apply it, for by, unless it is being
// applied or was: it returns the upload and whether this process now
// applies it. An upload whose applying process stopped midway may be
// claimed again.
func (ci *contactImports) claim(ctx context.Context, id, by string) (*contactImport, bool, error) {
	var job *contactImport
	start := false
	err := ci.store.Update(ctx, func(tx engine.Tx) error {
		var err error
		start = false
		if job, err = readImportJob(tx, id); err != nil || job == nil || job.expired(time.Now()) {
			job = nil
			return err
		}
		if job.Preview.Header != "" || (job.Result != nil && !job.Stalled()) {
			return nil
		}
		start = true
		job.Applying, job.Owner, job.Lease, job.Result, job.By = true, ci.owner, time.Now().Add(importLease), &importResult{}, by
		return writeImportJob(tx, job)
	})
	return job, start, err
}

// report stores how applying job goes, and renews this process's claim;
// it reports false when the claim was lost (it lapsed, and another
// process took the upload over): the work is then the other's.
func (ci *contactImports) report(ctx context.Context, job *contactImport, r importResult, last bool) (bool, error) {
	mine := false
	err := ci.store.Update(ctx, func(tx engine.Tx) error {
		stored, err := readImportJob(tx, job.ID)
		if err != nil || stored == nil || stored.Owner != ci.owner || !stored.Applying {
			return err
		}
		mine = true
		stored.Result, stored.Lease = &r, time.Now().Add(importLease)
		if last {
			stored.Applying = false
			if r.Error == "" { // the file is no longer needed
				for n := range stored.Chunks {
					if err := tx.DeleteMeta(importChunkKey(stored.ID, n)); err != nil {
						return err
					}
				}
				stored.Chunks = 0
			}
		}
		return writeImportJob(tx, stored)
	})
	return mine, err
}

// importFile reads a stored upload's file, a chunk (a read transaction)
// at a time.
type importFile struct {
	ctx   context.Context
	store engine.Store
	job   *contactImport
	next  int
	buf   []byte
}

func (f *importFile) Read(p []byte) (int, error) {
	for len(f.buf) == 0 {
		if f.next >= f.job.Chunks {
			return 0, io.EOF
		}
		err := f.store.View(f.ctx, func(tx engine.Tx) error {
			var err error
			f.buf, err = tx.Meta(importChunkKey(f.job.ID, f.next))
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("gateway: read upload %s chunk %d: %w", f.job.ID, f.next, err)
		}
		f.next++
	}
	n := copy(p, f.buf)
	f.buf = f.buf[n:]
	return n, nil
}

// getJSON decodes the Meta value at key into v; it reports false when
// there is none.
func getJSON(tx engine.MetaStore, key string, v any) (bool, error) {
	raw, err := tx.Meta(key)
	if errors.Is(err, engine.ErrNotFound) || (err == nil && len(raw) == 0) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("gateway: read %s: %w", key, err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return false, fmt.Errorf("gateway: decode %s: %w", key, err)
	}
	return true, nil
}

func putJSON(tx engine.MetaStore, key string, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("gateway: encode %s: %w", key, err)
	}
	if err := tx.PutMeta(key, raw); err != nil {
		return fmt.Errorf("gateway: store %s: %w", key, err)
	}
	return nil
}
