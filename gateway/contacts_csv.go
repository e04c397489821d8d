package gateway

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"

	"github.com/keyway-sms/keyway/automation/engine"
	"github.com/keyway-sms/keyway/config"
)

// The contacts CSV: a header row, then a contact a row. Its columns are
// phone (required), name, groups, tags, opted_out, then one per field
// declared under fields, named as the field (or "fields." and the name, as
// the export writes a field whose name is one of the fixed columns). A
// column an import leaves out keeps what contacts have; a column present
// sets what its cell says, an empty cell included (no name, no groups, the
// field removed), except opted_out, which an empty cell leaves as it is.
// Groups and tags are separated by ";" (or ","), or written as a JSON list
// of texts (["vip, gold","new"]), as an export writes them when one holds
// a separator.
//
// Fields may also come in one column named "fields" (unless a field is
// named so), each cell naming the fields it sets: "first_name=Ann;
// email=ann@example.com" (pairs separated by ";" or ",", each name=value
// or name: value), or a JSON object {"first_name": "Ann"}. The fields a
// cell does not name keep their values; an empty value removes a field.
var csvFixed = []string{"phone", "name", "groups", "tags", "opted_out"}

// csvFieldColumn is the column of field name in an export.
func csvFieldColumn(name string) string {
	if slices.Contains(csvFixed, strings.ToLower(name)) {
		return "fields." + name
	}
	return name
}

// csvHeader is the header of an export: the fixed columns, then the
// fields declared under fields, in their order. A field a contact still
// holds but the config no longer declares is left out: an import could
// not set it back.
func csvHeader(fields []string) []string {
	out := slices.Clone(csvFixed)
	for _, f := range fields {
		out = append(out, csvFieldColumn(f))
	}
	return out
}

// csvRecord is a contact as an export writes it, under csvHeader(fields):
// each cell kept from being read as a formula (csvInert).
func csvRecord(c *engine.Contact, fields []string) []string {
	rec := []string{c.Phone, c.Name, csvJoin(c.Groups), csvJoin(c.Tags), strconv.FormatBool(c.OptedOut)}
	for _, f := range fields {
		rec = append(rec, c.Fields[f])
	}
	for i, cell := range rec {
		rec[i] = csvInert(cell)
	}
	return rec
}

// csvFormulaStarts are the first characters that make a spreadsheet
// (Excel, LibreOffice, Google Sheets) read a cell as a formula, which can
// run commands or send the sheet's data away (=HYPERLINK(...),
// =cmd|'...'!A0); and whoever texts a keyword may choose a field's value
// (a wait_for_reply saved by set_field) or, on WhatsApp, their name.
const csvFormulaStarts = "=+-@\t\r"

// csvInert is cell as an export writes it: a cell that starts with a
// formula character (after any apostrophes) gets an apostrophe before it,
// so that a spreadsheet shows it as text, unless it is a plain number
// ("+15550001111", "-5", "2.50"), which no spreadsheet runs. csvUninert
// undoes it on import, so that an export reads back as it was.
func csvInert(cell string) string {
	rest := strings.TrimLeft(cell, "'")
	if rest == "" || !strings.ContainsRune(csvFormulaStarts, rune(rest[0])) || csvPlainNumber(cell) {
		return cell
	}
	return "'" + cell
}

// csvUninert is an imported cell as csvInert wrote it: without the
// apostrophe it put before a formula character.
func csvUninert(cell string) string {
	if !strings.HasPrefix(cell, "'") {
		return cell
	}
	if rest := strings.TrimLeft(cell, "'"); rest != "" && strings.ContainsRune(csvFormulaStarts, rune(rest[0])) {
		return cell[1:]
	}
	return cell
}

// csvPlainNumber reports whether cell is a number and nothing else: a
// sign, digits, and at most one decimal point among them.
func csvPlainNumber(cell string) bool {
	s := cell
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	digits, point := 0, false
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '.' && !point:
			point = true
		default:
			return false
		}
	}
	return digits > 0
}

// csvColumns says where each column of an import is: -1 when absent.
type csvColumns struct {
	// width is how many cells the header has: a row has as many.
	width                               int
	phone, name, groups, tags, optedOut int
	fields                              map[int]string // column → field name
	// pairs is the "fields" column, whose cells name the fields they set
	// (-1 when absent).
	pairs int
}

