// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// movingClock starts at testNow and follows the wall clock from there.
func movingClock() func() time.Time {
	start := time.Now()
	return func() time.Time { return testNow.Add(time.Since(start)) }
}

func authEvents(n int, ms int64) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"txid":"tx-%d-%d","timestamp":%d,"isotimestamp":"%s"}`,
			ms, i, ms/1000, time.UnixMilli(ms).UTC().Format(time.RFC3339Nano))
	}
	return out
}

func v2Body(itemsKey string, events []string, nextOffset string) string {
	return fmt.Sprintf(`{"stat":"OK","response":{%q:[%s],"metadata":{"next_offset":%s,"total_objects":%d}}}`,
		itemsKey, strings.Join(events, ","), nextOffset, len(events))
}

func adminEvents(n int, second int64, tag string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"action":"user_update","timestamp":%d,"username":"admin","object":"%s-%d"}`, second, tag, i)
	}
	return out
}

func v1Body(events ...[]string) string {
	var all []string
	for _, e := range events {
		all = append(all, e...)
	}
	return `{"stat":"OK","response":[` + strings.Join(all, ",") + `]}`
}

func newTestPuller(t *testing.T, s *scripted, types []LogType, start map[LogType]Cursor, mod func(*PullerConfig)) (*Puller, *recordingObserver) {
	t.Helper()
	obs := &recordingObserver{}
	c := newTestClient(t, s, func(cfg *ClientConfig) { cfg.Observer = obs })
	cfg := PullerConfig{
		LogTypes:           types,
		Now:                movingClock(),
		Observer:           obs,
		ErrorBackoff:       Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond},
		RateLimitBackoff:   Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond},
		ConfigErrorBackoff: Backoff{Initial: time.Millisecond, Max: 2 * time.Millisecond},
		Rand:               func() float64 { return 0.5 },
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := NewPuller(c, cfg, start)
	require.NoError(t, err)
	return p, obs
}

func eventCount(b Batch) int { return len(b.Events) }

