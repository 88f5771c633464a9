// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testHost = "api-test0001.duosecurity.com"
	testIKey = "DIWJ8X6AEYOR5OMC6TQ1"
	testSKey = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"
)

// scripted is a fake Duo endpoint that answers requests in turn from a
// list of handlers and records what it was asked.
type scripted struct {
	t        *testing.T
	mu       sync.Mutex
	steps    []http.HandlerFunc
	requests []*http.Request
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.Clone(context.Background()))
	if len(s.steps) == 0 {
		s.mu.Unlock()
		s.t.Errorf("unexpected request %s", r.URL)
		http.Error(w, `{"stat":"FAIL","code":50001,"message":"script exhausted"}`, 500)
		return
	}
	step := s.steps[0]
	s.steps = s.steps[1:]
	s.mu.Unlock()
	step(w, r)
}

func (s *scripted) queries() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]url.Values, len(s.requests))
	for i, r := range s.requests {
		out[i] = r.URL.Query()
	}
	return out
}

func reply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func newTestClient(t *testing.T, h http.Handler, mod func(*ClientConfig)) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := ClientConfig{
		APIHostname: testHost, IntegrationKey: testIKey, SecretKey: testSKey,
		BaseURL: srv.URL, RequestsPerMinute: 60000,
		HTTPClient: &http.Client{Timeout: 2 * time.Second},
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cfg)
	require.NoError(t, err)
	return c
}

func TestClientSignsWhatItSends(t *testing.T) {
	var got *http.Request
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		reply(200, `{"stat":"OK","response":[]}`)(w, r)
	}), nil)
	params := url.Values{"mintime": {"1346172815"}, "note": {"a b+c"}}
	_, err := c.Get(t.Context(), PathAdministratorV1, params)
	require.NoError(t, err)

	require.NotNil(t, got)
	assert.Equal(t, "mintime=1346172815&note=a%20b%2Bc", got.URL.RawQuery, "the query sent is the canonical one")
	date := got.Header.Get("Date")
	_, err = time.Parse(DateLayout, date)
	require.NoError(t, err, "Date header %q", date)
	// Verify the signature as Duo would: over the API hostname, not the
	// address the request went to, and over the parameters received.
	want, err := Authorization(SignatureV2, testIKey, testSKey, Request{
		Date: date, Method: "GET", Host: testHost, Path: got.URL.Path, Params: got.URL.Query(),
	})
	require.NoError(t, err)
	assert.Equal(t, want, got.Header.Get("Authorization"))
}

func TestClientUserAgent(t *testing.T) {
	for _, tc := range []struct{ set, want string }{
		{"", "duostream"},
		{"duostream/1.2.3 (host-a-42)", "duostream/1.2.3 (host-a-42)"},
	} {
		var got string
		c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = r.Header.Get("User-Agent")
			reply(200, `{"stat":"OK","response":[]}`)(w, r)
		}), func(cfg *ClientConfig) { cfg.UserAgent = tc.set })
		_, err := c.Get(t.Context(), PathAdministratorV1, url.Values{"mintime": {"1346172815"}})
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
}

func TestClientFreshDateEveryAttempt(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &scripted{t: t, steps: []http.HandlerFunc{
		reply(429, `{"code": 42901, "message": "Too Many Requests", "stat": "FAIL"}`),
		reply(200, `{"stat":"OK","response":[]}`),
	}}
	c := newTestClient(t, s, func(cfg *ClientConfig) {
		cfg.Now = func() time.Time { clock = clock.Add(90 * time.Second); return clock }
	})
	_, err := c.Get(t.Context(), PathAdministratorV1, url.Values{"mintime": {"1"}})
	require.Error(t, err)
	_, err = c.Get(t.Context(), PathAdministratorV1, url.Values{"mintime": {"1"}})
	require.NoError(t, err)
	require.Len(t, s.requests, 2)
	d1, d2 := s.requests[0].Header.Get("Date"), s.requests[1].Header.Get("Date")
	assert.NotEqual(t, d1, d2, "a retry must be dated and signed anew")
	assert.NotEqual(t, s.requests[0].Header.Get("Authorization"), s.requests[1].Header.Get("Authorization"))
}

