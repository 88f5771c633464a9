// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package output

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
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
	"gopkg.in/yaml.v3"
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
		{"sasl unsupported mechanism", "seed_brokers: [ a:1 ]\ntopic: duo\nsasl: [ { mechanism: none }, { mechanism: GSSAPI, username: u, password: hunter2-secret } ]", "sasl[1].mechanism"},
		{"oauthbearer without token", "seed_brokers: [ a:1 ]\ntopic: duo\nsasl: [ { mechanism: none }, { mechanism: OAUTHBEARER, username: u, password: hunter2-secret } ]", "sasl[1].token"},
		{"oauthbearer bad extension key", "seed_brokers: [ a:1 ]\ntopic: duo\nsasl: [ { mechanism: OAUTHBEARER, token: hunter2-secret, extensions: { auth: x } } ]", "sasl[0].extensions"},
		{"msk iam id without secret", "seed_brokers: [ a:1 ]\ntopic: duo\nsasl: [ { mechanism: AWS_MSK_IAM, aws: { credentials: { id: AKID } } } ]", "sasl[0].aws.credentials.secret"},
		{"msk iam secret without id", "seed_brokers: [ a:1 ]\ntopic: duo\nsasl: [ { mechanism: AWS_MSK_IAM, aws: { credentials: { secret: hunter2-secret } } } ]", "sasl[0].aws.credentials.id"},
		{"msk iam external id without role", "seed_brokers: [ a:1 ]\ntopic: duo\nsasl: [ { mechanism: AWS_MSK_IAM, aws: { credentials: { role_external_id: x } } } ]", "sasl[0].aws.credentials.role_external_id"},
		{"msk iam bad endpoint", "seed_brokers: [ a:1 ]\ntopic: duo\nsasl: [ { mechanism: AWS_MSK_IAM, aws: { endpoint: 'sts.local' } } ]", "sasl[0].aws.endpoint"},
		{"msk iam negative tcp timeout", "seed_brokers: [ a:1 ]\ntopic: duo\nsasl: [ { mechanism: AWS_MSK_IAM, aws: { tcp: { connect_timeout: -1s } } } ]", "sasl[0].aws.tcp.connect_timeout"},
		{"negative tcp connect_timeout", "seed_brokers: [ a:1 ]\ntopic: duo\ntcp: { connect_timeout: -1s }", "tcp.connect_timeout"},
		{"tcp_user_timeout not below keep_alive.idle", "seed_brokers: [ a:1 ]\ntopic: duo\ntcp: { tcp_user_timeout: 20s, keep_alive: { idle: 15s } }", "tcp: keep_alive.idle"},
		{"zero metadata_max_age", "seed_brokers: [ a:1 ]\ntopic: duo\nmetadata_max_age: 0s", "metadata_max_age"},
		{"zero conn_idle_timeout", "seed_brokers: [ a:1 ]\ntopic: duo\nconn_idle_timeout: 0s", "conn_idle_timeout"},
		{"acks leader with idempotence", "seed_brokers: [ a:1 ]\ntopic: duo\nacks: leader", "acks"},
		{"in-flight requests with idempotence", "seed_brokers: [ a:1 ]\ntopic: duo\nmax_in_flight_requests: 5", "max_in_flight_requests"},
		{"zero in-flight requests", "seed_brokers: [ a:1 ]\ntopic: duo\nidempotent_write: false\nmax_in_flight_requests: 0", "max_in_flight_requests"},
		{"broker_write_max_bytes below max_message_bytes", "seed_brokers: [ a:1 ]\ntopic: duo\nbroker_write_max_bytes: 512KiB", "broker_write_max_bytes"},
		{"broker_write_max_bytes too big", "seed_brokers: [ a:1 ]\ntopic: duo\nbroker_write_max_bytes: 2GiB", "broker_write_max_bytes"},
		{"bad max_buffered_bytes", "seed_brokers: [ a:1 ]\ntopic: duo\nmax_buffered_bytes: plenty", "max_buffered_bytes"},
		{"zero max_buffered_records", "seed_brokers: [ a:1 ]\ntopic: duo\nmax_buffered_records: 0", "max_buffered_records"},
		{"negative record_retries", "seed_brokers: [ a:1 ]\ntopic: duo\nrecord_retries: -1", "record_retries"},
		{"negative record_delivery_timeout", "seed_brokers: [ a:1 ]\ntopic: duo\nrecord_delivery_timeout: -1s", "record_delivery_timeout"},
		{"bad tls", "seed_brokers: [ a:1 ]\ntopic: duo\ntls: { enabled: true, root_cas_file: /nonexistent/ca.pem }", "ca.pem"},
		{"timestamp with timestamp_ms", "seed_brokers: [ a:1 ]\ntopic: duo\ntimestamp: '1'\ntimestamp_ms: '1000'", "field timestamp: deprecated and only allowed without timestamp_ms"},
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
		{"acks leader with idempotence", "acks: leader", "acks must be all"},
		{"in-flight requests with idempotence", "max_in_flight_requests: 3", "max_in_flight_requests must be 1"},
		{"unknown acks", "idempotent_write: false\n  acks: some", "some"},
		{"timestamp with timestamp_ms", "timestamp: '1'\n  timestamp_ms: '1000'", "timestamp is deprecated and only allowed without timestamp_ms"},
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
	assert.Equal(t, "1MiB", maxBytes)
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
		"sasl[].password":               true,
		"sasl[].token":                  true,
		"sasl[].aws.credentials.secret": true,
		"sasl[].aws.credentials.token":  true,
		"tls.client_certs[].key":        true,
		"tls.client_certs[].password":   true,
		"tls.root_cas":                  true,
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

