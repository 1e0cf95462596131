package proxy

import (
	"errors"
	"net/http"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

// admission is a connection's place under the connection caps, taken at
// its handshake and given back when it ends.
type admission struct {
	route string
	ip    string
}

// ipKey counts the connections of one client IP on one route.
type ipKey struct {
	route, ip string
}

// admit takes a place for a connection of client ip on r under the
// proxy-wide cap, r's cap and the per-IP cap, or says which one is full:
// 503 for the first two, which the proxy as a whole cannot serve now, and
// 429 for the third, which this client alone exceeds. Retry-After asks
// clients to back off rather than retry at once.
func (p *Proxy) admit(g *generation, r *route, ip string) (*admission, *codec.RejectError) {
	name := r.cfg.Name
	p.mu.Lock()
	defer p.mu.Unlock()
	if limit := g.cfg.Limits.MaxConnections; limit > 0 && p.admitted >= limit {
		return nil, limitRejection(http.StatusServiceUnavailable, "too many connections")
	}
	if limit := r.cfg.Limits.MaxConnections; limit > 0 && p.routeAdmitted[name] >= limit {
		return nil, limitRejection(http.StatusServiceUnavailable, "too many connections on route "+name)
	}
	key := ipKey{name, ip}
	if limit := r.cfg.Limits.MaxConnectionsPerIP; limit > 0 && p.ipAdmitted[key] >= limit {
		return nil, limitRejection(http.StatusTooManyRequests, "too many connections from "+ip)
	}
	p.admitted++
	p.routeAdmitted[name]++
	p.ipAdmitted[key]++
	return &admission{route: name, ip: ip}, nil
}

func limitRejection(status int, body string) *codec.RejectError {
	return &codec.RejectError{Status: status, Header: http.Header{"Retry-After": {"1"}}, Body: body}
}

// dismiss gives back a place that admit took. a may be nil.
func (p *Proxy) dismiss(a *admission) {
	if a == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.admitted--
	if p.routeAdmitted[a.route]--; p.routeAdmitted[a.route] == 0 {
		delete(p.routeAdmitted, a.route)
	}
	key := ipKey{a.route, a.ip}
	if p.ipAdmitted[key]--; p.ipAdmitted[key] == 0 {
		delete(p.ipAdmitted, key)
	}
}

// errMessageRate ends the client's pump when it sends data messages
// faster than its route's max_message_rate allows.
var errMessageRate = errors.New("message rate exceeded")

// rateLimiter is a token bucket: rate tokens a second, at most burst of
// them; each data message from the client takes one. It is used by one
// pump only.
type rateLimiter struct {
	rate, burst, tokens float64
	last                time.Time
}

func newRateLimiter(rate float64, burst int) *rateLimiter {
	if rate <= 0 {
		return nil
	}
	return &rateLimiter{rate: rate, burst: float64(burst), tokens: float64(burst), last: time.Now()}
}

// allow takes a token for one message, and reports whether there was one.
// A nil limiter allows everything.
func (l *rateLimiter) allow() bool {
	if l == nil {
		return true
	}
	now := time.Now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	if l.tokens < 1 {
		return false
	}
	l.tokens--
	return true
}
