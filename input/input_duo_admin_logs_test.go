// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/duostream/duostream/duoapi"
)

const testSecret = "S3CR3T-duostream-test-secret-key-0001"

func baseConfig(extra string) string {
	return `
api_hostname: api-test0001.duosecurity.com
integration_key: DITESTINTEGRATIONKEY1
secret_key: ` + testSecret + `
checkpoint_cache: state
` + extra
}

func TestDuoAdminLogsConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		conf string
		want string
	}{
		{"unknown log type", `log_types: [authentication, audit]`, `field log_types: unknown log type "audit": use one of authentication, administrator, telephony, offline_enrollment, activity, trust_monitor`},
		{"unknown log type in a comma-separated element", `log_types: ["authentication, audit"]`, `field log_types: unknown log type "audit"`},
		{"a type listed twice across elements", `log_types: ["authentication,telephony", telephony]`, `log type "telephony" is listed twice`},
		{"empty trust monitor type", `trust_monitor_types: [auth, " "]`, "field trust_monitor_types: element 1 is empty"},
		{"empty log types", `log_types: []`, "field log_types: lists no log type"},
		{"lookback too long", `initial_lookback: 4320h`, "field initial_lookback: 4320h0m0s is more than 4296h"},
		{"poll too short", `poll_interval: 10ms`, "field poll_interval: 10ms is shorter than 1s"},
		{"bad signature version", `signature_version: 4`, "field signature_version: 4 is not supported"},
		{"http to a remote host", `base_url: http://duo-proxy.example.com`, `field base_url: plain http is only allowed to a loopback address (127.0.0.1, [::1] or localhost), not "duo-proxy.example.com"`},
		{"not a URL scheme", `base_url: ftp://127.0.0.1`, "field base_url: \"ftp://127.0.0.1\" must be an http or https URL"},
		{"checkpoint limit below a page", `checkpoint_limit: 10`, "field checkpoint_limit: 10 is less than a page of 1000 events"},
		{"zero budget", `requests_per_minute: 0`, "field requests_per_minute: must be positive"},
		{"bad backoff", "backoff:\n  initial_interval: 5s\n  max_interval: 1s", "field backoff: needs 0 < initial_interval <= max_interval"},
		{"include without discover", "accounts:\n  include: [DA9VZOC5X63I2W72NRP9]", "field accounts.include: lists child accounts, but accounts.discover is false"},
		{"exclude without discover", "accounts:\n  exclude: [Acme]", "field accounts.exclude: lists child accounts, but accounts.discover is false"},
		{"an empty account", "accounts:\n  discover: true\n  include: [\"\"]", "field accounts.include: element 0 is empty"},
		{"refresh too short", "accounts:\n  discover: true\n  refresh_interval: 10ms", "field accounts.refresh_interval: 10ms is shorter than 1s"},
		{"a word for the cap", `max_requests_per_minute: lots`, `field max_requests_per_minute: "lots" is not a whole number`},
		{"a date that is no time", `start_time: 2026-11-24`, `field start_time: "2026-11-24" is not an RFC 3339 time`},
		{"an end without a start", `end_time: 2026-11-24T00:00:00Z`, "field end_time: needs start_time"},
		{"a start Duo no longer serves", `start_time: 2020-01-01T00:00:00Z`, "field start_time: 2020-01-01T00:00:00Z is more than 179 days ago"},
		{"an end before the start", "start_time: " + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) + "\nend_time: " + time.Now().Add(-2*time.Hour).UTC().Format(time.RFC3339), "field end_time: "},
		{"hostname with scheme", `api_hostname: https://api-x.duosecurity.com`, `field api_hostname: "https://api-x.duosecurity.com" is not a hostname`},
		{"a lease in another cache", "lease: { cache: other }", `field lease.cache: "other" is not the checkpoint_cache "state"; set both to the same redis cache`},
		{"a short lease", "lease: { cache: state, ttl: 500ms }", "field lease.ttl: 500ms is shorter than 1s"},
		{"a lease for a replay", "start_time: " + time.Now().Add(-2*time.Hour).UTC().Format(time.RFC3339) + "\nend_time: " + time.Now().Add(-time.Hour).UTC().Format(time.RFC3339) + "\nlease: { cache: state }", "field lease.cache: a replay with end_time reads every stream in one process"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf := baseConfig(tt.conf)
			if strings.HasPrefix(tt.conf, "api_hostname:") {
				conf = strings.Replace(baseConfig(""), "api_hostname: api-test0001.duosecurity.com", tt.conf, 1)
			}
			parsed, err := duoAdminLogsSpec().ParseYAML(conf, nil)
			require.NoError(t, err)
			_, err = newDuoAdminLogsInput(parsed, service.MockResources(service.MockResourcesOptAddCache("state")))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), testSecret)
		})
	}
}

func TestDuoAdminLogsMissingCache(t *testing.T) {
	parsed, err := duoAdminLogsSpec().ParseYAML(baseConfig(""), nil)
	require.NoError(t, err)
	_, err = newDuoAdminLogsInput(parsed, service.MockResources())
	require.Error(t, err)
	assert.Contains(t, err.Error(), `field checkpoint_cache: no cache resource labelled "state"`)
}

