package proxy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/proxy/config"
)

// upstreamServer is a programmable WebSocket server for the tests.
type upstreamServer struct {
	addr string
	mu   sync.Mutex
	reqs []*codec.Request
}

// startUpstream serves handle on a loopback listener. decide, when non-nil,
// decides each handshake.
func startUpstream(t testing.TB, decide func(*codec.Request) (*codec.Response, error), handle func(*codec.Conn)) *upstreamServer {
	t.Helper()
	s := &upstreamServer{}
	s.addr = rawUpstream(t, func(nc net.Conn) {
		u := codec.Upgrader{Decide: func(req *codec.Request) (*codec.Response, error) {
			s.mu.Lock()
			s.reqs = append(s.reqs, req)
			s.mu.Unlock()
			if decide != nil {
				return decide(req)
			}
			return nil, nil
		}}
		// Upgrade sets its own deadlines, and lifts them once done.
		c, _, err := u.Upgrade(nc)
		if err != nil {
			return
		}
		handle(c)
		c.CloseNow()
	})
	return s
}

func (s *upstreamServer) lastRequest(t testing.TB) *codec.Request {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.reqs) == 0 {
		t.Fatal("the upstream saw no request")
	}
	return s.reqs[len(s.reqs)-1]
}

func echoHandler(c *codec.Conn) { codec.Echo(c) } //nolint:errcheck // the tests check what the client sees

// startProxy loads src (HCL, with {{name}} replaced by vars) and starts a
// proxy; the listener named "public" must use 127.0.0.1:0.
func startProxy(t testing.TB, src string, vars map[string]string) (*Proxy, string) {
	t.Helper()
	return startProxyLogging(t, src, vars, nil)
}

// startProxyLogging is startProxy with the proxy logging to log (nil:
// nowhere).
func startProxyLogging(t testing.TB, src string, vars map[string]string, log *slog.Logger) (*Proxy, string) {
	t.Helper()
	return startProxyWith(t, src, vars, log, nil)
}

// startProxyWith is startProxyLogging with setup run on the Proxy before it
// starts (setup may be nil).
func startProxyWith(t testing.TB, src string, vars map[string]string, log *slog.Logger, setup func(*Proxy)) (*Proxy, string) {
	t.Helper()
	p := New(parseConfig(t, src, vars), log)
	if setup != nil {
		setup(p)
	}
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return p, p.Addr("public").String()
}

const simpleConfig = `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
route "all" {
  path     = "/"
  upstream = "echo"
}
`

