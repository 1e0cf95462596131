package wasmbin_test

import (
	"context"
	"errors"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/wasmgate/wasmgate/internal/wasmbin"
	"github.com/wasmgate/wasmgate/plugins"
)

func TestABIv1(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, wasmbin.ABIv1().Encode())
	if err != nil {
		t.Fatal(err)
	}
	if mem, ok := cm.ExportedMemories()["memory"]; !ok || mem.Min() != 1 {
		t.Errorf("exported memories = %v, want one of 1 page named memory", cm.ExportedMemories())
	}
	fn, ok := cm.ExportedFunctions()["wasmgate_abi_v1"]
	if !ok || len(fn.ParamTypes()) != 0 || len(fn.ResultTypes()) != 0 {
		t.Errorf("wasmgate_abi_v1 = %v, want an exported func of no params and no results", fn)
	}
	if n := len(cm.ImportedFunctions()); n != 0 {
		t.Errorf("%d imports, want none", n)
	}
}

// TestABIv1_inspect checks the fixtures that loading tests build with
// wasmbin against the host's own checks.
func TestABIv1_inspect(t *testing.T) {
	withHook := func(name string, params, results []byte, body []byte) *wasmbin.Module {
		m := wasmbin.ABIv1()
		m.Funcs = append(m.Funcs, wasmbin.Func{Export: name, Params: params, Results: results, Body: body})
		return m
	}
	i32 := []byte{wasmbin.I32}
	tests := []struct {
		name    string
		module  *wasmbin.Module
		wantErr error
	}{
		{name: "ABIv1", module: wasmbin.ABIv1()},
		{name: "with on_open", module: withHook("wasmgate_on_open", []byte{wasmbin.I32, wasmbin.I32}, i32, wasmbin.I32Const(0))},
		{
			name: "with a host import",
			module: func() *wasmbin.Module {
				m := withHook("wasmgate_on_start", nil, i32, wasmbin.Concat(
					wasmbin.I32Const(1024), wasmbin.I32Const(64), wasmbin.Call(0), wasmbin.Drop(), wasmbin.I32Const(0)))
				m.Imports = []wasmbin.Import{{Module: "wasmgate", Name: "config_get", Params: []byte{wasmbin.I32, wasmbin.I32}, Results: i32}}
				return m
			}(),
		},
		{name: "ABI version 2", module: withHook("wasmgate_abi_v2", nil, nil, nil), wantErr: plugins.ErrABIVersion},
		{name: "bad hook signature", module: withHook("wasmgate_on_open", i32, i32, wasmbin.I32Const(0)), wantErr: plugins.ErrABIMismatch},
		{name: "no memory export", module: &wasmbin.Module{Funcs: []wasmbin.Func{{Export: "wasmgate_abi_v1"}}, Memory: &wasmbin.Memory{Min: 1}}, wantErr: plugins.ErrABIMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := plugins.Inspect(context.Background(), "p", tt.module.Encode())
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Inspect: %v, want %v", err, tt.wantErr)
			}
		})
	}
}
