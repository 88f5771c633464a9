// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Package ocsf validates OCSF events offline against a compiled OCSF schema,
// the JSON that ocsf-lib-py's compiler writes (classes, objects, types and
// profiles resolved), and describes the schema's classes and objects to code
// that derives other shapes from them, such as Parquet columns.
//
// It knows nothing of where events come from: an event is a decoded JSON
// object, and every rule is read from the schema rather than written per
// class.
package ocsf

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Problem codes, one per rule of [Schema.Validate]. They are stable: tests
// may compare them.
const (
	// CodeClassUID: class_uid is missing, not an integer, or no class of the
	// schema.
	CodeClassUID = "class_uid"
	// CodeRequiredMissing: a required attribute is absent (or null).
	CodeRequiredMissing = "required_missing"
	// CodeUnknownAttribute: the class or object has no such attribute.
	CodeUnknownAttribute = "unknown_attribute"
	// CodeProfile: an attribute that a profile contributes is present while
	// metadata.profiles does not list the profile, or metadata.profiles
	// lists a profile the schema does not know.
	CodeProfile = "profile"
	// CodeWrongType: the JSON value is not of the attribute's type: a string
	// for a string_t, a whole number for integer_t, long_t and timestamp_t,
	// a number for float_t, a boolean for boolean_t, an object for an
	// object, an array exactly when the attribute is an array.
	CodeWrongType = "wrong_type"
	// CodeFormat: the value has the right JSON type but not the form its
	// OCSF type asks for: the type's regex, an IP address for ip_t, a CIDR
	// prefix for subnet_t, the type's range or maximum length, or a 32-bit
	// value for integer_t.
	CodeFormat = "format"
	// CodeEnumValue: an enumerated attribute holds a value outside its enum.
	CodeEnumValue = "enum_value"
	// CodeEnumCaption: the sibling of an enumerated attribute (activity_name
	// of activity_id, status of status_id, ...) differs from the enum's
	// caption. Not checked for 99 (Other), where the sibling holds the
	// source's own value.
	CodeEnumCaption = "enum_caption"
	// CodeTypeUID: type_uid is not class_uid*100 + activity_id.
	CodeTypeUID = "type_uid"
	// CodeConstraint: a class or object constraint fails: none of an
	// at_least_one list is present, or not exactly one of a just_one list.
	CodeConstraint = "constraint"
	// CodeVersion: metadata.version is not the schema's version.
	CodeVersion = "version"
)

// Requirement levels of an attribute.
const (
	Required    = "required"
	Recommended = "recommended"
	Optional    = "optional"
)

// Attribute types that are not OCSF scalar types: an attribute whose value
// is an object has Type ObjectT and the object's name in ObjectType (the
// name "object" is the free-form object, as used by unmapped).
const (
	ObjectT    = "object_t"
	FreeObject = "object"
)

// Problem is one way in which an event does not follow the schema.
type Problem struct {
	// Path is the attribute's path in the event, e.g.
	// "src_endpoint.location.country" or "auth_factors[0].factor_type_id",
	// or "" for the event itself (a class constraint).
	Path string
	// Code is one of the Code constants.
	Code string
	// Message says what is wrong in words.
	Message string
}

// String returns the problem as "path: message (code)".
func (p Problem) String() string {
	path := p.Path
	if path == "" {
		path = "(event)"
	}
	return path + ": " + p.Message + " (" + p.Code + ")"
}

// Attribute is one attribute of a class or object.
type Attribute struct {
	Name    string
	Caption string
	// Type is the OCSF type: a scalar type such as "string_t", "integer_t",
	// "long_t", "timestamp_t", "ip_t", "float_t", "boolean_t", "json_t", or
	// ObjectT when the value is an object.
	Type string
	// BaseType is the primitive Type resolves to: "string_t", "integer_t",
	// "long_t", "float_t", "boolean_t", "json_t" or ObjectT. For example
	// timestamp_t gives long_t and ip_t gives string_t.
	BaseType string
	// ObjectType is the object's name when Type is ObjectT, else "".
	ObjectType string
	IsArray    bool
	// Requirement is Required, Recommended or Optional. For a profile
	// attribute it applies only when the event lists the profile.
	Requirement string
	// Enum maps each allowed value (integers in decimal) to its caption; nil
	// when the attribute is not enumerated.
	Enum map[string]string
	// Sibling is the attribute that holds Enum's caption, e.g.
	// "activity_name" for activity_id; "" when there is none.
	Sibling string
	// Profile is the profile that contributes the attribute, "" for the
	// class's or object's own attributes.
	Profile string
}

