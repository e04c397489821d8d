package meta

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// numeric is a value Meta writes as a string of digits (a phone number, a
// phone number id, a Unix timestamp) that a payload may also give as a
// JSON number: either is taken, as the digits written. Anything else (an
// object, an array, true) is an error, as it would be for a string.
type numeric string

// UnmarshalJSON takes a JSON string, a JSON number or null.
func (n *numeric) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = numeric(s)
		return nil
	}
	var num json.Number
	if err := json.Unmarshal(b, &num); err != nil {
		return fmt.Errorf("meta: %s is neither a string nor a number", b)
	}
	*n = numeric(num.String())
	return nil
}

// idOf is the id of a message or status that cannot be read as a whole,
// for the record of why it was skipped; "" when even that cannot be read.
func idOf(raw json.RawMessage) string {
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &v)
	return v.ID
}
