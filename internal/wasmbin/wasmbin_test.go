package wasmbin

import (
	"bytes"
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

func TestLEB128(t *testing.T) {
	unsigned := []struct {
		v    uint32
		want []byte
	}{
		{0, []byte{0x00}},
		{1, []byte{0x01}},
		{127, []byte{0x7f}},
		{128, []byte{0x80, 0x01}},
		{624485, []byte{0xe5, 0x8e, 0x26}},
		{math.MaxUint32, []byte{0xff, 0xff, 0xff, 0xff, 0x0f}},
	}
	for _, tt := range unsigned {
		if got := appendU32(nil, tt.v); !bytes.Equal(got, tt.want) {
			t.Errorf("appendU32(%d) = % x, want % x", tt.v, got, tt.want)
		}
	}
	signed := []struct {
		v    int64
		want []byte
	}{
		{0, []byte{0x00}},
		{1, []byte{0x01}},
		{-1, []byte{0x7f}},
		{63, []byte{0x3f}},
		{64, []byte{0xc0, 0x00}},
		{-64, []byte{0x40}},
		{-65, []byte{0xbf, 0x7f}},
		{-123456, []byte{0xc0, 0xbb, 0x78}},
		{math.MaxInt32, []byte{0xff, 0xff, 0xff, 0xff, 0x07}},
		{math.MinInt32, []byte{0x80, 0x80, 0x80, 0x80, 0x78}},
		{math.MinInt64, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}},
	}
	for _, tt := range signed {
		if got := appendS64(nil, tt.v); !bytes.Equal(got, tt.want) {
			t.Errorf("appendS64(%d) = % x, want % x", tt.v, got, tt.want)
		}
	}
}

// compile compiles and instantiates m in a new wazero runtime, with a host
// module "env" exporting double(i32) -> i32 and add64(i64, i64) -> i64.
func compile(t *testing.T, m *Module) api.Module {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { rt.Close(ctx) })
	_, err := rt.NewHostModuleBuilder("env").
		NewFunctionBuilder().WithFunc(func(x int32) int32 { return 2 * x }).Export("double").
		NewFunctionBuilder().WithFunc(func(a, b int64) int64 { return a + b }).Export("add64").
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := rt.Instantiate(ctx, m.Encode())
	if err != nil {
		t.Fatalf("instantiate: %v\nmodule: % x", err, m.Encode())
	}
	return mod
}

