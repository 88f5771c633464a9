// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package bench

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/redpanda-data/benthos/v4/public/service"

	// The mapping processor.
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	"github.com/redpanda-data/benthos/v4/public/bloblang"

	"github.com/duostream/duostream/processor"
	"github.com/duostream/duostream/schema"
)

//go:embed mappings/*.blobl
var mappingFS embed.FS

// Mapping returns the Bloblang mapping that normalizes logType the way
// duo_normalize does: mappings/common.blobl followed by the log type's own
// file.
func Mapping(logType string) (string, error) {
	common, err := mappingFS.ReadFile("mappings/common.blobl")
	if err != nil {
		return "", err
	}
	name := map[string]string{
		"Duo.Authentication":    "authentication",
		"Duo.Administrator":     "administrator",
		"Duo.Telephony":         "telephony",
		"Duo.OfflineEnrollment": "offline_enrollment",
	}[logType]
	own, err := mappingFS.ReadFile("mappings/" + name + ".blobl")
	if err != nil {
		return "", fmt.Errorf("no mapping for %s: %w", logType, err)
	}
	body := strings.Replace(string(own), `import "./common.blobl"`, "", 1)
	return string(common) + "\n" + body, nil
}

// Func processes batches of events in two steps: Prepare turns raw events
// into the input the variant starts from (a batch of Benthos messages for
// the processors, as an input hands them over; the bytes themselves for
// the others), and Run does the measured work on it, passing each output
// to emit when emit is not nil. Prepare is not timed.
type Func struct {
	Prepare func(events [][]byte) any
	Run     func(in any, emit func([]byte)) error
}

// Do prepares and runs events and returns copies of the outputs.
func (f Func) Do(events ...[]byte) ([][]byte, error) {
	var outs [][]byte
	err := f.Run(f.Prepare(events), func(b []byte) { outs = append(outs, append([]byte(nil), b...)) })
	return outs, err
}

// Variant is one way of processing events that the benchmark compares.
type Variant struct {
	Name  string
	Build func(logType string) (Func, error)
}

// Variants are the measured variants, in report order.
var Variants = []Variant{
	{"duo_normalize", DuoNormalize},
	{"bloblang", Bloblang},
	{"floor", Floor},
	{"encoding/json", StdlibFloor},
	{"duo_normalize+benthos", DuoNormalizeOwned},
	{"bloblang+benthos", BloblangOwned},
}

func bytesIn(events [][]byte) any { return events }

// eachEvent runs fn on every event of a batch prepared by bytesIn.
func eachEvent(fn func(event []byte) ([]byte, error)) func(in any, emit func([]byte)) error {
	return func(in any, emit func([]byte)) error {
		for _, ev := range in.([][]byte) {
			out, err := fn(ev)
			if err != nil {
				return err
			}
			if emit != nil {
				emit(out)
			}
		}
		return nil
	}
}

// processorFunc builds a processor from YAML through the global Benthos
// environment, as a pipeline would, and runs each batch through it as
// messages carrying the duo_log_type metadata the input sets.
func processorFunc(yamlConf, logType string) (Func, error) {
	spec := service.NewConfigSpec().Field(service.NewProcessorField("p"))
	conf, err := spec.ParseYAML(yamlConf, nil)
	if err != nil {
		return Func{}, err
	}
	proc, err := conf.FieldProcessor("p")
	if err != nil {
		return Func{}, err
	}
	ctx := context.Background()
	return Func{
		Prepare: messagesIn(logType),
		Run: func(in any, emit func([]byte)) error {
			batch := in.(service.MessageBatch)
			outs, err := proc.ProcessBatch(ctx, batch)
			if err != nil {
				return err
			}
			n := 0
			for _, out := range outs {
				for _, m := range out {
					if err := emitMessage(m, emit); err != nil {
						return err
					}
					n++
				}
			}
			if n != len(batch) {
				return fmt.Errorf("got %d messages, want %d", n, len(batch))
			}
			return nil
		},
	}, nil
}

// emitMessage hands the content of a processed message to emit (when not
// nil), failing on a message the processor flagged.
func emitMessage(m *service.Message, emit func([]byte)) error {
	if err := m.GetError(); err != nil {
		return err
	}
	b, err := m.AsBytes()
	if err != nil {
		return err
	}
	if emit != nil {
		emit(b)
	}
	return nil
}

