package proxy

import (
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/wasmgate/wasmgate/plugins"
)

// metrics are the proxy's Prometheus metrics. Handshakes, dials, closes
// and reloads are counted as they happen: they cost little next to what
// they count. Messages and bytes are not: the pumps count them per
// connection, without contention, and a scrape adds them up (collect).
// Everything is kept by route, upstream and plugin name, so a reload
// continues the series of the names it keeps.
type metrics struct {
	p        *Proxy
	registry *prometheus.Registry

	handshakes *prometheus.CounterVec
	closes     *prometheus.CounterVec
	dials      *prometheus.HistogramVec
	chain      *prometheus.HistogramVec
	reloads    *prometheus.CounterVec
	reloadOK   prometheus.Gauge
	reloadTime prometheus.Gauge
	generation prometheus.Gauge

	mu       sync.Mutex
	routes   map[string]*routeStats
	counters map[string]*plugins.Counters // by plugin name

	descs collectorDescs
}

// routeStats are the counts of one route name that the pumps do not
// update: connections opened, and what the closed ones relayed. The open
// ones are added at scrape time.
type routeStats struct {
	name       string
	total      uint64 // guarded by Proxy.mu, as is closedUp and closedDown
	closedUp   [2]uint64
	closedDown [2]uint64
}

// closed adds what s relayed to the totals. Proxy.mu is held, so that a
// scrape never sees s both open and closed, or neither.
func (r *routeStats) closed(s *session) {
	r.closedUp[0] += s.up.messages.Load()
	r.closedUp[1] += s.up.bytes.Load()
	r.closedDown[0] += s.down.messages.Load()
	r.closedDown[1] += s.down.bytes.Load()
}

