// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/duostream/duostream/duoapi"
)

// Event times must be 13-digit millisecond timestamps (September 2001 to
// 2286), like every mintime, maxtime and next_offset Duo accepts.
const (
	minEventMillis = int64(1e12)
	maxEventMillis = int64(1e13) - 1
)

// record is one stored event, encoded once when it is added.
type record struct {
	// ms is the event time in milliseconds: whole seconds for v1-only
	// types, surfaced_timestamp for Trust Monitor.
	ms  int64
	id  string // the event's idFields value; empty for v1-only types
	seq uint64 // insertion order, which orders events with the same ms and id
	// body is the record as the type's endpoint returns it; for
	// telephony, the v2 endpoint.
	body []byte
	// v1 is the telephony record as /admin/v1/logs/telephony returns it.
	v1 []byte
	// kind is the type of a Trust Monitor event (auth, bypass_status,
	// device_registration), which the type parameter filters on.
	kind string
}

// idFields names, for each log type whose endpoint resumes after an event,
// the field that identifies the event; its events must be unique by
// millisecond and ID. The v1-only types have none.
var idFields = map[duoapi.LogType]string{
	duoapi.Authentication: "txid",
	duoapi.Telephony:      "telephony_id",
	duoapi.Activity:       "activity_id",
	duoapi.TrustMonitor:   "sekey",
}

