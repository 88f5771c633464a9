// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// msp is a simulated MSP parent served through a handler that can add
// faults, with a Puller of its children whose requests in flight it
// watches.
type msp struct {
	sim *duosim.Sim
	srv *httptest.Server
	obs *accountsObserver

	mu sync.Mutex
	// inFlight counts the requests in flight by account_id ("" for the
	// account list) as the client sees them: from when it sends one until
	// it has closed the response, or failed. The handler cannot count
	// them: a page written in one piece reaches the client, which may
	// send the account's next request, before the handler has returned.
	inFlight map[string]int
	maxByAcc map[string]int
	maxAll   int
	all      int
	// refuse, when it returns a status, answers a request with it
	// instead of the simulator.
	refuse func(r *http.Request) int
	// delay holds each request back before it is answered, and linger
	// keeps the handler running after its answer has been flushed.
	delay, linger time.Duration
}

func newMSP(t *testing.T, cfg duosim.Config) *msp {
	t.Helper()
	cfg.AccountsAPI = true
	sim, err := duosim.New(cfg)
	require.NoError(t, err)
	m := &msp{sim: sim, obs: &accountsObserver{}, inFlight: map[string]int{}, maxByAcc: map[string]int{}}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(m.srv.Close)
	return m
}

func (m *msp) serve(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	refuse, delay, linger := m.refuse, m.delay, m.linger
	m.mu.Unlock()
	if linger > 0 {
		defer func() {
			w.(http.Flusher).Flush()
			time.Sleep(linger)
		}()
	}
	time.Sleep(delay)
	if refuse != nil {
		if status := refuse(r); status != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"stat":"FAIL","code":%d,"message":"injected"}`, status*100)
			return
		}
	}
	m.sim.ServeHTTP(w, r)
}

func (m *msp) client(t *testing.T, rpm int) *duoapi.Client {
	t.Helper()
	c, err := duoapi.NewClient(duoapi.ClientConfig{
		APIHostname:       m.sim.APIHost(),
		IntegrationKey:    m.sim.IntegrationKey(),
		SecretKey:         m.sim.SecretKey(),
		BaseURL:           m.srv.URL,
		RequestsPerMinute: rpm,
		HTTPClient:        m.httpClient(),
	})
	require.NoError(t, err)
	return c
}

// httpClient returns an HTTP client whose requests m counts in flight.
func (m *msp) httpClient() *http.Client {
	return &http.Client{Transport: watchedTransport{m: m, next: http.DefaultTransport}, Timeout: 30 * time.Second}
}

// begin counts a request of account acc in flight, until the function it
// returns is called (once or more).
func (m *msp) begin(acc string) (end func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.inFlight[acc]++
	m.all++
	m.maxByAcc[acc] = max(m.maxByAcc[acc], m.inFlight[acc])
	m.maxAll = max(m.maxAll, m.all)
	return sync.OnceFunc(func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		m.inFlight[acc]--
		m.all--
	})
}

// watchedTransport counts the requests it sends in flight in m, until
// their response body is closed or they fail.
type watchedTransport struct {
	m    *msp
	next http.RoundTripper
}

func (t watchedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	end := t.m.begin(r.URL.Query().Get("account_id"))
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		end()
		return nil, err
	}
	resp.Body = &endOnClose{ReadCloser: resp.Body, end: end}
	return resp, nil
}

// endOnClose is a response body that ends its request's count when closed.
type endOnClose struct {
	io.ReadCloser
	end func()
}

func (b *endOnClose) Close() error {
	defer b.end()
	return b.ReadCloser.Close()
}

func (m *msp) puller(t *testing.T, cfg duoapi.PullerConfig, accounts duoapi.AccountsConfig) *duoapi.Puller {
	t.Helper()
	if cfg.InitialLookback == 0 {
		cfg.InitialLookback = 3 * time.Hour
	}
	cfg.Observer = m.obs
	cfg.ErrorBackoff = duoapi.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	cfg.RateLimitBackoff = duoapi.Backoff{Initial: 200 * time.Millisecond, Max: 400 * time.Millisecond}
	cfg.ConfigErrorBackoff = duoapi.Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	if accounts.Start == nil {
		accounts.Start = func(context.Context, duoapi.Stream) (duoapi.Cursor, error) { return duoapi.Cursor{}, nil }
	}
	p, err := duoapi.NewAccountsPuller(m.client(t, 60000), cfg, accounts)
	require.NoError(t, err)
	return p
}

// accountsObserver records what a Puller reports about accounts.
type accountsObserver struct {
	duoapi.NopObserver
	mu          sync.Mutex
	refreshes   []duoapi.AccountsRefresh
	listErrors  []error
	unreachable []string
	reachable   []string
	retries     map[string]int // by account ID
}

func (o *accountsObserver) AccountsRefreshed(r duoapi.AccountsRefresh) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.refreshes = append(o.refreshes, r)
}

func (o *accountsObserver) AccountsListFailed(err error, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.listErrors = append(o.listErrors, err)
}

func (o *accountsObserver) AccountUnreachable(a duoapi.Account, _ error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.unreachable = append(o.unreachable, a.ID)
}

func (o *accountsObserver) AccountReachable(a duoapi.Account) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.reachable = append(o.reachable, a.ID)
}

func (o *accountsObserver) Retry(s duoapi.Stream, _ error, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.retries == nil {
		o.retries = map[string]int{}
	}
	o.retries[s.Account.ID]++
}

func (o *accountsObserver) StreamGivenUp(s duoapi.Stream, _ error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.retries == nil {
		o.retries = map[string]int{}
	}
	o.retries[s.Account.ID]++
}

func (o *accountsObserver) snapshot() accountsObserver {
	o.mu.Lock()
	defer o.mu.Unlock()
	return accountsObserver{
		refreshes: slices.Clone(o.refreshes), listErrors: slices.Clone(o.listErrors),
		unreachable: slices.Clone(o.unreachable), reachable: slices.Clone(o.reachable),
	}
}

// delivery is what a Puller delivered, by account and event.
type delivery struct {
	batches []duoapi.Batch
	// events counts each event delivered, by account ID and compact body.
	events map[string]map[string]int
	total  int
}

// pull reads batches until cond holds of what was delivered, or fails the
// test after within.
func pull(t *testing.T, p *duoapi.Puller, d *delivery, within time.Duration, cond func(*delivery) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), within)
	defer cancel()
	for !cond(d) {
		b, err := p.Next(ctx)
		require.NoError(t, err, "delivered %d events so far", d.total)
		d.add(t, b)
	}
}

// pullToEnd reads the batches of a bounded pull until it ends.
func pullToEnd(t *testing.T, p *duoapi.Puller, d *delivery) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		b, err := p.Next(ctx)
		if errors.Is(err, duoapi.ErrWindowRead) {
			return
		}
		require.NoError(t, err, "delivered %d events so far", d.total)
		d.add(t, b)
	}
}

// add records batch b.
func (d *delivery) add(t *testing.T, b duoapi.Batch) {
	if d.events == nil {
		d.events = map[string]map[string]int{}
	}
	d.batches = append(d.batches, b)
	if d.events[b.Account.ID] == nil {
		d.events[b.Account.ID] = map[string]int{}
	}
	for _, ev := range b.Events {
		d.events[b.Account.ID][compact(t, ev)]++
		d.total++
	}
}

func compact(t *testing.T, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	require.NoError(t, json.Compact(&b, raw))
	return b.String()
}

// expected returns the compact bodies of a child's events of types.
func expected(t *testing.T, c *duosim.Child, types ...duoapi.LogType) []string {
	t.Helper()
	var out []string
	for _, lt := range types {
		for _, ev := range c.Events(lt, time.Time{}, time.Now().Add(time.Hour)) {
			out = append(out, compact(t, ev.Body))
		}
	}
	return out
}

// exactlyOnce checks that d holds each of want once under account id, and
// nothing else.
func exactlyOnce(t *testing.T, d *delivery, id string, want []string) {
	t.Helper()
	got := d.events[id]
	assert.Len(t, got, len(want), "account %s: distinct events", id)
	for _, w := range want {
		assert.Equal(t, 1, got[w], "account %s: event delivered once: %.80s", id, w)
	}
}

func TestAccountsPullerPullsEveryChild(t *testing.T) {
	m := newMSP(t, duosim.Config{Seed: 7})
	children := []duosim.ChildConfig{
		{ID: "DAAAAAAAAAAAAAAAAAA1", Name: "Alpha", APIHostname: "api-a1a1a1a1.duosecurity.com"},
		{ID: "DABBBBBBBBBBBBBBBBB2", Name: "Bravo", APIHostname: "api-b2b2b2b2.duofederal.com"},
		{ID: "DACCCCCCCCCCCCCCCCC3", Name: "Charlie", APIHostname: "api-c3c3c3c3.duosecurity.com", CrossDeployment: true},
		{ID: "DADDDDDDDDDDDDDDDDD4", Name: "Delta", APIHostname: "api-d4d4d4d4.duosecurity.com"},
	}
	from, to := time.Now().Add(-2*time.Hour), time.Now().Add(-10*time.Minute)
	want := map[string][]string{}
	total := 0
	for i, cc := range children {
		c, err := m.sim.AddChild(cc)
		require.NoError(t, err)
		require.NoError(t, c.Generate(duoapi.Authentication, 1500+100*i, from, to))
		require.NoError(t, c.Generate(duoapi.Administrator, 40+i, from, to))
		if !cc.CrossDeployment {
			want[cc.ID] = expected(t, c, duoapi.Authentication, duoapi.Administrator)
			total += len(want[cc.ID])
		}
	}
	p := m.puller(t, duoapi.PullerConfig{LogTypes: []duoapi.LogType{duoapi.Authentication, duoapi.Administrator}}, duoapi.AccountsConfig{})
	var d delivery
	pull(t, p, &d, 30*time.Second, func(d *delivery) bool { return d.total >= total })
	for id, w := range want {
		exactlyOnce(t, &d, id, w)
	}
	assert.Empty(t, d.events[children[2].ID], "nothing of the unreachable child")
	for _, b := range d.batches {
		i := slices.IndexFunc(children, func(c duosim.ChildConfig) bool { return c.ID == b.Account.ID })
		require.GreaterOrEqual(t, i, 0, "a batch of a listed child: %+v", b.Account)
		assert.Equal(t, children[i].Name, b.Account.Name)
		assert.Equal(t, children[i].APIHostname, b.Account.APIHostname)
	}
	obs := m.obs.snapshot()
	assert.Equal(t, []string{children[2].ID}, obs.unreachable, "the cross-deployment child is reported once")
	require.Len(t, obs.refreshes, 1)
	assert.Equal(t, 4, obs.refreshes[0].Listed)
	assert.Len(t, obs.refreshes[0].Added, 4)
	for _, rec := range m.sim.Requests() {
		if rec.AccountID == children[2].ID {
			continue
		}
		assert.NotEqual(t, http.StatusForbidden, rec.Status, "no reachable child is refused: %+v", rec)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for acc, n := range m.maxByAcc {
		assert.Equal(t, 1, n, "account %q: one request in flight at a time", acc)
	}
}

// TestAccountsPullerRefresh checks that the child list is read again every
// refresh interval: a child added starts InitialLookback ago and is pulled
// to its end, a child removed gets no request after the next read, and
// include and exclude select by ID or exact name.
func TestAccountsPullerRefresh(t *testing.T) {
	m := newMSP(t, duosim.Config{Seed: 8})
	from, to := time.Now().Add(-2*time.Hour), time.Now().Add(-10*time.Minute)
	add := func(cc duosim.ChildConfig, n int) *duosim.Child {
		c, err := m.sim.AddChild(cc)
		require.NoError(t, err)
		require.NoError(t, c.Generate(duoapi.Authentication, n, from, to))
		return c
	}
	keep := add(duosim.ChildConfig{ID: "DAKEEPKEEPKEEPKEEP01", Name: "Keep", APIHostname: "api-k0k0k0k0.duosecurity.com"}, 300)
	gone := add(duosim.ChildConfig{ID: "DAGONEGONEGONEGONE02", Name: "Gone", APIHostname: "api-g0g0g0g0.duosecurity.com"}, 200)
	skipped := add(duosim.ChildConfig{ID: "DASKIPSKIPSKIPSKIP03", Name: "Skip me", APIHostname: "api-s0s0s0s0.duosecurity.com"}, 100)
	filtered := add(duosim.ChildConfig{ID: "DANOTINCLUDEDNOTIN04", Name: "Other", APIHostname: "api-o0o0o0o0.duosecurity.com"}, 100)

	var starts sync.Map
	p := m.puller(t, duoapi.PullerConfig{LogTypes: []duoapi.LogType{duoapi.Authentication}, PollInterval: time.Second}, duoapi.AccountsConfig{
		Include:         []string{"Keep", gone.ID(), "Skip me", "Late", "Nobody"},
		Exclude:         []string{skipped.ID()},
		RefreshInterval: time.Second,
		Start: func(_ context.Context, s duoapi.Stream) (duoapi.Cursor, error) {
			starts.Store(s.Key(), true)
			return duoapi.Cursor{}, nil
		},
	})
	var d delivery
	pull(t, p, &d, 20*time.Second, func(d *delivery) bool { return d.total >= 500 })
	exactlyOnce(t, &d, keep.ID(), expected(t, keep, duoapi.Authentication))
	exactlyOnce(t, &d, gone.ID(), expected(t, gone, duoapi.Authentication))
	assert.Empty(t, d.events[skipped.ID()], "excluded, though included")
	assert.Empty(t, d.events[filtered.ID()], "not included")
	obs := m.obs.snapshot()
	assert.ElementsMatch(t, []string{"Late", "Nobody"}, obs.refreshes[0].Unmatched)
	_, started := starts.Load(duoapi.StreamKey{AccountID: filtered.ID(), LogType: duoapi.Authentication})
	assert.False(t, started, "no stream starts for a child not selected")

	require.NoError(t, m.sim.RemoveChild(gone.ID()))
	late := add(duosim.ChildConfig{ID: "DALATELATELATELATE05", Name: "Late", APIHostname: "api-l0l0l0l0.duosecurity.com"}, 250)
	pull(t, p, &d, 20*time.Second, func(d *delivery) bool { return d.total >= 750 })
	exactlyOnce(t, &d, late.ID(), expected(t, late, duoapi.Authentication))
	obs = m.obs.snapshot()
	last := obs.refreshes[len(obs.refreshes)-1]
	assert.Equal(t, []string{gone.ID(), "Nobody"}, last.Unmatched, "an included child that was removed is named")
	var added, removed []string
	for _, r := range obs.refreshes {
		for _, a := range r.Added {
			added = append(added, a.ID)
		}
		for _, a := range r.Removed {
			removed = append(removed, a.ID)
		}
	}
	assert.Equal(t, []string{keep.ID(), gone.ID(), late.ID()}, added)
	assert.Equal(t, []string{gone.ID()}, removed)

	// After the read that dropped it, no request is made for the removed
	// child: wait for another refresh and count.
	m.sim.ResetRequests()
	n := len(obs.refreshes)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	for len(m.obs.snapshot().refreshes) < n+2 {
		_, err := p.Next(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		require.NoError(t, err)
	}
	for _, rec := range m.sim.Requests() {
		assert.NotEqual(t, gone.ID(), rec.AccountID, "a request for the removed child")
	}
}

// TestAccountsPullerFairness checks that a child with a long backlog holds
// back no other child by more than one round: with one request at a time,
// every child's first page comes within the first round, before the big
// child's second page.
func TestAccountsPullerFairness(t *testing.T) {
	m := newMSP(t, duosim.Config{Seed: 9})
	from, to := time.Now().Add(-20*time.Hour), time.Now().Add(-10*time.Minute)
	big, err := m.sim.AddChild(duosim.ChildConfig{ID: "DABIGBACKLOGBIGBAC01", Name: "Big", APIHostname: "api-b1b1b1b1.duosecurity.com"})
	require.NoError(t, err)
	require.NoError(t, big.Generate(duoapi.Authentication, 8000, from, to))
	small, err := m.sim.GenerateChildren(5)
	require.NoError(t, err)
	for _, c := range small {
		require.NoError(t, c.Generate(duoapi.Authentication, 50, to.Add(-time.Minute), to))
	}
	p := m.puller(t, duoapi.PullerConfig{LogTypes: []duoapi.LogType{duoapi.Authentication}, MaxInFlight: 1, InitialLookback: 21 * time.Hour}, duoapi.AccountsConfig{})
	var d delivery
	pull(t, p, &d, 30*time.Second, func(d *delivery) bool { return d.total >= 8000+5*50 })
	var order []string
	for _, b := range d.batches {
		if len(b.Events) > 0 {
			order = append(order, b.Account.ID)
		}
	}
	second := slices.Index(order[slices.Index(order, big.ID())+1:], big.ID()) + slices.Index(order, big.ID()) + 1
	for _, c := range small {
		i := slices.Index(order, c.ID())
		require.GreaterOrEqual(t, i, 0)
		assert.Less(t, i, second, "child %s's events come before the big child's second page", c.ID())
		exactlyOnce(t, &d, c.ID(), expected(t, c, duoapi.Authentication))
	}
	exactlyOnce(t, &d, big.ID(), expected(t, big, duoapi.Authentication))
}

// TestAccountsPullerFailuresStayWithTheChild checks that a child that gets
// 429 or 500 on every request holds back only itself, that requests of
// several children are in flight at once but never two of one child, and
// that a failing account list leaves the children already listed going.
func TestAccountsPullerFailuresStayWithTheChild(t *testing.T) {
	m := newMSP(t, duosim.Config{Seed: 10})
	children, err := m.sim.GenerateChildren(6)
	require.NoError(t, err)
	from, to := time.Now().Add(-2*time.Hour), time.Now().Add(-10*time.Minute)
	for _, c := range children {
		require.NoError(t, c.Generate(duoapi.Authentication, 2500, from, to))
		require.NoError(t, c.Generate(duoapi.Telephony, 1200, from, to))
	}
	limited, failing := children[0].ID(), children[1].ID()
	var listCalls int
	m.mu.Lock()
	m.delay = 5 * time.Millisecond
	m.refuse = func(r *http.Request) int {
		switch acc := r.URL.Query().Get("account_id"); {
		case acc == limited:
			return http.StatusTooManyRequests
		case acc == failing:
			return http.StatusInternalServerError
		case r.URL.Path == duoapi.PathAccountList:
			listCalls++
			if listCalls > 1 {
				return http.StatusServiceUnavailable
			}
		}
		return 0
	}
	m.mu.Unlock()
	p := m.puller(t, duoapi.PullerConfig{LogTypes: []duoapi.LogType{duoapi.Authentication, duoapi.Telephony}, MaxInFlight: 3}, duoapi.AccountsConfig{RefreshInterval: time.Second})
	var d delivery
	pull(t, p, &d, 30*time.Second, func(d *delivery) bool { return d.total >= 4*3700 })
	for _, c := range children[2:] {
		exactlyOnce(t, &d, c.ID(), expected(t, c, duoapi.Authentication, duoapi.Telephony))
	}
	assert.Empty(t, d.events[limited])
	assert.Empty(t, d.events[failing])
	// Once the others have caught up, only the two failing children ask:
	// pull two seconds more, so that their backoffs, not their turns,
	// set how often they retry.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	for {
		if _, err := p.Next(ctx); err != nil {
			require.ErrorIs(t, err, context.DeadlineExceeded)
			break
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for acc, n := range m.maxByAcc {
		assert.Equal(t, 1, n, "account %q: one request in flight at a time", acc)
	}
	assert.Greater(t, m.maxAll, 1, "several children's requests in flight at once")
	assert.LessOrEqual(t, m.maxAll, 3+1, "at most MaxInFlight log requests, and the account list, at once")
	m.obs.mu.Lock()
	defer m.obs.mu.Unlock()
	assert.Positive(t, m.obs.retries[limited], "the rate-limited child is retried")
	assert.Less(t, m.obs.retries[limited], m.obs.retries[failing], "and backs off longer than a child with 500s")
	assert.Empty(t, m.obs.unreachable, "neither 429 nor 500 makes a child unreachable")
}

// TestMSPCountsRequestsInFlightAsTheClientSees checks what the in-flight
// counts of msp, which the tests above assert on, count: a request stops
// being in flight once its client has the answer, even while the handler
// runs on (a request sent then does not overlap it), and two requests sent
// before either is answered are two in flight.
func TestMSPCountsRequestsInFlightAsTheClientSees(t *testing.T) {
	m := newMSP(t, duosim.Config{Seed: 12})
	const acc = "DA0000000000000000T1"
	get := func() {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, m.srv.URL+duoapi.PathAuthenticationV2+"?account_id="+acc, nil)
		if !assert.NoError(t, err) {
			return
		}
		req.Close = true // a connection of its own, as Client sends them
		resp, err := m.httpClient().Do(req)
		if !assert.NoError(t, err) {
			return
		}
		_, err = io.Copy(io.Discard, resp.Body)
		assert.NoError(t, err)
		assert.NoError(t, resp.Body.Close())
	}
	maxInFlight := func() int {
		m.mu.Lock()
		defer m.mu.Unlock()
		return m.maxByAcc[acc]
	}

	m.mu.Lock()
	m.linger = 300 * time.Millisecond
	m.mu.Unlock()
	get()
	get()
	assert.Equal(t, 1, maxInFlight(), "one answered before the next was sent")

	m.mu.Lock()
	m.linger, m.delay = 0, 300*time.Millisecond
	m.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(get)
	wg.Go(get)
	wg.Wait()
	assert.Equal(t, 2, maxInFlight(), "both sent before either was answered")
}

// TestAccountsPullerStartError checks that a child whose stored position
// cannot be read is left out, reported, and started once it can be.
func TestAccountsPullerStartError(t *testing.T) {
	m := newMSP(t, duosim.Config{Seed: 11})
	children, err := m.sim.GenerateChildren(2)
	require.NoError(t, err)
	from, to := time.Now().Add(-2*time.Hour), time.Now().Add(-10*time.Minute)
	for _, c := range children {
		require.NoError(t, c.Generate(duoapi.Authentication, 100, from, to))
	}
	var mu sync.Mutex
	failures := 0
	p := m.puller(t, duoapi.PullerConfig{LogTypes: []duoapi.LogType{duoapi.Authentication}}, duoapi.AccountsConfig{
		Start: func(_ context.Context, s duoapi.Stream) (duoapi.Cursor, error) {
			mu.Lock()
			defer mu.Unlock()
			if s.Account.ID == children[1].ID() && failures < 2 {
				failures++
				return duoapi.Cursor{}, errors.New("cache down")
			}
			return duoapi.Cursor{}, nil
		},
	})
	var d delivery
	pull(t, p, &d, 20*time.Second, func(d *delivery) bool { return d.total >= 200 })
	for _, c := range children {
		exactlyOnce(t, &d, c.ID(), expected(t, c, duoapi.Authentication))
	}
	obs := m.obs.snapshot()
	require.GreaterOrEqual(t, len(obs.refreshes), 3)
	assert.ErrorContains(t, obs.refreshes[0].Failed[children[1].ID()], "cache down")
	assert.Len(t, obs.refreshes[0].Pulled, 1, "the other child goes on")
}

func TestNewAccountsPullerRefuses(t *testing.T) {
	m := newMSP(t, duosim.Config{Seed: 12})
	parent := m.client(t, 30)
	start := func(context.Context, duoapi.Stream) (duoapi.Cursor, error) { return duoapi.Cursor{}, nil }
	child, err := parent.ForAccount(duoapi.Account{ID: "DAAAAAAAAAAAAAAAAAA1", APIHostname: "api-a.duosecurity.com"})
	require.NoError(t, err)
	for name, tt := range map[string]struct {
		client   *duoapi.Client
		cfg      duoapi.PullerConfig
		accounts duoapi.AccountsConfig
		want     string
	}{
		"short refresh":   {parent, duoapi.PullerConfig{}, duoapi.AccountsConfig{RefreshInterval: time.Millisecond, Start: start}, "shorter than 1s"},
		"no start":        {parent, duoapi.PullerConfig{}, duoapi.AccountsConfig{}, "Start is nil"},
		"a child's":       {child, duoapi.PullerConfig{}, duoapi.AccountsConfig{Start: start}, "with the parent's client"},
		"negative flight": {parent, duoapi.PullerConfig{MaxInFlight: -1}, duoapi.AccountsConfig{Start: start}, "must be positive"},
		"twice":           {parent, duoapi.PullerConfig{LogTypes: []duoapi.LogType{duoapi.Telephony, duoapi.Telephony}}, duoapi.AccountsConfig{Start: start}, "listed twice"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := duoapi.NewAccountsPuller(tt.client, tt.cfg, tt.accounts)
			assert.ErrorContains(t, err, tt.want)
		})
	}
}

func TestStreamString(t *testing.T) {
	assert.Equal(t, "telephony", duoapi.Stream{LogType: duoapi.Telephony}.String())
	assert.Equal(t, `telephony of account DA1 ("Acme")`, duoapi.Stream{Account: duoapi.Account{ID: "DA1", Name: "Acme"}, LogType: duoapi.Telephony}.String())
	assert.Equal(t, "telephony of account DA1", duoapi.Stream{Account: duoapi.Account{ID: "DA1"}, LogType: duoapi.Telephony}.String())
}

// TestBatchRemaining checks that a batch tells how many events its window
// still holds, from Duo's total_objects, and -1 where Duo gives no total.
func TestBatchRemaining(t *testing.T) {
	sim, err := duosim.New(duosim.Config{Seed: 13})
	require.NoError(t, err)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	from, to := time.Now().Add(-2*time.Hour), time.Now().Add(-10*time.Minute)
	require.NoError(t, sim.Generate(duoapi.Authentication, 2500, from, to))
	require.NoError(t, sim.Generate(duoapi.Administrator, 1500, from, to))
	c, err := duoapi.NewClient(duoapi.ClientConfig{
		APIHostname: sim.APIHost(), IntegrationKey: sim.IntegrationKey(), SecretKey: sim.SecretKey(),
		BaseURL: srv.URL, RequestsPerMinute: 60000,
	})
	require.NoError(t, err)
	p, err := duoapi.NewPuller(c, duoapi.PullerConfig{LogTypes: []duoapi.LogType{duoapi.Authentication, duoapi.Administrator}, InitialLookback: 3 * time.Hour}, nil)
	require.NoError(t, err)
	got := map[duoapi.LogType][]int64{}
	events := 0
	for events < 4000 {
		b, err := p.Next(t.Context())
		require.NoError(t, err)
		events += len(b.Events)
		got[b.LogType] = append(got[b.LogType], b.Remaining)
	}
	assert.Equal(t, []int64{1500, 500, 0}, got[duoapi.Authentication], "from total_objects")
	for _, r := range got[duoapi.Administrator] {
		assert.Equal(t, int64(-1), r, "v1 pages have no total")
	}
}

// TestBoundedPull reads a window [StartTime, EndTime) of the past and ends:
// exactly the window's events arrive, once, those in its first and last
// millisecond (second, for the v1 log) included and those at EndTime not,
// and Next then returns ErrWindowRead, also for a Puller started again at
// the positions reached. An unreachable child and a log type a child lacks
// are given up, so the pull ends.
func TestBoundedPull(t *testing.T) {
	// v1 pages of 50 events: Duo may answer with fewer than it holds.
	m := newMSP(t, duosim.Config{Seed: 14, V1PageSize: 50})
	now := time.Now().Truncate(time.Second)
	start, end := now.Add(-3*time.Hour), now.Add(-time.Hour)
	kids := []duosim.ChildConfig{
		{ID: "DAAAAAAAAAAAAAAAAAA1", Name: "Alpha", APIHostname: "api-a1a1a1a1.duosecurity.com"},
		{ID: "DABBBBBBBBBBBBBBBBB2", Name: "Bravo", APIHostname: "api-b2b2b2b2.duosecurity.com", Unavailable: map[duoapi.LogType]int{duoapi.Activity: 404}},
		{ID: "DACCCCCCCCCCCCCCCCC3", Name: "Charlie", APIHostname: "api-c3c3c3c3.duosecurity.com", CrossDeployment: true},
	}
	types := []duoapi.LogType{duoapi.Authentication, duoapi.Administrator, duoapi.Activity}
	want := map[string][]string{}
	for _, kc := range kids {
		c, err := m.sim.AddChild(kc)
		require.NoError(t, err)
		for _, lt := range types {
			// Events all around the window, and in its edges: the first
			// and last millisecond (v1: second) in, the end out.
			unit := time.Millisecond
			if lt == duoapi.Administrator {
				unit = time.Second
			}
			require.NoError(t, c.Generate(lt, 3000, now.Add(-4*time.Hour), now.Add(-10*time.Minute)))
			for _, at := range []time.Time{start.Add(-unit), start, end.Add(-unit), end} {
				require.NoError(t, c.Generate(lt, 3, at, at.Add(unit)))
			}
		}
		if kc.CrossDeployment {
			continue
		}
		for _, lt := range types {
			if kc.Unavailable[lt] != 0 {
				continue
			}
			for _, ev := range c.Events(lt, start, end) {
				want[kc.ID] = append(want[kc.ID], compact(t, ev.Body))
			}
		}
	}
	cfg := duoapi.PullerConfig{LogTypes: types, StartTime: start, EndTime: end}
	p := m.puller(t, cfg, duoapi.AccountsConfig{})
	var d delivery
	pullToEnd(t, p, &d)
	for id, w := range want {
		exactlyOnce(t, &d, id, w)
	}
	m.obs.mu.Lock()
	assert.ElementsMatch(t, []string{kids[2].ID}, m.obs.unreachable)
	m.obs.mu.Unlock()
	_, err := p.Next(t.Context())
	assert.ErrorIs(t, err, duoapi.ErrWindowRead, "and again")

	// Started again at the positions reached, it ends at once.
	last := map[duoapi.StreamKey]duoapi.Cursor{}
	for _, b := range d.batches {
		last[duoapi.Stream{Account: b.Account, LogType: b.LogType}.Key()] = b.Cursor
	}
	again := m.puller(t, cfg, duoapi.AccountsConfig{Start: func(_ context.Context, s duoapi.Stream) (duoapi.Cursor, error) {
		return last[s.Key()], nil
	}})
	var rerun delivery
	pullToEnd(t, again, &rerun)
	assert.Zero(t, rerun.total, "nothing is read again")
}

// TestAccountsPullerUnreachableBeforeUnavailable checks that a
// cross-deployment child, which answers 403 to everything, is reported once
// per read of the list as unreachable, never as lacking activity or Trust
// Monitor, and that a reachable child lacking Trust Monitor is reported as
// lacking it.
func TestAccountsPullerUnreachableBeforeUnavailable(t *testing.T) {
	m := newMSP(t, duosim.Config{Seed: 15})
	far, err := m.sim.AddChild(duosim.ChildConfig{ID: "DAFARAWAYFARAWAYFA01", Name: "Far", APIHostname: "api-f1f1f1f1.duosecurity.com", CrossDeployment: true})
	require.NoError(t, err)
	plain, err := m.sim.AddChild(duosim.ChildConfig{ID: "DAPLAINPLAINPLAINP02", Name: "Plain", APIHostname: "api-p2p2p2p2.duosecurity.com",
		Unavailable: map[duoapi.LogType]int{duoapi.TrustMonitor: 403}})
	require.NoError(t, err)
	require.NoError(t, plain.Generate(duoapi.Authentication, 100, time.Now().Add(-time.Hour), time.Now().Add(-10*time.Minute)))
	// Trust Monitor and activity first in each account's turns.
	p := m.puller(t, duoapi.PullerConfig{LogTypes: []duoapi.LogType{duoapi.TrustMonitor, duoapi.Activity, duoapi.Authentication}, PollInterval: time.Second},
		duoapi.AccountsConfig{RefreshInterval: time.Second})
	var d delivery
	pull(t, p, &d, 20*time.Second, func(*delivery) bool { return len(m.obs.snapshot().refreshes) >= 4 })
	obs := m.obs.snapshot()
	assert.Equal(t, 100, d.total)
	assert.NotEmpty(t, obs.unreachable)
	assert.LessOrEqual(t, len(obs.unreachable), len(obs.refreshes), "at most once per read of the list")
	for _, id := range obs.unreachable {
		assert.Equal(t, far.ID(), id)
	}
	m.obs.mu.Lock()
	defer m.obs.mu.Unlock()
	assert.Zero(t, m.obs.retries[far.ID()], "no retry of the unreachable child is reported, so none blames its edition")
	assert.Positive(t, m.obs.retries[plain.ID()], "the reachable child's missing Trust Monitor is reported")
	for _, rec := range m.sim.Requests() {
		if rec.AccountID == far.ID() {
			assert.Equal(t, duoapi.PathAuthenticationV2, rec.Path, "only a log type every account has is asked of a child not known to answer")
		}
	}
}

// TestBoundedPullWaitsForUnstartedChildren checks that a bounded pull does
// not end while a child's streams could not start yet, and that a child
// asked only for log types some editions lack is reported and given up
// rather than retried quietly for ever.
func TestBoundedPullWaitsForUnstartedChildren(t *testing.T) {
	m := newMSP(t, duosim.Config{Seed: 16})
	now := time.Now().Truncate(time.Second)
	start, end := now.Add(-3*time.Hour), now.Add(-time.Hour)
	late, err := m.sim.AddChild(duosim.ChildConfig{ID: "DALATESTARTLATESTA01", Name: "Late", APIHostname: "api-l1l1l1l1.duosecurity.com"})
	require.NoError(t, err)
	require.NoError(t, late.Generate(duoapi.Activity, 500, start, end))
	_, err = m.sim.AddChild(duosim.ChildConfig{ID: "DAFARAWAYFARAWAYFA02", Name: "Far", APIHostname: "api-f2f2f2f2.duosecurity.com", CrossDeployment: true})
	require.NoError(t, err)
	var mu sync.Mutex
	failures := 0
	p := m.puller(t, duoapi.PullerConfig{LogTypes: []duoapi.LogType{duoapi.Activity}, StartTime: start, EndTime: end}, duoapi.AccountsConfig{
		Start: func(_ context.Context, s duoapi.Stream) (duoapi.Cursor, error) {
			mu.Lock()
			defer mu.Unlock()
			if s.Account.ID == late.ID() && failures < 3 {
				failures++
				return duoapi.Cursor{}, errors.New("cache down")
			}
			return duoapi.Cursor{}, nil
		},
	})
	var d delivery
	pullToEnd(t, p, &d)
	exactlyOnce(t, &d, late.ID(), expected(t, late, duoapi.Activity))
	m.obs.mu.Lock()
	defer m.obs.mu.Unlock()
	assert.Positive(t, m.obs.retries["DAFARAWAYFARAWAYFA02"]+len(m.obs.unreachable), "the child that answers 403 to its only log type is reported")
}
