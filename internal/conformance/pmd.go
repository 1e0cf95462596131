package conformance

import (
	"fmt"
	"strconv"
	"strings"
)

// The harness as a permessage-deflate client (RFC 7692). A case that
// offers the extension reads the server's answer as strictly as RFC 7692
// section 7.1 allows, and then compresses what it sends and inflates what
// it receives with its own DEFLATE code (deflate.go), which checks that
// the server keeps to the window and the context takeover it agreed to:
// compress/flate always inflates with a 32 KiB window and would not notice.

const (
	extPMD               = "permessage-deflate"
	pmdServerNoTakeover  = "server_no_context_takeover"
	pmdClientNoTakeover  = "client_no_context_takeover"
	pmdServerWindowBits  = "server_max_window_bits"
	pmdClientWindowBits  = "client_max_window_bits"
	pmdMaxWindowBits     = 15
	pmdWindowBitsNoValue = -1 // client_max_window_bits offered without a value
)

// extElement is one element of a Sec-WebSocket-Extensions header: an
// extension name and its parameters, in order, as written (a quoted value
// unquoted, RFC 6455 section 9.1).
type extElement struct {
	name   string
	params []extParam
}

type extParam struct {
	name, value string
	hasValue    bool
}

// parseExtensions splits the values of a Sec-WebSocket-Extensions header
// into elements. It is lenient about spaces and strict about structure: an
// empty element or parameter name, or an unterminated quote, is an error.
func parseExtensions(values []string) ([]extElement, error) {
	var els []extElement
	for _, v := range values {
		for _, raw := range splitOutsideQuotes(v, ',') {
			var el extElement
			for i, part := range splitOutsideQuotes(raw, ';') {
				part = strings.TrimSpace(part)
				if i == 0 {
					if !isToken(part) {
						return nil, fmt.Errorf("extension name %q is not a token", part)
					}
					el.name = part
					continue
				}
				p := extParam{name: part}
				if k, val, ok := strings.Cut(part, "="); ok {
					p.name, p.value, p.hasValue = strings.TrimSpace(k), strings.TrimSpace(val), true
					if uq, ok := unquote(p.value); ok {
						p.value = uq
					} else if !isToken(p.value) {
						return nil, fmt.Errorf("parameter %s of %s has value %s, neither a token nor a quoted string", p.name, el.name, p.value)
					}
				}
				if !isToken(p.name) {
					return nil, fmt.Errorf("parameter name %q of %s is not a token", p.name, el.name)
				}
				el.params = append(el.params, p)
			}
			els = append(els, el)
		}
	}
	return els, nil
}

// splitOutsideQuotes splits s at each sep that is not inside a quoted
// string.
func splitOutsideQuotes(s string, sep byte) []string {
	var parts []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// unquote returns the content of the HTTP quoted-string s (RFC 9110
// section 5.6.4), or false if s is not one.
func unquote(s string) (string, bool) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", false
	}
	var b strings.Builder
	for i := 1; i < len(s)-1; i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i++; i == len(s)-1 {
				return "", false
			}
			c = s[i]
		case c == '"':
			return "", false
		}
		b.WriteByte(c)
	}
	return b.String(), true
}

// isToken reports whether s is an HTTP token (RFC 9110 section 5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// pmdParams are the parameters of one permessage-deflate offer or answer
// as written: a window of 0 is a parameter absent.
type pmdParams struct {
	serverNoTakeover, clientNoTakeover bool
	serverBits, clientBits             int
}

// parsePMD reads the parameters of a permessage-deflate element strictly
// (RFC 7692 section 7.1): no unknown or repeated parameter, no value on the
// takeover parameters, window sizes 8 to 15 written without leading zeros,
// and client_max_window_bits without a value only in an offer.
func parsePMD(el extElement, answer bool) (pmdParams, error) {
	var p pmdParams
	seen := make(map[string]bool)
	for _, q := range el.params {
		if seen[q.name] {
			return p, fmt.Errorf("parameter %s twice (§7)", q.name)
		}
		seen[q.name] = true
		switch q.name {
		case pmdServerNoTakeover, pmdClientNoTakeover:
			if q.hasValue {
				return p, fmt.Errorf("%s with a value, %q; it takes none (§7.1.1)", q.name, q.value)
			}
			if q.name == pmdServerNoTakeover {
				p.serverNoTakeover = true
			} else {
				p.clientNoTakeover = true
			}
		case pmdServerWindowBits, pmdClientWindowBits:
			bits := pmdWindowBitsNoValue
			if q.hasValue {
				if bits = parseWindowBits(q.value); bits == 0 {
					return p, fmt.Errorf("%s=%s is not a window size from 8 to 15 (§7.1.2)", q.name, q.value)
				}
			} else if q.name == pmdServerWindowBits || answer {
				return p, fmt.Errorf("%s without a value (§7.1.2)", q.name)
			}
			if q.name == pmdServerWindowBits {
				p.serverBits = bits
			} else {
				p.clientBits = bits
			}
		default:
			return p, fmt.Errorf("unknown parameter %s (§7)", q.name)
		}
	}
	return p, nil
}

