// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package ocsf_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
	"github.com/duostream/duostream/duosim"
	"github.com/duostream/duostream/ocsf"
)

var loadSchema = sync.OnceValues(func() (*ocsf.Schema, error) {
	return ocsf.LoadSchema("testdata/schema-1.3.0.json")
})

// schemaOf returns the compiled OCSF 1.3.0 schema the mapper's output is
// validated against.
func schemaOf(t testing.TB) *ocsf.Schema {
	t.Helper()
	s, err := loadSchema()
	require.NoError(t, err)
	return s
}

// requireValid fails the test with every problem the validator finds in
// out.
func requireValid(t testing.TB, s *ocsf.Schema, name string, out map[string]any) {
	t.Helper()
	// Through JSON, as a consumer reads it.
	b, err := json.Marshal(out)
	require.NoError(t, err, name)
	var back map[string]any
	require.NoError(t, json.Unmarshal(b, &back), name)
	if probs := s.Validate(back); len(probs) > 0 {
		msg := ""
		for _, p := range probs {
			msg += "\n  " + p.String()
		}
		t.Fatalf("%s: %d problems:%s\nevent: %s", name, len(probs), msg, b)
	}
}

func decodeEvent(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var ev map[string]any
	require.NoError(t, json.Unmarshal(b, &ev))
	return ev
}

// simLogTypes pairs the simulator's log types with the duo_log_type names.
var simLogTypes = []struct {
	sim  duoapi.LogType
	name string
}{
	{duoapi.Authentication, ocsf.LogAuthentication},
	{duoapi.Administrator, ocsf.LogAdministrator},
	{duoapi.Telephony, ocsf.LogTelephony},
	{duoapi.OfflineEnrollment, ocsf.LogOfflineEnrollment},
	{duoapi.Activity, ocsf.LogActivity},
	{duoapi.TrustMonitor, ocsf.LogTrustMonitor},
}

// simEvents generates n events of every log type with the simulator.
func simEvents(t testing.TB, n int) map[string][]duosim.Event {
	t.Helper()
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	sim, err := duosim.New(duosim.Config{Now: func() time.Time { return now }, Seed: 7})
	require.NoError(t, err)
	from := now.Add(-72 * time.Hour)
	out := map[string][]duosim.Event{}
	for _, lt := range simLogTypes {
		require.NoError(t, sim.Generate(lt.sim, n, from, now))
		out[lt.name] = sim.Events(lt.sim, from, now)
		require.Len(t, out[lt.name], n, lt.name)
	}
	return out
}

// TestMapSimulator maps the simulator's data of every log type, a few
// thousand events each, and validates every event against the schema.
// Telephony has no class: every such event must say so.
func TestMapSimulator(t *testing.T) {
	s := schemaOf(t)
	const n = 3000
	events := simEvents(t, n)
	for _, lt := range simLogTypes {
		t.Run(lt.name, func(t *testing.T) {
			classes := map[int]int{}
			for i, e := range events[lt.name] {
				out, class, err := ocsf.Map(lt.name, decodeEvent(t, e.Body))
				if lt.name == ocsf.LogTelephony {
					require.ErrorIs(t, err, ocsf.ErrNoClass)
					continue
				}
				require.NoError(t, err, "event %d: %s", i, e.Body)
				requireValid(t, s, fmt.Sprintf("%s event %d", lt.name, i), out)
				classes[class]++
				if lt.name == ocsf.LogAuthentication {
					requireNoFalseSuccess(t, decodeEvent(t, e.Body), out)
				}
			}
			t.Logf("%s: %d events, by class %v", lt.name, len(events[lt.name]), classes)
		})
	}
}

// requireNoFalseSuccess fails when a denied, fraudulent or failed
// authentication maps to status Success or activity Logoff.
func requireNoFalseSuccess(t testing.TB, in, out map[string]any) {
	t.Helper()
	result, _ := in["result"].(string)
	switch strings.ToLower(result) {
	case "denied", "fraud", "error", "failure":
		require.Equal(t, 2, out["status_id"], "result %s", result)
		require.NotEqual(t, 2, out["activity_id"], "result %s is no Logoff", result)
		if strings.EqualFold(result, "fraud") {
			require.Equal(t, 4, out["severity_id"])
		}
	}
}

var update = flag.Bool("update", false, "rewrite the golden OCSF files in testdata/golden")

