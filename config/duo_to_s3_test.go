// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package config

import (
	"bufio"
	"compress/gzip"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The environment variables below are printed by .ci/services/versitygw.sh.
const (
	envS3Endpoint  = "DUOSTREAM_TEST_S3_ENDPOINT"
	envS3AccessKey = "DUOSTREAM_TEST_S3_ACCESS_KEY"
	envS3SecretKey = "DUOSTREAM_TEST_S3_SECRET_KEY"
	envS3Bucket    = "DUOSTREAM_TEST_S3_BUCKET"
)

// s3Store is an S3-compatible server the test writes to and reads back.
type s3Store struct {
	endpoint, accessKey, secretKey, bucket string
	client                                 *s3.Client
}

// newS3Store returns a fresh bucket on the S3 gateway CI starts (versitygw,
// which checks SigV4 signatures) or, outside CI, on an in-process gofakes3
// server.
func newS3Store(t *testing.T) *s3Store {
	t.Helper()
	isolateAWSEnv(t)
	st := &s3Store{
		endpoint:  os.Getenv(envS3Endpoint),
		accessKey: os.Getenv(envS3AccessKey),
		secretKey: os.Getenv(envS3SecretKey),
	}
	if st.endpoint == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must start the S3 gateway with .ci/services/versitygw.sh", envS3Endpoint)
		}
		t.Logf("%s is not set: using an in-process gofakes3 server (run eval \"$(bash .ci/services/versitygw.sh)\" for a real gateway)", envS3Endpoint)
		srv := httptest.NewServer(gofakes3.New(s3mem.New()).Server())
		t.Cleanup(srv.Close)
		st.endpoint, st.accessKey, st.secretKey = srv.URL, "AKIDFAKE", "fake-secret"
	}
	require.NotEmpty(t, st.accessKey, envS3AccessKey)
	require.NotEmpty(t, st.secretKey, envS3SecretKey)
	st.client = s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(st.endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(st.accessKey, st.secretKey, ""),
	})

	// A bucket of its own, as the gateway outlives a single test.
	base := os.Getenv(envS3Bucket)
	if base == "" {
		base = "duostream"
	}
	st.bucket = base + "-e2e-" + strings.ToLower(rand.Text()[:10])
	_, err := st.client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(st.bucket)})
	var owned *s3types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		require.NoError(t, err, "create bucket %s", st.bucket)
	}
	return st
}

// isolateAWSEnv keeps the developer's or CI's AWS settings out of the test.
func isolateAWSEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(k, "")
		require.NoError(t, os.Unsetenv(k))
	}
}

// s3Object is one object read back: its key parts and gunzipped lines.
type s3Object struct {
	key         string
	deadLetter  bool
	logType     string
	hour        time.Time
	lines       [][]byte
	contentType string
	meta        map[string]string
}

// objectKey matches the keys the pipeline writes: an optional dead-letter/
// prefix, the log type, the UTC hour partition and a UUID.
var objectKey = regexp.MustCompile(`^(dead-letter/)?duo/(Duo\.[A-Za-z]+)/(year=\d{4}/month=\d{2}/day=\d{2}/hour=\d{2})/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\.json\.gz$`)

// objects lists, downloads and gunzips every object of the bucket.
func (st *s3Store) objects(t *testing.T) ([]s3Object, error) {
	var out []s3Object
	p := s3.NewListObjectsV2Paginator(st.client, &s3.ListObjectsV2Input{Bucket: aws.String(st.bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			return nil, fmt.Errorf("list s3://%s: %w", st.bucket, err)
		}
		for _, o := range page.Contents {
			obj, err := st.object(t, aws.ToString(o.Key))
			if err != nil {
				return nil, err
			}
			out = append(out, obj)
		}
	}
	return out, nil
}

func (st *s3Store) object(t *testing.T, key string) (s3Object, error) {
	obj := s3Object{key: key}
	m := objectKey.FindStringSubmatch(key)
	if m == nil {
		return obj, fmt.Errorf("object key %q does not follow the layout %s", key, objectKey)
	}
	obj.deadLetter, obj.logType = m[1] != "", m[2]
	hour, err := time.Parse("year=2006/month=01/day=02/hour=15", m[3])
	if err != nil {
		return obj, fmt.Errorf("object key %q: %w", key, err)
	}
	obj.hour = hour

	resp, err := st.client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(st.bucket), Key: aws.String(key)})
	if err != nil {
		return obj, fmt.Errorf("get %s: %w", key, err)
	}
	defer resp.Body.Close()
	obj.contentType, obj.meta = aws.ToString(resp.ContentType), resp.Metadata
	zr, err := gzip.NewReader(resp.Body)
	if err != nil {
		return obj, fmt.Errorf("object %s is not gzip: %w", key, err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		obj.lines = append(obj.lines, append([]byte(nil), sc.Bytes()...))
	}
	return obj, sc.Err()
}

