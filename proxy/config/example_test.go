package config_test

import (
	"fmt"
	"os"

	"github.com/wasmgate/wasmgate/proxy/config"
)

func ExampleParse() {
	src := []byte(`
listener "public" {
  address = "127.0.0.1:8080"
}

upstream "chat" {
  servers = ["ws://127.0.0.1:9000"]
}

route "chat" {
  host     = "Chat.Example.com"
  path     = "/ws/"
  upstream = "chat"
  limits {
    max_message_size = "1MiB"
  }
}
`)
	cfg, diags := config.Parse(src, "wasmgate.hcl", ".")
	if diags.HasErrors() {
		_ = cfg.WriteDiagnostics(os.Stderr, diags)
		return
	}
	r := cfg.Routes[0]
	fmt.Printf("route %s: %s%s on %s -> %s\n", r.Name, r.Host, r.Path, r.Listener.Address, r.Upstream.Servers[0])
	fmt.Printf("max message %d bytes, max frame %d bytes, idle timeout %v\n",
		r.Limits.MaxMessageSize, r.Limits.MaxFrameSize, r.Limits.IdleTimeout)
	// Output:
	// route chat: chat.example.com/ws/ on 127.0.0.1:8080 -> ws://127.0.0.1:9000
	// max message 1048576 bytes, max frame 1048576 bytes, idle timeout 1h0m0s
}

func ExampleConfig_WriteDiagnostics() {
	src := []byte(`
listener "public" {
  address = "127.0.0.1:8080"
}

upstream "chat" {
  servers = ["http://127.0.0.1:9000"]
}

route "chat" {
  upstream = "chat"
}
`)
	cfg, diags := config.Parse(src, "wasmgate.hcl", ".")
	_ = cfg.WriteDiagnostics(os.Stdout, diags)
	// Output:
	// wasmgate.hcl:7:14: error: Invalid server URL
	//   7 |   servers = ["http://127.0.0.1:9000"]
	//     |              ^^^^^^^^^^^^^^^^^^^^^^^
	//   "http://127.0.0.1:9000" has the scheme http://; upstreams are dialed as WebSocket servers: use ws:// for http:// and wss:// for https://. A server is a ws:// or wss:// URL with a host and an optional port and path, e.g. "ws://127.0.0.1:9000" or "wss://chat.internal/socket".
}
