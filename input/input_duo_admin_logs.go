// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package input

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Jeffail/checkpoint"
	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/duostream/duostream/duoapi"
)

const (
	dalFieldAPIHostname       = "api_hostname"
	dalFieldIntegrationKey    = "integration_key"
	dalFieldSecretKey         = "secret_key"
	dalFieldLogTypes          = "log_types"
	dalFieldTelephonyAPI      = "telephony_api"
	dalFieldTrustMonitorTypes = "trust_monitor_types"
	dalFieldCheckpointCache   = "checkpoint_cache"
	dalFieldCheckpointKey     = "checkpoint_key"
	dalFieldCheckpointLimit   = "checkpoint_limit"
	dalFieldInitialLookback   = "initial_lookback"
	dalFieldPollInterval      = "poll_interval"
	dalFieldAvailabilityLag   = "availability_lag"
	dalFieldRequestsPerMinute = "requests_per_minute"
	dalFieldDropOffAlarm      = "drop_off_alarm"
	dalFieldSignatureVersion  = "signature_version"
	dalFieldTimeout           = "timeout"
	dalFieldTLS               = "tls"
	dalFieldBaseURL           = "base_url"
	dalFieldBackoff           = "backoff"
	dalFieldRateLimitBackoff  = "rate_limit_backoff"
	dalFieldInitialInterval   = "initial_interval"
	dalFieldMaxInterval       = "max_interval"
)

// Metadata keys set on every message.
const (
	MetaLogType     = "duo_log_type"
	MetaAPIHostname = "duo_api_hostname"
	MetaEndpoint    = "duo_endpoint"
	// MetaPageID identifies the Duo page a message came from, the same
	// when the same page is read again after a replay: a key for output
	// objects that a replay overwrites instead of adding to.
	MetaPageID = "duo_page_id"
)

// Lint rules of single fields. A duration field is a string to Benthos, so
// "7d" or "soon" would pass its own checks and fail only at start; these
// find such values, and the others the input refuses, at lint time. (Lint
// rules of the whole component are not run by "duostream lint", those of
// its fields are.)
func durationLint(path string) string {
	return fmt.Sprintf(`root = if !this.string().re_match(%q) { [%q.format(this)] }`, durationPattern, "field "+path+": "+notADuration)
}

// durationPattern matches what time.ParseDuration accepts. (A lint rule is
// compiled when its spec is built, at init, before Bloblang's parse_duration
// is registered, so the rules match text.)
const durationPattern = `^[-+]?(0|(([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+)$`

// durationRegexp is durationPattern as a Bloblang string literal.
var durationRegexp = strconv.Quote(durationPattern)

const notADuration = "%v is not a duration: write a number and a unit, such as 90s, 15m or 168h (h is the largest unit: 7 days is 168h)"

// wholeNumberField is a field holding a whole number. Benthos cannot lint
// the value of an int field that is not a number (it skips the field), so
// the field is a string to Benthos, a number in YAML, and checked by its
// lint rule; read it with fieldWholeNumber.
func wholeNumberField(name string, def int) *service.ConfigField {
	return service.NewStringField(name).
		Default(strconv.Itoa(def)).
		LintRule(fmt.Sprintf(`root = if !this.string().re_match("^[0-9]+$") { ["field %s: %%v is not a whole number".format(this)] }`, name))
}

// fieldWholeNumber reads a field made by wholeNumberField.
func fieldWholeNumber(conf *service.ParsedConfig, name string) (int, error) {
	s, err := conf.FieldString(name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("field %s: %q is not a whole number", name, s)
	}
	return n, nil
}

var (
	lookbackLint = `root = match this.string() {
  !this.re_match(` + durationRegexp + `) => ["field initial_lookback: ` + notADuration + `".format(this)],
  this.re_match("^[0-9]+h$") && this.trim_suffix("h").number() > 4296 => ["field initial_lookback: %v is more than 4296h (179 days): Duo serves 180 days of logs".format(this)],
  this.re_match("^[-0]") => ["field initial_lookback: %v is not positive".format(this)],
}`
	pollLint = `root = match this.string() {
  !this.re_match(` + durationRegexp + `) => ["field poll_interval: ` + notADuration + `".format(this)],
  this.re_match("^[-+]?(0|[0-9.]+(ns|us|µs|μs|ms))$") => ["field poll_interval: %v is shorter than 1s".format(this)],
}`
	baseURLLint = `root = if this.has_prefix("http://") && !this.re_match("^http://(127\\.[0-9]+\\.[0-9]+\\.[0-9]+|localhost|\\[::1\\])(:[0-9]+)?(/.*)?$") { ["field base_url: plain http is only allowed to a loopback address (127.0.0.1, [::1] or localhost): use https"] }`
)

// logTypeNames lists log types by the names a config gives them.
func logTypeNames(types []duoapi.LogType) []any {
	names := make([]any, len(types))
	for i, t := range types {
		names[i] = string(t)
	}
	return names
}

