// Package examples_test runs every example plugin through the real proxy
// with its own example configuration, against test backends that stand in
// for `wasmgate echo`.
package examples_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/proxy"
	"github.com/wasmgate/wasmgate/proxy/config"
)

// testTimeout bounds every read and dial of a test: long enough for a
// loaded CI machine, short enough that a hang fails instead of stalling.
const testTimeout = 10 * time.Second

// example is a running proxy serving one example's configuration.
type example struct {
	// Addr is the proxy's listener, host:port.
	Addr string
	// Backends are the test upstreams, by the address written in the
	// configuration ("127.0.0.1:9000").
	Backends map[string]*backend
	// Proxy is the running proxy; Proxy.Plugins().Metrics() holds the
	// plugins' metrics.
	Proxy *proxy.Proxy
}

var (
	listenerAddr = regexp.MustCompile(`"127\.0\.0\.1:8080"`)
	upstreamAddr = regexp.MustCompile(`ws://(127\.0\.0\.1:\d+)`)
)

// startExample runs wasmgate on examples/<dir>/wasmgate.hcl.
func startExample(t *testing.T, dir string, env map[string]string) *example {
	t.Helper()
	return startExampleFile(t, dir, "wasmgate.hcl", env)
}

// startExampleFile runs wasmgate on examples/<dir>/<file> with the
// listener on a free port and every ws://127.0.0.1:NNNN upstream server
// replaced by a test backend; env is set with t.Setenv first. Plugin paths
// resolve against the example's directory, as they do for a user.
func startExampleFile(t *testing.T, dir, file string, env map[string]string) *example {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	src, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	if !listenerAddr.Match(src) {
		t.Fatalf("%s/%s: no listener on \"127.0.0.1:8080\"", dir, file)
	}
	src = listenerAddr.ReplaceAll(src, []byte(`"127.0.0.1:0"`))
	e := &example{Backends: map[string]*backend{}}
	src = upstreamAddr.ReplaceAllFunc(src, func(m []byte) []byte {
		name := string(upstreamAddr.FindSubmatch(m)[1])
		b, ok := e.Backends[name]
		if !ok {
			b = startBackend(t, name)
			e.Backends[name] = b
		}
		return []byte("ws://" + b.addr)
	})
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Parse(src, filepath.Join(dir, file), abs)
	if diags.HasErrors() {
		t.Fatalf("config %s/%s: %s", dir, file, diags.Error())
	}
	p := proxy.New(cfg, nil)
	if err := p.Start(); err != nil {
		t.Fatalf("start %s/%s: %v", dir, file, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	addr := p.Addr("public")
	if addr == nil {
		t.Fatalf("%s/%s: no listener named public", dir, file)
	}
	e.Addr, e.Proxy = addr.String(), p
	return e
}

// dial connects through the proxy to path (which may carry a query). A
// refused handshake returns a *codec.StatusError.
func (e *example) dial(t *testing.T, path string, h http.Header, protocols ...string) (*codec.Conn, error) {
	t.Helper()
	d := codec.Dialer{Header: h, Protocols: protocols}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, _, err := d.Dial(ctx, "ws://"+e.Addr+path)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.CloseNow() })
	return c, nil
}

// mustDial is dial for a handshake that must succeed.
func (e *example) mustDial(t *testing.T, path string, h http.Header, protocols ...string) *codec.Conn {
	t.Helper()
	c, err := e.dial(t, path, h, protocols...)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	return c
}

// refusal dials path, requires the handshake to be refused, and returns
// the refusal.
func (e *example) refusal(t *testing.T, path string, h http.Header, protocols ...string) *codec.StatusError {
	t.Helper()
	c, err := e.dial(t, path, h, protocols...)
	var se *codec.StatusError
	if !errors.As(err, &se) {
		if c != nil {
			c.CloseNow()
		}
		t.Fatalf("dial %s: got %v, want a refused handshake", path, err)
	}
	return se
}

// send writes one message.
func send(t *testing.T, c *codec.Conn, typ codec.MessageType, payload string) {
	t.Helper()
	if err := c.WriteMessage(typ, []byte(payload)); err != nil {
		t.Fatalf("write %q: %v", payload, err)
	}
}

// receive reads one message, failing the test after testTimeout.
func receive(t *testing.T, c *codec.Conn) (codec.MessageType, string) {
	t.Helper()
	c.NetConn().SetReadDeadline(time.Now().Add(testTimeout))
	typ, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, string(p)
}

// expect reads one message and requires its type and payload.
func expect(t *testing.T, c *codec.Conn, typ codec.MessageType, payload string) {
	t.Helper()
	gotType, got := receive(t, c)
	if gotType != typ || got != payload {
		t.Fatalf("got %v %q, want %v %q", gotType, got, typ, payload)
	}
}

// roundTrip sends a text message and returns the text that comes back.
func roundTrip(t *testing.T, c *codec.Conn, payload string) string {
	t.Helper()
	send(t, c, codec.Text, payload)
	_, got := receive(t, c)
	return got
}

// closed reads until the connection ends and returns the close the proxy
// sent; messages before it are skipped. It fails the test when the
// connection ends without a close frame.
func closed(t *testing.T, c *codec.Conn) *codec.CloseError {
	t.Helper()
	c.NetConn().SetReadDeadline(time.Now().Add(testTimeout))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *codec.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("read: got %v, want a close frame", err)
		}
		return ce
	}
}

// backend is a test upstream: it echoes every message with its type,
// except that the text "whoami" is answered with the backend's address in
// the configuration, and a binary message starting "text:" is answered
// with the rest as a text message, so a test can make the upstream
// originate text that no client-side filter touched.
type backend struct {
	name string // the address in the configuration
	addr string // where it really listens
	ln   net.Listener

	mu       sync.Mutex
	requests []*codec.Request
}

func startBackend(t *testing.T, name string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &backend{name: name, addr: ln.Addr().String(), ln: ln}
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	up := codec.Upgrader{Decide: func(r *codec.Request) (*codec.Response, error) {
		var resp codec.Response
		if len(r.Protocols) > 0 {
			resp.Protocol = r.Protocols[0]
		}
		return &resp, nil
	}}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				b.serve(&up, nc)
			}()
		}
	}()
	return b
}

func (b *backend) serve(up *codec.Upgrader, nc net.Conn) {
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(testTimeout))
	c, req, err := up.Upgrade(nc)
	if err != nil {
		return
	}
	nc.SetDeadline(time.Time{})
	b.mu.Lock()
	b.requests = append(b.requests, req)
	b.mu.Unlock()
	for {
		typ, p, err := c.ReadMessage()
		if err != nil {
			return
		}
		switch {
		case typ == codec.Text && string(p) == "whoami":
			err = c.WriteMessage(codec.Text, []byte(b.name))
		case typ == codec.Binary && bytes.HasPrefix(p, []byte("text:")):
			err = c.WriteMessage(codec.Text, p[len("text:"):])
		default:
			err = c.WriteMessage(typ, p)
		}
		if err != nil {
			return
		}
	}
}

// handshakes returns the upgrade requests the backend accepted, in order,
// with their headers.
func (b *backend) handshakes() []*codec.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*codec.Request(nil), b.requests...)
}

// lastHandshake returns the latest upgrade request the backend accepted,
// failing the test when there is none.
func (b *backend) lastHandshake(t *testing.T) *codec.Request {
	t.Helper()
	hs := b.handshakes()
	if len(hs) == 0 {
		t.Fatalf("backend %s received no handshake", b.name)
	}
	return hs[len(hs)-1]
}

// syncBuffer is a bytes.Buffer that several goroutines may write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
