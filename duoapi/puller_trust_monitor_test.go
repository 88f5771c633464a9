// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// trustMonitorEvents returns n Trust Monitor events surfaced at ms, with
// sekeys SE<tag>-<i>.
func trustMonitorEvents(n int, ms int64, tag string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"sekey":"SE%s-%03d","surfaced_timestamp":%d,"type":"auth","state":"new"}`, tag, i, ms)
	}
	return out
}

// trustMonitorBody is a Trust Monitor page; nextOffset is the JSON of
// metadata.next_offset, or "" to leave it out as Duo does on the last page.
func trustMonitorBody(events []string, nextOffset string) string {
	meta := "{}"
	if nextOffset != "" {
		meta = `{"next_offset":` + nextOffset + `}`
	}
	return `{"stat":"OK","response":{"events":[` + strings.Join(events, ",") + `],"metadata":` + meta + `}}`
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

// sekeysOf returns the sekeys of the events of batches, in order.
func sekeysOf(t *testing.T, batches []Batch) []string {
	t.Helper()
	var keys []string
	for _, b := range batches {
		for _, ev := range b.Events {
			k, ok := ParseTrustMonitorKey(ev)
			require.True(t, ok, "event %s", ev)
			keys = append(keys, k.SEKey)
		}
	}
	return keys
}

func TestPullerTrustMonitorPaging(t *testing.T) {
	windowMin := testNow.Add(-24*time.Hour - UnknownClockMargin).UnixMilli()
	ms := windowMin + 5000
	rejected := reply(400, `{"code":40002,"message":"Invalid request parameters","message_detail":"offset","stat":"FAIL"}`)
	tests := []struct {
		name        string
		steps       []http.HandlerFunc
		batches     int
		wantEvents  int      // distinct events delivered, each once
		wantOffsets []string // offset sent with each request ("" = none)
		wantMin     []int64  // mintime of each request, as an offset from ms (-1: the window's start)
		wantDups    int
	}{
		{
			name: "pages of 200 with number offsets, next_offset absent at the end",
			steps: []http.HandlerFunc{
				reply(200, trustMonitorBody(trustMonitorEvents(200, ms, "a"), "200")),
				reply(200, trustMonitorBody(trustMonitorEvents(200, ms+1, "b"), "400")),
				reply(200, trustMonitorBody(trustMonitorEvents(100, ms+2, "c"), "")),
			},
			batches: 3, wantEvents: 500,
			wantOffsets: []string{"", "200", "400"},
			wantMin:     []int64{-1, -1, -1},
		},
		{
			name: "string offsets are sent back as they came",
			steps: []http.HandlerFunc{
				reply(200, trustMonitorBody(trustMonitorEvents(200, ms, "a"), `"eyJvIjoyMDB9"`)),
				reply(200, trustMonitorBody(trustMonitorEvents(3, ms+9, "b"), `null`)),
			},
			batches: 2, wantEvents: 203,
			wantOffsets: []string{"", "eyJvIjoyMDB9"},
			wantMin:     []int64{-1, -1},
		},
		{
			name: "225 events in one millisecond across a page boundary",
			steps: []http.HandlerFunc{
				reply(200, trustMonitorBody(trustMonitorEvents(200, ms, "burst"), "200")),
				reply(200, trustMonitorBody(trustMonitorEvents(225, ms, "burst")[200:], "")),
			},
			batches: 2, wantEvents: 225,
			wantOffsets: []string{"", "200"},
			wantMin:     []int64{-1, -1},
		},
		{
			name: "a rejected offset inside a burst: read on from its millisecond, dropping the sekeys delivered",
			steps: []http.HandlerFunc{
				reply(200, trustMonitorBody(concat(trustMonitorEvents(50, ms-1, "before"), trustMonitorEvents(150, ms, "burst")), "200")),
				rejected,
				reply(200, trustMonitorBody(trustMonitorEvents(200, ms, "burst"), "7")),
				reply(200, trustMonitorBody(trustMonitorEvents(225, ms, "burst")[200:], "")),
			},
			batches: 3, wantEvents: 275, wantDups: 150,
			wantOffsets: []string{"", "200", "", "7"},
			wantMin:     []int64{-1, -1, 0, 0},
		},
		{
			name: "an offset that does not move on is not followed",
			steps: []http.HandlerFunc{
				reply(200, trustMonitorBody(trustMonitorEvents(200, ms, "a"), "2")),
				reply(200, trustMonitorBody(trustMonitorEvents(200, ms, "a"), "2")),
				reply(200, trustMonitorBody(concat(trustMonitorEvents(200, ms, "a"), trustMonitorEvents(10, ms+3, "b")), "")),
			},
			batches: 3, wantEvents: 210, wantDups: 400,
			wantOffsets: []string{"", "2", ""},
			wantMin:     []int64{-1, -1, 0},
		},
		{
			name: "the same events under a new offset are not paged for ever",
			steps: []http.HandlerFunc{
				reply(200, trustMonitorBody(trustMonitorEvents(200, ms, "a"), "1")),
				reply(200, trustMonitorBody(trustMonitorEvents(200, ms, "a"), "2")),
				reply(200, trustMonitorBody(concat(trustMonitorEvents(200, ms, "a"), trustMonitorEvents(5, ms+1, "b")), "")),
			},
			batches: 3, wantEvents: 205, wantDups: 400,
			wantOffsets: []string{"", "1", ""},
			wantMin:     []int64{-1, -1, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scripted{t: t, steps: tt.steps}
			p, obs := newTestPuller(t, s, []LogType{TrustMonitor}, nil, nil)
			var batches []Batch
			for range tt.batches {
				b, err := p.Next(t.Context())
				require.NoError(t, err)
				batches = append(batches, b)
			}
			keys := sekeysOf(t, batches)
			assert.Len(t, keys, tt.wantEvents)
			distinct := map[string]bool{}
			for _, k := range keys {
				assert.False(t, distinct[k], "sekey %s delivered twice", k)
				distinct[k] = true
			}
			assert.Equal(t, tt.wantDups, obs.dups, "duplicates dropped")
			last := batches[len(batches)-1].Cursor
			assert.Zero(t, last.WindowMax, "the window is done")
			assert.Empty(t, last.Seen, "a new window needs no sekeys")

			qs := s.queries()
			require.Len(t, qs, len(tt.wantOffsets))
			for i, q := range qs {
				assert.Equal(t, tt.wantOffsets[i], q.Get("offset"), "offset of request %d", i)
				assert.NotContains(t, q, "next_offset", "Trust Monitor takes its offset back as offset")
				assert.NotContains(t, q, "sort", "Trust Monitor has no sort")
				assert.NotContains(t, q, "type", "no filter unless configured")
				assert.Equal(t, "200", q.Get("limit"))
				assert.Equal(t, qs[0].Get("maxtime"), q.Get("maxtime"), "maxtime stays fixed in the window")
				wantMin := qs[0].Get("mintime")
				if tt.wantMin[i] >= 0 {
					wantMin = fmt.Sprint(ms + tt.wantMin[i])
				}
				assert.Equal(t, wantMin, q.Get("mintime"), "mintime of request %d", i)
			}
		})
	}
}

// TestPullerTrustMonitorRestart checks that a cursor stored mid-window, in a
// burst, resumes with its offset, and that when Duo no longer takes the
// offset the sekeys stored with it keep the burst's delivered events from
// being delivered again.
func TestPullerTrustMonitorRestart(t *testing.T) {
	windowMin := testNow.Add(-time.Hour).UnixMilli()
	windowMax := testNow.Add(-3 * time.Minute).UnixMilli()
	ms := windowMin + 1000
	first := &scripted{t: t, steps: []http.HandlerFunc{
		reply(200, trustMonitorBody(trustMonitorEvents(200, ms, "burst"), "200")),
	}}
	p, _ := newTestPuller(t, first, []LogType{TrustMonitor}, map[LogType]Cursor{TrustMonitor: {WindowMin: windowMin, WindowMax: windowMax}}, nil)
	b, err := p.Next(t.Context())
	require.NoError(t, err)
	require.Len(t, b.Events, 200)
	stored, err := DecodeCursor(b.Cursor.Encode())
	require.NoError(t, err)
	assert.Equal(t, "200", stored.NextOffset)
	assert.Equal(t, ms, stored.Surfaced)
	assert.Len(t, stored.Seen, 200)
	assert.Equal(t, ms, stored.Position().UnixMilli())

	second := &scripted{t: t, steps: []http.HandlerFunc{
		reply(400, `{"code":40002,"message":"Invalid request parameters","stat":"FAIL"}`),
		reply(200, trustMonitorBody(trustMonitorEvents(225, ms, "burst"), "")),
	}}
	p, _ = newTestPuller(t, second, []LogType{TrustMonitor}, map[LogType]Cursor{TrustMonitor: stored}, nil)
	b, err = p.Next(t.Context())
	require.NoError(t, err)
	keys := sekeysOf(t, []Batch{b})
	assert.Equal(t, trustMonitorKeys(225, "burst")[200:], keys, "only the 25 not yet delivered")
	qs := second.queries()
	require.Len(t, qs, 2)
	assert.Equal(t, "200", qs[0].Get("offset"), "the restart resumes with the stored offset")
	assert.Equal(t, fmt.Sprint(windowMin), qs[0].Get("mintime"))
	assert.Equal(t, fmt.Sprint(ms), qs[1].Get("mintime"), "then reads on from the burst's millisecond")
	assert.Equal(t, fmt.Sprint(windowMax), qs[1].Get("maxtime"))
}

func trustMonitorKeys(n int, tag string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("SE%s-%03d", tag, i)
	}
	return out
}

func TestPullerTrustMonitorTypeFilter(t *testing.T) {
	s := &scripted{t: t, steps: []http.HandlerFunc{reply(200, trustMonitorBody(nil, ""))}}
	p, _ := newTestPuller(t, s, []LogType{TrustMonitor}, nil, func(c *PullerConfig) {
		c.TrustMonitorTypes = []string{"auth", "bypass_status"}
	})
	_, err := p.Next(t.Context())
	require.NoError(t, err)
	qs := s.queries()
	require.Len(t, qs, 1)
	assert.Equal(t, []string{"auth", "bypass_status"}, qs[0]["type"])
}

func TestPullerActivityPaging(t *testing.T) {
	windowMin := testNow.Add(-24*time.Hour - UnknownClockMargin).UnixMilli()
	ms := windowMin + 5000
	items := make([]string, 1000)
	for i := range items {
		items[i] = fmt.Sprintf(`{"activity_id":"a-%d","ts":"2026-05-31T12:00:05.000000+00:00","action":{"name":"user_update","details":null}}`, i)
	}
	s := &scripted{t: t, steps: []http.HandlerFunc{
		reply(200, v2Body("items", items, fmt.Sprintf(`"%d,a-999"`, ms))),
		reply(200, v2Body("items", items[:250], `null`)),
	}}
	p, _ := newTestPuller(t, s, []LogType{Activity}, nil, nil)
	var n int
	for range 2 {
		b, err := p.Next(t.Context())
		require.NoError(t, err)
		assert.Equal(t, PathActivityV2, b.Endpoint)
		n += len(b.Events)
	}
	assert.Equal(t, 1250, n)
	qs := s.queries()
	require.Len(t, qs, 2)
	for _, q := range qs {
		assert.Equal(t, "1000", q.Get("limit"))
		assert.Equal(t, "ts:asc", q.Get("sort"))
	}
	assert.Equal(t, fmt.Sprintf("%d,a-999", ms), qs[1].Get("next_offset"))
}

// TestPullerUnavailableLogType checks that an account without an endpoint
// gets an error naming the log type and the fix, retried at the pace of
// errors that need action, while the other log types go on.
func TestPullerUnavailableLogType(t *testing.T) {
	tests := []struct {
		name    string
		logType LogType
		status  int
		body    string
		want    string
	}{
		{"trust monitor forbidden", TrustMonitor, 403, `{"code":40301,"message":"Access forbidden","stat":"FAIL"}`, `drop "trust_monitor" from log_types`},
		{"activity not found", Activity, 404, `{"code":40401,"message":"Resource not found","stat":"FAIL"}`, `drop "activity" from log_types`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			refused := 0
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == logTypes[tt.logType].path {
					mu.Lock()
					refused++
					mu.Unlock()
					reply(tt.status, tt.body)(w, r)
					return
				}
				reply(200, v2Body("authlogs", authEvents(1, testNow.Add(-time.Hour).UnixMilli()), "null"))(w, r)
			})
			obs := &recordingObserver{}
			c := newTestClient(t, h, func(cfg *ClientConfig) { cfg.Observer = obs })
			p, err := NewPuller(c, PullerConfig{
				LogTypes:           []LogType{tt.logType, Authentication},
				Now:                movingClock(),
				Observer:           obs,
				ConfigErrorBackoff: Backoff{Initial: time.Hour, Max: time.Hour},
				Rand:               func() float64 { return 0.5 },
			}, nil)
			require.NoError(t, err)
			b, err := p.Next(t.Context())
			require.NoError(t, err)
			assert.Equal(t, Authentication, b.LogType, "authentication goes on")
			assert.Len(t, b.Events, 1)

			require.Len(t, obs.retries, 1)
			var unavailable *UnavailableError
			require.True(t, errors.As(obs.retries[0], &unavailable), "%v", obs.retries[0])
			assert.Equal(t, tt.logType, unavailable.LogType)
			assert.Contains(t, obs.retries[0].Error(), tt.want)
			assert.Equal(t, FailureNeedsAction, Classify(obs.retries[0]))
			mu.Lock()
			assert.Equal(t, 1, refused, "retried only after the backoff for errors that need action")
			mu.Unlock()
		})
	}
}

// TestPageTrustMonitorPosition checks the position a Trust Monitor page
// leaves: it never moves back, and events Duo sends outside the window asked
// for, out of order or without a readable key are delivered without moving
// it.
func TestPageTrustMonitorPosition(t *testing.T) {
	cur := Cursor{WindowMin: 1000, WindowMax: 2000, NextOffset: "7", Surfaced: 1500, Seen: []string{"SEa"}}
	tests := []struct {
		name     string
		events   []string
		wantOut  int
		wantDups int
		wantAt   int64
		wantSeen []string
	}{
		{"a later event moves it", []string{`{"sekey":"SEb","surfaced_timestamp":1600}`}, 1, 0, 1600, []string{"SEb"}},
		{"a new sekey of the same millisecond joins it", []string{`{"sekey":"SEb","surfaced_timestamp":1500}`}, 1, 0, 1500, []string{"SEa", "SEb"}},
		{"a delivered sekey is dropped", []string{`{"sekey":"SEa","surfaced_timestamp":1500}`}, 0, 1, 1500, []string{"SEa"}},
		{"an event after the window does not move it", []string{`{"sekey":"SEx","surfaced_timestamp":5000}`}, 1, 0, 1500, []string{"SEa"}},
		{"an event before the window does not move it", []string{`{"sekey":"SEx","surfaced_timestamp":10}`}, 1, 0, 1500, []string{"SEa"}},
		{"an earlier event does not move it back", []string{`{"sekey":"SEx","surfaced_timestamp":1200}`}, 1, 0, 1500, []string{"SEa"}},
		{"an unreadable event does not move it", []string{`{"sekey":"SEx","surfaced_timestamp":"soon"}`}, 1, 0, 1500, []string{"SEa"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var events []json.RawMessage
			for _, e := range tt.events {
				events = append(events, json.RawMessage(e))
			}
			out, read, dups := pageTrustMonitor(cur, events)
			assert.Len(t, out, tt.wantOut)
			assert.Equal(t, tt.wantDups, dups)
			assert.Equal(t, tt.wantAt, read.Surfaced)
			assert.Equal(t, tt.wantSeen, read.Seen)
		})
	}
}

func TestDecodeCursorRefusesImpossibleTrustMonitorStates(t *testing.T) {
	for _, c := range []Cursor{
		{WindowMin: 10, Surfaced: 20},                         // past the start of a window not begun
		{WindowMin: 10, WindowMax: 20, Surfaced: 30},          // after its window
		{WindowMin: 10, WindowMax: 20, Seen: []string{"SE1"}}, // sekeys of no millisecond
	} {
		_, err := DecodeCursor(c.Encode())
		assert.Error(t, err, "%+v", c)
	}
	_, err := DecodeCursor(Cursor{WindowMin: 10, Surfaced: 10, Seen: []string{"SE1"}}.Encode())
	assert.NoError(t, err, "a window read on from its surfaced millisecond")
}

func TestPullerDefaultLogTypes(t *testing.T) {
	p, _ := newTestPuller(t, &scripted{t: t}, nil, nil, nil)
	var got []LogType
	for _, s := range p.accounts[0].streams {
		got = append(got, s.id.LogType)
	}
	assert.Equal(t, PantherLogTypes, got, "the four Panther's Duo source reads")
}
