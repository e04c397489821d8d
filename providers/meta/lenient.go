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

// typeOf is a message's type: its type field, or when that is missing the
// one object it carries (text, interactive, button, a media, location or
// contacts), so that a message is not dropped for the field Meta always
// writes; "" when it carries none of them.
func typeOf(msg message) string {
	if msg.Type != "" {
		return msg.Type
	}
	switch {
	case msg.Text.Body != "":
		return "text"
	case msg.Interactive.Type != "":
		return "interactive"
	case msg.Button.Payload != "" || msg.Button.Text != "":
		return "button"
	case msg.Image != nil:
		return "image"
	case msg.Audio != nil:
		return "audio"
	case msg.Video != nil:
		return "video"
	case msg.Document != nil:
		return "document"
	case msg.Sticker != nil:
		return "sticker"
	case msg.Location != nil:
		return "location"
	case len(msg.Contacts) > 0:
		return "contacts"
	}
	return ""
}
