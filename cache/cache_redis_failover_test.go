// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package cache

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/redpanda-data/benthos/v4/public/service/integration"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sentinelTest is the master set that .ci/services/redis-sentinel.sh
// started: a master and one replica behind three sentinels.
type sentinelTest struct {
	url       string // the sentinels, in Redpanda Connect's comma-separated form
	master    string
	password  string // the master's and the replica's
	sentinels []string
}

func sentinelTestEnv(t *testing.T) sentinelTest {
	t.Helper()
	st := sentinelTest{
		url:      redisTestEnv(t, "DUOSTREAM_TEST_SENTINEL_URL", "redis-sentinel.sh"),
		master:   redisTestEnv(t, "DUOSTREAM_TEST_SENTINEL_MASTER", "redis-sentinel.sh"),
		password: redisTestEnv(t, "DUOSTREAM_TEST_REDIS_MASTER_PASSWORD", "redis-sentinel.sh"),
	}
	parsed, err := parseRedisURL(st.url, rcKindFailover)
	require.NoError(t, err)
	st.sentinels = parsed.failover.SentinelAddrs
	return st
}

// cacheYAML is a redis cache block as Redpanda Connect writes it for this
// master set, plus extra lines.
func (st sentinelTest) cacheYAML(extra string) string {
	return fmt.Sprintf("url: %q\nkind: failover\nmaster: %s\n%s", st.url, st.master, extra)
}

// masterAddr returns the master's address as every sentinel reports it,
// or "" while they disagree or one does not answer.
func (st sentinelTest) masterAddr(ctx context.Context) string {
	var addr string
	for i, s := range st.sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s, MaxRetries: -1})
		hp, err := sc.GetMasterAddrByName(ctx, st.master).Result()
		_ = sc.Close()
		if err != nil || len(hp) != 2 {
			return ""
		}
		a := net.JoinHostPort(hp[0], hp[1])
		if i > 0 && a != addr {
			return ""
		}
		addr = a
	}
	return addr
}

// healthy reports whether every sentinel sees master with one replica that
// is up and linked, and the other two sentinels.
func (st sentinelTest) healthy(ctx context.Context) bool {
	for _, s := range st.sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s, MaxRetries: -1})
		m, err := sc.Master(ctx, st.master).Result()
		replicas, rerr := sc.Replicas(ctx, st.master).Result()
		_ = sc.Close()
		if err != nil || rerr != nil || m["flags"] != "master" || m["num-other-sentinels"] != "2" {
			return false
		}
		up := 0
		for _, r := range replicas {
			if r["flags"] == "slave" && r["master-link-status"] == "ok" {
				up++
			}
		}
		if up != 1 {
			return false
		}
	}
	return true
}

// serverInfo returns the INFO server fields of the node at addr.
func serverInfo(ctx context.Context, addr, password string) (map[string]string, error) {
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password})
	defer c.Close()
	raw, err := c.Info(ctx, "server").Result()
	if err != nil {
		return nil, err
	}
	fields := map[string]string{}
	for line := range strings.Lines(raw) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok {
			fields[k] = v
		}
	}
	return fields, nil
}

