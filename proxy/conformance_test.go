package proxy

import (
	"testing"

	"github.com/wasmgate/wasmgate/internal/conformance"
)

// TestConformance runs the RFC 6455 conformance suite against wasmgate in
// front of an echo server: every case is answered by the proxy's client
// leg, or relayed to the upstream and back.
func TestConformance(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	_, addr := startProxy(t, simpleConfig, map[string]string{"up": up.addr})
	conformance.Run(t, conformance.Target{Addr: addr, MaxMessageSize: 16 << 20})
}

// compressionConformanceConfig has a compressing route with the defaults
// (no context takeover, 15-bit windows) and one with context takeover and
// 10-bit windows. Both compress every message, however small, so that the
// echoes the suite inflates are compressed by wasmgate.
const compressionConformanceConfig = `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{up}}"] }
route "defaults" {
  exact_path            = "/defaults"
  upstream              = "echo"
  compression           = true
  compression_threshold = 0
}
route "takeover" {
  exact_path                   = "/takeover"
  upstream                     = "echo"
  compression                  = true
  compression_threshold        = 0
  compression_context_takeover = true
  compression_window_bits      = 10
}
`

// TestConformance_Compression runs the suite's permessage-deflate cases
// against the client leg of compressing routes, in front of an echo
// server that does not compress: wasmgate inflates what the suite sends
// and compresses the echo.
func TestConformance_Compression(t *testing.T) {
	up := startUpstream(t, nil, echoHandler)
	_, addr := startProxy(t, compressionConformanceConfig, map[string]string{"up": up.addr})
	cases := conformance.CompressionCases()
	for _, path := range []string{"/defaults", "/takeover"} {
		t.Run(path[1:], func(t *testing.T) {
			conformance.RunCases(t, conformance.Target{Addr: addr, Path: path, MaxMessageSize: 16 << 20, Compression: true}, cases)
		})
	}
}