func TestEncode_runs(t *testing.T) {
	max2 := uint32(2)
	tests := []struct {
		name    string
		module  *Module
		call    string
		args    []uint64
		want    []uint64
		wantErr string // a substring of the call's error
		check   func(t *testing.T, mod api.Module)
	}{
		{
			name:   "const",
			module: &Module{Funcs: []Func{{Export: "f", Results: []byte{I32}, Body: I32Const(42)}}},
			call:   "f",
			want:   []uint64{42},
		},
		{
			name:   "negative consts",
			module: &Module{Funcs: []Func{{Export: "f", Results: []byte{I32, I64}, Body: Concat(I32Const(math.MinInt32), I64Const(-1<<40))}}},
			call:   "f",
			want:   []uint64{api.EncodeI32(math.MinInt32), api.EncodeI64(-1 << 40)},
		},
		{
			name: "params and locals",
			module: &Module{Funcs: []Func{{
				Export: "f", Params: []byte{I32, I32}, Results: []byte{I32},
				Locals: []byte{I32, I32, I64, I32},
				Body: Concat(
					LocalGet(0), LocalGet(1), I32Add(), LocalSet(5),
					LocalGet(5), LocalTee(2), LocalGet(2), I32Sub(), Drop(),
					LocalGet(5),
				),
			}}},
			call: "f",
			args: []uint64{40, 2},
			want: []uint64{42},
		},
		{
			name: "loop sums 1 to n",
			module: &Module{Funcs: []Func{{
				Export: "sum", Params: []byte{I32}, Results: []byte{I32}, Locals: []byte{I32},
				Body: Concat(
					Block(),
					Loop(),
					LocalGet(0), I32Eqz(), BrIf(1),
					LocalGet(1), LocalGet(0), I32Add(), LocalSet(1),
					LocalGet(0), I32Const(1), I32Sub(), LocalSet(0),
					Br(0),
					End(),
					End(),
					LocalGet(1),
				),
			}}},
			call: "sum",
			args: []uint64{100},
			want: []uint64{5050},
		},
		{
			name: "if else return",
			module: &Module{Funcs: []Func{{
				Export: "is7", Params: []byte{I32}, Results: []byte{I32},
				Body: Concat(
					LocalGet(0), I32Const(7), I32Eq(),
					If(), I32Const(1), Return(), Else(), Nop(), End(),
					I32Const(0),
				),
			}}},
			call: "is7",
			args: []uint64{7},
			want: []uint64{1},
		},
		{
			name: "imports come first in the function index space",
			module: &Module{
				Imports: []Import{
					{Module: "env", Name: "add64", Params: []byte{I64, I64}, Results: []byte{I64}},
					{Module: "env", Name: "double", Params: []byte{I32}, Results: []byte{I32}},
				},
				Funcs: []Func{
					{Params: []byte{I32}, Results: []byte{I32}, Body: Concat(LocalGet(0), I32Const(1), I32Add())},
					{
						Export: "f", Params: []byte{I32}, Results: []byte{I32, I64},
						// inc(double(x)), add64(x, x) with x as i64 0x1_0000_0000.
						Body: Concat(LocalGet(0), Call(1), Call(2), I64Const(1<<32), I64Const(1<<32), Call(0)),
					},
				},
			},
			call: "f",
			args: []uint64{20},
			want: []uint64{41, 1 << 33},
		},
		{
			name: "unreachable traps",
			module: &Module{Funcs: []Func{{
				Export: "f",
				Body:   Unreachable(),
			}}},
			call:    "f",
			wantErr: "unreachable",
		},
		{
			name: "memory, data, load and store",
			module: &Module{
				Funcs: []Func{{
					Export: "f", Results: []byte{I32},
					Body: Concat(
						I32Const(256), I32Const(16), I32Load(0), I32Store(4),
						I32Const(8), I32Load(8),
					),
				}},
				Memory: &Memory{Min: 1, Export: "memory"},
				Data: []Data{
					{Offset: 16, Bytes: []byte{0x78, 0x56, 0x34, 0x12}},
					{Offset: 1000, Bytes: []byte("hello, guest")},
				},
			},
			call: "f",
			want: []uint64{0x12345678},
			check: func(t *testing.T, mod api.Module) {
				got, ok := mod.Memory().Read(1000, 12)
				if !ok || string(got) != "hello, guest" {
					t.Errorf("memory[1000:1012] = %q, %v", got, ok)
				}
				got, ok = mod.Memory().Read(260, 4)
				if !ok || !bytes.Equal(got, []byte{0x78, 0x56, 0x34, 0x12}) {
					t.Errorf("memory[260:264] = % x, %v", got, ok)
				}
				if _, ok := mod.ExportedFunctionDefinitions()["memory"]; ok {
					t.Error("memory exported as a function")
				}
			},
		},
		{
			name: "memory grows up to its maximum",
			module: &Module{
				Funcs: []Func{{
					Export: "grow", Results: []byte{I32, I32, I32},
					Body: Concat(I32Const(1), MemoryGrow(), I32Const(1), MemoryGrow(), MemorySize()),
				}},
				Memory: &Memory{Min: 1, Max: &max2},
			},
			call: "grow",
			want: []uint64{1, api.EncodeI32(-1), 2},
			check: func(t *testing.T, mod api.Module) {
				if n := len(mod.ExportedMemoryDefinitions()); n != 0 {
					t.Errorf("%d memories exported, want none", n)
				}
				if max, ok := mod.Memory().Definition().Max(); !ok || max != 2 {
					t.Errorf("memory max = %d, %v", max, ok)
				}
			},
		},
		{
			name: "function index beyond one LEB128 byte",
			module: func() *Module {
				m := &Module{}
				for i := range 200 {
					m.Funcs = append(m.Funcs, Func{Results: []byte{I32}, Body: I32Const(int32(i))})
				}
				m.Funcs = append(m.Funcs, Func{Export: "f", Results: []byte{I32}, Body: Call(150)})
				return m
			}(),
			call: "f",
			want: []uint64{150},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mod := compile(t, tt.module)
			fn := mod.ExportedFunction(tt.call)
			if fn == nil {
				t.Fatalf("no export %q", tt.call)
			}
			got, err := fn.Call(context.Background(), tt.args...)
			switch {
			case tt.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("call: %v, want an error containing %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatalf("call: %v", err)
			case !slices.Equal(got, tt.want):
				t.Errorf("results %v, want %v", got, tt.want)
			}
			if tt.check != nil {
				tt.check(t, mod)
			}
		})
	}
}

