package codec

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
)

// Request is a client's opening handshake, as the server read it.
type Request struct {
	// URI is the request-target as sent ("/chat?room=1").
	URI string
	// Path and RawQuery split URI.
	Path     string
	RawQuery string
	// Host is the Host header.
	Host string
	// Header holds every header except the ones of the WebSocket handshake
	// itself (Host, Upgrade, Connection, Sec-WebSocket-Key,
	// Sec-WebSocket-Version, Sec-WebSocket-Protocol,
	// Sec-WebSocket-Extensions), with canonical names.
	Header http.Header
	// Protocols are the offered subprotocols, in the client's order of
	// preference.
	Protocols []string
	// Extensions are the offered extensions, as sent (one entry per
	// offer, parameters included).
	Extensions []string
	// ConnectionOptions are the options of the Connection header other
	// than "upgrade", lowercased (e.g. "keep-alive"). Each names a header
	// meant for this hop only, which a proxy must not forward (RFC 9110,
	// section 7.6.1).
	ConnectionOptions []string
	// RemoteAddr and LocalAddr are the socket's addresses.
	RemoteAddr, LocalAddr net.Addr
	// TLS is the TLS state for a wss connection, nil for ws.
	TLS *tls.ConnectionState
}

// Response is the server's decision to accept a handshake.
type Response struct {
	// Protocol is the chosen subprotocol: one of Request.Protocols, or "".
	Protocol string
	// Header holds extra headers for the 101 response.
	Header http.Header
	// Compression, when not nil, replaces Upgrader.Compression for this
	// connection (a proxy sets it per route).
	Compression *Compression
}

// RejectError refuses a handshake with an HTTP status. Return it from
// Upgrader.Decide.
type RejectError struct {
	Status int
	Header http.Header
	Body   string
}

func (e *RejectError) Error() string {
	if e.Body != "" {
		return fmt.Sprintf("codec: handshake rejected with %d: %s", e.Status, e.Body)
	}
	return fmt.Sprintf("codec: handshake rejected with %d %s", e.Status, http.StatusText(e.Status))
}

// Defaults for Upgrader fields left zero.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultMaxHeaderBytes   = 8 << 10
)

// ErrHeaderTooLarge is returned (and answered with 431) when an upgrade
// request is larger than Upgrader.MaxHeaderBytes.
var ErrHeaderTooLarge = errors.New("codec: request header too large")

// ErrHandshakeTimeout is returned (and answered with 408) when the client
// did not send its whole upgrade request within the handshake timeout.
var ErrHandshakeTimeout = errors.New("codec: handshake timeout")

// Upgrader accepts WebSocket handshakes on the server side. The zero value
// accepts every valid handshake with no subprotocol.
type Upgrader struct {
	// Options configure the accepted Conn.
	Options Options
	// Compression, when not nil, accepts the client's first offer of
	// permessage-deflate (RFC 7692) with these settings; see Compression.
	// Nil declines every offer. Response.Compression overrides it.
	Compression *Compression
	// HandshakeTimeout bounds the time to read the request and answer it,
	// Decide excluded. Default DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// MaxHeaderBytes bounds the size of the request. Default
	// DefaultMaxHeaderBytes.
	MaxHeaderBytes int
	// Decide is called once a valid upgrade request has been read, before
	// any byte of the response is written. It returns the Response to
	// accept with, or an error to refuse: a *RejectError gives the HTTP
	// status, any other error is answered with 500. Decide may take its
	// time (a proxy dials its upstream here): the handshake deadline is
	// lifted while it runs. Optional.
	Decide func(req *Request) (*Response, error)
	// Plain answers a request that is not a WebSocket upgrade at all (a
	// GET without an Upgrade header, as a browser sends for a page) with
	// the response it returns; Upgrade then returns ErrNotUpgrade. When
	// it returns nil, or without Plain, such a request gets 400.
	// Optional.
	Plain func(req *Request) *PlainResponse
}

