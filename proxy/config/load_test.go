package config

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/internal/wasmbin"
)

var update = flag.Bool("update", false, "rewrite the golden files of TestLoad_golden")

// TestLoad_golden renders the diagnostics of broken configurations and
// compares them with testdata/diagnostics/*.golden. Run
// `go test -run TestLoad_golden -update` to rewrite the golden files.
func TestLoad_golden(t *testing.T) {
	tests := []struct {
		name string
		path string // file or directory under testdata/diagnostics
		// plugins is set for a file that names the modules of
		// writeTestPlugins.
		plugins bool
	}{
		{name: "typos", path: "typos.hcl"},
		{name: "limits", path: "limits.hcl"},
		{name: "structure", path: "structure.hcl"},
		{name: "syntax", path: "syntax.hcl"},
		{name: "directory", path: "splitdir"},
		{name: "plugins", path: "plugins.hcl", plugins: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A slash path, so that the file names in the output are the
			// same on every OS.
			path := "testdata/diagnostics/" + tt.path
			golden, err := filepath.Abs(filepath.Join("testdata", "diagnostics", strings.TrimSuffix(tt.path, ".hcl")+".golden"))
			if err != nil {
				t.Fatal(err)
			}
			if tt.plugins {
				// The modules are built by the test, not committed: load a
				// copy of the file from a directory that holds them too, at
				// the same relative path, so that the output is the same.
				src, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				tmp := t.TempDir()
				dir := filepath.Join(tmp, "testdata", "diagnostics")
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, tt.path), src, 0o644); err != nil {
					t.Fatal(err)
				}
				writeTestPlugins(t, dir)
				t.Chdir(tmp)
			}
			cfg, diags := Load(path)
			if !diags.HasErrors() {
				t.Fatalf("Load(%s) succeeded; the golden configurations are broken on purpose", path)
			}
			var got bytes.Buffer
			if err := cfg.WriteDiagnostics(&got, diags); err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("diagnostics of %s differ from %s (run with -update to accept):\n--- got\n%s\n--- want\n%s",
					path, golden, got.Bytes(), want)
			}
		})
	}
}

func TestLoad_directory(t *testing.T) {
	cfg, diags := Load(filepath.Join("testdata", "confdir"))
	if len(diags) > 0 {
		var b strings.Builder
		_ = cfg.WriteDiagnostics(&b, diags)
		t.Fatalf("unexpected diagnostics:\n%s", b.String())
	}
	if n := len(cfg.Files); n != 3 {
		t.Errorf("loaded %d files, want 3 (README.md and .ignored.hcl skipped)", n)
	}
	var got []string
	for _, r := range cfg.Routes {
		got = append(got, r.Name+"@"+r.Listener.Name+"->"+r.Upstream.Name)
	}
	if want := "public@public->chat internal@internal->chat"; strings.Join(got, " ") != want {
		t.Errorf("routes = %q, want %q", got, want)
	}
	if got := cfg.Listeners[1].DeclRange.Filename; got != filepath.Join("testdata", "confdir", "10-listeners.hcl") {
		t.Errorf("listener declared in %q", got)
	}
	// The limits block of the last file applies to routes of that file and
	// of any other.
	if got := cfg.Routes[0].Limits; got.IdleTimeout != 10*time.Minute || got.MaxMessageSize != 1<<20 {
		t.Errorf("route public limits = %+v", got)
	}
	if got := cfg.Routes[1].Limits; got.IdleTimeout != 10*time.Minute || got.MaxMessageSize != 16<<20 {
		t.Errorf("route internal limits = %+v", got)
	}
}

func TestLoad_directoryDiagnosticFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Written in reverse order: loading order is lexical, not creation.
	write("b.hcl", lines(
		`route "r" {`,
		`  upstream = "u"`,
		`  path     = file("path.txt")`,
		`}`))
	write("a.hcl", lines(okListener, okUpstream))
	write("path.txt", "no-slash")
	if err := os.Mkdir(filepath.Join(dir, "sub.hcl"), 0o755); err != nil {
		t.Fatal(err)
	}

	cfg, diags := Load(dir)
	checkDiags(t, diags, []wantDiag{{summary: "Invalid path", at: "3:14", detail: []string{`path = "no-slash"`}}})
	if got, want := diags[0].Subject.Filename, filepath.Join(dir, "b.hcl"); got != want {
		t.Errorf("diagnostic in %s, want %s", got, want)
	}
	if len(cfg.Files) != 2 {
		t.Errorf("Files holds %d files, want 2", len(cfg.Files))
	}
}

