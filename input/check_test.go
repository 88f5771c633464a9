// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/duostream/duostream/cache"
	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// checkSecret is the secret key of the simulators of the check tests, so
// that a test can look for it in what the check reports.
const checkSecret = "check-test-secret-never-shown-4f9a1c"

// checkEnv is the environment variables of a check test's config: the
// simulator's credentials and a state directory.
func checkEnv(sim *duosim.Server, stateDir string) map[string]string {
	return map[string]string{
		"DUO_API_HOSTNAME":    sim.APIHost(),
		"DUO_INTEGRATION_KEY": sim.IntegrationKey(),
		"DUO_SECRET_KEY":      sim.SecretKey(),
		"DUO_BASE_URL":        sim.URL,
		"STATE_DIR":           stateDir,
	}
}

// checkConfig is a single-account pipeline reading two log types into a
// bbolt checkpoint, configured from the environment as the shipped ones.
const checkConfig = `
input:
  duo_admin_logs:
    api_hostname: ${DUO_API_HOSTNAME}
    integration_key: ${DUO_INTEGRATION_KEY}
    secret_key: ${DUO_SECRET_KEY}
    base_url: ${DUO_BASE_URL:}
    log_types: [ "${DUO_LOG_TYPES:authentication,administrator}" ]
    checkpoint_cache: duo_state
    requests_per_minute: 6000
  processors:
    - mapping: root = this
cache_resources:
  - label: duo_state
    bbolt:
      path: ${STATE_DIR}/state.db
      lock_timeout: 200ms
  - label: unused
    bbolt:
      path: ${STATE_DIR}/unused/never-opened.db
output:
  drop: {}
`

func startCheckSim(t *testing.T, cfg duosim.Config) *duosim.Server {
	t.Helper()
	cfg.SecretKey = checkSecret
	sim, err := duosim.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// runCheck checks the config files with the variables env.
func runCheck(t *testing.T, env map[string]string, configs []CheckFile, resources ...CheckFile) CheckReport {
	t.Helper()
	report, err := CheckConfigs(t.Context(), service.GlobalEnvironment(), configs, resources, func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}, CheckOptions{})
	require.NoError(t, err)
	for _, r := range report.Rows {
		assert.NotContains(t, r.Detail, checkSecret, "the secret key is never reported")
	}
	return report
}

// rowsByCheck indexes rows by account and check; a check that appears
// twice keeps the last.
func rowsByCheck(rows []CheckRow) map[string]CheckRow {
	m := map[string]CheckRow{}
	for _, r := range rows {
		m[r.Account+"/"+r.Check] = r
	}
	return m
}

// storePositions writes positions into the bbolt file at path the way the
// input does, and closes it.
func storePositions(t *testing.T, path, prefix string, positions map[duoapi.StreamKey]StoredPosition) {
	t.Helper()
	rb := service.NewResourceBuilder()
	require.NoError(t, rb.AddCacheYAML(fmt.Sprintf("label: w\nbbolt:\n  path: %q\n", path)))
	res, closeRes, err := rb.Build()
	require.NoError(t, err)
	store := &positionStore{res: res, cache: "w", prefix: prefix}
	for k, p := range positions {
		require.NoError(t, store.store(t.Context(), k, p, ""))
	}
	require.NoError(t, closeRes(context.Background()))
}

