package engine

import (
	"strings"
	"unicode/utf8"

	"github.com/keyway-sms/keyway/config"
)

// SMS encodings Segments reports.
const (
	EncodingGSM7 = "GSM-7"
	EncodingUCS2 = "UCS-2"
)

// gsm7Basic is the GSM 03.38 default alphabet (each character one septet);
// gsm7Extension is its extension table (each character an escape and a
// septet, so two).
const (
	gsm7Basic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsm7Extension = "\f^{}\\[~]|€"
)

// Sizes of SMS segments: a single message holds 160 GSM-7 septets or 70
// UCS-2 code units; the parts of a longer one give up room to the header
// that joins them.
const (
	gsm7Single = 160
	gsm7Part   = 153
	ucs2Single = 70
	ucs2Part   = 67
)

// Segments returns how many SMS segments text takes and the encoding it
// goes in: GSM-7 when every character is in the GSM 03.38 alphabet or its
// extension table (whose characters count double), else UCS-2, counted in
// UTF-16 code units. A text longer than one segment is split into parts of
// 153 septets or 67 code units, never splitting an escape pair or a
// surrogate pair. The empty text takes 0 segments.
func Segments(text string) (segments int, encoding string) {
	if text == "" {
		return 0, EncodingGSM7
	}
	if units, ok := gsm7Units(text); ok {
		return split(units, gsm7Single, gsm7Part), EncodingGSM7
	}
	return split(ucs2Units(text), ucs2Single, ucs2Part), EncodingUCS2
}

// gsm7Units returns the septets each character of text takes, or false
// when a character is not in GSM-7.
func gsm7Units(text string) ([]int, bool) {
	units := make([]int, 0, len(text))
	for _, c := range text {
		switch {
		case strings.ContainsRune(gsm7Basic, c):
			units = append(units, 1)
		case strings.ContainsRune(gsm7Extension, c):
			units = append(units, 2)
		default:
			return nil, false
		}
	}
	return units, true
}

// ucs2Units returns the UTF-16 code units each character of text takes.
func ucs2Units(text string) []int {
	units := make([]int, 0, len(text))
	for _, c := range text {
		if c > 0xFFFF {
			units = append(units, 2)
		} else {
			units = append(units, 1)
		}
	}
	return units
}

// split counts the segments of characters of the given sizes: one if they
// fit in single, else parts of at most part, each character whole.
func split(units []int, single, part int) int {
	total := 0
	for _, u := range units {
		total += u
	}
	if total <= single {
		return 1
	}
	parts, used := 1, 0
	for _, u := range units {
		if used+u > part {
			parts++
			used = 0
		}
		used += u
	}
	return parts
}

// WarnSegments warns when the fixed text found in field of s takes more
// than one SMS segment, since carriers bill each one.
func (c *Compiler) WarnSegments(s *config.Step, field string, t *Template) {
	if t == nil || !t.Static() {
		return
	}
	n, enc := Segments(t.String())
	if n > 1 {
		c.Warnf(s, field, "text is %d SMS segments (%s, %d characters); carriers bill each segment",
			n, enc, utf8.RuneCountInString(t.String()))
	}
}
