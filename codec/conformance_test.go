package codec_test

import (
	"net"
	"testing"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/internal/conformance"
)

// TestConformance runs the RFC 6455 conformance suite against the codec's
// own echo server.
func TestConformance(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const limit = 16 << 20
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				u := codec.Upgrader{Options: codec.Options{MaxMessageSize: limit}}
				c, _, err := u.Upgrade(nc)
				if err != nil {
					nc.Close()
					return
				}
				codec.Echo(c) //nolint:errcheck // the suite checks the wire
			}()
		}
	}()
	conformance.Run(t, conformance.Target{Addr: ln.Addr().String(), MaxMessageSize: limit})
}
