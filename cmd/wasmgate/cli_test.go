package main

import (
	"runtime"
	"strings"
	"testing"
)

func TestRun_help(t *testing.T) {
	tests := []struct {
		name  string
		flags []string // every flag the usage must mention
	}{
		{"run", []string{"-config", "-listen", "-drain-timeout", "-log-level", "-log-format"}},
		{"validate", nil},
		{"echo", []string{"-addr", "-subprotocols", "-log-level", "-log-format"}},
		{"client", []string{"-H", "-subprotocol", "-origin", "-insecure", "-timeout"}},
		{"version", nil},
	}
	for _, tt := range tests {
		for _, help := range []string{"-h", "-help", "--help"} {
			t.Run(tt.name+" "+help, func(t *testing.T) {
				code, stdout, stderr := runCmd(t, "", tt.name, help)
				if code != 0 {
					t.Errorf("exit status %d, want 0; stderr:\n%s", code, stderr)
				}
				if want := "Usage: wasmgate " + tt.name; !strings.HasPrefix(stdout, want) {
					t.Errorf("usage does not start with %q:\n%s", want, stdout)
				}
				for _, f := range tt.flags {
					if !strings.Contains(stdout, "\n  "+f+" ") && !strings.Contains(stdout, "\n  "+f+"\n") {
						t.Errorf("usage does not list %s:\n%s", f, stdout)
					}
				}
			})
		}
		t.Run("help "+tt.name, func(t *testing.T) {
			code, stdout, _ := runCmd(t, "", "help", tt.name)
			if code != 0 || !strings.HasPrefix(stdout, "Usage: wasmgate "+tt.name) {
				t.Errorf("exit status %d, output:\n%s", code, stdout)
			}
		})
	}
}

func TestRun_usage(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string // a substring
		wantStderr string // a substring
	}{
		{name: "top-level -h", args: []string{"-h"}, wantStdout: "Commands:\n  run "},
		{name: "top-level --help", args: []string{"--help"}, wantStdout: "  client "},
		{name: "help", args: []string{"help"}, wantStdout: "  validate "},
		{name: "unknown command", args: []string{"serve"}, wantCode: 2, wantStderr: `unknown command "serve"`},
		{name: "help for an unknown command", args: []string{"help", "serve"}, wantCode: 2, wantStderr: `unknown command "serve"`},
		{name: "unknown flag", args: []string{"run", "-bogus"}, wantCode: 2, wantStderr: "flag provided but not defined: -bogus\n\nUsage: wasmgate run"},
		{name: "unknown top-level flag", args: []string{"-bogus"}, wantCode: 2, wantStderr: "Usage: wasmgate run"},
		{name: "bad flag value", args: []string{"echo", "-log-level", "loud"}, wantCode: 2, wantStderr: `invalid value "loud" for flag -log-level`},
		{name: "bad log format", args: []string{"run", "-log-format", "xml"}, wantCode: 2, wantStderr: `must be "text" or "json"`},
		{name: "run with an argument", args: []string{"run", "wasmgate.hcl"}, wantCode: 2, wantStderr: "give the configuration with -config"},
		{name: "run -listen with -config", args: []string{"run", "-config", "x.hcl", "-listen", ":0"}, wantCode: 2, wantStderr: "-listen is for the demo only"},
		{name: "validate without a path", args: []string{"validate"}, wantCode: 2, wantStderr: "want one configuration file or directory"},
		{name: "client without a URL", args: []string{"client"}, wantCode: 2, wantStderr: "want one URL"},
		{name: "client with a bad header", args: []string{"client", "-H", "nocolon", "ws://127.0.0.1:1/"}, wantCode: 2, wantStderr: `want "Name: value"`},
		{name: "version with an argument", args: []string{"version", "now"}, wantCode: 2, wantStderr: `unexpected argument "now"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, "", tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("stdout does not contain %q:\n%s", tt.wantStdout, stdout)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr does not contain %q:\n%s", tt.wantStderr, stderr)
			}
		})
	}
}

func TestParse_interspersed(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantPos  []string
		wantFlag string
	}{
		{"flags first", []string{"-x", "v", "a", "b"}, []string{"a", "b"}, "v"},
		{"flags last", []string{"a", "-x", "v"}, []string{"a"}, "v"},
		{"mixed", []string{"a", "-x", "v", "b"}, []string{"a", "b"}, "v"},
		{"double dash ends the flags", []string{"a", "--", "-x", "v"}, []string{"a", "-x", "v"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFlagSet("test", "Usage: wasmgate test\n")
			x := fs.String("x", "", "x")
			std := stdio{in: strings.NewReader(""), out: newOutput(), err: newOutput()}
			pos, _, ok := fs.parse(tt.args, std)
			if !ok {
				t.Fatal("parse failed")
			}
			if strings.Join(pos, " ") != strings.Join(tt.wantPos, " ") || *x != tt.wantFlag {
				t.Errorf("positional %q, -x %q; want %q, %q", pos, *x, tt.wantPos, tt.wantFlag)
			}
		})
	}
}

func TestVersion(t *testing.T) {
	code, stdout, _ := runCmd(t, "", "version")
	if code != 0 {
		t.Fatalf("exit status %d", code)
	}
	// Under go test the version is "dev": test binaries carry no module
	// version. TestBinary checks -ldflags.
	want := " (" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if !strings.HasPrefix(stdout, "wasmgate ") || !strings.HasSuffix(stdout, want) {
		t.Errorf("got %q, want \"wasmgate VERSION%s\"", stdout, want)
	}
}
