// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redpanda-data/benthos/v4/public/service"
)

const (
	pmFieldUseHistogramTiming = "use_histogram_timing"
	pmFieldHistogramBuckets   = "histogram_buckets"
	pmFieldSummaryObjectives  = "summary_quantiles_objectives"
	pmFieldObjectiveQuantile  = "quantile"
	pmFieldObjectiveError     = "error"
	pmFieldAddProcessMetrics  = "add_process_metrics"
	pmFieldAddGoMetrics       = "add_go_metrics"
	pmFieldFileOutputPath     = "file_output_path"
	pmFieldPushURL            = "push_url"
	pmFieldPushInterval       = "push_interval"
	pmFieldPushJobName        = "push_job_name"
	pmFieldPushBasicAuth      = "push_basic_auth"
	pmFieldPushUsername       = "username"
	pmFieldPushPassword       = "password"
)

func prometheusMetricsSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Summary("Serves metrics for Prometheus to scrape at `/metrics` (and `/stats`) on the service's HTTP server.").
		Description(`
This is duostream's default metrics exporter: a config without a `+"`metrics`"+` section uses it, so every running duostream serves its metrics at `+"`http://<http.address>/metrics`"+` (by default `+"`127.0.0.1:4195`"+`, loopback only; set `+"`http.address`"+` to serve other interfaces). Set `+"`metrics: {none: {}}`"+` to turn metrics off, or `+"`http.enabled: false`"+` to close the HTTP server.

Each Benthos counter, gauge and timer becomes a Prometheus metric of the same name and labels (for example `+"`input_received{label=\"duo\",path=\"root.input\"}`"+`), so the fields and metric names match Redpanda Connect's `+"`prometheus`"+` exporter. Characters that Prometheus does not allow in a name (anything but letters, digits, `+"`_`"+` and `+"`:`"+`) become `+"`_`"+`, and a name starting with a digit gets a leading `+"`_`"+`. Rename or drop metrics with the `+"`metrics.mapping`"+` field.

Timers are summaries of nanoseconds by default; with `+"`use_histogram_timing`"+` they are histograms of seconds instead, which Prometheus can aggregate across instances.

### Push gateway

Where Prometheus cannot reach duostream to scrape it (a locked-down network segment, a replay run that ends by itself), set `+"`push_url`"+` to a [Prometheus Pushgateway](https://prometheus.io/docs/instrumenting/pushing/): every metric is then pushed to it once when duostream shuts down, and every `+"`push_interval`"+` while it runs. Each push replaces what the previous one stored under the job `+"`push_job_name`"+` (an HTTP PUT to `+"`<push_url>/metrics/job/<push_job_name>`"+`), so give every process its own job name, for example `+"`duostream_${HOSTNAME}`"+`, or replicas overwrite each other's metrics. `+"`/metrics`"+` keeps serving scrapes as well.

A push that fails is logged with the gateway's answer and retried at the next interval; it never stops the pipeline. `+"`push_basic_auth`"+` sends HTTP basic authentication; its password, and any password in `+"`push_url`"+`, are never logged. The fields match Redpanda Connect's, defaults included.`).
		Fields(
			service.NewBoolField(pmFieldUseHistogramTiming).
				Description("Export timers as histograms of seconds rather than summaries of nanoseconds.").
				Default(false).
				Advanced(),
			service.NewFloatListField(pmFieldHistogramBuckets).
				Description("The upper bounds, in seconds and increasing, of the timer histogram buckets when `use_histogram_timing` is on. Empty means client_golang's default buckets (5ms to 10s).").
				Default([]any{}).
				Example([]any{0.01, 0.1, 1.0, 10.0, 60.0}).
				Advanced(),
			service.NewObjectListField(pmFieldSummaryObjectives,
				service.NewFloatField(pmFieldObjectiveQuantile).
					Description("The quantile, between 0 and 1.").
					Example(0.999),
				service.NewFloatField(pmFieldObjectiveError).
					Description("The allowed absolute error of the quantile.").
					Example(0.0001),
			).
				Description("The quantiles that timer summaries report when `use_histogram_timing` is off.").
				Default([]any{
					map[string]any{pmFieldObjectiveQuantile: 0.5, pmFieldObjectiveError: 0.05},
					map[string]any{pmFieldObjectiveQuantile: 0.9, pmFieldObjectiveError: 0.01},
					map[string]any{pmFieldObjectiveQuantile: 0.99, pmFieldObjectiveError: 0.001},
				}).
				Advanced(),
			service.NewBoolField(pmFieldAddProcessMetrics).
				Description("Also export the process's CPU, memory and file descriptor metrics (`process_*`).").
				Default(false).
				Advanced(),
			service.NewBoolField(pmFieldAddGoMetrics).
				Description("Also export Go runtime metrics such as goroutines and garbage collection (`go_*`).").
				Default(false).
				Advanced(),
			service.NewStringField(pmFieldFileOutputPath).
				Description("A file to write every metric to, in the Prometheus text format, when the service shuts down. Empty means none.").
				Default("").
				Advanced(),
			service.NewURLField(pmFieldPushURL).
				Description("The URL of a Prometheus Pushgateway to push every metric to (see Push gateway above), without the `/metrics/job/...` path. Empty means no pushing.").
				Default("").
				Example("http://pushgateway.monitoring:9091").
				Advanced(),
			service.NewStringField(pmFieldPushInterval).
				Description("How often to push while running, as a duration such as `30s`. Empty means only once, at shutdown.").
				Default("").
				Example("30s").
				Advanced(),
			service.NewStringField(pmFieldPushJobName).
				Description("The job the metrics are pushed under; one per process, since each push replaces the job's metrics.").
				Default("benthos_push").
				Example("duostream_${HOSTNAME}").
				Advanced(),
			service.NewObjectField(pmFieldPushBasicAuth,
				service.NewStringField(pmFieldPushUsername).
					Description("The user name.").
					Default(""),
				service.NewStringField(pmFieldPushPassword).
					Description("The password.").
					Default("").
					Secret(),
			).
				Description("HTTP basic authentication for the Pushgateway, used when both fields are set.").
				Advanced(),
		).
		Example(
			"Scrape duostream",
			"Serve metrics on port 4195 of every interface (duostream serves loopback only unless `http.address` says otherwise) with histogram timers and runtime metrics, then point a Prometheus scrape job at `http://<host>:4195/metrics`.",
			`
http:
  address: 0.0.0.0:4195

metrics:
  prometheus:
    use_histogram_timing: true
    histogram_buckets: [0.05, 0.25, 1, 5, 30]
    add_process_metrics: true
    add_go_metrics: true
`)
}

