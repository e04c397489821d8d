package test

import (
	"net/http"
	"strings"
	"testing"
)

const routingConfig = `
automations:
  - id: quiz
    keywords: [QUIZ]
    overwrite_if_exists: false
    steps:
      - { type: reply, text: "Question 1?" }
      - { type: wait_for_reply, save_as: a1 }
      - { type: reply, text: "You said {{ vars.a1 }}" }
  - id: again
    keywords: [AGAIN]
    overwrite_if_exists: true
    steps:
      - { type: reply, text: "Start over: question 1?" }
      - { type: wait_for_reply, save_as: a1 }
      - { type: reply, text: "Again you said {{ vars.a1 }}" }
  - id: support
    catch_all: true
    steps:
      - { type: reply, text: "A person will answer soon." }
`

func TestOverwriteFalseLeavesEnrollmentAndDoesNotConsumeTheMessage(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, routingConfig)
	const from = "+15553330001"
	g.Text(Inbound{From: from, Body: "QUIZ"})
	repliesTo(t, g, from, 1)
	// The keyword again: the enrollment stays where it is, and the message
	// is not its answer.
	g.Text(Inbound{From: from, Body: "quiz"})
	g.Text(Inbound{From: from, Body: "blue"})
	got := repliesTo(t, g, from, 2)
	if got[1] != "You said blue" {
		t.Fatalf("replies %q", got)
	}
	g.Settled(t, from)
	if got := repliesToNow(g, from); len(got) != 2 {
		t.Fatalf("keyword while enrolled (overwrite false) restarted it: %q", got)
	}
}

func TestOverwriteTrueRestartsFromTheFirstStep(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, routingConfig)
	const from = "+15553330002"
	g.Text(Inbound{From: from, Body: "AGAIN"})
	repliesTo(t, g, from, 1)
	g.Text(Inbound{From: from, Body: "again"})
	repliesTo(t, g, from, 2)
	g.Text(Inbound{From: from, Body: "red"})
	got := repliesTo(t, g, from, 3)
	want := []string{"Start over: question 1?", "Start over: question 1?", "Again you said red"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("replies %q, want %q", got, want)
		}
	}
	ens := g.Enrollments("again", from)
	if len(ens) != 2 || ens[1].Status != "ended" || ens[1].EndReason == "" {
		t.Fatalf("enrollments %+v", ens)
	}
}

func TestCatchAllTakesWhatNothingElseTook(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, routingConfig)
	const from = "+15553330003"
	g.Text(Inbound{From: from, Body: "where is my order?"})
	if got := repliesTo(t, g, from, 1); got[0] != "A person will answer soon." {
		t.Fatalf("replies %q", got)
	}
	// YES from a contact that never opted out is no compliance event.
	g.Text(Inbound{From: from, Body: "YES"})
	if got := repliesTo(t, g, from, 2); got[1] != "A person will answer soon." {
		t.Fatalf("replies %q", got)
	}
}

func TestWhatsAppIsItsOwnChannel(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, routingConfig)
	const from = "+15553330004"
	g.Text(Inbound{From: from, Body: "QUIZ", Channel: "whatsapp", Media: []string{"https://media.test/a.jpg", "https://media.test/b.jpg"},
		Extra: map[string]string{"ProfileName": "Ann", "WaId": "15553330004"}})
	sent := g.Twilio.WaitSent(t, 1, patience)
	if sent[0].To != "whatsapp:"+from || sent[0].From != "whatsapp:"+OurWhatsApp {
		t.Fatalf("sent %+v", sent[0])
	}
	if c := g.Contact(from); c.Contact.Name != "Ann" {
		t.Fatalf("ProfileName not kept as name: %+v", c.Contact)
	}
	ms := g.Messages(from)
	in := ms[len(ms)-1]
	if in.Direction != "in" || in.Channel != "whatsapp" || len(in.Media) != 2 || in.Media[1] != "https://media.test/b.jpg" {
		t.Fatalf("stored inbound %+v", in)
	}
	for k, v := range map[string]string{"WaId": "15553330004", "ProfileName": "Ann", "MediaContentType0": "image/jpeg", "From": "whatsapp:" + from} {
		if in.Fields[k] != v {
			t.Errorf("stored field %s = %q, want %q", k, in.Fields[k], v)
		}
	}
}