// readCSVHeader reads an import's header against cfg: every column must
// be a fixed one or a declared field, once; phone must be there. A column
// with no name (the empty cells a spreadsheet writes after the last
// column) is ignored, and so are its cells.
func readCSVHeader(header []string, cfg *config.Config) (csvColumns, error) {
	cols := csvColumns{width: len(header), phone: -1, name: -1, groups: -1, tags: -1, optedOut: -1, pairs: -1, fields: map[int]string{}}
	seen := map[string]int{}
	for i, raw := range header {
		name := strings.TrimSpace(raw)
		if i == 0 {
			name = strings.TrimPrefix(name, "\ufeff") // a byte order mark a spreadsheet wrote
		}
		if name == "" {
			continue // a column with no name, as a spreadsheet writes after the last one: ignored
		}
		key := strings.ToLower(name)
		if prev, dup := seen[key]; dup {
			return cols, fmt.Errorf("line 1: column %d %q repeats column %d", i+1, name, prev+1)
		}
		seen[key] = i
		switch key {
		case "phone":
			cols.phone = i
		case "name":
			cols.name = i
		case "groups":
			cols.groups = i
		case "tags":
			cols.tags = i
		case "opted_out":
			cols.optedOut = i
		case "fields":
			if cfg.HasField(name) { // a field named so is its own column
				cols.fields[i] = name
				continue
			}
			cols.pairs = i
		default:
			field := strings.TrimPrefix(name, "fields.")
			if !cfg.HasField(field) {
				return cols, fmt.Errorf("line 1: column %d %q is none of %s, fields nor a field declared under fields", i+1, name, strings.Join(csvFixed, ", "))
			}
			cols.fields[i] = field
		}
	}
	if cols.phone < 0 {
		return cols, errors.New("line 1: no phone column (the first row names the columns: phone, name, groups, tags, opted_out and fields)")
	}
	return cols, nil
}

// csvRow is a good row of an import: the change it asks for.
type csvRow struct {
	Line   int
	Change engine.ContactChange
}

// csvProblem is a bad row of an import: its line, its phone as written,
// and why.
type csvProblem struct {
	Line   int
	Phone  string
	Reason string
}

// csvJoin writes a groups or tags cell: the items separated by ";", or,
// when an item holds a separator (a tag "vip, gold") or the cell would
// start with "[", a JSON list (["vip, gold","new"]), so that an import
// reads back the same items (csvList).
func csvJoin(items []string) string {
	cell := strings.Join(items, ";")
	if !strings.ContainsAny(strings.Join(items, ""), ",;") && !strings.HasPrefix(cell, "[") {
		return cell
	}
	b, err := json.Marshal(items)
	if err != nil { // a list of strings always marshals
		return cell
	}
	return string(b)
}

