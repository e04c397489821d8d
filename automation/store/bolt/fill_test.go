package bolt_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/engine"
)

// Densely packed pages keep every message readable and in order: messages
// written in id order, some out of it, then many of the older ones grown
// by an update (which splits full pages), are all listed newest first, each
// as last written.
func TestPackedPagesKeepOrder(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	msg := func(i int, body string) *engine.Message {
		return &engine.Message{ID: fmt.Sprintf("%016x", 1000+i), Direction: engine.Inbound, Kind: engine.KindText,
			Contact: "+15550000001", From: "+15550000001", To: []string{"+15005550006"}, Body: body, Status: engine.StatusReceived,
			CreatedAt: t0.Add(time.Duration(i) * time.Second)}
	}
	const n = 600
	order := make([]int, 0, n)
	for i := range n {
		order = append(order, i)
	}
	// Every tenth pair swapped: some keys arrive before smaller ones.
	for i := 0; i+1 < n; i += 10 {
		order[i], order[i+1] = order[i+1], order[i]
	}
	for from := 0; from < n; from += 100 {
		if err := s.Update(ctx, func(tx engine.Tx) error {
			for _, i := range order[from : from+100] {
				if err := tx.PutMessage(msg(i, strings.Repeat("x", 700))); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{}
	for i := range n {
		want[msg(i, "").ID] = strings.Repeat("x", 700)
	}
	if err := s.Update(ctx, func(tx engine.Tx) error {
		for i := 0; i < n; i += 3 {
			m := msg(i, strings.Repeat("y", 900))
			want[m.ID] = m.Body
			if err := tx.PutMessage(m); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var got []*engine.Message
	if err := s.View(ctx, func(tx engine.Tx) error {
		var err error
		got, err = tx.MessagesPage("", 0)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d messages listed, want %d", len(got), n)
	}
	for i, m := range got {
		if i > 0 && m.ID >= got[i-1].ID {
			t.Fatalf("message %d (%s) listed after %s", i, m.ID, got[i-1].ID)
		}
		if m.Body != want[m.ID] {
			t.Fatalf("message %s: body of %d bytes, want %d", m.ID, len(m.Body), len(want[m.ID]))
		}
	}
}
