package config

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Pos is a place in the configuration file; Line and Col start at 1.
type Pos struct {
	Line int
	Col  int
}

// Problem is one thing wrong with a configuration, at a place in its file.
// A warning marks a setting that runs but is likely incomplete.
type Problem struct {
	File    string
	Pos     Pos
	Message string
	Warning bool
}

// String renders the problem as FILE:LINE:COL: message, with "warning: "
// before the message of a warning.
func (p Problem) String() string {
	kind := ""
	if p.Warning {
		kind = "warning: "
	}
	return fmt.Sprintf("%s:%d:%d: %s%s", p.File, p.Pos.Line, p.Pos.Col, kind, p.Message)
}

// Problems is a list of configuration problems, in file order.
type Problems []Problem

// Errors returns the problems that are not warnings.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// Warnings returns the problems that are warnings.
func (ps Problems) Warnings() Problems {
	var out Problems
	for _, p := range ps {
		if p.Warning {
			out = append(out, p)
		}
	}
	return out
}

// Err returns nil when there is no error among the problems, else an error
// that lists them one a line.
func (ps Problems) Err() error {
	errs := ps.Errors()
	if len(errs) == 0 {
		return nil
	}
	return &Error{Problems: errs}
}

// Error is a configuration that cannot be used, with every problem found.
type Error struct {
	Problems Problems
}

// Error lists the problems one a line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return "config: invalid:\n" + strings.Join(lines, "\n")
}

// At returns where the node at path stands in the file, or the nearest
// enclosing node that has a place (the file's start when none does).
func (c *Config) At(path string) Pos {
	for p := path; ; {
		if pos, ok := c.pos[p]; ok {
			return pos
		}
		i := strings.LastIndexAny(p, ".[")
		if i <= 0 {
			return Pos{Line: 1, Col: 1}
		}
		p = p[:i]
	}
}

// Problemf builds an error Problem placed at the node at path.
func (c *Config) Problemf(path, format string, args ...any) Problem {
	return Problem{File: c.File, Pos: c.At(path), Message: fmt.Sprintf(format, args...)}
}

// ProblemInside builds an error Problem about the byte at offset in src,
// the value of the node at path: placed on that byte where the file holds
// src as written, in a literal block (|) or on one line unquoted or
// quoted, and at the node otherwise (an offset of -1, a value a variable
// or an escape changed before offset, a folded block).
func (c *Config) ProblemInside(path, src string, offset int, format string, args ...any) Problem {
	p := c.Problemf(path, format, args...)
	if pos, ok := c.insidePath(path, src, offset); ok {
		p.Pos = pos
	}
	return p
}

// ProblemInNode is ProblemInside for a value the caller decoded by hand
// from n, a node of the file (set_field's fields): placed on the byte at
// offset of src where the file shows it, at n otherwise.
func (c *Config) ProblemInNode(n *yaml.Node, src string, offset int, format string, args ...any) Problem {
	p := Problem{File: c.File, Pos: nodePos(n), Message: fmt.Sprintf(format, args...)}
	if pos, ok := c.inside(n.Style, nodePos(n), src, offset); ok {
		p.Pos = pos
	}
	return p
}

// insidePath is inside for the value at path.
func (c *Config) insidePath(path, src string, offset int) (Pos, bool) {
	style, ok := c.styles[path]
	at, known := c.pos[path]
	if !ok || !known {
		return Pos{}, false
	}
	return c.inside(style, at, src, offset)
}

// inside is where the byte at offset of src, a value of style at at,
// stands in the file, if the file shows it.
func (c *Config) inside(style yaml.Style, at Pos, src string, offset int) (Pos, bool) {
	if offset < 0 || offset >= len(src) {
		return Pos{}, false
	}
	k := strings.Count(src[:offset], "\n")
	lineStart := strings.LastIndexByte(src[:offset], '\n') + 1
	want, _, _ := strings.Cut(src[lineStart:], "\n") // the value's line that holds offset
	before := src[lineStart:offset]                  // its part before offset
	line := func(n int) (string, bool) {
		if n < 1 || n > len(c.lines) {
			return "", false
		}
		return strings.TrimSuffix(c.lines[n-1], "\r"), true
	}
	switch style {
	case yaml.LiteralStyle:
		// The value's line k is the file's line k after the one with |,
		// behind the block's indentation.
		raw, ok := line(at.Line + 1 + k)
		text := strings.TrimLeft(raw, " ")
		if !ok || text != want {
			return Pos{}, false
		}
		return Pos{Line: at.Line + 1 + k, Col: utf8.RuneCountInString(raw[:len(raw)-len(text)]) + 1 + utf8.RuneCountInString(before)}, true
	case 0, yaml.DoubleQuotedStyle, yaml.SingleQuotedStyle:
		raw, ok := line(at.Line)
		if !ok || k != 0 || strings.Contains(src, "\n") {
			return Pos{}, false
		}
		runes := []rune(raw)
		start := at.Col - 1 // where the value starts, behind its quote
		if style != 0 {
			start++
		}
		if start > len(runes) || !strings.HasPrefix(string(runes[start:]), before) {
			return Pos{}, false
		}
		return Pos{Line: at.Line, Col: start + 1 + utf8.RuneCountInString(before)}, true
	}
	return Pos{}, false
}

// Warningf builds a warning Problem placed at the node at path.
func (c *Config) Warningf(path, format string, args ...any) Problem {
	p := c.Problemf(path, format, args...)
	p.Warning = true
	return p
}
