// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package config

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/ocsf"
	"github.com/duostream/duostream/processor"
)

// securityLakeSources are the pipeline's default source names by class.
var securityLakeSources = map[string]int{"duo-authn": 3002, "duo-account": 3001, "duo-entity": 3004, "duo-detect": 2004}

// securityLakeKey is the layout Security Lake asks of a custom source's
// objects.
var securityLakeKey = regexp.MustCompile(`^ext/(duo-[a-z]+)/region=us-east-1/accountId=123456789012/eventDay=(\d{8})/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.parquet$`)

// ocsfExpectation is what duo_ocsf makes of the fixture's events: the
// event IDs (metadata.uid) of each class, and how many are telephony or
// cannot be mapped.
type ocsfExpectation struct {
	uids               map[int][]string
	unmapped, rejected int
}

func expectOCSF(t *testing.T, f *fixture) ocsfExpectation {
	t.Helper()
	conf, err := processor.DuoOCSFSpec().ParseYAML("{}", nil)
	require.NoError(t, err)
	p, err := processor.NewDuoOCSF(conf, service.MockResources())
	require.NoError(t, err)
	want := ocsfExpectation{uids: map[int][]string{}}
	for _, lt := range duoapi.AllLogTypes {
		evs := f.sim.Events(lt, f.from, f.to)
		batch := make(service.MessageBatch, len(evs))
		for i, ev := range evs {
			batch[i] = service.NewMessage(ev.Body)
			batch[i].MetaSetMut("duo_log_type", lt.SchemaName())
			batch[i].MetaSetMut("duo_api_hostname", f.sim.APIHost())
		}
		out, err := p.ProcessBatch(t.Context(), batch)
		require.NoError(t, err)
		for _, m := range out[0] {
			if m.GetError() != nil {
				want.rejected++
				continue
			}
			class, ok := m.MetaGet(processor.MetaOCSFClassUID)
			if !ok {
				want.unmapped++
				continue
			}
			uid, err := strconv.Atoi(class)
			require.NoError(t, err)
			s, err := m.AsStructured()
			require.NoError(t, err)
			want.uids[uid] = append(want.uids[uid], s.(map[string]any)["metadata"].(map[string]any)["uid"].(string))
		}
	}
	for _, ids := range want.uids {
		slices.Sort(ids)
	}
	return want
}

// withoutNulls drops the null attributes a Parquet reader gives for every
// column an event lacks, recursively, so the event reads as it was written.
func withoutNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if e = withoutNulls(e); e != nil {
				out[k] = e
			}
		}
		return out
	case []any:
		for i := range x {
			x[i] = withoutNulls(x[i])
		}
	}
	return v
}

