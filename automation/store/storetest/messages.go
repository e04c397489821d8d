package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/providers"
)

var messageCases = []testCase{
	{"message/round-trip", testMessageRoundTrip},
	{"message/copies", testMessageCopies},
	{"message/by-provider-id", testMessageByProviderID},
	{"message/newest-first", testMessagesNewestFirst},
	{"message/put-again", testMessagePutAgain},
}

var outboxCases = []testCase{
	{"outbox/oldest-first", testOutboxOrder},
	{"outbox/dequeue", testOutboxDequeue},
}

func testMessageRoundTrip(t *testing.T, s engine.Store) {
	want := &engine.Message{
		ID:          "m0001",
		Provider:    "twilio",
		ProviderID:  "SM0001",
		Direction:   engine.Outbound,
		Kind:        engine.KindText,
		Purpose:     engine.PurposeReply,
		Channel:     "whatsapp",
		Contact:     phoneA,
		From:        "+14155238886",
		To:          []string{phoneA},
		Subject:     "subject",
		Body:        "Welcome!",
		Media:       []string{"https://example.com/a.png"},
		Fields:      map[string]string{"NumSegments": "1"},
		Status:      engine.StatusFailed,
		Error:       "unreachable",
		ErrorCode:   30003,
		Reason:      "The number is unreachable",
		StaffText:   "m0002",
		Ref:         "K7Q2",
		Attempts:    3,
		NextAttempt: t0.Add(time.Minute),
		Sending:     t0.Add(2 * time.Second),
		Choices:     &providers.Choices{List: &providers.List{Button: "Sizes", Sections: []providers.Section{{Title: "Coffee", Rows: []providers.Choice{{ID: "SMALL", Title: "Small", Description: "8 oz"}}}}}},
		Button:      "AGENT",
		Typed:       "3",
		Enrollment:  "e0001",
		Automation:  "join",
		Step:        "ask",
		Answers:     "m0000",
		CreatedAt:   t0,
		UpdatedAt:   t0.Add(time.Second),
	}
	update(t, s, putMessages(want))
	got := read(t, s, func(tx engine.Tx) (*engine.Message, error) { return tx.Message("m0001") })
	if !sameMessage(got, want) {
		t.Errorf("Message = %+v, want %+v", got, want)
	}
}

func testMessageCopies(t *testing.T, s engine.Store) {
	m := message("m0001", phoneA)
	m.Fields = map[string]string{"Body": "JOIN"}
	update(t, s, putMessages(m))
	m.To[0] = "changed after put"
	m.Fields["Body"] = "changed after put"

	got := read(t, s, func(tx engine.Tx) (*engine.Message, error) { return tx.Message("m0001") })
	if got.To[0] != "+15005550006" || got.Fields["Body"] != "JOIN" {
		t.Fatalf("stored message follows the caller's value: %+v", got)
	}
	got.To[0], got.Fields["Body"], got.Body = "mutated", "mutated", "mutated"
	again := read(t, s, func(tx engine.Tx) ([]*engine.Message, error) { return tx.Messages(phoneA, 10) })
	if len(again) != 1 || again[0].To[0] != "+15005550006" || again[0].Fields["Body"] != "JOIN" || again[0].Body != "JOIN m0001" {
		t.Errorf("changing a returned message changed the store: %+v", again)
	}
}

func testMessageByProviderID(t *testing.T, s engine.Store) {
	in := message("m0001", phoneA)
	in.Provider, in.ProviderID = "twilio", "SM0001"
	out := message("m0002", phoneA)
	out.Direction, out.Status = engine.Outbound, engine.StatusQueued // no provider id until sent
	update(t, s, putMessages(in, out))

	byPID := func(provider, id string) (*engine.Message, error) {
		return tryRead(t, s, func(tx engine.Tx) (*engine.Message, error) { return tx.MessageByProviderID(provider, id) })
	}
	if got, err := byPID("twilio", "SM0001"); err != nil || got.ID != "m0001" {
		t.Errorf("MessageByProviderID(twilio, SM0001) = %v, %v; want m0001", got, err)
	}
	for _, k := range [][2]string{{"twilio", "SM0002"}, {"other", "SM0001"}, {"twilio", "SM000"}, {"twilio", ""}} {
		if got, err := byPID(k[0], k[1]); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("MessageByProviderID(%q, %q) = %v, %v; want ErrNotFound", k[0], k[1], got, err)
		}
	}

	// The provider accepts the outbound message and gives it an id.
	update(t, s, func(tx engine.Tx) error {
		m, err := tx.Message("m0002")
		if err != nil {
			return err
		}
		m.Provider, m.ProviderID, m.Status = "twilio", "SM0002", engine.StatusSent
		return tx.PutMessage(m)
	})
	if got, err := byPID("twilio", "SM0002"); err != nil || got.ID != "m0002" || got.Status != engine.StatusSent {
		t.Errorf("after send: MessageByProviderID(twilio, SM0002) = %+v, %v; want m0002, sent", got, err)
	}
	if got, err := byPID("twilio", "SM0001"); err != nil || got.ID != "m0001" {
		t.Errorf("after send: MessageByProviderID(twilio, SM0001) = %v, %v; want m0001", got, err)
	}
}

