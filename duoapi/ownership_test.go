// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// grants is an Ownership that a test hands streams to and takes them from.
type grants struct {
	mu      sync.Mutex
	tokens  map[duoapi.StreamKey]string
	resumed map[duoapi.StreamKey][]string // tokens of the tenures resumed
	// resumeAt is where a resumed stream continues.
	resumeAt map[duoapi.StreamKey]duoapi.Cursor
}

func newGrants() *grants {
	return &grants{tokens: map[duoapi.StreamKey]string{}, resumed: map[duoapi.StreamKey][]string{}, resumeAt: map[duoapi.StreamKey]duoapi.Cursor{}}
}

func (g *grants) grant(k duoapi.StreamKey, token string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.tokens[k] = token
}

func (g *grants) revoke(k duoapi.StreamKey) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.tokens, k)
}

func (g *grants) Owns(s duoapi.Stream) (string, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	tok, ok := g.tokens[s.Key()]
	return tok, ok
}

func (g *grants) Resume(_ context.Context, s duoapi.Stream) (duoapi.Cursor, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.resumed[s.Key()] = append(g.resumed[s.Key()], g.tokens[s.Key()])
	return g.resumeAt[s.Key()], nil
}

func (g *grants) resumes(k duoapi.StreamKey) []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.resumed[k]...)
}

// TestPullerOwnership checks that a Puller with an Ownership pulls only the
// streams it owns, resumes a stream from Resume at the start of each
// tenure, and stamps batches with their tenure.
func TestPullerOwnership(t *testing.T) {
	m := newMSP(t, duosim.Config{Seed: 11})
	from, to := time.Now().Add(-2*time.Hour), time.Now().Add(-10*time.Minute)
	kids := []duosim.ChildConfig{
		{ID: "DAAAAAAAAAAAAAAAAAA1", Name: "Alpha", APIHostname: "api-a1a1a1a1.duosecurity.com"},
		{ID: "DABBBBBBBBBBBBBBBBB2", Name: "Bravo", APIHostname: "api-b2b2b2b2.duosecurity.com"},
	}
	want := map[string][]string{}
	for _, cc := range kids {
		c, err := m.sim.AddChild(cc)
		require.NoError(t, err)
		require.NoError(t, c.Generate(duoapi.Authentication, 600, from, to))
		want[cc.ID] = expected(t, c, duoapi.Authentication)
	}
	alpha := duoapi.StreamKey{AccountID: kids[0].ID, LogType: duoapi.Authentication}
	bravo := duoapi.StreamKey{AccountID: kids[1].ID, LogType: duoapi.Authentication}
	g := newGrants()
	g.grant(alpha, "t1")
	p := m.puller(t, duoapi.PullerConfig{LogTypes: []duoapi.LogType{duoapi.Authentication}, Ownership: g}, duoapi.AccountsConfig{})

	var d delivery
	pull(t, p, &d, 30*time.Second, func(d *delivery) bool { return len(d.events[alpha.AccountID]) >= len(want[alpha.AccountID]) })
	exactlyOnce(t, &d, alpha.AccountID, want[alpha.AccountID])
	assert.Empty(t, d.events[bravo.AccountID], "nothing of a stream not owned")
	for _, rec := range m.sim.Requests() {
		assert.NotEqual(t, bravo.AccountID, rec.AccountID, "no request for a stream not owned: %s", rec.Path)
	}
	assert.Equal(t, []string{"t1"}, g.resumes(alpha), "resumed once, at the start of its tenure")
	for _, b := range d.batches {
		assert.Equal(t, "t1", b.Tenure)
	}

	// Bravo is handed over; Alpha is lost and taken again later, after
	// "another process" stored nothing: it resumes from the start.
	g.revoke(alpha)
	g.grant(bravo, "t2")
	pull(t, p, &d, 30*time.Second, func(d *delivery) bool { return len(d.events[bravo.AccountID]) >= len(want[bravo.AccountID]) })
	exactlyOnce(t, &d, bravo.AccountID, want[bravo.AccountID])
	g.grant(alpha, "t3")
	d = delivery{}
	pull(t, p, &d, 30*time.Second, func(d *delivery) bool { return len(d.events[alpha.AccountID]) >= len(want[alpha.AccountID]) })
	exactlyOnce(t, &d, alpha.AccountID, want[alpha.AccountID])
	assert.Equal(t, []string{"t1", "t3"}, g.resumes(alpha), "a new tenure resumes from the stored cursor")
	for _, b := range d.batches {
		if b.Account.ID == alpha.AccountID {
			assert.Equal(t, "t3", b.Tenure)
		}
	}
}

