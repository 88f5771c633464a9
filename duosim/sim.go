// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/duostream/duostream/duoapi"
)

// Values a zero Config field stands for.
const (
	// DefaultIntegrationKey is the integration key the simulator accepts
	// when Config.IntegrationKey is empty.
	DefaultIntegrationKey = "DIDUOSIM000000000001"
	// DefaultSecretKey is the secret key the simulator verifies signatures
	// with when Config.SecretKey is empty. It protects nothing.
	DefaultSecretKey = "duosim-secret-key-not-for-production-use"
	// DefaultAPIHost is the API hostname requests must be signed for when
	// Config.APIHost is empty.
	DefaultAPIHost = "api-duosim00.duosecurity.com"
	// DefaultAvailabilityLag is Duo's two-minute delay before an event can
	// be read.
	DefaultAvailabilityLag = 2 * time.Minute
	// DefaultClockSkew is how far a request's Date may be from the server
	// clock, either way.
	DefaultClockSkew = 60 * time.Second
	// DefaultRetention is how far back the log endpoints reach: 180 days.
	DefaultRetention = 180 * 24 * time.Hour
	// DefaultV1PageSize is how many events a v1 log endpoint returns at most.
	DefaultV1PageSize = 1000
)

// Config configures a Sim. The zero value is a simulator that behaves like
// Duo with the default credentials, no rate limit and no faults.
type Config struct {
	// IntegrationKey, SecretKey and APIHost are the credentials of the one
	// integration the simulator knows (an Admin API application, or with
	// AccountsAPI the parent's Accounts API application), and the hostname
	// that requests for the parent's own account are signed for; requests
	// for a child are signed for the child's (see Child). Signatures are
	// checked against these hostnames, never against the Host header, so a
	// client may reach the simulator through any address (a base URL
	// override, a reverse proxy).
	IntegrationKey string
	SecretKey      string
	APIHost        string

	// Now is the server clock. Nil means time.Now. Tests inject a clock to
	// move time (see ManualClock).
	Now func() time.Time

	// AvailabilityLag hides events newer than Now minus the lag. Zero means
	// DefaultAvailabilityLag; a negative value hides nothing.
	AvailabilityLag time.Duration
	// ClockSkew is the largest accepted difference between a request's Date
	// and Now. Zero means DefaultClockSkew.
	ClockSkew time.Duration
	// Retention is how far back events can be read: a v2 or Trust Monitor
	// mintime older than Now minus Retention is rejected ("mintime must be
	// within the past 180 days"), and v1 endpoints skip older events. Zero
	// means DefaultRetention.
	Retention time.Duration

	// V1PageSize is how many events a v1 endpoint returns at most. Zero means
	// DefaultV1PageSize.
	V1PageSize int
	// V1WholeSeconds makes a full v1 page run on to the end of its last
	// second, so that the events of one second are never split across pages
	// (one reading of Duo's "more or fewer than 1000 events may be
	// returned"). By default a page stops at exactly V1PageSize events, even
	// in the middle of a second, which pullers must cope with.
	V1WholeSeconds bool

	// DenyLogRead makes the integration lack the "Grant read log"
	// permission: every authenticated log request gets 403 / 40301.
	DenyLogRead bool

	// Unavailable makes the endpoints of some log types answer the way Duo
	// answers an account whose edition lacks them: with the HTTP status
	// given for the type, 403 (code 40301, "Access forbidden") or 404
	// (40401, "Resource not found"), once the credentials are checked. The
	// other log types are served as usual, so a client's handling of one
	// missing log type can be tested while it goes on with the others.
	Unavailable map[duoapi.LogType]int

	// TrustMonitorStringOffsets makes the Trust Monitor endpoint write its
	// opaque next_offset as a JSON string token rather than a JSON number
	// (the number is what Duo's own tests show), so that clients are tested
	// with both.
	TrustMonitorStringOffsets bool

	// ActivityStringActions is the share, in [0, 1], of generated activity
	// events whose action is a plain string ("phone_create"), the older
	// shape that Duo's log sync tests and the Python client's documentation
	// show, instead of an object {"details": ..., "name": ...}. Zero
	// generates objects only.
	ActivityStringActions float64

	// RateLimitPerMinute is how many authenticated log requests each
	// account may serve in any 60 seconds of the server clock, the parent's
	// own (with its account list calls) and each child's apart; the others
	// get 429 / 42901 with no Retry-After header. Zero means no limit.
	// Whether Duo counts a child's requests against the child or against
	// the parent's integration is not documented; the simulator counts
	// them against the child.
	RateLimitPerMinute int

	// AccountsAPI makes the integration an Accounts API application of a
	// Duo MSP parent account: POST /accounts/v1/account/list lists its
	// child accounts, and a log request whose account_id parameter names a
	// child reads that child's events (see Child). Without it the list
	// answers 403 / 40301, as Duo answers a parent without Accounts API
	// access, and no child can be added.
	AccountsAPI bool
	// Children are the child accounts the parent has from the start; they
	// need AccountsAPI. AddChild, GenerateChildren and RemoveChild change
	// them while the simulator runs.
	Children []ChildConfig

	// Faults injects failures into log requests. See SetFaults to change
	// them while the simulator runs.
	Faults Faults

	// Seed makes generated events and injected faults reproducible.
	Seed uint64
}

