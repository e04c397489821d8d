package keywords

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// testIndex holds keywords whose values say which one matched.
func testIndex(t testing.TB) *Index[string] {
	t.Helper()
	ix := NewIndex[string]()
	for _, k := range []struct {
		keyword string
		match   Match
	}{
		{"JOIN", FirstWord},
		{"sign up", FirstWord},
		{"Sign up NOW", FirstWord},
		{"info", Exact},
		{"Café", FirstWord},
		{"help", FirstWord},
		{"help me", Exact},
		{"e-mail", FirstWord},
		{"a b c d e", FirstWord},
	} {
		if err := ix.Add(k.keyword, k.match, k.keyword); err != nil {
			t.Fatalf("Add(%q): %v", k.keyword, err)
		}
	}
	return ix
}

func TestIndexLookup(t *testing.T) {
	ix := testIndex(t)
	tests := []struct {
		name, text string
		want       string // the value; "" for no match
		keyword    string // the normalised keyword that matched
	}{
		{"first word alone", "join", "JOIN", "join"},
		{"first word, case and punctuation", "  Join!! ", "JOIN", "join"},
		{"first word then more", "JOIN please", "JOIN", "join"},
		{"first word then punctuation word", "join - now", "JOIN", "join"},
		{"longer word is no match", "joining", "", ""},
		{"word inside another is no match", "rejoin", "", ""},
		{"keyword not first is no match", "please join", "", ""},
		{"two-word keyword", "Sign up", "sign up", "sign up"},
		{"two-word keyword then more", "sign up later", "sign up", "sign up"},
		{"longest first-word keyword wins", "sign up now please", "Sign up NOW", "sign up now"},
		{"two-word keyword run together", "signup", "", ""},
		{"first word of two-word keyword", "sign", "", ""},
		{"two-word keyword hyphenated", "sign-up", "", ""},
		{"exact", "INFO?", "info", "info"},
		{"exact with more is no match", "info please", "", ""},
		{"exact beats shorter first word", "Help me!", "help me", "help me"},
		{"first word when exact does not match", "help me please", "help", "help"},
		{"first word alone next to exact", "help", "help", "help"},
		{"accent folded", "CAFÉ au lait", "Café", "cafe"},
		{"accent missing", "cafe", "Café", "cafe"},
		{"inner punctuation", "E-mail me", "e-mail", "e-mail"},
		{"five-word keyword", "a b c d e f", "a b c d e", "a b c d e"},
		{"five-word keyword cut short", "a b c d", "", ""},
		{"empty", "", "", ""},
		{"emoji only", "👍", "", ""},
		{"nothing", "hello there", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, k, ok := ix.Lookup(tt.text)
			if v != tt.want || k != tt.keyword || ok != (tt.want != "") {
				t.Errorf("Lookup(%q) = %q, %q, %v; want %q, %q, %v", tt.text, v, k, ok, tt.want, tt.keyword, tt.want != "")
			}
			v2, k2, ok2 := ix.LookupNormalized(Normalize(tt.text))
			if v2 != v || k2 != k || ok2 != ok {
				t.Errorf("LookupNormalized(Normalize(%q)) = %q, %q, %v; Lookup gave %q, %q, %v", tt.text, v2, k2, ok2, v, k, ok)
			}
		})
	}
}

func TestIndexAddConflict(t *testing.T) {
	tests := []struct {
		name          string
		first, second string
		firstMatch    Match
		secondMatch   Match
		keyword       string // the normalised keyword in the error
	}{
		{"accent", "Café", "cafe", FirstWord, FirstWord, "cafe"},
		{"punctuation", "JOIN!", "join", FirstWord, FirstWord, "join"},
		{"case and spaces", "Sign  Up", "sign up", FirstWord, FirstWord, "sign up"},
		{"full-width", "ＳＴＯＰ", "stop", Exact, Exact, "stop"},
		{"exact then first word", "info", "INFO", Exact, FirstWord, "info"},
		{"first word then exact", "info", "INFO", FirstWord, Exact, "info"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ix := NewIndex[int]()
			if err := ix.Add(tt.first, tt.firstMatch, 1); err != nil {
				t.Fatalf("Add(%q): %v", tt.first, err)
			}
			err := ix.Add(tt.second, tt.secondMatch, 2)
			var ce *ConflictError[int]
			if !errors.As(err, &ce) {
				t.Fatalf("Add(%q) after %q = %v, want a *ConflictError[int]", tt.second, tt.first, err)
			}
			if ce.Keyword != tt.keyword || ce.Existing != 1 {
				t.Errorf("conflict = {%q, %d}, want {%q, 1}", ce.Keyword, ce.Existing, tt.keyword)
			}
			if want := fmt.Sprintf("keywords: %q is already a keyword", tt.keyword); err.Error() != want {
				t.Errorf("error = %q, want %q", err.Error(), want)
			}
			// The index is unchanged: the first keyword, its value and its match.
			if ix.Len() != 1 {
				t.Errorf("Len() = %d, want 1", ix.Len())
			}
			if v, _, ok := ix.Lookup(tt.first); !ok || v != 1 {
				t.Errorf("Lookup(%q) = %d, %v; want 1, true", tt.first, v, ok)
			}
			if _, _, ok := ix.Lookup(tt.second + " more"); ok != (tt.firstMatch == FirstWord) {
				t.Errorf("Lookup(%q) ok = %v, want %v (the first keyword's match)", tt.second+" more", ok, tt.firstMatch == FirstWord)
			}
		})
	}
}

