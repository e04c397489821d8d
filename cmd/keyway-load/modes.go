package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// mode is one kind of webhook a keyway is driven with.
type mode struct {
	Provider string // providerTwilio or providerMeta
	PerPost  int    // messages per webhook
}

// String names the mode in the figures: "twilio", "meta-1", "meta-10".
func (m mode) String() string {
	if m.Provider == providerTwilio {
		return providerTwilio
	}
	return m.Provider + "-" + strconv.Itoa(m.PerPost)
}

// modes are the webhooks each keyway is driven with, in the order given.
type modes []mode

// parseModes reads --provider and --per-post: each provider named, and
// Meta once for each count of messages per webhook.
func parseModes(provs, perPosts string) (modes, error) {
	var counts []int
	for _, v := range strings.Split(perPosts, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 1 || n > 1000 {
			return nil, fmt.Errorf("--per-post: %q is not a count of messages from 1 to 1000", v)
		}
		counts = append(counts, n)
	}
	var ms modes
	for _, p := range strings.Split(provs, ",") {
		switch p = strings.TrimSpace(p); p {
		case providerTwilio:
			ms = append(ms, mode{Provider: p, PerPost: 1})
		case providerMeta:
			for _, n := range counts {
				ms = append(ms, mode{Provider: p, PerPost: n})
			}
		default:
			return nil, fmt.Errorf("--provider: unknown provider %q (twilio or meta)", p)
		}
	}
	return ms, nil
}

// providers names each provider of the modes once.
func (ms modes) providers() []string {
	var out []string
	for _, m := range ms {
		if !slices.Contains(out, m.Provider) {
			out = append(out, m.Provider)
		}
	}
	return out
}

// apply gives each keyway target every mode, one target each, named
// NAME/MODE unless Twilio's is the only mode; the bare servers take
// Twilio's form only and are driven once.
func (ms modes) apply(targets []target) []target {
	var out []target
	for _, tg := range targets {
		if tg.Baseline != "" {
			tg.Provider, tg.PerPost = providerTwilio, 1
			out = append(out, tg)
			continue
		}
		for _, m := range ms {
			t := tg
			t.Provider, t.PerPost = m.Provider, m.PerPost
			if len(ms) > 1 || m.Provider != providerTwilio {
				t.Name = tg.Name + "/" + m.String()
			}
			out = append(out, t)
		}
	}
	return out
}

// loadAverage is the machine's load over the last 1, 5 and 15 minutes,
// as /proc/loadavg says, or "unknown".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}
