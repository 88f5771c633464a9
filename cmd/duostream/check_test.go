// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
	"github.com/duostream/duostream/input"
)

// checkSecretKey is the secret key of the simulators the check command is
// run against: it must appear nowhere in what the command prints.
const checkSecretKey = "s3cr3t-check-command-key-must-never-print"

// unsetVar, as a value of runCheckCommand's env, leaves the variable unset.
const unsetVar = "\x00unset"

// checkRun is what one run of `duostream check` printed and how it ended.
type checkRun struct {
	stdout, stderr string
	exitCode       int
}

// runCheckCommand runs the real binary as the README documents it,
// `duostream check ./config/<config>`, with the environment of the config's
// header pointed at sim, plus env, and checks that the secret key is not
// printed.
func runCheckCommand(t *testing.T, sim *duosim.Server, stateDir string, env map[string]string, args ...string) checkRun {
	t.Helper()
	cmd := duostreamCmd(t, append([]string{"check"}, args...)...)
	vars := map[string]string{
		"DUO_API_HOSTNAME":        sim.APIHost(),
		"DUO_INTEGRATION_KEY":     sim.IntegrationKey(),
		"DUO_SECRET_KEY":          sim.SecretKey(),
		"DUO_BASE_URL":            sim.URL,
		"DUO_REQUESTS_PER_MINUTE": "6000",
		"DUOSTREAM_STATE_DIR":     stateDir,
	}
	for k, v := range env {
		vars[k] = v
	}
	for k, v := range vars {
		if v != unsetVar {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	run := checkRun{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		run.exitCode = exitErr.ExitCode()
	} else {
		require.NoError(t, err)
	}
	assert.NotContains(t, run.stdout+run.stderr, checkSecretKey, "the secret key is never printed")
	t.Logf("duostream check %s: exit %d\n%s%s", strings.Join(args, " "), run.exitCode, run.stdout, run.stderr)
	return run
}

func startCommandSim(t *testing.T, cfg duosim.Config) *duosim.Server {
	t.Helper()
	cfg.SecretKey = checkSecretKey
	sim, err := duosim.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// rowRe matches the table row of check on account, with status, whose
// detail holds detail.
func rowRe(account, check, status, detail string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(account) + ` +` + regexp.QuoteMeta(check) + ` +` + status + ` +.*` + regexp.QuoteMeta(detail))
}

const kafkaConfig = "../../config/duo-to-kafka.yaml"

// TestCheckCommand runs `duostream check ./config/duo-to-kafka.yaml`
// against the simulator, healthy and with every failure the check names:
// each failure is reported on its row with its fix and a non-zero exit
// status; a healthy setup, and a clock skew Duo still accepts, exit 0.
// The state directory stays empty: the check creates no checkpoint file.
func TestCheckCommand(t *testing.T) {
	tests := []struct {
		name string
		sim  duosim.Config
		env  map[string]string
		// unreachable points DUO_BASE_URL at a closed port.
		unreachable bool
		wantExit    int
		// want are rows: check, status and a part of the detail.
		want [][3]string
	}{
		{
			name:     "healthy",
			wantExit: 0,
			want: [][3]string{
				{"clock", "OK", "this machine's clock"},
				{"authentication", "OK", "no position stored: the next run starts initial_lookback (24h) back"},
				{"trust_monitor", "OK", "no position stored"},
				{"checkpoint", "OK", `cache "duo_state" read, nothing written: 0 of 6 positions stored`},
			},
		},
		{
			name:     "wrong secret key",
			env:      map[string]string{"DUO_SECRET_KEY": "not-the-secret-key"},
			wantExit: 1,
			want: [][3]string{
				{"authentication", "FAIL", `40103 "Invalid signature in request credentials": check secret_key (it must belong to integration_key)`},
				{"administrator", "SKIP", "not requested: the authentication request failed"},
			},
		},
		{
			name:     "wrong integration key",
			env:      map[string]string{"DUO_INTEGRATION_KEY": "DIWRONGWRONGWRONGWRO"},
			wantExit: 1,
			want:     [][3]string{{"authentication", "FAIL", `40102 "Invalid integration key in request credentials": check integration_key`}},
		},
		{
			name:     "missing permission",
			sim:      duosim.Config{DenyLogRead: true},
			wantExit: 1,
			want:     [][3]string{{"authentication", "FAIL", `40301 "Access forbidden": the Admin API application lacks the "Grant read log" permission`}},
		},
		{
			name:        "unreachable host",
			unreachable: true,
			wantExit:    1,
			want: [][3]string{
				{"clock", "SKIP", "not measured"},
				{"authentication", "FAIL", "connection refused: cannot reach http://127.0.0.1:"},
				{"authentication", "FAIL", "check api_hostname and base_url"},
			},
		},
		{
			name:     "clock five minutes off",
			sim:      duosim.Config{Now: func() time.Time { return time.Now().Add(5 * time.Minute) }},
			wantExit: 1,
			want: [][3]string{
				{"clock", "FAIL", "seconds behind Duo's: Duo refuses requests dated more than about 60 seconds off: synchronise this machine's clock with NTP"},
				{"authentication", "FAIL", `40105 "Bad request timestamp": this machine's clock is`},
			},
		},
		{
			name:     "small clock skew",
			sim:      duosim.Config{Now: func() time.Time { return time.Now().Add(20 * time.Second) }},
			wantExit: 0,
			want: [][3]string{
				{"clock", "WARN", "seconds behind Duo's: Duo refuses requests dated more than about 60 seconds off: synchronise this machine's clock with NTP"},
				{"authentication", "OK", "no position stored"},
			},
		},
		{
			name:     "log type the edition lacks",
			sim:      duosim.Config{Unavailable: map[duoapi.LogType]int{duoapi.Activity: 404}},
			wantExit: 1,
			want: [][3]string{
				{"activity", "FAIL", `40401 "Resource not found": the activity log is not available to this account or application: drop "activity" from log_types`},
				{"trust_monitor", "OK", "no position stored"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim := startCommandSim(t, tt.sim)
			env := tt.env
			if tt.unreachable {
				env = map[string]string{"DUO_BASE_URL": "http://" + freeLoopbackAddr(t)}
			}
			stateDir := t.TempDir()
			run := runCheckCommand(t, sim, stateDir, env, kafkaConfig)
			assert.Equal(t, tt.wantExit, run.exitCode, "exit status")
			assert.Regexp(t, `(?m)^ACCOUNT +CHECK +STATUS +DETAIL$`, run.stdout)
			for _, w := range tt.want {
				assert.Regexp(t, rowRe(sim.APIHost(), w[0], w[1], w[2]), run.stdout)
			}
			assert.Regexp(t, `(?m)^\d+ checks of 1 duo_admin_logs input: \d+ OK, \d+ WARN, \d+ SKIP, \d+ FAIL$`, run.stdout)
			if tt.wantExit != 0 {
				assert.Contains(t, run.stderr, "to fix: see the FAIL")
			} else {
				assert.Empty(t, run.stderr)
			}
			entries, err := os.ReadDir(stateDir)
			require.NoError(t, err)
			assert.Empty(t, entries, "no checkpoint file is created")
		})
	}
}

// TestCheckCommandLeavesPositionsAlone runs the check against a checkpoint
// file holding positions: it shows where each stream resumes, and the
// file is byte for byte what it was.
func TestCheckCommandLeavesPositionsAlone(t *testing.T) {
	sim := startCommandSim(t, duosim.Config{})
	stateDir := t.TempDir()
	path := filepath.Join(stateDir, "duo-to-kafka.db")
	resume := time.Now().Add(-3 * time.Hour).Truncate(time.Second).UTC()
	prefix := input.DefaultCheckpointKey(sim.APIHost(), sim.IntegrationKey())
	rb := service.NewResourceBuilder()
	require.NoError(t, rb.AddCacheYAML(fmt.Sprintf("label: w\nbbolt:\n  path: %q\n", path)))
	res, closeRes, err := rb.Build()
	require.NoError(t, err)
	record := `{"v":2,"gen":1,"cursor":{"v":1,"window_min_ms":` + strconv.FormatInt(resume.UnixMilli(), 10) + `}}`
	ttl := 100 * 365 * 24 * time.Hour
	require.NoError(t, res.AccessCache(t.Context(), "w", func(c service.Cache) {
		require.NoError(t, c.Set(t.Context(), input.PositionKeys(prefix, duoapi.Authentication)[1], []byte(record), &ttl))
	}))
	require.NoError(t, closeRes(context.Background()))
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	run := runCheckCommand(t, sim, stateDir, map[string]string{"DUO_LOG_TYPES": "authentication,administrator"}, kafkaConfig)
	assert.Equal(t, 0, run.exitCode)
	assert.Regexp(t, rowRe(sim.APIHost(), "authentication", "OK", "resumes from "+resume.Format(time.RFC3339)), run.stdout)
	assert.Regexp(t, rowRe(sim.APIHost(), "checkpoint", "OK", "1 of 2 positions stored"), run.stdout)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after, "the checkpoint file is unchanged")
}

// TestCheckCommandMSP runs `duostream check ./config/duo-msp-to-kafka.yaml`
// against an MSP parent: every selected child is checked, an excluded one
// is not, and a cross-deployment child fails with its fix.
func TestCheckCommandMSP(t *testing.T) {
	sim := startCommandSim(t, duosim.Config{
		AccountsAPI: true,
		Children: []duosim.ChildConfig{
			{ID: "DAAAAAAAAAAAAAAAAAA1", Name: "Acme Corp", APIHostname: "api-aaaaaaa1.duosecurity.com"},
			{ID: "DAAAAAAAAAAAAAAAAAA2", Name: "Fabrikam Federal", APIHostname: "api-aaaaaaa2.duofederal.com", CrossDeployment: true},
			{ID: "DAAAAAAAAAAAAAAAAAA3", Name: "Smith, Jones", APIHostname: "api-aaaaaaa3.duosecurity.com"},
		},
	})
	run := runCheckCommand(t, sim, t.TempDir(), map[string]string{
		"DUO_ACCOUNTS_EXCLUDE": `["Smith, Jones"]`,
		"DUO_LOG_TYPES":        "authentication,administrator",
	}, "../../config/duo-msp-to-kafka.yaml")
	assert.Equal(t, 1, run.exitCode)
	assert.Regexp(t, rowRe(sim.APIHost(), "account list", "OK", "3 child accounts listed, 2 selected"), run.stdout)
	assert.Regexp(t, rowRe("Acme Corp (DAAAAAAAAAAAAAAAAAA1)", "authentication", "OK", "no position stored"), run.stdout)
	assert.Regexp(t, rowRe("Acme Corp (DAAAAAAAAAAAAAAAAAA1)", "administrator", "OK", "no position stored"), run.stdout)
	assert.Regexp(t, rowRe("Fabrikam Federal (DAAAAAAAAAAAAAAAAAA2)", "authentication", "FAIL", "give this child account its own Admin API application and run it as its own stream"), run.stdout)
	assert.Regexp(t, rowRe("Fabrikam Federal (DAAAAAAAAAAAAAAAAAA2)", "administrator", "SKIP", "not requested"), run.stdout)
	assert.NotContains(t, run.stdout, "Smith, Jones", "the excluded child is not checked")

	problems := runCheckCommand(t, sim, t.TempDir(), map[string]string{
		"DUO_ACCOUNTS_EXCLUDE": `["Smith, Jones"]`,
		"DUO_LOG_TYPES":        "authentication,administrator",
	}, "--problems-only", "../../config/duo-msp-to-kafka.yaml")
	assert.NotContains(t, problems.stdout, "Acme Corp", "--problems-only leaves out the OK rows")
	assert.Contains(t, problems.stdout, "Fabrikam Federal")
}

// TestCheckCommandStreams checks a streams-mode setup: stream files with
// their cache resources in a -r file, each input under its file.
func TestCheckCommandStreams(t *testing.T) {
	sim := startCommandSim(t, duosim.Config{})
	dir := t.TempDir()
	resources := filepath.Join(dir, "resources.yaml")
	require.NoError(t, os.WriteFile(resources, []byte("cache_resources:\n  - label: duo_state\n    bbolt:\n      path: ${DUOSTREAM_STATE_DIR}/streams.db\n"), 0o600))
	var streams []string
	for _, name := range []string{"acme", "globex"} {
		path := filepath.Join(dir, name+".yaml")
		require.NoError(t, os.WriteFile(path, []byte(`input:
  duo_admin_logs:
    api_hostname: ${DUO_API_HOSTNAME}
    integration_key: ${DUO_INTEGRATION_KEY}
    secret_key: ${DUO_SECRET_KEY}
    base_url: ${DUO_BASE_URL}
    log_types: [ authentication ]
    checkpoint_cache: duo_state
    requests_per_minute: 6000
output:
  drop: {}
`), 0o600))
		streams = append(streams, path)
	}
	run := runCheckCommand(t, sim, dir, nil, append([]string{"-r", resources}, streams...)...)
	assert.Equal(t, 0, run.exitCode)
	assert.Regexp(t, `(?m)^INPUT +ACCOUNT +CHECK +STATUS +DETAIL$`, run.stdout)
	for _, s := range streams {
		assert.Regexp(t, `(?m)^`+regexp.QuoteMeta(s)+`: input +`+regexp.QuoteMeta(sim.APIHost())+` +authentication +OK`, run.stdout)
	}
	assert.Contains(t, run.stdout, "checks of 2 duo_admin_logs inputs")
}

// TestCheckCommandRefuses checks the command's errors: no config, a config
// that does not lint (a required variable unset), and one without a
// duo_admin_logs input.
func TestCheckCommandRefuses(t *testing.T) {
	out, err := duostreamCmd(t, "check").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "give the config to check")

	sim := startCommandSim(t, duosim.Config{})
	run := runCheckCommand(t, sim, t.TempDir(), map[string]string{"DUO_SECRET_KEY": unsetVar}, kafkaConfig)
	assert.Equal(t, 1, run.exitCode)
	assert.Contains(t, run.stderr, "the config does not lint")
	assert.Contains(t, run.stderr, "DUO_SECRET_KEY")

	run = runCheckCommand(t, sim, t.TempDir(), map[string]string{"DUO_SECRET_KEY": ""}, kafkaConfig)
	assert.Equal(t, 1, run.exitCode)
	assert.Regexp(t, rowRe(sim.APIHost(), "config", "FAIL", "field secret_key: is empty (is its environment variable set?)"), run.stdout)
	assert.Empty(t, sim.Requests(), "nothing is asked of Duo")

	path := filepath.Join(t.TempDir(), "generate.yaml")
	require.NoError(t, os.WriteFile(path, []byte("input: {generate: {mapping: 'root = 1'}}\noutput: {drop: {}}\n"), 0o600))
	run = runCheckCommand(t, sim, t.TempDir(), nil, path)
	assert.Equal(t, 1, run.exitCode)
	assert.Contains(t, run.stderr, "has no duo_admin_logs input")
}
