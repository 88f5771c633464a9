// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// Settings of TestDropOffAlarmSurvivesRestart.
const (
	dropOffAfter = 12 * time.Second // drop_off_alarm
	dropOffQuiet = 6 * time.Second  // how long run 1 goes on after its last event
	// dropOffFireBy is how soon after run 2 starts the alarm must fire:
	// an alarm counting from the start of run 2 fires only after
	// dropOffAfter.
	dropOffFireBy = 10 * time.Second
	dropOffLag    = time.Second // Duo's availability lag, and the input's
)

// dropOffQuietTypes are the log types that get no event after the backfill;
// authentication gets live events throughout, the control.
var dropOffQuietTypes = []duoapi.LogType{duoapi.Administrator, duoapi.Telephony, duoapi.OfflineEnrollment}

// TestDropOffAlarmSurvivesRestart checks that the drop-off alarm counts from
// the last event even across a restart. Run 1 delivers a small backfill of
// every log type, after which only authentication gets (live) events; it is
// stopped after 6 s of quiet. Run 2, on the same bbolt store, must raise the
// alarm of the quiet log types 12 s (drop_off_alarm) after their last
// event, about 6 s after it starts, not 12 s after it starts; the
// authentication alarm stays off.
func TestDropOffAlarmSurvivesRestart(t *testing.T) {
	sim := startSim(t, duosim.Config{Seed: suiteSeed, AvailabilityLag: dropOffLag})
	l := backfill(t, sim, map[duoapi.LogType]int{
		duoapi.Authentication: 300, duoapi.Telephony: 200, duoapi.Administrator: 200, duoapi.OfflineEnrollment: 100,
	})
	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(outDir, 0o755))
	dbPath := filepath.Join(dir, "state", "checkpoints.db")
	conf := map[string]any{
		"input": duoInput(sim, map[string]any{
			"checkpoint_key":      "dropoff",
			"initial_lookback":    "25h",
			"poll_interval":       "1s",
			"availability_lag":    dropOffLag.String(),
			"drop_off_alarm":      dropOffAfter.String(),
			"requests_per_minute": 6000,
		}),
		"cache_resources": bboltCache(dbPath),
		"output":          fileOutputByType(outDir),
	}

	// Authentication, the control, gets events throughout both runs,
	// from a few seconds before run 1, so that run 1 reads some: the input
	// asks for nothing newer than the lag plus duoapi.ClockMargin.
	liveCtx, stopLive := context.WithCancel(t.Context())
	liveDone := make(chan error, 1)
	go func() { liveDone <- sim.RunLive(liveCtx, map[duoapi.LogType]float64{duoapi.Authentication: 10}) }()
	t.Cleanup(func() { stopLive(); <-liveDone })
	time.Sleep(dropOffLag + duoapi.ClockMargin)

	p1 := startDuostream(t, dir, "run1", conf)
	l.waitDeliveredTo(t, p1, outDir, time.Minute, 50*time.Millisecond, "the backfill delivered by run 1")
	delivered := time.Now()

	time.Sleep(time.Until(delivered.Add(dropOffQuiet)))
	m1, err := p1.metrics()
	require.NoError(t, err)
	for _, lt := range duoapi.AllLogTypes {
		assert.Zero(t, m1.sum("duo_drop_off_alarm", "log_type", string(lt)), "run 1: %s alarm after %s of quiet", lt, dropOffQuiet)
	}
	require.Positive(t, m1.sum("duo_events_total", "log_type", string(duoapi.Authentication))-float64(len(l.events[duoapi.Authentication])),
		"run 1 read live authentication events")
	stopAt := time.Now()
	require.NoError(t, p1.stop(30*time.Second), "run 1 exits cleanly on SIGTERM")
	stopTook := time.Since(stopAt)
	require.NotContains(t, p1.logs(), "Drop-off alarm", "run 1 raised no alarm")

	// The time of the last event is stored with each position.
	positions, err := readStoredPositions(t.Context(), dbPath, "dropoff")
	require.NoError(t, err)
	lastEvent := map[duoapi.LogType]time.Time{}
	for _, lt := range duoapi.AllLogTypes {
		pos, ok := positions[lt]
		require.True(t, ok, "a position is stored for %s", lt)
		require.False(t, pos.LastEvent.IsZero(), "the %s position holds the time of its last event", lt)
		lastEvent[lt] = pos.LastEvent
	}
	for _, lt := range dropOffQuietTypes {
		assert.False(t, lastEvent[lt].After(delivered), "%s: last event %s stored, after the backfill was delivered at %s", lt, lastEvent[lt], delivered)
	}
	assert.True(t, lastEvent[duoapi.Authentication].After(delivered), "authentication: the stored last event %s is a live one, after the backfill", lastEvent[duoapi.Authentication])

	p2 := startDuostream(t, dir, "run2", conf)
	started := time.Now()
	fired := map[duoapi.LogType]time.Time{}
	var authAlarm float64
	waitFor(t, p2, dropOffFireBy+5*time.Second, 50*time.Millisecond, "the drop-off alarm of every quiet log type in run 2", func() bool {
		m, err := p2.metrics()
		if err != nil {
			return false // not serving yet
		}
		now := time.Now()
		authAlarm = max(authAlarm, m.sum("duo_drop_off_alarm", "log_type", string(duoapi.Authentication)))
		for _, lt := range dropOffQuietTypes {
			if _, ok := fired[lt]; !ok && m.sum("duo_drop_off_alarm", "log_type", string(lt)) == 1 {
				fired[lt] = now
			}
		}
		return len(fired) == len(dropOffQuietTypes)
	})
	// The control keeps its alarm off a while longer: past the time an
	// alarm counting from its stored last event would have fired, had no
	// event come.
	controlUntil := lastEvent[duoapi.Authentication].Add(dropOffAfter + 2*time.Second)
	for time.Now().Before(controlUntil) {
		m, err := p2.metrics()
		require.NoError(t, err)
		authAlarm = max(authAlarm, m.sum("duo_drop_off_alarm", "log_type", string(duoapi.Authentication)))
		time.Sleep(100 * time.Millisecond)
	}
	m2, err := p2.metrics()
	require.NoError(t, err)
	require.NoError(t, p2.stop(30*time.Second), "run 2 exits cleanly on SIGTERM")
	logs := p2.logs()

	assert.Zero(t, authAlarm, "the authentication alarm stays off: its events keep coming")
	assert.NotContains(t, logs, "no new Duo authentication events", "no alarm logged for authentication")
	assert.Positive(t, m2.sum("duo_events_total", "log_type", string(duoapi.Authentication)), "run 2 read live authentication events")
	var parts []string
	for _, lt := range dropOffQuietTypes {
		at := fired[lt]
		sinceStart, sinceLast := at.Sub(started), at.Sub(lastEvent[lt])
		assert.Less(t, sinceStart, dropOffFireBy, "%s: the alarm fired %s after run 2 started, %s after the last event", lt, sinceStart, sinceLast)
		// The metric is polled every 50 ms and checked by the input every
		// drop_off_alarm/20 (600 ms).
		assert.GreaterOrEqual(t, sinceLast, dropOffAfter, "%s: the alarm fired only %s after the last event", lt, sinceLast)
		assert.Less(t, sinceLast, dropOffAfter+2*time.Second, "%s: the alarm fired %s after the last event", lt, sinceLast)
		line := fmt.Sprintf("Drop-off alarm: no new Duo %s events for ", lt)
		assert.Contains(t, logs, line, "the alarm of %s is logged", lt)
		assert.Equal(t, 1, strings.Count(logs, line), "the alarm of %s is logged once per interval", lt)
		parts = append(parts, fmt.Sprintf("%s %s after run 2 started, %s after its last event", lt,
			sinceStart.Round(100*time.Millisecond), sinceLast.Round(100*time.Millisecond)))
	}

	figure(t, "drop_off_alarm %s; run 1 delivered %d backfill events and was stopped after %s of quiet (run 2 started %s after the last backfill event): the alarm fired in run 2 for %s (limit: %s after run 2 started)",
		dropOffAfter, l.total(), dropOffQuiet, started.Sub(delivered).Round(100*time.Millisecond), strings.Join(parts, "; "), dropOffFireBy)
	figure(t, "control: authentication, with %0.f live events read in run 2, kept duo_drop_off_alarm at 0 until %s after run 2 started, and logged no alarm; run 1 took %s to stop on SIGTERM",
		m2.sum("duo_events_total", "log_type", string(duoapi.Authentication)), controlUntil.Sub(started).Round(100*time.Millisecond), stopTook.Round(time.Millisecond))
}
