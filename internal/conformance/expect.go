package conformance

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// NoStatus stands, in ExpectClose, for a close frame with an empty payload
// (the value that RFC 6455 §7.1.5 gives the close code of such a frame).
const NoStatus = 1005

// closeWait is how long the server has, after the closing handshake, to
// close the TCP connection (RFC 6455 §7.1.1: the server closes it first).
const closeWait = 3 * time.Second

// headLen is how much of a message is kept to describe it in a failure.
const headLen = 24

type eventKind int

const (
	evMessage eventKind = iota // a whole data message
	evPong
	evClose
	evEOF // the server closed (or reset) the TCP connection
)

// event is the next thing the server did, as seen by an expectation.
type event struct {
	kind eventKind

	// evMessage
	op       Opcode
	size     int64
	frames   int
	head     []byte
	mismatch int64 // offset of the first byte that differs from the expected content, or -1
	gotByte  byte  // the byte at mismatch, and the expected one
	wantByte byte
	compared bool // the whole message was compared against an expected content
	want     io.Reader

	// evPong, evClose
	payload []byte

	// evEOF
	err     error
	partial *event // the message the connection closed in the middle of

	// A compressed message (RSV1 on its first frame) as received: it is
	// inflated and compared when complete.
	compressed bool
	deflated   []byte
	wire       int64 // its size on the wire
}

func (e *event) String() string {
	switch e.kind {
	case evMessage:
		if e.compressed {
			return fmt.Sprintf("compressed %s (%s on the wire)", describeMessage(e.op, e.size, e.head), plural(e.wire, "byte"))
		}
		return describeMessage(e.op, e.size, e.head)
	case evPong:
		return "pong with payload " + quote(e.payload, 0)
	case evClose:
		return describeClose(e.payload)
	}
	what := "the TCP connection closed (EOF)"
	if !errors.Is(e.err, io.EOF) {
		what = "the TCP connection failed (" + e.err.Error() + ")"
	}
	if e.partial != nil {
		p := e.partial
		what += fmt.Sprintf(" in the middle of a %s message (%s in %s so far)", p.op, plural(p.size+p.wire, "byte"), plural(int64(p.frames), "frame"))
	} else {
		what += " without a close frame"
	}
	return what
}

func describeMessage(op Opcode, size int64, head []byte) string {
	if size == 0 {
		return fmt.Sprintf("empty %s message", op)
	}
	return fmt.Sprintf("%s message of %s %s", op, plural(size, "byte"), quote(head, size))
}

func plural(n int64, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func describeClose(p []byte) string {
	switch len(p) {
	case 0:
		return "close with empty payload"
	case 1:
		return fmt.Sprintf("close with 1-byte payload %#x", p[0])
	}
	code := binary.BigEndian.Uint16(p)
	if len(p) == 2 {
		return fmt.Sprintf("close %d", code)
	}
	return fmt.Sprintf("close %d with reason %s", code, quote(p[2:], 0))
}

// quote shows the start of b: as a Go string if it is valid UTF-8, as hex
// otherwise, with "..." when total (or len(b), if total is 0) is longer.
func quote(b []byte, total int64) string {
	if total < int64(len(b)) {
		total = int64(len(b))
	}
	more := ""
	if total > headLen {
		b, more = b[:min(len(b), headLen)], "..."
		for !utf8.Valid(b) && len(b) > headLen-utf8.UTFMax {
			b = b[:len(b)-1]
		}
	}
	if utf8.Valid(b) {
		return strconv.Quote(string(b)) + more
	}
	return fmt.Sprintf("% x%s", b, more)
}

// isClosed reports whether err means that the peer closed or reset the
// connection.
func isClosed(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET)
}

