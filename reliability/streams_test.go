// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// defaultHTTPAddr is where duostream serves HTTP when no config says.
const defaultHTTPAddr = "127.0.0.1:4195"

// streamsResources and streamsAcme are the files of README's "Several Duo
// accounts" recipe. The test adds only base_url (to reach the simulator)
// and the output directory.
const (
	streamsResources = `cache_resources:
  - label: duo_state
    bbolt:
      path: ${DUOSTREAM_STATE_DIR:/var/lib/duostream}/streams.db
`
	streamsAcme = `input:
  duo_admin_logs:
    api_hostname: ${ACME_DUO_API_HOSTNAME}
    integration_key: ${ACME_DUO_INTEGRATION_KEY}
    secret_key: ${ACME_DUO_SECRET_KEY}
    base_url: ${ACME_DUO_BASE_URL}
    checkpoint_cache: duo_state
pipeline:
  processors:
    - duo_normalize: {}
output:
  file:
    path: OUT_DIR/acme.jsonl
    codec: lines
`
)

// streamsEvents is how many events each account's simulator holds.
var streamsEvents = map[duoapi.LogType]int{duoapi.Authentication: 200, duoapi.Administrator: 20}

// TestStreamsModeLocked runs README's streams recipe against two simulated
// Duo accounts. By default the HTTP server listens on loopback only and
// the streams REST API is off; with --streams-api, no endpoint returns the
// secret key and no posted config can run a program. `run` without an
// http section also listens on loopback only.
func TestStreamsModeLocked(t *testing.T) {
	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "streams"), 0o755))
	require.NoError(t, os.MkdirAll(outDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "resources.yaml"), []byte(streamsResources), 0o600))
	env := []string{"DUOSTREAM_STATE_DIR=" + dir}
	for _, account := range []string{"acme", "globex"} {
		sim := startSim(t, duosim.Config{
			Seed:           suiteSeed,
			IntegrationKey: "DI" + strings.ToUpper(account) + strings.Repeat("0", 18-len(account)),
			APIHost:        "api-" + account + ".duosecurity.com",
		})
		now := time.Now()
		for lt, n := range streamsEvents {
			require.NoError(t, sim.Generate(lt, n, now.Add(-12*time.Hour), now.Add(-5*time.Minute)))
		}
		prefix := strings.ToUpper(account) + "_"
		env = append(env,
			prefix+"DUO_API_HOSTNAME="+sim.APIHost(),
			prefix+"DUO_INTEGRATION_KEY="+sim.IntegrationKey(),
			prefix+"DUO_SECRET_KEY="+testSecret,
			prefix+"DUO_BASE_URL="+sim.URL)
		conf := strings.ReplaceAll(streamsAcme, "ACME_", prefix)
		conf = strings.ReplaceAll(conf, "OUT_DIR/acme", filepath.Join(outDir, account))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "streams", account+".yaml"), []byte(conf), 0o600))
	}
	// The recipe, as README gives it, run from the directory of its files.
	recipe := []string{"-r", "./resources.yaml", "./streams/acme.yaml", "./streams/globex.yaml"}

	out, code := runCLIIn(t, dir, env, append([]string{"lint"}, recipe...)...)
	require.Equal(t, 0, code, "duostream lint of the recipe: %s", out)

	t.Run("default", func(t *testing.T) {
		waitPortFree(t, defaultHTTPAddr)
		p := startDuostreamIn(t, dir, "streams-default", env, append([]string{"streams"}, recipe...)...)
		p.addr = defaultHTTPAddr
		waitFor(t, p, 15*time.Second, 50*time.Millisecond, "HTTP server up", func() bool {
			return status(t, http.MethodGet, p.addr, "/ping", "") == http.StatusOK
		})
		bound := listenAddrs(t, 4195)
		assert.Equal(t, []string{defaultHTTPAddr}, bound, "addresses listening on port 4195")
		others := nonLoopbackIPs(t)
		for _, ip := range others {
			c, err := net.DialTimeout("tcp", net.JoinHostPort(ip, "4195"), time.Second)
			if err == nil {
				c.Close()
			}
			assert.Error(t, err, "connect to %s:4195", ip)
		}
		figure(t, "streams with no main config listen on %v only; connecting to port 4195 of the machine's %d other addresses %v failed", bound, len(others), others)

		for _, r := range []struct{ method, path, body string }{
			{http.MethodGet, "/streams", ""},
			{http.MethodGet, "/streams/acme", ""},
			{http.MethodPost, "/streams/evil", evilStream},
			{http.MethodPost, "/streams", `{"evil": ` + evilStreamJSON + `}`},
			{http.MethodGet, "/streams/evil", ""},
		} {
			assert.Equal(t, http.StatusNotFound, status(t, r.method, p.addr, r.path, r.body), "%s %s with the API off", r.method, r.path)
		}
		figure(t, "streams API off by default: GET /streams, GET /streams/acme, POST /streams/evil, POST /streams all 404")

		waitDelivered(t, p, outDir)
		require.NoError(t, p.stop(30*time.Second))
		assert.NotContains(t, p.logs(), "evil")
	})

	t.Run("api on", func(t *testing.T) {
		addr := freeAddr(t)
		obs := filepath.Join(dir, "observability.yaml")
		require.NoError(t, os.WriteFile(obs, []byte("http:\n  address: "+addr+"\n  debug_endpoints: true\n"), 0o600))
		args := append([]string{"streams", "--streams-api", "-o", obs}, recipe...)
		p := startDuostreamIn(t, dir, "streams-api", env, args...)
		p.addr = addr
		waitFor(t, p, 15*time.Second, 50*time.Millisecond, "HTTP server up", func() bool {
			return status(t, http.MethodGet, p.addr, "/ping", "") == http.StatusOK
		})

		want := map[string]int{
			"/streams":              http.StatusOK,
			"/streams/acme":         http.StatusForbidden,
			"/streams/globex":       http.StatusForbidden,
			"/streams/acme/stats":   http.StatusOK,
			"/debug/config/json":    http.StatusOK,
			"/debug/config/yaml":    http.StatusOK,
			"/debug/stack":          http.StatusOK,
			"/endpoints":            http.StatusOK,
			"/metrics":              http.StatusOK,
			"/benthos/streams/acme": http.StatusForbidden,
		}
		for path, code := range want {
			got, body := get(t, p.addr, path)
			assert.Equal(t, code, got, "GET %s: %s", path, tail(string(body), 300))
			checkNoSecret(t, "GET "+path, body)
		}
		_, list := get(t, p.addr, "/streams")
		assert.Contains(t, string(list), `"acme"`)
		assert.Contains(t, string(list), `"globex"`)

		// A config with a command processor is refused by the linter,
		// whether posted as a set or as one stream.
		assert.Equal(t, http.StatusBadRequest, status(t, http.MethodPost, p.addr, "/streams", `{"evil": `+evilStreamJSON+`}`), "POST /streams with a command processor")
		assert.Equal(t, http.StatusMethodNotAllowed, status(t, http.MethodPost, p.addr, "/streams/evil", evilStream), "POST /streams/evil")
		_, list = get(t, p.addr, "/streams")
		assert.NotContains(t, string(list), "evil", "streams after the posts")
		_, err := os.Stat(filepath.Join(dir, "pwned"))
		assert.True(t, os.IsNotExist(err), "the posted command ran")
		figure(t, "streams API on: %d endpoints read, none held the secret; /streams/<id> 403; POST of a command processor 400 (lint), POST /streams/evil 405", len(want))
		require.NoError(t, p.stop(30*time.Second))
	})

	t.Run("run without http section", func(t *testing.T) {
		conf := filepath.Join(dir, "run.yaml")
		require.NoError(t, os.WriteFile(conf, []byte("input:\n  generate: {mapping: 'root = 1', interval: 1s}\noutput:\n  drop: {}\n"), 0o600))
		waitPortFree(t, defaultHTTPAddr)
		p := startDuostreamIn(t, dir, "run-default", env, "run", conf)
		p.addr = defaultHTTPAddr
		waitFor(t, p, 15*time.Second, 50*time.Millisecond, "HTTP server up", func() bool {
			return status(t, http.MethodGet, p.addr, "/ping", "") == http.StatusOK
		})
		bound := listenAddrs(t, 4195)
		assert.Equal(t, []string{defaultHTTPAddr}, bound, "addresses listening on port 4195")
		figure(t, "run with no http section listens on %v only", bound)
		require.NoError(t, p.stop(30*time.Second))
	})
}

