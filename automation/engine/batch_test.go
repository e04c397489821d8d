package engine_test

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim/simtest"
	"github.com/keyway-sms/keyway/automation/store/mem"
	"github.com/keyway-sms/keyway/config"
	"github.com/keyway-sms/keyway/providers"
)

// commitCounter counts the read-write transactions run on a store.
type commitCounter struct {
	engine.Store
	updates atomic.Int32
}

func (c *commitCounter) Update(ctx context.Context, fn func(tx engine.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(ctx, fn)
}

const batchConfig = `
providers:
  engtest:
    numbers:
      - { number: "+15005550006", channel: whatsapp }
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Your name?" }
      - { type: wait_for_reply, save_as: name }
      - { type: reply, text: "Thanks {{ vars.name }}" }
`

func batchMessage(id, from, body string) providers.Inbound {
	return providers.Inbound{Provider: "engtest", ID: id, Channel: config.ChannelWhatsApp, From: from, To: "+15005550006", Body: body}
}

// A webhook carrying fifty messages and a status is one commit; every
// message is handled, each id once.
func TestBatchIsOneCommit(t *testing.T) {
	ctx := context.Background()
	store := &commitCounter{Store: mem.NewMemStore()}
	e := engine.New(store, simtest.Compile(t, batchConfig), engine.Options{Logger: zerolog.Nop()})
	var b providers.Batch
	for i := range 50 {
		b.Messages = append(b.Messages, batchMessage(fmt.Sprintf("wamid.%02d", i), fmt.Sprintf("+1555000%04d", i), "JOIN"))
	}
	b.Messages = append(b.Messages, b.Messages[7]) // the same id twice in one POST
	b.Statuses = []providers.Status{{ProviderID: "unknown", Status: "delivered"}}
	res, err := e.HandleBatch(ctx, "engtest", b)
	if err != nil {
		t.Fatal(err)
	}
	if n := store.updates.Load(); n != 1 {
		t.Errorf("the batch took %d commits, want 1", n)
	}
	if len(res.Messages) != 51 || !res.Messages[50].Duplicate || res.Messages[50].Message.ID != res.Messages[7].Message.ID {
		t.Fatalf("the repeated id was not handled once: %+v", res.Messages[50])
	}
	for i, h := range res.Messages[:50] {
		if h.Duplicate || h.Via != engine.ViaKeyword {
			t.Errorf("message %d: %+v, want a keyword", i, h)
		}
	}
	if !slices.Equal(res.Found, []bool{false}) {
		t.Errorf("found = %v, want [false]", res.Found)
	}
	if got := simtest.DrainOutbox(t, store); len(got) != 50 {
		t.Errorf("queued %d replies, want 50", len(got))
	}
	// Posted again, the whole batch does nothing.
	res, err = e.HandleBatch(ctx, "engtest", b)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range res.Messages {
		if !h.Duplicate {
			t.Errorf("message %d handled again", i)
		}
	}
	if got := simtest.DrainOutbox(t, store); len(got) != 0 {
		t.Errorf("a repeated batch queued %d replies", len(got))
	}
}

// Two messages of one contact in one batch are handled in order, as if
// they had come one after the other: the second answers the first's
// question.
func TestBatchOfOneContactInOrder(t *testing.T) {
	ctx := context.Background()
	store := mem.NewMemStore()
	e := engine.New(store, simtest.Compile(t, batchConfig), engine.Options{Logger: zerolog.Nop()})
	const ann = "+15550001111"
	res, err := e.HandleBatch(ctx, "engtest", providers.Batch{Messages: []providers.Inbound{
		batchMessage("wamid.a", ann, "JOIN"), batchMessage("wamid.b", ann, "Ann"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Messages[0].Via != engine.ViaKeyword || res.Messages[1].Via != engine.ViaReply {
		t.Errorf("routes = %s, %s; want keyword, reply", res.Messages[0].Via, res.Messages[1].Via)
	}
	var texts []string
	for _, m := range simtest.DrainOutbox(t, store) {
		texts = append(texts, m.Body)
	}
	if !slices.Equal(texts, []string{"Your name?", "Thanks Ann"}) {
		t.Errorf("replies = %q", texts)
	}
}
