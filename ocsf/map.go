// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package ocsf

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Version is the OCSF schema version the mapper writes.
const Version = "1.3.0"

// Duo log types, as the duo_admin_logs input names them in its duo_log_type
// metadata. [Map] also takes the Admin API's own names (authentication,
// administrator, telephony, offline_enrollment, activity, trust_monitor).
const (
	LogAuthentication    = "Duo.Authentication"
	LogAdministrator     = "Duo.Administrator"
	LogTelephony         = "Duo.Telephony"
	LogOfflineEnrollment = "Duo.OfflineEnrollment"
	LogActivity          = "Duo.Activity"
	LogTrustMonitor      = "Duo.TrustMonitor"
)

// logTypes maps every accepted log type name to the Admin API's name of
// the log, which is also metadata.product.feature.name and log_name.
var logTypes = map[string]string{
	LogAuthentication: "authentication", "authentication": "authentication",
	LogAdministrator: "administrator", "administrator": "administrator",
	LogTelephony: "telephony", "telephony": "telephony",
	LogOfflineEnrollment: "offline_enrollment", "offline_enrollment": "offline_enrollment",
	LogActivity: "activity", "activity": "activity",
	LogTrustMonitor: "trust_monitor", "trust_monitor": "trust_monitor",
}

// LogName returns the Admin API's name of a log type given as [Map] takes
// it ("Duo.Telephony" gives "telephony"), and whether the type is known.
func LogName(logType string) (string, bool) {
	name, ok := logTypes[logType]
	return name, ok
}

// ErrNoClass is returned, wrapped, for a log type that no OCSF class fits:
// telephony, Duo's record of the SMS and calls it paid for. Callers pass
// such events on unmapped.
var ErrNoClass = errors.New("no OCSF class fits this Duo log type")

// FieldError reports a Duo event that cannot be mapped: the field, as a
// dotted path in the Duo event, and what is wrong with it.
type FieldError struct {
	LogType string
	Field   string
	Problem string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.LogType, e.Problem)
	}
	return fmt.Sprintf("%s: field %q: %s", e.LogType, e.Field, e.Problem)
}

// Options tune [MapWith]. The zero value is what [Map] uses.
type Options struct {
	// APIHost is the Duo API host name the event was read from,
	// api-XXXXXXXX.duosecurity.com; its XXXXXXXX becomes
	// metadata.tenant_uid. When empty, the event's own "host" field (which
	// Duo's Python client adds) is used.
	APIHost string
	// RawData, when not nil, is written as raw_data: the event as Duo sent
	// it.
	RawData []byte
	// LoggedTime, when not zero, is written as metadata.logged_time: when
	// duostream read the event.
	LoggedTime time.Time
}

// Map turns one Duo event of the given log type into one OCSF 1.3.0
// event, and returns it with its class_uid. The event may be raw, as the
// Admin API sends it, or normalized by duo_normalize: Panther's p_* fields
// are ignored. Values that OCSF has no place for are kept, as strings, in
// unmapped under their dotted Duo path.
//
// An event that cannot be mapped returns a [*FieldError] naming the field;
// a telephony event returns an error wrapping [ErrNoClass]. Map never
// changes event and is safe for concurrent use.
func Map(logType string, event map[string]any) (map[string]any, int, error) {
	return MapWith(logType, event, Options{})
}

// MapWith is [Map] with options.
func MapWith(logType string, event map[string]any, opts Options) (map[string]any, int, error) {
	name, ok := logTypes[logType]
	if !ok {
		return nil, 0, &FieldError{LogType: logType, Problem: "unknown Duo log type"}
	}
	m := &mapper{src: source{ev: event, used: map[string]bool{}}, logType: logType, log: name, opts: opts, out: map[string]any{}}
	var err error
	switch name {
	case "authentication":
		err = m.authentication()
	case "administrator", "offline_enrollment":
		err = m.adminLog()
	case "activity":
		err = m.activity()
	case "trust_monitor":
		err = m.trustMonitor()
	default:
		return nil, 0, fmt.Errorf("%s: %w", logType, ErrNoClass)
	}
	if err != nil {
		return nil, 0, err
	}
	m.finish()
	return m.out, m.class, nil
}

// mapper builds one OCSF event.
type mapper struct {
	src     source
	logType string // as given to Map
	log     string // the Admin API's name
	opts    Options
	out     map[string]any
	meta    map[string]any
	class   int
	// profiles used by the event, for metadata.profiles.
	profiles []string
}

