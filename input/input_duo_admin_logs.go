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
	dalFieldMaxRequestsPerMin = "max_requests_per_minute"
	dalFieldAccounts          = "accounts"
	dalFieldDiscover          = "discover"
	dalFieldInclude           = "include"
	dalFieldExclude           = "exclude"
	dalFieldRefreshInterval   = "refresh_interval"
	dalFieldStartTime         = "start_time"
	dalFieldEndTime           = "end_time"
	dalFieldDropOffAlarm      = "drop_off_alarm"
	dalFieldSignatureVersion  = "signature_version"
	dalFieldTimeout           = "timeout"
	dalFieldTLS               = "tls"
	dalFieldBaseURL           = "base_url"
	dalFieldBackoff           = "backoff"
	dalFieldRateLimitBackoff  = "rate_limit_backoff"
	dalFieldInitialInterval   = "initial_interval"
	dalFieldMaxInterval       = "max_interval"
	dalFieldLease             = "lease"
	dalFieldLeaseCache        = "cache"
	dalFieldLeaseTTL          = "ttl"
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
	// MetaAccountID and MetaAccountName name the child account a message
	// came from, with accounts.discover; MetaAPIHostname is then the
	// child's hostname.
	MetaAccountID   = "duo_account_id"
	MetaAccountName = "duo_account_name"
)

// Lint rules of single fields. A duration field is a string to Benthos, so
// "7d" or "soon" would pass its own checks and fail only at start; these
// find such values, and the others the input refuses, at lint time. (Lint
// rules of the whole component are not run by "duostream lint", those of
// its fields are.)
func durationLint(path string) string {
	return fmt.Sprintf(`root = if !this.string().re_match(%q) { [%q.format(this)] }`, durationPattern, "field "+path+": "+notADuration)
}