// connectSASL builds a kafka_franz writer for the SASL block saslYAML against
// the test broker b and connects it, which authenticates and pings.
func connectSASL(t *testing.T, b *saslBroker, saslYAML string) {
	t.Helper()
	conf, err := kafkaFranzOutputSpec().ParseYAML(fmt.Sprintf("seed_brokers: [ %q ]\ntopic: duo\nsasl:\n%s", b.addr(), saslYAML), nil)
	require.NoError(t, err)
	w, err := newKafkaFranzWriter(conf, service.MockResources())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, w.Connect(ctx))
	require.NoError(t, w.Close(ctx))
}

func TestKafkaFranzOAuthBearerOnTheWire(t *testing.T) {
	tests := []struct {
		name       string
		extensions string
		want       string
	}{
		{
			name: "token only",
			want: "n,,\x01auth=Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln\x01\x01",
		},
		{
			name:       "with extensions, in key order",
			extensions: "      extensions:\n        logicalCluster: lkc-abc123\n        identityPoolId: pool-xyz\n",
			want:       "n,,\x01auth=Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln\x01identityPoolId=pool-xyz\x01logicalCluster=lkc-abc123\x01\x01",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newSASLBroker(t, "OAUTHBEARER", nil)
			connectSASL(t, b, "    - mechanism: OAUTHBEARER\n      token: eyJhbGciOiJSUzI1NiJ9.e30.c2ln\n"+tt.extensions)

			handshakes, auths := b.recorded()
			require.NotEmpty(t, auths)
			assert.Equal(t, "OAUTHBEARER", handshakes[0])
			// RFC 7628 §3.1: gs2-header "n,," (no channel binding, no
			// authzid), then kvpairs each ended by ^A, then a final ^A.
			assert.Equal(t, tt.want, string(auths[0]))
			gs2, rest, ok := strings.Cut(string(auths[0]), "\x01")
			require.True(t, ok)
			assert.Equal(t, "n,,", gs2)
			require.True(t, strings.HasSuffix(rest, "\x01\x01"))
			pairs := map[string]string{}
			for _, kv := range strings.Split(strings.TrimSuffix(rest, "\x01\x01"), "\x01") {
				k, v, ok := strings.Cut(kv, "=")
				require.True(t, ok, "kvpair %q", kv)
				pairs[k] = v
			}
			assert.Equal(t, "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln", pairs["auth"])
		})
	}
}

