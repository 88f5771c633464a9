// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package schema

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

// timeFormat parses one timestamp notation and writes it back.
type timeFormat struct {
	kind timeKind
	// layout is the Go layout of a custom (strftime) format.
	layout string
	// describe completes "is not ..." in error messages.
	describe string
}

type timeKind uint8

const (
	timeRFC3339 timeKind = iota + 1
	timeUnix
	timeUnixMs
	timeUnixUs
	timeUnixNs
	timeCustom
)

// unixScale is the number of nanoseconds in one unit of each unix format.
var unixScale = map[timeKind]int64{timeUnix: 1e9, timeUnixMs: 1e6, timeUnixUs: 1e3, timeUnixNs: 1}

// newTimeFormat compiles a schema timeFormat: rfc3339, unix, unix_ms,
// unix_us, unix_ns, or a strftime layout such as "%Y-%m-%d %H:%M:%S".
func newTimeFormat(name string) (*timeFormat, error) {
	switch name {
	case "rfc3339":
		return &timeFormat{kind: timeRFC3339, describe: "an RFC 3339 timestamp"}, nil
	case "unix":
		return &timeFormat{kind: timeUnix, describe: "a unix timestamp in seconds"}, nil
	case "unix_ms":
		return &timeFormat{kind: timeUnixMs, describe: "a unix timestamp in milliseconds"}, nil
	case "unix_us":
		return &timeFormat{kind: timeUnixUs, describe: "a unix timestamp in microseconds"}, nil
	case "unix_ns":
		return &timeFormat{kind: timeUnixNs, describe: "a unix timestamp in nanoseconds"}, nil
	}
	layout, err := strftimeLayout(name)
	if err != nil {
		return nil, err
	}
	return &timeFormat{kind: timeCustom, layout: layout, describe: fmt.Sprintf("a timestamp in the format %q", name)}, nil
}

// strftimeDirectives maps strftime directives to Go layout elements.
var strftimeDirectives = map[byte]string{
	'Y': "2006", 'y': "06", 'm': "01", 'd': "02", 'e': "_2", 'H': "15", 'I': "03",
	'M': "04", 'S': "05", 'f': "999999999", 'p': "PM", 'b': "Jan", 'h': "Jan", 'B': "January",
	'a': "Mon", 'A': "Monday", 'z': "-0700", 'Z': "MST", 'j': "002",
	'F': "2006-01-02", 'T': "15:04:05", '%': "%",
}

// strftimeLayout turns a strftime layout into a Go time layout.
func strftimeLayout(s string) (string, error) {
	if !strings.Contains(s, "%") {
		return "", fmt.Errorf("unknown time format %q: use rfc3339, unix, unix_ms, unix_us, unix_ns or a strftime layout such as %%Y-%%m-%%d %%H:%%M:%%S", s)
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if !strings.ContainsRune(" -/:,.T[]()", rune(c)) {
				// Go layouts give meaning to digits and some words, so only
				// plain separators may stand between directives.
				return "", fmt.Errorf("time format %q: literal %q is not supported, only the separators \" -/:,.T[]()\" may appear between directives", s, c)
			}
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(s) {
			return "", fmt.Errorf("time format %q ends with a lone %%", s)
		}
		el, ok := strftimeDirectives[s[i]]
		if !ok {
			return "", fmt.Errorf("time format %q: unsupported directive %%%c", s, s[i])
		}
		if s[i] == 'f' {
			// Go wants the fraction to follow a dot or comma in the layout.
			str := b.String()
			if !strings.HasSuffix(str, ".") && !strings.HasSuffix(str, ",") {
				return "", fmt.Errorf("time format %q: %%f must follow a '.' or ','", s)
			}
		}
		b.WriteString(el)
	}
	return b.String(), nil
}