// Constraints are the presence rules of a class or object.
type Constraints struct {
	// AtLeastOne lists attributes of which one or more must be present.
	AtLeastOne []string
	// JustOne lists attributes of which exactly one must be present.
	JustOne []string
}

// Class is an event class of the schema, with its attributes resolved.
type Class struct {
	UID         int
	Name        string // e.g. "authentication"
	Caption     string // e.g. "Authentication"
	Category    string // e.g. "iam"
	CategoryUID int
	// Profiles are the profiles an event of the class may list.
	Profiles    []string
	Attributes  map[string]*Attribute
	Constraints Constraints
}

// Object is an object of the schema, with its attributes resolved.
type Object struct {
	Name        string // e.g. "network_endpoint"
	Caption     string
	Profiles    []string
	Attributes  map[string]*Attribute
	Constraints Constraints
}

// AttributeNames returns the class's attribute names in sorted order.
func (c *Class) AttributeNames() []string { return sortedKeys(c.Attributes) }

// AttributeNames returns the object's attribute names in sorted order.
func (o *Object) AttributeNames() []string { return sortedKeys(o.Attributes) }

// typeInfo is a scalar type of the schema with what its values must match.
type typeInfo struct {
	base   string
	regex  *regexp.Regexp
	check  func(string) bool
	min    *float64
	max    *float64
	maxLen int
}

// Schema is a compiled OCSF schema (the JSON that ocsf-lib-py compiles:
// classes, objects, types, profiles resolved). It is read-only once loaded
// and safe for concurrent use.
type Schema struct {
	version  string
	classes  map[int]*Class
	objects  map[string]*Object
	types    map[string]*typeInfo
	profiles map[string]bool
}

// formatChecks replace a type's regex with a parser that says the same more
// exactly.
var formatChecks = map[string]func(string) bool{
	"ip_t": func(s string) bool {
		_, err := netip.ParseAddr(s)
		return err == nil
	},
	"subnet_t": func(s string) bool {
		_, err := netip.ParsePrefix(s)
		return err == nil
	},
}

var primitives = map[string]bool{
	"string_t": true, "integer_t": true, "long_t": true, "float_t": true,
	"boolean_t": true, "json_t": true,
}

// The compiled JSON, as far as the validator reads it.
type (
	rawSchema struct {
		Version    string                     `json:"version"`
		Classes    map[string]rawDefinition   `json:"classes"`
		Objects    map[string]rawDefinition   `json:"objects"`
		Types      map[string]rawType         `json:"types"`
		Profiles   map[string]json.RawMessage `json:"profiles"`
		Categories map[string]struct {
			UID int `json:"uid"`
		} `json:"categories"`
	}
	rawDefinition struct {
		Name        string                  `json:"name"`
		Caption     string                  `json:"caption"`
		UID         *int                    `json:"uid"`
		Category    *string                 `json:"category"`
		Profiles    []string                `json:"profiles"`
		Attributes  map[string]rawAttribute `json:"attributes"`
		Constraints map[string][]string     `json:"constraints"`
	}
	rawAttribute struct {
		Caption     string  `json:"caption"`
		Type        string  `json:"type"`
		ObjectType  *string `json:"object_type"`
		IsArray     bool    `json:"is_array"`
		Requirement string  `json:"requirement"`
		Enum        map[string]struct {
			Caption string `json:"caption"`
		} `json:"enum"`
		Sibling *string `json:"sibling"`
		Profile *string `json:"profile"`
	}
	rawType struct {
		Type   *string   `json:"type"`
		Regex  *string   `json:"regex"`
		Range  []float64 `json:"range"`
		MaxLen *int      `json:"max_len"`
	}
)

