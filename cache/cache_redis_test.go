// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package cache

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/redpanda-data/benthos/v4/public/service/integration"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
)

// openTestRedis builds a redis cache through the real spec.
func openTestRedis(t testing.TB, yaml string, log *service.Logger) (*redisCache, error) {
	t.Helper()
	conf, err := redisCacheSpec().ParseYAML(yaml, nil)
	if err != nil {
		return nil, err
	}
	c, err := newRedisCacheFromParsed(conf, log)
	if err == nil {
		t.Cleanup(func() { _ = c.Close(t.Context()) })
	}
	return c, err
}

func mustOpenTestRedis(t testing.TB, yaml string) *redisCache {
	t.Helper()
	c, err := openTestRedis(t, yaml, nil)
	require.NoError(t, err)
	return c
}

func TestRedisCacheBehaviour(t *testing.T) {
	for _, tc := range cacheBehaviourCases {
		t.Run(tc.name, func(t *testing.T) {
			mr := miniredis.RunT(t)
			c := mustOpenTestRedis(t, fmt.Sprintf("url: redis://%s/0\n%s", mr.Addr(), tc.conf))
			runCacheSteps(t, c, mr.FastForward, tc.steps)
		})
	}
}

func TestRedisCacheConformance(t *testing.T) {
	mr := miniredis.RunT(t)
	integration.CacheTests(
		integration.CacheTestOpenClose(),
		integration.CacheTestMissingKey(),
		integration.CacheTestDoubleAdd(),
		integration.CacheTestDelete(),
		integration.CacheTestGetAndSet(50),
	).Run(t, `
cache_resources:
  - label: testcache
    redis:
      url: redis://`+mr.Addr()+`/0
      prefix: $ID
`)
}

func TestRedisCacheSharedStateMiniredis(t *testing.T) {
	mr := miniredis.RunT(t)
	testRedisSharedState(t, "redis://"+mr.Addr()+"/0")
}

func TestRedisCachePrefix(t *testing.T) {
	mr := miniredis.RunT(t)
	prod := mustOpenTestRedis(t, fmt.Sprintf("url: redis://%s\nprefix: \"prod:\"", mr.Addr()))
	test := mustOpenTestRedis(t, fmt.Sprintf("url: redis://%s\nprefix: \"test:\"", mr.Addr()))

	require.NoError(t, prod.Set(t.Context(), "authentication", []byte("p"), nil))
	got, err := mr.Get("prod:authentication")
	require.NoError(t, err, "the key is stored under the prefix")
	assert.Equal(t, "p", got)

	_, err = test.Get(t.Context(), "authentication")
	require.ErrorIs(t, err, service.ErrKeyNotFound)
	require.NoError(t, test.Add(t.Context(), "authentication", []byte("t"), nil))
	require.NoError(t, prod.Delete(t.Context(), "authentication"))
	got2, err := test.Get(t.Context(), "authentication")
	require.NoError(t, err)
	assert.Equal(t, "t", string(got2))
	assert.Equal(t, []string{"test:authentication"}, mr.Keys())
}

func TestRedisCacheDefaults(t *testing.T) {
	conf, err := redisCacheSpec().ParseYAML(`url: redis://localhost:6379`, nil)
	require.NoError(t, err)
	kind, err := conf.FieldString(rcFieldKind)
	require.NoError(t, err)
	assert.Equal(t, rcKindSimple, kind)
	assert.False(t, conf.Contains(rcFieldPrefix))
	assert.False(t, conf.Contains(rcFieldDefaultTTL))
	b, err := conf.FieldBackOff(rcFieldRetries)
	require.NoError(t, err)
	assert.Equal(t, 500*time.Millisecond, b.InitialInterval)
	assert.Equal(t, time.Second, b.MaxInterval)
	assert.Equal(t, 5*time.Second, b.MaxElapsedTime)
}

func TestRedisCacheConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{"missing url", `prefix: x`, "url"},
		{"unknown kind", "url: redis://localhost\nkind: sharded", "kind"},
		{"bad scheme", "url: http://localhost", "invalid URL scheme: http"},
		{"bad db", "url: redis://localhost/abc", "invalid database number"},
		{"unknown option", "url: redis://localhost?colour=blue", "unexpected option: colour"},
		{"failover without master", "url: redis://localhost:26379\nkind: failover", "needs the field master"},
		{"negative ttl", "url: redis://localhost\ndefault_ttl: -5s", "field default_ttl: must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := openTestRedis(t, tc.yaml, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestRedisCacheFailoverBuildsClient(t *testing.T) {
	for _, yaml := range []string{
		"url: redis://localhost:26379?addr=localhost:26380\nkind: failover\nmaster: mymaster",
		"url: redis://localhost:26379?master_name=mymaster\nkind: failover",
	} {
		_, err := openTestRedis(t, yaml, nil)
		assert.NoError(t, err, yaml)
	}
}

// TestRedisCacheRedactsPassword checks that a password in the URL never
// reaches an error or a log line, however the URL or the server fails.
func TestRedisCacheRedactsPassword(t *testing.T) {
	const pw = "hunter2-Sekr1t"
	mr := miniredis.RunT(t)
	mr.RequireAuth(pw)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closedAddr := closed.Addr().String()
	require.NoError(t, closed.Close())

	tests := []struct {
		name     string
		url      string
		buildErr string // non-empty: building the cache fails with this
	}{
		{name: "unparseable", url: "redis://user:" + pw + "@host:port:x/0", buildErr: "not a valid URL"},
		{name: "control character", url: "redis://:" + pw + "@host\x7f/0", buildErr: "not a valid URL"},
		{name: "bad scheme", url: "http://user:" + pw + "@localhost/0", buildErr: "http://user:xxxxx@localhost/0"},
		{name: "bad database", url: "redis://:" + pw + "@localhost/" + pw, buildErr: "invalid database number"},
		{name: "bad option", url: "redis://:" + pw + "@localhost/0?" + pw + "=1", buildErr: "unexpected option"},
		{name: "wrong password", url: "redis://:" + pw + "x@" + mr.Addr() + "/0"},
		{name: "refused", url: "redis://:" + pw + "@" + closedAddr + "/0?max_retries=-1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			logger := service.NewLoggerFromSlog(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
			c, err := openTestRedis(t, fmt.Sprintf("url: %q\nretries:\n  max_elapsed_time: 100ms", tc.url), logger)
			if tc.buildErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.buildErr)
				assert.NotContains(t, err.Error(), pw)
				return
			}
			require.NoError(t, err)
			assert.Contains(t, logs.String(), "xxxxx", "the log names the redacted URL")
			assert.NotContains(t, logs.String(), pw)

			_, err = c.Get(t.Context(), "k")
			require.Error(t, err)
			assert.NotErrorIs(t, err, service.ErrKeyNotFound)
			assert.NotContains(t, err.Error(), pw)
			err = c.Set(t.Context(), "k", []byte("v"), nil)
			require.Error(t, err)
			assert.NotContains(t, err.Error(), pw)
		})
	}

	t.Run("scrub hides a password an error would quote", func(t *testing.T) {
		c := &redisCache{secrets: []string{pw}}
		err := c.scrub(fmt.Errorf("dial redis://:%s@h: refused", pw))
		assert.Equal(t, "dial redis://:xxxxx@h: refused", err.Error())
	})

	t.Run("right password works", func(t *testing.T) {
		c := mustOpenTestRedis(t, fmt.Sprintf("url: %q", "redis://:"+pw+"@"+mr.Addr()+"/0"))
		require.NoError(t, c.Set(t.Context(), "k", []byte("v"), nil))
	})
}

func TestRedisCacheRetriesConnectionFailures(t *testing.T) {
	mr := miniredis.RunT(t)
	c := mustOpenTestRedis(t, fmt.Sprintf(`
url: redis://%s/0
retries:
  initial_interval: 20ms
  max_interval: 50ms
  max_elapsed_time: 10s
`, mr.Addr()))
	require.NoError(t, c.Set(t.Context(), "k", []byte("before"), nil))

	// The server goes away and comes back on the same address while a Set
	// is being retried.
	mr.Close()
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(300 * time.Millisecond)
		assert.NoError(t, mr.Restart())
	})
	require.NoError(t, c.Set(t.Context(), "k", []byte("after"), nil))
	wg.Wait()
	got, err := mr.Get("k")
	require.NoError(t, err)
	assert.Equal(t, "after", got)
}

