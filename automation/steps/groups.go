package steps

import (
	"context"
	"slices"
	"strings"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

func init() {
	engine.Register("add_to_group", compileAddToGroup)
	engine.Register("remove_from_group", compileRemoveFromGroup)
}

// AddToGroup adds the contact to groups declared under `groups`. Joining a
// group the contact had left (unsubscribe with scope groups) lets scheduled
// sends to it reach the contact again.
//
//   - type: add_to_group
//     groups: [newsletter, vip]
type AddToGroup struct {
	Groups []string
}

// RemoveFromGroup takes the contact out of groups declared under `groups`.
//
//   - type: remove_from_group
//     groups: [trial]
type RemoveFromGroup struct {
	Groups []string
}

type groupFields struct {
	Groups []string `yaml:"groups"`
}

func compileAddToGroup(c *engine.Compiler, s *config.Step) (engine.Step, config.Problems) {
	var f groupFields
	c.Decode(s, &f)
	if len(f.Groups) == 0 {
		c.Problemf(s, "groups", "add_to_group needs groups: at least one group id")
	}
	return &AddToGroup{Groups: groupIDs(c, s, "groups", f.Groups)}, nil
}

func compileRemoveFromGroup(c *engine.Compiler, s *config.Step) (engine.Step, config.Problems) {
	var f groupFields
	c.Decode(s, &f)
	if len(f.Groups) == 0 {
		c.Problemf(s, "groups", "remove_from_group needs groups: at least one group id")
	}
	return &RemoveFromGroup{Groups: groupIDs(c, s, "groups", f.Groups)}, nil
}

// groupIDs checks the group ids found in field of s: each must be declared
// under groups, once. It returns the good ones.
func groupIDs(c *engine.Compiler, s *config.Step, field string, ids []string) []string {
	var out []string
	seen := map[string]int{}
	for i, id := range ids {
		at := engine.FieldIndex(field, i)
		switch first, dup := seen[id]; {
		case strings.TrimSpace(id) == "":
			c.Problemf(s, at, "%s is empty", at)
		case !c.Config.HasGroup(id):
			c.Problemf(s, at, "unknown group %q", id)
		case dup:
			c.Problemf(s, at, "%s repeats %s (%q)", at, engine.FieldIndex(field, first), id)
		default:
			seen[id] = i
			out = append(out, id)
		}
	}
	return out
}

// Execute adds the contact to the groups.
func (st *AddToGroup) Execute(_ context.Context, r *engine.Run) (engine.Outcome, error) {
	for _, g := range st.Groups {
		if r.Contact.InGroup(g) {
			r.Trace("already in group " + g)
		} else {
			r.Trace("added to group " + g)
		}
	}
	r.AddGroups(st.Groups...)
	return engine.Continue(), nil
}

// Execute takes the contact out of the groups.
func (st *RemoveFromGroup) Execute(_ context.Context, r *engine.Run) (engine.Outcome, error) {
	for _, g := range st.Groups {
		if r.Contact.InGroup(g) {
			r.Trace("removed from group " + g)
		} else {
			r.Trace("not in group " + g)
		}
	}
	r.RemoveGroups(st.Groups...)
	return engine.Continue(), nil
}

// leaveGroups takes r's contact out of groups and records them in
// Contact.LeftGroups, so that scheduled sends to those groups skip it until
// it joins again (Run.AddGroups clears them).
func leaveGroups(r *engine.Run, groups ...string) {
	r.RemoveGroups(groups...)
	c := r.Contact
	for _, g := range groups {
		if !slices.Contains(c.LeftGroups, g) {
			c.LeftGroups = append(c.LeftGroups, g)
		}
	}
}

var (
	_ engine.Step = (*AddToGroup)(nil)
	_ engine.Step = (*RemoveFromGroup)(nil)
)