// TestPullerOwnershipDropsPageReadWhileLost checks that a page whose stream
// was lost while it was read is not delivered: the next owner reads it.
func TestPullerOwnershipDropsPageReadWhileLost(t *testing.T) {
	m := newMSP(t, duosim.Config{Seed: 12})
	kid := duosim.ChildConfig{ID: "DAAAAAAAAAAAAAAAAAA1", Name: "Alpha", APIHostname: "api-a1a1a1a1.duosecurity.com"}
	c, err := m.sim.AddChild(kid)
	require.NoError(t, err)
	require.NoError(t, c.Generate(duoapi.Authentication, 50, time.Now().Add(-2*time.Hour), time.Now().Add(-10*time.Minute)))
	k := duoapi.StreamKey{AccountID: kid.ID, LogType: duoapi.Authentication}
	g := newGrants()
	g.grant(k, "t1")
	// The first log request revokes the stream while it is answered.
	var once sync.Once
	m.refuse = func(r *http.Request) int {
		if r.URL.Query().Get("account_id") == kid.ID {
			once.Do(func() { g.revoke(k) })
		}
		return 0
	}
	p := m.puller(t, duoapi.PullerConfig{LogTypes: []duoapi.LogType{duoapi.Authentication}, Ownership: g}, duoapi.AccountsConfig{})
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	b, err := p.Next(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded, "no batch: got %d events", len(b.Events))
	assert.Len(t, m.sim.Requests(), 2, "the list and one log request, no more while not owned")
}

func TestPullerOwnershipRefusesBoundedPull(t *testing.T) {
	m := newMSP(t, duosim.Config{Seed: 13})
	_, err := duoapi.NewAccountsPuller(m.client(t, 600), duoapi.PullerConfig{
		Ownership: newGrants(),
		EndTime:   time.Now().Add(-time.Hour),
	}, duoapi.AccountsConfig{Start: func(context.Context, duoapi.Stream) (duoapi.Cursor, error) { return duoapi.Cursor{}, nil }})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot share them with other processes")
}

// TestPullerOwnershipCheckedBeforeSending checks that a request held back
// by the request budget is not sent once its stream was lost meanwhile.
func TestPullerOwnershipCheckedBeforeSending(t *testing.T) {
	m := newMSP(t, duosim.Config{Seed: 14})
	kid := duosim.ChildConfig{ID: "DAAAAAAAAAAAAAAAAAA1", Name: "Alpha", APIHostname: "api-a1a1a1a1.duosecurity.com"}
	c, err := m.sim.AddChild(kid)
	require.NoError(t, err)
	require.NoError(t, c.Generate(duoapi.Authentication, 3000, time.Now().Add(-2*time.Hour), time.Now().Add(-10*time.Minute)))
	k := duoapi.StreamKey{AccountID: kid.ID, LogType: duoapi.Authentication}
	g := newGrants()
	g.grant(k, "t1")
	// A cap of 60 a minute for all accounts: the second page waits a
	// second for it, in its own goroutine.
	limit, err := duoapi.NewRequestLimiter(60)
	require.NoError(t, err)
	client, err := duoapi.NewClient(duoapi.ClientConfig{
		APIHostname: m.sim.APIHost(), IntegrationKey: m.sim.IntegrationKey(), SecretKey: m.sim.SecretKey(),
		BaseURL: m.srv.URL, RequestsPerMinute: 60000, SharedLimit: limit,
	})
	require.NoError(t, err)
	p, err := duoapi.NewAccountsPuller(client, duoapi.PullerConfig{
		LogTypes: []duoapi.LogType{duoapi.Authentication}, InitialLookback: 3 * time.Hour, Ownership: g,
	}, duoapi.AccountsConfig{Start: func(context.Context, duoapi.Stream) (duoapi.Cursor, error) { return duoapi.Cursor{}, nil }})
	require.NoError(t, err)
	b, err := p.Next(t.Context())
	require.NoError(t, err)
	require.NotEmpty(t, b.Events)
	logRequests := func() int {
		n := 0
		for _, rec := range m.sim.Requests() {
			if rec.AccountID == kid.ID {
				n++
			}
		}
		return n
	}
	require.Equal(t, 1, logRequests())

	// The next page is launched at once and waits for the budget; the
	// stream is lost meanwhile.
	ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := p.Next(ctx)
		done <- err
	}()
	time.Sleep(300 * time.Millisecond)
	g.revoke(k)
	require.ErrorIs(t, <-done, context.DeadlineExceeded, "nothing to deliver")
	assert.Equal(t, 1, logRequests(), "the page that waited for the budget was not asked for")
}
