// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package output

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/redpanda-data/benthos/v4/public/service"
)

const (
	s3oFieldBucket             = "bucket"
	s3oFieldPath               = "path"
	s3oFieldTags               = "tags"
	s3oFieldContentType        = "content_type"
	s3oFieldContentEncoding    = "content_encoding"
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

func awsS3OutputSpec() *service.ConfigSpec {
	return service.NewConfigSpec().
		Beta().
		Categories("Services").
		Summary("Writes messages to an Amazon S3 bucket (or an S3-compatible store) as objects, one object per message.").
		Description(`
The field names and shapes follow the `+"`aws_s3`"+` output of Redpanda Connect, so an existing
`+"`aws_s3`"+` block carries over as long as it uses the fields documented here.

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
  the whole page (Benthos v4.60's replay of the part alone maps a second failure of it to the
  wrong events, so that with other inputs some may be taken as delivered and never written).

### Credentials

With no `+"`credentials`"+` fields set, the AWS SDK default chain is used: environment
variables, the shared config and credentials files, web identity, ECS and EC2 instance roles.
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
			service.NewMetadataExcludeFilterField(s3oFieldMetadata).
				Description("Which message metadata keys are written as object user metadata (`x-amz-meta-*`). All keys are written unless excluded."),
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
	metadata        *service.MetadataExcludeFilter
	timeout         time.Duration

	awsConf   aws.Config
	endpoint  string
	pathStyle bool

	mu     sync.RWMutex
	client *s3.Client
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

	region, err := conf.FieldString(s3oFieldRegion)
	if err != nil {
		return nil, err
	}
	if w.awsConf, err = awsConfigFromParsed(context.Background(), conf.Namespace(s3oFieldCredentials), region); err != nil {
		return nil, err
	}
	if w.awsConf.Region == "" {
		return nil, fmt.Errorf("field %s: not set, and the AWS environment names no region (set AWS_REGION or a region in the shared config profile)", s3oFieldRegion)
	}
	return w, nil
}

// awsConfigFromParsed resolves the AWS SDK configuration from the credentials
// object: static keys, a shared profile, the EC2 instance role, an assumed
// role on top of any of those, or the default chain when all are empty. It
// reads local files and the environment only; no request is made.
func awsConfigFromParsed(ctx context.Context, creds *service.ParsedConfig, region string) (aws.Config, error) {
	field := func(name string) string { return s3oFieldCredentials + "." + name }
	str := func(name string) (string, error) { return creds.FieldString(name) }

	profile, err := str(s3oFieldCredProfile)
	if err != nil {
		return aws.Config{}, err
	}
	id, err := str(s3oFieldCredID)
	if err != nil {
		return aws.Config{}, err
	}
	secret, err := str(s3oFieldCredSecret)
	if err != nil {
		return aws.Config{}, err
	}
	token, err := str(s3oFieldCredToken)
	if err != nil {
		return aws.Config{}, err
	}
	fromEC2, err := creds.FieldBool(s3oFieldCredFromEC2Role)
	if err != nil {
		return aws.Config{}, err
	}
	role, err := str(s3oFieldCredRole)
	if err != nil {
		return aws.Config{}, err
	}
	externalID, err := str(s3oFieldCredRoleExternalID)
	if err != nil {
		return aws.Config{}, err
	}

	switch {
	case id != "" && secret == "":
		return aws.Config{}, fmt.Errorf("field %s: required when %s is set", field(s3oFieldCredSecret), field(s3oFieldCredID))
	case id == "" && secret != "":
		return aws.Config{}, fmt.Errorf("field %s: required when %s is set", field(s3oFieldCredID), field(s3oFieldCredSecret))
	case id == "" && token != "":
		return aws.Config{}, fmt.Errorf("field %s: only meaningful with %s and %s", field(s3oFieldCredToken), field(s3oFieldCredID), field(s3oFieldCredSecret))
	case id != "" && fromEC2:
		return aws.Config{}, fmt.Errorf("field %s: cannot be combined with static credentials in %s", field(s3oFieldCredFromEC2Role), field(s3oFieldCredID))
	case externalID != "" && role == "":
		return aws.Config{}, fmt.Errorf("field %s: only meaningful with %s", field(s3oFieldCredRoleExternalID), field(s3oFieldCredRole))
	}

	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(profile))
	}
	switch {
	case id != "":
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(id, secret, token)))
	case fromEC2:
		opts = append(opts, config.WithCredentialsProvider(aws.NewCredentialsCache(ec2rolecreds.New())))
	}
	conf, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		if profile != "" {
			return aws.Config{}, fmt.Errorf("field %s: load AWS profile %q: %w", field(s3oFieldCredProfile), profile, err)
		}
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if role != "" {
		stsClient := sts.NewFromConfig(conf)
		conf.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, role, func(o *stscreds.AssumeRoleOptions) {
			if externalID != "" {
				o.ExternalID = aws.String(externalID)
			}
		}))
	}
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
		return fmt.Sprintf(" (permission denied: check that the credentials' IAM policy allows s3:PutObject on bucket %[1]q and this key, and s3:PutObjectTagging when tags are set; that the bucket policy, an SCP or a VPC endpoint policy does not deny it; and, for a bucket encrypted with a KMS key, that the key policy allows kms:GenerateDataKey; it is retried until then)", bucket)
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
