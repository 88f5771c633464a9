// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
	"github.com/duostream/duostream/input"
)

// Settings of the MSP tests.
const (
	// mspRefresh is the refresh_interval: how often the input reads the
	// child list again.
	mspRefresh = 3 * time.Second
	// mspChildren is how many child accounts the parent of
	// TestMSPChildAccounts has, mspCrossDeployment of them cross-deployment
	// sub-accounts, which refuse the parent's calls.
	mspChildren        = 50
	mspCrossDeployment = 2
	// mspCrashChildren is how many child accounts TestMSPCrashRestart
	// backfills, and mspCrashKills how often it kills duostream.
	mspCrashChildren = 20
	mspCrashKills    = 6
	// mspCrashCheckpointLimit is the checkpoint_limit of the crash test,
	// the smallest the input takes, so that the bound on what is in flight
	// per stream is tight.
	mspCrashCheckpointLimit = 1000
	// mspUnreachableHint is what the error about a cross-deployment child
	// must say to do.
	mspUnreachableHint = "own Admin API application"
)

// mspBackfill is what every child of TestMSPChildAccounts holds: the six
// log types, authentication and Trust Monitor over more than one page.
var mspBackfill = map[duoapi.LogType]int{
	duoapi.Authentication:    1500,
	duoapi.Administrator:     300,
	duoapi.Telephony:         200,
	duoapi.OfflineEnrollment: 50,
	duoapi.Activity:          150,
	duoapi.TrustMonitor:      250,
}

// mspCrashBackfill is what every child of TestMSPCrashRestart holds, with
// mspCrashBurst administrator events of it in one second, which a page
// splits.
var mspCrashBackfill = map[duoapi.LogType]int{
	duoapi.Authentication:    3000,
	duoapi.Administrator:     1000,
	duoapi.Telephony:         800,
	duoapi.OfflineEnrollment: 200,
	duoapi.Activity:          400,
	duoapi.TrustMonitor:      400,
}

const mspCrashBurst = 300

// mspChild is a child account of the simulated parent with the ledger of
// its backfill.
type mspChild struct {
	*duosim.Child
	l *ledger
}

// backfillChild fills child c with n[t] generated events of each log type
// t between from and to, and returns it with their ledger.
func backfillChild(t testing.TB, c *duosim.Child, n map[duoapi.LogType]int, from, to time.Time) mspChild {
	t.Helper()
	kid, err := generateChild(c, n, from, to)
	require.NoError(t, err)
	return kid
}

// generateChild is backfillChild for a goroutine that is not the test's.
func generateChild(c *duosim.Child, n map[duoapi.LogType]int, from, to time.Time) (mspChild, error) {
	for _, lt := range duoapi.AllLogTypes {
		if n[lt] > 0 {
			if err := c.Generate(lt, n[lt], from, to); err != nil {
				return mspChild{}, fmt.Errorf("child %s: %w", c.ID(), err)
			}
		}
	}
	l, err := newLedger(c)
	if err != nil {
		return mspChild{}, fmt.Errorf("child %s: %w", c.ID(), err)
	}
	return mspChild{c, l}, nil
}

// addCrossDeployment adds the i-th cross-deployment child to sim: listed,
// but refusing every log request with 403 / 40301.
func addCrossDeployment(t testing.TB, sim *duosim.Server, i int) *duosim.Child {
	t.Helper()
	c, err := sim.AddChild(duosim.ChildConfig{
		ID:              fmt.Sprintf("DAXDEPLOYMENT%07d", i),
		Name:            fmt.Sprintf("Federal Agency %d", i),
		APIHostname:     fmt.Sprintf("api-xdep%04d.duofederal.com", i),
		CrossDeployment: true,
	})
	require.NoError(t, err)
	return c
}

// mspInput returns the input section of a pipeline that discovers the
// children of sim's parent account, refreshing the list every mspRefresh,
// with a budget no backfill here reaches; extra fields of duo_admin_logs
// replace the defaults.
func mspInput(sim *duosim.Server, extra map[string]any) map[string]any {
	fields := map[string]any{
		"accounts":            map[string]any{"discover": true, "refresh_interval": mspRefresh.String()},
		"initial_lookback":    "25h",
		"requests_per_minute": 60000,
	}
	maps.Copy(fields, extra)
	return duoInput(sim, fields)
}

