// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package cache

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/redpanda-data/benthos/v4/public/service/integration"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// redisTestURL returns the URL of the real redis-server that
// .ci/services/redis.sh started.
func redisTestURL(t *testing.T) string {
	t.Helper()
	return redisTestEnv(t, "DUOSTREAM_TEST_REDIS_URL", "redis.sh")
}

// redisTestEnv returns the environment variable name that
// .ci/services/<script> exports. Without it the test is skipped, except in
// CI, where it fails.
func redisTestEnv(t *testing.T, name, script string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set; CI must run: eval \"$(bash .ci/services/%s)\"", name, script)
		}
		t.Skipf("%s is not set; run: eval \"$(DUOSTREAM_CI_TMP=$(mktemp -d) bash .ci/services/%s)\"", name, script)
	}
	return v
}

func TestRedisCacheIntegrationConformance(t *testing.T) {
	u := redisTestURL(t)
	integration.CacheTests(
		integration.CacheTestOpenClose(),
		integration.CacheTestMissingKey(),
		integration.CacheTestDoubleAdd(),
		integration.CacheTestDelete(),
		integration.CacheTestGetAndSet(50),
	).Run(t, fmt.Sprintf(`
cache_resources:
  - label: testcache
    redis:
      url: %q
      prefix: "duostream-test:$ID:"
`, u))
}

// TestRedisCacheIntegrationSharedState is the reason the redis cache exists:
// two machines share the checkpoint, and it outlives the machine that wrote
// it, so a stream can move between machines without losing its place.
func TestRedisCacheIntegrationSharedState(t *testing.T) {
	testRedisSharedState(t, redisTestURL(t))
}

func TestRedisCacheIntegrationTTL(t *testing.T) {
	u := redisTestURL(t)
	prefix := fmt.Sprintf("duostream-test:%d:", time.Now().UnixNano())
	c := mustOpenTestRedis(t, fmt.Sprintf("url: %q\nprefix: %q\ndefault_ttl: 300ms", u, prefix))

	require.NoError(t, c.Set(t.Context(), "defaulted", []byte("d"), nil))
	require.NoError(t, c.Set(t.Context(), "forever", []byte("f"), ttlOf(0)))
	require.NoError(t, c.Add(t.Context(), "added", []byte("a"), nil))
	got, err := c.Get(t.Context(), "defaulted")
	require.NoError(t, err)
	assert.Equal(t, "d", string(got))

	assert.Eventually(t, func() bool {
		_, err := c.Get(t.Context(), "defaulted")
		return errors.Is(err, service.ErrKeyNotFound)
	}, 5*time.Second, 50*time.Millisecond, "default_ttl must expire the value")
	_, err = c.Get(t.Context(), "added")
	assert.ErrorIs(t, err, service.ErrKeyNotFound, "add honours default_ttl too")
	got, err = c.Get(t.Context(), "forever")
	require.NoError(t, err)
	assert.Equal(t, "f", string(got))
	require.NoError(t, c.Delete(t.Context(), "forever"))
}

// TestRedisCacheIntegrationPassword authenticates as an ACL user whose
// password is in the URL, and checks that a wrong password fails with an
// error that quotes neither password.
func TestRedisCacheIntegrationPassword(t *testing.T) {
	raw := redisTestURL(t)
	admin := mustOpenTestRedis(t, fmt.Sprintf("url: %q", raw))
	user := fmt.Sprintf("duostream-test-%d", time.Now().UnixNano())
	const pw = "Corr3ct-h0rse-battery"
	require.NoError(t, admin.client.Do(t.Context(), "ACL", "SETUSER", user, "on", ">"+pw, "~*", "+@all").Err())
	t.Cleanup(func() { _ = admin.client.Do(t.Context(), "ACL", "DELUSER", user).Err() })

	withUser := func(password string) string {
		u, err := url.Parse(raw)
		require.NoError(t, err)
		u.User = url.UserPassword(user, password)
		return u.String()
	}

	good := mustOpenTestRedis(t, fmt.Sprintf("url: %q\nprefix: %q", withUser(pw), user+":"))
	require.NoError(t, good.Set(t.Context(), "k", []byte("v"), nil))
	require.NoError(t, good.Delete(t.Context(), "k"))

	bad := mustOpenTestRedis(t, fmt.Sprintf("url: %q\nretries:\n  max_elapsed_time: 100ms", withUser(pw+"-wrong")))
	_, err := bad.Get(t.Context(), "k")
	require.Error(t, err)
	assert.Contains(t, strings.ToUpper(err.Error()), "WRONGPASS")
	assert.NotContains(t, err.Error(), pw)
}
