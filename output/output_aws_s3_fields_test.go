// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package output

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// s3oTestKMSKey is a KMS key ARN in the documentation's example account.
const s3oTestKMSKey = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// writeOne builds an aws_s3 writer against the fake store from the extra
// YAML fields, writes the batch and returns the error.
func writeOne(t *testing.T, f *fakeS3, extra string, batch service.MessageBatch) error {
	t.Helper()
	conf, err := awsS3OutputSpec().ParseYAML(f.outputYAML()+extra, nil)
	require.NoError(t, err)
	w, err := newAWSS3Writer(conf, service.MockResources())
	require.NoError(t, err)
	require.NoError(t, w.Connect(t.Context()))
	t.Cleanup(func() { assert.NoError(t, w.Close(context.Background())) })
	return w.WriteBatch(t.Context(), batch)
}

// TestAWSS3FieldHeaders checks, for each field, the headers that reach the
// store: set when the field is, absent when it is not.
func TestAWSS3FieldHeaders(t *testing.T) {
	const body = `{"txid":"h-0","log_type":"authentication"}`
	sum := sha256.Sum256([]byte(body))
	tests := []struct {
		name   string
		yaml   string
		want   map[string]string
		absent []string
	}{
		{
			name: "defaults",
			want: map[string]string{"X-Amz-Storage-Class": "STANDARD", "Content-Type": "application/octet-stream"},
			absent: []string{
				"X-Amz-Server-Side-Encryption", "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id", "X-Amz-Acl", "X-Amz-Tagging",
				"Cache-Control", "Content-Disposition", "Content-Language", "Content-Encoding", "X-Amz-Website-Redirect-Location",
			},
		},
		{
			name: "kms_key_id alone means aws:kms",
			yaml: "kms_key_id: " + s3oTestKMSKey,
			want: map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms", "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": s3oTestKMSKey},
		},
		{
			name: "kms_key_id with dsse",
			yaml: "kms_key_id: " + s3oTestKMSKey + "\nserver_side_encryption: aws:kms:dsse",
			want: map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms:dsse", "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": s3oTestKMSKey},
		},
		{
			name:   "server_side_encryption AES256",
			yaml:   "server_side_encryption: AES256",
			want:   map[string]string{"X-Amz-Server-Side-Encryption": "AES256"},
			absent: []string{"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"},
		},
		{
			name:   "server_side_encryption aws:kms with the default key",
			yaml:   "server_side_encryption: aws:kms",
			want:   map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms"},
			absent: []string{"X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"},
		},
		{
			name: "storage_class",
			yaml: "storage_class: STANDARD_IA",
			want: map[string]string{"X-Amz-Storage-Class": "STANDARD_IA"},
		},
		{
			name: "storage_class interpolated",
			yaml: `storage_class: '${! if meta("duo_log_type") == "authentication" { "INTELLIGENT_TIERING" } else { "STANDARD" } }'`,
			want: map[string]string{"X-Amz-Storage-Class": "INTELLIGENT_TIERING"},
		},
		{
			name: "object_canned_acl",
			yaml: "object_canned_acl: bucket-owner-full-control",
			want: map[string]string{"X-Amz-Acl": "bucket-owner-full-control"},
		},
		{
			name: "checksum_algorithm SHA256",
			yaml: "checksum_algorithm: SHA256",
			want: map[string]string{"X-Amz-Checksum-Sha256": base64.StdEncoding.EncodeToString(sum[:]), "X-Amz-Sdk-Checksum-Algorithm": "SHA256"},
		},
		{
			name: "checksum_algorithm CRC32C",
			yaml: "checksum_algorithm: CRC32C",
			want: map[string]string{"X-Amz-Sdk-Checksum-Algorithm": "CRC32C"},
		},
		{
			name: "tags",
			yaml: "tags:\n  source: duostream\n  log_type: '${! meta(\"duo_log_type\") }'\n  note: 'a b&c'",
			want: map[string]string{"X-Amz-Tagging": "log_type=authentication&note=a+b%26c&source=duostream"},
		},
		{
			name: "cache_control",
			yaml: "cache_control: no-store",
			want: map[string]string{"Cache-Control": "no-store"},
		},
		{
			name: "content_disposition interpolated",
			yaml: `content_disposition: 'attachment; filename="${! meta("duo_log_type") }.json"'`,
			want: map[string]string{"Content-Disposition": `attachment; filename="authentication.json"`},
		},
		{
			name: "content_language",
			yaml: "content_language: en-GB",
			want: map[string]string{"Content-Language": "en-GB"},
		},
		{
			name: "website_redirect_location",
			yaml: "website_redirect_location: /index.html",
			want: map[string]string{"X-Amz-Website-Redirect-Location": "/index.html"},
		},
		{
			name: "content_type and content_encoding",
			yaml: "content_type: application/x-ndjson\ncontent_encoding: identity",
			want: map[string]string{"Content-Type": "application/x-ndjson", "Content-Encoding": "identity"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeS3(t)
			require.NoError(t, writeOne(t, f, "path: hdr.json\n"+tt.yaml+"\n", duoEvents("h", 1, "authentication")))
			puts := f.recorded()
			require.Len(t, puts, 1)
			h := puts[0].header
			for k, v := range tt.want {
				assert.Equal(t, v, h.Get(k), "header %s", k)
			}
			for _, k := range tt.absent {
				assert.Empty(t, h.Values(k), "header %s", k)
			}
		})
	}
}

