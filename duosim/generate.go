// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/duostream/duostream/duoapi"
)

// Generate adds n generated events of type t to the account, their times
// spread at random over [from, to] (to the microsecond for authentication, telephony and
// activity, to the millisecond for the surfaced_timestamp of Trust Monitor
// events, to the second for administrator and offline enrollment).
//
// Give from == to for a burst: every event in one millisecond (or one
// second), such as 750 activity events of one millisecond or 225 Trust
// Monitor events surfaced together, added to a spread of others by a second
// call. The events look like the ones Duo returns and depend only on
// Config.Seed, the account (a child's on its ID) and the earlier calls that
// used the account's generator (Generate, RunLive, AddEvents of v1
// telephony).
func (a *accountStore) Generate(t duoapi.LogType, n int, from, to time.Time) error {
	if err := checkGenerate(t, n, from, to); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	a.genMu.Lock()
	batch := a.gen.events(t, n, from, to)
	a.genMu.Unlock()
	if err := a.insert(t, batch); err != nil {
		return fmt.Errorf("generate %s events: %w", t, err)
	}
	return nil
}

func checkGenerate(t duoapi.LogType, n int, from, to time.Time) error {
	if _, err := duoapi.ParseLogType(string(t)); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	if n < 0 {
		return fmt.Errorf("generate %s: count %d is negative", t, n)
	}
	if to.Before(from) {
		return fmt.Errorf("generate %s: to %s is before from %s", t, to.Format(time.RFC3339Nano), from.Format(time.RFC3339Nano))
	}
	if from.UnixMilli() < minEventMillis || to.UnixMilli() > maxEventMillis {
		return fmt.Errorf("generate %s: times must be 13-digit millisecond timestamps (2001 to 2286)", t)
	}
	return nil
}

// dataStream separates the data generator from the fault generator that
// shares the seed.
const dataStream = 0x64617461

type place struct{ city, country, state string }

type person struct {
	name, email, key, phone, device, hostname, ip string
	groups                                        []string
	home                                          place
}

// app is an application protected by Duo; typ is its integration type, as
// activity events name it.
type app struct{ key, name, typ string }

// generator makes realistic events of one account from a seeded random
// source. It is not safe for concurrent use; accountStore guards it with
// genMu.
type generator struct {
	rng    *rand.Rand
	people []person
	apps   []app
	admins []string

	// adminHost is the Admin Panel hostname that Trust Monitor triage links
	// point to.
	adminHost string
	// akey is the account key that activity events carry; empty for one
	// drawn when the account is made.
	akey string
	// stringActions is Config.ActivityStringActions.
	stringActions float64
	// acct is what activity and Trust Monitor events share; made on first
	// use, so that the other types' events do not depend on it.
	acct *account
}

var (
	firstNames = []string{"ada", "alan", "grace", "linus", "margaret", "dennis", "barbara", "ken", "frances", "edsger",
		"radia", "donald", "hedy", "niklaus", "karen", "john", "sophie", "tim", "joan", "vint"}
	lastNames = []string{"lovelace", "turing", "hopper", "torvalds", "hamilton", "ritchie", "liskov", "thompson",
		"allen", "dijkstra", "perlman", "knuth", "lamarr", "wirth", "jones", "mccarthy", "wilson", "lee", "clarke", "cerf"}
	groupNames = []string{"Duo Users", "CorpHQ Users", "Engineering", "Finance", "AD Sync", "Contractors", "Admins"}
	places     = []place{
		{"Ann Arbor", "United States", "Michigan"}, {"Austin", "United States", "Texas"},
		{"San Francisco", "United States", "California"}, {"New York", "United States", "New York"},
		{"London", "United Kingdom", "England"}, {"Berlin", "Germany", "Berlin"},
		{"Paris", "France", "Ile-de-France"}, {"Toronto", "Canada", "Ontario"},
		{"Sydney", "Australia", "New South Wales"}, {"Tokyo", "Japan", "Tokyo"},
		{"Sao Paulo", "Brazil", "Sao Paulo"}, {"Bengaluru", "India", "Karnataka"},
	}
	appNames = []struct{ name, typ string }{
		{"Microsoft Azure Active Directory", "azure-ca"}, {"Okta", "okta"}, {"Cisco ASA VPN", "ciscoasa"},
		{"Duo Single Sign-On", "sso-generic"}, {"Salesforce", "sso-salesforce"}, {"GitHub Enterprise Cloud", "sso-github"},
		{"AWS Console", "sso-aws"}, {"Acme Laptop Windows Logon", "rdp"}, {"Web SDK", "websdk"}, {"Slack", "sso-slack"},
	}
	browsers = []struct{ name, version string }{
		{"Chrome", "124.0.6367.201"}, {"Chrome", "126.0.6478.127"}, {"Firefox", "127.0"},
		{"Safari", "17.5"}, {"Edge", "125.0.2535.85"}, {"Chrome", "67.0.3396.99"},
	}
	systems = []struct{ name, version string }{
		{"Mac OS X", "14.5"}, {"Mac OS X", "10.15.7"}, {"Windows", "10"}, {"Windows", "11"},
		{"iOS", "17.5.1"}, {"Android", "14"},
	}
	// areaCodes are real US area codes; with 555-01xx the numbers are
	// reserved for fiction.
	areaCodes = []string{"212", "313", "415", "512", "617", "734", "206", "303"}
)

