package main

import (
	"context"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

const throughputUsage = `Usage: wsbench throughput -url URL [flags]

Throughput opens -c connections, and each keeps -window messages of -size
bytes in flight: it sends -window messages, then one more for every echo it
receives. Each message carries its send time in its first 16 bytes, so the
latency of every echo is known. Counts and latencies cover only the
interval after the warmup, which "MEASURE start" and "MEASURE end" mark.
The last line is "RESULT {json}".
`

// throughputConfig is a throughput run.
type throughputConfig struct {
	url      string
	conns    int
	window   int
	size     int
	warmup   time.Duration
	duration time.Duration
	binary   bool
	payload  payloadKind
	sources  sourceList
	// split gives every connection a writer goroutine, as windows of more
	// than splitWindowBytes always have.
	split bool
}

// throughputResult is the RESULT line of a throughput run.
type throughputResult struct {
	Mode          string  `json:"mode"`
	Conns         int     `json:"conns"`
	Window        int     `json:"window"`
	Size          int     `json:"size"`
	Text          bool    `json:"text"`
	Payload       string  `json:"payload"`
	DurationS     float64 `json:"duration_s"`
	Messages      uint64  `json:"messages"`
	MsgsPerS      float64 `json:"msgs_per_s"`
	MBPerS        float64 `json:"mb_per_s"`
	P50us         float64 `json:"p50_us"`
	P99us         float64 `json:"p99_us"`
	P999us        float64 `json:"p999_us"`
	MaxUs         float64 `json:"max_us"`
	Errors        int     `json:"errors"`
	FirstError    string  `json:"first_error,omitempty"`
	BadTimestamps uint64  `json:"bad_timestamps"`
	StartUnixNs   int64   `json:"start_unix_ns"`
	EndUnixNs     int64   `json:"end_unix_ns"`
}

func cmdThroughput(ctx context.Context, args []string, std stdio) int {
	fs := newFlagSet("throughput", throughputUsage, std)
	var lf loadFlags
	lf.register(fs, 50)
	lf.registerSources(fs)
	window := fs.Int("window", 16, "the `number` of messages in flight per connection")
	size := fs.Int("size", 128, "the message size in `bytes` (at least 16)")
	text := fs.Bool("text", true, "send text messages; -text=false sends binary ones")
	split := fs.Bool("split", false, "give each connection a writer goroutine besides its reader (always on when window*size > 256 KiB)")
	payload := payloadPlain
	fs.Var(&payload, "payload", "the message filler: plain, or redactable (an e-mail address in every message of 64 bytes or more)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	sources, err := lf.check()
	if err != nil {
		return usageError(std, "throughput", "%v", err)
	}
	if *window < 1 {
		return usageError(std, "throughput", "-window %d: want at least 1", *window)
	}
	if *size < minPayloadSize {
		return usageError(std, "throughput", "-size %d: want at least %d bytes, for the timestamp", *size, minPayloadSize)
	}
	if payload == payloadRedactable && *size < redactableMinSize {
		fmt.Fprintf(std.err, "wsbench throughput: -size %d is below %d: the messages carry no e-mail address\n", *size, redactableMinSize)
	}
	cfg := throughputConfig{
		url: lf.url, conns: lf.conns, window: *window, size: *size,
		warmup: lf.warmup, duration: lf.duration,
		binary: !*text, payload: payload, sources: sources, split: *split,
	}
	res, err := runThroughput(ctx, cfg, std.out)
	if err != nil {
		return failure(std, "throughput", err)
	}
	writeThroughputTable(std.out, cfg, res)
	if err := writeResult(std.out, res); err != nil {
		return failure(std, "throughput", err)
	}
	if res.Errors == cfg.conns {
		return failure(std, "throughput", fmt.Errorf("%w: %s", errNothingMeasured, res.FirstError))
	}
	if res.Messages == 0 {
		return failure(std, "throughput", errNoEcho)
	}
	return 0
}

// throughputConn is the state of one connection of a throughput run. The
// counters belong to the connection's goroutine (its reader, in split
// mode), msg to whichever goroutine writes; the run reads the counters
// once they have ended.
type throughputConn struct {
	conn  *codec.Conn
	clock *runClock
	op    codec.Opcode
	// msg is the message being sent: its filler is written once, its
	// timestamp before every send. BufferFrame copies it, so one buffer
	// serves every message.
	msg []byte
	// buffered tells whether the next echo is already in the read
	// buffer, and now is when the last read burst arrived.
	buffered bool
	now      int64

	messages      uint64
	bytes         uint64
	badTimestamps uint64
	hist          histogram
}

func newThroughputConn(cfg *throughputConfig, c *codec.Conn, clock *runClock) (*throughputConn, error) {
	msg, err := newPayload(cfg.size, cfg.payload)
	if err != nil {
		return nil, err
	}
	op := codec.OpText
	if cfg.binary {
		op = codec.OpBinary
	}
	return &throughputConn{conn: c, clock: clock, op: op, msg: msg}, nil
}

// run sends the window of messages, then answers every echo with a new
// message until the clock says done.
func (t *throughputConn) run(window int) error {
	now := monoNow()
	for range window {
		if err := t.send(now); err != nil {
			return err
		}
	}
	if err := t.conn.Flush(); err != nil {
		return err
	}
	for {
		more, err := t.step()
		if err != nil || !more {
			return err
		}
	}
}

// step is the per-message path: it reads one echo, counts it, and buffers
// the next message. Writes are flushed once per read burst: when no whole
// frame is left in the read buffer. The clock is read once per burst too:
// the messages already buffered arrived with the read that brought the
// first of them. step reports false once the run is done.
func (t *throughputConn) step() (bool, error) {
	_, p, err := t.conn.ReadMessage()
	if err != nil {
		return false, err
	}
	if !t.buffered {
		t.now = monoNow()
	}
	more, err := t.onEcho(p, t.now)
	if err != nil || !more {
		return false, err
	}
	t.buffered = t.conn.Buffered()
	if !t.buffered {
		return true, t.conn.Flush()
	}
	return true, nil
}

// onEcho handles one echo received at now (monoNow's clock): counts it
// during the measured interval and buffers the next message. It reports
// false once the run is done.
func (t *throughputConn) onEcho(p []byte, now int64) (bool, error) {
	switch t.clock.load() {
	case phaseMeasure:
		t.count(p, now)
	case phaseDone:
		return false, nil
	}
	return true, t.send(now)
}

// count records one echo received at now.
func (t *throughputConn) count(p []byte, now int64) {
	t.messages++
	t.bytes += uint64(len(p))
	if ts, ok := parseTimestamp(p); ok {
		t.hist.record(time.Duration(now - ts))
	} else {
		t.badTimestamps++
	}
}

// send buffers one message stamped with now.
func (t *throughputConn) send(now int64) error {
	putTimestamp(t.msg, now)
	return t.conn.BufferFrame(true, t.op, t.msg)
}

// splitWindowBytes is the window, in bytes, above which a connection
// gets a writer goroutine. With one goroutine, a write of the whole window
// waits for the server to read it while the server waits for this side to
// read its echoes: once a window exceeds what the socket buffers on the
// way hold, both wait forever. Below it, one goroutine is cheaper: no
// wakeups, no second stack.
const splitWindowBytes = 256 << 10

// runSplit is run with a writer goroutine: the reader counts echoes and
// hands their credits to the writer once per read burst; the writer sends
// one message per credit. At the end the writer sends the close frame and
// the reader reads the echoes still in flight, up to the server's answer.
func (t *throughputConn) runSplit(window int) error {
	var credits atomic.Int64
	credits.Store(int64(window))
	wake := make(chan struct{}, 1)
	wake <- struct{}{}
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go t.writeCredits(&credits, wake, stop, writerDone)

	stopping := false
	var pending int64
	for {
		_, p, err := t.conn.ReadMessage()
		if err != nil {
			if stopping {
				return <-writerDone
			}
			t.conn.CloseNow() // unblocks the writer
			<-writerDone
			return err
		}
		if !t.buffered {
			t.now = monoNow()
		}
		switch t.clock.load() {
		case phaseMeasure:
			t.count(p, t.now)
		case phaseDone:
			if !stopping {
				stopping = true
				close(stop)
			}
		}
		pending++
		t.buffered = t.conn.Buffered()
		if !t.buffered && !stopping {
			credits.Add(pending)
			pending = 0
			select {
			case wake <- struct{}{}:
			default: // the writer has a wakeup waiting already
			}
		}
	}
}

// writeCredits sends one message per credit, in batches, until stop;
// then it sends the close frame.
func (t *throughputConn) writeCredits(credits *atomic.Int64, wake, stop <-chan struct{}, done chan<- error) {
	for {
		select {
		case <-wake:
		case <-stop:
			done <- t.conn.WriteClose(codec.CloseNormal, "")
			return
		}
		now := monoNow()
		for range credits.Swap(0) {
			if err := t.send(now); err != nil {
				done <- err
				return
			}
		}
		if err := t.conn.Flush(); err != nil {
			done <- err
			return
		}
	}
}

// runThroughput runs a throughput load and returns its result. Connection
// failures are counted in the result, not returned.
func runThroughput(ctx context.Context, cfg throughputConfig, out io.Writer) (throughputResult, error) {
	if _, err := newPayload(cfg.size, cfg.payload); err != nil {
		return throughputResult{}, err
	}
	states := make([]*throughputConn, cfg.conns)
	r := connRun{
		url: cfg.url, dialer: newDialer(cfg.sources), conns: cfg.conns,
		warmup: cfg.warmup, duration: cfg.duration,
		work: func(i int, c *codec.Conn, clock *runClock) error {
			t, err := newThroughputConn(&cfg, c, clock)
			if err != nil {
				return err
			}
			states[i] = t
			if cfg.split || cfg.window*cfg.size > splitWindowBytes {
				return t.runSplit(cfg.window)
			}
			return t.run(cfg.window)
		},
	}
	o := r.run(ctx, out)

	var hist histogram
	var messages, bytes, bad uint64
	for _, t := range states {
		if t == nil {
			continue
		}
		messages += t.messages
		bytes += t.bytes
		bad += t.badTimestamps
		hist.merge(&t.hist)
	}
	d := o.iv.duration()
	errs, first := o.failed()
	return throughputResult{
		Mode: "throughput", Conns: cfg.conns, Window: cfg.window, Size: cfg.size,
		Text: !cfg.binary, Payload: string(cfg.payload),
		DurationS: round2(d.Seconds()), Messages: messages,
		MsgsPerS: perSecond(float64(messages), d), MBPerS: perSecond(float64(bytes)/1e6, d),
		P50us: micros(hist.quantile(0.50)), P99us: micros(hist.quantile(0.99)),
		P999us: micros(hist.quantile(0.999)), MaxUs: micros(time.Duration(hist.max)),
		Errors: errs, FirstError: first, BadTimestamps: bad,
		StartUnixNs: o.iv.start.UnixNano(), EndUnixNs: o.iv.end.UnixNano(),
	}, nil
}

func writeThroughputTable(w io.Writer, cfg throughputConfig, r throughputResult) {
	kind := "text"
	if cfg.binary {
		kind = "binary"
	}
	fmt.Fprintf(w, "throughput  %s  conns %d  window %d  size %d B  %s  payload %s\n", cfg.url, r.Conns, r.Window, r.Size, kind, r.Payload)
	fmt.Fprintf(w, "  measured  %.2f s\n", r.DurationS)
	fmt.Fprintf(w, "  messages  %d  (%.0f msg/s, %.1f MB/s)\n", r.Messages, r.MsgsPerS, r.MBPerS)
	fmt.Fprintf(w, "  latency   p50 %s  p99 %s  p99.9 %s  max %s\n",
		formatMicros(r.P50us), formatMicros(r.P99us), formatMicros(r.P999us), formatMicros(r.MaxUs))
	fmt.Fprintf(w, "  errors    %d", r.Errors)
	if r.FirstError != "" {
		fmt.Fprintf(w, " (first: %s)", r.FirstError)
	}
	fmt.Fprintln(w)
	if r.BadTimestamps > 0 {
		fmt.Fprintf(w, "  %d echoes had no readable timestamp: something rewrote their first 16 bytes\n", r.BadTimestamps)
	}
}

// formatMicros prints a latency given in microseconds.
func formatMicros(us float64) string { return formatDuration(time.Duration(us * 1e3)) }
