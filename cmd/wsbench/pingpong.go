package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

const pingpongUsage = `Usage: wsbench pingpong -url URL [flags]

Pingpong measures round trips: each of -c connections sends one message,
waits for its echo, and sends the next. Round trips after the warmup
count; "MEASURE start" and "MEASURE end" mark that interval. The last line
is "RESULT {json}".
`

// pingpongConfig is a pingpong run.
type pingpongConfig struct {
	url      string
	conns    int
	size     int
	warmup   time.Duration
	duration time.Duration
	binary   bool
	sources  sourceList
}

// pingpongResult is the RESULT line of a pingpong run.
type pingpongResult struct {
	Mode        string  `json:"mode"`
	Conns       int     `json:"conns"`
	Size        int     `json:"size"`
	Text        bool    `json:"text"`
	DurationS   float64 `json:"duration_s"`
	RTTs        uint64  `json:"rtts"`
	RTTsPerS    float64 `json:"rtts_per_s"`
	P50us       float64 `json:"p50_us"`
	P99us       float64 `json:"p99_us"`
	P999us      float64 `json:"p999_us"`
	MeanUs      float64 `json:"mean_us"`
	MaxUs       float64 `json:"max_us"`
	Errors      int     `json:"errors"`
	FirstError  string  `json:"first_error,omitempty"`
	StartUnixNs int64   `json:"start_unix_ns"`
	EndUnixNs   int64   `json:"end_unix_ns"`
}

func cmdPingpong(ctx context.Context, args []string, std stdio) int {
	fs := newFlagSet("pingpong", pingpongUsage, std)
	var lf loadFlags
	lf.register(fs, 1)
	lf.registerSources(fs)
	size := fs.Int("size", 64, "the message size in `bytes` (at least 16)")
	text := fs.Bool("text", true, "send text messages; -text=false sends binary ones")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	sources, err := lf.check()
	if err != nil {
		return usageError(std, "pingpong", "%v", err)
	}
	if *size < minPayloadSize {
		return usageError(std, "pingpong", "-size %d: want at least %d bytes, for the timestamp", *size, minPayloadSize)
	}
	cfg := pingpongConfig{
		url: lf.url, conns: lf.conns, size: *size, warmup: lf.warmup, duration: lf.duration,
		binary: !*text, sources: sources,
	}
	res := runPingpong(ctx, cfg, std.out)
	writePingpongTable(std.out, cfg, res)
	if err := writeResult(std.out, res); err != nil {
		return failure(std, "pingpong", err)
	}
	if res.Errors == cfg.conns {
		return failure(std, "pingpong", fmt.Errorf("%w: %s", errNothingMeasured, res.FirstError))
	}
	if res.RTTs == 0 {
		return failure(std, "pingpong", errNoEcho)
	}
	return 0
}

// pingpongConn is the state of one connection of a pingpong run, owned by
// its goroutine.
type pingpongConn struct {
	conn  *codec.Conn
	clock *runClock
	typ   codec.MessageType
	msg   []byte
	hist  histogram
}

// run does round trips until the clock says done. The round trip is timed
// on this side, from before the write to after the read, so that a filter
// rewriting the payload changes nothing.
func (p *pingpongConn) run() error {
	for {
		start := monoNow()
		putTimestamp(p.msg, start)
		if err := p.conn.WriteMessage(p.typ, p.msg); err != nil {
			return err
		}
		if _, _, err := p.conn.ReadMessage(); err != nil {
			return err
		}
		rtt := time.Duration(monoNow() - start)
		switch p.clock.load() {
		case phaseMeasure:
			p.hist.record(rtt)
		case phaseDone:
			return nil
		}
	}
}

// runPingpong runs a pingpong load and returns its result.
func runPingpong(ctx context.Context, cfg pingpongConfig, out io.Writer) pingpongResult {
	typ := codec.Text
	if cfg.binary {
		typ = codec.Binary
	}
	states := make([]*pingpongConn, cfg.conns)
	r := connRun{
		url: cfg.url, dialer: newDialer(cfg.sources), conns: cfg.conns,
		warmup: cfg.warmup, duration: cfg.duration,
		work: func(i int, c *codec.Conn, clock *runClock) error {
			msg, err := newPayload(cfg.size, payloadPlain)
			if err != nil {
				return err
			}
			states[i] = &pingpongConn{conn: c, clock: clock, typ: typ, msg: msg}
			return states[i].run()
		},
	}
	o := r.run(ctx, out)
	var hist histogram
	for _, p := range states {
		if p != nil {
			hist.merge(&p.hist)
		}
	}
	d := o.iv.duration()
	errs, first := o.failed()
	return pingpongResult{
		Mode: "pingpong", Conns: cfg.conns, Size: cfg.size, Text: !cfg.binary,
		DurationS: round2(d.Seconds()), RTTs: hist.total, RTTsPerS: perSecond(float64(hist.total), d),
		P50us: micros(hist.quantile(0.50)), P99us: micros(hist.quantile(0.99)),
		P999us: micros(hist.quantile(0.999)), MeanUs: micros(hist.mean()), MaxUs: micros(time.Duration(hist.max)),
		Errors: errs, FirstError: first,
		StartUnixNs: o.iv.start.UnixNano(), EndUnixNs: o.iv.end.UnixNano(),
	}
}

func writePingpongTable(w io.Writer, cfg pingpongConfig, r pingpongResult) {
	fmt.Fprintf(w, "pingpong  %s  conns %d  size %d B\n", cfg.url, r.Conns, r.Size)
	fmt.Fprintf(w, "  measured  %.2f s\n", r.DurationS)
	fmt.Fprintf(w, "  rtts      %d  (%.0f/s)\n", r.RTTs, r.RTTsPerS)
	fmt.Fprintf(w, "  rtt       mean %s  p50 %s  p99 %s  p99.9 %s  max %s\n",
		formatMicros(r.MeanUs), formatMicros(r.P50us), formatMicros(r.P99us), formatMicros(r.P999us), formatMicros(r.MaxUs))
	fmt.Fprintf(w, "  errors    %d", r.Errors)
	if r.FirstError != "" {
		fmt.Fprintf(w, " (first: %s)", r.FirstError)
	}
	fmt.Fprintln(w)
}