func TestStatusCallbackUpdatesTheMessage(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, routingConfig)
	const from = "+15553330005"
	g.Text(Inbound{From: from, Body: "hello"})
	sent := g.Twilio.WaitSent(t, 1, patience)
	Eventually(t, patience, "the send recorded", func() bool {
		ms := g.Messages(from)
		return len(ms) == 2 && ms[0].Status == "sent"
	})
	form := map[string][]string{"MessageSid": {sent[0].SID}, "MessageStatus": {"delivered"}, "AccountSid": {g.Twilio.AccountSID}}
	if code, body := g.PostSigned("/webhooks/twilio/status", form); code != http.StatusOK {
		t.Fatalf("status callback: %d %s", code, body)
	}
	if ms := g.Messages(from); ms[0].Status != "delivered" {
		t.Fatalf("status %q", ms[0].Status)
	}
	// A late "sent" never moves it back.
	form["MessageStatus"] = []string{"sent"}
	g.PostSigned("/webhooks/twilio/status", form)
	if ms := g.Messages(from); ms[0].Status != "delivered" {
		t.Fatalf("status moved back to %q", ms[0].Status)
	}
}

func TestAdminAPINeedsTheToken(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, routingConfig)
	res, err := http.Get(g.URL + "/api/v1/automations")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token: %d, want 401", res.StatusCode)
	}
	var out struct {
		Automations []struct {
			ID                string `json:"id"`
			ActiveEnrollments int    `json:"active_enrollments"`
		}
	}
	g.Text(Inbound{From: "+15553330006", Body: "QUIZ"})
	Eventually(t, patience, "one active quiz enrollment", func() bool {
		if code := g.Admin(http.MethodGet, "/api/v1/automations", nil, &out); code != http.StatusOK {
			t.Fatalf("automations: %d", code)
		}
		return len(out.Automations) == 3 && out.Automations[0].ID == "quiz" && out.Automations[0].ActiveEnrollments == 1
	})
	ens := g.Enrollments("quiz", "")
	if code := g.Admin(http.MethodDelete, "/api/v1/enrollments/"+ens[0].ID, nil, nil); code != http.StatusOK {
		t.Fatalf("cancel: %d", code)
	}
	if ens := g.Enrollments("quiz", ""); ens[0].Status != "ended" {
		t.Fatalf("after cancel %+v", ens[0])
	}
	var started struct {
		Started int            `json:"started"`
		Skipped map[string]int `json:"skipped"`
	}
	if code := g.Admin(http.MethodPost, "/api/v1/automations/quiz/enrollments", map[string]any{"contacts": []string{"+15553330007"}}, &started); code != http.StatusAccepted {
		t.Fatalf("manual start: %d", code)
	}
	if started.Started != 1 {
		t.Fatalf("manual start %+v", started)
	}
	repliesTo(t, g, "+15553330007", 1)
}

func TestManualStartOnWhatsApp(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, routingConfig)
	// The contact wrote on WhatsApp, so the 24-hour window is open and the
	// quiz's free-form text may go (see whatsapp_window_test.go for a
	// contact that never wrote).
	g.Text(Inbound{From: "+15553330008", Channel: "whatsapp", Body: "hello"})
	g.Twilio.WaitSent(t, 1, patience)
	var started struct {
		Started int `json:"started"`
	}
	if code := g.Admin(http.MethodPost, "/api/v1/automations/quiz/enrollments", map[string]any{"contacts": []string{"whatsapp:+15553330008"}}, &started); code != http.StatusAccepted {
		t.Fatalf("manual start: %d", code)
	}
	sent := g.Twilio.WaitSent(t, 2, patience)
	if sent[1].To != "whatsapp:+15553330008" || sent[1].From != "whatsapp:"+OurWhatsApp || sent[1].Body != "Question 1?" {
		t.Fatalf("sent %+v, want the question on WhatsApp", sent[1])
	}
	if c := g.Contact("whatsapp:+15553330008"); c.Contact.Phone != "+15553330008" {
		t.Fatalf("contact %+v", c.Contact)
	}
}

// The admin API reads JSON whatever the Content-Type says (curl's default
// is a form).
func TestAdminAPIReadsJSONWhateverTheContentType(t *testing.T) {
	t.Parallel()
	g := StartGateway(t, routingConfig)
	req, _ := http.NewRequest(http.MethodPost, g.URL+"/api/v1/automations/quiz/enrollments",
		strings.NewReader(`{"contacts": ["+15553330009", "+15553330009"]}`))
	req.Header.Set("Authorization", "Bearer "+AdminToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("status %d, want 202", res.StatusCode)
	}
	repliesTo(t, g, "+15553330009", 1)
	// The start is committed before the 202: once what it queued is done,
	// a second start would have shown.
	g.Settled(t, "+15553330009")
	if got := repliesToNow(g, "+15553330009"); len(got) != 1 {
		t.Fatalf("a contact listed twice got %q", got)
	}
	if ens := g.Enrollments("quiz", "+15553330009"); len(ens) != 1 {
		t.Fatalf("a contact listed twice has %d enrollments: %+v", len(ens), ens)
	}
}