// parquetRows reads a Parquet object with Apache Arrow's reader and returns
// its rows as JSON objects. Columns of JSON text (unmapped, objects deeper
// than the columns go) are decoded back into the objects they hold.
func parquetRows(t *testing.T, obj []byte) []map[string]any {
	t.Helper()
	tbl, err := pqarrow.ReadTable(context.Background(), bytes.NewReader(obj), nil, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	require.NoError(t, err)
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 4096)
	defer tr.Release()
	var rows []map[string]any
	for tr.Next() {
		raw, err := tr.RecordBatch().MarshalJSON()
		require.NoError(t, err)
		var batch []map[string]any
		require.NoError(t, json.Unmarshal(raw, &batch))
		for _, r := range batch {
			row := withoutNulls(r).(map[string]any)
			if u, ok := row["unmapped"].(string); ok {
				var m any
				require.NoError(t, json.Unmarshal([]byte(u), &m))
				row["unmapped"] = m
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// TestDuoToSecurityLake runs the Security Lake pipeline on the simulator's
// six log types into an S3 gateway (versitygw in CI), lists the objects,
// reads each back with an independent Parquet reader and validates every
// row against the OCSF 1.3.0 schema: one class per object, in the source's
// prefix and the day of its events, every mapped event once, telephony and
// dead letters in their own bucket.
func TestDuoToSecurityLake(t *testing.T) {
	lake := newS3Store(t)
	dlq := *lake
	dlq.bucket = lake.bucket + "-dlq"
	_, err := lake.client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(dlq.bucket)})
	require.NoError(t, err)
	f := newFixture(t, 15)
	want := expectOCSF(t, f)
	schema, err := ocsf.LoadSchema("../ocsf/testdata/schema-1.3.0.json")
	require.NoError(t, err)

	env := f.env(t)
	env["SL_BUCKET"] = lake.bucket
	env["SL_REGION"] = "us-east-1"
	env["SL_ACCOUNT_ID"] = "123456789012"
	env["DEAD_LETTER_BUCKET"] = dlq.bucket
	env["SL_FLUSH_PERIOD"] = "1s"
	env["S3_ENDPOINT"] = lake.endpoint
	env["S3_FORCE_PATH_STYLE"] = "true"
	env["S3_ACCESS_KEY_ID"] = lake.accessKey
	env["S3_SECRET_ACCESS_KEY"] = lake.secretKey

	total := 0
	for _, ids := range want.uids {
		total += len(ids)
	}
	type object struct {
		key  string
		body []byte
	}
	read := func(st *s3Store) []object {
		var out []object
		p := s3.NewListObjectsV2Paginator(st.client, &s3.ListObjectsV2Input{Bucket: aws.String(st.bucket)})
		for p.HasMorePages() {
			page, err := p.NextPage(t.Context())
			require.NoError(t, err)
			for _, o := range page.Contents {
				got, err := st.client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(st.bucket), Key: o.Key})
				require.NoError(t, err)
				body, err := io.ReadAll(got.Body)
				require.NoError(t, err)
				got.Body.Close()
				out = append(out, object{key: *o.Key, body: body})
			}
		}
		return out
	}
	rowsIn := func(objs []object) int {
		n := 0
		for _, o := range objs {
			if securityLakeKey.MatchString(o.key) {
				n += len(parquetRows(t, o.body))
			}
		}
		return n
	}
	stop, done := runPipeline(t, "duo-to-security-lake.yaml", env)
	var objects []object
	waitFor(t, done, "every mapped event in Security Lake", func() (bool, string) {
		objects = read(lake)
		n := rowsIn(objects)
		return n >= total, fmt.Sprintf("%d objects, %d of %d events", len(objects), n, total)
	})
	stop()
	objects = read(lake)

	got := map[int][]string{}
	problems := 0
	for _, o := range objects {
		m := securityLakeKey.FindStringSubmatch(o.key)
		require.NotNil(t, m, "object %s is not in a custom source's partition layout", o.key)
		class := securityLakeSources[m[1]]
		require.NotZero(t, class, "object %s: unknown source", o.key)
		rows := parquetRows(t, o.body)
		require.NotEmpty(t, rows, o.key)
		var last float64
		for i, row := range rows {
			assert.EqualValues(t, class, row["class_uid"], "%s row %d: one class per object", o.key, i)
			ms := row["time"].(float64)
			assert.Equal(t, m[2], time.UnixMilli(int64(ms)).UTC().Format("20060102"), "%s row %d: in its event day", o.key, i)
			assert.GreaterOrEqual(t, ms, last, "%s row %d: rows in time order", o.key, i)
			last = ms
			for _, p := range schema.Validate(row) {
				problems++
				if problems <= 10 {
					t.Errorf("%s row %d: %s", o.key, i, p)
				}
			}
			got[class] = append(got[class], row["metadata"].(map[string]any)["uid"].(string))
		}
	}
	assert.Zero(t, problems, "every row read back is valid OCSF 1.3.0")
	for class := range want.uids {
		slices.Sort(got[class])
		assert.Equal(t, want.uids[class], got[class], "class %d: every mapped event once", class)
	}
	assert.Len(t, got, len(want.uids), "the classes written")

	// Telephony and the events duo_ocsf refuses, in the other bucket.
	lines := map[string]int{}
	for _, o := range read(&dlq) {
		zr, err := gzip.NewReader(bytes.NewReader(o.body))
		require.NoError(t, err, o.key)
		sc := bufio.NewScanner(zr)
		sc.Buffer(nil, 1<<20)
		kind := regexp.MustCompile(`^duostream/(unmapped|dead-letter)/`).FindStringSubmatch(o.key)
		require.NotNil(t, kind, o.key)
		for sc.Scan() {
			lines[kind[1]]++
		}
		require.NoError(t, sc.Err())
	}
	assert.Equal(t, want.unmapped, lines["unmapped"], "telephony, untouched")
	assert.Equal(t, want.rejected, lines["dead-letter"], "events duo_ocsf refuses")
	t.Logf("%d objects, %d events of %d classes valid; %d unmapped, %d dead letters", len(objects), total, len(got), want.unmapped, want.rejected)
}
