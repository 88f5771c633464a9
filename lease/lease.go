// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Package lease shares named units of work ("streams") among several
// processes through Redis, so that each is owned by at most one process at
// a time and a process that stops renewing loses its streams to the others
// within a time to live.
//
// A lease is a Redis key holding its owner's token, with the time to live
// as its expiry. The owner renews it every TTL/3 and stops using it locally
// a sixth of the TTL before Redis would expire it, so two processes never
// both believe they own a stream while their clocks run at the same rate.
// Writes that must only come from the owner go through Set, which checks
// the token and writes in one Lua script: a process that was paused past
// its lease cannot write once it wakes.
//
// Processes announce themselves in a sorted set, each renewing its
// membership with its leases; each takes at most ceil(streams / members) + 1
// leases, and releases the excess when another process joins, so the work
// spreads over the processes that run. A process takes its first leases a
// third of the TTL after it announced itself, so that processes starting
// together see each other first.
//
// The package knows nothing of Duo or Benthos: streams are strings.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// MinTTL is the shortest lease time to live.
const MinTTL = time.Second

// ErrNotOwner is returned by Set when the writer's lease is no longer the
// current one: another process took the stream over.
var ErrNotOwner = errors.New("the lease is held by another process")

// Reason says why a process stopped owning a stream.
type Reason string

const (
	// Expired: the lease could not be renewed in time (Redis unreachable,
	// or the process was paused).
	Expired Reason = "expired"
	// Fenced: Redis holds another owner's token (found by a renewal or a
	// refused write).
	Fenced Reason = "fenced"
	// Rebalanced: released so that another process can take the stream.
	Rebalanced Reason = "rebalanced"
)

// Reasons lists every Reason, for metrics that start at zero.
var Reasons = []Reason{Expired, Fenced, Rebalanced}

// Observer is told about changes of ownership. Its methods are called from
// the Manager's goroutine and from Set, and must not block.
type Observer interface {
	// Acquired is called when this process takes stream; previous is the
	// instance that held it last, or "" when none is known.
	Acquired(stream, previous string)
	// Lost is called when this process stops owning stream; err says
	// what was found, where there is more to say than the reason.
	Lost(stream string, reason Reason, err error)
	// Owned is called after every round with the number of streams held.
	Owned(n int)
}

// Config configures a Manager.
type Config struct {
	// Client reaches the Redis server (not a Redis Cluster: a fenced write
	// touches two keys, which a cluster may keep on different shards).
	Client redis.Cmdable
	// Prefix is put in front of every key the Manager uses: the leases
	// at <Prefix>lease:<stream> and the members at <Prefix>lease-members.
	Prefix string
	// TTL is how long a lease lasts without renewal, at least MinTTL.
	TTL time.Duration
	// Instance names this process in leases, logs and to other processes.
	// It must be unique among the processes sharing the streams.
	Instance string
	// Observer is told about changes of ownership; nil means none.
	Observer Observer
	// Now is the local clock; nil means time.Now.
	Now func() time.Time
}

// held is one lease this process holds.
type held struct {
	token string
	// validUntil is when this process stops using the lease unless it was
	// renewed: a sixth of the TTL before Redis may expire it.
	validUntil time.Time
}

// Manager acquires, renews and releases the leases of a set of streams for
// one process. It is safe for concurrent use.
type Manager struct {
	cfg Config

	kick chan struct{} // asks Run for a round now

	mu      sync.Mutex
	streams []string // wanted, in this instance's order of preference
	held    map[string]*held
	members int
	// joined is when this process first announced itself; it acquires
	// nothing for a third of the TTL after, so that processes starting
	// together see each other before taking their shares.
	joined time.Time
}

// New returns a Manager; Run makes it take part.
func New(cfg Config) (*Manager, error) {
	switch {
	case cfg.Client == nil:
		return nil, errors.New("lease: no Redis client")
	case cfg.TTL < MinTTL:
		return nil, fmt.Errorf("lease ttl %s is shorter than %s", cfg.TTL, MinTTL)
	case cfg.Instance == "" || strings.Contains(cfg.Instance, tokenSeparator):
		return nil, fmt.Errorf("lease: instance %q must be non-empty and hold no %q", cfg.Instance, tokenSeparator)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	return &Manager{cfg: cfg, held: map[string]*held{}, members: 1, kick: make(chan struct{}, 1)}, nil
}

// SetStreams sets the streams to share. Leases of streams no longer listed
// are released at the next round.
func (m *Manager) SetStreams(streams []string) {
	order := slices.Clone(streams)
	slices.Sort(order)
	order = slices.Compact(order)
	// Each instance prefers other streams, so that processes starting
	// together seldom compete for the same ones, and keeps its preference
	// from round to round, so that ownership stays put.
	slices.SortFunc(order, func(a, b string) int {
		return cmpUint(m.preference(a), m.preference(b))
	})
	m.mu.Lock()
	m.streams = order
	m.mu.Unlock()
}

func (m *Manager) preference(stream string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(m.cfg.Instance))
	h.Write([]byte{0})
	h.Write([]byte(stream))
	return h.Sum64()
}