func newMetrics(p *Proxy) *metrics {
	m := &metrics{
		p:        p,
		registry: prometheus.NewRegistry(),
		routes:   map[string]*routeStats{},
		counters: map[string]*plugins.Counters{},
		handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmgate_handshakes_total",
			Help: "Client WebSocket handshakes by listener, route, outcome (accepted, rejected, upstream_failed, limited, bad_request, client_gone, tls_failed) and HTTP status answered (empty when none was).",
		}, []string{"listener", "route", "outcome", "status"}),
		closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmgate_closes_total",
			Help: "Proxied connections ended, by route, who ended them (client, upstream, proxy, filter) and close code (1006 when a peer vanished without a close frame; 3xxx and 4xxx for the application ranges).",
		}, []string{"route", "by", "code"}),
		dials: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wasmgate_upstream_dial_duration_seconds",
			Help:    "Time to open a WebSocket to an upstream server (TCP, TLS and the upgrade), by upstream and result (ok, error).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9),
		}, []string{"upstream", "result"}),
		chain: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "wasmgate_filter_chain_duration_seconds",
			Help:    "Time a batch of messages (those one read brought) spends in a route's filter chain, by route and direction.",
			Buckets: prometheus.ExponentialBuckets(0.000001, 4, 10),
		}, []string{"route", "direction"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wasmgate_config_reloads_total",
			Help: "Configuration reloads by result (success, failure).",
		}, []string{"result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wasmgate_config_last_reload_successful",
			Help: "1 when the last configuration reload succeeded (or none was tried), 0 when it failed.",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wasmgate_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration being served was loaded, in Unix seconds.",
		}),
		generation: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wasmgate_config_generation",
			Help: "The number of the configuration being served: 1 at start, one more at each successful reload.",
		}),
	}
	m.reloads.WithLabelValues("success")
	m.reloads.WithLabelValues("failure")
	m.reloadOK.Set(1)
	m.descs = newCollectorDescs()
	m.registry.MustRegister(m.handshakes, m.closes, m.dials, m.chain, m.reloads, m.reloadOK,
		m.reloadTime, m.generation, collector{m},
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// route returns the stats of a route name.
func (m *metrics) route(name string) *routeStats {
	m.mu.Lock()
	defer m.mu.Unlock()
	r := m.routes[name]
	if r == nil {
		r = &routeStats{name: name}
		m.routes[name] = r
	}
	return r
}

// pluginCounters returns the counters of a plugin name.
func (m *metrics) pluginCounters(name string) *plugins.Counters {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.counters[name]
	if c == nil {
		c = new(plugins.Counters)
		m.counters[name] = c
	}
	return c
}

func (m *metrics) handshake(listener, route, outcome string, status int) {
	s := ""
	if status != 0 {
		s = strconv.Itoa(status)
	}
	m.handshakes.WithLabelValues(listener, route, outcome, s).Inc()
}

// closed counts a session that ended.
func (m *metrics) closed(s *session) {
	m.closes.WithLabelValues(s.route.cfg.Name, s.ended.closedBy(), closeCodeLabel(int(s.ended.code))).Inc()
}

// closeCodeLabel is the code label of wasmgate_closes_total: the code
// itself for the codes RFC 6455 and IANA define below 3000, "3xxx" and
// "4xxx" for the registered and private ranges, which any peer can fill
// with a thousand values each: a series per value would let one client
// bloat every scrape.
func closeCodeLabel(code int) string {
	switch {
	case code >= 3000 && code <= 3999:
		return "3xxx"
	case code >= 4000 && code <= 4999:
		return "4xxx"
	}
	return strconv.Itoa(code)
}

// dialTiming observes upstream dials.
type dialTiming struct {
	ok, failed prometheus.Observer
}

func (m *metrics) dialObserver(upstream string) dialTiming {
	return dialTiming{
		ok:     m.dials.WithLabelValues(upstream, "ok"),
		failed: m.dials.WithLabelValues(upstream, "error"),
	}
}

func (m *metrics) chainObservers(route string) [2]prometheus.Observer {
	return [2]prometheus.Observer{
		m.chain.WithLabelValues(route, "client_to_upstream"),
		m.chain.WithLabelValues(route, "upstream_to_client"),
	}
}

func (m *metrics) reloaded(ok bool) {
	if ok {
		m.reloads.WithLabelValues("success").Inc()
		m.reloadOK.Set(1)
		return
	}
	m.reloads.WithLabelValues("failure").Inc()
	m.reloadOK.Set(0)
}

// loaded records that g is now served.
func (m *metrics) loaded(g *generation) {
	m.reloadTime.Set(float64(time.Now().UnixNano()) / 1e9)
	m.generation.Set(float64(g.id))
}

// collectorDescs describe what collector makes at scrape time.
type collectorDescs struct {
	open, total, messages, bytes              *prometheus.Desc
	calls, faults, restarts, instances, bound *prometheus.Desc
	loadSeconds, kvKeys, kvBytes              *prometheus.Desc
	hooks                                     []string
	faultCauses                               []string
}

func newCollectorDescs() collectorDescs {
	return collectorDescs{
		open: prometheus.NewDesc("wasmgate_connections_open",
			"Proxied connections open now, by route.", []string{"route"}, nil),
		total: prometheus.NewDesc("wasmgate_connections_total",
			"Proxied connections opened (handshake accepted), by route.", []string{"route"}, nil),
		messages: prometheus.NewDesc("wasmgate_messages_total",
			"Data messages relayed, by route and direction, as read from the source.", []string{"route", "direction"}, nil),
		bytes: prometheus.NewDesc("wasmgate_message_bytes_total",
			"Payload bytes of the data messages relayed, by route and direction, as read from the source.", []string{"route", "direction"}, nil),
		calls: prometheus.NewDesc("wasmgate_wasm_calls_total",
			"Calls into a plugin's Wasm hooks, by plugin and hook.", []string{"plugin", "hook"}, nil),
		faults: prometheus.NewDesc("wasmgate_wasm_faults_total",
			"Failed calls into a plugin, by plugin and cause: trap, timeout (the call overran its deadline), error (a bad return status or an exit). Each discards the instance.", []string{"plugin", "cause"}, nil),
		restarts: prometheus.NewDesc("wasmgate_wasm_instance_restarts_total",
			"Plugin instances replaced after a fault, by plugin and result (ok, failed).", []string{"plugin", "result"}, nil),
		instances: prometheus.NewDesc("wasmgate_wasm_instances",
			"Healthy instances of a plugin of the configuration being served.", []string{"plugin"}, nil),
		bound: prometheus.NewDesc("wasmgate_wasm_connections",
			"Connections pinned to a plugin's instances, of every configuration still serving.", []string{"plugin"}, nil),
		loadSeconds: prometheus.NewDesc("wasmgate_wasm_load_seconds",
			"Time the configuration being served took to load a plugin, by phase: compile (fast from the compilation cache) and start (its instances).", []string{"plugin", "phase"}, nil),
		kvKeys: prometheus.NewDesc("wasmgate_kv_keys",
			"Keys held by the plugins' shared key-value store, expired keys not yet swept included.", nil, nil),
		kvBytes: prometheus.NewDesc("wasmgate_kv_bytes",
			"Bytes of the keys and values held by the plugins' shared key-value store.", nil, nil),
		hooks:       []string{"start", "open", "messages", "close", "tick"},
		faultCauses: []string{"trap", "timeout", "error"},
	}
}

// collector makes the metrics that are read at scrape time. It is
// unchecked (Describe sends nothing): the plugins define their metrics
// while the proxy runs.
type collector struct{ m *metrics }

func (c collector) Describe(chan<- *prometheus.Desc) {}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	c.collectRoutes(ch)
	c.collectPlugins(ch)
}

// liveRoute is what the open connections of one route relayed so far.
type liveRoute struct {
	open       int
	total      uint64
	up, down   [2]uint64
	closedUp   [2]uint64
	closedDown [2]uint64
}