// LoadSchema reads a compiled OCSF schema, such as ocsf-lib-py's
// schema_cache/schema-1.3.0.json.
func LoadSchema(path string) (*Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ocsf: reading schema: %w", err)
	}
	s, err := parseSchema(data)
	if err != nil {
		return nil, fmt.Errorf("ocsf: schema %s: %w", path, err)
	}
	return s, nil
}

func parseSchema(data []byte) (*Schema, error) {
	var raw rawSchema
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	if raw.Version == "" || len(raw.Classes) == 0 || len(raw.Objects) == 0 || len(raw.Types) == 0 {
		return nil, fmt.Errorf("not a compiled OCSF schema: version, classes, objects and types are required")
	}
	s := &Schema{
		version:  raw.Version,
		classes:  make(map[int]*Class, len(raw.Classes)),
		objects:  make(map[string]*Object, len(raw.Objects)),
		types:    make(map[string]*typeInfo, len(raw.Types)),
		profiles: make(map[string]bool, len(raw.Profiles)),
	}
	for name := range raw.Profiles {
		s.profiles[name] = true
	}
	for name, rt := range raw.Types {
		ti := &typeInfo{check: formatChecks[name]}
		if rt.Regex != nil && ti.check == nil {
			re, err := regexp.Compile(*rt.Regex)
			if err != nil {
				return nil, fmt.Errorf("type %s: regex: %w", name, err)
			}
			ti.regex = re
		}
		if len(rt.Range) == 2 {
			ti.min, ti.max = &rt.Range[0], &rt.Range[1]
		}
		if rt.MaxLen != nil {
			ti.maxLen = *rt.MaxLen
		}
		s.types[name] = ti
	}
	for name, ti := range s.types {
		base, err := resolveBase(raw.Types, name)
		if err != nil {
			return nil, err
		}
		ti.base = base
		if ti.maxLen == 0 && base != name {
			if rt := raw.Types[base]; rt.MaxLen != nil {
				ti.maxLen = *rt.MaxLen
			}
		}
	}
	for name, rd := range raw.Objects {
		s.objects[name] = &Object{
			Name:        name,
			Caption:     rd.Caption,
			Profiles:    rd.Profiles,
			Attributes:  s.convertAttributes(rd.Attributes),
			Constraints: convertConstraints(rd.Constraints),
		}
	}
	for name, rd := range raw.Classes {
		if rd.UID == nil {
			return nil, fmt.Errorf("class %s has no uid", name)
		}
		c := &Class{
			UID:         *rd.UID,
			Name:        name,
			Caption:     rd.Caption,
			Profiles:    rd.Profiles,
			Attributes:  s.convertAttributes(rd.Attributes),
			Constraints: convertConstraints(rd.Constraints),
		}
		if rd.Category != nil {
			c.Category = *rd.Category
			c.CategoryUID = raw.Categories[c.Category].UID
		}
		if other, dup := s.classes[c.UID]; dup {
			return nil, fmt.Errorf("classes %s and %s share uid %d", other.Name, name, c.UID)
		}
		s.classes[c.UID] = c
	}
	return s, nil
}

// resolveBase follows a type's "type" links down to a primitive.
func resolveBase(types map[string]rawType, name string) (string, error) {
	for seen := 0; seen <= len(types); seen++ {
		if primitives[name] {
			return name, nil
		}
		rt, ok := types[name]
		if !ok || rt.Type == nil {
			return "", fmt.Errorf("type %s does not resolve to a primitive type", name)
		}
		name = *rt.Type
	}
	return "", fmt.Errorf("type %s: cycle in base types", name)
}