// parseWindowBits parses "8" to "15", or returns 0.
func parseWindowBits(v string) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 8 || n > pmdMaxWindowBits || strconv.Itoa(n) != v {
		return 0
	}
	return n
}

// pmd is what a connection agreed: the parameters in effect in each
// direction, and the harness's compressor and decompressor.
type pmd struct {
	answer string // the server's Sec-WebSocket-Extensions

	serverBits, clientBits         int
	serverTakeover, clientTakeover bool

	out *deflater // what the harness sends
	in  *inflater // what the server sends
}

// agree checks the server's answer (the values of its
// Sec-WebSocket-Extensions) to offer as a strict client does, and returns
// the agreement, or nil if the server declined. A server must decline an
// invalid offer (RFC 7692 section 5), may decline a valid one, and may
// accept only a valid one, with an answer that honors it (section 7.1).
// When offer holds valid offers, declined says so; the caller decides
// whether the target may decline them.
func agree(offer string, answers []string) (p *pmd, declined bool, err error) {
	offers, err := parseExtensions([]string{offer})
	if err != nil {
		return nil, false, fmt.Errorf("the case's offer %q: %w", offer, err)
	}
	var valid []pmdParams
	for _, el := range offers {
		if el.name != extPMD {
			continue
		}
		if o, err := parsePMD(el, false); err == nil {
			valid = append(valid, o)
		}
	}
	ans, err := parseExtensions(answers)
	if err != nil {
		return nil, false, fmt.Errorf("upgrade response has Sec-WebSocket-Extensions %q: %w", answers, err)
	}
	switch {
	case len(answers) == 0:
		return nil, len(valid) > 0, nil
	case len(ans) > 1:
		return nil, false, fmt.Errorf("upgrade response accepts %d extensions, %q, to an offer of one, %q (RFC 6455 §9.1)", len(ans), answers, offer)
	case ans[0].name != extPMD:
		return nil, false, fmt.Errorf("upgrade response accepts extension %q, which was not offered (RFC 6455 §9.1)", ans[0].name)
	case len(valid) == 0:
		return nil, false, fmt.Errorf("upgrade response accepts %q, but every offer of %q is invalid and must be declined (RFC 7692 §5)", strings.Join(answers, ", "), offer)
	}
	a, err := parsePMD(ans[0], true)
	if err != nil {
		return nil, false, fmt.Errorf("upgrade response accepts %q: %w", strings.Join(answers, ", "), err)
	}
	var why error
	for _, o := range valid {
		if why = honors(a, o); why == nil {
			return newPMD(strings.Join(answers, ", "), o, a), false, nil
		}
	}
	return nil, false, fmt.Errorf("upgrade response accepts %q, which answers no offer of %q: %w", strings.Join(answers, ", "), offer, why)
}

// honors says why answer a cannot answer offer o, or returns nil.
func honors(a, o pmdParams) error {
	// §7.1.1.1: an offered server_no_context_takeover is accepted by
	// echoing it.
	if o.serverNoTakeover && !a.serverNoTakeover {
		return fmt.Errorf("%s was offered but not answered (RFC 7692 §7.1.1.1)", pmdServerNoTakeover)
	}
	// §7.1.2.1: an offered server_max_window_bits is accepted with the
	// same or a smaller value.
	if o.serverBits > 0 && (a.serverBits == 0 || a.serverBits > o.serverBits) {
		return fmt.Errorf("%s=%d was offered, the answer has %s (RFC 7692 §7.1.2.1)", pmdServerWindowBits, o.serverBits, bitsString(a.serverBits))
	}
	// §7.1.2.2: client_max_window_bits is answered only if offered, and
	// with no more than an offered value.
	if a.clientBits > 0 {
		switch {
		case o.clientBits == 0:
			return fmt.Errorf("the answer has %s=%d, which was not offered (RFC 7692 §7.1.2.2)", pmdClientWindowBits, a.clientBits)
		case o.clientBits > 0 && a.clientBits > o.clientBits:
			return fmt.Errorf("the answer has %s=%d, more than the %d offered (RFC 7692 §7.1.2.2)", pmdClientWindowBits, a.clientBits, o.clientBits)
		}
	}
	return nil
}

func bitsString(b int) string {
	if b == 0 {
		return "none"
	}
	return strconv.Itoa(b)
}

// newPMD is the agreement of answer a to offer o: the server keeps to the
// answer, the client to the answer and to what it offered itself.
func newPMD(answer string, o, a pmdParams) *pmd {
	p := &pmd{
		answer:         answer,
		serverBits:     pmdMaxWindowBits,
		clientBits:     pmdMaxWindowBits,
		serverTakeover: !a.serverNoTakeover,
		clientTakeover: !a.clientNoTakeover && !o.clientNoTakeover,
	}
	if a.serverBits > 0 {
		p.serverBits = a.serverBits
	}
	switch {
	case a.clientBits > 0:
		p.clientBits = a.clientBits
	case o.clientBits > 0:
		p.clientBits = o.clientBits
	}
	p.out = newDeflater(p.clientBits, p.clientTakeover)
	p.in = newInflater(p.serverBits, p.serverTakeover)
	return p
}
