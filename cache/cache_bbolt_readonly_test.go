// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package cache

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// openTestReadOnly builds a read-only bbolt cache through the bbolt spec.
func openTestReadOnly(t *testing.T, path, extra string) (*readOnlyBbolt, error) {
	t.Helper()
	conf, err := bboltCacheSpec().ParseYAML(fmt.Sprintf("path: %q\n%s", path, extra), nil)
	require.NoError(t, err)
	return newReadOnlyBboltFromParsed(conf)
}

// TestReadOnlyBboltReads checks that a read-only cache reads what the
// bbolt cache wrote, expired values as missing, refuses every write and
// leaves the file byte for byte as it was.
func TestReadOnlyBboltReads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	w, err := openTestBbolt(t, path, "")
	require.NoError(t, err)
	ctx := t.Context()
	long, short := 100*365*24*time.Hour, time.Millisecond
	require.NoError(t, w.Set(ctx, "kept", []byte("position"), &long))
	require.NoError(t, w.Set(ctx, "expiring", []byte("old"), &short))
	require.NoError(t, w.Close(ctx))
	time.Sleep(5 * time.Millisecond)
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	c, err := openTestReadOnly(t, path, "")
	require.NoError(t, err)
	got, err := c.Get(ctx, "kept")
	require.NoError(t, err)
	assert.Equal(t, "position", string(got))
	_, err = c.Get(ctx, "expiring")
	assert.ErrorIs(t, err, service.ErrKeyNotFound, "an expired value reads as missing")
	_, err = c.Get(ctx, "absent")
	assert.ErrorIs(t, err, service.ErrKeyNotFound)
	assert.ErrorIs(t, c.Set(ctx, "kept", []byte("x"), nil), errReadOnly)
	assert.ErrorIs(t, c.Add(ctx, "new", []byte("x"), nil), errReadOnly)
	assert.ErrorIs(t, c.Delete(ctx, "kept"), errReadOnly)
	require.NoError(t, c.Close(ctx))

	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after, "the file is unchanged, expired value included")
}

// TestReadOnlyBboltMissingFile checks that a file that does not exist reads
// as empty and is not created, nor its directory.
func TestReadOnlyBboltMissingFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "state.db")
	c, err := openTestReadOnly(t, path, "")
	require.NoError(t, err)
	_, err = c.Get(t.Context(), "duostream:x:authentication:a")
	assert.ErrorIs(t, err, service.ErrKeyNotFound)
	require.NoError(t, c.Close(t.Context()))
	_, err = os.Stat(dir)
	assert.ErrorIs(t, err, os.ErrNotExist, "no directory is created")
}

// TestReadOnlyBboltMissingBucket checks that a file without the configured
// bucket reads as empty and is left unchanged.
func TestReadOnlyBboltMissingBucket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	w, err := openTestBbolt(t, path, "")
	require.NoError(t, err)
	require.NoError(t, w.Close(t.Context()))
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	c, err := openTestReadOnly(t, path, "bucket: other\n")
	require.NoError(t, err)
	_, err = c.Get(t.Context(), "k")
	assert.ErrorIs(t, err, service.ErrKeyNotFound)
	require.NoError(t, c.Close(t.Context()))
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after)
}

// TestReadOnlyBboltLocked checks that a file a writer holds open fails
// with ErrLocked after lock_timeout, naming the file, and with the default
// lock_timeout within a second, so that a check next to a running pipeline
// does not wait for it.
func TestReadOnlyBboltLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	mustOpenTestBbolt(t, path, "")
	_, err := openTestReadOnly(t, path, "lock_timeout: 100ms\n")
	require.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), path)

	start := time.Now()
	_, err = openTestReadOnly(t, path, "")
	require.ErrorIs(t, err, ErrLocked)
	assert.Less(t, time.Since(start), time.Second)
}

// TestReadOnlyBboltSharedLock checks that read-only opens share the file
// (two checks may run at once) and that a writer opening the file while a
// reader holds it fails at once with ErrLocked.
func TestReadOnlyBboltSharedLock(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	w, err := openTestBbolt(t, path, "")
	require.NoError(t, err)
	require.NoError(t, w.Set(t.Context(), "k", []byte("v"), nil))
	require.NoError(t, w.Close(t.Context()))

	r1, err := openTestReadOnly(t, path, "")
	require.NoError(t, err)
	t.Cleanup(func() { _ = r1.Close(context.Background()) })
	r2, err := openTestReadOnly(t, path, "")
	require.NoError(t, err, "a second reader shares the lock")
	got, err := r2.Get(t.Context(), "k")
	require.NoError(t, err)
	assert.Equal(t, "v", string(got))
	require.NoError(t, r2.Close(t.Context()))

	start := time.Now()
	_, err = openTestBbolt(t, path, "")
	require.ErrorIs(t, err, ErrLocked, "a writer cannot open a file a reader holds")
	assert.Less(t, time.Since(start), time.Second)

	require.NoError(t, r1.Close(t.Context()))
	c, err := openTestBbolt(t, path, "")
	require.NoError(t, err, "the writer opens once the readers are gone")
	require.NoError(t, c.Close(t.Context()))
}

// TestReadOnlyEnvironment checks, through a stream, that the environment
// ReadOnly returns has the read-only bbolt cache: a get reads what was
// stored, a set fails, and the file is unchanged.
func TestReadOnlyEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	w, err := openTestBbolt(t, path, "")
	require.NoError(t, err)
	require.NoError(t, w.Set(t.Context(), "k", []byte("stored"), nil))
	require.NoError(t, w.Close(t.Context()))
	before, err := os.ReadFile(path)
	require.NoError(t, err)

	env, err := ReadOnly(service.GlobalEnvironment())
	require.NoError(t, err)
	run := func(processor string) (string, error) {
		b := env.NewStreamBuilder()
		require.NoError(t, b.AddCacheYAML(fmt.Sprintf("label: st\nbbolt:\n  path: %q\n", path)))
		require.NoError(t, b.AddInputYAML("generate: {count: 1, interval: '', mapping: 'root = \"new\"'}"))
		require.NoError(t, b.AddProcessorYAML(processor))
		var got string
		var gotErr error
		require.NoError(t, b.AddConsumerFunc(func(_ context.Context, m *service.Message) error {
			raw, _ := m.AsBytes()
			got, gotErr = string(raw), m.GetError()
			return nil
		}))
		strm, err := b.Build()
		require.NoError(t, err)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		require.NoError(t, strm.Run(ctx))
		return got, gotErr
	}
	got, err := run("cache: {resource: st, operator: get, key: k}")
	require.NoError(t, err)
	assert.Equal(t, "stored", got)
	_, err = run("cache: {resource: st, operator: set, key: k, value: changed}")
	assert.ErrorContains(t, err, "read-only")
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after)

	_, ok := service.GlobalEnvironment().GetCacheConfig("bbolt")
	assert.True(t, ok, "the global environment keeps its bbolt cache")
}
