// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package config

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/duostream/duostream/duoapi"
)

// TestDuoToKafka runs duo-to-kafka.yaml against the simulator and an
// in-process Kafka cluster (kfake, over TCP on 127.0.0.1), then consumes
// every topic back.
func TestDuoToKafka(t *testing.T) {
	f := newFixture(t, 11)

	const deadTopic = "duostream.dead-letters"
	logTopics := map[string]string{} // topic -> Panther log type
	topics := []string{deadTopic}
	for _, lt := range duoapi.AllLogTypes {
		topic := "duo." + string(lt)
		logTopics[topic] = lt.SchemaName()
		topics = append(topics, topic)
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(2), kfake.SeedTopics(3, topics...))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)
	brokers := strings.Join(cluster.ListenAddrs(), ",")

	env := f.env(t)
	env["KAFKA_BROKERS"] = brokers
	// KAFKA_TOPIC_PREFIX keeps its default, duo.
	env["KAFKA_DEAD_LETTER_TOPIC"] = deadTopic
	stop, done := runPipeline(t, "duo-to-kafka.yaml", env)

	admin, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	adm := kadm.NewClient(admin)
	endOffsets := func() (map[string]int64, error) {
		ends, err := adm.ListEndOffsets(t.Context(), topics...)
		if err != nil {
			return nil, err
		}
		if err := ends.Error(); err != nil {
			return nil, err
		}
		sums := map[string]int64{}
		ends.Each(func(o kadm.ListedOffset) { sums[o.Topic] += o.Offset })
		return sums, nil
	}
	want := map[string]int64{deadTopic: int64(len(f.dead))}
	for topic, lt := range logTopics {
		want[topic] = int64(len(f.normalized[lt]))
	}
	waitFor(t, done, "every record", func() (bool, string) {
		got, err := endOffsets()
		if err != nil {
			return false, err.Error()
		}
		for topic, n := range want {
			if got[topic] < n {
				return false, fmt.Sprintf("records per topic %v, want %v", got, want)
			}
		}
		return true, ""
	})
	stop()

	ends, err := endOffsets()
	require.NoError(t, err)
	assert.Equal(t, want, ends, "no record is written twice")

	d := newDelivery()
	records := consumeAll(t, topics, cluster.ListenAddrs(), ends)
	for _, r := range records {
		headers := map[string]string{}
		for _, h := range r.Headers {
			headers[h.Key] = string(h.Value)
		}
		if r.Topic == deadTopic {
			// The value is the original event, byte for byte; the reason
			// and the duo_ metadata are headers.
			d.deadRecords = append(d.deadRecords, deadLetter{
				logType:  headers["duo_log_type"],
				endpoint: headers["duo_endpoint"],
				reason:   headers["dead_letter_reason"],
				event:    string(r.Value),
			})
			assert.ElementsMatch(t, []string{"dead_letter_reason", "duo_log_type", "duo_endpoint", "duo_api_hostname", "duo_page_id"}, slices.Collect(maps.Keys(headers)), "the headers of a dead letter")
			assert.Regexp(t, "^[0-9a-f]{32}$", headers["duo_page_id"])
			assert.Equal(t, f.sim.APIHost(), headers["duo_api_hostname"])
			assert.Empty(t, r.Key, "dead letters have no key")
			continue
		}
		lt := logTopics[r.Topic]
		d.events[lt] = append(d.events[lt], r.Value)

		assert.Regexp(t, "^[0-9a-f]{32}$", headers["duo_page_id"], "the page's identity travels too")
		delete(headers, "duo_page_id")
		assert.Equal(t, map[string]string{
			"duo_log_type":     lt,
			"duo_endpoint":     endpoints[duoapi.LogType(logSlug(lt))],
			"duo_api_hostname": f.sim.APIHost(),
		}, headers, "the duo_ metadata, and only it, travels as headers")

		var ids struct {
			TxID       string `json:"txid"`
			ActivityID string `json:"activity_id"`
			SEKey      string `json:"sekey"`
			RowID      string `json:"p_row_id"`
		}
		require.NoError(t, json.Unmarshal(r.Value, &ids))
		switch lt {
		case duoapi.Authentication.SchemaName():
			require.NotEmpty(t, ids.TxID)
			assert.Equal(t, ids.TxID, string(r.Key), "authentication records are keyed by txid")
		case duoapi.Activity.SchemaName():
			require.NotEmpty(t, ids.ActivityID)
			assert.Equal(t, ids.ActivityID, string(r.Key), "activity records are keyed by activity_id")
		case duoapi.TrustMonitor.SchemaName():
			require.NotEmpty(t, ids.SEKey)
			assert.Equal(t, ids.SEKey, string(r.Key), "Trust Monitor records are keyed by sekey")
		default:
			assert.Empty(t, ids.TxID)
			assert.Equal(t, ids.RowID, string(r.Key), "records without an ID of their own are keyed by p_row_id")
		}
	}
	f.check(t, d)

	// Keys spread the records of the busiest topic over its partitions.
	partitions := map[int32]bool{}
	for _, r := range records {
		if r.Topic == "duo.authentication" {
			partitions[r.Partition] = true
		}
	}
	assert.Len(t, partitions, 3)
}

