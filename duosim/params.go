// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/duostream/duostream/duoapi"
)

// Limits of the limit parameter: of the v2 endpoints, and of Trust Monitor,
// which refuses a larger limit rather than capping it.
const (
	defaultV2Limit           = 100
	maxV2Limit               = duoapi.PageLimit
	defaultTrustMonitorLimit = 50
	maxTrustMonitorLimit     = duoapi.TrustMonitorPageLimit
)

// cursor is a position in a v2 log: the millisecond and ID of an event.
type cursor struct {
	ms int64
	id string
}

// v2Query is a validated request to a v2 log endpoint.
type v2Query struct {
	minMs, maxMs int64
	limit        int
	desc         bool
	offset       *cursor
}

// parseV2Query validates the parameters of a v2 log request at server time
// nowMs, the way Duo does: mintime and maxtime as parseWindow reads them;
// limit is 1 to 1000 (default 100); sort is ts:asc or ts:desc (default
// ts:desc); next_offset is "ms,id" or the key given twice.
func parseV2Query(q url.Values, nowMs int64, retention time.Duration) (v2Query, *apiError) {
	var v v2Query
	var err *apiError
	if v.minMs, v.maxMs, err = parseWindow(q, nowMs, retention); err != nil {
		return v, err
	}
	if v.limit, err = parseLimit(q, defaultV2Limit, maxV2Limit); err != nil {
		return v, err
	}

	v.desc = true
	sortS, has, err := single(q, "sort")
	if err != nil {
		return v, err
	}
	switch {
	case !has, sortS == "ts:desc":
	case sortS == "ts:asc":
		v.desc = false
	default:
		return v, errInvalid("'sort' must be one of ts:asc, ts:desc")
	}

	if vals, has := q["next_offset"]; has {
		c, ok := parseNextOffset(vals)
		if !ok {
			return v, errInvalid("'next_offset' must be a timestamp in milliseconds and an ID, separated by a comma")
		}
		v.offset = &c
	}
	return v, nil
}

// parseWindow reads the mintime and maxtime of a v2 or Trust Monitor
// request at server time nowMs: both are required 13-digit millisecond
// timestamps, mintime < maxtime, and mintime no older than retention.
func parseWindow(q url.Values, nowMs int64, retention time.Duration) (minMs, maxMs int64, err *apiError) {
	minS, err := required(q, "mintime")
	if err != nil {
		return 0, 0, err
	}
	maxS, err := required(q, "maxtime")
	if err != nil {
		return 0, 0, err
	}
	var ok bool
	if minMs, ok = parseMillis(minS); !ok {
		return 0, 0, errInvalid("'mintime' must be a timestamp in milliseconds")
	}
	if maxMs, ok = parseMillis(maxS); !ok {
		return 0, 0, errInvalid("'maxtime' must be a timestamp in milliseconds")
	}
	if maxMs <= minMs {
		return 0, 0, errInvalid("'maxtime' must be strictly greater than 'mintime'")
	}
	if minMs < nowMs-retention.Milliseconds() {
		return 0, 0, errInvalid("mintime must be within the past " + describeRetention(retention))
	}
	return minMs, maxMs, nil
}

// parseLimit reads the optional limit parameter: an integer from 1 to most,
// def when absent.
func parseLimit(q url.Values, def, most int) (int, *apiError) {
	s, has, err := single(q, "limit")
	if err != nil || !has {
		return def, err
	}
	n, perr := strconv.Atoi(s)
	if perr != nil || n < 1 || n > most {
		return 0, errInvalid(fmt.Sprintf("'limit' must be an integer between 1 and %d", most))
	}
	return n, nil
}

// trustMonitorFilters maps each value of the Trust Monitor type parameter to
// the type of the events it selects: the types the events carry, and
// bypass_status_enabled, the name Duo's documentation gives the bypass
// filter (as the DuoSecurity PowerShell module copies it).
var trustMonitorFilters = map[string]string{
	"auth":                  "auth",
	"bypass_status":         "bypass_status",
	"bypass_status_enabled": "bypass_status",
	"device_registration":   "device_registration",
}

// trustMonitorQuery is a validated request to the Trust Monitor endpoint.
type trustMonitorQuery struct {
	minMs, maxMs int64
	limit        int
	// types are the event types asked for, sorted and without repeats;
	// nil asks for every type.
	types []string
	// offset is the offset parameter as sent, "" when absent.
	offset string
}

