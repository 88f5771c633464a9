// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/duostream/duostream/duoapi"
)

func TestAuthentication(t *testing.T) {
	h := newHarness(t, Config{})
	query := url.Values{"mintime": {ms(epoch.Add(-time.Hour))}, "maxtime": {ms(epoch.Add(-5 * time.Minute))}, "sort": {"ts:asc"}}
	basic := func(user, pass string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
	}
	tests := []struct {
		name        string
		opts        []reqOpt
		authz       string // replaces the Authorization header
		wantCode    int    // 0: 200 OK
		wantMessage string
	}{
		{name: "v2 HMAC-SHA512", opts: []reqOpt{withVersion(duoapi.SignatureV2)}},
		{name: "v2 HMAC-SHA1", opts: []reqOpt{withVersion(duoapi.SignatureV2SHA1)}},
		{name: "v5", opts: []reqOpt{withVersion(duoapi.SignatureV5)}},
		{name: "v2 with X-Duo-Date", opts: []reqOpt{withDateHeader("X-Duo-Date")}},
		{name: "v5 with X-Duo-Date in the header hash", opts: []reqOpt{withVersion(duoapi.SignatureV5), withDateHeader("X-Duo-Date")}},
		{name: "HTTP date with a zone name", opts: []reqOpt{withDate(epoch.Format(time.RFC1123))}},
		{name: "date in another zone", opts: []reqOpt{withDate(epoch.In(time.FixedZone("IST", 19800)).Format(time.RFC1123Z))}},
		{name: "hostname in another case", opts: []reqOpt{withHost(strings.ToUpper(DefaultAPIHost))}},
		{name: "no Authorization", opts: []reqOpt{withoutAuth()}, wantCode: 40101, wantMessage: "Missing request credentials"},
		{name: "not Basic", authz: "Bearer abc", wantCode: 40101, wantMessage: "Missing request credentials"},
		{name: "Basic without a colon", authz: "Basic " + base64.StdEncoding.EncodeToString([]byte(DefaultIntegrationKey)), wantCode: 40101, wantMessage: "Missing request credentials"},
		{name: "wrong integration key", opts: []reqOpt{withIKey("DIWRONGWRONGWRONG000")}, wantCode: 40102, wantMessage: "Invalid integration key in request credentials"},
		{name: "wrong secret key", opts: []reqOpt{withSKey("wrong")}, wantCode: 40103, wantMessage: "Invalid signature in request credentials"},
		{name: "wrong secret key, SHA1", opts: []reqOpt{withSKey("wrong"), withVersion(duoapi.SignatureV2SHA1)}, wantCode: 40103, wantMessage: "Invalid signature in request credentials"},
		{name: "wrong secret key, v5", opts: []reqOpt{withSKey("wrong"), withVersion(duoapi.SignatureV5)}, wantCode: 40103, wantMessage: "Invalid signature in request credentials"},
		{name: "signed for the Host header", opts: []reqOpt{withHost("127.0.0.1")}, wantCode: 40103, wantMessage: "Invalid signature in request credentials"},
		{name: "query differs from what was signed", opts: []reqOpt{withRawQuery("maxtime=" + ms(epoch.Add(-5*time.Minute)) + "&mintime=" + ms(epoch.Add(-2*time.Hour)) + "&sort=ts%3Aasc")}, wantCode: 40103, wantMessage: "Invalid signature in request credentials"},
		{name: "X-Duo-Date left out of the v5 header hash", authz: "unhashed", opts: []reqOpt{withDateHeader("X-Duo-Date")}, wantCode: 40103, wantMessage: "Invalid signature in request credentials"},
		{name: "signature of the wrong length", authz: basic(DefaultIntegrationKey, strings.Repeat("ab", 32)), wantCode: 40103, wantMessage: "Invalid signature in request credentials"},
		{name: "signature in upper case", authz: "upper", wantCode: 40103, wantMessage: "Invalid signature in request credentials"},
		{name: "no date", opts: []reqOpt{withDateHeader("-")}, wantCode: 40104, wantMessage: "Missing request timestamp"},
		{name: "date not a date", opts: []reqOpt{withDate("yesterday")}, wantCode: 40105, wantMessage: "Bad request timestamp"},
		{name: "wrong integration key and no date", opts: []reqOpt{withIKey("DIWRONGWRONGWRONG000"), withDateHeader("-")}, wantCode: 40102, wantMessage: "Invalid integration key in request credentials"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := h.newRequest(duoapi.PathAuthenticationV2, query, tt.opts...)
			switch tt.authz {
			case "":
			case "unhashed":
				// A v5 signature computed as if no X-Duo-* header were sent.
				date := duoapi.FormatDate(h.clock.Now())
				authz, err := duoapi.Authorization(duoapi.SignatureV5, DefaultIntegrationKey, DefaultSecretKey, duoapi.Request{
					Date: date, Method: "GET", Host: DefaultAPIHost, Path: duoapi.PathAuthenticationV2, Params: query,
				})
				require.NoError(t, err)
				req.Header.Set("Authorization", authz)
			case "upper":
				sig, err := duoapi.Signature(duoapi.SignatureV2, DefaultSecretKey, duoapi.Request{
					Date: req.Header.Get("Date"), Method: "GET", Host: DefaultAPIHost, Path: duoapi.PathAuthenticationV2, Params: query,
				})
				require.NoError(t, err)
				req.Header.Set("Authorization", basic(DefaultIntegrationKey, strings.ToUpper(sig)))
			default:
				req.Header.Set("Authorization", tt.authz)
			}
			status, _, body := h.do(req)
			if tt.wantCode == 0 {
				assert.Equal(t, 200, status, "body %s", body)
				return
			}
			assert.Equal(t, 401, status)
			f := decodeFailure(t, body)
			assert.Equal(t, "FAIL", f.Stat)
			assert.Equal(t, tt.wantCode, f.Code)
			assert.Equal(t, tt.wantMessage, f.Message)
		})
	}
}

