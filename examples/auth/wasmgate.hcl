# The auth example: only handshakes with a valid HS256 JSON Web Token get
# through, and the upstream learns the user from X-User-Id.
#
#   export AUTH_SECRET=0123456789abcdef0123456789abcdef
#   wasmgate echo -addr 127.0.0.1:9000 &
#   wasmgate run -config examples/auth/wasmgate.hcl
#   wasmgate client -H "Authorization: Bearer $TOKEN" ws://127.0.0.1:8080/chat
#
# README.md shows how to mint $TOKEN.

listener "public" {
  address = "127.0.0.1:8080"
}

upstream "chat" {
  servers         = ["ws://127.0.0.1:9000"]
  connect_timeout = "2s"
}

plugin "auth" {
  wasm = "auth.wasm"
  config = {
    # The HMAC key. Read from the environment so that it stays out of the
    # file; the proxy refuses to start when it is missing or empty.
    secret = env("AUTH_SECRET")
    # Where the token is looked for: "Authorization: Bearer <token>",
    # else the query parameter ?token=<token> (browsers cannot set
    # headers on a WebSocket); set query = "" to accept the header only.
    header = "authorization"
    query  = "token"
    # The upstream gets the token's sub claim as X-User-Id (replacing
    # any X-User-Id the client sent), and neither the Authorization
    # header nor the token parameter.
    user_header = "x-user-id"
    claim       = "sub"
    strip_token = true
    # Clock skew tolerated on exp and nbf; exp is required.
    leeway_seconds = 30
    require_exp    = true
    # When set, the token's iss must equal issuer and its aud must
    # contain audience.
    issuer   = ""
    audience = ""
  }
  instances = 2
  # Go's garbage collector can pause a call for tens of milliseconds (see
  # RATIONALE.md); this filter runs on handshakes only, where 50ms is
  # nothing next to dialing the upstream.
  timeout = "50ms"
}

route "chat" {
  path     = "/chat"
  upstream = "chat"
  filters  = ["auth"]

  limits {
    max_message_size = "1MiB"
    idle_timeout     = "5m"
  }
}
