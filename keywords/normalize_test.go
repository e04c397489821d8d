package keywords

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", ""},
		{"only spaces", " \t\n ", ""},
		{"already normal", "join now", "join now"},
		{"upper case", "JOIN", "join"},
		{"mixed case", "JoIn NoW", "join now"},
		{"accent", "Café", "cafe"},
		{"spaces and trailing punctuation", "  JOIN   now!! ", "join now"},
		{"full stop", "STOP.", "stop"},
		{"tilde and acute", "Ñandú", "nandu"},
		{"ligature", "ﬁn", "fin"},
		{"full-width", "ＪＯＩＮ", "join"},
		{"half-width katakana", "ｶﾀｶﾅ", "カタカナ"},
		{"decomposed accent", "Cafe\u0301", "cafe"},
		{"sharp s", "straße", "strasse"},
		{"capital sharp s", "STRAẞE", "strasse"},
		{"STRASSE", "STRASSE", "strasse"},
		{"vietnamese", "Tiếng VIỆT", "tieng viet"},
		{"polish: stroke is no accent", "Zażółć GĘŚLĄ", "zazołc gesla"},
		{"greek with tonos", "ΚΑΛΗΜΈΡΑ", "καλημερα"},
		{"greek final sigma", "Σοφός", "σοφοσ"},
		{"cyrillic", "ПРИВЕТ Ёлка", "привет елка"},
		{"turkish dotted capital", "İSTANBUL", "istanbul"},
		{"turkish dotless i", "katıl KATIL", "katil katil"},
		{"arabic harakat", "مَرْحَبًا", "مرحبا"},
		{"hebrew niqqud", "שָׁלוֹם", "שלום"},
		{"kelvin sign", "\u212A", "k"},
		{"telephone sign", "℡", "tel"},
		{"circled digits", "①②", "12"},
		{"tabs and newlines", "join\tnow\r\nplease\n", "join now please"},
		{"no-break and ideographic space", "join\u00a0now\u3000please", "join now please"},
		{"line separator", "join\u2028now", "join now"},
		{"control character", "join\x00now", "join now"},
		{"exclamation", "JOIN!", "join"},
		{"inverted exclamation", "¡join", "join"},
		{"quotes", "'join'", "join"},
		{"curly quotes", "“Join”", "join"},
		{"brackets", "[join] (now)", "join now"},
		{"currency and math symbols", "$join+ =now", "join now"},
		{"inner hyphen kept", "E-MAIL", "e-mail"},
		{"inner apostrophe kept", "Don't!", "don't"},
		{"dotted abbreviation", "A.B.C.", "a.b.c"},
		{"punctuation-only word dropped", "join - now", "join now"},
		{"only punctuation", "?!...", ""},
		{"emoji only", "👍", ""},
		{"emoji with variation selector", "❤️", ""},
		{"emoji zwj sequence", "👨\u200d👩\u200d👧", ""},
		{"flag", "🇺🇸", ""},
		{"skin tone", "👋🏽", ""},
		{"emoji around word", "🎉🎉 JOIN 🎉", "join"},
		{"emoji inside word kept", "join👍now", "join👍now"},
		{"keycap", "1️⃣", "1"},
		{"zero-width space dropped", "jo\u200bin", "join"},
		{"byte order mark dropped", "\ufeffJOIN", "join"},
		{"invalid utf-8 at end", "join\xff", "join"},
		{"invalid utf-8 inside", "a\xffb", "a\ufffdb"},
		{"digits", "Reply 2", "reply 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Normalize(tt.in); got != tt.want {
				t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeSameForms(t *testing.T) {
	tests := []struct {
		name string
		a, b string
	}{
		{"sharp s", "STRASSE", "straße"},
		{"composed and decomposed", "Ñandú", "N\u0303andu\u0301"},
		{"sigmas", "ΣΟΦΟΣ", "σοφος"},
		{"cherokee cases", "\u13A0\u13F0", "\uAB70\u13F8"},
		{"long s", "ſtop", "STOP"},
		{"micro and mu", "µ", "μ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a, b := Normalize(tt.a), Normalize(tt.b); a != b {
				t.Errorf("Normalize(%q) = %q, Normalize(%q) = %q, want equal", tt.a, a, tt.b, b)
			}
		})
	}
}

