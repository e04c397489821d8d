package engine_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

func TestSegments(t *testing.T) {
	cases := []struct {
		label    string
		text     string
		segments int
		encoding string
	}{
		{"empty", "", 0, engine.EncodingGSM7},
		{"short ascii", "Hello!", 1, engine.EncodingGSM7},
		{"160 GSM-7 fit one", strings.Repeat("a", 160), 1, engine.EncodingGSM7},
		{"161 GSM-7 take two", strings.Repeat("a", 161), 2, engine.EncodingGSM7},
		{"306 GSM-7 take two", strings.Repeat("a", 306), 2, engine.EncodingGSM7},
		{"307 GSM-7 take three", strings.Repeat("a", 307), 3, engine.EncodingGSM7},
		{"310 GSM-7 take three", strings.Repeat("a", 310), 3, engine.EncodingGSM7},
		{"GSM-7 accents stay GSM-7", "Café à Malmö, ¿señor? £5 ¥ Ø Δ §", 1, engine.EncodingGSM7},
		{"extension chars count double: 80 euros fit", strings.Repeat("€", 80), 1, engine.EncodingGSM7},
		{"extension chars count double: 81 euros do not", strings.Repeat("€", 81), 2, engine.EncodingGSM7},
		{"159 plus one brace is 161 septets", strings.Repeat("a", 159) + "{", 2, engine.EncodingGSM7},
		{"an escape pair is not split across parts", strings.Repeat("a", 152) + "[" + strings.Repeat("a", 152), 3, engine.EncodingGSM7},
		{"the same length without the split fits two", strings.Repeat("a", 151) + "[" + strings.Repeat("a", 153), 2, engine.EncodingGSM7},
		{"one emoji makes UCS-2", "Hi 👋", 1, engine.EncodingUCS2},
		{"70 UCS-2 fit one", strings.Repeat("ж", 70), 1, engine.EncodingUCS2},
		{"71 UCS-2 take two", strings.Repeat("ж", 71), 2, engine.EncodingUCS2},
		{"134 UCS-2 take two", strings.Repeat("ж", 134), 2, engine.EncodingUCS2},
		{"135 UCS-2 take three", strings.Repeat("ж", 135), 3, engine.EncodingUCS2},
		{"emoji are two code units: 35 fit one", strings.Repeat("😀", 35), 1, engine.EncodingUCS2},
		{"emoji are two code units: 36 do not", strings.Repeat("😀", 36), 2, engine.EncodingUCS2},
		{"a surrogate pair is not split across parts", "aa" + strings.Repeat("😀", 66), 3, engine.EncodingUCS2},
		{"134 code units without a pair to split fit two", "a" + strings.Repeat("😀", 66) + "a", 2, engine.EncodingUCS2},
		{"lowercase ç is not GSM-7", "garçon", 1, engine.EncodingUCS2},
		{"curly quotes are not GSM-7", "“quoted”", 1, engine.EncodingUCS2},
	}
	for _, c := range cases {
		t.Run(c.label, func(t *testing.T) {
			n, enc := engine.Segments(c.text)
			if n != c.segments || enc != c.encoding {
				t.Errorf("Segments(%d runes) = %d, %s; want %d, %s", utf8.RuneCountInString(c.text), n, enc, c.segments, c.encoding)
			}
		})
	}
}

func TestReplySegmentsWarning(t *testing.T) {
	long := strings.Repeat("Big sale this weekend. ", 14)[:310]
	src := `automations:
  - id: x
    keywords: [X]
    steps:
      - { type: reply, text: "short" }
      - { type: reply, text: "` + long + `" }
      - { type: reply, text: "` + long + ` {{ contact.phone }}" }
      - { type: reply, text: "` + strings.Repeat("ж", 71) + `" }
`
	cfg, problems := config.Parse("fixture.yaml", []byte(src), func(string) (string, bool) { return "", false })
	if err := problems.Err(); err != nil {
		t.Fatal(err)
	}
	_, problems = engine.Compile(cfg)
	var got []string
	for _, p := range problems.Warnings() {
		if strings.Contains(p.Message, "SMS segments") {
			got = append(got, p.String())
		}
	}
	want := []string{
		`fixture.yaml:6:30: warning: automation "x" step 2: text is 3 SMS segments (GSM-7, 310 characters); carriers bill each segment`,
		`fixture.yaml:8:30: warning: automation "x" step 4: text is 2 SMS segments (UCS-2, 71 characters); carriers bill each segment`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant (a template's text is not counted):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
