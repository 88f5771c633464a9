// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"fmt"
	"time"
)

// account is the simulated Duo account that activity and Trust Monitor
// events refer to: its key, administrators, groups, policies and the
// directory and Admin API integrations that act on it.
type account struct {
	akey      string
	admins    []admin
	created   []time.Time // when each of the generator's people was created
	groupKeys map[string]string
	policies  []genKeyName
	// apiApp is the Admin API integration that creates users, and sync
	// the directory that updates groups.
	apiApp, sync genKeyName
}

// admin is an administrator of the account: one of the generator's people.
type admin struct {
	person
	key, role string
}

var (
	adminRoles  = []string{"Owner", "Administrator", "Help Desk"}
	policyNames = []string{"Global Policy", "Engineering Policy", "Contractors Policy", "Require Verified Push"}
	// userStatusChanges are the changes of a user's status that a
	// user_update records, old status first.
	userStatusChanges = [][2]string{
		{"Active", "Bypass"}, {"Bypass", "Active"}, {"Active", "Disabled"}, {"Locked Out", "Active"}, {"Active", "Active"},
	}
	// policySettings are the settings a policy_update changes, with the old
	// and new value.
	policySettings = [][3]string{
		{"new_user_policy", "require_enrollment", "deny_access"},
		{"remembered_devices", "disabled", "enabled for 7 days"},
		{"authentication_methods", "duo_push,webauthn", "duo_push,webauthn,sms_passcode"},
		{"device_health_app", "not_required", "required"},
	}
	phoneModels = []struct{ platform, model string }{
		{"Apple iOS", "Apple iPhone 15"}, {"Apple iOS", "Apple iPhone 13"}, {"Google Android", "Google Pixel 8"},
		{"Google Android", "Samsung Galaxy S23"},
	}
	authenticators = []struct{ typ, transport string }{
		{"Security key", "usb"}, {"Security key", "nfc"}, {"Touch ID", "internal"}, {"Windows Hello", "internal"},
	}
)

// account returns the account, making it on first use.
func (g *generator) account() *account {
	if g.acct != nil {
		return g.acct
	}
	rng := g.rng
	akey := g.akey
	if akey == "" {
		akey = "DA" + g.key()
	}
	a := &account{
		akey:      akey,
		groupKeys: make(map[string]string, len(groupNames)),
		apiApp:    genKeyName{Key: "DI" + g.key(), Name: "Directory provisioning (Admin API)"},
		sync:      genKeyName{Key: "DD" + g.key(), Name: "Azure AD Sync: Acme Directory"},
	}
	for i, role := range adminRoles {
		a.admins = append(a.admins, admin{person: g.people[i], key: "DE" + g.key(), role: role})
	}
	// Users created between 2015 and 2024.
	lo, hi := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC).Unix(), time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for range g.people {
		a.created = append(a.created, time.Unix(lo+rng.Int64N(hi-lo), 0).UTC())
	}
	for _, name := range groupNames {
		a.groupKeys[name] = "DG" + g.key()
	}
	for _, name := range policyNames {
		a.policies = append(a.policies, genKeyName{Key: "PO" + g.key(), Name: name})
	}
	g.acct = a
	return a
}

// The generated activity record. Fields are in alphabetical order, as Duo
// sends them; details are JSON documents encoded as strings, as Duo sends
// them.
type (
	genActivity struct {
		AccessDevice *genActivityDevice `json:"access_device"`
		// Action is a genAction, or its name alone in the older shape.
		Action      any             `json:"action"`
		ActivityID  string          `json:"activity_id"`
		Actor       genEntity       `json:"actor"`
		AKey        string          `json:"akey"`
		Application *genApplication `json:"application"`
		OldTarget   *genEntity      `json:"old_target"`
		Outcome     genOutcome      `json:"outcome"`
		Target      *genEntity      `json:"target"`
		TS          string          `json:"ts"`
	}
	genAction struct {
		Details *string `json:"details"`
		Name    string  `json:"name"`
	}
	genEntity struct {
		Details *string `json:"details"`
		Key     string  `json:"key"`
		Name    string  `json:"name"`
		Type    string  `json:"type"`
	}
	genActivityDevice struct {
		Browser        string       `json:"browser"`
		BrowserVersion string       `json:"browser_version"`
		EPKey          string       `json:"epkey"`
		IP             genIPAddress `json:"ip"`
		Location       genLocation  `json:"location"`
		OS             string       `json:"os"`
		OSVersion      string       `json:"os_version"`
	}
	genIPAddress struct {
		Address string `json:"address"`
	}
	genApplication struct {
		Key  string `json:"key"`
		Name string `json:"name"`
		Type string `json:"type"`
	}
	genOutcome struct {
		Result string `json:"result"`
	}
	// genGroupRef is a group in a user's details, name first as Duo
	// writes it.
	genGroupRef struct {
		Name string `json:"name"`
		Key  string `json:"key"`
	}
)

