package config

import (
	"crypto/tls"
	"net/url"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/wasmgate/wasmgate/plugins"
)

// Config is a loaded and validated configuration. Load and Parse return a
// Config whose every reference is resolved and every default filled in.
type Config struct {
	// Listeners are the listener blocks, in declaration order (files in
	// lexical order, then blocks in source order). At least one.
	Listeners []*Listener

	// Upstreams are the upstream blocks, in declaration order.
	Upstreams []*Upstream

	// Plugins are the plugin blocks, in declaration order, whether or not a
	// route uses them. Routes refer to them in Route.Filters.
	Plugins []*Plugin

	// Routes are the route blocks, in declaration order, which is also their
	// match order: the first route that matches a request wins. At least one.
	Routes []*Route

	// Limits are the global defaults from the top-level limits block, with
	// every attribute the block does not set at its default (see
	// DefaultLimits). Each route's Limits already include these, except
	// MaxConnections: here it is the cap on the whole proxy, which Load and
	// Parse set, when the block does not, from the open-file limit (see
	// Limits.MaxConnections).
	Limits Limits

	// Admin is the admin block, or nil when there is none: the admin
	// listener is off by default. At most one admin block exists in the
	// whole configuration.
	Admin *Admin

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

	// ReusePort sets SO_REUSEPORT on the socket (reuse_port, default
	// false), so that several wasmgate processes can listen on the same
	// address and the kernel spreads connections among them: one process
	// holds as many connections as its open-file limit allows.
	ReusePort bool

	// Console serves a WebSocket console, a web page to send messages
	// through the proxy and watch them come back, at "/" to requests that
	// are not upgrades (console, default false). Other such requests get
	// 404. Without it they get 400.
	Console bool

	// TLS is nil for a plain (ws) listener. For a listener with a tls block
	// (wss) it holds the certificate, loaded at load time, and NextProtos
	// "http/1.1" (WebSocket upgrades need HTTP/1.1). MinVersion is TLS 1.2
	// unless min_version = "1.3". CipherSuites are those of cipher_suites
	// (TLS 1.2 only), or nil for Go's defaults. ClientCAs is the pool of
	// client_ca_file, or nil; ClientAuth is tls.RequireAndVerifyClientCert
	// (client_auth "require", the default with client_ca_file),
	// tls.VerifyClientCertIfGiven ("optional") or tls.NoClientCert
	// ("none", the default without client_ca_file). The proxy uses it as
	// is for every connection, so a reload that loads the files again
	// rotates certificates and CAs for new connections.
	TLS *tls.Config

	// CertFile and KeyFile are the paths of the tls block's cert_file and
	// key_file, resolved like Plugin.WasmPath, so that the effective
	// configuration can say where the certificate came from. Both are
	// empty for a plain listener.
	CertFile, KeyFile string

	// ClientCAFile is the path of the tls block's client_ca_file, resolved
	// like CertFile, whose certificates are TLS.ClientCAs. Empty when
	// client_ca_file is not set: no client certificate is asked for.
	ClientCAFile string

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
	// Certificates holds the client certificate of cert_file and key_file,
	// presented to servers that ask for one (mTLS), or is empty. MinVersion
	// is TLS 1.2 unless min_version = "1.3"; CipherSuites are those of
	// cipher_suites (TLS 1.2 only), or nil for Go's defaults. NextProtos
	// is "http/1.1".
	TLS *tls.Config

	// CAFile is the path of the tls block's ca_file, resolved like
	// Plugin.WasmPath, whose certificates are TLS.RootCAs. Empty when
	// ca_file is not set: the system roots.
	CAFile string

	// CertFile and KeyFile are the paths of the tls block's cert_file and
	// key_file, resolved like CAFile: the client certificate in
	// TLS.Certificates. Both are empty when the upstream presents none.
	CertFile, KeyFile string

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

	// RequireTLS refuses, with 403, a client that connected without TLS
	// (require_tls, default false): the route is served on wss only,
	// even on a listener that also accepts ws.
	RequireTLS bool

	// Compression is the route's permessage-deflate (compression and the
	// compression_ attributes), negotiated on each leg on its own; nil
	// when off, the default.
	Compression *Compression

	// Filters are the plugins the route runs on each of its connections,
	// from the filters attribute, in order from the client to the
	// upstream: handshakes and client messages go through Filters[0]
	// first, upstream messages through it last. A plugin appears at most
	// once. Default nil: no filter.
	Filters []*Plugin

	// Limits are the global limits overridden, attribute by attribute, by
	// the route's own limits block. MaxConnections is not inherited: it is
	// the route's own cap, 0 (none) unless its limits block sets it.
	Limits Limits

	// DeclRange is the range of the block's header, `route "name"`.
	DeclRange hcl.Range

	// secretHeaders are the canonical names of the Headers whose value
	// the configuration reads with env() or file(): EffectiveJSON redacts
	// them.
	secretHeaders map[string]bool
}

