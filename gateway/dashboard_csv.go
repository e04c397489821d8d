package gateway

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

const (
	// importMaxBody caps an uploaded contacts CSV: about a million rows of
	// a phone, a name and a few fields.
	importMaxBody = 64 << 20
	// importPath is where the upload form posts.
	importPath = "/admin/contacts/import"
	// importBatch is how many rows an import reads, and applies, per
	// transaction: a commit stays short however long the file.
	importBatch = 250
	// importShow is how many changes, and importShowProblems how many bad
	// rows, a preview or a result lists; it counts them all.
	importShow         = 100
	importShowProblems = 500
	// importKeep is how long an upload waits to be applied; importJobs how
	// many are kept at once.
	importKeep = 2 * time.Hour
	importJobs = 20
)

// contactImports are the uploads waiting to be applied, being applied or
// just applied, kept in memory (a restart forgets them; their rows,
// applied or not, are then uploaded again).
type contactImports struct {
	mu   sync.Mutex
	jobs map[string]*contactImport
}

// contactImport is one upload: spooled to a temporary file, read once for
// its preview and once more to apply it, never held in memory whole.
type contactImport struct {
	ID      string
	File    string // the uploaded file's name
	path    string // the spooled copy
	By      string
	At      time.Time
	Preview importPreview

	// Set while and once it is applied, under contactImports.mu.
	Applying bool
	Result   *importResult
}

// importPreview is what an upload would change.
type importPreview struct {
	Header                                   string // what is wrong with the header: nothing can be applied
	Rows, New, Changed, Unchanged, Bad       int
	Names, Groups, Tags, Fields, Outs, Backs int // rows that change each
	Changes                                  []importChange
	Problems                                 []csvProblem
}

// importChange is one row's change, as a preview lists it.
type importChange struct {
	Line  int
	Phone string
	New   bool
	What  []string
}

// importResult is what applying an upload did, so far while it runs.
type importResult struct {
	Done                        bool
	Error                       string
	Rows, Applied, Created, Bad int
	Problems                    []csvProblem
	Finished                    time.Time
}

func (ci *contactImports) get(id string) *contactImport {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	return ci.jobs[id]
}

// add keeps job, forgetting (and removing the files of) uploads older than
// importKeep, and the oldest beyond importJobs, unless being applied.
func (ci *contactImports) add(job *contactImport) {
	ci.mu.Lock()
	defer ci.mu.Unlock()
	if ci.jobs == nil {
		ci.jobs = map[string]*contactImport{}
	}
	for id, j := range ci.jobs {
		if !j.Applying && (time.Since(j.At) > importKeep || len(ci.jobs) >= importJobs) {
			os.Remove(j.path)
			delete(ci.jobs, id)
		}
	}
	ci.jobs[job.ID] = job
}

// dashImportForm answers GET /admin/contacts/import: the upload form.
func (g *Gateway) dashImportForm(c *fiber.Ctx) error {
	return g.render(c, "import", "Import contacts", map[string]any{"Fields": g.engine.Set().Config.Fields, "Problem": ""})
}

