// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package ocsf

import (
	"strconv"

	"github.com/duostream/duostream/schema"
)

// object is an OCSF object being built: its attributes in the order they
// were set. Values are string, bool, int, int64, *object, []any of those,
// or a value, a part of the Duo event copied as it is (entity.data).
//
// It is what Map's map[string]any would be, without a map's cost: an OCSF
// object has at most a few dozen attributes, so a slice searched from the
// start is cheaper to build than a map, and it is sorted once, by index,
// when it is written.
type object struct {
	attrs []attr
}

type attr struct {
	key string
	val any
}

// set sets key to v, replacing a value set before.
func (o *object) set(key string, v any) {
	for i := range o.attrs {
		if o.attrs[i].key == key {
			o.attrs[i].val = v
			return
		}
	}
	o.attrs = append(o.attrs, attr{key, v})
}

// get returns the value of key, or nil.
func (o *object) get(key string) any {
	if o == nil {
		return nil
	}
	for i := range o.attrs {
		if o.attrs[i].key == key {
			return o.attrs[i].val
		}
	}
	return nil
}

// getString returns the value of key when it is a string.
func (o *object) getString(key string) string {
	s, _ := o.get(key).(string)
	return s
}

// len returns the number of attributes.
func (o *object) len() int { return len(o.attrs) }

// objects hands out objects from slabs that are reused from one event to
// the next: an event's objects live only until it is written or turned
// into maps, so nearly all of them cost no allocation.
type objects struct {
	objs  []object
	attrs []attr
}

// reset makes the slabs' space free again. Objects handed out before must
// no longer be used.
func (a *objects) reset() {
	clear(a.objs)
	a.objs = a.objs[:0]
	clear(a.attrs)
	a.attrs = a.attrs[:0]
}

// new returns an empty object with room for n attributes.
func (a *objects) new(n int) *object {
	if len(a.objs) == cap(a.objs) {
		a.objs = make([]object, 0, max(64, 2*cap(a.objs)))
	}
	if cap(a.attrs)-len(a.attrs) < n {
		a.attrs = make([]attr, 0, max(512, 2*cap(a.attrs), n))
	}
	a.objs = append(a.objs, object{attrs: a.attrs[len(a.attrs) : len(a.attrs) : len(a.attrs)+n]})
	a.attrs = a.attrs[:len(a.attrs)+n]
	return &a.objs[len(a.objs)-1]
}

// clone returns a copy of o that shares its values.
func (a *objects) clone(o *object) *object {
	c := a.new(len(o.attrs))
	c.attrs = append(c.attrs, o.attrs...)
	return c
}

// toAny returns v as the values encoding/json's Unmarshal gives, except
// that numbers Map sets keep their Go type (int, int64): objects become
// map[string]any, lists []any.
func toAny(v any) any {
	switch x := v.(type) {
	case *object:
		m := make(map[string]any, len(x.attrs))
		for _, a := range x.attrs {
			m[a.key] = toAny(a.val)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toAny(e)
		}
		return out
	case value:
		return x.toAny()
	}
	return v
}

// toAny returns a part of the Duo event as encoding/json's Unmarshal into
// any would: map[string]any, []any, float64, string, bool or nil.
func (v value) toAny() any {
	switch v.kind() {
	case schema.KindFalse:
		return false
	case schema.KindTrue:
		return true
	case schema.KindNumber:
		f, _ := strconv.ParseFloat(string(v.d.Raw(v.i)), 64)
		return f
	case schema.KindString:
		s, _ := v.text()
		return s
	case schema.KindObject:
		m := make(map[string]any, 8)
		v.members(func(k string, el value) { m[k] = el.toAny() })
		return m
	case schema.KindArray:
		els := v.elements()
		a := make([]any, len(els))
		for i, el := range els {
			a[i] = el.toAny()
		}
		return a
	}
	return nil
}

// appendObject writes o as JSON, with its keys sorted, as AppendJSON
// writes the map toAny makes of it.
func appendObject(dst []byte, o *object) ([]byte, error) {
	var stack [64]int
	order := stack[:0]
	for i := range o.attrs {
		order = append(order, i)
	}
	// An insertion sort of the indexes: objects are small, and moving
	// indexes costs less than moving attributes.
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && o.attrs[order[j]].key < o.attrs[order[j-1]].key; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	dst = append(dst, '{')
	for n, i := range order {
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, o.attrs[i].key)
		dst = append(dst, ':')
		var err error
		if dst, err = AppendJSON(dst, o.attrs[i].val); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendCanonical writes a part of the Duo event as encoding/json writes
// what its Unmarshal into any gives: keys sorted (a repeated key by its
// last value), numbers as float64, strings escaped anew.
func appendCanonical(dst []byte, v value) []byte {
	switch v.kind() {
	case schema.KindObject:
		// set keeps a repeated key's last value, and appendObject sorts.
		var o object
		v.members(func(k string, el value) { o.set(k, el) })
		dst, _ = appendObject(dst, &o) // values only: no error
		return dst
	case schema.KindArray:
		dst = append(dst, '[')
		for i, el := range v.elements() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCanonical(dst, el)
		}
		return append(dst, ']')
	case schema.KindString:
		s, _ := v.text()
		return appendString(dst, s)
	case schema.KindNumber:
		f, _ := strconv.ParseFloat(string(v.d.Raw(v.i)), 64)
		dst, _ = appendFloat(dst, f) // finite: checked when the event was read
		return dst
	case schema.KindTrue:
		return append(dst, "true"...)
	case schema.KindFalse:
		return append(dst, "false"...)
	}
	return append(dst, "null"...)
}