// activity returns an activity event at at: an administrator's action in
// the Admin Panel, a user's self-service enrollment, or a change made by the
// directory sync or the Admin API.
func (g *generator) activity(at time.Time) genActivity {
	rng := g.rng
	acct := g.account()
	ev := genActivity{
		ActivityID: g.uuid(),
		AKey:       acct.akey,
		Outcome:    genOutcome{Result: "SUCCESS"},
		TS:         formatMicros(at),
	}
	u := rng.IntN(len(g.people)) // the user acted on, or acting
	adm := pick(rng, acct.admins)
	byAdmin := func() {
		ev.Actor = g.adminEntity(adm, at)
		ev.AccessDevice = g.activityDevice(adm.person)
	}
	byUser := func() {
		ev.Actor = g.userEntity(u, "Active", at)
		ev.AccessDevice = g.activityDevice(g.people[u])
		a := pick(rng, g.apps)
		ev.Application = &genApplication{Key: a.key, Name: a.name, Type: a.typ}
	}

	name := weighted(rng,
		weightedChoice{"admin_login", 24}, weightedChoice{"user_update", 16}, weightedChoice{"user_create", 8},
		weightedChoice{"user_delete", 3}, weightedChoice{"phone_create", 12}, weightedChoice{"policy_update", 5},
		weightedChoice{"webauthncredential_create", 8}, weightedChoice{"group_update", 6},
		weightedChoice{"integration_update", 3})
	switch name {
	case "admin_login":
		byAdmin()
		if rng.IntN(8) == 0 {
			ev.Outcome.Result = "FAILURE"
		}
	case "user_create":
		if rng.IntN(4) == 0 {
			ev.Actor = genEntity{Key: acct.apiApp.Key, Name: acct.apiApp.Name, Type: "adminapi"}
		} else {
			byAdmin()
		}
		ev.Target = ptr(g.userEntity(u, "Active", at))
	case "user_update":
		byAdmin()
		change := pick(rng, userStatusChanges)
		ev.OldTarget = ptr(g.userEntity(u, change[0], at))
		ev.Target = ptr(g.userEntity(u, change[1], at))
	case "user_delete":
		byAdmin()
		ev.Target = ptr(g.userEntity(u, "Disabled", at))
	case "phone_create":
		if rng.IntN(3) == 0 {
			byAdmin()
		} else {
			byUser()
		}
		p, m := g.people[u], pick(rng, phoneModels)
		ev.Target = &genEntity{
			Details: ptr(compactJSON("model", m.model, "number", p.phone, "platform", m.platform, "type", "Mobile")),
			Key:     "DP" + g.key(),
			Name:    p.phone,
			Type:    "phone",
		}
	case "policy_update":
		byAdmin()
		pol, set := pick(rng, acct.policies), pick(rng, policySettings)
		ev.OldTarget = &genEntity{Details: ptr(compactJSON(set[0], set[1])), Key: pol.Key, Name: pol.Name, Type: "policy"}
		ev.Target = &genEntity{Details: ptr(compactJSON(set[0], set[2])), Key: pol.Key, Name: pol.Name, Type: "policy"}
	case "webauthncredential_create":
		byUser()
		if rng.IntN(6) == 0 {
			ev.Outcome.Result = "FAILURE"
		}
		d, auth := ev.AccessDevice, pick(rng, authenticators)
		ev.Target = &genEntity{
			Details: ptr(compactJSON(
				"authenticator_type", auth.typ, "transport_types", auth.transport, "passwordless_authorized", rng.IntN(2) == 0,
				"browser", d.Browser, "browser_version", d.BrowserVersion, "os", d.OS, "os_version", d.OSVersion,
				"user_agent", fmt.Sprintf("Mozilla/5.0 (%s %s) %s/%s", d.OS, d.OSVersion, d.Browser, d.BrowserVersion),
				"credential_name", auth.typ)),
			Key:  "WA" + g.key(),
			Name: "WA" + g.key(),
			Type: "webauthn_credential",
		}
	case "group_update":
		ev.Actor = genEntity{Key: acct.sync.Key, Name: acct.sync.Name, Type: "azure_sync"}
		grp := pick(rng, groupNames)
		ev.OldTarget = &genEntity{Details: ptr(compactJSON("desc", "", "status", "Active")), Key: acct.groupKeys[grp], Name: grp, Type: "group"}
		ev.Target = &genEntity{Details: ptr(compactJSON("desc", "Synced from the directory", "status", "Active")), Key: acct.groupKeys[grp], Name: grp, Type: "group"}
	case "integration_update":
		byAdmin()
		a := pick(rng, g.apps)
		self := rng.IntN(2) == 0
		ev.OldTarget = &genEntity{Details: ptr(compactJSON("name", a.name, "self_service_allowed", self)), Key: a.key, Name: a.name, Type: "integration"}
		ev.Target = &genEntity{Details: ptr(compactJSON("name", a.name, "self_service_allowed", !self)), Key: a.key, Name: a.name, Type: "integration"}
	}
	if g.stringActions > 0 && rng.Float64() < g.stringActions {
		ev.Action = name
	} else {
		ev.Action = genAction{Name: name}
	}
	return ev
}