// TestCheckHealthy checks a healthy account: one request per log type, the
// clock, a stored position shown with its time and a missing one with
// where the next run starts, the checkpoint file read and left byte for
// byte as it was, and a cache the input does not use never opened.
func TestCheckHealthy(t *testing.T) {
	sim := startCheckSim(t, duosim.Config{Seed: 1})
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	resume := time.Date(2026, 5, 4, 10, 12, 0, 0, time.UTC)
	if resume.Before(time.Now().Add(-duoapi.MaxLookback)) {
		resume = time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	}
	storePositions(t, path, DefaultCheckpointKey(sim.APIHost(), sim.IntegrationKey()), map[duoapi.StreamKey]StoredPosition{
		{LogType: duoapi.Authentication}: {Cursor: duoapi.Cursor{WindowMin: resume.UnixMilli()}, Generation: 1},
	})
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	report := runCheck(t, checkEnv(sim, dir), []CheckFile{{Name: "duo.yaml", YAML: []byte(checkConfig)}})
	require.Empty(t, report.Lints)
	assert.Equal(t, 1, report.Inputs)
	host := sim.APIHost()
	rows := rowsByCheck(report.Rows)
	require.Len(t, report.Rows, 4, "%+v", report.Rows)
	for _, r := range report.Rows {
		assert.Equal(t, duoapi.SeverityOK, r.Status, "%+v", r)
		assert.Equal(t, "duo.yaml", r.File)
		assert.Equal(t, "input", r.Input)
		assert.Equal(t, host, r.Account)
	}
	assert.Equal(t, []string{CheckedClock, "authentication", "administrator", CheckedCheckpoint},
		[]string{report.Rows[0].Check, report.Rows[1].Check, report.Rows[2].Check, report.Rows[3].Check})
	assert.Contains(t, rows[host+"/clock"].Detail, "this machine's clock")
	assert.Equal(t, "resumes from "+resume.Format(time.RFC3339), rows[host+"/authentication"].Detail)
	assert.Equal(t, "no position stored: the next run starts initial_lookback (24h) back", rows[host+"/administrator"].Detail)
	assert.Equal(t, `cache "duo_state" read, nothing written: 1 of 2 positions stored`, rows[host+"/checkpoint"].Detail)
	assert.Len(t, sim.Requests(), 2, "one request per log type")

	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after, "the checkpoint file is unchanged")
	_, err = os.Stat(filepath.Join(dir, "unused"))
	assert.ErrorIs(t, err, os.ErrNotExist, "a cache the input does not use is not built")
}

// TestCheckCreatesNoCheckpointFile checks that a bbolt file that does not
// exist yet reads as empty and is not created, nor its directory.
func TestCheckCreatesNoCheckpointFile(t *testing.T) {
	sim := startCheckSim(t, duosim.Config{})
	dir := filepath.Join(t.TempDir(), "state")
	report := runCheck(t, checkEnv(sim, dir), []CheckFile{{Name: "duo.yaml", YAML: []byte(checkConfig)}})
	rows := rowsByCheck(report.Rows)
	assert.Equal(t, duoapi.SeverityOK, rows[sim.APIHost()+"/authentication"].Status)
	assert.Contains(t, rows[sim.APIHost()+"/checkpoint"].Detail, "0 of 2 positions stored")
	_, err := os.Stat(dir)
	assert.ErrorIs(t, err, os.ErrNotExist, "the check creates no directory or file")
}

// TestCheckFailures checks that every failure the check names comes out
// as a failed row with its fix.
func TestCheckFailures(t *testing.T) {
	tests := []struct {
		name string
		sim  duosim.Config
		env  map[string]string
		// check is the row that fails, with wantDetail in its detail.
		check      string
		wantDetail string
	}{
		{name: "wrong secret key", env: map[string]string{"DUO_SECRET_KEY": "wrong"}, check: "authentication", wantDetail: "40103"},
		{name: "wrong integration key", env: map[string]string{"DUO_INTEGRATION_KEY": "DIWRONG"}, check: "authentication", wantDetail: "check integration_key"},
		{name: "missing permission", sim: duosim.Config{DenyLogRead: true}, check: "authentication", wantDetail: `40301 "Access forbidden": the Admin API application lacks the "Grant read log" permission`},
		{name: "unreachable host", env: map[string]string{"DUO_BASE_URL": "http://127.0.0.1:1"}, check: "authentication", wantDetail: "cannot reach http://127.0.0.1:1: check api_hostname and base_url"},
		{name: "skewed clock", sim: duosim.Config{Now: func() time.Time { return time.Now().Add(5 * time.Minute) }}, check: CheckedClock, wantDetail: "synchronise this machine's clock with NTP"},
		{name: "log type the edition lacks", sim: duosim.Config{Unavailable: map[duoapi.LogType]int{duoapi.Activity: 404}}, env: map[string]string{"DUO_LOG_TYPES": "authentication,activity"}, check: "activity", wantDetail: `drop "activity" from log_types`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := startCheckSim(t, tt.sim)
			env := checkEnv(sim, t.TempDir())
			for k, v := range tt.env {
				env[k] = v
			}
			report := runCheck(t, env, []CheckFile{{Name: "duo.yaml", YAML: []byte(checkConfig)}})
			row := rowsByCheck(report.Rows)[sim.APIHost()+"/"+tt.check]
			assert.Equal(t, duoapi.SeverityFail, row.Status, "%+v", report.Rows)
			assert.Contains(t, row.Detail, tt.wantDetail)
		})
	}
}