func TestPullerV2Paging(t *testing.T) {
	windowMin := testNow.Add(-24 * time.Hour).UnixMilli()
	windowMax := testNow.Add(-2 * time.Minute).UnixMilli()
	ms := windowMin + 5000
	tests := []struct {
		name        string
		logType     LogType
		steps       []http.HandlerFunc
		wantCounts  []int
		wantCursors []Cursor
		wantOffsets []string // next_offset sent with each request ("" = none)
	}{
		{
			name:        "empty window",
			logType:     Authentication,
			steps:       []http.HandlerFunc{reply(200, v2Body("authlogs", nil, "null"))},
			wantCounts:  []int{0},
			wantCursors: []Cursor{{WindowMin: windowMax + 1}},
			wantOffsets: []string{""},
		},
		{
			name:    "exactly 1000 then the end, next_offset null",
			logType: Authentication,
			steps: []http.HandlerFunc{
				reply(200, v2Body("authlogs", authEvents(1000, ms), fmt.Sprintf(`["%d","tx-%d-999"]`, ms, ms))),
				reply(200, v2Body("authlogs", nil, "null")),
			},
			wantCounts: []int{1000, 0},
			wantCursors: []Cursor{
				{WindowMin: windowMin, WindowMax: windowMax, NextOffset: fmt.Sprintf("%d,tx-%d-999", ms, ms)},
				{WindowMin: windowMax + 1},
			},
			wantOffsets: []string{"", fmt.Sprintf("%d,tx-%d-999", ms, ms)},
		},
		{
			name:    "many events in one millisecond across pages, next_offset absent at the end",
			logType: Authentication,
			steps: []http.HandlerFunc{
				reply(200, v2Body("authlogs", authEvents(1000, ms), fmt.Sprintf(`["%d","tx-%d-999"]`, ms, ms))),
				reply(200, `{"stat":"OK","response":{"authlogs":[`+strings.Join(authEvents(7, ms), ",")+`],"metadata":{"total_objects":1007}}}`),
			},
			wantCounts: []int{1000, 7},
			wantCursors: []Cursor{
				{WindowMin: windowMin, WindowMax: windowMax, NextOffset: fmt.Sprintf("%d,tx-%d-999", ms, ms)},
				{WindowMin: windowMax + 1},
			},
			wantOffsets: []string{"", fmt.Sprintf("%d,tx-%d-999", ms, ms)},
		},
		{
			name:    "telephony v2 string offset",
			logType: Telephony,
			steps: []http.HandlerFunc{
				reply(200, v2Body("items", []string{`{"telephony_id":"t1","ts":"2026-05-31T12:00:05.000000+00:00"}`}, fmt.Sprintf(`"%d,t1"`, ms))),
				reply(200, v2Body("items", nil, `null`)),
			},
			wantCounts: []int{1, 0},
			wantCursors: []Cursor{
				{WindowMin: windowMin, WindowMax: windowMax, NextOffset: fmt.Sprintf("%d,t1", ms)},
				{WindowMin: windowMax + 1},
			},
			wantOffsets: []string{"", fmt.Sprintf("%d,t1", ms)},
		},
		{
			name:    "offset on an empty page is the end",
			logType: Authentication,
			steps: []http.HandlerFunc{
				reply(200, v2Body("authlogs", nil, fmt.Sprintf(`["%d","x"]`, ms))),
			},
			wantCounts:  []int{0},
			wantCursors: []Cursor{{WindowMin: windowMax + 1}},
			wantOffsets: []string{""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scripted{t: t, steps: tt.steps}
			p, _ := newTestPuller(t, s, []LogType{tt.logType}, nil, nil)
			for i := range tt.wantCounts {
				b, err := p.Next(t.Context())
				require.NoError(t, err)
				assert.Equal(t, tt.wantCounts[i], eventCount(b), "events of batch %d", i)
				// The window end is taken from the moving clock: compare
				// within the test's runtime.
				assertCursorNear(t, tt.wantCursors[i], b.Cursor, "cursor after batch %d", i)
			}
			qs := s.queries()
			require.Len(t, qs, len(tt.wantOffsets))
			for i, q := range qs {
				assert.Equal(t, tt.wantOffsets[i], q.Get("next_offset"), "next_offset of request %d", i)
				assert.Equal(t, "1000", q.Get("limit"))
				assert.Equal(t, "ts:asc", q.Get("sort"))
				assert.Len(t, q.Get("mintime"), 13, "mintime is in milliseconds")
				// mintime and maxtime stay fixed while following next_offset.
				assert.Equal(t, qs[0].Get("mintime"), q.Get("mintime"))
				assert.Equal(t, qs[0].Get("maxtime"), q.Get("maxtime"))
			}
		})
	}
}

func assertCursorNear(t *testing.T, want, got Cursor, msg string, args ...any) {
	t.Helper()
	const slack = 2000 // ms of test runtime on the moving clock
	near := func(a, b int64) bool { return a-b <= slack && b-a <= slack }
	if !near(want.WindowMin, got.WindowMin) || !near(want.WindowMax, got.WindowMax) || want.NextOffset != got.NextOffset ||
		want.MinTime != got.MinTime {
		t.Errorf(msg+": got %+v, want %+v", append(args, got, want)...)
	}
}

