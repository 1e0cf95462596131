package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/proxy"
	"github.com/wasmgate/wasmgate/proxy/config"
)

const runUsage = `Usage: wasmgate run [-config FILE|DIR] [flags]

Run loads and validates the configuration in FILE, or in the .hcl files of
the directory DIR, and serves it. A configuration with errors is reported
as file:line:col before any socket opens, and run exits 1. Once serving,
run prints each listener's address and routes on stdout and logs on
stderr.

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
	log := logs.logger(std.err)

	if *configPath == "" {
		return runDemo(ctx, *listen, *drain, log, std)
	}
	cfg, diags := config.Load(*configPath)
	cfg.WriteDiagnostics(std.err, diags) //nolint:errcheck // stderr
	if diags.HasErrors() {
		fmt.Fprintf(std.err, "\n%s: %s; nothing started\n", *configPath, summarize(diags))
		return 1
	}
	p, err := startProxy(cfg, log)
	if err != nil {
		fmt.Fprintf(std.err, "wasmgate run: %v\n", err)
		return 1
	}
	writeListeners(std.out, cfg, p)
	return serveUntilDone(ctx, p, *drain, log)
}

// startProxy starts serving cfg.
func startProxy(cfg *config.Config, log *slog.Logger) (*proxy.Proxy, error) {
	p := proxy.New(cfg, log)
	if err := p.Start(); err != nil {
		return nil, err
	}
	for _, l := range cfg.Listeners {
		log.Info("listening", "listener", l.Name, "address", p.Addr(l.Name).String(), "tls", l.TLS != nil)
	}
	return p, nil
}

// serveUntilDone waits for ctx to be done, then shuts p down, giving the
// open connections up to drain to close. It returns the exit status.
func serveUntilDone(ctx context.Context, p *proxy.Proxy, drain time.Duration, log *slog.Logger) int {
	<-ctx.Done()
	log.Info("shutting down: closing connections with 1001", "drain_timeout", drain)
	start := time.Now()
	sctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := p.Shutdown(sctx); err != nil {
		if !errors.Is(err, context.DeadlineExceeded) {
			log.Error("shutdown failed", "err", err)
			return 1
		}
		log.Warn("drain timeout: cut the connections still open", "drain_timeout", drain)
	}
	log.Info("stopped", "took", time.Since(start).Round(time.Millisecond))
	return 0
}

// writeListeners writes where each listener of cfg listens, and its routes:
//
//	listener "public" on ws://127.0.0.1:8080
//	  route "chat": host chat.example.com, path prefix /ws/ -> upstream "chat" [ws://127.0.0.1:9000]
func writeListeners(w io.Writer, cfg *config.Config, p *proxy.Proxy) {
	for _, l := range cfg.Listeners {
		fmt.Fprintf(w, "listener %q on %s\n", l.Name, listenerURL(l, p))
		for _, r := range cfg.Routes {
			if r.Listener != l {
				continue
			}
			servers := make([]string, len(r.Upstream.Servers))
			for i, s := range r.Upstream.Servers {
				servers[i] = s.String()
			}
			fmt.Fprintf(w, "  route %q: %s -> upstream %q [%s]\n",
				r.Name, describeMatch(r), r.Upstream.Name, strings.Join(servers, ", "))
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
	for _, k := range slices.Sorted(maps.Keys(r.Headers)) {
		parts = append(parts, fmt.Sprintf("header %s: %s", k, r.Headers[k]))
	}
	return strings.Join(parts, ", ")
}
