// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gatewayRequest is one request a recording gateway received.
type gatewayRequest struct {
	method, path, user, password string
	auth                         bool
	fams                         map[string]*dto.MetricFamily
}

// recordingGateway is a loopback HTTP server that answers like a
// Pushgateway with status and records every request.
type recordingGateway struct {
	*httptest.Server
	mu       sync.Mutex
	status   int
	requests []gatewayRequest
}

func newRecordingGateway(t *testing.T, status int) *recordingGateway {
	g := &recordingGateway{status: status}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		require.NoError(t, err)
		req := gatewayRequest{method: r.Method, path: r.URL.Path}
		req.user, req.password, req.auth = r.BasicAuth()
		if g.status == http.StatusOK {
			req.fams = decodePush(t, r.Header, body)
		}
		g.mu.Lock()
		g.requests = append(g.requests, req)
		g.mu.Unlock()
		w.WriteHeader(g.status)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *recordingGateway) received() []gatewayRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]gatewayRequest(nil), g.requests...)
}

// decodePush decodes the metric families of a push, in the format its
// Content-Type names.
func decodePush(t *testing.T, h http.Header, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	fams := map[string]*dto.MetricFamily{}
	dec := expfmt.NewDecoder(bytes.NewReader(body), expfmt.ResponseFormat(h))
	for {
		var mf dto.MetricFamily
		err := dec.Decode(&mf)
		if errors.Is(err, io.EOF) {
			return fams
		}
		require.NoError(t, err)
		fams[mf.GetName()] = &mf
	}
}

// TestPrometheusPushesEveryIntervalAndAtClose checks what reaches a gateway:
// a PUT to /metrics/job/<push_job_name> with basic auth every push_interval,
// and a last push at Close with the final values.
func TestPrometheusPushesEveryIntervalAndAtClose(t *testing.T) {
	g := newRecordingGateway(t, http.StatusOK)
	p := newTestExporter(t, fmt.Sprintf(`
push_url: %q
push_interval: 50ms
push_job_name: duostream_host-1
push_basic_auth:
  username: pusher
  password: hunter2-secret
`, g.URL), nil)
	counter := p.NewCounterCtor("duo_events_total", "log_type")("authentication")
	counter.Incr(3)
	require.Eventually(t, func() bool { return len(g.received()) >= 2 }, 5*time.Second, 10*time.Millisecond, "two interval pushes")
	counter.Incr(4)
	require.NoError(t, p.Close(t.Context()))
	reqs := g.received()
	for _, r := range reqs {
		assert.Equal(t, http.MethodPut, r.method, "a push replaces the job's metrics")
		assert.Equal(t, "/metrics/job/duostream_host-1", r.path)
		assert.True(t, r.auth)
		assert.Equal(t, "pusher", r.user)
		assert.Equal(t, "hunter2-secret", r.password)
	}
	last := reqs[len(reqs)-1].fams
	assert.InDelta(t, 7.0, series(t, last, "duo_events_total", map[string]string{"log_type": "authentication"}).GetCounter().GetValue(), 1e-9, "the push at Close has the final value")

	n := len(reqs)
	time.Sleep(150 * time.Millisecond)
	assert.Len(t, g.received(), n, "no push after Close")
	require.NoError(t, p.Close(t.Context()), "a second Close is harmless")
}

// TestPrometheusPushOnlyAtCloseWithoutInterval checks Connect's behaviour
// without push_interval: one push, at shutdown.
func TestPrometheusPushOnlyAtCloseWithoutInterval(t *testing.T) {
	g := newRecordingGateway(t, http.StatusOK)
	p := newTestExporter(t, fmt.Sprintf("push_url: %q\n", g.URL), nil)
	p.NewGaugeCtor("duo_cursor_lag_seconds")().Set(12)
	time.Sleep(100 * time.Millisecond)
	assert.Empty(t, g.received())
	require.NoError(t, p.Close(t.Context()))
	reqs := g.received()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/metrics/job/benthos_push", reqs[0].path, "Connect's default job name")
	assert.False(t, reqs[0].auth, "no basic auth unless both fields are set")
	assert.InDelta(t, 12.0, series(t, reqs[0].fams, "duo_cursor_lag_seconds", nil).GetGauge().GetValue(), 1e-9)
}

