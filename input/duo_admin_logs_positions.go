// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/duostream/duostream/cache"
	"github.com/duostream/duostream/duoapi"
)

// positionTTL is the time to live every position is written with. It is
// explicit so that a cache's default_ttl, which applies to writes that give
// none, never expires a position; a century is as good as never, and fits
// every cache's notion of a TTL (a zero TTL means "expire now" to some).
const positionTTL = 100 * 365 * 24 * time.Hour

// positionRecordVersion is the version of the stored position record.
const positionRecordVersion = 2

// KeySeparator joins the parts of a stored position's key. It is one that
// every cache stores as it is: core file caches take keys as file names in
// one directory, so a "/" would need directories they do not create.
const KeySeparator = ":"

// positionSlots are the suffixes of the two keys each position is written to
// in turn, so that a write torn by a crash leaves the other one, one write
// older, readable.
var positionSlots = [2]string{"a", "b"}

// StoredPosition is what is stored for one log type: its cursor and when
// events of it last arrived, for the drop-off alarm.
type StoredPosition struct {
	Cursor duoapi.Cursor
	// LastEvent is when events of the log type last arrived (zero when
	// none has yet).
	LastEvent time.Time
	// Generation counts the writes; of the two slots, the one with the
	// higher generation is the current position.
	Generation uint64
}

type positionRecord struct {
	Version     int             `json:"v"`
	Generation  uint64          `json:"gen"`
	LastEventMs int64           `json:"last_event_ms,omitempty"`
	Cursor      json.RawMessage `json:"cursor"`
}

func (p StoredPosition) encode() []byte {
	rec := positionRecord{Version: positionRecordVersion, Generation: p.Generation, Cursor: p.Cursor.Encode()}
	if !p.LastEvent.IsZero() {
		rec.LastEventMs = p.LastEvent.UnixMilli()
	}
	b, _ := json.Marshal(rec) // ints and a valid JSON cursor always marshal
	return b
}

// DecodePosition reads a stored position record. An empty, truncated or
// otherwise unreadable value is an error.
func DecodePosition(raw []byte) (StoredPosition, error) {
	var rec positionRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		return StoredPosition{}, fmt.Errorf("stored position is not valid JSON: %w", err)
	}
	if rec.Version != positionRecordVersion {
		return StoredPosition{}, fmt.Errorf("stored position has version %d, this release reads version %d", rec.Version, positionRecordVersion)
	}
	c, err := duoapi.DecodeCursor(rec.Cursor)
	if err != nil {
		return StoredPosition{}, err
	}
	p := StoredPosition{Cursor: c, Generation: rec.Generation}
	if rec.LastEventMs > 0 {
		p.LastEvent = time.UnixMilli(rec.LastEventMs)
	}
	return p, nil
}

// AccountPrefix returns the key prefix of the positions of child account id,
// under the input's prefix: "<prefix>:<id>". The keys of its streams are
// PositionKeys of it.
func AccountPrefix(prefix, id string) string {
	return prefix + KeySeparator + id
}

// PositionKeys returns the two keys the position of log type t is written to
// in turn, under prefix (of a child account: AccountPrefix).
func PositionKeys(prefix string, t duoapi.LogType) [2]string {
	base := prefix + KeySeparator + string(t) + KeySeparator
	return [2]string{base + positionSlots[0], base + positionSlots[1]}
}

// cacheAccessError is a failure to reach or read the cache, as opposed to a
// stored value that cannot be decoded.
type cacheAccessError struct{ err error }

func (e *cacheAccessError) Error() string { return e.err.Error() }
func (e *cacheAccessError) Unwrap() error { return e.err }

// ReadPosition reads the position of log type t stored under prefix in c:
// the readable slot with the higher generation. found is false when neither
// slot holds a readable position. err says what a slot held that could not
// be read, also when the other slot was read (found is then true); a failure
// to read the cache at all is a *cacheAccessError, with found false.
func ReadPosition(ctx context.Context, c service.Cache, prefix string, t duoapi.LogType) (p StoredPosition, found bool, err error) {
	var damaged []error
	for _, key := range PositionKeys(prefix, t) {
		raw, getErr := c.Get(ctx, key)
		switch {
		case errors.Is(getErr, service.ErrKeyNotFound):
			continue
		case getErr != nil:
			return StoredPosition{}, false, &cacheAccessError{fmt.Errorf("read key %q: %w", key, getErr)}
		}
		slot, decErr := DecodePosition(raw)
		if decErr != nil {
			damaged = append(damaged, fmt.Errorf("key %q: %w", key, decErr))
			continue
		}
		if !found || slot.Generation > p.Generation {
			p, found = slot, true
		}
	}
	return p, found, errors.Join(damaged...)
}

