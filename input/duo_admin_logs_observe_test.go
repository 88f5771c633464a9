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
	a := newDropOffAlarm([]duoapi.LogType{duoapi.Authentication, duoapi.Telephony}, time.Hour, start, nil, logger, m)

	a.check(start.Add(59 * time.Minute))
	assert.Zero(t, logs.lines("Drop-off alarm"), "silent for less than the interval")

	a.sawEvents(duoapi.Authentication, start.Add(30*time.Minute))
	a.check(start.Add(61 * time.Minute))
	assert.Equal(t, 1, logs.lines("Drop-off alarm: no new Duo telephony events"), "telephony is silent for an hour")
	assert.Zero(t, logs.lines("Duo authentication events for"))

	a.check(start.Add(90 * time.Minute))
	assert.Equal(t, 1, logs.lines("Drop-off alarm: no new Duo telephony events"), "logged once per interval")
	a.check(start.Add(122 * time.Minute))
	assert.Equal(t, 2, logs.lines("Drop-off alarm: no new Duo telephony events"), "and again after another interval")
	assert.Equal(t, 1, logs.lines("Drop-off alarm: no new Duo authentication events"), "authentication went silent too")

	a.sawEvents(duoapi.Telephony, start.Add(123*time.Minute))
	assert.Equal(t, 1, logs.lines("Duo telephony events are arriving again"))
	a.check(start.Add(124 * time.Minute))
	assert.Equal(t, 2, logs.lines("Drop-off alarm: no new Duo telephony events"), "cleared")
}

func TestDropOffAlarmDisabled(t *testing.T) {
	var logs lockedBuffer
	logger := service.NewLoggerFromSlog(slog.New(slog.NewTextHandler(&logs, nil)))
	m := newInputMetrics(service.MockResources().Metrics())
	start := time.Now()
	a := newDropOffAlarm([]duoapi.LogType{duoapi.Administrator}, 0, start, nil, logger, m)
	a.check(start.Add(1000 * time.Hour))
	assert.Zero(t, logs.lines("Drop-off alarm"))
}
