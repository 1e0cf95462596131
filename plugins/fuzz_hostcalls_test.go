package plugins

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/internal/wasmbin"
	"github.com/wasmgate/wasmgate/sdk/abi"
)

// Where the fuzzed guests keep the arguments of their host call: one
// 8-byte little-endian slot per parameter, filled by the host itself
// (message_read of message 0, or request_get of the query) before the
// call.
const (
	fuzzArgs     = 1024
	fuzzArgSlots = 6
	fuzzArgsSize = 8 * fuzzArgSlots
)

// fuzzWrites are the host functions that write into guest memory, with
// the indices of their (buf, cap) parameters: the host must write nowhere
// else.
var fuzzWrites = map[string][2]int{
	abi.ImportConfigGet:      {0, 1},
	abi.ImportKVGet:          {2, 3},
	abi.ImportMessageRead:    {2, 3},
	abi.ImportRequestGet:     {1, 2},
	abi.ImportRequestHeader:  {2, 3},
	abi.ImportRequestHeaders: {0, 1},
	abi.ImportCloseReasonGet: {0, 1},
}

// fuzzCallsContext are the host functions whose first parameter is a
// context id: the guest adds its own, so that argument 0 names its
// connection and small values its neighbors.
var fuzzCallsContext = map[string]bool{abi.ImportSend: true, abi.ImportClose: true, abi.ImportTickSet: true}

// hostCallGuest builds a guest whose on_messages (or, with onOpen, whose
// on_open) copies fuzzArgsSize bytes of arguments into memory with a host
// function, loads one per parameter of host function name, calls it,
// and returns 0.
func hostCallGuest(name string, onOpen bool) []byte {
	sig := abi.ImportSignatures[name]
	fill, hookParams, hook := abi.ImportMessageRead, 3, abi.ExportOnMessages
	if onOpen {
		fill, hookParams, hook = abi.ImportRequestGet, 2, abi.ExportOnOpen
	}
	imports := []string{fill}
	target := uint32(0)
	if name != fill {
		imports, target = append(imports, name), 1
	}
	var body [][]byte
	if onOpen {
		body = append(body, wasmbin.I32Const(abi.FieldQuery))
	} else {
		body = append(body, wasmbin.I32Const(0), wasmbin.I32Const(0))
	}
	body = append(body, wasmbin.I32Const(fuzzArgs), wasmbin.I32Const(fuzzArgsSize), wasmbin.Call(0), wasmbin.Drop())
	for i, vt := range sig.Params {
		body = append(body, wasmbin.I32Const(0))
		if vt == abi.I64 {
			body = append(body, []byte{0x29, 3}, uleb(uint32(fuzzArgs+8*i))) // i64.load, alignment 2^3
			continue
		}
		body = append(body, wasmbin.I32Load(uint32(fuzzArgs+8*i)))
		if i == 0 && fuzzCallsContext[name] {
			body = append(body, wasmbin.LocalGet(0), wasmbin.I32Add())
		}
	}
	body = append(body, wasmbin.Call(target))
	if len(sig.Results) > 0 {
		body = append(body, wasmbin.Drop())
	}
	body = append(body, wasmbin.I32Const(0))
	return rawGuest(imports, nil, wasmbin.Func{Export: hook, Params: i32s(hookParams), Results: i32s(1), Body: wasmbin.Concat(body...)})
}

func uleb(v uint32) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// faultLog records the causes of the faults the host logs.
type faultLog struct {
	mu     sync.Mutex
	causes []string
}

func (l *faultLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *faultLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *faultLog) WithGroup(string) slog.Handler            { return l }

func (l *faultLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "cause" {
			l.mu.Lock()
			l.causes = append(l.causes, a.Value.String())
			l.mu.Unlock()
		}
		return true
	})
	return nil
}

func (l *faultLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.causes
	l.causes = nil
	return c
}

// guestMemory returns a copy of the memory of a one-instance plugin's
// instance, and the instance, or nil when the slot is broken.
func guestMemory(p *Plugin) ([]byte, *instance) {
	s := p.slots[0]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inst == nil {
		return nil, nil
	}
	b, _ := s.inst.mem.Read(0, s.inst.mem.Size())
	return slices.Clone(b), s.inst
}

