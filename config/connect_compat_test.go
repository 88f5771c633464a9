// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package config

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	_ "github.com/duostream/duostream/metrics"
)

// connectKafkaFields are the fields of Redpanda Connect's kafka_franz output
// (its connection, writer and producer fields), from Connect's v4 source and
// documentation; rack_id and timestamp are deprecated there.
var connectKafkaFields = []string{
	"seed_brokers", "client_id", "tls", "sasl", "metadata_max_age", "request_timeout_overhead", "conn_idle_timeout", "tcp",
	"topic", "key", "partition", "metadata", "timestamp", "timestamp_ms", "max_in_flight", "batching", "rack_id",
	"partitioner", "idempotent_write", "acks", "compression", "allow_auto_topic_creation", "timeout",
	"max_message_bytes", "broker_write_max_bytes", "max_buffered_records", "max_buffered_bytes",
	"max_in_flight_requests", "record_retries", "record_delivery_timeout",
}

// connectComponents are the fields of the Redpanda Connect components that
// duostream has too, by component and by the full name of the object
// holding them ("" for the top level). An output block of the example
// pipelines may use only these, so that it can be copied into a Connect
// config unchanged, and duostream's components must have exactly these.
var connectComponents = []struct {
	kind, name string
	fields     map[string][]string
}{
	{"output", "kafka_franz", map[string][]string{"": connectKafkaFields}},
	{"output", "redpanda", map[string][]string{
		// The redpanda output is kafka_franz without rack_id, with
		// inject_tracing_map.
		"": append(slices.DeleteFunc(slices.Clone(connectKafkaFields), func(f string) bool { return f == "rack_id" }), "inject_tracing_map"),
	}},
	{"output", "aws_s3", map[string][]string{
		"": {
			"bucket", "path", "tags", "content_type", "content_encoding", "cache_control",
			"content_disposition", "content_language", "website_redirect_location", "metadata",
			"storage_class", "kms_key_id", "checksum_algorithm", "server_side_encryption", "force_path_style_urls",
			"max_in_flight", "timeout", "object_canned_acl", "batching", "region", "endpoint", "tcp", "credentials",
		},
		"metadata":       {"exclude_prefixes"},
		"tcp":            {"connect_timeout", "keep_alive", "tcp_user_timeout"},
		"tcp.keep_alive": {"idle", "interval", "count"},
		"credentials":    {"profile", "id", "secret", "token", "from_ec2_role", "role", "role_external_id"},
	}},
	{"cache", "redis", map[string][]string{
		"":        {"url", "kind", "master", "client_name", "tls", "prefix", "default_ttl", "retries"},
		"retries": {"initial_interval", "max_interval", "max_elapsed_time"},
	}},
	{"metrics", "prometheus", map[string][]string{
		"": {
			"use_histogram_timing", "histogram_buckets", "summary_quantiles_objectives", "add_process_metrics",
			"add_go_metrics", "push_url", "push_interval", "push_job_name", "push_basic_auth", "file_output_path",
		},
		"summary_quantiles_objectives": {"quantile", "error"},
		"push_basic_auth":              {"username", "password"},
	}},
}

// TestConnectCompatFields checks that each of duostream's components listed
// in connectComponents has exactly Connect's fields, at the top level and
// inside the objects listed: a field only one of the two has fails the test.
// Benthos' own blocks (tls, batching, the kafka sasl and tcp objects) are the
// same on both sides and left out, except where the list names them.
func TestConnectCompatFields(t *testing.T) {
	for _, c := range connectComponents {
		t.Run(c.kind+"/"+c.name, func(t *testing.T) {
			children := componentFieldNames(t, c.kind, c.name)
			for parent, want := range c.fields {
				assert.ElementsMatch(t, want, children[parent], "fields of %s %s at %q (first list: Connect's, second: duostream's)", c.kind, c.name, parent)
			}
		})
	}
}

// componentFieldNames returns the field names of a registered component,
// deprecated ones included, by the full name of the object holding them (""
// for the top level).
func componentFieldNames(t *testing.T, kind, component string) map[string][]string {
	t.Helper()
	type field struct {
		Name     string  `json:"name"`
		Children []field `json:"children"`
	}
	children := map[string][]string{}
	var walk func(parent string, fields []field)
	walk = func(parent string, fields []field) {
		for _, f := range fields {
			children[parent] = append(children[parent], f.Name)
			walk(strings.TrimPrefix(parent+"."+f.Name, "."), f.Children)
		}
	}
	found := false
	visit := func(name string, view *service.ConfigView) {
		if name != component {
			return
		}
		found = true
		raw, err := view.FormatJSON()
		require.NoError(t, err)
		var spec struct {
			Config field `json:"config"`
		}
		require.NoError(t, json.Unmarshal(raw, &spec))
		walk("", spec.Config.Children)
	}
	env := service.GlobalEnvironment()
	switch kind {
	case "output":
		env.WalkOutputs(visit)
	case "cache":
		env.WalkCaches(visit)
	case "metrics":
		env.WalkMetrics(visit)
	default:
		t.Fatalf("unknown component kind %s", kind)
	}
	require.True(t, found, "%s %s is registered", kind, component)
	return children
}

// connectFieldsOf returns Connect's top-level fields of the named output.
func connectFieldsOf(output string) ([]string, bool) {
	for _, c := range connectComponents {
		if c.kind == "output" && c.name == output {
			return c.fields[""], true
		}
	}
	return nil, false
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
			allowed, ok := connectFieldsOf(name)
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
	assert.Equal(t, map[string]int{"kafka_franz": 4, "aws_s3": 9}, seen, "the output blocks of duo-to-kafka.yaml, duo-msp-to-kafka.yaml, duo-to-s3.yaml and duo-to-security-lake.yaml")
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