// newGenerator returns a generator drawing from rng for the account whose
// API hostname is apiHost and whose key is akey (empty to draw one).
func newGenerator(rng *rand.Rand, apiHost, akey string, stringActions float64) *generator {
	g := &generator{
		rng:           rng,
		adminHost:     adminHost(apiHost),
		akey:          akey,
		stringActions: stringActions,
	}
	used := make(map[string]bool)
	for len(g.people) < 48 {
		first, last := pick(g.rng, firstNames), pick(g.rng, lastNames)
		name := first + "." + last
		if used[name] {
			continue
		}
		used[name] = true
		phone := "+1" + pick(g.rng, areaCodes) + fmt.Sprintf("55501%02d", g.rng.IntN(100))
		var groups []string
		for _, grp := range groupNames {
			if g.rng.IntN(4) == 0 {
				groups = append(groups, grp)
			}
		}
		if groups == nil {
			groups = []string{}
		}
		g.people = append(g.people, person{
			name:     name,
			email:    name + "@example.com",
			key:      "DU" + g.key(),
			phone:    phone,
			device:   fmt.Sprintf("%s's iPhone (%s-%s-%s)", strings.ToUpper(first[:1])+first[1:], phone[2:5], phone[5:8], phone[8:]),
			hostname: fmt.Sprintf("WKS-%s%02d", strings.ToUpper(last[:3]), g.rng.IntN(100)),
			ip:       g.ip(),
			groups:   groups,
			home:     pick(g.rng, places),
		})
	}
	for _, a := range appNames {
		g.apps = append(g.apps, app{key: "DI" + g.key(), name: a.name, typ: a.typ})
	}
	g.admins = []string{"admin", g.people[0].name, g.people[1].name, g.people[2].name}
	return g
}

func pick[T any](rng *rand.Rand, xs []T) T { return xs[rng.IntN(len(xs))] }

// weighted returns one of the choices, each as likely as its weight.
func weighted(rng *rand.Rand, choices ...weightedChoice) string {
	total := 0
	for _, c := range choices {
		total += c.weight
	}
	n := rng.IntN(total)
	for _, c := range choices {
		if n < c.weight {
			return c.value
		}
		n -= c.weight
	}
	return choices[len(choices)-1].value
}

type weightedChoice struct {
	value  string
	weight int
}

// key returns 18 characters of a Duo object key (after its two-letter
// prefix).
func (g *generator) key() string { return randomString(g.rng, keyAlphabet, 18) }

