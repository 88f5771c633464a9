// Copyright 2026 The duostream authors. Licensed under the MIT licence.

package schema

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Kind is the JSON kind of a decoded value.
type Kind uint8

// The JSON kinds.
const (
	KindNull Kind = iota + 1
	KindFalse
	KindTrue
	KindNumber
	KindString
	KindObject
	KindArray
)

// String returns the kind as it reads in error messages ("a string").
func (k Kind) String() string {
	switch k {
	case KindNull:
		return "null"
	case KindFalse, KindTrue:
		return "a boolean"
	case KindNumber:
		return "a number"
	case KindString:
		return "a string"
	case KindObject:
		return "an object"
	case KindArray:
		return "an array"
	}
	return "nothing"
}

const (
	flagEscaped = 1 << iota // the string holds backslash escapes
	flagBadUTF8             // the string holds bytes that are not UTF-8
)

// node is one JSON value of a Doc. Nodes sit in document order; an object's
// members are its key node followed by its value node.
type node struct {
	kind  Kind
	flags uint8
	// start and end bound the value in the source: a string's contents
	// without its quotes, a number's literal, a container's brackets.
	start, end uint32
	// next is the index of the first node after this value's subtree.
	next uint32
}

// maxDepth bounds how deeply arrays and objects may nest, as in
// encoding/json.
const maxDepth = 10000

// Doc is a decoded JSON document: the source bytes plus a flat index of its
// values. Strings and numbers are not copied: they are read from the source
// when needed. A Doc is reused through Parse; it is not safe for concurrent
// use.
type Doc struct {
	src   []byte
	nodes []node
	stack []uint32
}

// SyntaxError reports invalid JSON and the byte offset where it was found.
type SyntaxError struct {
	Offset int
	msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s at offset %d", e.msg, e.Offset)
}

// Parse decodes src into d, replacing what d held. It accepts exactly the
// documents encoding/json accepts (RFC 8259, any UTF-8 validity). d keeps a
// reference to src until the next Parse, so src must not change meanwhile.
func (d *Doc) Parse(src []byte) error {
	if len(src) > 1<<31 {
		return &SyntaxError{Offset: 0, msg: "document larger than 2 GiB"}
	}
	d.src = src
	d.nodes = d.nodes[:0]
	d.stack = d.stack[:0]
	p := &parser{d: d, src: src}
	return p.parse()
}

type parser struct {
	d   *Doc
	src []byte
	i   int
}

func (p *parser) errf(format string, args ...any) error {
	return &SyntaxError{Offset: p.i, msg: fmt.Sprintf(format, args...)}
}

