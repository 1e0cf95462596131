package plugins

import (
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/internal/guests"
	"github.com/wasmgate/wasmgate/internal/wasmbin"
	"github.com/wasmgate/wasmgate/sdk/abi"
)

// TestCounters_FaultCauses checks that each kind of fault counts under
// its cause, once, and that the fresh instance that replaces the failed
// one counts as a restart.
func TestCounters_FaultCauses(t *testing.T) {
	slow := wasmbin.Func{Export: abi.ExportOnMessages, Params: i32s(3), Results: i32s(1), Locals: i32s(1),
		Body: wasmbin.Concat(
			wasmbin.I32Const(1<<30), wasmbin.LocalSet(3),
			wasmbin.Loop(),
			wasmbin.LocalGet(3), wasmbin.I32Const(1), wasmbin.I32Sub(), wasmbin.LocalTee(3),
			wasmbin.BrIf(0),
			wasmbin.End(),
			wasmbin.I32Const(0),
		)}
	badStatus := wasmbin.Func{Export: abi.ExportOnMessages, Params: i32s(3), Results: i32s(1), Body: wasmbin.I32Const(3)}
	badAction := wasmbin.Func{Export: abi.ExportOnOpen, Params: i32s(2), Results: i32s(1), Body: wasmbin.I32Const(7)}
	// log with level 9: a host function the guest misuses traps.
	badLog := wasmbin.Func{Export: abi.ExportOnMessages, Params: i32s(3), Results: i32s(1),
		Body: wasmbin.Concat(wasmbin.I32Const(9), wasmbin.I32Const(0), wasmbin.I32Const(0), wasmbin.Call(0), wasmbin.I32Const(0))}
	tests := []struct {
		name    string
		wasm    []byte
		spec    Spec
		onOpen  bool // the fault is in on_open, not on_messages
		want    CounterValues
		wantLog string
	}{
		{name: "trap", wasm: rawGuest(nil, nil, continueOpen, trapMessages),
			want: CounterValues{Open: 1, Messages: 1, Traps: 1}},
		{name: "host function trap", wasm: rawGuest([]string{abi.ImportLog}, nil, continueOpen, badLog),
			want: CounterValues{Open: 1, Messages: 1, Traps: 1}},
		// Growing memory page by page may take longer than the default
		// deadline: that would be a timeout.
		{name: "memory exhausted", wasm: rawGuest(nil, nil, continueOpen, growForever), spec: Spec{MemoryLimit: 2 << 20, Timeout: 5 * time.Second},
			want: CounterValues{Open: 1, Messages: 1, Traps: 1}},
		{name: "timeout, checked", wasm: rawGuest(nil, nil, continueOpen, loopMessages), spec: Spec{Timeout: 20 * time.Millisecond},
			want: CounterValues{Open: 1, Messages: 1, Timeouts: 1}},
		{name: "timeout, plain", wasm: rawGuest(nil, nil, continueOpen, slow), spec: Spec{Timeout: time.Millisecond, Plain: true},
			want: CounterValues{Open: 1, Messages: 1, Timeouts: 1}},
		{name: "bad status", wasm: rawGuest(nil, nil, continueOpen, badStatus),
			want: CounterValues{Open: 1, Messages: 1, Errors: 1}},
		{name: "bad action", wasm: rawGuest(nil, nil, badAction, passMessages), onOpen: true,
			want: CounterValues{Open: 1, Errors: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := newHost(t)
			spec := tt.spec
			spec.Name, spec.Instances, spec.Wasm = "faulty", 1, tt.wasm
			p := load(t, h, spec)
			c, v := NewChain(0, p).Open(&Request{}, &recordingPeer{})
			if tt.onOpen {
				if v.Reject == nil || v.Reject.Status != 500 {
					t.Fatalf("verdict %+v, want a refusal with 500", v.Reject)
				}
			} else {
				if v.Reject != nil {
					t.Fatal(v.Reject)
				}
				if res := c.Messages(false, text("x")); !res.Close || res.Code != codec.CloseInternalError {
					t.Fatalf("Result %+v, want a close with 1011", res)
				}
			}
			want := tt.want
			want.Restarts = 1 // the failed instance was replaced
			if got := p.Counters().Snapshot(); got != want {
				t.Errorf("counters %+v\nwant       %+v", got, want)
			}
			if p.Faults() != 1 {
				t.Errorf("Faults() = %d, want 1", p.Faults())
			}
		})
	}
}

// TestCounters_Calls counts the calls of each hook of the Go test guest:
// a start per instance, an open and a close per connection, a messages
// call per batch, and a tick per timer shot.
func TestCounters_Calls(t *testing.T) {
	wasm := guests.Build(t, "plugins/testdata/guest")
	h, _ := newHost(t)
	p := load(t, h, Spec{Name: "calls", Wasm: wasm, Instances: 2, Timeout: time.Second})
	ch := NewChain(1<<20, p)
	var conns []*Conn
	for range 3 {
		c, v := ch.Open(&Request{Method: "GET", Path: "/"}, &recordingPeer{})
		if v.Reject != nil {
			t.Fatal(v.Reject)
		}
		conns = append(conns, c)
	}
	if got := p.Connections(); got != 3 {
		t.Errorf("Connections() = %d with 3 open, want 3", got)
	}
	conns[0].Messages(false, text("a", "b", "c")) // one batch, one call
	conns[1].Messages(true, text("d"))
	// One shot of a 10 ms timer.
	if res := conns[2].Messages(false, text("cmd:tick 10 1")); len(res.Back) != 1 || string(res.Back[0].Payload) != "res:ok" {
		t.Fatalf("cmd:tick: %+v", res)
	}
	deadline := time.Now().Add(10 * time.Second)
	for p.Counters().Snapshot().Tick < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the timer did not fire in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, c := range conns {
		c.Close(CloseInfo{Code: codec.CloseNormal})
	}
	want := CounterValues{Start: 2, Open: 3, Messages: 3, Close: 3, Tick: 1}
	if got := p.Counters().Snapshot(); got != want {
		t.Errorf("counters %+v\nwant       %+v", got, want)
	}
	if got := p.Connections(); got != 0 {
		t.Errorf("Connections() = %d after every close, want 0", got)
	}
	if got := p.Instances(); got != 2 {
		t.Errorf("Instances() = %d, want 2", got)
	}
}

