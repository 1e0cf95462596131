package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/plugins"
	"github.com/wasmgate/wasmgate/proxy/config"
)

// Proxy serves a configuration: its listeners, routes and upstreams. Its
// configuration can be replaced while it serves (Reload).
type Proxy struct {
	log       *slog.Logger
	accessLog *slog.Logger  // nil: no access log
	parkAfter time.Duration // see parkAfter; tests shorten it

	// Shared by every generation, so that a reload keeps the plugins'
	// keys, metrics and compiled code.
	kv            plugins.KV
	pluginMetrics *plugins.Metrics
	caches        *plugins.CompilationCaches
	metrics       *metrics

	genSeq atomic.Uint64
	gen    atomic.Pointer[generation] // the current configuration

	ctx    context.Context // canceled on Shutdown: aborts upstream dials
	cancel context.CancelFunc

	// reloadMu serializes Start, Reload and the closing of the sockets.
	reloadMu sync.Mutex
	sockets  map[string]*socket // by key; guarded by reloadMu
	// started is set by Start, under reloadMu; Ready reads it without,
	// so that a readiness probe does not wait for a reload.
	started atomic.Bool

	mu       sync.Mutex
	sessions map[*session]struct{}
	pending  map[net.Conn]struct{} // accepted, not yet a session
	gens     map[*generation]struct{}
	conns    sync.WaitGroup // every accepted connection, handshake included
	// Connections admitted under the caps (see admit): in all, by route
	// name, and by route name and client IP.
	admitted      int
	routeAdmitted map[string]int
	ipAdmitted    map[ipKey]int
	connSeq       uint64
	closed        bool
}

// Options configure a Proxy beyond its configuration.
type Options struct {
	// Log receives the proxy's log lines; nil discards them.
	Log *slog.Logger
	// AccessLog receives one line at level info for each connection that
	// ends and each handshake that is refused; nil logs none.
	AccessLog *slog.Logger
}

// New prepares a Proxy for a validated configuration, with its access
// log on log. It opens no socket and loads no plugin. log may be nil.
func New(cfg *config.Config, log *slog.Logger) *Proxy {
	return NewWithOptions(cfg, Options{Log: log, AccessLog: log})
}

// NewWithOptions is New with options.
func NewWithOptions(cfg *config.Config, opts Options) *Proxy {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{
		log:           log,
		accessLog:     opts.AccessLog,
		parkAfter:     parkAfter,
		kv:            plugins.NewMemoryKV(plugins.MemoryKVLimits{}),
		pluginMetrics: plugins.NewMetrics(),
		caches:        plugins.NewCompilationCaches(),
		sockets:       map[string]*socket{},
		sessions:      make(map[*session]struct{}),
		pending:       make(map[net.Conn]struct{}),
		gens:          map[*generation]struct{}{},
		routeAdmitted: map[string]int{},
		ipAdmitted:    map[ipKey]int{},
	}
	p.metrics = newMetrics(p)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.gen.Store(p.newGeneration(cfg))
	return p
}

// Plugins returns the Wasm host that runs the current configuration's
// plugins. Its key-value store and metrics registry are the same for
// every configuration the proxy loads.
func (p *Proxy) Plugins() *plugins.Host { return p.gen.Load().host }

// Config returns the configuration being served: the one given to New,
// or the last one Reload accepted.
func (p *Proxy) Config() *config.Config { return p.gen.Load().cfg }

// Registry returns the Prometheus registry of the proxy's metrics, for
// an admin endpoint to serve.
func (p *Proxy) Registry() *prometheus.Registry { return p.metrics.registry }

// Ready reports whether the proxy accepts connections: started and not
// shutting down.
func (p *Proxy) Ready() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.started.Load() && !p.closed
}

// Start loads the plugins, opens every listener and starts serving. When a
// plugin cannot be loaded or a listener cannot be opened, everything done
// so far is undone and nothing is served.
func (p *Proxy) Start() error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	if p.started.Load() {
		return errors.New("proxy already started")
	}
	g := p.gen.Load()
	opened, err := p.prepare(g)
	if err != nil {
		return err
	}
	p.started.Store(true)
	p.commitSockets(g, opened)
	p.metrics.loaded(g)
	return nil
}

