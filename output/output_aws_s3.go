// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package output

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/redpanda-data/benthos/v4/public/utils/netutil"
)

const (
	s3oFieldBucket             = "bucket"
	s3oFieldPath               = "path"
	s3oFieldTags               = "tags"
	s3oFieldContentType        = "content_type"
	s3oFieldContentEncoding    = "content_encoding"
	s3oFieldCacheControl       = "cache_control"
	s3oFieldContentDisposition = "content_disposition"
	s3oFieldContentLanguage    = "content_language"
	s3oFieldWebsiteRedirect    = "website_redirect_location"
	s3oFieldStorageClass       = "storage_class"
	s3oFieldKMSKeyID           = "kms_key_id"
	s3oFieldSSE                = "server_side_encryption"
	s3oFieldChecksumAlgorithm  = "checksum_algorithm"
	s3oFieldObjectCannedACL    = "object_canned_acl"
	s3oFieldTCP                = "tcp"
	s3oFieldMetadata           = "metadata"
	s3oFieldForcePathStyleURLs = "force_path_style_urls"
	s3oFieldMaxInFlight        = "max_in_flight"
	s3oFieldTimeout            = "timeout"
	s3oFieldBatching           = "batching"
	s3oFieldRegion             = "region"
	s3oFieldEndpoint           = "endpoint"
	s3oFieldCredentials        = "credentials"
	s3oFieldCredProfile        = "profile"
	s3oFieldCredID             = "id"
	s3oFieldCredSecret         = "secret"
	s3oFieldCredToken          = "token"
	s3oFieldCredFromEC2Role    = "from_ec2_role"
	s3oFieldCredRole           = "role"
	s3oFieldCredRoleExternalID = "role_external_id"

	// s3oDefaultPath is a Hive-style data-lake layout: one prefix per Duo
	// log type, partitioned by the UTC hour the object is written in. The
	// time is formatted by a single now() call so the four parts always
	// agree, even when a write straddles the hour.
	s3oDefaultPath = `duo/${! meta("duo_log_type").or("unknown") }/${! now().ts_format("year=2006/month=01/day=02/hour=15", "UTC") }/${! uuid_v4() }.json.gz`
)

// s3oStorageClasses are the values storage_class accepts: Redpanda
// Connect's list, plus GLACIER_IR.
var s3oStorageClasses = []string{
	string(s3types.StorageClassStandard),
	string(s3types.StorageClassReducedRedundancy),
	string(s3types.StorageClassGlacier),
	string(s3types.StorageClassStandardIa),
	string(s3types.StorageClassOnezoneIa),
	string(s3types.StorageClassIntelligentTiering),
	string(s3types.StorageClassDeepArchive),
	string(s3types.StorageClassGlacierIr),
}

// s3oSSEValues are the values server_side_encryption accepts.
var s3oSSEValues = []string{
	"",
	string(s3types.ServerSideEncryptionAes256),
	string(s3types.ServerSideEncryptionAwsKms),
	string(s3types.ServerSideEncryptionAwsKmsDsse),
}

// s3oChecksumAlgorithms are the values checksum_algorithm accepts, "" for
// the SDK's choice.
var s3oChecksumAlgorithms = []string{
	"",
	string(s3types.ChecksumAlgorithmCrc32),
	string(s3types.ChecksumAlgorithmCrc32c),
	string(s3types.ChecksumAlgorithmSha1),
	string(s3types.ChecksumAlgorithmSha256),
}

// s3oCannedACLs are the values object_canned_acl accepts, "" for none.
var s3oCannedACLs = func() []string {
	acls := []string{""}
	for _, v := range s3types.ObjectCannedACL("").Values() {
		acls = append(acls, string(v))
	}
	return acls
}()