// next reads frames until the server has done something an expectation can
// judge: completed a data message, sent a pong or a close, or closed the
// connection. A message is compared, as it streams in, against want (nil:
// not compared). A pong or close may arrive between the fragments of a
// message; the message is then continued by a later call. Pings from the
// server are answered. A returned error is a frame that breaks RFC 6455 or
// a failed read (a timeout, typically).
func (s *Session) next(want io.Reader) (*event, error) {
	for {
		h, err := readHeader(s.br, &s.scratch, s.pmd != nil)
		if err != nil {
			if isClosed(err) {
				return &event{kind: evEOF, err: err, partial: s.msg}, nil
			}
			return nil, err
		}
		switch h.op {
		case OpText, OpBinary:
			if s.msg != nil {
				return nil, violationf("%s frame while a fragmented %s message is unfinished (§5.4)", h.op, s.msg.op)
			}
			s.msg = &event{kind: evMessage, op: h.op, mismatch: -1, compared: want != nil, want: want, compressed: h.rsv1}
		case OpContinuation:
			if s.msg == nil {
				return nil, violationf("continuation frame with no message started (§5.4)")
			}
			if h.rsv1 {
				return nil, violationf("continuation frame with RSV1 set; only the first frame of a message says it is compressed (RFC 7692 §6.1)")
			}
			if s.msg.want != want {
				s.msg.compared = false
			}
		default:
			p := s.cbuf[:h.length]
			if k, err := io.ReadFull(s.br, p); err != nil {
				if isClosed(err) || errors.Is(err, io.ErrUnexpectedEOF) {
					return nil, &midFrameClose{fmt.Sprintf("%s frame, after %d of its %d payload bytes", h.op, k, h.length)}
				}
				return nil, fmt.Errorf("reading a %s frame: %w", h.op, err)
			}
			switch h.op {
			case OpPing:
				s.answerPing(p)
				continue
			case OpPong:
				return &event{kind: evPong, payload: bytes.Clone(p)}, nil
			}
			return &event{kind: evClose, payload: bytes.Clone(p)}, nil
		}
		if err := s.readData(h.length); err != nil {
			return nil, err
		}
		if h.fin {
			m := s.msg
			s.msg = nil
			if m.compressed {
				if err := s.inflate(m); err != nil {
					return nil, err
				}
			}
			if m.compared && m.mismatch < 0 {
				// Is the expected content longer than the message?
				if n, _ := io.ReadFull(m.want, s.rbuf[:1]); n > 0 {
					m.mismatch = m.size
				}
			}
			return m, nil
		}
	}
}

// readData reads the n payload bytes of a data frame into the message being
// assembled, comparing them with the content it is expected to have, or,
// for a compressed message, keeping them to inflate.
func (s *Session) readData(n int64) error {
	m := s.msg
	m.frames++
	if m.compressed && m.wire+n > maxDeflated {
		return fmt.Errorf("a compressed %s message of more than %s on the wire; the harness keeps at most that", m.op, sizeName(maxDeflated))
	}
	for done := int64(0); done < n; {
		b := s.rbuf[:min(n-done, int64(len(s.rbuf)))]
		if k, err := io.ReadFull(s.br, b); err != nil {
			if isClosed(err) || errors.Is(err, io.ErrUnexpectedEOF) {
				return &midFrameClose{fmt.Sprintf("%s frame, after %d of its %d payload bytes", m.op, done+int64(k), n)}
			}
			return fmt.Errorf("reading a %s frame: %w", m.op, err)
		}
		if m.compressed {
			m.deflated = append(m.deflated, b...)
			m.wire += int64(len(b))
		} else {
			s.consume(m, b)
		}
		done += int64(len(b))
	}
	return nil
}

// consume adds b to the message m, comparing it with the content m is
// expected to have.
func (s *Session) consume(m *event, b []byte) {
	if len(m.head) < headLen {
		m.head = append(m.head, b[:min(len(b), headLen-len(m.head))]...)
	}
	if m.compared && m.mismatch < 0 {
		w := s.cbuf[:len(b)]
		k, _ := io.ReadFull(m.want, w)
		if i := firstDiff(b, w[:k]); i >= 0 {
			m.mismatch = m.size + int64(i)
			m.gotByte = b[i]
			if i < k {
				m.wantByte = w[i]
			}
		}
	}
	m.size += int64(len(b))
}

// The bounds of a compressed message from the server: what the harness
// keeps of it on the wire, and what it inflates it to.
const (
	maxDeflated = 32 << 20
	maxInflated = 64 << 20
)

