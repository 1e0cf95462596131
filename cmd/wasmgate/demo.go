package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"net"
	"strings"
	"text/template"
	"time"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/wasmgate/wasmgate/proxy/config"
	"github.com/zclconf/go-cty/cty"
)

// demoListen is the demo proxy's address unless -listen says otherwise.
const demoListen = "127.0.0.1:8080"

// defaultConfig is the demo's configuration, a template of the proxy's
// and the echo server's addresses.
//
//go:embed default.hcl
var defaultConfig string

// defaultTemplate is defaultConfig, parsed.
var defaultTemplate = template.Must(template.New("default.hcl").Parse(defaultConfig))

// demoConfig renders the demo's configuration: the proxy on listen, in
// front of the echo server at echoURL.
func demoConfig(listen, echoURL string) ([]byte, error) {
	var b bytes.Buffer
	err := defaultTemplate.Execute(&b, struct{ Listen, Echo string }{hclString(listen), hclString(echoURL)})
	return b.Bytes(), err
}

// hclString is s as an HCL string literal, quoted and escaped.
func hclString(s string) string {
	return string(hclwrite.TokensForValue(cty.StringVal(s)).Bytes())
}

// runDemo serves the built-in demo: an echo server on a free loopback
// port, and the proxy on listen in front of it. SIGHUP reloads the same
// demo configuration.
func runDemo(ctx context.Context, listen string, srv *server) int {
	std, log := srv.std, srv.log
	if listen == "" {
		listen = demoListen
	}
	if _, _, err := net.SplitHostPort(listen); err != nil {
		fmt.Fprintf(std.err, "wasmgate: -listen %q: want host:port, e.g. %s: %v\n", listen, demoListen, err)
		return 2
	}
	echo, err := startEcho("127.0.0.1:0", nil, log.With("component", "echo"))
	if err != nil {
		fmt.Fprintf(std.err, "wasmgate: start the demo's echo server: %v\n", err)
		return 1
	}
	defer shutdownEcho(echo, srv.drain)
	echoURL := "ws://" + echo.Addr().String() + "/"

	src, err := demoConfig(listen, echoURL)
	if err != nil {
		panic(err) // a broken embedded template is a programmer mistake
	}
	cfg, diags := config.Parse(src, "default.hcl", ".")
	cfg.WriteDiagnostics(std.err, diags) //nolint:errcheck // stderr
	if diags.HasErrors() {
		return 1
	}
	srv.load = func() (*config.Config, error) {
		cfg, diags := config.Parse(src, "default.hcl", ".")
		if diags.HasErrors() {
			return nil, diags
		}
		return cfg, nil
	}
	if err := srv.start(cfg); err != nil {
		fmt.Fprintf(std.err, "wasmgate: %v\n", err)
		if listen == demoListen {
			fmt.Fprintf(std.err, "Is another program using %s? Choose another address with: wasmgate -listen 127.0.0.1:8081\n", listen)
		}
		return 1
	}
	proxyURL := listenerURL(cfg.Listeners[0], srv.p) + "/"
	fmt.Fprintf(std.out, `wasmgate demo: no -config given, so a proxy in front of a built-in echo server.

  proxy   %s  (route "echo": every path, permessage-deflate)
  echo    %s  (upstream "echo")

Try it:   wasmgate client %s
  or open %s in a browser: a WebSocket console
Yours:    wasmgate run -config FILE (see wasmgate -h)
Stop:     Ctrl-C
`, proxyURL, echoURL, proxyURL, "http"+strings.TrimPrefix(proxyURL, "ws"))
	return srv.serve(ctx)
}

// shutdownEcho stops the demo's echo server, after the proxy.
func shutdownEcho(echo *echoServer, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	echo.Shutdown(ctx) //nolint:errcheck // the proxy has closed its connections already
}
