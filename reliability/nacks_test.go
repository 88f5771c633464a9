// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
	"github.com/duostream/duostream/input"
)

// nacksCheckpointLimit is the checkpoint_limit of TestNacksReleasedWithoutReplay:
// one page, so that a single batch never released stops its log type at once.
const nacksCheckpointLimit = 1000

// readStoredPositions opens the bbolt checkpoint store at path, as duostream does,
// and returns the stored position of every log type under prefix, read with
// input.ReadPosition (a type with none stored is left out). The store must
// not be open elsewhere.
func readStoredPositions(ctx context.Context, path, prefix string) (map[duoapi.LogType]input.StoredPosition, error) {
	conf, err := json.Marshal(map[string]any{"label": "state", "bbolt": map[string]any{
		"path": path, "lock_timeout": "2s", "compaction_interval": "",
	}})
	if err != nil {
		return nil, err
	}
	rb := service.NewResourceBuilder()
	if err := rb.AddCacheYAML(string(conf)); err != nil {
		return nil, err
	}
	res, closeRes, err := rb.Build()
	if err != nil {
		return nil, err
	}
	defer closeRes(context.WithoutCancel(ctx))
	out := map[duoapi.LogType]input.StoredPosition{}
	for _, t := range duoapi.AllLogTypes {
		var p input.StoredPosition
		var found bool
		var readErr error
		if err := res.AccessCache(ctx, "state", func(c service.Cache) {
			p, found, readErr = input.ReadPosition(ctx, c, prefix, t)
		}); err != nil {
			return nil, err
		}
		if readErr != nil {
			return nil, readErr
		}
		if found {
			out[t] = p
		}
	}
	return out, nil
}

