// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package reliability

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
	_ "github.com/duostream/duostream/processor"
	"github.com/duostream/duostream/schema"
)

// jsonVariant is a value put in place of a field of a good event.
type jsonVariant struct {
	name string
	raw  []byte
}

// jsonVariants returns a value of every JSON type, and the awkward ones:
// extreme numbers, invalid UTF-8, escapes, a huge string of hugeLen bytes,
// deep nesting.
func jsonVariants(hugeLen int) []jsonVariant {
	return []jsonVariant{
		{"null", []byte(`null`)},
		{"true", []byte(`true`)},
		{"false", []byte(`false`)},
		{"zero", []byte(`0`)},
		{"negative", []byte(`-1`)},
		{"fraction", []byte(`1.5`)},
		{"largest float", []byte(`1.7976931348623157e308`)},
		{"tiny float", []byte(`-4.9e-324`)},
		{"huge integer", []byte(`123456789012345678901234567890`)},
		{"400 digits", []byte(strings.Repeat("9", 400))},
		{"empty string", []byte(`""`)},
		{"string", []byte(`"x"`)},
		{"numeric string", []byte(`"1626781291"`)},
		{"time string", []byte(`"2021-07-20T11:41:31+00:00"`)},
		{"NUL and escapes", []byte(`"a\u0000b\n\t\"\\\/"`)},
		{"lone surrogate", []byte(`"\ud800"`)},
		{"invalid UTF-8", []byte("\"\xff\xfe\xc3\x28 \xed\xa0\x80\"")},
		{"huge string", []byte(`"` + strings.Repeat("A", hugeLen) + `"`)},
		{"empty array", []byte(`[]`)},
		{"mixed array", []byte(`[1,"a",null,true,{},[]]`)},
		{"empty object", []byte(`{}`)},
		{"object", []byte(`{"a":{"b":[1,{"c":null}]}}`)},
		{"deep arrays", []byte(strings.Repeat("[", 5000) + strings.Repeat("]", 5000))},
		{"deep objects", []byte(strings.Repeat(`{"a":`, 5000) + "1" + strings.Repeat("}", 5000))},
	}
}

// mutation is a good event with one field replaced, removed or added.
type mutation struct {
	path    []string // the field changed; empty for the whole event
	variant string
	event   []byte
}

// field returns the dotted path of the changed field.
func (m mutation) field() string { return strings.Join(m.path, ".") }

// mutations returns event with every field (at any depth) replaced by every
// variant, every field removed, an unknown field added, and whole events
// that are not objects or not JSON.
func mutations(event []byte, variants []jsonVariant) ([]mutation, error) {
	dec := json.NewDecoder(bytes.NewReader(event))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, err
	}
	var paths [][]string
	var walk func(prefix []string, obj map[string]any)
	walk = func(prefix []string, obj map[string]any) {
		for _, k := range slices.Sorted(func(yield func(string) bool) {
			for k := range obj {
				if !yield(k) {
					return
				}
			}
		}) {
			p := append(slices.Clone(prefix), k)
			paths = append(paths, p)
			if child, ok := obj[k].(map[string]any); ok {
				walk(p, child)
			}
		}
	}
	walk(nil, root)

	var out []mutation
	set := func(path []string, v any, remove bool) ([]byte, error) {
		cp, err := deepCopy(root)
		if err != nil {
			return nil, err
		}
		obj := cp
		for _, k := range path[:len(path)-1] {
			obj = obj[k].(map[string]any)
		}
		if remove {
			delete(obj, path[len(path)-1])
		} else {
			obj[path[len(path)-1]] = v
		}
		return marshalRaw(cp)
	}
	for _, p := range paths {
		for _, v := range variants {
			ev, err := set(p, json.RawMessage(v.raw), false)
			if err != nil {
				return nil, fmt.Errorf("%s = %s: %w", strings.Join(p, "."), v.name, err)
			}
			out = append(out, mutation{path: p, variant: v.name, event: ev})
		}
		ev, err := set(p, nil, true)
		if err != nil {
			return nil, err
		}
		out = append(out, mutation{path: p, variant: "removed", event: ev})
	}
	for _, v := range variants {
		ev, err := set([]string{"zz_unknown_field"}, json.RawMessage(v.raw), false)
		if err != nil {
			return nil, err
		}
		out = append(out, mutation{path: []string{"zz_unknown_field"}, variant: "added " + v.name, event: ev})
		out = append(out, mutation{variant: "whole event " + v.name, event: v.raw})
	}
	for _, bad := range []string{"", "{", `{"a":}`, `{"txid":"x",}`, "\xff", "{} {}", `{"a":1}garbage`, string(event[:len(event)/2])} {
		out = append(out, mutation{variant: fmt.Sprintf("not JSON %.20q", bad), event: []byte(bad)})
	}
	return out, nil
}

