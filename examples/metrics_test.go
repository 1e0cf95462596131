package examples_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/plugins"
)

// metricValues returns the values of the metrics plugin's metrics, by name.
func metricValues(m *plugins.Metrics) map[string]int64 {
	values := map[string]int64{}
	for _, s := range m.Snapshot() {
		if s.Plugin == "metrics" {
			values[s.Name] = s.Value
		}
	}
	return values
}

// TestMetrics runs the metrics example: text and binary messages of known
// sizes, sent through the echo upstream, give exact counts on both sides,
// and the gauge follows the open connections.
func TestMetrics(t *testing.T) {
	e := startExample(t, "metrics", nil)
	m := e.Proxy.Plugins().Metrics()
	a := e.mustDial(t, "/", nil)
	b := e.mustDial(t, "/", nil)
	// Each filter's Open has run before its handshake was answered.
	if got := metricValues(m)["open_connections"]; got != 2 {
		t.Fatalf("open_connections with two connections: %d", got)
	}

	// 1 + 10 + 100 + 6 bytes of text, 0 + 3 + 1000 of binary, spread over
	// both connections. Each message is echoed, and the echo has passed
	// the filter once it is read: the counts are final when the last one
	// arrives.
	texts := []struct {
		c *codec.Conn
		p string
	}{{a, "a"}, {b, strings.Repeat("b", 10)}, {a, strings.Repeat("c", 100)}, {b, "héllo"}}
	binaries := []struct {
		c *codec.Conn
		p string
	}{{b, ""}, {a, "\x00\x01\x02"}, {b, strings.Repeat("\xff", 1000)}}
	for _, msg := range texts {
		send(t, msg.c, codec.Text, msg.p)
		expect(t, msg.c, codec.Text, msg.p)
	}
	for _, msg := range binaries {
		send(t, msg.c, codec.Binary, msg.p)
		expect(t, msg.c, codec.Binary, msg.p)
	}

	want := map[string]int64{
		"client_text_messages":     4,
		"client_text_bytes":        117,
		"client_binary_messages":   3,
		"client_binary_bytes":      1003,
		"upstream_text_messages":   4,
		"upstream_text_bytes":      117,
		"upstream_binary_messages": 3,
		"upstream_binary_bytes":    1003,
		"open_connections":         2,
	}
	got := metricValues(m)
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s: got %d, want %d", name, got[name], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("the plugin defines %d metrics, want %d: %v", len(got), len(want), got)
	}

	// The Prometheus text the README shows.
	var prom strings.Builder
	if err := m.WritePrometheus(&prom); err != nil {
		t.Fatal(err)
	}
	wantProm := `# TYPE wasmgate_plugin_client_binary_bytes_total counter
wasmgate_plugin_client_binary_bytes_total{plugin="metrics"} 1003
# TYPE wasmgate_plugin_client_binary_messages_total counter
wasmgate_plugin_client_binary_messages_total{plugin="metrics"} 3
# TYPE wasmgate_plugin_client_text_bytes_total counter
wasmgate_plugin_client_text_bytes_total{plugin="metrics"} 117
# TYPE wasmgate_plugin_client_text_messages_total counter
wasmgate_plugin_client_text_messages_total{plugin="metrics"} 4
# TYPE wasmgate_plugin_open_connections gauge
wasmgate_plugin_open_connections{plugin="metrics"} 2
# TYPE wasmgate_plugin_upstream_binary_bytes_total counter
wasmgate_plugin_upstream_binary_bytes_total{plugin="metrics"} 1003
# TYPE wasmgate_plugin_upstream_binary_messages_total counter
wasmgate_plugin_upstream_binary_messages_total{plugin="metrics"} 3
# TYPE wasmgate_plugin_upstream_text_bytes_total counter
wasmgate_plugin_upstream_text_bytes_total{plugin="metrics"} 117
# TYPE wasmgate_plugin_upstream_text_messages_total counter
wasmgate_plugin_upstream_text_messages_total{plugin="metrics"} 4
`
	if prom.String() != wantProm {
		t.Errorf("Prometheus text:\n%s\nwant:\n%s", prom.String(), wantProm)
	}

	// The filters' Close runs after the connections end, asynchronously.
	a.Close(codec.CloseNormal, "") //nolint:errcheck // the gauge shows the close
	b.Close(codec.CloseNormal, "") //nolint:errcheck // the gauge shows the close
	deadline := time.Now().Add(testTimeout)
	for metricValues(m)["open_connections"] != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("open_connections is %d after both connections closed", metricValues(m)["open_connections"])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
