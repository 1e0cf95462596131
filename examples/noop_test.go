package examples_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/plugins"
)

// TestNoop runs examples/noop: the module exports the message hook (so
// the proxy hands it every message), and every message, of either type
// and any size, comes back through it unchanged in both directions.
func TestNoop(t *testing.T) {
	wasm, err := os.ReadFile("noop/noop.wasm")
	if err != nil {
		t.Fatalf("noop.wasm is missing (rebuild with make wasm): %v", err)
	}
	info, err := plugins.Inspect(context.Background(), "noop", wasm)
	if err != nil {
		t.Fatalf("inspect noop.wasm: %v", err)
	}
	if !info.Hooks.Messages {
		t.Fatal("noop.wasm exports no message hook: the proxy would stream past it")
	}

	e := startExample(t, "noop", nil)
	c := e.mustDial(t, "/", nil)
	cases := []struct {
		name    string
		typ     codec.MessageType
		payload string
	}{
		{"empty text", codec.Text, ""},
		{"text", codec.Text, "hello"},
		{"text with an address and a card", codec.Text, "mail ann@example.com, pay 4111 1111 1111 1111"},
		{"non-ASCII text", codec.Text, "日本 ünïcødé"},
		{"binary with NUL bytes", codec.Binary, "\x00\x01\x02\xff\x00"},
		{"empty binary", codec.Binary, ""},
		{"large text", codec.Text, strings.Repeat("0123456789abcdef", 64<<10)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			send(t, c, tc.typ, tc.payload)
			typ, got := receive(t, c)
			if typ != tc.typ || got != tc.payload {
				t.Fatalf("got %v, %d bytes, want %v, %d bytes unchanged", typ, len(got), tc.typ, len(tc.payload))
			}
		})
	}
	// A message the upstream originates goes through the filter the
	// other way.
	send(t, c, codec.Binary, "text:from upstream")
	expect(t, c, codec.Text, "from upstream")
}