func testMessagesNewestFirst(t *testing.T, s engine.Store) {
	// Ids sort by creation time. phoneA is a prefix of phoneB.
	update(t, s, putMessages(message("m0003", phoneA), message("m0001", phoneA), message("m0006", phoneB)))
	update(t, s, putMessages(message("m0005", phoneA), message("m0002", phoneA), message("m0004", phoneA)))

	tests := []struct {
		contact string
		limit   int
		want    []string
	}{
		{phoneA, 3, []string{"m0005", "m0004", "m0003"}},
		{phoneA, 1, []string{"m0005"}},
		{phoneA, 100, []string{"m0005", "m0004", "m0003", "m0002", "m0001"}},
		{phoneB, 100, []string{"m0006"}},
		{phoneC, 100, nil},
	}
	for _, tt := range tests {
		got := read(t, s, func(tx engine.Tx) ([]*engine.Message, error) { return tx.Messages(tt.contact, tt.limit) })
		if !sameStrings(messageIDs(got), tt.want) {
			t.Errorf("Messages(%s, %d) = %v, want %v", tt.contact, tt.limit, messageIDs(got), tt.want)
		}
	}
}

func testMessagePutAgain(t *testing.T, s engine.Store) {
	m := message("m0001", phoneA)
	m.Status = engine.StatusQueued
	update(t, s, putMessages(m, message("m0002", phoneA)))
	m.Status = engine.StatusSent
	update(t, s, putMessages(m))

	got := read(t, s, func(tx engine.Tx) ([]*engine.Message, error) { return tx.Messages(phoneA, 100) })
	if !sameStrings(messageIDs(got), []string{"m0002", "m0001"}) {
		t.Fatalf("after putting m0001 again: Messages = %v, want [m0002 m0001]", messageIDs(got))
	}
	if got[1].Status != engine.StatusSent {
		t.Errorf("Messages returned m0001 with status %q, want the last put, %q", got[1].Status, engine.StatusSent)
	}
}

func testOutboxOrder(t *testing.T, s engine.Store) {
	enqueue := func(ids ...string) func(tx engine.Tx) error {
		return func(tx engine.Tx) error {
			for _, id := range ids {
				if err := tx.Enqueue(outbound(id, phoneA)); err != nil {
					return err
				}
			}
			return nil
		}
	}
	update(t, s, enqueue("m0003", "m0001", "m0005"))
	update(t, s, enqueue("m0002", "m0004", "m0001")) // m0001 twice: still queued once

	for _, tt := range []struct {
		after string
		limit int
		want  []string
	}{
		{"m0002", 100, []string{"m0003", "m0004", "m0005"}},
		{"m0002", 1, []string{"m0003"}},
		{"m00025", 100, []string{"m0003", "m0004", "m0005"}}, // a cursor that is not queued
		{"m0005", 100, nil},
	} {
		got := read(t, s, func(tx engine.Tx) ([]string, error) { return tx.Outbox(tt.after, tt.limit) })
		if !sameStrings(got, tt.want) {
			t.Errorf("Outbox(%q, %d) = %v, want %v", tt.after, tt.limit, got, tt.want)
		}
	}

	for _, tt := range []struct {
		limit int
		want  []string
	}{
		{100, []string{"m0001", "m0002", "m0003", "m0004", "m0005"}},
		{2, []string{"m0001", "m0002"}},
		{1, []string{"m0001"}},
	} {
		got := read(t, s, func(tx engine.Tx) ([]string, error) { return tx.Outbox("", tt.limit) })
		if !sameStrings(got, tt.want) {
			t.Errorf("Outbox(%d) = %v, want %v", tt.limit, got, tt.want)
		}
	}
}

func testOutboxDequeue(t *testing.T, s engine.Store) {
	update(t, s, func(tx engine.Tx) error {
		for _, id := range []string{"m0001", "m0002", "m0003", "m0004"} {
			if err := tx.Enqueue(outbound(id, phoneA)); err != nil {
				return err
			}
		}
		return nil
	})
	outbox := func() []string {
		t.Helper()
		return read(t, s, func(tx engine.Tx) ([]string, error) { return tx.Outbox("", 100) })
	}
	update(t, s, func(tx engine.Tx) error {
		if err := tx.Dequeue("m0001"); err != nil {
			return err
		}
		return tx.Dequeue("m0003")
	})
	if got := outbox(); !sameStrings(got, []string{"m0002", "m0004"}) {
		t.Errorf("after Dequeue m0001, m0003: Outbox = %v, want [m0002 m0004]", got)
	}
	if got := read(t, s, func(tx engine.Tx) ([]string, error) { return tx.Outbox("", 1) }); !sameStrings(got, []string{"m0002"}) {
		t.Errorf("after Dequeue: Outbox(1) = %v, want [m0002]", got)
	}
	update(t, s, func(tx engine.Tx) error {
		if err := tx.Dequeue("m0002"); err != nil {
			return err
		}
		return tx.Dequeue("m0004")
	})
	if got := outbox(); len(got) != 0 {
		t.Errorf("after dequeuing every message: Outbox = %v, want none", got)
	}
}
