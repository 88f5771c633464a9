// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package ocsf

import (
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	schemaOnce   sync.Once
	loadedSchema *Schema
	schemaErr    error
)

// testSchema loads testdata/schema-1.3.0.json once for all tests.
func testSchema(t testing.TB) *Schema {
	t.Helper()
	schemaOnce.Do(func() { loadedSchema, schemaErr = LoadSchema("testdata/schema-1.3.0.json") })
	require.NoError(t, schemaErr)
	return loadedSchema
}

// Minimal valid events, one per class the Duo mapping emits.
const (
	authenticationEvent = `{
		"class_uid": 3002, "class_name": "Authentication",
		"category_uid": 3, "category_name": "Identity & Access Management",
		"activity_id": 1, "activity_name": "Logon",
		"type_uid": 300201, "type_name": "Authentication: Logon",
		"severity_id": 1, "severity": "Informational",
		"status_id": 1, "status": "Success",
		"time": 1700000000000,
		"metadata": {"version": "1.3.0", "uid": "5bf1a860-fe39-49e3-be29-217659663a74",
			"product": {"vendor_name": "Cisco", "name": "Duo"}},
		"user": {"name": "narroway", "uid": "DU3KC77WJ06Y5HIV7XKQ", "email_addr": "narroway@example.com"},
		"service": {"name": "Microsoft Azure Active Directory", "uid": "DIY231J8BR23QK4UKBY8"},
		"src_endpoint": {"ip": "192.0.2.10", "location": {"city": "Ann Arbor", "region": "MI", "country": "US"}},
		"auth_factors": [{"factor_type_id": 5, "factor_type": "Push Notification", "phone_number": "+13135559542"}],
		"is_mfa": true,
		"status_detail": "User approved",
		"unmapped": {"txid": "340a23e3-23f3-4c46-9a3f-1d7f3d6d04d0", "anything": {"goes": [1, "two", null]}}
	}`
	entityManagementEvent = `{
		"class_uid": 3004, "class_name": "Entity Management",
		"category_uid": 3, "category_name": "Identity & Access Management",
		"activity_id": 3, "activity_name": "Update",
		"type_uid": 300403, "type_name": "Entity Management: Update",
		"severity_id": 1,
		"time": 1700000000000,
		"metadata": {"version": "1.3.0", "profiles": ["host"],
			"product": {"vendor_name": "Cisco", "name": "Duo"}},
		"entity": {"name": "narroway", "type": "user", "data": {"realname": "Nick Arroway", "status": "active"}},
		"actor": {"user": {"name": "Jane Admin", "email_addr": "jane@example.com"}}
	}`
	accountChangeEvent = `{
		"class_uid": 3001,
		"category_uid": 3,
		"activity_id": 10, "activity_name": "MFA Factor Enable",
		"type_uid": 300110,
		"severity_id": 1,
		"time": 1700000000000,
		"metadata": {"version": "1.3.0", "product": {"vendor_name": "Cisco", "name": "Duo"}},
		"user": {"uid": "DU3KC77WJ06Y5HIV7XKQ"}
	}`
	detectionFindingEvent = `{
		"class_uid": 2004, "class_name": "Detection Finding",
		"category_uid": 2, "category_name": "Findings",
		"activity_id": 1, "activity_name": "Create",
		"type_uid": 200401, "type_name": "Detection Finding: Create",
		"severity_id": 3, "severity": "Medium",
		"time": 1700000000000,
		"metadata": {"version": "1.3.0", "product": {"vendor_name": "Cisco", "name": "Duo Trust Monitor"}},
		"finding_info": {"title": "Push spray", "uid": "BqcX3z2zUqWBYAbmqDLl"}
	}`
)

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var event map[string]any
	require.NoError(t, json.Unmarshal([]byte(s), &event))
	return event
}

var pathStep = regexp.MustCompile(`^([^.\[]+)((?:\[\d+\])*)$`)