func TestDuoAdminLogsLint(t *testing.T) {
	tests := []struct {
		name string
		conf string
		want string // empty: no lint error
	}{
		{"defaults", ``, ""},
		{"loopback http", `base_url: http://127.0.0.1:8080`, ""},
		{"remote http", `base_url: http://10.1.2.3:8080`, "field base_url: plain http is only allowed to a loopback address"},
		{"unknown type", `log_types: [authentication, audit]`, `field log_types: unknown log type "audit"`},
		{"comma-separated types", `log_types: [ "authentication, activity,trust_monitor" ]`, ""},
		{"an unknown type among comma-separated ones", `log_types: [ "authentication,audit" ]`, `field log_types: unknown log type "audit"`},
		{"all six types", `log_types: [authentication, administrator, telephony, offline_enrollment, activity, trust_monitor]`, ""},
		{"a trust monitor filter", `trust_monitor_types: [auth, bypass_status]`, ""},
		{"an empty trust monitor type", `trust_monitor_types: [""]`, "field trust_monitor_types: an empty type"},
		{"lookback", `initial_lookback: 4400h`, "field initial_lookback: 4400h is more than 4296h"},
		{"the longest lookback", `initial_lookback: 4296h`, ""},
		{"days are not a unit", `initial_lookback: 7d`, "field initial_lookback: 7d is not a duration"},
		{"a word for a duration", `poll_interval: soon`, "field poll_interval: soon is not a duration"},
		{"a number for a duration", `poll_interval: 60`, "field poll_interval: 60 is not a duration"},
		{"a nested duration", `backoff: {initial_interval: fast}`, "field backoff.initial_interval: fast is not a duration"},
		{"a word for a number", `requests_per_minute: many`, "field requests_per_minute: many is not a whole number"},
		{"a number", `requests_per_minute: 120`, ""},
		{"compound and fractional durations", "initial_lookback: 1h30m\npoll_interval: 1.5m\ndrop_off_alarm: 0s", ""},
		{"a negative lookback", `initial_lookback: -1h`, "field initial_lookback: -1h is not positive"},
		{"polling too often", `poll_interval: 100ms`, "field poll_interval: 100ms is shorter than 1s"},
		{"discover", "accounts:\n  discover: true\n  include: [DA9VZOC5X63I2W72NRP9, Acme Corp]\n  exclude: [Test]\n  refresh_interval: 30m\nmax_requests_per_minute: 600", ""},
		{"include without discover", "accounts:\n  include: [Acme]", "field accounts: include and exclude select child accounts, but discover is false"},
		{"a refresh that is no duration", "accounts:\n  discover: true\n  refresh_interval: hourly", "field accounts.refresh_interval: hourly is not a duration"},
		{"a word for the cap", `max_requests_per_minute: lots`, "field max_requests_per_minute: lots is not a whole number"},
		{"a window", "start_time: 2026-11-24T00:00:00Z\nend_time: 2026-11-25T00:00:00.5+01:00", ""},
		{"a date for a time", `start_time: 2026-11-24`, "field start_time: 2026-11-24 is not an RFC 3339 time"},
		{"a time without a zone", `end_time: 2026-11-24T00:00:00`, "field end_time: 2026-11-24T00:00:00 is not an RFC 3339 time"},
	}
	env := service.NewEnvironment()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := "input:\n  duo_admin_logs:\n" + indent(baseConfig(tt.conf), "    ") +
				"\ncache_resources:\n  - label: state\n    memory: {}\noutput:\n  drop: {}\n"
			err := env.NewStreamBuilder().SetYAML(yaml)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

func TestCheckBaseURL(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"", true},
		{"https://duo-proxy.example.com", true},
		{"https://", false},
		{"http://127.0.0.1:9000", true},
		{"http://127.9.9.9", true},
		{"http://localhost:80/base", true},
		{"http://[::1]:8443", true},
		{"http://192.168.1.10", false},
		{"http://api-x.duosecurity.com", false},
		{"ws://127.0.0.1", false},
		{"::not a url", false},
	}
	for _, tt := range tests {
		err := checkBaseURL(tt.url)
		assert.Equal(t, tt.ok, err == nil, "checkBaseURL(%q) = %v", tt.url, err)
	}
}

// adminServer serves /admin/v1/logs/administrator from a fixed list of
// events, by whole-second mintime, the way Duo does.
func adminServer(t *testing.T, events []string, seconds []int64) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mintime, err := strconv.ParseInt(r.URL.Query().Get("mintime"), 10, 64)
		if err != nil || r.URL.Path != duoapi.PathAdministratorV1 {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"stat":"FAIL","code":40002,"message":"Invalid request parameters"}`))
			return
		}
		var page []string
		for i, ev := range events {
			if seconds[i] >= mintime && len(page) < 1000 {
				page = append(page, ev)
			}
		}
		_, _ = w.Write([]byte(`{"stat":"OK","response":[` + strings.Join(page, ",") + `]}`))
	}))
	t.Cleanup(srv.Close)
	return srv
}

// connectAdminInput returns a connected input reading the administrator log
// of srv into a memory cache "state", with extra config fields, and its
// resources.
func connectAdminInput(t *testing.T, srv *httptest.Server, extra string) (*duoAdminLogsInput, *service.Resources) {
	t.Helper()
	res := service.MockResources(service.MockResourcesOptAddCache("state"))
	parsed, err := duoAdminLogsSpec().ParseYAML(baseConfig(`