// Plugin is a plugin block: a WebAssembly filter module, checked against
// the plugin ABI (sdk/ABI.md) at load time, and the settings of its
// sandbox. Routes run plugins through their filters attribute.
type Plugin struct {
	// Name is the block label. Names are unique among plugins; routes name
	// plugins by it in filters.
	Name string

	// WasmPath is the path of the module (wasm), resolved against the
	// directory of the file that declares the block: absolute, or relative
	// to the working directory when the configuration's path was.
	WasmPath string

	// Wasm is the module, read at load time, so that the plugin runs the
	// module that was checked even if the file changes. Required.
	Wasm []byte

	// Info is what plugins.Inspect found in the module: the hooks it
	// exports and whether it imports WASI.
	Info *plugins.ModuleInfo

	// Config is the config attribute as JSON, given to the plugin by the
	// config_get host function. "null" when config is absent or null.
	Config []byte

	// Instances is how many instances of the module serve connections
	// (instances). From 1 to 1024. Default runtime.GOMAXPROCS(0), capped
	// at 1024.
	Instances int

	// MemoryLimit caps the linear memory of each instance, in bytes
	// (memory_limit), rounded up to a whole number of 64 KiB Wasm pages.
	// Default 64 MiB. From 64 KiB to 4 GiB.
	MemoryLimit int64

	// Timeout is the deadline of each call into the plugin (timeout).
	// Default 5ms. Greater than 0, at most 10s.
	Timeout time.Duration

	// OnError is what happens to the plugin's connections when a call into
	// it fails (on_error). Default OnErrorClose.
	OnError OnError

	// Sandbox is how Timeout is enforced (sandbox). Default SandboxChecked.
	Sandbox Sandbox

	// KVNamespace names the key-value store the plugin's kv_* host
	// functions use (kv_namespace); plugins with the same namespace share
	// one store. Default: the plugin's Name.
	KVNamespace string

	// CacheDir is the directory where compiled modules are kept between
	// runs (cache_dir), resolved like WasmPath. The loader does not create
	// it: whoever compiles the module does, if it is missing. Default "":
	// no on-disk cache.
	CacheDir string

	// Reload is what a configuration reload does to the connections that
	// the plugin already filters (reload). Default ReloadRestart.
	Reload Reload

	// DeclRange is the range of the block's header, `plugin "name"`.
	DeclRange hcl.Range

	// redactedConfig is Config with the values that are secret, by the
	// rules of EffectiveJSON, replaced; nil when the loader did not set
	// it, and EffectiveJSON redacts Config by key names alone.
	redactedConfig []byte
}

// OnError is a plugin's policy for the connections pinned to an instance
// that failed: a trap, a missed deadline, exhausted memory, or a hook that
// returned an error status. The instance is replaced either way.
type OnError int

const (
	// OnErrorClose closes the connections with status 1011 (on_error =
	// "close", the default).
	OnErrorClose OnError = iota
	// OnErrorPass keeps the connections open and skips the plugin for them
	// from then on (on_error = "pass").
	OnErrorPass
)

// String returns the policy as written in the configuration: "close" or
// "pass".
func (o OnError) String() string {
	switch o {
	case OnErrorClose:
		return "close"
	case OnErrorPass:
		return "pass"
	}
	return "OnError(" + strconv.Itoa(int(o)) + ")"
}

// Sandbox is how a plugin's timeout is enforced.
type Sandbox int

const (
	// SandboxChecked enforces the deadline inside a running call: a call
	// that overruns it is stopped, even a guest stuck in a loop. It costs a
	// little on every call (sandbox = "checked", the default).
	SandboxChecked Sandbox = iota
	// SandboxPlain runs calls without checks: faster, but an overrun is
	// only detected after the call returns, and a guest stuck in a loop
	// cannot be stopped (sandbox = "plain").
	SandboxPlain
)

// String returns the sandbox as written in the configuration: "checked"
// or "plain".
func (s Sandbox) String() string {
	switch s {
	case SandboxChecked:
		return "checked"
	case SandboxPlain:
		return "plain"
	}
	return "Sandbox(" + strconv.Itoa(int(s)) + ")"
}

// Reload is what a configuration reload does to the open connections
// that a plugin filters. New connections always get the new version.
type Reload int

const (
	// ReloadRestart leaves each open connection on the instance, and the
	// version of the plugin, it started with until it closes (reload =
	// "restart", the default).
	ReloadRestart Reload = iota
	// ReloadLive moves each open connection to the new version of the
	// plugin at its next message boundary, and runs the new version's
	// on_open for it again with the flag OPEN_REOPEN (sdk/ABI.md), so that
	// a fixed filter reaches every connection without a reconnect (reload
	// = "live"). It applies only when the plugin is live in both the old
	// and the new configuration.
	ReloadLive
)

// String returns the policy as written in the configuration: "restart"
// or "live".
func (r Reload) String() string {
	switch r {
	case ReloadRestart:
		return "restart"
	case ReloadLive:
		return "live"
	}
	return "Reload(" + strconv.Itoa(int(r)) + ")"
}

