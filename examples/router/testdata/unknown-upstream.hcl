# A router configuration with a mistake, for examples/router_test.go: it
# maps chat.v3 and the path segment "ap" to upstreams that do not exist.
# The router refuses those handshakes with 502 and logs the mistake.
# (The test resolves router.wasm against examples/router/.)

listener "public" {
  address = "127.0.0.1:8080"
}

upstream "lobby" {
  servers = ["ws://127.0.0.1:9000"]
}

upstream "chat_v2" {
  servers = ["ws://127.0.0.1:9002"]
}

plugin "router" {
  wasm = "router.wasm"
  config = {
    protocols      = { "chat.v2" = "chat_v2", "chat.v3" = "chat_v3" }
    path_segment   = 2
    path_upstreams = { ap = "ap" }
    required       = true
  }
  instances = 1
}

route "chat" {
  path     = "/chat/"
  upstream = "lobby"
  filters  = ["router"]
}
