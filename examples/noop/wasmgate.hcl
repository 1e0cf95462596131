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
}

route "echo" {
  path     = "/"
  upstream = "echo"
  filters  = ["noop"]
}
