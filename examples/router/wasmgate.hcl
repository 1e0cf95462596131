# The router example: a filter picks each connection's upstream from the
# subprotocol the client offers or from a segment of the path (README.md).
#
#   for port in 9000 9001 9002 9003 9004; do
#     wasmgate echo -addr 127.0.0.1:$port -subprotocols chat.v2,chat.v1 &
#   done
#   wasmgate run -log-level debug -config examples/router/wasmgate.hcl
#   wasmgate client -subprotocol chat.v2 ws://127.0.0.1:8080/chat/eu

listener "public" {
  address = "127.0.0.1:8080"
}

# The upstream of both routes, where a connection goes when the router
# maps nothing and does not insist (route "lobby").
upstream "lobby" {
  servers         = ["ws://127.0.0.1:9000"]
  connect_timeout = "2s"
}

# The upstreams the router chooses from, by name.
upstream "chat_v1" {
  servers         = ["ws://127.0.0.1:9001"]
  connect_timeout = "2s"
}

upstream "chat_v2" {
  servers         = ["ws://127.0.0.1:9002"]
  connect_timeout = "2s"
}

upstream "eu" {
  servers         = ["ws://127.0.0.1:9003"]
  connect_timeout = "2s"
}

upstream "us" {
  servers         = ["ws://127.0.0.1:9004"]
  connect_timeout = "2s"
}

plugin "router" {
  wasm = "router.wasm"
  config = {
    # The first subprotocol the client offers that is listed here wins.
    protocols = { "chat.v2" = "chat_v2", "chat.v1" = "chat_v1" }
    # Otherwise the second segment of the path, counted from the start of
    # the path: in /chat/eu/room it is "eu".
    path_segment   = 2
    path_upstreams = { eu = "eu", us = "us" }
    # With neither, refuse the handshake (404) rather than use the route's
    # upstream.
    required = true
  }
  # The router only looks at handshakes: one small instance is plenty.
  instances    = 1
  memory_limit = "1MiB"
}

# The same module with another configuration: a plugin block is a module
# and its config, and a route names the block.
plugin "router_lenient" {
  wasm = "router.wasm"
  config = {
    protocols      = { "chat.v2" = "chat_v2", "chat.v1" = "chat_v1" }
    path_segment   = 2
    path_upstreams = { eu = "eu", us = "us" }
    required       = false
  }
  instances    = 1
  memory_limit = "1MiB"
}

route "chat" {
  path = "/chat/"
  # Never dialed while the router requires a mapping; a route must name
  # one all the same.
  upstream = "lobby"
  filters  = ["router"]

  limits {
    max_message_size = "1MiB"
    idle_timeout     = "5m"
  }
}

route "lobby" {
  path     = "/lobby/"
  upstream = "lobby"
  filters  = ["router_lenient"]

  limits {
    max_message_size = "1MiB"
    idle_timeout     = "5m"
  }
}