// prepare makes g ready to serve: its plugins loaded and the sockets it
// adds open, which it returns. On error nothing of it is left.
func (p *Proxy) prepare(g *generation) (map[string]*socket, error) {
	if err := p.loadPlugins(g); err != nil {
		g.host.Close(context.Background()) //nolint:errcheck // the load error is the one to report
		return nil, err
	}
	opened, err := p.openSockets(g)
	if err != nil {
		g.host.Close(context.Background()) //nolint:errcheck // the listen error is the one to report
		return nil, err
	}
	p.mu.Lock()
	p.gens[g] = struct{}{}
	p.mu.Unlock()
	return opened, nil
}

// openSockets opens the sockets g needs that are not open yet. On error
// it closes those it opened.
func (p *Proxy) openSockets(g *generation) (map[string]*socket, error) {
	opened := map[string]*socket{}
	for _, lc := range g.cfg.Listeners {
		key := socketKey(lc)
		if p.sockets[key] != nil || opened[key] != nil {
			continue
		}
		ln, err := listen(lc)
		if err != nil {
			for _, s := range opened {
				s.ln.Close()
			}
			return nil, fmt.Errorf("listener %q: %w", lc.Name, err)
		}
		opened[key] = &socket{key: key, ln: ln}
	}
	return opened, nil
}

// commitSockets starts accepting on the sockets just opened for g, which
// is now current, and closes those g does not use.
func (p *Proxy) commitSockets(g *generation, opened map[string]*socket) {
	for key, s := range p.sockets {
		if g.listeners[key] == nil {
			s.ln.Close()
			delete(p.sockets, key)
		}
	}
	for key, s := range opened {
		p.sockets[key] = s
		go p.acceptLoop(s)
	}
}

// Addr returns the address a listener of the current configuration is
// bound to (useful with port 0), or nil when there is no such listener or
// it is not open.
func (p *Proxy) Addr(name string) net.Addr {
	g := p.gen.Load()
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	for key, l := range g.listeners {
		if l.cfg.Name != name {
			continue
		}
		if s := p.sockets[key]; s != nil {
			return s.ln.Addr()
		}
	}
	return nil
}

// ErrClosed is returned by Reload after Shutdown.
var ErrClosed = errors.New("proxy shut down")

// Reload replaces the configuration being served with cfg, which must be
// validated. Its plugins are loaded and its new listeners opened first;
// on any error nothing changes and the proxy goes on serving the current
// configuration. Listeners whose address is unchanged keep their socket.
// New connections get the new configuration; open connections keep their
// route and plugin instances until they close, except that a plugin with
// reload = "live" in both configurations moves its open connections to
// its new version at their next message boundary.
func (p *Proxy) Reload(cfg *config.Config) error {
	start := time.Now()
	err := p.reload(cfg)
	p.metrics.reloaded(err == nil)
	if err != nil {
		p.log.Error("configuration reload failed; the running configuration stays", "err", err)
		return err
	}
	g := p.gen.Load()
	p.log.Info("configuration reloaded", "generation", g.id, "source", cfg.Source,
		"listeners", len(cfg.Listeners), "routes", len(cfg.Routes), "plugins", len(g.plugins),
		"took", time.Since(start).Round(time.Microsecond))
	return nil
}

func (p *Proxy) reload(cfg *config.Config) error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case !p.started.Load():
		return errors.New("proxy not started")
	}
	g := p.newGeneration(cfg)
	opened, err := p.prepare(g)
	if err != nil {
		return err
	}
	old := p.gen.Swap(g)
	p.commitSockets(g, opened)
	for name, next := range g.plugins {
		if prev := old.plugins[name]; prev != nil && g.live(name) && old.live(name) {
			prev.Supersede(next)
		}
	}
	p.metrics.loaded(g)
	p.retireGen(old)
	return nil
}

