// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/redpanda-data/benthos/v4/public/bloblang"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBloblangOCSFEquivalent checks that the Bloblang OCSF mappings are a
// fair comparison: on every benchmark event they give exactly what
// duo_ocsf gives, and the same ocsf_class_uid metadata. Neither writes a
// volatile field (metadata.logged_time is only set by callers that ask
// for it).
func TestBloblangOCSFEquivalent(t *testing.T) {
	for _, lt := range OCSFLogTypes {
		t.Run(lt, func(t *testing.T) {
			duo, err := DuoOCSF(lt)
			require.NoError(t, err)
			blobl, err := BloblangOCSF(lt)
			require.NoError(t, err)
			events := Events(lt, 500)
			as, err := duo.Do(events...)
			require.NoError(t, err)
			bs, err := blobl.Do(events...)
			require.NoError(t, err)
			require.Len(t, as, len(events))
			require.Len(t, bs, len(events))
			for i := range events {
				assert.Equal(t, decode(t, as[i]), decode(t, bs[i]), "event %d: %s", i, events[i])
			}

			// duo_ocsf sets the metadata on the messages it is given; the
			// mapping on the messages it returns.
			batch := messagesIn(lt)(events).(service.MessageBatch)
			require.NoError(t, duo.Run(batch, nil))
			m, err := OCSFMapping(lt)
			require.NoError(t, err)
			exec, err := bloblang.Parse(m)
			require.NoError(t, err)
			for i, msg := range messagesIn(lt)(events).(service.MessageBatch) {
				out, err := msg.BloblangQuery(exec)
				require.NoError(t, err)
				want, _ := batch[i].MetaGet("ocsf_class_uid")
				got, _ := out.MetaGet("ocsf_class_uid")
				assert.Equal(t, want, got, "ocsf_class_uid of event %d", i)
			}
		})
	}
}

func decode(t *testing.T, out []byte) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(out, &m))
	return m
}

// TestOCSFTablesCurrent checks that mappings/ocsf_tables.blobl is what
// bench/cmd/ocsftables makes of ocsf/data now.
func TestOCSFTablesCurrent(t *testing.T) {
	want, err := OCSFTables(filepath.Join("..", "ocsf", "data"))
	require.NoError(t, err)
	got, err := os.ReadFile(OCSFTablesFile)
	require.NoError(t, err)
	assert.Equal(t, want, string(got), "%s is stale: run go run ./bench/cmd/ocsftables", OCSFTablesFile)
}

// BenchmarkOCSFVariants reports ns, bytes and allocations per event for
// every OCSF variant and log type.
func BenchmarkOCSFVariants(b *testing.B) {
	for _, lt := range OCSFLogTypes {
		for _, v := range OCSFVariants {
			b.Run(lt+"/"+v.Name, func(b *testing.B) { benchmarkVariant(b, v, lt) })
		}
	}
}