// mspFileOutput writes each event, one per line, to
// dir/<duo_account_id>/<duo_api_hostname>/<duo_account_name>/<duo_log_type>.jsonl,
// so that where an event lands tells under which account's metadata it
// came, while the event itself stays as Duo sent it (administrator and
// offline enrollment events are identified by their content).
func mspFileOutput(dir string) map[string]any {
	return map[string]any{"file": map[string]any{
		"path": filepath.Join(dir, `${! meta("duo_account_id") }`, `${! meta("duo_api_hostname") }`,
			`${! meta("duo_account_name") }`, `${! meta("duo_log_type") }.jsonl`),
		"codec": "lines",
	}}
}

// accountOutput is what the file output of mspFileOutput holds for one
// account ID.
type accountOutput struct {
	// labels are the "<api hostname>/<account name>" directories that the
	// account's events came under: one, the child's own.
	labels []string
	got    map[duoapi.LogType]counts
}

// readAccountOutputs reads what mspFileOutput wrote under dir, by account
// ID (see readAccountOutput).
func readAccountOutputs(dir string) (map[string]*accountOutput, error) {
	out := map[string]*accountOutput{}
	ids, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if out[id.Name()], err = readAccountOutput(dir, id.Name()); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readAccountOutput reads what mspFileOutput wrote under dir for account
// ID id, nil when nothing (see readDelivered for the marks a SIGKILL
// leaves). A file that is not a log type's is an error: an event without
// its duo_log_type.
func readAccountOutput(dir, id string) (*accountOutput, error) {
	hosts, err := os.ReadDir(filepath.Join(dir, id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	files := map[string]bool{}
	for _, lt := range duoapi.AllLogTypes {
		files[lt.SchemaName()+".jsonl"] = true
	}
	ao := &accountOutput{got: map[duoapi.LogType]counts{}}
	for _, lt := range duoapi.AllLogTypes {
		ao.got[lt] = counts{}
	}
	for _, host := range hosts {
		names, err := os.ReadDir(filepath.Join(dir, id, host.Name()))
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			labelDir := filepath.Join(dir, id, host.Name(), name.Name())
			entries, err := os.ReadDir(labelDir)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				if !files[e.Name()] {
					return nil, fmt.Errorf("%s: not a log type's file", filepath.Join(labelDir, e.Name()))
				}
			}
			ao.labels = append(ao.labels, host.Name()+"/"+name.Name())
			got, err := readDelivered(labelDir)
			if err != nil {
				return nil, err
			}
			for lt, c := range got {
				for ev, n := range c {
					ao.got[lt][ev] += n
				}
			}
		}
	}
	return ao, nil
}

// outputSize returns the bytes of every file under dir.
func outputSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// childrenDelivered reports whether the file output of mspFileOutput under
// dir holds every event of every child in kids.
func childrenDelivered(t testing.TB, dir string, kids []mspChild) bool {
	t.Helper()
	for _, c := range kids {
		ao, err := readAccountOutput(dir, c.ID())
		require.NoError(t, err)
		if ao == nil || !c.l.complete(ao.got) {
			return false
		}
	}
	return true
}

// waitChildrenDelivered waits until the file output of mspFileOutput under
// outDir holds every event of kids, failing t after within or when p exits.
func waitChildrenDelivered(t testing.TB, p *proc, outDir string, kids []mspChild, within time.Duration, what string) {
	t.Helper()
	var bytes int64
	for _, c := range kids {
		bytes += c.l.bytes
	}
	waitFor(t, p, within, 200*time.Millisecond, what, func() bool {
		if outputSize(outDir) < bytes {
			return false
		}
		return childrenDelivered(t, outDir, kids)
	})
}

// readAccountPositions opens the checkpoint cache that store configures and
// reads the stored cursor of every log type of each child account in ids,
// as the input reads them (under input.AccountPrefix of prefix, the
// checkpoint_key); a log type with none stored is left out. A slot that
// cannot be read is an error.
func readAccountPositions(ctx context.Context, store map[string]any, prefix string, ids []string) (map[string]map[duoapi.LogType]duoapi.Cursor, error) {
	out := map[string]map[duoapi.LogType]duoapi.Cursor{}
	err := withCache(ctx, store, func(c service.Cache) error {
		for _, id := range ids {
			cursors := map[duoapi.LogType]duoapi.Cursor{}
			for _, lt := range duoapi.AllLogTypes {
				p, found, err := input.ReadPosition(ctx, c, input.AccountPrefix(prefix, id), lt)
				if err != nil {
					return fmt.Errorf("child %s, stored %s position: %w", id, lt, err)
				}
				if found {
					cursors[lt] = p.Cursor
				}
			}
			out[id] = cursors
		}
		return nil
	})
	return out, err
}

// uncovered returns how many events of l the stored cursors do not cover:
// those a restart would read again.
func uncovered(t testing.TB, l *ledger, cursors map[duoapi.LogType]duoapi.Cursor) int {
	t.Helper()
	missing := 0
	for _, lt := range duoapi.AllLogTypes {
		cov, err := l.covered(lt, cursors[lt])
		require.NoError(t, err)
		for id, n := range l.want[lt] {
			missing += max(0, n-cov[id])
		}
	}
	return missing
}

// errorLines returns the error lines of a logfmt log.
func errorLines(logs string) []string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "level=error") {
			out = append(out, line)
		}
	}
	return out
}

