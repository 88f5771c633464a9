// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package processor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/duostream/duostream/ocsf"
)

const (
	doFieldLogType = "log_type"
	doFieldAPIHost = "api_host"
	doFieldRawData = "raw_data"
)

// MetaOCSFUnmapped is the metadata duo_ocsf sets, instead of
// ocsf_class_uid, on an event of a log type no OCSF class fits: the log's
// name, "telephony".
const MetaOCSFUnmapped = "ocsf_unmapped"

func duoOCSFSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Parsing").
		Summary("Turns Duo log events into OCSF 1.3.0 events, one for one, with the OCSF class in metadata for routing.").
		Description(`
Each message must hold one Duo log record as a JSON object: raw, as the `+"`duo_admin_logs`"+` input emits it, or normalized by `+"`duo_normalize`"+` (Panther's `+"`p_*`"+` fields are left out of the OCSF event). The message is replaced by one OCSF 1.3.0 event, which validates against the compiled OCSF 1.3.0 schema, and gets the metadata `+"`ocsf_class_uid`"+` (for example `+"`3002`"+`), ready for `+"`ocsf_parquet_encode`"+` and for an output per class, as Amazon Security Lake wants one custom source per class.

### Classes

| Duo log | OCSF class |
|---|---|
| `+"`Duo.Authentication`"+` | Authentication (3002): activity Logon for `+"`event_type: authentication`"+`, Other for `+"`enrollment`"+`. The activity never comes from the result: a denied or fraudulent logon is a Logon with status Failure (severity Low, or High for fraud). |
| `+"`Duo.Administrator`, `Duo.Activity`"+` | By action, from a table: administrator logins (`+"`admin_login`, `admin_login_error`, `admin_2fa_error`"+`) are Authentication (3002); creating, deleting, locking out and resetting the password of a user or administrator account, and adding or removing its phone or security key, are Account Change (3001); everything else is Entity Management (3004), with the activity from the table or the action's suffix (`+"`_create`"+` Create, `+"`_update`"+` Update, `+"`_delete`"+` Delete, …), else Other named by the action. An Account Change whose account the event does not name becomes Entity Management. |
| `+"`Duo.OfflineEnrollment`"+` | Entity Management (3004): Enroll or Unenroll. |
| `+"`Duo.TrustMonitor`"+` | Detection Finding (2004): Create for a new finding, Update once triaged; severity High for a priority event, else Medium; the finding's evidence is the surfaced authentication's user and source, or for a bypass status the user put in bypass and the administrator who did it. |
| `+"`Duo.Telephony`"+` | None: Duo's record of the calls and SMS it bills fits no OCSF class. The event passes through **unchanged**, without `+"`ocsf_class_uid`"+`, and with the metadata `+"`ocsf_unmapped: telephony`"+`, so that a pipeline can send it elsewhere. |

### Fields

Every event has the classification (`+"`class_uid`, `category_uid`, `activity_id`, `type_uid`"+` = class_uid × 100 + activity_id) with their captions, `+"`status_id`, `severity_id`"+` with theirs (for 99, Other, the caption is Duo's own value), `+"`time`"+` in milliseconds, and `+"`metadata`"+`: product Cisco Duo with the log as its feature, version 1.3.0, `+"`uid`"+` the Duo event ID (`+"`txid`"+`, `+"`activity_id`"+`, `+"`sekey`"+`; for administrator and offline enrollment records, which have none, a hash of the record's content, the same whether raw or normalized), `+"`log_name`, `log_provider`, `original_time`"+`, `+"`tenant_uid`"+` from the API host name `+"`api-XXXXXXXX.duosecurity.com`"+`, and `+"`profiles: [host]`"+` when an Entity Management event names its actor.

User, application (`+"`service`"+`), source (`+"`src_endpoint`"+`: the IP address without its port, the unspecified address and placeholders dropped; the location with the country's ISO 3166-1 alpha-2 code for the country names Duo writes; the OS), `+"`is_mfa`, `auth_factors`"+` and `+"`status_detail`"+` (Duo's reason) are filled where the event has them. OCSF 1.3 wants each authentication factor to carry exactly one of an email address, a phone number and security questions, so `+"`auth_factors`"+` is written only when the device's phone number is known. Everything else, and any value that is not valid where OCSF would put it, is kept in `+"`unmapped`"+` under its dotted Duo path, as a string (JSON for values that are not strings).

### Events that cannot be mapped

An event that is not a JSON object, of an unknown log type, or without a field its class needs (the time, the user of an authentication, the action of an administrator event, the `+"`sekey`"+` of a Trust Monitor event, …) is not changed: it passes on flagged with an error that names the log type, the field and the problem, for example

`+"```"+`
Duo.Authentication: field "user.name": missing: an authentication needs its user's name or key
`+"```"+`

Nothing is dropped. Route flagged events to a dead-letter output with a `+"`switch`"+` on `+"`errored()`"+`. The metric `+"`duo_ocsf_invalid`"+` counts them by `+"`log_type`"+`.`).
		Fields(
			service.NewInterpolatedStringField(doFieldLogType).
				Description("The Duo log type of each message: `Duo.Authentication`, `Duo.Administrator`, `Duo.Telephony`, `Duo.OfflineEnrollment`, `Duo.Activity` or `Duo.TrustMonitor` (the Admin API's names, such as `authentication`, also do). By default it is the `duo_log_type` metadata that `duo_admin_logs` sets.").
				Examples("Duo.Authentication", `${! meta("log_type") }`).
				Default(`${! meta("duo_log_type") }`),
			service.NewInterpolatedStringField(doFieldAPIHost).
				Description("The Duo API host name each message was read from, whose `XXXXXXXX` in `api-XXXXXXXX.duosecurity.com` becomes `metadata.tenant_uid`. By default it is the `duo_api_hostname` metadata that `duo_admin_logs` sets; when it is empty, the event's own `host` field is used, which Duo's Python client adds.").
				Default(`${! meta("duo_api_hostname") }`).
				Advanced(),
			service.NewBoolField(doFieldRawData).
				Description("Keep the Duo event, as it came, in the OCSF event's `raw_data`. It about doubles the size of each event.").
				Default(false),
		).
		Example("Authentication and administrator events to OCSF, telephony and errors elsewhere",
			"Map each Duo event from `duo_admin_logs` to OCSF. Telephony events, which no OCSF class fits, go to their own file; events that could not be mapped go, unchanged, to a dead-letter file; the OCSF events are written one file per class.",
			`
pipeline:
  processors:
    - duo_ocsf: {}

output:
  switch:
    cases:
      - check: errored()
        output:
          file:
            path: ./duo-dead-letter.jsonl
            codec: lines
      - check: '@ocsf_unmapped != null'
        output:
          file:
            path: ./duo-telephony.jsonl
            codec: lines
      - output:
          file:
            path: './ocsf-${! meta("ocsf_class_uid") }.jsonl'
            codec: lines
`)
}

