package plugins

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// Defaults of a Spec's zero fields.
const (
	DefaultMemoryLimit = 64 << 20
	DefaultTimeout     = 5 * time.Millisecond
	// DefaultStartTimeout bounds an instance's start: _initialize and
	// wasmgate_on_start. A Go guest's runtime takes milliseconds to start,
	// far more than a hook's deadline.
	DefaultStartTimeout = 10 * time.Second
)

// pageSize is the size of a Wasm memory page.
const pageSize = 64 << 10

// Spec describes one plugin to load.
type Spec struct {
	// Name names the plugin in logs, metrics and errors.
	Name string
	// Wasm is the module's binary.
	Wasm []byte
	// Config is given to the plugin by config_get: JSON, "null" when empty.
	Config []byte
	// Instances is the size of the instance pool; 0 means GOMAXPROCS.
	Instances int
	// MemoryLimit caps each instance's linear memory, in bytes (rounded up
	// to whole pages); 0 means DefaultMemoryLimit.
	MemoryLimit int64
	// Timeout is the deadline of each hook call; 0 means DefaultTimeout.
	Timeout time.Duration
	// FailOpen is on_error = "pass": after a fault, the connections pinned
	// to the failed instance skip this plugin instead of closing with 1011.
	FailOpen bool
	// Plain selects the plain sandbox: calls are not interrupted at their
	// deadline (cheaper), an overrun is a fault only once the call returns,
	// and a guest stuck in a loop cannot be stopped. The default, checked,
	// interrupts a call at its deadline.
	Plain bool
	// KVNamespace separates this plugin's keys in the shared store;
	// plugins with the same namespace share keys. "" means Name.
	KVNamespace string
	// CacheDir is a directory for wazero's on-disk compilation cache; ""
	// keeps compiled code in memory only (shared by the Host, or by every
	// Host of HostOptions.Caches).
	CacheDir string
	// Live is reload = "live": after a reload, Supersede moves the
	// plugin's open connections to its new version at their next message
	// boundary. A Conn whose chain has a live plugin keeps, for the
	// reopens, a copy of the request each live filter saw at the
	// handshake (the client's, with the edits of the filters before it).
	Live bool
	// Counters receives the plugin's counts; nil means counters of its
	// own. Giving every version of a plugin the same Counters keeps its
	// counts across reloads.
	Counters *Counters
}

// HostOptions configure a Host. The zero value is usable.
type HostOptions struct {
	// Logger receives the plugins' log lines and the host's own; nil
	// means slog.Default().
	Logger *slog.Logger
	// KV is the key-value store of kv_*; nil means a NewMemoryKV with
	// default limits.
	KV KV
	// Metrics receives the plugins' metrics; nil means a new registry.
	Metrics *Metrics
	// StartTimeout bounds each instance's start; 0 means
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// Caches hold the compiled code; nil means caches of the host's own,
	// closed by Close. Caches given here are the caller's to close, after
	// every Host that uses them.
	Caches *CompilationCaches
}

// A Host loads and runs plugins. It owns their instances, and their
// compiled code unless HostOptions.Caches holds it; the key-value store
// and the metrics registry may be shared with other hosts.
type Host struct {
	opts      HostOptions
	log       *slog.Logger
	caches    *CompilationCaches
	ownCaches bool

	mu      sync.Mutex
	plugins []*Plugin
	closed  bool // Load refuses
	retired bool // each plugin closes once it serves no connection
	loading int  // Loads in progress, which use the caches
}

// NewHost makes a Host.
func NewHost(opts HostOptions) *Host {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.KV == nil {
		opts.KV = NewMemoryKV(MemoryKVLimits{})
	}
	if opts.Metrics == nil {
		opts.Metrics = NewMetrics()
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	h := &Host{opts: opts, log: opts.Logger, caches: opts.Caches}
	if h.caches == nil {
		h.caches, h.ownCaches = NewCompilationCaches(), true
	}
	return h
}

// KV returns the host's key-value store.
func (h *Host) KV() KV { return h.opts.KV }

// Metrics returns the host's metrics registry.
func (h *Host) Metrics() *Metrics { return h.opts.Metrics }

// ErrHostClosed is returned by Load after Close or Retire.
var ErrHostClosed = errors.New("plugin host closed")

// Load compiles spec's module, checks it against the ABI, and starts its
// pool of instances: each runs _initialize and wasmgate_on_start. An error
// from any of them refuses the plugin.
func (h *Host) Load(ctx context.Context, spec Spec) (*Plugin, error) {
	h.mu.Lock()
	closed := h.closed
	if !closed {
		h.loading++
	}
	h.mu.Unlock()
	if closed {
		return nil, ErrHostClosed
	}
	defer func() {
		h.mu.Lock()
		h.loading--
		h.mu.Unlock()
		h.released()
	}()
	spec = withDefaults(spec)
	cache, err := h.caches.cache(spec.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", spec.Name, err)
	}
	pages := uint32((spec.MemoryLimit + pageSize - 1) / pageSize)
	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(cache).
		WithMemoryLimitPages(pages).
		WithCloseOnContextDone(!spec.Plain)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	p := &Plugin{host: h, spec: spec, rt: rt, log: h.log.With("plugin", spec.Name), counters: spec.Counters}
	if p.counters == nil {
		p.counters = new(Counters)
	}
	if err := p.compile(ctx); err != nil {
		if p.compiled != nil {
			p.compiled.Close(ctx) //nolint:errcheck // the compile error is the one to report
		}
		rt.Close(ctx) //nolint:errcheck // the compile error is the one to report
		return nil, err
	}
	started := time.Now()
	p.slots = make([]*slot, spec.Instances)
	for i := range p.slots {
		s := &slot{plugin: p, index: i, conns: map[uint32]*binding{}, ticks: map[uint32]*ticker{}}
		p.slots[i] = s
		// Locked: a timer set by on_start may fire before s.inst is set.
		s.mu.Lock()
		inst, err := p.newInstance(ctx, s)
		s.inst = inst
		s.mu.Unlock()
		if err != nil {
			p.Close(ctx) //nolint:errcheck // the start error is the one to report
			return nil, err
		}
	}
	p.startTime = time.Since(started)
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		p.Close(ctx) //nolint:errcheck // refused anyway
		return nil, ErrHostClosed
	}
	h.plugins = append(h.plugins, p)
	h.mu.Unlock()
	return p, nil
}

