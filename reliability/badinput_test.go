// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
)

// scriptedReply is one answer of the fake Duo.
type scriptedReply struct {
	status int
	body   []byte
	events int // how many events the body delivers
}

// badDuo is a fake Duo Admin API that answers each log endpoint from a
// script, in order, and with empty pages once the script is done. It does
// not check signatures: it stands for a Duo, or a proxy, that sends bad
// data.
type badDuo struct {
	mu      sync.Mutex
	scripts map[string][]scriptedReply
	served  map[string]int // events served per endpoint
	bad     int            // malformed replies served
}

func (d *badDuo) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.mu.Lock()
	var rep scriptedReply
	if s := d.scripts[r.URL.Path]; len(s) > 0 {
		rep, d.scripts[r.URL.Path] = s[0], s[1:]
		if rep.events == 0 {
			d.bad++
		}
		d.served[r.URL.Path] += rep.events
	} else {
		rep = scriptedReply{status: 200, body: emptyPage(r.URL.Path)}
	}
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(rep.status)
	w.Write(rep.body)
}

func (d *badDuo) done() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.scripts {
		if len(s) > 0 {
			return false
		}
	}
	return true
}

// itemsKey returns where a v2 endpoint's records are; empty for v1.
func itemsKey(path string) string {
	for _, lt := range duoapi.AllLogTypes {
		if lt.Endpoint() == path {
			return lt.ItemsKey()
		}
	}
	return ""
}

func emptyPage(path string) []byte {
	if k := itemsKey(path); k != "" {
		return []byte(`{"stat":"OK","response":{"` + k + `":[],"metadata":{"next_offset":null}}}`)
	}
	return []byte(`{"stat":"OK","response":[]}`)
}

// page returns a good envelope around raw events, as the endpoint sends it.
func page(path string, events [][]byte) []byte {
	var b bytes.Buffer
	k := itemsKey(path)
	if k != "" {
		b.WriteString(`{"stat":"OK","response":{"` + k + `":[`)
	} else {
		b.WriteString(`{"stat":"OK","response":[`)
	}
	b.Write(bytes.Join(events, []byte(",")))
	if k != "" {
		b.WriteString(`],"metadata":{"next_offset":null,"total_objects":1}}}`)
	} else {
		b.WriteString(`]}`)
	}
	return b.Bytes()
}

