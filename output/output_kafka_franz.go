// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package output

import (
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/dustin/go-humanize"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	awssasl "github.com/twmb/franz-go/pkg/sasl/aws"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

const (
	kfoFieldSeedBrokers     = "seed_brokers"
	kfoFieldTopic           = "topic"
	kfoFieldKey             = "key"
	kfoFieldPartitioner     = "partitioner"
	kfoFieldPartition       = "partition"
	kfoFieldClientID        = "client_id"
	kfoFieldIdempotentWrite = "idempotent_write"
	kfoFieldCompression     = "compression"
	kfoFieldTLS             = "tls"
	kfoFieldSASL            = "sasl"
	kfoFieldSASLMechanism   = "mechanism"
	kfoFieldSASLUsername    = "username"
	kfoFieldSASLPassword    = "password"
	kfoFieldSASLToken       = "token"
	kfoFieldSASLExtensions  = "extensions"
	kfoFieldSASLAWS         = "aws"
	kfoFieldMetadata        = "metadata"
	kfoFieldMaxInFlight     = "max_in_flight"
	kfoFieldTimeout         = "timeout"
	kfoFieldMaxMessageBytes = "max_message_bytes"
	kfoFieldBatching        = "batching"

	kfoFieldTimestampMs            = "timestamp_ms"
	kfoFieldTimestamp              = "timestamp"
	kfoFieldRackID                 = "rack_id"
	kfoFieldTCP                    = "tcp"
	kfoFieldMetadataMaxAge         = "metadata_max_age"
	kfoFieldRequestTimeoutOverhead = "request_timeout_overhead"
	kfoFieldConnIdleTimeout        = "conn_idle_timeout"
	kfoFieldAllowAutoTopicCreation = "allow_auto_topic_creation"
	kfoFieldAcks                   = "acks"
	kfoFieldBrokerWriteMaxBytes    = "broker_write_max_bytes"
	kfoFieldMaxBufferedRecords     = "max_buffered_records"
	kfoFieldMaxBufferedBytes       = "max_buffered_bytes"
	kfoFieldMaxInFlightRequests    = "max_in_flight_requests"
	kfoFieldRecordRetries          = "record_retries"
	kfoFieldRecordDeliveryTimeout  = "record_delivery_timeout"
)

func kafkaFranzOutputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Summary("Writes batches of messages to Kafka with the franz-go client and acknowledges a batch only once the brokers acknowledged every record in it.").
		Description(kafkaOutputDescription("kafka_franz")).
		Fields(kafkaOutputFields(10)...).
		Field(service.NewStringField(kfoFieldRackID).
			Description("The rack (for cloud brokers, the availability zone ID such as `use1-az1`) this output runs in. When set, records that the partitioner may place freely (records without a key under `murmur2_hash`, and every record under `round_robin` or `least_backup`) go only to partitions whose leader is in the same rack, when there is one, to save cross-zone traffic (KIP-1123); keyed and `manual` records are unaffected. This skews the spread over partitions when producers are not spread over racks like the leaders. Empty turns it off.").
			Default("").
			Advanced()).
		LintRule(kafkaOutputLintRule).
		Example("Duo logs to one topic per log type",
			"Writes each normalised Duo event to a topic named after its log type, keyed by the event's transaction ID, over TLS with SCRAM authentication.",
			`
output:
  kafka_franz:
    seed_brokers: [ "kafka-1.example.com:9093,kafka-2.example.com:9093" ]
    topic: 'duo-${! meta("duo_log_type") }'
    key: '${! json("txid").or("") }'
    compression: zstd
    tls:
      enabled: true
    sasl:
      - mechanism: SCRAM-SHA-512
        username: duostream
        password: "${KAFKA_PASSWORD}"
    metadata:
      include_prefixes: [ "duo_" ]
    batching:
      count: 500
      period: 1s
`)
}

// kafkaOutputDescription is the description of the kafka_franz and redpanda
// outputs, which share their writer; name is the output's.
func kafkaOutputDescription(name string) string {
	return `
The field names and shapes follow the ` + "`" + name + "`" + ` output of Redpanda Connect, so an
existing ` + "`" + name + "`" + ` block carries over as long as it uses the fields documented here.

### Delivery guarantees

Each batch is handed to the client as one produce call per record. The output waits until
the brokers answered for every record: only then is the batch acknowledged upstream. When
some records fail, the batch is nacked with a per-message error, so inputs that replay nacks
resend only the failed messages.

The idempotent producer is on by default (` + "`idempotent_write: true`" + `). The client retries
produce requests on its own while a broker is unreachable or answers with a retriable error,
and the broker discards the copies it has already written, so a broker outage neither loses
nor duplicates records. A record that was sent but not yet answered is never abandoned, even
when ` + "`timeout`" + ` expires: the client waits for its outcome, because failing it would let a
replay write it twice. Turning ` + "`idempotent_write`" + ` off (needed when the principal lacks
the ` + "`IDEMPOTENT_WRITE`" + ` cluster permission) weakens this to at-least-once.

### Headers

Metadata keys selected by the ` + "`metadata`" + ` filter are written as record headers. With no
filter, no headers are written.

### Topics

With ` + "`allow_auto_topic_creation: true`" + ` (the default, as in Redpanda Connect) a record for a
topic that does not exist asks the brokers to create it, which they do only when the cluster
allows it (` + "`auto.create.topics.enable`" + `), with the cluster's default partition count and
retention. Set it to ` + "`false`" + ` to have records for a missing topic fail (the batch is nacked
and retried) rather than land in a topic nobody configured.

### Authentication

` + "`sasl`" + ` entries are tried in order. ` + "`AWS_MSK_IAM`" + ` signs each authentication with the
credentials of the entry's ` + "`aws`" + ` block, fetched again (and refreshed when they expire) for
every new connection. The signing region is read from the broker's host name (such as
` + "`b-1.cluster.abc123.c2.kafka.eu-west-1.amazonaws.com`" + `); for a host name without one
(a private DNS alias, an IP address) it is taken from the ` + "`AWS_REGION`" + ` or
` + "`AWS_DEFAULT_REGION`" + ` environment variable. ` + "`aws.region`" + ` only steers how the
credentials are resolved. ` + "`OAUTHBEARER`" + ` sends the static ` + "`token`" + ` with its
` + "`extensions`" + `; it is not refreshed, so a token that expires must be replaced by a restart.
`
}