// edit sets (or, when del, deletes) the attribute at a Problem-style path
// such as "auth_factors[0].factor_type_id".
func edit(t testing.TB, event map[string]any, path string, value any, del bool) {
	t.Helper()
	var cur any = event
	steps := strings.Split(path, ".")
	for i, step := range steps {
		m := pathStep.FindStringSubmatch(step)
		require.NotNil(t, m, "path step %q", step)
		obj, ok := cur.(map[string]any)
		require.True(t, ok, "%s: not an object at %q", path, step)
		name, idx := m[1], m[2]
		last := i == len(steps)-1
		if idx == "" && last {
			if del {
				delete(obj, name)
			} else {
				obj[name] = value
			}
			return
		}
		if idx == "" {
			next, ok := obj[name]
			if !ok {
				next = map[string]any{}
				obj[name] = next
			}
			cur = next
			continue
		}
		require.False(t, last, "%s: cannot set an array element", path)
		cur = obj[name]
		for _, n := range strings.Split(strings.Trim(idx, "[]"), "][") {
			k, err := strconv.Atoi(n)
			require.NoError(t, err)
			cur = cur.([]any)[k]
		}
	}
}

type change struct {
	path  string
	value any
	del   bool
}

func set(path string, value any) change { return change{path: path, value: value} }
func del(path string) change            { return change{path: path, del: true} }

type want struct{ path, code string }

func TestValidateValid(t *testing.T) {
	s := testSchema(t)
	tests := []struct {
		name    string
		event   string
		changes []change
	}{
		{name: "authentication", event: authenticationEvent},
		{name: "entity management", event: entityManagementEvent},
		{name: "account change", event: accountChangeEvent},
		{name: "detection finding", event: detectionFindingEvent},
		{name: "authentication denied", event: authenticationEvent, changes: []change{
			set("status_id", 2), set("status", "Failure"), set("is_mfa", false), del("auth_factors"),
		}},
		{name: "other keeps the source value", event: authenticationEvent, changes: []change{
			set("status_id", 99), set("status", "fraud"), set("activity_id", 99), set("activity_name", "enrollment"),
			set("type_uid", 300299), set("type_name", "Authentication: enrollment"),
		}},
		{name: "dst_endpoint satisfies at_least_one", event: authenticationEvent, changes: []change{
			del("service"), set("dst_endpoint", map[string]any{"hostname": "api-example.duosecurity.com"}),
		}},
		{name: "datetime profile listed", event: authenticationEvent, changes: []change{
			set("metadata.profiles", []any{"datetime"}), set("time_dt", "2023-11-14T22:13:20.000Z"),
		}},
		{name: "host profile device", event: authenticationEvent, changes: []change{
			set("metadata.profiles", []any{"host"}),
			set("device", map[string]any{"type_id": 2, "type": "Desktop", "hostname": "laptop-1", "ip": "2001:db8::1"}),
		}},
		{name: "null counts as absent", event: authenticationEvent, changes: []change{
			set("status_detail", nil), set("src_endpoint.port", nil),
		}},
		{name: "ipv6 source", event: authenticationEvent, changes: []change{
			set("src_endpoint.ip", "2001:db8:85a3::8a2e:370:7334"),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			event := decode(t, tt.event)
			for _, c := range tt.changes {
				edit(t, event, c.path, c.value, c.del)
			}
			assert.Empty(t, s.Validate(event))
		})
	}
}