// logTypesLint refuses a log_types element naming a log type that does not
// exist; an element may hold several names separated by commas.
func logTypesLint() string {
	quoted := make([]string, len(duoapi.AllLogTypes))
	plain := make([]string, len(duoapi.AllLogTypes))
	for i, t := range duoapi.AllLogTypes {
		quoted[i], plain[i] = strconv.Quote(string(t)), string(t)
	}
	use := strings.Join(plain[:len(plain)-1], ", ") + " or " + plain[len(plain)-1]
	return `root = if this.type() == "string" { this.split(",").map_each(t -> t.trim()).filter(t -> ![` + strings.Join(quoted, ", ") +
		`].contains(t)).map_each(t -> "field log_types: unknown log type %q: use ` + use + `".format(t)) }`
}

func duoAdminLogsSpec() *service.ConfigSpec {
	backoffFields := func(parent, initial, maxInterval string) []*service.ConfigField {
		return []*service.ConfigField{
			service.NewDurationField(dalFieldInitialInterval).Description("The wait after the first failure.").Default(initial).
				LintRule(durationLint(parent + "." + dalFieldInitialInterval)),
			service.NewDurationField(dalFieldMaxInterval).Description("The longest wait between attempts.").Default(maxInterval).
				LintRule(durationLint(parent + "." + dalFieldMaxInterval)),
		}
	}
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Version("0.1.0").
		Summary("Pulls Cisco Duo logs from the Duo Admin API: authentication, administrator, telephony, offline enrollment, activity and Trust Monitor events.").
		Description(`
Each Duo event becomes one message holding the event's JSON exactly as Duo sent it; each page of up to 1000 events (200 for Trust Monitor) is one batch. Every message carries the metadata `+"`duo_log_type`"+` (`+"`Duo.Authentication`, `Duo.Administrator`, `Duo.Telephony`, `Duo.OfflineEnrollment`, `Duo.Activity` or `Duo.TrustMonitor`"+`, ready for the `+"`duo_normalize`"+` processor), `+"`duo_api_hostname`"+` and `+"`duo_endpoint`"+`.

By default the input pulls the four log types Panther's Duo source reads. Add `+"`activity`"+` and `+"`trust_monitor`"+` to `+"`log_types`"+` for the activity log (`+"`/admin/v2/logs/activity`"+`: administrator actions and user, device and policy changes; Duo asks integrations to move from the administrator and offline enrollment logs to it) and Trust Monitor (`+"`/admin/v1/trust_monitor/events`"+`: risky authentications, bypass codes and device registrations Duo surfaced).

### Delivery guarantee

The position of each log type is stored in the cache resource named by `+"`checkpoint_cache`"+`, and only once every earlier batch of that log type has been acknowledged by the output (acknowledgements may arrive in any order; the stored position never moves backwards). After a crash or restart the input resumes after the last acknowledged event: nothing is lost, and only the pages that were in flight can be delivered again. Messages that a processor flags as errored still count as delivered unless the output rejects them, so route them to a dead-letter output (see the `+"`duo_normalize`"+` processor). A batch the output rejects in part is replayed whole (its delivered part may come again; nothing is lost). With `+"`auto_replay_nacks: false`"+` a batch the output rejects is dropped, as Benthos documents, and counted in `+"`duo_nacked_events_total`"+`.

Each position is written in turn to two keys, `+"`<checkpoint_key>:<log type>:a`"+` and `+"`…:b`"+`, so that a write torn by a crash leaves the other, one write older, to resume from; keys hold no `+"`/`"+`, so every cache stores them (core `+"`file`"+` and `+"`memory`"+`, `+"`bbolt`"+`, `+"`redis`"+`). Positions are written with an explicit time to live of a hundred years, so a cache's `+"`default_ttl`"+` never expires them. At start the input writes, reads back and deletes a probe key, and refuses to start, naming the cache, when the cache cannot keep a position. A position stored by an earlier release under `+"`<checkpoint_key>/<log type>`"+` is read once and then stored under the new keys. Use a durable cache (`+"`bbolt`"+` on one machine, `+"`redis`"+` to move a stream between machines; `+"`memory`"+` keeps positions only while the process runs); a cache that loses its contents restarts each log type `+"`initial_lookback`"+` ago, and so does a stored position that cannot be read, which is reported as an error: data is never skipped.

### Paging

Authentication, telephony and activity (v2 endpoints) and Trust Monitor are read in fixed windows that end `+"`availability_lag`"+` before now on Duo's clock, following Duo's `+"`next_offset`"+`. Duo's clock is read from the `+"`Date`"+` header of every response and a margin of 5 seconds is kept (a minute before the first response), so a host clock that is fast asks for nothing Duo does not show yet; a skew of 10 seconds or more is logged and shown in `+"`duo_clock_skew_seconds`"+`. A `+"`next_offset`"+` that does not move forward (repeated, earlier, cycling) or that Duo keeps rejecting is not followed: the window is read on from the offset's millisecond once, then from the next millisecond, and this is logged once each time with what was seen. A window keeps its start while it is paged; only when its paging outlasts Duo's retention does it read on from where its offset stands. Trust Monitor windows are on `+"`surfaced_timestamp`"+`, in pages of 200, following the opaque `+"`next_offset`"+` (a number or a string) sent back as `+"`offset`"+`; the position stored with each page holds the sekeys delivered in its last millisecond, so events surfacing in one millisecond across a page boundary are neither lost nor repeated, even when Duo refuses the offset and the window is read on from that millisecond. A Trust Monitor event is read once, when it surfaces: triage made later in the Admin Panel (`+"`state`"+`, `+"`state_updated_timestamp`"+`, `+"`triaged_as_interesting`"+`) is not read again. A v1 log that Duo answers with no events moves its position on to the availability edge, so a quiet log keeps up with time. Administrator, offline enrollment and legacy v1 telephony have no cursor and page by whole seconds: the input asks again from the last second it saw, inclusively, and drops the events of that second it already delivered (by content hash), so a second split across two pages loses nothing and repeats nothing. Nothing older than Duo's 180 days (less ten minutes) is requested; losing events to that edge is reported, a long lookback within it is not.

### Rate limits and errors

Requests of one input share a budget of `+"`requests_per_minute`"+` (Duo publishes no per-endpoint limits and sends no rate-limit headers; 30 a minute is what peers found safe). Log types take turns so that a long authentication backfill does not starve the others. A 429, a 5xx, a timeout, a dropped connection or a truncated body is retried with capped exponential backoff and jitter, re-signed with a fresh date each time. Errors that need you to act (a wrong key, a missing "Grant read log" permission, a clock more than a minute off) are logged with what to fix and retried every few minutes, so the input recovers by itself once fixed; the input never stops on its own. An account whose edition lacks the activity log or Trust Monitor answers those endpoints with 403 or 404: that log type logs one error per retry naming it and the fix (drop it from `+"`log_types`"+`, or the edition that has it), and the other log types go on.

### Metrics

`+"`duo_requests_total`"+` (labels `+"`endpoint`, `outcome`"+`), `+"`duo_request_latency_ns`"+`, `+"`duo_rate_limited_total`"+`, `+"`duo_retries_total`"+` (`+"`log_type`, `reason`"+`), `+"`duo_pages_total`"+`, `+"`duo_events_total`"+`, `+"`duo_boundary_duplicates_total`"+`, `+"`duo_second_overflow_total`"+`, `+"`duo_checkpoint_errors_total`"+` (`+"`log_type`, `operation`"+`), `+"`duo_offset_resets_total`"+` (`+"`log_type`, `reason`"+`), `+"`duo_nacked_events_total`"+`, the gauge `+"`duo_clock_skew_seconds`"+`, and the gauges `+"`duo_cursor_lag_seconds`"+` (how far the stored position is behind now), `+"`duo_seconds_since_last_event`"+` and `+"`duo_drop_off_alarm`"+` (1 while a log type has had no new event for `+"`drop_off_alarm`"+`, counted from the time stored with the position, so restarts do not reset it) and `+"`duo_unacked_seconds`"+` (the age of the oldest batch the output has not acknowledged; a wait of five minutes is logged with the log type), each labelled by `+"`log_type`"+`.

Every message also carries `+"`duo_page_id`"+`, an identity of the Duo page it came from that is the same when the page is read again after a replay: use it in object keys (S3, files) so a replay overwrites instead of adding.`).
		Fields(
			service.NewStringField(dalFieldAPIHostname).
				Description("The API hostname of the Duo Admin API application, as shown in the Duo Admin Panel. Requests are signed for this host.").
				Example("api-XXXXXXXX.duosecurity.com"),
			service.NewStringField(dalFieldIntegrationKey).
				Description("The integration key of the Admin API application. The application needs the \"Grant read log\" permission and no other.").
				Example("${DUO_INTEGRATION_KEY}"),
			service.NewStringField(dalFieldSecretKey).
				Description("The secret key of the Admin API application. It is only used to sign requests and never logged.").
				Secret().
				Example("${DUO_SECRET_KEY}"),
			service.NewStringListField(dalFieldLogTypes).
				Description("The log types to pull, which take turns: any of `authentication`, `administrator`, `telephony`, `offline_enrollment`, `activity`, `trust_monitor`. The default is the four Panther's Duo source reads. An element may hold several names separated by commas, so that one environment variable can set the list: `[ \"${DUO_LOG_TYPES}\" ]`.").
				Default(logTypeNames(duoapi.PantherLogTypes)).
				Example(logTypeNames(duoapi.AllLogTypes)).
				LintRule(logTypesLint()),
			service.NewStringAnnotatedEnumField(dalFieldTelephonyAPI, map[string]string{
				"v2": "`/admin/v2/logs/telephony`, paged with `next_offset`.",
				"v1": "The legacy `/admin/v1/logs/telephony`, paged by whole seconds. Duo has announced its deprecation.",
			}).
				Description("Which telephony endpoint to read. The stored position carries over when this is changed.").
				Default("v2").
				Advanced(),
			service.NewStringListField(dalFieldTrustMonitorTypes).
				Description("Pull only Trust Monitor events of these types, sent to Duo as `type` parameters. Events carry the types `auth`, `bypass_status` and `device_registration`; which filter values Duo accepts is not documented (Duo's PowerShell module sends `bypass_status_enabled` for bypass codes), and a value Duo refuses is logged as a needs-action error of `trust_monitor`. Empty pulls every type, which is the safe choice. The stored position is not tied to the filter: events of a type added later are read only from the position on.").
				Default([]any{}).
				Example([]any{"auth"}).
				LintRule(`root = if this.type() == "string" && this.trim() == "" { ["field trust_monitor_types: an empty type: name a Trust Monitor event type such as auth"] }`).
				Advanced(),
			service.NewStringField(dalFieldCheckpointCache).
				Description("The label of the cache resource that stores each log type's position. Use a durable one: `bbolt` on one machine, `redis` to share state between machines."),
			service.NewStringField(dalFieldCheckpointKey).
				Description("The key prefix of the stored positions; each log type is stored under `<checkpoint_key>:<log type>:a` and `…:b`. Empty means `duostream:<api_hostname>:<integration_key>`, which is unique per Duo application. Give each stream of the same Duo application its own key. With a core `file` cache, a key holding `/` needs the directories to exist.").
				Default("").
				Advanced(),
			wholeNumberField(dalFieldCheckpointLimit, 5000).
				Description("The most events per log type that may be in flight (read but not yet acknowledged). Reading pauses at the limit, which bounds memory when the output is slow or down. At least 1000.").
				Advanced(),
			service.NewDurationField(dalFieldInitialLookback).
				Description("How far back a log type starts when no position is stored. At most 179 days (Duo serves 180).").
				Default("24h").
				Examples("168h", "4296h").
				LintRule(lookbackLint),
			service.NewDurationField(dalFieldPollInterval).
				Description("How long a log type waits once it has caught up. Duo recommends polling no more than once a minute.").
				Default("1m").
				LintRule(pollLint),
			service.NewDurationField(dalFieldAvailabilityLag).
				Description("How long Duo takes to make an event consistently available; nothing newer is requested. Duo documents two minutes.").
				Default("2m").
				LintRule(durationLint(dalFieldAvailabilityLag)),
			wholeNumberField(dalFieldRequestsPerMinute, 30).
				Description("The budget of requests per minute shared by every log type of this input, retries included."),
			service.NewDurationField(dalFieldDropOffAlarm).
				Description("Log an error (once per interval) and set the `duo_drop_off_alarm` gauge when a log type has had no new event for this long. `0s` disables the alarm.").
				Default("24h").
				LintRule(durationLint(dalFieldDropOffAlarm)),
			wholeNumberField(dalFieldSignatureVersion, 2).
				Description("The Duo request signature version: 2 (HMAC-SHA512 over the canonical request) or 5 (the same plus body and header hashes).").
				Advanced(),
			service.NewDurationField(dalFieldTimeout).
				Description("The timeout of one HTTP request, including reading the body.").
				Default("30s").
				LintRule(durationLint(dalFieldTimeout)).
				Advanced(),
			service.NewTLSField(dalFieldTLS).
				Description("TLS settings for the connection to Duo, e.g. extra root CAs for a TLS-inspecting proxy."),
			service.NewStringField(dalFieldBaseURL).
				Description("Where requests are sent, when not to `https://<api_hostname>` (e.g. a reverse proxy or the Duo API simulator); signatures still cover `api_hostname`. Plain `http` is only allowed to a loopback address.").
				Default("").
				Example("http://127.0.0.1:8443").
				LintRule(baseURLLint).
				Advanced(),
			service.NewObjectField(dalFieldBackoff, backoffFields(dalFieldBackoff, "1s", "1m")...).
				Description("The backoff after a transient failure (5xx, timeout, dropped connection, truncated body).").
				Advanced(),
			service.NewObjectField(dalFieldRateLimitBackoff, backoffFields(dalFieldRateLimitBackoff, "15s", "5m")...).
				Description("The backoff after Duo answered 429 Too Many Requests.").
				Advanced(),
			service.NewAutoRetryNacksToggleField(),
		).
		Example("Pull every log type", "Pulls all six log types into a durable local checkpoint and normalizes the events; see the `duo_normalize` processor for routing events that fail their schema.", `
input:
  duo_admin_logs:
    api_hostname: api-XXXXXXXX.duosecurity.com
    integration_key: ${DUO_INTEGRATION_KEY}
    secret_key: ${DUO_SECRET_KEY}
    log_types: [ authentication, administrator, telephony, offline_enrollment, activity, trust_monitor ]
    checkpoint_cache: duo_state
    initial_lookback: 168h

cache_resources:
  - label: duo_state
    bbolt:
      path: /var/lib/duostream/state.db

pipeline:
  processors:
    - duo_normalize: {}

output:
  stdout: {}
`)
}

