package proxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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
// A dial that fails because the proxy itself is out of file descriptors
// (EMFILE, ENFILE) is not the upstream's fault: it is not failed over, as
// every server would fail alike, and the client gets 503 with Retry-After,
// the proxy being overloaded; the error wraps errOutOfFiles. Such failures
// are logged at most once per fdReportInterval, with the advice.
//
// verdict, when not nil, holds the filters' edits of the upstream request's
// headers and request-target. Each attempt's duration goes to timing
// (except one that failed for want of a file descriptor: no upstream was
// tried); each failure to log.
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
			Compression:      r.upstreamDeflate,
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
		if advice, ok := fdAdvice(err); ok {
			if due, unlogged := dialFiles.due(time.Now()); due {
				log(server, fmt.Errorf("%s (open-file limit %s, %d such dial failures not logged since the last line): %w",
					advice, openFilesLimit(), unlogged, err))
			}
			return nil, fmt.Errorf("%w: %w", errOutOfFiles,
				limitRejection(http.StatusServiceUnavailable, "proxy overloaded: out of file descriptors, retry later"))
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

// errOutOfFiles marks a dial that failed because the proxy itself has no
// file descriptor left for the upstream's socket.
var errOutOfFiles = errors.New("proxy: out of file descriptors")

// fdReportInterval is how often at most a place that keeps running out of
// file descriptors logs it at warning or error level.
const fdReportInterval = 10 * time.Second

// dialFiles rate-limits the log lines of dials that fail for want of a
// file descriptor. It is the process's, as the descriptor table is: every
// upstream of every proxy in the process would fail alike.
var dialFiles fdReport

// fdReport rate-limits the log lines of one place that runs out of file
// descriptors (or fails for another reason that repeats): the first
// failure is logged at once, later ones at most once per
// fdReportInterval, with how many went unlogged in between.
type fdReport struct {
	mu       sync.Mutex
	last     time.Time // of the last line logged; zero: none since reset
	unlogged int
}

// due reports whether a failure at now is to be logged, and if so how
// many failures since the last logged one were not.
func (r *fdReport) due(now time.Time) (bool, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.last.IsZero() && now.Sub(r.last) < fdReportInterval {
		r.unlogged++
		return false, 0
	}
	n := r.unlogged
	r.last, r.unlogged = now, 0
	return true, n
}

// reset forgets the failures: the next one is logged at once.
func (r *fdReport) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last, r.unlogged = time.Time{}, 0
}

// fdAdvice says what to do when err is the process (EMFILE) or the whole
// system (ENFILE) running out of file descriptors; ok is false for any
// other error.
func fdAdvice(err error) (advice string, ok bool) {
	switch {
	case errors.Is(err, syscall.EMFILE):
		return "the process is out of file descriptors: raise its open-file limit (ulimit -n, systemd LimitNOFILE) or lower max_connections", true
	case errors.Is(err, syscall.ENFILE):
		return "the system is out of file descriptors: raise its limit (sysctl fs.file-max) or lower max_connections", true
	}
	return "", false
}
