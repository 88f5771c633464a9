// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package ocsf

import (
	"slices"
	"strings"

	"github.com/duostream/duostream/schema"
)

// trustMonitor maps a Trust Monitor event to Detection Finding (2004): a
// new finding is Create, a triaged one Update; the finding's status
// follows its triage state, its severity whether Duo made it a priority.
// The authentication it surfaced, or the user a bypass_status event put
// in bypass, is the finding's evidence.
func (m *mapper) trustMonitor() error {
	m.startMetadata()
	uid := m.src.str("sekey")
	if uid == "" {
		return m.fail("sekey", "missing, or not a string")
	}
	ms, ok := m.src.unixTime("surfaced_timestamp", 1)
	if !ok {
		if m.src.get("surfaced_timestamp").present() {
			return m.fail("surfaced_timestamp", "not a Unix time in milliseconds")
		}
		return m.fail("surfaced_timestamp", "missing")
	}
	typ := m.src.str("type")
	if typ == "" {
		return m.fail("type", "missing, or not a string")
	}
	m.setTime(ms, "")
	m.meta.set("uid", uid)
	setString(m.meta, "event_code", typ)

	state := m.src.str("state")
	activity := 1
	if state != "" {
		if a, ok := trustMonitorActivity[strings.ToLower(state)]; ok {
			activity = a
		} else {
			activity = 2
		}
	}
	m.classify(ClassDetectionFinding, activity, "")
	status, ok := trustMonitorStatus[strings.ToLower(state)]
	switch {
	case state == "":
		status = 0
	case !ok:
		status = 99
	}
	m.out.set("status_id", status)
	if status == 99 {
		m.out.set("status", state)
	} else {
		m.out.set("status", findingStatusCaptions[status])
	}
	setString(m.out, "status_code", state)
	switch p := m.src.get("priority_event"); p.kind() {
	case schema.KindTrue:
		m.src.useValue(p)
		m.setSeverity(4)
	case schema.KindFalse:
		m.src.useValue(p)
		m.setSeverity(3)
	default:
		m.setSeverity(3)
	}

	info := m.obj(7)
	info.set("uid", uid)
	info.set("created_time", ms)
	summaries, types := m.explanations()
	list := make([]any, 0, 1+len(types))
	list = append(list, typ)
	for _, t := range types {
		list = append(list, t)
	}
	info.set("types", list)
	title := "Duo Trust Monitor: " + typ
	if len(summaries) > 0 {
		title = summaries[0]
		setString(info, "desc", strings.Join(summaries, " "))
	}
	info.set("title", title)
	setString(info, "src_url", m.src.str("triage_event_uri"))
	if t, ok := m.src.unixTime("state_updated_timestamp", 1); ok {
		info.set("modified_time", t)
	}
	m.out.set("finding_info", info)
	setString(m.out, "message", title)

	// A bypass_status event names the user put in bypass and the
	// administrator who did it; an event may also carry the
	// authentication that surfaced it. Each is one piece of evidence.
	var evidences []any
	if u := m.keyedUser("enabled_for", 1); u != nil {
		ev := m.obj(2)
		ev.set("user", u)
		if a := m.keyedUser("enabled_by", 2); a != nil {
			actor := m.obj(1)
			actor.set("user", a)
			ev.set("actor", actor)
		}
		evidences = append(evidences, ev)
	}
	if m.src.isObject("surfaced_auth") {
		ev := m.obj(2)
		if u := m.user("surfaced_auth."); u != nil {
			ev.set("user", u)
		}
		if ep := m.endpoint("surfaced_auth.access_device", "surfaced_auth.access_device.ip"); ep != nil {
			ev.set("src_endpoint", ep)
		}
		if ev.len() > 0 {
			evidences = append(evidences, ev)
		}
		setString(m.meta, "correlation_uid", m.src.str("surfaced_auth.txid"))
	}
	if len(evidences) > 0 {
		m.out.set("evidences", evidences)
	}
	return nil
}

// explanations reads the summaries and types of a Trust Monitor event's
// explanations; a list of anything but {summary, type} objects is left to
// unmapped.
func (m *mapper) explanations() (summaries, types []string) {
	v := m.src.get("explanations")
	if v.kind() != schema.KindArray {
		return nil, nil
	}
	for _, e := range v.elements() {
		if e.kind() != schema.KindObject {
			return nil, nil
		}
		summary, typ := e.member("summary"), e.member("type")
		s, sok := summary.text()
		t, tok := typ.text()
		if (summary.present() && !summary.isNull() && !sok) || (typ.present() && !typ.isNull() && !tok) || memberCount(e) > 2 {
			return nil, nil
		}
		if s = strings.TrimSpace(s); s != "" && !utf8Long(s) {
			summaries = append(summaries, s)
		}
		if t = strings.TrimSpace(t); t != "" && !utf8Long(t) {
			types = append(types, t)
		}
	}
	m.src.useValue(v)
	return summaries, types
}

// memberCount returns the number of distinct keys of an object value.
func memberCount(v value) int {
	var keys []string
	v.members(func(k string, _ value) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	})
	return len(keys)
}

// keyedUser builds a user of type typeID from a Duo {key, name} object at
// path, or returns nil when it names no one.
func (m *mapper) keyedUser(path string, typeID int) *object {
	u := m.obj(4)
	setString(u, "name", m.src.str(path+".name"))
	setString(u, "uid", m.src.str(path+".key"))
	if u.len() == 0 {
		return nil
	}
	u.set("type_id", typeID)
	u.set("type", userTypeCaptions[typeID])
	return u
}
