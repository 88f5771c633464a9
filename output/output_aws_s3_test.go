// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package output

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// isolateAWSEnv keeps the developer's or CI's AWS settings out of a test.
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

// putRecord is what the fake store saw of one PutObject request.
type putRecord struct {
	key    string
	header http.Header
}

// fakeS3 is an in-process S3 store (gofakes3) on 127.0.0.1 that records the
// PutObject requests it receives and can refuse chosen keys.
type fakeS3 struct {
	url    string
	mu     sync.Mutex
	puts   []putRecord
	refuse func(key string) (status int, code string)
	// late, when it returns more than zero, makes the store keep the
	// object and answer only after that long (or once the client hangs
	// up).
	late func(key string) time.Duration
}

const fakeBucket = "duo-bucket"

func newFakeS3(t *testing.T) *fakeS3 {
	t.Helper()
	isolateAWSEnv(t)
	backend := s3mem.New()
	require.NoError(t, backend.CreateBucket(fakeBucket))
	faker := gofakes3.New(backend).Server()
	f := &fakeS3{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query(); r.Method == http.MethodPut && (r.URL.RawQuery == "" || q.Get("x-id") == "PutObject") {
			key := strings.TrimPrefix(r.URL.Path, "/"+fakeBucket+"/")
			f.mu.Lock()
			f.puts = append(f.puts, putRecord{key: key, header: r.Header.Clone()})
			refuse, late := f.refuse, f.late
			f.mu.Unlock()
			if refuse != nil {
				if status, code := refuse(key); status != 0 {
					w.WriteHeader(status)
					fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>refused by test</Message></Error>`, code)
					return
				}
			}
			if late != nil {
				if d := late(key); d > 0 {
					rec := httptest.NewRecorder()
					faker.ServeHTTP(rec, r)
					select {
					case <-time.After(d):
					case <-r.Context().Done():
						return
					}
					maps.Copy(w.Header(), rec.Header())
					w.WriteHeader(rec.Code)
					_, _ = w.Write(rec.Body.Bytes())
					return
				}
			}
		}
		faker.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fakeS3) recorded() []putRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.puts)
}

// client returns an SDK client for reading back what the output wrote.
func (f *fakeS3) client() *s3.Client {
	return testS3Client(f.url, "AKIDFAKE", "fake-secret")
}

func testS3Client(endpoint, id, secret string) *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
	})
}

// outputYAML returns the aws_s3 connection fields for the fake store.
func (f *fakeS3) outputYAML() string {
	return fmt.Sprintf(`bucket: %s
region: us-east-1
endpoint: %s
force_path_style_urls: true
credentials:
  id: AKIDFAKE
  secret: fake-secret
`, fakeBucket, f.url)
}

func indent(s, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+prefix) + "\n"
}

// duoEvents builds n JSON events alternating between the given log types.
func duoEvents(tag string, n int, logTypes ...string) service.MessageBatch {
	batch := make(service.MessageBatch, n)
	for i := range batch {
		lt := logTypes[i%len(logTypes)]
		m := service.NewMessage(fmt.Appendf(nil, `{"txid":"%s-%d","log_type":%q}`, tag, i, lt))
		m.MetaSetMut("duo_log_type", lt)
		batch[i] = m
	}
	return batch
}

// listObjects returns every key under prefix.
func listObjects(t *testing.T, ctx context.Context, client *s3.Client, bucket, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		require.NoError(t, err)
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	slices.Sort(keys)
	return keys
}

// gunzipLines downloads key and returns its gzip-compressed lines.
func gunzipLines(t *testing.T, ctx context.Context, client *s3.Client, bucket, key string) (lines []string, contentType string) {
	t.Helper()
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err)
	defer out.Body.Close()
	zr, err := gzip.NewReader(out.Body)
	require.NoError(t, err, "object %s is not gzip", key)
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	require.NoError(t, sc.Err())
	return lines, aws.ToString(out.ContentType)
}

// wantLinesByType groups the events of batches by log type, in order. Call it
// before sending: batching processors rewrite messages in place.
func wantLinesByType(t *testing.T, batches ...service.MessageBatch) map[string][]string {
	t.Helper()
	want := map[string][]string{}
	for _, batch := range batches {
		for _, m := range batch {
			b, err := m.AsBytes()
			require.NoError(t, err)
			lt, _ := m.MetaGet("duo_log_type")
			want[lt] = append(want[lt], string(b))
		}
	}
	return want
}

var defaultKeyPattern = regexp.MustCompile(`^duo/([a-z_]+)/year=(\d{4})/month=(\d{2})/day=(\d{2})/hour=(\d{2})/[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\.json\.gz$`)

// assertHourPartition checks that the year/month/day/hour of a key match the
// UTC hour of one of the instants around the write.
func assertHourPartition(t *testing.T, key string, around ...time.Time) string {
	t.Helper()
	m := defaultKeyPattern.FindStringSubmatch(key)
	require.NotNil(t, m, "key %q does not follow the default layout", key)
	got := strings.Join(m[2:6], "/")
	var want []string
	for _, at := range around {
		want = append(want, at.UTC().Format("2006/01/02/15"))
	}
	assert.Contains(t, want, got, "key %q is not partitioned by the write hour", key)
	return m[1]
}

// TestAWSS3ArchiveGzipLayout runs the worked example of the spec: batches
// grouped by log type, archived as lines and gzipped, one object per log type
// and batch under the default path.
func TestAWSS3ArchiveGzipLayout(t *testing.T) {
	f := newFakeS3(t)
	send := outputStream(t, "aws_s3:\n"+indent(f.outputYAML()+`content_type: application/gzip
batching:
  count: 30
  period: 2s
  processors:
    - group_by_value:
        value: '${! meta("duo_log_type") }'
    - archive:
        format: lines
    - compress:
        algorithm: gzip
`, "  "))

	before := time.Now()
	first := duoEvents("a", 30, "authentication", "administrator", "telephony")
	second := duoEvents("b", 30, "authentication", "administrator", "telephony")
	// Batching processors rewrite messages in place, so take the expected
	// lines before sending.
	want := wantLinesByType(t, first, second)
	require.NoError(t, send(t.Context(), first))
	require.NoError(t, send(t.Context(), second))
	after := time.Now()

	client := f.client()
	keys := listObjects(t, t.Context(), client, fakeBucket, "duo/")
	require.Len(t, keys, 6, "one object per log type and batch: %v", keys)

	got := map[string][]string{}
	for _, key := range keys {
		logType := assertHourPartition(t, key, before, after)
		lines, contentType := gunzipLines(t, t.Context(), client, fakeBucket, key)
		assert.Equal(t, "application/gzip", contentType)
		assert.Len(t, lines, 10, "object %s holds one batch's events of its type", key)
		for _, l := range lines {
			assert.Contains(t, l, fmt.Sprintf(`"log_type":%q`, logType), "object %s mixes log types", key)
		}
		got[logType] = append(got[logType], lines...)
	}
	for lt := range want {
		// Objects of a log type are listed in key (uuid) order, not write
		// order, so compare as sets.
		assert.ElementsMatch(t, want[lt], got[lt], "log type %s", lt)
	}
	assert.Len(t, f.recorded(), 6, "one PutObject per object, no retries")
}

func TestAWSS3ObjectPerMessage(t *testing.T) {
	f := newFakeS3(t)
	send := outputStream(t, "aws_s3:\n"+indent(f.outputYAML()+`path: 'raw/${! meta("duo_log_type") }/${! json("txid") }.json'
content_type: '${! meta("ctype") }'
content_encoding: identity
tags:
  source: duostream
  log_type: '${! meta("duo_log_type") }'
metadata:
  exclude_prefixes: [ "ctype", "internal_" ]
`, "  "))

	batch := duoEvents("m", 3, "authentication", "trust_monitor")
	for _, m := range batch {
		m.MetaSetMut("ctype", "application/json")
		m.MetaSetMut("internal_cursor", "secret-cursor")
	}
	require.NoError(t, send(t.Context(), batch))

	puts := f.recorded()
	require.Len(t, puts, 3)
	slices.SortFunc(puts, func(a, b putRecord) int { return strings.Compare(a.key, b.key) })
	wantKeys := []string{"raw/authentication/m-0.json", "raw/authentication/m-2.json", "raw/trust_monitor/m-1.json"}
	for i, p := range puts {
		assert.Equal(t, wantKeys[i], p.key)
		lt := strings.Split(p.key, "/")[1]
		assert.Equal(t, "application/json", p.header.Get("Content-Type"))
		assert.Equal(t, "identity", p.header.Get("Content-Encoding"))
		assert.Equal(t, "log_type="+lt+"&source=duostream", p.header.Get("X-Amz-Tagging"))
		assert.Equal(t, lt, p.header.Get("X-Amz-Meta-Duo_log_type"))
		assert.Empty(t, p.header.Get("X-Amz-Meta-Internal_cursor"), "excluded metadata must not be sent")
		assert.Empty(t, p.header.Get("X-Amz-Meta-Ctype"), "excluded metadata must not be sent")
		assert.Contains(t, p.header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDFAKE/", "requests are SigV4-signed with the static key")
	}

	client := f.client()
	for i, m := range batch {
		want, err := m.AsBytes()
		require.NoError(t, err)
		out, err := client.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(fakeBucket), Key: aws.String(fmt.Sprintf("raw/%s/m-%d.json", []string{"authentication", "trust_monitor"}[i%2], i))})
		require.NoError(t, err)
		body, err := io.ReadAll(out.Body)
		out.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, string(want), string(body))
	}
}

func TestAWSS3DefaultPath(t *testing.T) {
	isolateAWSEnv(t)
	conf, err := awsS3OutputSpec().ParseYAML("bucket: b\nregion: us-east-1\n", nil)
	require.NoError(t, err)
	path, err := conf.FieldInterpolatedString(s3oFieldPath)
	require.NoError(t, err)

	with := service.NewMessage([]byte(`{}`))
	with.MetaSetMut("duo_log_type", "authentication")
	without := service.NewMessage([]byte(`{}`))
	batch := service.MessageBatch{with, without}

	before := time.Now()
	k0, err := batch.TryInterpolatedString(0, path)
	require.NoError(t, err)
	k1, err := batch.TryInterpolatedString(1, path)
	require.NoError(t, err)
	k0again, err := batch.TryInterpolatedString(0, path)
	require.NoError(t, err)
	after := time.Now()

	assert.Equal(t, "authentication", assertHourPartition(t, k0, before, after))
	assert.Equal(t, "unknown", assertHourPartition(t, k1, before, after))
	assert.NotEqual(t, k0, k0again, "every object gets a fresh name")
}

func TestAWSS3WriteBatchReportsFailuresByIndex(t *testing.T) {
	f := newFakeS3(t)
	f.refuse = func(key string) (int, string) {
		if strings.Contains(key, "denied") {
			return http.StatusForbidden, "AccessDenied"
		}
		return 0, ""
	}
	conf, err := awsS3OutputSpec().ParseYAML(f.outputYAML()+"path: '${! @name }'\n", nil)
	require.NoError(t, err)
	w, err := newAWSS3Writer(conf, service.MockResources())
	require.NoError(t, err)
	require.ErrorIs(t, w.WriteBatch(t.Context(), nil), service.ErrNotConnected)
	require.NoError(t, w.Connect(t.Context()))
	t.Cleanup(func() { assert.NoError(t, w.Close(context.Background())) })

	batch := duoEvents("f", 4, "authentication")
	for i, name := range []string{"ok-0", "denied-1", "ok-2", ""} {
		batch[i].MetaSetMut("name", name)
	}
	indexer := batch.Index()
	failed := failedMessages(t, indexer, w.WriteBatch(t.Context(), batch))
	require.Len(t, failed, 2, "failed: %v", failed)
	assert.Contains(t, failed[1], "AccessDenied")
	assert.Contains(t, failed[1], "s3:PutObject")
	assert.Contains(t, failed[1], "s3://duo-bucket/denied-1")
	assert.Contains(t, failed[3], "object key is empty")

	keys := listObjects(t, t.Context(), f.client(), fakeBucket, "")
	assert.Equal(t, []string{"ok-0", "ok-2"}, keys, "the good messages of the batch were written")
}

func TestAWSS3ConfigErrors(t *testing.T) {
	const secret = "hunter2-s3-secret"
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{"bucket missing", "region: us-east-1", "bucket"},
		{"bucket empty", "bucket: ''\nregion: us-east-1", "bucket"},
		{"no region anywhere", "bucket: b", "region"},
		{"endpoint not a URL", "bucket: b\nregion: us-east-1\nendpoint: '127.0.0.1:9000'", "endpoint"},
		{"zero timeout", "bucket: b\nregion: us-east-1\ntimeout: 0s", "timeout"},
		{"bad path interpolation", "bucket: b\nregion: us-east-1\npath: '${! nope( }'", "path"},
		{"id without secret", "bucket: b\nregion: us-east-1\ncredentials: { id: AKID }", "credentials.secret"},
		{"secret without id", "bucket: b\nregion: us-east-1\ncredentials: { secret: " + secret + " }", "credentials.id"},
		{"token without keys", "bucket: b\nregion: us-east-1\ncredentials: { token: tok }", "credentials.token"},
		{"ec2 role with static keys", "bucket: b\nregion: us-east-1\ncredentials: { id: AKID, secret: " + secret + ", from_ec2_role: true }", "credentials.from_ec2_role"},
		{"external id without role", "bucket: b\nregion: us-east-1\ncredentials: { role_external_id: x }", "credentials.role_external_id"},
		{"unknown profile", "bucket: b\nregion: us-east-1\ncredentials: { profile: nosuchprofile }", "credentials.profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			conf, err := awsS3OutputSpec().ParseYAML(tt.yaml, nil)
			if err == nil {
				_, err = newAWSS3Writer(conf, service.MockResources())
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
			assert.NotContains(t, err.Error(), secret)
		})
	}
}

func TestAWSS3RegionFromEnvironment(t *testing.T) {
	isolateAWSEnv(t)
	t.Setenv("AWS_REGION", "eu-west-3")
	conf, err := awsS3OutputSpec().ParseYAML("bucket: b\n", nil)
	require.NoError(t, err)
	w, err := newAWSS3Writer(conf, service.MockResources())
	require.NoError(t, err)
	assert.Equal(t, "eu-west-3", w.awsConf.Region)
}

func TestAWSS3Defaults(t *testing.T) {
	isolateAWSEnv(t)
	conf, err := awsS3OutputSpec().ParseYAML("bucket: b\nregion: us-east-1\n", nil)
	require.NoError(t, err)
	maxInFlight, err := conf.FieldMaxInFlight()
	require.NoError(t, err)
	assert.Equal(t, 64, maxInFlight)
	w, err := newAWSS3Writer(conf, service.MockResources())
	require.NoError(t, err)
	assert.Equal(t, 5*time.Second, w.timeout)
	assert.False(t, w.pathStyle)
	assert.Empty(t, w.tags)
	assert.Equal(t, "application/octet-stream", w.contentType.String(service.NewMessage(nil)))
	assert.Empty(t, w.contentEncoding.String(service.NewMessage(nil)))
}

func TestAWSS3SecretFields(t *testing.T) {
	assert.Equal(t, map[string]bool{"credentials.secret": true}, secretFields(t, "aws_s3"))
}

// The environment variables below are printed by .ci/services/versitygw.sh.
const (
	envS3Endpoint  = "DUOSTREAM_TEST_S3_ENDPOINT"
	envS3AccessKey = "DUOSTREAM_TEST_S3_ACCESS_KEY"
	envS3SecretKey = "DUOSTREAM_TEST_S3_SECRET_KEY"
	envS3Bucket    = "DUOSTREAM_TEST_S3_BUCKET"
)

// TestAWSS3AgainstVersitygw writes through a real S3 gateway that checks
// SigV4 signatures (Versity Gateway, started by .ci/services/versitygw.sh).
func TestAWSS3AgainstVersitygw(t *testing.T) {
	endpoint := os.Getenv(envS3Endpoint)
	if endpoint == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must start the S3 gateway with .ci/services/versitygw.sh", envS3Endpoint)
		}
		t.Skipf("%s is not set; run eval \"$(bash .ci/services/versitygw.sh)\" to start an S3 gateway", envS3Endpoint)
	}
	accessKey, secretKey, bucket := os.Getenv(envS3AccessKey), os.Getenv(envS3SecretKey), os.Getenv(envS3Bucket)
	require.NotEmpty(t, accessKey, envS3AccessKey)
	require.NotEmpty(t, secretKey, envS3SecretKey)
	require.NotEmpty(t, bucket, envS3Bucket)
	isolateAWSEnv(t)

	client := testS3Client(endpoint, accessKey, secretKey)
	_, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *s3types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		require.NoError(t, err, "create bucket %s", bucket)
	}

	// A fresh prefix per run, as the gateway outlives a single test.
	prefix := "it-" + rand.Text()[:12]
	connYAML := func(secret string) string {
		return fmt.Sprintf(`bucket: %s
region: us-east-1
endpoint: %s
force_path_style_urls: true
credentials:
  id: %s
  secret: %s
`, bucket, endpoint, accessKey, secret)
	}

	t.Run("archive and gzip batches", func(t *testing.T) {
		send := outputStream(t, "aws_s3:\n"+indent(connYAML(secretKey)+`path: '`+prefix+`/duo/${! meta("duo_log_type") }/${! now().ts_format("year=2006/month=01/day=02/hour=15", "UTC") }/${! uuid_v4() }.json.gz'
content_type: application/gzip
tags:
  source: duostream
batching:
  count: 40
  period: 2s
  processors:
    - group_by_value:
        value: '${! meta("duo_log_type") }'
    - archive:
        format: lines
    - compress:
        algorithm: gzip
`, "  "))
		batches := []service.MessageBatch{
			duoEvents("v1", 40, "authentication", "administrator"),
			duoEvents("v2", 40, "authentication", "administrator"),
			duoEvents("v3", 40, "authentication", "administrator"),
		}
		want := wantLinesByType(t, batches...)
		for _, b := range batches {
			require.NoError(t, send(t.Context(), b))
		}

		keys := listObjects(t, t.Context(), client, bucket, prefix+"/")
		require.Len(t, keys, 6, "one object per log type and batch: %v", keys)
		got := map[string][]string{}
		for _, key := range keys {
			logType := strings.Split(key, "/")[2]
			lines, contentType := gunzipLines(t, t.Context(), client, bucket, key)
			assert.Equal(t, "application/gzip", contentType)
			assert.Len(t, lines, 20)
			got[logType] = append(got[logType], lines...)

			tagging, err := client.GetObjectTagging(t.Context(), &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
			require.NoError(t, err)
			require.Len(t, tagging.TagSet, 1)
			assert.Equal(t, "source", aws.ToString(tagging.TagSet[0].Key))
			assert.Equal(t, "duostream", aws.ToString(tagging.TagSet[0].Value))
		}
		for lt := range want {
			assert.ElementsMatch(t, want[lt], got[lt], "log type %s", lt)
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		const wrong = "wrong-secret-0123456789abcdef"
		conf, err := awsS3OutputSpec().ParseYAML(connYAML(wrong)+"path: "+prefix+"/denied.json\n", nil)
		require.NoError(t, err)
		w, err := newAWSS3Writer(conf, service.MockResources())
		require.NoError(t, err)
		require.NoError(t, w.Connect(t.Context()))
		t.Cleanup(func() { assert.NoError(t, w.Close(context.Background())) })

		err = w.WriteBatch(t.Context(), duoEvents("x", 1, "authentication"))
		require.Error(t, err)
		msg := err.Error()
		t.Logf("wrong-secret error: %s", msg)
		assert.Contains(t, msg, "SignatureDoesNotMatch")
		assert.Contains(t, msg, "credentials.secret", "the error names the field to fix")
		assert.Contains(t, msg, "s3://"+bucket+"/"+prefix+"/denied.json")
		assert.NotContains(t, msg, wrong)
		assert.NotContains(t, msg, secretKey)
		assert.Empty(t, listObjects(t, t.Context(), client, bucket, prefix+"/denied"), "nothing was stored")
	})
}

// TestSpecExamplesParse checks that the worked examples of both outputs are
// valid configs for the registered outputs, as a user would paste them.
func TestSpecExamplesParse(t *testing.T) {
	t.Setenv("KAFKA_PASSWORD", "example-password")
	for _, name := range []string{"aws_s3", "kafka_franz"} {
		var examples []string
		service.GlobalEnvironment().WalkOutputs(func(n string, view *service.ConfigView) {
			if n != name {
				return
			}
			data, err := view.TemplateData()
			require.NoError(t, err)
			for _, ex := range data.Examples {
				examples = append(examples, ex.Config)
			}
		})
		require.NotEmpty(t, examples, "output %s has a worked example", name)
		for _, ex := range examples {
			require.NoError(t, service.NewStreamBuilder().SetYAML(ex), "example of %s:\n%s", name, ex)
		}
	}
}

func TestAWSS3AllFailedIsOnePlainError(t *testing.T) {
	f := newFakeS3(t)
	f.refuse = func(string) (int, string) { return http.StatusForbidden, "AccessDenied" }
	conf, err := awsS3OutputSpec().ParseYAML(f.outputYAML()+"path: 'denied/${! json(\"txid\") }'\n", nil)
	require.NoError(t, err)
	w, err := newAWSS3Writer(conf, service.MockResources())
	require.NoError(t, err)
	require.NoError(t, w.Connect(t.Context()))
	t.Cleanup(func() { assert.NoError(t, w.Close(context.Background())) })

	// One message, which may be a whole page collapsed by archive: a batch
	// error would name only the page's first event upstream.
	err = w.WriteBatch(t.Context(), duoEvents("one", 1, "administrator"))
	require.Error(t, err)
	var batchErr *service.BatchError
	assert.False(t, errors.As(err, &batchErr), "a batch that failed whole returns a plain error, got %T", err)
	msg := err.Error()
	for _, want := range []string{"s3://duo-bucket/denied/one-0", "AccessDenied", "s3:PutObject", "bucket policy", "kms:GenerateDataKey"} {
		assert.Contains(t, msg, want)
	}
	assert.NotContains(t, msg, "fake-secret")

	err = w.WriteBatch(t.Context(), duoEvents("two", 2, "administrator"))
	require.Error(t, err)
	assert.False(t, errors.As(err, &batchErr), "got %T", err)
	assert.Contains(t, err.Error(), "all 2 objects failed")
	assert.Contains(t, err.Error(), "denied/two-0")
	assert.Contains(t, err.Error(), "denied/two-1")
}

// TestAWSS3UploadsAreIndependent checks that the uploads of a batch run side
// by side and that one that times out neither delays nor cancels the others.
func TestAWSS3UploadsAreIndependent(t *testing.T) {
	f := newFakeS3(t)
	f.late = func(key string) time.Duration {
		if key == "obj/slow-1" {
			return 3 * time.Second
		}
		return 0
	}
	conf, err := awsS3OutputSpec().ParseYAML(f.outputYAML()+"path: 'obj/${! json(\"txid\") }'\ntimeout: 700ms\n", nil)
	require.NoError(t, err)
	w, err := newAWSS3Writer(conf, service.MockResources())
	require.NoError(t, err)
	require.NoError(t, w.Connect(t.Context()))
	t.Cleanup(func() { assert.NoError(t, w.Close(context.Background())) })

	batch := duoEvents("slow", 6, "authentication")
	indexer := batch.Index()
	start := time.Now()
	err = w.WriteBatch(t.Context(), batch)
	elapsed := time.Since(start)
	failed := failedMessages(t, indexer, err)
	require.Len(t, failed, 1, "only the late upload fails: %v", failed)
	assert.Contains(t, failed[1], "s3://duo-bucket/obj/slow-1")
	assert.Contains(t, failed[1], "timeout 700ms")
	assert.Contains(t, failed[1], "may have kept the object")
	assert.Less(t, elapsed, 2*time.Second, "the late upload must not hold up the others for long")

	keys := listObjects(t, t.Context(), f.client(), fakeBucket, "obj/")
	// The late object was stored although its answer came too late.
	assert.Equal(t, []string{"obj/slow-0", "obj/slow-1", "obj/slow-2", "obj/slow-3", "obj/slow-4", "obj/slow-5"}, keys)
}

// pagesInput is a batch input for tests that emits pages as duo_admin_logs
// does: one batch per page, with the duo_log_type and duo_page_id metadata.
// It is wrapped with service.AutoRetryNacksBatched, as the Duo input is, so
// that Benthos retries exactly what the output reports as failed.
type pagesInput struct {
	mu    sync.Mutex
	pages []service.MessageBatch
}

func (p *pagesInput) Connect(context.Context) error { return nil }

func (p *pagesInput) ReadBatch(context.Context) (service.MessageBatch, service.AckFunc, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pages) == 0 {
		return nil, nil, service.ErrEndOfInput
	}
	b := p.pages[0]
	p.pages = p.pages[1:]
	return b, func(context.Context, error) error { return nil }, nil
}

func (p *pagesInput) Close(context.Context) error { return nil }

// duoPages returns n pages of each log type, each of size events, where
// every fifth event is marked dead (metadata dead: yes). The page ID is the
// hash of the page's events, as duo_admin_logs computes it.
func duoPages(n, size int, logTypes ...string) []service.MessageBatch {
	var pages []service.MessageBatch
	for _, lt := range logTypes {
		for p := range n {
			page := make(service.MessageBatch, size)
			h := sha256.New()
			for i := range page {
				body := fmt.Appendf(nil, `{"txid":"%s-%d-%d","log_type":%q}`, lt, p, i, lt)
				h.Write(body)
				page[i] = service.NewMessage(body)
				page[i].MetaSetMut("duo_log_type", lt)
				if i%5 == 4 {
					page[i].MetaSetMut("dead", "yes")
				}
			}
			id := hex.EncodeToString(h.Sum(nil))[:32]
			for _, m := range page {
				m.MetaSetMut("duo_page_id", id)
			}
			pages = append(pages, page)
		}
	}
	return pages
}

// runPages runs pages through a stream with the given output (the
// pipeline's shape: a switch of events and dead letters, one object per
// page and case) until every page is acknowledged.
func runPages(t *testing.T, f *fakeS3, pages []service.MessageBatch, timeout string) {
	t.Helper()
	env := service.GlobalEnvironment().Clone()
	in := &pagesInput{pages: pages}
	require.NoError(t, env.RegisterBatchInput("test_duo_pages", service.NewConfigSpec(), func(*service.ParsedConfig, *service.Resources) (service.BatchInput, error) {
		return service.AutoRetryNacksBatched(in), nil
	}))
	object := func(prefix string) string {
		return indent("aws_s3:\n"+indent(f.outputYAML()+`path: '`+prefix+`/${! @duo_log_type }/${! @duo_page_id.not_null() }.json.gz'
content_type: application/gzip
timeout: `+timeout+`
`, "  ")+`processors:
  - archive:
      format: lines
  - compress:
      algorithm: gzip
`, "          ")
	}
	b := env.NewStreamBuilder()
	require.NoError(t, b.SetLoggerYAML("level: off"))
	require.NoError(t, b.SetYAML(`
input:
  test_duo_pages: {}
output:
  switch:
    retry_until_success: true
    cases:
      - check: '@dead == "yes"'
        output:
`+object("dead")+`      - output:
`+object("pages")))
	strm, err := b.Build()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	require.NoError(t, strm.Run(ctx))
}

// checkPagesOnce reads every object back and checks that each event of
// pages is in it exactly once, under its case's prefix, and returns the
// PutObject requests per key.
func checkPagesOnce(t *testing.T, f *fakeS3, pages []service.MessageBatch) map[string]int {
	t.Helper()
	want := map[string]string{}
	for _, page := range pages {
		for _, m := range page {
			b, err := m.AsBytes()
			require.NoError(t, err)
			prefix := "pages/"
			if d, _ := m.MetaGet("dead"); d == "yes" {
				prefix = "dead/"
			}
			lt, _ := m.MetaGet("duo_log_type")
			id, _ := m.MetaGet("duo_page_id")
			want[string(b)] = prefix + lt + "/" + id + ".json.gz"
		}
	}
	client := f.client()
	got := map[string][]string{}
	keys := listObjects(t, t.Context(), client, fakeBucket, "")
	for _, key := range keys {
		lines, _ := gunzipLines(t, t.Context(), client, fakeBucket, key)
		for _, l := range lines {
			got[l] = append(got[l], key)
		}
	}
	for ev, key := range want {
		assert.Equal(t, []string{key}, got[ev], "event %s is stored once, in its page's object", ev)
	}
	assert.Len(t, got, len(want), "no event that was not sent")
	assert.Len(t, keys, 2*len(pages), "one object per page and case")
	puts := map[string]int{}
	for _, p := range f.recorded() {
		puts[p.key]++
	}
	return puts
}

// TestAWSS3PagesRetryOnlyTheFailedObject runs pages through the pipeline's
// shape while the store refuses the first two uploads of every object under
// one prefix (403) and of every dead-letter object of another log type
// (503): every event ends up stored once, and only the refused objects were
// written more than once.
func TestAWSS3PagesRetryOnlyTheFailedObject(t *testing.T) {
	f := newFakeS3(t)
	var mu sync.Mutex
	refusals := map[string]int{}
	f.refuse = func(key string) (int, string) {
		status, code := 0, ""
		switch {
		case strings.HasPrefix(key, "pages/administrator/"):
			status, code = http.StatusForbidden, "AccessDenied"
		case strings.HasPrefix(key, "dead/telephony/"):
			status, code = http.StatusServiceUnavailable, "SlowDown"
		default:
			return 0, ""
		}
		mu.Lock()
		defer mu.Unlock()
		if refusals[key] >= 2 {
			return 0, ""
		}
		refusals[key]++
		return status, code
	}
	pages := duoPages(3, 20, "authentication", "administrator", "telephony")
	runPages(t, f, pages, "2s")
	puts := checkPagesOnce(t, f, pages)

	mu.Lock()
	defer mu.Unlock()
	var retried, once int
	for key, n := range puts {
		if refusals[key] > 0 {
			assert.Equal(t, refusals[key]+1, n, "%s was refused %d times, then written once", key, refusals[key])
			retried++
			continue
		}
		assert.Equal(t, 1, n, "%s was never refused: written once", key)
		once++
	}
	assert.Equal(t, 6, retried, "3 administrator pages and 3 telephony dead-letter objects were refused")
	t.Logf("%d objects written once, %d refused and rewritten at the same key (%d PUTs in all)", once, retried, len(f.recorded()))
}

// TestAWSS3PagesLateAnswerOverwrites has the store keep an object and answer
// only after the output's timeout: the retry writes the same key again, so
// the events are stored once.
func TestAWSS3PagesLateAnswerOverwrites(t *testing.T) {
	f := newFakeS3(t)
	pages := duoPages(2, 30, "authentication", "administrator")
	id, _ := pages[1][0].MetaGet("duo_page_id")
	lateKey := "pages/authentication/" + id + ".json.gz"
	var answeredLate sync.Once
	f.late = func(key string) time.Duration {
		d := time.Duration(0)
		if key == lateKey {
			answeredLate.Do(func() { d = 3 * time.Second })
		}
		return d
	}
	runPages(t, f, pages, "500ms")
	puts := checkPagesOnce(t, f, pages)
	assert.Equal(t, 2, puts[lateKey], "the late object was written twice, at one key")
	for key, n := range puts {
		if key != lateKey {
			assert.Equal(t, 1, n, key)
		}
	}
}

// failedMessages returns, by their index in the batch indexer was taken of
// before it was written, the error of each message that err, which must be
// a *service.BatchError from writing it, names as failed.
func failedMessages(t *testing.T, indexer *service.Indexer, err error) map[int]string {
	t.Helper()
	var batchErr *service.BatchError
	require.ErrorAs(t, err, &batchErr)
	failed := map[int]string{}
	batchErr.WalkMessagesIndexedBy(indexer, func(i int, _ *service.Message, err error) bool {
		if err != nil {
			failed[i] = err.Error()
		}
		return true
	})
	return failed
}
