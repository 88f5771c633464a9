// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package schema

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const typesSchema = `
schema: Test.Types
fields:
  - name: s
    type: string
  - name: i
    type: int
  - name: big
    type: bigint
  - name: f
    type: float
  - name: bo
    type: boolean
  - name: rfc
    type: timestamp
    timeFormat: rfc3339
  - name: ux
    type: timestamp
    timeFormat: unix
  - name: ms
    type: timestamp
    timeFormat: unix_ms
  - name: custom
    type: timestamp
    timeFormat: "%Y-%m-%d %H:%M:%S"
  - name: multi
    type: timestamp
    timeFormats: [unix, rfc3339]
  - name: obj
    type: object
    fields:
      - name: x
        type: string
  - name: strs
    type: array
    element:
      type: string
  - name: objs
    type: array
    element:
      type: object
      fields:
        - name: n
          type: int
  - name: j
    type: json
  - name: js
    type: array
    element:
      type: json
`

func mustParse(t testing.TB, yaml string) *Schema {
	t.Helper()
	s, err := Parse([]byte(yaml))
	require.NoError(t, err)
	return s
}

// TestTypesAndCoercions covers every type and coercion rule: each row is
// one field of Test.Types given one JSON value, and what the field becomes
// ("" when it is left out) or the error problem.
func TestTypesAndCoercions(t *testing.T) {
	s := mustParse(t, typesSchema)
	n := NewNormalizer(Options{})
	tests := []struct {
		field, in, want, wantErr string
	}{
		{"s", `"text"`, `"text"`, ""},
		{"s", `""`, `""`, ""},
		{"s", `"esc\"aped\u00e9"`, `"esc\"aped\u00e9"`, ""},
		{"s", `true`, `"true"`, ""},
		{"s", `false`, `"false"`, ""},
		{"s", `12.50`, `"12.50"`, ""},
		{"s", `-3e2`, `"-3e2"`, ""},
		{"s", `null`, ``, ""},
		{"s", `{"a":1}`, ``, `expected a string, got an object`},
		{"s", `["a"]`, ``, `expected a string, got an array`},

		{"i", `42`, `42`, ""},
		{"i", `-7`, `-7`, ""},
		{"i", `"42"`, `42`, ""},
		{"i", `2.0`, `2`, ""},
		{"i", `1e3`, `1000`, ""},
		{"i", `""`, ``, ""},
		{"i", `null`, ``, ""},
		{"i", `2147483647`, `2147483647`, ""},
		{"i", `2147483648`, ``, `2147483648 is not a 32-bit integer`},
		{"i", `2.5`, ``, `2.5 is not a 32-bit integer`},
		{"i", `"two"`, ``, `"two" is not a 32-bit integer`},
		{"i", `true`, ``, `true is not a 32-bit integer`},
		{"i", `[1]`, ``, `expected a 32-bit integer, got an array`},

		{"big", `9223372036854775807`, `9223372036854775807`, ""},
		{"big", `"-9223372036854775808"`, `-9223372036854775808`, ""},
		{"big", `9223372036854775808`, ``, `is not a 64-bit integer`},

		{"f", `1.25`, `1.25`, ""},
		{"f", `1E400`, ``, `1E400 is not a finite number`},
		{"f", `"0.5"`, `0.5`, ""},
		{"f", `"1e3"`, `1000`, ""},
		{"f", `"NaN"`, ``, `"NaN" is not a finite number`},
		{"f", `"Inf"`, ``, `"Inf" is not a finite number`},
		{"f", `false`, ``, `false is not a finite number`},

		{"bo", `true`, `true`, ""},
		{"bo", `false`, `false`, ""},
		{"bo", `"true"`, `true`, ""},
		{"bo", `"FALSE"`, `false`, ""},
		{"bo", `1`, `true`, ""},
		{"bo", `"0"`, `false`, ""},
		{"bo", `"unknown"`, ``, `"unknown" is not a boolean`},
		{"bo", `{}`, ``, `expected a boolean, got an object`},

		{"rfc", `"2020-02-13T18:56:20.351346+00:00"`, `"2020-02-13T18:56:20.351346Z"`, ""},
		{"rfc", `"2020-02-13T18:56:20-00:00"`, `"2020-02-13T18:56:20Z"`, ""},
		{"rfc", `"2019-08-30T16:10:05+02:00"`, `"2019-08-30T16:10:05+02:00"`, ""},
		{"rfc", `"2019-08-30T16:10:05.500000Z"`, `"2019-08-30T16:10:05.5Z"`, ""},
		{"rfc", `"2019-08-30T16:10:05.000Z"`, `"2019-08-30T16:10:05Z"`, ""},
		{"rfc", `"2019-08-30T16:10:05.123456789123+05:30"`, `"2019-08-30T16:10:05.123456789+05:30"`, ""},
		{"rfc", `""`, ``, ""},
		{"rfc", `"2021-07-20T11: 41: 31+00: 00"`, ``, `"2021-07-20T11: 41: 31+00: 00" is not an RFC 3339 timestamp`},
		{"rfc", `"2020-02-30T00:00:00Z"`, ``, `is not an RFC 3339 timestamp`},
		{"rfc", `"2022-12-14 20:09:57"`, ``, `is not an RFC 3339 timestamp`},
		{"rfc", `1581620180`, ``, `1581620180 is not an RFC 3339 timestamp`},

		{"ux", `1581620180`, `1581620180`, ""},
		{"ux", `"1581620180"`, `1581620180`, ""},
		{"ux", `1581620180.351346`, `1581620180.351346`, ""},
		{"ux", `1581620180.3513469`, `1581620180.351346`, ""},
		{"ux", `1581620180.500`, `1581620180.5`, ""},
		{"ux", `1.5816201803e9`, `1581620180.3`, ""},
		{"ux", `-1`, `-1`, ""},
		{"ux", `"soon"`, ``, `"soon" is not a unix timestamp in seconds`},
		{"ux", `99999999999`, ``, `99999999999 is not a unix timestamp in seconds`},
		{"ux", `true`, ``, `true is not a unix timestamp in seconds`},

		{"ms", `1581620180351`, `1581620180351`, ""},
		{"ms", `1581620180351.25`, `1581620180351.25`, ""},

		{"custom", `"2022-12-14 20:09:57"`, `"2022-12-14 20:09:57"`, ""},
		{"custom", `"2022-12-14T20:09:57Z"`, ``, `is not a timestamp in the format "%Y-%m-%d %H:%M:%S"`},

		{"multi", `1584718692`, `1584718692`, ""},
		{"multi", `"2020-03-20T15:38:12.25+00:00"`, `1584718692.25`, ""},
		{"multi", `"x"`, ``, `"x" is not a unix timestamp in seconds or an RFC 3339 timestamp`},

		{"obj", `{"x":"y","unknown":1}`, `{"x":"y"}`, ""},
		{"obj", `{"x":null}`, `{}`, ""},
		{"obj", `{}`, `{}`, ""},
		{"obj", `null`, ``, ""},
		{"obj", `"flat"`, ``, `expected an object, got a string`},
		{"obj", `{"x":[]}`, ``, `expected a string, got an array`},

		{"strs", `["a",true,3]`, `["a","true","3"]`, ""},
		{"strs", `["a",null,"b"]`, `["a",null,"b"]`, ""},
		{"strs", `[]`, ``, ""},
		{"strs", `"single"`, `["single"]`, ""},
		{"strs", `["a",{}]`, ``, `expected a string, got an object`},
		{"strs", `{}`, ``, `expected an array, got an object`},
		{"objs", `[{"n":"1"},{"n":2,"m":3}]`, `[{"n":1},{"n":2}]`, ""},
		{"objs", `[{"n":1},{"n":"x"}]`, ``, `"x" is not a 32-bit integer`},

		{"j", `{ "any" : [1, "thing"] }`, `{"any":[1,"thing"]}`, ""},
		{"j", `"unknown"`, `"unknown"`, ""},
		{"j", `null`, ``, ""},
		{"js", `[{"security_agent":"cisco-amp","version":"1"}]`, `[{"security_agent":"cisco-amp","version":"1"}]`, ""},
		{"js", `"unknown"`, `["unknown"]`, ""},
		{"js", `[]`, ``, ""},
		{"js", `null`, ``, ""},
	}
	for _, tc := range tests {
		in := `{"` + tc.field + `":` + tc.in + `}`
		out, err := n.Append(nil, s, []byte(in))
		if tc.wantErr != "" {
			var fe *FieldError
			require.ErrorAs(t, err, &fe, "Append(%s)", in)
			assert.Equal(t, "Test.Types", fe.LogType)
			assert.True(t, strings.HasPrefix(fe.Path, tc.field), "Append(%s) error path = %q", in, fe.Path)
			assert.Contains(t, fe.Problem, tc.wantErr, "Append(%s)", in)
			continue
		}
		require.NoError(t, err, "Append(%s)", in)
		want := `{}`
		if tc.want != "" {
			want = `{"` + tc.field + `":` + tc.want + `}`
		}
		assert.Equal(t, want, string(out), "Append(%s)", in)
	}
}