// TestCheckConfigErrors checks that a config the input refuses, and a
// config that does not lint, are reported as such.
func TestCheckConfigErrors(t *testing.T) {
	sim := startCheckSim(t, duosim.Config{})
	env := checkEnv(sim, t.TempDir())

	noCache := strings.Replace(checkConfig, "checkpoint_cache: duo_state", "checkpoint_cache: nowhere", 1)
	report := runCheck(t, env, []CheckFile{{Name: "duo.yaml", YAML: []byte(noCache)}})
	require.Len(t, report.Rows, 1)
	assert.Equal(t, CheckedConfig, report.Rows[0].Check)
	assert.Equal(t, duoapi.SeverityFail, report.Rows[0].Status)
	assert.Contains(t, report.Rows[0].Detail, `no cache resource labelled "nowhere"`)
	assert.Empty(t, sim.Requests(), "nothing is asked of Duo")

	delete(env, "DUO_SECRET_KEY")
	report = runCheck(t, env, []CheckFile{{Name: "duo.yaml", YAML: []byte(checkConfig)}})
	require.NotEmpty(t, report.Lints)
	assert.Contains(t, report.Lints[0], "duo.yaml: line 1:")
	assert.Contains(t, report.Lints[0], "DUO_SECRET_KEY")
	assert.Empty(t, report.Rows)
}

// TestCheckFindsEveryInput checks that inputs in a broker, in
// input_resources and in a resource file are all found, each under its
// label or place, with the resource file's caches.
func TestCheckFindsEveryInput(t *testing.T) {
	sim := startCheckSim(t, duosim.Config{})
	dir := t.TempDir()
	const duo = `duo_admin_logs:
          api_hostname: ${DUO_API_HOSTNAME}
          integration_key: ${DUO_INTEGRATION_KEY}
          secret_key: ${DUO_SECRET_KEY}
          base_url: ${DUO_BASE_URL}
          log_types: [ authentication ]
          checkpoint_cache: shared_state
          requests_per_minute: 6000`
	config := `
input:
  broker:
    inputs:
      - label: first
        ` + duo + `
      - ` + duo + `
      - resource: third
input_resources:
  - label: third
    ` + strings.ReplaceAll(duo, "\n          ", "\n      ") + `
output:
  drop: {}
`
	resources := `
cache_resources:
  - label: shared_state
    memory: {}
`
	report := runCheck(t, checkEnv(sim, dir), []CheckFile{{Name: "streams/acme.yaml", YAML: []byte(config)}}, CheckFile{Name: "resources.yaml", YAML: []byte(resources)})
	require.Empty(t, report.Lints)
	assert.Equal(t, 3, report.Inputs)
	var inputs []string
	for _, r := range report.Rows {
		if r.Check == "authentication" {
			inputs = append(inputs, r.Input)
			assert.Equal(t, duoapi.SeverityOK, r.Status, "%+v", r)
		}
	}
	assert.Equal(t, []string{"first", "input.broker.inputs.1", "third"}, inputs)
}

