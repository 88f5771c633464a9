// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package schema

import (
	"bytes"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// indicator is a scanner named in a schema's indicators list.
type indicator uint8

const (
	indIP indicator = iota + 1
	indDomain
	indHostname
	indURL
	indNetAddr
	indEmail
	indUsername
	indTraceID
	indMD5
	indSHA1
	indSHA256
	indAWSARN
	indAWSAccountID
	indAWSInstanceID
	indAWSTag
)

var indicatorNames = map[string]indicator{
	"ip": indIP, "domain": indDomain, "hostname": indHostname, "url": indURL,
	"net_addr": indNetAddr, "email": indEmail, "username": indUsername,
	"trace_id": indTraceID, "md5": indMD5, "sha1": indSHA1, "sha256": indSHA256,
	"aws_arn": indAWSARN, "aws_account_id": indAWSAccountID,
	"aws_instance_id": indAWSInstanceID, "aws_tag": indAWSTag,
}

func indicatorList() string {
	names := make([]string, 0, len(indicatorNames))
	for n := range indicatorNames {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// pField is one of Panther's p_any_* output fields.
type pField uint8

// The p_any_* fields, in the order they are written.
const (
	pIPAddresses pField = iota
	pDomainNames
	pEmails
	pUsernames
	pTraceIDs
	pMD5Hashes
	pSHA1Hashes
	pSHA256Hashes
	pAWSARNs
	pAWSAccountIDs
	pAWSInstanceIDs
	pAWSTags
	numPFields
)

// pFieldKeys are the p_any_* keys, quoted and followed by ':'.
var pFieldKeys = [numPFields]string{
	`"p_any_ip_addresses":`, `"p_any_domain_names":`, `"p_any_emails":`,
	`"p_any_usernames":`, `"p_any_trace_ids":`, `"p_any_md5_hashes":`,
	`"p_any_sha1_hashes":`, `"p_any_sha256_hashes":`, `"p_any_aws_arns":`,
	`"p_any_aws_account_ids":`, `"p_any_aws_instance_ids":`, `"p_any_aws_tags":`,
}

// indValue is one collected indicator value, held in indicators.arena.
type indValue struct {
	field pField
	// plain values need no escaping in a JSON string.
	plain    bool
	off, end uint32
}

// indicators collects the p_any_* values of one event.
type indicators struct {
	arena  []byte
	values []indValue
}

func (c *indicators) reset() {
	c.arena = c.arena[:0]
	c.values = c.values[:0]
}

func (c *indicators) add(f pField, v []byte, plain bool) {
	off := len(c.arena)
	c.arena = append(c.arena, v...)
	c.values = append(c.values, indValue{field: f, plain: plain, off: uint32(off), end: uint32(len(c.arena))})
}

// addLower adds v lower-cased, for case-insensitive values that were
// checked to hold only plain ASCII, such as domains and hashes.
func (c *indicators) addLower(f pField, v []byte) {
	off := len(c.arena)
	for _, b := range v {
		if b >= 'A' && b <= 'Z' {
			b += 'a' - 'A'
		}
		c.arena = append(c.arena, b)
	}
	c.values = append(c.values, indValue{field: f, plain: true, off: uint32(off), end: uint32(len(c.arena))})
}

// scan runs indicator ind over the value v. Values that are not valid for
// the indicator are skipped: a bad indicator never fails an event. plain
// tells that v needs no escaping in a JSON string.
func (c *indicators) scan(ind indicator, v []byte, plain bool) {
	if len(v) == 0 {
		return
	}
	if v[0] <= ' ' || v[len(v)-1] <= ' ' {
		if v = bytes.TrimSpace(v); len(v) == 0 {
			return
		}
	}
	switch ind {
	case indIP:
		c.ip(v)
	case indDomain:
		if !c.ip(v) && isHostname(v) {
			c.addLower(pDomainNames, trimDot(v))
		}
	case indHostname:
		c.hostname(v)
	case indNetAddr:
		c.hostname(v)
	case indURL:
		c.url(v)
	case indEmail:
		if isEmail(v) {
			c.add(pEmails, v, plain)
		}
	case indUsername:
		c.add(pUsernames, v, plain)
	case indTraceID:
		c.add(pTraceIDs, v, plain)
	case indMD5:
		if isHexLen(v, 32) {
			c.addLower(pMD5Hashes, v)
		}
	case indSHA1:
		if isHexLen(v, 40) {
			c.addLower(pSHA1Hashes, v)
		}
	case indSHA256:
		if isHexLen(v, 64) {
			c.addLower(pSHA256Hashes, v)
		}
	case indAWSARN:
		if bytes.HasPrefix(v, []byte("arn:")) && bytes.Count(v, []byte(":")) >= 5 {
			c.add(pAWSARNs, v, plain)
		}
	case indAWSAccountID:
		if len(v) == 12 && allDigits(v) {
			c.add(pAWSAccountIDs, v, true)
		}
	case indAWSInstanceID:
		if bytes.HasPrefix(v, []byte("i-")) && (len(v) == 10 || len(v) == 19) && isHexLen(v[2:], len(v)-2) {
			c.add(pAWSInstanceIDs, v, true)
		}
	case indAWSTag:
		c.add(pAWSTags, v, plain)
	}
}

// hostname sends an IP address (a port may follow) to p_any_ip_addresses
// and a real host name to p_any_domain_names.
func (c *indicators) hostname(v []byte) {
	if c.ip(v) {
		return
	}
	host := v
	if i := bytes.LastIndexByte(host, ':'); i > 0 && allDigits(host[i+1:]) && len(host) > i+1 {
		host = host[:i]
	}
	if isHostname(host) {
		c.addLower(pDomainNames, trimDot(host))
	}
}

func (c *indicators) url(v []byte) {
	u, err := url.Parse(string(v))
	if err != nil || u.Host == "" {
		return
	}
	c.hostname([]byte(u.Host))
}

// ipChars are the bytes an IP address, with a port or zone, may hold.
var ipChars = func() (t [256]bool) {
	for _, b := range []byte("0123456789abcdefABCDEF.:[]%") {
		t[b] = true
	}
	return t
}()

// ip adds v to p_any_ip_addresses if it is an IP address, written bare or
// with a port ("10.0.0.1:443", "[::1]:443"), and reports whether it was.
// IPv4-mapped IPv6 addresses are written as IPv4.
func (c *indicators) ip(v []byte) bool {
	if len(v) < 2 || len(v) > 64 {
		return false
	}
	for _, b := range v {
		if b == '%' {
			break // a zone, such as %eth0, follows
		}
		if !ipChars[b] {
			return false
		}
	}
	if n := ipv4Len(v); n > 0 {
		// Plain dotted IPv4, perhaps with a port: already canonical.
		c.add(pIPAddresses, v[:n], true)
		return true
	}
	addr, err := netip.ParseAddr(bytesString(v))
	if err != nil {
		ap, perr := netip.ParseAddrPort(bytesString(v))
		if perr != nil {
			return false
		}
		addr = ap.Addr()
	}
	addr = addr.Unmap().WithZone("")
	off := len(c.arena)
	c.arena = addr.AppendTo(c.arena)
	c.values = append(c.values, indValue{field: pIPAddresses, plain: true, off: uint32(off), end: uint32(len(c.arena))})
	return true
}

// ipv4Len returns the length of the canonical dotted IPv4 address v starts
// with, when v is exactly that address or that address and ":port";
// otherwise 0.
func ipv4Len(v []byte) int {
	i := 0
	for part := 0; part < 4; part++ {
		if part > 0 {
			if i >= len(v) || v[i] != '.' {
				return 0
			}
			i++
		}
		start, n := i, 0
		for i < len(v) && isDigit(v[i]) && i-start < 3 {
			n = n*10 + int(v[i]-'0')
			i++
		}
		if i == start || n > 255 || (v[start] == '0' && i-start > 1) {
			return 0
		}
	}
	if i == len(v) {
		return i
	}
	if v[i] == ':' && allDigits(v[i+1:]) && len(v)-i-1 <= 5 {
		return i
	}
	return 0
}

// placeholders are values Duo and others write where a host name is
// unknown. They are valid DNS labels but are not hosts.
var placeholders = []string{"null", "nil", "none", "unknown", "undefined", "n/a", "-"}

// isHostname reports whether v is a real DNS host name: dot-separated
// labels of letters, digits, '-' and '_', each 1 to 63 bytes and not
// starting or ending with '-', at most 253 bytes in all, a last label that
// is not all digits, and not a placeholder such as "null".
func isHostname(v []byte) bool {
	v = trimDot(v)
	if len(v) == 0 || len(v) > 253 {
		return false
	}
	for _, p := range placeholders {
		if len(v) == len(p) && strings.EqualFold(bytesString(v), p) {
			return false
		}
	}
	labelStart := 0
	lastAllDigits := true
	for i := 0; i <= len(v); i++ {
		if i == len(v) || v[i] == '.' {
			n := i - labelStart
			if n == 0 || n > 63 || v[labelStart] == '-' || v[i-1] == '-' {
				return false
			}
			lastAllDigits = allDigits(v[labelStart:i])
			labelStart = i + 1
			continue
		}
		b := v[i]
		if !(isDigit(b) || (b|0x20 >= 'a' && b|0x20 <= 'z') || b == '-' || b == '_') {
			return false
		}
	}
	return !lastAllDigits
}

func trimDot(v []byte) []byte {
	if len(v) > 0 && v[len(v)-1] == '.' {
		return v[:len(v)-1]
	}
	return v
}

var notInEmail = func() (t [256]bool) {
	for _, b := range []byte(" \t\r\n<>,;\"") {
		t[b] = true
	}
	return t
}()

// isEmail reports whether v looks like local@host.domain.
func isEmail(v []byte) bool {
	at := bytes.LastIndexByte(v, '@')
	if at <= 0 || at > 64 {
		return false
	}
	for _, b := range v {
		if notInEmail[b] {
			return false
		}
	}
	domain := v[at+1:]
	return bytes.IndexByte(domain, '.') > 0 && isHostname(domain)
}

func allDigits(v []byte) bool {
	for _, b := range v {
		if !isDigit(b) {
			return false
		}
	}
	return len(v) > 0
}

func isHexLen(v []byte, n int) bool {
	if len(v) != n {
		return false
	}
	for _, b := range v {
		if !isHex(b) {
			return false
		}
	}
	return true
}

// appendTo writes the non-empty p_any_* fields, each sorted and without
// duplicates, as object members: a comma, then "key":[...].
func (c *indicators) appendTo(dst []byte) []byte {
	if len(c.values) == 0 {
		return dst
	}
	arena := c.arena
	vals := c.values
	// Events hold a handful of indicators: insertion sort.
	for i := 1; i < len(vals); i++ {
		v := vals[i]
		j := i
		for ; j > 0; j-- {
			p := vals[j-1]
			if p.field < v.field || (p.field == v.field && bytes.Compare(arena[p.off:p.end], arena[v.off:v.end]) <= 0) {
				break
			}
			vals[j] = p
		}
		vals[j] = v
	}
	for i := 0; i < len(vals); {
		f := vals[i].field
		dst = append(dst, ',')
		dst = append(dst, pFieldKeys[f]...)
		dst = append(dst, '[')
		var prev []byte
		for first := true; i < len(vals) && vals[i].field == f; i++ {
			v := arena[vals[i].off:vals[i].end]
			if !first && bytes.Equal(v, prev) {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			if vals[i].plain {
				dst = append(dst, '"')
				dst = append(dst, v...)
				dst = append(dst, '"')
			} else {
				dst = AppendQuoted(dst, v)
			}
			prev = v
			first = false
		}
		dst = append(dst, ']')
	}
	return dst
}