func TestErrorPaths(t *testing.T) {
	s := mustParse(t, typesSchema)
	n := NewNormalizer(Options{})
	tests := []struct{ in, want string }{
		{`{"objs":[{"n":1},{"n":"x"}]}`, `Test.Types: field "objs[1].n": "x" is not a 32-bit integer`},
		{`{"obj":{"x":{}}}`, `Test.Types: field "obj.x": expected a string, got an object`},
		{`{"s":"a","s":"b"}`, `Test.Types: field "s": the field appears more than once`},
		{`[1]`, `Test.Types: event is not a JSON object`},
		{`{"s":`, `Test.Types: event is not valid JSON: unexpected end of JSON input at offset 5`},
		{`{"i":"` + strings.Repeat("9", 100) + `"}`, `Test.Types: field "i": "` + strings.Repeat("9", 80) + `"… is not a 32-bit integer`},
	}
	for _, tc := range tests {
		_, err := n.Append(nil, s, []byte(tc.in))
		require.Error(t, err, "Append(%s)", tc.in)
		assert.Equal(t, tc.want, err.Error())
	}
}

func TestRequiredAndCopy(t *testing.T) {
	s := mustParse(t, `
schema: Test.Required
fields:
  - name: id
    type: string
    required: true
  - name: when
    type: timestamp
    timeFormat: rfc3339
    required: true
    copy:
      from: meta.ts
`)
	n := NewNormalizer(Options{})
	tests := []struct{ in, want, wantErr string }{
		{`{"id":"a","when":"2024-01-01T00:00:00Z"}`, `{"id":"a","when":"2024-01-01T00:00:00Z"}`, ""},
		{`{"id":"","when":"2024-01-01T00:00:00Z"}`, `{"id":"","when":"2024-01-01T00:00:00Z"}`, ""},
		{`{"id":"a","meta":{"ts":"2024-01-01T00:00:00+00:00"}}`, `{"id":"a","when":"2024-01-01T00:00:00Z"}`, ""},
		{`{"id":"a","when":"2024-01-01T00:00:00Z","meta":{"ts":"2000-01-01T00:00:00Z"}}`, `{"id":"a","when":"2024-01-01T00:00:00Z"}`, ""},
		{`{"id":"a","when":null,"meta":{"ts":"2024-01-01T00:00:00Z"}}`, `{"id":"a","when":"2024-01-01T00:00:00Z"}`, ""},
		{`{"when":"2024-01-01T00:00:00Z"}`, "", `Test.Required: field "id": required field is missing`},
		{`{"id":null,"when":"2024-01-01T00:00:00Z"}`, "", `Test.Required: field "id": required field is null`},
		{`{"id":"a"}`, "", `Test.Required: field "when": required field is missing`},
		{`{"id":"a","when":""}`, "", `Test.Required: field "when": required field is null`},
		{`{"id":"a","meta":{"ts":"never"}}`, "", `Test.Required: field "when": "never" is not an RFC 3339 timestamp (copied from "meta.ts")`},
	}
	for _, tc := range tests {
		out, err := n.Append(nil, s, []byte(tc.in))
		if tc.wantErr != "" {
			require.Error(t, err, "Append(%s)", tc.in)
			assert.Equal(t, tc.wantErr, err.Error())
			continue
		}
		require.NoError(t, err, "Append(%s)", tc.in)
		assert.Equal(t, tc.want, string(out))
	}
}

