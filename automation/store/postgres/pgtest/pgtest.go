// Package pgtest runs a throwaway PostgreSQL cluster for tests: initdb
// into a temporary folder and pg_ctl on a free loopback port, as the
// postgres user when the tests run as root. The cluster starts on first
// use, once per test binary, and Main stops it.
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		dsn := pgtest.NewDatabase(t) // an empty database of its own
//		...
//	}
//
// Where no PostgreSQL binaries are installed the tests that ask for one
// skip, saying so, unless the environment variable CI is set: there a
// missing PostgreSQL fails them. The cluster runs without fsync, unless
// KEYWAY_PGTEST_DURABLE is set (for benchmarks).
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
)

var (
	once    sync.Once
	cluster *running
	failure error
	dbs     atomic.Int64
)

type running struct {
	bin, dir, owner string
	port            int
}

// Main runs the package's tests and then stops the cluster if one was
// started.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the cluster and removes its files.
func Stop() {
	if cluster == nil {
		return
	}
	_ = cluster.cmd("pg_ctl", "-D", cluster.dir, "-m", "immediate", "-w", "stop").Run()
	_ = os.RemoveAll(cluster.dir)
	cluster = nil
}

// ErrNoPostgres is why Start fails where PostgreSQL is not installed.
var ErrNoPostgres = errors.New("no PostgreSQL binaries (initdb, pg_ctl) found on PATH or in /usr/lib/postgresql/*/bin")

// BinDir finds the folder that holds initdb and pg_ctl.
func BinDir() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Sort(sort.Reverse(sort.StringSlice(found))) // newest version first (single digits aside)
	for _, p := range found {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "pg_ctl")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	return "", ErrNoPostgres
}

// cmd runs a PostgreSQL binary, as the cluster's owner when that is not us.
func (r *running) cmd(name string, args ...string) *exec.Cmd {
	path := filepath.Join(r.bin, name)
	if r.owner == "" {
		return exec.Command(path, args...)
	}
	return exec.Command("runuser", append([]string{"-u", r.owner, "--", path}, args...)...)
}

func start() (*running, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	r := &running{bin: bin}
	dir, err := os.MkdirTemp("", "keyway-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("pgtest: %w", err)
	}
	r.dir = dir
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: the cluster belongs to postgres.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("pgtest: running as root, and no postgres user to run the cluster as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, fmt.Errorf("pgtest: %w", err)
		}
		r.owner = "postgres"
	}
	if out, err := r.cmd("initdb", "-D", dir, "-U", "keyway", "--auth=trust", "-E", "UTF8", "--locale=C").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	r.port = port
	// The end-to-end tests run eight at a time, each with keyway processes
	// of up to 32 connections: room for all of them.
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c max_connections=1000", port, dir)
	if os.Getenv("KEYWAY_PGTEST_DURABLE") == "" {
		// Tests need no durability across a machine crash; benchmarks
		// that compare with bbolt's fsync set KEYWAY_PGTEST_DURABLE.
		opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	if out, err := r.cmd("pg_ctl", "-D", dir, "-o", opts, "-l", filepath.Join(dir, "server.log"), "-w", "-t", "60", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		return nil, fmt.Errorf("pgtest: pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	return r, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgtest: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// dsn is the address of database name in the cluster.
func (r *running) dsn(name string) string {
	return fmt.Sprintf("postgres://keyway@127.0.0.1:%d/%s?sslmode=disable", r.port, name)
}

// Cluster returns the DSN of the cluster's postgres database, starting the
// cluster on first use; it skips t (fails it when CI is set) where
// PostgreSQL is not installed.
func Cluster(t testing.TB) string {
	t.Helper()
	once.Do(func() { cluster, failure = start() })
	switch {
	case errors.Is(failure, ErrNoPostgres) && os.Getenv("CI") == "":
		t.Skipf("PostgreSQL tests skipped: %v (install postgresql, or set CI to make this a failure)", failure)
	case failure != nil:
		t.Fatalf("PostgreSQL for the tests: %v", failure)
	}
	return cluster.dsn("postgres")
}

// NewDatabase creates an empty database in the cluster and returns its
// DSN; it is dropped when t ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := Cluster(t)
	name := fmt.Sprintf("keyway_test_%d_%d", os.Getpid(), dbs.Add(1))
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("pgtest: connect: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return cluster.dsn(name)
}

// Rollbacks returns how many transactions were rolled back in the database
// at dsn so far (pg_stat_database), for benchmarks to report conflicts.
func Rollbacks(t testing.TB, dsn string) int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, `SELECT xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&n); err != nil {
		t.Fatalf("pgtest: read pg_stat_database: %v", err)
	}
	return n
}

// ReadOnly makes the database at dsn refuse writes (on) or take them again,
// as a standby does after a failover: the setting holds for new sessions,
// so every other session on it is ended.
func ReadOnly(t testing.TB, dsn string, on bool) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	set := "SET default_transaction_read_only = on"
	if !on {
		set = "RESET default_transaction_read_only"
	}
	// This session is new too: it takes writes whatever the database's setting.
	for _, q := range []string{"SET default_transaction_read_only = off",
		"ALTER DATABASE " + pgx.Identifier{conn.Config().Database}.Sanitize() + " " + set,
		`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("pgtest: %s: %v", q, err)
		}
	}
}