func TestIndexAddEmpty(t *testing.T) {
	for _, keyword := range []string{"", "   ", "!!!", "👍", "¿?", "\u200b"} {
		t.Run(fmt.Sprintf("%q", keyword), func(t *testing.T) {
			ix := NewIndex[int]()
			err := ix.Add(keyword, FirstWord, 1)
			if !errors.Is(err, ErrEmpty) {
				t.Fatalf("Add(%q) = %v, want ErrEmpty", keyword, err)
			}
			var ce *ConflictError[int]
			if errors.As(err, &ce) {
				t.Errorf("Add(%q) = %v, also a conflict", keyword, err)
			}
			if ix.Len() != 0 {
				t.Errorf("Len() = %d after a refused keyword", ix.Len())
			}
		})
	}
}

func TestIndexAddUnknownMatch(t *testing.T) {
	ix := NewIndex[int]()
	err := ix.Add("join", Match(7), 1)
	if err == nil || errors.Is(err, ErrEmpty) {
		t.Fatalf("Add with Match(7) = %v, want an unknown match error", err)
	}
	if ix.Len() != 0 {
		t.Errorf("Len() = %d after a refused keyword", ix.Len())
	}
}

func TestIndexHasLen(t *testing.T) {
	ix := testIndex(t)
	if got := ix.Len(); got != 9 {
		t.Errorf("Len() = %d, want 9", got)
	}
	tests := []struct {
		keyword string
		want    bool
	}{
		{"join", true},
		{"JOIN!", true},
		{"cafe", true},
		{"CAFÉ", true},
		{"info", true},
		{"sign up now", true},
		{"sign", false},
		{"joining", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.keyword, func(t *testing.T) {
			if got := ix.Has(tt.keyword); got != tt.want {
				t.Errorf("Has(%q) = %v, want %v", tt.keyword, got, tt.want)
			}
		})
	}
}

func TestIndexZeroValue(t *testing.T) {
	var ix Index[int]
	if _, _, ok := ix.Lookup("join"); ok {
		t.Error("empty index matched")
	}
	if err := ix.Add("join", FirstWord, 7); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if v, k, ok := ix.Lookup("join us"); !ok || v != 7 || k != "join" {
		t.Errorf("Lookup = %d, %q, %v; want 7, \"join\", true", v, k, ok)
	}
}

// TestIndexConcurrentLookup lets the race detector watch many readers.
func TestIndexConcurrentLookup(t *testing.T) {
	ix := testIndex(t)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				text := []string{"JOIN please", "Café", "sign up now", "help me", "nothing"}[(g+i)%5]
				if v, _, ok := ix.Lookup(text); ok == (text == "nothing") || (ok && v == "") {
					t.Errorf("Lookup(%q) = %q, %v", text, v, ok)
				}
				ix.Has(text)
			}
		})
	}
	wg.Wait()
}

func TestIndexLookupAllocs(t *testing.T) {
	ix := testIndex(t)
	text := Normalize("sign up now please")
	if got := testing.AllocsPerRun(100, func() { ix.LookupNormalized(text) }); got != 0 {
		t.Errorf("LookupNormalized allocates %v times, want 0", got)
	}
}

func TestParseMatch(t *testing.T) {
	tests := []struct {
		in      string
		want    Match
		wantErr bool
	}{
		{"", FirstWord, false},
		{"first_word", FirstWord, false},
		{"exact", Exact, false},
		{"EXACT", 0, true},
		{"first-word", 0, true},
		{"prefix", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseMatch(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("ParseMatch(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
			if err == nil && tt.in != "" && got.String() != tt.in {
				t.Errorf("ParseMatch(%q).String() = %q", tt.in, got.String())
			}
		})
	}
}

func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 1_000, 100_000} {
		ix := NewIndex[int]()
		for i := range n {
			// Every size has keywords of one, two and three words, so
			// lookups try the same number of prefixes.
			k := fmt.Sprintf("kw%d", i)
			switch i % 3 {
			case 1:
				k += " now"
			case 2:
				k += " right now"
			}
			if err := ix.Add(k, FirstWord, i); err != nil {
				b.Fatal(err)
			}
		}
		var texts []string
		for i := range 64 {
			j := i * n / 64 % n // spread over the whole index
			texts = append(texts,
				fmt.Sprintf("KW%d right now, please!", j), // a hit
				fmt.Sprintf("hello kw%d there", j),        // a miss
			)
		}
		b.Run(fmt.Sprintf("keywords=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ix.Lookup(texts[i%len(texts)])
				i++
			}
		})
		normalized := make([]string, len(texts))
		for i, text := range texts {
			normalized[i] = Normalize(text)
		}
		b.Run(fmt.Sprintf("normalized/keywords=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				ix.LookupNormalized(normalized[i%len(normalized)])
				i++
			}
		})
	}
}
