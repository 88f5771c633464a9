// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
)

// fixtureRecords reads the records of a Duo envelope in testdata, or the
// lines of an NDJSON file.
func fixtureRecords(t *testing.T, name string) []json.RawMessage {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	if strings.HasSuffix(name, ".ndjson") {
		var out []json.RawMessage
		for line := range strings.Lines(string(raw)) {
			out = append(out, json.RawMessage(strings.TrimSuffix(line, "\n")))
		}
		return out
	}
	var env struct {
		Response json.RawMessage `json:"response"`
	}
	require.NoError(t, json.Unmarshal(raw, &env))
	var v2 struct {
		AuthLogs []json.RawMessage `json:"authlogs"`
		Items    []json.RawMessage `json:"items"`
		Events   []json.RawMessage `json:"events"`
	}
	if json.Unmarshal(env.Response, &v2) == nil {
		return slices.Concat(v2.AuthLogs, v2.Items, v2.Events)
	}
	var v1 []json.RawMessage
	require.NoError(t, json.Unmarshal(env.Response, &v1))
	return v1
}

func compact(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, json.Compact(&b, raw))
	return b.String()
}

func TestAddEventsFixtures(t *testing.T) {
	tests := []struct {
		name    string
		fixture string
		typ     duoapi.LogType
		path    string
		now     time.Time
		query   url.Values
		wantIDs []string // the Event IDs, in the order served
	}{
		{
			name: "authentication", fixture: "duo_api_golang.admin_v2_logs_authentication.json",
			typ: duoapi.Authentication, path: duoapi.PathAuthenticationV2,
			now:   time.Unix(1532951962, 0).Add(time.Hour),
			query: url.Values{"mintime": {"1532951962000"}, "maxtime": {"1532951962999"}, "sort": {"ts:asc"}},
		},
		{
			name: "administrator", fixture: "duo_api_golang.admin_v1_logs_administrator.json",
			typ: duoapi.Administrator, path: duoapi.PathAdministratorV1,
			now:   time.Unix(1446172820, 0).Add(time.Hour),
			query: url.Values{"mintime": {"1346172820"}},
		},
		{
			name: "telephony v1", fixture: "duo_api_golang.admin_v1_logs_telephony.json",
			typ: duoapi.Telephony, path: duoapi.PathTelephonyV1,
			now:   time.Unix(1346172697, 0).Add(time.Hour),
			query: url.Values{"mintime": {"1346172697"}},
		},
		{
			// Fixture M: the older shape, action a string; newest first.
			name: "activity, Duo log sync", fixture: "duo_log_sync.test_get_log_offset.sample_activity_response.json",
			typ: duoapi.Activity, path: duoapi.PathActivityV2,
			now:     time.UnixMilli(1664579439635).Add(time.Hour),
			query:   url.Values{"mintime": {"1664579379635"}, "maxtime": {"1664579439635"}, "sort": {"ts:desc"}},
			wantIDs: []string{"49922e59-0ebe-421a-9635-9846252f6c0a", "5943daea-24cd-43c8-8c4b-1870cbdd9b8f", "9906fb6c-177e-4a70-8c1a-d22951b62781"},
		},
		{
			// Fixture N: the newer shape, action an object.
			name: "activity, Elastic", fixture: "elastic_integrations.cisco_duo_activity.test-activity.ndjson",
			typ: duoapi.Activity, path: duoapi.PathActivityV2,
			now:     time.UnixMilli(1679413882591).Add(time.Hour),
			query:   url.Values{"mintime": {"1679413882591"}, "maxtime": {"1679413882592"}, "sort": {"ts:asc"}},
			wantIDs: []string{"720b8360-078b-47c4-adc7-7968df1caef0"},
		},
		{
			// Fixture O.
			name: "trust monitor, Duo log sync", fixture: "duo_log_sync.test_get_log_offset.dtm_response.json",
			typ: duoapi.TrustMonitor, path: duoapi.PathTrustMonitorV1,
			now:     time.UnixMilli(1598034349059).Add(time.Hour),
			query:   url.Values{"mintime": {"1598034349059"}, "maxtime": {"1598034349060"}},
			wantIDs: []string{"SEISSBQR6V0LSGE0MU56"},
		},
		{
			// Fixture P: two events surfaced in one millisecond, and a
			// window inclusive at both ends.
			name: "trust monitor, Elastic", fixture: "elastic_integrations.cisco_duo_trust_monitor.test-trust-monitor.ndjson",
			typ: duoapi.TrustMonitor, path: duoapi.PathTrustMonitorV1,
			now:     time.UnixMilli(1675893605269).Add(time.Hour),
			query:   url.Values{"mintime": {"1605602911680"}, "maxtime": {"1675893605269"}},
			wantIDs: []string{"SEDOR9BP00L23C6YUH5", "SEDOR9BP00L23C6YUH6", "SEDOR9BP00L23C6YUH7"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			records := fixtureRecords(t, tt.fixture)
			require.NotEmpty(t, records)
			// The administrator fixture spans three years.
			h := newHarness(t, Config{Retention: 5 * 365 * 24 * time.Hour})
			h.clock.Set(tt.now)
			require.NoError(t, h.srv.AddEvents(tt.typ, records...))

			status, body := h.get(tt.path, tt.query)
			require.Equal(t, 200, status, "body %s", body)
			var want []string
			for _, r := range records {
				want = append(want, compact(t, r))
			}
			if tt.wantIDs != nil {
				var ids []string
				for _, e := range h.srv.Events(tt.typ, time.UnixMilli(0), tt.now) {
					ids = append(ids, e.ID)
				}
				if tt.query.Get("sort") == "ts:desc" {
					slices.Reverse(ids)
				}
				assert.Equal(t, tt.wantIDs, ids)
			}
			switch endpoints[tt.path].paging {
			case pagingV2:
				var page v2Page
				require.NoError(t, json.Unmarshal(body, &page))
				assert.Equal(t, want, strs(page.records()))
				assert.Equal(t, "null", string(page.Response.Metadata.NextOffset))
				assert.Equal(t, len(want), page.Response.Metadata.TotalObjects)
				return
			case pagingTrustMonitor:
				page := decodeTMPage(t, body)
				assert.Equal(t, want, strs(page.Response.Events))
				assert.Empty(t, page.Response.Metadata, "no next_offset at the end")
				return
			}
			var page v1Page
			require.NoError(t, json.Unmarshal(body, &page))
			assert.Equal(t, want, strs(page.Response))
		})
	}
}

