// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// runMiniredis starts a miniredis whose keys expire as time passes, as a
// real Redis's do (miniredis moves its TTLs only when told).
func runMiniredis(t *testing.T) *miniredis.Miniredis {
	mr := miniredis.RunT(t)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				mr.FastForward(20 * time.Millisecond)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return mr
}

// leaseStream is a running stream of the input with a redis checkpoint
// cache and leases, as one of several processes of a config.
type leaseStream struct {
	strm *service.Stream
	done chan error
	logs *syncBuffer
}

func startLeaseStream(t *testing.T, redisAddr, inputYAML string, consume service.MessageBatchHandlerFunc) *leaseStream {
	t.Helper()
	b := service.NewStreamBuilder()
	ls := &leaseStream{done: make(chan error, 1), logs: &syncBuffer{}}
	b.SetPrintLogger(ls.logs)
	require.NoError(t, b.SetLoggerYAML(`level: info`))
	require.NoError(t, b.AddCacheYAML(fmt.Sprintf("label: state\nredis:\n  url: redis://%s\n  prefix: 'duo:'\n", redisAddr)))
	require.NoError(t, b.AddInputYAML(inputYAML))
	require.NoError(t, b.AddBatchConsumerFunc(consume))
	var err error
	ls.strm, err = b.Build()
	require.NoError(t, err)
	go func() { ls.done <- ls.strm.Run(context.Background()) }()
	return ls
}

func (ls *leaseStream) stop(t *testing.T) {
	t.Helper()
	if err := ls.strm.StopWithin(10 * time.Second); err != nil {
		select {
		case runErr := <-ls.done:
			t.Fatalf("stop: %v; the stream had ended: %v; logs:\n%s", err, runErr, ls.logs.String())
		default:
			t.Fatalf("stop: %v; logs:\n%s", err, ls.logs.String())
		}
	}
	<-ls.done
}

// TestLeasesShareChildStreams runs two inputs of one config with leases on
// a shared Redis: they split the children's streams, and when one stops
// the other takes its streams over from the stored positions, so that every
// event arrives, at most the pages in flight twice.
func TestLeasesShareChildStreams(t *testing.T) {
	mr := runMiniredis(t)
	sim, err := duosim.Start(duosim.Config{Seed: 31, AccountsAPI: true})
	require.NoError(t, err)
	defer sim.Close()
	now := time.Now()
	from, to := now.Add(-40*time.Hour), now.Add(-10*time.Minute)
	want := map[string]int{}
	for i := range 6 {
		id := fmt.Sprintf("DA%018d", i)
		c, err := sim.AddChild(duosim.ChildConfig{ID: id, Name: fmt.Sprintf("Child %d", i), APIHostname: fmt.Sprintf("api-%08d.duosecurity.com", i)})
		require.NoError(t, err)
		require.NoError(t, c.Generate(duoapi.Authentication, 6000, from, to))
		for _, ev := range c.Events(duoapi.Authentication, from, now) {
			want[identity(id, duoapi.Authentication.SchemaName(), ev.Body)]++
		}
	}
	conf := simInputYAML(sim, `  log_types: [authentication]
  accounts:
    discover: true
    refresh_interval: 1s
  lease:
    cache: state
    ttl: 3s
`)
	// a's output is slow, so that a stops with its streams half read.
	slow := func(c *collector) service.MessageBatchHandlerFunc {
		return func(ctx context.Context, b service.MessageBatch) error {
			time.Sleep(200 * time.Millisecond)
			return c.consume(ctx, b)
		}
	}
	a, b := newCollector(), newCollector()
	sa := startLeaseStream(t, mr.Addr(), conf, slow(a))
	sb := startLeaseStream(t, mr.Addr(), conf, b.consume)
	require.Eventually(t, func() bool { return a.delivered() > 1000 && b.delivered() > 1000 }, 30*time.Second, 20*time.Millisecond, "both inputs pull their share")
	require.Less(t, a.delivered(), 3*6000, "a stops half way")
	// The status pages of the two tell the same story: each stream is
	// pulled by one of them, the other stands by.
	require.Eventually(t, func() bool {
		owners := map[string][]string{}
		statusInputs.Lock()
		for _, in := range statusInputs.inputs {
			st := in.status(time.Now())
			for _, s := range st.Streams {
				if !s.Standby {
					owners[s.AccountID] = append(owners[s.AccountID], st.Instance)
				}
			}
		}
		statusInputs.Unlock()
		for id, o := range owners {
			assert.Len(t, o, 1, "child %s pulled by %v", id, o)
		}
		return len(owners) == 6
	}, 10*time.Second, 10*time.Millisecond, "every child's stream owned")
	sa.stop(t)
	if !assert.Eventually(t, func() bool { return complete(want, a, b) }, 60*time.Second, 50*time.Millisecond, "the other input takes over and finishes") {
		lost, repeated, _ := tally(want, a, b)
		t.Fatalf("lost %d, repeated %d; a's logs:\n%s\nb's logs:\n%s", lost, repeated, sa.logs.String(), sb.logs.String())
	}
	sb.stop(t)

	lost, repeated, foreign := tally(want, a, b)
	assert.Zero(t, lost)
	assert.Zero(t, foreign)
	// Each of a's streams can repeat at most what was read but not stored
	// when a stopped: the checkpoint_limit's pages in flight.
	assert.LessOrEqual(t, repeated, 6*1024, "duplicates within the pages in flight")
	assert.Greater(t, a.delivered(), 0)
	t.Logf("%d events, %d by a, %d by b, %d delivered twice", total(want), a.delivered(), b.delivered(), repeated)
	assert.Regexp(t, `Took over Duo authentication of account DA\d+ \("Child \d"\) logs \(instance \S+/\d+-[0-9a-f]{6} held it last\)`, sb.logs.String(), "b took a's streams over")
	for _, logs := range []string{sa.logs.String(), sb.logs.String()} {
		assert.NotContains(t, logs, sim.SecretKey())
	}
}

