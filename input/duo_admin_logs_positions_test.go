// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/duostream/duostream/cache"
	"github.com/duostream/duostream/duoapi"
)

// cacheResources builds the cache resource "state" from its YAML.
func cacheResources(t *testing.T, yaml string) *service.Resources {
	t.Helper()
	rb := service.NewResourceBuilder()
	require.NoError(t, rb.AddCacheYAML("label: state\n"+yaml))
	res, closeRes, err := rb.Build()
	require.NoError(t, err)
	t.Cleanup(func() { _ = closeRes(context.Background()) })
	return res
}

// TestPositionStoreOnEveryCache checks that the positions' keys, written the
// way the input writes them, are kept by every cache a user may pick: core
// file and memory (whose default_ttl must not expire them), bbolt and redis
// (here miniredis' stand-in is not needed: the redis cache has its own
// tests), and that the two slots are written in turn.
func TestPositionStoreOnEveryCache(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		yaml string
	}{
		{"core file", fmt.Sprintf("file:\n  directory: %s\n", filepath.Join(dir, "file"))},
		{"core memory with a short default_ttl", "memory:\n  default_ttl: 50ms\n  compaction_interval: 10ms\n"},
		{"bbolt with a short default_ttl", fmt.Sprintf("bbolt:\n  path: %s\n  default_ttl: 50ms\n", filepath.Join(dir, "state.db"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "core file" {
				require.NoError(t, os.MkdirAll(filepath.Join(dir, "file"), 0o755))
			}
			res := cacheResources(t, tt.yaml)
			store := &positionStore{res: res, cache: "state", prefix: DefaultCheckpointKey("api-x.duosecurity.com", "DIX")}
			ctx := t.Context()
			require.NoError(t, store.probe(ctx))
			last := time.UnixMilli(time.Now().Add(-time.Hour).UnixMilli())
			own := duoapi.StreamKey{LogType: duoapi.Administrator}
			child := duoapi.StreamKey{AccountID: "DA9VZOC5X63I2W72NRP9", LogType: duoapi.Administrator}
			for i, k := range []duoapi.StreamKey{own, child} {
				for gen := uint64(1); gen <= 3; gen++ {
					p := StoredPosition{Cursor: duoapi.Cursor{MinTime: int64(1000*(i+1)) + int64(gen)}, LastEvent: last, Generation: gen}
					require.NoError(t, store.store(ctx, k, p, ""))
				}
			}
			time.Sleep(150 * time.Millisecond) // past the default_ttl
			for i, k := range []duoapi.StreamKey{own, child} {
				got, found, legacy, err := store.load(ctx, k)
				require.NoError(t, err)
				require.True(t, found, "%v: the position outlives the cache's default_ttl", k)
				assert.False(t, legacy)
				assert.Equal(t, uint64(3), got.Generation, "the newer slot wins")
				assert.Equal(t, int64(1000*(i+1)+3), got.Cursor.MinTime, "%v: each stream has its own position", k)
				assert.True(t, last.Equal(got.LastEvent), "the time of the last event is kept: %s", got.LastEvent)
			}
			require.NoError(t, res.AccessCache(ctx, "state", func(c service.Cache) {
				older, err := c.Get(ctx, PositionKeys(store.prefix, duoapi.Administrator)[0])
				require.NoError(t, err)
				p, err := DecodePosition(older)
				require.NoError(t, err)
				assert.Equal(t, uint64(2), p.Generation, "the other slot holds the write before")
				childKey := store.prefix + ":DA9VZOC5X63I2W72NRP9:administrator:b"
				assert.Equal(t, childKey, PositionKeys(AccountPrefix(store.prefix, child.AccountID), duoapi.Administrator)[1])
				raw, err := c.Get(ctx, childKey)
				require.NoError(t, err, "a child's position is under <checkpoint_key>:<account_id>:<log type>")
				p, err = DecodePosition(raw)
				require.NoError(t, err)
				assert.Equal(t, int64(2003), p.Cursor.MinTime)
			}))
		})
	}
}

