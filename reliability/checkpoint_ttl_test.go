// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
	"github.com/duostream/duostream/input"
)

// checkpointDefaultTTL is the default_ttl of the redis checkpoint cache in
// TestCheckpointTTL, and checkpointTTLWait how long duostream stays stopped.
const (
	checkpointDefaultTTL = 3 * time.Second
	checkpointTTLWait    = 4 * time.Second
	// checkpointTTLWatch is how long the restarted duostream is watched for
	// events read again.
	checkpointTTLWatch = 10 * time.Second
)

// TestCheckpointTTL stores the checkpoints in the redis cache with a
// default_ttl of 3s, which expires every value written without a TTL of its
// own: duostream delivers a backfill, stops on SIGTERM, stays stopped 4 s,
// and restarts. The positions are still there (they are written with an
// explicit TTL of a century), the restart resumes from them, and nothing is
// read again. Before positions had their own TTL, they expired with the
// default and every restart read initial_lookback again.
//
// The redis-server subtest uses the real server of .ci/services/redis.sh
// (DUOSTREAM_TEST_REDIS_URL) and is skipped without it, except in CI; the
// miniredis subtest runs everywhere, with TTLs running on the wall clock as
// in redis-server.
func TestCheckpointTTL(t *testing.T) {
	t.Run("redis-server", func(t *testing.T) {
		u := os.Getenv("DUOSTREAM_TEST_REDIS_URL")
		if u == "" {
			if os.Getenv("CI") == "true" {
				t.Fatal("DUOSTREAM_TEST_REDIS_URL is not set; CI must run: eval \"$(bash .ci/services/redis.sh)\"")
			}
			t.Skip("DUOSTREAM_TEST_REDIS_URL is not set; run: eval \"$(DUOSTREAM_CI_TMP=$(mktemp -d) bash .ci/services/redis.sh)\"")
		}
		testCheckpointTTL(t, u)
	})
	t.Run("miniredis", func(t *testing.T) {
		mr := miniredis.RunT(t)
		mr.ClockTTL(true)
		testCheckpointTTL(t, "redis://"+mr.Addr()+"/0")
	})
}

