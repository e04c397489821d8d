package vonage_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyway-sms/keyway/providers"
	"github.com/keyway-sms/keyway/providers/vonage"
)

// A webhook JWT is refused with 401 when it is expired, not valid yet,
// issued in the future or more than a day ago (exp or not), has no iat,
// is signed with another secret or with another
// algorithm (HS512, RS256, none), or carries no payload_hash; one with the
// right secret and hash is taken, with or without exp and nbf.
func TestJWTChecks(t *testing.T) {
	body := []byte(inboundSMS)
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	now := time.Now()
	token := func(method jwt.SigningMethod, key any, c jwt.MapClaims) string {
		s, err := jwt.NewWithClaims(method, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + s
	}
	hs := func(secret string, c jwt.MapClaims) string { return token(jwt.SigningMethodHS256, []byte(secret), c) }
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		label, auth string
		ok          bool
	}{
		{"good", hs(sigSecret, jwt.MapClaims{"iat": now.Unix(), "payload_hash": hash}), true},
		{"good, with exp ahead", hs(sigSecret, jwt.MapClaims{"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "payload_hash": hash}), true},
		{"expired", hs(sigSecret, jwt.MapClaims{"iat": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix(), "payload_hash": hash}), false},
		{"issued in the future", hs(sigSecret, jwt.MapClaims{"iat": now.Add(time.Hour).Unix(), "payload_hash": hash}), false},
		{"issued a minute ahead (clock skew)", hs(sigSecret, jwt.MapClaims{"iat": now.Add(time.Minute).Unix(), "payload_hash": hash}), true},
		{"issued 23 hours ago (a retry with the first attempt's token)", hs(sigSecret, jwt.MapClaims{"iat": now.Add(-23 * time.Hour).Unix(), "payload_hash": hash}), true},
		{"issued 25 hours ago, no exp", hs(sigSecret, jwt.MapClaims{"iat": now.Add(-25 * time.Hour).Unix(), "payload_hash": hash}), false},
		{"issued 25 hours ago, exp ahead", hs(sigSecret, jwt.MapClaims{"iat": now.Add(-25 * time.Hour).Unix(), "exp": now.Add(time.Hour).Unix(), "payload_hash": hash}), false},
		{"no iat", hs(sigSecret, jwt.MapClaims{"payload_hash": hash}), false},
		{"no iat, exp ahead", hs(sigSecret, jwt.MapClaims{"exp": now.Add(time.Hour).Unix(), "payload_hash": hash}), false},
		{"another secret", hs("not-the-secret", jwt.MapClaims{"iat": now.Unix(), "payload_hash": hash}), false},
		{"good, with nbf behind", hs(sigSecret, jwt.MapClaims{"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "payload_hash": hash}), true},
		{"not valid yet (nbf ahead)", hs(sigSecret, jwt.MapClaims{"iat": now.Unix(), "nbf": now.Add(time.Hour).Unix(), "payload_hash": hash}), false},
		{"exp not a number", hs(sigSecret, jwt.MapClaims{"iat": now.Unix(), "exp": "tomorrow", "payload_hash": hash}), false},
		{"HS512", token(jwt.SigningMethodHS512, []byte(sigSecret), jwt.MapClaims{"iat": now.Unix(), "payload_hash": hash}), false},
		{"RS256", token(jwt.SigningMethodRS256, rsaKey, jwt.MapClaims{"iat": now.Unix(), "payload_hash": hash}), false},
		{"alg none", token(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"iat": now.Unix(), "payload_hash": hash}), false},
		{"no payload_hash", hs(sigSecret, jwt.MapClaims{"iat": now.Unix()}), false},
		{"not bearer", "Basic " + hash, false},
	}
	p := build(t, "http://127.0.0.1:1", false)
	route := p.Routes()[0]
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			req := &providers.Request{URL: "https://keyway.example" + vonage.InboundPath, Header: http.Header{"Authorization": {c.auth}}, Body: body}
			b, err := providers.ParseWebhook(p, route, req)
			if c.ok {
				if err != nil || len(b.Messages) != 1 {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if !errors.Is(err, providers.ErrUnauthorized) || providers.WebhookStatus(err) != http.StatusUnauthorized {
				t.Fatalf("err = %v (answer %d), want a 401", err, providers.WebhookStatus(err))
			}
		})
	}
}
