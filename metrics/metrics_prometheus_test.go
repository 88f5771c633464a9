// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package metrics

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
)

func newTestExporter(t *testing.T, yaml string, log *service.Logger) *prometheusExporter {
	t.Helper()
	conf, err := prometheusMetricsSpec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	p, err := newPrometheusFromParsed(conf, log)
	require.NoError(t, err)
	return p
}

// scrapeHandler serves one request to h and parses the Prometheus text it
// returns. The parser only accepts classic (legacy) metric and label names.
func scrapeHandler(t *testing.T, h http.HandlerFunc) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	return parseExposition(t, rec.Body.String())
}

func parseExposition(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(text))
	require.NoError(t, err, "scrape is not valid Prometheus text:\n%s", text)
	return fams
}

// series returns the metric of family name whose labels include want.
func series(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) *dto.Metric {
	t.Helper()
	fam, ok := fams[name]
	require.True(t, ok, "no metric family %q; have %v", name, familyNames(fams))
next:
	for _, m := range fam.GetMetric() {
		got := map[string]string{}
		for _, lp := range m.GetLabel() {
			got[lp.GetName()] = lp.GetValue()
		}
		for k, v := range want {
			if got[k] != v {
				continue next
			}
		}
		return m
	}
	t.Fatalf("no series of %q with labels %v in %v", name, want, fam.GetMetric())
	return nil
}

func familyNames(fams map[string]*dto.MetricFamily) []string {
	var names []string
	for n := range fams {
		names = append(names, n)
	}
	return names
}

func TestPrometheusExporterMetricKinds(t *testing.T) {
	p := newTestExporter(t, "", nil)

	p.NewCounterCtor("input_received", "label", "path")("duo", "root.input").Incr(3)
	c := p.NewCounterCtor("input_received", "label", "path")("duo", "root.input")
	c.Incr(2)
	c.Incr(-7) // dropped: Prometheus counters never go down
	c.(interface{ IncrFloat64(float64) }).IncrFloat64(0.5)
	p.NewCounterCtor("input_received", "label", "path")("other", "root.input").Incr(1)

	g := p.NewGaugeCtor("duo_cursor_lag_seconds", "log_type")("telephony")
	g.Set(42)
	p.NewGaugeCtor("duo_cursor_lag_seconds", "log_type")("authentication").(interface{ SetFloat64(float64) }).SetFloat64(1.5)

	tm := p.NewTimerCtor("duo_request_latency_ns", "endpoint")("/admin/v2/logs/authentication")
	tm.Timing(int64(2 * time.Millisecond))
	tm.Timing(int64(4 * time.Millisecond))

	fams := scrapeHandler(t, p.HandlerFunc())
	assert.Equal(t, dto.MetricType_COUNTER, fams["input_received"].GetType())
	assert.InDelta(t, 5.5, series(t, fams, "input_received", map[string]string{"label": "duo", "path": "root.input"}).GetCounter().GetValue(), 1e-9)
	assert.InDelta(t, 1.0, series(t, fams, "input_received", map[string]string{"label": "other"}).GetCounter().GetValue(), 1e-9)

	assert.Equal(t, dto.MetricType_GAUGE, fams["duo_cursor_lag_seconds"].GetType())
	assert.InDelta(t, 42.0, series(t, fams, "duo_cursor_lag_seconds", map[string]string{"log_type": "telephony"}).GetGauge().GetValue(), 1e-9)
	assert.InDelta(t, 1.5, series(t, fams, "duo_cursor_lag_seconds", map[string]string{"log_type": "authentication"}).GetGauge().GetValue(), 1e-9)

	// Summaries keep Benthos' nanoseconds.
	assert.Equal(t, dto.MetricType_SUMMARY, fams["duo_request_latency_ns"].GetType())
	sum := series(t, fams, "duo_request_latency_ns", map[string]string{"endpoint": "/admin/v2/logs/authentication"}).GetSummary()
	assert.Equal(t, uint64(2), sum.GetSampleCount())
	assert.InDelta(t, 6e6, sum.GetSampleSum(), 1e-3)
	var quantiles []float64
	for _, q := range sum.GetQuantile() {
		quantiles = append(quantiles, q.GetQuantile())
	}
	assert.Equal(t, []float64{0.5, 0.9, 0.99}, quantiles)
}

