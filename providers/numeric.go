package providers

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// NumericString is a value a provider writes as a string of digits (a
// phone number, a phone number id, a Unix timestamp) that a payload may
// also give as a JSON number: either is taken, as the digits written, so
// that a webhook is not refused or dropped for the quotes. Anything else
// (an object, an array, true) is an error, as it would be for a string.
type NumericString string

// UnmarshalJSON takes a JSON string, a JSON number or null.
func (n *NumericString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("providers: a string or a number: %w", err)
		}
		*n = NumericString(s)
		return nil
	}
	var num json.Number
	if err := json.Unmarshal(b, &num); err != nil {
		return fmt.Errorf("providers: %s is neither a string nor a number", b)
	}
	*n = NumericString(num.String())
	return nil
}