func TestTelephonyForms(t *testing.T) {
	at := epoch.Add(-time.Hour)
	h := newHarness(t, Config{Seed: 2})
	v2Form := json.RawMessage(`{"context":"administrator login","credits":0,"phone":"+13135559542",` +
		`"telephony_id":"5bf1a860-fe39-49e3-be29-217659663a74","ts":"` + at.Add(304526*time.Microsecond).Format(isoMicros) + `",` +
		`"txid":"fb0c129b-f994-4d3d-953b-c3e764272eb7","type":"sms"}`)
	v1Form := json.RawMessage(`{"context": "authentication", "credits": 1, "phone": "+15035550100", "timestamp": ` + sec(at.Add(time.Minute)) + `, "type": "sms"}`)
	require.NoError(t, h.srv.AddEvents(duoapi.Telephony, v2Form, v1Form))

	events := h.srv.Events(duoapi.Telephony, at, at.Add(time.Hour))
	require.Len(t, events, 2)

	// Given in the v2 form: served as given on v2, derived for v1.
	assert.Equal(t, string(v2Form), string(events[0].Body))
	assert.Equal(t, "5bf1a860-fe39-49e3-be29-217659663a74", events[0].ID)
	assert.Equal(t, at.Add(304*time.Millisecond), events[0].Time)
	assert.JSONEq(t, `{"context":"administrator login","credits":0,"isotimestamp":"`+at.Format(isoSeconds)+`",`+
		`"phone":"+13135559542","timestamp":`+sec(at)+`,"type":"sms"}`, string(events[0].V1Body))

	// Given in the v1 form: served as given (compacted) on v1, derived for v2.
	assert.Equal(t, compact(t, v1Form), string(events[1].V1Body))
	var derived map[string]any
	require.NoError(t, json.Unmarshal(events[1].Body, &derived))
	assert.Regexp(t, reUUID, derived["telephony_id"])
	assert.Regexp(t, reUUID, derived["txid"])
	assert.Equal(t, derived["telephony_id"], events[1].ID)
	assert.Equal(t, at.Add(time.Minute).Format(isoMicros), derived["ts"])
	for _, k := range []string{"isotimestamp", "timestamp"} {
		assert.NotContains(t, derived, k)
	}
	assert.Equal(t, "authentication", derived["context"])

	// Both endpoints serve them.
	status, body := h.get(duoapi.PathTelephonyV2, url.Values{"mintime": {ms(at)}, "maxtime": {ms(at.Add(time.Hour))}, "sort": {"ts:asc"}})
	require.Equal(t, 200, status)
	var page v2Page
	require.NoError(t, json.Unmarshal(body, &page))
	assert.Equal(t, []string{string(events[0].Body), string(events[1].Body)}, strs(page.Response.Items))
	status, body = h.get(duoapi.PathTelephonyV1, url.Values{"mintime": {sec(at)}})
	require.Equal(t, 200, status)
	var v1 v1Page
	require.NoError(t, json.Unmarshal(body, &v1))
	assert.Equal(t, []string{string(events[0].V1Body), string(events[1].V1Body)}, strs(v1.Response))
}

