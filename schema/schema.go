// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package schema

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Schema is a Panther-format log schema: a named tree of typed fields. It
// is built once with [Parse] and is then read-only, so one Schema may be
// used by any number of goroutines.
type Schema struct {
	// Name is the log type, such as "Duo.Authentication".
	Name string
	// Description and ReferenceURL document the log type.
	Description  string
	ReferenceURL string
	// Fields are the top-level fields, in schema order.
	Fields []*Field

	root valuePlan
	// quotedName is Name as a JSON string.
	quotedName []byte
}

// Field is one named field of a schema object.
type Field struct {
	Name        string
	Required    bool
	Description string
	Value
	// CopyFrom, when set, names a dotted path in the event whose value
	// fills this field when the event has no value of its own.
	CopyFrom string
}

// Value describes the type of a field or of an array's elements.
type Value struct {
	// Type is one of string, int, bigint, float, boolean, timestamp,
	// object, array or json.
	Type string
	// TimeFormats are the notations a timestamp is read in, tried in
	// order; the first one is the notation it is written in.
	TimeFormats []string
	// IsEventTime marks the timestamp that becomes p_event_time.
	IsEventTime bool
	// Indicators name the p_any_* scanners that read this value. On a
	// json value, which Panther does not allow, they read every string
	// inside it, at any depth.
	Indicators []string
	// Fields are an object's fields.
	Fields []*Field
	// Element is an array's element type.
	Element *Value
}

// The YAML shapes of a Panther schema file.
type yamlSchema struct {
	Schema                string          `yaml:"schema"`
	Description           string          `yaml:"description"`
	ReferenceURL          string          `yaml:"referenceURL"`
	Version               int             `yaml:"version"`
	FieldDiscoveryEnabled bool            `yaml:"fieldDiscoveryEnabled"`
	Parser                *yamlParserSpec `yaml:"parser"`
	Fields                []*yamlField    `yaml:"fields"`
}

type yamlParserSpec struct {
	Native *struct {
		Name string `yaml:"name"`
	} `yaml:"native"`
}

type yamlValue struct {
	Type        string       `yaml:"type"`
	TimeFormat  string       `yaml:"timeFormat"`
	TimeFormats []string     `yaml:"timeFormats"`
	IsEventTime bool         `yaml:"isEventTime"`
	Indicators  []string     `yaml:"indicators"`
	Fields      []*yamlField `yaml:"fields"`
	Element     *yamlValue   `yaml:"element"`
}

type yamlField struct {
	Name        string `yaml:"name"`
	Required    bool   `yaml:"required"`
	Description string `yaml:"description"`
	yamlValue   `yaml:",inline"`
	Copy        *struct {
		From string `yaml:"from"`
	} `yaml:"copy"`
}

// Parse reads one Panther-format schema from YAML. Unknown keys, unknown
// types, time formats and indicators are errors, so a schema that asks for
// something this engine does not do fails at start-up, not per event.
func Parse(src []byte) (*Schema, error) {
	dec := yaml.NewDecoder(bytes.NewReader(src))
	dec.KnownFields(true)
	var y yamlSchema
	if err := dec.Decode(&y); err != nil {
		return nil, fmt.Errorf("decode schema YAML: %w", err)
	}
	if y.Schema == "" {
		return nil, errors.New("schema has no name: set the top-level 'schema' key")
	}
	if y.Version != 0 {
		return nil, fmt.Errorf("schema %s: version %d is not supported, only version 0", y.Schema, y.Version)
	}
	if y.Parser != nil && y.Parser.Native == nil {
		return nil, fmt.Errorf("schema %s: only JSON events are supported, so parser may only be 'native'", y.Schema)
	}
	if len(y.Fields) == 0 {
		return nil, fmt.Errorf("schema %s has no fields", y.Schema)
	}
	s := &Schema{
		Name:         y.Schema,
		Description:  y.Description,
		ReferenceURL: y.ReferenceURL,
		quotedName:   AppendQuoted(nil, []byte(y.Schema)),
	}
	fields, err := convertFields(y.Fields, "")
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", y.Schema, err)
	}
	s.Fields = fields
	c := compiler{}
	if err := c.object(&s.root, fields, ""); err != nil {
		return nil, fmt.Errorf("schema %s: %w", y.Schema, err)
	}
	return s, nil
}

// ParseFile reads a schema from a YAML file.
func ParseFile(path string) (*Schema, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read schema file: %w", err)
	}
	s, err := Parse(src)
	if err != nil {
		return nil, fmt.Errorf("schema file %s: %w", path, err)
	}
	return s, nil
}

func convertFields(in []*yamlField, prefix string) ([]*Field, error) {
	out := make([]*Field, 0, len(in))
	for _, yf := range in {
		if yf == nil || yf.Name == "" {
			return nil, fmt.Errorf("a field under %q has no name", orRoot(prefix))
		}
		path := joinPath(prefix, yf.Name)
		v, err := convertValue(&yf.yamlValue, path)
		if err != nil {
			return nil, err
		}
		f := &Field{Name: yf.Name, Required: yf.Required, Description: yf.Description, Value: *v}
		if yf.Copy != nil {
			if yf.Copy.From == "" {
				return nil, fmt.Errorf("field %q: copy needs 'from'", path)
			}
			f.CopyFrom = yf.Copy.From
		}
		out = append(out, f)
	}
	return out, nil
}

