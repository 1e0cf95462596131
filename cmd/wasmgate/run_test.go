package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/codec"
)

// proxyConfig is a configuration with one listener on a free loopback
// port, in front of the upstream at upstreamURL.
func proxyConfig(upstreamURL string) string {
	return fmt.Sprintf(`
listener "main" {
  address = "127.0.0.1:0"
}

upstream "echo" {
  servers = [%q]
}

route "echo" {
  path     = "/echo/"
  upstream = "echo"
}
`, upstreamURL)
}

func TestRun_config(t *testing.T) {
	echo := startTestEcho(t)
	path := writeFile(t, t.TempDir(), "wasmgate.hcl", proxyConfig("ws://"+echo.Addr().String()+"/"))

	inv := start(t, nil, "run", "-config", path, "-log-level", "debug", "-log-format", "json")
	m := inv.stdout.waitFor(t, `listener "main" on (ws://\S+)\n  route "echo": any host, path prefix /echo/ -> upstream "echo" \[ws://\S+/\]\n`)
	c := dial(t, m[1]+"/echo/1")
	roundTrip(t, c, "hello")
	roundTrip(t, c, "world")

	// Stop as on SIGTERM: the client gets 1001, and run exits 0.
	inv.cancel()
	expectClose(t, c, codec.CloseGoingAway)
	c.Close(codec.CloseNormal, "")
	if code := inv.wait(t); code != 0 {
		t.Errorf("exit status %d, want 0; stderr:\n%s", code, inv.stderr)
	}
	stderr := inv.stderr.String()
	for _, want := range []string{`"msg":"listening"`, `"msg":"shutting down: closing connections with 1001"`, `"msg":"stopped"`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("log does not contain %s:\n%s", want, stderr)
		}
	}
}

func TestRun_drainTimeout(t *testing.T) {
	echo := startTestEcho(t)
	path := writeFile(t, t.TempDir(), "wasmgate.hcl", proxyConfig("ws://"+echo.Addr().String()+"/")+`
limits {
  close_timeout = "1m"
}
`)
	inv := start(t, nil, "run", "-config", path, "-drain-timeout", "100ms")
	m := inv.stdout.waitFor(t, `listener "main" on (ws://\S+)\n`)
	c := dial(t, m[1]+"/echo/")
	roundTrip(t, c, "hello")

	// The client never answers the proxy's close frame: the drain timeout
	// cuts it, long before the close timeout.
	if code := inv.stop(t); code != 0 {
		t.Errorf("exit status %d, want 0; stderr:\n%s", code, inv.stderr)
	}
	inv.stderr.waitFor(t, "drain timeout: cut the connections still open")
}

func TestRun_configErrors(t *testing.T) {
	path := writeFile(t, t.TempDir(), "broken.hcl", `
listener "main" {
  address = "127.0.0.1:0"
}

upstream "echo" {
  servers = ["http://127.0.0.1:9000"]
}

route "echo" {
  upstream = "ecko"
}
`)
	code, stdout, stderr := runCmd(t, "", "run", "-config", path)
	if code != 1 {
		t.Errorf("exit status %d, want 1", code)
	}
	if stdout != "" {
		// run prints the listeners once they are open.
		t.Errorf("stdout %q, want nothing: no listener may open", stdout)
	}
	for _, want := range []string{
		path + ":7:14: error: Invalid server URL\n",
		path + ":11:14: error: Unknown upstream\n",
		path + ": 2 errors; nothing started\n",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, stderr)
		}
	}
}

func TestRun_listenFails(t *testing.T) {
	echo := startTestEcho(t)
	// The echo server holds the port, so the proxy cannot listen on it.
	path := writeFile(t, t.TempDir(), "wasmgate.hcl", strings.Replace(
		proxyConfig("ws://"+echo.Addr().String()+"/"), "127.0.0.1:0", echo.Addr().String(), 1))
	code, _, stderr := runCmd(t, "", "run", "-config", path)
	if code != 1 || !strings.Contains(stderr, `listener "main"`) {
		t.Errorf("exit status %d, stderr:\n%s", code, stderr)
	}
}