// TestCheckPositionProblems checks the stored positions the check warns
// about: one copy unreadable, both unreadable, and one older than Duo's
// retention.
func TestCheckPositionProblems(t *testing.T) {
	sim := startCheckSim(t, duosim.Config{})
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	prefix := DefaultCheckpointKey(sim.APIHost(), sim.IntegrationKey())
	old := time.Now().Add(-200 * 24 * time.Hour)
	storePositions(t, path, prefix, map[duoapi.StreamKey]StoredPosition{
		{LogType: duoapi.Telephony}: {Cursor: duoapi.Cursor{WindowMin: old.UnixMilli()}, Generation: 1},
	})
	// Damage both copies of authentication and one of administrator.
	rb := service.NewResourceBuilder()
	require.NoError(t, rb.AddCacheYAML(fmt.Sprintf("label: w\nbbolt:\n  path: %q\n", path)))
	res, closeRes, err := rb.Build()
	require.NoError(t, err)
	require.NoError(t, res.AccessCache(t.Context(), "w", func(c service.Cache) {
		for _, k := range PositionKeys(prefix, duoapi.Authentication) {
			require.NoError(t, c.Set(t.Context(), k, []byte("{torn"), nil))
		}
		admin := PositionKeys(prefix, duoapi.Administrator)
		require.NoError(t, c.Set(t.Context(), admin[0], StoredPosition{Cursor: duoapi.Cursor{MinTime: time.Now().Add(-time.Hour).Unix()}, Generation: 2}.encode(), nil))
		require.NoError(t, c.Set(t.Context(), admin[1], []byte("{torn"), nil))
	}))
	require.NoError(t, closeRes(context.Background()))

	env := checkEnv(sim, dir)
	env["DUO_LOG_TYPES"] = "authentication,administrator,telephony"
	rows := rowsByCheck(runCheck(t, env, []CheckFile{{Name: "duo.yaml", YAML: []byte(checkConfig)}}).Rows)
	host := sim.APIHost()
	auth := rows[host+"/authentication"]
	assert.Equal(t, duoapi.SeverityWarn, auth.Status)
	assert.Contains(t, auth.Detail, "the stored position cannot be read")
	assert.Contains(t, auth.Detail, "the next run starts again initial_lookback (24h) back")
	admin := rows[host+"/administrator"]
	assert.Equal(t, duoapi.SeverityWarn, admin.Status)
	assert.Contains(t, admin.Detail, "the other stored copy cannot be read")
	tel := rows[host+"/telephony"]
	assert.Equal(t, duoapi.SeverityWarn, tel.Status)
	assert.Contains(t, tel.Detail, "older than the 180 days Duo serves")
}

// TestCheckLockedCheckpoint checks that a checkpoint file a running
// pipeline holds is reported, as a warning, without stopping the check.
func TestCheckLockedCheckpoint(t *testing.T) {
	sim := startCheckSim(t, duosim.Config{})
	dir := t.TempDir()
	rb := service.NewResourceBuilder()
	require.NoError(t, rb.AddCacheYAML(fmt.Sprintf("label: w\nbbolt:\n  path: %q\n", filepath.Join(dir, "state.db"))))
	res, closeRes, err := rb.Build()
	require.NoError(t, err)
	t.Cleanup(func() { _ = closeRes(context.Background()) })
	require.NoError(t, res.AccessCache(t.Context(), "w", func(service.Cache) {})) // open it: it is built lazily

	rows := rowsByCheck(runCheck(t, checkEnv(sim, dir), []CheckFile{{Name: "duo.yaml", YAML: []byte(checkConfig)}}).Rows)
	host := sim.APIHost()
	assert.Equal(t, duoapi.SeverityOK, rows[host+"/authentication"].Status)
	cp := rows[host+"/checkpoint"]
	assert.Equal(t, duoapi.SeverityWarn, cp.Status, "%+v", cp)
	assert.Contains(t, cp.Detail, "locked by another process")
}

