// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
)

// batch is a call to Generate.
type batch struct {
	n        int
	from, to time.Time
}

// lastCursor returns the (ms, id) of a v2 record, the way a client computes
// it: from isotimestamp and txid, ts and telephony_id, or ts and
// activity_id.
func lastCursor(t *testing.T, typ duoapi.LogType, raw json.RawMessage) []string {
	t.Helper()
	var rec struct {
		ISOTimestamp string `json:"isotimestamp"`
		TxID         string `json:"txid"`
		TS           string `json:"ts"`
		TelephonyID  string `json:"telephony_id"`
		ActivityID   string `json:"activity_id"`
	}
	require.NoError(t, json.Unmarshal(raw, &rec))
	if typ == duoapi.Authentication {
		at, err := time.Parse(time.RFC3339Nano, rec.ISOTimestamp)
		require.NoError(t, err)
		return []string{ms(at), rec.TxID}
	}
	at, err := time.Parse(time.RFC3339Nano, rec.TS)
	require.NoError(t, err)
	if typ == duoapi.Activity {
		return []string{ms(at), rec.ActivityID}
	}
	return []string{ms(at), rec.TelephonyID}
}

func TestV2Paging(t *testing.T) {
	start := epoch.Add(-time.Hour)
	end := epoch.Add(-10 * time.Minute)
	crowded := start.Add(30 * time.Minute) // many events in this one millisecond
	tests := []struct {
		name      string
		batches   []batch
		limit     int // 0: not sent
		desc      bool
		repeated  bool // send next_offset as the key given twice
		wantPages int
	}{
		{name: "empty window", wantPages: 1},
		{name: "fewer than limit", batches: []batch{{7, start, end}}, limit: 10, wantPages: 1},
		{name: "exactly limit", batches: []batch{{10, start, end}}, limit: 10, wantPages: 1},
		{name: "default limit 100", batches: []batch{{250, start, end}}, wantPages: 3},
		{name: "many pages", batches: []batch{{95, start, end}}, limit: 10, wantPages: 10},
		{name: "one millisecond across pages", batches: []batch{{25, crowded, crowded}, {10, start, end}}, limit: 10, wantPages: 4},
		{name: "descending", batches: []batch{{25, crowded, crowded}, {10, start, end}}, limit: 10, desc: true, wantPages: 4},
		{name: "repeated-key next_offset", batches: []batch{{25, crowded, crowded}, {10, start, end}}, limit: 10, repeated: true, wantPages: 4},
		{name: "pages of exactly 1000", batches: []batch{{2000, start, end}}, limit: 1000, wantPages: 2},
		// A millisecond of 750 events, more than a page, among 3000: still
		// ceil(3000/1000) pages.
		{name: "a burst larger than a page", batches: []batch{{2250, start, end}, {750, crowded, crowded}}, limit: 500, wantPages: 6},
		{name: "3000 with a burst of 750, by 1000", batches: []batch{{2250, start, end}, {750, crowded, crowded}}, limit: 1000, wantPages: 3},
	}
	for _, path := range []string{duoapi.PathAuthenticationV2, duoapi.PathTelephonyV2, duoapi.PathActivityV2} {
		typ := endpoints[path].typ
		for _, tt := range tests {
			t.Run(string(typ)+"/"+tt.name, func(t *testing.T) {
				h := newHarness(t, Config{Seed: 7})
				for _, b := range tt.batches {
					require.NoError(t, h.srv.Generate(typ, b.n, b.from, b.to))
				}
				want := bodies(h.srv.Events(typ, start, end.Add(time.Millisecond)))
				if tt.desc {
					slices.Reverse(want)
				}

				base := url.Values{"mintime": {ms(start)}, "maxtime": {ms(end)}}
				if tt.limit > 0 {
					base.Set("limit", strconv.Itoa(tt.limit))
				}
				if tt.desc {
					base.Set("sort", "ts:desc")
				} else {
					base.Set("sort", "ts:asc")
				}
				got := []string{}
				var offset []string
				pages := 0
				for {
					params := cloneValues(base)
					switch {
					case offset == nil:
					case tt.repeated:
						params["next_offset"] = offset
					default:
						params.Set("next_offset", strings.Join(offset, ","))
					}
					status, body := h.get(path, params)
					require.Equal(t, 200, status, "body %s", body)
					var page v2Page
					require.NoError(t, json.Unmarshal(body, &page))
					assert.Equal(t, "OK", page.Stat)
					pages++
					require.Less(t, pages, 100, "paging does not end")
					records := page.records()
					got = append(got, strs(records)...)
					assert.Equal(t, len(want), page.Response.Metadata.TotalObjects, "total_objects")

					next := page.Response.Metadata.NextOffset
					if string(next) == "null" {
						break
					}
					require.NotEmpty(t, records, "a cursor after an empty page")
					if typ == duoapi.Authentication {
						require.NoError(t, json.Unmarshal(next, &offset), "auth next_offset %s is not an array", next)
					} else {
						var s string
						require.NoError(t, json.Unmarshal(next, &s), "%s next_offset %s is not a string", typ, next)
						offset = strings.Split(s, ",")
					}
					assert.Equal(t, lastCursor(t, typ, records[len(records)-1]), offset, "next_offset is the last record")
				}
				assert.Equal(t, want, got)
				assert.Equal(t, tt.wantPages, pages)
				for _, r := range h.srv.Requests() {
					assert.Equal(t, ms(start), r.Query.Get("mintime"))
					assert.Equal(t, ms(end), r.Query.Get("maxtime"))
				}
			})
		}
	}
}

