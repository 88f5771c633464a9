// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
)

var (
	reISOMicros  = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$`)
	reISOSeconds = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$`)
	reUUID       = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	reUserKey    = regexp.MustCompile(`^DU[0-9A-Z]{18}$`)
	reAppKey     = regexp.MustCompile(`^DI[0-9A-Z]{18}$`)
	rePhone      = regexp.MustCompile(`^\+1\d{10}$`)
)

// generateAll fills a simulator with every type of event.
func generateAll(t *testing.T, seed uint64) *Sim {
	t.Helper()
	s, err := New(Config{Seed: seed})
	require.NoError(t, err)
	from, to := epoch.Add(-6*time.Hour), epoch.Add(-time.Hour)
	for _, typ := range duoapi.AllLogTypes {
		require.NoError(t, s.Generate(typ, 300, from, to))
	}
	return s
}

func TestGenerateDeterministic(t *testing.T) {
	a, b, c := generateAll(t, 42), generateAll(t, 42), generateAll(t, 43)
	for _, typ := range duoapi.AllLogTypes {
		ea := a.Events(typ, epoch.Add(-7*time.Hour), epoch)
		require.Len(t, ea, 300)
		assert.Equal(t, ea, b.Events(typ, epoch.Add(-7*time.Hour), epoch), "%s: same seed, same events", typ)
		assert.NotEqual(t, bodies(ea), bodies(c.Events(typ, epoch.Add(-7*time.Hour), epoch)), "%s: another seed, other events", typ)
	}
}

func keys(m map[string]json.RawMessage) []string {
	return slices.Sorted(maps.Keys(m))
}

