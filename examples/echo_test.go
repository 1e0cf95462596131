package examples_test

import (
	"testing"

	"github.com/wasmgate/wasmgate/codec"
)

// TestEcho runs the plain proxying example: no plugin, one upstream.
func TestEcho(t *testing.T) {
	e := startExample(t, "echo", nil)
	c := e.mustDial(t, "/echo", nil)
	if got := roundTrip(t, c, "hello"); got != "hello" {
		t.Fatalf("echo: got %q", got)
	}
	send(t, c, codec.Binary, "\x00\x01")
	expect(t, c, codec.Binary, "\x00\x01")
	if got := roundTrip(t, c, "whoami"); got != "127.0.0.1:9000" {
		t.Fatalf("whoami: got %q", got)
	}
	send(t, c, codec.Binary, "text:from upstream")
	expect(t, c, codec.Text, "from upstream")
	if n := len(e.Backends["127.0.0.1:9000"].handshakes()); n != 1 {
		t.Fatalf("backend saw %d handshakes, want 1", n)
	}
	if se := e.refusal(t, "/nowhere", nil); se.Status != 404 {
		t.Fatalf("unrouted path: status %d, want 404", se.Status)
	}
}