func awsS3OutputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Summary("Writes messages to an Amazon S3 bucket (or an S3-compatible store) as objects, one object per message.").
		Description(`
Every field of the `+"`aws_s3`"+` output of Redpanda Connect exists here under the same name, with
the same type and default, so an existing Connect block lints and runs unchanged. The
differences: the default `+"`path`"+` (below), `+"`timeout`"+` bounding each object rather than
the whole batch, the two credentials combinations under Credentials, and the stricter checks
of `+"`server_side_encryption`"+` and `+"`storage_class`"+` values at start-up.

### One object per message

Every message that reaches this output becomes one object (one PutObject request) at the key
given by `+"`path`"+`. To write many events as one object, collapse them into a single message
first: `+"`archive`"+` with `+"`format: lines`"+` joins the events into newline-delimited JSON and
`+"`compress`"+` with `+"`algorithm: gzip`"+` compresses the result. Put them in the output's
`+"`processors`"+` to make one object of each batch the input produced (for `+"`duo_admin_logs`"+`,
one Duo page), or in `+"`batching.processors`"+` to gather several input batches first. The
`+"`path`"+` (and every other interpolation) is then resolved against the collapsed message, whose
metadata is that of its first event and whose content is the compressed archive: take the parts
of the key from metadata, not from the content.

### Default path

The default `+"`path`"+` lays objects out the way data-lake loaders such as Panther's S3 source
expect, one prefix per log type and one partition per UTC hour:

`+"```"+`
duo/<duo_log_type>/year=YYYY/month=MM/day=DD/hour=HH/<uuid>.json.gz
`+"```"+`

The log type comes from the `+"`duo_log_type`"+` metadata the Duo input sets (`+"`unknown`"+` when
absent) and the hour is the time the object is written, not the time of its events. The
`+"`.json.gz`"+` suffix assumes the archive plus gzip layout described above. A fresh UUID per
object means a retried object is written again under a new name (see below): set a stable
`+"`path`"+` where a replay must not add events.

### Delivery and replays

A batch is acknowledged once every object of it was stored. The uploads of a batch run side by
side and independently: one that fails cancels none of the others. When some objects of a batch
fail and others are stored, the output names exactly the failed messages, for a caller that
retries by message (a `+"`switch`"+` with `+"`retry_until_success`"+` sends its whole case again);
when every object fails (always the case for a batch collapsed into one object), the error names
the whole batch. Each upload may take at most `+"`timeout`"+`, retries by the AWS SDK
included. Each error names the bucket, the key and the cause, and for an authentication or
permission error what to check; secrets never appear in errors or logs.

A retry, or a replay of unacknowledged events after a crash, uploads the object again. An upload
can also be stored by S3 and still fail (an answer that arrives after `+"`timeout`"+`, a dropped
connection), so a retry may write an object that already exists. Whether that duplicates events
depends on `+"`path`"+` only:

- **Stable keys: a replay overwrites.** When the key is derived from what the object holds, the
  retry writes the same key and S3 keeps one copy. With the `+"`duo_admin_logs`"+` input, leave
  out output-level `+"`batching`"+` (each input batch is one Duo page of one log type), collapse
  the page into one object with output `+"`processors`"+` (`+"`archive`"+` then `+"`compress`"+`)
  and build the key from the page's `+"`duo_page_id`"+` metadata (the same whenever Duo returns
  that page again) and a partition taken from the events' own time, as the worked example below
  does. Every part of the key must be stable: `+"`now()`"+`, `+"`timestamp_unix()`"+`,
  `+"`uuid_v4()`"+` or a counter make each retry a new object.
- **Random keys: a replay adds.** With `+"`uuid_v4()`"+` or the write time in the key (the default
  `+"`path`"+` has both), every retry of an object writes the same events again under a new key.
- **Where the guarantee stops.** Output-level `+"`batching`"+` gathers events of several pages
  into one object, so no key can name the events it holds, and Benthos cannot tell which pages
  an object came from: when one object of such a batch fails, every page of the batch is retried
  and rewritten, and with random keys their events are duplicated. Use batching across pages only
  when the consumer removes duplicates (Panther's `+"`p_row_id`"+` is fresh on every
  normalization, so it does not). Do not split a page into several objects with
  `+"`group_by_value`"+` in output `+"`processors`"+` either: Benthos then ties a failed object to
  its first event only, so that its other events can be taken as delivered.
- **Under a `+"`switch`"+`** (events and dead letters of one page in two cases), set
  `+"`retry_until_success: true`"+` on the switch, so that a failed case is retried by the switch
  with the same events until it is stored and the page's other case is not written again.
  Otherwise the failed part of the page goes back to the input: `+"`duo_admin_logs`"+` then replays
  the whole page (Benthos' replay of the part alone (v4.60 to v4.80) maps a second failure of it to the
  wrong events, so that with other inputs some may be taken as delivered and never written).

### Credentials

With no `+"`credentials`"+` fields set, the AWS SDK default chain is used: environment
variables, the shared config and credentials files, web identity, ECS and EC2 instance roles.
Two combinations differ from Redpanda Connect, which silently drops one of the fields:

- `+"`profile`"+` with `+"`id`"+` and `+"`secret`"+` is refused at start-up (Connect uses the
  profile and ignores the keys). Set one or the other.
- `+"`from_ec2_role`"+` with `+"`role`"+` assumes `+"`role`"+` with the instance role's
  credentials (Connect writes with the instance role and ignores `+"`role`"+`).

### Encryption

`+"`kms_key_id`"+` alone writes every object with SSE-KMS under that key
(`+"`x-amz-server-side-encryption: aws:kms`"+` and the key ID header), which is what a bucket
policy denying unencrypted or wrongly keyed uploads asks for. `+"`server_side_encryption`"+`
chooses the encryption explicitly (`+"`AES256`"+`, `+"`aws:kms`"+`, `+"`aws:kms:dsse`"+`).
With neither, no header is sent and the bucket's default encryption applies.
`).
		Fields(
			service.NewStringField(s3oFieldBucket).
				Description("The bucket to write objects to."),
			service.NewInterpolatedStringField(s3oFieldPath).
				Description("The object key, resolved for each message. For a retry or a replay to overwrite rather than add, build it only from what the object holds, such as the `duo_page_id` and event-time metadata: never from `uuid_v4()`, `now()` or a counter (see Delivery and replays above).").
				Default(s3oDefaultPath).
				Example(`duo/${! @duo_log_type }/${! @duo_hour }/${! @duo_page_id.not_null() }.json.gz`).
				Example(`duo/${! meta("duo_log_type") }/${! timestamp_unix_nano() }.ndjson`).
				Example(`${! meta("duo_log_type") }/${! now().ts_format("2006/01/02", "UTC") }/${! uuid_v4() }.json.gz`),
			service.NewInterpolatedStringMapField(s3oFieldTags).
				Description("Tags to set on each object, with interpolated values.").
				Default(map[string]any{}).
				Example(map[string]any{"source": "duostream", "log_type": `${! meta("duo_log_type") }`}).
				Advanced(),
			service.NewInterpolatedStringField(s3oFieldContentType).
				Description("The Content-Type of each object.").
				Default("application/octet-stream").
				Example("application/gzip").
				Example("application/x-ndjson"),
			service.NewInterpolatedStringField(s3oFieldContentEncoding).
				Description("The Content-Encoding of each object, empty for none. Setting `gzip` on gzip-compressed objects makes HTTP clients that download them decompress on the fly, which is rarely wanted for `.gz` files; leave it empty for the archive plus gzip layout.").
				Default("").
				Advanced(),
			service.NewInterpolatedStringField(s3oFieldCacheControl).
				Description("The Cache-Control header of each object, empty for none.").
				Default("").
				Example("no-store").
				Advanced(),
			service.NewInterpolatedStringField(s3oFieldContentDisposition).
				Description("The Content-Disposition header of each object, empty for none.").
				Default("").
				Example(`attachment; filename="${! meta("duo_log_type") }.json.gz"`).
				Advanced(),
			service.NewInterpolatedStringField(s3oFieldContentLanguage).
				Description("The Content-Language header of each object, empty for none.").
				Default("").
				Advanced(),
			service.NewInterpolatedStringField(s3oFieldWebsiteRedirect).
				Description("Where a bucket configured as a static website redirects requests for the object (`x-amz-website-redirect-location`), empty for none: a path in the same bucket starting with `/`, or an absolute URL.").
				Default("").
				Advanced(),
			service.NewMetadataExcludeFilterField(s3oFieldMetadata).
				Description("Which message metadata keys are written as object user metadata (`x-amz-meta-*`). All keys are written unless excluded."),
			service.NewInterpolatedStringField(s3oFieldStorageClass).
				Description("The storage class of each object, resolved for each message: one of `"+strings.Join(s3oStorageClasses, "`, `")+"`. A fixed value outside the list stops the output at start-up; an interpolation that resolves outside it fails that message's upload. (Redpanda Connect declares the list, without `GLACIER_IR`, as the options of the field, so its linter refuses an interpolation here; this output accepts one.)").
				Default(string(s3types.StorageClassStandard)).
				Example("STANDARD_IA").
				Example(`${! if meta("duo_log_type") == "authentication" { "INTELLIGENT_TIERING" } else { "STANDARD" } }`).
				Advanced(),
			service.NewStringField(s3oFieldKMSKeyID).
				Description("The AWS KMS key (key ID, key ARN or alias ARN) to encrypt each object with. When set and `server_side_encryption` is empty, objects are written with `aws:kms` encryption under this key; with `server_side_encryption` set it must be `aws:kms` or `aws:kms:dsse`. The credentials need `kms:GenerateDataKey` on the key.").
				Default("").
				Example("arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab").
				Advanced(),
			service.NewStringField(s3oFieldSSE).
				Description("The server-side encryption of each object: `AES256` (S3-managed keys), `aws:kms` or `aws:kms:dsse` (a KMS key: `kms_key_id`, or the account's default `aws/s3` key when that is empty). Empty sends no header, so the bucket's default encryption applies, unless `kms_key_id` is set. Any other value is refused at start-up.").
				Default("").
				Example("AES256").
				Example("aws:kms").
				Advanced(),
			service.NewStringEnumField(s3oFieldChecksumAlgorithm, s3oChecksumAlgorithms...).
				Description("The checksum the SDK computes over each object and S3 verifies and stores (`x-amz-checksum-*`). Empty leaves the choice to the AWS SDK, which sends a CRC32 checksum.").
				Default("").
				Advanced(),
			service.NewStringEnumField(s3oFieldObjectCannedACL, s3oCannedACLs...).
				Description("A canned ACL to set on each object (`x-amz-acl`), empty for none. Setting one needs `s3:PutObjectAcl` besides `s3:PutObject`. `bucket-owner-full-control` gives the bucket owner control of objects written from another account. Buckets with Object Ownership set to *bucket owner enforced* (the default for new buckets) refuse every ACL except `bucket-owner-full-control`.").
				Default("").
				Advanced(),
			service.NewBoolField(s3oFieldForcePathStyleURLs).
				Description("Address the bucket in the URL path (`https://host/bucket/key`) instead of the host name. Most S3-compatible stores (MinIO, Ceph, Versity) need this.").
				Default(false).
				Advanced(),
			service.NewOutputMaxInFlightField().
				Description("The maximum number of batches being written in parallel.").
				Default(64),
			service.NewDurationField(s3oFieldTimeout).
				Description("How long one object upload may take, SDK retries included, before it fails and its message is retried. The store may have kept an object whose answer came too late: with a stable `path` the retry overwrites it.").
				Default("5s").
				Advanced(),
			service.NewBatchPolicyField(s3oFieldBatching),
			service.NewStringField(s3oFieldRegion).
				Description("The AWS region of the bucket. When empty, the region of the AWS environment (`AWS_REGION` or the shared config profile) is used.").
				Default("").
				Example("us-east-1").
				Advanced(),
			service.NewStringField(s3oFieldEndpoint).
				Description("A custom endpoint URL, for S3-compatible stores or VPC endpoints. Empty means the AWS endpoint of the region.").
				Default("").
				Example("http://127.0.0.1:7070").
				Advanced(),
			netutil.DialerConfigSpec().
				Description("TCP settings of the connections to S3 (not those made to STS for `credentials.role` or to the EC2 instance metadata service). They replace the AWS SDK's own dialer settings (a 30s connect timeout, keep-alive probes every 30s): by default a connect is bounded only by `timeout`, and keep-alive probes start after 15s of idleness."),
			service.NewObjectField(s3oFieldCredentials,
				service.NewStringField(s3oFieldCredProfile).
					Description("A profile from the shared credentials and config files to use.").
					Default(""),
				service.NewStringField(s3oFieldCredID).
					Description("The access key ID of static credentials.").
					Default(""),
				service.NewStringField(s3oFieldCredSecret).
					Description("The secret access key of static credentials.").
					Default("").
					Secret(),
				service.NewStringField(s3oFieldCredToken).
					Description("The session token of temporary static credentials.").
					Default(""),
				service.NewBoolField(s3oFieldCredFromEC2Role).
					Description("Take credentials from the EC2 instance role (IMDS).").
					Default(false),
				service.NewStringField(s3oFieldCredRole).
					Description("The ARN of a role to assume with the credentials resolved above.").
					Default(""),
				service.NewStringField(s3oFieldCredRoleExternalID).
					Description("The external ID to present when assuming `role`.").
					Default(""),
			).
				Description("How to authenticate. Leave every field empty to use the AWS SDK default credential chain.").
				Advanced(),
		).
		Example("One gzip NDJSON object per Duo page, replay-safe",
			"Writes each page of normalised Duo events as one gzip-compressed NDJSON object, keyed by the page's identity under an hour partition taken from the time of its first event. A retry or a replay after a crash writes the same key again, so S3 holds every event once. There is no output-level `batching`: the batch the output receives is the page.",
			`
output:
  aws_s3:
    bucket: acme-panther-duo
    region: us-east-1
    path: 'duo/${! @duo_log_type }/${! @duo_hour }/${! @duo_page_id.not_null() }.json.gz'
    content_type: application/gzip
  processors:
    - mapping: |
        root = content()
        meta duo_hour = content().parse_json().p_event_time.ts_format("year=2006/month=01/day=02/hour=15", "UTC")
    - archive:
        format: lines
    - compress:
        algorithm: gzip
`).
		Example("Larger objects across pages (a replay can duplicate)",
			"Gathers up to 5000 events or a minute of them, splits them by log type and writes one gzip NDJSON object per log type under the default layout. Objects are fewer and larger, but their keys are random: when one object of a batch fails, every page of the batch is written again under new keys.",
			`
output:
  aws_s3:
    bucket: acme-panther-duo
    region: us-east-1
    content_type: application/gzip
    batching:
      count: 5000
      period: 60s
      processors:
        - group_by_value:
            value: '${! meta("duo_log_type") }'
        - archive:
            format: lines
        - compress:
            algorithm: gzip
`)
}

