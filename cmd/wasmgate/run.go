package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/wasmgate/wasmgate/proxy"
	"github.com/wasmgate/wasmgate/proxy/admin"
	"github.com/wasmgate/wasmgate/proxy/config"
)

const runUsage = `Usage: wasmgate run [-config FILE|DIR] [flags]

Run loads and validates the configuration in FILE, or in the .hcl files of
the directory DIR, and serves it. A configuration with errors is reported
as file:line:col before any socket opens, and run exits 1. Once serving,
run prints each listener's address and routes on stdout and logs on
stderr.

On SIGHUP (or POST /reload on the admin listener) it reloads the
configuration: the new one is loaded, its plugins compiled and its
listeners opened first, and on any error the running configuration
stays. New connections get the new configuration; open ones keep theirs
until they close (a plugin with reload = "live" moves them to its new
version at their next message). A file access log is reopened.

On SIGINT or SIGTERM it stops accepting, closes every connection with 1001
(going away), and waits up to -drain-timeout for the connections to end
before cutting the rest. A second signal exits at once.

Without -config, run serves the built-in demo: the proxy on
127.0.0.1:8080 (see -listen) in front of a built-in echo server. "wasmgate"
alone does the same.
`

// cmdRun is "wasmgate run", and "wasmgate" alone.
func cmdRun(ctx context.Context, args []string, std stdio) int {
	fs := newFlagSet("run", runUsage)
	configPath := fs.String("config", "", "the configuration: an .hcl `file`, or a directory of .hcl files")
	listen := fs.String("listen", "", "the demo proxy's `address`, host:port (default "+demoListen+"); port 0 picks a free port. Only without -config")
	drain := fs.Duration("drain-timeout", 10*time.Second, "on shutdown, how long open connections get to close before they are cut")
	accessDest := fs.String("access-log", "stderr", "where the access log goes, one line per connection: `stderr`, stdout, off, or a file, reopened on SIGHUP")
	var logs logFlags
	logs.register(fs)
	pos, code, ok := fs.parse(args, std)
	if !ok {
		return code
	}
	switch {
	case len(pos) > 0:
		return fs.usageError(std, "unexpected argument %q; give the configuration with -config", pos[0])
	case *configPath != "" && *listen != "":
		return fs.usageError(std, "-listen is for the demo only: with -config, listener blocks give the addresses")
	case *drain <= 0:
		return fs.usageError(std, "-drain-timeout must be positive")
	}
	// From here on SIGHUP means reload, even before serving: its default
	// action would end the process, and a logrotate or "systemctl reload"
	// during a slow start must not. One that comes early reloads once
	// serving.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	log := logs.logger(std.err)
	access, accessFile, err := accessLogger(*accessDest, &logs, std)
	if err != nil {
		fmt.Fprintf(std.err, "wasmgate run: %v\n", err)
		return 1
	}
	if accessFile != nil {
		defer accessFile.Close()
	}
	srv := &server{log: log, logs: &logs, access: access, accessFile: accessFile, drain: *drain, std: std, hup: hup}

	if *configPath == "" {
		return runDemo(ctx, *listen, srv)
	}
	cfg, diags := config.Load(*configPath)
	cfg.WriteDiagnostics(std.err, diags) //nolint:errcheck // stderr
	if diags.HasErrors() {
		fmt.Fprintf(std.err, "\n%s: %s; nothing started\n", *configPath, summarize(diags))
		return 1
	}
	path := *configPath
	srv.load = func() (*config.Config, error) { return loadConfig(path, log) }
	if err := srv.start(cfg); err != nil {
		fmt.Fprintf(std.err, "wasmgate run: %v\n", err)
		return 1
	}
	fmt.Fprintf(std.out, "wasmgate %s serving %s\n", versionString(), path)
	srv.writeSummary(std.out)
	return srv.serve(ctx)
}

