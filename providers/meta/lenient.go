package meta

import (
	"encoding/json"

	"github.com/keyway-sms/keyway/providers"
)

// numeric is a value Meta writes as a string of digits that a payload may
// also give as a JSON number.
type numeric = providers.NumericString

// idOf is the id of a message or status that cannot be read as a whole,
// for the record of why it was skipped; "" when even that cannot be read.
func idOf(raw json.RawMessage) string {
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &v)
	return v.ID
}