// TestDuoToS3 runs duo-to-s3.yaml against the simulator and an S3-compatible
// server, then reads every object back.
func TestDuoToS3(t *testing.T) {
	st := newS3Store(t)
	f := newFixture(t, 12)

	const batchCount = v1PageSize
	env := f.env(t)
	env["S3_BUCKET"] = st.bucket
	env["S3_REGION"] = "us-east-1"
	env["S3_ENDPOINT"] = st.endpoint
	env["S3_FORCE_PATH_STYLE"] = "true"
	env["S3_ACCESS_KEY_ID"] = st.accessKey
	env["S3_SECRET_ACCESS_KEY"] = st.secretKey
	env["S3_BATCH_COUNT"] = fmt.Sprint(batchCount)
	env["S3_BATCH_PERIOD"] = "500ms"
	stop, done := runPipeline(t, "duo-to-s3.yaml", env)

	var objects []s3Object
	read := func() (bool, string) {
		var err error
		if objects, err = st.objects(t); err != nil {
			return false, err.Error()
		}
		events, dead := 0, 0
		for _, o := range objects {
			if o.deadLetter {
				dead += len(o.lines)
			} else {
				events += len(o.lines)
			}
		}
		return events >= f.total() && dead >= len(f.dead), fmt.Sprintf("%d objects, %d of %d events, %d of %d dead letters", len(objects), events, f.total(), dead, len(f.dead))
	}
	waitFor(t, done, "every event in S3", read)
	stop()
	// Read again after the stop: a batch flushed at shutdown must not add
	// events twice.
	ok, state := read()
	require.True(t, ok, state)

	d := newDelivery()
	written := time.Now().UTC().Truncate(time.Hour)
	perLogType := map[string]int{}
	for _, o := range objects {
		if !o.deadLetter {
			perLogType[o.logType]++
		}
		assert.Equal(t, "application/gzip", o.contentType, o.key)
		assert.Equal(t, o.logType, o.meta["duo_log_type"], "%s: the duo_ metadata is stored as object metadata", o.key)
		assert.True(t, !o.hour.Before(f.start.UTC().Truncate(time.Hour)) && !o.hour.After(written), "%s: partitioned by the hour it was written", o.key)
		assert.NotEmpty(t, o.lines, o.key)
		if o.logType == "Duo.Administrator" && !o.deadLetter {
			// Pages of at most 25 events, and a batch closes once it holds
			// 25: no administrator object can hold two full pages.
			assert.Less(t, len(o.lines), 2*batchCount, "%s: one object holds one batch", o.key)
		}
		for _, line := range o.lines {
			if o.deadLetter {
				d.dead = append(d.dead, line)
				assert.Contains(t, string(line), `"duo_log_type":"`+o.logType+`"`, "%s: dead letters of one log type per object", o.key)
				continue
			}
			d.events[o.logType] = append(d.events[o.logType], line)
			assert.Contains(t, string(line), `"p_log_type":"`+o.logType+`"`, "%s: events of one log type per object", o.key)
		}
	}
	t.Logf("%d objects, per log type %v", len(objects), perLogType)
	assert.GreaterOrEqual(t, perLogType["Duo.Administrator"], 2, "batches close at S3_BATCH_COUNT events")
	f.check(t, d)
}
