// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// The credentials of every scenario. The secret key is distinctive so that
// a plain search finds it wherever it leaks: logs, metrics, CLI output.
const (
	testSecret  = "RELIABILITY-sk-7Qz9Xv2Lw8Tn4Kp6Rb3Yd5Hm"
	testIKey    = "DIRELIABILITY0000001"
	testAPIHost = "api-reliab01.duosecurity.com"
)

// secretParts are what the hygiene checks search for: the whole secret and
// distinctive pieces of it, so that a truncated or split copy is found too.
var secretParts = []string{testSecret, testSecret[:20], testSecret[16:]}

// binary is the duostream binary under test.
var binary string

// suiteSeed seeds every random choice of the suite: generated events,
// injected faults, kill moments. DUOSTREAM_RELIABILITY_SEED sets it to
// repeat a run; otherwise it changes every run and is printed.
var suiteSeed uint64

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	suiteSeed = uint64(time.Now().UnixNano())
	if s := os.Getenv("DUOSTREAM_RELIABILITY_SEED"); s != "" {
		var err error
		if suiteSeed, err = strconv.ParseUint(s, 10, 64); err != nil {
			fmt.Fprintf(os.Stderr, "DUOSTREAM_RELIABILITY_SEED: %v\n", err)
			return 1
		}
	}
	seedLine := fmt.Sprintf("seed %d (DUOSTREAM_RELIABILITY_SEED=%d repeats the run)", suiteSeed, suiteSeed)
	fmt.Println("FIGURE " + seedLine)
	appendFigure("suite: " + seedLine)
	binary = os.Getenv("DUOSTREAM_BINARY")
	if binary == "" {
		dir, err := os.MkdirTemp("", "duostream-reliability-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "duostream")
		build := exec.Command("go", "build", "-o", binary, "github.com/duostream/duostream/cmd/duostream")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "build duostream: %v\n", err)
			return 1
		}
	}
	code := m.Run()
	scanned.report()
	return code
}

// figure logs one measured figure and, when DUOSTREAM_RELIABILITY_FIGURES
// names a file, appends it there for the CI summary.
func figure(t testing.TB, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf(format, args...)
	t.Logf("FIGURE %s", line)
	appendFigure(fmt.Sprintf("%s: %s", t.Name(), line))
}

var figuresMu sync.Mutex

func appendFigure(line string) {
	path := os.Getenv("DUOSTREAM_RELIABILITY_FIGURES")
	if path == "" {
		return
	}
	figuresMu.Lock()
	defer figuresMu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintf(os.Stderr, "figures file: %v\n", err)
		return
	}
	defer f.Close()
	fmt.Fprintln(f, "- "+line)
}

// secretScan counts what the secret hygiene checks searched.
type secretScan struct {
	mu    sync.Mutex
	items int
	bytes int64
	hits  []string
}

var scanned secretScan

// checkNoSecret fails t if data, described by what, holds the secret key or
// a distinctive part of it.
func checkNoSecret(t testing.TB, what string, data []byte) {
	t.Helper()
	scanned.mu.Lock()
	scanned.items++
	scanned.bytes += int64(len(data))
	scanned.mu.Unlock()
	for _, part := range secretParts {
		if i := bytes.Index(data, []byte(part)); i >= 0 {
			lo, hi := max(0, i-200), min(len(data), i+len(part)+50)
			scanned.mu.Lock()
			scanned.hits = append(scanned.hits, what)
			scanned.mu.Unlock()
			t.Errorf("the secret key appears in %s: ...%s...", what, data[lo:hi])
			return
		}
	}
}

func (s *secretScan) report() {
	s.mu.Lock()
	defer s.mu.Unlock()
	line := fmt.Sprintf("secret hygiene: searched %d logs, metric dumps and CLI outputs (%.1f MB) for the secret key: %d hits",
		s.items, float64(s.bytes)/1e6, len(s.hits))
	fmt.Println("FIGURE " + line)
	appendFigure("suite: " + line)
}

// startSim starts the Duo API simulator with the suite's credentials (cfg
// may override them) and stops it when t ends.
func startSim(t testing.TB, cfg duosim.Config) *duosim.Server {
	t.Helper()
	if cfg.IntegrationKey == "" {
		cfg.IntegrationKey = testIKey
	}
	if cfg.SecretKey == "" {
		cfg.SecretKey = testSecret
	}
	if cfg.APIHost == "" {
		cfg.APIHost = testAPIHost
	}
	sim, err := duosim.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })
	return sim
}

