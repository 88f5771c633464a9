// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package parquet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"

	pq "github.com/parquet-go/parquet-go"
)

// PageSize bounds the uncompressed data pages, as Security Lake asks (at
// most 1 MB).
const PageSize = 256 << 10

// Row is one event prepared for a class's columns: Encode writes rows, and
// Prepare makes them, so that a caller can tell which events do not fit
// before writing the others.
type Row struct {
	// Time is the event's time, in milliseconds; rows are written in its
	// order.
	Time  int64
	value map[string]any
}

// Prepare checks that event fits the columns of class uid and returns its
// row. An attribute the class has no column for, or a value of the wrong
// type, is an error naming the attribute.
func Prepare(uid int, event map[string]any) (Row, error) {
	_, c, err := schemaOf(uid)
	if err != nil {
		return Row{}, err
	}
	if got, err := wholeNumber(event["class_uid"]); err != nil || got != int64(uid) {
		return Row{}, fmt.Errorf("class_uid: %v, not %d", event["class_uid"], uid)
	}
	t, err := wholeNumber(event["time"])
	if err != nil {
		return Row{}, fmt.Errorf("time: %w", err)
	}
	v, err := shapeGroup(c, event, "")
	if err != nil {
		return Row{}, err
	}
	return Row{Time: t, value: v}, nil
}

// Encode writes rows of class uid to w as one Parquet object, in time order:
// zstd compressed, version 1 data pages of at most PageSize bytes before
// compression, strings plain encoded.
func Encode(w io.Writer, uid int, rows []Row) error {
	schema, _, err := schemaOf(uid)
	if err != nil {
		return err
	}
	sorted := make([]Row, len(rows))
	copy(sorted, rows)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Time < sorted[j].Time })
	values := make([]map[string]any, len(sorted))
	for i, r := range sorted {
		values[i] = r.value
	}
	pw := pq.NewGenericWriter[map[string]any](w, schema,
		pq.Compression(&pq.Zstd),
		pq.PageBufferSize(PageSize),
		// Version 1 data pages and plain strings, which every reader
		// takes (older Spark and Hive readers lack the delta encodings
		// parquet-go picks by default).
		pq.DataPageVersion(1),
		pq.DefaultEncodingFor(pq.ByteArray, &pq.Plain),
		pq.CreatedBy("duostream", "", ""),
	)
	if err := write(pw, values); err != nil {
		return fmt.Errorf("write parquet rows of OCSF class %d: %w", uid, err)
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("finish parquet object of OCSF class %d: %w", uid, err)
	}
	return nil
}

// write writes values, turning a panic of the writer (which it raises when
// a value does not match the schema; Prepare should have made that
// impossible) into an error.
func write(pw *pq.GenericWriter[map[string]any], values []map[string]any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parquet writer: %v", r)
		}
	}()
	_, err = pw.Write(values)
	return err
}

// shapeGroup returns the value of object v for the columns of group c.
func shapeGroup(c *Column, v map[string]any, path string) (map[string]any, error) {
	out := make(map[string]any, len(v))
	for name, val := range v {
		child := c.child(name)
		p := join(path, name)
		if child == nil {
			return nil, fmt.Errorf("%s: not an attribute of %s in OCSF 1.3.0", p, c.Name)
		}
		if val == nil {
			continue
		}
		shaped, err := shape(child, val, p)
		if err != nil {
			return nil, err
		}
		out[name] = shaped
	}
	return out, nil
}

// shape returns val converted for column c, which may be repeated.
func shape(c *Column, val any, path string) (any, error) {
	if !c.Repeated || c.Kind == JSON && !isList(val) {
		return shapeOne(c, val, path)
	}
	list, ok := val.([]any)
	if !ok {
		return nil, fmt.Errorf("%s: want an array, got %T", path, val)
	}
	out := make([]any, 0, len(list))
	for i, el := range list {
		if el == nil {
			continue // a null element says nothing
		}
		s, err := shapeOne(c, el, fmt.Sprintf("%s[%d]", path, i))
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func isList(v any) bool { _, ok := v.([]any); return ok }

// shapeOne converts one value for column c.
func shapeOne(c *Column, val any, path string) (any, error) {
	switch c.Kind {
	case Group:
		m, ok := val.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s: want an object, got %T", path, val)
		}
		return shapeGroup(c, m, path)
	case JSON:
		b, err := json.Marshal(val)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return string(b), nil
	case String:
		s, ok := val.(string)
		if !ok {
			return nil, fmt.Errorf("%s: want a string, got %T", path, val)
		}
		return s, nil
	case Boolean:
		b, ok := val.(bool)
		if !ok {
			return nil, fmt.Errorf("%s: want a boolean, got %T", path, val)
		}
		return b, nil
	case Double:
		switch n := val.(type) {
		case float64:
			return n, nil
		case json.Number:
			f, err := n.Float64()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return f, nil
		}
		if n, err := wholeNumber(val); err == nil {
			return float64(n), nil
		}
		return nil, fmt.Errorf("%s: want a number, got %T", path, val)
	case Int32:
		n, err := wholeNumber(val)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return nil, fmt.Errorf("%s: %d does not fit a 32-bit integer", path, n)
		}
		return int32(n), nil
	case Int64:
		n, err := wholeNumber(val)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return n, nil
	}
	return nil, fmt.Errorf("%s: column kind %q", path, c.Kind)
}

// wholeNumber returns v as an integer: a whole JSON number.
func wholeNumber(v any) (int64, error) {
	switch n := v.(type) {
	case int:
		return int64(n), nil
	case int32:
		return int64(n), nil
	case int64:
		return n, nil
	case float64:
		if n != math.Trunc(n) || math.Abs(n) > 1<<53 {
			return 0, fmt.Errorf("%v is not a whole number", n)
		}
		return int64(n), nil
	case json.Number:
		return strconv.ParseInt(string(n), 10, 64)
	case nil:
		return 0, errors.New("missing")
	}
	return 0, fmt.Errorf("want a whole number, got %T", v)
}

// child returns c's column called name, or nil.
func (c *Column) child(name string) *Column {
	i := sort.Search(len(c.Children), func(i int) bool { return c.Children[i].Name >= name })
	if i < len(c.Children) && c.Children[i].Name == name {
		return c.Children[i]
	}
	return nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
