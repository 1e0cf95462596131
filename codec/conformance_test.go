package codec_test

import (
	"errors"
	"net"
	"testing"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/internal/conformance"
)

// TestConformance runs the RFC 6455 conformance suite against the codec's
// own echo server.
func TestConformance(t *testing.T) {
	const limit = 16 << 20
	u := codec.Upgrader{Options: codec.Options{MaxMessageSize: limit}}
	addr := serveConformance(t, &u, func(c *codec.Conn) {
		codec.Echo(c) //nolint:errcheck // the suite checks the wire
	})
	conformance.Run(t, conformance.Target{Addr: addr, MaxMessageSize: limit})
}

// TestConformance_Compression runs the suite's permessage-deflate cases
// against a codec server that echoes whole messages, so that it
// compresses its echoes: once with the codec's defaults (context takeover,
// 15-bit windows, every offer honored as offered) and once restricted (no
// takeover either way, 10-bit windows: the codec compresses only messages
// that fit its window and asks the client for a 10-bit window where the
// client lets it).
func TestConformance_Compression(t *testing.T) {
	const limit = 16 << 20
	for _, tc := range []struct {
		name string
		cfg  codec.Compression
	}{
		{"defaults", codec.Compression{Threshold: -1}},
		{"restricted", codec.Compression{Threshold: -1, ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 10, ClientMaxWindowBits: 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := codec.Upgrader{Options: codec.Options{MaxMessageSize: limit}, Compression: &tc.cfg}
			addr := serveConformance(t, &u, echoMessages)
			cases := conformance.CompressionCases()
			conformance.RunCases(t, conformance.Target{Addr: addr, MaxMessageSize: limit, Compression: true}, cases)
		})
	}
}

// echoMessages echoes each whole message with WriteMessage, compressed
// when the connection compresses (codec.Echo relays frames, which are
// never compressed), and answers the end as codec.Echo does.
func echoMessages(c *codec.Conn) {
	for {
		typ, p, err := c.ReadMessage()
		if err != nil {
			var ce *codec.CloseError
			var pe *codec.ProtocolError
			switch {
			case errors.As(err, &ce):
				c.Close(ce.Code, "") //nolint:errcheck // completes the handshake
			case errors.As(err, &pe):
				c.Close(pe.Code, "") //nolint:errcheck // lingers so the close frame arrives
			default:
				c.CloseNow()
			}
			return
		}
		if err := c.WriteMessage(typ, p); err != nil {
			c.CloseNow()
			return
		}
	}
}

// serveConformance serves upgrades with u on loopback until the test
// ends, handing each connection to handle, and returns the address.
func serveConformance(t *testing.T, u *codec.Upgrader, handle func(*codec.Conn)) string {
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
				c, _, err := u.Upgrade(nc)
				if err != nil {
					nc.Close()
					return
				}
				handle(c)
			}()
		}
	}()
	return ln.Addr().String()
}