// bytesString views b as a string without copying. The string must not be
// kept past the call it is passed to.
func bytesString(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// parse reads a timestamp from a JSON value of kind k with text raw (a
// number's literal or a string's decoded contents).
func (f *timeFormat) parse(k Kind, raw []byte) (time.Time, bool) {
	switch f.kind {
	case timeRFC3339:
		if k != KindString {
			return time.Time{}, false
		}
		t, err := time.Parse(time.RFC3339Nano, bytesString(raw))
		return t, err == nil
	case timeCustom:
		if k != KindString {
			return time.Time{}, false
		}
		// A copy: a parsed zone name would otherwise alias raw.
		t, err := time.Parse(f.layout, string(raw))
		return t, err == nil
	}
	if k != KindString && k != KindNumber {
		return time.Time{}, false
	}
	ns, ok := parseDecimalNanos(raw, unixScale[f.kind])
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, ns).UTC(), true
}

// parseDecimalNanos reads a decimal number of units, each scale
// nanoseconds, exactly: 1581620180.351346 seconds becomes
// 1581620180351346000 ns with no floating-point rounding. Exponents are
// accepted through a float fallback.
func parseDecimalNanos(raw []byte, scale int64) (int64, bool) {
	s := raw
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg = true
		s = s[1:]
	}
	if len(s) == 0 {
		return 0, false
	}
	var whole int64
	i := 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		if whole > (math.MaxInt64-9)/10 {
			return 0, false
		}
		whole = whole*10 + int64(s[i]-'0')
	}
	if i == 0 {
		return 0, false
	}
	if whole > math.MaxInt64/scale {
		return 0, false
	}
	ns := whole * scale
	if i < len(s) && s[i] == '.' {
		i++
		digits := 0
		unit := scale
		for ; i < len(s) && isDigit(s[i]); i++ {
			digits++
			if unit >= 10 {
				unit /= 10
				ns += int64(s[i]-'0') * unit
			}
		}
		if digits == 0 {
			return 0, false
		}
	}
	if i < len(s) {
		if s[i] != 'e' && s[i] != 'E' {
			return 0, false
		}
		f, err := strconv.ParseFloat(bytesString(raw), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return 0, false
		}
		v := f * float64(scale)
		if v >= math.MaxInt64 || v <= math.MinInt64 {
			return 0, false
		}
		return int64(v), true
	}
	if neg {
		ns = -ns
	}
	return ns, true
}

// appendTime writes t in format f as a JSON value: RFC 3339 and custom
// layouts as strings, unix formats as numbers with microsecond precision.
func (f *timeFormat) appendTime(dst []byte, t time.Time) []byte {
	switch f.kind {
	case timeRFC3339:
		dst = append(dst, '"')
		dst = t.AppendFormat(dst, time.RFC3339Nano)
		return append(dst, '"')
	case timeCustom:
		return AppendQuoted(dst, t.AppendFormat(nil, f.layout))
	}
	return appendUnix(dst, t.UnixNano(), unixScale[f.kind])
}

// appendUnix writes ns as a decimal number of units of scale nanoseconds,
// keeping microsecond precision and dropping trailing zeros.
func appendUnix(dst []byte, ns, scale int64) []byte {
	if ns < 0 {
		dst = append(dst, '-')
		ns = -ns
	}
	whole, frac := ns/scale, ns%scale
	dst = strconv.AppendInt(dst, whole, 10)
	// Truncate to microseconds.
	if scale > 1e3 {
		frac -= frac % 1e3
	} else {
		frac = 0
	}
	if frac == 0 {
		return dst
	}
	dst = append(dst, '.')
	var digits [20]byte
	n := 0
	for unit := scale / 10; unit >= 1; unit /= 10 {
		digits[n] = byte('0' + frac/unit%10)
		n++
	}
	for n > 0 && digits[n-1] == '0' {
		n--
	}
	return append(dst, digits[:n]...)
}

