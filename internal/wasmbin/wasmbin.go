// Package wasmbin encodes small WebAssembly modules for tests: fixtures for
// plugin loading, such as modules built for wrong ABI versions, exports with
// bad signatures, or guests without WASI, without a compiler toolchain.
//
// A Module lists function imports, defined functions, at most one memory
// and active data segments; Encode turns it into a WebAssembly 1.0 binary.
// Function bodies are raw instructions, written with the helpers of this
// package and joined with Concat:
//
//	m := wasmbin.ABIv1()
//	m.Funcs = append(m.Funcs, wasmbin.Func{
//		Export:  "wasmgate_on_start",
//		Results: []byte{wasmbin.I32},
//		Body:    wasmbin.I32Const(0),
//	})
//	wasm := m.Encode()
//
// Encode does not validate: a module with a body that does not type-check,
// or with two exports of one name, encodes as written, and the runtime that
// compiles it refuses it. That is how tests build invalid modules.
package wasmbin

// Value types, in the binary encoding (the same bytes as
// github.com/wasmgate/wasmgate/sdk/abi's I32 and I64, and wazero's
// api.ValueType).
const (
	I32 byte = 0x7f
	I64 byte = 0x7e
)

// PageSize is the size of a WebAssembly memory page, the unit of
// Memory.Min and Memory.Max.
const PageSize = 65536

// Module is a WebAssembly module to encode.
type Module struct {
	// Imports are function imports. They take the function indices 0 to
	// len(Imports)-1, in order.
	Imports []Import

	// Funcs are the functions the module defines. Their indices follow the
	// imports': Funcs[i] is function len(Imports)+i.
	Funcs []Func

	// Memory is the module's memory, or nil for none. Its index is 0.
	Memory *Memory

	// Data are active data segments, copied into memory 0 when the module
	// is instantiated.
	Data []Data
}

// Import is a function import.
type Import struct {
	// Module and Name are the two-level name of the import, as in
	// (import "wasmgate" "log" ...).
	Module, Name string

	// Params and Results are the function's type, as value types (I32,
	// I64, ...).
	Params, Results []byte
}

// Func is a function the module defines.
type Func struct {
	// Export is the name the function is exported under; "" for a function
	// that is not exported.
	Export string

	// Params and Results are the function's type, as value types. Params
	// are locals 0 to len(Params)-1.
	Params, Results []byte

	// Locals are the types of the function's locals besides its
	// parameters; they follow the parameters in the local index space.
	Locals []byte

	// Body is the function's instructions, without the final end (0x0b),
	// which Encode appends. An empty body is valid for a function without
	// results.
	Body []byte
}

// Memory is a module's memory.
type Memory struct {
	// Min is the initial size in pages of 64 KiB.
	Min uint32

	// Max is the largest size in pages, or nil for no maximum.
	Max *uint32

	// Export is the name the memory is exported under; "" for a memory
	// that is not exported.
	Export string
}

// Data is an active data segment of memory 0.
type Data struct {
	// Offset is where the bytes go in memory.
	Offset uint32

	// Bytes are the segment's contents.
	Bytes []byte
}

// Section ids of the binary format.
const (
	sectionType     = 1
	sectionImport   = 2
	sectionFunction = 3
	sectionMemory   = 5
	sectionExport   = 7
	sectionCode     = 10
	sectionData     = 11
)

// External kinds of imports and exports.
const (
	externFunc   = 0x00
	externMemory = 0x02
)

