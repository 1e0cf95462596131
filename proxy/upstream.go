package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/plugins"
	"github.com/wasmgate/wasmgate/proxy/config"
)

// upstream is a config.Upstream with its round-robin position.
type upstream struct {
	cfg  *config.Upstream
	next atomic.Uint32
}

// noKeepAliveDialer dials upstreams without TCP keepalive: each leg has the
// WebSocket's own (ping_interval), and Go's default would cost four
// setsockopt calls per connection.
var noKeepAliveDialer = &net.Dialer{KeepAlive: -1}

// dialResult is a successful upstream dial.
type dialResult struct {
	conn     *codec.Conn
	hs       *codec.Handshake
	upstream string // its name
	server   *url.URL
}

// dial connects to the upstream's servers in round-robin order, failing
// over to the next server when one cannot be reached or answers the
// upgrade with a 5xx. A refusal with another status is not retried: it is
// the upstream's answer to this client. The error is a *codec.RejectError
// carrying the status for the client: the upstream's own 4xx, 504 when
// every failure was a timeout, 502 otherwise.
//
// verdict, when not nil, holds the filters' edits of the upstream request's
// headers and request-target. Each attempt's duration goes to timing; each
// failure to log.
func (u *upstream) dial(ctx context.Context, req *codec.Request, r *route, verdict *plugins.Verdict, opts *codec.Options, timing dialTiming, log func(server *url.URL, err error)) (*dialResult, error) {
	servers := u.cfg.Servers
	start := int(u.next.Add(1)-1) % len(servers)
	header := upstreamHeader(req, r.cfg)
	uri := req.URI
	if verdict != nil {
		verdict.Apply(header)
		if verdict.URI != "" {
			uri = verdict.URI
		}
	}
	allTimeouts := true
	for i := range servers {
		server := servers[(start+i)%len(servers)]
		d := codec.Dialer{
			Options:          *opts,
			Header:           header,
			Protocols:        req.Protocols,
			TLSConfig:        u.cfg.TLS,
			ConnectTimeout:   u.cfg.ConnectTimeout,
			HandshakeTimeout: u.cfg.HandshakeTimeout,
			NetDial:          noKeepAliveDialer.DialContext,
		}
		start := time.Now()
		conn, hs, err := d.Dial(ctx, upstreamURL(server, uri))
		if err == nil {
			timing.ok.Observe(time.Since(start).Seconds())
			return &dialResult{conn: conn, hs: hs, upstream: u.cfg.Name, server: server}, nil
		}
		timing.failed.Observe(time.Since(start).Seconds())
		log(server, err)
		var se *codec.StatusError
		if errors.As(err, &se) && se.Status < 500 {
			return nil, &codec.RejectError{Status: se.Status, Header: refusalHeader(se.Header), Body: string(se.Body)}
		}
		var de *codec.DialError
		if !errors.As(err, &de) || !de.Timeout() {
			allTimeouts = false
		}
		if ctx.Err() != nil {
			break
		}
	}
	if allTimeouts {
		return nil, &codec.RejectError{Status: http.StatusGatewayTimeout, Body: fmt.Sprintf("upstream %q timed out", u.cfg.Name)}
	}
	return nil, &codec.RejectError{Status: http.StatusBadGateway, Body: fmt.Sprintf("upstream %q unavailable", u.cfg.Name)}
}

// upstreamURL joins the server's base path and the client's request-target.
func upstreamURL(server *url.URL, uri string) string {
	base := strings.TrimSuffix(server.Path, "/")
	return server.Scheme + "://" + server.Host + base + uri
}

// refusalHeader keeps the headers of an upstream's refusal that a client
// can act on.
func refusalHeader(h http.Header) http.Header {
	out := http.Header{}
	for _, k := range []string{"Www-Authenticate", "Retry-After"} {
		if v := h.Values(k); len(v) > 0 {
			out[k] = v
		}
	}
	return out
}

// hopByHop are the headers that describe one connection, not the message
// (RFC 9110, section 7.6.1), plus headers a proxy must not pass on.
var hopByHop = map[string]bool{
	"Connection":          true,
	"Keep-Alive":          true,
	"Proxy-Connection":    true,
	"Proxy-Authenticate":  true,
	"Proxy-Authorization": true,
	"Te":                  true,
	"Trailer":             true,
	"Transfer-Encoding":   true,
	"Upgrade":             true,
	"Content-Length":      true,
}

// upstreamHeader builds the headers of the upstream request from the
// client's: hop-by-hop headers removed (the fixed ones and those the
// client's Connection header names), the route's forward and drop lists
// applied, and X-Forwarded-For, -Proto and -Host set.
func upstreamHeader(req *codec.Request, rc *config.Route) http.Header {
	h := make(http.Header, len(req.Header)+3)
	for k, v := range req.Header {
		if hopByHop[k] || strings.HasPrefix(k, "X-Forwarded-") || containsFold(req.ConnectionOptions, k) {
			continue
		}
		if rc.ForwardHeaders != nil && !containsFold(rc.ForwardHeaders, k) {
			continue
		}
		if containsFold(rc.DropHeaders, k) {
			continue
		}
		h[k] = v
	}
	clientIP := hostOnly(req.RemoteAddr.String())
	if prior := req.Header.Values("X-Forwarded-For"); len(prior) > 0 && !containsFold(rc.DropHeaders, "X-Forwarded-For") {
		clientIP = strings.Join(prior, ", ") + ", " + clientIP
	}
	h.Set("X-Forwarded-For", clientIP)
	proto := "http"
	if req.TLS != nil {
		proto = "https"
	}
	h.Set("X-Forwarded-Proto", proto)
	h.Set("X-Forwarded-Host", req.Host)
	return h
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
