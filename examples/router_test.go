package examples_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/proxy"
	"github.com/wasmgate/wasmgate/proxy/config"
)

// TestRouter runs examples/router: each mapping of its configuration
// lands on its upstream, the client's first mapped subprotocol wins over
// the path, and what maps nothing is refused on route "chat" (required)
// and goes to the route's upstream on route "lobby".
func TestRouter(t *testing.T) {
	e := startExample(t, "router", nil)
	const (
		lobby  = "127.0.0.1:9000"
		chatV1 = "127.0.0.1:9001"
		chatV2 = "127.0.0.1:9002"
		eu     = "127.0.0.1:9003"
		us     = "127.0.0.1:9004"
	)

	lands := []struct {
		name, path string
		protocols  []string
		want       string
	}{
		{"subprotocol chat.v2", "/chat/", []string{"chat.v2"}, chatV2},
		{"subprotocol chat.v1", "/chat/", []string{"chat.v1"}, chatV1},
		{"the client's first choice", "/chat/", []string{"chat.v1", "chat.v2"}, chatV1},
		{"the client's first choice, reversed", "/chat/", []string{"chat.v2", "chat.v1"}, chatV2},
		{"the first mapped subprotocol", "/chat/", []string{"chat.v9", "chat.v2"}, chatV2},
		{"path eu", "/chat/eu", nil, eu},
		{"path us, longer", "/chat/us/room/7?x=1", nil, us},
		{"subprotocol before path", "/chat/eu/room", []string{"chat.v1"}, chatV1},
		{"path after unmapped subprotocols", "/chat/us", []string{"chat.v9"}, us},
		{"lenient route, path", "/lobby/eu", nil, eu},
		{"lenient route, subprotocol", "/lobby/anything", []string{"chat.v2"}, chatV2},
		{"lenient route, nothing mapped", "/lobby/asia", []string{"chat.v9"}, lobby},
		{"lenient route, no segment", "/lobby/", nil, lobby},
	}
	for _, tc := range lands {
		t.Run(tc.name, func(t *testing.T) {
			c := e.mustDial(t, tc.path, nil, tc.protocols...)
			if got := roundTrip(t, c, "whoami"); got != tc.want {
				t.Errorf("reached %s, want %s", got, tc.want)
			}
			if len(tc.protocols) > 0 && c.Subprotocol() != tc.protocols[0] {
				// The upstream picks from every offered subprotocol,
				// not only the one the router mapped.
				t.Errorf("subprotocol %q, want %q", c.Subprotocol(), tc.protocols[0])
			}
			hs := e.Backends[tc.want].lastHandshake(t)
			if hs.URI != tc.path {
				t.Errorf("upstream got %s, want %s", hs.URI, tc.path)
			}
		})
	}

	const unrouted = "no upstream for this request; known subprotocols: chat.v1, chat.v2; known values of path segment 2: eu, us\n"
	refused := []struct {
		name, path string
		protocols  []string
	}{
		{"unknown segment", "/chat/asia", nil},
		{"unknown segment and subprotocol", "/chat/asia/room", []string{"chat.v9"}},
		{"no segment", "/chat/", nil},
		{"empty segment", "/chat//eu", nil},
		{"a mapped value in another segment", "/chat/room/eu", nil},
		{"segments are case-sensitive", "/chat/EU", nil},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			se := e.refusal(t, tc.path, nil, tc.protocols...)
			if se.Status != 404 || string(se.Body) != unrouted {
				t.Errorf("refused with %d %q, want 404 %q", se.Status, se.Body, unrouted)
			}
		})
	}
	if n := len(e.Backends[lobby].handshakes()); n != 2 {
		t.Errorf("the lobby upstream got %d handshakes, want the lenient route's 2", n)
	}
}

// TestRouterUnknownUpstream runs the router with a configuration that
// maps to upstreams wasmgate does not have: those handshakes are refused
// with 502, and the mistake is logged.
func TestRouterUnknownUpstream(t *testing.T) {
	const file = "router/testdata/unknown-upstream.hcl"
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	src = regexp.MustCompile(`"127\.0\.0\.1:8080"`).ReplaceAll(src, []byte(`"127.0.0.1:0"`))
	abs, err := filepath.Abs("router")
	if err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Parse(src, file, abs)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var logs syncBuffer
	p := proxy.New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	// The refused handshakes never dial, so the upstreams need no server.
	e := &example{Addr: p.Addr("public").String(), Proxy: p}

	for _, tc := range []struct {
		path, protocol, upstream string
	}{
		{"/chat/", "chat.v3", "chat_v3"},
		{"/chat/ap", "", "ap"},
	} {
		var protocols []string
		if tc.protocol != "" {
			protocols = append(protocols, tc.protocol)
		}
		se := e.refusal(t, tc.path, nil, protocols...)
		want := "upstream " + tc.upstream + " is not configured\n"
		if se.Status != 502 || string(se.Body) != want {
			t.Errorf("%s %v: refused with %d %q, want 502 %q", tc.path, protocols, se.Status, se.Body, want)
		}
		if msg := "maps to upstream " + tc.upstream + ", which wasmgate has not"; !strings.Contains(logs.String(), msg) {
			t.Errorf("the log does not say %q:\n%s", msg, logs.String())
		}
	}
}

// TestRouterBadConfig checks that the proxy refuses to start when the
// router's configuration is wrong, with a log line that says why (the
// log's text format quotes the line, so the expected parts have no
// quotes).
func TestRouterBadConfig(t *testing.T) {
	abs, err := filepath.Abs("router")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ config, log string }{
		{`{ protocols = { "chat.v1" = "chat_v1" }, require = true }`, "unknown config key"},
		{`{ protocols = ["chat_v1"] }`, "protocols must be an object"},
		{`{ protocols = { "chat.v1" = 1 } }`, "must be an upstream's name"},
		{`{ path_segment = 0, path_upstreams = { eu = "eu" } }`, "path_segment must be a whole number from 1"},
		{`{ path_segment = 1.5, path_upstreams = { eu = "eu" } }`, "path_segment must be a whole number from 1"},
		{`{ path_upstreams = { eu = "eu" } }`, "path_segment and path_upstreams go together"},
		{`{ required = true }`, "the config maps nothing"},
		{`{ protocols = { "chat.v1" = "chat_v1" }, required = "yes" }`, "required must be true or false"},
		{`"chat_v1"`, "the config must be an object"},
	} {
		src := `
listener "public" { address = "127.0.0.1:0" }
upstream "chat_v1" { servers = ["ws://127.0.0.1:9001"] }
plugin "router" {
  wasm   = "router.wasm"
  config = ` + tc.config + `
}
route "chat" {
  path     = "/chat/"
  upstream = "chat_v1"
  filters  = ["router"]
}
`
		cfg, diags := config.Parse([]byte(src), "bad.hcl", abs)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", tc.config, diags.Error())
		}
		var logs syncBuffer
		p := proxy.New(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
		if err := p.Start(); err == nil {
			p.Shutdown(context.Background())
			t.Errorf("%s: the proxy started", tc.config)
			continue
		}
		if !strings.Contains(logs.String(), tc.log) {
			t.Errorf("%s: the log does not say %q:\n%s", tc.config, tc.log, logs.String())
		}
	}
}
