// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/duostream/duostream/ocsf/parquet"
)

// Metadata the ocsf_parquet_encode processor sets on each object it makes.
const (
	// MetaOCSFClassUID is the OCSF class of the object's events (duo_ocsf
	// sets it on each event too).
	MetaOCSFClassUID = "ocsf_class_uid"
	// MetaOCSFEventDay is the UTC day of the object's events, YYYYMMDD, for
	// Security Lake's eventDay partition.
	MetaOCSFEventDay = "ocsf_event_day"
	// MetaOCSFEventCount is how many events the object holds.
	MetaOCSFEventCount = "ocsf_event_count"
)

func ocsfParquetEncodeSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Parsing").
		Summary("Turns a batch of OCSF events into Parquet objects, one per OCSF class and UTC day, with the columns of the class in the OCSF 1.3.0 schema.").
		Description(`
Each message of the batch is an OCSF 1.3.0 event, as the `+"`duo_ocsf`"+` processor writes them. The events of each class (`+"`class_uid`"+`) and UTC day of their `+"`time`"+` become one message holding a Parquet object, so that a batch spanning midnight or mixing classes still gives objects that each belong to one Security Lake partition and source:

- The columns are those of the class in the compiled OCSF 1.3.0 schema (Authentication 3002, Account Change 3001, Entity Management 3004 and Detection Finding 2004), whatever attributes the events carry, so every object of a class has the same schema. Objects nest three levels deep; deeper objects, `+"`unmapped`"+` and other free-form attributes are columns of JSON text. Every column is optional.
- Rows are in time order, compressed with zstd, in data pages of at most 256 KiB before compression (Security Lake asks for at most 1 MB).
- Each object carries the metadata of the batch's first event of its class and day, plus `+"`ocsf_class_uid`"+`, `+"`ocsf_event_day`"+` (YYYYMMDD) and `+"`ocsf_event_count`"+`, for the output's path.

An event that is not JSON, has no `+"`class_uid`"+` or `+"`time`"+`, belongs to a class with no columns, or holds an attribute or a type its class does not have, is passed on unchanged in the same batch, flagged with an error naming the attribute; the other events are encoded. Such events are JSON, not Parquet: route them away from the Parquet objects' destination, as the example does with `+"`reject_errored`"+` and a `+"`fallback`"+` to a dead-letter output. Put the processor in a `+"`batching`"+` policy that gathers enough events for an object (Security Lake asks for objects every 5 minutes to a day, or of 256 MB), of a broker around that routing, so that the routing sees the processor's output.`).
		Example("Security Lake objects",
			"OCSF Authentication events (from duo_ocsf) as Parquet objects every five minutes, written to S3 in a Security Lake custom source's layout; an event that cannot be encoded goes to a dead-letter bucket instead. config/duo-to-security-lake.yaml is the whole pipeline, with a source per class.",
			`
output:
  broker:
    batching:
      period: 5m
      byte_size: 268435456
      processors:
        - ocsf_parquet_encode: {}
    outputs:
      - fallback:
          - reject_errored:
              retry:
                output:
                  aws_s3:
                    bucket: aws-security-data-lake-eu-west-1-abcdefgh
                    path: 'ext/duo-authn/region=eu-west-1/accountId=123456789012/eventDay=${! meta("ocsf_event_day") }/${! uuid_v4() }.parquet'
                    content_type: application/vnd.apache.parquet
          - aws_s3:
              bucket: acme-dead-letters
              path: 'ocsf/${! uuid_v4() }.json'
`)
}

func init() {
	service.MustRegisterBatchProcessor("ocsf_parquet_encode", ocsfParquetEncodeSpec(), func(*service.ParsedConfig, *service.Resources) (service.BatchProcessor, error) {
		return ocsfParquetEncoder{}, nil
	})
}

// ocsfParquetEncoder is the ocsf_parquet_encode processor. It holds no
// state.
type ocsfParquetEncoder struct{}

// objectKey identifies the object an event goes into.
type objectKey struct {
	class int
	day   string
}

// object gathers the rows of one object and the event whose metadata it
// takes.
type object struct {
	msgs []*service.Message
	rows []parquet.Row
}

// ProcessBatch encodes the events of batch, by class and day, and passes
// on, with an error each, the events that cannot be encoded.
func (ocsfParquetEncoder) ProcessBatch(_ context.Context, batch service.MessageBatch) ([]service.MessageBatch, error) {
	objects := map[objectKey]*object{}
	var keys []objectKey
	var out service.MessageBatch
	for _, m := range batch {
		key, row, err := prepareOCSF(m)
		if err != nil {
			m.SetError(fmt.Errorf("ocsf_parquet_encode: %w", err))
			out = append(out, m)
			continue
		}
		o := objects[key]
		if o == nil {
			o = &object{}
			objects[key] = o
			keys = append(keys, key)
		}
		o.msgs = append(o.msgs, m)
		o.rows = append(o.rows, row)
	}
	slices.SortFunc(keys, func(a, b objectKey) int {
		if a.class != b.class {
			return a.class - b.class
		}
		return strings.Compare(a.day, b.day)
	})
	for _, key := range keys {
		o := objects[key]
		var buf bytes.Buffer
		if err := parquet.Encode(&buf, key.class, o.rows); err != nil {
			// Prepare checked every row, so this should not happen: pass
			// the object's events on with the error, the other objects
			// are good.
			for _, m := range o.msgs {
				m.SetError(fmt.Errorf("ocsf_parquet_encode: %w", err))
				out = append(out, m)
			}
			continue
		}
		obj := o.msgs[0].Copy()
		obj.SetBytes(buf.Bytes())
		obj.MetaSetMut(MetaOCSFClassUID, strconv.Itoa(key.class))
		obj.MetaSetMut(MetaOCSFEventDay, key.day)
		obj.MetaSetMut(MetaOCSFEventCount, strconv.Itoa(len(o.rows)))
		out = append(out, obj)
	}
	return []service.MessageBatch{out}, nil
}

// prepareOCSF reads one OCSF event and returns the object it goes into and
// its row.
func prepareOCSF(m *service.Message) (objectKey, parquet.Row, error) {
	raw, err := m.AsBytes()
	if err != nil {
		return objectKey{}, parquet.Row{}, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var ev map[string]any
	if err := dec.Decode(&ev); err != nil {
		return objectKey{}, parquet.Row{}, fmt.Errorf("not a JSON object: %w", err)
	}
	if ev == nil {
		return objectKey{}, parquet.Row{}, errors.New("not a JSON object: null")
	}
	n, ok := ev["class_uid"].(json.Number)
	if !ok {
		return objectKey{}, parquet.Row{}, errors.New("class_uid: missing or not a number; is this an OCSF event from duo_ocsf?")
	}
	class, err := strconv.Atoi(n.String())
	if err != nil {
		return objectKey{}, parquet.Row{}, fmt.Errorf("class_uid: %q is not a class", n)
	}
	row, err := parquet.Prepare(class, ev)
	if err != nil {
		return objectKey{}, parquet.Row{}, err
	}
	day := time.UnixMilli(row.Time).UTC().Format("20060102")
	return objectKey{class: class, day: day}, row, nil
}

// Close releases nothing.
func (ocsfParquetEncoder) Close(context.Context) error { return nil }
