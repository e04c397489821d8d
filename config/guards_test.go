package config

import (
	"strings"
	"testing"
	"time"
)

// The loop guard defaults to 10 messages a minute; quiet hours are off
// unless set, and their zone defaults to defaults.timezone.
func TestComplianceGuardDefaults(t *testing.T) {
	c, ps := mustParse(t, "automations: []\n", nil)
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	if lg := c.Compliance.LoopGuard; lg.Max != 10 || lg.Per.D() != time.Minute {
		t.Errorf("loop_guard = %d per %v, want 10 per 1m", lg.Max, lg.Per.D())
	}
	if c.Compliance.QuietHours != nil {
		t.Errorf("quiet_hours = %+v, want none", c.Compliance.QuietHours)
	}

	c, ps = mustParse(t, `defaults: { timezone: Europe/Paris }
compliance:
  loop_guard: { max: 3, per: 1h }
  quiet_hours: { start: "21:00", end: "08:00" }
`, nil)
	if err := ps.Err(); err != nil {
		t.Fatal(err)
	}
	if lg := c.Compliance.LoopGuard; lg.Max != 3 || lg.Per.D() != time.Hour {
		t.Errorf("loop_guard = %d per %v, want 3 per 1h", lg.Max, lg.Per.D())
	}
	if q := c.Compliance.QuietHours; q == nil || q.Start != "21:00" || q.End != "08:00" || q.Timezone != "Europe/Paris" {
		t.Errorf("quiet_hours = %+v, want 21:00 to 08:00 in Europe/Paris", q)
	}
}

func TestComplianceGuardProblems(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string
	}{
		{"negative max", "compliance: { loop_guard: { max: -1 } }\n",
			[]string{"k.yaml:1:34: compliance.loop_guard.max: -1 is negative"}},
		{"bad per", "compliance: { loop_guard: { per: soon } }\n",
			[]string{`k.yaml:1:34: compliance.loop_guard.per: invalid duration "soon"`}},
		{"bad times", "compliance: { quiet_hours: { start: \"25:00\", end: \"8h\" } }\n",
			[]string{`compliance.quiet_hours.start: "25:00" is not a time of day`, `compliance.quiet_hours.end: "8h" is not a time of day`}},
		{"an end left out", "compliance: { quiet_hours: { start: \"21:00\" } }\n",
			[]string{"k.yaml:1:28: compliance.quiet_hours: missing end (a time of day such as 08:00)"}},
		{"empty span", "compliance: { quiet_hours: { start: \"08:00\", end: \"8:00\" } }\n",
			[]string{"compliance.quiet_hours: start and end are both 08:00"}},
		{"bad zone", "compliance: { quiet_hours: { start: \"21:00\", end: \"08:00\", timezone: Mars/Base } }\n",
			[]string{`compliance.quiet_hours.timezone: unknown time zone "Mars/Base"`}},
		{"unknown key", "compliance: { quiet_hours: { start: \"21:00\", end: \"08:00\", tz: UTC } }\n",
			[]string{"tz"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := Parse(testFile, []byte(tc.src), env(nil))
			errs := ps.Errors()
			if len(errs) != len(tc.want) {
				t.Fatalf("%d problems, want %d:\n%s", len(errs), len(tc.want), render(errs))
			}
			for i, w := range tc.want {
				if !strings.Contains(errs[i].String(), w) {
					t.Errorf("problem %d = %q, want it to contain %q", i+1, errs[i].String(), w)
				}
			}
		})
	}
}
