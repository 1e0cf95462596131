package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/internal/guests"
	"github.com/wasmgate/wasmgate/internal/wasmbin"
	"github.com/wasmgate/wasmgate/sdk/abi"
)

// recordingPeer records what a chain asks of a connection outside the
// flow of messages.
type recordingPeer struct {
	mu     sync.Mutex
	sent   []string
	closes []string
}

func (p *recordingPeer) Send(toClient bool, typ codec.MessageType, payload []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.sent = append(p.sent, fmt.Sprintf("%v %d %s", toClient, typ, payload))
}

func (p *recordingPeer) Close(code codec.StatusCode, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closes = append(p.closes, fmt.Sprintf("%d %s", code, reason))
}

func (p *recordingPeer) closed() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.closes...)
}

// testLogger returns a logger writing into buf.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newHost(t testing.TB) (*Host, *lockedBuffer) {
	t.Helper()
	buf := &lockedBuffer{}
	h := NewHost(HostOptions{Logger: slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	t.Cleanup(func() { h.Close(context.Background()) })
	return h, buf
}

// load loads spec into h, failing t on error.
//
// A spec without a timeout gets one second, not DefaultTimeout: a Go
// guest's call can take longer than 5 ms on a loaded machine (its garbage
// collector), and a test that is not about deadlines must not fail then.
func load(t testing.TB, h *Host, spec Spec) *Plugin {
	t.Helper()
	if spec.Timeout == 0 {
		spec.Timeout = time.Second
	}
	p, err := h.Load(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func i32s(n int) []byte { return bytes.Repeat([]byte{abi.I32}, n) }

func TestInspect(t *testing.T) {
	withFunc := func(f wasmbin.Func) []byte {
		m := wasmbin.ABIv1()
		m.Funcs = append(m.Funcs, f)
		return m.Encode()
	}
	withImport := func(im wasmbin.Import) []byte {
		m := wasmbin.ABIv1()
		m.Imports = append(m.Imports, im)
		return m.Encode()
	}
	v2 := wasmbin.ABIv1()
	v2.Funcs[0].Export = "wasmgate_abi_v2"
	none := wasmbin.ABIv1()
	none.Funcs[0].Export = ""
	noMemory := wasmbin.ABIv1()
	noMemory.Memory.Export = ""
	tests := []struct {
		name    string
		wasm    []byte
		wantErr error
		want    string
	}{
		{"smallest", wasmbin.ABIv1().Encode(), nil, ""},
		{"every hook", func() []byte {
			m := wasmbin.ABIv1()
			m.Funcs = append(m.Funcs,
				wasmbin.Func{Export: abi.ExportOnStart, Results: i32s(1), Body: wasmbin.I32Const(0)},
				wasmbin.Func{Export: abi.ExportOnOpen, Params: i32s(2), Results: i32s(1), Body: wasmbin.I32Const(0)},
				wasmbin.Func{Export: abi.ExportOnMessages, Params: i32s(3), Results: i32s(1), Body: wasmbin.I32Const(0)},
				wasmbin.Func{Export: abi.ExportOnClose, Params: i32s(3)},
				wasmbin.Func{Export: abi.ExportOnTick, Params: i32s(1)},
			)
			return m.Encode()
		}(), nil, ""},
		{"not wasm", []byte("#!/bin/sh\necho hi\n"), ErrNotWasm, "does not start with the Wasm magic bytes"},
		{"truncated", []byte("\x00asm\x01\x00"), ErrInvalidModule, "invalid WebAssembly module"},
		{"version 2", v2.Encode(), ErrABIVersion, "plugin t is built for wasmgate ABI version 2; this wasmgate supports version 1"},
		{"no version", none.Encode(), ErrABIVersion, "plugin t declares no wasmgate ABI version (export wasmgate_abi_v1)"},
		{"two versions", withFunc(wasmbin.Func{Export: "wasmgate_abi_v3"}), ErrABIVersion, "several wasmgate ABI versions (wasmgate_abi_v1, wasmgate_abi_v3)"},
		{"memory not exported", noMemory.Encode(), ErrABIMismatch, `exports no memory named "memory"`},
		{"hook with a wrong signature", withFunc(wasmbin.Func{Export: abi.ExportOnOpen, Params: i32s(1), Results: i32s(1), Body: wasmbin.I32Const(0)}),
			ErrABIMismatch, "export wasmgate_on_open has signature (func (param i32) (result i32)), the ABI says (func (param i32 i32) (result i32))"},
		{"unknown host function", withImport(wasmbin.Import{Module: "wasmgate", Name: "launch_missiles"}), ErrABIMismatch, "imports wasmgate.launch_missiles, which ABI version 1 does not have"},
		{"host function with a wrong signature", withImport(wasmbin.Import{Module: "wasmgate", Name: "log", Params: i32s(2)}), ErrABIMismatch, "import wasmgate.log has signature (func (param i32 i32))"},
		{"foreign module", withImport(wasmbin.Import{Module: "env", Name: "abort"}), ErrABIMismatch, `imports env.abort; a plugin may import only from "wasmgate" and "wasi_snapshot_preview1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info, err := Inspect(context.Background(), "t", tt.wasm)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if info.WASI {
					t.Error("WASI = true for a module that imports nothing")
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

// rawGuest is a plugin module without WASI, written by hand: it imports
// the host functions named in imports (function indices 0...) and defines
// the hooks in funcs.
func rawGuest(imports []string, data []wasmbin.Data, funcs ...wasmbin.Func) []byte {
	m := wasmbin.ABIv1()
	for _, name := range imports {
		sig := abi.ImportSignatures[name]
		m.Imports = append(m.Imports, wasmbin.Import{Module: abi.ModuleName, Name: name, Params: sig.Params, Results: sig.Results})
	}
	m.Funcs = append(m.Funcs, funcs...)
	m.Data = data
	return m.Encode()
}

// The hooks of the hand-written guests. Imports are called by index.
var (
	continueOpen = wasmbin.Func{Export: abi.ExportOnOpen, Params: i32s(2), Results: i32s(1), Body: wasmbin.I32Const(abi.ActionContinue)}
	// trapMessages traps on every batch.
	trapMessages = wasmbin.Func{Export: abi.ExportOnMessages, Params: i32s(3), Results: i32s(1), Body: wasmbin.Unreachable()}
	// loopMessages never returns.
	loopMessages = wasmbin.Func{Export: abi.ExportOnMessages, Params: i32s(3), Results: i32s(1),
		Body: wasmbin.Concat(wasmbin.Loop(), wasmbin.Br(0), wasmbin.End(), wasmbin.Unreachable())}
	// passMessages passes every message.
	passMessages = wasmbin.Func{Export: abi.ExportOnMessages, Params: i32s(3), Results: i32s(1), Body: wasmbin.I32Const(0)}
)

// dropAll drops every message of the batch, with message_drop as import 0.
var dropAll = wasmbin.Func{Export: abi.ExportOnMessages, Params: i32s(3), Results: i32s(1), Locals: i32s(1),
	Body: wasmbin.Concat(
		wasmbin.Block(), wasmbin.Loop(),
		wasmbin.LocalGet(3), wasmbin.LocalGet(2), wasmbin.I32Eq(), wasmbin.BrIf(1),
		wasmbin.LocalGet(3), wasmbin.Call(0), wasmbin.Drop(),
		wasmbin.LocalGet(3), wasmbin.I32Const(1), wasmbin.I32Add(), wasmbin.LocalSet(3),
		wasmbin.Br(0),
		wasmbin.End(), wasmbin.End(),
		wasmbin.I32Const(0),
	)}

// growForever grows memory a page at a time until the cap stops it, then
// traps, as a guest allocator does when memory runs out.
var growForever = wasmbin.Func{Export: abi.ExportOnMessages, Params: i32s(3), Results: i32s(1),
	Body: wasmbin.Concat(
		wasmbin.Loop(),
		wasmbin.I32Const(1), wasmbin.MemoryGrow(), wasmbin.I32Const(-1), wasmbin.I32Eq(),
		wasmbin.If(), wasmbin.Unreachable(), wasmbin.End(),
		wasmbin.Br(0),
		wasmbin.End(),
		wasmbin.Unreachable(),
	)}

func text(s ...string) []Message {
	out := make([]Message, len(s))
	for i, v := range s {
		out[i] = Message{Type: codec.Text, Payload: []byte(v)}
	}
	return out
}

func payloads(ms []Message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, string(m.Payload))
	}
	return out
}

func TestGuestWithoutWASI(t *testing.T) {
	h, _ := newHost(t)
	// on_open rejects with 401 and the body "no" (at offset 16), with an
	// extra header; on_messages drops everything.
	reject := wasmbin.Func{Export: abi.ExportOnOpen, Params: i32s(2), Results: i32s(1), Body: wasmbin.Concat(
		wasmbin.I32Const(401), wasmbin.I32Const(16), wasmbin.I32Const(2), wasmbin.Call(1), wasmbin.Drop(),
		wasmbin.I32Const(32), wasmbin.I32Const(5), wasmbin.I32Const(48), wasmbin.I32Const(3), wasmbin.Call(2), wasmbin.Drop(),
		wasmbin.I32Const(abi.ActionReject),
	)}
	data := []wasmbin.Data{{Offset: 16, Bytes: []byte("no")}, {Offset: 32, Bytes: []byte("x-why")}, {Offset: 48, Bytes: []byte("abc")}}
	rejecter := load(t, h, Spec{Name: "rejecter", Instances: 1,
		Wasm: rawGuest([]string{abi.ImportMessageDrop, abi.ImportReject, abi.ImportRejectHeader}, data, reject)})
	conn, v := NewChain(0, rejecter).Open(&Request{}, &recordingPeer{})
	if conn != nil || v.Reject == nil {
		t.Fatalf("handshake not rejected: %+v", v)
	}
	if v.Reject.Status != 401 || string(v.Reject.Body) != "no" || v.Reject.Header.Get("X-Why") != "abc" {
		t.Errorf("rejection = %d %q %v, want 401 \"no\" X-Why: abc", v.Reject.Status, v.Reject.Body, v.Reject.Header)
	}

	dropper := load(t, h, Spec{Name: "dropper", Instances: 1, Wasm: rawGuest([]string{abi.ImportMessageDrop}, nil, continueOpen, dropAll)})
	if dropper.info.WASI {
		t.Error("a guest without WASI imports reported as WASI")
	}
	// A filter after the one that rejects never saw the connection.
	if conn, v := NewChain(0, rejecter, dropper).Open(&Request{}, &recordingPeer{}); conn != nil || v.Reject == nil || v.Reject.Status != 401 {
		t.Fatalf("handshake through rejecter, dropper: %+v", v)
	}
	conn, v = NewChain(0, dropper).Open(&Request{}, &recordingPeer{})
	if v.Reject != nil {
		t.Fatal(v.Reject)
	}
	defer conn.Close(CloseInfo{Code: codec.CloseNormal})
	if res := conn.Messages(false, text("a", "b", "c")); len(res.Forward) != 0 || res.Close {
		t.Errorf("Forward = %q, Close = %v; want every message dropped", payloads(res.Forward), res.Close)
	}
}

func TestStartFailureRefusesThePlugin(t *testing.T) {
	h, _ := newHost(t)
	start := wasmbin.Func{Export: abi.ExportOnStart, Results: i32s(1), Body: wasmbin.I32Const(7)}
	_, err := h.Load(context.Background(), Spec{Name: "bad", Instances: 1, Wasm: rawGuest(nil, nil, start)})
	if err == nil || !strings.Contains(err.Error(), "plugin bad: wasmgate_on_start returned 7") {
		t.Errorf("err = %v", err)
	}
	trapStart := wasmbin.Func{Export: abi.ExportOnStart, Results: i32s(1), Body: wasmbin.Unreachable()}
	_, err = h.Load(context.Background(), Spec{Name: "trap", Instances: 1, Wasm: rawGuest(nil, nil, trapStart)})
	if err == nil || !strings.Contains(err.Error(), "plugin trap: wasmgate_on_start: trap") {
		t.Errorf("err = %v", err)
	}
	tooBig := wasmbin.ABIv1()
	tooBig.Memory.Min = 64 // 4 MiB, over the 1 MiB cap
	_, err = h.Load(context.Background(), Spec{Name: "big", Instances: 1, MemoryLimit: 1 << 20, Wasm: tooBig.Encode()})
	if err == nil || !strings.Contains(err.Error(), "plugin big") || !strings.Contains(err.Error(), "over limit") {
		t.Errorf("err = %v", err)
	}
}

// TestFaults checks that a failing instance is replaced, that the
// connections pinned to it follow on_error, and that the plugin's other
// instance and connections are untouched.
func TestFaults(t *testing.T) {
	tests := []struct {
		name     string
		messages wasmbin.Func
		spec     Spec
	}{
		{"trap", trapMessages, Spec{}},
		{"infinite loop, checked", loopMessages, Spec{Timeout: 20 * time.Millisecond}},
		{"memory exhausted", growForever, Spec{MemoryLimit: 2 << 20}},
		{"status", wasmbin.Func{Export: abi.ExportOnMessages, Params: i32s(3), Results: i32s(1), Body: wasmbin.I32Const(3)}, Spec{}},
	}
	for _, tt := range tests {
		for _, failOpen := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/fail open %v", tt.name, failOpen), func(t *testing.T) {
				h, logs := newHost(t)
				// Faulty guests fault on messages containing "boom" only:
				// the chain has a healthy pass-through filter before them
				// so that the messages reach them; the faulty guest is
				// called for every batch, so its faults are exercised by
				// batches sent on purpose.
				spec := tt.spec
				spec.Name, spec.Instances, spec.FailOpen = "faulty", 2, failOpen
				spec.Wasm = rawGuest(nil, nil, continueOpen, tt.messages)
				p := load(t, h, spec)
				ch := NewChain(0, p)
				var peers [3]*recordingPeer
				var conns [3]*Conn
				for i := range conns {
					peers[i] = &recordingPeer{}
					c, v := ch.Open(&Request{}, peers[i])
					if v.Reject != nil {
						t.Fatal(v.Reject)
					}
					conns[i] = c
				}
				// Round-robin: conns 0 and 2 share an instance, conn 1 has
				// the other.
				if conns[0].binding(0).slot != conns[2].binding(0).slot || conns[0].binding(0).slot == conns[1].binding(0).slot {
					t.Fatal("connections not spread round-robin over the instances")
				}
				res := conns[0].Messages(false, text("x"))
				if p.Faults() != 1 {
					t.Fatalf("Faults() = %d, want 1", p.Faults())
				}
				if failOpen {
					if res.Close || len(res.Forward) != 1 {
						t.Errorf("fail open: Close = %v, Forward = %q; want the message passed", res.Close, payloads(res.Forward))
					}
				} else if !res.Close || res.Code != codec.CloseInternalError || res.Reason != "filter faulty failed" {
					t.Errorf("Result = %+v, want a close with 1011", res)
				}
				wantOthers := []string{"1011 filter faulty failed"}
				if failOpen {
					wantOthers = nil
				}
				if got := peers[2].closed(); fmt.Sprint(got) != fmt.Sprint(wantOthers) {
					t.Errorf("the other connection on the failed instance got closes %q, want %q", got, wantOthers)
				}
				if got := peers[1].closed(); len(got) != 0 {
					t.Errorf("the connection on the healthy instance was closed: %q", got)
				}
				// The connections of the failed instance skip the plugin now.
				// The other connections of the failed instance skip the plugin
				// now (pass), or let nothing through while they close (close).
				res = conns[2].Messages(false, text("y"))
				if failOpen && (res.Close || len(res.Forward) != 1) {
					t.Errorf("after the fault: Result %+v; want the message passed", res)
				}
				if !failOpen && (!res.Close || len(res.Forward) != 0) {
					t.Errorf("after the fault: Result %+v; want nothing passed and a close", res)
				}
				if p.Faults() != 1 {
					t.Errorf("Faults() = %d: the failed instance's connection called the plugin again", p.Faults())
				}
				// A new connection gets a fresh instance, which faults again
				// (these guests always do): proof that it was called.
				c, v := ch.Open(&Request{}, &recordingPeer{})
				if v.Reject != nil {
					t.Fatalf("handshake after the fault rejected: %+v", v.Reject)
				}
				c.Messages(false, text("z"))
				if p.Faults() != 2 {
					t.Errorf("Faults() = %d after a call on a fresh instance, want 2", p.Faults())
				}
				if !strings.Contains(logs.String(), "plugin instance failed; replacing it") || !strings.Contains(logs.String(), "plugin=faulty") {
					t.Errorf("the fault is not logged with the plugin's name:\n%s", logs)
				}
				for _, c := range conns {
					c.Close(CloseInfo{Code: codec.CloseNormal})
				}
			})
		}
	}
}

// TestPlainSandboxOverrun checks that in a plain sandbox a call that
// returns after its deadline is a fault.
func TestPlainSandboxOverrun(t *testing.T) {
	h, _ := newHost(t)
	// Counts down from 2^30: far longer than the 1 ms deadline on any
	// machine, and it ends by itself.
	slow := wasmbin.Func{Export: abi.ExportOnMessages, Params: i32s(3), Results: i32s(1), Locals: i32s(1),
		Body: wasmbin.Concat(
			wasmbin.I32Const(1<<30), wasmbin.LocalSet(3),
			wasmbin.Loop(),
			wasmbin.LocalGet(3), wasmbin.I32Const(1), wasmbin.I32Sub(), wasmbin.LocalTee(3),
			wasmbin.BrIf(0),
			wasmbin.End(),
			wasmbin.I32Const(0),
		)}
	p := load(t, h, Spec{Name: "slow", Instances: 1, Plain: true, Timeout: time.Millisecond, Wasm: rawGuest(nil, nil, continueOpen, slow)})
	c, _ := NewChain(0, p).Open(&Request{}, &recordingPeer{})
	res := c.Messages(false, text("x"))
	if !res.Close || p.Faults() != 1 {
		t.Errorf("Result %+v, Faults %d; want the overrun to close the connection", res, p.Faults())
	}
}

func TestHookOutsideItsCall(t *testing.T) {
	h, _ := newHost(t)
	// on_messages calls request_get (an on_open function): ERR_WRONG_HOOK,
	// which it returns as its status (a guest error).
	body := wasmbin.Concat(wasmbin.I32Const(abi.FieldPath), wasmbin.I32Const(0), wasmbin.I32Const(0), wasmbin.Call(0),
		wasmbin.I32Const(abi.ErrWrongHook), wasmbin.I32Eq(), wasmbin.I32Eqz())
	p := load(t, h, Spec{Name: "wrong", Instances: 1,
		Wasm: rawGuest([]string{abi.ImportRequestGet}, nil, continueOpen,
			wasmbin.Func{Export: abi.ExportOnMessages, Params: i32s(3), Results: i32s(1), Body: body})})
	c, _ := NewChain(0, p).Open(&Request{Path: "/x"}, &recordingPeer{})
	if res := c.Messages(false, text("x")); res.Close || p.Faults() != 0 {
		t.Errorf("request_get in on_messages did not return ERR_WRONG_HOOK: %+v", res)
	}
	// A pointer outside memory traps.
	oob := wasmbin.Concat(wasmbin.I32Const(abi.FieldPath), wasmbin.I32Const(1<<20), wasmbin.I32Const(16), wasmbin.Call(0), wasmbin.Drop(), wasmbin.I32Const(0))
	q := load(t, h, Spec{Name: "oob", Instances: 1,
		Wasm: rawGuest([]string{abi.ImportRequestGet}, nil, continueOpen,
			wasmbin.Func{Export: abi.ExportOnMessages, Params: i32s(3), Results: i32s(1), Body: oob})})
	c, _ = NewChain(0, q).Open(&Request{Path: "/x"}, &recordingPeer{})
	if res := c.Messages(false, text("x")); !res.Close || q.Faults() != 1 {
		t.Errorf("an out-of-bounds buffer did not trap: %+v", res)
	}
}

// TestGoGuest runs the SDK's test guest without a proxy: batches, the
// chain's order both ways, and sends.
func TestGoGuest(t *testing.T) {
	wasm := guests.Build(t, "plugins/testdata/guest")
	h, _ := newHost(t)
	a := load(t, h, Spec{Name: "a", Wasm: wasm, Config: []byte(`{"tag":"a"}`), Instances: 1})
	b := load(t, h, Spec{Name: "b", Wasm: wasm, Config: []byte(`{"tag":"b"}`), Instances: 1})
	conn, v := NewChain(1<<20, a, b).Open(&Request{Method: "GET", Path: "/"}, &recordingPeer{})
	if v.Reject != nil {
		t.Fatal(v.Reject)
	}
	res := conn.Messages(false, text("1", "cmd:dup 2", "cmd:info", "3"))
	if got, want := strings.Join(payloads(res.Forward), ","), "1|a|b,2|b,2#2|b,3|a|b"; got != want {
		t.Errorf("client to upstream: %s, want %s", got, want)
	}
	if got, want := strings.Join(payloads(res.Back), ","), "res:text 8 c2u 2"; got != want {
		t.Errorf("back to the client: %s, want %s", got, want)
	}
	res = conn.Messages(true, text("4"))
	if got, want := strings.Join(payloads(res.Forward), ","), "4|b|a"; got != want {
		t.Errorf("upstream to client: %s, want %s", got, want)
	}
	conn.Close(CloseInfo{ByUpstream: true, Code: 4000, Reason: "done"})
	val, _ := h.KV().Get([]byte("a\x00last_close"), nil)
	if got, want := string(val), "upstream 4000 done abnormal=false"; got != want {
		t.Errorf("last_close = %q, want %q", got, want)
	}
}

// TestLaterFiltersSeeEarlierEdits checks that a filter reads the request
// as the filters before it left it, so a header the first one sets (a
// user id) cannot be forged by the client for the second.
func TestLaterFiltersSeeEarlierEdits(t *testing.T) {
	wasm := guests.Build(t, "plugins/testdata/guest")
	h, _ := newHost(t)
	auth := load(t, h, Spec{Name: "auth", Wasm: wasm, Instances: 1,
		Config: []byte(`{"set_upstream_headers":{"X-User":"alice"},"remove_upstream_headers":["X-Secret"]}`)})
	gate := load(t, h, Spec{Name: "gate", Wasm: wasm, Instances: 1,
		Config: []byte(`{"require_header":{"name":"x-user","value":"alice","status":401}}`)})
	leak := load(t, h, Spec{Name: "leak", Wasm: wasm, Instances: 1,
		Config: []byte(`{"require_header":{"name":"x-secret","value":"","status":418}}`)})
	chain := NewChain(1<<20, auth, gate, leak)
	for _, forged := range [][]string{nil, {"mallory"}, {"mallory", "alice"}} {
		hdr := http.Header{"X-Secret": {"s3cret"}}
		if forged != nil {
			hdr["X-User"] = forged
		}
		req := &Request{Method: "GET", Path: "/", Header: hdr}
		conn, v := chain.Open(req, &recordingPeer{})
		if v.Reject != nil {
			t.Fatalf("client X-User %q: refused with %d; gate and leak must see auth's edits", forged, v.Reject.Status)
		}
		conn.Close(CloseInfo{Code: 1000})
		if got := req.Header["X-User"]; !slices.Equal(got, forged) {
			t.Errorf("the caller's request changed: X-User %q, want %q", got, forged)
		}
	}
}

// TestLaterFiltersSeeTheNewURI checks that a request-target one filter
// sets upstream is what the next one reads.
func TestLaterFiltersSeeTheNewURI(t *testing.T) {
	wasm := guests.Build(t, "plugins/testdata/guest")
	h, _ := newHost(t)
	rewrite := load(t, h, Spec{Name: "rewrite", Wasm: wasm, Instances: 1,
		Config: []byte(`{"upstream_uri":"/v2/chat?room=9"}`)})
	info := load(t, h, Spec{Name: "info", Wasm: wasm, Instances: 1,
		Config: []byte(`{"request_info_header":"X-Info"}`)})
	req := &Request{Method: "GET", URI: "/chat?token=s3cret", Path: "/chat", Query: "token=s3cret"}
	conn, v := NewChain(1<<20, rewrite, info).Open(req, &recordingPeer{})
	if v.Reject != nil {
		t.Fatalf("refused: %d %s", v.Reject.Status, v.Reject.Body)
	}
	conn.Close(CloseInfo{Code: 1000})
	if v.URI != "/v2/chat?room=9" {
		t.Errorf("verdict URI %q", v.URI)
	}
	hdr := http.Header{}
	v.Apply(hdr)
	var seen struct{ URI, Path, Query string }
	if err := json.Unmarshal([]byte(hdr.Get("X-Info")), &seen); err != nil {
		t.Fatal(err)
	}
	if seen.URI != "/v2/chat?room=9" || seen.Path != "/v2/chat" || seen.Query != "room=9" {
		t.Errorf("the second filter read %+v", seen)
	}
	if req.URI != "/chat?token=s3cret" || req.Query != "token=s3cret" {
		t.Errorf("the caller's request changed: %+v", req)
	}
}

func TestValidRequestTarget(t *testing.T) {
	for _, tt := range []struct {
		uri  string
		want bool
	}{
		{"/", true},
		{"/v2/chat?room=1&x=%20", true},
		{"/a:b@c!$&'()*+,;=~", true},
		{"", false},
		{"chat", false},
		{"http://evil/", false},
		{"//", true}, // a path, to the upstream's request line
		{"/a b", false},
		{"/a\r\nHost: evil", false},
		{"/a\nX: y", false},
		{"/a#frag", false},
		{"/é", false},
		{"/\x7f", false},
		{"/" + strings.Repeat("a", maxUpstreamURI-1), true},
		{"/" + strings.Repeat("a", maxUpstreamURI), false},
	} {
		if got := validRequestTarget([]byte(tt.uri)); got != tt.want {
			t.Errorf("validRequestTarget(%q) = %v, want %v", tt.uri, got, tt.want)
		}
	}
}

// TestPluginWideTick checks a timer set in on_start: it fires on_tick(0)
// on the instance that set it, and on its replacement after a fault.
func TestPluginWideTick(t *testing.T) {
	h, _ := newHost(t)
	start := wasmbin.Func{Export: abi.ExportOnStart, Results: i32s(1), Body: wasmbin.Concat(
		wasmbin.I32Const(0), wasmbin.I32Const(abi.MinTickPeriodMillis), wasmbin.Call(0), wasmbin.Drop(), wasmbin.I32Const(0))}
	tick := wasmbin.Func{Export: abi.ExportOnTick, Params: i32s(1), Body: wasmbin.Concat(
		wasmbin.I32Const(16), wasmbin.I32Const(5), wasmbin.I64Const(1), wasmbin.I64Const(0), wasmbin.Call(1), wasmbin.Drop())}
	p := load(t, h, Spec{Name: "ticker", Instances: 1, Wasm: rawGuest([]string{abi.ImportTickSet, abi.ImportKVAdd},
		[]wasmbin.Data{{Offset: 16, Bytes: []byte("ticks")}}, start, tick, continueOpen, trapMessages)})
	waitTicks := func(atLeast int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			v, _ := h.KV().Get([]byte("ticker\x00ticks"), nil)
			var n int
			fmt.Sscan(string(v), &n)
			if n >= atLeast {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("ticks = %q after 10 s, want at least %d", v, atLeast)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitTicks(3)
	// A fault replaces the instance; the new one's on_start sets its own
	// timer.
	c, _ := NewChain(0, p).Open(&Request{}, &recordingPeer{})
	c.Messages(false, text("x"))
	if p.Faults() != 1 {
		t.Fatalf("Faults() = %d, want 1", p.Faults())
	}
	v, _ := h.KV().Get([]byte("ticker\x00ticks"), nil)
	var before int
	fmt.Sscan(string(v), &before)
	waitTicks(before + 3)
}

// TestNeedsMessages checks when a chain makes the proxy assemble messages:
// a filter that reads them, or one that can send (and so could inject a
// message between the frames of another).
func TestNeedsMessages(t *testing.T) {
	h, _ := newHost(t)
	openOnly := load(t, h, Spec{Name: "open", Instances: 1, Wasm: rawGuest(nil, nil, continueOpen)})
	sender := load(t, h, Spec{Name: "send", Instances: 1, Wasm: rawGuest([]string{abi.ImportSend}, nil, continueOpen)})
	reader := load(t, h, Spec{Name: "read", Instances: 1, Wasm: rawGuest(nil, nil, continueOpen, passMessages)})
	for _, tt := range []struct {
		chain []*Plugin
		want  bool
	}{
		{[]*Plugin{openOnly}, false},
		{[]*Plugin{openOnly, sender}, true},
		{[]*Plugin{reader, openOnly}, true},
	} {
		if got := NewChain(0, tt.chain...).NeedsMessages(); got != tt.want {
			t.Errorf("NeedsMessages() of %d filters = %v, want %v", len(tt.chain), got, tt.want)
		}
	}
}

// TestKVAddOnAFullStore checks kv_add's sentinel: a store with room for
// one key answers KV_ADD_FULL for a second.
func TestKVAddOnAFullStore(t *testing.T) {
	h := NewHost(HostOptions{Logger: slog.New(slog.DiscardHandler), KV: NewMemoryKV(MemoryKVLimits{MaxKeys: 1})})
	t.Cleanup(func() { h.Close(context.Background()) })
	const i64Eq = 0x51
	add := func(keyAt int32) []byte {
		return wasmbin.Concat(wasmbin.I32Const(keyAt), wasmbin.I32Const(1), wasmbin.I64Const(1), wasmbin.I64Const(0), wasmbin.Call(0))
	}
	// Status 0 when the first add returns 1 and the second KV_ADD_FULL.
	body := wasmbin.Concat(
		add(16), wasmbin.I64Const(1), []byte{i64Eq},
		add(17), wasmbin.I64Const(abi.KVAddFull), []byte{i64Eq},
		[]byte{0x71}, // i32.and
		wasmbin.I32Eqz(),
	)
	p := load(t, h, Spec{Name: "full", Instances: 1, Wasm: rawGuest([]string{abi.ImportKVAdd},
		[]wasmbin.Data{{Offset: 16, Bytes: []byte("ab")}}, continueOpen,
		wasmbin.Func{Export: abi.ExportOnMessages, Params: i32s(3), Results: i32s(1), Body: body})})
	c, _ := NewChain(0, p).Open(&Request{}, &recordingPeer{})
	if res := c.Messages(false, text("x")); res.Close || p.Faults() != 0 {
		t.Errorf("kv_add did not answer 1 then KV_ADD_FULL: Result %+v, Faults %d", res, p.Faults())
	}
}
