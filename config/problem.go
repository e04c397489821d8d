package config

import (
	"fmt"
	"strings"
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

// Warningf builds a warning Problem placed at the node at path.
func (c *Config) Warningf(path, format string, args ...any) Problem {
	p := c.Problemf(path, format, args...)
	p.Warning = true
	return p
}