// TestPositionStoreTornWrite checks that a slot damaged by a crash during
// its write leaves the other slot, one write older, to resume from.
func TestPositionStoreTornWrite(t *testing.T) {
	res := cacheResources(t, "memory: {}\n")
	store := &positionStore{res: res, cache: "state", prefix: "p"}
	ctx := t.Context()
	require.NoError(t, store.store(ctx, key(duoapi.Telephony), StoredPosition{Cursor: duoapi.Cursor{WindowMin: 5000}, Generation: 1}, ""))
	full := StoredPosition{Cursor: duoapi.Cursor{WindowMin: 6000}, Generation: 2}.encode()
	require.NoError(t, res.AccessCache(ctx, "state", func(c service.Cache) {
		require.NoError(t, c.Set(ctx, PositionKeys("p", duoapi.Telephony)[0], full[:len(full)/2], nil))
	}))
	got, found, _, err := store.load(ctx, key(duoapi.Telephony))
	require.True(t, found)
	require.Error(t, err, "the damage is reported")
	assert.Contains(t, err.Error(), `"p:telephony:a"`)
	assert.Equal(t, int64(5000), got.Cursor.WindowMin)
}

// TestPositionStoreLegacyKey checks that a position stored by an earlier
// release, under "<prefix>/<log type>", is read when nothing is stored under
// the new keys, and not once something is.
func TestPositionStoreLegacyKey(t *testing.T) {
	res := cacheResources(t, "memory: {}\n")
	store := &positionStore{res: res, cache: "state", prefix: "duostream:h:k", legacyPrefix: "duostream/h/k"}
	ctx := t.Context()
	require.NoError(t, res.AccessCache(ctx, "state", func(c service.Cache) {
		require.NoError(t, c.Set(ctx, "duostream/h/k/authentication", duoapi.Cursor{WindowMin: 777}.Encode(), nil))
	}))
	got, found, legacy, err := store.load(ctx, key(duoapi.Authentication))
	require.NoError(t, err)
	require.True(t, found)
	assert.True(t, legacy)
	assert.Equal(t, int64(777), got.Cursor.WindowMin)

	require.NoError(t, store.store(ctx, key(duoapi.Authentication), StoredPosition{Cursor: duoapi.Cursor{WindowMin: 888}, Generation: 1}, ""))
	got, found, legacy, err = store.load(ctx, key(duoapi.Authentication))
	require.NoError(t, err)
	require.True(t, found)
	assert.False(t, legacy, "once stored under the new keys, the old one is not read again")
	assert.Equal(t, int64(888), got.Cursor.WindowMin)
}

// TestInputRefusesCacheThatCannotKeepPositions checks that an input whose
// checkpoint cache cannot store a position does not start, and says which
// cache and what to do.
func TestInputRefusesCacheThatCannotKeepPositions(t *testing.T) {
	dir := t.TempDir()
	notADir := filepath.Join(dir, "state")
	require.NoError(t, os.WriteFile(notADir, []byte("a plain file"), 0o644))
	res := cacheResources(t, fmt.Sprintf("file:\n  directory: %s\n", notADir))
	parsed, err := duoAdminLogsSpec().ParseYAML(baseConfig(""), nil)
	require.NoError(t, err)
	_, err = newDuoAdminLogsInput(parsed, res)
	require.Error(t, err)
	for _, want := range []string{"checkpoint_cache", `cache "state" cannot keep a position`, "bbolt", "duostream:api-test0001.duosecurity.com:DITESTINTEGRATIONKEY1:probe-"} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), testSecret)
}

func TestPageIdentity(t *testing.T) {
	a := []json.RawMessage{json.RawMessage(`{"txid":"1"}`), json.RawMessage(`{"txid":"2"}`)}
	same := []json.RawMessage{json.RawMessage(`{"txid":"1"}`), json.RawMessage(`{"txid":"2"}`)}
	id := pageIdentity(duoapi.Stream{LogType: duoapi.Authentication}, a)
	assert.Len(t, id, 32)
	assert.Equal(t, id, pageIdentity(duoapi.Stream{LogType: duoapi.Authentication}, same), "the same page has the same identity")
	for name, other := range map[string][]json.RawMessage{
		"another order":   {a[1], a[0]},
		"one event fewer": a[:1],
		"split otherwise": {json.RawMessage(`{"txid":"1"}{"txid":"2"}`)},
	} {
		assert.NotEqual(t, id, pageIdentity(duoapi.Stream{LogType: duoapi.Authentication}, other), name)
	}
	assert.NotEqual(t, id, pageIdentity(duoapi.Stream{LogType: duoapi.Telephony}, a), "another log type")
	child := duoapi.Stream{Account: duoapi.Account{ID: "DA9VZOC5X63I2W72NRP9"}, LogType: duoapi.Authentication}
	assert.NotEqual(t, id, pageIdentity(child, a), "another account")
}