func cmpUint(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Owns reports whether this process owns stream now, with the token of its
// lease: a different token than before means the stream was lost and taken
// again since, and another process may have moved on in between.
func (m *Manager) Owns(stream string) (token string, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.held[stream]
	if h == nil || !m.cfg.Now().Before(h.validUntil) {
		return "", false
	}
	return h.token, true
}

// Owned returns how many streams this process holds leases of.
func (m *Manager) Owned() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.held)
}

// Run takes part in sharing the streams until ctx ends: a round every TTL/3
// announces this process, renews its leases, releases what is more than its
// share and acquires free streams up to it. A round that fails (Redis
// unreachable) is logged through the Observer only as leases expire, and
// retried at the next. When ctx ends, the leases are released, so others
// take over at their next round rather than after the TTL.
func (m *Manager) Run(ctx context.Context) {
	tick := time.NewTicker(m.cfg.TTL / 3)
	defer tick.Stop()
	for {
		_ = m.Round(ctx)
		select {
		case <-ctx.Done():
			m.releaseAll()
			return
		case <-tick.C:
		case <-m.kick:
		}
	}
}

// Kick asks Run for a round now rather than at the next tick, after the
// streams changed.
func (m *Manager) Kick() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// tokenSeparator joins a token's instance and its random part.
const tokenSeparator = "|"

// instanceOf returns the instance part of a token.
func instanceOf(token string) string {
	inst, _, _ := strings.Cut(token, tokenSeparator)
	return inst
}

func (m *Manager) leaseKey(stream string) string { return m.cfg.Prefix + "lease:" + stream }
func (m *Manager) membersKey() string            { return m.cfg.Prefix + "lease-members" }

func (m *Manager) newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return m.cfg.Instance + tokenSeparator + hex.EncodeToString(b[:])
}

// The scripts. Each reads and writes in one step, so no other client comes
// between the check of the token and what depends on it.
var (
	// membersScript renews ARGV[1]'s membership for ARGV[2] ms, drops the
	// members that expired and returns how many remain, by Redis's clock.
	membersScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return redis.call('ZCARD', KEYS[1])`)
	// renewScript extends the lease KEYS[1] by ARGV[2] ms if it holds
	// token ARGV[1]; otherwise it returns the token it holds ("" if none).
	renewScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, ''}
end
return {0, cur or ''}`)
	// acquireScript sets the lease KEYS[1] to token ARGV[1] for ARGV[2] ms
	// when it is free, or held by an earlier tenure of this instance
	// (ARGV[3]); KEYS[2] remembers the last owner, for a week. It returns
	// whether it took the lease, and the last owner before.
	acquireScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local inst = string.match(cur, '^([^|]*)')
  if inst ~= ARGV[3] then
    return {0, inst}
  end
end
local last = redis.call('GET', KEYS[2]) or ''
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[3], 'PX', 604800000)
return {1, last}`)
	// releaseScript deletes the lease KEYS[1] if it holds token ARGV[1].
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
	// setScript writes ARGV[2] to KEYS[2] with expiry ARGV[3] ms (0:
	// none) if the lease KEYS[1] holds token ARGV[1], and returns 1; else
	// 0.
	setScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
if tonumber(ARGV[3]) > 0 then
  redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
else
  redis.call('SET', KEYS[2], ARGV[2])
end
return 1`)
)