func TestRedisCacheGivesUpAfterMaxElapsed(t *testing.T) {
	mr := miniredis.RunT(t)
	c := mustOpenTestRedis(t, fmt.Sprintf(`
url: redis://%s/0
retries:
  initial_interval: 20ms
  max_interval: 50ms
  max_elapsed_time: 300ms
`, mr.Addr()))
	mr.Close()
	start := time.Now()
	err := c.Set(t.Context(), "k", []byte("v"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `redis cache: set "k"`)
	assert.GreaterOrEqual(t, time.Since(start), 250*time.Millisecond)
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestRedisCacheDoesNotRetryReplies(t *testing.T) {
	mr := miniredis.RunT(t)
	c := mustOpenTestRedis(t, fmt.Sprintf(`
url: redis://%s/0
retries:
  initial_interval: 2s
  max_elapsed_time: 10s
`, mr.Addr()))
	_, err := mr.Lpush("list", "x")
	require.NoError(t, err)
	start := time.Now()
	_, err = c.Get(t.Context(), "list")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "WRONGTYPE")
	assert.Less(t, time.Since(start), time.Second, "a reply error is final, not retried")
}

func TestRedisCacheCluster(t *testing.T) {
	mr := miniredis.RunT(t)
	c := mustOpenTestRedis(t, fmt.Sprintf("url: redis://%s\nkind: cluster\nprefix: \"duo:\"", mr.Addr()))
	runCacheSteps(t, c, mr.FastForward, []cacheStep{
		{op: "set", key: "authentication", value: "a"},
		{op: "get", key: "authentication", want: "a"},
		{op: "add", key: "authentication", value: "b", wantErr: service.ErrKeyAlreadyExists},
		{op: "setmulti", items: []service.CacheItem{{Key: "x", Value: []byte("1")}, {Key: "y", Value: []byte("2")}}},
		{op: "get", key: "y", want: "2"},
		{op: "delete", key: "authentication"},
		{op: "get", key: "authentication", wantErr: service.ErrKeyNotFound},
	})
}

func TestRedisCacheTLS(t *testing.T) {
	mr := miniredis.NewMiniRedis()
	require.NoError(t, mr.StartAddrTLS("127.0.0.1:0", selfSignedServerTLS(t)))
	t.Cleanup(mr.Close)

	// rediss:// alone verifies the server against the system roots, which do
	// not know this self-signed certificate.
	c := mustOpenTestRedis(t, fmt.Sprintf("url: rediss://%s/0\nretries:\n  max_elapsed_time: 100ms", mr.Addr()))
	_, err := c.Get(t.Context(), "k")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")

	// The tls field replaces those settings.
	c = mustOpenTestRedis(t, fmt.Sprintf("url: rediss://%s/0\ntls:\n  enabled: true\n  skip_cert_verify: true", mr.Addr()))
	require.NoError(t, c.Set(t.Context(), "k", []byte("over tls"), nil))
	got, err := c.Get(t.Context(), "k")
	require.NoError(t, err)
	assert.Equal(t, "over tls", string(got))
}

func TestRedisCacheClientName(t *testing.T) {
	mr := miniredis.RunT(t)
	c := mustOpenTestRedis(t, fmt.Sprintf("url: redis://%s\nclient_name: duo-test", mr.Addr()))
	require.NoError(t, c.Set(t.Context(), "k", []byte("v"), nil))
	name, err := c.client.ClientGetName(t.Context()).Result()
	require.NoError(t, err)
	assert.Equal(t, "duo-test", name)
}

// testRedisSharedState plays two machines that run the same stream one
// after the other against the Redis at url: the second picks up exactly
// where the first left off, through the Benthos cache processor and through
// the cache API.
func testRedisSharedState(t *testing.T, url string) {
	prefix := fmt.Sprintf("duostream-test:%d:", time.Now().UnixNano())
	cacheYAML := fmt.Sprintf("url: %q\nprefix: %q", url, prefix)

	// Two separate cache instances, each with its own connections.
	machineA := mustOpenTestRedis(t, cacheYAML)
	machineB := mustOpenTestRedis(t, cacheYAML)

	require.NoError(t, machineA.Set(t.Context(), "authentication", []byte("cursor-from-A"), nil))
	got, err := machineB.Get(t.Context(), "authentication")
	require.NoError(t, err)
	assert.Equal(t, "cursor-from-A", string(got))

	require.NoError(t, machineB.Set(t.Context(), "authentication", []byte("cursor-from-B"), nil))
	got, err = machineA.Get(t.Context(), "authentication")
	require.NoError(t, err)
	assert.Equal(t, "cursor-from-B", string(got))

	// Exactly one of two concurrent adds wins.
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, c := range []*redisCache{machineA, machineB} {
		wg.Go(func() { errs[i] = c.Add(t.Context(), "lease", []byte{byte('A' + i)}, nil) })
	}
	wg.Wait()
	var won int
	for _, err := range errs {
		if err == nil {
			won++
		} else {
			assert.ErrorIs(t, err, service.ErrKeyAlreadyExists)
		}
	}
	assert.Equal(t, 1, won)

	// Machine A goes away; its last write stays.
	require.NoError(t, machineA.Set(t.Context(), "telephony", []byte("last-from-A"), nil))
	require.NoError(t, machineA.Close(t.Context()))
	got, err = machineB.Get(t.Context(), "telephony")
	require.NoError(t, err)
	assert.Equal(t, "last-from-A", string(got))

	// The same through whole Benthos streams: a stream on machine A stores a
	// cursor per message and stops; a stream on machine B reads it back.
	resource := fmt.Sprintf("label: checkpoints\nredis:\n  url: %q\n  prefix: %q\n", url, prefix)
	runStream := func(input, processors string) []string {
		b := service.NewStreamBuilder()
		require.NoError(t, b.SetLoggerYAML("level: off"))
		b.SetThreads(1) // in order, like the one Duo input writing its cursor
		require.NoError(t, b.AddCacheYAML(resource))
		require.NoError(t, b.AddInputYAML(input))
		require.NoError(t, b.AddProcessorYAML(processors))
		var out []string
		var mu sync.Mutex
		require.NoError(t, b.AddConsumerFunc(func(_ context.Context, m *service.Message) error {
			raw, err := m.AsBytes()
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			out = append(out, string(raw))
			return nil
		}))
		s, err := b.Build()
		require.NoError(t, err)
		require.NoError(t, s.Run(t.Context()))
		return out
	}
	wrote := runStream(`
generate:
  count: 3
  interval: ""
  mapping: 'root = "cursor-" + counter().string()'
`, `
cache:
  resource: checkpoints
  operator: set
  key: administrator
  value: ${! content() }
`)
	assert.Equal(t, []string{"cursor-1", "cursor-2", "cursor-3"}, wrote)
	read := runStream(`
generate:
  count: 1
  interval: ""
  mapping: 'root = ""'
`, `
cache:
  resource: checkpoints
  operator: get
  key: administrator
`)
	assert.Equal(t, []string{"cursor-3"}, read)

	for _, k := range []string{"authentication", "telephony", "lease", "administrator"} {
		require.NoError(t, machineB.Delete(t.Context(), k))
	}
}

// selfSignedServerTLS returns a server TLS config with a fresh self-signed
// certificate for 127.0.0.1.
func selfSignedServerTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "duostream test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}
}

