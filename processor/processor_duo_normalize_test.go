// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package processor

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/schema"
)

var update = flag.Bool("update", false, "rewrite testdata/golden outputs from the current processor")

// Pinned values of the non-deterministic fields.
var (
	pinnedNow   = time.Date(2026, 1, 2, 3, 4, 5, 678900000, time.UTC)
	pinnedRowID = "0123456789abcdef0000000000000001"
)

func pinnedOptions() schema.Options {
	return schema.Options{
		Now:   func() time.Time { return pinnedNow },
		RowID: func(dst []byte) []byte { return append(dst, pinnedRowID...) },
	}
}

func newTestProc(t testing.TB, yaml string) *duoNormalize {
	t.Helper()
	conf, err := duoNormalizeSpec().ParseYAML(yaml, nil)
	require.NoError(t, err)
	p, err := newDuoNormalize(conf, service.MockResources(), pinnedOptions())
	require.NoError(t, err)
	return p
}

// normalize runs one event through p with duo_log_type set to logType, as
// the duo_admin_logs input sets it. It returns the output, or the error the
// message was flagged with.
func normalize(t testing.TB, p *duoNormalize, logType string, event []byte) ([]byte, error) {
	t.Helper()
	m := service.NewMessage(event)
	m.MetaSetMut("duo_log_type", logType)
	batches, err := p.ProcessBatch(t.Context(), service.MessageBatch{m})
	require.NoError(t, err)
	require.Len(t, batches, 1)
	require.Len(t, batches[0], 1)
	out := batches[0][0]
	b, err := out.AsBytes()
	require.NoError(t, err)
	if err := out.GetError(); err != nil {
		// The original message is untouched.
		require.Equal(t, string(event), string(b), "an errored message must keep its original content")
		return nil, err
	}
	require.True(t, json.Valid(b), "output is not valid JSON: %s", b)
	return b, nil
}

