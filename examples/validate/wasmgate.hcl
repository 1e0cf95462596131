# The validate example: clients may send only JSON objects of a declared
# shape. One module, two configurations: on /chat a message that breaks
# the shape is dropped and answered with an error message; on /strict it
# closes the connection with 1008.
#
#   wasmgate echo -addr 127.0.0.1:9000 &
#   wasmgate run -config examples/validate/wasmgate.hcl
#   wasmgate client ws://127.0.0.1:8080/chat

listener "public" {
  address = "127.0.0.1:8080"
}

upstream "chat" {
  servers         = ["ws://127.0.0.1:9000"]
  connect_timeout = "2s"
}

plugin "validate" {
  wasm = "validate.wasm"
  config = {
    # Each declared member and its type: string, number, integer (a
    # number written without fraction or exponent), boolean, object,
    # array, null or any.
    fields   = { type = "string", id = "number", payload = "object" }
    required = ["type", "id"]
    # Members not in fields are refused (true lets them through).
    allow_unknown = false
    allow_binary  = false
    # drop: the message goes no further, and with error_reply its sender
    # gets {"error":"invalid message","detail":"..."}.
    on_violation = "drop"
    error_reply  = true
    # Objects and arrays nested deeper than this are refused, the
    # message's own object counting as 1.
    max_depth = 32
    # client_to_upstream, upstream_to_client or both.
    direction = "client_to_upstream"
  }
  instances = 2
  # Go's garbage collector can pause a call for tens of milliseconds (see
  # RATIONALE.md); 50ms keeps such a pause from counting as a fault.
  timeout = "50ms"
}

plugin "validate_strict" {
  wasm = "validate.wasm"
  config = {
    fields        = { type = "string", id = "number", payload = "object" }
    required      = ["type", "id"]
    allow_unknown = false
    allow_binary  = false
    # close: the connection is closed with 1008 (policy violation) and
    # the violation as the reason.
    on_violation = "close"
    max_depth    = 8
  }
  instances = 2
  timeout   = "50ms"
}

route "chat" {
  path     = "/chat"
  upstream = "chat"
  filters  = ["validate"]

  limits {
    # The filter reads whole messages, assembled up to this size.
    max_message_size = "256KiB"
    idle_timeout     = "5m"
  }
}

route "strict" {
  path     = "/strict"
  upstream = "chat"
  filters  = ["validate_strict"]

  limits {
    max_message_size = "256KiB"
    idle_timeout     = "5m"
  }
}
