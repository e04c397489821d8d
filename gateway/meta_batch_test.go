package gateway

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/store/bolt"
	"github.com/keyway-sms/keyway/automation/store/postgres"
	"github.com/keyway-sms/keyway/automation/store/postgres/pgtest"
	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/providers/meta"
)

// TestMain stops the PostgreSQL cluster a test started, if any.
func TestMain(m *testing.M) { pgtest.Main(m) }

// countingStore counts the read-write transactions asked of a store.
type countingStore struct {
	engine.Store
	updates atomic.Int64
}

func (c *countingStore) Update(ctx context.Context, fn func(engine.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(ctx, fn)
}

const (
	batchSecret  = "meta-batch-app-secret"
	batchNumber  = "+15550001234"
	batchPhoneID = "106540352242922"
)

const metaBatchConfig = `server:
  public_url: "https://wa.example.com"
providers:
  meta:
    app_secret: "meta-batch-app-secret"
    verify_token: "verify"
    access_token: "EAAG-batch"
    api_base_url: "http://127.0.0.1:9/v21.0"
    numbers:
      - { number: "+15550001234", phone_number_id: "106540352242922" }
automations:
  - id: join
    keywords: [JOIN]
    steps:
      - { type: reply, text: "Your name?" }
      - { type: wait_for_reply, save_as: name }
      - { type: reply, text: "Thanks {{ vars.name }}" }
`

// metaBatchBody is one webhook as Meta posts it under load: fifty
// messages of 25 contacts spread over three entries and five changes (the
// shape of Meta's webhook reference: entry[].changes[].value with metadata,
// contacts and messages), each contact's JOIN in an earlier change than its
// answer; the last change also repeats a message id, carries a reaction
// (ignored) and a status for a message keyway never sent.
func metaBatchBody() string {
	now := time.Now().Unix() // within the WhatsApp window
	text := func(i int, body string) string {
		return fmt.Sprintf(`{"from":"1555200%04d","id":"wamid.BATCH%s%04d","timestamp":"%d","type":"text","text":{"body":%q}}`, i, body, i, now, body)
	}
	change := func(msgs []string, extra string) string {
		var contacts []string
		for _, m := range msgs {
			from := strings.SplitN(strings.TrimPrefix(m, `{"from":"`), `"`, 2)[0]
			contacts = append(contacts, fmt.Sprintf(`{"profile":{"name":"Customer %s"},"wa_id":%q}`, from[len(from)-4:], from))
		}
		return `{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001234","phone_number_id":"` + batchPhoneID + `"},` +
			`"contacts":[` + strings.Join(contacts, ",") + `],"messages":[` + strings.Join(msgs, ",") + `]` + extra + `}}`
	}
	var joins, answers []string
	for i := range 25 {
		joins = append(joins, text(i, "JOIN"))
		answers = append(answers, text(i, "Ann"))
	}
	changes := []string{
		change(joins[:10], ""), change(joins[10:], ""), // entry 1
		change(answers[:10], ""), // entry 2
		change(answers[10:20], ""),
		change(append(answers[20:], answers[3], // entry 3: wamid.BATCHAnn0003 twice
			`{"from":"15552000001","id":"wamid.REACT","timestamp":"`+fmt.Sprint(now)+`","type":"reaction","reaction":{"message_id":"wamid.X","emoji":"👍"}}`),
			`,"statuses":[{"id":"wamid.NEVERSENT","status":"delivered","timestamp":"`+fmt.Sprint(now)+`","recipient_id":"15552000001"}]`),
	}
	return `{"object":"whatsapp_business_account","entry":[` +
		`{"id":"102290129340398","changes":[` + changes[0] + `,` + changes[1] + `]},` +
		`{"id":"102290129340398","changes":[` + changes[2] + `,` + changes[3] + `]},` +
		`{"id":"102290129340398","changes":[` + changes[4] + `]}]}`
}

// A WhatsApp Cloud API webhook carrying fifty messages is one commit on
// the stores keyway runs on, not fifty: the gateway hands the whole batch
// to the engine at once. Every message is stored once, each contact's
// messages are handled in order (the answer resumes the JOIN's wait), and
// the repeated id does nothing.
func TestMetaWebhookOfFiftyMessagesIsOneCommit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		open func(t *testing.T) engine.Store
	}{
		{"bolt", func(t *testing.T) engine.Store {
			s, err := bolt.Open(filepath.Join(t.TempDir(), "keyway.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
		{"postgres", func(t *testing.T) engine.Store {
			s, err := postgres.Open(t.Context(), pgtest.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			store := &countingStore{Store: c.open(t)}
			g := newMetaBatchGateway(t, store)
			body := metaBatchBody()
			req := httptest.NewRequest(http.MethodPost, meta.Path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(meta.SignatureHeader, "sha256="+meta.Sign(batchSecret, []byte(body)))
			before := store.updates.Load()
			res, err := g.app.Test(req, -1)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusOK {
				t.Fatalf("webhook answered %d: %s", res.StatusCode, readBody(t, res))
			}
			if n := store.updates.Load() - before; n != 1 {
				t.Errorf("the webhook of 50 messages took %d commits, want 1", n)
			}

			queued := 0
			err = store.View(context.Background(), func(tx engine.Tx) error {
				for i := range 25 {
					phone := fmt.Sprintf("+1555200%04d", i)
					msgs, err := tx.Messages(phone, 100)
					if err != nil {
						return err
					}
					var in, out []string
					for _, m := range msgs {
						if m.Direction == engine.Inbound {
							in = append(in, m.ProviderID)
						} else {
							out = append(out, m.Body)
							queued++
						}
					}
					if len(in) != 2 {
						t.Errorf("%s: stored inbound %v, want its JOIN and its answer once each", phone, in)
					}
					if !strings.Contains(strings.Join(out, "|"), "Thanks Ann") {
						t.Errorf("%s: replies %q, want the answer to resume the JOIN", phone, out)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if queued != 50 {
				t.Errorf("%d replies queued, want 50", queued)
			}
		})
	}
}

// newMetaBatchGateway builds a gateway with the WhatsApp Cloud API provider
// on store. Nothing runs in the background (no outbox, no timers), so every
// commit the store sees comes from the requests the test makes.
func newMetaBatchGateway(t *testing.T, store engine.Store) *Gateway {
	t.Helper()
	cfg, set := compiled(t, metaBatchConfig)
	log := zerolog.New(io.Discard)
	ps, err := providers.Build(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(Options{Config: cfg, Set: set, Store: store, Providers: ps, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	return g
}