func TestPullerV1Paging(t *testing.T) {
	T := testNow.Add(-time.Hour).Unix()
	tests := []struct {
		name         string
		start        Cursor
		steps        []http.HandlerFunc
		wantCounts   []int
		wantMinTimes []int64 // cursor MinTime after each batch
		wantSeen     []int   // len(cursor.Seen) after each batch
		wantRequests []int64 // mintime of each request
		wantDups     int
		wantOverflow int
	}{
		{
			name:         "empty page",
			start:        Cursor{MinTime: T},
			steps:        []http.HandlerFunc{reply(200, v1Body())},
			wantCounts:   nil, // nothing changes: Next keeps waiting
			wantRequests: []int64{T},
		},
		{
			name:         "fewer than 1000: caught up at the last second",
			start:        Cursor{MinTime: T},
			steps:        []http.HandlerFunc{reply(200, v1Body(adminEvents(3, T, "a"), adminEvents(2, T+7, "b")))},
			wantCounts:   []int{5},
			wantMinTimes: []int64{T + 7},
			wantSeen:     []int{2},
			wantRequests: []int64{T},
		},
		{
			name:  "a second split across the 1000 boundary",
			start: Cursor{MinTime: T},
			steps: []http.HandlerFunc{
				reply(200, v1Body(adminEvents(990, T, "a"), adminEvents(10, T+1, "b"))),
				// Asked again from T+1: the 10 already delivered, then 5 more of T+1.
				reply(200, v1Body(adminEvents(10, T+1, "b"), adminEvents(15, T+1, "c")[10:], adminEvents(4, T+2, "d"))),
			},
			wantCounts:   []int{1000, 9},
			wantMinTimes: []int64{T + 1, T + 2},
			wantSeen:     []int{10, 4},
			wantRequests: []int64{T, T + 1},
			wantDups:     10,
		},
		{
			name:  "exactly 1000 ending on a whole second",
			start: Cursor{MinTime: T},
			steps: []http.HandlerFunc{
				reply(200, v1Body(adminEvents(500, T, "a"), adminEvents(500, T+1, "b"))),
				reply(200, v1Body(adminEvents(500, T+1, "b"))),
			},
			wantCounts:   []int{1000},
			wantMinTimes: []int64{T + 1},
			wantSeen:     []int{500},
			wantRequests: []int64{T, T + 1},
			wantDups:     500,
		},
		{
			name:  "a whole page in one second moves past it",
			start: Cursor{MinTime: T},
			steps: []http.HandlerFunc{
				reply(200, v1Body(adminEvents(1000, T, "a"))),
				reply(200, v1Body(adminEvents(1, T+1, "b"))),
			},
			wantCounts:   []int{1000, 1},
			wantMinTimes: []int64{T + 1, T + 1},
			wantSeen:     []int{0, 1},
			wantRequests: []int64{T, T + 1},
			wantOverflow: 1,
		},
		{
			name:  "restart inside a second drops what was delivered",
			start: Cursor{MinTime: T, Seen: []string{hashEvent(json.RawMessage(adminEvents(2, T, "a")[0])), hashEvent(json.RawMessage(adminEvents(2, T, "a")[1]))}},
			steps: []http.HandlerFunc{
				reply(200, v1Body(adminEvents(3, T, "a"))),
			},
			wantCounts:   []int{1},
			wantMinTimes: []int64{T},
			wantSeen:     []int{3},
			wantRequests: []int64{T},
			wantDups:     2,
		},
		{
			name:  "identical events in one second are all delivered",
			start: Cursor{MinTime: T},
			steps: []http.HandlerFunc{
				reply(200, v1Body(adminEvents(1, T, "twin"), adminEvents(1, T, "twin"), adminEvents(1, T, "twin"), adminEvents(1, T+1, "b"))),
			},
			wantCounts:   []int{4},
			wantMinTimes: []int64{T + 1},
			wantSeen:     []int{1},
			wantRequests: []int64{T},
		},
		{
			name:  "identical events split across the 1000 boundary",
			start: Cursor{MinTime: T},
			steps: []http.HandlerFunc{
				reply(200, v1Body(adminEvents(998, T, "a"), adminEvents(1, T+1, "twin"), adminEvents(1, T+1, "twin"))),
				reply(200, v1Body(adminEvents(1, T+1, "twin"), adminEvents(1, T+1, "twin"), adminEvents(1, T+1, "twin"))),
			},
			wantCounts:   []int{1000, 1},
			wantMinTimes: []int64{T + 1, T + 1},
			wantSeen:     []int{2, 3},
			wantRequests: []int64{T, T + 1},
			wantDups:     2,
		},
		{
			name:  "events newer than the availability lag are held back",
			start: Cursor{MinTime: T},
			steps: []http.HandlerFunc{
				reply(200, v1Body(adminEvents(2, T, "a"), adminEvents(2, testNow.Add(-30*time.Second).Unix(), "new"))),
			},
			wantCounts:   []int{2},
			wantMinTimes: []int64{T},
			wantSeen:     []int{2},
			wantRequests: []int64{T},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scripted{t: t, steps: tt.steps}
			obs := &recordingObserver{}
			p, _ := newTestPuller(t, s, []LogType{Administrator}, map[LogType]Cursor{Administrator: tt.start}, func(c *PullerConfig) {
				c.Observer = obs
				c.PollInterval = time.Hour
			})
			for i := range tt.wantCounts {
				b, err := p.Next(t.Context())
				require.NoError(t, err)
				assert.Equal(t, tt.wantCounts[i], eventCount(b), "events of batch %d", i)
				assert.Equal(t, tt.wantMinTimes[i], b.Cursor.MinTime, "MinTime after batch %d", i)
				assert.Len(t, b.Cursor.Seen, tt.wantSeen[i], "Seen after batch %d", i)
			}
			// Let any remaining scripted step run, then stop waiting.
			ctx, cancel := contextWithTimeout(t, 300*time.Millisecond)
			defer cancel()
			_, err := p.Next(ctx)
			require.Error(t, err, "no more batches expected")
			var got []int64
			for _, q := range s.queries() {
				n, err := strconv.ParseInt(q.Get("mintime"), 10, 64)
				require.NoError(t, err)
				got = append(got, n)
			}
			assert.Equal(t, tt.wantRequests, got, "mintime of each request")
			assert.Equal(t, tt.wantDups, obs.dups, "boundary duplicates dropped")
			assert.Len(t, obs.overflow, tt.wantOverflow, "second overflows")
		})
	}
}

