// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package processor

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecodeObjectMatchesEncodingJSON(t *testing.T) {
	for _, doc := range []string{
		`{}`, `{"a":1,"b":-2.5e3,"c":"x","d":null,"e":true,"f":false,"g":[1,"y",{"h":[]}],"i":{}}`,
		`{"esc":"q\" b\\ s\/ \n\t\u00e9\ud83d\ude00 \ud800 lone","dup":1,"dup":2}`,
		"{\"bad\":\"\xff\xfe ok \xc3\"}", `{"big":12345678901234567890,"tiny":1e-320}`,
		` { "ws" : [ 1 , 2 ] } `,
	} {
		var want map[string]any
		require.NoError(t, json.Unmarshal([]byte(doc), &want), doc)
		got, err := decodeObject([]byte(doc))
		require.NoError(t, err, doc)
		assert.Equal(t, want, got, doc)
	}
	for _, doc := range []string{`[]`, `"x"`, `null`, `{"a":}`, `{"a":1`, `{"n":1e999}`, ``} {
		var v map[string]any
		wantErr := json.Unmarshal([]byte(doc), &v) != nil || v == nil
		_, err := decodeObject([]byte(doc))
		assert.Equal(t, wantErr, err != nil, "%q: %v", doc, err)
	}
}

func FuzzDecodeObject(f *testing.F) {
	f.Add([]byte(`{"a":[1,{"b":"\u00e9"}]}`))
	f.Add([]byte("{\"x\":\"\xff\"}"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		var want map[string]any
		wantErr := json.Unmarshal(doc, &want) != nil || want == nil
		got, err := decodeObject(doc)
		if wantErr != (err != nil) {
			t.Fatalf("%q: encoding/json error %v, decodeObject %v", doc, wantErr, err)
		}
		if err == nil {
			assert.Equal(t, want, got, "%q", doc)
		}
	})
}
