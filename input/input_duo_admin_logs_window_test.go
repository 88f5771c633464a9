// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// TestReplayWindow replays a window of the past after the live stream has
// caught up, the way the README's "re-send last Tuesday" recipe does:
// stopped half way and started again, the replay delivers exactly the
// window's events, once, ends by itself, and leaves the live positions as
// they were; run a third time, it ends at once.
func TestReplayWindow(t *testing.T) {
	sim, err := duosim.Start(duosim.Config{Seed: 41})
	require.NoError(t, err)
	defer sim.Close()
	now := time.Now().Truncate(time.Second)
	types := []duoapi.LogType{duoapi.Authentication, duoapi.Administrator, duoapi.Telephony}
	start, end := now.Add(-30*time.Hour), now.Add(-6*time.Hour)
	for _, lt := range types {
		require.NoError(t, sim.Generate(lt, 4000, now.Add(-40*time.Hour), now.Add(-10*time.Minute)))
		unit := time.Millisecond
		if lt == duoapi.Administrator {
			unit = time.Second
		}
		for _, at := range []time.Time{start.Add(-unit), start, end.Add(-unit), end} {
			require.NoError(t, sim.Generate(lt, 2, at, at.Add(unit)))
		}
	}
	window := map[string]int{}
	for _, lt := range types {
		for _, ev := range sim.Events(lt, start, end) {
			window[lt.SchemaName()+"/"+eventID(ev.Body)]++
		}
	}
	state := filepath.Join(t.TempDir(), "state.db")
	logTypes := "  log_types: [authentication, administrator, telephony]\n"

	live := newCollector()
	liveWant := total(expected(sim, now.Add(-48*time.Hour), now))
	runStream(t, simInputYAML(sim, logTypes), state, live.consume, func() bool { return live.delivered() >= liveWant })
	require.Equal(t, liveWant, live.delivered())
	prefix := DefaultCheckpointKey(sim.APIHost(), sim.IntegrationKey())
	before := storedPositions(t, state, prefix, types)

	replay := simInputYAML(sim, logTypes+fmt.Sprintf("  start_time: %s\n  end_time: %s\n", start.Format(time.RFC3339), end.Format(time.RFC3339)))
	first, second, third := newCollector(), newCollector(), newCollector()
	runStream(t, replay, state, first.consume, func() bool { return first.delivered() >= total(window)/2 })
	require.Less(t, first.delivered(), total(window), "the first replay stopped half way")
	ended := runStream(t, replay, state, second.consume, func() bool { return false })
	assert.True(t, ended, "the replay ends by itself")
	lost, repeated, outside := tally(window, first, second)
	t.Logf("window of %d events: %d then %d delivered", total(window), first.delivered(), second.delivered())
	assert.Zero(t, lost)
	assert.Zero(t, repeated)
	assert.Zero(t, outside, "nothing from outside the window")
	assert.Equal(t, before, storedPositions(t, state, prefix, types), "the live positions are as they were")

	assert.True(t, runStream(t, replay, state, third.consume, func() bool { return false }), "a replay done ends at once")
	assert.Zero(t, third.delivered())
}

// storedPositions reads the positions of types stored under prefix in the
// bbolt file at path, from a copy, which leaves the file free for the next
// run.
func storedPositions(t *testing.T, path, prefix string, types []duoapi.LogType) map[duoapi.LogType]StoredPosition {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	cp := filepath.Join(t.TempDir(), "copy.db")
	require.NoError(t, os.WriteFile(cp, data, 0o600))
	res := cacheResources(t, fmt.Sprintf("bbolt:\n  path: %s\n", cp))
	out := map[duoapi.LogType]StoredPosition{}
	require.NoError(t, res.AccessCache(t.Context(), "state", func(c service.Cache) {
		for _, lt := range types {
			p, found, err := ReadPosition(t.Context(), c, prefix, lt)
			require.NoError(t, err)
			require.True(t, found, "%s: a live position", lt)
			out[lt] = p
		}
	}))
	return out
}
