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
// just applied. They are kept in the store, so that any keyway process
// sharing a PostgreSQL database shows an upload's preview and applies it,
// whichever one took the upload (a load balancer sends each click where
// it will), and a restart forgets none:
//
//	dashboard/imports           the index: the uploads kept, and when each expires
//	dashboard/import/ID         the upload: its name, uploader, preview, and how applying it goes
//	dashboard/import/ID/N       the file, in chunks of importChunk bytes, until it is applied
//
// Applying one is claimed in the store by the process that runs it, for
// importLease at a time, renewed at each batch: a process that stops
// midway leaves the claim to lapse, and then the upload can be applied
// again (from any process; rows already applied change nothing twice).
type contactImports struct {
	store engine.Store
	owner string // this process, on the claims it takes
}

const (
	importsKey = "dashboard/imports"
	// importChunk is the size of a stored chunk of an upload, and
	// importChunksPerTx how many are written in one transaction.
	importChunk       = 1 << 20
	importChunksPerTx = 8
	// importLease is how long a claim to apply an upload stands without
	// being renewed.
	importLease = time.Minute
)

func importKey(id string) string             { return "dashboard/import/" + id }
func importChunkKey(id string, n int) string { return fmt.Sprintf("dashboard/import/%s/%d", id, n) }

// contactImport is one upload, as the store keeps it: its file is read
// once for its preview and once more to apply it, a chunk at a time,
// never held in memory whole.
type contactImport struct {
	ID      string        `json:"id"`
	File    string        `json:"file"` // the uploaded file's name
	By      string        `json:"by"`
	At      time.Time     `json:"at"`
	Chunks  int           `json:"chunks"` // how many chunks the file is stored in; 0 once applied
	Preview importPreview `json:"preview"`

	// Applying is set while a process applies it: Owner, until Lease
	// unless renewed.
	Applying bool          `json:"applying,omitempty"`
	Owner    string        `json:"owner,omitempty"`
	Lease    time.Time     `json:"lease,omitzero"`
	Result   *importResult `json:"result,omitempty"`
}

// Stalled reports whether the process applying the upload stopped
// midway: its claim lapsed unrenewed.
func (j *contactImport) Stalled() bool {
	return j.Applying && time.Now().After(j.Lease)
}

// expired reports whether the upload is past keeping: importKeep after
// it was uploaded, unless it is being applied.
func (j *contactImport) expired(now time.Time) bool {
	return now.Sub(j.At) > importKeep && !(j.Applying && now.Before(j.Lease))
}

// importEntry is an upload in the index.
type importEntry struct {
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	Chunks int       `json:"chunks"`
}

// importPreview is what an upload would change.
type importPreview struct {
	Header                                   string // what is wrong with the header: nothing can be applied
	Rows, New, Changed, Unchanged, Bad       int
	Names, Groups, Tags, Fields, Outs, Backs int // rows that change each
	WhatsApp                                 int // rows that make a contact reached on WhatsApp
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

// dashImportForm answers GET /admin/contacts/import: the upload form.
func (g *Gateway) dashImportForm(c *fiber.Ctx) error {
	return g.render(c, "import", "Import contacts", map[string]any{"Fields": g.engine.Set().Config.Fields, "Problem": ""})
}

// dashImportUpload answers the upload: the file is spooled to a temporary
// file and read once for the preview, then the browser goes to it. A file
// that cannot be applied at all (empty, no phone column, a column of
// none) is refused at once, 422 with the page that says why, as the
// dashboard's other refused forms are, and nothing is kept.
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
	defer os.Remove(spool.Name())
	by := actor(c).Name
	job := &contactImport{ID: randomID()[:24], File: fh.Filename, By: by, At: time.Now()}
	job.Preview, err = g.previewImport(c.UserContext(), spool.Name())
	if err != nil {
		return fmt.Errorf("gateway: import: preview: %w", err)
	}
	if job.Preview.Header != "" {
		g.log.Info().Str("by", by).Msg("dashboard: contacts CSV refused: its header cannot be read")
		c.Status(fiber.StatusUnprocessableEntity)
		return g.render(c, "importjob", "Import preview", job)
	}
	if err := g.imports.keep(c.UserContext(), job, spool.Name()); err != nil {
		return fmt.Errorf("gateway: import: %w", err)
	}
	g.log.Info().Str("by", by).Int("rows", job.Preview.Rows).Int("bad", job.Preview.Bad).Msg("dashboard: contacts CSV uploaded for a preview")
	return c.Redirect(importPath+"/"+job.ID, fiber.StatusSeeOther)
}