// TestMapGolden maps every fixture testdata/golden/<log type>/<name>.input.json
// and compares the result with <name>.ocsf.json, or the error with
// <name>.error.txt; every mapped event is validated. -update rewrites them.
func TestMapGolden(t *testing.T) {
	s := schemaOf(t)
	inputs, err := filepath.Glob("testdata/golden/*/*.input.json")
	require.NoError(t, err)
	require.NotEmpty(t, inputs)
	mapped, failed := 0, 0
	for _, in := range inputs {
		logType := filepath.Base(filepath.Dir(in))
		base := strings.TrimSuffix(in, ".input.json")
		t.Run(logType+"/"+filepath.Base(base), func(t *testing.T) {
			raw, err := os.ReadFile(in)
			require.NoError(t, err)
			out, class, err := ocsf.Map(logType, decodeEvent(t, raw))
			okFile, errFile := base+".ocsf.json", base+".error.txt"
			if err != nil {
				failed++
				got := err.Error() + "\n"
				if *update {
					require.NoError(t, os.WriteFile(errFile, []byte(got), 0o644))
					_ = os.Remove(okFile)
				}
				want, rerr := os.ReadFile(errFile)
				require.NoError(t, rerr, "Map(%s) = error %q, and there is no %s", in, err, errFile)
				assert.Equal(t, string(want), got)
				return
			}
			mapped++
			requireValid(t, s, in, out)
			if logType == ocsf.LogAuthentication {
				requireNoFalseSuccess(t, decodeEvent(t, raw), out)
			}
			assert.Equal(t, out["class_uid"], class)
			got, err := json.MarshalIndent(out, "", "  ")
			require.NoError(t, err)
			got = append(got, '\n')
			if *update {
				require.NoError(t, os.WriteFile(okFile, got, 0o644))
				_ = os.Remove(errFile)
			}
			want, err := os.ReadFile(okFile)
			require.NoError(t, err, "Map(%s) succeeded, and there is no %s", in, okFile)
			assert.JSONEq(t, string(want), string(got))
		})
	}
	t.Logf("%d fixtures: %d mapped and valid, %d refused", len(inputs), mapped, failed)
}

// TestMapNormalizedMatchesRaw maps each fixture that has a normalized
// twin (<name>-normalized, the same event after duo_normalize) and checks
// that both give the same OCSF event, apart from original_time's
// notation and what normalization drops (unknown fields, nulls).
func TestMapNormalizedMatchesRaw(t *testing.T) {
	norms, err := filepath.Glob("testdata/golden/*/*-normalized.input.json")
	require.NoError(t, err)
	require.NotEmpty(t, norms)
	for _, n := range norms {
		rawFile := strings.Replace(n, "-normalized.input.json", ".input.json", 1)
		logType := filepath.Base(filepath.Dir(n))
		t.Run(filepath.Base(rawFile), func(t *testing.T) {
			r, err := os.ReadFile(rawFile)
			require.NoError(t, err)
			nb, err := os.ReadFile(n)
			require.NoError(t, err)
			fromRaw, _, err := ocsf.Map(logType, decodeEvent(t, r))
			if errors.Is(err, ocsf.ErrNoClass) {
				return
			}
			require.NoError(t, err)
			fromNorm, _, err := ocsf.Map(logType, decodeEvent(t, nb))
			require.NoError(t, err)
			for _, ev := range []map[string]any{fromRaw, fromNorm} {
				// Normalization drops the host Duo's Python client adds,
				// so tenant_uid goes with it.
				delete(ev["metadata"].(map[string]any), "original_time")
				delete(ev["metadata"].(map[string]any), "tenant_uid")
				delete(ev, "unmapped")
			}
			assert.Equal(t, fromRaw, fromNorm)
			for k := range fromNorm {
				assert.False(t, strings.HasPrefix(k, "p_"), "Panther field %s leaked", k)
			}
		})
	}
}

// authEvent is a Duo authentication event for table tests, with edits
// applied: a dotted path set to a value, or removed with nil.
func authEvent(t testing.TB, edits map[string]any) map[string]any {
	t.Helper()
	ev := decodeEvent(t, []byte(`{
		"access_device": {"browser": "Chrome", "hostname": null, "ip": "192.0.2.10",
			"location": {"city": "Berlin", "country": "Germany", "state": "Berlin"}, "os": "Windows", "os_version": "11"},
		"application": {"key": "DIAPPKEY000000000000", "name": "VPN"},
		"auth_device": {"ip": null, "location": {"city": null, "country": null, "state": null}, "name": "+15125550100"},
		"email": "jdoe@example.com", "event_type": "authentication", "factor": "duo_push",
		"isotimestamp": "2026-05-30T12:01:09.844137+00:00", "reason": "user_approved", "result": "success",
		"timestamp": 1780142469, "txid": "e28aee72-2f98-4065-8274-8b5c8a13b9f1",
		"user": {"groups": ["Staff"], "key": "DUUSERKEY00000000000", "name": "jdoe"}}`))
	for path, v := range edits {
		setPath(ev, path, v)
	}
	return ev
}

func setPath(ev map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	cur := ev
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	if v == nil {
		delete(cur, parts[len(parts)-1])
	} else {
		cur[parts[len(parts)-1]] = v
	}
}

// null stands for a JSON null in edits (nil removes).
type nullValue struct{}

func mapValid(t *testing.T, logType string, ev map[string]any) map[string]any {
	t.Helper()
	for k, v := range ev {
		if _, ok := v.(nullValue); ok {
			ev[k] = nil
		}
	}
	out, _, err := ocsf.Map(logType, ev)
	require.NoError(t, err)
	requireValid(t, schemaOf(t), t.Name(), out)
	return out
}

