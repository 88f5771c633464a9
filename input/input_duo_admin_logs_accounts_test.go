// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// accountCollector records every delivered event by account, with the
// metadata each message carried.
type accountCollector struct {
	mu     sync.Mutex
	counts map[string]int               // account/log type/event id -> deliveries
	meta   map[string]map[string]string // account -> metadata key -> value
	total  int
}

func newAccountCollector() *accountCollector {
	return &accountCollector{counts: map[string]int{}, meta: map[string]map[string]string{}}
}

func (c *accountCollector) consume(_ context.Context, batch service.MessageBatch) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range batch {
		b, err := m.AsBytes()
		if err != nil {
			return err
		}
		id, _ := m.MetaGet(MetaAccountID)
		lt, _ := m.MetaGet(MetaLogType)
		c.counts[id+"/"+lt+"/"+eventID(b)]++
		if c.meta[id] == nil {
			c.meta[id] = map[string]string{}
		}
		for _, k := range []string{MetaAccountName, MetaAPIHostname} {
			v, _ := m.MetaGet(k)
			if prev, ok := c.meta[id][k]; ok && prev != v {
				return fmt.Errorf("account %s: metadata %s is %q and %q", id, k, prev, v)
			}
			c.meta[id][k] = v
		}
		c.total++
	}
	return nil
}

func (c *accountCollector) delivered() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.total
}

// TestDiscoverChildAccounts pulls the children of an MSP parent through the
// input, stops it mid-backfill and starts it again: every reachable child's
// events arrive exactly once, under its own account's metadata, from
// positions stored under the child's keys; the cross-deployment child
// disturbs nothing.
func TestDiscoverChildAccounts(t *testing.T) {
	sim, err := duosim.Start(duosim.Config{Seed: 21, AccountsAPI: true})
	require.NoError(t, err)
	defer sim.Close()
	children := []duosim.ChildConfig{
		{ID: "DAAAAAAAAAAAAAAAAAA1", Name: "Alpha", APIHostname: "api-a1a1a1a1.duosecurity.com"},
		{ID: "DABBBBBBBBBBBBBBBBB2", Name: "Bravo", APIHostname: "api-b2b2b2b2.duofederal.com"},
		{ID: "DACCCCCCCCCCCCCCCCC3", Name: "Charlie", APIHostname: "api-c3c3c3c3.duosecurity.com", CrossDeployment: true},
	}
	now := time.Now()
	from, to := now.Add(-40*time.Hour), now.Add(-10*time.Minute)
	want := map[string]int{}
	for i, cc := range children {
		c, err := sim.AddChild(cc)
		require.NoError(t, err)
		require.NoError(t, c.Generate(duoapi.Authentication, 3000+500*i, from, to))
		require.NoError(t, c.Generate(duoapi.Administrator, 1500, from, to))
		if cc.CrossDeployment {
			continue
		}
		for _, lt := range []duoapi.LogType{duoapi.Authentication, duoapi.Administrator} {
			for _, ev := range c.Events(lt, from, now) {
				want[cc.ID+"/"+lt.SchemaName()+"/"+eventID(ev.Body)]++
			}
		}
	}
	state := filepath.Join(t.TempDir(), "state.db")
	conf := simInputYAML(sim, `  log_types: [authentication, administrator]
  accounts:
    discover: true
    refresh_interval: 1s
`)
	first := newAccountCollector()
	runStream(t, conf, state, first.consume, func() bool { return first.delivered() >= 4000 })
	require.Less(t, first.delivered(), total(want), "the first run stopped mid-backfill")

	second := newAccountCollector()
	done := func() bool {
		second.mu.Lock()
		defer second.mu.Unlock()
		for id, n := range want {
			if first.counts[id]+second.counts[id] < n {
				return false
			}
		}
		return true
	}
	runStream(t, conf, state, second.consume, done)
	var lost, repeated, foreign int
	for id, n := range want {
		got := first.counts[id] + second.counts[id]
		lost += max(0, n-got)
		repeated += max(0, got-n)
	}
	for _, c := range []*accountCollector{first, second} {
		for id := range c.counts {
			if want[id] == 0 {
				foreign++
			}
		}
	}
	t.Logf("first run %d, second run %d, repeated %d", first.delivered(), second.delivered(), repeated)
	assert.Zero(t, lost)
	assert.Zero(t, repeated, "a graceful stop stores every acknowledged position")
	assert.Zero(t, foreign, "no event of another account, or without one")
	for _, cc := range children[:2] {
		for _, c := range []*accountCollector{first, second} {
			if m := c.meta[cc.ID]; m != nil {
				assert.Equal(t, cc.Name, m[MetaAccountName])
				assert.Equal(t, cc.APIHostname, m[MetaAPIHostname], "duo_api_hostname is the child's host")
			}
		}
	}
	assert.Nil(t, second.meta[children[2].ID], "nothing of the cross-deployment child")

	res := cacheResources(t, fmt.Sprintf("bbolt:\n  path: %s\n", state))
	prefix := DefaultCheckpointKey(sim.APIHost(), sim.IntegrationKey())
	require.NoError(t, res.AccessCache(t.Context(), "state", func(c service.Cache) {
		for _, cc := range children {
			p, found, err := ReadPosition(t.Context(), c, AccountPrefix(prefix, cc.ID), duoapi.Authentication)
			require.NoError(t, err)
			assert.Equal(t, !cc.CrossDeployment, found, "child %s: a position under its own keys", cc.ID)
			if found {
				assert.True(t, p.Cursor.Position().After(to.Add(-time.Minute)), "child %s: the position is at the end of its events", cc.ID)
			}
		}
		_, found, err := ReadPosition(t.Context(), c, prefix, duoapi.Authentication)
		require.NoError(t, err)
		assert.False(t, found, "no position of the parent's own account")
	}))
}