func TestRedisCacheFailoverIntegrationConformance(t *testing.T) {
	st := sentinelTestEnv(t)
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
      kind: failover
      master: %s
      prefix: "duostream-test:$ID:"
`, st.url, st.master))
}

// TestRedisCacheFailoverIntegrationMasterKilled kills the master with
// SIGKILL and checks that the cache carries on against the replica the
// sentinels promote, with every write that a replica acknowledged before
// the kill.
//
// Redis replicates asynchronously: a write the master acknowledged may be
// lost when it dies before the replica received it. Only writes followed by
// a WAIT that a replica answered are guaranteed to survive, so the test
// asserts on those alone. The killed node is started again as a replica of
// the new master and the test waits until the sentinels see it so, which
// leaves the same topology (one master, one replica) for the other tests
// and the next run, in any order.
func TestRedisCacheFailoverIntegrationMasterKilled(t *testing.T) {
	st := sentinelTestEnv(t)
	ctx := t.Context()
	require.Eventually(t, func() bool { return st.healthy(ctx) }, time.Minute, 200*time.Millisecond,
		"the master set is not healthy before the test (one master, one linked replica, three sentinels)")

	prefix := fmt.Sprintf("duostream-test:%d:", time.Now().UnixNano())
	// The retries cover the failover: the sentinels need down-after-
	// milliseconds (1s) and an election before the replica is promoted.
	c := mustOpenTestRedis(t, st.cacheYAML(fmt.Sprintf(`prefix: %q
retries:
  initial_interval: 100ms
  max_interval: 500ms
  max_elapsed_time: 30s
`, prefix)))

	const n = 200
	for i := range n {
		require.NoError(t, c.Set(ctx, fmt.Sprintf("cursor-%d", i), []byte(strconv.Itoa(i)), nil))
	}
	// WAIT covers the writes of its own connection: one more write on it,
	// after all of the cache's, and a replica that has it has them all.
	raw := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: st.master, SentinelAddrs: st.sentinels, Password: st.password})
	t.Cleanup(func() { _ = raw.Close() })
	conn := raw.Conn()
	require.NoError(t, conn.Set(ctx, prefix+"marker", "m", 0).Err())
	acked, err := conn.Do(ctx, "WAIT", 1, 5000).Int()
	require.NoError(t, err)
	require.GreaterOrEqual(t, acked, 1, "WAIT 1: no replica acknowledged the writes")
	_ = conn.Close()

	oldAddr := st.masterAddr(ctx)
	require.NotEmpty(t, oldAddr, "the sentinels disagree on the master")
	info, err := serverInfo(ctx, oldAddr, st.password)
	require.NoError(t, err)
	pid, err := strconv.Atoi(info["process_id"])
	require.NoError(t, err)
	require.NotEmpty(t, info["config_file"], "the master runs without a config file; it could not be started again")

	require.NoError(t, syscall.Kill(pid, syscall.SIGKILL))
	killed := time.Now()
	t.Logf("killed the master %s (pid %d)", oldAddr, pid)
	t.Cleanup(func() { restartAsReplica(t, st, oldAddr, info) })

	// The cache's first write after the kill waits out the failover.
	require.NoError(t, c.Set(ctx, "after-kill", []byte("a"), nil), "set during the failover")
	setTook := time.Since(killed)

	var newAddr string
	require.Eventually(t, func() bool {
		newAddr = st.masterAddr(ctx)
		return newAddr != "" && newAddr != oldAddr
	}, 30*time.Second, 50*time.Millisecond, "the sentinels did not report a new master")
	t.Logf("failover: the cache's first set after the kill succeeded after %s; all sentinels report the new master %s after %s",
		setTook.Round(time.Millisecond), newAddr, time.Since(killed).Round(time.Millisecond))

	for i := range n {
		got, err := c.Get(ctx, fmt.Sprintf("cursor-%d", i))
		require.NoError(t, err, "a write that a replica acknowledged was lost in the failover")
		assert.Equal(t, strconv.Itoa(i), string(got))
	}
	got, err := c.Get(ctx, "marker")
	require.NoError(t, err)
	assert.Equal(t, "m", string(got))
	got, err = c.Get(ctx, "after-kill")
	require.NoError(t, err)
	assert.Equal(t, "a", string(got))
	require.NoError(t, c.Set(ctx, "after-failover", []byte("b"), nil))

	for i := range n {
		require.NoError(t, c.Delete(ctx, fmt.Sprintf("cursor-%d", i)))
	}
	for _, k := range []string{"marker", "after-kill", "after-failover"} {
		require.NoError(t, c.Delete(ctx, k))
	}
}

// TestRedisCacheFailoverIntegrationRetriesReadOnly writes to the replica
// directly: its READONLY reply is what a client still connected to a
// demoted master gets during a failover, so the cache retries it until
// retries.max_elapsed_time rather than failing at once.
func TestRedisCacheFailoverIntegrationRetriesReadOnly(t *testing.T) {
	st := sentinelTestEnv(t)
	ctx := t.Context()
	require.Eventually(t, func() bool { return st.healthy(ctx) }, time.Minute, 200*time.Millisecond, "the master set is not healthy")
	sc := redis.NewSentinelClient(&redis.Options{Addr: st.sentinels[0]})
	t.Cleanup(func() { _ = sc.Close() })
	replicas, err := sc.Replicas(ctx, st.master).Result()
	require.NoError(t, err)
	require.Len(t, replicas, 1)

	replica := net.JoinHostPort(replicas[0]["ip"], replicas[0]["port"])
	c := mustOpenTestRedis(t, fmt.Sprintf(`url: %q
retries:
  initial_interval: 20ms
  max_interval: 50ms
  max_elapsed_time: 300ms
`, "redis://:"+st.password+"@"+replica+"/0"))
	start := time.Now()
	err = c.Set(ctx, "readonly", []byte("v"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "READONLY")
	assert.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond, "READONLY is retried")
	_, err = c.Get(ctx, "readonly")
	assert.ErrorIs(t, err, service.ErrKeyNotFound, "reads from the replica work")
}

// restartAsReplica starts the killed node at addr again, with the config
// file and executable its INFO server named, as a replica of the current
// master, and waits until the sentinels count it as one. It daemonizes, so
// it outlives the test; its config file names the pid file that the CI
// cleanup stops.
func restartAsReplica(t *testing.T, st sentinelTest, addr string, info map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var master string
	if !assert.Eventually(t, func() bool {
		master = st.masterAddr(ctx)
		return master != "" && master != addr
	}, 30*time.Second, 100*time.Millisecond, "no new master to replicate") {
		return
	}
	host, port, err := net.SplitHostPort(master)
	require.NoError(t, err)
	cmd := exec.Command(info["executable"], info["config_file"], "--replicaof", host, port, "--daemonize", "yes")
	out, err := cmd.CombinedOutput()
	if !assert.NoError(t, err, "restart %s: %s", addr, out) {
		return
	}
	assert.Eventually(t, func() bool { return st.healthy(ctx) }, 45*time.Second, 200*time.Millisecond,
		"the sentinels do not see %s as the replica of %s", addr, master)
}

// clusterTestURL returns the cluster nodes that
// .ci/services/redis-sentinel.sh started, in Redpanda Connect's
// comma-separated form.
func clusterTestURL(t *testing.T) string {
	return redisTestEnv(t, "DUOSTREAM_TEST_REDIS_CLUSTER_URL", "redis-sentinel.sh")
}

func TestRedisCacheClusterIntegrationConformance(t *testing.T) {
	u := clusterTestURL(t)
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
      kind: cluster
      prefix: "duostream-test:$ID:"
`, u))
}

