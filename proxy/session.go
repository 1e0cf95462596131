package proxy

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/plugins"
)

// session is one proxied connection: the client leg, the upstream leg, and
// the two pumps between them.
type session struct {
	client, upstream *codec.Conn
	route            *route
	gen              *generation // the configuration it was accepted under
	start            time.Time
	id               uint64
	subprotocol      string
	upstreamName     string
	path             string       // the request-target
	stats            *routeStats  // its route's, for the metrics
	admission        *admission   // its place under the connection caps
	clientRate       *rateLimiter // nil: no max_message_rate

	// What the session's log lines say, kept as parts: a logger with
	// these attributes would cost each idle session its own copy.
	plog       *slog.Logger
	listener   string
	clientAddr string
	server     *url.URL

	// closing is set by whoever starts closing the session: a pump that
	// ended, or a shutdown. The other pump then only drains its source.
	closing atomic.Bool
	// lateFilterClose is a filter's close (its failure, mostly) that came
	// while the session was already closing: what it held back from the
	// client may be missing, so the client's close is answered with it.
	lateFilterClose atomic.Pointer[filterCloseError]

	// What was relayed each way: up from the client to the upstream,
	// down from the upstream to the client.
	up, down dirStats

	idleMu    sync.Mutex
	idleSeen  uint64
	idleSince time.Time

	// Each pump's end and the session's; made on demand, since an idle
	// session should not carry three channels.
	sigMu            sync.Mutex
	c2uDone, u2cDone signal
	done             signal
	live             atomic.Int32 // pumps not ended
	finished         func()       // called when the session is over

	// filters is the connection's place in the route's chain, nil when
	// the route has no filters; peer is what the filters act through.
	filters *plugins.Conn
	peer    *filterPeer
	// ended is how the session ended, for the filters' on_close.
	endOnce sync.Once
	ended   closeEnd
}

// logDebug logs at debug level with the session's attributes.
func (s *session) logDebug(msg string, args ...any) {
	if s.plog.Enabled(context.Background(), slog.LevelDebug) {
		s.logger().Debug(msg, args...)
	}
}

// logger is the proxy's logger with the session's attributes.
func (s *session) logger() *slog.Logger {
	return s.plog.With("listener", s.listener, "client", s.clientAddr, "route", s.route.cfg.Name, "upstream", s.server.String())
}

// errIdle ends a pump when no message went either way for the route's idle
// timeout.
var errIdle = errors.New("idle timeout")

// heartbeat is called by either leg's Conn after a quiet spell: it ends the
// session when no data message moved either way for the idle timeout.
func (s *session) heartbeat() error {
	idle := s.route.cfg.Limits.IdleTimeout
	if idle <= 0 {
		return nil
	}
	n := s.up.messages.Load() + s.down.messages.Load()
	now := time.Now()
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	if n != s.idleSeen || s.idleSince.IsZero() {
		s.idleSeen, s.idleSince = n, now
		return nil
	}
	if now.Sub(s.idleSince) >= idle {
		return errIdle
	}
	return nil
}

// parkAfter is how long a leg may be silent before its pump gives up its
// goroutine and parks the leg on the poller (codec.Conn.Park): a quiet
// session then holds no goroutine and no buffer. Long enough that a busy
// leg never parks, short enough that idle sessions cost little soon. A leg
// that has not had any input yet parks sooner (codec.FirstParkAfter).
const parkAfter = time.Second

// run relays until both legs are closed, then calls finished. Each
// direction has its pump, which runs in a goroutine of its own while its
// source leg has input and parks the leg when it falls quiet; each leg is
// read only by its own pump. run returns at once.
func (s *session) run(finished func()) {
	s.finished = finished
	s.live.Store(2)
	if s.peer != nil {
		s.peer.start()
	}
	go s.pumpUpstreamToClient()
	go s.pumpClientToUpstream()
}

func (s *session) pumpClientToUpstream() {
	err := s.relay(s.client, s.upstream, false, &s.up)
	if err == codec.ErrIdle && s.client.Park(s.pumpClientToUpstream) == nil {
		return
	}
	s.end(err, s.client, s.upstream)
	s.fire(&s.c2uDone)
	s.pumpEnded()
}

func (s *session) pumpUpstreamToClient() {
	err := s.relay(s.upstream, s.client, true, &s.down)
	if err == codec.ErrIdle && s.upstream.Park(s.pumpUpstreamToClient) == nil {
		return
	}
	s.end(err, s.upstream, s.client)
	s.fire(&s.u2cDone)
	s.pumpEnded()
}

// pumpEnded releases the session once both pumps have ended.
func (s *session) pumpEnded() {
	if s.live.Add(-1) != 0 {
		return
	}
	s.client.CloseNow()
	s.upstream.CloseNow()
	s.closeFilters()
	s.fire(&s.done)
	s.finished()
}

