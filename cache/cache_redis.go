// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package cache

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/redis/go-redis/v9"
	"github.com/redpanda-data/benthos/v4/public/service"
)

const (
	rcFieldURL        = "url"
	rcFieldKind       = "kind"
	rcFieldMaster     = "master"
	rcFieldClientName = "client_name"
	rcFieldTLS        = "tls"
	rcFieldPrefix     = "prefix"
	rcFieldDefaultTTL = "default_ttl"
	rcFieldRetries    = "retries"

	rcKindSimple   = "simple"
	rcKindCluster  = "cluster"
	rcKindFailover = "failover"
)

func redisCacheSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Summary("Stores key/value pairs in Redis, so that several machines see the same state.").
		Description(`
Use this cache for the `+"`checkpoint_cache`"+` of the `+"`duo_admin_logs`"+` input when the stream may run on more than one machine over its life, for example a Kubernetes Deployment whose pod moves between nodes: the cursor lives in Redis, so the stream resumes where the last acknowledged batch ended, wherever it starts. Run one active stream per cursor key at a time; Redis shares state, it does not elect a leader.

A value written by this cache is only as durable as the Redis server makes it. For checkpoints, run Redis with persistence (AOF with `+"`appendfsync everysec`"+` or `+"`always`"+`) or a replicated managed service.

The fields match Redpanda Connect's `+"`redis`"+` cache, so a `+"`redis`"+` block moves between the two unchanged, with `+"`kind`"+` `+"`simple`"+`, `+"`cluster`"+` or `+"`failover`"+`; `+"`url`"+` says where the two differ. A password in `+"`url`"+` (the sentinels' too) is never logged nor shown in errors: the URL is shown with its passwords replaced by `+"`xxxxx`"+`, and `+"`echo`"+` hides the whole field.

Operations that fail on the connection, or on a reply that the deployment is between states (`+"`READONLY`"+`, `+"`LOADING`"+`, `+"`MASTERDOWN`"+`, `+"`CLUSTERDOWN`"+`, `+"`TRYAGAIN`"+`, as during a failover), are retried as set in `+"`retries`"+`; other replies from Redis are final.`).
		Fields(
			service.NewStringField(rcFieldURL).
				Description("The URL of the Redis server, parsed by go-redis: `redis://[user:password@]host[:port][/db][?option=value...]`, `rediss://` for TLS, and `tcp://` as another name for `redis://`. A port left out is 6379, for sentinels too.\n\n"+
					"With `kind: cluster` or `kind: failover`, name several nodes or sentinels either as Redpanda Connect does, with a comma-separated list of URLs (`redis://a:6379/0,redis://b:6379/0`), or with go-redis' `addr` query parameters (`redis://a:6379/0?addr=b:6379`). In a list the first URL carries the query options; the others add their host and port only, and may repeat the first one's credentials and database but not differ from them (Redpanda Connect takes those from the last URL). Write a comma inside a password as `%2C`. With `kind: simple` a list is an error, where Redpanda Connect silently uses the first server.\n\n"+
					"With `kind: failover` the URLs name the sentinels and their `user:password@` authenticates to the master and its replicas, as in Redpanda Connect. Sentinels that need a password of their own (`requirepass` in sentinel.conf) take it from the `sentinel_username` and `sentinel_password` query parameters, which Redpanda Connect does not have; go-redis' own `username` and `password` parameters are refused there, so that the master's credentials have one place.\n\n"+
					"Prefer putting passwords in environment variables, as in the examples.").
				Examples(
					"redis://localhost:6379",
					"rediss://default:${REDIS_PASSWORD}@redis.example.com:6380/0",
					"redis://:${REDIS_PASSWORD}@node1:6379/0,redis://:${REDIS_PASSWORD}@node2:6379/0,redis://:${REDIS_PASSWORD}@node3:6379/0",
					"redis://:${REDIS_PASSWORD}@node1:6379?addr=node2:6379&addr=node3:6379",
					"redis://:${REDIS_PASSWORD}@sentinel1:26379/0?sentinel_password=${SENTINEL_PASSWORD},redis://sentinel2:26379,redis://sentinel3:26379",
				).
				Secret(),
			service.NewStringAnnotatedEnumField(rcFieldKind, map[string]string{
				rcKindSimple:   "A single Redis server; `url` names it.",
				rcKindCluster:  "A Redis Cluster; `url` names one or more of its nodes (the client learns the others from them), and keys are spread over the shards by hash slot. A database in `url` is ignored: a cluster has database 0 only.",
				rcKindFailover: "A master found through Redis Sentinel; `url` names the sentinels and `master` the master set. When the sentinels promote a replica the client follows; operations that fail meanwhile are retried as set in `retries`, so give `retries.max_elapsed_time` more than a failover takes (the sentinels' `down-after-milliseconds` plus an election, a few seconds). Redis replicates asynchronously: a write acknowledged just before the master died may be lost with it.",
			}).
				Description("The kind of Redis deployment.").
				Default(rcKindSimple).
				Advanced(),
			service.NewStringField(rcFieldMaster).
				Description("The name of the master set, as in the sentinels' `sentinel monitor` line, when `kind` is `failover`. It overrides a `master_name` URL parameter; one of the two is needed.").
				Default("").
				Example("mymaster").
				Advanced(),
			service.NewStringField(rcFieldClientName).
				Description("The name this client announces with `CLIENT SETNAME`, shown by `CLIENT LIST` on the server.").
				Default("duostream").
				Advanced(),
			service.NewTLSToggledField(rcFieldTLS).
				Description("Custom TLS settings. A `rediss://` URL already turns on TLS with the system's root certificates; enable this to set your own CAs, client certificates or verification.").
				Advanced(),
			service.NewStringField(rcFieldPrefix).
				Description("A string put in front of every key, so that several streams or services can share one Redis database without collisions.").
				Example("duostream:prod:").
				Optional(),
			service.NewDurationField(rcFieldDefaultTTL).
				Description("The time to live of values written without an explicit TTL. When absent, values never expire, which is what a checkpoint needs.").
				Example("24h").
				Optional().
				Advanced(),
			service.NewBackOffField(rcFieldRetries, false, &backoff.ExponentialBackOff{
				InitialInterval: 500 * time.Millisecond,
				MaxInterval:     time.Second,
				MaxElapsedTime:  5 * time.Second,
			}).Advanced(),
		).
		Example(
			"Shared checkpoint for the Duo log input",
			"Keep the `duo_admin_logs` cursor in Redis, so the stream can move between machines without losing its place.",
			`
cache_resources:
  - label: duo_checkpoints
    redis:
      url: redis://:${REDIS_PASSWORD}@redis.internal:6379/0
      prefix: "duostream:"

input:
  duo_admin_logs:
    # Credentials and the other input fields are omitted here.
    checkpoint_cache: duo_checkpoints
`)
}

