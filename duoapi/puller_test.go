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
	// The first window is reckoned on Duo's clock, which is not known
	// before the first response: UnknownClockMargin behind this one.
	windowMin := testNow.Add(-24*time.Hour - UnknownClockMargin).UnixMilli()
	windowMax := testNow.Add(-2*time.Minute - UnknownClockMargin).UnixMilli()
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
	// An empty page says Duo has nothing from its mintime on, so the
	// cursor moves on to the availability edge: the lag before Duo's clock
	// as the response showed it, less ClockMargin.
	edge := testNow.Add(-2*time.Minute - ClockMargin).Unix()
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
			name:         "empty page moves on to the availability edge",
			start:        Cursor{MinTime: T},
			steps:        []http.HandlerFunc{reply(200, v1Body())},
			wantCounts:   []int{0},
			wantMinTimes: []int64{edge},
			wantSeen:     []int{0},
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
				// The edge follows the test's moving clock: allow a few
				// seconds of runtime and Date's whole seconds.
				assert.InDelta(t, tt.wantMinTimes[i], b.Cursor.MinTime, 3, "MinTime after batch %d", i)
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
	assert.Empty(t, qs[2].Get("next_offset"), "the window is read on without the offset")
	assert.Equal(t, strconv.FormatInt(ms, 10), qs[2].Get("mintime"), "from the offset's millisecond, not the window's start")
	assert.Equal(t, qs[0].Get("maxtime"), qs[2].Get("maxtime"), "in the same window")
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
		assert.Greater(t, mt, testNow.Add(-Retention).Unix(), "within Duo's retention")
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
		{"unknown type", PullerConfig{LogTypes: []LogType{"audit"}}, `unknown log type "audit"`},
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
	_, err := ParseLogType("audit")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "authentication, administrator, telephony, offline_enrollment, activity, trust_monitor")
	_ = url.Values{}
}

func contextWithTimeout(t *testing.T, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), d)
}

// datedReply is reply with a Date header skew ahead of this machine's clock
// (behind when negative), as Duo's would be on a clock that differs.
func datedReply(skew time.Duration, status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Now().Add(skew).UTC().Format(http.TimeFormat))
		reply(status, body)(w, r)
	}
}

// TestPullerReckonsDuoClock checks that windows end the availability lag
// before Duo's clock, as read from its Date header, not this machine's: a
// machine whose clock is fast must not ask for events Duo does not show yet,
// which it would then never ask for again.
func TestPullerReckonsDuoClock(t *testing.T) {
	tests := []struct {
		name string
		skew time.Duration // Duo's clock ahead of this machine's
		// wantLead is how far the second window's end is from this
		// machine's now minus the lag.
		wantLead time.Duration
	}{
		{"this machine 20s fast", -20 * time.Second, -20*time.Second - ClockMargin},
		{"this machine 50s fast", -50 * time.Second, -50*time.Second - ClockMargin},
		{"clocks agree", 0, -ClockMargin},
		{"this machine 20s slow", 20 * time.Second, 20*time.Second - ClockMargin},
		{"a Date far ahead is not believed", 10 * time.Minute, maxTrustedLead - ClockMargin},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scripted{t: t, steps: []http.HandlerFunc{
				datedReply(tt.skew, 200, v2Body("authlogs", nil, "null")),
				datedReply(tt.skew, 200, v2Body("authlogs", nil, "null")),
			}}
			clock := movingClock()
			p, obs := newTestPuller(t, s, []LogType{Authentication}, nil, func(c *PullerConfig) {
				c.Now = clock
				c.PollInterval = time.Second
			})
			for range 2 {
				_, err := p.Next(t.Context())
				require.NoError(t, err)
			}
			qs := s.queries()
			require.Len(t, qs, 2)
			first, err := strconv.ParseInt(qs[0].Get("maxtime"), 10, 64)
			require.NoError(t, err)
			second, err := strconv.ParseInt(qs[1].Get("maxtime"), 10, 64)
			require.NoError(t, err)
			edge := clock().Add(-2 * time.Minute)
			assert.InDelta(t, edge.Add(-UnknownClockMargin).UnixMilli(), first, 3000,
				"before any response the window keeps UnknownClockMargin in hand")
			assert.InDelta(t, edge.Add(tt.wantLead).UnixMilli(), second, 3000,
				"the window after a response ends the lag before Duo's clock")
			mintime, err := strconv.ParseInt(qs[1].Get("mintime"), 10, 64)
			require.NoError(t, err)
			assert.Equal(t, first+1, mintime, "windows follow each other without a gap")
			require.NotEmpty(t, obs.skews)
			assert.InDelta(t, tt.skew.Seconds(), obs.skews[0].Seconds(), 1.5, "the skew is reported")
		})
	}
}

