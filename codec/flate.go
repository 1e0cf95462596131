package codec

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
)

// deflateState is a Conn's permessage-deflate: fixed at the handshake,
// then a read side owned by the reading goroutine and a write side
// guarded by the write lock, in fields of their own.
type deflateState struct {
	ext    string // the Sec-WebSocket-Extensions value agreed
	params CompressionParams

	in  inflater
	out deflater
}

// enableDeflate turns permessage-deflate on for a Conn whose handshake
// agreed it with the answer ext and the parameters p; cfg is this
// endpoint's configuration.
func (c *Conn) enableDeflate(cfg *Compression, ext string, p CompressionParams) {
	own, peer := p.ServerMaxWindowBits, p.ClientMaxWindowBits
	ownNoTakeover, peerNoTakeover := p.ServerNoContextTakeover, p.ClientNoContextTakeover
	if c.role == ClientRole {
		own, peer = peer, own
		ownNoTakeover, peerNoTakeover = peerNoTakeover, ownNoTakeover
	}
	fl := &deflateState{ext: ext, params: p}
	fl.in.takeover = !peerNoTakeover
	fl.in.window = 1 << peer
	fl.out.level = cfg.Level
	if fl.out.level == 0 {
		fl.out.level = flate.BestSpeed
	}
	fl.out.threshold = cfg.Threshold
	switch {
	case fl.out.threshold == 0:
		fl.out.threshold = DefaultCompressionThreshold
	case fl.out.threshold < 0:
		fl.out.threshold = 0
	}
	fl.out.takeover = !ownNoTakeover
	if own < maxWindowBits {
		// compress/flate refers back up to 32 KiB: with a smaller window
		// agreed, only a message that fits in it, compressed on its own,
		// cannot refer beyond it.
		fl.out.takeover = false
		fl.out.maxLen = 1 << own
	}
	c.fl = fl
}

// A compressed message's wire size is bounded too, a little above
// MaxMessageSize for data that does not compress (stored blocks, flush
// markers): a stream of empty blocks inflates to nothing and would
// otherwise never end.
func compressedWireLimit(maxMessage int64) int64 {
	if maxMessage > math.MaxInt64/2 {
		return math.MaxInt64
	}
	return maxMessage + maxMessage>>4 + 1024
}

// inflatePieceSize bounds the inflated payload of each frame ReadFrame
// returns for a compressed message.
const inflatePieceSize = 64 << 10

// inflater is the read side of permessage-deflate.
type inflater struct {
	// r is the decompressor of the message being read, from a pool; nil
	// between messages.
	r *flateReader
	// With context takeover, dict ends with the last window of inflated
	// output, the history the peer's next message may refer to (see
	// remember). It is all a takeover costs an idle connection.
	takeover bool
	window   int
	dict     []byte
	total    int64   // bytes inflated of the current message
	piece    *[]byte // the payload of the last frame ReadFrame returned
	probe    [1]byte // room for the byte past the limit (inflateMessage)
}

// flateReader is a pooled decompressor with the source it reads from.
type flateReader struct {
	fr  io.ReadCloser // and flate.Resetter
	src deflateSource
}

var flateReaders sync.Pool

// deflateTail ends every message for the decompressor: the empty stored
// block that the sender removed (RFC 7692, section 7.2.2), then an empty
// final block, so that a complete message ends with io.EOF and a cut one
// with io.ErrUnexpectedEOF.
var deflateTail = [...]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// deflateSource gives the decompressor the payloads of a compressed
// message's frames, reading the next frame when one is used up (and
// handling the control frames between them), then deflateTail. It is an
// io.ByteReader, so that compress/flate reads no further than it needs.
type deflateSource struct {
	c    *Conn
	cur  []byte // the rest of the current frame's payload
	fin  bool   // cur is the last frame's
	tail int    // bytes of deflateTail served
	err  error  // what ended reading the frames, already handled
}

func (s *deflateSource) ReadByte() (byte, error) {
	for len(s.cur) == 0 {
		if s.fin {
			if s.tail == len(deflateTail) {
				return 0, io.EOF
			}
			s.tail++
			return deflateTail[s.tail-1], nil
		}
		if !s.next() {
			return 0, s.err
		}
	}
	b := s.cur[0]
	s.cur = s.cur[1:]
	return b, nil
}

