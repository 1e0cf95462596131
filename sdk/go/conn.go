package wasmgate

import (
	"time"

	"github.com/wasmgate/wasmgate/sdk/abi"
)

// Conn is one proxied connection, as this instance of the plugin sees it.
// The SDK creates it for the connection's first hook and forgets it after
// Filter.Close; a filter may keep it meanwhile (to send to it from another
// connection's hook, say).
type Conn struct {
	// Data is the filter's own state for the connection: the SDK never
	// reads it.
	Data any

	id     uint32
	tls    bool
	closed bool // Close succeeded
	gone   bool // the host will not name the connection again
}

// ID returns the connection's context id, unique among the live
// connections of the plugin.
func (c *Conn) ID() uint32 { return c.id }

// TLS reports whether the client connected with TLS (wss).
func (c *Conn) TLS() bool { return c.tls }

// SendToClient sends a message to the client. During Message of the same
// connection it goes out after the message being handled (the SDK names
// each message to the host before calling Message), in order; to another
// connection of the instance it goes at once. The other filters of the
// route do not see it. It is valid in Message and Tick (ErrWrongHook
// elsewhere); ErrNotFound for a closed connection.
func (c *Conn) SendToClient(t MessageType, p []byte) error {
	return c.send(abi.DirUpstreamToClient, t, p)
}

// SendToUpstream sends a message to the upstream, as SendToClient does to
// the client.
func (c *Conn) SendToUpstream(t MessageType, p []byte) error {
	return c.send(0, t, p)
}

func (c *Conn) send(flags uint32, t MessageType, p []byte) error {
	if current != hookMessages && current != hookTick {
		return ErrWrongHook
	}
	if c.gone {
		return ErrNotFound
	}
	if !t.valid() {
		return ErrInvalidArgument
	}
	return errorFor(hSend(c.id, flags, int32(t), p))
}

// Close closes the connection: the client gets code and reason, the
// upstream 1001. During Message the rest of the batch is dropped (the SDK
// stops calling Message for it); during Open it refuses the handshake with
// 403 and reason as the body, and the connection gets no Close. It is valid in Open, Message and Tick (ErrWrongHook elsewhere);
// ErrInvalidArgument for a code that is not valid on the wire.
func (c *Conn) Close(code uint16, reason string) error {
	if current != hookOpen && current != hookMessages && current != hookTick {
		return ErrWrongHook
	}
	if c.gone {
		return ErrNotFound
	}
	err := errorFor(hClose(c.id, uint32(code), reason))
	if err == nil {
		c.closed = true
		if c == batchConn {
			batchClosed = true
		}
	}
	return err
}

// SetTick makes Filter.Tick(c) run every period, from 10ms (whole
// milliseconds; a fraction is rounded up), until the connection ends. A
// period of 0 stops the timer; a negative or shorter one is
// ErrInvalidArgument.
func (c *Conn) SetTick(period time.Duration) error {
	if !inHook() {
		return ErrWrongHook
	}
	if c.gone {
		return ErrNotFound
	}
	ms, err := tickMillis(period)
	if err != nil {
		return err
	}
	return errorFor(hTickSet(c.id, ms))
}
