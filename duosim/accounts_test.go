// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
)

// The child accounts of the tests: two ordinary ones, a Duo Federal one and
// a cross-deployment one.
var (
	childA = ChildConfig{ID: "DAGOODCHILDACCOUNTID", Name: "Child Account 1", APIHostname: "api-a1b2c3d4.duosecurity.com"}
	childB = ChildConfig{ID: "DA9VZOC5X63I2W72NRP9", Name: "Northwind Dental", APIHostname: "api-e5f6a7b8.duosecurity.com"}
	// childFed lives in Duo Federal: its hostname is not on duosecurity.com.
	childFed   = ChildConfig{ID: "DAFEDERALCHILD000001", Name: "Federal Agency", APIHostname: "api-f0e1d2c3.duofederal.com"}
	childCross = ChildConfig{ID: "DACROSSDEPLOYMENT001", Name: "Elsewhere Inc", APIHostname: "api-c9d8e7f6.duosecurity.com", CrossDeployment: true}
)

// newMSP returns a harness whose integration has Accounts API access and
// whose parent has the given children.
func newMSP(t *testing.T, cfg Config, children ...ChildConfig) *harness {
	t.Helper()
	cfg.AccountsAPI = true
	cfg.Children = children
	return newHarness(t, cfg)
}

// forChild returns params with account_id set to id.
func forChild(params url.Values, id string) url.Values {
	out := cloneValues(params)
	out.Set("account_id", id)
	return out
}

// listSpec says how to sign and send an account list request; the zero
// value signs like Duo's Python client: v5, a JSON body {}, the
// simulator's credentials and host.
type listSpec struct {
	version     duoapi.SignatureVersion // default v5
	host        string                  // signed host; default the simulator's
	skey        string
	method      string
	dateHeader  string // "Date" (default) or "X-Duo-Date"
	contentType string // default by version: JSON for v5, a form for v2
	body        string // default by version: "{}" for v5, empty for v2
	signedBody  string // default body
	// signedParams are the parameters signed; sent as the body of a form.
	signedParams url.Values
}

// listRequest builds an account list request as spec says.
func (h *harness) listRequest(spec listSpec) *http.Request {
	h.t.Helper()
	if spec.version == 0 {
		spec.version = duoapi.SignatureV5
	}
	v5 := spec.version == duoapi.SignatureV5
	if spec.host == "" {
		spec.host = h.srv.APIHost()
	}
	if spec.skey == "" {
		spec.skey = h.srv.SecretKey()
	}
	if spec.method == "" {
		spec.method = http.MethodPost
	}
	if spec.dateHeader == "" {
		spec.dateHeader = "Date"
	}
	if spec.contentType == "" {
		spec.contentType = map[bool]string{true: "application/json", false: "application/x-www-form-urlencoded"}[v5]
	}
	if spec.body == "" && v5 {
		spec.body = "{}"
	}
	if spec.body == "" && spec.signedParams != nil {
		spec.body = duoapi.CanonicalParams(spec.signedParams)
	}
	if spec.signedBody == "" {
		spec.signedBody = spec.body
	}
	date := duoapi.FormatDate(h.clock.Now())
	signed := duoapi.Request{Date: date, Method: spec.method, Host: spec.host, Path: duoapi.PathAccountList, Params: spec.signedParams, Body: []byte(spec.signedBody)}
	if spec.dateHeader == "X-Duo-Date" {
		signed.DuoHeaders = map[string]string{"X-Duo-Date": date}
	}
	authz, err := duoapi.Authorization(spec.version, h.srv.IntegrationKey(), spec.skey, signed)
	require.NoError(h.t, err)
	req, err := http.NewRequestWithContext(h.t.Context(), spec.method, h.srv.URL+duoapi.PathAccountList, strings.NewReader(spec.body))
	require.NoError(h.t, err)
	req.Header.Set(spec.dateHeader, date)
	req.Header.Set("Authorization", authz)
	req.Header.Set("Content-Type", spec.contentType)
	return req
}