func testCheckpointTTL(t *testing.T, redisURL string) {
	sim := startSim(t, duosim.Config{Seed: suiteSeed})
	l := backfill(t, sim, map[duoapi.LogType]int{
		duoapi.Authentication: 3000, duoapi.Administrator: 1500, duoapi.Telephony: 1000, duoapi.OfflineEnrollment: 500,
	})
	redisPrefix := fmt.Sprintf("duostream-reliability:%d:", time.Now().UnixNano())
	withTTL := map[string]any{"redis": map[string]any{
		"url": redisURL, "prefix": redisPrefix, "default_ttl": checkpointDefaultTTL.String(),
	}}
	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	require.NoError(t, os.MkdirAll(outDir, 0o755))
	conf := map[string]any{
		// The default checkpoint_key.
		"input": duoInput(sim, map[string]any{
			"initial_lookback":    "25h",
			"requests_per_minute": 100000,
		}),
		"cache_resources": []any{map[string]any{"label": "state", "redis": withTTL["redis"]}},
		"output":          fileOutputByType(outDir),
	}
	prefix := input.DefaultCheckpointKey(sim.APIHost(), sim.IntegrationKey())

	p := startDuostream(t, dir, "first", conf)
	l.waitDeliveredTo(t, p, outDir, time.Minute, 100*time.Millisecond, "the backfill delivered")
	require.NoError(t, p.stop(30*time.Second), "duostream exits cleanly on SIGTERM; logs:\n%s", tail(p.logs(), 4000))
	stoppedAt := time.Now()

	// A value written without a TTL of its own, through the same cache
	// config: the default_ttl must expire it while duostream is stopped.
	ctx := t.Context()
	require.NoError(t, withCache(ctx, withTTL, func(c service.Cache) error {
		return c.Set(ctx, "control", []byte("expires with default_ttl"), nil)
	}))
	ttls := positionTTLs(t, redisURL, redisPrefix, prefix)
	checkCovered := func(when string) {
		t.Helper()
		cursors, torn, err := readPositions(ctx, withTTL, prefix)
		require.NoError(t, err)
		assert.Empty(t, torn, "%s: every stored position can be read", when)
		for _, lt := range duoapi.AllLogTypes {
			c, ok := cursors[lt]
			if !assert.True(t, ok, "%s: a %s position is stored", when, lt) {
				continue
			}
			cov, err := l.covered(lt, c)
			require.NoError(t, err)
			missing := 0
			for id, n := range l.want[lt] {
				missing += max(0, n-cov[id])
			}
			assert.Zero(t, missing, "%s: %s events not covered by the stored cursor (%+v)", when, lt, c)
		}
	}
	checkCovered("after a clean stop")

	time.Sleep(time.Until(stoppedAt.Add(checkpointTTLWait)))
	controlErr := withCache(ctx, withTTL, func(c service.Cache) error {
		_, err := c.Get(ctx, "control")
		return err
	})
	require.ErrorIs(t, controlErr, service.ErrKeyNotFound, "default_ttl %s expired a value written without a TTL within %s", checkpointDefaultTTL, checkpointTTLWait)
	checkCovered(fmt.Sprintf("%s after the stop", checkpointTTLWait))

	before, err := readDelivered(outDir)
	require.NoError(t, err)
	sim.ResetRequests()
	p2 := startDuostream(t, dir, "restart", conf)
	waitFor(t, p2, checkpointTTLWatch, 100*time.Millisecond, "every log type resumed from its stored position", func() bool {
		logs := p2.logs()
		for _, lt := range duoapi.AllLogTypes {
			if !strings.Contains(logs, fmt.Sprintf("Resuming Duo %s logs from", lt)) {
				return false
			}
		}
		return true
	})
	restartedAt := time.Now()
	time.Sleep(checkpointTTLWatch)
	watched := time.Since(restartedAt)
	require.NoError(t, p2.stop(30*time.Second), "duostream exits cleanly on SIGTERM; logs:\n%s", tail(p2.logs(), 4000))
	assert.NotContains(t, p2.logs(), "No stored position", "no log type starts initial_lookback ago again")

	after, err := readDelivered(outDir)
	require.NoError(t, err)
	again := 0
	for _, lt := range duoapi.AllLogTypes {
		for id, n := range after[lt] {
			again += max(0, n-before[lt][id])
		}
	}
	assert.Zero(t, again, "events delivered again after the restart")
	tl := l.compare(after)
	sum := sumTally(tl)
	assert.Zero(t, sum.lost, "events lost: %v", tl)
	assert.Zero(t, sum.dups, "events delivered more than once: %v", tl)
	checkCovered("after the restart")

	figure(t, "redis checkpoint cache with default_ttl %s: %d events delivered; positions stored with a TTL of %s to %s (a value written without one expired within %s); stopped %s, restarted: every log type resumed from its position, %d events read again in %s, %d requests to Duo, lost %d, duplicated %d",
		checkpointDefaultTTL, l.total(), ttls[0].Round(time.Hour), ttls[1].Round(time.Hour), checkpointTTLWait, checkpointTTLWait, again,
		watched.Round(100*time.Millisecond), len(sim.Requests()), sum.lost, sum.dups)
}

// noExpiry stands for the TTL of a redis key that has none.
const noExpiry = time.Duration(1<<63 - 1)

// positionTTLs returns the shortest and longest TTL that redis holds for
// the stored positions (every slot written) under prefix, the
// checkpoint_key, with the cache's key prefix redisPrefix.
func positionTTLs(t *testing.T, redisURL, redisPrefix, prefix string) [2]time.Duration {
	t.Helper()
	opts, err := redis.ParseURL(redisURL)
	require.NoError(t, err)
	client := redis.NewClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	out := [2]time.Duration{-1, -1}
	for _, lt := range duoapi.AllLogTypes {
		for _, key := range input.PositionKeys(prefix, lt) {
			ttl, err := client.PTTL(ctx, redisPrefix+key).Result()
			if errors.Is(err, redis.Nil) || err == nil && ttl == -2 {
				continue // slot never written
			}
			require.NoError(t, err)
			if ttl == -1 {
				ttl = noExpiry // a key without a TTL never expires either
			}
			assert.Greater(t, ttl, checkpointTTLWait, "key %q has a TTL of %s", key, ttl)
			if out[0] < 0 || ttl < out[0] {
				out[0] = ttl
			}
			out[1] = max(out[1], ttl)
		}
	}
	return out
}