func TestPullerRetriesWithoutLosingPlace(t *testing.T) {
	ms := testNow.Add(-time.Hour).UnixMilli()
	s := &scripted{t: t, steps: []http.HandlerFunc{
		reply(200, v2Body("authlogs", authEvents(1000, ms), fmt.Sprintf(`["%d","tx-%d-999"]`, ms, ms))),
		reply(500, `{"code":50001,"message":"Unknown internal server error","stat":"FAIL"}`),
		reply(429, `{"code":42901,"message":"Too Many Requests","stat":"FAIL"}`),
		reply(200, `{"stat":"OK","response":{"authlogs":[{"txid":"a"`), // truncated
		reply(200, v2Body("authlogs", authEvents(2, ms+1), "null")),
	}}
	p, obs := newTestPuller(t, s, []LogType{Authentication}, nil, nil)
	b, err := p.Next(t.Context())
	require.NoError(t, err)
	require.Len(t, b.Events, 1000)
	b, err = p.Next(t.Context())
	require.NoError(t, err)
	assert.Len(t, b.Events, 2)
	assert.Len(t, obs.retries, 3)
	qs := s.queries()
	require.Len(t, qs, 5)
	for _, q := range qs[1:] {
		assert.Equal(t, fmt.Sprintf("%d,tx-%d-999", ms, ms), q.Get("next_offset"), "every retry asks for the same page")
	}
}

func TestPullerResetsRejectedOffset(t *testing.T) {
	ms := testNow.Add(-time.Hour).UnixMilli()
	s := &scripted{t: t, steps: []http.HandlerFunc{
		reply(200, v2Body("authlogs", authEvents(1000, ms), fmt.Sprintf(`["%d","tx-%d-999"]`, ms, ms))),
		reply(400, `{"code":40002,"message":"Invalid request parameters","message_detail":"next_offset","stat":"FAIL"}`),
		reply(200, v2Body("authlogs", authEvents(3, ms), "null")),
	}}
	p, obs := newTestPuller(t, s, []LogType{Authentication}, nil, nil)
	_, err := p.Next(t.Context())
	require.NoError(t, err)
	b, err := p.Next(t.Context())
	require.NoError(t, err)
	assert.Len(t, b.Events, 3)
	assert.Equal(t, 1, obs.resets)
	qs := s.queries()
	require.Len(t, qs, 3)
	assert.Empty(t, qs[2].Get("next_offset"), "the window is read again from its start")
	assert.Equal(t, qs[0].Get("mintime"), qs[2].Get("mintime"))
}

func TestPullerTakesTurns(t *testing.T) {
	ms := testNow.Add(-time.Hour).UnixMilli()
	T := testNow.Add(-time.Hour).Unix()
	var order []string
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		order = append(order, r.URL.Path)
		switch r.URL.Path {
		case PathAuthenticationV2:
			reply(200, v2Body("authlogs", authEvents(1000, ms), fmt.Sprintf(`["%d","x"]`, ms)))(w, r) // endless backfill
		default:
			reply(200, v1Body(adminEvents(1, T, "a")))(w, r)
		}
	})
	obs := &recordingObserver{}
	c := newTestClient(t, handler, func(cfg *ClientConfig) { cfg.Observer = obs })
	p, err := NewPuller(c, PullerConfig{LogTypes: []LogType{Authentication, Administrator, OfflineEnrollment}, Now: movingClock()}, nil)
	require.NoError(t, err)
	for range 5 {
		_, err := p.Next(t.Context())
		require.NoError(t, err)
	}
	assert.Equal(t, []string{PathAuthenticationV2, PathAdministratorV1, PathOfflineEnrollmentV1, PathAuthenticationV2, PathAuthenticationV2}, order,
		"each type gets its turn; the caught-up v1 types wait for the poll interval")
}

