package codec

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// TestConn_FailsOnTheFirstTwoBytes: a frame whose first two bytes break
// the protocol fails the connection at once, without waiting for the rest
// of a header (a 64-bit length, a mask) that a garbage-sending peer never
// sends.
func TestConn_FailsOnTheFirstTwoBytes(t *testing.T) {
	tests := []struct {
		name   string
		role   Role
		b0, b1 byte
		want   StatusCode
	}{
		{"garbage: every bit set, from a server", ClientRole, 0xff, 0xff, CloseProtocolError},
		{"reserved bits, 64-bit length to come", ServerRole, 0xf2, 0xff, CloseProtocolError},
		{"reserved opcode, mask to come", ServerRole, 0x83, 0x80, CloseProtocolError},
		{"unmasked from a client, 16-bit length to come", ServerRole, 0x82, 0x7e, CloseProtocolError},
		{"masked from a server, 64-bit length to come", ClientRole, 0x82, 0xff, CloseProtocolError},
		{"ping announcing a 16-bit length", ServerRole, 0x89, 0xfe, CloseProtocolError},
		{"fragmented close", ServerRole, 0x08, 0x80, CloseProtocolError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			local, peer := net.Pipe()
			defer peer.Close()
			go func() {
				peer.Write([]byte{tt.b0, tt.b1}) //nolint:errcheck // the Conn reads it or fails
				buf := make([]byte, 64)
				for {
					if _, err := peer.Read(buf); err != nil { // the failing close frame, then EOF
						return
					}
				}
			}()
			c := NewConn(local, tt.role, &Options{MaxMessageSize: 1 << 20}, nil)
			defer c.CloseNow()
			local.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _, err := c.ReadMessage()
			var pe *ProtocolError
			if !errors.As(err, &pe) || pe.Code != tt.want {
				t.Fatalf("got %v, want a protocol error with %v before the rest of the header", err, tt.want)
			}
		})
	}
}

// TestConn_EOFInsideASmallPayload: a connection that ends after a whole
// header but before its payload of one or two bytes ended mid-frame, not
// cleanly between frames.
func TestConn_EOFInsideASmallPayload(t *testing.T) {
	for _, n := range []byte{1, 2} {
		header := []byte{0x81, 0x80 | n, 0, 0, 0, 0} // masked text, payload missing
		c := NewConn(&streamConn{r: bytes.NewReader(header)}, ServerRole, &Options{}, nil)
		_, _, err := c.ReadMessage()
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("payload of %d missing: %v, want io.ErrUnexpectedEOF", n, err)
		}
	}
}

// brokenWriteConn replays a byte stream, and every write to it fails, as
// to a peer that closed its socket right after its close frame.
type brokenWriteConn struct{ replayConn }

func (c *brokenWriteConn) Write([]byte) (int, error) { return 0, syscall.EPIPE }

// The peer's close is what the reader learns even when the answer to it
// cannot be written.
func TestConn_CloseWhenTheAnswerFails(t *testing.T) {
	w := &recordConn{}
	server := NewConn(w, ServerRole, nil, nil)
	if err := server.WriteClose(4001, "bye"); err != nil {
		t.Fatal(err)
	}
	client := NewConn(&brokenWriteConn{replayConn{data: w.buf}}, ClientRole, nil, nil)
	_, _, err := client.ReadMessage()
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != 4001 || ce.Reason != "bye" {
		t.Fatalf("ReadMessage: %v, want the peer's close 4001 \"bye\"", err)
	}
}