// redisTarget is what a parsed url field says, whatever the kind.
type redisTarget struct {
	addrs                          []string
	db                             int
	user, password                 string // the data nodes' (the master's with kind failover)
	sentinelUser, sentinelPassword string
	masterName                     string
	tls                            bool
}

func targetOf(r redisURL) redisTarget {
	switch {
	case r.simple != nil:
		o := r.simple
		return redisTarget{addrs: []string{o.Addr}, db: o.DB, user: o.Username, password: o.Password, tls: o.TLSConfig != nil}
	case r.cluster != nil:
		o := r.cluster
		return redisTarget{addrs: o.Addrs, user: o.Username, password: o.Password, tls: o.TLSConfig != nil}
	case r.failover != nil:
		o := r.failover
		return redisTarget{
			addrs: o.SentinelAddrs, db: o.DB, user: o.Username, password: o.Password,
			sentinelUser: o.SentinelUsername, sentinelPassword: o.SentinelPassword,
			masterName: o.MasterName, tls: o.TLSConfig != nil,
		}
	}
	return redisTarget{}
}

func TestParseRedisURL(t *testing.T) {
	tests := []struct {
		kind, url string
		want      redisTarget
	}{
		{rcKindSimple, "redis://localhost:6379/1", redisTarget{addrs: []string{"localhost:6379"}, db: 1}},
		{rcKindSimple, "tcp://u:pw@h:7000/2", redisTarget{addrs: []string{"h:7000"}, db: 2, user: "u", password: "pw"}},
		{rcKindSimple, "rediss://:pw@h", redisTarget{addrs: []string{"h:6379"}, password: "pw", tls: true}},
		{rcKindSimple, " redis://h:1/0 ", redisTarget{addrs: []string{"h:1"}}},

		// Cluster: go-redis' addr parameters and Connect's comma list
		// (where the database, as in Connect, means nothing).
		{rcKindCluster, "redis://:pw@a:1?addr=b:2&addr=c:3", redisTarget{addrs: []string{"a:1", "b:2", "c:3"}, password: "pw"}},
		{rcKindCluster, "redis://:pw@a:1/0,redis://:pw@b:2/0,redis://:pw@c:3/0", redisTarget{addrs: []string{"a:1", "b:2", "c:3"}, password: "pw"}},
		{rcKindCluster, "tcp://a:1,tcp://b", redisTarget{addrs: []string{"a:1", "b:6379"}}},
		{rcKindCluster, "redis://u:pw@a:1?dial_timeout=1s,redis://b:2", redisTarget{addrs: []string{"a:1", "b:2"}, user: "u", password: "pw"}},

		// Failover: the userinfo is the master's, as in Connect; the
		// sentinels' come from their own parameters.
		{rcKindFailover, "redis://:mpw@s1:26379/3,redis://:mpw@s2:26379/3", redisTarget{addrs: []string{"s1:26379", "s2:26379"}, db: 3, password: "mpw"}},
		{rcKindFailover, "redis://mu:mpw@s1:26379?addr=s2:26379&master_name=mymaster", redisTarget{addrs: []string{"s1:26379", "s2:26379"}, user: "mu", password: "mpw", masterName: "mymaster"}},
		{rcKindFailover, "redis://:mpw@s1:26379?sentinel_username=su&sentinel_password=spw,redis://s2:26379", redisTarget{
			addrs: []string{"s1:26379", "s2:26379"}, password: "mpw", sentinelUser: "su", sentinelPassword: "spw",
		}},
		{rcKindFailover, "tcp://s1:26379", redisTarget{addrs: []string{"s1:26379"}}},
	}
	for _, tc := range tests {
		got, err := parseRedisURL(tc.url, tc.kind)
		if err != nil {
			t.Errorf("parseRedisURL(%q, %s) returned error %q", tc.url, tc.kind, err)
			continue
		}
		assert.Equal(t, tc.want, targetOf(got), "parseRedisURL(%q, %s)", tc.url, tc.kind)
	}
}

