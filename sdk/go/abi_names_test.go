package wasmgate

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/sdk/abi"
)

// The //go:wasmimport and //go:wasmexport directives need literal names,
// and the Go signatures beside them decide the Wasm ones. These tests
// parse the package's wasip1 files and hold both to package abi.

// directive is one function declared with a wasm directive.
type directive struct {
	args []string // the directive's arguments
	sig  abi.Signature
	pos  string
}

// wasmValueTypes returns the Wasm value types a Go parameter or result
// type lowers to, after the table of cmd/compile's documentation.
func wasmValueTypes(t *testing.T, expr ast.Expr) []abi.ValueType {
	switch e := expr.(type) {
	case *ast.Ident:
		switch e.Name {
		case "bool", "int32", "uint32":
			return []abi.ValueType{abi.I32}
		case "int64", "uint64":
			return []abi.ValueType{abi.I64}
		case "string":
			return []abi.ValueType{abi.I32, abi.I32}
		}
	case *ast.SelectorExpr:
		if x, ok := e.X.(*ast.Ident); ok && x.Name == "unsafe" && e.Sel.Name == "Pointer" {
			return []abi.ValueType{abi.I32}
		}
	case *ast.StarExpr:
		return []abi.ValueType{abi.I32}
	}
	t.Fatalf("type %T %v has no Wasm lowering this test knows", expr, expr)
	return nil
}

func fieldTypes(t *testing.T, fl *ast.FieldList) []abi.ValueType {
	var out []abi.ValueType
	if fl == nil {
		return out
	}
	for _, f := range fl.List {
		n := max(len(f.Names), 1)
		for range n {
			out = append(out, wasmValueTypes(t, f.Type)...)
		}
	}
	return out
}

// directives returns the functions of the package's wasip1 files carrying
// the directive //go:<name>.
func directives(t *testing.T, name string) []directive {
	t.Helper()
	files, err := filepath.Glob("*_wasip1.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no wasip1 files: %v", err)
	}
	fset := token.NewFileSet()
	var out []directive
	for _, file := range files {
		f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Doc == nil {
				continue
			}
			for _, c := range fd.Doc.List {
				args, ok := strings.CutPrefix(c.Text, "//go:"+name+" ")
				if !ok {
					continue
				}
				out = append(out, directive{
					args: strings.Fields(args),
					sig:  abi.Signature{Params: fieldTypes(t, fd.Type.Params), Results: fieldTypes(t, fd.Type.Results)},
					pos:  fset.Position(fd.Pos()).String(),
				})
			}
		}
		// A directive that is not in a function's doc comment would be
		// missed above: count them all.
		n := 0
		for _, cg := range f.Comments {
			for _, c := range cg.List {
				if strings.HasPrefix(c.Text, "//go:"+name+" ") {
					n++
				}
			}
		}
		m := 0
		for _, d := range out {
			if strings.HasPrefix(d.pos, file+":") {
				m++
			}
		}
		if n != m {
			t.Fatalf("%s: %d //go:%s directives, %d on functions", file, n, name, m)
		}
	}
	return out
}

func sameSignature(a, b abi.Signature) bool {
	return slices.Equal(a.Params, b.Params) && slices.Equal(a.Results, b.Results)
}

func TestWasmImports(t *testing.T) {
	seen := map[string]bool{}
	for _, d := range directives(t, "wasmimport") {
		if len(d.args) != 2 {
			t.Errorf("%s: //go:wasmimport %v: want a module and a name", d.pos, d.args)
			continue
		}
		module, name := d.args[0], d.args[1]
		if module != abi.ModuleName {
			t.Errorf("%s: imports from module %q, want %q", d.pos, module, abi.ModuleName)
		}
		want, ok := abi.ImportSignatures[name]
		if !ok {
			t.Errorf("%s: imports %q, which the ABI does not define", d.pos, name)
			continue
		}
		if seen[name] {
			t.Errorf("%s: imports %q twice", d.pos, name)
		}
		seen[name] = true
		if !sameSignature(d.sig, want) {
			t.Errorf("%s: %s has the Wasm signature %v, the ABI says %v", d.pos, name, d.sig, want)
		}
	}
	for name := range abi.ImportSignatures {
		if !seen[name] {
			t.Errorf("host function %s is not imported", name)
		}
	}
}

func TestWasmExports(t *testing.T) {
	want := []string{
		abi.ExportVersion, abi.ExportOnStart, abi.ExportOnOpen,
		abi.ExportOnMessages, abi.ExportOnClose, abi.ExportOnTick,
	}
	var got []string
	for _, d := range directives(t, "wasmexport") {
		if len(d.args) != 1 {
			t.Errorf("%s: //go:wasmexport %v: want one name", d.pos, d.args)
			continue
		}
		name := d.args[0]
		got = append(got, name)
		sig, ok := abi.ExportSignatures[name]
		if !ok {
			t.Errorf("%s: exports %q, which the ABI does not define", d.pos, name)
			continue
		}
		if !sameSignature(d.sig, sig) {
			t.Errorf("%s: %s has the Wasm signature %v, the ABI says %v", d.pos, name, d.sig, sig)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the SDK exports %v, want exactly %v", got, want)
	}
	if !strings.HasPrefix(abi.ExportVersion, abi.ExportVersionPrefix) {
		t.Errorf("%s does not start with %s", abi.ExportVersion, abi.ExportVersionPrefix)
	}
}