func TestValidateProblems(t *testing.T) {
	s := testSchema(t)
	tests := []struct {
		name    string
		event   string
		changes []change
		want    []want
	}{
		// class_uid
		{name: "class_uid missing", event: authenticationEvent, changes: []change{del("class_uid")},
			want: []want{{"class_uid", CodeClassUID}}},
		{name: "class_uid unknown", event: authenticationEvent, changes: []change{set("class_uid", 3999)},
			want: []want{{"class_uid", CodeClassUID}}},
		{name: "class_uid a string", event: authenticationEvent, changes: []change{set("class_uid", "3002")},
			want: []want{{"class_uid", CodeClassUID}}},

		// required
		{name: "required missing top-level", event: authenticationEvent, changes: []change{del("time")},
			want: []want{{"time", CodeRequiredMissing}}},
		{name: "required class attribute missing", event: entityManagementEvent, changes: []change{del("entity")},
			want: []want{{"entity", CodeRequiredMissing}}},
		{name: "required missing nested", event: authenticationEvent, changes: []change{del("metadata.product.vendor_name")},
			want: []want{{"metadata.product.vendor_name", CodeRequiredMissing}}},
		{name: "required missing in array element", event: authenticationEvent, changes: []change{del("auth_factors[0].factor_type_id")},
			want: []want{{"auth_factors[0].factor_type_id", CodeRequiredMissing}}},
		{name: "required null", event: detectionFindingEvent, changes: []change{set("finding_info.uid", nil)},
			want: []want{{"finding_info.uid", CodeRequiredMissing}}},

		// unknown
		{name: "unknown attribute top-level", event: authenticationEvent, changes: []change{set("duo_txid", "abc")},
			want: []want{{"duo_txid", CodeUnknownAttribute}}},
		{name: "unknown attribute nested", event: authenticationEvent, changes: []change{set("src_endpoint.location.planet", "Earth")},
			want: []want{{"src_endpoint.location.planet", CodeUnknownAttribute}}},
		{name: "unknown attribute in array element", event: authenticationEvent, changes: []change{set("auth_factors[0].push_result", "approved")},
			want: []want{{"auth_factors[0].push_result", CodeUnknownAttribute}}},

		// profiles
		{name: "profile attribute without its profile", event: entityManagementEvent, changes: []change{del("metadata.profiles")},
			want: []want{{"actor", CodeProfile}}},
		{name: "datetime attribute without datetime profile", event: authenticationEvent, changes: []change{set("time_dt", "2023-11-14T22:13:20Z")},
			want: []want{{"time_dt", CodeProfile}}},
		{name: "nested profile attribute without its profile", event: authenticationEvent, changes: []change{set("metadata.logged_time_dt", "2023-11-14T22:13:20Z")},
			want: []want{{"metadata.logged_time_dt", CodeProfile}}},
		{name: "profile unknown", event: authenticationEvent, changes: []change{set("metadata.profiles", []any{"datetime", "duo"})},
			want: []want{{"metadata.profiles[1]", CodeProfile}}},
		{name: "profile required attribute missing when listed", event: authenticationEvent, changes: []change{set("metadata.profiles", []any{"cloud"})},
			want: []want{{"cloud", CodeRequiredMissing}}},

		// types and formats
		{name: "bad ip", event: authenticationEvent, changes: []change{set("src_endpoint.ip", "192.0.2.10:443")},
			want: []want{{"src_endpoint.ip", CodeFormat}}},
		{name: "bad email", event: authenticationEvent, changes: []change{set("user.email_addr", "narroway")},
			want: []want{{"user.email_addr", CodeFormat}}},
		{name: "bad datetime", event: authenticationEvent, changes: []change{set("metadata.profiles", []any{"datetime"}), set("time_dt", "yesterday")},
			want: []want{{"time_dt", CodeFormat}}},
		{name: "bad hostname", event: authenticationEvent, changes: []change{set("src_endpoint.hostname", "no spaces.example")},
			want: []want{{"src_endpoint.hostname", CodeFormat}}},
		{name: "port out of range", event: authenticationEvent, changes: []change{set("src_endpoint.port", 70000)},
			want: []want{{"src_endpoint.port", CodeFormat}}},
		{name: "integer_t beyond 32 bits", event: authenticationEvent, changes: []change{set("timezone_offset", 1<<40)},
			want: []want{{"timezone_offset", CodeFormat}}},
		{name: "float where integer", event: authenticationEvent, changes: []change{set("time", 1700000000000.5)},
			want: []want{{"time", CodeWrongType}}},
		{name: "time in seconds as a string", event: authenticationEvent, changes: []change{set("time", "1700000000")},
			want: []want{{"time", CodeWrongType}}},
		{name: "string where integer enum", event: authenticationEvent, changes: []change{set("severity_id", "1")},
			want: []want{{"severity_id", CodeWrongType}}},
		{name: "string where boolean", event: authenticationEvent, changes: []change{set("is_mfa", "true")},
			want: []want{{"is_mfa", CodeWrongType}}},
		{name: "number where string", event: authenticationEvent, changes: []change{set("user.uid", 42)},
			want: []want{{"user.uid", CodeWrongType}}},
		{name: "string where object", event: authenticationEvent, changes: []change{set("user", "narroway")},
			want: []want{{"user", CodeWrongType}}},
		{name: "array where scalar", event: authenticationEvent, changes: []change{set("user.name", []any{"a", "b"})},
			want: []want{{"user.name", CodeWrongType}}},
		{name: "scalar where array", event: authenticationEvent, changes: []change{set("metadata.profiles", "host")},
			want: []want{{"metadata.profiles", CodeWrongType}}},
		{name: "object where array of objects", event: authenticationEvent,
			changes: []change{set("auth_factors", map[string]any{"factor_type_id": 5, "phone_number": "+13135559542"})},
			want:    []want{{"auth_factors", CodeWrongType}}},
		{name: "wrong element type in array", event: authenticationEvent, changes: []change{set("metadata.profiles", []any{"host", 7})},
			want: []want{{"metadata.profiles[1]", CodeWrongType}}},
		{name: "unmapped must be an object", event: authenticationEvent, changes: []change{set("unmapped", "x")},
			want: []want{{"unmapped", CodeWrongType}}},

		// enums and captions
		{name: "wrong enum value", event: authenticationEvent, changes: []change{set("status_id", 7)},
			want: []want{{"status_id", CodeEnumValue}}},
		{name: "wrong nested enum value", event: authenticationEvent, changes: []change{set("auth_factors[0].factor_type_id", 42)},
			want: []want{{"auth_factors[0].factor_type_id", CodeEnumValue}}},
		{name: "activity not of the class", event: accountChangeEvent,
			changes: []change{set("activity_id", 12), set("type_uid", 300112), del("activity_name")},
			want:    []want{{"activity_id", CodeEnumValue}, {"type_uid", CodeEnumValue}}},
		{name: "category of another class", event: authenticationEvent, changes: []change{set("category_uid", 6)},
			want: []want{{"category_uid", CodeEnumValue}}},
		{name: "wrong caption status", event: authenticationEvent, changes: []change{set("status", "success")},
			want: []want{{"status", CodeEnumCaption}}},
		{name: "wrong caption activity", event: authenticationEvent, changes: []change{set("activity_name", "Logoff")},
			want: []want{{"activity_name", CodeEnumCaption}}},
		{name: "wrong caption class", event: authenticationEvent, changes: []change{set("class_name", "authentication")},
			want: []want{{"class_name", CodeEnumCaption}}},
		{name: "wrong caption category", event: authenticationEvent, changes: []change{set("category_name", "IAM")},
			want: []want{{"category_name", CodeEnumCaption}}},
		{name: "wrong caption type", event: authenticationEvent, changes: []change{set("type_name", "Logon")},
			want: []want{{"type_name", CodeEnumCaption}}},
		{name: "other type_name of another class", event: authenticationEvent,
			changes: []change{set("activity_id", 99), del("activity_name"), set("type_uid", 300299), set("type_name", "Account Change: enrollment")},
			want:    []want{{"type_name", CodeEnumCaption}}},
		{name: "wrong caption severity", event: authenticationEvent, changes: []change{set("severity", "Info")},
			want: []want{{"severity", CodeEnumCaption}}},
		{name: "wrong nested caption", event: authenticationEvent, changes: []change{set("auth_factors[0].factor_type", "Duo Push")},
			want: []want{{"auth_factors[0].factor_type", CodeEnumCaption}}},

		// type_uid
		{name: "wrong type_uid", event: authenticationEvent, changes: []change{set("type_uid", 300202)},
			want: []want{{"type_uid", CodeTypeUID}}},
		{name: "type_uid of another class", event: authenticationEvent, changes: []change{set("type_uid", 300401), del("type_name")},
			want: []want{{"type_uid", CodeTypeUID}}},

		// constraints
		{name: "at_least_one violated top-level", event: authenticationEvent, changes: []change{del("service")},
			want: []want{{"", CodeConstraint}}},
		{name: "at_least_one violated nested", event: authenticationEvent, changes: []change{set("src_endpoint.location", map[string]any{"desc": "somewhere"})},
			want: []want{{"src_endpoint.location", CodeConstraint}}},
		{name: "at_least_one violated user", event: accountChangeEvent, changes: []change{set("user", map[string]any{"email_addr": "a@example.com"})},
			want: []want{{"user", CodeConstraint}}},
		{name: "just_one violated by two", event: authenticationEvent, changes: []change{set("auth_factors[0].email_addr", "narroway@example.com")},
			want: []want{{"auth_factors[0]", CodeConstraint}}},
		{name: "just_one violated by none", event: authenticationEvent, changes: []change{del("auth_factors[0].phone_number")},
			want: []want{{"auth_factors[0]", CodeConstraint}}},

		// version
		{name: "another OCSF version", event: authenticationEvent, changes: []change{set("metadata.version", "1.1.0")},
			want: []want{{"metadata.version", CodeVersion}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			event := decode(t, tt.event)
			for _, c := range tt.changes {
				edit(t, event, c.path, c.value, c.del)
			}
			problems := s.Validate(event)
			got := make([]want, len(problems))
			for i, p := range problems {
				got[i] = want{p.Path, p.Code}
				assert.NotEmpty(t, p.Message, "Message of %v", p)
			}
			assert.ElementsMatch(t, tt.want, got, "Validate problems: %v", problems)
		})
	}
}

