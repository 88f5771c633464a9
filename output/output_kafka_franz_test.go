// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package output

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// newKfake starts an in-process Kafka cluster listening on 127.0.0.1.
func newKfake(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(opts...)
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// consumed is one record read back from the cluster.
type consumed struct {
	partition int32
	key       string
	value     string
	headers   map[string]string
}

// consumeTopic reads every record of topic, from the start up to the end
// offsets at the time of the call.
func consumeTopic(t *testing.T, ctx context.Context, topic string, opts ...kgo.Opt) []consumed {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	}, opts...)...)
	require.NoError(t, err)
	defer cl.Close()

	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	require.NoError(t, err)
	require.NoError(t, ends.Error())
	var want int64
	ends.Each(func(o kadm.ListedOffset) { want += o.Offset })

	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var out []consumed
	for int64(len(out)) < want {
		fetches := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "consumed %d of %d records", len(out), want)
		fetches.EachError(func(_ string, _ int32, err error) { require.NoError(t, err) })
		fetches.EachRecord(func(r *kgo.Record) {
			c := consumed{partition: r.Partition, key: string(r.Key), value: string(r.Value), headers: map[string]string{}}
			for _, h := range r.Headers {
				c.headers[h.Key] = string(h.Value)
			}
			out = append(out, c)
		})
	}
	return out
}

// duoBatch builds n messages "<prefix>-<i>" carrying the metadata a Duo input
// sets, plus one key that must not become a header.
func duoBatch(prefix string, n int) service.MessageBatch {
	batch := make(service.MessageBatch, n)
	for i := range batch {
		m := service.NewMessage(fmt.Appendf(nil, `{"txid":"%s-%d"}`, prefix, i))
		m.MetaSetMut("duo_log_type", "authentication")
		m.MetaSetMut("duo_seq", strconv.Itoa(i))
		m.MetaSetMut("internal_cursor", "do-not-export")
		batch[i] = m
	}
	return batch
}

func TestKafkaFranzRoundTrip(t *testing.T) {
	c := newKfake(t, kfake.NumBrokers(2), kfake.SeedTopics(3, "duo-authentication"))
	addrs := c.ListenAddrs()
	require.Len(t, addrs, 2)

	// Both brokers in one comma-separated entry, as Connect accepts.
	send := outputStream(t, fmt.Sprintf(`
kafka_franz:
  seed_brokers: [ %q ]
  topic: 'duo-${! meta("duo_log_type") }'
  key: '${! json("txid") }'
  metadata:
    include_prefixes: [ "duo_" ]
  max_in_flight: 4
`, strings.Join(addrs, ",")))

	const batches, perBatch = 4, 25
	for b := range batches {
		require.NoError(t, send(t.Context(), duoBatch(fmt.Sprintf("b%d", b), perBatch)))
	}

	got := consumeTopic(t, t.Context(), "duo-authentication", kgo.SeedBrokers(addrs[0]))
	require.Len(t, got, batches*perBatch)
	partitionOfKey := map[string]int32{}
	seen := map[string]bool{}
	for _, r := range got {
		assert.Equal(t, fmt.Sprintf(`{"txid":"%s"}`, r.key), r.value, "the key is interpolated from the value")
		assert.Equal(t, "authentication", r.headers["duo_log_type"])
		seq := r.key[strings.IndexByte(r.key, '-')+1:]
		assert.Equal(t, seq, r.headers["duo_seq"])
		assert.NotContains(t, r.headers, "internal_cursor", "metadata outside include_prefixes must not become headers")
		assert.Len(t, r.headers, 2)
		assert.False(t, seen[r.key], "record %s delivered twice", r.key)
		seen[r.key] = true
		partitionOfKey[r.key] = r.partition
	}

	// The default murmur2 partitioner spreads distinct keys over partitions.
	partitions := map[int32]bool{}
	for _, p := range partitionOfKey {
		partitions[p] = true
	}
	assert.Len(t, partitions, 3, "100 distinct keys should land on all 3 partitions")
}

