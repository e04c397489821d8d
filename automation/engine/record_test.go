package engine_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keyway-sms/keyway/automation/broadcast"
	"github.com/keyway-sms/keyway/automation/engine"
)

// tricky is a string with what JSON encoders differ on: HTML characters,
// line and paragraph separators, a NUL, invalid UTF-8, quotes, escapes,
// accents and an emoji.
const tricky = "<a href=\"x\">&amp;</a>\u2028\u2029\x00\xff\xfe\t\n\\é😀 "

// fill sets every field of the value v points to, recursively, to
// something that is not its zero value.
func fill(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(tricky + v.Type().Name())
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(-12345)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(54321)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(3.25)
	case reflect.Pointer:
		if depth > 4 {
			return
		}
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		if v.Type() == reflect.TypeOf(json.RawMessage(nil)) {
			v.SetBytes([]byte(`{"a":[1,"<b>"]}`))
			return
		}
		if depth > 4 {
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), depth+1)
		}
		v.Set(s)
	case reflect.Map:
		if depth > 4 || v.Type().Key().Kind() != reflect.String {
			return
		}
		m := reflect.MakeMap(v.Type())
		for _, k := range []string{"b" + tricky, "a", "Z"} {
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, depth+1)
			m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), e)
		}
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 3, 8, 2, 30, 0, 123456789, time.FixedZone("X", -5*3600))))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), depth+1)
			}
		}
	}
}

// RecordJSON writes what encoding/json writes, byte for byte, and
// DecodeRecord reads back what json.Unmarshal reads, for every kind of
// record a store keeps, empty and with every field set: so that records
// written before and after keyway moved to a faster encoder are the same.
func TestRecordJSONIsEncodingJSONs(t *testing.T) {
	records := []any{
		&engine.Contact{}, &engine.Message{}, &engine.Enrollment{}, &engine.Timer{},
		&engine.EventDelivery{}, &engine.QueuedSend{}, &engine.Pause{}, &engine.Activity{},
		&broadcast.Broadcast{},
	}
	for _, empty := range records {
		for _, full := range []bool{false, true} {
			v := reflect.New(reflect.TypeOf(empty).Elem())
			if full {
				fill(v.Elem(), 0)
			}
			name := v.Elem().Type().Name()
			want, err := json.Marshal(v.Interface())
			if err != nil {
				t.Fatalf("%s: encoding/json: %v", name, err)
			}
			got, err := engine.RecordJSON(v.Interface())
			if err != nil {
				t.Fatalf("%s: RecordJSON: %v", name, err)
			}
			if full && string(got) == string(want) {
				t.Errorf("%s: RecordJSON kept a NUL:\n%s", name, got)
			}
			// RecordJSON marks NULs: the rest must be the same bytes.
			if string(got) != string(markNUL(want)) {
				t.Errorf("%s (full %v):\nRecordJSON    %s\nencoding/json %s", name, full, got, markNUL(want))
			}
			a, b := reflect.New(v.Elem().Type()), reflect.New(v.Elem().Type())
			if err := json.Unmarshal(got, a.Interface()); err != nil {
				t.Fatalf("%s: json.Unmarshal: %v", name, err)
			}
			if err := engine.DecodeRecord(got, b.Interface()); err != nil {
				t.Fatalf("%s: DecodeRecord: %v", name, err)
			}
			if !reflect.DeepEqual(a.Interface(), b.Interface()) {
				t.Errorf("%s (full %v): DecodeRecord read\n%+v\njson.Unmarshal read\n%+v", name, full, b.Elem(), a.Elem())
			}
		}
	}
}

// markNUL is RecordJSON's rewriting of encoding/json's NUL escapes.
func markNUL(raw []byte) []byte {
	return []byte(strings.ReplaceAll(string(raw), `\u0000`, `\ufffd`))
}

// RecordText reads a string as a record written with RecordJSON reads it
// back, whatever the string.
func TestRecordTextIsWhatARecordReadsBack(t *testing.T) {
	for _, s := range []string{"", "vip", tricky, "a\x00b", "\xff", "\xe2\x82", "é\xe2\x82\xac\x00", "\uFFFD"} {
		raw, err := engine.RecordJSON([]string{s})
		if err != nil {
			t.Fatal(err)
		}
		var back []string
		if err := engine.DecodeRecord(raw, &back); err != nil {
			t.Fatal(err)
		}
		if got := engine.RecordText(s); got != back[0] {
			t.Errorf("RecordText(%q) = %q, want %q", s, got, back[0])
		}
		if got := engine.RecordTexts([]string{"x", s}); got[0] != "x" || got[1] != back[0] {
			t.Errorf("RecordTexts([x %q]) = %q, want [x %q]", s, got, back[0])
		}
	}
}
