// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/duostream/duostream/cache"
	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// eventID identifies a delivered event the way the simulator can list it:
// its raw body, hashed.
func eventID(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:12])
}

// collector records every delivered event by identity: "<log type>/<id>",
// or "<account id>/<log type>/<id>" for a child account's, with the
// metadata each account's messages carried.
type collector struct {
	mu     sync.Mutex
	counts map[string]int // identity -> deliveries
	byType map[string]int
	meta   map[string]map[string]string // account ID -> metadata key -> value
	total  int
}

func newCollector() *collector {
	return &collector{counts: map[string]int{}, byType: map[string]int{}, meta: map[string]map[string]string{}}
}

// identity names an event of log type lt (a schema name) of child account
// account ("" for the credentials' own) with body.
func identity(account, lt string, body []byte) string {
	if account == "" {
		return lt + "/" + eventID(body)
	}
	return account + "/" + lt + "/" + eventID(body)
}

func (c *collector) consume(_ context.Context, batch service.MessageBatch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range batch {
		b, err := m.AsBytes()
		if err != nil {
			return err
		}
		lt, _ := m.MetaGet(MetaLogType)
		account, _ := m.MetaGet(MetaAccountID)
		c.counts[identity(account, lt, b)]++
		c.byType[lt]++
		c.total++
		if c.meta[account] == nil {
			c.meta[account] = map[string]string{}
		}
		for _, k := range []string{MetaAccountName, MetaAPIHostname} {
			v, _ := m.MetaGet(k)
			if prev, ok := c.meta[account][k]; ok && prev != v {
				return fmt.Errorf("account %q: metadata %s is %q and %q", account, k, prev, v)
			}
			c.meta[account][k] = v
		}
	}
	return nil
}

func (c *collector) delivered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// tally compares what runs delivered with want: the events lost, those
// delivered more often than want holds them, and those want does not hold.
func tally(want map[string]int, runs ...*collector) (lost, repeated, foreign int) {
	got := map[string]int{}
	for _, c := range runs {
		c.mu.Lock()
		for id, n := range c.counts {
			got[id] += n
		}
		c.mu.Unlock()
	}
	for id, n := range want {
		lost += max(0, n-got[id])
		repeated += max(0, got[id]-n)
	}
	for id := range got {
		if want[id] == 0 {
			foreign++
		}
	}
	return lost, repeated, foreign
}

// complete reports whether runs together delivered every event of want.
func complete(want map[string]int, runs ...*collector) bool {
	lost, _, _ := tally(want, runs...)
	return lost == 0
}

// simInputYAML configures the input against sim with a bbolt checkpoint.
func simInputYAML(sim *duosim.Server, extra string) string {
	return fmt.Sprintf(`
duo_admin_logs:
  api_hostname: %s
  integration_key: %s
  secret_key: %s
  base_url: %s
  checkpoint_cache: state
  initial_lookback: 48h
  poll_interval: 1s
  requests_per_minute: 60000
  backoff: {initial_interval: 10ms, max_interval: 50ms}
  rate_limit_backoff: {initial_interval: 10ms, max_interval: 50ms}
%s`, sim.APIHost(), sim.IntegrationKey(), sim.SecretKey(), sim.URL, extra)
}

// runStream runs a stream of inputYAML into consume until until holds (then
// stops it) or the stream ends by itself, which it reports.
func runStream(t *testing.T, inputYAML, statePath string, consume service.MessageBatchHandlerFunc, until func() bool) (ended bool) {
	t.Helper()
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML(`level: warn`))
	require.NoError(t, b.AddCacheYAML(fmt.Sprintf("label: state\nbbolt:\n  path: %s\n", statePath)))
	require.NoError(t, b.AddInputYAML(inputYAML))
	require.NoError(t, b.AddBatchConsumerFunc(consume))
	strm, err := b.Build()
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- strm.Run(context.Background()) }()
	deadline := time.Now().Add(60 * time.Second)
	for !until() && time.Now().Before(deadline) {
		select {
		case err := <-done:
			require.NoError(t, err, "stream stopped by itself")
			return true
		case <-time.After(20 * time.Millisecond):
		}
	}
	require.NoError(t, strm.StopWithin(10*time.Second))
	<-done
	return false
}