// timeLint refuses a value of field path that is not an RFC 3339 time.
func timeLint(path string) string {
	return `root = if this.string() != "" && !this.string().re_match("^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$") { ["field ` + path + `: %v is not an RFC 3339 time, such as 2026-11-24T00:00:00Z".format(this)] }`
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
	accountsLint = `root = if !this.discover.or(false) && (this.include.or([]).length() > 0 || this.exclude.or([]).length() > 0) { ["field accounts: include and exclude select child accounts, but discover is false: set discover: true to pull the children of an MSP parent"] }`
	baseURLLint  = `root = if this.has_prefix("http://") && !this.re_match("^http://(127\\.[0-9]+\\.[0-9]+\\.[0-9]+|localhost|\\[::1\\])(:[0-9]+)?(/.*)?$") { ["field base_url: plain http is only allowed to a loopback address (127.0.0.1, [::1] or localhost): use https"] }`
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

### Child accounts of an MSP parent

With `+"`accounts.discover: true`"+` the credentials are those of an Accounts API application in a Duo MSP parent account (Duo enables it for the parent's Owner), and the input pulls every child account that `+"`/accounts/v1/account/list`"+` lists, filtered by `+"`accounts.include`"+` and `+"`accounts.exclude`"+`. The list is read at start and every `+"`accounts.refresh_interval`"+`. Each (child account, log type) is a stream of its own: its position is stored under `+"`<checkpoint_key>:<account_id>:<log type>:a`"+` and `+"`…:b`"+` (the separator is `+"`:`"+`, as for one account, so that every cache stores the keys), and every guarantee above holds per stream. A child's requests carry its `+"`account_id`"+` among the signed parameters and are signed for, and sent to, the child's own `+"`api_hostname`"+` as Duo lists it (Duo Federal's `+"`duofederal.com`"+` hosts included), or to `+"`base_url`"+` when it is set. Messages carry `+"`duo_account_id`"+` and `+"`duo_account_name`"+`, and `+"`duo_api_hostname`"+` is the child's host; `+"`duo_normalize`"+` turns the first two into Panther's `+"`p_source_id`"+` and `+"`p_source_label`"+`.

Each child has its own budget of `+"`requests_per_minute`"+` (Duo limits each account) and at most one request in flight; up to 8 children are read at once, and `+"`max_requests_per_minute`"+` caps them all. Children take turns, and the log types of a child take turns within its turns, so a child with a 180-day backlog holds back no other child's fresh events by more than one round. A child that appears at a refresh starts at `+"`initial_lookback`"+`; one that disappears (or is excluded) stops, its positions kept, and resumes from them if it comes back. Failures stay with the child that met them: a child that refuses its requests with 403 (Duo's cross-deployment sub-accounts cannot be reached with the parent's Accounts API credentials) is logged once per refresh interval as an error naming the account and the fix (give it its own Admin API application and run it as its own input), `+"`duo_account_unreachable`"+` is 1 for it, and no request is made for it until the list is read again. A 403 on activity or Trust Monitor alone means, as for one account, that the child's edition lacks it. The parent's own logs are not pulled: an Accounts API application cannot read them, so run a second input with an Admin API application of the parent.

### High availability

To run two or more processes on one config (replicas of a Kubernetes Deployment, a standby host) without duplicates or a gap, give them a shared `+"`redis`"+` cache as `+"`checkpoint_cache`"+` and set `+"`lease.cache`"+` to the same label. Each stream (each (child account, log type) with `+"`accounts.discover`"+`; the whole input otherwise) is then pulled only by the process holding its lease in Redis. The owner renews it every third of `+"`lease.ttl`"+` and sends no request from a sixth of the ttl before the lease would expire, so that two processes never pull one stream at once (a request already on its way is answered, and its page dropped); when the owner stops renewing (it died, hangs, or lost Redis), another process takes the stream over within `+"`ttl`"+` plus a third of it, resuming from the stored position. Every position write is fenced: the lease's token is checked and the position written in one Redis script, so a process that was paused past its lease (a long GC pause, SIGSTOP, a network partition) cannot move a cursor when it wakes; it steps down and logs why. Events read but not yet stored at a takeover (those in flight) are read again by the new owner: a takeover may duplicate them, never lose any.

With many streams the work spreads: each process holds at most ceil(streams / live processes) + 1 leases, where live processes are those whose membership in Redis is younger than `+"`ttl`"+`, and gives up the excess when another process joins. `+"`duo_streams_owned`"+` is the number of leases a process holds, `+"`duo_lease_takeovers_total`"+` counts those it acquired, and `+"`duo_lease_step_downs_total`"+` (label `+"`reason`"+`: `+"`expired`"+`, `+"`fenced`"+`, `+"`rebalanced`"+`) those it lost. Every Duo request carries the User-Agent `+"`duostream/<version> (<instance id>)`"+`, the instance ID being the `+"`DUOSTREAM_INSTANCE_ID`"+` environment variable or `+"`<hostname>-<pid>`"+`. The lease cache must be a `+"`redis`"+` cache of kind `+"`simple`"+` or `+"`failover`"+` (a Redis Cluster may keep a lease and its position on different shards), and leases are for live pulls: a replay with `+"`end_time`"+` runs in one process.

### Metrics

`+"`duo_requests_total`"+` (labels `+"`endpoint`, `outcome`"+`), `+"`duo_request_latency_ns`"+`, `+"`duo_rate_limited_total`"+`, `+"`duo_retries_total`"+` (`+"`log_type`, `reason`"+`), `+"`duo_pages_total`"+`, `+"`duo_events_total`"+`, `+"`duo_boundary_duplicates_total`"+`, `+"`duo_second_overflow_total`"+`, `+"`duo_checkpoint_errors_total`"+` (`+"`log_type`, `operation`"+`), `+"`duo_offset_resets_total`"+` (`+"`log_type`, `reason`"+`), `+"`duo_nacked_events_total`"+`, the gauge `+"`duo_clock_skew_seconds`"+`, and the gauges `+"`duo_cursor_lag_seconds`"+` (how far the stored position is behind now), `+"`duo_seconds_since_last_event`"+` and `+"`duo_drop_off_alarm`"+` (1 while a log type has had no new event for `+"`drop_off_alarm`"+`, counted from the time stored with the position, so restarts do not reset it) and `+"`duo_unacked_seconds`"+` (the age of the oldest batch the output has not acknowledged; a wait of five minutes is logged with the log type), each labelled by `+"`log_type`"+`. `+"`duo_events_total`"+`, `+"`duo_cursor_lag_seconds`"+`, `+"`duo_seconds_since_last_event`"+` and `+"`duo_drop_off_alarm`"+` are per stream, and also labelled by `+"`account`"+`: the child's account ID with `+"`accounts.discover`"+`, empty otherwise (Prometheus drops an empty label, so a single-account input's series keep their names and labels). At 1,000 children with four log types each, that is 4,000 series per metric, 16,000 in all, plus 1,000 of `+"`duo_account_unreachable`"+` (label `+"`account`"+`) and the gauge `+"`duo_child_accounts`"+` (children pulled); the other metrics do not grow with the children. While a stream is behind (a first backfill, a long outage), the gauges `+"`duo_backlog_events`"+` (the events to go: from Duo's `+"`total_objects`"+` on the v2 endpoints, otherwise from the events read per second of log time so far; -1 while not known) and `+"`duo_catch_up_seconds`"+` (the time to catch up at the pace read so far, which is the pace the request budget allows; -1 while not known) are set, labelled by `+"`log_type`"+` and `+"`account`"+`, and the figures are logged every minute (for child accounts, one line for all of them); once caught up, that is logged once and both gauges are 0. Benthos' metrics `+"`mapping`"+` sees only a metric's name and static labels, not `+"`account`"+`, so to cut that cost drop whole per-stream metrics by name (`+"`root = if this == \"duo_cursor_lag_seconds\" { deleted() }`"+`) and keep `+"`duo_events_total`"+` and `+"`duo_drop_off_alarm`"+`.

### Status page

The input adds two endpoints to the Benthos HTTP server (`+"`http.address`"+`, loopback in the shipped pipelines, and its basic auth if set): `+"`GET /duo/status`"+` (JSON) and `+"`GET /duo/`"+` (a page that reloads itself every 10 seconds), with every `+"`duo_admin_logs`"+` input of the process: per account and log type the stored position and when it was stored, the lag, the last event, whether it is catching up (events to go, time to catch up), the drop-off alarm, whether the child account is unreachable, and the last error with what to fix; and per input the request budget and the requests of the last minute. In streams mode the paths are under `+"`/<stream id>`"+`.

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
			service.NewStringField(dalFieldStartTime).
				Description("Read from this time on (RFC 3339) instead of `initial_lookback` ago. Setting it, or `end_time`, makes the input a stream of its own: its positions are kept under `<checkpoint_key>:window-<start ms>-<end ms>`, so it never moves the positions of the live stream, and resumes where it stopped after a crash.").
				Default("").
				Example("2026-11-24T00:00:00Z").
				LintRule(timeLint(dalFieldStartTime)).
				Advanced(),
			service.NewStringField(dalFieldEndTime).
				Description("Read only events before this time (RFC 3339; needs `start_time`), then end: once every log type (of every child account) has been read to it and the output has acknowledged everything, the input ends and the pipeline shuts down by itself. A log type the account lacks, or a child that cannot be reached, is logged and given up, so the run ends. Run it again and it ends at once, as its positions say it is done. An `end_time` in the future is read up to as events become available, and the run ends once it has passed by `availability_lag`.").
				Default("").
				Example("2026-11-25T00:00:00Z").
				LintRule(timeLint(dalFieldEndTime)).
				Advanced(),
			service.NewDurationField(dalFieldPollInterval).
				Description("How long a log type waits once it has caught up. Duo recommends polling no more than once a minute.").
				Default("1m").
				LintRule(pollLint),
			service.NewDurationField(dalFieldAvailabilityLag).
				Description("How long Duo takes to make an event consistently available; nothing newer is requested. Duo documents two minutes.").
				Default("2m").
				LintRule(durationLint(dalFieldAvailabilityLag)),
			wholeNumberField(dalFieldRequestsPerMinute, 30).
				Description("The budget of requests per minute of each Duo account, shared by its log types, retries included. Duo limits each account, so with `accounts.discover` every child account has a budget of this size, and a 429 holds back only the account that got it."),
			wholeNumberField(dalFieldMaxRequestsPerMin, 0).
				Description("A cap on the requests per minute of the whole input, over every account, on top of each account's `requests_per_minute`; 0 sets no cap. With `accounts.discover` this bounds what hundreds of children add up to.").
				Advanced(),
			service.NewObjectField(dalFieldAccounts,
				service.NewBoolField(dalFieldDiscover).
					Description("Pull every child account of an MSP parent instead of the credentials' own account. `api_hostname`, `integration_key` and `secret_key` are then those of an Accounts API application in the parent account; the children's log requests are signed with them, carry the child's `account_id`, and go to the child's own API hostname (or to `base_url`). The parent's own logs are not pulled: run a second input with an Admin API application of the parent for those.").
					Default(false),
				service.NewStringListField(dalFieldInclude).
					Description("Pull only these child accounts, by account ID or exact name. Empty pulls every child.").
					Default([]any{}).
					Example([]any{"DA9VZOC5X63I2W72NRP9", "Acme Corp"}),
				service.NewStringListField(dalFieldExclude).
					Description("Skip these child accounts, by account ID or exact name, also when `include` lists them.").
					Default([]any{}),
				service.NewDurationField(dalFieldRefreshInterval).
					Description("How often the child account list is read again. Children that appear start at `initial_lookback` (or at their stored position); children that disappear stop, and their positions stay stored. At least 1s.").
					Default("1h").
					LintRule(durationLint(dalFieldAccounts+"."+dalFieldRefreshInterval)),
			).
				Description("Child accounts of a Duo MSP parent, through Duo's Accounts API. Each (child account, log type) is a stream of its own, with its own position and the guarantees of a single account; see the section above.").
				LintRule(accountsLint).
				Advanced(),
			service.NewObjectField(dalFieldLease,
				service.NewStringField(dalFieldLeaseCache).
					Description("The label of a `redis` cache resource to hold the leases: the same as `checkpoint_cache`, so that every position write is checked against its lease in the same Redis. Empty: no leases, and the input pulls every stream itself.").
					Default("").
					Example("duo_state"),
				service.NewDurationField(dalFieldLeaseTTL).
					Description("How long a lease lasts without renewal: an owner that has not renewed for this long loses its streams to the other processes. Owners renew every third of it; a standby takes a stream over within `ttl` plus a third of it after the owner stopped. At least 1s.").
					Default("30s").
					LintRule(durationLint(dalFieldLease+"."+dalFieldLeaseTTL)),
			).
				Description("Run several processes on one config, each stream pulled by one of them at a time (see High availability above).").
				Advanced(),
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
// page. Benthos' replay of rejected batches (AutoRetryNacksBatched, v4.60
// to v4.80) sends again only the messages a *service.BatchError names, and
// when such a part is rejected again it maps the new error's indexes onto
// the wrong messages of it, so that some are acknowledged without ever
// being written.
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
	// accounts is set with accounts.discover: the streams are those of
	// every child account the parent's client lists.
	accounts *duoapi.AccountsConfig
	puller   *duoapi.Puller // set by Connect, used only by ReadBatch
	metrics  *inputMetrics

	positions *positionStore
	unacked   *unackedBatches
	alarm     *dropOffAlarm
	progress  *catchUp
	health    *streamHealth

	requestsPerMinute    int
	maxRequestsPerMinute int

	// leaseCache is the lease.cache field, empty without leases; leases
	// is set by Connect when it is not.
	leaseCache string
	leaseTTL   time.Duration
	leases     *leasedStreams
	obs        *observer
	// instance names this process in leases and in its User-Agent.
	instance string

	streamsMu sync.Mutex
	streams   map[duoapi.StreamKey]*streamState

	persistMu sync.Mutex // guards every streamState's persisted and generation

	stopAlarm context.CancelFunc
	alarmDone chan struct{}
	connectMu sync.Mutex // guards puller and the alarm's lifecycle
}

