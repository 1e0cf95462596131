package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

const idleUsage = `Usage: wsbench idle -url URL [flags]

Idle opens -n connections (at most -rate new ones per second), prints
"READY opened=N failed=M", and holds them without reading. After -hold, or
at EOF on stdin (the default, -hold 0), or on SIGINT or SIGTERM, it sends
one message on every connection and counts those that echo it within 10 s
(alive) and the others (dropped), closes them all, and prints
"RESULT {json}". With -procs P the connections are split over P child
processes, because one process may hold at most ~20,000 sockets.
`

const (
	// connsPerSource bounds the connections that one source address
	// carries by default: each (source, destination) pair has ~28,000
	// ephemeral ports.
	connsPerSource = 20000
	// connsPerProc is the share of one process for "-procs auto": one
	// process may hold at most ~19,900 sockets under a limit of 20,000
	// open files.
	connsPerProc = 18000
	// idleCheckTimeout bounds the liveness check of all the connections,
	// plus idleCheckPerConn for each: waking a hundred thousand parked
	// connections through a proxy takes longer than waking a hundred.
	idleCheckTimeout = 10 * time.Second
	idleCheckPerConn = time.Millisecond
	// idleCloseTimeout bounds the close handshakes of all the
	// connections; those left are cut.
	idleCloseTimeout = 10 * time.Second
	// idleParallel is how many connections are checked or closed at once.
	idleParallel = 256
	// idleChildResultTimeout bounds the wait for a child's RESULT once
	// released: its check, its closes, and a margin.
	idleChildResultTimeout = idleCheckTimeout + 20000*idleCheckPerConn + idleCloseTimeout + 30*time.Second
)

// idleProbe is the message of the liveness check.
var idleProbe = []byte("alive?")

// idleConfig is an idle run.
type idleConfig struct {
	url     string
	n       int
	sources sourceList
	// procs is the number of child processes; 1 runs in this process.
	procs    int
	rate     float64
	inflight int
	hold     time.Duration
	exe      string
}

// idleResult is the RESULT line of an idle run.
type idleResult struct {
	Mode       string  `json:"mode"`
	Requested  int     `json:"requested"`
	Opened     int     `json:"opened"`
	Failed     int     `json:"failed"`
	Alive      int     `json:"alive"`
	Dropped    int     `json:"dropped"`
	OpenS      float64 `json:"open_s"`
	Procs      int     `json:"procs"`
	FirstError string  `json:"first_error,omitempty"`
}

func cmdIdle(ctx context.Context, args []string, std stdio) int {
	fs := newFlagSet("idle", idleUsage, std)
	url := fs.String("url", "", "the ws:// `URL` to connect to (required)")
	n := fs.Int("n", 10000, "the `number` of connections")
	sourcesSpec := fs.String("sources", "", "source addresses, round robin: a `list` of IPs and ranges (127.0.0.2-127.0.0.9), or a count N for 127.0.0.2 onwards; default: enough that none carries more than 20000 connections")
	procsSpec := fs.String("procs", "1", "the number of child `processes` to split the connections over, or auto (one per 18000)")
	rate := fs.Float64("rate", 5000, "at most this many new connections per `second`")
	inflight := fs.Int("inflight", maxDialsInFlight, "at most this many dials at once")
	hold := fs.Duration("hold", 0, "how long to hold the connections; 0 holds them until stdin reaches EOF")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	cfg, err := idleConfigOf(*url, *n, *sourcesSpec, *procsSpec, *rate, *inflight, *hold)
	if err != nil {
		return usageError(std, "idle", "%v", err)
	}
	if cfg.procs > 1 {
		if cfg.exe, err = selfExecutable(); err != nil {
			return failure(std, "idle", err)
		}
	}
	res, err := runIdle(ctx, cfg, std)
	if err != nil {
		return failure(std, "idle", err)
	}
	writeIdleTable(std.out, cfg, res)
	if err := writeResult(std.out, res); err != nil {
		return failure(std, "idle", err)
	}
	if res.Opened == 0 && res.Requested > 0 {
		return failure(std, "idle", fmt.Errorf("no connection opened: %s", res.FirstError))
	}
	return 0
}

// idleConfigOf checks the flags of an idle run.
func idleConfigOf(url string, n int, sourcesSpec, procsSpec string, rate float64, inflight int, hold time.Duration) (idleConfig, error) {
	cfg := idleConfig{url: url, n: n, rate: rate, inflight: inflight, hold: hold}
	switch {
	case url == "":
		return cfg, fmt.Errorf("-url is required")
	case !strings.HasPrefix(url, "ws://") && !strings.HasPrefix(url, "wss://"):
		return cfg, fmt.Errorf("-url %q: want a ws:// or wss:// URL", url)
	case n < 1:
		return cfg, fmt.Errorf("-n %d: want at least 1", n)
	case rate <= 0:
		return cfg, fmt.Errorf("-rate %v: want a positive rate", rate)
	case inflight < 1:
		return cfg, fmt.Errorf("-inflight %d: want at least 1", inflight)
	case hold < 0:
		return cfg, fmt.Errorf("-hold %v: want zero or more", hold)
	}
	var err error
	if cfg.sources, err = parseSources(sourcesSpec); err != nil {
		return cfg, err
	}
	if sourcesSpec == "" {
		cfg.sources = defaultSources(n, connsPerSource)
	}
	if procsSpec == "auto" {
		cfg.procs = (n + connsPerProc - 1) / connsPerProc
	} else if cfg.procs, err = strconv.Atoi(procsSpec); err != nil || cfg.procs < 1 {
		return cfg, fmt.Errorf("-procs %q: want a number of processes, or auto", procsSpec)
	}
	cfg.procs = min(cfg.procs, n)
	return cfg, nil
}

