// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package parquet

import (
	"encoding/json"
	"flag"
	"os"
	"sort"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/ocsf"
)

var update = flag.Bool("update", false, "write columns-1.3.0.json from the compiled schema")

// writtenClasses are the classes duo_ocsf maps Duo events to.
var writtenClasses = []int{2004, 3001, 3002, 3004}

// deriveColumns builds the columns of the written classes from the
// compiled schema: objects below Depth, free-form objects (no attributes)
// and json_t become JSON columns, as do objects already on the path (OCSF's
// objects refer to each other in cycles).
func deriveColumns(t *testing.T, s *ocsf.Schema) *Columns {
	t.Helper()
	kindOf := map[string]Kind{"integer_t": Int32, "long_t": Int64, "float_t": Double, "boolean_t": Boolean, "json_t": JSON}
	var group func(name string, attrs map[string]*ocsf.Attribute, depth int, onPath map[string]bool) *Column
	group = func(name string, attrs map[string]*ocsf.Attribute, depth int, onPath map[string]bool) *Column {
		c := &Column{Name: name, Kind: Group}
		for attr, a := range attrs {
			col := &Column{Name: attr, Repeated: a.IsArray, Kind: String}
			obj, isObject := s.Object(a.ObjectType)
			switch {
			case a.Type != ocsf.ObjectT:
				if k, ok := kindOf[a.BaseType]; ok {
					col.Kind = k
				}
			case !isObject || len(obj.Attributes) == 0 || depth >= Depth || onPath[a.ObjectType]:
				col.Kind = JSON
			default:
				onPath[a.ObjectType] = true
				col.Kind, col.Children = Group, group(attr, obj.Attributes, depth+1, onPath).Children
				delete(onPath, a.ObjectType)
			}
			c.Children = append(c.Children, col)
		}
		sort.Slice(c.Children, func(i, j int) bool { return c.Children[i].Name < c.Children[j].Name })
		return c
	}
	out := &Columns{Version: s.Version(), Depth: Depth, Classes: map[string]*Column{}}
	for _, uid := range writtenClasses {
		class, ok := s.Class(uid)
		require.True(t, ok, "class %d is in the schema", uid)
		out.Classes[strconv.Itoa(uid)] = group(class.Name, class.Attributes, 0, map[string]bool{})
	}
	return out
}

// TestColumnsCurrent fails while columns-1.3.0.json differs from what the
// compiled schema gives; go test -run TestColumnsCurrent -update rewrites it.
func TestColumnsCurrent(t *testing.T) {
	s, err := ocsf.LoadSchema("../testdata/schema-1.3.0.json")
	require.NoError(t, err)
	require.Equal(t, "1.3.0", s.Version())
	want, err := json.Marshal(deriveColumns(t, s))
	require.NoError(t, err)
	want = append(want, '\n')
	if *update {
		require.NoError(t, os.WriteFile("columns-1.3.0.json", want, 0o644))
	}
	assert.Equal(t, string(want), string(columnsJSON), "columns-1.3.0.json is stale: go test ./ocsf/parquet -run TestColumnsCurrent -update")
}
