package plugins

import (
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestMetricKindString(t *testing.T) {
	for k, want := range map[MetricKind]string{Counter: "counter", Gauge: "gauge", 7: "MetricKind(7)"} {
		if got := k.String(); got != want {
			t.Errorf("MetricKind(%d).String() = %q; want %q", int(k), got, want)
		}
	}
}

func TestMetricsDefine(t *testing.T) {
	long := strings.Repeat("a", MaxMetricNameLen)
	steps := []struct {
		plugin, name string
		kind         MetricKind
		id           int32 // expected id, when err is nil
		err          error
	}{
		{"a", "requests", Counter, 0, nil},
		{"a", "requests", Counter, 0, nil},
		{"a", "requests", Gauge, 0, ErrMetricKind},
		{"a", "sessions", Gauge, 1, nil},
		{"a", "sessions", Counter, 0, ErrMetricKind},
		{"a", "sessions", Gauge, 1, nil},
		{"b", "requests", Gauge, 2, nil},
		{"b", "requests", Gauge, 2, nil},
		{"a", "requests", Counter, 0, nil},
		// Names.
		{"a", "_", Counter, 3, nil},
		{"a", "A9_z", Gauge, 4, nil},
		{"a", long, Gauge, 5, nil},
		{"a", long + "a", Gauge, 0, ErrMetricName},
		{"a", "", Counter, 0, ErrMetricName},
		{"a", "9lives", Counter, 0, ErrMetricName},
		{"a", "a-b", Counter, 0, ErrMetricName},
		{"a", "a b", Counter, 0, ErrMetricName},
		{"a", "a.b", Counter, 0, ErrMetricName},
		{"a", "a:b", Counter, 0, ErrMetricName},
		{"a", "café", Counter, 0, ErrMetricName},
		{"a", "a\x00", Counter, 0, ErrMetricName},
		// Kinds.
		{"a", "k", MetricKind(2), 0, ErrMetricKind},
		{"a", "k", MetricKind(-1), 0, ErrMetricKind},
		// Counters exported under one name within a plugin.
		{"a", "requests_total", Counter, 0, ErrMetricName},
		{"a", "bytes_total", Counter, 6, nil},
		{"a", "bytes", Counter, 0, ErrMetricName},
		{"b", "requests_total", Counter, 7, nil},
		{"b", "bytes", Counter, 8, nil},
		{"a", "requests_total", Gauge, 9, nil},
		{"a", "requests_total", Counter, 0, ErrMetricKind},
	}
	m := NewMetrics()
	for i, s := range steps {
		id, err := m.Define(s.plugin, s.name, s.kind)
		if !errors.Is(err, s.err) || (err == nil && id != s.id) {
			t.Errorf("step %d: Define(%q, %q, %v) = %d, %v; want %d, %v", i, s.plugin, s.name, s.kind, id, err, s.id, s.err)
		}
		if err != nil && id != -1 {
			t.Errorf("step %d: Define(%q, %q, %v) = %d with an error; want -1", i, s.plugin, s.name, s.kind, id)
		}
	}
}

func TestMetricsDefineLimit(t *testing.T) {
	m := NewMetrics()
	for i := range MaxMetricsPerPlugin {
		if _, err := m.Define("p", fmt.Sprintf("m%d", i), Counter); err != nil {
			t.Fatalf("metric %d: %v", i, err)
		}
	}
	if _, err := m.Define("p", "one_more", Counter); !errors.Is(err, ErrMetricLimit) {
		t.Errorf("metric %d: %v; want %v", MaxMetricsPerPlugin+1, err, ErrMetricLimit)
	}
	if id, err := m.Define("p", "m7", Counter); err != nil || id != 7 {
		t.Errorf("defining m7 again: %d, %v; want 7, nil", id, err)
	}
	if id, err := m.Define("q", "m0", Gauge); err != nil || id != MaxMetricsPerPlugin {
		t.Errorf("another plugin: %d, %v; want %d, nil", id, err, MaxMetricsPerPlugin)
	}
}

func TestMetricsAddSet(t *testing.T) {
	m := NewMetrics()
	c, _ := m.Define("a", "c", Counter)
	g, _ := m.Define("a", "g", Gauge)
	other, _ := m.Define("b", "c", Counter)
	steps := []struct {
		op     string // add, set
		plugin string
		id     int32
		v      int64
		err    error
	}{
		{"add", "a", c, 5, nil},
		{"add", "a", c, 0, nil},
		{"add", "a", c, -1, ErrMetricNegative},
		{"set", "a", c, 1, ErrMetricKind},
		{"add", "a", g, 10, nil},
		{"add", "a", g, -15, nil},
		{"set", "a", g, 7, nil},
		{"add", "a", g, -10, nil},
		{"add", "b", other, 1, nil},
		{"add", "a", other, 1, ErrMetricID},
		{"add", "b", c, 1, ErrMetricID},
		{"set", "b", g, 1, ErrMetricID},
		{"add", "", c, 1, ErrMetricID},
		{"add", "a", -1, 1, ErrMetricID},
		{"add", "a", 3, 1, ErrMetricID},
		{"set", "a", math.MaxInt32, 1, ErrMetricID},
		{"set", "a", math.MinInt32, 1, ErrMetricID},
	}
	for i, s := range steps {
		var err error
		if s.op == "add" {
			err = m.Add(s.plugin, s.id, s.v)
		} else {
			err = m.Set(s.plugin, s.id, s.v)
		}
		if err != s.err {
			t.Errorf("step %d: %s(%q, %d, %d) = %v; want %v", i, s.op, s.plugin, s.id, s.v, err, s.err)
		}
	}
	want := []MetricSample{
		{Plugin: "a", Name: "c", Kind: Counter, Value: 5},
		{Plugin: "a", Name: "g", Kind: Gauge, Value: -3},
		{Plugin: "b", Name: "c", Kind: Counter, Value: 1},
	}
	if got := m.Snapshot(); !slices.Equal(got, want) {
		t.Errorf("Snapshot() = %+v; want %+v", got, want)
	}
}

func TestMetricsCounterSaturates(t *testing.T) {
	m := NewMetrics()
	c, _ := m.Define("p", "c", Counter)
	g, _ := m.Define("p", "g", Gauge)
	m.Add("p", c, math.MaxInt64-1)
	m.Add("p", c, 1)
	m.Add("p", c, 1)
	m.Add("p", c, math.MaxInt64)
	m.Add("p", c, 3)
	m.Set("p", g, math.MaxInt64)
	m.Add("p", g, 1)
	want := []MetricSample{
		{Plugin: "p", Name: "c", Kind: Counter, Value: math.MaxInt64},
		{Plugin: "p", Name: "g", Kind: Gauge, Value: math.MinInt64},
	}
	if got := m.Snapshot(); !slices.Equal(got, want) {
		t.Errorf("Snapshot() = %+v; want %+v", got, want)
	}
	// A wrapped value that is not yet pinned reads as the maximum.
	(*m.all.Load())[c].value.Store(-2)
	if got := m.Snapshot()[0].Value; got != math.MaxInt64 {
		t.Errorf("counter holding -2 reads %d; want MaxInt64", got)
	}
}

func TestMetricsSnapshotOrder(t *testing.T) {
	m := NewMetrics()
	defs := []struct {
		plugin, name string
		kind         MetricKind
	}{
		{"zeta", "a", Counter},
		{"alpha", "z", Gauge},
		{"alpha", "B", Counter},
		{"mid", "m", Gauge},
		{"alpha", "_a", Gauge},
		{"Zeta", "a", Counter},
	}
	for i, d := range defs {
		id, err := m.Define(d.plugin, d.name, d.kind)
		if err != nil {
			t.Fatal(err)
		}
		m.Add(d.plugin, id, int64(i))
	}
	want := []MetricSample{
		{"Zeta", "a", Counter, 5},
		{"alpha", "B", Counter, 2},
		{"alpha", "_a", Gauge, 4},
		{"alpha", "z", Gauge, 1},
		{"mid", "m", Gauge, 3},
		{"zeta", "a", Counter, 0},
	}
	if got := m.Snapshot(); !slices.Equal(got, want) {
		t.Errorf("Snapshot() =\n%+v\nwant\n%+v", got, want)
	}
	if got := NewMetrics().Snapshot(); len(got) != 0 {
		t.Errorf("empty registry: Snapshot() = %+v", got)
	}
}

func TestMetricsWritePrometheus(t *testing.T) {
	m := NewMetrics()
	defs := []struct {
		plugin, name string
		kind         MetricKind
		v            int64
	}{
		{"chat", "requests", Counter, 5},
		{"auth", "requests", Counter, 3},
		{"auth", "sessions", Gauge, 2},
		{"auth", "bytes_total", Counter, 10},
		{"auth", "big", Counter, math.MaxInt64},
		{"we\"ird\\\nname", "sessions", Gauge, -4},
		// Gauges under the names of counters.
		{"rate", "requests", Gauge, 7},
		{"x", "bytes_total", Gauge, 1},
		{"x", "requests", Gauge, 8},
		{"x", "requests_gauge", Gauge, 9},
		{"y", "requests_gauge", Gauge, 1},
	}
	for _, d := range defs {
		id, err := m.Define(d.plugin, d.name, d.kind)
		if err != nil {
			t.Fatal(err)
		}
		if d.kind == Gauge {
			m.Set(d.plugin, id, d.v)
		} else {
			m.Add(d.plugin, id, d.v)
		}
	}
	m.Add("auth", 4, 1) // big stays at the maximum
	const want = `# TYPE wasmgate_plugin_big_total counter
wasmgate_plugin_big_total{plugin="auth"} 9223372036854775807
# TYPE wasmgate_plugin_bytes_total counter
wasmgate_plugin_bytes_total{plugin="auth"} 10
# TYPE wasmgate_plugin_bytes_total_gauge gauge
wasmgate_plugin_bytes_total_gauge{plugin="x"} 1
# TYPE wasmgate_plugin_requests_gauge gauge
wasmgate_plugin_requests_gauge{plugin="rate"} 7
wasmgate_plugin_requests_gauge{plugin="x"} 9
wasmgate_plugin_requests_gauge{plugin="y"} 1
# TYPE wasmgate_plugin_requests_gauge_gauge gauge
wasmgate_plugin_requests_gauge_gauge{plugin="x"} 8
# TYPE wasmgate_plugin_requests_total counter
wasmgate_plugin_requests_total{plugin="auth"} 3
wasmgate_plugin_requests_total{plugin="chat"} 5
# TYPE wasmgate_plugin_sessions gauge
wasmgate_plugin_sessions{plugin="auth"} 2
wasmgate_plugin_sessions{plugin="we\"ird\\\nname"} -4
`
	var b strings.Builder
	if err := m.WritePrometheus(&b); err != nil {
		t.Fatal(err)
	}
	if got := b.String(); got != want {
		t.Errorf("WritePrometheus wrote\n%s\nwant\n%s", got, want)
	}

	// The kind order decides, not the order of definition.
	m2 := NewMetrics()
	g, _ := m2.Define("b", "hits", Gauge)
	c, _ := m2.Define("a", "hits", Counter)
	m2.Set("b", g, 1)
	m2.Add("a", c, 2)
	b.Reset()
	m2.WritePrometheus(&b)
	const want2 = `# TYPE wasmgate_plugin_hits_gauge gauge
wasmgate_plugin_hits_gauge{plugin="b"} 1
# TYPE wasmgate_plugin_hits_total counter
wasmgate_plugin_hits_total{plugin="a"} 2
`
	if got := b.String(); got != want2 {
		t.Errorf("WritePrometheus wrote\n%s\nwant\n%s", got, want2)
	}

	b.Reset()
	if err := NewMetrics().WritePrometheus(&b); err != nil || b.Len() != 0 {
		t.Errorf("empty registry: %q, %v", b.String(), err)
	}
}

// TestMetricsFamilies checks the families WritePrometheus writes, as
// values: exported names, kinds, and samples carrying each plugin's own
// name for the metric.
func TestMetricsFamilies(t *testing.T) {
	m := NewMetrics()
	for _, d := range []struct {
		plugin, name string
		kind         MetricKind
		v            int64
	}{
		{"b", "hits", Counter, 2},
		{"a", "hits_total", Counter, 1},
		{"c", "hits", Gauge, -3},
		{"a", "open", Gauge, 4},
	} {
		id, err := m.Define(d.plugin, d.name, d.kind)
		if err != nil {
			t.Fatal(err)
		}
		if d.kind == Gauge {
			m.Set(d.plugin, id, d.v)
		} else {
			m.Add(d.plugin, id, d.v)
		}
	}
	want := []MetricFamily{
		{Name: "wasmgate_plugin_hits_gauge", Kind: Gauge, Samples: []MetricSample{
			{Plugin: "c", Name: "hits", Kind: Gauge, Value: -3}}},
		{Name: "wasmgate_plugin_hits_total", Kind: Counter, Samples: []MetricSample{
			{Plugin: "a", Name: "hits_total", Kind: Counter, Value: 1},
			{Plugin: "b", Name: "hits", Kind: Counter, Value: 2}}},
		{Name: "wasmgate_plugin_open", Kind: Gauge, Samples: []MetricSample{
			{Plugin: "a", Name: "open", Kind: Gauge, Value: 4}}},
	}
	if got := m.Families(); !reflect.DeepEqual(got, want) {
		t.Errorf("Families() = %+v\nwant %+v", got, want)
	}
	if got := NewMetrics().Families(); len(got) != 0 {
		t.Errorf("empty registry: Families() = %+v", got)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestMetricsWritePrometheusError(t *testing.T) {
	m := NewMetrics()
	m.Define("p", "c", Counter)
	if err := m.WritePrometheus(failingWriter{}); err != io.ErrClosedPipe {
		t.Errorf("WritePrometheus to a failing writer: %v", err)
	}
}

func TestMetricsConcurrent(t *testing.T) {
	m := NewMetrics()
	const plugins, workers, adds = 4, 8, 1000
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			m.Snapshot()
			m.WritePrometheus(io.Discard)
		}
	})
	for p := range plugins {
		plugin := fmt.Sprintf("p%d", p)
		for w := range workers {
			wg.Go(func() {
				// Every worker defines the shared metrics, and metrics
				// of its own, while the others add.
				c, err := m.Define(plugin, "hits", Counter)
				if err != nil {
					t.Error(err)
					return
				}
				g, err := m.Define(plugin, "level", Gauge)
				if err != nil {
					t.Error(err)
					return
				}
				for i := range adds {
					if err := m.Add(plugin, c, 1); err != nil {
						t.Error(err)
						return
					}
					m.Add(plugin, g, int64(1-2*(i%2)))
					if i%100 == 0 {
						m.Define(plugin, fmt.Sprintf("w%d_%d", w, i), Gauge)
					}
				}
			})
		}
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	got := map[string]int64{}
	for _, s := range m.Snapshot() {
		got[s.Plugin+"/"+s.Name] = s.Value
	}
	if len(got) != plugins*(2+workers*adds/100) {
		t.Errorf("%d metrics; want %d", len(got), plugins*(2+workers*adds/100))
	}
	for p := range plugins {
		if v := got[fmt.Sprintf("p%d/hits", p)]; v != workers*adds {
			t.Errorf("p%d/hits = %d; want %d", p, v, workers*adds)
		}
		if v := got[fmt.Sprintf("p%d/level", p)]; v != 0 {
			t.Errorf("p%d/level = %d; want 0", p, v)
		}
	}
}

func TestMetricsNoAllocs(t *testing.T) {
	m := NewMetrics()
	plugin := strings.Clone("plugin") // not the constant the registry holds
	c, _ := m.Define("plugin", "c", Counter)
	g, _ := m.Define("plugin", "g", Gauge)
	for name, f := range map[string]func(){
		"Add counter":   func() { m.Add(plugin, c, 1) },
		"Add gauge":     func() { m.Add(plugin, g, -1) },
		"Set":           func() { m.Set(plugin, g, 1) },
		"Add wrong id":  func() { m.Add("other", c, 1) },
		"Set a counter": func() { m.Set(plugin, c, 1) },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations; want 0", name, n)
		}
	}
}

func BenchmarkMetrics(b *testing.B) {
	m := NewMetrics()
	for i := range 100 {
		m.Define(fmt.Sprintf("p%d", i%10), fmt.Sprintf("m%d", i), Counter)
	}
	c, _ := m.Define("plugin", "hits", Counter)
	g, _ := m.Define("plugin", "level", Gauge)
	b.Run("AddCounter", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Add("plugin", c, 1)
		}
	})
	b.Run("SetGauge", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.Set("plugin", g, 1)
		}
	})
	b.Run("AddCounterParallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.Add("plugin", c, 1)
			}
		})
	})
	b.Run("WritePrometheus", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			m.WritePrometheus(io.Discard)
		}
	})
}