func withDefaults(s Spec) Spec {
	if s.Instances <= 0 {
		s.Instances = runtime.GOMAXPROCS(0)
	}
	if s.MemoryLimit <= 0 {
		s.MemoryLimit = DefaultMemoryLimit
	}
	if s.Timeout <= 0 {
		s.Timeout = DefaultTimeout
	}
	if s.KVNamespace == "" {
		s.KVNamespace = s.Name
	}
	if len(s.Config) == 0 {
		s.Config = []byte("null")
	}
	return s
}

// compile compiles the module, checks it, and instantiates the host
// modules it imports.
func (p *Plugin) compile(ctx context.Context) error {
	name := p.spec.Name
	if !bytes.HasPrefix(p.spec.Wasm, wasmMagic) {
		return notWasm(name)
	}
	started := time.Now()
	cm, err := p.rt.CompileModule(ctx, p.spec.Wasm)
	if err != nil {
		return fmt.Errorf("plugin %s: %w: %v", name, ErrInvalidModule, err)
	}
	p.compileTime = time.Since(started)
	p.compiled = cm
	info, err := checkModule(name, cm)
	if err != nil {
		return err
	}
	p.info = info
	if info.WASI {
		if _, err := wasi_snapshot_preview1.Instantiate(ctx, p.rt); err != nil {
			return fmt.Errorf("plugin %s: WASI: %w", name, err)
		}
	}
	if err := instantiateHostModule(ctx, p.rt); err != nil {
		return fmt.Errorf("plugin %s: host functions: %w", name, err)
	}
	return nil
}

// moduleConfig is the configuration of each instance: no arguments, no
// files, real clocks and randomness, and stdout and stderr into the log.
func (p *Plugin) moduleConfig() wazero.ModuleConfig {
	return wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader).
		WithStdout(&logWriter{log: p.log, level: slog.LevelInfo, stream: "stdout"}).
		WithStderr(&logWriter{log: p.log, level: slog.LevelWarn, stream: "stderr"})
}

// Close stops every plugin at once and, unless they are shared
// (HostOptions.Caches), releases the compiled code. Connections still
// open get no more hook calls. It is the close of a shutdown; Retire is
// the graceful one.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	ps := h.plugins
	h.plugins = nil
	h.mu.Unlock()
	var errs []error
	for _, p := range ps {
		errs = append(errs, p.Close(ctx))
	}
	if h.ownCaches {
		errs = append(errs, h.caches.Close(ctx))
	}
	return errors.Join(errs...)
}

// Retire closes the host gracefully, for a configuration that a reload
// replaced: Load refuses from now on (ErrHostClosed), and each plugin
// closes as soon as no connection is bound to it any more, at once for
// those that serve none. Until then, connections still open call their
// instances as before, and may move to a newer version of a live plugin
// (Supersede), which also unbinds them. The host's own caches are
// released when its last plugin closes. Close still closes everything at
// once.
func (h *Host) Retire() {
	h.mu.Lock()
	h.closed, h.retired = true, true
	ps := slices.Clone(h.plugins)
	h.mu.Unlock()
	for _, p := range ps {
		p.retire()
	}
	h.released()
}

// released closes the host's own caches once it is retired and every
// plugin it loaded is closed.
func (h *Host) released() {
	h.mu.Lock()
	done := h.retired && h.ownCaches && h.loading == 0
	for _, p := range h.plugins {
		if !p.closed.Load() {
			done = false
		}
	}
	h.mu.Unlock()
	if done {
		h.caches.Close(context.Background()) //nolint:errcheck // an in-memory cache's close does not fail
	}
}
