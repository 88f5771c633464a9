// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	childID   = "DA9VZOC5X63I2W72NRP9"
	childHost = "api-yyyyyyyy.duofederal.com"
)

var testChild = Account{ID: childID, Name: "Acme Corp", APIHostname: childHost}

// docTime is the date of the documentation's signing examples, as
// FormatDate renders it.
var docTime = time.Date(2012, 8, 21, 17, 29, 18, 0, time.UTC)

// duoSignature signs as Duo's documentation describes, written apart from
// sign.go so that the tests check the client against a second reading of
// the rules: the canonical lines joined by newlines, v5 adding the SHA-512
// of the body and of no X-Duo-* headers. canonParams is the canonical
// parameter line.
func duoSignature(v SignatureVersion, skey, date, method, host, path, canonParams string, body []byte) string {
	lines := []string{date, strings.ToUpper(method), strings.ToLower(host), path, canonParams}
	var h func() hash.Hash = sha512.New
	switch v {
	case SignatureV2SHA1:
		h = sha1.New
	case SignatureV5:
		bodySum, headerSum := sha512.Sum512(body), sha512.Sum512(nil)
		lines = append(lines, hex.EncodeToString(bodySum[:]), hex.EncodeToString(headerSum[:]))
	}
	mac := hmac.New(h, []byte(skey))
	mac.Write([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(mac.Sum(nil))
}

func basicAuth(ikey, sig string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(ikey+":"+sig))
}

// receivedSignature returns the Authorization header Duo would expect for
// a request as it was received, signed for host: a GET's parameters are its
// query, a v2 POST's its form body, and a v5 POST signs its JSON body.
func receivedSignature(t *testing.T, v SignatureVersion, r *http.Request, body []byte, host string) string {
	t.Helper()
	var params url.Values
	switch {
	case r.Method == http.MethodGet:
		params = r.URL.Query()
	case v != SignatureV5:
		var err error
		params, err = url.ParseQuery(string(body))
		require.NoError(t, err, "form body %q", body)
	}
	if r.Method == http.MethodGet {
		body = nil
	}
	return basicAuth(testIKey, duoSignature(v, testSKey, r.Header.Get("Date"), r.Method, host, r.URL.Path, CanonicalParams(params), body))
}

// TestDuoSignatureOfficialVectors checks the tests' own signer against the
// official vectors of POST /accounts/v1/account/list (duo-admin-api.md §6.4
// TV3 to TV5), so the servers below verify signatures as Duo does.
func TestDuoSignatureOfficialVectors(t *testing.T) {
	tests := []struct {
		name    string
		version SignatureVersion
		params  string
		body    string
		want    string
	}{
		{"TV3 v2 HMAC-SHA512", SignatureV2, "realname=First%20Last&username=root", "", "Basic RElXSjhYNkFFWU9SNU9NQzZUUTE6MWJmZmI4OTI0MzQ4ZjdkYjdkYTllN2Q3ZDc0OWRlZDkzYWFmZDAyZDhlOTA0OTYwZGE3Yjk2YzU3NTEwMjIwMTg1YTY0YTI4MjdlZThmMjRhYzVkMzA4MDJhOWVlOTdlNTlkZTQ0YjMwNGIxODI0MmYwZDU5NmQxNWE4MTIyYWY="},
		{"TV4 v2 HMAC-SHA1", SignatureV2SHA1, "realname=First%20Last&username=root", "", "Basic RElXSjhYNkFFWU9SNU9NQzZUUTE6MmQ5N2Q2MTY2MzE5NzgxYjVhM2EwN2FmMzlkMzY2ZjQ5MTIzNGVkYw=="},
		{"TV5 v5 JSON body", SignatureV5, "realname=First%20Last", `{"txid":"f22b1678-252a-4070-b176-0ca2be7319fd"}`, "Basic RElXSjhYNkFFWU9SNU9NQzZUUTE6NzhmNDMyN2Y4MzExNzNjYzc4ZDA5MDdlOTEzZTNjNWEyOGZlNzJkZDQ1NDVhMzQyNTg2YmI2NzE4MWYyYmEzOTNkMjA5MTFlODcwMzYyZjZmYWJhM2RjNmY3ZTlkYjVlOTNhZWQyZjNiZmMxMTBjNmRhZGFmZjRkYzYxNzllMGI="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := basicAuth(docIKey, duoSignature(tt.version, docSKey, docDate, "POST", docHost, PathAccountList, tt.params, []byte(tt.body)))
			assert.Equal(t, tt.want, got)
		})
	}
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

const accountListFixture = "duo_api_ruby.accounts_v1_account_list.json"

func TestListChildAccounts(t *testing.T) {
	// The want headers are derived, not official: the signature of the
	// list call (no parameters) at docTime, computed with Python's hmac
	// by the rules that reproduce TV3 to TV5.
	tests := []struct {
		name        string
		version     SignatureVersion
		contentType string
		body        string
		wantHex     string
	}{
		{"v2", SignatureV2, "application/x-www-form-urlencoded", "", "837b201d34a4ddcabd6dd3db9383e9209704c7989d3cbe1e94431b6179eaa37b8035a7a0a397e02a33a2b82bf1456eb660b86d343df55f5e15c81478a6d18b7a"},
		{"v2 SHA1", SignatureV2SHA1, "application/x-www-form-urlencoded", "", "3e83aed4bae0c34d1f964e9f806c0f50e5ef88a3"},
		{"v5", SignatureV5, "application/json", "{}", "68b66d2eb24e01ee4982c5f078810060d71189f8794d43c227ac1996f74aa51fdeb599fa08a4b33eeed9c111857c469bd1e8c124c64186966be023d82d328874"},
	}
	list := `{"stat":"OK","response":[` +
		`{"account_id":"DAGOODCHILDACCOUNTID","api_hostname":"api-xxxxxxxx.duosecurity.com","name":"Child Account 1"},` +
		`{"account_id":"DA9VZOC5X63I2W72NRP9","api_hostname":"api-YYYYYYYY.duofederal.com","name":"Agency","extra":1},` +
		`{"account_id":"DA012345678901234567","api_hostname":"api-zzzzzzzz.duosecurity.com"}]}`
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *http.Request
			var gotBody []byte
			c := newTestClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got = r
				var err error
				gotBody, err = io.ReadAll(r.Body)
				require.NoError(t, err)
				if r.Header.Get("Authorization") != receivedSignature(t, tt.version, r, gotBody, docHost) {
					reply(401, `{"code": 40103, "message": "Invalid signature in request credentials", "stat": "FAIL"}`)(w, r)
					return
				}
				reply(200, list)(w, r)
			}), func(cfg *ClientConfig) {
				cfg.APIHostname = docHost
				cfg.SignatureVersion = tt.version
				cfg.Now = func() time.Time { return docTime }
			})
			accounts, err := c.ListChildAccounts(t.Context())
			require.NoError(t, err)
			assert.Equal(t, []Account{
				{ID: "DAGOODCHILDACCOUNTID", Name: "Child Account 1", APIHostname: "api-xxxxxxxx.duosecurity.com"},
				{ID: "DA9VZOC5X63I2W72NRP9", Name: "Agency", APIHostname: "api-YYYYYYYY.duofederal.com"},
				{ID: "DA012345678901234567", APIHostname: "api-zzzzzzzz.duosecurity.com"},
			}, accounts, "hosts are taken verbatim")

			require.NotNil(t, got)
			assert.Equal(t, http.MethodPost, got.Method)
			assert.Equal(t, PathAccountList, got.URL.Path)
			assert.Empty(t, got.URL.RawQuery, "a POST sends no query")
			assert.Equal(t, tt.contentType, got.Header.Get("Content-Type"))
			assert.Equal(t, tt.body, string(gotBody))
			assert.Equal(t, "Tue, 21 Aug 2012 17:29:18 +0000", got.Header.Get("Date"))
			assert.Equal(t, basicAuth(testIKey, tt.wantHex), got.Header.Get("Authorization"))
		})
	}
}