// quietRedisLog stands in for go-redis' own logger, which prints to stderr
// past Benthos' logger (a line per failed dial while Redis is down). What
// it would say reaches the user as the errors of the operations that met
// it, through the Benthos logger of the component that asked.
type quietRedisLog struct{}

func (quietRedisLog) Printf(context.Context, string, ...any) {}

func init() {
	redis.SetLogger(quietRedisLog{})
	service.MustRegisterCache("redis", redisCacheSpec(), func(conf *service.ParsedConfig, mgr *service.Resources) (service.Cache, error) {
		c, err := newRedisCacheFromParsed(conf, mgr.Logger())
		if err != nil {
			return nil, err
		}
		shareRedis(mgr, c)
		return c, nil
	})
}

// redisCache is a service.Cache kept in Redis. It is safe for concurrent
// use.
type redisCache struct {
	client     redis.UniversalClient
	prefix     string
	defaultTTL time.Duration
	retries    backoff.ExponentialBackOff
	secrets    []string // passwords in the url field, only used to scrub errors
}

func newRedisCacheFromParsed(conf *service.ParsedConfig, log *service.Logger) (*redisCache, error) {
	rawURL, err := conf.FieldString(rcFieldURL)
	if err != nil {
		return nil, err
	}
	kind, err := conf.FieldString(rcFieldKind)
	if err != nil {
		return nil, err
	}
	master, err := conf.FieldString(rcFieldMaster)
	if err != nil {
		return nil, err
	}
	clientName, err := conf.FieldString(rcFieldClientName)
	if err != nil {
		return nil, err
	}
	tlsConf, tlsEnabled, err := conf.FieldTLSToggled(rcFieldTLS)
	if err != nil {
		return nil, err
	}
	if !tlsEnabled {
		tlsConf = nil
	}
	c := &redisCache{}
	if conf.Contains(rcFieldPrefix) {
		if c.prefix, err = conf.FieldString(rcFieldPrefix); err != nil {
			return nil, err
		}
	}
	if conf.Contains(rcFieldDefaultTTL) {
		if c.defaultTTL, err = conf.FieldDuration(rcFieldDefaultTTL); err != nil {
			return nil, err
		}
		if c.defaultTTL < 0 {
			return nil, fmt.Errorf("field %s: must not be negative, got %s", rcFieldDefaultTTL, c.defaultTTL)
		}
	}
	retries, err := conf.FieldBackOff(rcFieldRetries)
	if err != nil {
		return nil, err
	}
	c.retries = *retries

	parsed, err := parseRedisURL(rawURL, kind)
	c.secrets = parsed.secrets
	if err != nil {
		return nil, c.scrub(fmt.Errorf("field %s (%s): %w", rcFieldURL, parsed.redacted, err))
	}
	if c.client, err = parsed.client(master, clientName, tlsConf); err != nil {
		return nil, c.scrub(fmt.Errorf("field %s (%s): %w", rcFieldURL, parsed.redacted, err))
	}
	log.Debugf("Redis cache uses %s (%s)", parsed.redacted, kind)
	return c, nil
}

