// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// footprintPeakRSSLimit is the most resident memory the backfill of
// TestBackfillFootprint may use.
const footprintPeakRSSLimit = 100 << 20

// v1Requests returns how many requests a v1 endpoint needs at least to
// page through events at the given seconds (sorted) from mintime on: each
// request returns the earliest 1000 events from mintime, inclusive, and the
// next starts at the last second seen, which it reads again.
func v1Requests(seconds []int64, mintime int64) int {
	reqs := 0
	i := 0 // first event at or after mintime
	for {
		reqs++
		for i < len(seconds) && seconds[i] < mintime {
			i++
		}
		if len(seconds)-i < duoapi.PageLimit {
			return reqs
		}
		last := seconds[i+duoapi.PageLimit-1]
		if last == mintime {
			last++ // a whole page in one second: move past it
		}
		mintime = last
	}
}

// TestBackfillFootprint backfills 50,000 authentication, 5,000
// administrator, 1,000 telephony, 100 offline enrollment, 3,000 activity
// (750 of them in one millisecond) and 900 Trust Monitor events (225 sharing
// one surfaced_timestamp) through duo_normalize into a file, from a
// simulator that checks signatures as Duo does, and measures the peak
// resident memory of the process and the requests it made per endpoint: v2
// and Trust Monitor endpoints need at most ceil(n/limit)+2 requests (limit
// 1000, 200 for Trust Monitor), v1 endpoints only the pages that the re-read
// of each page's last second requires.
func TestBackfillFootprint(t *testing.T) {
	sim := startSim(t, duosim.Config{Seed: suiteSeed})
	now := time.Now()
	from, to := now.Add(-7*24*time.Hour), now.Add(-5*time.Minute)
	want := map[duoapi.LogType]int{
		duoapi.Authentication: 50000, duoapi.Administrator: 5000, duoapi.Telephony: 1000, duoapi.OfflineEnrollment: 100,
		duoapi.Activity: 3000, duoapi.TrustMonitor: 900,
	}
	// A millisecond with more events than a page, in the middle of the
	// backfill.
	bursts := map[duoapi.LogType]int{duoapi.Activity: 750, duoapi.TrustMonitor: 225}
	burstAt := now.Add(-3 * 24 * time.Hour).Truncate(time.Millisecond)
	total := 0
	for lt, n := range want {
		require.NoError(t, sim.Generate(lt, n-bursts[lt], from, to))
		if b := bursts[lt]; b > 0 {
			require.NoError(t, sim.Generate(lt, b, burstAt, burstAt))
		}
		total += n
	}

	dir := t.TempDir()
	outPath, dlqPath := filepath.Join(dir, "normalized.jsonl"), filepath.Join(dir, "dead-letter.jsonl")
	started := time.Now()
	p := startDuostream(t, dir, "footprint", map[string]any{
		"input": duoInput(sim, map[string]any{
			"checkpoint_key":      "footprint",
			"initial_lookback":    "169h",
			"requests_per_minute": 100000,
		}),
		"cache_resources": bboltCache(filepath.Join(dir, "state.db")),
		"pipeline":        map[string]any{"processors": []any{map[string]any{"duo_normalize": map[string]any{}}}},
		"output": map[string]any{"switch": map[string]any{"cases": []any{
			map[string]any{"check": "errored()", "output": map[string]any{"file": map[string]any{"path": dlqPath, "codec": "lines"}}},
			map[string]any{"output": map[string]any{"file": map[string]any{"path": outPath, "codec": "lines"}}},
		}}},
	})
	lines := func(path string) int {
		b, _ := os.ReadFile(path)
		return bytes.Count(b, []byte("\n"))
	}
	waitFor(t, p, 3*time.Minute, 100*time.Millisecond, "the backfill normalized", func() bool {
		return lines(outPath)+lines(dlqPath) >= total
	})
	elapsed := time.Since(started)
	time.Sleep(300 * time.Millisecond)
	hwm, err := p.procStatus("VmHWM")
	require.NoError(t, err)
	counts := sim.RequestCounts()
	require.NoError(t, p.stop(30*time.Second), "duostream exits cleanly on SIGTERM")

	assert.Zero(t, lines(dlqPath), "no generated event breaks its schema")
	out, err := os.ReadFile(outPath)
	require.NoError(t, err)
	bySchema := map[string]duoapi.LogType{}
	for _, lt := range duoapi.AllLogTypes {
		bySchema[lt.SchemaName()] = lt
	}
	byType := map[string]int{}
	// The normalized events of the types with an ID field keep it, but
	// for telephony: the Panther schema has no telephony_id.
	keepsID := func(lt duoapi.LogType) bool { return idFields[lt] != "" && lt != duoapi.Telephony }
	distinct := map[string]map[string]bool{} // log type -> IDs
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		var ev struct {
			LogType string `json:"p_log_type"`
		}
		require.NoError(t, json.Unmarshal(line, &ev))
		byType[ev.LogType]++
		if lt := bySchema[ev.LogType]; keepsID(lt) {
			id, err := identity(lt, line)
			require.NoError(t, err)
			if distinct[ev.LogType] == nil {
				distinct[ev.LogType] = map[string]bool{}
			}
			distinct[ev.LogType][id] = true
		}
	}
	for lt, n := range want {
		assert.Equal(t, n, byType[lt.SchemaName()], "%s events normalized once each", lt)
		if keepsID(lt) {
			assert.Len(t, distinct[lt.SchemaName()], n, "%s events by identity", lt)
		}
	}
	assert.Less(t, hwm, int64(footprintPeakRSSLimit), "peak resident memory")

	var parts []string
	paths := map[string]duoapi.LogType{}
	for _, lt := range duoapi.AllLogTypes {
		paths[lt.Endpoint()] = lt
	}
	byPath := map[string]int{}
	for k, n := range counts {
		require.Equal(t, 200, k.Status, "every request succeeded: %v", counts)
		byPath[k.Path] += n
	}
	keys := make([]string, 0, len(byPath))
	for path := range byPath {
		keys = append(keys, path)
	}
	sort.Strings(keys)
	start := now.Add(-169 * time.Hour).Unix()
	for _, path := range keys {
		lt, ok := paths[path]
		require.True(t, ok, "request to %s", path)
		n := want[lt]
		limit := lt.PageLimit()
		pages := (n + limit - 1) / limit
		if itemsKey(path) != "" {
			assert.LessOrEqual(t, byPath[path], pages+2, "%s: %d events", path, n)
			parts = append(parts, fmt.Sprintf("%s %d (%d events, ceil(n/%d) = %d)", path, byPath[path], n, limit, pages))
			continue
		}
		var seconds []int64
		for _, e := range sim.Events(lt, from.Add(-time.Hour), now) {
			seconds = append(seconds, e.Time.Unix())
		}
		need := v1Requests(seconds, start)
		assert.Equal(t, need, byPath[path], "%s: %d events need %d requests", path, n, need)
		parts = append(parts, fmt.Sprintf("%s %d (%d events: %d pages + %d for re-read boundary seconds)", path, byPath[path], n, pages, byPath[path]-pages))
	}
	figure(t, "backfill of %d events (50,000 authentication, 5,000 administrator, 1,000 telephony, 100 offline enrollment, 3,000 activity with 750 in one millisecond, 900 Trust Monitor with 225 in one millisecond) through duo_normalize to a file in %s (%.0f events/s); peak RSS %.1f MB (VmHWM; limit %d MB)",
		total, elapsed.Round(100*time.Millisecond), float64(total)/elapsed.Seconds(), megabytes(hwm), footprintPeakRSSLimit>>20)
	figure(t, "requests per endpoint: %s", strings.Join(parts, "; "))
}
