# The configuration of TestConfig_EffectiveJSON: every kind of block, and
# secrets read with env() and file() or held under names that look secret.
# The test sets WASMGATE_TEST_SECRET and writes the certificates and the
# plugin modules next to this file.

listener "public" {
  address    = "0.0.0.0:8443"
  reuse_port = true
  tls {
    cert_file      = "cert.pem"
    key_file       = "key.pem"
    client_ca_file = "ca.pem"
    client_auth    = "optional"
    cipher_suites  = ["TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"]
  }
}

listener "internal" {
  address = "127.0.0.1:8080"
}

upstream "chat" {
  servers         = ["wss://10.0.0.2:9443/socket?room=lobby&access_token=abc123", "wss://10.0.0.3:9443"]
  connect_timeout = "2s"
  tls {
    ca_file     = "ca.pem"
    server_name = "chat.internal"
    cert_file   = "client.pem"
    key_file    = "client-key.pem"
    min_version = "1.3"
  }
}

upstream "feed" {
  servers = ["ws://127.0.0.1:9000"]
}

plugin "auth" {
  wasm = "hooks.wasm"
  config = {
    issuer   = "https://id.example.com/?a=1&b=2"
    secret   = env("WASMGATE_TEST_SECRET")
    audience = "chat-${env("WASMGATE_TEST_SECRET")}"
    db = {
      host     = "db.internal"
      password = "hunter2"
      replicas = ["db-1", env("WASMGATE_TEST_SECRET")]
    }
    ApiKey  = "k-literal"
    signing = { PRIVATE_KEY = "literal-pem", algorithm = "ES256" }
    rooms   = ["lobby", "ops"]
    burst   = 12345678901234567890
    motd    = (file("hello.txt"))
  }
  instances    = 2
  memory_limit = "16MiB"
  timeout      = "10ms"
  on_error     = "pass"
  sandbox      = "plain"
  reload       = "live"
}

plugin "whole" {
  wasm         = "ok.wasm"
  config       = env("WASMGATE_TEST_SECRET")
  instances    = 1
  kv_namespace = "shared"
  cache_dir    = "cache"
}

route "chat" {
  listener        = "public"
  host            = "chat.example.com"
  path            = "/ws/"
  headers         = { "X-Tenant" = "acme", "X-Api-Token" = "literal-token", "X-Shared" = env("WASMGATE_TEST_SECRET") }
  upstream        = "chat"
  origins         = ["https://chat.example.com"]
  forward_headers = ["Cookie"]
  drop_headers    = ["X-Debug"]
  filters         = ["auth", "whole"]
  limits {
    max_message_size = "1MiB"
    idle_timeout     = "5m"
    max_connections  = 1000
    max_message_rate = 2.5

    client_max_message_size = "64KiB"
  }
}

route "feed" {
  listener        = "internal"
  exact_path      = "/feed"
  upstream        = "feed"
  forward_headers = []
  limits {
    ping_interval = "0"
  }
}

limits {
  max_frame_size         = "1MiB"
  max_connections        = 20000
  max_connections_per_ip = 50
  max_message_rate       = 100

  upstream_max_message_size = "32MiB"
}

admin {
  address = "127.0.0.1:9901"
  pprof   = true
}