// relay relays from src to dst: whole messages through the filters when
// a filter of the route reads messages, frames as they come otherwise.
func (s *session) relay(src, dst *codec.Conn, fromUpstream bool, stats *dirStats) error {
	if s.route.chain != nil && s.route.chain.NeedsMessages() {
		return s.relayFiltered(src, dst, fromUpstream, stats)
	}
	var limiter *rateLimiter
	if !fromUpstream {
		limiter = s.clientRate
	}
	if compresses(dst) {
		return relayMessages(src, dst, stats, s.filters, limiter)
	}
	return relay(src, dst, stats, s.filters, limiter)
}

// compresses reports whether c negotiated permessage-deflate: only whole
// messages written to it are compressed.
func compresses(c *codec.Conn) bool {
	_, ok := c.Compression()
	return ok
}

// nextMessage reads src's next message for a pump that relays whole
// messages. A message over the client's rate ends the pump with
// errMessageRate, unrelayed; any end first flushes what dst has buffered.
func nextMessage(src, dst *codec.Conn, limiter *rateLimiter) (codec.MessageType, []byte, error) {
	typ, payload, err := src.ReadMessage()
	if err == nil && !limiter.allow() {
		err = errMessageRate // the message is not relayed
	}
	if err != nil {
		if ferr := dst.Flush(); ferr != nil && (err == codec.ErrIdle || err == errMessageRate) {
			return 0, nil, &writeError{ferr}
		}
		return 0, nil, err
	}
	return typ, payload, nil
}

// relayMessages relays whole messages from src to dst, for a dst that
// compresses them (frames are written uncompressed). It is relay but for
// the unit: a message is read whole, inflated if src compressed it, and
// written whole.
func relayMessages(src, dst *codec.Conn, stats *dirStats, filters *plugins.Conn, limiter *rateLimiter) error {
	for {
		typ, payload, err := nextMessage(src, dst, limiter)
		if err != nil {
			return err
		}
		stats.add(1, uint64(len(payload)))
		if err := dst.WriteMessage(typ, payload); err != nil {
			return &writeError{err}
		}
		if filters != nil {
			filters.Boundary()
		}
	}
}

