package test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkWebhooksWithEvents posts signed webhooks at 64 connections, as
// BenchmarkWebhooks does, to a gateway without events, then with an
// endpoint (a local receiver) taking opt-outs only (no webhook makes
// one), message.received (one event per webhook), and every type (two:
// message.received and enrollment.completed), and reports webhooks/s of
// each and how many events the receiver had when the posting ended:
//
//	go test -run x -bench WebhooksWithEvents -benchtime 3000x ./test/
func BenchmarkWebhooksWithEvents(b *testing.B) {
	var got atomic.Int64
	crm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	b.Cleanup(crm.Close)
	for _, types := range []string{"", "[contact.opted_out]", "[message.received]", "all"} {
		b.Run("events="+strings.Trim(types, "[]"), func(b *testing.B) {
			cfg := hoursConfig
			switch types {
			case "":
			case "all":
				cfg += fmt.Sprintf("http: { allow_private: true }\nevents:\n  - { url: %q, secret: %q }\n", crm.URL, eventsSecret)
			default:
				cfg += fmt.Sprintf("http: { allow_private: true }\nevents:\n  - { url: %q, secret: %q, types: %s }\n", crm.URL, eventsSecret, types)
			}
			g := StartGateway(b, cfg)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
			got.Store(0)
			var seq atomic.Int64
			postWebhooks(b, g, client, &seq, 64, "SMev")
			b.ReportMetric(float64(got.Load()), "events_by_end")
		})
	}
}