// keyAlphabet holds the characters of Duo object keys and account IDs.
const keyAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// randomString returns n characters drawn from alphabet.
func randomString(rng *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// uuid returns a random (version 4) UUID.
func (g *generator) uuid() string {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], g.rng.Uint64())
	binary.LittleEndian.PutUint64(b[8:], g.rng.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// ip returns an address from the documentation ranges (RFC 5737).
func (g *generator) ip() string {
	nets := []string{"192.0.2", "198.51.100", "203.0.113"}
	return fmt.Sprintf("%s.%d", pick(g.rng, nets), 1+g.rng.IntN(254))
}

// times returns n sorted times spread over [from, to], to the microsecond,
// or to the second when seconds is set.
func (g *generator) times(n int, from, to time.Time, seconds bool) []time.Time {
	out := make([]time.Time, n)
	if seconds {
		lo, hi := from.Unix(), to.Unix()
		for i := range out {
			out[i] = time.Unix(lo+g.rng.Int64N(hi-lo+1), 0).UTC()
		}
	} else {
		lo, hi := from.UnixMicro(), to.UnixMicro()
		for i := range out {
			out[i] = time.UnixMicro(lo + g.rng.Int64N(hi-lo+1)).UTC()
		}
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// events returns n events of type t at times spread over [from, to], each
// encoded once. The encodings share one buffer to keep memory modest.
func (g *generator) events(t duoapi.LogType, n int, from, to time.Time) []record {
	seconds := t == duoapi.Administrator || t == duoapi.OfflineEnrollment
	times := g.times(n, from, to, seconds)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	encode := func(v any) [2]int {
		// Generated values always encode; the span leaves out Encode's
		// newline.
		start := buf.Len()
		enc.Encode(v)
		return [2]int{start, buf.Len() - 1}
	}
	batch := make([]record, n)
	spans := make([][2][2]int, n)
	for i, at := range times {
		batch[i].ms = at.UnixMilli()
		switch t {
		case duoapi.Authentication:
			ev := g.auth(at)
			batch[i].id = ev.TxID
			spans[i][0] = encode(ev)
		case duoapi.Administrator:
			spans[i][0] = encode(g.admin(at))
		case duoapi.OfflineEnrollment:
			spans[i][0] = encode(g.offline(at))
		case duoapi.Telephony:
			v2, v1 := g.telephony(at)
			batch[i].id = v2.TelephonyID
			spans[i][0] = encode(v2)
			spans[i][1] = encode(v1)
		case duoapi.Activity:
			ev := g.activity(at)
			batch[i].id = ev.ActivityID
			spans[i][0] = encode(ev)
		case duoapi.TrustMonitor:
			ev := g.trustMonitor(at)
			batch[i].id, batch[i].kind = ev.SEKey, ev.Type
			spans[i][0] = encode(ev)
		}
	}
	all := bytes.Clone(buf.Bytes()) // drop the buffer's spare capacity
	for i := range batch {
		sp := spans[i]
		batch[i].body = all[sp[0][0]:sp[0][1]:sp[0][1]]
		if t == duoapi.Telephony {
			batch[i].v1 = all[sp[1][0]:sp[1][1]:sp[1][1]]
		}
	}
	return batch
}

// The generated records. Fields are in alphabetical order, as Duo sends
// them.
type (
	genLocation struct {
		City    string `json:"city"`
		Country string `json:"country"`
		State   string `json:"state"`
	}
	genNoLocation struct {
		City    *string `json:"city"`
		Country *string `json:"country"`
		State   *string `json:"state"`
	}
	genAccessDevice struct {
		Browser             string      `json:"browser"`
		BrowserVersion      string      `json:"browser_version"`
		FlashVersion        string      `json:"flash_version"`
		Hostname            *string     `json:"hostname"`
		IP                  string      `json:"ip"`
		IsEncryptionEnabled any         `json:"is_encryption_enabled"`
		IsFirewallEnabled   any         `json:"is_firewall_enabled"`
		IsPasswordSet       any         `json:"is_password_set"`
		JavaVersion         string      `json:"java_version"`
		Location            genLocation `json:"location"`
		OS                  string      `json:"os"`
		OSVersion           string      `json:"os_version"`
		SecurityAgents      []string    `json:"security_agents,omitempty"`
	}
	genKeyName struct {
		Key  string `json:"key"`
		Name string `json:"name"`
	}
	genAuthDevice struct {
		IP       *string `json:"ip"`
		Location any     `json:"location"`
		Name     *string `json:"name"`
	}
	genUser struct {
		Groups []string `json:"groups"`
		Key    string   `json:"key"`
		Name   string   `json:"name"`
	}
	genAuth struct {
		AccessDevice          genAccessDevice `json:"access_device"`
		Alias                 string          `json:"alias"`
		Application           genKeyName      `json:"application"`
		AuthDevice            genAuthDevice   `json:"auth_device"`
		Email                 string          `json:"email"`
		EventType             string          `json:"event_type"`
		Factor                string          `json:"factor"`
		ISOTimestamp          string          `json:"isotimestamp"`
		OODSoftware           *string         `json:"ood_software"`
		Reason                string          `json:"reason"`
		Result                string          `json:"result"`
		Timestamp             int64           `json:"timestamp"`
		TrustedEndpointStatus string          `json:"trusted_endpoint_status"`
		TxID                  string          `json:"txid"`
		User                  genUser         `json:"user"`
	}
	// genAdmin is an administrator or offline enrollment event.
	genAdmin struct {
		Action       string  `json:"action"`
		Description  string  `json:"description"`
		ISOTimestamp string  `json:"isotimestamp"`
		Object       *string `json:"object"`
		Timestamp    int64   `json:"timestamp"`
		Username     string  `json:"username"`
	}
	genTelephonyV1 struct {
		Context      string `json:"context"`
		Credits      int    `json:"credits"`
		ISOTimestamp string `json:"isotimestamp"`
		Phone        string `json:"phone"`
		Timestamp    int64  `json:"timestamp"`
		Type         string `json:"type"`
	}
	genTelephonyV2 struct {
		Context     string `json:"context"`
		Credits     int    `json:"credits"`
		Phone       string `json:"phone"`
		TelephonyID string `json:"telephony_id"`
		TS          string `json:"ts"`
		TxID        string `json:"txid"`
		Type        string `json:"type"`
	}
)

func ptr[T any](v T) *T { return &v }

func (g *generator) auth(at time.Time) genAuth {
	rng := g.rng
	p := pick(rng, g.people)
	a := pick(rng, g.apps)
	br, sys := pick(rng, browsers), pick(rng, systems)

	ev := genAuth{
		Application:           genKeyName{Key: a.key, Name: a.name},
		Email:                 p.email,
		EventType:             "authentication",
		ISOTimestamp:          formatMicros(at),
		Timestamp:             at.Unix(),
		TrustedEndpointStatus: weighted(rng, weightedChoice{"not trusted", 6}, weightedChoice{"trusted", 3}, weightedChoice{"unknown", 1}),
		TxID:                  g.uuid(),
		User:                  genUser{Groups: p.groups, Key: p.key, Name: p.name},
	}
	where, ip := p.home, p.ip
	if rng.IntN(10) == 0 { // travelling
		where, ip = pick(rng, places), g.ip()
	}
	ev.AccessDevice = genAccessDevice{
		Browser:        br.name,
		BrowserVersion: br.version,
		FlashVersion:   "uninstalled",
		IP:             ip,
		JavaVersion:    "uninstalled",
		Location:       genLocation{City: where.city, Country: where.country, State: where.state},
		OS:             sys.name,
		OSVersion:      sys.version,
	}
	if rng.IntN(3) == 0 {
		ev.AccessDevice.Hostname = ptr(p.hostname)
	}
	if rng.IntN(2) == 0 {
		ev.AccessDevice.IsEncryptionEnabled, ev.AccessDevice.IsFirewallEnabled, ev.AccessDevice.IsPasswordSet = "unknown", "unknown", "unknown"
	} else {
		ev.AccessDevice.IsEncryptionEnabled, ev.AccessDevice.IsFirewallEnabled, ev.AccessDevice.IsPasswordSet = rng.IntN(5) > 0, rng.IntN(5) > 0, true
	}
	if rng.IntN(5) == 0 {
		ev.AccessDevice.SecurityAgents = []string{}
	}

	switch u := rng.IntN(100); {
	case u < 85:
		ev.Result = "success"
		ev.Factor = weighted(rng,
			weightedChoice{"duo_push", 55}, weightedChoice{"phone_call", 6}, weightedChoice{"sms_passcode", 8},
			weightedChoice{"passcode", 9}, weightedChoice{"hardware_token", 4}, weightedChoice{"remembered_device", 15},
			weightedChoice{"bypass_code", 3})
		switch ev.Factor {
		case "duo_push", "phone_call":
			ev.Reason = "user_approved"
		case "remembered_device":
			ev.Reason = "remembered_device"
		case "bypass_code":
			ev.Reason = "bypass_user"
		default:
			ev.Reason = "valid_passcode"
		}
	case u < 98:
		ev.Result = "denied"
		ev.Factor = weighted(rng, weightedChoice{"duo_push", 6}, weightedChoice{"phone_call", 1},
			weightedChoice{"passcode", 2}, weightedChoice{"sms_passcode", 1})
		switch ev.Factor {
		case "passcode", "sms_passcode":
			ev.Reason = weighted(rng, weightedChoice{"invalid_passcode", 6}, weightedChoice{"locked_out", 1})
		default:
			ev.Reason = weighted(rng, weightedChoice{"user_mistake", 3}, weightedChoice{"user_cancelled", 2},
				weightedChoice{"no_response", 3}, weightedChoice{"deny_unenrolled_user", 1}, weightedChoice{"denied_by_policy", 1})
		}
	default:
		ev.Result, ev.Factor, ev.Reason = "fraud", "duo_push", "user_marked_fraud"
	}
	if rng.IntN(25) == 0 {
		ev.EventType, ev.Result, ev.Factor, ev.Reason = "enrollment", "success", "duo_push", "user_approved"
	}

	switch ev.Factor {
	case "duo_push", "phone_call", "sms_passcode":
		ev.AuthDevice = genAuthDevice{
			IP:       ptr(g.ip()),
			Location: genLocation{City: p.home.city, Country: p.home.country, State: p.home.state},
			Name:     ptr(p.device),
		}
		if ev.Factor != "duo_push" {
			ev.AuthDevice.Name = ptr(p.phone)
		}
	default:
		// Tokens, bypass codes and remembered devices: no phone, Duo names
		// the device by its key.
		ev.AuthDevice = genAuthDevice{Location: genNoLocation{}, Name: ptr("DP" + g.key())}
	}
	return ev
}

// pyJSON renders key/value pairs as a JSON object the way Python's
// json.dumps does by default ({"a": 1, "b": "x"}), which is how Duo writes
// the description of administrator and offline enrollment events.
func pyJSON(kv ...any) string { return jsonObject(", ", ": ", kv) }

// compactJSON renders key/value pairs as a compact JSON object in the order
// given ({"a":1,"b":"x"}), which is how Duo writes the details of activity
// events.
func compactJSON(kv ...any) string { return jsonObject(",", ":", kv) }

// jsonObject renders key/value pairs as a JSON object in the order given,
// with the separators given.
func jsonObject(itemSep, keySep string, kv []any) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteString(itemSep)
		}
		k, _ := json.Marshal(kv[i])
		v, _ := json.Marshal(kv[i+1])
		b.Write(k)
		b.WriteString(keySep)
		b.Write(v)
	}
	b.WriteByte('}')
	return b.String()
}