// messagesIn turns events into messages carrying the duo_log_type
// metadata the duo_admin_logs input sets.
func messagesIn(logType string) func(events [][]byte) any {
	return func(events [][]byte) any {
		batch := make(service.MessageBatch, len(events))
		for i, ev := range events {
			batch[i] = service.NewMessage(ev)
			batch[i].MetaSetMut("duo_log_type", logType)
		}
		return batch
	}
}

// DuoNormalize is variant (a): the duo_normalize processor's ProcessBatch,
// called on each batch as a pipeline thread calls it.
func DuoNormalize(logType string) (Func, error) {
	conf, err := processor.DuoNormalizeSpec().ParseYAML("{}", nil)
	if err != nil {
		return Func{}, err
	}
	proc, err := processor.NewDuoNormalize(conf, service.MockResources())
	if err != nil {
		return Func{}, err
	}
	return batchProcessorFunc(proc, logType), nil
}

// batchProcessorFunc runs proc's ProcessBatch on each batch of logType's
// messages, as a pipeline thread calls it.
func batchProcessorFunc(proc service.BatchProcessor, logType string) Func {
	ctx := context.Background()
	return Func{
		Prepare: messagesIn(logType),
		Run: func(in any, emit func([]byte)) error {
			outs, err := proc.ProcessBatch(ctx, in.(service.MessageBatch))
			if err != nil {
				return err
			}
			for _, m := range outs[0] {
				if err := emitMessage(m, emit); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

// DuoNormalizeOwned is duo_normalize built from YAML and run through
// Benthos's processor wrapper (tracing spans, metrics), the way a pipeline
// runs it. The difference to DuoNormalize is Benthos's own per-message cost,
// the same for every processor.
func DuoNormalizeOwned(logType string) (Func, error) {
	return processorFunc("p:\n  duo_normalize: {}\n", logType)
}

// Bloblang is variant (b): Mapping(logType) run on each message as the
// mapping processor runs it (Message.BloblangQuery), then encoded.
func Bloblang(logType string) (Func, error) {
	m, err := Mapping(logType)
	if err != nil {
		return Func{}, err
	}
	return bloblangFunc(m, logType)
}

// bloblangFunc runs mapping on each of logType's messages as the mapping
// processor runs it (Message.BloblangQuery), then encodes the result.
func bloblangFunc(mapping, logType string) (Func, error) {
	exec, err := bloblang.Parse(mapping)
	if err != nil {
		return Func{}, err
	}
	return Func{
		Prepare: messagesIn(logType),
		Run: func(in any, emit func([]byte)) error {
			for _, msg := range in.(service.MessageBatch) {
				out, err := msg.BloblangQuery(exec)
				if err != nil {
					return err
				}
				if err := emitMessage(out, emit); err != nil {
					return err
				}
			}
			return nil
		},
	}, nil
}

// BloblangOwned is a mapping processor running Mapping(logType), built
// from YAML and run through Benthos's processor wrapper.
func BloblangOwned(logType string) (Func, error) {
	m, err := Mapping(logType)
	if err != nil {
		return Func{}, err
	}
	return mappingProcessorFunc(m, logType)
}

// mappingProcessorFunc is a mapping processor running mapping, built from
// YAML and run through Benthos's processor wrapper.
func mappingProcessorFunc(mapping, logType string) (Func, error) {
	conf, err := json.Marshal(map[string]any{"p": map[string]any{"mapping": mapping}})
	if err != nil {
		return Func{}, err
	}
	return processorFunc(string(conf), logType)
}

// Floor is variant (c): decoding each event and encoding it again with the
// JSON reader and writer duo_normalize itself uses (schema.Doc), with no
// schema work. No normalizer can be faster than this.
func Floor(string) (Func, error) {
	var d schema.Doc
	var buf []byte
	return Func{Prepare: bytesIn, Run: eachEvent(func(event []byte) ([]byte, error) {
		if err := d.Parse(event); err != nil {
			return nil, err
		}
		buf = d.AppendValue(buf[:0], schema.Root)
		return buf, nil
	})}, nil
}

// StdlibFloor decodes each event into a map with encoding/json and encodes
// it again: the floor of a normalizer built on the standard library, for
// context.
func StdlibFloor(string) (Func, error) {
	return Func{Prepare: bytesIn, Run: eachEvent(func(event []byte) ([]byte, error) {
		var v any
		if err := json.Unmarshal(event, &v); err != nil {
			return nil, err
		}
		return json.Marshal(v)
	})}, nil
}
