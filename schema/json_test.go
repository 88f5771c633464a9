// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package schema

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDocParseAcceptsWhatEncodingJSONAccepts(t *testing.T) {
	tests := []string{
		`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1.5e+10`, `-12.25E-3`, `""`,
		`{"a":[1,{"b":null}],"c":"d"}`,
		" \t\r\n{ \"a\" : [ 1 , 2 ] } \n",
		`"\u00e9\ud83d\ude00\n\t\"\\\/"`,
		`[[[[[]]]]]`,
		"\"caf\xc3\xa9\"",
		"\"bad \xff utf8\"",
		// Invalid JSON.
		``, ` `, `{`, `}`, `[1,]`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{a:1}`, `01`, `1.`, `.5`, `-`, `1e`, `+1`,
		`tru`, `nul`, `"abc`, `"\x"`, `"\u12"`, `"\u12g4"`, "\"a\x01b\"", `[1 2]`, `{"a":1 "b":2}`,
		`{} {}`, `[`, `]`, `"`, `{"a":1}x`, `NaN`, `Infinity`, `'a'`, `[1,2`,
	}
	for _, in := range tests {
		var d Doc
		err := d.Parse([]byte(in))
		assert.Equal(t, json.Valid([]byte(in)), err == nil, "Parse(%q) error = %v", in, err)
	}
}

func TestDocAppendValueRoundTrips(t *testing.T) {
	tests := []struct{ in, want string }{
		{` { "a" : [ 1 , 2.50 , "x" ] , "b" : { } , "c" : [ ] } `, `{"a":[1,2.50,"x"],"b":{},"c":[]}`},
		{`"esc\"aped\u0041"`, `"esc\"aped\u0041"`},
		{"\"bad \xff byte\"", `"bad \ufffd byte"`},
		{`[null,true,false,-1e-5]`, `[null,true,false,-1e-5]`},
	}
	for _, tc := range tests {
		var d Doc
		require.NoError(t, d.Parse([]byte(tc.in)))
		assert.Equal(t, tc.want, string(d.AppendValue(nil, Root)), "AppendValue(%q)", tc.in)
	}
}

func TestDocStrUnescapes(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"plain"`, "plain"},
		{`"a\"b\\c\/d\b\f\n\r\t"`, "a\"b\\c/d\b\f\n\r\t"},
		{`"\u00e9\u20ac"`, "é€"},
		{`"\ud83d\ude00"`, "😀"},
		{`"\ud83d"`, "\ufffd"},
		{`"\ud83dx"`, "\ufffdx"},
		{`"\ude00\ud83d\ude00"`, "\ufffd😀"},
	}
	for _, tc := range tests {
		var d Doc
		require.NoError(t, d.Parse([]byte(tc.in)))
		got, _ := d.Str(Root, nil)
		var want string
		require.NoError(t, json.Unmarshal([]byte(tc.in), &want))
		assert.Equal(t, want, string(got), "Str(%s) disagrees with encoding/json", tc.in)
		assert.Equal(t, tc.want, string(got), "Str(%s)", tc.in)
	}
}

func TestDocLookup(t *testing.T) {
	var d Doc
	require.NoError(t, d.Parse([]byte(`{"a":{"b":[1,2]},"c\u0064":3,"e":null}`)))
	a := d.Lookup(Root, "a")
	require.GreaterOrEqual(t, a, 0)
	assert.Equal(t, KindObject, d.Kind(a))
	assert.Equal(t, KindArray, d.Kind(d.Lookup(a, "b")))
	assert.Equal(t, "3", string(d.Raw(d.Lookup(Root, "cd"))))
	assert.Equal(t, KindNull, d.Kind(d.Lookup(Root, "e")))
	assert.Equal(t, -1, d.Lookup(Root, "zz"))
	assert.Equal(t, -1, d.Lookup(d.Lookup(a, "b"), "x"))
}

func TestDocMaxDepth(t *testing.T) {
	deep := strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)
	var d Doc
	err := d.Parse([]byte(deep))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "max depth")
	ok := strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)
	require.NoError(t, d.Parse([]byte(ok)))
}

// decodeNumbers decodes JSON keeping numbers as their text, so values out
// of float64's range still compare.
func decodeNumbers(t *testing.T, in []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(in))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAppendQuoted(t *testing.T) {
	for _, s := range []string{"", "plain", "quote\" back\\slash", "ctl\x00\x1f\n\r\t", "é€😀", "bad\xffbyte"} {
		got := AppendQuoted(nil, []byte(s))
		require.True(t, json.Valid(got), "AppendQuoted(%q) = %s", s, got)
		var back string
		require.NoError(t, json.Unmarshal(got, &back))
		want := strings.ToValidUTF8(s, "\ufffd")
		assert.Equal(t, want, back)
	}
}

// FuzzDocParse checks the JSON reader against encoding/json: both accept
// the same documents, and what the reader writes back decodes to the same
// value.
func FuzzDocParse(f *testing.F) {
	for _, s := range []string{`{"a":[1,2,{"b":"c"}]}`, `"\ud83d\ude00"`, `[1e5,-0.5,true,null]`, "\"\xff\"", `{"a":1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var d Doc
		err := d.Parse(in)
		if valid := json.Valid(in); valid != (err == nil) {
			t.Fatalf("Parse(%q) error = %v, json.Valid = %v", in, err, valid)
		}
		if err != nil {
			return
		}
		out := d.AppendValue(nil, Root)
		if !json.Valid(out) {
			t.Fatalf("AppendValue(%q) = %q, not valid JSON", in, out)
		}
		a, b := decodeNumbers(t, in), decodeNumbers(t, out)
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			t.Fatalf("round trip of %q changed the value: %s != %s", in, ja, jb)
		}
	})
}
