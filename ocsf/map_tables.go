// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package ocsf

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
)

// The mapping tables are data, beside the code: data/actions.json (Duo
// action → class and activity), data/factors.json (Duo factor →
// auth_factor type and is_mfa) and data/countries.tsv (country name → ISO
// 3166-1 alpha-2 code). They are parsed once, at package init; a broken
// table is a build error that the package's tests catch.
var (
	//go:embed data/actions.json
	actionsJSON []byte
	//go:embed data/factors.json
	factorsJSON []byte
	//go:embed data/countries.tsv
	countriesTSV []byte
)

// actionRule is one row of data/actions.json.
type actionRule struct {
	ClassUID   int    `json:"class_uid"`
	ActivityID int    `json:"activity_id"`
	Status     string `json:"status"`
	EntityType string `json:"entity_type"`
	// Account is "actor" when the account the action changes is the
	// actor's own.
	Account string `json:"account"`
}

// suffixRule is one entry of the suffixes list of data/actions.json: the
// Entity Management activity of actions ending in Suffix.
type suffixRule struct {
	Suffix     string `json:"suffix"`
	ActivityID int    `json:"activity_id"`
}

// factorRule is one row of data/factors.json.
type factorRule struct {
	FactorTypeID int  `json:"factor_type_id"`
	IsMFA        bool `json:"is_mfa"`
}

var (
	actionTable  map[string]actionRule
	suffixTable  []suffixRule
	factorTable  map[string]factorRule
	countryTable map[string]string // lowercased name → ISO code
	countryCodes map[string]bool
)

func init() {
	var err error
	if actionTable, suffixTable, err = parseActions(actionsJSON); err != nil {
		panic(err)
	}
	if factorTable, err = parseFactors(factorsJSON); err != nil {
		panic(err)
	}
	if countryTable, countryCodes, err = parseCountries(countriesTSV); err != nil {
		panic(err)
	}
}

func parseActions(data []byte) (map[string]actionRule, []suffixRule, error) {
	var t struct {
		Actions  map[string]actionRule `json:"actions"`
		Suffixes []suffixRule          `json:"suffixes"`
	}
	if err := json.Unmarshal(data, &t); err != nil {
		return nil, nil, fmt.Errorf("ocsf: data/actions.json: %w", err)
	}
	for name, r := range t.Actions {
		if _, ok := activityCaption(r.ClassUID, r.ActivityID); !ok {
			return nil, nil, fmt.Errorf("ocsf: data/actions.json: action %q: class %d has no activity %d", name, r.ClassUID, r.ActivityID)
		}
		if r.Account != "" && r.Account != "actor" {
			return nil, nil, fmt.Errorf("ocsf: data/actions.json: action %q: account %q, want \"actor\" or none", name, r.Account)
		}
		if r.Status != "" && statusIDs[r.Status] == 0 {
			return nil, nil, fmt.Errorf("ocsf: data/actions.json: action %q: unknown status %q", name, r.Status)
		}
	}
	for _, s := range t.Suffixes {
		if _, ok := activityCaption(ClassEntityManagement, s.ActivityID); !ok {
			return nil, nil, fmt.Errorf("ocsf: data/actions.json: suffix %q: Entity Management has no activity %d", s.Suffix, s.ActivityID)
		}
	}
	return t.Actions, t.Suffixes, nil
}

func parseFactors(data []byte) (map[string]factorRule, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("ocsf: data/factors.json: %w", err)
	}
	t := make(map[string]factorRule, len(raw))
	for name, v := range raw {
		if strings.HasPrefix(name, "_") {
			continue
		}
		var r factorRule
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("ocsf: data/factors.json: factor %q: %w", name, err)
		}
		if _, ok := factorTypeCaptions[r.FactorTypeID]; !ok {
			return nil, fmt.Errorf("ocsf: data/factors.json: factor %q: unknown factor_type_id %d", name, r.FactorTypeID)
		}
		t[name] = r
	}
	return t, nil
}

func parseCountries(data []byte) (map[string]string, map[string]bool, error) {
	names := map[string]string{}
	codes := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		code := cols[0]
		if len(code) != 2 || strings.ToUpper(code) != code || len(cols) < 2 {
			return nil, nil, fmt.Errorf("ocsf: data/countries.tsv line %d: want an upper-case alpha-2 code and at least one name", n)
		}
		codes[code] = true
		for _, name := range cols[1:] {
			key := strings.ToLower(name)
			if prev, dup := names[key]; dup && prev != code {
				return nil, nil, fmt.Errorf("ocsf: data/countries.tsv line %d: %q is already %s", n, name, prev)
			}
			names[key] = code
		}
	}
	return names, codes, sc.Err()
}

// CountryCode returns the ISO 3166-1 alpha-2 code of a country as Duo
// names it ("United States", "Russia", "South Korea"), matched without
// regard to case; a value that already is a code is returned as it is. It
// reports false for a name it does not know.
func CountryCode(name string) (string, bool) {
	name = strings.TrimSpace(name)
	if len(name) == 2 && countryCodes[strings.ToUpper(name)] {
		return strings.ToUpper(name), true
	}
	code, ok := countryTable[strings.ToLower(name)]
	return code, ok
}

