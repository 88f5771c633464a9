// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package config

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/duostream/duostream/cache"
	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
	_ "github.com/duostream/duostream/input"
	_ "github.com/duostream/duostream/output"
	"github.com/duostream/duostream/processor"
)

// backfill is how many generated events of each log type the simulator holds
// for an end-to-end test, besides the planted ones.
var backfill = map[duoapi.LogType]int{
	duoapi.Authentication:    300,
	duoapi.Administrator:     50,
	duoapi.Telephony:         40,
	duoapi.OfflineEnrollment: 12,
	duoapi.Activity:          60,
	duoapi.TrustMonitor:      20,
}

// v1PageSize is how many events a v1 log endpoint of the simulator returns
// at most.
const v1PageSize = 25

// endpoints are the duo_endpoint metadata the input sets for each log type
// with its default telephony_api (v2).
var endpoints = map[duoapi.LogType]string{
	duoapi.Authentication:    duoapi.PathAuthenticationV2,
	duoapi.Administrator:     duoapi.PathAdministratorV1,
	duoapi.Telephony:         duoapi.PathTelephonyV2,
	duoapi.OfflineEnrollment: duoapi.PathOfflineEnrollmentV1,
	duoapi.Activity:          duoapi.PathActivityV2,
	duoapi.TrustMonitor:      duoapi.PathTrustMonitorV1,
}

// plantedEvents returns, per log type, events that the simulator accepts
// but that break their Panther schema, all at time at. They are compact, as
// the simulator stores them, and some hold what a re-encoding would change:
// a duplicate key, unsorted keys, escapes.
func plantedEvents(at time.Time) map[duoapi.LogType][]string {
	sec := at.Unix()
	micros := at.UTC().Format("2006-01-02T15:04:05.000000+00:00")
	return map[duoapi.LogType][]string{
		duoapi.Authentication: {
			// timestamp must be a unix time.
			fmt.Sprintf(`{"txid":"0bad0a17-0000-4000-8000-000000000001","isotimestamp":%q,"timestamp":"yesterday","result":"success","factor":"duo_push","user":{"name":"narroway"}}`, micros),
			// result appears twice: a re-encoding would keep one of them.
			fmt.Sprintf(`{"txid":"0bad0a17-0000-4000-8000-000000000004","isotimestamp":%q,"timestamp":%d,"result":"success","factor":"duo_push","result":"fraud","user":{"name":"narroway"}}`, micros, sec),
		},
		// Duo's own malformed isotimestamp (elastic/integrations mock data),
		// with the keys unsorted and escapes a re-encoding would decode.
		duoapi.Administrator: {
			fmt.Sprintf(`{"username":"narroway","timestamp":%d,"object":null,"isotimestamp":"2021-07-20T11: 41: 31+00: 00","description":"Starting \u0061ctivation \"process\" \/ caf\u00e9 \ud83d\ude00 <b>&","action":"activation_begin"}`, sec),
		},
		// phone is required.
		duoapi.Telephony: {
			fmt.Sprintf(`{"context":"authentication","credits":0,"telephony_id":"0bad0a17-0000-4000-8000-000000000002","ts":%q,"txid":"0bad0a17-0000-4000-8000-000000000003","type":"phone"}`, micros),
		},
		// object is required.
		duoapi.OfflineEnrollment: {
			fmt.Sprintf(`{"action":"o2fa_user_deprovisioned","isotimestamp":%q,"timestamp":%d,"username":"jdoe"}`, at.UTC().Format(time.RFC3339), sec),
		},
		// action is required.
		duoapi.Activity: {
			fmt.Sprintf(`{"activity_id":"0bad0a17-0000-4000-8000-000000000005","ts":%q,"actor":{"key":"DU0BAD0A170000000001","name":"narroway","type":"user","details":"{\"status\":\"Active\"}"},"akey":"DA0BAD0A170000000001"}`, micros),
		},
		// type is required.
		duoapi.TrustMonitor: {
			fmt.Sprintf(`{"sekey":"SE0BAD0A170000000001","surfaced_timestamp":%d,"state":"new","priority_event":true,"priority_reasons":[],"triaged_as_interesting":false}`, at.UnixMilli()),
		},
	}
}

// deadLetter is what a pipeline's dead-letter output must receive for one
// event that failed normalization.
type deadLetter struct {
	logType  string // Panther name, such as Duo.Telephony
	endpoint string
	reason   string
	event    string // the original record, byte for byte
}

// fixture is a simulator holding events of every log type, planted bad ones
// included, and what each pipeline must deliver for them.
type fixture struct {
	sim        *duosim.Server
	start      time.Time
	from, to   time.Time
	normalized map[string][]string // Panther log type -> canonical events without p_row_id and p_parse_time, sorted
	dead       []deadLetter
}

func (f *fixture) total() int {
	n := 0
	for _, evs := range f.normalized {
		n += len(evs)
	}
	return n
}

