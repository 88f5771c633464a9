// Copyright 2026 The duostream authors. Licensed under the MIT licence.

// Package bench measures duo_normalize against an equivalent Bloblang
// mapping and against the floor of decoding and encoding the same events.
// The events are generated here, deterministically, in the shapes the Duo
// Admin API returns, including its quirks: booleans in string fields, nulls,
// IP addresses with ports, the "null" host name, security_agents as objects
// or "unknown", and fields no schema names.
package bench

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"
)

// LogTypes are the log types the benchmark covers, in report order.
var LogTypes = []string{"Duo.Authentication", "Duo.Administrator", "Duo.Telephony", "Duo.OfflineEnrollment"}

// Events returns n events of logType, the same on every call.
func Events(logType string, n int) [][]byte {
	r := rand.New(rand.NewPCG(42, uint64(len(logType))))
	gen := map[string]func(*rand.Rand, int) map[string]any{
		"Duo.Authentication":    authEvent,
		"Duo.Administrator":     adminEvent,
		"Duo.Telephony":         telephonyEvent,
		"Duo.OfflineEnrollment": offlineEvent,
	}[logType]
	if gen == nil {
		panic(fmt.Sprintf("bench: no generator for %s", logType))
	}
	out := make([][]byte, n)
	for i := range out {
		b, err := json.Marshal(gen(r, i))
		if err != nil {
			panic(err)
		}
		out[i] = b
	}
	return out
}

var (
	base     = time.Date(2025, 11, 3, 8, 0, 0, 0, time.UTC)
	browsers = []string{"Chrome", "Firefox", "Edge", "Safari"}
	oses     = []string{"Windows", "Mac OS X", "iOS", "Android", "Linux"}
	cities   = [][3]string{{"Ann Arbor", "United States", "Michigan"}, {"Lyon", "France", "Auvergne-Rhone-Alpes"}, {"Austin", "United States", "Texas"}, {"Osaka", "Japan", "Osaka"}}
	factors  = []string{"duo_push", "phone_call", "passcode", "sms_passcode", "u2f_token", "remembered_device"}
	reasons  = []string{"user_approved", "allowed_by_policy", "deny_unenrolled_user", "user_cancelled", "no_response", "invalid_passcode"}
	results  = []string{"success", "success", "success", "denied", "failure"}
	apps     = [][2]string{{"DIY231J8BR23QK4UKBY8", "Microsoft Azure Active Directory"}, {"DIQ4ABCDEF1234567890", "VPN"}, {"DI5SXYZ0987654321ABC", "Okta"}}
	groups   = []string{"Duo Users", "CorpHQ Users", "VPN Users", "Staff", "Admins"}
	users    = []string{"narroway", "jdoe", "asmith", "homer.simpson", "marge", "bart.s", "lisa", "ned"}
	health   = []any{true, false, "true", "false", "unknown"}
)

func pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

func ip4(r *rand.Rand) string {
	return fmt.Sprintf("%d.%d.%d.%d", 1+r.IntN(222), r.IntN(256), r.IntN(256), 1+r.IntN(254))
}

func txid(r *rand.Rand) string {
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", r.Uint32(), r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint32()&0xffff, r.Uint64()&0xffffffffffff)
}

func isoTime(t time.Time) string { return t.Format("2006-01-02T15:04:05.000000+00:00") }

func location(r *rand.Rand) map[string]any {
	c := pick(r, cities)
	loc := map[string]any{"city": c[0], "country": c[1], "state": c[2]}
	if r.IntN(10) == 0 {
		loc["state"] = nil
	}
	return loc
}

