package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/wasmgate/wasmgate/sdk/abi"
)

// EffectiveJSON returns the configuration as an indented JSON document, as
// the proxy runs it: every default filled in, references by name, sizes as
// whole numbers of bytes, durations as Go duration strings ("5s",
// "1h0m0s", "0s" for off), paths resolved. It is what the admin endpoint
// GET /config serves. Fields appear in a fixed order, so that the same
// configuration always gives the same bytes; the document ends with a
// newline.
//
// The top-level fields are source, listeners, upstreams, plugins, routes,
// limits (the global ones) and admin (null without an admin block). The
// max_connections of the global limits caps the whole proxy, and a route's
// is the route's own cap (0: none), as in Limits.MaxConnections;
// max_message_rate is a number, 0 for no limit, and message_burst 0 with
// it. A tls block shows its files as paths, never their contents, and its
// client_auth ("none", "optional" or "require") and min_version ("1.2" or
// "1.3") as the values the configuration takes. An optional setting that
// is not set is null where null and an empty value mean different things:
// a listener's or upstream's tls, a listener's client_ca_file, an
// upstream's ca_file, server_name, cert_file and key_file, the
// cipher_suites of either (null: Go's defaults), a plugin's cache_dir, a
// route's host, the one of path and exact_path it does not use, headers,
// origins (null: any origin) and forward_headers (null: every header; []:
// none). A plugin is also described by the SHA-256 and size of its module
// and the hooks it exports.
//
// Secrets are replaced by the string "[redacted]": in a plugin's config,
// every value whose expression reads env() or file() (all of it, for
// config = env("X")), and, at any depth, the value of every key whose
// name contains, ignoring case, one of secret, password, passwd, token,
// apikey, api_key, key, credential, private or auth; the value of a route
// header condition whose name contains one of those or whose value is read
// with env() or file(); and the value of a query parameter of a server URL
// whose name contains one of those. Which values were read with env() or
// file() is known for a Config from Load or Parse only; for one built
// otherwise, the names alone decide.
func (c *Config) EffectiveJSON() ([]byte, error) {
	doc := effectiveConfig{
		Source:    c.Source,
		Listeners: make([]effectiveListener, 0, len(c.Listeners)),
		Upstreams: make([]effectiveUpstream, 0, len(c.Upstreams)),
		Plugins:   make([]effectivePlugin, 0, len(c.Plugins)),
		Routes:    make([]effectiveRoute, 0, len(c.Routes)),
		Limits:    effectiveLimitsOf(c.Limits),
	}
	for _, l := range c.Listeners {
		doc.Listeners = append(doc.Listeners, effectiveListenerOf(l))
	}
	for _, u := range c.Upstreams {
		doc.Upstreams = append(doc.Upstreams, effectiveUpstreamOf(u))
	}
	for _, p := range c.Plugins {
		doc.Plugins = append(doc.Plugins, effectivePluginOf(p))
	}
	for _, r := range c.Routes {
		doc.Routes = append(doc.Routes, effectiveRouteOf(r))
	}
	if a := c.Admin; a != nil {
		doc.Admin = &effectiveAdmin{Address: a.Address, Pprof: a.Pprof}
	}

	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // URLs keep their & as written
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("config: encode the effective configuration: %w", err)
	}
	return b.Bytes(), nil
}

// The effective* types are the JSON document of EffectiveJSON. They are
// structs, not maps, so that the fields keep their order.

type effectiveConfig struct {
	Source    string              `json:"source"`
	Listeners []effectiveListener `json:"listeners"`
	Upstreams []effectiveUpstream `json:"upstreams"`
	Plugins   []effectivePlugin   `json:"plugins"`
	Routes    []effectiveRoute    `json:"routes"`
	Limits    effectiveLimits     `json:"limits"`
	Admin     *effectiveAdmin     `json:"admin"`
}

type effectiveListener struct {
	Name      string              `json:"name"`
	Address   string              `json:"address"`
	ReusePort bool                `json:"reuse_port"`
	Console   bool                `json:"console"`
	TLS       *effectiveServerTLS `json:"tls"`
}

type effectiveServerTLS struct {
	CertFile     string   `json:"cert_file"`
	KeyFile      string   `json:"key_file"`
	ClientCAFile *string  `json:"client_ca_file"` // null: no client certificates
	ClientAuth   string   `json:"client_auth"`
	MinVersion   string   `json:"min_version"`
	CipherSuites []string `json:"cipher_suites"` // null: Go's defaults
}

