// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package config

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
	"github.com/duostream/duostream/input"
	"github.com/duostream/duostream/processor"
)

// replayPipeline is the pipeline the README's recipe "Re-send last Tuesday
// to a new output" replays a day through.
const replayPipeline = "duo-to-http.yaml"

// replaySpread is how many events of each log type the simulator holds for
// the replay tests, spread over the last two days, besides those planted at
// the window's edges.
var replaySpread = map[duoapi.LogType]int{
	duoapi.Authentication:    1500,
	duoapi.Administrator:     2500,
	duoapi.Telephony:         200,
	duoapi.OfflineEnrollment: 80,
	duoapi.Activity:          300,
	duoapi.TrustMonitor:      120,
}

// replayFixture is a simulator holding two days of events of every log
// type, and a window [start, end) of one day within them.
type replayFixture struct {
	sim        *duosim.Server
	start, end time.Time
	// window and all are the canonical normalized events (without
	// p_row_id and p_parse_time) that the window and the whole two days
	// hold, per Panther log type, sorted.
	window, all map[string][]string
}

// unit is the resolution of a log type's event time: the second for the v1
// logs, the millisecond for the others.
func unit(lt duoapi.LogType) time.Duration {
	if lt == duoapi.Administrator || lt == duoapi.OfflineEnrollment {
		return time.Second
	}
	return time.Millisecond
}

// newReplayFixture starts a simulator configured by cfg with two days of
// events (the window holds more than one v1 page of administrator events),
// plus two events in each of the window's first and last
// millisecond (second, for the v1 logs), in the one just before it and in
// the one at its end, which it does not hold.
func newReplayFixture(t *testing.T, seed uint64, cfg duosim.Config) *replayFixture {
	t.Helper()
	cfg.Seed = seed
	sim, err := duosim.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })

	now := time.Now().UTC()
	f := &replayFixture{sim: sim, start: now.Truncate(time.Hour).Add(-30 * time.Hour)}
	f.end = f.start.Add(24 * time.Hour)
	for _, lt := range duoapi.AllLogTypes {
		require.NoError(t, sim.Generate(lt, replaySpread[lt], now.Add(-47*time.Hour), now.Add(-5*time.Minute)))
		u := unit(lt)
		for _, at := range []time.Time{f.start.Add(-u), f.start, f.end.Add(-u), f.end} {
			require.NoError(t, sim.Generate(lt, 2, at, at))
		}
		require.GreaterOrEqual(t, sim.CountEvents(lt, f.start, f.start.Add(u)), 2, "%s: events in the window's first %s", lt, u)
		require.GreaterOrEqual(t, sim.CountEvents(lt, f.end.Add(-u), f.end), 2, "%s: events in the window's last %s", lt, u)
		require.GreaterOrEqual(t, sim.CountEvents(lt, f.end, f.end.Add(u)), 2, "%s: events at the window's end, outside it", lt)
	}
	f.window = normalizedSimEvents(t, sim, f.start, f.end)
	f.all = normalizedSimEvents(t, sim, now.Add(-48*time.Hour), now)
	return f
}

// normalizedSimEvents normalizes the simulator's events of [from, to) with
// the duo_normalize processor itself and returns them in canonical form,
// per Panther log type, sorted.
func normalizedSimEvents(t *testing.T, sim *duosim.Server, from, to time.Time) map[string][]string {
	t.Helper()
	conf, err := processor.DuoNormalizeSpec().ParseYAML("{}", nil)
	require.NoError(t, err)
	norm, err := processor.NewDuoNormalize(conf, service.MockResources())
	require.NoError(t, err)
	out := map[string][]string{}
	for _, lt := range duoapi.AllLogTypes {
		evs := sim.Events(lt, from, to)
		batch := make(service.MessageBatch, len(evs))
		for i, ev := range evs {
			batch[i] = service.NewMessage(ev.Body)
			batch[i].MetaSetMut("duo_log_type", lt.SchemaName())
		}
		res, err := norm.ProcessBatch(t.Context(), batch)
		require.NoError(t, err)
		require.Len(t, res, 1)
		for _, msg := range res[0] {
			require.NoError(t, msg.GetError(), "a generated %s event fails normalization", lt)
			b, err := msg.AsBytes()
			require.NoError(t, err)
			out[lt.SchemaName()] = append(out[lt.SchemaName()], withoutVolatile(t, b))
		}
		slices.Sort(out[lt.SchemaName()])
	}
	return out
}

