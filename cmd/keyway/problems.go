package main

import (
	"sort"

	"github.com/keyway-sms/keyway/config"
)

// sortProblems puts problems in file order.
func sortProblems(ps config.Problems) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Pos.Line != ps[j].Pos.Line {
			return ps[i].Pos.Line < ps[j].Pos.Line
		}
		return ps[i].Pos.Col < ps[j].Pos.Col
	})
}
