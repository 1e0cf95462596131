// Command wsbench is the load generator and the echo backend of wasmgate's
// benchmarks. It measures a WebSocket server or proxy from outside: message
// throughput with a window of messages in flight, round-trip latency,
// handshake rate, and how many idle connections it holds.
//
// Usage:
//
//	wsbench echo -listen ADDR [-listen ADDR ...] [-reuseport] [-procs P] [-stdin-eof]
//	wsbench throughput -url URL [-c 50] [-window 16] [-size 128] [-duration 5s] [-warmup 1s]
//	wsbench pingpong -url URL [-c 1] [-size 64] [-duration 5s] [-warmup 1s]
//	wsbench connrate -url URL [-c 50] [-duration 5s] [-warmup 1s]
//	wsbench idle -url URL [-n 10000] [-procs P|auto] [-rate 5000] [-hold D]
//	wsbench compare [flags]   the benchmark of wasmgate against nginx, HAProxy and Caddy
//
// Every load command prints a short table and then, as its last line,
// "RESULT " and one line of JSON for a parent process to parse. The
// commands that measure over an interval also print "MEASURE start" and
// "MEASURE end" at its two ends, so that a parent can sample the CPU time of
// the server under test over exactly that interval. The echo command prints
// "READY" and its addresses once it accepts connections; idle prints "READY"
// once its connections are open. README.md has the details.
//
// wsbench is built to cost little: it shares a CPU core with its echo
// backend while the proxy under test has another. The client and the echo
// server allocate nothing per message, batch their writes (one write per
// read burst), run one goroutine per connection, and keep their counters
// and latency histograms per connection, merged once at the end.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stop()
	os.Exit(code)
}
