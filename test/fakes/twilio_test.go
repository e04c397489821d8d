package fakes

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twilio/twilio-go/client"
)

// post sends a Messages API request to the fake.
func post(t *testing.T, f *Twilio, sid, user, pass string, form url.Values) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.URL()+"/2010-04-01/Accounts/"+sid+"/Messages.json", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(user, pass)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("answer is not JSON: %v", err)
	}
	return res, body
}

func TestTwilio(t *testing.T) {
	msg := url.Values{"To": {"+14155552671"}, "From": {"+15005550006"}, "Body": {"hi"},
		"MediaUrl": {"https://a.example/1", "https://a.example/2"}, "StatusCallback": {"https://cb.example/s"}}
	tests := []struct {
		name       string
		sid, user  string
		pass       string
		form       url.Values
		fail       [3]int // n, status, code for FailNext
		wantStatus int
		wantCode   float64
	}{
		{name: "accepted", form: msg, wantStatus: 201},
		{name: "wrong token", pass: "nope", form: msg, wantStatus: 401, wantCode: 20003},
		{name: "wrong user", user: "ACbad", form: msg, wantStatus: 401, wantCode: 20003},
		{name: "other account in path", sid: "ACother", form: msg, wantStatus: 404, wantCode: 20404},
		{name: "no To", form: url.Values{"From": {"+15005550006"}, "Body": {"hi"}}, wantStatus: 400, wantCode: 21604},
		{name: "no body", form: url.Values{"To": {"+14155552671"}, "From": {"+15005550006"}}, wantStatus: 400, wantCode: 21602},
		{name: "scripted failure", form: msg, fail: [3]int{1, 400, 21610}, wantStatus: 400, wantCode: 21610},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewTwilio(t)
			sid, user, pass := DefaultAccountSID, DefaultAccountSID, DefaultAuthToken
			if tt.sid != "" {
				sid = tt.sid
			}
			if tt.user != "" {
				user = tt.user
			}
			if tt.pass != "" {
				pass = tt.pass
			}
			if tt.fail[0] > 0 {
				f.FailNext(tt.fail[0], tt.fail[1], tt.fail[2])
			}
			res, body := post(t, f, sid, user, pass, tt.form)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%v)", res.StatusCode, tt.wantStatus, body)
			}
			if f.Requests() != 1 {
				t.Errorf("Requests() = %d, want 1", f.Requests())
			}
			if tt.wantStatus != 201 {
				if body["code"] != tt.wantCode || body["status"] != float64(tt.wantStatus) {
					t.Errorf("error body = %v, want code %v and status %d", body, tt.wantCode, tt.wantStatus)
				}
				if n := len(f.Sent()); n != 0 {
					t.Errorf("recorded %d messages after a failure", n)
				}
				return
			}
			sent := f.WaitSent(t, 1, time.Second)
			m := sent[0]
			if body["sid"] != m.SID || !strings.HasPrefix(m.SID, "SM") || len(m.SID) != 34 || body["status"] != "queued" {
				t.Errorf("answer %v does not match recorded %+v", body, m)
			}
			if m.To != "+14155552671" || m.From != "+15005550006" || m.Body != "hi" ||
				len(m.Media) != 2 || m.Media[1] != "https://a.example/2" || m.StatusCallback != "https://cb.example/s" || m.At.IsZero() {
				t.Errorf("recorded %+v", m)
			}
			sent[0].Media[0] = "changed"
			if f.Sent()[0].Media[0] == "changed" {
				t.Error("Sent returns the fake's own slices")
			}
		})
	}
}

func TestTwilioFailNextCounts(t *testing.T) {
	f := NewTwilio(t)
	f.FailNext(2, 503, 0)
	form := url.Values{"To": {"+14155552671"}, "From": {"+15005550006"}, "Body": {"hi"}}
	var statuses []int
	for range 3 {
		res, _ := post(t, f, DefaultAccountSID, DefaultAccountSID, DefaultAuthToken, form)
		statuses = append(statuses, res.StatusCode)
	}
	if statuses[0] != 503 || statuses[1] != 503 || statuses[2] != 201 {
		t.Errorf("statuses = %v, want [503 503 201]", statuses)
	}
	if f.Requests() != 3 || len(f.Sent()) != 1 {
		t.Errorf("Requests() = %d, Sent() = %d, want 3 and 1", f.Requests(), len(f.Sent()))
	}
}

func TestTwilioWaitSentFails(t *testing.T) {
	f := NewTwilio(t)
	rec := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.WaitSent(rec, 1, 30*time.Millisecond)
	}()
	<-done
	if !rec.failed || !strings.Contains(rec.msg, "got 0") {
		t.Errorf("WaitSent did not fail the test as expected: failed=%v msg=%q", rec.failed, rec.msg)
	}
}

// recorder catches Fatalf so that a failing WaitSent can be tested.
type recorder struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = true
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestSignedForm(t *testing.T) {
	form := url.Values{"MessageSid": {"SM1"}, "Body": {"hi there"}}
	body, sig := SignedForm("tok", "https://sms.example.com/", "/webhooks/twilio?x=1", form)
	if body != form.Encode() {
		t.Errorf("body = %q, want %q", body, form.Encode())
	}
	v := client.NewRequestValidator("tok")
	if !v.Validate("https://sms.example.com/webhooks/twilio?x=1", map[string]string{"MessageSid": "SM1", "Body": "hi there"}, sig) {
		t.Errorf("signature %q does not validate", sig)
	}
}

func TestUnstartedFakeCloses(t *testing.T) {
	t.Run("never started", func(t *testing.T) {
		f := NewTwilio(t)
		if f.Requests() != 0 || len(f.Sent()) != 0 {
			t.Error("a new fake has history")
		}
	})
}