// TestPrometheusPushFailureSaysWhatToFix checks that a refused push is an
// error naming the gateway and the field to fix, without the password.
func TestPrometheusPushFailureSaysWhatToFix(t *testing.T) {
	for _, tc := range []struct {
		status   int
		wantHint string
	}{
		{http.StatusUnauthorized, "check push_basic_auth"},
		{http.StatusBadRequest, "give this one its own push_job_name"},
		{http.StatusBadGateway, "check that the gateway runs"},
	} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			g := newRecordingGateway(t, tc.status)
			u := strings.Replace(g.URL, "http://", "http://admin:url-secret@", 1)
			p := newTestExporter(t, fmt.Sprintf("push_url: %q\npush_basic_auth: { username: pusher, password: hunter2-secret }\n", u), nil)
			err := p.Close(t.Context())
			require.Error(t, err)
			assert.Contains(t, err.Error(), fmt.Sprintf("status code %d", tc.status))
			assert.Contains(t, err.Error(), "job benthos_push")
			assert.Contains(t, err.Error(), tc.wantHint)
			assert.NotContains(t, err.Error(), "hunter2-secret")
			assert.NotContains(t, err.Error(), "url-secret")
		})
	}
}

func TestPrometheusPushConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		yaml, wantErr string
	}{
		{"push_url: 'pushgateway:9091'", "field push_url: want the gateway's http:// or https:// URL"},
		{"push_url: 'ftp://gw:9091'", "field push_url"},
		{"push_url: 'http://gw:9091/metrics/job/x'", "field push_url: leave out the /metrics/job/... path"},
		{"push_url: 'http://gw:9091'\npush_interval: often", `field push_interval: want a positive duration such as 30s, got "often"`},
		{"push_url: 'http://gw:9091'\npush_interval: -5s", "field push_interval"},
		{"push_url: 'http://gw:9091'\npush_job_name: ''", "field push_job_name: must not be empty"},
		{"push_url: 'http://gw:9091'\npush_basic_auth: { username: pusher }", "field push_basic_auth: set both username and password, or neither"},
		{"push_url: 'http://gw:9091'\npush_basic_auth: { password: hunter2-secret }", "field push_basic_auth"},
	} {
		t.Run(tc.yaml, func(t *testing.T) {
			conf, err := prometheusMetricsSpec().ParseYAML(tc.yaml, nil)
			require.NoError(t, err)
			_, err = newPrometheusFromParsed(conf, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
			assert.NotContains(t, err.Error(), "hunter2-secret")
		})
	}
}

// pushgatewayTestEnv returns the real Pushgateway that
// .ci/services/pushgateway.sh started and its basic auth. Without it the
// test is skipped, except in CI, where it fails.
func pushgatewayTestEnv(t *testing.T) (gatewayURL, user, password string) {
	t.Helper()
	gatewayURL = os.Getenv("DUOSTREAM_TEST_PUSHGATEWAY_URL")
	if gatewayURL == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("DUOSTREAM_TEST_PUSHGATEWAY_URL is not set; CI must run: eval \"$(bash .ci/services/pushgateway.sh)\"")
		}
		t.Skip("DUOSTREAM_TEST_PUSHGATEWAY_URL is not set; run: eval \"$(DUOSTREAM_CI_TMP=$(mktemp -d) bash .ci/services/pushgateway.sh)\"")
	}
	return gatewayURL, os.Getenv("DUOSTREAM_TEST_PUSHGATEWAY_USER"), os.Getenv("DUOSTREAM_TEST_PUSHGATEWAY_PASSWORD")
}

