// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// TestCatchUpPrediction pulls a 179-day backfill from the simulator at a
// request budget that makes it take seconds, and checks that the finish
// predicted once a quarter of it is read is within 20% of the actual
// finish: from Duo's total_objects for authentication, from the pace of the
// position for the v1 administrator log, which has no total.
func TestCatchUpPrediction(t *testing.T) {
	for _, lt := range []duoapi.LogType{duoapi.Authentication, duoapi.Administrator} {
		t.Run(string(lt), func(t *testing.T) {
			sim, err := duosim.Start(duosim.Config{Seed: 31})
			require.NoError(t, err)
			defer sim.Close()
			const n = 48000
			now := time.Now()
			require.NoError(t, sim.Generate(lt, n, now.Add(-duoapi.MaxLookback+time.Hour), now.Add(-10*time.Minute)))
			res := service.MockResources(service.MockResourcesOptAddCache("state"))
			conf := fmt.Sprintf(`
api_hostname: %s
integration_key: %s
secret_key: %s
base_url: %s
checkpoint_cache: state
log_types: [%s]
initial_lookback: 4296h
requests_per_minute: 600
`, sim.APIHost(), sim.IntegrationKey(), sim.SecretKey(), sim.URL, lt)
			parsed, err := duoAdminLogsSpec().ParseYAML(conf, nil)
			require.NoError(t, err)
			in, err := newDuoAdminLogsInput(parsed, res)
			require.NoError(t, err)
			require.NoError(t, in.Connect(t.Context()))
			defer in.Close(t.Context())

			var start, predicted time.Time
			delivered := 0
			for delivered < n {
				batch, ack, err := in.ReadBatch(t.Context())
				require.NoError(t, err)
				require.NoError(t, ack(t.Context(), nil))
				if start.IsZero() {
					start = time.Now()
				}
				delivered += len(batch)
				if predicted.IsZero() && delivered >= n/4 {
					in.progress.mu.Lock()
					e := in.progress.estimate(in.progress.streams[duoapi.StreamKey{LogType: lt}], time.Now())
					in.progress.mu.Unlock()
					require.Positive(t, e.eta, "a prediction at a quarter: %s", e)
					predicted = time.Now().Add(e.eta)
					t.Logf("at a quarter (%d events): %s", delivered, e)
					if lt == duoapi.Authentication {
						assert.InDelta(t, n-delivered, e.backlog, 1, "the events to go, from total_objects")
					} else {
						assert.InEpsilon(t, n-delivered, e.backlog, 0.2, "the events to go, from the density read")
					}
				}
			}
			finished := time.Now()
			off := math.Abs(predicted.Sub(finished).Seconds()) / finished.Sub(start).Seconds()
			t.Logf("took %s, predicted finish off by %.1f%%", finished.Sub(start).Round(time.Millisecond), 100*off)
			assert.Less(t, off, 0.2, "predicted within 20%% of the actual finish")
		})
	}
}

