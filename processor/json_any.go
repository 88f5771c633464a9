// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package processor

import (
	"errors"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/duostream/duostream/schema"
)

// docs reuses the JSON indexes decodeObject parses into.
var docs = sync.Pool{New: func() any { return new(schema.Doc) }}

// decodeObject decodes a JSON object into the values encoding/json's
// Unmarshal into any gives (map[string]any, []any, float64, string, bool,
// nil), at a fraction of its cost: schema.Doc indexes the document without
// reflection, and the values are built from the index.
func decodeObject(src []byte) (map[string]any, error) {
	d := docs.Get().(*schema.Doc)
	defer docs.Put(d)
	if err := d.Parse(src); err != nil {
		return nil, err
	}
	if d.Kind(schema.Root) != schema.KindObject {
		return nil, errors.New(d.Kind(schema.Root).String())
	}
	var scratch []byte
	v, _, err := valueAt(d, schema.Root, &scratch)
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// valueAt returns value i of d and the index after it.
func valueAt(d *schema.Doc, i int, scratch *[]byte) (any, int, error) {
	switch d.Kind(i) {
	case schema.KindNull:
		return nil, i + 1, nil
	case schema.KindFalse:
		return false, i + 1, nil
	case schema.KindTrue:
		return true, i + 1, nil
	case schema.KindNumber:
		f, err := strconv.ParseFloat(string(d.Raw(i)), 64)
		if err != nil {
			// encoding/json refuses a number that overflows a float64.
			return nil, 0, err
		}
		return f, i + 1, nil
	case schema.KindString:
		return stringAt(d, i, scratch), i + 1, nil
	case schema.KindObject:
		end := d.Next(i)
		m := make(map[string]any, 8)
		for j := i + 1; j < end; {
			k := stringAt(d, j, scratch)
			v, next, err := valueAt(d, j+1, scratch)
			if err != nil {
				return nil, 0, err
			}
			m[k] = v
			j = next
		}
		return m, end, nil
	case schema.KindArray:
		end := d.Next(i)
		a := make([]any, 0, 4)
		for j := i + 1; j < end; {
			v, next, err := valueAt(d, j, scratch)
			if err != nil {
				return nil, 0, err
			}
			a = append(a, v)
			j = next
		}
		return a, end, nil
	}
	return nil, 0, errors.New("unknown JSON value")
}

// stringAt returns string value i, with each byte that is not UTF-8
// replaced by U+FFFD, as encoding/json does.
func stringAt(d *schema.Doc, i int, scratch *[]byte) string {
	var b []byte
	b, *scratch = d.Str(i, (*scratch)[:0])
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return string(out)
}