// Query parameters of the url field that go-redis does not know: with kind
// failover they authenticate to the sentinels, as the URL's userinfo
// authenticates to the master.
const (
	rcParamSentinelUsername = "sentinel_username"
	rcParamSentinelPassword = "sentinel_password"
)

// redisURL is what the url field says for one kind: exactly one of simple,
// cluster and failover is set.
type redisURL struct {
	simple   *redis.Options
	cluster  *redis.ClusterOptions
	failover *redis.FailoverOptions

	redacted string   // the URL with every password replaced by xxxxx
	secrets  []string // the passwords, to scrub from errors
}

// parseRedisURL reads the url field for kind. It takes go-redis' URL forms
// (further nodes or sentinels as addr parameters) and Redpanda Connect's
// (a comma-separated list of URLs, tcp:// for redis://, and with kind
// failover the userinfo authenticating to the master). The first entry of a
// list carries the options; each further entry only adds its host. redacted
// and secrets are set even when it fails.
func parseRedisURL(raw, kind string) (redisURL, error) {
	var r redisURL
	var entries []*url.URL
	var redacted []string
	for i, s := range strings.Split(raw, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil {
			// url.Parse errors quote the whole URL, password included.
			r.redacted = strings.Join(append(redacted, "…"), ",")
			return r, fmt.Errorf("entry %d is not a valid URL; expected redis://[user:password@]host[:port][/db]", i+1)
		}
		if u.Scheme == "tcp" {
			u.Scheme = "redis"
		}
		if pw, ok := u.User.Password(); ok && pw != "" {
			r.secrets = append(r.secrets, pw)
		}
		q := u.Query()
		for _, name := range []string{rcParamSentinelPassword, "password"} {
			if pw := q.Get(name); pw != "" {
				r.secrets = append(r.secrets, pw)
				q.Set(name, "xxxxx")
			}
		}
		shown := *u
		shown.RawQuery = q.Encode()
		redacted = append(redacted, shown.Redacted())
		entries = append(entries, u)
	}
	r.redacted = strings.Join(redacted, ",")
	// Longest first, so that no password is left half replaced.
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })

	first := entries[0]
	if len(entries) > 1 && kind == rcKindSimple {
		return r, fmt.Errorf("lists %d servers, but kind %s uses one; set kind %s or %s (Redpanda Connect would use the first one only)", len(entries), rcKindSimple, rcKindCluster, rcKindFailover)
	}
	q := first.Query()
	for i, u := range entries[1:] {
		switch {
		case u.Hostname() == "":
			return r, fmt.Errorf("entry %d has no host", i+2)
		case u.Scheme != first.Scheme:
			return r, fmt.Errorf("entry %d has scheme %s, the first entry %s; use one scheme for all", i+2, u.Scheme, first.Scheme)
		case u.RawQuery != "":
			return r, fmt.Errorf("entry %d has options; put them on the first entry only", i+2)
		case u.User != nil && u.User.String() != first.User.String():
			return r, fmt.Errorf("entry %d has other credentials than the first entry; give them on the first entry only, or the same on every entry", i+2)
		case u.Path != "" && u.Path != first.Path:
			return r, fmt.Errorf("entry %d has database %q, the first entry %q; give it on the first entry only, or the same on every entry", i+2, strings.Trim(u.Path, "/"), strings.Trim(first.Path, "/"))
		}
		port := u.Port()
		if port == "" {
			port = "6379"
		}
		q.Add("addr", net.JoinHostPort(u.Hostname(), port))
	}

	var err error
	switch kind {
	case rcKindSimple:
		first.RawQuery = q.Encode()
		r.simple, err = redis.ParseURL(first.String())
	case rcKindCluster:
		first.RawQuery = q.Encode()
		r.cluster, err = redis.ParseClusterURL(first.String())
	case rcKindFailover:
		if q.Has("username") || q.Has("password") {
			return r, fmt.Errorf("with kind %s, give the master's credentials as user:password@ in the URL, as Redpanda Connect does, and the sentinels' as %s and %s parameters", rcKindFailover, rcParamSentinelUsername, rcParamSentinelPassword)
		}
		sentinelUser, sentinelPassword := q.Get(rcParamSentinelUsername), q.Get(rcParamSentinelPassword)
		q.Del(rcParamSentinelUsername)
		q.Del(rcParamSentinelPassword)
		first.RawQuery = q.Encode()
		if r.failover, err = redis.ParseFailoverURL(first.String()); err == nil {
			// go-redis takes the userinfo for the sentinels' credentials.
			r.failover.Username, r.failover.Password = r.failover.SentinelUsername, r.failover.SentinelPassword
			r.failover.SentinelUsername, r.failover.SentinelPassword = sentinelUser, sentinelPassword
		}
	default:
		err = fmt.Errorf("unknown kind %q", kind)
	}
	return r, err
}

