// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"fmt"
	"time"
)

// The generated Trust Monitor record. Fields are in alphabetical order, as
// Duo sends them; the fields of one event type are left out of the others.
type (
	genTrustMonitor struct {
		BypassStatusEnabled   *int64              `json:"bypass_status_enabled,omitempty"`
		EnabledBy             *genKeyName         `json:"enabled_by,omitempty"`
		EnabledFor            *genKeyName         `json:"enabled_for,omitempty"`
		Explanations          []genExplanation    `json:"explanations,omitempty"`
		FromCommonNetblock    *bool               `json:"from_common_netblock,omitempty"`
		FromNewUser           *bool               `json:"from_new_user,omitempty"`
		LowRiskIP             *bool               `json:"low_risk_ip,omitempty"`
		PriorityEvent         bool                `json:"priority_event"`
		PriorityReasons       []genPriorityReason `json:"priority_reasons"`
		SEKey                 string              `json:"sekey"`
		State                 string              `json:"state"`
		StateUpdatedTimestamp *int64              `json:"state_updated_timestamp"`
		SurfacedAuth          *genAuth            `json:"surfaced_auth,omitempty"`
		SurfacedTimestamp     int64               `json:"surfaced_timestamp"`
		TriageEventURI        string              `json:"triage_event_uri"`
		TriagedAsInteresting  bool                `json:"triaged_as_interesting"`
		Type                  string              `json:"type"`
	}
	genExplanation struct {
		Summary string `json:"summary"`
		Type    string `json:"type"`
	}
	genPriorityReason struct {
		Label string `json:"label"`
		Type  string `json:"type"`
	}
)

var (
	// authExplanations are why Trust Monitor surfaces an authentication,
	// as Duo's samples word them; the summary takes the user name.
	authExplanations = []struct{ typ, summary string }{
		{"NEW_COUNTRY_CODE", "%s has not logged in from this location recently."},
		{"NEW_NETBLOCK", "%s has not logged in from this IP recently."},
		{"UNUSUAL_NETBLOCK", "%s has rarely used this IP."},
		{"NEW_IKEY", "%s has not accessed this application recently."},
	}
	// registrationExplanation is why Trust Monitor surfaces a device
	// registration, as Duo's samples word it.
	registrationExplanation = genExplanation{
		Summary: "The registered device has an out-of-date version of the operating system installed.",
		Type:    "REGISTER_OS_OUTDATED",
	}
	// countryCodes are the ISO 3166 codes of the countries in places, the
	// label of a country priority reason.
	countryCodes = map[string]string{
		"United States": "US", "United Kingdom": "GB", "Germany": "DE", "France": "FR", "Canada": "CA",
		"Australia": "AU", "Japan": "JP", "Brazil": "BR", "India": "IN",
	}
)

// trustMonitor returns a Trust Monitor event surfaced at at: a risky
// authentication, a user put in bypass, or a risky device registration.
func (g *generator) trustMonitor(at time.Time) genTrustMonitor {
	rng := g.rng
	acct := g.account()
	sekey := "SE" + g.key()
	ev := genTrustMonitor{
		PriorityReasons:   []genPriorityReason{},
		SEKey:             sekey,
		State:             "new",
		SurfacedTimestamp: at.UnixMilli(),
		TriageEventURI:    "https://" + g.adminHost + "/trust-monitor?sekey=" + sekey,
		Type:              weighted(rng, weightedChoice{"auth", 14}, weightedChoice{"bypass_status", 3}, weightedChoice{"device_registration", 3}),
	}
	switch ev.Type {
	case "auth":
		// Most authentications surface within seconds, some hours later.
		delay := time.Duration(rng.Int64N(int64(2 * time.Second)))
		if rng.IntN(2) == 0 {
			delay = time.Duration(rng.Int64N(int64(6 * time.Hour)))
		}
		auth := g.auth(at.Add(-delay))
		ev.SurfacedAuth = &auth
		n := 1 + rng.IntN(3)
		for _, i := range rng.Perm(len(authExplanations))[:n] {
			e := authExplanations[i]
			ev.Explanations = append(ev.Explanations, genExplanation{Summary: fmt.Sprintf(e.summary, auth.User.Name), Type: e.typ})
			if e.typ == "NEW_COUNTRY_CODE" && rng.IntN(2) == 0 {
				ev.PriorityEvent = true
				ev.PriorityReasons = append(ev.PriorityReasons, genPriorityReason{
					Label: countryCodes[auth.AccessDevice.Location.Country], Type: "country",
				})
			}
		}
		ev.FromCommonNetblock = ptr(rng.IntN(3) == 0)
		ev.FromNewUser = ptr(rng.IntN(10) == 0)
		ev.LowRiskIP = ptr(rng.IntN(10) == 0)
	case "bypass_status":
		adm, p := pick(rng, acct.admins), pick(rng, g.people)
		ev.BypassStatusEnabled = ptr(at.Add(-time.Duration(rng.Int64N(int64(24 * time.Hour)))).UnixMilli())
		ev.EnabledBy = &genKeyName{Key: adm.key, Name: realName(adm.person)}
		ev.EnabledFor = &genKeyName{Key: p.key, Name: p.name}
		ev.PriorityEvent = rng.IntN(2) == 0
	case "device_registration":
		ev.Explanations = []genExplanation{registrationExplanation}
		ev.FromNewUser = ptr(rng.IntN(5) == 0)
		ev.PriorityEvent = rng.IntN(10) == 0
	}
	return ev
}