// TestMapAuthenticationResult checks status, severity and activity for
// every Duo result: a denied or fraudulent logon is a failed Logon, never
// a success and never a Logoff.
func TestMapAuthenticationResult(t *testing.T) {
	tests := []struct {
		result       any
		statusID     int
		status       string
		severityID   int
		wantStatCode bool
	}{
		{"success", 1, "Success", 1, true},
		{"SUCCESS", 1, "Success", 1, true},
		{"denied", 2, "Failure", 2, true},
		{"DENIED", 2, "Failure", 2, true},
		{"fraud", 2, "Failure", 4, true},
		{"FRAUD", 2, "Failure", 4, true},
		{"error", 2, "Failure", 2, true},
		{"FAILURE", 2, "Failure", 2, true},
		{"something_new", 99, "something_new", 1, true},
		{nil, 0, "Unknown", 0, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.result), func(t *testing.T) {
			out := mapValid(t, ocsf.LogAuthentication, authEvent(t, map[string]any{"result": tt.result}))
			assert.Equal(t, 1, out["activity_id"], "activity")
			assert.Equal(t, "Logon", out["activity_name"])
			assert.Equal(t, int64(300201), out["type_uid"])
			assert.Equal(t, tt.statusID, out["status_id"])
			assert.Equal(t, tt.status, out["status"])
			assert.Equal(t, tt.severityID, out["severity_id"])
			if tt.wantStatCode {
				assert.Equal(t, tt.result, out["status_code"])
			}
			assert.Equal(t, "user_approved", out["status_detail"])
		})
	}
	for _, et := range []struct {
		eventType any
		id        int
		name      string
	}{{"authentication", 1, "Logon"}, {"enrollment", 99, "enrollment"}, {nil, 0, "Unknown"}} {
		out := mapValid(t, ocsf.LogAuthentication, authEvent(t, map[string]any{"event_type": et.eventType, "result": "denied"}))
		assert.Equal(t, et.id, out["activity_id"], "event_type %v", et.eventType)
		assert.Equal(t, et.name, out["activity_name"], "event_type %v", et.eventType)
		assert.Equal(t, 2, out["status_id"], "event_type %v", et.eventType)
	}
}

// TestMapSourceIP checks src_endpoint.ip for the address forms Duo sends.
func TestMapSourceIP(t *testing.T) {
	tests := []struct {
		ip           any
		want         string // "" for no ip
		wantUnmapped bool   // the raw value is kept in unmapped
	}{
		{"192.0.2.10", "192.0.2.10", false},
		{"192.0.2.10:5678", "192.0.2.10", false},
		{"[2001:db8::1]:443", "2001:db8::1", false},
		{"[2001:db8::1]", "2001:db8::1", false},
		{"2001:DB8::1", "2001:db8::1", false},
		{"::ffff:192.0.2.7", "192.0.2.7", false},
		{"fe80::1%eth0", "fe80::1", false},
		{"0.0.0.0", "", false},
		{"::", "", false},
		{"", "", false},
		{nullValue{}, "", false},
		{"not an ip", "", true},
		{"999.1.1.1", "", true},
		{float64(12), "", true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.ip), func(t *testing.T) {
			ev := authEvent(t, nil)
			ad := ev["access_device"].(map[string]any)
			if _, isNull := tt.ip.(nullValue); isNull {
				ad["ip"] = nil
			} else {
				ad["ip"] = tt.ip
			}
			out := mapValid(t, ocsf.LogAuthentication, ev)
			ep, _ := out["src_endpoint"].(map[string]any)
			if tt.want == "" {
				assert.NotContains(t, ep, "ip")
			} else {
				assert.Equal(t, tt.want, ep["ip"])
			}
			unmapped, _ := out["unmapped"].(map[string]any)
			_, kept := unmapped["access_device.ip"]
			assert.Equal(t, tt.wantUnmapped, kept, "unmapped %v", unmapped)
		})
	}
}

func TestParseIP(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.3.4": "1.2.3.4", "1.2.3.4:5678": "1.2.3.4", "[::1]:443": "::1", " 10.0.0.1 ": "10.0.0.1",
		"[::1]": "::1", "1.2.3.4:99999": "", "1.2.3": "", "[1.2.3.4]:80": "1.2.3.4", "host:80": "",
	} {
		got, ok := ocsf.ParseIP(in)
		if want == "" {
			assert.False(t, ok, "ParseIP(%q) = %v, want no address", in, got)
			continue
		}
		if assert.True(t, ok, "ParseIP(%q)", in) {
			assert.Equal(t, want, got.String(), "ParseIP(%q)", in)
		}
	}
}

