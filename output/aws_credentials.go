// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package output

import (
	"context"
	"fmt"
	"net"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/redpanda-data/benthos/v4/public/service"
)

// The fields of an AWS session block (Connect's shape): region, endpoint,
// tcp and credentials.
const (
	awsFieldRegion             = "region"
	awsFieldEndpoint           = "endpoint"
	awsFieldTCP                = "tcp"
	awsFieldCredentials        = "credentials"
	awsFieldCredProfile        = "profile"
	awsFieldCredID             = "id"
	awsFieldCredSecret         = "secret"
	awsFieldCredToken          = "token"
	awsFieldCredFromEC2Role    = "from_ec2_role"
	awsFieldCredRole           = "role"
	awsFieldCredRoleExternalID = "role_external_id"
)

// awsSessionFields returns the fields of an AWS session block: the region,
// an endpoint, socket settings and the credentials object. what says what
// the session is for, in the descriptions. Resolve a parsed block with
// awsConfigFromSession.
func awsSessionFields(what string) []*service.ConfigField {
	return []*service.ConfigField{
		service.NewStringField(awsFieldRegion).
			Description("The AWS region used to resolve credentials " + what + ". When empty, the region of the AWS environment (`AWS_REGION` or the shared config profile) is used.").
			Default("").
			Example("us-east-1"),
		service.NewStringField(awsFieldEndpoint).
			Description("A custom AWS endpoint URL, used for the STS requests that assume `credentials.role`. Empty means the AWS endpoint of the region.").
			Default(""),
		tcpField("the HTTP requests made to AWS while resolving credentials (STS for `credentials.role`, and the instance metadata service when the default chain reaches it; `from_ec2_role` uses the SDK's own client)"),
		awsCredentialsField(),
	}
}

// awsCredentialsField is the credentials object of an AWS session block.
func awsCredentialsField() *service.ConfigField {
	return service.NewObjectField(awsFieldCredentials,
		service.NewStringField(awsFieldCredProfile).
			Description("A profile from the shared credentials and config files to use.").
			Default(""),
		service.NewStringField(awsFieldCredID).
			Description("The access key ID of static credentials.").
			Default(""),
		service.NewStringField(awsFieldCredSecret).
			Description("The secret access key of static credentials.").
			Default("").
			Secret(),
		service.NewStringField(awsFieldCredToken).
			Description("The session token of temporary static credentials.").
			Default("").
			Secret(),
		service.NewBoolField(awsFieldCredFromEC2Role).
			Description("Take credentials from the EC2 instance role (IMDS).").
			Default(false),
		service.NewStringField(awsFieldCredRole).
			Description("The ARN of a role to assume with the credentials resolved above.").
			Default(""),
		service.NewStringField(awsFieldCredRoleExternalID).
			Description("The external ID to present when assuming `role`.").
			Default(""),
	).
		Description("How to authenticate. Leave every field empty to use the AWS SDK default credential chain: environment variables, the shared config and credentials files, web identity, ECS and EC2 instance roles.")
}

// awsConfigFromSession resolves the AWS SDK configuration of a parsed AWS
// session block (see awsSessionFields): static keys, a shared profile, the
// EC2 instance role, an assumed role on top of any of those, or the default
// chain when all are empty. field names the block in errors. It reads local
// files and the environment only; no request is made until credentials are
// first retrieved.
func awsConfigFromSession(ctx context.Context, conf *service.ParsedConfig, field string) (aws.Config, error) {
	name := func(parts ...string) string {
		out := field
		for _, p := range parts {
			out += "." + p
		}
		return out
	}
	region, err := conf.FieldString(awsFieldRegion)
	if err != nil {
		return aws.Config{}, err
	}
	endpoint, err := conf.FieldString(awsFieldEndpoint)
	if err != nil {
		return aws.Config{}, err
	}
	if endpoint != "" {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return aws.Config{}, fmt.Errorf("field %s: %q is not an http(s) URL", name(awsFieldEndpoint), endpoint)
		}
	}
	dialer, err := tcpDialerFromParsed(conf.Namespace(awsFieldTCP), name(awsFieldTCP))
	if err != nil {
		return aws.Config{}, err
	}

	c, err := parseAWSCredentials(conf.Namespace(awsFieldCredentials), name(awsFieldCredentials))
	if err != nil {
		return aws.Config{}, err
	}
	awsConf, err := c.load(ctx, region, config.WithHTTPClient(awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) {
		d.Timeout = dialer.Timeout
		d.KeepAliveConfig = dialer.KeepAliveConfig
		d.Control = nil
		d.ControlContext = dialer.ControlContext
	})))
	if err != nil {
		return aws.Config{}, err
	}
	if endpoint != "" {
		awsConf.BaseEndpoint = aws.String(endpoint)
	}
	c.assumeRole(&awsConf)
	return awsConf, nil
}