func TestClockSkew(t *testing.T) {
	h := newHarness(t, Config{})
	query := url.Values{"mintime": {sec(epoch.Add(-time.Hour))}}
	tests := []struct {
		offset time.Duration
		want   int
	}{
		{-61 * time.Second, 401},
		{-60 * time.Second, 200},
		{0, 200},
		{60 * time.Second, 200},
		{61 * time.Second, 401},
		{-time.Hour, 401},
	}
	for _, tt := range tests {
		t.Run(tt.offset.String(), func(t *testing.T) {
			status, body := h.get(duoapi.PathAdministratorV1, query, withDate(duoapi.FormatDate(epoch.Add(tt.offset))))
			assert.Equal(t, tt.want, status, "body %s", body)
			if tt.want == 401 {
				assert.Equal(t, failure{Stat: "FAIL", Code: 40105, Message: "Bad request timestamp"}, decodeFailure(t, body))
			}
		})
	}

	t.Run("a request signed a minute ago fails once the clock moves on", func(t *testing.T) {
		req := h.newRequest(duoapi.PathAdministratorV1, query)
		status, _, _ := h.do(req)
		require.Equal(t, 200, status)
		h.clock.Advance(61 * time.Second)
		status, _, body := h.do(h.newRequest(duoapi.PathAdministratorV1, query, withDate(req.Header.Get("Date"))))
		assert.Equal(t, 401, status)
		assert.Equal(t, 40105, decodeFailure(t, body).Code)
	})

	t.Run("configured skew", func(t *testing.T) {
		h := newHarness(t, Config{ClockSkew: 5 * time.Second})
		status, _ := h.get(duoapi.PathAdministratorV1, query, withDate(duoapi.FormatDate(epoch.Add(6*time.Second))))
		assert.Equal(t, 401, status)
		status, _ = h.get(duoapi.PathAdministratorV1, query, withDate(duoapi.FormatDate(epoch.Add(5*time.Second))))
		assert.Equal(t, 200, status)
	})
}

// TestDateHeaderFollowsTheClock checks that responses are dated by the
// simulator's clock, as Duo's are by Duo's: a client measures its clock
// skew from the Date of a 40105 answer.
func TestDateHeaderFollowsTheClock(t *testing.T) {
	h := newHarness(t, Config{})
	h.clock.Advance(10 * time.Minute)
	query := url.Values{"mintime": {sec(epoch.Add(-time.Hour))}}
	for _, date := range []time.Time{epoch, h.clock.Now()} {
		status, header, _ := h.do(h.newRequest(duoapi.PathAdministratorV1, query, withDate(duoapi.FormatDate(date))))
		got, err := http.ParseTime(header.Get("Date"))
		require.NoError(t, err, "status %d", status)
		assert.Equal(t, h.clock.Now().Truncate(time.Second), got.UTC(), "the Date of a %d response", status)
	}
}