log_types: [administrator]
base_url: `+srv.URL+`
initial_lookback: 2h
requests_per_minute: 6000
`+extra), nil)
	require.NoError(t, err)
	in, err := newDuoAdminLogsInput(parsed, res)
	require.NoError(t, err)
	require.NoError(t, in.Connect(t.Context()))
	t.Cleanup(func() { _ = in.Close(context.Background()) })
	return in, res
}

// TestDuoAdminLogsAcksOutOfOrder reads three pages, acknowledges them out of
// order and checks the stored position only ever moves to the highest page
// whose predecessors are all acknowledged.
func TestDuoAdminLogsAcksOutOfOrder(t *testing.T) {
	base := time.Now().Add(-time.Hour).Unix()
	var events []string
	var seconds []int64
	for page := range 3 {
		for i := range 1000 {
			sec := base + int64(page*10) + int64(i/100)
			events = append(events, fmt.Sprintf(`{"action":"a","timestamp":%d,"username":"u","object":"p%d-%d"}`, sec, page, i))
			seconds = append(seconds, sec)
		}
	}
	in, res := connectAdminInput(t, adminServer(t, events, seconds), "")
	ctx := t.Context()

	// Pages after the first re-read the last second of the previous page
	// and drop its 100 events already delivered: 1000, 900, 900, 200.
	var acks []service.AckFunc
	var sizes []int
	for range 4 {
		batch, ack, err := in.ReadBatch(ctx)
		require.NoError(t, err)
		sizes = append(sizes, len(batch))
		v, ok := batch[0].MetaGet(MetaLogType)
		require.True(t, ok)
		assert.Equal(t, "Duo.Administrator", v)
		ep, _ := batch[0].MetaGet(MetaEndpoint)
		assert.Equal(t, duoapi.PathAdministratorV1, ep)
		acks = append(acks, ack)
	}
	assert.Equal(t, []int{1000, 900, 900, 200}, sizes)
	stored := func() (duoapi.Cursor, bool) {
		var p StoredPosition
		var found bool
		var rerr error
		require.NoError(t, res.AccessCache(ctx, "state", func(c service.Cache) {
			p, found, rerr = ReadPosition(ctx, c, "duostream:api-test0001.duosecurity.com:DITESTINTEGRATIONKEY1", duoapi.Administrator)
		}))
		require.NoError(t, rerr)
		return p.Cursor, found
	}
	for _, i := range []int{3, 1, 2} {
		require.NoError(t, acks[i](ctx, nil))
		_, ok := stored()
		assert.False(t, ok, "nothing is stored while the first page is unacknowledged (acked %d)", i)
	}
	require.NoError(t, acks[0](ctx, nil))
	c, ok := stored()
	require.True(t, ok)
	// The next request starts at the last second delivered (inclusive),
	// remembering its 100 events.
	assert.Equal(t, base+29, c.MinTime)
	assert.Len(t, c.Seen, 100)
}

// TestDuoAdminLogsRejectedBatchIsReleased checks that, with
// auto_replay_nacks: false, a batch the output rejects does not hold the
// stored position back: Benthos documents that setting as dropping such
// batches, and holding them would stop every log type once checkpoint_limit
// fills.
func TestDuoAdminLogsRejectedBatchIsReleased(t *testing.T) {
	base := time.Now().Add(-time.Hour).Unix()
	var events []string
	var seconds []int64
	for i := range 1500 {
		sec := base + int64(i/100)
		events = append(events, fmt.Sprintf(`{"action":"a","timestamp":%d,"username":"u","object":"o%d"}`, sec, i))
		seconds = append(seconds, sec)
	}
	in, res := connectAdminInput(t, adminServer(t, events, seconds), "auto_replay_nacks: false\n")
	ctx := t.Context()

	first, ack1, err := in.ReadBatch(ctx)
	require.NoError(t, err)
	require.Len(t, first, 1000)
	second, ack2, err := in.ReadBatch(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, second)
	require.NoError(t, ack1(ctx, errors.New("rejected by the output")))
	require.NoError(t, ack2(ctx, nil))

	var p StoredPosition
	var found bool
	require.NoError(t, res.AccessCache(ctx, "state", func(c service.Cache) {
		p, found, err = ReadPosition(ctx, c, DefaultCheckpointKey("api-test0001.duosecurity.com", "DITESTINTEGRATIONKEY1"), duoapi.Administrator)
	}))
	require.NoError(t, err)
	require.True(t, found, "the rejected batch does not hold the position back")
	assert.Equal(t, base+14, p.Cursor.MinTime, "the position is past both batches")
}