// TestAWSS3FieldsPerMessage checks that the interpolated fields are
// resolved for each message of a batch, and that a storage class outside
// the list fails only its own message.
func TestAWSS3FieldsPerMessage(t *testing.T) {
	f := newFakeS3(t)
	batch := duoEvents("pm", 3, "authentication", "administrator", "telephony")
	batch[2].MetaSetMut("class", "COLD")
	batch[0].MetaSetMut("class", "ONEZONE_IA")
	batch[1].MetaSetMut("class", "DEEP_ARCHIVE")
	indexer := batch.Index()
	err := writeOne(t, f, `path: 'pm/${! meta("duo_log_type") }'
storage_class: '${! meta("class") }'
cache_control: 'max-age=${! batch_index() }'
content_language: '${! meta("duo_log_type") }'
website_redirect_location: '/${! meta("duo_log_type") }.html'
tags:
  type: '${! meta("duo_log_type") }'
`, batch)
	failed := failedMessages(t, indexer, err)
	require.Len(t, failed, 1)
	assert.Contains(t, failed[2], `"COLD" is not one of`)
	assert.Contains(t, failed[2], "storage_class")

	got := map[string]http.Header{}
	for _, p := range f.recorded() {
		got[p.key] = p.header
	}
	require.Len(t, got, 2, "the message with a bad storage class was never sent")
	for i, lt := range []string{"authentication", "administrator"} {
		h := got["pm/"+lt]
		require.NotNil(t, h, lt)
		assert.Equal(t, []string{"ONEZONE_IA", "DEEP_ARCHIVE"}[i], h.Get("X-Amz-Storage-Class"), lt)
		assert.Equal(t, "max-age="+string(rune('0'+i)), h.Get("Cache-Control"), lt)
		assert.Equal(t, lt, h.Get("Content-Language"))
		assert.Equal(t, "/"+lt+".html", h.Get("X-Amz-Website-Redirect-Location"))
		assert.Equal(t, "type="+lt, h.Get("X-Amz-Tagging"))
	}
}

// TestAWSS3FieldConfigErrors checks the values the new fields refuse at
// start-up, and the credentials combinations that differ from Connect.
func TestAWSS3FieldConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr string
	}{
		{"unknown server_side_encryption", "server_side_encryption: aws:kmsx", "server_side_encryption"},
		{"kms key with AES256", "kms_key_id: k\nserver_side_encryption: AES256", "kms_key_id"},
		{"static storage class outside the list", "storage_class: COLD", "storage_class"},
		{"bad storage class interpolation", "storage_class: '${! nope( }'", "storage_class"},
		{"bad cache_control interpolation", "cache_control: '${! nope( }'", "cache_control"},
		{"profile with static keys", "credentials: { profile: p, id: AKID, secret: s }", "credentials.profile"},
		{"keep-alive idle not above the user timeout", "tcp:\n  tcp_user_timeout: 20s\n  keep_alive: { idle: 10s }", "tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolateAWSEnv(t)
			conf, err := awsS3OutputSpec().ParseYAML("bucket: b\nregion: us-east-1\n"+tt.yaml, nil)
			if err == nil {
				_, err = newAWSS3Writer(conf, service.MockResources())
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantErr)
		})
	}
}

