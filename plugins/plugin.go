package plugins

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/wasmgate/wasmgate/sdk/abi"
)

// A Plugin is a loaded plugin: its compiled module and its pool of
// instances. Connections are spread over the instances and each stays on
// its own.
type Plugin struct {
	host     *Host
	spec     Spec
	log      *slog.Logger
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	info     *ModuleInfo
	slots    []*slot
	next     atomic.Uint32
	closed   atomic.Bool
	counters *Counters

	// compileTime and startTime are how long the module took to compile
	// and the pool to start, at load.
	compileTime, startTime time.Duration

	// faults counts this plugin's discarded instances, whatever Counters
	// it shares.
	faults atomic.Uint64

	// successor is the newer version of a live plugin that its
	// connections move to (Supersede).
	successor atomic.Pointer[Plugin]

	// life guards the fields below, which decide when a retired plugin
	// closes: bound counts the connections registered in its slots.
	life    sync.Mutex
	bound   int
	retired bool
	closing bool // Close has begun or is due: no connection may bind
}

// Name returns the plugin's name.
func (p *Plugin) Name() string { return p.spec.Name }

// Hooks returns the hooks the plugin's module exports.
func (p *Plugin) Hooks() Hooks { return p.info.Hooks }

// Faults returns how many of this plugin's instances were discarded after
// a fault.
func (p *Plugin) Faults() uint64 { return p.faults.Load() }

// Counters returns the counters the plugin counts into: Spec.Counters,
// or its own.
func (p *Plugin) Counters() *Counters { return p.counters }

// LoadTimes returns how long Load took to compile the module (short when
// a compilation cache had it) and to start the pool of instances.
func (p *Plugin) LoadTimes() (compile, instantiate time.Duration) {
	return p.compileTime, p.startTime
}

// Instances returns the number of healthy instances now: the pool's size
// but for slots whose instance failed and could not be replaced yet, and
// 0 once the plugin is closed. It waits for calls in progress.
func (p *Plugin) Instances() int {
	n := 0
	for _, s := range p.slots {
		s.mu.Lock()
		if s.inst != nil {
			n++
		}
		s.mu.Unlock()
	}
	return n
}

// Connections returns the number of connections bound to the plugin's
// instances now.
func (p *Plugin) Connections() int {
	p.life.Lock()
	defer p.life.Unlock()
	return p.bound
}

// Closed reports whether the plugin is closed: by Close, by its host's
// Close, or after its host retired and its last connection went.
func (p *Plugin) Closed() bool { return p.closed.Load() }

// Close stops the plugin's timers and instances. Connections still bound
// to it skip it from then on.
func (p *Plugin) Close(ctx context.Context) error {
	p.life.Lock()
	p.closing = true
	p.life.Unlock()
	if p.closed.Swap(true) {
		return nil
	}
	for _, s := range p.slots {
		if s == nil {
			continue
		}
		s.mu.Lock()
		s.stopTicks()
		if s.inst != nil {
			s.inst.close(ctx)
			s.inst = nil
		}
		n := len(s.conns)
		for id, b := range s.conns {
			b.skip.Store(true)
			delete(s.conns, id)
		}
		s.mu.Unlock()
		p.life.Lock()
		p.bound -= n
		p.life.Unlock()
	}
	err := p.rt.Close(ctx)
	if p.compiled != nil {
		// Releases this runtime's use of the compiled code in the shared
		// cache; other runtimes that compiled the same bytes keep theirs.
		err = errors.Join(err, p.compiled.Close(ctx))
	}
	p.host.released()
	return err
}

// retire makes the plugin close once no connection is bound to it.
func (p *Plugin) retire() {
	p.life.Lock()
	p.retired = true
	due := p.bound == 0 && !p.closing
	p.closing = p.closing || due
	p.life.Unlock()
	if due {
		p.Close(context.Background()) //nolint:errcheck // nobody to report it to; the runtime's close does not fail
	}
}

// isRetired reports whether the plugin's host retired it.
func (p *Plugin) isRetired() bool {
	p.life.Lock()
	defer p.life.Unlock()
	return p.retired || p.closing
}

// A slot is one place in a plugin's pool: the instance in it, replaced
// after a fault, and the connections pinned to it.
type slot struct {
	plugin *Plugin
	index  int

	// mu serializes calls into the instance and guards the fields below.
	mu      sync.Mutex
	inst    *instance // nil while the slot is broken
	retryAt time.Time // when a broken slot may try a new instance
	conns   map[uint32]*binding
	nextID  uint32
	ticks   map[uint32]*ticker
	pending []deferred // actions on other connections, run after unlocking
	// closeDue is set when the last connection of a retired plugin left:
	// unlock closes the plugin.
	closeDue bool
}

