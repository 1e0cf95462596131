# wasmgate in front of the built-in echo server.
#
#   wasmgate echo -addr 127.0.0.1:9000 &
#   wasmgate run -config examples/echo/wasmgate.hcl
#   wasmgate client ws://127.0.0.1:8080/echo

listener "public" {
  address = "127.0.0.1:8080"
}

upstream "echo" {
  servers         = ["ws://127.0.0.1:9000"]
  connect_timeout = "2s"
}

route "echo" {
  path     = "/echo"
  upstream = "echo"

  limits {
    max_message_size = "1MiB"
    idle_timeout     = "5m"
  }
}

limits {
  max_message_size = "16MiB"
  ping_interval    = "30s"
}