func init() {
	service.MustRegisterBatchOutput("aws_s3", awsS3OutputSpec(), batchOutputConstructor(newAWSS3Writer))
}

// awsS3Writer is the aws_s3 output: a service.BatchOutput that uploads each
// message of a batch as one object.
type awsS3Writer struct {
	log *service.Logger

	bucket          string
	path            *service.InterpolatedString
	tags            map[string]*service.InterpolatedString
	tagKeys         []string
	contentType     *service.InterpolatedString
	contentEncoding *service.InterpolatedString
	headers         []s3oHeaderField
	storageClass    *service.InterpolatedString
	sse             s3types.ServerSideEncryption
	kmsKeyID        string
	checksum        s3types.ChecksumAlgorithm
	acl             s3types.ObjectCannedACL
	metadata        *service.MetadataExcludeFilter
	timeout         time.Duration

	awsConf   aws.Config
	endpoint  string
	pathStyle bool

	mu     sync.RWMutex
	client *s3.Client
}

// s3oHeaderField is an interpolated field that, when it resolves to a
// non-empty value, sets one header of the upload.
type s3oHeaderField struct {
	field string
	value *service.InterpolatedString
	set   func(in *s3.PutObjectInput, value string)
}

func newAWSS3Writer(conf *service.ParsedConfig, res *service.Resources) (*awsS3Writer, error) {
	w := &awsS3Writer{log: res.Logger()}
	var err error
	if w.bucket, err = conf.FieldString(s3oFieldBucket); err != nil {
		return nil, err
	}
	if w.bucket == "" {
		return nil, fmt.Errorf("field %s: must not be empty", s3oFieldBucket)
	}
	if w.path, err = conf.FieldInterpolatedString(s3oFieldPath); err != nil {
		return nil, err
	}
	if w.tags, err = conf.FieldInterpolatedStringMap(s3oFieldTags); err != nil {
		return nil, err
	}
	for k := range w.tags {
		if k == "" {
			return nil, fmt.Errorf("field %s: tag keys must not be empty", s3oFieldTags)
		}
		w.tagKeys = append(w.tagKeys, k)
	}
	slices.Sort(w.tagKeys)
	if w.contentType, err = conf.FieldInterpolatedString(s3oFieldContentType); err != nil {
		return nil, err
	}
	if w.contentEncoding, err = conf.FieldInterpolatedString(s3oFieldContentEncoding); err != nil {
		return nil, err
	}
	for _, h := range []struct {
		field string
		set   func(*s3.PutObjectInput, string)
	}{
		{s3oFieldCacheControl, func(in *s3.PutObjectInput, v string) { in.CacheControl = aws.String(v) }},
		{s3oFieldContentDisposition, func(in *s3.PutObjectInput, v string) { in.ContentDisposition = aws.String(v) }},
		{s3oFieldContentLanguage, func(in *s3.PutObjectInput, v string) { in.ContentLanguage = aws.String(v) }},
		{s3oFieldWebsiteRedirect, func(in *s3.PutObjectInput, v string) { in.WebsiteRedirectLocation = aws.String(v) }},
	} {
		value, err := conf.FieldInterpolatedString(h.field)
		if err != nil {
			return nil, err
		}
		w.headers = append(w.headers, s3oHeaderField{field: h.field, value: value, set: h.set})
	}
	if w.storageClass, err = conf.FieldInterpolatedString(s3oFieldStorageClass); err != nil {
		return nil, err
	}
	if static, ok := w.storageClass.Static(); ok && !slices.Contains(s3oStorageClasses, static) {
		return nil, fmt.Errorf("field %s: %q is not one of %v", s3oFieldStorageClass, static, s3oStorageClasses)
	}
	if w.kmsKeyID, err = conf.FieldString(s3oFieldKMSKeyID); err != nil {
		return nil, err
	}
	sse, err := conf.FieldString(s3oFieldSSE)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(s3oSSEValues, sse) {
		return nil, fmt.Errorf("field %s: %q is not one of AES256, aws:kms or aws:kms:dsse", s3oFieldSSE, sse)
	}
	w.sse = s3types.ServerSideEncryption(sse)
	if w.kmsKeyID != "" {
		switch w.sse {
		case "":
			w.sse = s3types.ServerSideEncryptionAwsKms
		case s3types.ServerSideEncryptionAwsKms, s3types.ServerSideEncryptionAwsKmsDsse:
		default:
			return nil, fmt.Errorf("field %s: set, but %s is %q: a KMS key needs aws:kms or aws:kms:dsse", s3oFieldKMSKeyID, s3oFieldSSE, w.sse)
		}
	}
	checksum, err := conf.FieldString(s3oFieldChecksumAlgorithm)
	if err != nil {
		return nil, err
	}
	w.checksum = s3types.ChecksumAlgorithm(checksum)
	acl, err := conf.FieldString(s3oFieldObjectCannedACL)
	if err != nil {
		return nil, err
	}
	w.acl = s3types.ObjectCannedACL(acl)
	if w.metadata, err = conf.FieldMetadataExcludeFilter(s3oFieldMetadata); err != nil {
		return nil, err
	}
	if w.pathStyle, err = conf.FieldBool(s3oFieldForcePathStyleURLs); err != nil {
		return nil, err
	}
	if w.timeout, err = conf.FieldDuration(s3oFieldTimeout); err != nil {
		return nil, err
	}
	if w.timeout <= 0 {
		return nil, fmt.Errorf("field %s: must be positive, got %v", s3oFieldTimeout, w.timeout)
	}

	if w.endpoint, err = conf.FieldString(s3oFieldEndpoint); err != nil {
		return nil, err
	}
	if w.endpoint != "" {
		u, err := url.Parse(w.endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("field %s: %q is not an http(s) URL", s3oFieldEndpoint, w.endpoint)
		}
	}

	dialer, err := netutil.DialerConfigFromParsed(conf.Namespace(s3oFieldTCP))
	if err == nil {
		err = dialer.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("field %s: %w", s3oFieldTCP, err)
	}

	region, err := conf.FieldString(s3oFieldRegion)
	if err != nil {
		return nil, err
	}
	if w.awsConf, err = awsConfigFromParsed(context.Background(), conf.Namespace(s3oFieldCredentials), region); err != nil {
		return nil, err
	}
	var dialErr error
	w.awsConf.HTTPClient = awshttp.NewBuildableClient().WithDialerOptions(func(nd *net.Dialer) {
		dialErr = netutil.DecorateDialer(nd, dialer)
	})
	if dialErr != nil {
		return nil, fmt.Errorf("field %s: %w", s3oFieldTCP, dialErr)
	}
	if w.awsConf.Region == "" {
		return nil, fmt.Errorf("field %s: not set, and the AWS environment names no region (set AWS_REGION or a region in the shared config profile)", s3oFieldRegion)
	}
	return w, nil
}