func TestClientErrorClassification(t *testing.T) {
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		retryable bool
		rateLimit bool
		code      int
		outcome   string
		contains  []string
		skew      time.Duration
	}{
		{
			name:      "429 rate limit",
			handler:   reply(429, `{"code": 42901, "message": "Too Many Requests", "stat": "FAIL"}`),
			retryable: true, rateLimit: true, code: 42901, outcome: "429",
			contains: []string{"42901", "Too Many Requests"},
		},
		{
			name:      "500 internal error",
			handler:   reply(500, `{"code": 50001, "message": "Unknown internal server error", "stat": "FAIL"}`),
			retryable: true, code: 50001, outcome: "500",
		},
		{
			name:      "502 from a proxy, not JSON",
			handler:   reply(502, `<html>Bad Gateway</html>`),
			retryable: true, outcome: "502", contains: []string{"HTTP 502", "not a Duo JSON body"},
		},
		{
			name:      "truncated 200 body",
			handler:   reply(200, `{"stat":"OK","response":[{"action":"x"`),
			retryable: true, outcome: "bad_body", contains: []string{"decode response body"},
		},
		{
			name:      "200 with stat FAIL",
			handler:   reply(200, `{"stat":"FAIL","code":50001,"message":"Unknown internal server error"}`),
			retryable: true, code: 50001, outcome: "500",
		},
		{
			name:    "invalid signature",
			handler: reply(401, `{"code": 40103, "message": "Invalid signature in request credentials", "stat": "FAIL"}`),
			code:    40103, outcome: "401",
			contains: []string{"40103", "check secret_key"},
		},
		{
			name:    "invalid integration key",
			handler: reply(401, `{"code": 40102, "message": "Invalid integration key in request credentials", "stat": "FAIL"}`),
			code:    40102, outcome: "401",
			contains: []string{"check integration_key"},
		},
		{
			name: "clock skew with Duo's Date",
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Date", time.Now().Add(-5*time.Minute).UTC().Format(http.TimeFormat))
				reply(401, `{"code": 40105, "message": "Bad request timestamp", "stat": "FAIL"}`)(w, r)
			},
			code: 40105, outcome: "401",
			contains: []string{"seconds ahead of Duo's", "NTP"},
			skew:     -5 * time.Minute,
		},
		{
			name:    "missing permission",
			handler: reply(403, `{"code": 40301, "message": "Access forbidden", "stat": "FAIL"}`),
			code:    40301, outcome: "403",
			contains: []string{`"Grant read log"`},
		},
		{
			name:    "invalid parameters with detail",
			handler: reply(400, `{"code": 40002, "message": "Invalid request parameters", "message_detail": "mintime must be within the past 180 days", "stat": "FAIL"}`),
			code:    40002, outcome: "400",
			contains: []string{"mintime must be within the past 180 days"},
		},
		{
			name:      "code as a string",
			handler:   reply(503, `{"code": "", "message": "Service Unavailable", "stat": "FAIL"}`),
			retryable: true, outcome: "503",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := &recordingObserver{}
			c := newTestClient(t, tt.handler, func(cfg *ClientConfig) { cfg.Observer = obs })
			_, err := c.Get(t.Context(), PathAdministratorV1, url.Values{"mintime": {"1"}})
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.retryable, apiErr.Retryable(), "Retryable()")
			assert.Equal(t, tt.rateLimit, apiErr.RateLimited(), "RateLimited()")
			assert.Equal(t, tt.code, apiErr.Code, "Code")
			for _, s := range tt.contains {
				assert.Contains(t, err.Error(), s)
			}
			assert.NotContains(t, err.Error(), testSKey)
			assert.InDelta(t, tt.skew.Seconds(), apiErr.ClockSkew.Seconds(), 1.5, "ClockSkew")
			assert.Equal(t, []string{PathAdministratorV1 + " " + tt.outcome}, obs.requests())
		})
	}
}

func TestClientTimeoutAndDroppedConnection(t *testing.T) {
	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}), func(cfg *ClientConfig) { cfg.HTTPClient = &http.Client{Timeout: 100 * time.Millisecond} })
		_, err := c.Get(t.Context(), PathAdministratorV1, nil)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.True(t, apiErr.Retryable())
		assert.Equal(t, "timeout", outcomeOf(apiErr))
	})
	t.Run("dropped connection", func(t *testing.T) {
		c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			require.NoError(t, err)
			conn.Close()
		}), nil)
		_, err := c.Get(t.Context(), PathAdministratorV1, nil)
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.True(t, apiErr.Retryable())
		assert.Equal(t, "network_error", outcomeOf(apiErr))
	})
	t.Run("refused", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		l.Close()
		c, err := NewClient(ClientConfig{APIHostname: testHost, IntegrationKey: testIKey, SecretKey: testSKey, BaseURL: "http://" + addr})
		require.NoError(t, err)
		_, err = c.Get(t.Context(), PathAdministratorV1, url.Values{"mintime": {"5"}})
		var apiErr *APIError
		require.ErrorAs(t, err, &apiErr)
		assert.True(t, apiErr.Retryable())
		assert.NotContains(t, err.Error(), "mintime", "the URL is dropped from transport errors")
	})
}