// expected counts the events the simulator holds by identity (v1 events
// have no ID, and two of them can be identical).
func expected(sim *duosim.Server, from, to time.Time) map[string]int {
	want := map[string]int{}
	for _, t := range duoapi.AllLogTypes {
		for _, ev := range sim.Events(t, from, to) {
			want[t.SchemaName()+"/"+eventID(ev.Body)]++
		}
	}
	return want
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestBackfillExactlyOnce pulls a backfill of all six log types, with split
// seconds on the v1 endpoints and more authentication, activity and Trust
// Monitor events in single milliseconds than a page holds, from a simulator
// that checks signatures as Duo does, and checks every event arrives exactly
// once within the request counts Duo's paging allows.
func TestBackfillExactlyOnce(t *testing.T) {
	sim, err := duosim.Start(duosim.Config{Seed: 7})
	require.NoError(t, err)
	defer sim.Close()
	now := time.Now()
	from, to := now.Add(-47*time.Hour), now.Add(-10*time.Minute)
	counts := map[duoapi.LogType]int{
		duoapi.Authentication: 4500, duoapi.Administrator: 2300, duoapi.Telephony: 1500, duoapi.OfflineEnrollment: 100,
		duoapi.Activity: 2250, duoapi.TrustMonitor: 675,
	}
	for lt, n := range counts {
		require.NoError(t, sim.Generate(lt, n, from, to))
	}
	// 1500 authentication events in one millisecond, 1500 administrator
	// events in one second: pages must split them.
	crowded := now.Add(-20 * time.Hour).Truncate(time.Second)
	require.NoError(t, sim.Generate(duoapi.Authentication, 1500, crowded, crowded))
	require.NoError(t, sim.Generate(duoapi.Administrator, 700, crowded, crowded))
	// 750 of 3,000 activity events in one millisecond, 225 of 900 Trust
	// Monitor events surfaced in one.
	require.NoError(t, sim.Generate(duoapi.Activity, 750, crowded, crowded))
	require.NoError(t, sim.Generate(duoapi.TrustMonitor, 225, crowded, crowded))
	want := expected(sim, now.Add(-48*time.Hour), now)
	require.Equal(t, 4500+2300+1500+100+1500+700+3000+900, total(want), "events in the simulator")

	c := newCollector()
	// A poll interval of a minute, so that the requests counted below are
	// those of the backfill.
	conf := strings.Replace(simInputYAML(sim, "  log_types: [authentication, administrator, telephony, offline_enrollment, activity, trust_monitor]\n"),
		"poll_interval: 1s", "poll_interval: 1m", 1)
	runStream(t, conf, filepath.Join(t.TempDir(), "state.db"), c.consume, func() bool { return c.delivered() >= total(want) })
	// Give a straggler a moment to show up as a duplicate, if any.
	time.Sleep(100 * time.Millisecond)

	c.mu.Lock()
	defer c.mu.Unlock()
	var lost, dups int
	for id, n := range want {
		got := c.counts[id]
		lost += max(0, n-got)
		dups += max(0, got-n)
	}
	assert.Zero(t, lost, "events lost")
	assert.Zero(t, dups, "events delivered twice")
	assert.Len(t, c.counts, len(want), "no event that the simulator does not hold")

	reqs := map[string]int{}
	for _, r := range sim.Requests() {
		reqs[r.Path]++
	}
	t.Logf("requests per endpoint: %v", reqs)
	// v2: one request per 1000 events, the empty last page, and at most one
	// more window: the minute the first window keeps in hand until Duo's
	// clock is known (duoapi.UnknownClockMargin); polls once caught up wait
	// for the minute's poll_interval.
	assert.LessOrEqual(t, reqs[duoapi.PathAuthenticationV2], (6000+999)/1000+2)
	assert.LessOrEqual(t, reqs[duoapi.PathTelephonyV2], (1500+999)/1000+2)
	assert.LessOrEqual(t, reqs[duoapi.PathActivityV2], (3000+999)/1000+2)
	assert.LessOrEqual(t, reqs[duoapi.PathTrustMonitorV1], (900+duoapi.TrustMonitorPageLimit-1)/duoapi.TrustMonitorPageLimit+2)
	// v1: pages re-read their boundary second, so a page carries fewer
	// than 1000 new events; 700 events of one second take two pages.
	assert.LessOrEqual(t, reqs[duoapi.PathAdministratorV1], 3000/900+4)
	assert.LessOrEqual(t, reqs[duoapi.PathOfflineEnrollmentV1], 3)
}

// TestRestartResumesAfterAcknowledged builds the stream twice on the same
// checkpoint store: the second run delivers what the first did not, and
// repeats at most what was in flight when the first stopped.
func TestRestartResumesAfterAcknowledged(t *testing.T) {
	sim, err := duosim.Start(duosim.Config{Seed: 11})
	require.NoError(t, err)
	defer sim.Close()
	now := time.Now()
	from, to := now.Add(-40*time.Hour), now.Add(-10*time.Minute)
	require.NoError(t, sim.Generate(duoapi.Authentication, 6000, from, to))
	require.NoError(t, sim.Generate(duoapi.Administrator, 3000, from, to))
	want := expected(sim, now.Add(-48*time.Hour), now)

	state := filepath.Join(t.TempDir(), "state.db")
	conf := simInputYAML(sim, "  log_types: [authentication, administrator]\n")
	first := newCollector()
	runStream(t, conf, state, first.consume, func() bool { return first.delivered() >= 3000 })
	require.Less(t, first.delivered(), total(want), "the first run stopped mid-backfill")

	second := newCollector()
	runStream(t, conf, state, second.consume, func() bool { return complete(want, first, second) })
	lost, repeated, _ := tally(want, first, second)
	t.Logf("first run %d, second run %d, repeated %d", first.delivered(), second.delivered(), repeated)
	assert.Zero(t, lost)
	// A graceful stop waits for the in-flight acknowledgements: nothing
	// needs repeating.
	assert.Zero(t, repeated)
}

// TestCorruptCheckpointRestartsFromLookback stores garbage as a position: the
// input reports it and starts again from initial_lookback, never from now.
func TestCorruptCheckpointRestartsFromLookback(t *testing.T) {
	sim, err := duosim.Start(duosim.Config{Seed: 3})
	require.NoError(t, err)
	defer sim.Close()
	now := time.Now()
	require.NoError(t, sim.Generate(duoapi.Administrator, 50, now.Add(-30*time.Hour), now.Add(-10*time.Minute)))

	state := filepath.Join(t.TempDir(), "state.db")
	b := service.NewStreamBuilder()
	require.NoError(t, b.AddCacheYAML(fmt.Sprintf("label: state\nbbolt:\n  path: %s\n", state)))
	require.NoError(t, b.AddInputYAML(simInputYAML(sim, "  log_types: [administrator]\n")))
	var logs syncBuffer
	b.SetPrintLogger(&logs)
	c := newCollector()
	require.NoError(t, b.AddBatchConsumerFunc(c.consume))
	strm, err := b.Build()
	require.NoError(t, err)
	// Write a truncated position before the input connects.
	res := strm.Resources()
	key := PositionKeys(DefaultCheckpointKey(sim.APIHost(), sim.IntegrationKey()), duoapi.Administrator)[0]
	require.NoError(t, res.AccessCache(t.Context(), "state", func(cache service.Cache) {
		require.NoError(t, cache.Set(t.Context(), key, []byte(`{"v":2,"gen":3,"cursor":{"v":1,"mintime":17`), nil))
	}))
	done := make(chan error, 1)
	go func() { done <- strm.Run(context.Background()) }()
	deadline := time.Now().Add(20 * time.Second)
	for c.delivered() < 50 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, strm.StopWithin(5*time.Second))
	<-done
	assert.Equal(t, 50, c.delivered(), "every event of the lookback window is delivered")
	assert.Contains(t, logs.String(), "cannot be read")
	assert.Contains(t, logs.String(), "starting again 48h0m0s ago")
}

