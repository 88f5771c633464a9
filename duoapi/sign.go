// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package duoapi

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/url"
	"sort"
	"strings"
	"time"
)

// SignatureVersion selects how a request is canonicalized and signed.
type SignatureVersion int

const (
	// SignatureV2SHA1 is the v2 canonical text signed with HMAC-SHA1. Duo
	// still accepts it; prefer SignatureV2.
	SignatureV2SHA1 SignatureVersion = -2
	// SignatureV2 is the v2 canonical text signed with HMAC-SHA512.
	SignatureV2 SignatureVersion = 2
	// SignatureV5 adds the SHA-512 of the body and of the X-Duo-* headers to
	// the v2 canonical text and signs it with HMAC-SHA512.
	SignatureV5 SignatureVersion = 5
)

// DateLayout is the layout of the Date header that Duo signs: RFC 1123 with a
// numeric zone, always rendered in UTC.
const DateLayout = time.RFC1123Z

// FormatDate renders t the way a Duo request's Date header expects it.
func FormatDate(t time.Time) string {
	return t.UTC().Format(DateLayout)
}

// CanonicalParams encodes params the way Duo signs them: every key and value
// percent-encoded as UTF-8 with upper-case hex, only A-Z a-z 0-9 - _ . ~ left
// as they are (so a space is %20, never +), keys sorted, and the values of a
// repeated key sorted. The same string is sent as the query of a GET, so what
// is signed is exactly what is sent.
func CanonicalParams(params url.Values) string {
	type pair struct{ k, v string }
	pairs := make([]pair, 0, len(params))
	for k, vs := range params {
		ek := escape(k)
		for _, v := range vs {
			pairs = append(pairs, pair{ek, escape(v)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

func escape(s string) string {
	const upperhex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') ||
			c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperhex[c>>4])
		b.WriteByte(upperhex[c&15])
	}
	return b.String()
}

// Request is what a signature covers.
type Request struct {
	Date   string     // the Date header, see FormatDate
	Method string     // any case; upper-cased in the canonical text
	Host   string     // any case; lower-cased in the canonical text
	Path   string     // case kept
	Params url.Values // query parameters
	Body   []byte     // v5 only: the request body (empty for a GET)
	// DuoHeaders holds X-Duo-* headers that v5 hashes; nil for none.
	DuoHeaders map[string]string
}

// Canonical returns the text that version v signs for r.
func (r Request) Canonical(v SignatureVersion) string {
	lines := []string{
		r.Date,
		strings.ToUpper(r.Method),
		strings.ToLower(r.Host),
		r.Path,
		CanonicalParams(r.Params),
	}
	if v == SignatureV5 {
		lines = append(lines, sha512Hex(r.Body), sha512Hex([]byte(canonicalDuoHeaders(r.DuoHeaders))))
	}
	return strings.Join(lines, "\n")
}

func canonicalDuoHeaders(h map[string]string) string {
	names := make([]string, 0, len(h))
	lower := make(map[string]string, len(h))
	for k, v := range h {
		lk := strings.ToLower(k)
		names = append(names, lk)
		lower[lk] = v
	}
	sort.Strings(names)
	parts := make([]string, 0, 2*len(names))
	for _, n := range names {
		parts = append(parts, n, lower[n])
	}
	return strings.Join(parts, "\x00")
}

func sha512Hex(b []byte) string {
	sum := sha512.Sum512(b)
	return hex.EncodeToString(sum[:])
}

// Signature returns the lower-case hex HMAC of r's canonical text under
// secretKey, for signature version v.
func Signature(v SignatureVersion, secretKey string, r Request) (string, error) {
	var h func() hash.Hash
	switch v {
	case SignatureV2SHA1:
		h = sha1.New
	case SignatureV2, SignatureV5:
		h = sha512.New
	default:
		return "", fmt.Errorf("unsupported signature version %d", v)
	}
	mac := hmac.New(h, []byte(secretKey))
	mac.Write([]byte(r.Canonical(v)))
	return hex.EncodeToString(mac.Sum(nil)), nil
}

// Authorization returns the value of the Authorization header that signs r:
// HTTP Basic with the integration key as user and the signature as password.
func Authorization(v SignatureVersion, integrationKey, secretKey string, r Request) (string, error) {
	sig, err := Signature(v, secretKey, r)
	if err != nil {
		return "", err
	}
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(integrationKey+":"+sig)), nil
}
