package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/bolt"
	"github.com/keyway-sms/keyway/automation/store/mem"
)

// post sends a multipart upload of file as the import form does.
func (d *dash) upload(file string) *http.Response {
	d.tg.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	w.WriteField("csrf", d.csrf)
	part, _ := w.CreateFormFile("file", "contacts.csv")
	part.Write([]byte(file))
	w.Close()
	req := httptest.NewRequest(http.MethodPost, "/admin/contacts/import", &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: d.cookie})
	res, err := d.tg.g.app.Test(req, -1)
	if err != nil {
		d.tg.t.Fatal(err)
	}
	return res
}

// Importing the contacts CSV is an admin's: staff neither see its link nor
// reach the import or its upload (with a good CSRF token). Staff see every
// contact, so they may download them. An admin user's upload says who
// uploaded it.
func TestContactsCSVImportIsForAdmins(t *testing.T) {
	tg := newGatewayWith(t, usersConfig(t))
	bob, _ := loginAs(tg, url.Values{"user": {"Bob"}, "password": {"bob's password"}})
	ann, _ := loginAs(tg, url.Values{"user": {"Ann"}, "password": {"ann's password"}})
	if bob.cookie == "" || ann.cookie == "" {
		t.Fatal("Ann or Bob could not log in")
	}
	if page := bob.get("/admin/contacts"); strings.Contains(page, "/admin/contacts/import") || !strings.Contains(page, `href="/admin/contacts.csv"`) {
		t.Error("staff see the import link, or not the download link")
	}
	if page := ann.get("/admin/contacts"); !strings.Contains(page, `href="/admin/contacts/import"`) || !strings.Contains(page, `href="/admin/contacts.csv"`) {
		t.Error("an admin does not see the CSV links")
	}
	file := "phone,name\n+15550100001,Cleo\n"
	if res := bob.do(http.MethodGet, "/admin/contacts/import", nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("staff GET the import: %d, want 403", res.StatusCode)
	}
	if res := bob.do(http.MethodGet, "/admin/contacts.csv", nil); res.StatusCode != http.StatusOK {
		t.Errorf("staff GET the download: %d, want 200", res.StatusCode)
	}
	if res := bob.upload(file); res.StatusCode != http.StatusForbidden {
		t.Errorf("staff upload: %d, want 403", res.StatusCode)
	}
	res := ann.upload(file)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("Ann's upload: %d %s", res.StatusCode, readBody(t, res))
	}
	loc := res.Header.Get("Location")
	if res := bob.do(http.MethodPost, loc+"/apply", url.Values{"csrf": {bob.csrf}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("staff apply: %d, want 403", res.StatusCode)
	}
	if page := text(ann.get(loc)); !strings.Contains(page, "uploaded") || !strings.Contains(page, "by Ann") || !strings.Contains(page, "New contacts 1") {
		t.Errorf("the preview:\n%s", page)
	}
}