// newFixture starts a simulator with a backfill of every log type and one
// planted bad event per log type, and normalizes every event with the
// duo_normalize processor itself to know what the pipelines must deliver.
func newFixture(t *testing.T, seed uint64) *fixture {
	t.Helper()
	// Small v1 pages, so that the administrator log takes several pages.
	sim, err := duosim.Start(duosim.Config{Seed: seed, V1PageSize: v1PageSize})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })

	now := time.Now()
	f := &fixture{sim: sim, start: now, from: now.Add(-2 * time.Hour), to: now.Add(-5 * time.Minute), normalized: map[string][]string{}}
	for _, lt := range duoapi.AllLogTypes {
		require.NoError(t, sim.Generate(lt, backfill[lt], f.from, f.to))
	}
	planted := plantedEvents(now.Add(-time.Hour).Truncate(time.Second))
	plantedBodies := map[string]bool{}
	nPlanted := 0
	for lt, raws := range planted {
		for _, raw := range raws {
			require.NoError(t, sim.AddEvents(lt, json.RawMessage(raw)), "the simulator must accept the planted %s event %s", lt, raw)
			plantedBodies[raw] = true
			nPlanted++
		}
	}

	conf, err := processor.DuoNormalizeSpec().ParseYAML("{}", nil)
	require.NoError(t, err)
	norm, err := processor.NewDuoNormalize(conf, service.MockResources())
	require.NoError(t, err)
	for _, lt := range duoapi.AllLogTypes {
		evs := sim.Events(lt, f.from, f.to)
		require.Len(t, evs, backfill[lt]+len(planted[lt]))
		batch := make(service.MessageBatch, len(evs))
		for i, ev := range evs {
			batch[i] = service.NewMessage(ev.Body)
			batch[i].MetaSetMut("duo_log_type", lt.SchemaName())
		}
		out, err := norm.ProcessBatch(t.Context(), batch)
		require.NoError(t, err)
		require.Len(t, out, 1)
		require.Len(t, out[0], len(evs))
		for i, msg := range out[0] {
			if perr := msg.GetError(); perr != nil {
				// The simulator serves the planted bytes as they were
				// given, so these are what Duo would have sent.
				body := string(evs[i].Body)
				require.True(t, plantedBodies[body], "a generated %s event fails normalization, or the simulator changed a planted one: %v\n%s", lt, perr, body)
				kept, err := msg.AsBytes()
				require.NoError(t, err)
				require.Equal(t, body, string(kept), "duo_normalize leaves a flagged event's content untouched")
				f.dead = append(f.dead, deadLetter{logType: lt.SchemaName(), endpoint: endpoints[lt], reason: perr.Error(), event: body})
				continue
			}
			b, err := msg.AsBytes()
			require.NoError(t, err)
			f.normalized[lt.SchemaName()] = append(f.normalized[lt.SchemaName()], withoutVolatile(t, b))
		}
		slices.Sort(f.normalized[lt.SchemaName()])
	}
	require.Len(t, f.dead, nPlanted, "every planted event, and only those, fails normalization")
	return f
}

// env returns the input and state environment every pipeline reads, for
// this fixture's simulator.
func (f *fixture) env(t *testing.T) map[string]string {
	return map[string]string{
		"DUO_API_HOSTNAME":        f.sim.APIHost(),
		"DUO_INTEGRATION_KEY":     f.sim.IntegrationKey(),
		"DUO_SECRET_KEY":          f.sim.SecretKey(),
		"DUO_BASE_URL":            f.sim.URL,
		"DUO_INITIAL_LOOKBACK":    "3h",
		"DUO_POLL_INTERVAL":       "1s",
		"DUO_REQUESTS_PER_MINUTE": "6000",
		"DUOSTREAM_STATE_DIR":     t.TempDir(),
		"DUOSTREAM_LOG_LEVEL":     "error",
	}
}

func decode(t *testing.T, doc []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	require.NoError(t, dec.Decode(&v), "not JSON: %s", doc)
	return v
}

// withoutVolatile returns the canonical form of a normalized event without
// the fields that differ on every run: p_row_id and p_parse_time.
func withoutVolatile(t *testing.T, doc []byte) string {
	t.Helper()
	m, ok := decode(t, doc).(map[string]any)
	require.True(t, ok, "not a JSON object: %s", doc)
	delete(m, "p_row_id")
	delete(m, "p_parse_time")
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return string(b)
}

// delivery collects what a sink received.
type delivery struct {
	mu     sync.Mutex
	events map[string][]json.RawMessage // Panther log type -> normalized events
	// dead are the dead letters of a line sink, one JSON line each:
	// {"dead_letter_reason", "duo_log_type", "duo_endpoint", "event"}, with
	// event the original record as a JSON string.
	dead []json.RawMessage
	// deadRecords are dead letters that came apart, as Kafka records do:
	// the original record as the value, the rest in headers.
	deadRecords []deadLetter
}