func TestParseRedisURLErrors(t *testing.T) {
	const pw = "s3cr3t-Pass"
	tests := []struct {
		kind, url string
		wantErr   string
	}{
		{rcKindSimple, "redis://:" + pw + "@a:1,redis://b:2", "lists 2 servers, but kind simple uses one; set kind cluster or failover"},
		{rcKindSimple, "redis://a:1?addr=b:2", "unexpected option: addr"},
		{rcKindSimple, "redis://a:1?" + rcParamSentinelPassword + "=" + pw, "unexpected option: sentinel_password"},
		{rcKindCluster, "redis://a:1,redis://b:2?dial_timeout=1s", "entry 2 has options; put them on the first entry only"},
		{rcKindCluster, "redis://:" + pw + "@a:1,redis://:other@b:2", "entry 2 has other credentials than the first entry"},
		{rcKindCluster, "redis://a:1,rediss://b:2", "entry 2 has scheme rediss, the first entry redis"},
		{rcKindCluster, "redis://a:1,redis://:" + pw + "@b:2:x", "entry 2 is not a valid URL"},
		{rcKindCluster, "redis://a:1,redis:///0", "entry 2 has no host"},
		{rcKindFailover, "redis://s1:1/1,redis://s2:2/2", `entry 2 has database "2", the first entry "1"`},
		{rcKindFailover, "redis://s1:1?password=" + pw, "give the master's credentials as user:password@ in the URL"},
		{rcKindFailover, "http://:" + pw + "@s1:1", "invalid URL scheme: http"},
	}
	for _, tc := range tests {
		got, err := parseRedisURL(tc.url, tc.kind)
		if err == nil {
			t.Errorf("parseRedisURL(%q, %s) = nil error, want %q", tc.url, tc.kind, tc.wantErr)
			continue
		}
		assert.Contains(t, err.Error(), tc.wantErr, "parseRedisURL(%q, %s)", tc.url, tc.kind)
		assert.NotContains(t, got.redacted, pw, "parseRedisURL(%q, %s).redacted", tc.url, tc.kind)
	}
}

