package config

import (
	"strings"
	"testing"
)

func TestStaffNumbersAreNormalisedAndChecked(t *testing.T) {
	src := `providers: { twilio: { numbers: [ { number: "+15005550006" } ] } }
staff:
  - { number: "(202) 555-0100", name: "Ann" }
  - { number: "+12025550100", name: "Ann again" }
  - { number: "not a number" }
  - { number: "+15005550006" }
  - { name: "Nobody" }
`
	cfg, problems := Parse(testFile, []byte(src), nil)
	if cfg == nil {
		t.Fatalf("no config: %v", problems)
	}
	if got := cfg.Staff[0].Number; got != "+12025550100" {
		t.Errorf("staff[0] = %q, want it in E.164", got)
	}
	want := []string{
		`k.yaml:4:15: staff[1]: duplicate staff number +12025550100 (first at k.yaml:3:15)`,
		`k.yaml:5:15: staff[2]: "not a number" is not a valid phone number`,
		`k.yaml:6:15: staff[3]: +15005550006 is one of our own sender numbers`,
		`k.yaml:7:5: staff[4]: missing number`,
	}
	var got []string
	for _, p := range problems {
		if strings.Contains(p.String(), "staff[") {
			got = append(got, p.String())
		}
	}
	if len(got) != len(want) {
		t.Fatalf("staff problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d = %q, want %q", i+1, got[i], want[i])
		}
	}
}

func TestAutomationChannel(t *testing.T) {
	src := `automations:
  - { id: a, channel: whatsapp, keywords: [A], steps: [ { type: end } ] }
  - { id: b, channel: SMS, keywords: [B], steps: [ { type: end } ] }
`
	cfg, problems := Parse(testFile, []byte(src), nil)
	if cfg == nil || cfg.Automations[0].Channel != ChannelWhatsApp {
		t.Fatalf("channel not read: %v", problems)
	}
	var lines []string
	for _, p := range problems {
		lines = append(lines, p.String())
	}
	if all := strings.Join(lines, "\n"); !strings.Contains(all, `k.yaml:3:23: automation "b": channel must be sms or whatsapp, not "SMS"`) {
		t.Errorf("problems:\n%s", all)
	}
}