// client builds the go-redis client. master, when set, names the failover
// master set; a non-nil tlsConf replaces the TLS settings that a rediss://
// URL implies.
func (r redisURL) client(master, clientName string, tlsConf *tls.Config) (redis.UniversalClient, error) {
	switch {
	case r.simple != nil:
		r.simple.ClientName = clientName
		if tlsConf != nil {
			r.simple.TLSConfig = tlsConf
		}
		return redis.NewClient(r.simple), nil
	case r.cluster != nil:
		r.cluster.ClientName = clientName
		if tlsConf != nil {
			r.cluster.TLSConfig = tlsConf
		}
		return redis.NewClusterClient(r.cluster), nil
	case r.failover != nil:
		if master != "" {
			r.failover.MasterName = master
		}
		if r.failover.MasterName == "" {
			return nil, fmt.Errorf("kind %s needs the field %s (or a master_name URL parameter)", rcKindFailover, rcFieldMaster)
		}
		r.failover.ClientName = clientName
		if tlsConf != nil {
			r.failover.TLSConfig = tlsConf
		}
		return redis.NewFailoverClient(r.failover), nil
	}
	return nil, errors.New("no options parsed")
}

// scrub removes the URL's passwords from err's text. Errors from go-redis do
// not quote them, this is the guarantee that none ever does.
func (c *redisCache) scrub(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, pw := range c.secrets {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
	}
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// ttl returns the expiry for a write: the given TTL, or the default, where
// zero means none.
func (c *redisCache) ttl(ttl *time.Duration) time.Duration {
	if ttl != nil {
		return max(*ttl, 0)
	}
	return c.defaultTTL
}

// retryable reports whether err is a failure of the connection, or a
// reply saying the deployment is between states (a failover, a restart, a
// resharding), rather than an answer: any other reply error from Redis, a
// missing key or a cancelled context would end the same way again.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, redis.Nil) || errors.Is(err, redis.ErrClosed) || errors.Is(err, service.ErrKeyAlreadyExists) {
		return false
	}
	if redis.IsReadOnlyError(err) || redis.IsLoadingError(err) || redis.IsMasterDownError(err) || redis.IsClusterDownError(err) || redis.IsTryAgainError(err) {
		return true
	}
	var reply redis.Error
	return !errors.As(err, &reply)
}

