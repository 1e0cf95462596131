package codec

import (
	"errors"
	"os"
	"time"

	"github.com/gobwas/ws"
)

// BufferFrame appends one frame to the Conn's write buffer without sending
// it; Flush sends what is buffered. A relay buffers every frame one read
// produced and flushes once, so one read becomes one write. Frames larger
// than the buffer are sent at once. op must be a data opcode: use Ping,
// Pong and Close for control frames. The payload is not modified.
func (c *Conn) BufferFrame(fin bool, op Opcode, payload []byte) error {
	if op.IsControl() || op > OpBinary {
		return errors.New("codec: BufferFrame takes a data opcode, not " + op.String())
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writableLocked(); err != nil {
		return err
	}
	return c.bufferLocked(fin, 0, op, payload)
}

// Flush sends the buffered frames.
func (c *Conn) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.flushLocked()
}

// WriteFrame sends one frame at once: BufferFrame then Flush. Frames
// written one by one (WriteFrame, BufferFrame) are never compressed,
// which is always allowed with permessage-deflate.
func (c *Conn) WriteFrame(fin bool, op Opcode, payload []byte) error {
	if op.IsControl() || op > OpBinary {
		return errors.New("codec: WriteFrame takes a data opcode, not " + op.String())
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writableLocked(); err != nil {
		return err
	}
	if err := c.bufferLocked(fin, 0, op, payload); err != nil {
		return err
	}
	return c.flushLocked()
}

// WriteMessage sends a whole message in one frame. With permessage-deflate
// agreed, a message of at least Compression.Threshold bytes is sent
// compressed.
func (c *Conn) WriteMessage(typ MessageType, payload []byte) error {
	if c.fl != nil && (typ == Text || typ == Binary) && c.fl.out.wants(len(payload)) {
		return c.writeCompressed(typ, payload)
	}
	return c.WriteFrame(true, Opcode(typ), payload)
}

// Ping sends a ping with payload (at most 125 bytes).
func (c *Conn) Ping(payload []byte) error { return c.writeControl(OpPing, payload) }

// Pong sends an unsolicited pong with payload (at most 125 bytes), which
// RFC 6455 allows as a unidirectional heartbeat.
func (c *Conn) Pong(payload []byte) error { return c.writeControl(OpPong, payload) }

func (c *Conn) writeControl(op Opcode, payload []byte) error {
	if len(payload) > maxControlPayload {
		return ErrControlTooLong
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writableLocked(); err != nil {
		return err
	}
	if err := c.bufferLocked(true, 0, op, payload); err != nil {
		return err
	}
	return c.flushLocked()
}

// WriteClose sends a close frame with code and reason, without waiting for
// the peer's and without closing the socket: Close does all three. After
// it, writes fail with ErrClosed. A second close frame is never sent: the
// call then returns ErrClosed.
func (c *Conn) WriteClose(code StatusCode, reason string) error {
	if code != CloseNoStatus && !code.ValidOnWire() {
		return ErrInvalidCloseCode
	}
	if len(reason) > maxControlPayload-2 {
		return ErrControlTooLong
	}
	return c.writeClose(code, reason)
}

func (c *Conn) writeClose(code StatusCode, reason string) error {
	var p [maxControlPayload]byte
	payload := appendClosePayload(p[:0], code, reason)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writableLocked(); err != nil {
		return err
	}
	c.closeSent = true
	if err := c.bufferLocked(true, 0, OpClose, payload); err != nil {
		return err
	}
	return c.flushLocked()
}

func (c *Conn) writableLocked() error {
	if c.writeErr != nil {
		return c.writeErr
	}
	if c.closeSent {
		return ErrClosed
	}
	return nil
}

// bufferLocked appends a frame to the write buffer, masking it for a
// client, and sends directly what does not fit. rsv is the frame's
// reserved bits.
func (c *Conn) bufferLocked(finBit bool, rsv byte, op Opcode, payload []byte) error {
	if c.wbuf == nil {
		c.wbuf = getBuffer(writeBufferSize)
		c.wn = 0
	}
	buf := *c.wbuf
	if len(buf)-c.wn < maxHeaderSize {
		if err := c.flushLocked(); err != nil {
			return err
		}
		c.wbuf = getBuffer(writeBufferSize)
		buf = *c.wbuf
	}
	var key [4]byte
	var mask *[4]byte
	if c.role == ClientRole {
		key = maskKey()
		mask = &key
	}
	c.wn += putHeader(buf[c.wn:], finBit, rsv, op, len(payload), mask)
	if len(payload) <= len(buf)-c.wn {
		n := copy(buf[c.wn:], payload)
		if mask != nil {
			ws.Cipher(buf[c.wn:c.wn+n], key, 0)
		}
		c.wn += n
		return nil
	}
	if mask == nil && len(payload) > len(buf) {
		// A server sends a large payload as it is, without a copy.
		if err := c.flushKeepLocked(); err != nil {
			return err
		}
		return c.writeNetLocked(payload)
	}
	// The payload fills the buffer, which is sent, and goes on in it: a
	// relay of mid-sized frames then writes whole buffers.
	for off := 0; off < len(payload); {
		if c.wn == len(buf) {
			if err := c.flushKeepLocked(); err != nil {
				return err
			}
		}
		n := copy(buf[c.wn:], payload[off:])
		if mask != nil {
			ws.Cipher(buf[c.wn:c.wn+n], key, off)
		}
		c.wn += n
		off += n
	}
	return nil
}

// flushLocked sends the write buffer and returns it to the pool, so that a
// Conn with nothing to send holds no write buffer.
func (c *Conn) flushLocked() error {
	if c.wbuf == nil {
		return c.writeErr
	}
	err := c.flushKeepLocked()
	putBuffer(c.wbuf)
	c.wbuf = nil
	return err
}

// flushKeepLocked sends the write buffer and keeps it for more frames.
func (c *Conn) flushKeepLocked() error {
	if c.wn == 0 {
		return c.writeErr
	}
	err := c.writeNetLocked((*c.wbuf)[:c.wn])
	c.wn = 0
	return err
}

func (c *Conn) writeNetLocked(p []byte) error {
	if c.writeErr != nil {
		return c.writeErr
	}
	if t := c.opts.WriteTimeout; t > 0 {
		// The deadline moves only when less than half of the timeout is
		// left, so a busy Conn does not pay for a timer update per write.
		now := time.Now()
		if c.wdeadline.Sub(now) < t/2 {
			c.wdeadline = now.Add(t)
			c.nc.SetWriteDeadline(c.wdeadline) //nolint:errcheck // a closed conn fails the write
		}
	}
	_, err := c.nc.Write(p)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = ErrWriteTimeout
		}
		c.writeErr = err
	}
	return err
}

