package gateway

import (
	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/providers"
)

// numberRow is a sender number as the dashboard lists it: the provider it
// belongs to and whether that provider runs live.
type numberRow struct {
	Number, Channel, Provider string
	MPS                       float64
	Dev                       bool
}

// numberRows lists the config's sender numbers with their providers.
func (g *Gateway) numberRows() []numberRow {
	dev := map[string]bool{}
	for _, p := range g.providers {
		dev[p.Name()] = p.DevNotice() != ""
	}
	var rows []numberRow
	for _, n := range g.engine.Set().Config.Numbers() {
		rows = append(rows, numberRow{Number: n.Number, Channel: n.Channel, Provider: n.Provider, MPS: n.MPS, Dev: dev[n.Provider]})
	}
	return rows
}

// consoleURL returns the page of m in its provider's console, or "" when
// the provider has no such page: the dashboard links the provider id only
// where it leads somewhere.
func (g *Gateway) consoleURL(m *engine.Message) string {
	if m == nil || m.ProviderID == "" {
		return ""
	}
	for _, p := range g.providers {
		if p.Name() != m.Provider {
			continue
		}
		if l, ok := p.(providers.ConsoleLinker); ok {
			return l.ConsoleURL(m.ProviderID)
		}
	}
	return ""
}