// runIdle runs an idle load, in this process or over children.
func runIdle(ctx context.Context, cfg idleConfig, std stdio) (idleResult, error) {
	if cfg.procs > 1 {
		return runIdleParent(ctx, cfg, std)
	}
	pool := openIdle(ctx, cfg)
	fmt.Fprintf(std.out, "READY opened=%d failed=%d\n", pool.opened, pool.failed)
	holdIdle(ctx, cfg.hold, std.in)
	alive := pool.check()
	pool.closeAll(alive)
	return idleResult{
		Mode: "idle", Requested: cfg.n, Opened: pool.opened, Failed: pool.failed,
		Alive: pool.alive, Dropped: pool.opened - pool.alive,
		OpenS: round2(pool.openTime.Seconds()), Procs: 1, FirstError: pool.firstError.text(),
	}, nil
}

// holdIdle waits for the hold to pass, or, with hold 0, for EOF on in;
// and in either case for no longer than ctx.
func holdIdle(ctx context.Context, hold time.Duration, in io.Reader) {
	if hold > 0 {
		sleepCtx(ctx, hold, nil)
		return
	}
	select {
	case <-ctx.Done():
	case <-stdinClosed(in):
	}
}

// idlePool is the connections of an idle run. conns[i] is nil where
// dialing failed. No goroutine reads them while they are held: an idle
// connection costs this process its socket and a small codec.Conn.
type idlePool struct {
	conns      []*codec.Conn
	opened     int
	failed     int
	alive      int
	openTime   time.Duration
	firstError firstError
}

// openIdle dials cfg.n connections, pacing the dials at cfg.rate and
// keeping at most cfg.inflight in flight. A failed dial is counted, not
// retried. It stops early when ctx is done.
func openIdle(ctx context.Context, cfg idleConfig) *idlePool {
	p := &idlePool{conns: make([]*codec.Conn, cfg.n)}
	dialer := newDialer(cfg.sources)
	interval := time.Duration(float64(time.Second) / cfg.rate)
	start := time.Now()
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range min(cfg.inflight, cfg.n) {
		wg.Add(1)
		go p.dialLoop(ctx, dialer, cfg.url, start, interval, &next, &failed, &wg)
	}
	wg.Wait()
	p.openTime = time.Since(start)
	p.failed = int(failed.Load())
	for _, c := range p.conns {
		if c != nil {
			p.opened++
		}
	}
	return p
}

// dialLoop takes the next connection index and dials it when its turn in
// the pacing comes, until every index is taken.
func (p *idlePool) dialLoop(ctx context.Context, d *codec.Dialer, url string, start time.Time, interval time.Duration, next, failed *atomic.Int64, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		i := next.Add(1) - 1
		if i >= int64(len(p.conns)) {
			return
		}
		if !sleepCtx(ctx, time.Until(start.Add(time.Duration(i)*interval)), nil) || ctx.Err() != nil {
			return
		}
		c, _, err := d.Dial(ctx, url)
		if err != nil {
			failed.Add(1)
			p.firstError.set(fmt.Errorf("dial: %w", err))
			continue
		}
		p.conns[i] = c
	}
}

// check sends the probe on every connection and reports which echoed it
// (any data message counts: a filter may rewrite it) within
// idleCheckTimeout overall (and idleCheckPerConn more per connection),
// idleParallel at a time.
func (p *idlePool) check() []bool {
	alive := make([]bool, len(p.conns))
	deadline := time.Now().Add(idleCheckTimeout + time.Duration(len(p.conns))*idleCheckPerConn)
	p.parallel(func(i int, c *codec.Conn) {
		c.NetConn().SetDeadline(deadline) //nolint:errcheck // a failed deadline shows as a failed read
		err := c.WriteMessage(codec.Text, idleProbe)
		if err == nil {
			_, _, err = c.ReadMessage()
		}
		if err != nil {
			p.firstError.set(fmt.Errorf("liveness check: %w", err))
			return
		}
		c.NetConn().SetDeadline(time.Time{}) //nolint:errcheck // see above
		alive[i] = true
	})
	for _, ok := range alive {
		if ok {
			p.alive++
		}
	}
	return alive
}