func init() {
	service.MustRegisterBatchInput("duo_admin_logs", duoAdminLogsSpec(),
		func(conf *service.ParsedConfig, mgr *service.Resources) (service.BatchInput, error) {
			in, err := newDuoAdminLogsInput(conf, mgr)
			if err != nil {
				return nil, err
			}
			retrying, err := service.AutoRetryNacksBatchedToggled(conf, in)
			if err != nil {
				return nil, err
			}
			return wholePageNacks{retrying}, nil
		})
}

// wholePageNacks makes every rejection of a batch a rejection of the whole
// page. Benthos v4.60's replay of rejected batches (AutoRetryNacksBatched)
// sends again only the messages a *service.BatchError names, and when such a
// part is rejected again it maps the new error's indexes onto the wrong
// messages of it, so that some are acknowledged without ever being written.
// A page replayed whole can repeat events, never lose them; outputs that
// must not repeat the part that succeeded retry it themselves (a switch
// with retry_until_success, as the shipped pipelines have).
type wholePageNacks struct {
	service.BatchInput
}

func (w wholePageNacks) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	batch, ack, err := w.BatchInput.ReadBatch(ctx)
	if err != nil {
		return nil, nil, err
	}
	return batch, func(ctx context.Context, err error) error {
		var batchErr *service.BatchError
		if errors.As(err, &batchErr) {
			err = errors.New(err.Error())
		}
		return ack(ctx, err)
	}, nil
}

