package main

import "bytes"

// The algorithm of examples/redact/SPEC.md, which the four builds of the
// example share byte for byte. It is kept apart from the plugin glue so
// that `go test` runs it on any platform.

// redactor holds the buffers the two passes write into, so that a filter
// that redacts every message allocates only when a message is longer than
// any before it.
type redactor struct {
	cards, emails []byte
}

// redact returns p with its card numbers and the local parts of its e-mail
// addresses masked, and whether anything changed. The result aliases the
// redactor's buffers: it is valid until the next call.
func (r *redactor) redact(p []byte) ([]byte, bool) {
	var cardsChanged, emailsChanged bool
	r.cards, cardsChanged = maskCards(r.cards[:0], p)
	r.emails, emailsChanged = maskEmails(r.emails[:0], r.cards)
	return r.emails, cardsChanged || emailsChanged
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isCardSeparator(c byte) bool { return c == ' ' || c == '-' }

// maskCards is pass 1: it appends src to dst with every digit of each card
// number but the last four replaced by '*', and reports whether it masked
// any.
func maskCards(dst, src []byte) ([]byte, bool) {
	start := len(dst)
	dst = append(dst, src...)
	out := dst[start:]
	changed := false
	for i := 0; i < len(src); {
		if !isDigit(src[i]) {
			i++
			continue
		}
		// A candidate starts here: the scan skips whole candidates, and a
		// candidate ends before a non-digit, so src[i-1] is no digit.
		end, digits := i+1, 1
		for end < len(src) {
			if isDigit(src[end]) {
				end++
			} else if isCardSeparator(src[end]) && end+1 < len(src) && isDigit(src[end+1]) {
				end += 2
			} else {
				break
			}
			digits++
		}
		if 13 <= digits && digits <= 19 && luhn(src[i:end]) {
			mask := digits - 4
			for j := i; mask > 0; j++ {
				if isDigit(out[j]) {
					out[j] = '*'
					mask--
				}
			}
			changed = true
		}
		i = end
	}
	return dst, changed
}

// luhn reports whether the digits of a candidate (separators skipped)
// pass the Luhn check.
func luhn(candidate []byte) bool {
	sum, double := 0, false
	for i := len(candidate) - 1; i >= 0; i-- {
		c := candidate[i]
		if !isDigit(c) {
			continue
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

func isLetterOrDigit(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || isDigit(c)
}

func isLocal(c byte) bool {
	return isLetterOrDigit(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isDomain(c byte) bool { return isLetterOrDigit(c) || c == '.' || c == '-' }

// maskEmails is pass 2: it appends src to dst with the local part of each
// e-mail address replaced by "***", and reports whether it replaced any.
func maskEmails(dst, src []byte) ([]byte, bool) {
	copied := 0 // src[:copied] is in dst already
	p := 0      // no local part reaches before p
	changed := false
	for from := 0; ; {
		k := bytes.IndexByte(src[from:], '@')
		if k < 0 {
			break
		}
		a := from + k
		s := a
		for s > p && isLocal(src[s-1]) {
			s--
		}
		if s == a {
			from = a + 1
			continue
		}
		e := a + 1
		for e < len(src) && isDomain(src[e]) {
			e++
		}
		for e > a+1 && (src[e-1] == '.' || src[e-1] == '-') {
			e--
		}
		if !validDomain(src[a+1 : e]) {
			from = a + 1
			continue
		}
		dst = append(append(dst, src[copied:s]...), "***"...)
		copied = a
		changed = true
		p, from = e, e
	}
	return append(dst, src[copied:]...), changed
}

// validDomain reports whether a trimmed domain is one pass 2 accepts:
// not empty, not starting with '.' or '-', with a dot and no two in a row.
func validDomain(d []byte) bool {
	return len(d) > 0 && d[0] != '.' && d[0] != '-' &&
		bytes.IndexByte(d, '.') >= 0 && !bytes.Contains(d, []byte(".."))
}
