package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/internal/guests"
	"github.com/wasmgate/wasmgate/internal/wasmbin"
	"github.com/wasmgate/wasmgate/sdk/abi"
)

// newSharedHost makes a host on caches, closed at the end of the test.
func newSharedHost(t *testing.T, caches *CompilationCaches) *Host {
	t.Helper()
	h := NewHost(HostOptions{Logger: slog.New(slog.DiscardHandler), Caches: caches})
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

// roundTrip opens a connection through p, sends one text message, and
// returns what went on.
func roundTrip(t *testing.T, p *Plugin, msg string) string {
	t.Helper()
	c, v := NewChain(1<<20, p).Open(&Request{Method: "GET", Path: "/"}, &recordingPeer{})
	if v.Reject != nil {
		t.Fatalf("plugin %s refused: %d %s", p.Name(), v.Reject.Status, v.Reject.Body)
	}
	defer c.Close(CloseInfo{Code: codec.CloseNormal})
	res := c.Messages(false, text(msg))
	if res.Close {
		t.Fatalf("plugin %s closed: %d %s", p.Name(), res.Code, res.Reason)
	}
	return strings.Join(payloads(res.Forward), ",")
}

// TestCompilationCaches_SharedAcrossHosts checks that hosts sharing
// caches can close in any order: the code a closed host's plugin
// compiled stays usable by the other host that compiled the same bytes,
// which still starts new instances of it, and by a host loaded later.
func TestCompilationCaches_SharedAcrossHosts(t *testing.T) {
	wasm := guests.Build(t, "plugins/testdata/guest")
	caches := NewCompilationCaches()
	t.Cleanup(func() { caches.Close(context.Background()) })
	spec := func(tag string) Spec {
		return Spec{Name: "f", Wasm: wasm, Config: []byte(`{"tag":"` + tag + `"}`), Instances: 1, Timeout: time.Second}
	}
	h1, h2 := newSharedHost(t, caches), newSharedHost(t, caches)
	p1, p2 := load(t, h1, spec("1")), load(t, h2, spec("2"))
	for _, p := range []*Plugin{p1, p2} {
		if compile, start := p.LoadTimes(); compile <= 0 || start <= 0 {
			t.Errorf("plugin %s: LoadTimes() = %v, %v", p.Name(), compile, start)
		}
	}
	if err := h1.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !p1.Closed() || p1.Instances() != 0 {
		t.Fatalf("after its host's Close: Closed() = %v, Instances() = %d", p1.Closed(), p1.Instances())
	}

	// A fault makes p2 instantiate again from the shared compiled code.
	c, _ := NewChain(1<<20, p2).Open(&Request{}, &recordingPeer{})
	if res := c.Messages(false, text("cmd:trap")); !res.Close {
		t.Fatalf("cmd:trap: %+v, want a close", res)
	}
	if got := p2.Counters().Snapshot(); got.Restarts != 1 || p2.Instances() != 1 {
		t.Fatalf("after the fault: %+v, Instances() = %d; want a restart", got, p2.Instances())
	}
	if got := roundTrip(t, p2, "hi"); got != "hi|2" {
		t.Errorf("the second host's revived instance gave %q, want hi|2", got)
	}

	// A third host finds the code in the cache.
	p3 := load(t, newSharedHost(t, caches), spec("3"))
	if got := roundTrip(t, p3, "hi"); got != "hi|3" {
		t.Errorf("a later host's plugin gave %q, want hi|3", got)
	}
	if caches.closed {
		t.Error("a host closed caches it was given")
	}

	// Closed caches refuse a Load instead of failing inside wazero.
	caches.Close(context.Background())
	if _, err := newSharedHost(t, caches).Load(context.Background(), spec("4")); !errors.Is(err, ErrCachesClosed) {
		t.Errorf("Load with closed caches: %v, want ErrCachesClosed", err)
	}
}

// TestCompilationCaches_Dir checks that an on-disk cache serves new
// caches on the same directory, as after a restart of the process.
func TestCompilationCaches_Dir(t *testing.T) {
	dir := t.TempDir()
	wasm := rawGuest([]string{abi.ImportMessageDrop}, nil, continueOpen, dropAll)
	for i := range 2 {
		caches := NewCompilationCaches()
		h := newSharedHost(t, caches)
		p := load(t, h, Spec{Name: "dropper", Wasm: wasm, Instances: 1, CacheDir: dir})
		if got := roundTrip(t, p, "x"); got != "" {
			t.Errorf("run %d: %q went on, want it dropped", i, got)
		}
		h.Close(context.Background())
		if err := caches.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHost_OwnCaches checks that a host without HostOptions.Caches closes
// the caches it made.
func TestHost_OwnCaches(t *testing.T) {
	h := NewHost(HostOptions{Logger: slog.New(slog.DiscardHandler)})
	load(t, h, Spec{Name: "p", Instances: 1, Wasm: rawGuest(nil, nil, continueOpen)})
	h.Close(context.Background())
	if !h.caches.closed {
		t.Error("Close left the host's own caches open")
	}
}

// TestHost_Retire checks the graceful close of a host: Load refuses at
// once, a plugin without connections closes at once, and one with
// connections serves them until the last one ends, then closes, with
// its timers.
func TestHost_Retire(t *testing.T) {
	// on_start sets a plugin-wide timer; on_tick counts.
	start := wasmbin.Func{Export: abi.ExportOnStart, Results: i32s(1), Body: wasmbin.Concat(
		wasmbin.I32Const(0), wasmbin.I32Const(abi.MinTickPeriodMillis), wasmbin.Call(0), wasmbin.Drop(), wasmbin.I32Const(0))}
	tick := wasmbin.Func{Export: abi.ExportOnTick, Params: i32s(1), Body: wasmbin.Concat(
		wasmbin.I32Const(16), wasmbin.I32Const(5), wasmbin.I64Const(1), wasmbin.I64Const(0), wasmbin.Call(1), wasmbin.Drop())}
	// dropAll, with message_drop as import 2.
	drop := dropAll
	drop.Body = wasmbin.Concat(
		wasmbin.Block(), wasmbin.Loop(),
		wasmbin.LocalGet(3), wasmbin.LocalGet(2), wasmbin.I32Eq(), wasmbin.BrIf(1),
		wasmbin.LocalGet(3), wasmbin.Call(2), wasmbin.Drop(),
		wasmbin.LocalGet(3), wasmbin.I32Const(1), wasmbin.I32Add(), wasmbin.LocalSet(3),
		wasmbin.Br(0),
		wasmbin.End(), wasmbin.End(),
		wasmbin.I32Const(0),
	)
	wasm := rawGuest([]string{abi.ImportTickSet, abi.ImportKVAdd, abi.ImportMessageDrop},
		[]wasmbin.Data{{Offset: 16, Bytes: []byte("ticks")}}, start, tick, continueOpen, drop)

	for _, conns := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("%d connections", conns), func(t *testing.T) {
			h := NewHost(HostOptions{Logger: slog.New(slog.DiscardHandler)})
			t.Cleanup(func() { h.Close(context.Background()) })
			p := load(t, h, Spec{Name: "old", Instances: 2, Wasm: wasm})
			unused := load(t, h, Spec{Name: "unused", Instances: 1, Wasm: wasm})
			ch := NewChain(0, p)
			var open []*Conn
			for range conns {
				c, v := ch.Open(&Request{}, &recordingPeer{})
				if v.Reject != nil {
					t.Fatal(v.Reject)
				}
				open = append(open, c)
			}

			h.Retire()
			if _, err := h.Load(context.Background(), Spec{Name: "late", Wasm: wasm}); !errors.Is(err, ErrHostClosed) {
				t.Errorf("Load after Retire: %v, want ErrHostClosed", err)
			}
			if !unused.Closed() {
				t.Error("a plugin without connections did not close at Retire")
			}
			for i, c := range open {
				if p.Closed() {
					t.Fatalf("closed with %d connections open", len(open)-i)
				}
				if got := p.Connections(); got != len(open)-i {
					t.Errorf("Connections() = %d, want %d", got, len(open)-i)
				}
				// The filter still runs: it drops the message.
				if res := c.Messages(false, text("x")); res.Close || len(res.Forward) != 0 {
					t.Errorf("connection %d after Retire: %+v, want the message dropped", i, res)
				}
				c.Close(CloseInfo{Code: codec.CloseNormal})
			}
			if !p.Closed() || p.Instances() != 0 || p.Connections() != 0 {
				t.Fatalf("after the last connection: Closed() = %v, Instances() = %d, Connections() = %d",
					p.Closed(), p.Instances(), p.Connections())
			}
			for i, s := range p.slots {
				s.mu.Lock()
				if len(s.ticks) != 0 {
					t.Errorf("slot %d keeps %d timers after the close", i, len(s.ticks))
				}
				s.mu.Unlock()
			}
			if !h.caches.closed {
				t.Error("the retired host's own caches stay open after its last plugin closed")
			}
			// The closed plugin refuses new connections.
			if _, v := ch.Open(&Request{}, &recordingPeer{}); v.Reject == nil || v.Reject.Status != http.StatusServiceUnavailable {
				t.Errorf("a handshake on the closed plugin: %+v, want 503", v.Reject)
			}
		})
	}
}
