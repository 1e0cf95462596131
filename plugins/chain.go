package plugins

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/sdk/abi"
)

// A Chain is the filters of one route, in order from the client to the
// upstream. Handshakes and client-to-upstream messages go through them in
// that order, upstream-to-client messages in the reverse order: the filter
// next to the client sees everything first on the way in and last on the
// way out.
type Chain struct {
	plugins        []*Plugin
	messages       bool
	live           bool // a plugin is live: Conns keep their requests
	maxMessageSize int64
}

// NewChain makes the chain of plugins. Messages a filter replaces or
// injects may be at most maxMessageSize bytes (0: no limit).
func NewChain(maxMessageSize int64, plugins ...*Plugin) *Chain {
	ch := &Chain{plugins: plugins, maxMessageSize: maxMessageSize}
	for _, p := range plugins {
		if p.info.Hooks.Messages || p.info.Sends {
			ch.messages = true
		}
		ch.live = ch.live || p.spec.Live
	}
	return ch
}

// NeedsMessages reports whether a filter of the chain exports
// wasmgate_on_messages or imports send. When none does, the proxy may
// relay frames as they come, without assembling messages: no filter reads
// them, and none can inject a message between the frames of one.
func (ch *Chain) NeedsMessages() bool { return ch.messages }

// Request is the client's handshake, as the filters see it.
type Request struct {
	Method, URI, Path, Query, Host, RemoteAddr string
	// Protocols are the offered subprotocols.
	Protocols []string
	// Header holds the request's headers with canonical names.
	Header http.Header
	// Route is the name of the route that matched.
	Route string
	// TLS is set when the client connected with TLS.
	TLS bool
	// HasUpstream reports whether upstream_choose may pick name.
	HasUpstream func(name string) bool
}

// Verdict is what the filters decided on a handshake.
type Verdict struct {
	// Reject, when set, is the refusal to send to the client instead of
	// going on with the handshake.
	Reject *Rejection
	// Upstream is the upstream a filter chose, "" for the route's.
	Upstream string
	// URI is the request-target a filter chose to send upstream, "" for
	// the client's.
	URI string
	// Edits are the changes to the upstream request's headers, in order.
	Edits []HeaderEdit
}

// Rejection is an HTTP refusal of a handshake.
type Rejection struct {
	Status int
	Header http.Header
	Body   []byte
}

// HeaderEdit is one change to the upstream request's headers.
type HeaderEdit struct {
	Op    EditOp
	Name  string // canonical
	Value string
}

// EditOp is the kind of a HeaderEdit.
type EditOp int

// The header edits of upstream_header_set, _add and _remove.
const (
	EditSet EditOp = iota
	EditAdd
	EditRemove
)

// Apply applies the verdict's header edits to h.
func (v *Verdict) Apply(h http.Header) { applyEdits(h, v.Edits) }

func applyEdits(h http.Header, edits []HeaderEdit) {
	for _, e := range edits {
		switch e.Op {
		case EditSet:
			h.Set(e.Name, e.Value)
		case EditAdd:
			h.Add(e.Name, e.Value)
		case EditRemove:
			h.Del(e.Name)
		}
	}
}

// Peer is the proxy's side of a connection, for what filters do outside
// the flow of messages: from a timer, from another connection's hook, or
// when a plugin fails. Its methods are called without locks held and must
// not wait for the connection to end.
type Peer interface {
	// Send writes a message to the client (toClient) or to the upstream.
	// payload is the caller's: Send must not keep it.
	Send(toClient bool, typ codec.MessageType, payload []byte)
	// Close closes the connection: the client gets code and reason, the
	// upstream 1001.
	Close(code codec.StatusCode, reason string)
}

// Message is one data message handed to or returned by a chain.
type Message struct {
	Type    codec.MessageType
	Payload []byte
}