// TestBloblangOCSFBranches checks the Bloblang OCSF mapping against
// duo_ocsf on variations of a benchmark event that take the branches the
// generated events do not: a factor with a phone number, an unknown factor,
// result and event type, a port on a host name, an unknown OS, country
// codes, repeated groups, a tenant host, and a time only in Unix seconds.
func TestBloblangOCSFBranches(t *testing.T) {
	lt := "Duo.Authentication"
	duo, err := DuoOCSF(lt)
	require.NoError(t, err)
	blobl, err := BloblangOCSF(lt)
	require.NoError(t, err)
	var base map[string]any
	require.NoError(t, json.Unmarshal(Events(lt, 1)[0], &base))
	tests := []struct {
		name   string
		change func(ev map[string]any)
	}{
		{"push with phone", func(ev map[string]any) {
			ev["factor"] = "Duo Push"
			ev["auth_device"].(map[string]any)["name"] = "+1 734-555-0100"
			ev["auth_device"].(map[string]any)["ip"] = "10.1.2.3:443"
		}},
		{"unknown factor with phone", func(ev map[string]any) {
			ev["factor"] = "carrier pigeon"
			ev["auth_device"].(map[string]any)["name"] = "+17345550100"
		}},
		{"remembered device", func(ev map[string]any) { ev["factor"] = "remembered_device" }},
		{"fraud", func(ev map[string]any) { ev["result"] = "FRAUD" }},
		{"unknown result", func(ev map[string]any) { ev["result"] = "unusual" }},
		{"no result", func(ev map[string]any) { delete(ev, "result"); ev["reason"] = nil }},
		{"enrollment", func(ev map[string]any) { ev["event_type"] = "enrollment" }},
		{"host with port", func(ev map[string]any) { ev["access_device"].(map[string]any)["hostname"] = "WS-1.corp:8080" }},
		{"placeholder host", func(ev map[string]any) { ev["access_device"].(map[string]any)["hostname"] = "Unknown" }},
		{"bad host", func(ev map[string]any) { ev["access_device"].(map[string]any)["hostname"] = "not a host" }},
		{"unspecified ip", func(ev map[string]any) { ev["access_device"].(map[string]any)["ip"] = "0.0.0.0" }},
		{"bad ip", func(ev map[string]any) { ev["access_device"].(map[string]any)["ip"] = "300.1.1.1" }},
		{"no endpoint", func(ev map[string]any) {
			ad := ev["access_device"].(map[string]any)
			ad["ip"], ad["hostname"] = nil, "null"
		}},
		{"unknown os", func(ev map[string]any) { ev["access_device"].(map[string]any)["os"] = "BeOS" }},
		{"country code", func(ev map[string]any) {
			ev["access_device"].(map[string]any)["location"] = map[string]any{"city": "Paris", "country": "fr"}
		}},
		{"dotted country", func(ev map[string]any) {
			ev["access_device"].(map[string]any)["location"] = map[string]any{"country": "U.S."}
		}},
		{"unknown country", func(ev map[string]any) {
			ev["access_device"].(map[string]any)["location"] = map[string]any{"country": "Atlantis", "state": ""}
		}},
		{"groups", func(ev map[string]any) { ev["user"].(map[string]any)["groups"] = []any{" Staff ", "Staff", "", "VPN"} }},
		{"bad groups", func(ev map[string]any) { ev["user"].(map[string]any)["groups"] = []any{"Staff", 3.0} }},
		{"bad email", func(ev map[string]any) { ev["email"] = "not an email" }},
		{"user key only", func(ev map[string]any) { delete(ev["user"].(map[string]any), "name") }},
		{"tenant", func(ev map[string]any) { ev["host"] = "API-ABC123.duosecurity.com" }},
		{"unix time", func(ev map[string]any) { delete(ev, "isotimestamp") }},
		{"space time", func(ev map[string]any) { ev["isotimestamp"] = "2025-11-03 08:00:00.5" }},
		{"extra fields", func(ev map[string]any) {
			ev["p_row_id"] = "x"
			ev["extra"] = map[string]any{"n": 1.5, "list": []any{"a", true}, "empty": map[string]any{}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := deepCopy(t, base)
			tt.change(ev)
			assertSameOCSF(t, duo, blobl, ev)
		})
	}
}

// assertSameOCSF checks that duo and blobl map ev to the same OCSF event.
func assertSameOCSF(t *testing.T, duo, blobl Func, ev map[string]any) {
	t.Helper()
	in, err := json.Marshal(ev)
	require.NoError(t, err)
	as, err := duo.Do(in)
	require.NoError(t, err)
	bs, err := blobl.Do(in)
	require.NoError(t, err)
	assert.Equal(t, decode(t, as[0]), decode(t, bs[0]), "%s", in)
}

// TestBloblangOCSFAdminBranches is TestBloblangOCSFBranches for the
// administrator and offline enrollment mapping: every class an action can
// take, the fallbacks, and descriptions of every form.
func TestBloblangOCSFAdminBranches(t *testing.T) {
	tests := []struct {
		logType string
		ev      map[string]any
	}{
		{"Duo.Administrator", map[string]any{"action": "admin_login", "username": "Homer Simpson", "description": `{"ip_address": "10.0.0.1", "factor": "push", "device": "+1 734-555-0100", "email": "homer@example.com"}`}},
		{"Duo.Administrator", map[string]any{"action": "admin_login", "username": "Homer Simpson", "description": `{"ip_address": "0.0.0.0", "factor": "carrier pigeon", "device": "not a phone"}`}},
		{"Duo.Administrator", map[string]any{"action": "admin_login_error", "username": "Homer Simpson", "description": `{"error": "bad password", "factor": "remembered_device"}`}},
		{"Duo.Administrator", map[string]any{"action": "admin_login", "username": "API", "description": `{"ip_address": "10.0.0.1:80"}`}},
		{"Duo.Administrator", map[string]any{"action": "admin_lockout", "username": "Homer Simpson", "object": "Homer Simpson", "description": `{"email": "homer@example.com"}`}},
		{"Duo.Administrator", map[string]any{"action": "admin_lockout", "username": "AD Sync: corp", "object": "marge", "description": `{"email": "marge@example.com"}`}},
		{"Duo.Administrator", map[string]any{"action": "user_create", "username": "Homer Simpson", "object": "bart", "description": `{"email": "bart@example.com", "realname": "Bart", "status": "Active"}`}},
		{"Duo.Administrator", map[string]any{"action": "user_delete", "username": "API", "object": "bart", "description": "deleted by script"}},
		{"Duo.Administrator", map[string]any{"action": "user_delete", "username": "Directory Sync", "description": "{not json"}},
		{"Duo.Administrator", map[string]any{"action": "group_frobnicate", "username": "System", "object": "Staff"}},
		{"Duo.Administrator", map[string]any{"action": "_odd", "username": "", "description": `{"x": [1, 2], "y": null}`}},
		{"Duo.Administrator", map[string]any{"action": "ad_sync_failed", "username": "AD Sync: corp", "object": "corp", "host": "api-XYZ.duosecurity.com"}},
		{"Duo.Administrator", map[string]any{"action": "phone_associate", "username": "Homer Simpson", "object": "lisa", "extra": map[string]any{"a": true}}},
		{"Duo.OfflineEnrollment", map[string]any{"action": "o2fa_user_provisioned", "username": "lisa", "object": "Acme Laptop", "description": `{"user_agent": "DuoCredProv", "hostname": "WKS1", "factor": "duo_otp"}`}},
		{"Duo.OfflineEnrollment", map[string]any{"action": "o2fa_user_deprovisioned", "username": "", "object": ""}},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.logType, i), func(t *testing.T) {
			duo, err := DuoOCSF(tt.logType)
			require.NoError(t, err)
			blobl, err := BloblangOCSF(tt.logType)
			require.NoError(t, err)
			tt.ev["isotimestamp"] = "2025-11-03T08:00:00+00:00"
			tt.ev["timestamp"] = 1762156800
			assertSameOCSF(t, duo, blobl, tt.ev)
		})
	}
}

func deepCopy(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out))
	return out
}
