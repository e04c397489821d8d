package engine

import (
	"bytes"
	"strings"
	"unicode/utf8"

	json "github.com/goccy/go-json"
)

// RecordJSON is the JSON a store writes for the record v (a contact,
// message, enrollment or timer): json.Marshal's, except that each NUL
// character (U+0000) in its strings becomes U+FFFD, the replacement
// character. A provider or the admin API may hand keyway any string, and
// PostgreSQL's jsonb refuses U+0000, so every store writes this, and a
// record reads back the same from each: the NUL marked, not dropped, and
// nothing else changed.
//
// It is encoding/json's output, byte for byte (TestRecordJSONIsEncodingJSONs),
// written by goccy/go-json, which a profile showed at 2 to 3 times the speed:
// stores encode and decode records on their write path, bbolt's on its one
// commit goroutine.
func RecordJSON(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return replaceNUL(raw), nil
}

// replaceNUL rewrites each JSON escape \u0000 in raw, in place, as \ufffd
// (as long): the escape, not a backslash-escaped backslash followed by
// "u0000", which is text.
func replaceNUL(raw []byte) []byte {
	esc := []byte(`\u0000`)
	for i := 0; ; {
		j := bytes.Index(raw[i:], esc)
		if j < 0 {
			return raw
		}
		at := i + j
		slashes := 0
		for k := at - 1; k >= 0 && raw[k] == '\\'; k-- {
			slashes++
		}
		if slashes%2 == 0 {
			copy(raw[at:], `\ufffd`)
		}
		i = at + len(esc)
	}
}

// RecordText returns s as a record written with RecordJSON reads it back:
// each NUL and each byte that is not UTF-8 as U+FFFD, the rest as it was.
// A store keys its indexes of a record's strings (a contact's tags) with
// it, so that an index says what the record read back says.
func RecordText(s string) string {
	clean := true
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == 0 || (r == utf8.RuneError && n == 1) {
			clean = false
			break
		}
		i += n
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == 0 || (r == utf8.RuneError && n == 1) {
			r = utf8.RuneError
		}
		b.WriteRune(r)
		i += n
	}
	return b.String()
}

// RecordTexts returns RecordText of each of ss, ss itself when none
// changes.
func RecordTexts(ss []string) []string {
	for i, s := range ss {
		if t := RecordText(s); t != s {
			out := make([]string, len(ss))
			copy(out, ss[:i])
			for j := i; j < len(ss); j++ {
				out[j] = RecordText(ss[j])
			}
			return out
		}
	}
	return ss
}

// DecodeRecord decodes a record a store wrote with RecordJSON (or an
// earlier keyway wrote with encoding/json) into v, as json.Unmarshal does.
func DecodeRecord(raw []byte, v any) error {
	return json.Unmarshal(raw, v)
}