// Result is what a chain made of a batch of messages.
type Result struct {
	// Forward are the messages to write on towards the destination, in
	// order.
	Forward []Message
	// Back are the messages filters sent back towards the source.
	Back []Message
	// Close is set when a filter closed the connection, or failed with
	// on_error = "close": write Forward and Back first, then close with
	// Code and Reason towards the client and 1001 towards the upstream.
	Close  bool
	Code   codec.StatusCode
	Reason string
}

// A Conn is one proxied connection's place in a chain: a context id on
// one instance of each plugin.
type Conn struct {
	chain   *Chain
	peer    Peer
	filters []filterRef
	closed  atomic.Bool
	// mu serializes Close and the moves of live reload.
	mu sync.Mutex
	// live is what live reload needs, nil when no plugin of the chain is
	// live.
	live *liveConn

	c2u, u2c direction
}

// filterRef holds a Conn's binding to one filter of its chain: first
// until a live reload moves the connection to a newer version of the
// plugin, which replaces it while the pumps read it.
type filterRef struct {
	cur   atomic.Pointer[binding]
	first binding
}

// binding returns the binding to the chain's filter i.
func (c *Conn) binding(i int) *binding { return c.filters[i].cur.Load() }

// binding is a connection pinned to one instance of one plugin.
type binding struct {
	conn   *Conn
	plugin *Plugin
	slot   *slot
	inst   *instance
	id     uint32
	opened bool
	// skip is set when the plugin must not be called for this connection
	// any more: its instance failed, or it rejected the handshake.
	skip atomic.Bool
	// failed is set when the connection must close because of this
	// filter, with endCode and endReason (written before, under the slot's
	// lock, once): its instance failed and on_error is close, or it
	// refused the connection on a reopen. No message may pass the filter
	// unchecked meanwhile.
	failed    atomic.Bool
	endCode   codec.StatusCode
	endReason string
	// moved is set, under the old slot's lock, when a live reload
	// replaced this binding with one on a newer version of the plugin.
	moved atomic.Bool
}

// end marks the connection as closing because of this filter, unless it
// already is. The slot's lock is held, or b is not shared yet.
func (b *binding) end(code codec.StatusCode, reason string) {
	if b.failed.Load() {
		return
	}
	b.endCode, b.endReason = code, reason
	b.failed.Store(true)
}

// closeInternalError is the code of connections closed after their
// filter failed.
const closeInternalError = codec.CloseInternalError