// duoAdminLogsInput is the duo_admin_logs input.
type duoAdminLogsInput struct {
	res     *service.Resources
	log     *service.Logger
	host    string
	limit   int64
	dropOff time.Duration
	now     func() time.Time

	client    *duoapi.Client
	pullerCfg duoapi.PullerConfig
	puller    *duoapi.Puller // set by Connect, used only by ReadBatch
	metrics   *inputMetrics

	positions   *positionStore
	checkpoints map[duoapi.LogType]*checkpoint.Capped[position]
	nextSeq     map[duoapi.LogType]uint64
	unacked     *unackedBatches

	persistMu   sync.Mutex
	persisted   map[duoapi.LogType]uint64
	generations map[duoapi.LogType]uint64

	alarm     *dropOffAlarm
	stopAlarm context.CancelFunc
	alarmDone chan struct{}
	connectMu sync.Mutex // guards puller and the alarm's lifecycle
}

// position is a cursor with its place in the read order of its log type.
type position struct {
	seq    uint64
	cursor duoapi.Cursor
}

// DefaultCheckpointKey is the checkpoint_key of an input that sets none:
// unique per Duo application.
func DefaultCheckpointKey(host, ikey string) string {
	return "duostream" + KeySeparator + host + KeySeparator + ikey
}

