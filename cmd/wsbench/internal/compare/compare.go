// Package compare implements `wsbench compare`: one run that measures
// the same WebSocket load straight against an echo backend and through
// each proxy in turn (nginx, HAProxy, Caddy, and wasmgate without a
// filter, with a no-op Wasm filter and with the redact filter), and
// reports the medians side by side.
//
// Every program is a child process pinned with taskset: the proxy under
// test alone on -proxy-cpu, the load generator and the echo backend
// (both wsbench) on -load-cpus; for the ping-pong point only, the proxy
// joins them on -load-cpus (latency on one core). The proxy's CPU time is read from /proc
// at the load generator's MEASURE lines, and its memory before and after
// it holds idle connections. Nothing is installed or written outside a
// temporary directory, which is removed at the end.
package compare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Main runs `wsbench compare` with args (after the subcommand's name):
// progress on stderr, the tables and the RESULT line on stdout. It fails
// only when the direct baseline failed or every target did; a target or
// a measurement that fails is reported in the table.
func Main(args []string, stdout, stderr io.Writer) error {
	o, err := parseOptions(args, stderr)
	if errHelp(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, o, stdout, stderr)
}

// run is Main once the options are parsed; ctx ends on Ctrl-C.
func run(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	r := &runner{opts: o, stderr: stderr}
	var err error
	if r.wsbench, err = wsbenchPath(o.wsbench); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		return fmt.Errorf("compare: taskset pins every process to its CPUs: %w", err)
	}
	if r.dir, err = os.MkdirTemp("", "wsbench-compare-"); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	defer os.RemoveAll(r.dir)
	r.modRoot, r.modRootErr = moduleRoot()

	rep := &report{Settings: settingsOf(o)}
	rep.Machine = r.machine(ctx)
	if err := r.startEcho(ctx); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	defer r.stopEcho()
	for _, name := range o.targets {
		if ctx.Err() != nil {
			break
		}
		rep.Targets = append(rep.Targets, r.runTarget(ctx, name))
	}
	if ctx.Err() != nil {
		return fmt.Errorf("compare: %w", errStopped)
	}
	md := rep.markdown()
	if _, err := io.WriteString(stdout, md); err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	line, err := rep.resultLine()
	if err != nil {
		return fmt.Errorf("compare: %w", err)
	}
	fmt.Fprintln(stdout, line)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(md), 0o644); err != nil {
			return fmt.Errorf("compare: write -out: %w", err)
		}
	}
	return rep.verdict()
}

// runner runs the targets one after another against one echo backend.
type runner struct {
	opts    *options
	stderr  io.Writer
	wsbench string
	// dir is the run's temporary directory.
	dir string
	// modRoot is the wasmgate module's root, for building wasmgate and
	// finding the example filters; modRootErr says why it was not found.
	modRoot    string
	modRootErr error
	// wasmgate is the wasmgate binary, built on first use;
	// wasmgateErr is why building it failed.
	wasmgate    string
	wasmgateErr error
	echo        *child
	// backends are the echo backend's addresses.
	backends []string
	// children counts the child processes started, to name their logs.
	children int
}

// progress writes one line of progress to stderr.
func (r *runner) progress(format string, args ...any) {
	fmt.Fprintf(r.stderr, "compare: "+format+"\n", args...)
}

// logPath returns a fresh path for a child's log.
func (r *runner) logPath(name string) string {
	r.children++
	return filepath.Join(r.dir, fmt.Sprintf("%02d-%s.log", r.children, name))
}

// echoListeners is how many addresses the echo backend listens on: a
// destination address takes only ~28,000 connections from one source
// address, so the proxies spread their upstream connections over these.
const echoListeners = 4

// connsPerProcess is how many sockets one wsbench process is given, below
// the limit of 20,000 open files per process.
const connsPerProcess = 18000

// readyTimeout bounds the wait for a child's READY line or a proxy's
// first handshake.
const readyTimeout = 10 * time.Second

// startEcho starts the echo backend and reads its addresses.
func (r *runner) startEcho(ctx context.Context) error {
	argv := []string{r.wsbench, "echo"}
	for range echoListeners {
		argv = append(argv, "-listen", "127.0.0.1:0")
	}
	argv = append(argv, "-stdin-eof")
	if procs := ceilDiv(r.opts.idleConns, connsPerProcess); procs > 1 {
		argv = append(argv, "-procs", fmt.Sprint(procs))
	}
	ready := make(chan string, 1)
	c, err := startChild(childSpec{
		name: "echo backend", argv: argv, cpus: r.opts.loadCPUs,
		logPath: r.logPath("echo"), stdin: true,
		onLine: func(line string) {
			if strings.HasPrefix(line, "READY ") {
				select {
				case ready <- line:
				default:
				}
			}
		},
	})
	if err != nil {
		return err
	}
	r.echo = c
	select {
	case line := <-ready:
		r.backends = strings.Split(strings.TrimSpace(strings.TrimPrefix(line, "READY ")), ",")
		r.progress("echo backend on %s (CPUs %s)", strings.Join(r.backends, ", "), r.opts.loadCPUs)
		return nil
	case <-c.done:
		err = fmt.Errorf("echo backend exited before READY: %v\n%s", c.exitErr(), indent(c.logTail(20)))
	case <-time.After(readyTimeout):
		err = fmt.Errorf("echo backend printed no READY within %v\n%s", readyTimeout, indent(c.logTail(20)))
	case <-ctx.Done():
		err = errStopped
	}
	r.stopEcho()
	return err
}