func TestClientCancelled(t *testing.T) {
	c := newTestClient(t, reply(200, `{"stat":"OK","response":[]}`), func(cfg *ClientConfig) { cfg.RequestsPerMinute = 1 })
	_, err := c.Get(t.Context(), PathAdministratorV1, nil) // takes the only slot of this minute
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	_, err = c.Get(ctx, PathAdministratorV1, nil)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestClientBudget(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		at = append(at, time.Now())
		mu.Unlock()
		reply(200, `{"stat":"OK","response":[]}`)(w, r)
	}), func(cfg *ClientConfig) { cfg.RequestsPerMinute = 1200 }) // one per 50ms
	var wg sync.WaitGroup
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Get(t.Context(), PathAdministratorV1, nil)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	require.Len(t, at, 6)
	first, last := at[0], at[0]
	for _, a := range at {
		first = minTime(first, a)
		last = maxTime(last, a)
	}
	assert.GreaterOrEqual(t, last.Sub(first), 240*time.Millisecond, "6 requests at 1200/min span at least 5 intervals")
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func TestNewClientValidation(t *testing.T) {
	ok := ClientConfig{APIHostname: testHost, IntegrationKey: testIKey, SecretKey: testSKey}
	tests := []struct {
		name string
		mod  func(*ClientConfig)
		want string
	}{
		{"no host", func(c *ClientConfig) { c.APIHostname = "" }, "api_hostname is empty"},
		{"no ikey", func(c *ClientConfig) { c.IntegrationKey = "" }, "integration_key is empty"},
		{"no skey", func(c *ClientConfig) { c.SecretKey = "" }, "secret_key is empty"},
		{"bad version", func(c *ClientConfig) { c.SignatureVersion = 4 }, "signature version 4 is not supported"},
		{"relative base", func(c *ClientConfig) { c.BaseURL = "/x" }, "must be an absolute http or https URL"},
		{"ftp base", func(c *ClientConfig) { c.BaseURL = "ftp://h" }, "must be an absolute http or https URL"},
		{"negative budget", func(c *ClientConfig) { c.RequestsPerMinute = -1 }, "must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mod(&cfg)
			_, err := NewClient(cfg)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), testSKey)
		})
	}
	_, err := NewClient(ok)
	require.NoError(t, err)
}

func TestClassify(t *testing.T) {
	assert.Equal(t, FailureTransient, Classify(&APIError{HTTPStatus: 503}))
	assert.Equal(t, FailureRateLimited, Classify(fmt.Errorf("fetch: %w", &APIError{HTTPStatus: 429, Code: 42901})))
	assert.Equal(t, FailureNeedsAction, Classify(&APIError{HTTPStatus: 401, Code: 40103}))
	assert.Equal(t, FailureTransient, Classify(errors.New("plain")))
	assert.True(t, strings.HasPrefix((&APIError{Endpoint: "/x", HTTPStatus: 404}).Error(), "GET /x: HTTP 404"))
}

// recordingObserver records what it is told.
type recordingObserver struct {
	mu       sync.Mutex
	reqs     []string
	retries  []error
	dups     int
	overflow []time.Time
	clamped  int
	resets   int
	stalls   []stallReport
	skews    []time.Duration

	refreshes   []AccountsRefresh
	givenUp     []StreamKey
	listErrors  []error
	unreachable []string // account IDs, once per report
	reachable   []string
}

// stallReport is one OffsetStalled call.
type stallReport struct {
	sent, got string
	resume    time.Time
	skipped   bool
}

func (o *recordingObserver) Request(endpoint, outcome string, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reqs = append(o.reqs, endpoint+" "+outcome)
}

func (o *recordingObserver) Retry(_ Stream, err error, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.retries = append(o.retries, err)
}

func (o *recordingObserver) BoundaryDuplicates(_ Stream, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.dups += n
}

func (o *recordingObserver) SecondOverflow(_ Stream, s time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.overflow = append(o.overflow, s)
}

func (o *recordingObserver) WindowClamped(Stream, time.Time, time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.clamped++
}

func (o *recordingObserver) CursorReset(Stream, error, time.Time, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.resets++
}

func (o *recordingObserver) OffsetStalled(_ Stream, sent, got string, resume time.Time, skipped bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stalls = append(o.stalls, stallReport{sent, got, resume, skipped})
}

func (o *recordingObserver) StreamGivenUp(s Stream, _ error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.givenUp = append(o.givenUp, s.Key())
}

func (o *recordingObserver) AccountsRefreshed(r AccountsRefresh) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.refreshes = append(o.refreshes, r)
}

func (o *recordingObserver) AccountsListFailed(err error, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.listErrors = append(o.listErrors, err)
}

func (o *recordingObserver) AccountUnreachable(a Account, _ error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.unreachable = append(o.unreachable, a.ID)
}

func (o *recordingObserver) AccountReachable(a Account) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reachable = append(o.reachable, a.ID)
}

func (o *recordingObserver) ClockSkew(skew time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.skews = append(o.skews, skew)
}

func (o *recordingObserver) requests() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]string(nil), o.reqs...)
}

// TestClientDroppedConnectionIsOneRequest checks that a connection dropped
// after the request was sent is not sent again behind the client's back:
// net/http replays an idempotent request whose reused keep-alive
// connection closes without a response, and such a replay would escape the
// request budget and the metrics.
func TestClientDroppedConnectionIsOneRequest(t *testing.T) {
	var mu sync.Mutex
	received := 0
	c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		received++
		n := received
		mu.Unlock()
		if n == 1 {
			reply(200, `{"stat":"OK","response":[]}`)(w, r)
			return
		}
		conn, _, err := w.(http.Hijacker).Hijack()
		require.NoError(t, err)
		conn.Close()
	}), nil)
	_, err := c.Get(t.Context(), PathAdministratorV1, nil)
	require.NoError(t, err)
	_, err = c.Get(t.Context(), PathAdministratorV1, nil)
	require.Error(t, err)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, 2, received, "two calls of Get reach the server as two requests")
}
