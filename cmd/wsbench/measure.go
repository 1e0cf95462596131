package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// phase is where a run stands. Workers load it once per message (one
// atomic load, no lock) to decide whether to count what they receive.
type phase int32

const (
	phaseWarmup phase = iota
	phaseMeasure
	phaseDone
)

// runClock is the phase of a run, shared by its workers.
type runClock struct{ p atomic.Int32 }

func (c *runClock) load() phase { return phase(c.p.Load()) }

func (c *runClock) store(p phase) { c.p.Store(int32(p)) }

// interval is the measured interval of a run. Both times carry a
// monotonic reading (for the duration) and a wall-clock one (for a parent
// that reads other processes' counters).
type interval struct{ start, end time.Time }

func (iv interval) duration() time.Duration { return iv.end.Sub(iv.start) }

// run drives the phases: warmup, then the measured interval, then done.
// It prints "MEASURE start" and "MEASURE end" at the two ends of the
// measured interval, at once, so that a parent process can sample counters
// then. The run ends early, with a shorter interval, when ctx is done or
// when stop is closed (every worker gave up).
func (c *runClock) run(ctx context.Context, warmup, duration time.Duration, out io.Writer, stop <-chan struct{}) interval {
	c.store(phaseWarmup)
	sleepCtx(ctx, warmup, stop)
	var iv interval
	iv.start = time.Now()
	c.store(phaseMeasure)
	fmt.Fprintln(out, "MEASURE start")
	sleepCtx(ctx, duration, stop)
	c.store(phaseDone)
	iv.end = time.Now()
	fmt.Fprintln(out, "MEASURE end")
	return iv
}

// errNothingMeasured ends a run in which every connection failed.
var errNothingMeasured = errors.New("nothing was measured: every connection failed")

// errNoEcho ends a run in which no echo arrived in the measured interval.
var errNoEcho = errors.New("nothing was measured: no echo arrived in the measured interval")

// firstError keeps the first of many errors, from any goroutine.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (f *firstError) set(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

// text returns the first error's text, or "".
func (f *firstError) text() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		return ""
	}
	return f.err.Error()
}

// waitTimeout waits for wg up to d and reports whether it is done.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go waitGroupDone(wg, done)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// waitGroupDone closes done when wg is done.
func waitGroupDone(wg *sync.WaitGroup, done chan<- struct{}) {
	wg.Wait()
	close(done)
}
