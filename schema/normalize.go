// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package schema

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// FieldError is the error for an event that breaks its schema. It names
// the log type, the field path (empty for a problem with the whole event)
// and the problem, and reads like
//
//	Duo.Administrator: field "isotimestamp": "2021-07-20T11: 41: 31+00: 00" is not an RFC 3339 timestamp
type FieldError struct {
	LogType string
	// Path is the dotted path of the field, with [i] for array elements,
	// such as "access_device.security_agents[0]".
	Path    string
	Problem string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.LogType + ": " + e.Problem
	}
	return fmt.Sprintf("%s: field %q: %s", e.LogType, e.Path, e.Problem)
}

// pathError is a FieldError under construction: segments are added as it
// travels up from the field that failed.
type pathError struct {
	segs    []string // innermost first
	problem string
}

func (e *pathError) Error() string { return e.problem }

func problemf(format string, args ...any) *pathError {
	return &pathError{problem: fmt.Sprintf(format, args...)}
}

func (e *pathError) path() string {
	var b strings.Builder
	for i := len(e.segs) - 1; i >= 0; i-- {
		s := e.segs[i]
		if b.Len() > 0 && !strings.HasPrefix(s, "[") {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

// Options configure a Normalizer.
type Options struct {
	// PantherFields adds p_log_type, p_row_id, p_event_time, p_parse_time
	// and the p_any_* indicator fields.
	PantherFields bool
	// KeepUnknown keeps fields the schema does not name, as they came;
	// otherwise they are dropped so the output matches the schema.
	KeepUnknown bool
	// Now gives p_parse_time. It defaults to time.Now.
	Now func() time.Time
	// RowID appends a new p_row_id to dst. It defaults to a process-unique
	// ID: 16 random hex digits chosen at start-up followed by a counter.
	RowID func(dst []byte) []byte
}

// Normalizer validates events against schemas and writes them in Panther's
// normalized form. It is safe for concurrent use.
type Normalizer struct {
	opts  Options
	state sync.Pool
}

// NewNormalizer returns a Normalizer with opts.
func NewNormalizer(opts Options) *Normalizer {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RowID == nil {
		opts.RowID = newRowIDs()
	}
	n := &Normalizer{opts: opts}
	n.state.New = func() any { return &state{n: n} }
	return n
}

// newRowIDs returns a generator of row IDs unique within the process and,
// through a random prefix, across processes.
func newRowIDs() func(dst []byte) []byte {
	var random [8]byte
	_, _ = rand.Read(random[:]) // crypto/rand.Read never fails
	prefix := hex.EncodeToString(random[:])
	var counter atomic.Uint64
	return func(dst []byte) []byte {
		dst = append(dst, prefix...)
		var c [8]byte
		binary.BigEndian.PutUint64(c[:], counter.Add(1))
		return hex.AppendEncode(dst, c[:])
	}
}

// state is the scratch space of one Append call.
type state struct {
	n         *Normalizer
	doc       Doc
	scratch   []byte
	ind       indicators
	keep      bool
	collect   bool
	root      *valuePlan
	event     time.Time
	eventRnk  int
	parseTime time.Time
	// parseText caches parseTime as written, for parseCached.
	parseText   []byte
	parseCached time.Time
	// eventOut bounds the event time as written in the output, when it is
	// already in UTC and p_event_time can copy it; eventOut[1] is 0
	// otherwise.
	eventOut [2]int
}

// Append validates event, a JSON object, against s and appends its
// normalized form to dst. On error dst is returned unchanged, apart from
// bytes past its length, and the error is a *FieldError.
func (n *Normalizer) Append(dst []byte, s *Schema, event []byte) ([]byte, error) {
	var now time.Time
	if n.opts.PantherFields {
		now = n.opts.Now()
	}
	return n.AppendAt(dst, s, event, now)
}

// AppendAt is Append with p_parse_time given: a caller that normalizes a
// batch reads the clock once for all of it.
func (n *Normalizer) AppendAt(dst []byte, s *Schema, event []byte, parseTime time.Time) ([]byte, error) {
	st := n.state.Get().(*state)
	st.parseTime = parseTime
	out, err := st.run(dst, s, event)
	st.doc.src = nil
	n.state.Put(st)
	if err != nil {
		var pe *pathError
		if errors.As(err, &pe) {
			return dst, &FieldError{LogType: s.Name, Path: pe.path(), Problem: pe.problem}
		}
		return dst, &FieldError{LogType: s.Name, Problem: err.Error()}
	}
	return out, nil
}

func (st *state) run(dst []byte, s *Schema, event []byte) ([]byte, error) {
	if err := st.doc.Parse(event); err != nil {
		return dst, fmt.Errorf("event is not valid JSON: %w", err)
	}
	if st.doc.Kind(Root) != KindObject {
		return dst, errNotObject
	}
	st.keep = st.n.opts.KeepUnknown
	st.root = &s.root
	st.collect = st.n.opts.PantherFields
	st.ind.reset()
	st.eventRnk = 0
	st.eventOut = [2]int{}
	start := len(dst)
	dst = append(dst, '{')
	dst, err := st.members(dst, &s.root, Root)
	if err != nil {
		return dst[:start], err
	}
	if st.collect {
		dst = st.pantherFields(dst, s, len(dst) > start+1)
	}
	return append(dst, '}'), nil
}

func (st *state) pantherFields(dst []byte, s *Schema, comma bool) []byte {
	if comma {
		dst = append(dst, ',')
	}
	if !st.parseTime.Equal(st.parseCached) || st.parseText == nil {
		st.parseText = appendUTC(st.parseText[:0], st.parseTime)
		st.parseCached = st.parseTime
	}
	dst = append(dst, `"p_log_type":`...)
	dst = append(dst, s.quotedName...)
	dst = append(dst, `,"p_row_id":"`...)
	dst = st.n.opts.RowID(dst)
	dst = append(dst, `","p_event_time":`...)
	if st.eventOut[1] > 0 {
		dst = append(dst, dst[st.eventOut[0]:st.eventOut[1]]...)
	} else if st.eventRnk > 0 {
		dst = appendUTC(dst, st.event)
	} else {
		dst = append(dst, st.parseText...)
	}
	dst = append(dst, `,"p_parse_time":`...)
	dst = append(dst, st.parseText...)
	return st.ind.appendTo(dst)
}

// members writes the members of object obj, without braces, following
// plan p, then fills copied fields and checks required ones.
func (st *state) members(dst []byte, p *valuePlan, obj int) ([]byte, error) {
	d := &st.doc
	nf := len(p.fields)
	// Two bit sets over p.fields: written, and seen (written or null).
	var small [2]uint64
	wrote, seen := small[:1], small[1:]
	if nf > 64 {
		words := (nf + 63) / 64
		big := make([]uint64, 2*words)
		wrote, seen = big[:words], big[words:]
	}
	begin := len(dst)
	next := 0 // the field expected next: Duo and schemas share an order
	end := d.Next(obj)
	for j := obj + 1; j < end; j = d.Next(j + 1) {
		var key []byte
		if kn := &d.nodes[j]; kn.flags&flagEscaped == 0 {
			key = d.src[kn.start:kn.end]
		} else {
			key, st.scratch = d.Str(j, st.scratch[:0])
		}
		fi := -1
		if next < nf && p.fields[next].name == bytesString(key) {
			fi = next
		} else if i, ok := p.byName[bytesString(key)]; ok {
			fi = i
		}
		if fi < 0 {
			if st.keep && !(st.collect && p == st.root && bytes.HasPrefix(key, []byte("p_"))) {
				// Unknown fields are kept, except top-level p_* ones, which
				// would clash with Panther's standard fields.
				if len(dst) > begin {
					dst = append(dst, ',')
				}
				dst = d.appendString(dst, j)
				dst = append(dst, ':')
				dst = d.AppendValue(dst, j+1)
			}
			continue
		}
		next = fi + 1
		f := p.fields[fi]
		w, bit := fi/64, uint64(1)<<(fi%64)
		if seen[w]&bit != 0 {
			return dst, &pathError{segs: []string{f.name}, problem: "the field appears more than once"}
		}
		seen[w] |= bit
		mark := len(dst)
		if len(dst) > begin {
			dst = append(dst, ',')
		}
		dst = append(dst, f.key...)
		if vn := &d.nodes[j+1]; f.typ == typeString && vn.kind == KindString && vn.flags&flagBadUTF8 == 0 {
			// The common case, inline: a string where a string belongs.
			v := d.src[vn.start:vn.end]
			dst = append(dst, '"')
			dst = append(dst, v...)
			dst = append(dst, '"')
			wrote[w] |= bit
			if st.collect && len(f.indicators) > 0 {
				if vn.flags&flagEscaped != 0 {
					v, st.scratch = d.Str(j+1, st.scratch[:0])
				}
				for _, ind := range f.indicators {
					st.ind.scan(ind, v, vn.flags == 0)
				}
			}
			continue
		}
		var ok bool
		var err error
		dst, ok, err = st.value(dst, &f.valuePlan, j+1)
		if err != nil {
			return dst, wrapField(err, f.name)
		}
		if !ok {
			dst = dst[:mark]
			continue
		}
		wrote[w] |= bit
	}
	if !p.checks {
		return dst, nil
	}
	for fi, f := range p.fields {
		w, bit := fi/64, uint64(1)<<(fi%64)
		if wrote[w]&bit != 0 {
			continue
		}
		if f.copyFrom != nil {
			if src := st.lookupPath(f.copyFrom); src >= 0 {
				mark := len(dst)
				if len(dst) > begin {
					dst = append(dst, ',')
				}
				dst = append(dst, f.key...)
				var ok bool
				var err error
				dst, ok, err = st.value(dst, &f.valuePlan, src)
				if err != nil {
					if pe, isPE := err.(*pathError); isPE {
						pe.problem += fmt.Sprintf(" (copied from %q)", strings.Join(f.copyFrom, "."))
					}
					return dst, wrapField(err, f.name)
				}
				if ok {
					continue
				}
				dst = dst[:mark]
			}
		}
		if f.required {
			if seen[w]&bit != 0 {
				return dst, &pathError{segs: []string{f.name}, problem: "required field is null"}
			}
			return dst, &pathError{segs: []string{f.name}, problem: "required field is missing"}
		}
	}
	return dst, nil
}

func wrapField(err error, seg string) error {
	if pe, ok := err.(*pathError); ok {
		pe.segs = append(pe.segs, seg)
		return pe
	}
	return err
}

// lookupPath finds a dotted path from the event's top level.
func (st *state) lookupPath(path []string) int {
	i := Root
	for _, seg := range path {
		if i = st.doc.Lookup(i, seg); i < 0 {
			return -1
		}
	}
	if st.doc.Kind(i) == KindNull {
		return -1
	}
	return i
}

// value writes value i following plan p. It reports false when the value
// is to be left out: null, an empty string where a number, boolean or
// timestamp belongs, or an empty array.
func (st *state) value(dst []byte, p *valuePlan, i int) ([]byte, bool, error) {
	d := &st.doc
	k := d.Kind(i)
	if k == KindNull {
		return dst, false, nil
	}
	switch p.typ {
	case typeString:
		switch k {
		case KindString:
			dst = d.appendString(dst, i)
		case KindNumber:
			dst = append(dst, '"')
			dst = append(dst, d.Raw(i)...)
			dst = append(dst, '"')
		case KindTrue:
			dst = append(dst, `"true"`...)
		case KindFalse:
			dst = append(dst, `"false"`...)
		default:
			return dst, false, problemf("expected a string, got %s", k)
		}
		if st.collect && len(p.indicators) > 0 {
			v, plain := d.Raw(i), true
			if k == KindString {
				v, st.scratch = d.Str(i, st.scratch[:0])
				plain = d.nodes[i].flags == 0
			}
			for _, ind := range p.indicators {
				st.ind.scan(ind, v, plain)
			}
		}
		return dst, true, nil
	case typeTimestamp:
		return st.timestamp(dst, p, i, k)
	case typeObject:
		if k != KindObject {
			return dst, false, problemf("expected an object, got %s", k)
		}
		dst = append(dst, '{')
		dst, err := st.members(dst, p, i)
		return append(dst, '}'), err == nil, err
	case typeArray:
		return st.array(dst, p, i, k)
	case typeJSON:
		if st.collect && len(p.indicators) > 0 {
			st.scanJSON(p.indicators, i)
		}
		return d.AppendValue(dst, i), true, nil
	}
	return st.scalar(dst, p, i, k)
}

// scanJSON runs the indicators of a json field over every string inside
// value i: array elements and object member values, at any depth, but not
// object keys, numbers or booleans. It lets one field take a value whose
// shape varies, such as Duo's activity access_device.ip, which is an
// object {"address": "..."} in one version and a plain string in another.
func (st *state) scanJSON(inds []indicator, i int) {
	d := &st.doc
	switch n := &d.nodes[i]; n.kind {
	case KindString:
		var v []byte
		v, st.scratch = d.Str(i, st.scratch[:0])
		for _, ind := range inds {
			st.ind.scan(ind, v, n.flags == 0)
		}
	case KindObject:
		for j := i + 1; j < int(n.next); j = d.Next(j + 1) {
			st.scanJSON(inds, j+1)
		}
	case KindArray:
		for j := i + 1; j < int(n.next); j = d.Next(j) {
			st.scanJSON(inds, j)
		}
	}
}

func (st *state) array(dst []byte, p *valuePlan, i int, k Kind) ([]byte, bool, error) {
	d := &st.doc
	if k != KindArray {
		// A single value where an array belongs becomes a one-element
		// array: Duo sends "security_agents": "unknown".
		mark := len(dst)
		dst = append(dst, '[')
		dst, ok, err := st.value(dst, p.elem, i)
		if err != nil {
			return dst[:mark], false, problemf("expected an array, got %s", k)
		}
		if !ok {
			return dst[:mark], false, nil
		}
		return append(dst, ']'), true, nil
	}
	end := d.Next(i)
	if end == i+1 {
		return dst, false, nil
	}
	dst = append(dst, '[')
	n := 0
	for j := i + 1; j < end; j = d.Next(j) {
		if n > 0 {
			dst = append(dst, ',')
		}
		var ok bool
		var err error
		dst, ok, err = st.value(dst, p.elem, j)
		if err != nil {
			return dst, false, wrapField(err, "["+strconv.Itoa(n)+"]")
		}
		if !ok {
			dst = append(dst, "null"...)
		}
		n++
	}
	return append(dst, ']'), true, nil
}

func (st *state) timestamp(dst []byte, p *valuePlan, i int, k Kind) ([]byte, bool, error) {
	d := &st.doc
	raw := d.Raw(i)
	if k == KindString {
		raw, st.scratch = d.Str(i, st.scratch[:0])
		if len(raw) == 0 {
			return dst, false, nil
		}
	}
	if f := p.formats[0]; k == KindString && f.kind == timeRFC3339 {
		start := len(dst)
		if out, secs, nanos, utc, ok := rfc3339Fast(dst, raw); ok {
			if p.eventTimeRank > 0 && (st.eventRnk == 0 || p.eventTimeRank < st.eventRnk) {
				st.event, st.eventRnk = time.Unix(secs, int64(nanos)), p.eventTimeRank
				st.eventOut = [2]int{}
				if utc {
					st.eventOut = [2]int{start, len(out)}
				}
			}
			return out, true, nil
		}
	} else if f.kind == timeUnix && k == KindNumber && p.eventTimeRank == 0 && len(raw) <= 10 && (len(raw) < 10 || raw[0] < '9') && allDigits(raw) {
		// Whole seconds within int64 nanoseconds: already canonical.
		return append(dst, raw...), true, nil
	}
	for _, f := range p.formats {
		t, ok := f.parse(k, raw)
		if !ok {
			continue
		}
		start := len(dst)
		dst = p.formats[0].appendTime(dst, t)
		if p.eventTimeRank > 0 && (st.eventRnk == 0 || p.eventTimeRank < st.eventRnk) {
			st.event, st.eventRnk = t, p.eventTimeRank
			st.eventOut = [2]int{}
			if _, off := t.Zone(); off == 0 && p.formats[0].kind == timeRFC3339 {
				st.eventOut = [2]int{start, len(dst)}
			}
		}
		return dst, true, nil
	}
	return dst, false, problemf("%s is not %s", showValue(k, raw), p.describe)
}

// scalar handles int, bigint, float and boolean values, which are read
// from numbers, booleans and strings holding them.
func (st *state) scalar(dst []byte, p *valuePlan, i int, k Kind) ([]byte, bool, error) {
	d := &st.doc
	raw := d.Raw(i)
	switch k {
	case KindString:
		raw, st.scratch = d.Str(i, st.scratch[:0])
		if len(raw) == 0 {
			return dst, false, nil
		}
	case KindNumber, KindTrue, KindFalse:
	default:
		return dst, false, problemf("expected %s, got %s", typeWant(p.typ), k)
	}
	start := len(dst)
	var ok bool
	switch p.typ {
	case typeInt:
		dst, ok = appendInt(dst, raw, 32)
	case typeBigint:
		dst, ok = appendInt(dst, raw, 64)
	case typeFloat:
		dst, ok = appendFloat(dst, raw, k)
	case typeBoolean:
		b, err := strconv.ParseBool(bytesString(raw))
		if ok = err == nil; ok {
			dst = strconv.AppendBool(dst, b)
		}
	}
	if !ok {
		return dst[:start], false, problemf("%s is not %s", showValue(k, raw), typeWant(p.typ))
	}
	if st.collect && len(p.indicators) > 0 {
		for _, ind := range p.indicators {
			st.ind.scan(ind, dst[start:], true)
		}
	}
	return dst, true, nil
}

func typeWant(t valueType) string {
	switch t {
	case typeInt:
		return "a 32-bit integer"
	case typeBigint:
		return "a 64-bit integer"
	case typeFloat:
		return "a finite number"
	case typeBoolean:
		return "a boolean"
	}
	return "a value"
}

// appendInt writes raw as an integer of the given bit size. Integral
// values written with a fraction or exponent ("2.0", "1e3") are accepted.
func appendInt(dst, raw []byte, bits int) ([]byte, bool) {
	s := bytesString(raw)
	if v, err := strconv.ParseInt(s, 10, bits); err == nil {
		return strconv.AppendInt(dst, v, 10), true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) {
		return dst, false
	}
	limit := math.Ldexp(1, bits-1)
	if f < -limit || f >= limit {
		return dst, false
	}
	return strconv.AppendInt(dst, int64(f), 10), true
}

// appendFloat writes raw as a finite number. A JSON number keeps its
// literal; a string is rewritten in Go's shortest form.
func appendFloat(dst, raw []byte, k Kind) ([]byte, bool) {
	if k != KindNumber && k != KindString {
		return dst, false
	}
	f, err := strconv.ParseFloat(bytesString(raw), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, false
	}
	if k == KindNumber {
		return append(dst, raw...), true
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64), true
}

// showValue quotes a bad value for an error message, shortened to 80
// bytes.
func showValue(k Kind, raw []byte) string {
	const limit = 80
	cut := len(raw) > limit
	if cut {
		raw = raw[:limit]
		for len(raw) > 0 && !utf8.Valid(raw) {
			raw = raw[:len(raw)-1]
		}
	}
	var s string
	if k == KindString {
		s = strconv.Quote(string(raw))
	} else {
		s = string(raw)
	}
	if cut {
		s += "…"
	}
	return s
}
