// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package ocsf

import (
	"encoding/json"
	"maps"
	"strconv"
	"strings"
)

// change is what an administrator, offline enrollment or activity event
// says, before its class is chosen from the action.
type changeEvent struct {
	action string
	// entityType is the kind of thing acted on: the table's entity_type,
	// else the action's first word.
	entityType string
	// entity and entityResult are the managed entity before and after
	// the change (entityResult only when the log records both).
	entity, entityResult map[string]any
	// account is the user account the action changed, when it changed
	// one; actor is who acted, actorUser the actor's user.
	account, actor, actorUser map[string]any
	src                       map[string]any
	// status is "success", "failure" or "" when the event does not say;
	// statusRaw is the source's own word.
	status, statusRaw string
	detail, message   string
	// factor, phone: the second factor of an administrator login and its
	// paths.
	factorPath, phonePath string
	// service and useService: the application, for Authentication.
	service    map[string]any
	useService func()
}

// adminLog maps an administrator or offline enrollment log event. Its
// description, a JSON object encoded as a string (or free text), is read
// as an object.
func (m *mapper) adminLog() error {
	m.expandDescription()
	m.startMetadata()
	if err := m.eventTime("isotimestamp", "timestamp"); err != nil {
		return err
	}
	c := changeEvent{action: m.src.str("action")}
	if c.action == "" {
		return m.fail("action", "missing, or not a string")
	}
	c.entityType = entityTypeOf(c.action)
	username := m.src.str("username")
	object := m.src.str("object")
	desc := m.src.obj("description")

	sec := strconv.FormatInt(m.out["time"].(int64)/1000, 10)
	descRaw := ""
	if s, ok := m.src.ev["description"].(string); ok {
		descRaw = s
	}
	m.meta["uid"] = contentHash(sec, c.action, username, object, descRaw)
	setString(m.meta, "event_code", c.action)

	c.entity = map[string]any{"type": c.entityType}
	if !setString(c.entity, "name", object) {
		c.entity["name"] = c.entityType
	}
	if desc != nil {
		c.entity["data"] = desc
	} else if s := m.src.str("description"); s != "" {
		c.message = s
	}

	if m.log == "offline_enrollment" {
		if username != "" {
			u := map[string]any{"name": username, "type_id": 1, "type": userTypeCaptions[1]}
			c.entity["user"] = u
			c.actor = map[string]any{"user": maps.Clone(u)}
			c.actorUser = u
		}
	} else {
		c.actor, c.actorUser = adminActor(username)
		if object != "" && (c.entityType == "user" || c.entityType == "admin") {
			typeID := 1
			if c.entityType == "admin" {
				typeID = 2
			}
			c.account = map[string]any{"name": object, "type_id": typeID, "type": userTypeCaptions[typeID]}
		}
	}
	if desc != nil {
		ep := map[string]any{}
		m.ip(ep, "description.ip_address")
		if len(ep) > 0 {
			c.src = ep
		}
		c.detail = m.src.str("description.error")
		c.factorPath, c.phonePath = "description.factor", "description.device"
		// The email is the changed account's, or for a login the
		// administrator's own.
		owner := c.account
		if r, ok := actionTable[c.action]; ok && r.ClassUID == ClassAuthentication {
			owner = c.actorUser
		}
		if email := m.src.strRaw("description.email"); owner != nil && validEmail(email) {
			owner["email_addr"] = email
			m.src.use("description.email")
		}
	}
	c.service = map[string]any{"name": "Duo Admin Panel"}
	return m.management(&c)
}

// expandDescription makes the source read a description that is a JSON
// object encoded as a string as that object, so that its fields have
// paths (description.ip_address). The event itself is not changed.
func (m *mapper) expandDescription() {
	s, ok := m.src.ev["description"].(string)
	if !ok || !strings.HasPrefix(strings.TrimSpace(s), "{") {
		return
	}
	var obj map[string]any
	if json.Unmarshal([]byte(s), &obj) != nil || obj == nil {
		return
	}
	ev := maps.Clone(m.src.ev)
	ev["description"] = obj
	m.src.ev = ev
}

