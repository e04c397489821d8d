package twilio

import (
	"math/rand/v2"
	"net/url"
	"strconv"
	"sync"
	"testing"
)

// TestSignerVerifyPublishedVectors checks the pooled check against Twilio's
// published signatures, for the exact URL and for the URL with or without
// its default port.
func TestSignerVerifyPublishedVectors(t *testing.T) {
	repeated, err := url.ParseQuery(repeatedBody)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, url string
		form      url.Values
		sig       string
		want      bool
	}{
		{"example", vectorURL, vectorParams, vectorSignature, true},
		{"repeated parameter", vectorURL, repeated, repeatedSignature, true},
		{"signed with :443, called without", vectorURL, vectorParams, "kvajT1Ptam85bY51eRf/AJRuM3w=", true},
		{"signed without the port, called with :443", "https://mycompany.com:443/myapp.php?foo=1&bar=2", vectorParams, vectorSignature, true},
		{"another token's", vectorURL, vectorParams, Sign("54321", vectorURL, vectorParams), false},
		{"truncated", vectorURL, vectorParams, vectorSignature[:27], false},
		{"padded", vectorURL, vectorParams, vectorSignature + "=", false},
		{"empty", vectorURL, vectorParams, "", false},
	}
	var s signer
	for _, tt := range tests {
		for range 2 { // the second time on pooled state
			if got := s.verify(vectorToken, tt.url, tt.form, tt.sig); got != tt.want {
				t.Errorf("%s: verify = %v, want %v", tt.name, got, tt.want)
			}
		}
	}
}

// TestSignerVerifyAgreesWithSign checks, from many goroutines sharing one
// signer, that the pooled check accepts exactly what Sign signs: random
// forms (repeated parameters, empty values, many fields) verify, and the
// same forms with one value changed, added or dropped do not. Run with
// -race, it also proves that no state leaks between concurrent checks.
func TestSignerVerifyAgreesWithSign(t *testing.T) {
	const token = "authtoken0123456789"
	var s signer
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			for i := range 300 {
				form := url.Values{}
				for range rng.IntN(20) {
					name := "F" + strconv.Itoa(rng.IntN(12))
					form.Add(name, strconv.Itoa(rng.IntN(4)))
				}
				u := "https://sms.example.com/webhooks/twilio?n=" + strconv.Itoa(i)
				sig := Sign(token, u, form)
				if !s.verify(token, u, form, sig) {
					t.Errorf("verify refuses Sign's signature of %v", form)
					return
				}
				changed := url.Values{}
				for k, v := range form {
					changed[k] = append([]string(nil), v...)
				}
				switch rng.IntN(3) {
				case 0:
					changed.Add("F0", "new value")
				case 1:
					changed.Set("Extra", "")
				default:
					for k := range changed {
						changed.Del(k)
						break
					}
					if len(form) == 0 {
						changed.Set("Body", "x")
					}
				}
				if s.verify(token, u, changed, sig) && Sign(token, u, changed) != sig {
					t.Errorf("verify accepts %v with the signature of %v", changed, form)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestSignerVerifyAnotherToken checks that a signer keyed with one token
// checks a signature made with another against that other token, not
// against its pooled states.
func TestSignerVerifyAnotherToken(t *testing.T) {
	var s signer
	if !s.verify(vectorToken, vectorURL, vectorParams, vectorSignature) {
		t.Fatal("the published vector does not verify")
	}
	other := Sign("54321", vectorURL, vectorParams)
	if !s.verify("54321", vectorURL, vectorParams, other) {
		t.Error("a signature with another token does not verify against it")
	}
	if s.verify("54321", vectorURL, vectorParams, vectorSignature) {
		t.Error("the signature of the first token verifies against another")
	}
	if !s.verify(vectorToken, vectorURL, vectorParams, vectorSignature) {
		t.Error("the first token's signature no longer verifies")
	}
}
