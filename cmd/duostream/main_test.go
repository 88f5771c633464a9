// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// TestMain lets tests run the real duostream CLI: the test binary re-executes
// itself with DUOSTREAM_TEST_MAIN=1 and the CLI arguments.
func TestMain(m *testing.M) {
	if os.Getenv("DUOSTREAM_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func duostreamCmd(t *testing.T, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
	cmd.Env = append(os.Environ(), "DUOSTREAM_TEST_MAIN=1")
	return cmd
}

// TestDemoPrintsNormalizedEvents runs `duostream demo` and reads normalized
// events of every log type from its stdout within 20 seconds.
func TestDemoPrintsNormalizedEvents(t *testing.T) {
	cmd := duostreamCmd(t, "demo")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	require.NoError(t, cmd.Start())

	seen := map[string]int{}
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	deadline := time.After(20 * time.Second)
read:
	for len(seen) < len(duoapi.AllLogTypes) {
		select {
		case line, ok := <-lines:
			if !ok {
				break read
			}
			var ev map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &ev), "stdout line %q", line)
			logType, _ := ev["p_log_type"].(string)
			require.NotEmpty(t, logType, "event without p_log_type: %s", line)
			assert.NotEmpty(t, ev["p_row_id"])
			assert.NotEmpty(t, ev["p_event_time"])
			seen[logType]++
		case <-deadline:
			break read
		}
	}
	elapsed := time.Since(start)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err = cmd.Wait()
	assert.NoError(t, err, "demo exits cleanly on SIGTERM; stderr:\n%s", stderr.String())
	assert.Len(t, seen, len(duoapi.AllLogTypes), "events of all six log types within 20s (took %s): %v; stderr:\n%s", elapsed, seen, stderr.String())
	assert.NotContains(t, stderr.String(), duosim.DefaultSecretKey)
	assert.NotContains(t, stderr.String(), "dead_letter_reason", "no generated event breaks its schema")
}

// TestDemoAccounts runs `duostream demo --accounts 3` and reads normalized
// events of three distinct child accounts, by p_source_id, from its stdout
// within 20 seconds; the banner lists the three children.
func TestDemoAccounts(t *testing.T) {
	cmd := duostreamCmd(t, "demo", "--accounts", "3")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	require.NoError(t, cmd.Start())

	sources := map[string]string{} // p_source_id -> p_source_label
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	deadline := time.After(20 * time.Second)
read:
	for len(sources) < 3 {
		select {
		case line, ok := <-lines:
			if !ok {
				break read
			}
			var ev struct {
				LogType     string `json:"p_log_type"`
				SourceID    string `json:"p_source_id"`
				SourceLabel string `json:"p_source_label"`
			}
			require.NoError(t, json.Unmarshal([]byte(line), &ev), "stdout line %q", line)
			require.NotEmpty(t, ev.LogType, "event without p_log_type: %s", line)
			require.Regexp(t, "^DA[0-9A-Z]{18}$", ev.SourceID, "every event names its child account: %s", line)
			require.NotEmpty(t, ev.SourceLabel, "every event names its child account: %s", line)
			if label, ok := sources[ev.SourceID]; ok {
				assert.Equal(t, label, ev.SourceLabel, "one name per child account")
			}
			sources[ev.SourceID] = ev.SourceLabel
		case <-deadline:
			break read
		}
	}
	elapsed := time.Since(start)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err = cmd.Wait()
	logs := stderr.String()
	assert.NoError(t, err, "demo exits cleanly on SIGTERM; stderr:\n%s", logs)
	assert.Len(t, sources, 3, "events of three child accounts within 20s (took %s): %v; stderr:\n%s", elapsed, sources, logs)
	assert.Contains(t, logs, "with 3 child accounts:")
	for id, label := range sources {
		assert.Regexp(t, `(?m)^  `+id+`  `+regexp.QuoteMeta(label)+` {2,}api-[0-9a-z]{8}\.duosecurity\.com$`, logs, "the banner lists child %s with its name and API hostname", id)
	}
	assert.NotContains(t, logs, duosim.DefaultSecretKey)
	assert.NotContains(t, logs, "dead_letter_reason", "no generated event breaks its schema")
}