// syncBuffer is a goroutine-safe log sink for service.PrintLogger.
type syncBuffer struct {
	mu  sync.Mutex
	buf []byte
}

func (s *syncBuffer) Printf(format string, v ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = fmt.Appendf(s.buf, format+"\n", v...)
}

func (s *syncBuffer) Println(v ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf = fmt.Appendln(s.buf, v...)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.buf)
}

// TestPartlyRejectedPagesAreReplayedWhole rejects part of every page, and
// then part of that part, the way a switch output rejects one of its cases
// twice: every event is still delivered. Benthos' own replay of the parts a
// batch error names acknowledges the wrong events of a part rejected twice.
func TestPartlyRejectedPagesAreReplayedWhole(t *testing.T) {
	sim, err := duosim.Start(duosim.Config{Seed: 11})
	require.NoError(t, err)
	defer sim.Close()
	now := time.Now()
	require.NoError(t, sim.Generate(duoapi.Authentication, 1800, now.Add(-5*time.Hour), now.Add(-10*time.Minute)))
	want := expected(sim, now.Add(-48*time.Hour), now)

	c := newCollector()
	var mu sync.Mutex
	attempts := map[string]int{} // duo_page_id -> batches of it seen
	rejectPart := func(ctx context.Context, batch service.MessageBatch) error {
		page, _ := batch[0].MetaGet(MetaPageID)
		mu.Lock()
		attempts[page]++
		n := attempts[page]
		mu.Unlock()
		var failed []int
		switch n {
		case 1: // the first attempt: every other event fails
			for i := 1; i < len(batch); i += 2 {
				failed = append(failed, i)
			}
		case 2: // the second: the first event of what came fails again
			failed = []int{0}
		}
		if len(failed) == 0 {
			return c.consume(ctx, batch)
		}
		batchErr := service.NewBatchError(batch, errors.New("rejected"))
		var stored service.MessageBatch
		for i, m := range batch {
			if slices.Contains(failed, i) {
				batchErr.Failed(i, errors.New("rejected"))
			} else {
				stored = append(stored, m)
			}
		}
		if err := c.consume(ctx, stored); err != nil {
			return err
		}
		return batchErr
	}
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML(`level: warn`))
	require.NoError(t, b.AddCacheYAML(fmt.Sprintf("label: state\nbbolt:\n  path: %s\n", filepath.Join(t.TempDir(), "state.db"))))
	require.NoError(t, b.AddInputYAML(simInputYAML(sim, "  log_types: [authentication]\n")))
	require.NoError(t, b.AddBatchConsumerFunc(rejectPart))
	strm, err := b.Build()
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- strm.Run(context.Background()) }()
	complete := func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		for id := range want {
			if c.counts[id] == 0 {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(20 * time.Second)
	for !complete() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(t, strm.StopWithin(5*time.Second))
	<-done
	c.mu.Lock()
	defer c.mu.Unlock()
	lost := 0
	for id := range want {
		if c.counts[id] == 0 {
			lost++
		}
	}
	assert.Zero(t, lost, "events never written of %d", len(want))
	assert.Greater(t, c.total, len(want), "the stored parts of a page come again with the page")
}
