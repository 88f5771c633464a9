// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package processor

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/duostream/duostream/schema"
)

const (
	dnFieldLogType       = "log_type"
	dnFieldPantherFields = "panther_fields"
	dnFieldUnknownFields = "unknown_fields"
	dnFieldSchemaFiles   = "schema_files"
)

func duoNormalizeSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Parsing").
		Summary("Validates Duo log events against Panther's Duo schemas and writes them in Panther's normalized form, with Panther's standard p_* fields.").
		Description(`
Each message must hold one JSON object: one Duo log record, as the `+"`duo_admin_logs`"+` input emits them. The processor finds the schema for the record's log type, checks the record against it and replaces the message with the normalized record. It understands Panther-format schemas. Six Duo schemas are built in: the four Panther publishes (`+"`Duo.Authentication`, `Duo.Administrator`, `Duo.Telephony`, `Duo.OfflineEnrollment`"+`) and duostream's own `+"`Duo.Activity`"+` and `+"`Duo.TrustMonitor`"+`, written in the same format from Duo's documentation of the activity and Trust Monitor logs. `+"`schema_files`"+` loads more.

### What normalization does

It follows Panther's own Duo parser:

- `+"`string`"+` fields take JSON booleans and numbers as their text (`+"`true`"+` becomes `+"`\"true\"`"+`); empty strings are kept.
- `+"`int`, `bigint`, `float` and `boolean`"+` fields also read strings that hold such a value; an empty string counts as no value.
- `+"`timestamp`"+` fields are read in the schema's time format. RFC 3339 values keep their own offset but are rewritten in Go's RFC 3339 form (`+"`+00:00`"+` becomes `+"`Z`"+`); unix timestamps stay numbers, with up to microsecond precision.
- `+"`null`"+` values and empty arrays are left out. A single value where an array belongs is read as a one-element array: Duo sends `+"`\"security_agents\": \"unknown\"`"+` where the schema has an array, and the value is kept rather than the event refused.
- Fields the schema does not name are dropped, so the output matches the schema, unless `+"`unknown_fields: keep`"+`.
- Records of the v2 telephony endpoint (`+"`ts`, `telephony_id`, `txid`"+`) become `+"`Duo.Telephony`"+` events: `+"`isotimestamp`"+` and `+"`timestamp`"+` are taken from `+"`ts`"+`.
- In `+"`Duo.Activity`"+` events, fields whose shape differs between Duo versions are kept as they came: `+"`action`"+` (an object `+"`{name, details}`"+`, or the name alone in older records), the `+"`details`"+` of `+"`actor`, `target` and `old_target`"+` (JSON-encoded strings, sometimes objects) and `+"`access_device.ip`"+` (an object `+"`{address}`"+`, or a plain string); the address is in `+"`p_any_ip_addresses`"+` in either shape. The event time is `+"`ts`"+`.
- In `+"`Duo.TrustMonitor`"+` events the event time is `+"`surfaced_timestamp`"+` (unix milliseconds); `+"`surfaced_auth`"+`, the authentication record of an `+"`auth`"+` event, adds its IP addresses, host name, user, email and `+"`txid`"+` to the indicator fields.

With `+"`panther_fields`"+` on, every event also gets `+"`p_log_type`, `p_row_id`, `p_event_time`"+` (the schema's event time in UTC, or the parse time when there is none), `+"`p_parse_time`"+` (when the batch was processed), and the indicator fields `+"`p_any_ip_addresses`, `p_any_domain_names`, `p_any_usernames`, `p_any_emails`, `p_any_trace_ids`"+` (and the other `+"`p_any_*`"+` fields a schema asks for), each sorted and without duplicates. A message whose metadata names its Duo account (`+"`duo_account_id`, `duo_account_name`"+`, as the input sets them for the child accounts of an MSP parent) also gets `+"`p_source_id`"+` (the account ID) and `+"`p_source_label`"+` (its name). Indicator values are taken only when valid: an IP address after stripping a port, a real host name (never a placeholder such as `+"`\"null\"`"+`). A bad indicator value never fails an event.

### Events that break their schema

An event with a required field missing or null, a value that cannot become its field's type, invalid JSON, or a log type with no schema is not changed: it passes on intact, flagged with an error that names the log type, the field and the problem, for example:

`+"```"+`
Duo.Administrator: field "isotimestamp": "2021-07-20T11: 41: 31+00: 00" is not an RFC 3339 timestamp
`+"```"+`

Nothing is dropped. Route flagged events to a dead-letter output with a `+"`switch`"+` on `+"`errored()`"+`, as in the example below; the message `+"`error()`"+` returns is the text above. The metric `+"`duo_normalize_invalid`"+` counts them by `+"`log_type`"+` (`+"`unknown`"+` for a log type with no schema).

### Schema files

A schema file is a Panther log schema in YAML: `+"`schema`"+` (the log type name), `+"`fields`"+` with `+"`name`, `type`, `required`, `description`, `timeFormat`"+` (or a list, `+"`timeFormats`"+`, tried in order and written in the first), `+"`isEventTime`, `indicators`, `fields`"+` for objects and `+"`element`"+` for arrays, and `+"`copy: {from: dotted.path}`"+` to fill a missing field from another one. Time formats are `+"`rfc3339`, `unix`, `unix_ms`, `unix_us`, `unix_ns`"+` or a strftime layout such as `+"`%Y-%m-%d %H:%M:%S`"+`. Indicators are `+"`ip`, `hostname`, `domain`, `url`, `net_addr`, `email`, `username`, `trace_id`, `md5`, `sha1`, `sha256`, `aws_arn`, `aws_account_id`, `aws_instance_id`, `aws_tag`"+`; on a `+"`json`"+` field, which Panther does not allow, they read every string inside the value. A file whose schema name is already loaded replaces that schema. Schema errors stop start-up.`).
		Fields(
			service.NewInterpolatedStringField(dnFieldLogType).
				Description("The log type of each message: the name of a loaded schema. By default it is the `duo_log_type` metadata that `duo_admin_logs` sets.").
				Examples("Duo.Authentication", `${! meta("log_type") }`).
				Default(`${! meta("duo_log_type") }`),
			service.NewBoolField(dnFieldPantherFields).
				Description("Add Panther's standard fields: `p_log_type`, `p_row_id`, `p_event_time`, `p_parse_time` and the `p_any_*` indicator fields.").
				Default(true),
			service.NewStringAnnotatedEnumField(dnFieldUnknownFields, map[string]string{
				"drop": "Leave out fields the schema does not name, so the output matches the schema.",
				"keep": "Keep fields the schema does not name, unchanged. New fields Duo adds then reach the output, but not as typed columns.",
			}).
				Description("What to do with fields the schema does not name.").
				Default("drop"),
			service.NewStringListField(dnFieldSchemaFiles).
				Description("Paths of more Panther-format schema files (YAML) to load at start-up.").
				Example([]string{"./schemas/custom_duo.yml"}).
				Default([]string{}).
				Advanced(),
		).
		Example("Dead-letter output for events that break their schema",
			"Normalize every Duo log record. A switch on errored() sends records that failed normalization, unchanged, to a dead-letter file; a mapping in that case could also store error() with them.",
			`
pipeline:
  processors:
    - duo_normalize: {}

output:
  switch:
    cases:
      - check: errored()
        output:
          file:
            path: ./duo-dead-letter.jsonl
            codec: lines
      - output:
          stdout: {}
`)
}