func newDuoAdminLogsInput(conf *service.ParsedConfig, mgr *service.Resources) (*duoAdminLogsInput, error) {
	str := func(name string) (string, error) {
		s, err := conf.FieldString(name)
		return strings.TrimSpace(s), err
	}
	host, err := str(dalFieldAPIHostname)
	if err != nil {
		return nil, err
	}
	if host == "" || strings.ContainsAny(host, "/: ") {
		return nil, fmt.Errorf("field %s: %q is not a hostname: give the bare API hostname, such as api-XXXXXXXX.duosecurity.com", dalFieldAPIHostname, host)
	}
	ikey, err := str(dalFieldIntegrationKey)
	if err != nil {
		return nil, err
	}
	if ikey == "" {
		return nil, fmt.Errorf("field %s: is empty", dalFieldIntegrationKey)
	}
	skey, err := conf.FieldString(dalFieldSecretKey)
	if err != nil {
		return nil, err
	}
	if skey == "" {
		return nil, fmt.Errorf("field %s: is empty (is its environment variable set?)", dalFieldSecretKey)
	}
	names, err := conf.FieldStringList(dalFieldLogTypes)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("field %s: lists no log type", dalFieldLogTypes)
	}
	var logTypes []duoapi.LogType
	for _, element := range names {
		for n := range strings.SplitSeq(element, ",") {
			t, err := duoapi.ParseLogType(strings.TrimSpace(n))
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", dalFieldLogTypes, err)
			}
			if slices.Contains(logTypes, t) {
				return nil, fmt.Errorf("field %s: log type %q is listed twice", dalFieldLogTypes, t)
			}
			logTypes = append(logTypes, t)
		}
	}
	telephonyAPI, err := conf.FieldString(dalFieldTelephonyAPI)
	if err != nil {
		return nil, err
	}
	tmTypes, err := conf.FieldStringList(dalFieldTrustMonitorTypes)
	if err != nil {
		return nil, err
	}
	for i, typ := range tmTypes {
		if tmTypes[i] = strings.TrimSpace(typ); tmTypes[i] == "" {
			return nil, fmt.Errorf("field %s: element %d is empty: name a Trust Monitor event type such as auth", dalFieldTrustMonitorTypes, i)
		}
	}
	cacheName, err := str(dalFieldCheckpointCache)
	if err != nil {
		return nil, err
	}
	if !mgr.HasCache(cacheName) {
		return nil, fmt.Errorf("field %s: no cache resource labelled %q: add it under cache_resources", dalFieldCheckpointCache, cacheName)
	}
	keyPrefix, err := str(dalFieldCheckpointKey)
	if err != nil {
		return nil, err
	}
	// Releases before 0.2 kept each position under "<prefix>/<log type>",
	// with a default prefix of "duostream/<host>/<ikey>".
	legacyPrefix := keyPrefix
	if keyPrefix == "" {
		keyPrefix = DefaultCheckpointKey(host, ikey)
		legacyPrefix = "duostream/" + host + "/" + ikey
	}
	limit, err := fieldWholeNumber(conf, dalFieldCheckpointLimit)
	if err != nil {
		return nil, err
	}
	if limit < duoapi.PageLimit {
		return nil, fmt.Errorf("field %s: %d is less than a page of %d events", dalFieldCheckpointLimit, limit, duoapi.PageLimit)
	}
	var lookback, poll, lag, dropOff, timeout time.Duration
	for name, d := range map[string]*time.Duration{
		dalFieldInitialLookback: &lookback, dalFieldPollInterval: &poll, dalFieldAvailabilityLag: &lag,
		dalFieldDropOffAlarm: &dropOff, dalFieldTimeout: &timeout,
	} {
		if *d, err = conf.FieldDuration(name); err != nil {
			return nil, err
		}
		if *d < 0 {
			return nil, fmt.Errorf("field %s: must not be negative", name)
		}
	}
	switch {
	case lookback <= 0:
		return nil, fmt.Errorf("field %s: must be positive", dalFieldInitialLookback)
	case lookback > duoapi.MaxLookback:
		return nil, fmt.Errorf("field %s: %s is more than 4296h (179 days): Duo serves 180 days of logs", dalFieldInitialLookback, lookback)
	case poll < time.Second:
		return nil, fmt.Errorf("field %s: %s is shorter than 1s", dalFieldPollInterval, poll)
	case timeout <= 0:
		return nil, fmt.Errorf("field %s: must be positive", dalFieldTimeout)
	}
	rpm, err := fieldWholeNumber(conf, dalFieldRequestsPerMinute)
	if err != nil {
		return nil, err
	}
	if rpm <= 0 {
		return nil, fmt.Errorf("field %s: must be positive, got %d", dalFieldRequestsPerMinute, rpm)
	}
	sigVersion, err := fieldWholeNumber(conf, dalFieldSignatureVersion)
	if err != nil {
		return nil, err
	}
	if sigVersion != 2 && sigVersion != 5 {
		return nil, fmt.Errorf("field %s: %d is not supported: use 2 or 5", dalFieldSignatureVersion, sigVersion)
	}
	tlsConf, err := conf.FieldTLS(dalFieldTLS)
	if err != nil {
		return nil, err
	}
	baseURL, err := str(dalFieldBaseURL)
	if err != nil {
		return nil, err
	}
	if err := checkBaseURL(baseURL); err != nil {
		return nil, fmt.Errorf("field %s: %w", dalFieldBaseURL, err)
	}
	errBackoff, err := parseBackoff(conf, dalFieldBackoff)
	if err != nil {
		return nil, err
	}
	rateBackoff, err := parseBackoff(conf, dalFieldRateLimitBackoff)
	if err != nil {
		return nil, err
	}

	in := &duoAdminLogsInput{
		res:         mgr,
		log:         mgr.Logger(),
		host:        host,
		limit:       int64(limit),
		dropOff:     dropOff,
		now:         time.Now,
		metrics:     newInputMetrics(mgr.Metrics()),
		positions:   &positionStore{res: mgr, cache: cacheName, prefix: keyPrefix, legacyPrefix: legacyPrefix},
		checkpoints: map[duoapi.LogType]*checkpoint.Capped[position]{},
		nextSeq:     map[duoapi.LogType]uint64{},
		unacked:     newUnackedBatches(),
		persisted:   map[duoapi.LogType]uint64{},
		generations: map[duoapi.LogType]uint64{},
	}
	obs := in.observer()
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConf
	in.client, err = duoapi.NewClient(duoapi.ClientConfig{
		APIHostname:       host,
		IntegrationKey:    ikey,
		SecretKey:         skey,
		BaseURL:           baseURL,
		SignatureVersion:  duoapi.SignatureVersion(sigVersion),
		HTTPClient:        &http.Client{Timeout: timeout, Transport: transport},
		RequestsPerMinute: rpm,
		Observer:          obs,
	})
	if err != nil {
		return nil, err
	}
	in.pullerCfg = duoapi.PullerConfig{
		LogTypes:          logTypes,
		TelephonyV1:       telephonyAPI == "v1",
		TrustMonitorTypes: tmTypes,
		InitialLookback:   lookback,
		PollInterval:      poll,
		AvailabilityLag:   lag,
		ErrorBackoff:      errBackoff,
		RateLimitBackoff:  rateBackoff,
		Observer:          obs,
	}
	for _, t := range logTypes {
		in.checkpoints[t] = checkpoint.NewCapped[position](int64(limit))
	}
	probeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := in.positions.probe(probeCtx); err != nil {
		return nil, fmt.Errorf("field %s: %w", dalFieldCheckpointCache, err)
	}
	return in, nil
}