// Admin is the admin block: a separate HTTP listener that serves metrics,
// health, the effective configuration and reloads. It has no
// authentication.
type Admin struct {
	// Address is the "host:port" to listen on, as written; port 0 picks a
	// free port. Required. It never overlaps a listener's address.
	Address string

	// Pprof serves net/http/pprof under /debug/pprof/ on the admin
	// listener (pprof). Default false.
	Pprof bool

	// DeclRange is the range of the block's header, `admin`.
	DeclRange hcl.Range
}

// Limits bound what a connection may do. The zero value is not useful: use
// DefaultLimits, which Load and Parse start from.
type Limits struct {
	// MaxMessageSize is the largest data message, assembled, in either
	// direction (max_message_size): the default of ClientMaxMessageSize
	// and UpstreamMaxMessageSize, and the bound on a message that a filter
	// replaces or sends. Default 16 MiB. At least 1 byte.
	MaxMessageSize int64

	// MaxFrameSize is the largest frame payload (max_frame_size), and the
	// default of the frame sizes of each direction. Default: the effective
	// MaxMessageSize. Never more than MaxMessageSize.
	MaxFrameSize int64

	// ClientMaxMessageSize is the largest data message, assembled, that a
	// client may send (client_max_message_size); a client that sends more
	// is closed with 1009 and its upstream with 1001. At least 1 byte.
	// The first that is set of: the route's client_max_message_size, the
	// route's max_message_size, the top-level client_max_message_size, the
	// top-level max_message_size; else 16 MiB. In Config.Limits, only the
	// top-level ones count.
	ClientMaxMessageSize int64

	// ClientMaxFrameSize is the largest frame payload that a client may
	// send (client_max_frame_size). Never more than ClientMaxMessageSize.
	// The route's client_max_frame_size; else the first that is set of
	// the route's max_frame_size, the top-level client_max_frame_size and
	// the top-level max_frame_size, lowered to ClientMaxMessageSize when
	// that is smaller; else ClientMaxMessageSize.
	ClientMaxFrameSize int64

	// UpstreamMaxMessageSize is ClientMaxMessageSize for what an upstream
	// sends (upstream_max_message_size): an upstream that sends more is
	// closed with 1009 and its client with 1001.
	UpstreamMaxMessageSize int64

	// UpstreamMaxFrameSize is ClientMaxFrameSize for what an upstream
	// sends (upstream_max_frame_size), bounded by UpstreamMaxMessageSize.
	UpstreamMaxFrameSize int64

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

	// MaxConnections caps the proxied connections held at once
	// (max_connections); 0 means no cap. At least 0. In Config.Limits it
	// is the cap on the whole proxy; Load and Parse default it to what the
	// open-file limit leaves room for, (RLIMIT_NOFILE soft limit - 64) / 2
	// since each connection holds two sockets, at least 1, or 0 where the
	// limit cannot be read. In Route.Limits it is the route's own cap,
	// default 0: a route does not inherit the proxy-wide total. A client
	// over either cap is refused before the upgrade.
	MaxConnections int

	// MaxConnectionsPerIP caps the connections one client IP address (the
	// TCP peer's) holds at once on a route (max_connections_per_ip).
	// Default 0: no cap. At least 0. A client over it is refused before
	// the upgrade.
	MaxConnectionsPerIP int

	// MaxMessageRate is the rate, in data messages per second, at which a
	// client may send on one connection (max_message_rate): a token bucket
	// refilled at this rate and holding MessageBurst messages. A client
	// that exceeds it is closed with status 1008. Default 0: no limit.
	// Otherwise greater than 0, possibly fractional, at most 1e9.
	MaxMessageRate float64

	// MessageBurst is the size of the token bucket of MaxMessageRate: how
	// many messages a client may send at once (message_burst). At least 1
	// when MaxMessageRate is greater than 0, and 0 when it is 0. Default
	// one second's worth of MaxMessageRate: max(1, ceil(MaxMessageRate)).
	MessageBurst int
}

// DefaultLimits returns the limits that apply where the configuration sets
// none. Its MaxConnections is 0: the default of the proxy-wide cap depends
// on the process's open-file limit, and Load and Parse fill it in.
func DefaultLimits() Limits {
	return Limits{
		MaxMessageSize: 16 << 20,
		MaxFrameSize:   16 << 20,

		ClientMaxMessageSize:   16 << 20,
		ClientMaxFrameSize:     16 << 20,
		UpstreamMaxMessageSize: 16 << 20,
		UpstreamMaxFrameSize:   16 << 20,

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

// Defaults and bounds of the plugin attributes. The default of instances
// is runtime.GOMAXPROCS(0), capped at maxPluginInstances.
const (
	defaultPluginMemoryLimit = 64 << 20
	defaultPluginTimeout     = 5 * time.Millisecond

	maxPluginInstances = 1024
	minPluginMemory    = 64 << 10 // one Wasm page
	maxPluginMemory    = 4 << 30  // the 32-bit address space
	maxPluginTimeout   = 10 * time.Second

	// wasmPageSize is the unit memory_limit is rounded up to.
	wasmPageSize = 64 << 10
)
