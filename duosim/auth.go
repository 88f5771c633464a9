// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"crypto/hmac"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/duostream/duostream/duoapi"
)

// maxSignedBody is how much of a request body a v5 signature check reads.
const maxSignedBody = 1 << 20

var (
	errNoCredentials = &apiError{status: http.StatusUnauthorized, code: 40101, message: "Missing request credentials"}
	errBadIKey       = &apiError{status: http.StatusUnauthorized, code: 40102, message: "Invalid integration key in request credentials"}
	errBadSignature  = &apiError{status: http.StatusUnauthorized, code: 40103, message: "Invalid signature in request credentials"}
	errNoDate        = &apiError{status: http.StatusUnauthorized, code: 40104, message: "Missing request timestamp"}
	errBadDate       = &apiError{status: http.StatusUnauthorized, code: 40105, message: "Bad request timestamp"}
)

// authenticate checks r's credentials the way Duo does: HTTP Basic with the
// integration key as user and a hex HMAC as password; the signed date in
// X-Duo-Date or Date, within the allowed skew of now; the signature computed
// over the configured API hostname. Signatures of 40 hex digits are v2
// HMAC-SHA1; of 128, v2 HMAC-SHA512 or v5; in lower case, as every Duo
// client writes them.
func (s *Sim) authenticate(r *http.Request, now time.Time) *apiError {
	if r.Header.Get("Authorization") == "" {
		return errNoCredentials
	}
	ikey, sig, ok := r.BasicAuth()
	if !ok {
		return errNoCredentials
	}
	if ikey != s.ikey {
		return errBadIKey
	}
	date := r.Header.Get("X-Duo-Date")
	if date == "" {
		date = r.Header.Get("Date")
	}
	if date == "" {
		return errNoDate
	}
	t, ok := parseDate(date)
	if !ok {
		return errBadDate
	}
	if d := t.Sub(now); d > s.skew || d < -s.skew {
		return errBadDate
	}

	req := duoapi.Request{
		Date:   date,
		Method: r.Method,
		Host:   s.host,
		Path:   r.URL.Path,
		Params: r.URL.Query(),
	}
	var versions []duoapi.SignatureVersion
	switch len(sig) {
	case 40:
		versions = []duoapi.SignatureVersion{duoapi.SignatureV2SHA1}
	case 128:
		versions = []duoapi.SignatureVersion{duoapi.SignatureV2, duoapi.SignatureV5}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxSignedBody))
		if err != nil {
			return errBadSignature
		}
		req.Body = body
		req.DuoHeaders = duoHeaders(r.Header)
	}
	for _, v := range versions {
		want, err := duoapi.Signature(v, s.skey, req)
		if err == nil && hmac.Equal([]byte(want), []byte(sig)) {
			return nil
		}
	}
	return errBadSignature
}

// parseDate reads a request date: RFC 1123 with a numeric zone, as Duo's
// clients send it, or with a zone name, as HTTP dates are written.
func parseDate(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC1123Z, time.RFC1123} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// duoHeaders returns the X-Duo-* headers of h, which a v5 signature covers.
func duoHeaders(h http.Header) map[string]string {
	var m map[string]string
	for k, vs := range h {
		if len(vs) == 0 || !strings.HasPrefix(strings.ToLower(k), "x-duo-") {
			continue
		}
		if m == nil {
			m = make(map[string]string)
		}
		m[k] = vs[0]
	}
	return m
}
