package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/validate")

func TestValidate(t *testing.T) {
	tests := []struct {
		name       string
		path       string // under testdata/validate
		wantCode   int
		wantStdout string
		// golden, when set, names the file under testdata/validate that
		// holds the expected stderr; else stderr must hold wantStderr.
		golden     string
		wantStderr string
	}{
		{name: "good", path: "good.hcl", wantStdout: "testdata/validate/good.hcl: ok\n"},
		{name: "warning only", path: "warning.hcl", wantStdout: "testdata/validate/warning.hcl: ok (1 warning)\n", golden: "warning.golden"},
		{name: "typos", path: "typos.hcl", wantCode: 1, golden: "typos.golden"},
		{name: "bad values", path: "values.hcl", wantCode: 1, golden: "values.golden"},
		{name: "syntax error", path: "syntax.hcl", wantCode: 1, golden: "syntax.golden"},
		{name: "directory", path: "split", wantCode: 1, golden: "split.golden"},
		// The detail holds the OS's error text: no golden file.
		{name: "missing file", path: "missing.hcl", wantCode: 1, wantStderr: "testdata/validate/missing.hcl: error: Cannot read configuration\n"},
	}
	// Each diagnostic that points at source starts with file:line:col.
	located := regexp.MustCompile(`(?m)^testdata/validate/[\w/.-]+\.hcl:\d+:\d+: (error|warning): `)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := "testdata/validate/" + tt.path
			code, stdout, stderr := runCmd(t, "", "validate", path)
			if code != tt.wantCode {
				t.Errorf("exit status %d, want %d", code, tt.wantCode)
			}
			if stdout != tt.wantStdout {
				t.Errorf("stdout %q, want %q", stdout, tt.wantStdout)
			}
			if tt.golden == "" {
				if !strings.Contains(stderr, tt.wantStderr) {
					t.Errorf("stderr does not contain %q:\n%s", tt.wantStderr, stderr)
				}
				return
			}
			if !located.MatchString(stderr) {
				t.Errorf("no file:line:col diagnostic in:\n%s", stderr)
			}
			golden := filepath.Join("testdata", "validate", tt.golden)
			if *update {
				if err := os.WriteFile(golden, []byte(stderr), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if stderr != string(want) {
				t.Errorf("stderr differs from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", golden, stderr, want)
			}
		})
	}
}

// TestValidate_Examples keeps every example configuration valid.
func TestValidate_Examples(t *testing.T) {
	paths, err := filepath.Glob("../../examples/*/*.hcl")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no example configurations found (%v)", err)
	}
	// The variables the examples read with env(), as their READMEs say to
	// set them.
	t.Setenv("AUTH_SECRET", "a secret for validating the example")
	for _, path := range paths {
		t.Run(path, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, "", "validate", path)
			if code != 0 || stdout != path+": ok\n" {
				t.Fatalf("validate %s: exit %d, stdout %q, stderr:\n%s", path, code, stdout, stderr)
			}
		})
	}
}
