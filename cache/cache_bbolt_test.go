// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package cache

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/redpanda-data/benthos/v4/public/service/integration"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// fakeClock is a settable clock for TTL tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
}

// openTestBbolt builds a bbolt cache through the real spec. extra is YAML
// appended to the config; path is quoted into it.
func openTestBbolt(t testing.TB, path, extra string) (*bboltCache, error) {
	t.Helper()
	conf, err := bboltCacheSpec().ParseYAML(fmt.Sprintf("path: %q\n%s", path, extra), nil)
	if err != nil {
		return nil, err
	}
	return newBboltCacheFromParsed(conf, service.MockResources().Logger())
}

func mustOpenTestBbolt(t testing.TB, path, extra string) *bboltCache {
	t.Helper()
	c, err := openTestBbolt(t, path, extra)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close(t.Context()) })
	return c
}

func TestBboltCacheBehaviour(t *testing.T) {
	for _, tc := range cacheBehaviourCases {
		t.Run(tc.name, func(t *testing.T) {
			c := mustOpenTestBbolt(t, filepath.Join(t.TempDir(), "c.db"), tc.conf)
			clock := &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
			c.now = clock.Now
			runCacheSteps(t, c, clock.Advance, tc.steps)
		})
	}
}

func TestBboltCacheConfigErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{"missing path", "bucket: x", "path"},
		{"empty path", `path: ""`, "field path: must not be empty"},
		{"empty bucket", fmt.Sprintf("path: %q\nbucket: \"\"", filepath.Join(dir, "a.db")), "field bucket: must not be empty"},
		{"negative ttl", fmt.Sprintf("path: %q\ndefault_ttl: -1s", filepath.Join(dir, "b.db")), "field default_ttl: must not be negative"},
		{"bad ttl", fmt.Sprintf("path: %q\ndefault_ttl: soon", filepath.Join(dir, "c.db")), "default_ttl"},
		{"zero lock timeout", fmt.Sprintf("path: %q\nlock_timeout: 0s", filepath.Join(dir, "d.db")), "field lock_timeout: must be positive"},
		{"zero compaction", fmt.Sprintf("path: %q\ncompaction_interval: 0s", filepath.Join(dir, "e.db")), "field compaction_interval: must be positive or empty"},
		{"path is a directory", fmt.Sprintf("path: %q", dir), "open bbolt cache " + dir},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conf, err := bboltCacheSpec().ParseYAML(tc.yaml, nil)
			if err == nil {
				var c *bboltCache
				c, err = newBboltCacheFromParsed(conf, nil)
				if c != nil {
					_ = c.Close(t.Context())
				}
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestBboltCacheDefaults(t *testing.T) {
	conf, err := bboltCacheSpec().ParseYAML(`path: /x/y.db`, nil)
	require.NoError(t, err)
	bucket, err := conf.FieldString(bcFieldBucket)
	require.NoError(t, err)
	assert.Equal(t, "duostream", bucket)
	lock, err := conf.FieldDuration(bcFieldLockTimeout)
	require.NoError(t, err)
	assert.Equal(t, 500*time.Millisecond, lock, "a second process fails at once, not after a wait")
	assert.False(t, conf.Contains(bcFieldDefaultTTL), "default_ttl must be unset by default")
}

func TestBboltCachePersistsAcrossReopen(t *testing.T) {
	// The parent directories do not exist yet: the cache creates them.
	path := filepath.Join(t.TempDir(), "state", "nested", "checkpoints.db")
	clock := &fakeClock{now: time.Now()}

	c, err := openTestBbolt(t, path, "bucket: cursors")
	require.NoError(t, err)
	assert.False(t, c.db.NoSync, "every commit must be fsynced")
	c.now = clock.Now
	require.NoError(t, c.Set(t.Context(), "authentication", []byte("cursor-1"), nil))
	require.NoError(t, c.Set(t.Context(), "telephony", []byte("cursor-2"), ttlOf(time.Hour)))
	require.NoError(t, c.Set(t.Context(), "gone", []byte("x"), nil))
	require.NoError(t, c.Delete(t.Context(), "gone"))
	require.NoError(t, c.Close(t.Context()))
	require.NoError(t, c.Close(t.Context()), "a second close is harmless")

	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	c = mustOpenTestBbolt(t, path, "bucket: cursors")
	c.now = clock.Now
	got, err := c.Get(t.Context(), "authentication")
	require.NoError(t, err)
	assert.Equal(t, "cursor-1", string(got))
	got, err = c.Get(t.Context(), "telephony")
	require.NoError(t, err)
	assert.Equal(t, "cursor-2", string(got))
	_, err = c.Get(t.Context(), "gone")
	require.ErrorIs(t, err, service.ErrKeyNotFound)

	// The expiry is stored as an absolute time, so it survives a reopen.
	clock.Advance(2 * time.Hour)
	_, err = c.Get(t.Context(), "telephony")
	require.ErrorIs(t, err, service.ErrKeyNotFound)
	got, err = c.Get(t.Context(), "authentication")
	require.NoError(t, err)
	assert.Equal(t, "cursor-1", string(got))
}

func TestBboltCacheBucketsAreSeparate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	c, err := openTestBbolt(t, path, "bucket: one")
	require.NoError(t, err)
	require.NoError(t, c.Set(t.Context(), "k", []byte("in one"), nil))
	require.NoError(t, c.Close(t.Context()))

	c = mustOpenTestBbolt(t, path, "bucket: two")
	_, err = c.Get(t.Context(), "k")
	assert.ErrorIs(t, err, service.ErrKeyNotFound)
}

