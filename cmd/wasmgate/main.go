// Command wasmgate is a WebSocket reverse proxy. It terminates each client's
// WebSocket, opens its own WebSocket to an upstream server, and relays
// messages both ways. Listeners, routes and upstreams are configured in HCL.
//
// Usage:
//
//	wasmgate [run flags]             the same as wasmgate run
//	wasmgate run [-config FILE|DIR]  serve a configuration, or the built-in demo
//	wasmgate validate FILE|DIR       check a configuration; start nothing
//	wasmgate echo [-addr ADDR]       a WebSocket echo server
//	wasmgate client [flags] URL      send stdin lines, print received messages
//	wasmgate version                 print the version
//
// With no arguments, wasmgate runs a demo: the proxy on 127.0.0.1:8080 in
// front of a built-in echo server, with the configuration in default.hcl.
// "wasmgate <command> -h" lists a command's flags.
//
// The first SIGINT or SIGTERM stops a serving command gracefully: the proxy
// stops accepting, closes every connection with 1001 (going away), and waits
// for them up to its drain timeout. A second signal exits at once, with
// status 1.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := interruptContext(os.Stderr)
	code := run(ctx, os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stop()
	os.Exit(code)
}

// interruptContext returns a context that the first SIGINT or SIGTERM
// cancels. A second one exits the process at once, with status 1. stop
// ends the signal handling.
func interruptContext(stderr io.Writer) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go watchSignals(sigs, cancel, stderr)
	return ctx, func() {
		signal.Stop(sigs)
		cancel()
	}
}

// watchSignals cancels the interrupt context on the first signal and exits
// the process on the second.
func watchSignals(sigs <-chan os.Signal, cancel context.CancelFunc, stderr io.Writer) {
	<-sigs
	cancel()
	sig := <-sigs
	fmt.Fprintf(stderr, "wasmgate: second signal (%v): exiting now\n", sig)
	os.Exit(1)
}