// sections returns the ids and contents of the sections of a binary.
func sections(t *testing.T, bin []byte) map[byte][]byte {
	t.Helper()
	if !bytes.HasPrefix(bin, []byte("\x00asm\x01\x00\x00\x00")) {
		t.Fatalf("no magic and version: % x", bin)
	}
	out := map[byte][]byte{}
	rest := bin[8:]
	for len(rest) > 0 {
		id := rest[0]
		n, size := readU32(t, rest[1:])
		start := 1 + size
		if start+int(n) > len(rest) {
			t.Fatalf("section %d overruns the binary", id)
		}
		out[id] = rest[start : start+int(n)]
		rest = rest[start+int(n):]
	}
	return out
}

func readU32(t *testing.T, b []byte) (uint32, int) {
	t.Helper()
	var v uint32
	for i := 0; i < 5 && i < len(b); i++ {
		v |= uint32(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	t.Fatalf("bad LEB128: % x", b)
	return 0, 0
}

func TestEncode_sections(t *testing.T) {
	sig := func(params, results []byte) Func { return Func{Params: params, Results: results, Body: Unreachable()} }
	tests := []struct {
		name      string
		module    *Module
		wantIDs   []byte
		wantTypes uint32
	}{
		{name: "empty module", module: &Module{}, wantIDs: nil},
		{
			name:      "identical types are shared",
			module:    &Module{Funcs: []Func{sig(nil, nil), sig([]byte{I32}, nil), sig(nil, nil), sig([]byte{I32}, nil)}},
			wantIDs:   []byte{sectionType, sectionFunction, sectionCode},
			wantTypes: 2,
		},
		{
			name: "imports and functions share types",
			module: &Module{
				Imports: []Import{{Module: "m", Name: "a", Params: []byte{I32}, Results: []byte{I32}}},
				Funcs:   []Func{sig([]byte{I32}, []byte{I32}), sig([]byte{I32}, []byte{I64})},
			},
			wantIDs:   []byte{sectionType, sectionImport, sectionFunction, sectionCode},
			wantTypes: 2,
		},
		{
			name:      "every section",
			module:    &Module{Imports: []Import{{Module: "m", Name: "a"}}, Funcs: []Func{{Export: "f"}}, Memory: &Memory{Min: 0}, Data: []Data{{Bytes: nil}}},
			wantIDs:   []byte{sectionType, sectionImport, sectionFunction, sectionMemory, sectionExport, sectionCode, sectionData},
			wantTypes: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := tt.module.Encode()
			secs := sections(t, bin)
			// Sections come in the order of the specification, which is
			// the order of their ids here.
			var ids []byte
			rest := bin[8:]
			for len(rest) > 0 {
				ids = append(ids, rest[0])
				n, size := readU32(t, rest[1:])
				rest = rest[1+size+int(n):]
			}
			if !bytes.Equal(ids, tt.wantIDs) {
				t.Errorf("section ids %v, want %v", ids, tt.wantIDs)
			}
			if tt.wantTypes > 0 {
				if n, _ := readU32(t, secs[sectionType]); n != tt.wantTypes {
					t.Errorf("%d types, want %d", n, tt.wantTypes)
				}
			}
			ctx := context.Background()
			rt := wazero.NewRuntime(ctx)
			defer rt.Close(ctx)
			if _, err := rt.CompileModule(ctx, bin); err != nil {
				t.Errorf("compile: %v\nmodule: % x", err, bin)
			}
		})
	}
}

func TestEncode_invalidBodyIsRefused(t *testing.T) {
	// Encode does not validate: a body that does not type-check encodes,
	// and the runtime refuses it.
	m := &Module{Funcs: []Func{{Export: "f", Results: []byte{I32}, Body: Nop()}}}
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	if _, err := rt.CompileModule(ctx, m.Encode()); err == nil {
		t.Fatal("a function that returns nothing instead of an i32 compiled")
	}
}

func TestInstructionsAreFresh(t *testing.T) {
	// Appending to one instruction must not change the next call's.
	a := Drop()
	_ = append(a[:0], 0xff)
	if got := Drop(); !bytes.Equal(got, []byte{opDrop}) {
		t.Errorf("Drop() = % x after a caller changed an earlier result", got)
	}
}