// kafkaOutputFields returns the fields that the kafka_franz and redpanda
// outputs share, as Redpanda Connect's outputs of those names do;
// maxInFlight is the default of max_in_flight.
func kafkaOutputFields(maxInFlight int) []*service.ConfigField {
	return []*service.ConfigField{
		service.NewStringListField(kfoFieldSeedBrokers).
			Description("Addresses of the brokers to bootstrap from. An entry may hold several addresses separated by commas.").
			Example([]string{"localhost:9092"}).
			Example([]string{"kafka-1:9092", "kafka-2:9092"}).
			Example([]string{"kafka-1:9092,kafka-2:9092"}),
		service.NewInterpolatedStringField(kfoFieldTopic).
			Description("The topic each message is written to.").
			Example("duo-logs").
			Example(`duo-${! meta("duo_log_type") }`),
		service.NewInterpolatedStringField(kfoFieldKey).
			Description("An optional record key. Records without a key are spread over partitions by the partitioner.").
			Example(`${! json("txid") }`).
			Optional(),
		service.NewStringAnnotatedEnumField(kfoFieldPartitioner, map[string]string{
			"murmur2_hash": "Hashes the key with murmur2 (the Java client's algorithm), so a key always lands on the same partition. Records without a key stick to one partition per batch.",
			"round_robin":  "Cycles through all partitions record by record: the most even spread, at the cost of smaller produce batches.",
			"least_backup": "Picks the partition with the fewest buffered records, steering load away from slow brokers.",
			"manual":       "Uses the partition given by the `partition` field for every record.",
		}).
			Description("How records are assigned to partitions. When unset, `murmur2_hash` is used.").
			Optional().
			Advanced(),
		service.NewInterpolatedStringField(kfoFieldPartition).
			Description("The partition number to write each record to. Required by, and only allowed with, `partitioner: manual`.").
			Example(`${! meta("partition") }`).
			Optional().
			Advanced(),
		service.NewStringField(kfoFieldClientID).
			Description("The client ID the brokers see for this connection.").
			Default("duostream").
			Advanced(),
		service.NewBoolField(kfoFieldIdempotentWrite).
			Description("Use the idempotent producer, so retried produce requests are not written twice. Needs the `IDEMPOTENT_WRITE` permission on the cluster; turn it off only when that permission cannot be granted.").
			Default(true).
			Advanced(),
		service.NewStringEnumField(kfoFieldCompression, "lz4", "snappy", "gzip", "none", "zstd").
			Description("Compression codec for produce batches. When unset, snappy is used if the brokers support it, else none.").
			Optional().
			Advanced(),
		service.NewTLSToggledField(kfoFieldTLS),
		service.NewObjectListField(kfoFieldSASL,
			service.NewStringAnnotatedEnumField(kfoFieldSASLMechanism, map[string]string{
				"none":          "No SASL authentication.",
				"PLAIN":         "Username and password sent in clear: only use it over TLS.",
				"SCRAM-SHA-256": "Salted challenge-response with SHA-256.",
				"SCRAM-SHA-512": "Salted challenge-response with SHA-512.",
				"OAUTHBEARER":   "An OAuth 2 bearer token (`token`) with optional `extensions` (RFC 7628).",
				"AWS_MSK_IAM":   "Amazon MSK IAM access control: an AWS SigV4 signature made with the credentials of the `aws` block.",
			}).
				Description("The SASL mechanism."),
			service.NewStringField(kfoFieldSASLUsername).
				Description("The username, for `PLAIN` and `SCRAM-*`.").
				Default(""),
			service.NewStringField(kfoFieldSASLPassword).
				Description("The password, for `PLAIN` and `SCRAM-*`.").
				Default("").
				Secret(),
			service.NewStringField(kfoFieldSASLToken).
				Description("The bearer token, for `OAUTHBEARER`.").
				Default("").
				Secret(),
			service.NewStringMapField(kfoFieldSASLExtensions).
				Description("Key-value pairs sent with the token, for `OAUTHBEARER`; some identity setups need them, such as Confluent Cloud's `logicalCluster` and `identityPoolId`.").
				Example(map[string]any{"logicalCluster": "lkc-abc123", "identityPoolId": "pool-xyz"}).
				Optional(),
			service.NewObjectField(kfoFieldSASLAWS, awsSessionFields("for `AWS_MSK_IAM`")...).
				Description("The AWS session whose credentials sign an `AWS_MSK_IAM` authentication.").
				Optional(),
		).
			Description("SASL mechanisms to authenticate with, tried in order: the first one the broker accepts is used.").
			Example([]any{map[string]any{"mechanism": "SCRAM-SHA-512", "username": "duostream", "password": "${KAFKA_PASSWORD}"}}).
			Optional().
			Advanced(),
		service.NewMetadataFilterField(kfoFieldMetadata).
			Description("Which metadata keys become record headers.").
			Optional(),
		service.NewOutputMaxInFlightField().
			Description("The maximum number of batches being written in parallel.").
			Default(maxInFlight),
		service.NewDurationField(kfoFieldTimeout).
			Description("How long a batch may wait for its records to be sent before the write fails and the batch is retried. Records already sent are always waited for (see the description). Also used as the produce request timeout given to the brokers.").
			Default("10s").
			Advanced(),
		service.NewStringField(kfoFieldMaxMessageBytes).
			Description("The largest record batch the client builds, in bytes; a record bigger than this is rejected. Keep it at or below the topic's `max.message.bytes`. Accepts units such as `1MB` (10^6) or `1MiB` (2^20).").
			Default("1MiB").
			Example("100MB").
			Example("50MiB").
			Advanced(),
		service.NewBatchPolicyField(kfoFieldBatching),
		service.NewInterpolatedStringField(kfoFieldTimestampMs).
			Description("The timestamp of each record, in milliseconds since the Unix epoch. When unset, or when it interpolates to an empty string, the record carries the time it was produced; any other value that is not an integer fails that message.").
			Example(`${! timestamp_unix_milli() }`).
			Example(`${! json("isotimestamp").ts_parse("2006-01-02T15:04:05.999999Z07:00").ts_unix_milli() }`).
			Optional().
			Advanced(),
		service.NewInterpolatedStringField(kfoFieldTimestamp).
			Description("The timestamp of each record, in seconds since the Unix epoch. Kept for Redpanda Connect configs, where it is deprecated: use `timestamp_ms`, and set only one of the two.").
			Optional().
			Deprecated(),
		tcpField("the connections to the brokers"),
		service.NewDurationField(kfoFieldMetadataMaxAge).
			Description("How often the cluster metadata (brokers, partitions, leaders) is refreshed even when nothing went wrong; new partitions are noticed this late at most.").
			Default("1m").
			Advanced(),
		service.NewDurationField(kfoFieldRequestTimeoutOverhead).
			Description("How much longer than the request's own timeout a broker may take to answer before the connection is given up and the request retried on another one.").
			Default("10s").
			Advanced(),
		service.NewDurationField(kfoFieldConnIdleTimeout).
			Description("How long a connection may stay unused before it is closed.").
			Default("20s").
			Advanced(),
		service.NewBoolField(kfoFieldAllowAutoTopicCreation).
			Description("Ask the brokers to create a topic that does not exist when a record is written to it (see Topics above).").
			Default(true).
			Advanced(),
		service.NewStringAnnotatedEnumField(kfoFieldAcks, map[string]string{
			"all":    "A record is acknowledged once every in-sync replica has it. Required by `idempotent_write: true`.",
			"leader": "A record is acknowledged once the partition leader wrote it: it is lost if the leader fails before the replicas copied it.",
			"none":   "Records are not acknowledged at all: the output cannot tell whether they were stored.",
		}).
			Description("How many replicas must have a record before the brokers acknowledge it.").
			Default("all").
			Advanced(),
		service.NewStringField(kfoFieldBrokerWriteMaxBytes).
			Description("The largest request written to a broker, in bytes. It must be at least `max_message_bytes` and at most the brokers' `socket.request.max.bytes` (100 MiB by default); between 1KiB and 1GiB.").
			Default("100MiB").
			Advanced(),
		service.NewIntField(kfoFieldMaxBufferedRecords).
			Description("The most records the client holds in memory while they wait to be written; a write waits when the buffer is full.").
			Default(10000).
			Advanced(),
		service.NewStringField(kfoFieldMaxBufferedBytes).
			Description("The most bytes of records the client holds in memory while they wait to be written; a write waits when the buffer is full. `0` sets no limit beyond `max_buffered_records`.").
			Default("0").
			Example("256MiB").
			Advanced(),
		service.NewIntField(kfoFieldMaxInFlightRequests).
			Description("The most produce requests in flight to one broker. Must be 1 with `idempotent_write: true`.").
			Default(1).
			Advanced(),
		service.NewIntField(kfoFieldRecordRetries).
			Description("How many times a record is tried before it fails; `0` is unlimited. With the idempotent producer the limit applies only where failing the record cannot break the ordering of the partition, and a failure fails the records buffered behind it in the same partition too.").
			Default(0).
			Advanced(),
		service.NewDurationField(kfoFieldRecordDeliveryTimeout).
			Description("How long a record may wait to be delivered, retries included, before it fails; `0s` is no limit. The batch deadline of `timeout` applies as well.").
			Default("0s").
			Advanced(),
	}
}

