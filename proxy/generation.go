package proxy

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/plugins"
	"github.com/wasmgate/wasmgate/proxy/config"
)

// A generation is one loaded configuration: its routes, upstreams and
// plugins. A reload makes a new generation and retires the current one;
// the connections a generation accepted keep its routes and plugin
// instances until they close, and its plugins are released after its
// last connection.
type generation struct {
	id        uint64
	cfg       *config.Config
	listeners map[string]*listener // by socket key
	upstreams map[string]*upstream
	host      *plugins.Host
	plugins   map[string]*plugins.Plugin // by name, those a route uses

	mu      sync.Mutex
	refs    int // handshakes in progress and sessions
	retired bool
	done    bool // retired with no reference left: its host is retired
}

// listener is a config.Listener with its routes, in one generation.
type listener struct {
	cfg    *config.Listener
	routes []*route
}

// newGeneration compiles cfg's routes. It loads no plugin.
func (p *Proxy) newGeneration(cfg *config.Config) *generation {
	ups := make(map[string]*upstream, len(cfg.Upstreams))
	for _, u := range cfg.Upstreams {
		ups[u.Name] = &upstream{cfg: u}
	}
	g := &generation{
		id:        p.genSeq.Add(1),
		cfg:       cfg,
		listeners: make(map[string]*listener, len(cfg.Listeners)),
		upstreams: ups,
		plugins:   map[string]*plugins.Plugin{},
		host: plugins.NewHost(plugins.HostOptions{
			Logger:  p.log,
			KV:      p.kv,
			Metrics: p.pluginMetrics,
			Caches:  p.caches,
		}),
	}
	for _, l := range cfg.Listeners {
		routes := compileRoutes(cfg, l, ups)
		for _, r := range routes {
			r.chainLatency = p.metrics.chainObservers(r.cfg.Name)
		}
		g.listeners[socketKey(l)] = &listener{cfg: l, routes: routes}
	}
	return g
}

// loadPlugins loads every plugin a route uses and gives each route its
// chain of filters. Counters are kept by plugin name across generations,
// so that a reload does not reset them.
func (p *Proxy) loadPlugins(g *generation) error {
	loaded := map[*config.Plugin]*plugins.Plugin{}
	for _, lc := range g.cfg.Listeners { // in order: the first error is the first in the file
		for _, r := range g.listeners[socketKey(lc)].routes {
			if len(r.cfg.Filters) == 0 {
				continue
			}
			chain := make([]*plugins.Plugin, 0, len(r.cfg.Filters))
			for _, pc := range r.cfg.Filters {
				pl, ok := loaded[pc]
				if !ok {
					var err error
					pl, err = g.host.Load(context.Background(), p.pluginSpec(pc))
					if err != nil {
						return fmt.Errorf("load plugin %q: %w", pc.Name, err)
					}
					compile, start := pl.LoadTimes()
					p.log.Info("plugin loaded", "plugin", pc.Name, "instances", pc.Instances,
						"sandbox", pc.Sandbox.String(), "on_error", pc.OnError.String(), "reload", pc.Reload.String(),
						"compile", compile.Round(time.Microsecond), "start", start.Round(time.Microsecond))
					loaded[pc] = pl
					g.plugins[pc.Name] = pl
				}
				chain = append(chain, pl)
			}
			r.chain = plugins.NewChain(r.cfg.Limits.MaxMessageSize, chain...)
		}
	}
	return nil
}

func (p *Proxy) pluginSpec(pc *config.Plugin) plugins.Spec {
	return plugins.Spec{
		Name:        pc.Name,
		Wasm:        pc.Wasm,
		Config:      pc.Config,
		Instances:   pc.Instances,
		MemoryLimit: pc.MemoryLimit,
		Timeout:     pc.Timeout,
		FailOpen:    pc.OnError == config.OnErrorPass,
		Plain:       pc.Sandbox == config.SandboxPlain,
		KVNamespace: pc.KVNamespace,
		CacheDir:    pc.CacheDir,
		Live:        pc.Reload == config.ReloadLive,
		Counters:    p.metrics.pluginCounters(pc.Name),
	}
}

// acquireGen returns the current generation with a reference taken for a
// new connection; release gives it back.
func (p *Proxy) acquireGen() *generation {
	for {
		g := p.gen.Load()
		g.mu.Lock()
		if !g.done {
			g.refs++
			g.mu.Unlock()
			return g
		}
		// Retired between the load and the lock: the new one is current.
		g.mu.Unlock()
	}
}

// release drops a reference. It reports whether that was the last one
// of a retired generation, whose plugins are then to be released.
func (g *generation) release() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refs--
	if g.retired && g.refs == 0 && !g.done {
		g.done = true
		return true
	}
	return false
}

// retire marks g as replaced. It reports whether no connection holds g,
// whose plugins are then to be released.
func (g *generation) retire() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.retired = true
	if g.refs == 0 && !g.done {
		g.done = true
		return true
	}
	return false
}

// live reports whether g's plugin name has reload = "live".
func (g *generation) live(name string) bool {
	for _, pc := range g.cfg.Plugins {
		if pc.Name == name {
			return pc.Reload == config.ReloadLive
		}
	}
	return false
}
