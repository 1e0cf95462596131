# The noop example: every message goes through a Wasm filter that reads it
# and passes it unchanged, to measure the cost of a filter on its own.
#
#   wasmgate echo -addr 127.0.0.1:9000 &
#   wasmgate run -config examples/noop/wasmgate.hcl
#   wasmgate client ws://127.0.0.1:8080/

listener "public" {
  address = "127.0.0.1:8080"
}

upstream "echo" {
  servers = ["ws://127.0.0.1:9000"]
}

plugin "noop" {
  wasm = "noop.wasm"
  # A call carries messages of up to the route's limit (1 MiB by
  # default), copied into the plugin and back: 5ms, the default, is
  # tight for that on a busy machine.
  timeout = "50ms"
}

route "echo" {
  path     = "/"
  upstream = "echo"
  filters  = ["noop"]
}