func init() {
	service.MustRegisterMetricsExporter("prometheus", prometheusMetricsSpec(), func(conf *service.ParsedConfig, log *service.Logger) (service.MetricsExporter, error) {
		return newPrometheusFromParsed(conf, log)
	})
}

// promMetric is one registered metric family: its kind, label names and the
// vector that owns its series.
type promMetric struct {
	kind   string
	labels []string
	vec    any // *prometheus.CounterVec, *prometheus.GaugeVec or prometheus.ObserverVec
}

// prometheusExporter is a service.MetricsExporter with its own registry, so
// several streams in one process never collide. It is safe for concurrent
// use.
type prometheusExporter struct {
	reg        *prometheus.Registry
	handler    http.Handler
	log        *service.Logger
	histograms bool
	buckets    []float64
	objectives map[float64]float64
	filePath   string
	pusher     *pusher // nil without push_url

	mu      sync.Mutex
	metrics map[string]*promMetric
}

func newPrometheusFromParsed(conf *service.ParsedConfig, log *service.Logger) (*prometheusExporter, error) {
	p := &prometheusExporter{
		reg:        prometheus.NewRegistry(),
		log:        log,
		objectives: map[float64]float64{},
		metrics:    map[string]*promMetric{},
	}
	var err error
	if p.histograms, err = conf.FieldBool(pmFieldUseHistogramTiming); err != nil {
		return nil, err
	}
	if p.buckets, err = conf.FieldFloatList(pmFieldHistogramBuckets); err != nil {
		return nil, err
	}
	for i := 1; i < len(p.buckets); i++ {
		if p.buckets[i] <= p.buckets[i-1] {
			return nil, fmt.Errorf("field %s: buckets must be increasing, got %v after %v", pmFieldHistogramBuckets, p.buckets[i], p.buckets[i-1])
		}
	}
	if len(p.buckets) == 0 {
		p.buckets = prometheus.DefBuckets
	}
	objs, err := conf.FieldObjectList(pmFieldSummaryObjectives)
	if err != nil {
		return nil, err
	}
	for i, o := range objs {
		q, err := o.FieldFloat(pmFieldObjectiveQuantile)
		if err != nil {
			return nil, err
		}
		e, err := o.FieldFloat(pmFieldObjectiveError)
		if err != nil {
			return nil, err
		}
		if q <= 0 || q >= 1 || e <= 0 || e >= 1 {
			return nil, fmt.Errorf("field %s[%d]: quantile and error must be between 0 and 1 exclusive, got %v and %v", pmFieldSummaryObjectives, i, q, e)
		}
		p.objectives[q] = e
	}
	if p.filePath, err = conf.FieldString(pmFieldFileOutputPath); err != nil {
		return nil, err
	}
	addProcess, err := conf.FieldBool(pmFieldAddProcessMetrics)
	if err != nil {
		return nil, err
	}
	if addProcess {
		p.reg.MustRegister(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	addGo, err := conf.FieldBool(pmFieldAddGoMetrics)
	if err != nil {
		return nil, err
	}
	if addGo {
		p.reg.MustRegister(collectors.NewGoCollector())
	}
	p.handler = promhttp.HandlerFor(p.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	if p.pusher, err = newPusherFromParsed(conf, p.reg, log); err != nil {
		return nil, err
	}
	return p, nil
}

// HandlerFunc serves the registry in the Prometheus exposition format. The
// Benthos HTTP server mounts it at /metrics and /stats.
func (p *prometheusExporter) HandlerFunc() http.HandlerFunc {
	return p.handler.ServeHTTP
}

// sanitizeMetricName maps s onto a valid Prometheus metric name.
func sanitizeMetricName(s string) string {
	return sanitizeName(s, true)
}

// sanitizeLabelName maps s onto a valid Prometheus label name. Names that
// start with "__" are reserved by Prometheus and get a leading "l".
func sanitizeLabelName(s string) string {
	n := sanitizeName(s, false)
	if strings.HasPrefix(n, "__") {
		n = "l" + n
	}
	return n
}

func sanitizeName(s string, colons bool) string {
	if s == "" {
		return "_"
	}
	var b strings.Builder
	b.Grow(len(s) + 1)
	for i, r := range s {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r == ':' && colons) || (i > 0 && r >= '0' && r <= '9')
		switch {
		case ok:
			b.WriteRune(r)
		case i == 0 && r >= '0' && r <= '9':
			b.WriteByte('_')
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// vector returns the metric family called name, creating and registering
// it with mk on first use. It returns nil, after logging why, when name is
// already taken by a family of another kind or other labels.
func (p *prometheusExporter) vector(kind, name string, labelKeys []string, mk func(opts prometheus.Opts, labels []string) prometheus.Collector) *promMetric {
	pname := sanitizeMetricName(name)
	labels := make([]string, len(labelKeys))
	for i, k := range labelKeys {
		labels[i] = sanitizeLabelName(k)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if m, ok := p.metrics[pname]; ok {
		if m.kind == kind && slices.Equal(m.labels, labels) {
			return m
		}
		p.log.Errorf("Metric %s (%s with labels %v) clashes with the %s with labels %v of the same Prometheus name %s; it is not exported", name, kind, labels, m.kind, m.labels, pname)
		return nil
	}
	c := mk(prometheus.Opts{Name: pname, Help: "Benthos " + kind + " " + name + "."}, labels)
	if err := p.reg.Register(c); err != nil {
		// Only the runtime collectors share the registry, e.g. a go_* name.
		p.log.Errorf("Metric %s is not exported: %v", name, err)
		return nil
	}
	m := &promMetric{kind: kind, labels: labels, vec: c}
	p.metrics[pname] = m
	return m
}

// NewCounterCtor returns a constructor of counter series.
func (p *prometheusExporter) NewCounterCtor(name string, labelKeys ...string) service.MetricsExporterCounterCtor {
	m := p.vector("counter", name, labelKeys, func(o prometheus.Opts, l []string) prometheus.Collector {
		return prometheus.NewCounterVec(prometheus.CounterOpts(o), l)
	})
	return func(labelValues ...string) service.MetricsExporterCounter {
		if m == nil {
			return noopMetric{}
		}
		c, err := m.vec.(*prometheus.CounterVec).GetMetricWithLabelValues(labelValues...)
		if err != nil {
			p.log.Errorf("Counter %s: %v", name, err)
			return noopMetric{}
		}
		return promCounter{c}
	}
}

// NewGaugeCtor returns a constructor of gauge series.
func (p *prometheusExporter) NewGaugeCtor(name string, labelKeys ...string) service.MetricsExporterGaugeCtor {
	m := p.vector("gauge", name, labelKeys, func(o prometheus.Opts, l []string) prometheus.Collector {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts(o), l)
	})
	return func(labelValues ...string) service.MetricsExporterGauge {
		if m == nil {
			return noopMetric{}
		}
		g, err := m.vec.(*prometheus.GaugeVec).GetMetricWithLabelValues(labelValues...)
		if err != nil {
			p.log.Errorf("Gauge %s: %v", name, err)
			return noopMetric{}
		}
		return promGauge{g}
	}
}

// NewTimerCtor returns a constructor of timer series: summaries of
// nanoseconds, or histograms of seconds with use_histogram_timing.
func (p *prometheusExporter) NewTimerCtor(name string, labelKeys ...string) service.MetricsExporterTimerCtor {
	kind := "timer summary"
	if p.histograms {
		kind = "timer histogram"
	}
	m := p.vector(kind, name, labelKeys, func(o prometheus.Opts, l []string) prometheus.Collector {
		if p.histograms {
			return prometheus.NewHistogramVec(prometheus.HistogramOpts{
				Name: o.Name, Help: o.Help + " In seconds.", Buckets: p.buckets,
			}, l)
		}
		return prometheus.NewSummaryVec(prometheus.SummaryOpts{
			Name: o.Name, Help: o.Help + " In nanoseconds.", Objectives: p.objectives,
		}, l)
	})
	return func(labelValues ...string) service.MetricsExporterTimer {
		if m == nil {
			return noopMetric{}
		}
		o, err := m.vec.(interface {
			GetMetricWithLabelValues(...string) (prometheus.Observer, error)
		}).GetMetricWithLabelValues(labelValues...)
		if err != nil {
			p.log.Errorf("Timer %s: %v", name, err)
			return noopMetric{}
		}
		if p.histograms {
			return promTimer{o: o, scale: 1e-9}
		}
		return promTimer{o: o, scale: 1}
	}
}

// Close pushes the metrics a last time when push_url is set and writes them
// to file_output_path, if set.
func (p *prometheusExporter) Close(ctx context.Context) error {
	var errs []error
	if p.pusher != nil {
		errs = append(errs, p.pusher.close(ctx))
	}
	if p.filePath != "" {
		if err := prometheus.WriteToTextfile(p.filePath, p.reg); err != nil {
			errs = append(errs, fmt.Errorf("write metrics to %s: %w", p.filePath, err))
		}
	}
	return errors.Join(errs...)
}

type promCounter struct{ c prometheus.Counter }

// Incr adds n; Prometheus counters only go up, so a negative n is dropped.
func (c promCounter) Incr(n int64) {
	if n > 0 {
		c.c.Add(float64(n))
	}
}

func (c promCounter) IncrFloat64(n float64) {
	if n > 0 {
		c.c.Add(n)
	}
}

type promGauge struct{ g prometheus.Gauge }

func (g promGauge) Set(v int64)          { g.g.Set(float64(v)) }
func (g promGauge) SetFloat64(v float64) { g.g.Set(v) }

type promTimer struct {
	o     prometheus.Observer
	scale float64
}

func (t promTimer) Timing(ns int64) { t.o.Observe(float64(ns) * t.scale) }

// noopMetric stands in for a metric that could not be exported.
type noopMetric struct{}

func (noopMetric) Incr(int64)   {}
func (noopMetric) Set(int64)    {}
func (noopMetric) Timing(int64) {}