func (m *mapper) fail(field, format string, args ...any) error {
	return &FieldError{LogType: m.logType, Field: field, Problem: fmt.Sprintf(format, args...)}
}

// classify sets the classification attributes. activityName is the source
// value for activity 99.
func (m *mapper) classify(class, activity int, activityName string) {
	c := classes[class]
	m.class = class
	caption := c.activities[activity]
	if activity == 99 && activityName != "" {
		caption = activityName
	}
	m.out["class_uid"] = class
	m.out["class_name"] = c.name
	m.out["category_uid"] = c.category
	m.out["category_name"] = categoryCaptions[c.category]
	m.out["activity_id"] = activity
	m.out["activity_name"] = caption
	m.out["type_uid"] = int64(class)*100 + int64(activity)
	m.out["type_name"] = c.name + ": " + caption
}

// setStatus sets status_id and status; raw is the source value, written
// as status for 99 and as status_code.
func (m *mapper) setStatus(id int, raw string) {
	m.out["status_id"] = id
	caption := statusCaptions[id]
	if id == 99 && raw != "" {
		caption = raw
	}
	m.out["status"] = caption
	if raw != "" {
		setString(m.out, "status_code", raw)
	}
}

func (m *mapper) setSeverity(id int) {
	m.out["severity_id"] = id
	m.out["severity"] = severityCaptions[id]
}

// setTime sets time (ms) and metadata.original_time.
func (m *mapper) setTime(ms int64, original string) {
	m.out["time"] = ms
	if original != "" {
		setString(m.meta, "original_time", original)
	}
}

// startMetadata sets metadata's fixed part.
func (m *mapper) startMetadata() {
	m.meta = map[string]any{
		"version": Version,
		"product": map[string]any{
			"vendor_name": "Cisco",
			"name":        "Duo",
			"feature":     map[string]any{"name": m.log},
		},
		"log_name":     m.log,
		"log_provider": "Duo Admin API",
	}
	m.out["metadata"] = m.meta
	host := m.opts.APIHost
	if h := m.src.str("host"); h != "" && host == "" {
		host = h
	}
	if t := tenantOf(host); t != "" {
		m.meta["tenant_uid"] = t
	}
	if !m.opts.LoggedTime.IsZero() {
		m.meta["logged_time"] = m.opts.LoggedTime.UnixMilli()
	}
}

var apiHost = regexp.MustCompile(`^api-([A-Za-z0-9]+)\.`)

// tenantOf returns the account part of an API host name.
func tenantOf(host string) string {
	if sm := apiHost.FindStringSubmatch(strings.ToLower(host)); sm != nil {
		return sm[1]
	}
	return ""
}

// useProfile records that the event uses a profile's attributes.
func (m *mapper) useProfile(p string) {
	for _, q := range m.profiles {
		if q == p {
			return
		}
	}
	m.profiles = append(m.profiles, p)
}

// finish writes what every event ends with: profiles, unmapped, raw_data.
func (m *mapper) finish() {
	if len(m.profiles) > 0 {
		sort.Strings(m.profiles)
		list := make([]any, len(m.profiles))
		for i, p := range m.profiles {
			list[i] = p
		}
		m.meta["profiles"] = list
	}
	unmapped := map[string]any{}
	m.src.unused("", m.src.ev, unmapped)
	if len(unmapped) > 0 {
		m.out["unmapped"] = unmapped
	}
	if m.opts.RawData != nil && utf8.Valid(m.opts.RawData) && len(m.opts.RawData) <= maxString {
		m.out["raw_data"] = string(m.opts.RawData)
	}
}

// maxString is string_t's maximum length, in characters. Longer values
// are left to unmapped.
const maxString = 65535

// maxSource is the longest source string, in bytes, the mapper reads into
// an attribute: short enough that a caption built from it ("Entity
// Management: " + action) stays within maxString.
const maxSource = maxString - 64

// setString sets key to s when s is a usable string_t value.
func setString(obj map[string]any, key, s string) bool {
	if s == "" || utf8.RuneCountInString(s) > maxString {
		return false
	}
	obj[key] = s
	return true
}