// inflate decompresses the complete compressed message m, checking that
// the server kept to the agreed window and context takeover, and compares
// the result with what m is expected to be.
func (s *Session) inflate(m *event) error {
	out, err := s.pmd.in.inflate(s.inflated[:0], m.deflated, maxInflated)
	s.inflated = out[:0]
	if err != nil {
		return violationf("compressed %s message of %s (agreed %q): %v", m.op, plural(m.wire, "byte"), s.pmd.answer, err)
	}
	m.deflated = nil
	for len(out) > 0 {
		n := min(len(out), len(s.cbuf))
		s.consume(m, out[:n])
		out = out[n:]
	}
	return nil
}

// firstDiff returns the first index at which got and want differ, counting
// a want that ends early as a difference, or -1.
func firstDiff(got, want []byte) int {
	for i := range got {
		if i >= len(want) || got[i] != want[i] {
			return i
		}
	}
	return -1
}

// answerPing replies to a ping from the server (a keepalive, say) unless
// the harness has sent its close frame or a background writer is in the
// middle of a frame; an echo server is not expected to ping at all.
func (s *Session) answerPing(p []byte) {
	if !s.wmu.TryLock() {
		return
	}
	defer s.wmu.Unlock()
	if s.closeSent {
		return
	}
	s.writeLocked(appendFrame(s.wbuf[:0], Frame{Fin: true, Opcode: OpPong, Payload: p}, true, maskKey()), 0)
}

// failf returns the failure of an expectation, with the first failed write
// if there was one: it often explains the failure.
func (s *Session) failf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if werr := s.writeError(); werr != nil {
		return fmt.Errorf("%w (an earlier write had failed: %v)", err, werr)
	}
	return err
}

// got describes what a failed read means for an expectation.
func got(err error) string {
	var v *violation
	var mid *midFrameClose
	switch {
	case errors.As(err, &v):
		return "but the " + v.Error()
	case errors.As(err, &mid):
		return "got " + mid.Error()
	case errTimeout(err):
		return "got nothing before the deadline"
	}
	return "got error: " + err.Error()
}

// ExpectMessage reads the next data message, assembling the fragments the
// server may have cut it into, and checks its type and exact payload.
func (s *Session) ExpectMessage(op Opcode, payload []byte) error {
	return s.expectMessage(op, int64(len(payload)), bytes.NewReader(payload), describeMessage(op, int64(len(payload)), payload))
}

// expectGenerated is ExpectMessage for a generated content (see
// sendGenerated); the payload is compared as it arrives, never stored.
func (s *Session) expectGenerated(op Opcode, size int64) error {
	c := newContent(op, size)
	head := make([]byte, min(size, headLen))
	c.fill(head, 0)
	return s.expectMessage(op, size, &contentReader{c: c}, describeMessage(op, size, head))
}

func (s *Session) expectMessage(op Opcode, size int64, want io.Reader, what string) error {
	ev, err := s.next(want)
	if err != nil {
		return s.failf("expected %s, %s", what, got(err))
	}
	return s.checkMessage(ev, op, size, what)
}

func (s *Session) checkMessage(ev *event, op Opcode, size int64, what string) error {
	switch {
	case ev.kind != evMessage || ev.op != op:
		return s.failf("expected %s, got %s", what, ev)
	case !ev.compared:
		return s.failf("expected %s, got %s that began before the harness expected it", what, ev)
	case ev.mismatch >= 0 && ev.size == size:
		return s.failf("expected %s, got %s that differs from byte %d on (%#02x instead of %#02x)", what, ev, ev.mismatch, ev.gotByte, ev.wantByte)
	case ev.mismatch >= 0 || ev.size != size:
		return s.failf("expected %s, got %s", what, ev)
	}
	return nil
}

// ExpectPong reads the next frame and checks that it is a pong with exactly
// payload p.
func (s *Session) ExpectPong(p []byte) error {
	what := "pong with payload " + quote(p, 0)
	ev, err := s.next(nil)
	if err != nil {
		return s.failf("expected %s, %s", what, got(err))
	}
	if ev.kind != evPong || !bytes.Equal(ev.payload, p) {
		return s.failf("expected %s, got %s", what, ev)
	}
	return nil
}

