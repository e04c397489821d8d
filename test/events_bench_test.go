package test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/providers/twilio"
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
			var left, seq atomic.Int64
			left.Store(int64(b.N))
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for left.Add(-1) >= 0 {
						n := seq.Add(1)
						form := g.Form(Inbound{SID: fmt.Sprintf("SMev%028d", n), From: fmt.Sprintf("+1555%07d", n%1000000), Body: "hours"})
						req, _ := http.NewRequest(http.MethodPost, g.URL+"/webhooks/twilio", strings.NewReader(form.Encode()))
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						req.Header.Set("X-Twilio-Signature", twilio.Sign(g.Twilio.AuthToken, PublicURL+"/webhooks/twilio", form))
						res, err := client.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						res.Body.Close()
						if res.StatusCode != http.StatusOK {
							b.Errorf("status %d", res.StatusCode)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "webhooks/s")
			b.ReportMetric(float64(got.Load()), "events_by_end")
		})
	}
}