func TestAddEventsErrors(t *testing.T) {
	at := epoch.Add(-time.Hour)
	authAt := `"isotimestamp":"` + at.Format(isoMicros) + `"`
	activityAt := `"ts":"` + at.Format(isoMicros) + `"`
	surfaced := `"surfaced_timestamp":` + ms(at)
	tests := []struct {
		name    string
		typ     duoapi.LogType
		records []string
		wantErr string
	}{
		{"not JSON", duoapi.Administrator, []string{`{`}, "add administrator event 0: not a JSON object"},
		{"an array", duoapi.Administrator, []string{`[]`}, "add administrator event 0: not a JSON object"},
		{"null", duoapi.Administrator, []string{`null`}, "add administrator event 0: not a JSON object"},
		{"unknown type", "endpoint", []string{`{}`}, `add endpoint event 0: unknown log type "endpoint"`},
		{"auth without txid", duoapi.Authentication, []string{`{` + authAt + `}`}, "add authentication event 0: missing field txid"},
		{"auth with a numeric txid", duoapi.Authentication, []string{`{` + authAt + `,"txid":5}`}, "add authentication event 0: field txid: want a non-empty string, got 5"},
		{"auth without time", duoapi.Authentication, []string{`{"txid":"a"}`}, "add authentication event 0: missing field timestamp"},
		{"auth with a bad isotimestamp", duoapi.Authentication, []string{`{"isotimestamp":"2021-07-20T11: 41: 31+00: 00","txid":"a"}`},
			`add authentication event 0: field isotimestamp: "2021-07-20T11: 41: 31+00: 00" is not an ISO 8601 time`},
		{"administrator without timestamp", duoapi.Administrator, []string{`{"action":"x"}`}, "add administrator event 0: missing field timestamp"},
		{"administrator with a string timestamp", duoapi.Administrator, []string{`{"timestamp":"1"}`}, `add administrator event 0: field timestamp: want an integer, got "1"`},
		{"telephony without time", duoapi.Telephony, []string{`{"phone":"+1"}`}, "add telephony event 0: missing field timestamp (or ts, for the v2 form)"},
		{"telephony v2 without ID", duoapi.Telephony, []string{`{"ts":"` + at.Format(isoMicros) + `"}`}, "add telephony event 0: missing field telephony_id"},
		{"before 2001", duoapi.OfflineEnrollment, []string{`{"timestamp":999999999}`}, "add offline_enrollment event 0: event time 999999999000 ms is not a 13-digit millisecond timestamp"},
		{"second record bad", duoapi.Administrator, []string{`{"timestamp":` + sec(at) + `}`, `{}`}, "add administrator event 1: missing field timestamp"},
		{"same ID twice", duoapi.Authentication, []string{`{` + authAt + `,"txid":"a"}`, `{` + authAt + `,"txid":"a"}`},
			`add authentication events: two authentication events at ` + ms(at) + ` ms have ID "a"`},
		{"an ID that exists", duoapi.Authentication, []string{`{` + authAt + `,"txid":"existing"}`},
			`add authentication events: a authentication event at ` + ms(at) + ` ms with ID "existing" already exists`},
		{"activity without activity_id", duoapi.Activity, []string{`{` + activityAt + `}`}, "add activity event 0: missing field activity_id"},
		{"activity without ts", duoapi.Activity, []string{`{"activity_id":"a"}`}, "add activity event 0: missing field ts"},
		{"activity with a bad ts", duoapi.Activity, []string{`{"activity_id":"a","ts":"yesterday"}`}, `add activity event 0: field ts: "yesterday" is not an ISO 8601 time`},
		{"activity with the same ID twice", duoapi.Activity, []string{`{` + activityAt + `,"activity_id":"a"}`, `{` + activityAt + `,"activity_id":"a"}`},
			`add activity events: two activity events at ` + ms(at) + ` ms have ID "a"`},
		{"trust monitor without sekey", duoapi.TrustMonitor, []string{`{` + surfaced + `}`}, "add trust_monitor event 0: missing field sekey"},
		{"trust monitor without surfaced_timestamp", duoapi.TrustMonitor, []string{`{"sekey":"SE1"}`}, "add trust_monitor event 0: missing field surfaced_timestamp"},
		{"trust monitor surfaced in seconds", duoapi.TrustMonitor, []string{`{"sekey":"SE1","surfaced_timestamp":1605602911}`},
			"add trust_monitor event 0: event time 1605602911 ms is not a 13-digit millisecond timestamp"},
		{"trust monitor with a numeric type", duoapi.TrustMonitor, []string{`{"sekey":"SE1",` + surfaced + `,"type":5}`}, "add trust_monitor event 0: field type: want a string, got 5"},
		{"trust monitor with the same sekey twice", duoapi.TrustMonitor, []string{`{"sekey":"SE1",` + surfaced + `}`, `{"sekey":"SE1",` + surfaced + `}`},
			`add trust_monitor events: two trust_monitor events at ` + ms(at) + ` ms have ID "SE1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Config{})
			require.NoError(t, err)
			require.NoError(t, s.AddEvents(duoapi.Authentication, json.RawMessage(`{`+authAt+`,"txid":"existing"}`)))
			var records []json.RawMessage
			for _, r := range tt.records {
				records = append(records, json.RawMessage(r))
			}
			assert.EqualError(t, s.AddEvents(tt.typ, records...), tt.wantErr)
			for _, typ := range duoapi.AllLogTypes {
				want := 0
				if typ == duoapi.Authentication {
					want = 1
				}
				assert.Equal(t, want, s.CountEvents(typ, epoch.Add(-100*24*time.Hour), epoch), "a failed call adds nothing")
			}
		})
	}
}

func TestEventsRange(t *testing.T) {
	s, err := New(Config{})
	require.NoError(t, err)
	base := epoch.Add(-time.Hour)
	for i, d := range []time.Duration{0, time.Millisecond, 2 * time.Millisecond, time.Second} {
		at := base.Add(d)
		require.NoError(t, s.AddEvents(duoapi.Authentication, json.RawMessage(
			`{"isotimestamp":"`+at.Format(isoMicros)+`","txid":"t`+string(rune('0'+i))+`"}`)))
	}
	tests := []struct {
		name     string
		from, to time.Time
		wantIDs  []string
	}{
		{"all", base, base.Add(time.Hour), []string{"t0", "t1", "t2", "t3"}},
		{"to is exclusive", base, base.Add(2 * time.Millisecond), []string{"t0", "t1"}},
		{"from is inclusive", base.Add(time.Millisecond), base.Add(time.Second), []string{"t1", "t2"}},
		{"from inside a millisecond starts at the next", base.Add(time.Microsecond), base.Add(time.Hour), []string{"t1", "t2", "t3"}},
		{"to inside a millisecond includes it", base, base.Add(time.Millisecond + time.Microsecond), []string{"t0", "t1"}},
		{"empty", base.Add(time.Minute), base.Add(time.Hour), nil},
		{"backwards", base.Add(time.Hour), base, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ids []string
			for _, e := range s.Events(duoapi.Authentication, tt.from, tt.to) {
				ids = append(ids, e.ID)
				assert.Equal(t, duoapi.Authentication, e.Type)
			}
			assert.Equal(t, tt.wantIDs, ids)
			assert.Equal(t, len(tt.wantIDs), s.CountEvents(duoapi.Authentication, tt.from, tt.to))
		})
	}
	assert.Nil(t, s.Events("endpoint", base, base.Add(time.Hour)))
	assert.Zero(t, s.CountEvents("endpoint", base, base.Add(time.Hour)))

	// Events returns copies.
	e := s.Events(duoapi.Authentication, base, base.Add(time.Millisecond))
	e[0].Body[0] = 'X'
	assert.Equal(t, byte('{'), s.Events(duoapi.Authentication, base, base.Add(time.Millisecond))[0].Body[0])
}

func TestRequestLog(t *testing.T) {
	h := newHarness(t, Config{})
	q := url.Values{"mintime": {"0"}, "extra": {"a", "b"}}
	ua := "duostream/1.2.3 (host-a-42)"
	h.get(duoapi.PathAdministratorV1, q, withUserAgent(ua))
	h.clock.Advance(time.Second)
	h.get(duoapi.PathOfflineEnrollmentV1, url.Values{"mintime": {"x"}}, withUserAgent(ua))
	h.get(duoapi.PathOfflineEnrollmentV1, url.Values{"mintime": {"x"}})

	recs := h.srv.Requests()
	require.Len(t, recs, 3)
	assert.Equal(t, RequestRecord{Time: epoch, Method: "GET", Path: duoapi.PathAdministratorV1, Query: q, Status: 200,
		UserAgent: ua}, recs[0])
	assert.Equal(t, RequestRecord{Time: epoch.Add(time.Second), Method: "GET", Path: duoapi.PathOfflineEnrollmentV1,
		Query: url.Values{"mintime": {"x"}}, Status: 400, Code: 40002, UserAgent: ua}, recs[1])
	assert.Equal(t, "Go-http-client/1.1", recs[2].UserAgent, "a request without our header has Go's")
	assert.Equal(t, map[PathStatus]int{
		{duoapi.PathAdministratorV1, 200}:     1,
		{duoapi.PathOfflineEnrollmentV1, 400}: 2,
	}, h.srv.RequestCounts())

	// The log is a copy.
	recs[0].Query.Set("mintime", "changed")
	assert.Equal(t, "0", h.srv.Requests()[0].Query.Get("mintime"))

	h.srv.ResetRequests()
	assert.Empty(t, h.srv.Requests())
	assert.Empty(t, h.srv.RequestCounts())
}

func TestRequestLogCap(t *testing.T) {
	var rs requestStats
	for i := range maxRequestLog + 10 {
		rs.add(RequestRecord{Path: "/p", Status: i})
	}
	total := 0
	for _, n := range rs.counts {
		total += n
	}
	assert.Equal(t, maxRequestLog+10, total, "every request is counted")
	assert.LessOrEqual(t, len(rs.log), maxRequestLog)
	assert.Equal(t, maxRequestLog+9, rs.log[len(rs.log)-1].Status, "the newest are kept")
	assert.Equal(t, maxRequestLog/2, rs.log[0].Status)
}