// streamState is the input's bookkeeping of one stream: the batches in
// flight and what was stored.
type streamState struct {
	stream      duoapi.Stream
	checkpoints *checkpoint.Capped[position]
	nextSeq     uint64 // used only by ReadBatch
	persisted   uint64
	generation  uint64
	// storedPos is the position last stored, at storedAt.
	storedPos, storedAt time.Time
}

// position is a cursor with its place in the read order of its log type.
type position struct {
	seq    uint64
	cursor duoapi.Cursor
	// tenure is the lease token the cursor was read under; empty
	// without leases.
	tenure string
}

// DefaultCheckpointKey is the checkpoint_key of an input that sets none:
// unique per Duo application.
func DefaultCheckpointKey(host, ikey string) string {
	return "duostream" + KeySeparator + host + KeySeparator + ikey
}

// parseDuoAdminLogs reads and checks the input's config, touching nothing
// outside the process: duostream check uses it to validate a config as the
// input does.
func parseDuoAdminLogs(conf *service.ParsedConfig, mgr *service.Resources) (*duoAdminLogsInput, error) {
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
	startTime, endTime, err := parseWindow(conf, time.Now())
	if err != nil {
		return nil, err
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

	maxRPM, err := fieldWholeNumber(conf, dalFieldMaxRequestsPerMin)
	if err != nil {
		return nil, err
	}
	sharedLimit, err := duoapi.NewRequestLimiter(maxRPM)
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", dalFieldMaxRequestsPerMin, err)
	}
	accounts, err := parseAccounts(conf)
	if err != nil {
		return nil, err
	}
	leaseCache, leaseTTL, err := parseLease(conf, cacheName, !endTime.IsZero())
	if err != nil {
		return nil, err
	}

	in := &duoAdminLogsInput{
		res:       mgr,
		log:       mgr.Logger(),
		host:      host,
		limit:     int64(limit),
		dropOff:   dropOff,
		now:       time.Now,
		metrics:   newInputMetrics(mgr.Metrics()),
		accounts:  accounts,
		positions: &positionStore{res: mgr, cache: cacheName, prefix: keyPrefix, legacyPrefix: legacyPrefix},
		unacked:   newUnackedBatches(),
		streams:   map[duoapi.StreamKey]*streamState{},

		leaseCache: leaseCache,
		leaseTTL:   leaseTTL,
		instance:   instanceID(),
	}
	in.alarm = newDropOffAlarm(dropOff, in.log, in.metrics)
	in.progress = newCatchUp(lag, poll, endTime, in.log, in.metrics)
	in.health = newStreamHealth()
	in.requestsPerMinute, in.maxRequestsPerMinute = rpm, maxRPM
	obs := in.observer()
	in.obs = obs
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
		SharedLimit:       sharedLimit,
		Observer:          obs,
		UserAgent:         userAgent(mgr.EngineVersion(), in.instance),
	})
	if err != nil {
		return nil, err
	}
	if !startTime.IsZero() {
		// A window of its own: its own positions, never the live ones.
		in.positions.prefix += KeySeparator + windowSuffix(startTime, endTime)
		in.positions.legacyPrefix = ""
	}
	in.pullerCfg = duoapi.PullerConfig{
		StartTime:         startTime,
		EndTime:           endTime,
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
	if accounts != nil {
		accounts.Start = in.startStream
	}
	in.metrics.zero(logTypes, in.pullerCfg.Endpoints(accounts != nil))
	return in, nil
}

