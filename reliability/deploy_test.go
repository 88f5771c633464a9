// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package reliability

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// The files of deploy/: Prometheus alerting rules, their promtool tests and
// a Grafana dashboard. The tests of this file read them and run with every
// `go test ./...`; TestDeployMetricsExported (deploy_metrics_test.go, in
// the reliability suite) checks that every metric they name is one that a
// running duostream serves.
const (
	rulesFile     = "../deploy/prometheus/duostream.rules.yml"
	rulesTestFile = "../deploy/prometheus/duostream.rules.test.yml"
	dashboardFile = "../deploy/grafana/duostream-dashboard.json"
)

// promSelector is a series selector of a PromQL expression: the metric it
// reads, its label matchers, and the function it is an argument of ("" at
// the top level), such as increase for increase(duo_retries_total[10m]).
type promSelector struct {
	name     string
	matchers []promMatcher
	fn       string
}

// promMatcher is a label matcher of a selector, such as reason="needs_action".
type promMatcher struct {
	label, op, value string
}

func (m promMatcher) String() string { return fmt.Sprintf("%s%s%q", m.label, m.op, m.value) }

// The identifiers of PromQL that are not metric names, besides functions
// (which "(" follows) and the label names of selectors and groupings.
var (
	promKeywords = map[string]bool{
		"and": true, "or": true, "unless": true, "atan2": true, "bool": true,
		"offset": true, "inf": true, "nan": true,
	}
	// promGroupings take a parenthesized list of label names.
	promGroupings = map[string]bool{
		"by": true, "without": true, "on": true, "ignoring": true,
		"group_left": true, "group_right": true,
	}
	// promAggregations may have a grouping between their name and "(".
	promAggregations = map[string]bool{
		"sum": true, "min": true, "max": true, "avg": true, "group": true,
		"stddev": true, "stdvar": true, "count": true, "count_values": true,
		"bottomk": true, "topk": true, "quantile": true, "limitk": true,
		"limit_ratio": true,
	}
)

// parsePromQL returns the series selectors of a PromQL expression, which
// may hold Grafana variables ($job, ${job}, [$__rate_interval]). It
// tokenizes rather than parses: a metric name is an identifier that is not
// a keyword, not a function or aggregation (followed by "("), and not a
// label name inside a selector or a grouping; strings, numbers, durations
// and ranges are skipped. It fails on unbalanced brackets, malformed label
// matchers and a selector without a metric name.
func parsePromQL(expr string) ([]promSelector, error) {
	l := &promLexer{s: expr}
	if err := l.run(); err != nil {
		return nil, fmt.Errorf("%w in %q", err, expr)
	}
	return l.out, nil
}

type promLexer struct {
	s   string
	i   int
	out []promSelector
	// open holds a function name per open parenthesis, "" for a plain one.
	open []string
	// fn is the function or aggregation just read, whose "(" comes next.
	fn string
}

func (l *promLexer) peek() byte {
	if l.i < len(l.s) {
		return l.s[l.i]
	}
	return 0
}

