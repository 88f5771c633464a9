// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ocsfEvent is a small valid OCSF event of class at time ms.
func ocsfEvent(class int, ms int64, user string) *service.Message {
	activity := 1
	return service.NewMessage(fmt.Appendf(nil, `{"class_uid":%d,"category_uid":3,"activity_id":%d,"type_uid":%d,"severity_id":1,"time":%d,"metadata":{"version":"1.3.0","product":{"name":"Duo","vendor_name":"Cisco"}},"user":{"name":%q}}`,
		class, activity, class*100+activity, ms, user))
}

// TestOCSFParquetEncodeSplitsByClassAndDay encodes a batch mixing two
// classes, two days and events that cannot be encoded, and reads the
// objects back with Apache Arrow's reader.
func TestOCSFParquetEncodeSplitsByClassAndDay(t *testing.T) {
	day1 := int64(1764547200000) // 2025-12-01T00:00:00Z
	day2 := day1 + 86_400_000
	batch := service.MessageBatch{
		ocsfEvent(3002, day1+300, "c"),
		ocsfEvent(3002, day1+100, "a"),
		ocsfEvent(3001, day1+50, "x"),
		ocsfEvent(3002, day2+1, "d"),
		service.NewMessage([]byte(`not json`)),
		service.NewMessage([]byte(`{"class_uid":3002,"time":1764547200000,"src_endpoint":{"port_name":"x"}}`)),
		service.NewMessage([]byte(`{"class_uid":6003,"time":1764547200000}`)),
		ocsfEvent(3002, day1+200, "b"),
	}
	batch[0].MetaSetMut("duo_log_type", "Duo.Authentication")
	out, err := ocsfParquetEncoder{}.ProcessBatch(context.Background(), batch)
	require.NoError(t, err)
	require.Len(t, out, 1)

	var failed []string
	objects := map[string][]string{}
	for _, m := range out[0] {
		if err := m.GetError(); err != nil {
			failed = append(failed, err.Error())
			continue
		}
		class, _ := m.MetaGet(MetaOCSFClassUID)
		day, _ := m.MetaGet(MetaOCSFEventDay)
		count, _ := m.MetaGet(MetaOCSFEventCount)
		raw, err := m.AsBytes()
		require.NoError(t, err)
		tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(raw), nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
		require.NoError(t, err, "object %s/%s opens in an independent reader", class, day)
		assert.Equal(t, count, fmt.Sprint(tbl.NumRows()))
		col := tbl.Column(tbl.Schema().FieldIndices("user")[0])
		var users []string
		for _, chunk := range col.Data().Chunks() {
			raw, err := chunk.MarshalJSON()
			require.NoError(t, err)
			var rows []struct{ Name string }
			require.NoError(t, json.Unmarshal(raw, &rows))
			for _, r := range rows {
				users = append(users, r.Name)
			}
		}
		objects[class+"/"+day] = users
		tbl.Release()
	}
	assert.Equal(t, map[string][]string{
		"3002/20251201": {"a", "b", "c"},
		"3002/20251202": {"d"},
		"3001/20251201": {"x"},
	}, objects, "one object per class and day, rows in time order")
	assert.Len(t, failed, 3)
	assert.Contains(t, failed[0], "not a JSON object")
	assert.Contains(t, failed[1], "src_endpoint.port_name: not an attribute of")
	assert.Contains(t, failed[2], "OCSF class 6003 has no Parquet columns")
	first := out[0][len(out[0])-2] // after the failed, 3001, then 3002 by day
	lt, _ := first.MetaGet("duo_log_type")
	assert.Equal(t, "Duo.Authentication", lt, "an object keeps its first event's metadata")
}
