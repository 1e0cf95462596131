package proxy

import (
	"slices"
	"time"

	"github.com/wasmgate/wasmgate/proxy/config"
)

// ConnInfo describes one open proxied connection.
type ConnInfo struct {
	// ID numbers the connections in the order they were accepted.
	ID          uint64    `json:"id"`
	Client      string    `json:"client"`
	Listener    string    `json:"listener"`
	Route       string    `json:"route"`
	Upstream    string    `json:"upstream"`
	Server      string    `json:"server"`
	Path        string    `json:"path"`
	Subprotocol string    `json:"subprotocol"`
	Started     time.Time `json:"started"`
	AgeSeconds  float64   `json:"age_seconds"`
	// Generation is the configuration the connection was accepted under:
	// 1 at start, one more at each reload.
	Generation uint64 `json:"config_generation"`
	// What was relayed each way so far: data messages and their payload
	// bytes.
	ToUpstreamMessages uint64 `json:"to_upstream_messages"`
	ToUpstreamBytes    uint64 `json:"to_upstream_bytes"`
	ToClientMessages   uint64 `json:"to_client_messages"`
	ToClientBytes      uint64 `json:"to_client_bytes"`
}

// Connections returns how many proxied connections are open, and up to
// limit of them from offset, oldest first.
func (p *Proxy) Connections(offset, limit int) (total int, page []ConnInfo) {
	p.mu.Lock()
	all := make([]*session, 0, len(p.sessions))
	for s := range p.sessions {
		all = append(all, s)
	}
	p.mu.Unlock()
	slices.SortFunc(all, func(a, b *session) int {
		switch {
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	total = len(all)
	offset = min(max(offset, 0), total)
	end := min(offset+max(limit, 0), total)
	now := time.Now()
	page = make([]ConnInfo, 0, end-offset)
	for _, s := range all[offset:end] {
		page = append(page, ConnInfo{
			ID:                 s.id,
			Client:             s.clientAddr,
			Listener:           s.listener,
			Route:              s.route.cfg.Name,
			Upstream:           s.upstreamName,
			Server:             config.RedactURL(s.server),
			Path:               s.path,
			Subprotocol:        s.subprotocol,
			Started:            s.start,
			AgeSeconds:         now.Sub(s.start).Seconds(),
			Generation:         s.gen.id,
			ToUpstreamMessages: s.up.messages.Load(),
			ToUpstreamBytes:    s.up.bytes.Load(),
			ToClientMessages:   s.down.messages.Load(),
			ToClientBytes:      s.down.bytes.Load(),
		})
	}
	return total, page
}