func TestGenerateShapes(t *testing.T) {
	s := generateAll(t, 1)
	from, to := epoch.Add(-6*time.Hour), epoch.Add(-time.Hour)
	seen := map[string]bool{} // values that must all show up somewhere

	for _, e := range s.Events(duoapi.Authentication, from, to.Add(time.Microsecond)) {
		var ev struct {
			AccessDevice map[string]json.RawMessage `json:"access_device"`
			Application  struct{ Key, Name string } `json:"application"`
			AuthDevice   map[string]json.RawMessage `json:"auth_device"`
			Email        string                     `json:"email"`
			EventType    string                     `json:"event_type"`
			Factor       string                     `json:"factor"`
			ISOTimestamp string                     `json:"isotimestamp"`
			Reason       string                     `json:"reason"`
			Result       string                     `json:"result"`
			Timestamp    int64                      `json:"timestamp"`
			TxID         string                     `json:"txid"`
			User         struct {
				Groups []string `json:"groups"`
				Key    string   `json:"key"`
				Name   string   `json:"name"`
			} `json:"user"`
		}
		require.NoError(t, json.Unmarshal(e.Body, &ev))
		var all map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(e.Body, &all))
		assert.Equal(t, []string{"access_device", "alias", "application", "auth_device", "email", "event_type", "factor",
			"isotimestamp", "ood_software", "reason", "result", "timestamp", "trusted_endpoint_status", "txid", "user"}, keys(all))
		assert.Subset(t, keys(ev.AccessDevice), []string{"browser", "browser_version", "flash_version", "hostname", "ip",
			"is_encryption_enabled", "is_firewall_enabled", "is_password_set", "java_version", "location", "os", "os_version"})
		assert.Equal(t, []string{"ip", "location", "name"}, keys(ev.AuthDevice))
		assert.Regexp(t, reISOMicros, ev.ISOTimestamp)
		at, err := time.Parse(time.RFC3339Nano, ev.ISOTimestamp)
		require.NoError(t, err)
		assert.Equal(t, at.Unix(), ev.Timestamp, "timestamp is isotimestamp in seconds")
		assert.Equal(t, at.UnixMilli(), e.Time.UnixMilli(), "the event time is isotimestamp to the millisecond")
		assert.Regexp(t, reUUID, ev.TxID)
		assert.Equal(t, ev.TxID, e.ID)
		assert.Regexp(t, reUserKey, ev.User.Key)
		assert.Regexp(t, reAppKey, ev.Application.Key)
		assert.NotNil(t, ev.User.Groups, "groups is an array, never null")
		assert.Equal(t, ev.User.Name+"@example.com", ev.Email)
		assert.Contains(t, []string{"success", "denied", "fraud"}, ev.Result)
		assert.Contains(t, []string{"authentication", "enrollment"}, ev.EventType)
		assert.NotEmpty(t, ev.Reason)
		assert.NotEmpty(t, ev.Factor)
		assert.Nil(t, e.V1Body)
		seen["result "+ev.Result] = true
		seen["event_type "+ev.EventType] = true
		seen["is_encryption_enabled "+string(ev.AccessDevice["is_encryption_enabled"])] = true
	}

	for _, typ := range []duoapi.LogType{duoapi.Administrator, duoapi.OfflineEnrollment} {
		for _, e := range s.Events(typ, from, to.Add(time.Second)) {
			var ev struct {
				Action       string          `json:"action"`
				Description  string          `json:"description"`
				ISOTimestamp string          `json:"isotimestamp"`
				Object       json.RawMessage `json:"object"`
				Timestamp    int64           `json:"timestamp"`
				Username     string          `json:"username"`
			}
			require.NoError(t, json.Unmarshal(e.Body, &ev))
			var all map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(e.Body, &all))
			assert.Equal(t, []string{"action", "description", "isotimestamp", "object", "timestamp", "username"}, keys(all))
			assert.Regexp(t, reISOSeconds, ev.ISOTimestamp)
			at, err := time.Parse(time.RFC3339, ev.ISOTimestamp)
			require.NoError(t, err)
			assert.Equal(t, at.Unix(), ev.Timestamp)
			assert.True(t, at.Equal(e.Time), "event time %s, isotimestamp %s", e.Time, at)
			assert.Empty(t, e.ID)
			var desc map[string]any
			descErr := json.Unmarshal([]byte(ev.Description), &desc)
			if typ == duoapi.OfflineEnrollment {
				require.NoError(t, descErr, "description %q", ev.Description)
				assert.Contains(t, []string{"o2fa_user_provisioned", "o2fa_user_deprovisioned", "o2fa_user_reenrolled"}, ev.Action)
				assert.Equal(t, []string{"factor", "hostname", "user_agent"}, slices.Sorted(maps.Keys(desc)))
				assert.Regexp(t, `^"`, string(ev.Object))
				assert.NotEmpty(t, ev.Username)
			} else if ev.Action == "activation_begin" {
				assert.Error(t, descErr, "some descriptions are plain text")
			} else {
				require.NoError(t, descErr, "description %q", ev.Description)
				assert.Regexp(t, `^\{"[a-z_]+": `, ev.Description, "written the way Python's json.dumps writes it")
			}
			seen[string(typ)+" "+ev.Action] = true
		}
	}

	for _, e := range s.Events(duoapi.Telephony, from, to.Add(time.Microsecond)) {
		type common struct {
			Context string `json:"context"`
			Credits int    `json:"credits"`
			Phone   string `json:"phone"`
			Type    string `json:"type"`
		}
		var v2 struct {
			common
			TelephonyID string `json:"telephony_id"`
			TS          string `json:"ts"`
			TxID        string `json:"txid"`
		}
		var v1 struct {
			common
			ISOTimestamp string `json:"isotimestamp"`
			Timestamp    int64  `json:"timestamp"`
		}
		require.NoError(t, json.Unmarshal(e.Body, &v2))
		require.NoError(t, json.Unmarshal(e.V1Body, &v1))
		var all2, all1 map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(e.Body, &all2))
		require.NoError(t, json.Unmarshal(e.V1Body, &all1))
		assert.Equal(t, []string{"context", "credits", "phone", "telephony_id", "ts", "txid", "type"}, keys(all2))
		assert.Equal(t, []string{"context", "credits", "isotimestamp", "phone", "timestamp", "type"}, keys(all1))
		assert.Equal(t, v2.common, v1.common, "both forms describe the same event")
		assert.Regexp(t, reISOMicros, v2.TS)
		assert.Regexp(t, reISOSeconds, v1.ISOTimestamp)
		ts, err := time.Parse(time.RFC3339Nano, v2.TS)
		require.NoError(t, err)
		assert.Equal(t, ts.Unix(), v1.Timestamp)
		assert.Equal(t, ts.UnixMilli(), e.Time.UnixMilli())
		assert.Regexp(t, reUUID, v2.TelephonyID)
		assert.Regexp(t, reUUID, v2.TxID)
		assert.Equal(t, v2.TelephonyID, e.ID)
		assert.Regexp(t, rePhone, v2.Phone)
		assert.Contains(t, []string{"sms", "phone"}, v2.Type)
		assert.Positive(t, v2.Credits)
		seen["telephony "+v2.Type] = true
	}

	checkActivityShapes(t, s.Events(duoapi.Activity, from, to.Add(time.Microsecond)), seen)
	checkTrustMonitorShapes(t, s.Events(duoapi.TrustMonitor, from, to.Add(time.Microsecond)), seen)

	for _, want := range []string{
		"result success", "result denied", "result fraud", "event_type authentication", "event_type enrollment",
		`is_encryption_enabled "unknown"`, "is_encryption_enabled true",
		"administrator admin_login", "administrator user_update",
		"offline_enrollment o2fa_user_provisioned", "offline_enrollment o2fa_user_deprovisioned", "offline_enrollment o2fa_user_reenrolled",
		"telephony sms", "telephony phone",
		"activity admin_login", "activity user_create", "activity user_update", "activity user_delete", "activity phone_create",
		"activity policy_update", "activity webauthncredential_create", "activity group_update", "activity integration_update",
		"activity outcome FAILURE", "activity actor admin", "activity actor user", "activity actor adminapi", "activity actor azure_sync",
		"trust_monitor auth", "trust_monitor bypass_status", "trust_monitor device_registration",
		"trust_monitor priority_reasons", "trust_monitor priority_event",
	} {
		assert.True(t, seen[want], "no generated event has %s", want)
	}
}

