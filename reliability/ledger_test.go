// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	_ "github.com/duostream/duostream/cache"
	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
	"github.com/duostream/duostream/input"
)

// An event's identity is what tells it apart from every other event of its
// log type: its own ID field where it has one (the txid of an
// authentication event, the telephony_id of a telephony (v2) event, the
// activity_id of an activity event, the sekey of a Trust Monitor event), and
// for administrator and offline enrollment events, which carry no ID, the
// content hash the puller keeps in its cursor (the first 16 bytes of the
// SHA-256 of the record, in hex).
func identity(t duoapi.LogType, raw []byte) (string, error) {
	field, ok := idFields[t]
	if !ok {
		return contentHash(raw), nil
	}
	var ev map[string]json.RawMessage
	var id string
	if err := json.Unmarshal(raw, &ev); err != nil || json.Unmarshal(ev[field], &id) != nil || id == "" {
		return "", fmt.Errorf("%s event without %s: %.200s", t, field, raw)
	}
	return id, nil
}

// idFields names the ID field of the log types whose events have one.
var idFields = map[duoapi.LogType]string{
	duoapi.Authentication: "txid",
	duoapi.Telephony:      "telephony_id",
	duoapi.Activity:       "activity_id",
	duoapi.TrustMonitor:   "sekey",
}

func contentHash(raw []byte) string {
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:16])
}

// counts is a multiset of event identities.
type counts map[string]int

// simEvent is what the ledger keeps of an event the simulator holds.
type simEvent struct {
	ms int64
	id string // the simulator's v2 ID (txid, telephony_id); empty for v1 types
	ev string // the identity
}

// ledger is what the simulator holds, per log type, to compare with what
// was delivered.
type ledger struct {
	events map[duoapi.LogType][]simEvent
	want   map[duoapi.LogType]counts
	bytes  int64 // the size of every event, one per line
}

// backfill fills sim with n[t] generated events of each log type t, spread
// over the day before Duo's availability lag, and returns their ledger.
func backfill(t testing.TB, sim *duosim.Server, n map[duoapi.LogType]int) *ledger {
	t.Helper()
	now := time.Now()
	from, to := now.Add(-24*time.Hour), now.Add(-5*time.Minute)
	for lt, count := range n {
		require.NoError(t, sim.Generate(lt, count, from, to))
	}
	l, err := newLedger(sim)
	require.NoError(t, err)
	return l
}

// waitDeliveredTo waits until every event of l is in the file outputs under
// outDir, failing t after within or when p exits.
func (l *ledger) waitDeliveredTo(t testing.TB, p *proc, outDir string, within, interval time.Duration, what string) {
	t.Helper()
	waitFor(t, p, within, interval, what, func() bool {
		got, err := readDelivered(outDir)
		require.NoError(t, err)
		return l.complete(got)
	})
}

// eventSource is an account whose events a ledger records: the parent's
// own (a *duosim.Server) or a child's (a *duosim.Child).
type eventSource interface {
	Events(t duoapi.LogType, from, to time.Time) []duosim.Event
}

// newLedger records every event sim holds.
func newLedger(sim eventSource) (*ledger, error) {
	l := &ledger{events: map[duoapi.LogType][]simEvent{}, want: map[duoapi.LogType]counts{}}
	from, to := time.Unix(0, 0), time.Now().Add(24*time.Hour)
	for _, t := range duoapi.AllLogTypes {
		l.want[t] = counts{}
		for _, e := range sim.Events(t, from, to) {
			id, err := identity(t, e.Body)
			if err != nil {
				return nil, err
			}
			l.events[t] = append(l.events[t], simEvent{ms: e.Time.UnixMilli(), id: e.ID, ev: id})
			l.want[t][id]++
			l.bytes += int64(len(e.Body)) + 1
		}
	}
	return l, nil
}

// total returns how many events the simulator holds.
func (l *ledger) total() int {
	n := 0
	for _, evs := range l.events {
		n += len(evs)
	}
	return n
}

// tally compares what was delivered with what the simulator holds.
type tally struct {
	lost, dups, foreign int
}

func (l *ledger) compare(got map[duoapi.LogType]counts) map[duoapi.LogType]tally {
	out := map[duoapi.LogType]tally{}
	for _, t := range duoapi.AllLogTypes {
		var tl tally
		for id, n := range l.want[t] {
			tl.lost += max(0, n-got[t][id])
			tl.dups += max(0, got[t][id]-n)
		}
		for id, n := range got[t] {
			if l.want[t][id] == 0 {
				tl.foreign += n
			}
		}
		out[t] = tl
	}
	return out
}

