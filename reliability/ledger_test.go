// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	_ "github.com/duostream/duostream/cache"
	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// An event's identity is what tells it apart from every other event of its
// log type: the txid of an authentication event, the telephony_id of a
// telephony (v2) event, and for administrator and offline enrollment
// events, which carry no ID, the content hash the puller keeps in its
// cursor (the first 16 bytes of the SHA-256 of the record, in hex).
func identity(t duoapi.LogType, raw []byte) (string, error) {
	switch t {
	case duoapi.Authentication:
		var ev struct {
			TxID string `json:"txid"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil || ev.TxID == "" {
			return "", fmt.Errorf("authentication event without txid: %.200s", raw)
		}
		return ev.TxID, nil
	case duoapi.Telephony:
		var ev struct {
			ID string `json:"telephony_id"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil || ev.ID == "" {
			return "", fmt.Errorf("telephony event without telephony_id: %.200s", raw)
		}
		return ev.ID, nil
	}
	return contentHash(raw), nil
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

// newLedger records every event sim holds.
func newLedger(sim *duosim.Server) (*ledger, error) {
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
// dir/<schema name>.jsonl. Events are decoded as a stream of JSON values, so
// a line that a SIGKILL left without its newline is still read, and the
// next event appended after it too.
func readDelivered(dir string) (map[duoapi.LogType]counts, error) {
	got := map[duoapi.LogType]counts{}
	for _, t := range duoapi.AllLogTypes {
		got[t] = counts{}
		f, err := os.Open(filepath.Join(dir, t.SchemaName()+".jsonl"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(f)
		for {
			var raw json.RawMessage
			err := dec.Decode(&raw)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("read %s: %w", f.Name(), err)
			}
			id, err := identity(t, raw)
			if err != nil {
				f.Close()
				return nil, err
			}
			got[t][id]++
		}
		f.Close()
	}
	return got, nil
}

// covered returns the events the stored cursor c of log type t says were
// delivered: a restart never reads them again.
func (l *ledger) covered(t duoapi.LogType, c duoapi.Cursor) (counts, error) {
	out := counts{}
	evs := l.events[t]
	if t == duoapi.Authentication || t == duoapi.Telephony {
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
// and returns the stored cursor of every log type under prefix (a type with
// none stored is left out). The store must not be open elsewhere.
func readCursors(ctx context.Context, path, prefix string) (map[duoapi.LogType]duoapi.Cursor, error) {
	conf, err := json.Marshal(map[string]any{"label": "state", "bbolt": map[string]any{
		"path": path, "lock_timeout": "2s", "compaction_interval": "",
	}})
	if err != nil {
		return nil, err
	}
	rb := service.NewResourceBuilder()
	if err := rb.AddCacheYAML(string(conf)); err != nil {
		return nil, err
	}
	res, closeRes, err := rb.Build()
	if err != nil {
		return nil, err
	}
	defer closeRes(context.WithoutCancel(ctx))
	out := map[duoapi.LogType]duoapi.Cursor{}
	for _, t := range duoapi.AllLogTypes {
		var raw []byte
		var getErr error
		if err := res.AccessCache(ctx, "state", func(c service.Cache) {
			raw, getErr = c.Get(ctx, prefix+"/"+string(t))
		}); err != nil {
			return nil, err
		}
		if errors.Is(getErr, service.ErrKeyNotFound) {
			continue
		}
		if getErr != nil {
			return nil, getErr
		}
		c, err := duoapi.DecodeCursor(raw)
		if err != nil {
			return nil, fmt.Errorf("stored %s cursor: %w", t, err)
		}
		out[t] = c
	}
	return out, nil
}