func newDelivery() *delivery { return &delivery{events: map[string][]json.RawMessage{}} }

// check asserts that d holds exactly the fixture's normalized events, each
// once and under its own log type, with fresh Panther fields, and exactly
// its dead letters.
func (f *fixture) check(t *testing.T, d *delivery) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	rowIDs := map[string]bool{}
	perType := map[string]int{}
	for lt, evs := range d.events {
		perType[lt] = len(evs)
	}
	size := 0
	for _, evs := range d.events {
		for _, ev := range evs {
			size = max(size, len(ev))
		}
	}
	t.Logf("delivered %v and %d dead letters; largest event %d bytes", perType, len(d.dead), size)
	for _, lt := range duoapi.AllLogTypes {
		name := lt.SchemaName()
		got := make([]string, 0, len(d.events[name]))
		for _, raw := range d.events[name] {
			var pf struct {
				LogType   string `json:"p_log_type"`
				RowID     string `json:"p_row_id"`
				EventTime string `json:"p_event_time"`
				ParseTime string `json:"p_parse_time"`
			}
			require.NoError(t, json.Unmarshal(raw, &pf))
			assert.Equal(t, name, pf.LogType)
			assert.NotEmpty(t, pf.RowID)
			assert.False(t, rowIDs[pf.RowID], "p_row_id %s seen twice", pf.RowID)
			rowIDs[pf.RowID] = true
			eventTime, err := time.Parse(time.RFC3339Nano, pf.EventTime)
			if assert.NoError(t, err, "p_event_time") {
				assert.False(t, eventTime.Before(f.from) || !eventTime.Before(f.to), "p_event_time %s outside the backfill", eventTime)
			}
			parseTime, err := time.Parse(time.RFC3339Nano, pf.ParseTime)
			if assert.NoError(t, err, "p_parse_time") {
				assert.WithinRange(t, parseTime, f.start, time.Now())
			}
			got = append(got, withoutVolatile(t, raw))
		}
		slices.Sort(got)
		assert.Equal(t, f.normalized[name], got, "%s: every simulator event arrives once, normalized", name)
	}

	gotDead := slices.Clone(d.deadRecords)
	for _, raw := range d.dead {
		var fields map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(raw, &fields), "dead letter %s", raw)
		assert.ElementsMatch(t, []string{"dead_letter_reason", "duo_log_type", "duo_endpoint", "event"}, slices.Collect(maps.Keys(fields)), "the fields of dead letter %s", raw)
		var dl struct {
			Reason   string `json:"dead_letter_reason"`
			LogType  string `json:"duo_log_type"`
			Endpoint string `json:"duo_endpoint"`
			Event    string `json:"event"`
		}
		require.NoError(t, json.Unmarshal(raw, &dl), "dead letter %s: event must be the original record as a JSON string", raw)
		gotDead = append(gotDead, deadLetter{logType: dl.LogType, endpoint: dl.Endpoint, reason: dl.Reason, event: dl.Event})
	}
	// The events compare as strings: each must be the original, byte for
	// byte, duplicate keys, key order and escapes included.
	assert.ElementsMatch(t, f.dead, gotDead, "dead letters")
	for _, dl := range gotDead {
		assert.Contains(t, dl.reason, dl.logType, "the reason names the log type")
	}
}

// runPipeline runs the pipeline file, unchanged, with env as its only
// environment. The returned function stops it (it also stops at cleanup);
// done reports the stream ending.
func runPipeline(t *testing.T, file string, env map[string]string) (stop func(), done <-chan error) {
	t.Helper()
	conf, err := os.ReadFile(file)
	require.NoError(t, err)
	b := service.NewStreamBuilder()
	b.SetEnvVarLookupFunc(func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	})
	require.NoError(t, b.SetYAML(string(conf)), "%s with env %v", file, keys(env))
	strm, err := b.Build()
	require.NoError(t, err)

	runErr := make(chan error, 1)
	go func() { runErr <- strm.Run(context.Background()) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			assert.NoError(t, strm.StopWithin(20*time.Second), "stop %s", file)
		})
	}
	t.Cleanup(stop)
	return stop, runErr
}

func keys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// waitFor polls cond until it holds, the stream ends or the deadline passes.
func waitFor(t *testing.T, done <-chan error, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, state)
		}
		select {
		case err := <-done:
			t.Fatalf("the pipeline stopped by itself (%v) while waiting for %s: %s", err, what, state)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// logSlug is the snake_case name the pipelines use for a log type in topic
// names and sourcetypes: offline_enrollment for Duo.OfflineEnrollment.
func logSlug(panther string) string {
	for _, lt := range duoapi.AllLogTypes {
		if lt.SchemaName() == panther {
			return string(lt)
		}
	}
	return strings.ToLower(panther)
}