// retryInterval is how long a slot whose instance could not be replaced
// waits before trying again.
const retryInterval = time.Second

// errNoInstance is the fault of a connection that finds every slot of a
// plugin broken.
var errNoInstance = errors.New("no healthy instance")

// acquire pins a new connection to a slot, round-robin among the healthy
// ones. It returns the slot locked, with the connection's binding
// registered under a fresh context id.
func (p *Plugin) acquire(b *binding) (*slot, error) {
	n := len(p.slots)
	start := int(p.next.Add(1)-1) % n
	for i := range n {
		s := p.slots[(start+i)%n]
		s.mu.Lock()
		if s.inst == nil && !s.revive() {
			s.mu.Unlock()
			continue
		}
		if !p.enter() {
			s.mu.Unlock()
			return nil, fmt.Errorf("plugin %s: %w", p.spec.Name, errPluginClosed)
		}
		s.nextID++
		if s.nextID == 0 {
			s.nextID = 1 // 0 is the plugin-wide context
		}
		for s.conns[s.nextID] != nil {
			s.nextID++
		}
		b.slot, b.inst, b.id = s, s.inst, s.nextID
		s.conns[b.id] = b
		return s, nil
	}
	return nil, fmt.Errorf("plugin %s: %w", p.spec.Name, errNoInstance)
}

// errPluginClosed is the error of a connection that finds its plugin
// closed, or closing.
var errPluginClosed = errors.New("plugin closed")

// enter counts a connection bound to the plugin, unless it is closing.
func (p *Plugin) enter() bool {
	p.life.Lock()
	defer p.life.Unlock()
	if p.closing {
		return false
	}
	p.bound++
	return true
}

// unbind removes b from s, which is locked; when that was the last
// connection of a retired plugin, s.unlock closes the plugin.
func (s *slot) unbind(b *binding) {
	delete(s.conns, b.id)
	p := s.plugin
	p.life.Lock()
	p.bound--
	due := p.retired && p.bound == 0 && !p.closing
	p.closing = p.closing || due
	p.life.Unlock()
	if due {
		s.closeDue = true
	}
}

// revive tries to put a fresh instance into a broken slot, at most once
// per retryInterval. s.mu is held.
func (s *slot) revive() bool {
	p := s.plugin
	if p.closed.Load() || s.closeDue || time.Now().Before(s.retryAt) {
		return false
	}
	inst, err := p.newInstance(context.Background(), s)
	if err != nil {
		p.counters.restartFailures.Add(1)
		s.retryAt = time.Now().Add(retryInterval)
		p.log.Error("plugin instance could not be replaced", "instance", s.index, "err", err)
		return false
	}
	p.counters.restarts.Add(1)
	s.inst = inst
	return true
}

// An instance is one instantiated module with its hooks and the state of
// the call in progress.
type instance struct {
	slot     *slot
	counters *Counters
	mod      api.Module
	mem      api.Memory

	onStart, onOpen, onMessages, onClose, onTick api.Function

	// stack is the params and results of every call, reused.
	stack [4]uint64
	// ctx is the context of every call: it carries the instance to the
	// host functions and, in a checked sandbox, the deadline.
	ctx callContext
	// cur is the call in progress; host functions act on it.
	cur *call
	// scratch and value hold host-side bytes of one host function call.
	scratch, value []byte

	timeout   time.Duration
	watchdog  *time.Timer
	callStart atomic.Int64 // UnixNano of the call in progress, 0 between calls
	dead      bool
}

// callContext is the context.Context of every call into an instance. It
// allocates nothing per call: its Done channel is closed by the watchdog
// when a call overruns its deadline, which ends the instance.
type callContext struct {
	inst    *instance
	done    chan struct{} // nil in a plain sandbox
	expired atomic.Bool
	once    sync.Once
}

type instanceKey struct{}

