package proxy

import (
	"context"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/proxy/config"
)

// startParkingProxy is startProxy with legs that park after a few
// milliseconds of silence.
func startParkingProxy(t *testing.T, src string, vars map[string]string) (*Proxy, string) {
	t.Helper()
	return startProxyWith(t, src, vars, nil, func(p *Proxy) { p.parkAfter = 10 * time.Millisecond })
}

// awaitParked waits until every session of p has both legs parked.
func awaitParked(t *testing.T, p *Proxy, sessions int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		parked := 0
		p.mu.Lock()
		for s := range p.sessions {
			if s.client.Parked() && s.upstream.Parked() {
				parked++
			}
		}
		total := len(p.sessions)
		p.mu.Unlock()
		if total == sessions && parked == sessions {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d sessions parked", parked, total)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestProxy_QuietSessionsPark(t *testing.T) {
	up := startUpstream(t, nil, echoHandler) // one goroutine per connection
	tests := []struct{ name, src string }{
		{"frames", simpleConfig},
		{"filtered messages", filterConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vars := map[string]string{"up": up.addr, "guest": guestPath(t), "config": "null", "sandbox": "plain"}
			p, addr := startParkingProxy(t, tt.src, vars)
			warm, _ := dialProxy(t, "ws://"+addr+"/", nil)
			if got := roundTrip(t, warm, "warm"); got != "warm" {
				t.Fatalf("echo %q", got)
			}
			awaitParked(t, p, 1)
			base := runtime.NumGoroutine()

			const n = 20
			clients := make([]*codec.Conn, n)
			for i := range clients {
				clients[i], _ = dialProxy(t, "ws://"+addr+"/", nil)
				if got := roundTrip(t, clients[i], "hello"); got != "hello" {
					t.Fatalf("echo %q", got)
				}
			}
			awaitParked(t, p, n+1)
			// The clients run no goroutine and the upstream one per
			// connection: parked sessions add none in the proxy.
			if got := runtime.NumGoroutine() - base; got > n {
				buf := make([]byte, 1<<20)
				t.Fatalf("%d parked sessions added %d goroutines, want at most %d (the upstream's):\n%s",
					n, got, n, buf[:runtime.Stack(buf, true)])
			}
			// A parked session wakes up to relay, both ways, and parks again.
			for i, c := range clients {
				if got := roundTrip(t, c, "again"); got != "again" {
					t.Fatalf("client %d: echo %q after parking", i, got)
				}
			}
			awaitParked(t, p, n+1)
		})
	}
}

func TestProxy_ParkedSessionCloses(t *testing.T) {
	upstreamSaw := make(chan closeResult, 2)
	up := startUpstream(t, nil, func(c *codec.Conn) { upstreamSaw <- readUntilClose(c) })
	p, addr := startParkingProxy(t, simpleConfig, map[string]string{"up": up.addr})

	// The client closes a parked session: the close travels end to end.
	c, _ := dialProxy(t, "ws://"+addr+"/", nil)
	awaitParked(t, p, 1)
	if err := c.Close(4000, "bye"); err != nil {
		t.Fatal(err)
	}
	if got := <-upstreamSaw; got.code != 4000 {
		t.Fatalf("upstream saw %v (%v), want 4000", got.code, got.err)
	}

	// A shutdown closes parked sessions with 1001 on both legs.
	c2, _ := dialProxy(t, "ws://"+addr+"/", nil)
	awaitParked(t, p, 1)
	clientSaw := make(chan closeResult, 1)
	go func() { clientSaw <- readUntilClose(c2) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := <-clientSaw; got.code != codec.CloseGoingAway {
		t.Errorf("client saw %v (%v), want 1001", got.code, got.err)
	}
	if got := <-upstreamSaw; got.code != codec.CloseGoingAway {
		t.Errorf("upstream saw %v (%v), want 1001", got.code, got.err)
	}
}

func TestProxy_ReusePort(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	src := func(reuse bool) string {
		return fmt.Sprintf(`
listener "public" {
  address    = %q
  reuse_port = %v
}
upstream "echo" { servers = ["ws://%s"] }
route "all" { upstream = "echo" }
`, addr, reuse, up.addr)
	}
	start := func(reuse bool) (*Proxy, error) {
		cfg, diags := config.Parse([]byte(src(reuse)), "test.hcl", t.TempDir())
		if diags.HasErrors() {
			t.Fatalf("config: %s", diags.Error())
		}
		p := New(cfg, nil)
		if err := p.Start(); err != nil {
			return nil, err
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			p.Shutdown(ctx) //nolint:errcheck // the test checks the relay
		})
		return p, nil
	}
	if _, err := start(true); err != nil {
		t.Fatal(err)
	}
	if _, err := start(true); err != nil {
		t.Fatalf("a second proxy with reuse_port on the same address: %v", err)
	}
	if _, err := start(false); err == nil {
		t.Fatal("a proxy without reuse_port started on a taken address")
	}
	// Whichever process the kernel picks relays.
	for range 8 {
		c, _ := dialProxy(t, "ws://"+addr+"/", nil)
		if got := roundTrip(t, c, "hi"); got != "hi" {
			t.Fatalf("echo %q", got)
		}
		c.Close(codec.CloseNormal, "") //nolint:errcheck // the next dial is the test
	}
}
