package codec

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/textproto"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// acceptToken in a fuzzed response stands for the Sec-WebSocket-Accept
// value that answers the Dialer's key, which is random: with it the fuzzer
// reaches the paths after a valid accept.
const acceptToken = "{accept}"

// responseConn plays a server that answers whatever request it is sent
// with a fixed response, then EOF.
type responseConn struct {
	streamConn
	resp []byte
	req  bytes.Buffer
}

func (c *responseConn) Write(p []byte) (int, error) { return c.req.Write(p) }

func (c *responseConn) Read(p []byte) (int, error) {
	if c.r == nil {
		resp := c.resp
		if key := requestKey(c.req.Bytes()); key != "" {
			sum := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
			resp = bytes.ReplaceAll(resp, []byte(acceptToken), []byte(base64.StdEncoding.EncodeToString(sum[:])))
		}
		c.r = bytes.NewReader(resp)
	}
	return c.r.Read(p)
}

// requestKey returns the Sec-WebSocket-Key of an upgrade request.
func requestKey(req []byte) string {
	for line := range strings.SplitSeq(string(req), "\r\n") {
		name, value, ok := strings.Cut(line, ":")
		if ok && textproto.CanonicalMIMEHeaderKey(name) == "Sec-Websocket-Key" {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

// FuzzDialResponse answers a Dialer's upgrade request with arbitrary bytes
// (where "{accept}" stands for the right Sec-WebSocket-Accept). Dial must
// return a Conn or an error, never panic or wait for more: a Conn only
// after a 101 with a subprotocol the Dialer offered, a *StatusError only
// for another status, with a bounded body, and otherwise a *DialError.
// Frames that follow the response in the same read must be read by the
// Conn as a client reads them, within the limits.
// http1Switching matches the status line of a 101 in HTTP/1.1 or a later
// HTTP/1 minor version.
var http1Switching = regexp.MustCompile(`^HTTP/1\.[1-9][0-9]* 101 `)

func FuzzDialResponse(f *testing.F) {
	ok := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
	f.Add([]byte(ok + "\r\n"))
	f.Add([]byte(ok + "Sec-WebSocket-Protocol: chat\r\nX-Extra: 1\r\n\r\n\x81\x02hi\x88\x02\x03\xe8"))
	f.Add([]byte(ok + "Sec-WebSocket-Protocol: other\r\n\r\n"))
	f.Add([]byte(ok + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n"))
	f.Add([]byte(strings.Replace(ok, "{accept}", "dGhlIHNhbXBsZSBub25jZQ==", 1) + "\r\n"))
	f.Add([]byte(strings.Replace(ok, "Connection: Upgrade\r\n", "", 1) + "\r\n"))
	f.Add([]byte(strings.Replace(ok, "HTTP/1.1", "HTTP/1.0", 1) + "\r\n"))
	f.Add([]byte(ok + "\r\n\x01\x03fra\x80\x03gme\x89\x00\x80\x03nts"))
	f.Add([]byte(ok + "\r\n\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"))
	f.Add([]byte(ok + "\r\n\x81\x80\x00\x00\x00\x00"))
	f.Add([]byte(ok))
	f.Add([]byte("HTTP/1.1 101 Switching Protocols\nUpgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Accept: {accept}\n\n"))
	f.Add([]byte(ok + "X-Folded: a\r\n b\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nno!!!"))
	f.Add([]byte("HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\n\r\n" + strings.Repeat("x", 5000)))
	f.Add([]byte("HTTP/1.1 99999999999999999999 Huge\r\n\r\n"))
	f.Add([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
	f.Add([]byte(""))

	f.Fuzz(func(t *testing.T, resp []byte) {
		nc := &responseConn{resp: resp}
		d := Dialer{
			Options:          Options{MaxMessageSize: 1 << 12},
			Protocols:        []string{"chat", "superchat"},
			HandshakeTimeout: time.Second,
			NetDial: func(context.Context, string, string) (net.Conn, error) {
				return nc, nil
			},
		}
		c, hs, err := d.Dial(context.Background(), "ws://fuzz.test/chat")
		if err != nil {
			if c != nil || hs != nil {
				t.Fatalf("Dial failed with %v and returned a Conn or a Handshake", err)
			}
			var se *StatusError
			var de *DialError
			switch {
			case errors.As(err, &se):
				if se.Status == 101 {
					t.Fatalf("refused with status 101: %v", err)
				}
				if len(se.Body) > maxErrorBody {
					t.Fatalf("refusal body of %d bytes kept, over %d", len(se.Body), maxErrorBody)
				}
			case errors.As(err, &de):
				if de.Op != "handshake" {
					t.Fatalf("failed in %q, not in the handshake: %v", de.Op, err)
				}
			default:
				t.Fatalf("Dial failed with %T %v", err, err)
			}
			return
		}
		defer c.CloseNow()
		// RFC 9110, section 2.5: a higher minor version of HTTP/1 is
		// processed as HTTP/1.1.
		if !http1Switching.Match(resp) {
			t.Fatalf("dialed with the response %q", resp)
		}
		if hs.Protocol != "" && !slices.Contains(d.Protocols, hs.Protocol) {
			t.Fatalf("subprotocol %q chosen, not one offered", hs.Protocol)
		}
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				var ce *CloseError
				var pe *ProtocolError
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.As(err, &ce) && !errors.As(err, &pe) {
					t.Fatalf("read ended with %T %v", err, err)
				}
				return
			}
			if len(p) > 1<<12 {
				t.Fatalf("message of %d bytes over the limit", len(p))
			}
			if typ == Text && !utf8.Valid(p) {
				t.Fatalf("invalid UTF-8 text returned: %q", p)
			}
		}
	})
}