// awsCredentials is a parsed credentials object of an AWS block.
type awsCredentials struct {
	field                                   string // the object's path, for errors
	profile, id, secret, token, role, extID string
	fromEC2                                 bool
}

// parseAWSCredentials reads the credentials object creds, found at field,
// and refuses combinations that cannot mean what they say.
func parseAWSCredentials(creds *service.ParsedConfig, field string) (awsCredentials, error) {
	c := awsCredentials{field: field}
	cred := func(n string) string { return field + "." + n }
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{awsFieldCredProfile, &c.profile},
		{awsFieldCredID, &c.id},
		{awsFieldCredSecret, &c.secret},
		{awsFieldCredToken, &c.token},
		{awsFieldCredRole, &c.role},
		{awsFieldCredRoleExternalID, &c.extID},
	} {
		var err error
		if *f.dst, err = creds.FieldString(f.name); err != nil {
			return c, err
		}
	}
	var err error
	if c.fromEC2, err = creds.FieldBool(awsFieldCredFromEC2Role); err != nil {
		return c, err
	}
	switch {
	case c.id != "" && c.secret == "":
		return c, fmt.Errorf("field %s: required when %s is set", cred(awsFieldCredSecret), cred(awsFieldCredID))
	case c.id == "" && c.secret != "":
		return c, fmt.Errorf("field %s: required when %s is set", cred(awsFieldCredID), cred(awsFieldCredSecret))
	case c.id == "" && c.token != "":
		return c, fmt.Errorf("field %s: only meaningful with %s and %s", cred(awsFieldCredToken), cred(awsFieldCredID), cred(awsFieldCredSecret))
	case c.id != "" && c.fromEC2:
		return c, fmt.Errorf("field %s: cannot be combined with static credentials in %s", cred(awsFieldCredFromEC2Role), cred(awsFieldCredID))
	case c.profile != "" && c.id != "":
		return c, fmt.Errorf("field %s: cannot be combined with static credentials in %s (Redpanda Connect would use the profile and ignore the keys): set one or the other", cred(awsFieldCredProfile), cred(awsFieldCredID))
	case c.extID != "" && c.role == "":
		return c, fmt.Errorf("field %s: only meaningful with %s", cred(awsFieldCredRoleExternalID), cred(awsFieldCredRole))
	}
	return c, nil
}

// load resolves the AWS SDK configuration of c in region (empty: the
// environment's), with opts: static keys, a shared profile, the EC2
// instance role, or the default chain when all are empty. It reads local
// files and the environment only. Assuming c's role is assumeRole's, once
// the endpoint is set.
func (c awsCredentials) load(ctx context.Context, region string, opts ...func(*config.LoadOptions) error) (aws.Config, error) {
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if c.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(c.profile))
	}
	switch {
	case c.id != "":
		opts = append(opts, config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(c.id, c.secret, c.token)))
	case c.fromEC2:
		opts = append(opts, config.WithCredentialsProvider(aws.NewCredentialsCache(ec2rolecreds.New())))
	}
	conf, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		if c.profile != "" {
			return aws.Config{}, fmt.Errorf("field %s.%s: load AWS profile %q: %w", c.field, awsFieldCredProfile, c.profile, err)
		}
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	return conf, nil
}

// assumeRole makes conf assume c's role, if it names one, with the
// credentials conf resolved and at conf's endpoint.
func (c awsCredentials) assumeRole(conf *aws.Config) {
	if c.role == "" {
		return
	}
	stsClient := sts.NewFromConfig(*conf)
	conf.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, c.role, func(o *stscreds.AssumeRoleOptions) {
		if c.extID != "" {
			o.ExternalID = aws.String(c.extID)
		}
	}))
}
