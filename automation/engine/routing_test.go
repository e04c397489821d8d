package engine_test

import (
	"context"
	"github.com/keyway-sms/keyway/automation/sim/simtest"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/automation/sim"
)

const quizConfig = `
automations:
  - id: quiz
    keywords: [QUIZ]
    steps:
      - { type: reply, text: "Your name?" }
      - { type: wait_for_reply, save_as: name }
      - { type: reply, text: "Thanks {{ vars.name }}" }
  - id: support
    catch_all: true
    steps:
      - { type: forward_to_mobile, to: ["+15550100100"] }
`

// compileSet compiles src; any problem fails the test.
var compileSet = simtest.Compile

func bodiesOf(ms []*engine.Message) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Body)
	}
	return out
}

// While opted out a contact's messages still run automations, so staff get
// forwards, but nothing reaches it; opting back in ends what began
// meanwhile, so no answer lands on a question it never saw.
func TestOptInEndsEnrollmentsBegunWhileOptedOut(t *testing.T) {
	sim := sim.NewSimulator(compileSet(t, quizConfig), nil)
	ctx := context.Background()
	steps := []struct {
		say   string
		sent  []string
		route string
	}{
		{"STOP", []string{"You are unsubscribed. Reply START to resubscribe."}, engine.ViaCompliance},
		{"QUIZ", nil, engine.ViaKeyword},
		{"START", []string{"You are resubscribed."}, engine.ViaCompliance},
		{"Ann", []string{`#2W33 From +15550001111: "Ann"`}, engine.ViaCatchAll},
	}
	for _, st := range steps {
		res, err := sim.Say(ctx, st.say)
		if err != nil {
			t.Fatal(err)
		}
		var sent []string
		for _, m := range res.Sent {
			if m.Status != engine.StatusSuppressed {
				sent = append(sent, m.Body)
			}
		}
		if res.Via != st.route || len(sent) != len(st.sent) || (len(sent) > 0 && sent[0] != st.sent[0]) {
			t.Fatalf("%q: route %s, sent %q; want %s, %q", st.say, res.Via, sent, st.route, st.sent)
		}
	}
}

// The simulator takes schedule ticks in time order with timers, as the
// gateway does, and a tick skips a member that opted out.
func TestSimulatorRunsScheduleTicks(t *testing.T) {
	set := compileSet(t, `
groups: [ { id: news } ]
automations:
  - id: join
    keywords: [JOIN]
    steps: [ { type: add_to_group, groups: [news] } ]
  - id: daily
    schedule: { cron: "0 10 * * *", group: news }
    steps: [ { type: reply, text: "deal" } ]
`)
	sim := sim.NewSimulator(set, nil)
	ctx := context.Background()
	if _, err := sim.Say(ctx, "JOIN"); err != nil {
		t.Fatal(err)
	}
	res, err := sim.Advance(ctx, 49*time.Hour) // Mon 09:00 → Wed 10:00: three ticks
	if err != nil {
		t.Fatal(err)
	}
	if got := bodiesOf(res.Sent); len(got) != 3 || got[0] != "deal" {
		t.Fatalf("after 49h sent %q, want 3 deals", got)
	}
	if _, err := sim.Say(ctx, "STOP"); err != nil {
		t.Fatal(err)
	}
	if res, _ = sim.Advance(ctx, 24*time.Hour); len(res.Sent) != 0 {
		t.Fatalf("an opted-out member got %q", bodiesOf(res.Sent))
	}
}

// An answer on WhatsApp to a question asked by SMS is answered on WhatsApp.
func TestTheConversationFollowsTheContactsChannel(t *testing.T) {
	set := compileSet(t, `
providers: { twilio: { numbers: [ { number: "+15005550006" }, { number: "+14155238886", channel: whatsapp } ] } }
automations:
  - id: quiz
    keywords: [QUIZ]
    steps:
      - { type: reply, text: "Your name?" }
      - { type: wait_for_reply, save_as: name }
      - { type: reply, text: "Thanks {{ vars.name }}" }
`)
	sim := sim.NewSimulator(set, nil)
	ctx := context.Background()
	if res, err := sim.Say(ctx, "QUIZ"); err != nil || res.Sent[0].Channel != "sms" {
		t.Fatalf("question: %v %+v", err, res.Sent)
	}
	sim.Channel = "whatsapp"
	res, err := sim.Say(ctx, "Ann")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Sent) != 1 || res.Sent[0].Channel != "whatsapp" || res.Sent[0].From != "+14155238886" {
		t.Fatalf("answer sent %+v, want it on WhatsApp from the WhatsApp number", res.Sent)
	}
}