// ExpectPongsAndMessage checks that the server answers pings that the
// harness sent between the fragments of a message: one pong per ping, in
// order, each arriving before the echoed message is complete (the server
// received each ping before the message's last fragment), and the message
// itself. The echo may itself be fragmented around the pongs.
func (s *Session) ExpectPongsAndMessage(pongs [][]byte, op Opcode, payload []byte) error {
	what := describeMessage(op, int64(len(payload)), payload)
	want := bytes.NewReader(payload)
	for i, p := range pongs {
		ev, err := s.next(want)
		if err != nil {
			return s.failf("expected pong %d of %d with payload %s, %s", i+1, len(pongs), quote(p, 0), got(err))
		}
		if ev.kind != evPong || !bytes.Equal(ev.payload, p) {
			return s.failf("expected pong %d of %d with payload %s before the echo of the message, got %s", i+1, len(pongs), quote(p, 0), ev)
		}
	}
	return s.expectMessage(op, int64(len(payload)), want, what)
}

// ExpectClose checks that the server's next frame is a close frame, and
// that its code is one of codes (NoStatus for an empty payload). No data
// message and no pong may come first; a message that the server had only
// partly sent is ignored. The close frame itself must be valid (§5.5.1,
// §7.4). Then the harness completes the closing handshake, replying with a
// close frame that echoes the server's code unless it has already sent one,
// and expects the server to close the TCP connection within closeWait.
func (s *Session) ExpectClose(codes ...int) error {
	what := describeCodes(codes)
	ev, err := s.next(nil)
	if err != nil {
		return s.failf("expected %s, %s", what, got(err))
	}
	if ev.kind != evClose {
		return s.failf("expected %s, got %s", what, ev)
	}
	code := NoStatus
	switch p := ev.payload; {
	case len(p) == 1:
		return s.failf("expected %s, but the server broke RFC 6455: close frame with a 1-byte payload (§5.5.1)", what)
	case len(p) >= 2:
		code = int(binary.BigEndian.Uint16(p))
		if !validCloseCode(code) {
			return s.failf("expected %s, but the server broke RFC 6455: close frame with code %d, which must not be sent (§7.4)", what, code)
		}
		if !utf8.Valid(p[2:]) {
			return s.failf("expected %s, but the server broke RFC 6455: close reason %s is not UTF-8 (§5.5.1)", what, quote(p[2:], 0))
		}
	}
	ok := false
	for _, c := range codes {
		ok = ok || c == code
	}
	if !ok {
		return s.failf("expected %s, got %s", what, ev)
	}
	s.replyClose(ev.payload)
	return s.expectTCPClose()
}

func describeCodes(codes []int) string {
	var b strings.Builder
	b.WriteString("close")
	for i, c := range codes {
		if i > 0 {
			b.WriteString(" or")
		}
		if c == NoStatus {
			b.WriteString(" with empty payload")
		} else {
			fmt.Fprintf(&b, " %d", c)
		}
	}
	return b.String()
}

// replyClose sends the harness's close frame in answer to the server's
// (§5.5.1), echoing its code, once the background writers are done: a close
// frame cannot be written inside a data frame. If they failed, the server
// has gone and the reply is skipped.
func (s *Session) replyClose(serverPayload []byte) {
	s.writers.Wait()
	s.wmu.Lock()
	sent := s.closeSent
	s.wmu.Unlock()
	if sent {
		return
	}
	var p []byte
	if len(serverPayload) >= 2 {
		p = serverPayload[:2]
	}
	s.Send(Frame{Fin: true, Opcode: OpClose, Payload: p})
}

// expectTCPClose checks that the server closes the connection, sending
// nothing more, within closeWait. A reset counts as a close: a server that
// closes with the harness's close frame unread resets the connection.
func (s *Session) expectTCPClose() error {
	d := time.Now().Add(closeWait)
	if d.After(s.deadline) {
		d = s.deadline
	}
	s.conn.SetReadDeadline(d)
	n, err := s.br.Read(s.rbuf)
	switch {
	case n > 0:
		return s.failf("expected the server to close the TCP connection after the closing handshake, but it sent %s more (% x...)", plural(int64(n), "byte"), s.rbuf[:min(n, 8)])
	case isClosed(err):
		return nil
	case errTimeout(err):
		return s.failf("expected the server to close the TCP connection after the closing handshake, but it was still open after %v (§7.1.1)", closeWait)
	}
	return s.failf("expected the server to close the TCP connection after the closing handshake, got error: %v", err)
}
