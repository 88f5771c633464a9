// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package parquet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// authEvent is an OCSF Authentication event as duo_ocsf writes one.
func authEvent(i int, time int64) map[string]any {
	var ev map[string]any
	raw := fmt.Sprintf(`{
  "class_uid": 3002, "class_name": "Authentication", "category_uid": 3, "category_name": "Identity & Access Management",
  "activity_id": 1, "activity_name": "Logon", "type_uid": 300201, "type_name": "Authentication: Logon",
  "severity_id": 1, "severity": "Informational", "status_id": 1, "status": "Success", "status_detail": "user_approved",
  "time": %d, "is_mfa": true,
  "metadata": {"version": "1.3.0", "uid": "txid-%d", "product": {"name": "Duo", "vendor_name": "Cisco", "feature": {"name": "authentication"}}},
  "user": {"name": "user%d", "uid": "DU%d", "groups": [{"name": "Admins"}, {"name": "VPN"}]},
  "service": {"name": "VPN", "uid": "DIAPP"},
  "src_endpoint": {"ip": "192.0.2.%d", "location": {"city": "Ann Arbor", "country": "US"}},
  "auth_factors": [{"factor_type_id": 5, "factor_type": "Push Notification", "phone_number": "+1555010%d"}],
  "unmapped": {"trusted_endpoint_status": "not trusted", "ood_software": null}
}`, time, i, i, i, i%250, i%10)
	if err := json.Unmarshal([]byte(raw), &ev); err != nil {
		panic(err)
	}
	return ev
}

// readBack opens a Parquet object with Apache Arrow's reader, an
// implementation independent of the writer's, and returns its rows as JSON
// objects.
func readBack(t *testing.T, obj []byte) (*file.Reader, []map[string]any) {
	t.Helper()
	r, err := file.NewParquetReader(bytes.NewReader(obj))
	require.NoError(t, err)
	tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(obj), nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 1024)
	defer tr.Release()
	var rows []map[string]any
	for tr.Next() {
		raw, err := tr.RecordBatch().MarshalJSON()
		require.NoError(t, err)
		var batch []map[string]any
		require.NoError(t, json.Unmarshal(raw, &batch))
		rows = append(rows, batch...)
	}
	return r, rows
}

func TestEncodeReadBackIndependently(t *testing.T) {
	var rows []Row
	times := []int64{1764600000300, 1764600000100, 1764600000200}
	for i := range 3000 {
		r, err := Prepare(3002, authEvent(i, times[i%3]+int64(i)))
		require.NoError(t, err)
		rows = append(rows, r)
	}
	var buf bytes.Buffer
	require.NoError(t, Encode(&buf, 3002, rows))

	r, got := readBack(t, buf.Bytes())
	require.Len(t, got, 3000)
	assert.EqualValues(t, 3000, r.NumRows())
	for i := 1; i < len(got); i++ {
		require.LessOrEqual(t, got[i-1]["time"].(float64), got[i]["time"].(float64), "rows in time order at %d", i)
	}
	first := got[0]
	assert.EqualValues(t, 3002, first["class_uid"])
	assert.Equal(t, "Authentication: Logon", first["type_name"])
	assert.Equal(t, true, first["is_mfa"])
	user := first["user"].(map[string]any)
	assert.Equal(t, "user1", user["name"], "the earliest event comes first")
	assert.Len(t, user["groups"], 2)
	src := first["src_endpoint"].(map[string]any)
	assert.Equal(t, "US", src["location"].(map[string]any)["country"])
	assert.Equal(t, "Cisco", first["metadata"].(map[string]any)["product"].(map[string]any)["vendor_name"])
	// unmapped is free-form: one column of JSON text, nulls dropped.
	assert.JSONEq(t, `{"trusted_endpoint_status":"not trusted","ood_software":null}`, first["unmapped"].(string))

	// Every column zstd, every data page at most 1 MB uncompressed.
	md := r.MetaData()
	dataPages := 0
	for g := range md.NumRowGroups() {
		rg := md.RowGroup(g)
		for c := range rg.NumColumns() {
			cc, err := rg.ColumnChunk(c)
			require.NoError(t, err)
			assert.Equal(t, compress.Codecs.Zstd, cc.Compression(), "column %s", cc.PathInSchema())
			for _, enc := range cc.Encodings() {
				assert.NotContains(t, []parquet.Encoding{parquet.Encodings.DeltaLengthByteArray, parquet.Encodings.DeltaByteArray}, enc, "column %s", cc.PathInSchema())
			}
			pages, err := r.RowGroup(g).GetColumnPageReader(c)
			require.NoError(t, err)
			for pages.Next() {
				if dp, ok := pages.Page().(file.DataPage); ok {
					_, v1 := dp.(*file.DataPageV1)
					assert.True(t, v1, "column %s: a version 1 data page", cc.PathInSchema())
					dataPages++
					assert.LessOrEqual(t, dp.UncompressedSize(), int32(1<<20), "column %s", cc.PathInSchema())
				}
			}
			require.NoError(t, pages.Err())
		}
	}
	assert.Greater(t, dataPages, 1000, "pages of every column were read")
}