// TestCatchUpLogs checks what a catch-up logs: the figures every interval
// while behind, for one account a line per stream and for child accounts
// one line for all, and once that a stream has caught up; nothing for a
// stream that is not behind.
func TestCatchUpLogs(t *testing.T) {
	var logs lockedBuffer
	logger := service.NewLoggerFromSlog(slog.New(slog.NewTextHandler(&logs, nil)))
	m := newInputMetrics(service.MockResources().Metrics())
	c := newCatchUp(2*time.Minute, time.Minute, time.Time{}, logger, m)
	t0 := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	own := duoapi.Stream{LogType: duoapi.Authentication}
	fresh := duoapi.Stream{LogType: duoapi.Administrator}
	child := duoapi.Stream{Account: duoapi.Account{ID: "DACHILD0000000000001", Name: "Acme"}, LogType: duoapi.Authentication}
	for _, s := range []duoapi.Stream{own, fresh, child} {
		c.watchStream(s)
	}
	// own and child read a day of events a second, 1000 events a page;
	// fresh is at the edge.
	for i := range 10 {
		now := t0.Add(time.Duration(i) * time.Second)
		pos := t0.Add(-10*24*time.Hour + time.Duration(i)*24*time.Hour)
		c.batch(own, now, pos, 1000, -1)
		c.batch(child, now, pos, 1000, int64(20000-1000*i))
		c.batch(fresh, now, now.Add(-2*time.Minute), 3, 0)
	}
	c.check(t0.Add(9 * time.Second))
	assert.Equal(t, 1, logs.lines("Duo authentication logs are catching up: 23h58m0s behind, about 999 events to go at 1000 events/s, caught up in about 1s at the current request budget"))
	assert.Zero(t, logs.lines("Duo administrator logs are catching up"), "a stream at the edge is not behind")
	assert.Equal(t, 1, logs.lines(`Duo child accounts are catching up: 1 streams behind, about 11000 events to go; the last, authentication of account DACHILD0000000000001 (\"Acme\"), caught up in about 11s`))
	c.check(t0.Add(10 * time.Second))
	assert.Equal(t, 1, logs.lines("are catching up: 23h"), "not again before the interval")
	c.batch(own, t0.Add(11*time.Second), t0.Add(11*time.Second-3*time.Minute), 1000, -1)
	c.check(t0.Add(11 * time.Second))
	assert.Equal(t, 1, logs.lines("Duo authentication logs have caught up: 10000 events in 11s"), "the events read since the first batch behind")
	c.check(t0.Add(2 * time.Minute))
	assert.Equal(t, 1, logs.lines("Duo authentication logs have caught up"), "said once")
	assert.Equal(t, 2, logs.lines("Duo child accounts are catching up"), "the child is still behind")
}

// TestCatchUpToEndTime checks that a bounded run catches up to its
// end_time, not to now.
func TestCatchUpToEndTime(t *testing.T) {
	m := newInputMetrics(service.MockResources().Metrics())
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	end := now.Add(-48 * time.Hour)
	c := newCatchUp(2*time.Minute, time.Minute, end, service.MockResources().Logger(), m)
	s := duoapi.Stream{LogType: duoapi.Authentication}
	c.watchStream(s)
	c.batch(s, now, end.Add(-24*time.Hour), 1000, -1)
	c.batch(s, now.Add(2*time.Second), end.Add(-12*time.Hour), 1000, -1)
	behind, _, eta := c.status(s.Key(), now.Add(2*time.Second))
	assert.True(t, behind)
	assert.InDelta(t, 2, eta, 0.01, "half way to the end in 2s: 2s to go")
	c.batch(s, now.Add(4*time.Second), end.Add(-time.Second), 1000, -1)
	behind, _, _ = c.status(s.Key(), now.Add(4*time.Second))
	assert.False(t, behind, "at its end, two days before now, the run has caught up")
}

// TestCatchUpSlowerThanTime checks that a live stream whose position moves
// on slower than time, so that it never catches up, gets no finish time.
func TestCatchUpSlowerThanTime(t *testing.T) {
	m := newInputMetrics(service.MockResources().Metrics())
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	c := newCatchUp(2*time.Minute, time.Minute, time.Time{}, service.MockResources().Logger(), m)
	s := duoapi.Stream{LogType: duoapi.Authentication}
	c.watchStream(s)
	pos := now.Add(-time.Hour)
	c.batch(s, now, pos, 1000, -1)
	// Ten seconds on, the position has moved five.
	c.batch(s, now.Add(10*time.Second), pos.Add(5*time.Second), 1000, -1)
	behind, backlog, eta := c.status(s.Key(), now.Add(10*time.Second))
	assert.True(t, behind)
	assert.Equal(t, float64(-1), eta, "never caught up at this pace")
	assert.Positive(t, backlog, "the events to go are still estimated")
	// Twice as fast as time: the gap closes at a second a second.
	c.batch(s, now.Add(20*time.Second), pos.Add(40*time.Second), 1000, -1)
	_, _, eta = c.status(s.Key(), now.Add(20*time.Second))
	gap := now.Add(20*time.Second - 2*time.Minute).Sub(pos.Add(40 * time.Second))
	assert.InDelta(t, gap.Seconds()*20/(40-20), eta, 0.01)
}
