package plugins

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/sdk/abi"
)

// wasiModule is the import module name of WASI preview 1, the only module
// besides abi.ModuleName a plugin may import from.
const wasiModule = "wasi_snapshot_preview1"

// Errors a module can be refused with, for callers that branch on the
// kind; the returned error wraps one of them and says more.
var (
	// ErrNotWasm: the bytes are not a WebAssembly binary module.
	ErrNotWasm = errors.New("not a WebAssembly module")
	// ErrInvalidModule: a WebAssembly module that does not decode or
	// validate.
	ErrInvalidModule = errors.New("invalid WebAssembly module")
	// ErrABIVersion: the module declares no ABI version, several, or one
	// this host does not support.
	ErrABIVersion = errors.New("unsupported wasmgate ABI version")
	// ErrABIMismatch: an export or import does not match the ABI.
	ErrABIMismatch = errors.New("module does not match the wasmgate ABI")
)

// wasmMagic starts every WebAssembly binary module.
var wasmMagic = []byte("\x00asm")

// Hooks says which optional hooks a module exports.
type Hooks struct {
	Initialize, Start, Open, Messages, Close, Tick bool
}

// ModuleInfo is what Inspect learns of a plugin module.
type ModuleInfo struct {
	// Hooks are the hooks the module exports.
	Hooks Hooks
	// WASI is set when the module imports WASI preview 1.
	WASI bool
	// Sends is set when the module imports send: it may inject messages
	// at any time, from a timer or another connection's hook.
	Sends bool
}

// Inspect checks that wasm is a plugin this host can run, without running
// it: a valid WebAssembly module, declaring ABI version 1, exporting its
// memory, whose hook exports and wasmgate imports have the signatures of
// sdk/ABI.md, and which imports from nothing but wasmgate and WASI. name is
// the plugin's name, for the messages.
func Inspect(ctx context.Context, name string, wasm []byte) (*ModuleInfo, error) {
	if !bytes.HasPrefix(wasm, wasmMagic) {
		return nil, notWasm(name)
	}
	// The interpreter decodes and validates without generating machine
	// code, so validating a configuration stays cheap.
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w: %v", name, ErrInvalidModule, err)
	}
	defer cm.Close(ctx)
	return checkModule(name, cm)
}

// checkModule checks a compiled module against the ABI.
func checkModule(name string, cm wazero.CompiledModule) (*ModuleInfo, error) {
	exports := cm.ExportedFunctions()
	if err := checkVersion(name, exports); err != nil {
		return nil, err
	}
	if _, ok := cm.ExportedMemories()[abi.ExportMemory]; !ok {
		return nil, fmt.Errorf("plugin %s: %w: it exports no memory named %q", name, ErrABIMismatch, abi.ExportMemory)
	}
	for _, n := range slices.Sorted(maps.Keys(abi.ExportSignatures)) {
		def, ok := exports[n]
		if !ok {
			continue
		}
		want := abi.ExportSignatures[n]
		if !sameSignature(def, want) {
			return nil, fmt.Errorf("plugin %s: %w: export %s has signature %s, the ABI says %s",
				name, ErrABIMismatch, n, signatureOf(def.ParamTypes(), def.ResultTypes()), signatureOf(want.Params, want.Results))
		}
	}
	info := &ModuleInfo{}
	for _, def := range cm.ImportedFunctions() {
		module, field, _ := def.Import()
		switch module {
		case wasiModule:
			info.WASI = true
		case abi.ModuleName:
			if field == abi.ImportSend {
				info.Sends = true
			}
			want, ok := abi.ImportSignatures[field]
			if !ok {
				return nil, fmt.Errorf("plugin %s: %w: it imports %s.%s, which ABI version %d does not have",
					name, ErrABIMismatch, module, field, abi.Version)
			}
			if !sameSignature(def, want) {
				return nil, fmt.Errorf("plugin %s: %w: import %s.%s has signature %s, the ABI says %s",
					name, ErrABIMismatch, module, field, signatureOf(def.ParamTypes(), def.ResultTypes()), signatureOf(want.Params, want.Results))
			}
		default:
			return nil, fmt.Errorf("plugin %s: %w: it imports %s.%s; a plugin may import only from %q and %q",
				name, ErrABIMismatch, module, field, abi.ModuleName, wasiModule)
		}
	}
	for _, def := range cm.ImportedMemories() {
		module, field, _ := def.Import()
		return nil, fmt.Errorf("plugin %s: %w: it imports its memory (%s.%s); a plugin must define and export it",
			name, ErrABIMismatch, module, field)
	}
	_, info.Hooks.Initialize = exports[abi.ExportInitialize]
	_, info.Hooks.Start = exports[abi.ExportOnStart]
	_, info.Hooks.Open = exports[abi.ExportOnOpen]
	_, info.Hooks.Messages = exports[abi.ExportOnMessages]
	_, info.Hooks.Close = exports[abi.ExportOnClose]
	_, info.Hooks.Tick = exports[abi.ExportOnTick]
	return info, nil
}

// checkVersion applies the rules of ABI.md, section 3, "Version".
func checkVersion(name string, exports map[string]api.FunctionDefinition) error {
	var versions []string
	for n := range exports {
		if v, ok := strings.CutPrefix(n, abi.ExportVersionPrefix); ok {
			versions = append(versions, v)
		}
	}
	slices.Sort(versions)
	switch {
	case len(versions) == 0:
		return fmt.Errorf("plugin %s declares no wasmgate ABI version (export %s): %w", name, abi.ExportVersion, ErrABIVersion)
	case len(versions) > 1:
		return fmt.Errorf("plugin %s declares several wasmgate ABI versions (%s%s): %w",
			name, abi.ExportVersionPrefix, strings.Join(versions, ", "+abi.ExportVersionPrefix), ErrABIVersion)
	case versions[0] != strconv.Itoa(abi.Version):
		return fmt.Errorf("plugin %s is built for wasmgate ABI version %s; this wasmgate supports version %d: %w",
			name, versions[0], abi.Version, ErrABIVersion)
	}
	return nil
}

func sameSignature(def api.FunctionDefinition, want abi.Signature) bool {
	return slices.Equal(def.ParamTypes(), want.Params) && slices.Equal(def.ResultTypes(), want.Results)
}

// signatureOf renders a function type in WAT.
func signatureOf(params, results []api.ValueType) string {
	var b strings.Builder
	b.WriteString("(func")
	if len(params) > 0 {
		b.WriteString(" (param")
		for _, p := range params {
			b.WriteString(" " + api.ValueTypeName(p))
		}
		b.WriteString(")")
	}
	if len(results) > 0 {
		b.WriteString(" (result")
		for _, r := range results {
			b.WriteString(" " + api.ValueTypeName(r))
		}
		b.WriteString(")")
	}
	b.WriteString(")")
	return b.String()
}

func notWasm(name string) error {
	return fmt.Errorf("plugin %s: %w (it does not start with the Wasm magic bytes \\0asm)", name, ErrNotWasm)
}