func dialProxy(t testing.TB, url string, d *codec.Dialer) (*codec.Conn, *codec.Handshake) {
	t.Helper()
	if d == nil {
		d = &codec.Dialer{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, hs, err := d.Dial(ctx, url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c, hs
}

func TestProxy_Relay(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	_, addr := startProxy(t, simpleConfig, map[string]string{"up": up.addr})
	c, _ := dialProxy(t, "ws://"+addr+"/chat", nil)
	for _, size := range []int{0, 1, 125, 126, 65535, 65536, 1 << 20, 16<<20 - 1} {
		for _, typ := range []codec.MessageType{codec.Text, codec.Binary} {
			t.Run(fmt.Sprintf("%v/%d", typ, size), func(t *testing.T) {
				p := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
				if err := c.WriteMessage(typ, p); err != nil {
					t.Fatal(err)
				}
				gt, got, err := c.ReadMessage()
				if err != nil {
					t.Fatal(err)
				}
				if gt != typ || !bytes.Equal(got, p) {
					t.Fatalf("got %v of %d bytes, want %v of %d", gt, len(got), typ, size)
				}
			})
		}
	}
	if got := up.lastRequest(t).URI; got != "/chat" {
		t.Errorf("upstream request URI %q, want /chat", got)
	}
}

func TestProxy_FragmentsPassThrough(t *testing.T) {
	// The upstream reports the frames it saw.
	up := startUpstream(t, nil, func(c *codec.Conn) {
		var shape []string
		for {
			f, err := c.ReadFrame()
			if err != nil {
				return
			}
			shape = append(shape, fmt.Sprintf("%v:%s:%v", f.Opcode, f.Payload, f.Fin))
			if f.Fin {
				c.WriteMessage(codec.Text, []byte(strings.Join(shape, " "))) //nolint:errcheck // the client checks
				shape = nil
			}
		}
	})
	_, addr := startProxy(t, simpleConfig, map[string]string{"up": up.addr})
	c, _ := dialProxy(t, "ws://"+addr+"/", nil)
	c.BufferFrame(false, codec.OpText, []byte("ab"))
	c.BufferFrame(false, codec.OpContinuation, []byte("cd"))
	c.Ping([]byte("p"))
	c.BufferFrame(true, codec.OpContinuation, []byte("ef"))
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	_, got, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	want := "text:ab:false continuation:cd:false continuation:ef:true"
	if string(got) != want {
		t.Fatalf("upstream saw %q, want %q", got, want)
	}
}

func TestProxy_Routing(t *testing.T) {
	named := func(name string) func(*codec.Conn) {
		return func(c *codec.Conn) {
			c.WriteMessage(codec.Text, []byte(name)) //nolint:errcheck // the client checks
			codec.Echo(c)                            //nolint:errcheck // the client checks
		}
	}
	a := startUpstream(t, nil, named("a"))
	b := startUpstream(t, nil, named("b"))
	c := startUpstream(t, nil, named("c"))
	d := startUpstream(t, nil, named("d"))
	_, addr := startProxy(t, `
listener "public" { address = "127.0.0.1:0" }
upstream "a" { servers = ["ws://{{a}}"] }
upstream "b" { servers = ["ws://{{b}}"] }
upstream "c" { servers = ["ws://{{c}}"] }
upstream "d" { servers = ["ws://{{d}}"] }
route "exact"  {
  exact_path = "/exact"
  upstream = "a"
}
route "tenant" {
  path = "/t/"
  headers = { "X-Tenant" = "acme" }
  upstream = "b"
}
route "host" {
  host = "*.example.com"
  path = "/t/"
  upstream = "c"
}
route "prefix" {
  path = "/t/"
  upstream = "d"
}
`, map[string]string{"a": a.addr, "b": b.addr, "c": c.addr, "d": d.addr})
	tests := []struct {
		name   string
		path   string
		host   string
		header http.Header
		want   string // upstream name, or an HTTP status
	}{
		{name: "exact path", path: "/exact", want: "a"},
		{name: "exact path with query", path: "/exact?x=1", want: "a"},
		{name: "exact path is not a prefix", path: "/exact/more", want: "404"},
		{name: "header match", path: "/t/1", header: http.Header{"X-Tenant": {"acme"}}, want: "b"},
		{name: "header mismatch falls through", path: "/t/1", header: http.Header{"X-Tenant": {"other"}}, want: "d"},
		{name: "wildcard host", path: "/t/1", host: "chat.example.com", want: "c"},
		{name: "wildcard host with port", path: "/t/1", host: "chat.Example.com:8080", want: "c"},
		{name: "bare domain is not a wildcard match", path: "/t/1", host: "example.com", want: "d"},
		{name: "first match wins", path: "/t/1", host: "x.example.com", header: http.Header{"X-Tenant": {"acme"}}, want: "b"},
		{name: "no route", path: "/other", want: "404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := &codec.Dialer{Header: tt.header, Host: tt.host}
			conn, _, err := d.Dial(context.Background(), "ws://"+addr+tt.path)
			if strings.HasPrefix(tt.want, "4") {
				var se *codec.StatusError
				if !errors.As(err, &se) || fmt.Sprint(se.Status) != tt.want {
					t.Fatalf("got %v, want status %s", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.CloseNow()
			_, got, err := conn.ReadMessage()
			if err != nil || string(got) != tt.want {
				t.Fatalf("reached %q (%v), want upstream %q", got, err, tt.want)
			}
		})
	}
}

func TestProxy_Origins(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	_, addr := startProxy(t, `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
route "r" {
  upstream = "echo"
  origins  = ["https://chat.example.com"]
}
`, map[string]string{"up": up.addr})
	tests := []struct {
		origin string
		ok     bool
	}{
		{"https://chat.example.com", true},
		{"HTTPS://CHAT.EXAMPLE.COM", true},
		{"https://evil.example.com", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.origin, func(t *testing.T) {
			h := http.Header{}
			if tt.origin != "" {
				h.Set("Origin", tt.origin)
			}
			d := &codec.Dialer{Header: h}
			c, _, err := d.Dial(context.Background(), "ws://"+addr+"/")
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				c.CloseNow()
				return
			}
			var se *codec.StatusError
			if !errors.As(err, &se) || se.Status != http.StatusForbidden {
				t.Fatalf("got %v, want 403", err)
			}
		})
	}
}

func TestProxy_Subprotocols(t *testing.T) {
	up := startUpstream(t, func(req *codec.Request) (*codec.Response, error) {
		for _, p := range req.Protocols {
			if p == "v2" {
				return &codec.Response{Protocol: p}, nil
			}
		}
		return nil, nil
	}, echoHandler)
	_, addr := startProxy(t, simpleConfig, map[string]string{"up": up.addr})
	tests := []struct {
		offer []string
		want  string
	}{
		{[]string{"v1", "v2"}, "v2"},
		{[]string{"v1"}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.offer, ","), func(t *testing.T) {
			c, hs := dialProxy(t, "ws://"+addr+"/", &codec.Dialer{Protocols: tt.offer})
			if hs.Protocol != tt.want || c.Subprotocol() != tt.want {
				t.Fatalf("negotiated %q, want %q", hs.Protocol, tt.want)
			}
			if got := up.lastRequest(t).Protocols; strings.Join(got, ",") != strings.Join(tt.offer, ",") {
				t.Fatalf("upstream was offered %q, want %q", got, tt.offer)
			}
		})
	}
}

func TestProxy_UpstreamHeaders(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	_, addr := startProxy(t, `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
route "all" {
  path = "/all"
  upstream = "echo"
  drop_headers = ["X-Debug"]
}
route "some" {
  path = "/some"
  upstream = "echo"
  forward_headers = ["Cookie"]
}
`, map[string]string{"up": up.addr})
	h := http.Header{
		"Cookie":            {"session=1"},
		"Authorization":     {"Bearer t"},
		"X-Debug":           {"1"},
		"Keep-Alive":        {"300"},
		"Proxy-Connection":  {"keep-alive"},
		"X-Forwarded-For":   {"10.1.1.1"},
		"X-Forwarded-Proto": {"gopher"},
	}
	dialProxy(t, "ws://"+addr+"/all", &codec.Dialer{Header: h, Host: "front.example"})
	got := up.lastRequest(t).Header
	for k, want := range map[string]string{
		"Cookie":            "session=1",
		"Authorization":     "Bearer t",
		"X-Debug":           "",
		"Keep-Alive":        "",
		"Proxy-Connection":  "",
		"X-Forwarded-For":   "10.1.1.1, 127.0.0.1",
		"X-Forwarded-Proto": "http",
		"X-Forwarded-Host":  "front.example",
	} {
		if v := strings.Join(got.Values(k), ","); v != want {
			t.Errorf("/all: upstream header %s = %q, want %q", k, v, want)
		}
	}
	if host := up.lastRequest(t).Host; host != up.addr {
		t.Errorf("upstream Host %q, want the upstream's own %q", host, up.addr)
	}

	dialProxy(t, "ws://"+addr+"/some", &codec.Dialer{Header: h})
	got = up.lastRequest(t).Header
	if got.Get("Cookie") != "session=1" || got.Get("Authorization") != "" || got.Get("X-Forwarded-For") == "" {
		t.Errorf("/some: forward_headers not applied: %v", got)
	}

	// RFC 9110, section 7.6.1: the headers that the client's Connection
	// header names are for the proxy's hop only.
	nc, _ := rawClientWith(t, addr, "/all", "Connection: Upgrade, x-hop-secret, X-Other-Hop\r\n"+
		"X-Hop-Secret: s3cret\r\nx-other-hop: 1\r\nX-Kept: 2\r\n")
	defer nc.Close()
	got = up.lastRequest(t).Header
	if got.Get("X-Hop-Secret") != "" || got.Get("X-Other-Hop") != "" || got.Get("X-Kept") != "2" {
		t.Errorf("headers named in Connection were forwarded, or another was not: %v", got)
	}
}

// deadAddr returns a loopback address nobody listens on.
func deadAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// silentAddr returns a loopback address that accepts TCP and never answers.
func silentAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// statusAddr returns a loopback HTTP server that refuses every upgrade with
// status.
func statusAddr(t testing.TB, status int) string {
	return startUpstream(t, func(*codec.Request) (*codec.Response, error) {
		return nil, &codec.RejectError{Status: status, Body: "nope", Header: http.Header{"Www-Authenticate": {"Bearer"}}}
	}, echoHandler).addr
}

func TestProxy_UpstreamFailures(t *testing.T) {
	good := startUpstream(t, nil, echoHandler).addr
	tests := []struct {
		name    string
		servers []string
		status  int // 0: the dial succeeds through failover
	}{
		{"refused", []string{deadAddr(t)}, http.StatusBadGateway},
		{"handshake timeout", []string{silentAddr(t)}, http.StatusGatewayTimeout},
		{"5xx", []string{statusAddr(t, 503)}, http.StatusBadGateway},
		{"4xx is relayed", []string{statusAddr(t, 403)}, http.StatusForbidden},
		{"failover after refused", []string{deadAddr(t), good}, 0},
		{"failover after 5xx", []string{statusAddr(t, 500), good}, 0},
		{"failover after timeout", []string{silentAddr(t), good}, 0},
		{"timeout and refused", []string{silentAddr(t), deadAddr(t)}, http.StatusBadGateway},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			servers := `"ws://` + strings.Join(tt.servers, `", "ws://`) + `"`
			_, addr := startProxy(t, `
listener "public" { address = "127.0.0.1:0" }
upstream "u" {
  servers = [`+servers+`]
  handshake_timeout = "300ms"
}
route "r" { upstream = "u" }
`, nil)
			// Several dials, so round-robin starts on every server once.
			for i := 0; i < len(tt.servers); i++ {
				c, _, err := (&codec.Dialer{}).Dial(context.Background(), "ws://"+addr+"/")
				if tt.status == 0 {
					if err != nil {
						t.Fatalf("dial %d: %v", i, err)
					}
					if err := c.WriteMessage(codec.Text, []byte("hi")); err != nil {
						t.Fatal(err)
					}
					if _, got, err := c.ReadMessage(); err != nil || string(got) != "hi" {
						t.Fatalf("echo: %q %v", got, err)
					}
					c.CloseNow()
					continue
				}
				var se *codec.StatusError
				if !errors.As(err, &se) || se.Status != tt.status {
					t.Fatalf("dial %d: got %v, want status %d", i, err, tt.status)
				}
				if tt.status == http.StatusForbidden && (se.Header.Get("Www-Authenticate") != "Bearer" || string(se.Body) != "nope") {
					t.Fatalf("the upstream's refusal was not relayed: %v %q", se.Header, se.Body)
				}
			}
		})
	}
}

// closeResult is how one side saw the connection end.
type closeResult struct {
	code   codec.StatusCode
	reason string
	err    error
}

func readUntilClose(c *codec.Conn) closeResult {
	for {
		_, _, err := c.ReadMessage()
		if err != nil {
			var ce *codec.CloseError
			if errors.As(err, &ce) {
				return closeResult{code: ce.Code, reason: ce.Reason, err: err}
			}
			return closeResult{code: codec.CloseStatus(err), err: err}
		}
	}
}

func TestProxy_CloseCodes(t *testing.T) {
	tests := []struct {
		name string
		// upstream acts on the upstream leg once the client's "go" arrives.
		upstream func(c *codec.Conn)
		// client acts on the client leg after sending "go".
		client         func(c *codec.Conn)
		wantClient     codec.StatusCode
		wantClientWhy  string
		wantUpstream   codec.StatusCode
		wantUpstreamWh string
	}{
		{
			name:          "upstream closes with a code and reason",
			upstream:      func(c *codec.Conn) { c.Close(4001, "bye from upstream") },
			wantClient:    4001,
			wantClientWhy: "bye from upstream",
		},
		{
			name:           "client closes with a code and reason",
			client:         func(c *codec.Conn) { c.Close(4002, "bye from client") },
			wantUpstream:   4002,
			wantUpstreamWh: "bye from client",
		},
		{
			name:       "upstream closes without a code",
			upstream:   func(c *codec.Conn) { c.Close(codec.CloseNoStatus, "") },
			wantClient: codec.CloseNoStatus,
		},
		{
			name:          "upstream vanishes",
			upstream:      func(c *codec.Conn) { c.CloseNow() },
			wantClient:    codec.CloseInternalError,
			wantClientWhy: "upstream connection lost",
		},
		{
			name: "upstream breaks the protocol",
			upstream: func(c *codec.Conn) {
				c.NetConn().Write([]byte{0x83, 0x00}) // reserved opcode 3
			},
			wantClient:    codec.CloseBadGateway,
			wantClientWhy: "upstream protocol error",
		},
		{
			name:         "client vanishes",
			client:       func(c *codec.Conn) { c.CloseNow() },
			wantUpstream: codec.CloseGoingAway,
		},
		{
			name: "client breaks the protocol",
			client: func(c *codec.Conn) {
				c.NetConn().Write([]byte{0x81, 0x01, 'x'}) // unmasked
			},
			wantClient:    codec.CloseProtocolError,
			wantClientWhy: "unmasked frame from a client",
			wantUpstream:  codec.CloseGoingAway,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upstreamSaw := make(chan closeResult, 1)
			up := startUpstream(t, nil, func(c *codec.Conn) {
				if _, _, err := c.ReadMessage(); err != nil {
					upstreamSaw <- closeResult{err: err}
					return
				}
				if tt.upstream != nil {
					tt.upstream(c)
					return
				}
				upstreamSaw <- readUntilClose(c)
				c.Close(codec.CloseNormal, "")
			})
			_, addr := startProxy(t, simpleConfig, map[string]string{"up": up.addr})
			c, _ := dialProxy(t, "ws://"+addr+"/", nil)
			if err := c.WriteMessage(codec.Text, []byte("go")); err != nil {
				t.Fatal(err)
			}
			if tt.client != nil {
				tt.client(c)
			}
			if tt.wantClient != 0 {
				got := readUntilClose(c)
				if got.code != tt.wantClient || got.reason != tt.wantClientWhy {
					t.Errorf("client saw %v %q (%v), want %v %q", got.code, got.reason, got.err, tt.wantClient, tt.wantClientWhy)
				}
			}
			if tt.wantUpstream != 0 {
				select {
				case got := <-upstreamSaw:
					if got.code != tt.wantUpstream || (tt.wantUpstreamWh != "" && got.reason != tt.wantUpstreamWh) {
						t.Errorf("upstream saw %v %q (%v), want %v %q", got.code, got.reason, got.err, tt.wantUpstream, tt.wantUpstreamWh)
					}
				case <-time.After(10 * time.Second):
					t.Fatal("the upstream never saw the close")
				}
			}
		})
	}
}

