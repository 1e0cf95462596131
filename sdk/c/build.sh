#!/usr/bin/env bash
# Builds the C SDK's conformance guest and the C examples, each .wasm next
# to its source:
#
#   sdk/c/conformance/conformance.wasm
#   examples/redact/c/redact.wasm
#   examples/router/router.wasm
#   examples/noop/noop.wasm
#
# Needs clang with the wasm32-wasi target, wasm-ld and wasi-libc (Debian:
# clang lld wasi-libc libclang-rt-dev-wasm32). CC overrides the compiler.
# The output is deterministic: no debug information, no names, no paths.
set -euo pipefail

CC=${CC:-clang}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

cflags=(
    --target=wasm32-wasi
    -mexec-model=reactor # _initialize runs the constructors; no main
    -std=c11
    -Oz
    -g0
    -ffile-prefix-map="$root"=.
    -Wall -Wextra -Werror
    -Isdk/c
    -Wl,--stack-first # a stack overflow traps instead of overwriting data
    -Wl,--strip-all
)

# build OUT SOURCE...: one plugin, its sources and the SDK.
build() {
    local out=$1
    shift
    "$CC" "${cflags[@]}" -o "$out" "$@" sdk/c/wasmgate.c
    echo "$out: $(wc -c <"$out") bytes"
}

build sdk/c/conformance/conformance.wasm sdk/c/conformance/conformance.c
build examples/redact/c/redact.wasm examples/redact/c/redact.c examples/redact/c/redact_core.c
build examples/router/router.wasm examples/router/router.c
build examples/noop/noop.wasm examples/noop/noop.c
