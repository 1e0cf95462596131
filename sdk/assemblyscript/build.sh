#!/usr/bin/env bash
# Builds the AssemblyScript SDK's conformance guest and every example
# written with it, each .wasm next to its source:
#
#   sdk/assemblyscript/conformance/conformance.wasm
#   examples/redact/assemblyscript/redact.wasm
#   examples/metrics/metrics.wasm
#
# It installs the SDK's one dependency, the AssemblyScript compiler pinned
# in package-lock.json, with `npm ci` when node_modules is missing or older
# than the lock file. Each build directory gets node_modules/wasmgate-sdk,
# a symbolic link to the SDK, which is what `npm install <path to the SDK>`
# makes in a plugin of one's own: the sources import "wasmgate-sdk" and
# their asconfig.json extends the SDK's, as a user's do. The builds are
# deterministic: the same sources give the same bytes.
#
# NPM overrides the npm command.
set -euo pipefail

sdk=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$sdk/../.." && pwd)
npm=${NPM:-npm}

if [[ ! -d $sdk/node_modules/assemblyscript || $sdk/package-lock.json -nt $sdk/node_modules/.package-lock.json ]]; then
	(cd "$sdk" && "$npm" ci --no-audit --no-fund)
fi
asc=$sdk/node_modules/.bin/asc

# build DIR SOURCE OUTPUT compiles DIR/SOURCE to DIR/OUTPUT.
build() {
	local dir=$1 src=$2 out=$3
	mkdir -p "$dir/node_modules"
	ln -sfn "$sdk" "$dir/node_modules/wasmgate-sdk"
	(cd "$dir" && "$asc" "$src" -o "$out")
	echo "built ${dir#"$root"/}/$out ($(wc -c <"$dir/$out") bytes)"
}

build "$sdk/conformance" conformance.ts conformance.wasm
build "$root/examples/redact/assemblyscript" redact.ts redact.wasm
build "$root/examples/metrics" metrics.ts metrics.wasm