// dashImportUpload answers the upload: the file is spooled to a temporary
// file and read once for the preview, then the browser goes to it.
func (g *Gateway) dashImportUpload(c *fiber.Ctx) error {
	fh, err := c.FormFile("file")
	if err != nil {
		c.Status(fiber.StatusBadRequest)
		return g.render(c, "import", "Import contacts", map[string]any{"Fields": g.engine.Set().Config.Fields, "Problem": "Choose a CSV file to upload."})
	}
	src, err := fh.Open()
	if err != nil {
		return fmt.Errorf("gateway: import: open the upload: %w", err)
	}
	defer src.Close()
	spool, err := os.CreateTemp("", "keyway-import-*.csv")
	if err != nil {
		return fmt.Errorf("gateway: import: spool the upload: %w", err)
	}
	if _, err := io.Copy(spool, io.LimitReader(src, importMaxBody)); err != nil {
		spool.Close()
		os.Remove(spool.Name())
		return fmt.Errorf("gateway: import: spool the upload: %w", err)
	}
	if err := spool.Close(); err != nil {
		os.Remove(spool.Name())
		return fmt.Errorf("gateway: import: spool the upload: %w", err)
	}
	by := actor(c).Name
	job := &contactImport{ID: randomID()[:24], File: fh.Filename, path: spool.Name(), By: by, At: time.Now()}
	job.Preview, err = g.previewImport(c.UserContext(), job.path)
	if err != nil {
		os.Remove(job.path)
		return fmt.Errorf("gateway: import: preview: %w", err)
	}
	g.imports.add(job)
	g.log.Info().Str("by", by).Int("rows", job.Preview.Rows).Int("bad", job.Preview.Bad).Msg("dashboard: contacts CSV uploaded for a preview")
	return c.Redirect(importPath+"/"+job.ID, fiber.StatusSeeOther)
}

// readImport reads the spooled CSV at path in one streaming pass, handing
// fn each batch of good rows and each bad row to bad as they come; the
// header's problem, if any, is returned as header, and no row is read.
func (g *Gateway) readImport(path string, batch func([]csvRow) error, bad func(csvProblem)) (header string, rows int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	cfg := g.engine.Set().Config
	r := csvReader(bufio.NewReader(f))
	head, err := r.Read()
	if errors.Is(err, io.EOF) {
		return "The file is empty: its first row names the columns (phone, name, groups, tags, opted_out, fields).", 0, nil
	}
	if err != nil {
		return "line 1: not CSV: " + err.Error(), 0, nil
	}
	cols, err := readCSVHeader(head, cfg)
	if err != nil {
		return err.Error(), 0, nil
	}
	address := g.csvPhone
	var good []csvRow
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			var perr *csv.ParseError
			if !errors.As(err, &perr) {
				return "", rows, err
			}
			rows++
			bad(csvProblem{Line: perr.StartLine, Reason: "not CSV: " + perr.Err.Error()})
			continue
		}
		if len(rec) == 1 && rec[0] == "" {
			continue // a blank line
		}
		rows++
		row, problem := parseCSVRow(cols, rec, line, cfg, address)
		if problem != nil {
			bad(*problem)
			continue
		}
		good = append(good, row)
		if len(good) == importBatch {
			if err := batch(good); err != nil {
				return "", rows, err
			}
			good = good[:0]
		}
	}
	if len(good) > 0 {
		if err := batch(good); err != nil {
			return "", rows, err
		}
	}
	return "", rows, nil
}