func TestValidateGoValues(t *testing.T) {
	s := testSchema(t)
	// An event built in Go rather than decoded: Go integers and typed slices
	// and maps are read as their JSON equivalents.
	event := map[string]any{
		"class_uid": 3001, "category_uid": int64(3), "activity_id": uint8(1), "type_uid": int64(300101),
		"severity_id": json.Number("1"), "time": int64(1700000000000),
		"metadata": map[string]any{"version": "1.3.0", "profiles": []string{},
			"product": map[string]string{"vendor_name": "Cisco", "name": "Duo"}},
		"user": map[string]any{"name": "narroway", "groups": []map[string]any{{"name": "Admins"}}},
	}
	assert.Empty(t, s.Validate(event))

	event["time"] = json.Number("1700000000000.5")
	event["activity_id"] = float32(2)
	problems := s.Validate(event)
	require.Len(t, problems, 2, "Validate problems: %v", problems)
	assert.Equal(t, Problem{Path: "time", Code: CodeWrongType, Message: problems[0].Message}, problems[0])
	assert.Equal(t, Problem{Path: "type_uid", Code: CodeTypeUID, Message: problems[1].Message}, problems[1])
}

func TestProblemString(t *testing.T) {
	assert.Equal(t, "src_endpoint.ip: bad (format)", Problem{Path: "src_endpoint.ip", Code: CodeFormat, Message: "bad"}.String())
	assert.Equal(t, "(event): x (constraint)", Problem{Code: CodeConstraint, Message: "x"}.String())
}

