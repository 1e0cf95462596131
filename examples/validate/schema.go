package main

import (
	"errors"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// kind is the JSON type of a value, as a schema names it.
type kind uint8

const (
	kindAny kind = iota
	kindString
	kindNumber  // any JSON number
	kindInteger // a number written without fraction or exponent
	kindBoolean
	kindObject
	kindArray
	kindNull
)

var kindNames = [...]string{
	kindAny:     "any",
	kindString:  "string",
	kindNumber:  "number",
	kindInteger: "integer",
	kindBoolean: "boolean",
	kindObject:  "object",
	kindArray:   "array",
	kindNull:    "null",
}

func (k kind) String() string { return kindNames[k] }

// parseKind returns the kind a schema names, and false for an unknown
// name.
func parseKind(name string) (kind, bool) {
	for k, n := range kindNames {
		if n == name {
			return kind(k), true
		}
	}
	return 0, false
}

// accepts reports whether a value of kind got is of the kind k wants.
func (k kind) accepts(got kind) bool {
	return k == kindAny || k == got || k == kindNumber && got == kindInteger
}

// field is a member the schema declares.
type field struct {
	name     string
	kind     kind
	required bool
}

// schema is the shape of a valid message: a JSON object whose declared
// members have their kinds, with every required member, and other members
// only when allowUnknown.
type schema struct {
	fields       []field
	byName       map[string]int // index in fields
	allowUnknown bool
	maxDepth     int // of nested objects and arrays, the message's own object being 1

	// Per message, reused: seen[i] is set once fields[i] was met, key
	// holds a member name with escapes, decoded.
	seen []bool
	key  []byte
}

// newSchema returns the schema of the declared fields; each name in
// required must be one of them.
func newSchema(fields map[string]kind, required []string, allowUnknown bool, maxDepth int) (*schema, error) {
	s := &schema{byName: make(map[string]int, len(fields)), allowUnknown: allowUnknown, maxDepth: maxDepth}
	for name, k := range fields {
		s.byName[name] = len(s.fields)
		s.fields = append(s.fields, field{name: name, kind: k})
	}
	// Required fields are reported missing in the order they were
	// listed: move them to the front, in that order.
	for n, name := range required {
		i, ok := s.byName[name]
		if !ok {
			return nil, errors.New("required field " + strconv.Quote(name) + ` is not in fields (give it a type, "any" if need be)`)
		}
		if s.fields[i].required {
			return nil, errors.New("required field " + strconv.Quote(name) + " is listed twice")
		}
		s.fields[i].required = true
		j := n
		s.fields[i], s.fields[j] = s.fields[j], s.fields[i]
		s.byName[s.fields[i].name], s.byName[s.fields[j].name] = i, j
	}
	s.seen = make([]bool, len(s.fields))
	return s, nil
}

// errDepth stops a scan at once: a message nested deeper than the schema
// allows is not read any further.
var errDepth = errors.New("nesting too deep")

// check returns nil when p is a valid message, or the violation: a short
// text fit for the sender. A syntax error anywhere in p wins over a
// member that breaks the schema, which wins over a missing member.
func (s *schema) check(p []byte) error {
	if !utf8.Valid(p) {
		return errors.New("invalid JSON: not UTF-8")
	}
	clear(s.seen)
	sc := scanner{p: p, maxDepth: s.maxDepth}
	sc.space()
	var violation error
	if sc.peek() == '{' {
		violation = s.object(&sc)
	} else if _, err := sc.value(1); err == nil {
		violation = errors.New("not an object")
	}
	if sc.err == nil {
		sc.space()
		if sc.i < len(p) {
			sc.fail()
		}
	}
	switch {
	case sc.err == errDepth:
		return errors.New("nesting deeper than " + strconv.Itoa(s.maxDepth))
	case sc.err != nil:
		return sc.err
	case violation != nil:
		return violation
	}
	for i := range s.fields {
		if s.fields[i].required && !s.seen[i] {
			return errors.New("missing field " + quoteName(s.fields[i].name))
		}
	}
	return nil
}

// object scans the message's own object and returns the first member
// that breaks the schema.
func (s *schema) object(sc *scanner) error {
	var violation error
	sc.i++ // '{'
	sc.space()
	if sc.peek() == '}' {
		sc.i++
		return nil
	}
	for sc.err == nil {
		sc.space()
		raw, escaped := sc.str()
		sc.space()
		sc.expect(':')
		sc.space()
		got, _ := sc.value(2)
		if sc.err != nil {
			break
		}
		if violation == nil {
			violation = s.member(s.name(raw, escaped), got)
		}
		sc.space()
		if sc.peek() == ',' {
			sc.i++
			continue
		}
		sc.expect('}')
		break
	}
	return violation
}

// member checks one member of the message's object.
func (s *schema) member(name []byte, got kind) error {
	i, ok := s.byName[string(name)]
	switch {
	case !ok && s.allowUnknown:
		return nil
	case !ok:
		return errors.New("unknown field " + quoteName(string(name)))
	case s.seen[i]:
		// The upstream may believe the other one.
		return errors.New("duplicate field " + quoteName(string(name)))
	}
	s.seen[i] = true
	if f := s.fields[i]; !f.kind.accepts(got) {
		return errors.New("field " + quoteName(f.name) + ": want " + f.kind.String() + ", got " + got.String())
	}
	return nil
}

// name returns a member's name from its raw bytes between the quotes,
// decoding escapes into s.key.
func (s *schema) name(raw []byte, escaped bool) []byte {
	if !escaped {
		return raw
	}
	s.key = unescape(s.key[:0], raw)
	return s.key
}

// maxNameInDetail bounds the part of a violation's text that the sender
// wrote, so that the text fits a close reason (123 bytes).
const maxNameInDetail = 64

// quoteName returns a member name for a violation's text: as it is when
// short, else cut at a character boundary and marked with "...".
func quoteName(name string) string {
	if len(name) <= maxNameInDetail {
		return name
	}
	n := maxNameInDetail
	for n > 0 && !utf8.RuneStart(name[n]) {
		n--
	}
	return name[:n] + "..."
}

// scanner reads JSON (RFC 8259) from p. The first syntax error stops it:
// it sets err, after which every method returns at once.
type scanner struct {
	p        []byte
	i        int
	maxDepth int
	err      error
}

// fail records a syntax error at the current byte.
func (sc *scanner) fail() {
	if sc.err == nil {
		sc.err = errors.New("invalid JSON at byte " + strconv.Itoa(sc.i))
	}
}

// peek returns the next byte, or 0 at the end.
func (sc *scanner) peek() byte {
	if sc.i < len(sc.p) {
		return sc.p[sc.i]
	}
	return 0
}

func (sc *scanner) space() {
	for sc.i < len(sc.p) {
		switch sc.p[sc.i] {
		case ' ', '\t', '\n', '\r':
			sc.i++
		default:
			return
		}
	}
}

func (sc *scanner) expect(c byte) {
	if sc.err != nil {
		return
	}
	if sc.peek() != c {
		sc.fail()
		return
	}
	sc.i++
}

// value scans one value at depth (of the objects and arrays around it,
// plus one) and returns its kind.
func (sc *scanner) value(depth int) (kind, error) {
	if sc.err != nil {
		return 0, sc.err
	}
	switch c := sc.peek(); {
	case c == '{' || c == '[':
		if depth > sc.maxDepth {
			sc.err = errDepth
			return 0, sc.err
		}
		sc.container(depth)
		if c == '{' {
			return kindObject, sc.err
		}
		return kindArray, sc.err
	case c == '"':
		sc.str()
		return kindString, sc.err
	case c == '-' || '0' <= c && c <= '9':
		return sc.number(), sc.err
	case c == 't':
		return kindBoolean, sc.literal("true")
	case c == 'f':
		return kindBoolean, sc.literal("false")
	case c == 'n':
		return kindNull, sc.literal("null")
	}
	sc.fail()
	return 0, sc.err
}

// container scans an object or an array whose members are at depth+1.
func (sc *scanner) container(depth int) {
	end := byte(']')
	if sc.peek() == '{' {
		end = '}'
	}
	sc.i++
	sc.space()
	if sc.peek() == end {
		sc.i++
		return
	}
	for sc.err == nil {
		sc.space()
		if end == '}' {
			sc.str()
			sc.space()
			sc.expect(':')
			sc.space()
		}
		sc.value(depth + 1)
		sc.space()
		if sc.err == nil && sc.peek() == ',' {
			sc.i++
			continue
		}
		sc.expect(end)
		return
	}
}

func (sc *scanner) literal(word string) error {
	if len(sc.p)-sc.i < len(word) || string(sc.p[sc.i:sc.i+len(word)]) != word {
		sc.fail()
		return sc.err
	}
	sc.i += len(word)
	return nil
}

// number scans a number and returns kindInteger when it has neither
// fraction nor exponent, kindNumber otherwise.
func (sc *scanner) number() kind {
	k := kindInteger
	if sc.peek() == '-' {
		sc.i++
	}
	switch c := sc.peek(); {
	case c == '0':
		sc.i++
	case '1' <= c && c <= '9':
		sc.digits()
	default:
		sc.fail()
		return 0
	}
	if sc.peek() == '.' {
		sc.i++
		k = kindNumber
		if !sc.digits() {
			return 0
		}
	}
	if c := sc.peek(); c == 'e' || c == 'E' {
		sc.i++
		k = kindNumber
		if c := sc.peek(); c == '+' || c == '-' {
			sc.i++
		}
		if !sc.digits() {
			return 0
		}
	}
	return k
}

// digits scans one or more digits, and fails without any.
func (sc *scanner) digits() bool {
	start := sc.i
	for sc.i < len(sc.p) && '0' <= sc.p[sc.i] && sc.p[sc.i] <= '9' {
		sc.i++
	}
	if sc.i == start {
		sc.fail()
		return false
	}
	return true
}

// str scans a string and returns its raw bytes between the quotes, and
// whether they hold escapes.
func (sc *scanner) str() (raw []byte, escaped bool) {
	if sc.err != nil {
		return nil, false
	}
	if sc.peek() != '"' {
		sc.fail()
		return nil, false
	}
	sc.i++
	start := sc.i
	for sc.i < len(sc.p) {
		c := sc.p[sc.i]
		switch {
		case c == '"':
			sc.i++
			return sc.p[start : sc.i-1], escaped
		case c < 0x20:
			sc.fail()
			return nil, false
		case c == '\\':
			escaped = true
			sc.i++
			switch sc.peek() {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				sc.i++
			case 'u':
				sc.i++
				if len(sc.p)-sc.i < 4 || hex4(sc.p[sc.i:]) < 0 {
					sc.fail()
					return nil, false
				}
				sc.i += 4
			default:
				sc.fail()
				return nil, false
			}
		default:
			sc.i++
		}
	}
	sc.fail()
	return nil, false
}

// hex4 returns the value of the four hex digits that start b, or -1.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// unescape appends the decoding of raw, the bytes between the quotes of a
// string the scanner accepted, to dst. A lone surrogate becomes U+FFFD,
// as encoding/json decodes it.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
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
				r2 := utf8.RuneError
				if i+6 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					r2 = hex4(raw[i+3:])
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					i += 6
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, raw[i])
		}
	}
	return dst
}
