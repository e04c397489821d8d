package keywords

import "fmt"

// Match is how a keyword is compared with a message, the automation's
// `match` setting.
type Match int

const (
	// FirstWord matches a message whose first words are the keyword: "join"
	// matches "join", "JOIN please" and "Join! now", but not "joining". It is
	// the default.
	FirstWord Match = iota
	// Exact matches a message that is the keyword and nothing else, after
	// normalisation: "join" matches "JOIN!" but not "join please".
	Exact
)

// ParseMatch reads a `match` setting: "first_word" or "" (the default) for
// [FirstWord], "exact" for [Exact].
func ParseMatch(s string) (Match, error) {
	switch s {
	case "first_word", "":
		return FirstWord, nil
	case "exact":
		return Exact, nil
	}
	return 0, fmt.Errorf("keywords: unknown match %q (want first_word or exact)", s)
}

// String returns the setting's spelling in the configuration file.
func (m Match) String() string {
	switch m {
	case FirstWord:
		return "first_word"
	case Exact:
		return "exact"
	}
	return fmt.Sprintf("Match(%d)", int(m))
}
