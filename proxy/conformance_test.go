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