var (
	reAccountKey = regexp.MustCompile(`^DA[0-9A-Z]{18}$`)
	reAdminKey   = regexp.MustCompile(`^DE[0-9A-Z]{18}$`)
	reSEKey      = regexp.MustCompile(`^SE[0-9A-Z]{18}$`)
)

// activityEntity is an actor, target or old_target of an activity event.
type activityEntity struct {
	Details *string `json:"details"`
	Key     string  `json:"key"`
	Name    string  `json:"name"`
	Type    string  `json:"type"`
}

// checkActivityShapes checks generated activity events look like Duo's,
// noting what they hold in seen.
func checkActivityShapes(t *testing.T, events []Event, seen map[string]bool) {
	t.Helper()
	require.NotEmpty(t, events)
	akeys := map[string]bool{}
	for _, e := range events {
		var ev struct {
			AccessDevice *struct {
				Browser string                     `json:"browser"`
				EPKey   string                     `json:"epkey"`
				IP      map[string]json.RawMessage `json:"ip"`
				OS      string                     `json:"os"`
			} `json:"access_device"`
			Action struct {
				Details *string `json:"details"`
				Name    string  `json:"name"`
			} `json:"action"`
			ActivityID  string                            `json:"activity_id"`
			Actor       activityEntity                    `json:"actor"`
			AKey        string                            `json:"akey"`
			Application *struct{ Key, Name, Type string } `json:"application"`
			OldTarget   *activityEntity                   `json:"old_target"`
			Outcome     struct{ Result string }           `json:"outcome"`
			Target      *activityEntity                   `json:"target"`
			TS          string                            `json:"ts"`
		}
		require.NoError(t, json.Unmarshal(e.Body, &ev), "body %s", e.Body)
		var all map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(e.Body, &all))
		assert.Equal(t, []string{"access_device", "action", "activity_id", "actor", "akey", "application", "old_target",
			"outcome", "target", "ts"}, keys(all))
		assert.Regexp(t, reISOMicros, ev.TS)
		at, err := time.Parse(time.RFC3339Nano, ev.TS)
		require.NoError(t, err)
		assert.Equal(t, at.UnixMilli(), e.Time.UnixMilli(), "the event time is ts to the millisecond")
		assert.Regexp(t, reUUID, ev.ActivityID)
		assert.Equal(t, ev.ActivityID, e.ID)
		assert.Regexp(t, reAccountKey, ev.AKey)
		akeys[ev.AKey] = true
		assert.Nil(t, ev.Action.Details)
		assert.Contains(t, []string{"SUCCESS", "FAILURE"}, ev.Outcome.Result)

		assert.Contains(t, []string{"admin", "user", "adminapi", "azure_sync"}, ev.Actor.Type)
		assert.NotEmpty(t, ev.Actor.Key)
		assert.NotEmpty(t, ev.Actor.Name)
		for _, ent := range []*activityEntity{&ev.Actor, ev.Target, ev.OldTarget} {
			if ent == nil || ent.Details == nil {
				continue
			}
			var details map[string]any
			assert.NoError(t, json.Unmarshal([]byte(*ent.Details), &details), "details %q are a JSON object in a string", *ent.Details)
		}
		switch ev.Actor.Type {
		case "admin":
			assert.Regexp(t, reAdminKey, ev.Actor.Key)
			require.NotNil(t, ev.AccessDevice)
		case "user":
			assert.Regexp(t, reUserKey, ev.Actor.Key)
			require.NotNil(t, ev.AccessDevice)
			require.NotNil(t, ev.Application, "a user acts through an application")
			assert.Regexp(t, reAppKey, ev.Application.Key)
			assert.NotEmpty(t, ev.Application.Name)
			assert.NotEmpty(t, ev.Application.Type)
		default:
			assert.Nil(t, ev.Actor.Details)
		}
		if ev.AccessDevice != nil {
			assert.Equal(t, []string{"address"}, keys(ev.AccessDevice.IP), "access_device.ip is an object")
			assert.NotEmpty(t, ev.AccessDevice.Browser)
			assert.Regexp(t, `^EP[0-9A-Z]{18}$`, ev.AccessDevice.EPKey)
		}
		switch ev.Action.Name {
		case "admin_login":
			assert.Nil(t, ev.Target)
		case "user_update", "policy_update", "group_update", "integration_update":
			require.NotNil(t, ev.OldTarget, "%s has an old_target", ev.Action.Name)
			require.NotNil(t, ev.Target)
			assert.Equal(t, ev.OldTarget.Key, ev.Target.Key, "old_target is the same object before the change")
		default:
			require.NotNil(t, ev.Target, "%s has a target", ev.Action.Name)
			assert.Nil(t, ev.OldTarget)
		}
		seen["activity "+ev.Action.Name] = true
		seen["activity outcome "+ev.Outcome.Result] = true
		seen["activity actor "+ev.Actor.Type] = true
	}
	assert.Len(t, akeys, 1, "one account")
}

