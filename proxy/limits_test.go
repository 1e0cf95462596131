package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

// dialFrom dials url from the loopback address ip, as a client of its own.
func dialFrom(ip, url string) (*codec.Conn, error) {
	nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := (&codec.Dialer{NetDial: nd.DialContext}).Dial(ctx, url)
	return c, err
}

// refusedWith checks that err is a refused handshake with status, and
// that it asks the client to retry later.
func refusedWith(t *testing.T, what string, err error, status int) {
	t.Helper()
	var se *codec.StatusError
	if !errors.As(err, &se) || se.Status != status {
		t.Fatalf("%s: %v, want a refusal with %d", what, err, status)
	}
	if se.Header.Get("Retry-After") == "" {
		t.Errorf("%s: refusal %d without Retry-After", what, status)
	}
}

func TestLimits_ConnectionCaps(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	p, addr := startProxy(t, `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
limits {
  max_connections = 4
}
route "capped" {
  path     = "/capped"
  upstream = "echo"
  limits {
    max_connections = 2
  }
}
route "per-ip" {
  path     = "/per-ip"
  upstream = "echo"
  limits {
    max_connections_per_ip = 1
  }
}
`, map[string]string{"up": up.addr})
	url := func(path string) string { return "ws://" + addr + path }
	var open []*codec.Conn
	defer func() {
		for _, c := range open {
			c.CloseNow()
		}
	}()
	mustDial := func(ip, path string) *codec.Conn {
		t.Helper()
		c, err := dialFrom(ip, url(path))
		if err != nil {
			t.Fatalf("dial %s from %s: %v", path, ip, err)
		}
		expectRoundTrip(t, c, "hi", "hi")
		open = append(open, c)
		return c
	}

	first := mustDial("127.0.0.1", "/capped")
	mustDial("127.0.0.2", "/capped")
	_, err := dialFrom("127.0.0.3", url("/capped"))
	refusedWith(t, "a third connection on a route capped at 2", err, http.StatusServiceUnavailable)

	mustDial("127.0.0.1", "/per-ip")
	_, err = dialFrom("127.0.0.1", url("/per-ip"))
	refusedWith(t, "a second connection from one IP capped at 1", err, http.StatusTooManyRequests)

	// Another IP has its own place; then there are four in all, and the
	// proxy-wide cap refuses a fifth, whatever its route and IP.
	mustDial("127.0.0.2", "/per-ip")
	_, err = dialFrom("127.0.0.3", url("/per-ip"))
	refusedWith(t, "a fifth connection under a proxy-wide cap of 4", err, http.StatusServiceUnavailable)

	// A place freed is a place taken again.
	first.Close(codec.CloseNormal, "") //nolint:errcheck // the next dial shows it
	eventually(t, "the closed connection's place is freed", func() (bool, string) {
		c, err := dialFrom("127.0.0.3", url("/per-ip"))
		if err != nil {
			return false, err.Error()
		}
		open = append(open, c)
		return true, ""
	})

	for _, tt := range []struct {
		status string
		want   float64
	}{{"503", 2}, {"429", 1}} {
		if got := counterValue(t, p, "wasmgate_handshakes_total", map[string]string{"outcome": "limited", "status": tt.status}); got < tt.want {
			t.Errorf("wasmgate_handshakes_total{outcome=limited,status=%s} = %v, want at least %v", tt.status, got, tt.want)
		}
	}

	// Every place is given back when the connections end.
	for _, c := range open {
		c.Close(codec.CloseNormal, "") //nolint:errcheck // checked below
	}
	eventually(t, "every place given back", func() (bool, string) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.admitted == 0 && len(p.routeAdmitted) == 0 && len(p.ipAdmitted) == 0,
			fmt.Sprintf("%d admitted, %v, %v", p.admitted, p.routeAdmitted, p.ipAdmitted)
	})
}

// TestLimits_MessageRate: a client over max_message_rate is closed with
// 1008, on a route that streams frames and on one whose filter reads
// whole messages; the upstream hears 1001.
func TestLimits_MessageRate(t *testing.T) {
	upstreamSaw := make(chan closeResult, 4)
	up := startUpstream(t, nil, func(c *codec.Conn) {
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				upstreamSaw <- closeResult{code: codec.CloseStatus(err), err: err}
				var ce *codec.CloseError
				if errors.As(err, &ce) {
					c.Close(ce.Code, "") //nolint:errcheck // completes the handshake
				}
				return
			}
			if c.WriteMessage(typ, p) != nil {
				return
			}
		}
	})
	_, addr := startProxy(t, `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
plugin "guest" {
  wasm    = "{{guest}}"
  timeout = "1s" # a Go guest: a collection may pause a call past 5ms
}
limits {
  max_message_rate = 5
  message_burst    = 3
}
route "frames" {
  path     = "/frames"
  upstream = "echo"
}
route "filtered" {
  path     = "/filtered"
  upstream = "echo"
  filters  = ["guest"]
}
`, map[string]string{"up": up.addr, "guest": guestPath(t)})
	for _, path := range []string{"/frames", "/filtered"} {
		t.Run(path, func(t *testing.T) {
			c, _ := dialProxy(t, "ws://"+addr+path, nil)
			defer c.CloseNow()
			// Within the burst, messages pass.
			for i := range 3 {
				expectRoundTrip(t, c, fmt.Sprint("ok ", i), fmt.Sprint("ok ", i))
			}
			// Then a flood: far more than 5 a second.
			const flood = 50
			go func() {
				for i := range flood {
					if c.WriteMessage(codec.Text, []byte(fmt.Sprint("flood ", i))) != nil {
						return
					}
				}
			}()
			echoed := 0
			c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
			for {
				_, _, err := c.ReadMessage()
				if err == nil {
					echoed++
					continue
				}
				if code := codec.CloseStatus(err); code != codec.ClosePolicyViolation {
					t.Fatalf("after %d echoes of the flood: %v, want close 1008", echoed, err)
				}
				break
			}
			if echoed >= flood {
				t.Errorf("all %d messages of the flood came back", flood)
			}
			select {
			case got := <-upstreamSaw:
				if got.code != codec.CloseGoingAway {
					t.Errorf("upstream saw %v, want 1001", got.err)
				}
			case <-time.After(10 * time.Second):
				t.Error("the upstream never saw the connection end")
			}
		})
	}
}