// sumTally adds up the tallies of every log type.
func sumTally(m map[duoapi.LogType]tally) tally {
	var s tally
	for _, tl := range m {
		s.lost += tl.lost
		s.dups += tl.dups
		s.foreign += tl.foreign
	}
	return s
}

// complete reports whether got holds every event of the ledger.
func (l *ledger) complete(got map[duoapi.LogType]counts) bool {
	for _, t := range duoapi.AllLogTypes {
		for id, n := range l.want[t] {
			if got[t][id] < n {
				return false
			}
		}
	}
	return true
}

// readDelivered reads the raw events a file output wrote to
// dir/<schema name>.jsonl, one per line. A SIGKILL leaves two marks, which
// are read as such: killed between an event and its newline, the output
// leaves the event whole and the next run appends its first event on the
// same line; killed during the write of an event (a write to a file stops
// short at a page boundary when the process is killed), it leaves a torn
// prefix of the event, which is dropped (the event was not acknowledged, so
// a restart sends it again), at the end of the file or followed on the same
// line by the next run's first event. Anything else that is not an event of
// the file's log type is an error.
func readDelivered(dir string) (map[duoapi.LogType]counts, error) {
	got := map[duoapi.LogType]counts{}
	for _, t := range duoapi.AllLogTypes {
		got[t] = counts{}
		name := filepath.Join(dir, t.SchemaName()+".jsonl")
		data, err := os.ReadFile(name)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for lineNo := 1; len(data) > 0; lineNo++ {
			line, rest, hasNewline := bytes.Cut(data, []byte("\n"))
			data = rest
			ids, err := lineEvents(t, line, !hasNewline)
			if err != nil {
				return nil, fmt.Errorf("read %s, line %d: %w", name, lineNo, err)
			}
			for _, id := range ids {
				got[t][id]++
			}
		}
	}
	return got, nil
}

// lineEvents returns the identities of the events of log type t on one
// line of a file output (see readDelivered); last tells whether it is the
// file's last line, without a newline, which may end in a torn event.
func lineEvents(t duoapi.LogType, line []byte, last bool) ([]string, error) {
	var ids []string
	for {
		got, tornAt, err := leadingEvents(t, line)
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
		if tornAt < 0 {
			return ids, nil
		}
		// A torn event: the next run's first event starts at a later "{"
		// from which an event decodes.
		next := -1
		for i := tornAt + 1; i < len(line) && next < 0; i++ {
			if line[i] == '{' {
				if evs, _, err := leadingEvents(t, line[i:]); err == nil && len(evs) > 0 {
					next = i
				}
			}
		}
		if next < 0 {
			if last {
				return ids, nil
			}
			return nil, fmt.Errorf("%.200q is not an event, nor a torn one followed by an event", line[tornAt:])
		}
		line = line[next:]
	}
}

// leadingEvents decodes the JSON values of b in turn and returns the
// identities of those up to the first that is not valid JSON, and where
// that one starts (-1 when b decodes to its end). A whole JSON value that is
// not an event of log type t is an error.
func leadingEvents(t duoapi.LogType, b []byte) (ids []string, tornAt int, err error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		off := int(dec.InputOffset())
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return ids, -1, nil
		}
		if err != nil {
			for off < len(b) && (b[off] == ' ' || b[off] == '\t' || b[off] == '\r') {
				off++
			}
			return ids, off, nil
		}
		id, err := eventIdentity(t, raw)
		if err != nil {
			return nil, 0, err
		}
		ids = append(ids, id)
	}
}