func TestSchemaDefinitions(t *testing.T) {
	s := testSchema(t)
	assert.Equal(t, "1.3.0", s.Version())

	c, ok := s.Class(3002)
	require.True(t, ok, "Class(3002)")
	assert.Equal(t, "authentication", c.Name)
	assert.Equal(t, "Authentication", c.Caption)
	assert.Equal(t, "iam", c.Category)
	assert.Equal(t, 3, c.CategoryUID)
	assert.Contains(t, c.Profiles, "host")
	assert.Equal(t, Constraints{AtLeastOne: []string{"service", "dst_endpoint"}}, c.Constraints)
	names := c.AttributeNames()
	assert.IsNonDecreasing(t, names)
	assert.Contains(t, names, "auth_factors")

	attr := func(name string) *Attribute {
		a, ok := c.Attributes[name]
		require.True(t, ok, "attribute %s", name)
		return a
	}
	assert.Equal(t, &Attribute{Name: "time", Caption: "Event Time", Type: "timestamp_t", BaseType: "long_t", Requirement: Required}, attr("time"))
	assert.Equal(t, "user", attr("user").ObjectType)
	assert.Equal(t, ObjectT, attr("user").Type)
	assert.Equal(t, ObjectT, attr("user").BaseType)
	assert.True(t, attr("auth_factors").IsArray)
	assert.Equal(t, "auth_factor", attr("auth_factors").ObjectType)
	assert.Equal(t, "host", attr("device").Profile)
	assert.Equal(t, FreeObject, attr("unmapped").ObjectType)
	assert.Equal(t, "Logon", attr("activity_id").Enum["1"])
	assert.Equal(t, "activity_name", attr("activity_id").Sibling)
	assert.Equal(t, "integer_t", attr("activity_id").Type)
	assert.Equal(t, "Authentication: Logon", attr("type_uid").Enum["300201"])

	_, ok = s.Class(1)
	assert.False(t, ok, "Class(1)")

	o, ok := s.Object("auth_factor")
	require.True(t, ok, "Object(auth_factor)")
	assert.Equal(t, []string{"email_addr", "phone_number", "security_questions"}, o.Constraints.JustOne)
	assert.Equal(t, Required, o.Attributes["factor_type_id"].Requirement)
	assert.Equal(t, "factor_type", o.Attributes["factor_type_id"].Sibling)

	ne, ok := s.Object("network_endpoint")
	require.True(t, ok, "Object(network_endpoint)")
	assert.Equal(t, "ip_t", ne.Attributes["ip"].Type)
	assert.Equal(t, "string_t", ne.Attributes["ip"].BaseType)
	assert.Equal(t, "port_t", ne.Attributes["port"].Type)
	assert.Equal(t, "integer_t", ne.Attributes["port"].BaseType)

	_, ok = s.Object("no_such_object")
	assert.False(t, ok, "Object(no_such_object)")
}

