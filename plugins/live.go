package plugins

import (
	"fmt"
	"slices"
	"sync/atomic"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/sdk/abi"
)

// Live reload: a plugin loaded with Spec.Live that a reload replaces with
// a new live version (Supersede) keeps its open connections, which move
// to the new version at their next message boundary. There the new
// version's wasmgate_on_open runs again for each, with OPEN_REOPEN and on
// the request kept from the handshake, and the old instance forgets the
// connection without on_close.

// liveEpoch counts Supersede calls. A Conn compares it with the value it
// last saw to learn, in one load, whether a plugin may have a newer
// version. It is package-wide rather than per Host because the plugins of
// one connection belong to several hosts once a reload moved some.
var liveEpoch atomic.Uint64

// liveConn is what a Conn whose chain has a live plugin keeps for its
// reopens.
type liveConn struct {
	// views are the requests the chain's live filters saw at the
	// handshake, by filter index (nil for the others): the client's
	// request with the edits of the filters before applied, copied.
	views []*Request
	// seen is the liveEpoch of the last look for newer versions.
	seen atomic.Uint64
}

// keepRequest copies r for a later reopen. HasUpstream is dropped: a
// reopen cannot choose an upstream.
func keepRequest(r *Request) *Request {
	cp := *r
	cp.Header = r.Header.Clone()
	cp.Protocols = slices.Clone(r.Protocols)
	cp.HasUpstream = nil
	return &cp
}

// Supersede makes next the version of p that p's connections move to:
// each Conn bound to p moves at its next message boundary (Conn.Messages,
// Conn.Boundary) to a new instance of next, whose wasmgate_on_open runs
// again with OPEN_REOPEN. If next is superseded in turn, they move to the
// newest version; they stay where they are while that one is closed or
// retired. Supersede does nothing unless both p and next are live
// (Spec.Live), or when next already leads back to p.
func (p *Plugin) Supersede(next *Plugin) {
	if next == nil || next == p || !p.spec.Live || !next.spec.Live {
		return
	}
	for n := next; n != nil; n = n.successor.Load() {
		if n == p {
			return
		}
	}
	p.successor.Store(next)
	liveEpoch.Add(1)
}

// newest returns the last version of p that Supersede named, p if none.
func (p *Plugin) newest() *Plugin {
	n := p
	for s := n.successor.Load(); s != nil; s = n.successor.Load() {
		n = s
	}
	return n
}

// Boundary is a message boundary of a connection whose messages the
// chain does not see (NeedsMessages is false and frames are streamed):
// the proxy calls it between whole messages, from either pump, so that
// live reload can move the connection to new versions of its plugins.
// When a new version refuses the connection, or fails with on_error =
// "close", Boundary closes it through Peer.Close and returns true.
//
// When nothing is to move it costs a load and a compare.
func (c *Conn) Boundary() (closed bool) {
	lv := c.live
	if lv == nil || lv.seen.Load() == liveEpoch.Load() {
		return false
	}
	code, reason, closed := c.moveLive()
	if closed {
		c.peer.Close(code, reason)
	}
	return closed
}

// moveLive moves the connection's bindings to superseded live plugins to
// their newest versions. closed is set, with the code and reason to
// close with, when a new version refused the connection or failed with
// on_error = "close"; the moves stop there.
func (c *Conn) moveLive() (code codec.StatusCode, reason string, closed bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	lv := c.live
	// Read before looking: a Supersede during the moves is seen next time.
	epoch := liveEpoch.Load()
	if lv.seen.Load() == epoch {
		return 0, "", false // the other pump moved it meanwhile
	}
	lv.seen.Store(epoch)
	if c.closed.Load() {
		return 0, "", false
	}
	for i := range c.filters {
		b := c.binding(i)
		if !b.plugin.spec.Live || b.failed.Load() {
			continue
		}
		next := b.plugin.newest()
		if next == b.plugin || next.isRetired() {
			continue
		}
		if code, reason, closed = c.move(i, b, next); closed {
			return code, reason, true
		}
	}
	return 0, "", false
}

// move replaces old, the binding to the chain's filter i, with a binding
// to an instance of p, and runs p's wasmgate_on_open with OPEN_REOPEN.
// The new binding is in place before the old one is marked moved, so
// that a batch of the other direction that finds the old one moved finds
// the new one. c.mu is held.
func (c *Conn) move(i int, old *binding, p *Plugin) (code codec.StatusCode, reason string, closed bool) {
	nb := &binding{conn: c, plugin: p}
	s, err := p.acquire(nb)
	if err != nil {
		p.log.Warn("connection stays on the previous version of the plugin", "err", err)
		return 0, "", false
	}
	if inst := s.inst; inst.onOpen != nil {
		view := c.live.views[i]
		flags := uint32(abi.OpenReopen)
		if view.TLS {
			flags |= abi.OpenTLS
		}
		cl := &call{hook: hookOpen, binding: nb, req: view, reopen: true}
		inst.stack[0], inst.stack[1] = uint64(nb.id), uint64(flags)
		err := inst.invoke(inst.onOpen, cl)
		action := int32(inst.stack[0])
		if err == nil && action != abi.ActionContinue && action != abi.ActionReject {
			err = guestError(fmt.Errorf("%s returned %d, which is no action", abi.ExportOnOpen, action))
		}
		// A refusal keeps nb bound: the guest keeps the connection until
		// its on_close, as after any reopen.
		switch {
		case err != nil:
			// on_error applies: nb is ended (close) or skipped (pass).
			s.fail(fmt.Errorf("%s (reopen): %w", abi.ExportOnOpen, err), nb)
			if !p.spec.FailOpen {
				code, reason, closed = closeInternalError, "filter "+p.spec.Name+" failed", true
			}
		case cl.closeSet:
			nb.end(cl.closeCode, cl.closeReason)
			code, reason, closed = cl.closeCode, cl.closeReason, true
		case action == abi.ActionReject:
			code, reason, closed = codec.ClosePolicyViolation, "rejected by filter "+p.spec.Name+" on reload", true
			nb.end(code, reason)
		}
	}
	nb.opened = true
	s.unlock()
	c.filters[i].cur.Store(nb)

	// The old instance forgets the connection without on_close: the
	// connection lives on, with the new version. Its timers stop.
	if prev := old.slot; prev != nil {
		prev.mu.Lock()
		old.moved.Store(true)
		if prev.conns[old.id] == old {
			prev.unbind(old)
			prev.setTick(nil, old.id, 0)
		}
		prev.unlock()
	} else {
		old.moved.Store(true)
	}
	return code, reason, closed
}
