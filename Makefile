# Rebuilds the committed WebAssembly (every SDK's conformance guest and
# every example plugin) and runs the SDKs' own tests. `go test ./...` needs
# none of this: it runs the committed .wasm files. See docs/plugins.md.

SDKS := go rust c assemblyscript

.PHONY: all wasm check-wasm sdk-test test soak $(addprefix wasm-,$(SDKS))

all: wasm

# wasm rebuilds every .wasm from source, one SDK's toolchain at a time.
wasm: $(addprefix wasm-,$(SDKS))

$(addprefix wasm-,$(SDKS)): wasm-%:
	./sdk/$*/build.sh

# check-wasm rebuilds everything and fails when a committed .wasm was
# stale, or a built one is not committed.
check-wasm: wasm
	@changed=$$(git status --porcelain --untracked-files=all -- '*.wasm'); \
	if [ -n "$$changed" ]; then \
		echo "these .wasm files differ from their sources once rebuilt; run make wasm and commit them:"; \
		echo "$$changed"; exit 1; \
	fi
	@echo "every committed .wasm matches its source"

# sdk-test runs each SDK's unit tests in its own language.
sdk-test:
	./sdk/rust/test.sh
	./sdk/c/test.sh
	@if [ -x ./sdk/assemblyscript/test.sh ]; then ./sdk/assemblyscript/test.sh; fi

test:
	go test ./...

# soak runs the opt-in soak test of the proxy (docs/soak.md): thousands of
# connections, random messages and closes, a misbehaving plugin.
# make soak SOAK=10m SOAK_CONNS=3000 changes its length and width; a run
# longer than SOAK_TIMEOUT needs a larger one.
SOAK ?= 3m
SOAK_CONNS ?= 2000
SOAK_TIMEOUT ?= 60m
soak:
	WASMGATE_SOAK=$(SOAK) WASMGATE_SOAK_CONNS=$(SOAK_CONNS) go test -count=1 -run '^TestSoak$$' -timeout $(SOAK_TIMEOUT) -v ./proxy