// TestCountryCode checks the country table on ISO names and the variants
// Duo writes.
func TestCountryCode(t *testing.T) {
	for name, want := range map[string]string{
		"United States": "US", "united states": "US", "United States of America": "US", "USA": "US",
		"United Kingdom": "GB", "Russia": "RU", "Russian Federation": "RU", "South Korea": "KR",
		"Korea, Republic of": "KR", "North Korea": "KP", "Germany": "DE", "Brazil": "BR", "India": "IN",
		"Japan": "JP", "Australia": "AU", "France": "FR", "Iran": "IR", "Vietnam": "VN", "Viet Nam": "VN",
		"Taiwan": "TW", "Czechia": "CZ", "Czech Republic": "CZ", "Turkey": "TR", "Türkiye": "TR",
		"Côte d'Ivoire": "CI", "Ivory Coast": "CI", "Netherlands": "NL", "Hong Kong": "HK", "Bolivia": "BO",
		"Åland Islands": "AX", "Kosovo": "XK", " Canada ": "CA", "DE": "DE", "us": "US",
	} {
		got, ok := ocsf.CountryCode(name)
		assert.True(t, ok, "CountryCode(%q)", name)
		assert.Equal(t, want, got, "CountryCode(%q)", name)
	}
	for _, name := range []string{"", "Atlantis", "Korea", "ZZ", "United"} {
		got, ok := ocsf.CountryCode(name)
		assert.False(t, ok, "CountryCode(%q) = %q, want none", name, got)
	}
}

// TestMapLocation checks that the country becomes its code, and that an
// unknown country and the state stay in unmapped.
func TestMapLocation(t *testing.T) {
	out := mapValid(t, ocsf.LogAuthentication, authEvent(t, map[string]any{"access_device.location.country": "South Korea"}))
	loc := out["src_endpoint"].(map[string]any)["location"].(map[string]any)
	assert.Equal(t, map[string]any{"city": "Berlin", "country": "KR"}, loc)
	assert.Equal(t, "Berlin", out["unmapped"].(map[string]any)["access_device.location.state"])

	out = mapValid(t, ocsf.LogAuthentication, authEvent(t, map[string]any{"access_device.location.country": "Atlantis"}))
	loc = out["src_endpoint"].(map[string]any)["location"].(map[string]any)
	assert.Equal(t, map[string]any{"city": "Berlin"}, loc)
	assert.Equal(t, "Atlantis", out["unmapped"].(map[string]any)["access_device.location.country"])
}

// TestMapFactors checks is_mfa and auth_factors by factor. OCSF 1.3 wants
// exactly one of email_addr, phone_number and security_questions in each
// auth_factor: with no phone number the factor stays in unmapped.
func TestMapFactors(t *testing.T) {
	tests := []struct {
		factor     any
		deviceName any
		isMFA      any // nil: unset
		typeID     int // 0: no auth_factors
		typeName   string
	}{
		{"duo_push", "+15125550100", true, 5, "Push Notification"},
		{"Duo Push", "+1 512-555-0100", true, 5, "Push Notification"},
		{"duo_push", "Joan's iPhone (512-555-0163)", true, 0, ""},
		{"phone_call", "+15125550100", true, 3, "Phone Call"},
		{"sms_passcode", "+15125550100", true, 1, "SMS"},
		{"passcode", "DPXVZWBUIX5HZM6UV8CL", true, 0, ""},
		{"hardware_token", "+15125550100", true, 6, "Hardware Token"},
		{"u2f_token", "+15125550100", true, 9, "U2F"},
		{"webauthn", "+15125550100", true, 10, "WebAuthn"},
		{"bypass_code", "+15125550100", false, 99, "bypass_code"},
		{"remembered_device", "+15125550100", false, 0, ""},
		{"trusted_network", "+15125550100", false, 0, ""},
		{"not_available", "+15125550100", false, 0, ""},
		{"brand_new_factor", "+15125550100", nil, 99, "brand_new_factor"},
		{nil, "+15125550100", nil, 0, ""},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.factor, "/", tt.deviceName), func(t *testing.T) {
			out := mapValid(t, ocsf.LogAuthentication, authEvent(t, map[string]any{"factor": tt.factor, "auth_device.name": tt.deviceName}))
			if tt.isMFA == nil {
				assert.NotContains(t, out, "is_mfa")
			} else {
				assert.Equal(t, tt.isMFA, out["is_mfa"])
			}
			unmapped, _ := out["unmapped"].(map[string]any)
			if tt.typeID == 0 {
				assert.NotContains(t, out, "auth_factors")
				if tt.factor != nil && tt.isMFA == true {
					assert.Equal(t, tt.factor, unmapped["factor"], "the factor is kept")
					assert.Equal(t, tt.deviceName, unmapped["auth_device.name"])
				}
				return
			}
			afs := out["auth_factors"].([]any)
			require.Len(t, afs, 1)
			af := afs[0].(map[string]any)
			assert.Equal(t, tt.typeID, af["factor_type_id"])
			assert.Equal(t, tt.typeName, af["factor_type"])
			assert.Equal(t, tt.deviceName, af["phone_number"])
			assert.NotContains(t, unmapped, "factor")
		})
	}
}