func (s *Schema) convertAttributes(raw map[string]rawAttribute) map[string]*Attribute {
	attrs := make(map[string]*Attribute, len(raw))
	for name, ra := range raw {
		a := &Attribute{
			Name:        name,
			Caption:     ra.Caption,
			Type:        ra.Type,
			IsArray:     ra.IsArray,
			Requirement: ra.Requirement,
		}
		if ti, ok := s.types[ra.Type]; ok {
			a.BaseType = ti.base
		} else {
			// Any other type names an object; the compiled JSON repeats it in
			// object_type.
			a.Type, a.BaseType, a.ObjectType = ObjectT, ObjectT, ra.Type
			if ra.ObjectType != nil && *ra.ObjectType != "" {
				a.ObjectType = *ra.ObjectType
			}
		}
		if ra.Enum != nil {
			a.Enum = make(map[string]string, len(ra.Enum))
			for k, v := range ra.Enum {
				a.Enum[k] = v.Caption
			}
		}
		if ra.Sibling != nil {
			a.Sibling = *ra.Sibling
		}
		if ra.Profile != nil {
			a.Profile = *ra.Profile
		}
		attrs[name] = a
	}
	return attrs
}

func convertConstraints(raw map[string][]string) Constraints {
	return Constraints{AtLeastOne: raw["at_least_one"], JustOne: raw["just_one"]}
}

// Version returns the schema's OCSF version, e.g. "1.3.0".
func (s *Schema) Version() string { return s.version }

// Class returns the class with the given class_uid, e.g. 3002 for
// Authentication, with every attribute any of its profiles may add (see
// [Attribute.Profile]).
func (s *Schema) Class(uid int) (*Class, bool) {
	c, ok := s.classes[uid]
	return c, ok
}

// Object returns the object of the given name, e.g. "network_endpoint".
func (s *Schema) Object(name string) (*Object, bool) {
	o, ok := s.objects[name]
	return o, ok
}

// validation is the state of one Validate call.
type validation struct {
	s        *Schema
	profiles map[string]bool // listed in metadata.profiles
	problems []Problem
}

func (v *validation) add(path, code, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Code: code, Message: fmt.Sprintf(format, args...)})
}

// Validate returns every problem of one event (a decoded JSON object), none
// when it is valid. It checks, from the schema's data:
//   - class_uid names a class of the schema (otherwise nothing else is
//     checked); category_uid, activity_id and the other enumerated
//     attributes hold values of their enums, and type_uid is
//     class_uid*100 + activity_id;
//   - the sibling captions (class_name, category_name, activity_name,
//     type_name, status, severity, ...) equal their enum's caption, except
//     for 99 (Other);
//   - required attributes are present, in the event and in every object in
//     it; attributes of a profile are allowed, and required, only when
//     metadata.profiles lists the profile;
//   - no attribute is unknown, at any depth, except inside free-form
//     attributes (json_t, and the object type "object" such as unmapped);
//   - values have their attribute's type (whole numbers for integer_t,
//     long_t and timestamp_t, so time is whole milliseconds), with the
//     type's regex, range and maximum length, and are arrays exactly when
//     the attribute is an array;
//   - class and object constraints (at_least_one, just_one);
//   - metadata.version is the schema's version.
//
// Numbers may be float64 (encoding/json), json.Number or Go integers;
// arrays and objects may be any slice or string-keyed map. A null value
// counts as absent.
func (s *Schema) Validate(event map[string]any) []Problem {
	v := &validation{s: s, profiles: map[string]bool{}}
	classUID, ok := wholeNumber(event["class_uid"])
	if !ok {
		if event["class_uid"] == nil {
			v.add("class_uid", CodeClassUID, "class_uid is missing")
		} else {
			v.add("class_uid", CodeClassUID, "class_uid %s is not an integer", describe(event["class_uid"]))
		}
		return v.problems
	}
	var class *Class
	if classUID >= math.MinInt32 && classUID <= math.MaxInt32 {
		class = s.classes[int(classUID)]
	}
	if class == nil {
		v.add("class_uid", CodeClassUID, "class_uid %s is no class of OCSF %s", formatNumber(classUID), s.version)
		return v.problems
	}
	v.readProfiles(event)

	skip := map[string]bool{}
	activity, okA := wholeNumber(event["activity_id"])
	typeUID, okT := wholeNumber(event["type_uid"])
	if okA && okT && typeUID != classUID*100+activity {
		v.add("type_uid", CodeTypeUID, "type_uid is %s, want class_uid*100 + activity_id = %s",
			formatNumber(typeUID), formatNumber(classUID*100+activity))
		// Its enum and caption say nothing more.
		skip["type_uid"] = true
	}
	v.checkAttributes("", event, class.Attributes, class.Constraints, skip)

	if md, ok := asMap(event["metadata"]); ok {
		if ver, ok := md["version"].(string); ok && ver != s.version {
			v.add("metadata.version", CodeVersion, "metadata.version is %q, want the schema's %q", ver, s.version)
		}
	}
	sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].Path < v.problems[j].Path })
	return v.problems
}

