# A complete wasmgate configuration. docs/configuration.md shows this file;
# TestLoad_example loads it.

# Clients connect with wss:// on every interface...
listener "public" {
  address = "0.0.0.0:8443"
  tls {
    cert_file = "cert.pem"
    key_file  = "key.pem"
  }
}

# ...and with plain ws:// on loopback.
listener "internal" {
  address = "127.0.0.1:8080"
}

upstream "chat" {
  servers           = ["wss://10.0.0.2:9443", "wss://10.0.0.3:9443"]
  connect_timeout   = "2s"
  handshake_timeout = "5s"
  tls {
    ca_file     = "ca.pem"
    server_name = "chat.internal"
  }
}

upstream "feed" {
  servers = ["ws://127.0.0.1:9000"]
}

# A Wasm filter: a module built against the plugin ABI (sdk/ABI.md), given
# its configuration as JSON.
plugin "auth" {
  wasm         = "plugins/auth.wasm"
  config       = { issuer = "https://id.example.com", secret = env("AUTH_SECRET") }
  instances    = 4
  memory_limit = "16MiB"
  timeout      = "10ms"
}

# Routes match in order: the first that matches wins, so the most specific
# comes first.
route "chat-acme" {
  listener        = "public"
  host            = "chat.example.com"
  path            = "/ws/"
  headers         = { "X-Tenant" = "acme" }
  upstream        = "chat"
  origins         = ["https://chat.example.com"]
  forward_headers = ["Cookie", "Authorization", "X-Tenant"]
  filters         = ["auth"]
  limits {
    max_message_size = "1MiB"
    idle_timeout     = "5m"
  }
}

route "chat" {
  listener     = "public"
  host         = "*.example.com"
  path         = "/ws/"
  upstream     = "chat"
  origins      = ["https://chat.example.com", "https://www.example.com"]
  drop_headers = ["X-Debug"]
}

route "feed" {
  listener   = "internal"
  exact_path = "/feed"
  upstream   = "feed"
  limits {
    ping_interval = "0"
  }
}

limits {
  max_message_size = "16MiB"
  max_frame_size   = "1MiB"
  idle_timeout     = "1h"
}

# Metrics, health checks, the running configuration and reloads, on
# loopback only: the admin listener has no authentication.
admin {
  address = "127.0.0.1:9901"
}