// awsConfigFromParsed resolves the AWS SDK configuration from the credentials
// object (see parseAWSCredentials). It reads local files and the environment
// only; no request is made.
func awsConfigFromParsed(ctx context.Context, creds *service.ParsedConfig, region string) (aws.Config, error) {
	c, err := parseAWSCredentials(creds, s3oFieldCredentials)
	if err != nil {
		return aws.Config{}, err
	}
	conf, err := c.load(ctx, region)
	if err != nil {
		return aws.Config{}, err
	}
	c.assumeRole(&conf)
	return conf, nil
}

// Connect builds the S3 client. It makes no request: a write-only IAM policy
// (s3:PutObject alone) is enough for this output, so there is nothing else
// it could check without needing more permissions.
func (w *awsS3Writer) Connect(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	client := s3.NewFromConfig(w.awsConf, func(o *s3.Options) {
		o.UsePathStyle = w.pathStyle
		if w.endpoint != "" {
			o.BaseEndpoint = aws.String(w.endpoint)
		}
	})
	w.mu.Lock()
	w.client = client
	w.mu.Unlock()
	return nil
}

// s3oMaxParallelPuts bounds the uploads of one batch that run at once.
const s3oMaxParallelPuts = 8

// WriteBatch uploads each message of the batch as one object, several at a
// time and independently: a failed upload cancels none of the others. When
// only some fail, it returns a *service.BatchError naming exactly those, for
// a caller that retries by message. When all fail it returns a plain error,
// so the whole batch is retried: a batch error would name only the first
// event of a message that archive collapsed from many, and upstream would
// take the others as delivered.
func (w *awsS3Writer) WriteBatch(ctx context.Context, batch service.MessageBatch) error {
	w.mu.RLock()
	client := w.client
	w.mu.RUnlock()
	if client == nil {
		return service.ErrNotConnected
	}

	start := time.Now()
	// Interpolation may read other messages of the batch, so the requests
	// are built one after another; only the uploads run side by side.
	errs := make([]error, len(batch))
	reqs := make([]*s3.PutObjectInput, len(batch))
	for i, msg := range batch {
		reqs[i], errs[i] = w.request(batch, i, msg)
	}
	sem := make(chan struct{}, s3oMaxParallelPuts)
	var wg sync.WaitGroup
	for i, in := range reqs {
		if in == nil {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = w.put(ctx, client, in)
		})
	}
	wg.Wait()

	switch failed := countErrs(errs); {
	case failed == 0:
		w.log.Debugf("Wrote %d objects to s3://%s in %v", len(batch), w.bucket, time.Since(start).Round(time.Millisecond))
		return nil
	case failed < len(batch):
		batchErr := service.NewBatchError(batch, errors.Join(errs...))
		for i, err := range errs {
			if err != nil {
				batchErr.Failed(i, err)
			}
		}
		w.log.Debugf("Wrote %d of %d objects to s3://%s in %v; %d failed", len(batch)-failed, len(batch), w.bucket, time.Since(start).Round(time.Millisecond), failed)
		return batchErr
	case len(batch) == 1:
		return errs[0]
	default:
		return fmt.Errorf("all %d objects failed: %w", failed, errors.Join(errs...))
	}
}