func TestProxy_MessageTooBig(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	_, addr := startProxy(t, `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
route "r" {
  upstream = "echo"
  limits { max_message_size = "1KiB" }
}
`, map[string]string{"up": up.addr})
	c, _ := dialProxy(t, "ws://"+addr+"/", nil)
	c.WriteMessage(codec.Binary, make([]byte, 1024))
	if _, p, err := c.ReadMessage(); err != nil || len(p) != 1024 {
		t.Fatalf("a message at the limit: %d bytes, %v", len(p), err)
	}
	c.BufferFrame(false, codec.OpBinary, make([]byte, 1000))
	c.BufferFrame(true, codec.OpContinuation, make([]byte, 25))
	c.Flush()
	if got := readUntilClose(c); got.code != codec.CloseMessageTooBig {
		t.Fatalf("client saw %v (%v), want 1009", got.code, got.err)
	}
}

func TestProxy_IdleTimeout(t *testing.T) {
	// With parkAfter short, the legs are parked when the timeout falls.
	for _, parkAfter := range []time.Duration{parkAfter, 10 * time.Millisecond} {
		t.Run("park after "+parkAfter.String(), func(t *testing.T) {
			upstreamSaw := make(chan closeResult, 1)
			up := startUpstream(t, nil, func(c *codec.Conn) { upstreamSaw <- readUntilClose(c) })
			_, addr := startProxyWith(t, `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
route "r" {
  upstream = "echo"
  limits { idle_timeout = "200ms" }
}
`, map[string]string{"up": up.addr}, nil, func(p *Proxy) { p.parkAfter = parkAfter })
			c, _ := dialProxy(t, "ws://"+addr+"/", nil)
			if got := readUntilClose(c); got.code != codec.CloseGoingAway || got.reason != "idle timeout" {
				t.Fatalf("client saw %v %q (%v), want 1001 idle timeout", got.code, got.reason, got.err)
			}
			if got := <-upstreamSaw; got.code != codec.CloseGoingAway {
				t.Fatalf("upstream saw %v (%v), want 1001", got.code, got.err)
			}
		})
	}
}

