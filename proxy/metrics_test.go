package proxy

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/wasmgate/wasmgate/codec"
)

// counterValue returns the value of the series of the family name whose
// labels include labels (a counter's, a gauge's or a histogram's sample
// count), summed when several match; it fails t when none does.
func counterValue(t testing.TB, p *Proxy, name string, labels map[string]string) float64 {
	t.Helper()
	v, ok := seriesValue(t, p, name, labels)
	if !ok {
		t.Fatalf("no series %s%v", name, labels)
	}
	return v
}

func seriesValue(t testing.TB, p *Proxy, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	families, err := p.Registry().Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	sum, found := 0.0, false
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, labels) {
				continue
			}
			found = true
			switch {
			case m.Counter != nil:
				sum += m.GetCounter().GetValue()
			case m.Gauge != nil:
				sum += m.GetGauge().GetValue()
			case m.Histogram != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum, found
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

func TestMetrics(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	var logs lockedBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	p, addr := startProxyLogging(t, `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
upstream "dead" { servers = ["ws://{{dead}}"] }
route "echo" {
  path     = "/echo"
  upstream = "echo"
}
route "dead" {
  path     = "/dead"
  upstream = "dead"
}
`, map[string]string{"up": up.addr, "dead": deadAddr(t)}, log)

	c, _ := dialProxy(t, "ws://"+addr+"/echo?room=1", &codec.Dialer{Protocols: []string{"chat"}})
	for _, m := range []string{"hello", "world!"} {
		expectRoundTrip(t, c, m, m)
	}
	// While the connection is open, the counts include it.
	if got := counterValue(t, p, "wasmgate_connections_open", map[string]string{"route": "echo"}); got != 1 {
		t.Errorf("wasmgate_connections_open = %v, want 1", got)
	}
	if got := counterValue(t, p, "wasmgate_messages_total", map[string]string{"route": "echo", "direction": "client_to_upstream"}); got != 2 {
		t.Errorf("wasmgate_messages_total up = %v, want 2", got)
	}
	if err := c.Close(4000, "bye"); err != nil {
		t.Fatal(err)
	}
	dialRefused(t, "ws://"+addr+"/dead", nil)
	dialRefused(t, "ws://"+addr+"/nowhere", nil)

	eventually(t, "the connection is closed", func() (bool, string) {
		n, _ := p.Connections(0, 1)
		return n == 0, "open connections"
	})
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"wasmgate_connections_open", map[string]string{"route": "echo"}, 0},
		{"wasmgate_connections_total", map[string]string{"route": "echo"}, 1},
		{"wasmgate_messages_total", map[string]string{"route": "echo", "direction": "client_to_upstream"}, 2},
		{"wasmgate_messages_total", map[string]string{"route": "echo", "direction": "upstream_to_client"}, 2},
		{"wasmgate_message_bytes_total", map[string]string{"route": "echo", "direction": "client_to_upstream"}, 11},
		{"wasmgate_message_bytes_total", map[string]string{"route": "echo", "direction": "upstream_to_client"}, 11},
		{"wasmgate_handshakes_total", map[string]string{"route": "echo", "outcome": "accepted", "status": "101"}, 1},
		{"wasmgate_handshakes_total", map[string]string{"route": "dead", "outcome": "upstream_failed", "status": "502"}, 1},
		{"wasmgate_handshakes_total", map[string]string{"route": "", "outcome": "rejected", "status": "404"}, 1},
		{"wasmgate_closes_total", map[string]string{"route": "echo", "by": "client", "code": "4xxx"}, 1},
		{"wasmgate_upstream_dial_duration_seconds", map[string]string{"upstream": "echo", "result": "ok"}, 1},
		{"wasmgate_upstream_dial_duration_seconds", map[string]string{"upstream": "dead", "result": "error"}, 1},
		{"wasmgate_config_generation", nil, 1},
		{"wasmgate_config_last_reload_successful", nil, 1},
	} {
		if got := counterValue(t, p, tt.name, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
	for _, name := range []string{"wasmgate_kv_keys", "wasmgate_kv_bytes"} {
		if got := counterValue(t, p, name, nil); got != 0 {
			t.Errorf("%s = %v with no plugin, want 0", name, got)
		}
	}
	if _, ok := seriesValue(t, p, "go_goroutines", nil); !ok {
		t.Error("no Go runtime metrics")
	}

	// The access log: one line for the connection, one per refusal.
	lines := logs.lines(`"msg":"access"`)
	if len(lines) != 3 {
		t.Fatalf("%d access-log lines, want 3:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	var conn struct {
		Client, Listener, Route, Upstream, Server, Path, Subprotocol string
		Status                                                       int
		Duration                                                     float64
		ToUpstreamMessages                                           int    `json:"to_upstream_messages"`
		ToUpstreamBytes                                              int    `json:"to_upstream_bytes"`
		ToClientMessages                                             int    `json:"to_client_messages"`
		ToClientBytes                                                int    `json:"to_client_bytes"`
		ClosedBy                                                     string `json:"closed_by"`
		Code                                                         int
		Reason                                                       string
	}
	accepted := logs.lines(`"msg":"access"`, `"status":101`)
	if len(accepted) != 1 {
		t.Fatalf("access-log lines of accepted connections: %q", accepted)
	}
	if err := json.Unmarshal([]byte(accepted[0]), &conn); err != nil {
		t.Fatal(err)
	}
	if conn.Listener != "public" || conn.Route != "echo" || conn.Upstream != "echo" || conn.Server != "ws://"+up.addr ||
		conn.Path != "/echo?room=1" || !strings.HasPrefix(conn.Client, "127.0.0.1:") || conn.Duration <= 0 ||
		conn.ToUpstreamMessages != 2 || conn.ToUpstreamBytes != 11 || conn.ToClientMessages != 2 || conn.ToClientBytes != 11 ||
		conn.ClosedBy != "client" || conn.Code != 4000 || conn.Reason != "bye" {
		t.Errorf("access-log line %s", accepted[0])
	}
	if got := logs.lines(`"msg":"access"`, `"route":"dead"`, `"status":502`, `"outcome":"upstream_failed"`); len(got) != 1 {
		t.Errorf("no access-log line for the refusal with 502: %q", lines)
	}
}

func TestConnections_Pages(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	p, addr := startProxy(t, simpleConfig, map[string]string{"up": up.addr})
	var conns []*codec.Conn
	for i := range 5 {
		c, _ := dialProxy(t, "ws://"+addr+"/"+string(rune('a'+i)), nil)
		defer c.CloseNow()
		expectRoundTrip(t, c, "x", "x")
		conns = append(conns, c)
	}
	total, page := p.Connections(1, 2)
	if total != 5 || len(page) != 2 || page[0].Path != "/b" || page[1].Path != "/c" || page[0].ID >= page[1].ID {
		t.Errorf("Connections(1, 2) = %d, %+v; want 5 in all, the page /b and /c", total, page)
	}
	if _, page := p.Connections(4, 10); len(page) != 1 || page[0].Path != "/e" {
		t.Errorf("Connections(4, 10) = %+v, want only /e", page)
	}
	if _, page := p.Connections(10, 10); len(page) != 0 {
		t.Errorf("Connections past the end = %+v, want none", page)
	}
	if c := page[0]; c.Route != "all" || c.Upstream != "echo" || c.ToUpstreamMessages != 1 || c.ToClientBytes != 1 || c.Generation != 1 {
		t.Errorf("connection %+v", c)
	}
}

// BenchmarkScrape gathers the metrics of a proxy with 100,000 open
// connections: a scrape sums what each one relayed.
func BenchmarkScrape(b *testing.B) {
	p := New(parseConfig(b, simpleConfig, map[string]string{"up": "127.0.0.1:1"}), nil)
	stats := p.metrics.route("all")
	for range 100_000 {
		s := &session{stats: stats}
		s.up.add(3, 300)
		p.sessions[s] = struct{}{}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Registry().Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCloseCodeLabel(t *testing.T) {
	for code, want := range map[int]string{1000: "1000", 1006: "1006", 1014: "1014", 2999: "2999",
		3000: "3xxx", 3999: "3xxx", 4000: "4xxx", 4999: "4xxx", 5000: "5000"} {
		if got := closeCodeLabel(code); got != want {
			t.Errorf("closeCodeLabel(%d) = %q, want %q", code, got, want)
		}
	}
}
