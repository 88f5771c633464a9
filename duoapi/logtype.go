// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"errors"
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
	Activity          LogType = "activity"
	TrustMonitor      LogType = "trust_monitor"
)

// AllLogTypes lists every log type, in the order they take turns.
var AllLogTypes = []LogType{Authentication, Administrator, Telephony, OfflineEnrollment, Activity, TrustMonitor}

// PantherLogTypes are the log types Panther's Duo source reads, the default
// of an input that names none.
var PantherLogTypes = []LogType{Authentication, Administrator, Telephony, OfflineEnrollment}

// Endpoint paths of the Duo Admin API log endpoints.
const (
	PathAuthenticationV2    = "/admin/v2/logs/authentication"
	PathAdministratorV1     = "/admin/v1/logs/administrator"
	PathTelephonyV1         = "/admin/v1/logs/telephony"
	PathTelephonyV2         = "/admin/v2/logs/telephony"
	PathOfflineEnrollmentV1 = "/admin/v1/logs/offline_enrollment"
	PathActivityV2          = "/admin/v2/logs/activity"
	PathTrustMonitorV1      = "/admin/v1/trust_monitor/events"
)

// paging is how an endpoint pages through its records.
type paging int

const (
	// pagingV1 moves a whole-second mintime forward; the response is a bare
	// array.
	pagingV1 paging = iota
	// pagingV2 follows a "ms,id" next_offset inside a fixed millisecond
	// window.
	pagingV2
	// pagingTrustMonitor follows an opaque next_offset, sent back as
	// offset, inside a fixed millisecond window on surfaced_timestamp.
	pagingTrustMonitor
)

// logTypeInfo is what the client knows of one log type.
type logTypeInfo struct {
	// schema is the Panther log type name of its events.
	schema string
	// path is the endpoint it is pulled from.
	path string
	// paging says how the endpoint pages.
	paging paging
	// itemsKey is where the records are under "response" (not for v1).
	itemsKey string
	// limit is the most events a page holds: the page size asked for (v2
	// and Trust Monitor), or the 1000 earliest a v1 endpoint returns.
	limit int
	// unavailable says what to do when the account lacks the endpoint
	// (403 or 404); empty for endpoints every account has.
	unavailable string
}

// TrustMonitorPageLimit is the most events Duo's Trust Monitor endpoint
// returns per request.
const TrustMonitorPageLimit = 200

// logTypes holds every log type's endpoint facts.
var logTypes = map[LogType]logTypeInfo{
	Authentication:    {schema: "Duo.Authentication", path: PathAuthenticationV2, paging: pagingV2, itemsKey: "authlogs", limit: PageLimit},
	Administrator:     {schema: "Duo.Administrator", path: PathAdministratorV1, paging: pagingV1, limit: PageLimit},
	Telephony:         {schema: "Duo.Telephony", path: PathTelephonyV2, paging: pagingV2, itemsKey: "items", limit: PageLimit},
	OfflineEnrollment: {schema: "Duo.OfflineEnrollment", path: PathOfflineEnrollmentV1, paging: pagingV1, limit: PageLimit},
	Activity: {
		schema: "Duo.Activity", path: PathActivityV2, paging: pagingV2, itemsKey: "items", limit: PageLimit,
		unavailable: `drop "activity" from log_types, or use a Duo edition whose Admin API serves the activity log (documented for Duo Advantage and Premier, formerly Access and Beyond), and check that the Admin API application has "Grant read log"`,
	},
	TrustMonitor: {
		schema: "Duo.TrustMonitor", path: PathTrustMonitorV1, paging: pagingTrustMonitor, itemsKey: "events", limit: TrustMonitorPageLimit,
		unavailable: `drop "trust_monitor" from log_types, or use a Duo edition that has Trust Monitor (Duo Advantage or Premier), and check that the Admin API application has "Grant read log"`,
	},
}

// telephonyV1 is the legacy telephony endpoint, pulled instead of v2 when
// PullerConfig.TelephonyV1 is set.
var telephonyV1 = logTypeInfo{schema: "Duo.Telephony", path: PathTelephonyV1, paging: pagingV1, limit: PageLimit}

// infoOf returns the endpoint facts of t as it is pulled: telephony from
// the legacy v1 endpoint when legacyTelephony is set.
func infoOf(t LogType, legacyTelephony bool) logTypeInfo {
	if t == Telephony && legacyTelephony {
		return telephonyV1
	}
	return logTypes[t]
}

// unavailableError returns err, met by a request of t at info's endpoint,
// as an *UnavailableError when it is the 403 or 404 of an account that
// lacks the endpoint, and nil otherwise.
func unavailableError(t LogType, info logTypeInfo, err error) error {
	var apiErr *APIError
	if info.unavailable != "" && errors.As(err, &apiErr) && (apiErr.HTTPStatus == 403 || apiErr.HTTPStatus == 404) {
		return &UnavailableError{LogType: t, Err: apiErr}
	}
	return nil
}

// ParseLogType returns the log type named s, or an error listing the names
// that are accepted.
func ParseLogType(s string) (LogType, error) {
	if _, ok := logTypes[LogType(s)]; ok {
		return LogType(s), nil
	}
	names := make([]string, len(AllLogTypes))
	for i, t := range AllLogTypes {
		names[i] = string(t)
	}
	return "", fmt.Errorf("unknown log type %q: use one of %s", s, strings.Join(names, ", "))
}

// SchemaName returns the log type name of t's events, such as
// "Duo.Authentication", or "" for an unknown type.
func (t LogType) SchemaName() string {
	return logTypes[t].schema
}

// Endpoint returns the path t is pulled from (for telephony, the v2 one,
// unless PullerConfig.TelephonyV1 is set), or "" for an unknown type.
func (t LogType) Endpoint() string {
	return logTypes[t].path
}

// Endpoints returns the paths the puller configured by cfg requests: those
// of its log types, and the account list when accounts is true.
func (cfg PullerConfig) Endpoints(accounts bool) []string {
	var paths []string
	if accounts {
		paths = append(paths, PathAccountList)
	}
	for _, t := range cfg.LogTypes {
		paths = append(paths, infoOf(t, cfg.TelephonyV1).path)
	}
	return paths
}

// PageLimit returns the most events a page of t's endpoint holds.
func (t LogType) PageLimit() int {
	return logTypes[t].limit
}

// ItemsKey returns where t's events are under "response" in a page of its
// endpoint, or "" for the v1 endpoints, whose response is the array itself.
func (t LogType) ItemsKey() string {
	return logTypes[t].itemsKey
}

// UnavailableHint says what to do when Duo answers a request for t's
// endpoint with 403 or 404 because the account's edition or the
// application's permissions lack it; empty for endpoints every account has.
func (t LogType) UnavailableHint() string {
	return logTypes[t].unavailable
}
