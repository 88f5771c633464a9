// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// deployPipeline is the shipped pipeline the drift check runs: it needs no
// destination, and like every shipped pipeline it has no metrics section,
// so it serves the default Prometheus exporter's /metrics.
var deployPipeline = filepath.Join("..", "config", "duo-to-stdout.yaml")

// mspOnlyMetrics are the metrics only an input with accounts.discover
// serves. duo_account_unreachable appears once a child refuses the
// parent's credentials, which the MSP run's cross-deployment child does.
var mspOnlyMetrics = []string{"duo_child_accounts", "duo_account_unreachable"}

// scrapeLabels are the labels Prometheus adds to every scraped series,
// which /metrics does not have.
var scrapeLabels = []string{"job", "instance"}

// promSeries is one series of a /metrics scrape.
type promSeries struct {
	labels map[string]string
	value  float64
}

// promScrape is a /metrics scrape: its series by name, a summary's or
// histogram's _sum, _count and _bucket series apart.
type promScrape map[string][]promSeries

// prometheusMetrics scrapes the Prometheus /metrics of the process. The
// raw text is searched for the secret.
func (p *proc) prometheusMetrics() (promScrape, error) {
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	checkNoSecret(p.t, p.name+" /metrics", body)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		return nil, fmt.Errorf("parse /metrics: %w", err)
	}
	s := promScrape{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			add := func(name string, v float64) {
				s[name] = append(s[name], promSeries{labels: labels, value: v})
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				add(name, m.GetCounter().GetValue())
			case dto.MetricType_GAUGE:
				add(name, m.GetGauge().GetValue())
			case dto.MetricType_SUMMARY: // the quantiles' values are not read
				add(name, 0)
				add(name+"_sum", m.GetSummary().GetSampleSum())
				add(name+"_count", float64(m.GetSummary().GetSampleCount()))
			case dto.MetricType_HISTOGRAM: // the buckets' values are not read
				add(name+"_bucket", 0)
				add(name+"_sum", m.GetHistogram().GetSampleSum())
				add(name+"_count", float64(m.GetHistogram().GetSampleCount()))
			default:
				add(name, m.GetUntyped().GetValue())
			}
		}
	}
	return s, nil
}

// matching returns the series of sel's metric that its label matchers
// select, leaving out the matchers on labels Prometheus adds and those
// holding a Grafana variable. It fails on a regular expression matcher
// without a variable: none of the deploy/ files has one.
func (s promScrape) matching(t *testing.T, sel promSelector) []promSeries {
	t.Helper()
	var out []promSeries
	for _, series := range s[sel.name] {
		ok := true
		for _, m := range sel.matchers {
			if slices.Contains(scrapeLabels, m.label) || strings.Contains(m.value, "$") || m.label == "__name__" {
				continue
			}
			switch m.op {
			case "=":
				ok = ok && series.labels[m.label] == m.value
			case "!=":
				ok = ok && series.labels[m.label] != m.value
			default:
				t.Fatalf("the drift check cannot match %s{%s}", sel.name, m)
			}
		}
		if ok {
			out = append(out, series)
		}
	}
	return out
}

// deployUses returns the selectors of the alerting rules and the
// dashboard, by metric name.
func deployUses(t *testing.T) map[string][]deployMetricUse {
	t.Helper()
	_, uses := ruleSelectors(t)
	uses = append(uses, dashboardSelectors(t)...)
	byName := map[string][]deployMetricUse{}
	for _, u := range uses {
		byName[u.sel.name] = append(byName[u.sel.name], u)
	}
	return byName
}

// startShippedPipeline runs deployPipeline, unchanged, against sim with the
// environment its header documents (the secret key the suite's), plus
// extra.
func startShippedPipeline(t *testing.T, dir, name string, sim *duosim.Server, extra map[string]string) *proc {
	t.Helper()
	addr := freeAddr(t)
	env := map[string]string{
		"DUO_API_HOSTNAME":        sim.APIHost(),
		"DUO_INTEGRATION_KEY":     sim.IntegrationKey(),
		"DUO_SECRET_KEY":          testSecret,
		"DUO_BASE_URL":            sim.URL,
		"DUO_INITIAL_LOOKBACK":    "3h",
		"DUO_POLL_INTERVAL":       "1s",
		"DUO_REQUESTS_PER_MINUTE": "600",
		"DUOSTREAM_STATE_DIR":     dir,
		"DUOSTREAM_HTTP_ADDRESS":  addr,
		"DUOSTREAM_LOG_LEVEL":     "info",
	}
	for k, v := range extra {
		env[k] = v
	}
	cmd := exec.Command(binary, "run", deployPipeline)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return launch(t, dir, name, addr, cmd)
}