// Shutdown stops accepting, closes every open WebSocket on both legs with
// 1001, and waits for the connections to end or ctx to be done, after
// which the remaining sockets are closed at once.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	sessions := make([]*session, 0, len(p.sessions))
	for s := range p.sessions {
		sessions = append(sessions, s)
	}
	p.mu.Unlock()
	p.reloadMu.Lock()
	for _, s := range p.sockets {
		s.ln.Close() // kept in p.sockets: Addr still tells where it was
	}
	p.reloadMu.Unlock()
	p.cancel()
	for _, s := range sessions {
		go s.shutdown()
	}
	done := make(chan struct{})
	go func() {
		p.conns.Wait()
		close(done)
	}()
	defer p.closeHosts()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		for s := range p.sessions {
			s.client.CloseNow()
			s.upstream.CloseNow()
		}
		for nc := range p.pending {
			nc.Close()
		}
		p.mu.Unlock()
		<-done
		return ctx.Err()
	}
}

// closeHosts closes the plugins of every generation, after the last
// connection: nothing is left to report errors to.
func (p *Proxy) closeHosts() {
	p.mu.Lock()
	gens := p.gens
	p.gens = map[*generation]struct{}{}
	p.mu.Unlock()
	ctx := context.Background()
	for g := range gens {
		g.host.Close(ctx) //nolint:errcheck // see above
	}
	p.caches.Close(ctx) //nolint:errcheck // see above
}

// retireGen retires a generation that a reload replaced.
func (p *Proxy) retireGen(g *generation) {
	if g.retire() {
		p.genDone(g)
	}
}

// releaseGen drops a connection's reference to its generation.
func (p *Proxy) releaseGen(g *generation) {
	if g.release() {
		p.genDone(g)
	}
}

// genDone releases the plugins of a retired generation whose last
// connection ended: each is closed once no connection uses it (a live
// reload may have moved connections of older generations onto it).
func (p *Proxy) genDone(g *generation) {
	p.mu.Lock()
	delete(p.gens, g)
	p.mu.Unlock()
	g.host.Retire()
}

// liveGens returns the generations whose plugins may still serve
// connections.
func (p *Proxy) liveGens() []*generation {
	p.mu.Lock()
	defer p.mu.Unlock()
	gens := make([]*generation, 0, len(p.gens))
	for g := range p.gens {
		gens = append(gens, g)
	}
	slices.SortFunc(gens, func(a, b *generation) int { return int(a.id - b.id) })
	return gens
}

// acceptLoop accepts connections until the socket is closed. A failed
// Accept backs off, 5 ms doubling to 1 s, instead of spinning: out of file
// descriptors, the pending connection stays in the kernel's queue and
// Accept would fail again at once. It waits there to be accepted when
// descriptors are freed; no spare descriptor is kept to accept and close
// it (see RATIONALE.md). Each failure is logged at debug level; at error
// level the first is, and then one per fdReportInterval at most, so that
// a sustained exhaustion cannot flood the log.
func (p *Proxy) acceptLoop(s *socket) {
	var (
		backoff  time.Duration
		failures int // since the last connection accepted
		report   fdReport
	)
	addr := s.ln.Addr().String()
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			failures++
			p.log.Debug("accept failed", "address", addr, "err", err, "backoff", backoff)
			if due, unlogged := report.due(time.Now()); due {
				if advice, ok := fdAdvice(err); ok {
					p.log.Error("accept failed: "+advice+"; backing off", "address", addr,
						"open_files_limit", openFilesLimit(), "max_connections", p.gen.Load().cfg.Limits.MaxConnections,
						"err", err, "backoff", backoff, "unlogged_failures", unlogged)
				} else {
					p.log.Error("accept failed; backing off", "address", addr, "err", err, "backoff", backoff, "unlogged_failures", unlogged)
				}
			}
			time.Sleep(backoff)
			continue
		}
		if failures > 0 {
			p.log.Info("accepting again", "address", addr, "failed_accepts", failures)
			failures = 0
			report.reset()
		}
		backoff = 0
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			nc.Close()
			return
		}
		p.conns.Add(1)
		p.pending[nc] = struct{}{}
		p.mu.Unlock()
		go p.serveConn(s, nc)
	}
}