func TestV2Cursor(t *testing.T) {
	at := epoch.Add(-time.Hour).Truncate(time.Millisecond)
	iso := at.Format(isoMicros)
	ids := []string{"a", "b", "c", "d", "e"}
	tests := []struct {
		name   string
		sort   string
		offset string
		want   []string
	}{
		{"ascending after an event", "ts:asc", ms(at) + ",c", []string{"d", "e"}},
		{"ascending after a missing ID", "ts:asc", ms(at) + ",bb", []string{"c", "d", "e"}},
		{"ascending after the last", "ts:asc", ms(at) + ",e", []string{}},
		{"ascending after an earlier millisecond", "ts:asc", ms(at.Add(-time.Millisecond)) + ",z", ids},
		{"descending after an event", "ts:desc", ms(at) + ",c", []string{"b", "a"}},
		{"descending after a later millisecond", "ts:desc", ms(at.Add(time.Millisecond)) + ",a", []string{"e", "d", "c", "b", "a"}},
		{"no cursor ascending", "ts:asc", "", ids},
		{"no cursor, default sort is descending", "", "", []string{"e", "d", "c", "b", "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{})
			for _, id := range []string{"c", "a", "e", "b", "d"} {
				require.NoError(t, h.srv.AddEvents(duoapi.Authentication,
					json.RawMessage(fmt.Sprintf(`{"isotimestamp":%q,"timestamp":%d,"txid":%q}`, iso, at.Unix(), id))))
			}
			params := url.Values{"mintime": {ms(at.Add(-time.Second))}, "maxtime": {ms(at.Add(time.Second))}}
			if tt.sort != "" {
				params.Set("sort", tt.sort)
			}
			if tt.offset != "" {
				params.Set("next_offset", tt.offset)
			}
			status, body := h.get(duoapi.PathAuthenticationV2, params)
			require.Equal(t, 200, status, "body %s", body)
			var page v2Page
			require.NoError(t, json.Unmarshal(body, &page))
			got := []string{}
			for _, r := range page.records() {
				var rec struct{ TxID string }
				require.NoError(t, json.Unmarshal(r, &rec))
				got = append(got, rec.TxID)
			}
			assert.Equal(t, tt.want, got)
			assert.Equal(t, 5, page.Response.Metadata.TotalObjects)
		})
	}
}

