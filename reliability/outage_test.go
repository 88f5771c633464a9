// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// Settings of TestOutputOutage.
const (
	outageLength          = 10 * time.Second
	outageCheckpointLimit = 5000
	outagePeakRSSLimit    = 150 << 20
)

// sink is an HTTP endpoint that takes pages of events, one event per line,
// at /<Duo schema name>, and answers 503 while it is down.
type sink struct {
	down     atomic.Bool
	refused  atomic.Int64
	mu       sync.Mutex
	got      map[duoapi.LogType]counts
	received int
	err      error
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if s.down.Load() {
		s.refused.Add(1)
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	var lt duoapi.LogType
	for _, t := range duoapi.AllLogTypes {
		if r.URL.Path == "/"+t.SchemaName() {
			lt = t
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if lt == "" {
		s.err = fmt.Errorf("request to unknown path %s", r.URL.Path)
		http.Error(w, s.err.Error(), http.StatusNotFound)
		return
	}
	for _, line := range bytes.Split(body, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		id, err := identity(lt, line)
		if err != nil {
			s.err = err
			continue
		}
		s.got[lt][id]++
		s.received++
	}
}

func (s *sink) snapshot() (map[duoapi.LogType]counts, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[duoapi.LogType]counts{}
	for t, c := range s.got {
		out[t] = counts{}
		for id, n := range c {
			out[t][id] = n
		}
	}
	return out, s.received, s.err
}

// readFileCursors reads the cursors the file cache in dir stores under
// prefix, each in its stored form, to tell whether one moved.
func readFileCursors(dir, prefix string) (map[duoapi.LogType]string, error) {
	cursors, _, err := readPositions(context.Background(), fileStore(dir), prefix)
	if err != nil {
		return nil, err
	}
	out := map[duoapi.LogType]string{}
	for t, c := range cursors {
		out[t] = string(c.Encode())
	}
	return out, nil
}

// TestOutputOutage sends a backfill to an HTTP sink that answers 503 for
// ten seconds. While it is down, no stored cursor moves, reading from Duo
// stops once checkpoint_limit events are in flight, and memory stays
// bounded; once it is back every event arrives, once.
func TestOutputOutage(t *testing.T) {
	sim := startSim(t, duosim.Config{Seed: suiteSeed})
	l := backfill(t, sim, map[duoapi.LogType]int{
		duoapi.Authentication: 20000, duoapi.Telephony: 3000, duoapi.Administrator: 4000, duoapi.OfflineEnrollment: 1000,
		duoapi.Activity: 2000, duoapi.TrustMonitor: 600,
	})

	sk := &sink{got: map[duoapi.LogType]counts{}}
	for _, lt := range duoapi.AllLogTypes {
		sk.got[lt] = counts{}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: sk, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	require.NoError(t, os.MkdirAll(filepath.Join(stateDir, "outage"), 0o755))
	p := startDuostream(t, dir, "outage", map[string]any{
		"input": duoInput(sim, map[string]any{
			"checkpoint_key":      "outage",
			"checkpoint_limit":    outageCheckpointLimit,
			"initial_lookback":    "25h",
			"requests_per_minute": 120, // a page every 500ms: the backfill outlasts the outage
		}),
		// The file cache keeps each cursor in a plain file, which the test
		// reads while duostream runs.
		"cache_resources": []any{map[string]any{"label": "state", "file": map[string]any{"directory": stateDir}}},
		"output": map[string]any{
			"http_client": map[string]any{
				"url":           "http://" + ln.Addr().String() + `/${! meta("duo_log_type") }`,
				"verb":          "POST",
				"retries":       1,
				"retry_period":  "100ms",
				"max_in_flight": 4,
			},
			// One request per page: the events of a batch, one per line.
			"processors": []any{map[string]any{"archive": map[string]any{"format": "lines"}}},
		},
	})

	waitFor(t, p, time.Minute, 50*time.Millisecond, "3000 events at the sink", func() bool {
		_, n, _ := sk.snapshot()
		return n >= 3000
	})
	sk.down.Store(true)
	downAt := time.Now()
	m0, err := p.metrics()
	require.NoError(t, err)
	hwmBefore, err := p.procStatus("VmHWM")
	require.NoError(t, err)
	// Acknowledgements of requests that were answered before the outage
	// may still be stored in its first moments.
	time.Sleep(time.Second)
	before, err := readFileCursors(stateDir, "outage")
	require.NoError(t, err)
	require.NotEmpty(t, before, "some cursors were stored before the outage")
	_, atDown, _ := sk.snapshot()

	var peakRSS int64
	var midRequests int
	moved := ""
	for time.Since(downAt) < outageLength {
		time.Sleep(250 * time.Millisecond)
		rss, err := p.procStatus("VmRSS")
		require.NoError(t, err, "duostream is still running during the outage")
		peakRSS = max(peakRSS, rss)
		cur, err := readFileCursors(stateDir, "outage")
		require.NoError(t, err)
		for lt, c := range cur {
			if before[lt] != c && moved == "" {
				moved = fmt.Sprintf("%s cursor moved from %s to %s after %s of outage", lt, before[lt], c, time.Since(downAt).Round(time.Millisecond))
			}
		}
		if midRequests == 0 && time.Since(downAt) >= outageLength/2 {
			midRequests = len(sim.Requests())
		}
	}
	endRequests := len(sim.Requests())
	m1, err := p.metrics()
	require.NoError(t, err)
	_, atUp, _ := sk.snapshot()
	sk.down.Store(false)
	upAt := time.Now()

	assert.Empty(t, moved, "no cursor moves while the output is down")
	assert.Equal(t, atDown, atUp, "the sink accepted nothing while down")
	assert.Zero(t, endRequests-midRequests, "no request to Duo in the second half of the outage: reading waits for the output")
	readDuringOutage := m1.sum("duo_events_total") - m0.sum("duo_events_total")
	inFlight := int(m1.sum("duo_events_total")) - atUp
	assert.LessOrEqual(t, inFlight, len(duoapi.AllLogTypes)*outageCheckpointLimit, "events read and not delivered at the end of the outage")
	assert.Less(t, peakRSS, int64(outagePeakRSSLimit), "resident memory during the outage")
	assert.Positive(t, sk.refused.Load(), "the output kept trying while the sink was down")

	waitFor(t, p, 2*time.Minute, 200*time.Millisecond, "every event at the sink after the outage", func() bool {
		got, _, _ := sk.snapshot()
		return l.complete(got)
	})
	recovered := time.Since(upAt)
	require.NoError(t, p.stop(30*time.Second), "duostream exits cleanly on SIGTERM")
	got, received, sinkErr := sk.snapshot()
	require.NoError(t, sinkErr)
	sum := sumTally(l.compare(got))
	assert.Zero(t, sum.lost, "events lost")
	assert.Zero(t, sum.dups, "events duplicated")
	assert.Zero(t, sum.foreign, "events the simulator never held")
	after, err := readFileCursors(stateDir, "outage")
	require.NoError(t, err)
	var movedAfter []string
	for _, lt := range duoapi.AllLogTypes {
		if after[lt] != before[lt] {
			movedAfter = append(movedAfter, string(lt))
		}
	}
	assert.Contains(t, movedAfter, string(duoapi.Authentication), "the cursors move again once the output is back")

	figure(t, "sink down for %s after %d of %d events: sink refused %d requests, accepted 0; no cursor moved; %0.f events read from Duo during the outage, %d in flight at its end (limit %d per log type x %d), %d requests to Duo in its second half",
		outageLength, atDown, l.total(), sk.refused.Load(), readDuringOutage, inFlight, outageCheckpointLimit, len(duoapi.AllLogTypes), endRequests-midRequests)
	figure(t, "memory: peak RSS %.0f MB before the outage, at most %.0f MB during it (limit %d MB)",
		megabytes(hwmBefore), megabytes(peakRSS), outagePeakRSSLimit>>20)
	figure(t, "after the outage: all %d events at the sink %s after it came back (%d received in all: lost %d, duplicated %d); cursors moved again: %s",
		l.total(), recovered.Round(100*time.Millisecond), received, sum.lost, sum.dups, strings.Join(movedAfter, ", "))
}