// appendUTC writes t in UTC as a quoted RFC 3339 timestamp with up to
// nanosecond precision and no trailing zeros, Panther's p_event_time and
// p_parse_time notation. It is time.RFC3339Nano, written without the
// general formatter.
func appendUTC(dst []byte, t time.Time) []byte {
	secs := t.Unix()
	const minSecs, maxSecs = -62135596800, 253402300799 // years 1 to 9999
	if secs < minSecs || secs > maxSecs {
		dst = append(dst, '"')
		dst = t.UTC().AppendFormat(dst, time.RFC3339Nano)
		return append(dst, '"')
	}
	days := secs / 86400
	sod := secs - days*86400
	if sod < 0 {
		sod += 86400
		days--
	}
	y, m, d := civil(days)
	var b [32]byte
	b[0] = '"'
	put4(b[1:], y)
	b[5] = '-'
	put2(b[6:], m)
	b[8] = '-'
	put2(b[9:], d)
	b[11] = 'T'
	put2(b[12:], int(sod/3600))
	b[14] = ':'
	put2(b[15:], int(sod/60%60))
	b[17] = ':'
	put2(b[18:], int(sod%60))
	n := 20
	if ns := t.Nanosecond(); ns != 0 {
		b[n] = '.'
		n++
		for unit := 100000000; unit > 0 && ns > 0; unit /= 10 {
			b[n] = byte('0' + ns/unit)
			ns %= unit
			n++
		}
	}
	b[n] = 'Z'
	b[n+1] = '"'
	return append(dst, b[:n+2]...)
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (Howard Hinnant's days_from_civil inverse).
func civil(days int64) (y, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	y = int(yoe + era*400)
	if m <= 2 {
		y++
	}
	return y, m, d
}

func put2(b []byte, v int) {
	b[0] = byte('0' + v/10)
	b[1] = byte('0' + v%10)
}

func put4(b []byte, v int) {
	put2(b, v/100)
	put2(b[2:], v%100)
}

// rfc3339Fast reads the common form of an RFC 3339 timestamp,
// "2006-01-02T15:04:05[.fraction](Z|±07:00)" with at most nine fraction
// digits, without the general parser, and writes it to dst as
// time.RFC3339Nano would: trailing fraction zeros dropped and a zero offset
// written as Z. It returns the instant as unix seconds and nanoseconds and
// whether the offset is zero. When ok is false nothing was written and the
// caller falls back to time.Parse, which has the last word on what is
// valid.
func rfc3339Fast(dst, s []byte) (out []byte, secs int64, nanos int, utc, ok bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return dst, 0, 0, false, false
	}
	y, ok1 := digits(s[0:4])
	mo, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	h, ok4 := digits(s[11:13])
	mi, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || d > daysIn(mo, y) || h > 23 || mi > 59 || sec > 59 {
		return dst, 0, 0, false, false
	}
	i := 19
	fracStart, fracEnd := i, i
	if s[i] == '.' {
		i++
		fracStart = i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		fracEnd = i
		if n := fracEnd - fracStart; n == 0 || n > 9 {
			return dst, 0, 0, false, false
		}
	}
	var off int
	switch rest := s[i:]; {
	case len(rest) == 1 && rest[0] == 'Z':
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		oh, okh := digits(rest[1:3])
		om, okm := digits(rest[4:6])
		if !okh || !okm || oh > 23 || om > 59 {
			return dst, 0, 0, false, false
		}
		off = oh*3600 + om*60
		if rest[0] == '-' {
			off = -off
		}
	default:
		return dst, 0, 0, false, false
	}
	for j := fracStart; j < fracEnd; j++ {
		nanos = nanos*10 + int(s[j]-'0')
	}
	for j := fracEnd - fracStart; j < 9; j++ {
		nanos *= 10
	}
	// Trim trailing zeros of the fraction.
	for fracEnd > fracStart && s[fracEnd-1] == '0' {
		fracEnd--
	}
	dst = append(dst, '"')
	dst = append(dst, s[:19]...)
	if fracEnd > fracStart {
		dst = append(dst, '.')
		dst = append(dst, s[fracStart:fracEnd]...)
	}
	if off == 0 {
		dst = append(dst, 'Z')
	} else {
		dst = append(dst, s[i:]...)
	}
	dst = append(dst, '"')
	secs = daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+sec) - int64(off)
	return dst, secs, nanos, off == 0, true
}

func digits(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}