// kafkaOutputLintRule checks the fields of the kafka_franz and redpanda
// outputs that only make sense together.
const kafkaOutputLintRule = `root = if this.partitioner.or("") == "manual" && this.partition.or("") == "" {
  [ "field partition is required when partitioner is manual" ]
} else if this.partitioner.or("") != "manual" && this.partition.or("") != "" {
  [ "field partition is only allowed when partitioner is manual" ]
} else if this.timestamp.or("") != "" && this.timestamp_ms.or("") != "" {
  [ "field timestamp is deprecated and only allowed without timestamp_ms" ]
} else if this.idempotent_write.or(true) && this.acks.or("all") != "all" {
  [ "field acks must be all when idempotent_write is true" ]
} else if this.idempotent_write.or(true) && this.max_in_flight_requests.or(1) != 1 {
  [ "field max_in_flight_requests must be 1 when idempotent_write is true" ]
}`

func init() {
	service.MustRegisterBatchOutput("kafka_franz", kafkaFranzOutputSpec(), batchOutputConstructor(newKafkaFranzWriter))
}

// kafkaFranzWriter is the kafka_franz output: a service.BatchOutput that
// produces each message of a batch as one Kafka record.
type kafkaFranzWriter struct {
	log *service.Logger

	topic     *service.InterpolatedString
	key       *service.InterpolatedString
	partition *service.InterpolatedString
	headers   *service.MetadataFilter
	timeout   time.Duration
	// timestamp sets the record timestamp when not nil, in units of
	// timestampUnit (called timestampUnitName in errors); timestampField
	// names its field in errors.
	timestamp         *service.InterpolatedString
	timestampUnit     time.Duration
	timestampUnitName string
	timestampField    string
	opts              []kgo.Opt
	// auth describes the SASL setup (mechanisms and usernames, never
	// passwords) for connection errors; empty without SASL.
	auth string

	mu     sync.RWMutex
	client *kgo.Client
}

