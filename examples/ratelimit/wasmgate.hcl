# The ratelimit example: each client may send so many messages per second
# on a connection, and each user so many over all their connections; a
# client over a limit is closed with 1008 (policy violation).
#
#   wasmgate echo -addr 127.0.0.1:9000 &
#   wasmgate run -config examples/ratelimit/wasmgate.hcl
#   wasmgate client -H 'X-User-Id: alice' ws://127.0.0.1:8080/chat

listener "public" {
  address = "127.0.0.1:8080"
}

upstream "chat" {
  servers         = ["ws://127.0.0.1:9000"]
  connect_timeout = "2s"
}

plugin "ratelimit" {
  wasm = "ratelimit.wasm"
  config = {
    # Messages one connection may send per second (0: no limit).
    per_connection = 20
    # Messages all the connections of one user may send together per
    # second (0: no limit), counted in the key-value store that the
    # plugin's instances share.
    per_user = 30
    # The header that names the user. Clients can send any value: let a
    # gateway in front of wasmgate set it. A connection without it is
    # limited per connection only.
    user_header = "x-user-id"
  }
  instances = 2
}

route "chat" {
  path     = "/chat"
  upstream = "chat"
  filters  = ["ratelimit"]

  limits {
    # The filter counts whole messages, assembled up to this size.
    max_message_size = "1MiB"
    idle_timeout     = "5m"
  }
}
