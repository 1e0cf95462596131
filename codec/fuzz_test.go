package codec

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"
	"unicode/utf8"
)

// streamConn reads from a fixed byte stream (then EOF) and records writes.
type streamConn struct {
	r   io.Reader
	out bytes.Buffer
}

func (c *streamConn) Read(p []byte) (int, error)         { return c.r.Read(p) }
func (c *streamConn) Write(p []byte) (int, error)        { return c.out.Write(p) }
func (c *streamConn) Close() error                       { return nil }
func (c *streamConn) LocalAddr() net.Addr                { return &net.TCPAddr{} }
func (c *streamConn) RemoteAddr() net.Addr               { return &net.TCPAddr{} }
func (c *streamConn) SetDeadline(time.Time) error        { return nil }
func (c *streamConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *streamConn) SetWriteDeadline(t time.Time) error { return nil }

// FuzzReadFrame feeds arbitrary bytes to a server Conn. It must never
// panic, never return more than the limits allow, return only valid UTF-8
// in text messages, and end every failure with a close frame carrying a
// valid code.
func FuzzReadFrame(f *testing.F) {
	f.Add(clientFrames(5, 2), false)
	f.Add([]byte{0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3, 'l' ^ 4, 'o' ^ 1}, false)
	f.Add([]byte{0x01, 0x81, 0, 0, 0, 0, 0xce, 0x80, 0x81, 0, 0, 0, 0, 0xba}, true)
	f.Add([]byte{0x89, 0x80, 0, 0, 0, 0, 0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8}, false)
	f.Add([]byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0}, false)
	f.Fuzz(func(t *testing.T, data []byte, split bool) {
		var r io.Reader = bytes.NewReader(data)
		if split {
			r = &oneByteReader{data: data}
		}
		nc := &streamConn{r: r}
		c := NewConn(nc, ServerRole, &Options{MaxMessageSize: 1 << 16}, nil)
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				var pe *ProtocolError
				if errors.As(err, &pe) && !pe.Code.ValidOnWire() {
					t.Fatalf("failed with code %d, not valid on the wire", pe.Code)
				}
				return
			}
			if len(p) > 1<<16 {
				t.Fatalf("message of %d bytes over the 64 KiB limit", len(p))
			}
			if typ == Text && !utf8.Valid(p) {
				t.Fatalf("invalid UTF-8 text returned: %q", p)
			}
		}
	})
}

type oneByteReader struct{ data []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	p[0] = r.data[0]
	r.data = r.data[1:]
	return 1, nil
}

// FuzzUpgrade feeds arbitrary requests to the Upgrader: it must never
// panic, and must answer every request with an HTTP status line.
func FuzzUpgrade(f *testing.F) {
	f.Add([]byte("GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, b\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte("POST / HTTP/1.0\r\n\r\n"))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n"))
	f.Fuzz(func(t *testing.T, req []byte) {
		nc := &streamConn{r: bytes.NewReader(req)}
		u := Upgrader{MaxHeaderBytes: 1024, Decide: func(r *Request) (*Response, error) {
			if len(r.Protocols) > 0 {
				return &Response{Protocol: r.Protocols[0]}, nil
			}
			return nil, nil
		}}
		c, _, err := u.Upgrade(nc)
		out := nc.out.Bytes()
		if err == nil {
			if !bytes.HasPrefix(out, []byte("HTTP/1.1 101 ")) {
				t.Fatalf("accepted with %q", out)
			}
			c.CloseNow()
			return
		}
		if len(out) > 0 && !bytes.HasPrefix(out, []byte("HTTP/1.1 ")) {
			t.Fatalf("refused with %q", out)
		}
	})
}

// FuzzUTF8Validator checks the streaming validator against the standard
// library for every split of the input into two pieces.
func FuzzUTF8Validator(f *testing.F) {
	for _, s := range []string{"", "a", "κόσμε", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "🚀x", "\xe2\x82"} {
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, p []byte, at uint8) {
		i := int(at) % (len(p) + 1)
		var v utf8Validator
		got := v.Feed(p[:i]) && v.Feed(p[i:]) && v.Done()
		if want := utf8.Valid(p); got != want {
			t.Fatalf("split at %d of %q: validator says %v, utf8.Valid says %v", i, p, got, want)
		}
	})
}
