package test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/providers/twilio"
)

// BenchmarkWebhooks is the load tool: it posts signed inbound webhooks to
// the real binary over loopback at several concurrencies and reports
// webhooks/s. Each webhook is verified, routed (a keyword reply) and
// durably committed before its 200, so the figure is bound by how well
// concurrent webhooks share commits. Run it with:
//
//	go test -run x -bench Webhooks -benchtime 2000x ./test/
func BenchmarkWebhooks(b *testing.B) {
	g := StartGateway(b, hoursConfig)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var seq atomic.Int64
	for _, conc := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) {
			postWebhooks(b, g, client, &seq, conc, "SMload")
		})
	}
}

// postWebhooks posts b.N signed inbound webhooks ("hours", from a million
// numbers in turn, ids sidPrefix and seq's next value) to g at conc
// connections and reports webhooks/s.
func postWebhooks(b *testing.B, g *Gateway, client *http.Client, seq *atomic.Int64, conc int, sidPrefix string) {
	var left atomic.Int64
	left.Store(int64(b.N))
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				n := seq.Add(1)
				sid := sidPrefix + fmt.Sprintf("%0*d", 32-len(sidPrefix), n)
				form := g.Form(Inbound{SID: sid, From: fmt.Sprintf("+1555%07d", n%1000000), Body: "hours"})
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
}
