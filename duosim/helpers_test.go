// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
)

// epoch is the server clock at the start of every test.
var epoch = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

// harness is a simulator on a loopback port with a manual clock and a client
// that signs its requests.
type harness struct {
	t      *testing.T
	clock  *ManualClock
	srv    *Server
	client *http.Client
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	clock := NewManualClock(epoch)
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	srv, err := Start(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { srv.Close() })
	return &harness{t: t, clock: clock, srv: srv, client: &http.Client{Timeout: 10 * time.Second}}
}

// reqSpec says how to sign and send a request; the zero value signs like the
// Go client (v2 HMAC-SHA512, Date header, the simulator's credentials).
type reqSpec struct {
	version    duoapi.SignatureVersion
	ikey, skey string
	host       string // signed host; default the simulator's API host
	date       string // default the harness clock
	dateHeader string // "Date" (default), "X-Duo-Date", or "-" for none
	noAuth     bool
	rawQuery   string // sent instead of the canonical query
	method     string
	userAgent  string // default Go's own
}

type reqOpt func(*reqSpec)

func withVersion(v duoapi.SignatureVersion) reqOpt { return func(s *reqSpec) { s.version = v } }
func withIKey(k string) reqOpt                     { return func(s *reqSpec) { s.ikey = k } }
func withSKey(k string) reqOpt                     { return func(s *reqSpec) { s.skey = k } }
func withHost(h string) reqOpt                     { return func(s *reqSpec) { s.host = h } }
func withDate(d string) reqOpt                     { return func(s *reqSpec) { s.date = d } }
func withDateHeader(h string) reqOpt               { return func(s *reqSpec) { s.dateHeader = h } }
func withoutAuth() reqOpt                          { return func(s *reqSpec) { s.noAuth = true } }
func withRawQuery(q string) reqOpt                 { return func(s *reqSpec) { s.rawQuery = q } }
func withMethod(m string) reqOpt                   { return func(s *reqSpec) { s.method = m } }
func withUserAgent(ua string) reqOpt               { return func(s *reqSpec) { s.userAgent = ua } }

// newRequest builds a signed request for path and params.
func (h *harness) newRequest(path string, params url.Values, opts ...reqOpt) *http.Request {
	h.t.Helper()
	spec := reqSpec{
		version:    duoapi.SignatureV2,
		ikey:       h.srv.IntegrationKey(),
		skey:       h.srv.SecretKey(),
		host:       h.srv.APIHost(),
		date:       duoapi.FormatDate(h.clock.Now()),
		dateHeader: "Date",
		method:     http.MethodGet,
	}
	for _, o := range opts {
		o(&spec)
	}
	query := duoapi.CanonicalParams(params)
	if spec.rawQuery != "" {
		query = spec.rawQuery
	}
	req, err := http.NewRequestWithContext(h.t.Context(), spec.method, h.srv.URL+path+"?"+query, nil)
	require.NoError(h.t, err)
	if spec.dateHeader != "-" {
		req.Header.Set(spec.dateHeader, spec.date)
	}
	if spec.userAgent != "" {
		req.Header.Set("User-Agent", spec.userAgent)
	}
	if !spec.noAuth {
		signed := duoapi.Request{Date: spec.date, Method: spec.method, Host: spec.host, Path: path, Params: params}
		if spec.dateHeader == "X-Duo-Date" {
			signed.DuoHeaders = map[string]string{"X-Duo-Date": spec.date}
		}
		authz, err := duoapi.Authorization(spec.version, spec.ikey, spec.skey, signed)
		require.NoError(h.t, err)
		req.Header.Set("Authorization", authz)
	}
	return req
}

// do sends req and returns the status, headers and body.
func (h *harness) do(req *http.Request) (int, http.Header, []byte) {
	h.t.Helper()
	resp, err := h.client.Do(req)
	require.NoError(h.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(h.t, err)
	return resp.StatusCode, resp.Header, body
}

// get sends a signed GET and returns the status and body.
func (h *harness) get(path string, params url.Values, opts ...reqOpt) (int, []byte) {
	h.t.Helper()
	status, _, body := h.do(h.newRequest(path, params, opts...))
	return status, body
}

// fetchWhole sends a signed GET for path and params until it gets a 200
// whose whole body decodes as a P, retrying through injected faults (errors,
// statuses other than 200, truncated bodies), and returns that page. It
// fails the test after 200 attempts.
func fetchWhole[P any](h *harness, path string, params url.Values) P {
	h.t.Helper()
	for range 200 {
		resp, err := h.client.Do(h.newRequest(path, params))
		if err != nil {
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		var page P
		if err != nil || resp.StatusCode != 200 || json.Unmarshal(body, &page) != nil {
			continue
		}
		return page
	}
	h.t.Fatal("no whole page in 200 attempts")
	var zero P
	return zero
}

// faulted returns how many of the recorded requests had a fault injected.
func (h *harness) faulted() int {
	n := 0
	for _, r := range h.srv.Requests() {
		if r.Fault != "" {
			n++
		}
	}
	return n
}

// failure is a Duo error body.
type failure struct {
	Stat          string `json:"stat"`
	Code          int    `json:"code"`
	Message       string `json:"message"`
	MessageDetail string `json:"message_detail"`
}

func decodeFailure(t *testing.T, body []byte) failure {
	t.Helper()
	var f failure
	require.NoError(t, json.Unmarshal(body, &f), "body %s", body)
	return f
}

// v2Page is a decoded v2 response.
type v2Page struct {
	Stat     string `json:"stat"`
	Response struct {
		AuthLogs []json.RawMessage `json:"authlogs"`
		Items    []json.RawMessage `json:"items"`
		Metadata struct {
			NextOffset   json.RawMessage `json:"next_offset"`
			TotalObjects int             `json:"total_objects"`
		} `json:"metadata"`
	} `json:"response"`
}

func (p v2Page) records() []json.RawMessage {
	if p.Response.AuthLogs != nil {
		return p.Response.AuthLogs
	}
	return p.Response.Items
}

// v1Page is a decoded v1 response.
type v1Page struct {
	Stat     string            `json:"stat"`
	Response []json.RawMessage `json:"response"`
}

func ms(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

func sec(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }

// bodies returns the Body of each event.
func bodies(events []Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = string(e.Body)
	}
	return out
}

func strs(raws []json.RawMessage) []string {
	out := make([]string, len(raws))
	for i, r := range raws {
		out[i] = string(r)
	}
	return out
}