func TestDemoRejectsBadAccounts(t *testing.T) {
	out, err := duostreamCmd(t, "demo", "--accounts", "-1").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "--accounts must be between 0 and 1000")
}

func TestDemoRejectsBadBackfill(t *testing.T) {
	out, err := duostreamCmd(t, "demo", "--backfill", "1m").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "--backfill must be between 3m")
}

// TestEnvironmentLeavesOutProgramRunners checks that the components that
// run host programs are not in the distribution, and that the rest are.
func TestEnvironmentLeavesOutProgramRunners(t *testing.T) {
	env := environment()
	tests := []struct {
		kind, name string
		want       bool
	}{
		{"processor", "command", false},
		{"processor", "subprocess", false},
		{"input", "subprocess", false},
		{"output", "subprocess", false},
		{"input", "duo_admin_logs", true},
		{"processor", "duo_normalize", true},
		{"processor", "mapping", true},
		{"input", "file", true},
		{"output", "stdout", true},
	}
	// GetProcessorConfig and its kin look names up in Benthos' global
	// registry, not in the environment, so the test walks it instead.
	have := map[string]bool{}
	env.WalkInputs(func(name string, _ *service.ConfigView) { have["input "+name] = true })
	env.WalkProcessors(func(name string, _ *service.ConfigView) { have["processor "+name] = true })
	env.WalkOutputs(func(name string, _ *service.ConfigView) { have["output "+name] = true })
	for _, tt := range tests {
		assert.Equal(t, tt.want, have[tt.kind+" "+tt.name], "%s %s in the environment", tt.kind, tt.name)
	}
}

func TestListHidesProgramRunners(t *testing.T) {
	out, err := duostreamCmd(t, "list", "--format", "json", "inputs", "processors", "outputs").Output()
	require.NoError(t, err)
	var listed map[string][]string
	require.NoError(t, json.Unmarshal(out, &listed), "list output %s", out)
	assert.Contains(t, listed["processors"], "duo_normalize")
	for kind, names := range listed {
		assert.NotContains(t, names, "command", kind)
		assert.NotContains(t, names, "subprocess", kind)
	}
}

// TestProgramRunnersRefused checks that lint and run reject a config using
// a program runner, naming it.
func TestProgramRunnersRefused(t *testing.T) {
	tests := []struct {
		name, conf, want string
	}{
		{"command processor", "input: {generate: {mapping: 'root = 1', count: 1}}\npipeline: {processors: [{command: {name: id}}]}\noutput: {drop: {}}\n", "unable to infer processor type from candidates: [command]"},
		{"subprocess processor", "input: {generate: {mapping: 'root = 1', count: 1}}\npipeline: {processors: [{subprocess: {name: cat}}]}\noutput: {drop: {}}\n", "unable to infer processor type from candidates: [subprocess]"},
		{"subprocess input", "input: {subprocess: {name: id}}\noutput: {drop: {}}\n", "unable to infer input type from candidates: [subprocess]"},
		{"subprocess output", "input: {generate: {mapping: 'root = 1', count: 1}}\noutput: {subprocess: {name: sh}}\n", "unable to infer output type from candidates: [subprocess]"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".yaml")
			require.NoError(t, os.WriteFile(path, []byte(tt.conf), 0o600))
			for _, cmd := range []string{"lint", "run"} {
				out, err := duostreamCmd(t, cmd, path).CombinedOutput()
				assert.Error(t, err, "duostream %s succeeded: %s", cmd, out)
				assert.Contains(t, string(out), tt.want, "duostream %s", cmd)
			}
		})
	}
}

// TestHTTPAddressDefault checks, through `duostream echo`, that the HTTP
// server defaults to loopback and that an explicit address wins.
func TestHTTPAddressDefault(t *testing.T) {
	const pipeline = "input: {generate: {mapping: 'root = 1'}}\noutput: {drop: {}}\n"
	tests := []struct {
		name string
		conf string
		args []string
		want string
	}{
		{name: "no http section", conf: pipeline, want: "127.0.0.1:4195"},
		{name: "http section without address", conf: "http: {debug_endpoints: false}\n" + pipeline, want: "127.0.0.1:4195"},
		{name: "explicit address", conf: "http: {address: 0.0.0.0:4195}\n" + pipeline, want: "0.0.0.0:4195"},
		{name: "address set on the command line", conf: pipeline, args: []string{"--set", "http.address=0.0.0.0:9000"}, want: "0.0.0.0:9000"},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".yaml")
			require.NoError(t, os.WriteFile(path, []byte(tt.conf), 0o600))
			args := append([]string{"echo"}, tt.args...)
			out, err := duostreamCmd(t, append(args, path)...).Output()
			require.NoError(t, err)
			var conf struct {
				HTTP struct {
					Address string `yaml:"address"`
				} `yaml:"http"`
			}
			require.NoError(t, yaml.Unmarshal(out, &conf), "echo output %s", out)
			assert.Equal(t, tt.want, conf.HTTP.Address)
		})
	}
}