func (c *callContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c *callContext) Done() <-chan struct{}       { return c.done }
func (c *callContext) Err() error {
	if c.expired.Load() {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *callContext) Value(key any) any {
	if _, ok := key.(instanceKey); ok {
		return c.inst
	}
	return nil
}

func (c *callContext) expire() {
	c.once.Do(func() {
		c.expired.Store(true)
		if c.done != nil {
			close(c.done)
		}
	})
}

// newInstance instantiates the module into s and starts it: _initialize,
// then wasmgate_on_start, within the host's start timeout.
func (p *Plugin) newInstance(ctx context.Context, s *slot) (*instance, error) {
	inst := &instance{slot: s, counters: p.counters, timeout: p.spec.Timeout}
	inst.ctx.inst = inst
	if !p.spec.Plain {
		inst.ctx.done = make(chan struct{})
	}
	// Instantiation runs the module's start section, if any, under the
	// start timeout.
	startCtx, cancel := context.WithTimeout(context.WithValue(ctx, instanceKey{}, inst), p.host.opts.StartTimeout)
	defer cancel()
	mod, err := p.rt.InstantiateModule(startCtx, p.compiled, p.moduleConfig())
	if err != nil {
		return nil, fmt.Errorf("plugin %s: instantiate: %w", p.spec.Name, describeFault(err, startCtx))
	}
	inst.mod = mod
	inst.mem = mod.ExportedMemory(abi.ExportMemory)
	inst.onStart = mod.ExportedFunction(abi.ExportOnStart)
	inst.onOpen = mod.ExportedFunction(abi.ExportOnOpen)
	inst.onMessages = mod.ExportedFunction(abi.ExportOnMessages)
	inst.onClose = mod.ExportedFunction(abi.ExportOnClose)
	inst.onTick = mod.ExportedFunction(abi.ExportOnTick)
	c := &call{hook: hookStart}
	inst.cur = c
	defer func() { inst.cur = nil }()
	if init := mod.ExportedFunction(abi.ExportInitialize); init != nil {
		if err := init.CallWithStack(startCtx, inst.stack[:]); err != nil {
			mod.Close(ctx) //nolint:errcheck // the start error is the one to report
			return nil, fmt.Errorf("plugin %s: _initialize: %w", p.spec.Name, describeFault(err, startCtx))
		}
	}
	if inst.onStart != nil {
		p.counters.calls[hookStart].Add(1)
		if err := inst.onStart.CallWithStack(startCtx, inst.stack[:]); err != nil {
			mod.Close(ctx) //nolint:errcheck // the start error is the one to report
			return nil, fmt.Errorf("plugin %s: %s: %w", p.spec.Name, abi.ExportOnStart, describeFault(err, startCtx))
		}
		if status := int32(inst.stack[0]); status != 0 {
			mod.Close(ctx) //nolint:errcheck // the start error is the one to report
			return nil, fmt.Errorf("plugin %s: %s returned %d", p.spec.Name, abi.ExportOnStart, status)
		}
	}
	inst.watchdog = time.AfterFunc(time.Hour, inst.watch)
	inst.watchdog.Stop()
	return inst, nil
}

// watch runs when a call may have overrun its deadline.
func (inst *instance) watch() {
	start := inst.callStart.Load()
	if start == 0 || time.Duration(time.Now().UnixNano()-start) < inst.timeout {
		return
	}
	p := inst.slot.plugin
	if p.spec.Plain {
		p.log.Warn("plugin call overran its deadline; the plain sandbox cannot stop it", "timeout", inst.timeout)
	}
	inst.ctx.expire()
}

// invoke calls fn with the params in inst.stack under the deadline and
// returns the fault, if any: a trap, an exit, a deadline overrun. The
// results are in inst.stack. s.mu is held.
func (inst *instance) invoke(fn api.Function, c *call) error {
	inst.counters.calls[c.hook].Add(1)
	inst.cur = c
	inst.callStart.Store(time.Now().UnixNano())
	inst.watchdog.Reset(inst.timeout)
	err := fn.CallWithStack(&inst.ctx, inst.stack[:])
	inst.watchdog.Stop()
	start := inst.callStart.Swap(0)
	inst.cur = nil
	if err != nil {
		return describeFault(err, &inst.ctx)
	}
	if inst.ctx.expired.Load() || time.Duration(time.Now().UnixNano()-start) > inst.timeout {
		return &faultError{cause: faultTimeout, err: fmt.Errorf("the call overran its deadline of %v", inst.timeout)}
	}
	return nil
}

// describeFault turns wazero's error of a failed call into the cause the
// log shows, and the counters count.
func describeFault(err error, ctx context.Context) error {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded:
			return &faultError{cause: faultTimeout, err: errors.New("the call overran its deadline and was stopped")}
		case sys.ExitCodeContextCanceled:
			return &faultError{cause: faultTimeout, err: errors.New("the call was canceled")}
		}
		if ctx.Err() != nil {
			return &faultError{cause: faultTimeout, err: errors.New("the call overran its deadline and was stopped")}
		}
		return guestError(fmt.Errorf("the guest exited with code %d", exit.ExitCode()))
	}
	return &faultError{cause: faultTrap, err: fmt.Errorf("trap: %w", err)}
}

