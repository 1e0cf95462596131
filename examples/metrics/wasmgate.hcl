# The metrics example: counts messages and bytes by type and by the side
# that sent them, and the open connections, as plugin metrics (README.md).
#
#   wasmgate echo -addr 127.0.0.1:9000 &
#   wasmgate run -config examples/metrics/wasmgate.hcl
#   wasmgate client ws://127.0.0.1:8080/

listener "public" {
  address = "127.0.0.1:8080"
}

upstream "echo" {
  servers         = ["ws://127.0.0.1:9000"]
  connect_timeout = "2s"
}

plugin "metrics" {
  wasm = "metrics.wasm"
  # The metrics are the plugin's, whichever instance counts: the host adds
  # up what every instance reports.
  instances = 2
  # The filter reads message lengths, never payloads: a few pages of
  # memory are all it uses.
  memory_limit = "4MiB"
}

route "all" {
  path     = "/"
  upstream = "echo"
  filters  = ["metrics"]

  limits {
    # A filter that exports a message hook sees whole messages, assembled
    # up to this size.
    max_message_size = "1MiB"
    idle_timeout     = "5m"
  }
}