// TestCounters_Restarts checks the count of instances that replaced a
// failed one, and of attempts that failed to start.
func TestCounters_Restarts(t *testing.T) {
	h, _ := newHost(t)
	// on_start fails on the second start of the plugin, and only then.
	const i64Eq = 0x51
	start := wasmbin.Func{Export: abi.ExportOnStart, Results: i32s(1), Body: wasmbin.Concat(
		wasmbin.I32Const(16), wasmbin.I32Const(6), wasmbin.I64Const(1), wasmbin.I64Const(0), wasmbin.Call(0),
		wasmbin.I64Const(2), []byte{i64Eq})}
	p := load(t, h, Spec{Name: "restarts", Instances: 1, Wasm: rawGuest([]string{abi.ImportKVAdd},
		[]wasmbin.Data{{Offset: 16, Bytes: []byte("starts")}}, start, continueOpen, trapMessages)})
	ch := NewChain(0, p)
	fault := func() {
		t.Helper()
		c, v := ch.Open(&Request{}, &recordingPeer{})
		if v.Reject != nil {
			t.Fatalf("refused: %d %s", v.Reject.Status, v.Reject.Body)
		}
		c.Messages(false, text("x"))
	}
	fault() // the second start fails: the slot stays empty
	if got, want := p.Counters().Snapshot(), (CounterValues{Start: 2, Open: 1, Messages: 1, Traps: 1, RestartFailures: 1}); got != want {
		t.Errorf("after a failed restart: %+v\nwant                      %+v", got, want)
	}
	if got := p.Instances(); got != 0 {
		t.Errorf("Instances() = %d with the only slot empty, want 0", got)
	}
	// The next connection may retry at once, and the third start works.
	s := p.slots[0]
	s.mu.Lock()
	s.retryAt = time.Time{}
	s.mu.Unlock()
	fault()
	if got, want := p.Counters().Snapshot(), (CounterValues{Start: 4, Open: 2, Messages: 2, Traps: 2, Restarts: 2, RestartFailures: 1}); got != want {
		t.Errorf("after two restarts: %+v\nwant                 %+v", got, want)
	}
	if got := p.Instances(); got != 1 {
		t.Errorf("Instances() = %d, want 1", got)
	}
}

// TestCounters_Shared checks that plugins given the same Counters count
// together, as the versions of one plugin across reloads do, while
// Faults stays each plugin's own.
func TestCounters_Shared(t *testing.T) {
	shared := new(Counters)
	wasm := rawGuest(nil, nil, continueOpen, trapMessages)
	var ps []*Plugin
	for range 2 {
		h, _ := newHost(t) // a host per config generation
		p := load(t, h, Spec{Name: "shared", Instances: 1, Wasm: wasm, Counters: shared})
		if p.Counters() != shared {
			t.Fatal("Counters() is not Spec.Counters")
		}
		c, _ := NewChain(0, p).Open(&Request{}, &recordingPeer{})
		c.Messages(false, text("x"))
		ps = append(ps, p)
	}
	want := CounterValues{Open: 2, Messages: 2, Traps: 2, Restarts: 2}
	if got := shared.Snapshot(); got != want {
		t.Errorf("shared counters %+v\nwant              %+v", got, want)
	}
	for i, p := range ps {
		if p.Faults() != 1 {
			t.Errorf("plugin %d: Faults() = %d, want 1", i, p.Faults())
		}
	}
	// A plugin without Spec.Counters has its own.
	h, _ := newHost(t)
	own := load(t, h, Spec{Name: "shared", Instances: 1, Wasm: wasm})
	if own.Counters() == shared || own.Counters() == nil {
		t.Error("a plugin without Spec.Counters does not have counters of its own")
	}
}

// TestCounters_NoAllocs checks that counting a call allocates nothing. A
// plain sandbox, since a checked one starts a goroutine per call.
func TestCounters_NoAllocs(t *testing.T) {
	h, _ := newHost(t)
	p := load(t, h, Spec{Name: "noalloc", Instances: 1, Plain: true, Timeout: time.Second, Wasm: rawGuest(nil, nil, continueOpen, passMessages)})
	c, _ := NewChain(0, p).Open(&Request{}, &recordingPeer{})
	in := text("x")
	c.Messages(false, in)
	before := p.Counters().Snapshot().Messages
	if n := testing.AllocsPerRun(100, func() { c.Messages(false, in) }); n != 0 {
		t.Errorf("a batch allocates %v times", n)
	}
	if got := p.Counters().Snapshot().Messages - before; got != 101 {
		t.Errorf("Messages counted %d calls, want 101", got)
	}
}
