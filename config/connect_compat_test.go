// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package config

import (
	"os"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// connectOutputFields are the fields of Redpanda Connect's kafka_franz and
// aws_s3 outputs, from Connect's v4 component documentation. An output block
// of the example pipelines may use only these, so that it can be copied into
// a Connect config unchanged.
var connectOutputFields = map[string][]string{
	"kafka_franz": {
		"seed_brokers", "client_id", "tls", "sasl", "metadata_max_age", "request_timeout_overhead", "conn_idle_timeout", "tcp",
		"topic", "key", "partition", "metadata", "timestamp_ms", "max_in_flight", "batching",
		"partitioner", "idempotent_write", "acks", "compression", "allow_auto_topic_creation", "timeout",
		"max_message_bytes", "broker_write_max_bytes", "max_buffered_records", "max_buffered_bytes",
		"max_in_flight_requests", "record_retries", "record_delivery_timeout",
	},
	"aws_s3": {
		"bucket", "path", "tags", "content_type", "content_encoding", "cache_control",
		"content_disposition", "content_language", "website_redirect_location", "metadata",
		"storage_class", "kms_key_id", "checksum_algorithm", "server_side_encryption", "force_path_style_urls",
		"max_in_flight", "timeout", "object_canned_acl", "batching", "region", "endpoint", "tcp", "credentials",
	},
}

// connectAWSS3ObjectFields are the fields inside the objects of Connect's
// aws_s3 output (batching is Benthos' own batch policy on both sides, so it
// is left out).
var connectAWSS3ObjectFields = map[string][]string{
	"metadata":       {"exclude_prefixes"},
	"tcp":            {"connect_timeout", "keep_alive", "tcp_user_timeout"},
	"tcp.keep_alive": {"idle", "interval", "count"},
	"credentials":    {"profile", "id", "secret", "token", "from_ec2_role", "role", "role_external_id"},
}

// TestConnectCompatAWSS3Fields checks that duostream's aws_s3 output has
// exactly Connect's fields, at the top level and inside its objects: a field
// only one of the two has fails the test.
func TestConnectCompatAWSS3Fields(t *testing.T) {
	children := outputFieldNames(t, "aws_s3")
	assert.ElementsMatch(t, connectOutputFields["aws_s3"], children[""], "top-level fields of aws_s3 (first list: Connect's, second: duostream's)")
	for parent, want := range connectAWSS3ObjectFields {
		assert.ElementsMatch(t, want, children[parent], "fields of aws_s3.%s (first list: Connect's, second: duostream's)", parent)
	}
}

// outputFieldNames returns the field names of a registered output, by the
// full name of the object holding them ("" for the top level).
func outputFieldNames(t *testing.T, output string) map[string][]string {
	t.Helper()
	children := map[string][]string{}
	found := false
	service.GlobalEnvironment().WalkOutputs(func(name string, view *service.ConfigView) {
		if name != output {
			return
		}
		found = true
		data, err := view.TemplateData()
		require.NoError(t, err)
		for _, f := range data.Fields {
			parent, field := "", f.FullName
			if i := strings.LastIndex(f.FullName, "."); i >= 0 {
				parent, field = f.FullName[:i], f.FullName[i+1:]
			}
			children[parent] = append(children[parent], field)
		}
	})
	require.True(t, found, "output %s is registered", output)
	return children
}

// TestOutputBlocksMoveToConnect checks every kafka_franz and aws_s3 block of
// the example pipelines against Connect's fields. The aws_s3 blocks must
// spell out their path: Connect's default path is not duostream's.
func TestOutputBlocksMoveToConnect(t *testing.T) {
	seen := map[string]int{}
	for _, file := range shippedPipelines(t) {
		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		var root yaml.Node
		require.NoError(t, yaml.Unmarshal(raw, &root), file)
		walkBlocks(&root, func(name string, block *yaml.Node) {
			allowed, ok := connectOutputFields[name]
			if !ok {
				return
			}
			seen[name]++
			var fields []string
			for i := 0; i+1 < len(block.Content); i += 2 {
				fields = append(fields, block.Content[i].Value)
			}
			for _, field := range fields {
				assert.Contains(t, allowed, field, "%s line %d: %s.%s is not a field of Connect's %s output", file, block.Line, name, field, name)
			}
			if name == "aws_s3" {
				assert.Contains(t, fields, "path", "%s line %d: aws_s3 must set path", file, block.Line)
			}
		})
	}
	assert.Equal(t, map[string]int{"kafka_franz": 4, "aws_s3": 2}, seen, "the output blocks of duo-to-kafka.yaml, duo-msp-to-kafka.yaml and duo-to-s3.yaml")
}

// walkBlocks calls fn for every mapping value held under a key.
func walkBlocks(n *yaml.Node, fn func(key string, value *yaml.Node)) {
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if v := n.Content[i+1]; v.Kind == yaml.MappingNode {
				fn(n.Content[i].Value, v)
			}
		}
	}
	for _, c := range n.Content {
		walkBlocks(c, fn)
	}
}
