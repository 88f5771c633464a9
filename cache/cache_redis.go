// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package cache

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
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

The fields match Redpanda Connect's `+"`redis`"+` cache, so a `+"`redis`"+` block moves between the two unchanged. A password in `+"`url`"+` is never logged nor shown in errors: the URL is shown with its password replaced by `+"`xxxxx`"+`, and `+"`echo`"+` hides the whole field.

Operations that fail on the connection (not on a reply from Redis) are retried as set in `+"`retries`"+`.`).
		Fields(
			service.NewStringField(rcFieldURL).
				Description("The URL of the Redis server, parsed by go-redis: `redis://[user:password@]host[:port][/db][?option=value...]`, or `rediss://` for TLS. With `kind: cluster` or `kind: failover`, further nodes or sentinels are given as `addr` query parameters. Prefer putting the password in an environment variable, as in the examples.").
				Examples("redis://localhost:6379", "rediss://default:${REDIS_PASSWORD}@redis.example.com:6380/0", "redis://:${REDIS_PASSWORD}@node1:6379?addr=node2:6379&addr=node3:6379").
				Secret(),
			service.NewStringAnnotatedEnumField(rcFieldKind, map[string]string{
				rcKindSimple:   "A single Redis server.",
				rcKindCluster:  "A Redis Cluster; keys are spread over its shards.",
				rcKindFailover: "A master found through Redis Sentinel; `url` names the sentinels and `master` the master set.",
			}).
				Description("The kind of Redis deployment.").
				Default(rcKindSimple).
				Advanced(),
			service.NewStringField(rcFieldMaster).
				Description("The name of the master set when `kind` is `failover`.").
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

func init() {
	service.MustRegisterCache("redis", redisCacheSpec(), func(conf *service.ParsedConfig, mgr *service.Resources) (service.Cache, error) {
		return newRedisCacheFromParsed(conf, mgr.Logger())
	})
}

// redisCache is a service.Cache kept in Redis. It is safe for concurrent
// use.
type redisCache struct {
	client     redis.UniversalClient
	prefix     string
	defaultTTL time.Duration
	retries    backoff.ExponentialBackOff
	password   string // only used to scrub errors
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

	u, err := url.Parse(rawURL)
	if err != nil {
		// url.Parse errors quote the whole URL, password included.
		return nil, fmt.Errorf("field %s: not a valid URL; expected redis://[user:password@]host[:port][/db]", rcFieldURL)
	}
	c.password, _ = u.User.Password()
	if c.client, err = newRedisClient(rawURL, kind, master, clientName, tlsConf); err != nil {
		return nil, c.scrub(fmt.Errorf("field %s (%s): %w", rcFieldURL, u.Redacted(), err))
	}
	log.Debugf("Redis cache uses %s (%s)", u.Redacted(), kind)
	return c, nil
}

// newRedisClient builds the go-redis client for kind from rawURL. A non-nil
// tlsConf replaces the TLS settings that a rediss:// URL implies.
func newRedisClient(rawURL, kind, master, clientName string, tlsConf *tls.Config) (redis.UniversalClient, error) {
	switch kind {
	case rcKindSimple:
		opts, err := redis.ParseURL(rawURL)
		if err != nil {
			return nil, err
		}
		opts.ClientName = clientName
		if tlsConf != nil {
			opts.TLSConfig = tlsConf
		}
		return redis.NewClient(opts), nil
	case rcKindCluster:
		opts, err := redis.ParseClusterURL(rawURL)
		if err != nil {
			return nil, err
		}
		opts.ClientName = clientName
		if tlsConf != nil {
			opts.TLSConfig = tlsConf
		}
		return redis.NewClusterClient(opts), nil
	case rcKindFailover:
		opts, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, err
		}
		if master != "" {
			opts.MasterName = master
		}
		if opts.MasterName == "" {
			return nil, fmt.Errorf("kind %s needs the field %s (or a master_name URL parameter)", rcKindFailover, rcFieldMaster)
		}
		opts.ClientName = clientName
		if tlsConf != nil {
			opts.TLSConfig = tlsConf
		}
		return redis.NewFailoverClient(opts), nil
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

// scrub removes the URL's password from err's text. Errors from go-redis do
// not quote it, this is the guarantee that none ever does.
func (c *redisCache) scrub(err error) error {
	if err == nil || c.password == "" || !strings.Contains(err.Error(), c.password) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), c.password, "xxxxx"))
}

// ttl returns the expiry for a write: the given TTL, or the default, where
// zero means none.
func (c *redisCache) ttl(ttl *time.Duration) time.Duration {
	if ttl != nil {
		return max(*ttl, 0)
	}
	return c.defaultTTL
}

// retryable reports whether err is a failure of the connection rather than
// an answer: a reply error from Redis, a missing key or a cancelled context
// would end the same way again.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, redis.Nil) || errors.Is(err, redis.ErrClosed) || errors.Is(err, service.ErrKeyAlreadyExists) {
		return false
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
