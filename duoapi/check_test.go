// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// startSim starts a simulator configured by cfg for the test.
func startSim(t *testing.T, cfg duosim.Config) *duosim.Server {
	t.Helper()
	srv, err := duosim.Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// checkClient returns a client of srv's integration, with mod applied to
// its config, and a budget that does not slow the test down.
func checkClient(t *testing.T, srv *duosim.Server, mod func(*duoapi.ClientConfig)) *duoapi.Client {
	t.Helper()
	cfg := duoapi.ClientConfig{
		APIHostname:       srv.APIHost(),
		IntegrationKey:    srv.IntegrationKey(),
		SecretKey:         srv.SecretKey(),
		BaseURL:           srv.URL,
		RequestsPerMinute: 6000,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := duoapi.NewClient(cfg)
	require.NoError(t, err)
	return c
}

// closedPortURL returns the URL of a loopback port nothing listens on.
func closedPortURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "http://" + addr
}

// TestCheckLogTypesHealthy checks that a healthy account passes for every
// log type with one request each, asking for a minute before the
// availability lag (and the margin of an unknown clock) with a small limit,
// as the puller asks, and that the clock is measured.
func TestCheckLogTypesHealthy(t *testing.T) {
	srv := startSim(t, duosim.Config{Seed: 1})
	c := checkClient(t, srv, nil)
	before := time.Now()
	results := c.CheckLogTypes(t.Context(), duoapi.CheckConfig{LogTypes: duoapi.AllLogTypes, TrustMonitorTypes: []string{"auth"}})
	require.Len(t, results, len(duoapi.AllLogTypes))
	for i, r := range results {
		assert.Equal(t, duoapi.AllLogTypes[i], r.LogType)
		assert.NoError(t, r.Err, "%s", r.LogType)
		assert.Equal(t, duoapi.SeverityOK, r.Severity())
		assert.Equal(t, srv.URL, r.URL)
	}
	reqs := srv.Requests()
	require.Len(t, reqs, len(duoapi.AllLogTypes), "one request per log type")
	wantEnd := before.Add(-2*time.Minute - duoapi.UnknownClockMargin)
	for _, r := range reqs {
		assert.Equal(t, 200, r.Status, "%s", r.Path)
		switch r.Path {
		case duoapi.PathAdministratorV1, duoapi.PathOfflineEnrollmentV1:
			mintime, err := strconv.ParseInt(r.Query.Get("mintime"), 10, 64)
			require.NoError(t, err)
			assert.InDelta(t, wantEnd.Add(-time.Minute).Unix(), mintime, 5, "%s: mintime a minute before the window's end", r.Path)
			assert.Len(t, r.Query, 1, "%s: mintime only", r.Path)
		default:
			minMs, err := strconv.ParseInt(r.Query.Get("mintime"), 10, 64)
			require.NoError(t, err)
			maxMs, err := strconv.ParseInt(r.Query.Get("maxtime"), 10, 64)
			require.NoError(t, err)
			assert.Equal(t, time.Minute.Milliseconds(), maxMs-minMs, "%s: a one-minute window", r.Path)
			assert.InDelta(t, wantEnd.UnixMilli(), maxMs, 5000, "%s: the window ends before the lag", r.Path)
			assert.Equal(t, "10", r.Query.Get("limit"), r.Path)
			if r.Path == duoapi.PathTrustMonitorV1 {
				assert.Equal(t, []string{"auth"}, r.Query["type"], "the Trust Monitor filter is sent as configured")
			} else {
				assert.Equal(t, "ts:asc", r.Query.Get("sort"), r.Path)
			}
		}
	}
	clock := c.CheckClock()
	assert.True(t, clock.Known)
	assert.Equal(t, duoapi.SeverityOK, clock.Severity(), "%+v", clock)
}

// TestCheckLogTypesTelephonyV1 checks that telephony is checked on the
// endpoint the input reads it from.
func TestCheckLogTypesTelephonyV1(t *testing.T) {
	srv := startSim(t, duosim.Config{Seed: 1})
	results := checkClient(t, srv, nil).CheckLogTypes(t.Context(), duoapi.CheckConfig{LogTypes: []duoapi.LogType{duoapi.Telephony}, TelephonyV1: true})
	require.Len(t, results, 1)
	assert.NoError(t, results[0].Err)
	assert.Equal(t, duoapi.PathTelephonyV1, results[0].Endpoint)
	assert.Equal(t, duoapi.PathTelephonyV1, srv.Requests()[0].Path)
}

// TestCheckLogTypesFailures checks every failure the check names: each
// with Duo's answer, its fix, and no more requests when every other would
// fail the same way.
func TestCheckLogTypesFailures(t *testing.T) {
	types := []duoapi.LogType{duoapi.Authentication, duoapi.Administrator, duoapi.Activity, duoapi.TrustMonitor}
	tests := []struct {
		name string
		sim  duosim.Config
		// mod changes the client's config; unreachable sends it to a
		// closed port.
		mod         func(*duoapi.ClientConfig)
		unreachable bool
		// failed are the log types that fail, by index in types, and
		// requested how many requests were made.
		failed      []int
		requested   int
		wantProblem string
		wantFix     string
	}{
		{
			name:        "wrong secret key",
			mod:         func(c *duoapi.ClientConfig) { c.SecretKey = "not-the-secret-key" },
			failed:      []int{0},
			requested:   1,
			wantProblem: `40103 "Invalid signature in request credentials"`,
			wantFix:     "check secret_key",
		},
		{
			name:        "wrong integration key",
			mod:         func(c *duoapi.ClientConfig) { c.IntegrationKey = "DIWRONGWRONGWRONGWRO" },
			failed:      []int{0},
			requested:   1,
			wantProblem: `40102 "Invalid integration key in request credentials"`,
			wantFix:     "check integration_key",
		},
		{
			name:        "wrong API hostname",
			mod:         func(c *duoapi.ClientConfig) { c.APIHostname = "api-wrong000.duosecurity.com" },
			failed:      []int{0},
			requested:   1,
			wantProblem: "40103",
			wantFix:     "api_hostname (it must be the application's API hostname",
		},
		{
			name:        "missing Grant read log",
			sim:         duosim.Config{DenyLogRead: true},
			failed:      []int{0},
			requested:   1,
			wantProblem: `40301 "Access forbidden"`,
			wantFix:     `lacks the "Grant read log" permission`,
		},
		{
			name:        "unreachable host",
			unreachable: true,
			failed:      []int{0},
			requested:   0,
			wantProblem: "connection refused",
			wantFix:     "check api_hostname and base_url",
		},
		{
			name:        "clock five minutes behind Duo's",
			sim:         duosim.Config{Now: func() time.Time { return time.Now().Add(5 * time.Minute) }},
			failed:      []int{0},
			requested:   1,
			wantProblem: `40105 "Bad request timestamp"`,
			// Date headers have whole seconds: 299 or 300.
			wantFix: "seconds behind Duo's; Duo allows about 60 seconds: synchronise it with NTP",
		},
		{
			name:        "activity missing from the edition",
			sim:         duosim.Config{Unavailable: map[duoapi.LogType]int{duoapi.Activity: 404}},
			failed:      []int{2},
			requested:   4,
			wantProblem: `40401 "Resource not found": the activity log is not available to this account or application`,
			wantFix:     `drop "activity" from log_types`,
		},
		{
			name:        "Trust Monitor refused by the edition",
			sim:         duosim.Config{Unavailable: map[duoapi.LogType]int{duoapi.TrustMonitor: 403}},
			failed:      []int{3},
			requested:   4,
			wantProblem: `40301 "Access forbidden": the trust_monitor log is not available`,
			wantFix:     `drop "trust_monitor" from log_types`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSim(t, tt.sim)
			mod := tt.mod
			if tt.unreachable {
				url := closedPortURL(t)
				mod = func(c *duoapi.ClientConfig) { c.BaseURL = url }
			}
			results := checkClient(t, srv, mod).CheckLogTypes(t.Context(), duoapi.CheckConfig{LogTypes: types})
			require.Len(t, results, len(types))
			assert.Len(t, srv.Requests(), tt.requested, "requests made")
			first := tt.failed[0]
			for i, r := range results {
				switch {
				case i == first:
					require.Error(t, r.Err, "%s", r.LogType)
					assert.Equal(t, duoapi.SeverityFail, r.Severity(), "%s", r.LogType)
					assert.False(t, r.NotRequested)
					d := r.Describe()
					assert.Contains(t, d.Problem, tt.wantProblem, "%s", r.LogType)
					assert.Contains(t, d.Fix, tt.wantFix, "%s", r.LogType)
				case i > first && tt.requested < len(types):
					assert.True(t, r.NotRequested, "%s is not requested after %s failed", r.LogType, types[first])
					assert.Equal(t, duoapi.SeveritySkipped, r.Severity())
					assert.Equal(t, types[first], r.After)
					assert.Contains(t, r.Describe().Problem, "not requested: the "+string(types[first])+" request failed")
				default:
					assert.NoError(t, r.Err, "%s", r.LogType)
				}
			}
		})
	}
}

