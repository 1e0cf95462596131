package config

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no source, however broken, makes Parse panic, and
// that whatever Parse accepts is fully resolved.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"example.hcl", "diagnostics/typos.hcl", "diagnostics/structure.hcl"} {
		src, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	f.Add([]byte(lines(okListener, okUpstream, okRoute)))
	// Relative paths resolve against an empty directory.
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := Parse(src, "fuzz.hcl", dir)
		if cfg == nil {
			t.Fatal("Parse returned a nil Config")
		}
		if err := cfg.WriteDiagnostics(io.Discard, diags); err != nil {
			t.Fatalf("WriteDiagnostics: %v", err)
		}
		for _, d := range diags {
			if d.Subject == nil {
				t.Errorf("diagnostic without a subject: %v", d)
			}
		}
		if diags.HasErrors() {
			if cfg.Listeners != nil || cfg.Upstreams != nil || cfg.Routes != nil {
				t.Fatal("a failed Parse returned more than Files")
			}
			return
		}
		if len(cfg.Listeners) == 0 || len(cfg.Routes) == 0 {
			t.Fatalf("accepted a config with %d listeners and %d routes", len(cfg.Listeners), len(cfg.Routes))
		}
		for _, u := range cfg.Upstreams {
			if len(u.Servers) == 0 {
				t.Fatalf("accepted upstream %q without servers", u.Name)
			}
		}
		for _, r := range cfg.Routes {
			if r.Listener == nil || r.Upstream == nil {
				t.Fatalf("route %q is not resolved", r.Name)
			}
			if (r.Path == "") == (r.ExactPath == "") {
				t.Fatalf("route %q: path %q, exact_path %q", r.Name, r.Path, r.ExactPath)
			}
			if l := r.Limits; l.MaxFrameSize <= 0 || l.MaxFrameSize > l.MaxMessageSize {
				t.Fatalf("route %q: frame size %d, message size %d", r.Name, l.MaxFrameSize, l.MaxMessageSize)
			}
		}
	})
}