// gatewaySeries scrapes the gateway and returns the value of the series
// name of job, or -1 when the gateway has none.
func gatewaySeries(t *testing.T, gatewayURL, user, password, name, job string) float64 {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, gatewayURL+"/metrics", nil)
	require.NoError(t, err)
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	fam, ok := parseExposition(t, string(body))[name]
	if !ok {
		return -1
	}
	for _, m := range fam.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "job" && l.GetValue() == job {
				return m.GetCounter().GetValue()
			}
		}
	}
	return -1
}

// TestPrometheusPushGateway runs a real stream whose metrics section pushes
// to the real Pushgateway (Debian's prometheus-pushgateway, with basic
// auth): the gateway serves the stream's counter under the job while the
// stream runs, and the final count once it stopped. A wrong password is
// refused by the gateway and reported.
func TestPrometheusPushGateway(t *testing.T) {
	gatewayURL, user, password := pushgatewayTestEnv(t)
	job := fmt.Sprintf("duostream_test_%d", time.Now().UnixNano())

	b := service.NewStreamBuilder()
	require.NoError(t, b.SetYAML(fmt.Sprintf(`
http:
  enabled: false
logger:
  level: none
metrics:
  prometheus:
    push_url: %q
    push_interval: 200ms
    push_job_name: %s
    push_basic_auth:
      username: %s
      password: %s
pipeline:
  processors:
    - metric:
        type: counter
        name: duo_pushed_events_total
output:
  drop: {}
`, gatewayURL, job, user, password)))
	send, err := b.AddProducerFunc()
	require.NoError(t, err)
	s, err := b.Build()
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()

	for i := range 5 {
		require.NoError(t, send(t.Context(), service.NewMessage(fmt.Appendf(nil, `{"n":%d}`, i))))
	}
	require.Eventually(t, func() bool {
		return gatewaySeries(t, gatewayURL, user, password, "duo_pushed_events_total", job) == 5
	}, 10*time.Second, 50*time.Millisecond, "the gateway serves the running stream's count")

	for i := range 3 {
		require.NoError(t, send(t.Context(), service.NewMessage(fmt.Appendf(nil, `{"n":%d}`, i))))
	}
	require.NoError(t, s.StopWithin(10*time.Second))
	require.NoError(t, <-done)
	assert.Equal(t, 8.0, gatewaySeries(t, gatewayURL, user, password, "duo_pushed_events_total", job), "the last push, at shutdown, has the final count")

	conf, err := prometheusMetricsSpec().ParseYAML(fmt.Sprintf("push_url: %q\npush_job_name: %s_wrong\npush_basic_auth: { username: %s, password: not-the-password }\n", gatewayURL, job, user), nil)
	require.NoError(t, err)
	p, err := newPrometheusFromParsed(conf, nil)
	require.NoError(t, err)
	err = p.Close(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "status code 401")
	assert.Contains(t, err.Error(), "check push_basic_auth")
	assert.NotContains(t, err.Error(), "not-the-password")
	assert.Equal(t, -1.0, gatewaySeries(t, gatewayURL, user, password, "duo_pushed_events_total", job+"_wrong"), "nothing stored for a refused push")
}

// TestPrometheusPushURLCredentials checks that credentials in push_url are
// sent as basic auth, decoded, and never in the URL pushed to.
func TestPrometheusPushURLCredentials(t *testing.T) {
	g := newRecordingGateway(t, http.StatusOK)
	u := strings.Replace(g.URL, "http://", "http://pusher:p%40ss@", 1)
	p := newTestExporter(t, fmt.Sprintf("push_url: %q\n", u), nil)
	require.NoError(t, p.Close(t.Context()))
	reqs := g.received()
	require.Len(t, reqs, 1)
	assert.True(t, reqs[0].auth)
	assert.Equal(t, "pusher", reqs[0].user)
	assert.Equal(t, "p@ss", reqs[0].password)
	assert.NotContains(t, p.pusher.target, "p%40ss")
	assert.NotContains(t, p.pusher.target, "pusher")
}