// TestKafkaFranzMSKIAMOnTheWire checks the AWS_MSK_IAM payload the output
// sends: the JSON fields MSK reads and a SigV4 signature that the AWS SDK's
// own presigner computes the same from the credentials given to the test.
func TestKafkaFranzMSKIAMOnTheWire(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		awsYAML   string
		wantKey   string
		wantToken string
	}{
		{
			name: "static credentials with a session token",
			awsYAML: `      aws:
        region: eu-west-1
        credentials:
          id: AKIDSTATICEXAMPLE
          secret: static/secret+key
          token: session-token-example
`,
			wantKey:   "AKIDSTATICEXAMPLE",
			wantToken: "session-token-example",
		},
		{
			name:    "default chain from the environment",
			env:     map[string]string{"AWS_ACCESS_KEY_ID": "AKIDENVEXAMPLE", "AWS_SECRET_ACCESS_KEY": "env/secret+key"},
			awsYAML: "",
			wantKey: "AKIDENVEXAMPLE",
		},
	}
	secrets := map[string]string{"AKIDSTATICEXAMPLE": "static/secret+key", "AKIDENVEXAMPLE": "env/secret+key"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mskIAMTestEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			b := newSASLBroker(t, "AWS_MSK_IAM", []byte(`{"version":"2020_10_22","request-id":"test"}`))
			connectSASL(t, b, "    - mechanism: AWS_MSK_IAM\n"+tt.awsYAML)

			checkMSKIAMAuth(t, b, tt.wantKey, secrets[tt.wantKey], tt.wantToken)
		})
	}
}

// mskIAMTestEnv keeps the AWS SDK away from the machine's own files and
// instance metadata. 127.0.0.1 names no region, so the signing region comes
// from AWS_REGION, set to eu-west-1.
func mskIAMTestEnv(t *testing.T) {
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "eu-west-1")
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS"} {
		t.Setenv(k, "")
	}
}

// checkMSKIAMAuth checks the first AWS_MSK_IAM payload b received: the JSON
// fields MSK reads, and a SigV4 signature that the AWS SDK's own presigner
// computes the same from key, secret and token.
func checkMSKIAMAuth(t *testing.T, b *saslBroker, key, secret, token string) {
	t.Helper()
	handshakes, auths := b.recorded()
	require.NotEmpty(t, auths)
	assert.Equal(t, "AWS_MSK_IAM", handshakes[0])
	var payload map[string]string
	require.NoError(t, json.Unmarshal(auths[0], &payload), "payload %s", auths[0])

	assert.Equal(t, "2020_10_22", payload["version"])
	assert.Equal(t, "127.0.0.1", payload["host"])
	assert.Equal(t, "kafka-cluster:Connect", payload["action"])
	assert.Equal(t, "AWS4-HMAC-SHA256", payload["x-amz-algorithm"])
	assert.Equal(t, "host", payload["x-amz-signedheaders"])
	assert.Equal(t, "900", payload["x-amz-expires"])
	assert.NotEmpty(t, payload["user-agent"])
	assert.Equal(t, token, payload["x-amz-security-token"])
	signedAt, err := time.Parse("20060102T150405Z", payload["x-amz-date"])
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), signedAt, time.Minute)
	date := signedAt.Format("20060102")
	assert.Equal(t, key+"/"+date+"/eu-west-1/kafka-cluster/aws4_request", payload["x-amz-credential"])

	// Presign the same GET / request with the SDK's own signer.
	req, err := http.NewRequest(http.MethodGet, "https://127.0.0.1/?Action=kafka-cluster%3AConnect&X-Amz-Expires=900", nil)
	require.NoError(t, err)
	signed, _, err := v4.NewSigner().PresignHTTP(t.Context(), aws.Credentials{
		AccessKeyID: key, SecretAccessKey: secret, SessionToken: token,
	}, req, emptyPayloadSHA256, "kafka-cluster", "eu-west-1", signedAt)
	require.NoError(t, err)
	u, err := url.Parse(signed)
	require.NoError(t, err)
	assert.Equal(t, u.Query().Get("X-Amz-Credential"), payload["x-amz-credential"])
	assert.Len(t, payload["x-amz-signature"], 64)
	assert.Equal(t, u.Query().Get("X-Amz-Signature"), payload["x-amz-signature"], "the signature verifies with the test's credentials")
	for k := range payload {
		assert.NotContains(t, payload[k], secret, "field %s leaks the secret key", k)
	}
}

