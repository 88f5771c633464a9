// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
)

const tooManyRequestsBody = `{"code": 42901, "message": "Too Many Requests", "stat": "FAIL"}`

func TestFaults(t *testing.T) {
	start, end := epoch.Add(-time.Hour), epoch.Add(-10*time.Minute)
	window := url.Values{"mintime": {ms(start)}, "maxtime": {ms(end)}}
	v2 := cloneValues(window)
	v2.Set("sort", "ts:asc")
	v2.Set("limit", "1000")
	tm := cloneValues(window)
	tm.Set("limit", "200")
	endpoints := []struct {
		path  string
		typ   duoapi.LogType
		query url.Values
	}{
		{duoapi.PathAuthenticationV2, duoapi.Authentication, v2},
		{duoapi.PathActivityV2, duoapi.Activity, v2},
		{duoapi.PathTrustMonitorV1, duoapi.TrustMonitor, tm},
	}
	// get is a request of a case: a signed GET of the endpoint's query.
	type get func() *http.Request
	tests := []struct {
		name   string
		faults Faults
		check  func(t *testing.T, h *harness, req get, clean []byte)
	}{
		{"too many requests", Faults{TooManyRequests: 1}, func(t *testing.T, h *harness, req get, _ []byte) {
			status, header, body := h.do(req())
			assert.Equal(t, 429, status)
			assert.Equal(t, tooManyRequestsBody, string(body))
			assert.Empty(t, header.Values("Retry-After"))
		}},
		{"server error", Faults{ServerError: 1}, func(t *testing.T, h *harness, req get, _ []byte) {
			status, _, body := h.do(req())
			assert.Equal(t, 500, status)
			assert.Equal(t, failure{Stat: "FAIL", Code: 50001, Message: "Unknown internal server error"}, decodeFailure(t, body))
		}},
		{"unavailable", Faults{Unavailable: 1}, func(t *testing.T, h *harness, req get, _ []byte) {
			status, header, body := h.do(req())
			assert.Equal(t, 503, status)
			assert.Equal(t, "text/html", header.Get("Content-Type"))
			assert.Contains(t, string(body), "503 Service Temporarily Unavailable")
		}},
		{"truncate", Faults{Truncate: 1}, func(t *testing.T, h *harness, req get, clean []byte) {
			r := req()
			status, header, body := h.do(r)
			assert.Equal(t, 200, status)
			assert.Equal(t, "application/json", header.Get("Content-Type"))
			assert.Len(t, body, len(clean)/2)
			assert.True(t, strings.HasPrefix(string(clean), string(body)), "the body is the start of the real one")
			assert.Error(t, json.Unmarshal(body, new(any)))
			// Errors are not cut.
			status, body = h.get(r.URL.Path, url.Values{"mintime": {"1"}, "maxtime": {ms(end)}})
			assert.Equal(t, 400, status)
			assert.Equal(t, 40002, decodeFailure(t, body).Code)
		}},
		{"drop", Faults{Drop: 1}, func(t *testing.T, h *harness, req get, _ []byte) {
			resp, err := h.client.Do(req())
			if err == nil {
				resp.Body.Close()
			}
			assert.Error(t, err)
		}},
		{"slow", Faults{Slow: 1, SlowDelay: 150 * time.Millisecond}, func(t *testing.T, h *harness, req get, clean []byte) {
			began := time.Now()
			status, _, body := h.do(req())
			assert.GreaterOrEqual(t, time.Since(began), 150*time.Millisecond)
			assert.Equal(t, 200, status)
			assert.Equal(t, string(clean), string(body))
		}},
	}
	for _, ep := range endpoints {
		for _, tt := range tests {
			t.Run(string(ep.typ)+"/"+tt.name, func(t *testing.T) {
				h := newHarness(t, Config{Seed: 5})
				require.NoError(t, h.srv.Generate(ep.typ, 40, start, end))
				status, clean := h.get(ep.path, ep.query)
				require.Equal(t, 200, status)
				require.NoError(t, h.srv.SetFaults(tt.faults))
				h.srv.ResetRequests()

				tt.check(t, h, func() *http.Request { return h.newRequest(ep.path, ep.query) }, clean)

				recs := h.srv.Requests()
				require.NotEmpty(t, recs)
				first := recs[0]
				if tt.faults.Slow > 0 {
					assert.True(t, first.Slowed)
					assert.Empty(t, first.Fault)
				} else {
					assert.Equal(t, strings.ReplaceAll(tt.name, " ", "_"), string(first.Fault))
				}
				if tt.faults.Drop > 0 {
					assert.Equal(t, 0, first.Status, "a dropped connection has no status")
				}
			})
		}
	}
}

