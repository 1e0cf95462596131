package plugins

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// MetricKind is the kind of a plugin metric. Its values are the ABI's
// METRIC_COUNTER and METRIC_GAUGE.
type MetricKind int

// Metric kinds.
const (
	// Counter only goes up (Add with a delta >= 0); it stays at
	// math.MaxInt64 rather than wrap.
	Counter MetricKind = iota
	// Gauge goes up and down (Add with any delta, Set); it wraps like an
	// int64.
	Gauge
)

// String returns "counter" or "gauge", as in the Prometheus TYPE line.
func (k MetricKind) String() string {
	switch k {
	case Counter:
		return "counter"
	case Gauge:
		return "gauge"
	}
	return "MetricKind(" + strconv.Itoa(int(k)) + ")"
}

// Metric limits.
const (
	// MaxMetricNameLen is the longest metric name, in bytes.
	MaxMetricNameLen = 128
	// MaxMetricsPerPlugin is the number of metrics a plugin may define.
	MaxMetricsPerPlugin = 1024
)

// Errors of Metrics. Define wraps ErrMetricName, ErrMetricKind and
// ErrMetricLimit with details; Add and Set return them as they are.
var (
	// ErrMetricName: a name that is not [a-zA-Z_][a-zA-Z0-9_]* of at most
	// MaxMetricNameLen bytes, or a counter name that is exported under the
	// same name as another counter of the plugin ("x" and "x_total").
	ErrMetricName = errors.New("invalid metric name")
	// ErrMetricKind: a kind other than Counter and Gauge, a name the
	// plugin already defined with the other kind, or Set on a counter.
	ErrMetricKind = errors.New("wrong metric kind")
	// ErrMetricLimit: the plugin already has MaxMetricsPerPlugin metrics.
	ErrMetricLimit = errors.New("too many metrics")
	// ErrMetricNegative: Add of a negative delta to a counter.
	ErrMetricNegative = errors.New("negative delta for a counter")
	// ErrMetricID: an id that no metric of the plugin has.
	ErrMetricID = errors.New("unknown metric id")
)

// metric is one plugin's metric. Its 64 bytes are a size class of the
// allocator whose objects are 64-byte aligned, so each metric, hence each
// hot value, has a cache line to itself.
type metric struct {
	value  atomic.Int64
	plugin string
	name   string
	kind   MetricKind
	_      [16]byte
}

type metricKey struct {
	plugin, name string
}

// Metrics is the registry of plugin-defined metrics (ABI metric_define,
// metric_add and metric_set). Every metric carries the plugin's name as a
// label. Ids are global: id i is the i-th metric defined, whichever plugin
// defined it; Add and Set check that the id is the caller's.
//
// Metrics is safe for concurrent use. Define takes a lock; the hot path,
// Add and Set by id, is lock-free and allocation-free, and Snapshot and
// WritePrometheus never block it.
type Metrics struct {
	// all is the metrics by id. Define appends under mu and publishes the
	// new slice header; readers load it and only index below its length,
	// so an append into spare capacity never touches what they read.
	all atomic.Pointer[[]*metric]

	mu        sync.Mutex
	byName    map[metricKey]int32
	perPlugin map[string]int
}

// NewMetrics returns an empty registry.
func NewMetrics() *Metrics {
	m := &Metrics{
		byName:    make(map[metricKey]int32),
		perPlugin: make(map[string]int),
	}
	m.all.Store(new([]*metric))
	return m
}