func TestRateLimiter(t *testing.T) {
	var none *rateLimiter
	if !none.allow() {
		t.Error("a nil limiter refused")
	}
	if newRateLimiter(0, 5) != nil {
		t.Error("a rate of 0 made a limiter")
	}
	l := newRateLimiter(1, 2)
	start := l.last
	if !l.allow() || !l.allow() {
		t.Fatal("the burst of 2 was refused")
	}
	l.last = start // no time passed
	if l.allow() {
		t.Error("a third message with no time passed was allowed")
	}
	l.last = start.Add(-1500 * time.Millisecond) // 1.5 s: one and a half tokens
	if !l.allow() || l.allow() {
		t.Error("after 1.5 s at 1 a second, want exactly one more message")
	}
	l.last = start.Add(-time.Hour)
	if !l.allow() || !l.allow() || l.allow() {
		t.Error("after an hour, want the burst of 2, not more")
	}
}

// TestRequireTLS: a route with require_tls refuses a ws:// client with
// 403 and serves a wss:// one, on listeners of both kinds.
func TestRequireTLS(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	caFile, certFile, keyFile := testCA(t, t.TempDir())
	p, plainAddr := startProxy(t, `
listener "public" { address = "127.0.0.1:0" }
listener "secure" {
  address = "127.0.0.1:0"
  tls {
    cert_file = "{{cert}}"
    key_file  = "{{key}}"
  }
}
upstream "echo" { servers = ["ws://{{up}}"] }
route "plain" {
  listener    = "public"
  upstream    = "echo"
  require_tls = true
}
route "secure" {
  listener    = "secure"
  upstream    = "echo"
  require_tls = true
}
`, map[string]string{"up": up.addr, "cert": certFile, "key": keyFile})
	if se := dialRefused(t, "ws://"+plainAddr+"/", nil); se.Status != http.StatusForbidden {
		t.Errorf("ws:// on a route that requires TLS: %d, want 403", se.Status)
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(pem)
	c, _ := dialProxy(t, "wss://"+p.Addr("secure").String()+"/", &codec.Dialer{TLSConfig: &tls.Config{RootCAs: pool}})
	defer c.CloseNow()
	expectRoundTrip(t, c, "over wss", "over wss")
}

// TestLimits_SizesEachWay: each direction has its own size limits; the
// side that sends too much gets 1009, the other 1001.
func TestLimits_SizesEachWay(t *testing.T) {
	upstreamSaw := make(chan int, 4)
	up := startUpstream(t, nil, func(c *codec.Conn) {
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				upstreamSaw <- int(codec.CloseStatus(err))
				var ce *codec.CloseError
				if errors.As(err, &ce) {
					c.Close(ce.Code, "") //nolint:errcheck // completes the handshake
				}
				return
			}
			if n, err := strconv.Atoi(string(p)); err == nil {
				p = make([]byte, n) // "N": answer N bytes
			}
			if err := c.WriteMessage(typ, p); err != nil {
				upstreamSaw <- -1 // the test reports what it expected instead
				return
			}
		}
	})
	_, addr := startProxy(t, `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
route "r" {
  upstream = "echo"
  limits {
    client_max_message_size   = "1KiB"
    upstream_max_message_size = "4KiB"
  }
}
`, map[string]string{"up": up.addr})

	t.Run("within both", func(t *testing.T) {
		c, _ := dialProxy(t, "ws://"+addr+"/", nil)
		defer c.CloseNow()
		if got := roundTrip(t, c, "3000"); len(got) != 3000 {
			t.Errorf("got %d bytes, want 3000", len(got))
		}
		big := strings.Repeat("x", 1024)
		expectRoundTrip(t, c, big, big)
		c.Close(codec.CloseNormal, "") //nolint:errcheck // the upstream tells
		if got := <-upstreamSaw; got != int(codec.CloseNormal) {
			t.Errorf("upstream saw %d, want 1000", got)
		}
	})
	t.Run("client sends too much", func(t *testing.T) {
		c, _ := dialProxy(t, "ws://"+addr+"/", nil)
		defer c.CloseNow()
		c.WriteMessage(codec.Text, []byte(strings.Repeat("x", 1025))) //nolint:errcheck // the close tells
		if got := readClose(c); got.code != codec.CloseMessageTooBig {
			t.Errorf("client saw %v (%v), want 1009", got.code, got.err)
		}
		if got := <-upstreamSaw; got != int(codec.CloseGoingAway) {
			t.Errorf("upstream saw %d, want 1001", got)
		}
	})
	t.Run("upstream sends too much", func(t *testing.T) {
		c, _ := dialProxy(t, "ws://"+addr+"/", nil)
		defer c.CloseNow()
		c.WriteMessage(codec.Text, []byte("5000")) //nolint:errcheck // the close tells
		if got := readClose(c); got.code != codec.CloseGoingAway {
			t.Errorf("client saw %v (%v), want 1001", got.code, got.err)
		}
		if got := <-upstreamSaw; got != int(codec.CloseMessageTooBig) {
			t.Errorf("upstream saw %d, want 1009", got)
		}
	})
}
