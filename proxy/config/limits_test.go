package config

import (
	"math"
	"testing"
)

// limitsSource returns a configuration of one route "r" with the given
// lines in the top-level limits block and in the route's; nil for no
// block.
func limitsSource(global, route []string) string {
	block := func(indent string, attrs []string) []string {
		if attrs == nil {
			return nil
		}
		out := []string{indent + "limits {"}
		for _, a := range attrs {
			out = append(out, indent+"  "+a)
		}
		return append(out, indent+"}")
	}
	src := []string{okListener, okUpstream, `route "r" {`, `  upstream = "u"`}
	src = append(src, block("  ", route)...)
	src = append(src, `}`)
	src = append(src, block("", global)...)
	return lines(src...)
}

// TestParse_connectionAndRateLimits checks the defaults of the connection
// caps and the message rate, and how a route inherits or overrides each.
func TestParse_connectionAndRateLimits(t *testing.T) {
	derived := defaultMaxConnections()
	// caps are the limits under test, as the proxy gets them.
	type caps struct {
		conns, perIP int
		rate         float64
		burst        int
	}
	tests := []struct {
		name   string
		global []string // lines of the top-level limits block; nil for none
		route  []string // lines of the route's limits block; nil for none
		// wantGlobal is Config.Limits, wantRoute the route's Limits.
		wantGlobal, wantRoute caps
	}{
		{
			name:       "defaults",
			wantGlobal: caps{conns: derived},
		},
		{
			name:       "route block without these attributes",
			global:     []string{`idle_timeout = "2m"`},
			route:      []string{`idle_timeout = "1m"`},
			wantGlobal: caps{conns: derived},
		},

		// max_connections: the global value caps the whole proxy and is
		// not inherited.
		{
			name:       "global max_connections is not a route's",
			global:     []string{`max_connections = 500`},
			route:      []string{`idle_timeout = "1m"`},
			wantGlobal: caps{conns: 500},
		},
		{
			name:       "global max_connections without a route block",
			global:     []string{`max_connections = 500`},
			wantGlobal: caps{conns: 500},
		},
		{
			name:       "global max_connections 0 turns the cap off",
			global:     []string{`max_connections = 0`},
			wantGlobal: caps{},
		},
		{
			name:       "route max_connections is the route's own",
			route:      []string{`max_connections = 10`},
			wantGlobal: caps{conns: derived},
			wantRoute:  caps{conns: 10},
		},
		{
			name:       "route and global max_connections",
			global:     []string{`max_connections = 500`},
			route:      []string{`max_connections = 10`},
			wantGlobal: caps{conns: 500},
			wantRoute:  caps{conns: 10},
		},
		{
			name:       "a whole number written as a string",
			global:     []string{`max_connections = "500"`},
			wantGlobal: caps{conns: 500},
		},

		// max_connections_per_ip: inherited, overridden per route.
		{
			name:       "global max_connections_per_ip is inherited",
			global:     []string{`max_connections_per_ip = 20`},
			route:      []string{`idle_timeout = "1m"`},
			wantGlobal: caps{conns: derived, perIP: 20},
			wantRoute:  caps{perIP: 20},
		},
		{
			name:       "global max_connections_per_ip without a route block",
			global:     []string{`max_connections_per_ip = 20`},
			wantGlobal: caps{conns: derived, perIP: 20},
			wantRoute:  caps{perIP: 20},
		},
		{
			name:       "route max_connections_per_ip overrides",
			global:     []string{`max_connections_per_ip = 20`},
			route:      []string{`max_connections_per_ip = 5`},
			wantGlobal: caps{conns: derived, perIP: 20},
			wantRoute:  caps{perIP: 5},
		},
		{
			name:       "route max_connections_per_ip 0 lifts the global cap",
			global:     []string{`max_connections_per_ip = 20`},
			route:      []string{`max_connections_per_ip = 0`},
			wantGlobal: caps{conns: derived, perIP: 20},
		},
		{
			name:       "route max_connections_per_ip alone",
			route:      []string{`max_connections_per_ip = 3`},
			wantGlobal: caps{conns: derived},
			wantRoute:  caps{perIP: 3},
		},

		// max_message_rate and message_burst: inherited, overridden per
		// route; the burst defaults to one second's worth of the rate.
		{
			name:       "global rate is inherited with one second's burst",
			global:     []string{`max_message_rate = 50`},
			wantGlobal: caps{conns: derived, rate: 50, burst: 50},
			wantRoute:  caps{rate: 50, burst: 50},
		},
		{
			name:       "fractional rate rounds the burst up",
			global:     []string{`max_message_rate = 2.5`},
			wantGlobal: caps{conns: derived, rate: 2.5, burst: 3},
			wantRoute:  caps{rate: 2.5, burst: 3},
		},
		{
			name:       "rate below one message per second bursts one message",
			global:     []string{`max_message_rate = 0.5`},
			wantGlobal: caps{conns: derived, rate: 0.5, burst: 1},
			wantRoute:  caps{rate: 0.5, burst: 1},
		},
		{
			name:       "rate 0 is no limit",
			global:     []string{`max_message_rate = 0`},
			wantGlobal: caps{conns: derived},
		},
		{
			name:       "global rate and burst are inherited",
			global:     []string{`max_message_rate = 10`, `message_burst = 40`},
			route:      []string{`idle_timeout = "1m"`},
			wantGlobal: caps{conns: derived, rate: 10, burst: 40},
			wantRoute:  caps{rate: 10, burst: 40},
		},
		{
			name:       "a default global burst follows the route's rate",
			global:     []string{`max_message_rate = 10`},
			route:      []string{`max_message_rate = 100`},
			wantGlobal: caps{conns: derived, rate: 10, burst: 10},
			wantRoute:  caps{rate: 100, burst: 100},
		},
		{
			name:       "an explicit global burst is inherited with the route's rate",
			global:     []string{`max_message_rate = 10`, `message_burst = 40`},
			route:      []string{`max_message_rate = 100`},
			wantGlobal: caps{conns: derived, rate: 10, burst: 40},
			wantRoute:  caps{rate: 100, burst: 40},
		},
		{
			name:       "route burst with the inherited rate",
			global:     []string{`max_message_rate = 10`},
			route:      []string{`message_burst = 5`},
			wantGlobal: caps{conns: derived, rate: 10, burst: 10},
			wantRoute:  caps{rate: 10, burst: 5},
		},
		{
			name:       "route rate 0 lifts the global rate and its burst",
			global:     []string{`max_message_rate = 10`, `message_burst = 40`},
			route:      []string{`max_message_rate = 0`},
			wantGlobal: caps{conns: derived, rate: 10, burst: 40},
		},
		{
			name:       "route rate and burst alone",
			route:      []string{`max_message_rate = 1.5`, `message_burst = 2`},
			wantGlobal: caps{conns: derived},
			wantRoute:  caps{rate: 1.5, burst: 2},
		},
		{
			name:       "largest rate",
			global:     []string{`max_message_rate = 1000000000`},
			wantGlobal: caps{conns: derived, rate: 1e9, burst: 1e9},
			wantRoute:  caps{rate: 1e9, burst: 1e9},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := mustParse(t, limitsSource(tt.global, tt.route), "")
			capsOf := func(l Limits) caps {
				return caps{l.MaxConnections, l.MaxConnectionsPerIP, l.MaxMessageRate, l.MessageBurst}
			}
			if got := capsOf(cfg.Limits); got != tt.wantGlobal {
				t.Errorf("global = %+v, want %+v", got, tt.wantGlobal)
			}
			if got := capsOf(cfg.Routes[0].Limits); got != tt.wantRoute {
				t.Errorf("route = %+v, want %+v", got, tt.wantRoute)
			}
		})
	}
}