// closeAll closes every connection: the alive ones with a close handshake,
// until idleCloseTimeout has passed, the others at once.
func (p *idlePool) closeAll(alive []bool) {
	deadline := time.Now().Add(idleCloseTimeout)
	p.parallel(func(i int, c *codec.Conn) {
		if !alive[i] || time.Now().After(deadline) {
			c.CloseNow()
			return
		}
		c.Close(codec.CloseNormal, "") //nolint:errcheck // closing anyway; the counts are made
	})
}

// parallel calls f for every open connection, idleParallel at a time.
func (p *idlePool) parallel(f func(i int, c *codec.Conn)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(idleParallel, len(p.conns)) {
		wg.Add(1)
		go p.parallelLoop(f, &next, &wg)
	}
	wg.Wait()
}

func (p *idlePool) parallelLoop(f func(i int, c *codec.Conn), next *atomic.Int64, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		i := int(next.Add(1) - 1)
		if i >= len(p.conns) {
			return
		}
		if c := p.conns[i]; c != nil {
			f(i, c)
		}
	}
}

// runIdleParent splits the run over cfg.procs children and aggregates
// them: READY once every child is ready, with the counts summed; then the
// hold; then each child is released (its stdin closed) and the RESULT
// lines are summed. A child that fails counts its connections as failed
// or dropped.
func runIdleParent(ctx context.Context, cfg idleConfig, std stdio) (idleResult, error) {
	res := idleResult{Mode: "idle", Requested: cfg.n, Procs: cfg.procs}
	var firstErr firstError
	children := make([]*child, 0, cfg.procs)
	shares := make([]int, cfg.procs)
	for i := range shares {
		shares[i] = cfg.n / cfg.procs
		if i < cfg.n%cfg.procs {
			shares[i]++
		}
	}
	defer stopChildren(&children)
	for i, share := range shares {
		ch, err := startChild("idle child "+strconv.Itoa(i+1), cfg.exe, idleChildArgs(cfg, share), std.err)
		if err != nil {
			return res, err
		}
		children = append(children, ch)
	}

	opened := make([]int, len(children))
	for i, ch := range children {
		line, err := ch.await(ctx, ch.ready, "READY", 0)
		var failed int
		if err == nil {
			_, err = fmt.Sscanf(line, "READY opened=%d failed=%d", &opened[i], &failed)
		}
		if err != nil {
			firstErr.set(err)
			opened[i], failed = 0, shares[i]
		}
		res.Opened += opened[i]
		res.Failed += failed
	}
	fmt.Fprintf(std.out, "READY opened=%d failed=%d\n", res.Opened, res.Failed)
	holdIdle(ctx, cfg.hold, std.in)

	for _, ch := range children {
		ch.release()
	}
	for i, ch := range children {
		var r idleResult
		line, err := ch.await(context.Background(), ch.result, "RESULT", idleChildResultTimeout)
		if err == nil {
			err = json.Unmarshal([]byte(strings.TrimPrefix(line, "RESULT ")), &r)
		}
		if err != nil {
			firstErr.set(err)
			res.Dropped += opened[i]
			continue
		}
		if r.FirstError != "" {
			firstErr.set(fmt.Errorf("%s: %s", ch.name, r.FirstError))
		}
		res.Alive += r.Alive
		res.Dropped += r.Dropped
		res.OpenS = max(res.OpenS, r.OpenS)
	}
	res.FirstError = firstErr.text()
	return res, nil
}

// idleChildArgs is the command line of a child with share connections:
// its part of the rate and of the dials in flight, the same sources (the
// ports of a source are shared by every process), and a hold until the
// parent closes its stdin.
func idleChildArgs(cfg idleConfig, share int) []string {
	args := []string{"idle", "-url", cfg.url, "-n", strconv.Itoa(share), "-procs", "1", "-hold", "0",
		"-rate", strconv.FormatFloat(cfg.rate/float64(cfg.procs), 'g', -1, 64),
		"-inflight", strconv.Itoa(max(1, (cfg.inflight+cfg.procs-1)/cfg.procs))}
	if len(cfg.sources) > 0 {
		args = append(args, "-sources", cfg.sources.String())
	}
	return args
}

// stopChildren releases the children and waits for them, killing those
// that outlive the timeout.
func stopChildren(children *[]*child) {
	var wg sync.WaitGroup
	for _, ch := range *children {
		wg.Add(1)
		go stopChild(ch, &wg)
	}
	wg.Wait()
}

func stopChild(ch *child, wg *sync.WaitGroup) {
	defer wg.Done()
	ch.stop(idleChildResultTimeout) //nolint:errcheck // its RESULT, or its absence, is what counts
}

func writeIdleTable(w io.Writer, cfg idleConfig, r idleResult) {
	fmt.Fprintf(w, "idle  %s  requested %d  procs %d  sources %d\n", cfg.url, r.Requested, r.Procs, max(1, len(cfg.sources)))
	fmt.Fprintf(w, "  opened   %d in %.2f s  (failed %d)\n", r.Opened, r.OpenS, r.Failed)
	fmt.Fprintf(w, "  alive    %d  (dropped %d)\n", r.Alive, r.Dropped)
	if r.FirstError != "" {
		fmt.Fprintf(w, "  first error: %s\n", r.FirstError)
	}
}