func convertValue(y *yamlValue, path string) (*Value, error) {
	v := &Value{Type: y.Type, IsEventTime: y.IsEventTime, Indicators: y.Indicators}
	switch {
	case y.TimeFormat != "" && len(y.TimeFormats) > 0:
		return nil, fmt.Errorf("field %q: set timeFormat or timeFormats, not both", path)
	case y.TimeFormat != "":
		v.TimeFormats = []string{y.TimeFormat}
	default:
		v.TimeFormats = y.TimeFormats
	}
	if len(y.Fields) > 0 {
		fs, err := convertFields(y.Fields, path)
		if err != nil {
			return nil, err
		}
		v.Fields = fs
	}
	if y.Element != nil {
		e, err := convertValue(y.Element, path+"[]")
		if err != nil {
			return nil, err
		}
		v.Element = e
	}
	return v, nil
}

func orRoot(p string) string {
	if p == "" {
		return "(top level)"
	}
	return p
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// valueType is the compiled form of Value.Type.
type valueType uint8

const (
	typeString valueType = iota + 1
	typeInt
	typeBigint
	typeFloat
	typeBoolean
	typeTimestamp
	typeObject
	typeArray
	typeJSON
)

var typeNames = map[string]valueType{
	"string": typeString, "int": typeInt, "bigint": typeBigint, "float": typeFloat,
	"boolean": typeBoolean, "timestamp": typeTimestamp, "object": typeObject,
	"array": typeArray, "json": typeJSON,
}

// valuePlan is a Value compiled for the normalizer.
type valuePlan struct {
	typ        valueType
	formats    []*timeFormat
	indicators []indicator
	// eventTimeRank is 1 + the position of this timestamp among the
	// schema's isEventTime fields, or 0.
	eventTimeRank int
	fields        []*fieldPlan
	byName        map[string]int
	elem          *valuePlan
	// describe completes "is not ..." for timestamps.
	describe string
	// checks is set on objects with required or copied fields.
	checks bool
}

// fieldPlan is a Field compiled for the normalizer.
type fieldPlan struct {
	name     string
	key      []byte // `"name":`
	required bool
	copyFrom []string
	valuePlan
}

type compiler struct {
	eventTimes int
}

func (c *compiler) object(p *valuePlan, fields []*Field, path string) error {
	p.typ = typeObject
	p.byName = make(map[string]int, len(fields))
	for _, f := range fields {
		fpath := joinPath(path, f.Name)
		if _, dup := p.byName[f.Name]; dup {
			return fmt.Errorf("field %q is declared twice", fpath)
		}
		if strings.HasPrefix(f.Name, "p_") && path == "" {
			return fmt.Errorf("field %q: names starting with p_ are kept for Panther's standard fields", fpath)
		}
		fp := &fieldPlan{name: f.Name, required: f.Required}
		fp.key = append(AppendQuoted(nil, []byte(f.Name)), ':')
		if f.CopyFrom != "" {
			fp.copyFrom = strings.Split(f.CopyFrom, ".")
		}
		if err := c.value(&fp.valuePlan, &f.Value, fpath, true); err != nil {
			return err
		}
		p.checks = p.checks || fp.required || fp.copyFrom != nil
		p.byName[f.Name] = len(p.fields)
		p.fields = append(p.fields, fp)
	}
	return nil
}

func (c *compiler) value(p *valuePlan, v *Value, path string, named bool) error {
	t, ok := typeNames[v.Type]
	if !ok {
		if v.Type == "" {
			return fmt.Errorf("field %q has no type", path)
		}
		return fmt.Errorf("field %q: unknown type %q: use string, int, bigint, float, boolean, timestamp, object, array or json", path, v.Type)
	}
	if t != typeTimestamp && (len(v.TimeFormats) > 0 || v.IsEventTime) {
		return fmt.Errorf("field %q: timeFormat and isEventTime only apply to timestamps", path)
	}
	if t != typeObject && len(v.Fields) > 0 {
		return fmt.Errorf("field %q: only objects have fields", path)
	}
	if t != typeArray && v.Element != nil {
		return fmt.Errorf("field %q: only arrays have an element", path)
	}
	if len(v.Indicators) > 0 && (t == typeObject || t == typeArray) {
		return fmt.Errorf("field %q: indicators apply to scalar and json values, not to an %s (put them on the fields or the element)", path, v.Type)
	}
	for _, name := range v.Indicators {
		ind, ok := indicatorNames[name]
		if !ok {
			return fmt.Errorf("field %q: unknown indicator %q: use one of %s", path, name, indicatorList())
		}
		p.indicators = append(p.indicators, ind)
	}
	switch t {
	case typeTimestamp:
		if len(v.TimeFormats) == 0 {
			return fmt.Errorf("field %q: a timestamp needs timeFormat", path)
		}
		descr := make([]string, 0, len(v.TimeFormats))
		for _, name := range v.TimeFormats {
			f, err := newTimeFormat(name)
			if err != nil {
				return fmt.Errorf("field %q: %w", path, err)
			}
			p.formats = append(p.formats, f)
			descr = append(descr, f.describe)
		}
		p.describe = strings.Join(descr, " or ")
		if v.IsEventTime {
			if !named {
				return fmt.Errorf("field %q: an array element cannot be the event time", path)
			}
			c.eventTimes++
			p.eventTimeRank = c.eventTimes
		}
	case typeObject:
		if len(v.Fields) == 0 {
			return fmt.Errorf("field %q: an object needs fields", path)
		}
		if err := c.object(p, v.Fields, path); err != nil {
			return err
		}
	case typeArray:
		if v.Element == nil {
			return fmt.Errorf("field %q: an array needs an element", path)
		}
		p.elem = &valuePlan{}
		if err := c.value(p.elem, v.Element, path+"[]", false); err != nil {
			return err
		}
	}
	p.typ = t
	return nil
}
