package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/wasmgate/wasmgate/cmd/wsbench/internal/compare"
)

// stdio is where one invocation reads and writes: the process's standard
// streams, or a test's. Only the goroutine running the command writes to
// out, so that the order of the READY, MEASURE and RESULT lines is the
// order of events.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// command is one subcommand. It returns the exit status; ctx is canceled on
// SIGINT or SIGTERM.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, std stdio) int
}

func commands() []command {
	return []command{
		{"echo", "a fast WebSocket echo server, the backend of the benchmarks", cmdEcho},
		{"throughput", "messages per second with a window of messages in flight per connection", cmdThroughput},
		{"pingpong", "round-trip latency: one message in flight per connection", cmdPingpong},
		{"connrate", "WebSocket handshakes (and close handshakes) per second", cmdConnrate},
		{"idle", "open many connections, hold them, then check that each is still alive", cmdIdle},
		{"compare", "benchmark wasmgate against nginx, HAProxy and Caddy with the commands above", cmdCompare},
	}
}

// cmdCompare is "wsbench compare", which runs the other commands as child
// processes, pinned to CPUs, around each proxy.
func cmdCompare(_ context.Context, args []string, std stdio) int {
	if err := compare.Main(args, std.out, std.err); err != nil {
		fmt.Fprintf(std.err, "wsbench %v\n", err)
		return 1
	}
	return 0
}

// run runs the command line args (without the program name) and returns
// the exit status: 0 on success, 1 on failure, 2 on a usage error.
func run(ctx context.Context, args []string, std stdio) int {
	if len(args) == 0 {
		writeUsage(std.err)
		return 2
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		writeUsage(std.out)
		return 0
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, args[1:], std)
		}
	}
	fmt.Fprintf(std.err, "wsbench: unknown command %q\n\n", name)
	writeUsage(std.err)
	return 2
}

func writeUsage(w io.Writer) {
	fmt.Fprint(w, "wsbench is the WebSocket load generator and echo backend of wasmgate's benchmarks.\n\nUsage:\n  wsbench <command> [flags]\n\nCommands:\n")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, "\nRun \"wsbench <command> -h\" for its flags.\n")
}

// newFlagSet makes the flag set of a subcommand; its errors and usage go
// to stderr.
func newFlagSet(name, usage string, std stdio) *flag.FlagSet {
	fs := flag.NewFlagSet("wsbench "+name, flag.ContinueOnError)
	fs.SetOutput(std.err)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fmt.Fprint(fs.Output(), "\nFlags:\n")
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args and refuses positional arguments. When ok is
// false the command is over, with exit status code.
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return 2, false
	}
	return 0, true
}

// usageError reports a bad flag value and returns the exit status 2.
func usageError(std stdio, name, format string, args ...any) int {
	fmt.Fprintf(std.err, "wsbench %s: %s\n", name, fmt.Sprintf(format, args...))
	return 2
}

// failure reports a failed command and returns the exit status 1.
func failure(std stdio, name string, err error) int {
	fmt.Fprintf(std.err, "wsbench %s: %v\n", name, err)
	return 1
}

// stringList is a flag that may be given several times.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// loadFlags are the flags that every load command shares.
type loadFlags struct {
	url      string
	conns    int
	duration time.Duration
	warmup   time.Duration
	sources  string
}

func (l *loadFlags) register(fs *flag.FlagSet, defaultConns int) {
	fs.StringVar(&l.url, "url", "", "the ws:// `URL` to load (required)")
	fs.IntVar(&l.conns, "c", defaultConns, "the number of `connections` (workers)")
	fs.DurationVar(&l.duration, "duration", 5*time.Second, "the measured `interval`, after the warmup")
	fs.DurationVar(&l.warmup, "warmup", time.Second, "the `time` to run before measuring")
}

func (l *loadFlags) registerSources(fs *flag.FlagSet) {
	fs.StringVar(&l.sources, "sources", "", "source addresses, round robin: a `list` of IPs and ranges (127.0.0.2-127.0.0.9), or a count N for 127.0.0.2 onwards; default: the kernel's choice")
}

// check validates the shared flags and returns the parsed sources.
func (l *loadFlags) check() (sourceList, error) {
	if l.url == "" {
		return nil, errors.New("-url is required")
	}
	if !strings.HasPrefix(l.url, "ws://") && !strings.HasPrefix(l.url, "wss://") {
		return nil, fmt.Errorf("-url %q: want a ws:// or wss:// URL", l.url)
	}
	if l.conns < 1 {
		return nil, fmt.Errorf("-c %d: want at least 1", l.conns)
	}
	if l.duration <= 0 {
		return nil, fmt.Errorf("-duration %v: want a positive duration", l.duration)
	}
	if l.warmup < 0 {
		return nil, fmt.Errorf("-warmup %v: want zero or more", l.warmup)
	}
	return parseSources(l.sources)
}

// writeResult writes the RESULT line: "RESULT " and v as one line of JSON.
func writeResult(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	_, err = fmt.Fprintf(w, "RESULT %s\n", b)
	return err
}

// micros converts a duration to microseconds, rounded to 0.01 µs, for the
// RESULT lines.
func micros(d time.Duration) float64 { return round2(float64(d) / 1e3) }

func round2(x float64) float64 { return math.Round(x*100) / 100 }

// perSecond is n per second over d, or 0 for an empty interval.
func perSecond(n float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return round2(n / d.Seconds())
}

// formatDuration prints a latency with three significant digits.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%d ns", d)
	case d < time.Millisecond:
		return fmt.Sprintf("%.3g µs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.3g ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.3g s", d.Seconds())
}

// stdinClosed returns a channel closed when in reaches EOF (or fails). It
// is how a parent process stops a child: by closing the pipe.
func stdinClosed(in io.Reader) <-chan struct{} {
	done := make(chan struct{})
	go drainUntilEOF(in, done)
	return done
}

func drainUntilEOF(in io.Reader, done chan<- struct{}) {
	io.Copy(io.Discard, in) //nolint:errcheck // any end of stdin means stop
	close(done)
}

// sleepCtx sleeps for d, or less when ctx is done or stop is closed. It
// reports whether the whole d passed.
func sleepCtx(ctx context.Context, d time.Duration, stop <-chan struct{}) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-stop:
	}
	return false
}
