// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package ocsf

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/duostream/duostream/schema"
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
	src, err := json.Marshal(event)
	if err != nil {
		return nil, 0, &FieldError{LogType: logType, Problem: "the event is not JSON: " + err.Error()}
	}
	m := mappers.Get().(*mapper)
	defer mappers.Put(m)
	out, class, err := m.run(logType, src, opts)
	if err != nil {
		return nil, 0, err
	}
	return toAny(out).(map[string]any), class, nil
}

// MapJSON is [MapWith] for an event given as JSON, which is what a
// pipeline holds: it appends the OCSF event's JSON, as [AppendJSON] writes
// what [MapWith] returns, to dst. It reads the event in place and writes
// the result directly, which makes it several times faster than decoding
// the event, calling MapWith and encoding its result. An event that is not
// a JSON object returns an error that says so.
func MapJSON(dst []byte, logType string, event []byte, opts Options) ([]byte, int, error) {
	m := mappers.Get().(*mapper)
	defer mappers.Put(m)
	out, class, err := m.run(logType, event, opts)
	if err != nil {
		return dst, 0, err
	}
	dst, err = appendObject(dst, out)
	if err != nil {
		return dst, 0, fmt.Errorf("%s: encode the OCSF event: %w", logType, err)
	}
	return dst, class, nil
}

// mappers keeps mappers, with their parsed documents and buffers, for
// reuse.
var mappers = sync.Pool{New: func() any { return new(mapper) }}

// mapper builds one OCSF event.
type mapper struct {
	doc, descDoc schema.Doc
	descBuf      []byte // the description descDoc holds
	objs         objects
	src          source
	logType      string // as given to Map
	log          string // the Admin API's name
	opts         Options
	out, meta    *object
	class        int
	timeMs       int64
	// profiles used by the event, for metadata.profiles.
	profiles []string
}

// run maps the JSON event src.
func (m *mapper) run(logType string, src []byte, opts Options) (*object, int, error) {
	name, ok := logTypes[logType]
	if !ok {
		return nil, 0, &FieldError{LogType: logType, Problem: "unknown Duo log type"}
	}
	if err := m.doc.Parse(src); err != nil {
		return nil, 0, fmt.Errorf("%s: not a JSON object: %w", logType, err)
	}
	if k := m.doc.Kind(schema.Root); k != schema.KindObject {
		return nil, 0, fmt.Errorf("%s: not a JSON object: %s", logType, k)
	}
	if err := checkNumbers(&m.doc); err != nil {
		return nil, 0, fmt.Errorf("%s: not a JSON object: %w", logType, err)
	}
	m.src.reset(&m.doc)
	m.objs.reset()
	*m = mapper{doc: m.doc, descDoc: m.descDoc, descBuf: m.descBuf, objs: m.objs, src: m.src,
		logType: logType, log: name, opts: opts, profiles: m.profiles[:0]}
	m.out = m.obj(32)
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

// obj returns a new, empty object with room for n attributes.
func (m *mapper) obj(n int) *object { return m.objs.new(n) }

// checkNumbers refuses, as encoding/json does, a number that does not fit
// a float64.
func checkNumbers(d *schema.Doc) error {
	for i, end := 0, d.Next(schema.Root); i < end; i++ {
		if d.Kind(i) != schema.KindNumber {
			continue
		}
		if _, err := strconv.ParseFloat(string(d.Raw(i)), 64); err != nil {
			return fmt.Errorf("number %s does not fit a float64", d.Raw(i))
		}
	}
	return nil
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
	m.out.set("class_uid", class)
	m.out.set("class_name", c.name)
	m.out.set("category_uid", c.category)
	m.out.set("category_name", categoryCaptions[c.category])
	m.out.set("activity_id", activity)
	m.out.set("activity_name", caption)
	m.out.set("type_uid", int64(class)*100+int64(activity))
	m.out.set("type_name", c.name+": "+caption)
}

// setStatus sets status_id and status; raw is the source value, written
// as status for 99 and as status_code.
func (m *mapper) setStatus(id int, raw string) {
	m.out.set("status_id", id)
	caption := statusCaptions[id]
	if id == 99 && raw != "" {
		caption = raw
	}
	m.out.set("status", caption)
	if raw != "" {
		setString(m.out, "status_code", raw)
	}
}

func (m *mapper) setSeverity(id int) {
	m.out.set("severity_id", id)
	m.out.set("severity", severityCaptions[id])
}

// setTime sets time (ms) and metadata.original_time.
func (m *mapper) setTime(ms int64, original string) {
	m.timeMs = ms
	m.out.set("time", ms)
	if original != "" {
		setString(m.meta, "original_time", original)
	}
}

// startMetadata sets metadata's fixed part.
func (m *mapper) startMetadata() {
	feature := m.obj(1)
	feature.set("name", m.log)
	product := m.obj(3)
	product.set("vendor_name", "Cisco")
	product.set("name", "Duo")
	product.set("feature", feature)
	m.meta = m.obj(12)
	m.meta.set("version", Version)
	m.meta.set("product", product)
	m.meta.set("log_name", m.log)
	m.meta.set("log_provider", "Duo Admin API")
	m.out.set("metadata", m.meta)
	host := m.opts.APIHost
	if h := m.src.str("host"); h != "" && host == "" {
		host = h
	}
	if t := tenantOf(host); t != "" {
		m.meta.set("tenant_uid", t)
	}
	if !m.opts.LoggedTime.IsZero() {
		m.meta.set("logged_time", m.opts.LoggedTime.UnixMilli())
	}
}

// tenantOf returns the account part of an API host name,
// api-XXXXXXXX.duosecurity.com, lowercased: "" when host is no such name.
func tenantOf(host string) string {
	rest, ok := cutPrefixFold(host, "api-")
	if !ok {
		return ""
	}
	i := 0
	for i < len(rest) && isAlnum(rest[i]) {
		i++
	}
	if i == 0 || i == len(rest) || rest[i] != '.' {
		return ""
	}
	return strings.ToLower(rest[:i])
}

// cutPrefixFold is strings.CutPrefix without regard to ASCII case.
func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// useProfile records that the event uses a profile's attributes.
func (m *mapper) useProfile(p string) {
	if !slices.Contains(m.profiles, p) {
		m.profiles = append(m.profiles, p)
	}
}

// finish writes what every event ends with: profiles, unmapped, raw_data.
func (m *mapper) finish() {
	if len(m.profiles) > 0 {
		sort.Strings(m.profiles)
		list := make([]any, len(m.profiles))
		for i, p := range m.profiles {
			list[i] = p
		}
		m.meta.set("profiles", list)
	}
	unmapped := m.obj(16)
	m.src.unused("", m.src.root, unmapped)
	if unmapped.len() > 0 {
		m.out.set("unmapped", unmapped)
	}
	if m.opts.RawData != nil && utf8.Valid(m.opts.RawData) && len(m.opts.RawData) <= maxString {
		m.out.set("raw_data", string(m.opts.RawData))
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
func setString(obj *object, key, s string) bool {
	if s == "" || len(s) > maxString && utf8.RuneCountInString(s) > maxString {
		return false
	}
	obj.set(key, s)
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
	if m.src.get(iso).present() {
		return m.fail(iso, "not an RFC 3339 timestamp, and no usable %q", unix)
	}
	if unix == "" {
		return m.fail(iso, "missing")
	}
	return m.fail(iso, "missing, and no usable %q", unix)
}