func (inst *instance) close(ctx context.Context) {
	if inst.dead {
		return
	}
	inst.dead = true
	if inst.watchdog != nil {
		inst.watchdog.Stop()
	}
	inst.mod.Close(ctx) //nolint:errcheck // a closed module's resources are released regardless
}

// fail discards the slot's instance after cause, applies the plugin's
// on_error policy to every connection pinned to it (except, for the
// policy close, the one whose call failed: its caller closes it), and
// starts a fresh instance. s.mu is held.
func (s *slot) fail(cause error, current *binding) {
	p := s.plugin
	p.faults.Add(1)
	p.counters.faults[causeOf(cause)].Add(1)
	policy := "close"
	if p.spec.FailOpen {
		policy = "pass"
	}
	p.log.Error("plugin instance failed; replacing it", "instance", s.index, "cause", cause,
		"on_error", policy, "connections", len(s.conns))
	if s.inst != nil {
		s.inst.close(context.Background())
		s.inst = nil
	}
	s.stopTicks()
	for _, b := range s.conns {
		s.unbind(b)
		if p.spec.FailOpen {
			b.skip.Store(true)
			continue
		}
		b.end(closeInternalError, "filter "+p.spec.Name+" failed")
		b.skip.Store(true)
		if b != current {
			s.pending = append(s.pending, deferred{conn: b.conn, close: true,
				code: closeInternalError, reason: "filter " + p.spec.Name + " failed"})
		}
	}
	s.retryAt = time.Time{}
	s.revive()
}

// unlock releases s.mu and then runs the actions on other connections
// that the calls made while it was held.
func (s *slot) unlock() {
	if len(s.pending) == 0 && !s.closeDue {
		s.mu.Unlock()
		return
	}
	pending := s.pending
	s.pending = nil
	closeDue := s.closeDue
	s.closeDue = false
	s.mu.Unlock()
	for _, d := range pending {
		d.run()
	}
	if closeDue {
		// Plugin.Close takes every slot's lock: never under one.
		s.plugin.Close(context.Background()) //nolint:errcheck // nobody to report it to; the runtime's close does not fail
	}
}

// A ticker is a timer set with tick_set.
type ticker struct {
	slot   *slot
	id     uint32
	period time.Duration
	timer  *time.Timer
	inst   *instance
	stop   bool
}

// setTick starts, changes or stops the timer of context id, which fires
// on inst. s.mu is held (or, while the plugin loads, s is not shared yet).
func (s *slot) setTick(inst *instance, id uint32, period time.Duration) {
	t := s.ticks[id]
	if period == 0 {
		if t != nil {
			t.stop = true
			t.timer.Stop()
			delete(s.ticks, id)
		}
		return
	}
	if t != nil {
		t.period = period
		t.timer.Reset(period)
		return
	}
	t = &ticker{slot: s, id: id, period: period, inst: inst}
	t.timer = time.AfterFunc(period, t.fire)
	s.ticks[id] = t
}

func (s *slot) stopTicks() {
	for id, t := range s.ticks {
		t.stop = true
		t.timer.Stop()
		delete(s.ticks, id)
	}
}

// fire calls wasmgate_on_tick and schedules the next tick.
func (t *ticker) fire() {
	s := t.slot
	s.mu.Lock()
	inst := s.inst
	if t.stop || inst == nil || inst != t.inst || s.ticks[t.id] != t || inst.onTick == nil {
		s.unlock()
		return
	}
	var b *binding
	if t.id != 0 {
		if b = s.conns[t.id]; b == nil {
			delete(s.ticks, t.id)
			s.unlock()
			return
		}
	}
	c := &call{hook: hookTick, binding: b}
	inst.stack[0] = uint64(t.id)
	if err := inst.invoke(inst.onTick, c); err != nil {
		s.fail(fmt.Errorf("%s: %w", abi.ExportOnTick, err), nil)
		s.unlock()
		return
	}
	if !t.stop && s.ticks[t.id] == t {
		t.timer.Reset(t.period)
	}
	s.unlock()
}

// logWriter turns a guest's stdout or stderr into log lines.
type logWriter struct {
	log    *slog.Logger
	level  slog.Level
	stream string
	mu     sync.Mutex
	buf    []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.log.Log(context.Background(), w.level, string(w.buf[:i]), "stream", w.stream)
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 4096 {
		w.log.Log(context.Background(), w.level, string(w.buf), "stream", w.stream)
		w.buf = w.buf[:0]
	}
	return len(p), nil
}
