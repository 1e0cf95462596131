package proxy

import (
	"fmt"
	"sync"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/plugins"
)

// pluginRequest is the handshake as the filters see it.
func (p *Proxy) pluginRequest(g *generation, req *codec.Request, r *route) *plugins.Request {
	return &plugins.Request{
		Method:     "GET",
		URI:        req.URI,
		Path:       req.Path,
		Query:      req.RawQuery,
		Host:       req.Host,
		RemoteAddr: req.RemoteAddr.String(),
		Protocols:  req.Protocols,
		Header:     req.Header,
		Route:      r.cfg.Name,
		TLS:        req.TLS != nil,
		HasUpstream: func(name string) bool {
			_, ok := g.upstreams[name]
			return ok
		},
	}
}

// filterPeer is the session's side of its filters: what they do outside
// the flow of messages (timers, other connections, plugin faults). It
// exists before the session's legs do, since filters run on the handshake;
// what they ask for before the session is ready is held until it is.
type filterPeer struct {
	s *session

	mu           sync.Mutex
	ready        bool
	closePending bool
	closeCode    codec.StatusCode
	closeReason  string
}

// Send writes a message a filter injected.
func (fp *filterPeer) Send(toClient bool, typ codec.MessageType, payload []byte) {
	fp.mu.Lock()
	ready := fp.ready
	fp.mu.Unlock()
	s := fp.s
	if !ready || s.closing.Load() {
		return
	}
	leg := s.upstream
	if toClient {
		leg = s.client
	}
	if err := leg.WriteMessage(typ, payload); err != nil {
		s.logDebug("filter message not sent", "to", side(toClient), "err", err)
	}
}

// Close closes the session as a filter asked.
func (fp *filterPeer) Close(code codec.StatusCode, reason string) {
	fp.mu.Lock()
	if !fp.ready {
		if !fp.closePending {
			fp.closePending, fp.closeCode, fp.closeReason = true, code, reason
		}
		fp.mu.Unlock()
		return
	}
	fp.mu.Unlock()
	go fp.s.closeBoth(code, reason, closeEnd{by: closedByFilter, code: code, reason: reason})
}

// start marks the session ready and runs a close asked for before.
func (fp *filterPeer) start() {
	fp.mu.Lock()
	fp.ready = true
	pending, code, reason := fp.closePending, fp.closeCode, fp.closeReason
	fp.mu.Unlock()
	if pending {
		go fp.s.closeBoth(code, reason, closeEnd{by: closedByFilter, code: code, reason: reason})
	}
}

// filterCloseError ends a pump when a filter closed the connection.
type filterCloseError struct {
	code   codec.StatusCode
	reason string
}

func (e *filterCloseError) Error() string {
	return fmt.Sprintf("closed by a filter with %d %q", int(e.code), e.reason)
}

// Limits of one batch of messages handed to the filters.
const (
	maxBatchMessages = 64
	batchArenaSize   = 64 << 10
)

// batchArenas hold copies of the messages of a batch but the last, since
// reading the next message may reuse the bytes of the previous one.
var batchArenas = sync.Pool{New: func() any {
	b := make([]byte, 0, batchArenaSize)
	return &b
}}

// relayFiltered relays whole messages from src to dst through the route's
// filters. Every message that one read of src produced goes to the filters
// in one batch; what they return is written to dst in one write, and what
// they send back is written to src.
func (s *session) relayFiltered(src, dst *codec.Conn, fromUpstream bool, stats *dirStats) error {
	latency, limiter := s.route.chainLatency[0], s.clientRate
	if fromUpstream {
		latency, limiter = s.route.chainLatency[1], nil
	}
	batch := make([]plugins.Message, 0, 8)
	for {
		typ, payload, err := nextMessage(src, dst, limiter)
		if err != nil {
			return err
		}
		batch = append(batch[:0], plugins.Message{Type: typ, Payload: payload})
		var arena *[]byte
		var readErr error
		for len(batch) < maxBatchMessages && src.BufferedMessage() {
			last := &batch[len(batch)-1]
			if arena == nil {
				arena = batchArenas.Get().(*[]byte)
				*arena = (*arena)[:0]
			}
			a := *arena
			if len(a)+len(last.Payload) > cap(a) {
				break
			}
			start := len(a)
			a = append(a, last.Payload...)
			last.Payload = a[start:len(a):len(a)]
			*arena = a
			typ, payload, readErr = src.ReadMessage()
			if readErr == nil && !limiter.allow() {
				readErr = errMessageRate // this one is not relayed
			}
			if readErr != nil {
				break
			}
			batch = append(batch, plugins.Message{Type: typ, Payload: payload})
		}
		var bytes uint64
		for i := range batch {
			bytes += uint64(len(batch[i].Payload))
		}
		stats.add(uint64(len(batch)), bytes)
		start := time.Now()
		res := s.filters.Messages(fromUpstream, batch)
		latency.Observe(time.Since(start).Seconds())
		werr := s.writeFiltered(res, src, dst)
		if arena != nil {
			batchArenas.Put(arena)
		}
		switch {
		case werr != nil:
			return werr
		case res.Close:
			return &filterCloseError{code: res.Code, reason: res.Reason}
		case readErr != nil:
			dst.Flush() //nolint:errcheck // a broken dst shows on the close
			return readErr
		}
	}
}

// writeFiltered writes what the filters made of a batch.
func (s *session) writeFiltered(res *plugins.Result, src, dst *codec.Conn) error {
	deflate := compresses(dst)
	for _, m := range res.Forward {
		var err error
		if deflate {
			err = dst.WriteMessage(m.Type, m.Payload) // only whole messages are compressed
		} else {
			err = dst.BufferFrame(true, codec.Opcode(m.Type), m.Payload)
		}
		if err != nil {
			return &writeError{err}
		}
	}
	if res.Close || !src.Buffered() {
		if err := dst.Flush(); err != nil {
			return &writeError{err}
		}
	}
	for _, m := range res.Back {
		if err := src.WriteMessage(m.Type, m.Payload); err != nil {
			// src's own read reports what broke it.
			s.logDebug("filter reply not sent", "err", err)
			break
		}
	}
	return nil
}

// closeEnd is how a session ended, for the filters' on_close, the access
// log and the metrics.
type closeEnd struct {
	byUpstream, abnormal bool
	// by is who ended the session when it was not a peer: closedByProxy
	// or closedByFilter; "" when byUpstream says which peer.
	by     string
	code   codec.StatusCode
	reason string
}

// Who closed a session, as the access log and the metrics say it.
const (
	closedByClient   = "client"
	closedByUpstream = "upstream"
	closedByProxy    = "proxy"
	closedByFilter   = "filter"
)

// closedBy says who ended the session.
func (e *closeEnd) closedBy() string {
	switch {
	case e.by != "":
		return e.by
	case e.byUpstream:
		return closedByUpstream
	}
	return closedByClient
}

// recordEnd keeps the first account of how the session ended.
func (s *session) recordEnd(e closeEnd) {
	s.endOnce.Do(func() { s.ended = e })
}

// closeFilters tells the filters that the session ended.
func (s *session) closeFilters() {
	if s.filters == nil {
		return
	}
	s.endOnce.Do(func() {})
	e := s.ended
	s.filters.Close(plugins.CloseInfo{ByUpstream: e.byUpstream, Abnormal: e.abnormal, Code: e.code, Reason: e.reason})
}