// TestRedisCacheRedactsSentinelPassword checks that the sentinels' password
// is hidden like the master's, in the log line and in errors.
func TestRedisCacheRedactsSentinelPassword(t *testing.T) {
	const mpw, spw = "master-Pw-1", "sentinel-Pw-2"
	var logs bytes.Buffer
	logger := service.NewLoggerFromSlog(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	raw := "redis://:" + mpw + "@127.0.0.1:1?sentinel_password=" + spw + "&max_retries=-1,redis://127.0.0.1:2"
	c, err := openTestRedis(t, fmt.Sprintf("url: %q\nkind: failover\nmaster: mymaster\nretries:\n  max_elapsed_time: 100ms", raw), logger)
	require.NoError(t, err)
	assert.Contains(t, logs.String(), "sentinel_password=xxxxx")
	assert.NotContains(t, logs.String(), mpw)
	assert.NotContains(t, logs.String(), spw)
	err = c.Set(t.Context(), "k", []byte("v"), nil)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), mpw)
	assert.NotContains(t, err.Error(), spw)

	_, err = openTestRedis(t, fmt.Sprintf("url: %q\nkind: failover", raw+"?"+spw+"=1"), nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "field url")
	assert.NotContains(t, err.Error(), mpw)
	assert.NotContains(t, err.Error(), spw)
}

// TestRedisCacheConnectBlock lints and builds redis cache blocks as Redpanda
// Connect writes them, with every field of its redis cache set.
func TestRedisCacheConnectBlock(t *testing.T) {
	for _, kindAndURL := range []string{
		"kind: simple\n  url: tcp://foousername:foopassword@redisplace:6379/1",
		"kind: cluster\n  url: redis://:foopassword@node1:6379/0,redis://:foopassword@node2:6379/0",
		"kind: failover\n  master: mymaster\n  url: redis://:foopassword@sentinel1:26379/1,redis://:foopassword@sentinel2:26379/1",
	} {
		block := `
  client_name: redpanda-connect
  tls:
    enabled: false
    skip_cert_verify: false
  prefix: "connect:"
  default_ttl: 24h
  retries:
    initial_interval: 500ms
    max_interval: 1s
    max_elapsed_time: 5s
  ` + kindAndURL + "\n"
		b := service.NewStreamBuilder()
		assert.NoError(t, b.AddCacheYAML("label: connect\nredis:"+block), kindAndURL)
		_, err := openTestRedis(t, strings.ReplaceAll(block, "\n  ", "\n"), nil)
		assert.NoError(t, err, kindAndURL)
	}
}
