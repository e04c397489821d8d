package bolt

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim/simtest"
	"github.com/keyway-sms/keyway/providers"

	// The load's automations use reply and wait_for_reply.
	_ "github.com/keyway-sms/keyway/automation/steps"
)

// loadConfig is the load tool's mix (cmd/keyway-load): a one-step HOURS,
// and JOIN, which asks a question and waits for the answer.
const loadConfig = `
automations:
  - id: hours
    keywords: [HOURS]
    steps:
      - { type: reply, text: "Open 9-5. {{ message.body }}" }
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Your name? {{ message.body }}" }
      - { type: wait_for_reply, save_as: name }
      - { type: reply, text: "Thanks {{ message.body }}" }
`

// BenchmarkWebhookMix handles the load tool's mix of webhooks (four in ten
// HOURS, two JOIN, two answers to a JOIN, two unmatched) through the engine
// on a bbolt file and reports what bbolt did per webhook: pages written
// at commit, nodes (pages read into memory to be changed), and the time
// without fsync (NoSync), which is the work the commit goroutine does for
// a webhook besides syncing. conc=1 commits each webhook alone; conc=32
// has 32 senders at a time, whose webhooks share commits as under load:
//
//	go test -run x -bench WebhookMix -benchtime 20000x ./automation/store/bolt/
func BenchmarkWebhookMix(b *testing.B) {
	for _, conc := range []int{1, 32} {
		b.Run(fmt.Sprintf("conc=%d", conc), func(b *testing.B) { benchmarkWebhookMix(b, conc) })
	}
}

func benchmarkWebhookMix(b *testing.B, conc int) {
	s, err := Open(filepath.Join(b.TempDir(), "keyway.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	s.db.NoSync = true
	e := engine.New(s, simtest.Compile(b, loadConfig), engine.Options{})
	ctx := context.Background()
	const senders = 5000
	kinds := []string{"hours", "JOIN", "Ann", "hello there", "hours", "JOIN", "Ann", "hello there", "hours", "hours"}
	send := func(n int) {
		k := kinds[n%len(kinds)]
		// Each JOIN's answer comes next, from the same sender.
		slot := [...]int{0, 1, 1, 2, 3, 4, 4, 5, 6, 7}[n%10]
		from := fmt.Sprintf("+1555%07d", (n/10*8+slot)%senders)
		sid := fmt.Sprintf("SM%032d", n)
		_, err := e.HandleInbound(ctx, providers.Inbound{
			Provider: "twilio", ID: sid, Channel: "sms", From: from, To: "+15005550006", Body: k,
			Fields: map[string]string{"MessageSid": sid, "From": from, "To": "+15005550006", "Body": k, "NumMedia": "0"},
		})
		if err != nil {
			b.Error(err)
		}
	}
	for n := range 2000 { // a file that is not empty
		send(n)
	}
	before := s.db.Stats().TxStats
	b.ResetTimer()
	// Worker w sends the batches of ten w, w+conc, ...: a sender's JOIN
	// and its answer stay in order.
	var wg sync.WaitGroup
	for w := range conc {
		wg.Go(func() {
			for batch := w; batch*10 < b.N; batch += conc {
				for i := range 10 {
					if n := batch*10 + i; n < b.N {
						send(2000 + n)
					}
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	after := s.db.Stats().TxStats
	d := after.Sub(&before)
	b.ReportMetric(float64(d.GetWrite())/float64(b.N), "pages/webhook")
	b.ReportMetric(float64(d.GetNodeCount())/float64(b.N), "nodes/webhook")
}
