// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// badConfigBase is a valid pipeline; each case of TestBadConfig breaks one
// thing in it. Its base_url is a loopback port where nothing listens, so a
// config that wrongly starts fails its requests instead of reaching out.
const badConfigBase = `http:
  address: 127.0.0.1:0
input:
  duo_admin_logs:
    api_hostname: api-reliab01.duosecurity.com
    integration_key: DIRELIABILITY0000001
    secret_key: ${DUO_SECRET_KEY}
    base_url: http://127.0.0.1:9
    checkpoint_cache: state
    log_types: [authentication, administrator, telephony, offline_enrollment]
    initial_lookback: 24h
    requests_per_minute: 30
cache_resources:
  - label: state
    memory: {}
output:
  drop: {}
`

// TestBadConfig checks that `duostream lint` and `duostream run` reject
// each broken config with an error that names the field and says how to fix
// it, and that run exits at once rather than starting.
func TestBadConfig(t *testing.T) {
	tests := []struct {
		name string
		// replace and with edit the base config.
		replace, with string
		// env is added to the environment; a name without "=" is unset.
		env []string
		// lint and run are what the two commands must say. A nil lint
		// means lint does not catch it: the value is only known at run time,
		// or Benthos' linter cannot check it.
		lint, run []string
	}{
		{
			name:    "missing field",
			replace: "    api_hostname: api-reliab01.duosecurity.com\n", with: "",
			lint: []string{"field api_hostname is required"},
			run:  []string{"field api_hostname is required"},
		},
		{
			name: "secret key's variable unset",
			env:  []string{"DUO_SECRET_KEY"},
			lint: []string{"required environment variables were not set: [DUO_SECRET_KEY]"},
			run:  []string{"required environment variables were not set: [DUO_SECRET_KEY]"},
		},
		{
			name: "secret key's variable empty",
			env:  []string{"DUO_SECRET_KEY="},
			lint: nil, // an empty value is a value
			run:  []string{"field secret_key: is empty (is its environment variable set?)"},
		},
		{
			name:    "misspelled field",
			replace: "    initial_lookback: 24h", with: "    intial_lookback: 24h",
			lint: []string{"field intial_lookback not recognised"},
			run:  []string{"field intial_lookback not recognised"},
		},
		{
			// Benthos' linter does not check number types, and skips lint
			// rules on a value it cannot convert.
			name:    "number given as text",
			replace: "requests_per_minute: 30", with: "requests_per_minute: lots",
			lint: []string{"field requests_per_minute: lots is not a whole number"},
			run:  []string{"field requests_per_minute: lots is not a whole number"},
		},
		{
			name:    "duration in days",
			replace: "initial_lookback: 24h", with: "initial_lookback: 7d",
			lint: []string{"field initial_lookback: 7d is not a duration", "7 days is 168h"},
			run:  []string{"field initial_lookback: 7d is not a duration"},
		},
		{
			// Benthos' structural lint names the line of the field (line 10
			// of the file), not the field.
			name:    "log types not a list",
			replace: "log_types: [authentication, administrator, telephony, offline_enrollment]", with: "log_types: authentication",
			lint: []string{"(10,1) expected array value"},
			run:  []string{"(10,1) expected array value"},
		},
		{
			name:    "unknown log type",
			replace: "log_types: [authentication, administrator, telephony, offline_enrollment]", with: "log_types: [authentication, audit]",
			lint: []string{`field log_types: unknown log type "audit": use authentication, administrator, telephony, offline_enrollment, activity or trust_monitor`},
			run:  []string{`field log_types: unknown log type "audit": use authentication, administrator, telephony, offline_enrollment, activity or trust_monitor`},
		},
		{
			name:    "lookback past 179 days",
			replace: "initial_lookback: 24h", with: "initial_lookback: 4320h",
			lint: []string{"field initial_lookback: 4320h is more than 4296h (179 days): Duo serves 180 days of logs"},
			run:  []string{"field initial_lookback: 4320h is more than 4296h (179 days): Duo serves 180 days of logs"},
		},
		{
			name:    "lookback past 179 days in minutes",
			replace: "initial_lookback: 24h", with: "initial_lookback: 259200m",
			lint: nil, // the lint rule reads whole hours; start-up reads any duration
			run:  []string{"field initial_lookback: 4320h0m0s is more than 4296h (179 days): Duo serves 180 days of logs"},
		},
		{
			name:    "plain http to a remote host",
			replace: "base_url: http://127.0.0.1:9", with: "base_url: http://duo-proxy.example.com",
			lint: []string{"field base_url: plain http is only allowed to a loopback address (127.0.0.1, [::1] or localhost): use https"},
			run:  []string{"field base_url: plain http is only allowed to a loopback address (127.0.0.1, [::1] or localhost): use https"},
		},
		{
			name:    "checkpoint cache not defined",
			replace: "checkpoint_cache: state", with: "checkpoint_cache: checkpoints",
			lint: nil, // resources may come from other files (-r)
			run:  []string{`field checkpoint_cache: no cache resource labelled "checkpoints": add it under cache_resources`},
		},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := badConfigBase
			if tt.replace != "" {
				require.Contains(t, conf, tt.replace)
				conf = strings.Replace(conf, tt.replace, tt.with, 1)
			}
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".yaml")
			require.NoError(t, os.WriteFile(path, []byte(conf), 0o600))

			out, code := runCLI(t, tt.env, "lint", path)
			out = unescapeLogfmt(out)
			lintCode := code
			if tt.lint != nil {
				assert.NotZero(t, code, "lint fails")
				for _, w := range tt.lint {
					assert.Contains(t, out, w, "lint output")
				}
			}

			start := time.Now()
			out, code = runCLI(t, tt.env, "run", path)
			out = unescapeLogfmt(out)
			took := time.Since(start)
			assert.NotZero(t, code, "run fails")
			assert.Less(t, took, 10*time.Second, "run exits at once")
			for _, w := range tt.run {
				assert.Contains(t, out, w, "run output")
			}
			figure(t, "lint exits %d; run exits %d after %s: %s", lintCode, code, took.Round(10*time.Millisecond), lastError(out, dir))
		})
	}
}