func TestBboltCacheRejectsBadKeys(t *testing.T) {
	c := mustOpenTestBbolt(t, filepath.Join(t.TempDir(), "c.db"), "")
	err := c.Set(t.Context(), "", []byte("v"), nil)
	assert.ErrorContains(t, err, "key must not be empty")
	err = c.Add(t.Context(), strings.Repeat("k", bolt.MaxKeySize+1), []byte("v"), nil)
	assert.ErrorContains(t, err, "longer than the limit")
}

func TestBboltCacheForeignValue(t *testing.T) {
	c := mustOpenTestBbolt(t, filepath.Join(t.TempDir(), "c.db"), "")
	require.NoError(t, c.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(c.bucket).Put([]byte("k"), []byte("raw"))
	}))
	_, err := c.Get(t.Context(), "k")
	require.Error(t, err)
	assert.NotErrorIs(t, err, service.ErrKeyNotFound)
	assert.Contains(t, err.Error(), "not in bbolt cache format")
	assert.ErrorIs(t, c.Add(t.Context(), "k", []byte("v"), nil), service.ErrKeyAlreadyExists)
	require.NoError(t, c.Set(t.Context(), "k", []byte("v"), nil), "set repairs the key")
	got, err := c.Get(t.Context(), "k")
	require.NoError(t, err)
	assert.Equal(t, "v", string(got))
}

func TestBboltCacheSweep(t *testing.T) {
	c := mustOpenTestBbolt(t, filepath.Join(t.TempDir(), "c.db"), `compaction_interval: ""`)
	clock := &fakeClock{now: time.Now()}
	c.now = clock.Now
	require.NoError(t, c.Set(t.Context(), "short", []byte("s"), ttlOf(time.Second)))
	require.NoError(t, c.Set(t.Context(), "long", []byte("l"), ttlOf(time.Hour)))
	require.NoError(t, c.Set(t.Context(), "forever", []byte("f"), nil))

	n, err := c.sweep()
	require.NoError(t, err)
	assert.Equal(t, 0, n)

	clock.Advance(time.Minute)
	n, err = c.sweep()
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, []string{"forever", "long"}, bboltKeys(t, c))
}