func init() {
	service.MustRegisterBatchProcessor("duo_normalize", duoNormalizeSpec(), NewDuoNormalize)
}

// NewDuoNormalize builds a duo_normalize processor from a config parsed
// with [DuoNormalizeSpec]. Pipelines get one through the registered name;
// this is for code that drives the processor directly, such as benchmarks.
func NewDuoNormalize(conf *service.ParsedConfig, res *service.Resources) (service.BatchProcessor, error) {
	return newDuoNormalize(conf, res, schema.Options{})
}

// DuoNormalizeSpec returns the config spec of duo_normalize.
func DuoNormalizeSpec() *service.ConfigSpec { return duoNormalizeSpec() }

// duoNormalize is the duo_normalize processor. One instance serves every
// pipeline thread: ProcessBatch only reads shared state.
type duoNormalize struct {
	registry *schema.Registry
	norm     *schema.Normalizer
	// static is the schema when log_type holds no interpolation.
	static *schema.Schema
	// metaKey is set when log_type is just one metadata key, which is then
	// read directly rather than through the interpolation engine.
	metaKey string
	logType *service.InterpolatedString
	invalid *service.MetricCounter
	now     func() time.Time
	// pantherFields adds Panther's standard fields, p_source_id and
	// p_source_label among them when the message names its Duo account.
	pantherFields bool
}

// Metadata naming the Duo child account a message came from, which become
// Panther's p_source_id and p_source_label.
const (
	metaAccountID   = "duo_account_id"
	metaAccountName = "duo_account_name"
)

// metaOnly matches an interpolation that is one metadata lookup:
// ${! meta("key") } or ${! @key }.
var metaOnly = regexp.MustCompile(`^\$\{!\s*(?:meta\("([A-Za-z0-9_.-]+)"\)|@([A-Za-z0-9_]+))\s*\}$`)