func TestProxy_KeepalivePings(t *testing.T) {
	// The upstream counts the proxy's pings by the pongs its Conn sends:
	// it simply reads; pings are answered inside ReadMessage.
	up := startUpstream(t, nil, echoHandler)
	_, addr := startProxy(t, `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
route "r" {
  upstream = "echo"
  limits {
    ping_interval = "50ms"
    pong_timeout  = "100ms"
  }
}
`, map[string]string{"up": up.addr})
	// A raw client that never answers pings is dropped after the pong
	// timeout; the pings must arrive first.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	all, _ := readAll(nc)
	if !bytes.Contains(all, []byte("101 Switching Protocols")) {
		t.Fatalf("no 101: %q", all)
	}
	body := all[bytes.Index(all, []byte("\r\n\r\n"))+4:]
	if len(body) < 2 || body[0] != 0x89 {
		t.Fatalf("expected a ping first, got % x", body)
	}
}

func readAll(nc net.Conn) ([]byte, error) {
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := nc.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			return out, err
		}
	}
}

func TestProxy_Shutdown(t *testing.T) {
	upstreamSaw := make(chan closeResult, 1)
	up := startUpstream(t, nil, func(c *codec.Conn) { upstreamSaw <- readUntilClose(c) })
	src := strings.ReplaceAll(simpleConfig, "{{up}}", up.addr)
	cfg, diags := config.Parse([]byte(src), "test.hcl", t.TempDir())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p := New(cfg, nil)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	c, _ := dialProxy(t, "ws://"+p.Addr("public").String()+"/", nil)
	clientSaw := make(chan closeResult, 1)
	go func() { clientSaw <- readUntilClose(c) }()
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
	if _, err := net.Dial("tcp", p.Addr("public").String()); err == nil {
		t.Error("the listener still accepts after shutdown")
	}
}

