// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// TestLongLookback backfills 22,000 events spread over 179 days with
// initial_lookback 4296h, the longest Duo allows and the field's documented
// example, and no request budget to speak of. Every event arrives exactly
// once, no position is reported older than Duo's retention, and each v2
// endpoint needs at most ceil(n/1000)+2 requests, its window keeping the
// start it began with while it is paged. Before windows were reckoned on
// Duo's clock, the window's start was clamped to the retention edge again on
// every request, so paging started over each time: 15,000 lines were
// delivered, of which 1,000 were distinct.
func TestLongLookback(t *testing.T) {
	sim := startSim(t, duosim.Config{Seed: suiteSeed})
	now := time.Now()
	from, to := now.Add(-4290*time.Hour), now.Add(-10*time.Minute)
	spread := map[duoapi.LogType]int{
		duoapi.Authentication:    16000,
		duoapi.Telephony:         3000,
		duoapi.Administrator:     2000,
		duoapi.OfflineEnrollment: 1000,
		duoapi.Activity:          2000,
		duoapi.TrustMonitor:      1000,
	}
	for _, lt := range duoapi.AllLogTypes {
		require.NoError(t, sim.Generate(lt, spread[lt], from, to))
	}
	l, err := newLedger(sim)
	require.NoError(t, err)
	require.Equal(t, 25000, l.total())

	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(outDir, 0o755))
	started := time.Now()
	p := startDuostream(t, dir, "lookback", map[string]any{
		"input": duoInput(sim, map[string]any{
			"checkpoint_key":      "lookback",
			"initial_lookback":    "4296h",
			"requests_per_minute": 100000,
		}),
		"cache_resources": bboltCache(filepath.Join(dir, "state.db")),
		"output":          fileOutputByType(outDir),
	})
	l.waitDeliveredTo(t, p, outDir, 2*time.Minute, 100*time.Millisecond, "every event of 179 days delivered")
	took := time.Since(started)
	// Anything delivered again after the backfill would show here.
	time.Sleep(2 * time.Second)
	require.NoError(t, p.stop(30*time.Second), "duostream exits cleanly on SIGTERM; logs:\n%s", tail(p.logs(), 4000))

	got, err := readDelivered(outDir)
	require.NoError(t, err)
	tl := l.compare(got)
	sum := sumTally(tl)
	lines := 0
	for _, c := range got {
		for _, n := range c {
			lines += n
		}
	}
	assert.Zero(t, sum.lost, "events lost: %v", tl)
	assert.Zero(t, sum.dups, "events delivered more than once: %v", tl)
	assert.Zero(t, sum.foreign, "events delivered that the simulator never held: %v", tl)
	assert.NotContains(t, p.logs(), "older than the 179 days",
		"a lookback within Duo's retention is not reported as losing events")

	// Requests per endpoint, and the distinct mintimes of the v2 windows:
	// the backfill is one window, paged by next_offset from a fixed start.
	reqs := sim.Requests()
	byPath := map[string]int{}
	mintimes := map[string][]string{}
	for _, r := range reqs {
		if r.Status != 200 {
			continue
		}
		byPath[r.Path]++
		if mt := r.Query.Get("mintime"); itemsKey(r.Path) != "" && !slices.Contains(mintimes[r.Path], mt) {
			mintimes[r.Path] = append(mintimes[r.Path], mt)
		}
	}
	failed := 0
	for _, r := range reqs {
		if r.Status != 200 {
			failed++
		}
	}
	assert.Zero(t, failed, "requests Duo refused (a window older than its retention, for one)")
	for _, lt := range duoapi.AllLogTypes {
		path := lt.Endpoint()
		n := len(l.events[lt])
		if itemsKey(path) != "" {
			page := lt.PageLimit()
			limit := (n+page-1)/page + 2
			assert.LessOrEqual(t, byPath[path], limit, "%s: %d events need at most %d requests", path, n, limit)
			figure(t, "%s: %d events, %d requests (ceil(n/%d) = %d), %d distinct window starts",
				path, n, byPath[path], page, (n+page-1)/page, len(mintimes[path]))
			continue
		}
		seconds := make([]int64, 0, n)
		for _, e := range l.events[lt] {
			seconds = append(seconds, e.ms/1000)
		}
		slices.Sort(seconds)
		need := v1Requests(seconds, seconds[0])
		assert.LessOrEqual(t, byPath[path], need+1, "%s: %d events need %d requests", path, n, need)
		figure(t, "%s: %d events, %d requests (paging by whole seconds needs %d)", path, n, byPath[path], need)
	}
	figure(t, "initial_lookback 4296h, %d events over %.0f days (6 log types) delivered in %s: %d lines, lost %d, duplicated %d; %d requests in all, none refused",
		l.total(), to.Sub(from).Hours()/24, took.Round(100*time.Millisecond), lines, sum.lost, sum.dups, len(reqs))
}
