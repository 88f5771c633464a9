// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package cache

import (
	"context"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cacheStep is one operation against a cache and what it must return.
type cacheStep struct {
	op      string // get, set, add, delete, setmulti, advance
	key     string
	value   string
	ttl     *time.Duration
	items   []service.CacheItem // for setmulti
	advance time.Duration       // for advance
	want    string              // for get, when wantErr is nil
	wantErr error
}

func ttlOf(d time.Duration) *time.Duration { return &d }

// cacheBehaviourCase is a sequence of steps run against one fresh cache built
// from the YAML fields in conf (merged into the cache's own required fields).
type cacheBehaviourCase struct {
	name  string
	conf  string
	steps []cacheStep
}

// cacheBehaviourCases is the contract every duostream cache meets: Benthos'
// ErrKeyNotFound and ErrKeyAlreadyExists semantics, overwrites, empty and
// binary values, batch writes and TTLs.
var cacheBehaviourCases = []cacheBehaviourCase{
	{
		name: "get of a missing key is ErrKeyNotFound",
		steps: []cacheStep{
			{op: "get", key: "authentication", wantErr: service.ErrKeyNotFound},
		},
	},
	{
		name: "set then get, overwrite wins",
		steps: []cacheStep{
			{op: "set", key: "authentication", value: "1700000000000,abc"},
			{op: "get", key: "authentication", want: "1700000000000,abc"},
			{op: "set", key: "authentication", value: "1700000000999,def"},
			{op: "get", key: "authentication", want: "1700000000999,def"},
		},
	},
	{
		name: "add refuses an existing key and keeps the first value",
		steps: []cacheStep{
			{op: "add", key: "k", value: "first"},
			{op: "add", key: "k", value: "second", wantErr: service.ErrKeyAlreadyExists},
			{op: "get", key: "k", want: "first"},
		},
	},
	{
		name: "delete removes, deleting a missing key is fine, add works again",
		steps: []cacheStep{
			{op: "set", key: "k", value: "v"},
			{op: "delete", key: "k"},
			{op: "get", key: "k", wantErr: service.ErrKeyNotFound},
			{op: "delete", key: "k"},
			{op: "add", key: "k", value: "again"},
			{op: "get", key: "k", want: "again"},
		},
	},
	{
		name: "empty and binary values round-trip",
		steps: []cacheStep{
			{op: "set", key: "empty", value: ""},
			{op: "get", key: "empty", want: ""},
			{op: "set", key: "bin", value: "\x00\xff\x01\n\x00"},
			{op: "get", key: "bin", want: "\x00\xff\x01\n\x00"},
		},
	},
	{
		name: "keys are independent",
		steps: []cacheStep{
			{op: "set", key: "administrator", value: "a"},
			{op: "set", key: "telephony", value: "t"},
			{op: "delete", key: "administrator"},
			{op: "get", key: "administrator", wantErr: service.ErrKeyNotFound},
			{op: "get", key: "telephony", want: "t"},
		},
	},
	{
		name: "set multi writes every item",
		steps: []cacheStep{
			{op: "setmulti", items: []service.CacheItem{
				{Key: "a", Value: []byte("1")},
				{Key: "b", Value: []byte("2")},
				{Key: "c", Value: []byte("3"), TTL: ttlOf(time.Minute)},
			}},
			{op: "get", key: "a", want: "1"},
			{op: "get", key: "b", want: "2"},
			{op: "get", key: "c", want: "3"},
			{op: "advance", advance: 2 * time.Minute},
			{op: "get", key: "a", want: "1"},
			{op: "get", key: "c", wantErr: service.ErrKeyNotFound},
		},
	},
	{
		name: "without default_ttl values never expire",
		steps: []cacheStep{
			{op: "set", key: "k", value: "v"},
			{op: "advance", advance: 1000 * time.Hour},
			{op: "get", key: "k", want: "v"},
		},
	},
	{
		name: "explicit ttl expires, add then succeeds over the expired key",
		steps: []cacheStep{
			{op: "set", key: "k", value: "v", ttl: ttlOf(10 * time.Second)},
			{op: "advance", advance: 5 * time.Second},
			{op: "get", key: "k", want: "v"},
			{op: "add", key: "k", value: "w", wantErr: service.ErrKeyAlreadyExists},
			{op: "advance", advance: 6 * time.Second},
			{op: "get", key: "k", wantErr: service.ErrKeyNotFound},
			{op: "add", key: "k", value: "w"},
			{op: "get", key: "k", want: "w"},
		},
	},
	{
		name: "default_ttl applies when no ttl is given, a zero ttl means none",
		conf: "default_ttl: 1m",
		steps: []cacheStep{
			{op: "set", key: "defaulted", value: "d"},
			{op: "set", key: "forever", value: "f", ttl: ttlOf(0)},
			{op: "set", key: "longer", value: "l", ttl: ttlOf(time.Hour)},
			{op: "advance", advance: 59 * time.Second},
			{op: "get", key: "defaulted", want: "d"},
			{op: "advance", advance: 2 * time.Second},
			{op: "get", key: "defaulted", wantErr: service.ErrKeyNotFound},
			{op: "get", key: "forever", want: "f"},
			{op: "get", key: "longer", want: "l"},
		},
	},
}

// runCacheSteps runs steps against c; advance moves the cache's clock.
func runCacheSteps(t *testing.T, c service.Cache, advance func(time.Duration), steps []cacheStep) {
	t.Helper()
	ctx := t.Context()
	for i, s := range steps {
		var err error
		switch s.op {
		case "get":
			var got []byte
			got, err = c.Get(ctx, s.key)
			if s.wantErr == nil && err == nil {
				assert.Equal(t, s.want, string(got), "step %d: get(%q)", i, s.key)
			}
		case "set":
			err = c.Set(ctx, s.key, []byte(s.value), s.ttl)
		case "add":
			err = c.Add(ctx, s.key, []byte(s.value), s.ttl)
		case "delete":
			err = c.Delete(ctx, s.key)
		case "setmulti":
			m, ok := c.(interface {
				SetMulti(ctx context.Context, items ...service.CacheItem) error
			})
			require.True(t, ok, "cache does not implement SetMulti")
			err = m.SetMulti(ctx, s.items...)
		case "advance":
			advance(s.advance)
			continue
		default:
			t.Fatalf("step %d: unknown op %q", i, s.op)
		}
		if s.wantErr != nil {
			assert.ErrorIs(t, err, s.wantErr, "step %d: %s(%q)", i, s.op, s.key)
		} else {
			require.NoError(t, err, "step %d: %s(%q)", i, s.op, s.key)
		}
	}
}