// Open runs the handshake through the filters. The Conn is nil when the
// verdict rejects the handshake; otherwise the caller must end it with
// Close, or Abort if the connection never opens (an upstream that cannot
// be dialed).
func (ch *Chain) Open(req *Request, peer Peer) (*Conn, *Verdict) {
	conn := &Conn{chain: ch, peer: peer, filters: make([]filterRef, len(ch.plugins))}
	// kept is the copy of view that live filters keep for their reopens,
	// made once per view (nil until a live filter needs it).
	var kept *Request
	if ch.live {
		conn.live = &liveConn{views: make([]*Request, len(ch.plugins))}
		// Supersedes from now on move this connection too.
		conn.live.seen.Store(liveEpoch.Load())
	}
	v := &Verdict{}
	var flags uint32
	if req.TLS {
		flags |= abi.OpenTLS
	}
	// Each filter sees the request as the filters before it left it: a
	// header an earlier filter set for the upstream (auth's user id, say)
	// is what a later one reads, not what the client sent. The request is
	// copied only once a filter has edited it.
	view, seen := req, 0
	for i, p := range ch.plugins {
		if len(v.Edits) > seen || (v.URI != "" && v.URI != view.URI) {
			if view == req {
				cp := *req
				cp.Header = req.Header.Clone()
				if cp.Header == nil {
					cp.Header = http.Header{}
				}
				view = &cp
			}
			applyEdits(view.Header, v.Edits[seen:])
			seen = len(v.Edits)
			if v.URI != "" {
				view.URI = v.URI
				view.Path, view.Query, _ = strings.Cut(v.URI, "?")
			}
			kept = nil
		}
		if conn.live != nil && p.spec.Live {
			if kept == nil {
				kept = keepRequest(view)
			}
			conn.live.views[i] = kept
		}
		f := &conn.filters[i]
		b := &f.first
		f.cur.Store(b)
		b.conn, b.plugin = conn, p
		s, err := p.acquire(b)
		if err != nil {
			b.skip.Store(true)
			if p.spec.FailOpen {
				p.log.Warn("filter skipped", "err", err)
				continue
			}
			p.log.Error("handshake refused", "err", err)
			return conn.refuse(v, &Rejection{Status: http.StatusServiceUnavailable,
				Body: []byte("filter " + p.spec.Name + " unavailable\n")}, "filter "+p.spec.Name+" unavailable")
		}
		inst := s.inst
		if inst.onOpen == nil {
			b.opened = true
			s.unlock()
			continue
		}
		c := &call{hook: hookOpen, binding: b, req: view, verdict: v}
		inst.stack[0], inst.stack[1] = uint64(b.id), uint64(flags)
		err = inst.invoke(inst.onOpen, c)
		action := int32(inst.stack[0])
		if err == nil && action != abi.ActionContinue && action != abi.ActionReject {
			err = guestError(fmt.Errorf("%s returned %d, which is no action", abi.ExportOnOpen, action))
		}
		if err != nil {
			s.fail(fmt.Errorf("%s: %w", abi.ExportOnOpen, err), b)
			s.unlock()
			if p.spec.FailOpen {
				continue
			}
			return conn.refuse(v, &Rejection{Status: http.StatusInternalServerError,
				Body: []byte("filter " + p.spec.Name + " failed\n")}, "filter "+p.spec.Name+" failed")
		}
		if c.closeSet || action == abi.ActionReject {
			// The filter that refuses gets no on_close: it forgets the
			// connection when it refuses.
			b.skip.Store(true)
			s.unbind(b)
			s.setTick(nil, b.id, 0)
			s.unlock()
			rej := c.rejection
			if c.closeSet {
				rej = &Rejection{Status: http.StatusForbidden, Header: c.rejectHeader, Body: []byte(c.closeReason)}
			} else if rej == nil {
				rej = &Rejection{Status: http.StatusForbidden}
			}
			if rej.Header == nil {
				rej.Header = c.rejectHeader
			}
			return conn.refuse(v, rej, "rejected by filter "+p.spec.Name)
		}
		b.opened = true
		s.unlock()
	}
	return conn, v
}

// refuse ends a handshake that a filter refused: the filters that had let
// it through hear that it closed.
func (c *Conn) refuse(v *Verdict, r *Rejection, reason string) (*Conn, *Verdict) {
	c.Abort(reason)
	v.Reject = r
	v.Edits = nil
	v.Upstream = ""
	return nil, v
}

// CloseInfo says how a connection ended, for wasmgate_on_close.
type CloseInfo struct {
	// ByUpstream is set when the upstream side ended the connection.
	ByUpstream bool
	// Abnormal is set when that side vanished without a close frame.
	Abnormal bool
	Code     codec.StatusCode
	Reason   string
}

// Abort ends a connection that never opened (its upstream could not be
// dialed, or the client left during the handshake): every filter that let
// the handshake through gets on_close with CLOSE_ABNORMAL and 1006.
func (c *Conn) Abort(reason string) {
	c.Close(CloseInfo{Abnormal: true, Code: codec.CloseAbnormal, Reason: reason})
}