// duoInput returns the input section of a pipeline that reads sim, with
// the secret key taken from the environment as a deployment would, pulling
// all six log types; extra fields of duo_admin_logs replace the defaults.
func duoInput(sim *duosim.Server, extra map[string]any) map[string]any {
	in := map[string]any{
		"log_types":        allLogTypeNames(),
		"api_hostname":     sim.APIHost(),
		"integration_key":  sim.IntegrationKey(),
		"secret_key":       "${DUO_SECRET_KEY}",
		"base_url":         sim.URL,
		"checkpoint_cache": "state",
	}
	maps.Copy(in, extra)
	return map[string]any{"duo_admin_logs": in}
}

// allLogTypeNames lists every log type by the name a config gives it.
func allLogTypeNames() []any {
	names := make([]any, len(duoapi.AllLogTypes))
	for i, lt := range duoapi.AllLogTypes {
		names[i] = string(lt)
	}
	return names
}

// bboltCache returns cache_resources holding the bbolt checkpoint store at
// path, labelled "state".
func bboltCache(path string) []any {
	return []any{map[string]any{"label": "state", "bbolt": map[string]any{"path": path}}}
}

// fileOutputByType writes each event, one per line, to dir/<duo_log_type>.jsonl.
func fileOutputByType(dir string) map[string]any {
	return map[string]any{"file": map[string]any{
		"path":  filepath.Join(dir, `${! meta("duo_log_type") }.jsonl`),
		"codec": "lines",
	}}
}

// freeAddr returns a free loopback address for the duostream HTTP server.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// proc is one duostream process under test.
type proc struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	addr   string
	stdout string
	stderr string
	done   chan struct{}
	err    error // the result of Wait, once done is closed
}

// startDuostream writes conf (the sections of a Benthos config; http,
// metrics and logger get the suite's defaults when absent) to dir and runs
// `duostream run` on it, with the secret key in DUO_SECRET_KEY. Its
// standard output and error go to files in dir. When t ends, a process
// still running is killed and both files are searched for the secret.
func startDuostream(t testing.TB, dir, name string, conf map[string]any) *proc {
	t.Helper()
	return startDuostreamEnv(t, dir, name, conf)
}

// startDuostreamEnv is startDuostream with the variables env (NAME=value)
// added to the process's environment.
func startDuostreamEnv(t testing.TB, dir, name string, conf map[string]any, env ...string) *proc {
	t.Helper()
	conf = maps.Clone(conf)
	addr := freeAddr(t)
	if _, ok := conf["http"]; !ok {
		conf["http"] = map[string]any{"address": addr}
	}
	if _, ok := conf["metrics"]; !ok {
		conf["metrics"] = map[string]any{"json_api": map[string]any{}}
	}
	if _, ok := conf["logger"]; !ok {
		conf["logger"] = map[string]any{"level": "DEBUG", "format": "logfmt"}
	}
	// JSON is YAML: the config is written as JSON so that no value needs
	// YAML quoting.
	raw, err := json.MarshalIndent(conf, "", "  ")
	require.NoError(t, err)
	confPath := filepath.Join(dir, name+".yaml")
	require.NoError(t, os.WriteFile(confPath, raw, 0o600))

	cmd := exec.Command(binary, "run", confPath)
	cmd.Env = append(append(os.Environ(), "DUO_SECRET_KEY="+testSecret), env...)
	return launch(t, dir, name, addr, cmd, confPath)
}