// unescapeLogfmt undoes the quoting of logfmt values, so that messages can
// be compared with what the code wrote.
func unescapeLogfmt(s string) string {
	return strings.ReplaceAll(s, `\"`, `"`)
}

// lastError returns the error that ended a command, from its output, with
// dir left out of the paths in it.
func lastError(out, dir string) string {
	out = strings.ReplaceAll(out, dir+string(filepath.Separator), "")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, l := range lines {
		if _, cause, ok := strings.Cut(l, "service closing due to: "); ok {
			for _, more := range lines[i+1:] {
				if !strings.HasPrefix(more, " ") {
					break
				}
				cause += " " + strings.TrimSpace(more)
			}
			return cause
		}
	}
	for _, l := range lines {
		if _, lint, ok := strings.Cut(l, ` lint="`); ok {
			return strings.TrimSuffix(strings.SplitN(lint, `" `, 2)[0], `"`)
		}
	}
	return lines[len(lines)-1]
}

// shippedConfigs returns the example pipelines in config/.
func shippedConfigs(t *testing.T) []string {
	paths, err := filepath.Glob(filepath.Join("..", "config", "*.yaml"))
	require.NoError(t, err)
	var out []string
	for _, p := range paths {
		if !strings.HasSuffix(p, "_benthos_test.yaml") {
			out = append(out, p)
		}
	}
	require.NotEmpty(t, out)
	return out
}

var requiredEnvVar = regexp.MustCompile(`\$\{([A-Z0-9_]+)\}`)

