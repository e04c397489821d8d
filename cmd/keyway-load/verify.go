package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"
)

// verdict is what the check after a drive found.
type verdict struct {
	Accepted      int
	ExpectedSends int
	NotStored     []string // accepted MessageSids the admin API does not show
	Missing       []string // accepted messages whose reply was never sent
	Twice         []string // messages answered more often than they ask for
	Duplicates    int      // the texts sent beyond what was asked for, in all
	Unexpected    []string // sends nobody should have got (an unmatched message answered, an unknown tag)
	Queued        int      // outbound messages still queued when the check gave up waiting
	Unreadable    int      // contacts the admin API could not show
	Refused       int      // requests the fake provider refused (bad auth, path or form)
}

// OK says whether every accepted message is stored and every expected
// reply was sent exactly once.
func (v verdict) OK() bool {
	return len(v.NotStored) == 0 && len(v.Missing) == 0 && len(v.Twice) == 0 && len(v.Unexpected) == 0 && v.Queued == 0 && v.Unreadable == 0 && v.Refused == 0
}

// String sums the verdict up in one line, with a few examples of each fault.
func (v verdict) String() string {
	if v.OK() {
		return fmt.Sprintf("verified: %d accepted messages stored, %d replies sent exactly once, nothing else sent", v.Accepted, v.ExpectedSends)
	}
	ex := func(s []string) string {
		if len(s) > 3 {
			return fmt.Sprintf("%v...", s[:3])
		}
		return fmt.Sprint(s)
	}
	return fmt.Sprintf("VERIFY FAILED: %d accepted; not stored %d %s; reply missing %d %s; sent twice %d %s (%d texts too many); unexpected %d %s; still queued %d; contacts unreadable %d; refused by the provider %d",
		v.Accepted, len(v.NotStored), ex(v.NotStored), len(v.Missing), ex(v.Missing), len(v.Twice), ex(v.Twice), v.Duplicates,
		len(v.Unexpected), ex(v.Unexpected), v.Queued, v.Unreadable, v.Refused)
}

// stored is what the admin API shows of one contact.
type stored struct {
	Inbound map[string]bool // tags of the stored inbound messages
	Queued  int             // outbound messages not yet settled
	Err     error           // the admin API could not show it
}

// check compares what was posted with what keyway stored and what the fake
// provider was asked to send. A message that was not accepted may or may not
// have been handled, so it is only checked for being answered at most once.
func check(posted []sent, store map[string]stored, counts map[sendKey]int) verdict {
	var v verdict
	seen := map[sendKey]bool{}
	for _, s := range posted {
		key := sendKey{Tag: s.SID, To: s.From}
		seen[key] = true
		n, want := counts[key], s.Kind.replies()
		if n > max(want, 1) {
			v.Twice = append(v.Twice, s.SID)
			v.Duplicates += n - max(want, 1)
		}
		if s.Status != http.StatusOK {
			continue
		}
		v.Accepted++
		v.ExpectedSends += want
		if !store[s.From].Inbound[s.SID] {
			v.NotStored = append(v.NotStored, s.SID)
		}
		switch {
		case n < want:
			v.Missing = append(v.Missing, s.SID)
		case want == 0 && n > 0:
			v.Unexpected = append(v.Unexpected, s.SID)
		}
	}
	for key := range counts {
		if !seen[key] {
			v.Unexpected = append(v.Unexpected, key.Tag+" to "+key.To)
		}
	}
	for _, st := range store {
		v.Queued += st.Queued
		if st.Err != nil {
			v.Unreadable++
		}
	}
	for _, l := range [][]string{v.NotStored, v.Missing, v.Twice, v.Unexpected} {
		sort.Strings(l)
	}
	return v
}

// allSent reports whether the fake has every reply the accepted messages
// of posted expect (want of them in all). Counting the fake's texts is not
// enough: a webhook a kill cut off may still have been handled and
// answered, and its reply would stand in for one still to come (a wait's
// reminder, say).
func allSent(posted []sent, want int, fake *fakeProvider) bool {
	if fake.Total() < want {
		return false
	}
	counts, _ := fake.Snapshot()
	for _, s := range posted {
		if s.Status == http.StatusOK && counts[sendKey{Tag: s.SID, To: s.From}] < s.Kind.replies() {
			return false
		}
	}
	return true
}

// verify waits until the fake has received the expected sends (or patience
// runs out), then until keyway shows no queued outbound message for any
// sender, and checks the whole run. It returns the verdict and when the
// sends were all in.
func verify(ctx context.Context, target string, res *loadResult, fake *fakeProvider, patience time.Duration) (verdict, time.Time) {
	want := 0
	senders := map[string]bool{}
	for _, s := range res.Sent {
		senders[s.From] = true
		if s.Status == http.StatusOK {
			want += s.Kind.replies()
		}
	}
	deadline := time.Now().Add(patience)
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for !allSent(res.Sent, want, fake) && time.Now().Before(deadline) && ctx.Err() == nil {
		select {
		case <-poll.C:
		case <-ctx.Done():
		}
	}
	drained := time.Now()
	var store map[string]stored
	for {
		store = fetchStored(ctx, target, senders)
		queued := 0
		for _, st := range store {
			queued += st.Queued
		}
		if queued == 0 || !time.Now().Before(deadline) || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
		}
	}
	counts, refused := fake.Snapshot()
	v := check(res.Sent, store, counts)
	v.Refused = refused
	return v, drained
}

// fetchStored reads every sender's messages from the admin API, eight at a
// time. A contact the API cannot show counts as storing nothing.
func fetchStored(ctx context.Context, target string, senders map[string]bool) map[string]stored {
	out := make(map[string]stored, len(senders))
	var mu sync.Mutex
	jobs := make(chan string)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for phone := range jobs {
				st := stored{Inbound: map[string]bool{}}
				msgs, err := contactMessages(ctx, target, phone)
				st.Err = err
				for _, m := range msgs {
					switch {
					case m.Direction == "in":
						st.Inbound[lastWord(m.Body)] = true
					case m.Status == "queued":
						st.Queued++
					}
				}
				mu.Lock()
				out[phone] = st
				mu.Unlock()
			}
		}()
	}
	for phone := range senders {
		jobs <- phone
	}
	close(jobs)
	wg.Wait()
	return out
}

// adminMessage is the part of a stored message the check reads.
type adminMessage struct {
	Direction string `json:"direction"`
	Body      string `json:"body"`
	Status    string `json:"status"`
}

// contactMessages is GET /api/v1/contacts/{phone}/messages; a contact
// keyway does not know has none.
func contactMessages(ctx context.Context, target, phone string) ([]adminMessage, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		target+"/api/v1/contacts/"+url.PathEscape(phone)+"/messages?limit=100000", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("admin API: messages of %s: %w", phone, err)
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		// No such contact: a sender whose only webhooks a kill cut off
		// before they were stored. Nothing is stored for it, which the
		// check holds against what was accepted.
		return nil, nil
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("admin API: messages of %s: status %d", phone, res.StatusCode)
	}
	var out struct{ Messages []adminMessage }
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("admin API: messages of %s: %w", phone, err)
	}
	return out.Messages, nil
}
