// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
	"github.com/duostream/duostream/processor"
)

const mspPipeline = "duo-msp-to-kafka.yaml"

// mspBackfill is how many generated events of each log type every child
// account of the MSP fixture holds.
var mspBackfill = map[duoapi.LogType]int{
	duoapi.Authentication:    120,
	duoapi.Administrator:     30,
	duoapi.Telephony:         15,
	duoapi.OfflineEnrollment: 6,
	duoapi.Activity:          25,
	duoapi.TrustMonitor:      10,
}

// The hand-made children of the MSP fixture. Smith's name holds a comma,
// which DUO_ACCOUNTS_INCLUDE must quote.
var (
	smithChild = duosim.ChildConfig{
		ID:          "DASMITHJONESCO000001",
		Name:        "Smith, Jones & Co",
		APIHostname: "api-5m1th0c0.duosecurity.com",
	}
	crossDeploymentChild = duosim.ChildConfig{
		ID:              "DACROSSDEPLOYMENT001",
		Name:            "Fabrikam Federal",
		APIHostname:     "api-c0ffee42.duofederal.com",
		CrossDeployment: true,
	}
)

// mspFixture is a simulated Duo MSP parent whose integration is its
// Accounts API application, with child accounts that each hold events of
// every log type, and what the MSP pipeline must deliver for each child.
type mspFixture struct {
	sim             *duosim.Server
	start, from, to time.Time
	// generated are two children of generated names, smith the one with a
	// comma in its name, crossDeployment a child in another deployment,
	// which refuses log requests, and excluded a child the tests exclude
	// by name.
	generated       []*duosim.Child
	smith           *duosim.Child
	crossDeployment *duosim.Child
	excluded        *duosim.Child
	// normalized are, per account ID and Panther log type, the child's
	// events as duo_normalize makes them, canonical and without p_row_id
	// and p_parse_time, sorted.
	normalized map[string]map[string][]string
	// dead are the dead letters each account's events make.
	dead map[string][]deadLetter

	norm service.BatchProcessor
}

// newMSPFixture starts an MSP parent with five children, every one of them
// holding a backfill of every log type; the first generated child also
// holds one planted telephony event that breaks its schema.
func newMSPFixture(t *testing.T, seed uint64) *mspFixture {
	t.Helper()
	sim, err := duosim.Start(duosim.Config{Seed: seed, V1PageSize: v1PageSize, AccountsAPI: true})
	require.NoError(t, err)
	t.Cleanup(func() { sim.Close() })

	now := time.Now()
	f := &mspFixture{
		sim: sim, start: now, from: now.Add(-2 * time.Hour), to: now.Add(-5 * time.Minute),
		normalized: map[string]map[string][]string{},
		dead:       map[string][]deadLetter{},
	}
	conf, err := processor.DuoNormalizeSpec().ParseYAML("{}", nil)
	require.NoError(t, err)
	f.norm, err = processor.NewDuoNormalize(conf, service.MockResources())
	require.NoError(t, err)

	f.generated, err = sim.GenerateChildren(2)
	require.NoError(t, err)
	f.smith, err = sim.AddChild(smithChild)
	require.NoError(t, err)
	f.crossDeployment, err = sim.AddChild(crossDeploymentChild)
	require.NoError(t, err)
	excluded, err := sim.GenerateChildren(1)
	require.NoError(t, err)
	f.excluded = excluded[0]

	planted := plantedEvents(now.Add(-time.Hour).Truncate(time.Second))[duoapi.Telephony]
	require.NoError(t, f.generated[0].AddEvents(duoapi.Telephony, json.RawMessage(planted[0])))
	for _, c := range sim.Children() {
		f.addBackfill(t, c)
	}
	for _, c := range sim.Children() {
		wantDead := 0
		if c == f.generated[0] {
			wantDead = 1
		}
		require.Len(t, f.dead[c.ID()], wantDead, "%s: the planted event, and only it, fails normalization", c.ID())
	}
	return f
}

// addBackfill generates the backfill of every log type in child c and
// normalizes its events, with c's account metadata as the input sets it.
func (f *mspFixture) addBackfill(t *testing.T, c *duosim.Child) {
	t.Helper()
	for _, lt := range duoapi.AllLogTypes {
		require.NoError(t, c.Generate(lt, mspBackfill[lt], f.from, f.to))
	}
	f.normalizeChild(t, c)
}