// ErrWriteTimeout is returned by a write that the peer did not accept
// within Options.WriteTimeout.
var ErrWriteTimeout = errors.New("codec: write timeout: the peer is not reading")

// Close performs the closing handshake: it sends a close frame with code
// and reason (unless one was sent), waits up to Options.CloseTimeout for
// the peer's close frame, and closes the socket. Use CloseNoStatus for a
// close frame without a code. It may be called while another goroutine
// reads: the reader then receives the peer's close, and Close waits for it.
// When no goroutine is reading, Close reads by itself, and data messages
// that arrive before the peer's close frame are discarded: to receive them,
// send the close with WriteClose and keep reading until the *CloseError.
func (c *Conn) Close(code StatusCode, reason string) error {
	if code != CloseNoStatus && !code.ValidOnWire() {
		return ErrInvalidCloseCode
	}
	if len(reason) > maxControlPayload-2 {
		return ErrControlTooLong
	}
	err := c.writeClose(code, reason)
	if errors.Is(err, ErrClosed) {
		err = nil
	}
	c.awaitPeerClose()
	if cerr := c.CloseNow(); err == nil {
		err = cerr
	}
	return err
}

// awaitPeerClose waits, bounded by CloseTimeout, for the peer's close frame
// (and, for a client, for the server to close TCP first, as RFC 6455,
// section 7.1.1 asks). After failing the connection it only drains the
// socket briefly, so that the close frame is not lost to a TCP reset.
func (c *Conn) awaitPeerClose() {
	deadline := time.Now().Add(c.opts.CloseTimeout)
	if !c.rmu.TryLock() {
		// Another goroutine is reading: it will receive the peer's close.
		timer := time.NewTimer(c.opts.CloseTimeout)
		defer timer.Stop()
		select {
		case <-c.readDone:
		case <-timer.C:
			return
		}
		c.rmu.Lock() // the reader lets go as soon as it returns
	}
	defer c.rmu.Unlock()
	c.nc.SetReadDeadline(deadline) //nolint:errcheck // best effort
	if c.readErr == nil {
		c.opts.PingInterval, c.opts.Heartbeat, c.opts.ParkAfter = 0, nil, 0
		for c.readErr == nil {
			c.readFrameLocked() //nolint:errcheck // kept in readErr
		}
	}
	if c.failed.Load() {
		c.closeWrite()
		c.drain()
	} else if c.role == ClientRole && c.closeRecv.Load() {
		c.drain()
	}
}

// drain discards input until EOF or the read deadline.
func (c *Conn) drain() {
	var scratch [512]byte
	for {
		if _, err := c.nc.Read(scratch[:]); err != nil {
			return
		}
	}
}

// CloseNow closes the socket at once, without a close handshake, and
// releases the Conn's buffers. It is safe to call more than once.
func (c *Conn) CloseNow() error {
	c.closeOnce.Do(func() {
		resume := c.closePark()
		c.closeErr = c.nc.Close()
		if resume != nil {
			go resume() // its read fails at once: the Conn is closed
		}
		c.wmu.Lock()
		putBuffer(c.wbuf)
		c.wbuf = nil
		if c.fl != nil {
			c.fl.out.release()
		}
		if c.writeErr == nil {
			c.writeErr = ErrClosed
		}
		c.wmu.Unlock()
	})
	return c.closeErr
}
