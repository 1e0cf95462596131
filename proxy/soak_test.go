package proxy

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wasmgate/wasmgate/codec"
)

// The soak test (issue 7) runs thousands of connections through one proxy
// for minutes: random message sizes and types, whole and fragmented,
// random closes (clean, FIN, RST, mid-message), and a plugin that now and
// then traps, loops or runs out of memory on one connection. Every message
// carries a sequence number and a checksum and must come back from the
// echo upstream whole and in order; at the end goroutines and file
// descriptors must return to where they were before the load, and the heap
// with every connection open must not have grown since early in the run.
//
// It is opt-in: WASMGATE_SOAK=<duration> runs it at scale (see
// docs/soak.md and `make soak`). Without it, a tiny run of the same code
// keeps it from rotting.

// soakConfigHCL is the proxy of the soak: an echo upstream behind a plain
// route (frames streamed, no filter) and a route through the test guest.
// The guest's timeout is generous so that only "cmd:loop" overruns it on a
// loaded machine; its memory limit makes "cmd:oom" fail fast. The close
// timeout is generous too: a close that the upstream does not answer in
// time drops what is in flight, by design, and under the soak's overload
// an echo can take seconds; the soak checks for lost messages, not for
// latency.
const soakConfigHCL = `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
plugin "guest" {
  wasm         = "{{guest}}"
  instances    = 4
  timeout      = "1s"
  memory_limit = "32MiB"
  on_error     = "close"
  cache_dir    = "{{cache}}"
}
limits {
  max_message_size = "1MiB"
  close_timeout    = "30s"
}
route "plain" {
  path     = "/plain/"
  upstream = "echo"
}
route "filtered" {
  path     = "/filtered/"
  upstream = "echo"
  filters  = ["guest"]
}
`

const (
	// soakFaultReason is the close reason of a connection whose filter
	// failed under on_error = "close"; the code is 1011.
	soakFaultReason = "filter guest failed"
	// soakHeaderSize is the size of a message's header: its sequence
	// number and the CRC-32C of the rest, in hex so that text stays text.
	soakHeaderSize = 24
	// soakPoolSize is the size of the pools that message bodies are cut
	// from: larger than the largest body.
	soakPoolSize = 1 << 20
)

// soakConfig is the scale and mix of one soak run.
type soakConfig struct {
	duration time.Duration
	conns    int
	seed     uint64
	// sessionMsgs is the mean number of messages a connection sends
	// before it closes (or is dropped) and the worker dials again.
	sessionMsgs int
	// faultRate is the share of the filtered route's connections that end
	// with a plugin fault command, besides worker 1's first one.
	faultRate float64
	// window is how many messages a connection has in flight at most.
	window int
	// maxBody is the largest message body (the header comes on top).
	maxBody int
	// settle is how long the connections stay idle before a memory
	// sample: in the full run, longer than the proxy's parkAfter, so that
	// idle legs have given back their goroutines and buffers.
	settle time.Duration
	// every is the period of the progress samples in the log.
	every time.Duration
	// ioTimeout bounds every wait on the proxy: an echo, a close, a
	// write. Reaching it is a lost message, not a slow one.
	ioTimeout time.Duration
	// isolateFault keeps the filtered route's other connections from
	// opening until worker 1's fault is over, so that the fault closes
	// no other connection: the tiny run then checks the fault's own
	// outcome only, not the races of closing the others.
	isolateFault bool
}

// tinySoak is the run of every go test: the soak's code at a scale that
// takes seconds, with one plugin fault kept apart from the other
// connections.
var tinySoak = soakConfig{
	duration:     2 * time.Second,
	conns:        20,
	sessionMsgs:  20,
	window:       4,
	maxBody:      256 << 10,
	settle:       200 * time.Millisecond,
	every:        500 * time.Millisecond,
	ioTimeout:    60 * time.Second,
	isolateFault: true,
}

// fullSoak is the opt-in run; WASMGATE_SOAK sets its duration and
// WASMGATE_SOAK_CONNS its connections.
var fullSoak = soakConfig{
	conns:       2000,
	sessionMsgs: 150,
	faultRate:   0.002,
	window:      4,
	maxBody:     256 << 10,
	settle:      parkAfter + 500*time.Millisecond,
	every:       10 * time.Second,
	ioTimeout:   60 * time.Second,
}