func init() {
	service.MustRegisterBatchProcessor("duo_ocsf", duoOCSFSpec(), NewDuoOCSF)
}

// NewDuoOCSF builds a duo_ocsf processor from a config parsed with
// [DuoOCSFSpec]. Pipelines get one through the registered name; this is
// for code that drives the processor directly, such as benchmarks.
func NewDuoOCSF(conf *service.ParsedConfig, res *service.Resources) (service.BatchProcessor, error) {
	return newDuoOCSF(conf, res)
}

// DuoOCSFSpec returns the config spec of duo_ocsf.
func DuoOCSFSpec() *service.ConfigSpec { return duoOCSFSpec() }

// duoOCSF is the duo_ocsf processor. One instance serves every pipeline
// thread: ProcessBatch only reads shared state.
type duoOCSF struct {
	logType, apiHost         *service.InterpolatedString
	logTypeMeta, apiHostMeta string // set when the field is one metadata lookup
	rawData                  bool
	invalid                  *service.MetricCounter
}

func newDuoOCSF(conf *service.ParsedConfig, res *service.Resources) (*duoOCSF, error) {
	p := &duoOCSF{}
	var err error
	if p.logType, p.logTypeMeta, err = duoOCSFField(conf, doFieldLogType); err != nil {
		return nil, err
	}
	if name, ok := p.logType.Static(); ok {
		if _, known := ocsf.LogName(name); !known {
			return nil, fmt.Errorf("%s: %q is no Duo log type", doFieldLogType, name)
		}
	}
	if p.apiHost, p.apiHostMeta, err = duoOCSFField(conf, doFieldAPIHost); err != nil {
		return nil, err
	}
	if p.rawData, err = conf.FieldBool(doFieldRawData); err != nil {
		return nil, err
	}
	p.invalid = res.Metrics().NewCounter("duo_ocsf_invalid", "log_type")
	return p, nil
}

