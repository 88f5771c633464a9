// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// Settings and limits of BenchmarkMSP500Children.
const (
	scaleChildren = 500
	// scalePeakRSSLimit is the most resident memory the process may use.
	scalePeakRSSLimit = 250 << 20
	// scaleSpreadLimit is the most scheduling rounds between the first and
	// the last child to catch up.
	scaleSpreadLimit = 2.0
	// scaleRequestsPerMinute is a budget no account of the benchmark
	// reaches: unthrottled.
	scaleRequestsPerMinute = 600000
)

// scaleBackfill is what every child of BenchmarkMSP500Children holds, of
// the four log types Panther reads: authentication over three pages, the
// others one each.
var scaleBackfill = map[duoapi.LogType]int{
	duoapi.Authentication:    2500,
	duoapi.Administrator:     300,
	duoapi.Telephony:         300,
	duoapi.OfflineEnrollment: 100,
}

// BenchmarkMSP500Children runs duostream with accounts.discover on a parent
// with 500 child accounts, each holding the same backlog of the four
// Panther log types (3,200 events, 2,000 streams in all), at an unthrottled
// budget, into a file output, and measures the time to deliver everything
// (ns/op), the process's peak resident memory, and how evenly the children
// are served: for each child, the index of the request (in the order the
// simulator answered them) that served the last event of its backlog; the
// spread is the difference between the last and the first child's, in
// rounds of one request per stream (2,000 requests). It fails unless every
// event is delivered exactly once under its child's account, peak RSS stays
// under 250 MB and the spread within two rounds. Run it with bench/msp.sh.
func BenchmarkMSP500Children(b *testing.B) {
	var sum scaleResult
	for i := 0; i < b.N; i++ {
		r := runScale(b, uint64(i))
		sum.events += r.events
		sum.rssMB += r.rssMB
		sum.spread += r.spread
		sum.lastRound += r.lastRound
		sum.requests += r.requests
	}
	n := float64(b.N)
	b.ReportMetric(float64(sum.events)/n, "events")
	b.ReportMetric(sum.rssMB/n, "peak-RSS-MB")
	b.ReportMetric(sum.spread/n, "spread-rounds")
	b.ReportMetric(sum.lastRound/n, "last-catch-up-round")
	b.ReportMetric(float64(sum.requests)/n, "requests")
}

// scaleResult is what one run of the scale benchmark measured.
type scaleResult struct {
	events    int
	rssMB     float64
	spread    float64 // rounds between the first and the last child to catch up
	lastRound float64 // the round in which the last child caught up
	requests  int
}

// runScale makes the simulator and the backlog, with the timer stopped,
// then times duostream delivering it, and checks it.
func runScale(b *testing.B, run uint64) scaleResult {
	b.StopTimer()
	sim, err := duosim.New(duosim.Config{
		Seed: suiteSeed + run, AccountsAPI: true,
		IntegrationKey: testIKey, SecretKey: testSecret, APIHost: testAPIHost,
	})
	require.NoError(b, err)
	children, err := sim.GenerateChildren(scaleChildren)
	require.NoError(b, err)
	now := time.Now()
	from, to := now.Add(-24*time.Hour), now.Add(-5*time.Minute)
	kids := make([]mspChild, len(children))
	// Two generators: the machine has two cores, and the timer is stopped.
	errs := make([]error, len(children))
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := w; i < len(children); i += 2 {
				kids[i], errs[i] = generateChild(children[i], scaleBackfill, from, to)
			}
		})
	}
	wg.Wait()
	require.NoError(b, errors.Join(errs...))
	rec := newCatchUpRecorder(sim, kids)
	url := serveRecorded(b, rec)
	var total int
	var size int64
	for _, c := range kids {
		total += c.l.total()
		size += c.l.bytes
	}
	streams := len(kids) * len(scaleBackfill)

	dir := b.TempDir()
	outDir := filepath.Join(dir, "out")
	logTypes := make([]any, 0, len(duoapi.PantherLogTypes))
	for _, lt := range duoapi.PantherLogTypes {
		logTypes = append(logTypes, string(lt))
	}
	conf := map[string]any{
		"input": map[string]any{"duo_admin_logs": map[string]any{
			"api_hostname":            sim.APIHost(),
			"integration_key":         sim.IntegrationKey(),
			"secret_key":              "${DUO_SECRET_KEY}",
			"base_url":                url,
			"log_types":               logTypes,
			"checkpoint_cache":        "state",
			"checkpoint_key":          "scale",
			"initial_lookback":        "25h",
			"accounts":                map[string]any{"discover": true},
			"requests_per_minute":     scaleRequestsPerMinute,
			"max_requests_per_minute": 0,
		}},
		"cache_resources": bboltCache(filepath.Join(dir, "state", "checkpoints.db")),
		"output":          mspFileOutput(outDir),
		// Debug lines for 2,000 streams would measure the logger.
		"logger": map[string]any{"level": "INFO", "format": "logfmt"},
	}
	b.StartTimer()
	p := startDuostream(b, dir, "scale", conf)
	waitFor(b, p, 10*time.Minute, 500*time.Millisecond, "the output holding every child's backlog", func() bool {
		return outputSize(outDir) >= size
	})
	b.StopTimer()
	// VmHWM is the peak: read it before the process ends.
	hwm, err := p.procStatus("VmHWM")
	require.NoError(b, err)
	require.NoError(b, p.stop(time.Minute), "duostream exits cleanly on SIGTERM; logs:\n%s", tail(p.logs(), 4000))

	outs, err := readAccountOutputs(outDir)
	require.NoError(b, err)
	require.Len(b, outs, len(kids), "output under as many account IDs as there are children")
	for _, c := range kids {
		ao := outs[c.ID()]
		require.NotNil(b, ao, "output of child %s", c.ID())
		require.Equal(b, []string{c.APIHost() + "/" + c.Name()}, ao.labels, "child %s's metadata", c.ID())
		tl := sumTally(c.l.compare(ao.got))
		require.Equal(b, tally{}, tl, "child %s: lost, duplicated, foreign", c.ID())
	}
	require.Less(b, hwm, int64(scalePeakRSSLimit), "peak resident memory (VmHWM)")

	first, last, requests := rec.catchUps(b, kids)
	res := scaleResult{
		events:    total,
		rssMB:     megabytes(hwm),
		spread:    float64(last-first) / float64(streams),
		lastRound: float64(last) / float64(streams),
		requests:  requests,
	}
	require.LessOrEqual(b, res.spread, scaleSpreadLimit, "rounds between the first child to catch up (request %d) and the last (request %d)", first, last)
	figure(b, "%d children x 4 log types (%d events, %.0f MB) delivered exactly once; peak RSS %.1f MB (limit %d MB); %d requests; first child caught up at request %d, last at %d: spread %.2f rounds of %d requests (limit %.0f)",
		len(kids), total, float64(size)/1e6, res.rssMB, scalePeakRSSLimit>>20, requests, first, last, res.spread, streams, scaleSpreadLimit)
	return res
}

