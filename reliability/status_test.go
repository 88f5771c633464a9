// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
	"github.com/duostream/duostream/input"
)

// chromium returns the headless browser of the status page test: the one
// .ci/services/chromium.sh installed, or chromium on the PATH. Under CI it
// must be there.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("DUOSTREAM_TEST_CHROMIUM"); p != "" {
		return p
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is missing: .ci/services/chromium.sh installs it")
	}
	t.Skip("chromium is not installed (bash .ci/services/chromium.sh installs it)")
	return ""
}

// TestStatusPage runs the real binary on an MSP parent with a healthy
// child, a cross-deployment child and a child whose edition lacks Trust
// Monitor, loads GET /duo/ in headless Chromium and checks what the page
// shows each stream: OK, unreachable with its fix, or failing with its fix;
// and that GET /duo/status says the same as JSON, without the secret.
func TestStatusPage(t *testing.T) {
	browser := chromium(t)
	sim := startSim(t, duosim.Config{Seed: 61, AccountsAPI: true, Children: []duosim.ChildConfig{
		{ID: "DAHEALTHYHEALTHYHE01", Name: "Healthy", APIHostname: "api-h0h0h0h0.duosecurity.com"},
		{ID: "DAFARAWAYFARAWAYFA02", Name: "Far Away", APIHostname: "api-f0f0f0f0.duosecurity.com", CrossDeployment: true},
		{ID: "DANOTRUSTNOTRUSTNO03", Name: "No Trust", APIHostname: "api-n0n0n0n0.duosecurity.com", Unavailable: map[duoapi.LogType]int{duoapi.TrustMonitor: 403}},
	}})
	now := time.Now()
	for _, c := range sim.Children() {
		require.NoError(t, c.Generate(duoapi.Authentication, 500, now.Add(-3*time.Hour), now.Add(-10*time.Minute)))
	}
	dir := t.TempDir()
	p := startDuostream(t, dir, "status", map[string]any{
		"input": duoInput(sim, map[string]any{
			"log_types":           []any{"authentication", "trust_monitor"},
			"accounts":            map[string]any{"discover": true, "refresh_interval": "1h"},
			"initial_lookback":    "4h",
			"poll_interval":       "1s",
			"requests_per_minute": 600,
		}),
		"cache_resources": bboltCache(filepath.Join(dir, "state.db")),
		"output":          map[string]any{"drop": map[string]any{}},
	})

	get := func(path string) (int, []byte) {
		resp, err := http.Get("http://" + p.addr + path)
		if err != nil {
			return 0, nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	var status struct {
		Inputs []input.InputStatus `json:"inputs"`
	}
	streams := map[string]input.StreamStat{}
	waitFor(t, p, 30*time.Second, 200*time.Millisecond, "every stream's state on /duo/status", func() bool {
		code, body := get(input.StatusJSONPath)
		if code != 200 || json.Unmarshal(body, &status) != nil || len(status.Inputs) != 1 {
			return false
		}
		clear(streams)
		for _, s := range status.Inputs[0].Streams {
			streams[s.AccountID+"/"+s.LogType] = s
		}
		healthy := streams["DAHEALTHYHEALTHYHE01/authentication"]
		return len(streams) == 6 && healthy.Position != nil && healthy.OK &&
			streams["DAFARAWAYFARAWAYFA02/authentication"].Unreachable &&
			streams["DANOTRUSTNOTRUSTNO03/trust_monitor"].LastError != ""
	})
	in := status.Inputs[0]
	assert.True(t, in.Discover)
	assert.Equal(t, 600, in.RequestsPerMinute)
	assert.Positive(t, in.RequestsLastMinute)
	assert.Contains(t, streams["DAFARAWAYFARAWAYFA02/authentication"].LastError, "give this child account its own Admin API application")
	assert.Contains(t, streams["DANOTRUSTNOTRUSTNO03/trust_monitor"].LastError, `drop "trust_monitor" from log_types`)
	_, raw := get(input.StatusJSONPath)
	checkNoSecret(t, "/duo/status", raw)

	// The page as a browser shows it.
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir="+filepath.Join(dir, "chromium"), "--dump-dom", "http://"+p.addr+input.StatusPagePath)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	dom, err := cmd.Output()
	require.NoError(t, err, "chromium: %s", tail(stderr.String(), 2000))
	page := string(dom)
	checkNoSecret(t, "/duo/ page", dom)
	assert.Contains(t, page, "<title>duostream status</title>")
	assert.Contains(t, page, `http-equiv="refresh"`, "the page reloads itself")
	row := func(account, logType string) string {
		m := regexp.MustCompile(`(?s)<tr class="[^"]*" data-account="` + account + `" data-log-type="` + logType + `">(.*?)</tr>`).FindStringSubmatch(page)
		require.NotNil(t, m, "a row for %s %s in:\n%s", account, logType, tail(page, 3000))
		return m[1]
	}
	healthy := row("DAHEALTHYHEALTHYHE01", "authentication")
	assert.Contains(t, healthy, `<td class="state">OK</td>`)
	assert.Contains(t, healthy, "Healthy (DAHEALTHYHEALTHYHE01)")
	assert.Regexp(t, `<td>\d{4}-\d\d-\d\dT`, healthy, "its stored position")
	far := row("DAFARAWAYFARAWAYFA02", "authentication")
	assert.Contains(t, far, `<td class="state">unreachable</td>`)
	assert.Contains(t, far, "give this child account its own Admin API application")
	noTrust := row("DANOTRUSTNOTRUSTNO03", "trust_monitor")
	assert.Contains(t, noTrust, `<td class="state">failing</td>`)
	assert.Contains(t, noTrust, "Trust Monitor")
	assert.Contains(t, row("DANOTRUSTNOTRUSTNO03", "authentication"), `<td class="state">OK</td>`, "the child's other log type is fine")
	assert.Regexp(t, `Request budget: <span class="budget">600 a minute per account; \d+ sent in the last minute</span>`, page)
	figure(t, "status page: %d streams shown in headless Chromium, %d bytes of DOM", len(streams), len(dom))
}