func TestBboltCacheCompactionLoop(t *testing.T) {
	c := mustOpenTestBbolt(t, filepath.Join(t.TempDir(), "c.db"), "compaction_interval: 10ms")
	require.NoError(t, c.Set(t.Context(), "short", []byte("s"), ttlOf(time.Millisecond)))
	require.NoError(t, c.Set(t.Context(), "forever", []byte("f"), nil))
	assert.Eventually(t, func() bool {
		return len(bboltKeys(t, c)) == 1
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, []string{"forever"}, bboltKeys(t, c))
}

func bboltKeys(t *testing.T, c *bboltCache) []string {
	t.Helper()
	var keys []string
	require.NoError(t, c.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(c.bucket).ForEach(func(k, _ []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	}))
	return keys
}

// TestBboltCacheConformance runs Benthos' own cache tests against bbolt
// resources built from a full config.
func TestBboltCacheConformance(t *testing.T) {
	dir := t.TempDir()
	integration.CacheTests(
		integration.CacheTestOpenClose(),
		integration.CacheTestMissingKey(),
		integration.CacheTestDoubleAdd(),
		integration.CacheTestDelete(),
		integration.CacheTestGetAndSet(50),
	).Run(t, `
cache_resources:
  - label: testcache
    bbolt:
      path: `+dir+`/$ID/cache.db
`)
}

func FuzzDecodeBboltValue(f *testing.F) {
	c := &bboltCache{now: time.Now}
	f.Add(c.encode([]byte("cursor"), nil))
	f.Add(c.encode(nil, ttlOf(time.Minute)))
	f.Add([]byte{})
	f.Add([]byte{2, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, raw []byte) {
		now := time.Unix(1_800_000_000, 0)
		value, live, err := decodeBboltValue(raw, now)
		if err != nil {
			return
		}
		if !live {
			assert.Nil(t, value)
			return
		}
		assert.Equal(t, raw[bboltHeaderLen:], value)
	})
}

// The helper process: the test binary re-executes itself with
// DUOSTREAM_CACHE_TEST_HELPER set, see TestMain.
const (
	helperEnvMode = "DUOSTREAM_CACHE_TEST_HELPER"
	helperEnvPath = "DUOSTREAM_CACHE_TEST_PATH"
)

// crashKeys are the keys the crash writer updates, one per Duo log type.
var crashKeys = []string{"authentication", "administrator", "telephony", "activity"}

// crashValue is the value the crash writer stores as sequence seq of key.
// Its length varies from a few bytes to a few kilobytes so that commits
// touch leaf, branch and overflow pages.
func crashValue(key string, seq int) []byte {
	pad := (seq*7919 + len(key)*131) % 6000
	return fmt.Appendf(nil, `{"log_type":%q,"seq":%d,"pad":"%s"}`, key, seq, strings.Repeat(string(rune('a'+seq%26)), pad))
}

// parseCrashValue returns the sequence number of a value written by the
// crash writer, and an error if the value is not exactly what it wrote.
func parseCrashValue(key string, raw []byte) (int, error) {
	var v struct {
		LogType string `json:"log_type"`
		Seq     int    `json:"seq"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return 0, fmt.Errorf("value of %q is not valid JSON (%d bytes): %w", key, len(raw), err)
	}
	if v.LogType != key {
		return 0, fmt.Errorf("value of %q names log type %q", key, v.LogType)
	}
	if want := crashValue(key, v.Seq); string(want) != string(raw) {
		return 0, fmt.Errorf("value of %q at seq %d differs from what was written", key, v.Seq)
	}
	return v.Seq, nil
}

// runCacheTestHelper is the body of the helper process.
func runCacheTestHelper(mode, path string) error {
	conf, err := bboltCacheSpec().ParseYAML(fmt.Sprintf("path: %q\nlock_timeout: 10s", path), nil)
	if err != nil {
		return err
	}
	c, err := newBboltCacheFromParsed(conf, nil)
	if err != nil {
		return err
	}
	defer c.Close(context.Background())
	switch mode {
	case "hold":
		fmt.Println("locked")
		_, _ = io.Copy(io.Discard, os.Stdin)
		return nil
	case "write":
		ctx := context.Background()
		seq := map[string]int{}
		for _, k := range crashKeys {
			raw, err := c.Get(ctx, k)
			if errors.Is(err, service.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if seq[k], err = parseCrashValue(k, raw); err != nil {
				return err
			}
		}
		for {
			for _, k := range crashKeys {
				seq[k]++
				if err := c.Set(ctx, k, crashValue(k, seq[k]), nil); err != nil {
					return err
				}
				// The acknowledgement: one write(2) of a whole line, made
				// only after Set has returned.
				if _, err := fmt.Fprintf(os.Stdout, "%s %d\n", k, seq[k]); err != nil {
					return err
				}
			}
		}
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

// startHelper starts the test binary as a helper in mode on path, with its
// stdout piped to the returned reader.
func startHelper(t *testing.T, mode, path string) (*exec.Cmd, *bufio.Scanner, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), helperEnvMode+"="+mode, helperEnvPath+"="+path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	return cmd, bufio.NewScanner(stdout), stdin
}

func TestBboltCacheLockedBySecondProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	cmd, out, stdin := startHelper(t, "hold", path)
	require.True(t, out.Scan(), "helper did not report holding the lock")
	require.Equal(t, "locked", out.Text())

	start := time.Now()
	_, err := openTestBbolt(t, path, "lock_timeout: 300ms")
	elapsed := time.Since(start)
	require.Error(t, err)
	require.ErrorIs(t, err, ErrLocked)
	assert.Contains(t, err.Error(), path)
	assert.Contains(t, err.Error(), "locked by another process")
	assert.GreaterOrEqual(t, elapsed, 250*time.Millisecond, "bbolt polls the lock every 50ms up to the timeout")
	assert.Less(t, elapsed, 5*time.Second, "a locked file must fail, not hang")

	// Once the other process lets go, the same file opens.
	require.NoError(t, stdin.Close())
	require.NoError(t, cmd.Wait())
	c, err := openTestBbolt(t, path, "lock_timeout: 5s")
	require.NoError(t, err)
	require.NoError(t, c.Close(t.Context()))
}

// TestBboltCacheLockedBySecondResource checks that a second open of a file
// in the same process, as by a cache resource of another stream, fails
// with the default lock_timeout within a second, with an error that names
// the field and the file and says what to do. flock locks belong to the
// open file description, so the second open conflicts like another process.
func TestBboltCacheLockedBySecondResource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.db")
	mustOpenTestBbolt(t, path, "")
	start := time.Now()
	_, err := openTestBbolt(t, path, "")
	elapsed := time.Since(start)
	require.ErrorIs(t, err, ErrLocked)
	assert.Less(t, elapsed, time.Second, "the default lock_timeout fails at once")
	msg := err.Error()
	for _, want := range []string{
		"field path:",
		path,
		"locked by another process, such as a running duostream, or by a cache resource of another stream of this one",
		"(waited 500ms)",
		"give each duostream process its own file",
		"use a redis cache as checkpoint_cache with the duo_admin_logs input's lease block",
	} {
		assert.Contains(t, msg, want)
	}
}

// TestBboltCacheSurvivesSIGKILL kills a writer process at random points of
// its write loop, many times over, and checks after each kill that the file
// opens and holds, for every key, exactly the value last acknowledged or the
// one that was being written when the process died: never an empty, older or
// damaged value. DUOSTREAM_BBOLT_CRASH_KILLS sets the number of kills.
func TestBboltCacheSurvivesSIGKILL(t *testing.T) {
	kills := 100
	if testing.Short() {
		kills = 20
	}
	if s := os.Getenv("DUOSTREAM_BBOLT_CRASH_KILLS"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "DUOSTREAM_BBOLT_CRASH_KILLS")
		kills = n
	}
	path := filepath.Join(t.TempDir(), "crash.db")
	acked := map[string]int{}
	var totalAcks, aheadOfAck int

	for round := range kills {
		cmd, out, _ := startHelper(t, "write", path)
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			for out.Scan() {
				lines <- out.Text()
			}
		}()
		record := func(line string) {
			key, seqStr, ok := strings.Cut(line, " ")
			require.True(t, ok, "bad ack line %q", line)
			seq, err := strconv.Atoi(seqStr)
			require.NoError(t, err, "bad ack line %q", line)
			require.Greater(t, seq, acked[key], "acks of %q went backwards", key)
			acked[key] = seq
			totalAcks++
		}

		// Wait for the writer to acknowledge at least one write, then let it
		// run a random while longer so the kill lands anywhere in a commit.
		select {
		case line, ok := <-lines:
			require.True(t, ok, "round %d: writer exited before its first write", round)
			record(line)
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("round %d: writer made no write within 30s", round)
		}
		time.Sleep(time.Duration(rand.IntN(20_000)) * time.Microsecond)
		require.NoError(t, cmd.Process.Kill())
		for line := range lines {
			record(line)
		}
		err := cmd.Wait()
		var exitErr *exec.ExitError
		require.ErrorAs(t, err, &exitErr, "round %d: writer stopped on its own", round)
		ws, ok := exitErr.Sys().(syscall.WaitStatus)
		require.True(t, ok)
		require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "round %d: writer ended with %v, not SIGKILL", round, err)

		c, err := openTestBbolt(t, path, "lock_timeout: 5s")
		require.NoError(t, err, "round %d: reopen after SIGKILL", round)
		for _, k := range crashKeys {
			raw, err := c.Get(t.Context(), k)
			if acked[k] == 0 && errors.Is(err, service.ErrKeyNotFound) {
				continue
			}
			require.NoError(t, err, "round %d: get %q (last acked %d)", round, k, acked[k])
			seq, err := parseCrashValue(k, raw)
			require.NoError(t, err, "round %d", round)
			// The write in flight at the kill may or may not have committed;
			// anything else is lost or invented data.
			require.Contains(t, []int{acked[k], acked[k] + 1}, seq, "round %d: %q holds seq %d, last acked %d", round, k, seq, acked[k])
			if seq > acked[k] {
				aheadOfAck++
				acked[k] = seq // the next writer continues from the stored value
			}
		}
		require.NoError(t, c.Close(t.Context()))
	}
	t.Logf("%d SIGKILLs, %d acknowledged writes, every reopen clean; %d kills landed after a commit and before its ack", kills, totalAcks, aheadOfAck)
}