// TestNormalizeEveryRune checks every assigned code point (and a sample of
// the rest), alone and between two letters, against a slow reference built
// from x/text's own NFKD and case folding, and checks that Normalize is
// idempotent on it.
func TestNormalizeEveryRune(t *testing.T) {
	assigned := []*unicode.RangeTable{unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.Cc, unicode.Cf}
	bad := 0
	for r := rune(0); r <= unicode.MaxRune && bad < 20; r++ {
		if 0xD800 <= r && r <= 0xDFFF {
			continue // surrogates cannot be in UTF-8
		}
		if r%1024 != 0 && !unicode.In(r, assigned...) {
			continue // unassigned and private use: a sample is enough
		}
		for _, in := range []string{string(r), "a" + string(r) + "a"} {
			got := Normalize(in)
			if want := reference(in); got != want {
				t.Errorf("Normalize(%q) (%U) = %q, reference %q", in, r, got, want)
				bad++
			}
			if again := Normalize(got); again != got {
				t.Errorf("Normalize(%q) = %q, but Normalize(%q) = %q", in, got, got, again)
				bad++
			}
		}
	}
}

// reference is Normalize spelled out with whole-string transforms. Unicode's
// caseless matching folds and decomposes twice; so does this.
func reference(s string) string {
	drop := func(r rune) rune {
		if unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf) {
			return -1
		}
		return r
	}
	dotless := func(r rune) rune { // Normalize's deliberate departure from Unicode
		if r == 'ı' {
			return 'i'
		}
		return r
	}
	cherokee := func(r rune) rune { // cases.Fold swaps Cherokee cases instead of folding them
		if unicode.Is(unicode.Cherokee, r) {
			return unicode.ToUpper(r)
		}
		return r
	}
	s = strings.Map(drop, norm.NFKD.String(s))
	s = strings.Map(cherokee, cases.Fold().String(strings.Map(dotless, s)))
	s = strings.Map(drop, norm.NFKD.String(s))
	var words []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) {
		w = strings.TrimFunc(w, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) })
		if w != "" {
			words = append(words, w)
		}
	}
	return strings.Join(words, " ")
}

func TestNormalizeAllocs(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want float64
	}{
		{"already normal", "join now", 0},
		{"ascii", "  JOIN now!", 1},
		{"unicode", "Café au LAIT ❤️", 1},
		{"already normal unicode", "cafe ñ", 1}, // ñ decomposes
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Normalize(tt.in) // fill the iterator pool
			if got := testing.AllocsPerRun(100, func() { Normalize(tt.in) }); got != tt.want {
				t.Errorf("Normalize(%q) allocates %v times, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{
		"", "Café", "  JOIN   now!! ", "ﬁn", "ＪＯＩＮ", "straße", "e-mail", "👨\u200d👩\u200d👧",
		"a\xffb", "Σοφός", "¡join", "1️⃣", "ǅ", "\u0345", "ΐ", "한국어", "a . b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Normalize(s)
		if !utf8.ValidString(out) {
			t.Fatalf("Normalize(%q) = %q, not valid UTF-8", s, out)
		}
		if again := Normalize(out); again != out {
			t.Fatalf("Normalize(%q) = %q, but Normalize(%q) = %q", s, out, out, again)
		}
		if strings.HasPrefix(out, " ") || strings.HasSuffix(out, " ") || strings.Contains(out, "  ") {
			t.Fatalf("Normalize(%q) = %q: stray spaces", s, out)
		}
		for _, w := range strings.Split(out, " ") {
			if w == "" {
				continue // out is ""
			}
			first, _ := utf8.DecodeRuneInString(w)
			last, _ := utf8.DecodeLastRuneInString(w)
			if edge(first) || edge(last) || strings.ContainsFunc(w, unicode.IsSpace) {
				t.Fatalf("Normalize(%q) = %q: word %q not trimmed", s, out, w)
			}
		}
	})
}

func edge(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) }

func BenchmarkNormalize(b *testing.B) {
	benchmarks := []struct {
		name, in string
	}{
		{"normal", "join now"},
		{"ascii", "  JOIN now please!! "},
		{"accents", "Café au LAIT, s'il vous plaît"},
		{"emoji", "🎉 JOIN 🎉"},
		{"sms", strings.Repeat("Hello, I'd like to JOIN the newsletter. ", 4)},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Normalize(bm.in)
			}
		})
	}
}
