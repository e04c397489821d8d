package keywords

import (
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Normalize returns s in the form keywords and messages are compared in:
//
//   - compatibility decomposition (Unicode NFKD), so "ﬁ" is "fi" and
//     full-width "ＪＯＩＮ" is "JOIN";
//   - combining marks (categories Mn and Me) and invisible format characters
//     (category Cf: zero-width spaces and joiners, byte order marks) removed,
//     so "Café" is "Cafe" and a keycap emoji "1️⃣" is "1";
//   - case folded (Unicode full case folding: "STRASSE" and "straße" are both
//     "strasse", "Σ", "σ" and "ς" are all "σ"), with one deliberate addition:
//     Turkish dotless "ı" folds to "i", so "KATIL" and "katıl" agree;
//   - punctuation and symbols (categories P and S, emoji among them) trimmed
//     from both ends of every word, while inner ones stay ("e-mail", "don't");
//     a word that is only punctuation or symbols disappears;
//   - white space and control characters between words collapsed to one
//     space, none at either end.
//
// Invalid UTF-8 bytes become U+FFFD, which counts as a symbol. The result is
// valid UTF-8 and Normalize(Normalize(s)) == Normalize(s). Normalize is safe
// for concurrent use; for text that is already normalised it returns s
// without allocating, and otherwise it allocates once for texts up to a few
// hundred bytes.
func Normalize(s string) string {
	var buf [256]byte
	out := buf[:0]
	var w words
	if isASCII(s) {
		for i := 0; i < len(s); i++ {
			out = w.byte(out, s[i])
		}
	} else {
		it := iters.Get().(*norm.Iter)
		it.InitString(norm.NFKD, s)
		for !it.Done() {
			seg := it.Next()
			for len(seg) > 0 {
				if c := seg[0]; c < utf8.RuneSelf {
					out = w.byte(out, c)
					seg = seg[1:]
					continue
				}
				r, n := utf8.DecodeRune(seg)
				seg = seg[n:]
				out = w.rune(out, r)
			}
		}
		iters.Put(it)
	}
	out = w.endWord(out)
	if string(out) == s {
		return s
	}
	return string(out)
}

// iters recycles NFKD iterators: one does not fit on the stack and would
// otherwise cost an allocation per message.
var iters = sync.Pool{New: func() any { return new(norm.Iter) }}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// words appends normalised words to a buffer in one pass. Leading
// punctuation of a word is dropped as it comes; trailing punctuation is
// written and cut off when the word ends, so inner punctuation survives. The
// buffer is passed in and returned rather than kept in the struct so that a
// stack array can back it.
type words struct {
	inWord bool // the current word has a letter or digit
	end    int  // length of the buffer just after the current word's last letter or digit
}

// byte takes one ASCII character.
func (w *words) byte(out []byte, c byte) []byte {
	switch {
	case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		return w.content(out, c)
	case 'A' <= c && c <= 'Z':
		return w.content(out, c+'a'-'A')
	case c <= ' ' || c == 0x7f: // ASCII space and control characters
		return w.endWord(out)
	default: // every other printable ASCII character is punctuation or a symbol
		if w.inWord {
			out = append(out, c)
		}
		return out
	}
}

// rune takes one non-ASCII rune of the NFKD form.
func (w *words) rune(out []byte, r rune) []byte {
	switch {
	case unicode.IsLetter(r):
		return w.letter(out, r)
	case unicode.IsSpace(r) || r <= 0x9f: // C1 control characters are U+0080 to U+009F
		return w.endWord(out)
	case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		return out // dropped
	case unicode.IsPunct(r) || unicode.IsSymbol(r): // U+FFFD from invalid bytes too
		if w.inWord {
			out = utf8.AppendRune(out, r)
		}
		return out
	default: // digits, spacing marks, private use, unassigned
		return w.contentRune(out, r)
	}
}

// letter case folds r and writes it. unicode.ToLower(unicode.ToUpper(r)) is
// Unicode simple case folding but for the letters handled before it, and the
// only full folding NFKD leaves to do is "ß" and "ẞ" to "ss". (x/text's
// cases.Fold is not used: it needs a Caser per goroutine, works on whole
// strings, and swaps Cherokee upper and lower case instead of folding them.)
func (w *words) letter(out []byte, r rune) []byte {
	switch {
	case r == 'ß' || r == 'ẞ':
		return w.content(w.content(out, 's'), 's')
	case r == 'ı': // dotless i: Unicode keeps it apart from i; we do not
		r = 'i'
	case 0x13A0 <= r && r <= 0x13FD || 0xAB70 <= r && r <= 0xABBF:
		r = unicode.ToUpper(r) // Cherokee folds to its upper case
	default:
		r = unicode.ToLower(unicode.ToUpper(r))
	}
	return w.contentRune(out, r)
}

// content writes an ASCII letter or digit.
func (w *words) content(out []byte, c byte) []byte {
	out = append(w.startWord(out), c)
	w.end = len(out)
	return out
}

// contentRune writes a letter or digit.
func (w *words) contentRune(out []byte, r rune) []byte {
	out = utf8.AppendRune(w.startWord(out), r)
	w.end = len(out)
	return out
}

// startWord writes the space before a word that is not the first.
func (w *words) startWord(out []byte) []byte {
	if !w.inWord {
		w.inWord = true
		if len(out) > 0 {
			out = append(out, ' ')
		}
	}
	return out
}

// endWord cuts the current word's trailing punctuation.
func (w *words) endWord(out []byte) []byte {
	if w.inWord {
		w.inWord = false
		out = out[:w.end]
	}
	return out
}