func authEvent(r *rand.Rand, i int) map[string]any {
	t := base.Add(time.Duration(i)*7*time.Second + time.Duration(r.IntN(1e6))*time.Microsecond)
	user := pick(r, users)
	email := user + "@example.com"
	access := map[string]any{
		"browser": pick(r, browsers), "browser_version": fmt.Sprintf("%d.0.%d.%d", 100+r.IntN(30), r.IntN(9999), r.IntN(200)),
		"flash_version": "uninstalled", "java_version": "uninstalled",
		"ip":                    ip4(r),
		"is_encryption_enabled": pick(r, health), "is_firewall_enabled": pick(r, health), "is_password_set": pick(r, health),
		"location": location(r), "os": pick(r, oses), "os_version": fmt.Sprintf("%d.%d", 10+r.IntN(5), r.IntN(10)),
	}
	switch r.IntN(4) {
	case 0:
		access["hostname"] = "null"
	case 1:
		access["hostname"] = nil
	case 2:
		access["hostname"] = fmt.Sprintf("ws-%03d.corp.example.com", r.IntN(500))
	default:
		access["hostname"] = ip4(r)
	}
	if r.IntN(5) == 0 {
		access["ip"] = ip4(r) + fmt.Sprintf(":%d", 1024+r.IntN(60000))
	}
	switch r.IntN(3) {
	case 0:
		access["security_agents"] = []any{map[string]any{"security_agent": "cisco-amp", "version": "1"}}
	case 1:
		access["security_agents"] = "unknown"
	default:
		access["security_agents"] = []any{}
	}
	app := pick(r, apps)
	g := []any{}
	for range r.IntN(3) {
		g = append(g, pick(r, groups))
	}
	ev := map[string]any{
		"access_device": access,
		"alias":         "",
		"application":   map[string]any{"key": app[0], "name": app[1]},
		"auth_device": map[string]any{
			"ip": ip4(r), "location": location(r), "name": fmt.Sprintf("My Phone (734-555-%04d)", r.IntN(10000)),
		},
		"email":                   email,
		"event_type":              "authentication",
		"factor":                  pick(r, factors),
		"isotimestamp":            isoTime(t),
		"ood_software":            nil,
		"reason":                  pick(r, reasons),
		"result":                  pick(r, results),
		"timestamp":               t.Unix(),
		"trusted_endpoint_status": "not trusted",
		"txid":                    txid(r),
		"user":                    map[string]any{"groups": g, "key": fmt.Sprintf("DU%018d", r.IntN(1e9)), "name": email},
	}
	if r.IntN(3) == 0 {
		ev["alias"] = user
	}
	if r.IntN(4) == 0 {
		ev["auth_device"].(map[string]any)["ip"] = nil
	}
	return ev
}

var adminActions = []string{"user_update", "admin_login", "bypass_create", "integration_create", "policy_update", "admin_login_error"}

func adminEvent(r *rand.Rand, i int) map[string]any {
	t := base.Add(time.Duration(i) * 31 * time.Second)
	return map[string]any{
		"action":       pick(r, adminActions),
		"description":  fmt.Sprintf(`{"ip_address": "%s", "factor": "push", "count": %d}`, ip4(r), r.IntN(5)),
		"isotimestamp": t.Format("2006-01-02T15:04:05+00:00"),
		"object":       pick(r, users),
		"timestamp":    t.Unix(),
		"username":     pick(r, []string{"API", "System", "Homer Simpson", "AD Sync: corp"}),
	}
}

func telephonyEvent(r *rand.Rand, i int) map[string]any {
	t := base.Add(time.Duration(i)*13*time.Second + time.Duration(r.IntN(1e6))*time.Microsecond)
	ev := map[string]any{
		"context": pick(r, []string{"authentication", "enrollment", "verify", "administrator login"}),
		"credits": r.IntN(4),
		"phone":   fmt.Sprintf("+1734555%04d", r.IntN(10000)),
		"type":    pick(r, []string{"sms", "phone"}),
	}
	if i%2 == 0 {
		// v2 endpoint shape.
		ev["ts"] = isoTime(t)
		ev["telephony_id"] = txid(r)
		ev["txid"] = txid(r)
	} else {
		ev["isotimestamp"] = t.Format("2006-01-02T15:04:05+00:00")
		ev["timestamp"] = t.Unix()
	}
	return ev
}

func offlineEvent(r *rand.Rand, i int) map[string]any {
	t := base.Add(time.Duration(i) * 97 * time.Second)
	return map[string]any{
		"action":       pick(r, []string{"o2fa_user_provisioned", "o2fa_user_deprovisioned", "o2fa_user_reenrolled"}),
		"description":  fmt.Sprintf(`{"user_agent": "DuoCredProv/4.0.6.%d (Windows NT 10.0; x64)", "hostname": "WKS%04d", "factor": "duo_otp"}`, r.IntN(999), r.IntN(9999)),
		"isotimestamp": t.Format("2006-01-02T15:04:05+00:00"),
		"object":       "Acme Laptop Windows Logon",
		"timestamp":    t.Unix(),
		"username":     pick(r, users),
	}
}