// end runs when a pump's relay from src to dst stopped with err. The first
// pump to end closes the session: it sends the close frame on the other
// leg and waits for the other pump, which meanwhile still relays what is in
// flight towards src, to read the answer; then it closes src. The second
// pump relays the close handshake's answer, so that a close travels end to
// end: the peer that closed gets the other side's answer after the other
// side's last message, as from a single endpoint.
func (s *session) end(err error, src, dst *codec.Conn) {
	var ce *codec.CloseError
	closed := errors.As(err, &ce)
	if s.closing.Swap(true) {
		var fe *filterCloseError
		if errors.As(err, &fe) {
			// The filters failed or closed while the session closed:
			// src's close answer is still to be read, and the client is
			// told.
			s.lateFilterClose.CompareAndSwap(nil, fe)
			drain(src)
			return
		}
		if closed && dst.PeerClosed() {
			dst.WriteClose(ce.Code, ce.Reason) //nolint:errcheck // ErrClosed when dst was answered already
		}
		if isWriteError(err) {
			drain(src)
		}
		return
	}

	srcIsClient := src == s.client
	other := s.wait(&s.u2cDone)
	if !srcIsClient {
		other = s.wait(&s.c2uDone)
	}
	var pe *codec.ProtocolError
	var we *writeError
	var fe *filterCloseError
	switch {
	case errors.As(err, &fe):
		// A filter closed the connection: the client gets its code, the
		// upstream hears that the client went away.
		s.logDebug("closed by a filter", "code", int(fe.code), "reason", fe.reason)
		s.recordEnd(closeEnd{by: closedByFilter, code: fe.code, reason: fe.reason})
		s.client.WriteClose(fe.code, fe.reason)                         //nolint:errcheck // closing anyway
		s.upstream.WriteClose(codec.CloseGoingAway, "closed by filter") //nolint:errcheck // closing anyway
		s.await(other, dst)
		src.Close(codec.CloseGoingAway, "") //nolint:errcheck // reads src's answer
	case closed:
		s.recordEnd(closeEnd{byUpstream: !srcIsClient, code: ce.Code, reason: ce.Reason})
		// A clean close: pass it on; the answer comes back through the
		// other pump. If none comes in time, src gets its own code back.
		s.logDebug("close", "from", side(srcIsClient), "code", int(ce.Code), "reason", ce.Reason)
		dst.WriteClose(ce.Code, ce.Reason) //nolint:errcheck // a broken dst ends the other pump
		s.await(other, dst)
		if fe := s.lateFilterClose.Load(); fe != nil && srcIsClient {
			// Messages on their way to the client may have been held
			// back by the failed filter: its close says so.
			src.Close(fe.code, fe.reason) //nolint:errcheck // ErrClosed when answered
			break
		}
		src.Close(ce.Code, "") //nolint:errcheck // ErrClosed when answered
	case errors.Is(err, errIdle):
		s.recordEnd(closeEnd{by: closedByProxy, code: codec.CloseGoingAway, reason: "idle timeout"})
		src.WriteClose(codec.CloseGoingAway, "idle timeout") //nolint:errcheck // closing anyway
		dst.WriteClose(codec.CloseGoingAway, "idle timeout") //nolint:errcheck // closing anyway
		s.await(other, dst)
		src.Close(codec.CloseGoingAway, "") //nolint:errcheck // reads src's answer
	case errors.As(err, &we):
		// dst broke under a write: src is told, dst is gone. A dst that
		// stopped reading gets no close frame: its socket's send buffer
		// is full, and a frame may have been cut in the middle.
		s.logDebug("write failed", "to", side(!srcIsClient), "err", we.err)
		e := closeEnd{byUpstream: srcIsClient, abnormal: true, code: codec.CloseAbnormal}
		code, reason := lostLeg(srcIsClient)
		if errors.Is(we.err, codec.ErrWriteTimeout) {
			e.by, e.reason = closedByProxy, "write timeout: "+side(!srcIsClient)+" not reading"
			reason = side(!srcIsClient) + " not reading"
		}
		s.recordEnd(e)
		dst.CloseNow()
		src.Close(code, reason) //nolint:errcheck // closing anyway
		<-other
		return
	case errors.Is(err, errMessageRate):
		// Like a protocol violation: the upstream hears that the client
		// went away, the client gets 1008 after what was in flight to it.
		s.logDebug("client exceeded the message rate", "rate", s.route.cfg.Limits.MaxMessageRate)
		s.recordEnd(closeEnd{by: closedByProxy, code: codec.ClosePolicyViolation, reason: "message rate exceeded"})
		dst.WriteClose(codec.CloseGoingAway, "client failed") //nolint:errcheck // closing anyway
		s.await(other, dst)
		src.Close(codec.ClosePolicyViolation, "message rate exceeded") //nolint:errcheck // closing anyway
	case errors.As(err, &pe):
		// src broke the protocol. dst hears that its peer went away; src
		// gets the close code the violation calls for once what dst had in
		// flight towards it was delivered.
		s.recordEnd(closeEnd{byUpstream: !srcIsClient, code: pe.Code, reason: pe.Reason})
		if srcIsClient {
			s.logDebug("client broke the protocol", "code", int(pe.Code), "reason", pe.Reason)
			dst.WriteClose(codec.CloseGoingAway, "client failed") //nolint:errcheck // closing anyway
		} else if pe.Code == codec.CloseMessageTooBig {
			// Not a broken upstream: one over the route's limit. The
			// client hears that its peer went away, as the upstream does
			// when a client sends too much.
			s.logDebug("upstream sent a message over the limit", "reason", pe.Reason)
			dst.WriteClose(codec.CloseGoingAway, "upstream message too big") //nolint:errcheck // closing anyway
		} else {
			// RFC 6455 has no code for "my upstream broke the protocol";
			// 1014 (IANA: bad gateway) says the gateway got an invalid
			// response.
			s.logger().Warn("upstream broke the protocol", "code", int(pe.Code), "reason", pe.Reason)
			dst.WriteClose(codec.CloseBadGateway, "upstream protocol error") //nolint:errcheck // closing anyway
		}
		s.await(other, dst)
		src.Close(pe.Code, pe.Reason) //nolint:errcheck // closing anyway
	default:
		// src's socket was lost, or its keepalive went unanswered.
		s.logDebug("connection lost", "side", side(srcIsClient), "err", err)
		s.recordEnd(closeEnd{byUpstream: !srcIsClient, abnormal: true, code: codec.CloseAbnormal})
		src.CloseNow()
		code, reason := lostLeg(!srcIsClient)
		dst.WriteClose(code, reason) //nolint:errcheck // closing anyway
		s.await(other, dst)
	}
	// The other pump is done: dst has no reader left, and Close may wait
	// for a server's TCP close as RFC 6455, section 7.1.1 asks of clients.
	dst.Close(codec.CloseNormal, "") //nolint:errcheck // the close frame was sent: this only releases
}

// await waits for the other pump to end, for at most the close timeout,
// after which its leg is closed so that it ends at once.
func (s *session) await(other <-chan struct{}, leg *codec.Conn) {
	timer := time.NewTimer(s.route.cfg.Limits.CloseTimeout)
	defer timer.Stop()
	select {
	case <-other:
	case <-timer.C:
		leg.CloseNow()
		<-other
	}
}

