package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/proxy"
	"github.com/wasmgate/wasmgate/proxy/config"
)

// startEcho serves a WebSocket echo on loopback.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c, _, err := (&codec.Upgrader{}).Upgrade(nc)
				if err != nil {
					nc.Close()
					return
				}
				codec.Echo(c) //nolint:errcheck // the tests check the client
				c.CloseNow()
			}()
		}
	}()
	return ln.Addr().String()
}

const testConfig = `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
route "echo" {
  path     = "/"
  upstream = "echo"
  headers  = { "X-Api-Key" = "hunter2" }
}
`

// startProxy starts a proxy of testConfig and returns it with the
// address of its listener.
func startProxy(t *testing.T) (*proxy.Proxy, string) {
	t.Helper()
	src := strings.ReplaceAll(testConfig, "{{up}}", startEcho(t))
	cfg, diags := config.Parse([]byte(src), "admin.hcl", t.TempDir())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p := proxy.New(cfg, nil)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.Shutdown(ctx) //nolint:errcheck // the test is over
	})
	return p, p.Addr("public").String()
}

// get requests path of h and returns the status and body.
func request(t *testing.T, h http.Handler, method, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestHandler(t *testing.T) {
	p, addr := startProxy(t)
	var level slog.LevelVar
	reloads := 0
	h := Handler(Options{
		Proxy:    p,
		LogLevel: &level,
		Reload: func(context.Context) error {
			reloads++
			if reloads == 2 {
				return errors.New("wasmgate.hcl:3,1: Unknown upstream")
			}
			return p.Reload(p.Config())
		},
	})
	dialer := &codec.Dialer{Header: http.Header{"X-Api-Key": {"hunter2"}}}
	c, _, err := dialer.Dial(context.Background(), "ws://"+addr+"/room")
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.WriteMessage(codec.Text, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		method, path string
		status       int
		contains     []string
		absent       []string
	}{
		{"GET", "/", 200, []string{"/metrics", "/reload"}, []string{"pprof"}},
		{"GET", "/healthz", 200, []string{"ok"}, nil},
		{"GET", "/readyz", 200, []string{"ready"}, nil},
		{"GET", "/metrics", 200, []string{`wasmgate_connections_open{route="echo"} 1`, `wasmgate_handshakes_total{listener="public",outcome="accepted",route="echo",status="101"} 1`}, nil},
		{"GET", "/config", 200, []string{`"generation": 1`, `"name": "echo"`, "[redacted]"}, []string{"hunter2"}},
		{"GET", "/connections", 200, []string{`"total": 1`, `"path": "/room"`, `"to_upstream_messages": 1`}, nil},
		{"GET", "/connections?limit=0", 200, []string{`"total": 1`, `"connections": []`}, nil},
		{"GET", "/connections?limit=-1", 400, []string{"limit"}, nil},
		{"GET", "/connections?offset=x", 400, []string{"offset"}, nil},
		{"GET", "/reload", 405, nil, nil},
		{"POST", "/reload", 200, []string{`"status": "reloaded"`, `"generation": 2`}, nil},
		{"POST", "/reload", 422, []string{`"status": "failed"`, "Unknown upstream", `"generation": 2`}, nil},
		{"GET", "/logging", 200, []string{`"level": "INFO"`}, nil},
		{"PUT", "/logging?level=debug", 200, []string{`"level": "DEBUG"`}, nil},
		{"PUT", "/logging?level=loud", 400, []string{"loud"}, nil},
		{"GET", "/debug/pprof/", 404, nil, nil},
		{"GET", "/nowhere", 404, nil, nil},
	}
	for _, tt := range tests {
		status, body := request(t, h, tt.method, tt.path)
		if status != tt.status {
			t.Errorf("%s %s: status %d, want %d; body:\n%s", tt.method, tt.path, status, tt.status, body)
			continue
		}
		for _, want := range tt.contains {
			if !strings.Contains(body, want) {
				t.Errorf("%s %s: body does not contain %q:\n%s", tt.method, tt.path, want, body)
			}
		}
		for _, bad := range tt.absent {
			if strings.Contains(body, bad) {
				t.Errorf("%s %s: body contains %q:\n%s", tt.method, tt.path, bad, body)
			}
		}
	}
	if level.Level() != slog.LevelDebug {
		t.Errorf("level %v after PUT /logging?level=debug", level.Level())
	}

	var conns struct {
		Connections []proxy.ConnInfo
	}
	_, body := request(t, h, "GET", "/connections")
	if err := json.Unmarshal([]byte(body), &conns); err != nil || len(conns.Connections) != 1 || conns.Connections[0].Generation != 1 {
		t.Errorf("GET /connections: %v, %s", err, body)
	}

	// Draining: not ready.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go c.ReadMessage() //nolint:errcheck // answers the close
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if status, _ := request(t, h, "GET", "/readyz"); status != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz after shutdown: %d, want 503", status)
	}
	if status, body := request(t, h, "POST", "/reload"); status != http.StatusServiceUnavailable {
		t.Errorf("POST /reload after shutdown: %d %s, want 503", status, body)
	}
}

func TestHandler_options(t *testing.T) {
	p, _ := startProxy(t)
	h := Handler(Options{Proxy: p, Pprof: true})
	for _, tt := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/debug/pprof/", 200},
		{"GET", "/debug/pprof/goroutine?debug=1", 200},
		{"POST", "/reload", 501},
		{"GET", "/logging", 501},
	} {
		if status, body := request(t, h, tt.method, tt.path); status != tt.status {
			t.Errorf("%s %s: %d, want %d\n%s", tt.method, tt.path, status, tt.status, body)
		}
	}
}

func TestListen(t *testing.T) {
	p, _ := startProxy(t)
	s, err := Listen("127.0.0.1:0", Handler(Options{Proxy: p}))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + s.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("GET /healthz: %s", resp.Status)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if _, err := Listen("127.0.0.1:99999", http.NotFoundHandler()); err == nil || !strings.Contains(err.Error(), "admin listener") {
		t.Errorf("Listen on a bad address: %v", err)
	}
}
