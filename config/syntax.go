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
	}
	return p
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