// testCA makes a CA and a server certificate for 127.0.0.1, written as PEM
// files in dir.
func testCA(t testing.TB, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "wasmgate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("cert.pem", "CERTIFICATE", der), write("key.pem", "EC PRIVATE KEY", keyDER)
}

func TestProxy_TLSBothLegs(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := testCA(t, dir)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	// A wss upstream.
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
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
				codec.Echo(c)
			}()
		}
	}()
	_, addr := startProxy(t, `
listener "public" {
  address = "127.0.0.1:0"
  tls {
    cert_file = "{{cert}}"
    key_file  = "{{key}}"
  }
}
upstream "secure" {
  servers = ["wss://{{up}}"]
  tls { ca_file = "{{ca}}" }
}
route "r" { upstream = "secure" }
`, map[string]string{"cert": certFile, "key": keyFile, "ca": caFile, "up": ln.Addr().String()})

	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(caPEM)
	c, _ := dialProxy(t, "wss://"+addr+"/", &codec.Dialer{TLSConfig: &tls.Config{RootCAs: pool}})
	if err := c.WriteMessage(codec.Text, []byte("over tls")); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.ReadMessage(); err != nil || string(got) != "over tls" {
		t.Fatalf("got %q %v", got, err)
	}

	// The upstream's certificate, unverified on request or untrusted.
	for _, tt := range []struct {
		name, tls string
		status    int
	}{
		{"insecure_skip_verify", "tls { insecure_skip_verify = true }", 0},
		{"untrusted upstream certificate", "", http.StatusBadGateway},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, plain := startProxy(t, `
listener "public" { address = "127.0.0.1:0" }
upstream "secure" {
  servers = ["wss://{{up}}"]
  `+tt.tls+`
}
route "r" { upstream = "secure" }
`, map[string]string{"up": ln.Addr().String()})
			c, _, err := (&codec.Dialer{}).Dial(context.Background(), "ws://"+plain+"/")
			if tt.status == 0 {
				if err != nil {
					t.Fatal(err)
				}
				c.CloseNow()
				return
			}
			var se *codec.StatusError
			if !errors.As(err, &se) || se.Status != tt.status {
				t.Fatalf("got %v, want status %d", err, tt.status)
			}
		})
	}

	// A client that does not trust the proxy's certificate fails the TLS
	// handshake, and the proxy survives it.
	_, _, err = (&codec.Dialer{}).Dial(context.Background(), "wss://"+addr+"/")
	var de *codec.DialError
	if !errors.As(err, &de) || de.Op != "tls" {
		t.Fatalf("untrusted dial: %v, want a TLS DialError", err)
	}
}

