// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package lease

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// clock is a manual clock shared by the managers of a test and the
// miniredis server, whose TTLs and TIME it moves too.
type clock struct {
	mu  sync.Mutex
	now time.Time
	mr  *miniredis.Miniredis
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	c.mr.SetTime(c.Now())
	c.mr.FastForward(d)
}

// recorder is an Observer that keeps what it was told.
type recorder struct {
	mu       sync.Mutex
	acquired map[string]string
	lost     map[string]Reason
	errs     map[string]error
}

func newRecorder() *recorder {
	return &recorder{acquired: map[string]string{}, lost: map[string]Reason{}, errs: map[string]error{}}
}

func (r *recorder) Acquired(s, prev string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.acquired[s] = prev
}

func (r *recorder) Lost(s string, reason Reason, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lost[s], r.errs[s] = reason, err
}

func (r *recorder) Owned(int) {}

func (r *recorder) lostReason(s string) Reason {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lost[s]
}

const testTTL = 3 * time.Second

func newTestServer(t *testing.T) (*clock, redis.Cmdable) {
	mr := miniredis.RunT(t)
	c := &clock{now: time.Unix(1_700_000_000, 0), mr: mr}
	mr.SetTime(c.now)
	client := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = client.Close() })
	return c, client
}

func newTestManager(t *testing.T, c *clock, client redis.Cmdable, instance string, streams []string) (*Manager, *recorder) {
	t.Helper()
	rec := newRecorder()
	m, err := New(Config{Client: client, Prefix: "test:", TTL: testTTL, Instance: instance, Observer: rec, Now: c.Now})
	require.NoError(t, err)
	m.SetStreams(streams)
	return m, rec
}

// join runs m's first rounds: it announces itself, and takes its share a
// third of the TTL later.
func join(t *testing.T, c *clock, ms ...*Manager) {
	t.Helper()
	for _, m := range ms {
		require.NoError(t, m.Round(t.Context()))
	}
	c.advance(testTTL / 3)
	for _, m := range ms {
		require.NoError(t, m.Round(t.Context()))
	}
}

func streamNames(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("acct-%03d:authentication", i)
	}
	return s
}

// owners returns which managers own each stream now.
func owners(streams []string, ms map[string]*Manager) map[string][]string {
	out := map[string][]string{}
	for _, s := range streams {
		for name, m := range ms {
			if _, ok := m.Owns(s); ok {
				out[s] = append(out[s], name)
			}
		}
	}
	return out
}

func TestLeaseSpreadsAndNeverDoubleOwns(t *testing.T) {
	c, client := newTestServer(t)
	streams := streamNames(30)
	ms := map[string]*Manager{}
	for _, name := range []string{"a", "b", "c"} {
		ms[name], _ = newTestManager(t, c, client, name, streams)
	}
	ctx := t.Context()
	// Every process announces itself before taking shares, as they do
	// once their first rounds ran.
	for range 3 {
		for _, m := range ms {
			require.NoError(t, m.Round(ctx))
		}
		c.advance(testTTL / 3)
	}
	own := owners(streams, ms)
	assert.Len(t, own, 30, "every stream owned")
	for s, o := range own {
		assert.Len(t, o, 1, "stream %s owned by %v", s, o)
	}
	for name, m := range ms {
		assert.LessOrEqual(t, m.Owned(), 30/3+1, "instance %s holds at most ceil(30/3)+1", name)
		assert.GreaterOrEqual(t, m.Owned(), 30/3-1, "instance %s holds about its share", name)
	}
}