func TestKafkaFranzPartitioners(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, got []consumed)
	}{
		{
			name: "murmur2_hash keeps a key on one partition",
			yaml: "partitioner: murmur2_hash\nkey: '${! meta(\"duo_seq\").number() % 4 }'",
			check: func(t *testing.T, got []consumed) {
				byKey := map[string]map[int32]bool{}
				for _, r := range got {
					if byKey[r.key] == nil {
						byKey[r.key] = map[int32]bool{}
					}
					byKey[r.key][r.partition] = true
				}
				require.Len(t, byKey, 4)
				for k, ps := range byKey {
					assert.Len(t, ps, 1, "key %s spread over several partitions", k)
				}
			},
		},
		{
			name: "round_robin uses every partition evenly",
			yaml: "partitioner: round_robin",
			check: func(t *testing.T, got []consumed) {
				counts := map[int32]int{}
				for _, r := range got {
					counts[r.partition]++
				}
				assert.Equal(t, map[int32]int{0: 10, 1: 10, 2: 10, 3: 10}, counts)
			},
		},
		{
			name: "least_backup writes every record",
			yaml: "partitioner: least_backup",
			check: func(t *testing.T, got []consumed) {
				for _, r := range got {
					assert.GreaterOrEqual(t, r.partition, int32(0))
					assert.Less(t, r.partition, int32(4))
				}
			},
		},
		{
			name: "manual takes the interpolated partition",
			yaml: "partitioner: manual\npartition: '${! meta(\"duo_seq\").number() % 3 }'",
			check: func(t *testing.T, got []consumed) {
				for _, r := range got {
					var v struct{ seq int }
					_, err := fmt.Sscanf(r.value, `{"txid":"p-%d"}`, &v.seq)
					require.NoError(t, err)
					assert.Equal(t, int32(v.seq%3), r.partition, "record %s", r.value)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newKfake(t, kfake.SeedTopics(4, "duo"))
			send := outputStream(t, fmt.Sprintf("kafka_franz:\n  seed_brokers: [ %q ]\n  topic: duo\n  %s\n",
				c.ListenAddrs()[0], strings.ReplaceAll(tt.yaml, "\n", "\n  ")))
			require.NoError(t, send(t.Context(), duoBatch("p", 40)))
			got := consumeTopic(t, t.Context(), "duo", kgo.SeedBrokers(c.ListenAddrs()...))
			require.Len(t, got, 40)
			tt.check(t, got)
		})
	}
}

func TestKafkaFranzCompression(t *testing.T) {
	for _, codec := range []string{"lz4", "snappy", "gzip", "none", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			c := newKfake(t, kfake.SeedTopics(1, "duo"))
			send := outputStream(t, fmt.Sprintf("kafka_franz:\n  seed_brokers: [ %q ]\n  topic: duo\n  compression: %s\n", c.ListenAddrs()[0], codec))
			batch := duoBatch(codec, 20)
			require.NoError(t, send(t.Context(), batch))
			got := consumeTopic(t, t.Context(), "duo", kgo.SeedBrokers(c.ListenAddrs()...))
			require.Len(t, got, 20)
			for i, r := range got {
				want, err := batch[i].AsBytes()
				require.NoError(t, err)
				assert.Equal(t, string(want), r.value)
			}
		})
	}
}

