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

	// The duo_normalize processor.
	_ "github.com/duostream/duostream/processor"
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

// Func processes events in two steps: Prepare turns a raw event into the
// input the variant starts from (a Benthos message for the processors, as
// an input would hand it over), and Run does the measured work on it,
// returning the output bytes. Prepare is not timed.
type Func struct {
	Prepare func(event []byte) any
	Run     func(in any) ([]byte, error)
}

// Do prepares and runs one event.
func (f Func) Do(event []byte) ([]byte, error) { return f.Run(f.Prepare(event)) }

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
	{"engine", Engine},
	{"encoding/json", StdlibFloor},
}

func bytesIn(event []byte) any { return event }

// processorFunc builds a processor from YAML through the global Benthos
// environment, as a pipeline would, and runs each event through it as a
// message carrying the duo_log_type metadata the input sets.
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
		Prepare: func(event []byte) any {
			m := service.NewMessage(event)
			m.MetaSetMut("duo_log_type", logType)
			return m
		},
		Run: func(in any) ([]byte, error) {
			batch, err := proc.Process(ctx, in.(*service.Message))
			if err != nil {
				return nil, err
			}
			if len(batch) != 1 {
				return nil, fmt.Errorf("got %d messages, want 1", len(batch))
			}
			if err := batch[0].GetError(); err != nil {
				return nil, err
			}
			return batch[0].AsBytes()
		},
	}, nil
}

// DuoNormalize is variant (a): the duo_normalize processor.
func DuoNormalize(logType string) (Func, error) {
	return processorFunc("p:\n  duo_normalize: {}\n", logType)
}

// Engine is duo_normalize's work without Benthos: schema.Normalizer on
// the event's bytes, as the floor gets them.
func Engine(logType string) (Func, error) {
	reg, err := schema.NewRegistry()
	if err != nil {
		return Func{}, err
	}
	s := reg.Lookup(logType)
	if s == nil {
		return Func{}, reg.UnknownLogTypeError(logType)
	}
	n := schema.NewNormalizer(schema.Options{PantherFields: true})
	var buf []byte
	return Func{Prepare: bytesIn, Run: func(in any) ([]byte, error) {
		var err error
		buf, err = n.Append(buf[:0], s, in.([]byte))
		return buf, err
	}}, nil
}

// Bloblang is variant (b): a mapping processor running Mapping(logType).
func Bloblang(logType string) (Func, error) {
	m, err := Mapping(logType)
	if err != nil {
		return Func{}, err
	}
	conf, err := json.Marshal(map[string]any{"p": map[string]any{"mapping": m}})
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
	return Func{Prepare: bytesIn, Run: func(in any) ([]byte, error) {
		if err := d.Parse(in.([]byte)); err != nil {
			return nil, err
		}
		buf = d.AppendValue(buf[:0], schema.Root)
		return buf, nil
	}}, nil
}

// StdlibFloor decodes each event into a map with encoding/json and encodes
// it again: the floor of a normalizer built on the standard library, for
// context.
func StdlibFloor(string) (Func, error) {
	return Func{Prepare: bytesIn, Run: func(in any) ([]byte, error) {
		var v any
		if err := json.Unmarshal(in.([]byte), &v); err != nil {
			return nil, err
		}
		return json.Marshal(v)
	}}, nil
}
