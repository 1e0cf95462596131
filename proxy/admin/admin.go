// Package admin is wasmgate's admin plane: an HTTP server, apart from the
// data plane's listeners, for the people and programs that operate the
// proxy. It serves the Prometheus metrics, liveness and readiness checks,
// the configuration being served, the open connections, a reload of the
// configuration, the log level and, when asked, Go's profiler.
//
// It has no authentication: bind it to loopback, or to an address only
// operators reach.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wasmgate/wasmgate/proxy"
)

// Options configure the admin handler.
type Options struct {
	// Proxy is the proxy to operate. Required.
	Proxy *proxy.Proxy
	// Reload reloads the configuration from where it was loaded, and
	// returns why it failed. nil: POST /reload answers 501.
	Reload func(ctx context.Context) error
	// LogLevel, when set, is the level GET and PUT /logging read and
	// change.
	LogLevel *slog.LevelVar
	// Pprof serves net/http/pprof under /debug/pprof/.
	Pprof bool
	// Log receives the handler's own errors; nil discards them.
	Log *slog.Logger
}

// Page sizes of GET /connections.
const (
	DefaultConnectionsLimit = 100
	MaxConnectionsLimit     = 10000
)

// Handler returns the admin plane's HTTP handler:
//
//	GET  /metrics      Prometheus metrics (text format; OpenMetrics when asked)
//	GET  /healthz      200 while the process serves
//	GET  /readyz       200 when accepting connections, 503 before the start and while draining
//	GET  /config       the configuration being served, as JSON, secrets redacted
//	GET  /connections  the number of open connections and a page of them, oldest first (?limit=&offset=)
//	POST /reload       reload the configuration; 200, or 422 with the reason and the old one kept
//	GET  /logging      the log level; PUT or POST /logging?level=debug changes it
//	     /debug/pprof/ Go's profiler, when Options.Pprof is set
func Handler(opts Options) http.Handler {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	a := &handler{opts: opts}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.index)
	mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Proxy.Registry(), promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorLog:          slog.NewLogLogger(opts.Log.Handler(), slog.LevelError),
	}))
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /readyz", a.readyz)
	mux.HandleFunc("GET /config", a.config)
	mux.HandleFunc("GET /connections", a.connections)
	mux.HandleFunc("POST /reload", a.reload)
	mux.HandleFunc("GET /logging", a.logging)
	mux.HandleFunc("PUT /logging", a.logging)
	mux.HandleFunc("POST /logging", a.logging)
	if opts.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	return mux
}

type handler struct {
	opts Options
}

func (a *handler) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, `wasmgate admin
GET  /metrics      Prometheus metrics
GET  /healthz      liveness
GET  /readyz       readiness: 503 while draining
GET  /config       the configuration being served, secrets redacted
GET  /connections  open connections (?limit=&offset=)
POST /reload       reload the configuration
GET  /logging      the log level; PUT /logging?level=debug changes it
`)
	if a.opts.Pprof {
		fmt.Fprint(w, "     /debug/pprof/ Go's profiler\n")
	}
}

func (a *handler) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprint(w, "ok\n")
}

func (a *handler) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !a.opts.Proxy.Ready() {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, "not ready: starting or draining\n")
		return
	}
	fmt.Fprint(w, "ready\n")
}

func (a *handler) config(w http.ResponseWriter, r *http.Request) {
	cfg := a.opts.Proxy.Config()
	doc, err := cfg.EffectiveJSON()
	if err != nil {
		a.opts.Log.Error("admin: cannot render the configuration", "err", err)
		http.Error(w, "cannot render the configuration: "+err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Generation uint64          `json:"generation"`
		Config     json.RawMessage `json:"config"`
	}{a.opts.Proxy.Generation(), doc})
}

func (a *handler) connections(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), DefaultConnectionsLimit, 0, MaxConnectionsLimit)
	if err != nil {
		http.Error(w, "limit: "+err.Error(), http.StatusBadRequest)
		return
	}
	offset, err := intParam(q.Get("offset"), 0, 0, int(^uint(0)>>1))
	if err != nil {
		http.Error(w, "offset: "+err.Error(), http.StatusBadRequest)
		return
	}
	total, page := a.opts.Proxy.Connections(offset, limit)
	writeJSON(w, http.StatusOK, struct {
		Total       int              `json:"total"`
		Offset      int              `json:"offset"`
		Limit       int              `json:"limit"`
		Connections []proxy.ConnInfo `json:"connections"`
	}{total, offset, limit, page})
}

// intParam parses an optional integer query parameter within [lo, hi].
func intParam(s string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%q is not a whole number from %d to %d", s, lo, hi)
	}
	return n, nil
}

// reloadResult is the answer to POST /reload.
type reloadResult struct {
	Status     string `json:"status"` // "reloaded" or "failed"
	Generation uint64 `json:"generation"`
	Error      string `json:"error,omitempty"`
	Took       string `json:"took"`
}

func (a *handler) reload(w http.ResponseWriter, r *http.Request) {
	if a.opts.Reload == nil {
		http.Error(w, "this proxy has no configuration source to reload from", http.StatusNotImplemented)
		return
	}
	start := time.Now()
	err := a.opts.Reload(r.Context())
	res := reloadResult{Status: "reloaded", Generation: a.opts.Proxy.Generation(), Took: time.Since(start).Round(time.Microsecond).String()}
	status := http.StatusOK
	if err != nil {
		res.Status, res.Error = "failed", err.Error()
		status = http.StatusUnprocessableEntity
		if errors.Is(err, proxy.ErrClosed) {
			status = http.StatusServiceUnavailable
		}
	}
	writeJSON(w, status, res)
}

func (a *handler) logging(w http.ResponseWriter, r *http.Request) {
	lv := a.opts.LogLevel
	if lv == nil {
		http.Error(w, "the log level cannot be changed here", http.StatusNotImplemented)
		return
	}
	if r.Method != http.MethodGet {
		s := r.URL.Query().Get("level")
		var level slog.Level
		if err := level.UnmarshalText([]byte(s)); err != nil || s == "" {
			http.Error(w, fmt.Sprintf("level %q: want debug, info, warn or error", s), http.StatusBadRequest)
			return
		}
		if old := lv.Level(); old != level {
			lv.Set(level)
			a.opts.Log.Warn("log level changed through the admin endpoint", "from", old.String(), "to", level.String())
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Level string `json:"level"`
	}{lv.Level().String()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n')) //nolint:errcheck // the client left
}

// A Server serves the admin handler on its own listener.
type Server struct {
	srv *http.Server
	ln  net.Listener
	err chan error
}

// Listen opens address and serves h on it.
func Listen(address string, h http.Handler) (*Server, error) {
	ln, err := net.Listen("tcp", address)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	s := &Server{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       time.Minute,
		},
		ln:  ln,
		err: make(chan error, 1),
	}
	go func() { s.err <- s.srv.Serve(ln) }()
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Shutdown stops the server, letting requests in progress finish until
// ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if serr := <-s.err; !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}