// readImport reads the CSV in f in one streaming pass, handing batch each
// batch of good rows and each bad row to bad as they come; the header's
// problem, if any, is returned as header, and no row is read.
func (g *Gateway) readImport(f io.Reader, batch func([]csvRow) error, bad func(csvProblem)) (header string, rows int, err error) {
	cfg := g.engine.Set().Config
	r := csvReader(bufio.NewReader(f))
	head, err := r.Read()
	if errors.Is(err, io.EOF) {
		return "The file is empty: its first row names the columns (phone, name, groups, tags, opted_out, fields).", 0, nil
	}
	if err != nil {
		return "line 1: not CSV: " + err.Error(), 0, nil
	}
	cols, err := readCSVHeader(fromWindows1252(head), cfg)
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
		rec = fromWindows1252(rec)
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
	f, err := os.Open(path)
	if err != nil {
		return p, err
	}
	defer f.Close()
	bad := func(pr csvProblem) {
		p.Bad++
		if len(p.Problems) < importShowProblems {
			p.Problems = append(p.Problems, pr)
		}
	}
	header, rows, err := g.readImport(f, func(batch []csvRow) error {
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
		case len(line) > 11 && line[:11] == "reached on ":
			p.WhatsApp++
		default:
			p.Fields++
		}
	}
}

// importGone is what a page says of an upload that is not (or no longer)
// kept.
const importGone = "That upload is gone (uploads wait 2 hours to be applied): upload the file again. Rows applied before stay applied, and applying them again is safe."

// dashImport answers GET /admin/contacts/import/{id}: the preview of an
// upload, or how applying it goes (the page reloads itself meanwhile).
func (g *Gateway) dashImport(c *fiber.Ctx) error {
	job, err := g.imports.get(c.UserContext(), c.Params("id"))
	if err != nil {
		return err
	}
	if job == nil {
		c.Status(fiber.StatusNotFound)
		return g.render(c, "import", "Import contacts", map[string]any{"Fields": g.engine.Set().Config.Fields, "Problem": importGone})
	}
	title := "Import preview"
	switch {
	case job.Stalled():
		title = "Import stopped"
	case job.Result != nil && job.Result.Done:
		title = "Import applied"
	case job.Applying:
		title = "Importing…"
	}
	return g.render(c, "importjob", title, job)
}

// dashImportApply starts applying an upload, once (again when the process
// applying it stopped midway), and sends the browser to its page.
func (g *Gateway) dashImportApply(c *fiber.Ctx) error {
	by := actor(c).Name
	job, start, err := g.imports.claim(c.UserContext(), c.Params("id"), by)
	if err != nil {
		return err
	}
	if job == nil {
		return fiber.NewError(fiber.StatusNotFound, importGone)
	}
	if job.Preview.Header != "" {
		return fiber.NewError(fiber.StatusUnprocessableEntity, "this upload cannot be applied: "+job.Preview.Header)
	}
	if start {
		g.log.Info().Str("by", by).Int("rows", job.Preview.Rows).Msg("dashboard: applying a contacts CSV")
		go g.applyImport(job)
	}
	return c.Redirect(importPath+"/"+job.ID, fiber.StatusSeeOther)
}

// importStopped is what an upload's page says when storage stopped its
// apply part way.
const importStopped = "storage could not be read or written (the server's log says why)"