// TestRedisCacheClusterIntegrationSpreadsKeys checks that the cache's keys
// land on the shards that own their slots, more than one of them.
func TestRedisCacheClusterIntegrationSpreadsKeys(t *testing.T) {
	u := clusterTestURL(t)
	ctx := t.Context()
	prefix := fmt.Sprintf("duostream-test:%d:", time.Now().UnixNano())
	c := mustOpenTestRedis(t, fmt.Sprintf("url: %q\nkind: cluster\nprefix: %q", u, prefix))
	cluster, ok := c.client.(*redis.ClusterClient)
	require.True(t, ok, "kind cluster builds a %T", c.client)

	const n = 100
	slots := map[int64]bool{}
	for i := range n {
		k := fmt.Sprintf("cursor-%d", i)
		require.NoError(t, c.Set(ctx, k, []byte(strconv.Itoa(i)), nil))
		slot, err := cluster.ClusterKeySlot(ctx, prefix+k).Result()
		require.NoError(t, err)
		slots[slot] = true
	}

	var mu sync.Mutex
	perNode := map[string]int{}
	require.NoError(t, cluster.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		keys, err := scanAll(ctx, node, prefix+"*")
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		perNode[node.Options().Addr] = len(keys)
		return nil
	}))
	t.Logf("%d keys in %d slots, per node: %v", n, len(slots), perNode)
	assert.Len(t, perNode, 3, "three masters")
	total, used := 0, 0
	for _, k := range perNode {
		total += k
		if k > 0 {
			used++
		}
	}
	assert.Equal(t, n, total, "every key is stored on exactly one master")
	assert.GreaterOrEqual(t, used, 2, "keys spread over at least two shards")

	for i := range n {
		got, err := c.Get(ctx, fmt.Sprintf("cursor-%d", i))
		require.NoError(t, err)
		assert.Equal(t, strconv.Itoa(i), string(got))
		require.NoError(t, c.Delete(ctx, fmt.Sprintf("cursor-%d", i)))
	}
}

// scanAll returns the keys of one node that match pattern.
func scanAll(ctx context.Context, node *redis.Client, pattern string) ([]string, error) {
	var keys []string
	it := node.Scan(ctx, 0, pattern, 1000).Iterator()
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	return keys, it.Err()
}