func TestKafkaFranzSASL(t *testing.T) {
	const user, pass = "duostream", "s3cr3t-sasl-password"
	tests := []struct {
		mechanism string
		login     func() kgo.Opt
	}{
		{"PLAIN", nil},
		{"SCRAM-SHA-256", func() kgo.Opt { return kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha256Mechanism()) }},
		{"SCRAM-SHA-512", func() kgo.Opt { return kgo.SASL(scram.Auth{User: user, Pass: pass}.AsSha512Mechanism()) }},
	}
	for _, tt := range tests {
		t.Run(tt.mechanism, func(t *testing.T) {
			c := newKfake(t,
				kfake.EnableSASL(),
				kfake.Superuser(tt.mechanism, user, pass),
				kfake.Superuser("SCRAM-SHA-256", "reader", "reader-pass"),
				kfake.SeedTopics(1, "duo"),
			)
			addr := c.ListenAddrs()[0]
			saslYAML := func(password string) string {
				return fmt.Sprintf(`kafka_franz:
  seed_brokers: [ %q ]
  topic: duo
  sasl:
    - mechanism: %s
      username: %s
      password: %s
`, addr, tt.mechanism, user, password)
			}

			send := outputStream(t, saslYAML(pass))
			require.NoError(t, send(t.Context(), duoBatch("sasl", 10)))
			got := consumeTopic(t, t.Context(), "duo", kgo.SeedBrokers(addr),
				kgo.SASL(scram.Auth{User: "reader", Pass: "reader-pass"}.AsSha256Mechanism()))
			assert.Len(t, got, 10)

			// A wrong password fails Connect with an error that names the
			// problem and does not echo the password.
			conf, err := kafkaFranzOutputSpec().ParseYAML(strings.TrimPrefix(saslYAML("wrong-password-xyz"), "kafka_franz:\n"), nil)
			require.NoError(t, err)
			w, err := newKafkaFranzWriter(conf, service.MockResources())
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			err = w.Connect(ctx)
			require.Error(t, err)
			assert.Contains(t, err.Error(), fmt.Sprintf("SASL %s as %q", tt.mechanism, user))
			assert.NotContains(t, err.Error(), "wrong-password-xyz")
			assert.NotContains(t, err.Error(), pass)
		})
	}
}

// TestKafkaFranzRetriedAppendsAreNotDuplicated makes the broker append every
// produce request and then answer REQUEST_TIMED_OUT a number of times, the
// case where a response is lost after the write. The client retries; the
// idempotent producer must make the broker drop the copies, while without it
// the same run shows duplicates (which proves the check can see them).
func TestKafkaFranzRetriedAppendsAreNotDuplicated(t *testing.T) {
	tests := []struct {
		name           string
		setting        string
		wantDuplicates bool
	}{
		{name: "default", setting: "", wantDuplicates: false},
		{name: "idempotent_write=true", setting: "idempotent_write: true", wantDuplicates: false},
		{name: "idempotent_write=false", setting: "idempotent_write: false", wantDuplicates: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newKfake(t, kfake.SeedTopics(2, "duo"))
			faults := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "duo", Err: kerr.RequestTimedOut, Count: 5})

			send := outputStream(t, fmt.Sprintf("kafka_franz:\n  seed_brokers: [ %q ]\n  topic: duo\n  timeout: 30s\n  %s\n",
				c.ListenAddrs()[0], tt.setting))
			const batches, perBatch = 10, 20
			for b := range batches {
				require.NoError(t, send(t.Context(), duoBatch(fmt.Sprintf("r%d", b), perBatch)))
			}
			require.Equal(t, 5, faults.Hits(), "every injected timeout was answered")

			got := consumeTopic(t, t.Context(), "duo", kgo.SeedBrokers(c.ListenAddrs()...))
			counts := map[string]int{}
			for _, r := range got {
				counts[r.value]++
			}
			assert.Len(t, counts, batches*perBatch, "every message arrived")
			duplicates := len(got) - len(counts)
			t.Logf("%s: %d records stored for %d messages (%d duplicates)", tt.name, len(got), len(counts), duplicates)
			if tt.wantDuplicates {
				assert.Positive(t, duplicates)
			} else {
				assert.Zero(t, duplicates)
			}
		})
	}
}

// sendAll pushes batches through send from several goroutines, resending a
// batch whose write failed the way an input replays a nack. It returns the
// number of resends.
func sendAll(t *testing.T, send service.MessageBatchHandlerFunc, batches []service.MessageBatch, workers int, pause time.Duration, afterEach func(n int)) int64 {
	t.Helper()
	var resends, done atomic.Int64
	next := make(chan service.MessageBatch)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for b := range next {
				for {
					err := send(t.Context(), b)
					if err == nil {
						break
					}
					if t.Context().Err() != nil {
						return
					}
					resends.Add(1)
					time.Sleep(50 * time.Millisecond)
				}
				if afterEach != nil {
					afterEach(int(done.Add(1)))
				}
			}
		})
	}
	for _, b := range batches {
		next <- b
		time.Sleep(pause)
	}
	close(next)
	wg.Wait()
	return resends.Load()
}

