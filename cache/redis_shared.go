// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package cache

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
	"github.com/redpanda-data/benthos/v4/public/service"
)

// SharedRedis is the connection of a redis cache resource, for components
// that need more of Redis than Benthos' Cache interface offers: the leases
// of the duo_admin_logs input check and write in one Lua script.
type SharedRedis struct {
	// Client is the cache's own client; do not close it.
	Client redis.UniversalClient
	// Prefix is the cache's prefix field, which every key of the cache
	// starts with.
	Prefix string
	// Cluster is set for kind cluster, where one script cannot touch keys
	// of different hash slots.
	Cluster bool
}

// sharedRedisKey is the key under which a redis cache publishes its
// SharedRedis in the resources of its Benthos instance.
type sharedRedisKey struct{ label string }

// shareRedis publishes c's connection under the label of the cache resource
// being built with res.
func shareRedis(res *service.Resources, c *redisCache) {
	_, cluster := c.client.(*redis.ClusterClient)
	res.SetGeneric(sharedRedisKey{res.Label()}, &SharedRedis{Client: c.client, Prefix: c.prefix, Cluster: cluster})
}

// LookupRedis returns the connection of the redis cache resource labelled
// label, building the resource if Benthos has not yet. It fails when there
// is no such resource or it is not a redis cache.
func LookupRedis(ctx context.Context, res *service.Resources, label string) (*SharedRedis, error) {
	if !res.HasCache(label) {
		return nil, fmt.Errorf("no cache resource is labelled %q", label)
	}
	if err := res.AccessCache(ctx, label, func(service.Cache) {}); err != nil {
		return nil, fmt.Errorf("access cache %q: %w", label, err)
	}
	v, ok := res.GetGeneric(sharedRedisKey{label})
	if !ok {
		return nil, fmt.Errorf("cache %q is not a redis cache", label)
	}
	return v.(*SharedRedis), nil
}