func parseBackoff(conf *service.ParsedConfig, name string) (duoapi.Backoff, error) {
	var b duoapi.Backoff
	var err error
	if b.Initial, err = conf.FieldDuration(name, dalFieldInitialInterval); err != nil {
		return b, err
	}
	if b.Max, err = conf.FieldDuration(name, dalFieldMaxInterval); err != nil {
		return b, err
	}
	if b.Initial <= 0 || b.Max < b.Initial {
		return b, fmt.Errorf("field %s: needs 0 < %s <= %s", name, dalFieldInitialInterval, dalFieldMaxInterval)
	}
	return b, nil
}

// checkBaseURL accepts an empty base URL, any https URL, and http only to a
// loopback address, so credentials and logs never cross a network in clear.
func checkBaseURL(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("not a URL: %w", err)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return fmt.Errorf("%q has no host", raw)
		}
		return nil
	case "http":
		host := u.Hostname()
		if host == "localhost" {
			return nil
		}
		if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
			return nil
		}
		return fmt.Errorf("plain http is only allowed to a loopback address (127.0.0.1, [::1] or localhost), not %q: use https", host)
	}
	return fmt.Errorf("%q must be an http or https URL", raw)
}

// Connect reads the stored positions once and builds the puller. Later calls
// (after a lost connection) keep the in-memory read positions.
func (in *duoAdminLogsInput) Connect(ctx context.Context) error {
	in.connectMu.Lock()
	defer in.connectMu.Unlock()
	if in.puller != nil {
		return nil
	}
	start := map[duoapi.LogType]duoapi.Cursor{}
	lastEvents := map[duoapi.LogType]time.Time{}
	for _, t := range in.pullerCfg.LogTypes {
		p, err := in.loadPosition(ctx, t)
		if err != nil {
			return err
		}
		start[t], lastEvents[t] = p.Cursor, p.LastEvent
		in.generations[t] = p.Generation
	}
	puller, err := duoapi.NewPuller(in.client, in.pullerCfg, start)
	if err != nil {
		return err
	}
	in.puller = puller
	in.alarm = newDropOffAlarm(in.pullerCfg.LogTypes, in.dropOff, in.now(), lastEvents, in.log, in.metrics)
	alarmCtx, cancel := context.WithCancel(context.Background())
	in.stopAlarm, in.alarmDone = cancel, make(chan struct{})
	go func() {
		defer close(in.alarmDone)
		in.watch(alarmCtx)
	}()
	return nil
}