// launch starts cmd as the process name of the test, its HTTP server on
// addr (empty when unknown), with its standard output and error in files in
// dir. When t ends, a process still running is killed, and both files and
// the files named by scan are searched for the secret.
func launch(t testing.TB, dir, name, addr string, cmd *exec.Cmd, scan ...string) *proc {
	t.Helper()
	p := &proc{
		t:      t,
		name:   name,
		cmd:    cmd,
		addr:   addr,
		stdout: filepath.Join(dir, name+".stdout"),
		stderr: filepath.Join(dir, name+".stderr"),
		done:   make(chan struct{}),
	}
	outF, err := os.Create(p.stdout)
	require.NoError(t, err)
	errF, err := os.Create(p.stderr)
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = outF, errF
	require.NoError(t, cmd.Start())
	go func() {
		p.err = cmd.Wait()
		outF.Close()
		errF.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			p.kill()
		}
		for _, path := range append([]string{p.stdout, p.stderr}, scan...) {
			b, err := os.ReadFile(path)
			if err == nil {
				checkNoSecret(t, filepath.Base(path), b)
			}
		}
	})
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to end.
func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop sends SIGTERM and returns the exit error (nil for status 0), or an
// error when the process is still running after within.
func (p *proc) stop(within time.Duration) error {
	if p.exited() {
		return fmt.Errorf("%s had already exited: %v", p.name, p.err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(within):
		p.kill()
		return fmt.Errorf("%s still running %s after SIGTERM", p.name, within)
	}
}

// logs returns what the process wrote so far: its log lines go to standard
// output, or to standard error when the pipeline writes to standard output.
func (p *proc) logs() string {
	out, _ := os.ReadFile(p.stdout)
	errs, _ := os.ReadFile(p.stderr)
	return string(out) + string(errs)
}

// procStatus returns a field of /proc/<pid>/status in bytes (VmHWM is the
// peak resident set size, VmRSS the current one).
func (p *proc) procStatus(field string) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse %s %q: %w", field, rest, err)
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, p.cmd.Process.Pid)
}

// metrics scrapes the json_api metrics of the process: counters and gauges
// by their labelled names, such as
// duo_requests_total{endpoint="/admin/v1/logs/administrator",outcome="200"}.
// The raw dump is searched for the secret.
func (p *proc) metrics() (metricSet, error) {
	resp, err := http.Get("http://" + p.addr + "/stats")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	checkNoSecret(p.t, p.name+" metrics", body)
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("decode /stats: %w", err)
	}
	m := metricSet{}
	for k, v := range raw {
		var f float64
		if json.Unmarshal(v, &f) == nil {
			m[k] = f
		}
	}
	return m, nil
}

// metricSet holds scraped metric values by labelled name.
type metricSet map[string]float64

// sum adds up the values of metric name whose labels include every label
// in want (given as name, value pairs).
func (m metricSet) sum(name string, want ...string) float64 {
	var total float64
	for key, v := range m {
		base, labels := splitMetric(key)
		if base != name {
			continue
		}
		match := true
		for i := 0; i+1 < len(want); i += 2 {
			if labels[want[i]] != want[i+1] {
				match = false
				break
			}
		}
		if match {
			total += v
		}
	}
	return total
}

// splitMetric splits `name{a="x",b="y"}` into its name and labels.
func splitMetric(key string) (string, map[string]string) {
	name, rest, ok := strings.Cut(key, "{")
	labels := map[string]string{}
	if !ok {
		return name, labels
	}
	rest = strings.TrimSuffix(rest, "}")
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if ok {
			labels[k] = strings.Trim(v, `"`)
		}
	}
	return name, labels
}

// waitFor polls cond every interval until it is true, failing t after
// within (or at once when p has exited, if p is not nil).
func waitFor(t testing.TB, p *proc, within, interval time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return
		}
		if p != nil && p.exited() {
			t.Fatalf("waiting for %s: %s exited (%v); logs:\n%s", what, p.name, p.err, tail(p.logs(), 4000))
		}
		if time.Now().After(deadline) {
			msg := ""
			if p != nil {
				msg = "; logs:\n" + tail(p.logs(), 4000)
			}
			t.Fatalf("%s did not happen within %s%s", what, within, msg)
		}
		time.Sleep(interval)
	}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// runCLI runs duostream with args and returns its combined output and exit
// code; the output is searched for the secret. The secret key is in
// DUO_SECRET_KEY unless env says otherwise: each entry of env is NAME=value,
// or a bare NAME to unset it.
func runCLI(t testing.TB, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), binary, args...)
	vars := map[string]string{"DUO_SECRET_KEY": testSecret}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			if _, set := vars[k]; !set {
				vars[k] = v
			}
		}
	}
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		} else {
			delete(vars, kv)
		}
	}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("run duostream %v: %v", args, err)
	}
	checkNoSecret(t, "duostream "+strings.Join(args, " "), out)
	return string(out), code
}

func megabytes(b int64) float64 { return float64(b) / (1 << 20) }