// checkTrustMonitorShapes checks generated Trust Monitor events look like
// Duo's, noting what they hold in seen.
func checkTrustMonitorShapes(t *testing.T, events []Event, seen map[string]bool) {
	t.Helper()
	require.NotEmpty(t, events)
	common := []string{"priority_event", "priority_reasons", "sekey", "state", "state_updated_timestamp",
		"surfaced_timestamp", "triage_event_uri", "triaged_as_interesting", "type"}
	typeKeys := map[string][]string{
		"auth":                {"explanations", "from_common_netblock", "from_new_user", "low_risk_ip", "surfaced_auth"},
		"bypass_status":       {"bypass_status_enabled", "enabled_by", "enabled_for"},
		"device_registration": {"explanations", "from_new_user"},
	}
	for _, e := range events {
		var ev struct {
			BypassStatusEnabled int64                            `json:"bypass_status_enabled"`
			EnabledBy           struct{ Key, Name string }       `json:"enabled_by"`
			EnabledFor          struct{ Key, Name string }       `json:"enabled_for"`
			Explanations        []struct{ Summary, Type string } `json:"explanations"`
			PriorityEvent       bool                             `json:"priority_event"`
			PriorityReasons     []struct{ Label, Type string }   `json:"priority_reasons"`
			SEKey               string                           `json:"sekey"`
			State               string                           `json:"state"`
			SurfacedAuth        map[string]json.RawMessage       `json:"surfaced_auth"`
			SurfacedTimestamp   int64                            `json:"surfaced_timestamp"`
			TriageEventURI      string                           `json:"triage_event_uri"`
			Type                string                           `json:"type"`
		}
		require.NoError(t, json.Unmarshal(e.Body, &ev), "body %s", e.Body)
		var all map[string]json.RawMessage
		require.NoError(t, json.Unmarshal(e.Body, &all))
		require.Contains(t, typeKeys, ev.Type)
		assert.Equal(t, slices.Sorted(slices.Values(slices.Concat(common, typeKeys[ev.Type]))), keys(all), "keys of a %s event", ev.Type)
		assert.Regexp(t, reSEKey, ev.SEKey)
		assert.Equal(t, ev.SEKey, e.ID)
		assert.Equal(t, ev.SurfacedTimestamp, e.Time.UnixMilli(), "the event time is surfaced_timestamp")
		assert.Equal(t, "new", ev.State)
		assert.Equal(t, "null", string(all["state_updated_timestamp"]))
		assert.Equal(t, "false", string(all["triaged_as_interesting"]))
		assert.Equal(t, "https://admin-duosim00.duosecurity.com/trust-monitor?sekey="+ev.SEKey, ev.TriageEventURI)
		assert.NotNil(t, ev.PriorityReasons, "priority_reasons is an array, never null")
		switch ev.Type {
		case "auth":
			require.NotEmpty(t, ev.Explanations)
			for _, x := range ev.Explanations {
				assert.Regexp(t, `^(NEW_COUNTRY_CODE|NEW_NETBLOCK|UNUSUAL_NETBLOCK|NEW_IKEY)$`, x.Type)
			}
			assert.Equal(t, []string{"access_device", "alias", "application", "auth_device", "email", "event_type", "factor",
				"isotimestamp", "ood_software", "reason", "result", "timestamp", "trusted_endpoint_status", "txid", "user"},
				keys(ev.SurfacedAuth), "surfaced_auth is an authentication log record")
			var auth struct {
				AccessDevice struct{ IP string } `json:"access_device"`
				ISOTimestamp string              `json:"isotimestamp"`
				Timestamp    int64               `json:"timestamp"`
				TxID         string              `json:"txid"`
			}
			raw, err := json.Marshal(ev.SurfacedAuth)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(raw, &auth), "access_device.ip is a string in surfaced_auth")
			assert.NotEmpty(t, auth.AccessDevice.IP)
			assert.Regexp(t, reUUID, auth.TxID)
			assert.Regexp(t, reISOMicros, auth.ISOTimestamp)
			at, err := time.Parse(time.RFC3339Nano, auth.ISOTimestamp)
			require.NoError(t, err)
			assert.Equal(t, at.Unix(), auth.Timestamp, "timestamp is in seconds")
			assert.LessOrEqual(t, at.UnixMilli(), ev.SurfacedTimestamp, "an authentication surfaces after it happened")
			for _, r := range ev.PriorityReasons {
				assert.Equal(t, "country", r.Type)
				assert.Regexp(t, `^[A-Z]{2}$`, r.Label)
				seen["trust_monitor priority_reasons"] = true
			}
		case "bypass_status":
			assert.Regexp(t, reAdminKey, ev.EnabledBy.Key)
			assert.NotEmpty(t, ev.EnabledBy.Name)
			assert.Regexp(t, reUserKey, ev.EnabledFor.Key)
			assert.NotEmpty(t, ev.EnabledFor.Name)
			assert.LessOrEqual(t, ev.BypassStatusEnabled, ev.SurfacedTimestamp)
			assert.Greater(t, ev.BypassStatusEnabled, ev.SurfacedTimestamp-int64(25*time.Hour/time.Millisecond))
		case "device_registration":
			require.Len(t, ev.Explanations, 1)
			assert.Equal(t, "REGISTER_OS_OUTDATED", ev.Explanations[0].Type)
		}
		seen["trust_monitor "+ev.Type] = true
		if ev.PriorityEvent {
			seen["trust_monitor priority_event"] = true
		}
	}
}