// previewImport reads the spooled CSV at path and says what it would
// change: each batch of rows is compared with the contacts stored, read
// in one transaction a batch.
func (g *Gateway) previewImport(ctx context.Context, path string) (importPreview, error) {
	var p importPreview
	bad := func(pr csvProblem) {
		p.Bad++
		if len(p.Problems) < importShowProblems {
			p.Problems = append(p.Problems, pr)
		}
	}
	header, rows, err := g.readImport(path, func(batch []csvRow) error {
		olds := make([]*engine.Contact, len(batch))
		err := g.view(ctx, func(tx adminTx) error {
			for i, row := range batch {
				c, err := tx.Contact(row.Change.Phone)
				switch {
				case errors.Is(err, engine.ErrNotFound):
					c = nil
				case err != nil:
					return err
				}
				olds[i] = c
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i, row := range batch {
			old, u := olds[i], row.Change.Update
			if old != nil && u.OptedOut != nil && !*u.OptedOut && old.OptedOut && !old.OptedOutByAdmin {
				bad(csvProblem{Line: row.Line, Phone: row.Change.Phone, Reason: "opted_out false for a contact that opted out itself: an import does not opt it back in (the admin API can, with force and a reason)"})
				continue
			}
			what := csvDiff(old, u)
			switch {
			case old == nil:
				p.New++
			case len(what) == 0:
				p.Unchanged++
				continue
			default:
				p.Changed++
			}
			g.countChanges(&p, old, u)
			if len(p.Changes) < importShow {
				p.Changes = append(p.Changes, importChange{Line: row.Line, Phone: row.Change.Phone, New: old == nil, What: what})
			}
		}
		return nil
	}, bad)
	p.Header, p.Rows = header, rows
	sortProblems(p.Problems)
	return p, err
}

// countChanges counts what a row changes of a stored contact (old nil: a
// new one, whose opt-out alone counts).
func (g *Gateway) countChanges(p *importPreview, old *engine.Contact, u engine.ContactUpdate) {
	if old == nil {
		if u.OptedOut != nil && *u.OptedOut {
			p.Outs++
		}
		return
	}
	for _, line := range csvDiff(old, u) {
		switch {
		case line == "opted out":
			p.Outs++
		case line == "opted back in":
			p.Backs++
		case len(line) > 6 && line[:6] == "name: ":
			p.Names++
		case len(line) > 8 && line[:8] == "groups: ":
			p.Groups++
		case len(line) > 6 && line[:6] == "tags: ":
			p.Tags++
		default:
			p.Fields++
		}
	}
}

// dashImport answers GET /admin/contacts/import/{id}: the preview of an
// upload, or how applying it goes (the page reloads itself meanwhile).
func (g *Gateway) dashImport(c *fiber.Ctx) error {
	job := g.imports.get(c.Params("id"))
	if job == nil {
		c.Status(fiber.StatusNotFound)
		return g.render(c, "import", "Import contacts", map[string]any{"Fields": g.engine.Set().Config.Fields,
			"Problem": "That upload is gone (uploads wait " + importKeep.String() + ", and a restart forgets them): upload the file again. Rows applied before stay applied, and applying them again is safe."})
	}
	g.imports.mu.Lock()
	view := *job
	if job.Result != nil {
		r := *job.Result
		view.Result = &r
	}
	g.imports.mu.Unlock()
	title := "Import preview"
	switch {
	case view.Result != nil && view.Result.Done:
		title = "Import applied"
	case view.Applying:
		title = "Importing…"
	}
	return g.render(c, "importjob", title, &view)
}

// dashImportApply starts applying an upload, once, and sends the browser
// to its page.
func (g *Gateway) dashImportApply(c *fiber.Ctx) error {
	job := g.imports.get(c.Params("id"))
	if job == nil {
		return fiber.NewError(fiber.StatusNotFound, "no such upload: upload the file again")
	}
	if job.Preview.Header != "" {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "this upload cannot be applied: "+job.Preview.Header)
	}
	by := actor(c).Name
	g.imports.mu.Lock()
	start := !job.Applying && job.Result == nil
	if start {
		job.Applying, job.Result, job.By = true, &importResult{}, by
	}
	g.imports.mu.Unlock()
	if start {
		g.log.Info().Str("by", by).Int("rows", job.Preview.Rows).Msg("dashboard: applying a contacts CSV")
		go g.applyImport(job)
	}
	return c.Redirect(importPath+"/"+job.ID, fiber.StatusSeeOther)
}

// applyImport applies an upload in the background, a transaction per
// importBatch rows: each row is an upsert of what it says, so when the
// process stops midway the rows committed stay, and uploading and applying
// the file again finishes the job without doing any row twice over. The
// rows are checked again against the config of the moment.
func (g *Gateway) applyImport(job *contactImport) {
	ctx := engine.WithActor(context.Background(), job.By) // enrollments an opt-out ends record who
	res := func(fn func(r *importResult)) {
		g.imports.mu.Lock()
		fn(job.Result)
		g.imports.mu.Unlock()
	}
	problem := func(pr csvProblem) {
		res(func(r *importResult) {
			r.Bad++
			if len(r.Problems) < importShowProblems {
				r.Problems = append(r.Problems, pr)
			}
		})
	}
	header, rows, err := g.readImport(job.path, func(batch []csvRow) error {
		changes := make([]engine.ContactChange, len(batch))
		for i, row := range batch {
			changes[i] = row.Change
		}
		out, err := g.engine.UpdateContacts(ctx, changes)
		if err != nil {
			return err
		}
		applied, created := 0, 0
		for i, o := range out {
			switch {
			case o.Err != nil:
				problem(csvProblem{Line: batch[i].Line, Phone: batch[i].Change.Phone, Reason: "opted_out false for a contact that opted out itself: an import does not opt it back in (the admin API can, with force and a reason)"})
			case o.Created:
				applied, created = applied+1, created+1
			default:
				applied++
			}
		}
		res(func(r *importResult) { r.Applied += applied; r.Created += created; r.Rows += len(batch) })
		return nil
	}, problem)
	if header != "" && err == nil {
		err = errors.New(header)
	}
	os.Remove(job.path)
	res(func(r *importResult) {
		r.Done, r.Rows, r.Finished = true, rows, time.Now()
		sortProblems(r.Problems)
		if err != nil {
			r.Error = err.Error()
		}
	})
	g.imports.mu.Lock()
	job.Applying = false
	g.imports.mu.Unlock()
	ev := g.log.Info()
	if err != nil {
		ev = g.log.Error().Err(err)
	}
	ev.Str("by", job.By).Int("rows", rows).Int("applied", job.Result.Applied).Int("created", job.Result.Created).Int("bad", job.Result.Bad).
		Msg("dashboard: contacts CSV applied")
}

// exportContactsCSV answers GET /admin/contacts.csv and
// /api/v1/contacts.csv: every contact, in phone order, streamed as it is
// read, a read transaction per page of pageScan contacts, so that neither
// the list nor the file is ever held whole.
func (g *Gateway) exportContactsCSV(c *fiber.Ctx) error {
	cfg := g.engine.Set().Config
	fields := cfg.Fields
	c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
	c.Set(fiber.HeaderContentDisposition, `attachment; filename="contacts-`+time.Now().In(cfg.Location()).Format("2006-01-02")+`.csv"`)
	log := g.log
	store := g.store
	c.Context().SetBodyStreamWriter(func(w *bufio.Writer) {
		cw := csv.NewWriter(w)
		if err := cw.Write(csvHeader(fields)); err != nil {
			return
		}
		after := ""
		n := 0
		for {
			var page []*engine.Contact
			err := store.View(context.Background(), func(tx engine.Tx) error {
				var err error
				page, err = tx.ContactsPage(after, pageScan)
				return err
			})
			if err != nil {
				// The status is sent: the file ends short, and says so.
				log.Error().Err(err).Int("written", n).Msg("dashboard: contacts CSV export stopped")
				cw.Write([]string{"# the export stopped here: " + err.Error()})
				cw.Flush()
				return
			}
			for _, ct := range page {
				if err := cw.Write(csvRecord(ct, fields)); err != nil {
					return
				}
			}
			n += len(page)
			cw.Flush()
			if cw.Error() != nil || w.Flush() != nil || len(page) < pageScan {
				return
			}
			after = page[len(page)-1].Phone
		}
	})
	return nil
}

// Total is how many rows would change a contact: new ones and changed ones.
func (p importPreview) Total() int { return p.New + p.Changed }

// csvPhone reads an import's phone cell as the admin API reads a contact's
// key, but for an alphanumeric sender id, which cannot receive: a cell
// like "call me" is a mistake in a list of contacts.
func (g *Gateway) csvPhone(raw string) (string, error) {
	key, err := g.phone(raw)
	if err != nil {
		return "", err
	}
	if config.KindOf(key) == config.AddressAlphanumeric {
		return "", fmt.Errorf("%q is not a phone number", raw)
	}
	return key, nil
}

// sortProblems puts bad rows in line order: a row refused against the
// stored contact is found after the bad rows read with it.
func sortProblems(ps []csvProblem) {
	slices.SortStableFunc(ps, func(a, b csvProblem) int { return a.Line - b.Line })
}
