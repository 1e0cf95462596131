package proxy

import (
	"context"
	"log/slog"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/proxy/config"
)

// logAccess writes the access-log line of a session that ended.
func (p *Proxy) logAccess(s *session) {
	if p.accessLog == nil {
		return
	}
	e := &s.ended
	p.accessLog.LogAttrs(context.Background(), slog.LevelInfo, "access",
		slog.String("client", s.clientAddr),
		slog.String("listener", s.listener),
		slog.String("route", s.route.cfg.Name),
		slog.String("upstream", s.upstreamName),
		slog.String("server", config.RedactURL(s.server)),
		slog.String("path", s.path),
		slog.String("subprotocol", s.subprotocol),
		slog.Int("status", 101),
		slog.Duration("duration", time.Since(s.start)),
		slog.Uint64("to_upstream_messages", s.up.messages.Load()),
		slog.Uint64("to_upstream_bytes", s.up.bytes.Load()),
		slog.Uint64("to_client_messages", s.down.messages.Load()),
		slog.Uint64("to_client_bytes", s.down.bytes.Load()),
		slog.String("closed_by", e.closedBy()),
		slog.Int("code", int(e.code)),
		slog.String("reason", e.reason),
	)
}

// logRefused writes the access-log line of a handshake that was refused
// or failed.
func (p *Proxy) logRefused(listener, client, route string, req *codec.Request, outcome string, status int, err error) {
	if p.accessLog == nil {
		return
	}
	path := ""
	if req != nil {
		path = req.URI
	}
	p.accessLog.LogAttrs(context.Background(), slog.LevelInfo, "access",
		slog.String("client", client),
		slog.String("listener", listener),
		slog.String("route", route),
		slog.String("path", path),
		slog.Int("status", status),
		slog.String("outcome", outcome),
		slog.String("err", err.Error()),
	)
}