type effectiveUpstream struct {
	Name             string              `json:"name"`
	Servers          []string            `json:"servers"`
	ConnectTimeout   string              `json:"connect_timeout"`
	HandshakeTimeout string              `json:"handshake_timeout"`
	TLS              *effectiveClientTLS `json:"tls"`
}

type effectiveClientTLS struct {
	CAFile             *string  `json:"ca_file"`     // null: the system roots
	ServerName         *string  `json:"server_name"` // null: each server's host
	InsecureSkipVerify bool     `json:"insecure_skip_verify"`
	CertFile           *string  `json:"cert_file"` // null: no client certificate
	KeyFile            *string  `json:"key_file"`
	MinVersion         string   `json:"min_version"`
	CipherSuites       []string `json:"cipher_suites"` // null: Go's defaults
}

type effectivePlugin struct {
	Name        string          `json:"name"`
	Wasm        string          `json:"wasm"`
	SHA256      string          `json:"sha256"`
	Size        int             `json:"size"`
	Config      json.RawMessage `json:"config"`
	Instances   int             `json:"instances"`
	MemoryLimit int64           `json:"memory_limit"`
	Timeout     string          `json:"timeout"`
	OnError     string          `json:"on_error"`
	Sandbox     string          `json:"sandbox"`
	KVNamespace string          `json:"kv_namespace"`
	CacheDir    *string         `json:"cache_dir"`
	Reload      string          `json:"reload"`
	Hooks       []string        `json:"hooks"`
}

type effectiveRoute struct {
	Name           string            `json:"name"`
	Listener       string            `json:"listener"`
	Host           *string           `json:"host"`
	Path           *string           `json:"path"`
	ExactPath      *string           `json:"exact_path"`
	Headers        map[string]string `json:"headers"` // encoded with sorted keys
	Upstream       string            `json:"upstream"`
	Origins        []string          `json:"origins"`
	ForwardHeaders []string          `json:"forward_headers"`
	RequireTLS     bool              `json:"require_tls"`
	Compression    *effectiveDeflate `json:"compression"` // null: off
	DropHeaders    []string          `json:"drop_headers"`
	Filters        []string          `json:"filters"`
	Limits         effectiveLimits   `json:"limits"`
}

type effectiveDeflate struct {
	Threshold       int64 `json:"compression_threshold"`
	WindowBits      int   `json:"compression_window_bits"`
	ContextTakeover bool  `json:"compression_context_takeover"`
}

type effectiveLimits struct {
	MaxMessageSize int64 `json:"max_message_size"`
	MaxFrameSize   int64 `json:"max_frame_size"`

	ClientMaxMessageSize   int64 `json:"client_max_message_size"`
	ClientMaxFrameSize     int64 `json:"client_max_frame_size"`
	UpstreamMaxMessageSize int64 `json:"upstream_max_message_size"`
	UpstreamMaxFrameSize   int64 `json:"upstream_max_frame_size"`

	HandshakeTimeout string `json:"handshake_timeout"`
	MaxHeaderSize    int    `json:"max_header_size"`
	IdleTimeout      string `json:"idle_timeout"`
	PingInterval     string `json:"ping_interval"`
	PongTimeout      string `json:"pong_timeout"`
	CloseTimeout     string `json:"close_timeout"`
	WriteTimeout     string `json:"write_timeout"`

	MaxConnections      int     `json:"max_connections"`
	MaxConnectionsPerIP int     `json:"max_connections_per_ip"`
	MaxMessageRate      float64 `json:"max_message_rate"`
	MessageBurst        int     `json:"message_burst"`
}

type effectiveAdmin struct {
	Address string `json:"address"`
	Pprof   bool   `json:"pprof"`
}

func effectiveListenerOf(l *Listener) effectiveListener {
	e := effectiveListener{Name: l.Name, Address: l.Address, ReusePort: l.ReusePort, Console: l.Console}
	if l.TLS != nil {
		e.TLS = &effectiveServerTLS{
			CertFile:     l.CertFile,
			KeyFile:      l.KeyFile,
			ClientCAFile: optional(l.ClientCAFile),
			ClientAuth:   clientAuthName(l.TLS.ClientAuth),
			MinVersion:   tlsVersionName(l.TLS.MinVersion),
			CipherSuites: cipherSuiteNames(l.TLS.CipherSuites),
		}
	}
	return e
}

