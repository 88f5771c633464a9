// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package ocsf

import "strings"

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
		if _, present := m.src.get("surfaced_timestamp"); present {
			return m.fail("surfaced_timestamp", "not a Unix time in milliseconds")
		}
		return m.fail("surfaced_timestamp", "missing")
	}
	typ := m.src.str("type")
	if typ == "" {
		return m.fail("type", "missing, or not a string")
	}
	m.setTime(ms, "")
	m.meta["uid"] = uid
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
	m.out["status_id"] = status
	if status == 99 {
		m.out["status"] = state
	} else {
		m.out["status"] = findingStatusCaptions[status]
	}
	setString(m.out, "status_code", state)
	if p, _ := m.src.get("priority_event"); p == true {
		m.src.use("priority_event")
		m.setSeverity(4)
	} else {
		if p == false {
			m.src.use("priority_event")
		}
		m.setSeverity(3)
	}

	info := map[string]any{"uid": uid, "created_time": ms, "types": []any{typ}}
	summaries, types := m.explanations()
	for _, t := range types {
		info["types"] = append(info["types"].([]any), t)
	}
	title := "Duo Trust Monitor: " + typ
	if len(summaries) > 0 {
		title = summaries[0]
		setString(info, "desc", strings.Join(summaries, " "))
	}
	info["title"] = title
	setString(info, "src_url", m.src.str("triage_event_uri"))
	if t, ok := m.src.unixTime("state_updated_timestamp", 1); ok {
		info["modified_time"] = t
	}
	m.out["finding_info"] = info
	setString(m.out, "message", info["title"].(string))

	// A bypass_status event names the user put in bypass and the
	// administrator who did it; an event may also carry the
	// authentication that surfaced it. Each is one piece of evidence.
	var evidences []any
	if u := m.namedUser("enabled_for", 1); u != nil {
		ev := map[string]any{"user": u}
		if a := m.namedUser("enabled_by", 2); a != nil {
			ev["actor"] = map[string]any{"user": a}
		}
		evidences = append(evidences, ev)
	}
	if m.src.obj("surfaced_auth") != nil {
		ev := map[string]any{}
		if u := m.user("surfaced_auth."); u != nil {
			ev["user"] = u
		}
		if ep := m.endpoint("surfaced_auth.access_device", "surfaced_auth.access_device.ip"); ep != nil {
			ev["src_endpoint"] = ep
		}
		if len(ev) > 0 {
			evidences = append(evidences, ev)
		}
		setString(m.meta, "correlation_uid", m.src.str("surfaced_auth.txid"))
	}
	if len(evidences) > 0 {
		m.out["evidences"] = evidences
	}
	return nil
}

// explanations reads the summaries and types of a Trust Monitor event's
// explanations; a list of anything but {summary, type} objects is left to
// unmapped.
func (m *mapper) explanations() (summaries, types []string) {
	v, _ := m.src.get("explanations")
	list, ok := v.([]any)
	if !ok {
		return nil, nil
	}
	for _, el := range list {
		e, ok := el.(map[string]any)
		if !ok {
			return nil, nil
		}
		s, sok := e["summary"].(string)
		t, tok := e["type"].(string)
		if (e["summary"] != nil && !sok) || (e["type"] != nil && !tok) || len(e) > 2 {
			return nil, nil
		}
		if s = strings.TrimSpace(s); s != "" && !utf8Long(s) {
			summaries = append(summaries, s)
		}
		if t = strings.TrimSpace(t); t != "" && !utf8Long(t) {
			types = append(types, t)
		}
	}
	m.src.use("explanations")
	return summaries, types
}

// namedUser builds a user of type typeID from a Duo {key, name} object at
// path, or returns nil when it names no one.
func (m *mapper) namedUser(path string, typeID int) map[string]any {
	u := map[string]any{}
	setString(u, "name", m.src.str(path+".name"))
	setString(u, "uid", m.src.str(path+".key"))
	if len(u) == 0 {
		return nil
	}
	u["type_id"] = typeID
	u["type"] = userTypeCaptions[typeID]
	return u
}