// positionStore keeps the positions of one input's log types in a cache
// resource. It is safe for concurrent use as far as the cache is.
type positionStore struct {
	res    *service.Resources
	cache  string
	prefix string
	// legacyPrefix is where releases before 0.2 kept positions, one key
	// per log type, "<legacyPrefix>/<log type>"; it is read once, when
	// nothing is stored under prefix yet.
	legacyPrefix string
	// fence, when set (leases), writes a position only while tenure is
	// the current lease of its stream, instead of the cache's Set.
	fence func(ctx context.Context, k duoapi.StreamKey, tenure, key string, value []byte) error
}

func (s *positionStore) access(ctx context.Context, fn func(c service.Cache) error) error {
	var fnErr error
	if err := s.res.AccessCache(ctx, s.cache, func(c service.Cache) { fnErr = fn(c) }); err != nil {
		return &cacheAccessError{fmt.Errorf("access checkpoint cache %q: %w", s.cache, err)}
	}
	return fnErr
}

// probe writes a value, reads it back and deletes it, with a key shaped like
// the positions' own, so that a cache that cannot keep a position stops the
// input from starting instead of failing on every write.
func (s *positionStore) probe(ctx context.Context) error {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	// A key of its own: processes sharing the positions (leases) probe at
	// the same time.
	key := s.prefix + KeySeparator + "probe-" + hex.EncodeToString(nonce[:4])
	want := []byte(hex.EncodeToString(nonce[:]))
	ttl := positionTTL
	err := s.access(ctx, func(c service.Cache) error {
		if err := c.Set(ctx, key, want, &ttl); err != nil {
			return fmt.Errorf("write key %q: %w", key, err)
		}
		got, err := c.Get(ctx, key)
		if err != nil {
			return fmt.Errorf("read back key %q: %w", key, err)
		}
		if !bytes.Equal(got, want) {
			return fmt.Errorf("key %q read back %d bytes that differ from the %d written", key, len(got), len(want))
		}
		if err := c.Delete(ctx, key); err != nil && !errors.Is(err, service.ErrKeyNotFound) {
			return fmt.Errorf("delete key %q: %w", key, err)
		}
		return nil
	})
	if errors.Is(err, cache.ErrLocked) {
		// Its own error says what to do.
		return fmt.Errorf("checkpoint cache %q: %w", s.cache, err)
	}
	if err != nil {
		return fmt.Errorf("checkpoint cache %q cannot keep a position (%w): give %s a cache resource that stores keys such as %q durably, such as bbolt on one machine or redis to share positions, and check that its path or address is writable",
			s.cache, err, dalFieldCheckpointCache, key)
	}
	return nil
}

// streamPrefix returns the key prefix of k's positions.
func (s *positionStore) streamPrefix(k duoapi.StreamKey) string {
	if k.AccountID == "" {
		return s.prefix
	}
	return AccountPrefix(s.prefix, k.AccountID)
}

// keys returns the two keys of k's position.
func (s *positionStore) keys(k duoapi.StreamKey) [2]string {
	return PositionKeys(s.streamPrefix(k), k.LogType)
}

// load returns the stored position of k, reading the legacy key once when
// nothing is stored under the current ones (child accounts have none).
// found is false when nothing readable is stored; err is as for
// ReadPosition.
func (s *positionStore) load(ctx context.Context, k duoapi.StreamKey) (p StoredPosition, found, legacy bool, err error) {
	err = s.access(ctx, func(c service.Cache) error {
		var readErr error
		p, found, readErr = ReadPosition(ctx, c, s.streamPrefix(k), k.LogType)
		if found || readErr != nil || s.legacyPrefix == "" || k.AccountID != "" {
			return readErr
		}
		key := s.legacyPrefix + "/" + string(k.LogType)
		raw, getErr := c.Get(ctx, key)
		switch {
		case errors.Is(getErr, service.ErrKeyNotFound):
			return nil
		case getErr != nil:
			return &cacheAccessError{fmt.Errorf("read key %q: %w", key, getErr)}
		}
		cur, decErr := duoapi.DecodeCursor(raw)
		if decErr != nil {
			return fmt.Errorf("key %q: %w", key, decErr)
		}
		p, found, legacy = StoredPosition{Cursor: cur}, true, true
		return nil
	})
	return p, found, legacy, err
}

// store writes p as k's position, into the slot its generation selects.
// With leases the write is fenced by tenure, and refused with an error that
// lease.ErrNotOwner matches when another process owns k now.
func (s *positionStore) store(ctx context.Context, k duoapi.StreamKey, p StoredPosition, tenure string) error {
	key := s.keys(k)[p.Generation%2]
	if s.fence != nil {
		if err := s.fence(ctx, k, tenure, key, p.encode()); err != nil {
			return fmt.Errorf("write key %q: %w", key, err)
		}
		return nil
	}
	ttl := positionTTL
	return s.access(ctx, func(c service.Cache) error {
		if err := c.Set(ctx, key, p.encode(), &ttl); err != nil {
			return fmt.Errorf("write key %q: %w", key, err)
		}
		return nil
	})
}