// normalizeChild records what the pipeline must deliver for the events c
// holds in the backfill window.
func (f *mspFixture) normalizeChild(t *testing.T, c *duosim.Child) {
	t.Helper()
	byType := map[string][]string{}
	f.dead[c.ID()] = nil
	for _, lt := range duoapi.AllLogTypes {
		evs := c.Events(lt, f.from, f.to)
		batch := make(service.MessageBatch, len(evs))
		for i, ev := range evs {
			batch[i] = service.NewMessage(ev.Body)
			batch[i].MetaSetMut("duo_log_type", lt.SchemaName())
			batch[i].MetaSetMut("duo_account_id", c.ID())
			batch[i].MetaSetMut("duo_account_name", c.Name())
		}
		out, err := f.norm.ProcessBatch(t.Context(), batch)
		require.NoError(t, err)
		require.Len(t, out, 1)
		require.Len(t, out[0], len(evs))
		for i, msg := range out[0] {
			if perr := msg.GetError(); perr != nil {
				f.dead[c.ID()] = append(f.dead[c.ID()], deadLetter{logType: lt.SchemaName(), endpoint: endpoints[lt], reason: perr.Error(), event: string(evs[i].Body)})
				continue
			}
			b, err := msg.AsBytes()
			require.NoError(t, err)
			byType[lt.SchemaName()] = append(byType[lt.SchemaName()], withoutVolatile(t, b))
		}
		slices.Sort(byType[lt.SchemaName()])
	}
	f.normalized[c.ID()] = byType
}

// mspEnv returns the environment of duo-msp-to-kafka.yaml for the
// fixture's parent and the Kafka cluster at brokers. Every variable it sets
// is one the pipeline's header documents (checkDocumented).
func (f *mspFixture) env(t *testing.T, brokers string) map[string]string {
	return map[string]string{
		"DUO_API_HOSTNAME":            f.sim.APIHost(),
		"DUO_INTEGRATION_KEY":         f.sim.IntegrationKey(),
		"DUO_SECRET_KEY":              f.sim.SecretKey(),
		"DUO_BASE_URL":                f.sim.URL,
		"DUO_INITIAL_LOOKBACK":        "3h",
		"DUO_POLL_INTERVAL":           "1s",
		"DUO_REQUESTS_PER_MINUTE":     "6000",
		"DUO_MAX_REQUESTS_PER_MINUTE": "30000",
		"DUOSTREAM_STATE_DIR":         t.TempDir(),
		"DUOSTREAM_LOG_LEVEL":         "error",
		"KAFKA_BROKERS":               brokers,
	}
}

// checkDocumented fails the test unless the header of file documents every
// variable of env.
func checkDocumented(t *testing.T, file string, env map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(file)
	require.NoError(t, err)
	h := parseHeaderEnv(t, file, raw)
	for name := range env {
		require.Contains(t, h.documented, name, "the test sets %s, which the header of %s does not document", name, file)
	}
}

// mspKafka is an in-process Kafka cluster with the topics the MSP pipeline
// writes to by default.
type mspKafka struct {
	cluster   *kfake.Cluster
	topics    []string
	logTopics map[string]string // topic -> Panther log type
	adm       *kadm.Client
}

const mspDeadTopic = "duo.dead_letter"

func newMSPKafka(t *testing.T) *mspKafka {
	t.Helper()
	k := &mspKafka{topics: []string{mspDeadTopic}, logTopics: map[string]string{}}
	for _, lt := range duoapi.AllLogTypes {
		topic := "duo." + string(lt)
		k.logTopics[topic] = lt.SchemaName()
		k.topics = append(k.topics, topic)
	}
	var err error
	k.cluster, err = kfake.NewCluster(kfake.NumBrokers(2), kfake.SeedTopics(3, k.topics...))
	require.NoError(t, err)
	t.Cleanup(k.cluster.Close)
	admin, err := kgo.NewClient(kgo.SeedBrokers(k.cluster.ListenAddrs()...))
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	k.adm = kadm.NewClient(admin)
	return k
}

func (k *mspKafka) brokers() string { return strings.Join(k.cluster.ListenAddrs(), ",") }

