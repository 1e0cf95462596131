//go:build wasip1

package wasmgate

// The guest's exports (ABI.md, section 3). The directives need literal
// names; TestWasmExports checks each against the constants of package abi,
// and each Go signature against abi.ExportSignatures. Go's c-shared build
// adds memory and _initialize, which runs the init functions, and so
// Register.

//go:wasmexport wasmgate_abi_v1
func exportABIVersion() {}

//go:wasmexport wasmgate_on_start
func exportOnStart() int32 { return onStart() }

//go:wasmexport wasmgate_on_open
func exportOnOpen(ctx, flags uint32) int32 { return onOpen(ctx, flags) }

//go:wasmexport wasmgate_on_messages
func exportOnMessages(ctx, flags, count uint32) int32 { return onMessages(ctx, flags, count) }

//go:wasmexport wasmgate_on_close
func exportOnClose(ctx, flags, code uint32) { onClose(ctx, flags, code) }

//go:wasmexport wasmgate_on_tick
func exportOnTick(ctx uint32) { onTick(ctx) }
