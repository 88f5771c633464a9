// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
)

// tmPage is a decoded Trust Monitor response. The metadata is a map, to tell
// an absent next_offset from a null one.
type tmPage struct {
	Stat     string `json:"stat"`
	Response struct {
		Events   []json.RawMessage          `json:"events"`
		Metadata map[string]json.RawMessage `json:"metadata"`
	} `json:"response"`
}

func decodeTMPage(t *testing.T, body []byte) tmPage {
	t.Helper()
	var page tmPage
	require.NoError(t, json.Unmarshal(body, &page), "body %s", body)
	assert.Equal(t, "OK", page.Stat)
	require.NotNil(t, page.Response.Events, "events is an array, never null: %s", body)
	require.NotNil(t, page.Response.Metadata, "metadata is an object: %s", body)
	return page
}

// nextOffset returns the next_offset of a page as a client sends it back,
// checking that it is a JSON string when wantString is set and a JSON number
// otherwise; ok is false when the page has none.
func (p tmPage) nextOffset(t *testing.T, wantString bool) (offset string, ok bool) {
	t.Helper()
	raw, ok := p.Response.Metadata["next_offset"]
	if !ok {
		return "", false
	}
	if wantString {
		require.NoError(t, json.Unmarshal(raw, &offset), "next_offset %s is not a string", raw)
		_, err := strconv.ParseFloat(offset, 64)
		assert.Error(t, err, "string next_offset %q reads as a number", offset)
		return offset, true
	}
	var n json.Number
	require.NoError(t, json.Unmarshal(raw, &n), "next_offset %s is not a number", raw)
	_, err := n.Int64()
	require.NoError(t, err, "next_offset %s is not an integer", raw)
	return n.String(), true
}

// tmType returns the type of a Trust Monitor record.
func tmType(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var rec struct{ Type string }
	require.NoError(t, json.Unmarshal(raw, &rec))
	return rec.Type
}