func TestListChildAccountsErrors(t *testing.T) {
	tests := []struct {
		name      string
		handler   http.HandlerFunc
		status    int
		retryable bool
		contains  []string
	}{
		{
			name:     "not an Accounts API application",
			handler:  reply(403, `{"code": 40301, "message": "Access forbidden", "stat": "FAIL"}`),
			status:   403,
			contains: []string{"POST /accounts/v1/account/list: HTTP 403, Duo error 40301", accountListHint},
		},
		{
			name:     "403 without a code",
			handler:  reply(403, `{"stat": "FAIL", "message": "Access forbidden"}`),
			status:   403,
			contains: []string{accountListHint},
		},
		{
			name:     "unknown integration key",
			handler:  reply(401, `{"code": 40102, "message": "Invalid integration key in request credentials", "stat": "FAIL"}`),
			status:   401,
			contains: []string{"check integration_key: " + accountListHint},
		},
		{
			name:      "an entry without a host",
			handler:   reply(200, `{"stat":"OK","response":[{"account_id":"DA1","api_hostname":"api-1.duosecurity.com"},{"account_id":"DA2","name":"Two"}]}`),
			status:    200,
			retryable: true,
			contains:  []string{"POST /accounts/v1/account/list: HTTP 200", `"response[1]" (account DA2): "api_hostname" is empty`},
		},
		{
			name:      "response not an array",
			handler:   reply(200, `{"stat":"OK","response":{"account_id":"DA1"}}`),
			status:    200,
			retryable: true,
			contains:  []string{`"response" is not an array`},
		},
		{
			name:      "rate limited",
			handler:   reply(429, `{"code": 42901, "message": "Too Many Requests", "stat": "FAIL"}`),
			status:    429,
			retryable: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, tt.handler, nil)
			accounts, err := c.ListChildAccounts(t.Context())
			assert.Nil(t, accounts)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.status, apiErr.HTTPStatus, "HTTPStatus")
			assert.Equal(t, tt.retryable, apiErr.Retryable(), "Retryable()")
			assert.Empty(t, apiErr.Account, "the list is the parent's own request")
			for _, s := range tt.contains {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

func TestParseAccountList(t *testing.T) {
	wrap := func(entries string) string { return `{"stat":"OK","response":[` + entries + `]}` }
	tests := []struct {
		name string
		body string
		want []Account
		// wantErr holds the error's text when the list is refused.
		wantErr string
	}{
		{name: "Ruby fixture", body: string(readFixture(t, accountListFixture)),
			want: []Account{{ID: "DAGOODCHILDACCOUNTID", Name: "Child Account 1", APIHostname: "api-xxxxxxxx.duosecurity.com"}}},
		{name: "no children", body: wrap(""), want: []Account{}},
		{name: "federal host, no name", body: wrap(`{"account_id":"DA1","api_hostname":"api-1.duofederal.com"}`),
			want: []Account{{ID: "DA1", APIHostname: "api-1.duofederal.com"}}},
		{name: "not JSON", body: `<html>`, wantErr: "decode response"},
		{name: "stat FAIL", body: `{"stat":"FAIL","code":40301}`, wantErr: `"stat" is "FAIL", not "OK"`},
		{name: "response missing", body: `{"stat":"OK"}`, wantErr: `"response" is missing`},
		{name: "response null", body: `{"stat":"OK","response":null}`, wantErr: `"response" is missing`},
		{name: "response an object", body: `{"stat":"OK","response":{"items":[]}}`, wantErr: `"response" is not an array`},
		{name: "entry a string", body: wrap(`"DA1"`), wantErr: `"response[0]" is not an object`},
		{name: "entry null", body: wrap(`{"account_id":"DA1","api_hostname":"h.example"},null`), wantErr: `"response[1]" is not an object`},
		{name: "account_id missing", body: wrap(`{"api_hostname":"api-1.duosecurity.com"}`), wantErr: `"response[0]": "account_id" is empty`},
		{name: "account_id empty", body: wrap(`{"account_id":"","api_hostname":"api-1.duosecurity.com"}`), wantErr: `"response[0]": "account_id" is empty`},
		{name: "account_id a number", body: wrap(`{"account_id":12,"api_hostname":"api-1.duosecurity.com"}`), wantErr: `"response[0]": json: cannot unmarshal number into Go struct field Account.account_id of type string`},
		{name: "api_hostname missing", body: wrap(`{"account_id":"DA1"}`), wantErr: `"response[0]" (account DA1): "api_hostname" is empty`},
		{name: "api_hostname null", body: wrap(`{"account_id":"DA1","api_hostname":null}`), wantErr: `"response[0]" (account DA1): "api_hostname" is empty`},
		{name: "scheme", body: wrap(`{"account_id":"DA1","api_hostname":"https://api-1.duosecurity.com"}`), wantErr: `"response[0]" (account DA1): "api_hostname" "https://api-1.duosecurity.com" is not a bare hostname: it has a scheme`},
		{name: "path", body: wrap(`{"account_id":"DA1","api_hostname":"api-1.duosecurity.com/admin"}`), wantErr: `is not a bare hostname: it has a path`},
		{name: "port", body: wrap(`{"account_id":"DA1","api_hostname":"api-1.duosecurity.com:443"}`), wantErr: `is not a bare hostname: it has a port`},
		{name: "space", body: wrap(`{"account_id":"DA1","api_hostname":"api-1.duosecurity.com "}`), wantErr: `is not a bare hostname: it has a space`},
		{name: "user info", body: wrap(`{"account_id":"DA1","api_hostname":"evil@api-1.duosecurity.com"}`), wantErr: `is not a bare hostname: it has the character '@'`},
		{name: "non-ASCII", body: wrap(`{"account_id":"DA1","api_hostname":"api-é.duosecurity.com"}`), wantErr: `it has the character 'é'`},
		{name: "trailing dot", body: wrap(`{"account_id":"DA1","api_hostname":"api-1.duosecurity.com."}`), wantErr: `it has an empty label`},
		{name: "double dot", body: wrap(`{"account_id":"DA1","api_hostname":"api-1..duosecurity.com"}`), wantErr: `it has an empty label`},
		{name: "listed twice", body: wrap(`{"account_id":"DA1","api_hostname":"a.example"},{"account_id":"DA2","api_hostname":"b.example"},{"account_id":"DA1","api_hostname":"c.example"}`),
			wantErr: `"response[2]": "account_id" DA1 is listed twice, also as "response[0]"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAccountList([]byte(tt.body))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// childServer is a fake Duo that checks every signature for the host and
// parameters it received (host for requests with an account_id, testHost
// for the parent's own), answers with respond (nil, or false from it: an
// empty page) and records the requests by account_id.
type childServer struct {
	t       *testing.T
	version SignatureVersion
	host    string
	respond func(w http.ResponseWriter, r *http.Request) bool

	mu   sync.Mutex
	reqs []childRequest
}

type childRequest struct {
	at      time.Time
	account string
	query   url.Values
	host    string
	auth    string
}

func (s *childServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	at := time.Now()
	body, err := io.ReadAll(r.Body)
	require.NoError(s.t, err)
	s.mu.Lock()
	s.reqs = append(s.reqs, childRequest{at: at, account: r.URL.Query().Get("account_id"), query: r.URL.Query(), host: r.Host, auth: r.Header.Get("Authorization")})
	s.mu.Unlock()
	host := s.host
	if r.URL.Query().Get("account_id") == "" {
		host = testHost
	}
	if want := receivedSignature(s.t, s.version, r, body, host); r.Header.Get("Authorization") != want {
		reply(401, `{"code": 40103, "message": "Invalid signature in request credentials", "stat": "FAIL"}`)(w, r)
		return
	}
	if s.respond != nil && s.respond(w, r) {
		return
	}
	reply(200, `{"stat":"OK","response":{"authlogs":[],"metadata":{}}}`)(w, r)
}

func (s *childServer) requests() []childRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reqs)
}

func (s *childServer) times(account string) []time.Time {
	var out []time.Time
	for _, r := range s.requests() {
		if r.account == account {
			out = append(out, r.at)
		}
	}
	return out
}

// countingTransport counts the requests it carries.
type countingTransport struct {
	mu sync.Mutex
	n  int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func TestForAccountSignsForTheChild(t *testing.T) {
	// The want headers are derived, not official: the child's GET at
	// docTime, computed with Python's hmac by the rules that reproduce TV3
	// to TV5.
	tests := []struct {
		name    string
		version SignatureVersion
		wantHex string
	}{
		{"v2", SignatureV2, "5efc6fcffe34604281ce1288b95a232565a2e1fe7695fd12c99277566ead802f7939b3e53fcb42df4feddcd41d5b469b7a115d032f4d0a226333cbfc52157738"},
		{"v5", SignatureV5, "7cfc233c3b93fe930eaf85e918154c44c234184c3ec1c8f95a613b8e98060da12bec860edd7e8b7292fdf541b2df9b103ad19ee8726af6a593afa94dd057e005"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &childServer{t: t, version: tt.version, host: childHost}
			obs := &recordingObserver{}
			transport := &countingTransport{}
			parent := newTestClient(t, srv, func(cfg *ClientConfig) {
				cfg.APIHostname = docHost
				cfg.SignatureVersion = tt.version
				cfg.Now = func() time.Time { return docTime }
				cfg.Observer = obs
				cfg.HTTPClient = &http.Client{Transport: transport, Timeout: 2 * time.Second}
			})
			child, err := parent.ForAccount(testChild)
			require.NoError(t, err)

			params := url.Values{"mintime": {"1532951960000"}, "maxtime": {"1532951965000"}, "limit": {"1000"}, "sort": {"ts:asc"}}
			before := maps.Clone(params)
			_, err = child.Get(t.Context(), PathAuthenticationV2, params)
			require.NoError(t, err, "the server verified the signature for the child's host")
			assert.Equal(t, before, params, "the caller's parameters are left as they are")

			reqs := srv.requests()
			require.Len(t, reqs, 1)
			got := reqs[0]
			assert.Equal(t, childID, got.account, "account_id is sent")
			assert.NotEqual(t, childHost, got.host, "the request goes to the parent's BaseURL")
			assert.Equal(t, basicAuth(testIKey, tt.wantHex), got.auth)
			// account_id is signed: the signature fits the parameters only
			// with it, and only for the child's host.
			without := maps.Clone(got.query)
			without.Del("account_id")
			date := FormatDate(docTime)
			assert.NotEqual(t, basicAuth(testIKey, duoSignature(tt.version, testSKey, date, "GET", childHost, PathAuthenticationV2, CanonicalParams(without), nil)), got.auth)
			assert.NotEqual(t, basicAuth(testIKey, duoSignature(tt.version, testSKey, date, "GET", docHost, PathAuthenticationV2, CanonicalParams(got.query), nil)), got.auth)

			_, err = child.Get(t.Context(), PathAdministratorV1, nil)
			require.NoError(t, err, "a request without parameters still carries account_id")
			assert.Equal(t, url.Values{"account_id": {childID}}, srv.requests()[1].query)

			assert.Equal(t, []string{PathAuthenticationV2 + " 200", PathAdministratorV1 + " 200"}, obs.requests(), "the parent's Observer sees the child's requests")
			transport.mu.Lock()
			assert.Equal(t, 2, transport.n, "the parent's HTTP client carries the child's requests")
			transport.mu.Unlock()
		})
	}
}

// TestForAccountWithoutBaseURL checks that without a BaseURL the parent's
// requests go to its host and a child's to the child's host, over HTTPS.
// The transport dials the test server whatever the host.
func TestForAccountWithoutBaseURL(t *testing.T) {
	type seen struct {
		method, host string
		tls          bool
	}
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Method, r.Host, r.TLS != nil})
		mu.Unlock()
		if r.Method == http.MethodPost {
			reply(200, `{"stat":"OK","response":[{"account_id":"`+childID+`","api_hostname":"`+childHost+`","name":"Acme Corp"}]}`)(w, r)
			return
		}
		reply(200, `{"stat":"OK","response":[]}`)(w, r)
	}))
	t.Cleanup(srv.Close)
	transport := srv.Client().Transport.(*http.Transport).Clone()
	transport.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	}
	transport.TLSClientConfig.ServerName = "example.com" // the test certificate's name
	parent, err := NewClient(ClientConfig{
		APIHostname: testHost, IntegrationKey: testIKey, SecretKey: testSKey, RequestsPerMinute: 60000,
		HTTPClient: &http.Client{Transport: transport, Timeout: 2 * time.Second},
	})
	require.NoError(t, err)
	accounts, err := parent.ListChildAccounts(t.Context())
	require.NoError(t, err)
	require.Len(t, accounts, 1)
	child, err := parent.ForAccount(accounts[0])
	require.NoError(t, err)
	_, err = child.Get(t.Context(), PathAdministratorV1, nil)
	require.NoError(t, err)
	assert.Equal(t, []seen{{"POST", testHost, true}, {"GET", childHost, true}}, got)
}

func TestForAccountOwnBudgets(t *testing.T) {
	// 300 a minute is one request per 200ms. With one budget for both
	// children their 8 requests would span 1.4s; with one each, 0.6s.
	const interval = 200 * time.Millisecond
	srv := &childServer{t: t, version: SignatureV2, host: childHost}
	parent := newTestClient(t, srv, func(cfg *ClientConfig) { cfg.RequestsPerMinute = 300 })
	a, err := parent.ForAccount(Account{ID: "DAAAAAAAAAAAAAAAAAAA", APIHostname: childHost})
	require.NoError(t, err)
	b, err := parent.ForAccount(Account{ID: "DBBBBBBBBBBBBBBBBBBB", APIHostname: childHost})
	require.NoError(t, err)
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range []*Client{a, b} {
		wg.Go(func() {
			for range 4 {
				_, err := c.Get(t.Context(), PathAdministratorV1, nil)
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	for _, id := range []string{"DAAAAAAAAAAAAAAAAAAA", "DBBBBBBBBBBBBBBBBBBB"} {
		at := srv.times(id)
		require.Len(t, at, 4, id)
		assert.GreaterOrEqual(t, at[3].Sub(at[0]), 3*interval-30*time.Millisecond, "%s: its own budget spaces its requests", id)
	}
	assert.Less(t, elapsed, 1200*time.Millisecond, "each child gets its full rate")
}

func TestForAccountSharedLimit(t *testing.T) {
	// Each child may send one request per 100ms, but all of them together,
	// the parent included, one per 50ms.
	const own, shared = 100 * time.Millisecond, 50 * time.Millisecond
	limit, err := NewRequestLimiter(1200)
	require.NoError(t, err)
	srv := &childServer{t: t, version: SignatureV2, host: childHost}
	parent := newTestClient(t, srv, func(cfg *ClientConfig) {
		cfg.RequestsPerMinute = 600
		cfg.SharedLimit = limit
	})
	ids := []string{"DA000000000000000001", "DA000000000000000002", "DA000000000000000003"}
	var wg sync.WaitGroup
	for _, id := range ids {
		c, err := parent.ForAccount(Account{ID: id, APIHostname: childHost})
		require.NoError(t, err)
		// Two callers per child, so a child's own spacing is tested while
		// the shared limit keeps its requests waiting.
		for range 2 {
			wg.Go(func() {
				for range 2 {
					_, err := c.Get(t.Context(), PathAdministratorV1, nil)
					assert.NoError(t, err)
				}
			})
		}
	}
	wg.Go(func() {
		_, err := parent.Get(t.Context(), PathAdministratorV1, nil)
		assert.NoError(t, err)
	})
	wg.Wait()
	reqs := srv.requests()
	require.Len(t, reqs, 13)
	first, last := reqs[0].at, reqs[0].at
	for _, r := range reqs {
		first, last = minTime(first, r.at), maxTime(last, r.at)
	}
	assert.GreaterOrEqual(t, last.Sub(first), 12*shared-30*time.Millisecond, "13 requests under the shared limit span at least 12 of its intervals")
	for _, id := range ids {
		at := srv.times(id)
		require.Len(t, at, 4, id)
		slices.SortFunc(at, time.Time.Compare)
		assert.GreaterOrEqual(t, at[3].Sub(at[0]), 3*own-30*time.Millisecond, "%s: its own budget still spaces its requests", id)
	}
}

// TestForAccountSpacingUnderSharedLimit checks that a child's own interval
// holds between the moments its requests are sent when the shared limit
// keeps them waiting past their own slots.
func TestForAccountSpacingUnderSharedLimit(t *testing.T) {
	// Own budgets of one request per 200ms, a shared one per 100ms. Three
	// other children take the shared slots of the first 300ms; then two
	// requests of one child wait for the shared slots after them, which
	// are only 100ms apart.
	const own = 200 * time.Millisecond
	limit, err := NewRequestLimiter(600)
	require.NoError(t, err)
	srv := &childServer{t: t, version: SignatureV2, host: childHost}
	parent := newTestClient(t, srv, func(cfg *ClientConfig) {
		cfg.RequestsPerMinute = 300
		cfg.SharedLimit = limit
	})
	var wg sync.WaitGroup
	for _, id := range []string{"DA000000000000000001", "DA000000000000000002", "DA000000000000000003"} {
		c, err := parent.ForAccount(Account{ID: id, APIHostname: childHost})
		require.NoError(t, err)
		wg.Go(func() {
			_, err := c.Get(t.Context(), PathAdministratorV1, nil)
			assert.NoError(t, err)
		})
	}
	time.Sleep(20 * time.Millisecond)
	c, err := parent.ForAccount(Account{ID: "DAAAAAAAAAAAAAAAAAAA", APIHostname: childHost})
	require.NoError(t, err)
	for range 2 {
		wg.Go(func() {
			_, err := c.Get(t.Context(), PathAdministratorV1, nil)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	at := srv.times("DAAAAAAAAAAAAAAAAAAA")
	require.Len(t, at, 2)
	slices.SortFunc(at, time.Time.Compare)
	assert.GreaterOrEqual(t, at[1].Sub(at[0]), own-30*time.Millisecond, "the child's two requests are sent its own interval apart")
}

func TestForAccountRateLimitStaysWithTheChild(t *testing.T) {
	// 120 a minute is one request per 500ms; a 429 holds the client that
	// got it back for two intervals.
	const interval = 500 * time.Millisecond
	limit, err := NewRequestLimiter(6000)
	require.NoError(t, err)
	var mu sync.Mutex
	limited := false
	srv := &childServer{t: t, version: SignatureV2, host: childHost, respond: func(w http.ResponseWriter, r *http.Request) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Query().Get("account_id") == "DAAAAAAAAAAAAAAAAAAA" && !limited {
			limited = true
			reply(429, `{"code": 42901, "message": "Too Many Requests", "stat": "FAIL"}`)(w, r)
			return true
		}
		return false
	}}
	parent := newTestClient(t, srv, func(cfg *ClientConfig) {
		cfg.RequestsPerMinute = 120
		cfg.SharedLimit = limit
	})
	a, err := parent.ForAccount(Account{ID: "DAAAAAAAAAAAAAAAAAAA", APIHostname: childHost})
	require.NoError(t, err)
	b, err := parent.ForAccount(Account{ID: "DBBBBBBBBBBBBBBBBBBB", APIHostname: childHost})
	require.NoError(t, err)

	_, err = a.Get(t.Context(), PathAdministratorV1, nil)
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.True(t, apiErr.RateLimited())
	limitedAt := time.Now()

	_, err = b.Get(t.Context(), PathAdministratorV1, nil)
	require.NoError(t, err)
	assert.Less(t, time.Since(limitedAt), interval, "the other child is not held back")
	_, err = parent.Get(t.Context(), PathAdministratorV1, nil)
	require.NoError(t, err)
	assert.Less(t, time.Since(limitedAt), interval, "nor is the parent")

	_, err = a.Get(t.Context(), PathAdministratorV1, nil)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(limitedAt), 2*interval-50*time.Millisecond, "the child that got the 429 is held back")
}

func TestForAccountOwnClockSkew(t *testing.T) {
	srv := &childServer{t: t, version: SignatureV2, host: childHost, respond: func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Query().Get("account_id") == "DAAAAAAAAAAAAAAAAAAA" {
			w.Header().Set("Date", time.Now().Add(-5*time.Minute).UTC().Format(http.TimeFormat))
		}
		return false
	}}
	parent := newTestClient(t, srv, nil)
	a, err := parent.ForAccount(Account{ID: "DAAAAAAAAAAAAAAAAAAA", APIHostname: childHost})
	require.NoError(t, err)
	b, err := parent.ForAccount(Account{ID: "DBBBBBBBBBBBBBBBBBBB", APIHostname: childHost})
	require.NoError(t, err)
	_, err = a.Get(t.Context(), PathAdministratorV1, nil)
	require.NoError(t, err)
	_, err = b.Get(t.Context(), PathAdministratorV1, nil)
	require.NoError(t, err)

	skewA, ok := a.ClockSkew()
	require.True(t, ok)
	assert.InDelta(t, (-5 * time.Minute).Seconds(), skewA.Seconds(), 2)
	skewB, ok := b.ClockSkew()
	require.True(t, ok)
	assert.InDelta(t, 0, skewB.Seconds(), 2)
	_, ok = parent.ClockSkew()
	assert.False(t, ok, "the parent has sent nothing yet")
}

func TestForAccountErrors(t *testing.T) {
	tests := []struct {
		name    string
		account Account
		handler http.HandlerFunc
		// wantPrefix is how Error() starts, wantHint the hint it ends with.
		wantPrefix string
		wantHint   string
		failure    Failure
	}{
		{
			name:       "cross-deployment child",
			account:    testChild,
			handler:    reply(403, `{"code": 40301, "message": "Access forbidden", "stat": "FAIL"}`),
			wantPrefix: `account DA9VZOC5X63I2W72NRP9 (Acme Corp): GET /admin/v2/logs/authentication: HTTP 403, Duo error 40301 "Access forbidden"`,
			wantHint:   childAccountHint,
			failure:    FailureNeedsAction,
		},
		{
			name:       "child's host does not know the key",
			account:    Account{ID: childID, APIHostname: childHost},
			handler:    reply(401, `{"code": 40102, "message": "Invalid integration key in request credentials", "stat": "FAIL"}`),
			wantPrefix: `account DA9VZOC5X63I2W72NRP9: GET /admin/v2/logs/authentication: HTTP 401`,
			wantHint:   childAccountHint,
			failure:    FailureNeedsAction,
		},
		{
			name:       "server error",
			account:    testChild,
			handler:    reply(500, `{"code": 50001, "message": "Unknown internal server error", "stat": "FAIL"}`),
			wantPrefix: `account DA9VZOC5X63I2W72NRP9 (Acme Corp): GET /admin/v2/logs/authentication: HTTP 500`,
			failure:    FailureTransient,
		},
		{
			name:       "truncated body",
			account:    testChild,
			handler:    reply(200, `{"stat":"OK","resp`),
			wantPrefix: `account DA9VZOC5X63I2W72NRP9 (Acme Corp): GET /admin/v2/logs/authentication: HTTP 200: decode response body`,
			failure:    FailureTransient,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := newTestClient(t, tt.handler, nil)
			child, err := parent.ForAccount(tt.account)
			require.NoError(t, err)
			_, err = child.Get(t.Context(), PathAuthenticationV2, nil)
			var apiErr *APIError
			require.ErrorAs(t, err, &apiErr)
			assert.Equal(t, tt.account.ID, apiErr.Account)
			assert.Equal(t, tt.account.Name, apiErr.AccountName)
			assert.True(t, strings.HasPrefix(err.Error(), tt.wantPrefix), "Error() = %q, want prefix %q", err, tt.wantPrefix)
			assert.Equal(t, tt.wantHint, apiErr.Hint())
			assert.Equal(t, tt.failure, Classify(err))
		})
	}
	t.Run("the parent keeps its own hint", func(t *testing.T) {
		parent := newTestClient(t, reply(403, `{"code": 40301, "message": "Access forbidden", "stat": "FAIL"}`), nil)
		_, err := parent.Get(t.Context(), PathAuthenticationV2, nil)
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), "GET /admin/v2/logs/authentication: HTTP 403"), "Error() = %q", err)
		assert.Contains(t, err.Error(), `"Grant read log"`)
	})
	t.Run("no response", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := l.Addr().String()
		l.Close()
		parent, err := NewClient(ClientConfig{APIHostname: testHost, IntegrationKey: testIKey, SecretKey: testSKey, BaseURL: "http://" + addr})
		require.NoError(t, err)
		child, err := parent.ForAccount(testChild)
		require.NoError(t, err)
		_, err = child.Get(t.Context(), PathAuthenticationV2, nil)
		require.Error(t, err)
		assert.True(t, strings.HasPrefix(err.Error(), "account DA9VZOC5X63I2W72NRP9 (Acme Corp): GET /admin/v2/logs/authentication: "), "Error() = %q", err)
		assert.Equal(t, FailureTransient, Classify(err))
	})
}