// TestMapAdminActions checks the class and activity of administrator log
// actions, from the table, by suffix, and as 99.
func TestMapAdminActions(t *testing.T) {
	tests := []struct {
		action, object string
		class, id      int
		activityName   string
		statusID       int
	}{
		{"admin_login", "", 3002, 1, "Logon", 1},
		{"admin_login_error", "", 3002, 1, "Logon", 2},
		{"admin_2fa_error", "", 3002, 1, "Logon", 2},
		{"user_create", "jdoe", 3001, 1, "Create", 1},
		{"user_delete", "jdoe", 3001, 6, "Delete", 1},
		{"user_create", "", 3004, 1, "Create", 1}, // no account named: Entity Management
		{"admin_reset_password", "Jane Admin", 3001, 4, "Password Reset", 1},
		{"admin_lockout", "", 3001, 9, "Lock", 1},
		{"user_update", "jdoe", 3004, 3, "Update", 1},
		{"group_update", "Staff", 3004, 3, "Update", 1},
		{"integration_create", "VPN", 3004, 1, "Create", 1},
		{"bypass_view", "jdoe", 3004, 2, "Read", 1},
		{"phone_delete", "+15125550100", 3004, 4, "Delete", 1},
		{"activation_begin", "", 3004, 6, "Enroll", 1},
		{"admin_self_activate", "Jane Admin", 3004, 10, "Activate", 1},
		{"directory_sync_pause", "AD", 3004, 12, "Suspend", 1},
		{"ad_sync_failed", "", 3004, 99, "ad_sync_failed", 2},
		{"adminapi_request_ip_denied", "", 3004, 99, "adminapi_request_ip_denied", 2},
		{"something_new", "x", 3004, 99, "something_new", 1},
	}
	for _, tt := range tests {
		t.Run(tt.action+"/"+tt.object, func(t *testing.T) {
			ev := map[string]any{
				"action": tt.action, "isotimestamp": "2026-05-30T12:00:38+00:00", "timestamp": float64(1780142438),
				"username":    "jane.admin",
				"description": `{"ip_address": "198.51.100.7:443", "device": "+12065550122", "factor": "push", "error": "Invalid password"}`,
			}
			if tt.object != "" {
				ev["object"] = tt.object
			}
			out := mapValid(t, ocsf.LogAdministrator, ev)
			assert.Equal(t, tt.class, out["class_uid"])
			assert.Equal(t, tt.id, out["activity_id"])
			assert.Equal(t, tt.activityName, out["activity_name"])
			assert.Equal(t, int64(tt.class)*100+int64(tt.id), out["type_uid"])
			assert.Equal(t, tt.statusID, out["status_id"])
			assert.Equal(t, "198.51.100.7", out["src_endpoint"].(map[string]any)["ip"])
			switch tt.class {
			case 3002:
				assert.Equal(t, "jane.admin", out["user"].(map[string]any)["name"])
				assert.Equal(t, true, out["is_mfa"])
			case 3001:
				account := tt.object
				if account == "" {
					account = "jane.admin" // the actor's own
				}
				assert.Equal(t, account, out["user"].(map[string]any)["name"])
				assert.Equal(t, "jane.admin", out["actor"].(map[string]any)["user"].(map[string]any)["name"])
			case 3004:
				assert.Contains(t, out["metadata"].(map[string]any)["profiles"], "host")
			}
		})
	}
}

// TestMapAdminUID checks that an administrator event without an ID of its
// own gets a stable one: the same for the same record, raw or normalized,
// and different for another record.
func TestMapAdminUID(t *testing.T) {
	ev := func(iso string, object string) map[string]any {
		return map[string]any{"action": "user_update", "isotimestamp": iso, "timestamp": float64(1579878582), "username": "admin", "object": object, "description": `{"x": 1}`}
	}
	uid := func(e map[string]any) any {
		out, _, err := ocsf.Map(ocsf.LogAdministrator, e)
		require.NoError(t, err)
		return out["metadata"].(map[string]any)["uid"]
	}
	a := uid(ev("2020-01-24T15:09:42+00:00", "jsmith"))
	assert.Len(t, a, 32)
	assert.Equal(t, a, uid(ev("2020-01-24T15:09:42Z", "jsmith")))
	assert.NotEqual(t, a, uid(ev("2020-01-24T15:09:42Z", "jdoe")))
}

