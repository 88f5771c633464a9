// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package ocsf_test

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/ocsf"
)

// TestAppendJSONMatchesEncodingJSON checks that AppendJSON writes the
// bytes encoding/json writes, for the values Map produces.
//
// Strings with invalid UTF-8 are compared by what they decode to: Go 1.26's
// encoding/json writes U+FFFD as an escape and Go 1.27's as the character.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	for _, v := range []any{
		nil, true, false, 0, -7, int64(1 << 40), 1.5, 0.0, math.Copysign(0, -1), 1e21, 1e20, 1e-7, 123456789.125, 1764547200000.0,
		"", "plain", "quote \" backslash \\ slash /", "<script>&amp;</script>", "tab\tnew\nline\rcr\bbs\fff\x01\x1f",
		"é ü 日本 😀", "\u2028\u2029", "bad \xff utf-8 \xc3",
		map[string]any{}, []any{}, map[string]any{"b": 1.0, "a": []any{"x", map[string]any{"z": nil, "y": true}}},
		map[string]any{"k": map[string]string{"typed": "map"}},
	} {
		want, err := json.Marshal(v)
		require.NoError(t, err)
		got, err := ocsf.AppendJSON(nil, v)
		require.NoError(t, err)
		assertSameJSON(t, want, got, "%#v", v)
	}
	got, err := ocsf.AppendJSON(nil, "bad \xff utf-8 \xc3")
	require.NoError(t, err)
	assert.Equal(t, "\"bad \uFFFD utf-8 \uFFFD\"", string(got), "invalid UTF-8 becomes U+FFFD")
	_, err = ocsf.AppendJSON(nil, math.Inf(1))
	assert.Error(t, err)
}

// TestAppendJSONOfMappedEvents encodes the events Map makes of the
// simulator's data both ways.
func TestAppendJSONOfMappedEvents(t *testing.T) {
	n := 0
	for name, evs := range simEvents(t, 300) {
		for _, ev := range evs {
			out, _, err := ocsf.Map(name, decodeEvent(t, ev.Body))
			if err != nil {
				continue
			}
			want, err := json.Marshal(out)
			require.NoError(t, err)
			got, err := ocsf.AppendJSON(nil, out)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got), name)
			n++
		}
	}
	assert.Greater(t, n, 1000)
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("plain", 1.5)
	f.Add("<\u2028\xff", 1e-9)
	f.Fuzz(func(t *testing.T, s string, x float64) {
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return
		}
		v := map[string]any{s: []any{s, x, map[string]any{"n": x}}}
		want, err := json.Marshal(v)
		if err != nil {
			t.Skip()
		}
		got, err := ocsf.AppendJSON(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		if !sameJSON(want, got) {
			t.Fatalf("AppendJSON(%q, %v) = %s, want %s", s, x, got, want)
		}
	})
}

// sameJSON reports whether got is the encoding/json output want: the same
// bytes, or, where want holds the escape \ufffd that Go 1.26 writes for
// invalid UTF-8, the same value once both are decoded.
func sameJSON(want, got []byte) bool {
	if string(got) == string(want) {
		return true
	}
	if !strings.Contains(string(want), `\ufffd`) {
		return false
	}
	var w, g any
	if json.Unmarshal(want, &w) != nil || json.Unmarshal(got, &g) != nil {
		return false
	}
	return reflect.DeepEqual(w, g)
}

func assertSameJSON(t *testing.T, want, got []byte, msgAndArgs ...any) {
	t.Helper()
	if !sameJSON(want, got) {
		assert.Equal(t, string(want), string(got), msgAndArgs...)
	}
}
