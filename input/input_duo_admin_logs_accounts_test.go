// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

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
				want[identity(cc.ID, lt.SchemaName(), ev.Body)]++
			}
		}
	}
	state := filepath.Join(t.TempDir(), "state.db")
	conf := simInputYAML(sim, `  log_types: [authentication, administrator]
  accounts:
    discover: true
    refresh_interval: 1s
`)
	first := newCollector()
	runStream(t, conf, state, first.consume, func() bool { return first.delivered() >= 4000 })
	require.Less(t, first.delivered(), total(want), "the first run stopped mid-backfill")

	second := newCollector()
	runStream(t, conf, state, second.consume, func() bool { return complete(want, first, second) })
	lost, repeated, foreign := tally(want, first, second)
	t.Logf("first run %d, second run %d, repeated %d", first.delivered(), second.delivered(), repeated)
	assert.Zero(t, lost)
	assert.Zero(t, repeated, "a graceful stop stores every acknowledged position")
	assert.Zero(t, foreign, "no event of another account, or without one")
	for _, cc := range children[:2] {
		for _, c := range []*collector{first, second} {
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
