// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Package parquet writes OCSF events of one class as a Parquet object whose
// columns come from the class in the compiled OCSF schema, so that every
// object of a class has the same columns whatever attributes its events
// carry, as Amazon Security Lake and other data lakes need.
//
// The columns of each class are data (columns-1.3.0.json), derived from the
// compiled schema by TestColumnsCurrent, which fails while the file differs
// from what the schema gives. Objects nest up to Depth levels below the
// event; an object deeper than that, and the free-form attributes (json_t,
// unmapped), are one column holding the JSON text.
package parquet

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"

	pq "github.com/parquet-go/parquet-go"
)

// Depth is how many levels of objects below the event get columns of their
// own.
const Depth = 3

// Kind is the Parquet type of a column.
type Kind string

// The kinds of columns.
const (
	String  Kind = "string"  // UTF-8 text
	Int32   Kind = "int32"   // integer_t, port_t
	Int64   Kind = "int64"   // long_t, timestamp_t (milliseconds)
	Double  Kind = "double"  // float_t
	Boolean Kind = "boolean" // boolean_t
	JSON    Kind = "json"    // json_t, free-form and too deep objects: JSON text, in a string column
	Group   Kind = "group"   // an object, with Children
)

// Column is one attribute of a class or object, as a Parquet column or
// group of columns.
type Column struct {
	Name     string    `json:"name"`
	Kind     Kind      `json:"kind"`
	Repeated bool      `json:"repeated,omitempty"`
	Children []*Column `json:"children,omitempty"`
}

// Columns is what columns-<version>.json holds: the columns of each class
// duostream writes, by class_uid.
type Columns struct {
	Version string             `json:"version"`
	Depth   int                `json:"depth"`
	Classes map[string]*Column `json:"classes"`
}

//go:embed columns-1.3.0.json
var columnsJSON []byte

var (
	loadOnce sync.Once
	loaded   *Columns
	loadErr  error
	schemas  sync.Map // class uid → *pq.Schema
)

// ClassColumns returns the columns of the OCSF class uid, and false when
// duostream writes no such class.
func ClassColumns(uid int) (*Column, bool) {
	loadOnce.Do(func() {
		loaded = &Columns{}
		loadErr = json.Unmarshal(columnsJSON, loaded)
	})
	if loadErr != nil {
		panic(fmt.Sprintf("ocsf parquet: embedded columns-1.3.0.json: %v", loadErr))
	}
	c, ok := loaded.Classes[strconv.Itoa(uid)]
	return c, ok
}

// Classes returns the class uids that have columns, in increasing order.
func Classes() []int {
	ClassColumns(0)
	uids := make([]int, 0, len(loaded.Classes))
	for k := range loaded.Classes {
		uid, _ := strconv.Atoi(k)
		uids = append(uids, uid)
	}
	sort.Ints(uids)
	return uids
}

// schemaOf returns the Parquet schema of class uid.
func schemaOf(uid int) (*pq.Schema, *Column, error) {
	c, ok := ClassColumns(uid)
	if !ok {
		return nil, nil, fmt.Errorf("OCSF class %d has no Parquet columns: duostream writes classes %v", uid, Classes())
	}
	if s, ok := schemas.Load(uid); ok {
		return s.(*pq.Schema), c, nil
	}
	s := pq.NewSchema(c.Name, group(c))
	schemas.Store(uid, s)
	return s, c, nil
}

// group returns the Parquet group of c's children.
func group(c *Column) pq.Group {
	g := pq.Group{}
	for _, child := range c.Children {
		g[child.Name] = node(child)
	}
	return g
}

// node returns the Parquet node of c: every column is optional, as OCSF
// requires so little that most attributes are absent from most events.
func node(c *Column) pq.Node {
	var n pq.Node
	switch c.Kind {
	case Group:
		n = group(c)
	case Int32:
		n = pq.Int(32)
	case Int64:
		n = pq.Int(64)
	case Double:
		n = pq.Leaf(pq.DoubleType)
	case Boolean:
		n = pq.Leaf(pq.BooleanType)
	default:
		// JSON columns too: every reader takes a UTF-8 string as text,
		// where some (Arrow, for one) read Parquet's JSON type as bytes.
		n = pq.String()
	}
	if c.Repeated {
		return pq.Optional(pq.List(n))
	}
	return pq.Optional(n)
}