func TestForAccountRefuses(t *testing.T) {
	parent := newTestClient(t, reply(200, `{"stat":"OK","response":[]}`), nil)
	tests := []struct {
		name    string
		account Account
		want    string
	}{
		{"no ID", Account{APIHostname: childHost}, `child account: "account_id" is empty`},
		{"no host", Account{ID: childID}, `account DA9VZOC5X63I2W72NRP9: "api_hostname" is empty`},
		{"URL as host", Account{ID: childID, APIHostname: "https://" + childHost + "/"}, `account DA9VZOC5X63I2W72NRP9: "api_hostname" "https://api-yyyyyyyy.duofederal.com/" is not a bare hostname: it has a scheme`},
		{"host and port", Account{ID: childID, APIHostname: childHost + ":8443"}, `account DA9VZOC5X63I2W72NRP9: "api_hostname" "api-yyyyyyyy.duofederal.com:8443" is not a bare hostname: it has a port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := parent.ForAccount(tt.account)
			assert.Nil(t, c)
			require.Error(t, err)
			assert.True(t, strings.HasPrefix(err.Error(), tt.want), "ForAccount(%+v) = %q, want prefix %q", tt.account, err, tt.want)
		})
	}
	child, err := parent.ForAccount(testChild)
	require.NoError(t, err)
	_, err = child.ForAccount(Account{ID: "DA2", APIHostname: childHost})
	assert.ErrorContains(t, err, "must be made from the parent's client")
	_, err = child.ListChildAccounts(t.Context())
	assert.ErrorContains(t, err, "a child account has no child accounts")
}

func TestNewRequestLimiter(t *testing.T) {
	l, err := NewRequestLimiter(0)
	require.NoError(t, err)
	assert.Nil(t, l, "0 sets no cap")
	require.NoError(t, l.wait(t.Context()), "a nil limiter lets every request go")
	_, err = NewRequestLimiter(-1)
	assert.ErrorContains(t, err, "must be positive, or 0 for no cap")
	l, err = NewRequestLimiter(60)
	require.NoError(t, err)
	require.NoError(t, l.wait(t.Context()))
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, l.wait(ctx), context.DeadlineExceeded, "the second request of the minute waits")
}

func FuzzParseAccountList(f *testing.F) {
	f.Add(readFixture(f, accountListFixture))
	f.Add([]byte(`{"stat":"OK","response":[{"account_id":"DA1","api_hostname":"api-1.duofederal.com","name":"x"},{"account_id":"DA2","api_hostname":"h"}]}`))
	f.Add([]byte(`{"stat":"OK","response":[{"account_id":"DA1","api_hostname":"https://a/b"}]}`))
	f.Add([]byte(`{"stat":"OK","response":[{"account_id":"","api_hostname":"a.b"},{"account_id":"DA1","api_hostname":"a.b:1"}]}`))
	f.Add([]byte(`{"stat":"OK","response":[]}`))
	f.Add([]byte(`{"stat":"OK","response":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		accounts, err := ParseAccountList(body)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for i, a := range accounts {
			if a.ID == "" {
				t.Fatalf("entry %d has an empty account_id", i)
			}
			if seen[a.ID] {
				t.Fatalf("entry %d: account_id %q listed twice", i, a.ID)
			}
			seen[a.ID] = true
			if a.APIHostname == "" || strings.ContainsAny(a.APIHostname, "/:@ \t\r\n?#%") {
				t.Fatalf("entry %d: api_hostname %q is not a bare hostname", i, a.APIHostname)
			}
			// What the list accepts, a client can be made for, and its
			// URL leads to the host and nowhere else.
			u := url.URL{Scheme: "https", Host: a.APIHostname}
			back, err := url.Parse(u.String())
			if err != nil || back.Host != a.APIHostname || back.Path != "" {
				t.Fatalf("entry %d: https://%s does not parse back to its host: %v", i, a.APIHostname, err)
			}
		}
	})
}