// evilStream is a stream whose processor would run a program that leaves
// a file behind.
const evilStream = `input:
  generate: {mapping: 'root = 1', count: 1}
pipeline:
  processors:
    - command: {name: touch, args_mapping: '["pwned"]'}
output:
  drop: {}
`

const evilStreamJSON = `{"input": {"generate": {"mapping": "root = 1", "count": 1}}, "pipeline": {"processors": [{"command": {"name": "touch", "args_mapping": "[\"pwned\"]"}}]}, "output": {"drop": {}}}`

// runCLIIn runs duostream with args from dir, with env added to the
// environment, and returns its combined output, searched for the secret,
// and exit code.
func runCLIIn(t *testing.T, dir string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	checkNoSecret(t, "duostream "+strings.Join(args, " "), out)
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return string(out), exitErr.ExitCode()
	}
	require.NoError(t, err)
	return string(out), 0
}

// startDuostreamIn runs duostream with args from dir, with env added to the
// environment. Its output goes to files in dir that are searched for the
// secret when t ends.
func startDuostreamIn(t *testing.T, dir, name string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return launch(t, dir, name, "", cmd)
}

// waitDelivered waits until both streams have written every event of
// their account, each normalized.
func waitDelivered(t *testing.T, p *proc, outDir string) {
	t.Helper()
	total := 0
	for _, n := range streamsEvents {
		total += n
	}
	waitFor(t, p, 90*time.Second, 200*time.Millisecond, fmt.Sprintf("%d events from each account", total), func() bool {
		for _, account := range []string{"acme", "globex"} {
			if len(readLines(filepath.Join(outDir, account+".jsonl"))) < total {
				return false
			}
		}
		return true
	})
	for _, account := range []string{"acme", "globex"} {
		lines := readLines(filepath.Join(outDir, account+".jsonl"))
		assert.Len(t, lines, total, account)
		for _, line := range lines {
			var ev map[string]any
			require.NoError(t, json.Unmarshal([]byte(line), &ev), "%s: %s", account, line)
			assert.NotEmpty(t, ev["p_log_type"], "%s: %s", account, line)
		}
	}
	figure(t, "README streams recipe: %d events from each of 2 accounts delivered and normalized", total)
}