// An upload kept in the store: its file reads back whole from its chunks;
// one process claims it to apply, another cannot while the claim stands,
// and may once it lapsed (the first process stopped), after which the
// first has lost it; applied, its chunks are gone. Past importJobs, the
// oldest uploads are forgotten, chunks and all.
func TestContactImportsInTheStore(t *testing.T) {
	ctx := t.Context()
	// bbolt: it keeps a value put until the commit, so a buffer reused
	// for the next chunk would overwrite the one before.
	st, err := bolt.Open(filepath.Join(t.TempDir(), "keyway.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	one, two := &contactImports{store: st, owner: "one"}, &contactImports{store: st, owner: "two"}
	var lines strings.Builder
	for i := 0; lines.Len() <= importChunk*(importChunksPerTx+1); i++ { // more chunks than one transaction takes
		fmt.Fprintf(&lines, "+1555%07d,Ann %d\n", i, i)
	}
	file := lines.String()
	path := filepath.Join(t.TempDir(), "up.csv")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	job := &contactImport{ID: "u1", File: "up.csv", By: "Ann", At: time.Now()}
	if err := one.keep(ctx, job, path); err != nil {
		t.Fatal(err)
	}
	got, err := two.get(ctx, "u1")
	if want := (len(file) + importChunk - 1) / importChunk; err != nil || got == nil || got.Chunks != want {
		t.Fatalf("the upload from the other process: %+v, %v; want %d chunks", got, err, want)
	}
	b, err := io.ReadAll(&importFile{ctx: ctx, store: st, job: got})
	if err != nil || string(b) != file {
		t.Fatalf("the file read back: %d bytes, %v; want %d", len(b), err, len(file))
	}

	if _, start, err := one.claim(ctx, "u1", "Ann"); err != nil || !start {
		t.Fatalf("first claim: %v, %v", start, err)
	}
	if _, start, _ := two.claim(ctx, "u1", "Bob"); start {
		t.Fatal("a second process claimed an upload being applied")
	}
	// The first process stops: its claim lapses unrenewed.
	err = st.Update(ctx, func(tx engine.Tx) error {
		j, err := readImportJob(tx, "u1")
		if err != nil {
			return err
		}
		j.Lease = time.Now().Add(-time.Second)
		return writeImportJob(tx, j)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := two.get(ctx, "u1"); !got.Stalled() {
		t.Fatal("a lapsed claim does not show as stalled")
	}
	j, start, err := two.claim(ctx, "u1", "Bob")
	if err != nil || !start || j.By != "Bob" {
		t.Fatalf("claim after the first lapsed: %v, %v, by %q", start, err, j.By)
	}
	if mine, err := one.report(ctx, job, importResult{Applied: 1}, false); err != nil || mine {
		t.Fatalf("the first process still thinks it applies the upload: %v, %v", mine, err)
	}
	if mine, err := two.report(ctx, job, importResult{Done: true, Applied: 3}, true); err != nil || !mine {
		t.Fatalf("the second process's last report: %v, %v", mine, err)
	}
	got, _ = one.get(ctx, "u1")
	if got.Applying || got.Result == nil || !got.Result.Done || got.Result.Applied != 3 || got.Chunks != 0 {
		t.Fatalf("after the apply: %+v", got)
	}
	err = st.View(ctx, func(tx engine.Tx) error {
		_, err := tx.Meta(importChunkKey("u1", 0))
		return err
	})
	if !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("a chunk of an applied upload: %v, want it gone", err)
	}

	small := filepath.Join(t.TempDir(), "small.csv")
	if err := os.WriteFile(small, []byte("phone\n+15550001111\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for i := range importJobs {
		if err := one.keep(ctx, &contactImport{ID: fmt.Sprintf("s%d", i), At: time.Now()}, small); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := one.get(ctx, "u1"); got != nil {
		t.Error("the oldest upload is kept past importJobs")
	}
	err = st.View(ctx, func(tx engine.Tx) error {
		_, err := tx.Meta(importChunkKey("s0", 0))
		return err
	})
	if err != nil {
		t.Errorf("a chunk of a kept upload: %v", err)
	}
}

// failingContactsStore is a store whose transactions fail at storing a
// contact, with an error that names the database's host, as a driver's
// does.
type failingContactsStore struct{ engine.Store }

var errNamesHost = errors.New(`failed to connect to user=keyway database=keyway: 10.1.2.3:5432: connection refused`)

func (s failingContactsStore) Update(ctx context.Context, fn func(engine.Tx) error) error {
	return s.Store.Update(ctx, func(tx engine.Tx) error { return fn(failingContactTx{tx}) })
}

type failingContactTx struct{ engine.Tx }

func (failingContactTx) PutContact(*engine.Contact) error { return errNamesHost }

// An apply that storage stops part way says so on the upload's page in
// plain words: the storage error, which may name the database's host,
// goes to the log only.
func TestContactsCSVApplyStoppedByStorageSaysSoPlainly(t *testing.T) {
	st := failingContactsStore{mem.NewMemStore()}
	g := devGateway(t, st, "")
	path := filepath.Join(t.TempDir(), "up.csv")
	if err := os.WriteFile(path, []byte("phone,name\n+15550100001,Cleo\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	job := &contactImport{ID: "u1", File: "up.csv", By: "Ann", At: time.Now()}
	if err := g.imports.keep(t.Context(), job, path); err != nil {
		t.Fatal(err)
	}
	job, start, err := g.imports.claim(t.Context(), "u1", "Ann")
	if err != nil || !start {
		t.Fatalf("claim: %v, %v", start, err)
	}
	g.applyImport(job)
	got, err := g.imports.get(t.Context(), "u1")
	if err != nil || got.Result == nil || !got.Result.Done {
		t.Fatalf("the upload after its apply: %+v, %v", got, err)
	}
	if e := got.Result.Error; e != importStopped || strings.Contains(e, "10.1.2.3") {
		t.Errorf("the upload's page says %q, want %q", e, importStopped)
	}
}