func TestPullerClampsOldCursor(t *testing.T) {
	old := testNow.Add(-200 * 24 * time.Hour)
	s := &scripted{t: t, steps: []http.HandlerFunc{
		reply(200, v2Body("authlogs", nil, "null")),
		reply(200, v1Body(adminEvents(1, testNow.Add(-100*24*time.Hour).Unix(), "a"))),
	}}
	p, obs := newTestPuller(t, s, []LogType{Authentication, Administrator}, map[LogType]Cursor{
		Authentication: {WindowMin: old.UnixMilli(), WindowMax: old.Add(time.Hour).UnixMilli(), NextOffset: "1,a"},
		Administrator:  {MinTime: old.Unix()},
	}, nil)
	for range 2 {
		_, err := p.Next(t.Context())
		require.NoError(t, err)
	}
	assert.Equal(t, 2, obs.clamped)
	for _, q := range s.queries() {
		mt, err := strconv.ParseInt(q.Get("mintime"), 10, 64)
		require.NoError(t, err)
		if len(q.Get("mintime")) == 13 {
			mt /= 1000
		}
		assert.GreaterOrEqual(t, mt, testNow.Add(-MaxLookback).Unix())
		assert.Empty(t, q.Get("next_offset"))
	}
}

func TestPullerSwitchingTelephonyVersionKeepsPlace(t *testing.T) {
	T := testNow.Add(-time.Hour)
	s := &scripted{t: t, steps: []http.HandlerFunc{reply(200, v1Body())}}
	p, _ := newTestPuller(t, s, []LogType{Telephony}, map[LogType]Cursor{
		Telephony: {WindowMin: T.UnixMilli()},
	}, func(c *PullerConfig) { c.TelephonyV1 = true })
	ctx, cancel := contextWithTimeout(t, 200*time.Millisecond)
	defer cancel()
	_, _ = p.Next(ctx)
	require.Len(t, s.queries(), 1)
	assert.Equal(t, strconv.FormatInt(T.Unix(), 10), s.queries()[0].Get("mintime"))
	assert.Equal(t, PathTelephonyV1, s.requests[0].URL.Path)
}

func TestNewPullerValidation(t *testing.T) {
	c, err := NewClient(ClientConfig{APIHostname: testHost, IntegrationKey: testIKey, SecretKey: testSKey})
	require.NoError(t, err)
	tests := []struct {
		name string
		cfg  PullerConfig
		want string
	}{
		{"lookback too long", PullerConfig{InitialLookback: 180 * 24 * time.Hour}, "longer than"},
		{"poll too short", PullerConfig{PollInterval: time.Millisecond}, "shorter than"},
		{"duplicate type", PullerConfig{LogTypes: []LogType{Authentication, Authentication}}, "listed twice"},
		{"unknown type", PullerConfig{LogTypes: []LogType{"activity"}}, `unknown log type "activity"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewPuller(c, tt.cfg, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: time.Second, Max: 10 * time.Second}
	tests := []struct {
		failures int
		rnd      float64
		want     time.Duration
	}{
		{1, 0, 500 * time.Millisecond},
		{1, 0.999999, time.Second - time.Microsecond},
		{2, 0, time.Second},
		{3, 0.5, 3 * time.Second},
		{4, 0, 4 * time.Second},
		{5, 0, 5 * time.Second},
		{50, 0, 5 * time.Second},
	}
	for _, tt := range tests {
		got := b.Delay(tt.failures, tt.rnd)
		assert.InDelta(t, tt.want, got, float64(time.Millisecond), "Delay(%d, %v)", tt.failures, tt.rnd)
	}
}

func TestParseLogType(t *testing.T) {
	for _, lt := range AllLogTypes {
		got, err := ParseLogType(string(lt))
		require.NoError(t, err)
		assert.Equal(t, lt, got)
		assert.True(t, strings.HasPrefix(lt.SchemaName(), "Duo."))
	}
	_, err := ParseLogType("activity")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "authentication, administrator, telephony, offline_enrollment")
	_ = url.Values{}
}

func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), d)
}