func TestPrometheusExporterHistograms(t *testing.T) {
	p := newTestExporter(t, "use_histogram_timing: true\nhistogram_buckets: [0.0025, 0.01]", nil)
	tm := p.NewTimerCtor("output_latency_ns", "label")("s3")
	for _, ms := range []int{1, 2, 3, 4, 5} {
		tm.Timing(int64(ms) * int64(time.Millisecond))
	}
	fams := scrapeHandler(t, p.HandlerFunc())
	require.Equal(t, dto.MetricType_HISTOGRAM, fams["output_latency_ns"].GetType())
	h := series(t, fams, "output_latency_ns", map[string]string{"label": "s3"}).GetHistogram()
	assert.Equal(t, uint64(5), h.GetSampleCount())
	assert.InDelta(t, 0.015, h.GetSampleSum(), 1e-12, "histograms are in seconds")
	buckets := map[float64]uint64{}
	for _, b := range h.GetBucket() {
		buckets[b.GetUpperBound()] = b.GetCumulativeCount()
	}
	assert.Equal(t, map[float64]uint64{0.0025: 2, 0.01: 5, math.Inf(1): 5}, buckets)
}

func TestPrometheusExporterDefaultBuckets(t *testing.T) {
	p := newTestExporter(t, "use_histogram_timing: true", nil)
	p.NewTimerCtor("t")().Timing(1)
	fams := scrapeHandler(t, p.HandlerFunc())
	assert.Len(t, series(t, fams, "t", nil).GetHistogram().GetBucket(), len(prometheus.DefBuckets)+1, "the defaults and +Inf")
}

func TestPrometheusExporterSanitizesNames(t *testing.T) {
	p := newTestExporter(t, "", nil)
	p.NewCounterCtor("duo.events-total", "log type", "__reserved")("auth", "x").Incr(1)
	p.NewGaugeCtor("9lives")().Set(9)
	fams := scrapeHandler(t, p.HandlerFunc())
	m := series(t, fams, "duo_events_total", map[string]string{"log_type": "auth", "l__reserved": "x"})
	assert.InDelta(t, 1.0, m.GetCounter().GetValue(), 1e-9)
	assert.InDelta(t, 9.0, series(t, fams, "_9lives", nil).GetGauge().GetValue(), 1e-9)
}

func TestPrometheusExporterClashes(t *testing.T) {
	var logs bytes.Buffer
	log := service.NewLoggerFromSlog(slog.New(slog.NewTextHandler(&logs, nil)))
	p := newTestExporter(t, "add_go_metrics: true", log)

	p.NewCounterCtor("duo_events", "a")("1").Incr(1)
	// Same name, other kind or labels, or a name that sanitizes to it: the
	// first family wins, the others are dropped with an error log.
	p.NewGaugeCtor("duo_events", "a")("1").Set(100)
	p.NewCounterCtor("duo_events", "b")("1").Incr(100)
	p.NewCounterCtor("duo.events", "b")("1").Incr(100)
	// Wrong label count.
	p.NewCounterCtor("duo_events", "a")("1", "2").Incr(100)
	// A runtime collector's name.
	p.NewGaugeCtor("go_goroutines")().Set(-1)
	// The same name, kind and labels again is the same family.
	p.NewCounterCtor("duo_events", "a")("1").Incr(1)

	fams := scrapeHandler(t, p.HandlerFunc())
	assert.InDelta(t, 2.0, series(t, fams, "duo_events", map[string]string{"a": "1"}).GetCounter().GetValue(), 1e-9)
	assert.Len(t, fams["duo_events"].GetMetric(), 1)
	assert.Positive(t, series(t, fams, "go_goroutines", nil).GetGauge().GetValue())
	assert.Equal(t, 5, strings.Count(logs.String(), "level=ERROR"), logs.String())
}

