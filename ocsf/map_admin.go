// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package ocsf

import (
	"bytes"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/duostream/duostream/schema"
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
	entity, entityResult *object
	// account is the user account the action changed, when it changed
	// one; actor is who acted, actorUser the actor's user.
	account, actor, actorUser *object
	src                       *object
	// status is "success", "failure" or "" when the event does not say;
	// statusRaw is the source's own word.
	status, statusRaw string
	detail, message   string
	// factor, phone: the second factor of an administrator login and its
	// paths.
	factorPath, phonePath string
	// service and useService: the application, for Authentication.
	service    *object
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
	desc := m.src.get("description")
	isObject := desc.kind() == schema.KindObject

	sec := strconv.FormatInt(m.timeMs/1000, 10)
	descRaw := ""
	if !isObject {
		descRaw, _ = desc.text()
	}
	m.meta.set("uid", contentHash(sec, c.action, username, object, descRaw))
	setString(m.meta, "event_code", c.action)

	c.entity = m.obj(4)
	c.entity.set("type", c.entityType)
	if !setString(c.entity, "name", object) {
		c.entity.set("name", c.entityType)
	}
	if isObject {
		c.entity.set("data", desc)
	} else if s := m.src.str("description"); s != "" {
		c.message = s
	}

	if m.log == "offline_enrollment" {
		if username != "" {
			u := m.namedUser(username, 1)
			c.entity.set("user", u)
			c.actor = m.obj(1)
			c.actor.set("user", m.objs.clone(u))
			c.actorUser = u
		}
	} else {
		c.actor, c.actorUser = m.adminActor(username)
		if object != "" && (c.entityType == "user" || c.entityType == "admin") {
			typeID := 1
			if c.entityType == "admin" {
				typeID = 2
			}
			c.account = m.namedUser(object, typeID)
		}
	}
	if isObject {
		ep := m.obj(1)
		m.ip(ep, "description.ip_address")
		if ep.len() > 0 {
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
			owner.set("email_addr", email)
			m.src.use("description.email")
		}
	}
	c.service = m.adminPanel()
	return m.management(&c)
}

// expandDescription makes the source read a description that is a JSON
// object encoded as a string as that object, so that its fields have
// paths (description.ip_address). The event itself is not changed.
func (m *mapper) expandDescription() {
	v := m.src.root.member("description")
	if v.kind() != schema.KindString {
		return
	}
	// Str may return the event's own bytes: copy them, as descBuf is
	// reused.
	s, buf := v.d.Str(v.i, m.descBuf[:0])
	m.descBuf = append(buf[:0], s...)
	if !bytes.HasPrefix(bytes.TrimSpace(m.descBuf), []byte("{")) {
		return
	}
	if !utf8.Valid(m.descBuf) {
		// Read as encoding/json would read the string: with U+FFFD.
		m.descBuf = append(m.descBuf[:0], validString(m.descBuf)...)
	}
	if m.descDoc.Parse(m.descBuf) != nil || m.descDoc.Kind(schema.Root) != schema.KindObject || checkNumbers(&m.descDoc) != nil {
		return
	}
	m.src.desc = value{&m.descDoc, schema.Root}
	m.src.parentOK = false // paths under description now read it
	m.src.descUsed = grown(m.src.descUsed, m.descDoc.Next(schema.Root))
}

// adminActor returns the actor of an administrator log event from its
// username: the Admin API, the system, a directory sync, or an
// administrator.
func (m *mapper) adminActor(username string) (actor, user *object) {
	if username == "" {
		return nil, nil
	}
	actor = m.obj(1)
	switch {
	case username == "API":
		actor.set("app_name", "Admin API")
		return actor, nil
	case strings.Contains(username, "Sync:") || strings.HasSuffix(username, " Sync"):
		actor.set("app_name", username)
		return actor, nil
	case username == "System":
		user = m.namedUser(username, 3)
	default:
		user = m.namedUser(username, 2)
	}
	actor.set("user", user)
	return actor, user
}

// namedUser returns a user of type typeID with a name.
func (m *mapper) namedUser(name string, typeID int) *object {
	u := m.obj(4)
	u.set("name", name)
	u.set("type_id", typeID)
	u.set("type", userTypeCaptions[typeID])
	return u
}