// lostLeg is the close code and reason for the surviving leg when the
// other one is lost: the client hears 1011, the upstream 1001.
func lostLeg(survivorIsClient bool) (codec.StatusCode, string) {
	if survivorIsClient {
		return codec.CloseInternalError, "upstream connection lost"
	}
	return codec.CloseGoingAway, "client went away"
}

func side(isClient bool) string {
	if isClient {
		return "client"
	}
	return "upstream"
}

// shutdown closes the session with 1001 on both legs, as on a proxy
// shutdown.
func (s *session) shutdown() {
	const reason = "server shutting down"
	s.closeBoth(codec.CloseGoingAway, reason, closeEnd{by: closedByProxy, code: codec.CloseGoingAway, reason: reason})
}

// closeBoth closes the session from the outside: the client gets code and
// reason, the upstream 1001. The pumps read the answers; legs that do not
// answer within the close timeout are closed.
func (s *session) closeBoth(code codec.StatusCode, reason string, e closeEnd) {
	if s.closing.Swap(true) {
		if e.by == closedByFilter {
			s.lateFilterClose.CompareAndSwap(nil, &filterCloseError{code: code, reason: reason})
		}
		return
	}
	s.recordEnd(e)
	upstreamReason := reason
	if code != codec.CloseGoingAway {
		upstreamReason = "closed by filter"
	}
	s.client.WriteClose(code, reason)                           //nolint:errcheck // closing anyway
	s.upstream.WriteClose(codec.CloseGoingAway, upstreamReason) //nolint:errcheck // closing anyway
	timer := time.NewTimer(s.route.cfg.Limits.CloseTimeout)
	defer timer.Stop()
	select {
	case <-s.wait(&s.done):
	case <-timer.C:
		s.client.CloseNow()
		s.upstream.CloseNow()
	}
}

// writeError marks a failure to write to the destination leg.
type writeError struct{ err error }

func (e *writeError) Error() string { return "write: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

// relay copies frames from src to dst until either fails. Frames are
// buffered on dst and flushed when src has no whole frame buffered, so a
// read that brought many frames becomes one write. The counts are kept
// locally and published at each flush: one atomic add per read, not per
// frame. filters, when not nil, is told of each message boundary, where a
// live reload may replace its plugins.
func relay(src, dst *codec.Conn, stats *dirStats, filters *plugins.Conn, limiter *rateLimiter) error {
	var messages, bytes uint64
	inMessage := false // a message's first frame was relayed, not its last
	for {
		f, err := src.ReadFrame()
		if err == nil && !inMessage && !limiter.allow() {
			err = errMessageRate // the message is not relayed
		}
		if err != nil {
			stats.add(messages, bytes)
			if ferr := dst.Flush(); ferr != nil && (err == codec.ErrIdle || err == errMessageRate) {
				return &writeError{ferr}
			}
			return err
		}
		inMessage = !f.Fin
		if err := dst.BufferFrame(f.Fin, f.Opcode, f.Payload); err != nil {
			stats.add(messages, bytes)
			return &writeError{err}
		}
		bytes += uint64(len(f.Payload))
		if f.Fin {
			messages++
			if filters != nil {
				// A filter that rejects the connection on its reopen
				// closes it from the outside; the pump relays the close.
				filters.Boundary()
			}
		}
		if !src.Buffered() {
			stats.add(messages, bytes)
			messages, bytes = 0, 0
			if err := dst.Flush(); err != nil {
				return &writeError{err}
			}
		}
	}
}

// dirStats counts what one pump relayed: data messages and their payload
// bytes, as read from the source.
type dirStats struct {
	messages, bytes atomic.Uint64
}

func (d *dirStats) add(messages, bytes uint64) {
	if messages != 0 {
		d.messages.Add(messages)
	}
	if bytes != 0 {
		d.bytes.Add(bytes)
	}
}

// drain keeps reading a leg that another goroutine is closing, so that the
// peer's close frame is read and the close handshake completes promptly.
func drain(c *codec.Conn) {
	for {
		if _, err := c.ReadFrame(); err != nil && err != codec.ErrIdle {
			return
		}
	}
}

func isWriteError(err error) bool {
	var we *writeError
	return errors.As(err, &we)
}

// signal is a channel closed once, made only when someone waits for it.
type signal struct {
	ch    chan struct{}
	fired bool
}

// wait returns a channel closed when sig fires.
func (s *session) wait(sig *signal) <-chan struct{} {
	s.sigMu.Lock()
	defer s.sigMu.Unlock()
	if sig.ch == nil {
		sig.ch = make(chan struct{})
		if sig.fired {
			close(sig.ch)
		}
	}
	return sig.ch
}

// fire closes sig's channel, now or when it is made.
func (s *session) fire(sig *signal) {
	s.sigMu.Lock()
	defer s.sigMu.Unlock()
	sig.fired = true
	if sig.ch != nil {
		close(sig.ch)
	}
}