// TestKafkaFranzBrokerOutage cuts the broker off mid-stream: for 1.5 s every
// request has its connection closed unanswered, then a few appends are
// answered with REQUEST_TIMED_OUT after being written. Every message must be
// stored exactly once.
func TestKafkaFranzBrokerOutage(t *testing.T) {
	c := newKfake(t, kfake.SeedTopics(3, "duo"))
	var outageUntil atomic.Int64
	var dropped atomic.Int64
	c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if time.Now().UnixNano() < outageUntil.Load() {
			dropped.Add(1)
			return nil, errors.New("injected outage"), true
		}
		return nil, nil, false
	})

	send := outputStream(t, fmt.Sprintf("kafka_franz:\n  seed_brokers: [ %q ]\n  topic: duo\n  timeout: 30s\n  max_in_flight: 4\n", c.ListenAddrs()[0]))

	const nBatches, perBatch = 40, 25
	batches := make([]service.MessageBatch, nBatches)
	for i := range batches {
		batches[i] = duoBatch(fmt.Sprintf("o%d", i), perBatch)
	}
	start := time.Now()
	var once sync.Once
	resends := sendAll(t, send, batches, 4, 20*time.Millisecond, func(n int) {
		if n == 10 {
			once.Do(func() {
				outageUntil.Store(time.Now().Add(1500 * time.Millisecond).UnixNano())
				c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "duo", Err: kerr.RequestTimedOut, Count: 3})
			})
		}
	})
	elapsed := time.Since(start)

	got := consumeTopic(t, t.Context(), "duo", kgo.SeedBrokers(c.ListenAddrs()...))
	counts := map[string]int{}
	for _, r := range got {
		counts[r.value]++
	}
	t.Logf("outage: %d requests dropped, %d batch resends, %d records stored for %d messages in %v",
		dropped.Load(), resends, len(got), nBatches*perBatch, elapsed.Round(time.Millisecond))
	require.Positive(t, dropped.Load(), "the outage must have hit requests")
	assert.GreaterOrEqual(t, elapsed, 1500*time.Millisecond, "the stream waited out the outage")
	assert.Len(t, counts, nBatches*perBatch, "no message lost")
	assert.Len(t, got, nBatches*perBatch, "no message duplicated")
	assert.Zero(t, resends, "the client's own retries covered the outage")
}

// TestKafkaFranzClusterRestart stops the only broker mid-stream and starts a
// new one on the same port from the same data directory a second later.
func TestKafkaFranzClusterRestart(t *testing.T) {
	dir := t.TempDir()
	first, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(dir), kfake.SeedTopics(2, "duo"))
	require.NoError(t, err)
	addr := first.ListenAddrs()[0]
	_, portStr, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	port, err := strconv.Atoi(portStr)
	require.NoError(t, err)

	var mu sync.Mutex
	current := first
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		current.Close()
	})

	send := outputStream(t, fmt.Sprintf("kafka_franz:\n  seed_brokers: [ %q ]\n  topic: duo\n  timeout: 30s\n  max_in_flight: 2\n", addr))

	const nBatches, perBatch = 30, 20
	batches := make([]service.MessageBatch, nBatches)
	for i := range batches {
		batches[i] = duoBatch(fmt.Sprintf("c%d", i), perBatch)
	}
	restarted := make(chan error, 1)
	var once sync.Once
	start := time.Now()
	resends := sendAll(t, send, batches, 2, 20*time.Millisecond, func(n int) {
		if n != 8 {
			return
		}
		once.Do(func() {
			mu.Lock()
			current.Close()
			mu.Unlock()
			go func() {
				time.Sleep(time.Second)
				next, err := kfake.NewCluster(kfake.Ports(port), kfake.DataDir(dir))
				if err == nil {
					mu.Lock()
					current = next
					mu.Unlock()
				}
				restarted <- err
			}()
		})
	})
	elapsed := time.Since(start)
	require.NoError(t, <-restarted)

	got := consumeTopic(t, t.Context(), "duo", kgo.SeedBrokers(addr))
	counts := map[string]int{}
	for _, r := range got {
		counts[r.value]++
	}
	t.Logf("restart: %d batch resends, %d records stored for %d messages in %v", resends, len(got), nBatches*perBatch, elapsed.Round(time.Millisecond))
	assert.GreaterOrEqual(t, elapsed, time.Second, "the stream waited for the broker to come back")
	assert.Len(t, counts, nBatches*perBatch, "no message lost across the restart")
	assert.Len(t, got, nBatches*perBatch, "no message duplicated across the restart")
}