func (s *deflateSource) Read(p []byte) (int, error) {
	for len(s.cur) == 0 {
		if s.fin {
			n := copy(p, deflateTail[s.tail:])
			s.tail += n
			if n == 0 && len(p) > 0 {
				return 0, io.EOF
			}
			return n, nil
		}
		if !s.next() {
			return 0, s.err
		}
	}
	n := copy(p, s.cur)
	s.cur = s.cur[n:]
	return n, nil
}

// next reads the message's next frame. The Conn checks it as any other
// (a continuation, RSV1 clear, within the limits); control frames are
// handled on the way. Reads do not go idle inside a message.
func (s *deflateSource) next() bool {
	c := s.c
	if c.frameBuf != nil {
		putBuffer(c.frameBuf)
		c.frameBuf = nil
	}
	assembling := c.assembling
	c.assembling = true
	defer func() { c.assembling = assembling }()
	for {
		h, payload, err := c.nextFrame()
		if err != nil {
			s.err = c.failOnProtocolError(err)
			return false
		}
		if h.op.IsControl() {
			if err := c.control(h.op, payload); err != nil {
				s.err = err
				return false
			}
			continue
		}
		s.cur, s.fin = payload, h.fin
		c.inMessage = !h.fin
		return true
	}
}

// drain discards the rest of the message's frames: a sender may end its
// data with a final block (RFC 7692, section 7.2.3.4) and bytes after it.
func (s *deflateSource) drain() error {
	for !s.fin {
		if !s.next() {
			return s.err
		}
	}
	s.cur = nil
	return nil
}

// startInflate begins a compressed message whose first frame has the
// payload given.
func (c *Conn) startInflate(payload []byte, fin bool) {
	in := &c.fl.in
	r, _ := flateReaders.Get().(*flateReader)
	if r == nil {
		r = &flateReader{}
	}
	r.src = deflateSource{c: c, cur: payload, fin: fin}
	if r.fr == nil {
		r.fr = flate.NewReaderDict(&r.src, in.history())
	} else {
		r.fr.(flate.Resetter).Reset(&r.src, in.history()) //nolint:errcheck // never fails
	}
	in.r = r
	in.total = 0
	c.inflating = true
}

// endInflate ends the compressed message once its data is all inflated.
func (c *Conn) endInflate() error {
	in := &c.fl.in
	if err := in.r.src.drain(); err != nil {
		return err
	}
	in.releaseReader()
	c.inflating = false
	c.compressed = false
	return nil
}

// releaseReader returns the decompressor to its pool, holding nothing of
// the Conn.
func (in *inflater) releaseReader() {
	if in.r == nil {
		return
	}
	in.r.src = deflateSource{}
	flateReaders.Put(in.r)
	in.r = nil
}

// releasePiece returns the buffer of the last inflated frame.
func (in *inflater) releasePiece() {
	if in.piece != nil {
		putBuffer(in.piece)
		in.piece = nil
	}
}

// release drops the read side's state when reading is over.
func (in *inflater) release() {
	in.releaseReader()
	in.releasePiece()
	in.dict = nil
}

// readInflated returns the next part of the compressed message being
// read: with ReadMessage the whole of what is left, with ReadFrame the
// next piece.
func (c *Conn) readInflated(first bool) (Frame, error) {
	op := OpContinuation
	if first {
		op = Opcode(c.msgType)
	}
	var p []byte
	var done bool
	var err error
	if c.whole {
		p, done, err = c.inflateMessage()
	} else {
		p, done, err = c.inflatePiece()
	}
	if err != nil {
		return Frame{}, err
	}
	if done {
		if err := c.endInflate(); err != nil {
			return Frame{}, err
		}
	}
	return Frame{Fin: done, Opcode: op, Type: c.msgType, Payload: p}, nil
}

// inflatePiece inflates a piece of the message into a pooled buffer, no
// larger than MaxFrameSize, and hands it out as soon as the frames read
// so far gave some output, so that a relay streams a compressed message
// as it arrives.
func (c *Conn) inflatePiece() ([]byte, bool, error) {
	in := &c.fl.in
	size := int(min(c.opts.MaxFrameSize, inflatePieceSize))
	in.piece = getBuffer(size)
	n, done, err := c.inflateInto((*in.piece)[:size], true)
	return (*in.piece)[:n], done, err
}