// applyImport applies an upload in the background, a transaction per
// importBatch rows: each row is an upsert of what it says, so when the
// process stops midway the rows committed stay, and applying the upload
// again finishes the job without doing any row twice over. The rows are
// checked again against the config of the moment. How it goes is stored
// after each batch, with this process's claim renewed; should the claim
// have been lost meanwhile, it stops.
func (g *Gateway) applyImport(job *contactImport) {
	ctx := engine.WithActor(context.Background(), job.By) // enrollments an opt-out ends record who
	var r importResult
	problem := func(pr csvProblem) {
		r.Bad++
		if len(r.Problems) < importShowProblems {
			r.Problems = append(r.Problems, pr)
		}
	}
	errLost := errors.New("another process took the upload over")
	f := &importFile{ctx: ctx, store: g.store, job: job}
	header, rows, err := g.readImport(f, func(batch []csvRow) error {
		changes := make([]engine.ContactChange, len(batch))
		for i, row := range batch {
			changes[i] = row.Change
		}
		out, err := g.engine.UpdateContacts(ctx, changes)
		if err != nil {
			return err
		}
		for i, o := range out {
			switch {
			case o.Err != nil:
				problem(csvProblem{Line: batch[i].Line, Phone: batch[i].Change.Phone, Reason: "opted_out false for a contact that opted out itself: an import does not opt it back in (the admin API can, with force and a reason)"})
			case o.Created:
				r.Applied, r.Created = r.Applied+1, r.Created+1
			default:
				r.Applied++
			}
		}
		r.Rows += len(batch)
		mine, err := g.imports.report(ctx, job, r, false)
		if err == nil && !mine {
			err = errLost
		}
		return err
	}, problem)
	if errors.Is(err, errLost) {
		g.log.Warn().Str("by", job.By).Int("applied", r.Applied).Msg("dashboard: contacts CSV: this process's claim lapsed and another process applies the upload now")
		return
	}
	r.Done, r.Rows, r.Finished = true, rows, time.Now()
	sortProblems(r.Problems)
	switch {
	case err != nil:
		// The error may name the database and its host: the page says
		// what happened, the log below says why.
		r.Error = importStopped
	case header != "":
		err = errors.New(header)
		r.Error = header
	}
	if _, rerr := g.imports.report(ctx, job, r, true); rerr != nil {
		g.log.Error().Err(rerr).Msg("dashboard: contacts CSV: store the result")
	}
	ev := g.log.Info()
	if err != nil {
		ev = g.log.Error().Err(err)
	}
	ev.Str("by", job.By).Int("rows", rows).Int("applied", r.Applied).Int("created", r.Created).Int("bad", r.Bad).
		Msg("dashboard: contacts CSV applied")
}

// exportContactsCSV answers GET /admin/contacts.csv and
// /api/v1/contacts.csv: every contact, in phone order, streamed as it is
// read, a read transaction per page of pageScan contacts, so that neither
// the list nor the file is ever held whole. Staff may download it as
// admins may, since they see every contact; the log says who did.
func (g *Gateway) exportContactsCSV(c *fiber.Ctx) error {
	cfg := g.engine.Set().Config
	by := actor(c).Name
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
			// Each page waits as long as a request's storage may: the
			// stream runs after the handler, out of its context.
			err := store.View(engine.WithWaitLimit(context.Background(), storageWait), func(tx engine.Tx) error {
				var err error
				page, err = tx.ContactsPage(after, pageScan)
				return err
			})
			if err != nil {
				// The status is sent: the file ends short, and says so in
				// a plain sentence. The error, which may name the
				// database's host, goes to the log only.
				log.Error().Err(err).Str("by", by).Int("written", n).Msg("dashboard: contacts CSV export stopped")
				cw.Write([]string{exportStopped(n)})
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
			if cw.Error() != nil || w.Flush() != nil {
				return
			}
			if len(page) < pageScan {
				log.Info().Str("by", by).Int("contacts", n).Msg("dashboard: contacts CSV downloaded")
				return
			}
			after = page[len(page)-1].Phone
		}
	})
	return nil
}

// exportStopped is the last line of a contacts CSV export that storage
// stopped after n contacts: what happened, in words, without the error.
func exportStopped(n int) string {
	return fmt.Sprintf("# the export stopped here, after %d contacts: the contacts could not be read from storage (the server's log says why); download the file again", n)
}

// Total is how many rows would change a contact: new ones and changed ones.
func (p importPreview) Total() int { return p.New + p.Changed }

// csvPhone reads an import's phone cell as the admin API reads a contact's
// key, but for an alphanumeric sender id, which cannot receive: a cell
// like "call me" is a mistake in a list of contacts. It returns the
// contact's key, written "whatsapp:KEY" when the cell names WhatsApp (or is
// a WhatsApp user id), as a start reads an address.
func (g *Gateway) csvPhone(raw string) (string, error) {
	key, addr, err := g.addressAs(raw, config.InboundAddress)
	if err != nil {
		return "", err
	}
	if config.KindOf(key) == config.AddressAlphanumeric {
		return "", fmt.Errorf("%q is not a phone number", raw)
	}
	return addr, nil
}

// sortProblems puts bad rows in line order: a row refused against the
// stored contact is found after the bad rows read with it.
func sortProblems(ps []csvProblem) {
	slices.SortStableFunc(ps, func(a, b csvProblem) int { return a.Line - b.Line })
}