// tmEvent returns a minimal Trust Monitor record.
func tmEvent(surfaced time.Time, sekey, typ string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"sekey":%q,"surfaced_timestamp":%d,"type":%q}`, sekey, surfaced.UnixMilli(), typ))
}

// pullTrustMonitor pages through the Trust Monitor endpoint with base,
// following next_offset as offset, and returns the events and the number of
// pages.
func (h *harness) pullTrustMonitor(base url.Values, stringOffsets bool) ([]string, int) {
	t := h.t
	t.Helper()
	got := []string{}
	params := cloneValues(base)
	for pages := 1; ; pages++ {
		require.Less(t, pages, 1000, "paging does not end")
		status, body := h.get(duoapi.PathTrustMonitorV1, params)
		require.Equal(t, 200, status, "body %s", body)
		page := decodeTMPage(t, body)
		got = append(got, strs(page.Response.Events)...)
		offset, ok := page.nextOffset(t, stringOffsets)
		if !ok {
			return got, pages
		}
		require.NotEmpty(t, page.Response.Events, "an offset after an empty page")
		params = cloneValues(base)
		params.Set("offset", offset)
	}
}

func TestTrustMonitorPaging(t *testing.T) {
	start := epoch.Add(-time.Hour)
	end := epoch.Add(-10 * time.Minute)
	crowded := start.Add(30 * time.Minute) // many events surface in this millisecond
	tests := []struct {
		name      string
		batches   []batch
		limit     int // 0: not sent
		wantPages int
	}{
		{name: "empty window", wantPages: 1},
		{name: "fewer than limit", batches: []batch{{7, start, end}}, limit: 10, wantPages: 1},
		{name: "exactly limit", batches: []batch{{10, start, end}}, limit: 10, wantPages: 1},
		{name: "default limit 50", batches: []batch{{120, start, end}}, wantPages: 3},
		{name: "pages of 200", batches: []batch{{1000, start, end}}, limit: 200, wantPages: 5},
		{name: "one surfaced_timestamp across pages", batches: []batch{{25, crowded, crowded}, {10, start, end}}, limit: 10, wantPages: 4},
		// 225 events surfaced together, more than a page, among 900: still
		// ceil(900/200) pages.
		{name: "900 with a burst of 225, by 200", batches: []batch{{675, start, end}, {225, crowded, crowded}}, limit: 200, wantPages: 5},
		{name: "a burst at the window's end", batches: []batch{{30, end, end}, {5, start, end}}, limit: 8, wantPages: 5},
	}
	for _, stringOffsets := range []bool{false, true} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("string offsets %v/%s", stringOffsets, tt.name), func(t *testing.T) {
				h := newHarness(t, Config{Seed: 7, TrustMonitorStringOffsets: stringOffsets})
				for _, b := range tt.batches {
					require.NoError(t, h.srv.Generate(duoapi.TrustMonitor, b.n, b.from, b.to))
				}
				want := bodies(h.srv.Events(duoapi.TrustMonitor, start, end.Add(time.Millisecond)))

				base := url.Values{"mintime": {ms(start)}, "maxtime": {ms(end)}}
				if tt.limit > 0 {
					base.Set("limit", strconv.Itoa(tt.limit))
				}
				got, pages := h.pullTrustMonitor(base, stringOffsets)
				assert.Equal(t, want, got)
				assert.Equal(t, tt.wantPages, pages)
				for i, r := range h.srv.Requests() {
					assert.Equal(t, ms(start), r.Query.Get("mintime"))
					assert.Equal(t, ms(end), r.Query.Get("maxtime"))
					assert.Equal(t, i > 0, r.Query.Has("offset"), "request %d", i)
				}
			})
		}
	}
}

func TestTrustMonitorOrder(t *testing.T) {
	// Events of one millisecond are ordered by sekey, whatever order they
	// were added in.
	at := epoch.Add(-time.Hour).Truncate(time.Millisecond)
	h := newHarness(t, Config{})
	for _, sekey := range []string{"SEC", "SEA", "SEE", "SEB", "SED"} {
		require.NoError(t, h.srv.AddEvents(duoapi.TrustMonitor, tmEvent(at, sekey, "auth")))
	}
	require.NoError(t, h.srv.AddEvents(duoapi.TrustMonitor, tmEvent(at.Add(-time.Millisecond), "SEZ", "auth")))
	got, pages := h.pullTrustMonitor(url.Values{"mintime": {ms(at.Add(-time.Second))}, "maxtime": {ms(at)}, "limit": {"2"}}, false)
	var sekeys []string
	for _, r := range got {
		var rec struct{ SEKey string }
		require.NoError(t, json.Unmarshal([]byte(r), &rec))
		sekeys = append(sekeys, rec.SEKey)
	}
	assert.Equal(t, []string{"SEZ", "SEA", "SEB", "SEC", "SED", "SEE"}, sekeys)
	assert.Equal(t, 3, pages)
}

func TestTrustMonitorWindow(t *testing.T) {
	mintime := epoch.Add(-time.Hour).Truncate(time.Millisecond)
	maxtime := mintime.Add(10 * time.Minute)
	h := newHarness(t, Config{})
	require.NoError(t, h.srv.AddEvents(duoapi.TrustMonitor,
		tmEvent(mintime.Add(-time.Millisecond), "SEBEFORE", "auth"),
		tmEvent(mintime, "SEATMINTIME", "auth"),
		tmEvent(maxtime, "SEATMAXTIME", "auth"),
		tmEvent(maxtime.Add(time.Millisecond), "SEAFTER", "auth"),
		tmEvent(epoch.Add(-90*time.Second), "SETOORECENT", "auth"),
	))
	get := func(min, max time.Time) []string {
		status, body := h.get(duoapi.PathTrustMonitorV1, url.Values{"mintime": {ms(min)}, "maxtime": {ms(max)}})
		require.Equal(t, 200, status, "body %s", body)
		var sekeys []string
		for _, r := range decodeTMPage(t, body).Response.Events {
			var rec struct{ SEKey string }
			require.NoError(t, json.Unmarshal(r, &rec))
			sekeys = append(sekeys, rec.SEKey)
		}
		return sekeys
	}
	assert.Equal(t, []string{"SEATMINTIME", "SEATMAXTIME"}, get(mintime, maxtime), "mintime and maxtime are inclusive")
	// maxtime in the future is accepted, but events of the last two minutes
	// stay hidden until the clock moves on.
	assert.Equal(t, []string{"SEBEFORE", "SEATMINTIME", "SEATMAXTIME", "SEAFTER"}, get(mintime.Add(-time.Second), epoch.Add(time.Hour)))
	h.clock.Advance(31 * time.Second)
	assert.Equal(t, []string{"SEBEFORE", "SEATMINTIME", "SEATMAXTIME", "SEAFTER", "SETOORECENT"}, get(mintime.Add(-time.Second), epoch.Add(time.Hour)))
}

func TestTrustMonitorTypeFilter(t *testing.T) {
	start, end := epoch.Add(-time.Hour), epoch.Add(-10*time.Minute)
	tests := []struct {
		name      string
		types     []string // the type parameters sent
		wantTypes []string // the types of the events expected; nil for all
	}{
		{"no filter", nil, nil},
		{"auth", []string{"auth"}, []string{"auth"}},
		{"bypass_status", []string{"bypass_status"}, []string{"bypass_status"}},
		{"bypass_status_enabled, as Duo's documentation names it", []string{"bypass_status_enabled"}, []string{"bypass_status"}},
		{"device_registration", []string{"device_registration"}, []string{"device_registration"}},
		{"two types", []string{"device_registration", "auth"}, []string{"auth", "device_registration"}},
		{"a type twice", []string{"auth", "auth"}, []string{"auth"}},
	}
	h := newHarness(t, Config{Seed: 3})
	require.NoError(t, h.srv.Generate(duoapi.TrustMonitor, 150, start, end))
	require.NoError(t, h.srv.Generate(duoapi.TrustMonitor, 40, start.Add(time.Minute), start.Add(time.Minute)))
	all := h.srv.Events(duoapi.TrustMonitor, start, end.Add(time.Millisecond))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := []string{}
			for _, e := range all {
				if tt.wantTypes == nil || slices.Contains(tt.wantTypes, tmType(t, e.Body)) {
					want = append(want, string(e.Body))
				}
			}
			require.NotEmpty(t, want)
			base := url.Values{"mintime": {ms(start)}, "maxtime": {ms(end)}, "limit": {"7"}}
			if tt.types != nil {
				base["type"] = tt.types
			}
			got, _ := h.pullTrustMonitor(base, false)
			assert.Equal(t, want, got)
		})
	}
}

func TestTrustMonitorOffsetRefused(t *testing.T) {
	start, end := epoch.Add(-time.Hour), epoch.Add(-10*time.Minute)
	window := url.Values{"mintime": {ms(start)}, "maxtime": {ms(end)}, "limit": {"10"}}
	with := func(changes ...string) url.Values {
		q := cloneValues(window)
		for i := 0; i+1 < len(changes); i += 2 {
			q.Set(changes[i], changes[i+1])
		}
		return q
	}
	for _, stringOffsets := range []bool{false, true} {
		h := newHarness(t, Config{Seed: 9, TrustMonitorStringOffsets: stringOffsets})
		require.NoError(t, h.srv.Generate(duoapi.TrustMonitor, 35, start, end))
		status, body := h.get(duoapi.PathTrustMonitorV1, window)
		require.Equal(t, 200, status)
		issued, ok := decodeTMPage(t, body).nextOffset(t, stringOffsets)
		require.True(t, ok)
		status, second := h.get(duoapi.PathTrustMonitorV1, with("offset", issued))
		require.Equal(t, 200, status)
		// The limit is not part of the query an offset belongs to.
		status, fewer := h.get(duoapi.PathTrustMonitorV1, with("offset", issued, "limit", "4"))
		require.Equal(t, 200, status)
		assert.Equal(t, decodeTMPage(t, second).Response.Events[:4], decodeTMPage(t, fewer).Response.Events)

		tests := []struct {
			name     string
			query    url.Values
			wantCode int // 0: 200 with the second page
		}{
			{"the issued offset", with("offset", issued), 0},
			{"an offset never issued", with("offset", "25"), 40002},
			{"an offset never issued, as a string", with("offset", "tm10_00000000"), 40002},
			{"another maxtime", with("offset", issued, "maxtime", ms(end.Add(time.Millisecond))), 40002},
			{"another mintime", with("offset", issued, "mintime", ms(start.Add(-time.Millisecond))), 40002},
			{"another type", with("offset", issued, "type", "auth"), 40002},
			{"empty", with("offset", ""), 40002},
		}
		if stringOffsets {
			tests = append(tests, struct {
				name     string
				query    url.Values
				wantCode int
			}{"the number the string stands for", with("offset", "10"), 40002})
		}
		for _, tt := range tests {
			t.Run(fmt.Sprintf("string offsets %v/%s", stringOffsets, tt.name), func(t *testing.T) {
				status, header, body := h.do(h.newRequest(duoapi.PathTrustMonitorV1, tt.query))
				if tt.wantCode == 0 {
					assert.Equal(t, 200, status, "body %s", body)
					assert.Equal(t, string(second), string(body), "an offset can be followed again")
					return
				}
				assert.Equal(t, "application/json", header.Get("Content-Type"))
				assert.Equal(t, 400, status, "body %s", body)
				assert.Equal(t, failure{Stat: "FAIL", Code: 40002, Message: "Invalid request parameters", MessageDetail: errOffsetNotIssued},
					decodeFailure(t, body))
			})
		}
	}
}

func TestTrustMonitorIgnoresNextOffset(t *testing.T) {
	// Trust Monitor takes its offset back as offset; a next_offset
	// parameter is not one of its parameters, and is ignored.
	h := newHarness(t, Config{Seed: 2})
	start, end := epoch.Add(-time.Hour), epoch.Add(-10*time.Minute)
	require.NoError(t, h.srv.Generate(duoapi.TrustMonitor, 30, start, end))
	q := url.Values{"mintime": {ms(start)}, "maxtime": {ms(end)}, "limit": {"10"}}
	_, first := h.get(duoapi.PathTrustMonitorV1, q)
	offset, ok := decodeTMPage(t, first).nextOffset(t, false)
	require.True(t, ok)
	q.Set("next_offset", offset)
	status, again := h.get(duoapi.PathTrustMonitorV1, q)
	require.Equal(t, 200, status)
	assert.Equal(t, string(first), string(again))
}

func TestTrustMonitorFaultsNeverChangeData(t *testing.T) {
	start, end := epoch.Add(-time.Hour), epoch.Add(-10*time.Minute)
	h := newHarness(t, Config{Seed: 8, TrustMonitorStringOffsets: true, Faults: Faults{
		TooManyRequests: 0.15, ServerError: 0.15, Unavailable: 0.1, Truncate: 0.15, Drop: 0.1,
		Slow: 0.1, SlowDelay: time.Millisecond,
	}})
	crowded := start.Add(time.Minute)
	require.NoError(t, h.srv.Generate(duoapi.TrustMonitor, 300, start, end))
	require.NoError(t, h.srv.Generate(duoapi.TrustMonitor, 30, crowded, crowded))
	want := bodies(h.srv.Events(duoapi.TrustMonitor, start, end.Add(time.Millisecond)))

	base := url.Values{"mintime": {ms(start)}, "maxtime": {ms(end)}, "limit": {"20"}}
	got := []string{}
	params := cloneValues(base)
	for {
		page := fetchWhole[tmPage](h, duoapi.PathTrustMonitorV1, params)
		got = append(got, strs(page.Response.Events)...)
		offset, ok := page.nextOffset(t, true)
		if !ok {
			break
		}
		params = cloneValues(base)
		params.Set("offset", offset)
	}
	assert.Equal(t, want, got)
	assert.Positive(t, h.faulted(), "faults were injected")
}

func TestOffsetRegistryCap(t *testing.T) {
	var r offsetRegistry
	for i := range maxIssuedOffsets + 10 {
		r.issue("q", strconv.Itoa(i), issuedOffset{n: i})
	}
	assert.LessOrEqual(t, len(r.issued), maxIssuedOffsets)
	assert.Len(t, r.order, len(r.issued))
	_, ok := r.lookup("q", "0")
	assert.False(t, ok, "the oldest offsets are forgotten")
	off, ok := r.lookup("q", strconv.Itoa(maxIssuedOffsets+9))
	assert.True(t, ok, "the newest are kept")
	assert.Equal(t, maxIssuedOffsets+9, off.n)
	_, ok = r.lookup("another query", strconv.Itoa(maxIssuedOffsets+9))
	assert.False(t, ok, "an offset belongs to its query")

	// Issuing an offset again moves it, without counting it twice.
	n := len(r.order)
	r.issue("q", strconv.Itoa(maxIssuedOffsets+9), issuedOffset{n: 1})
	assert.Len(t, r.order, n)
	off, _ = r.lookup("q", strconv.Itoa(maxIssuedOffsets+9))
	assert.Equal(t, 1, off.n)
}