// newDuoNormalize builds the processor. opts supplies the clock and row ID
// generator (tests pin them); its PantherFields and KeepUnknown come from
// conf.
func newDuoNormalize(conf *service.ParsedConfig, res *service.Resources, opts schema.Options) (*duoNormalize, error) {
	var err error
	p := &duoNormalize{}
	if p.registry, err = schema.NewRegistry(); err != nil {
		return nil, err
	}
	files, err := conf.FieldStringList(dnFieldSchemaFiles)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		s, err := schema.ParseFile(f)
		if err != nil {
			return nil, err
		}
		p.registry.Add(s)
	}
	if p.logType, err = conf.FieldInterpolatedString(dnFieldLogType); err != nil {
		return nil, err
	}
	raw, err := conf.FieldString(dnFieldLogType)
	if err != nil {
		return nil, err
	}
	if sm := metaOnly.FindStringSubmatch(raw); sm != nil {
		p.metaKey = sm[1] + sm[2]
	}
	if name, ok := p.logType.Static(); ok {
		if p.static = p.registry.Lookup(name); p.static == nil {
			return nil, fmt.Errorf("%s: %w", dnFieldLogType, p.registry.UnknownLogTypeError(name))
		}
	}
	if opts.PantherFields, err = conf.FieldBool(dnFieldPantherFields); err != nil {
		return nil, err
	}
	unknown, err := conf.FieldString(dnFieldUnknownFields)
	if err != nil {
		return nil, err
	}
	opts.KeepUnknown = unknown == "keep"
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p.now = opts.Now
	p.norm = schema.NewNormalizer(opts)
	p.pantherFields = opts.PantherFields
	p.invalid = res.Metrics().NewCounter("duo_normalize_invalid", "log_type")
	return p, nil
}

// ProcessBatch normalizes each message of a batch in place. A message that
// fails keeps its content and is flagged with the error; the others are
// unaffected. The clock is read once per batch, so a batch shares its
// p_parse_time.
//
// The normalized events of a batch are written one after another into one
// buffer, and each message gets its own capped slice of it: one allocation
// per batch rather than one per event. The buffer lives as long as any of
// the batch's messages.
func (p *duoNormalize) ProcessBatch(_ context.Context, batch service.MessageBatch) ([]service.MessageBatch, error) {
	now := p.now()
	var arena []byte
	for i, m := range batch {
		if in, err := m.AsBytes(); err == nil && cap(arena)-len(arena) < len(in)+512 {
			arena = make([]byte, 0, p.arenaSize(batch[i:]))
		}
		var err error
		if arena, err = p.normalize(m, arena, now); err != nil {
			m.SetError(err)
		}
	}
	return []service.MessageBatch{slices.Clone(batch)}, nil
}

// arenaSize estimates the bytes the normalized form of batch needs: about
// its own size plus Panther's standard fields.
func (p *duoNormalize) arenaSize(batch service.MessageBatch) int {
	n := 0
	for _, m := range batch {
		if b, err := m.AsBytes(); err == nil {
			n += len(b) + 512
		}
	}
	return n
}

// normalize replaces the content of m with its normalized form, appended
// to arena, and returns arena. On error m is left unchanged.
func (p *duoNormalize) normalize(m *service.Message, arena []byte, now time.Time) ([]byte, error) {
	s := p.static
	if s == nil {
		var name string
		if p.metaKey != "" {
			name, _ = m.MetaGet(p.metaKey)
		} else {
			var err error
			if name, err = p.logType.TryString(m); err != nil {
				return arena, fmt.Errorf("resolve %s: %w", dnFieldLogType, err)
			}
		}
		if s = p.registry.Lookup(name); s == nil {
			// Not the name itself: it could be anything, and labels must
			// stay few.
			p.invalid.Incr(1, "unknown")
			return arena, p.registry.UnknownLogTypeError(name)
		}
	}
	in, err := m.AsBytes()
	if err != nil {
		return arena, err
	}
	start := len(arena)
	arena, err = p.norm.AppendAt(arena, s, in, now)
	if err != nil {
		p.invalid.Incr(1, s.Name)
		return arena, err
	}
	if p.pantherFields {
		arena = appendSource(arena, m)
	}
	// Capped, so that an append to the message's bytes cannot reach the
	// next message's.
	m.SetBytes(arena[start:len(arena):len(arena)])
	return arena, nil
}

// appendSource adds Panther's p_source_id and p_source_label to the
// normalized event that ends arena, from the Duo account the message's
// metadata names (an MSP child account); it leaves the event as it is when
// the message names none.
func appendSource(arena []byte, m *service.Message) []byte {
	id, ok := m.MetaGet(metaAccountID)
	if !ok || id == "" {
		return arena
	}
	label, _ := m.MetaGet(metaAccountName)
	arena = arena[:len(arena)-1] // the event's closing brace
	arena = append(arena, `,"p_source_id":`...)
	arena = schema.AppendQuoted(arena, []byte(id))
	if label != "" {
		arena = append(arena, `,"p_source_label":`...)
		arena = schema.AppendQuoted(arena, []byte(label))
	}
	return append(arena, '}')
}

// Close releases nothing: the processor holds no resources.
func (p *duoNormalize) Close(context.Context) error { return nil }