// malformedReplies returns answers that a client must treat as a failed,
// retryable request: bodies that are not Duo's, truncated, of the wrong
// shape, nested too deep, and server errors.
func malformedReplies(path string) []scriptedReply {
	k := itemsKey(path)
	resp := func(inner string) string {
		if k != "" {
			return `{"stat":"OK","response":{"` + k + `":` + inner + `,"metadata":{}}}`
		}
		return `{"stat":"OK","response":` + inner + `}`
	}
	bodies := []string{
		``,
		`not json`,
		`null`,
		`[]`,
		`{"stat":"OK","response":`,
		`{"stat":"OK"}`,
		`{"stat":"OK","response":"a string"}`,
		`{"stat":"OK","response":12}`,
		resp(`{"a":1}`),
		resp(`[1,"a",null]`),
		resp(`[{"a":1},"b"]`),
		`{"stat":"FAIL","code":"abc","message":123}`,
		`{"stat":"OK","response":[],"stat":"FAIL"}`,
		`<html><body>Bad Gateway</body></html>`,
		`{"stat":"OK","response":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
		"\xff\xfe\x00\x00",
	}
	if k != "" {
		offsets := []string{`5`, `{"a":1}`, `[1,2]`, `[""]`, `["a,b"]`, `true`}
		if path == duoapi.PathTrustMonitorV1 {
			// Trust Monitor's opaque offset may be a number.
			offsets = offsets[1:]
		}
		for _, off := range offsets {
			bodies = append(bodies, `{"stat":"OK","response":{"`+k+`":[],"metadata":{"next_offset":`+off+`}}}`)
		}
		bodies = append(bodies, `{"stat":"OK","response":{"`+k+`":[],"metadata":"x"}}`,
			`{"stat":"OK","response":{"`+k+`":null}}`, `{"stat":"OK","response":null}`)
	}
	var out []scriptedReply
	for _, b := range bodies {
		out = append(out, scriptedReply{status: 200, body: []byte(b)})
	}
	return append(out,
		scriptedReply{status: 500, body: []byte(`{"stat":"FAIL","code":50001,"message":"Unknown internal server error"}`)},
		scriptedReply{status: 503, body: []byte(`<html>503</html>`)},
		scriptedReply{status: 502, body: nil},
		scriptedReply{status: 429, body: []byte(`{"stat":"FAIL","code":42901,"message":"Too Many Requests"}`)},
		scriptedReply{status: 429, body: []byte(`garbage`)},
	)
}

// TestBadInput runs duostream with duo_normalize and a dead-letter output
// against a Duo that first sends every kind of malformed response, then a
// page of events with every JSON type in every field, extreme values, deep
// nesting and invalid UTF-8. The process never stops or panics: malformed
// responses are retried, and every event the input reads ends up either
// normalized or in the dead-letter file with its reason.
func TestBadInput(t *testing.T) {
	samples := sampleEvents(t)
	// Events go in with their v1 second in the past, so no v1 page holds
	// them back as not yet available.
	duo := &badDuo{scripts: map[string][]scriptedReply{}, served: map[string]int{}}
	wantEvents := 0
	for _, lt := range duoapi.AllLogTypes {
		path := lt.Endpoint()
		muts, err := mutations(samples[lt], jsonVariants(256<<10))
		require.NoError(t, err)
		var events [][]byte
		for _, m := range muts {
			// A page holds JSON objects: other events are the malformed
			// responses' business.
			var obj map[string]json.RawMessage
			if json.Unmarshal(m.event, &obj) == nil && obj != nil && bytes.HasPrefix(bytes.TrimSpace(m.event), []byte("{")) {
				events = append(events, m.event)
			}
		}
		if lt == duoapi.TrustMonitor {
			// Trust Monitor events are one event per sekey, and the
			// puller drops a sekey it has delivered in the same
			// millisecond: each variant gets a sekey of its own.
			events = distinctSEKeys(t, samples[lt], events)
		}
		wantEvents += len(events)
		script := malformedReplies(path)
		script = append(script, scriptedReply{status: 200, body: page(path, events), events: len(events)})
		duo.scripts[path] = script
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: duo, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	dir := t.TempDir()
	outPath, dlqPath := filepath.Join(dir, "normalized.jsonl"), filepath.Join(dir, "dead-letter.jsonl")
	p := startDuostream(t, dir, "badinput", map[string]any{
		"input": map[string]any{"duo_admin_logs": map[string]any{
			"log_types":           allLogTypeNames(),
			"api_hostname":        testAPIHost,
			"integration_key":     testIKey,
			"secret_key":          "${DUO_SECRET_KEY}",
			"base_url":            "http://" + ln.Addr().String(),
			"checkpoint_cache":    "state",
			"initial_lookback":    "2400h",
			"requests_per_minute": 100000,
			"backoff":             map[string]any{"initial_interval": "10ms", "max_interval": "50ms"},
			"rate_limit_backoff":  map[string]any{"initial_interval": "10ms", "max_interval": "50ms"},
		}},
		"cache_resources": bboltCache(filepath.Join(dir, "state.db")),
		"pipeline":        map[string]any{"processors": []any{map[string]any{"duo_normalize": map[string]any{}}}},
		"output": map[string]any{"switch": map[string]any{"cases": []any{
			map[string]any{
				"check": "errored()",
				"output": map[string]any{
					"file": map[string]any{"path": dlqPath, "codec": "lines"},
					"processors": []any{map[string]any{"mapping": `root.dead_letter_reason = error()
root.duo_log_type = @duo_log_type
root.event = content().string()`}},
				},
			},
			map[string]any{"output": map[string]any{"file": map[string]any{"path": outPath, "codec": "lines"}}},
		}}},
	})
	countLines := func(path string) int {
		b, _ := os.ReadFile(path)
		return bytes.Count(b, []byte("\n"))
	}
	waitFor(t, p, 2*time.Minute, 200*time.Millisecond, "every bad event normalized or dead-lettered", func() bool {
		return duo.done() && countLines(outPath)+countLines(dlqPath) >= wantEvents
	})
	time.Sleep(500 * time.Millisecond) // nothing more arrives
	require.False(t, p.exited(), "duostream exited: %v", p.err)
	m, err := p.metrics()
	require.NoError(t, err)
	require.NoError(t, p.stop(30*time.Second), "duostream exits cleanly on SIGTERM")

	logs := p.logs()
	for _, bad := range []string{"panic", "goroutine ", "runtime error"} {
		assert.NotContains(t, logs, bad)
	}
	normalized, deadLetters := countLines(outPath), countLines(dlqPath)
	assert.Equal(t, wantEvents, normalized+deadLetters, "every event read ends up normalized or dead-lettered, once")
	assert.Equal(t, float64(wantEvents), m.sum("duo_events_total"), "the input read every event served")
	assert.Equal(t, float64(deadLetters), m.sum("duo_normalize_invalid"), "duo_normalize_invalid counts the dead letters")
	assert.Equal(t, float64(duo.bad), m.sum("duo_retries_total"), "every malformed response was retried")

	dlq, err := os.ReadFile(dlqPath)
	require.NoError(t, err)
	for i, line := range bytes.Split(bytes.TrimSpace(dlq), []byte("\n")) {
		var dl struct {
			Reason  string `json:"dead_letter_reason"`
			LogType string `json:"duo_log_type"`
			Event   string `json:"event"`
		}
		require.NoError(t, json.Unmarshal(line, &dl), "dead letter %d", i)
		assert.Contains(t, dl.Reason, dl.LogType+":", "dead letter %d names its log type", i)
		assert.NotEmpty(t, dl.Event, "dead letter %d keeps the event", i)
	}
	out, err := os.ReadFile(outPath)
	require.NoError(t, err)
	for i, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		assert.True(t, json.Valid(line), "normalized event %d is JSON", i)
	}
	figure(t, "%d malformed responses (bad JSON, wrong shapes, 20,000-deep nesting, bad next_offset, 5xx, 429) all retried; %d events with every JSON type in every field, values up to 256 KB, 5,000-deep nesting and invalid UTF-8: %d normalized, %d dead-lettered with a reason; no panic, process ran until SIGTERM",
		duo.bad, wantEvents, normalized, deadLetters)
}

// distinctSEKeys gives each of events, variants of the Trust Monitor event
// sample, a sekey of its own where it kept the sample's.
func distinctSEKeys(t *testing.T, sample []byte, events [][]byte) [][]byte {
	t.Helper()
	var ev struct {
		SEKey string `json:"sekey"`
	}
	require.NoError(t, json.Unmarshal(sample, &ev))
	require.NotEmpty(t, ev.SEKey)
	key := []byte(`"sekey":"` + ev.SEKey + `"`)
	out := make([][]byte, len(events))
	for i, e := range events {
		out[i] = bytes.Replace(e, key, []byte(fmt.Sprintf(`"sekey":"%s-%d"`, ev.SEKey, i)), 1)
	}
	return out
}