// Close ends the connection in every filter: each gets on_close, in chain
// order, and forgets the context id. Later calls do nothing.
func (c *Conn) Close(info CloseInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Swap(true) {
		return
	}
	var flags uint32
	if info.ByUpstream {
		flags |= abi.CloseByUpstream
	}
	if info.Abnormal {
		flags |= abi.CloseAbnormal
	}
	for i := range c.filters {
		b := c.binding(i)
		// nil: the handshake was refused before this filter.
		if b == nil || b.slot == nil || b.skip.Load() {
			continue
		}
		s := b.slot
		s.mu.Lock()
		if s.conns[b.id] != b {
			s.unlock()
			continue
		}
		s.unbind(b)
		s.setTick(nil, b.id, 0)
		inst := s.inst
		if b.opened && inst == b.inst && inst.onClose != nil {
			cl := &call{hook: hookClose, binding: b, closeInfo: &info}
			inst.stack[0], inst.stack[1], inst.stack[2] = uint64(b.id), uint64(flags), uint64(info.Code)
			if err := inst.invoke(inst.onClose, cl); err != nil {
				s.fail(fmt.Errorf("%s: %w", abi.ExportOnClose, err), b)
			}
		}
		b.skip.Store(true)
		s.unlock()
	}
}

// direction is the state of one direction of a Conn's messages, reused
// from batch to batch so that a batch allocates nothing.
type direction struct {
	result Result
	lists  [2][]Message
	acts   []messageAction
	outs   []output
	bufs   [][]byte
	nbuf   int
	call   call
}

// messageAction is what a filter did with one message of its batch.
type messageAction struct {
	drop     bool
	replaced bool
	msg      Message
}

// output is a message a filter sent with send.
type output struct {
	toClient bool
	typ      codec.MessageType
	payload  []byte
	after    int // index of the message it follows; -1 before all
}

// keepBufferSize bounds the buffers a direction keeps between batches,
// so that one large message does not stay allocated for the connection's
// life.
const keepBufferSize = 64 << 10

// buffer returns a reusable buffer holding a copy of p.
func (d *direction) buffer(p []byte) []byte {
	if d.nbuf == len(d.bufs) {
		d.bufs = append(d.bufs, nil)
	}
	b := append(d.bufs[d.nbuf][:0], p...)
	d.bufs[d.nbuf] = b
	d.nbuf++
	return b
}

func (d *direction) reset() {
	for i := range d.nbuf {
		if cap(d.bufs[i]) > keepBufferSize {
			d.bufs[i] = nil
		}
	}
	d.nbuf = 0
	d.result = Result{Forward: d.result.Forward[:0], Back: d.result.Back[:0]}
}

// Messages runs a batch of messages of one direction through the chain:
// the messages one read of the source produced, in order. The payloads of
// in are only read. The Result and the payloads it holds are valid until
// the next call for the same direction.
func (c *Conn) Messages(fromUpstream bool, in []Message) *Result {
	d := &c.c2u
	if fromUpstream {
		d = &c.u2c
	}
	d.reset()
	res := &d.result
	if c.closed.Load() {
		return res
	}
	if lv := c.live; lv != nil && lv.seen.Load() != liveEpoch.Load() {
		if code, reason, closed := c.moveLive(); closed {
			res.Close, res.Code, res.Reason = true, code, reason
			return res
		}
	}
	n := len(c.filters)
	cur, list := in, -1
filters:
	for k := range n {
		i := k
		if fromUpstream {
			i = n - 1 - k
		}
		if len(cur) == 0 {
			break
		}
		for {
			b := c.binding(i)
			if b.failed.Load() {
				cur = nil
				if !res.Close {
					res.Close, res.Code, res.Reason = true, b.endCode, b.endReason
				}
				break filters
			}
			if b.skip.Load() || !b.plugin.info.Hooks.Messages {
				continue filters
			}
			next, nextList, closed, moved := c.runBatch(d, b, fromUpstream, cur, list)
			if moved {
				// The other direction moved the connection to a newer
				// version of the plugin meanwhile: the batch goes
				// through that one.
				continue
			}
			cur, list = next, nextList
			if closed && !res.Close {
				res.Close, res.Code, res.Reason = true, d.call.closeCode, d.call.closeReason
			}
			continue filters
		}
	}
	res.Forward = append(res.Forward, cur...)
	return res
}