func (c collector) collectRoutes(ch chan<- prometheus.Metric) {
	m, p := c.m, c.m.p
	m.mu.Lock()
	stats := make([]*routeStats, 0, len(m.routes))
	for _, r := range m.routes {
		stats = append(stats, r)
	}
	m.mu.Unlock()
	live := make(map[*routeStats]*liveRoute, len(stats))
	for _, r := range stats {
		live[r] = &liveRoute{}
	}
	p.mu.Lock()
	for s := range p.sessions {
		l := live[s.stats]
		if l == nil { // a route first used since the list was taken
			continue
		}
		l.open++
		l.up[0] += s.up.messages.Load()
		l.up[1] += s.up.bytes.Load()
		l.down[0] += s.down.messages.Load()
		l.down[1] += s.down.bytes.Load()
	}
	for r, l := range live {
		l.total, l.closedUp, l.closedDown = r.total, r.closedUp, r.closedDown
	}
	p.mu.Unlock()
	d := &m.descs
	for r, l := range live {
		ch <- prometheus.MustNewConstMetric(d.open, prometheus.GaugeValue, float64(l.open), r.name)
		ch <- prometheus.MustNewConstMetric(d.total, prometheus.CounterValue, float64(l.total), r.name)
		ch <- prometheus.MustNewConstMetric(d.messages, prometheus.CounterValue, float64(l.closedUp[0]+l.up[0]), r.name, "client_to_upstream")
		ch <- prometheus.MustNewConstMetric(d.messages, prometheus.CounterValue, float64(l.closedDown[0]+l.down[0]), r.name, "upstream_to_client")
		ch <- prometheus.MustNewConstMetric(d.bytes, prometheus.CounterValue, float64(l.closedUp[1]+l.up[1]), r.name, "client_to_upstream")
		ch <- prometheus.MustNewConstMetric(d.bytes, prometheus.CounterValue, float64(l.closedDown[1]+l.down[1]), r.name, "upstream_to_client")
	}
}

func (c collector) collectPlugins(ch chan<- prometheus.Metric) {
	m, p := c.m, c.m.p
	d := &m.descs
	m.mu.Lock()
	counters := make(map[string]*plugins.Counters, len(m.counters))
	for name, cs := range m.counters {
		counters[name] = cs
	}
	m.mu.Unlock()
	for name, cs := range counters {
		v := cs.Snapshot()
		calls := []uint64{v.Start, v.Open, v.Messages, v.Close, v.Tick}
		for i, hook := range d.hooks {
			ch <- prometheus.MustNewConstMetric(d.calls, prometheus.CounterValue, float64(calls[i]), name, hook)
		}
		faults := []uint64{v.Traps, v.Timeouts, v.Errors}
		for i, cause := range d.faultCauses {
			ch <- prometheus.MustNewConstMetric(d.faults, prometheus.CounterValue, float64(faults[i]), name, cause)
		}
		ch <- prometheus.MustNewConstMetric(d.restarts, prometheus.CounterValue, float64(v.Restarts), name, "ok")
		ch <- prometheus.MustNewConstMetric(d.restarts, prometheus.CounterValue, float64(v.RestartFailures), name, "failed")
	}

	bound := map[string]int{}
	for _, g := range p.liveGens() {
		for name, pl := range g.plugins {
			bound[name] += pl.Connections()
		}
	}
	for name, n := range bound {
		ch <- prometheus.MustNewConstMetric(d.bound, prometheus.GaugeValue, float64(n), name)
	}
	for name, pl := range p.gen.Load().plugins {
		ch <- prometheus.MustNewConstMetric(d.instances, prometheus.GaugeValue, float64(pl.Instances()), name)
		compile, start := pl.LoadTimes()
		ch <- prometheus.MustNewConstMetric(d.loadSeconds, prometheus.GaugeValue, compile.Seconds(), name, "compile")
		ch <- prometheus.MustNewConstMetric(d.loadSeconds, prometheus.GaugeValue, start.Seconds(), name, "start")
	}
	if kv, ok := p.kv.(interface{ Len() int }); ok {
		ch <- prometheus.MustNewConstMetric(d.kvKeys, prometheus.GaugeValue, float64(kv.Len()))
	}
	if kv, ok := p.kv.(interface{ Bytes() int64 }); ok {
		ch <- prometheus.MustNewConstMetric(d.kvBytes, prometheus.GaugeValue, float64(kv.Bytes()))
	}

	// The plugins' own metrics, named as Metrics.WritePrometheus names
	// them.
	for _, f := range p.pluginMetrics.Families() {
		typ := prometheus.CounterValue
		if f.Kind == plugins.Gauge {
			typ = prometheus.GaugeValue
		}
		desc := prometheus.NewDesc(f.Name, "Defined by a plugin.", []string{"plugin"}, nil)
		for _, s := range f.Samples {
			ch <- prometheus.MustNewConstMetric(desc, typ, float64(s.Value), s.Plugin)
		}
	}
}