// adminActor returns the actor of an administrator log event from its
// username: the Admin API, the system, a directory sync, or an
// administrator.
func adminActor(username string) (actor, user map[string]any) {
	switch {
	case username == "":
		return nil, nil
	case username == "API":
		return map[string]any{"app_name": "Admin API"}, nil
	case strings.Contains(username, "Sync:") || strings.HasSuffix(username, " Sync"):
		return map[string]any{"app_name": username}, nil
	case username == "System":
		u := map[string]any{"name": username, "type_id": 3, "type": userTypeCaptions[3]}
		return map[string]any{"user": u}, u
	}
	u := map[string]any{"name": username, "type_id": 2, "type": userTypeCaptions[2]}
	return map[string]any{"user": u}, u
}

// entityTypeOf returns the kind of thing an action acts on.
func entityTypeOf(action string) string {
	if r, ok := actionTable[action]; ok && r.EntityType != "" {
		return r.EntityType
	}
	if i := strings.IndexByte(action, '_'); i > 0 {
		return action[:i]
	}
	return action
}

// entityActivity is the Entity Management activity of an action: by the
// table, else by its suffix, else 99.
func entityActivity(action string) int {
	if r, ok := actionTable[action]; ok && r.ClassUID == ClassEntityManagement {
		return r.ActivityID
	}
	for _, s := range suffixTable {
		if strings.HasSuffix(action, s.Suffix) {
			return s.ActivityID
		}
	}
	return 99
}

// management writes a change in the class its action belongs to.
func (m *mapper) management(c *changeEvent) error {
	rule, ok := actionTable[c.action]
	if !ok {
		rule = actionRule{ClassUID: ClassEntityManagement, ActivityID: entityActivity(c.action)}
	}
	if rule.Account == "actor" && c.actorUser != nil {
		c.account = maps.Clone(c.actorUser)
	}
	// A class whose required attribute the event cannot fill falls back
	// to Entity Management.
	switch {
	case rule.ClassUID == ClassAuthentication && c.actorUser == nil,
		rule.ClassUID == ClassAccountChange && c.account == nil:
		rule.ClassUID, rule.ActivityID = ClassEntityManagement, entityActivity(c.action)
	}
	m.classify(rule.ClassUID, rule.ActivityID, c.action)

	status := c.status
	if status == "" {
		status = rule.Status
	}
	if status == "" {
		status = "success"
	}
	raw := c.statusRaw
	m.setStatus(statusIDs[status], raw)
	if status == "failure" {
		m.setSeverity(2)
	} else {
		m.setSeverity(1)
	}
	setString(m.out, "status_detail", c.detail)
	setString(m.out, "message", c.message)
	if c.src != nil {
		m.out["src_endpoint"] = c.src
	}

	switch rule.ClassUID {
	case ClassAuthentication:
		m.out["user"] = c.actorUser
		m.out["service"] = c.service
		if c.useService != nil {
			c.useService()
		}
		if c.factorPath != "" {
			m.factor(c.factorPath, c.phonePath, "")
		}
	case ClassAccountChange:
		m.out["user"] = c.account
		if c.actor != nil {
			m.out["actor"] = c.actor
		}
	default:
		m.out["entity"] = c.entity
		if c.entityResult != nil {
			m.out["entity_result"] = c.entityResult
		}
		if m.log == "administrator" || m.log == "offline_enrollment" {
			// The description is entity.data in full.
			m.src.use("description")
		}
		if c.actor != nil {
			// Entity Management has actor only through the host profile
			// in OCSF 1.3.
			m.out["actor"] = c.actor
			m.useProfile("host")
		}
	}
	return nil
}

// activity maps an activity log (v2) event.
func (m *mapper) activity() error {
	m.startMetadata()
	ms, raw, ok := m.src.isoTime("ts")
	if !ok {
		if _, present := m.src.get("ts"); present {
			return m.fail("ts", "not an RFC 3339 timestamp")
		}
		return m.fail("ts", "missing")
	}
	m.setTime(ms, raw)
	c := changeEvent{}
	if c.action = m.src.str("action"); c.action == "" {
		if c.action = m.src.str("action.name"); c.action == "" {
			return m.fail("action", "missing: want the action's name, or an object with one")
		}
	}
	c.entityType = entityTypeOf(c.action)
	setString(m.meta, "uid", m.src.str("activity_id"))
	setString(m.meta, "event_code", c.action)

	c.actor, c.actorUser = m.activityActor()
	target := m.activityEntity("target")
	old := m.activityEntity("old_target")
	switch {
	case target != nil && old != nil:
		c.entity, c.entityResult = old, target
	case target != nil:
		c.entity = target
	case old != nil:
		c.entity = old
	default:
		c.entity = map[string]any{"type": c.entityType, "name": c.entityType}
	}
	if t, _ := target["type"].(string); t == "user" || t == "admin" {
		c.account = accountOf(target)
	} else if c.actorUser != nil && c.actorUser["type_id"] == 1 {
		c.account = maps.Clone(c.actorUser) // a change to one's own account
	}

	if ep := m.activityEndpoint(); ep != nil {
		c.src = ep
	}
	if res := m.src.str("outcome.result"); res != "" {
		c.statusRaw = res
		switch strings.ToLower(res) {
		case "success":
			c.status = "success"
		case "failure", "failed", "error", "denied":
			c.status = "failure"
		default:
			c.status = "other"
		}
	}
	if svc := m.service("application"); svc != nil {
		// Only an Authentication has a service; elsewhere the
		// application stays in unmapped.
		m.src.used["application.name"], m.src.used["application.key"] = false, false
		c.service = svc
		c.useService = func() { m.src.use("application.name"); m.src.use("application.key") }
	} else {
		c.service = map[string]any{"name": "Duo Admin Panel"}
	}
	if c.status == "other" {
		return m.managementOther(&c)
	}
	return m.management(&c)
}

