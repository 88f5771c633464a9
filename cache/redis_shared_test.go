// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package cache

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLookupRedis checks that a component finds the connection of a redis
// cache resource by its label, and is told clearly when the label names
// another kind of cache or nothing.
func TestLookupRedis(t *testing.T) {
	mr := miniredis.RunT(t)
	env := service.GlobalEnvironment().Clone()
	type found struct {
		shared *SharedRedis
		errs   map[string]error
	}
	got := make(chan found, 1)
	require.NoError(t, env.RegisterProcessor("lookup_redis_test", service.NewConfigSpec(), func(_ *service.ParsedConfig, res *service.Resources) (service.Processor, error) {
		f := found{errs: map[string]error{}}
		f.shared, f.errs["shared"] = LookupRedis(context.Background(), res, "shared")
		if f.errs["shared"] == nil {
			f.errs["set"] = f.shared.Client.Set(context.Background(), "duo:k", "v", 0).Err()
		}
		for _, label := range []string{"memory", "missing"} {
			_, f.errs[label] = LookupRedis(context.Background(), res, label)
		}
		got <- f
		return passThrough{}, nil
	}))
	b := env.NewStreamBuilder()
	require.NoError(t, b.SetYAML(fmt.Sprintf(`
logger: { level: none }
cache_resources:
  - label: shared
    redis: { url: "redis://%s", prefix: "duo:" }
  - label: memory
    memory: {}
input:
  generate: { count: 1, interval: "", mapping: 'root = {}' }
pipeline:
  processors: [ { lookup_redis_test: {} } ]
output:
  drop: {}
`, mr.Addr())))
	s, err := b.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, s.Run(ctx))

	f := <-got
	require.NoError(t, f.errs["shared"])
	assert.Equal(t, "duo:", f.shared.Prefix)
	assert.False(t, f.shared.Cluster)
	require.NoError(t, f.errs["set"], "the shared client reaches the cache's server")
	v, err := mr.Get("duo:k")
	require.NoError(t, err)
	assert.Equal(t, "v", v)
	assert.EqualError(t, f.errs["memory"], `cache "memory" is not a redis cache`)
	assert.EqualError(t, f.errs["missing"], `no cache resource is labelled "missing"`)
}

// passThrough is a processor that changes nothing.
type passThrough struct{}

func (passThrough) Process(_ context.Context, m *service.Message) (service.MessageBatch, error) {
	return service.MessageBatch{m}, nil
}

func (passThrough) Close(context.Context) error { return nil }
