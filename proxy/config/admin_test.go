package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLoad_adminAcrossFiles checks the admin block against the other files
// of a configuration directory: at most one in all of them, and no overlap
// with a listener declared in any of them, before or after it.
func TestLoad_adminAcrossFiles(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		// want are the diagnostics; file names the file of each, in order.
		want []wantDiag
		file []string
	}{
		{
			name: "one admin block beside the listeners",
			files: map[string]string{
				"a.hcl": lines(okListener, okUpstream, okRoute),
				"b.hcl": lines(`admin { address = "127.0.0.1:9901" }`),
			},
		},
		{
			name: "two admin blocks in two files",
			files: map[string]string{
				"a.hcl": lines(okListener, okUpstream, okRoute, `admin { address = "127.0.0.1:9901" }`),
				"b.hcl": lines(`# more`, `admin { address = "127.0.0.1:9902" }`),
			},
			want: []wantDiag{{summary: "Duplicate admin block", at: "2:1",
				detail: []string{"Only one admin block is allowed in a configuration, across all its files; the first is at ", "a.hcl:4,1", "Merge their attributes"}}},
			file: []string{"b.hcl"},
		},
		{
			name: "admin address overlaps a listener of a later file",
			files: map[string]string{
				"a.hcl": lines(`admin { address = "127.0.0.1:9901" }`),
				"b.hcl": lines(`listener "public" { address = "0.0.0.0:9901" }`, okUpstream, okRoute),
			},
			want: []wantDiag{{summary: "Admin address already in use", at: "1:19",
				detail: []string{`overlaps the address "0.0.0.0:9901" of listener "public", declared at `, "b.hcl:1,1"}}},
			file: []string{"a.hcl"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, src := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg, diags := Load(dir)
			checkDiags(t, diags, tt.want)
			for i, name := range tt.file {
				if got, want := diags[i].Subject.Filename, filepath.Join(dir, name); got != want {
					t.Errorf("diagnostic %d in %s, want %s", i, got, want)
				}
			}
			if len(tt.want) == 0 {
				if cfg.Admin == nil || !strings.HasPrefix(cfg.Admin.Address, "127.0.0.1:") {
					t.Errorf("Admin = %+v", cfg.Admin)
				}
			} else if cfg.Admin != nil {
				t.Error("a failed Load returned an Admin")
			}
		})
	}
}