func compareRecords(a, b record) int {
	if c := cmp.Compare(a.ms, b.ms); c != 0 {
		return c
	}
	if c := cmp.Compare(a.id, b.id); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

// stream holds the events of one log type, sorted by (ms, id, seq): for
// Trust Monitor, by surfaced_timestamp then sekey.
type stream struct {
	recs []record
}

// firstAtOrAfterMs returns the index of the first event at or after ms.
func (st *stream) firstAtOrAfterMs(ms int64) int {
	return sort.Search(len(st.recs), func(i int) bool { return st.recs[i].ms >= ms })
}

// firstAfter returns the index of the first event strictly after c.
func (st *stream) firstAfter(c cursor) int {
	return sort.Search(len(st.recs), func(i int) bool {
		r := st.recs[i]
		return r.ms > c.ms || (r.ms == c.ms && r.id > c.id)
	})
}

// firstAtOrAfter returns the index of the first event at or after c.
func (st *stream) firstAtOrAfter(c cursor) int {
	return sort.Search(len(st.recs), func(i int) bool {
		r := st.recs[i]
		return r.ms > c.ms || (r.ms == c.ms && r.id >= c.id)
	})
}

// accountStore is what the simulator keeps for one Duo account, the
// parent's own or a child's: its events, the generator that makes them, the
// Trust Monitor offsets issued for it, its rate limit and the log types its
// edition lacks. Sim embeds the parent's, so that its AddEvents, Generate,
// Events, CountEvents and RunLive act on the parent's own account; each
// Child embeds its own.
type accountStore struct {
	// now is the server clock, which RunLive reads.
	now func() time.Time

	mu      sync.RWMutex
	streams map[duoapi.LogType]*stream
	seq     uint64

	genMu sync.Mutex
	gen   *generator

	offsets offsetRegistry
	// limiter admits the account's log requests; nil for no limit.
	limiter *rateLimiter
	// unavailable is the answer of each log type the edition lacks.
	unavailable map[duoapi.LogType]*apiError
}

// init prepares an empty account whose events come from gen, limited to
// perMinute log requests a minute (0 for no limit).
func (a *accountStore) init(now func() time.Time, gen *generator, perMinute int, unavailable map[duoapi.LogType]*apiError) {
	a.now = now
	a.gen = gen
	a.unavailable = unavailable
	a.streams = make(map[duoapi.LogType]*stream, len(duoapi.AllLogTypes))
	for _, t := range duoapi.AllLogTypes {
		a.streams[t] = &stream{}
	}
	if perMinute > 0 {
		a.limiter = &rateLimiter{perMinute: perMinute}
	}
}

// insert adds batch to the events of type t. Events of a type with an ID
// must be unique by (ms, id), since a cursor resumes strictly after one.
func (a *accountStore) insert(t duoapi.LogType, batch []record) error {
	if len(batch) == 0 {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range batch {
		a.seq++
		batch[i].seq = a.seq
	}
	slices.SortFunc(batch, compareRecords)
	st := a.streams[t]
	if _, ok := idFields[t]; ok {
		for i, r := range batch {
			if i > 0 && batch[i-1].ms == r.ms && batch[i-1].id == r.id {
				return fmt.Errorf("two %s events at %d ms have ID %q", t, r.ms, r.id)
			}
			c := cursor{ms: r.ms, id: r.id}
			if j := st.firstAtOrAfter(c); j < len(st.recs) && st.recs[j].ms == r.ms && st.recs[j].id == r.id {
				return fmt.Errorf("a %s event at %d ms with ID %q already exists", t, r.ms, r.id)
			}
		}
	}
	n := len(st.recs)
	if n == 0 || compareRecords(st.recs[n-1], batch[0]) < 0 {
		st.recs = append(st.recs, batch...)
		return nil
	}
	merged := make([]record, 0, n+len(batch))
	i, j := 0, 0
	for i < n && j < len(batch) {
		if compareRecords(st.recs[i], batch[j]) <= 0 {
			merged = append(merged, st.recs[i])
			i++
		} else {
			merged = append(merged, batch[j])
			j++
		}
	}
	merged = append(merged, st.recs[i:]...)
	st.recs = append(merged, batch[j:]...)
	return nil
}

// AddEvents adds events of type t to the account, given as raw JSON records
// as Duo returns them (they are stored compacted). Each record needs:
//
//   - authentication: txid, and isotimestamp (the event time, to the
//     microsecond) or timestamp (seconds);
//   - administrator and offline_enrollment: timestamp (seconds);
//   - telephony: either the v2 form (ts, telephony_id) or the v1 form
//     (timestamp); the other form is derived from it, with generated
//     telephony_id and txid when the v1 form is given;
//   - activity: ts (ISO 8601, to the microsecond) and activity_id;
//   - trust_monitor: surfaced_timestamp (milliseconds) and sekey, and the
//     event type in type (a record without one matches no type filter).
//
// Events of the types with an ID (authentication txid, telephony
// telephony_id, activity activity_id, Trust Monitor sekey) must be unique by
// millisecond and ID. Either all records are added or, on error, none.
func (a *accountStore) AddEvents(t duoapi.LogType, records ...json.RawMessage) error {
	batch := make([]record, 0, len(records))
	for i, raw := range records {
		rec, err := a.parseRecord(t, raw)
		if err != nil {
			return fmt.Errorf("add %s event %d: %w", t, i, err)
		}
		batch = append(batch, rec)
	}
	if err := a.insert(t, batch); err != nil {
		return fmt.Errorf("add %s events: %w", t, err)
	}
	return nil
}

func (a *accountStore) parseRecord(t duoapi.LogType, raw json.RawMessage) (record, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return record{}, errors.New("not a JSON object")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return record{}, err
	}
	rec := record{body: compact.Bytes()}
	var err error
	switch t {
	case duoapi.Authentication:
		if rec.id, err = stringField(fields, idFields[t]); err != nil {
			return record{}, err
		}
		if ts, ok := fields["isotimestamp"]; ok {
			var at time.Time
			if at, err = timeField(ts, "isotimestamp"); err != nil {
				return record{}, err
			}
			rec.ms = at.UnixMilli()
		} else {
			var sec int64
			if sec, err = intField(fields, "timestamp"); err != nil {
				return record{}, err
			}
			rec.ms = sec * 1000
		}
	case duoapi.Administrator, duoapi.OfflineEnrollment:
		var sec int64
		if sec, err = intField(fields, "timestamp"); err != nil {
			return record{}, err
		}
		rec.ms = sec * 1000
	case duoapi.Telephony:
		if rec, err = a.parseTelephony(fields, rec.body); err != nil {
			return record{}, err
		}
	case duoapi.Activity:
		if rec.id, err = stringField(fields, idFields[t]); err != nil {
			return record{}, err
		}
		ts, ok := fields["ts"]
		if !ok {
			return record{}, errors.New("missing field ts")
		}
		var at time.Time
		if at, err = timeField(ts, "ts"); err != nil {
			return record{}, err
		}
		rec.ms = at.UnixMilli()
	case duoapi.TrustMonitor:
		if rec.id, err = stringField(fields, idFields[t]); err != nil {
			return record{}, err
		}
		if rec.ms, err = intField(fields, "surfaced_timestamp"); err != nil {
			return record{}, err
		}
		if raw, ok := fields["type"]; ok {
			if err := json.Unmarshal(raw, &rec.kind); err != nil {
				return record{}, fmt.Errorf("field type: want a string, got %s", raw)
			}
		}
	default:
		return record{}, fmt.Errorf("unknown log type %q", t)
	}
	if rec.ms < minEventMillis || rec.ms > maxEventMillis {
		return record{}, fmt.Errorf("event time %d ms is not a 13-digit millisecond timestamp", rec.ms)
	}
	return rec, nil
}

// parseTelephony reads a telephony record in either form and derives the
// other one.
func (a *accountStore) parseTelephony(fields map[string]json.RawMessage, body []byte) (record, error) {
	if ts, ok := fields["ts"]; ok {
		at, err := timeField(ts, "ts")
		if err != nil {
			return record{}, err
		}
		id, err := stringField(fields, idFields[duoapi.Telephony])
		if err != nil {
			return record{}, err
		}
		sec := at.Unix()
		v1 := make(map[string]json.RawMessage, len(fields))
		for k, v := range fields {
			switch k {
			case "telephony_id", "ts", "txid":
			default:
				v1[k] = v
			}
		}
		v1["isotimestamp"] = jsonString(formatSeconds(sec))
		v1["timestamp"] = json.RawMessage(strconv.FormatInt(sec, 10))
		return record{ms: at.UnixMilli(), id: id, body: body, v1: encodeObject(v1)}, nil
	}
	sec, err := intField(fields, "timestamp")
	if err != nil {
		return record{}, fmt.Errorf("%w (or ts, for the v2 form)", err)
	}
	a.genMu.Lock()
	id, txid := a.gen.uuid(), a.gen.uuid()
	a.genMu.Unlock()
	v2 := make(map[string]json.RawMessage, len(fields)+1)
	for k, v := range fields {
		switch k {
		case "isotimestamp", "timestamp":
		default:
			v2[k] = v
		}
	}
	v2["telephony_id"] = jsonString(id)
	v2["ts"] = jsonString(formatMicros(time.Unix(sec, 0)))
	v2["txid"] = jsonString(txid)
	return record{ms: sec * 1000, id: id, body: encodeObject(v2), v1: body}, nil
}

func stringField(fields map[string]json.RawMessage, name string) (string, error) {
	raw, ok := fields[name]
	if !ok {
		return "", fmt.Errorf("missing field %s", name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s == "" {
		return "", fmt.Errorf("field %s: want a non-empty string, got %s", name, raw)
	}
	return s, nil
}

func intField(fields map[string]json.RawMessage, name string) (int64, error) {
	raw, ok := fields[name]
	if !ok {
		return 0, fmt.Errorf("missing field %s", name)
	}
	n, err := strconv.ParseInt(string(raw), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("field %s: want an integer, got %s", name, raw)
	}
	return n, nil
}

func timeField(raw json.RawMessage, name string) (time.Time, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return time.Time{}, fmt.Errorf("field %s: want a string, got %s", name, raw)
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("field %s: %q is not an ISO 8601 time", name, s)
	}
	return t, nil
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s) // a string always encodes
	return b
}

// encodeObject encodes m compactly, keys sorted, without escaping HTML.
func encodeObject(m map[string]json.RawMessage) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(m) // values are valid JSON already
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Layouts of Duo's ISO times: with microseconds on authentication and
// telephony v2 events, whole seconds on the others, always "+00:00".
const (
	isoMicros  = "2006-01-02T15:04:05.000000-07:00"
	isoSeconds = "2006-01-02T15:04:05-07:00"
)

func formatMicros(t time.Time) string { return t.UTC().Format(isoMicros) }
func formatSeconds(sec int64) string  { return time.Unix(sec, 0).UTC().Format(isoSeconds) }

// Event is one stored event, as returned by Events.
type Event struct {
	Type duoapi.LogType
	// Time is the event time: to the millisecond for authentication,
	// telephony and activity, to the second for administrator and offline
	// enrollment, and the surfaced_timestamp of a Trust Monitor event.
	Time time.Time
	// ID identifies the event: the txid of an authentication event, the
	// telephony_id of a telephony event, the activity_id of an activity
	// event and the sekey of a Trust Monitor event; empty for the others.
	ID string
	// Body is the record exactly as the type's current endpoint returns it:
	// /admin/v2/logs/authentication, /admin/v2/logs/telephony,
	// /admin/v2/logs/activity, /admin/v1/trust_monitor/events, or the v1
	// endpoint for administrator and offline enrollment.
	Body json.RawMessage
	// V1Body is the telephony record as /admin/v1/logs/telephony returns
	// it; nil for the other types.
	V1Body json.RawMessage
}

// Events returns the account's events of type t whose time is in
// [from, to), in the order the endpoints return them (oldest first; events
// of one millisecond by ID), whether or not they are available yet. Tests
// compare it with what a client delivered.
func (a *accountStore) Events(t duoapi.LogType, from, to time.Time) []Event {
	a.mu.RLock()
	defer a.mu.RUnlock()
	st, lo, hi := a.span(t, from, to)
	if lo >= hi {
		return nil
	}
	out := make([]Event, 0, hi-lo)
	for _, r := range st.recs[lo:hi] {
		out = append(out, Event{
			Type:   t,
			Time:   time.UnixMilli(r.ms).UTC(),
			ID:     r.id,
			Body:   bytes.Clone(r.body),
			V1Body: bytes.Clone(r.v1),
		})
	}
	return out
}

// CountEvents returns how many of the account's events of type t have a
// time in [from, to), whether or not they are available yet.
func (a *accountStore) CountEvents(t duoapi.LogType, from, to time.Time) int {
	a.mu.RLock()
	defer a.mu.RUnlock()
	_, lo, hi := a.span(t, from, to)
	return max(hi-lo, 0)
}

// span returns the stream of t and the index range of its events in
// [from, to). The caller holds a.mu.
func (a *accountStore) span(t duoapi.LogType, from, to time.Time) (*stream, int, int) {
	st, ok := a.streams[t]
	if !ok {
		return &stream{}, 0, 0
	}
	return st, st.firstAtOrAfterMs(ceilMillis(from)), st.firstAtOrAfterMs(ceilMillis(to))
}

// ceilMillis returns the first whole millisecond at or after t.
func ceilMillis(t time.Time) int64 {
	ms := t.UnixMilli()
	if time.UnixMilli(ms).Before(t) {
		ms++
	}
	return ms
}

// serveLogs answers a validated, authorized request to endpoint ep from the
// events of account a.
func (s *Sim) serveLogs(a *accountStore, ep endpoint, q url.Values, now time.Time) reply {
	switch ep.paging {
	case pagingV2:
		v, err := parseV2Query(q, now.UnixMilli(), s.retention)
		if err != nil {
			return err.reply()
		}
		return s.pageV2(a, ep, v, s.visibleBefore(now))
	case pagingTrustMonitor:
		v, err := parseTrustMonitorQuery(q, now.UnixMilli(), s.retention)
		if err != nil {
			return err.reply()
		}
		return s.pageTrustMonitor(a, ep, v, s.visibleBefore(now))
	}
	minMs, err := parseV1Query(q)
	if err != nil {
		return err.reply()
	}
	return s.pageV1(a, ep, max(minMs, now.Add(-s.retention).UnixMilli()), s.visibleBefore(now))
}

// pageV2 returns one page of a v2 endpoint: the events of account a in
// [mintime, maxtime] that are available, resuming strictly after the
// next_offset cursor in the sort order.
func (s *Sim) pageV2(a *accountStore, ep endpoint, v v2Query, visible int64) reply {
	a.mu.RLock()
	defer a.mu.RUnlock()
	st := a.streams[ep.typ]
	lo := st.firstAtOrAfterMs(v.minMs)
	hi := max(st.firstAtOrAfterMs(min(v.maxMs+1, visible)), lo)

	var start, end int
	var more bool
	if v.desc {
		end = hi
		if v.offset != nil {
			end = max(min(end, st.firstAtOrAfter(*v.offset)), lo)
		}
		start = max(lo, end-v.limit)
		more = start > lo
	} else {
		start = lo
		if v.offset != nil {
			start = min(max(start, st.firstAfter(*v.offset)), hi)
		}
		end = min(start+v.limit, hi)
		more = end < hi
	}
	page := st.recs[start:end]

	body := pageBody(ep.records, page, v.desc, func(b *bytes.Buffer) {
		b.WriteString(`"next_offset":`)
		switch {
		case !more:
			b.WriteString("null")
		case ep.typ == duoapi.Authentication:
			last := page[len(page)-1]
			if v.desc {
				last = page[0]
			}
			b.WriteString(`["`)
			b.WriteString(strconv.FormatInt(last.ms, 10))
			b.WriteString(`",`)
			writeJSONString(b, last.id)
			b.WriteByte(']')
		default:
			last := page[len(page)-1]
			if v.desc {
				last = page[0]
			}
			writeJSONString(b, strconv.FormatInt(last.ms, 10)+","+last.id)
		}
		b.WriteString(`,"total_objects":`)
		b.WriteString(strconv.Itoa(hi - lo))
	})
	return reply{status: 200, body: body}
}

// pageBody returns the body of a v2 or Trust Monitor page:
// {"response":{"<key>":[<records>],"metadata":{<metadata>}},"stat":"OK"},
// with the records of page in their order, or last first when desc is set,
// and the fields of the metadata object as metadata writes them.
func pageBody(key string, page []record, desc bool, metadata func(b *bytes.Buffer)) []byte {
	var b bytes.Buffer
	size := 128
	for _, r := range page {
		size += len(r.body) + 1
	}
	b.Grow(size)
	b.WriteString(`{"response":{"`)
	b.WriteString(key)
	b.WriteString(`":[`)
	for i := range page {
		r := page[i]
		if desc {
			r = page[len(page)-1-i]
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(r.body)
	}
	b.WriteString(`],"metadata":{`)
	metadata(&b)
	b.WriteString(`}},"stat":"OK"}`)
	return b.Bytes()
}

// pageV1 returns one page of a v1 endpoint: the earliest available events
// of account a at or after minMs, at most V1PageSize of them unless
// V1WholeSeconds runs the page on to the end of its last second.
func (s *Sim) pageV1(a *accountStore, ep endpoint, minMs, visible int64) reply {
	a.mu.RLock()
	defer a.mu.RUnlock()
	st := a.streams[ep.typ]
	lo := st.firstAtOrAfterMs(minMs)
	hi := max(st.firstAtOrAfterMs(visible), lo)
	end := min(lo+s.v1PageSize, hi)
	if s.v1WholeSeconds && end-lo == s.v1PageSize {
		for end < hi && st.recs[end].ms/1000 == st.recs[end-1].ms/1000 {
			end++
		}
	}
	page := st.recs[lo:end]

	body := func(r record) []byte { return r.body }
	if ep.typ == duoapi.Telephony {
		body = func(r record) []byte { return r.v1 }
	}
	var b bytes.Buffer
	size := 32
	for _, r := range page {
		size += len(body(r)) + 1
	}
	b.Grow(size)
	b.WriteString(`{"response":[`)
	for i, r := range page {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(body(r))
	}
	b.WriteString(`],"stat":"OK"}`)
	return reply{status: 200, body: b.Bytes()}
}