func (p *parser) unexpected() error {
	if p.i >= len(p.src) {
		return p.errf("unexpected end of JSON input")
	}
	return p.errf("invalid character %s", quoteChar(p.src[p.i]))
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

var isSpace = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

func (p *parser) skipSpace() {
	for p.i < len(p.src) && isSpace[p.src[p.i]] {
		p.i++
	}
}

// parse is an iterative recursive-descent parser: containers are kept on
// d.stack so deep documents cannot exhaust the goroutine stack.
func (p *parser) parse() error {
	d := p.d
	p.skipSpace()
	if err := p.value(); err != nil {
		return err
	}
	for len(d.stack) > 0 {
		top := d.stack[len(d.stack)-1]
		n := &d.nodes[top]
		p.skipSpace()
		if p.i >= len(p.src) {
			return p.unexpected()
		}
		c := p.src[p.i]
		if n.kind == KindObject {
			// After '{' or a member value.
			members := top+1 != uint32(len(d.nodes))
			switch {
			case c == '}':
			case !members && c == '"', members && c == ',':
				if members {
					p.i++
					p.skipSpace()
					if p.i >= len(p.src) || p.src[p.i] != '"' {
						return p.unexpected()
					}
				}
				if err := p.str(); err != nil {
					return err
				}
				p.skipSpace()
				if p.i >= len(p.src) || p.src[p.i] != ':' {
					return p.unexpected()
				}
				p.i++
				p.skipSpace()
				if err := p.value(); err != nil {
					return err
				}
				continue
			default:
				return p.unexpected()
			}
		} else {
			members := top+1 != uint32(len(d.nodes))
			switch {
			case c == ']':
			case members && c == ',':
				p.i++
				p.skipSpace()
				if err := p.value(); err != nil {
					return err
				}
				continue
			case !members:
				if err := p.value(); err != nil {
					return err
				}
				continue
			default:
				return p.unexpected()
			}
		}
		// Close the container.
		p.i++
		n = &d.nodes[top]
		n.end = uint32(p.i)
		n.next = uint32(len(d.nodes))
		d.stack = d.stack[:len(d.stack)-1]
	}
	p.skipSpace()
	if p.i != len(p.src) {
		return p.errf("invalid character %s after top-level value", quoteChar(p.src[p.i]))
	}
	return nil
}

// value reads one value. A container is opened and pushed on the stack; the
// loop in parse reads its members.
func (p *parser) value() error {
	d := p.d
	if p.i >= len(p.src) {
		return p.unexpected()
	}
	switch c := p.src[p.i]; c {
	case '{', '[':
		if len(d.stack) >= maxDepth {
			return p.errf("exceeded max depth of %d", maxDepth)
		}
		k := KindObject
		if c == '[' {
			k = KindArray
		}
		d.stack = append(d.stack, uint32(len(d.nodes)))
		d.nodes = append(d.nodes, node{kind: k, start: uint32(p.i)})
		p.i++
		p.skipSpace()
		return nil
	case '"':
		return p.str()
	case 't':
		return p.literal("true", KindTrue)
	case 'f':
		return p.literal("false", KindFalse)
	case 'n':
		return p.literal("null", KindNull)
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return p.number()
		}
		return p.unexpected()
	}
}

func (p *parser) literal(lit string, k Kind) error {
	start := p.i
	for j := 0; j < len(lit); j++ {
		if p.i >= len(p.src) || p.src[p.i] != lit[j] {
			return p.unexpected()
		}
		p.i++
	}
	p.d.nodes = append(p.d.nodes, node{kind: k, start: uint32(start), end: uint32(p.i), next: uint32(len(p.d.nodes) + 1)})
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (p *parser) number() error {
	s, i := p.src, p.i
	start := i
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		p.i = i
		return p.unexpected()
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			p.i = i
			return p.unexpected()
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			p.i = i
			return p.unexpected()
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	p.i = i
	p.d.nodes = append(p.d.nodes, node{kind: KindNumber, start: uint32(start), end: uint32(i), next: uint32(len(p.d.nodes) + 1)})
	return nil
}

// strPlain marks the bytes a string can hold without a closer look.
var strPlain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// str reads a string starting at its opening quote.
func (p *parser) str() error {
	s := p.src
	i := p.i + 1
	start := i
	var flags uint8
	for {
		for i < len(s) && strPlain[s[i]] {
			i++
		}
		if i >= len(s) {
			p.i = i
			return p.errf("unexpected end of JSON input")
		}
		switch c := s[i]; {
		case c == '"':
			if flags&flagBadUTF8 != 0 && utf8.Valid(s[start:i]) {
				flags &^= flagBadUTF8
			}
			p.d.nodes = append(p.d.nodes, node{kind: KindString, flags: flags, start: uint32(start), end: uint32(i), next: uint32(len(p.d.nodes) + 1)})
			p.i = i + 1
			return nil
		case c == '\\':
			flags |= flagEscaped
			i++
			if i >= len(s) {
				p.i = i
				return p.errf("unexpected end of JSON input")
			}
			switch s[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				for j := 1; j <= 4; j++ {
					if i+j >= len(s) || !isHex(s[i+j]) {
						p.i = i + j
						return p.unexpected()
					}
				}
				i += 5
			default:
				p.i = i
				return p.errf("invalid escape %s in string", quoteChar(s[i]))
			}
		case c < 0x20:
			p.i = i
			return p.errf("invalid control character %s in string", quoteChar(c))
		default:
			// Non-ASCII: assume bad until the whole string is checked.
			flags |= flagBadUTF8
			i++
		}
	}
}

// Root is the index of the document's top-level value.
const Root = 0

// Kind returns the kind of value i.
func (d *Doc) Kind(i int) Kind { return d.nodes[i].kind }

// Next returns the index just past value i and its descendants.
func (d *Doc) Next(i int) int { return int(d.nodes[i].next) }

// Raw returns the source bytes of value i: a string's contents without the
// quotes and unescaped, a number's literal, a container's text.
func (d *Doc) Raw(i int) []byte {
	n := &d.nodes[i]
	return d.src[n.start:n.end]
}

// Str returns the decoded contents of string value i. When the string holds
// no escapes it aliases the source; otherwise it is decoded into scratch,
// which it returns grown as needed.
func (d *Doc) Str(i int, scratch []byte) (s, grown []byte) {
	n := &d.nodes[i]
	raw := d.src[n.start:n.end]
	if n.flags&flagEscaped == 0 {
		return raw, scratch
	}
	start := len(scratch)
	scratch = unescape(scratch, raw)
	return scratch[start:], scratch
}

// unescape appends the decoded form of the valid escaped string contents
// raw to dst.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' {
			j := i + 1
			for j < len(raw) && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
			continue
		}
		i++
		switch raw[i] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hex4(raw[i+1:])
			i += 4
			if utf16.IsSurrogate(r) {
				dec := utf8.RuneError
				if i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					if dec = utf16.DecodeRune(r, hex4(raw[i+3:])); dec != utf8.RuneError {
						i += 6
					}
				}
				r = dec
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, raw[i])
		}
		i++
	}
	return dst
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		default:
			c = c - 'A' + 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// Lookup returns the index of the value of member key of object obj, or -1.
