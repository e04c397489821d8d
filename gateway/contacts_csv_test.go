package gateway

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

func csvConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, problems := config.Parse("keyway.yaml", []byte(`
defaults: { region: US }
groups: [{ id: news, name: News }, { id: vip, name: VIP }]
fields: [city, name_day, phone]
automations:
  - id: join
    keywords: [JOIN]
    steps: [{ type: reply, text: hi }]
`), nil)
	if err := problems.Err(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestCSVHeader(t *testing.T) {
	cfg := csvConfig(t)
	for _, c := range []struct {
		header, problem string
	}{
		{"phone", ""},
		{"\ufeffPhone, Name ,groups,TAGS,opted_out,city,fields.phone", ""},
		{"name,city", "no phone column"},
		{"phone,town", `column 2 "town" is none of phone, name, groups, tags, opted_out, fields nor a field declared under fields`},
		{"phone,name,Name", `column 3 "Name" repeats column 2`},
		// Columns with no name, as spreadsheets write after the last one.
		{"phone,name,", ""},
		{"phone,, ,name,,", ""},
		{",,", "no phone column"},
	} {
		t.Run(c.header, func(t *testing.T) {
			_, err := readCSVHeader(strings.Split(c.header, ","), cfg)
			switch {
			case c.problem == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.problem != "" && (err == nil || !strings.Contains(err.Error(), c.problem)):
				t.Fatalf("got %v, want %q", err, c.problem)
			}
		})
	}
}

func TestCSVRows(t *testing.T) {
	cfg := csvConfig(t)
	cols, err := readCSVHeader([]string{"phone", "name", "groups", "tags", "opted_out", "city"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := &Gateway{}
	g.cfg.Store(cfg)
	address := g.csvPhone
	for _, c := range []struct {
		name, row, want, problem string
	}{
		{"full", "+15550001111,Ann Lee,news;vip,a; b ;a,yes,Lyon", "+15550001111 name=Ann Lee groups=[news vip] tags=[a b] out=true fields=map[city:Lyon]", ""},
		{"national number, empties", "(555) 000-2222,,,,,", "+15550002222 name= groups=[] tags=[] out=<nil> fields=map[city:]", ""},
		{"opt in", "+15550004444,,,,false,", "+15550004444 name= groups=[] tags=[] out=false fields=map[city:]", ""},
		// A contact written as WhatsApp is to be reached there.
		{"on WhatsApp", "whatsapp:+1 555 000 5555,Wren,,,,", "+15550005555 name=Wren groups=[] tags=[] out=<nil> fields=map[city:] channel=whatsapp", ""},
		{"a WhatsApp user id", "US.1349120865530274,,,,,", "US.1349120865530274 name= groups=[] tags=[] out=<nil> fields=map[city:] channel=whatsapp", ""},
		{"no phone", ",Ann,,,,", "", "no phone"},
		{"bad phone", "call me,Ann,,,,", "", "bad phone"},
		{"not a number", "12,Ann,,,,", "", "bad phone"},
		{"unknown group", "+15550001111,,news;gold,,,", "", `unknown group "gold"`},
		{"bad opted_out", "+15550001111,,,,maybe,", "", `opted_out "maybe" is not true or false`},
		// A short row would clear the columns it lacks; a long one has a
		// cell of no column.
		{"short row", "+15550003333", "", "1 cell, but the header has 6"},
		{"short by one", "+15550003333,Ann,news,a,no", "", "5 cells, but the header has 6"},
		{"long row", "+15550003333,Ann,news,a,no,Lyon,", "", "7 cells, but the header has 6"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec, err := csv.NewReader(strings.NewReader(c.row)).Read()
			if err != nil {
				t.Fatal(err)
			}
			rec = rec[:len(rec):len(rec)]
			row, problem := parseCSVRow(cols, rec, 7, cfg, address)
			if c.problem != "" {
				if problem == nil || !strings.Contains(problem.Reason, c.problem) || problem.Line != 7 {
					t.Fatalf("problem %+v, want line 7: %q", problem, c.problem)
				}
				return
			}
			if problem != nil {
				t.Fatalf("refused: %+v", problem)
			}
			u := row.Change.Update
			out := "<nil>"
			if u.OptedOut != nil {
				out = fmt.Sprint(*u.OptedOut)
			}
			got := fmt.Sprintf("%s name=%s groups=%v tags=%v out=%s fields=%v", row.Change.Phone, *u.Name, *u.Groups, *u.Tags, out, u.Fields)
			if u.Channel != "" {
				got += " channel=" + u.Channel
			}
			if got != c.want {
				t.Errorf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

// A column with no name is ignored, cells and all; the others are read
// where they stand.
func TestCSVUnnamedColumnIgnored(t *testing.T) {
	cfg := csvConfig(t)
	cols, err := readCSVHeader([]string{"phone", "", "name", ""}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := &Gateway{}
	g.cfg.Store(cfg)
	row, problem := parseCSVRow(cols, []string{"+15550001111", "junk", "Ann", ""}, 2, cfg, g.csvPhone)
	if problem != nil {
		t.Fatalf("refused: %+v", problem)
	}
	if u := row.Change.Update; u.Name == nil || *u.Name != "Ann" || u.Groups != nil || u.Tags != nil || len(u.Fields) != 0 {
		t.Errorf("row read as %+v, want the name Ann alone", u)
	}
}

func TestCSVDiff(t *testing.T) {
	old := &engine.Contact{Phone: "+15550001111", Name: "Ann", Groups: []string{"news"}, Tags: []string{"a"}, Fields: map[string]string{"city": "Lyon"}}
	ptr := func(v []string) *[]string { return &v }
	name, yes := "Anna", true
	got := csvDiff(old, engine.ContactUpdate{Name: &name, Groups: ptr([]string{"vip"}), Tags: ptr([]string{"a"}),
		Fields: map[string]string{"city": "", "name_day": "May 1"}, OptedOut: &yes})
	want := []string{"name: Ann → Anna", "groups: + vip, − news", "city: Lyon → —", "name_day: — → May 1", "opted out"}
	if !slices.Equal(got, want) {
		t.Errorf("diff:\n%q\nwant\n%q", got, want)
	}
	same := "Ann"
	if got := csvDiff(old, engine.ContactUpdate{Name: &same, Groups: ptr([]string{"news"}), Fields: map[string]string{"city": "Lyon"}}); got != nil {
		t.Errorf("a row that changes nothing: %q", got)
	}
	if got := csvDiff(nil, engine.ContactUpdate{Name: &name}); got != nil {
		t.Errorf("a new contact: %q", got)
	}
	// Naming WhatsApp changes a contact that never wrote, not one that did.
	if got := csvDiff(old, engine.ContactUpdate{Channel: "whatsapp"}); !slices.Equal(got, []string{"reached on whatsapp"}) {
		t.Errorf("WhatsApp for a contact that never wrote: %q", got)
	}
	wrote := *old
	wrote.Channel = "sms"
	if got := csvDiff(&wrote, engine.ContactUpdate{Channel: "whatsapp"}); got != nil {
		t.Errorf("WhatsApp for a contact that wrote by SMS: %q", got)
	}
}

// An export's rows read back as the same contact: the header and record
// an export writes are what an import takes, a field named like a fixed
// column included.
func TestCSVExportReadsBack(t *testing.T) {
	cfg := csvConfig(t)
	c := &engine.Contact{Phone: "+15550001111", Name: "Lee, Ann \"A\"", Groups: []string{"news", "vip"}, Tags: []string{"x"},
		OptedOut: true, Fields: map[string]string{"city": "Lyon", "phone": "work"}}
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Write(csvHeader(cfg.Fields))
	w.Write(csvRecord(c, cfg.Fields))
	w.Flush()
	if !strings.HasPrefix(b.String(), "phone,name,groups,tags,opted_out,city,name_day,fields.phone\n") {
		t.Fatalf("export:\n%s", b.String())
	}
	r := csvReader(&b)
	head, _ := r.Read()
	cols, err := readCSVHeader(head, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := r.Read()
	if err != nil {
		t.Fatal(err)
	}
	row, problem := parseCSVRow(cols, rec, 2, cfg, func(s string) (string, error) { return s, nil })
	if problem != nil {
		t.Fatal(problem.Reason)
	}
	if diff := csvDiff(c, row.Change.Update); diff != nil {
		t.Errorf("read back, the row changes %q", diff)
	}
	if _, err := r.Read(); !errors.Is(err, io.EOF) {
		t.Errorf("more rows: %v", err)
	}
}

// A tag or group holding ";" or "," (or a list that would start with "[")
// is exported as a JSON list, and reads back as the same items, where the
// separated form would split it; a plain list stays separated by ";".
func TestCSVListsWithSeparatorsReadBack(t *testing.T) {
	for _, tc := range []struct {
		items []string
		cell  string
	}{
		{[]string{"vip", "new"}, "vip;new"},
		{[]string{}, ""},
		{[]string{"vip, gold", "new"}, `["vip, gold","new"]`},
		{[]string{"a;b"}, `["a;b"]`},
		{[]string{"[x]"}, `["[x]"]`},
		{[]string{`say "hi"`, "ok"}, `say "hi";ok`},
	} {
		cell := csvJoin(tc.items)
		if cell != tc.cell {
			t.Errorf("%q exported as %q, want %q", tc.items, cell, tc.cell)
		}
		if got := csvList(csvUninert(csvInert(cell))); !slices.Equal(got, tc.items) {
			t.Errorf("%q exported as %q reads back as %q", tc.items, cell, got)
		}
	}
	// What people write by hand still reads as before; a "[" that is no
	// JSON list is an item.
	for cell, want := range map[string][]string{
		"vip, gold; vip":    {"vip", "gold"},
		` [ "a" , "b,c" ] `: {"a", "b,c"},
		"[vip":              {"[vip"},
	} {
		if got := csvList(cell); !slices.Equal(got, want) {
			t.Errorf("%q reads as %q, want %q", cell, got, want)
		}
	}
}

// A cell that a spreadsheet would read as a formula is exported with an
// apostrophe before it, so that opening the file runs nothing; a plain
// number (a phone number, "-5") is left as it is; and an import takes the
// apostrophe off again, so that the export reads back as the contact was.
func TestCSVFormulaCellsInert(t *testing.T) {
	cfg := csvConfig(t)
	c := &engine.Contact{Phone: "+15550001111", Name: "=cmd|' /C calc'!A0", Tags: []string{"@SUM(A1)"},
		Fields: map[string]string{"city": "+1+1", "name_day": "-5", "phone": "'=already quoted"}}
	rec := csvRecord(c, cfg.Fields)
	want := []string{"+15550001111", "'=cmd|' /C calc'!A0", "", "'@SUM(A1)", "false", "'+1+1", "-5", "''=already quoted"}
	if !slices.Equal(rec, want) {
		t.Errorf("exported cells:\n got %q\nwant %q", rec, want)
	}
	for _, cell := range []string{"=1+1", "+1+1", "-2+3", "@x", "\t=1", "\r=1", "'=x", "''+y"} {
		if got := csvInert(cell); !strings.HasPrefix(got, "'") || csvUninert(got) != cell {
			t.Errorf("%q: exported %q, read back %q", cell, got, csvUninert(got))
		}
	}
	for _, cell := range []string{"", "Ann", "'Tis", "+15550001111", "-5", "2.50", "+.5", "O'Neil"} {
		if got := csvInert(cell); got != cell || csvUninert(got) != cell {
			t.Errorf("%q: exported %q, read back %q; want it untouched", cell, got, csvUninert(got))
		}
	}
	cols, err := readCSVHeader(csvHeader(cfg.Fields), cfg)
	if err != nil {
		t.Fatal(err)
	}
	row, problem := parseCSVRow(cols, rec, 2, cfg, func(s string) (string, error) { return s, nil })
	if problem != nil {
		t.Fatal(problem.Reason)
	}
	if diff := csvDiff(c, row.Change.Update); diff != nil {
		t.Errorf("read back, the row changes %q", diff)
	}
}

// A "fields" column names the fields each cell sets, as pairs or as a
// JSON object; the fields a cell does not name are left as they are, and
// a name that is not a declared field makes the row bad.
func TestCSVFieldsColumn(t *testing.T) {
	cfg := csvConfig(t)
	cols, err := readCSVHeader([]string{"phone", "name", "groups", "tags", "fields", "opted_out"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	address := func(s string) (string, error) { return s, nil }
	for _, c := range []struct {
		name, cell, want, problem string
	}{
		{"pairs", "city=Lyon; name_day: May 1", "map[city:Lyon name_day:May 1]", ""},
		{"comma pairs", "city=Lyon,name_day=", "map[city:Lyon name_day:]", ""},
		{"json", `{"city": "Lyon", "name_day": null}`, "map[city:Lyon name_day:]", ""},
		{"empty", "", "map[]", ""},
		{"undeclared", "town=Lyon", "", `fields: "town" is not a field declared under fields`},
		{"no value", "Lyon", "", `fields: "Lyon" is not name=value`},
		{"bad json", `{"city": [1]}`, "", `fields: "city": a field's value is a text`},
	} {
		t.Run(c.name, func(t *testing.T) {
			row, problem := parseCSVRow(cols, []string{"+15550001111", "Ann", "news", "", c.cell, ""}, 3, cfg, address)
			if c.problem != "" {
				if problem == nil || problem.Reason != c.problem || problem.Line != 3 {
					t.Fatalf("problem %+v, want line 3: %q", problem, c.problem)
				}
				return
			}
			if problem != nil {
				t.Fatalf("refused: %+v", problem)
			}
			got := fmt.Sprint(row.Change.Update.Fields)
			if row.Change.Update.Fields == nil {
				got = "map[]"
			}
			if got != c.want {
				t.Errorf("fields %s, want %s", got, c.want)
			}
		})
	}
	// A field declared as "fields" is a column of its own.
	own, problems := config.Parse("keyway.yaml", []byte("fields: [fields]\nautomations:\n  - id: a\n    keywords: [A]\n    steps: [{ type: reply, text: hi }]\n"), nil)
	if err := problems.Err(); err != nil {
		t.Fatal(err)
	}
	cols, err = readCSVHeader([]string{"phone", "fields"}, own)
	if err != nil || cols.pairs != -1 || cols.fields[1] != "fields" {
		t.Errorf("a field named fields: %+v, %v", cols, err)
	}
}
