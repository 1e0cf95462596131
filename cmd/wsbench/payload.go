package main

import (
	"fmt"
	"time"
)

// processStart anchors the clock of the send timestamps. time.Since reads
// the monotonic clock, so a change of the wall clock during a run does not
// distort latencies.
var processStart = time.Now()

// monoNow returns the nanoseconds since the process started, from the
// monotonic clock.
func monoNow() int64 { return int64(time.Since(processStart)) }

// timestampSize is the size of the send timestamp at the start of every
// message: 16 letters, one per nibble of a 64-bit count of nanoseconds.
// Letters, not digits, because the timestamp must be valid UTF-8 text that
// a redacting filter leaves alone (it rewrites digit runs and e-mail
// addresses, never lone letters).
const timestampSize = 16

// putTimestamp writes ns into b[:timestampSize] as 16 letters 'a'+nibble,
// most significant nibble first.
func putTimestamp(b []byte, ns int64) {
	u := uint64(ns)
	for i := timestampSize - 1; i >= 0; i-- {
		b[i] = 'a' + byte(u&0xf)
		u >>= 4
	}
}

// parseTimestamp decodes the timestamp at the start of b. ok is false when
// b is too short or holds a byte outside 'a'..'p' there.
func parseTimestamp(b []byte) (ns int64, ok bool) {
	if len(b) < timestampSize {
		return 0, false
	}
	var u uint64
	for _, c := range b[:timestampSize] {
		d := c - 'a'
		if d > 0xf {
			return 0, false
		}
		u = u<<4 | uint64(d)
	}
	return int64(u), true
}

// payloadKind chooses the filler after the timestamp.
type payloadKind string

const (
	// payloadPlain is lowercase words and spaces, which no filter that
	// looks for digits or addresses rewrites.
	payloadPlain payloadKind = "plain"
	// payloadRedactable puts one e-mail address right after the
	// timestamp, so that a redacting filter rewrites every message.
	payloadRedactable payloadKind = "redactable"
)

func (k *payloadKind) String() string { return string(*k) }

func (k *payloadKind) Set(v string) error {
	switch payloadKind(v) {
	case payloadPlain, payloadRedactable:
		*k = payloadKind(v)
		return nil
	}
	return fmt.Errorf("payload %q: want plain or redactable", v)
}

// minPayloadSize is the smallest message: its timestamp. Redactable
// payloads carry their address from redactableMinSize bytes on.
const (
	minPayloadSize    = timestampSize
	redactableMinSize = 64
)

// redactableAddress follows the timestamp and a space in a redactable
// payload. A redacting filter masks its local part ("ann" becomes "***"),
// so the echo differs from what was sent but keeps its length.
const redactableAddress = "mail ann@example.com "

// filler is repeated after the timestamp: ASCII words, no digit, no '@'.
const filler = " the quick brown fox jumps over the lazy dog"

// newPayload returns a message of exactly size bytes whose first
// timestampSize bytes are left for the timestamp. The result is valid
// UTF-8 text.
func newPayload(size int, kind payloadKind) ([]byte, error) {
	if size < minPayloadSize {
		return nil, fmt.Errorf("message size %d: want at least %d bytes, for the timestamp", size, minPayloadSize)
	}
	p := make([]byte, size)
	putTimestamp(p, 0)
	rest := p[timestampSize:]
	if kind == payloadRedactable && size >= redactableMinSize {
		rest[0] = ' '
		n := copy(rest[1:], redactableAddress)
		rest = rest[1+n:]
	}
	for i := range rest {
		rest[i] = filler[i%len(filler)]
	}
	return p, nil
}
