package config

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// wantDiag describes one expected diagnostic.
type wantDiag struct {
	warning bool     // a warning, else an error
	summary string   // exact Summary
	at      string   // "line:column" where Subject starts
	detail  []string // substrings of Detail
}

func (w wantDiag) String() string {
	sev := "error"
	if w.warning {
		sev = "warning"
	}
	return fmt.Sprintf("%s %q at %s", sev, w.summary, w.at)
}

// checkDiags asserts that diags are exactly want, in order.
func checkDiags(t *testing.T, diags hcl.Diagnostics, want []wantDiag) {
	t.Helper()
	describe := func() string {
		var b strings.Builder
		for _, d := range diags {
			fmt.Fprintf(&b, "\n\t%s", d.Error())
		}
		return b.String()
	}
	if len(diags) != len(want) {
		t.Fatalf("got %d diagnostics, want %d (%v):%s", len(diags), len(want), want, describe())
	}
	for i, w := range want {
		d := diags[i]
		if got := d.Severity == hcl.DiagWarning; got != w.warning {
			t.Errorf("diagnostic %d: severity %v, want %v", i, d.Severity, w)
		}
		if d.Summary != w.summary {
			t.Errorf("diagnostic %d: summary %q, want %q", i, d.Summary, w.summary)
		}
		if d.Subject == nil {
			t.Errorf("diagnostic %d (%s): no subject", i, d.Summary)
		} else if got := fmt.Sprintf("%d:%d", d.Subject.Start.Line, d.Subject.Start.Column); got != w.at {
			t.Errorf("diagnostic %d (%s): at %s, want %s", i, d.Summary, got, w.at)
		}
		for _, s := range w.detail {
			if !strings.Contains(d.Detail, s) {
				t.Errorf("diagnostic %d (%s): detail %q does not contain %q", i, d.Summary, d.Detail, s)
			}
		}
	}
}

// Building blocks of the test configurations, one line each.
const (
	okListener = `listener "l" { address = ":0" }`
	okUpstream = `upstream "u" { servers = ["ws://127.0.0.1:9000"] }`
	okRoute    = `route "r" { upstream = "u" }`
	okPlugin   = `plugin "auth" { wasm = "ok.wasm" }`
)

