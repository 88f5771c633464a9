// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package ocsf

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMapCaptionsMatchSchema checks every caption the mapper writes
// against the enums of the compiled OCSF 1.3.0 schema, so a typo in the
// tables cannot pass as long as no test event happens to use it.
func TestMapCaptionsMatchSchema(t *testing.T) {
	s, err := LoadSchema("testdata/schema-1.3.0.json")
	require.NoError(t, err)
	enumOf := func(t *testing.T, attrs map[string]*Attribute, name string) map[string]string {
		t.Helper()
		a, ok := attrs[name]
		require.True(t, ok, "no attribute %s", name)
		require.NotNil(t, a.Enum, "%s is not enumerated", name)
		return a.Enum
	}
	check := func(t *testing.T, what string, ours map[int]string, enum map[string]string) {
		t.Helper()
		for id, caption := range ours {
			assert.Equal(t, enum[strconv.Itoa(id)], caption, "%s %d", what, id)
		}
	}
	for uid, info := range classes {
		c, ok := s.Class(uid)
		require.True(t, ok, "class %d", uid)
		assert.Equal(t, c.Caption, info.name, "class %d name", uid)
		assert.Equal(t, c.CategoryUID, info.category, "class %d category", uid)
		check(t, info.name+" activity_id", info.activities, enumOf(t, c.Attributes, "activity_id"))
		check(t, info.name+" severity_id", severityCaptions, enumOf(t, c.Attributes, "severity_id"))
		if uid == ClassDetectionFinding {
			check(t, info.name+" status_id", findingStatusCaptions, enumOf(t, c.Attributes, "status_id"))
		} else {
			check(t, info.name+" status_id", statusCaptions, enumOf(t, c.Attributes, "status_id"))
		}
	}
	obj := func(name string) map[string]*Attribute {
		o, ok := s.Object(name)
		require.True(t, ok, name)
		return o.Attributes
	}
	check(t, "auth_factor.factor_type_id", factorTypeCaptions, enumOf(t, obj("auth_factor"), "factor_type_id"))
	check(t, "user.type_id", userTypeCaptions, enumOf(t, obj("user"), "type_id"))
	check(t, "network_endpoint.type_id", endpointTypeCaptions, enumOf(t, obj("network_endpoint"), "type_id"))
	check(t, "device.type_id", deviceTypeCaptions, enumOf(t, obj("device"), "type_id"))
	check(t, "os.type_id", osTypeCaptions, enumOf(t, obj("os"), "type_id"))
	for name, id := range osTypes {
		assert.Contains(t, osTypeCaptions, id, "os %q", name)
	}
}

// TestMapTablesParse checks the data tables load, and that their parsers
// refuse what the mapper could not write.
func TestMapTablesParse(t *testing.T) {
	assert.NotEmpty(t, actionTable)
	assert.NotEmpty(t, suffixTable)
	assert.NotEmpty(t, factorTable)
	assert.GreaterOrEqual(t, len(countryCodes), 249, "every ISO 3166-1 country")

	_, _, err := parseActions([]byte(`{"actions":{"x_login":{"class_uid":3002,"activity_id":42}}}`))
	assert.ErrorContains(t, err, `action "x_login": class 3002 has no activity 42`)
	_, _, err = parseActions([]byte(`{"actions":{"x":{"class_uid":3004,"activity_id":1,"status":"meh"}}}`))
	assert.ErrorContains(t, err, `unknown status "meh"`)
	_, _, err = parseActions([]byte(`{"suffixes":[{"suffix":"_x","activity_id":50}]}`))
	assert.ErrorContains(t, err, `suffix "_x"`)
	_, _, err = parseActions([]byte(`{"actions":{"x":{"class_uid":3001,"activity_id":9,"account":"target"}}}`))
	assert.ErrorContains(t, err, `account "target"`)
	_, err = parseFactors([]byte(`{"odd":{"factor_type_id":12}}`))
	assert.ErrorContains(t, err, `factor "odd": unknown factor_type_id 12`)
	_, _, err = parseCountries([]byte("US\tUnited States\nUM\tUnited States\n"))
	assert.ErrorContains(t, err, `"United States" is already US`)
	_, _, err = parseCountries([]byte("usa\tUnited States\n"))
	assert.ErrorContains(t, err, "line 1")
}