// loadConfig loads the configuration at path for a reload: its errors,
// with their source lines, make the error; its warnings are logged.
func loadConfig(path string, log *slog.Logger) (*config.Config, error) {
	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		var b strings.Builder
		cfg.WriteDiagnostics(&b, diags) //nolint:errcheck // a strings.Builder
		return nil, fmt.Errorf("%s: %s:\n%s", path, summarize(diags), strings.TrimRight(b.String(), "\n"))
	}
	for _, d := range diags {
		log.Warn("configuration warning", "summary", d.Summary, "detail", d.Detail, "at", d.Subject.String())
	}
	return cfg, nil
}

// server is a serving proxy with its admin listener, its signals and its
// reloads.
type server struct {
	log        *slog.Logger
	logs       *logFlags
	access     *slog.Logger
	accessFile *accessLogFile
	drain      time.Duration
	std        stdio
	hup        <-chan os.Signal // SIGHUP
	// load loads the configuration anew, for a reload.
	load func() (*config.Config, error)

	p     *proxy.Proxy
	admin *admin.Server
	// adminCfg is the admin block the admin listener was opened with: a
	// reload does not move it.
	adminCfg *config.Admin
}

// start starts serving cfg, and its admin listener if it has one.
func (s *server) start(cfg *config.Config) error {
	p := proxy.NewWithOptions(cfg, proxy.Options{Log: s.log, AccessLog: s.access})
	if err := p.Start(); err != nil {
		return err
	}
	for _, l := range cfg.Listeners {
		s.log.Info("listening", "listener", l.Name, "address", p.Addr(l.Name).String(), "tls", l.TLS != nil)
	}
	s.p, s.adminCfg = p, cfg.Admin
	if a := cfg.Admin; a != nil {
		h := admin.Handler(admin.Options{Proxy: p, Reload: s.reload, LogLevel: &s.logs.levelVar, Pprof: a.Pprof, Log: s.log})
		srv, err := admin.Listen(a.Address, h)
		if err != nil {
			ctx, cancel := context.WithTimeout(context.Background(), s.drain)
			defer cancel()
			p.Shutdown(ctx) //nolint:errcheck // nothing was accepted yet worth reporting
			return err
		}
		s.admin = srv
		s.log.Info("admin listening", "address", srv.Addr().String(), "pprof", a.Pprof)
	}
	return nil
}

// reload reloads the configuration: SIGHUP and POST /reload. A file
// access log is reopened first, for logrotate.
func (s *server) reload(ctx context.Context) error {
	if s.accessFile != nil {
		if err := s.accessFile.reopen(); err != nil {
			s.log.Error("access log not reopened; still writing to the old file", "err", err)
		}
	}
	if s.load == nil {
		return errors.New("no configuration source to reload from")
	}
	return s.p.ReloadFrom(func() (*config.Config, error) {
		cfg, err := s.load()
		if err == nil && !sameAdmin(cfg.Admin, s.adminCfg) {
			s.log.Warn("the admin block changed: the admin listener keeps its settings until a restart")
		}
		return cfg, err
	})
}

func sameAdmin(a, b *config.Admin) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Address == b.Address && a.Pprof == b.Pprof
}

// serve serves until ctx is done, reloading on SIGHUP, then shuts the
// proxy down, giving the open connections up to the drain timeout to
// close, and then the admin listener. It returns the exit status.
func (s *server) serve(ctx context.Context) int {
	for {
		select {
		case <-s.hup:
			s.log.Info("SIGHUP: reloading the configuration")
			s.reload(context.Background()) //nolint:errcheck // ReloadFrom logged it
			continue
		case <-ctx.Done():
		}
		break
	}
	log := s.log
	log.Info("shutting down: closing connections with 1001", "drain_timeout", s.drain)
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), s.drain)
	defer cancel()
	status := 0
	if err := s.p.Shutdown(sctx); err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			log.Error("shutdown failed", "err", err)
			status = 1
		} else {
			log.Warn("drain timeout: cut the connections still open", "drain_timeout", s.drain)
		}
	}
	if s.admin != nil {
		actx, acancel := context.WithTimeout(context.Background(), time.Second)
		defer acancel()
		s.admin.Shutdown(actx) //nolint:errcheck // requests still running are cut
	}
	log.Info("stopped", "took", time.Since(start).Round(time.Millisecond))
	return status
}

