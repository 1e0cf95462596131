package conformance

import (
	"bufio"
	"bytes"
	crand "crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Session is one client connection to the target, opened with a completed
// handshake. A case writes frames with the Send methods and checks the
// server's answer with the Expect methods.
//
// Writes never return an error: a server that fails fast may close the
// connection while the harness is still writing, and what matters is what
// the server answered. The first failed write is kept and mentioned by any
// expectation that then fails.
//
// Reads are strict: a server frame that breaks RFC 6455 (a mask, an RSV bit,
// a reserved opcode, a fragmented or oversized control frame, a non-minimal
// length, a continuation with no message) fails the case whatever it
// expected. A ping from the server is answered with a pong and otherwise
// ignored.
type Session struct {
	conn     net.Conn
	br       *bufio.Reader
	target   Target
	offer    string // the Sec-WebSocket-Extensions offered, if any
	deadline time.Time

	// pmd is the permessage-deflate agreement, nil if none: what the
	// harness sends may then be compressed (Session.compress), and what the
	// server sends is inflated.
	pmd *pmd

	wmu       sync.Mutex
	wbuf      []byte
	writeErr  error // the first failed write
	closeSent bool  // a valid close frame has been sent
	writers   sync.WaitGroup

	// Reading state, owned by the goroutine that runs the case.
	scratch  [8]byte
	rbuf     []byte // payload as it arrives
	cbuf     []byte // a control payload, or the expected bytes rbuf is compared with
	msg      *event // the data message being assembled, if any
	inflated []byte // the last compressed message, inflated: reused
}

// wsGUID is the magic string of RFC 6455 §1.3.
const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// dial connects to target and performs the opening handshake of RFC 6455
// §4.1, offering the extensions in offer (if not ""), and checks the 101
// response as a client must: Upgrade, Connection, Sec-WebSocket-Accept, no
// subprotocol that was not offered, and no extension other than an answer
// to the offer that RFC 7692 allows (see agree).
func dial(target Target, offer string, deadline time.Time) (*Session, error) {
	d := net.Dialer{Deadline: deadline}
	conn, err := d.Dial("tcp", target.Addr)
	if err != nil {
		return nil, err
	}
	if err := conn.SetDeadline(deadline); err != nil {
		conn.Close()
		return nil, err
	}
	s := &Session{
		conn:     conn,
		br:       bufio.NewReaderSize(conn, 64<<10),
		target:   target,
		offer:    offer,
		deadline: deadline,
		rbuf:     make([]byte, 32<<10),
		cbuf:     make([]byte, 32<<10),
	}
	if err := s.handshake(); err != nil {
		conn.Close()
		return nil, err
	}
	return s, nil
}

func (s *Session) handshake() error {
	var k [16]byte
	crand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])

	path, host := s.target.Path, s.target.Host
	if path == "" {
		path = "/"
	}
	if host == "" {
		host = s.target.Addr
	}
	var req bytes.Buffer
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n", path, host)
	fmt.Fprintf(&req, "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n", key)
	if s.offer != "" {
		fmt.Fprintf(&req, "Sec-WebSocket-Extensions: %s\r\n", s.offer)
	}
	for name, values := range s.target.Header {
		for _, v := range values {
			fmt.Fprintf(&req, "%s: %s\r\n", name, v)
		}
	}
	req.WriteString("\r\n")
	if _, err := s.conn.Write(req.Bytes()); err != nil {
		return fmt.Errorf("write upgrade request: %w", err)
	}

	resp, err := http.ReadResponse(s.br, nil)
	if err != nil {
		return fmt.Errorf("read upgrade response: %w", err)
	}
	resp.Body.Close() // a 101 response has no body; the frames follow in s.br
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return fmt.Errorf("upgrade response is %q, want 101", resp.Status)
	}
	if !headerHasToken(resp.Header, "Upgrade", "websocket") {
		return fmt.Errorf("upgrade response has Upgrade %q, want websocket", resp.Header.Get("Upgrade"))
	}
	if !headerHasToken(resp.Header, "Connection", "upgrade") {
		return fmt.Errorf("upgrade response has Connection %q, want Upgrade", resp.Header.Get("Connection"))
	}
	if got, want := resp.Header.Get("Sec-WebSocket-Accept"), acceptKey(key); got != want {
		return fmt.Errorf("upgrade response has Sec-WebSocket-Accept %q, want %q", got, want)
	}
	ext := resp.Header.Values("Sec-WebSocket-Extensions")
	switch {
	case s.offer == "" && len(ext) > 0:
		return fmt.Errorf("upgrade response accepts extensions %q that were not offered (§4.1)", ext)
	case s.offer != "":
		p, declined, err := agree(s.offer, ext)
		if err != nil {
			return err
		}
		if declined && s.target.Compression {
			return fmt.Errorf("upgrade response declines the valid offer %q, but the target is said to negotiate permessage-deflate", s.offer)
		}
		s.pmd = p
	}
	if p := resp.Header.Get("Sec-WebSocket-Protocol"); p != "" && !headerHasToken(s.target.Header, "Sec-WebSocket-Protocol", p) {
		return fmt.Errorf("upgrade response selects subprotocol %q that was not offered (§4.1)", p)
	}
	return nil
}