// userEntity describes the i-th person as the actor or target of an activity
// event at at, with the given status.
func (g *generator) userEntity(i int, status string, at time.Time) genEntity {
	p := g.people[i]
	acct := g.account()
	groups := make([]genGroupRef, 0, len(p.groups))
	for _, grp := range p.groups {
		groups = append(groups, genGroupRef{Name: grp, Key: acct.groupKeys[grp]})
	}
	created := acct.created[i]
	if created.After(at) {
		created = at.Truncate(time.Second)
	}
	return genEntity{
		Details: ptr(compactJSON("created", formatMicros(created), "last_login", formatMicros(g.lastLogin(created, at)),
			"status", status, "groups", groups)),
		Key:  p.key,
		Name: p.name,
		Type: "user",
	}
}

// adminEntity describes an administrator as the actor of an activity event
// at at.
func (g *generator) adminEntity(a admin, at time.Time) genEntity {
	return genEntity{
		Details: ptr(compactJSON("email", a.email, "last_login", formatMicros(g.lastLogin(at.Add(-30*24*time.Hour), at)),
			"role", a.role, "status", "Active")),
		Key:  a.key,
		Name: realName(a.person),
		Type: "admin",
	}
}

// lastLogin returns a whole second in the 30 days before at, and not before
// since.
func (g *generator) lastLogin(since, at time.Time) time.Time {
	lo := max(since.Unix(), at.Add(-30*24*time.Hour).Unix())
	hi := at.Unix()
	if hi <= lo {
		return time.Unix(hi, 0).UTC()
	}
	return time.Unix(lo+g.rng.Int64N(hi-lo), 0).UTC()
}

// activityDevice returns the device p acts from: at home mostly, elsewhere
// when travelling.
func (g *generator) activityDevice(p person) *genActivityDevice {
	rng := g.rng
	br, sys := pick(rng, browsers), pick(rng, systems)
	where, ip := p.home, p.ip
	if rng.IntN(10) == 0 {
		where, ip = pick(rng, places), g.ip()
	}
	return &genActivityDevice{
		Browser:        br.name,
		BrowserVersion: br.version,
		EPKey:          "EP" + g.key(),
		IP:             genIPAddress{Address: ip},
		Location:       genLocation{City: where.city, Country: where.country, State: where.state},
		OS:             sys.name,
		OSVersion:      sys.version,
	}
}