func TestKafkaFranzConnectHonoursContext(t *testing.T) {
	// A listener that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = conn.Close() })
		}
	}()

	conf, err := kafkaFranzOutputSpec().ParseYAML(fmt.Sprintf("seed_brokers: [ %q ]\ntopic: duo\n", ln.Addr()), nil)
	require.NoError(t, err)
	w, err := newKafkaFranzWriter(conf, service.MockResources())
	require.NoError(t, err)

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = w.Connect(ctx)
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second, "Connect must give up when its context ends")
	require.ErrorIs(t, w.WriteBatch(t.Context(), duoBatch("x", 1)), service.ErrNotConnected)
	require.NoError(t, w.Close(t.Context()))
}

func TestKafkaFranzWriteBatchReportsFailuresByIndex(t *testing.T) {
	c := newKfake(t, kfake.SeedTopics(1, "duo"))
	conf, err := kafkaFranzOutputSpec().ParseYAML(fmt.Sprintf(`
seed_brokers: [ %q ]
topic: '${! @topic }'
max_message_bytes: 2KB
`, c.ListenAddrs()[0]), nil)
	require.NoError(t, err)
	w, err := newKafkaFranzWriter(conf, service.MockResources())
	require.NoError(t, err)
	require.NoError(t, w.Connect(t.Context()))
	t.Cleanup(func() { assert.NoError(t, w.Close(context.Background())) })

	batch := duoBatch("i", 4)
	for _, m := range batch {
		m.MetaSetMut("topic", "duo")
	}
	batch[1].SetBytes(make([]byte, 4096)) // larger than max_message_bytes
	batch[3].MetaSetMut("topic", "")      // interpolates to an empty topic

	indexer := batch.Index()
	err = w.WriteBatch(t.Context(), batch)
	var batchErr *service.BatchError
	require.ErrorAs(t, err, &batchErr)
	assert.Equal(t, 2, batchErr.IndexedErrors())
	failed := map[int]string{}
	batchErr.WalkMessagesIndexedBy(indexer, func(i int, _ *service.Message, err error) bool {
		if err != nil {
			failed[i] = err.Error()
		}
		return true
	})
	require.Len(t, failed, 2)
	assert.Contains(t, failed[1], "MESSAGE_TOO_LARGE")
	assert.Contains(t, failed[3], "topic is empty")

	got := consumeTopic(t, t.Context(), "duo", kgo.SeedBrokers(c.ListenAddrs()...))
	require.Len(t, got, 2, "the good messages of the batch were written")
}

func TestKafkaFranzConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{"topic missing", `seed_brokers: [ "localhost:9092" ]`, "topic"},
		{"no broker", "seed_brokers: [ \" , \" ]\ntopic: duo", "seed_brokers"},
		{"manual without partition", "seed_brokers: [ a:1 ]\ntopic: duo\npartitioner: manual", "partition"},
		{"partition without manual", "seed_brokers: [ a:1 ]\ntopic: duo\npartition: '1'", "partition"},
		{"unknown partitioner", "seed_brokers: [ a:1 ]\ntopic: duo\npartitioner: sticky", "partitioner"},
		{"unknown compression", "seed_brokers: [ a:1 ]\ntopic: duo\ncompression: brotli", "compression"},
		{"bad max_message_bytes", "seed_brokers: [ a:1 ]\ntopic: duo\nmax_message_bytes: lots", "max_message_bytes"},
		{"huge max_message_bytes", "seed_brokers: [ a:1 ]\ntopic: duo\nmax_message_bytes: 4GB", "max_message_bytes"},
		{"zero timeout", "seed_brokers: [ a:1 ]\ntopic: duo\ntimeout: 0s", "timeout"},
		{"bad timeout", "seed_brokers: [ a:1 ]\ntopic: duo\ntimeout: soon", "timeout"},
		{"sasl without username", "seed_brokers: [ a:1 ]\ntopic: duo\nsasl: [ { mechanism: PLAIN, password: hunter2-secret } ]", "sasl[0].username"},
		{"sasl without password", "seed_brokers: [ a:1 ]\ntopic: duo\nsasl: [ { mechanism: SCRAM-SHA-256, username: u } ]", "sasl[0].password"},
		{"sasl unsupported mechanism", "seed_brokers: [ a:1 ]\ntopic: duo\nsasl: [ { mechanism: none }, { mechanism: OAUTHBEARER, username: u, password: hunter2-secret } ]", "sasl[1].mechanism"},
		{"bad tls", "seed_brokers: [ a:1 ]\ntopic: duo\ntls: { enabled: true, root_cas_file: /nonexistent/ca.pem }", "ca.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf, err := kafkaFranzOutputSpec().ParseYAML(tt.yaml, nil)
			if err == nil {
				_, err = newKafkaFranzWriter(conf, service.MockResources())
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), "hunter2-secret")
		})
	}
}

func TestKafkaFranzLintRules(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{"manual without partition", "partitioner: manual", "partition is required"},
		{"partition without manual", "partition: '2'", "partition is only allowed"},
		{"unknown sasl mechanism", "sasl: [ { mechanism: GSSAPI } ]", "GSSAPI"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := service.NewStreamBuilder().AddOutputYAML("kafka_franz:\n  seed_brokers: [ a:1 ]\n  topic: duo\n  " + tt.yaml + "\n")
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

func TestKafkaFranzDefaults(t *testing.T) {
	conf, err := kafkaFranzOutputSpec().ParseYAML("seed_brokers: [ a:1 ]\ntopic: duo\n", nil)
	require.NoError(t, err)
	maxInFlight, err := conf.FieldMaxInFlight()
	require.NoError(t, err)
	assert.Equal(t, 10, maxInFlight)
	idempotent, err := conf.FieldBool(kfoFieldIdempotentWrite)
	require.NoError(t, err)
	assert.True(t, idempotent)
	timeout, err := conf.FieldDuration(kfoFieldTimeout)
	require.NoError(t, err)
	assert.Equal(t, 10*time.Second, timeout)
	maxBytes, err := conf.FieldString(kfoFieldMaxMessageBytes)
	require.NoError(t, err)
	assert.Equal(t, "1MB", maxBytes)
	clientID, err := conf.FieldString(kfoFieldClientID)
	require.NoError(t, err)
	assert.Equal(t, "duostream", clientID)
	assert.False(t, conf.Contains(kfoFieldCompression), "compression is left to the client unless set")

	w, err := newKafkaFranzWriter(conf, service.MockResources())
	require.NoError(t, err)
	batch := duoBatch("d", 1)
	rec, err := w.record(batch, 0, batch[0])
	require.NoError(t, err)
	assert.Empty(t, rec.Headers, "no headers unless a metadata filter selects them")
	assert.Nil(t, rec.Key, "no key unless key is set")
}

func TestKafkaFranzSecretFields(t *testing.T) {
	assert.Equal(t, map[string]bool{
		"sasl[].password":             true,
		"tls.client_certs[].key":      true,
		"tls.client_certs[].password": true,
		"tls.root_cas":                true,
	}, secretFields(t, "kafka_franz"))
}

// secretFields returns the fields of the named output that are marked secret.
func secretFields(t *testing.T, output string) map[string]bool {
	t.Helper()
	secrets := map[string]bool{}
	var found bool
	service.GlobalEnvironment().WalkOutputs(func(name string, view *service.ConfigView) {
		if name != output {
			return
		}
		found = true
		data, err := view.TemplateData()
		require.NoError(t, err)
		for _, f := range data.Fields {
			if f.IsSecret {
				secrets[f.FullName] = true
			}
		}
	})
	require.True(t, found, "output %s is registered", output)
	return secrets
}
