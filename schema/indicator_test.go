// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package schema

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestIndicators checks each scanner on valid and invalid values: what it
// adds to which p_any_* field, and that bad values add nothing.
func TestIndicators(t *testing.T) {
	tests := []struct {
		ind  string
		in   string
		want string // the p_any_* members written, "" for none
	}{
		{"ip", "169.232.89.219", `,"p_any_ip_addresses":["169.232.89.219"]`},
		{"ip", " 10.0.0.1:443 ", `,"p_any_ip_addresses":["10.0.0.1"]`},
		{"ip", "[2001:db8::17]:52311", `,"p_any_ip_addresses":["2001:db8::17"]`},
		{"ip", "2001:DB8:0:0::17", `,"p_any_ip_addresses":["2001:db8::17"]`},
		{"ip", "::ffff:10.1.2.3", `,"p_any_ip_addresses":["10.1.2.3"]`},
		{"ip", "fe80::1%eth0", `,"p_any_ip_addresses":["fe80::1"]`},
		{"ip", "010.0.0.1", ""},
		{"ip", "256.1.1.1", ""},
		{"ip", "1.2.3", ""},
		{"ip", "null", ""},
		{"ip", "", ""},
		{"ip", "10.0.0.1:http", ""},
		{"hostname", "example.com", `,"p_any_domain_names":["example.com"]`},
		{"hostname", "WKSW10x64", `,"p_any_domain_names":["wksw10x64"]`},
		{"hostname", "host.corp.example.org:3389", `,"p_any_domain_names":["host.corp.example.org"]`},
		{"hostname", "example.com.", `,"p_any_domain_names":["example.com"]`},
		{"hostname", "192.0.2.10", `,"p_any_ip_addresses":["192.0.2.10"]`},
		{"hostname", "null", ""},
		{"hostname", "NULL", ""},
		{"hostname", "unknown", ""},
		{"hostname", "n/a", ""},
		{"hostname", "-", ""},
		{"hostname", "12345", ""},
		{"hostname", "a..b", ""},
		{"hostname", "-bad.example.com", ""},
		{"hostname", "with space.com", ""},
		{"hostname", "ünï.example", ""},
		{"domain", "Example.com", `,"p_any_domain_names":["example.com"]`},
		{"domain", "10.0.0.1", `,"p_any_ip_addresses":["10.0.0.1"]`},
		{"url", "https://login.example.com:8443/path?q=1", `,"p_any_domain_names":["login.example.com"]`},
		{"url", "http://10.1.1.1/x", `,"p_any_ip_addresses":["10.1.1.1"]`},
		{"url", "not a url", ""},
		{"net_addr", "db.internal:5432", `,"p_any_domain_names":["db.internal"]`},
		{"email", "narroway@example.com", `,"p_any_emails":["narroway@example.com"]`},
		{"email", "no-at-sign", ""},
		{"email", "a@localhost", ""},
		{"email", "a b@example.com", ""},
		{"username", "Homer Simpson", `,"p_any_usernames":["Homer Simpson"]`},
		{"username", "   ", ""},
		{"username", `quote"d`, `,"p_any_usernames":["quote\"d"]`},
		{"trace_id", "340a23e3-23f3-23c1-87dc-1491a23dfdbb", `,"p_any_trace_ids":["340a23e3-23f3-23c1-87dc-1491a23dfdbb"]`},
		{"md5", "D41D8CD98F00B204E9800998ECF8427E", `,"p_any_md5_hashes":["d41d8cd98f00b204e9800998ecf8427e"]`},
		{"md5", "xyz", ""},
		{"sha1", "da39a3ee5e6b4b0d3255bfef95601890afd80709", `,"p_any_sha1_hashes":["da39a3ee5e6b4b0d3255bfef95601890afd80709"]`},
		{"sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", `,"p_any_sha256_hashes":["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]`},
		{"aws_arn", "arn:aws:iam::123456789012:user/x", `,"p_any_aws_arns":["arn:aws:iam::123456789012:user/x"]`},
		{"aws_arn", "arn:partial", ""},
		{"aws_account_id", "123456789012", `,"p_any_aws_account_ids":["123456789012"]`},
		{"aws_account_id", "12345", ""},
		{"aws_instance_id", "i-0123456789abcdef0", `,"p_any_aws_instance_ids":["i-0123456789abcdef0"]`},
		{"aws_instance_id", "i-xyz", ""},
		{"aws_tag", "env:prod", `,"p_any_aws_tags":["env:prod"]`},
	}
	for _, tc := range tests {
		var c indicators
		// As for a JSON string without escapes.
		plain := !strings.ContainsAny(tc.in, "\"\\")
		c.scan(indicatorNames[tc.ind], []byte(tc.in), plain)
		assert.Equal(t, tc.want, string(c.appendTo(nil)), "%s scanner on %q", tc.ind, tc.in)
	}
}

func TestIndicatorsSortedAndDeduplicated(t *testing.T) {
	var c indicators
	for _, v := range []string{"10.0.0.2", "10.0.0.1", "10.0.0.2:80", "10.0.0.1"} {
		c.scan(indIP, []byte(v), true)
	}
	for _, v := range []string{"zed", "amy", "zed"} {
		c.scan(indUsername, []byte(v), true)
	}
	c.scan(indHostname, []byte("b.example.com"), true)
	c.scan(indHostname, []byte("A.example.com"), true)
	assert.Equal(t, `,"p_any_ip_addresses":["10.0.0.1","10.0.0.2"],"p_any_domain_names":["a.example.com","b.example.com"],"p_any_usernames":["amy","zed"]`,
		string(c.appendTo(nil)))
}
