package providers_test

import (
	"encoding/json"
	"testing"

	"github.com/keyway-sms/keyway/providers"
)

// A NumericString takes a string or a number as the digits written, null
// as empty, and refuses anything else.
func TestNumericString(t *testing.T) {
	for in, want := range map[string]string{`"1683229471"`: "1683229471", `1683229471`: "1683229471", `"+15550001234"`: "+15550001234", `null`: "", `"US.1349"`: "US.1349"} {
		var v struct {
			N providers.NumericString `json:"n"`
		}
		if err := json.Unmarshal([]byte(`{"n":`+in+`}`), &v); err != nil || string(v.N) != want {
			t.Errorf("%s read as %q (%v), want %q", in, v.N, err, want)
		}
	}
	for _, in := range []string{`{}`, `[1]`, `true`} {
		var v struct {
			N providers.NumericString `json:"n"`
		}
		if err := json.Unmarshal([]byte(`{"n":`+in+`}`), &v); err == nil {
			t.Errorf("%s read as %q, want an error", in, v.N)
		}
	}
}
