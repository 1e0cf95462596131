package codec

import (
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// Role is the side of the connection a Conn plays.
type Role uint8

const (
	// ServerRole expects masked frames from the peer and sends unmasked
	// ones.
	ServerRole Role = iota
	// ClientRole masks every frame it sends with a fresh key from
	// crypto/rand and expects unmasked frames.
	ClientRole
)

func (r Role) String() string {
	if r == ClientRole {
		return "client"
	}
	return "server"
}

// Defaults for Options fields left zero.
const (
	DefaultMaxMessageSize = 16 << 20
	DefaultCloseTimeout   = 5 * time.Second
)

// Options configure a Conn. The zero value is usable: each field's doc gives
// its default.
type Options struct {
	// MaxMessageSize bounds a data message (the sum of its frames'
	// payloads; for a compressed message, its inflated size, and its
	// size on the wire to a little more). A larger one fails the
	// connection with 1009. Default DefaultMaxMessageSize (16 MiB).
	MaxMessageSize int64
	// MaxFrameSize bounds a single frame's payload as sent; a larger one
	// fails the connection with 1009. It also bounds the payload of each
	// Frame that ReadFrame returns. Default: MaxMessageSize.
	MaxFrameSize int64
	// PingInterval, when positive, makes the Conn send a ping after this
	// much silence from the peer. The Conn then manages the read deadline
	// of the underlying connection. Default 0: no keepalive pings.
	PingInterval time.Duration
	// PongTimeout is how long a keepalive ping may go unanswered before a
	// read fails with ErrPongTimeout. Default: PingInterval.
	PongTimeout time.Duration
	// HeartbeatInterval, with Heartbeat, runs Heartbeat whenever the peer
	// has been silent this long. Default: PingInterval.
	HeartbeatInterval time.Duration
	// Heartbeat is called from the reading goroutine after
	// HeartbeatInterval of silence. A non-nil error ends the read with that
	// error (for instance an idle timeout). Optional.
	Heartbeat func() error
	// CloseTimeout bounds the wait for the peer's close frame (and, for a
	// client, for the server to close TCP) in Close. Default 5s.
	CloseTimeout time.Duration
	// ManualClose stops the Conn from sending close frames by itself: it
	// neither answers the peer's close frame nor sends the close frame
	// that a protocol error calls for. Reads still end with a *CloseError
	// or *ProtocolError, and the application must then send the close
	// frame promptly, with Close or WriteClose. A proxy uses it to relay
	// the close handshake end to end, so that data still in flight from
	// the other side arrives before the close. Default false.
	ManualClose bool
	// WriteTimeout, when positive, fails a write that cannot complete
	// within about this long (a peer that does not read). Default 0: no
	// write deadline.
	WriteTimeout time.Duration
	// ParkAfter, when positive, makes a read that found no input for this
	// long at a frame boundary return ErrIdle, so that the caller can give
	// up its goroutine with Park until input arrives. Before the Conn's
	// first input the wait is at most FirstParkAfter: a peer quiet from
	// the start tends to stay quiet, and many connections opening at once
	// should not each hold a goroutine for long. ReadMessage returns
	// ErrIdle only between messages. It has no effect where Park is not
	// supported (see Park). Default 0: reads wait as long as it takes.
	ParkAfter time.Duration
}

func (o *Options) withDefaults() Options {
	var d Options
	if o != nil {
		d = *o
	}
	if d.MaxMessageSize <= 0 {
		d.MaxMessageSize = DefaultMaxMessageSize
	}
	if d.MaxFrameSize <= 0 || d.MaxFrameSize > d.MaxMessageSize {
		d.MaxFrameSize = d.MaxMessageSize
	}
	if d.PongTimeout <= 0 {
		d.PongTimeout = d.PingInterval
	}
	if d.HeartbeatInterval <= 0 {
		d.HeartbeatInterval = d.PingInterval
	}
	if d.CloseTimeout <= 0 {
		d.CloseTimeout = DefaultCloseTimeout
	}
	return d
}

// FirstParkAfter bounds Options.ParkAfter before a Conn's first input.
const FirstParkAfter = 100 * time.Millisecond

// Sizes of the read buffers. A Conn reads into a small buffer embedded in
// it while traffic is light, so an idle Conn holds no pooled buffer, and
// into a pooled one of readBufferSize while reads come back full.
const (
	smallBufferSize = 256
	readBufferSize  = 16 << 10
	writeBufferSize = 16 << 10
)

// Frame is one data frame as read by ReadFrame. Payload is unmasked and
// borrowed: it is valid only until the next read on the Conn.
type Frame struct {
	// Fin is set on the last frame of a message.
	Fin bool
	// Opcode is OpText or OpBinary on the first frame of a message,
	// OpContinuation on the others.
	Opcode Opcode
	// Type is the type of the message the frame belongs to.
	Type MessageType
	// Payload is the frame's application data.
	Payload []byte
}

// A Conn is one WebSocket connection, after the opening handshake.
//
// One goroutine at a time may read (ReadFrame, ReadMessage); any number may
// write concurrently with it and with each other. Close and CloseNow may be
// called from any goroutine at any time.
type Conn struct {
	nc   net.Conn
	opts Options

	subprotocol string

	// fl is permessage-deflate's state, nil when it was not agreed.
	fl *deflateState

	// Read side, owned by the reading goroutine.
	buf      []byte // small[:] or *big
	r, w     int
	big      *[]byte
	frameBuf *[]byte // payload of a frame too large for the read buffer
	msgBuf   *[]byte // assembly buffer of a fragmented message (ReadMessage)
	msgSize  int64
	readErr  error

	// Keepalive, owned by the reading goroutine.
	lastRead      time.Time
	deadline      time.Time // the read deadline set; noDeadline when none is due
	pingSentAt    time.Time
	lastHeartbeat time.Time

	// Small fields together, so that an idle Conn wastes no padding.
	role       Role
	msgType    MessageType
	utf8       utf8Validator
	heavy      bool // the last read filled the space it was given
	inMessage  bool // inside a fragmented data message
	parkArmed  bool // the deadline counts towards ParkAfter
	gotInput   bool // a read has returned bytes
	atBoundary bool // reading the first bytes of a frame
	assembling bool // ReadMessage is between the frames of a message
	compressed bool // the current message has RSV1 set (permessage-deflate)
	inflating  bool // the output of a compressed message is not all read
	whole      bool // the read is ReadMessage's: inflate the whole message
	closeSent  bool // guarded by wmu
	closeRecv  atomic.Bool
	failed     atomic.Bool

	// Parking (park.go).
	park parking

	// Write side, guarded by wmu.
	wmu       sync.Mutex
	wbuf      *[]byte
	wn        int
	wdeadline time.Time
	writeErr  error

	// rmu is held by whoever reads: the reading goroutine, or Close when
	// no one else is reading.
	rmu       sync.Mutex
	readDone  chan struct{} // closed when the peer's close arrives or reading fails
	doneOnce  sync.Once
	closeOnce sync.Once
	closeErr  error

	small [smallBufferSize]byte
}

// NewConn makes a Conn of a connection whose opening handshake is done.
// buffered holds bytes already read from nc past the handshake (it may be
// nil); they are consumed first. opts may be nil.
func NewConn(nc net.Conn, role Role, opts *Options, buffered []byte) *Conn {
	c := &Conn{
		nc:       nc,
		role:     role,
		opts:     opts.withDefaults(),
		readDone: make(chan struct{}),
	}
	c.buf = c.small[:]
	c.initPark()
	if len(buffered) > 0 {
		c.acquireBig(len(buffered))
		c.w = copy(c.buf, buffered)
	}
	return c
}

// SetOptions replaces the Conn's options. Call it before the Conn is used:
// not concurrently with a read or write.
func (c *Conn) SetOptions(opts Options) { c.opts = opts.withDefaults() }

// Subprotocol returns the subprotocol agreed in the handshake, or "".
func (c *Conn) Subprotocol() string { return c.subprotocol }

// PeerClosed reports whether the peer's close frame has been received.
func (c *Conn) PeerClosed() bool { return c.closeRecv.Load() }

// Role returns the side this Conn plays.
func (c *Conn) Role() Role { return c.role }

// NetConn returns the underlying connection.
func (c *Conn) NetConn() net.Conn { return c.nc }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr returns the local address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Buffered reports whether a whole frame is already buffered, so that the
// next ReadFrame will not wait for the network. A relay uses it to decide
// when to flush what it has buffered for the other side.
func (c *Conn) Buffered() bool {
	if c.inflating && c.fl.in.r.src.fin {
		return true // the rest of the message is inflated from memory
	}
	b := c.buf[c.r:c.w]
	h, size, err := parseHeader(b)
	if err != nil {
		return true // the next read reports the error at once
	}
	return size > 0 && int64(len(b)-size) >= h.length
}

// BufferedMessage reports whether the next frame is already buffered
// whole and is a whole data message by itself (a final text or binary
// frame), so that ReadMessage will return it without waiting for the
// network. A relay uses it to hand every message one read produced to a
// filter at once.
func (c *Conn) BufferedMessage() bool {
	if c.inMessage || c.inflating {
		return false
	}
	b := c.buf[c.r:c.w]
	h, size, err := parseHeader(b)
	if err != nil || size == 0 {
		return false
	}
	return h.fin && (h.op == OpText || h.op == OpBinary) && int64(len(b)-size) >= h.length
}

// ReadFrame reads the next data frame. Pings are answered, pongs consumed,
// and every rule of RFC 6455 is checked. When the peer closes, the Conn
// answers its close frame and ReadFrame returns a *CloseError; when the
// peer breaks the protocol, the Conn fails the connection with the
// appropriate close code and ReadFrame returns a *ProtocolError. After any
// error, call Close or CloseNow to release the socket.
//
// A compressed message (permessage-deflate) is inflated as its frames
// arrive: each Frame carries the next piece of the inflated data, at most
// MaxFrameSize and 64 KiB, and the pieces need not match the frames on
// the wire. The first piece has the message's opcode and the others
// OpContinuation, the last one Fin; inside such a message a read does
// not return ErrIdle.
func (c *Conn) ReadFrame() (Frame, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	return c.readFrameLocked()
}

func (c *Conn) readFrameLocked() (Frame, error) {
	if c.readErr != nil {
		return Frame{}, c.readErr
	}
	f, err := c.readFrame()
	if err != nil && err != ErrIdle {
		c.readErr = err
		c.releaseRead()
		c.signalReadDone()
	}
	return f, err
}

func (c *Conn) readFrame() (Frame, error) {
	if c.fl != nil {
		c.fl.in.releasePiece()
		if c.inflating {
			// The frame buffer may hold the rest of the input.
			return c.readInflated(false)
		}
	}
	if c.frameBuf != nil {
		putBuffer(c.frameBuf)
		c.frameBuf = nil
	}
	for {
		h, payload, err := c.nextFrame()
		if err != nil {
			return Frame{}, c.failOnProtocolError(err)
		}
		if h.op.IsControl() {
			if err := c.control(h.op, payload); err != nil {
				return Frame{}, err
			}
			continue
		}
		if c.compressed {
			c.inMessage = !h.fin
			c.startInflate(payload, h.fin)
			return c.readInflated(true)
		}
		f := Frame{Fin: h.fin, Opcode: h.op, Type: c.msgType, Payload: payload}
		if c.msgType == Text {
			if !c.utf8.Feed(payload) {
				return Frame{}, c.fail(protocolError(CloseInvalidPayload, "text message is not valid UTF-8"))
			}
			if h.fin && !c.utf8.Done() {
				return Frame{}, c.fail(protocolError(CloseInvalidPayload, "text message ends inside a UTF-8 sequence"))
			}
		}
		c.inMessage = !h.fin
		return f, nil
	}
}

// control handles a control frame: a ping is answered, a pong ends the
// wait for one, a close ends reading with the error returned.
func (c *Conn) control(op Opcode, payload []byte) error {
	switch op {
	case OpPing:
		if err := c.writeControl(OpPong, payload); err != nil && !errors.Is(err, ErrClosed) {
			return err
		}
	case OpPong:
		c.pingSentAt = time.Time{}
	case OpClose:
		return c.onClose(payload)
	}
	return nil
}

// nextFrame reads one frame, checks its header against the protocol and the
// limits before reading its payload, and returns the unmasked payload.
func (c *Conn) nextFrame() (frameHeader, []byte, error) {
	if c.r == c.w {
		c.r, c.w = 0, 0
		if c.big != nil && !c.heavy {
			putBuffer(c.big)
			c.big = nil
			c.buf = c.small[:]
		}
	}
	c.atBoundary = true
	err := c.fill(2)
	c.atBoundary = false
	if err != nil {
		return frameHeader{}, nil, err
	}
	// A peer that sends garbage is failed on its first two bytes, not
	// after a length that may never come.
	if b0, b1 := c.buf[c.r], c.buf[c.r+1]; !c.firstBytesOK(b0, b1) {
		return frameHeader{}, nil, c.firstBytesError(b0, b1)
	}
	hsize := 2
	switch c.buf[c.r+1] & 0x7f {
	case 126:
		hsize += 2
	case 127:
		hsize += 8
	}
	if c.buf[c.r+1]&0x80 != 0 {
		hsize += 4
	}
	if err := c.fill(hsize); err != nil {
		return frameHeader{}, nil, err
	}
	h, _, err := parseHeader(c.buf[c.r : c.r+hsize])
	if err != nil {
		return h, nil, err
	}
	if err := c.checkHeader(&h); err != nil {
		return h, nil, err
	}
	c.r += hsize

	n := int(h.length)
	var payload []byte
	if n <= len(c.buf)-c.r || n+hsize <= readBufferSize {
		if err := c.fill(n); err != nil {
			return h, nil, err
		}
		payload = c.buf[c.r : c.r+n]
		c.r += n
	} else {
		p, err := c.readLarge(n)
		if err != nil {
			return h, nil, err
		}
		payload = p
	}
	if h.masked {
		ws.Cipher(payload, h.mask, 0)
	}
	return h, payload, nil
}

// firstBytesOK applies the rules of RFC 6455 that a frame's first two
// bytes decide: reserved bits (RSV1 only on the first frame of a data
// message, and only with permessage-deflate), masking by role, reserved
// opcodes, and control frames that are fragmented or announce more than
// 125 bytes. checkHeader applies them again with the rest. It is small
// enough to be inlined: it runs for every frame.
func (c *Conn) firstBytesOK(b0, b1 byte) bool {
	if b0&(rsv2|rsv3) != 0 || (b1&0x80 != 0) != (c.role == ServerRole) {
		return false
	}
	switch op := Opcode(b0 & 0x0f); {
	case op <= OpBinary:
		return b0&rsv1 == 0 || (op != OpContinuation && c.fl != nil)
	case op >= OpClose && op <= OpPong:
		return b0&(fin|rsv1) == fin && b1&0x7f <= maxControlPayload
	}
	return false
}

// firstBytesError words the error of first bytes that firstBytesOK
// refused: checkHeader does, and a state it changes is of a connection
// that fails anyway.
func (c *Conn) firstBytesError(b0, b1 byte) error {
	h := frameHeader{
		fin:    b0&fin != 0,
		rsv:    b0 & (rsv1 | rsv2 | rsv3),
		op:     Opcode(b0 & 0x0f),
		masked: b1&0x80 != 0,
		length: int64(b1 & 0x7f),
	}
	return c.checkHeader(&h)
}

// checkHeader applies RFC 6455's rules and the size limits to a header,
// before any of its payload is read, and updates the message state.
func (c *Conn) checkHeader(h *frameHeader) error {
	if h.rsv != 0 {
		// RFC 7692, section 6: RSV1 marks the first frame of a compressed
		// message, and only that.
		switch {
		case h.rsv != rsv1 || c.fl == nil:
			return protocolError(CloseProtocolError, "reserved bits set without a negotiated extension")
		case h.op.IsControl():
			return protocolError(CloseProtocolError, "RSV1 set on a "+h.op.String()+" frame")
		case h.op == OpContinuation:
			return protocolError(CloseProtocolError, "RSV1 set on a continuation frame")
		}
	}
	if c.role == ServerRole && !h.masked {
		return protocolError(CloseProtocolError, "unmasked frame from a client")
	}
	if c.role == ClientRole && h.masked {
		return protocolError(CloseProtocolError, "masked frame from a server")
	}
	switch h.op {
	case OpPing, OpPong, OpClose:
		if !h.fin {
			return protocolError(CloseProtocolError, "fragmented "+h.op.String()+" frame")
		}
		if h.length > maxControlPayload {
			return protocolError(CloseProtocolError, h.op.String()+" payload over 125 bytes")
		}
		return nil
	case OpText, OpBinary:
		if c.inMessage {
			return protocolError(CloseProtocolError, "new "+h.op.String()+" frame inside a fragmented message")
		}
		c.msgType = MessageType(h.op)
		c.msgSize = 0
		c.compressed = h.rsv != 0
		c.utf8.Reset()
	case OpContinuation:
		if !c.inMessage {
			return protocolError(CloseProtocolError, "continuation frame without a message to continue")
		}
	default:
		return protocolError(CloseProtocolError, "reserved opcode "+h.op.String())
	}
	if h.length > c.opts.MaxFrameSize {
		return protocolError(CloseMessageTooBig, "frame larger than the limit")
	}
	c.msgSize += h.length
	if limit := c.opts.MaxMessageSize; c.msgSize > limit && (!c.compressed || c.msgSize > compressedWireLimit(limit)) {
		return protocolError(CloseMessageTooBig, "message larger than the limit")
	}
	return nil
}

// readLarge reads a payload that does not fit the read buffer into a
// buffer of its own, grown as the bytes arrive so that a length the peer
// announces never sizes an allocation by itself.
func (c *Conn) readLarge(n int) ([]byte, error) {
	size := min(n, 64<<10)
	c.frameBuf = getBuffer(size)
	got := copy(*c.frameBuf, c.buf[c.r:c.w])
	c.r += got
	for got < n {
		if got == len(*c.frameBuf) {
			bigger := getBuffer(min(n, 4*len(*c.frameBuf)))
			copy(*bigger, (*c.frameBuf)[:got])
			putBuffer(c.frameBuf)
			c.frameBuf = bigger
		}
		m, err := c.readNet((*c.frameBuf)[got:min(n, len(*c.frameBuf))], false)
		got += m
		if err != nil {
			return nil, unexpectedEOF(err)
		}
	}
	return (*c.frameBuf)[:n], nil
}

// fill makes at least n bytes (n <= readBufferSize) available at buf[r:w].
func (c *Conn) fill(n int) error {
	for c.w-c.r < n {
		if c.big == nil && (n > len(c.buf) || c.heavy) {
			c.acquireBig(0)
		}
		if n > len(c.buf)-c.r {
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		}
		space := c.buf[c.w:]
		idle := c.mayIdle()
		m, err := c.readNet(space, c.r == c.w && (c.big != nil || idle))
		if err == errQuiet {
			// Nothing arrived for a keepalive period: give the pooled
			// buffer back, so that an idle Conn holds none.
			if c.big != nil {
				putBuffer(c.big)
				c.big = nil
				c.buf = c.small[:]
				c.r, c.w = 0, 0
				c.heavy = false
			}
			if idle && time.Since(c.lastRead) >= c.parkAfter() {
				return ErrIdle
			}
			continue
		}
		c.w += m
		c.heavy = m == len(space) || (c.big != nil && m >= smallBufferSize)
		if err != nil {
			if c.w-c.r >= n {
				return nil
			}
			if c.w > c.r || !c.atBoundary {
				return unexpectedEOF(err)
			}
			return err
		}
	}
	return nil
}

// acquireBig moves the read buffer to a pooled buffer.
func (c *Conn) acquireBig(minSize int) {
	c.big = getBuffer(max(readBufferSize, minSize))
	c.w = copy(*c.big, c.buf[c.r:c.w])
	c.r = 0
	c.buf = *c.big
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// errQuiet is returned by readNet, when the caller allows it, after a
// keepalive period without input.
var errQuiet = errors.New("codec: quiet")

// ErrIdle is returned by a read after Options.ParkAfter without input. It
// does not end the connection: read again, or Park.
var ErrIdle = errors.New("codec: idle")

// noDeadline marks a keepalive machinery with nothing due: no read deadline
// is set until input arrives.
var noDeadline = time.Unix(1<<40, 0)

// readNet reads from the network, running the keepalive machinery on
// silence. With yieldOnQuiet it returns errQuiet after a silent period, so
// that the caller can swap buffers, or go idle, before blocking again.
func (c *Conn) readNet(p []byte, yieldOnQuiet bool) (int, error) {
	timed := c.timed()
	for {
		if timed && c.deadline.IsZero() {
			now := time.Now()
			if c.lastRead.IsZero() {
				c.lastRead = now
			}
			c.setReadDeadline(c.nextEvent(now))
		}
		n, err := c.nc.Read(p)
		if n > 0 {
			c.gotInput = true
			if timed {
				c.lastRead = time.Now()
				if c.deadline == noDeadline || (!c.parkArmed && c.parks()) {
					// Input: events that silence had retired are due
					// again; the next read sets the deadline anew.
					c.deadline = time.Time{}
				}
			}
			return n, nil
		}
		if err == nil {
			continue
		}
		if timed && errors.Is(err, os.ErrDeadlineExceeded) {
			c.deadline = time.Time{}
			if err := c.onSilence(); err != nil {
				return 0, err
			}
			if yieldOnQuiet {
				return 0, errQuiet
			}
			continue
		}
		return 0, err
	}
}

// timed reports whether the keepalive machinery runs: it manages the read
// deadline when there are pings to send, heartbeats to run, or reads to
// give up for parking.
func (c *Conn) timed() bool {
	return c.opts.PingInterval > 0 || c.opts.Heartbeat != nil || c.parks()
}

// parks reports whether reads go idle: ParkAfter is set and Park can follow.
func (c *Conn) parks() bool { return c.opts.ParkAfter > 0 && c.park.supported }

// parkAfter is how long a read waits for input before it goes idle.
func (c *Conn) parkAfter() time.Duration {
	if !c.gotInput {
		return min(c.opts.ParkAfter, FirstParkAfter)
	}
	return c.opts.ParkAfter
}

// mayIdle reports whether a read now may end with ErrIdle.
func (c *Conn) mayIdle() bool {
	return c.parks() && c.atBoundary && !c.assembling
}

// nextEvent is when the keepalive machinery next has work: a ping to send,
// a pong overdue, a heartbeat to run, a read to give up for parking. It is
// noDeadline when nothing is due before more input arrives.
func (c *Conn) nextEvent(now time.Time) time.Time {
	next := noDeadline
	if c.opts.PingInterval > 0 {
		if c.pingSentAt.IsZero() {
			next = minTime(next, c.lastRead.Add(c.opts.PingInterval))
		} else {
			next = minTime(next, c.pingSentAt.Add(c.opts.PongTimeout))
		}
	}
	if c.opts.Heartbeat != nil {
		next = minTime(next, maxTime(c.lastRead, c.lastHeartbeat).Add(c.opts.HeartbeatInterval))
	}
	c.parkArmed = false
	if c.parks() {
		// Once passed, parking is no longer due until input arrives.
		if t := c.lastRead.Add(c.parkAfter()); t.After(now) {
			next = minTime(next, t)
			c.parkArmed = true
		}
	}
	return next
}

func (c *Conn) setReadDeadline(t time.Time) {
	c.deadline = t
	if t == noDeadline {
		t = time.Time{}
	}
	c.nc.SetReadDeadline(t) //nolint:errcheck // a closed conn fails the next read
}

// onSilence runs when a read deadline set by the keepalive machinery fires:
// it gives up on a missing pong, runs the heartbeat, sends a ping, and sets
// the deadline of the next event. While data flows the deadline fires at
// most once per period, because it is only moved when it expires.
func (c *Conn) onSilence() error {
	now := time.Now()
	if !c.pingSentAt.IsZero() && !now.Before(c.pingSentAt.Add(c.opts.PongTimeout)) {
		return ErrPongTimeout
	}
	if c.opts.Heartbeat != nil && now.Sub(maxTime(c.lastRead, c.lastHeartbeat)) >= c.opts.HeartbeatInterval {
		c.lastHeartbeat = now
		if err := c.opts.Heartbeat(); err != nil {
			return err
		}
	}
	if c.opts.PingInterval > 0 && c.pingSentAt.IsZero() && now.Sub(c.lastRead) >= c.opts.PingInterval {
		if err := c.writeControl(OpPing, nil); err != nil {
			return err
		}
		c.pingSentAt = now
	}
	c.setReadDeadline(c.nextEvent(now))
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// onClose handles a close frame from the peer: it validates the payload,
// answers with the same code unless a close was already sent, and returns
// the *CloseError that ends reading.
func (c *Conn) onClose(payload []byte) error {
	code, reason, perr := parseClosePayload(payload)
	if perr != nil {
		return c.fail(perr)
	}
	c.closeRecv.Store(true)
	if !c.opts.ManualClose {
		// The answer is best effort: the peer's close is what the reader
		// learns, even when the peer no longer reads (it may have closed
		// its socket right after its close frame).
		c.writeClose(code, "") //nolint:errcheck // see above
	}
	return &CloseError{Code: code, Reason: reason}
}

// failOnProtocolError fails the connection when err is a protocol error,
// and passes other errors through.
func (c *Conn) failOnProtocolError(err error) error {
	var pe *ProtocolError
	if errors.As(err, &pe) {
		return c.fail(pe)
	}
	return err
}

// fail sends the close frame that a protocol error calls for and stops
// sending (RFC 6455, section 7.1.7).
func (c *Conn) fail(pe *ProtocolError) error {
	c.failed.Store(true)
	if !c.opts.ManualClose {
		c.writeClose(pe.Code, pe.Reason) //nolint:errcheck // failing anyway
		c.closeWrite()
	}
	return pe
}

func (c *Conn) closeWrite() {
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite() //nolint:errcheck // best effort
	}
}

func (c *Conn) signalReadDone() {
	c.doneOnce.Do(func() { close(c.readDone) })
}

// releaseRead returns the read side's pooled buffers.
func (c *Conn) releaseRead() {
	putBuffer(c.big)
	c.big = nil
	putBuffer(c.frameBuf)
	c.frameBuf = nil
	putBuffer(c.msgBuf)
	c.msgBuf = nil
	if c.fl != nil {
		c.fl.in.release()
		c.inflating = false
	}
	c.buf = c.small[:0]
	c.r, c.w = 0, 0
}

// ReadMessage reads the next whole data message. The payload is borrowed:
// it is valid only until the next read on the Conn. A compressed message
// is inflated whole. Errors are those of ReadFrame.
func (c *Conn) ReadMessage() (MessageType, []byte, error) {
	if c.msgBuf != nil {
		putBuffer(c.msgBuf)
		c.msgBuf = nil
	}
	f, err := c.readFrameWhole()
	if err != nil {
		return 0, nil, err
	}
	if f.Fin {
		return f.Type, f.Payload, nil
	}
	typ := f.Type
	c.msgBuf = getBuffer(max(len(f.Payload), 4096))
	msg := append((*c.msgBuf)[:0], f.Payload...)
	c.assembling = true
	defer func() { c.assembling = false }()
	for {
		f, err := c.ReadFrame()
		if err != nil {
			return 0, nil, err
		}
		if len(msg)+len(f.Payload) > cap(msg) {
			bigger := getBuffer(len(msg) + len(f.Payload))
			msg = append((*bigger)[:0], msg...)
			putBuffer(c.msgBuf)
			c.msgBuf = bigger
		}
		msg = append(msg, f.Payload...)
		if f.Fin {
			return typ, msg, nil
		}
	}
}

// readFrameWhole is ReadFrame for ReadMessage: a compressed message comes
// whole, in one Frame.
func (c *Conn) readFrameWhole() (Frame, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	c.whole = true
	f, err := c.readFrameLocked()
	c.whole = false
	return f, err
}

// maskKey returns a fresh masking key from crypto/rand. Keys are drawn in
// batches to keep the per-frame cost low.
func maskKey() [4]byte {
	maskMu.Lock()
	if maskPos == len(maskPool) {
		if _, err := rand.Read(maskPool[:]); err != nil {
			panic("codec: crypto/rand failed: " + err.Error())
		}
		maskPos = 0
	}
	var k [4]byte
	copy(k[:], maskPool[maskPos:maskPos+4])
	maskPos += 4
	maskMu.Unlock()
	return k
}

var (
	maskMu   sync.Mutex
	maskPool [1024]byte
	maskPos  = len(maskPool)
)