// PlainResponse is the answer to a request that is not an upgrade. The
// connection is closed after it.
type PlainResponse struct {
	Status int
	Header http.Header // Content-Length and Connection are set by Upgrade
	Body   []byte
}

// ErrNotUpgrade is returned by Upgrade for a request that was not a
// WebSocket upgrade and that Upgrader.Plain answered.
var ErrNotUpgrade = errors.New("codec: not a WebSocket upgrade request")

// Upgrade reads an upgrade request from nc, answers it, and returns the
// Conn and the request. On error it has answered with an HTTP status (400
// for a malformed request, 405 for a method other than GET, 505 for a
// version other than HTTP/1.1, 408, 431, or what Decide said) and the
// caller should close nc.
//
// The request is parsed strictly, as a proxy must to not read a request
// differently from the servers behind it: line endings are CRLF, no
// obs-fold, field names are tokens right before the colon, the target is
// in origin-form, Host, Upgrade, Connection, Sec-WebSocket-Key and
// Sec-WebSocket-Version appear once, the key is 16 bytes in base64, and
// there is no Transfer-Encoding nor a Content-Length other than 0. A
// request is refused at its first bad byte, without reading the rest.
func (u *Upgrader) Upgrade(nc net.Conn) (*Conn, *Request, error) {
	timeout := u.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	maxBytes := u.MaxHeaderBytes
	if maxBytes <= 0 {
		maxBytes = DefaultMaxHeaderBytes
	}
	nc.SetDeadline(time.Now().Add(timeout)) //nolint:errcheck // a failed deadline shows as a failed read
	req := &Request{Header: make(http.Header), RemoteAddr: nc.RemoteAddr(), LocalAddr: nc.LocalAddr()}
	if tc, ok := nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		req.TLS = &st
	}
	var resp *Response
	var decideErr error
	var deflate *deflateAgreement
	lr := &limitedConn{Conn: nc, left: maxBytes}
	gu := ws.Upgrader{
		ReadBufferSize: maxBytes,
		OnRequest: func(uri []byte) error {
			req.URI = string(uri)
			req.Path, req.RawQuery, _ = strings.Cut(req.URI, "?")
			return nil
		},
		OnHost: func(host []byte) error {
			req.Host = string(host)
			return nil
		},
		OnHeader: func(key, value []byte) error {
			k := http.CanonicalHeaderKey(string(key))
			req.Header[k] = append(req.Header[k], string(value))
			return nil
		},
		ProtocolCustom: func(v []byte) (string, bool) {
			ok := httphead.ScanTokens(v, func(p []byte) bool {
				req.Protocols = append(req.Protocols, string(p))
				return true
			})
			return "", ok
		},
		ExtensionCustom: func(v []byte, opts []httphead.Option) ([]httphead.Option, bool) {
			for _, e := range bytes.Split(v, []byte(",")) {
				if e = bytes.TrimSpace(e); len(e) > 0 {
					req.Extensions = append(req.Extensions, string(e))
				}
			}
			return opts, true
		},
		OnBeforeUpgrade: func() (ws.HandshakeHeader, error) {
			req.ConnectionOptions = lr.head.connectionOptions()
			nc.SetDeadline(time.Time{}) //nolint:errcheck // see above
			if u.Decide != nil {
				resp, decideErr = u.Decide(req)
			}
			nc.SetDeadline(time.Now().Add(timeout)) //nolint:errcheck // see above
			if decideErr != nil {
				return nil, rejection(decideErr)
			}
			if resp == nil {
				resp = &Response{}
			}
			if resp.Protocol != "" && !slices.Contains(req.Protocols, resp.Protocol) {
				decideErr = fmt.Errorf("codec: Decide chose subprotocol %q, which the client did not offer", resp.Protocol)
				return nil, rejection(decideErr)
			}
			h := resp.Header.Clone()
			if resp.Protocol != "" {
				if h == nil {
					h = make(http.Header)
				}
				h.Set("Sec-WebSocket-Protocol", resp.Protocol)
			}
			if deflate = u.negotiateDeflate(req, resp); deflate != nil {
				if h == nil {
					h = make(http.Header)
				}
				h.Set("Sec-WebSocket-Extensions", deflate.answer.String())
			}
			if h == nil {
				return ws.HandshakeHeaderString(""), nil
			}
			return ws.HandshakeHeaderHTTP(h), nil
		},
	}
	var conn io.ReadWriter = lr
	var err error
	if u.Plain != nil {
		// Whether the request is an upgrade is known only at its end,
		// and gobwas/ws answers a plain GET at its first line that does
		// not fit an upgrade: the head is read whole first.
		var head []byte
		if head, err = lr.readHead(); err == nil {
			if lr.head.seen&fieldUpgrade == 0 {
				parsePlainHead(head, req)
				writePlain(nc, u.Plain(req))
				return nil, req, ErrNotUpgrade
			}
			conn = &headReplay{head: head, limitedConn: lr}
		}
	}
	if err == nil {
		_, err = gu.Upgrade(conn)
	}
	if err != nil {
		switch {
		case decideErr != nil:
			err = decideErr
		case lr.head.failed():
			h := ""
			if lr.head.status == http.StatusMethodNotAllowed {
				h = "Allow: GET\r\n"
			}
			writeStatus(nc, lr.head.status, h, lr.head.reason)
			err = &headError{status: lr.head.status, reason: lr.head.reason}
		case lr.exceeded:
			writeStatus(nc, http.StatusRequestHeaderFieldsTooLarge, "", "request header too large")
			err = ErrHeaderTooLarge
		case isTimeout(err):
			writeStatus(nc, http.StatusRequestTimeout, "", "handshake timeout")
			err = ErrHandshakeTimeout
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			err = fmt.Errorf("codec: connection closed during the handshake: %w", err)
		default:
			err = fmt.Errorf("codec: bad upgrade request: %w", err)
		}
		return nil, req, err
	}
	nc.SetDeadline(time.Time{}) //nolint:errcheck // see above
	c := NewConn(nc, ServerRole, &u.Options, nil)
	c.subprotocol = resp.Protocol
	if deflate != nil {
		c.enableDeflate(deflate.cfg, deflate.answer.String(), deflate.answer.effective())
	}
	return c, req, nil
}

