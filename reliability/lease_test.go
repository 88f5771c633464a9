// Copyright 2026 The duostream authors. Licensed under the MIT licence.

//go:build reliability

package reliability

import (
	"bufio"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
)

// Settings of the lease tests.
const (
	// leaseTTL is the lease ttl of every process; they renew every
	// leaseTTL/3.
	leaseTTL   = 3 * time.Second
	leaseRenew = leaseTTL / 3
	// leaseChildren child accounts with the two leaseLogTypes each make the
	// 40 streams of TestLeaseFailover, each holding leaseEvents events
	// served in pages of leaseV1Page.
	leaseChildren = 20
	leaseEvents   = 600
	leaseV1Page   = 50
	// leaseMaxRPM is each process's max_requests_per_minute, which makes
	// the backfill last long enough for the kills, the pause and the Redis
	// outage to fall during it.
	leaseMaxRPM = 300
	// leaseKills is how many times TestLeaseFailover kills an owner.
	leaseKills = 4
	// leaseRedisDown is how long TestLeaseFailover stops Redis, as the
	// issue asks: every lease expires several times over meanwhile.
	leaseRedisDown = 20 * time.Second
	// leaseSpreadChildren children with two log types each make the 300
	// streams of TestLeaseSpreading, spread over three processes with at
	// most leaseSpreadMax each.
	leaseSpreadChildren = 150
	leaseSpreadMax      = 110
	// leaseScrapeSlack is what a takeover time measured by scraping
	// /stats of every process every 100ms, on two cores shared with the
	// processes, Redis and the simulator, may add to the contract's
	// ttl + ttl/3.
	leaseScrapeSlack = time.Second
)

// leaseLogTypes are the log types of the lease tests: v1 endpoints, whose
// small pages (leaseV1Page) make many requests per stream.
var leaseLogTypes = []duoapi.LogType{duoapi.Administrator, duoapi.OfflineEnrollment}

// redisServer is a redis-server subprocess of the test, on a loopback port
// it keeps across restarts, persisting every write (appendfsync always) in
// its own directory, so that a restart finds what was acknowledged.
type redisServer struct {
	t      testing.TB
	bin    string
	port   string
	dir    string
	starts int
	cmd    *exec.Cmd
	done   chan struct{}
}

// startRedis starts a redis-server for t, stopped when t ends. Without
// redis-server on PATH the test is skipped, or fails when CI=true
// (.ci/services/redis.sh installs it there).
func startRedis(t testing.TB) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server is not on PATH (.ci/services/redis.sh installs Debian's package): %v", err)
		}
		t.Skipf("redis-server is not on PATH: %v", err)
	}
	_, port, err := net.SplitHostPort(freeAddr(t))
	require.NoError(t, err)
	r := &redisServer{t: t, bin: bin, port: port, dir: t.TempDir()}
	r.start()
	t.Cleanup(func() {
		if r.running() {
			_ = r.cmd.Process.Signal(syscall.SIGKILL)
			<-r.done
		}
	})
	return r
}

// url is the redis cache's url for the server.
func (r *redisServer) url() string { return "redis://127.0.0.1:" + r.port + "/0" }