// TestNacksReleasedWithoutReplay runs a backfill with auto_replay_nacks:
// false and checkpoint_limit: 1000 (one page) into an output that rejects
// about half of the pages (by their duo_page_id), copying each rejected
// event to a file of its own first. A rejected batch must be released, not
// held: the input must not freeze, every other event is delivered exactly
// once, duo_nacked_events_total counts exactly the rejected events, and the
// stored position moves past the rejected batches, so that a restart reads
// nothing again.
func TestNacksReleasedWithoutReplay(t *testing.T) {
	sim := startSim(t, duosim.Config{Seed: suiteSeed})
	l := backfill(t, sim, map[duoapi.LogType]int{
		duoapi.Authentication: 6000, duoapi.Telephony: 3000, duoapi.Administrator: 3000, duoapi.OfflineEnrollment: 2000,
	})

	dir := t.TempDir()
	outDir, rejDir := filepath.Join(dir, "out"), filepath.Join(dir, "rejected")
	require.NoError(t, os.MkdirAll(outDir, 0o755))
	require.NoError(t, os.MkdirAll(rejDir, 0o755))
	dbPath := filepath.Join(dir, "state", "checkpoints.db")
	// A page is rejected when its identity starts with a hex digit 0 to 7:
	// about half of the pages, all or none of each page's events.
	const rejectCheck = `["0","1","2","3","4","5","6","7"].contains(@duo_page_id.slice(0, 1))`
	conf := map[string]any{
		"input": duoInput(sim, map[string]any{
			"checkpoint_key":      "nacks",
			"checkpoint_limit":    nacksCheckpointLimit,
			"initial_lookback":    "25h",
			"requests_per_minute": 100000,
			"auto_replay_nacks":   false,
		}),
		"cache_resources": bboltCache(dbPath),
		"output": map[string]any{"switch": map[string]any{
			"retry_until_success": false,
			"cases": []any{
				// The copy of a rejected event, so that the test knows
				// exactly which were rejected.
				map[string]any{"check": rejectCheck, "output": fileOutputByType(rejDir), "continue": true},
				map[string]any{"check": rejectCheck, "output": map[string]any{"reject": "rejected by the test's output for page ${! @duo_page_id }"}},
				map[string]any{"output": fileOutputByType(outDir)},
			},
		}},
	}
	p := startDuostream(t, dir, "run1", conf)
	started := time.Now()

	// Every event reaches one of the two files: the input did not freeze
	// behind a rejected batch.
	waitFor(t, p, 2*time.Minute, 200*time.Millisecond, "every event delivered or rejected", func() bool {
		got, err := readDelivered(outDir)
		require.NoError(t, err)
		rej, err := readDelivered(rejDir)
		require.NoError(t, err)
		for _, lt := range duoapi.AllLogTypes {
			for id, n := range l.want[lt] {
				if got[lt][id]+rej[lt][id] < n {
					return false
				}
			}
		}
		return true
	})
	elapsed := time.Since(started)
	// The acknowledgements (and the metric) follow the writes.
	time.Sleep(time.Second)
	m, err := p.metrics()
	require.NoError(t, err)
	require.NoError(t, p.stop(30*time.Second), "duostream exits cleanly on SIGTERM; logs:\n%s", tail(p.logs(), 4000))
	logs := p.logs()

	got, err := readDelivered(outDir)
	require.NoError(t, err)
	rej, err := readDelivered(rejDir)
	require.NoError(t, err)
	var delivered, rejected, nacked, lost, dups, both int
	var parts []string
	for _, lt := range duoapi.AllLogTypes {
		var d, r int
		for id, n := range l.want[lt] {
			g, x := got[lt][id], rej[lt][id]
			d += min(g, n)
			r += min(x, n)
			lost += max(0, n-g-x)
			dups += max(0, g+x-n)
			if g > 0 && x > 0 {
				both++
			}
		}
		for id, n := range got[lt] {
			require.Positive(t, l.want[lt][id], "%s event %s delivered that the simulator never held (%d times)", lt, id, n)
		}
		nk := int(m.sum("duo_nacked_events_total", "log_type", string(lt)))
		assert.Equal(t, r, nk, "duo_nacked_events_total{log_type=%q} equals the %s events the output rejected", lt, lt)
		delivered, rejected, nacked = delivered+d, rejected+r, nacked+nk
		parts = append(parts, fmt.Sprintf("%s: %d events, %d delivered, %d rejected (%0.f nacked)", lt, len(l.events[lt]), d, r, float64(nk)))
	}
	assert.Zero(t, lost, "events neither delivered nor rejected")
	assert.Zero(t, dups, "events delivered or rejected more than once")
	assert.Zero(t, both, "events both delivered and rejected")
	assert.Positive(t, rejected, "the output rejected some pages")
	assert.Positive(t, delivered, "the output accepted some pages")
	warnings := strings.Count(logs, "is dropped, as auto_replay_nacks: false asks")
	assert.Positive(t, warnings, "a rejected batch is logged")

	// The stored positions cover every event, rejected ones included.
	positions, err := readStoredPositions(t.Context(), dbPath, "nacks")
	require.NoError(t, err)
	for _, lt := range duoapi.AllLogTypes {
		pos, ok := positions[lt]
		require.True(t, ok, "a position is stored for %s", lt)
		cov, err := l.covered(lt, pos.Cursor)
		require.NoError(t, err)
		missing := 0
		for id, n := range l.want[lt] {
			missing += max(0, n-cov[id])
		}
		assert.Zero(t, missing, "%s events not covered by the stored position %+v: it stopped at a rejected batch", lt, pos.Cursor)
	}

	// A restart on the same store reads nothing again.
	before := len(sim.Requests())
	p2 := startDuostream(t, dir, "run2", conf)
	waitFor(t, p2, time.Minute, 100*time.Millisecond, "a request per log type after the restart", func() bool {
		seen := map[string]bool{}
		for _, r := range sim.Requests()[before:] {
			if r.Status == 200 {
				seen[r.Path] = true
			}
		}
		return len(seen) >= len(duoapi.AllLogTypes)
	})
	m2, err := p2.metrics()
	require.NoError(t, err)
	require.NoError(t, p2.stop(30*time.Second))
	assert.Zero(t, m2.sum("duo_events_total"), "events read again after a restart")

	figure(t, "auto_replay_nacks: false, checkpoint_limit %d, output rejecting about half of the pages: %d events in %s, %d delivered once, %d rejected, lost %d, duplicates %d; duo_nacked_events_total %d; %d rejected batches logged; the stored positions cover every event, a restart read %0.f events again",
		nacksCheckpointLimit, l.total(), elapsed.Round(100*time.Millisecond), delivered, rejected, lost, dups, nacked, warnings, m2.sum("duo_events_total"))
	figure(t, "%s", strings.Join(parts, "; "))
}
