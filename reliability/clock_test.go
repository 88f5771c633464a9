// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// Settings of TestClockSkew.
const (
	clockSkewHostAhead = 20 * time.Second // this machine's clock is this far ahead of Duo's
	clockSkewLag       = 5 * time.Second  // Duo's availability lag, and the input's
	clockSkewLive      = 40 * time.Second // how long live events are added
)

// clockSkewRates are the live events a second of TestClockSkew.
var clockSkewRates = map[duoapi.LogType]float64{
	duoapi.Authentication:    40,
	duoapi.Telephony:         20,
	duoapi.Administrator:     10,
	duoapi.OfflineEnrollment: 5,
}

var skewWarningLine = regexp.MustCompile(`This machine's clock is (\d+)s ahead of Duo's`)

// TestClockSkew runs duostream on a machine whose clock is 20 s ahead of
// Duo's, against live events of every log type. A window that ended at this
// machine's clock minus the availability lag would reach 20 s past what Duo
// shows, and the events of those 20 s, which Duo shows only later, would
// never be asked for again. Windows reckoned on Duo's clock (read from its
// Date header) lose nothing: every live event is delivered exactly once,
// duo_clock_skew_seconds reads about -20, and a warning says the clock is
// ahead.
func TestClockSkew(t *testing.T) {
	duoNow := func() time.Time { return time.Now().Add(-clockSkewHostAhead) }
	sim := startSim(t, duosim.Config{
		Seed:            suiteSeed,
		Now:             duoNow,
		AvailabilityLag: clockSkewLag,
	})
	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(outDir, 0o755))
	p := startDuostream(t, dir, "clock", map[string]any{
		"input": duoInput(sim, map[string]any{
			"checkpoint_key":      "clock",
			"initial_lookback":    "1h",
			"poll_interval":       "1s",
			"availability_lag":    clockSkewLag.String(),
			"requests_per_minute": 6000,
		}),
		"cache_resources": bboltCache(filepath.Join(dir, "state", "checkpoints.db")),
		"output":          fileOutputByType(outDir),
	})

	ctx, cancel := context.WithTimeout(t.Context(), clockSkewLive)
	defer cancel()
	require.NoError(t, sim.RunLive(ctx, clockSkewRates))
	liveEnd := duoNow()
	l, err := newLedger(sim)
	require.NoError(t, err)

	// Wait until every live event is delivered, or until the input has
	// long read past the end of the live run (its windows end the lag plus
	// duoapi.ClockMargin before Duo's clock): what is missing then is lost.
	readPast := liveEnd.Add(clockSkewLag + duoapi.ClockMargin + 20*time.Second)
	complete := false
	for !complete && duoNow().Before(readPast) {
		require.False(t, p.exited(), "duostream exited: %v; logs:\n%s", p.err, tail(p.logs(), 4000))
		time.Sleep(250 * time.Millisecond)
		got, err := readDelivered(outDir)
		require.NoError(t, err)
		complete = l.complete(got)
	}
	drained := duoNow().Sub(liveEnd)
	// Pages still in flight would show as duplicates.
	time.Sleep(2 * time.Second)
	m, err := p.metrics()
	require.NoError(t, err)
	reqs := sim.Requests()
	require.NoError(t, p.stop(30*time.Second), "duostream exits cleanly on SIGTERM")
	logs := p.logs()

	got, err := readDelivered(outDir)
	require.NoError(t, err)
	tl := l.compare(got)
	sum := sumTally(tl)
	assert.Zero(t, sum.lost, "live events lost: %v", tl)
	assert.Zero(t, sum.dups, "live events duplicated: %v", tl)
	assert.Zero(t, sum.foreign, "events delivered that the simulator never held: %v", tl)

	skew := m.sum("duo_clock_skew_seconds")
	assert.InDelta(t, -clockSkewHostAhead.Seconds(), skew, 2, "duo_clock_skew_seconds (Duo's clock minus this machine's)")
	warn := skewWarningLine.FindStringSubmatch(logs)
	require.NotNil(t, warn, "a warning says this machine's clock is ahead of Duo's; logs:\n%s", tail(logs, 4000))
	warnSecs, _ := strconv.Atoi(warn[1])
	assert.InDelta(t, clockSkewHostAhead.Seconds(), float64(warnSecs), 2, "the warning's skew")

	// No window asks for anything newer than what Duo shows at the
	// request: maxtime is at most Duo's clock minus its lag.
	minGap := time.Duration(math.MaxInt64)
	windows := 0
	for _, r := range reqs {
		if !clockV2Path(r.Path) || r.Status != 200 {
			continue
		}
		maxMs, err := strconv.ParseInt(r.Query.Get("maxtime"), 10, 64)
		require.NoError(t, err, "maxtime of %s", r.Path)
		gap := r.Time.Sub(time.UnixMilli(maxMs))
		assert.GreaterOrEqual(t, gap, clockSkewLag, "a %s window ending %s, asked at %s by Duo's clock, reaches into the availability lag",
			r.Path, time.UnixMilli(maxMs).UTC().Format(time.RFC3339Nano), r.Time.UTC().Format(time.RFC3339Nano))
		minGap = min(minGap, gap)
		if r.Query.Get("next_offset") == "" {
			windows++
		}
	}
	require.Positive(t, windows, "v2 windows were requested")

	// What the old reckoning would have lost: at the same requests, a
	// window ending at this machine's clock minus the lag.
	oldLost, liveV2 := 0, 0
	for _, lt := range []duoapi.LogType{duoapi.Authentication, duoapi.Telephony} {
		liveV2 += len(l.events[lt])
		oldLost += missedByHostClockWindows(l.events[lt], reqs, lt)
	}

	figure(t, "this machine's clock %s ahead of Duo's, availability lag %s: %d live events in %s (%s), all delivered: %t, %s after the live run ended (Duo's clock): lost %d, duplicates %d",
		clockSkewHostAhead, clockSkewLag, l.total(), clockSkewLive, clockLiveCounts(l), complete, drained.Round(100*time.Millisecond), sum.lost, sum.dups)
	figure(t, "duo_clock_skew_seconds %.0f; log: %q", skew, warn[0])
	figure(t, "%d v2 windows, %d v2 requests: every maxtime at least %s before Duo's clock (lag %s + ClockMargin %s)",
		windows, clockCountV2(reqs), minGap.Round(time.Millisecond), clockSkewLag, duoapi.ClockMargin)
	figure(t, "windows ending at this machine's clock minus the lag, at the same requests, would have reached %s past what Duo showed and skipped %d of the %d live authentication and telephony events (%.0f%%)",
		clockSkewHostAhead, oldLost, liveV2, 100*float64(oldLost)/float64(max(1, liveV2)))
	assert.Positive(t, oldLost, "the scenario is one where windows reckoned on this machine's clock lose events")
}