// realName returns the full name of p, as "Ada Lovelace".
func realName(p person) string {
	first, last, _ := strings.Cut(p.name, ".")
	return strings.ToUpper(first[:1]) + first[1:] + " " + strings.ToUpper(last[:1]) + last[1:]
}

func (g *generator) admin(at time.Time) genAdmin {
	rng := g.rng
	p := pick(rng, g.people)
	ev := genAdmin{
		ISOTimestamp: formatSeconds(at.Unix()),
		Timestamp:    at.Unix(),
		Username:     pick(rng, g.admins),
	}
	ev.Action = weighted(rng,
		weightedChoice{"admin_login", 30}, weightedChoice{"admin_login_error", 5}, weightedChoice{"user_update", 20},
		weightedChoice{"user_create", 8}, weightedChoice{"user_delete", 3}, weightedChoice{"group_update", 6},
		weightedChoice{"integration_update", 5}, weightedChoice{"phone_create", 8}, weightedChoice{"bypass_create", 4},
		weightedChoice{"activation_begin", 1})
	switch ev.Action {
	case "admin_login":
		ev.Description = pyJSON("ip_address", g.ip(), "device", p.phone, "factor", "push", "primary_auth_method", "Password")
	case "admin_login_error":
		ev.Username = ""
		ev.Description = pyJSON("ip_address", g.ip(), "error", weighted(rng, weightedChoice{"Invalid password", 4}, weightedChoice{"SAML login is disabled", 1}), "email", p.email)
	case "user_update":
		ev.Object = ptr(p.name)
		ev.Description = pyJSON("notes", "Asked for their nickname to be displayed.", "realname", realName(p))
	case "user_create":
		ev.Object = ptr(p.name)
		ev.Description = pyJSON("email", p.email, "realname", realName(p), "status", "Active", "notes", "")
	case "user_delete":
		ev.Object = ptr(p.name)
		ev.Description = pyJSON("email", p.email, "realname", realName(p))
	case "group_update":
		grp := pick(rng, groupNames)
		ev.Object = ptr(grp)
		ev.Description = pyJSON("name", grp, "desc", "Synced from the directory", "status", "Active")
	case "integration_update":
		a := pick(rng, g.apps)
		ev.Object = ptr(a.name)
		ev.Description = pyJSON("name", a.name, "enroll_policy", "enroll", "ip_whitelist", []string{})
	case "phone_create":
		ev.Object = ptr(p.phone)
		ev.Description = pyJSON("number", p.phone, "type", "Mobile", "platform", "Apple iOS")
	case "bypass_create":
		ev.Object = ptr(p.name)
		ev.Description = pyJSON("bypass", "", "count", 1, "valid_secs", 3600, "remaining_uses", 1, "auto_generated", true)
	case "activation_begin":
		ev.Description = "Starting activation process"
	}
	return ev
}

