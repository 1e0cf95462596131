#!/usr/bin/env bash
# Runs the Rust SDK's unit tests, and those of the Rust examples, on the
# development machine's own target: the SDK's pure parts (the JSON reader,
# lists, result codes, conversions, the buffer protocol) and each
# example's algorithm. Nothing here needs wasm32 or a wasmgate host.
#
# RUSTC and RUSTDOC override the compiler and the documentation tool
# (Debian's, from package rustc, by default).
set -euo pipefail

RUSTC=${RUSTC:-/usr/bin/rustc}
RUSTDOC=${RUSTDOC:-/usr/bin/rustdoc}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

sdk="$root/sdk/rust/src/lib.rs"

echo "--- sdk/rust"
"$RUSTC" --edition 2021 --test --crate-name wasmgate -o "$tmp/sdk-test" "$sdk"
"$tmp/sdk-test" -q

echo "--- sdk/rust documentation examples"
"$RUSTC" --edition 2021 --crate-type rlib --crate-name wasmgate -o "$tmp/libwasmgate.rlib" "$sdk"
"$RUSTDOC" --edition 2021 --test --crate-name wasmgate -L "$tmp" "$sdk"

for src in examples/redact/rust/redact.rs examples/ratelimit/ratelimit.rs; do
  echo "--- $src"
  name=$(basename "$src" .rs)
  "$RUSTC" --edition 2021 --test --crate-name "$name" \
    --extern wasmgate="$tmp/libwasmgate.rlib" -o "$tmp/$name-test" "$root/$src"
  "$tmp/$name-test" -q
done