// TestAWSS3EC2RoleThenAssumeRole checks the documented difference from
// Connect: from_ec2_role with role assumes the role on top of the instance
// credentials instead of ignoring it.
func TestAWSS3EC2RoleThenAssumeRole(t *testing.T) {
	isolateAWSEnv(t)
	conf, err := awsS3OutputSpec().ParseYAML("bucket: b\nregion: us-east-1\ncredentials:\n  from_ec2_role: true\n  role: arn:aws:iam::111122223333:role/duo-writer\n", nil)
	require.NoError(t, err)
	w, err := newAWSS3Writer(conf, service.MockResources())
	require.NoError(t, err)
	cache, ok := w.awsConf.Credentials.(*aws.CredentialsCache)
	require.True(t, ok, "credentials are %T", w.awsConf.Credentials)
	assert.True(t, cache.IsCredentialsProvider(&stscreds.AssumeRoleProvider{}), "the role is assumed")
}

// TestAWSS3TCP checks that the tcp block reaches the dialer of the S3 HTTP
// client, that uploads go through it, and that without it the SDK's own
// client is kept.
func TestAWSS3TCP(t *testing.T) {
	f := newFakeS3(t)
	conf, err := awsS3OutputSpec().ParseYAML(f.outputYAML()+`path: tcp.json
tcp:
  connect_timeout: 3s
  keep_alive:
    idle: 40s
    interval: 7s
    count: 4
  tcp_user_timeout: 20s
`, nil)
	require.NoError(t, err)
	w, err := newAWSS3Writer(conf, service.MockResources())
	require.NoError(t, err)
	client, ok := w.awsConf.HTTPClient.(*awshttp.BuildableClient)
	require.True(t, ok, "HTTP client is %T", w.awsConf.HTTPClient)
	d := client.GetDialer()
	assert.Equal(t, 3*time.Second, d.Timeout)
	assert.True(t, d.KeepAliveConfig.Enable)
	assert.Equal(t, 40*time.Second, d.KeepAliveConfig.Idle)
	assert.Equal(t, 7*time.Second, d.KeepAliveConfig.Interval)
	assert.Equal(t, 4, d.KeepAliveConfig.Count)
	assert.NotNil(t, d.ControlContext, "tcp_user_timeout is set on the socket")

	require.NoError(t, w.Connect(t.Context()))
	t.Cleanup(func() { assert.NoError(t, w.Close(context.Background())) })
	require.NoError(t, w.WriteBatch(t.Context(), duoEvents("tcp", 1, "authentication")), "an upload through the decorated dialer (tcp_user_timeout set on a real socket)")
	require.Len(t, f.recorded(), 1)

	// Without the block, Connect's defaults apply.
	conf, err = awsS3OutputSpec().ParseYAML("bucket: b\nregion: us-east-1\n", nil)
	require.NoError(t, err)
	w, err = newAWSS3Writer(conf, service.MockResources())
	require.NoError(t, err)
	client, ok = w.awsConf.HTTPClient.(*awshttp.BuildableClient)
	require.True(t, ok, "HTTP client is %T", w.awsConf.HTTPClient)
	d = client.GetDialer()
	assert.Zero(t, d.Timeout, "no connect timeout of its own: the upload's timeout bounds it")
	assert.True(t, d.KeepAliveConfig.Enable)
	assert.Equal(t, 15*time.Second, d.KeepAliveConfig.Idle)
	assert.Equal(t, 15*time.Second, d.KeepAliveConfig.Interval)
	assert.Equal(t, 9, d.KeepAliveConfig.Count)
}