// catchUpKey names one stream of the simulator: a child account and an
// endpoint.
type catchUpKey struct {
	account, path string
}

// catchUpRecorder serves a simulator and numbers its answers in the order
// they are sent, the order of its request log, and notes for every stream
// the first answer that held the last event of its backlog. It keeps no
// log of its own, so it sees every request however many there are.
type catchUpRecorder struct {
	sim *duosim.Sim
	// last is the last event of each stream's backlog, as the endpoint
	// sends it; read-only once serving.
	last map[catchUpKey][]byte

	mu       sync.Mutex
	answered int
	servedAt map[catchUpKey]int
}

func newCatchUpRecorder(sim *duosim.Sim, kids []mspChild) *catchUpRecorder {
	rec := &catchUpRecorder{sim: sim, last: map[catchUpKey][]byte{}, servedAt: map[catchUpKey]int{}}
	epoch, end := time.Unix(0, 0), time.Now().Add(24*time.Hour)
	for _, c := range kids {
		for lt := range scaleBackfill {
			evs := c.Events(lt, epoch, end)
			if len(evs) > 0 {
				rec.last[catchUpKey{c.ID(), lt.Endpoint()}] = evs[len(evs)-1].Body
			}
		}
	}
	return rec
}

func (rec *catchUpRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key := catchUpKey{r.URL.Query().Get("account_id"), r.URL.Path}
	rec.sim.ServeHTTP(&catchUpWriter{ResponseWriter: w, rec: rec, key: key, index: -1}, r)
}

// catchUps returns the index of the answer at which the first and the last
// child caught up (a child catches up with the last of its streams), and
// how many answers were sent.
func (rec *catchUpRecorder) catchUps(b *testing.B, kids []mspChild) (first, last, answered int) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	first = -1
	for _, c := range kids {
		caught := -1
		for lt := range scaleBackfill {
			at, ok := rec.servedAt[catchUpKey{c.ID(), lt.Endpoint()}]
			require.True(b, ok, "no answer held the last %s event of child %s", lt, c.ID())
			caught = max(caught, at)
		}
		if first < 0 || caught < first {
			first = caught
		}
		last = max(last, caught)
	}
	return first, last, rec.answered
}

// catchUpWriter numbers an answer when its header is written (the
// simulator records a request just before) and looks for its stream's last
// event in the body.
type catchUpWriter struct {
	http.ResponseWriter
	rec   *catchUpRecorder
	key   catchUpKey
	index int
}

func (w *catchUpWriter) WriteHeader(status int) {
	w.rec.mu.Lock()
	w.index = w.rec.answered
	w.rec.answered++
	w.rec.mu.Unlock()
	w.ResponseWriter.WriteHeader(status)
}

func (w *catchUpWriter) Write(p []byte) (int, error) {
	if last := w.rec.last[w.key]; last != nil && w.index >= 0 && bytes.Contains(p, last) {
		w.rec.mu.Lock()
		if _, ok := w.rec.servedAt[w.key]; !ok {
			w.rec.servedAt[w.key] = w.index
		}
		w.rec.mu.Unlock()
	}
	return w.ResponseWriter.Write(p)
}

// serveRecorded serves rec on a random loopback port until b ends, and
// returns its base URL.
func serveRecorded(b *testing.B, rec *catchUpRecorder) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	srv := &http.Server{Handler: rec, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	b.Cleanup(func() {
		srv.Close()
		<-done
	})
	return "http://" + ln.Addr().String()
}
