// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package ocsf

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/duostream/duostream/schema"
)

// value is one JSON value of a Duo event: node i of document d. The zero
// value (d nil) is a value that is not there.
type value struct {
	d *schema.Doc
	i int
}

// present reports whether the value is there.
func (v value) present() bool { return v.d != nil }

// kind returns the value's JSON kind, or 0 when it is not there.
func (v value) kind() schema.Kind {
	if v.d == nil {
		return 0
	}
	return v.d.Kind(v.i)
}

// isNull reports whether the value is there and null.
func (v value) isNull() bool { return v.kind() == schema.KindNull }

// text returns the value's string, with each byte that is not UTF-8
// replaced by U+FFFD, as encoding/json decodes it; ok is false when the
// value is no string.
func (v value) text() (s string, ok bool) {
	if v.kind() != schema.KindString {
		return "", false
	}
	var scratch [128]byte
	b, _ := v.d.Str(v.i, scratch[:0])
	return validString(b), true
}

// validString returns b as a string, with each byte that is not UTF-8
// replaced by U+FFFD.
func validString(b []byte) string {
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

// member returns the value of key in an object value. A key that appears
// more than once counts by its last appearance, as in encoding/json.
func (v value) member(key string) value {
	if v.kind() != schema.KindObject {
		return value{}
	}
	var scratch [64]byte
	found := -1
	end := v.d.Next(v.i)
	for k := v.i + 1; k < end; k = v.d.Next(k + 1) {
		if name, _ := v.d.Str(k, scratch[:0]); string(name) == key {
			found = k + 1
		}
	}
	if found < 0 {
		return value{}
	}
	return value{v.d, found}
}

// members calls fn for each member of an object value, in order.
func (v value) members(fn func(key string, el value)) {
	if v.kind() != schema.KindObject {
		return
	}
	var scratch [64]byte
	end := v.d.Next(v.i)
	for k := v.i + 1; k < end; k = v.d.Next(k + 1) {
		name, _ := v.d.Str(k, scratch[:0])
		fn(validString(name), value{v.d, k + 1})
	}
}

// elements returns the elements of an array value.
func (v value) elements() []value {
	if v.kind() != schema.KindArray {
		return nil
	}
	var out []value
	end := v.d.Next(v.i)
	for k := v.i + 1; k < end; k = v.d.Next(k) {
		out = append(out, value{v.d, k})
	}
	return out
}

// float returns a number value, or a string holding one, as a float64.
func (v value) float() (float64, bool) {
	var f float64
	switch v.kind() {
	case schema.KindNumber:
		var err error
		if f, err = strconv.ParseFloat(string(v.d.Raw(v.i)), 64); err != nil {
			return 0, false
		}
	case schema.KindString:
		s, _ := v.text()
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// source reads a Duo event and remembers which values were used, so that
// the others can go to unmapped.
type source struct {
	root value
	used []bool // by node of root's document
	// desc is an administrator log's description, a JSON object that Duo
	// sends encoded as a string, parsed: its fields have paths under
	// "description". Its nodes' use is in descUsed.
	desc     value
	descUsed []bool
	// parentPath is the parent of the last path get looked up, and
	// parentVal its value.
	parentPath string
	parentVal  value
	parentOK   bool
}

// reset makes s read the event d holds.
func (s *source) reset(d *schema.Doc) {
	s.root = value{d, schema.Root}
	s.used = grown(s.used, d.Next(schema.Root))
	s.desc = value{}
	s.parentOK = false
}

// grown returns b cleared, with length n.
func grown(b []bool, n int) []bool {
	if cap(b) < n {
		return make([]bool, n)
	}
	b = b[:n]
	clear(b)
	return b
}

// get returns the value at a dotted path, without marking it used. The
// parent of the last path looked up is kept, as the mapper reads the
// fields of one object one after the other.
func (s *source) get(path string) value {
	parent, name, nested := lastCut(path)
	if !nested {
		return s.lookup(path)
	}
	if !s.parentOK || parent != s.parentPath {
		s.parentPath, s.parentVal, s.parentOK = parent, s.lookup(parent), true
	}
	return s.parentVal.member(name)
}

// lastCut splits a path at its last dot.
func lastCut(path string) (parent, name string, ok bool) {
	i := strings.LastIndexByte(path, '.')
	if i < 0 {
		return "", path, false
	}
	return path[:i], path[i+1:], true
}

// lookup returns the value at a dotted path.
func (s *source) lookup(path string) value {
	cur := s.root
	first := true
	for path != "" {
		var part string
		part, path, _ = strings.Cut(path, ".")
		if first && part == "description" && s.desc.present() {
			cur = s.desc
		} else if cur = cur.member(part); !cur.present() {
			return value{}
		}
		first = false
	}
	return cur
}

// useValue marks a value used: it and everything under it stay out of
// unmapped.
func (s *source) useValue(v value) { s.mark(v, true) }

// unuseValue takes back useValue.
func (s *source) unuseValue(v value) { s.mark(v, false) }

// mark records whether a value is used, in the list of its document.
func (s *source) mark(v value, used bool) {
	switch {
	case !v.present():
	case v.d == s.root.d:
		s.used[v.i] = used
	case v.d == s.desc.d:
		s.descUsed[v.i] = used
	}
}

// use marks the value at path used.
func (s *source) use(path string) { s.useValue(s.get(path)) }

// isUsed reports whether a value was marked used.
func (s *source) isUsed(v value) bool {
	if v.d == s.desc.d && s.desc.present() {
		return s.descUsed[v.i]
	}
	return s.used[v.i]
}

// str returns the string at path, trimmed, and marks it used; "" for a
// missing, null, empty or non-string value, or one longer than maxSource
// (which is not marked, so that a value of an unexpected type reaches
// unmapped).
func (s *source) str(path string) string {
	v := s.get(path)
	if v.isNull() {
		s.useValue(v)
		return ""
	}
	str, ok := v.text()
	if !ok || len(str) > maxSource {
		return ""
	}
	if str = strings.TrimSpace(str); str != "" {
		s.useValue(v)
	}
	return str
}

// strRaw is str without marking the value used.
func (s *source) strRaw(path string) string {
	str, _ := s.get(path).text()
	return strings.TrimSpace(str)
}

// isObject reports whether the value at path is an object.
func (s *source) isObject(path string) bool { return s.get(path).kind() == schema.KindObject }

// Times are accepted between 1970 and 9999.
const maxMillis = 253402300799999

// isoTime reads an RFC 3339 time at path, and marks it used.
func (s *source) isoTime(path string) (int64, string, bool) {
	raw := s.strRaw(path)
	if raw == "" {
		return 0, "", false
	}
	t, ok := parseTime(raw)
	if !ok {
		return 0, "", false
	}
	ms := t.UnixMilli()
	if ms < 0 || ms > maxMillis {
		return 0, "", false
	}
	s.use(path)
	return ms, raw, true
}

// timeLayouts are the forms of a time the mapper reads: RFC 3339, as Duo
// writes it, and the same with a space for the T, or with no offset (then
// UTC), as Panther's rule tests and some exports write it.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"}

func parseTime(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// unixTime reads a Unix time at path, in units of msPerUnit milliseconds,
// as ms; a string holding a time in one of timeLayouts also does.
func (s *source) unixTime(path string, msPerUnit float64) (int64, bool) {
	v := s.get(path)
	if !v.present() {
		return 0, false
	}
	f, ok := v.float()
	if !ok {
		str, _ := v.text()
		t, isTime := parseTime(strings.TrimSpace(str))
		if !isTime {
			return 0, false
		}
		f, msPerUnit = float64(t.UnixMilli()), 1
	}
	ms := math.Round(f * msPerUnit)
	if ms < 0 || ms > maxMillis {
		return 0, false
	}
	s.useValue(v)
	return int64(ms), true
}

// unused sets, in out, every value under the object obj (at prefix) that
// was not used, under its dotted path, as a string: strings as they are,
// other values as JSON. Nulls, empty strings and Panther's p_* fields are
// left out.
func (s *source) unused(prefix string, obj value, out *object) {
	var scratch [64]byte
	d := obj.d
	end := d.Next(obj.i)
	for k := obj.i + 1; k < end; k = d.Next(k + 1) {
		v := value{d, k + 1}
		name, _ := d.Str(k, scratch[:0])
		if prefix == "" {
			if bytes.HasPrefix(name, []byte("p_")) {
				continue
			}
			if s.desc.present() && string(name) == "description" {
				v = s.desc
			}
		}
		if s.isUsed(v) {
			continue
		}
		switch v.kind() {
		case schema.KindNull:
		case schema.KindObject:
			s.unused(pathOf(prefix, name), v, out)
		case schema.KindString:
			if str, _ := v.text(); str != "" {
				out.set(pathOf(prefix, name), str)
			}
		default:
			out.set(pathOf(prefix, name), string(appendCanonical(nil, v)))
		}
	}
}

// pathOf returns the dotted path of member name of the object at prefix.
func pathOf(prefix string, name []byte) string {
	if prefix == "" {
		return validString(name)
	}
	return prefix + "." + validString(name)
}