// Encode returns the module in the WebAssembly binary format: the magic
// and version, then the type, import, function, memory, export, code and
// data sections, each only when it has entries. Identical function types
// share one entry of the type section. Every integer is LEB128-encoded.
func (m *Module) Encode() []byte {
	out := []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

	// Types, in order of first use: the imports', then the functions'.
	var types [][]byte
	typeIndex := func(params, results []byte) uint32 {
		t := funcType(params, results)
		for i, u := range types {
			if string(u) == string(t) {
				return uint32(i)
			}
		}
		types = append(types, t)
		return uint32(len(types) - 1)
	}
	importTypes := make([]uint32, len(m.Imports))
	for i, imp := range m.Imports {
		importTypes[i] = typeIndex(imp.Params, imp.Results)
	}
	funcTypes := make([]uint32, len(m.Funcs))
	for i, f := range m.Funcs {
		funcTypes[i] = typeIndex(f.Params, f.Results)
	}

	out = appendSection(out, sectionType, types)

	var imports [][]byte
	for i, imp := range m.Imports {
		e := appendName(nil, imp.Module)
		e = appendName(e, imp.Name)
		e = append(e, externFunc)
		e = appendU32(e, importTypes[i])
		imports = append(imports, e)
	}
	out = appendSection(out, sectionImport, imports)

	var funcs [][]byte
	for _, t := range funcTypes {
		funcs = append(funcs, appendU32(nil, t))
	}
	out = appendSection(out, sectionFunction, funcs)

	if m.Memory != nil {
		out = appendSection(out, sectionMemory, [][]byte{appendLimits(nil, m.Memory.Min, m.Memory.Max)})
	}

	var exports [][]byte
	for i, f := range m.Funcs {
		if f.Export == "" {
			continue
		}
		e := appendName(nil, f.Export)
		e = append(e, externFunc)
		e = appendU32(e, uint32(len(m.Imports)+i))
		exports = append(exports, e)
	}
	if m.Memory != nil && m.Memory.Export != "" {
		e := appendName(nil, m.Memory.Export)
		e = append(e, externMemory)
		e = appendU32(e, 0)
		exports = append(exports, e)
	}
	out = appendSection(out, sectionExport, exports)

	var code [][]byte
	for _, f := range m.Funcs {
		body := appendLocals(nil, f.Locals)
		body = append(body, f.Body...)
		body = append(body, opEnd)
		code = append(code, appendBytes(nil, body))
	}
	out = appendSection(out, sectionCode, code)

	var data [][]byte
	for _, d := range m.Data {
		e := appendU32(nil, 0) // active, memory 0
		e = append(e, I32Const(int32(d.Offset))...)
		e = append(e, opEnd)
		e = appendBytes(e, d.Bytes)
		data = append(data, e)
	}
	out = appendSection(out, sectionData, data)
	return out
}

// ABIv1 returns the smallest module a wasmgate host accepts as a plugin of
// ABI version 1: one page of memory exported as "memory", and an empty
// function exported as "wasmgate_abi_v1". Tests add hooks and imports to
// it, or change it to break one rule.
func ABIv1() *Module {
	return &Module{
		Funcs:  []Func{{Export: "wasmgate_abi_v1"}},
		Memory: &Memory{Min: 1, Export: "memory"},
	}
}

// funcType encodes a function type.
func funcType(params, results []byte) []byte {
	t := []byte{0x60}
	t = appendBytes(t, params)
	return appendBytes(t, results)
}

// appendSection appends a section holding a vector of entries; nothing
// when there is none.
func appendSection(out []byte, id byte, entries [][]byte) []byte {
	if len(entries) == 0 {
		return out
	}
	content := appendU32(nil, uint32(len(entries)))
	for _, e := range entries {
		content = append(content, e...)
	}
	out = append(out, id)
	return appendBytes(out, content)
}

// appendLocals appends the local declarations of a function body: runs of
// one type are declared together.
func appendLocals(out, locals []byte) []byte {
	type run struct {
		n uint32
		t byte
	}
	var runs []run
	for _, t := range locals {
		if len(runs) > 0 && runs[len(runs)-1].t == t {
			runs[len(runs)-1].n++
			continue
		}
		runs = append(runs, run{1, t})
	}
	out = appendU32(out, uint32(len(runs)))
	for _, r := range runs {
		out = appendU32(out, r.n)
		out = append(out, r.t)
	}
	return out
}

// appendLimits appends the limits of a memory.
func appendLimits(out []byte, lo uint32, hi *uint32) []byte {
	if hi == nil {
		out = append(out, 0x00)
		return appendU32(out, lo)
	}
	out = append(out, 0x01)
	out = appendU32(out, lo)
	return appendU32(out, *hi)
}

// appendName appends a name: its length, then its UTF-8 bytes.
func appendName(out []byte, s string) []byte {
	out = appendU32(out, uint32(len(s)))
	return append(out, s...)
}

// appendBytes appends a byte vector: its length, then the bytes.
func appendBytes(out, b []byte) []byte {
	out = appendU32(out, uint32(len(b)))
	return append(out, b...)
}

// appendU32 appends v in unsigned LEB128.
func appendU32(out []byte, v uint32) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}

// appendS64 appends v in signed LEB128 (also used for 32-bit values).
func appendS64(out []byte, v int64) []byte {
	for {
		b := byte(v & 0x7f)
		v >>= 7 // arithmetic shift: keeps the sign
		if v == 0 && b&0x40 == 0 || v == -1 && b&0x40 != 0 {
			return append(out, b)
		}
		out = append(out, b|0x80)
	}
}
