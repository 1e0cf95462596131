package config

import (
	"crypto/tls"
	"net/url"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Config is a loaded and validated configuration. Load and Parse return a
// Config whose every reference is resolved and every default filled in.
type Config struct {
	// Listeners are the listener blocks, in declaration order (files in
	// lexical order, then blocks in source order). At least one.
	Listeners []*Listener

	// Upstreams are the upstream blocks, in declaration order.
	Upstreams []*Upstream

	// Routes are the route blocks, in declaration order, which is also their
	// match order: the first route that matches a request wins. At least one.
	Routes []*Route

	// Limits are the global defaults from the top-level limits block, with
	// every attribute the block does not set at its default (see
	// DefaultLimits). Each route's Limits already include these.
	Limits Limits

	// Files are the parsed source files, keyed by file name as it appears in
	// diagnostics. WriteDiagnostics needs them to print source snippets.
	// Files is set even when loading failed.
	Files map[string]*hcl.File

	// Source is the path given to Load, or the file name given to Parse.
	// Diagnostics that point at no file are named after it.
	Source string
}

// Listener is a listener block: an address where wasmgate accepts client
// connections, plain (ws) or with TLS (wss).
type Listener struct {
	// Name is the block label. Names are unique among listeners.
	Name string

	// Address is the "host:port" to listen on, as written. The host may be
	// empty (every interface); port 0 picks a free port. No default: the
	// address attribute is required.
	Address string

	// TLS is nil for a plain (ws) listener. For a listener with a tls block
	// (wss) it holds the certificate, loaded at load time, MinVersion TLS
	// 1.2, and NextProtos "http/1.1" (WebSocket upgrades need HTTP/1.1).
	TLS *tls.Config

	// DeclRange is the range of the block's header, `listener "name"`.
	DeclRange hcl.Range
}

// Upstream is an upstream block: the WebSocket servers that routes proxy to.
type Upstream struct {
	// Name is the block label. Names are unique among upstreams.
	Name string

	// Servers are the server URLs, in the order written, each ws:// or
	// wss:// with a host and no fragment or user info. At least one. A path
	// or query is kept as written.
	Servers []*url.URL

	// ConnectTimeout bounds the TCP connect plus, for wss, the TLS
	// handshake. Default 5s (connect_timeout).
	ConnectTimeout time.Duration

	// HandshakeTimeout bounds the wait for the server's answer to the
	// WebSocket upgrade request. Default 10s (handshake_timeout).
	HandshakeTimeout time.Duration

	// TLS is the client TLS configuration for wss servers; it is non-nil
	// whenever any server is wss, and nil otherwise. RootCAs is the pool
	// from ca_file, or nil for the system roots; ServerName is empty unless
	// server_name is set, in which case the dialer should Clone the config
	// and set ServerName to the host of the server it dials.
	// InsecureSkipVerify is false unless insecure_skip_verify is true.
	// MinVersion is TLS 1.2 and NextProtos is "http/1.1".
	TLS *tls.Config

	// DeclRange is the range of the block's header, `upstream "name"`.
	DeclRange hcl.Range
}

// Route is a route block: which requests go to which upstream, and under
// which limits. A request matches a route when its listener, host, path and
// headers all match; the first matching route in Config.Routes wins.
type Route struct {
	// Name is the block label. Names are unique among routes.
	Name string

	// Listener is the listener the route applies to. The listener attribute
	// may be omitted when exactly one listener is declared.
	Listener *Listener

	// Host is the host to match, lower-cased, without port; "" (the default)
	// matches any host. A pattern "*.example.com" matches every host that
	// ends in ".example.com" (but not example.com itself). An IPv6 literal
	// is stored without brackets. Hosts are compared case-insensitively and
	// without the port of the request's Host header.
	Host string

	// Path is the prefix the request path must start with. Default "/"
	// (every path). Empty when ExactPath is set: exactly one of Path and
	// ExactPath is non-empty.
	Path string

	// ExactPath is the path the request path must equal. Default "".
	ExactPath string

	// Headers maps canonical header names (textproto.CanonicalMIMEHeaderKey)
	// to the exact value each must have; all must match. Default nil: no
	// header condition.
	Headers map[string]string

	// Upstream is the upstream the route proxies to. Required.
	Upstream *Upstream

	// Origins is the Origin allowlist: lower-cased "scheme://host[:port]"
	// values compared case-insensitively with the request's Origin header,
	// or the single element "*" meaning any origin. Default nil: any
	// origin, including a request without Origin.
	Origins []string

	// ForwardHeaders are the canonical names of the client headers passed
	// to the upstream. Default nil: every end-to-end header; the proxy
	// always strips hop-by-hop and handshake headers itself. An empty,
	// non-nil slice forwards no client header.
	ForwardHeaders []string

	// DropHeaders are the canonical names of client headers never passed to
	// the upstream. Default nil. May be combined with a nil ForwardHeaders
	// (forward all but these); never overlaps ForwardHeaders.
	DropHeaders []string

	// Limits are the global limits overridden, attribute by attribute, by
	// the route's own limits block.
	Limits Limits

	// DeclRange is the range of the block's header, `route "name"`.
	DeclRange hcl.Range
}

// Limits bound what a connection may do. The zero value is not useful: use
// DefaultLimits, which Load and Parse start from.
type Limits struct {
	// MaxMessageSize is the largest data message, assembled, in either
	// direction (max_message_size). Default 16 MiB. At least 1 byte.
	MaxMessageSize int64

	// MaxFrameSize is the largest frame payload (max_frame_size). Default:
	// the effective MaxMessageSize. Never more than MaxMessageSize.
	MaxFrameSize int64

	// HandshakeTimeout is how long a client has to send its whole upgrade
	// request (handshake_timeout). Default 10s. Greater than 0.
	HandshakeTimeout time.Duration

	// MaxHeaderBytes is the largest client upgrade request, request line and
	// headers (max_header_size). Default 8 KiB. From 1 KiB to 1 MiB.
	MaxHeaderBytes int

	// IdleTimeout closes a connection after no data message went either way
	// for this long (idle_timeout). Default 1h. 0 disables it.
	IdleTimeout time.Duration

	// PingInterval is the silence on a leg after which the proxy sends a
	// keepalive ping on that leg (ping_interval). Default 30s. 0 disables
	// keepalive pings.
	PingInterval time.Duration

	// PongTimeout is how long the proxy waits for the pong answering its
	// ping (pong_timeout). Default 15s. Greater than 0.
	PongTimeout time.Duration

	// CloseTimeout is how long the proxy waits for the peer's close frame
	// after sending its own (close_timeout). Default 5s. Greater than 0.
	CloseTimeout time.Duration

	// WriteTimeout bounds each write to a peer (write_timeout). Default 30s.
	// Greater than 0.
	WriteTimeout time.Duration
}

// DefaultLimits returns the limits that apply where the configuration sets
// none.
func DefaultLimits() Limits {
	return Limits{
		MaxMessageSize:   16 << 20,
		MaxFrameSize:     16 << 20,
		HandshakeTimeout: 10 * time.Second,
		MaxHeaderBytes:   8 << 10,
		IdleTimeout:      time.Hour,
		PingInterval:     30 * time.Second,
		PongTimeout:      15 * time.Second,
		CloseTimeout:     5 * time.Second,
		WriteTimeout:     30 * time.Second,
	}
}

// Defaults of the upstream attributes.
const (
	defaultConnectTimeout   = 5 * time.Second
	defaultHandshakeTimeout = 10 * time.Second
)