func TestSlowFaultHonoursCancellation(t *testing.T) {
	h := newHarness(t, Config{Faults: Faults{Slow: 1, SlowDelay: time.Minute}})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	req := h.newRequest(duoapi.PathAdministratorV1, url.Values{"mintime": {"0"}}).WithContext(ctx)
	began := time.Now()
	resp, err := h.client.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	require.Error(t, err)
	assert.Less(t, time.Since(began), 10*time.Second)
	// The handler gives up as soon as the client goes away.
	require.Eventually(t, func() bool { return len(h.srv.Requests()) == 1 }, 10*time.Second, 10*time.Millisecond)
	rec := h.srv.Requests()[0]
	assert.True(t, rec.Slowed)
	assert.Equal(t, 0, rec.Status)
	assert.Equal(t, 1, h.srv.RequestCounts()[PathStatus{duoapi.PathAdministratorV1, 0}])
}

// outcomes sends n requests one after the other and describes each answer.
func outcomes(t *testing.T, seed uint64, f Faults, n int) []string {
	h := newHarness(t, Config{Seed: seed, Faults: f})
	// Go's transport quietly retries a GET whose reused connection is
	// dropped; on fresh connections every drop shows.
	h.client.Transport = &http.Transport{DisableKeepAlives: true}
	var out []string
	for range n {
		resp, err := h.client.Do(h.newRequest(duoapi.PathAdministratorV1, url.Values{"mintime": {"0"}}))
		if err != nil {
			out = append(out, "error")
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		valid := json.Valid(body)
		out = append(out, fmt.Sprintf("%d valid=%v", resp.StatusCode, valid))
	}
	return out
}

func TestFaultsReproducible(t *testing.T) {
	f := Faults{TooManyRequests: 0.2, ServerError: 0.1, Unavailable: 0.1, Truncate: 0.2, Drop: 0.1}
	a := outcomes(t, 99, f, 60)
	b := outcomes(t, 99, f, 60)
	c := outcomes(t, 100, f, 60)
	assert.Equal(t, a, b, "same seed, same faults")
	assert.NotEqual(t, a, c, "another seed, other faults")
	for _, want := range []string{"200 valid=true", "200 valid=false", "429 valid=true", "500 valid=true", "503 valid=false", "error"} {
		assert.Contains(t, a, want)
	}
}

func TestFaultsNeverChangeData(t *testing.T) {
	start, end := epoch.Add(-time.Hour), epoch.Add(-10*time.Minute)
	h := newHarness(t, Config{Seed: 8, Faults: Faults{
		TooManyRequests: 0.15, ServerError: 0.15, Unavailable: 0.1, Truncate: 0.15, Drop: 0.1,
		Slow: 0.1, SlowDelay: time.Millisecond,
	}})
	crowded := start.Add(time.Minute)
	require.NoError(t, h.srv.Generate(duoapi.Authentication, 300, start, end))
	require.NoError(t, h.srv.Generate(duoapi.Authentication, 30, crowded, crowded))
	want := bodies(h.srv.Events(duoapi.Authentication, start, end.Add(time.Millisecond)))

	base := url.Values{"mintime": {ms(start)}, "maxtime": {ms(end)}, "sort": {"ts:asc"}, "limit": {"20"}}
	got := []string{}
	params := cloneValues(base)
	for {
		page := fetchWhole[v2Page](h, duoapi.PathAuthenticationV2, params)
		got = append(got, strs(page.Response.AuthLogs)...)
		if string(page.Response.Metadata.NextOffset) == "null" {
			break
		}
		var next []string
		require.NoError(t, json.Unmarshal(page.Response.Metadata.NextOffset, &next))
		params = cloneValues(base)
		params.Set("next_offset", strings.Join(next, ","))
	}
	assert.Equal(t, want, got)
	assert.Positive(t, h.faulted(), "faults were injected")
}

func TestFaultsValidate(t *testing.T) {
	tests := []struct {
		name    string
		faults  Faults
		wantErr string
	}{
		{"none", Faults{}, ""},
		{"all exclusive at their limit", Faults{TooManyRequests: 0.2, ServerError: 0.2, Unavailable: 0.2, Truncate: 0.2, Drop: 0.2}, ""},
		{"slow always", Faults{Slow: 1, SlowDelay: time.Second, ServerError: 1}, ""},
		{"negative", Faults{ServerError: -0.1}, "fault server_error: probability -0.1 is outside [0, 1]"},
		{"above one", Faults{Truncate: 1.5}, "fault truncate: probability 1.5 is outside [0, 1]"},
		{"NaN", Faults{Drop: math.NaN()}, "fault drop: probability NaN is outside [0, 1]"},
		{"sum above one", Faults{TooManyRequests: 0.6, ServerError: 0.6}, "faults: probabilities of exclusive faults sum to 1.2, more than 1"},
		{"slow without delay", Faults{Slow: 0.5}, "fault slow: probability 0.5 needs a SlowDelay"},
		{"negative delay", Faults{SlowDelay: -time.Second}, "fault slow: delay -1s is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(Config{Faults: tt.faults})
			sim, _ := New(Config{})
			setErr := sim.SetFaults(tt.faults)
			if tt.wantErr == "" {
				assert.NoError(t, err)
				assert.NoError(t, setErr)
				return
			}
			assert.EqualError(t, err, tt.wantErr)
			assert.EqualError(t, setErr, tt.wantErr)
		})
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, Config{RateLimitPerMinute: 3})
	admin := url.Values{"mintime": {"0"}}
	auth := url.Values{"mintime": {ms(epoch.Add(-time.Hour))}, "maxtime": {ms(epoch)}}

	// The budget is the integration's, shared by every endpoint.
	for _, path := range []string{duoapi.PathAdministratorV1, duoapi.PathAuthenticationV2, duoapi.PathAdministratorV1} {
		q := admin
		if path == duoapi.PathAuthenticationV2 {
			q = auth
		}
		status, body := h.get(path, q)
		require.Equal(t, 200, status, "body %s", body)
		h.clock.Advance(10 * time.Second)
	}
	status, header, body := h.do(h.newRequest(duoapi.PathAdministratorV1, admin))
	assert.Equal(t, 429, status)
	assert.Equal(t, tooManyRequestsBody, string(body))
	assert.Empty(t, header.Values("Retry-After"), "Duo sends no Retry-After")

	// Requests that fail authentication are answered, and not counted.
	status, _ = h.get(duoapi.PathAdministratorV1, admin, withSKey("wrong"))
	assert.Equal(t, 401, status)

	// 60 seconds after the first request, one more is allowed.
	h.clock.Advance(29 * time.Second)
	status, _ = h.get(duoapi.PathAdministratorV1, admin)
	assert.Equal(t, 429, status)
	h.clock.Advance(time.Second)
	status, _ = h.get(duoapi.PathAdministratorV1, admin)
	assert.Equal(t, 200, status)
	status, _ = h.get(duoapi.PathAdministratorV1, admin)
	assert.Equal(t, 429, status, "rejected requests do not count, but admitted ones do")

	assert.Equal(t, map[PathStatus]int{
		{duoapi.PathAdministratorV1, 200}:  3,
		{duoapi.PathAuthenticationV2, 200}: 1,
		{duoapi.PathAdministratorV1, 429}:  3,
		{duoapi.PathAdministratorV1, 401}:  1,
	}, h.srv.RequestCounts())
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"negative rate limit", Config{RateLimitPerMinute: -1}},
		{"negative page size", Config{V1PageSize: -1}},
		{"negative skew", Config{ClockSkew: -time.Second}},
		{"negative retention", Config{Retention: -time.Hour}},
		{"an unavailable type answered 500", Config{Unavailable: map[duoapi.LogType]int{duoapi.Activity: 500}}},
		{"an unknown unavailable type", Config{Unavailable: map[duoapi.LogType]int{"endpoint": 404}}},
		{"activity string actions above one", Config{ActivityStringActions: 1.5}},
		{"activity string actions NaN", Config{ActivityStringActions: math.NaN()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			assert.Error(t, err)
		})
	}
}