// newDuoAdminLogsInput parses the input's config and prepares it to run: it
// refuses a checkpoint cache that cannot keep a position, and adds the
// status page to the HTTP server.
func newDuoAdminLogsInput(conf *service.ParsedConfig, mgr *service.Resources) (*duoAdminLogsInput, error) {
	in, err := parseDuoAdminLogs(conf, mgr)
	if err != nil {
		return nil, err
	}
	probeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := in.positions.probe(probeCtx); err != nil {
		return nil, fmt.Errorf("field %s: %w", dalFieldCheckpointCache, err)
	}
	if !registerStatusPage(mgr) {
		in.log.Warnf("The status page (%s and %s) cannot be added to this Benthos release's HTTP server; the metrics tell the same", StatusPagePath, StatusJSONPath)
	}
	return in, nil
}

// parseWindow reads start_time and end_time (zero when not set), checking
// them against now: the start within what Duo serves, the end at least a
// second after it.
func parseWindow(conf *service.ParsedConfig, now time.Time) (start, end time.Time, err error) {
	parse := func(name string) (time.Time, error) {
		v, err := conf.FieldString(name)
		if err != nil || strings.TrimSpace(v) == "" {
			return time.Time{}, err
		}
		t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
		if err != nil {
			return time.Time{}, fmt.Errorf("field %s: %q is not an RFC 3339 time, such as 2026-11-24T00:00:00Z", name, v)
		}
		return t, nil
	}
	if start, err = parse(dalFieldStartTime); err != nil {
		return
	}
	if end, err = parse(dalFieldEndTime); err != nil {
		return
	}
	switch {
	case !end.IsZero() && start.IsZero():
		err = fmt.Errorf("field %s: needs %s, the start of the window to read", dalFieldEndTime, dalFieldStartTime)
	case !start.IsZero() && start.Before(now.Add(-duoapi.MaxLookback)):
		err = fmt.Errorf("field %s: %s is more than 179 days ago: Duo serves 180 days of logs", dalFieldStartTime, start.Format(time.RFC3339))
	case !start.IsZero() && start.After(now):
		err = fmt.Errorf("field %s: %s is in the future", dalFieldStartTime, start.Format(time.RFC3339))
	case !end.IsZero() && end.Sub(start) < time.Second:
		err = fmt.Errorf("field %s: %s is not a second or more after %s %s", dalFieldEndTime, end.Format(time.RFC3339Nano), dalFieldStartTime, start.Format(time.RFC3339Nano))
	}
	return start, end, err
}

