# The redact example: card numbers and the local parts of e-mail addresses
# are masked in the text messages of both directions (SPEC.md).
#
#   wasmgate echo -addr 127.0.0.1:9000 &
#   wasmgate run -config examples/redact/wasmgate.hcl
#   wasmgate client ws://127.0.0.1:8080/

listener "public" {
  address = "127.0.0.1:8080"
}

upstream "chat" {
  servers         = ["ws://127.0.0.1:9000"]
  connect_timeout = "2s"
}

plugin "redact" {
  # The four builds behave identically; swap the path to run another:
  # rust/redact.wasm, assemblyscript/redact.wasm or c/redact.wasm.
  wasm      = "go/redact.wasm"
  instances = 2
  # The Go build allocates only when a message is longer than any before
  # it, but a Go guest's garbage collector can still pause a call for
  # tens of milliseconds (see RATIONALE.md): 50ms keeps that from being
  # taken for a fault. The other builds do fine with the 5ms default.
  timeout      = "50ms"
  memory_limit = "32MiB"
}

route "chat" {
  path     = "/"
  upstream = "chat"
  filters  = ["redact"]

  limits {
    # The filter sees whole messages, assembled up to this size.
    max_message_size = "1MiB"
    idle_timeout     = "5m"
  }
}
