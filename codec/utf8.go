package codec

import "unicode/utf8"

// utf8Validator validates UTF-8 that arrives in pieces (the fragments of a
// text message), failing as soon as a byte makes the text invalid rather
// than at the end of the message. A sequence split across two pieces is
// carried over in a few bytes of state.
//
// The zero value is ready for a new message.
type utf8Validator struct {
	need   uint8 // continuation bytes still expected
	lo, hi byte  // range allowed for the next continuation byte
}

// Feed validates the next piece. It returns false as soon as the text can
// no longer be valid UTF-8, whatever follows.
func (v *utf8Validator) Feed(p []byte) bool {
	i := 0
	for v.need > 0 && i < len(p) {
		if b := p[i]; b < v.lo || b > v.hi {
			return false
		}
		v.need--
		v.lo, v.hi = 0x80, 0xbf
		i++
	}
	p = p[i:]
	if len(p) == 0 {
		return true
	}
	// Everything before a trailing incomplete sequence goes through the
	// standard library's validator, which has an ASCII fast path.
	cut := len(p)
	for j := len(p) - 1; j >= 0 && j >= len(p)-3; j-- {
		b := p[j]
		if b < 0x80 {
			break
		}
		if b >= 0xc0 {
			if len(p)-j < seqLen(b) {
				cut = j
			}
			break
		}
	}
	if !utf8.Valid(p[:cut]) {
		return false
	}
	for _, b := range p[cut:] {
		if v.need > 0 {
			if b < v.lo || b > v.hi {
				return false
			}
			v.need--
			v.lo, v.hi = 0x80, 0xbf
			continue
		}
		if !v.start(b) {
			return false
		}
	}
	return true
}

// Done reports whether the text fed so far ends on a whole character.
func (v *utf8Validator) Done() bool { return v.need == 0 }

// Reset prepares v for a new message.
func (v *utf8Validator) Reset() { *v = utf8Validator{} }

// start takes the lead byte of a multi-byte sequence, following the table
// of well-formed byte sequences in the Unicode Standard (table 3-7), which
// excludes overlong forms, surrogates and code points above U+10FFFF.
func (v *utf8Validator) start(b byte) bool {
	v.lo, v.hi = 0x80, 0xbf
	switch {
	case b >= 0xc2 && b <= 0xdf:
		v.need = 1
	case b == 0xe0:
		v.need, v.lo = 2, 0xa0
	case b == 0xed:
		v.need, v.hi = 2, 0x9f
	case b >= 0xe1 && b <= 0xef:
		v.need = 2
	case b == 0xf0:
		v.need, v.lo = 3, 0x90
	case b >= 0xf1 && b <= 0xf3:
		v.need = 3
	case b == 0xf4:
		v.need, v.hi = 3, 0x8f
	default:
		return false
	}
	return true
}

// seqLen is the length of the sequence that lead byte b (>= 0xc0) starts.
func seqLen(b byte) int {
	switch {
	case b >= 0xf0:
		return 4
	case b >= 0xe0:
		return 3
	}
	return 2
}