func (l *promLexer) skipSpace() {
	for l.i < len(l.s) && strings.IndexByte(" \t\r\n", l.s[l.i]) >= 0 {
		l.i++
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || '0' <= c && c <= '9' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func (l *promLexer) ident() string {
	start := l.i
	for l.i < len(l.s) && isIdentChar(l.s[l.i]) {
		l.i++
	}
	return l.s[start:l.i]
}

// str reads a quoted string and returns its content.
func (l *promLexer) str() (string, error) {
	q := l.peek()
	if q != '"' && q != '\'' && q != '`' {
		return "", fmt.Errorf("a string expected at offset %d", l.i)
	}
	var b strings.Builder
	for l.i++; l.i < len(l.s); l.i++ {
		c := l.s[l.i]
		switch {
		case c == q:
			l.i++
			return b.String(), nil
		case c == '\\' && q != '`' && l.i+1 < len(l.s):
			l.i++
			b.WriteByte(l.s[l.i])
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("unterminated string")
}

// skipBracketed skips from an opening bracket to its closing one, strings
// included.
func (l *promLexer) skipBracketed(open, close byte) error {
	depth := 0
	for l.i < len(l.s) {
		switch c := l.s[l.i]; c {
		case '"', '\'', '`':
			if _, err := l.str(); err != nil {
				return err
			}
			continue
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				l.i++
				return nil
			}
		}
		l.i++
	}
	return fmt.Errorf("unbalanced %c", open)
}

// matchers reads the label matchers of a selector, from its "{".
func (l *promLexer) matchers() ([]promMatcher, error) {
	l.i++
	var ms []promMatcher
	for {
		l.skipSpace()
		if l.peek() == '}' {
			l.i++
			return ms, nil
		}
		var m promMatcher
		switch c := l.peek(); {
		case c == '"' || c == '\'':
			label, err := l.str()
			if err != nil {
				return nil, err
			}
			m.label = label
		case isIdentStart(c):
			m.label = l.ident()
		default:
			return nil, fmt.Errorf("a label name expected at offset %d", l.i)
		}
		l.skipSpace()
		for _, op := range []string{"!=", "=~", "!~", "="} {
			if strings.HasPrefix(l.s[l.i:], op) {
				m.op = op
				break
			}
		}
		if m.op == "" {
			return nil, fmt.Errorf("a matching operator expected after %s at offset %d", m.label, l.i)
		}
		l.i += len(m.op)
		l.skipSpace()
		value, err := l.str()
		if err != nil {
			return nil, fmt.Errorf("the value of %s: %w", m.label, err)
		}
		m.value = value
		ms = append(ms, m)
		l.skipSpace()
		switch l.peek() {
		case ',':
			l.i++
		case '}':
		default:
			return nil, fmt.Errorf(`"," or "}" expected at offset %d`, l.i)
		}
	}
}

// add records a selector of name, an argument of the innermost function
// open.
func (l *promLexer) add(name string, ms []promMatcher) {
	fn := ""
	for _, f := range slices.Backward(l.open) {
		if f != "" {
			fn = f
			break
		}
	}
	l.out = append(l.out, promSelector{name: name, matchers: ms, fn: strings.ToLower(fn)})
}

func (l *promLexer) run() error {
	for {
		l.skipSpace()
		if l.i >= len(l.s) {
			break
		}
		c := l.s[l.i]
		switch {
		case c == '#': // a comment, to the end of the line
			for l.i < len(l.s) && l.s[l.i] != '\n' {
				l.i++
			}
		case c == '"' || c == '\'' || c == '`':
			if _, err := l.str(); err != nil {
				return err
			}
		case c == '$': // a Grafana variable: $name or ${name}
			l.i++
			if l.peek() == '{' {
				if err := l.skipBracketed('{', '}'); err != nil {
					return err
				}
			} else {
				l.ident()
			}
		case c == '[': // a range, a subquery, or Grafana's [[name]]
			if err := l.skipBracketed('[', ']'); err != nil {
				return err
			}
		case c == '{': // a selector with its name as a matcher
			ms, err := l.matchers()
			if err != nil {
				return err
			}
			name := ""
			for _, m := range ms {
				if m.label == "__name__" && m.op == "=" {
					name = m.value
				}
			}
			if name == "" {
				return fmt.Errorf("a selector without a metric name")
			}
			l.add(name, ms)
		case c == '(':
			l.open = append(l.open, l.fn)
			l.fn = ""
			l.i++
		case c == ')':
			if len(l.open) == 0 {
				return fmt.Errorf("unbalanced )")
			}
			l.open = l.open[:len(l.open)-1]
			l.i++
		case isDigit(c) || c == '.' && l.i+1 < len(l.s) && isDigit(l.s[l.i+1]):
			// A number or a duration: 10, 0.5, 1e-3, 0x1f, 5m, 1h30m.
			start := l.i
			for l.i < len(l.s) {
				d := l.s[l.i]
				exp := (d == '+' || d == '-') && strings.ContainsRune("eE", rune(l.s[l.i-1])) && !strings.HasPrefix(l.s[start:], "0x")
				if !isIdentChar(d) && d != '.' && !exp {
					break
				}
				l.i++
			}
		case isIdentStart(c):
			id := l.ident()
			lower := strings.ToLower(id)
			l.skipSpace()
			switch {
			case promGroupings[lower]:
				if l.peek() == '(' {
					if err := l.skipBracketed('(', ')'); err != nil {
						return err
					}
				}
			case promKeywords[lower]:
			case promAggregations[lower] || l.peek() == '(':
				l.fn = id
			default:
				var ms []promMatcher
				if l.peek() == '{' {
					var err error
					if ms, err = l.matchers(); err != nil {
						return err
					}
				}
				l.add(id, ms)
			}
		default: // an operator, a comma, @
			l.i++
		}
	}
	if len(l.open) > 0 {
		return fmt.Errorf("unbalanced (")
	}
	return nil
}

func TestParsePromQL(t *testing.T) {
	type sel struct {
		name, fn string
		matchers []string
	}
	tests := []struct {
		expr string
		want []sel
	}{
		{`up{job="duostream"} == 0`, []sel{{"up", "", []string{`job="duostream"`}}}},
		{`absent(up{job="duostream"})`, []sel{{"up", "absent", []string{`job="duostream"`}}}},
		{`sum without (endpoint) (increase(duo_rate_limited_total[15m])) > 10`, []sel{{"duo_rate_limited_total", "increase", nil}}},
		{`increase(duo_retries_total{reason="needs_action"}[10m]) > 0`, []sel{{"duo_retries_total", "increase", []string{`reason="needs_action"`}}}},
		{`sum by (log_type, account) (rate(duo_events_total{job=~"$job", account=~"$account"}[$__rate_interval]))`,
			[]sel{{"duo_events_total", "rate", []string{`job=~"$job"`, `account=~"$account"`}}}},
		{`max(x) by (instance) / on (instance) group_left (version) y offset 5m`, []sel{{"x", "max", nil}, {"y", "", nil}}},
		{`count_values("value", x) and bool y unless z`, []sel{{"x", "count_values", nil}, {"y", "", nil}, {"z", "", nil}}},
		{`label_replace(x, "dst", "$1", "src", "(.*)")`, []sel{{"x", "label_replace", nil}}},
		{`{__name__="x", a!~'b'}`, []sel{{"x", "", []string{`__name__="x"`, `a!~"b"`}}}},
		{"rate(x[5m:1m]) * 1e-3 + 0x1f - .5 - Inf + NaN", []sel{{"x", "rate", nil}}},
		{`sum(duo_drop_off_alarm{a="}{\"", b=` + "`)`" + `}) or vector(0)`, []sel{{"duo_drop_off_alarm", "sum", []string{`a="}{\""`, `b=")"`}}}},
		{`histogram_quantile(0.9, sum by (le) (rate(x_bucket{job="$job"}[5m])))`, []sel{{"x_bucket", "rate", []string{`job="$job"`}}}},
		{"# a comment naming no_metric\nabs(duo_clock_skew_seconds) > 30 @ start()", []sel{{"duo_clock_skew_seconds", "abs", nil}}},
		{`sum by (job) ((rate(x[${__range}])))`, []sel{{"x", "rate", nil}}},
		{`recorded:rule_name:rate5m > 1`, []sel{{"recorded:rule_name:rate5m", "", nil}}},
	}
	for _, tt := range tests {
		got, err := parsePromQL(tt.expr)
		if !assert.NoError(t, err, "parsePromQL(%q)", tt.expr) {
			continue
		}
		var gotSels []sel
		for _, s := range got {
			var ms []string
			for _, m := range s.matchers {
				ms = append(ms, m.String())
			}
			gotSels = append(gotSels, sel{s.name, s.fn, ms})
		}
		assert.Equal(t, tt.want, gotSels, "parsePromQL(%q)", tt.expr)
	}
	for _, expr := range []string{
		`rate(x[5m]`, `x)`, `x{a=}`, `x{a="b"`, `x{a "b"}`, `{a="b"}`, `x[5m`, `x{a="b}`,
	} {
		_, err := parsePromQL(expr)
		assert.Error(t, err, "parsePromQL(%q)", expr)
	}
}

// alertRules is a Prometheus rule file.
type alertRules struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Alert         string            `yaml:"alert"`
			Record        string            `yaml:"record"`
			Expr          string            `yaml:"expr"`
			For           string            `yaml:"for"`
			KeepFiringFor string            `yaml:"keep_firing_for"`
			Labels        map[string]string `yaml:"labels"`
			Annotations   map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// ruleTests is a promtool rule test file.
type ruleTests struct {
	RuleFiles          []string `yaml:"rule_files"`
	EvaluationInterval string   `yaml:"evaluation_interval"`
	Tests              []struct {
		Name        string `yaml:"name"`
		Interval    string `yaml:"interval"`
		InputSeries []struct {
			Series string `yaml:"series"`
			Values string `yaml:"values"`
		} `yaml:"input_series"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `yaml:"exp_labels"`
				ExpAnnotations map[string]string `yaml:"exp_annotations"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// decodeYAMLFile decodes path into v, refusing fields v does not have.
func decodeYAMLFile(t *testing.T, path string, v any) {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(v), "%s", path)
}

// deployMetricUse is a selector in one of the deploy/ files, and where.
type deployMetricUse struct {
	where string // "rule DuoNeedsAction", "panel Cursor lag", ...
	sel   promSelector
	rule  bool // in the alerting rules
}

// ruleSelectors reads the alerting rules, checks that each is an alert
// with a severity and the annotations that say what to fix, and returns
// their names and the selectors of their expressions.
func ruleSelectors(t *testing.T) (alerts []string, uses []deployMetricUse) {
	t.Helper()
	var rules alertRules
	decodeYAMLFile(t, rulesFile, &rules)
	seen := map[string]bool{}
	require.NotEmpty(t, rules.Groups, "%s has no rule group", rulesFile)
	for _, g := range rules.Groups {
		require.NotEmpty(t, g.Rules, "rule group %s is empty", g.Name)
		for _, r := range g.Rules {
			if !assert.NotEmpty(t, r.Alert, "%s: a rule without an alert name (recording rules belong elsewhere): %s", rulesFile, r.Expr) {
				continue
			}
			assert.False(t, seen[r.Alert], "alert %s is defined twice", r.Alert)
			seen[r.Alert] = true
			alerts = append(alerts, r.Alert)
			assert.Contains(t, []string{"critical", "warning"}, r.Labels["severity"], "alert %s: severity", r.Alert)
			for _, a := range []string{"summary", "description"} {
				assert.NotEmpty(t, strings.TrimSpace(r.Annotations[a]), "alert %s has no %s", r.Alert, a)
			}
			sels, err := parsePromQL(r.Expr)
			if assert.NoError(t, err, "alert %s", r.Alert) && assert.NotEmpty(t, sels, "alert %s reads no metric", r.Alert) {
				for _, s := range sels {
					uses = append(uses, deployMetricUse{where: "rule " + r.Alert, sel: s, rule: true})
				}
			}
		}
	}
	return alerts, uses
}

// TestAlertRulesAreTested checks that the promtool tests see every alert
// both firing and not firing, test no alert the rules lack, and feed only
// series of metrics the rules read, so that a misspelt series cannot make
// a "not firing" case pass for nothing.
func TestAlertRulesAreTested(t *testing.T) {
	names, uses := ruleSelectors(t)
	ruleMetrics := map[string]bool{}
	for _, u := range uses {
		ruleMetrics[u.sel.name] = true
	}
	alerts := map[string]bool{}
	for _, a := range names {
		alerts[a] = true
	}

	var tests ruleTests
	decodeYAMLFile(t, rulesTestFile, &tests)
	assert.Equal(t, []string{"duostream.rules.yml"}, tests.RuleFiles, "%s tests the rules file beside it", rulesTestFile)
	firing, quiet := map[string]int{}, map[string]int{}
	for _, tc := range tests.Tests {
		for _, s := range tc.InputSeries {
			sels, err := parsePromQL(s.Series)
			if assert.NoError(t, err, "test %q: series", tc.Name) && assert.Len(t, sels, 1, "test %q: series %s", tc.Name, s.Series) {
				assert.True(t, ruleMetrics[sels[0].name], "test %q feeds %s, which no rule reads", tc.Name, sels[0].name)
			}
		}
		for _, at := range tc.AlertRuleTest {
			assert.True(t, alerts[at.Alertname], "test %q checks alert %s, which the rules do not define", tc.Name, at.Alertname)
			if len(at.ExpAlerts) > 0 {
				firing[at.Alertname]++
			} else {
				quiet[at.Alertname]++
			}
		}
	}
	for a := range alerts {
		assert.Positive(t, firing[a], "no test sees alert %s firing", a)
		assert.Positive(t, quiet[a], "no test sees alert %s not firing", a)
	}
}

// grafanaDatasource is a panel's or target's data source.
type grafanaDatasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// grafanaPanel is a dashboard panel, or a row with its collapsed panels.
type grafanaPanel struct {
	ID         int                `json:"id"`
	Type       string             `json:"type"`
	Title      string             `json:"title"`
	Datasource *grafanaDatasource `json:"datasource"`
	GridPos    *struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		RefID      string             `json:"refId"`
		Expr       string             `json:"expr"`
		Datasource *grafanaDatasource `json:"datasource"`
	} `json:"targets"`
	Panels []grafanaPanel `json:"panels"`
}

// grafanaInput is what a dashboard asks for when it is imported.
type grafanaInput struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	PluginID string `json:"pluginId"`
}

// grafanaDashboard is the part of a dashboard export the checks read.
type grafanaDashboard struct {
	Inputs        []grafanaInput `json:"__inputs"`
	UID           string         `json:"uid"`
	Title         string         `json:"title"`
	SchemaVersion int            `json:"schemaVersion"`
	Panels        []grafanaPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string             `json:"name"`
			Type       string             `json:"type"`
			Datasource *grafanaDatasource `json:"datasource"`
			Definition string             `json:"definition"`
			Query      json.RawMessage    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// dashboardDatasource is the data source every panel, target and variable
// of the dashboard uses: the Prometheus chosen on import.
var dashboardDatasource = grafanaDatasource{Type: "prometheus", UID: "${DS_PROMETHEUS}"}

// grafanaBuiltins are the variables Grafana defines itself.
var grafanaBuiltins = []string{"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms", "__name"}

var grafanaVariableRef = regexp.MustCompile(`\$\{?(\w+)`)

// labelValuesQuery matches Grafana's label_values(selector, label).
var labelValuesQuery = regexp.MustCompile(`^\s*label_values\((.*),\s*(\w+)\s*\)\s*$`)

// dashboardSelectors reads the dashboard, checks that it is valid JSON, a
// dashboard to import with a Prometheus data source input, whose every
// panel has that data source, a place on the grid and at least one query,
// and whose queries use only variables it defines; and returns the
// selectors of its queries and variables.
func dashboardSelectors(t *testing.T) []deployMetricUse {
	t.Helper()
	raw, err := os.ReadFile(dashboardFile)
	require.NoError(t, err)
	require.True(t, json.Valid(raw), "%s is not valid JSON", dashboardFile)
	var d grafanaDashboard
	dec := json.NewDecoder(bytes.NewReader(raw))
	require.NoError(t, dec.Decode(&d), "%s", dashboardFile)

	assert.NotEmpty(t, d.UID, "the dashboard's uid")
	assert.NotEmpty(t, d.Title, "the dashboard's title")
	assert.GreaterOrEqual(t, d.SchemaVersion, 36, "schemaVersion: panels name their data source by uid from Grafana 9 on")
	assert.Contains(t, d.Inputs, grafanaInput{Name: "DS_PROMETHEUS", Type: "datasource", PluginID: "prometheus"},
		"the dashboard asks for a Prometheus data source on import")

	vars := map[string]bool{}
	for _, b := range grafanaBuiltins {
		vars[b] = true
	}
	var uses []deployMetricUse
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		if v.Type != "query" {
			continue
		}
		if assert.NotNil(t, v.Datasource, "variable %s has no data source", v.Name) {
			assert.Equal(t, dashboardDatasource, *v.Datasource, "variable %s: data source", v.Name)
		}
		m := labelValuesQuery.FindStringSubmatch(v.Definition)
		if !assert.NotNil(t, m, "variable %s: only label_values(selector, label) queries are checked, not %q", v.Name, v.Definition) {
			continue
		}
		// Grafana runs the query, which newer versions keep in an object,
		// and shows the definition.
		var query string
		if json.Unmarshal(v.Query, &query) != nil {
			var q struct {
				Query string `json:"query"`
			}
			assert.NoError(t, json.Unmarshal(v.Query, &q), "variable %s: query", v.Name)
			query = q.Query
		}
		assert.Equal(t, v.Definition, query, "variable %s: its query and definition differ", v.Name)
		sels, err := parsePromQL(m[1])
		if assert.NoError(t, err, "variable %s", v.Name) {
			for _, s := range sels {
				uses = append(uses, deployMetricUse{where: "variable " + v.Name, sel: s})
			}
		}
	}

	var panels []grafanaPanel
	for _, p := range d.Panels {
		panels = append(panels, p)
		panels = append(panels, p.Panels...)
	}
	ids := map[int]string{}
	nPanels := 0
	for _, p := range panels {
		name := fmt.Sprintf("panel %d %q", p.ID, p.Title)
		if other, dup := ids[p.ID]; dup {
			t.Errorf("%s has the id of %s", name, other)
		}
		ids[p.ID] = name
		assert.NotEmpty(t, p.Title, "%s has no title", name)
		if assert.NotNil(t, p.GridPos, "%s has no gridPos", name) {
			g := p.GridPos
			assert.True(t, g.W > 0 && g.H > 0 && g.X >= 0 && g.X+g.W <= 24, "%s: gridPos %+v is off the 24-column grid", name, *g)
		}
		if p.Type == "row" {
			continue
		}
		nPanels++
		if assert.NotNil(t, p.Datasource, "%s has no data source", name) {
			assert.Equal(t, dashboardDatasource, *p.Datasource, "%s: data source", name)
		}
		if !assert.NotEmpty(t, p.Targets, "%s has no query", name) {
			continue
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			assert.False(t, refs[tg.RefID], "%s: refId %q twice", name, tg.RefID)
			refs[tg.RefID] = true
			if tg.Datasource != nil {
				assert.Equal(t, dashboardDatasource, *tg.Datasource, "%s, query %s: data source", name, tg.RefID)
			}
			if !assert.NotEmpty(t, strings.TrimSpace(tg.Expr), "%s, query %s: no expression", name, tg.RefID) {
				continue
			}
			for _, m := range grafanaVariableRef.FindAllStringSubmatch(tg.Expr, -1) {
				assert.True(t, vars[m[1]], "%s, query %s: $%s is no variable of the dashboard", name, tg.RefID, m[1])
			}
			sels, err := parsePromQL(tg.Expr)
			if assert.NoError(t, err, "%s, query %s", name, tg.RefID) && assert.NotEmpty(t, sels, "%s, query %s reads no metric", name, tg.RefID) {
				for _, s := range sels {
					uses = append(uses, deployMetricUse{where: fmt.Sprintf("panel %q", p.Title), sel: s})
				}
			}
		}
	}
	assert.Positive(t, nPanels, "the dashboard has no panel")
	return uses
}

// TestDashboardWellFormed checks the dashboard on its own; the metrics it
// names are checked against a running duostream by
// TestDeployMetricsExported.
func TestDashboardWellFormed(t *testing.T) {
	uses := dashboardSelectors(t)
	names := map[string]bool{}
	for _, u := range uses {
		names[u.sel.name] = true
	}
	// The metrics the dashboard was made to show.
	for _, name := range []string{
		"duo_events_total", "duo_cursor_lag_seconds", "duo_seconds_since_last_event",
		"duo_drop_off_alarm", "duo_requests_total", "duo_rate_limited_total",
		"duo_retries_total", "duo_checkpoint_errors_total", "output_error",
		"duo_clock_skew_seconds", "duo_unacked_seconds", "duo_child_accounts",
		"duo_account_unreachable", "duo_backlog_events", "duo_catch_up_seconds",
	} {
		assert.True(t, names[name], "the dashboard has no panel of %s", name)
	}
}