// start starts the server (again) on its port and directory and waits
// until it answers PING.
func (r *redisServer) start() {
	r.t.Helper()
	r.starts++
	log := filepath.Join(r.dir, fmt.Sprintf("redis-%d.log", r.starts))
	r.cmd = exec.Command(r.bin, "--bind", "127.0.0.1", "--port", r.port, "--protected-mode", "yes",
		"--appendonly", "yes", "--appendfsync", "always", "--save", "",
		"--dir", r.dir, "--daemonize", "no", "--logfile", log)
	require.NoError(r.t, r.cmd.Start())
	done := make(chan struct{})
	go func(cmd *exec.Cmd) { _ = cmd.Wait(); close(done) }(r.cmd)
	r.done = done
	deadline := time.Now().Add(15 * time.Second)
	for !r.ping() {
		if !r.running() || time.Now().After(deadline) {
			b, _ := os.ReadFile(log)
			r.t.Fatalf("redis-server on port %s did not answer PING; log:\n%s", r.port, tail(string(b), 2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping reports whether the server answers PING with PONG (not LOADING).
func (r *redisServer) ping() bool {
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+r.port, 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	return err == nil && strings.TrimSpace(line) == "+PONG"
}

func (r *redisServer) running() bool {
	select {
	case <-r.done:
		return false
	default:
		return true
	}
}

// stop stops the server with SIGTERM and waits for it to exit.
func (r *redisServer) stop() {
	r.t.Helper()
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(15 * time.Second):
		_ = r.cmd.Process.Signal(syscall.SIGKILL)
		<-r.done
		r.t.Fatal("redis-server still running 15s after SIGTERM")
	}
}

// leaseNode is one of the processes of a leaseCluster: a slot that is run
// again after each kill, under a new instance ID each time, so that the
// request log and the output tell the runs apart.
type leaseNode struct {
	slot     string
	runs     int
	instance string
	p        *proc
}

// leaseCluster is several duostream processes on one config: one redis
// checkpoint cache holding the leases, each process with its own file
// output (under out/<instance>), HTTP address and DUOSTREAM_INSTANCE_ID.
type leaseCluster struct {
	t     testing.TB
	dir   string
	conf  func(outDir string) map[string]any
	nodes []*leaseNode
	// instances lists every instance ID run, in order.
	instances []string
	procs     map[string]*proc
}

func newLeaseCluster(t testing.TB, n int, conf func(outDir string) map[string]any) *leaseCluster {
	c := &leaseCluster{t: t, dir: t.TempDir(), conf: conf, procs: map[string]*proc{}}
	t.Cleanup(func() {
		if t.Failed() {
			for _, id := range c.instances {
				logs := c.procs[id].logs()
				t.Logf("logs of %s (%s):\n%s", id, leaseLogSummary(logs), tail(logs, 3000))
			}
		}
	})
	for i := range n {
		c.nodes = append(c.nodes, &leaseNode{slot: fmt.Sprintf("p%d", i+1)})
	}
	return c
}

// leaseConf is the config of the lease tests' processes: accounts.discover
// over sim, the leaseLogTypes, the redis cache at url both as the
// checkpoint cache and the lease cache; extra fields of duo_admin_logs
// replace the defaults.
func leaseConf(sim *duosim.Server, url string, extra map[string]any) func(outDir string) map[string]any {
	return func(outDir string) map[string]any {
		fields := map[string]any{
			"log_types":      []any{string(duoapi.Administrator), string(duoapi.OfflineEnrollment)},
			"checkpoint_key": "lease",
			"lease":          map[string]any{"cache": "state", "ttl": leaseTTL.String()},
			"poll_interval":  "5s",
		}
		maps.Copy(fields, extra)
		return map[string]any{
			"input":           mspInput(sim, fields),
			"cache_resources": []any{map[string]any{"label": "state", "redis": map[string]any{"url": url}}},
			"output":          mspFileOutput(outDir),
			"logger":          map[string]any{"level": "INFO", "format": "logfmt"},
		}
	}
}

func (c *leaseCluster) outRoot() string { return filepath.Join(c.dir, "out") }

// start runs node n (again) under a new instance ID.
func (c *leaseCluster) start(n *leaseNode) {
	c.t.Helper()
	n.runs++
	n.instance = fmt.Sprintf("%s-run%d", n.slot, n.runs)
	n.p = startDuostreamEnv(c.t, c.dir, n.instance, c.conf(filepath.Join(c.outRoot(), n.instance)),
		"DUOSTREAM_INSTANCE_ID="+n.instance)
	c.instances = append(c.instances, n.instance)
	c.procs[n.instance] = n.p
}

// owned scrapes duo_streams_owned of every running node, -1 for one that
// does not answer yet, or was killed and not run again. A node that exited
// by itself fails the test. It must not be called while a node is paused:
// the scrape would wait for it.
func (c *leaseCluster) owned() []int {
	out := make([]int, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = -1
		if n.p == nil {
			continue
		}
		if n.p.exited() {
			c.t.Fatalf("%s exited (%v); logs:\n%s", n.instance, n.p.err, tail(n.p.logs(), 4000))
		}
		if m, err := n.p.metrics(); err == nil && m.has("duo_streams_owned") {
			out[i] = int(m.sum("duo_streams_owned"))
		}
	}
	return out
}

// has reports whether m holds metric name, with any labels.
func (m metricSet) has(name string) bool {
	for key := range m {
		if base, _ := splitMetric(key); base == name {
			return true
		}
	}
	return false
}

func sumOwned(owned []int) int {
	s := 0
	for _, n := range owned {
		s += max(0, n)
	}
	return s
}

// waitOwned waits until the nodes own streams leases between them,
// failing t after within; it returns the last scrape.
func (c *leaseCluster) waitOwned(streams int, within time.Duration, what string) []int {
	c.t.Helper()
	var last []int
	waitFor(c.t, nil, within, 100*time.Millisecond, what, func() bool {
		last = c.owned()
		return sumOwned(last) == streams
	})
	return last
}

// logs returns the logs of every instance run.
func (c *leaseCluster) logs() map[string]string {
	out := map[string]string{}
	for id, p := range c.procs {
		out[id] = p.logs()
	}
	return out
}

// delivered reads the outputs of every instance: the events of each child
// account by log type, added up over the instances, and by instance.
func (c *leaseCluster) delivered() (map[string]map[duoapi.LogType]counts, map[string]map[string]map[duoapi.LogType]counts) {
	c.t.Helper()
	all := map[string]map[duoapi.LogType]counts{}
	byInstance := map[string]map[string]map[duoapi.LogType]counts{}
	for _, id := range c.instances {
		outs, err := readAccountOutputs(filepath.Join(c.outRoot(), id))
		require.NoError(c.t, err, "output of %s", id)
		byInstance[id] = map[string]map[duoapi.LogType]counts{}
		for acc, ao := range outs {
			if all[acc] == nil {
				all[acc] = map[duoapi.LogType]counts{}
			}
			byInstance[id][acc] = ao.got
			for lt, cs := range ao.got {
				if all[acc][lt] == nil {
					all[acc][lt] = counts{}
				}
				for ev, k := range cs {
					all[acc][lt][ev] += k
				}
			}
		}
	}
	return all, byInstance
}

// inflight returns the events delivered beyond the stored positions, over
// every stream of kids: what a new owner reads again. Redis must be up.
func (c *leaseCluster) inflight(url string, kids []mspChild) int {
	c.t.Helper()
	ids := make([]string, 0, len(kids))
	for _, k := range kids {
		ids = append(ids, k.ID())
	}
	positions, err := readAccountPositions(c.t.Context(), map[string]any{"redis": map[string]any{"url": url}}, "lease", ids)
	require.NoError(c.t, err, "read the positions in redis")
	got, _ := c.delivered()
	n := 0
	for _, k := range kids {
		for _, lt := range leaseLogTypes {
			cov := counts{}
			if cur, ok := positions[k.ID()][lt]; ok {
				cov, err = k.l.covered(lt, cur)
				require.NoError(c.t, err)
			}
			for ev, want := range k.l.want[lt] {
				d := min(got[k.ID()][lt][ev], want)
				require.LessOrEqual(c.t, cov[ev], d, "the stored %s position of child %s covers event %s, which was not delivered", lt, k.ID(), ev)
				n += d - cov[ev]
			}
		}
	}
	return n
}

// deliveredShare returns the share of kids' events delivered so far.
func (c *leaseCluster) deliveredShare(kids []mspChild) float64 {
	got, _ := c.delivered()
	have, total := 0, 0
	for _, k := range kids {
		for lt, cs := range k.l.want {
			for ev, n := range cs {
				have += min(n, got[k.ID()][lt][ev])
				total += n
			}
		}
	}
	return float64(have) / float64(max(total, 1))
}

// streamKey names a stream: a child account and a log type.
type streamKey struct {
	account string
	lt      duoapi.LogType
}

func (k streamKey) String() string { return string(k.lt) + "/" + k.account }

// run is a maximal sequence of consecutive requests of one stream by one
// instance, in the order the simulator received them.
type run struct {
	instance    string
	first, last time.Time
	requests    int
}

func (r run) String() string {
	return fmt.Sprintf("%s x%d %s..%s", r.instance, r.requests, r.first.Format("15:04:05.000"), r.last.Format("15:04:05.000"))
}

// userAgentRe is the User-Agent duostream sends: duostream/<version>
// (<instance id>).
var userAgentRe = regexp.MustCompile(`^duostream/\S+ \(([^()]+)\)$`)

// streamRuns splits the log requests of each stream into runs, checking
// that every request carries the User-Agent of one of instances.
func streamRuns(t testing.TB, reqs []duosim.RequestRecord, instances []string) map[streamKey][]run {
	t.Helper()
	types := map[string]duoapi.LogType{}
	for _, lt := range leaseLogTypes {
		types[lt.Endpoint()] = lt
	}
	reqs = slices.Clone(reqs)
	sort.SliceStable(reqs, func(i, j int) bool { return reqs[i].Time.Before(reqs[j].Time) })
	out := map[streamKey][]run{}
	badUA := 0
	for _, r := range reqs {
		m := userAgentRe.FindStringSubmatch(r.UserAgent)
		if m == nil || !slices.Contains(instances, m[1]) {
			if badUA++; badUA <= 3 {
				t.Errorf("request %s %s with User-Agent %q, not duostream/<version> (<instance id>) of an instance run", r.Path, r.Query.Encode(), r.UserAgent)
			}
			continue
		}
		lt, ok := types[r.Path]
		if !ok || r.AccountID == "" {
			continue // the account list
		}
		k := streamKey{r.AccountID, lt}
		runs := out[k]
		if n := len(runs); n > 0 && runs[n-1].instance == m[1] {
			runs[n-1].last = r.Time
			runs[n-1].requests++
		} else {
			runs = append(runs, run{instance: m[1], first: r.Time, last: r.Time, requests: 1})
		}
		out[k] = runs
	}
	assert.Zero(t, badUA, "requests without an instance's User-Agent")
	return out
}

// tookOverRe finds the stream of a "Took over" log line.
var tookOverRe = regexp.MustCompile(`Took over Duo (\S+) (?:of account|logs of child account) (DA[A-Z0-9]+)`)

// takeovers counts the "Took over" lines of each instance's logs by stream.
func takeovers(logs map[string]string) (map[string]map[streamKey]int, int) {
	out := map[string]map[streamKey]int{}
	unparsed := 0
	for id, l := range logs {
		out[id] = map[streamKey]int{}
		for _, line := range strings.Split(l, "\n") {
			if !strings.Contains(line, "Took over") {
				continue
			}
			m := tookOverRe.FindStringSubmatch(line)
			if m == nil {
				unparsed++
				continue
			}
			out[id][streamKey{m[2], duoapi.LogType(m[1])}]++
		}
	}
	return out, unparsed
}

// leaseLogSummary counts the lease lines of a log: takeovers, and
// step-downs by reason, with the first line of each reason.
func leaseLogSummary(logs string) string {
	reasons := []struct{ name, marker string }{
		{"expired", "could not be renewed"},
		{"fenced", "another process holds"},
		{"rebalanced", "handed over"},
	}
	took := strings.Count(logs, "Took over")
	parts := []string{fmt.Sprintf("%d takeovers", took)}
	var firsts []string
	for _, r := range reasons {
		n := 0
		for _, line := range strings.Split(logs, "\n") {
			if strings.Contains(line, "Stepped down") && strings.Contains(line, r.marker) {
				if n == 0 {
					firsts = append(firsts, "first "+r.name+": "+tail(line, 500))
				}
				n++
			}
		}
		parts = append(parts, fmt.Sprintf("%d step-downs %s", n, r.name))
	}
	return strings.Join(append(parts, firsts...), "; ")
}

// stepDownLines returns the "Stepped down" lines of a log whose reason is
// that the lease could not be renewed in time or another process holds it.
func stepDownLines(logs string) []string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "Stepped down") &&
			(strings.Contains(line, "could not be renewed") || strings.Contains(line, "another process holds")) {
			out = append(out, line)
		}
	}
	return out
}

// TestLeaseFailover runs three duostream processes on one config, the
// leases and positions in one redis-server, through the backfill of 20
// child accounts with two log types each (40 streams, one lease each),
// paced by max_requests_per_minute so that it lasts through: four SIGKILLs
// of a random process owning streams, each run again after a random pause
// under a new instance ID; a SIGSTOP of an owner for two ttls, then
// SIGCONT; and Redis stopped for 20s, then started again on its data. Each disruption comes at a random moment of the
// second after a set share of the backfill is delivered (8% to 72%), so
// that all fall during it. After each kill, at the pause and when Redis is
// back it measures the events delivered beyond the stored positions (in
// flight), which is what a new owner reads again, and how long until every
// stream is owned again: within ttl + ttl/3 after a kill or the pause.
//
// In the end no event is lost, by identity, over the outputs of every
// instance; the duplicates are at most the events in flight measured at
// those moments; the paused process logged that it stepped down and why.
//
// Single ownership is shown from the simulator's request log, each request
// attributed to an instance by its User-Agent, duostream/<version>
// (<instance id>). The requests of each stream, in the order the simulator
// received them, split into runs: maximal sequences by one instance. Two
// processes pulling one stream at once interleave their requests, each
// switch starting a run. So:
//
//   - every run of instance X on stream S is backed by a lease X acquired:
//     X's "Took over" lines for S are at least its runs on S (a process
//     that pulls a stream it does not own, or two that both think they own
//     it, make more runs than takeovers);
//   - no stream alternates X, Y, X, Y (X != Y) within one ttl: each switch
//     needs a lease handed over, and three handovers within a ttl means two
//     processes pulling at once (this check does not rely on the logs).
func TestLeaseFailover(t *testing.T) {
	rng := rand.New(rand.NewPCG(suiteSeed, 14))
	rds := startRedis(t)
	sim := startSim(t, duosim.Config{Seed: suiteSeed, AccountsAPI: true, V1PageSize: leaseV1Page})
	now := time.Now()
	from, to := now.Add(-24*time.Hour), now.Add(-5*time.Minute)
	children, err := sim.GenerateChildren(leaseChildren)
	require.NoError(t, err)
	var kids []mspChild
	total := 0
	for _, ch := range children {
		kid := backfillChild(t, ch, map[duoapi.LogType]int{duoapi.Administrator: leaseEvents, duoapi.OfflineEnrollment: leaseEvents}, from, to)
		kids = append(kids, kid)
		total += kid.l.total()
	}
	streams := len(kids) * len(leaseLogTypes)

	c := newLeaseCluster(t, 3, leaseConf(sim, rds.url(), map[string]any{"max_requests_per_minute": leaseMaxRPM}))
	started := time.Now()
	for _, n := range c.nodes {
		c.start(n)
	}
	owned := c.waitOwned(streams, 2*leaseTTL+20*time.Second, "every stream owned")
	figure(t, "%d streams (%d children x %d log types, %d events, pages of %d), 3 processes, ttl %s: all owned %s after start (%v)",
		streams, len(kids), len(leaseLogTypes), total, leaseV1Page, leaseTTL, time.Since(started).Round(100*time.Millisecond), owned)

	// pickOwner returns a running node that owns streams, at random.
	pickOwner := func() *leaseNode {
		t.Helper()
		var owners []*leaseNode
		waitFor(t, nil, 2*leaseTTL+10*time.Second, 100*time.Millisecond, "a process owning streams", func() bool {
			owners = owners[:0]
			for i, k := range c.owned() {
				if k > 0 {
					owners = append(owners, c.nodes[i])
				}
			}
			return len(owners) > 0
		})
		return owners[rng.IntN(len(owners))]
	}
	jitter := func() { time.Sleep(time.Duration(rng.Int64N(int64(time.Second)))) }
	// at waits until share of the backfill is delivered, and a random
	// moment of the next second.
	at := func(share float64, what string) {
		t.Helper()
		waitFor(t, nil, time.Minute, 100*time.Millisecond, fmt.Sprintf("%.0f%% of the backfill delivered before %s", 100*share, what), func() bool {
			return c.deliveredShare(kids) >= share
		})
		jitter()
	}

	type moment struct {
		what      string
		share     float64
		inflight  int
		recovered time.Duration // until every stream was owned again
	}
	var moments []moment
	note := func(what string, inflight int, since time.Time) {
		share := c.deliveredShare(kids)
		c.waitOwned(streams, 2*leaseTTL+20*time.Second, "every stream owned again after "+what)
		m := moment{what, share, inflight, time.Since(since)}
		moments = append(moments, m)
		t.Logf("%s at %.0f%% of the backfill: %d events in flight, every stream owned again %s later", what, 100*share, inflight, m.recovered.Round(10*time.Millisecond))
	}
	// kill kills an owner, measures how long the other two take to own
	// every stream, and runs it again after a random pause.
	kill := func(k int) {
		n := pickOwner()
		killed := n.instance
		n.p.kill()
		killedAt := time.Now()
		n.p = nil
		inflight := c.inflight(rds.url(), kids)
		note(fmt.Sprintf("kill %d (%s)", k, killed), inflight, killedAt)
		jitter()
		c.start(n)
		c.waitOwned(streams, 2*leaseTTL+20*time.Second, "every stream owned once "+n.instance+" runs")
	}

	var paused *leaseNode
	var pausedProc *proc // the run that was stopped; its slot may be killed later
	var pausedID string
	var pausedBefore int
	plan := []struct {
		share float64
		step  string
	}{{0.08, "kill"}, {0.2, "kill"}, {0.32, "stop"}, {0.45, "kill"}, {0.58, "redis"}, {0.72, "kill"}}
	kills := 0
	for _, st := range plan {
		at(st.share, st.step)
		switch st.step {
		case "kill":
			kills++
			kill(kills)
		case "stop":
			paused = pickOwner()
			pausedBefore = len(stepDownLines(paused.p.logs()))
			require.NoError(t, paused.p.cmd.Process.Signal(syscall.SIGSTOP))
			stoppedAt := time.Now()
			p := paused.p
			pausedProc, pausedID = p, paused.instance
			paused.p = nil // not scraped while stopped: the scrape would wait
			inflight := c.inflight(rds.url(), kids)
			// The others take every stream over while it sleeps.
			c.waitOwned(streams, 2*leaseTTL, "the other two owning every stream while one is stopped")
			tookOver := time.Since(stoppedAt)
			time.Sleep(2*leaseTTL - tookOver)
			require.NoError(t, p.cmd.Process.Signal(syscall.SIGCONT))
			t.Logf("%s stopped at %s, continued at %s", pausedID, stoppedAt.Format("15:04:05.000"), time.Now().Format("15:04:05.000"))
			paused.p = p
			waitFor(t, paused.p, leaseTTL+5*time.Second, 100*time.Millisecond, "the paused process stepping down", func() bool {
				return len(stepDownLines(paused.p.logs())) > pausedBefore
			})
			m := moment{fmt.Sprintf("SIGSTOP of %s for %s", paused.instance, 2*leaseTTL), c.deliveredShare(kids), inflight, tookOver}
			moments = append(moments, m)
			t.Logf("%s: %d events in flight, the others owned every stream %s after the SIGSTOP", m.what, inflight, tookOver.Round(10*time.Millisecond))
		case "redis":
			rds.stop()
			stoppedAt := time.Now()
			time.Sleep(leaseRedisDown)
			rds.start()
			back := time.Now()
			note(fmt.Sprintf("Redis back after %s", back.Sub(stoppedAt).Round(100*time.Millisecond)), c.inflight(rds.url(), kids), back)
		}
	}
	require.Equal(t, leaseKills, kills)

	// The rest of the backfill.
	var got map[string]map[duoapi.LogType]counts
	waitFor(t, nil, 2*time.Minute, 200*time.Millisecond, "every child's backfill delivered", func() bool {
		got, _ = c.delivered()
		for _, k := range kids {
			if !k.l.complete(got[k.ID()]) {
				return false
			}
		}
		return true
	})
	backfillTook := time.Since(started)
	time.Sleep(leaseTTL) // one more round of requests, of renewals and rebalancing
	for _, n := range c.nodes {
		require.NoError(t, n.p.stop(30*time.Second), "%s exits cleanly on SIGTERM; logs:\n%s", n.instance, tail(n.p.logs(), 4000))
	}

	// Lost and duplicated, by identity, over every instance's output.
	got, byInstance := c.delivered()
	var sum tally
	for _, k := range kids {
		tl := sumTally(k.l.compare(got[k.ID()]))
		assert.Zero(t, tl.lost, "child %s: events lost", k.ID())
		assert.Zero(t, tl.foreign, "child %s: events it does not hold", k.ID())
		sum.lost, sum.dups, sum.foreign = sum.lost+tl.lost, sum.dups+tl.dups, sum.foreign+tl.foreign
	}
	inflightSum := 0
	for _, m := range moments {
		inflightSum += m.inflight
	}
	assert.LessOrEqual(t, sum.dups, inflightSum, "duplicates beyond the events in flight at the kills, the pause and the Redis outage")
	var perInstance []string
	for _, id := range c.instances {
		n := 0
		for _, lts := range byInstance[id] {
			for _, cs := range lts {
				for _, k := range cs {
					n += k
				}
			}
		}
		perInstance = append(perInstance, fmt.Sprintf("%s %d", id, n))
	}

	// The paused process stepped down, saying why.
	require.NotNil(t, pausedProc)
	downs := stepDownLines(pausedProc.logs())[pausedBefore:]
	require.NotEmpty(t, downs, "%s logged no step-down after SIGCONT", pausedID)

	// Single ownership, from the simulator's request log, which must hold
	// every request for that.
	reqs := sim.Requests()
	recorded := 0
	for _, v := range sim.RequestCounts() {
		recorded += v
	}
	require.Equal(t, recorded, len(reqs), "the request log dropped requests: raise duosim's maxRequestLog or make fewer requests")
	runs := streamRuns(t, reqs, c.instances)
	require.Len(t, runs, streams, "every stream was requested")
	allLogs := c.logs()
	tk, unparsed := takeovers(allLogs)
	// leaseLines returns what the instances logged about the leases of k.
	leaseLines := func(k streamKey, rs []run) string {
		var out []string
		seen := map[string]bool{}
		for _, r := range rs {
			if seen[r.instance] {
				continue
			}
			seen[r.instance] = true
			for _, line := range strings.Split(allLogs[r.instance], "\n") {
				if strings.Contains(line, k.account) && strings.Contains(line, string(k.lt)) &&
					(strings.Contains(line, "Took over") || strings.Contains(line, "Stepped down")) {
					out = append(out, r.instance+": "+tail(line, 400))
				}
			}
		}
		return strings.Join(out, "\n")
	}
	assert.Zero(t, unparsed, "\"Took over\" lines that name no child account and log type")
	switches, unbacked, alternations := 0, 0, 0
	for k, rs := range runs {
		switches += len(rs) - 1
		perInstanceRuns := map[string]int{}
		for _, r := range rs {
			perInstanceRuns[r.instance]++
		}
		for id, n := range perInstanceRuns {
			if n > tk[id][k] {
				unbacked++
				t.Errorf("stream %s: %d runs of requests by %s, but it took the lease over %d times; runs: %v; lease log lines:\n%s", k, n, id, tk[id][k], rs, leaseLines(k, rs))
			}
		}
		for i := 0; i+3 < len(rs); i++ {
			if rs[i].instance == rs[i+2].instance && rs[i+1].instance == rs[i+3].instance && rs[i+3].first.Sub(rs[i].last) < leaseTTL {
				alternations++
				t.Errorf("stream %s: %s and %s alternate within %s: %v; lease log lines:\n%s", k, rs[i].instance, rs[i+1].instance, leaseTTL, rs[i:i+4], leaseLines(k, rs))
			}
		}
	}
	takeoverLines := 0
	for _, m := range tk {
		for _, n := range m {
			takeoverLines += n
		}
	}

	var parts []string
	var slowest time.Duration
	for _, m := range moments {
		parts = append(parts, fmt.Sprintf("%s at %.0f%%: %d in flight, all owned again after %s", m.what, 100*m.share, m.inflight, m.recovered.Round(10*time.Millisecond)))
		if !strings.HasPrefix(m.what, "Redis") {
			slowest = max(slowest, m.recovered)
		}
	}
	assert.LessOrEqual(t, slowest, leaseTTL+leaseRenew+leaseScrapeSlack, "a takeover after a kill or a pause took longer than ttl + ttl/3")
	figure(t, "backfill of %d events over %d streams delivered in %s through %d SIGKILLs, a %s SIGSTOP and Redis down %s: lost %d, duplicates %d, within the %d events in flight (%s); delivered by instance: %s",
		total, streams, backfillTook.Round(100*time.Millisecond), leaseKills, 2*leaseTTL, leaseRedisDown, sum.lost, sum.dups, inflightSum,
		strings.Join(parts, "; "), strings.Join(perInstance, ", "))
	figure(t, "single ownership from %d requests: %d owner switches over %d streams, %d takeovers logged, %d runs not backed by a takeover, %d alternations within the ttl",
		len(reqs), switches, streams, takeoverLines, unbacked, alternations)
	figure(t, "%s after SIGCONT: %d step-downs logged, the first: %s", pausedID, len(downs), logMessage(downs[0]))
}

// TestLeaseSpreading runs three processes on 300 streams (150 child
// accounts with two log types each, a few events each): once every stream
// is owned, no process owns more than 110 (the contract: ceil(300/3) + 1 =
// 101), watched for two ttls. Then it kills one with SIGKILL and measures
// how long the other two take to own all 300: at most ttl + ttl/3 (the
// killed process's leases expire a ttl after its last renewal, at most
// ttl/3 before the kill, and the others try to acquire every ttl/3), plus
// leaseScrapeSlack for measuring by scraping.
func TestLeaseSpreading(t *testing.T) {
	rds := startRedis(t)
	sim := startSim(t, duosim.Config{Seed: suiteSeed, AccountsAPI: true, V1PageSize: leaseV1Page})
	now := time.Now()
	from, to := now.Add(-24*time.Hour), now.Add(-5*time.Minute)
	children, err := sim.GenerateChildren(leaseSpreadChildren)
	require.NoError(t, err)
	for _, ch := range children {
		backfillChild(t, ch, map[duoapi.LogType]int{duoapi.Administrator: 2, duoapi.OfflineEnrollment: 1}, from, to)
	}
	streams := leaseSpreadChildren * len(leaseLogTypes)
	contractMax := (streams+2)/3 + 1

	c := newLeaseCluster(t, 3, leaseConf(sim, rds.url(), map[string]any{"poll_interval": "30s"}))
	started := time.Now()
	for _, n := range c.nodes {
		c.start(n)
	}
	// Settled: all owned, within the bound, twice in a row a
	// renewal apart.
	var owned []int
	settledTwice := 0
	var prev []int
	waitFor(t, nil, 4*leaseTTL+30*time.Second, leaseRenew, "300 streams owned, at most 110 each", func() bool {
		owned = c.owned()
		if !slices.Equal(owned, prev) {
			t.Logf("%s after start: duo_streams_owned %v", time.Since(started).Round(100*time.Millisecond), owned)
			prev = owned
		}
		if sumOwned(owned) == streams && slices.Max(owned) <= leaseSpreadMax {
			settledTwice++
		} else {
			settledTwice = 0
		}
		return settledTwice >= 2
	})
	settleTook := time.Since(started)
	peak := slices.Max(owned)
	// Every half second: a scrape of 300 streams' metrics is a few hundred
	// KB that each process writes and the test reads, and scraping faster
	// takes CPU from the renewals.
	for end := time.Now().Add(2 * leaseTTL); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		owned = c.owned()
		if !slices.Equal(owned, prev) {
			t.Logf("%s after start: duo_streams_owned %v", time.Since(started).Round(100*time.Millisecond), owned)
			prev = owned
		}
		assert.Equal(t, streams, sumOwned(owned), "streams owned once settled: %v", owned)
		peak = max(peak, slices.Max(owned))
	}
	assert.LessOrEqual(t, peak, leaseSpreadMax, "leases of one process once settled")
	assert.LessOrEqual(t, peak, contractMax, "leases of one process once settled: at most ceil(streams / processes) + 1")

	victim := c.nodes[slices.Index(owned, slices.Max(owned))]
	victimOwned := slices.Max(owned)
	victim.p.kill()
	killedAt := time.Now()
	victim.p = nil
	var after []int
	waitFor(t, nil, 2*leaseTTL+10*time.Second, 100*time.Millisecond, "the other two owning every stream", func() bool {
		after = c.owned()
		return sumOwned(after) == streams
	})
	took := time.Since(killedAt)
	assert.LessOrEqual(t, took, leaseTTL+leaseRenew+leaseScrapeSlack, "the survivors own every stream within ttl + ttl/3 of the kill")
	survivorsMax := (streams+1)/2 + 1
	for i, n := range c.nodes {
		if n != victim {
			assert.LessOrEqual(t, after[i], survivorsMax, "leases of %s after the kill", n.instance)
		}
	}
	figure(t, "%d streams over 3 processes (ttl %s): settled %s after start, at most %d per process (bound %d, contract %d), %v; SIGKILL of %s (%d streams): the other two own all %d %s later (bound ttl + ttl/3 = %s), %v",
		streams, leaseTTL, settleTook.Round(100*time.Millisecond), peak, leaseSpreadMax, contractMax, owned,
		victim.instance, victimOwned, streams, took.Round(10*time.Millisecond), leaseTTL+leaseRenew, after)
}

