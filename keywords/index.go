package keywords

import (
	"errors"
	"fmt"
	"strings"
)

// ErrEmpty is returned, wrapped with the keyword, by [Index.Add] for a
// keyword with nothing left after normalisation, such as "!!!" or "👍".
var ErrEmpty = errors.New("keywords: keyword is empty after normalisation")

// ConflictError is returned by [Index.Add] for a keyword that normalises to
// one already in the index, whatever either one's [Match]. Existing is the
// value the earlier keyword was added with, so a caller can name both owners.
type ConflictError[T any] struct {
	Keyword  string // the normalised keyword both share
	Existing T
}

// Error says which keyword is taken, e.g. `keywords: "cafe" is already a keyword`.
func (e *ConflictError[T]) Error() string {
	return fmt.Sprintf("keywords: %q is already a keyword", e.Keyword)
}

// Index finds the keyword a message matches. It is built with [Index.Add]
// when the configuration loads and only read afterwards: [Index.Lookup],
// [Index.LookupNormalized], [Index.Has] and [Index.Len] are safe to call
// from many goroutines at once, but Add is not safe to call concurrently
// with any method. A reload builds a new Index rather than changing one in
// use.
//
// A lookup costs a few hash map probes, however many keywords there are: one
// for the whole message, and one for each of its first n words, where n is
// the number of words of the longest [FirstWord] keyword.
//
// The zero Index is empty and ready to use.
type Index[T any] struct {
	keys     map[string]entry[T] // by normalised keyword
	maxWords int                 // words in the longest FirstWord keyword
}

type entry[T any] struct {
	value T
	match Match
}

// NewIndex returns an empty index.
func NewIndex[T any]() *Index[T] {
	return &Index[T]{keys: make(map[string]entry[T])}
}

// Add adds keyword, compared with messages as m says, with the value v that
// lookups return. It fails with [ErrEmpty] when keyword normalises to
// nothing, and with a [*ConflictError] when a keyword normalising to the same
// text is already there; either way the index is unchanged.
func (ix *Index[T]) Add(keyword string, m Match, v T) error {
	if m != FirstWord && m != Exact {
		return fmt.Errorf("keywords: %q has an unknown match %v", keyword, m)
	}
	k := Normalize(keyword)
	if k == "" {
		return fmt.Errorf("%w: %q", ErrEmpty, keyword)
	}
	if e, ok := ix.keys[k]; ok {
		return &ConflictError[T]{Keyword: k, Existing: e.value}
	}
	if ix.keys == nil {
		ix.keys = make(map[string]entry[T])
	}
	ix.keys[k] = entry[T]{value: v, match: m}
	if n := strings.Count(k, " ") + 1; m == FirstWord && n > ix.maxWords {
		ix.maxWords = n
	}
	return nil
}

// Lookup normalises text and returns the value of the keyword it matches,
// that keyword in normalised form, and whether there was one. See
// [Index.LookupNormalized] for which keyword wins.
func (ix *Index[T]) Lookup(text string) (v T, keyword string, ok bool) {
	return ix.LookupNormalized(Normalize(text))
}

// LookupNormalized is [Index.Lookup] for text that [Normalize] returned, so
// that a caller checking several indexes normalises once. A keyword equal to
// the whole text wins, whatever its [Match]; otherwise the [FirstWord]
// keyword with the most words that the text starts with. The returned
// keyword shares memory with text.
func (ix *Index[T]) LookupNormalized(text string) (v T, keyword string, ok bool) {
	if e, found := ix.keys[text]; found {
		return e.value, text, true
	}
	// Try the text's first 1..maxWords words, cut at the spaces between
	// them; the longest that is a FirstWord keyword wins.
	end := 0
	for n := 0; n < ix.maxWords; n++ {
		i := strings.IndexByte(text[end:], ' ')
		if i < 0 {
			break // the whole text, tried above
		}
		end += i
		if e, found := ix.keys[text[:end]]; found && e.match == FirstWord {
			v, keyword, ok = e.value, text[:end], true
		}
		end++
	}
	return v, keyword, ok
}

// Has reports whether a keyword normalising like keyword is in the index.
func (ix *Index[T]) Has(keyword string) bool {
	_, ok := ix.keys[Normalize(keyword)]
	return ok
}

// Len returns the number of keywords in the index.
func (ix *Index[T]) Len() int {
	return len(ix.keys)
}
