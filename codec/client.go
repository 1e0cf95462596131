package codec

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws"
)

// Defaults for Dialer fields left zero.
const (
	DefaultConnectTimeout = 10 * time.Second
)

// Dialer opens client connections. The zero value dials with the defaults.
type Dialer struct {
	// Options configure the Conn.
	Options Options
	// Header holds extra request headers. Handshake headers in it
	// (Upgrade, Connection, Sec-WebSocket-*) are ignored: the Dialer writes
	// its own.
	Header http.Header
	// Host overrides the Host header, which defaults to the URL's host.
	Host string
	// Protocols are the subprotocols to offer, in order of preference.
	Protocols []string
	// Compression, when not nil, offers permessage-deflate (RFC 7692)
	// with these settings; see Compression. The server's answer is
	// checked strictly: one that RFC 7692 does not allow fails the dial.
	// Nil offers no extension.
	Compression *Compression
	// TLSConfig is used for wss URLs. When nil, or when its ServerName is
	// empty, the URL's host name is verified.
	TLSConfig *tls.Config
	// ConnectTimeout bounds the TCP connect and, for wss, the TLS
	// handshake. Default DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// HandshakeTimeout bounds the WebSocket handshake once connected.
	// Default DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// NetDial replaces net.Dialer.DialContext. Optional.
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Handshake is what the server answered to a successful dial.
type Handshake struct {
	// Protocol is the subprotocol the server chose, or "".
	Protocol string
	// Extensions is the Sec-WebSocket-Extensions value the server
	// answered (permessage-deflate and its parameters), or "".
	Extensions string
	// Header holds the 101 response's headers other than the handshake's
	// own.
	Header http.Header
}

// DialError is a failure to reach a server: Op is "connect", "tls" or
// "handshake".
type DialError struct {
	Op  string
	URL string
	Err error
}

func (e *DialError) Error() string { return fmt.Sprintf("codec: %s %s: %v", e.Op, e.URL, e.Err) }
func (e *DialError) Unwrap() error { return e.Err }

// Timeout reports whether the dial failed by running out of time.
func (e *DialError) Timeout() bool {
	return isTimeout(e.Err) || errors.Is(e.Err, context.DeadlineExceeded)
}

// StatusError is a server's refusal of the upgrade: it answered with an
// HTTP status other than 101.
type StatusError struct {
	URL    string
	Status int
	Header http.Header
	// Body is the start of the response body (at most 4 KiB).
	Body []byte
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("codec: %s refused the upgrade with %d %s", e.URL, e.Status, statusText(e.Status))
}

// maxErrorBody bounds how much of a refusal's body is kept.
const maxErrorBody = 4 << 10

// Dial connects to a ws:// or wss:// URL and performs the opening
// handshake. Errors are a *DialError, a *StatusError, or a URL error.
func (d *Dialer) Dial(ctx context.Context, rawURL string) (*Conn, *Handshake, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("codec: dial: %w", err)
	}
	var port string
	switch u.Scheme {
	case "ws":
		port = "80"
	case "wss":
		port = "443"
	default:
		return nil, nil, fmt.Errorf("codec: dial %s: scheme must be ws or wss", rawURL)
	}
	if u.Host == "" {
		return nil, nil, fmt.Errorf("codec: dial %s: no host", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), port)
	}

	nc, err := d.connect(ctx, u, addr)
	if err != nil {
		return nil, nil, err
	}
	c, hs, err := d.upgrade(ctx, nc, u)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return c, hs, nil
}

func (d *Dialer) connect(ctx context.Context, u *url.URL, addr string) (net.Conn, error) {
	timeout := d.ConnectTimeout
	if timeout <= 0 {
		timeout = DefaultConnectTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dial := d.NetDial
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	nc, err := dial(cctx, "tcp", addr)
	if err != nil {
		return nil, &DialError{Op: "connect", URL: u.String(), Err: err}
	}
	if u.Scheme != "wss" {
		return nc, nil
	}
	cfg := d.TLSConfig
	if cfg == nil {
		cfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if cfg.ServerName == "" {
		cfg = cfg.Clone()
		cfg.ServerName = u.Hostname()
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(cctx); err != nil {
		nc.Close()
		return nil, &DialError{Op: "tls", URL: u.String(), Err: err}
	}
	return tc, nil
}

func (d *Dialer) upgrade(ctx context.Context, nc net.Conn, u *url.URL) (*Conn, *Handshake, error) {
	timeout := d.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	deadline := time.Now().Add(timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	nc.SetDeadline(deadline)                                                   //nolint:errcheck // a failed deadline shows as a failed read
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) }) //nolint:errcheck // see above
	defer stop()

	hs := &Handshake{Header: make(http.Header)}
	var refused *StatusError
	gd := ws.Dialer{
		Protocols: d.Protocols,
		Host:      d.Host,
		OnHeader: func(key, value []byte) error {
			k := http.CanonicalHeaderKey(string(key))
			hs.Header[k] = append(hs.Header[k], string(value))
			return nil
		},
		OnStatusError: func(status int, _ []byte, resp io.Reader) {
			refused = &StatusError{URL: u.String(), Status: status}
			r, err := http.ReadResponse(bufio.NewReader(resp), nil)
			if err != nil {
				return
			}
			refused.Header = r.Header
			refused.Body, _ = io.ReadAll(io.LimitReader(r.Body, maxErrorBody))
			r.Body.Close()
		},
	}
	var offer deflateParams
	if d.Compression != nil {
		offer = d.Compression.offer()
		gd.Extensions = []httphead.Option{offer.option()}
	}
	if len(d.Header) > 0 {
		h := make(http.Header, len(d.Header))
		for k, v := range d.Header {
			if !isHandshakeHeader(k) {
				h[k] = v
			}
		}
		gd.Header = ws.HandshakeHeaderHTTP(h)
	}
	br, ghs, err := gd.Upgrade(nc, u)
	if err != nil {
		if br != nil {
			ws.PutReader(br)
		}
		if refused != nil {
			return nil, nil, refused
		}
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, nil, &DialError{Op: "handshake", URL: u.String(), Err: err}
	}
	var answer deflateParams
	var params CompressionParams
	if len(ghs.Extensions) > 0 {
		// gobwas/ws has refused extensions that were not offered.
		if d.Compression == nil {
			err = fmt.Errorf("%w: no extension was offered", errBadAnswer)
		} else {
			answer, params, err = d.Compression.verify(offer, ghs.Extensions)
		}
		if err != nil {
			if br != nil {
				ws.PutReader(br)
			}
			return nil, nil, &DialError{Op: "handshake", URL: u.String(), Err: err}
		}
	}
	nc.SetDeadline(time.Time{}) //nolint:errcheck // see above
	var buffered []byte
	if br != nil {
		buffered, _ = br.Peek(br.Buffered())
	}
	c := NewConn(nc, ClientRole, &d.Options, buffered)
	if br != nil {
		ws.PutReader(br)
	}
	c.subprotocol = ghs.Protocol
	hs.Protocol = ghs.Protocol
	if len(ghs.Extensions) > 0 {
		hs.Extensions = answer.String()
		c.enableDeflate(d.Compression, hs.Extensions, params)
	}
	return c, hs, nil
}

// isHandshakeHeader reports whether the canonical header name k belongs to
// the WebSocket handshake itself or is hop-by-hop.
func isHandshakeHeader(k string) bool {
	switch k {
	case "Host", "Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version",
		"Sec-Websocket-Protocol", "Sec-Websocket-Extensions", "Sec-Websocket-Accept":
		return true
	}
	return false
}
