// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
)

func TestValidation(t *testing.T) {
	minOK, maxOK := ms(epoch.Add(-time.Hour)), ms(epoch.Add(-10*time.Minute))
	// v2 builds v2 parameters: a valid window with changes; "" deletes a key.
	v2 := func(changes ...string) url.Values {
		q := url.Values{"mintime": {minOK}, "maxtime": {maxOK}}
		for i := 0; i+1 < len(changes); i += 2 {
			if changes[i+1] == "" {
				q.Del(changes[i])
			} else {
				q.Set(changes[i], changes[i+1])
			}
		}
		return q
	}
	const (
		invalid = 40002
		missing = 40001
	)
	v2Tests := []struct {
		name       string
		query      url.Values
		wantCode   int // 0: 200 OK
		wantDetail string
	}{
		{"valid", v2(), 0, ""},
		{"unknown parameters are ignored", v2("users", "x"), 0, ""},
		{"missing mintime", v2("mintime", ""), missing, "mintime"},
		{"missing maxtime", v2("maxtime", ""), missing, "maxtime"},
		{"missing both", url.Values{}, missing, "mintime"},
		{"mintime in seconds", v2("mintime", sec(epoch.Add(-time.Hour))), invalid, "'mintime' must be a timestamp in milliseconds"},
		{"mintime of 14 digits", v2("mintime", minOK+"0"), invalid, "'mintime' must be a timestamp in milliseconds"},
		{"mintime not a number", v2("mintime", "178000000000x"), invalid, "'mintime' must be a timestamp in milliseconds"},
		{"mintime signed", v2("mintime", "+"+minOK[1:]), invalid, "'mintime' must be a timestamp in milliseconds"},
		{"mintime empty", v2("mintime", " "), invalid, "'mintime' must be a timestamp in milliseconds"},
		{"maxtime in seconds", v2("maxtime", sec(epoch)), invalid, "'maxtime' must be a timestamp in milliseconds"},
		{"maxtime equal to mintime", v2("maxtime", minOK), invalid, "'maxtime' must be strictly greater than 'mintime'"},
		{"maxtime before mintime", v2("mintime", maxOK, "maxtime", minOK), invalid, "'maxtime' must be strictly greater than 'mintime'"},
		{"mintime 180 days ago", v2("mintime", ms(epoch.Add(-DefaultRetention))), 0, ""},
		{"mintime older than 180 days", v2("mintime", ms(epoch.Add(-DefaultRetention-time.Millisecond))), invalid, "mintime must be within the past 180 days"},
		{"maxtime in the future", v2("maxtime", ms(epoch.Add(time.Hour))), 0, ""},
		{"limit 1", v2("limit", "1"), 0, ""},
		{"limit 1000", v2("limit", "1000"), 0, ""},
		{"limit 0", v2("limit", "0"), invalid, "'limit' must be an integer between 1 and 1000"},
		{"limit 1001", v2("limit", "1001"), invalid, "'limit' must be an integer between 1 and 1000"},
		{"limit not a number", v2("limit", "ten"), invalid, "'limit' must be an integer between 1 and 1000"},
		{"limit empty", url.Values{"mintime": {minOK}, "maxtime": {maxOK}, "limit": {""}}, invalid, "'limit' must be an integer between 1 and 1000"},
		{"sort ts:asc", v2("sort", "ts:asc"), 0, ""},
		{"sort ts:desc", v2("sort", "ts:desc"), 0, ""},
		{"sort asc", v2("sort", "asc"), invalid, "'sort' must be one of ts:asc, ts:desc"},
		{"sort upper case", v2("sort", "TS:ASC"), invalid, "'sort' must be one of ts:asc, ts:desc"},
		{"next_offset comma form", v2("next_offset", minOK+",af0ba235-0b33-23c8-bc23-a31aa0231de8"), 0, ""},
		{"next_offset repeated key", url.Values{"mintime": {minOK}, "maxtime": {maxOK}, "next_offset": {minOK, "af0ba235"}}, 0, ""},
		{"next_offset repeated key, ID first", url.Values{"mintime": {minOK}, "maxtime": {maxOK}, "next_offset": {"0af0ba23", minOK}}, 0, ""},
		{"next_offset without ID", v2("next_offset", minOK), invalid, "'next_offset' must be"},
		{"next_offset empty ID", v2("next_offset", minOK+","), invalid, "'next_offset' must be"},
		{"next_offset in seconds", v2("next_offset", sec(epoch)+",abc"), invalid, "'next_offset' must be"},
		{"next_offset of three parts", v2("next_offset", minOK+",a,b"), invalid, "'next_offset' must be"},
		{"next_offset three times", url.Values{"mintime": {minOK}, "maxtime": {maxOK}, "next_offset": {minOK, "a", "b"}}, invalid, "'next_offset' must be"},
		{"next_offset repeated, no time", url.Values{"mintime": {minOK}, "maxtime": {maxOK}, "next_offset": {"a", "b"}}, invalid, "'next_offset' must be"},
		{"mintime twice", url.Values{"mintime": {minOK, minOK}, "maxtime": {maxOK}}, invalid, "'mintime' must be given once"},
	}
	h := newHarness(t, Config{})
	for _, path := range []string{duoapi.PathAuthenticationV2, duoapi.PathTelephonyV2, duoapi.PathActivityV2} {
		for _, tt := range v2Tests {
			t.Run(path+"/"+tt.name, func(t *testing.T) {
				assertReply(t, h, path, tt.query, tt.wantCode, tt.wantDetail)
			})
		}
	}

	// Trust Monitor shares the window rules, pages by an opaque offset, has
	// no sort and refuses a limit above 200.
	tmTests := []struct {
		name       string
		query      url.Values
		wantCode   int
		wantDetail string
	}{
		{"valid", v2(), 0, ""},
		{"unknown parameters are ignored", v2("users", "x"), 0, ""},
		{"sort is not a parameter", v2("sort", "sideways"), 0, ""},
		{"missing mintime", v2("mintime", ""), missing, "mintime"},
		{"missing maxtime", v2("maxtime", ""), missing, "maxtime"},
		{"mintime in seconds", v2("mintime", sec(epoch.Add(-time.Hour))), invalid, "'mintime' must be a timestamp in milliseconds"},
		{"maxtime in seconds", v2("maxtime", sec(epoch)), invalid, "'maxtime' must be a timestamp in milliseconds"},
		{"maxtime equal to mintime", v2("maxtime", minOK), invalid, "'maxtime' must be strictly greater than 'mintime'"},
		{"mintime 180 days ago", v2("mintime", ms(epoch.Add(-DefaultRetention))), 0, ""},
		{"mintime older than 180 days", v2("mintime", ms(epoch.Add(-DefaultRetention-time.Millisecond))), invalid, "mintime must be within the past 180 days"},
		{"maxtime in the future", v2("maxtime", ms(epoch.Add(time.Hour))), 0, ""},
		{"limit 1", v2("limit", "1"), 0, ""},
		{"limit 200", v2("limit", "200"), 0, ""},
		{"limit 201", v2("limit", "201"), invalid, "'limit' must be an integer between 1 and 200"},
		{"limit 1000", v2("limit", "1000"), invalid, "'limit' must be an integer between 1 and 200"},
		{"limit 0", v2("limit", "0"), invalid, "'limit' must be an integer between 1 and 200"},
		{"type auth", v2("type", "auth"), 0, ""},
		{"type bypass_status_enabled", v2("type", "bypass_status_enabled"), 0, ""},
		{"type repeated", url.Values{"mintime": {minOK}, "maxtime": {maxOK}, "type": {"auth", "device_registration"}}, 0, ""},
		{"type unknown", v2("type", "login"), invalid, "'type' must be one of auth, bypass_status, bypass_status_enabled, device_registration"},
		{"type empty", v2("type", " "), invalid, "'type' must be one of"},
		{"offset not issued", v2("offset", "2"), invalid, errOffsetNotIssued},
		{"offset twice", url.Values{"mintime": {minOK}, "maxtime": {maxOK}, "offset": {"2", "2"}}, invalid, "'offset' must be given once"},
	}
	for _, tt := range tmTests {
		t.Run(duoapi.PathTrustMonitorV1+"/"+tt.name, func(t *testing.T) {
			assertReply(t, h, duoapi.PathTrustMonitorV1, tt.query, tt.wantCode, tt.wantDetail)
		})
	}

	v1Tests := []struct {
		name       string
		query      url.Values
		wantCode   int
		wantDetail string
	}{
		{"seconds", url.Values{"mintime": {sec(epoch.Add(-time.Hour))}}, 0, ""},
		{"zero", url.Values{"mintime": {"0"}}, 0, ""},
		{"negative", url.Values{"mintime": {"-5"}}, 0, ""},
		{"absent", url.Values{}, 0, ""},
		{"far future", url.Values{"mintime": {"99999999999999999"}}, 0, ""},
		{"milliseconds are an integer too", url.Values{"mintime": {ms(epoch)}}, 0, ""},
		{"not a number", url.Values{"mintime": {"yesterday"}}, invalid, "'mintime' must be an integer"},
		{"fraction", url.Values{"mintime": {"1.5"}}, invalid, "'mintime' must be an integer"},
		{"empty", url.Values{"mintime": {""}}, invalid, "'mintime' must be an integer"},
		{"too large", url.Values{"mintime": {"99999999999999999999"}}, invalid, "'mintime' must be an integer"},
		{"twice", url.Values{"mintime": {"1", "2"}}, invalid, "'mintime' must be given once"},
	}
	for _, path := range []string{duoapi.PathAdministratorV1, duoapi.PathTelephonyV1, duoapi.PathOfflineEnrollmentV1} {
		for _, tt := range v1Tests {
			t.Run(path+"/"+tt.name, func(t *testing.T) {
				assertReply(t, h, path, tt.query, tt.wantCode, tt.wantDetail)
			})
		}
	}
}

