#!/usr/bin/env bash
# Builds the WebAssembly of the Rust SDK: the conformance guest and every
# Rust example, each .wasm next to its source. It uses rustc directly (no
# cargo, no crates): the SDK becomes an rlib in a temporary directory, and
# each plugin a cdylib linked against it. The output is reproducible: no
# debug information, no absolute paths, one codegen unit.
#
# RUSTC overrides the compiler. The committed modules come from Debian's
# rustc 1.63 with its wasm32-wasi standard library (packages rustc and
# libstd-rust-dev-wasm32); another version builds working modules, but not
# byte-identical ones (and from 1.84 the target is named wasm32-wasip1).
set -euo pipefail

RUSTC=${RUSTC:-/usr/bin/rustc}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Size matters more than speed for a plugin (the host compiles it when it
# loads it); panic=abort makes a panic the trap of ABI.md section 7.
flags=(
  --edition 2021 --target wasm32-wasi
  -C opt-level=s -C panic=abort -C codegen-units=1
  --remap-path-prefix "$root/="
)

"$RUSTC" "${flags[@]}" --crate-type rlib --crate-name wasmgate \
  -o "$tmp/libwasmgate.rlib" "$root/sdk/rust/src/lib.rs"

# plugin SOURCE OUTPUT builds one plugin.
plugin() {
  local name
  name=$(basename "$2" .wasm)
  "$RUSTC" "${flags[@]}" --crate-type cdylib --crate-name "$name" \
    -C lto -C strip=symbols \
    --extern wasmgate="$tmp/libwasmgate.rlib" \
    -o "$tmp/$name.wasm" "$root/$1"
  chmod 644 "$tmp/$name.wasm"
  mv "$tmp/$name.wasm" "$root/$2"
  echo "$2: $(wc -c <"$root/$2") bytes"
}

plugin sdk/rust/conformance/conformance.rs sdk/rust/conformance/conformance.wasm
plugin examples/redact/rust/redact.rs examples/redact/rust/redact.wasm
plugin examples/ratelimit/ratelimit.rs examples/ratelimit/ratelimit.wasm
