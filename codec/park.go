package codec

import (
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/wasmgate/wasmgate/codec/internal/netpoll"
)

// parking is a Conn's registration for input while no goroutine reads it.
type parking struct {
	supported bool            // the connection's socket can be watched
	raw       syscall.RawConn // the socket, for the poller

	mu     sync.Mutex
	parked bool
	closed bool // CloseNow ran: no more parking
	resume func()
	timer  *time.Timer
}

// ErrParkUnsupported is returned by Park when the Conn's connection is not
// a socket the poller can watch (a net.Pipe, say) or the platform has no
// poller. Reads then never return ErrIdle.
var ErrParkUnsupported = errors.New("codec: park: not supported on this connection")

// initPark finds the socket under nc (through TLS and other wrappers that
// expose it with NetConn).
func (c *Conn) initPark() {
	nc := c.nc
	for nc != nil {
		if sc, ok := nc.(syscall.Conn); ok {
			raw, err := sc.SyscallConn()
			if err == nil && netpoll.Supported() {
				c.park.raw, c.park.supported = raw, true
			}
			return
		}
		u, ok := nc.(interface{ NetConn() net.Conn })
		if !ok {
			return
		}
		nc = u.NetConn()
	}
}

// Park gives up the reading goroutine: call it after a read returned
// ErrIdle, instead of reading again, and return. resume then runs, once, in
// a new goroutine, when the peer sends something, when the keepalive
// machinery is due (a ping to send, a heartbeat to run), or when the Conn is
// closed; it should read again. Meanwhile the Conn holds no goroutine and
// no buffer: this is how a server keeps many quiet connections cheaply.
// It also gives up a compressor kept for context takeover
// (permessage-deflate): the next message it sends is compressed without
// history, which the peer reads all the same.
//
// Park may also be called before the first read, so that a new
// connection holds no goroutine until its peer sends something. It must be
// called by the reader, with no read in progress. On Linux it
// works for TCP and TLS connections; elsewhere, and for other connections,
// it returns ErrParkUnsupported and reads never return ErrIdle.
func (c *Conn) Park(resume func()) error {
	if !c.park.supported {
		return ErrParkUnsupported
	}
	c.releaseCompressor()
	p := &c.park
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.parked {
		return errors.New("codec: park: already parked")
	}
	if p.closed || c.readErr != nil || c.r < c.w {
		// Closed, failed, or input already buffered (left over from the
		// handshake, say): there is no need to wait.
		go resume()
		return nil
	}
	if c.timed() && c.deadline.IsZero() {
		// Parked before any read set the keepalive machinery going.
		now := time.Now()
		if c.lastRead.IsZero() {
			c.lastRead = now
		}
		c.setReadDeadline(c.nextEvent(now))
	}
	p.parked, p.resume = true, resume
	if err := netpoll.Watch(p.raw, c.wake); err != nil {
		p.parked, p.resume = false, nil
		return err
	}
	// The read deadline holds the keepalive machinery's next event; a
	// timer stands in for it while no read waits.
	if !c.deadline.IsZero() && c.deadline != noDeadline {
		d := time.Until(c.deadline)
		if p.timer == nil {
			p.timer = time.AfterFunc(d, c.wake)
		} else {
			p.timer.Reset(d)
		}
	}
	return nil
}

// wake ends a park: it runs from the poller, the timer or CloseNow.
func (c *Conn) wake() {
	p := &c.park
	p.mu.Lock()
	resume := c.unparkLocked()
	p.mu.Unlock()
	if resume != nil {
		go resume()
	}
}

// unparkLocked cancels the registration and returns the function to
// resume with, or nil when the Conn was not parked.
func (c *Conn) unparkLocked() func() {
	p := &c.park
	if !p.parked {
		return nil
	}
	netpoll.Cancel(p.raw)
	if p.timer != nil {
		p.timer.Stop()
	}
	resume := p.resume
	p.parked, p.resume = false, nil
	return resume
}

// Parked reports whether the Conn is parked.
func (c *Conn) Parked() bool {
	c.park.mu.Lock()
	defer c.park.mu.Unlock()
	return c.park.parked
}

// closePark stops parking for good, before the socket is closed (so that
// its descriptor leaves the poller while it is still this socket's), and
// returns the function to resume with, if the Conn was parked.
func (c *Conn) closePark() func() {
	if !c.park.supported {
		return nil
	}
	c.park.mu.Lock()
	defer c.park.mu.Unlock()
	c.park.closed = true
	return c.unparkLocked()
}