func TestLeaseTakeoverAfterOwnerStops(t *testing.T) {
	c, client := newTestServer(t)
	streams := streamNames(4)
	a, recA := newTestManager(t, c, client, "a", streams)
	ctx := t.Context()
	require.NoError(t, a.Round(ctx))
	_, ok := a.Owns(streams[0])
	require.False(t, ok, "nothing taken before a third of the TTL since joining")
	join(t, c, a)
	tokA, ok := a.Owns(streams[0])
	require.True(t, ok, "a alone owns everything")
	require.NoError(t, a.Set(ctx, streams[0], tokA, "test:pos", []byte("1"), 0))

	b, recB := newTestManager(t, c, client, "b", streams)
	join(t, c, b)
	require.NoError(t, a.Round(ctx))
	_, ok = b.Owns(streams[0])
	assert.False(t, ok, "b cannot take a held lease")
	tokA, ok = a.Owns(streams[0])
	require.True(t, ok)

	// a stops renewing (paused, or dead): its leases lapse locally
	// before they expire in Redis, and b takes them once they did.
	c.advance(testTTL - testTTL/6)
	_, ok = a.Owns(streams[0])
	assert.False(t, ok, "a stops using its lease before Redis expires it")
	require.NoError(t, b.Round(ctx))
	_, ok = b.Owns(streams[0])
	assert.False(t, ok, "the lease has not expired in Redis yet")
	c.advance(testTTL / 6)
	c.advance(testTTL / 3) // a's membership lapses too
	require.NoError(t, b.Round(ctx))
	tokB, ok := b.Owns(streams[0])
	require.True(t, ok, "b took over after the TTL")
	assert.Equal(t, "a", recB.acquired[streams[0]], "b knows whom it took over from")

	// a wakes up: its write is refused, and it steps down.
	err := a.Set(ctx, streams[0], tokA, "test:pos", []byte("2"), 0)
	require.ErrorIs(t, err, ErrNotOwner)
	assert.Equal(t, Fenced, recA.lostReason(streams[0]))
	got, err := client.Get(ctx, "test:pos").Result()
	require.NoError(t, err)
	assert.Equal(t, "1", got, "the refused write changed nothing")
	require.NoError(t, b.Set(ctx, streams[0], tokB, "test:pos", []byte("3"), 0))

	// a's next round finds b's token and steps down from what is left.
	require.NoError(t, a.Round(ctx))
	for _, s := range streams {
		_, aOwns := a.Owns(s)
		_, bOwns := b.Owns(s)
		assert.False(t, aOwns && bOwns, "stream %s owned twice", s)
	}
}

func TestLeaseRebalancesWhenAProcessJoins(t *testing.T) {
	c, client := newTestServer(t)
	streams := streamNames(20)
	a, recA := newTestManager(t, c, client, "a", streams)
	ctx := t.Context()
	join(t, c, a)
	require.Equal(t, 20, a.Owned())

	b, _ := newTestManager(t, c, client, "b", streams)
	for range 3 {
		require.NoError(t, b.Round(ctx))
		require.NoError(t, a.Round(ctx))
		c.advance(testTTL / 3)
	}
	assert.Equal(t, 11, a.Owned(), "a keeps ceil(20/2)+1")
	assert.Equal(t, 9, b.Owned(), "b takes what a released")
	rebalanced := 0
	for _, r := range recA.lost {
		if r == Rebalanced {
			rebalanced++
		}
	}
	assert.Equal(t, 9, rebalanced)
	for s, o := range owners(streams, map[string]*Manager{"a": a, "b": b}) {
		assert.Len(t, o, 1, "stream %s", s)
	}
}

func TestLeaseExpiresWhileRedisIsDown(t *testing.T) {
	c, client := newTestServer(t)
	streams := streamNames(2)
	a, rec := newTestManager(t, c, client, "a", streams)
	ctx := t.Context()
	join(t, c, a)
	require.Equal(t, 2, a.Owned())

	c.mr.Close()
	c.advance(testTTL / 3)
	require.Error(t, a.Round(ctx))
	_, ok := a.Owns(streams[0])
	assert.True(t, ok, "still valid: renewed a third of the TTL ago")
	c.advance(testTTL / 2)
	require.Error(t, a.Round(ctx))
	_, ok = a.Owns(streams[0])
	assert.False(t, ok, "not renewed for longer than the TTL allows")
	assert.Equal(t, Expired, rec.lostReason(streams[0]))
	assert.Equal(t, 0, a.Owned())
}