func newKafkaFranzWriter(conf *service.ParsedConfig, res *service.Resources) (*kafkaFranzWriter, error) {
	w := &kafkaFranzWriter{log: res.Logger()}

	rawBrokers, err := conf.FieldStringList(kfoFieldSeedBrokers)
	if err != nil {
		return nil, err
	}
	var brokers []string
	for _, entry := range rawBrokers {
		for _, b := range strings.Split(entry, ",") {
			if b = strings.TrimSpace(b); b != "" {
				brokers = append(brokers, b)
			}
		}
	}
	if len(brokers) == 0 {
		return nil, fmt.Errorf("field %s: at least one broker address is required", kfoFieldSeedBrokers)
	}

	if w.topic, err = conf.FieldInterpolatedString(kfoFieldTopic); err != nil {
		return nil, err
	}
	if conf.Contains(kfoFieldKey) {
		if w.key, err = conf.FieldInterpolatedString(kfoFieldKey); err != nil {
			return nil, err
		}
	}

	partitionerName := "murmur2_hash"
	if conf.Contains(kfoFieldPartitioner) {
		if partitionerName, err = conf.FieldString(kfoFieldPartitioner); err != nil {
			return nil, err
		}
	}
	var partitioner kgo.Partitioner
	switch partitionerName {
	case "murmur2_hash":
		partitioner = kgo.StickyKeyPartitioner(nil)
	case "round_robin":
		partitioner = kgo.RoundRobinPartitioner()
	case "least_backup":
		partitioner = kgo.LeastBackupPartitioner()
	case "manual":
		partitioner = kgo.ManualPartitioner()
	default:
		return nil, fmt.Errorf("field %s: unknown partitioner %q (want murmur2_hash, round_robin, least_backup or manual)", kfoFieldPartitioner, partitionerName)
	}
	hasPartition := false
	if conf.Contains(kfoFieldPartition) {
		raw, err := conf.FieldString(kfoFieldPartition)
		if err != nil {
			return nil, err
		}
		hasPartition = raw != ""
	}
	switch {
	case partitionerName == "manual" && !hasPartition:
		return nil, fmt.Errorf("field %s: required when %s is manual", kfoFieldPartition, kfoFieldPartitioner)
	case partitionerName != "manual" && hasPartition:
		return nil, fmt.Errorf("field %s: only allowed when %s is manual", kfoFieldPartition, kfoFieldPartitioner)
	case hasPartition:
		if w.partition, err = conf.FieldInterpolatedString(kfoFieldPartition); err != nil {
			return nil, err
		}
	}

	clientID, err := conf.FieldString(kfoFieldClientID)
	if err != nil {
		return nil, err
	}
	idempotent, err := conf.FieldBool(kfoFieldIdempotentWrite)
	if err != nil {
		return nil, err
	}
	if w.timeout, err = conf.FieldDuration(kfoFieldTimeout); err != nil {
		return nil, err
	}
	if w.timeout <= 0 {
		return nil, fmt.Errorf("field %s: must be positive, got %v", kfoFieldTimeout, w.timeout)
	}

	maxBytes, err := kafkaByteSize(conf, kfoFieldMaxMessageBytes, 1, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	for _, ts := range []struct {
		field    string
		unit     time.Duration
		unitName string
	}{{kfoFieldTimestampMs, time.Millisecond, "milliseconds"}, {kfoFieldTimestamp, time.Second, "seconds"}} {
		if !conf.Contains(ts.field) {
			continue
		}
		if w.timestamp != nil {
			return nil, fmt.Errorf("field %s: deprecated and only allowed without %s", kfoFieldTimestamp, kfoFieldTimestampMs)
		}
		if w.timestamp, err = conf.FieldInterpolatedString(ts.field); err != nil {
			return nil, err
		}
		w.timestampUnit, w.timestampUnitName, w.timestampField = ts.unit, ts.unitName, ts.field
	}

	w.opts = []kgo.Opt{
		kgo.SeedBrokers(brokers...),
		kgo.ClientID(clientID),
		kgo.RecordPartitioner(partitioner),
		kgo.ProduceRequestTimeout(w.timeout),
		kgo.ProducerBatchMaxBytes(int32(maxBytes)),
		kgo.WithLogger(kgoLogger{log: w.log}),
	}
	if !idempotent {
		w.opts = append(w.opts, kgo.DisableIdempotentWrite())
	}
	clientOpts, err := kafkaClientOptsFromConfig(conf, idempotent, maxBytes)
	if err != nil {
		return nil, err
	}
	w.opts = append(w.opts, clientOpts...)

	if conf.Contains(kfoFieldCompression) {
		name, err := conf.FieldString(kfoFieldCompression)
		if err != nil {
			return nil, err
		}
		codec, err := kafkaCompressionCodec(name)
		if err != nil {
			return nil, err
		}
		w.opts = append(w.opts, kgo.ProducerBatchCompression(codec))
	}

	tlsConf, tlsEnabled, err := conf.FieldTLSToggled(kfoFieldTLS)
	if err != nil {
		return nil, err
	}
	dialer, err := tcpDialerFromParsed(conf.Namespace(kfoFieldTCP), kfoFieldTCP)
	if err != nil {
		return nil, err
	}
	if !tlsEnabled {
		tlsConf = nil
	}
	w.opts = append(w.opts, kgo.Dialer(kafkaDialFunc(dialer, tlsConf)))

	mechanisms, logins, err := kafkaSASLFromConfig(conf)
	if err != nil {
		return nil, err
	}
	if len(mechanisms) > 0 {
		w.opts = append(w.opts, kgo.SASL(mechanisms...))
		w.auth = " with SASL " + strings.Join(logins, " or ")
	}

	if conf.Contains(kfoFieldMetadata) {
		if w.headers, err = conf.FieldMetadataFilter(kfoFieldMetadata); err != nil {
			return nil, err
		}
	}

	// franz-go checks how the options combine (limits, idempotence) when a
	// client is created; creating one here, without dialing, turns a bad
	// combination into a config error rather than a connect error retried
	// forever.
	probe, err := kgo.NewClient(w.opts...)
	if err != nil {
		return nil, fmt.Errorf("kafka client options: %w", err)
	}
	probe.Close()
	return w, nil
}

// kafkaByteSize parses the byte-size field name (units such as 1MB or
// 1MiB) and checks that it lies within [lo, hi].
func kafkaByteSize(conf *service.ParsedConfig, name string, lo, hi uint64) (uint64, error) {
	raw, err := conf.FieldString(name)
	if err != nil {
		return 0, err
	}
	n, err := humanize.ParseBytes(raw)
	if err != nil {
		return 0, fmt.Errorf("field %s: %q is not a byte size: %w", name, raw, err)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("field %s: %q must be between %d and %d bytes", name, raw, lo, hi)
	}
	return n, nil
}

// kafkaClientOptsFromConfig maps the connection and producer tuning fields
// (metadata and connection timing, topic creation, acks, buffer and retry
// limits, rack) to franz-go options.
func kafkaClientOptsFromConfig(conf *service.ParsedConfig, idempotent bool, maxMessageBytes uint64) ([]kgo.Opt, error) {
	var opts []kgo.Opt
	for _, d := range []struct {
		name string
		opt  func(time.Duration) kgo.Opt
	}{
		{kfoFieldMetadataMaxAge, kgo.MetadataMaxAge},
		{kfoFieldRequestTimeoutOverhead, kgo.RequestTimeoutOverhead},
		{kfoFieldConnIdleTimeout, kgo.ConnIdleTimeout},
	} {
		v, err := conf.FieldDuration(d.name)
		if err != nil {
			return nil, err
		}
		if v <= 0 {
			return nil, fmt.Errorf("field %s: must be positive, got %v", d.name, v)
		}
		opts = append(opts, d.opt(v))
	}

	autoCreate, err := conf.FieldBool(kfoFieldAllowAutoTopicCreation)
	if err != nil {
		return nil, err
	}
	if autoCreate {
		opts = append(opts, kgo.AllowAutoTopicCreation())
	}

	acksName, err := conf.FieldString(kfoFieldAcks)
	if err != nil {
		return nil, err
	}
	var acks kgo.Acks
	switch acksName {
	case "all":
		acks = kgo.AllISRAcks()
	case "leader":
		acks = kgo.LeaderAck()
	case "none":
		acks = kgo.NoAck()
	default:
		return nil, fmt.Errorf("field %s: unknown value %q (want all, leader or none)", kfoFieldAcks, acksName)
	}
	if idempotent && acksName != "all" {
		return nil, fmt.Errorf("field %s: must be all when %s is true, got %s", kfoFieldAcks, kfoFieldIdempotentWrite, acksName)
	}
	opts = append(opts, kgo.RequiredAcks(acks))

	writeMax, err := kafkaByteSize(conf, kfoFieldBrokerWriteMaxBytes, 1<<10, 1<<30)
	if err != nil {
		return nil, err
	}
	if writeMax < maxMessageBytes {
		return nil, fmt.Errorf("field %s: must be at least %s (%d bytes), got %d bytes", kfoFieldBrokerWriteMaxBytes, kfoFieldMaxMessageBytes, maxMessageBytes, writeMax)
	}
	opts = append(opts, kgo.BrokerMaxWriteBytes(int32(writeMax)))

	maxRecords, err := conf.FieldInt(kfoFieldMaxBufferedRecords)
	if err != nil {
		return nil, err
	}
	if maxRecords < 1 {
		return nil, fmt.Errorf("field %s: must be at least 1, got %d", kfoFieldMaxBufferedRecords, maxRecords)
	}
	opts = append(opts, kgo.MaxBufferedRecords(maxRecords))

	maxBuffered, err := kafkaByteSize(conf, kfoFieldMaxBufferedBytes, 0, math.MaxInt)
	if err != nil {
		return nil, err
	}
	if maxBuffered > 0 {
		opts = append(opts, kgo.MaxBufferedBytes(int(maxBuffered)))
	}

	inflight, err := conf.FieldInt(kfoFieldMaxInFlightRequests)
	if err != nil {
		return nil, err
	}
	switch {
	case inflight < 1:
		return nil, fmt.Errorf("field %s: must be at least 1, got %d", kfoFieldMaxInFlightRequests, inflight)
	case idempotent && inflight != 1:
		return nil, fmt.Errorf("field %s: must be 1 when %s is true, got %d", kfoFieldMaxInFlightRequests, kfoFieldIdempotentWrite, inflight)
	}
	opts = append(opts, kgo.MaxProduceRequestsInflightPerBroker(inflight))

	retries, err := conf.FieldInt(kfoFieldRecordRetries)
	if err != nil {
		return nil, err
	}
	if retries < 0 {
		return nil, fmt.Errorf("field %s: must not be negative, got %d", kfoFieldRecordRetries, retries)
	}
	if retries > 0 {
		opts = append(opts, kgo.RecordRetries(retries))
	}

	delivery, err := conf.FieldDuration(kfoFieldRecordDeliveryTimeout)
	if err != nil {
		return nil, err
	}
	if delivery < 0 {
		return nil, fmt.Errorf("field %s: must not be negative, got %v", kfoFieldRecordDeliveryTimeout, delivery)
	}
	if delivery > 0 {
		opts = append(opts, kgo.RecordDeliveryTimeout(delivery))
	}

	if !conf.Contains(kfoFieldRackID) { // the redpanda output has no rack_id
		return opts, nil
	}
	rack, err := conf.FieldString(kfoFieldRackID)
	if err != nil {
		return nil, err
	}
	if rack != "" {
		opts = append(opts, kgo.Rack(rack), kgo.RackAwarePartitioning())
	}
	return opts, nil
}

// kafkaDialFunc dials brokers with dialer, over TLS when tlsConf is not nil.
// As franz-go does for its own TLS dialer, the server name is the broker's
// host unless the config names one.
func kafkaDialFunc(dialer *net.Dialer, tlsConf *tls.Config) func(ctx context.Context, network, host string) (net.Conn, error) {
	if tlsConf == nil {
		return dialer.DialContext
	}
	return func(ctx context.Context, network, host string) (net.Conn, error) {
		conf := tlsConf.Clone()
		if conf.ServerName == "" {
			server, _, err := net.SplitHostPort(host)
			if err != nil {
				return nil, fmt.Errorf("split broker address %q: %w", host, err)
			}
			conf.ServerName = server
		}
		return (&tls.Dialer{NetDialer: dialer, Config: conf}).DialContext(ctx, network, host)
	}
}

func kafkaCompressionCodec(name string) (kgo.CompressionCodec, error) {
	switch name {
	case "lz4":
		return kgo.Lz4Compression(), nil
	case "snappy":
		return kgo.SnappyCompression(), nil
	case "gzip":
		return kgo.GzipCompression(), nil
	case "zstd":
		return kgo.ZstdCompression(), nil
	case "none":
		return kgo.NoCompression(), nil
	}
	return kgo.CompressionCodec{}, fmt.Errorf("field %s: unknown codec %q (want lz4, snappy, gzip, none or zstd)", kfoFieldCompression, name)
}

// kafkaSASLFromConfig builds the SASL mechanisms of the sasl list, with a
// description of each ("MECHANISM as USER", or the mechanism alone) for
// connection errors. Errors name the list entry and never include a
// password, token or secret key.
func kafkaSASLFromConfig(conf *service.ParsedConfig) (mechanisms []sasl.Mechanism, logins []string, err error) {
	if !conf.Contains(kfoFieldSASL) {
		return nil, nil, nil
	}
	entries, err := conf.FieldObjectList(kfoFieldSASL)
	if err != nil {
		return nil, nil, err
	}
	for i, entry := range entries {
		field := fmt.Sprintf("%s[%d]", kfoFieldSASL, i)
		name, err := entry.FieldString(kfoFieldSASLMechanism)
		if err != nil {
			return nil, nil, fmt.Errorf("field %s: %w", field, err)
		}
		var mech sasl.Mechanism
		login := name
		switch name {
		case "none":
			continue
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
			user, pass, err := kafkaSASLLogin(entry, field, name)
			if err != nil {
				return nil, nil, err
			}
			login = fmt.Sprintf("%s as %q", name, user)
			switch name {
			case "PLAIN":
				mech = plain.Auth{User: user, Pass: pass}.AsMechanism()
			case "SCRAM-SHA-256":
				mech = scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()
			default:
				mech = scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()
			}
		case "OAUTHBEARER":
			token, err := entry.FieldString(kfoFieldSASLToken)
			if err != nil {
				return nil, nil, fmt.Errorf("field %s: %w", field, err)
			}
			if token == "" {
				return nil, nil, fmt.Errorf("field %s.%s: required for mechanism %s", field, kfoFieldSASLToken, name)
			}
			var extensions map[string]string
			if entry.Contains(kfoFieldSASLExtensions) {
				if extensions, err = entry.FieldStringMap(kfoFieldSASLExtensions); err != nil {
					return nil, nil, fmt.Errorf("field %s: %w", field, err)
				}
			}
			for k := range extensions {
				if !kafkaOAuthExtensionKey(k) {
					return nil, nil, fmt.Errorf("field %s.%s: key %q is not a valid extension name (letters only, and not auth)", field, kfoFieldSASLExtensions, k)
				}
			}
			mech = oauth.Auth{Token: token, Extensions: extensions}.AsMechanism()
		case "AWS_MSK_IAM":
			awsConf, err := awsConfigFromSession(context.Background(), entry.Namespace(kfoFieldSASLAWS), field+"."+kfoFieldSASLAWS)
			if err != nil {
				return nil, nil, err
			}
			creds := awsConf.Credentials
			if creds == nil {
				return nil, nil, fmt.Errorf("field %s.%s.%s: no AWS credentials found (set them here or in the AWS environment)", field, kfoFieldSASLAWS, awsFieldCredentials)
			}
			mech = kafkaMSKIAM(creds)
		default:
			return nil, nil, fmt.Errorf("field %s.%s: unsupported mechanism %q (want none, PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or AWS_MSK_IAM)", field, kfoFieldSASLMechanism, name)
		}
		mechanisms = append(mechanisms, mech)
		logins = append(logins, login)
	}
	return mechanisms, logins, nil
}

// kafkaSASLLogin reads the username and password of a PLAIN or SCRAM entry,
// which must both be set.
func kafkaSASLLogin(entry *service.ParsedConfig, field, mechanism string) (user, pass string, err error) {
	if user, err = entry.FieldString(kfoFieldSASLUsername); err != nil {
		return "", "", fmt.Errorf("field %s: %w", field, err)
	}
	if pass, err = entry.FieldString(kfoFieldSASLPassword); err != nil {
		return "", "", fmt.Errorf("field %s: %w", field, err)
	}
	if user == "" {
		return "", "", fmt.Errorf("field %s.%s: required for mechanism %s", field, kfoFieldSASLUsername, mechanism)
	}
	if pass == "" {
		return "", "", fmt.Errorf("field %s.%s: required for mechanism %s", field, kfoFieldSASLPassword, mechanism)
	}
	return user, pass, nil
}

// kafkaOAuthExtensionKey reports whether k may name an OAUTHBEARER
// extension: RFC 7628 allows ASCII letters only and reserves "auth".
func kafkaOAuthExtensionKey(k string) bool {
	if k == "" || k == "auth" {
		return false
	}
	for _, r := range k {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return true
}

// kafkaMSKIAM is the AWS_MSK_IAM mechanism signing with creds, retrieved
// (from the cache of the provider, refreshed when they expire) for every
// authentication.
func kafkaMSKIAM(creds aws.CredentialsProvider) sasl.Mechanism {
	return awssasl.ManagedStreamingIAM(func(ctx context.Context) (awssasl.Auth, error) {
		c, err := creds.Retrieve(ctx)
		if err != nil {
			return awssasl.Auth{}, fmt.Errorf("retrieve AWS credentials for AWS_MSK_IAM: %w", err)
		}
		return awssasl.Auth{AccessKey: c.AccessKeyID, SecretKey: c.SecretAccessKey, SessionToken: c.SessionToken}, nil
	})
}

// Connect creates the client and checks that a broker answers (and accepts
// the SASL credentials) before the first batch is written.
func (w *kafkaFranzWriter) Connect(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.client != nil {
		return nil
	}
	client, err := kgo.NewClient(w.opts...)
	if err != nil {
		return fmt.Errorf("create kafka client: %w", err)
	}
	if err := client.Ping(ctx); err != nil {
		client.Close()
		return fmt.Errorf("reach kafka seed brokers%s: %w", w.auth, err)
	}
	w.client = client
	return nil
}

// WriteBatch produces every message of the batch and returns once the brokers
// answered for all of them. Failed messages are reported in a
// *service.BatchError by index.
func (w *kafkaFranzWriter) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	w.mu.RLock()
	client := w.client
	w.mu.RUnlock()
	if client == nil {
		return service.ErrNotConnected
	}

	start := time.Now()
	errs := make([]error, len(batch))
	records := make([]*kgo.Record, len(batch))
	for i, msg := range batch {
		records[i], errs[i] = w.record(batch, i, msg)
	}

	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	var wg sync.WaitGroup
	for i, rec := range records {
		if rec == nil {
			continue
		}
		wg.Add(1)
		client.Produce(ctx, rec, func(r *kgo.Record, err error) {
			if err != nil {
				// Name the topic: with one output writing several, it
				// tells which destination blocks delivery.
				err = fmt.Errorf("topic %s: %w", r.Topic, err)
			}
			errs[i] = err
			wg.Done()
		})
	}
	wg.Wait()

	var batchErr *service.BatchError
	for i, err := range errs {
		if err == nil {
			continue
		}
		if batchErr == nil {
			batchErr = service.NewBatchError(batch, fmt.Errorf("write %d of %d records to kafka: %w", countErrs(errs), len(batch), err))
		}
		batchErr.Failed(i, err)
	}
	if batchErr != nil {
		return batchErr
	}
	w.log.Debugf("Wrote %d records to Kafka in %v", len(batch), time.Since(start).Round(time.Millisecond))
	return nil
}

func countErrs(errs []error) int {
	n := 0
	for _, err := range errs {
		if err != nil {
			n++
		}
	}
	return n
}

// record builds the Kafka record for message i of batch.
func (w *kafkaFranzWriter) record(batch service.MessageBatch, i int, msg *service.Message) (*kgo.Record, error) {
	value, err := msg.AsBytes()
	if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	rec := &kgo.Record{Value: value}
	if rec.Topic, err = batch.TryInterpolatedString(i, w.topic); err != nil {
		return nil, fmt.Errorf("interpolate %s: %w", kfoFieldTopic, err)
	}
	if rec.Topic == "" {
		return nil, fmt.Errorf("interpolate %s: the topic is empty", kfoFieldTopic)
	}
	if w.key != nil {
		key, err := batch.TryInterpolatedBytes(i, w.key)
		if err != nil {
			return nil, fmt.Errorf("interpolate %s: %w", kfoFieldKey, err)
		}
		if len(key) > 0 {
			rec.Key = key
		}
	}
	if w.partition != nil {
		raw, err := batch.TryInterpolatedString(i, w.partition)
		if err != nil {
			return nil, fmt.Errorf("interpolate %s: %w", kfoFieldPartition, err)
		}
		p, err := strconv.ParseInt(strings.TrimSpace(raw), 10, 32)
		if err != nil || p < 0 {
			return nil, fmt.Errorf("interpolate %s: %q is not a partition number", kfoFieldPartition, raw)
		}
		rec.Partition = int32(p)
	}
	if w.timestamp != nil {
		raw, err := batch.TryInterpolatedString(i, w.timestamp)
		if err != nil {
			return nil, fmt.Errorf("interpolate %s: %w", w.timestampField, err)
		}
		if raw = strings.TrimSpace(raw); raw != "" {
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil || n > math.MaxInt64/int64(w.timestampUnit) || n < math.MinInt64/int64(w.timestampUnit) {
				return nil, fmt.Errorf("interpolate %s: %q is not a number of %s since the Unix epoch", w.timestampField, raw, w.timestampUnitName)
			}
			rec.Timestamp = time.Unix(0, n*int64(w.timestampUnit))
		}
	}
	if w.headers != nil {
		_ = w.headers.Walk(msg, func(key, value string) error {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: key, Value: []byte(value)})
			return nil
		})
	}
	return rec, nil
}

// Close flushes nothing (WriteBatch already waited for every record) and
// releases the client, giving up when ctx ends.
func (w *kafkaFranzWriter) Close(ctx context.Context) error {
	w.mu.Lock()
	client := w.client
	w.client = nil
	w.mu.Unlock()
	if client == nil {
		return nil
	}
	done := make(chan struct{})
	go func() {
		client.Close()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("close kafka client: %w", ctx.Err())
	}
}

// kgoLogger forwards the franz-go client's warnings and errors to the Benthos
// logger of the output.
type kgoLogger struct {
	log *service.Logger
}

func (l kgoLogger) Level() kgo.LogLevel { return kgo.LogLevelWarn }

func (l kgoLogger) Log(level kgo.LogLevel, msg string, keyvals ...any) {
	log := l.log.With(keyvals...)
	switch level {
	case kgo.LogLevelError:
		log.Error(msg)
	case kgo.LogLevelWarn:
		log.Warn(msg)
	case kgo.LogLevelInfo:
		log.Info(msg)
	default:
		log.Debug(msg)
	}
}
