package codec

import (
	"bufio"
	"bytes"
	"crypto/tls"
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
}

// Upgrade reads an upgrade request from nc, answers it, and returns the
// Conn and the request. On error it has answered with an HTTP status (400
// for a malformed request, 408, 431, or what Decide said) and the caller
// should close nc.
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
			if h == nil {
				return ws.HandshakeHeaderString(""), nil
			}
			return ws.HandshakeHeaderHTTP(h), nil
		},
	}
	_, err := gu.Upgrade(lr)
	if err != nil {
		switch {
		case decideErr != nil:
			err = decideErr
		case lr.exceeded:
			writeStatus(nc, http.StatusRequestHeaderFieldsTooLarge, "request header too large")
			err = ErrHeaderTooLarge
		case isTimeout(err):
			writeStatus(nc, http.StatusRequestTimeout, "handshake timeout")
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
// a write deadline of its own: the handshake's may be what expired.
func writeStatus(nc net.Conn, status int, body string) {
	nc.SetWriteDeadline(time.Now().Add(time.Second)) //nolint:errcheck // best effort
	bw := bufio.NewWriterSize(nc, 256)
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(body), body)
	bw.Flush() //nolint:errcheck // best effort
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// limitedConn stops reading after a number of bytes, to bound the size of
// an upgrade request.
type limitedConn struct {
	net.Conn
	left     int
	exceeded bool
}

func (l *limitedConn) Read(p []byte) (int, error) {
	if l.left <= 0 {
		l.exceeded = true
		return 0, ErrHeaderTooLarge
	}
	if len(p) > l.left {
		p = p[:l.left]
	}
	n, err := l.Conn.Read(p)
	l.left -= n
	return n, err
}

// statusText is the reason phrase for status, or "status N".
func statusText(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "status " + strconv.Itoa(status)
}