func TestGenerateActivityStringActions(t *testing.T) {
	tests := []struct {
		share     float64
		wantShare float64 // of 2000 events, within 0.05
	}{{0, 0}, {0.3, 0.3}, {1, 1}}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.share), func(t *testing.T) {
			s, err := New(Config{Seed: 6, ActivityStringActions: tt.share})
			require.NoError(t, err)
			require.NoError(t, s.Generate(duoapi.Activity, 2000, epoch.Add(-time.Hour), epoch))
			strings := 0
			for _, e := range s.Events(duoapi.Activity, epoch.Add(-time.Hour), epoch.Add(time.Millisecond)) {
				var ev struct{ Action json.RawMessage }
				require.NoError(t, json.Unmarshal(e.Body, &ev))
				switch ev.Action[0] {
				case '"':
					strings++
				case '{':
					var action map[string]json.RawMessage
					require.NoError(t, json.Unmarshal(ev.Action, &action))
					assert.Equal(t, []string{"details", "name"}, keys(action))
				default:
					t.Fatalf("action %s is neither a string nor an object", ev.Action)
				}
			}
			assert.InDelta(t, tt.wantShare, float64(strings)/2000, 0.05)
		})
	}
}

func TestGenerateCrowded(t *testing.T) {
	tests := []struct {
		name     string
		typ      duoapi.LogType
		n        int
		from, to time.Time
		unit     time.Duration // every event falls in the unit starting at from
	}{
		{"authentication in one millisecond", duoapi.Authentication, 3000, epoch.Add(-time.Hour), epoch.Add(-time.Hour), time.Millisecond},
		{"telephony in one millisecond", duoapi.Telephony, 1500, epoch.Add(-time.Hour), epoch.Add(-time.Hour), time.Millisecond},
		{"administrator in one second", duoapi.Administrator, 2500, epoch.Add(-time.Hour), epoch.Add(-time.Hour + 999*time.Millisecond), time.Second},
		{"offline enrollment in one second", duoapi.OfflineEnrollment, 1200, epoch.Add(-time.Hour), epoch.Add(-time.Hour), time.Second},
		{"activity in one millisecond", duoapi.Activity, 750, epoch.Add(-time.Hour), epoch.Add(-time.Hour), time.Millisecond},
		{"trust monitor surfaced in one millisecond", duoapi.TrustMonitor, 225, epoch.Add(-time.Hour), epoch.Add(-time.Hour), time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(Config{})
			require.NoError(t, err)
			require.NoError(t, s.Generate(tt.typ, tt.n, tt.from, tt.to))
			assert.Equal(t, tt.n, s.CountEvents(tt.typ, tt.from, tt.from.Add(tt.unit)))
			assert.Equal(t, tt.n, s.CountEvents(tt.typ, epoch.Add(-2*time.Hour), epoch))
			ids := map[string]bool{}
			for _, e := range s.Events(tt.typ, tt.from, tt.from.Add(tt.unit)) {
				assert.Equal(t, tt.from, e.Time)
				if e.ID != "" {
					assert.False(t, ids[e.ID], "ID %s twice", e.ID)
					ids[e.ID] = true
				}
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	s, err := New(Config{})
	require.NoError(t, err)
	tests := []struct {
		name     string
		typ      duoapi.LogType
		n        int
		from, to time.Time
		wantErr  string
	}{
		{"unknown type", "endpoint", 1, epoch, epoch, `generate: unknown log type "endpoint": use one of authentication, administrator, telephony, offline_enrollment, activity, trust_monitor`},
		{"negative count", duoapi.Authentication, -1, epoch, epoch, "generate authentication: count -1 is negative"},
		{"backwards", duoapi.Administrator, 1, epoch, epoch.Add(-time.Second), "generate administrator: to 2026-06-01T11:59:59Z is before from 2026-06-01T12:00:00Z"},
		{"before 2001", duoapi.Telephony, 1, time.Unix(0, 0), epoch, "generate telephony: times must be 13-digit millisecond timestamps (2001 to 2286)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.EqualError(t, s.Generate(tt.typ, tt.n, tt.from, tt.to), tt.wantErr)
		})
	}
	require.NoError(t, s.Generate(duoapi.Authentication, 0, epoch, epoch))
	assert.Zero(t, s.CountEvents(duoapi.Authentication, epoch.Add(-time.Hour), epoch.Add(time.Hour)))
}

// BenchmarkDataset generates the data set the puller tests use and reports
// the heap it takes.
func BenchmarkDataset(b *testing.B) {
	from, to := epoch.Add(-24*time.Hour), epoch.Add(-time.Hour)
	for b.Loop() {
		s, err := New(Config{Seed: uint64(b.N)})
		require.NoError(b, err)
		for _, g := range []struct {
			typ duoapi.LogType
			n   int
		}{{duoapi.Authentication, 50000}, {duoapi.Administrator, 5000}, {duoapi.Telephony, 1000}, {duoapi.OfflineEnrollment, 100}} {
			require.NoError(b, s.Generate(g.typ, g.n, from, to))
		}
		b.ReportMetric(float64(storedBytes(s))/(1<<20), "stored-MiB")
	}
}

// storedBytes returns the bytes of encoded events a simulator holds.
func storedBytes(s *Sim) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, st := range s.streams {
		for _, r := range st.recs {
			n += len(r.body) + len(r.v1) + len(r.id)
		}
	}
	return n
}