func TestParse_diagnostics(t *testing.T) {
	pki := writeTestPKI(t)
	writeTestPlugins(t, pki)
	tests := []struct {
		name string
		src  string
		want []wantDiag
	}{
		// Structure.
		{
			name: "handshake limits are not route limits",
			src: lines(okListener, okUpstream,
				`route "r" {`,
				`  upstream = "u"`,
				`  limits {`,
				`    handshake_timeout = "1s"`,
				`    max_header_size   = "4KiB"`,
				`  }`,
				`}`),
			want: []wantDiag{
				{summary: "Not a route limit", at: "6:25", detail: []string{"handshake_timeout", "top-level limits block"}},
				{summary: "Not a route limit", at: "7:25", detail: []string{"max_header_size"}},
			},
		},
		{
			name: "unknown attribute lists the allowed ones",
			src: lines(
				`listener "l" {`,
				`  adress = ":0"`,
				`}`,
				okUpstream, okRoute),
			want: []wantDiag{
				{summary: "Missing listener address", at: "1:1"},
				{summary: "Unsupported argument", at: "2:3",
					detail: []string{`"adress"`, `Did you mean "address"?`, "allowed arguments are address, console, reuse_port; the allowed blocks are tls"}},
			},
		},
		{
			name: "unknown block type at the top level",
			src:  lines(okListener, okUpstream, okRoute, `backend "b" {}`),
			want: []wantDiag{{summary: "Unsupported block type", at: "4:1",
				detail: []string{`"backend"`, "no arguments are allowed; the allowed blocks are admin, limits, listener, plugin, route, upstream"}}},
		},
		{
			name: "unknown attribute in a nested block",
			src: lines(okListener, okUpstream,
				`route "r" {`,
				`  upstream = "u"`,
				`  limits { max_msg_size = "1MiB" }`,
				`}`),
			want: []wantDiag{{summary: "Unsupported argument", at: "5:12",
				detail: []string{"In the limits block of a route, the allowed arguments are " +
					"client_max_frame_size, client_max_message_size, close_timeout, " +
					"handshake_timeout, idle_timeout, max_connections, max_connections_per_ip, max_frame_size, " +
					"max_header_size, max_message_rate, max_message_size, message_burst, ping_interval, " +
					"pong_timeout, upstream_max_frame_size, upstream_max_message_size, write_timeout."}}},
		},
		{
			name: "misspelled connection cap",
			src:  lines(okListener, okUpstream, okRoute, `limits { max_conections = 100 }`),
			want: []wantDiag{{summary: "Unsupported argument", at: "4:10",
				detail: []string{`Did you mean "max_connections"?`, "In the limits block, the allowed arguments are client_max_frame_size, "}}},
		},

		// The admin block.
		{
			name: "admin block without address",
			src:  lines(okListener, okUpstream, okRoute, `admin { pprof = true }`),
			want: []wantDiag{{summary: "Missing admin address", at: "4:1",
				detail: []string{`address = "127.0.0.1:9901"`, "leave the admin block out"}}},
		},
		{
			name: "admin address without port",
			src:  lines(okListener, okUpstream, okRoute, `admin { address = "127.0.0.1" }`),
			want: []wantDiag{{summary: "Invalid admin address", at: "4:19",
				detail: []string{`"127.0.0.1" is not host:port: missing port in address`, "where 0 picks a free port"}}},
		},
		{
			name: "admin address with a bad port",
			src:  lines(okListener, okUpstream, okRoute, `admin { address = "127.0.0.1:99999" }`),
			want: []wantDiag{{summary: "Invalid admin address", at: "4:19",
				detail: []string{`The port "99999" of "127.0.0.1:99999" is not a number from 0 to 65535`}}},
		},
		{
			name: "admin address with a bad host",
			src:  lines(okListener, okUpstream, okRoute, `admin { address = "local host:9901" }`),
			want: []wantDiag{{summary: "Invalid admin address", at: "4:19",
				detail: []string{`The host "local host" of "local host:9901" is not an IP address or a host name`}}},
		},
		{
			name: "two admin blocks in one file",
			src: lines(okListener, okUpstream, okRoute,
				`admin { address = "127.0.0.1:9901" }`,
				`admin { address = "127.0.0.1:9902" }`),
			want: []wantDiag{{summary: "Duplicate admin block", at: "5:1",
				detail: []string{"Only one admin block is allowed in a configuration, across all its files; the first is at test.hcl:4,1"}}},
		},
		{
			name: "admin address overlaps a listener",
			src: lines(`listener "public" { address = ":9901" }`, okUpstream, okRoute,
				`admin { address = "127.0.0.1:9901" }`),
			want: []wantDiag{{summary: "Admin address already in use", at: "4:19",
				detail: []string{`"127.0.0.1:9901", which overlaps the address ":9901" of listener "public", declared at test.hcl:1,1`, "a port of its own"}}},
		},
		{
			name: "admin address equals a listener's",
			src: lines(`listener "public" { address = "127.0.0.1:9901" }`, okUpstream, okRoute,
				`admin { address = "127.0.0.1:9901" }`),
			want: []wantDiag{{summary: "Admin address already in use", at: "4:19"}},
		},
		{
			name: "admin on every interface",
			src:  lines(okListener, okUpstream, okRoute, `admin { address = ":9901" }`),
			want: []wantDiag{{warning: true, summary: "Admin listener reachable from other hosts", at: "4:19",
				detail: []string{`":9901" listens on every interface`, "no authentication", "reload the configuration", `"127.0.0.1:9901"`}}},
		},
		{
			name: "admin on the IPv6 wildcard",
			src:  lines(okListener, okUpstream, okRoute, `admin { address = "[::]:9901" }`),
			want: []wantDiag{{warning: true, summary: "Admin listener reachable from other hosts", at: "4:19",
				detail: []string{"listens on every interface"}}},
		},
		{
			name: "admin on the IPv4 wildcard",
			src:  lines(okListener, okUpstream, okRoute, `admin { address = "0.0.0.0:9901" }`),
			want: []wantDiag{{warning: true, summary: "Admin listener reachable from other hosts", at: "4:19",
				detail: []string{`"0.0.0.0:9901" listens on every interface`}}},
		},
		{
			name: "admin on a public address",
			src:  lines(okListener, okUpstream, okRoute, `admin { address = "10.0.0.1:9901" }`),
			want: []wantDiag{{warning: true, summary: "Admin listener reachable from other hosts", at: "4:19",
				detail: []string{"listens on 10.0.0.1, which is not a loopback address"}}},
		},
		{
			name: "admin on a host name",
			src:  lines(okListener, okUpstream, okRoute, `admin { address = "admin.internal:9901" }`),
			want: []wantDiag{{warning: true, summary: "Admin listener reachable from other hosts", at: "4:19",
				detail: []string{"the host name admin.internal, which need not be loopback addresses"}}},
		},
		{
			name: "admin on loopback gives no warning",
			src:  lines(okListener, okUpstream, okRoute, `admin { address = "127.0.0.2:9901" }`),
		},
		{
			name: "admin on localhost gives no warning",
			src:  lines(okListener, okUpstream, okRoute, `admin { address = "LocalHost:9901" }`),
		},
		{
			name: "admin on port 0 never overlaps",
			src:  lines(okListener, okUpstream, okRoute, `admin { address = "127.0.0.1:0" }`),
		},
		{
			name: "unknown attribute in the admin block",
			src:  lines(okListener, okUpstream, okRoute, `admin {`, `  address = "127.0.0.1:9901"`, `  pprof_enabled = true`, `}`),
			want: []wantDiag{{summary: "Unsupported argument", at: "6:3",
				detail: []string{`"pprof_enabled"`, "In the admin block, the allowed arguments are address, pprof."}}},
		},
		{
			name: "admin pprof of the wrong type",
			src:  lines(okListener, okUpstream, okRoute, `admin {`, `  address = "127.0.0.1:9901"`, `  pprof   = "yes"`, `}`),
			want: []wantDiag{{summary: "Unsuitable value type", at: "6:14",
				detail: []string{"The value of pprof must be true or false"}}},
		},

		{
			name: "variable instead of a quoted name",
			src:  lines(okListener, okUpstream, `route "r" { upstream = u }`),
			want: []wantDiag{{summary: "Variables not allowed", at: "3:24",
				detail: []string{`named by a quoted string, as in upstream = "chat" or filters = ["auth"]`}}},
		},
		{
			name: "value of the wrong type",
			src:  lines(okListener, `upstream "u" { servers = "ws://127.0.0.1:9000" }`, okRoute),
			want: []wantDiag{{summary: "Unsuitable value type", at: "2:27",
				detail: []string{"list of string required", "The value of servers must be a list of strings"}}},
		},
		{
			name: "invalid block name",
			src:  lines(`listener "my listener" { address = ":0" }`, okUpstream, okRoute),
			want: []wantDiag{{summary: "Invalid listener name", at: "1:10",
				detail: []string{`"my listener" is not a valid listener name`, "letters, digits, '_', '-' or '.'"}}},
		},
		{
			name: "block without its name is not also reported missing",
			src:  lines(`listener {`, `  address = ":0"`, `}`, okUpstream, okRoute),
			want: []wantDiag{{summary: "Missing name for listener", at: "1:10",
				detail: []string{"All listener blocks must have 1 labels (name)"}}},
		},
		{
			name: "syntax error is reported alone",
			src:  lines(okListener, `upstream "u" {`, `  servers = ["ws://127.0.0.1:9000"`, `}`),
			want: []wantDiag{{summary: "Missing item separator", at: "4:1"}},
		},

		// Names and references.
		{
			name: "duplicate listener name",
			src: lines(okListener, `listener "l" { address = ":1" }`, okUpstream,
				`route "r" {`, `  listener = "l"`, `  upstream = "u"`, `}`),
			want: []wantDiag{{summary: "Duplicate listener name", at: "2:1",
				detail: []string{`A listener named "l" is already declared at test.hcl:1,1`}}},
		},
		{
			name: "duplicate upstream name",
			src:  lines(okListener, okUpstream, `upstream "u" { servers = ["ws://127.0.0.1:9001"] }`, okRoute),
			want: []wantDiag{{summary: "Duplicate upstream name", at: "3:1",
				detail: []string{"already declared at test.hcl:2,1"}}},
		},
		{
			name: "duplicate route name",
			src:  lines(okListener, okUpstream, okRoute, okRoute),
			want: []wantDiag{{summary: "Duplicate route name", at: "4:1",
				detail: []string{"already declared at test.hcl:3,1"}}},
		},
		{
			name: "unknown listener lists the known ones",
			src: lines(okListener, `listener "m" { address = ":1" }`, okUpstream,
				`route "r" {`, `  listener = "public"`, `  upstream = "u"`, `}`),
			// No "Unused listener" warnings: with a route unresolved,
			// they could be wrong.
			want: []wantDiag{{summary: "Unknown listener", at: "5:14",
				detail: []string{`names listener "public"`, `The declared listeners are "l", "m".`}}},
		},
		{
			name: "unknown upstream lists the known ones",
			src:  lines(okListener, okUpstream, `route "r" { upstream = "chat" }`),
			want: []wantDiag{{summary: "Unknown upstream", at: "3:24",
				detail: []string{`names upstream "chat"`, `The declared upstreams are "u".`}}},
		},
		{
			name: "route without upstream",
			src:  lines(okListener, okUpstream, `route "r" { path = "/" }`),
			want: []wantDiag{{summary: "Route has no upstream", at: "3:1",
				detail: []string{`Add upstream = "name"`, `The declared upstreams are "u".`}}},
		},
		{
			name: "route without upstream when none is declared",
			src:  lines(okListener, `route "r" {}`),
			want: []wantDiag{{summary: "Route has no upstream", at: "2:1",
				detail: []string{`No upstream block is declared`}}},
		},
		{
			name: "route without listener when several exist",
			src: lines(okListener, `listener "m" { address = ":1" }`, okUpstream,
				`route "r" {`, `  listener = "m"`, `  upstream = "u"`, `}`, `route "s" { upstream = "u" }`),
			want: []wantDiag{{summary: "Route has no listener", at: "8:1",
				detail: []string{`Add listener = "l"`, `The declared listeners are "l", "m".`}}},
		},
		{
			name: "no listener",
			src:  lines(okUpstream, okRoute),
			want: []wantDiag{{summary: "No listener", at: "1:1",
				detail: []string{"declares no listener block"}}},
		},
		{
			name: "no route",
			src:  lines(okListener, okUpstream),
			want: []wantDiag{
				{summary: "No route", at: "1:1", detail: []string{"declares no route block"}},
				{warning: true, summary: "Unused listener", at: "1:1", detail: []string{`No route uses listener "l"`}},
			},
		},
		{
			name: "empty file",
			src:  "",
			want: []wantDiag{{summary: "No listener", at: "1:1"}, {summary: "No route", at: "1:1"}},
		},

		// Listeners.
		{
			name: "listener address without port",
			src:  lines(`listener "l" { address = "127.0.0.1" }`, okUpstream, okRoute),
			want: []wantDiag{{summary: "Invalid listener address", at: "1:26",
				detail: []string{`"127.0.0.1" is not host:port: missing port in address`, `"[::1]:8443"`}}},
		},
		{
			name: "listener port out of range",
			src:  lines(`listener "l" { address = ":65536" }`, okUpstream, okRoute),
			want: []wantDiag{{summary: "Invalid listener address", at: "1:26",
				detail: []string{`The port "65536" of ":65536" is not a number from 0 to 65535`}}},
		},
		{
			name: "listener without address",
			src:  lines(`listener "l" {}`, okUpstream, okRoute),
			want: []wantDiag{{summary: "Missing listener address", at: "1:1",
				detail: []string{`address = "127.0.0.1:8080"`}}},
		},
		{
			name: "two listeners on the same address",
			src: lines(
				`listener "a" { address = "127.0.0.1:8080" }`,
				`listener "b" { address = "0.0.0.0:8080" }`,
				okUpstream,
				`route "ra" {`, `  listener = "a"`, `  upstream = "u"`, `}`,
				`route "rb" {`, `  listener = "b"`, `  upstream = "u"`, `}`),
			want: []wantDiag{{summary: "Listener address already in use", at: "2:26",
				detail: []string{`overlaps the address "127.0.0.1:8080" of listener "a", declared at test.hcl:1,1`}}},
		},
		{
			name: "listeners on different IPs of one port do not overlap",
			src: lines(
				`listener "a" { address = "127.0.0.1:8080" }`,
				`listener "b" { address = "[::1]:8080" }`,
				okUpstream,
				`route "ra" {`, `  listener = "a"`, `  upstream = "u"`, `}`,
				`route "rb" {`, `  listener = "b"`, `  upstream = "u"`, `}`),
			want: nil,
		},
		{
			name: "unused listener",
			src: lines(okListener, `listener "spare" { address = ":1" }`, okUpstream,
				`route "r" {`, `  listener = "l"`, `  upstream = "u"`, `}`),
			want: []wantDiag{{warning: true, summary: "Unused listener", at: "2:1",
				detail: []string{`No route uses listener "spare"`}}},
		},
		{
			name: "unreadable certificate and key",
			src: lines(`listener "l" {`, `  address = ":0"`,
				`  tls {`, `    cert_file = "missing.pem"`, `    key_file  = "missing-key.pem"`, `  }`, `}`,
				okUpstream, okRoute),
			want: []wantDiag{
				{summary: "Cannot read certificate", at: "4:17", detail: []string{"missing.pem", "cert_file names a PEM file"}},
				{summary: "Cannot read private key", at: "5:17", detail: []string{"missing-key.pem", "key_file names a PEM file"}},
			},
		},
		{
			name: "certificate file without a certificate",
			src: lines(`listener "l" {`, `  address = ":0"`,
				`  tls {`, `    cert_file = "garbage.pem"`, `    key_file  = "key.pem"`, `  }`, `}`,
				okUpstream, okRoute),
			want: []wantDiag{{summary: "Invalid certificate", at: "4:17",
				detail: []string{"holds no usable certificate: no CERTIFICATE PEM block"}}},
		},
		{
			name: "key that does not match the certificate",
			src: lines(`listener "l" {`, `  address = ":0"`,
				`  tls {`, `    cert_file = "cert.pem"`, `    key_file  = "other-key.pem"`, `  }`, `}`,
				okUpstream, okRoute),
			want: []wantDiag{{summary: "Invalid private key", at: "5:17",
				detail: []string{"no private key that matches the certificate", "private key does not match public key"}}},
		},
		{
			name: "tls block without key_file",
			src: lines(`listener "l" {`, `  address = ":0"`,
				`  tls { cert_file = "cert.pem" }`, `}`, okUpstream, okRoute),
			want: []wantDiag{{summary: "Missing key_file", at: "3:3",
				detail: []string{"This tls block has no key_file"}}},
		},
		{
			name: "two tls blocks",
			src: lines(`listener "l" {`, `  address = ":0"`,
				`  tls {`, `    cert_file = "cert.pem"`, `    key_file  = "key.pem"`, `  }`,
				`  tls {`, `    cert_file = "cert.pem"`, `    key_file  = "key.pem"`, `  }`, `}`,
				okUpstream, okRoute),
			want: []wantDiag{{summary: "Duplicate tls block", at: "7:3",
				detail: []string{"Only one tls block is allowed in a listener; the first is at test.hcl:3,3"}}},
		},
		{
			name: "expired certificate",
			src: lines(`listener "l" {`, `  address = ":0"`,
				`  tls {`, `    cert_file = "expired.pem"`, `    key_file  = "key.pem"`, `  }`, `}`,
				okUpstream, okRoute),
			want: []wantDiag{{warning: true, summary: "Certificate expired", at: "4:17",
				detail: []string{"expired on"}}},
		},

		// Upstreams.
		{
			name: "server URL with the wrong scheme",
			src:  lines(okListener, `upstream "u" { servers = ["ws://127.0.0.1:9000", "http://127.0.0.1:9001"] }`, okRoute),
			want: []wantDiag{{summary: "Invalid server URL", at: "2:50",
				detail: []string{`"http://127.0.0.1:9001" has the scheme http://`, "use ws:// for http://"}}},
		},
		{
			name: "server URL without host, with fragment, with user info",
			src:  lines(okListener, `upstream "u" { servers = ["ws:///x", "ws://h/#f", "wss://me@h", "ftp://h"] }`, okRoute),
			want: []wantDiag{
				{summary: "Invalid server URL", at: "2:27", detail: []string{"has no host"}},
				{summary: "Invalid server URL", at: "2:38", detail: []string{"has a fragment"}},
				{summary: "Invalid server URL", at: "2:51", detail: []string{"holds user info"}},
				{summary: "Invalid server URL", at: "2:65", detail: []string{"neither ws:// nor wss://"}},
			},
		},
		{
			name: "empty servers",
			src:  lines(okListener, `upstream "u" { servers = [] }`, okRoute),
			want: []wantDiag{{summary: "Upstream has no servers", at: "2:26",
				detail: []string{"servers lists one or more ws:// or wss:// URLs"}}},
		},
		{
			name: "no servers attribute",
			src:  lines(okListener, `upstream "u" {}`, okRoute),
			want: []wantDiag{{summary: "Upstream has no servers", at: "2:1",
				detail: []string{`Upstream "u" has no servers attribute`}}},
		},
		{
			name: "bad upstream timeouts",
			src: lines(okListener, `upstream "u" {`, `  servers           = ["ws://127.0.0.1:9000"]`,
				`  connect_timeout   = "5"`, `  handshake_timeout = "0s"`, `}`, okRoute),
			want: []wantDiag{
				{summary: "Invalid duration", at: "4:23", detail: []string{`connect_timeout = "5" is not a duration: missing unit.`, `"1m30s"`}},
				{summary: "Invalid duration", at: "5:23", detail: []string{"handshake_timeout must be greater than 0"}},
			},
		},
		{
			name: "unreadable CA file",
			src: lines(okListener, `upstream "u" {`, `  servers = ["wss://127.0.0.1:9000"]`,
				`  tls { ca_file = "missing-ca.pem" }`, `}`, okRoute),
			want: []wantDiag{{summary: "Cannot read CA file", at: "4:19",
				detail: []string{"missing-ca.pem", "ca_file names a PEM file"}}},
		},
		{
			name: "CA file without certificates",
			src: lines(okListener, `upstream "u" {`, `  servers = ["wss://127.0.0.1:9000"]`,
				`  tls { ca_file = "garbage.pem" }`, `}`, okRoute),
			want: []wantDiag{{summary: "Invalid CA file", at: "4:19",
				detail: []string{"holds no PEM certificate that can be parsed"}}},
		},
		{
			name: "insecure_skip_verify warns",
			src: lines(okListener, `upstream "u" {`, `  servers = ["wss://127.0.0.1:9000"]`,
				`  tls { insecure_skip_verify = true }`, `}`, okRoute),
			want: []wantDiag{{warning: true, summary: "TLS verification disabled", at: "4:32",
				detail: []string{"accept any certificate"}}},
		},
		{
			name: "tls block without wss server warns",
			src: lines(okListener, `upstream "u" {`, `  servers = ["ws://127.0.0.1:9000"]`,
				`  tls { ca_file = "ca.pem" }`, `}`, okRoute),
			want: []wantDiag{{warning: true, summary: "TLS settings unused", at: "4:3",
				detail: []string{"has no wss:// server"}}},
		},

		// Routes.
		{
			name: "path and exact_path",
			src: lines(okListener, okUpstream,
				`route "r" {`, `  upstream   = "u"`, `  path       = "/ws/"`, `  exact_path = "/ws"`, `}`),
			want: []wantDiag{{summary: "Conflicting path attributes", at: "6:16",
				detail: []string{"mutually exclusive"}}},
		},
		{
			name: "path not starting with a slash",
			src:  lines(okListener, okUpstream, `route "r" {`, `  upstream = "u"`, `  path     = "ws/"`, `}`),
			want: []wantDiag{{summary: "Invalid path", at: "5:14",
				detail: []string{`path = "ws/" does not start with "/"`, `A path starts with "/"`}}},
		},
		{
			name: "exact_path with a query",
			src:  lines(okListener, okUpstream, `route "r" {`, `  upstream   = "u"`, `  exact_path = "/ws?x=1"`, `}`),
			want: []wantDiag{{summary: "Invalid exact_path", at: "5:16",
				detail: []string{"holds a query"}}},
		},
		{
			name: "invalid host patterns",
			src: lines(okListener, okUpstream,
				`route "a" {`, `  upstream = "u"`, `  host     = "chat.*.com"`, `}`,
				`route "b" {`, `  upstream = "u"`, `  host     = "chat.example.com:443"`, `}`,
				`route "c" {`, `  upstream = "u"`, `  host     = "*"`, `}`,
				`route "d" {`, `  upstream = "u"`, `  host     = "chat..example.com"`, `}`),
			want: []wantDiag{
				{summary: "Invalid host pattern", at: "5:14", detail: []string{"the only wildcard form is a suffix pattern such as *.example.com"}},
				{summary: "Invalid host pattern", at: "9:14", detail: []string{"includes a port"}},
				{summary: "Invalid host pattern", at: "13:14", detail: []string{"omit host"}},
				{summary: "Invalid host pattern", at: "17:14", detail: []string{"empty label"}},
			},
		},
		{
			name: "invalid header condition names",
			src: lines(okListener, okUpstream, `route "r" {`, `  upstream = "u"`,
				`  headers  = { "X-Tenant" = "a", "x-tenant" = "b", "X Bad" = "c" }`, `}`),
			want: []wantDiag{
				{summary: "Duplicate header condition", at: "5:34", detail: []string{`"x-tenant" names the header X-Tenant a second time`}},
				{summary: "Invalid header name", at: "5:52", detail: []string{`"X Bad" is not an HTTP header name`}},
			},
		},
		{
			name: "invalid origins",
			src: lines(okListener, okUpstream, `route "r" {`, `  upstream = "u"`,
				`  origins  = ["https://a.example/", "*", "a.example"]`, `}`),
			want: []wantDiag{
				{summary: "Invalid origin", at: "5:15", detail: []string{"ends with a slash", "scheme://host[:port]"}},
				{summary: "Wildcard among origins", at: "5:37", detail: []string{"must be the only element"}},
				{summary: "Invalid origin", at: "5:42", detail: []string{`"a.example" is not scheme://host[:port]`}},
			},
		},
		{
			name: "header lists",
			src: lines(okListener, okUpstream, `route "r" {`, `  upstream        = "u"`,
				`  forward_headers = ["Cookie", "sec-websocket-key", "Bad Name"]`,
				`  drop_headers    = ["cookie"]`, `}`),
			want: []wantDiag{
				{warning: true, summary: "Header always handled by the proxy", at: "5:32", detail: []string{"Sec-Websocket-Key is a hop-by-hop or WebSocket handshake header"}},
				{summary: "Invalid header name", at: "5:53", detail: []string{`"Bad Name" in forward_headers`}},
				{summary: "Header both forwarded and dropped", at: "6:22", detail: []string{"Cookie is listed in both"}},
			},
		},

		// Limits.
		{
			name: "bad sizes",
			src: lines(okListener, okUpstream, okRoute, `limits {`,
				`  max_message_size = "1.5MiB"`,
				`  max_frame_size   = "2 mb"`,
				`  max_header_size  = "100B"`,
				`}`),
			want: []wantDiag{
				{summary: "Invalid size", at: "5:22", detail: []string{"fractions are not allowed", "KiB, MiB, GiB (powers of 1024)"}},
				{summary: "Invalid size", at: "6:22", detail: []string{`unknown unit "mb"`}},
				{summary: "Size too small", at: "7:22", detail: []string{"max_header_size must be at least 1KiB"}},
			},
		},
		{
			name: "bad durations",
			src: lines(okListener, okUpstream, okRoute, `limits {`,
				`  idle_timeout  = "5 minutes"`,
				`  write_timeout = "0"`,
				`  close_timeout = "-1s"`,
				`  ping_interval = "0"`,
				`}`),
			want: []wantDiag{
				{summary: "Invalid duration", at: "5:19", detail: []string{`idle_timeout = "5 minutes" is not a duration`, "A duration is a number with a unit"}},
				{summary: "Invalid duration", at: "6:19", detail: []string{"write_timeout must be greater than 0"}},
				{summary: "Invalid duration", at: "7:19", detail: []string{"negative durations are not allowed"}},
			},
		},
		{
			name: "global max_frame_size larger than max_message_size",
			src: lines(okListener, okUpstream, okRoute, `limits {`,
				`  max_message_size = "1MiB"`, `  max_frame_size   = "2MiB"`, `}`),
			want: []wantDiag{{summary: "Frame size larger than message size", at: "6:22",
				detail: []string{"max_frame_size (2MiB) is larger than the global max_message_size (1MiB)"}}},
		},
		{
			name: "route max_frame_size larger than the inherited max_message_size",
			src: lines(okListener, okUpstream, `route "r" {`, `  upstream = "u"`,
				`  limits { max_frame_size = "32MiB" }`, `}`),
			want: []wantDiag{{summary: "Frame size larger than message size", at: "5:29",
				detail: []string{`larger than the max_message_size of route "r" (16MiB)`}}},
		},
		{
			name: "global client_max_frame_size larger than client_max_message_size",
			src: lines(okListener, okUpstream, okRoute, `limits {`,
				`  client_max_message_size = "1MiB"`, `  client_max_frame_size   = "2MiB"`, `}`),
			want: []wantDiag{{summary: "Frame size larger than message size", at: "6:29",
				detail: []string{"client_max_frame_size (2MiB) is larger than the largest message a client may send (1MiB)",
					"raise client_max_message_size, or omit client_max_frame_size"}}},
		},
		{
			name: "direction frame size larger than max_message_size it inherits",
			src: lines(okListener, okUpstream, okRoute, `limits {`,
				`  max_message_size        = "1MiB"`, `  upstream_max_frame_size = "2MiB"`, `}`),
			want: []wantDiag{{summary: "Frame size larger than message size", at: "6:29",
				detail: []string{"upstream_max_frame_size (2MiB) is larger than the largest message an upstream may send (1MiB)"}}},
		},
		{
			name: "direction frame size within max_message_size but not its direction's",
			src: lines(okListener, okUpstream, `route "r" {`, `  upstream = "u"`, `  limits {`,
				`    client_max_message_size = "4KiB"`, `    client_max_frame_size   = "64KiB"`, `  }`, `}`),
			want: []wantDiag{{summary: "Frame size larger than message size", at: "7:31",
				detail: []string{`client_max_frame_size (64KiB) is larger than the largest message a client may send on route "r" (4KiB)`}}},
		},
		{
			name: "route direction frame size larger than the inherited direction size",
			src: lines(okListener, okUpstream, `route "r" {`, `  upstream = "u"`,
				`  limits { upstream_max_frame_size = "32KiB" }`, `}`,
				`limits { upstream_max_message_size = "16KiB" }`),
			want: []wantDiag{{summary: "Frame size larger than message size", at: "5:38",
				detail: []string{`upstream_max_frame_size (32KiB) is larger than the largest message an upstream may send on route "r" (16KiB)`}}},
		},
		{
			name: "bad direction sizes",
			src: lines(okListener, okUpstream, okRoute, `limits {`,
				`  client_max_message_size   = "0"`,
				`  client_max_frame_size     = "0B"`,
				`  upstream_max_message_size = "big"`,
				`  upstream_max_frame_size   = "-1KiB"`,
				`}`),
			want: []wantDiag{
				{summary: "Size too small", at: "5:31", detail: []string{`client_max_message_size must be at least 1 byte; "0" is 0 bytes`}},
				{summary: "Size too small", at: "6:31", detail: []string{`client_max_frame_size must be at least 1 byte`}},
				{summary: "Invalid size", at: "7:31", detail: []string{`upstream_max_message_size = "big" is not a size`}},
				{summary: "Invalid size", at: "8:31", detail: []string{`upstream_max_frame_size = "-1KiB" is not a size`}},
			},
		},
		{
			name: "wrong direction message size hides the frame check",
			src: lines(okListener, okUpstream, okRoute, `limits {`,
				`  client_max_message_size = "lots"`, `  client_max_frame_size   = "32MiB"`, `}`),
			want: []wantDiag{{summary: "Invalid size", at: "5:29",
				detail: []string{`client_max_message_size = "lots" is not a size`}}},
		},
		{
			name: "direction size of the wrong type",
			src:  lines(okListener, okUpstream, okRoute, `limits { client_max_frame_size = ["1MiB"] }`),
			want: []wantDiag{{summary: "Unsuitable value type", at: "4:34",
				detail: []string{`The value of client_max_frame_size must be a string holding a size, e.g. "1MiB"`}}},
		},
		{
			name: "connection caps and rates out of range",
			src: lines(okListener, okUpstream, okRoute, `limits {`,
				`  max_connections        = -1`,
				`  max_connections_per_ip = -5`,
				`  max_message_rate       = -0.5`,
				`  message_burst          = 0`,
				`}`),
			want: []wantDiag{
				{summary: "Invalid max_connections", at: "5:28", detail: []string{"max_connections = -1 is out of range: give a whole number from 0 to 2147483647", "or 0 for no cap"}},
				{summary: "Invalid max_connections_per_ip", at: "6:28", detail: []string{"max_connections_per_ip = -5 is out of range", "one client IP address"}},
				{summary: "Invalid max_message_rate", at: "7:28", detail: []string{"max_message_rate = -0.5 is out of range", "greater than 0 and at most 1000000000", "or 0 for no limit"}},
				{summary: "Invalid message_burst", at: "8:28", detail: []string{"message_burst = 0 is out of range: give a whole number from 1 to 2147483647", "one second's worth of max_message_rate"}},
			},
		},
		{
			name: "route connection caps and rates out of range",
			src: lines(okListener, okUpstream, `route "r" {`, `  upstream = "u"`, `  limits {`,
				`    max_connections        = -10`,
				`    max_connections_per_ip = -1`,
				`    max_message_rate       = 1e10`,
				`    message_burst          = -3`,
				`  }`, `}`),
			want: []wantDiag{
				{summary: "Invalid max_connections", at: "6:30", detail: []string{"max_connections = -10 is out of range"}},
				{summary: "Invalid max_connections_per_ip", at: "7:30", detail: []string{"max_connections_per_ip = -1 is out of range"}},
				{summary: "Invalid max_message_rate", at: "8:30", detail: []string{"max_message_rate = 10000000000 is out of range"}},
				{summary: "Invalid message_burst", at: "9:30", detail: []string{"message_burst = -3 is out of range"}},
			},
		},
		{
			name: "connection caps and rates that are not numbers or not whole",
			src: lines(okListener, okUpstream, okRoute, `limits {`,
				`  max_connections        = "lots"`,
				`  max_connections_per_ip = 1.5`,
				`  max_message_rate       = "50/s"`,
				`  message_burst          = 2.5`,
				`}`),
			want: []wantDiag{
				{summary: "Unsuitable value type", at: "5:29", detail: []string{"The value of max_connections must be a whole number, e.g. 10000, or 0 for no cap."}},
				{summary: "Invalid max_connections_per_ip", at: "6:28", detail: []string{"max_connections_per_ip = 1.5 is not a whole number: give the most connections one client IP address holds at once"}},
				{summary: "Unsuitable value type", at: "7:29", detail: []string{"The value of max_message_rate must be a number of messages per second, e.g. 50 or 0.5, or 0 for no limit."}},
				{summary: "Invalid message_burst", at: "8:28", detail: []string{"message_burst = 2.5 is not a whole number: give how many messages a client may send at once"}},
			},
		},
		{
			name: "connection caps and bursts too large",
			src: lines(okListener, okUpstream, okRoute, `limits {`,
				`  max_connections  = 3000000000`,
				`  max_message_rate = 10`,
				`  message_burst    = "1e12"`,
				`}`),
			want: []wantDiag{
				{summary: "Invalid max_connections", at: "5:22", detail: []string{"max_connections = 3000000000 is out of range: give a whole number from 0 to 2147483647"}},
				{summary: "Invalid message_burst", at: "7:22", detail: []string{"message_burst = 1000000000000 is out of range"}},
			},
		},
		{
			name: "fractional max_connections",
			src:  lines(okListener, okUpstream, okRoute, `limits { max_connections = 1000.5 }`),
			want: []wantDiag{{summary: "Invalid max_connections", at: "4:28",
				detail: []string{"max_connections = 1000.5 is not a whole number: give the most connections held at once, e.g. 10000, or 0 for no cap."}}},
		},
		{
			name: "global message_burst without a rate",
			src:  lines(okListener, okUpstream, okRoute, `limits { message_burst = 10 }`),
			want: []wantDiag{{summary: "Burst without a message rate", at: "4:26",
				detail: []string{"message_burst has no effect without max_message_rate", "the top-level limits block sets no max_message_rate above 0"}}},
		},
		{
			name: "global message_burst with rate 0",
			src:  lines(okListener, okUpstream, okRoute, `limits {`, `  max_message_rate = 0`, `  message_burst    = 10`, `}`),
			want: []wantDiag{{summary: "Burst without a message rate", at: "6:22",
				detail: []string{"message_burst has no effect without max_message_rate"}}},
		},
		{
			name: "route message_burst without a rate",
			src: lines(okListener, okUpstream, `route "r" {`, `  upstream = "u"`,
				`  limits { message_burst = 10 }`, `}`),
			want: []wantDiag{{summary: "Burst without a message rate", at: "5:28",
				detail: []string{`route "r" has no max_message_rate above 0, neither in its own limits block nor in the top-level one`}}},
		},
		{
			name: "route message_burst where the route lifts the global rate",
			src: lines(okListener, okUpstream, `route "r" {`, `  upstream = "u"`,
				`  limits {`, `    max_message_rate = 0`, `    message_burst    = 10`, `  }`, `}`,
				`limits { max_message_rate = 5 }`),
			want: []wantDiag{{summary: "Burst without a message rate", at: "7:24",
				detail: []string{`route "r" has no max_message_rate above 0`}}},
		},
		{
			name: "message_burst beside a wrong rate is not reported",
			src: lines(okListener, okUpstream, `route "r" {`, `  upstream = "u"`,
				`  limits {`, `    max_message_rate = -1`, `    message_burst    = 10`, `  }`, `}`,
				`limits {`, `  max_message_rate = "fast"`, `  message_burst    = 10`, `}`),
			want: []wantDiag{
				{summary: "Invalid max_message_rate", at: "6:24"},
				{summary: "Unsuitable value type", at: "11:23"},
			},
		},
		{
			name: "two limits blocks",
			src:  lines(okListener, okUpstream, okRoute, `limits { idle_timeout = "1m" }`, `limits { idle_timeout = "2m" }`),
			want: []wantDiag{{summary: "Duplicate limits block", at: "5:1",
				detail: []string{"Only one limits block is allowed at the top level; the first is at test.hcl:4,1"}}},
		},
		{
			name: "two limits blocks in a route",
			src: lines(okListener, okUpstream, `route "r" {`, `  upstream = "u"`,
				`  limits { idle_timeout = "1m" }`, `  limits { idle_timeout = "2m" }`, `}`),
			want: []wantDiag{{summary: "Duplicate limits block", at: "6:3",
				detail: []string{"Only one limits block is allowed in a route"}}},
		},

		// Functions.
		{
			name: "unset environment variable",
			src:  lines(okListener, okUpstream, `route "r" {`, `  upstream = "u"`, `  host     = env("WASMGATE_TEST_SURELY_UNSET")`, `}`),
			want: []wantDiag{{summary: "Error in function call", at: "5:14",
				detail: []string{`environment variable "WASMGATE_TEST_SURELY_UNSET" is not set`, `env("WASMGATE_TEST_SURELY_UNSET", "value")`}}},
		},
		{
			name: "unreadable file",
			src:  lines(okListener, okUpstream, `route "r" {`, `  upstream = "u"`, `  host     = file("missing.txt")`, `}`),
			want: []wantDiag{{summary: "Invalid function argument", at: "5:20",
				detail: []string{"missing.txt: no such file or directory"}}},
		},
		{
			name: "unknown function",
			src:  lines(okListener, okUpstream, `route "r" {`, `  upstream = "u"`, `  host     = lower("X")`, `}`),
			want: []wantDiag{{summary: "Call to unknown function", at: "5:14"}},
		},

		// Plugins and filters.
		{
			name: "unknown filter suggests a plugin",
			src: lines(okListener, okUpstream, okPlugin,
				`route "r" {`, `  upstream = "u"`, `  filters  = ["auth", "atuh"]`, `}`),
			want: []wantDiag{{summary: "Unknown filter", at: "6:23",
				detail: []string{`Route "r" names filter "atuh", but no plugin has that name. Did you mean "auth"? The declared plugins are "auth".`}}},
		},
		{
			name: "unknown filter without plugins",
			src:  lines(okListener, okUpstream, `route "r" {`, `  upstream = "u"`, `  filters  = ["auth"]`, `}`),
			want: []wantDiag{{summary: "Unknown filter", at: "5:15",
				detail: []string{`No plugin block is declared: a filter is the name of a plugin block, e.g. plugin "auth" { wasm = "auth.wasm" }.`}}},
		},
		{
			name: "same filter twice",
			src: lines(okListener, okUpstream, okPlugin, `plugin "log" { wasm = "ok.wasm" }`,
				`route "r" {`, `  upstream = "u"`, `  filters  = ["auth", "log", "auth"]`, `}`),
			want: []wantDiag{{summary: "Duplicate filter", at: "7:30",
				detail: []string{`Route "r" lists filter "auth" twice (first as filter 1)`, "Remove one of them"}}},
		},
		{
			name: "filters of the wrong type",
			src:  lines(okListener, okUpstream, okPlugin, `route "r" {`, `  upstream = "u"`, `  filters  = "auth"`, `}`),
			want: []wantDiag{{summary: "Unsuitable value type", at: "6:15",
				detail: []string{`The value of filters must be a list of plugin names, e.g. ["auth", "log"]`}}},
		},
		{
			name: "duplicate plugin name",
			src:  lines(okListener, okUpstream, okPlugin, okPlugin, okRoute),
			want: []wantDiag{{summary: "Duplicate plugin name", at: "4:1",
				detail: []string{`A plugin named "auth" is already declared at test.hcl:3,1`}}},
		},
		{
			name: "invalid plugin name",
			src:  lines(okListener, okUpstream, `plugin "-auth" { wasm = "ok.wasm" }`, okRoute),
			want: []wantDiag{{summary: "Invalid plugin name", at: "3:8",
				detail: []string{`"-auth" is not a valid plugin name`}}},
		},
		{
			name: "plugin without wasm",
			src:  lines(okListener, okUpstream, `plugin "auth" {}`, `plugin "log" { wasm = "" }`, okRoute),
			want: []wantDiag{
				{summary: "Missing plugin module", at: "3:1", detail: []string{`Plugin "auth" has no wasm attribute.`, `e.g. wasm = "plugins/auth.wasm"`}},
				{summary: "Missing plugin module", at: "4:23", detail: []string{`The wasm attribute of plugin "log" is empty.`}},
			},
		},
		{
			name: "missing module file",
			src:  lines(okListener, okUpstream, `plugin "auth" { wasm = "missing.wasm" }`, okRoute),
			want: []wantDiag{{summary: "Cannot read plugin module", at: "3:24",
				detail: []string{"missing.wasm: no such file or directory", "relative to the directory of the configuration file"}}},
		},
		{
			name: "module that is a directory",
			src:  lines(okListener, okUpstream, `plugin "auth" { wasm = "." }`, okRoute),
			want: []wantDiag{{summary: "Cannot read plugin module", at: "3:24",
				detail: []string{"is not a regular file"}}},
		},
		{
			name: "module that is not Wasm",
			src:  lines(okListener, okUpstream, `plugin "auth" { wasm = "notwasm.wasm" }`, okRoute),
			want: []wantDiag{{summary: "Invalid plugin module", at: "3:24",
				detail: []string{"notwasm.wasm: plugin auth: not a WebAssembly module", "built against wasmgate ABI version 1", "sdk/ABI.md"}}},
		},
		{
			name: "module built for ABI version 2",
			src:  lines(okListener, okUpstream, `plugin "auth" { wasm = "v2.wasm" }`, okRoute),
			want: []wantDiag{{summary: "Invalid plugin module", at: "3:24",
				detail: []string{"plugin auth is built for wasmgate ABI version 2; this wasmgate supports version 1"}}},
		},
		{
			name: "module without ABI version",
			src:  lines(okListener, okUpstream, `plugin "auth" { wasm = "noversion.wasm" }`, okRoute),
			want: []wantDiag{{summary: "Invalid plugin module", at: "3:24",
				detail: []string{"plugin auth declares no wasmgate ABI version (export wasmgate_abi_v1)"}}},
		},
		{
			name: "hook with the wrong signature",
			src:  lines(okListener, okUpstream, `plugin "auth" { wasm = "badsig.wasm" }`, okRoute),
			want: []wantDiag{{summary: "Invalid plugin module", at: "3:24",
				detail: []string{"export wasmgate_on_open has signature (func (param i32) (result i32)), the ABI says (func (param i32 i32) (result i32))"}}},
		},
		{
			name: "bad plugin values",
			src: lines(okListener, okUpstream,
				`plugin "auth" {`,
				`  wasm         = "ok.wasm"`,
				`  instances    = 0`,
				`  memory_limit = "1KiB"`,
				`  timeout      = "1m"`,
				`  on_error     = "Close"`,
				`  sandbox      = "strict"`,
				`  kv_namespace = "auth store"`,
				`  cache_dir    = "ok.wasm"`,
				`}`,
				okRoute),
			want: []wantDiag{
				{summary: "Invalid instances", at: "5:18", detail: []string{"instances = 0 is out of range: a plugin has from 1 to 1024 instances"}},
				{summary: "Size too small", at: "6:18", detail: []string{`memory_limit must be at least 64KiB; "1KiB" is 1KiB`}},
				{summary: "Duration too long", at: "7:18", detail: []string{`timeout must be at most 10s; "1m" is 1m0s`, "the default is 5ms"}},
				{summary: "Invalid on_error", at: "8:18", detail: []string{`on_error = "Close" is not one of "close", "pass". Did you mean "close"?`, "status 1011"}},
				{summary: "Invalid sandbox", at: "9:18", detail: []string{`sandbox = "strict" is not one of "checked", "plain". sandbox says`}},
				{summary: "Invalid kv_namespace", at: "10:18", detail: []string{`"auth store" is not a valid key-value namespace`}},
				{summary: "Invalid cache_dir", at: "11:18", detail: []string{"ok.wasm exists and is not a directory", "Leave cache_dir out"}},
			},
		},
		{
			name: "reload value with a typo",
			src:  lines(okListener, okUpstream, `plugin "auth" {`, `  wasm   = "ok.wasm"`, `  reload = "Live"`, `}`, okRoute),
			want: []wantDiag{{summary: "Invalid reload", at: "5:12",
				detail: []string{`reload = "Live" is not one of "restart", "live". Did you mean "live"?`, "next message boundary"}}},
		},
		{
			name: "reload value of the wrong type",
			src:  lines(okListener, okUpstream, `plugin "auth" {`, `  wasm   = "ok.wasm"`, `  reload = ["live"]`, `}`, okRoute),
			want: []wantDiag{{summary: "Unsuitable value type", at: "5:12",
				detail: []string{"The value of reload must be a string"}}},
		},
		{
			name: "plugin values out of range",
			src: lines(okListener, okUpstream,
				`plugin "auth" {`,
				`  wasm         = "ok.wasm"`,
				`  instances    = 1025`,
				`  memory_limit = "5GiB"`,
				`  timeout      = "0"`,
				`  cache_dir    = ""`,
				`}`,
				okRoute),
			want: []wantDiag{
				{summary: "Invalid instances", at: "5:18", detail: []string{"instances = 1025 is out of range"}},
				{summary: "Size too large", at: "6:18", detail: []string{`memory_limit must be at most 4GiB; "5GiB" is 5GiB`}},
				{summary: "Invalid duration", at: "7:18", detail: []string{"timeout must be greater than 0"}},
				{summary: "Invalid cache_dir", at: "8:18", detail: []string{"cache_dir is empty"}},
			},
		},
		{
			name: "plugin values of the wrong type",
			src: lines(okListener, okUpstream,
				`plugin "auth" {`,
				`  wasm         = ["ok.wasm"]`,
				`  instances    = 1.5`,
				`  memory_limit = { size = 1 }`,
				`}`,
				okRoute),
			want: []wantDiag{
				{summary: "Unsuitable value type", at: "4:18", detail: []string{"The value of wasm must be a string"}},
				{summary: "Unsuitable value type", at: "5:18", detail: []string{"The value of instances must be a whole number, e.g. 4"}},
				{summary: "Unsuitable value type", at: "6:18", detail: []string{`The value of memory_limit must be a string holding a size, e.g. "1MiB"`}},
			},
		},
		{
			name: "unknown attribute in a plugin block",
			src:  lines(okListener, okUpstream, `plugin "auth" {`, `  wasm     = "ok.wasm"`, `  instance = 2`, `}`, okRoute),
			want: []wantDiag{{summary: "Unsupported argument", at: "5:3",
				detail: []string{`Did you mean "instances"?`, "In a plugin block, the allowed arguments are cache_dir, config, instances, kv_namespace, memory_limit, on_error, reload, sandbox, timeout, wasm."}}},
		},
		{
			name: "plugin config with an unset environment variable",
			src:  lines(okListener, okUpstream, `plugin "auth" {`, `  wasm   = "ok.wasm"`, `  config = { secret = env("WASMGATE_TEST_SURELY_UNSET") }`, `}`, okRoute),
			want: []wantDiag{{summary: "Error in function call", at: "5:23",
				detail: []string{`environment variable "WASMGATE_TEST_SURELY_UNSET" is not set`}}},
		},
		{
			name: "plugin config with a variable",
			src:  lines(okListener, okUpstream, `plugin "auth" {`, `  wasm   = "ok.wasm"`, `  config = { secret = secret }`, `}`, okRoute),
			want: []wantDiag{{summary: "Variables not allowed", at: "5:23",
				detail: []string{"Values are literals"}}},
		},
		{
			name: "every plugin mistake of a file in one pass",
			src: lines(okListener, okUpstream,
				`plugin "auth" { wasm = "v2.wasm" }`,
				`plugin "log" { timeout = "1h" }`,
				`route "r" {`, `  upstream = "u"`, `  filters  = ["auth", "log", "rate"]`, `}`),
			want: []wantDiag{
				{summary: "Invalid plugin module", at: "3:24"},
				{summary: "Missing plugin module", at: "4:1"},
				{summary: "Duration too long", at: "4:26"},
				{summary: "Unknown filter", at: "7:30"},
			},
		},

		// One pass.
		{
			name: "every mistake of a file in one pass",
			src: lines(
				`listener "l" { address = "nope" }`,
				`upstream "u" { servers = ["http://x"] }`,
				`route "r" {`,
				`  upstream = "v"`,
				`  path     = "x"`,
				`  limits { idle_timeout = "1" }`,
				`}`),
			want: []wantDiag{
				{summary: "Invalid listener address", at: "1:26"},
				{summary: "Invalid server URL", at: "2:27"},
				{summary: "Unknown upstream", at: "4:14"},
				{summary: "Invalid path", at: "5:14"},
				{summary: "Invalid duration", at: "6:27"},
			},
		},
	}
	if _, set := os.LookupEnv("WASMGATE_TEST_SURELY_UNSET"); set {
		t.Fatal("WASMGATE_TEST_SURELY_UNSET is set")
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := Parse([]byte(tt.src), "test.hcl", pki)
			if cfg == nil || cfg.Files["test.hcl"] == nil {
				t.Fatal("Parse did not return the parsed file")
			}
			checkDiags(t, diags, tt.want)
			if diags.HasErrors() && (cfg.Listeners != nil || cfg.Routes != nil || cfg.Upstreams != nil || cfg.Plugins != nil) {
				t.Error("a failed Parse returned more than Files")
			}
		})
	}
}
