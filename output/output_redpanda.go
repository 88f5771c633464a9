// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package output

import (
	"fmt"

	"github.com/redpanda-data/benthos/v4/public/service"
)

const (
	roName                  = "redpanda"
	roFieldInjectTracingMap = "inject_tracing_map" // the name Benthos gives NewInjectTracingSpanMappingField
)

func redpandaOutputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Summary("Writes batches of messages to Redpanda or Kafka with the same writer as `kafka_franz`, under the name and defaults of Redpanda Connect's `redpanda` output.").
		Description(kafkaOutputDescription(roName)+`
### Differences from kafka_franz

This output is `+"`kafka_franz`"+` under the name Redpanda Connect now recommends, so that a Connect
`+"`redpanda`"+` block moves over unchanged: it has the same fields and guarantees, except that
`+"`max_in_flight`"+` defaults to 256, as in Connect, that it has `+"`inject_tracing_map`"+`, and that it
has no `+"`rack_id`"+`.

Redpanda Connect lets a `+"`redpanda`"+` output leave out `+"`seed_brokers`"+` and connect through a
global `+"`redpanda`"+` block shared by every Redpanda component of the config. duostream has no
such block (it is part of Connect's enterprise-licensed code), so `+"`seed_brokers`"+` is required
here and a config without it fails lint and start-up with a message naming the field.
`).
		Fields(kafkaOutputFields(256)...).
		Field(service.NewInjectTracingSpanMappingField()).
		LintRule(kafkaOutputLintRule).
		Example("Duo logs to Redpanda Cloud",
			"Writes each normalised Duo event to a topic per log type of a Redpanda Cloud cluster, which takes SCRAM over TLS.",
			`
output:
  redpanda:
    seed_brokers: [ "seed-0123abcd.abc123.fmc.prd.cloud.redpanda.com:9092" ]
    topic: 'duo-${! meta("duo_log_type") }'
    key: '${! json("txid").or("") }'
    tls:
      enabled: true
    sasl:
      - mechanism: SCRAM-SHA-256
        username: duostream
        password: "${REDPANDA_PASSWORD}"
    metadata:
      include_prefixes: [ "duo_" ]
`)
}

func init() {
	service.MustRegisterBatchOutput(roName, redpandaOutputSpec(), newRedpandaOutput)
}

// newRedpandaOutput builds the kafka_franz writer from a redpanda block and
// wraps it with the block's inject_tracing_map.
func newRedpandaOutput(conf *service.ParsedConfig, res *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
	out, policy, maxInFlight, err := batchOutputConstructor(newKafkaFranzWriter)(conf, res)
	if err != nil {
		return nil, service.BatchPolicy{}, 0, err
	}
	if out, err = conf.WrapBatchOutputExtractTracingSpanMapping(roName, out); err != nil {
		return nil, service.BatchPolicy{}, 0, fmt.Errorf("field %s: %w", roFieldInjectTracingMap, err)
	}
	return out, policy, maxInFlight, nil
}