// adminPanel is the service of administrator and activity events that
// name no application of their own.
func (m *mapper) adminPanel() *object {
	s := m.obj(1)
	s.set("name", "Duo Admin Panel")
	return s
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
		c.account = m.objs.clone(c.actorUser)
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
		m.out.set("src_endpoint", c.src)
	}

	switch rule.ClassUID {
	case ClassAuthentication:
		m.out.set("user", c.actorUser)
		m.out.set("service", c.service)
		if c.useService != nil {
			c.useService()
		}
		if c.factorPath != "" {
			m.factor(c.factorPath, c.phonePath, "")
		}
	case ClassAccountChange:
		m.out.set("user", c.account)
		if c.actor != nil {
			m.out.set("actor", c.actor)
		}
	default:
		m.out.set("entity", c.entity)
		if c.entityResult != nil {
			m.out.set("entity_result", c.entityResult)
		}
		if m.log == "administrator" || m.log == "offline_enrollment" {
			// The description is entity.data in full.
			m.src.use("description")
		}
		if c.actor != nil {
			// Entity Management has actor only through the host profile
			// in OCSF 1.3.
			m.out.set("actor", c.actor)
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
		if m.src.get("ts").present() {
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
		c.entity = m.obj(2)
		c.entity.set("type", c.entityType)
		c.entity.set("name", c.entityType)
	}
	if t := target.getString("type"); t == "user" || t == "admin" {
		c.account = m.accountOf(target)
	} else if c.actorUser != nil && c.actorUser.get("type_id") == 1 {
		c.account = m.objs.clone(c.actorUser) // a change to one's own account
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
		name, key := m.src.get("application.name"), m.src.get("application.key")
		m.src.unuseValue(name)
		m.src.unuseValue(key)
		c.service = svc
		c.useService = func() { m.src.useValue(name); m.src.useValue(key) }
	} else {
		c.service = m.adminPanel()
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
func (m *mapper) activityActor() (actor, user *object) {
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
		u := m.obj(5)
		u.set("type_id", id)
		u.set("type", userTypeCaptions[id])
		setString(u, "name", name)
		setString(u, "uid", key)
		if email := m.detailsEmail("actor.details"); email != "" {
			u.set("email_addr", email)
		}
		a := m.obj(1)
		a.set("user", u)
		return a, u
	}
	a := m.obj(2)
	setString(a, "app_name", name)
	setString(a, "app_uid", key)
	return a, nil
}

// detailsEmail returns the valid email address in a details value (an
// object, or one encoded as a string), without marking it used: the
// details stay in unmapped whole.
func (m *mapper) detailsEmail(path string) string {
	email, _ := m.details(path).member("email").text()
	if !validEmail(email) {
		return ""
	}
	return email
}

// details reads a details value: an object, or one encoded as a string,
// parsed into a document of its own.
func (m *mapper) details(path string) value {
	v := m.src.get(path)
	switch v.kind() {
	case schema.KindObject:
		return v
	case schema.KindString:
		s, _ := v.text()
		d := new(schema.Doc)
		if d.Parse([]byte(s)) == nil && d.Kind(schema.Root) == schema.KindObject && checkNumbers(d) == nil {
			return value{d, schema.Root}
		}
	}
	return value{}
}

// activityEntity builds a managed entity from an activity event's target
// or old_target: uid, name, type and the details as data.
func (m *mapper) activityEntity(path string) *object {
	e := m.obj(4)
	setString(e, "uid", m.src.str(path+".key"))
	setString(e, "name", m.src.str(path+".name"))
	if e.len() == 0 {
		return nil
	}
	setString(e, "type", m.src.str(path+".type"))
	if d := m.details(path + ".details"); d.present() {
		e.set("data", d)
		m.src.use(path + ".details")
	}
	return e
}

// accountOf is the user account an entity of type user or admin is.
func (m *mapper) accountOf(e *object) *object {
	id := 1
	if e.getString("type") == "admin" {
		id = 2
	}
	u := m.obj(4)
	u.set("type_id", id)
	u.set("type", userTypeCaptions[id])
	if n := e.getString("name"); n != "" {
		u.set("name", n)
	}
	if k := e.getString("uid"); k != "" {
		u.set("uid", k)
	}
	return u
}

// activityEndpoint builds src_endpoint from an activity event's
// access_device, whose ip is an object {address} or, in older records, a
// plain string.
func (m *mapper) activityEndpoint() *object {
	if m.src.get("access_device.ip.address").present() {
		return m.endpoint("access_device", "access_device.ip.address")
	}
	return m.endpoint("access_device", "access_device.ip")
}