func (f *replayFixture) total(set map[string][]string) int {
	n := 0
	for _, evs := range set {
		n += len(evs)
	}
	return n
}

// checkpointKey is the input's default checkpoint_key for the simulator:
// the prefix of the live stream's positions.
func (f *replayFixture) checkpointKey() string {
	return input.DefaultCheckpointKey(f.sim.APIHost(), f.sim.IntegrationKey())
}

// windowKey is the prefix of the window's own positions, as the input's
// docs give it: <checkpoint_key>:window-<start ms>-<end ms>.
func (f *replayFixture) windowKey() string {
	return f.checkpointKey() + input.KeySeparator + fmt.Sprintf("window-%d-%d", f.start.UnixMilli(), f.end.UnixMilli())
}

// collector is a Splunk HEC on a loopback port (hecSink: it refuses its
// first request with 503), the "new output" of the recipe.
type collector struct {
	*hecSink
	url string
}

func newCollector(t *testing.T, token string) *collector {
	t.Helper()
	sink := &hecSink{token: token}
	srv := httptest.NewServer(sink)
	t.Cleanup(srv.Close)
	return &collector{hecSink: sink, url: srv.URL + "/services/collector/event"}
}

// received returns the events of every request the collector accepted, in
// canonical form, per Panther log type, and the number of requests it was
// sent.
func (c *collector) received(t *testing.T) (map[string][]string, int) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Empty(t, c.errs, "requests the collector could not take")
	got := map[string][]string{}
	for _, batch := range c.batches {
		for _, ev := range batch {
			var pf struct {
				LogType string `json:"p_log_type"`
			}
			require.NoError(t, json.Unmarshal(ev.Event, &pf), "event %s", ev.Event)
			got[pf.LogType] = append(got[pf.LogType], withoutVolatile(t, ev.Event))
		}
	}
	return got, c.requests
}

// compareEvents compares what a collector received with want, event by
// event: missing are wanted events it lacks, outside those it holds that
// are not wanted, and twice those it holds more often than wanted, each
// as "<log type> <p_event_time>".
func compareEvents(want, got map[string][]string) (missing, outside, twice []string) {
	describe := func(lt, canon string) string {
		var ev struct {
			EventTime string `json:"p_event_time"`
			TxID      string `json:"txid"`
		}
		_ = json.Unmarshal([]byte(canon), &ev)
		if ev.TxID != "" {
			return lt + " " + ev.EventTime + " txid " + ev.TxID
		}
		return lt + " " + ev.EventTime
	}
	types := map[string]bool{}
	for lt := range want {
		types[lt] = true
	}
	for lt := range got {
		types[lt] = true
	}
	for lt := range types {
		counts := map[string]int{}
		for _, ev := range want[lt] {
			counts[ev]++
		}
		seen := map[string]int{}
		for _, ev := range got[lt] {
			seen[ev]++
			switch {
			case counts[ev] == 0:
				outside = append(outside, describe(lt, ev))
			case seen[ev] == counts[ev]+1:
				twice = append(twice, describe(lt, ev))
			}
		}
		for ev, n := range counts {
			if seen[ev] < n {
				missing = append(missing, describe(lt, ev))
			}
		}
	}
	slices.Sort(missing)
	slices.Sort(outside)
	slices.Sort(twice)
	return missing, outside, twice
}

// firstFew returns up to 5 of xs, for a failure message.
func firstFew(xs []string) []string { return xs[:min(len(xs), 5)] }

// freeLoopbackAddr returns a 127.0.0.1 address with a port that was free a
// moment ago, for a pipeline's DUOSTREAM_HTTP_ADDRESS.
func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// pipelineProcess is `duostream run ./config/<pipeline>` run from the
// repository root, as the README's commands are.
type pipelineProcess struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr syncBuffer
	exited         chan struct{}
	err            error // once exited is closed
	started        time.Time
}

