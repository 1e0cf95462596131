#!/usr/bin/env bash
# Runs the AssemblyScript SDK's own tests: test/filter.ts, built with the
# SDK, driven by test/run.mjs, which plays the host. The host-side test
# of the SDK is the conformance scenario:
#   go test ./plugins -run 'TestSDKConformance/assemblyscript'
#
# NPM and NODE override the npm and node commands.
set -euo pipefail

sdk=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
npm=${NPM:-npm}
node=${NODE:-node}

if [[ ! -d $sdk/node_modules/assemblyscript || $sdk/package-lock.json -nt $sdk/node_modules/.package-lock.json ]]; then
	(cd "$sdk" && "$npm" ci --no-audit --no-fund)
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mkdir -p "$sdk/test/node_modules"
ln -sfn "$sdk" "$sdk/test/node_modules/wasmgate-sdk"
(cd "$sdk/test" && "$sdk/node_modules/.bin/asc" filter.ts -o "$out/filter.wasm")
"$node" "$sdk/test/run.mjs" "$out/filter.wasm"
