// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package config

import (
	"bufio"
	"compress/gzip"
	"crypto/rand"
	"encoding/json"
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
	hour        string // year=…/hour=… or unknown
	pageID      string
	lines       [][]byte
	contentType string
	meta        map[string]string
}

// objectKey matches the keys the pipeline writes: an optional dead-letter/
// prefix, the log type, the UTC hour partition of the page's first event
// (or unknown) and the page's ID.
var objectKey = regexp.MustCompile(`^(dead-letter/)?duo/(Duo\.[A-Za-z]+)/(year=\d{4}/month=\d{2}/day=\d{2}/hour=\d{2}|unknown)/([0-9a-f]{32})\.json\.gz$`)

// hourLayout is the partition layout of the keys.
const hourLayout = "year=2006/month=01/day=02/hour=15"

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
	obj.deadLetter, obj.logType, obj.hour, obj.pageID = m[1] != "", m[2], m[3], m[4]

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
// server, then reads every object back: one object per page and case, named
// by the page's ID under the hour of its first event, every event once. A
// second run on an empty checkpoint store replays every page: it overwrites
// the same objects and adds none.
func TestDuoToS3(t *testing.T) {
	st := newS3Store(t)
	f := newFixture(t, 12)

	env := f.env(t)
	env["S3_BUCKET"] = st.bucket
	env["S3_REGION"] = "us-east-1"
	env["S3_ENDPOINT"] = st.endpoint
	env["S3_FORCE_PATH_STYLE"] = "true"
	env["S3_ACCESS_KEY_ID"] = st.accessKey
	env["S3_SECRET_ACCESS_KEY"] = st.secretKey
	env["S3_TIMEOUT"] = "10s"

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
	var firstKeys []string
	for run := range 2 {
		// The second run starts from an empty checkpoint store, as after a
		// lost state volume: every page is read and written again.
		env["DUOSTREAM_STATE_DIR"] = t.TempDir()
		stop, done := runPipeline(t, "duo-to-s3.yaml", env)
		waitFor(t, done, "every event in S3", read)
		if run == 1 {
			// The replay has read every page when it has written the last
			// one it wrote in the first run again; wait a little past it.
			time.Sleep(2 * time.Second)
		}
		stop()
		ok, state := read()
		require.True(t, ok, state)
		var keys []string
		for _, o := range objects {
			keys = append(keys, o.key)
		}
		if run == 0 {
			firstKeys = keys
			continue
		}
		assert.Equal(t, firstKeys, keys, "the replay wrote the same objects again, no new ones")
	}

	d := newDelivery()
	perLogType := map[string]int{}
	pages := map[string]int{}
	for _, o := range objects {
		pages[o.pageID]++
		if !o.deadLetter {
			perLogType[o.logType]++
		}
		assert.Equal(t, "application/gzip", o.contentType, o.key)
		assert.Equal(t, o.logType, o.meta["duo_log_type"], "%s: the duo_ metadata is stored as object metadata", o.key)
		assert.Equal(t, o.pageID, o.meta["duo_page_id"], o.key)
		require.NotEmpty(t, o.lines, o.key)
		if o.logType == "Duo.Administrator" {
			assert.LessOrEqual(t, len(o.lines), v1PageSize, "%s: one object holds one page", o.key)
		}
		for i, line := range o.lines {
			if o.deadLetter {
				d.dead = append(d.dead, line)
				assert.Contains(t, string(line), `"duo_log_type":"`+o.logType+`"`, "%s: dead letters of one log type per object", o.key)
				continue
			}
			d.events[o.logType] = append(d.events[o.logType], line)
			assert.Contains(t, string(line), `"p_log_type":"`+o.logType+`"`, "%s: events of one log type per object", o.key)
			if i == 0 {
				var ev struct {
					EventTime time.Time `json:"p_event_time"`
				}
				require.NoError(t, json.Unmarshal(line, &ev))
				assert.Equal(t, ev.EventTime.UTC().Format(hourLayout), o.hour, "%s: partitioned by the hour of its first event", o.key)
			}
		}
	}
	for id, n := range pages {
		assert.LessOrEqual(t, n, 2, "page %s: at most an events object and a dead-letter object", id)
	}
	t.Logf("%d objects, per log type %v", len(objects), perLogType)
	assert.GreaterOrEqual(t, perLogType["Duo.Administrator"], 2, "one object per administrator page")
	f.check(t, d)

	// Dead letters hold Duo's bytes: decoding "event" gives them unchanged.
	raw := map[string]bool{}
	for _, evs := range plantedEvents(f.start.Add(-time.Hour).Truncate(time.Second)) {
		for _, ev := range evs {
			raw[ev] = true
		}
	}
	for _, line := range d.dead {
		var dl struct {
			Event string `json:"event"`
		}
		require.NoError(t, json.Unmarshal(line, &dl))
		assert.True(t, raw[dl.Event], "dead letter %s does not hold the planted event byte for byte", line)
	}
}