// contentHash is a stable ID for events that have none of their own:
// the same record always gives the same ID, raw or normalized.
func contentHash(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// source reads a Duo event and remembers which fields were used, so that
// the others can go to unmapped.
type source struct {
	ev   map[string]any
	used map[string]bool
}

// get returns the value at a dotted path, without marking it used.
func (s *source) get(path string) (any, bool) {
	var cur any = s.ev
	for part := range strings.SplitSeq(path, ".") {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[part]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// use marks a path used: it and everything under it stay out of unmapped.
func (s *source) use(path string) { s.used[path] = true }

// str returns the string at path, trimmed, and marks it used; "" for a
// missing, null, empty or non-string value, or one longer than maxSource
// (which is not marked, so that a value of an unexpected type reaches
// unmapped).
func (s *source) str(path string) string {
	v, ok := s.get(path)
	if !ok {
		return ""
	}
	if v == nil {
		s.use(path)
		return ""
	}
	str, ok := v.(string)
	if !ok || len(str) > maxSource {
		return ""
	}
	if str = strings.TrimSpace(str); str != "" {
		s.use(path)
	}
	return str
}

// obj returns the object at path, or nil.
func (s *source) obj(path string) map[string]any {
	v, _ := s.get(path)
	o, _ := v.(map[string]any)
	return o
}

// number returns the number at path, which may also be a string holding
// one, and marks it used.
func (s *source) number(path string) (float64, bool) {
	v, ok := s.get(path)
	if !ok {
		return 0, false
	}
	var f float64
	switch n := v.(type) {
	case float64:
		f = n
	case int:
		f = float64(n)
	case int64:
		f = float64(n)
	case json.Number:
		var err error
		if f, err = n.Float64(); err != nil {
			return 0, false
		}
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(n), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	s.use(path)
	return f, true
}

// unused copies every value under obj (at prefix) that was not used into
// out, under its dotted path, as a string: strings as they are, other
// values as JSON. Nulls, empty strings and Panther's p_* fields are left
// out.
func (s *source) unused(prefix string, obj map[string]any, out map[string]any) {
	for k, v := range obj {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		} else if strings.HasPrefix(k, "p_") {
			continue
		}
		if s.used[path] || v == nil {
			continue
		}
		switch val := v.(type) {
		case map[string]any:
			s.unused(path, val, out)
		case string:
			if val != "" {
				out[path] = val
			}
		default:
			b, err := json.Marshal(val)
			if err == nil {
				out[path] = string(b)
			}
		}
	}
}

// Times are accepted between 1970 and 9999.
const maxMillis = 253402300799999

// isoTime reads an RFC 3339 time at path, and marks it used.
func (s *source) isoTime(path string) (int64, string, bool) {
	raw := s.strRaw(path)
	if raw == "" {
		return 0, "", false
	}
	t, ok := parseTime(raw)
	if !ok {
		return 0, "", false
	}
	ms := t.UnixMilli()
	if ms < 0 || ms > maxMillis {
		return 0, "", false
	}
	s.use(path)
	return ms, raw, true
}

// timeLayouts are the forms of a time the mapper reads: RFC 3339, as Duo
// writes it, and the same with a space for the T, or with no offset (then
// UTC), as Panther's rule tests and some exports write it.
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"}

func parseTime(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// strRaw is str without marking the value used.
func (s *source) strRaw(path string) string {
	v, _ := s.get(path)
	str, _ := v.(string)
	return strings.TrimSpace(str)
}

// unixTime reads a Unix time at path, in seconds times scale, as ms.
func (s *source) unixTime(path string, msPerUnit float64) (int64, bool) {
	v, ok := s.get(path)
	if !ok {
		return 0, false
	}
	f, ok := (&source{ev: map[string]any{"v": v}, used: map[string]bool{}}).number("v")
	if !ok {
		str, _ := v.(string)
		t, isTime := parseTime(strings.TrimSpace(str))
		if !isTime {
			return 0, false
		}
		f, msPerUnit = float64(t.UnixMilli()), 1
	}
	ms := math.Round(f * msPerUnit)
	if ms < 0 || ms > maxMillis {
		return 0, false
	}
	s.use(path)
	return int64(ms), true
}

// eventTime sets time from the RFC 3339 field iso, or else from the Unix
// seconds field unix; it fails naming iso when neither holds a time.
func (m *mapper) eventTime(iso, unix string) error {
	if ms, raw, ok := m.src.isoTime(iso); ok {
		m.setTime(ms, raw)
		if unix != "" {
			m.src.use(unix) // the same time, less precise
		}
		return nil
	}
	if unix != "" {
		if ms, ok := m.src.unixTime(unix, 1000); ok {
			m.setTime(ms, "")
			return nil
		}
	}
	if _, present := m.src.get(iso); present {
		return m.fail(iso, "not an RFC 3339 timestamp, and no usable %q", unix)
	}
	if unix == "" {
		return m.fail(iso, "missing")
	}
	return m.fail(iso, "missing, and no usable %q", unix)
}