func TestUnknownFields(t *testing.T) {
	s := mustParse(t, `
schema: Test.Unknown
fields:
  - name: a
    type: object
    fields:
      - name: b
        type: string
`)
	in := []byte(`{"z":[1, 2],"a":{"b":"x","c":{"d":null}},"y":"\u00e9"}`)
	out, err := NewNormalizer(Options{}).Append(nil, s, in)
	require.NoError(t, err)
	assert.Equal(t, `{"a":{"b":"x"}}`, string(out))
	out, err = NewNormalizer(Options{KeepUnknown: true}).Append(nil, s, in)
	require.NoError(t, err)
	assert.Equal(t, `{"z":[1,2],"a":{"b":"x","c":{"d":null}},"y":"\u00e9"}`, string(out))
}

// TestPantherFields checks the standard fields, with a pinned clock and row
// IDs, including p_event_time falling back to p_parse_time.
func TestPantherFields(t *testing.T) {
	now := time.Date(2026, 5, 6, 7, 8, 9, 100, time.FixedZone("X", 3600))
	opts := Options{
		PantherFields: true,
		Now:           func() time.Time { return now },
		RowID:         func(dst []byte) []byte { return append(dst, "row-1"...) },
	}
	withTime := mustParse(t, `
schema: Test.Event
fields:
  - name: when
    type: timestamp
    timeFormat: rfc3339
    isEventTime: true
  - name: host
    type: string
    indicators: [hostname]
  - name: user
    type: string
    indicators: [username]
  - name: nested
    type: object
    fields:
      - name: ips
        type: array
        element:
          type: string
          indicators: [ip]
`)
	n := NewNormalizer(opts)
	out, err := n.Append(nil, withTime, []byte(`{"when":"2024-03-05T09:15:30.5+01:00","host":"Example.COM.","user":" alice ","nested":{"ips":["10.0.0.2:80","10.0.0.1","bogus","10.0.0.1"]}}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"when":"2024-03-05T09:15:30.5+01:00","host":"Example.COM.","user":" alice ","nested":{"ips":["10.0.0.2:80","10.0.0.1","bogus","10.0.0.1"]},
		"p_log_type":"Test.Event","p_row_id":"row-1",
		"p_event_time":"2024-03-05T08:15:30.5Z","p_parse_time":"2026-05-06T06:08:09.0000001Z",
		"p_any_ip_addresses":["10.0.0.1","10.0.0.2"],"p_any_domain_names":["example.com"],"p_any_usernames":["alice"]
	}`, string(out))

	// No event time in the event: p_event_time is the parse time.
	out, err = n.Append(nil, withTime, []byte(`{"host":"null"}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"host":"null","p_log_type":"Test.Event","p_row_id":"row-1",
		"p_event_time":"2026-05-06T06:08:09.0000001Z","p_parse_time":"2026-05-06T06:08:09.0000001Z"}`, string(out))

	// An empty event still gets the standard fields.
	out, err = n.Append(nil, withTime, []byte(`{}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"p_log_type":"Test.Event","p_row_id":"row-1",
		"p_event_time":"2026-05-06T06:08:09.0000001Z","p_parse_time":"2026-05-06T06:08:09.0000001Z"}`, string(out))
}

// TestJSONIndicators checks indicators on a json field: they read every
// string inside the value, at any depth, whatever its shape, and leave the
// value as it came. Each row is one value of the field and the p_any_*
// members it gives.
func TestJSONIndicators(t *testing.T) {
	s := mustParse(t, `
schema: Test.JSONIndicators
fields:
  - name: ip
    type: json
    indicators: [ip]
  - name: who
    type: json
    indicators: [username, email]
`)
	n := NewNormalizer(Options{
		PantherFields: true,
		Now:           func() time.Time { return time.Unix(0, 0) },
		RowID:         func(dst []byte) []byte { return dst },
	})
	const std = `"p_log_type":"Test.JSONIndicators","p_row_id":"","p_event_time":"1970-01-01T00:00:00Z","p_parse_time":"1970-01-01T00:00:00Z"`
	// Each row: the event, the field as written ("" when left out) and the
	// p_any_* members.
	tests := []struct{ in, kept, want string }{
		{`{"ip":{"address":"216.160.83.56"}}`, `"ip":{"address":"216.160.83.56"}`, `,"p_any_ip_addresses":["216.160.83.56"]`},
		{`{"ip":"216.160.83.56"}`, `"ip":"216.160.83.56"`, `,"p_any_ip_addresses":["216.160.83.56"]`},
		{`{"ip":["10.0.0.2",{"a":{"b":"10.0.0.1:443"}},"10.0.0.2"]}`, `"ip":["10.0.0.2",{"a":{"b":"10.0.0.1:443"}},"10.0.0.2"]`, `,"p_any_ip_addresses":["10.0.0.1","10.0.0.2"]`},
		// Keys, numbers, booleans and strings that are no IP give nothing.
		{`{"ip":{"10.0.0.1":"not an ip","n":10,"b":true,"z":null}}`, `"ip":{"10.0.0.1":"not an ip","n":10,"b":true,"z":null}`, ``},
		{`{"ip":{}}`, `"ip":{}`, ``},
		{`{"ip":null}`, ``, ``},
		// Escapes are decoded for the scanners and kept in the value.
		{`{"who":{"name":"al\u0069ce@example.com"}}`, `"who":{"name":"al\u0069ce@example.com"}`, `,"p_any_emails":["alice@example.com"],"p_any_usernames":["alice@example.com"]`},
		{`{"who":"quote\"d"}`, `"who":"quote\"d"`, `,"p_any_usernames":["quote\"d"]`},
	}
	for _, tc := range tests {
		out, err := n.Append(nil, s, []byte(tc.in))
		require.NoError(t, err, "Append(%s)", tc.in)
		want := "{" + std + tc.want + "}"
		if tc.kept != "" {
			want = "{" + tc.kept + "," + std + tc.want + "}"
		}
		assert.Equal(t, want, string(out), "Append(%s)", tc.in)
	}

	// Without Panther fields the scanners do not run, and the value is
	// written as it came.
	out, err := NewNormalizer(Options{}).Append(nil, s, []byte(`{"ip":{ "address" : "216.160.83.56" }}`))
	require.NoError(t, err)
	assert.Equal(t, `{"ip":{"address":"216.160.83.56"}}`, string(out))
}

func TestDefaultRowIDsAreUnique(t *testing.T) {
	gen := newRowIDs()
	seen := map[string]bool{}
	for range 1000 {
		id := string(gen(nil))
		require.Len(t, id, 32)
		require.False(t, seen[id], "duplicate row id %s", id)
		seen[id] = true
	}
}

// TestAppendKeepsDstOnError checks that a failed Append leaves dst as it
// was, so callers can keep the original event.
func TestAppendKeepsDstOnError(t *testing.T) {
	s := mustParse(t, typesSchema)
	dst := []byte("prefix")
	out, err := NewNormalizer(Options{}).Append(dst, s, []byte(`{"s":"ok","i":"bad"}`))
	require.Error(t, err)
	assert.Equal(t, "prefix", string(out))
	var fe *FieldError
	assert.True(t, errors.As(err, &fe))
}

func TestBuiltinSchemas(t *testing.T) {
	r, err := NewRegistry()
	require.NoError(t, err)
	// Each built-in schema and its required fields: what Duo always sends.
	wantRequired := map[string][]string{
		"Duo.Activity":          {"action", "activity_id", "ts"},
		"Duo.Administrator":     {"action", "isotimestamp", "username"},
		"Duo.Authentication":    {"isotimestamp", "txid"},
		"Duo.OfflineEnrollment": {"action", "isotimestamp", "object", "username"},
		"Duo.Telephony":         {"isotimestamp", "phone", "type"},
		"Duo.TrustMonitor":      {"sekey", "surfaced_timestamp", "type"},
	}
	assert.Equal(t, []string{"Duo.Activity", "Duo.Administrator", "Duo.Authentication", "Duo.OfflineEnrollment", "Duo.Telephony", "Duo.TrustMonitor"}, r.Names())
	for name, want := range wantRequired {
		s := r.Lookup(name)
		require.NotNil(t, s, "Lookup(%q)", name)
		var required []string
		for _, f := range s.Fields {
			if f.Required {
				required = append(required, f.Name)
			}
		}
		assert.Equal(t, want, required, "required fields of %s", name)
		assert.NotEmpty(t, s.ReferenceURL, "referenceURL of %s", name)
	}
	assert.Nil(t, r.Lookup("Duo.Nope"))
	assert.Equal(t, `Duo.Nope: unknown log type: loaded schemas are Duo.Activity, Duo.Administrator, Duo.Authentication, Duo.OfflineEnrollment, Duo.Telephony, Duo.TrustMonitor`, r.UnknownLogTypeError("Duo.Nope").Error())

	// A schema of the same name replaces the built-in one.
	r.Add(mustParse(t, "schema: Duo.Telephony\nfields:\n  - name: phone\n    type: string\n"))
	assert.Len(t, r.Lookup("Duo.Telephony").Fields, 1)
}

func TestParseRejectsBadSchemas(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"fields:\n  - name: a\n    type: string\n", "no name"},
		{"schema: X\n", "has no fields"},
		{"schema: X\nversion: 1\nfields:\n  - name: a\n    type: string\n", "version 1"},
		{"schema: X\nparser:\n  csv: {delimiter: ','}\nfields:\n  - name: a\n    type: string\n", "field csv not found"},
		{"schema: X\nfields:\n  - name: a\n    type: strng\n", `unknown type "strng"`},
		{"schema: X\nfields:\n  - name: a\n", "has no type"},
		{"schema: X\nfields:\n  - name: a\n    type: string\n    colour: red\n", "field colour not found"},
		{"schema: X\nfields:\n  - name: a\n    type: timestamp\n", "needs timeFormat"},
		{"schema: X\nfields:\n  - name: a\n    type: timestamp\n    timeFormat: iso\n", `unknown time format "iso"`},
		{"schema: X\nfields:\n  - name: a\n    type: timestamp\n    timeFormat: '%Q'\n", "unsupported directive %Q"},
		{"schema: X\nfields:\n  - name: a\n    type: timestamp\n    timeFormat: '%Y at %H'\n", "literal 'a'"},
		{"schema: X\nfields:\n  - name: a\n    type: timestamp\n    timeFormat: unix\n    timeFormats: [unix]\n", "not both"},
		{"schema: X\nfields:\n  - name: a\n    type: string\n    timeFormat: unix\n", "only apply to timestamps"},
		{"schema: X\nfields:\n  - name: a\n    type: string\n    indicators: [phone]\n", `unknown indicator "phone"`},
		{"schema: X\nfields:\n  - name: a\n    type: object\n", "needs fields"},
		{"schema: X\nfields:\n  - name: a\n    type: array\n", "needs an element"},
		{"schema: X\nfields:\n  - name: a\n    type: array\n    element: {type: object}\n    indicators: [ip]\n", "indicators apply to scalar and json values, not to an array"},
		{"schema: X\nfields:\n  - name: a\n    type: object\n    fields: [{name: b, type: string}]\n    indicators: [ip]\n", "indicators apply to scalar and json values, not to an object"},
		{"schema: X\nfields:\n  - name: a\n    type: string\n  - name: a\n    type: int\n", "declared twice"},
		{"schema: X\nfields:\n  - name: p_x\n    type: string\n", "kept for Panther"},
		{"schema: X\nfields:\n  - name: a\n    type: string\n    copy: {}\n", "copy needs 'from'"},
		{"schema: X\nfields:\n  - name: a\n    type: array\n    element: {type: timestamp, timeFormat: unix, isEventTime: true}\n", "cannot be the event time"},
		{"schema: [", "decode schema YAML"},
	}
	for _, tc := range tests {
		_, err := Parse([]byte(tc.yaml))
		require.Error(t, err, "Parse(%q)", tc.yaml)
		assert.Contains(t, err.Error(), tc.want, "Parse(%q)", tc.yaml)
	}
}

// FuzzNormalize runs arbitrary events through the Duo schemas: an event
// either normalizes to valid JSON or fails with a FieldError naming its log
// type; nothing panics.
func FuzzNormalize(f *testing.F) {
	r, err := NewRegistry()
	if err != nil {
		f.Fatal(err)
	}
	names := r.Names()
	seeds := []struct{ logType, event string }{
		{"Duo.Authentication", `{"isotimestamp":"2020-02-13T18:56:20.351346+00:00","txid":"t","access_device":{"hostname":"null","ip":"1.2.3.4:5","security_agents":"unknown"},"user":{"groups":["a",true]}}`},
		{"Duo.Administrator", `{"action":"a","isotimestamp":"2021-07-20T11: 41: 31+00: 00","username":"u","timestamp":"1"}`},
		{"Duo.Telephony", `{"ts":"2023-03-21T22:34:49.466370+00:00","phone":"+1","type":"sms","credits":"2"}`},
		{"Duo.OfflineEnrollment", `{"action":"o","isotimestamp":"2019-08-30T16:10:05+02:00","object":"x","username":"u","timestamp":1567181405.5}`},
		{"Duo.Activity", `{"access_device":{"ip":{"address":"216.160.83.56"}},"action":{"details":null,"name":"x"},"activity_id":"a","actor":{"details":"{\"k\":1}","name":"u@example.com"},"ts":"2023-03-21T15:51:22.591015+00:00"}`},
		{"Duo.Activity", `{"access_device":{"ip":"10.0.0.1"},"action":"phone_create","activity_id":"a","target":{"details":{"k":["10.0.0.2"]}},"ts":"2022-09-30T23:10:39.635000+00:00"}`},
		{"Duo.TrustMonitor", `{"sekey":"S","surfaced_timestamp":1598034349059,"type":"auth","surfaced_auth":{"access_device":{"ip":"71.105.79.160","security_agents":"unknown"},"auth_device":{"ip":null},"email":"","timestamp":1598034349,"txid":"t"},"explanations":[{"type":"NEW_NETBLOCK"}],"priority_reasons":[]}`},
		{"Duo.TrustMonitor", `{"bypass_status_enabled":1604337058989,"enabled_by":{"name":"a"},"sekey":"S","state_updated_timestamp":null,"surfaced_timestamp":"1605602911680","type":"bypass_status"}`},
	}
	for _, sd := range seeds {
		f.Add(sd.event, slices.Index(names, sd.logType))
	}
	n := NewNormalizer(Options{PantherFields: true})
	keep := NewNormalizer(Options{PantherFields: true, KeepUnknown: true})
	f.Fuzz(func(t *testing.T, event string, which int) {
		if which < 0 {
			which = -which
		}
		s := r.Lookup(names[which%len(names)])
		for _, norm := range []*Normalizer{n, keep} {
			out, err := norm.Append(nil, s, []byte(event))
			if err != nil {
				var fe *FieldError
				if !errors.As(err, &fe) || fe.LogType != s.Name || fe.Problem == "" {
					t.Fatalf("Append(%q) error %v is not a FieldError for %s", event, err, s.Name)
				}
				continue
			}
			if !json.Valid(out) {
				t.Fatalf("Append(%q) = %q, not valid JSON", event, out)
			}
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("Append(%q) = %q: %v", event, out, err)
			}
			if m["p_log_type"] != s.Name {
				t.Fatalf("Append(%q) = %q: p_log_type is not %s", event, out, s.Name)
			}
		}
	})
}

