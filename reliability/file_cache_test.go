// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"context"
	"math/rand/v2"
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
	"github.com/duostream/duostream/input"
)

// fileCacheKills is how many times TestFileCacheCrashRestart kills
// duostream.
const fileCacheKills = 5

// fileCacheCheckpointLimit is the checkpoint_limit of the file cache crash
// test: the smallest allowed, so that positions are written often.
const fileCacheCheckpointLimit = 1000

// TestFileCacheCrashRestart is TestCrashRestart with the checkpoints in a
// core `file` cache under the default checkpoint_key: five SIGKILLs during a
// backfill of 34,000 events of the four log types, then a final run. The
// default key once held "/", which a file cache takes as directories it does
// not create, so no position was ever stored and every restart read
// everything again. The file cache writes a value in place, so a kill may
// tear it; the input then resumes from the other slot.
func TestFileCacheCrashRestart(t *testing.T) {
	rng := rand.New(rand.NewPCG(suiteSeed, 2))
	sim := startSim(t, duosim.Config{Seed: suiteSeed})
	l := generateWeek(t, sim, rng, map[duoapi.LogType]int{
		duoapi.Authentication:    20000,
		duoapi.Telephony:         6000,
		duoapi.Administrator:     4400,
		duoapi.OfflineEnrollment: 2800,
	}, []burst{{duoapi.Administrator, 300}, {duoapi.Administrator, 300}, {duoapi.OfflineEnrollment, 200}})
	require.Equal(t, 34000, l.total())

	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	require.NoError(t, os.MkdirAll(stateDir, 0o755))
	// The default checkpoint_key: checkpoint_key is not set.
	prefix := input.DefaultCheckpointKey(sim.APIHost(), sim.IntegrationKey())
	res := runKillRestart(t, rng, l, killRestart{
		dir:             dir,
		kills:           fileCacheKills,
		checkpointLimit: fileCacheCheckpointLimit,
		sim:             sim,
		input: map[string]any{
			"checkpoint_limit":    fileCacheCheckpointLimit,
			"initial_lookback":    "192h",
			"requests_per_minute": 100000,
		},
		cacheResources: []any{map[string]any{"label": "state", "file": map[string]any{"directory": stateDir}}},
		positions: func(ctx context.Context) (map[duoapi.LogType]duoapi.Cursor, map[duoapi.LogType]error, error) {
			return readPositions(ctx, fileStore(stateDir), prefix)
		},
	})

	// The positions are plain files named by their keys, directly in the
	// cache's directory.
	entries, err := os.ReadDir(stateDir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	for _, lt := range duoapi.AllLogTypes {
		keys := input.PositionKeys(prefix, lt)
		assert.True(t, slices.Contains(names, keys[0]) || slices.Contains(names, keys[1]),
			"a file %q or %q in the file cache's directory, which holds %q", keys[0], keys[1], names)
	}

	figure(t, "file cache, default checkpoint_key, checkpoint_limit %d: %d SIGKILLs during a backfill of %d events (4 log types) in %s: lost %d, duplicates %d (in flight at the kills %d; a priori bound %d)",
		fileCacheCheckpointLimit, fileCacheKills, l.total(), res.elapsed.Round(100*time.Millisecond), res.sum.lost, res.sum.dups, res.inflight, res.bound)
	figure(t, "the file cache's directory holds %d files, such as %q", len(names), input.PositionKeys(prefix, duoapi.Authentication)[0])
	for _, lt := range duoapi.AllLogTypes {
		figure(t, "%s: %d events, lost %d, duplicates %d", lt, len(l.events[lt]), res.tally[lt].lost, res.tally[lt].dups)
	}
}

// TestCheckpointCacheThatCannotKeepPositions gives duostream a file cache
// whose directory is a plain file, so that no position can be written:
// `duostream run` refuses to start, at once, naming the cache and the fix,
// instead of reading events whose positions it cannot store.
func TestCheckpointCacheThatCannotKeepPositions(t *testing.T) {
	sim := startSim(t, duosim.Config{Seed: suiteSeed})
	require.NoError(t, sim.Generate(duoapi.Authentication, 100, time.Now().Add(-time.Hour), time.Now().Add(-10*time.Minute)))
	dir := t.TempDir()
	notADir := filepath.Join(dir, "state")
	require.NoError(t, os.WriteFile(notADir, []byte("not a directory\n"), 0o644))
	outDir := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(outDir, 0o755))

	started := time.Now()
	p := startDuostream(t, dir, "cannot-keep", map[string]any{
		"input":           duoInput(sim, nil),
		"cache_resources": []any{map[string]any{"label": "state", "file": map[string]any{"directory": notADir}}},
		"output":          fileOutputByType(outDir),
	})
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("duostream still runs 20s after start with a checkpoint cache that cannot keep a position; logs:\n%s", tail(p.logs(), 4000))
	}
	took := time.Since(started)
	logs := p.logs()
	require.Error(t, p.err, "duostream exits non-zero; logs:\n%s", tail(logs, 4000))
	assert.Less(t, took, 5*time.Second, "duostream refuses to start promptly")
	assert.Contains(t, logs, `checkpoint cache "state" cannot keep a position`)
	assert.Contains(t, logs, "bbolt", "the error names a cache that can keep positions")
	got, err := readDelivered(outDir)
	require.NoError(t, err)
	delivered := 0
	for _, c := range got {
		delivered += len(c)
	}
	assert.Zero(t, delivered, "no event is delivered whose position could not be stored")
	assert.Zero(t, sim.RequestCounts()[duosim.PathStatus{Path: duoapi.PathAuthenticationV2, Status: 200}], "no log is read")

	line := logs
	if i := strings.Index(logs, "cannot keep a position"); i >= 0 {
		lo := strings.LastIndex(logs[:i], "\n") + 1
		hi := strings.Index(logs[i:], "\n")
		if hi < 0 {
			hi = len(logs) - i
		}
		line = logs[lo : i+hi]
	}
	figure(t, "file cache whose directory is a plain file: run exited (%v) after %s; it said: %s", p.err, took.Round(time.Millisecond), line)
}