func TestLoad_errors(t *testing.T) {
	empty := t.TempDir()
	tests := []struct {
		name    string
		path    string
		summary string
		detail  string
	}{
		{name: "missing path", path: filepath.Join(empty, "missing.hcl"), summary: "Cannot read configuration", detail: "no such file or directory"},
		{name: "directory without .hcl files", path: empty, summary: "No configuration files", detail: "holds no .hcl file"},
		{name: "not a regular file", path: os.DevNull, summary: "Cannot read configuration file", detail: "not a regular file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := Load(tt.path)
			if cfg == nil {
				t.Fatal("Load returned a nil Config")
			}
			if len(diags) != 1 || diags[0].Summary != tt.summary || !strings.Contains(diags[0].Detail, tt.detail) {
				t.Fatalf("diagnostics = %v, want one %q containing %q", diags, tt.summary, tt.detail)
			}
			var b strings.Builder
			if err := cfg.WriteDiagnostics(&b, diags); err != nil || !strings.Contains(b.String(), tt.summary) {
				t.Errorf("WriteDiagnostics = %q, %v", b.String(), err)
			}
		})
	}
}

// TestLoad_example loads the complete example of docs/configuration.md,
// next to a generated certificate, key and CA, and a plugin module.
func TestLoad_example(t *testing.T) {
	dir := writeTestPKI(t)
	if err := os.Mkdir(filepath.Join(dir, "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	auth := wasmbin.ABIv1()
	auth.Funcs = append(auth.Funcs, wasmbin.Func{
		Export: "wasmgate_on_open", Params: []byte{wasmbin.I32, wasmbin.I32}, Results: []byte{wasmbin.I32},
		Body: wasmbin.I32Const(0),
	})
	if err := os.WriteFile(filepath.Join(dir, "plugins", "auth.wasm"), auth.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AUTH_SECRET", "s3cret")
	src, err := os.ReadFile(filepath.Join("testdata", "example.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, append([]byte("```hcl\n"), src...)) {
		t.Error("docs/configuration.md does not show testdata/example.hcl as it is: copy it into the Complete example section")
	}
	path := filepath.Join(dir, "wasmgate.hcl")
	if err := os.WriteFile(path, src, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := Load(path)
	if len(diags) > 0 {
		var b strings.Builder
		_ = cfg.WriteDiagnostics(&b, diags)
		t.Fatalf("unexpected diagnostics:\n%s", b.String())
	}
	if len(cfg.Listeners) != 2 || len(cfg.Upstreams) != 2 || len(cfg.Routes) != 3 {
		t.Fatalf("got %d listeners, %d upstreams, %d routes", len(cfg.Listeners), len(cfg.Upstreams), len(cfg.Routes))
	}
	if cfg.Listeners[0].TLS == nil || cfg.Upstreams[0].TLS == nil || cfg.Upstreams[1].TLS != nil {
		t.Error("TLS configurations are not where the example puts them")
	}
	acme, feed := cfg.Routes[0].Limits, cfg.Routes[2].Limits
	if acme.MaxMessageSize != 1<<20 || acme.MaxFrameSize != 1<<20 || acme.IdleTimeout != 5*time.Minute {
		t.Errorf("route chat-acme limits = %+v", acme)
	}
	if feed.MaxMessageSize != 16<<20 || feed.MaxFrameSize != 1<<20 || feed.PingInterval != 0 {
		t.Errorf("route feed limits = %+v", feed)
	}
	if len(cfg.Plugins) != 1 {
		t.Fatalf("got %d plugins, want 1", len(cfg.Plugins))
	}
	p := cfg.Plugins[0]
	if f := cfg.Routes[0].Filters; len(f) != 1 || f[0] != p || cfg.Routes[1].Filters != nil {
		t.Errorf("filters = %v and %v, want the plugin on route chat-acme only", f, cfg.Routes[1].Filters)
	}
	if want := `{"issuer":"https://id.example.com","secret":"s3cret"}`; string(p.Config) != want {
		t.Errorf("plugin config = %s, want %s", p.Config, want)
	}
	if p.Instances != 4 || p.MemoryLimit != 16<<20 || p.Timeout != 10*time.Millisecond || !p.Info.Hooks.Open {
		t.Errorf("plugin = %+v", p)
	}
	if a := cfg.Admin; a == nil || a.Address != "127.0.0.1:9901" || a.Pprof {
		t.Errorf("Admin = %+v, want 127.0.0.1:9901 without pprof", a)
	}
}

func TestConfig_WriteDiagnostics(t *testing.T) {
	src := lines(okListener, `upstream "u" { servers = ["http://x"] }`, okRoute)
	cfg, diags := Parse([]byte(src), "test.hcl", "")
	var b strings.Builder
	if err := cfg.WriteDiagnostics(&b, diags); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"test.hcl:2:27: error: Invalid server URL\n",
		`  2 | upstream "u" { servers = ["http://x"] }` + "\n",
		"    |                           ^^^^^^^^^^\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("output does not contain %q:\n%s", want, b.String())
		}
	}

	// A nil Config writes the diagnostics without source.
	b.Reset()
	if err := (*Config)(nil).WriteDiagnostics(&b, diags); err != nil || !strings.Contains(b.String(), "Invalid server URL") {
		t.Errorf("nil Config: %q, %v", b.String(), err)
	}
}
