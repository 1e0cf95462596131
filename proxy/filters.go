package proxy

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/plugins"
	"github.com/wasmgate/wasmgate/proxy/config"
)

// loadPlugins loads every plugin a route uses and gives each route its
// chain of filters.
func (p *Proxy) loadPlugins() error {
	loaded := map[*config.Plugin]*plugins.Plugin{}
	for _, l := range p.listeners {
		for _, r := range l.routes {
			if len(r.cfg.Filters) == 0 {
				continue
			}
			chain := make([]*plugins.Plugin, 0, len(r.cfg.Filters))
			for _, pc := range r.cfg.Filters {
				pl, ok := loaded[pc]
				if !ok {
					var err error
					pl, err = p.host.Load(context.Background(), pluginSpec(pc))
					if err != nil {
						return fmt.Errorf("load plugin %q: %w", pc.Name, err)
					}
					p.log.Info("plugin loaded", "plugin", pc.Name, "instances", pc.Instances,
						"sandbox", pc.Sandbox.String(), "on_error", pc.OnError.String())
					loaded[pc] = pl
				}
				chain = append(chain, pl)
			}
			r.chain = plugins.NewChain(r.cfg.Limits.MaxMessageSize, chain...)
		}
	}
	return nil
}

func pluginSpec(pc *config.Plugin) plugins.Spec {
	return plugins.Spec{
		Name:        pc.Name,
		Wasm:        pc.Wasm,
		Config:      pc.Config,
		Instances:   pc.Instances,
		MemoryLimit: pc.MemoryLimit,
		Timeout:     pc.Timeout,
		FailOpen:    pc.OnError == config.OnErrorPass,
		Plain:       pc.Sandbox == config.SandboxPlain,
		KVNamespace: pc.KVNamespace,
		CacheDir:    pc.CacheDir,
	}
}

// pluginRequest is the handshake as the filters see it.
func (p *Proxy) pluginRequest(req *codec.Request, r *route) *plugins.Request {
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
			_, ok := p.upstreams[name]
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
	go fp.s.closeBoth(code, reason, closeEnd{code: code, reason: reason})
}

// start marks the session ready and runs a close asked for before.
func (fp *filterPeer) start() {
	fp.mu.Lock()
	fp.ready = true
	pending, code, reason := fp.closePending, fp.closeCode, fp.closeReason
	fp.mu.Unlock()
	if pending {
		go fp.s.closeBoth(code, reason, closeEnd{code: code, reason: reason})
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
func (s *session) relayFiltered(src, dst *codec.Conn, fromUpstream bool, messages *atomic.Uint64) error {
	batch := make([]plugins.Message, 0, 8)
	for {
		typ, payload, err := src.ReadMessage()
		if err != nil {
			if ferr := dst.Flush(); ferr != nil && err == codec.ErrIdle {
				return &writeError{ferr}
			}
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
			if readErr != nil {
				break
			}
			batch = append(batch, plugins.Message{Type: typ, Payload: payload})
		}
		messages.Add(uint64(len(batch)))
		res := s.filters.Messages(fromUpstream, batch)
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
	for _, m := range res.Forward {
		if err := dst.BufferFrame(true, codec.Opcode(m.Type), m.Payload); err != nil {
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

// closeEnd is how a session ended, for the filters' on_close.
type closeEnd struct {
	byUpstream, abnormal bool
	code                 codec.StatusCode
	reason               string
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
