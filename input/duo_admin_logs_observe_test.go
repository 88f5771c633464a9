// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"

	"github.com/duostream/duostream/duoapi"
)

// lockedBuffer collects log output from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), substr)
}

func TestDropOffAlarm(t *testing.T) {
	var logs lockedBuffer
	logger := service.NewLoggerFromSlog(slog.New(slog.NewTextHandler(&logs, nil)))
	m := newInputMetrics(service.MockResources().Metrics())
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := newDropOffAlarm(time.Hour, logger, m)
	watch(a, start, nil, duoapi.Authentication, duoapi.Telephony)

	a.check(start.Add(59 * time.Minute))
	assert.Zero(t, logs.lines("Drop-off alarm"), "silent for less than the interval")

	a.sawEvents(key(duoapi.Authentication), start.Add(30*time.Minute))
	a.check(start.Add(61 * time.Minute))
	assert.Equal(t, 1, logs.lines("Drop-off alarm: no new Duo telephony events"), "telephony is silent for an hour")
	assert.Zero(t, logs.lines("Duo authentication events for"))

	a.check(start.Add(90 * time.Minute))
	assert.Equal(t, 1, logs.lines("Drop-off alarm: no new Duo telephony events"), "logged once per interval")
	a.check(start.Add(122 * time.Minute))
	assert.Equal(t, 2, logs.lines("Drop-off alarm: no new Duo telephony events"), "and again after another interval")
	assert.Equal(t, 1, logs.lines("Drop-off alarm: no new Duo authentication events"), "authentication went silent too")

	a.sawEvents(key(duoapi.Telephony), start.Add(123*time.Minute))
	assert.Equal(t, 1, logs.lines("Duo telephony events are arriving again"))
	a.check(start.Add(124 * time.Minute))
	assert.Equal(t, 2, logs.lines("Drop-off alarm: no new Duo telephony events"), "cleared")
}

// key is the stream key of log type t of the credentials' own account.
func key(t duoapi.LogType) duoapi.StreamKey { return duoapi.StreamKey{LogType: t} }

// watch starts the alarm of the credentials' own account's types at now,
// with the last events stored.
func watch(a *dropOffAlarm, now time.Time, stored map[duoapi.LogType]time.Time, types ...duoapi.LogType) {
	for _, t := range types {
		a.watchStream(duoapi.Stream{LogType: t}, now, stored[t])
	}
}

// TestDropOffAlarmPerChild checks that the alarm of a child account's log
// type is its own: it names the account, one silent child does not raise
// another's, and a child no longer pulled is forgotten.
func TestDropOffAlarmPerChild(t *testing.T) {
	var logs lockedBuffer
	logger := service.NewLoggerFromSlog(slog.New(slog.NewTextHandler(&logs, nil)))
	m := newInputMetrics(service.MockResources().Metrics())
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	a := newDropOffAlarm(time.Hour, logger, m)
	quiet := duoapi.Account{ID: "DAQUIETCHILD00000001", Name: "Quiet", APIHostname: "api-q.duosecurity.com"}
	busy := duoapi.Account{ID: "DABUSYCHILD000000001", Name: "Busy", APIHostname: "api-b.duosecurity.com"}
	for _, acct := range []duoapi.Account{quiet, busy} {
		a.watchStream(duoapi.Stream{Account: acct, LogType: duoapi.Authentication}, start, time.Time{})
	}
	a.sawEvents(duoapi.StreamKey{AccountID: busy.ID, LogType: duoapi.Authentication}, start.Add(50*time.Minute))
	a.check(start.Add(61 * time.Minute))
	assert.Equal(t, 1, logs.lines(`Drop-off alarm: no new Duo authentication of account DAQUIETCHILD00000001`))
	assert.Equal(t, 1, logs.lines(`Quiet`), "the alarm names the child")
	assert.Equal(t, 1, logs.lines("Drop-off alarm"), "the busy child is not alarmed")

	a.pause(quiet.ID)
	a.check(start.Add(130 * time.Minute))
	assert.Equal(t, 1, logs.lines("DAQUIETCHILD00000001"), "an unreachable child raises no drop-off alarm of its own")
	a.resume(quiet.ID)
	a.check(start.Add(131 * time.Minute))
	assert.Equal(t, 2, logs.lines("DAQUIETCHILD00000001"), "until it answers again")

	a.pause(quiet.ID) // no longer pulled
	a.check(start.Add(200 * time.Minute))
	assert.Equal(t, 2, logs.lines("DAQUIETCHILD00000001"), "a child no longer pulled raises no alarm")
	assert.Equal(t, start, a.last(duoapi.StreamKey{AccountID: quiet.ID, LogType: duoapi.Authentication}), "and keeps when its events last came")
	assert.Equal(t, 2, logs.lines("DABUSYCHILD000000001"), "the busy child, silent since, is alarmed, and again an interval later")
}