func TestLoadSchemaErrors(t *testing.T) {
	_, err := LoadSchema("testdata/does-not-exist.json")
	require.Error(t, err)

	_, err = LoadSchema("testdata/SOURCES.md")
	require.Error(t, err)

	_, err = parseSchema([]byte(`{"version": "1.3.0"}`))
	require.Error(t, err)
}

func FuzzValidate(f *testing.F) {
	s := testSchema(f)
	for _, seed := range []string{
		authenticationEvent, entityManagementEvent, accountChangeEvent, detectionFindingEvent,
		`{}`, `{"class_uid": 3002}`, `{"class_uid": 3002, "metadata": {"profiles": [1, "host", null]}, "actor": {"user": []}}`,
		`{"class_uid": 3002.0, "activity_id": 1e300, "type_uid": -1e300, "user": {"groups": {"name": 1}}}`,
	} {
		f.Add([]byte(seed))
	}
	codes := map[string]bool{
		CodeClassUID: true, CodeRequiredMissing: true, CodeUnknownAttribute: true, CodeProfile: true,
		CodeWrongType: true, CodeFormat: true, CodeEnumValue: true, CodeEnumCaption: true,
		CodeTypeUID: true, CodeConstraint: true, CodeVersion: true,
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var event map[string]any
		if json.Unmarshal(data, &event) != nil || event == nil {
			return
		}
		for _, p := range s.Validate(event) {
			if !codes[p.Code] || p.Message == "" {
				t.Errorf("Validate(%s) gave %#v, want a known code and a message", data, p)
			}
		}
	})
}
