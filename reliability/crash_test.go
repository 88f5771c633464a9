// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"context"
	"fmt"
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
)

// crashKills is how many times TestCrashRestart kills duostream.
const crashKills = 10

// crashCheckpointLimit is the checkpoint_limit of the crash test (the
// input's default).
const crashCheckpointLimit = 5000

// TestCrashRestart backfills 103,900 events of the six log types into a
// file output and kills duostream with SIGKILL at ten random moments,
// restarting it each time on the same bbolt checkpoint store. After each
// kill it reads the stored cursors and checks that they never cover an
// event that was not delivered (a checkpoint saved before delivery), and
// measures the events delivered beyond them: the pages in flight, which a
// restart delivers again. In the end every event is delivered (lost = 0)
// and the duplicates are at most the events in flight at the kills.
func TestCrashRestart(t *testing.T) {
	rng := rand.New(rand.NewPCG(suiteSeed, 1))
	sim := startSim(t, duosim.Config{Seed: suiteSeed})
	var bursts []burst
	for range 5 {
		bursts = append(bursts, burst{duoapi.Administrator, 400}, burst{duoapi.OfflineEnrollment, 200})
	}
	// Activity and Trust Monitor each have a millisecond holding more
	// events than a page (750 of 3,000 and 225 of 900).
	bursts = append(bursts, burst{duoapi.Activity, 750}, burst{duoapi.TrustMonitor, 225})
	l := generateWeek(t, sim, rng, map[duoapi.LogType]int{
		duoapi.Authentication:    60000,
		duoapi.Telephony:         15000,
		duoapi.Administrator:     13000,
		duoapi.OfflineEnrollment: 9000,
		duoapi.Activity:          2250,
		duoapi.TrustMonitor:      675,
	}, bursts)
	require.Equal(t, 103900, l.total())

	dir := t.TempDir()
	dbPath := filepath.Join(dir, "state", "checkpoints.db")
	res := runKillRestart(t, rng, l, killRestart{
		dir:             dir,
		kills:           crashKills,
		checkpointLimit: crashCheckpointLimit,
		positions: func(ctx context.Context) (map[duoapi.LogType]duoapi.Cursor, map[duoapi.LogType]error, error) {
			cursors, err := readCursors(ctx, dbPath, "crash")
			return cursors, nil, err
		},
		input: map[string]any{
			"checkpoint_key":      "crash",
			"checkpoint_limit":    crashCheckpointLimit,
			"initial_lookback":    "192h",
			"requests_per_minute": 100000,
		},
		sim:            sim,
		cacheResources: bboltCache(dbPath),
	})
	figure(t, "%d SIGKILLs during a backfill of %d events (6 log types) in %s: lost %d, duplicates %d (in flight at the kills %d; a priori bound %d = kills x 6 log types x (checkpoint_limit %d + one page of %d))",
		crashKills, l.total(), res.elapsed.Round(100*time.Millisecond), res.sum.lost, res.sum.dups, res.inflight, res.bound, crashCheckpointLimit, duoapi.PageLimit)
	for _, lt := range duoapi.AllLogTypes {
		figure(t, "%s: %d events, lost %d, duplicates %d", lt, len(l.events[lt]), res.tally[lt].lost, res.tally[lt].dups)
	}
}

// burst is n events of one log type in one second (in one millisecond for
// the v2 and Trust Monitor types).
type burst struct {
	lt duoapi.LogType
	n  int
}

// generateWeek fills sim with spread[t] events of each log type t over the
// week before ten minutes ago, and each burst at a random second of it
// (bursts of hundreds of v1 events in one second, which pages of 1000
// split: the boundary second is read again and deduplicated), and returns
// their ledger.
func generateWeek(t *testing.T, sim *duosim.Server, rng *rand.Rand, spread map[duoapi.LogType]int, bursts []burst) *ledger {
	t.Helper()
	now := time.Now()
	from, to := now.Add(-7*24*time.Hour), now.Add(-10*time.Minute)
	for _, lt := range duoapi.AllLogTypes {
		require.NoError(t, sim.Generate(lt, spread[lt], from, to))
	}
	span := to.Sub(from)
	for _, b := range bursts {
		sec := from.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Second)
		require.NoError(t, sim.Generate(b.lt, b.n, sec, sec))
	}
	l, err := newLedger(sim)
	require.NoError(t, err)
	return l
}

// killRestart is a crash scenario for runKillRestart: a backfill read from
// sim with the duo_admin_logs fields in input, its checkpoints in
// cacheResources (labelled "state"), whose stored positions the test reads
// with positions while duostream is stopped (as readPositions returns them:
// the cursors, and the slots torn by a kill).
type killRestart struct {
	dir             string
	kills           int
	checkpointLimit int
	sim             *duosim.Server
	input           map[string]any
	cacheResources  []any
	positions       func(ctx context.Context) (map[duoapi.LogType]duoapi.Cursor, map[duoapi.LogType]error, error)
}

// killRestartResult is what runKillRestart measured.
type killRestartResult struct {
	elapsed  time.Duration
	inflight int // events delivered beyond the stored cursors, summed over the kills
	bound    int // the a priori bound on inflight
	tally    map[duoapi.LogType]tally
	sum      tally
}