func TestAccountList(t *testing.T) {
	msp := newMSP(t, Config{}, childA, childFed, childCross)
	wantList := `{"response":[` +
		`{"account_id":"DAGOODCHILDACCOUNTID","api_hostname":"api-a1b2c3d4.duosecurity.com","name":"Child Account 1"},` +
		`{"account_id":"DAFEDERALCHILD000001","api_hostname":"api-f0e1d2c3.duofederal.com","name":"Federal Agency"},` +
		`{"account_id":"DACROSSDEPLOYMENT001","api_hostname":"api-c9d8e7f6.duosecurity.com","name":"Elsewhere Inc"}` +
		`],"stat":"OK"}`
	tests := []struct {
		name           string
		h              *harness
		spec           listSpec
		wantStatus     int
		wantCode       int
		wantBody       string // for a 200
		wantSignedHost string
	}{
		{name: "v5, JSON body {}", h: msp, wantStatus: 200, wantBody: wantList},
		{name: "v5 with X-Duo-Date", h: msp, spec: listSpec{dateHeader: "X-Duo-Date"}, wantStatus: 200, wantBody: wantList},
		{name: "v2, empty form body", h: msp, spec: listSpec{version: duoapi.SignatureV2}, wantStatus: 200, wantBody: wantList},
		{name: "v2 HMAC-SHA1", h: msp, spec: listSpec{version: duoapi.SignatureV2SHA1}, wantStatus: 200, wantBody: wantList},
		{name: "v2, no content type", h: msp, spec: listSpec{version: duoapi.SignatureV2, contentType: "-"}, wantStatus: 200, wantBody: wantList},
		{name: "v2, form parameters signed", h: msp, spec: listSpec{version: duoapi.SignatureV2, signedParams: url.Values{"realname": {"First Last"}}}, wantStatus: 200, wantBody: wantList},
		{name: "v2, form body differs from what was signed", h: msp, spec: listSpec{version: duoapi.SignatureV2, signedParams: url.Values{"realname": {"First Last"}}, body: "realname=Someone%20Else"}, wantStatus: 401, wantCode: 40103},
		{name: "v5, JSON body differs from what was signed", h: msp, spec: listSpec{signedBody: `{"a":1}`}, wantStatus: 401, wantCode: 40103},
		{name: "signed for a child's host", h: msp, spec: listSpec{host: childA.APIHostname}, wantStatus: 401, wantCode: 40103, wantSignedHost: childA.APIHostname},
		{name: "wrong secret key", h: msp, spec: listSpec{skey: "wrong"}, wantStatus: 401, wantCode: 40103},
		{name: "GET", h: msp, spec: listSpec{method: http.MethodGet}, wantStatus: 405, wantCode: 40501},
		{name: "no Accounts API access", h: newHarness(t, Config{}), wantStatus: 403, wantCode: 40301},
		{name: "no children", h: newMSP(t, Config{}), wantStatus: 200, wantBody: `{"response":[],"stat":"OK"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.h.srv.ResetRequests()
			req := tt.h.listRequest(tt.spec)
			if tt.spec.contentType == "-" {
				req.Header.Del("Content-Type")
			}
			status, header, body := tt.h.do(req)
			require.Equal(t, tt.wantStatus, status, "body %s", body)
			assert.Equal(t, "application/json", header.Get("Content-Type"))
			if tt.wantStatus == 200 {
				assert.Equal(t, tt.wantBody, string(body))
			} else {
				f := decodeFailure(t, body)
				assert.Equal(t, "FAIL", f.Stat)
				assert.Equal(t, tt.wantCode, f.Code)
			}
			recs := tt.h.srv.Requests()
			require.Len(t, recs, 1)
			assert.Equal(t, duoapi.PathAccountList, recs[0].Path)
			assert.Empty(t, recs[0].AccountID)
			assert.Equal(t, tt.wantSignedHost, recs[0].SignedHost)
		})
	}
}

func TestChildLogs(t *testing.T) {
	h := newMSP(t, Config{}, childA, childB, childFed, childCross)
	// One authentication event in each account, told apart by its txid.
	at := epoch.Add(-time.Hour)
	addAuth := func(add func(duoapi.LogType, ...json.RawMessage) error, txid string) {
		rec := fmt.Sprintf(`{"txid":%q,"isotimestamp":%q}`, txid, formatMicros(at))
		require.NoError(t, add(duoapi.Authentication, json.RawMessage(rec)))
	}
	addAuth(h.srv.AddEvents, "parent")
	for _, c := range []ChildConfig{childA, childB, childFed, childCross} {
		addAuth(h.srv.Child(c.ID).AddEvents, c.ID)
	}
	query := url.Values{"mintime": {ms(epoch.Add(-2 * time.Hour))}, "maxtime": {ms(epoch.Add(-5 * time.Minute))}}
	tests := []struct {
		name           string
		params         url.Values
		opts           []reqOpt
		wantStatus     int
		wantCode       int
		wantTxID       string // the event a 200 returns
		wantSignedHost string
	}{
		{name: "parent, no account_id", params: query, wantStatus: 200, wantTxID: "parent"},
		{name: "child signed for its host", params: forChild(query, childA.ID), opts: []reqOpt{withHost(childA.APIHostname)},
			wantStatus: 200, wantTxID: childA.ID, wantSignedHost: childA.APIHostname},
		{name: "child, v5", params: forChild(query, childA.ID), opts: []reqOpt{withHost(childA.APIHostname), withVersion(duoapi.SignatureV5)},
			wantStatus: 200, wantTxID: childA.ID, wantSignedHost: childA.APIHostname},
		{name: "child, v2 HMAC-SHA1", params: forChild(query, childA.ID), opts: []reqOpt{withHost(childA.APIHostname), withVersion(duoapi.SignatureV2SHA1)},
			wantStatus: 200, wantTxID: childA.ID, wantSignedHost: childA.APIHostname},
		{name: "child, its host in upper case", params: forChild(query, childB.ID), opts: []reqOpt{withHost(strings.ToUpper(childB.APIHostname))},
			wantStatus: 200, wantTxID: childB.ID, wantSignedHost: childB.APIHostname},
		{name: "Duo Federal child", params: forChild(query, childFed.ID), opts: []reqOpt{withHost(childFed.APIHostname)},
			wantStatus: 200, wantTxID: childFed.ID, wantSignedHost: childFed.APIHostname},
		{name: "child signed for the parent's host", params: forChild(query, childA.ID),
			wantStatus: 401, wantCode: 40103},
		{name: "child signed for another child's host", params: forChild(query, childA.ID), opts: []reqOpt{withHost(childB.APIHostname)},
			wantStatus: 401, wantCode: 40103, wantSignedHost: childB.APIHostname},
		{name: "child, wrong secret key", params: forChild(query, childA.ID), opts: []reqOpt{withHost(childA.APIHostname), withSKey("wrong")},
			wantStatus: 401, wantCode: 40103},
		{name: "child, account_id sent but not signed", params: query,
			opts:       []reqOpt{withHost(childA.APIHostname), withRawQuery(duoapi.CanonicalParams(forChild(query, childA.ID)))},
			wantStatus: 401, wantCode: 40103},
		{name: "child's host without account_id", params: query, opts: []reqOpt{withHost(childA.APIHostname)},
			wantStatus: 401, wantCode: 40103, wantSignedHost: childA.APIHostname},
		{name: "not a child, signed for the parent's host", params: forChild(query, "DANOTACHILD000000001"),
			wantStatus: 403, wantCode: 40301},
		{name: "not a child, signed for a child's host", params: forChild(query, "DANOTACHILD000000001"), opts: []reqOpt{withHost(childA.APIHostname)},
			wantStatus: 403, wantCode: 40301, wantSignedHost: childA.APIHostname},
		{name: "not a child, signed for an unknown host", params: forChild(query, "DANOTACHILD000000001"), opts: []reqOpt{withHost("api-00000000.duosecurity.com")},
			wantStatus: 401, wantCode: 40103},
		{name: "empty account_id", params: forChild(query, ""),
			wantStatus: 403, wantCode: 40301},
		{name: "account_id given twice", params: func() url.Values { q := forChild(query, childB.ID); q.Add("account_id", childA.ID); return q }(),
			opts: []reqOpt{withHost(childA.APIHostname)}, wantStatus: 400, wantCode: 40002, wantSignedHost: childA.APIHostname},
		{name: "cross-deployment child", params: forChild(query, childCross.ID), opts: []reqOpt{withHost(childCross.APIHostname)},
			wantStatus: 403, wantCode: 40301, wantSignedHost: childCross.APIHostname},
		{name: "cross-deployment child signed for the parent's host", params: forChild(query, childCross.ID),
			wantStatus: 401, wantCode: 40103},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.srv.ResetRequests()
			req := h.newRequest(duoapi.PathAuthenticationV2, tt.params, tt.opts...)
			status, _, body := h.do(req)
			require.Equal(t, tt.wantStatus, status, "body %s", body)
			if tt.wantStatus == 200 {
				var page v2Page
				require.NoError(t, json.Unmarshal(body, &page))
				require.Len(t, page.records(), 1)
				var ev struct{ TxID string }
				require.NoError(t, json.Unmarshal(page.records()[0], &ev))
				assert.Equal(t, tt.wantTxID, ev.TxID)
			} else {
				assert.Equal(t, tt.wantCode, decodeFailure(t, body).Code)
			}
			recs := h.srv.Requests()
			require.Len(t, recs, 1)
			assert.Equal(t, req.URL.Query().Get("account_id"), recs[0].AccountID)
			assert.Equal(t, tt.wantSignedHost, recs[0].SignedHost)
			assert.Equal(t, map[PathStatus]int{{duoapi.PathAuthenticationV2, tt.wantStatus}: 1}, h.srv.AccountRequestCounts(recs[0].AccountID))
		})
	}
}

// TestChildIsolation checks that every log endpoint serves each account
// its own events, and that a Trust Monitor offset is accepted back only by
// the account it was issued for.
func TestChildIsolation(t *testing.T) {
	h := newMSP(t, Config{Seed: 3}, childA, childB)
	from, to := epoch.Add(-3*time.Hour), epoch.Add(-time.Hour)
	accounts := []struct {
		id    string // "" for the parent
		host  string
		store *accountStore
		n     int
	}{
		{"", DefaultAPIHost, &h.srv.accountStore, 30},
		{childA.ID, childA.APIHostname, &h.srv.Child(childA.ID).accountStore, 250},
		{childB.ID, childB.APIHostname, &h.srv.Child(childB.ID).accountStore, 10},
	}
	for _, a := range accounts {
		for _, typ := range duoapi.AllLogTypes {
			require.NoError(t, a.store.Generate(typ, a.n, from, to))
		}
	}
	type request struct {
		path   string
		params url.Values
	}
	v2 := url.Values{"mintime": {ms(from)}, "maxtime": {ms(to)}, "limit": {"1000"}}
	requests := map[duoapi.LogType]request{
		duoapi.Authentication:    {duoapi.PathAuthenticationV2, v2},
		duoapi.Telephony:         {duoapi.PathTelephonyV2, v2},
		duoapi.Activity:          {duoapi.PathActivityV2, v2},
		duoapi.TrustMonitor:      {duoapi.PathTrustMonitorV1, url.Values{"mintime": {ms(from)}, "maxtime": {ms(to)}, "limit": {"200"}}},
		duoapi.Administrator:     {duoapi.PathAdministratorV1, url.Values{"mintime": {sec(from)}}},
		duoapi.OfflineEnrollment: {duoapi.PathOfflineEnrollmentV1, url.Values{"mintime": {sec(from)}}},
	}

	seen := map[string]string{} // record body → account
	for _, a := range accounts {
		for _, typ := range duoapi.AllLogTypes {
			t.Run(fmt.Sprintf("%s %s", typ, a.host), func(t *testing.T) {
				req := requests[typ]
				params := req.params
				if a.id != "" {
					params = forChild(params, a.id)
				}
				status, body := h.get(req.path, params, withHost(a.host))
				require.Equal(t, 200, status, "body %s", body)
				var records []json.RawMessage
				switch typ {
				case duoapi.Administrator, duoapi.OfflineEnrollment:
					var page v1Page
					require.NoError(t, json.Unmarshal(body, &page))
					records = page.Response
				case duoapi.TrustMonitor:
					records = decodeTMPage(t, body).Response.Events
				default:
					var page v2Page
					require.NoError(t, json.Unmarshal(body, &page))
					records = page.records()
				}
				want := min(a.n, 200) // Trust Monitor pages hold 200 at most
				if typ != duoapi.TrustMonitor {
					want = a.n
				}
				assert.Len(t, records, want)
				assert.Equal(t, a.n, a.store.CountEvents(typ, from, to.Add(time.Second)))
				for _, r := range records {
					if other, dup := seen[string(r)]; dup && other != a.id {
						t.Errorf("a record of account %q also served to %q: %s", a.id, other, r)
					}
					seen[string(r)] = a.id
				}
				if typ == duoapi.Activity && a.id != "" {
					var ev struct{ AKey string }
					require.NoError(t, json.Unmarshal(records[0], &ev))
					assert.Equal(t, a.id, ev.AKey, "a child's activity carries its account ID")
				}
			})
		}
	}

	t.Run("Trust Monitor offsets belong to one account", func(t *testing.T) {
		params := requests[duoapi.TrustMonitor].params
		status, body := h.get(duoapi.PathTrustMonitorV1, forChild(params, childA.ID), withHost(childA.APIHostname))
		require.Equal(t, 200, status)
		offset, ok := decodeTMPage(t, body).nextOffset(t, false)
		require.True(t, ok, "250 events need a second page")
		next := cloneValues(params)
		next.Set("offset", offset)
		status, body = h.get(duoapi.PathTrustMonitorV1, forChild(next, childB.ID), withHost(childB.APIHostname))
		assert.Equal(t, 400, status)
		assert.Equal(t, errOffsetNotIssued, decodeFailure(t, body).MessageDetail)
		status, body = h.get(duoapi.PathTrustMonitorV1, forChild(next, childA.ID), withHost(childA.APIHostname))
		require.Equal(t, 200, status)
		assert.Len(t, decodeTMPage(t, body).Response.Events, 50)
	})
}

func TestChildRateLimit(t *testing.T) {
	h := newMSP(t, Config{RateLimitPerMinute: 2}, childA, childB)
	query := url.Values{"mintime": {sec(epoch.Add(-time.Hour))}}
	get := func(c ChildConfig) int {
		t.Helper()
		params, host := query, DefaultAPIHost
		if c.ID != "" {
			params, host = forChild(query, c.ID), c.APIHostname
		}
		status, _ := h.get(duoapi.PathAdministratorV1, params, withHost(host))
		return status
	}
	list := func() int {
		status, _, _ := h.do(h.listRequest(listSpec{}))
		return status
	}
	parent := ChildConfig{}
	steps := []struct {
		name    string
		advance time.Duration
		account ChildConfig
		list    bool
		want    int
	}{
		{name: "child A 1", account: childA, want: 200},
		{name: "child A 2", account: childA, want: 200},
		{name: "child A over its limit", account: childA, want: 429},
		{name: "child B has its own limit", account: childB, want: 200},
		{name: "child B 2", account: childB, want: 200},
		{name: "child B over its limit", account: childB, want: 429},
		{name: "the parent has its own limit", account: parent, want: 200},
		{name: "the account list counts against the parent's", list: true, want: 200},
		{name: "the parent over its limit", account: parent, want: 429},
		{name: "the list over the parent's limit", list: true, want: 429},
		{name: "child A a minute later", advance: time.Minute + time.Second, account: childA, want: 200},
	}
	for _, st := range steps {
		h.clock.Advance(st.advance)
		if st.list {
			assert.Equal(t, st.want, list(), st.name)
		} else {
			assert.Equal(t, st.want, get(st.account), st.name)
		}
	}
	assert.Equal(t, map[PathStatus]int{{duoapi.PathAdministratorV1, 200}: 3, {duoapi.PathAdministratorV1, 429}: 1},
		h.srv.AccountRequestCounts(childA.ID))
	assert.Equal(t, map[PathStatus]int{
		{duoapi.PathAdministratorV1, 200}: 1, {duoapi.PathAdministratorV1, 429}: 1,
		{duoapi.PathAccountList, 200}: 1, {duoapi.PathAccountList, 429}: 1,
	}, h.srv.AccountRequestCounts(""))
	assert.Equal(t, 6, h.srv.RequestCounts()[PathStatus{Path: duoapi.PathAdministratorV1, Status: 200}], "every account")
}

// TestChildAccess checks what applies to children besides their own data:
// the faults and DenyLogRead of the Config, and each child's own missing
// log types.
func TestChildAccess(t *testing.T) {
	tmQuery := url.Values{"mintime": {ms(epoch.Add(-time.Hour))}, "maxtime": {ms(epoch.Add(-5 * time.Minute))}}
	noTM := childB
	noTM.Unavailable = map[duoapi.LogType]int{duoapi.TrustMonitor: 404}
	tests := []struct {
		name       string
		cfg        Config
		child      ChildConfig // the zero value for the parent
		list       bool
		wantStatus int
		wantCode   int
		wantFault  Fault
	}{
		{name: "server error fault, child", cfg: Config{Faults: Faults{ServerError: 1}}, child: childA, wantStatus: 500, wantCode: 50001, wantFault: FaultServerError},
		{name: "too many requests fault, child", cfg: Config{Faults: Faults{TooManyRequests: 1}}, child: childA, wantStatus: 429, wantCode: 42901, wantFault: FaultTooManyRequests},
		{name: "unavailable fault, list", cfg: Config{Faults: Faults{Unavailable: 1}}, list: true, wantStatus: 503, wantFault: FaultUnavailable},
		{name: "DenyLogRead, child", cfg: Config{DenyLogRead: true}, child: childA, wantStatus: 403, wantCode: 40301},
		{name: "DenyLogRead leaves the list", cfg: Config{DenyLogRead: true}, list: true, wantStatus: 200},
		{name: "a child without Trust Monitor", child: noTM, wantStatus: 404, wantCode: 40401},
		{name: "its parent has Trust Monitor", wantStatus: 200},
		{name: "and so has another child", child: childA, wantStatus: 200},
		{name: "the parent's Unavailable is its own", cfg: Config{Unavailable: map[duoapi.LogType]int{duoapi.TrustMonitor: 403}}, child: childA, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newMSP(t, tt.cfg, childA, noTM)
			var req *http.Request
			switch {
			case tt.list:
				req = h.listRequest(listSpec{})
			case tt.child.ID == "":
				req = h.newRequest(duoapi.PathTrustMonitorV1, tmQuery)
			default:
				req = h.newRequest(duoapi.PathTrustMonitorV1, forChild(tmQuery, tt.child.ID), withHost(tt.child.APIHostname))
			}
			status, _, body := h.do(req)
			require.Equal(t, tt.wantStatus, status, "body %s", body)
			if tt.wantCode != 0 {
				assert.Equal(t, tt.wantCode, decodeFailure(t, body).Code)
			}
			recs := h.srv.Requests()
			require.Len(t, recs, 1)
			assert.Equal(t, tt.wantFault, recs[0].Fault)
			assert.Equal(t, tt.child.ID, recs[0].AccountID)
		})
	}

	t.Run("a truncated list", func(t *testing.T) {
		h := newMSP(t, Config{Faults: Faults{Truncate: 1}}, childA)
		status, _, body := h.do(h.listRequest(listSpec{}))
		assert.Equal(t, 200, status)
		assert.False(t, json.Valid(body), "body %s", body)
	})
}

// listed returns the account IDs the account list gives.
func listed(t *testing.T, h *harness) []string {
	t.Helper()
	status, _, body := h.do(h.listRequest(listSpec{}))
	require.Equal(t, 200, status, "body %s", body)
	var page struct {
		Response []struct {
			AccountID string `json:"account_id"`
		} `json:"response"`
	}
	require.NoError(t, json.Unmarshal(body, &page))
	ids := []string{}
	for _, a := range page.Response {
		ids = append(ids, a.AccountID)
	}
	return ids
}

func TestChildrenAtRuntime(t *testing.T) {
	h := newMSP(t, Config{}, childA)
	query := url.Values{"mintime": {sec(epoch.Add(-time.Hour))}}
	getFor := func(c ChildConfig) (int, RequestRecord) {
		t.Helper()
		h.srv.ResetRequests()
		status, _ := h.get(duoapi.PathAdministratorV1, forChild(query, c.ID), withHost(c.APIHostname))
		return status, h.srv.Requests()[0]
	}
	assert.Equal(t, []string{childA.ID}, listed(t, h))
	status, _ := getFor(childB)
	assert.Equal(t, 401, status, "not a child yet, signed for a hostname the simulator does not know")

	b, err := h.srv.AddChild(childB)
	require.NoError(t, err)
	assert.Equal(t, []string{childA.ID, childB.ID}, listed(t, h))
	status, _ = getFor(childB)
	assert.Equal(t, 200, status)
	assert.Same(t, b, h.srv.Child(childB.ID))

	a := h.srv.Child(childA.ID)
	require.NoError(t, a.Generate(duoapi.Administrator, 5, epoch.Add(-time.Hour), epoch.Add(-10*time.Minute)))
	require.NoError(t, h.srv.RemoveChild(childA.ID))
	assert.Equal(t, []string{childB.ID}, listed(t, h))
	assert.Nil(t, h.srv.Child(childA.ID))
	assert.Equal(t, []*Child{b}, h.srv.Children())
	status, rec := getFor(childA)
	assert.Equal(t, 403, status, "a removed child is no child")
	assert.Equal(t, childA.APIHostname, rec.SignedHost)
	assert.Equal(t, 5, a.CountEvents(duoapi.Administrator, epoch.Add(-time.Hour), epoch), "the handle keeps its events")

	again, err := h.srv.AddChild(childA)
	require.NoError(t, err, "a removed child can come back")
	assert.NotSame(t, a, again)
	assert.Zero(t, again.CountEvents(duoapi.Administrator, epoch.Add(-time.Hour), epoch), "with no events")
	assert.Equal(t, []string{childB.ID, childA.ID}, listed(t, h))
	status, _ = getFor(childA)
	assert.Equal(t, 200, status)
}

func TestChildErrors(t *testing.T) {
	h := newMSP(t, Config{}, childA)
	tests := []struct {
		name    string
		child   ChildConfig
		wantErr string
	}{
		{"empty ID", ChildConfig{APIHostname: "api-00000001.duosecurity.com"}, "add child : empty account ID"},
		{"ID taken", ChildConfig{ID: childA.ID, APIHostname: "api-00000001.duosecurity.com"}, "add child DAGOODCHILDACCOUNTID: already a child account"},
		{"empty hostname", ChildConfig{ID: "DA000000000000000001"}, "add child DA000000000000000001: empty API hostname"},
		{"the parent's hostname", ChildConfig{ID: "DA000000000000000001", APIHostname: strings.ToUpper(DefaultAPIHost)},
			"add child DA000000000000000001: API hostname API-DUOSIM00.DUOSECURITY.COM is already the parent's"},
		{"another child's hostname", ChildConfig{ID: "DA000000000000000001", APIHostname: childA.APIHostname},
			"add child DA000000000000000001: API hostname api-a1b2c3d4.duosecurity.com is already child DAGOODCHILDACCOUNTID's"},
		{"bad Unavailable", ChildConfig{ID: "DA000000000000000001", APIHostname: "api-00000001.duosecurity.com", Unavailable: map[duoapi.LogType]int{duoapi.Activity: 500}},
			"add child DA000000000000000001: unavailable activity: status 500 is neither 403 nor 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := h.srv.AddChild(tt.child)
			assert.EqualError(t, err, tt.wantErr)
		})
	}
	assert.Equal(t, []string{childA.ID}, listed(t, h), "no failed child was added")

	_, err := New(Config{Children: []ChildConfig{childA}})
	assert.EqualError(t, err, "add child DAGOODCHILDACCOUNTID: the integration has no Accounts API access (Config.AccountsAPI)")
	_, err = New(Config{AccountsAPI: true, Children: []ChildConfig{childA, childA}})
	assert.EqualError(t, err, "add child DAGOODCHILDACCOUNTID: already a child account")
	assert.EqualError(t, h.srv.RemoveChild(childB.ID), "remove child DA9VZOC5X63I2W72NRP9: not a child account")
	_, err = h.srv.GenerateChildren(-1)
	assert.EqualError(t, err, "generate children: count -1 is negative")
	plain, err := New(Config{})
	require.NoError(t, err)
	_, err = plain.GenerateChildren(1)
	assert.EqualError(t, err, "generate children: the integration has no Accounts API access (Config.AccountsAPI)")
}

var (
	reAccountID  = regexp.MustCompile(`^DA[0-9A-Z]{18}$`)
	reChildHost  = regexp.MustCompile(`^api-[0-9a-z]{8}\.duosecurity\.com$`)
	reChildNames = regexp.MustCompile(`^[A-Z][A-Za-z ]+[a-z]( \d+)?$`)
)

func TestGenerateChildren(t *testing.T) {
	generated := func(seed uint64, n int) (*Sim, []ChildConfig) {
		s, err := New(Config{Seed: seed, AccountsAPI: true})
		require.NoError(t, err)
		children, err := s.GenerateChildren(n)
		require.NoError(t, err)
		require.Len(t, children, n)
		var out []ChildConfig
		for _, c := range children {
			out = append(out, ChildConfig{ID: c.ID(), Name: c.Name(), APIHostname: c.APIHost(), CrossDeployment: c.CrossDeployment()})
		}
		return s, out
	}
	a, aChildren := generated(7, 40)
	_, bChildren := generated(7, 40)
	_, cChildren := generated(8, 40)
	assert.Equal(t, aChildren, bChildren, "same seed, same children")
	assert.NotEqual(t, aChildren[0], cChildren[0], "another seed, other children")

	ids, hosts, names := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, c := range aChildren {
		assert.Regexp(t, reAccountID, c.ID)
		assert.Regexp(t, reChildHost, c.APIHostname)
		assert.Regexp(t, reChildNames, c.Name)
		assert.False(t, c.CrossDeployment)
		ids[c.ID], hosts[c.APIHostname], names[c.Name] = true, true, true
	}
	assert.Len(t, ids, 40)
	assert.Len(t, hosts, 40)
	assert.Len(t, names, 40, "names are told apart, with a number when drawn twice")

	t.Run("a child's events depend on the seed and its ID only", func(t *testing.T) {
		from, to := epoch.Add(-time.Hour), epoch.Add(-10*time.Minute)
		lone, err := New(Config{Seed: 7, AccountsAPI: true, Children: []ChildConfig{aChildren[3]}})
		require.NoError(t, err)
		events := func(c *Child, typ duoapi.LogType) []string {
			require.NoError(t, c.Generate(typ, 20, from, to))
			return bodies(c.Events(typ, from, to.Add(time.Millisecond)))
		}
		for _, typ := range duoapi.AllLogTypes {
			want := events(a.Child(aChildren[3].ID), typ)
			assert.Equal(t, want, events(lone.Child(aChildren[3].ID), typ), "%s", typ)
			assert.NotEqual(t, want, events(a.Child(aChildren[4].ID), typ), "%s: another child, other events", typ)
			require.NoError(t, a.Generate(typ, 20, from, to))
			assert.NotEqual(t, want, bodies(a.Events(typ, from, to.Add(time.Millisecond))), "%s: the parent has other events", typ)
		}
	})

	t.Run("after explicit children", func(t *testing.T) {
		h := newMSP(t, Config{Seed: 7}, childA)
		more, err := h.srv.GenerateChildren(2)
		require.NoError(t, err)
		assert.Equal(t, []string{childA.ID, more[0].ID(), more[1].ID()}, listed(t, h))
		assert.Equal(t, aChildren[0].ID, more[0].ID(), "the draws do not depend on the other children")
	})
}

func TestChildRunLive(t *testing.T) {
	h := newMSP(t, Config{}, childA)
	child := h.srv.Child(childA.ID)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- child.RunLive(ctx, map[duoapi.LogType]float64{duoapi.Administrator: 2}) }()
	time.Sleep(2 * LiveTick)
	h.clock.Advance(10 * time.Second)
	require.Eventually(t, func() bool {
		return child.CountEvents(duoapi.Administrator, epoch, epoch.Add(11*time.Second)) == 20
	}, 5*time.Second, LiveTick/2)
	cancel()
	require.NoError(t, <-done)
	assert.Zero(t, h.srv.CountEvents(duoapi.Administrator, epoch, epoch.Add(11*time.Second)), "the parent gets none")
}

// TestChildAccountsWithDuoapiClient checks the simulator against the
// duoapi client: it lists the children and reads each one's log through
// ForAccount, with both signature versions, and meets the refusal of a
// cross-deployment child.
func TestChildAccountsWithDuoapiClient(t *testing.T) {
	for _, version := range []duoapi.SignatureVersion{duoapi.SignatureV2, duoapi.SignatureV5} {
		t.Run(fmt.Sprintf("v%d", version), func(t *testing.T) {
			h := newMSP(t, Config{}, childA, childFed, childCross)
			from, to := epoch.Add(-time.Hour), epoch.Add(-10*time.Minute)
			for i, c := range []ChildConfig{childA, childFed} {
				require.NoError(t, h.srv.Child(c.ID).Generate(duoapi.Authentication, 10*(i+1), from, to))
			}
			parent, err := duoapi.NewClient(duoapi.ClientConfig{
				APIHostname:       h.srv.APIHost(),
				IntegrationKey:    h.srv.IntegrationKey(),
				SecretKey:         h.srv.SecretKey(),
				BaseURL:           h.srv.URL,
				SignatureVersion:  version,
				RequestsPerMinute: 6000,
				Now:               h.clock.Now,
			})
			require.NoError(t, err)
			accounts, err := parent.ListChildAccounts(t.Context())
			require.NoError(t, err)
			require.Equal(t, []duoapi.Account{
				{ID: childA.ID, Name: childA.Name, APIHostname: childA.APIHostname},
				{ID: childFed.ID, Name: childFed.Name, APIHostname: childFed.APIHostname},
				{ID: childCross.ID, Name: childCross.Name, APIHostname: childCross.APIHostname},
			}, accounts)

			params := url.Values{"mintime": {ms(from)}, "maxtime": {ms(to)}, "limit": {"1000"}, "sort": {"ts:asc"}}
			for _, a := range accounts {
				client, err := parent.ForAccount(a)
				require.NoError(t, err)
				body, err := client.Get(t.Context(), duoapi.PathAuthenticationV2, params)
				if a.ID == childCross.ID {
					var apiErr *duoapi.APIError
					require.ErrorAs(t, err, &apiErr)
					assert.Equal(t, 403, apiErr.HTTPStatus)
					assert.Equal(t, 40301, apiErr.Code)
					continue
				}
				require.NoError(t, err, "account %s", a.ID)
				var page v2Page
				require.NoError(t, json.Unmarshal(body, &page))
				assert.Equal(t, bodies(h.srv.Child(a.ID).Events(duoapi.Authentication, from, to.Add(time.Millisecond))), strs(page.records()), "account %s", a.ID)
			}
		})
	}
}