// csvList splits a groups or tags cell: items separated by ";" or ",", or
// a JSON list of texts (as csvJoin writes one whose items hold those).
func csvList(cell string) []string {
	parts := strings.FieldsFunc(cell, func(r rune) bool { return r == ';' || r == ',' })
	var list []string
	if t := strings.TrimSpace(cell); strings.HasPrefix(t, "[") && json.Unmarshal([]byte(t), &list) == nil {
		parts = list
	}
	out := []string{}
	for _, part := range parts {
		if p := strings.TrimSpace(part); p != "" && !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out
}

// csvBool reads an opted_out cell: set says whether it says anything.
func csvBool(cell string) (v, set bool, err error) {
	switch strings.ToLower(strings.TrimSpace(cell)) {
	case "":
		return false, false, nil
	case "true", "yes", "y", "1":
		return true, true, nil
	case "false", "no", "n", "0":
		return false, true, nil
	}
	return false, false, fmt.Errorf("opted_out %q is not true or false (nor yes, no, 1, 0)", cell)
}

// parseCSVRow reads record, the row at line, into the change it asks for,
// or says what is wrong with it. address reads a phone number as the
// admin API does. A row whose cells are fewer or more than the header's
// columns is bad as a whole: a cell missing would read as empty and clear
// what the contact has, and a cell too many belongs to no column.
func parseCSVRow(cols csvColumns, record []string, line int, cfg *config.Config, address func(string) (string, error)) (csvRow, *csvProblem) {
	cell := func(i int) string {
		if i < 0 || i >= len(record) {
			return ""
		}
		return csvUninert(record[i])
	}
	raw := strings.TrimSpace(cell(cols.phone)) // a short row may have none
	bad := func(format string, args ...any) (csvRow, *csvProblem) {
		return csvRow{}, &csvProblem{Line: line, Phone: raw, Reason: fmt.Sprintf(format, args...)}
	}
	if len(record) != cols.width {
		return bad("%s, but the header has %d: every row has a cell for each column", cellCount(len(record)), cols.width)
	}
	if raw == "" {
		return bad("no phone")
	}
	addr, err := address(raw)
	if err != nil {
		return bad("bad phone: %v", err)
	}
	phone, channel := engine.SplitChannel(addr)
	u := engine.ContactUpdate{Channel: channel}
	if cols.name >= 0 {
		name := strings.TrimSpace(cell(cols.name))
		u.Name = &name
	}
	if cols.groups >= 0 {
		groups := csvList(cell(cols.groups))
		for _, g := range groups {
			if !cfg.HasGroup(g) {
				return bad("unknown group %q: not declared under groups", g)
			}
		}
		u.Groups = &groups
	}
	if cols.tags >= 0 {
		tags := csvList(cell(cols.tags))
		u.Tags = &tags
	}
	if cols.optedOut >= 0 {
		v, set, err := csvBool(cell(cols.optedOut))
		if err != nil {
			return bad("%v", err)
		}
		if set {
			u.OptedOut = &v
		}
	}
	for i, f := range cols.fields {
		if u.Fields == nil {
			u.Fields = map[string]string{}
		}
		u.Fields[f] = strings.TrimSpace(cell(i))
	}
	if cols.pairs >= 0 {
		pairs, err := csvPairs(cell(cols.pairs))
		if err != nil {
			return bad("fields: %v", err)
		}
		for _, f := range slices.Sorted(maps.Keys(pairs)) {
			if !cfg.HasField(f) {
				return bad("fields: %q is not a field declared under fields", f)
			}
			if _, twice := u.Fields[f]; twice {
				return bad("fields: %q is also a column of its own", f)
			}
			if u.Fields == nil {
				u.Fields = map[string]string{}
			}
			u.Fields[f] = pairs[f]
		}
	}
	return csvRow{Line: line, Change: engine.ContactChange{Phone: phone, Update: u}}, nil
}

// cellCount says how many cells a row has, in words: "1 cell", "8 cells".
func cellCount(n int) string {
	if n == 1 {
		return "1 cell"
	}
	return strconv.Itoa(n) + " cells"
}

// csvPairs reads a cell of the "fields" column: a JSON object of strings,
// or name=value (or name: value) pairs separated by ";" or ",".
func csvPairs(cell string) (map[string]string, error) {
	out := map[string]string{}
	cell = strings.TrimSpace(cell)
	if strings.HasPrefix(cell, "{") {
		var m map[string]any
		if err := json.Unmarshal([]byte(cell), &m); err != nil {
			return nil, fmt.Errorf("not a JSON object: %v", err)
		}
		for k, v := range m {
			switch v := v.(type) {
			case string:
				out[strings.TrimSpace(k)] = strings.TrimSpace(v)
			case nil:
				out[strings.TrimSpace(k)] = ""
			case float64, bool:
				out[strings.TrimSpace(k)] = fmt.Sprint(v)
			default:
				return nil, fmt.Errorf("%q: a field's value is a text", k)
			}
		}
		return out, nil
	}
	for _, part := range strings.FieldsFunc(cell, func(r rune) bool { return r == ';' || r == ',' }) {
		if part = strings.TrimSpace(part); part == "" {
			continue
		}
		i := strings.IndexAny(part, "=:")
		if i <= 0 {
			return nil, fmt.Errorf("%q is not name=value", part)
		}
		out[strings.TrimSpace(part[:i])] = strings.TrimSpace(part[i+1:])
	}
	return out, nil
}

// csvReader reads an import's rows one at a time: any number of cells a
// row (parseCSVRow refuses a row whose count is not the header's, with
// its own words), quotes as RFC 4180 says, a bare quote inside a cell
// taken as it is.
func csvReader(r io.Reader) *csv.Reader {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true
	return cr
}

// fromWindows1252 reads each cell of rec that is not UTF-8 as
// Windows-1252, the code page a spreadsheet on Windows saves a CSV in
// ("Zo\xeb" is "Zoë"), in place. Text in Windows-1252 with any letter
// beyond ASCII is almost never valid UTF-8, so a UTF-8 file reads as
// before, and a Windows one as written rather than as replacement
// characters.
func fromWindows1252(rec []string) []string {
	for i, cell := range rec {
		if utf8.ValidString(cell) {
			continue
		}
		if s, err := charmap.Windows1252.NewDecoder().String(cell); err == nil {
			rec[i] = s
		}
	}
	return rec
}

// csvDiff is what a row would change on the contact stored (nil: none is),
// in words, e.g. "name: Ann → Anna", "groups: + vip". A new contact and a
// row that changes nothing give none.
func csvDiff(old *engine.Contact, u engine.ContactUpdate) []string {
	if old == nil {
		return nil
	}
	var out []string
	if u.Name != nil && *u.Name != old.Name {
		out = append(out, fmt.Sprintf("name: %s → %s", orDash(old.Name), orDash(*u.Name)))
	}
	list := func(what string, before []string, after *[]string) {
		if after == nil {
			return
		}
		var add, drop []string
		for _, v := range *after {
			if !slices.Contains(before, v) {
				add = append(add, "+ "+v)
			}
		}
		for _, v := range before {
			if !slices.Contains(*after, v) {
				drop = append(drop, "− "+v)
			}
		}
		if len(add)+len(drop) > 0 {
			out = append(out, what+": "+strings.Join(append(add, drop...), ", "))
		}
	}
	list("groups", old.Groups, u.Groups)
	list("tags", old.Tags, u.Tags)
	for _, f := range slices.Sorted(maps.Keys(u.Fields)) {
		if v := u.Fields[f]; v != old.Fields[f] {
			out = append(out, fmt.Sprintf("%s: %s → %s", f, orDash(old.Fields[f]), orDash(v)))
		}
	}
	if u.Channel != "" && old.Channel == "" {
		out = append(out, "reached on "+u.Channel)
	}
	if u.OptedOut != nil && *u.OptedOut != old.OptedOut {
		if *u.OptedOut {
			out = append(out, "opted out")
		} else {
			out = append(out, "opted back in")
		}
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