func TestV2Window(t *testing.T) {
	mintime := epoch.Add(-time.Hour).Truncate(time.Millisecond)
	maxtime := mintime.Add(10 * time.Minute)
	event := func(at time.Time, id string) json.RawMessage {
		return json.RawMessage(fmt.Sprintf(`{"isotimestamp":%q,"timestamp":%d,"txid":%q}`, at.Format(isoMicros), at.Unix(), id))
	}
	h := newHarness(t, Config{})
	require.NoError(t, h.srv.AddEvents(duoapi.Authentication,
		event(mintime.Add(-time.Millisecond), "before"),
		event(mintime, "at-mintime"),
		event(maxtime, "at-maxtime"),
		event(maxtime.Add(time.Millisecond), "after"),
		event(epoch.Add(-90*time.Second), "too-recent"),
	))
	get := func(min, max time.Time) []string {
		status, body := h.get(duoapi.PathAuthenticationV2, url.Values{
			"mintime": {ms(min)}, "maxtime": {ms(max)}, "sort": {"ts:asc"},
		})
		require.Equal(t, 200, status, "body %s", body)
		var page v2Page
		require.NoError(t, json.Unmarshal(body, &page))
		var ids []string
		for _, r := range page.records() {
			var rec struct{ TxID string }
			require.NoError(t, json.Unmarshal(r, &rec))
			ids = append(ids, rec.TxID)
		}
		return ids
	}
	assert.Equal(t, []string{"at-mintime", "at-maxtime"}, get(mintime, maxtime), "mintime and maxtime are inclusive")
	// maxtime in the future is accepted, but events of the last two minutes
	// stay hidden until the clock moves on.
	assert.Equal(t, []string{"before", "at-mintime", "at-maxtime", "after"}, get(mintime.Add(-time.Second), epoch.Add(time.Hour)))
	h.clock.Advance(31 * time.Second)
	assert.Equal(t, []string{"before", "at-mintime", "at-maxtime", "after", "too-recent"}, get(mintime.Add(-time.Second), epoch.Add(time.Hour)))
}

func TestV1Paging(t *testing.T) {
	start := epoch.Add(-2 * time.Hour)
	second := epoch.Add(-time.Hour).Truncate(time.Second) // a crowded second
	tests := []struct {
		name         string
		batches      []batch
		mintime      string // default: start
		wholeSeconds bool
		from, to     time.Time // the events expected are the first want of those in [from, to)
		want         int
	}{
		{name: "empty", want: 0},
		{name: "a few", batches: []batch{{10, start, second}}, want: 10},
		{name: "exactly 1000", batches: []batch{{1000, start, second}}, want: 1000},
		{name: "the 1000 earliest", batches: []batch{{1500, start, second}}, want: 1000},
		{name: "mintime is inclusive", batches: []batch{{5, second.Add(-time.Second), second.Add(-time.Second)}, {5, second, second}, {5, second.Add(time.Second), second.Add(time.Second)}},
			mintime: sec(second), from: second, want: 10},
		{name: "a second split at 1000", batches: []batch{{995, start, second.Add(-time.Second)}, {20, second, second}}, want: 1000},
		{name: "the split second asked again", batches: []batch{{995, start, second.Add(-time.Second)}, {20, second, second}},
			mintime: sec(second), from: second, want: 20},
		{name: "whole seconds", batches: []batch{{995, start, second.Add(-time.Second)}, {20, second, second}, {5, second.Add(time.Second), second.Add(time.Second)}},
			wholeSeconds: true, want: 1015},
		{name: "a page of one second, split", batches: []batch{{1200, second, second}}, want: 1000},
		{name: "a page of one second, whole", batches: []batch{{1200, second, second}}, wholeSeconds: true, want: 1200},
		{name: "retention", batches: []batch{{5, epoch.Add(-181 * 24 * time.Hour), epoch.Add(-181 * 24 * time.Hour)}, {5, start, second}},
			mintime: "0", from: epoch.Add(-180 * 24 * time.Hour), want: 5},
		{name: "availability lag", batches: []batch{{5, epoch.Add(-100 * time.Second), epoch.Add(-time.Second)}, {5, start, second}}, want: 5},
		{name: "no mintime", batches: []batch{{5, start, second}}, mintime: "-", want: 5},
	}
	for _, path := range []string{duoapi.PathAdministratorV1, duoapi.PathTelephonyV1, duoapi.PathOfflineEnrollmentV1} {
		typ := endpoints[path].typ
		for _, tt := range tests {
			t.Run(string(typ)+"/"+tt.name, func(t *testing.T) {
				h := newHarness(t, Config{Seed: 3, V1WholeSeconds: tt.wholeSeconds})
				for _, b := range tt.batches {
					require.NoError(t, h.srv.Generate(typ, b.n, b.from, b.to))
				}
				from, to := tt.from, tt.to
				if from.IsZero() {
					from = start
				}
				if to.IsZero() {
					to = epoch.Add(-DefaultAvailabilityLag)
				}
				want := []string{}
				for _, e := range h.srv.Events(typ, from, to) {
					if typ == duoapi.Telephony {
						want = append(want, string(e.V1Body))
					} else {
						want = append(want, string(e.Body))
					}
				}
				require.GreaterOrEqual(t, len(want), tt.want)
				want = want[:tt.want]

				params := url.Values{"mintime": {sec(start)}}
				switch tt.mintime {
				case "":
				case "-":
					params = url.Values{}
				default:
					params.Set("mintime", tt.mintime)
				}
				status, body := h.get(path, params)
				require.Equal(t, 200, status, "body %s", body)
				var page v1Page
				require.NoError(t, json.Unmarshal(body, &page))
				assert.Equal(t, "OK", page.Stat)
				require.NotNil(t, page.Response, "response is an array, never null")
				assert.Equal(t, want, strs(page.Response))
			})
		}
	}
}