// do runs fn, retrying connection failures with the retries back off.
func (c *redisCache) do(ctx context.Context, fn func() error) error {
	b := c.retries
	b.Reset()
	for {
		err := fn()
		if err == nil || !retryable(ctx, err) {
			return err
		}
		wait := b.NextBackOff()
		if wait == backoff.Stop {
			return err
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return err
		}
	}
}

// Get returns the value of key, or service.ErrKeyNotFound.
func (c *redisCache) Get(ctx context.Context, key string) ([]byte, error) {
	var value []byte
	err := c.do(ctx, func() error {
		var err error
		value, err = c.client.Get(ctx, c.prefix+key).Bytes()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, service.ErrKeyNotFound
	}
	if err != nil {
		return nil, c.scrub(fmt.Errorf("redis cache: get %q: %w", key, err))
	}
	return value, nil
}

// Set writes key.
func (c *redisCache) Set(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	err := c.do(ctx, func() error {
		return c.client.Set(ctx, c.prefix+key, value, c.ttl(ttl)).Err()
	})
	if err != nil {
		return c.scrub(fmt.Errorf("redis cache: set %q: %w", key, err))
	}
	return nil
}

// SetMulti writes all items in one pipelined round trip.
func (c *redisCache) SetMulti(ctx context.Context, items ...service.CacheItem) error {
	err := c.do(ctx, func() error {
		_, err := c.client.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, it := range items {
				p.Set(ctx, c.prefix+it.Key, it.Value, c.ttl(it.TTL))
			}
			return nil
		})
		return err
	})
	if err != nil {
		return c.scrub(fmt.Errorf("redis cache: set %d items: %w", len(items), err))
	}
	return nil
}

// Add writes key only when it is absent, otherwise it returns
// service.ErrKeyAlreadyExists.
func (c *redisCache) Add(ctx context.Context, key string, value []byte, ttl *time.Duration) error {
	err := c.do(ctx, func() error {
		ok, err := c.client.SetNX(ctx, c.prefix+key, value, c.ttl(ttl)).Result()
		if err == nil && !ok {
			return service.ErrKeyAlreadyExists
		}
		return err
	})
	if err != nil && !errors.Is(err, service.ErrKeyAlreadyExists) {
		return c.scrub(fmt.Errorf("redis cache: add %q: %w", key, err))
	}
	return err
}

// Delete removes key. Deleting an absent key is not an error.
func (c *redisCache) Delete(ctx context.Context, key string) error {
	err := c.do(ctx, func() error {
		return c.client.Del(ctx, c.prefix+key).Err()
	})
	if err != nil {
		return c.scrub(fmt.Errorf("redis cache: delete %q: %w", key, err))
	}
	return nil
}

// Close closes the connections to Redis.
func (c *redisCache) Close(context.Context) error {
	if err := c.client.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		return c.scrub(fmt.Errorf("redis cache: close: %w", err))
	}
	return nil
}
