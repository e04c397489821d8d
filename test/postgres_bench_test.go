package test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
	"github.com/keyway-sms/keyway/providers/twilio"
)

// BenchmarkSharedWebhooks measures webhooks/s and the p99 latency at 64
// concurrent senders on one bbolt process, and on one and three processes
// sharing one PostgreSQL database (posted to in turn). Each webhook is
// verified, routed (a keyword reply) and committed before its 200. For
// figures comparable with bbolt's fsync, run PostgreSQL durably:
//
//	KEYWAY_PGTEST_DURABLE=1 go test -run x -bench SharedWebhooks -benchtime 5000x ./test/
func BenchmarkSharedWebhooks(b *testing.B) {
	for _, tc := range []struct {
		name  string
		procs int
		pg    bool
	}{{"bolt-1", 1, false}, {"postgres-1", 1, true}, {"postgres-3", 3, true}} {
		b.Run(tc.name, func(b *testing.B) {
			dsn := ""
			if tc.pg {
				dsn = pgtest.NewDatabase(b)
			}
			gs := startProcesses(b, tc.procs, hoursConfig, 0, dsn)
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
			const conc = 64
			var seq atomic.Int64
			var left atomic.Int64
			left.Store(int64(b.N))
			lat := make([][]time.Duration, conc)
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := range conc {
				wg.Go(func() {
					for left.Add(-1) >= 0 {
						n := seq.Add(1)
						g := gs[int(n)%len(gs)]
						form := g.Form(Inbound{SID: fmt.Sprintf("SMbench%026d", n), From: fmt.Sprintf("+1555%07d", n%1000000), Body: "hours"})
						req, _ := http.NewRequest(http.MethodPost, g.URL+"/webhooks/twilio", strings.NewReader(form.Encode()))
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						req.Header.Set("X-Twilio-Signature", twilio.Sign(g.Twilio.AuthToken, PublicURL+"/webhooks/twilio", form))
						t0 := time.Now()
						res, err := client.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						res.Body.Close()
						lat[w] = append(lat[w], time.Since(t0))
						if res.StatusCode != http.StatusOK {
							b.Errorf("status %d", res.StatusCode)
							return
						}
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) > 0 {
				b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
			}
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "webhooks/s")
			if dsn != "" {
				// Transactions PostgreSQL refused (serialization failures,
				// deadlocks) and that keyway ran again, per webhook.
				rollbacks := pgtest.Rollbacks(b, dsn)
				b.ReportMetric(float64(rollbacks)/float64(b.N), "rollbacks/op")
			}
		})
	}
}