// loadPosition reads t's stored position. Nothing stored, or a stored value
// that cannot be read, starts t initial_lookback ago; the latter is reported,
// as events since then may be delivered twice.
func (in *duoAdminLogsInput) loadPosition(ctx context.Context, t duoapi.LogType) (StoredPosition, error) {
	keys := PositionKeys(in.positions.prefix, t)
	p, found, legacy, err := in.positions.load(ctx, t)
	var accessErr *cacheAccessError
	switch {
	case errors.As(err, &accessErr):
		in.metrics.checkpointErrors.Incr(1, string(t), "read")
		return StoredPosition{}, fmt.Errorf("read position of %s logs: %w", t, err)
	case err != nil && found:
		in.metrics.checkpointErrors.Incr(1, string(t), "decode")
		in.log.Warnf("One of the two stored copies of the position of Duo %s logs cannot be read (%v), as after a crash during a write: resuming from the other, one write older, at %s; the events of that write may be delivered again",
			t, err, p.Cursor.Position().UTC().Format(time.RFC3339))
	case err != nil:
		in.metrics.checkpointErrors.Incr(1, string(t), "decode")
		in.log.Errorf("The stored position of Duo %s logs cannot be read (%v): starting again %s ago so that nothing is skipped; events since then may be delivered twice",
			t, err, in.pullerCfg.InitialLookback)
		return StoredPosition{}, nil
	case !found:
		in.log.Infof("No stored position for Duo %s logs at keys %q and %q of checkpoint cache %q: starting %s ago", t, keys[0], keys[1], in.positions.cache, in.pullerCfg.InitialLookback)
		return StoredPosition{}, nil
	case legacy:
		in.log.Infof("Resuming Duo %s logs from %s, read from the key of an earlier release; it is stored under %q and %q from now on",
			t, p.Cursor.Position().UTC().Format(time.RFC3339), keys[0], keys[1])
	default:
		in.log.Infof("Resuming Duo %s logs from %s", t, p.Cursor.Position().UTC().Format(time.RFC3339))
	}
	return p, nil
}

