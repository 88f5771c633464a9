// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package ocsf

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/schema"
)

// readEvent parses doc as the mapper does: a JSON object whose numbers
// fit a float64. It returns the event as encoding/json's Unmarshal into any
// would.
func readEvent(doc []byte) (any, error) {
	var d schema.Doc
	if err := d.Parse(doc); err != nil {
		return nil, err
	}
	if k := d.Kind(schema.Root); k != schema.KindObject {
		return nil, &FieldError{Problem: k.String()}
	}
	if err := checkNumbers(&d); err != nil {
		return nil, err
	}
	return value{&d, schema.Root}.toAny(), nil
}

// TestReadEventMatchesEncodingJSON checks that the mapper reads an event
// as encoding/json decodes it: escapes, invalid UTF-8, repeated keys (the
// last counts), numbers, and what it refuses.
func TestReadEventMatchesEncodingJSON(t *testing.T) {
	for _, doc := range []string{
		`{}`, `{"a":1,"b":-2.5e3,"c":"x","d":null,"e":true,"f":false,"g":[1,"y",{"h":[]}],"i":{}}`,
		`{"esc":"q\" b\\ s\/ \n\t\u00e9\ud83d\ude00 \ud800 lone","dup":1,"dup":2}`,
		"{\"bad\":\"\xff\xfe ok \xc3\"}", `{"big":12345678901234567890,"tiny":1e-320}`,
		` { "ws" : [ 1 , 2 ] } `,
	} {
		var want map[string]any
		require.NoError(t, json.Unmarshal([]byte(doc), &want), doc)
		got, err := readEvent([]byte(doc))
		require.NoError(t, err, doc)
		assert.Equal(t, want, got, doc)
	}
	for _, doc := range []string{`[]`, `"x"`, `null`, `{"a":}`, `{"a":1`, `{"n":1e999}`, `{"a":[{"n":-1e400}]}`, ``} {
		var v map[string]any
		wantErr := json.Unmarshal([]byte(doc), &v) != nil || v == nil
		_, err := readEvent([]byte(doc))
		assert.Equal(t, wantErr, err != nil, "%q: %v", doc, err)
	}
}

// TestAppendCanonicalMatchesEncodingJSON checks that a part of an event
// copied into the OCSF event is written as encoding/json writes what it
// decodes.
func TestAppendCanonicalMatchesEncodingJSON(t *testing.T) {
	for _, doc := range []string{
		`{"b":1,"a":[1.50,"<&>",{"z":null,"y":true}],"dup":1,"dup":{"x":2e3}}`,
		`{"u":"\u2028 \ud83d\ude00","n":-0,"e":1e21,"small":1e-7}`,
	} {
		var d schema.Doc
		require.NoError(t, d.Parse([]byte(doc)))
		var v any
		require.NoError(t, json.Unmarshal([]byte(doc), &v))
		want, err := json.Marshal(v)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(appendCanonical(nil, value{&d, schema.Root})), doc)
	}
}

func FuzzReadEvent(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"\u00e9"}]}`))
	f.Add([]byte("{\"x\":\"\xff\"}"))
	f.Add([]byte(`{"k":1,"k":[2,{"z":1,"a":"<"}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var want map[string]any
		wantErr := json.Unmarshal(doc, &want) != nil || want == nil
		got, err := readEvent(doc)
		if wantErr != (err != nil) {
			t.Fatalf("%q: encoding/json error %v, readEvent %v", doc, wantErr, err)
		}
		if err != nil {
			return
		}
		assert.Equal(t, want, got, "%q", doc)
		var d schema.Doc
		require.NoError(t, d.Parse(doc))
		canonical, err := json.Marshal(want)
		require.NoError(t, err)
		if got := appendCanonical(nil, value{&d, schema.Root}); !sameCanonical(canonical, got) {
			t.Fatalf("%q: appendCanonical = %s, want %s", doc, got, canonical)
		}
	})
}

// sameCanonical compares encoding/json's output with appendCanonical's,
// which writes U+FFFD as the character where Go 1.26 wrote an escape.
func sameCanonical(want, got []byte) bool {
	if string(want) == string(got) {
		return true
	}
	var w, g any
	return json.Unmarshal(want, &w) == nil && json.Unmarshal(got, &g) == nil && assert.ObjectsAreEqual(w, g)
}