// TestMSPChildAccounts runs duostream with accounts.discover on an MSP
// parent with 50 child accounts, two of them cross-deployment sub-accounts
// that refuse the parent's calls, each child with its own backfill of the
// six log types, and the parent with events of its own. Every reachable
// child's events are delivered exactly once, by identity, each under its
// own account's duo_account_id, duo_account_name and duo_api_hostname; the
// parent's are not read. The two unreachable children are reported: an
// error naming the account and the fix, at most one per read of the child
// list (every refresh_interval), none blaming the child's edition, and
// duo_account_unreachable{account} at 1, while the others go on
// undisturbed. A child added while duostream runs is picked up at the next
// refresh and its backfill delivered exactly once; a child removed stops
// at the next refresh. After a clean stop the stored cursors of every
// child cover its events.
func TestMSPChildAccounts(t *testing.T) {
	sim := startSim(t, duosim.Config{Seed: suiteSeed, AccountsAPI: true})
	now := time.Now()
	from, to := now.Add(-24*time.Hour), now.Add(-5*time.Minute)
	// The parent's own events, which discover leaves alone.
	require.NoError(t, sim.Generate(duoapi.Authentication, 200, from, to))

	// The cross-deployment children sit among the others in the list.
	var reachable, unreachable []mspChild
	for i := range mspCrossDeployment {
		kids, err := sim.GenerateChildren((mspChildren - mspCrossDeployment) / mspCrossDeployment)
		require.NoError(t, err)
		for _, c := range kids {
			reachable = append(reachable, backfillChild(t, c, mspBackfill, from, to))
		}
		unreachable = append(unreachable, backfillChild(t, addCrossDeployment(t, sim, i+1), mspBackfill, from, to))
	}
	require.Len(t, sim.Children(), mspChildren)
	total := 0
	for _, c := range reachable {
		total += c.l.total()
	}

	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	dbPath := filepath.Join(dir, "state", "checkpoints.db")
	started := time.Now()
	p := startDuostream(t, dir, "msp", map[string]any{
		"input":           mspInput(sim, map[string]any{"checkpoint_key": "msp", "poll_interval": "2s"}),
		"cache_resources": bboltCache(dbPath),
		"output":          mspFileOutput(outDir),
	})
	waitChildrenDelivered(t, p, outDir, reachable, 2*time.Minute, "every reachable child's backfill delivered")
	backfillTook := time.Since(started)

	unreachableGauge := func(m metricSet, id string) float64 { return m.sum("duo_account_unreachable", "account", id) }
	var m metricSet
	waitFor(t, p, 2*mspRefresh+10*time.Second, 100*time.Millisecond, "duo_account_unreachable 1 for both cross-deployment children", func() bool {
		var err error
		m, err = p.metrics()
		require.NoError(t, err)
		for _, c := range unreachable {
			if unreachableGauge(m, c.ID()) != 1 {
				return false
			}
		}
		return true
	})
	for _, c := range reachable {
		assert.Zero(t, unreachableGauge(m, c.ID()), "duo_account_unreachable of reachable child %s", c.ID())
	}
	assert.Equal(t, float64(mspChildren), m.sum("duo_child_accounts"), "duo_child_accounts")

	// A child added while duostream runs. It is added just after a refresh
	// of the list and its events generated at once, so that no refresh can
	// find it before its events are there (the events are older than the
	// last window read, so a child read before them would skip them).
	lists := func() int {
		return sim.RequestCounts()[duosim.PathStatus{Path: duoapi.PathAccountList, Status: 200}]
	}
	// nextRefresh waits for the next read of the child list.
	nextRefresh := func(what string) {
		t.Helper()
		listed := lists()
		waitFor(t, p, 2*mspRefresh+10*time.Second, 2*time.Millisecond, what, func() bool { return lists() > listed })
	}
	requestsFor := func(id string) int {
		n := 0
		for _, v := range sim.AccountRequestCounts(id) {
			n += v
		}
		return n
	}
	nextRefresh("a refresh of the child list")
	c, err := sim.AddChild(duosim.ChildConfig{ID: "DAADDEDWHILERUNNING1", Name: "Latecomer Veterinary Clinic", APIHostname: "api-late0001.duosecurity.com"})
	require.NoError(t, err)
	addedAt := time.Now()
	added := backfillChild(t, c, mspBackfill, from, to)
	require.Empty(t, sim.AccountRequestCounts(added.ID()),
		"a log request reached the added child before its events were generated: the test raced a refresh")
	waitChildrenDelivered(t, p, outDir, []mspChild{added}, 4*mspRefresh+time.Minute, "the added child's backfill delivered")
	pickupTook := time.Since(addedAt)
	var firstRequest time.Duration = -1
	for _, r := range sim.Requests() {
		if r.AccountID == added.ID() {
			firstRequest = r.Time.Sub(addedAt)
			break
		}
	}
	require.GreaterOrEqual(t, firstRequest, time.Duration(0), "a request for the added child in the simulator's log")
	assert.LessOrEqual(t, firstRequest, mspRefresh+2*time.Second, "the added child is read from the first refresh after it appears")
	waitFor(t, p, 2*mspRefresh+10*time.Second, 100*time.Millisecond, "duo_child_accounts counting the added child", func() bool {
		m, err = p.metrics()
		require.NoError(t, err)
		return m.sum("duo_child_accounts") == mspChildren+1
	})
	reachable = append(reachable, added)
	total += added.l.total()

	// duo_events_total counts each child's events under its own account.
	for _, c := range reachable {
		assert.Equal(t, float64(c.l.total()), m.sum("duo_events_total", "account", c.ID()), "duo_events_total of child %s", c.ID())
	}
	for _, c := range unreachable {
		assert.Zero(t, m.sum("duo_events_total", "account", c.ID()), "duo_events_total of unreachable child %s", c.ID())
		assert.Equal(t, float64(1), unreachableGauge(m, c.ID()), "duo_account_unreachable of %s once the added child is read", c.ID())
	}

	// A child that leaves the list stops at the next refresh: with
	// poll_interval 2s its caught-up streams would ask again within two
	// refreshes. Until that refresh its requests are refused (403), which
	// may log one error about it.
	removed := reachable[0]
	nextRefresh("a refresh of the child list before a removal")
	require.NoError(t, sim.RemoveChild(removed.ID()))
	nextRefresh("the refresh that drops the removed child")
	time.Sleep(100 * time.Millisecond)
	removedRequests := requestsFor(removed.ID())
	nextRefresh("a refresh after the removed child was dropped")
	nextRefresh("a second refresh after the removed child was dropped")
	assert.Equal(t, removedRequests, requestsFor(removed.ID()), "requests for child %s after the refresh that dropped it", removed.ID())
	m, err = p.metrics()
	require.NoError(t, err)
	assert.Equal(t, float64(mspChildren), m.sum("duo_child_accounts"), "duo_child_accounts once a child is removed")

	logs := p.logs()
	watched := time.Since(started)
	require.NoError(t, p.stop(30*time.Second), "duostream exits cleanly on SIGTERM; logs:\n%s", tail(p.logs(), 4000))

	// Delivered exactly once, each child's events under its own metadata,
	// nothing of the parent's or of the unreachable children.
	outs, err := readAccountOutputs(outDir)
	require.NoError(t, err)
	var sum tally
	for _, c := range reachable {
		ao := outs[c.ID()]
		require.NotNil(t, ao, "output of child %s", c.ID())
		assert.Equal(t, []string{c.APIHost() + "/" + c.Name()}, ao.labels,
			"child %s's events carry its duo_api_hostname and duo_account_name, and no other", c.ID())
		tl := sumTally(c.l.compare(ao.got))
		assert.Zero(t, tl.lost, "child %s: events lost", c.ID())
		assert.Zero(t, tl.dups, "child %s: events duplicated", c.ID())
		assert.Zero(t, tl.foreign, "child %s: events it does not hold delivered under its ID", c.ID())
		sum.lost, sum.dups, sum.foreign = sum.lost+tl.lost, sum.dups+tl.dups, sum.foreign+tl.foreign
	}
	var others []string
	for id := range outs {
		if !slices.ContainsFunc(reachable, func(c mspChild) bool { return c.ID() == id }) {
			others = append(others, id)
		}
	}
	assert.Empty(t, others, "output under account IDs that are no reachable child (an unreachable child's, the parent's, or none)")

	// The parent's own logs are not read: its only requests are the list.
	for k := range sim.AccountRequestCounts("") {
		assert.Equal(t, duoapi.PathAccountList, k.Path, "requests without account_id are account list calls only")
	}

	// The unreachable children: at most one error per refresh of the list
	// each, naming the account and the fix, and none that takes the 403 for
	// a log type the child's edition lacks; no other error.
	errs := errorLines(logs)
	maxErrors := lists()
	perChild, misread := map[string]int{}, map[string]int{}
	var unexpected []string
	removedErrors := 0
	for _, line := range errs {
		named := false
		if strings.Contains(line, removed.ID()) {
			named = true
			removedErrors++
		}
		for _, c := range unreachable {
			if strings.Contains(line, c.ID()) {
				named = true
				perChild[c.ID()]++
				msg := logMessage(line)
				assert.Contains(t, msg, mspUnreachableHint, "the error about %s says what to do", c.ID())
				if strings.Contains(msg, "is not available to this account") {
					misread[c.ID()]++
				}
			}
		}
		if !named {
			unexpected = append(unexpected, line)
		}
	}
	assert.Empty(t, unexpected, "errors about anything but the unreachable and the removed children")
	assert.LessOrEqual(t, removedErrors, 1, "errors about the removed child %s", removed.ID())
	var reqParts []string
	for _, c := range unreachable {
		n := perChild[c.ID()]
		assert.GreaterOrEqual(t, n, 1, "an error about unreachable child %s", c.ID())
		assert.LessOrEqual(t, n, maxErrors, "errors about %s in %s: at most one per read of the list (refresh_interval %s)", c.ID(), watched.Round(time.Second), mspRefresh)
		assert.Zero(t, misread[c.ID()], "errors that take the 403 of cross-deployment child %s on activity or Trust Monitor for a log type its edition lacks", c.ID())
		reqs := 0
		for k, v := range sim.AccountRequestCounts(c.ID()) {
			assert.Equal(t, 403, k.Status, "%s answers %s with 403", c.ID(), k.Path)
			reqs += v
		}
		assert.LessOrEqual(t, reqs, len(duoapi.AllLogTypes)*maxErrors, "requests for unreachable child %s", c.ID())
		reqParts = append(reqParts, fmt.Sprintf("%s %d errors (%d of them \"not available\"), %d requests", c.ID(), n, misread[c.ID()], reqs))
	}

	// After a clean stop each child's stored cursors cover its events, and
	// nothing is stored for the parent's own log types.
	ids := make([]string, 0, len(reachable))
	for _, c := range reachable {
		ids = append(ids, c.ID())
	}
	positions, err := readAccountPositions(t.Context(), bboltStore(dbPath), "msp", ids)
	require.NoError(t, err)
	for _, c := range reachable {
		assert.Zero(t, uncovered(t, c.l, positions[c.ID()]), "events of child %s not covered by its cursors at a clean stop", c.ID())
	}
	parent, err := readCursors(t.Context(), dbPath, "msp")
	require.NoError(t, err)
	assert.Empty(t, parent, "positions stored for the parent's own log types")

	figure(t, "parent with %d children (%d cross-deployment), 6 log types each: %d events of the %d reachable children delivered in %s, lost %d, duplicates %d, under another account %d; each child's events under its own account ID, name and API hostname; the parent's 200 events not read",
		mspChildren, mspCrossDeployment, total-added.l.total(), len(reachable)-1, backfillTook.Round(100*time.Millisecond), sum.lost, sum.dups, sum.foreign)
	figure(t, "unreachable children over %s (refresh_interval %s, %d reads of the list, so at most %d errors each): %s; duo_account_unreachable 1 for both, 0 for the %d others; first error: %s",
		watched.Round(100*time.Millisecond), mspRefresh, maxErrors, maxErrors, strings.Join(reqParts, "; "), len(reachable), logMessage(firstNaming(errs, unreachable[0].ID())))
	figure(t, "child added while running: first request %s after it appeared, its %d events delivered exactly once %s after it appeared; duo_child_accounts %d -> %d",
		firstRequest.Round(10*time.Millisecond), added.l.total(), pickupTook.Round(100*time.Millisecond), mspChildren, mspChildren+1)
	figure(t, "child removed while running (poll_interval 2s): %d requests for it until the refresh that dropped it, 0 in the two refreshes after, %d errors about it; duo_child_accounts %d -> %d",
		removedRequests, removedErrors, mspChildren+1, mspChildren)
}

