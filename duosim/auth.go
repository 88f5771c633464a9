// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duosim

import (
	"crypto/hmac"
	"io"
	"mime"
	"net/http"
	"net/url"
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

// credentials are a request's checked integration key and date, and what
// its signature covers but the API hostname, which depends on the account
// the request is for.
type credentials struct {
	sig      string
	versions []duoapi.SignatureVersion
	signed   duoapi.Request // Host left empty
}

// readCredentials checks r's credentials the way Duo does, up to the
// signature: HTTP Basic with the integration key as user and a hex HMAC as
// password; the signed date in X-Duo-Date or Date, within the allowed skew
// of now. Signatures of 40 hex digits are v2 HMAC-SHA1; of 128, v2
// HMAC-SHA512 or v5; in lower case, as every Duo client writes them. The
// signed parameters are the query, or the body of a form-encoded POST; a
// JSON body counts for v5 only, through its hash.
func (s *Sim) readCredentials(r *http.Request, now time.Time) (credentials, *apiError) {
	if r.Header.Get("Authorization") == "" {
		return credentials{}, errNoCredentials
	}
	ikey, sig, ok := r.BasicAuth()
	if !ok {
		return credentials{}, errNoCredentials
	}
	if ikey != s.ikey {
		return credentials{}, errBadIKey
	}
	date := r.Header.Get("X-Duo-Date")
	if date == "" {
		date = r.Header.Get("Date")
	}
	if date == "" {
		return credentials{}, errNoDate
	}
	t, ok := parseDate(date)
	if !ok {
		return credentials{}, errBadDate
	}
	if d := t.Sub(now); d > s.skew || d < -s.skew {
		return credentials{}, errBadDate
	}

	body, err := io.ReadAll(io.LimitReader(r.Body, maxSignedBody))
	if err != nil {
		return credentials{}, errBadSignature
	}
	params := r.URL.Query()
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Method != http.MethodGet && mt == "application/x-www-form-urlencoded" {
		if params, err = url.ParseQuery(string(body)); err != nil {
			return credentials{}, errBadSignature
		}
	}
	c := credentials{
		sig: sig,
		signed: duoapi.Request{
			Date:       date,
			Method:     r.Method,
			Path:       r.URL.Path,
			Params:     params,
			Body:       body,
			DuoHeaders: duoHeaders(r.Header),
		},
	}
	switch len(sig) {
	case 40:
		c.versions = []duoapi.SignatureVersion{duoapi.SignatureV2SHA1}
	case 128:
		c.versions = []duoapi.SignatureVersion{duoapi.SignatureV2, duoapi.SignatureV5}
	}
	return c, nil
}

// signedFor reports whether c's signature was made with the secret key
// skey for the API hostname host.
func (c credentials) signedFor(skey, host string) bool {
	req := c.signed
	req.Host = host
	for _, v := range c.versions {
		want, err := duoapi.Signature(v, skey, req)
		if err == nil && hmac.Equal([]byte(want), []byte(c.sig)) {
			return true
		}
	}
	return false
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
