package config

import (
	"bytes"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// yamlErrPlace is the place yaml.v3 puts at the start of a syntax error.
var yamlErrPlace = regexp.MustCompile(`^yaml: line (\d+): (?:column (\d+): )?`)

// maxSyntaxSearchBytes bounds the bytes placeSyntaxError parses again while
// it looks for the line a syntax error is about (a few hundred kB of YAML
// several times over takes a fraction of a second).
const maxSyntaxSearchBytes = 16 << 20

// SyntaxProblem turns a yaml.v3 syntax error met reading data, the content
// of file, into a Problem placed as a config's is (see syntaxProblem): for
// the other YAML files keyway reads, such as `keyway test` files.
func SyntaxProblem(file string, data []byte, err error) Problem {
	return *syntaxProblem(file, data, err)
}

// syntaxProblem turns a yaml.v3 syntax error in data into a Problem at the
// line where the file first goes wrong (see placeSyntaxError), or, failing
// that, at the line (and column) the error names, or at the file's start.
func syntaxProblem(file string, data []byte, err error) *Problem {
	named, msg := splitSyntaxError(err)
	p := &Problem{File: file, Pos: named, Message: "invalid YAML: " + msg}
	if pos, ok := placeSyntaxError(data, named.Line, msg); ok {
		p.Pos = pos
	}
	if strings.HasPrefix(msg, "did not find expected ','") && unquotedRefNear(data, named.Line, p.Pos.Line) {
		p.Message += `: a ${...} reference inside [ ] or { } must be quoted ("${NAME}"), as its braces end them`
	} else if hint := syntaxHint(msg, lineOf(data, p.Pos.Line)); hint != "" {
		p.Message += ": " + hint
	}
	return p
}

// valueWithColon is a line whose value, not quoted, holds ": " itself:
// `text: Note: we close at 5`.
var valueWithColon = regexp.MustCompile(`^\s*(?:-\s+)?[\w.-]+:\s+[^\s"'{\[|>#&*!][^#]*:(?:\s|$)`)

// unquotedLiquid is a line whose value starts with a Liquid {{ unquoted,
// which YAML reads as braces.
var unquotedLiquid = regexp.MustCompile(`^\s*(?:-\s+)?[\w.-]+:\s+\{\{`)

// syntaxHint says what in line, where a syntax error with message msg was
// placed, YAML took otherwise than the admin meant, for the mistakes met
// most: a tab in the indent, an unquoted value holding ": ", a quote left
// open, and a Liquid {{ at the start of a value that is not quoted. "" when
// line shows none of them.
func syntaxHint(msg, line string) string {
	switch {
	case strings.HasPrefix(msg, "found character that cannot start any token") &&
		strings.Contains(line[:len(line)-len(strings.TrimLeft(line, " \t"))], "\t"):
		return "YAML indents with spaces, and this line's indent holds a tab"
	case strings.HasPrefix(msg, "mapping values are not allowed") && valueWithColon.MatchString(line):
		return `a value that holds ": " must be quoted (text: "Note: we close at 5")`
	case strings.HasPrefix(msg, "found unexpected end of stream") && openQuote(line):
		return "a quote opened on this line is not closed"
	case unquotedLiquid.MatchString(line):
		return `a value that starts with {{ must be quoted (text: "{{ contact.name }}, welcome")`
	}
	return ""
}

// lineOf returns line n (from 1) of data, or "".
func lineOf(data []byte, n int) string {
	lines := strings.Split(string(data), "\n")
	if n < 1 || n > len(lines) {
		return ""
	}
	return strings.TrimSuffix(lines[n-1], "\r")
}

// openQuote reports whether line leaves a quote open: a " or ' that starts
// a quoted value (after a space, a colon, a comma or a bracket) and is not
// closed on the line. In YAML's double quotes \" is a quote kept; in single
// quotes a doubled single quote is one.
func openQuote(line string) bool {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case quote == '"' && c == '\\':
			i++
		case quote == '\'' && c == '\'' && i+1 < len(line) && line[i+1] == '\'':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '#' && (i == 0 || line[i-1] == ' '):
			return false
		case (c == '"' || c == '\'') && (i == 0 || strings.IndexByte(" :,[{", line[i-1]) >= 0):
			quote = c
		}
	}
	return quote != 0
}

// unquotedRefNear reports whether a line of data from line from to line to
// holds "${" outside quotes and comments: in a flow list or mapping, its
// braces are YAML's, which is why the collection did not close.
func unquotedRefNear(data []byte, from, to int) bool {
	lines := strings.Split(string(data), "\n")
	for n := max(min(from, to), 1); n <= to && n <= len(lines); n++ {
		if unquotedRef(lines[n-1]) {
			return true
		}
	}
	return false
}

// unquotedRef reports whether line holds "${" outside quotes and comments.
func unquotedRef(line string) bool {
	var quote rune
	for i, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'':
			quote = r
		case r == '#' && (i == 0 || line[i-1] == ' '):
			return false
		case r == '$' && strings.HasPrefix(line[i:], "${"):
			return true
		}
	}
	return false
}

// splitSyntaxError splits a yaml.v3 syntax error into the place it names
// (the file's start when it names none) and its message.
func splitSyntaxError(err error) (Pos, string) {
	msg := err.Error()
	pos := Pos{Line: 1, Col: 1}
	if m := yamlErrPlace.FindStringSubmatch(msg); m != nil {
		pos.Line, _ = strconv.Atoi(m[1])
		if m[2] != "" {
			pos.Col, _ = strconv.Atoi(m[2])
		}
		msg = msg[len(m[0]):]
	}
	return pos, strings.TrimPrefix(msg, "yaml: ")
}

// placeSyntaxError finds the line of data that a syntax error with message
// msg is about. yaml.v3 names the line where the enclosing mapping, list or
// braces start, and counts it from 0 for most errors: a key indented too far
// on line 9, in a mapping that starts on line 3, reads "line 2". The problem
// is placed instead at the first line, from the named one on, where the file
// cut after that line already fails with the same message, at that line's
// first character that is not a space.
func placeSyntaxError(data []byte, named int, msg string) (Pos, bool) {
	lines := bytes.SplitAfter(data, []byte("\n"))
	start := max(named, 1)
	end, parsed := 0, 0
	for n, line := range lines {
		end += len(line)
		if n+1 < start {
			continue
		}
		if parsed += end; parsed > maxSyntaxSearchBytes {
			return Pos{}, false
		}
		err := syntaxError(data[:end])
		if err == nil {
			continue
		}
		if _, m := splitSyntaxError(err); m != msg {
			continue
		}
		col := len(line) - len(bytes.TrimLeft(line, " ")) + 1
		if len(bytes.TrimSpace(line)) == 0 {
			col = 1
		}
		return Pos{Line: n + 1, Col: col}, true
	}
	return Pos{}, false
}

// syntaxError decodes data as parseYAML does, the document and the start of
// a second one, and returns the syntax error met, if any.
func syntaxError(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for range 2 {
		var doc yaml.Node
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
	}
	return nil
}
