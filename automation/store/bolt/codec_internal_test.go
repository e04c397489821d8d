package bolt

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestDictionaryIsFrozen: values written with codecS2v1 decode only with
// this very dictionary. A new dictionary takes a new codec byte, and this
// one stays to read what was written with it.
func TestDictionaryIsFrozen(t *testing.T) {
	sum := sha256.Sum256([]byte(dictV1Text))
	if got := hex.EncodeToString(sum[:]); got != dictV1SHA256 {
		t.Fatalf("codecS2v1's dictionary changed (sha256 %s, was %s): files written with it would no longer read", got, dictV1SHA256)
	}
}

const dictV1SHA256 = "c2310e65c8d49a4ba61f19fa8ac0f0a527ce13695df514f9bd965941e6e88b21"
