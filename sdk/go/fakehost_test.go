//go:build !wasip1

package wasmgate

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wasmgate/wasmgate/sdk/abi"
)

// fakeHost is a host for the tests on the development machine: it keeps
// what the guest did, and fails the test when a host function is called
// outside the hooks the ABI allows it in (where the real host traps).
type fakeHost struct {
	t testing.TB

	cfg      string
	now      int64
	kv       map[string]string
	metrics  []string // "kind:name", by id
	mvals    map[int32]int64
	logs     []string
	ticks    map[uint32]uint32
	fields   map[int32]string
	headers  [][2]string
	upOps    []string
	reopen   bool
	reject   string
	rejHdrs  []string
	chosen   string
	uri      string
	batch    []*fakeMsg
	chunk    int // bytes message_read copies per call, 0 for all
	reads    int // calls of message_read
	maxMsg   int
	sent     []string
	closes   []string
	reason   string
	getCalls int // calls of the (buf, cap) -> len functions
}

type fakeMsg struct {
	typ    int32
	p      string
	action string
}

func newFakeHost(t testing.TB) *fakeHost {
	return &fakeHost{
		t: t, cfg: "null", now: 1_700_000_000_123_456_789,
		kv: map[string]string{}, mvals: map[int32]int64{}, ticks: map[uint32]uint32{},
		fields: map[int32]string{}, maxMsg: 1 << 20,
	}
}

// install makes fh the host and f the registered filter for the test,
// with a small scratch buffer so that long values take the second call.
func install(t *testing.T, fh *fakeHost, f Filter) {
	t.Helper()
	saved := struct {
		host       hostFuncs
		filter     Filter
		registered bool
		conns      map[uint32]*Conn
		scratch    []byte
	}{host, filter, registered, conns, scratch}
	host, filter, registered, conns, scratch, current = fh, f, f != nil, map[uint32]*Conn{}, make([]byte, 8), hookNone
	if f == nil {
		filter = Base{}
	}
	t.Cleanup(func() {
		host, filter, registered, conns, scratch = saved.host, saved.filter, saved.registered, saved.conns, saved.scratch
		current = hookNone
	})
}

var hookNames = map[hookKind]string{
	hookNone: "none", hookStart: "start", hookOpen: "open",
	hookMessages: "messages", hookClose: "close", hookTick: "tick",
}

func (f *fakeHost) need(fn string, hooks ...hookKind) {
	f.t.Helper()
	if len(hooks) == 0 {
		if current == hookNone {
			f.t.Errorf("%s called outside a hook", fn)
		}
		return
	}
	if !slices.Contains(hooks, current) {
		f.t.Errorf("%s called in hook %s", fn, hookNames[current])
	}
}

func (f *fakeHost) write(buf []byte, v string) int32 {
	f.getCalls++
	copy(buf, v)
	return int32(len(v))
}

func list(items ...string) string { return string(appendList(nil, items...)) }

func (f *fakeHost) Log(level int32, msg string) {
	f.need("log")
	if level < abi.LogDebug || level > abi.LogError {
		f.t.Errorf("log level %d", level)
	}
	f.logs = append(f.logs, fmt.Sprintf("%d %s", level, msg))
}

func (f *fakeHost) ConfigGet(buf []byte) int32 { f.need("config_get"); return f.write(buf, f.cfg) }

func (f *fakeHost) TimeNow() int64 { f.need("time_now"); return f.now }

func (f *fakeHost) TickSet(ctx, ms uint32) int32 {
	f.need("tick_set")
	if ms != 0 && ms < abi.MinTickPeriodMillis {
		f.t.Errorf("tick_set(%d, %d)", ctx, ms)
	}
	f.ticks[ctx] = ms
	return 0
}

func (f *fakeHost) KVGet(key string, buf []byte) int32 {
	f.need("kv_get")
	v, ok := f.kv[key]
	if !ok {
		return abi.ErrNotFound
	}
	return f.write(buf, v)
}

func (f *fakeHost) KVSet(key string, val []byte, ttl int64) int32 {
	f.need("kv_set")
	if len(val) > 100 {
		return abi.ErrTooLarge
	}
	f.kv[key] = fmt.Sprintf("%s", val)
	if ttl != 0 {
		f.kv[key+"#ttl"] = fmt.Sprint(ttl)
	}
	return 0
}

func (f *fakeHost) KVAdd(key string, delta, ttl int64) int64 {
	f.need("kv_add")
	if key == "full" {
		return abi.KVAddFull
	}
	var n int64
	if v, ok := f.kv[key]; ok {
		fmt.Sscan(v, &n)
	}
	n += delta
	f.kv[key] = fmt.Sprint(n)
	return n
}

func (f *fakeHost) KVDelete(key string) int32 {
	f.need("kv_delete")
	if _, ok := f.kv[key]; !ok {
		return abi.ErrNotFound
	}
	delete(f.kv, key)
	return 0
}

func (f *fakeHost) MetricDefine(kind int32, name string) int32 {
	f.need("metric_define", hookStart)
	if name == "" || strings.ContainsAny(name, " -") {
		return abi.ErrInvalidArgument
	}
	f.metrics = append(f.metrics, fmt.Sprintf("%d:%s", kind, name))
	return int32(len(f.metrics) - 1)
}

func (f *fakeHost) MetricAdd(id int32, delta int64) { f.need("metric_add"); f.mvals[id] += delta }
func (f *fakeHost) MetricSet(id int32, v int64)     { f.need("metric_set"); f.mvals[id] = v }

func (f *fakeHost) RequestGet(field int32, buf []byte) int32 {
	f.need("request_get", hookOpen)
	if field < abi.FieldMethod || field > abi.FieldRoute {
		f.t.Errorf("request_get(%d)", field)
	}
	return f.write(buf, f.fields[field])
}