// TestKafkaFranzMSKIAMAssumedRole assumes credentials.role through an STS
// stand-in at aws.endpoint, and signs with the credentials it handed out.
func TestKafkaFranzMSKIAMAssumedRole(t *testing.T) {
	mskIAMTestEnv(t)
	var mu sync.Mutex
	var calls []url.Values
	sts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.NoError(t, r.ParseForm())
		mu.Lock()
		calls = append(calls, r.PostForm)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleResult>
    <Credentials>
      <AccessKeyId>ASIAASSUMEDEXAMPLE</AccessKeyId>
      <SecretAccessKey>assumed/secret+key</SecretAccessKey>
      <SessionToken>assumed-session-token</SessionToken>
      <Expiration>%s</Expiration>
    </Credentials>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/duostream-msk-writer/s</Arn>
      <AssumedRoleId>AROAEXAMPLE:s</AssumedRoleId>
    </AssumedRoleUser>
  </AssumeRoleResult>
  <ResponseMetadata><RequestId>test</RequestId></ResponseMetadata>
</AssumeRoleResponse>`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	}))
	t.Cleanup(sts.Close)

	b := newSASLBroker(t, "AWS_MSK_IAM", []byte(`{"version":"2020_10_22","request-id":"test"}`))
	connectSASL(t, b, fmt.Sprintf(`    - mechanism: AWS_MSK_IAM
      aws:
        region: eu-west-1
        endpoint: %s
        credentials:
          id: AKIDBASEEXAMPLE
          secret: base/secret
          role: arn:aws:iam::123456789012:role/duostream-msk-writer
          role_external_id: duo-ext-42
`, sts.URL))

	mu.Lock()
	require.NotEmpty(t, calls, "the role was assumed at aws.endpoint")
	assert.Equal(t, "AssumeRole", calls[0].Get("Action"))
	assert.Equal(t, "arn:aws:iam::123456789012:role/duostream-msk-writer", calls[0].Get("RoleArn"))
	assert.Equal(t, "duo-ext-42", calls[0].Get("ExternalId"))
	mu.Unlock()
	checkMSKIAMAuth(t, b, "ASIAASSUMEDEXAMPLE", "assumed/secret+key", "assumed-session-token")
}

// emptyPayloadSHA256 is the hex SHA-256 of an empty body.
const emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// kafkaClientOf builds the franz-go client the writer would connect with,
// without dialing, to read its options back.
func kafkaClientOf(t *testing.T, yaml string) *kgo.Client {
	t.Helper()
	conf, err := kafkaFranzOutputSpec().ParseYAML("seed_brokers: [ a:1 ]\ntopic: duo\n"+yaml, nil)
	require.NoError(t, err)
	w, err := newKafkaFranzWriter(conf, service.MockResources())
	require.NoError(t, err)
	cl, err := kgo.NewClient(w.opts...)
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return cl
}

func TestKafkaFranzClientOptions(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		opt  any
		want string
	}{
		{"max_message_bytes default is 1MiB", "", kgo.ProducerBatchMaxBytes, "1048576"},
		{"max_message_bytes", "max_message_bytes: 2MB", kgo.ProducerBatchMaxBytes, "2000000"},
		{"metadata_max_age default", "", kgo.MetadataMaxAge, "1m0s"},
		{"metadata_max_age", "metadata_max_age: 30s", kgo.MetadataMaxAge, "30s"},
		{"request_timeout_overhead default", "", kgo.RequestTimeoutOverhead, "10s"},
		{"request_timeout_overhead", "request_timeout_overhead: 3s", kgo.RequestTimeoutOverhead, "3s"},
		{"conn_idle_timeout default", "", kgo.ConnIdleTimeout, "20s"},
		{"conn_idle_timeout", "conn_idle_timeout: 45s", kgo.ConnIdleTimeout, "45s"},
		{"allow_auto_topic_creation default", "", kgo.AllowAutoTopicCreation, "true"},
		{"allow_auto_topic_creation off", "allow_auto_topic_creation: false", kgo.AllowAutoTopicCreation, "false"},
		{"acks default", "", kgo.RequiredAcks, fmt.Sprint(kgo.AllISRAcks())},
		{"acks leader", "idempotent_write: false\nacks: leader", kgo.RequiredAcks, fmt.Sprint(kgo.LeaderAck())},
		{"acks none", "idempotent_write: false\nacks: none", kgo.RequiredAcks, fmt.Sprint(kgo.NoAck())},
		{"broker_write_max_bytes default", "", kgo.BrokerMaxWriteBytes, "104857600"},
		{"broker_write_max_bytes", "broker_write_max_bytes: 10MiB", kgo.BrokerMaxWriteBytes, "10485760"},
		{"max_buffered_records default", "", kgo.MaxBufferedRecords, "10000"},
		{"max_buffered_records", "max_buffered_records: 500", kgo.MaxBufferedRecords, "500"},
		{"max_buffered_bytes default is off", "", kgo.MaxBufferedBytes, "0"},
		{"max_buffered_bytes", "max_buffered_bytes: 256MiB", kgo.MaxBufferedBytes, "268435456"},
		{"max_in_flight_requests default", "", kgo.MaxProduceRequestsInflightPerBroker, "1"},
		{"max_in_flight_requests", "idempotent_write: false\nmax_in_flight_requests: 5", kgo.MaxProduceRequestsInflightPerBroker, "5"},
		{"record_retries", "record_retries: 7", kgo.RecordRetries, "7"},
		{"record_delivery_timeout default is off", "", kgo.RecordDeliveryTimeout, "0s"},
		{"record_delivery_timeout", "record_delivery_timeout: 2m", kgo.RecordDeliveryTimeout, "2m0s"},
		{"rack_id default is off", "", kgo.Rack, ""},
		{"rack_id default: no rack-aware partitioning", "", kgo.RackAwarePartitioning, "false"},
		{"rack_id sets the rack", "rack_id: use1-az1", kgo.Rack, "use1-az1"},
		{"rack_id turns on rack-aware partitioning", "rack_id: use1-az1", kgo.RackAwarePartitioning, "true"},
		{"timeout is the produce request timeout", "timeout: 7s", kgo.ProduceRequestTimeout, "7s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl := kafkaClientOf(t, tt.yaml)
			assert.Equal(t, tt.want, fmt.Sprint(cl.OptValue(tt.opt)))
		})
	}
	// record_retries 0 means unlimited: the option is left at franz-go's
	// default.
	def := kafkaClientOf(t, "")
	unset, err := kgo.NewClient(kgo.SeedBrokers("a:1"))
	require.NoError(t, err)
	defer unset.Close()
	assert.Equal(t, unset.OptValue(kgo.RecordRetries), def.OptValue(kgo.RecordRetries))
}

func TestKafkaFranzTCPDialer(t *testing.T) {
	conf, err := kafkaFranzOutputSpec().ParseYAML(`seed_brokers: [ a:1 ]
topic: duo
tcp:
  connect_timeout: 3s
  keep_alive:
    idle: 30s
    interval: 5s
    count: 4
  tcp_user_timeout: 20s
`, nil)
	require.NoError(t, err)
	d, err := tcpDialerFromParsed(conf.Namespace(kfoFieldTCP), kfoFieldTCP)
	require.NoError(t, err)
	assert.Equal(t, 3*time.Second, d.Timeout)
	assert.Equal(t, net.KeepAliveConfig{Enable: true, Idle: 30 * time.Second, Interval: 5 * time.Second, Count: 4}, d.KeepAliveConfig)
	require.NotNil(t, d.ControlContext, "tcp_user_timeout sets a socket option")

	// The dialer really dials: a listener sees the connection, with the
	// socket option applied.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c, err := d.DialContext(t.Context(), "tcp", ln.Addr().String())
	require.NoError(t, err)
	require.NoError(t, c.Close())

	def, err := kafkaFranzOutputSpec().ParseYAML("seed_brokers: [ a:1 ]\ntopic: duo\n", nil)
	require.NoError(t, err)
	d, err = tcpDialerFromParsed(def.Namespace(kfoFieldTCP), kfoFieldTCP)
	require.NoError(t, err)
	assert.Zero(t, d.Timeout, "connect_timeout 0s sets no dial limit")
	assert.Equal(t, net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 15 * time.Second, Count: 9}, d.KeepAliveConfig)
	assert.Nil(t, d.ControlContext)
}

// TestKafkaFranzRecordTimestamp checks that timestamp_ms, and Connect's
// deprecated timestamp in seconds, set the record timestamps the broker
// stores; an empty result keeps the produce time and a bad one fails only
// its message.
func TestKafkaFranzRecordTimestamp(t *testing.T) {
	for _, tt := range []struct {
		field, value string
		want         time.Time
	}{
		{"timestamp_ms", "1700000000123", time.UnixMilli(1700000000123)},
		{"timestamp", "1700000000", time.Unix(1700000000, 0)},
	} {
		t.Run(tt.field, func(t *testing.T) {
			c := newKfake(t, kfake.SeedTopics(1, "duo"))
			conf, err := kafkaFranzOutputSpec().ParseYAML(fmt.Sprintf("seed_brokers: [ %q ]\ntopic: duo\n%s: '${! meta(\"ts\").or(\"\") }'\n", c.ListenAddrs()[0], tt.field), nil)
			require.NoError(t, err)
			w, err := newKafkaFranzWriter(conf, service.MockResources())
			require.NoError(t, err)
			require.NoError(t, w.Connect(t.Context()))
			t.Cleanup(func() { assert.NoError(t, w.Close(context.Background())) })

			batch := duoBatch("ts", 3)
			batch[0].MetaSetMut("ts", tt.value)
			// batch[1] has no ts: the expression gives "", so the produce time.
			batch[2].MetaSetMut("ts", "yesterday")
			indexer := batch.Index()
			before := time.Now()
			err = w.WriteBatch(t.Context(), batch)
			var batchErr *service.BatchError
			require.ErrorAs(t, err, &batchErr)
			failed := map[int]string{}
			batchErr.WalkMessagesIndexedBy(indexer, func(i int, _ *service.Message, err error) bool {
				if err != nil {
					failed[i] = err.Error()
				}
				return true
			})
			assert.Len(t, failed, 1)
			assert.Contains(t, failed[2], tt.field+`: "yesterday" is not a number`)

			cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics("duo"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			require.NoError(t, err)
			defer cl.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			got := map[string]time.Time{}
			for len(got) < 2 && ctx.Err() == nil {
				cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { got[string(r.Value)] = r.Timestamp })
			}
			require.Len(t, got, 2)
			assert.Equal(t, tt.want, got[`{"txid":"ts-0"}`])
			assert.WithinDuration(t, before, got[`{"txid":"ts-1"}`], 5*time.Second)
		})
	}
}

func TestKafkaFranzAutoTopicCreation(t *testing.T) {
	c := newKfake(t, kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(1))
	send := outputStream(t, fmt.Sprintf("kafka_franz:\n  seed_brokers: [ %q ]\n  topic: duo-new\n", c.ListenAddrs()[0]))
	require.NoError(t, send(t.Context(), duoBatch("auto", 3)), "the default asks the broker to create the topic")
	assert.Len(t, consumeTopic(t, t.Context(), "duo-new", kgo.SeedBrokers(c.ListenAddrs()...)), 3)

	conf, err := kafkaFranzOutputSpec().ParseYAML(fmt.Sprintf("seed_brokers: [ %q ]\ntopic: duo-missing\nallow_auto_topic_creation: false\ntimeout: 3s\n", c.ListenAddrs()[0]), nil)
	require.NoError(t, err)
	w, err := newKafkaFranzWriter(conf, service.MockResources())
	require.NoError(t, err)
	require.NoError(t, w.Connect(t.Context()))
	t.Cleanup(func() { assert.NoError(t, w.Close(context.Background())) })
	require.Error(t, w.WriteBatch(t.Context(), duoBatch("manual", 1)), "without it a missing topic fails the write")
}

// TestKafkaFranzConnectMSKIAMBlockLints lints a kafka_franz block written the
// way Redpanda Connect's documentation lays one out for Amazon MSK with IAM
// access control, every field spelled out, and expects no lint at all.
func TestKafkaFranzConnectMSKIAMBlockLints(t *testing.T) {
	const block = `
output:
  kafka_franz:
    seed_brokers:
      - b-1.duologs.abc123.c2.kafka.eu-west-1.amazonaws.com:9098
      - b-2.duologs.abc123.c2.kafka.eu-west-1.amazonaws.com:9098
    client_id: duostream
    tls:
      enabled: true
      skip_cert_verify: false
      enable_renegotiation: false
      root_cas: ""
      root_cas_file: ""
      client_certs: []
    sasl:
      - mechanism: AWS_MSK_IAM
        username: ""
        password: ""
        token: ""
        extensions: {}
        aws:
          region: eu-west-1
          endpoint: ""
          tcp:
            connect_timeout: 0s
            keep_alive:
              idle: 15s
              interval: 15s
              count: 9
            tcp_user_timeout: 0s
          credentials:
            profile: ""
            id: ""
            secret: ""
            token: ""
            from_ec2_role: false
            role: arn:aws:iam::123456789012:role/duostream-msk-writer
            role_external_id: ""
    metadata_max_age: 1m
    request_timeout_overhead: 10s
    conn_idle_timeout: 20s
    tcp:
      connect_timeout: 0s
      keep_alive:
        idle: 15s
        interval: 15s
        count: 9
      tcp_user_timeout: 0s
    topic: 'duo-${! meta("duo_log_type") }'
    key: '${! json("txid") }'
    partition: ""
    metadata:
      include_prefixes: [ "duo_" ]
      include_patterns: []
    timestamp_ms: '${! timestamp_unix_milli() }'
    max_in_flight: 10
    batching:
      count: 500
      byte_size: 0
      period: 1s
      check: ""
      processors: []
    partitioner: murmur2_hash
    idempotent_write: true
    compression: zstd
    allow_auto_topic_creation: false
    timeout: 10s
    max_message_bytes: 1MiB
    broker_write_max_bytes: 100MiB
    acks: all
    max_buffered_records: 10000
    max_buffered_bytes: "0"
    max_in_flight_requests: 1
    record_retries: 0
    record_delivery_timeout: 0s
    rack_id: euw1-az1
`
	lints, err := service.GlobalEnvironment().FullConfigSchema("", "").NewStreamConfigLinter().LintYAML([]byte(block))
	require.NoError(t, err)
	assert.Empty(t, lints)

	// And it builds (no request is made until Connect).
	var node struct {
		Output struct {
			KafkaFranz any `yaml:"kafka_franz"`
		} `yaml:"output"`
	}
	require.NoError(t, yaml.Unmarshal([]byte(block), &node))
	raw, err := yaml.Marshal(node.Output.KafkaFranz)
	require.NoError(t, err)
	conf, err := kafkaFranzOutputSpec().ParseYAML(string(raw), nil)
	require.NoError(t, err)
	_, err = newKafkaFranzWriter(conf, service.MockResources())
	require.NoError(t, err)
}

// TestKafkaFranzTLS writes over TLS through the output's own dialer (which
// the tcp block decorates): the broker's certificate is verified against
// root_cas and the broker's address, and refused without that CA.
func TestKafkaFranzTLS(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "kafka_franz test broker"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})

	c := newKfake(t, kfake.SeedTopics(1, "duo"), kfake.TLS(&tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}))
	addr := c.ListenAddrs()[0]

	send := outputStream(t, fmt.Sprintf("kafka_franz:\n  seed_brokers: [ %q ]\n  topic: duo\n  tcp:\n    connect_timeout: 5s\n  tls:\n    enabled: true\n    root_cas: %q\n", addr, caPEM))
	require.NoError(t, send(t.Context(), duoBatch("tls", 3)))
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	got := consumeTopic(t, t.Context(), "duo", kgo.SeedBrokers(addr), kgo.DialTLSConfig(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	assert.Len(t, got, 3)

	conf, err := kafkaFranzOutputSpec().ParseYAML(fmt.Sprintf("seed_brokers: [ %q ]\ntopic: duo\ntls:\n  enabled: true\n", addr), nil)
	require.NoError(t, err)
	w, err := newKafkaFranzWriter(conf, service.MockResources())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	err = w.Connect(ctx)
	require.Error(t, err, "a certificate from an unknown authority is refused")
	assert.ErrorContains(t, err, "certificate")
}