// TestPullerRefusesOffsetsThatDoNotAdvance checks that a next_offset that
// repeats, goes backwards or cycles, or one Duo keeps rejecting, is not
// followed forever: the puller reads on from the offset's millisecond once,
// then moves past it, so a broken page never repeats endlessly.
func TestPullerRefusesOffsetsThatDoNotAdvance(t *testing.T) {
	ms := testNow.Add(-time.Hour).UnixMilli()
	off := func(ms int64, id string) string { return fmt.Sprintf(`["%d","%s"]`, ms, id) }
	page := func(n int, ms int64, next string) http.HandlerFunc {
		return reply(200, v2Body("authlogs", authEvents(n, ms), next))
	}
	rejected := reply(400, `{"code":40002,"message":"Invalid request parameters","message_detail":"next_offset","stat":"FAIL"}`)
	last := page(3, ms+5, "null")
	tests := []struct {
		name        string
		steps       []http.HandlerFunc
		wantStalls  int // OffsetStalled reports
		wantResets  int // CursorReset reports
		wantSkipped bool
		// wantMintimes are the requests' mintime offsets from ms (-1: the
		// window's start); wantOffsets their next_offset.
		wantMintimes []int64
		wantOffsets  []string
	}{
		{
			name: "a repeated offset",
			steps: []http.HandlerFunc{
				page(1000, ms, off(ms, "x")),
				page(1000, ms, off(ms, "x")), // stalled: read on from ms
				page(1000, ms, off(ms, "x")), // a new window: followed once
				page(1000, ms, off(ms, "x")), // stalled again: past ms
				last,
			},
			wantStalls: 2, wantSkipped: true,
			wantMintimes: []int64{-1, -1, 0, 0, 1},
			wantOffsets:  []string{"", fmt.Sprintf("%d,x", ms), "", fmt.Sprintf("%d,x", ms), ""},
		},
		{
			name: "an offset going backwards",
			steps: []http.HandlerFunc{
				page(1000, ms, off(ms, "x")),
				page(1000, ms, off(ms-10, "y")), // stalled: read on from ms
				last,
			},
			wantStalls:   1,
			wantMintimes: []int64{-1, -1, 0},
			wantOffsets:  []string{"", fmt.Sprintf("%d,x", ms), ""},
		},
		{
			name: "offsets cycling in one millisecond",
			steps: []http.HandlerFunc{
				page(1000, ms, off(ms, "a")),
				page(1000, ms, off(ms, "b")), // a new offset in ms: followed
				page(1000, ms, off(ms, "a")), // back to a: stalled
				last,
			},
			wantStalls:   1,
			wantMintimes: []int64{-1, -1, -1, 0},
			wantOffsets:  []string{"", fmt.Sprintf("%d,a", ms), fmt.Sprintf("%d,b", ms), ""},
		},
		{
			name: "an offset Duo keeps rejecting",
			steps: []http.HandlerFunc{
				page(1000, ms, off(ms, "x")),
				rejected,                     // read on from ms without it
				page(1000, ms, off(ms, "x")), // the same offset again
				rejected,                     // rejected again: past ms
				last,
			},
			wantResets: 2, wantSkipped: true,
			wantMintimes: []int64{-1, -1, 0, 0, 1},
			wantOffsets:  []string{"", fmt.Sprintf("%d,x", ms), "", fmt.Sprintf("%d,x", ms), ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scripted{t: t, steps: tt.steps}
			p, obs := newTestPuller(t, s, []LogType{Authentication}, nil, nil)
			ctx, cancel := contextWithTimeout(t, 5*time.Second)
			defer cancel()
			for {
				b, err := p.Next(ctx)
				require.NoError(t, err)
				if len(b.Events) == 3 {
					break // the last page
				}
			}
			qs := s.queries()
			require.Len(t, qs, len(tt.wantMintimes), "requests")
			windowStart := qs[0].Get("mintime")
			for i, q := range qs {
				want := windowStart
				if tt.wantMintimes[i] >= 0 {
					want = strconv.FormatInt(ms+tt.wantMintimes[i], 10)
				}
				assert.Equal(t, want, q.Get("mintime"), "mintime of request %d", i)
				assert.Equal(t, tt.wantOffsets[i], q.Get("next_offset"), "next_offset of request %d", i)
				assert.Equal(t, qs[0].Get("maxtime"), q.Get("maxtime"), "request %d stays in the window", i)
			}
			assert.Len(t, obs.stalls, tt.wantStalls, "offset stalls reported")
			assert.Equal(t, tt.wantResets, obs.resets, "rejected offsets reported")
			if tt.wantStalls > 0 {
				last := obs.stalls[len(obs.stalls)-1]
				assert.Equal(t, tt.wantSkipped, last.skipped)
				assert.NotEmpty(t, last.got, "the report says what was seen")
			}
		})
	}
}