// runBatch calls one filter's wasmgate_on_messages with cur, which is
// d.lists[list] (or the caller's input when list is -1), and returns the
// messages that go on to the next filter, in the other list. moved is
// set, and nothing done, when b was replaced by a live reload.
func (c *Conn) runBatch(d *direction, b *binding, fromUpstream bool, cur []Message, list int) (next []Message, nextList int, closed, moved bool) {
	s := b.slot
	s.mu.Lock()
	inst := s.inst
	if inst != b.inst || inst == nil || s.conns[b.id] != b {
		// The instance failed, or the binding moved, since the check in
		// Messages.
		s.unlock()
		if b.moved.Load() {
			return nil, list, false, true
		}
		if b.failed.Load() {
			cl := &d.call
			*cl = call{closeSet: true, closeCode: b.endCode, closeReason: b.endReason}
			return nil, list, true, false
		}
		return cur, list, false, false
	}
	if cap(d.acts) < len(cur) {
		d.acts = make([]messageAction, len(cur))
	}
	d.acts = d.acts[:len(cur)]
	clear(d.acts)
	d.outs = d.outs[:0]
	cl := &d.call
	*cl = call{hook: hookMessages, binding: b, batch: cur, acts: d.acts, dir: d, cursor: -1, fromUpstream: fromUpstream}
	var flags uint32
	if fromUpstream {
		flags = abi.DirUpstreamToClient
	}
	inst.stack[0], inst.stack[1], inst.stack[2] = uint64(b.id), uint64(flags), uint64(len(cur))
	err := inst.invoke(inst.onMessages, cl)
	if err == nil {
		if status := int32(inst.stack[0]); status != 0 {
			err = guestError(fmt.Errorf("%s returned %d", abi.ExportOnMessages, status))
		}
	}
	if err != nil {
		p := b.plugin
		s.fail(fmt.Errorf("%s: %w", abi.ExportOnMessages, err), b)
		s.unlock()
		if p.spec.FailOpen {
			return cur, list, false, false
		}
		cl.closeSet, cl.closeCode, cl.closeReason = true, closeInternalError, "filter "+p.spec.Name+" failed"
		return nil, list, true, false
	}
	s.unlock()

	// The messages that go on: each kept message, then what the filter
	// sent the same way while handling it.
	nextList = 0
	if list == 0 {
		nextList = 1
	}
	next = d.lists[nextList][:0]
	sameWayToClient := fromUpstream
	for _, o := range d.outs {
		if o.after < 0 && o.toClient == sameWayToClient {
			next = append(next, Message{Type: o.typ, Payload: o.payload})
		}
	}
	for i := range cur {
		if cl.closeSet && i > cl.cursor {
			break
		}
		a := &d.acts[i]
		switch {
		case a.drop:
		case a.replaced:
			next = append(next, a.msg)
		default:
			next = append(next, cur[i])
		}
		for _, o := range d.outs {
			if o.after == i && o.toClient == sameWayToClient {
				next = append(next, Message{Type: o.typ, Payload: o.payload})
			}
		}
	}
	for _, o := range d.outs {
		if o.toClient != sameWayToClient {
			d.result.Back = append(d.result.Back, Message{Type: o.typ, Payload: o.payload})
		}
	}
	d.lists[nextList] = next
	return next, nextList, cl.closeSet, false
}

// deferred is an action on a connection that a hook asked for, run after
// the instance's lock is released.
type deferred struct {
	conn     *Conn
	close    bool
	code     codec.StatusCode
	reason   string
	toClient bool
	typ      codec.MessageType
	payload  []byte
}

func (d deferred) run() {
	if d.conn.closed.Load() {
		return
	}
	if d.close {
		d.conn.peer.Close(d.code, d.reason)
		return
	}
	d.conn.peer.Send(d.toClient, d.typ, d.payload)
}
