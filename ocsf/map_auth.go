// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package ocsf

import (
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// authentication maps a Duo authentication log event (v2) to
// Authentication (3002). The activity comes from event_type only, never
// from result: a denied or fraudulent logon is still a Logon, with status
// Failure.
func (m *mapper) authentication() error {
	m.startMetadata()
	if err := m.eventTime("isotimestamp", "timestamp"); err != nil {
		return err
	}
	user := m.user("")
	if user == nil {
		return m.fail("user.name", "missing: an authentication needs its user's name or key")
	}
	service := m.service("application")
	if service == nil {
		return m.fail("application.name", "missing: an authentication needs the application's name or key")
	}
	eventType := m.src.str("event_type")
	activity, activityName := 0, ""
	if eventType != "" {
		var ok bool
		if activity, ok = authEventTypes[strings.ToLower(eventType)]; !ok {
			activity, activityName = 99, eventType
		}
		setString(m.meta, "event_code", eventType)
	}
	m.classify(ClassAuthentication, activity, activityName)
	m.out.set("user", user)
	m.out.set("service", service)
	if uid := m.src.str("txid"); uid != "" {
		setString(m.meta, "uid", uid)
	}

	result := m.src.str("result")
	lower := strings.ToLower(result)
	switch status, ok := resultStatus[lower]; {
	case result == "":
		m.setStatus(0, "")
	case ok:
		m.setStatus(status, result)
	default:
		m.setStatus(99, result)
	}
	severity, ok := resultSeverity[lower]
	if !ok {
		severity = 1
		if result == "" {
			severity = 0
		}
	}
	m.setSeverity(severity)
	reason := m.src.str("reason")
	setString(m.out, "status_detail", reason)

	if ep := m.endpoint("access_device", "access_device.ip"); ep != nil {
		m.out.set("src_endpoint", ep)
	}
	factor := m.factor("factor", "auth_device.name", "auth_device")
	m.message(eventType, result, user, factor, reason)
	return nil
}

// message writes a one-line summary of an authentication.
func (m *mapper) message(eventType, result string, user *object, factor, reason string) {
	who := user.getString("name")
	if who == "" {
		who = user.getString("uid")
	}
	if eventType == "" {
		eventType = "authentication"
	}
	msg := "Duo " + eventType
	if result != "" {
		msg += " " + strings.ToLower(result)
	}
	msg += " for " + who
	if factor != "" {
		msg += " with " + factor
	}
	if reason != "" {
		msg += " (" + reason + ")"
	}
	setString(m.out, "message", msg)
}

// user builds the OCSF user of a Duo authentication record found at
// prefix ("" for an authentication event, "surfaced_auth." inside a Trust
// Monitor event): name, uid, email_addr and groups. It returns nil when
// the record names no user.
func (m *mapper) user(prefix string) *object {
	u := m.obj(6)
	setString(u, "name", m.src.str(prefix+"user.name"))
	setString(u, "uid", m.src.str(prefix+"user.key"))
	if u.len() == 0 {
		return nil
	}
	u.set("type_id", 1)
	u.set("type", userTypeCaptions[1])
	if email := m.src.strRaw(prefix + "email"); validEmail(email) {
		m.src.use(prefix + "email")
		u.set("email_addr", email)
	}
	if groups := m.groups(prefix + "user.groups"); groups != nil {
		u.set("groups", groups)
	}
	return u
}

// groups reads a list of group names. A list with anything but strings in
// it is left to unmapped.
func (m *mapper) groups(path string) []any {
	v := m.src.get(path)
	list := v.elements()
	if len(list) == 0 {
		return nil
	}
	out := make([]any, 0, len(list))
	names := make([]string, 0, len(list))
	for _, g := range list {
		name, ok := g.text()
		if !ok || utf8Long(name) {
			return nil
		}
		if name = strings.TrimSpace(name); name == "" || slices.Contains(names, name) {
			continue
		}
		names = append(names, name)
		group := m.obj(1)
		group.set("name", name)
		out = append(out, group)
	}
	m.src.useValue(v)
	if len(out) == 0 {
		return nil
	}
	return out
}

func utf8Long(s string) bool { return len(s) > maxString }

// service builds the OCSF service of the Duo application at path.
func (m *mapper) service(path string) *object {
	s := m.obj(2)
	setString(s, "name", m.src.str(path+".name"))
	setString(s, "uid", m.src.str(path+".key"))
	if s.len() == 0 {
		return nil
	}
	return s
}

// endpoint builds src_endpoint from a Duo access device at prefix, whose
// IP address is at ipPath: ip (without a port), hostname, uid (the
// endpoint key), location and os. It returns nil when none of ip, uid and
// hostname is known.
func (m *mapper) endpoint(prefix, ipPath string) *object {
	ep := m.obj(7)
	m.ip(ep, ipPath)
	if h, ok := m.hostname(prefix + ".hostname"); ok {
		ep.set("hostname", h)
	}
	setString(ep, "uid", m.src.str(prefix+".epkey"))
	if ep.len() == 0 {
		return nil
	}
	if loc := m.location(prefix + ".location"); loc != nil {
		ep.set("location", loc)
	}
	if os := m.os(prefix); os != nil {
		ep.set("os", os)
	}
	if b := m.src.strRaw(prefix + ".browser"); b != "" {
		ep.set("type_id", 8)
		ep.set("type", endpointTypeCaptions[8])
	}
	return ep
}

// ip sets obj's ip from the address at path. An address with a port
// loses the port; null, an empty string and the unspecified address are
// dropped; anything else that is no IP address is left to unmapped.
func (m *mapper) ip(obj *object, path string) {
	v := m.src.get(path)
	s, isString := v.text()
	if v.isNull() || (isString && strings.TrimSpace(s) == "") {
		m.src.useValue(v)
		return
	}
	if !isString {
		return
	}
	addr, ok := ParseIP(s)
	if !ok {
		return
	}
	m.src.useValue(v)
	if !addr.IsUnspecified() {
		obj.set("ip", addr.String())
	}
}

// ParseIP reads an IP address as Duo writes them: bare ("192.0.2.1",
// "2001:db8::1"), with a port ("192.0.2.1:443", "[2001:db8::1]:443") or in
// brackets. A zone is dropped and an IPv4-mapped IPv6 address becomes
// IPv4. It reports false for anything else.
func ParseIP(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "["); ok {
		inner, port, ok := strings.Cut(rest, "]")
		if !ok || (port != "" && !portRE.MatchString(port)) {
			return netip.Addr{}, false
		}
		s = inner
	} else if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	addr, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return addr.WithZone("").Unmap(), true
}

