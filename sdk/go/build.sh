#!/usr/bin/env bash
# Builds every WebAssembly module written with the Go SDK: the SDK's
# conformance guest (when its source is present) and the Go examples,
# each next to its source. Runnable from any directory; GO overrides the
# go command.
#
# The builds are deterministic: -trimpath keeps the machine's paths out,
# -s -w drops the symbol table and DWARF, -buildvcs=false keeps the
# commit and the tree's dirtiness out of the embedded build information,
# and the Go linker writes no timestamp. GOFLAGS, GOWASM and CGO_ENABLED
# are pinned so that the caller's environment cannot change the output.
# The Go release can: build with the one go.mod names, as CI does.
set -euo pipefail

GO=${GO:-go}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"

# build writes $1/$2 from the main package in $1.
build() {
	local dir=$1 out=$2
	GOOS=wasip1 GOARCH=wasm GOWASM= CGO_ENABLED=0 GOFLAGS= \
		"$GO" build -buildmode=c-shared -trimpath -buildvcs=false \
		-ldflags='-s -w' -o "$dir/$out" "./$dir"
	echo "$dir/$out: $(wc -c <"$dir/$out") bytes"
}

if [ -d sdk/go/conformance ]; then
	build sdk/go/conformance conformance.wasm
fi
build examples/auth auth.wasm
build examples/validate validate.wasm
build examples/redact/go redact.wasm