func readLines(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if sc.Text() != "" {
			lines = append(lines, sc.Text())
		}
	}
	return lines
}

// status sends one request and returns its status code, or 0 when the
// request fails.
func status(t *testing.T, method, addr, path, body string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, "http://"+addr+path, strings.NewReader(body))
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	checkNoSecret(t, method+" "+path, b)
	return resp.StatusCode
}

func get(t *testing.T, addr, path string) (int, []byte) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, b
}

// waitPortFree waits until nothing listens on addr, so that the tests of
// the default address do not meet another process on it.
func waitPortFree(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			require.NoError(t, ln.Close())
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s stayed busy for 30s: %v", addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// listenAddrs returns the local addresses of the TCP sockets listening on
// port, from /proc/net/tcp and /proc/net/tcp6.
func listenAddrs(t *testing.T, port int) []string {
	t.Helper()
	var addrs []string
	for _, file := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 4 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			hexIP, hexPort, ok := strings.Cut(f[1], ":")
			if !ok {
				continue
			}
			if p, err := strconv.ParseUint(hexPort, 16, 16); err != nil || int(p) != port {
				continue
			}
			ip, err := procNetIP(hexIP)
			require.NoError(t, err, "%s: %q", file, line)
			addrs = append(addrs, net.JoinHostPort(ip.String(), strconv.Itoa(port)))
		}
	}
	return addrs
}

// procNetIP decodes an address of /proc/net/tcp{,6}: 32-bit words in host
// (little-endian) byte order.
func procNetIP(s string) (net.IP, error) {
	b, err := hex.DecodeString(s)
	if err != nil || (len(b) != 4 && len(b) != 16) {
		return nil, fmt.Errorf("bad address %q", s)
	}
	for i := 0; i < len(b); i += 4 {
		b[i], b[i+1], b[i+2], b[i+3] = b[i+3], b[i+2], b[i+1], b[i]
	}
	return net.IP(b), nil
}

// nonLoopbackIPs returns the machine's addresses other than loopback.
func nonLoopbackIPs(t *testing.T) []string {
	t.Helper()
	addrs, err := net.InterfaceAddrs()
	require.NoError(t, err)
	var ips []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			ips = append(ips, n.IP.String())
		}
	}
	return ips
}