// TestCheckLogTypesUnreachableHints checks the fix of a host that does not
// resolve and of one that does not answer in time.
func TestCheckLogTypesUnreachableHints(t *testing.T) {
	t.Run("does not resolve", func(t *testing.T) {
		c, err := duoapi.NewClient(duoapi.ClientConfig{
			APIHostname: "api-nxdomain.invalid", IntegrationKey: "DIX", SecretKey: "s", RequestsPerMinute: 6000,
		})
		require.NoError(t, err)
		r := c.CheckLogTypes(t.Context(), duoapi.CheckConfig{LogTypes: []duoapi.LogType{duoapi.Authentication}})[0]
		require.Error(t, r.Err)
		assert.Contains(t, r.Describe().Fix, "api-nxdomain.invalid does not resolve: check api_hostname")
	})
	t.Run("does not answer in time", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		t.Cleanup(func() { _ = ln.Close() })
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { _ = conn.Close() }) // accept, never answer
			}
		}()
		srv := startSim(t, duosim.Config{})
		c := checkClient(t, srv, func(c *duoapi.ClientConfig) {
			c.BaseURL = "http://" + ln.Addr().String()
			c.HTTPClient = httpClientWithTimeout(200 * time.Millisecond)
		})
		r := c.CheckLogTypes(t.Context(), duoapi.CheckConfig{LogTypes: []duoapi.LogType{duoapi.Authentication}})[0]
		require.Error(t, r.Err)
		assert.Contains(t, r.Describe().Fix, "did not answer in time")
	})
}