// duoOCSFField reads an interpolated string field, and the metadata
// key it reads when it is just one metadata lookup, which is then read
// directly rather than through the interpolation engine.
func duoOCSFField(conf *service.ParsedConfig, name string) (*service.InterpolatedString, string, error) {
	is, err := conf.FieldInterpolatedString(name)
	if err != nil {
		return nil, "", err
	}
	raw, err := conf.FieldString(name)
	if err != nil {
		return nil, "", err
	}
	key := ""
	if sm := metaOnly.FindStringSubmatch(raw); sm != nil {
		key = sm[1] + sm[2]
	}
	return is, key, nil
}

// duoOCSFResolve returns the value of an interpolated field for m.
func duoOCSFResolve(m *service.Message, is *service.InterpolatedString, metaKey string) (string, error) {
	if metaKey != "" {
		v, _ := m.MetaGet(metaKey)
		return v, nil
	}
	return is.TryString(m)
}

// ProcessBatch maps each message of a batch in place. A message that
// cannot be mapped keeps its content and is flagged with the error; a
// telephony message keeps its content and gets ocsf_unmapped.
func (p *duoOCSF) ProcessBatch(_ context.Context, batch service.MessageBatch) ([]service.MessageBatch, error) {
	for _, m := range batch {
		if err := p.process(m); err != nil {
			m.SetError(err)
		}
	}
	return []service.MessageBatch{slices.Clone(batch)}, nil
}

func (p *duoOCSF) process(m *service.Message) error {
	logType, err := duoOCSFResolve(m, p.logType, p.logTypeMeta)
	if err != nil {
		p.invalid.Incr(1, "unknown")
		return fmt.Errorf("resolve %s: %w", doFieldLogType, err)
	}
	name, known := ocsf.LogName(logType)
	if !known {
		// Not the name itself as a label: it could be anything.
		p.invalid.Incr(1, "unknown")
		if logType == "" {
			return fmt.Errorf("no Duo log type: %s is empty (is the duo_log_type metadata set?)", doFieldLogType)
		}
		return fmt.Errorf("%q is no Duo log type", logType)
	}
	in, err := m.AsBytes()
	if err != nil {
		p.invalid.Incr(1, logType)
		return fmt.Errorf("%s: %w", logType, err)
	}
	host, err := duoOCSFResolve(m, p.apiHost, p.apiHostMeta)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", doFieldAPIHost, err)
	}
	opts := ocsf.Options{APIHost: host}
	if p.rawData {
		opts.RawData = in
	}
	out, class, err := ocsf.MapJSON(make([]byte, 0, outputSize(len(in))), logType, in, opts)
	switch {
	case errors.Is(err, ocsf.ErrNoClass):
		m.MetaSetMut(MetaOCSFUnmapped, name)
		return nil
	case err != nil:
		p.invalid.Incr(1, logType)
		return err
	}
	m.SetBytes(out)
	m.MetaSetMut(MetaOCSFClassUID, strconv.Itoa(class))
	return nil
}

// Close releases nothing: the processor holds no resources.
func (p *duoOCSF) Close(context.Context) error { return nil }

// outputSize is the room an OCSF event of a Duo event of n bytes takes: its
// fixed attributes (classification, captions, metadata) add about a
// kilobyte, the rest grows with the event.
func outputSize(n int) int { return 2*n + 1536 }
