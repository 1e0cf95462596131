package plugins

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/internal/guests"
)

// benchHost is a host whose log is discarded.
func benchHost(b *testing.B) *Host {
	h := NewHost(HostOptions{Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	b.Cleanup(func() { h.Close(context.Background()) })
	return h
}

// benchGuests are the guests of the message benchmarks: a hand-written
// pass-through (the host's own cost), and the Go SDK's test guest without
// config (a no-op filter that still reads each message to look for a
// command) and with a tag (a filter that rewrites every message).
func benchGuests(b *testing.B) []struct {
	name   string
	wasm   []byte
	config string
} {
	goGuest := guests.Build(b, "plugins/testdata/guest")
	return []struct {
		name   string
		wasm   []byte
		config string
	}{
		{"raw-noop", rawGuest(nil, nil, continueOpen, passMessages), ""},
		{"go-noop", goGuest, ""},
		{"go-rewrite", goGuest, `{"tag":"a"}`},
	}
}

// BenchmarkChain_Message runs batches of 128-byte text messages through a
// one-filter chain, in checked and plain sandboxes. ns/op is per message;
// allocs/op counts the host and wazero.
func BenchmarkChain_Message(b *testing.B) {
	for _, g := range benchGuests(b) {
		for _, plain := range []bool{false, true} {
			sandbox := "checked"
			if plain {
				sandbox = "plain"
			}
			for _, batch := range []int{1, 16} {
				b.Run(fmt.Sprintf("%s/%s/batch=%d", g.name, sandbox, batch), func(b *testing.B) {
					h := benchHost(b)
					// A Go guest's garbage collector stops it for 10-25 ms now
					// and then (measured here), over the 5 ms default.
					p, err := h.Load(context.Background(), Spec{Name: "bench", Wasm: g.wasm, Config: []byte(g.config), Instances: 1, Plain: plain, Timeout: 100 * time.Millisecond})
					if err != nil {
						b.Fatal(err)
					}
					conn, v := NewChain(1<<20, p).Open(&Request{Method: "GET", Path: "/"}, &recordingPeer{})
					if v.Reject != nil {
						b.Fatal(v.Reject)
					}
					msgs := make([]Message, batch)
					for i := range msgs {
						msgs[i] = Message{Type: codec.Text, Payload: make([]byte, 128)}
						for j := range msgs[i].Payload {
							msgs[i].Payload[j] = 'a' + byte(j%26)
						}
					}
					b.SetBytes(int64(128 * batch))
					b.ReportAllocs()
					for b.Loop() {
						res := conn.Messages(false, msgs)
						if len(res.Forward) != batch || res.Close {
							b.Fatalf("Result %+v", res)
						}
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/msg")
					conn.Close(CloseInfo{Code: codec.CloseNormal})
				})
			}
		}
	}
}

// BenchmarkChain_AuthHandshake opens and closes a connection through a
// filter that checks a header, as an authentication filter does.
func BenchmarkChain_AuthHandshake(b *testing.B) {
	h := benchHost(b)
	config := `{"require_header":{"name":"authorization","value":"Bearer secret","status":401,"body":"no"}}`
	p, err := h.Load(context.Background(), Spec{Name: "auth", Wasm: guests.Build(b, "plugins/testdata/guest"), Config: []byte(config), Instances: 1})
	if err != nil {
		b.Fatal(err)
	}
	ch := NewChain(1<<20, p)
	req := &Request{Method: "GET", URI: "/chat", Path: "/chat", Host: "example.com", RemoteAddr: "127.0.0.1:1234",
		Header: http.Header{"Authorization": {"Bearer secret"}, "Origin": {"https://example.com"}}}
	peer := &recordingPeer{}
	b.ReportAllocs()
	for b.Loop() {
		conn, v := ch.Open(req, peer)
		if v.Reject != nil {
			b.Fatalf("rejected: %d %s", v.Reject.Status, v.Reject.Body)
		}
		conn.Close(CloseInfo{Code: codec.CloseNormal})
	}
}