// FuzzHostCalls calls one host function, chosen by fn, from on_messages
// or on_open with arguments from the fuzzer: pointers and lengths in or
// out of memory, overlapping, negative, huge; bad enumerations; context
// ids of the guest's own connection, of others, of none. The host must
// never panic (a Go panic in a host function would surface as a fault
// whose cause is a runtime error), must write guest memory only inside
// the (buf, cap) the guest named, and a fault must leave every other
// plugin working.
func FuzzHostCalls(f *testing.F) {
	names := make([]string, 0, len(abi.ImportSignatures))
	for name := range abi.ImportSignatures {
		names = append(names, name)
	}
	slices.Sort(names)

	args := func(vs ...int64) []byte {
		b := make([]byte, 0, fuzzArgsSize)
		for _, v := range vs {
			for i := range 8 {
				b = append(b, byte(uint64(v)>>(8*i)))
			}
		}
		return b
	}
	index := func(name string) uint8 { return uint8(slices.Index(names, name)) }
	f.Add(index(abi.ImportMessageRead), false, args(1, 0, 2048, 64), []byte("second"))
	f.Add(index(abi.ImportMessageRead), false, args(1, 3, 65530, 64), []byte("second"))
	f.Add(index(abi.ImportMessageRead), false, args(0, 0, 1030, 48), []byte(""))
	f.Add(index(abi.ImportMessageReplace), false, args(1, abi.TypeText, 1024, 8), []byte("x"))
	f.Add(index(abi.ImportMessageReplace), false, args(1, abi.TypeText, -1, 2), []byte("x"))
	f.Add(index(abi.ImportMessageReplace), false, args(1, 9, 0, 0), []byte("x"))
	f.Add(index(abi.ImportMessageInfo), false, args(-1), []byte("x"))
	f.Add(index(abi.ImportMessageDrop), false, args(1), []byte("x"))
	f.Add(index(abi.ImportSend), false, args(0, abi.DirUpstreamToClient, abi.TypeBinary, 1024, 48), []byte("x"))
	f.Add(index(abi.ImportSend), false, args(0, 0, abi.TypeText, 65535, 2), []byte("x"))
	f.Add(index(abi.ImportClose), false, args(0, 4000, 1024, 4), []byte("x"))
	f.Add(index(abi.ImportClose), false, args(0, 1005, 1024, 0), []byte("x"))
	f.Add(index(abi.ImportLog), false, args(abi.LogInfo, 0, 65536), []byte("x"))
	f.Add(index(abi.ImportLog), false, args(7, 0, 1), []byte("x"))
	f.Add(index(abi.ImportConfigGet), false, args(2048, 1<<31), []byte("x"))
	f.Add(index(abi.ImportKVSet), false, args(1024, 8, 1032, 8, 0), []byte("x"))
	f.Add(index(abi.ImportKVAdd), false, args(1024, 4, -1<<63, -1), []byte("x"))
	f.Add(index(abi.ImportKVGet), false, args(1024, 8, 65000, 1000), []byte("x"))
	f.Add(index(abi.ImportKVDelete), false, args(0xfffffff0, 32), []byte("x"))
	f.Add(index(abi.ImportMetricDefine), false, args(0, 1024, 4), []byte("x"))
	f.Add(index(abi.ImportMetricAdd), false, args(3, -5), []byte("x"))
	f.Add(index(abi.ImportTickSet), false, args(0, 5), []byte("x"))
	f.Add(index(abi.ImportTimeNow), false, []byte{}, []byte("x"))
	f.Add(index(abi.ImportRequestGet), true, args(abi.FieldQuery, 2048, 48), []byte(nil))
	f.Add(index(abi.ImportRequestGet), true, args(99, 2048, 48), []byte(nil))
	f.Add(index(abi.ImportRequestHeaders), true, args(65520, 100), []byte(nil))
	f.Add(index(abi.ImportUpstreamHeaderSet), true, args(1024, 4, 1028, 4), []byte(nil))
	f.Add(index(abi.ImportUpstreamURISet), true, args(1024, 0x7fffffff), []byte(nil))
	f.Add(index(abi.ImportReject), true, args(451, 1024, 48), []byte(nil))
	f.Add(index(abi.ImportRejectHeader), true, args(1024, 1, 1024, 1), []byte(nil))
	f.Add(index(abi.ImportCloseReasonGet), false, args(1024, 8), []byte("x"))

	logs := &faultLog{}
	h := NewHost(HostOptions{Logger: slog.New(logs)})
	f.Cleanup(func() { h.Close(context.Background()) })
	loaded := make(map[string]*Plugin)
	plugin := func(t *testing.T, name string, onOpen bool) *Plugin {
		key := name + "/messages"
		if onOpen {
			key = name + "/open"
		}
		if p := loaded[key]; p != nil {
			return p
		}
		p, err := h.Load(context.Background(), Spec{Name: strings.ReplaceAll(key, "/", "_"), Instances: 1, Timeout: time.Second,
			Config: []byte(`{"fuzz":true}`), Wasm: hostCallGuest(name, onOpen)})
		if err != nil {
			t.Fatal(err)
		}
		loaded[key] = p
		return p
	}
	bystander, err := h.Load(context.Background(), Spec{Name: "bystander", Instances: 1, Timeout: time.Second,
		Wasm: rawGuest(nil, nil, continueOpen, passMessages)})
	if err != nil {
		f.Fatal(err)
	}
	other, _ := NewChain(0, bystander).Open(&Request{}, &recordingPeer{})

	f.Fuzz(func(t *testing.T, fn uint8, onOpen bool, argBytes, extra []byte) {
		name := names[int(fn)%len(names)]
		p := plugin(t, name, onOpen)
		args := make([]byte, fuzzArgsSize)
		copy(args, argBytes)
		logs.take()

		before, inst := guestMemory(p)
		faults := p.Faults()
		chain := NewChain(1<<10, p)
		req := &Request{Method: "GET", URI: "/fuzz", Path: "/fuzz", Host: "fuzz.test", Header: map[string][]string{"X-Fuzz": {"1"}}}
		if onOpen {
			req.Query = string(args)
		}
		conn, _ := chain.Open(req, &recordingPeer{})
		if conn != nil {
			if !onOpen {
				second := Message{Type: codec.Binary, Payload: extra}
				if utf8.Valid(extra) {
					second.Type = codec.Text
				}
				res := conn.Messages(len(extra)%2 == 1, []Message{{Type: codec.Binary, Payload: args}, second})
				for _, m := range slices.Concat(res.Forward, res.Back) {
					if m.Type == codec.Text && !utf8.Valid(m.Payload) {
						t.Fatalf("%s: the chain passed on invalid UTF-8 text %q", name, m.Payload)
					}
				}
			}
			conn.Close(CloseInfo{Code: codec.CloseNormal})
		}

		for _, cause := range logs.take() {
			if strings.Contains(cause, "runtime error") || strings.Contains(cause, "goroutine ") {
				t.Fatalf("%s%v: the host panicked: %s", name, args, cause)
			}
		}
		after, instAfter := guestMemory(p)
		if p.Faults() != faults || instAfter != inst || before == nil {
			return // the instance was replaced: nothing to compare
		}
		allowed := func(i int) bool { return i >= fuzzArgs && i < fuzzArgs+fuzzArgsSize }
		if w, ok := fuzzWrites[name]; ok {
			arg := func(k int) uint64 { return uint64(uint32(le64(args[8*k:]))) }
			buf, capacity := arg(w[0]), arg(w[1])
			inner := allowed
			allowed = func(i int) bool { return inner(i) || (uint64(i) >= buf && uint64(i) < buf+capacity) }
		}
		for i := range min(len(before), len(after)) {
			if before[i] != after[i] && !allowed(i) {
				t.Fatalf("%s%v: guest memory changed at %d, outside the buffer it named", name, args, i)
			}
		}

		res := other.Messages(false, []Message{{Type: codec.Text, Payload: []byte("still here")}})
		if res.Close || len(res.Forward) != 1 || !bytes.Equal(res.Forward[0].Payload, []byte("still here")) {
			t.Fatalf("%s%v: another plugin's connection stopped passing messages: %+v", name, args, res)
		}
	})
}

func le64(b []byte) uint64 {
	var v uint64
	for i := range 8 {
		v |= uint64(b[i]) << (8 * i)
	}
	return v
}