// runKillRestart runs the backfill of l described by sc into a file output
// under sc.dir/out, kills duostream with SIGKILL sc.kills times, each time
// once the output has grown past a random fraction of the backfill and a
// random 0 to 30 ms later, and restarts it on the same checkpoint store.
// After each kill it reads the stored cursors and checks, event by event,
// that they never cover an event that was not delivered (a checkpoint saved
// before delivery), and measures the events delivered beyond them, which a
// restart delivers again: at most checkpoint_limit plus one page per log
// type. A final run delivers the rest and stops on SIGTERM; then nothing is
// lost, nothing the simulator never held was delivered, the duplicates are
// at most the events in flight at the kills, and the stored cursors cover
// every event, so a further restart delivers nothing again.
func runKillRestart(t *testing.T, rng *rand.Rand, l *ledger, sc killRestart) killRestartResult {
	t.Helper()
	outDir := filepath.Join(sc.dir, "out")
	require.NoError(t, os.MkdirAll(outDir, 0o755))
	conf := map[string]any{
		"input":           duoInput(sc.sim, sc.input),
		"cache_resources": sc.cacheResources,
		"output":          fileOutputByType(outDir),
	}
	outSize := func() int64 {
		var n int64
		for _, lt := range duoapi.AllLogTypes {
			if fi, err := os.Stat(filepath.Join(outDir, lt.SchemaName()+".jsonl")); err == nil {
				n += fi.Size()
			}
		}
		return n
	}

	// The kills happen once the output has grown past random fractions of
	// the backfill, and a random few milliseconds after that, so that they
	// fall while every part of the pipeline is busy.
	var marks []float64
	for range sc.kills {
		marks = append(marks, 0.03+0.92*rng.Float64())
	}
	slices.Sort(marks)
	figure(t, "%d events in the simulator (%.0f MB)", l.total(), float64(l.bytes)/1e6)

	started := time.Now()
	var res killRestartResult
	for k, mark := range marks {
		p := startDuostream(t, sc.dir, fmt.Sprintf("run%02d", k+1), conf)
		runStart := time.Now()
		startSize := outSize()
		target := int64(mark * float64(l.bytes))
		waitFor(t, p, 2*time.Minute, 2*time.Millisecond, fmt.Sprintf("output past %d bytes", target), func() bool {
			n := outSize()
			return n >= target && n > startSize
		})
		time.Sleep(time.Duration(rng.Int64N(int64(30 * time.Millisecond))))
		p.kill()
		alive := time.Since(runStart)

		cursors, torn, err := sc.positions(t.Context())
		require.NoError(t, err, "read the checkpoint store after kill %d", k+1)
		got, err := readDelivered(outDir)
		require.NoError(t, err, "after kill %d", k+1)
		var parts []string
		killInflight := 0
		for _, lt := range duoapi.AllLogTypes {
			cov := counts{}
			if c, ok := cursors[lt]; ok {
				cov, err = l.covered(lt, c)
				require.NoError(t, err)
			}
			inflight := 0
			for id, n := range l.want[lt] {
				delivered := min(got[lt][id], n)
				// A stored cursor past an event that was never delivered
				// would lose it: the checkpoint must follow delivery.
				require.LessOrEqual(t, cov[id], delivered,
					"kill %d: the stored %s cursor covers event %s, which was not delivered", k+1, lt, id)
				inflight += delivered - cov[id]
			}
			// Sound bound: at most checkpoint_limit events are tracked
			// and unacknowledged, plus the page whose acknowledgement was
			// being stored; when the kill tore that write, the input
			// resumes from the other slot, one page older.
			limit := sc.checkpointLimit + duoapi.PageLimit
			part := fmt.Sprintf("%s %d", lt, inflight)
			if err := torn[lt]; err != nil {
				limit += duoapi.PageLimit
				part += fmt.Sprintf(" (a slot torn: %v)", err)
			}
			assert.LessOrEqual(t, inflight, limit,
				"kill %d: %s events delivered beyond the stored cursor", k+1, lt)
			killInflight += inflight
			parts = append(parts, part)
		}
		res.inflight += killInflight
		res.bound += len(duoapi.AllLogTypes) * (sc.checkpointLimit + duoapi.PageLimit)
		figure(t, "kill %2d after %5dms of run %d: output %6.1f MB, %d events delivered beyond the stored cursors (%s)",
			k+1, alive.Milliseconds(), k+1, float64(outSize())/1e6, killInflight, strings.Join(parts, ", "))
	}

	p := startDuostream(t, sc.dir, "final", conf)
	waitFor(t, p, 3*time.Minute, 500*time.Millisecond, "every event delivered after the last restart", func() bool {
		if outSize() < l.bytes {
			return false
		}
		got, err := readDelivered(outDir)
		require.NoError(t, err)
		return l.complete(got)
	})
	require.NoError(t, p.stop(30*time.Second), "duostream exits cleanly on SIGTERM; logs:\n%s", tail(p.logs(), 4000))
	res.elapsed = time.Since(started)

	got, err := readDelivered(outDir)
	require.NoError(t, err)
	res.tally = l.compare(got)
	res.sum = sumTally(res.tally)
	assert.Zero(t, res.sum.lost, "events lost: %v", res.tally)
	assert.Zero(t, res.sum.foreign, "events delivered that the simulator never held: %v", res.tally)
	assert.LessOrEqual(t, res.sum.dups, res.inflight, "duplicates beyond the events in flight at the kills: %v", res.tally)

	// After a clean stop the stored cursors cover every event: a restart
	// delivers nothing again.
	cursors, torn, err := sc.positions(t.Context())
	require.NoError(t, err)
	assert.Empty(t, torn, "no stored position is torn after a clean stop")
	for _, lt := range duoapi.AllLogTypes {
		cov, err := l.covered(lt, cursors[lt])
		require.NoError(t, err)
		missing := 0
		for id, n := range l.want[lt] {
			missing += max(0, n-cov[id])
		}
		assert.Zero(t, missing, "%s events not covered by the cursor stored at a clean stop (%+v)", lt, cursors[lt])
	}
	return res
}