// httpClientWithTimeout returns an HTTP client that gives up after d.
func httpClientWithTimeout(d time.Duration) *http.Client {
	return &http.Client{Timeout: d}
}

// TestCheckClock checks how a clock skew is judged: in step, a small skew
// that works but is reported, and one Duo refuses.
func TestCheckClock(t *testing.T) {
	tests := []struct {
		name  string
		ahead time.Duration // Duo's clock ahead of ours
		want  duoapi.Severity
		// problem matches the description; Date headers have whole
		// seconds, so the skew measured may be a second less.
		problem string
		fix     bool
	}{
		{"in step", 0, duoapi.SeverityOK, `^this machine's clock and Duo's agree, within the second Duo's Date header shows$`, false},
		{"small skew", 20 * time.Second, duoapi.SeverityWarn, `^this machine's clock is (19|20) seconds behind Duo's$`, true},
		{"clock ahead", -40 * time.Second, duoapi.SeverityFail, `^this machine's clock is (40|41) seconds ahead of Duo's$`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := startSim(t, duosim.Config{Now: func() time.Time { return time.Now().Add(tt.ahead) }})
			c := checkClient(t, srv, nil)
			results := c.CheckLogTypes(t.Context(), duoapi.CheckConfig{LogTypes: []duoapi.LogType{duoapi.Authentication}})
			assert.NoError(t, results[0].Err, "Duo accepts a skew under a minute")
			clock := c.CheckClock()
			require.True(t, clock.Known)
			assert.InDelta(t, tt.ahead.Seconds(), clock.Skew.Seconds(), 1.5)
			assert.Equal(t, tt.want, clock.Severity())
			d := clock.Describe()
			assert.Regexp(t, tt.problem, d.Problem)
			if tt.fix {
				assert.Contains(t, d.Fix, "synchronise this machine's clock with NTP")
			} else {
				assert.Empty(t, d.Fix)
			}
		})
	}
	assert.Equal(t, duoapi.SeveritySkipped, duoapi.ClockCheck{}.Severity(), "an unmeasured clock is not checked")
}

