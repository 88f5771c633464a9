// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package bench

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBloblangOCSFEquivalent checks that the Bloblang OCSF mapping is a
// fair comparison: on every benchmark event it gives exactly what duo_ocsf
// gives, and the same ocsf_class_uid metadata. Neither writes a volatile
// field (metadata.logged_time is only set by callers that ask for it).
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
			in, err := json.Marshal(ev)
			require.NoError(t, err)
			as, err := duo.Do(in)
			require.NoError(t, err)
			bs, err := blobl.Do(in)
			require.NoError(t, err)
			assert.Equal(t, decode(t, as[0]), decode(t, bs[0]), "%s", in)
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