// TestMapErrors checks that events that cannot be mapped name the field.
func TestMapErrors(t *testing.T) {
	tests := []struct {
		logType string
		event   string
		want    string
	}{
		{ocsf.LogAuthentication, `{"user":{"name":"x"},"application":{"name":"a"}}`, `Duo.Authentication: field "isotimestamp": missing, and no usable "timestamp"`},
		{ocsf.LogAuthentication, `{"isotimestamp":"yesterday","user":{"name":"x"},"application":{"name":"a"}}`, `Duo.Authentication: field "isotimestamp": not an RFC 3339 timestamp, and no usable "timestamp"`},
		{ocsf.LogAuthentication, `{"timestamp":1700000000,"application":{"name":"a"}}`, `Duo.Authentication: field "user.name": missing`},
		{ocsf.LogAuthentication, `{"timestamp":1700000000,"user":{"key":"DU1"}}`, `Duo.Authentication: field "application.name": missing`},
		{ocsf.LogAuthentication, `{"timestamp":1e300,"user":{"key":"DU1"}}`, `Duo.Authentication: field "isotimestamp": missing, and no usable "timestamp"`},
		{ocsf.LogAdministrator, `{"timestamp":1700000000}`, `Duo.Administrator: field "action": missing`},
		{ocsf.LogActivity, `{"action":"user_update"}`, `Duo.Activity: field "ts": missing`},
		{ocsf.LogActivity, `{"ts":"2026-01-01T00:00:00Z","action":null}`, `Duo.Activity: field "action": missing`},
		{ocsf.LogTrustMonitor, `{"surfaced_timestamp":1700000000000,"type":"auth"}`, `Duo.TrustMonitor: field "sekey": missing`},
		{ocsf.LogTrustMonitor, `{"sekey":"SE1","surfaced_timestamp":"soon","type":"auth"}`, `Duo.TrustMonitor: field "surfaced_timestamp": not a Unix time`},
		{ocsf.LogTrustMonitor, `{"sekey":"SE1","surfaced_timestamp":1700000000000}`, `Duo.TrustMonitor: field "type": missing`},
		{"Duo.Nonsense", `{}`, `Duo.Nonsense: unknown Duo log type`},
	}
	for _, tt := range tests {
		_, _, err := ocsf.Map(tt.logType, decodeEvent(t, []byte(tt.event)))
		var fe *ocsf.FieldError
		if assert.ErrorAs(t, err, &fe, tt.event) {
			assert.True(t, strings.HasPrefix(err.Error(), tt.want), "Map(%s) = %q, want %q...", tt.event, err, tt.want)
		}
	}
	_, _, err := ocsf.Map(ocsf.LogTelephony, map[string]any{"txid": "x"})
	assert.ErrorIs(t, err, ocsf.ErrNoClass)
	_, _, err = ocsf.Map("telephony", map[string]any{})
	assert.ErrorIs(t, err, ocsf.ErrNoClass)
}

// TestMapOptions checks tenant_uid, raw_data and logged_time, and that
// Panther's fields stay out of the event.
func TestMapOptions(t *testing.T) {
	ev := authEvent(t, map[string]any{"p_log_type": "Duo.Authentication", "p_any_ip_addresses": []any{"192.0.2.10"}})
	raw := []byte(`{"txid":"x"}`)
	logged := time.UnixMilli(1780142470000)
	out, _, err := ocsf.MapWith(ocsf.LogAuthentication, ev, ocsf.Options{APIHost: "api-1a2b3c4d.duosecurity.com", RawData: raw, LoggedTime: logged})
	require.NoError(t, err)
	requireValid(t, schemaOf(t), "options", out)
	meta := out["metadata"].(map[string]any)
	assert.Equal(t, "1a2b3c4d", meta["tenant_uid"])
	assert.Equal(t, int64(1780142470000), meta["logged_time"])
	assert.Equal(t, string(raw), out["raw_data"])
	b, _ := json.Marshal(out)
	assert.NotContains(t, string(b), "p_log_type")
	assert.NotContains(t, string(b), "p_any")

	// Duo's Python client adds the host to each event.
	ev = authEvent(t, map[string]any{"host": "api-first.test.duosecurity.com"})
	out = mapValid(t, ocsf.LogAuthentication, ev)
	assert.Equal(t, "first", out["metadata"].(map[string]any)["tenant_uid"])
	assert.NotContains(t, out["src_endpoint"], "hostname", "the API host is not the source")
}

// TestMapDoesNotChangeEvent checks that Map leaves its input alone.
func TestMapDoesNotChangeEvent(t *testing.T) {
	in := map[string]any{"action": "user_update", "isotimestamp": "2026-05-30T12:00:38+00:00", "username": "a", "object": "b", "description": `{"x":1}`}
	before, _ := json.Marshal(in)
	_, _, err := ocsf.Map(ocsf.LogAdministrator, in)
	require.NoError(t, err)
	after, _ := json.Marshal(in)
	assert.Equal(t, string(before), string(after))
}