// managementOther is management for an outcome that is neither success
// nor failure: status 99 with the source's word.
func (m *mapper) managementOther(c *changeEvent) error {
	c.status = ""
	if err := m.management(c); err != nil {
		return err
	}
	m.setStatus(99, c.statusRaw)
	m.setSeverity(1)
	return nil
}

// activityActor reads an activity event's actor: a user or administrator,
// or an application (a directory sync, the Admin API).
func (m *mapper) activityActor() (actor, user map[string]any) {
	name := m.src.str("actor.name")
	key := m.src.str("actor.key")
	typ := m.src.str("actor.type")
	if name == "" && key == "" {
		return nil, nil
	}
	switch strings.ToLower(typ) {
	case "user", "admin", "":
		id := 1
		if strings.EqualFold(typ, "admin") {
			id = 2
		} else if typ == "" {
			id = 0
		}
		u := map[string]any{"type_id": id, "type": userTypeCaptions[id]}
		setString(u, "name", name)
		setString(u, "uid", key)
		if email := m.detailsEmail("actor.details"); email != "" {
			u["email_addr"] = email
		}
		return map[string]any{"user": u}, u
	}
	a := map[string]any{}
	setString(a, "app_name", name)
	setString(a, "app_uid", key)
	return a, nil
}

// detailsEmail returns the valid email address in a details value (an
// object, or one encoded as a string), without marking it used: the
// details stay in unmapped whole.
func (m *mapper) detailsEmail(path string) string {
	d := m.details(path)
	email, _ := d["email"].(string)
	if !validEmail(email) {
		return ""
	}
	return email
}

// details reads a details value: an object, or one encoded as a string.
func (m *mapper) details(path string) map[string]any {
	v, _ := m.src.get(path)
	switch d := v.(type) {
	case map[string]any:
		return d
	case string:
		var obj map[string]any
		if json.Unmarshal([]byte(d), &obj) == nil {
			return obj
		}
	}
	return nil
}

// activityEntity builds a managed entity from an activity event's target
// or old_target: uid, name, type and the details as data.
func (m *mapper) activityEntity(path string) map[string]any {
	e := map[string]any{}
	setString(e, "uid", m.src.str(path+".key"))
	setString(e, "name", m.src.str(path+".name"))
	if len(e) == 0 {
		return nil
	}
	setString(e, "type", m.src.str(path+".type"))
	if d := m.details(path + ".details"); d != nil {
		e["data"] = d
		m.src.use(path + ".details")
	}
	return e
}

// accountOf is the user account an entity of type user or admin is.
func accountOf(e map[string]any) map[string]any {
	id := 1
	if e["type"] == "admin" {
		id = 2
	}
	u := map[string]any{"type_id": id, "type": userTypeCaptions[id]}
	if n, ok := e["name"].(string); ok {
		u["name"] = n
	}
	if k, ok := e["uid"].(string); ok {
		u["uid"] = k
	}
	return u
}

// activityEndpoint builds src_endpoint from an activity event's
// access_device, whose ip is an object {address} or, in older records, a
// plain string.
func (m *mapper) activityEndpoint() map[string]any {
	if _, ok := m.src.get("access_device.ip.address"); ok {
		return m.endpoint("access_device", "access_device.ip.address")
	}
	return m.endpoint("access_device", "access_device.ip")
}