// ReadBatch returns the next page of events of whichever log type is due,
// waiting while every log type has caught up.
func (in *duoAdminLogsInput) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	if in.puller == nil {
		return nil, nil, service.ErrNotConnected
	}
	for {
		b, err := in.puller.Next(ctx)
		if err != nil {
			return nil, nil, err
		}
		t := b.LogType
		in.nextSeq[t]++
		pos := position{seq: in.nextSeq[t], cursor: b.Cursor}
		release, err := in.checkpoints[t].Track(ctx, pos, int64(len(b.Events)))
		if err != nil {
			return nil, nil, err
		}
		if len(b.Events) == 0 {
			// Only the position moved: store it once all before it is done.
			if h := release(); h != nil {
				in.persist(ctx, t, *h)
			}
			continue
		}
		in.metrics.pages.Incr(1, string(t))
		in.metrics.events.Incr(int64(len(b.Events)), string(t))
		in.alarm.sawEvents(t, in.now())
		in.unacked.add(t, pos.seq, in.now())
		schema := t.SchemaName()
		pageID := pageIdentity(t, b.Events)
		batch := make(service.MessageBatch, len(b.Events))
		for i, ev := range b.Events {
			m := service.NewMessage(ev)
			m.MetaSetMut(MetaLogType, schema)
			m.MetaSetMut(MetaAPIHostname, in.host)
			m.MetaSetMut(MetaEndpoint, b.Endpoint)
			m.MetaSetMut(MetaPageID, pageID)
			batch[i] = m
		}
		return batch, func(ctx context.Context, err error) error {
			in.unacked.done(t, pos.seq)
			if err != nil {
				// Only reachable with auto_replay_nacks: false, which
				// Benthos documents as dropping rejected messages: count
				// them and move on, or the position would stop here and
				// every log type with it once checkpoint_limit fills.
				in.metrics.nackedEvents.Incr(int64(len(batch)), string(t))
				in.log.Warnf("A batch of %d Duo %s events was rejected (%v) and is dropped, as auto_replay_nacks: false asks", len(batch), t, err)
			}
			if h := release(); h != nil {
				in.persist(ctx, t, *h)
			}
			return nil
		}, nil
	}
}

// pageIdentity returns a 32-hex-digit identity of a page of events of t: the
// same whenever Duo returns the same page again.
func pageIdentity(t duoapi.LogType, events []json.RawMessage) string {
	h := sha256.New()
	var n [8]byte
	h.Write([]byte(t))
	for _, ev := range events {
		binary.BigEndian.PutUint64(n[:], uint64(len(ev)))
		h.Write(n[:])
		h.Write(ev)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// persist stores p as t's position unless a later one was stored already.
func (in *duoAdminLogsInput) persist(ctx context.Context, t duoapi.LogType, p position) {
	in.persistMu.Lock()
	defer in.persistMu.Unlock()
	if p.seq <= in.persisted[t] {
		return
	}
	// Acks may arrive long after a soft stop began; finish the write anyway.
	ctx = context.WithoutCancel(ctx)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stored := StoredPosition{Cursor: p.cursor, LastEvent: in.alarm.last(t), Generation: in.generations[t] + 1}
	if err := in.positions.store(ctx, t, stored); err != nil {
		in.metrics.checkpointErrors.Incr(1, string(t), "write")
		in.log.Errorf("Store position of Duo %s logs in checkpoint cache %q: %v (delivered events may be read again after a restart)", t, in.positions.cache, err)
		return
	}
	in.persisted[t] = p.seq
	in.generations[t] = stored.Generation
	if pos := p.cursor.Position(); !pos.IsZero() {
		in.metrics.cursorLag.SetFloat64(max(0, in.now().Sub(pos).Seconds()), string(t))
	}
}

// Close stops the drop-off alarm. Pending acknowledgements still store
// their positions.
func (in *duoAdminLogsInput) Close(ctx context.Context) error {
	in.connectMu.Lock()
	stop, done := in.stopAlarm, in.alarmDone
	in.connectMu.Unlock()
	if stop != nil {
		stop()
		select {
		case <-done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
