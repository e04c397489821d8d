package engine

import (
	"errors"
	"fmt"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/keyway-sms/keyway/config"
)

// Expr is a condition, compiled once at load time: an expr-lang expression
// over the names templates see (contact, message, vars, http, automation,
// enrollment, now) that gives a bool. A name outside those is a load-time
// problem; a field that is not there is nil, also below another missing
// field (vars.crm.json.score is nil before the call), so that comparing it
// is false rather than an error.
type Expr struct {
	src  string
	prog *vm.Program
}

// String returns the expression's source.
func (x *Expr) String() string { return x.src }

// exprEnv declares the names an expression may use (Names), with the
// types that Run.Bindings gives them.
var exprEnv = zeroBindings()

// Expr compiles the boolean expression src found in field of s; an error is
// a problem placed there, on the place in src it is about where expr or
// the names check says (config.Config.ProblemInside), with expr's message,
// and nil is returned.
func (c *Compiler) Expr(s *config.Step, field, src string) *Expr {
	prog, err := expr.Compile(src, expr.Env(exprEnv), expr.AsBool(), expr.Patch(nilSafeMembers{}), expr.Patch(missingIsEmpty{}))
	if err != nil {
		offset := -1
		var fe *file.Error
		if errors.As(err, &fe) {
			offset = byteOffset(src, fe.From)
		}
		c.problemInside(s, field, src, offset, "%s%s", exprMessage(err), unknownNameHint(err))
		return nil
	}
	// expr knows the top-level names, but below them are maps, where
	// contact.feilds would quietly be nil.
	paths, offsets := exprNames(src)
	if msg, first := c.checkNames(paths, nil, false); msg != "" {
		c.problemInside(s, field, src, offsets[first], "%s", msg)
		return nil
	}
	return &Expr{src: src, prog: prog}
}

// Eval evaluates the expression against the run's bindings. An error (a
// type mismatch, an index out of range) is the caller's to turn into an
// outcome.
func (x *Expr) Eval(r *Run) (bool, error) {
	out, err := expr.Run(x.prog, r.Bindings())
	if err != nil {
		return false, fmt.Errorf("expression %q: %s", x.src, exprMessage(err))
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("expression %q gave %T, not a bool", x.src, out)
	}
	return b, nil
}

// unknownNameHint is " (did you mean message?)" when err is expr's
// "unknown name mesage" and a name is close, else "".
func unknownNameHint(err error) string {
	var fe *file.Error
	if !errors.As(err, &fe) {
		return ""
	}
	name, ok := strings.CutPrefix(fe.Message, "unknown name ")
	if !ok {
		return ""
	}
	if hint := didYouMean(name, nameKeys()); hint != "" {
		return " (" + strings.TrimSpace(hint) + ")"
	}
	return ""
}

// exprMessage is expr's message on one line, with the column it points at.
func exprMessage(err error) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		if fe.Column > 0 || fe.Line > 1 {
			return fmt.Sprintf("%s (at %d:%d of the expression)", fe.Message, fe.Line, fe.Column+1)
		}
		return fe.Message
	}
	return err.Error()
}

// missingIsEmpty has a field compared with a string read as "" when it
// is not there, as templates render it: contact.fields.name != "" is
// false for a contact whose name was never set (nil != "" would be true).
// It rewrites such an operand x as (x ?? "").
type missingIsEmpty struct{}

// Visit implements ast.Visitor.
func (missingIsEmpty) Visit(n *ast.Node) {
	b, ok := (*n).(*ast.BinaryNode)
	if !ok || (b.Operator != "==" && b.Operator != "!=") {
		return
	}
	_, leftString := b.Left.(*ast.StringNode)
	_, rightString := b.Right.(*ast.StringNode)
	orEmpty := func(x ast.Node) ast.Node {
		switch x.(type) {
		case *ast.MemberNode, *ast.ChainNode:
			return &ast.BinaryNode{Operator: "??", Left: x, Right: &ast.StringNode{Value: ""}}
		}
		return x
	}
	switch {
	case rightString && !leftString:
		b.Left = orEmpty(b.Left)
	case leftString && !rightString:
		b.Right = orEmpty(b.Right)
	}
}

// nilSafeMembers makes every member access below another one optional, as
// if written a?.b?.c: a missing map entry gives nil instead of failing the
// next access. Method calls (now.Hour()) are left alone.
type nilSafeMembers struct{}

// Visit implements ast.Visitor.
func (nilSafeMembers) Visit(n *ast.Node) {
	m, ok := (*n).(*ast.MemberNode)
	if !ok || m.Method || m.Optional {
		return
	}
	if _, top := m.Node.(*ast.IdentifierNode); top {
		return // contact, vars... are never nil
	}
	m.Optional = true
	ast.Patch(n, &ast.ChainNode{Node: m})
}