// TestCheckChildAccounts checks an MSP parent: the children are listed with
// one request and selected as the input selects them, each child's log
// types are checked on its own budget, and a cross-deployment child fails
// with the fix of giving it its own application, the others passing.
func TestCheckChildAccounts(t *testing.T) {
	srv := startSim(t, duosim.Config{
		Seed:        1,
		AccountsAPI: true,
		Children: []duosim.ChildConfig{
			{ID: "DAAAAAAAAAAAAAAAAAA1", Name: "Acme", APIHostname: "api-aaaaaaa1.duosecurity.com"},
			{ID: "DAAAAAAAAAAAAAAAAAA2", Name: "Fabrikam Federal", APIHostname: "api-aaaaaaa2.duofederal.com", CrossDeployment: true},
			{ID: "DAAAAAAAAAAAAAAAAAA3", Name: "Globex", APIHostname: "api-aaaaaaa3.duosecurity.com", Unavailable: map[duoapi.LogType]int{duoapi.Activity: 403}},
			{ID: "DAAAAAAAAAAAAAAAAAA4", Name: "Excluded", APIHostname: "api-aaaaaaa4.duosecurity.com"},
		},
	})
	types := []duoapi.LogType{duoapi.Authentication, duoapi.Activity}
	ac := duoapi.CheckChildAccounts(t.Context(), checkClient(t, srv, nil),
		duoapi.AccountsConfig{Exclude: []string{"Excluded", "Nobody"}}, duoapi.CheckConfig{LogTypes: types}, 2)
	require.NoError(t, ac.ListErr)
	assert.Equal(t, 4, ac.Listed)
	assert.Equal(t, []string{"Nobody"}, ac.Unmatched)
	require.Len(t, ac.Children, 3, "the excluded child is not checked")
	assert.Equal(t, []string{"Acme", "Fabrikam Federal", "Globex"}, []string{ac.Children[0].Account.Name, ac.Children[1].Account.Name, ac.Children[2].Account.Name}, "list order")

	for _, r := range ac.Children[0].Results {
		assert.NoError(t, r.Err, "Acme %s", r.LogType)
	}
	assert.True(t, ac.Children[0].Clock.Known)

	fab := ac.Children[1].Results
	require.Error(t, fab[0].Err)
	assert.Contains(t, fab[0].Describe().Fix, "give this child account its own Admin API application")
	assert.True(t, fab[1].NotRequested, "no more requests for an unreachable child")

	globex := ac.Children[2].Results
	assert.NoError(t, globex[0].Err)
	var unavailable *duoapi.UnavailableError
	require.True(t, errors.As(globex[1].Err, &unavailable), "%v", globex[1].Err)
	assert.Contains(t, globex[1].Describe().Fix, `drop "activity" from log_types`)

	assert.Empty(t, srv.AccountRequestCounts("DAAAAAAAAAAAAAAAAAA4"), "nothing is asked of the excluded child")
	var lists int
	for _, r := range srv.Requests() {
		if r.Path == duoapi.PathAccountList {
			lists++
		}
	}
	assert.Equal(t, 1, lists, "the list is read once")
}

// TestCheckChildAccountsListFails checks that a parent whose credentials
// cannot list children gets the Accounts API fix.
func TestCheckChildAccountsListFails(t *testing.T) {
	srv := startSim(t, duosim.Config{}) // an Admin API application, not an Accounts API one
	ac := duoapi.CheckChildAccounts(t.Context(), checkClient(t, srv, nil), duoapi.AccountsConfig{}, duoapi.CheckConfig{LogTypes: []duoapi.LogType{duoapi.Authentication}}, 0)
	require.Error(t, ac.ListErr)
	d := duoapi.Diagnose(ac.ListErr, ac.URL)
	assert.Contains(t, d.Problem, "40301")
	assert.Contains(t, d.Fix, "accounts.discover needs the integration key of an Accounts API application")
	assert.Empty(t, ac.Children)
}

// TestCheckStopsWithTheContext checks that a cancelled check reports what
// it did not get to.
func TestCheckStopsWithTheContext(t *testing.T) {
	srv := startSim(t, duosim.Config{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	results := checkClient(t, srv, nil).CheckLogTypes(ctx, duoapi.CheckConfig{LogTypes: []duoapi.LogType{duoapi.Authentication, duoapi.Administrator}})
	require.ErrorIs(t, results[0].Err, context.Canceled)
	assert.Contains(t, results[0].Describe().Problem, "the check was stopped")
	assert.True(t, results[1].NotRequested)
}