func TestProxy_NoLeaks(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	_, addr := startProxy(t, simpleConfig, map[string]string{"up": up.addr})
	// Warm up pools and the listener goroutines, then take the baseline.
	c, _ := dialProxy(t, "ws://"+addr+"/", nil)
	c.Close(codec.CloseNormal, "")
	time.Sleep(50 * time.Millisecond)
	base := runtime.NumGoroutine()
	for i := 0; i < 20; i++ {
		c, _ := dialProxy(t, "ws://"+addr+"/", nil)
		c.WriteMessage(codec.Text, []byte("x"))
		c.ReadMessage()
		if i%2 == 0 {
			c.Close(codec.CloseNormal, "")
		} else {
			c.CloseNow()
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > base {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines, baseline %d:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

func TestProxy_BadRequests(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	p, addr := startProxy(t, simpleConfig+`
limits {
  handshake_timeout = "200ms"
  max_header_size   = "1KiB"
}
`, map[string]string{"up": up.addr})
	defer func() {
		for status, want := range map[string]float64{"400": 10, "405": 1, "505": 1} {
			got, _ := seriesValue(t, p, "wasmgate_handshakes_total", map[string]string{"outcome": "bad_request", "status": status})
			if got != want {
				t.Errorf("wasmgate_handshakes_total{outcome=bad_request,status=%s} = %v, want %v", status, got, want)
			}
		}
	}()
	upgrade := "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	tests := []struct {
		name    string
		request string
		status  string
	}{
		{"plain HTTP request", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "400"},
		{"POST", "POST / HTTP/1.1\r\nHost: x\r\n\r\n", "405"},
		{"HTTP/1.0", "GET / HTTP/1.0\r\n\r\n", "505"},
		{"wrong WebSocket version", strings.Replace(upgrade, "Version: 13", "Version: 8", 1) + "\r\n", "426"},
		{"header too large", upgrade + "X-Big: " + strings.Repeat("a", 2048) + "\r\n\r\n", "431"},
		{"request never finished", upgrade, "408"},
		// Smuggling tricks and conflicting handshake headers.
		{"two Host headers", upgrade + "Host: y\r\n\r\n", "400"},
		{"Transfer-Encoding", upgrade + "Transfer-Encoding: chunked\r\n\r\n", "400"},
		{"Content-Length", upgrade + "Content-Length: 5\r\n\r\nhello", "400"},
		{"obs-fold", upgrade + "X-A: 1\r\n folded\r\n\r\n", "400"},
		{"bare LF", strings.Replace(upgrade, "Host: x\r\n", "Host: x\n", 1) + "\r\n", "400"},
		{"two keys", upgrade + "Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\n\r\n", "400"},
		{"space before the colon", upgrade + "X-A : 1\r\n\r\n", "400"},
		{"absolute-form target", strings.Replace(upgrade, "GET / ", "GET http://evil.example/ ", 1) + "\r\n", "400"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			nc.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := nc.Write([]byte(tt.request)); err != nil {
				t.Fatal(err)
			}
			resp, _ := readAll(nc) // the proxy answers, then closes
			if !strings.HasPrefix(string(resp), "HTTP/1.1 "+tt.status+" ") {
				t.Fatalf("got %q, want status %s and a closed socket", resp, tt.status)
			}
		})
	}
}

// TestProxy_TwoGoroutinesPerConnection holds the design's bound: a proxied
// connection costs two goroutines while data flows.
func TestProxy_TwoGoroutinesPerConnection(t *testing.T) {
	up := startUpstream(t, nil, echoHandler) // one goroutine per connection here
	_, addr := startProxy(t, simpleConfig, map[string]string{"up": up.addr})
	warm, _ := dialProxy(t, "ws://"+addr+"/", nil)
	warm.WriteMessage(codec.Text, []byte("x"))
	warm.ReadMessage()
	base := runtime.NumGoroutine()
	const n = 20
	for range n {
		c, _ := dialProxy(t, "ws://"+addr+"/", nil)
		c.WriteMessage(codec.Text, []byte("x"))
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
	}
	// The test's clients run no goroutine; the upstream runs one per
	// connection; the rest is the proxy's.
	if got := runtime.NumGoroutine() - base; got > 3*n {
		t.Fatalf("%d connections added %d goroutines: more than 2 per connection in the proxy", n, got)
	}
}

func TestProxy_ShutdownCutsPendingHandshakes(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	src := strings.ReplaceAll(simpleConfig, "{{up}}", up.addr)
	cfg, diags := config.Parse([]byte(src), "test.hcl", t.TempDir())
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	p := New(cfg, nil)
	if err := p.Start(); err != nil {
		t.Fatal(err)
	}
	// A client that connects and never sends its request: its handshake
	// would last the 10s handshake timeout.
	nc, err := net.Dial("tcp", p.Addr("public").String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for deadline, pending := time.Now().Add(5*time.Second), 0; pending == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the proxy never accepted the connection")
		}
		p.mu.Lock()
		pending = len(p.pending)
		p.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Shutdown(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v, want the context's deadline", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Shutdown waited for a pending handshake past its context")
	}
}