var (
	hostnameRE = regexp.MustCompile(`^(([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9])\.)*([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\-]*[A-Za-z0-9])$`)
	emailRE    = regexp.MustCompile("^[a-zA-Z0-9!#$%&'*+-/=?^_`{|}~.]+@[a-zA-Z0-9-]+\\.[a-zA-Z0-9-.]+$")
	portRE     = regexp.MustCompile(`:[0-9]{1,5}$`)

	phoneRE = regexp.MustCompile(`^\+?[0-9][0-9 ().-]{5,30}[0-9]$`)
)

// placeholderHosts are host names that stand for none.
var placeholderHosts = map[string]bool{"null": true, "none": true, "unknown": true}

// hostname reads a host name at path: a port is dropped, a placeholder
// such as "null" is dropped, and a value that is no valid host name is
// left to unmapped.
func (m *mapper) hostname(path string) (string, bool) {
	h := m.src.strRaw(path)
	if h == "" {
		if v := m.src.get(path); v.isNull() {
			m.src.useValue(v)
		}
		return "", false
	}
	if placeholderHosts[strings.ToLower(h)] {
		m.src.use(path)
		return "", false
	}
	h = portRE.ReplaceAllString(h, "")
	if len(h) > 253 || !hostnameRE.MatchString(h) {
		return "", false
	}
	m.src.use(path)
	return h, true
}

func validEmail(s string) bool { return s != "" && len(s) <= 320 && emailRE.MatchString(s) }

// location builds an OCSF location from a Duo location object at path:
// city and country, the country as its ISO 3166-1 alpha-2 code. A country
// name the table does not know, and the state (OCSF's region is a code),
// are left to unmapped.
func (m *mapper) location(path string) *object {
	loc := m.obj(2)
	setString(loc, "city", m.src.str(path+".city"))
	if name := m.src.strRaw(path + ".country"); name != "" {
		if code, ok := CountryCode(name); ok {
			m.src.use(path + ".country")
			loc.set("country", code)
		}
	}
	if loc.len() == 0 {
		return nil
	}
	return loc
}

// os builds an OCSF os from a Duo device's os and os_version at prefix.
func (m *mapper) os(prefix string) *object {
	name := m.src.str(prefix + ".os")
	if name == "" || utf8Long(name) {
		return nil
	}
	id, ok := osTypes[strings.ToLower(name)]
	os := m.obj(4)
	os.set("name", name)
	if !ok {
		id = 99
		os.set("type", name)
	} else {
		os.set("type", osTypeCaptions[id])
	}
	os.set("type_id", id)
	setString(os, "version", m.src.str(prefix+".os_version"))
	return os
}

// factorKey is the form a factor is looked up in: lowercase, with spaces
// and hyphens as underscores.
func factorKey(f string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return '_'
		}
		return r
	}, strings.ToLower(strings.TrimSpace(f)))
}

// factor sets is_mfa and auth_factors from the Duo factor at path, the
// phone number at phonePath and the authenticating device at devicePath
// ("" for none), and returns the factor's name.
// OCSF 1.3 requires each auth_factor to carry exactly one of email_addr,
// phone_number and security_questions; when the device's name is no phone
// number, auth_factors is left out and the factor and device stay in
// unmapped.
func (m *mapper) factor(path, phonePath, devicePath string) string {
	raw := m.src.strRaw(path)
	if raw == "" || len(raw) > maxSource {
		return ""
	}
	rule, known := factorTable[factorKey(raw)]
	if known {
		m.out.set("is_mfa", rule.IsMFA)
		if rule.FactorTypeID == 0 {
			m.src.use(path)
			return raw
		}
	} else {
		rule.FactorTypeID = 99
	}
	phone := m.src.strRaw(phonePath)
	if !phoneRE.MatchString(phone) {
		return raw
	}
	af := m.obj(5)
	af.set("factor_type_id", rule.FactorTypeID)
	af.set("factor_type", factorTypeCaptions[rule.FactorTypeID])
	af.set("provider", "Duo")
	af.set("phone_number", phone)
	if rule.FactorTypeID == 99 {
		af.set("factor_type", raw)
	}
	m.src.use(path)
	m.src.use(phonePath)
	dev := m.obj(5)
	dev.set("type_id", 5)
	dev.set("type", deviceTypeCaptions[5])
	dev.set("name", phone)
	if devicePath != "" {
		m.ip(dev, devicePath+".ip")
		if loc := m.location(devicePath + ".location"); loc != nil {
			dev.set("location", loc)
		}
	}
	af.set("device", dev)
	m.out.set("auth_factors", []any{af})
	return raw
}