// eventIdentity is identity for an event as a file output holds it: an
// administrator or offline enrollment event, identified by its content,
// must at least be an object with a timestamp.
func eventIdentity(t duoapi.LogType, raw []byte) (string, error) {
	if t == duoapi.Administrator || t == duoapi.OfflineEnrollment {
		var ev struct {
			Timestamp *json.Number `json:"timestamp"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil || ev.Timestamp == nil {
			return "", fmt.Errorf("%s event without timestamp: %.200s", t, raw)
		}
	}
	return identity(t, raw)
}

// covered returns the events the stored cursor c of log type t says were
// delivered: a restart never reads them again.
func (l *ledger) covered(t duoapi.LogType, c duoapi.Cursor) (counts, error) {
	out := counts{}
	evs := l.events[t]
	if t == duoapi.TrustMonitor {
		// A Trust Monitor offset is opaque: the cursor covers what was
		// read before its last surfaced millisecond, and the sekeys of it
		// that it holds; or, with no event read in its window, what is
		// before the window.
		until := max(c.Surfaced, c.WindowMin)
		seen := map[string]bool{}
		for _, k := range c.Seen {
			seen[k] = true
		}
		for _, e := range evs {
			if e.ms < until || e.ms == c.Surfaced && seen[e.ev] {
				out[e.ev]++
			}
		}
		return out, nil
	}
	if t == duoapi.Authentication || t == duoapi.Telephony || t == duoapi.Activity {
		if c.NextOffset == "" {
			for _, e := range evs {
				if e.ms < c.WindowMin {
					out[e.ev]++
				}
			}
			return out, nil
		}
		head, offID, ok := strings.Cut(c.NextOffset, ",")
		offMs, err := strconv.ParseInt(head, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("%s cursor offset %q is not ms,id", t, c.NextOffset)
		}
		for _, e := range evs {
			if e.ms < offMs || e.ms == offMs && e.id <= offID {
				out[e.ev]++
			}
		}
		return out, nil
	}
	// A v1 cursor asks again from second MinTime, inclusively, and drops
	// the events of that second in Seen: every earlier event is covered.
	// That holds too when a quiet log's MinTime moved on past its last
	// event to the availability edge (with Seen empty).
	seen := counts{}
	for _, h := range c.Seen {
		seen[h]++
	}
	for _, e := range evs {
		sec := e.ms / 1000
		switch {
		case sec < c.MinTime:
			out[e.ev]++
		case sec == c.MinTime && seen[e.ev] > 0:
			seen[e.ev]--
			out[e.ev]++
		}
	}
	return out, nil
}

// readCursors opens the bbolt checkpoint store at path, as duostream does,
// and returns the stored cursor of every log type under prefix, the
// checkpoint_key (a type with none stored is left out). The store must not
// be open elsewhere. bbolt writes are transactions, so a slot that cannot be
// read is an error here.
func readCursors(ctx context.Context, path, prefix string) (map[duoapi.LogType]duoapi.Cursor, error) {
	cursors, torn, err := readPositions(ctx, bboltStore(path), prefix)
	if err != nil {
		return nil, err
	}
	for t, err := range torn {
		return nil, fmt.Errorf("stored %s position: %w", t, err)
	}
	return cursors, nil
}

// bboltStore is the cache config with which the test opens the bbolt
// checkpoint store at path, for readPositions.
func bboltStore(path string) map[string]any {
	return map[string]any{"bbolt": map[string]any{"path": path, "lock_timeout": "2s", "compaction_interval": ""}}
}

// fileStore is the cache config with which the test opens a core file
// cache kept in dir, for readPositions. A file cache may be read while
// duostream runs, but a value read during its write may be torn.
func fileStore(dir string) map[string]any {
	return map[string]any{"file": map[string]any{"directory": dir}}
}

// readPositions opens the checkpoint cache that store configures (such as
// bboltStore or fileStore), as duostream does, and reads the position of
// every log type under prefix the way the input reads it
// (input.ReadPosition: of the two slots, the readable one with the higher
// generation). A type with nothing readable stored is left out of cursors,
// as the input then starts it initial_lookback ago. torn holds, per log
// type, why a slot (or the cache) could not be read, as a SIGKILL during a
// write to a file cache leaves a slot; the input then resumes from the
// other slot, one write older, which is the one in cursors.
func readPositions(ctx context.Context, store map[string]any, prefix string) (cursors map[duoapi.LogType]duoapi.Cursor, torn map[duoapi.LogType]error, err error) {
	cursors, torn = map[duoapi.LogType]duoapi.Cursor{}, map[duoapi.LogType]error{}
	err = withCache(ctx, store, func(c service.Cache) error {
		for _, t := range duoapi.AllLogTypes {
			p, found, readErr := input.ReadPosition(ctx, c, prefix, t)
			if readErr != nil {
				torn[t] = readErr
			}
			if found {
				cursors[t] = p.Cursor
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return cursors, torn, nil
}

// withCache opens the cache that store configures (such as bboltStore or
// fileStore) as duostream does, calls fn with it and closes it.
func withCache(ctx context.Context, store map[string]any, fn func(c service.Cache) error) error {
	conf := maps.Clone(store)
	conf["label"] = "state"
	raw, err := json.Marshal(conf)
	if err != nil {
		return err
	}
	rb := service.NewResourceBuilder()
	if err := rb.AddCacheYAML(string(raw)); err != nil {
		return err
	}
	res, closeRes, err := rb.Build()
	if err != nil {
		return err
	}
	defer closeRes(context.WithoutCancel(ctx))
	var fnErr error
	if err := res.AccessCache(ctx, "state", func(c service.Cache) { fnErr = fn(c) }); err != nil {
		return err
	}
	return fnErr
}