// inflateMessage inflates the rest of the message into the Conn's
// message buffer, grown as the output comes and never beyond the limit:
// once the limit is reached, one byte more is tried into a scratch byte.
func (c *Conn) inflateMessage() ([]byte, bool, error) {
	in := &c.fl.in
	limit := c.opts.MaxMessageSize
	if c.msgBuf == nil {
		guess := 4 * int64(len(in.r.src.cur))
		c.msgBuf = getBuffer(int(min(max(guess, 4096), limit)))
	}
	buf := *c.msgBuf
	n := 0
	for {
		dst := buf[n:]
		if n == len(buf) {
			if left := limit - in.total; left > 0 {
				size := int64(2 * len(buf))
				if left < size-int64(n) {
					size = int64(n) + left
				}
				bigger := getBuffer(int(size))
				copy(*bigger, buf[:n])
				putBuffer(c.msgBuf)
				c.msgBuf = bigger
				buf = *bigger
				dst = buf[n:]
			} else {
				dst = in.probe[:]
			}
		}
		m, done, err := c.inflateInto(dst, false)
		if err != nil || done {
			return buf[:n+m], done, err
		}
		n += m
	}
}

// inflateInto inflates into dst until it is full or the message ends (or,
// with stream, until the frames read so far gave some output). It fails
// the connection with 1009 as soon as the output passes MaxMessageSize,
// having produced at most one byte more, and with 1007 on invalid
// compressed data or invalid UTF-8 in a text message.
func (c *Conn) inflateInto(dst []byte, stream bool) (int, bool, error) {
	in := &c.fl.in
	left := c.opts.MaxMessageSize - in.total
	if int64(len(dst)) > left {
		dst = dst[:left+1]
	}
	n, done := 0, false
	var rerr error
	for n < len(dst) {
		m, err := in.r.fr.Read(dst[n:])
		n += m
		if err == io.EOF {
			done = true
			break
		}
		if err != nil {
			rerr = err
			break
		}
		if stream && m > 0 && len(in.r.src.cur) == 0 && !in.r.src.fin {
			break
		}
	}
	out := dst[:n]
	over := int64(n) > left
	if over {
		out = out[:left]
	}
	if c.msgType == Text && !c.utf8.Feed(out) {
		return 0, false, c.fail(protocolError(CloseInvalidPayload, "text message is not valid UTF-8"))
	}
	if over {
		return 0, false, c.fail(protocolError(CloseMessageTooBig, "message larger than the limit once inflated"))
	}
	if rerr != nil {
		if err := in.r.src.err; err != nil {
			return 0, false, err
		}
		return 0, false, c.fail(protocolError(CloseInvalidPayload, "invalid compressed data"))
	}
	in.total += int64(n)
	if in.takeover {
		in.remember(out)
	}
	if done && c.msgType == Text && !c.utf8.Done() {
		return 0, false, c.fail(protocolError(CloseInvalidPayload, "text message ends inside a UTF-8 sequence"))
	}
	return n, done, nil
}

// remember adds inflated output to the history of the next message. The
// buffer has room for a quarter of a window beyond it, and slides only
// when that is full: a peer that sends many tiny blocks costs a few bytes
// moved per byte inflated, not a window each.
func (in *inflater) remember(p []byte) {
	w := in.window
	if len(p) >= w {
		p = p[len(p)-w:]
	}
	if len(in.dict)+len(p) > cap(in.dict) {
		// Only what the window still reaches once p is in is kept.
		keep := in.dict[max(0, len(in.dict)-(w-len(p))):]
		if size := w + w/4; cap(in.dict) < size {
			grown := make([]byte, len(keep), min(size, max(2*cap(in.dict), len(keep)+len(p), 1024)))
			copy(grown, keep)
			in.dict = grown
		} else {
			in.dict = in.dict[:copy(in.dict, keep)]
		}
	}
	in.dict = append(in.dict, p...)
}

