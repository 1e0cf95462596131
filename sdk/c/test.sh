#!/usr/bin/env bash
# Runs the C SDK's native tests: the JSON reader, the list parsers and the
# hooks against a fake host (test/), and the redact example's algorithm on
# the examples of its SPEC.md. They build with the machine's own compiler
# (CC, default cc), with the address and undefined-behaviour sanitizers
# when it has them.
set -euo pipefail

CC=${CC:-cc}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

cflags=(-std=c11 -g -O1 -Wall -Wextra -Werror -Isdk/c)
if echo 'int main(void){return 0;}' |
    "$CC" -x c -fsanitize=address,undefined -o /dev/null - 2>/dev/null; then
    cflags+=(-fsanitize=address,undefined -fno-sanitize-recover=all)
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$CC" "${cflags[@]}" -o "$out/sdk_test" \
    sdk/c/test/sdk_test.c sdk/c/test/fakehost.c sdk/c/wasmgate.c
"$out/sdk_test"

"$CC" "${cflags[@]}" -o "$out/redact_test" \
    examples/redact/c/test.c examples/redact/c/redact_core.c
"$out/redact_test"
