// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hecEvent is one event of a Splunk HEC request.
type hecEvent struct {
	Time       json.Number     `json:"time"`
	Host       string          `json:"host"`
	Source     string          `json:"source"`
	SourceType string          `json:"sourcetype"`
	Index      string          `json:"index"`
	Event      json.RawMessage `json:"event"`
}

// hecSink is a Splunk HTTP Event Collector on 127.0.0.1: it checks the token,
// reads the events of each request and answers the first request with 503
// (server busy), as a collector under load does.
type hecSink struct {
	token string

	mu       sync.Mutex
	requests int
	batches  [][]hecEvent // accepted requests
	rejected []hecEvent   // events of the refused request
	errs     []error
}

func (h *hecSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests++
	fail := func(status int, code int, text string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"text":%q,"code":%d}`, text, code)
	}
	if r.Method != http.MethodPost || r.URL.Path != "/services/collector/event" {
		h.errs = append(h.errs, fmt.Errorf("unexpected request %s %s", r.Method, r.URL.Path))
		fail(http.StatusNotFound, 404, "The requested URL was not found on this server.")
		return
	}
	if got := r.Header.Get("Authorization"); got != "Splunk "+h.token {
		h.errs = append(h.errs, fmt.Errorf("request with Authorization %q", got))
		fail(http.StatusUnauthorized, 2, "Token is required")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		h.errs = append(h.errs, err)
		fail(http.StatusBadRequest, 6, "Invalid data format")
		return
	}
	// HEC takes events one after the other, whitespace between them.
	var events []hecEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		var ev hecEvent
		if err := dec.Decode(&ev); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			h.errs = append(h.errs, fmt.Errorf("request body: %w", err))
			fail(http.StatusBadRequest, 6, "Invalid data format")
			return
		}
		events = append(events, ev)
	}
	if h.requests == 1 {
		h.rejected = events
		fail(http.StatusServiceUnavailable, 9, "Server is busy")
		return
	}
	h.batches = append(h.batches, events)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"text":"Success","code":0}`)
}

func (h *hecSink) events() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, b := range h.batches {
		n += len(b)
	}
	return n
}

// readLines returns the lines of a file, none when it does not exist yet.
func readLines(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines = append(lines, append([]byte(nil), sc.Bytes()...))
	}
	return lines, sc.Err()
}

// TestDuoToHTTP runs duo-to-http.yaml against the simulator and a Splunk HEC
// sink that refuses the first request, with dead letters in a local file.
func TestDuoToHTTP(t *testing.T) {
	const token = "e2e-hec-token-6d1c"
	// The pipeline reads the token with Bloblang's env(), from the process
	// environment, so that it never enters the parsed config.
	t.Setenv("HEC_TOKEN", token)
	sink := &hecSink{token: token}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)

	f := newFixture(t, 13)
	const batchCount = 50
	deadFile := filepath.Join(t.TempDir(), "dead", "duo-to-http-dead-letter.jsonl")
	env := f.env(t)
	env["HEC_URL"] = srv.URL + "/services/collector/event"
	env["HEC_INDEX"] = "duo_logs"
	env["HEC_BATCH_COUNT"] = fmt.Sprint(batchCount)
	env["HEC_BATCH_PERIOD"] = "300ms"
	env["DUOSTREAM_DEAD_LETTER_FILE"] = deadFile
	stop, done := runPipeline(t, "duo-to-http.yaml", env)

	var dead [][]byte
	waitFor(t, done, "every event at the collector", func() (bool, string) {
		var err error
		if dead, err = readLines(deadFile); err != nil {
			return false, err.Error()
		}
		got := sink.events()
		return got >= f.total() && len(dead) >= len(f.dead), fmt.Sprintf("%d of %d events, %d of %d dead letters", got, f.total(), len(dead), len(f.dead))
	})
	stop()
	dead, err := readLines(deadFile)
	require.NoError(t, err)

	sink.mu.Lock()
	defer sink.mu.Unlock()
	require.Empty(t, sink.errs)
	require.NotEmpty(t, sink.rejected, "the first request was refused")
	t.Logf("%d requests, %d accepted", sink.requests, len(sink.batches))

	d := newDelivery()
	for _, line := range dead {
		d.dead = append(d.dead, line)
	}
	accepted := map[string]bool{}
	for _, batch := range sink.batches {
		assert.NotEmpty(t, batch)
		for _, ev := range batch {
			var pf struct {
				LogType   string `json:"p_log_type"`
				EventTime string `json:"p_event_time"`
			}
			require.NoError(t, json.Unmarshal(ev.Event, &pf), "event %s", ev.Event)
			d.events[pf.LogType] = append(d.events[pf.LogType], ev.Event)
			accepted[withoutVolatile(t, ev.Event)] = true

			assert.Equal(t, f.sim.APIHost(), ev.Host)
			assert.Equal(t, "duostream", ev.Source)
			assert.Equal(t, "duo:"+logSlug(pf.LogType), ev.SourceType)
			assert.Equal(t, "duo_logs", ev.Index)
			eventTime, err := time.Parse(time.RFC3339Nano, pf.EventTime)
			require.NoError(t, err)
			secs, err := ev.Time.Float64()
			require.NoError(t, err, "time %q", ev.Time)
			assert.InDelta(t, float64(eventTime.UnixMilli())/1000, secs, 1e-6, "time is p_event_time in epoch seconds")
		}
	}
	for _, ev := range sink.rejected {
		assert.True(t, accepted[withoutVolatile(t, ev.Event)], "an event of the refused request was not sent again: %s", ev.Event)
	}
	f.check(t, d)
}