// writeSummary writes, in one screen, where the proxy listens and what it
// serves: listeners and their routes, plugins, and the admin listener.
func (s *server) writeSummary(w io.Writer) {
	cfg := s.p.Config()
	writeListeners(w, cfg, s.p)
	writePlugins(w, cfg, s.p)
	if s.admin != nil {
		fmt.Fprintf(w, "admin on http://%s: /metrics /healthz /readyz /config /connections, POST /reload", s.admin.Addr())
		if s.adminCfg.Pprof {
			fmt.Fprint(w, ", /debug/pprof/")
		}
		fmt.Fprintln(w)
	}
}

// writePlugins writes a line for each plugin a route uses:
//
//	plugin "auth": auth.wasm (38 KiB), 2 instances, sandbox checked, on_error close, reload restart; compiled in 3ms, started in 1ms
func writePlugins(w io.Writer, cfg *config.Config, p *proxy.Proxy) {
	byName := map[string]*config.Plugin{}
	for _, pc := range cfg.Plugins {
		byName[pc.Name] = pc
	}
	for _, info := range p.PluginInfo() {
		pc := byName[info.Name]
		fmt.Fprintf(w, "plugin %q: %s (%d KiB), %d instances, sandbox %s, on_error %s, reload %s; compiled in %v, started in %v\n",
			pc.Name, filepath.Base(pc.WasmPath), (len(pc.Wasm)+1023)/1024, info.Instances, pc.Sandbox, pc.OnError, pc.Reload,
			info.Compile.Round(10*time.Microsecond), info.Start.Round(10*time.Microsecond))
	}
}

// writeListeners writes where each listener of cfg listens, and its routes:
//
//	listener "public" on ws://127.0.0.1:8080 (console: http://127.0.0.1:8080/)
//	  route "chat": host chat.example.com, path prefix /ws/ -> upstream "chat" [ws://127.0.0.1:9000]
func writeListeners(w io.Writer, cfg *config.Config, p *proxy.Proxy) {
	for _, l := range cfg.Listeners {
		console := ""
		if l.Console {
			scheme := "http"
			if l.TLS != nil {
				scheme = "https"
			}
			console = fmt.Sprintf(" (console: %s://%s/)", scheme, p.Addr(l.Name))
		}
		fmt.Fprintf(w, "listener %q on %s%s\n", l.Name, listenerURL(l, p), console)
		for _, r := range cfg.Routes {
			if r.Listener != l {
				continue
			}
			servers := make([]string, len(r.Upstream.Servers))
			for i, s := range r.Upstream.Servers {
				servers[i] = config.RedactURL(s)
			}
			deflate := ""
			if r.Compression != nil {
				deflate = ", permessage-deflate"
			}
			fmt.Fprintf(w, "  route %q: %s -> upstream %q [%s]%s\n",
				r.Name, describeMatch(r), r.Upstream.Name, strings.Join(servers, ", "), deflate)
		}
	}
}

// listenerURL is the ws:// or wss:// URL of a listener's bound address.
func listenerURL(l *config.Listener, p *proxy.Proxy) string {
	scheme := "ws"
	if l.TLS != nil {
		scheme = "wss"
	}
	return scheme + "://" + p.Addr(l.Name).String()
}

// describeMatch says which requests a route matches.
func describeMatch(r *config.Route) string {
	var parts []string
	if r.Host == "" {
		parts = append(parts, "any host")
	} else {
		parts = append(parts, "host "+r.Host)
	}
	if r.ExactPath != "" {
		parts = append(parts, "path "+r.ExactPath)
	} else {
		parts = append(parts, "path prefix "+r.Path)
	}
	headers := r.RedactedHeaders() // the start screen ends up in logs
	for _, k := range slices.Sorted(maps.Keys(headers)) {
		parts = append(parts, fmt.Sprintf("header %s: %s", k, headers[k]))
	}
	return strings.Join(parts, ", ")
}
