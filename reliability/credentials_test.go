// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// credentialsWatch is how long TestClockAndCredentials watches each
// process after its first errors.
const credentialsWatch = 4 * time.Second

// TestClockAndCredentials runs duostream against a Duo whose clock is ten
// minutes ahead (40105), with a secret key Duo does not know (40103), and
// with an application that lacks the "Grant read log" permission (403).
// Each time every log type logs one clear error that says what to fix, the
// secret never appears, and the process keeps running without hammering
// Duo: it backs off for tens of seconds, so that once the problem is fixed
// it resumes by itself.
func TestClockAndCredentials(t *testing.T) {
	tests := []struct {
		name string
		cfg  duosim.Config
		code int
		want []string
		// wantRe, when set, is a pattern the message must match.
		wantRe string
	}{
		{
			name: "clock skew",
			cfg:  duosim.Config{Now: func() time.Time { return time.Now().Add(10 * time.Minute) }},
			code: duoapi.CodeBadTimestamp,
			want: []string{"synchronise it with NTP"},
			// Duo's clock is ahead: this machine's is behind.
			wantRe: `this machine's clock is (599|600|601) seconds behind Duo's`,
		},
		{
			name: "wrong secret key",
			// The simulator knows another secret than the one duostream
			// signs with.
			cfg:  duosim.Config{SecretKey: "duosim-another-secret-key-0000000000000"},
			code: duoapi.CodeInvalidSignature,
			want: []string{"check secret_key", "api_hostname"},
		},
		{
			name: "missing permission",
			cfg:  duosim.Config{DenyLogRead: true},
			code: duoapi.CodeAccessForbidden,
			want: []string{`"Grant read log" permission`, "Duo Admin Panel"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, tt.cfg)
			dir := t.TempDir()
			p := startDuostream(t, dir, strings.ReplaceAll(tt.name, " ", "-"), map[string]any{
				"input": duoInput(sim, map[string]any{
					"checkpoint_key":   "creds",
					"initial_lookback": "1h",
				}),
				"cache_resources": bboltCache(filepath.Join(dir, "state.db")),
				"output":          map[string]any{"drop": map[string]any{}},
			})
			errorLines := func() []string {
				var out []string
				for _, line := range strings.Split(p.logs(), "\n") {
					if strings.Contains(line, "level=error") {
						out = append(out, line)
					}
				}
				return out
			}
			waitFor(t, p, 30*time.Second, 100*time.Millisecond, "an error for every log type", func() bool {
				return len(errorLines()) >= len(duoapi.AllLogTypes)
			})
			time.Sleep(credentialsWatch)
			require.False(t, p.exited(), "duostream exited (%v): it must wait for the fix; logs:\n%s", p.err, tail(p.logs(), 3000))

			lines := errorLines()
			assert.Len(t, lines, len(duoapi.AllLogTypes), "one error per log type, not a retry loop")
			for _, lt := range duoapi.AllLogTypes {
				found := false
				for _, line := range lines {
					msg := logMessage(line)
					if strings.HasPrefix(msg, fmt.Sprintf("Cannot pull Duo %s logs", lt)) {
						found = true
						assert.Contains(t, msg, fmt.Sprintf("Duo error %d", tt.code))
						for _, w := range tt.want {
							assert.Contains(t, msg, w, "the error says what to fix")
						}
						if tt.wantRe != "" {
							assert.Regexp(t, tt.wantRe, msg)
						}
						assert.Regexp(t, `retrying in [1-9][0-9](\.[0-9]+)?s`, msg, "retries tens of seconds later")
					}
				}
				assert.True(t, found, "an error about %s logs in:\n%s", lt, strings.Join(lines, "\n"))
			}
			reqs := sim.Requests()
			assert.Len(t, reqs, len(duoapi.AllLogTypes), "one request per log type in %s", credentialsWatch)
			for _, r := range reqs {
				assert.Equal(t, tt.code, r.Code, "Duo's answer to %s", r.Path)
			}
			require.NoError(t, p.stop(20*time.Second), "duostream exits cleanly on SIGTERM while backing off")
			figure(t, "Duo error %d: %d requests and %d error lines in %s, process running until SIGTERM; the error reads: %s",
				tt.code, len(reqs), len(lines), credentialsWatch, logMessage(lines[0]))
		})
	}
}