// OCSF 1.3.0 classes the mapper emits.
const (
	ClassAccountChange    = 3001
	ClassAuthentication   = 3002
	ClassEntityManagement = 3004
	ClassDetectionFinding = 2004
)

// classInfo holds a class's caption, its category and its activities'
// captions, exactly as the OCSF 1.3.0 enums write them.
type classInfo struct {
	name       string
	category   int
	activities map[int]string
}

var classes = map[int]classInfo{
	ClassAccountChange: {"Account Change", 3, map[int]string{
		0: "Unknown", 1: "Create", 2: "Enable", 3: "Password Change", 4: "Password Reset", 5: "Disable",
		6: "Delete", 7: "Attach Policy", 8: "Detach Policy", 9: "Lock", 10: "MFA Factor Enable",
		11: "MFA Factor Disable", 99: "Other",
	}},
	ClassAuthentication: {"Authentication", 3, map[int]string{
		0: "Unknown", 1: "Logon", 2: "Logoff", 3: "Authentication Ticket", 4: "Service Ticket Request",
		5: "Service Ticket Renew", 6: "Preauth", 99: "Other",
	}},
	ClassEntityManagement: {"Entity Management", 3, map[int]string{
		0: "Unknown", 1: "Create", 2: "Read", 3: "Update", 4: "Delete", 5: "Move", 6: "Enroll",
		7: "Unenroll", 8: "Enable", 9: "Disable", 10: "Activate", 11: "Deactivate", 12: "Suspend",
		13: "Resume", 99: "Other",
	}},
	ClassDetectionFinding: {"Detection Finding", 2, map[int]string{
		0: "Unknown", 1: "Create", 2: "Update", 3: "Close", 99: "Other",
	}},
}

var categoryCaptions = map[int]string{2: "Findings", 3: "Identity & Access Management"}

func activityCaption(class, activity int) (string, bool) {
	c, ok := classes[class]
	if !ok {
		return "", false
	}
	s, ok := c.activities[activity]
	return s, ok
}

// Status, severity and the enumerations of the objects the mapper fills,
// with the OCSF 1.3.0 captions.
var (
	statusIDs      = map[string]int{"unknown": 0, "success": 1, "failure": 2}
	statusCaptions = map[int]string{0: "Unknown", 1: "Success", 2: "Failure", 99: "Other"}

	severityCaptions = map[int]string{
		0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical", 6: "Fatal", 99: "Other",
	}

	// findingStatusCaptions is Detection Finding's own status_id enum.
	findingStatusCaptions = map[int]string{0: "Unknown", 1: "New", 2: "In Progress", 3: "Suppressed", 4: "Resolved", 99: "Other"}

	factorTypeCaptions = map[int]string{
		0: "Unknown", 1: "SMS", 2: "Security Question", 3: "Phone Call", 4: "Biometric", 5: "Push Notification",
		6: "Hardware Token", 7: "OTP", 8: "Email", 9: "U2F", 10: "WebAuthn", 11: "Password", 99: "Other",
	}

	userTypeCaptions     = map[int]string{0: "Unknown", 1: "User", 2: "Admin", 3: "System", 99: "Other"}
	endpointTypeCaptions = map[int]string{5: "Mobile", 8: "Browser"}
	deviceTypeCaptions   = map[int]string{0: "Unknown", 5: "Mobile"}

	osTypeCaptions = map[int]string{
		0: "Unknown", 100: "Windows", 101: "Windows Mobile", 200: "Linux", 201: "Android", 300: "macOS",
		301: "iOS", 302: "iPadOS", 400: "Solaris", 401: "AIX", 402: "HP-UX", 99: "Other",
	}
	// osTypes maps Duo's operating system names, lowercased, to os.type_id.
	osTypes = map[string]int{
		"windows": 100, "windows phone": 101, "windows mobile": 101, "linux": 200, "ubuntu": 200,
		"android": 201, "mac os x": 300, "macos": 300, "os x": 300, "ios": 301, "iphone os": 301,
		"ipados": 302, "solaris": 400, "aix": 401, "hp-ux": 402,
	}
)

// Severities by Duo authentication result (lowercased); a result not listed
// is Informational when it succeeded, else Low.
var resultSeverity = map[string]int{"success": 1, "denied": 2, "failure": 2, "error": 2, "fraud": 4}

// Status by Duo authentication result (lowercased); a result not listed is
// 99 (Other), named by the result.
var resultStatus = map[string]int{"success": 1, "denied": 2, "failure": 2, "error": 2, "fraud": 2}

// Activities of an authentication by Duo event_type; a type not listed is
// 99 (Other), named by the type, and a missing one 0 (Unknown).
var authEventTypes = map[string]int{"authentication": 1}

// Trust Monitor: the finding's status by its triage state, its activity
// (a new finding is created, a triaged one updated).
var (
	trustMonitorStatus   = map[string]int{"new": 1, "processed": 4, "resolved": 4, "in_progress": 2, "suppressed": 3}
	trustMonitorActivity = map[string]int{"new": 1}
)