// TestPantherGolden checks the processor against Panther's own parser test
// cases: each input must give Panther's result, plus the pinned p_row_id
// and p_parse_time that Panther's cases leave out.
func TestPantherGolden(t *testing.T) {
	p := newTestProc(t, `{}`)
	f, err := os.Open("testdata/panther/duo-golden.jsonl")
	require.NoError(t, err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var c struct {
			Name    string          `json:"name"`
			LogType string          `json:"logType"`
			Input   json.RawMessage `json:"input"`
			Result  map[string]any  `json:"result"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &c))
		n++
		t.Run(c.Name, func(t *testing.T) {
			out, err := normalize(t, p, c.LogType, c.Input)
			require.NoError(t, err)
			c.Result["p_row_id"] = pinnedRowID
			c.Result["p_parse_time"] = pinnedNow.Format(time.RFC3339Nano)
			want, err := json.Marshal(c.Result)
			require.NoError(t, err)
			assert.JSONEq(t, string(want), string(out))
		})
	}
	require.NoError(t, sc.Err())
	assert.Equal(t, 3, n)
}

// TestGoldenFiles runs every testdata/golden/<log type>/<case>.input.json
// and compares with <case>.golden.json, or, for an event that breaks its
// schema, with the error in <case>.error.txt. Run with -update to rewrite
// them.
func TestGoldenFiles(t *testing.T) {
	p := newTestProc(t, `{}`)
	inputs, err := filepath.Glob("testdata/golden/*/*.input.json")
	require.NoError(t, err)
	require.NotEmpty(t, inputs)
	perType := map[string]int{}
	for _, in := range inputs {
		logType := filepath.Base(filepath.Dir(in))
		perType[logType]++
		base := strings.TrimSuffix(in, ".input.json")
		t.Run(logType+"/"+filepath.Base(base), func(t *testing.T) {
			event, err := os.ReadFile(in)
			require.NoError(t, err)
			out, perr := normalize(t, p, logType, event)
			goldenPath, errPath := base+".golden.json", base+".error.txt"
			if *update {
				writeGolden(t, goldenPath, errPath, out, perr)
			}
			if perr != nil {
				var fe *schema.FieldError
				require.ErrorAs(t, perr, &fe)
				assert.Equal(t, logType, fe.LogType)
				want, err := os.ReadFile(errPath)
				require.NoError(t, err, "event failed with %q but has no .error.txt", perr)
				assert.Equal(t, strings.TrimSpace(string(want)), perr.Error())
				assert.NoFileExists(t, goldenPath)
				return
			}
			want, err := os.ReadFile(goldenPath)
			require.NoError(t, err, "event passed but has no .golden.json")
			assert.JSONEq(t, string(want), string(out))
			assert.NoFileExists(t, errPath)
		})
	}
	for _, lt := range []string{"Duo.Authentication", "Duo.Administrator", "Duo.Telephony", "Duo.OfflineEnrollment", "Duo.Activity", "Duo.TrustMonitor"} {
		assert.GreaterOrEqual(t, perType[lt], 3, "too few golden cases for %s", lt)
	}
}

func writeGolden(t *testing.T, goldenPath, errPath string, out []byte, perr error) {
	t.Helper()
	_ = os.Remove(goldenPath)
	_ = os.Remove(errPath)
	if perr != nil {
		require.NoError(t, os.WriteFile(errPath, []byte(perr.Error()+"\n"), 0o644))
		return
	}
	var buf bytes.Buffer
	require.NoError(t, json.Indent(&buf, out, "", "  "))
	buf.WriteByte('\n')
	require.NoError(t, os.WriteFile(goldenPath, buf.Bytes(), 0o644))
}

// pythonTime is how Panther's rule tests write timestamps.
const pythonTime = "2006-01-02 15:04:05"

// TestPantherRuleEvents feeds the events of Panther's Duo detection-rule
// tests through the processor. Those events are what rules read after
// Panther normalized them (timestamps rewritten, some required fields
// left out), so:
//   - as they are, each one must come out valid or flagged with an error
//     naming its log type and a field: none vanish, none panic;
//   - turned back into API records (timestamps in the API's notation,
//     missing required fields filled), each must come out valid with every
//     field and nesting a rule reads still in place, with the same value.
func TestPantherRuleEvents(t *testing.T) {
	p := newTestProc(t, `{}`)
	files, err := filepath.Glob("testdata/panther/panther-analysis-duo-*.jsonl")
	require.NoError(t, err)
	require.Len(t, files, 2)
	total, asIsErrors := 0, 0
	for _, file := range files {
		logType := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(file), "panther-analysis-duo-"), ".jsonl")
		data, err := os.ReadFile(file)
		require.NoError(t, err)
		for i, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			total++
			name := fmt.Sprintf("%s/line%d", logType, i+1)
			t.Run(name, func(t *testing.T) {
				out, perr := normalize(t, p, logType, line)
				if perr != nil {
					asIsErrors++
					var fe *schema.FieldError
					require.ErrorAs(t, perr, &fe)
					assert.Equal(t, logType, fe.LogType)
					assert.NotEmpty(t, fe.Path, "error %q names no field", perr)
				} else {
					require.True(t, json.Valid(out))
				}

				var ruleView map[string]any
				require.NoError(t, json.Unmarshal(line, &ruleView))
				raw := toAPIRecord(t, logType, ruleView)
				out, perr = normalize(t, p, logType, raw)
				require.NoError(t, perr, "record %s", raw)
				var got map[string]any
				require.NoError(t, json.Unmarshal(out, &got))
				assertSurvives(t, ruleView, got, "")
			})
		}
	}
	assert.Equal(t, 42, total)
	// Their timestamps are in Python's notation, not the API's, so as they
	// are they are flagged, not passed.
	assert.Equal(t, 42, asIsErrors)
}

// toAPIRecord rewrites a rule-test event as the Duo API would send it.
func toAPIRecord(t *testing.T, logType string, ev map[string]any) []byte {
	t.Helper()
	rec := map[string]any{}
	for k, v := range ev {
		rec[k] = v
	}
	when := time.Date(2022, 12, 14, 21, 17, 39, 0, time.UTC)
	if s, ok := ev["isotimestamp"].(string); ok {
		var err error
		when, err = time.Parse(pythonTime, s)
		require.NoError(t, err)
	}
	rec["isotimestamp"] = when.Format("2006-01-02T15:04:05+00:00")
	rec["timestamp"] = when.Unix()
	if logType == "Duo.Authentication" {
		if _, ok := rec["txid"]; !ok {
			rec["txid"] = "00000000-0000-4000-8000-000000000000"
		}
	}
	b, err := json.Marshal(rec)
	require.NoError(t, err)
	return b
}

// assertSurvives checks that every field of want, at every depth, is in got
// with the same value; timestamps only need to be there.
func assertSurvives(t *testing.T, want, got map[string]any, path string) {
	t.Helper()
	for k, wv := range want {
		p := strings.TrimPrefix(path+"."+k, ".")
		gv, ok := got[k]
		if !assert.True(t, ok, "field %s is missing from the output", p) {
			continue
		}
		switch w := wv.(type) {
		case map[string]any:
			g, ok := gv.(map[string]any)
			if assert.True(t, ok, "field %s is no longer an object: %v", p, gv) {
				assertSurvives(t, w, g, p)
			}
		default:
			if k == "isotimestamp" || k == "timestamp" {
				continue
			}
			assert.Equal(t, wv, gv, "field %s", p)
		}
	}
}

// TestActivityAndTrustMonitor checks what the golden files of the two
// duostream schemas must show, so that a careless -update cannot lose it:
// every record comes out valid or flagged with an error naming a field,
// and p_any_ip_addresses holds the activity access device's IP in both of
// its shapes and the IPs of Trust Monitor's surfaced authentication.
func TestActivityAndTrustMonitor(t *testing.T) {
	p := newTestProc(t, `{}`)
	for _, logType := range []string{"Duo.Activity", "Duo.TrustMonitor"} {
		inputs, err := filepath.Glob(filepath.Join("testdata", "golden", logType, "*.input.json"))
		require.NoError(t, err)
		require.NotEmpty(t, inputs)
		for _, in := range inputs {
			event, err := os.ReadFile(in)
			require.NoError(t, err)
			if _, perr := normalize(t, p, logType, event); perr != nil {
				var fe *schema.FieldError
				require.ErrorAs(t, perr, &fe, in)
				assert.NotEmpty(t, fe.Path, "%s: error %q names no field", in, perr)
			}
		}
	}

	tests := []struct {
		logType, name string
		// wantIPs and wantTraceIDs are p_any_ip_addresses and
		// p_any_trace_ids.
		wantIPs, wantTraceIDs []string
	}{
		{"Duo.Activity", "elastic-action-object", []string{"216.160.83.56"}, nil},
		{"Duo.Activity", "ip-string", []string{"216.160.83.56"}, nil},
		{"Duo.Activity", "admin-actor-emails-ipv6", []string{"2001:db8::17"}, nil},
		{"Duo.Activity", "dls-action-string-item1", nil, nil},
		{"Duo.TrustMonitor", "dls-auth", []string{"71.105.79.160"}, []string{"1bc858de-cef7-4337-b5b3-80eca311af08"}},
		{"Duo.TrustMonitor", "elastic-auth", []string{"17.88.232.83"}, []string{"436694ad-467c-4aed-b048-8ad--f58e04c"}},
		{"Duo.TrustMonitor", "auth-triaged-both-ips-unknown-fields", []string{"17.88.232.83", "203.0.113.7"}, []string{"436694ad-467c-4aed-b048-8ad--f58e04c"}},
		{"Duo.TrustMonitor", "elastic-bypass-status", nil, nil},
	}
	for _, tc := range tests {
		event, err := os.ReadFile(filepath.Join("testdata", "golden", tc.logType, tc.name+".input.json"))
		require.NoError(t, err)
		out, err := normalize(t, p, tc.logType, event)
		require.NoError(t, err, "%s/%s", tc.logType, tc.name)
		var got struct {
			IPs      []string `json:"p_any_ip_addresses"`
			TraceIDs []string `json:"p_any_trace_ids"`
		}
		require.NoError(t, json.Unmarshal(out, &got))
		assert.Equal(t, tc.wantIPs, got.IPs, "p_any_ip_addresses of %s/%s", tc.logType, tc.name)
		assert.Equal(t, tc.wantTraceIDs, got.TraceIDs, "p_any_trace_ids of %s/%s", tc.logType, tc.name)
	}
}

// TestUnknownFieldsKeepNewLogTypes checks that with unknown_fields: keep
// the fields Duo may add to activity and Trust Monitor records, at the top
// level and nested, reach the output unchanged, as for the other log
// types; by default they are left out.
func TestUnknownFieldsKeepNewLogTypes(t *testing.T) {
	tests := []struct {
		logType, name string
		unknown       []string // members of the input the schema does not name
	}{
		{"Duo.Activity", "unknown-fields-dropped", []string{`"is_trusted_endpoint":true`, `"email":"sogilby@example.com"`, `"risk_assessment":{"level":"low","signals":["NEW_DEVICE"]}`}},
		{"Duo.TrustMonitor", "auth-triaged-both-ips-unknown-fields", []string{`"adaptive_trust_assessments":{"remember_me":{"model_version":"None","policy_enabled":false}}`, `"new_top_level_field":{"x":[1,null]}`}},
	}
	keep, drop := newTestProc(t, `unknown_fields: keep`), newTestProc(t, `{}`)
	for _, tc := range tests {
		raw, err := os.ReadFile(filepath.Join("testdata", "golden", tc.logType, tc.name+".input.json"))
		require.NoError(t, err)
		var compact bytes.Buffer
		require.NoError(t, json.Compact(&compact, raw))
		event := compact.Bytes()
		kept, err := normalize(t, keep, tc.logType, event)
		require.NoError(t, err)
		dropped, err := normalize(t, drop, tc.logType, event)
		require.NoError(t, err)
		for _, member := range tc.unknown {
			require.Contains(t, string(event), member, "the input of %s/%s", tc.logType, tc.name)
			assert.Contains(t, string(kept), member, "%s/%s with unknown_fields: keep", tc.logType, tc.name)
			assert.NotContains(t, string(dropped), member, "%s/%s with unknown_fields: drop", tc.logType, tc.name)
		}
	}
}

func TestUnknownFieldsKeep(t *testing.T) {
	in := []byte(`{"action":"a","isotimestamp":"2020-01-24T15:09:42+00:00","username":"admin","new_field":{"x":[1,null]},"object":null}`)
	out, err := normalize(t, newTestProc(t, `unknown_fields: keep`), "Duo.Administrator", in)
	require.NoError(t, err)
	assert.JSONEq(t, `{"action":"a","isotimestamp":"2020-01-24T15:09:42Z","username":"admin","new_field":{"x":[1,null]},
		"p_log_type":"Duo.Administrator","p_row_id":"0123456789abcdef0000000000000001","p_event_time":"2020-01-24T15:09:42Z",
		"p_parse_time":"2026-01-02T03:04:05.6789Z","p_any_usernames":["admin"]}`, string(out))

	out, err = normalize(t, newTestProc(t, `{}`), "Duo.Administrator", in)
	require.NoError(t, err)
	assert.NotContains(t, string(out), "new_field")

	// A top-level p_* field in the event cannot clash with the standard
	// fields.
	out, err = normalize(t, newTestProc(t, `unknown_fields: keep`), "Duo.Administrator",
		[]byte(`{"action":"a","isotimestamp":"2020-01-24T15:09:42+00:00","username":"admin","p_log_type":"forged","nested":{"p_x":1}}`))
	require.NoError(t, err)
	assert.Equal(t, 1, strings.Count(string(out), `"p_log_type"`), "output %s", out)
	assert.Contains(t, string(out), `"p_log_type":"Duo.Administrator"`)
	assert.Contains(t, string(out), `"nested":{"p_x":1}`)
}

func TestPantherFieldsOff(t *testing.T) {
	out, err := normalize(t, newTestProc(t, `panther_fields: false`), "Duo.Telephony",
		[]byte(`{"context":"verify","credits":1,"phone":"+1","telephony_id":"x","ts":"2023-01-26T20:54:12.573580+00:00","txid":"y","type":"phone"}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"context":"verify","credits":1,"phone":"+1","type":"phone","isotimestamp":"2023-01-26T20:54:12.57358Z","timestamp":1674766452.57358}`, string(out))
}

// TestSourceFields checks that an event whose metadata names its Duo
// account (an MSP child account) gets Panther's p_source_id and
// p_source_label, and that the others do not.
func TestSourceFields(t *testing.T) {
	event := []byte(`{"action":"a","isotimestamp":"2020-01-24T15:09:42+00:00","username":"admin"}`)
	tests := []struct {
		name      string
		conf      string
		meta      map[string]string
		wantID    any
		wantLabel any
	}{
		{"an account and its name", `{}`, map[string]string{"duo_account_id": "DA9VZOC5X63I2W72NRP9", "duo_account_name": `Acme "West" <Ltd>`}, "DA9VZOC5X63I2W72NRP9", `Acme "West" <Ltd>`},
		{"an account without a name", `{}`, map[string]string{"duo_account_id": "DA9VZOC5X63I2W72NRP9"}, "DA9VZOC5X63I2W72NRP9", nil},
		{"no account", `{}`, nil, nil, nil},
		{"an empty account", `{}`, map[string]string{"duo_account_id": "", "duo_account_name": "x"}, nil, nil},
		{"without Panther's fields", `panther_fields: false`, map[string]string{"duo_account_id": "DA9VZOC5X63I2W72NRP9"}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := service.NewMessage(event)
			m.MetaSetMut("duo_log_type", "Duo.Administrator")
			for k, v := range tt.meta {
				m.MetaSetMut(k, v)
			}
			batches, err := newTestProc(t, tt.conf).ProcessBatch(t.Context(), service.MessageBatch{m})
			require.NoError(t, err)
			require.NoError(t, batches[0][0].GetError())
			b, err := batches[0][0].AsBytes()
			require.NoError(t, err)
			var got map[string]any
			require.NoError(t, json.Unmarshal(b, &got), "%s", b)
			assert.Equal(t, tt.wantID, got["p_source_id"])
			assert.Equal(t, tt.wantLabel, got["p_source_label"])
			assert.Equal(t, "admin", got["username"], "the event is intact")
		})
	}
}

func TestLogTypeResolution(t *testing.T) {
	event := []byte(`{"action":"a","isotimestamp":"2020-01-24T15:09:42+00:00","username":"admin"}`)

	// A static log type needs no metadata.
	p := newTestProc(t, `log_type: Duo.Administrator`)
	m := service.NewMessage(event)
	batches, err := p.ProcessBatch(t.Context(), service.MessageBatch{m})
	require.NoError(t, err)
	require.NoError(t, batches[0][0].GetError())

	// Any interpolation works.
	p = newTestProc(t, `log_type: 'Duo.${! meta("kind") }'`)
	m = service.NewMessage(event)
	m.MetaSetMut("kind", "Administrator")
	batches, err = p.ProcessBatch(t.Context(), service.MessageBatch{m})
	require.NoError(t, err)
	require.NoError(t, batches[0][0].GetError())

	// Missing metadata and unknown names flag the message.
	p = newTestProc(t, `{}`)
	batches, err = p.ProcessBatch(t.Context(), service.MessageBatch{service.NewMessage(event)})
	require.NoError(t, err)
	assert.EqualError(t, batches[0][0].GetError(), `(no log type): the event has no log type: set log_type, or the duo_log_type metadata`)
	_, err = normalize(t, p, "Duo.Unknown", event)
	assert.EqualError(t, err, `Duo.Unknown: unknown log type: loaded schemas are Duo.Activity, Duo.Administrator, Duo.Authentication, Duo.OfflineEnrollment, Duo.Telephony, Duo.TrustMonitor`)

	// An unknown static log type stops start-up.
	conf, err := duoNormalizeSpec().ParseYAML(`log_type: Duo.Nope`, nil)
	require.NoError(t, err)
	_, err = newDuoNormalize(conf, service.MockResources(), pinnedOptions())
	assert.ErrorContains(t, err, "log_type: Duo.Nope: unknown log type")
}

func TestSchemaFiles(t *testing.T) {
	dir := t.TempDir()
	custom := filepath.Join(dir, "activity.yml")
	require.NoError(t, os.WriteFile(custom, []byte(`
schema: Duo.Activity
fields:
  - name: activity_id
    type: string
    required: true
    indicators: [trace_id]
  - name: ts
    type: timestamp
    timeFormat: rfc3339
    isEventTime: true
  - name: access_device
    type: object
    fields:
      - name: ip
        type: object
        fields:
          - name: address
            type: string
            indicators: [ip]
`), 0o644))
	p := newTestProc(t, fmt.Sprintf("schema_files: [%q]", custom))
	// The file replaces the built-in Duo.Activity: akey, which the built-in
	// schema keeps, is left out.
	out, err := normalize(t, p, "Duo.Activity", []byte(`{"activity_id":"720b8360","ts":"2023-03-21T15:51:22.591015+00:00","access_device":{"ip":{"address":"216.160.83.56"}},"akey":"x"}`))
	require.NoError(t, err)
	assert.JSONEq(t, `{"activity_id":"720b8360","ts":"2023-03-21T15:51:22.591015Z","access_device":{"ip":{"address":"216.160.83.56"}},
		"p_log_type":"Duo.Activity","p_row_id":"0123456789abcdef0000000000000001","p_event_time":"2023-03-21T15:51:22.591015Z",
		"p_parse_time":"2026-01-02T03:04:05.6789Z","p_any_ip_addresses":["216.160.83.56"],"p_any_trace_ids":["720b8360"]}`, string(out))
	// The built-in schemas are still there.
	_, err = normalize(t, p, "Duo.Administrator", []byte(`{"action":"a","isotimestamp":"2020-01-24T15:09:42+00:00","username":"admin"}`))
	require.NoError(t, err)

	bad := filepath.Join(dir, "bad.yml")
	require.NoError(t, os.WriteFile(bad, []byte("schema: Bad\nfields:\n  - name: a\n    type: strng\n"), 0o644))
	for _, files := range []string{fmt.Sprintf("[%q]", bad), `["/does/not/exist.yml"]`} {
		conf, err := duoNormalizeSpec().ParseYAML("schema_files: "+files, nil)
		require.NoError(t, err)
		_, err = newDuoNormalize(conf, service.MockResources(), pinnedOptions())
		assert.Error(t, err, files)
	}
}

// TestBatchKeepsFailuresApart checks that in a batch only the bad event is
// flagged, with its content intact, and the others are normalized.
func TestBatchKeepsFailuresApart(t *testing.T) {
	p := newTestProc(t, `{}`)
	good := `{"action":"a","isotimestamp":"2020-01-24T15:09:42+00:00","username":"admin"}`
	bad := `{"action":"a","isotimestamp":"2021-07-20T11: 41: 31+00: 00","username":"admin"}`
	var batch service.MessageBatch
	for _, ev := range []string{good, bad, good} {
		m := service.NewMessage([]byte(ev))
		m.MetaSetMut("duo_log_type", "Duo.Administrator")
		batch = append(batch, m)
	}
	out, err := p.ProcessBatch(t.Context(), batch)
	require.NoError(t, err)
	require.Len(t, out, 1)
	require.Len(t, out[0], 3)
	for i, m := range out[0] {
		b, err := m.AsBytes()
		require.NoError(t, err)
		if i == 1 {
			assert.EqualError(t, m.GetError(), `Duo.Administrator: field "isotimestamp": "2021-07-20T11: 41: 31+00: 00" is not an RFC 3339 timestamp`)
			assert.Equal(t, bad, string(b))
			continue
		}
		assert.NoError(t, m.GetError())
		assert.Contains(t, string(b), `"p_log_type":"Duo.Administrator"`)
	}
}

// TestConcurrentUse runs one processor from many goroutines, as pipeline
// threads share it; run with -race.
func TestConcurrentUse(t *testing.T) {
	p := newTestProc(t, `{}`)
	line, err := os.ReadFile("testdata/golden/Duo.Authentication/elastic-bool-health-fields.input.json")
	require.NoError(t, err)
	want, err := os.ReadFile("testdata/golden/Duo.Authentication/elastic-bool-health-fields.golden.json")
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				m := service.NewMessage(line)
				m.MetaSetMut("duo_log_type", "Duo.Authentication")
				out, err := p.ProcessBatch(t.Context(), service.MessageBatch{m})
				if !assert.NoError(t, err) || !assert.NoError(t, out[0][0].GetError()) {
					return
				}
				b, _ := out[0][0].AsBytes()
				assert.JSONEq(t, string(want), string(b))
			}
		})
	}
	wg.Wait()
}

// FuzzDuoNormalize feeds arbitrary messages to the processor: each comes
// out either valid JSON or flagged and unchanged; nothing panics or
// vanishes.
func FuzzDuoNormalize(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/golden/*/*.input.json")
	for _, in := range inputs {
		b, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, filepath.Base(filepath.Dir(in)))
	}
	p := newTestProc(f, `unknown_fields: keep`)
	f.Fuzz(func(t *testing.T, event []byte, logType string) {
		m := service.NewMessage(event)
		m.MetaSetMut("duo_log_type", logType)
		out, err := p.ProcessBatch(context.Background(), service.MessageBatch{m})
		if err != nil || len(out) != 1 || len(out[0]) != 1 {
			t.Fatalf("ProcessBatch = %v, %v", out, err)
		}
		b, _ := out[0][0].AsBytes()
		if perr := out[0][0].GetError(); perr != nil {
			if !bytes.Equal(b, event) {
				t.Fatalf("errored message changed: %q -> %q", event, b)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("output %q is not valid JSON", b)
		}
	})
}
