package config

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
)

// EventEndpoint is one system keyway tells what happened, in the
// `events:` list: a URL that takes signed JSON POSTs (the Standard
// Webhooks convention), its secret, and the event types it wants.
type EventEndpoint struct {
	// URL is where events are posted, http or https.
	URL string `yaml:"url"`
	// Secret signs each request: "whsec_" and the key in base64.
	Secret string `yaml:"secret"`
	// Types are the event types the endpoint takes; empty: all of them.
	Types []string `yaml:"types"`
}

// EventTypes lists every event type keyway emits, in the order the README
// documents them.
var EventTypes = []string{
	"contact.opted_out", "contact.opted_in", "message.received", "message.failed",
	"enrollment.completed", "handoff.opened", "handoff.closed", "broadcast.done",
}

// Takes reports whether the endpoint wants events of type typ.
func (ep EventEndpoint) Takes(typ string) bool {
	return len(ep.Types) == 0 || slices.Contains(ep.Types, typ)
}

// EventSecretKey decodes a Standard Webhooks secret, "whsec_" and the key
// in base64, into the key.
func EventSecretKey(secret string) ([]byte, error) {
	raw, ok := strings.CutPrefix(secret, "whsec_")
	if !ok {
		return nil, fmt.Errorf("config: an events secret starts with whsec_ (then the key in base64)")
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("config: the events secret after whsec_ is not base64: %w", err)
	}
	return key, nil
}

// shortEventKey is the key length under which validate warns: the
// Standard Webhooks convention takes any key, and suggests 24 to 64 bytes.
const shortEventKey = 16

// events checks the `events:` endpoints: an http(s) URL each, given once,
// a well-formed secret, and known types.
func (k *checker) events() {
	seen := map[string]string{}
	for i, ep := range k.c.Events {
		path := fmt.Sprintf("events[%d]", i)
		switch {
		case strings.TrimSpace(ep.URL) == "":
			k.errorf(path+".url", "%s.url: an events endpoint needs a url", path)
		case !isHTTPURL(ep.URL):
			k.errorf(path+".url", "%s.url: %q is not an http or https URL", path, ep.URL)
		case seen[ep.URL] != "":
			k.errorf(path+".url", "%s.url: %q is listed already, as %s (%s); give each endpoint once, with every type it takes", path, ep.URL, seen[ep.URL], k.at(seen[ep.URL]+".url"))
		default:
			seen[ep.URL] = path
			if why := k.c.HTTP.Refuses(ep.URL); why != "" {
				k.warnf(path+".url", "%s.url: %s; its events would never be delivered", path, why)
			}
		}
		switch key, err := EventSecretKey(ep.Secret); {
		case err != nil:
			k.errorf(path+".secret", "%s.secret: %s", path, strings.TrimPrefix(err.Error(), "config: "))
		case len(key) < shortEventKey:
			k.warnf(path+".secret", "%s.secret: the events secret holds %d bytes, easy to guess; use at least %d (24 to 64 is usual, e.g. whsec_ and the output of `openssl rand -base64 32`)", path, len(key), shortEventKey)
		}
		for j, typ := range ep.Types {
			if !slices.Contains(EventTypes, typ) {
				k.errorf(fmt.Sprintf("%s.types[%d]", path, j), "%s.types[%d]: unknown event type %q; known: %s", path, j, typ, strings.Join(EventTypes, ", "))
			}
		}
	}
}