// connectStyleS3Block uses every field of Connect's aws_s3 output that
// duostream shares, with SSE-KMS, in the layout of Connect's documentation
// (each field spelled out at its default unless the example needs it).
const connectStyleS3Block = `
aws_s3:
  bucket: acme-security-logs
  path: ${!counter()}-${!timestamp_unix_nano()}.txt
  tags:
    source: duostream
    log_type: ${! meta("duo_log_type") }
  content_type: application/octet-stream
  content_encoding: ""
  cache_control: ""
  content_disposition: ""
  content_language: ""
  website_redirect_location: ""
  metadata:
    exclude_prefixes: []
  storage_class: STANDARD
  kms_key_id: arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
  checksum_algorithm: ""
  server_side_encryption: aws:kms
  force_path_style_urls: false
  max_in_flight: 64
  timeout: 5s
  object_canned_acl: ""
  batching:
    count: 0
    byte_size: 0
    period: ""
    check: ""
  region: us-east-1
  endpoint: ""
  tcp:
    connect_timeout: 0s
    keep_alive:
      idle: 15s
      interval: 15s
      count: 9
    tcp_user_timeout: 0s
  credentials:
    profile: ""
    id: ""
    secret: ""
    token: ""
    from_ec2_role: false
    role: ""
    role_external_id: ""
`

// TestAWSS3ConnectBlocksLint checks that Connect-style aws_s3 blocks pass
// the linter unchanged and build an output, and that the linter does check
// the new enum fields and refuses the two fields Connect does not have.
// (storage_class is not linted against its list, so that it can be
// interpolated; TestAWSS3FieldConfigErrors covers a bad fixed value.)
func TestAWSS3ConnectBlocksLint(t *testing.T) {
	isolateAWSEnv(t)
	blocks := map[string]string{
		"documentation style, SSE-KMS": connectStyleS3Block,
		"every new field set": `
aws_s3:
  bucket: acme-security-logs
  path: 'duo/${! meta("duo_log_type") }/${! uuid_v4() }.json.gz'
  content_type: application/gzip
  cache_control: no-store
  content_disposition: 'attachment; filename="${! meta("duo_log_type") }.json.gz"'
  content_language: en
  website_redirect_location: /duo/index.html
  storage_class: '${! if meta("duo_log_type") == "authentication" { "STANDARD_IA" } else { "STANDARD" } }'
  server_side_encryption: aws:kms:dsse
  kms_key_id: alias/duo-logs
  checksum_algorithm: SHA256
  object_canned_acl: bucket-owner-full-control
  tags:
    team: secops
  region: eu-west-1
  tcp:
    connect_timeout: 5s
    keep_alive:
      idle: 30s
  credentials:
    role: arn:aws:iam::111122223333:role/duo-writer
    role_external_id: duostream
`,
	}
	for name, block := range blocks {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, service.NewStreamBuilder().AddOutputYAML(block), "lint of:\n%s", block)
		})
	}

	t.Run("documentation style builds with SSE-KMS", func(t *testing.T) {
		view := connectStyleS3Block[len("\naws_s3:\n"):]
		conf, err := awsS3OutputSpec().ParseYAML(unindent(view), nil)
		require.NoError(t, err)
		w, err := newAWSS3Writer(conf, service.MockResources())
		require.NoError(t, err)
		assert.Equal(t, "aws:kms", string(w.sse))
		assert.Equal(t, s3oTestKMSKey, w.kmsKeyID)
		client, ok := w.awsConf.HTTPClient.(*awshttp.BuildableClient)
		require.True(t, ok, "HTTP client is %T", w.awsConf.HTTPClient)
		assert.Equal(t, 15*time.Second, client.GetDialer().KeepAliveConfig.Idle, "the tcp block is applied")
	})

	for _, bad := range []string{
		"aws_s3:\n  bucket: b\n  object_canned_acl: everyone\n",
		"aws_s3:\n  bucket: b\n  checksum_algorithm: MD4\n",
		"aws_s3:\n  bucket: b\n  content_md5: true\n",
		"aws_s3:\n  bucket: b\n  local_file_path: /tmp/x\n",
	} {
		assert.Error(t, service.NewStreamBuilder().AddOutputYAML(bad), "lint of %q", bad)
	}
}

// unindent removes two spaces of indentation from every line.
func unindent(s string) string {
	return strings.ReplaceAll(strings.TrimPrefix(s, "  "), "\n  ", "\n")
}

