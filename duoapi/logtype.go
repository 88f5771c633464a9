// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"fmt"
	"strings"
)

// LogType names one of the Duo log streams the puller knows.
type LogType string

// The log types duostream pulls, by the names users write in config.
const (
	Authentication    LogType = "authentication"
	Administrator     LogType = "administrator"
	Telephony         LogType = "telephony"
	OfflineEnrollment LogType = "offline_enrollment"
)

// AllLogTypes lists every log type, in the order they take turns.
var AllLogTypes = []LogType{Authentication, Administrator, Telephony, OfflineEnrollment}

// Endpoint paths of the Duo Admin API log endpoints.
const (
	PathAuthenticationV2    = "/admin/v2/logs/authentication"
	PathAdministratorV1     = "/admin/v1/logs/administrator"
	PathTelephonyV1         = "/admin/v1/logs/telephony"
	PathTelephonyV2         = "/admin/v2/logs/telephony"
	PathOfflineEnrollmentV1 = "/admin/v1/logs/offline_enrollment"
)

// ParseLogType returns the log type named s, or an error listing the names
// that are accepted.
func ParseLogType(s string) (LogType, error) {
	for _, t := range AllLogTypes {
		if string(t) == s {
			return t, nil
		}
	}
	names := make([]string, len(AllLogTypes))
	for i, t := range AllLogTypes {
		names[i] = string(t)
	}
	return "", fmt.Errorf("unknown log type %q: use one of %s", s, strings.Join(names, ", "))
}

// SchemaName returns the Panther log type name of t's events, such as
// "Duo.Authentication".
func (t LogType) SchemaName() string {
	switch t {
	case Authentication:
		return "Duo.Authentication"
	case Administrator:
		return "Duo.Administrator"
	case Telephony:
		return "Duo.Telephony"
	case OfflineEnrollment:
		return "Duo.OfflineEnrollment"
	}
	return ""
}
