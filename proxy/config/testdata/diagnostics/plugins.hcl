# The test builds the modules next to this file: v2.wasm for ABI version 2,
# notwasm.wasm, noversion.wasm and badsig.wasm (see writeTestPlugins).
listener "public" {
  address = "127.0.0.1:8080"
}

upstream "chat" {
  servers = ["ws://127.0.0.1:9000"]
}

plugin "auth" {
  wasm         = "v2.wasm"
  instances    = 0
  memory_limit = "16KiB"
  timeout      = "1m"
  on_error     = "fail"
  sandbox      = "Plain"
}

plugin "log" {
  wasm = "notwasm.wasm"
}

plugin "log" {
  wasm   = "noversion.wasm"
  config = { level = env("WASMGATE_GOLDEN_SURELY_UNSET") }
  sandbx = "plain"
}

plugin "rate" {
  wasm         = "badsig.wasm"
  kv_namespace = "rate limits"
}

plugin "metrics" {
}

route "chat" {
  upstream = "chat"
  filters  = ["auth", "lgo", "auth", "metric"]
}