// logMessage returns the msg field of a logfmt line.
func logMessage(line string) string {
	_, msg, ok := strings.Cut(line, ` msg="`)
	if !ok {
		return line
	}
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		switch {
		case msg[i] == '\\' && i+1 < len(msg):
			i++
			b.WriteByte(msg[i])
		case msg[i] == '"':
			return b.String()
		default:
			b.WriteByte(msg[i])
		}
	}
	return b.String()
}

// TestUnavailableLogTypes runs duostream on all six log types against an
// account whose edition has neither the activity log (404) nor Trust Monitor
// (403), with its Trust Monitor offsets as strings. The other four log types
// deliver their backfill exactly once; each of the two logs an error per
// retry that names it and the fix, and is retried tens of seconds later.
func TestUnavailableLogTypes(t *testing.T) {
	unavailable := map[duoapi.LogType]int{duoapi.Activity: 404, duoapi.TrustMonitor: 403}
	sim := startSim(t, duosim.Config{
		Seed:                      suiteSeed,
		Unavailable:               unavailable,
		TrustMonitorStringOffsets: true,
	})
	l := backfill(t, sim, map[duoapi.LogType]int{
		duoapi.Authentication: 3000, duoapi.Administrator: 300, duoapi.Telephony: 200, duoapi.OfflineEnrollment: 20,
	})
	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	p := startDuostream(t, dir, "unavailable", map[string]any{
		"input": duoInput(sim, map[string]any{
			"checkpoint_key":      "unavailable",
			"initial_lookback":    "25h",
			"requests_per_minute": 6000,
		}),
		"cache_resources": bboltCache(filepath.Join(dir, "state.db")),
		"output":          fileOutputByType(outDir),
	})
	l.waitDeliveredTo(t, p, outDir, time.Minute, 100*time.Millisecond, "the four available log types delivered")
	time.Sleep(credentialsWatch)
	require.False(t, p.exited(), "duostream exited (%v); logs:\n%s", p.err, tail(p.logs(), 3000))
	got, err := readDelivered(outDir)
	require.NoError(t, err)
	sum := sumTally(l.compare(got))
	assert.Zero(t, sum.lost, "lost")
	assert.Zero(t, sum.dups, "duplicates")

	fixes := map[duoapi.LogType]string{
		duoapi.Activity:     `drop "activity" from log_types`,
		duoapi.TrustMonitor: `drop "trust_monitor" from log_types`,
	}
	requests := map[string]int{}
	for _, r := range sim.Requests() {
		requests[r.Path]++
	}
	var lines []string
	for _, line := range strings.Split(p.logs(), "\n") {
		if strings.Contains(line, "level=error") {
			lines = append(lines, logMessage(line))
		}
	}
	for lt, fix := range fixes {
		var mine []string
		for _, msg := range lines {
			if strings.HasPrefix(msg, fmt.Sprintf("Cannot pull Duo %s logs", lt)) {
				mine = append(mine, msg)
				assert.Contains(t, msg, fix, "the error names the fix")
				assert.Contains(t, msg, fmt.Sprintf("the Duo %s log is not available to this account", lt))
				assert.Regexp(t, `retrying in [1-9][0-9](\.[0-9]+)?s`, msg, "retries tens of seconds later")
			}
		}
		assert.Len(t, mine, 1, "one error for %s in %s", lt, credentialsWatch)
		assert.Equal(t, 1, requests[lt.Endpoint()], "one request to %s", lt.Endpoint())
		if len(mine) > 0 {
			figure(t, "%s unavailable (HTTP %d): %d request and %d error line in %s while the other four log types delivered %d events exactly once; the error reads: %s",
				lt, unavailable[lt], requests[lt.Endpoint()], len(mine), credentialsWatch, l.total(), mine[0])
		}
	}
	assert.Len(t, lines, len(fixes), "no other error: %s", strings.Join(lines, "\n"))
	require.NoError(t, p.stop(20*time.Second))
}
