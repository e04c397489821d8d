package config

import (
	"fmt"
	"regexp"
	"strconv"
)

// stepPath matches the node path of an automation or one of its steps in a
// problem's message.
var stepPath = regexp.MustCompile(`automations\[(\d+)\](?:\.steps\[(\d+)\])?(\.)?`)

// oneBased rewrites the automation and step paths in the messages of ps the
// way every other message names them, with positions from 1:
// automations[0].steps[1].text becomes `automation "join" step 2 field
// text`, and automations[3] without an id `automation 4`. Node paths count from 0;
// people count steps from 1, as validate, the engine ("#2") and the
// simulator do.
func (c *Config) oneBased(ps Problems) Problems {
	for i := range ps {
		ps[i].Message = stepPath.ReplaceAllStringFunc(ps[i].Message, func(m string) string {
			sub := stepPath.FindStringSubmatch(m)
			a, _ := strconv.Atoi(sub[1])
			out := fmt.Sprintf("automation %d", a+1)
			if a < len(c.Automations) && c.Automations[a].ID != "" {
				out = fmt.Sprintf("automation %q", c.Automations[a].ID)
			}
			if sub[2] != "" {
				s, _ := strconv.Atoi(sub[2])
				out += fmt.Sprintf(" step %d", s+1)
			}
			if sub[3] != "" {
				out += " field "
			}
			return out
		})
	}
	return ps
}
