// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"maps"
	"net/url"
	"sync"
	"time"
)

// maxRequestLog is how many requests Requests remembers; older ones are
// forgotten (RequestCounts keeps counting them).
const maxRequestLog = 10000

// RequestRecord is one request the simulator received.
type RequestRecord struct {
	// Time is the server clock when the request arrived.
	Time   time.Time
	Method string
	Path   string
	// Query is the request's parsed query string.
	Query url.Values
	// AccountID is the request's account_id parameter (its first value),
	// which names the child account a log request is for; empty for a
	// request for the parent's own account.
	AccountID string
	// SignedHost is the API hostname the request's signature was made for
	// when that is not the parent's own (Config.APIHost): the api_hostname
	// of a child, present or removed. It is empty for a request signed for
	// the parent's hostname, for one whose signature matches no hostname
	// the simulator knows, and for one whose signature was not checked.
	SignedHost string
	// Status is the HTTP status sent, or 0 when no response was sent (a
	// dropped connection, or a client that gave up during a slow response).
	Status int
	// Code is the Duo error code sent, or 0 for a success.
	Code int
	// Fault is the fault injected into the request, if any.
	Fault Fault
	// Slowed tells whether the request was delayed by a slow fault.
	Slowed bool
	// UserAgent is the request's User-Agent header, empty when it had
	// none. duostream sends "duostream/<version> (<instance id>)", which
	// tells the replicas of one deployment apart in the request log.
	UserAgent string
}

// PathStatus is a key of RequestCounts.
type PathStatus struct {
	Path   string
	Status int
}

// requestStats records requests.
type requestStats struct {
	mu     sync.Mutex
	log    []RequestRecord
	counts map[PathStatus]int
	// byAccount holds the counts of the requests of each AccountID.
	byAccount map[string]map[PathStatus]int
}

func (rs *requestStats) add(rec RequestRecord) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.counts == nil {
		rs.counts = make(map[PathStatus]int)
		rs.byAccount = make(map[string]map[PathStatus]int)
	}
	key := PathStatus{Path: rec.Path, Status: rec.Status}
	rs.counts[key]++
	if rs.byAccount[rec.AccountID] == nil {
		rs.byAccount[rec.AccountID] = make(map[PathStatus]int)
	}
	rs.byAccount[rec.AccountID][key]++
	if len(rs.log) >= maxRequestLog {
		n := copy(rs.log, rs.log[maxRequestLog/2:])
		clear(rs.log[n:])
		rs.log = rs.log[:n]
	}
	rs.log = append(rs.log, rec)
}

// Requests returns the requests received, oldest first (at most the last
// 10,000, and none from before ResetRequests). A request is recorded before
// any byte of its answer is sent, so a client that got a response finds it
// here. Tests use it to check what a client sent, for instance that mintime
// and maxtime stayed fixed while it followed next_offset.
func (s *Sim) Requests() []RequestRecord {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	out := make([]RequestRecord, len(s.stats.log))
	for i, rec := range s.stats.log {
		rec.Query = cloneValues(rec.Query)
		out[i] = rec
	}
	return out
}

// RequestCounts returns how many requests got each status on each path
// since the start or ResetRequests, whichever account they were for. Status
// 0 counts requests that got no response.
func (s *Sim) RequestCounts() map[PathStatus]int {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return maps.Clone(s.stats.counts)
}

// AccountRequestCounts is RequestCounts for the requests whose account_id
// was accountID (see RequestRecord.AccountID): a child's ID for the log
// requests for that child, or "" for the parent's own log requests and the
// account list calls.
func (s *Sim) AccountRequestCounts(accountID string) map[PathStatus]int {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	return maps.Clone(s.stats.byAccount[accountID])
}

// ResetRequests forgets the requests recorded so far.
func (s *Sim) ResetRequests() {
	s.stats.mu.Lock()
	defer s.stats.mu.Unlock()
	s.stats.log = nil
	s.stats.counts = nil
	s.stats.byAccount = nil
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