// firstNaming returns the first of lines that contains s, or "".
func firstNaming(lines []string, s string) string {
	for _, line := range lines {
		if strings.Contains(line, s) {
			return line
		}
	}
	return ""
}

// TestMSPCrashRestart backfills 20 child accounts, six log types each,
// into a file output, and kills duostream with SIGKILL at six random
// moments, restarting it each time on the same bbolt checkpoint store.
// After each kill it reads every child's stored cursors and checks that
// they never cover an event that was not delivered, and measures the
// events delivered beyond them (in flight), at most checkpoint_limit plus
// one page per (child, log type) stream. In the end no child lost an
// event, the duplicates are at most the events in flight at the kills, and
// the stored cursors cover everything.
func TestMSPCrashRestart(t *testing.T) {
	rng := rand.New(rand.NewPCG(suiteSeed, 11))
	sim := startSim(t, duosim.Config{Seed: suiteSeed, AccountsAPI: true})
	now := time.Now()
	from, to := now.Add(-24*time.Hour), now.Add(-5*time.Minute)
	children, err := sim.GenerateChildren(mspCrashChildren)
	require.NoError(t, err)
	spread := maps.Clone(mspCrashBackfill)
	spread[duoapi.Administrator] -= mspCrashBurst
	var kids []mspChild
	var bytes int64
	total := 0
	for _, c := range children {
		sec := from.Add(time.Duration(rng.Int64N(int64(to.Sub(from))))).Truncate(time.Second)
		require.NoError(t, c.Generate(duoapi.Administrator, mspCrashBurst, sec, sec))
		kid := backfillChild(t, c, spread, from, to)
		kids = append(kids, kid)
		bytes += kid.l.bytes
		total += kid.l.total()
	}
	ids := make([]string, 0, len(kids))
	for _, c := range kids {
		ids = append(ids, c.ID())
	}

	dir := t.TempDir()
	outDir := filepath.Join(dir, "out")
	dbPath := filepath.Join(dir, "state", "checkpoints.db")
	conf := map[string]any{
		"input": mspInput(sim, map[string]any{
			"checkpoint_key":   "mspcrash",
			"checkpoint_limit": mspCrashCheckpointLimit,
		}),
		"cache_resources": bboltCache(dbPath),
		"output":          mspFileOutput(outDir),
	}
	var marks []float64
	for range mspCrashKills {
		marks = append(marks, 0.03+0.92*rng.Float64())
	}
	slices.Sort(marks)
	figure(t, "%d children, %d events (%.0f MB) in the simulator", len(kids), total, float64(bytes)/1e6)

	started := time.Now()
	inflightSum := 0
	for k, mark := range marks {
		p := startDuostream(t, dir, fmt.Sprintf("run%02d", k+1), conf)
		runStart := time.Now()
		startSize := outputSize(outDir)
		target := int64(mark * float64(bytes))
		waitFor(t, p, 2*time.Minute, 2*time.Millisecond, fmt.Sprintf("output past %d bytes", target), func() bool {
			n := outputSize(outDir)
			return n >= target && n > startSize
		})
		time.Sleep(time.Duration(rng.Int64N(int64(30 * time.Millisecond))))
		p.kill()
		alive := time.Since(runStart)

		positions, err := readAccountPositions(t.Context(), bboltStore(dbPath), "mspcrash", ids)
		require.NoError(t, err, "read the checkpoint store after kill %d", k+1)
		outs, err := readAccountOutputs(outDir)
		require.NoError(t, err, "after kill %d", k+1)
		killInflight, streams, busiest := 0, 0, 0
		for _, c := range kids {
			got := map[duoapi.LogType]counts{}
			if ao := outs[c.ID()]; ao != nil {
				got = ao.got
			}
			for _, lt := range duoapi.AllLogTypes {
				cov := counts{}
				if cur, ok := positions[c.ID()][lt]; ok {
					cov, err = c.l.covered(lt, cur)
					require.NoError(t, err)
				}
				inflight := 0
				for id, n := range c.l.want[lt] {
					d := min(got[lt][id], n)
					require.LessOrEqual(t, cov[id], d,
						"kill %d: the stored %s cursor of child %s covers event %s, which was not delivered", k+1, lt, c.ID(), id)
					inflight += d - cov[id]
				}
				assert.LessOrEqual(t, inflight, mspCrashCheckpointLimit+lt.PageLimit(),
					"kill %d: child %s, %s events delivered beyond the stored cursor", k+1, c.ID(), lt)
				if inflight > 0 {
					streams++
				}
				busiest = max(busiest, inflight)
				killInflight += inflight
			}
		}
		inflightSum += killInflight
		figure(t, "kill %d after %dms of run %d: output %.1f MB, %d events delivered beyond the stored cursors, in %d of %d streams (at most %d in one)",
			k+1, alive.Milliseconds(), k+1, float64(outputSize(outDir))/1e6, killInflight, streams, len(kids)*len(duoapi.AllLogTypes), busiest)
	}

	p := startDuostream(t, dir, "final", conf)
	waitChildrenDelivered(t, p, outDir, kids, 3*time.Minute, "every child's backfill delivered after the last restart")
	require.NoError(t, p.stop(30*time.Second), "duostream exits cleanly on SIGTERM; logs:\n%s", tail(p.logs(), 4000))
	elapsed := time.Since(started)

	outs, err := readAccountOutputs(outDir)
	require.NoError(t, err)
	positions, err := readAccountPositions(t.Context(), bboltStore(dbPath), "mspcrash", ids)
	require.NoError(t, err)
	var sum tally
	maxDups := 0
	for _, c := range kids {
		ao := outs[c.ID()]
		require.NotNil(t, ao, "output of child %s", c.ID())
		assert.Equal(t, []string{c.APIHost() + "/" + c.Name()}, ao.labels, "child %s's metadata", c.ID())
		tl := sumTally(c.l.compare(ao.got))
		assert.Zero(t, tl.lost, "child %s: events lost", c.ID())
		assert.Zero(t, tl.foreign, "child %s: events it does not hold delivered under its ID", c.ID())
		assert.Zero(t, uncovered(t, c.l, positions[c.ID()]), "events of child %s not covered by its cursors at a clean stop", c.ID())
		sum.lost, sum.dups, sum.foreign = sum.lost+tl.lost, sum.dups+tl.dups, sum.foreign+tl.foreign
		maxDups = max(maxDups, tl.dups)
	}
	assert.Len(t, outs, len(kids), "output under account IDs that are no child")
	assert.LessOrEqual(t, sum.dups, inflightSum, "duplicates beyond the events in flight at the kills")
	figure(t, "%d SIGKILLs during the backfill of %d children (%d events, 6 log types, a %d-event administrator second each) in %s: lost %d, duplicates %d (at most %d for one child), within the %d events in flight at the kills (each stream at most checkpoint_limit %d + one page beyond its stored cursor)",
		mspCrashKills, len(kids), total, mspCrashBurst, elapsed.Round(100*time.Millisecond), sum.lost, sum.dups, maxDups, inflightSum, mspCrashCheckpointLimit)
}
