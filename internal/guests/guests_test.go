package guests

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestSourceHashFollowsTheSources(t *testing.T) {
	root := t.TempDir()
	for name, body := range map[string]string{"go.mod": "module x\n", "go.sum": "", "p/a.go": "package p\n"} {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	first, err := sourceHash(root, "p")
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := sourceHash(root, "p"); again != first {
		t.Errorf("the hash of unchanged sources changed: %s, %s", first, again)
	}
	if err := os.WriteFile(filepath.Join(root, "p/a.go"), []byte("package p // changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if changed, _ := sourceHash(root, "p"); changed == first {
		t.Error("the hash did not change with a source file")
	}
}

func TestBuild(t *testing.T) {
	wasm := Build(t, "plugins/testdata/guest")
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		t.Fatalf("Build returned %d bytes that are not a Wasm module", len(wasm))
	}
	if again := Build(t, "plugins/testdata/guest"); &again[0] != &wasm[0] {
		t.Error("a second Build in the same process built again")
	}
}