// TestPullerLongLookbackKeepsItsWindow checks that a first window reaching
// back the longest initial lookback (179 days) is paged to its end: its start
// is not moved again on every request, which would drop next_offset and read
// the first page forever.
func TestPullerLongLookbackKeepsItsWindow(t *testing.T) {
	ms := testNow.Add(-170 * 24 * time.Hour).UnixMilli()
	s := &scripted{t: t, steps: []http.HandlerFunc{
		reply(200, v2Body("authlogs", authEvents(1000, ms), fmt.Sprintf(`["%d","a"]`, ms))),
		reply(200, v2Body("authlogs", authEvents(1000, ms+1), fmt.Sprintf(`["%d","b"]`, ms+1))),
		reply(200, v2Body("authlogs", authEvents(10, ms+2), "null")),
	}}
	p, obs := newTestPuller(t, s, []LogType{Authentication}, nil, func(c *PullerConfig) {
		c.InitialLookback = MaxLookback
	})
	ctx, cancel := contextWithTimeout(t, 5*time.Second)
	defer cancel()
	total := 0
	for total < 2010 {
		b, err := p.Next(ctx)
		require.NoError(t, err)
		total += len(b.Events)
	}
	qs := s.queries()
	require.Len(t, qs, 3)
	for i, q := range qs {
		assert.Equal(t, qs[0].Get("mintime"), q.Get("mintime"), "request %d keeps the window's start", i)
	}
	assert.Equal(t, fmt.Sprintf("%d,a", ms), qs[1].Get("next_offset"))
	assert.Equal(t, fmt.Sprintf("%d,b", ms+1), qs[2].Get("next_offset"))
	assert.Zero(t, obs.clamped, "nothing older than Duo's retention was asked for, so nothing is reported lost")
}

// TestPullerWindowOutlivingRetention checks a window whose paging took so
// long that its start is about to leave Duo's 180 days: the puller reads on
// from where the offset stands, reporting lost events only when the offset
// itself is past the edge.
func TestPullerWindowOutlivingRetention(t *testing.T) {
	edge := testNow.Add(-Retention)
	tests := []struct {
		name        string
		read        time.Time // where the offset stands
		wantClamped int
	}{
		{"the offset is well inside", edge.Add(12 * time.Hour), 0},
		{"the offset is past the edge too", edge.Add(-time.Hour), 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := edge.Add(-2 * time.Hour)
			s := &scripted{t: t, steps: []http.HandlerFunc{reply(200, v2Body("authlogs", authEvents(2, tt.read.UnixMilli()+5), "null"))}}
			p, obs := newTestPuller(t, s, []LogType{Authentication}, map[LogType]Cursor{Authentication: {
				WindowMin: start.UnixMilli(), WindowMax: testNow.Add(-time.Hour).UnixMilli(),
				NextOffset: fmt.Sprintf("%d,x", tt.read.UnixMilli()),
			}}, nil)
			_, err := p.Next(t.Context())
			require.NoError(t, err)
			qs := s.queries()
			require.Len(t, qs, 1)
			mintime, err := strconv.ParseInt(qs[0].Get("mintime"), 10, 64)
			require.NoError(t, err)
			assert.Greater(t, mintime, edge.UnixMilli(), "within Duo's retention")
			assert.GreaterOrEqual(t, mintime, min(tt.read.UnixMilli(), mintime), "nothing unread before the offset is asked for again")
			if tt.wantClamped == 0 {
				assert.Equal(t, tt.read.UnixMilli(), mintime, "from the offset's millisecond")
			}
			assert.Empty(t, qs[0].Get("next_offset"))
			assert.Equal(t, tt.wantClamped, obs.clamped)
		})
	}
}

// TestPullerQuietV1LogNearRetention checks that an empty administrator log
// whose start is 179 days back is not reported as losing events on every
// poll: its position moves on to the availability edge instead.
func TestPullerQuietV1LogNearRetention(t *testing.T) {
	s := &scripted{t: t, steps: []http.HandlerFunc{reply(200, v1Body()), reply(200, v1Body()), reply(200, v1Body())}}
	p, obs := newTestPuller(t, s, []LogType{Administrator}, nil, func(c *PullerConfig) {
		c.InitialLookback = MaxLookback
		c.PollInterval = time.Second
	})
	var positions []time.Time
	for range 3 {
		b, err := p.Next(t.Context())
		require.NoError(t, err)
		positions = append(positions, b.Cursor.Position())
	}
	assert.Zero(t, obs.clamped, "no loss reported")
	assert.WithinDuration(t, testNow.Add(-2*time.Minute-ClockMargin), positions[0], 3*time.Second)
	assert.True(t, positions[2].After(positions[0]), "the position keeps up with time")
}
