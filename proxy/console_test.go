package proxy

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// A listener with console = true serves the console page to requests that
// are not upgrades, and WebSockets as before; one without answers them 400.
func TestConsole(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	p, addr := startProxy(t, `
listener "public" {
  address = "127.0.0.1:0"
  console = true
}
listener "plain" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
route "echo" {
  listener = "public"
  path     = "/"
  upstream = "echo"
}
route "plain" {
  listener = "plain"
  path     = "/"
  upstream = "echo"
}
`, map[string]string{"up": up.addr})
	plainAddr := p.Addr("plain").String()

	tests := []struct {
		name, url string
		status    int
		body      string // a substring
		header    map[string]string
	}{
		{"page", "http://" + addr + "/", http.StatusOK, `<title>wasmgate console</title>`, map[string]string{
			"Content-Type":           "text/html; charset=utf-8",
			"X-Content-Type-Options": "nosniff",
		}},
		{"index.html", "http://" + addr + "/index.html?x=1", http.StatusOK, `id="send-binary"`, nil},
		{"another path", "http://" + addr + "/favicon.ico", http.StatusNotFound, "console at /", nil},
		{"no console", "http://" + plainAddr + "/", http.StatusBadRequest, `bad "Upgrade" header`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.body) {
				t.Errorf("got %d %q, want %d with %q", resp.StatusCode, body, tt.status, tt.body)
			}
			for k, v := range tt.header {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
	// The page's policy allows exactly its own script.
	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src '"+scriptHash(consoleHTML)+"'") ||
		!strings.Contains(csp, "connect-src ws: wss:") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}

	c, _ := dialProxy(t, "ws://"+addr+"/", nil)
	expectRoundTrip(t, c, "through the console's listener", "through the console's listener")
	// Each is counted once answered.
	eventually(t, "the pages counted", func() (bool, string) {
		n, _ := seriesValue(t, p, "wasmgate_handshakes_total", map[string]string{"outcome": outcomePage, "status": "200"})
		return n == 3, fmt.Sprint(n)
	})
}