// windowSuffix names the positions of a run reading from start (until end,
// when not zero): "window-<start ms>-<end ms>".
func windowSuffix(start, end time.Time) string {
	s := "window-" + strconv.FormatInt(start.UnixMilli(), 10) + "-"
	if !end.IsZero() {
		s += strconv.FormatInt(end.UnixMilli(), 10)
	}
	return s
}

// parseAccounts reads the accounts block: nil unless discover is on.
func parseAccounts(conf *service.ParsedConfig) (*duoapi.AccountsConfig, error) {
	conf = conf.Namespace(dalFieldAccounts)
	discover, err := conf.FieldBool(dalFieldDiscover)
	if err != nil {
		return nil, err
	}
	lists := map[string][]string{}
	for _, name := range []string{dalFieldInclude, dalFieldExclude} {
		list, err := conf.FieldStringList(name)
		if err != nil {
			return nil, err
		}
		for i, v := range list {
			if list[i] = strings.TrimSpace(v); list[i] == "" {
				return nil, fmt.Errorf("field %s.%s: element %d is empty: give a child account's ID or exact name", dalFieldAccounts, name, i)
			}
		}
		if len(list) > 0 && !discover {
			return nil, fmt.Errorf("field %s.%s: lists child accounts, but %s.%s is false: set it to true to pull the children of an MSP parent", dalFieldAccounts, name, dalFieldAccounts, dalFieldDiscover)
		}
		lists[name] = list
	}
	refresh, err := conf.FieldDuration(dalFieldRefreshInterval)
	if err != nil {
		return nil, err
	}
	if refresh < duoapi.MinRefreshInterval {
		return nil, fmt.Errorf("field %s.%s: %s is shorter than %s", dalFieldAccounts, dalFieldRefreshInterval, refresh, duoapi.MinRefreshInterval)
	}
	if !discover {
		return nil, nil
	}
	return &duoapi.AccountsConfig{Include: lists[dalFieldInclude], Exclude: lists[dalFieldExclude], RefreshInterval: refresh}, nil
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

// Connect builds the puller: for one account, it reads the stored positions
// first; with accounts.discover, each child's are read as it is listed.
// Later calls (after a lost connection) keep the in-memory read positions.
func (in *duoAdminLogsInput) Connect(ctx context.Context) error {
	in.connectMu.Lock()
	defer in.connectMu.Unlock()
	if in.puller != nil {
		return nil
	}
	if in.leaseCache != "" && in.leases == nil {
		if err := in.startLeases(ctx); err != nil {
			return err
		}
	}
	var puller *duoapi.Puller
	var err error
	if in.accounts != nil {
		puller, err = duoapi.NewAccountsPuller(in.client, in.pullerCfg, *in.accounts)
	} else {
		start := map[duoapi.LogType]duoapi.Cursor{}
		for _, t := range in.pullerCfg.LogTypes {
			c, err := in.startStream(ctx, duoapi.Stream{LogType: t})
			if err != nil {
				return err
			}
			start[t] = c
		}
		puller, err = duoapi.NewPuller(in.client, in.pullerCfg, start)
	}
	if err != nil {
		return err
	}
	in.puller = puller
	addStatusInput(in)
	alarmCtx, cancel := context.WithCancel(context.Background())
	in.stopAlarm, in.alarmDone = cancel, make(chan struct{})
	go func() {
		defer close(in.alarmDone)
		in.watch(alarmCtx)
	}()
	return nil
}

// startStream reads s's stored position and sets up its bookkeeping,
// returning where it starts (the zero cursor: initial_lookback ago).
func (in *duoAdminLogsInput) startStream(ctx context.Context, s duoapi.Stream) (duoapi.Cursor, error) {
	p, err := in.loadPosition(ctx, s)
	if err != nil {
		return duoapi.Cursor{}, err
	}
	in.persistMu.Lock()
	defer in.persistMu.Unlock()
	in.streamsMu.Lock()
	defer in.streamsMu.Unlock()
	st, ok := in.streams[s.Key()]
	if !ok {
		st = &streamState{stream: s, checkpoints: checkpoint.NewCapped[position](in.limit)}
		in.streams[s.Key()] = st
	}
	st.generation = max(st.generation, p.Generation)
	in.alarm.watchStream(s, in.now(), p.LastEvent)
	if in.leases != nil {
		if _, owned := in.leases.Owns(s); !owned {
			in.alarm.standby(s.Key())
		}
	}
	in.metrics.zeroStream(s.Key())
	in.progress.watchStream(s)
	return p.Cursor, nil
}

// stream returns the bookkeeping of k, set up by startStream.
func (in *duoAdminLogsInput) stream(k duoapi.StreamKey) *streamState {
	in.streamsMu.Lock()
	defer in.streamsMu.Unlock()
	return in.streams[k]
}

// loadPosition reads s's stored position. Nothing stored, or a stored value
// that cannot be read, starts s initial_lookback ago; the latter is reported,
// as events since then may be delivered twice. The streams of child
// accounts, of which there may be thousands, log at debug level what those
// of one account log at info level.
func (in *duoAdminLogsInput) loadPosition(ctx context.Context, s duoapi.Stream) (StoredPosition, error) {
	k := s.Key()
	keys := in.positions.keys(k)
	lt := string(k.LogType)
	p, found, legacy, err := in.positions.load(ctx, k)
	infof := in.log.Infof
	if k.AccountID != "" {
		infof = in.log.Debugf
	}
	var accessErr *cacheAccessError
	switch {
	case errors.As(err, &accessErr):
		in.metrics.checkpointErrors.Incr(1, lt, checkpointRead)
		return StoredPosition{}, fmt.Errorf("read position of %s logs: %w", s, err)
	case err != nil && found:
		in.metrics.checkpointErrors.Incr(1, lt, checkpointDecode)
		in.log.Warnf("One of the two stored copies of the position of Duo %s logs cannot be read (%v), as after a crash during a write: resuming from the other, one write older, at %s; the events of that write may be delivered again",
			s, err, p.Cursor.Position().UTC().Format(time.RFC3339))
	case err != nil:
		in.metrics.checkpointErrors.Incr(1, lt, checkpointDecode)
		in.log.Errorf("The stored position of Duo %s logs cannot be read (%v): starting again %s ago so that nothing is skipped; events since then may be delivered twice",
			s, err, in.pullerCfg.InitialLookback)
		return StoredPosition{}, nil
	case !found:
		infof("No stored position for Duo %s logs at keys %q and %q of checkpoint cache %q: starting %s", s, keys[0], keys[1], in.positions.cache, in.startDescription())
		return StoredPosition{}, nil
	case legacy:
		in.log.Infof("Resuming Duo %s logs from %s, read from the key of an earlier release; it is stored under %q and %q from now on",
			s, p.Cursor.Position().UTC().Format(time.RFC3339), keys[0], keys[1])
	default:
		infof("Resuming Duo %s logs from %s", s, p.Cursor.Position().UTC().Format(time.RFC3339))
	}
	return p, nil
}

// startDescription says where a stream with no stored position starts.
func (in *duoAdminLogsInput) startDescription() string {
	if start := in.pullerCfg.StartTime; !start.IsZero() {
		return "at start_time, " + start.UTC().Format(time.RFC3339)
	}
	return "initial_lookback (" + shortDuration(in.pullerCfg.InitialLookback) + ") back"
}

// ReadBatch returns the next page of events of whichever stream is due,
// waiting while every stream has caught up.
func (in *duoAdminLogsInput) ReadBatch(ctx context.Context) (service.MessageBatch, service.AckFunc, error) {
	if in.puller == nil {
		return nil, nil, service.ErrNotConnected
	}
	for {
		b, err := in.puller.Next(ctx)
		if errors.Is(err, duoapi.ErrWindowRead) {
			in.log.Infof("Every Duo log has been read up to end_time %s: the input ends once the output has acknowledged everything", in.pullerCfg.EndTime.Format(time.RFC3339))
			return nil, nil, service.ErrEndOfInput
		}
		if err != nil {
			return nil, nil, err
		}
		s := duoapi.Stream{Account: b.Account, LogType: b.LogType}
		k := s.Key()
		st := in.stream(k)
		in.progress.batch(s, in.now(), b.Cursor.Position(), len(b.Events), b.Remaining)
		in.health.succeeded(k, in.now())
		st.nextSeq++
		pos := position{seq: st.nextSeq, cursor: b.Cursor, tenure: b.Tenure}
		release, err := st.checkpoints.Track(ctx, pos, int64(len(b.Events)))
		if err != nil {
			return nil, nil, err
		}
		if len(b.Events) == 0 {
			// Only the position moved: store it once all before it is done.
			if h := release(); h != nil {
				in.persist(ctx, st, *h)
			}
			continue
		}
		t := string(b.LogType)
		in.metrics.pages.Incr(1, t)
		in.metrics.events.Incr(int64(len(b.Events)), t, k.AccountID)
		in.alarm.sawEvents(k, in.now())
		in.unacked.add(k, pos.seq, in.now())
		schema := b.LogType.SchemaName()
		pageID := pageIdentity(s, b.Events)
		host := in.host
		if b.Account.ID != "" {
			host = b.Account.APIHostname
		}
		batch := make(service.MessageBatch, len(b.Events))
		for i, ev := range b.Events {
			m := service.NewMessage(ev)
			m.MetaSetMut(MetaLogType, schema)
			m.MetaSetMut(MetaAPIHostname, host)
			m.MetaSetMut(MetaEndpoint, b.Endpoint)
			m.MetaSetMut(MetaPageID, pageID)
			if b.Account.ID != "" {
				m.MetaSetMut(MetaAccountID, b.Account.ID)
				m.MetaSetMut(MetaAccountName, b.Account.Name)
			}
			batch[i] = m
		}
		return batch, func(ctx context.Context, err error) error {
			in.unacked.done(k, pos.seq)
			if err != nil {
				// Only reachable with auto_replay_nacks: false, which
				// Benthos documents as dropping rejected messages: count
				// them and move on, or the position would stop here and
				// every log type with it once checkpoint_limit fills.
				in.metrics.nackedEvents.Incr(int64(len(batch)), t)
				in.log.Warnf("A batch of %d Duo %s events was rejected (%v) and is dropped, as auto_replay_nacks: false asks", len(batch), s, err)
			}
			if h := release(); h != nil {
				in.persist(ctx, st, *h)
			}
			return nil
		}, nil
	}
}

// pageIdentity returns a 32-hex-digit identity of a page of events of s: the
// same whenever Duo returns the same page again.
func pageIdentity(s duoapi.Stream, events []json.RawMessage) string {
	h := sha256.New()
	var n [8]byte
	if s.Account.ID != "" {
		h.Write([]byte(s.Account.ID))
		h.Write([]byte{0})
	}
	h.Write([]byte(s.LogType))
	for _, ev := range events {
		binary.BigEndian.PutUint64(n[:], uint64(len(ev)))
		h.Write(n[:])
		h.Write(ev)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// persist stores p as st's position unless a later one was stored already.
func (in *duoAdminLogsInput) persist(ctx context.Context, st *streamState, p position) {
	in.persistMu.Lock()
	defer in.persistMu.Unlock()
	if p.seq <= st.persisted {
		return
	}
	// Acks may arrive long after a soft stop began; finish the write anyway.
	ctx = context.WithoutCancel(ctx)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	k := st.stream.Key()
	stored := StoredPosition{Cursor: p.cursor, LastEvent: in.alarm.last(k), Generation: st.generation + 1}
	if err := in.positions.store(ctx, k, stored, p.tenure); err != nil {
		if notOwner(err) {
			// Another process owns the stream now: its position is
			// that process's to store (the step-down is logged).
			in.log.Debugf("Position of Duo %s logs not stored: another process owns the stream now", st.stream)
			return
		}
		in.metrics.checkpointErrors.Incr(1, string(k.LogType), checkpointWrite)
		in.log.Errorf("Store position of Duo %s logs in checkpoint cache %q: %v (delivered events may be read again after a restart)", st.stream, in.positions.cache, err)
		return
	}
	st.persisted = p.seq
	st.generation = stored.Generation
	st.storedPos, st.storedAt = p.cursor.Position(), in.now()
	if pos := p.cursor.Position(); !pos.IsZero() {
		in.metrics.cursorLag.SetFloat64(max(0, in.now().Sub(pos).Seconds()), string(k.LogType), k.AccountID)
	}
}

// Close stops the drop-off alarm. Pending acknowledgements still store
// their positions.
func (in *duoAdminLogsInput) Close(ctx context.Context) error {
	removeStatusInput(in)
	in.connectMu.Lock()
	leases := in.leases
	in.connectMu.Unlock()
	if leases != nil {
		// Benthos closes an input once the acknowledgements it will get
		// have resolved, so every position that can be is stored: hand
		// the leases over, whatever happens to ctx.
		defer leases.stop()
	}
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