// startPipelineProcess runs the binary on a shipped pipeline with vars as
// the only pipeline variables of its environment, each of which the
// pipeline's header must document.
func startPipelineProcess(t *testing.T, name, file string, vars map[string]string) *pipelineProcess {
	t.Helper()
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	h := parseHeaderEnv(t, file, raw)
	for v := range vars {
		require.Contains(t, h.documented, v, "the %s sets %s, which the header of %s does not document", name, v, file)
	}
	p := &pipelineProcess{name: name, exited: make(chan struct{})}
	p.cmd = exec.Command(duostreamBinary(t), "run", "./config/"+file)
	p.cmd.Dir = ".."
	p.cmd.Env = processEnv(t, vars)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.started = time.Now()
	require.NoError(t, p.cmd.Start(), "start the %s", name)
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

func (p *pipelineProcess) logs() string {
	return string(p.stdout.Bytes()) + string(p.stderr.Bytes())
}

func (p *pipelineProcess) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// waitExit waits up to within for the process to exit by itself, and
// requires it to exit with status 0. It returns how long it ran.
func (p *pipelineProcess) waitExit(t *testing.T, within time.Duration) time.Duration {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(within):
		t.Fatalf("the %s still runs %s after it started:\n%s", p.name, within, p.logs())
	}
	require.NoError(t, p.err, "the %s exits with status 0:\n%s", p.name, p.logs())
	return time.Since(p.started)
}

// stop sends SIGTERM and requires a clean exit within 30s.
func (p *pipelineProcess) stop(t *testing.T) {
	t.Helper()
	require.True(t, p.running(), "the %s exited (%v) before it was stopped:\n%s", p.name, p.err, p.logs())
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("the %s still runs 30s after SIGTERM:\n%s", p.name, p.logs())
	}
	require.NoError(t, p.err, "the %s exits cleanly on SIGTERM:\n%s", p.name, p.logs())
}

// kill sends SIGKILL and waits for the process to go.
func (p *pipelineProcess) kill(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Kill())
	<-p.exited
}