func effectiveUpstreamOf(u *Upstream) effectiveUpstream {
	e := effectiveUpstream{
		Name:             u.Name,
		Servers:          make([]string, 0, len(u.Servers)),
		ConnectTimeout:   u.ConnectTimeout.String(),
		HandshakeTimeout: u.HandshakeTimeout.String(),
	}
	for _, s := range u.Servers {
		e.Servers = append(e.Servers, redactURL(s))
	}
	if u.TLS != nil {
		e.TLS = &effectiveClientTLS{
			CAFile:             optional(u.CAFile),
			ServerName:         optional(u.TLS.ServerName),
			InsecureSkipVerify: u.TLS.InsecureSkipVerify,
			CertFile:           optional(u.CertFile),
			KeyFile:            optional(u.KeyFile),
			MinVersion:         tlsVersionName(u.TLS.MinVersion),
			CipherSuites:       cipherSuiteNames(u.TLS.CipherSuites),
		}
	}
	return e
}

func effectivePluginOf(p *Plugin) effectivePlugin {
	sum := sha256.Sum256(p.Wasm)
	config := p.redactedConfig
	if config == nil {
		config = redactConfig(p.Config, nil, nil)
	}
	return effectivePlugin{
		Name:        p.Name,
		Wasm:        p.WasmPath,
		SHA256:      hex.EncodeToString(sum[:]),
		Size:        len(p.Wasm),
		Config:      config,
		Instances:   p.Instances,
		MemoryLimit: p.MemoryLimit,
		Timeout:     p.Timeout.String(),
		OnError:     p.OnError.String(),
		Sandbox:     p.Sandbox.String(),
		KVNamespace: p.KVNamespace,
		CacheDir:    optional(p.CacheDir),
		Reload:      p.Reload.String(),
		Hooks:       exportedHooks(p),
	}
}

// exportedHooks names the hooks a plugin's module exports, by their export
// names, in the order of sdk/ABI.md.
func exportedHooks(p *Plugin) []string {
	hooks := []string{}
	if p.Info == nil {
		return hooks
	}
	h := p.Info.Hooks
	for _, x := range []struct {
		has  bool
		name string
	}{
		{h.Initialize, abi.ExportInitialize},
		{h.Start, abi.ExportOnStart},
		{h.Open, abi.ExportOnOpen},
		{h.Messages, abi.ExportOnMessages},
		{h.Close, abi.ExportOnClose},
		{h.Tick, abi.ExportOnTick},
	} {
		if x.has {
			hooks = append(hooks, x.name)
		}
	}
	return hooks
}

func effectiveRouteOf(r *Route) effectiveRoute {
	e := effectiveRoute{
		Name:           r.Name,
		Host:           optional(r.Host),
		Path:           optional(r.Path),
		ExactPath:      optional(r.ExactPath),
		Headers:        redactHeaders(r),
		Origins:        r.Origins,
		ForwardHeaders: r.ForwardHeaders,
		RequireTLS:     r.RequireTLS,
		DropHeaders:    r.DropHeaders,
		Filters:        make([]string, 0, len(r.Filters)),
		Limits:         effectiveLimitsOf(r.Limits),
	}
	if e.DropHeaders == nil {
		e.DropHeaders = []string{} // none, like an empty list
	}
	if c := r.Compression; c != nil {
		e.Compression = &effectiveDeflate{Threshold: c.Threshold, WindowBits: c.WindowBits, ContextTakeover: c.ContextTakeover}
	}
	if r.Listener != nil {
		e.Listener = r.Listener.Name
	}
	if r.Upstream != nil {
		e.Upstream = r.Upstream.Name
	}
	for _, p := range r.Filters {
		e.Filters = append(e.Filters, p.Name)
	}
	return e
}

func effectiveLimitsOf(l Limits) effectiveLimits {
	return effectiveLimits{
		MaxMessageSize: l.MaxMessageSize,
		MaxFrameSize:   l.MaxFrameSize,

		ClientMaxMessageSize:   l.ClientMaxMessageSize,
		ClientMaxFrameSize:     l.ClientMaxFrameSize,
		UpstreamMaxMessageSize: l.UpstreamMaxMessageSize,
		UpstreamMaxFrameSize:   l.UpstreamMaxFrameSize,

		HandshakeTimeout: l.HandshakeTimeout.String(),
		MaxHeaderSize:    l.MaxHeaderBytes,
		IdleTimeout:      l.IdleTimeout.String(),
		PingInterval:     l.PingInterval.String(),
		PongTimeout:      l.PongTimeout.String(),
		CloseTimeout:     l.CloseTimeout.String(),
		WriteTimeout:     l.WriteTimeout.String(),

		MaxConnections:      l.MaxConnections,
		MaxConnectionsPerIP: l.MaxConnectionsPerIP,
		MaxMessageRate:      l.MaxMessageRate,
		MessageBurst:        l.MessageBurst,
	}
}

// optional returns nil for "", which the document shows as null: not set.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