// readProfiles collects metadata.profiles and reports names the schema does
// not know. Their type is checked with the rest of metadata.
func (v *validation) readProfiles(event map[string]any) {
	md, ok := asMap(event["metadata"])
	if !ok {
		return
	}
	list, ok := asList(md["profiles"])
	if !ok {
		return
	}
	for i, p := range list {
		name, ok := p.(string)
		if !ok {
			continue
		}
		v.profiles[name] = true
		if !v.s.profiles[name] {
			v.add(fmt.Sprintf("metadata.profiles[%d]", i), CodeProfile, "profile %q is not in OCSF %s", name, v.s.version)
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// checkAttributes checks one class or object instance.
func (v *validation) checkAttributes(path string, obj map[string]any, attrs map[string]*Attribute, cons Constraints, skip map[string]bool) {
	for _, name := range sortedKeys(obj) {
		val := obj[name]
		p := join(path, name)
		a, known := attrs[name]
		switch {
		case !known:
			v.add(p, CodeUnknownAttribute, "%s is not an attribute here", name)
			continue
		case a.Profile != "" && !v.profiles[a.Profile]:
			v.add(p, CodeProfile, "%s belongs to the %s profile, which metadata.profiles does not list", name, a.Profile)
			continue
		case val == nil:
			continue
		}
		if !v.checkValue(p, a, val) || skip[name] {
			continue
		}
		v.checkEnum(p, path, a, val, obj)
	}
	for _, name := range sortedKeys(attrs) {
		a := attrs[name]
		if a.Requirement != Required || (a.Profile != "" && !v.profiles[a.Profile]) {
			continue
		}
		if obj[name] == nil {
			v.add(join(path, name), CodeRequiredMissing, "required attribute %s is missing", name)
		}
	}
	if len(cons.AtLeastOne) > 0 && countPresent(obj, cons.AtLeastOne) == 0 {
		v.add(path, CodeConstraint, "at least one of %s must be present", strings.Join(cons.AtLeastOne, ", "))
	}
	if len(cons.JustOne) > 0 {
		if n := countPresent(obj, cons.JustOne); n != 1 {
			v.add(path, CodeConstraint, "exactly one of %s must be present, found %d", strings.Join(cons.JustOne, ", "), n)
		}
	}
}

func countPresent(obj map[string]any, names []string) int {
	n := 0
	for _, name := range names {
		if obj[name] != nil {
			n++
		}
	}
	return n
}

// checkValue checks a non-null value against its attribute's type and
// arity, recursing into objects. It reports whether the value's type was
// right, so that its enum can be checked.
func (v *validation) checkValue(path string, a *Attribute, val any) bool {
	if list, isList := asList(val); isList {
		if !a.IsArray {
			v.add(path, CodeWrongType, "%s is an array, want a single %s", a.Name, typeWord(a))
			return false
		}
		ok := true
		for i, el := range list {
			p := fmt.Sprintf("%s[%d]", path, i)
			if el == nil {
				v.add(p, CodeWrongType, "null in an array of %s", typeWord(a))
				ok = false
				continue
			}
			if !v.checkScalar(p, a, el) {
				ok = false
			}
		}
		return ok
	}
	if a.IsArray && a.BaseType != "json_t" {
		v.add(path, CodeWrongType, "%s is %s, want an array of %s", a.Name, describe(val), typeWord(a))
		return false
	}
	return v.checkScalar(path, a, val)
}

// checkScalar checks one value (an array's element, or the attribute's
// whole value when it is not an array).
func (v *validation) checkScalar(path string, a *Attribute, val any) bool {
	switch a.BaseType {
	case "json_t":
		return true
	case ObjectT:
		m, ok := asMap(val)
		if !ok {
			v.add(path, CodeWrongType, "%s is %s, want an object (%s)", a.Name, describe(val), a.ObjectType)
			return false
		}
		if a.ObjectType == FreeObject {
			return true
		}
		o, ok := v.s.objects[a.ObjectType]
		if !ok {
			// The schema names an object it does not define: take anything.
			return true
		}
		v.checkAttributes(path, m, o.Attributes, o.Constraints, nil)
		return true
	case "boolean_t":
		if _, ok := val.(bool); !ok {
			v.add(path, CodeWrongType, "%s is %s, want a boolean", a.Name, describe(val))
			return false
		}
		return true
	case "string_t":
		str, ok := val.(string)
		if !ok {
			v.add(path, CodeWrongType, "%s is %s, want a string (%s)", a.Name, describe(val), a.Type)
			return false
		}
		ti := v.s.types[a.Type]
		switch {
		case ti == nil:
		case ti.maxLen > 0 && utf8.RuneCountInString(str) > ti.maxLen:
			v.add(path, CodeFormat, "%s is %d characters long, longer than %s's %d", a.Name, utf8.RuneCountInString(str), a.Type, ti.maxLen)
		case ti.check != nil && !ti.check(str), ti.regex != nil && !ti.regex.MatchString(str):
			v.add(path, CodeFormat, "%s %q is not a valid %s", a.Name, str, a.Type)
		}
		return true
	case "float_t":
		if _, ok := number(val); !ok {
			v.add(path, CodeWrongType, "%s is %s, want a number", a.Name, describe(val))
			return false
		}
		return true
	case "integer_t", "long_t":
		n, isNum := number(val)
		f, whole := wholeNumber(val)
		if !whole {
			if isNum {
				v.add(path, CodeWrongType, "%s is %s, not a whole number (%s)", a.Name, formatNumber(n), a.Type)
			} else {
				v.add(path, CodeWrongType, "%s is %s, want a whole number (%s)", a.Name, describe(val), a.Type)
			}
			return false
		}
		ti := v.s.types[a.Type]
		switch {
		case a.BaseType == "integer_t" && (f < math.MinInt32 || f > math.MaxInt32):
			v.add(path, CodeFormat, "%s is %s, beyond a 32-bit integer_t", a.Name, formatNumber(f))
		case a.BaseType == "long_t" && (f < math.MinInt64 || f >= math.MaxInt64):
			v.add(path, CodeFormat, "%s is %s, beyond a 64-bit long_t", a.Name, formatNumber(f))
		case ti != nil && ti.min != nil && (f < *ti.min || f > *ti.max):
			v.add(path, CodeFormat, "%s is %s, outside %s's range %s..%s", a.Name, formatNumber(f), a.Type, formatNumber(*ti.min), formatNumber(*ti.max))
		}
		return true
	}
	return true
}

// checkEnum checks an enumerated attribute's value, and its sibling's
// caption when the sibling is present in the same object.
func (v *validation) checkEnum(path, parent string, a *Attribute, val any, obj map[string]any) {
	if a.Enum == nil {
		return
	}
	values, isList := asList(val)
	if !isList {
		values = []any{val}
	}
	var siblings []any
	sib, hasSib := obj[a.Sibling]
	if a.Sibling != "" && hasSib && sib != nil {
		if isList {
			siblings, _ = asList(sib)
		} else {
			siblings = []any{sib}
		}
	}
	for i, el := range values {
		p, sp := path, join(parent, a.Sibling)
		if isList {
			p, sp = fmt.Sprintf("%s[%d]", path, i), fmt.Sprintf("%s[%d]", sp, i)
		}
		key := enumKey(el)
		caption, ok := a.Enum[key]
		if !ok {
			v.add(p, CodeEnumValue, "%s %s is not one of %s", a.Name, key, strings.Join(sortedEnumKeys(a.Enum), ", "))
			continue
		}
		if i >= len(siblings) {
			continue
		}
		got, ok := siblings[i].(string)
		if !ok {
			continue
		}
		// Other (99, and type_uid's "<class>: Other") holds the source's
		// own value, after the class's prefix for type_name.
		if prefix, other := strings.CutSuffix(caption, "Other"); other && strings.HasSuffix(key, "99") {
			if !strings.HasPrefix(got, prefix) {
				v.add(sp, CodeEnumCaption, "%s is %q, want %q followed by the source's value, for %s %s", a.Sibling, got, prefix, a.Name, key)
			}
			continue
		}
		if got != caption {
			v.add(sp, CodeEnumCaption, "%s is %q, want %q, the caption of %s %s", a.Sibling, got, caption, a.Name, key)
		}
	}
}

func enumKey(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	if f, ok := wholeNumber(v); ok {
		return formatNumber(f)
	}
	if f, ok := number(v); ok {
		return formatNumber(f)
	}
	return fmt.Sprint(v)
}

// sortedEnumKeys orders keys numerically where they are numbers.
func sortedEnumKeys(enum map[string]string) []string {
	keys := sortedKeys(enum)
	slices.SortStableFunc(keys, func(x, y string) int {
		a, errA := strconv.ParseFloat(x, 64)
		b, errB := strconv.ParseFloat(y, 64)
		switch {
		case errA != nil || errB != nil:
			return strings.Compare(x, y)
		case a < b:
			return -1
		case a > b:
			return 1
		}
		return 0
	})
	return keys
}

// number returns a JSON number as a float64.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, !math.IsNaN(n) && !math.IsInf(n, 0)
	case json.Number:
		f, err := n.Float64()
		return f, err == nil && !math.IsInf(f, 0)
	case bool, string, nil:
		return 0, false
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return float64(rv.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return float64(rv.Uint()), true
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		return f, !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

// wholeNumber returns a JSON number that has no fractional part.
func wholeNumber(v any) (float64, bool) {
	if n, ok := v.(json.Number); ok {
		if _, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			f, _ := n.Float64()
			return f, true
		}
	}
	f, ok := number(v)
	if !ok || f != math.Trunc(f) {
		return f, false
	}
	return f, true
}

func formatNumber(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// asMap returns a JSON object as a map[string]any.
func asMap(v any) (map[string]any, bool) {
	if m, ok := v.(map[string]any); ok {
		return m, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil, false
	}
	m := make(map[string]any, rv.Len())
	for it := rv.MapRange(); it.Next(); {
		m[it.Key().String()] = it.Value().Interface()
	}
	return m, true
}

// asList returns a JSON array as a []any. A []byte is not an array.
func asList(v any) ([]any, bool) {
	if l, ok := v.([]any); ok {
		return l, true
	}
	rv := reflect.ValueOf(v)
	if (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) || rv.Type().Elem().Kind() == reflect.Uint8 {
		return nil, false
	}
	l := make([]any, rv.Len())
	for i := range l {
		l[i] = rv.Index(i).Interface()
	}
	return l, true
}

// describe names a value's JSON type for messages.
func describe(v any) string {
	if _, ok := asList(v); ok {
		return "an array"
	}
	if _, ok := asMap(v); ok {
		return "an object"
	}
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case bool:
		return strconv.FormatBool(x)
	}
	if f, ok := number(v); ok {
		return formatNumber(f)
	}
	return fmt.Sprintf("a %T", v)
}

func typeWord(a *Attribute) string {
	if a.Type == ObjectT {
		return a.ObjectType
	}
	return a.Type
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