// Handshake outcomes, the label of wasmgate_handshakes_total.
const (
	outcomeAccepted       = "accepted"
	outcomeRejected       = "rejected"        // no route, origin, or a filter
	outcomeLimited        = "limited"         // a connection cap is reached, or the proxy's file descriptors
	outcomeUpstreamFailed = "upstream_failed" // the upstream refused or could not be reached
	outcomeBadRequest     = "bad_request"     // malformed, too large or too slow
	outcomeClientGone     = "client_gone"     // the client left during the handshake
	outcomeTLSFailed      = "tls_failed"
	outcomePage           = "page" // not an upgrade: the console page, or 404
)

// serveConn takes one client connection from TLS handshake to close.
func (p *Proxy) serveConn(sock *socket, raw net.Conn) {
	g := p.acquireGen()
	handedOver := false // to the session, which then releases everything
	var admitted *admission
	defer func() {
		if !handedOver {
			p.dismiss(admitted)
			p.forget(raw)
			p.releaseGen(g)
			p.conns.Done()
		}
	}()
	l := g.listeners[sock.key]
	if l == nil {
		// Accepted while a reload closed the socket.
		raw.Close()
		return
	}
	limits := g.cfg.Limits
	clientAddr := raw.RemoteAddr().String()
	nc := raw
	if l.cfg.TLS != nil {
		tc := tls.Server(raw, l.cfg.TLS)
		ctx, cancel := context.WithTimeout(p.ctx, limits.HandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			p.log.Debug("TLS handshake failed", "listener", l.cfg.Name, "client", clientAddr, "err", err)
			status := 0
			// A client that sends a plain HTTP request, such as a ws://
			// URL for a wss:// listener, gets a status it can show, as
			// net/http answers one, rather than only a closed socket.
			var re tls.RecordHeaderError
			if errors.As(err, &re) && re.Conn != nil && string(re.RecordHeader[:4]) == "GET " {
				status = http.StatusBadRequest
				const body = "this listener speaks TLS: connect with wss://\n"
				raw.SetWriteDeadline(time.Now().Add(limits.HandshakeTimeout)) //nolint:errcheck // a failed deadline shows as a failed write
				fmt.Fprintf(raw, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"+
					"Content-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
			}
			p.metrics.handshake(l.cfg.Name, "", outcomeTLSFailed, status)
			raw.Close()
			return
		}
		nc = tc
	}

	var (
		chosen  *route
		up      *dialResult
		filters *plugins.Conn
		outcome = outcomeRejected
	)
	s := &session{}
	u := codec.Upgrader{
		HandshakeTimeout: limits.HandshakeTimeout,
		MaxHeaderBytes:   limits.MaxHeaderBytes,
		Decide: func(req *codec.Request) (*codec.Response, error) {
			r := l.match(req)
			if r == nil {
				return nil, &codec.RejectError{Status: http.StatusNotFound, Body: "no route for " + req.Path}
			}
			chosen = r
			if r.cfg.RequireTLS && req.TLS == nil {
				return nil, &codec.RejectError{Status: http.StatusForbidden, Body: "route " + r.cfg.Name + " requires TLS: connect with wss://"}
			}
			if !r.originAllowed(req) {
				return nil, &codec.RejectError{Status: http.StatusForbidden, Body: "origin not allowed"}
			}
			adm, rej := p.admit(g, r, hostOnly(clientAddr))
			if rej != nil {
				outcome = outcomeLimited
				return nil, rej
			}
			admitted = adm
			target := r.upstream
			var verdict *plugins.Verdict
			if r.chain != nil {
				s.peer = &filterPeer{s: s}
				filters, verdict = r.chain.Open(p.pluginRequest(g, req, r), s.peer)
				if rej := verdict.Reject; rej != nil {
					p.log.Debug("handshake rejected by a filter", "route", r.cfg.Name, "status", rej.Status)
					return nil, &codec.RejectError{Status: rej.Status, Header: rej.Header, Body: string(rej.Body)}
				}
				if verdict.Upstream != "" {
					target = g.upstreams[verdict.Upstream]
				}
			}
			outcome = outcomeUpstreamFailed
			opts := legOptions(&r.cfg.Limits, false)
			res, err := target.dial(p.ctx, req, r, verdict, &opts, p.metrics.dialObserver(target.cfg.Name), func(server *url.URL, err error) {
				p.log.Warn("upstream dial failed", "route", r.cfg.Name, "upstream", target.cfg.Name, "server", server.String(), "err", err)
			})
			if err != nil {
				if errors.Is(err, errOutOfFiles) {
					outcome = outcomeLimited // the proxy's own limit, not the upstream's
				}
				if filters != nil {
					filters.Abort("upstream unavailable")
				}
				return nil, err
			}
			up = res
			return &codec.Response{Protocol: res.hs.Protocol, Compression: r.clientDeflate}, nil
		},
	}
	pageStatus := 0
	if l.cfg.Console {
		u.Plain = func(req *codec.Request) *codec.PlainResponse {
			resp := consolePage(req)
			pageStatus = resp.Status
			return resp
		}
	}
	client, req, err := u.Upgrade(nc)
	if errors.Is(err, codec.ErrNotUpgrade) {
		p.metrics.handshake(l.cfg.Name, "", outcomePage, pageStatus)
		p.logRefused(l.cfg.Name, clientAddr, "", req, outcomePage, pageStatus, err)
		nc.Close()
		return
	}
	if err != nil {
		status := 0
		var rej *codec.RejectError
		var answered interface{ HTTPStatus() int } // a malformed request
		switch {
		case errors.As(err, &rej):
			status = rej.Status
		case errors.Is(err, codec.ErrHeaderTooLarge):
			outcome, status = outcomeBadRequest, http.StatusRequestHeaderFieldsTooLarge
		case errors.Is(err, codec.ErrHandshakeTimeout):
			outcome, status = outcomeBadRequest, http.StatusRequestTimeout
		case errors.As(err, &answered):
			outcome, status = outcomeBadRequest, answered.HTTPStatus()
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			outcome = outcomeClientGone
		case up != nil:
			// Accepted, but the 101 could not be written.
			outcome = outcomeClientGone
		case chosen == nil:
			outcome, status = outcomeBadRequest, http.StatusBadRequest
		default:
			outcome, status = outcomeRejected, http.StatusInternalServerError
		}
		routeName := ""
		if chosen != nil {
			routeName = chosen.cfg.Name
		}
		p.metrics.handshake(l.cfg.Name, routeName, outcome, status)
		p.logRefused(l.cfg.Name, clientAddr, routeName, req, outcome, status, err)
		nc.Close()
		if up != nil {
			up.conn.CloseNow()
			if filters != nil {
				filters.Abort("client handshake failed")
			}
		}
		return
	}
	p.metrics.handshake(l.cfg.Name, chosen.cfg.Name, outcomeAccepted, http.StatusSwitchingProtocols)

	s.client, s.upstream, s.route, s.filters, s.gen = client, up.conn, chosen, filters, g
	s.plog, s.listener, s.clientAddr, s.server = p.log, l.cfg.Name, clientAddr, up.server
	s.subprotocol, s.path, s.upstreamName = up.hs.Protocol, req.URI, up.upstream
	s.stats = p.metrics.route(chosen.cfg.Name)
	s.admission = admitted
	s.clientRate = newRateLimiter(chosen.cfg.Limits.MaxMessageRate, chosen.cfg.Limits.MessageBurst)
	s.start = time.Now()
	for _, leg := range []struct {
		conn       *codec.Conn
		fromClient bool
	}{{client, true}, {up.conn, false}} {
		opts := legOptions(&chosen.cfg.Limits, leg.fromClient)
		opts.Heartbeat = s.heartbeat
		opts.HeartbeatInterval = heartbeatInterval(chosen.cfg.Limits.IdleTimeout)
		opts.ParkAfter = p.parkAfter
		leg.conn.SetOptions(opts)
	}

	p.mu.Lock()
	delete(p.pending, raw)
	p.connSeq++
	s.id = p.connSeq
	p.sessions[s] = struct{}{}
	s.stats.total++
	closed := p.closed
	p.mu.Unlock()
	if closed {
		go s.shutdown()
	}
	s.logDebug("connected", "path", req.URI, "subprotocol", up.hs.Protocol)
	handedOver = true
	s.run(func() {
		p.mu.Lock()
		delete(p.sessions, s)
		s.stats.closed(s)
		p.mu.Unlock()
		p.dismiss(s.admission)
		p.metrics.closed(s)
		p.logAccess(s)
		p.releaseGen(g)
		p.conns.Done()
	})
}

func (p *Proxy) forget(nc net.Conn) {
	p.mu.Lock()
	delete(p.pending, nc)
	p.mu.Unlock()
}

// match returns the first route of l that matches req, or nil.
func (l *listener) match(req *codec.Request) *route {
	for _, r := range l.routes {
		if r.matches(req) {
			return r
		}
	}
	return nil
}

// legOptions are the codec options of a route's client leg (fromClient)
// or upstream leg: the size limits are of what that leg's peer sends.
func legOptions(lim *config.Limits, fromClient bool) codec.Options {
	maxMessage, maxFrame := lim.UpstreamMaxMessageSize, lim.UpstreamMaxFrameSize
	if fromClient {
		maxMessage, maxFrame = lim.ClientMaxMessageSize, lim.ClientMaxFrameSize
	}
	return codec.Options{
		MaxMessageSize: maxMessage,
		MaxFrameSize:   maxFrame,
		PingInterval:   lim.PingInterval,
		PongTimeout:    lim.PongTimeout,
		CloseTimeout:   lim.CloseTimeout,
		WriteTimeout:   lim.WriteTimeout,
		ManualClose:    true,
	}
}

// heartbeatInterval is how often a quiet leg checks the idle timeout: a
// quarter of it, so a session ends within 125% of the timeout.
func heartbeatInterval(idle time.Duration) time.Duration {
	if idle <= 0 {
		return 0
	}
	return max(idle/4, 10*time.Millisecond)
}

// Generation returns the number of the configuration being served: 1
// for the one given to New, one more at each successful reload.
func (p *Proxy) Generation() uint64 { return p.gen.Load().id }

// ReloadFrom loads a configuration with load and serves it as Reload
// does. A load that fails counts as a failed reload, as one that Reload
// refuses does.
func (p *Proxy) ReloadFrom(load func() (*config.Config, error)) error {
	cfg, err := load()
	if err != nil {
		p.metrics.reloaded(false)
		p.log.Error("configuration reload failed; the running configuration stays", "err", err)
		return err
	}
	return p.Reload(cfg)
}

// PluginInfo describes a plugin of the configuration being served.
type PluginInfo struct {
	Name string
	// Instances is how many of its instances are healthy.
	Instances int
	// Compile and Start are the time it took to compile the module (short
	// when it came from the compilation cache) and to start its
	// instances.
	Compile, Start time.Duration
}

// PluginInfo returns the plugins that the routes of the configuration being
// served use, in the configuration's order.
func (p *Proxy) PluginInfo() []PluginInfo {
	g := p.gen.Load()
	var infos []PluginInfo
	for _, pc := range g.cfg.Plugins {
		pl := g.plugins[pc.Name]
		if pl == nil {
			continue
		}
		compile, start := pl.LoadTimes()
		infos = append(infos, PluginInfo{Name: pc.Name, Instances: pl.Instances(), Compile: compile, Start: start})
	}
	return infos
}