// request builds the upload of message i of batch.
func (w *awsS3Writer) request(batch service.MessageBatch, i int, msg *service.Message) (*s3.PutObjectInput, error) {
	body, err := msg.AsBytes()
	if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	key, err := batch.TryInterpolatedString(i, w.path)
	if err != nil {
		return nil, fmt.Errorf("interpolate %s: %w", s3oFieldPath, err)
	}
	if key == "" {
		return nil, fmt.Errorf("interpolate %s: the object key is empty", s3oFieldPath)
	}
	contentType, err := batch.TryInterpolatedString(i, w.contentType)
	if err != nil {
		return nil, fmt.Errorf("interpolate %s: %w", s3oFieldContentType, err)
	}
	contentEncoding, err := batch.TryInterpolatedString(i, w.contentEncoding)
	if err != nil {
		return nil, fmt.Errorf("interpolate %s: %w", s3oFieldContentEncoding, err)
	}

	in := &s3.PutObjectInput{
		Bucket:        aws.String(w.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
		ContentType:   aws.String(contentType),
	}
	if contentEncoding != "" {
		in.ContentEncoding = aws.String(contentEncoding)
	}
	for _, h := range w.headers {
		v, err := batch.TryInterpolatedString(i, h.value)
		if err != nil {
			return nil, fmt.Errorf("interpolate %s: %w", h.field, err)
		}
		if v != "" {
			h.set(in, v)
		}
	}
	storageClass, err := batch.TryInterpolatedString(i, w.storageClass)
	if err != nil {
		return nil, fmt.Errorf("interpolate %s: %w", s3oFieldStorageClass, err)
	}
	if !slices.Contains(s3oStorageClasses, storageClass) {
		return nil, fmt.Errorf("interpolate %s: %q is not one of %v", s3oFieldStorageClass, storageClass, s3oStorageClasses)
	}
	in.StorageClass = s3types.StorageClass(storageClass)
	in.ServerSideEncryption = w.sse
	if w.kmsKeyID != "" {
		in.SSEKMSKeyId = aws.String(w.kmsKeyID)
	}
	in.ChecksumAlgorithm = w.checksum
	in.ACL = w.acl
	if len(w.tagKeys) > 0 {
		tags := url.Values{}
		for _, k := range w.tagKeys {
			v, err := batch.TryInterpolatedString(i, w.tags[k])
			if err != nil {
				return nil, fmt.Errorf("interpolate %s.%s: %w", s3oFieldTags, k, err)
			}
			tags.Set(k, v)
		}
		in.Tagging = aws.String(tags.Encode())
	}
	_ = w.metadata.Walk(msg, func(k, v string) error {
		if in.Metadata == nil {
			in.Metadata = map[string]string{}
		}
		in.Metadata[k] = v
		return nil
	})
	return in, nil
}

// put sends one upload, within the output's timeout.
func (w *awsS3Writer) put(ctx context.Context, client *s3.Client, in *s3.PutObjectInput) error {
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	if _, err := client.PutObject(ctx, in); err != nil {
		return fmt.Errorf("put s3://%s/%s: %w%s", w.bucket, *in.Key, err, s3ErrorHint(err, w.bucket, w.timeout))
	}
	return nil
}

// s3ErrorHint returns advice for the S3 errors a configuration change
// fixes, and says what a timeout means for the object.
func s3ErrorHint(err error, bucket string, timeout time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf(" (no answer within %s %s: the store may have kept the object anyway; it is retried, and only a stable %s makes the retry overwrite it)", s3oFieldTimeout, timeout, s3oFieldPath)
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return ""
	}
	switch apiErr.ErrorCode() {
	case "SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken", "ExpiredToken", "InvalidClientTokenId", "AuthorizationHeaderMalformed":
		return fmt.Sprintf(" (the store rejected the credentials: check %[1]s.id, %[1]s.secret and %[1]s.token, or the profile, role or default-chain credentials they resolve to, and the region)", s3oFieldCredentials)
	case "AccessDenied", "Forbidden":
		return fmt.Sprintf(" (permission denied: check that the credentials' IAM policy allows s3:PutObject on bucket %[1]q and this key, s3:PutObjectTagging when tags are set and s3:PutObjectAcl when object_canned_acl is; that the bucket policy (which may demand server_side_encryption or a kms_key_id), an SCP or a VPC endpoint policy does not deny it; and, for SSE-KMS (kms_key_id or the bucket's default key), that the key policy allows kms:GenerateDataKey; it is retried until then)", bucket)
	case "AccessControlListNotSupported":
		return fmt.Sprintf(" (bucket %q has Object Ownership set to bucket owner enforced, which refuses ACLs: leave %s empty or set it to bucket-owner-full-control)", bucket, s3oFieldObjectCannedACL)
	case "InvalidStorageClass":
		return fmt.Sprintf(" (the store does not offer this %s: choose another, or leave the default STANDARD)", s3oFieldStorageClass)
	case "KMS.AccessDeniedException", "KMS.DisabledException", "KMS.NotFoundException", "KMS.KMSInvalidStateException":
		return fmt.Sprintf(" (the bucket's KMS key refused: check that its key policy allows kms:GenerateDataKey to the credentials and that the key is enabled; bucket %q)", bucket)
	case "NoSuchBucket":
		return fmt.Sprintf(" (bucket %q does not exist in this region or endpoint)", bucket)
	case "SlowDown", "ServiceUnavailable", "InternalError":
		return " (the store is overloaded or failing; it is retried; lower max_in_flight if it persists)"
	}
	return ""
}

// Close releases the client; uploads have all returned by the time it is
// called.
func (w *awsS3Writer) Close(context.Context) error {
	w.mu.Lock()
	w.client = nil
	w.mu.Unlock()
	return nil
}
