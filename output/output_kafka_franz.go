// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package output

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
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
	kfoFieldMetadata        = "metadata"
	kfoFieldMaxInFlight     = "max_in_flight"
	kfoFieldTimeout         = "timeout"
	kfoFieldMaxMessageBytes = "max_message_bytes"
	kfoFieldBatching        = "batching"
)

func kafkaFranzOutputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Summary("Writes batches of messages to Kafka with the franz-go client and acknowledges a batch only once the brokers acknowledged every record in it.").
		Description(`
The field names and shapes follow the `+"`kafka_franz`"+` output of Redpanda Connect, so an
existing `+"`kafka_franz`"+` block carries over as long as it uses the fields documented here.

### Delivery guarantees

Each batch is handed to the client as one produce call per record. The output waits until
the brokers answered for every record: only then is the batch acknowledged upstream. When
some records fail, the batch is nacked with a per-message error, so inputs that replay nacks
resend only the failed messages.

The idempotent producer is on by default (`+"`idempotent_write: true`"+`). The client retries
produce requests on its own while a broker is unreachable or answers with a retriable error,
and the broker discards the copies it has already written, so a broker outage neither loses
nor duplicates records. A record that was sent but not yet answered is never abandoned, even
when `+"`timeout`"+` expires: the client waits for its outcome, because failing it would let a
replay write it twice. Turning `+"`idempotent_write`"+` off (needed when the principal lacks
the `+"`IDEMPOTENT_WRITE`"+` cluster permission) weakens this to at-least-once.

### Headers

Metadata keys selected by the `+"`metadata`"+` filter are written as record headers. With no
filter, no headers are written.
`).
		Fields(
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
				}).
					Description("The SASL mechanism."),
				service.NewStringField(kfoFieldSASLUsername).
					Description("The username.").
					Default(""),
				service.NewStringField(kfoFieldSASLPassword).
					Description("The password.").
					Default("").
					Secret(),
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
				Default(10),
			service.NewDurationField(kfoFieldTimeout).
				Description("How long a batch may wait for its records to be sent before the write fails and the batch is retried. Records already sent are always waited for (see the description). Also used as the produce request timeout given to the brokers.").
				Default("10s").
				Advanced(),
			service.NewStringField(kfoFieldMaxMessageBytes).
				Description("The largest record batch the client builds, in bytes; a record bigger than this is rejected. Keep it at or below the topic's `max.message.bytes`. Accepts units such as `1MB` or `50MiB`.").
				Default("1MB").
				Example("100MB").
				Example("50MiB").
				Advanced(),
			service.NewBatchPolicyField(kfoFieldBatching),
		).
		LintRule(`root = if this.partitioner.or("") == "manual" && this.partition.or("") == "" {
  [ "field partition is required when partitioner is manual" ]
} else if this.partitioner.or("") != "manual" && this.partition.or("") != "" {
  [ "field partition is only allowed when partitioner is manual" ]
}`).
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
	opts      []kgo.Opt
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

	rawMaxBytes, err := conf.FieldString(kfoFieldMaxMessageBytes)
	if err != nil {
		return nil, err
	}
	maxBytes, err := humanize.ParseBytes(rawMaxBytes)
	if err != nil {
		return nil, fmt.Errorf("field %s: %q is not a byte size: %w", kfoFieldMaxMessageBytes, rawMaxBytes, err)
	}
	if maxBytes == 0 || maxBytes > math.MaxInt32 {
		return nil, fmt.Errorf("field %s: %q must be between 1 byte and %d bytes", kfoFieldMaxMessageBytes, rawMaxBytes, math.MaxInt32)
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
	if tlsEnabled {
		w.opts = append(w.opts, kgo.DialTLSConfig(tlsConf.Clone()))
	}

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
	return w, nil
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
// "MECHANISM as USER" description of each. Errors name the list entry and
// never include a password.
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
		if name == "none" {
			continue
		}
		user, err := entry.FieldString(kfoFieldSASLUsername)
		if err != nil {
			return nil, nil, fmt.Errorf("field %s: %w", field, err)
		}
		pass, err := entry.FieldString(kfoFieldSASLPassword)
		if err != nil {
			return nil, nil, fmt.Errorf("field %s: %w", field, err)
		}
		if user == "" {
			return nil, nil, fmt.Errorf("field %s.%s: required for mechanism %s", field, kfoFieldSASLUsername, name)
		}
		if pass == "" {
			return nil, nil, fmt.Errorf("field %s.%s: required for mechanism %s", field, kfoFieldSASLPassword, name)
		}
		logins = append(logins, fmt.Sprintf("%s as %q", name, user))
		switch name {
		case "PLAIN":
			mechanisms = append(mechanisms, plain.Auth{User: user, Pass: pass}.AsMechanism())
		case "SCRAM-SHA-256":
			mechanisms = append(mechanisms, scram.Auth{User: user, Pass: pass}.AsSha256Mechanism())
		case "SCRAM-SHA-512":
			mechanisms = append(mechanisms, scram.Auth{User: user, Pass: pass}.AsSha512Mechanism())
		default:
			return nil, nil, fmt.Errorf("field %s.%s: unsupported mechanism %q (want none, PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", field, kfoFieldSASLMechanism, name)
		}
	}
	return mechanisms, logins, nil
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