// soakConfigFromEnv returns the run that the environment asks for, and
// whether it is the full, opt-in one.
func soakConfigFromEnv(t *testing.T) (soakConfig, bool) {
	cfg, full := tinySoak, false
	if env := os.Getenv("WASMGATE_SOAK"); env != "" {
		cfg, full = fullSoak, true
		d, err := time.ParseDuration(env)
		if err != nil || d < 10*time.Second {
			t.Fatalf("WASMGATE_SOAK=%q: want a duration of at least 10s, as in WASMGATE_SOAK=5m", env)
		}
		cfg.duration = d
		if s := os.Getenv("WASMGATE_SOAK_CONNS"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || n < 2 {
				t.Fatalf("WASMGATE_SOAK_CONNS=%q: want a number of connections, at least 2", s)
			}
			cfg.conns = n
		}
	}
	cfg.seed = rand.Uint64()
	if s := os.Getenv("WASMGATE_SOAK_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("WASMGATE_SOAK_SEED=%q: %v", s, err)
		}
		cfg.seed = seed
	}
	return cfg, full
}

// TestSoak is the soak test: see the top of this file and docs/soak.md.
func TestSoak(t *testing.T) {
	cfg, full := soakConfigFromEnv(t)
	if !full && testing.Short() {
		t.Skip("the tiny soak starts a proxy with a plugin; WASMGATE_SOAK=5m runs the real one")
	}
	t.Logf("soak: %d connections for %v, seed %d (WASMGATE_SOAK_SEED replays the choices)", cfg.conns, cfg.duration, cfg.seed)
	newSoakRun(t, cfg).run()
}

// soakRun is one soak: the proxy, its upstream, the workers and what they
// counted.
type soakRun struct {
	t    *testing.T
	cfg  soakConfig
	p    *Proxy
	addr string
	logs *soakLogCounter

	textPool, binPool []byte
	dialer            *codec.Dialer
	gate              soakGate
	faultDone         chan struct{} // closed when worker 1's first connection is over

	// What the workers counted.
	sent, verified, verifiedBytes atomic.Int64
	sessions                      atomic.Int64
	cleanCloses                   atomic.Int64
	fins, rsts, midMessage        atomic.Int64
	faultsSent                    [3]atomic.Int64 // by soakFaults
	faultCloses                   atomic.Int64    // 1011 after the connection's own fault
	collateral                    atomic.Int64    // 1011 after a fault of another connection on the instance
	cut                           atomic.Int64    // messages in flight when a connection was dropped or failed
	failures                      atomic.Int64

	failMu    sync.Mutex
	failKinds map[string]int // failures by kind
}

// soakFaults are the fault commands of the test guest, by soakEnd.
var soakFaults = [3]string{"cmd:trap", "cmd:oom", "cmd:loop"}

func newSoakRun(t *testing.T, cfg soakConfig) *soakRun {
	r := &soakRun{t: t, cfg: cfg, logs: &soakLogCounter{}, faultDone: make(chan struct{})}
	r.gate.init()
	up := startUpstream(t, nil, echoHandler)
	vars := map[string]string{"up": up.addr, "guest": guestPath(t), "cache": soakCacheDir(t)}
	r.p, r.addr = startProxyLogging(t, soakConfigHCL, vars, slog.New(r.logs))
	rng := rand.New(rand.NewPCG(cfg.seed, 0))
	r.binPool = make([]byte, soakPoolSize)
	for i := range r.binPool {
		r.binPool[i] = byte(rng.Uint32())
	}
	r.textPool = soakText(rng, soakPoolSize)
	r.dialer = &codec.Dialer{
		Options: codec.Options{
			MaxMessageSize: 2 << 20,
			CloseTimeout:   cfg.ioTimeout,
			WriteTimeout:   cfg.ioTimeout,
		},
		ConnectTimeout:   cfg.ioTimeout,
		HandshakeTimeout: cfg.ioTimeout,
	}
	return r
}

// soakCacheDir is the guest's compilation cache: kept across runs, beside
// the built guests of internal/guests, since compiling the Go guest takes
// over ten seconds under the race detector and the soak's tiny run should
// be cheap. wazero keys its entries by module and by its own version.
func soakCacheDir(t *testing.T) string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return filepath.ToSlash(t.TempDir())
	}
	return filepath.ToSlash(filepath.Join(dir, "wasmgate-test-guests", "wazero"))
}

// soakText returns n bytes of valid UTF-8: mostly ASCII, with two-, three-
// and four-byte runes, so that frames split runes.
func soakText(rng *rand.Rand, n int) []byte {
	runes := []rune("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;:!?-_/\\\"'<>{}[]()éüß€漢字😀🚀")
	b := make([]byte, 0, n+utf8.UTFMax)
	for len(b) < n {
		b = utf8.AppendRune(b, runes[rng.IntN(len(runes))])
	}
	for len(b) > n { // trim to n bytes on a rune boundary
		_, size := utf8.DecodeLastRune(b)
		b = b[:len(b)-size]
	}
	return b
}

// fail records a failure of a kind: the first few of each kind are
// reported, the rest counted.
func (r *soakRun) fail(kind, format string, args ...any) {
	const reported = 5
	r.failures.Add(1)
	r.failMu.Lock()
	if r.failKinds == nil {
		r.failKinds = map[string]int{}
	}
	r.failKinds[kind]++
	n := r.failKinds[kind]
	r.failMu.Unlock()
	switch {
	case n < reported:
		r.t.Errorf(kind+": "+format, args...)
	case n == reported:
		r.t.Errorf(kind+": "+format+" (further failures of this kind are only counted)", args...)
	}
}