// TestLeasesOneOwnerPerInput checks an input without accounts.discover: one
// lease covers all its log types, so of two processes only one pulls.
func TestLeasesOneOwnerPerInput(t *testing.T) {
	mr := runMiniredis(t)
	sim, err := duosim.Start(duosim.Config{Seed: 32})
	require.NoError(t, err)
	defer sim.Close()
	now := time.Now()
	require.NoError(t, sim.Generate(duoapi.Authentication, 3000, now.Add(-30*time.Hour), now.Add(-10*time.Minute)))
	require.NoError(t, sim.Generate(duoapi.Administrator, 500, now.Add(-30*time.Hour), now.Add(-10*time.Minute)))
	want := expected(sim, now.Add(-48*time.Hour), now)
	conf := simInputYAML(sim, `  log_types: [authentication, administrator]
  lease:
    cache: state
    ttl: 3s
`)
	a, b := newCollector(), newCollector()
	sa := startLeaseStream(t, mr.Addr(), conf, a.consume)
	sb := startLeaseStream(t, mr.Addr(), conf, b.consume)
	require.Eventually(t, func() bool { return complete(want, a, b) }, 30*time.Second, 20*time.Millisecond)
	time.Sleep(1500 * time.Millisecond)
	sa.stop(t)
	sb.stop(t)
	assert.True(t, a.delivered() == 0 || b.delivered() == 0, "one owner pulled everything: a %d, b %d", a.delivered(), b.delivered())
	lost, repeated, _ := tally(want, a, b)
	assert.Zero(t, lost)
	assert.Zero(t, repeated)
}

// TestLeaseNeedsRedis checks that a lease cache that is not redis stops the
// input at connect with an error naming the field.
func TestLeaseNeedsRedis(t *testing.T) {
	parsed, err := duoAdminLogsSpec().ParseYAML(baseConfig("lease: { cache: state }\n"), nil)
	require.NoError(t, err)
	in, err := newDuoAdminLogsInput(parsed, service.MockResources(service.MockResourcesOptAddCache("state")))
	require.NoError(t, err)
	err = in.Connect(t.Context())
	require.Error(t, err)
	assert.Equal(t, `field lease.cache: cache "state" is not a redis cache; leases need a redis cache resource`, err.Error())
}