func deepCopy(v map[string]any) (map[string]any, error) {
	b, err := marshalRaw(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out map[string]any
	return out, dec.Decode(&out)
}

// marshalRaw encodes v without escaping HTML and without checking the raw
// values in it, so that invalid UTF-8 reaches the processor as it came.
func marshalRaw(v any) ([]byte, error) {
	switch x := v.(type) {
	case json.RawMessage:
		return x, nil
	case map[string]any:
		var b bytes.Buffer
		b.WriteByte('{')
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range x {
				if !yield(k) {
					return
				}
			}
		})
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			kb, err := json.Marshal(k)
			if err != nil {
				return nil, err
			}
			b.Write(kb)
			b.WriteByte(':')
			vb, err := marshalRaw(x[k])
			if err != nil {
				return nil, err
			}
			b.Write(vb)
		}
		b.WriteByte('}')
		return b.Bytes(), nil
	case []any:
		var b bytes.Buffer
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			eb, err := marshalRaw(e)
			if err != nil {
				return nil, err
			}
			b.Write(eb)
		}
		b.WriteByte(']')
		return b.Bytes(), nil
	}
	return json.Marshal(v)
}

// sampleEvents returns one generated event of each log type as its current
// endpoint sends it (v2 for authentication and telephony).
func sampleEvents(t testing.TB) map[duoapi.LogType][]byte {
	sim, err := duosim.New(duosim.Config{Seed: 7})
	require.NoError(t, err)
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	out := map[duoapi.LogType][]byte{}
	for _, lt := range duoapi.AllLogTypes {
		// Generate a few and keep the one with the most fields.
		require.NoError(t, sim.Generate(lt, 20, at, at.Add(time.Hour)))
		for _, e := range sim.Events(lt, at, at.Add(2*time.Hour)) {
			if len(e.Body) > len(out[lt]) {
				out[lt] = e.Body
			}
		}
	}
	return out
}

// newNormalizeProcessor builds the real duo_normalize processor through
// Benthos, configured as the shipped pipelines use it.
func newNormalizeProcessor(t testing.TB) *service.Resources {
	rb := service.NewResourceBuilder()
	require.NoError(t, rb.AddProcessorYAML("label: norm\nduo_normalize: {}"))
	res, closeRes, err := rb.Build()
	require.NoError(t, err)
	t.Cleanup(func() { _ = closeRes(t.Context()) })
	return res
}

// TestBadEventsThroughNormalize puts every JSON type, extreme and invalid
// values, and missing and unknown fields in every field of a real event of
// each log type, and whole events that are not objects or not JSON, through
// the duo_normalize processor. Each either normalizes to a JSON object or
// fails with an error naming its log type and, for a field, the field;
// none panics.
func TestBadEventsThroughNormalize(t *testing.T) {
	res := newNormalizeProcessor(t)
	reg, err := schema.NewRegistry()
	require.NoError(t, err)
	variants := jsonVariants(1 << 20)
	for lt, event := range sampleEvents(t) {
		t.Run(string(lt), func(t *testing.T) {
			s := reg.Lookup(lt.SchemaName())
			require.NotNil(t, s)
			copies := copiedFrom(s.Fields, "")
			muts, err := mutations(event, variants)
			require.NoError(t, err)
			var ok, failed int
			for _, m := range muts {
				msg := service.NewMessage(m.event)
				msg.MetaSetMut("duo_log_type", lt.SchemaName())
				var batch service.MessageBatch
				var procErr error
				require.NoError(t, res.AccessProcessor(t.Context(), "norm", func(p *service.ResourceProcessor) {
					batch, procErr = p.Process(t.Context(), msg)
				}))
				require.NoError(t, procErr, "%s = %s", m.field(), m.variant)
				require.Len(t, batch, 1, "%s = %s: one message out", m.field(), m.variant)
				out := batch[0]
				if err := out.GetError(); err != nil {
					failed++
					assert.Contains(t, err.Error(), lt.SchemaName(), "%s = %s", m.field(), m.variant)
					var fe *schema.FieldError
					if errors.As(err, &fe) && fe.Path != "" && len(m.path) > 0 {
						named := pathsOverlap(fe.Path, m.field())
						for _, dst := range copies[m.field()] {
							named = named || pathsOverlap(fe.Path, dst)
						}
						assert.True(t, named, "%s = %s: the error names field %q: %v", m.field(), m.variant, fe.Path, err)
					}
					b, _ := out.AsBytes()
					assert.Equal(t, m.event, b, "an errored event passes on unchanged")
					continue
				}
				ok++
				b, err := out.AsBytes()
				require.NoError(t, err)
				assert.True(t, json.Valid(b) && len(b) > 0 && b[0] == '{', "%s = %s: output is a JSON object: %.300s", m.field(), m.variant, b)
				assert.True(t, utf8.Valid(b), "%s = %s: output is valid UTF-8", m.field(), m.variant)
			}
			t.Logf("%s: %d bad events: %d normalized, %d flagged with an error, no panic", lt, len(muts), ok, failed)
		})
	}
}

// copiedFrom maps each event path that a schema field copies its value
// from to the dotted paths of those fields.
func copiedFrom(fields []*schema.Field, prefix string) map[string][]string {
	out := map[string][]string{}
	for _, f := range fields {
		path := prefix + f.Name
		if f.CopyFrom != "" {
			out[f.CopyFrom] = append(out[f.CopyFrom], path)
		}
		for src, dsts := range copiedFrom(f.Fields, path+".") {
			out[src] = append(out[src], dsts...)
		}
	}
	return out
}

// pathsOverlap reports whether dotted paths a and b are the same field or
// one holds the other.
func pathsOverlap(a, b string) bool {
	return a == b || strings.HasPrefix(a, b+".") || strings.HasPrefix(b, a+".") ||
		strings.HasPrefix(a, b+"[") || strings.HasPrefix(b, a+"[")
}