// assertReply sends a signed GET and checks the answer is 200 (wantCode 0)
// or the Duo error wantCode with a message_detail containing wantDetail.
func assertReply(t *testing.T, h *harness, path string, q url.Values, wantCode int, wantDetail string) {
	t.Helper()
	status, header, body := h.do(h.newRequest(path, q))
	assert.Equal(t, "application/json", header.Get("Content-Type"))
	if wantCode == 0 {
		assert.Equal(t, http.StatusOK, status, "body %s", body)
		return
	}
	assert.Equal(t, wantCode/100, status, "body %s", body)
	f := decodeFailure(t, body)
	assert.Equal(t, "FAIL", f.Stat)
	assert.Equal(t, wantCode, f.Code)
	wantMessage := map[int]string{40001: "Missing required request parameters", 40002: "Invalid request parameters"}[wantCode]
	assert.Equal(t, wantMessage, f.Message)
	assert.Contains(t, f.MessageDetail, wantDetail)
}

func TestUnknownPathAndMethod(t *testing.T) {
	h := newHarness(t, Config{})
	tests := []struct {
		name       string
		path       string
		method     string
		wantStatus int
		wantCode   int
	}{
		{"unknown path", "/admin/v1/users", http.MethodGet, 404, 40401},
		{"trailing slash", duoapi.PathAuthenticationV2 + "/", http.MethodGet, 404, 40401},
		{"activity v1 does not exist", "/admin/v1/logs/activity", http.MethodGet, 404, 40401},
		{"POST activity", duoapi.PathActivityV2, http.MethodPost, 405, 40501},
		{"POST trust monitor", duoapi.PathTrustMonitorV1, http.MethodPost, 405, 40501},
		{"POST", duoapi.PathAuthenticationV2, http.MethodPost, 405, 40501},
		{"POST ping", PathPing, http.MethodPost, 405, 40501},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, _, body := h.do(h.newRequest(tt.path, url.Values{}, withMethod(tt.method)))
			assert.Equal(t, tt.wantStatus, status)
			assert.Equal(t, tt.wantCode, decodeFailure(t, body).Code)
		})
	}
}

func TestPing(t *testing.T) {
	h := newHarness(t, Config{DenyLogRead: true, RateLimitPerMinute: 1, Faults: Faults{ServerError: 1}})
	for range 3 { // neither rate limited nor failed
		status, _, body := h.do(h.newRequest(PathPing, nil, withoutAuth(), withDateHeader("-")))
		require.Equal(t, 200, status)
		assert.JSONEq(t, `{"stat":"OK","response":{"time":`+sec(epoch)+`}}`, string(body))
	}
	h.clock.Advance(42 * time.Second)
	_, _, body := h.do(h.newRequest(PathPing, nil, withoutAuth()))
	assert.JSONEq(t, `{"stat":"OK","response":{"time":`+sec(epoch.Add(42*time.Second))+`}}`, string(body))
}