// TestShippedConfigsBindLoopback checks that every shipped pipeline serves
// its HTTP server (metrics, health, debug endpoints) on loopback unless
// DUOSTREAM_HTTP_ADDRESS says otherwise, and that `duostream echo` of it
// never shows the secret key.
func TestShippedConfigsBindLoopback(t *testing.T) {
	for _, path := range shippedConfigs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			src, err := os.ReadFile(path)
			require.NoError(t, err)
			// Every variable without a default gets a placeholder; the
			// secret key is the suite's.
			var env []string
			for _, m := range requiredEnvVar.FindAllStringSubmatch(string(src), -1) {
				if m[1] != "DUO_SECRET_KEY" && m[1] != "DUOSTREAM_HTTP_ADDRESS" {
					env = append(env, m[1]+"=placeholder-"+strings.ToLower(m[1]))
				}
			}
			env = append(env, "DUOSTREAM_HTTP_ADDRESS")
			out, code := runCLI(t, env, "echo", path)
			require.Zero(t, code, "echo: %s", out)
			var conf struct {
				HTTP struct {
					Enabled *bool  `yaml:"enabled"`
					Address string `yaml:"address"`
				} `yaml:"http"`
			}
			require.NoError(t, yaml.Unmarshal([]byte(out), &conf))
			if conf.HTTP.Enabled != nil && !*conf.HTTP.Enabled {
				figure(t, "HTTP server disabled")
				return
			}
			host, _, err := net.SplitHostPort(conf.HTTP.Address)
			require.NoError(t, err, "http.address %q", conf.HTTP.Address)
			ip := net.ParseIP(host)
			assert.True(t, host == "localhost" || ip != nil && ip.IsLoopback(),
				"http.address %q must be a loopback address unless the user opts in", conf.HTTP.Address)
			assert.Contains(t, out, "!!!SECRET_SCRUBBED!!!", "echo scrubs secret_key")
			figure(t, "http.address %s; echo scrubs secret_key", conf.HTTP.Address)
		})
	}
}

// TestSecretHygieneCLI runs the CLI commands that print configs and errors
// with the secret key in every place it can be: written in the config,
// taken from the environment, next to a lint error, in a field of the wrong
// type. The secret never appears (runCLI searches every output).
func TestSecretHygieneCLI(t *testing.T) {
	dir := t.TempDir()
	configs := map[string]string{
		"literal":         strings.Replace(badConfigBase, "${DUO_SECRET_KEY}", testSecret, 1),
		"from env":        badConfigBase,
		"beside an error": strings.Replace(strings.Replace(badConfigBase, "${DUO_SECRET_KEY}", testSecret, 1), "initial_lookback: 24h", "initial_lookback: 9999h", 1),
		"as a list":       strings.Replace(badConfigBase, "${DUO_SECRET_KEY}", "["+testSecret+"]", 1),
		"as an object":    strings.Replace(badConfigBase, "${DUO_SECRET_KEY}", "{key: "+testSecret+"}", 1),
		"quoted badly":    strings.Replace(badConfigBase, "${DUO_SECRET_KEY}", `"`+testSecret, 1),
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range configs {
			if !yield(n) {
				return
			}
		}
	})
	commands := 0
	for _, name := range names {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".yaml")
		require.NoError(t, os.WriteFile(path, []byte(configs[name]), 0o600))
		for _, args := range [][]string{{"echo", path}, {"lint", path}, {"run", path}} {
			if args[0] == "run" && (name == "literal" || name == "from env") {
				continue // valid configs run; the suite's scenarios cover running
			}
			runCLI(t, nil, args...)
			commands++
		}
	}
	// A valid config at trace level: the secret is neither in the config
	// dump nor in any debug line, even when a request fails.
	path := filepath.Join(dir, "trace.yaml")
	require.NoError(t, os.WriteFile(path, []byte(strings.Replace(badConfigBase, "${DUO_SECRET_KEY}", testSecret, 1)+
		"logger:\n  level: TRACE\n"), 0o600))
	cmd := exec.CommandContext(t.Context(), binary, "run", path)
	cmd.Env = append(os.Environ(), "DUO_SECRET_KEY="+testSecret)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	time.Sleep(3 * time.Second)
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	require.NoError(t, cmd.Wait(), "output:\n%s", tail(out.String(), 3000))
	assert.Contains(t, out.String(), "connection refused", "the run made requests that failed")
	checkNoSecret(t, "run at TRACE level", []byte(out.String()))
	figure(t, "%d echo/lint/run commands on configs holding the secret key in 6 ways, and a run at TRACE level: no secret in any output", commands+1)
}
