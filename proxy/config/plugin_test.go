package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/wasmgate/wasmgate/internal/wasmbin"
)

// writeTestPlugins writes, into dir, plugin modules built by wasmbin:
//
//	ok.wasm        the smallest module the host accepts (wasmbin.ABIv1)
//	hooks.wasm     ok.wasm with wasmgate_on_open and an import from WASI
//	v2.wasm        a module built for ABI version 2
//	noversion.wasm a module that declares no ABI version
//	badsig.wasm    ok.wasm with a wasmgate_on_open of the wrong signature
//	notwasm.wasm   a text file
func writeTestPlugins(t testing.TB, dir string) {
	t.Helper()
	i32 := []byte{wasmbin.I32}
	withOpen := func(params []byte) *wasmbin.Module {
		m := wasmbin.ABIv1()
		m.Funcs = append(m.Funcs, wasmbin.Func{
			Export: "wasmgate_on_open", Params: params, Results: i32, Body: wasmbin.I32Const(0),
		})
		return m
	}
	hooks := withOpen([]byte{wasmbin.I32, wasmbin.I32})
	hooks.Imports = []wasmbin.Import{{
		Module: "wasi_snapshot_preview1", Name: "proc_exit", Params: i32,
	}}
	v2 := wasmbin.ABIv1()
	v2.Funcs[0].Export = "wasmgate_abi_v2"
	noVersion := wasmbin.ABIv1()
	noVersion.Funcs = nil

	files := map[string][]byte{
		"ok.wasm":        wasmbin.ABIv1().Encode(),
		"hooks.wasm":     hooks.Encode(),
		"v2.wasm":        v2.Encode(),
		"noversion.wasm": noVersion.Encode(),
		"badsig.wasm":    withOpen(i32).Encode(),
		"notwasm.wasm":   []byte("(module)\n"),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOnError_String(t *testing.T) {
	for v, want := range map[OnError]string{OnErrorClose: "close", OnErrorPass: "pass", 7: "OnError(7)"} {
		if got := v.String(); got != want {
			t.Errorf("OnError(%d).String() = %q, want %q", int(v), got, want)
		}
	}
	var zero OnError
	if zero != OnErrorClose {
		t.Error("the zero OnError is not OnErrorClose, the default")
	}
}

func TestReload_String(t *testing.T) {
	for v, want := range map[Reload]string{ReloadRestart: "restart", ReloadLive: "live", 7: "Reload(7)"} {
		if got := v.String(); got != want {
			t.Errorf("Reload(%d).String() = %q, want %q", int(v), got, want)
		}
	}
	var zero Reload
	if zero != ReloadRestart {
		t.Error("the zero Reload is not ReloadRestart, the default")
	}
}

func TestSandbox_String(t *testing.T) {
	for v, want := range map[Sandbox]string{SandboxChecked: "checked", SandboxPlain: "plain", 7: "Sandbox(7)"} {
		if got := v.String(); got != want {
			t.Errorf("Sandbox(%d).String() = %q, want %q", int(v), got, want)
		}
	}
	var zero Sandbox
	if zero != SandboxChecked {
		t.Error("the zero Sandbox is not SandboxChecked, the default")
	}
}