func (f *fakeHost) RequestHeader(name string, buf []byte) int32 {
	f.need("request_header", hookOpen)
	var vals []string
	for _, h := range f.headers {
		if strings.EqualFold(h[0], name) {
			vals = append(vals, h[1])
		}
	}
	if vals == nil {
		return abi.ErrNotFound
	}
	return f.write(buf, list(vals...))
}

func (f *fakeHost) RequestHeaders(buf []byte) int32 {
	f.need("request_headers", hookOpen)
	var items []string
	for _, h := range f.headers {
		items = append(items, h[0], h[1])
	}
	return f.write(buf, list(items...))
}

func (f *fakeHost) upstream(op, name, val string) int32 {
	f.need("upstream_header_"+op, hookOpen)
	if f.reopen {
		return abi.ErrWrongHook
	}
	if strings.EqualFold(name, "upgrade") {
		return abi.ErrInvalidArgument
	}
	f.upOps = append(f.upOps, op+" "+name+"="+val)
	return 0
}

func (f *fakeHost) UpstreamHeaderSet(name, val string) int32 { return f.upstream("set", name, val) }
func (f *fakeHost) UpstreamHeaderAdd(name, val string) int32 { return f.upstream("add", name, val) }
func (f *fakeHost) UpstreamHeaderRemove(name string) int32   { return f.upstream("remove", name, "") }

func (f *fakeHost) UpstreamURISet(uri string) int32 {
	f.need("upstream_uri_set", hookOpen)
	if !strings.HasPrefix(uri, "/") {
		return abi.ErrInvalidArgument
	}
	f.uri = uri
	return 0
}

func (f *fakeHost) UpstreamChoose(name string) int32 {
	f.need("upstream_choose", hookOpen)
	if name != "b" {
		return abi.ErrNotFound
	}
	f.chosen = name
	return 0
}

func (f *fakeHost) Reject(status int32, body []byte) int32 {
	f.need("reject", hookOpen)
	if status < 400 || status > 599 {
		f.t.Errorf("reject(%d)", status)
	}
	f.reject = fmt.Sprintf("%d %s", status, body)
	return 0
}

func (f *fakeHost) RejectHeader(name, val string) int32 {
	f.need("reject_header", hookOpen)
	f.rejHdrs = append(f.rejHdrs, name+"="+val)
	return 0
}

func (f *fakeHost) message(fn string, i uint32) *fakeMsg {
	f.need(fn, hookMessages)
	if int(i) >= len(f.batch) {
		f.t.Fatalf("%s(%d) in a batch of %d", fn, i, len(f.batch))
	}
	return f.batch[i]
}

func (f *fakeHost) MessageInfo(i uint32) int64 {
	f.need("message_info", hookMessages)
	if int(i) >= len(f.batch) {
		return abi.ErrNotFound
	}
	return abi.MessageInfo(uint32(len(f.batch[i].p)), f.batch[i].typ)
}

func (f *fakeHost) MessageRead(i, off uint32, buf []byte) int32 {
	m := f.message("message_read", i)
	f.reads++
	p := m.p[off:]
	if f.chunk > 0 && len(p) > f.chunk {
		p = p[:f.chunk]
	}
	return int32(copy(buf, p))
}

func (f *fakeHost) MessageReplace(i uint32, typ int32, p []byte) int32 {
	m := f.message("message_replace", i)
	if typ != abi.TypeText && typ != abi.TypeBinary {
		f.t.Errorf("message_replace type %d", typ)
	}
	if typ == abi.TypeText && !utf8.Valid(p) {
		return abi.ErrInvalidArgument
	}
	if len(p) > f.maxMsg {
		return abi.ErrTooLarge
	}
	m.action = fmt.Sprintf("replace(%d,%s)", typ, p)
	return 0
}

func (f *fakeHost) MessageDrop(i uint32) int32 {
	f.message("message_drop", i).action = "drop"
	return 0
}

func (f *fakeHost) Send(ctx, flags uint32, typ int32, p []byte) int32 {
	f.need("send", hookMessages, hookTick)
	if typ != abi.TypeText && typ != abi.TypeBinary {
		f.t.Errorf("send type %d", typ)
	}
	f.sent = append(f.sent, fmt.Sprintf("send(%d,%d,%d,%s)", ctx, flags, typ, p))
	return 0
}

func (f *fakeHost) Close(ctx, code uint32, reason string) int32 {
	f.need("close", hookOpen, hookMessages, hookTick)
	if code < 1000 || code >= 5000 {
		return abi.ErrInvalidArgument
	}
	f.closes = append(f.closes, fmt.Sprintf("%d %d %s", ctx, code, reason))
	return 0
}

func (f *fakeHost) CloseReasonGet(buf []byte) int32 {
	f.need("close_reason_get", hookClose)
	return f.write(buf, f.reason)
}

// runBatch runs one on_messages call with payloads ("b:" starts a binary
// one) and returns the status and each message's outcome.
func (f *fakeHost) runBatch(ctx, flags uint32, payloads ...string) (int32, []string) {
	f.batch = f.batch[:0]
	for _, p := range payloads {
		typ := int32(abi.TypeText)
		if rest, ok := strings.CutPrefix(p, "b:"); ok {
			typ, p = abi.TypeBinary, rest
		}
		f.batch = append(f.batch, &fakeMsg{typ: typ, p: p, action: "pass"})
	}
	status := onMessages(ctx, flags, uint32(len(payloads)))
	var out []string
	for _, m := range f.batch {
		out = append(out, m.action)
	}
	return status, out
}
