// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// faultsBudget is the requests_per_minute of the fault test.
const faultsBudget = 600

// TestAPIFaults backfills through every fault the simulator injects at
// once: 30% 429s, 10% 5xx (500 with Duo's body, 503 with a load balancer's
// HTML), 10% truncated JSON bodies, 10% dropped connections, and 10% of
// responses slower than the request timeout. Every event arrives exactly
// once, the process never exits, the metrics count each failure the
// simulator injected, and requests never come faster than the budget.
func TestAPIFaults(t *testing.T) {
	sim := startSim(t, duosim.Config{Seed: suiteSeed, Faults: duosim.Faults{
		TooManyRequests: 0.30,
		ServerError:     0.05,
		Unavailable:     0.05,
		Truncate:        0.10,
		Drop:            0.10,
		Slow:            0.10,
		SlowDelay:       1500 * time.Millisecond,
	}})
	l := backfill(t, sim, map[duoapi.LogType]int{
		duoapi.Authentication: 24000, duoapi.Telephony: 8000, duoapi.Administrator: 8000, duoapi.OfflineEnrollment: 3000,
		// Pages of the new types too, which add requests for every fault
		// kind to meet (a run of about 100 requests can meet no 503).
		duoapi.Activity: 8000, duoapi.TrustMonitor: 3000,
	})

	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(outDir, 0o755))
	p := startDuostream(t, dir, "faults", map[string]any{
		"input": duoInput(sim, map[string]any{
			"checkpoint_key":      "faults",
			"initial_lookback":    "25h",
			"requests_per_minute": faultsBudget,
			"timeout":             "1s",
			"backoff":             map[string]any{"initial_interval": "50ms", "max_interval": "500ms"},
			"rate_limit_backoff":  map[string]any{"initial_interval": "100ms", "max_interval": "1s"},
		}),
		"cache_resources": bboltCache(filepath.Join(dir, "state.db")),
		"output":          fileOutputByType(outDir),
	})
	started := time.Now()
	l.waitDeliveredTo(t, p, outDir, 4*time.Minute, 500*time.Millisecond, "every event delivered through the faults")
	elapsed := time.Since(started)
	// Let requests that are still under way (slow ones) finish, so that
	// the simulator and the metrics count the same attempts.
	time.Sleep(2 * time.Second)
	require.False(t, p.exited(), "duostream exited during the faults: %v", p.err)
	m, err := p.metrics()
	require.NoError(t, err)
	reqs := sim.Requests()
	require.NoError(t, p.stop(30*time.Second), "duostream exits cleanly on SIGTERM")

	got, err := readDelivered(outDir)
	require.NoError(t, err)
	sum := sumTally(l.compare(got))
	assert.Zero(t, sum.lost, "events lost")
	assert.Zero(t, sum.dups, "events duplicated: without a crash every event is delivered once")
	assert.Zero(t, sum.foreign, "events the simulator never held")

	// What the simulator injected, by what the client sees.
	var injected struct{ ok, tooMany, serverErr, unavailable, truncated, dropped, slowTimeouts int }
	for _, r := range reqs {
		switch {
		case r.Status == 0 && r.Slowed:
			injected.slowTimeouts++ // the client gave up first
		case r.Status == 0:
			injected.dropped++
		case r.Status == 200 && r.Fault == duosim.FaultTruncate:
			injected.truncated++
		case r.Status == 200:
			injected.ok++
		case r.Status == 429:
			injected.tooMany++
		case r.Status == 500:
			injected.serverErr++
		case r.Status == 503:
			injected.unavailable++
		default:
			t.Errorf("unexpected response %d (Duo code %d) to %s", r.Status, r.Code, r.Path)
		}
	}
	failed := len(reqs) - injected.ok
	for name, n := range map[string]int{
		"429": injected.tooMany, "500": injected.serverErr, "503": injected.unavailable,
		"truncated body": injected.truncated, "dropped connection": injected.dropped, "timeout": injected.slowTimeouts,
	} {
		assert.Positive(t, n, "the run met no %s: too few requests to test it", name)
	}
	assert.Equal(t, float64(len(reqs)), m.sum("duo_requests_total"), "duo_requests_total counts every request the simulator received")
	assert.Equal(t, float64(injected.tooMany), m.sum("duo_requests_total", "outcome", "429"))
	assert.Equal(t, float64(injected.tooMany), m.sum("duo_rate_limited_total"))
	assert.Equal(t, float64(injected.serverErr), m.sum("duo_requests_total", "outcome", "500"))
	assert.Equal(t, float64(injected.unavailable), m.sum("duo_requests_total", "outcome", "503"))
	assert.Equal(t, float64(injected.truncated), m.sum("duo_requests_total", "outcome", "bad_body"))
	assert.Equal(t, float64(injected.dropped+injected.slowTimeouts),
		m.sum("duo_requests_total", "outcome", "network_error")+m.sum("duo_requests_total", "outcome", "timeout"))
	assert.Equal(t, float64(injected.slowTimeouts), m.sum("duo_requests_total", "outcome", "timeout"))
	assert.Equal(t, float64(injected.tooMany), m.sum("duo_retries_total", "reason", "rate_limited"))
	assert.Equal(t, float64(failed-injected.tooMany), m.sum("duo_retries_total", "reason", "transient"))
	assert.Zero(t, m.sum("duo_retries_total", "reason", "needs_action"))
	assert.Equal(t, float64(l.total()), m.sum("duo_events_total"))

	// The budget spaces requests 60s/requests_per_minute apart; the
	// simulator stamps them on arrival, so allow for some scheduling
	// jitter between the client's send and the server's receipt.
	interval := time.Minute / faultsBudget
	const jitter = 150 * time.Millisecond
	times := make([]time.Time, len(reqs))
	for i, r := range reqs {
		times[i] = r.Time
	}
	slices.SortFunc(times, func(a, b time.Time) int { return a.Compare(b) })
	minGap := time.Duration(1 << 62)
	for i := 1; i < len(times); i++ {
		minGap = min(minGap, times[i].Sub(times[i-1]))
	}
	// In any run of requests, the first and the last are at least the
	// budget's spacing apart per request in between.
	var worst struct {
		i, j int
		gap  time.Duration
	}
	worst.gap = time.Duration(1 << 62)
	for i := range times {
		for j := i + 1; j < len(times); j++ {
			slack := times[j].Sub(times[i]) - time.Duration(j-i)*interval
			if slack < worst.gap {
				worst.i, worst.j, worst.gap = i, j, slack
			}
		}
	}
	assert.GreaterOrEqual(t, worst.gap, -jitter,
		"requests %d to %d came %s apart, faster than the budget of %d a minute allows (%s)",
		worst.i, worst.j, times[worst.j].Sub(times[worst.i]), faultsBudget, time.Duration(worst.j-worst.i)*interval)
	peak60 := maxInWindow(times, time.Minute)
	peak10 := maxInWindow(times, 10*time.Second)
	assert.LessOrEqual(t, peak60, faultsBudget, "requests in a 60s window")
	assert.LessOrEqual(t, peak10, int(10*time.Second/interval)+1, "requests in a 10s window")

	figure(t, "%d events of 6 log types delivered in %s through %d requests, of which %d failed: %d x 429, %d x 500, %d x 503 (HTML), %d truncated bodies, %d dropped connections, %d slower than the 1s timeout; lost %d, duplicated %d",
		l.total(), elapsed.Round(100*time.Millisecond), len(reqs), failed, injected.tooMany, injected.serverErr, injected.unavailable,
		injected.truncated, injected.dropped, injected.slowTimeouts, sum.lost, sum.dups)
	figure(t, "metrics: duo_retries_total rate_limited %.0f, transient %.0f; duo_rate_limited_total %.0f; duo_requests_total %.0f (outcomes %s)",
		m.sum("duo_retries_total", "reason", "rate_limited"), m.sum("duo_retries_total", "reason", "transient"),
		m.sum("duo_rate_limited_total"), m.sum("duo_requests_total"), outcomes(m))
	figure(t, "budget %d requests/minute (one every %s): closest requests %s apart; at most %d requests in any 10s window (allowed %d), %d in any 60s window (allowed %d); the process never exited",
		faultsBudget, interval, minGap.Round(time.Millisecond), peak10, int(10*time.Second/interval)+1, peak60, faultsBudget)
}

// maxInWindow returns the most of the sorted times that fall in any window
// of length w.
func maxInWindow(times []time.Time, w time.Duration) int {
	best, j := 0, 0
	for i := range times {
		for times[i].Sub(times[j]) >= w {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

// outcomes lists duo_requests_total by outcome.
func outcomes(m metricSet) string {
	by := map[string]float64{}
	for key, v := range m {
		name, labels := splitMetric(key)
		if name == "duo_requests_total" {
			by[labels["outcome"]] += v
		}
	}
	var parts []string
	for o, v := range by {
		parts = append(parts, fmt.Sprintf("%s %.0f", o, v))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}
