package compare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

// proxy is a running proxy under test.
type proxy struct {
	proc *child
	// url is where clients connect through it.
	url string
	// logs are the files to show when it fails: its output, and its own
	// log file for nginx.
	logs []string
	// reported is set once its unexpected exit has been shown.
	reported bool
}

// Where the example filters are, from the module's root.
const (
	noopWasm   = "examples/noop/noop.wasm"
	redactWasm = "examples/redact/c/redact.wasm"
)

// startProxy writes the configuration of target name, starts the proxy
// pinned to the proxy CPU, and waits until a WebSocket message goes
// through it to the echo backend and back.
func (r *runner) startProxy(ctx context.Context, name string) (*proxy, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(r.dir, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	setup := proxySetup{dir: dir, port: port, backends: r.backends}
	spec, logs, err := r.proxySpec(ctx, name, setup)
	if err != nil {
		return nil, err
	}
	spec.name, spec.cpus, spec.dir = name, r.opts.proxyCPU, dir
	spec.logPath = filepath.Join(dir, "output.log")
	p := &proxy{url: fmt.Sprintf("ws://127.0.0.1:%d/", port), logs: append([]string{spec.logPath}, logs...)}
	if p.proc, err = startChild(spec); err != nil {
		return nil, err
	}
	if err := waitReady(ctx, p.url, p.proc, readyTimeout); err != nil {
		p.proc.stop()
		for _, path := range p.logs {
			if tail := fileTail(path, 20); tail != "" {
				r.progress("%s: %s:\n%s", name, filepath.Base(path), indent(tail))
			}
		}
		return nil, err
	}
	r.progress("%s: ready on %s (CPU %s, pid %d)", name, p.url, r.opts.proxyCPU, p.proc.pid())
	return p, nil
}

// proxySpec writes target name's configuration into setup.dir and
// returns how to start it, with the paths of its own log files.
func (r *runner) proxySpec(ctx context.Context, name string, setup proxySetup) (childSpec, []string, error) {
	dir := setup.dir
	write := func(file, content string) (string, error) {
		path := filepath.Join(dir, file)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return path, nil
	}
	switch name {
	case targetNginx:
		v, err := exec.CommandContext(ctx, "nginx", "-V").CombinedOutput()
		if err != nil {
			return childSpec{}, nil, fmt.Errorf("nginx -V: %w", err)
		}
		conf, err := write("nginx.conf", nginxConfig(setup, nginxModulesFromV(string(v))))
		if err != nil {
			return childSpec{}, nil, err
		}
		return childSpec{argv: []string{"nginx", "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"), "-g", "daemon off;"}},
			[]string{filepath.Join(dir, "error.log")}, nil
	case targetHAProxy:
		conf, err := write("haproxy.cfg", haproxyConfig(setup))
		if err != nil {
			return childSpec{}, nil, err
		}
		return childSpec{argv: []string{"haproxy", "-f", conf, "-db"}}, nil, nil
	case targetCaddy:
		conf, err := write("Caddyfile", caddyConfig(setup))
		if err != nil {
			return childSpec{}, nil, err
		}
		// Caddy keeps its data, its autosaved configuration and its
		// certificate authority's files under these: all in the run's
		// directory.
		env := []string{"HOME=" + dir, "XDG_DATA_HOME=" + dir, "XDG_CONFIG_HOME=" + dir}
		return childSpec{argv: []string{"caddy", "run", "--config", conf, "--adapter", "caddyfile"}, env: env}, nil, nil
	case targetWasmgate, targetWasmgateNoop, targetWasmgateRedact:
		bin, err := r.wasmgateBinary(ctx)
		if err != nil {
			return childSpec{}, nil, err
		}
		var filter *wasmgateFilter
		switch name {
		case targetWasmgateNoop:
			filter = &wasmgateFilter{name: "noop", wasm: noopWasm}
		case targetWasmgateRedact:
			filter = &wasmgateFilter{name: "redact", wasm: redactWasm}
		}
		if filter != nil {
			if r.modRootErr != nil {
				return childSpec{}, nil, fmt.Errorf("%s needs %s: %w", name, filter.wasm, r.modRootErr)
			}
			filter.wasm = filepath.Join(r.modRoot, filter.wasm)
			filter.sandbox = r.opts.sandbox
		}
		conf, err := write("wasmgate.hcl", wasmgateConfig(setup, filter))
		if err != nil {
			return childSpec{}, nil, err
		}
		// Every connection is closed by the time the proxy stops, so a
		// short drain only bounds a straggler.
		return childSpec{argv: []string{bin, "run", "-config", conf, "-drain-timeout", "1s", "-log-level", "warn"}}, nil, nil
	}
	return childSpec{}, nil, fmt.Errorf("unknown target %q", name)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady waits until a WebSocket message goes through url and comes
// back, for at most timeout; it gives up at once if proc exits.
func waitReady(ctx context.Context, url string, proc *child, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		if proc.exited() {
			return fmt.Errorf("exited before accepting a WebSocket (%s)", proc.exitDesc())
		}
		if last = roundTrip(ctx, url); last == nil {
			return nil
		}
		if ctx.Err() != nil {
			return errStopped
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no WebSocket round trip through it within %v: %w", timeout, last)
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-ctx.Done():
			return errStopped
		case <-proc.done:
		}
	}
}

// roundTrip dials url, sends one message, checks that it comes back, and
// closes.
func roundTrip(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	d := codec.Dialer{ConnectTimeout: time.Second, HandshakeTimeout: time.Second}
	c, _, err := d.Dial(ctx, url)
	if err != nil {
		return err
	}
	defer c.CloseNow()
	c.NetConn().SetDeadline(time.Now().Add(2 * time.Second))
	msg := []byte("wsbench compare: ready?")
	if err := c.WriteMessage(codec.Text, msg); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	_, got, err := c.ReadMessage()
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if !bytes.Equal(got, msg) {
		return errors.New("the echo came back changed")
	}
	// The message made the round trip: how the close goes is not
	// readiness's business.
	c.Close(codec.CloseNormal, "")
	return nil
}