// TestMapJSONMatchesMap checks that MapJSON, which the processor calls on
// each message's bytes, writes what AppendJSON writes of Map's result, for
// every golden input and the simulator's events of every type, mapped one
// after the other so that nothing carries over from one event to the next.
func TestMapJSONMatchesMap(t *testing.T) {
	type item struct {
		logType string
		body    []byte
	}
	var items []item
	inputs, err := filepath.Glob("testdata/golden/*/*.input.json")
	require.NoError(t, err)
	for _, in := range inputs {
		b, err := os.ReadFile(in)
		require.NoError(t, err)
		items = append(items, item{filepath.Base(filepath.Dir(in)), b})
	}
	for name, evs := range simEvents(t, 200) {
		for _, e := range evs {
			items = append(items, item{name, e.Body})
		}
	}
	rng := newRand(3)
	for i := len(items) - 1; i > 0; i-- { // interleave the types
		j := rng.intN(i + 1)
		items[i], items[j] = items[j], items[i]
	}
	opts := ocsf.Options{APIHost: "api-1a2b3c4d.duosecurity.com", LoggedTime: time.UnixMilli(1780142470000)}
	mapped := 0
	for _, it := range items {
		o := opts
		o.RawData = it.body
		want, wantClass, wantErr := ocsf.MapWith(it.logType, decodeEvent(t, it.body), o)
		got, class, err := ocsf.MapJSON([]byte("prefix "), it.logType, it.body, o)
		if wantErr != nil {
			require.Error(t, err, "%s %s", it.logType, it.body)
			assert.Equal(t, wantErr.Error(), err.Error())
			continue
		}
		require.NoError(t, err, "%s %s", it.logType, it.body)
		wantJSON, err := ocsf.AppendJSON([]byte("prefix "), want)
		require.NoError(t, err)
		require.Equal(t, string(wantJSON), string(got), "%s %s", it.logType, it.body)
		assert.Equal(t, wantClass, class)
		mapped++
	}
	assert.Greater(t, mapped, 1000)

	for _, doc := range []string{`not json`, `[1]`, `null`, `{"n":1e999}`} {
		_, _, err := ocsf.MapJSON(nil, ocsf.LogAuthentication, []byte(doc), ocsf.Options{})
		require.Error(t, err, doc)
		assert.Contains(t, err.Error(), "Duo.Authentication: not a JSON object", doc)
	}
}

// FuzzMap feeds arbitrary JSON to Map under every log type: it must never
// panic, and every event it returns must validate.
func FuzzMap(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/golden/*/*.input.json")
	for _, in := range inputs {
		if b, err := os.ReadFile(in); err == nil {
			f.Add(b)
		}
	}
	for _, evs := range simEvents(f, 10) {
		for _, e := range evs {
			f.Add([]byte(e.Body))
		}
	}
	f.Add([]byte(`{"access_device":{"ip":"[::1]:443"},"user":{"name":"x"},"application":{"key":"k"},"timestamp":"1"}`))
	s, err := loadSchema()
	if err != nil {
		f.Fatal(err)
	}
	types := []string{ocsf.LogAuthentication, ocsf.LogAdministrator, ocsf.LogTelephony, ocsf.LogOfflineEnrollment, ocsf.LogActivity, ocsf.LogTrustMonitor}
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev map[string]any
		if json.Unmarshal(data, &ev) != nil || ev == nil {
			return
		}
		distinct := distinctKeys(data)
		for _, lt := range types {
			out, class, err := ocsf.Map(lt, ev)
			direct, _, directErr := ocsf.MapJSON(nil, lt, data, ocsf.Options{})
			if (err == nil) != (directErr == nil) {
				t.Fatalf("Map(%s, %s): error %v, MapJSON: error %v", lt, data, err, directErr)
			}
			if err != nil {
				continue
			}
			if want, _ := ocsf.AppendJSON(nil, out); distinct && string(want) != string(direct) {
				// With a key repeated in one object, both read the last,
				// but MapJSON may keep an earlier one in unmapped.
				t.Fatalf("Map(%s, %s) = %s, MapJSON = %s", lt, data, want, direct)
			}
			if class == 0 {
				t.Fatalf("Map(%s) succeeded with class 0", lt)
			}
			b, err := json.Marshal(out)
			if err != nil {
				t.Fatalf("Map(%s) output does not encode: %v", lt, err)
			}
			var back map[string]any
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if probs := s.Validate(back); len(probs) > 0 {
				t.Fatalf("Map(%s, %s) = %s: %v", lt, data, b, probs)
			}
		}
	})
}

// distinctKeys reports whether no object of the JSON document data has a
// key twice.
func distinctKeys(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []map[string]bool
	expectKey := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return true
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, map[string]bool{})
			expectKey = true
			continue
		case json.Delim('}'):
			stack = stack[:len(stack)-1]
		case json.Delim('['):
			stack = append(stack, nil)
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
		default:
			if k, ok := tok.(string); ok && expectKey && len(stack) > 0 && stack[len(stack)-1] != nil {
				if stack[len(stack)-1][k] {
					return false
				}
				stack[len(stack)-1][k] = true
				expectKey = false
				continue
			}
		}
		expectKey = len(stack) > 0 && stack[len(stack)-1] != nil
	}
}

// BenchmarkMap maps the simulator's events of every mapped log type,
// decoding included, and reports events per second.
func BenchmarkMap(b *testing.B) {
	events := simEvents(b, 1000)
	type item struct {
		logType string
		body    []byte
	}
	var items []item
	for _, lt := range simLogTypes {
		if lt.name == ocsf.LogTelephony {
			continue
		}
		for _, e := range events[lt.name] {
			items = append(items, item{lt.name, e.Body})
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		it := items[n%len(items)]
		n++
		var ev map[string]any
		if err := json.Unmarshal(it.body, &ev); err != nil {
			b.Fatal(err)
		}
		out, _, err := ocsf.Map(it.logType, ev)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := json.Marshal(out); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// TestMapMutations is a structured complement to FuzzMap: it takes every
// golden input and a sample of simulator events, replaces one or two
// values at random (any depth) by values of other types and shapes, and
// checks that every event Map accepts still validates.
func TestMapMutations(t *testing.T) {
	s := schemaOf(t)
	var bases []map[string]any
	inputs, err := filepath.Glob("testdata/golden/*/*.input.json")
	require.NoError(t, err)
	for _, in := range inputs {
		b, err := os.ReadFile(in)
		require.NoError(t, err)
		bases = append(bases, decodeEvent(t, b))
	}
	for _, evs := range simEvents(t, 30) {
		for _, e := range evs {
			bases = append(bases, decodeEvent(t, e.Body))
		}
	}
	pool := []any{
		nil, "", " ", "null", "0.0.0.0", "[::1]:443", "1.2.3.4:5678", "not an ip", "United States", "Atlantis",
		"duo_push", "fraud", "DENIED", "user_create", "admin_login", "2026-05-30T12:01:09Z", "yesterday",
		"a@b.co", "bad email", "host-name.example", "bad host!", strings.Repeat("x", 70000), "{\"ip_address\":\"::\"}",
		float64(0), float64(-1), float64(1e300), float64(1.5), float64(1780142469), true, false,
		[]any{}, []any{"a", float64(1)}, []any{map[string]any{"summary": 1}}, map[string]any{}, map[string]any{"name": "x", "key": float64(3)},
	}
	types := []string{ocsf.LogAuthentication, ocsf.LogAdministrator, ocsf.LogOfflineEnrollment, ocsf.LogActivity, ocsf.LogTrustMonitor}
	rng := newRand(1)
	mapped := 0
	for i, base := range bases {
		for range 60 {
			ev := deepCopy(base).(map[string]any)
			for range 1 + rng.intN(2) {
				paths := allPaths(ev, "")
				if len(paths) == 0 {
					break
				}
				setPath2(ev, paths[rng.intN(len(paths))], deepCopy(pool[rng.intN(len(pool))]))
			}
			for _, lt := range types {
				out, _, err := ocsf.Map(lt, ev)
				if err != nil {
					continue
				}
				mapped++
				b, err := json.Marshal(out)
				require.NoError(t, err)
				var back map[string]any
				require.NoError(t, json.Unmarshal(b, &back))
				if probs := s.Validate(back); len(probs) > 0 {
					in, _ := json.Marshal(ev)
					t.Fatalf("base %d as %s: %v\nin:  %s\nout: %s", i, lt, probs, in, b)
				}
			}
		}
	}
	t.Logf("%d mutated events mapped and valid", mapped)
}