// TestEncodeSameColumnsWhateverTheEvents checks that two objects of one
// class have the same schema however different their events are.
func TestEncodeSameColumnsWhateverTheEvents(t *testing.T) {
	full, err := Prepare(3002, authEvent(1, 1764600000000))
	require.NoError(t, err)
	bare, err := Prepare(3002, map[string]any{"class_uid": 3002.0, "time": 1764600000000.0, "activity_id": 1.0})
	require.NoError(t, err)
	var a, b bytes.Buffer
	require.NoError(t, Encode(&a, 3002, []Row{full}))
	require.NoError(t, Encode(&b, 3002, []Row{bare}))
	ra, _ := readBack(t, a.Bytes())
	rb, _ := readBack(t, b.Bytes())
	assert.Equal(t, ra.MetaData().Schema.String(), rb.MetaData().Schema.String())
	assert.Greater(t, ra.MetaData().Schema.NumColumns(), 1000, "the whole class, not just what the events carry")
}

func TestPrepareErrors(t *testing.T) {
	base := func(mod func(map[string]any)) map[string]any {
		ev := authEvent(1, 1764600000000)
		mod(ev)
		return ev
	}
	for _, tc := range []struct {
		name    string
		uid     int
		event   map[string]any
		wantErr string
	}{
		{"unknown class", 4001, base(func(map[string]any) {}), "OCSF class 4001 has no Parquet columns"},
		{"another class", 3004, base(func(map[string]any) {}), "class_uid: 3002, not 3004"},
		{"no time", 3002, base(func(e map[string]any) { delete(e, "time") }), "time: missing"},
		{"unknown attribute", 3002, base(func(e map[string]any) { e["src_endpoint"].(map[string]any)["port_name"] = "x" }), "src_endpoint.port_name: not an attribute of"},
		{"wrong type", 3002, base(func(e map[string]any) { e["is_mfa"] = "yes" }), "is_mfa: want a boolean, got string"},
		{"fraction for an integer", 3002, base(func(e map[string]any) { e["severity_id"] = 1.5 }), "severity_id: 1.5 is not a whole number"},
		{"object for a list", 3002, base(func(e map[string]any) { e["auth_factors"] = map[string]any{} }), "auth_factors: want an array"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Prepare(tc.uid, tc.event)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func BenchmarkEncode(b *testing.B) {
	rows := make([]Row, 1000)
	for i := range rows {
		var err error
		if rows[i], err = Prepare(3002, authEvent(i, 1764600000000+int64(i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		var buf bytes.Buffer
		if err := Encode(&buf, 3002, rows); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(rows))/b.Elapsed().Seconds(), "events/s")
}