func TestCustomCredentials(t *testing.T) {
	h := newHarness(t, Config{IntegrationKey: "DIABCDEFGHIJKLMNOPQR", SecretKey: "s3cr3t", APIHost: "api-12345678.duosecurity.com"})
	assert.Equal(t, "DIABCDEFGHIJKLMNOPQR", h.srv.IntegrationKey())
	assert.Equal(t, "s3cr3t", h.srv.SecretKey())
	assert.Equal(t, "api-12345678.duosecurity.com", h.srv.APIHost())
	query := url.Values{"mintime": {"0"}}
	status, _ := h.get(duoapi.PathAdministratorV1, query)
	assert.Equal(t, 200, status)
	status, _ = h.get(duoapi.PathAdministratorV1, query, withHost(DefaultAPIHost))
	assert.Equal(t, 401, status)
}

func TestDenyLogRead(t *testing.T) {
	h := newHarness(t, Config{DenyLogRead: true})
	queries := map[string]url.Values{
		duoapi.PathAuthenticationV2:    {"mintime": {ms(epoch.Add(-time.Hour))}, "maxtime": {ms(epoch)}},
		duoapi.PathTelephonyV2:         {"mintime": {ms(epoch.Add(-time.Hour))}, "maxtime": {ms(epoch)}},
		duoapi.PathActivityV2:          {"mintime": {ms(epoch.Add(-time.Hour))}, "maxtime": {ms(epoch)}},
		duoapi.PathTrustMonitorV1:      {"mintime": {ms(epoch.Add(-time.Hour))}, "maxtime": {ms(epoch)}},
		duoapi.PathAdministratorV1:     {"mintime": {"0"}},
		duoapi.PathTelephonyV1:         {"mintime": {"0"}},
		duoapi.PathOfflineEnrollmentV1: {"mintime": {"0"}},
	}
	for path, q := range queries {
		t.Run(path, func(t *testing.T) {
			status, body := h.get(path, q)
			assert.Equal(t, 403, status)
			assert.Equal(t, failure{Stat: "FAIL", Code: 40301, Message: "Access forbidden"}, decodeFailure(t, body))
			// Credentials are checked first.
			status, body = h.get(path, q, withSKey("wrong"))
			assert.Equal(t, 401, status)
			assert.Equal(t, 40103, decodeFailure(t, body).Code)
		})
	}
}

func TestUnavailable(t *testing.T) {
	window := url.Values{"mintime": {ms(epoch.Add(-time.Hour))}, "maxtime": {ms(epoch)}}
	queries := map[string]url.Values{
		duoapi.PathAuthenticationV2:    window,
		duoapi.PathTelephonyV2:         window,
		duoapi.PathActivityV2:          window,
		duoapi.PathTrustMonitorV1:      window,
		duoapi.PathAdministratorV1:     {"mintime": {"0"}},
		duoapi.PathTelephonyV1:         {"mintime": {"0"}},
		duoapi.PathOfflineEnrollmentV1: {"mintime": {"0"}},
	}
	forbidden := failure{Stat: "FAIL", Code: 40301, Message: "Access forbidden"}
	notFound := failure{Stat: "FAIL", Code: 40401, Message: "Resource not found"}
	tests := []struct {
		name        string
		unavailable map[duoapi.LogType]int
		want        map[string]failure // by path; the others answer 200
	}{
		{"activity forbidden", map[duoapi.LogType]int{duoapi.Activity: 403},
			map[string]failure{duoapi.PathActivityV2: forbidden}},
		{"trust monitor not found", map[duoapi.LogType]int{duoapi.TrustMonitor: 404},
			map[string]failure{duoapi.PathTrustMonitorV1: notFound}},
		{"both, differently", map[duoapi.LogType]int{duoapi.Activity: 404, duoapi.TrustMonitor: 403},
			map[string]failure{duoapi.PathActivityV2: notFound, duoapi.PathTrustMonitorV1: forbidden}},
		{"telephony, on both its endpoints", map[duoapi.LogType]int{duoapi.Telephony: 404},
			map[string]failure{duoapi.PathTelephonyV2: notFound, duoapi.PathTelephonyV1: notFound}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, Config{Unavailable: tt.unavailable})
			for path, q := range queries {
				status, body := h.get(path, q)
				want, ok := tt.want[path]
				if !ok {
					assert.Equal(t, 200, status, "%s: body %s", path, body)
					continue
				}
				assert.Equal(t, want.Code/100, status, path)
				assert.Equal(t, want, decodeFailure(t, body), path)
				// Credentials are checked first.
				status, body = h.get(path, q, withSKey("wrong"))
				assert.Equal(t, 401, status, path)
				assert.Equal(t, 40103, decodeFailure(t, body).Code, path)
			}
		})
	}
}
