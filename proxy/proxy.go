package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/plugins"
	"github.com/wasmgate/wasmgate/proxy/config"
)

// Proxy serves a configuration: its listeners, routes and upstreams.
type Proxy struct {
	cfg       *config.Config
	log       *slog.Logger
	listeners []*listener
	upstreams map[string]*upstream
	host      *plugins.Host
	parkAfter time.Duration // see parkAfter; tests shorten it

	ctx    context.Context // canceled on Shutdown: aborts upstream dials
	cancel context.CancelFunc

	mu       sync.Mutex
	sessions map[*session]struct{}
	pending  map[net.Conn]struct{} // accepted, not yet a session
	conns    sync.WaitGroup        // every accepted connection, handshake included
	closed   bool
}

// listener is a config.Listener with its socket and routes.
type listener struct {
	cfg    *config.Listener
	ln     net.Listener
	routes []*route
}

// New prepares a Proxy for a validated configuration. It opens no socket
// and loads no plugin. log may be nil.
func New(cfg *config.Config, log *slog.Logger) *Proxy {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ups := make(map[string]*upstream, len(cfg.Upstreams))
	for _, u := range cfg.Upstreams {
		ups[u.Name] = &upstream{cfg: u}
	}
	p := &Proxy{
		cfg:       cfg,
		log:       log,
		upstreams: ups,
		host:      plugins.NewHost(plugins.HostOptions{Logger: log}),
		sessions:  make(map[*session]struct{}),
		pending:   make(map[net.Conn]struct{}),
		parkAfter: parkAfter,
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	for _, l := range cfg.Listeners {
		p.listeners = append(p.listeners, &listener{cfg: l, routes: compileRoutes(cfg, l, ups)})
	}
	return p
}

// Plugins returns the Wasm host that runs the configuration's plugins:
// their key-value store and metrics.
func (p *Proxy) Plugins() *plugins.Host { return p.host }

// Start loads the plugins, opens every listener and starts serving. When a
// plugin cannot be loaded or a listener cannot be opened, everything done
// so far is undone and nothing is served.
func (p *Proxy) Start() error {
	if err := p.loadPlugins(); err != nil {
		p.host.Close(context.Background()) //nolint:errcheck // the load error is the one to report
		return err
	}
	for i, l := range p.listeners {
		ln, err := listen(l.cfg)
		if err != nil {
			for _, prev := range p.listeners[:i] {
				prev.ln.Close()
			}
			p.host.Close(context.Background()) //nolint:errcheck // the listen error is the one to report
			return fmt.Errorf("listener %q: %w", l.cfg.Name, err)
		}
		if l.cfg.TLS != nil {
			ln = tls.NewListener(ln, l.cfg.TLS)
		}
		l.ln = ln
	}
	for _, l := range p.listeners {
		go p.acceptLoop(l)
	}
	return nil
}

// Addr returns the address a listener is bound to (useful with port 0), or
// nil when there is no such listener or it is not open.
func (p *Proxy) Addr(name string) net.Addr {
	for _, l := range p.listeners {
		if l.cfg.Name == name && l.ln != nil {
			return l.ln.Addr()
		}
	}
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
	for _, l := range p.listeners {
		if l.ln != nil {
			l.ln.Close()
		}
	}
	p.cancel()
	for _, s := range sessions {
		go s.shutdown()
	}
	done := make(chan struct{})
	go func() {
		p.conns.Wait()
		close(done)
	}()
	defer p.host.Close(context.Background()) //nolint:errcheck // after the last connection: nothing is left to report to
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

// acceptLoop accepts connections until the listener is closed. Accept
// errors such as running out of file descriptors back off instead of
// spinning.
func (p *Proxy) acceptLoop(l *listener) {
	var backoff time.Duration
	for {
		nc, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			p.log.Error("accept failed; backing off", "listener", l.cfg.Name, "err", err, "backoff", backoff)
			time.Sleep(backoff)
			continue
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
		go p.serveConn(l, nc)
	}
}

// serveConn takes one client connection from TLS handshake to close.
func (p *Proxy) serveConn(l *listener, nc net.Conn) {
	handedOver := false // to the session, which then calls p.conns.Done
	defer func() {
		if !handedOver {
			p.forget(nc)
			p.conns.Done()
		}
	}()
	limits := p.cfg.Limits
	log := p.log.With("listener", l.cfg.Name, "client", nc.RemoteAddr().String())
	if tc, ok := nc.(*tls.Conn); ok {
		ctx, cancel := context.WithTimeout(p.ctx, limits.HandshakeTimeout)
		err := tc.HandshakeContext(ctx)
		cancel()
		if err != nil {
			log.Debug("TLS handshake failed", "err", err)
			nc.Close()
			return
		}
	}

	var (
		chosen  *route
		up      *dialResult
		filters *plugins.Conn
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
			if !r.originAllowed(req) {
				return nil, &codec.RejectError{Status: http.StatusForbidden, Body: "origin not allowed"}
			}
			chosen = r
			target := r.upstream
			var verdict *plugins.Verdict
			if r.chain != nil {
				s.peer = &filterPeer{s: s}
				filters, verdict = r.chain.Open(p.pluginRequest(req, r), s.peer)
				if rej := verdict.Reject; rej != nil {
					log.Debug("handshake rejected by a filter", "route", r.cfg.Name, "status", rej.Status)
					return nil, &codec.RejectError{Status: rej.Status, Header: rej.Header, Body: string(rej.Body)}
				}
				if verdict.Upstream != "" {
					target = p.upstreams[verdict.Upstream]
				}
			}
			opts := legOptions(&r.cfg.Limits)
			res, err := target.dial(p.ctx, req, r, verdict, &opts, func(server *url.URL, err error) {
				log.Warn("upstream dial failed", "route", r.cfg.Name, "upstream", target.cfg.Name, "server", server.String(), "err", err)
			})
			if err != nil {
				if filters != nil {
					filters.Abort("upstream unavailable")
				}
				return nil, err
			}
			up = res
			return &codec.Response{Protocol: res.hs.Protocol}, nil
		},
	}
	client, req, err := u.Upgrade(nc)
	if err != nil {
		log.Debug("handshake refused", "path", req.Path, "err", err)
		nc.Close()
		if up != nil {
			up.conn.CloseNow()
			if filters != nil {
				filters.Abort("client handshake failed")
			}
		}
		return
	}

	s.client, s.upstream, s.route, s.filters = client, up.conn, chosen, filters
	s.plog, s.listener, s.clientAddr, s.server = p.log, l.cfg.Name, nc.RemoteAddr().String(), up.server
	s.start = time.Now()
	opts := legOptions(&chosen.cfg.Limits)
	opts.Heartbeat = s.heartbeat
	opts.HeartbeatInterval = heartbeatInterval(chosen.cfg.Limits.IdleTimeout)
	opts.ParkAfter = p.parkAfter
	client.SetOptions(opts)
	up.conn.SetOptions(opts)

	p.mu.Lock()
	delete(p.pending, nc)
	p.sessions[s] = struct{}{}
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
		p.mu.Unlock()
		s.logDebug("closed", "duration", time.Since(s.start))
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

// legOptions are the codec options of both legs of a route.
func legOptions(lim *config.Limits) codec.Options {
	return codec.Options{
		MaxMessageSize: lim.MaxMessageSize,
		MaxFrameSize:   lim.MaxFrameSize,
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