func (d *Doc) Lookup(obj int, key string) int {
	if d.nodes[obj].kind != KindObject {
		return -1
	}
	var scratch [64]byte
	end := int(d.nodes[obj].next)
	for i := obj + 1; i < end; {
		k, _ := d.Str(i, scratch[:0])
		if string(k) == key {
			return i + 1
		}
		i = int(d.nodes[i+1].next)
	}
	return -1
}

// AppendValue appends value i to dst as compact JSON. Strings are copied as
// they were written, escapes included, except that bytes that are not UTF-8
// become U+FFFD.
func (d *Doc) AppendValue(dst []byte, i int) []byte {
	n := &d.nodes[i]
	switch n.kind {
	case KindObject:
		dst = append(dst, '{')
		for j := i + 1; j < int(n.next); j = int(d.nodes[j+1].next) {
			if j > i+1 {
				dst = append(dst, ',')
			}
			dst = d.appendString(dst, j)
			dst = append(dst, ':')
			dst = d.AppendValue(dst, j+1)
		}
		return append(dst, '}')
	case KindArray:
		dst = append(dst, '[')
		for j := i + 1; j < int(n.next); j = int(d.nodes[j].next) {
			if j > i+1 {
				dst = append(dst, ',')
			}
			dst = d.AppendValue(dst, j)
		}
		return append(dst, ']')
	case KindString:
		return d.appendString(dst, i)
	}
	return append(dst, d.src[n.start:n.end]...)
}

// appendString appends string node j, quoted.
func (d *Doc) appendString(dst []byte, j int) []byte {
	n := &d.nodes[j]
	raw := d.src[n.start:n.end]
	dst = append(dst, '"')
	if n.flags&flagBadUTF8 == 0 {
		dst = append(dst, raw...)
	} else {
		for len(raw) > 0 {
			r, size := utf8.DecodeRune(raw)
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, `\ufffd`...)
			} else {
				dst = append(dst, raw[:size]...)
			}
			raw = raw[size:]
		}
	}
	return append(dst, '"')
}

// AppendQuoted appends s to dst as a JSON string.
func AppendQuoted(dst []byte, s []byte) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if strPlain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				const hexd = "0123456789abcdef"
				dst = append(dst, '\\', 'u', '0', '0', hexd[c>>4], hexd[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

var errNotObject = errors.New("event is not a JSON object")