func TestRun_demo(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"run", []string{"run", "-listen", "127.0.0.1:0"}},
		{"no command", []string{"-listen", "127.0.0.1:0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv := start(t, nil, tt.args...)
			url := inv.stdout.waitFor(t, `Try it: +wasmgate client (ws://\S+)\n`)[1]
			c := dial(t, url+"any/path")
			roundTrip(t, c, "hello")
			// The demo compresses, as browsers ask, and serves its console.
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			cc, hs, err := (&codec.Dialer{Compression: &codec.Compression{}}).Dial(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(hs.Extensions, "permessage-deflate") {
				t.Errorf("the demo negotiated %q, want permessage-deflate", hs.Extensions)
			}
			roundTrip(t, cc, strings.Repeat("compress me ", 100))
			cc.Close(codec.CloseNormal, "") //nolint:errcheck // checked by the round trip
			resp, err := http.Get("http" + strings.TrimPrefix(url, "ws"))
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "wasmgate console") {
				t.Errorf("GET / on the demo: %d %.80q", resp.StatusCode, page)
			}
			inv.cancel()
			expectClose(t, c, codec.CloseGoingAway)
			c.Close(codec.CloseNormal, "")
			if code := inv.wait(t); code != 0 {
				t.Errorf("exit status %d, want 0; stderr:\n%s", code, inv.stderr)
			}
			if lines := strings.Count(inv.stdout.String(), "\n"); lines > 24 {
				t.Errorf("the demo's banner has %d lines, more than a screen:\n%s", lines, inv.stdout)
			}
		})
	}
}

func TestRun_demoBadListen(t *testing.T) {
	code, stdout, stderr := runCmd(t, "", "-listen", "8080")
	if code != 2 || stdout != "" || !strings.Contains(stderr, "want host:port") {
		t.Errorf("exit status %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

func TestDemoConfig(t *testing.T) {
	src, err := demoConfig(`127.0.0.1:8080`, `ws://127.0.0.1:1/${x}"`)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`address = "127.0.0.1:8080"`,
		`servers = ["ws://127.0.0.1:1/$${x}\""]`,
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("the demo configuration does not contain %s:\n%s", want, src)
		}
	}
}

// TestRun_summary: the start screen names the plugins and the admin
// listener, and the admin listener serves.
func TestRun_summary(t *testing.T) {
	echo := startTestEcho(t)
	noop, err := filepath.Abs("../../examples/noop/noop.wasm")
	if err != nil {
		t.Fatal(err)
	}
	path := writeFile(t, t.TempDir(), "wasmgate.hcl", fmt.Sprintf(`
listener "main" {
  address = "127.0.0.1:0"
}
upstream "echo" {
  servers = ["ws://%s/"]
}
plugin "noop" {
  wasm      = %q
  instances = 2
}
route "echo" {
  path     = "/echo/"
  upstream = "echo"
  filters  = ["noop"]
}
admin {
  address = "127.0.0.1:0"
}
`, echo.Addr(), noop))
	inv := start(t, nil, "run", "-config", path, "-access-log", "off")
	m := inv.stdout.waitFor(t, `(?s)wasmgate \S+ serving .*wasmgate.hcl\n`+
		`listener "main" on (ws://\S+)\n  route "echo": [^\n]*\n`+
		`plugin "noop": noop.wasm \(\d+ KiB\), 2 instances, sandbox checked, on_error close, reload restart; compiled in \S+, started in \S+\n`+
		`admin on (http://\S+): /metrics /healthz /readyz /config /connections, POST /reload\n`)
	c := dial(t, m[1]+"/echo/")
	roundTrip(t, c, "through noop")
	resp, err := http.Get(m[2] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`wasmgate_wasm_instances{plugin="noop"} 2`, `wasmgate_connections_open{route="echo"} 1`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics has no %s", want)
		}
	}
	inv.cancel()
	expectClose(t, c, codec.CloseGoingAway)
	c.Close(codec.CloseNormal, "")
	if code := inv.wait(t); code != 0 {
		t.Errorf("exit status %d; stderr:\n%s", code, inv.stderr)
	}
}
