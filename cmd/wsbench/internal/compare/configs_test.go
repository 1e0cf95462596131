package compare

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var testBackends = []string{"127.0.0.1:19001", "127.0.0.1:19002", "127.0.0.1:19003", "127.0.0.1:19004"}

func testSetup(t *testing.T) proxySetup {
	t.Helper()
	return proxySetup{dir: t.TempDir(), port: 18080, backends: testBackends}
}

// checkConfig writes content to dir/file and runs the program's own
// checker on it: argv with {} replaced by the file's path. It skips when
// the program is not installed.
func checkConfig(t *testing.T, dir, file, content string, env []string, argv ...string) {
	t.Helper()
	if _, err := exec.LookPath(argv[0]); err != nil {
		t.Skipf("%s is not installed", argv[0])
	}
	path := filepath.Join(dir, file)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, a := range argv {
		argv[i] = strings.ReplaceAll(a, "{}", path)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s\nconfiguration:\n%s", strings.Join(argv, " "), err, out, content)
	}
}

// wantLines requires each of lines in content.
func wantLines(t *testing.T, content string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(content, l) {
			t.Errorf("configuration lacks %q:\n%s", l, content)
		}
	}
}

func TestNginxConfig(t *testing.T) {
	tests := []struct {
		name    string
		modules nginxModules
		want    []string
		notWant []string
	}{
		{"every module", nginxModules{fastcgi: true, uwsgi: true, scgi: true}, []string{"fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path"}, nil},
		{"light build", nginxModules{}, nil, []string{"fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testSetup(t)
			conf := nginxConfig(s, tc.modules)
			wantLines(t, conf, append(tc.want,
				"worker_processes 1;", "worker_rlimit_nofile 20000;", "worker_connections 20000;",
				"pid "+s.dir+"/nginx.pid;", "error_log "+s.dir+"/error.log", "access_log off;",
				"listen 127.0.0.1:18080;", "server 127.0.0.1:19001;", "server 127.0.0.1:19004;",
				"proxy_http_version 1.1;", `proxy_set_header Upgrade $http_upgrade;`,
				`proxy_set_header Connection "upgrade";`, "proxy_read_timeout 1h;", "proxy_buffering off;",
			)...)
			for _, l := range tc.notWant {
				if strings.Contains(conf, l) {
					t.Errorf("configuration has %q", l)
				}
			}
		})
	}
	t.Run("accepted by nginx -t", func(t *testing.T) {
		s := testSetup(t)
		if _, err := exec.LookPath("nginx"); err != nil {
			t.Skip("nginx is not installed")
		}
		v, err := exec.Command("nginx", "-V").CombinedOutput()
		if err != nil {
			t.Fatalf("nginx -V: %v", err)
		}
		checkConfig(t, s.dir, "nginx.conf", nginxConfig(s, nginxModulesFromV(string(v))), nil,
			"nginx", "-t", "-p", s.dir, "-c", "{}", "-e", filepath.Join(s.dir, "error.log"))
	})
}

func TestNginxModulesFromV(t *testing.T) {
	tests := []struct {
		name, v string
		want    nginxModules
	}{
		{"full", "configure arguments: --with-http_ssl_module", nginxModules{true, true, true}},
		{"light", "configure arguments: --without-http_fastcgi_module --without-http_uwsgi_module --without-http_scgi_module", nginxModules{}},
		{"some", "configure arguments: --without-http_uwsgi_module", nginxModules{fastcgi: true, scgi: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := nginxModulesFromV(tc.v); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestHAProxyConfig(t *testing.T) {
	s := testSetup(t)
	conf := haproxyConfig(s)
	wantLines(t, conf, "nbthread 1", "maxconn 9990", "mode http", "timeout connect 5s",
		"timeout client 1h", "timeout server 1h", "timeout tunnel 1h", "bind 127.0.0.1:18080",
		"balance roundrobin", "server echo1 127.0.0.1:19001", "server echo4 127.0.0.1:19004")
	checkConfig(t, s.dir, "haproxy.cfg", conf, nil, "haproxy", "-c", "-f", "{}")
}

func TestCaddyConfig(t *testing.T) {
	s := testSetup(t)
	conf := caddyConfig(s)
	wantLines(t, conf, "admin off", "auto_https off", "http://127.0.0.1:18080 {", "bind 127.0.0.1",
		"reverse_proxy 127.0.0.1:19001 127.0.0.1:19002 127.0.0.1:19003 127.0.0.1:19004 {", "lb_policy round_robin")
	checkConfig(t, s.dir, "Caddyfile", conf,
		[]string{"HOME=" + s.dir, "XDG_DATA_HOME=" + s.dir, "XDG_CONFIG_HOME=" + s.dir},
		"caddy", "validate", "--config", "{}", "--adapter", "caddyfile")
}

func TestWasmgateConfig(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		filter  *wasmgateFilter
		want    []string
		notWant []string
	}{
		{"no filter", nil, nil, []string{"plugin", "filters"}},
		{"noop, default sandbox", &wasmgateFilter{name: "noop", wasm: filepath.Join(root, noopWasm)},
			[]string{`plugin "noop" {`, `filters  = ["noop"]`}, []string{"sandbox"}},
		{"redact, plain sandbox", &wasmgateFilter{name: "redact", wasm: filepath.Join(root, redactWasm), sandbox: "plain"},
			[]string{`plugin "redact" {`, `sandbox = "plain"`, `filters  = ["redact"]`}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testSetup(t)
			conf := wasmgateConfig(s, tc.filter)
			wantLines(t, conf, append(tc.want, `address = "127.0.0.1:18080"`,
				`servers = ["ws://127.0.0.1:19001", "ws://127.0.0.1:19002", "ws://127.0.0.1:19003", "ws://127.0.0.1:19004"]`,
				`path     = "/"`, `idle_timeout = "1h"`)...)
			for _, l := range tc.notWant {
				if strings.Contains(conf, l) {
					t.Errorf("configuration has %q:\n%s", l, conf)
				}
			}
			if testing.Short() {
				return // building wasmgate takes a while
			}
			checkConfig(t, s.dir, "wasmgate.hcl", conf, nil, buildWasmgate(t), "validate", "{}")
		})
	}
}