// rand is a small deterministic generator, so that a failure repeats.
type rand struct{ state uint64 }

func newRand(seed uint64) *rand { return &rand{state: seed*0x9E3779B97F4A7C15 + 1} }

func (r *rand) intN(n int) int {
	r.state ^= r.state << 13
	r.state ^= r.state >> 7
	r.state ^= r.state << 17
	return int(r.state % uint64(n))
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		c := make(map[string]any, len(x))
		for k, e := range x {
			c[k] = deepCopy(e)
		}
		return c
	case []any:
		c := make([]any, len(x))
		for i, e := range x {
			c[i] = deepCopy(e)
		}
		return c
	}
	return v
}

// allPaths lists the dotted paths of every value in obj, objects included.
func allPaths(obj map[string]any, prefix string) []string {
	var out []string
	for k, v := range obj {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		out = append(out, p)
		if m, ok := v.(map[string]any); ok {
			out = append(out, allPaths(m, p)...)
		}
	}
	slices.Sort(out) // map order would make the run unrepeatable
	return out
}

// setPath2 sets the value at a dotted path that exists, nil included.
func setPath2(ev map[string]any, path string, v any) {
	parts := strings.Split(path, ".")
	cur := ev
	for _, p := range parts[:len(parts)-1] {
		cur = cur[p].(map[string]any)
	}
	cur[parts[len(parts)-1]] = v
}

// TestMapTrustMonitorKeepsEveryEvidence checks that a Trust Monitor event
// with both a bypass (enabled_for, enabled_by) and a surfaced
// authentication keeps both as evidence.
func TestMapTrustMonitorKeepsEveryEvidence(t *testing.T) {
	raw, err := os.ReadFile("testdata/golden/Duo.TrustMonitor/elastic-bypass-status.input.json")
	require.NoError(t, err)
	var ev map[string]any
	require.NoError(t, json.Unmarshal(raw, &ev))
	auth, err := os.ReadFile("testdata/golden/Duo.TrustMonitor/auth-triaged-both-ips-unknown-fields.input.json")
	require.NoError(t, err)
	var authEv map[string]any
	require.NoError(t, json.Unmarshal(auth, &authEv))
	require.NotNil(t, ev["enabled_for"], "the fixture is a bypass")
	ev["surfaced_auth"] = authEv["surfaced_auth"]
	out, class, err := ocsf.Map("Duo.TrustMonitor", ev)
	require.NoError(t, err)
	assert.Equal(t, ocsf.ClassDetectionFinding, class)
	assert.Len(t, out["evidences"], 2, "the bypass and the surfaced authentication")
}