// Round announces this process, renews its leases, releases what exceeds
// its share and acquires free streams up to it. It returns the first error
// from Redis; leases it could not renew expire locally on their own.
func (m *Manager) Round(ctx context.Context) error {
	ttlMs := m.cfg.TTL.Milliseconds()
	start := m.cfg.Now()

	members, err := membersScript.Run(ctx, m.cfg.Client, []string{m.membersKey()}, m.cfg.Instance, ttlMs).Int()
	m.mu.Lock()
	if err == nil {
		m.members = max(members, 1)
		if m.joined.IsZero() {
			m.joined = start
		}
	}
	streams, members, settling := m.streams, m.members, start.Sub(m.joined) < m.cfg.TTL/3
	tokens := make(map[string]string, len(m.held))
	for s, h := range m.held {
		tokens[s] = h.token
	}
	m.mu.Unlock()
	if err != nil {
		// Redis cannot be reached: nothing is renewed, and leases lapse
		// as they come due, until a round gets through again.
		err = fmt.Errorf("announce instance %s: %w", m.cfg.Instance, err)
		for s, tok := range tokens {
			m.expireIfDue(s, tok, err)
		}
		m.cfg.Observer.Owned(m.Owned())
		return err
	}
	var errs []error

	wanted := make(map[string]bool, len(streams))
	for _, s := range streams {
		wanted[s] = true
	}
	share := (len(streams) + members - 1) / members

	// Renew or release what is held.
	var keep []string
	for s, tok := range tokens {
		if !wanted[s] {
			m.release(ctx, s, tok, "")
			continue
		}
		keep = append(keep, s)
	}
	slices.SortFunc(keep, func(a, b string) int { return cmpUint(m.preference(a), m.preference(b)) })
	for i, s := range keep {
		if i >= share+1 {
			// More than the share: give up the least preferred.
			m.release(ctx, s, tokens[s], Rebalanced)
			continue
		}
		// Valid from the time this renewal is sent, which is before Redis
		// moves the expiry: a slow round does not cut the leases short.
		validUntil := m.cfg.Now().Add(m.cfg.TTL - m.cfg.TTL/6)
		res, err := renewScript.Run(ctx, m.cfg.Client, []string{m.leaseKey(s)}, tokens[s], ttlMs).Slice()
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("renew lease of %s: %w", s, err))
			m.expireIfDue(s, tokens[s], err)
		case res[0].(int64) == 1:
			m.extend(s, tokens[s], validUntil)
		default:
			if cur, _ := res[1].(string); cur != "" {
				m.drop(s, tokens[s], Fenced, fmt.Errorf("the lease is held by %s", instanceOf(cur)))
			} else {
				m.drop(s, tokens[s], Expired, errors.New("it expired in Redis before it was renewed"))
			}
		}
	}

	// Acquire free streams up to the share.
	m.mu.Lock()
	n := len(m.held)
	m.mu.Unlock()
	for _, s := range streams {
		if n >= share || settling || ctx.Err() != nil {
			break
		}
		if _, ok := tokens[s]; ok {
			continue
		}
		tok := m.newToken()
		validUntil := m.cfg.Now().Add(m.cfg.TTL - m.cfg.TTL/6)
		res, aerr := acquireScript.Run(ctx, m.cfg.Client, []string{m.leaseKey(s), m.leaseKey(s) + ":last"}, tok, ttlMs, m.cfg.Instance).Slice()
		if aerr != nil {
			errs = append(errs, fmt.Errorf("acquire lease of %s: %w", s, aerr))
			break
		}
		if res[0].(int64) != 1 {
			continue
		}
		m.mu.Lock()
		m.held[s] = &held{token: tok, validUntil: validUntil}
		m.mu.Unlock()
		n++
		prev, _ := res[1].(string)
		m.cfg.Observer.Acquired(s, prev)
	}
	m.cfg.Observer.Owned(m.Owned())
	return errors.Join(errs...)
}

// extend moves the validity of stream's lease, if still the tenure of
// token, to until.
func (m *Manager) extend(stream, token string, until time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h := m.held[stream]; h != nil && h.token == token {
		h.validUntil = until
	}
}

// expireIfDue drops stream's lease when it could not be renewed in time.
func (m *Manager) expireIfDue(stream, token string, err error) {
	m.mu.Lock()
	h := m.held[stream]
	due := h != nil && h.token == token && !m.cfg.Now().Before(h.validUntil)
	m.mu.Unlock()
	if due {
		m.drop(stream, token, Expired, err)
	}
}

// forget removes stream's lease from those held if it is still the tenure
// of token, and reports whether it was.
func (m *Manager) forget(stream, token string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	h := m.held[stream]
	if h == nil || h.token != token {
		return false
	}
	delete(m.held, stream)
	return true
}

// drop forgets the tenure token of stream and tells the Observer.
func (m *Manager) drop(stream, token string, reason Reason, err error) {
	if m.forget(stream, token) {
		m.cfg.Observer.Lost(stream, reason, err)
	}
}

// release gives up stream's lease in Redis, so another process may take it
// at once; reason "" releases silently (a stream no longer wanted).
func (m *Manager) release(ctx context.Context, stream, token string, reason Reason) {
	if !m.forget(stream, token) {
		return
	}
	// Best effort: an unreleased lease expires after the TTL anyway.
	_ = releaseScript.Run(ctx, m.cfg.Client, []string{m.leaseKey(stream)}, token).Err()
	if reason != "" {
		m.cfg.Observer.Lost(stream, reason, nil)
	}
}

// releaseAll gives up every lease and the membership, on shutdown.
func (m *Manager) releaseAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.mu.Lock()
	tokens := make(map[string]string, len(m.held))
	for s, h := range m.held {
		tokens[s] = h.token
	}
	m.mu.Unlock()
	for s, tok := range tokens {
		m.release(ctx, s, tok, "")
	}
	_ = m.cfg.Client.ZRem(ctx, m.membersKey(), m.cfg.Instance).Err()
	m.cfg.Observer.Owned(0)
}

// Set writes value at key, with expiry ttl (0: none), only if token is still
// the current lease of stream; otherwise it returns ErrNotOwner and this
// process stops owning the stream. The check and the write are one Lua
// script.
func (m *Manager) Set(ctx context.Context, stream, token, key string, value []byte, ttl time.Duration) error {
	ok, err := setScript.Run(ctx, m.cfg.Client, []string{m.leaseKey(stream), key}, token, value, strconv.FormatInt(ttl.Milliseconds(), 10)).Int()
	if err != nil {
		return fmt.Errorf("fenced write of %q: %w", key, err)
	}
	if ok != 1 {
		m.drop(stream, token, Fenced, fmt.Errorf("a write of %q was refused", key))
		return ErrNotOwner
	}
	return nil
}

type nopObserver struct{}

func (nopObserver) Acquired(string, string)    {}
func (nopObserver) Lost(string, Reason, error) {}
func (nopObserver) Owned(int)                  {}