func TestConnectionsFor(t *testing.T) {
	tests := []struct {
		name   string
		nofile uint64
		want   int
	}{
		{name: "no descriptors", nofile: 0, want: 1},
		{name: "only the reserve", nofile: 64, want: 1},
		{name: "one connection's worth", nofile: 66, want: 1},
		{name: "odd limit rounds down", nofile: 69, want: 2},
		{name: "common soft limit", nofile: 1024, want: 480},
		{name: "raised limit", nofile: 1 << 20, want: (1<<20 - 64) / 2},
		{name: "unlimited", nofile: math.MaxUint64, want: int(min((math.MaxUint64-64)/2, uint64(math.MaxInt)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := connectionsFor(tt.nofile); got != tt.want {
				t.Errorf("connectionsFor(%d) = %d, want %d", tt.nofile, got, tt.want)
			}
		})
	}
}

// TestParse_directionSizes checks the message and frame sizes of each
// direction: their defaults, and the order in which a route takes them
// from its own block, the top-level block and the defaults.
func TestParse_directionSizes(t *testing.T) {
	const kib, mib = 1 << 10, 1 << 20
	// sizes are the limits under test, as the proxy gets them.
	type sizes struct {
		message, frame                 int64
		clientMessage, clientFrame     int64
		upstreamMessage, upstreamFrame int64
	}
	// all is the same size everywhere.
	all := func(n int64) sizes { return sizes{n, n, n, n, n, n} }
	tests := []struct {
		name   string
		global []string // lines of the top-level limits block; nil for none
		route  []string // lines of the route's limits block; nil for none
		// wantGlobal is Config.Limits, wantRoute the route's Limits.
		wantGlobal, wantRoute sizes
	}{
		{
			name:       "defaults",
			wantGlobal: all(16 * mib),
			wantRoute:  all(16 * mib),
		},
		{
			name:       "route block without these attributes",
			global:     []string{`idle_timeout = "2m"`},
			route:      []string{`idle_timeout = "1m"`},
			wantGlobal: all(16 * mib),
			wantRoute:  all(16 * mib),
		},
		{
			name:       "max_message_size sets both directions",
			global:     []string{`max_message_size = "1MiB"`},
			wantGlobal: all(mib),
			wantRoute:  all(mib),
		},
		{
			name:       "route direction size beside the inherited max_message_size",
			global:     []string{`max_message_size = "1MiB"`},
			route:      []string{`client_max_message_size = "4KiB"`},
			wantGlobal: all(mib),
			wantRoute:  sizes{mib, mib, 4 * kib, 4 * kib, mib, mib},
		},
		{
			name:       "global direction size is inherited with a route block",
			global:     []string{`client_max_message_size = "8KiB"`},
			route:      []string{`idle_timeout = "1m"`},
			wantGlobal: sizes{16 * mib, 16 * mib, 8 * kib, 8 * kib, 16 * mib, 16 * mib},
			wantRoute:  sizes{16 * mib, 16 * mib, 8 * kib, 8 * kib, 16 * mib, 16 * mib},
		},
		{
			name:       "global direction size is inherited without a route block",
			global:     []string{`upstream_max_message_size = "8KiB"`},
			wantGlobal: sizes{16 * mib, 16 * mib, 16 * mib, 16 * mib, 8 * kib, 8 * kib},
			wantRoute:  sizes{16 * mib, 16 * mib, 16 * mib, 16 * mib, 8 * kib, 8 * kib},
		},
		{
			name:       "route max_message_size wins over a global direction size",
			global:     []string{`client_max_message_size = "8KiB"`},
			route:      []string{`max_message_size = "2KiB"`},
			wantGlobal: sizes{16 * mib, 16 * mib, 8 * kib, 8 * kib, 16 * mib, 16 * mib},
			wantRoute:  all(2 * kib),
		},
		{
			name:       "route direction size wins over a global one",
			global:     []string{`client_max_message_size = "8KiB"`},
			route:      []string{`client_max_message_size = "1MiB"`},
			wantGlobal: sizes{16 * mib, 16 * mib, 8 * kib, 8 * kib, 16 * mib, 16 * mib},
			wantRoute:  sizes{16 * mib, 16 * mib, mib, mib, 16 * mib, 16 * mib},
		},
		{
			name:       "direction size wins over max_message_size in the same block",
			route:      []string{`max_message_size = "1MiB"`, `client_max_message_size = "64KiB"`},
			wantGlobal: all(16 * mib),
			wantRoute:  sizes{mib, mib, 64 * kib, 64 * kib, mib, mib},
		},
		{
			name:       "direction size larger than max_message_size",
			global:     []string{`max_message_size = "1MiB"`, `upstream_max_message_size = "32MiB"`},
			wantGlobal: sizes{mib, mib, mib, mib, 32 * mib, 32 * mib},
			wantRoute:  sizes{mib, mib, mib, mib, 32 * mib, 32 * mib},
		},
		{
			name:       "global max_frame_size bounds the frames of both directions",
			global:     []string{`max_frame_size = "64KiB"`, `upstream_max_message_size = "32MiB"`},
			wantGlobal: sizes{16 * mib, 64 * kib, 16 * mib, 64 * kib, 32 * mib, 64 * kib},
			wantRoute:  sizes{16 * mib, 64 * kib, 16 * mib, 64 * kib, 32 * mib, 64 * kib},
		},
		{
			name:       "global max_frame_size is lowered to a smaller route direction size",
			global:     []string{`max_frame_size = "1MiB"`},
			route:      []string{`client_max_message_size = "4KiB"`},
			wantGlobal: sizes{16 * mib, mib, 16 * mib, mib, 16 * mib, mib},
			wantRoute:  sizes{16 * mib, mib, 4 * kib, 4 * kib, 16 * mib, mib},
		},
		{
			name:       "global max_frame_size with a route's larger direction size",
			global:     []string{`max_frame_size = "1MiB"`, `client_max_message_size = "4KiB"`},
			route:      []string{`client_max_message_size = "8MiB"`},
			wantGlobal: sizes{16 * mib, mib, 4 * kib, 4 * kib, 16 * mib, mib},
			wantRoute:  sizes{16 * mib, mib, 8 * mib, mib, 16 * mib, mib},
		},
		{
			name:       "route max_message_size and direction size with a global max_frame_size",
			global:     []string{`max_frame_size = "1MiB"`},
			route:      []string{`max_message_size = "64KiB"`, `client_max_message_size = "4MiB"`},
			wantGlobal: sizes{16 * mib, mib, 16 * mib, mib, 16 * mib, mib},
			wantRoute:  sizes{64 * kib, 64 * kib, 4 * mib, mib, 64 * kib, 64 * kib},
		},
		{
			name:       "global direction frame size is inherited",
			global:     []string{`client_max_frame_size = "16KiB"`},
			route:      []string{`idle_timeout = "1m"`},
			wantGlobal: sizes{16 * mib, 16 * mib, 16 * mib, 16 * kib, 16 * mib, 16 * mib},
			wantRoute:  sizes{16 * mib, 16 * mib, 16 * mib, 16 * kib, 16 * mib, 16 * mib},
		},
		{
			name:       "global direction frame size is lowered to a smaller route message size",
			global:     []string{`upstream_max_frame_size = "1KiB"`},
			route:      []string{`upstream_max_message_size = "512B"`},
			wantGlobal: sizes{16 * mib, 16 * mib, 16 * mib, 16 * mib, 16 * mib, kib},
			wantRoute:  sizes{16 * mib, 16 * mib, 16 * mib, 16 * mib, 512, 512},
		},
		{
			name:       "global direction frame size wins over the global max_frame_size",
			global:     []string{`max_frame_size = "64KiB"`, `client_max_frame_size = "1MiB"`},
			route:      []string{`max_message_size = "4MiB"`},
			wantGlobal: sizes{16 * mib, 64 * kib, 16 * mib, mib, 16 * mib, 64 * kib},
			wantRoute:  sizes{4 * mib, 64 * kib, 4 * mib, mib, 4 * mib, 64 * kib},
		},
		{
			name:       "route max_frame_size wins over a global direction frame size",
			global:     []string{`client_max_frame_size = "16KiB"`},
			route:      []string{`max_frame_size = "64KiB"`},
			wantGlobal: sizes{16 * mib, 16 * mib, 16 * mib, 16 * kib, 16 * mib, 16 * mib},
			wantRoute:  sizes{16 * mib, 64 * kib, 16 * mib, 64 * kib, 16 * mib, 64 * kib},
		},
		{
			name:       "route direction frame size wins over everything",
			global:     []string{`max_frame_size = "64KiB"`, `upstream_max_frame_size = "32KiB"`},
			route:      []string{`max_frame_size = "16KiB"`, `upstream_max_frame_size = "1B"`},
			wantGlobal: sizes{16 * mib, 64 * kib, 16 * mib, 64 * kib, 16 * mib, 32 * kib},
			wantRoute:  sizes{16 * mib, 16 * kib, 16 * mib, 16 * kib, 16 * mib, 1},
		},
		{
			name:       "direction frame size above max_message_size but within its direction",
			global:     []string{`client_max_message_size = "64MiB"`, `client_max_frame_size = "32MiB"`},
			wantGlobal: sizes{16 * mib, 16 * mib, 64 * mib, 32 * mib, 16 * mib, 16 * mib},
			wantRoute:  sizes{16 * mib, 16 * mib, 64 * mib, 32 * mib, 16 * mib, 16 * mib},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := mustParse(t, limitsSource(tt.global, tt.route), "")
			sizesOf := func(l Limits) sizes {
				return sizes{l.MaxMessageSize, l.MaxFrameSize,
					l.ClientMaxMessageSize, l.ClientMaxFrameSize,
					l.UpstreamMaxMessageSize, l.UpstreamMaxFrameSize}
			}
			if got := sizesOf(cfg.Limits); got != tt.wantGlobal {
				t.Errorf("global = %+v, want %+v", got, tt.wantGlobal)
			}
			if got := sizesOf(cfg.Routes[0].Limits); got != tt.wantRoute {
				t.Errorf("route = %+v, want %+v", got, tt.wantRoute)
			}
		})
	}
}
