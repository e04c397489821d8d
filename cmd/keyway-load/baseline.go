package main

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
	bolt "go.etcd.io/bbolt"
)

// Baseline modes: how the bare server commits each request.
const (
	// bareUpdate commits each request in its own bbolt transaction
	// (db.Update): one fsync per request, one request at a time.
	bareUpdate = "update"
	// bareBatch hands each request's write to db.Batch: every request
	// still waits for its own durable commit before its answer, but
	// concurrent requests share commits, as keyway's group commit does.
	bareBatch = "batch"
)

// serveBaseline is the bare ceiling keyway is measured against: a Fiber app
// whose webhook route stores the MessageSid and body durably in bbolt
// (default options: fsync at each commit), committing as mode says, and
// answers an empty TwiML response. It checks no signature and routes
// nothing. It serves until SIGTERM.
func serveBaseline(dir, mode string) error {
	commit := (*bolt.DB).Update
	switch mode {
	case bareUpdate:
	case bareBatch:
		commit = (*bolt.DB).Batch
	default:
		return fmt.Errorf("baseline: unknown mode %q (want %s or %s)", mode, bareUpdate, bareBatch)
	}
	db, err := bolt.Open(filepath.Join(dir, "baseline.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("baseline: open: %w", err)
	}
	defer db.Close()
	bucket := []byte("messages")
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	app.Post("/webhooks/twilio", func(c *fiber.Ctx) error {
		sid, body := c.FormValue("MessageSid"), c.FormValue("Body")
		if sid == "" {
			return fiber.NewError(fiber.StatusBadRequest, "no MessageSid")
		}
		if err := commit(db, func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucket)
			if err != nil {
				return err
			}
			return b.Put([]byte(sid), []byte(body))
		}); err != nil {
			return err
		}
		c.Set("Content-Type", "text/xml")
		return c.SendString("<Response/>")
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("baseline: listen: %w", err)
	}
	fmt.Printf("{\"listen\":%q,\"message\":\"baseline serving\"}\n", ln.Addr().String())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-stop
		_ = app.Shutdown()
	}()
	return app.Listener(ln)
}

var baselineListening = regexp.MustCompile(`"listen":"([^"]+)","message":"baseline serving"`)

// startBaseline runs this program's baseline server in dir as a separate
// process, as keyway runs, and waits until it answers.
func startBaseline(dir, mode string, patience time.Duration) (*process, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("baseline: find this program: %w", err)
	}
	p, err := startProcess(dir, self, "baseline-serve", dir, mode)
	if err != nil {
		return nil, err
	}
	if err := p.waitReady(patience, func(out []byte) string {
		if m := baselineListening.FindSubmatch(out); m != nil {
			return "http://" + string(m[1])
		}
		return ""
	}, "/healthz"); err != nil {
		p.stop()
		return nil, fmt.Errorf("baseline: %w", err)
	}
	return p, nil
}