// history is the dictionary of the next message: the last window of
// output.
func (in *inflater) history() []byte {
	return in.dict[max(0, len(in.dict)-in.window):]
}

// deflater is the write side of permessage-deflate.
type deflater struct {
	level     int
	threshold int
	takeover  bool
	maxLen    int // the largest payload compressed; 0 for any
	// w is the compressor, kept between messages with context takeover
	// only.
	w *flateWriter
}

// flateWriter is a pooled compressor with the buffer it writes to.
type flateWriter struct {
	fw  *flate.Writer
	out compressBuffer
}

// flateWriters are pools of compressors by level.
var flateWriters [flate.BestCompression + 1]sync.Pool

// compressBuffer collects compressed output in a pooled buffer.
type compressBuffer struct {
	b *[]byte
	n int
}

func (w *compressBuffer) Write(p []byte) (int, error) {
	if w.n+len(p) > len(*w.b) {
		bigger := getBuffer(max(2*len(*w.b), w.n+len(p)))
		copy(*bigger, (*w.b)[:w.n])
		putBuffer(w.b)
		w.b = bigger
	}
	w.n += copy((*w.b)[w.n:], p)
	return len(p), nil
}

// wants reports whether a data message of n bytes is to be compressed.
func (d *deflater) wants(n int) bool {
	return n >= d.threshold && (d.maxLen == 0 || n <= d.maxLen)
}

// syncMarker ends the output of a flush; RFC 7692, section 7.2.1 has the
// sender remove it.
var syncMarker = []byte{0x00, 0x00, 0xff, 0xff}

// compress compresses a message. It returns the payload to send, its RSV1
// bit, and the buffer to give back to the pool once it is sent (nil when
// the payload is p itself: without context takeover, a message that
// does not shrink goes out as it is).
func (d *deflater) compress(p []byte) ([]byte, byte, *[]byte, error) {
	w := d.w
	if w == nil {
		w, _ = flateWriters[d.level].Get().(*flateWriter)
		if w == nil {
			w = &flateWriter{}
			fw, err := flate.NewWriter(&w.out, d.level)
			if err != nil {
				return nil, 0, nil, fmt.Errorf("codec: compress: %w", err)
			}
			w.fw = fw
		} else {
			w.fw.Reset(&w.out)
		}
		if d.takeover {
			d.w = w
		}
	}
	w.out.b, w.out.n = getBuffer(len(p)/2+64), 0
	_, err := w.fw.Write(p)
	if err == nil {
		err = w.fw.Flush()
	}
	buf, out := w.out.b, (*w.out.b)[:w.out.n]
	w.out.b = nil
	if !d.takeover {
		flateWriters[d.level].Put(w)
	}
	if err == nil && !bytes.HasSuffix(out, syncMarker) {
		err = errors.New("compressor output does not end with a flush")
	}
	if err != nil {
		putBuffer(buf)
		return nil, 0, nil, fmt.Errorf("codec: compress: %w", err)
	}
	out = out[:len(out)-len(syncMarker)]
	if !d.takeover && len(out) >= len(p) {
		putBuffer(buf)
		return p, 0, nil, nil
	}
	return out, rsv1, buf, nil
}

// release gives the kept compressor back to the pool.
func (d *deflater) release() {
	if d.w != nil {
		flateWriters[d.level].Put(d.w)
		d.w = nil
	}
}

// releaseCompressor gives up the compressor kept for context takeover,
// the bulk of an idle Conn's memory with it (about 1.2 MB with
// compress/flate). Takeover allows a message to refer to the ones before
// it, and never requires it: the next one starts afresh.
func (c *Conn) releaseCompressor() {
	if c.fl == nil {
		return
	}
	c.wmu.Lock()
	c.fl.out.release()
	c.wmu.Unlock()
}

// writeCompressed sends a whole message, compressed.
func (c *Conn) writeCompressed(typ MessageType, payload []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writableLocked(); err != nil {
		return err
	}
	p, rsv, buf, err := c.fl.out.compress(payload)
	if err != nil {
		return err
	}
	err = c.bufferLocked(true, rsv, Opcode(typ), p)
	if err == nil {
		err = c.flushLocked()
	}
	putBuffer(buf)
	return err
}