func TestLeaseReleasesOnShutdownAndUnwantedStreams(t *testing.T) {
	c, client := newTestServer(t)
	streams := streamNames(3)
	a, rec := newTestManager(t, c, client, "a", streams)
	ctx, cancel := context.WithCancel(t.Context())
	join(t, c, a)
	a.SetStreams(streams[:2])
	require.NoError(t, a.Round(ctx))
	assert.Equal(t, 2, a.Owned(), "a stream no longer wanted is released")
	assert.Empty(t, rec.lost, "silently")

	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	cancel()
	<-done
	assert.Equal(t, 0, a.Owned())
	b, _ := newTestManager(t, c, client, "b", streams)
	join(t, c, b)
	assert.Equal(t, 3, b.Owned(), "released leases are free at once, not after the TTL")
	n, err := client.ZCard(t.Context(), "test:lease-members").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "a left the members")
}

func TestLeaseConfigErrors(t *testing.T) {
	_, client := newTestServer(t)
	for _, tc := range []struct {
		cfg     Config
		wantErr string
	}{
		{Config{TTL: testTTL, Instance: "a"}, "no Redis client"},
		{Config{Client: client, TTL: 500 * time.Millisecond, Instance: "a"}, "shorter than 1s"},
		{Config{Client: client, TTL: testTTL}, "instance"},
		{Config{Client: client, TTL: testTTL, Instance: "a|b"}, "instance"},
	} {
		_, err := New(tc.cfg)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.wantErr)
	}
}

// TestLeaseFencedWritesOnRealRedis races two owners' writes against a real
// redis-server (from .ci/services/redis.sh) while the lease changes hands:
// only the current owner's writes land.
func TestLeaseFencedWritesOnRealRedis(t *testing.T) {
	u := os.Getenv("DUOSTREAM_TEST_REDIS_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("DUOSTREAM_TEST_REDIS_URL is not set; CI must run: eval \"$(bash .ci/services/redis.sh)\"")
		}
		t.Skip("DUOSTREAM_TEST_REDIS_URL is not set")
	}
	opts, err := redis.ParseURL(u)
	require.NoError(t, err)
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	ctx := t.Context()
	prefix := fmt.Sprintf("lease-test-%d:", time.Now().UnixNano())
	mk := func(inst string) *Manager {
		m, err := New(Config{Client: client, Prefix: prefix, TTL: MinTTL, Instance: inst})
		require.NoError(t, err)
		m.SetStreams([]string{"s"})
		return m
	}
	a, b := mk("a"), mk("b")
	require.NoError(t, a.Round(ctx))
	time.Sleep(MinTTL / 3)
	require.NoError(t, a.Round(ctx))
	tokA, ok := a.Owns("s")
	require.True(t, ok)
	require.NoError(t, b.Round(ctx))
	_, ok = b.Owns("s")
	require.False(t, ok)

	// a goes quiet; b takes over once Redis expired a's lease.
	deadline := time.Now().Add(5 * time.Second)
	var tokB string
	for time.Now().Before(deadline) {
		require.NoError(t, b.Round(ctx))
		if tokB, ok = b.Owns("s"); ok {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	require.True(t, ok, "b took over within 5s of a 1s lease")

	var wg sync.WaitGroup
	var refused, written int
	var mu sync.Mutex
	for i := range 50 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := a.Set(ctx, "s", tokA, prefix+"pos", []byte("a"), 0); errors.Is(err, ErrNotOwner) {
				mu.Lock()
				refused++
				mu.Unlock()
			}
		}()
		go func() {
			defer wg.Done()
			require.NoError(t, b.Set(ctx, "s", tokB, prefix+"pos", fmt.Appendf(nil, "b%d", i), 0))
			mu.Lock()
			written++
			mu.Unlock()
		}()
	}
	wg.Wait()
	assert.Equal(t, 50, refused, "every write of the old owner refused")
	assert.Equal(t, 50, written)
	got, err := client.Get(ctx, prefix+"pos").Result()
	require.NoError(t, err)
	assert.Equal(t, byte('b'), got[0])
}