func TestV1PageSize(t *testing.T) {
	h := newHarness(t, Config{V1PageSize: 3})
	require.NoError(t, h.srv.Generate(duoapi.Administrator, 10, epoch.Add(-time.Hour), epoch.Add(-time.Hour)))
	status, body := h.get(duoapi.PathAdministratorV1, url.Values{"mintime": {sec(epoch.Add(-2 * time.Hour))}})
	require.Equal(t, 200, status)
	var page v1Page
	require.NoError(t, json.Unmarshal(body, &page))
	assert.Len(t, page.Response, 3)
}

func TestLargeDataset(t *testing.T) {
	if testing.Short() {
		t.Skip("generates 56,100 events")
	}
	h := newHarness(t, Config{Seed: 11})
	start := epoch.Add(-24 * time.Hour)
	end := epoch.Add(-10 * time.Minute)
	for _, b := range []struct {
		typ duoapi.LogType
		n   int
	}{{duoapi.Authentication, 50000}, {duoapi.Administrator, 5000}, {duoapi.Telephony, 1000}, {duoapi.OfflineEnrollment, 100}} {
		require.NoError(t, h.srv.Generate(b.typ, b.n, start, end))
		assert.Equal(t, b.n, h.srv.CountEvents(b.typ, start, end.Add(time.Second)))
	}
	// A full walk of the authentication log, 1000 at a time.
	n, pages := 0, 0
	params := url.Values{"mintime": {ms(start)}, "maxtime": {ms(end)}, "limit": {"1000"}, "sort": {"ts:asc"}}
	for {
		status, body := h.get(duoapi.PathAuthenticationV2, params)
		require.Equal(t, 200, status)
		var page v2Page
		require.NoError(t, json.Unmarshal(body, &page))
		n += len(page.Response.AuthLogs)
		pages++
		var next []string
		if string(page.Response.Metadata.NextOffset) == "null" {
			break
		}
		require.NoError(t, json.Unmarshal(page.Response.Metadata.NextOffset, &next))
		params.Set("next_offset", strings.Join(next, ","))
	}
	assert.Equal(t, 50000, n)
	assert.Equal(t, 50, pages)
}
