package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

const connrateUsage = `Usage: wsbench connrate -url URL [flags]

Connrate measures the rate of WebSocket handshakes: each of -c workers
dials, completes the opening handshake, completes a close handshake, and
resets the socket, in a loop. Handshakes completed after the warmup count;
"MEASURE start" and "MEASURE end" mark that interval. Failures count over
the whole run, warmup included. The last line is "RESULT {json}".
`

// connrateConfig is a connrate run.
type connrateConfig struct {
	url      string
	conns    int
	warmup   time.Duration
	duration time.Duration
	sources  sourceList
}

// connrateResult is the RESULT line of a connrate run.
type connrateResult struct {
	Mode           string  `json:"mode"`
	Conns          int     `json:"conns"`
	DurationS      float64 `json:"duration_s"`
	Handshakes     uint64  `json:"handshakes"`
	HandshakesPerS float64 `json:"handshakes_per_s"`
	Failures       uint64  `json:"failures"`
	FirstError     string  `json:"first_error,omitempty"`
	P50us          float64 `json:"p50_us"`
	P99us          float64 `json:"p99_us"`
	P999us         float64 `json:"p999_us"`
	StartUnixNs    int64   `json:"start_unix_ns"`
	EndUnixNs      int64   `json:"end_unix_ns"`
}

func cmdConnrate(ctx context.Context, args []string, std stdio) int {
	fs := newFlagSet("connrate", connrateUsage, std)
	var lf loadFlags
	lf.register(fs, 50)
	lf.registerSources(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	sources, err := lf.check()
	if err != nil {
		return usageError(std, "connrate", "%v", err)
	}
	cfg := connrateConfig{url: lf.url, conns: lf.conns, warmup: lf.warmup, duration: lf.duration, sources: sources}
	res := runConnrate(ctx, cfg, std.out)
	writeConnrateTable(std.out, cfg, res)
	if err := writeResult(std.out, res); err != nil {
		return failure(std, "connrate", err)
	}
	if res.Handshakes == 0 && res.Failures > 0 {
		return failure(std, "connrate", fmt.Errorf("no handshake completed: %s", res.FirstError))
	}
	return 0
}

// Bounds of a connrate worker's pause after a failure: a server that
// refuses at once must not turn the workers into a busy loop.
const (
	minFailurePause = time.Millisecond
	maxFailurePause = 100 * time.Millisecond
)

// connrateWorker is one connrate loop, owned by its goroutine.
type connrateWorker struct {
	dialer     *codec.Dialer
	url        string
	clock      *runClock
	firstError *firstError
	handshakes uint64
	failures   uint64
	hist       histogram
}

// run opens and closes connections until the clock says done. Dials use
// ctx, which the run cancels only once the workers had time to finish.
func (w *connrateWorker) run(ctx context.Context, stop <-chan struct{}) {
	var pause time.Duration
	for w.clock.load() != phaseDone && ctx.Err() == nil {
		start := monoNow()
		c, _, err := w.dialer.Dial(ctx, w.url)
		elapsed := time.Duration(monoNow() - start)
		if err == nil {
			if w.clock.load() == phaseMeasure {
				w.handshakes++
				w.hist.record(elapsed)
			}
			err = closeAndReset(c)
		}
		if err == nil {
			pause = 0
			continue
		}
		if w.clock.load() == phaseDone {
			return
		}
		w.failures++
		w.firstError.set(err)
		pause = min(max(2*pause, minFailurePause), maxFailurePause)
		sleepCtx(ctx, pause, stop)
	}
}

// closeAndReset completes a close handshake on c (sends close 1000, reads
// until the server's close) and then closes the socket with SO_LINGER 0:
// the kernel sends an RST instead of a FIN, so this side keeps no
// TIME_WAIT socket and a long run does not exhaust the ephemeral ports.
func closeAndReset(c *codec.Conn) error {
	nc := c.NetConn()
	defer func() {
		setLingerZero(nc)
		c.CloseNow()
	}()
	nc.SetDeadline(time.Now().Add(closeTimeout)) //nolint:errcheck // a failed deadline shows as a failed read
	if err := c.WriteClose(codec.CloseNormal, ""); err != nil {
		return fmt.Errorf("send close: %w", err)
	}
	for {
		_, err := c.ReadFrame()
		var ce *codec.CloseError
		if errors.As(err, &ce) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("await the close answer: %w", err)
		}
	}
}

// setLingerZero makes closing nc reset the TCP connection.
func setLingerZero(nc net.Conn) {
	if tc, ok := nc.(interface{ NetConn() net.Conn }); ok { // TLS
		nc = tc.NetConn()
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetLinger(0) //nolint:errcheck // best effort: a FIN instead is still correct
	}
}

// runConnrate runs a connrate load and returns its result.
func runConnrate(ctx context.Context, cfg connrateConfig, out io.Writer) connrateResult {
	dialer := newDialer(cfg.sources)
	dialCtx, cancelDials := context.WithCancel(ctx)
	defer cancelDials()
	var clock runClock
	var first firstError
	var wg sync.WaitGroup
	workers := make([]*connrateWorker, cfg.conns)
	ended := make(chan struct{})
	for i := range workers {
		workers[i] = &connrateWorker{dialer: dialer, url: cfg.url, clock: &clock, firstError: &first}
		wg.Add(1)
		go runConnrateWorker(dialCtx, workers[i], ended, &wg)
	}
	iv := clock.run(ctx, cfg.warmup, cfg.duration, out, nil)
	close(ended)
	if !waitTimeout(&wg, closeTimeout+time.Second) {
		cancelDials()
		wg.Wait()
	}

	var hist histogram
	res := connrateResult{Mode: "connrate", Conns: cfg.conns}
	for _, w := range workers {
		res.Handshakes += w.handshakes
		res.Failures += w.failures
		hist.merge(&w.hist)
	}
	d := iv.duration()
	res.DurationS = round2(d.Seconds())
	res.HandshakesPerS = perSecond(float64(res.Handshakes), d)
	res.FirstError = first.text()
	res.P50us, res.P99us, res.P999us = micros(hist.quantile(0.5)), micros(hist.quantile(0.99)), micros(hist.quantile(0.999))
	res.StartUnixNs, res.EndUnixNs = iv.start.UnixNano(), iv.end.UnixNano()
	return res
}

func runConnrateWorker(ctx context.Context, w *connrateWorker, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	w.run(ctx, stop)
}

func writeConnrateTable(w io.Writer, cfg connrateConfig, r connrateResult) {
	fmt.Fprintf(w, "connrate  %s  workers %d\n", cfg.url, r.Conns)
	fmt.Fprintf(w, "  measured    %.2f s\n", r.DurationS)
	fmt.Fprintf(w, "  handshakes  %d  (%.0f/s)\n", r.Handshakes, r.HandshakesPerS)
	fmt.Fprintf(w, "  handshake   p50 %s  p99 %s  p99.9 %s\n", formatMicros(r.P50us), formatMicros(r.P99us), formatMicros(r.P999us))
	fmt.Fprintf(w, "  failures    %d", r.Failures)
	if r.FirstError != "" {
		fmt.Fprintf(w, " (first: %s)", r.FirstError)
	}
	fmt.Fprintln(w)
}