// soakSample is the process's state at one point of the run.
type soakSample struct {
	heap       uint64 // bytes of heap in use (runtime.MemStats.HeapInuse)
	goroutines int
	fds        int
}

func takeSoakSample(gc bool) soakSample {
	if gc {
		// Twice: sync.Pool keeps its items through one collection.
		runtime.GC()
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return soakSample{heap: ms.HeapInuse, goroutines: runtime.NumGoroutine(), fds: openFDs()}
}

func (s soakSample) String() string {
	return fmt.Sprintf("heap %.1f MiB, %d goroutines, %d fds", float64(s.heap)/(1<<20), s.goroutines, s.fds)
}

func (r *soakRun) run() {
	t, cfg := r.t, r.cfg
	// Warm up both routes (the plugin's instances, the pools, the
	// listeners' goroutines), then take the baseline.
	for _, path := range []string{"/plain/", "/filtered/"} {
		c, _ := dialProxy(t, "ws://"+r.addr+path, r.dialer)
		expectRoundTrip(t, c, "warm-up", "warm-up")
		if err := c.Close(codec.CloseNormal, ""); err != nil {
			t.Fatalf("warm-up close: %v", err)
		}
	}
	base := r.baseline()
	t.Logf("baseline: %v", base)

	var wg sync.WaitGroup
	start := time.Now()
	ramp := min(cfg.duration/20, 5*time.Second)
	for id := range cfg.conns {
		w := &soakWorker{r: r, id: id, filtered: id%2 == 1, rng: rand.New(rand.NewPCG(cfg.seed, uint64(id)+1))}
		wg.Go(func() { w.run(time.Duration(id) * ramp / time.Duration(cfg.conns)) })
	}

	// Progress samples, the steady-state memory sample at a tenth of the
	// run, and the last one at its end, with every connection open.
	var steady, end soakSample
	var paused time.Duration
	ticker := time.NewTicker(cfg.every)
	steadyAt := time.After(cfg.duration / 10)
	endAt := time.After(cfg.duration)
	lastVerified, lastTick := int64(0), start
	for end.heap == 0 {
		select {
		case now := <-ticker.C:
			v := r.verified.Load()
			open, _ := seriesValue(t, r.p, "wasmgate_connections_open", nil)
			t.Logf("%6.1fs: %v, %.0f proxied connections, %d msgs verified, %.0f msgs/s",
				now.Sub(start).Seconds(), takeSoakSample(false), open, v, float64(v-lastVerified)/now.Sub(lastTick).Seconds())
			lastVerified, lastTick = v, now
		case <-steadyAt:
			steady, paused = r.quiescentSample(false, paused)
			t.Logf("steady state (%d connections open and idle): %v", cfg.conns, steady)
		case <-endAt:
			end, paused = r.quiescentSample(true, paused)
			t.Logf("end of the load (%d connections open and idle): %v", cfg.conns, end)
		}
	}
	ticker.Stop()
	active := time.Since(start) - paused
	wg.Wait()

	after := r.backToBaseline(base)
	t.Logf("after closing everything: %v (baseline %v)", after, base)
	r.report(active, steady, end)
	r.check(steady, end)
}

// quiescentSample pauses every worker with its connection open and nothing
// in flight, lets the connections idle for cfg.settle, and samples the
// process; then it lets the workers go on, or stop when last is set. It
// returns the sample and paused plus the time the workers stood still.
func (r *soakRun) quiescentSample(last bool, paused time.Duration) (soakSample, time.Duration) {
	start := time.Now()
	if n := r.gate.pause(r.cfg.conns, 2*r.cfg.ioTimeout); n < r.cfg.conns {
		r.fail("stuck", "only %d of %d workers came to a stop with their connection idle:\n%s", n, r.cfg.conns, goroutineDump())
	}
	time.Sleep(r.cfg.settle)
	s := takeSoakSample(true)
	r.gate.resume(last)
	return s, paused + time.Since(start)
}

// baseline samples the process once the warm-up's goroutines are gone.
func (r *soakRun) baseline() soakSample {
	time.Sleep(100 * time.Millisecond)
	return takeSoakSample(true)
}

// backToBaseline waits, for at most a minute, until the goroutines and
// open file descriptors are no more than at base, and samples the process.
func (r *soakRun) backToBaseline(base soakSample) soakSample {
	deadline := time.Now().Add(time.Minute)
	for {
		s := takeSoakSample(false)
		if s.goroutines <= base.goroutines && s.fds <= base.fds {
			return takeSoakSample(true)
		}
		if time.Now().After(deadline) {
			r.fail("leak", "after the load: %d goroutines (baseline %d), %d fds (baseline %d):\n%s",
				s.goroutines, base.goroutines, s.fds, base.fds, goroutineDump())
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func goroutineDump() string {
	buf := make([]byte, 8<<20)
	return string(buf[:runtime.Stack(buf, true)])
}

func (r *soakRun) report(active time.Duration, steady, end soakSample) {
	mib := float64(r.verifiedBytes.Load()) / (1 << 20)
	r.t.Logf("messages: %d sent, %d verified (%.0f MiB), %d cut in flight by drops and faults; %.0f msgs/s, %.1f MiB/s over %v of load",
		r.sent.Load(), r.verified.Load(), mib, r.cut.Load(), float64(r.verified.Load())/active.Seconds(), mib/active.Seconds(), active.Round(time.Second))
	r.t.Logf("connections: %d; closes: %d clean (1000), %d FIN, %d RST, %d mid-message",
		r.sessions.Load(), r.cleanCloses.Load(), r.fins.Load(), r.rsts.Load(), r.midMessage.Load())
	r.t.Logf("plugin faults sent: %d trap, %d oom, %d loop; 1011 closes: %d on the faulting connection, %d on others of its instance",
		r.faultsSent[0].Load(), r.faultsSent[1].Load(), r.faultsSent[2].Load(), r.faultCloses.Load(), r.collateral.Load())
	r.t.Logf("heap with every connection idle: %.1f MiB at a tenth of the run, %.1f MiB at its end", float64(steady.heap)/(1<<20), float64(end.heap)/(1<<20))
	r.t.Logf("proxy log, warnings and errors: %s", r.logs.summary())
	r.failMu.Lock()
	defer r.failMu.Unlock()
	if len(r.failKinds) > 0 {
		r.t.Logf("failures by kind: %v", r.failKinds)
	}
}

// check runs the checks on what the whole run counted; the workers
// checked every message and close as they went.
func (r *soakRun) check(steady, end soakSample) {
	t := r.t
	if r.verified.Load() == 0 {
		t.Error("no message was verified")
	}
	// Every message sent came back, or was in flight on a connection that
	// the client dropped or a plugin fault closed. (A failed connection
	// was reported as it failed.)
	if r.failures.Load() == 0 && r.sent.Load() != r.verified.Load()+r.cut.Load() {
		t.Errorf("%d messages sent, %d echoed and %d cut in flight: %d unaccounted for",
			r.sent.Load(), r.verified.Load(), r.cut.Load(), r.sent.Load()-r.verified.Load()-r.cut.Load())
	}
	// Worker 0's first connection is dropped, worker 1's first one faults
	// its plugin, and every worker closes cleanly at the end, at least
	// those of the plain route, which no plugin fault can cut short.
	if r.fins.Load()+r.rsts.Load()+r.midMessage.Load() == 0 {
		t.Error("no connection was dropped")
	}
	if plain := int64(r.cfg.conns+1) / 2; r.cleanCloses.Load() < plain {
		t.Errorf("%d clean closes, want at least one per worker of the plain route (%d)", r.cleanCloses.Load(), plain)
	}
	if r.faultCloses.Load() == 0 {
		t.Error("no connection was closed after its plugin fault")
	}
	// Every fault of the guest is one that a connection asked for: a trap
	// (or exit) on an ordinary message is a bug of the host. A call that
	// overran the 1s deadline without "cmd:loop" only says the machine was
	// too loaded.
	traps, _ := seriesValue(t, r.p, "wasmgate_wasm_faults_total", map[string]string{"plugin": "guest", "cause": "trap"})
	errs, _ := seriesValue(t, r.p, "wasmgate_wasm_faults_total", map[string]string{"plugin": "guest", "cause": "error"})
	timeouts, _ := seriesValue(t, r.p, "wasmgate_wasm_faults_total", map[string]string{"plugin": "guest", "cause": "timeout"})
	asked := r.faultsSent[0].Load() + r.faultsSent[1].Load()
	t.Logf("guest faults seen by the proxy: %.0f traps, %.0f errors, %.0f timeouts", traps, errs, timeouts)
	if traps+errs > float64(asked) {
		t.Errorf("the guest trapped or failed %.0f times, but only %d trap and oom commands were sent", traps+errs, asked)
	}
	if traps+errs+timeouts == 0 {
		t.Error("the proxy saw no plugin fault")
	}
	if loops := r.faultsSent[2].Load(); timeouts > float64(loops) {
		t.Logf("note: %.0f calls overran the guest's 1s deadline for %d cmd:loop sent: a cmd:oom that allocates slowly on a loaded machine, or a loaded machine", timeouts, loops)
	}
	if bound, _ := seriesValue(t, r.p, "wasmgate_wasm_connections", map[string]string{"plugin": "guest"}); bound != 0 {
		t.Errorf("%.0f connections still pinned to the guest's instances after every connection closed", bound)
	}
	// Memory is flat: the same connections, open and idle, hold no more
	// heap at the end than early in the run, within a fifth and 16 MiB
	// of noise (the plugin instances' memory grows to their high-water
	// mark, pooled buffers come and go).
	if limit := steady.heap + steady.heap/5 + 16<<20; end.heap > limit {
		t.Errorf("heap grew from %.1f MiB to %.1f MiB with the same connections open, more than the %.1f MiB allowed",
			float64(steady.heap)/(1<<20), float64(end.heap)/(1<<20), float64(limit)/(1<<20))
	}
}

// soakGate stops the workers for a sample: each stops at a checkpoint,
// where its connection is open and has nothing in flight.
type soakGate struct {
	pausing atomic.Bool // read by the workers between messages
	mu      sync.Mutex
	cond    sync.Cond
	paused  bool
	stopped bool // set by the last resume: the workers close and end
	waiting int
}

func (g *soakGate) init() { g.cond.L = &g.mu }

// pause asks the workers to stop and waits until n of them have, or until
// timeout; it returns how many did.
func (g *soakGate) pause(n int, timeout time.Duration) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.paused = true
	g.pausing.Store(true)
	expired := false
	timer := time.AfterFunc(timeout, func() {
		g.mu.Lock()
		expired = true
		g.mu.Unlock()
		g.cond.Broadcast()
	})
	defer timer.Stop()
	for g.waiting < n && !expired {
		g.cond.Wait()
	}
	return g.waiting
}

// resume lets the workers go on; with stop set, they close their
// connections and end.
func (g *soakGate) resume(stop bool) {
	g.mu.Lock()
	g.paused, g.stopped = false, stop
	g.pausing.Store(false)
	g.mu.Unlock()
	g.cond.Broadcast()
}

// checkpoint stops the calling worker while the gate is paused, and
// reports whether the run is over.
func (g *soakGate) checkpoint() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused {
		g.waiting++
		g.cond.Broadcast()
		for g.paused {
			g.cond.Wait()
		}
		g.waiting--
	}
	return g.stopped
}

func (g *soakGate) isStopped() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stopped
}

// soakEnd is how a connection of the soak ends.
type soakEnd int

const (
	endTrap       soakEnd = iota // the guest traps: "cmd:trap" (soakFaults' order)
	endOOM                       // the guest exhausts its memory: "cmd:oom"
	endLoop                      // the guest loops past its deadline: "cmd:loop"
	endClean                     // the client closes with 1000 after its last message
	endFIN                       // the client drops TCP, messages maybe in flight
	endRST                       // the client resets TCP (SO_LINGER 0)
	endMidMessage                // the client drops TCP inside a fragmented message
)

// endCut is a connection that ended before its planned end.
const endCut soakEnd = -1

func (e soakEnd) fault() bool { return e >= endTrap && e <= endLoop }

func (e soakEnd) String() string {
	switch e {
	case endTrap, endOOM, endLoop:
		return soakFaults[e]
	case endClean:
		return "clean close"
	case endFIN:
		return "FIN"
	case endRST:
		return "RST"
	case endMidMessage:
		return "drop mid-message"
	}
	return "cut short"
}

// soakWorker keeps one connection busy for the whole run, dialing again
// each time the previous one ended.
type soakWorker struct {
	r        *soakRun
	id       int
	filtered bool
	rng      *rand.Rand
	seq      uint64 // the next message's sequence number
	sessions int
}

// soakExpect is a message sent and not yet echoed.
type soakExpect struct {
	typ  codec.MessageType
	seq  uint64
	body []byte // a slice of a pool; nil for the empty message
	none bool   // the empty message: no header either
}

// run is the worker's goroutine: after delay (the ramp-up), connections
// one after the other until the run is over.
func (w *soakWorker) run(delay time.Duration) {
	time.Sleep(delay)
	path := "/plain/"
	if w.filtered {
		path = "/filtered/"
	}
	url := "ws://" + w.r.addr + path
	if w.r.cfg.isolateFault && w.filtered && w.id != 1 {
		<-w.r.faultDone
	}
	for !w.r.gate.isStopped() {
		ctx, cancel := context.WithTimeout(context.Background(), w.r.cfg.ioTimeout)
		c, _, err := w.r.dialer.Dial(ctx, url)
		cancel()
		if err != nil {
			w.r.fail("dial", "worker %d: dial %s: %v", w.id, url, err)
			if w.r.gate.checkpoint() {
				return
			}
			time.Sleep(100 * time.Millisecond)
			continue
		}
		w.session(c)
		if w.sessions++; w.sessions == 1 && w.id == 1 {
			close(w.r.faultDone)
		}
	}
}

func (w *soakWorker) route() string {
	if w.filtered {
		return "filtered"
	}
	return "plain"
}

// plan picks how many messages the next connection sends and how it ends.
func (w *soakWorker) plan() (int, soakEnd) {
	switch {
	case w.sessions == 0 && w.id == 0:
		return 5, endFIN
	case w.sessions == 0 && w.id == 1:
		return 5, endTrap
	}
	n := 1 + w.rng.IntN(2*w.r.cfg.sessionMsgs-1)
	if w.filtered && w.rng.Float64() < w.r.cfg.faultRate {
		return n, soakEnd(w.rng.IntN(len(soakFaults)))
	}
	switch x := w.rng.IntN(100); {
	case x < 70:
		return n, endClean
	case x < 85:
		return n, endFIN
	case x < 95:
		return n, endRST
	default:
		return n, endMidMessage
	}
}

// soakConn is one connection of a worker: the worker writes, the reader
// goroutine reads and checks the echoes.
type soakConn struct {
	w      *soakWorker
	c      *codec.Conn
	expect chan soakExpect // sent, not yet echoed; the writer fills it first
	acks   chan struct{}   // one per echo checked
	done   chan struct{}   // closed when the reader ends
	timer  *time.Timer

	outstanding int  // messages in flight, the writer's count
	dropping    bool // the client drops the connection: a read error is expected

	// closeTook is how long the answer to a clean close took.
	closeTook time.Duration

	// Set by the reader before done is closed.
	readErr error
	failed  bool // the reader reported a failure
}

// session runs one connection from its first message to its close, and
// checks how it ended.
func (w *soakWorker) session(c *codec.Conn) {
	r := w.r
	r.sessions.Add(1)
	s := &soakConn{
		w:      w,
		c:      c,
		expect: make(chan soakExpect, r.cfg.window),
		acks:   make(chan struct{}, r.cfg.window),
		done:   make(chan struct{}),
		timer:  time.NewTimer(time.Hour),
	}
	defer s.timer.Stop()
	defer c.CloseNow()
	go s.read()

	n, end := w.plan()
	cut, writeErr := s.exchange(n, &end)
	if cut {
		// The connection ended before its planned end: only a plugin
		// fault of another connection may do that (on the filtered
		// route), which judge checks.
		end = endCut
	} else {
		writeErr = s.finish(end)
	}
	if !s.waitReader() {
		r.fail("no end", "worker %d: the connection did not end within %v of its planned end %v (write error: %v)", w.id, r.cfg.ioTimeout, end, writeErr)
		c.CloseNow()
		<-s.done
		s.failed = true // after the reader, which may set it too
	}
	if end == endClean {
		// Completes the close: waits for the proxy to close TCP.
		c.Close(codec.CloseNormal, "") //nolint:errcheck // the reader saw how it ended
	}
	s.judge(end, writeErr)
}

// exchange sends n messages, keeping at most the window in flight, and
// stops at the gate when asked; at the last stop it makes the connection
// end cleanly. It reports whether the connection was cut before the
// planned end, by a write's error (returned) or by the reader's end.
func (s *soakConn) exchange(n int, end *soakEnd) (bool, error) {
	r := s.w.r
	for i := 0; ; i++ {
		if r.gate.pausing.Load() {
			if !s.drain(0) {
				return true, nil
			}
			if r.gate.checkpoint() {
				*end = endClean
				return false, nil
			}
		}
		if i == n {
			return false, nil
		}
		if !s.drain(r.cfg.window - 1) {
			return true, nil
		}
		if err := s.send(); err != nil {
			return true, err
		}
	}
}

// arm arms the connection's timer for the ioTimeout.
func (s *soakConn) arm() <-chan time.Time {
	s.timer.Reset(s.w.r.cfg.ioTimeout)
	return s.timer.C
}

func (s *soakConn) disarm() {
	if !s.timer.Stop() {
		select {
		case <-s.timer.C:
		default:
		}
	}
}

// drain waits until at most limit messages are in flight; false when the
// reader ended first. An echo that does not come within the ioTimeout is
// a lost message.
func (s *soakConn) drain(limit int) bool {
	if s.outstanding <= limit {
		return true
	}
	timeout := s.arm()
	defer s.disarm()
	for s.outstanding > limit {
		select {
		case <-s.acks:
			s.outstanding--
		case <-s.done:
			return false
		case <-timeout:
			s.w.r.fail("no echo", "worker %d: %d messages in flight, no echo within %v: lost (last seq %d)", s.w.id, s.outstanding, s.w.r.cfg.ioTimeout, s.w.seq-1)
			s.c.CloseNow()
			<-s.done
			s.failed = true // after the reader, which may set it too
			return false
		}
	}
	return true
}

// waitReader waits for the reader to end, for at most the ioTimeout.
func (s *soakConn) waitReader() bool {
	timeout := s.arm()
	defer s.disarm()
	select {
	case <-s.done:
		return true
	case <-timeout:
		return false
	}
}

// next makes the next message: its expectation and header.
func (s *soakConn) next() (soakExpect, [soakHeaderSize]byte) {
	w, r := s.w, s.w.r
	var hdr [soakHeaderSize]byte
	e := soakExpect{typ: codec.Binary, seq: w.seq}
	w.seq++
	pool := r.binPool
	if w.rng.IntN(2) == 0 {
		e.typ, pool = codec.Text, r.textPool
	}
	if w.rng.IntN(50) == 0 {
		e.none = true
		return e, hdr
	}
	n := soakBodySize(w.rng, r.cfg.maxBody)
	off := w.rng.IntN(len(pool) - n + 1)
	end := off + n
	// A text body starts and ends on rune boundaries.
	for off < end && !utf8.RuneStart(pool[off]) {
		off++
	}
	for end > off && end < len(pool) && !utf8.RuneStart(pool[end]) {
		end--
	}
	e.body = pool[off:end]
	var raw [12]byte
	binary.BigEndian.PutUint64(raw[:8], e.seq)
	binary.BigEndian.PutUint32(raw[8:], crc32.Checksum(e.body, soakCRC))
	hex.Encode(hdr[:], raw[:])
	return e, hdr
}

var soakCRC = crc32.MakeTable(crc32.Castagnoli)

// soakBodySize draws a body size up to limit, skewed small: most messages
// are chat-sized, a few are large.
func soakBodySize(rng *rand.Rand, limit int) int {
	switch x := rng.IntN(100); {
	case x < 60:
		return rng.IntN(257)
	case x < 85:
		return 257 + rng.IntN(4<<10-256)
	case x < 95:
		return 4<<10 + rng.IntN(60<<10)
	default:
		return 64<<10 + rng.IntN(limit-64<<10+1)
	}
}

// send sends the next message, whole or in fragments, after recording
// what its echo must be.
func (s *soakConn) send() error {
	e, hdr := s.next()
	s.expect <- e
	s.outstanding++
	s.w.r.sent.Add(1)
	if e.none {
		return s.c.WriteMessage(e.typ, nil)
	}
	if s.w.rng.IntN(5) < 3 {
		p := make([]byte, 0, soakHeaderSize+len(e.body))
		return s.c.WriteMessage(e.typ, append(append(p, hdr[:]...), e.body...))
	}
	return s.sendFragments(e, hdr[:], len(e.body))
}

// sendFragments sends the header, then the first upTo bytes of the body
// in one to four frames, the last one final unless upTo cuts the body
// short. A ping goes between fragments now and then.
func (s *soakConn) sendFragments(e soakExpect, hdr []byte, upTo int) error {
	rng := s.w.rng
	if err := s.c.WriteFrame(false, codec.Opcode(e.typ), hdr); err != nil {
		return err
	}
	body := e.body[:upTo]
	for parts := 1 + rng.IntN(4); parts > 0; parts-- {
		n := len(body)
		if parts > 1 {
			n = rng.IntN(len(body) + 1)
		}
		if rng.IntN(20) == 0 {
			if err := s.c.Ping([]byte("soak")); err != nil {
				return err
			}
		}
		fin := parts == 1 && upTo == len(e.body)
		if err := s.c.WriteFrame(fin, codec.OpContinuation, body[:n]); err != nil {
			return err
		}
		body = body[n:]
	}
	return nil
}

// finish ends the connection as planned; the reader then sees the end.
func (s *soakConn) finish(end soakEnd) error {
	r, rng := s.w.r, s.w.rng
	switch end {
	case endClean:
		// Messages may be in flight: they must all come back before the
		// answer to the close.
		start := time.Now()
		err := s.c.WriteClose(codec.CloseNormal, "")
		if err == nil && s.waitReader() {
			s.closeTook = time.Since(start)
		}
		return err
	case endFIN, endRST:
		if rng.IntN(2) == 0 && !s.drain(0) {
			return nil // the reader ended: judge says whether it may have
		}
		s.dropping = true
		if end == endRST {
			if tc, ok := s.c.NetConn().(*net.TCPConn); ok {
				tc.SetLinger(0) //nolint:errcheck // then a FIN
			}
		}
		s.c.CloseNow()
		return nil
	case endMidMessage:
		e, hdr := s.next()
		if e.none || len(e.body) == 0 {
			// Some body to cut: ASCII, valid in text and binary.
			e.body = []byte("cut in the middle")
		}
		err := s.sendFragments(e, hdr[:], rng.IntN(len(e.body)))
		s.dropping = true
		s.c.CloseNow()
		return err
	default: // a plugin fault
		if err := s.c.WriteMessage(codec.Text, []byte(soakFaults[end])); err != nil {
			return err
		}
		r.faultsSent[end].Add(1)
		return nil
	}
}

// judge checks how the connection ended against how it was planned to.
func (s *soakConn) judge(end soakEnd, writeErr error) {
	r, w := s.w.r, s.w
	for len(s.acks) > 0 {
		<-s.acks
		s.outstanding--
	}
	if s.failed {
		return
	}
	var ce *codec.CloseError
	closed := errors.As(s.readErr, &ce)
	pluginClose := closed && w.filtered && ce.Code == codec.CloseInternalError && ce.Reason == soakFaultReason
	switch {
	case pluginClose && end.fault():
		r.faultCloses.Add(1)
	case pluginClose:
		// Another connection's fault discarded the instance this one
		// was pinned to: on_error = "close" closes them all.
		r.collateral.Add(1)
	case end == endClean && closed && ce.Code == codec.CloseNormal && writeErr == nil:
		if s.outstanding != 0 {
			r.fail("lost before a clean close", "worker %d (%s route): %d messages sent before the client's close never came back (last seq %d); the answer came %v after the close",
				w.id, w.route(), s.outstanding, w.seq-1, s.closeTook.Round(time.Millisecond))
			return
		}
		r.cleanCloses.Add(1)
	case s.dropping && !closed:
		switch end {
		case endFIN:
			r.fins.Add(1)
		case endRST:
			r.rsts.Add(1)
		case endMidMessage:
			r.midMessage.Add(1)
		}
	default:
		r.fail("unexpected end", "worker %d (%s route, planned end %v): the connection ended with %v, write error %v, %d messages in flight",
			w.id, w.route(), end, s.readErr, writeErr, s.outstanding)
		return
	}
	r.cut.Add(int64(s.outstanding))
}

// read is the connection's reading goroutine: it checks every echo
// against the oldest message in flight, until the connection ends.
func (s *soakConn) read() {
	defer close(s.done)
	r := s.w.r
	for {
		typ, p, err := s.c.ReadMessage()
		if err != nil {
			s.readErr = err
			return
		}
		var e soakExpect
		select {
		case e = <-s.expect:
		default:
			r.fail("unexpected message", "worker %d: got a %v message of %d bytes with nothing in flight", s.w.id, typ, len(p))
			s.failed = true
			s.c.CloseNow()
			return
		}
		if problem := e.check(typ, p); problem != "" {
			r.fail("corrupted", "worker %d: message %d: %s", s.w.id, e.seq, problem)
			s.failed = true
			s.c.CloseNow()
			return
		}
		r.verified.Add(1)
		r.verifiedBytes.Add(int64(len(p)))
		s.acks <- struct{}{}
	}
}

// check compares an echo with the message that was sent; it returns what
// is wrong, or "".
func (e soakExpect) check(typ codec.MessageType, p []byte) string {
	if typ != e.typ {
		return fmt.Sprintf("sent %v, got %v (%d bytes)", e.typ, typ, len(p))
	}
	if e.none {
		if len(p) != 0 {
			return fmt.Sprintf("sent an empty message, got %d bytes", len(p))
		}
		return ""
	}
	if len(p) < soakHeaderSize {
		return fmt.Sprintf("got %d bytes, shorter than the header", len(p))
	}
	var raw [12]byte
	if _, err := hex.Decode(raw[:], p[:soakHeaderSize]); err != nil {
		return fmt.Sprintf("corrupted header %q", p[:soakHeaderSize])
	}
	seq, sum := binary.BigEndian.Uint64(raw[:8]), binary.BigEndian.Uint32(raw[8:])
	body := p[soakHeaderSize:]
	switch {
	case seq != e.seq:
		return fmt.Sprintf("got message %d instead: lost or out of order", seq)
	case crc32.Checksum(body, soakCRC) != sum:
		return fmt.Sprintf("checksum mismatch: corrupted body of %d bytes (sent %d)", len(body), len(e.body))
	case !bytes.Equal(body, e.body):
		return fmt.Sprintf("body of %d bytes differs from the %d sent", len(body), len(e.body))
	}
	return ""
}

// soakLogCounter is the proxy's log handler in the soak: it counts the
// warnings and errors by message, and drops everything else.
type soakLogCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (h *soakLogCounter) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h *soakLogCounter) Handle(_ context.Context, rec slog.Record) error {
	key := rec.Level.String() + " " + strconv.Quote(rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "stream" { // a plugin's output, one record a line
			key = rec.Level.String() + " plugin " + a.Value.String()
			return false
		}
		return true
	})
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.counts == nil {
		h.counts = map[string]int{}
	}
	h.counts[key]++
	return nil
}

func (h *soakLogCounter) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *soakLogCounter) WithGroup(string) slog.Handler      { return h }

func (h *soakLogCounter) summary() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.counts) == 0 {
		return "none"
	}
	var b bytes.Buffer
	for k, n := range h.counts {
		fmt.Fprintf(&b, "\n  %6d  %s", n, k)
	}
	return b.String()
}
