package compare

import (
	"fmt"
	"strconv"
	"strings"
)

// proxySetup is what every proxy's configuration is generated from.
type proxySetup struct {
	// dir holds the configuration, logs, pid and temporary files.
	dir string
	// port is the proxy's listening port on 127.0.0.1.
	port int
	// backends are the echo backend's addresses, host:port.
	backends []string
}

// nginxModules says which optional nginx modules the installed build
// has, since each one that is compiled in needs its temporary path moved
// under the run's directory (or nginx tries to create it in /var/lib).
type nginxModules struct {
	fastcgi, uwsgi, scgi bool
}

// nginxModulesFromV reads the modules from the output of `nginx -V`.
func nginxModulesFromV(v string) nginxModules {
	return nginxModules{
		fastcgi: !strings.Contains(v, "--without-http_fastcgi_module"),
		uwsgi:   !strings.Contains(v, "--without-http_uwsgi_module"),
		scgi:    !strings.Contains(v, "--without-http_scgi_module"),
	}
}

// nginxConfig is nginx.conf: one worker, logs and temporary files in the
// run's directory, no access log, the backends round robin (nginx's
// default), and the WebSocket upgrade passed through with timeouts long
// enough for the idle point.
func nginxConfig(s proxySetup, m nginxModules) string {
	var b strings.Builder
	fmt.Fprintf(&b, `worker_processes 1;
worker_rlimit_nofile 20000;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;

events {
    worker_connections 20000;
}

http {
    access_log off;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
`, s.dir)
	for _, t := range []struct {
		on   bool
		name string
	}{{m.fastcgi, "fastcgi"}, {m.uwsgi, "uwsgi"}, {m.scgi, "scgi"}} {
		if t.on {
			fmt.Fprintf(&b, "    %s_temp_path %s/%s;\n", t.name, s.dir, t.name)
		}
	}
	b.WriteString("\n    upstream echo {\n")
	for _, addr := range s.backends {
		fmt.Fprintf(&b, "        server %s;\n", addr)
	}
	fmt.Fprintf(&b, `    }

    server {
        listen 127.0.0.1:%d;
        location / {
            proxy_pass http://echo;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_read_timeout 1h;
            proxy_send_timeout 1h;
            proxy_buffering off;
        }
    }
}
`, s.port)
	return b.String()
}

// haproxyMaxConn is haproxy's maxconn: each proxied connection takes two
// descriptors, and haproxy refuses to start when twice maxconn (plus a
// few) exceeds the open-file limit, which is 20,000 here.
const haproxyMaxConn = 9990

// haproxyConfig is haproxy.cfg: one thread, HTTP mode (so the upgrade is
// seen and the connection becomes a tunnel), the backends round robin.
func haproxyConfig(s proxySetup) string {
	var b strings.Builder
	fmt.Fprintf(&b, `global
    nbthread 1
    maxconn %d

defaults
    mode http
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h

frontend bench
    bind 127.0.0.1:%d
    default_backend echo

backend echo
    balance roundrobin
`, haproxyMaxConn, s.port)
	for i, addr := range s.backends {
		fmt.Fprintf(&b, "    server echo%d %s\n", i+1, addr)
	}
	return b.String()
}

// caddyConfig is a Caddyfile: no admin endpoint, no automatic HTTPS,
// bound to loopback only, the backends round robin. Caddy 2.6 has no
// persist_config option: the autosave it writes lands in
// XDG_CONFIG_HOME, which the run points at its own directory.
func caddyConfig(s proxySetup) string {
	return fmt.Sprintf(`{
	admin off
	auto_https off
}

http://127.0.0.1:%d {
	bind 127.0.0.1
	reverse_proxy %s {
		lb_policy round_robin
	}
}
`, s.port, strings.Join(s.backends, " "))
}

// wasmgateFilter is the Wasm filter of a wasmgate target.
type wasmgateFilter struct {
	// name is the plugin block's name.
	name string
	// wasm is the module's absolute path.
	wasm string
	// sandbox is "checked", "plain" or "" for the configuration's
	// default.
	sandbox string
}

// wasmgateConfig is wasmgate.hcl: one listener, the backends as one
// upstream, one route for every path, through filter when it is not nil.
func wasmgateConfig(s proxySetup, filter *wasmgateFilter) string {
	var b strings.Builder
	fmt.Fprintf(&b, `listener "bench" {
  address = "127.0.0.1:%d"
}

upstream "echo" {
  servers = [`, s.port)
	for i, addr := range s.backends {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote("ws://" + addr))
	}
	b.WriteString("]\n}\n")
	filters := ""
	if filter != nil {
		fmt.Fprintf(&b, `
plugin %q {
  wasm = %q
  # Generous: a call that waits for the CPU behind a garbage collection is
  # not a faulty plugin.
  timeout = "100ms"
`, filter.name, filter.wasm)
		if filter.sandbox != "" {
			fmt.Fprintf(&b, "  sandbox = %q\n", filter.sandbox)
		}
		b.WriteString("}\n")
		filters = fmt.Sprintf("  filters  = [%q]\n", filter.name)
	}
	fmt.Fprintf(&b, `
route "bench" {
  path     = "/"
  upstream = "echo"
%s}

limits {
  # As long as the other proxies' timeouts, so the idle point measures
  # connections, not timers firing.
  idle_timeout = "1h"
}
`, filters)
	return b.String()
}