// versitygw returns the S3 gateway CI starts (.ci/services/versitygw.sh),
// its bucket created, and skips the test outside CI when there is none.
func versitygw(t *testing.T) (endpoint, accessKey, secretKey, bucket string) {
	t.Helper()
	endpoint = os.Getenv(envS3Endpoint)
	if endpoint == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: CI must start the S3 gateway with .ci/services/versitygw.sh", envS3Endpoint)
		}
		t.Skipf("%s is not set; run eval \"$(bash .ci/services/versitygw.sh)\" to start an S3 gateway", envS3Endpoint)
	}
	accessKey, secretKey, bucket = os.Getenv(envS3AccessKey), os.Getenv(envS3SecretKey), os.Getenv(envS3Bucket)
	require.NotEmpty(t, accessKey, envS3AccessKey)
	require.NotEmpty(t, secretKey, envS3SecretKey)
	require.NotEmpty(t, bucket, envS3Bucket)
	_, err := testS3Client(endpoint, accessKey, secretKey).CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
	var owned *s3types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		require.NoError(t, err, "create bucket %s", bucket)
	}
	return endpoint, accessKey, secretKey, bucket
}

// recordingProxy forwards to target and records the headers of each
// PutObject request, by key.
func recordingProxy(t *testing.T, target string) (url string, puts func() map[string]http.Header) {
	t.Helper()
	u, err := neturl.Parse(target)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(u)
	var mu sync.Mutex
	seen := map[string]http.Header{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && r.URL.Query().Get("x-id") == "PutObject" {
			mu.Lock()
			seen[r.URL.Path] = r.Header.Clone()
			mu.Unlock()
		}
		// r.Host stays the proxy's, the host the request was signed for.
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() map[string]http.Header {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(seen)
	}
}

// signedHeaders returns the header names a SigV4 Authorization header signs.
func signedHeaders(h http.Header) []string {
	auth := h.Get("Authorization")
	_, rest, ok := strings.Cut(auth, "SignedHeaders=")
	if !ok {
		return nil
	}
	list, _, _ := strings.Cut(rest, ",")
	return strings.Split(list, ";")
}

// TestAWSS3FieldsAgainstVersitygw writes with each field through a real S3
// gateway that checks SigV4 signatures, behind a proxy that records the
// requests: each header reaches the gateway signed and is accepted, and
// what the gateway stores (every field but the encryption, storage class
// and ACL, which it accepts and ignores) reads back as written.
func TestAWSS3FieldsAgainstVersitygw(t *testing.T) {
	endpoint, accessKey, secretKey, bucket := versitygw(t)
	isolateAWSEnv(t)
	client := testS3Client(endpoint, accessKey, secretKey)
	proxyURL, puts := recordingProxy(t, endpoint)
	prefix := "fields-" + rand.Text()[:12]
	conn := fmt.Sprintf("bucket: %s\nregion: us-east-1\nendpoint: %s\nforce_path_style_urls: true\ncredentials:\n  id: %s\n  secret: %s\n", bucket, proxyURL, accessKey, secretKey)
	const body = `{"txid":"vg-0","log_type":"authentication"}`
	sum := sha256.Sum256([]byte(body))

	tests := []struct {
		name   string
		yaml   string
		sent   map[string]string
		stored func(t *testing.T, head *s3.HeadObjectOutput)
	}{
		{
			name: "sse-kms",
			yaml: "kms_key_id: " + s3oTestKMSKey,
			sent: map[string]string{"X-Amz-Server-Side-Encryption": "aws:kms", "X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id": s3oTestKMSKey},
		},
		{
			name: "sse-s3",
			yaml: "server_side_encryption: AES256",
			sent: map[string]string{"X-Amz-Server-Side-Encryption": "AES256"},
		},
		{
			name: "acl",
			yaml: "object_canned_acl: bucket-owner-full-control",
			sent: map[string]string{"X-Amz-Acl": "bucket-owner-full-control"},
		},
		{
			name: "storage-class",
			yaml: "storage_class: '${! \"STANDARD_IA\" }'",
			sent: map[string]string{"X-Amz-Storage-Class": "STANDARD_IA"},
		},
		{
			name: "checksum",
			yaml: "checksum_algorithm: SHA256",
			sent: map[string]string{"X-Amz-Checksum-Sha256": base64.StdEncoding.EncodeToString(sum[:])},
			stored: func(t *testing.T, h *s3.HeadObjectOutput) {
				assert.Equal(t, base64.StdEncoding.EncodeToString(sum[:]), aws.ToString(h.ChecksumSHA256))
			},
		},
		{
			name: "content-headers",
			yaml: `cache_control: no-store
content_disposition: 'attachment; filename="${! meta("duo_log_type") }.json"'
content_language: en-GB
website_redirect_location: /duo/index.html`,
			sent: map[string]string{
				"Cache-Control": "no-store", "Content-Disposition": `attachment; filename="authentication.json"`,
				"Content-Language": "en-GB", "X-Amz-Website-Redirect-Location": "/duo/index.html",
			},
			stored: func(t *testing.T, h *s3.HeadObjectOutput) {
				assert.Equal(t, "no-store", aws.ToString(h.CacheControl))
				assert.Equal(t, `attachment; filename="authentication.json"`, aws.ToString(h.ContentDisposition))
				assert.Equal(t, "en-GB", aws.ToString(h.ContentLanguage))
				assert.Equal(t, "/duo/index.html", aws.ToString(h.WebsiteRedirectLocation))
			},
		},
		{
			name: "tags",
			yaml: "tags:\n  source: duostream\n  log_type: '${! meta(\"duo_log_type\") }'",
			sent: map[string]string{"X-Amz-Tagging": "log_type=authentication&source=duostream"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := prefix + "/" + tt.name + ".json"
			conf, err := awsS3OutputSpec().ParseYAML(conn+"path: "+key+"\n"+tt.yaml+"\n", nil)
			require.NoError(t, err)
			w, err := newAWSS3Writer(conf, service.MockResources())
			require.NoError(t, err)
			require.NoError(t, w.Connect(t.Context()))
			t.Cleanup(func() { assert.NoError(t, w.Close(context.Background())) })
			require.NoError(t, w.WriteBatch(t.Context(), duoEvents("vg", 1, "authentication")), "the gateway accepts the signed upload")

			h := puts()["/"+bucket+"/"+key]
			require.NotNil(t, h, "the upload went through the proxy")
			signed := signedHeaders(h)
			for k, v := range tt.sent {
				assert.Equal(t, v, h.Get(k), "header %s", k)
				if strings.HasPrefix(strings.ToLower(k), "x-amz-") {
					assert.Contains(t, signed, strings.ToLower(k), "header %s is signed", k)
				}
			}

			head, err := client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: s3types.ChecksumModeEnabled})
			require.NoError(t, err)
			if tt.stored != nil {
				tt.stored(t, head)
			}
			if tt.name == "tags" {
				tagging, err := client.GetObjectTagging(t.Context(), &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: aws.String(key)})
				require.NoError(t, err)
				got := map[string]string{}
				for _, tag := range tagging.TagSet {
					got[aws.ToString(tag.Key)] = aws.ToString(tag.Value)
				}
				assert.Equal(t, map[string]string{"source": "duostream", "log_type": "authentication"}, got)
			}
		})
	}
}

// TestAWSS3FieldErrorHints checks the advice given when the store refuses
// what one of the new fields asked for.
func TestAWSS3FieldErrorHints(t *testing.T) {
	tests := []struct {
		code, yaml string
		want       []string
	}{
		{"AccessControlListNotSupported", "object_canned_acl: public-read", []string{"bucket owner enforced", "object_canned_acl"}},
		{"InvalidStorageClass", "storage_class: GLACIER_IR", []string{"storage_class"}},
		{"AccessDenied", "kms_key_id: " + s3oTestKMSKey, []string{"kms:GenerateDataKey", "s3:PutObjectAcl", "server_side_encryption"}},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			f := newFakeS3(t)
			f.refuse = func(string) (int, string) {
				if tt.code == "AccessDenied" {
					return http.StatusForbidden, tt.code
				}
				return http.StatusBadRequest, tt.code
			}
			err := writeOne(t, f, "path: refused.json\n"+tt.yaml+"\n", duoEvents("e", 1, "authentication"))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.code)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}