// FuzzRFC3339Fast checks the fast RFC 3339 path against the standard
// library: whatever it accepts, time.Parse accepts, for the same instant
// and the same canonical text.
func FuzzRFC3339Fast(f *testing.F) {
	for _, s := range []string{"2020-02-13T18:56:20.351346+00:00", "2019-08-30T16:10:05+02:00", "2024-02-29T23:59:59.999999999Z", "2023-02-29T00:00:00Z", "2021-07-20T11: 41: 31+00: 00", "0000-01-01T00:00:00-23:59"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, secs, nanos, utc, ok := rfc3339Fast(nil, []byte(s))
		std, err := time.Parse(time.RFC3339Nano, s)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("rfc3339Fast(%q) accepted what time.Parse refuses: %v", s, err)
		}
		if std.Unix() != secs || std.Nanosecond() != nanos {
			t.Fatalf("rfc3339Fast(%q) = %d.%09d, time.Parse = %d.%09d", s, secs, nanos, std.Unix(), std.Nanosecond())
		}
		want := `"` + std.Format(time.RFC3339Nano) + `"`
		if string(out) != want {
			t.Fatalf("rfc3339Fast(%q) wrote %s, time.Format gives %s", s, out, want)
		}
		if _, off := std.Zone(); utc != (off == 0) {
			t.Fatalf("rfc3339Fast(%q) utc = %v, offset %d", s, utc, off)
		}
	})
}