// acceptKey is the Sec-WebSocket-Accept that answers key (§4.2.2).
func acceptKey(key string) string {
	sum := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// headerHasToken reports whether the comma-separated values of header name
// include token, compared case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Target returns the target that the session is connected to.
func (s *Session) Target() Target { return s.target }

// Send writes frames, each masked with a fresh random key, in one TCP write.
func (s *Session) Send(frames ...Frame) { s.send(0, true, frames) }

// SendChunked writes frames, masked as by Send, in TCP writes of chunk bytes
// each, so the server must reassemble headers and payloads across reads.
func (s *Session) SendChunked(chunk int, frames ...Frame) { s.send(chunk, true, frames) }

// SendUnmasked writes frames without masking them, which a client must never
// do (RFC 6455 §5.1).
func (s *Session) SendUnmasked(frames ...Frame) { s.send(0, false, frames) }

// SendRaw writes b as it is, for frames that Frame cannot express.
func (s *Session) SendRaw(b []byte) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.writeLocked(b, 0)
}

func (s *Session) send(chunk int, masked bool, frames []Frame) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	b := s.wbuf[:0]
	for _, f := range frames {
		b = appendFrame(b, f, masked, maskKey())
		if masked && f.validClose() {
			s.closeSent = true
		}
	}
	s.wbuf = b
	s.writeLocked(b, chunk)
}

// writeLocked writes b in chunks of chunk bytes (all at once if chunk <= 0)
// unless an earlier write failed. s.wmu is held.
func (s *Session) writeLocked(b []byte, chunk int) {
	if s.writeErr != nil {
		return
	}
	if chunk <= 0 {
		chunk = len(b)
	}
	for len(b) > 0 {
		n := min(chunk, len(b))
		if _, err := s.conn.Write(b[:n]); err != nil {
			s.writeErr = err
			return
		}
		b = b[n:]
	}
}

// maskKey returns a random masking key. It need not be unpredictable here,
// only different from frame to frame.
func maskKey() [4]byte {
	var k [4]byte
	u := rand.Uint32()
	k[0], k[1], k[2], k[3] = byte(u), byte(u>>8), byte(u>>16), byte(u>>24)
	return k
}

// sendGenerated writes a message of type op and the given size, made of
// generated content, in frames of frameSize bytes (one frame if frameSize
// is 0). The payload is produced and masked piece by piece: nothing of the
// size of the message is allocated. Each frame is written under the write
// lock, so a pong can be written between frames but never inside one.
func (s *Session) sendGenerated(op Opcode, size, frameSize int64) {
	if frameSize <= 0 || frameSize > size {
		frameSize = max(size, 1)
	}
	c := newContent(op, size)
	buf := make([]byte, 32<<10)
	var off int64
	for first := true; first || off < size; first = false {
		n := min(frameSize, size-off)
		fop := op
		if !first {
			fop = OpContinuation
		}
		if !s.sendGeneratedFrame(buf, c, fop, off, n, off+n == size) {
			return
		}
		off += n
	}
}

func (s *Session) sendGeneratedFrame(buf []byte, c content, op Opcode, off, n int64, fin bool) bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.writeErr != nil {
		return false
	}
	key := maskKey()
	hdr := appendHeader(buf[:0], fin, 0, op, n, true, key)
	if _, err := s.conn.Write(hdr); err != nil {
		s.writeErr = err
		return false
	}
	pos := 0
	for end := off + n; off < end; {
		b := buf[:min(int64(len(buf)), end-off)]
		c.fill(b, off)
		pos = maskBytes(b, key, pos)
		if _, err := s.conn.Write(b); err != nil {
			s.writeErr = err
			return false
		}
		off += int64(len(b))
	}
	return true
}

// goSendGenerated runs sendGenerated in the background, so the harness can
// read the server's answer while it writes: a server may answer (or fail)
// before the whole message is sent. The session waits for it before it
// writes its own close frame and when the case ends.
func (s *Session) goSendGenerated(op Opcode, size, frameSize int64) {
	s.writers.Go(func() { s.sendGenerated(op, size, frameSize) })
}

func (s *Session) writeError() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.writeErr
}

// close ends the session: it closes the connection, which also stops a
// background writer, and waits for the writers.
func (s *Session) close() {
	s.conn.Close()
	s.writers.Wait()
}

// errTimeout tells whether err is a deadline expiring.
func errTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