// ends returns the end offset of every topic, summed over its partitions:
// how many records it holds.
func (k *mspKafka) ends(t *testing.T) (map[string]int64, error) {
	ends, err := k.adm.ListEndOffsets(t.Context(), k.topics...)
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

// want returns how many records each topic must hold once the children
// of accounts have delivered the events of logTypes.
func (f *mspFixture) want(k *mspKafka, accounts []*duosim.Child, logTypes []duoapi.LogType) map[string]int64 {
	want := map[string]int64{}
	for _, topic := range k.topics {
		want[topic] = 0
	}
	for _, c := range accounts {
		for _, lt := range logTypes {
			want["duo."+string(lt)] += int64(len(f.normalized[c.ID()][lt.SchemaName()]))
		}
		for _, dl := range f.dead[c.ID()] {
			if slices.Contains(logTypes, duoapi.LogType(logSlug(dl.logType))) {
				want[mspDeadTopic]++
			}
		}
	}
	return want
}

// waitForRecords waits until every topic holds at least want records.
func (k *mspKafka) waitForRecords(t *testing.T, done <-chan error, want map[string]int64) {
	t.Helper()
	waitFor(t, done, "every record", func() (bool, string) {
		got, err := k.ends(t)
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
}

// mspDelivery is what the MSP pipeline delivered, by the account ID of the
// record headers.
type mspDelivery struct {
	events map[string]map[string][]string // account ID -> Panther log type -> canonical events, sorted
	dead   map[string][]deadLetter
}

// checkRecords checks every record of the MSP pipeline: its key is the
// child's account ID, a slash and the event's own ID (or p_row_id); its
// headers are the duo_ metadata of the child that served it; the event
// names that child as p_source_id and p_source_label. It returns what the
// records hold, by child.
func (f *mspFixture) checkRecords(t *testing.T, k *mspKafka, records []*kgo.Record) mspDelivery {
	t.Helper()
	d := mspDelivery{events: map[string]map[string][]string{}, dead: map[string][]deadLetter{}}
	rowIDs := map[string]bool{}
	for _, r := range records {
		headers := map[string]string{}
		for _, h := range r.Headers {
			headers[h.Key] = string(h.Value)
		}
		id := headers["duo_account_id"]
		child := f.sim.Child(id)
		if !assert.NotNil(t, child, "a %s record from account %q, which is no child; headers %v", r.Topic, id, headers) {
			continue
		}
		assert.Equal(t, child.Name(), headers["duo_account_name"], "the duo_account_name header of %s's records", id)
		assert.Equal(t, child.APIHost(), headers["duo_api_hostname"], "the duo_api_hostname header of %s's records is the child's", id)
		assert.Regexp(t, "^[0-9a-f]{32}$", headers["duo_page_id"], "the page's identity travels too")
		if r.Topic == mspDeadTopic {
			assert.ElementsMatch(t, []string{"dead_letter_reason", "duo_log_type", "duo_endpoint", "duo_api_hostname", "duo_page_id", "duo_account_id", "duo_account_name"}, slices.Collect(maps.Keys(headers)), "the headers of a dead letter")
			assert.Empty(t, r.Key, "dead letters have no key")
			d.dead[id] = append(d.dead[id], deadLetter{logType: headers["duo_log_type"], endpoint: headers["duo_endpoint"], reason: headers["dead_letter_reason"], event: string(r.Value)})
			continue
		}
		lt := k.logTopics[r.Topic]
		delete(headers, "duo_page_id")
		assert.Equal(t, map[string]string{
			"duo_log_type":     lt,
			"duo_endpoint":     endpoints[duoapi.LogType(logSlug(lt))],
			"duo_api_hostname": child.APIHost(),
			"duo_account_id":   child.ID(),
			"duo_account_name": child.Name(),
		}, headers, "the duo_ metadata, and only it, travels as headers")

		var ev struct {
			TxID        string `json:"txid"`
			ActivityID  string `json:"activity_id"`
			SEKey       string `json:"sekey"`
			RowID       string `json:"p_row_id"`
			LogType     string `json:"p_log_type"`
			SourceID    string `json:"p_source_id"`
			SourceLabel string `json:"p_source_label"`
			EventTime   string `json:"p_event_time"`
			ParseTime   string `json:"p_parse_time"`
		}
		require.NoError(t, json.Unmarshal(r.Value, &ev))
		assert.Equal(t, lt, ev.LogType)
		assert.Equal(t, child.ID(), ev.SourceID, "p_source_id is the child's account ID")
		assert.Equal(t, child.Name(), ev.SourceLabel, "p_source_label is the child's name")
		require.NotEmpty(t, ev.RowID)
		assert.False(t, rowIDs[ev.RowID], "p_row_id %s seen twice", ev.RowID)
		rowIDs[ev.RowID] = true
		if eventTime, err := time.Parse(time.RFC3339Nano, ev.EventTime); assert.NoError(t, err, "p_event_time") {
			assert.False(t, eventTime.Before(f.from) || !eventTime.Before(f.to), "p_event_time %s outside the backfill", eventTime)
		}
		if parseTime, err := time.Parse(time.RFC3339Nano, ev.ParseTime); assert.NoError(t, err, "p_parse_time") {
			assert.WithinRange(t, parseTime, f.start, time.Now())
		}
		own := ev.RowID
		switch lt {
		case duoapi.Authentication.SchemaName():
			own = ev.TxID
		case duoapi.Activity.SchemaName():
			own = ev.ActivityID
		case duoapi.TrustMonitor.SchemaName():
			own = ev.SEKey
		}
		require.NotEmpty(t, own, "the %s event's own ID", lt)
		assert.Equal(t, child.ID()+"/"+own, string(r.Key), "a %s record is keyed by the child's account ID and the event's ID", lt)

		if d.events[id] == nil {
			d.events[id] = map[string][]string{}
		}
		d.events[id][lt] = append(d.events[id][lt], withoutVolatile(t, r.Value))
	}
	for _, byType := range d.events {
		for _, evs := range byType {
			slices.Sort(evs)
		}
	}
	return d
}

// checkChildren asserts that d holds, for each child of want, exactly the
// events of logTypes it holds, each once, and its dead letters; and
// nothing of any other account.
func (f *mspFixture) checkChildren(t *testing.T, d mspDelivery, want []*duosim.Child, logTypes []duoapi.LogType) {
	t.Helper()
	wantIDs := map[string]bool{}
	for _, c := range want {
		wantIDs[c.ID()] = true
		var n []string
		for _, lt := range logTypes {
			name := lt.SchemaName()
			n = append(n, fmt.Sprintf("%s %d", name, len(d.events[c.ID()][name])))
			assert.Equal(t, f.normalized[c.ID()][name], d.events[c.ID()][name], "%s (%s) %s: every event arrives once, normalized", c.ID(), c.Name(), name)
		}
		t.Logf("%s (%s): %s; %d dead letters", c.ID(), c.Name(), strings.Join(n, ", "), len(d.dead[c.ID()]))
		var wantDead []deadLetter
		for _, dl := range f.dead[c.ID()] {
			if slices.Contains(logTypes, duoapi.LogType(logSlug(dl.logType))) {
				wantDead = append(wantDead, dl)
			}
		}
		assert.ElementsMatch(t, wantDead, d.dead[c.ID()], "%s: dead letters", c.ID())
	}
	for id := range d.events {
		assert.True(t, wantIDs[id], "records of account %s, which must deliver nothing", id)
	}
	for id := range d.dead {
		assert.True(t, wantIDs[id], "dead letters of account %s, which must deliver nothing", id)
	}
}

// TestDuoMSPToKafka runs duo-msp-to-kafka.yaml, with only variables its
// header documents, against a simulated MSP parent with five children and
// an in-process Kafka cluster: a child of generated name, another with a
// dead letter, one whose name holds a comma, one excluded by name through
// DUO_ACCOUNTS_EXCLUDE, and a cross-deployment child that refuses log
// requests. Every reachable child's events arrive exactly once, keyed and
// labelled with that child; the excluded child is never asked; the
// cross-deployment child is refused and delivers nothing. A child added to
// the parent later is pulled after the next refresh of the list.
func TestDuoMSPToKafka(t *testing.T) {
	f := newMSPFixture(t, 21)
	k := newMSPKafka(t)
	env := f.env(t, k.brokers())
	env["DUO_ACCOUNTS_EXCLUDE"] = "[" + f.excluded.Name() + "]"
	env["DUO_ACCOUNTS_REFRESH_INTERVAL"] = "2s"
	checkDocumented(t, mspPipeline, env)
	stop, done := runPipeline(t, mspPipeline, env)

	reachable := []*duosim.Child{f.generated[0], f.generated[1], f.smith}
	want := f.want(k, reachable, duoapi.AllLogTypes)
	k.waitForRecords(t, done, want)

	// A newcomer, listed once the pipeline has pulled the others.
	newcomer, err := f.sim.GenerateChildren(1)
	require.NoError(t, err)
	f.addBackfill(t, newcomer[0])
	reachable = append(reachable, newcomer[0])
	want = f.want(k, reachable, duoapi.AllLogTypes)
	k.waitForRecords(t, done, want)
	stop()

	ends, err := k.ends(t)
	require.NoError(t, err)
	assert.Equal(t, want, ends, "no record is written twice")
	records := consumeAll(t, k.topics, k.cluster.ListenAddrs(), ends)
	d := f.checkRecords(t, k, records)
	f.checkChildren(t, d, reachable, duoapi.AllLogTypes)

	assert.Empty(t, f.sim.AccountRequestCounts(f.excluded.ID()), "the excluded child %q is never asked", f.excluded.Name())
	refused := f.sim.AccountRequestCounts(f.crossDeployment.ID())
	assert.NotEmpty(t, refused, "the cross-deployment child is asked")
	nRefused := 0
	for ps, n := range refused {
		assert.Equal(t, 403, ps.Status, "the cross-deployment child answers %d requests to %s with %d", n, ps.Path, ps.Status)
		nRefused += n
	}
	lists := f.sim.RequestCounts()[duosim.PathStatus{Path: duoapi.PathAccountList, Status: 200}]
	t.Logf("the cross-deployment child refused %d requests; the child list was read %d times", nRefused, lists)
	assert.LessOrEqual(t, nRefused, lists, "a child that refuses is asked again only once the child list is read again")
	for _, c := range reachable {
		for ps, n := range f.sim.AccountRequestCounts(c.ID()) {
			assert.Equal(t, 200, ps.Status, "%s: %d requests to %s answered %d", c.ID(), n, ps.Path, ps.Status)
		}
	}

	// Keys spread the records of the busiest topic over its partitions.
	partitions := map[int32]bool{}
	for _, r := range records {
		if r.Topic == "duo.authentication" {
			partitions[r.Partition] = true
		}
	}
	assert.Len(t, partitions, 3)
}

// TestDuoMSPToKafkaInclude runs duo-msp-to-kafka.yaml with
// DUO_ACCOUNTS_INCLUDE a YAML list naming one child by account ID and one
// by a name that holds a comma, in double quotes as the header says, and two log
// types in DUO_LOG_TYPES: those two children deliver those log types,
// exactly once, and no other child is asked.
func TestDuoMSPToKafkaInclude(t *testing.T) {
	f := newMSPFixture(t, 22)
	k := newMSPKafka(t)
	env := f.env(t, k.brokers())
	env["DUO_ACCOUNTS_INCLUDE"] = "[" + f.generated[1].ID() + `, "` + f.smith.Name() + `"]`
	logTypes := []duoapi.LogType{duoapi.Authentication, duoapi.Telephony}
	env["DUO_LOG_TYPES"] = "authentication,telephony"
	checkDocumented(t, mspPipeline, env)
	stop, done := runPipeline(t, mspPipeline, env)

	included := []*duosim.Child{f.generated[1], f.smith}
	want := f.want(k, included, logTypes)
	k.waitForRecords(t, done, want)
	stop()

	ends, err := k.ends(t)
	require.NoError(t, err)
	assert.Equal(t, want, ends, "no record is written twice")
	d := f.checkRecords(t, k, consumeAll(t, k.topics, k.cluster.ListenAddrs(), ends))
	f.checkChildren(t, d, included, logTypes)
	for _, c := range []*duosim.Child{f.generated[0], f.crossDeployment, f.excluded} {
		assert.Empty(t, f.sim.AccountRequestCounts(c.ID()), "%s (%s) is not included, so never asked", c.ID(), c.Name())
	}
}
