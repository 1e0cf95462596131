package config

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/wasmgate/wasmgate/plugins"
)

// lines joins source lines, so that a test's line numbers are the indexes
// of its arguments plus one.
func lines(l ...string) string {
	return strings.Join(l, "\n") + "\n"
}

// mustParse parses src and fails the test on any error diagnostic.
func mustParse(t *testing.T, src, baseDir string) (*Config, hcl.Diagnostics) {
	t.Helper()
	cfg, diags := Parse([]byte(src), "test.hcl", baseDir)
	if diags.HasErrors() {
		var b strings.Builder
		_ = cfg.WriteDiagnostics(&b, diags)
		t.Fatalf("unexpected errors:\n%s", b.String())
	}
	return cfg, diags
}

func TestParse_valid(t *testing.T) {
	pki := writeTestPKI(t)
	writeTestPlugins(t, pki)
	t.Setenv("WASMGATE_TEST_HOST", "Chat.Example.COM")
	t.Setenv("WASMGATE_TEST_SECRET", `s3cret "quoted"`)
	t.Setenv("WASMGATE_TEST_EMPTY", "")

	defaults := DefaultLimits()
	tests := []struct {
		name  string
		src   string
		check func(t *testing.T, cfg *Config)
	}{
		{
			name: "reuse_port",
			src: lines(
				`listener "public" {`,
				`  address    = "127.0.0.1:8080"`,
				`  reuse_port = true`,
				`}`,
				`upstream "chat" { servers = ["ws://127.0.0.1:9000"] }`,
				`route "chat" { upstream = "chat" }`,
			),
			check: func(t *testing.T, cfg *Config) {
				if !cfg.Listeners[0].ReusePort {
					t.Errorf("ReusePort = false, want true")
				}
			},
		},
		{
			name: "console",
			src: lines(
				`listener "public" {`,
				`  address = "127.0.0.1:8080"`,
				`  console = true`,
				`}`,
				`upstream "chat" { servers = ["ws://127.0.0.1:9000"] }`,
				`route "chat" { upstream = "chat" }`,
			),
			check: func(t *testing.T, cfg *Config) {
				if !cfg.Listeners[0].Console {
					t.Errorf("Console = false, want true")
				}
			},
		},
		{
			name: "minimal config gets every default",
			src: lines(
				`listener "public" { address = "127.0.0.1:8080" }`,
				`upstream "chat" { servers = ["ws://127.0.0.1:9000"] }`,
				`route "chat" { upstream = "chat" }`,
			),
			check: func(t *testing.T, cfg *Config) {
				if len(cfg.Listeners) != 1 || len(cfg.Upstreams) != 1 || len(cfg.Routes) != 1 {
					t.Fatalf("got %d listeners, %d upstreams, %d routes; want 1 of each",
						len(cfg.Listeners), len(cfg.Upstreams), len(cfg.Routes))
				}
				lis, up, r := cfg.Listeners[0], cfg.Upstreams[0], cfg.Routes[0]
				if lis.Name != "public" || lis.Address != "127.0.0.1:8080" || lis.TLS != nil || lis.ReusePort || lis.Console {
					t.Errorf("listener = %+v", lis)
				}
				if got := lis.DeclRange.String(); got != "test.hcl:1,1-18" {
					t.Errorf("listener DeclRange = %s", got)
				}
				if up.ConnectTimeout != 5*time.Second || up.HandshakeTimeout != 10*time.Second || up.TLS != nil {
					t.Errorf("upstream = %+v, want default timeouts and no TLS", up)
				}
				if len(up.Servers) != 1 || up.Servers[0].String() != "ws://127.0.0.1:9000" {
					t.Errorf("servers = %v", up.Servers)
				}
				if r.Listener != lis || r.Upstream != up {
					t.Errorf("route references not resolved: %+v", r)
				}
				if r.Host != "" || r.Path != "/" || r.ExactPath != "" || r.Headers != nil ||
					r.Origins != nil || r.ForwardHeaders != nil || r.DropHeaders != nil {
					t.Errorf("route = %+v, want defaults", r)
				}
				// The proxy-wide connection cap has a derived default, and a
				// route has no cap of its own.
				global := defaults
				global.MaxConnections = defaultMaxConnections()
				if r.Limits != defaults || cfg.Limits != global {
					t.Errorf("limits = %+v and %+v, want %+v and %+v", r.Limits, cfg.Limits, defaults, global)
				}
				if cfg.Admin != nil {
					t.Errorf("Admin = %+v, want nil: off without an admin block", cfg.Admin)
				}
			},
		},
		{
			name: "admin block",
			src: lines(
				`listener "public" { address = "127.0.0.1:0" }`,
				`upstream "chat" { servers = ["ws://127.0.0.1:9000"] }`,
				`route "chat" { upstream = "chat" }`,
				`admin {`,
				`  address = "127.0.0.1:0"`,
				`  pprof   = true`,
				`}`,
			),
			check: func(t *testing.T, cfg *Config) {
				a := cfg.Admin
				if a == nil {
					t.Fatal("Admin = nil")
				}
				if a.Address != "127.0.0.1:0" || !a.Pprof || a.DeclRange.String() != "test.hcl:4,1-6" {
					t.Errorf("Admin = %+v at %s", a, a.DeclRange)
				}
			},
		},
		{
			name: "admin pprof defaults to false",
			src: lines(
				`listener "public" { address = "127.0.0.1:8080" }`,
				`upstream "chat" { servers = ["ws://127.0.0.1:9000"] }`,
				`route "chat" { upstream = "chat" }`,
				`admin { address = "[::1]:8080" }`,
			),
			check: func(t *testing.T, cfg *Config) {
				if a := cfg.Admin; a == nil || a.Address != "[::1]:8080" || a.Pprof {
					t.Errorf("Admin = %+v, want [::1]:8080 without pprof", a)
				}
			},
		},
		{
			name: "every attribute",
			src: lines(
				`listener "public" {`,
				`  address = "[::1]:0"`,
				`  tls {`,
				`    cert_file = "cert.pem"`,
				`    key_file  = "key.pem"`,
				`  }`,
				`}`,
				`upstream "chat" {`,
				`  servers           = ["ws://127.0.0.1:9000", "WSS://localhost:9443/socket?v=1"]`,
				`  connect_timeout   = "2s"`,
				`  handshake_timeout = "1m30s"`,
				`  tls {`,
				`    ca_file     = "ca.pem"`,
				`    server_name = "chat.internal"`,
				`  }`,
				`}`,
				`route "chat" {`,
				`  listener        = "public"`,
				`  host            = env("WASMGATE_TEST_HOST")`,
				`  path            = "/ws/"`,
				`  headers         = { "x-tenant" = "acme", X_Plain = "yes" }`,
				`  upstream        = "chat"`,
				`  origins         = ["HTTPS://Chat.Example.com", "http://localhost:3000", "https://chat.example.com"]`,
				`  forward_headers = ["cookie", "Authorization"]`,
				`  drop_headers    = ["x-debug"]`,
				`}`,
			),
			check: func(t *testing.T, cfg *Config) {
				lis, up, r := cfg.Listeners[0], cfg.Upstreams[0], cfg.Routes[0]
				if lis.TLS == nil || len(lis.TLS.Certificates) != 1 || lis.TLS.MinVersion != tls.VersionTLS12 {
					t.Errorf("listener TLS = %+v, want one certificate and TLS 1.2", lis.TLS)
				}
				if lis.CertFile != filepath.Join(pki, "cert.pem") || lis.KeyFile != filepath.Join(pki, "key.pem") {
					t.Errorf("listener CertFile, KeyFile = %q, %q", lis.CertFile, lis.KeyFile)
				}
				if up.CAFile != filepath.Join(pki, "ca.pem") {
					t.Errorf("upstream CAFile = %q", up.CAFile)
				}
				if up.ConnectTimeout != 2*time.Second || up.HandshakeTimeout != 90*time.Second {
					t.Errorf("upstream timeouts = %v, %v", up.ConnectTimeout, up.HandshakeTimeout)
				}
				if got := up.Servers[1]; got.Scheme != "wss" || got.Host != "localhost:9443" ||
					got.Path != "/socket" || got.RawQuery != "v=1" {
					t.Errorf("servers[1] = %#v", got)
				}
				if up.TLS == nil || up.TLS.RootCAs == nil || up.TLS.ServerName != "chat.internal" ||
					up.TLS.InsecureSkipVerify || up.TLS.MinVersion != tls.VersionTLS12 {
					t.Errorf("upstream TLS = %+v", up.TLS)
				}
				if r.Host != "chat.example.com" || r.Path != "/ws/" || r.ExactPath != "" {
					t.Errorf("host, path = %q, %q, %q", r.Host, r.Path, r.ExactPath)
				}
				wantHeaders := map[string]string{"X-Tenant": "acme", "X_plain": "yes"}
				if !reflect.DeepEqual(r.Headers, wantHeaders) {
					t.Errorf("headers = %v, want %v", r.Headers, wantHeaders)
				}
				wantOrigins := []string{"https://chat.example.com", "http://localhost:3000"}
				if !reflect.DeepEqual(r.Origins, wantOrigins) {
					t.Errorf("origins = %q, want %q", r.Origins, wantOrigins)
				}
				if want := []string{"Cookie", "Authorization"}; !reflect.DeepEqual(r.ForwardHeaders, want) {
					t.Errorf("forward_headers = %q, want %q", r.ForwardHeaders, want)
				}
				if want := []string{"X-Debug"}; !reflect.DeepEqual(r.DropHeaders, want) {
					t.Errorf("drop_headers = %q, want %q", r.DropHeaders, want)
				}
			},
		},
		{
			name: "exact_path, wildcard host, empty forward_headers, any origin",
			src: lines(
				`listener "public" { address = ":0" }`,
				`upstream "chat" { servers = ["ws://127.0.0.1:9000"] }`,
				`route "chat" {`,
				`  exact_path      = "/ws"`,
				`  host            = "*.Example.COM"`,
				`  forward_headers = []`,
				`  origins         = ["*"]`,
				`  upstream        = "chat"`,
				`}`,
			),
			check: func(t *testing.T, cfg *Config) {
				r := cfg.Routes[0]
				if r.Path != "" || r.ExactPath != "/ws" {
					t.Errorf("path, exact_path = %q, %q; want \"\", \"/ws\"", r.Path, r.ExactPath)
				}
				if r.Host != "*.example.com" {
					t.Errorf("host = %q", r.Host)
				}
				if r.ForwardHeaders == nil || len(r.ForwardHeaders) != 0 {
					t.Errorf("forward_headers = %#v, want empty and non-nil", r.ForwardHeaders)
				}
				if !reflect.DeepEqual(r.Origins, []string{"*"}) {
					t.Errorf("origins = %q", r.Origins)
				}
			},
		},
		{
			name: "null is the same as absent",
			src: lines(
				`listener "public" { address = ":0" }`,
				`upstream "chat" { servers = ["ws://127.0.0.1:9000"] }`,
				`route "chat" {`,
				`  upstream        = "chat"`,
				`  host            = null`,
				`  path            = null`,
				`  headers         = null`,
				`  origins         = null`,
				`  forward_headers = null`,
				`  drop_headers    = null`,
				`}`,
			),
			check: func(t *testing.T, cfg *Config) {
				r := cfg.Routes[0]
				if r.Host != "" || r.Path != "/" || r.Headers != nil || r.Origins != nil ||
					r.ForwardHeaders != nil || r.DropHeaders != nil {
					t.Errorf("route = %#v, want defaults", r)
				}
			},
		},
		{
			name: "IP hosts are stored canonical and without brackets",
			src: lines(
				`listener "public" { address = ":0" }`,
				`upstream "chat" { servers = ["ws://[::1]:9000"] }`,
				`route "v6" {`,
				`  host     = "[0:0::1]"`,
				`  upstream = "chat"`,
				`}`,
				`route "v4" {`,
				`  host     = "10.0.0.1"`,
				`  upstream = "chat"`,
				`}`,
			),
			check: func(t *testing.T, cfg *Config) {
				if got := cfg.Routes[0].Host; got != "::1" {
					t.Errorf("v6 host = %q, want \"::1\"", got)
				}
				if got := cfg.Routes[1].Host; got != "10.0.0.1" {
					t.Errorf("v4 host = %q", got)
				}
			},
		},
		{
			name: "route limits override global limits attribute by attribute",
			src: lines(
				`listener "public" { address = ":0" }`,
				`upstream "chat" { servers = ["ws://127.0.0.1:9000"] }`,
				`route "small" {`,
				`  upstream = "chat"`,
				`  limits {`,
				`    max_message_size = "1MiB"`,
				`    idle_timeout     = "5m"`,
				`  }`,
				`}`,
				`route "inherits" { upstream = "chat" }`,
				`limits {`,
				`  max_message_size  = "4MB"`,
				`  handshake_timeout = "3s"`,
				`  max_header_size   = "16KiB"`,
				`  ping_interval     = "0"`,
				`  pong_timeout      = "1s"`,
				`  close_timeout     = "2s"`,
				`  write_timeout     = "9s"`,
				`  idle_timeout      = "10m"`,
				`}`,
			),
			check: func(t *testing.T, cfg *Config) {
				global := Limits{
					MaxMessageSize:         4_000_000,
					MaxFrameSize:           4_000_000,
					ClientMaxMessageSize:   4_000_000,
					ClientMaxFrameSize:     4_000_000,
					UpstreamMaxMessageSize: 4_000_000,
					UpstreamMaxFrameSize:   4_000_000,
					HandshakeTimeout:       3 * time.Second,
					MaxHeaderBytes:         16 << 10,
					IdleTimeout:            10 * time.Minute,
					PingInterval:           0,
					PongTimeout:            time.Second,
					CloseTimeout:           2 * time.Second,
					WriteTimeout:           9 * time.Second,
					MaxConnections:         defaultMaxConnections(),
				}
				if cfg.Limits != global {
					t.Errorf("global limits = %+v\nwant %+v", cfg.Limits, global)
				}
				inherited := global
				inherited.MaxConnections = 0 // the proxy-wide cap, not a route's
				small := inherited
				small.MaxMessageSize, small.MaxFrameSize = 1<<20, 1<<20
				small.ClientMaxMessageSize, small.ClientMaxFrameSize = 1<<20, 1<<20
				small.UpstreamMaxMessageSize, small.UpstreamMaxFrameSize = 1<<20, 1<<20
				small.IdleTimeout = 5 * time.Minute
				if got := cfg.Routes[0].Limits; got != small {
					t.Errorf("route small limits = %+v\nwant %+v", got, small)
				}
				if got := cfg.Routes[1].Limits; got != inherited {
					t.Errorf("route inherits limits = %+v\nwant %+v", got, inherited)
				}
			},
		},
		{
			name: "global max_frame_size is lowered to a smaller route max_message_size",
			src: lines(
				`listener "public" { address = ":0" }`,
				`upstream "chat" { servers = ["ws://127.0.0.1:9000"] }`,
				`route "small" {`,
				`  upstream = "chat"`,
				`  limits { max_message_size = "512KiB" }`,
				`}`,
				`route "large" {`,
				`  upstream = "chat"`,
				`  limits { max_message_size = "64MiB" }`,
				`}`,
				`route "own" {`,
				`  upstream = "chat"`,
				`  limits { max_frame_size = "64KiB" }`,
				`}`,
				`limits { max_frame_size = "1MiB" }`,
			),
			check: func(t *testing.T, cfg *Config) {
				if got := cfg.Limits; got.MaxMessageSize != 16<<20 || got.MaxFrameSize != 1<<20 {
					t.Errorf("global message, frame = %d, %d", got.MaxMessageSize, got.MaxFrameSize)
				}
				want := []struct{ message, frame int64 }{
					{512 << 10, 512 << 10},
					{64 << 20, 1 << 20},
					{16 << 20, 64 << 10},
				}
				for i, w := range want {
					l := cfg.Routes[i].Limits
					if l.MaxMessageSize != w.message || l.MaxFrameSize != w.frame {
						t.Errorf("route %s: message, frame = %d, %d; want %d, %d",
							cfg.Routes[i].Name, l.MaxMessageSize, l.MaxFrameSize, w.message, w.frame)
					}
				}
			},
		},
		{
			name: "several listeners, routes in declaration order",
			src: lines(
				`listener "a" { address = "127.0.0.1:8080" }`,
				`listener "b" { address = "127.0.0.2:8080" }`,
				`listener "c" { address = "127.0.0.1:0" }`,
				`listener "d" { address = "127.0.0.1:0" }`,
				`upstream "u" { servers = ["ws://127.0.0.1:9000"] }`,
				`route "r2" {`,
				`  listener = "b"`,
				`  upstream = "u"`,
				`}`,
				`route "r1" {`,
				`  listener = "a"`,
				`  upstream = "u"`,
				`}`,
				`route "r3" {`,
				`  listener = "c"`,
				`  upstream = "u"`,
				`}`,
				`route "r4" {`,
				`  listener = "d"`,
				`  upstream = "u"`,
				`}`,
			),
			check: func(t *testing.T, cfg *Config) {
				var got []string
				for _, r := range cfg.Routes {
					got = append(got, r.Name+"@"+r.Listener.Name)
				}
				if want := []string{"r2@b", "r1@a", "r3@c", "r4@d"}; !reflect.DeepEqual(got, want) {
					t.Errorf("routes = %q, want %q", got, want)
				}
			},
		},
		{
			name: "wss server without tls block uses the system roots",
			src: lines(
				`listener "public" { address = ":0" }`,
				`upstream "chat" { servers = ["wss://chat.example.com"] }`,
				`route "chat" { upstream = "chat" }`,
			),
			check: func(t *testing.T, cfg *Config) {
				c := cfg.Upstreams[0].TLS
				if c == nil || c.RootCAs != nil || c.InsecureSkipVerify || c.MinVersion != tls.VersionTLS12 {
					t.Errorf("upstream TLS = %+v, want system roots and TLS 1.2", c)
				}
			},
		},
		{
			name: "env default, empty env value and file",
			src: lines(
				`listener "public" { address = ":0" }`,
				`upstream "chat" { servers = [env("WASMGATE_TEST_UNSET", "ws://127.0.0.1:9000")] }`,
				`route "chat" {`,
				`  upstream = "chat"`,
				`  host     = env("WASMGATE_TEST_EMPTY")`,
				`  headers  = { "X-Greeting" = "${file("hello.txt")}!" }`,
				`}`,
			),
			check: func(t *testing.T, cfg *Config) {
				r := cfg.Routes[0]
				if got := cfg.Upstreams[0].Servers[0].String(); got != "ws://127.0.0.1:9000" {
					t.Errorf("server = %q", got)
				}
				if r.Host != "" {
					t.Errorf("host = %q, want \"\"", r.Host)
				}
				if got := r.Headers["X-Greeting"]; got != "hello!" {
					t.Errorf("X-Greeting = %q, want \"hello!\"", got)
				}
			},
		},
		{
			name: "plugin defaults and filters",
			src: lines(
				`listener "public" { address = ":0" }`,
				`upstream "chat" { servers = ["ws://127.0.0.1:9000"] }`,
				`plugin "auth" { wasm = "ok.wasm" }`,
				`route "chat" {`,
				`  upstream = "chat"`,
				`  filters  = ["auth"]`,
				`}`,
				`route "plain" {`,
				`  upstream = "chat"`,
				`  path     = "/plain"`,
				`  filters  = []`,
				`}`,
				`route "null" {`,
				`  upstream = "chat"`,
				`  filters  = null`,
				`}`,
			),
			check: func(t *testing.T, cfg *Config) {
				if len(cfg.Plugins) != 1 {
					t.Fatalf("got %d plugins, want 1", len(cfg.Plugins))
				}
				p := cfg.Plugins[0]
				wasm, err := os.ReadFile(filepath.Join(pki, "ok.wasm"))
				if err != nil {
					t.Fatal(err)
				}
				if p.Name != "auth" || p.WasmPath != filepath.Join(pki, "ok.wasm") || !bytes.Equal(p.Wasm, wasm) {
					t.Errorf("plugin %q: path %q, %d bytes of module", p.Name, p.WasmPath, len(p.Wasm))
				}
				if p.Info == nil || p.Info.WASI || p.Info.Hooks != (plugins.Hooks{}) {
					t.Errorf("Info = %+v, want no hooks and no WASI", p.Info)
				}
				if string(p.Config) != "null" {
					t.Errorf("Config = %s, want null", p.Config)
				}
				if want := min(runtime.GOMAXPROCS(0), 1024); p.Instances != want {
					t.Errorf("Instances = %d, want %d", p.Instances, want)
				}
				if p.MemoryLimit != 64<<20 || p.Timeout != 5*time.Millisecond {
					t.Errorf("MemoryLimit, Timeout = %d, %v; want 64MiB, 5ms", p.MemoryLimit, p.Timeout)
				}
				if p.OnError != OnErrorClose || p.Sandbox != SandboxChecked || p.KVNamespace != "auth" || p.CacheDir != "" {
					t.Errorf("OnError %v, Sandbox %v, KVNamespace %q, CacheDir %q", p.OnError, p.Sandbox, p.KVNamespace, p.CacheDir)
				}
				if p.Reload != ReloadRestart {
					t.Errorf("Reload = %v, want restart", p.Reload)
				}
				if got := p.DeclRange.String(); got != "test.hcl:3,1-14" {
					t.Errorf("DeclRange = %s", got)
				}
				if f := cfg.Routes[0].Filters; len(f) != 1 || f[0] != p {
					t.Errorf("route chat filters = %v, want the plugin", f)
				}
				for _, r := range cfg.Routes[1:] {
					if r.Filters != nil {
						t.Errorf("route %s filters = %#v, want nil", r.Name, r.Filters)
					}
				}
			},
		},
		{
			name: "every plugin attribute",
			src: lines(
				`listener "public" { address = ":0" }`,
				`upstream "chat" { servers = ["ws://127.0.0.1:9000"] }`,
				`plugin "auth" {`,
				`  wasm         = "hooks.wasm"`,
				`  config       = {`,
				`    secret = env("WASMGATE_TEST_SECRET")`,
				`    rooms  = ["lobby", "ops"]`,
				`    limits = { burst = 10, rate = 2.5, strict = true, note = null }`,
				`  }`,
				`  instances    = 2`,
				`  memory_limit = "100KB"`,
				`  timeout      = "250ms"`,
				`  on_error     = "pass"`,
				`  sandbox      = "plain"`,
				`  kv_namespace = "shared"`,
				`  cache_dir    = "cache/wasm"`,
				`  reload       = "live"`,
				`}`,
				`plugin "log" {`,
				`  wasm         = "ok.wasm"`,
				`  config       = "verbose"`,
				`  memory_limit = "4GiB"`,
				`  timeout      = "10s"`,
				`  on_error     = "close"`,
				`  sandbox      = "checked"`,
				`  kv_namespace = "shared"`,
				`  reload       = "restart"`,
				`}`,
				`plugin "unused" {`,
				`  wasm   = "ok.wasm"`,
				`  config = null`,
				`}`,
				`route "chat" {`,
				`  upstream = "chat"`,
				`  filters  = ["log", "auth"]`,
				`}`,
			),
			check: func(t *testing.T, cfg *Config) {
				if len(cfg.Plugins) != 3 {
					t.Fatalf("got %d plugins, want 3", len(cfg.Plugins))
				}
				auth, log, unused := cfg.Plugins[0], cfg.Plugins[1], cfg.Plugins[2]
				if want := `{"limits":{"burst":10,"note":null,"rate":2.5,"strict":true},"rooms":["lobby","ops"],"secret":"s3cret \"quoted\""}`; string(auth.Config) != want {
					t.Errorf("auth Config = %s\nwant %s", auth.Config, want)
				}
				if !json.Valid(auth.Config) {
					t.Error("auth Config is not JSON")
				}
				if auth.Info == nil || !auth.Info.WASI || !auth.Info.Hooks.Open || auth.Info.Hooks.Messages {
					t.Errorf("auth Info = %+v, want on_open and WASI", auth.Info)
				}
				if auth.Instances != 2 || auth.MemoryLimit != 2*65536 || auth.Timeout != 250*time.Millisecond {
					t.Errorf("auth Instances %d, MemoryLimit %d, Timeout %v", auth.Instances, auth.MemoryLimit, auth.Timeout)
				}
				if auth.OnError != OnErrorPass || auth.Sandbox != SandboxPlain || auth.KVNamespace != "shared" || auth.Reload != ReloadLive {
					t.Errorf("auth OnError %v, Sandbox %v, KVNamespace %q, Reload %v", auth.OnError, auth.Sandbox, auth.KVNamespace, auth.Reload)
				}
				if want := filepath.Join(pki, "cache", "wasm"); auth.CacheDir != want {
					t.Errorf("auth CacheDir = %q, want %q", auth.CacheDir, want)
				}
				if _, err := os.Stat(auth.CacheDir); !os.IsNotExist(err) {
					t.Errorf("loading created or found the cache directory: %v", err)
				}
				if string(log.Config) != `"verbose"` || log.MemoryLimit != 4<<30 || log.Timeout != 10*time.Second {
					t.Errorf("log Config %s, MemoryLimit %d, Timeout %v", log.Config, log.MemoryLimit, log.Timeout)
				}
				if log.OnError != OnErrorClose || log.Sandbox != SandboxChecked || log.KVNamespace != "shared" || log.Reload != ReloadRestart {
					t.Errorf("log OnError %v, Sandbox %v, KVNamespace %q, Reload %v", log.OnError, log.Sandbox, log.KVNamespace, log.Reload)
				}
				if string(unused.Config) != "null" || unused.KVNamespace != "unused" {
					t.Errorf("unused Config %s, KVNamespace %q", unused.Config, unused.KVNamespace)
				}
				if f := cfg.Routes[0].Filters; len(f) != 2 || f[0] != log || f[1] != auth {
					t.Errorf("filters = %v, want log then auth", f)
				}
			},
		},
		{
			name: "absolute module path and memory_limit rounding",
			src: lines(
				`listener "public" { address = ":0" }`,
				`upstream "chat" { servers = ["ws://127.0.0.1:9000"] }`,
				`plugin "auth" {`,
				`  wasm         = "${abs}"`,
				`  memory_limit = 65537`,
				`}`,
				`route "chat" { upstream = "chat" }`,
			),
			check: func(t *testing.T, cfg *Config) {
				p := cfg.Plugins[0]
				if filepath.Clean(p.WasmPath) != filepath.Join(pki, "ok.wasm") || p.MemoryLimit != 2*65536 {
					t.Errorf("WasmPath %q, MemoryLimit %d", p.WasmPath, p.MemoryLimit)
				}
			},
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := strings.ReplaceAll(tt.src, "${abs}", filepath.ToSlash(filepath.Join(pki, "ok.wasm")))
			cfg, _ := mustParse(t, src, pki)
			tt.check(t, cfg)
		})
	}
}