// startStreams runs `duostream streams` with args before the stream file
// and an observability config serving HTTP on a free loopback address,
// which it returns once the server answers. The stream generates and drops
// messages, so it needs no Duo account.
func startStreams(t *testing.T, env []string, args ...string) string {
	t.Helper()
	addr := freeLoopbackAddr(t)
	dir := t.TempDir()
	obs := filepath.Join(dir, "observability.yaml")
	require.NoError(t, os.WriteFile(obs, []byte("http:\n  address: "+addr+"\n"), 0o600))
	stream := filepath.Join(dir, "tick.yaml")
	require.NoError(t, os.WriteFile(stream, []byte("input: {generate: {mapping: 'root = \"${TICK_SECRET}\"', interval: 100ms}}\noutput: {drop: {}}\n"), 0o600))

	args = append(append([]string{"streams"}, args...), "-o", obs, stream)
	cmd := duostreamCmd(t, args...)
	cmd.Env = append(cmd.Env, "TICK_SECRET=tick-secret-value")
	cmd.Env = append(cmd.Env, env...)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("duostream %v exited: %v; logs:\n%s", args, err, logs.String())
		default:
		}
		if resp, err := http.Get("http://" + addr + "/ping"); err == nil {
			resp.Body.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("duostream %v did not serve HTTP within 15s; logs:\n%s", args, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// TestStreamsAPIOptIn checks that the streams REST API is off unless asked
// for, and that /streams/{id} never serves a config.
func TestStreamsAPIOptIn(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		args []string
		// want are the status codes of GET /streams, GET /streams/tick
		// and POST /streams/evil.
		want [3]int
	}{
		{name: "default", want: [3]int{404, 404, 404}},
		{name: "flag", args: []string{"--streams-api"}, want: [3]int{200, 403, 405}},
		{name: "environment variable", env: []string{"DUOSTREAM_STREAMS_API=true"}, want: [3]int{200, 403, 405}},
		{name: "Benthos' --no-api", args: []string{"--no-api"}, want: [3]int{404, 404, 404}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startStreams(t, tt.env, tt.args...)
			requests := []struct{ method, path string }{
				{http.MethodGet, "/streams"},
				{http.MethodGet, "/streams/tick"},
				{http.MethodPost, "/streams/evil"},
			}
			for i, r := range requests {
				req, err := http.NewRequestWithContext(t.Context(), r.method, "http://"+addr+r.path,
					strings.NewReader("input: {generate: {mapping: 'root = 1'}}\noutput: {drop: {}}\n"))
				require.NoError(t, err)
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				assert.Equal(t, tt.want[i], resp.StatusCode, "%s %s: %s", r.method, r.path, body)
				assert.NotContains(t, string(body), "tick-secret-value", "%s %s", r.method, r.path)
			}
		})
	}
}

func TestStreamsAPIFlagsContradict(t *testing.T) {
	out, err := duostreamCmd(t, "streams", "--streams-api", "--no-api").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "--streams-api and --no-api contradict each other")
}

func TestRefuseStreamCRUD(t *testing.T) {
	tests := []struct {
		method string
		want   int
	}{
		{http.MethodGet, http.StatusForbidden},
		{http.MethodPost, http.StatusMethodNotAllowed},
		{http.MethodPut, http.StatusMethodNotAllowed},
		{http.MethodPatch, http.StatusMethodNotAllowed},
		{http.MethodDelete, http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		refuseStreamCRUD(w, httptest.NewRequest(tt.method, "/streams/acme", nil))
		assert.Equal(t, tt.want, w.Code, "refuseStreamCRUD(%s)", tt.method)
	}
}