// stopEcho stops the echo backend: its stdin's end first, as
// -stdin-eof asks, then signals.
func (r *runner) stopEcho() {
	if r.echo == nil {
		return
	}
	r.echo.release()
	select {
	case <-r.echo.done:
	case <-time.After(stopGrace):
		r.echo.stop()
	}
	r.echo = nil
}

// runTarget starts one target, runs every point through it, and stops
// it.
func (r *runner) runTarget(ctx context.Context, name string) *targetResult {
	res := &targetResult{Name: name}
	r.progress("%s: starting", name)
	var p *proxy
	if name != targetDirect {
		var err error
		if p, err = r.startProxy(ctx, name); err != nil {
			res.Error = err.Error()
			r.progress("%s: failed: %v", name, err)
			return res
		}
		defer func() {
			p.proc.stop()
			r.progress("%s: stopped", name)
		}()
	}
	url := "ws://" + r.backends[0] + "/"
	if p != nil {
		url = p.url
	}
	for _, point := range pointOrder(r.opts.points) {
		if ctx.Err() != nil {
			break
		}
		if p != nil && p.proc.exited() {
			if !p.reported {
				p.reported = true
				r.progress("%s: the proxy exited (%s):\n%s", name, p.proc.exitDesc(), indent(p.proc.logTail(20)))
			}
			res.Points = append(res.Points, &pointResult{Name: point, Error: "the proxy exited (" + p.proc.exitDesc() + ")"})
			continue
		}
		res.Points = append(res.Points, r.runPoint(ctx, name, point, url, p))
	}
	return res
}

// pointOrder returns the points to run in the order they run: idle
// first, on a proxy that has served nothing but the readiness check yet,
// so that the memory it has kept from the heavy points (a Go heap
// grows and is not handed back at once) does not absorb the idle
// connections' memory and understate it.
func pointOrder(points []string) []string {
	var order []string
	for _, p := range points {
		if p == pointIdle {
			order = append(order, p)
		}
	}
	for _, p := range points {
		if p != pointIdle {
			order = append(order, p)
		}
	}
	return order
}

// wsbenchPath returns the wsbench binary to run: path, or this program.
func wsbenchPath(path string) (string, error) {
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("find the wsbench binary: %w", err)
		}
		return exe, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("-wsbench %s: %w", path, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return "", fmt.Errorf("-wsbench: %w", err)
	}
	return abs, nil
}

// modulePath is the module whose root moduleRoot looks for.
const modulePath = "github.com/wasmgate/wasmgate"

// moduleRoot returns the root of the wasmgate module: the nearest
// directory, from the current one up, whose go.mod declares it.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the wasmgate module: %w", err)
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && declaresModule(string(data), modulePath) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find the wasmgate module: no go.mod of " + modulePath + " in the current directory or above it; run compare from the repository, or give -wasmgate")
		}
		dir = parent
	}
}

// declaresModule reports whether the go.mod content gomod declares module
// path.
func declaresModule(gomod, path string) bool {
	for line := range strings.Lines(gomod) {
		fields := strings.Fields(line)
		if len(fields) >= 2 && fields[0] == "module" && strings.Trim(fields[1], `"`) == path {
			return true
		}
	}
	return false
}

// wasmgateBinary returns the wasmgate binary, building it into the run's
// directory the first time when -wasmgate was not given.
func (r *runner) wasmgateBinary(ctx context.Context) (string, error) {
	if r.wasmgate != "" || r.wasmgateErr != nil {
		return r.wasmgate, r.wasmgateErr
	}
	if r.opts.wasmgate != "" {
		r.wasmgate, r.wasmgateErr = filepath.Abs(r.opts.wasmgate)
		return r.wasmgate, r.wasmgateErr
	}
	if r.modRootErr != nil {
		r.wasmgateErr = r.modRootErr
		return "", r.wasmgateErr
	}
	// Not r.dir/wasmgate: that is the wasmgate target's directory.
	out := filepath.Join(r.dir, "bin", "wasmgate")
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		r.wasmgateErr = err
		return "", err
	}
	r.progress("building wasmgate: go build -o %s ./cmd/wasmgate", out)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/wasmgate")
	cmd.Dir = r.modRoot
	if msg, err := cmd.CombinedOutput(); err != nil {
		r.wasmgateErr = fmt.Errorf("go build ./cmd/wasmgate: %w: %s", err, strings.TrimSpace(string(msg)))
		return "", r.wasmgateErr
	}
	r.wasmgate = out
	return out, nil
}

// ceilDiv returns a/b rounded up, for positive b.
func ceilDiv(a, b int) int { return (a + b - 1) / b }
