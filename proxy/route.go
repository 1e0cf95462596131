package proxy

import (
	"net"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/plugins"
	"github.com/wasmgate/wasmgate/proxy/config"
)

// route is a config.Route compiled for matching.
type route struct {
	cfg      *config.Route
	upstream *upstream
	origins  map[string]bool // nil: any origin
	chain    *plugins.Chain  // nil: no filters

	// clientDeflate and upstreamDeflate are the route's permessage-deflate
	// for the client's leg (the proxy accepts it) and the upstream's (the
	// proxy offers it); nil when the route does not compress.
	clientDeflate, upstreamDeflate *codec.Compression

	// chainLatency observes the time the filters take over a batch of
	// messages: [0] from the client, [1] from the upstream.
	chainLatency [2]prometheus.Observer
}

// matches reports whether req is for this route: host, path and headers
// must all match.
func (r *route) matches(req *codec.Request) bool {
	if h := r.cfg.Host; h != "" {
		host := strings.ToLower(hostOnly(req.Host))
		if suffix, ok := strings.CutPrefix(h, "*"); ok {
			if !strings.HasSuffix(host, suffix) || len(host) == len(suffix) {
				return false
			}
		} else if host != h {
			return false
		}
	}
	if r.cfg.ExactPath != "" {
		if req.Path != r.cfg.ExactPath {
			return false
		}
	} else if !strings.HasPrefix(req.Path, r.cfg.Path) {
		return false
	}
	for k, v := range r.cfg.Headers {
		if !slices.Contains(req.Header.Values(k), v) {
			return false
		}
	}
	return true
}

// originAllowed checks the Origin header against the allowlist.
func (r *route) originAllowed(req *codec.Request) bool {
	if r.origins == nil {
		return true
	}
	origin := req.Header.Get("Origin")
	return origin != "" && r.origins[strings.ToLower(origin)]
}

// legCompression turns a route's compression into the codec's settings
// for each leg. Without context takeover the proxy imposes it (client leg)
// or asks for it (upstream leg) in both directions: its compressors then
// come from a pool for each message, and an idle connection holds none.
func legCompression(c *config.Compression) (client, upstream *codec.Compression) {
	if c == nil {
		return nil, nil
	}
	threshold := int(c.Threshold)
	if threshold == 0 {
		threshold = -1 // the codec's 0 is its default
	}
	bits := c.WindowBits
	if bits == 15 {
		bits = 0 // not asked: the largest window
	}
	client = &codec.Compression{
		Threshold:               threshold,
		ServerNoContextTakeover: !c.ContextTakeover,
		ClientNoContextTakeover: !c.ContextTakeover,
		ClientMaxWindowBits:     bits,
	}
	upstream = &codec.Compression{
		Threshold:               threshold,
		ServerNoContextTakeover: !c.ContextTakeover,
		ClientNoContextTakeover: !c.ContextTakeover,
		ServerMaxWindowBits:     bits,
	}
	return client, upstream
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(hostport, "["), "]")
}

// compileRoutes builds the routes of one listener in declaration order.
func compileRoutes(cfg *config.Config, l *config.Listener, ups map[string]*upstream) []*route {
	var routes []*route
	for _, rc := range cfg.Routes {
		if rc.Listener != l {
			continue
		}
		r := &route{cfg: rc, upstream: ups[rc.Upstream.Name]}
		r.clientDeflate, r.upstreamDeflate = legCompression(rc.Compression)
		if len(rc.Origins) > 0 && !(len(rc.Origins) == 1 && rc.Origins[0] == "*") {
			r.origins = make(map[string]bool, len(rc.Origins))
			for _, o := range rc.Origins {
				r.origins[strings.ToLower(o)] = true
			}
		}
		routes = append(routes, r)
	}
	return routes
}