func clockV2Path(path string) bool {
	return path == "/admin/v2/logs/authentication" || path == "/admin/v2/logs/telephony"
}

func clockCountV2(reqs []duosim.RequestRecord) int {
	n := 0
	for _, r := range reqs {
		if clockV2Path(r.Path) && r.Status == 200 {
			n++
		}
	}
	return n
}

func clockLiveCounts(l *ledger) string {
	s := ""
	for _, lt := range duoapi.AllLogTypes {
		if s != "" {
			s += ", "
		}
		s += fmt.Sprintf("%s %d", lt, len(l.events[lt]))
	}
	return s
}

// missedByHostClockWindows counts the events of v2 log type lt that a puller
// reckoning windows on this machine's clock would have skipped had it begun
// a window at each request that began one (no next_offset) in reqs: such a
// window ends at this machine's clock minus the lag, clockSkewHostAhead past
// Duo's edge, and Duo shows only events older than its clock minus the lag,
// so the events between the two edges are never asked for again.
func missedByHostClockWindows(evs []simEvent, reqs []duosim.RequestRecord, lt duoapi.LogType) int {
	path := "/admin/v2/logs/" + string(lt)
	type gap struct{ from, to int64 } // (from, to] in ms
	var gaps []gap
	var prevEnd int64
	for _, r := range reqs {
		if r.Path != path || r.Status != 200 || r.Query.Get("next_offset") != "" {
			continue
		}
		visible := r.Time.Add(-clockSkewLag).UnixMilli()                 // Duo shows events before this
		end := r.Time.Add(clockSkewHostAhead - clockSkewLag).UnixMilli() // the window's end by this machine's clock
		if prevEnd == 0 {
			prevEnd = visible - 1
		}
		if from := max(prevEnd, visible-1); end > from {
			gaps = append(gaps, gap{from, end})
		}
		prevEnd = max(prevEnd, end)
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i].from < gaps[j].from })
	n := 0
	for _, e := range evs {
		for _, g := range gaps {
			if e.ms > g.from && e.ms <= g.to {
				n++
				break
			}
		}
	}
	return n
}