// consumeAll reads every record of topics, from the start to the given end
// offsets.
func consumeAll(t *testing.T, topics []string, brokers []string, ends map[string]int64) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	require.NoError(t, err)
	defer cl.Close()

	var want int64
	for _, n := range ends {
		want += n
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for int64(len(out)) < want {
		fetches := cl.PollFetches(ctx)
		require.NoError(t, ctx.Err(), "consumed %d of %d records", len(out), want)
		fetches.EachError(func(_ string, _ int32, err error) { require.NoError(t, err) })
		out = append(out, fetches.Records()...)
	}
	return out
}

// TestDuoToKafkaMissingTopicNamesTheBlock runs duo-to-kafka.yaml with the
// binary against a cluster that lacks the telephony topic. The error log
// must name the failing output block by its label; the other log types,
// each below checkpoint_limit, still arrive.
func TestDuoToKafkaMissingTopicNamesTheBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := duostreamBinary(t)
	f := newFixture(t, 14)
	const missing = "duo.telephony"
	want := map[string]int64{"duo.dead_letter": int64(len(f.dead))}
	var topics []string
	for _, lt := range duoapi.AllLogTypes {
		if topic := "duo." + string(lt); topic != missing {
			want[topic] = int64(len(f.normalized[lt.SchemaName()]))
			topics = append(topics, topic)
		}
	}
	topics = append(topics, "duo.dead_letter")
	cluster, err := kfake.NewCluster(kfake.SeedTopics(1, topics...))
	require.NoError(t, err)
	t.Cleanup(cluster.Close)

	vars := f.env(t)
	vars["KAFKA_BROKERS"] = strings.Join(cluster.ListenAddrs(), ",")
	vars["DUOSTREAM_HTTP_ADDRESS"] = "127.0.0.1:0"
	var out syncBuffer
	cmd := exec.Command(bin, "run", "duo-to-kafka.yaml")
	cmd.Env = processEnv(t, vars)
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	admin, err := kgo.NewClient(kgo.SeedBrokers(cluster.ListenAddrs()...))
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	adm := kadm.NewClient(admin)
	// The failing block, as Benthos logs it: its label and its path.
	// The broker's answer (UNKNOWN_TOPIC_OR_PARTITION, or a deadline while
	// the client waits for the topic) varies with timing; the topic does not.
	failing := regexp.MustCompile(`level=error msg="Failed to send message to kafka_franz: [^"]*topic ` + regexp.QuoteMeta(missing) + `: [^"]*" .*label=kafka_log_type_topics path=root\.output\.switch\.cases\.1\.output`)
	var line string
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("duostream run exited (%v):\n%s", err, out.Bytes())
		default:
		}
		got := map[string]int64{}
		ends, err := adm.ListEndOffsets(t.Context(), topics...)
		require.NoError(t, err)
		ends.Each(func(o kadm.ListedOffset) { got[o.Topic] += o.Offset })
		line = failing.FindString(string(out.Bytes()))
		if line != "" && assert.ObjectsAreEqual(want, got) {
			break
		}
		require.True(t, time.Now().Before(deadline), "records per topic %v, want %v; the log has no error line for the block kafka_log_type_topics:\n%s", got, want, out.Bytes())
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("error line: %s", line)
}