func rejection(err error) error {
	var re *RejectError
	if errors.As(err, &re) {
		opts := []ws.RejectOption{ws.RejectionStatus(re.Status), ws.RejectionReason(re.Body)}
		if re.Header != nil {
			opts = append(opts, ws.RejectionHeader(ws.HandshakeHeaderHTTP(re.Header)))
		}
		return ws.RejectConnectionError(opts...)
	}
	return ws.RejectConnectionError(ws.RejectionStatus(http.StatusInternalServerError), ws.RejectionReason("internal error"))
}

// writeStatus answers a request the upgrader could not, best effort, with
// a write deadline of its own: the handshake's may be what expired. header
// is extra header lines, each ending in CRLF.
func writeStatus(nc net.Conn, status int, header, body string) {
	nc.SetWriteDeadline(time.Now().Add(time.Second)) //nolint:errcheck // best effort
	bw := bufio.NewWriterSize(nc, 256)
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\n%sContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), header, len(body), body)
	bw.Flush() //nolint:errcheck // best effort
}

// writePlain writes resp, or a 400 when it is nil, best effort as
// writeStatus does.
func writePlain(nc net.Conn, resp *PlainResponse) {
	if resp == nil {
		writeStatus(nc, http.StatusBadRequest, "", "not a WebSocket upgrade request")
		return
	}
	nc.SetWriteDeadline(time.Now().Add(time.Second)) //nolint:errcheck // best effort
	bw := bufio.NewWriterSize(nc, 4096)
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\n", resp.Status, statusText(resp.Status))
	for k, vs := range resp.Header {
		if k == "Content-Length" || k == "Connection" {
			continue
		}
		for _, v := range vs {
			fmt.Fprintf(bw, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(bw, "Content-Length: %d\r\nConnection: close\r\n\r\n", len(resp.Body))
	bw.Write(resp.Body) //nolint:errcheck // best effort
	bw.Flush()          //nolint:errcheck // best effort
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// limitedConn stops reading after a number of bytes, to bound the size of
// an upgrade request, and stops at the first byte that makes the request
// head malformed.
type limitedConn struct {
	net.Conn
	left     int
	exceeded bool
	// head checks the bytes as they pass, for what gobwas/ws lets through.
	head headScanner
}

// readHead reads until the end of the request head and returns what it
// read, which may go beyond it.
func (l *limitedConn) readHead() ([]byte, error) {
	buf := make([]byte, 0, 1024)
	for l.head.state != headDone {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := l.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil && l.head.state != headDone {
			return nil, err
		}
	}
	return buf, nil
}

// headReplay gives gobwas/ws the bytes readHead took before the rest.
type headReplay struct {
	head []byte
	*limitedConn
}

func (r *headReplay) Read(p []byte) (int, error) {
	if len(r.head) > 0 {
		n := copy(p, r.head)
		r.head = r.head[n:]
		return n, nil
	}
	return r.limitedConn.Read(p)
}

// parsePlainHead fills req from the head of a request that is not an
// upgrade, which headScanner has checked: CRLF lines, a GET in
// origin-form, token names right before their colon, no obs-fold.
func parsePlainHead(head []byte, req *Request) {
	lines := strings.Split(string(head), "\r\n")
	if _, target, ok := strings.Cut(lines[0], " "); ok {
		req.URI, _, _ = strings.Cut(target, " ")
		req.Path, req.RawQuery, _ = strings.Cut(req.URI, "?")
	}
	for _, line := range lines[1:] {
		if line == "" {
			break
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.Trim(value, " \t")
		if k := http.CanonicalHeaderKey(name); k == "Host" {
			req.Host = value
		} else {
			req.Header[k] = append(req.Header[k], value)
		}
	}
}

func (l *limitedConn) Read(p []byte) (int, error) {
	if l.head.failed() {
		return 0, errHeadRejected
	}
	if l.left <= 0 {
		l.exceeded = true
		return 0, ErrHeaderTooLarge
	}
	if len(p) > l.left {
		p = p[:l.left]
	}
	n, err := l.Conn.Read(p)
	l.left -= n
	if !l.head.scan(p[:n]) {
		// The bytes are withheld, not just flagged: gobwas/ws would
		// otherwise parse the lines before the faulty one, and a head
		// complete in this read would reach Decide.
		return 0, errHeadRejected
	}
	return n, err
}

// statusText is the reason phrase for status, or "status N".
func statusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "status " + strconv.Itoa(status)
}

// errHeadRejected stops gobwas/ws's reading once headScanner has failed;
// Upgrade answers and returns a *headError instead.
var errHeadRejected = errors.New("codec: malformed request head")

// headError is Upgrade's error for a request head that headScanner
// refused.
type headError struct {
	status int
	reason string
}

func (e *headError) Error() string {
	return fmt.Sprintf("codec: bad upgrade request (%d): %s", e.status, e.reason)
}

// HTTPStatus is the status the request was answered with: 400, 405 for
// a method other than GET, 505 for a version other than HTTP/1.1.
func (e *headError) HTTPStatus() int { return e.status }

// headScanner checks an upgrade request's head byte by byte, as the bytes
// are read and before gobwas/ws parses them, against what gobwas/ws lets
// through: bare LF or CR line endings (it cuts lines at LF), obs-fold,
// header names that are not tokens or have whitespace before the colon
// (it trims and accepts them), control bytes in values, a second Host,
// Upgrade, Connection, Sec-WebSocket-Key or Sec-WebSocket-Version (it
// keeps the last), a request-target not in origin-form, a version other
// than HTTP/1.1, and a body announced by Content-Length or
// Transfer-Encoding. Each of these lets two parsers (this proxy and the
// upstream or a front proxy) read one request two ways, the root of request
// smuggling (RFC 9112, section 11.2). The checks that need the value of a
// field (Host, Sec-WebSocket-Key, Content-Length) are done on the fly too,
// so the scanner holds no line and never allocates.
//
// The values of Upgrade, Connection and Sec-WebSocket-Version are left to
// gobwas/ws, which checks them.
type headScanner struct {
	state  headState
	status int // non-zero once failed
	reason string

	seen  headField // singleton fields seen so far
	field headField // the field of the current line, 0 if not a tracked one

	// name holds the start of the current token (the method, the version,
	// or a field name, lowercased); nameLen counts all of it.
	name    [len("sec-websocket-version")]byte
	nameLen int
	// val holds the start of the current value without whitespace; valLen
	// counts its non-whitespace bytes. valGap is whitespace after content,
	// valInnerWS whitespace between content bytes.
	val        [24]byte
	valLen     int
	valGap     bool
	valInnerWS bool

	// conn collects the Connection field's value, lowercased, for
	// connectionOptions; connArr holds the usual "Upgrade" or
	// "keep-alive, Upgrade" without an allocation.
	conn    []byte
	connArr [32]byte
}

type headState uint8

const (
	headMethod      headState = iota // request method, up to its SP
	headTargetStart                  // first byte of the request-target
	headTarget                       // rest of the request-target, up to SP
	headVersion                      // HTTP-version, up to CR (name holds it)
	headLineLF                       // the LF after a CR ending a line
	headLineStart                    // first byte of a field line or of the final CRLF
	headName                         // field name, up to the colon
	headValue                        // field value, up to CR
	headEndLF                        // the LF of the final CRLF
	headDone                         // the head is over: later bytes are not ours
)

// headField is a bit per tracked field.
type headField uint8

const (
	fieldHost headField = 1 << iota
	fieldUpgrade
	fieldConnection
	fieldKey
	fieldVersion
	fieldContentLength
)

func (f headField) String() string {
	switch f {
	case fieldHost:
		return "Host"
	case fieldUpgrade:
		return "Upgrade"
	case fieldConnection:
		return "Connection"
	case fieldKey:
		return "Sec-WebSocket-Key"
	case fieldVersion:
		return "Sec-WebSocket-Version"
	case fieldContentLength:
		return "Content-Length"
	}
	return "header"
}

// strictBase64 refuses non-zero padding bits, so that a key has one
// spelling.
var strictBase64 = base64.StdEncoding.Strict()

func (s *headScanner) failed() bool { return s.status != 0 }

func (s *headScanner) fail(status int, reason string) bool {
	s.status, s.reason = status, reason
	return false
}

// scan checks the next bytes of the stream and reports whether the head is
// still well-formed. Once the head is over it ignores what follows.
func (s *headScanner) scan(p []byte) bool {
	for i := 0; i < len(p); i++ {
		if s.state == headDone {
			return true
		}
		if s.state == headValue && s.field == 0 {
			// Most of a head is values of untracked fields (User-Agent,
			// Cookie): skip their plain bytes without the state machine.
			for i < len(p) && (p[i] >= 0x20 && p[i] != 0x7f || p[i] == '\t') {
				i++
			}
			if i == len(p) {
				break
			}
		}
		if !s.step(p[i]) {
			return false
		}
	}
	return true
}

func (s *headScanner) step(c byte) bool {
	const bad = http.StatusBadRequest
	if c == '\n' && s.state != headLineLF && s.state != headEndLF {
		return s.fail(bad, "line ending without CR (bare LF)")
	}
	switch s.state {
	case headMethod:
		switch {
		case httphead.OctetTypes[c].IsToken():
			s.appendRaw(c) // as is: methods are case-sensitive
		case c == ' ' && s.nameLen > 0:
			if s.nameLen != 3 || string(s.name[:3]) != http.MethodGet {
				return s.fail(http.StatusMethodNotAllowed, "a WebSocket upgrade is a GET request")
			}
			s.state = headTargetStart
		case c == '\r' && s.nameLen == 0:
			return s.fail(bad, "empty line before the request line")
		default:
			return s.fail(bad, "malformed request method")
		}
	case headTargetStart:
		// RFC 6455, section 4.1: the request-target is an absolute path
		// and query. The other forms (RFC 9112, section 3.2) carry an
		// authority of their own, which could disagree with Host.
		if c != '/' {
			return s.fail(bad, "the request-target must be an absolute path (origin-form)")
		}
		s.state = headTarget
	case headTarget:
		switch {
		case c == ' ':
			s.nameLen = 0
			s.state = headVersion
		case c < 0x21 || c > 0x7e:
			return s.fail(bad, "malformed request line: invalid byte in the request-target")
		}
	case headVersion:
		switch {
		case c == '\r':
			return s.checkVersion()
		case c < 0x21 || c > 0x7e:
			return s.fail(bad, "malformed request line")
		default:
			s.appendRaw(c) // as is: the version is case-sensitive
		}
	case headLineLF, headEndLF:
		if c != '\n' {
			return s.fail(bad, "line ending without LF (bare CR)")
		}
		if s.state == headEndLF {
			s.state = headDone
		} else {
			s.state = headLineStart
		}
	case headLineStart:
		switch {
		case c == '\r':
			s.state = headEndLF
		case c == ' ' || c == '\t':
			// RFC 9112, section 5.2: a server may reject obs-fold with 400.
			return s.fail(bad, "folded header line (obs-fold)")
		case httphead.OctetTypes[c].IsToken():
			s.nameLen = 0
			s.appendName(c)
			s.state = headName
		case c == ':':
			return s.fail(bad, "empty header name")
		default:
			return s.fail(bad, "invalid byte in a header name")
		}
	case headName:
		switch {
		case httphead.OctetTypes[c].IsToken():
			s.appendName(c)
		case c == ':':
			return s.startValue()
		case c == ' ' || c == '\t':
			// RFC 9112, section 5.1: a server must reject whitespace
			// between a field name and the colon with 400.
			return s.fail(bad, "whitespace before the colon of a header name")
		case c == '\r':
			return s.fail(bad, "a header name without a colon")
		default:
			return s.fail(bad, "invalid byte in a header name")
		}
	case headValue:
		switch {
		case c == ' ' || c == '\t':
			s.valGap = s.valLen > 0
			if s.field == fieldConnection {
				s.conn = append(s.conn, ' ')
			}
		case c == '\r':
			s.state = headLineLF
			return s.endValue()
		case c < 0x20 || c == 0x7f:
			return s.fail(bad, "control byte in a header value")
		default:
			if s.valGap {
				s.valInnerWS = true
				s.valGap = false
			}
			if s.valLen < len(s.val) {
				s.val[s.valLen] = c
			}
			s.valLen++
			if s.field == fieldConnection {
				if 'A' <= c && c <= 'Z' {
					c += 'a' - 'A'
				}
				s.conn = append(s.conn, c)
			}
		}
	}
	return true
}

// connectionOptions returns the Connection field's options other than
// "upgrade", which gobwas/ws checked is among them; nil when there are no
// others. The common ones cost no allocation of a string.
func (s *headScanner) connectionOptions() []string {
	var opts []string
	for rest := s.conn; len(rest) > 0; {
		o := rest
		if i := bytes.IndexByte(rest, ','); i >= 0 {
			o, rest = rest[:i], rest[i+1:]
		} else {
			rest = nil
		}
		o = bytes.TrimSpace(o)
		switch string(o) {
		case "", "upgrade":
		case "keep-alive":
			opts = append(opts, "keep-alive")
		case "close":
			opts = append(opts, "close")
		default:
			opts = append(opts, string(o))
		}
	}
	return opts
}

// appendName adds c to a field name, lowercased: field names are
// case-insensitive.
func (s *headScanner) appendName(c byte) {
	if 'A' <= c && c <= 'Z' {
		c += 'a' - 'A'
	}
	s.appendRaw(c)
}

func (s *headScanner) appendRaw(c byte) {
	if s.nameLen < len(s.name) {
		s.name[s.nameLen] = c
	}
	s.nameLen++
}

// checkVersion ends the request line: HTTP/1.1 only, 505 for another
// well-formed version.
func (s *headScanner) checkVersion() bool {
	v := s.name[:min(s.nameLen, len(s.name))]
	switch {
	case s.nameLen == len("HTTP/1.1") && string(v) == "HTTP/1.1":
		s.state = headLineLF
		return true
	case len(v) == len("HTTP/1.1") && s.nameLen == len(v) && string(v[:5]) == "HTTP/" &&
		isDigit(v[5]) && v[6] == '.' && isDigit(v[7]):
		return s.fail(http.StatusHTTPVersionNotSupported, "a WebSocket upgrade needs HTTP/1.1")
	default:
		return s.fail(http.StatusBadRequest, "malformed HTTP version")
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// startValue identifies the field whose name just ended.
func (s *headScanner) startValue() bool {
	s.state = headValue
	s.valLen, s.valGap, s.valInnerWS = 0, false, false
	s.field = 0
	if s.nameLen > len(s.name) {
		return true
	}
	switch string(s.name[:s.nameLen]) {
	case "host":
		s.field = fieldHost
	case "upgrade":
		s.field = fieldUpgrade
	case "connection":
		s.field = fieldConnection
		s.conn = s.connArr[:0]
	case "sec-websocket-key":
		s.field = fieldKey
	case "sec-websocket-version":
		s.field = fieldVersion
	case "content-length":
		s.field = fieldContentLength
	case "transfer-encoding":
		// RFC 9112, section 6.1: a request with Transfer-Encoding has a
		// body; a GET upgrade has none, and the framing a front proxy
		// and the upstream would each infer is the classic smuggling.
		return s.fail(http.StatusBadRequest, "Transfer-Encoding on an upgrade request")
	default:
		return true
	}
	if s.seen&s.field != 0 {
		return s.fail(http.StatusBadRequest, "duplicate "+s.field.String()+" header")
	}
	s.seen |= s.field
	return true
}

// endValue checks the value of a tracked field that just ended.
func (s *headScanner) endValue() bool {
	const bad = http.StatusBadRequest
	switch s.field {
	case fieldHost:
		switch {
		case s.valLen == 0:
			return s.fail(bad, "empty Host header")
		case s.valInnerWS:
			return s.fail(bad, "whitespace inside the Host header")
		}
	case fieldKey:
		// RFC 6455, section 4.1: a nonce of 16 bytes, base64-encoded.
		var nonce [18]byte
		n, err := 0, error(nil)
		if s.valLen == len(s.val) && !s.valInnerWS {
			n, err = strictBase64.Decode(nonce[:], s.val[:])
		}
		if n != 16 || err != nil {
			return s.fail(bad, "Sec-WebSocket-Key is not 16 bytes in base64")
		}
	case fieldContentLength:
		// A GET upgrade has no body: only a zero length is harmless.
		if s.valLen != 1 || s.val[0] != '0' {
			return s.fail(bad, "Content-Length on an upgrade request")
		}
	}
	return true
}
