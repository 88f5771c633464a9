// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package output

import (
	"fmt"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRedpandaRoundTrip writes through the redpanda output, as a Connect
// redpanda block with inject_tracing_map spells it, and reads the records,
// keys and headers back from the broker.
func TestRedpandaRoundTrip(t *testing.T) {
	c := newKfake(t, kfake.SeedTopics(2, "duo-authentication"))
	send := outputStream(t, fmt.Sprintf(`
redpanda:
  seed_brokers: [ %q ]
  topic: 'duo-${! meta("duo_log_type") }'
  key: '${! json("txid") }'
  metadata:
    include_prefixes: [ "duo_" ]
  inject_tracing_map: 'meta = @.merge(this)'
`, c.ListenAddrs()[0]))
	batch := duoBatch("rp", 5)
	for _, m := range batch {
		m.MetaSetMut("duo_log_type", "authentication")
	}
	require.NoError(t, send(t.Context(), batch))

	got := consumeTopic(t, t.Context(), "duo-authentication", kgo.SeedBrokers(c.ListenAddrs()...))
	require.Len(t, got, 5)
	keys := map[string]bool{}
	for _, r := range got {
		keys[r.key] = true
		assert.Equal(t, "authentication", r.headers["duo_log_type"], "record %s", r.key)
	}
	assert.Len(t, keys, 5, "every record keyed by its own txid")
}

// TestRedpandaDefaults checks Connect's defaults where the redpanda output
// differs from kafka_franz.
func TestRedpandaDefaults(t *testing.T) {
	conf, err := redpandaOutputSpec().ParseYAML("seed_brokers: [ a:1 ]\ntopic: duo\n", nil)
	require.NoError(t, err)
	maxInFlight, err := conf.FieldMaxInFlight()
	require.NoError(t, err)
	assert.Equal(t, 256, maxInFlight, "Connect's redpanda output default")
	assert.False(t, conf.Contains(kfoFieldRackID))
	_, err = newKafkaFranzWriter(conf, service.MockResources())
	require.NoError(t, err, "the shared writer builds without rack_id")
	assert.Equal(t, secretFields(t, "kafka_franz"), secretFields(t, roName), "the same secrets as kafka_franz")
}

func TestRedpandaConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		name, yaml, wantErr string
	}{
		{"no seed_brokers, as with Connect's global redpanda block", "topic: duo", "seed_brokers"},
		{"rack_id, which Connect's redpanda output lacks", "seed_brokers: [ a:1 ]\ntopic: duo\nrack_id: use1-az1", "field rack_id not recognised"},
		{"manual without partition", "seed_brokers: [ a:1 ]\ntopic: duo\npartitioner: manual", "partition"},
		{"acks leader with idempotence", "seed_brokers: [ a:1 ]\ntopic: duo\nacks: leader", "acks"},
		{"bad tracing mapping", "seed_brokers: [ a:1 ]\ntopic: duo\ninject_tracing_map: 'meta = ('", "expected"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := service.NewStreamBuilder().AddOutputYAML("redpanda:\n  " + strings.ReplaceAll(tt.yaml, "\n", "\n  ") + "\n")
			if err == nil {
				var conf *service.ParsedConfig
				if conf, err = redpandaOutputSpec().ParseYAML(tt.yaml, nil); err == nil {
					_, _, _, err = newRedpandaOutput(conf, service.MockResources())
				}
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}