// Define returns the id of plugin's metric name of kind, creating it;
// defining the same (plugin, name, kind) again returns the same id. The
// error wraps ErrMetricName for an invalid name, ErrMetricKind for an
// invalid kind or a name the plugin defined with the other kind, and
// ErrMetricLimit when the plugin has MaxMetricsPerPlugin metrics.
func (m *Metrics) Define(plugin, name string, kind MetricKind) (int32, error) {
	if kind != Counter && kind != Gauge {
		return -1, fmt.Errorf("%w: %d", ErrMetricKind, int(kind))
	}
	if !validMetricName(name) {
		return -1, fmt.Errorf("%w: %q", ErrMetricName, name)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	all := *m.all.Load()
	if id, ok := m.byName[metricKey{plugin, name}]; ok {
		if k := all[id].kind; k != kind {
			return -1, fmt.Errorf("%w: %s is a %s of plugin %q, not a %s", ErrMetricKind, name, k, plugin, kind)
		}
		return id, nil
	}
	if kind == Counter {
		// "x" and "x_total" are both exported as the counter x_total.
		alt, ok := strings.CutSuffix(name, "_total")
		if !ok {
			alt = name + "_total"
		}
		if id, ok := m.byName[metricKey{plugin, alt}]; ok && all[id].kind == Counter {
			return -1, fmt.Errorf("%w: counter %s of plugin %q would be exported as counter %s is", ErrMetricName, name, plugin, alt)
		}
	}
	if m.perPlugin[plugin] >= MaxMetricsPerPlugin {
		return -1, fmt.Errorf("%w: plugin %q has %d", ErrMetricLimit, plugin, MaxMetricsPerPlugin)
	}
	if len(all) >= math.MaxInt32 {
		return -1, fmt.Errorf("%w: %d in all", ErrMetricLimit, len(all))
	}
	id := int32(len(all))
	all = append(all, &metric{plugin: plugin, name: name, kind: kind})
	m.all.Store(&all)
	m.byName[metricKey{plugin, name}] = id
	m.perPlugin[plugin]++
	return id, nil
}

// validMetricName reports whether name matches [a-zA-Z_][a-zA-Z0-9_]* and
// has at most MaxMetricNameLen bytes.
func validMetricName(name string) bool {
	if name == "" || len(name) > MaxMetricNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// get returns plugin's metric id, or nil.
func (m *Metrics) get(plugin string, id int32) *metric {
	all := *m.all.Load()
	if uint32(id) >= uint32(len(all)) {
		return nil
	}
	mt := all[id]
	if mt.plugin != plugin {
		return nil
	}
	return mt
}

// Add adds delta to plugin's metric id: a counter takes a delta >= 0
// (else ErrMetricNegative) and stays at math.MaxInt64 rather than wrap; a
// gauge takes any delta. ErrMetricID when id is not one of plugin's.
func (m *Metrics) Add(plugin string, id int32, delta int64) error {
	mt := m.get(plugin, id)
	if mt == nil {
		return ErrMetricID
	}
	if mt.kind == Gauge {
		mt.value.Add(delta)
		return nil
	}
	if delta < 0 {
		return ErrMetricNegative
	}
	// A counter never holds a negative value but when a sum wrapped:
	// that pins it to the maximum (and readers see a negative counter as
	// the maximum meanwhile).
	if mt.value.Add(delta) < 0 {
		mt.value.Store(math.MaxInt64)
	}
	return nil
}

// Set sets plugin's gauge id to v. ErrMetricKind for a counter,
// ErrMetricID when id is not one of plugin's.
func (m *Metrics) Set(plugin string, id int32, v int64) error {
	mt := m.get(plugin, id)
	if mt == nil {
		return ErrMetricID
	}
	if mt.kind != Gauge {
		return ErrMetricKind
	}
	mt.value.Store(v)
	return nil
}

// load returns the value of mt.
func (mt *metric) load() int64 {
	v := mt.value.Load()
	if v < 0 && mt.kind == Counter {
		return math.MaxInt64
	}
	return v
}

// MetricSample is the value of one metric at one time.
type MetricSample struct {
	Plugin, Name string
	Kind         MetricKind
	Value        int64
}

// Snapshot returns the value of every metric, sorted by plugin, then
// name. Values are read one by one, not at a single instant.
func (m *Metrics) Snapshot() []MetricSample {
	all := *m.all.Load()
	s := make([]MetricSample, len(all))
	for i, mt := range all {
		s[i] = MetricSample{Plugin: mt.plugin, Name: mt.name, Kind: mt.kind, Value: mt.load()}
	}
	slices.SortFunc(s, func(a, b MetricSample) int {
		if c := strings.Compare(a.Plugin, b.Plugin); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return s
}

// metricPrefix starts the exported name of every plugin metric.
const metricPrefix = "wasmgate_plugin_"

// MetricFamily is the samples of every plugin under one exported metric
// name, as WritePrometheus writes them.
type MetricFamily struct {
	// Name is the exported name: wasmgate_plugin_<name>, renamed as
	// WritePrometheus says.
	Name string
	Kind MetricKind
	// Samples are sorted by plugin; their Name is the name the plugin
	// defined.
	Samples []MetricSample
}

// Families returns every metric grouped by exported name, sorted by name.
// A metric name of a plugin is exported as wasmgate_plugin_<name>, with
// the suffix _total for a counter whose name does not end in _total, and
// the label plugin. The samples of all plugins under one exported name
// form one family, sorted by plugin.
//
// When plugins define a name with different kinds, counters keep the
// name and the gauges are exported as wasmgate_plugin_<name>_gauge: a
// gauge is renamed, with the suffix _gauge as many times as needed, when
// its name is that of a counter family, with or without _total, or that
// of a gauge of the same plugin already renamed to it.
func (m *Metrics) Families() []MetricFamily {
	all := *m.all.Load()
	families := make(map[string]*MetricFamily)
	plugins := make(map[metricKey]bool) // family name and plugin pairs
	place := func(name string, mt *metric) {
		f := families[name]
		if f == nil {
			f = &MetricFamily{Name: name, Kind: mt.kind}
			families[name] = f
		}
		f.Samples = append(f.Samples, MetricSample{Plugin: mt.plugin, Name: mt.name, Kind: mt.kind, Value: mt.load()})
		plugins[metricKey{mt.plugin, name}] = true
	}

	byName := slices.Clone(all)
	slices.SortFunc(byName, func(a, b *metric) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		return strings.Compare(a.plugin, b.plugin)
	})
	// Counters first: Define sees to it that they never clash.
	taken := make(map[string]bool) // names of counter families, with and without _total
	for _, mt := range byName {
		if mt.kind != Counter {
			continue
		}
		base := metricPrefix + strings.TrimSuffix(mt.name, "_total")
		taken[base] = true
		taken[base+"_total"] = true
		place(base+"_total", mt)
	}
	// Then gauges that keep their name, then those renamed.
	var renamed []*metric
	for _, mt := range byName {
		if mt.kind != Gauge {
			continue
		}
		name := metricPrefix + mt.name
		if taken[name] {
			renamed = append(renamed, mt)
			continue
		}
		place(name, mt)
	}
	for _, mt := range renamed {
		name := metricPrefix + mt.name
		for taken[name] || plugins[metricKey{mt.plugin, name}] {
			name += "_gauge"
		}
		place(name, mt)
	}

	out := make([]MetricFamily, 0, len(families))
	for _, f := range families {
		slices.SortFunc(f.Samples, func(a, b MetricSample) int {
			return strings.Compare(a.Plugin, b.Plugin)
		})
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b MetricFamily) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// WritePrometheus writes every metric to w in the Prometheus text
// exposition format 0.0.4: the families of Families, each with one TYPE
// line.
func (m *Metrics) WritePrometheus(w io.Writer) error {
	var b []byte
	for _, f := range m.Families() {
		b = append(b, "# TYPE "...)
		b = append(b, f.Name...)
		b = append(b, ' ')
		b = append(b, f.Kind.String()...)
		b = append(b, '\n')
		for _, s := range f.Samples {
			b = append(b, f.Name...)
			b = append(b, `{plugin="`...)
			b = appendLabelValue(b, s.Plugin)
			b = append(b, `"} `...)
			b = strconv.AppendInt(b, s.Value, 10)
			b = append(b, '\n')
		}
	}
	_, err := w.Write(b)
	return err
}

// appendLabelValue appends s escaped as a label value of the text format:
// backslash, double quote and line feed as \\, \" and \n.
func appendLabelValue(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b = append(b, `\\`...)
		case '"':
			b = append(b, `\"`...)
		case '\n':
			b = append(b, `\n`...)
		default:
			b = append(b, c)
		}
	}
	return b
}