func TestDropOffAlarmDisabled(t *testing.T) {
	var logs lockedBuffer
	logger := service.NewLoggerFromSlog(slog.New(slog.NewTextHandler(&logs, nil)))
	m := newInputMetrics(service.MockResources().Metrics())
	start := time.Now()
	a := newDropOffAlarm(0, logger, m)
	watch(a, start, nil, duoapi.Administrator)
	a.check(start.Add(1000 * time.Hour))
	assert.Zero(t, logs.lines("Drop-off alarm"))
}

// TestDropOffAlarmCountsFromStoredEvent checks that the alarm of a log type
// counts from the last event stored with its position, so that restarts
// more often than drop_off_alarm do not keep it quiet for ever.
func TestDropOffAlarmCountsFromStoredEvent(t *testing.T) {
	var logs lockedBuffer
	logger := service.NewLoggerFromSlog(slog.New(slog.NewTextHandler(&logs, nil)))
	m := newInputMetrics(service.MockResources().Metrics())
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	stored := map[duoapi.LogType]time.Time{
		duoapi.Authentication: start.Add(-50 * time.Minute), // from an earlier run
		duoapi.Telephony:      start.Add(time.Hour),         // in the future: not believed
	}
	a := newDropOffAlarm(time.Hour, logger, m)
	watch(a, start, stored, duoapi.Authentication, duoapi.Telephony, duoapi.Administrator)
	assert.Equal(t, stored[duoapi.Authentication], a.last(key(duoapi.Authentication)))
	assert.Equal(t, start, a.last(key(duoapi.Telephony)))
	assert.Equal(t, start, a.last(key(duoapi.Administrator)), "nothing stored: counting starts now")

	a.check(start.Add(11 * time.Minute))
	assert.Equal(t, 1, logs.lines("Drop-off alarm: no new Duo authentication events for 1h1m0s"),
		"an hour after the stored event, 11 minutes after the start")
	assert.Zero(t, logs.lines("Drop-off alarm: no new Duo telephony events"))
}

func TestSkewWarning(t *testing.T) {
	var logs lockedBuffer
	logger := service.NewLoggerFromSlog(slog.New(slog.NewTextHandler(&logs, nil)))
	var w skewWarning
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	steps := []struct {
		at          time.Duration
		skew        time.Duration
		wantWarns   int
		wantCleared int
	}{
		{0, 2 * time.Second, 0, 0},
		{time.Minute, -20 * time.Second, 1, 0},
		{2 * time.Minute, -21 * time.Second, 1, 0},  // still large: not again yet
		{12 * time.Minute, -20 * time.Second, 2, 0}, // after skewWarnEvery
		{13 * time.Minute, time.Second, 2, 1},
		{14 * time.Minute, 30 * time.Second, 3, 1},
	}
	for i, s := range steps {
		w.observe(s.skew, now.Add(s.at), logger)
		assert.Equal(t, s.wantWarns, logs.lines("read from Duo's Date header"), "step %d: warnings", i)
		assert.Equal(t, s.wantCleared, logs.lines("within 10s of Duo's again"), "step %d: cleared", i)
	}
	assert.Equal(t, 2, logs.lines("20s ahead of Duo's"), "a fast clock is ahead")
	assert.Equal(t, 1, logs.lines("30s behind Duo's"), "a slow clock is behind")
}

func TestUnackedBatches(t *testing.T) {
	var logs lockedBuffer
	logger := service.NewLoggerFromSlog(slog.New(slog.NewTextHandler(&logs, nil)))
	m := newInputMetrics(service.MockResources().Metrics())
	types := []duoapi.LogType{duoapi.Authentication, duoapi.Telephony}
	u := newUnackedBatches()
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	u.add(key(duoapi.Telephony), 1, start)
	u.add(duoapi.StreamKey{AccountID: "DACHILD0000000000001", LogType: duoapi.Telephony}, 1, start.Add(time.Minute))
	u.add(key(duoapi.Authentication), 1, start)
	u.done(key(duoapi.Authentication), 1)

	u.check(start.Add(4*time.Minute), types, logger, m)
	assert.Zero(t, logs.lines("still not acknowledged"))
	u.check(start.Add(5*time.Minute), types, logger, m)
	assert.Equal(t, 1, logs.lines("Duo telephony events read 5m0s ago are still not acknowledged by the output (2 batches waiting)"))
	assert.Zero(t, logs.lines("Duo authentication events read"), "acknowledged batches do not count")
	u.check(start.Add(7*time.Minute), types, logger, m)
	assert.Equal(t, 1, logs.lines("still not acknowledged"), "not again before another interval")
	u.done(key(duoapi.Telephony), 1)
	u.done(duoapi.StreamKey{AccountID: "DACHILD0000000000001", LogType: duoapi.Telephony}, 1)
	u.check(start.Add(8*time.Minute), types, logger, m)
	assert.Equal(t, 1, logs.lines("The output acknowledges Duo telephony events again"))
}