func (g *generator) offline(at time.Time) genAdmin {
	rng := g.rng
	p := pick(rng, g.people)
	return genAdmin{
		Action: weighted(rng, weightedChoice{"o2fa_user_provisioned", 6}, weightedChoice{"o2fa_user_reenrolled", 3},
			weightedChoice{"o2fa_user_deprovisioned", 2}),
		Description: pyJSON(
			"user_agent", pick(rng, []string{
				"DuoCredProv/4.0.6.413 (Windows NT 6.3.9600; x64; Server)",
				"DuoCredProv/4.2.2.1755 (Windows NT 10.0.19045; x64; Workstation)",
				"DuoCredProv/4.3.1.2002 (Windows NT 10.0.22631; x64; Workstation)",
			}),
			"hostname", p.hostname,
			"factor", weighted(rng, weightedChoice{"duo_otp", 4}, weightedChoice{"security_key", 1})),
		ISOTimestamp: formatSeconds(at.Unix()),
		Object:       ptr(pick(rng, []string{"Acme Laptop Windows Logon", "Acme Server Windows Logon"})),
		Timestamp:    at.Unix(),
		Username:     p.name,
	}
}

func (g *generator) telephony(at time.Time) (genTelephonyV2, genTelephonyV1) {
	rng := g.rng
	p := pick(rng, g.people)
	ctx := weighted(rng, weightedChoice{"authentication", 14}, weightedChoice{"enrollment", 2},
		weightedChoice{"administrator login", 2}, weightedChoice{"verify", 2})
	typ := weighted(rng, weightedChoice{"sms", 3}, weightedChoice{"phone", 2})
	credits := 1
	if typ == "phone" {
		credits = 1 + rng.IntN(3)
	}
	v2 := genTelephonyV2{
		Context:     ctx,
		Credits:     credits,
		Phone:       p.phone,
		TelephonyID: g.uuid(),
		TS:          formatMicros(at),
		TxID:        g.uuid(),
		Type:        typ,
	}
	v1 := genTelephonyV1{
		Context:      ctx,
		Credits:      credits,
		ISOTimestamp: formatSeconds(at.Unix()),
		Phone:        p.phone,
		Timestamp:    at.Unix(),
		Type:         typ,
	}
	return v2, v1
}
