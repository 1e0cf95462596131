package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

// Bounds of the client side.
const (
	// connectTimeout and handshakeTimeout bound a dial.
	connectTimeout   = 5 * time.Second
	handshakeTimeout = 5 * time.Second
	// closeTimeout bounds a close handshake at the end of a run.
	closeTimeout = 2 * time.Second
	// maxDialsInFlight bounds the dials a run makes at once.
	maxDialsInFlight = 64
)

// newDialer returns the client side's dialer, binding the sources in turn.
func newDialer(sources sourceList) *codec.Dialer {
	return &codec.Dialer{
		Options:          codec.Options{CloseTimeout: closeTimeout},
		ConnectTimeout:   connectTimeout,
		HandshakeTimeout: handshakeTimeout,
		NetDial:          sources.netDial(),
	}
}

// connRun is a run over a fixed set of connections, dialed before the
// clock starts: throughput and pingpong.
type connRun struct {
	url    string
	dialer *codec.Dialer
	conns  int
	warmup time.Duration
	// duration is the measured interval.
	duration time.Duration
	// work drives connection i until the clock says done (then it returns
	// nil) or the connection fails. It runs on the connection's own
	// goroutine: the only one that reads c.
	work func(i int, c *codec.Conn, clock *runClock) error
}

// connOutcome is what became of a run's connections.
type connOutcome struct {
	iv interval
	// errs[i] is why connection i failed (to dial, or before the run's
	// end), or nil.
	errs []error
}

// failed returns the number of failed connections and the first error.
func (o *connOutcome) failed() (n int, first string) {
	for _, err := range o.errs {
		if err != nil {
			if n == 0 {
				first = err.Error()
			}
			n++
		}
	}
	return n, first
}

// run dials every connection, then starts the workers and the clock, and
// closes every connection with a close handshake at the end (bounded by
// closeTimeout, after which sockets are cut).
func (r *connRun) run(ctx context.Context, out io.Writer) connOutcome {
	o := connOutcome{errs: make([]error, r.conns)}
	conns := dialAll(ctx, r.dialer, r.url, r.conns, o.errs)

	var clock runClock
	var workers sync.WaitGroup
	start := make(chan struct{})
	for i, c := range conns {
		if c == nil {
			continue
		}
		workers.Add(1)
		go r.drive(i, c, &clock, start, &o.errs[i], &workers)
	}
	allEnded := make(chan struct{})
	go waitGroupDone(&workers, allEnded)
	close(start)

	o.iv = clock.run(ctx, r.warmup, r.duration, out, allEnded)
	if !waitTimeout(&workers, closeTimeout+time.Second) {
		// A peer that stopped answering holds a worker in a read: cut
		// the sockets so that the run ends.
		for _, c := range conns {
			if c != nil {
				c.CloseNow()
			}
		}
		workers.Wait()
	}
	return o
}

// drive runs one connection's work, then closes it: with a close
// handshake after a clean end, at once after a failure.
func (r *connRun) drive(i int, c *codec.Conn, clock *runClock, start <-chan struct{}, errp *error, wg *sync.WaitGroup) {
	defer wg.Done()
	<-start
	err := r.work(i, c, clock)
	if err != nil {
		if clock.load() != phaseDone {
			*errp = err
		}
		c.CloseNow()
		return
	}
	c.Close(codec.CloseNormal, "") //nolint:errcheck // the run is over; a failed close handshake changes no count
}

// dialAll dials n connections, maxDialsInFlight at a time. conns[i] is nil
// where dialing failed, with the reason in errs[i].
func dialAll(ctx context.Context, d *codec.Dialer, url string, n int, errs []error) []*codec.Conn {
	conns := make([]*codec.Conn, n)
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxDialsInFlight)
	for i := range n {
		slots <- struct{}{}
		wg.Add(1)
		go dialOne(ctx, d, url, &conns[i], &errs[i], slots, &wg)
	}
	wg.Wait()
	return conns
}

func dialOne(ctx context.Context, d *codec.Dialer, url string, cp **codec.Conn, errp *error, slots <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	defer func() { <-slots }()
	c, _, err := d.Dial(ctx, url)
	if err != nil {
		*errp = fmt.Errorf("dial: %w", err)
		return
	}
	*cp = c
}