func TestPrometheusExporterRuntimeMetrics(t *testing.T) {
	for _, tc := range []struct {
		yaml        string
		wantGo      bool
		wantProcess bool
	}{
		{"", false, false},
		{"add_go_metrics: true", true, false},
		{"add_process_metrics: true", false, true},
		{"add_go_metrics: true\nadd_process_metrics: true", true, true},
	} {
		t.Run(tc.yaml, func(t *testing.T) {
			fams := scrapeHandler(t, newTestExporter(t, tc.yaml, nil).HandlerFunc())
			_, hasGo := fams["go_goroutines"]
			_, hasProcess := fams["process_resident_memory_bytes"]
			assert.Equal(t, tc.wantGo, hasGo)
			assert.Equal(t, tc.wantProcess, hasProcess)
		})
	}
}

func TestPrometheusExporterConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		yaml    string
		wantErr string
	}{
		{"histogram_buckets: [1, 0.5]", "field histogram_buckets: buckets must be increasing"},
		{"histogram_buckets: [1, 1]", "field histogram_buckets: buckets must be increasing"},
		{"summary_quantiles_objectives: [{quantile: 1.5, error: 0.1}]", "field summary_quantiles_objectives[0]: quantile and error must be between 0 and 1"},
		{"summary_quantiles_objectives: [{quantile: 0.5, error: 0}]", "field summary_quantiles_objectives[0]"},
		{"summary_quantiles_objectives: [{quantile: 0.5}]", "error"},
	} {
		t.Run(tc.yaml, func(t *testing.T) {
			conf, err := prometheusMetricsSpec().ParseYAML(tc.yaml, nil)
			if err == nil {
				_, err = newPrometheusFromParsed(conf, nil)
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestPrometheusExporterFileOutput(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.prom")
	p := newTestExporter(t, fmt.Sprintf("file_output_path: %q", path), nil)
	p.NewCounterCtor("output_sent", "label")("kafka").Incr(7)
	require.NoError(t, p.Close(t.Context()))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	fams := parseExposition(t, string(raw))
	assert.InDelta(t, 7.0, series(t, fams, "output_sent", map[string]string{"label": "kafka"}).GetCounter().GetValue(), 1e-9)
}

var legacyMetricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
var legacyLabelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

func TestSanitizeNames(t *testing.T) {
	for _, tc := range []struct{ in, metric, label string }{
		{"input_received", "input_received", "input_received"},
		{"a:b", "a:b", "a_b"},
		{"duo.cursor-lag", "duo_cursor_lag", "duo_cursor_lag"},
		{"9x", "_9x", "_9x"},
		{"", "_", "_"},
		{"__name__", "__name__", "l__name__"},
		{"héllo wörld", "h_llo_w_rld", "h_llo_w_rld"},
	} {
		assert.Equal(t, tc.metric, sanitizeMetricName(tc.in), "sanitizeMetricName(%q)", tc.in)
		assert.Equal(t, tc.label, sanitizeLabelName(tc.in), "sanitizeLabelName(%q)", tc.in)
	}
}

func FuzzSanitizeNames(f *testing.F) {
	for _, s := range []string{"input_received", "a.b-c", "9", "", "__x", "é", "a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := sanitizeMetricName(s)
		if !legacyMetricName.MatchString(m) {
			t.Fatalf("sanitizeMetricName(%q) = %q, not a valid metric name", s, m)
		}
		if again := sanitizeMetricName(m); again != m {
			t.Fatalf("sanitizeMetricName not idempotent: %q -> %q -> %q", s, m, again)
		}
		l := sanitizeLabelName(s)
		if !legacyLabelName.MatchString(l) || strings.HasPrefix(l, "__") {
			t.Fatalf("sanitizeLabelName(%q) = %q, not a valid label name", s, l)
		}
	})
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// runScrapedStream runs a stream from configYAML (with $ADDR replaced by a
// free loopback address for http.address), pushes n messages {"n": i}
// through it and returns what its HTTP server serves at /metrics.
func runScrapedStream(t *testing.T, configYAML string, n int) (string, http.Header) {
	t.Helper()
	addr := freeAddr(t)
	b := service.NewStreamBuilder()
	require.NoError(t, b.SetYAML(strings.ReplaceAll(configYAML, "$ADDR", addr)))
	push, err := b.AddProducerFunc()
	require.NoError(t, err)
	s, err := b.Build()
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() {
		require.NoError(t, s.StopWithin(10*time.Second))
		<-done
	}()

	for i := 1; i <= n; i++ {
		require.NoError(t, push(ctx, service.NewMessage(fmt.Appendf(nil, `{"n":%d}`, i))))
	}

	var body string
	var header http.Header
	require.Eventually(t, func() bool {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(resp.Body); err != nil || resp.StatusCode != http.StatusOK {
			return false
		}
		body, header = buf.String(), resp.Header
		return true
	}, 10*time.Second, 20*time.Millisecond, "the Benthos HTTP server on %s did not serve /metrics", addr)
	return body, header
}

const scrapedStreamConfig = `
http:
  enabled: true
  address: $ADDR
logger:
  level: none
pipeline:
  threads: 1
  processors:
    - label: count_events
      metric:
        type: counter
        name: duo.events-total
        labels:
          log_type: authentication
    - label: cursor
      metric:
        type: gauge
        name: duo_cursor_position
        labels:
          log_type: authentication
        value: '${! json("n") }'
    - label: latency
      metric:
        type: timing
        name: duo_fetch_latency_ns
        labels:
          endpoint: logs
        value: '${! json("n") * 1000000 }'
output:
  label: sink
  drop: {}
`

// TestPrometheusServesStreamMetrics runs a real stream whose config selects
// the exporter, and scrapes the Benthos HTTP server at http.address.
func TestPrometheusServesStreamMetrics(t *testing.T) {
	for _, tc := range []struct {
		name    string
		metrics string
		check   func(t *testing.T, fams map[string]*dto.MetricFamily)
	}{
		{
			name:    "summaries",
			metrics: "metrics:\n  prometheus: {}\n",
			check: func(t *testing.T, fams map[string]*dto.MetricFamily) {
				s := series(t, fams, "duo_fetch_latency_ns", map[string]string{"endpoint": "logs"}).GetSummary()
				assert.Equal(t, uint64(5), s.GetSampleCount())
				assert.InDelta(t, 15e6, s.GetSampleSum(), 1e-3)
			},
		},
		{
			name:    "histograms",
			metrics: "metrics:\n  prometheus:\n    use_histogram_timing: true\n    histogram_buckets: [0.0025, 0.01]\n",
			check: func(t *testing.T, fams map[string]*dto.MetricFamily) {
				h := series(t, fams, "duo_fetch_latency_ns", map[string]string{"endpoint": "logs"}).GetHistogram()
				assert.Equal(t, uint64(5), h.GetSampleCount())
				assert.InDelta(t, 0.015, h.GetSampleSum(), 1e-12)
				require.Len(t, h.GetBucket(), 3)
				assert.Equal(t, uint64(2), h.GetBucket()[0].GetCumulativeCount())
				assert.Equal(t, uint64(5), h.GetBucket()[1].GetCumulativeCount())
			},
		},
		{
			// No metrics section at all: prometheus is the default type.
			name: "default",
			check: func(t *testing.T, fams map[string]*dto.MetricFamily) {
				assert.Equal(t, dto.MetricType_SUMMARY, fams["duo_fetch_latency_ns"].GetType())
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, header := runScrapedStream(t, scrapedStreamConfig+tc.metrics, 5)
			assert.Contains(t, header.Get("Content-Type"), "text/plain")
			fams := parseExposition(t, body)

			assert.InDelta(t, 5.0, series(t, fams, "duo_events_total", map[string]string{"log_type": "authentication"}).GetCounter().GetValue(), 1e-9)
			assert.InDelta(t, 5.0, series(t, fams, "duo_cursor_position", map[string]string{"log_type": "authentication"}).GetGauge().GetValue(), 1e-9)
			// Benthos' own metrics, with the component label and path.
			assert.InDelta(t, 5.0, series(t, fams, "output_sent", map[string]string{"label": "sink", "path": "root.output"}).GetCounter().GetValue(), 1e-9)
			assert.InDelta(t, 5.0, series(t, fams, "output_batch_sent", map[string]string{"label": "sink"}).GetCounter().GetValue(), 1e-9)
			assert.InDelta(t, 1.0, series(t, fams, "output_connection_up", map[string]string{"label": "sink"}).GetCounter().GetValue(), 1e-9)
			tc.check(t, fams)
		})
	}
}