// TestBboltSecondProcess starts a second duostream on the bbolt file of a
// running one: it exits at once with an error that names the field, the
// file and what to do, and the first goes on.
func TestBboltSecondProcess(t *testing.T) {
	sim := startSim(t, duosim.Config{Seed: suiteSeed})
	require.NoError(t, sim.Generate(duoapi.Authentication, 50, time.Now().Add(-time.Hour), time.Now().Add(-5*time.Minute)))
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "state", "checkpoints.db")
	conf := func(out string) map[string]any {
		return map[string]any{
			"input":           duoInput(sim, map[string]any{"log_types": []any{"authentication"}, "initial_lookback": "2h"}),
			"cache_resources": bboltCache(dbPath),
			"output":          fileOutputByType(filepath.Join(dir, out)),
		}
	}
	first := startDuostream(t, dir, "first", conf("out1"))
	waitFor(t, first, 30*time.Second, 100*time.Millisecond, "the first process delivering", func() bool {
		_, err := os.Stat(filepath.Join(dir, "out1", duoapi.Authentication.SchemaName()+".jsonl"))
		return err == nil
	})

	started := time.Now()
	second := startDuostream(t, dir, "second", conf("out2"))
	select {
	case <-second.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("the second process still runs 10s after it started on a locked bbolt file; logs:\n%s", tail(second.logs(), 4000))
	}
	took := time.Since(started)
	var exitErr *exec.ExitError
	require.ErrorAs(t, second.err, &exitErr, "the second process exits non-zero")
	logs := second.logs()
	for _, want := range []string{
		"field path",
		dbPath,
		"locked by another process",
		"give each duostream process its own file",
		"lease",
	} {
		assert.Contains(t, logs, want)
	}
	assert.False(t, first.exited(), "the first process goes on")
	require.NoError(t, first.stop(30*time.Second))
	line := ""
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, dbPath) {
			line = l
			break
		}
	}
	figure(t, "second process on a held bbolt file exited with status %d after %s: %s", exitErr.ExitCode(), took.Round(10*time.Millisecond), line)
}
