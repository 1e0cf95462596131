package config_test

import (
	"encoding/json"
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

func ExampleConfig_EffectiveJSON() {
	src := []byte(`
listener "public" {
  address = "127.0.0.1:8080"
}

upstream "chat" {
  servers = ["ws://127.0.0.1:9000/socket?room=lobby&token=abc"]
}

route "chat" {
  upstream = "chat"
  headers  = { "X-Tenant" = "acme", "X-Api-Key" = "k-123" }
}

admin {
  address = "127.0.0.1:9901"
}
`)
	cfg, diags := config.Parse(src, "wasmgate.hcl", ".")
	if diags.HasErrors() {
		_ = cfg.WriteDiagnostics(os.Stderr, diags)
		return
	}
	js, err := cfg.EffectiveJSON()
	if err != nil {
		fmt.Println(err)
		return
	}
	// Pick a few fields of the document.
	var doc struct {
		Upstreams []struct {
			Servers        []string `json:"servers"`
			ConnectTimeout string   `json:"connect_timeout"`
		} `json:"upstreams"`
		Routes []struct {
			Path    string            `json:"path"`
			Headers map[string]string `json:"headers"`
		} `json:"routes"`
		Admin struct {
			Address string `json:"address"`
		} `json:"admin"`
	}
	if err := json.Unmarshal(js, &doc); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(doc.Upstreams[0].Servers[0], doc.Upstreams[0].ConnectTimeout)
	fmt.Println(doc.Routes[0].Path, doc.Routes[0].Headers)
	fmt.Println(doc.Admin.Address)
	// Output:
	// ws://127.0.0.1:9000/socket?room=lobby&token=[redacted] 5s
	// / map[X-Api-Key:[redacted] X-Tenant:acme]
	// 127.0.0.1:9901
}
