package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/keyway-sms/keyway/config"
)

const healthHelp = `Usage: keyway health [--config FILE] [--url URL] [--timeout 5s]

Asks a running keyway whether it is ready: GET /readyz on the address the
config's server.listen names (on this machine: an empty or wildcard host is
read as loopback; a file that cannot be read or is empty is read as one that
sets no server.listen, ":8080"), or on --url. Exits 0 when the answer is 200,
1 when it is anything else or nothing comes, 2 on a usage error. It needs no shell or
curl, so a container's HEALTHCHECK can run it on a distroless image.
`

// health is "keyway health": a probe for HEALTHCHECK and service managers.
func health(args []string, stdout, stderr io.Writer) int {
	fs := newCommandFlags("health", healthHelp)
	cf := configFlags(fs)
	target := fs.String("url", "", "the `URL` to GET (default: /readyz on server.listen)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if code, done := parseFlags(fs, args, stdout, stderr); done {
		return code
	}
	if *target == "" {
		if code, ok := cf.configArg(fs, stderr); !ok {
			return code
		}
		u, err := readyzURL(cf.config)
		if errors.Is(err, errNoConfig) {
			// The file is missing, empty or unreadable right now (a deploy
			// mid-write, a volume not mounted yet): a running keyway keeps
			// the config it has, so it is asked where a file that sets no
			// server.listen would have it listen.
			fmt.Fprintf(stderr, "keyway health: %v; asking %s\n", err, u)
		} else if err != nil {
			fmt.Fprintf(stderr, "keyway health: %v\n", err)
			return 2
		}
		*target = u
	} else if fs.NArg() > 0 {
		return extraArgs(fs, fs.Args(), stderr)
	}
	if *timeout <= 0 {
		fmt.Fprintf(stderr, "keyway health: --timeout must be above 0, not %s\n", *timeout)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *target, nil)
	if err != nil {
		fmt.Fprintf(stderr, "keyway health: --url %q: %v\n", *target, err)
		return 2
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "keyway health: not ready: %v\n", err)
		return 1
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4<<10))
	if res.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "keyway health: not ready: %s answered %s: %s\n", *target, res.Status, strings.TrimSpace(string(body)))
		return 1
	}
	fmt.Fprintf(stdout, "keyway health: ready (%s answered %s)\n", *target, res.Status)
	return 0
}

// readyzURL reads server.listen from the config file at path and returns
// the /readyz URL on it, as seen from this machine.
func readyzURL(path string) (string, error) {
	c, problems := config.Load(path)
	listen, noConfig := config.DefaultListen, error(nil)
	if c != nil {
		listen = c.Server.Listen
	} else {
		// Only an unreadable or empty file gives no config at all; other
		// problems leave server.listen readable, and the running process
		// is what answers.
		noConfig = fmt.Errorf("%w (%s)", errNoConfig, path)
		if errs := problems.Errors(); len(errs) > 0 {
			noConfig = fmt.Errorf("%w: %s", noConfig, errs[0].Message)
		}
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("%s: server.listen %q is not host:port: %w", path, listen, err)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::", "[::]":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", noConfig
}

// errNoConfig is readyzURL's error when the config file gives no config
// at all; the URL it returns then is on the default server.listen.
var errNoConfig = errors.New("the config file gives no server.listen")