// TestDeployMetricsExported is the drift check of deploy/: it runs the
// shipped config/duo-to-stdout.yaml with the real binary against the
// simulator, once for a single account and once for an MSP parent with two
// child accounts and a cross-deployment one (accounts.discover), and
// scrapes its Prometheus /metrics.
//
//   - Right after start, before anything failed, every counter a rule reads
//     with rate() or increase() has the series the rule selects, for every
//     log type when it has a log_type label, at 0 in the single-account
//     run (whose simulator injects no fault): otherwise the first
//     occurrence would go unseen, as a counter's first sample is its base.
//   - Every metric the rules and the dashboard name is served (the
//     per-child ones by the MSP run only), except Prometheus' own up.
//   - Every label a selector matches on is one its metric has.
//   - In the MSP run, the cross-deployment child's duo_account_unreachable
//     is 1, so DuoAccountUnreachable would fire for it.
func TestDeployMetricsExported(t *testing.T) {
	for _, path := range shippedConfigs(t) {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		var conf map[string]any
		require.NoError(t, yaml.Unmarshal(raw, &conf), "%s", path)
		_, has := conf["metrics"]
		assert.False(t, has, "%s has a metrics section: the drift check runs %s with the default Prometheus exporter, which may no longer be what %s serves", path, deployPipeline, path)
	}
	uses := deployUses(t)
	var names []string
	for name := range uses {
		if name != "up" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	t.Logf("deploy/ reads %d metrics: %s", len(names), strings.Join(names, ", "))

	var mu sync.Mutex
	labelsSeen := map[string]map[string]bool{} // metric -> label names, of both runs

	check := func(t *testing.T, p *proc, required []string, faultFree bool) promScrape {
		// Started: /ready answers 200 once the input and the outputs are
		// connected.
		waitFor(t, p, 30*time.Second, 50*time.Millisecond, "/ready answering 200", func() bool {
			resp, err := http.Get("http://" + p.addr + "/ready")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == http.StatusOK
		})
		first, err := p.prometheusMetrics()
		require.NoError(t, err)
		for _, name := range names {
			for _, u := range uses[name] {
				if !u.rule || (u.sel.fn != "rate" && u.sel.fn != "increase" && u.sel.fn != "irate") {
					continue
				}
				series := first.matching(t, u.sel)
				if !assert.NotEmpty(t, series, "%s reads %s with %s(), which has no series %v right after start: its first occurrence would not be seen", u.where, name, u.sel.fn, u.sel.matchers) {
					continue
				}
				if _, typed := series[0].labels["log_type"]; typed {
					for _, lt := range duoapi.AllLogTypes {
						assert.True(t, slices.ContainsFunc(series, func(s promSeries) bool { return s.labels["log_type"] == string(lt) }),
							"%s reads %s with %s(), which has no %s series right after start", u.where, name, u.sel.fn, lt)
					}
				}
				if faultFree {
					for _, s := range series {
						assert.Zero(t, s.value, "%s%v right after start, with no fault injected", name, s.labels)
					}
				}
			}
		}

		var last promScrape
		missing := func() []string {
			var out []string
			for _, name := range required {
				if len(last[name]) == 0 {
					out = append(out, name)
				}
			}
			return out
		}
		// Some gauges are set only once the input has read a page, or at
		// its first check (duo_unacked_seconds, within 30 s).
		deadline := time.Now().Add(90 * time.Second)
		for {
			s, err := p.prometheusMetrics()
			require.NoError(t, err)
			last = s
			if len(missing()) == 0 || time.Now().After(deadline) || p.exited() {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		for _, name := range missing() {
			var where []string
			for _, u := range uses[name] {
				where = append(where, u.where)
			}
			t.Errorf("%s serves no %s, which deploy/ reads (%s)", p.name, name, strings.Join(slices.Compact(where), ", "))
		}
		mu.Lock()
		defer mu.Unlock()
		for name, series := range last {
			if labelsSeen[name] == nil {
				labelsSeen[name] = map[string]bool{}
			}
			for _, s := range series {
				for l := range s.labels {
					labelsSeen[name][l] = true
				}
			}
		}
		return last
	}

	now := time.Now()
	from, to := now.Add(-2*time.Hour), now.Add(-5*time.Minute)
	t.Run("runs", func(t *testing.T) {
		t.Run("single account", func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, duosim.Config{Seed: suiteSeed})
			for _, lt := range duoapi.AllLogTypes {
				require.NoError(t, sim.Generate(lt, 50, from, to))
			}
			var required []string
			for _, name := range names {
				if !slices.Contains(mspOnlyMetrics, name) {
					required = append(required, name)
				}
			}
			p := startShippedPipeline(t, t.TempDir(), "deploy-single", sim, nil)
			check(t, p, required, true)
			require.NoError(t, p.stop(30*time.Second), "stop:\n%s", tail(p.logs(), 4000))
		})
		t.Run("MSP parent", func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, duosim.Config{Seed: suiteSeed + 1, AccountsAPI: true})
			kids, err := sim.GenerateChildren(2)
			require.NoError(t, err)
			for _, c := range kids {
				for _, lt := range duoapi.AllLogTypes {
					require.NoError(t, c.Generate(lt, 20, from, to))
				}
			}
			refusing, err := sim.AddChild(duosim.ChildConfig{
				ID: "DADEPLOYDRIFT0000001", Name: "Drift Check Cross-Deployment",
				APIHostname: "api-drift001.duosecurity.com", CrossDeployment: true,
			})
			require.NoError(t, err)
			p := startShippedPipeline(t, t.TempDir(), "deploy-msp", sim, map[string]string{"DUO_ACCOUNTS_DISCOVER": "true"})
			last := check(t, p, names, false)
			unreachable := last.matching(t, promSelector{name: "duo_account_unreachable", matchers: []promMatcher{{"account", "=", refusing.ID()}}})
			if assert.Len(t, unreachable, 1, "duo_account_unreachable of the cross-deployment child") {
				assert.Equal(t, 1.0, unreachable[0].value, "duo_account_unreachable of the cross-deployment child")
			}
			require.NoError(t, p.stop(30*time.Second), "stop:\n%s", tail(p.logs(), 4000))
		})
	})

	for _, name := range names {
		for _, u := range uses[name] {
			for _, m := range u.sel.matchers {
				if slices.Contains(scrapeLabels, m.label) || m.label == "__name__" || labelsSeen[name] == nil {
					continue
				}
				assert.True(t, labelsSeen[name][m.label], "%s matches %s on label %s, which it does not have", u.where, name, m.label)
			}
		}
	}
}
