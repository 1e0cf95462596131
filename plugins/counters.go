package plugins

import (
	"errors"
	"sync/atomic"
)

// Counters count what a plugin's instances did: hook calls, faults by
// cause, and instance restarts. They only go up. The zero value is ready
// to use, and one Counters may be shared by the successive versions of a
// plugin (Spec.Counters) so that a reload does not reset them.
//
// A call adds one to one counter; nothing on the way allocates.
type Counters struct {
	calls           [hookCount]atomic.Uint64
	faults          [faultCauses]atomic.Uint64
	restarts        atomic.Uint64
	restartFailures atomic.Uint64
}

// CounterValues are the values of a Counters at one time, each read on
// its own (not at a single instant).
type CounterValues struct {
	// Start, Open, Messages, Close and Tick count the calls of
	// wasmgate_on_start, _on_open (reopens included), _on_messages (one
	// per batch), _on_close and _on_tick.
	Start, Open, Messages, Close, Tick uint64
	// Traps, Timeouts and Errors count faults, each of which discarded an
	// instance: a trap (a guest bug, a host function the guest misused,
	// exhausted memory); a call that overran its deadline or was stopped;
	// a hook that returned a bad status or action, or a guest that exited.
	Traps, Timeouts, Errors uint64
	// Restarts counts fresh instances put into a slot after a fault;
	// RestartFailures the attempts whose instantiation or start failed.
	Restarts, RestartFailures uint64
}

// Snapshot returns the counters' values.
func (c *Counters) Snapshot() CounterValues {
	return CounterValues{
		Start:           c.calls[hookStart].Load(),
		Open:            c.calls[hookOpen].Load(),
		Messages:        c.calls[hookMessages].Load(),
		Close:           c.calls[hookClose].Load(),
		Tick:            c.calls[hookTick].Load(),
		Traps:           c.faults[faultTrap].Load(),
		Timeouts:        c.faults[faultTimeout].Load(),
		Errors:          c.faults[faultGuestError].Load(),
		Restarts:        c.restarts.Load(),
		RestartFailures: c.restartFailures.Load(),
	}
}

// faultCause is what made a call fail, as Counters count it.
type faultCause int

const (
	faultTrap faultCause = iota
	faultTimeout
	faultGuestError
	faultCauses
)

// faultError is the error of a failed call, with its cause.
type faultError struct {
	cause faultCause
	err   error
}

func (e *faultError) Error() string { return e.err.Error() }
func (e *faultError) Unwrap() error { return e.err }

// guestError is the fault of a hook that returned, but not what the ABI
// allows.
func guestError(err error) error { return &faultError{cause: faultGuestError, err: err} }

// causeOf returns the cause of a fault; an error that does not say is a
// guest error.
func causeOf(err error) faultCause {
	var fe *faultError
	if errors.As(err, &fe) {
		return fe.cause
	}
	return faultGuestError
}