// parseTrustMonitorQuery validates the parameters of a Trust Monitor request
// at server time nowMs: mintime and maxtime as parseWindow reads them, on
// surfaced_timestamp; limit is 1 to 200 (default 50); type, which may be
// repeated, names event types; offset is kept as sent, for the caller to
// check that it was issued. There is no sort.
func parseTrustMonitorQuery(q url.Values, nowMs int64, retention time.Duration) (trustMonitorQuery, *apiError) {
	var v trustMonitorQuery
	var err *apiError
	if v.minMs, v.maxMs, err = parseWindow(q, nowMs, retention); err != nil {
		return v, err
	}
	if v.limit, err = parseLimit(q, defaultTrustMonitorLimit, maxTrustMonitorLimit); err != nil {
		return v, err
	}
	for _, name := range q["type"] {
		typ, ok := trustMonitorFilters[name]
		if !ok {
			return v, errInvalid("'type' must be one of " + strings.Join(slices.Sorted(maps.Keys(trustMonitorFilters)), ", "))
		}
		v.types = append(v.types, typ)
	}
	slices.Sort(v.types)
	v.types = slices.Compact(v.types)
	offset, has, err := single(q, "offset")
	if err != nil {
		return v, err
	}
	if has && offset == "" {
		return v, errInvalid(errOffsetNotIssued)
	}
	v.offset = offset
	return v, nil
}

// errOffsetNotIssued is the detail of the error that refuses a Trust Monitor
// offset the simulator did not give out for the query.
const errOffsetNotIssued = "'offset' must be the next_offset of an earlier response to the same mintime, maxtime and type"

// matches reports whether an event of type typ is asked for.
func (v trustMonitorQuery) matches(typ string) bool {
	if v.types == nil {
		return true
	}
	_, found := slices.BinarySearch(v.types, typ)
	return found
}

// key identifies the query an offset belongs to: its window and types.
func (v trustMonitorQuery) key() string {
	return strconv.FormatInt(v.minMs, 10) + "," + strconv.FormatInt(v.maxMs, 10) + "," + strings.Join(v.types, "+")
}

// parseNextOffset reads a v2 cursor in either form Duo accepts: one value
// "ms,id", or two values (the key repeated). Clients that sort repeated
// values while signing may send the ID first, so in the two-value form the
// value that is a millisecond timestamp is the time.
func parseNextOffset(vals []string) (cursor, bool) {
	var msS, id string
	switch len(vals) {
	case 1:
		var found bool
		msS, id, found = strings.Cut(vals[0], ",")
		if !found {
			return cursor{}, false
		}
	case 2:
		msS, id = vals[0], vals[1]
		if _, ok := parseMillis(msS); !ok {
			msS, id = id, msS
		}
	default:
		return cursor{}, false
	}
	ms, ok := parseMillis(msS)
	if !ok || id == "" || strings.Contains(id, ",") {
		return cursor{}, false
	}
	return cursor{ms: ms, id: id}, true
}

// parseV1Query validates the parameters of a v1 log request: mintime, in
// seconds, is optional and must be an integer. It returns mintime in
// milliseconds, clamped to what can be stored.
func parseV1Query(q url.Values) (int64, *apiError) {
	s, has, err := single(q, "mintime")
	if err != nil || !has {
		return 0, err
	}
	sec, perr := strconv.ParseInt(s, 10, 64)
	if perr != nil {
		return 0, errInvalid("'mintime' must be an integer")
	}
	switch {
	case sec < 0:
		return 0, nil
	case sec > maxMillis/1000:
		return maxMillis, nil
	}
	return sec * 1000, nil
}

// single returns the one value of key in q and whether it is present, or an
// error when the key is repeated.
func single(q url.Values, key string) (string, bool, *apiError) {
	switch vals := q[key]; len(vals) {
	case 0:
		return "", false, nil
	case 1:
		return vals[0], true, nil
	}
	return "", false, errInvalid(fmt.Sprintf("'%s' must be given once", key))
}

// required is single for a parameter that must be present.
func required(q url.Values, key string) (string, *apiError) {
	s, has, err := single(q, key)
	if err == nil && !has {
		err = errMissing(key)
	}
	return s, err
}

// parseMillis reads a 13-digit millisecond timestamp.
func parseMillis(s string) (int64, bool) {
	if len(s) != 13 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// describeRetention renders a retention period the way Duo's error does,
// "180 days", falling back to a duration for periods of part days.
func describeRetention(d time.Duration) string {
	const day = 24 * time.Hour
	if d%day == 0 {
		return fmt.Sprintf("%d days", d/day)
	}
	return d.String()
}