// TestCheckChildAccounts checks accounts.discover: the list, every child
// selected (exclude read from a variable holding a YAML list), a
// cross-deployment child failing with the fix of its own application, and
// the children's positions read under their own keys.
func TestCheckChildAccounts(t *testing.T) {
	sim := startCheckSim(t, duosim.Config{
		AccountsAPI: true,
		Children: []duosim.ChildConfig{
			{ID: "DAAAAAAAAAAAAAAAAAA1", Name: "Acme", APIHostname: "api-aaaaaaa1.duosecurity.com"},
			{ID: "DAAAAAAAAAAAAAAAAAA2", Name: "Fabrikam Federal", APIHostname: "api-aaaaaaa2.duofederal.com", CrossDeployment: true},
			{ID: "DAAAAAAAAAAAAAAAAAA3", Name: "Smith, Jones", APIHostname: "api-aaaaaaa3.duosecurity.com"},
		},
	})
	dir := t.TempDir()
	prefix := DefaultCheckpointKey(sim.APIHost(), sim.IntegrationKey())
	resume := time.Now().Add(-time.Hour).Truncate(time.Second).UTC()
	storePositions(t, filepath.Join(dir, "state.db"), prefix, map[duoapi.StreamKey]StoredPosition{
		{AccountID: "DAAAAAAAAAAAAAAAAAA1", LogType: duoapi.Authentication}: {Cursor: duoapi.Cursor{WindowMin: resume.UnixMilli()}, Generation: 1},
	})
	config := strings.Replace(checkConfig, "    checkpoint_cache: duo_state\n", `    checkpoint_cache: duo_state
    accounts:
      discover: true
      exclude: ${DUO_ACCOUNTS_EXCLUDE:[]}
`, 1)
	env := checkEnv(sim, dir)
	env["DUO_ACCOUNTS_EXCLUDE"] = `["Smith, Jones"]`
	report := runCheck(t, env, []CheckFile{{Name: "msp.yaml", YAML: []byte(config)}})
	rows := rowsByCheck(report.Rows)
	host := sim.APIHost()
	assert.Equal(t, duoapi.SeverityOK, rows[host+"/account list"].Status)
	assert.Equal(t, "3 child accounts listed, 2 selected by accounts.include and accounts.exclude and checked", rows[host+"/account list"].Detail)
	assert.Equal(t, duoapi.SeverityOK, rows[host+"/clock"].Status)
	acme := "Acme (DAAAAAAAAAAAAAAAAAA1)"
	assert.Equal(t, "resumes from "+resume.Format(time.RFC3339), rows[acme+"/authentication"].Detail)
	assert.Equal(t, duoapi.SeverityOK, rows[acme+"/administrator"].Status)
	fab := "Fabrikam Federal (DAAAAAAAAAAAAAAAAAA2)"
	assert.Equal(t, duoapi.SeverityFail, rows[fab+"/authentication"].Status)
	assert.Contains(t, rows[fab+"/authentication"].Detail, "give this child account its own Admin API application")
	assert.Equal(t, duoapi.SeveritySkipped, rows[fab+"/administrator"].Status)
	for _, r := range report.Rows {
		assert.NotContains(t, r.Account, "Smith", "the excluded child is not checked")
	}
	assert.Empty(t, sim.AccountRequestCounts("DAAAAAAAAAAAAAAAAAA3"))
	assert.Contains(t, rows[host+"/checkpoint"].Detail, "1 of 4 positions stored")
}

// TestCheckAccountListFails checks that credentials that cannot list
// children get the Accounts API fix.
func TestCheckAccountListFails(t *testing.T) {
	sim := startCheckSim(t, duosim.Config{})
	config := strings.Replace(checkConfig, "    checkpoint_cache: duo_state\n", "    checkpoint_cache: duo_state\n    accounts: {discover: true}\n", 1)
	rows := rowsByCheck(runCheck(t, checkEnv(sim, t.TempDir()), []CheckFile{{Name: "msp.yaml", YAML: []byte(config)}}).Rows)
	list := rows[sim.APIHost()+"/account list"]
	assert.Equal(t, duoapi.SeverityFail, list.Status)
	assert.Contains(t, list.Detail, "accounts.discover needs the integration key of an Accounts API application")
	assert.Equal(t, duoapi.SeveritySkipped, rows[sim.APIHost()+"/checkpoint"].Status)
}

// TestCheckUnreadableCheckpoint checks that a checkpoint cache that cannot
// be read fails its row with the fix, while Duo's rows still say what Duo
// answered.
func TestCheckUnreadableCheckpoint(t *testing.T) {
	sim := startCheckSim(t, duosim.Config{})
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "state.db"), 0o700)) // a directory where the file should be
	rows := rowsByCheck(runCheck(t, checkEnv(sim, dir), []CheckFile{{Name: "duo.yaml", YAML: []byte(checkConfig)}}).Rows)
	host := sim.APIHost()
	auth := rows[host+"/authentication"]
	assert.Equal(t, duoapi.SeverityOK, auth.Status)
	assert.Equal(t, "Duo answered; the stored position could not be read (see checkpoint)", auth.Detail)
	cp := rows[host+"/checkpoint"]
	assert.Equal(t, duoapi.SeverityFail, cp.Status)
	assert.Contains(t, cp.Detail, `fix cache resource "duo_state"`)
	assert.Contains(t, cp.Detail, "state.db")
}