// Sim is a simulator of the Duo Admin API log endpoints. It is an
// http.Handler serving:
//
//	GET /admin/v2/logs/authentication
//	GET /admin/v2/logs/telephony
//	GET /admin/v2/logs/activity
//	GET /admin/v1/trust_monitor/events
//	GET /admin/v1/logs/administrator
//	GET /admin/v1/logs/telephony
//	GET /admin/v1/logs/offline_enrollment
//	POST /accounts/v1/account/list (with Config.AccountsAPI)
//	GET /auth/v2/ping (unsigned)
//
// Events are added with AddEvents, Generate and RunLive, which act on the
// parent's own account (the one requests without account_id read) and, as
// methods of a Child, on a child account's; requests are recorded for
// Requests, RequestCounts and AccountRequestCounts. A Sim is safe for
// concurrent use.
type Sim struct {
	ikey, skey, host string
	lag              time.Duration // negative: no lag
	skew             time.Duration
	retention        time.Duration
	v1PageSize       int
	v1WholeSeconds   bool
	denyLogRead      bool
	tmStringOffsets  bool
	accountsAPI      bool
	// seed, stringActions and perMinute are the Config fields that a
	// child account added later is made with.
	seed          uint64
	stringActions float64
	perMinute     int

	// accountStore is the parent's own account, which requests without
	// account_id read.
	accountStore
	children children

	faults faultInjector
	stats  requestStats
}

