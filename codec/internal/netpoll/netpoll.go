// Package netpoll tells when a socket has input without a goroutine
// waiting on it. A goroutine blocked in a read holds its stack (kilobytes)
// for as long as the peer is silent; a registration here holds a few words,
// so a server can keep a hundred thousand quiet connections cheaply.
//
// Go's runtime already watches every socket with its own epoll instance,
// edge-triggered. A socket may sit in several epoll sets at once: this
// package adds it, level-triggered and one-shot, to a second set of its
// own, so that neither interferes with the other.
package netpoll

import (
	"errors"
	"syscall"
)

// ErrUnsupported is returned where the platform or the connection offers
// no readiness notification: the caller keeps a goroutine reading instead.
var ErrUnsupported = errors.New("netpoll: not supported for this connection")

// Watch arranges for ready to be called once, from the poller's goroutine,
// when the connection behind rc has input, is hung up, or fails. ready must
// not block: it should start a goroutine for any real work. Call Watch only
// while rc's file descriptor is open, and Cancel before closing it.
func Watch(rc syscall.RawConn, ready func()) error {
	p, err := defaultPoller()
	if err != nil {
		return err
	}
	var werr error
	if err := rc.Control(func(fd uintptr) { werr = p.watch(int(fd), ready) }); err != nil {
		return err
	}
	return werr
}

// Cancel removes what Watch registered for rc. It reports whether the
// registration was still pending, that is, whether ready has not been and
// now never will be called by this registration.
func Cancel(rc syscall.RawConn) bool {
	p, err := defaultPoller()
	if err != nil {
		return false
	}
	pending := false
	rc.Control(func(fd uintptr) { pending = p.cancel(int(fd)) }) //nolint:errcheck // a closed fd left the epoll set by itself
	return pending
}

// Supported reports whether this platform has a poller.
func Supported() bool {
	_, err := defaultPoller()
	return err == nil
}
