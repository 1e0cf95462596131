package compare

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseOptions(t *testing.T) {
	defaults := options{
		targets: allTargets, points: allPoints, repeat: 3, idleRepeat: 1,
		duration: 5 * time.Second, warmup: time.Second, idleConns: 5000,
		proxyCPU: "0", loadCPUs: "1",
	}
	with := func(change func(o *options)) options {
		o := defaults
		change(&o)
		return o
	}
	tests := []struct {
		name    string
		args    []string
		want    options
		wantErr string
	}{
		{"defaults", nil, defaults, ""},
		{"quick", []string{"-quick"}, with(func(o *options) {
			o.repeat, o.duration, o.idleConns = 1, time.Second, 500
		}), ""},
		{"quick does not override what is given", []string{"-quick", "-duration", "2s", "-idle-conns", "100"}, with(func(o *options) {
			o.repeat, o.duration, o.idleConns = 1, 2*time.Second, 100
		}), ""},
		{"repeat given applies to idle too", []string{"-repeat", "5"}, with(func(o *options) {
			o.repeat, o.idleRepeat = 5, 5
		}), ""},
		{"quick with repeat", []string{"-quick", "-repeat", "2"}, with(func(o *options) {
			o.repeat, o.idleRepeat, o.duration, o.idleConns = 2, 2, time.Second, 500
		}), ""},
		{"lists keep their order, without repeats or blanks", []string{"-targets", "wasmgate, direct,,wasmgate", "-points", "idle,tput128"}, with(func(o *options) {
			o.targets, o.points = []string{"wasmgate", "direct"}, []string{"idle", "tput128"}
		}), ""},
		{"everything else", []string{
			"-wasmgate", "/bin/wg", "-wsbench", "/bin/wsb", "-proxy-cpu", "2-3", "-load-cpus", "0,1",
			"-sandbox", "plain", "-out", "t.md", "-warmup", "0s",
		}, with(func(o *options) {
			o.wasmgate, o.wsbench, o.proxyCPU, o.loadCPUs = "/bin/wg", "/bin/wsb", "2-3", "0,1"
			o.sandbox, o.out, o.warmup = "plain", "t.md", 0
		}), ""},
		{"unknown target", []string{"-targets", "direct,envoy"}, options{}, `unknown target "envoy"`},
		{"unknown point", []string{"-points", "latency"}, options{}, `unknown point "latency"`},
		{"empty list", []string{"-targets", " , "}, options{}, "no target given"},
		{"zero repeat", []string{"-repeat", "0"}, options{}, "-repeat 0"},
		{"zero duration", []string{"-duration", "0s"}, options{}, "-duration 0s"},
		{"negative warmup", []string{"-warmup", "-1s"}, options{}, "-warmup -1s"},
		{"no idle connections", []string{"-idle-conns", "0"}, options{}, "-idle-conns 0"},
		{"bad CPU list", []string{"-proxy-cpu", "0;1"}, options{}, `-proxy-cpu "0;1"`},
		{"bad load CPU list", []string{"-load-cpus", "1-"}, options{}, `-load-cpus "1-"`},
		{"bad sandbox", []string{"-sandbox", "strict"}, options{}, `-sandbox "strict"`},
		{"positional argument", []string{"nginx"}, options{}, `unexpected argument "nginx"`},
		{"unknown flag", []string{"-bogus"}, options{}, "flag provided but not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseOptions(tc.args, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", *got, tc.want)
			}
		})
	}
}

func TestParseOptions_help(t *testing.T) {
	var out strings.Builder
	_, err := parseOptions([]string{"-h"}, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("err = %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{"Usage: wsbench compare", "-targets", "-quick", "-sandbox"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage lacks %q:\n%s", want, out.String())
		}
	}
	if err := Main([]string{"-h"}, io.Discard, io.Discard); err != nil {
		t.Errorf("Main -h: %v, want nil", err)
	}
}

func TestPointOrder(t *testing.T) {
	tests := []struct {
		in, want []string
	}{
		{allPoints, []string{"idle", "tput128", "tput4k", "pingpong", "connrate"}},
		{[]string{"tput4k", "tput128"}, []string{"tput4k", "tput128"}},
		{[]string{"idle"}, []string{"idle"}},
	}
	for _, tc := range tests {
		if got := pointOrder(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("pointOrder(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestDeclaresModule(t *testing.T) {
	tests := []struct {
		name, gomod string
		want        bool
	}{
		{"ours", "module github.com/wasmgate/wasmgate\n\ngo 1.26\n", true},
		{"quoted", "// c\nmodule \"github.com/wasmgate/wasmgate\"\n", true},
		{"another", "module example.com/other\n", false},
		{"a prefix of ours", "module github.com/wasmgate/wasmgate/sdk/go\n", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := declaresModule(tc.gomod, modulePath); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "cmd", "wsbench")); err != nil {
		t.Errorf("module root %s: %v", root, err)
	}
}