// New returns a simulator configured by cfg, holding no events.
func New(cfg Config) (*Sim, error) {
	if err := cfg.Faults.validate(); err != nil {
		return nil, err
	}
	if cfg.RateLimitPerMinute < 0 {
		return nil, fmt.Errorf("rate limit: %d requests per minute is negative", cfg.RateLimitPerMinute)
	}
	if cfg.V1PageSize < 0 {
		return nil, fmt.Errorf("v1 page size: %d is negative", cfg.V1PageSize)
	}
	if cfg.ClockSkew < 0 || cfg.Retention < 0 {
		return nil, errors.New("clock skew and retention must not be negative")
	}
	if !(cfg.ActivityStringActions >= 0 && cfg.ActivityStringActions <= 1) { // also rejects NaN
		return nil, fmt.Errorf("activity string actions: share %v is outside [0, 1]", cfg.ActivityStringActions)
	}
	unavailable, err := unavailableErrors(cfg.Unavailable)
	if err != nil {
		return nil, err
	}
	host := orDefault(cfg.APIHost, DefaultAPIHost)
	s := &Sim{
		ikey:            orDefault(cfg.IntegrationKey, DefaultIntegrationKey),
		skey:            orDefault(cfg.SecretKey, DefaultSecretKey),
		host:            host,
		lag:             cfg.AvailabilityLag,
		skew:            cfg.ClockSkew,
		retention:       cfg.Retention,
		v1PageSize:      cfg.V1PageSize,
		v1WholeSeconds:  cfg.V1WholeSeconds,
		denyLogRead:     cfg.DenyLogRead,
		tmStringOffsets: cfg.TrustMonitorStringOffsets,
		accountsAPI:     cfg.AccountsAPI,
		seed:            cfg.Seed,
		stringActions:   cfg.ActivityStringActions,
		perMinute:       cfg.RateLimitPerMinute,
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	gen := newGenerator(rand.New(rand.NewPCG(cfg.Seed, dataStream)), host, "", cfg.ActivityStringActions)
	s.accountStore.init(now, gen, cfg.RateLimitPerMinute, unavailable)
	if s.lag == 0 {
		s.lag = DefaultAvailabilityLag
	}
	if s.skew == 0 {
		s.skew = DefaultClockSkew
	}
	if s.retention == 0 {
		s.retention = DefaultRetention
	}
	if s.v1PageSize == 0 {
		s.v1PageSize = DefaultV1PageSize
	}
	s.faults.rng = rand.New(rand.NewPCG(cfg.Seed, faultStream))
	s.faults.cfg = cfg.Faults
	s.children.init(s.seed)
	for _, c := range cfg.Children {
		if _, err := s.AddChild(c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// unavailableAnswers are the answers an endpoint missing from the account's
// edition may give, by HTTP status.
var unavailableAnswers = map[int]*apiError{
	http.StatusForbidden: errForbidden,
	http.StatusNotFound:  errNotFound,
}

// unavailableErrors checks Config.Unavailable and returns the error each
// unavailable log type is answered with.
func unavailableErrors(statuses map[duoapi.LogType]int) (map[duoapi.LogType]*apiError, error) {
	out := make(map[duoapi.LogType]*apiError, len(statuses))
	for t, status := range statuses {
		if _, err := duoapi.ParseLogType(string(t)); err != nil {
			return nil, fmt.Errorf("unavailable: %w", err)
		}
		e, ok := unavailableAnswers[status]
		if !ok {
			return nil, fmt.Errorf("unavailable %s: status %d is neither 403 nor 404", t, status)
		}
		out[t] = e
	}
	return out, nil
}

// adminHost returns the Admin Panel hostname of an account whose API
// hostname is apiHost: api-XXXXXXXX.duosecurity.com has its panel at
// admin-XXXXXXXX.duosecurity.com.
func adminHost(apiHost string) string {
	if rest, ok := strings.CutPrefix(apiHost, "api-"); ok {
		return "admin-" + rest
	}
	return apiHost
}

// IntegrationKey returns the integration key the simulator accepts.
func (s *Sim) IntegrationKey() string { return s.ikey }

// SecretKey returns the secret key requests must be signed with.
func (s *Sim) SecretKey() string { return s.skey }

// APIHost returns the hostname requests must be signed for.
func (s *Sim) APIHost() string { return s.host }

// PathPing is the unsigned Auth API endpoint that returns the server time.
const PathPing = "/auth/v2/ping"

// paging is how an endpoint pages through its events.
type paging int

const (
	// pagingV1 returns the earliest events at or after a mintime in
	// seconds, in a bare array.
	pagingV1 paging = iota
	// pagingV2 pages a millisecond window with a "ms,id" next_offset and a
	// sort order.
	pagingV2
	// pagingTrustMonitor pages a millisecond window on surfaced_timestamp
	// with an opaque offset, in one order.
	pagingTrustMonitor
)

// endpoint describes one log endpoint.
type endpoint struct {
	typ    duoapi.LogType
	paging paging
	// records is the key of the record array in a v2 or Trust Monitor
	// response.
	records string
}

var endpoints = map[string]endpoint{
	duoapi.PathAuthenticationV2:    {typ: duoapi.Authentication, paging: pagingV2, records: "authlogs"},
	duoapi.PathTelephonyV2:         {typ: duoapi.Telephony, paging: pagingV2, records: "items"},
	duoapi.PathActivityV2:          {typ: duoapi.Activity, paging: pagingV2, records: "items"},
	duoapi.PathTrustMonitorV1:      {typ: duoapi.TrustMonitor, paging: pagingTrustMonitor, records: "events"},
	duoapi.PathAdministratorV1:     {typ: duoapi.Administrator, paging: pagingV1},
	duoapi.PathTelephonyV1:         {typ: duoapi.Telephony, paging: pagingV1},
	duoapi.PathOfflineEnrollmentV1: {typ: duoapi.OfflineEnrollment, paging: pagingV1},
}

// reply is a response before it is written, so that a fault can cut it.
type reply struct {
	status int
	code   int
	body   []byte
	html   bool
}

// apiError is a Duo failure response.
type apiError struct {
	status  int
	code    int
	message string
	detail  string
}

func (e *apiError) reply() reply {
	var b bytes.Buffer
	b.WriteString(`{"code": `)
	b.WriteString(strconv.Itoa(e.code))
	b.WriteString(`, "message": `)
	writeJSONString(&b, e.message)
	if e.detail != "" {
		b.WriteString(`, "message_detail": `)
		writeJSONString(&b, e.detail)
	}
	b.WriteString(`, "stat": "FAIL"}`)
	return reply{status: e.status, code: e.code, body: b.Bytes()}
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always encodes
	b.Write(enc)
}

func errInvalid(detail string) *apiError {
	return &apiError{http.StatusBadRequest, 40002, "Invalid request parameters", detail}
}

func errMissing(param string) *apiError {
	return &apiError{http.StatusBadRequest, 40001, "Missing required request parameters", param}
}

var (
	errTooManyRequests = &apiError{status: http.StatusTooManyRequests, code: 42901, message: "Too Many Requests"}
	errInternal        = &apiError{status: http.StatusInternalServerError, code: 50001, message: "Unknown internal server error"}
	errForbidden       = &apiError{status: http.StatusForbidden, code: 40301, message: "Access forbidden"}
	errNotFound        = &apiError{status: http.StatusNotFound, code: 40401, message: "Resource not found"}
	errMethod          = &apiError{status: http.StatusMethodNotAllowed, code: 40501, message: "Method not allowed"}
)

// unavailableBody is what a load balancer in front of the API sends with a
// 503: HTML, not a Duo JSON envelope.
const unavailableBody = "<html>\r\n<head><title>503 Service Temporarily Unavailable</title></head>\r\n" +
	"<body>\r\n<center><h1>503 Service Temporarily Unavailable</h1></center>\r\n</body>\r\n</html>\r\n"

// ServeHTTP answers one request the way Duo does.
func (s *Sim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Each path below records the request before the client can see any
	// answer, so that a client that got a response finds it in Requests.
	rec := RequestRecord{
		Time:      s.now(),
		Method:    r.Method,
		Path:      r.URL.Path,
		Query:     r.URL.Query(),
		UserAgent: r.Header.Get("User-Agent"),
	}
	rec.AccountID = rec.Query.Get("account_id")

	if r.URL.Path == PathPing {
		s.write(w, &rec, s.ping(r), false)
		return
	}
	ep, isLog := endpoints[r.URL.Path]
	if !isLog && r.URL.Path != duoapi.PathAccountList {
		s.write(w, &rec, errNotFound.reply(), false)
		return
	}
	method := http.MethodGet
	if !isLog {
		method = http.MethodPost
	}
	if r.Method != method {
		s.write(w, &rec, errMethod.reply(), false)
		return
	}

	fault, slow := s.faults.draw()
	rec.Fault = fault
	if slow > 0 {
		rec.Slowed = true
		t := time.NewTimer(slow)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			s.stats.add(rec) // the client went away: no response, status 0
			return
		}
	}
	switch fault {
	case FaultDrop:
		s.stats.add(rec)
		dropConnection(w)
		return
	case FaultTooManyRequests:
		s.write(w, &rec, errTooManyRequests.reply(), false)
		return
	case FaultServerError:
		s.write(w, &rec, errInternal.reply(), false)
		return
	case FaultUnavailable:
		s.write(w, &rec, reply{status: http.StatusServiceUnavailable, body: []byte(unavailableBody), html: true}, false)
		return
	}

	now := s.now()
	c, err := s.readCredentials(r, now)
	if err != nil {
		s.write(w, &rec, err.reply(), false)
		return
	}
	if !isLog {
		body, err := s.listChildren(c, &rec, now)
		if err != nil {
			s.write(w, &rec, err.reply(), false)
			return
		}
		s.write(w, &rec, reply{status: http.StatusOK, body: body}, fault == FaultTruncate)
		return
	}
	a, err := s.admit(c, ep, &rec, now)
	if err != nil {
		s.write(w, &rec, err.reply(), false)
		return
	}
	s.write(w, &rec, s.serveLogs(a, ep, rec.Query, now), fault == FaultTruncate)
}

// admit decides whether a log request with credentials c may read the
// events of endpoint ep, and from which account: it must be signed for the
// hostname of the account it is for (see authorize), the integration must
// be allowed to read logs, the account's edition must have the endpoint and
// the account's rate limit must have room for the request.
func (s *Sim) admit(c credentials, ep endpoint, rec *RequestRecord, now time.Time) (*accountStore, *apiError) {
	a, err := s.authorize(c, rec)
	if err != nil {
		return nil, err
	}
	if s.denyLogRead {
		return nil, errForbidden
	}
	if e, ok := a.unavailable[ep.typ]; ok {
		return nil, e
	}
	if a.limiter != nil && !a.limiter.allow(now) {
		return nil, errTooManyRequests
	}
	return a, nil
}

// dropConnection closes the connection without sending a response.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	// Without a hijackable connection, this is how a handler tells the
	// server to abort the response.
	panic(http.ErrAbortHandler)
}

// write records the request and sends rep, only the first half of its body
// when truncate is set and the reply is a success.
func (s *Sim) write(w http.ResponseWriter, rec *RequestRecord, rep reply, truncate bool) {
	rec.Status, rec.Code = rep.status, rep.code
	body := rep.body
	if truncate && rep.status == http.StatusOK {
		body = body[:len(body)/2]
	} else if truncate {
		rec.Fault = "" // only success bodies are cut
	}
	s.stats.add(*rec)
	h := w.Header()
	if rep.html {
		h.Set("Content-Type", "text/html")
	} else {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	// Duo dates its answers by its own clock, which is how a client
	// measures its clock skew; without this net/http would use the wall
	// clock.
	h.Set("Date", s.now().UTC().Format(http.TimeFormat))
	w.WriteHeader(rep.status)
	w.Write(body)
}

func (s *Sim) ping(r *http.Request) reply {
	if r.Method != http.MethodGet {
		return errMethod.reply()
	}
	body := fmt.Appendf(nil, `{"response": {"time": %d}, "stat": "OK"}`, s.now().Unix())
	return reply{status: http.StatusOK, body: body}
}

// visibleBefore returns the first millisecond that is not yet available at
// now.
func (s *Sim) visibleBefore(now time.Time) int64 {
	if s.lag < 0 {
		return maxMillis
	}
	return now.Add(-s.lag).UnixMilli()
}

// maxMillis is larger than any event time the simulator stores.
const maxMillis = int64(1) << 62

// Server is a Sim listening on a random loopback port. The Sim's methods are
// promoted, so a Server is used like the Sim itself.
type Server struct {
	*Sim
	// URL is the base URL of the server, such as http://127.0.0.1:41234.
	URL string
	// Addr is the host:port the server listens on.
	Addr string

	srv  *http.Server
	done chan struct{}
}

// Start creates a simulator configured by cfg and serves it on 127.0.0.1 with
// a random port until Close.
func Start(cfg Config) (*Server, error) {
	sim, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return sim.Serve()
}

// Serve serves s on 127.0.0.1 with a random port until Close.
func (s *Sim) Serve() (*Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen on loopback: %w", err)
	}
	srv := &Server{
		Sim:  s,
		URL:  "http://" + ln.Addr().String(),
		Addr: ln.Addr().String(),
		srv:  &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second},
		done: make(chan struct{}),
	}
	go func() {
		defer close(srv.done)
		srv.srv.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	return srv, nil
}

// Close stops the server and closes its connections; handlers still waiting
// (slow responses) see their request cancelled.
func (srv *Server) Close() error {
	err := srv.srv.Close()
	<-srv.done
	return err
}