// waitUntil polls cond every 50ms until it holds, failing when the process
// exits first or within passes.
func (p *pipelineProcess) waitUntil(t *testing.T, within time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if !p.running() {
			t.Fatalf("the %s exited (%v) before %s: %s\n%s", p.name, p.err, what, state, p.logs())
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %s did not reach %s within %s: %s\n%s", p.name, what, within, state, p.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// positionSlots reads, from the bbolt checkpoint file at path (which no
// process may hold), the raw value of both slots of every log type's
// position under prefix (nil when absent) and the position the input
// would resume from (input.ReadPosition), for the log types that have one.
func positionSlots(t *testing.T, path, prefix string) (raw map[string][]byte, pos map[duoapi.LogType]input.StoredPosition) {
	t.Helper()
	raw, pos = map[string][]byte{}, map[duoapi.LogType]input.StoredPosition{}
	rb := service.NewResourceBuilder()
	require.NoError(t, rb.AddCacheYAML(fmt.Sprintf("label: state\nbbolt:\n  path: %q\n  lock_timeout: 2s\n  compaction_interval: \"\"\n", path)))
	res, closeRes, err := rb.Build()
	require.NoError(t, err)
	defer func() { require.NoError(t, closeRes(context.Background())) }()
	ctx := t.Context()
	require.NoError(t, res.AccessCache(ctx, "state", func(c service.Cache) {
		for _, lt := range duoapi.AllLogTypes {
			for _, key := range input.PositionKeys(prefix, lt) {
				v, err := c.Get(ctx, key)
				if err == nil {
					raw[key] = v
				} else {
					assert.ErrorIs(t, err, service.ErrKeyNotFound, "read %s", key)
				}
			}
			p, found, err := input.ReadPosition(ctx, c, prefix, lt)
			assert.NoError(t, err, "the %s position under %s", lt, prefix)
			if found {
				pos[lt] = p
			}
		}
	}))
	return raw, pos
}

// replayVars returns the environment of the recipe's commands: the Duo
// credentials, the collector, a state directory and an HTTP address.
func (f *replayFixture) replayVars(c *collector, stateDir, httpAddr string) map[string]string {
	return map[string]string{
		"DUO_API_HOSTNAME":           f.sim.APIHost(),
		"DUO_INTEGRATION_KEY":        f.sim.IntegrationKey(),
		"DUO_SECRET_KEY":             f.sim.SecretKey(),
		"DUO_BASE_URL":               f.sim.URL,
		"DUO_REQUESTS_PER_MINUTE":    "6000",
		"DUOSTREAM_STATE_DIR":        stateDir,
		"DUOSTREAM_HTTP_ADDRESS":     httpAddr,
		"DUOSTREAM_DEAD_LETTER_FILE": filepath.Join(stateDir, "duo-to-http-dead-letter.jsonl"),
		"HEC_URL":                    c.url,
		"HEC_TOKEN":                  c.token,
		"HEC_BATCH_PERIOD":           "200ms",
	}
}

// withWindow returns vars with the window set, as the recipe exports it.
func (f *replayFixture) withWindow(vars map[string]string) map[string]string {
	out := map[string]string{
		"DUO_START_TIME": f.start.Format(time.RFC3339),
		"DUO_END_TIME":   f.end.Format(time.RFC3339),
	}
	for k, v := range vars {
		out[k] = v
	}
	return out
}

// assertNoDeadLetters checks that a run wrote no dead letter (the fixture
// has no event that breaks its schema).
func assertNoDeadLetters(t *testing.T, vars map[string]string) {
	t.Helper()
	lines, err := readLines(vars["DUOSTREAM_DEAD_LETTER_FILE"])
	require.NoError(t, err)
	assert.Empty(t, lines, "dead letters")
}

// TestReplayWindowToNewOutput runs the README's recipe "Re-send last
// Tuesday to a new output" with the real binary, duo-to-http.yaml and only
// documented variables, against a simulator holding two days of events:
//
//  1. the live pipeline (no DUO_START_TIME or DUO_END_TIME) delivers every
//     event to its collector and is stopped with SIGTERM;
//  2. the replay of one day, DUO_START_TIME to DUO_END_TIME, into a new
//     collector, with the live pipeline's state directory (so that the
//     test can read the live positions before and after: byte for byte the
//     same, while the window's positions are stored under their own key),
//     exits with status 0 by itself and delivers exactly the window's
//     events, each once, those in its first and last millisecond (second,
//     for the v1 logs) included and those at its end and before its start
//     not;
//  3. run again, it exits with status 0 at once and sends nothing;
//  4. with the live pipeline running again beside it, as in production, a
//     replay in the live state directory stops at start, saying the file
//     is locked, and sends nothing; a replay into a third collector with
//     its own state directory and HTTP address is killed with SIGKILL half
//     way and run again: it ends by itself and the collector holds every
//     event of the window, none from outside it.
func TestReplayWindowToNewOutput(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	f := newReplayFixture(t, 41, duosim.Config{})
	t.Logf("window %s to %s: %d of %d events", f.start.Format(time.RFC3339), f.end.Format(time.RFC3339), f.total(f.window), f.total(f.all))
	liveState := t.TempDir()
	liveAddr, replayAddr := freeLoopbackAddr(t), freeLoopbackAddr(t)
	liveDB := filepath.Join(liveState, "duo-to-http.db")

	// 1. The live pipeline, until it has delivered everything.
	liveHEC := newCollector(t, "live-hec-token")
	liveVars := f.replayVars(liveHEC, liveState, liveAddr)
	liveVars["DUO_INITIAL_LOOKBACK"] = "48h"
	live := startPipelineProcess(t, "live pipeline", replayPipeline, liveVars)
	live.waitUntil(t, 90*time.Second, "every event at the live collector", func() (bool, string) {
		got, _ := liveHEC.received(t)
		return f.total(got) >= f.total(f.all), fmt.Sprintf("%d of %d events", f.total(got), f.total(f.all))
	})
	live.stop(t)
	got, _ := liveHEC.received(t)
	missing, outside, twice := compareEvents(f.all, got)
	require.Empty(t, missing, "the live pipeline delivers every event")
	require.Empty(t, outside)
	require.Empty(t, twice)

	liveRaw, livePos := positionSlots(t, liveDB, f.checkpointKey())
	require.Len(t, livePos, len(duoapi.AllLogTypes), "the live pipeline stored a position for every log type: %v", livePos)
	windowRaw, _ := positionSlots(t, liveDB, f.windowKey())
	require.Empty(t, windowRaw, "no window position before the replay")

	// 2. The replay into a new collector.
	newHEC := newCollector(t, "new-hec-token")
	replayVars := f.withWindow(f.replayVars(newHEC, liveState, replayAddr))
	replay := startPipelineProcess(t, "replay", replayPipeline, replayVars)
	took := replay.waitExit(t, 90*time.Second)
	t.Logf("the replay exited by itself after %s", took.Round(time.Millisecond))
	assert.Contains(t, replay.logs(), "Every Duo log has been read up to end_time", "the replay says why it ends")
	got, requests := newHEC.received(t)
	missing, outside, twice = compareEvents(f.window, got)
	assert.Empty(t, missing, "every event of the window arrives (%d missing; first: %v)", len(missing), firstFew(missing))
	assert.Empty(t, outside, "no event from outside the window arrives (%d; first: %v)", len(outside), firstFew(outside))
	assert.Empty(t, twice, "no event arrives twice (%d; first: %v)", len(twice), firstFew(twice))
	assert.Equal(t, f.total(f.window), f.total(got), "events at the new collector")
	assertNoDeadLetters(t, replayVars)
	for lt, evs := range got {
		t.Logf("%s: %d events", lt, len(evs))
	}

	afterRaw, afterPos := positionSlots(t, liveDB, f.checkpointKey())
	assert.Equal(t, liveRaw, afterRaw, "the live positions are untouched, byte for byte")
	assert.Equal(t, livePos, afterPos)
	windowRaw, windowPos := positionSlots(t, liveDB, f.windowKey())
	assert.Len(t, windowPos, len(duoapi.AllLogTypes), "the replay keeps a position of its own for every log type, under %s", f.windowKey())
	got, _ = liveHEC.received(t)
	assert.Equal(t, f.total(f.all), f.total(got), "the live collector gets nothing from the replay")

	// 3. Run again once done: it ends at once and sends nothing.
	again := startPipelineProcess(t, "replay run again", replayPipeline, replayVars)
	took = again.waitExit(t, 20*time.Second)
	t.Logf("run again, the replay exited after %s", took.Round(time.Millisecond))
	gotAgain, requestsAgain := newHEC.received(t)
	assert.Equal(t, requests, requestsAgain, "run again, the replay sends no request to the collector")
	assert.Equal(t, f.total(f.window), f.total(gotAgain), "run again, the replay delivers nothing")
	againRaw, _ := positionSlots(t, liveDB, f.checkpointKey())
	assert.Equal(t, liveRaw, againRaw, "the live positions are still untouched")
	againWindowRaw, _ := positionSlots(t, liveDB, f.windowKey())
	assert.Equal(t, windowRaw, againWindowRaw, "run again, the replay has nothing to move")

	// 4. Beside the running live pipeline, in a state directory of its own:
	// killed half way, then run again.
	live = startPipelineProcess(t, "live pipeline, restarted", replayPipeline, liveVars)
	live.waitUntil(t, 30*time.Second, "its input started", func() (bool, string) {
		return strings.Contains(live.logs(), "Input type duo_admin_logs is now active"), "not yet"
	})
	// With the live pipeline's state directory, a replay stops at start.
	locked := startPipelineProcess(t, "replay in the live state directory", replayPipeline, replayVars)
	select {
	case <-locked.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("a replay with the running live pipeline's state directory still runs after 30s:\n%s", locked.logs())
	}
	assert.Error(t, locked.err, "a replay with the running live pipeline's state directory fails")
	assert.Contains(t, locked.logs(), "the file is locked by another process", "and says why")
	got, _ = newHEC.received(t)
	assert.Equal(t, f.total(f.window), f.total(got), "and sends nothing")

	crashHEC := newCollector(t, "crash-hec-token")
	crashVars := f.withWindow(f.replayVars(crashHEC, t.TempDir(), replayAddr))
	// A slower budget, so that the replay is still reading when killed.
	crashVars["DUO_REQUESTS_PER_MINUTE"] = "120"
	crashed := startPipelineProcess(t, "replay to be killed", replayPipeline, crashVars)
	crashed.waitUntil(t, 60*time.Second, "some of the window at the collector", func() (bool, string) {
		got, _ := crashHEC.received(t)
		return f.total(got) > 0, fmt.Sprintf("%d of %d events", f.total(got), f.total(f.window))
	})
	crashed.kill(t)
	got, _ = crashHEC.received(t)
	before := f.total(got)
	require.Less(t, before, f.total(f.window), "killed half way")
	rerun := startPipelineProcess(t, "replay run again after SIGKILL", replayPipeline, crashVars)
	took = rerun.waitExit(t, 90*time.Second)
	got, _ = crashHEC.received(t)
	missing, outside, twice = compareEvents(f.window, got)
	t.Logf("killed after %d of %d events; run again, it ended after %s; %d events arrived twice", before, f.total(f.window), took.Round(time.Millisecond), len(twice))
	assert.Empty(t, missing, "after a SIGKILL and a rerun, nothing of the window is lost (%d missing; first: %v)", len(missing), firstFew(missing))
	assert.Empty(t, outside, "no event from outside the window arrives (%d; first: %v)", len(outside), firstFew(outside))
	assertNoDeadLetters(t, crashVars)
	live.stop(t)
	for _, p := range []*pipelineProcess{live, crashed, rerun, replay, again} {
		assert.NotContains(t, p.logs(), "address already in use", "the %s has an HTTP address of its own", p.name)
		assert.NotContains(t, p.logs(), "is locked by another process", "the %s has a state file of its own", p.name)
	}
	got, _ = liveHEC.received(t)
	assert.Equal(t, f.total(f.all), f.total(got), "the live collector gets nothing from the replays")
}

// TestReplayWindowLeavesOutAMissingLogType runs the recipe's replay against
// an account whose edition lacks Trust Monitor (Duo answers 404): the
// replay logs that it leaves the log type out, delivers the window of the
// others and exits with status 0 by itself.
func TestReplayWindowLeavesOutAMissingLogType(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	f := newReplayFixture(t, 42, duosim.Config{Unavailable: map[duoapi.LogType]int{duoapi.TrustMonitor: 404}})
	hec := newCollector(t, "hec-token")
	vars := f.withWindow(f.replayVars(hec, t.TempDir(), freeLoopbackAddr(t)))
	replay := startPipelineProcess(t, "replay", replayPipeline, vars)
	replay.waitExit(t, 90*time.Second)
	assert.Contains(t, replay.logs(), "Duo trust_monitor logs cannot be read, and are left out of the window to end_time", "the replay names the log type it leaves out")
	want := map[string][]string{}
	for lt, evs := range f.window {
		if lt != duoapi.TrustMonitor.SchemaName() {
			want[lt] = evs
		}
	}
	got, _ := hec.received(t)
	missing, outside, twice := compareEvents(want, got)
	assert.Empty(t, missing, "every event of the window of the other log types arrives (%d missing; first: %v)", len(missing), firstFew(missing))
	assert.Empty(t, outside, "(%d; first: %v)", len(outside), firstFew(outside))
	assert.Empty(t, twice, "(%d; first: %v)", len(twice), firstFew(twice))
	if t.Failed() {
		t.Logf("the replay's logs:\n%s", replay.logs())
	}
}

// TestReplayWindowShortV1Pages replays the window from a simulator whose v1
// endpoints answer 50 events a page, as Duo may ("more or fewer than 1000
// events may be returned"): a v1 page shorter than 1000 events does not
// mean the window has been read, so every administrator and offline
// enrollment event of the window must still arrive.
func TestReplayWindowShortV1Pages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	f := newReplayFixture(t, 43, duosim.Config{V1PageSize: 50})
	hec := newCollector(t, "hec-token")
	vars := f.withWindow(f.replayVars(hec, t.TempDir(), freeLoopbackAddr(t)))
	replay := startPipelineProcess(t, "replay", replayPipeline, vars)
	replay.waitExit(t, 90*time.Second)
	got, _ := hec.received(t)
	missing, outside, twice := compareEvents(f.window, got)
	assert.Empty(t, missing, "every event of the window arrives (%d missing; first: %v)", len(missing), firstFew(missing))
	assert.Empty(t, outside, "no event from outside the window arrives (%d; first: %v)", len(outside), firstFew(outside))
	assert.Empty(t, twice, "no event arrives twice (%d; first: %v)", len(twice), firstFew(twice))
}
