package plugins

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/sdk/abi"
)

// hook is the guest export a call runs.
type hook int

const (
	hookStart hook = iota
	hookOpen
	hookMessages
	hookClose
	hookTick
	hookCount // the number of hooks
)

// call is the state of one hook call that its host functions act on.
type call struct {
	hook    hook
	binding *binding // nil for on_start and plugin-wide ticks

	// on_open; reopen is set when it reruns for a live connection moved
	// to a new version of the plugin: no handshake is in progress, req is
	// the request kept from it and verdict is nil.
	reopen       bool
	req          *Request
	verdict      *Verdict
	rejection    *Rejection
	rejectHeader http.Header

	// on_messages
	batch        []Message
	acts         []messageAction
	dir          *direction
	cursor       int // the highest index the guest has acted on
	fromUpstream bool

	// on_close
	closeInfo *CloseInfo

	// close, on the call's own connection
	closeSet    bool
	closeCode   codec.StatusCode
	closeReason string
}

// trap ends the call with a guest error: the guest broke the ABI.
type trap struct{ msg string }

func (t *trap) Error() string { return t.msg }

func trapf(format string, args ...any) {
	panic(&trap{msg: fmt.Sprintf(format, args...)})
}

// current returns the instance a host function was called from.
func current(ctx context.Context) *instance {
	inst, _ := ctx.Value(instanceKey{}).(*instance)
	if inst == nil {
		trapf("host function called outside a wasmgate hook")
	}
	return inst
}

// read returns the guest's bytes at (ptr, n), or traps.
func (inst *instance) read(ptr, n uint32) []byte {
	b, ok := inst.mem.Read(ptr, n)
	if !ok {
		trapf("pointer %d with length %d lies outside memory (%d bytes)", ptr, n, inst.mem.Size())
	}
	return b
}

// give copies v into the guest's buffer (buf, cap) as far as it fits and
// returns len(v), the convention for strings the host gives the guest.
func (inst *instance) give(buf, capacity uint32, v []byte) uint64 {
	if uint64(len(v)) > math.MaxInt32 {
		return negative(abi.ErrTooLarge)
	}
	dst := inst.read(buf, capacity)
	copy(dst, v)
	return uint64(uint32(len(v)))
}

// negative encodes an ABI error code as an i32 result.
func negative(code int32) uint64 { return uint64(uint32(code)) }

func i32(v uint64) int32 { return int32(uint32(v)) }

// instantiateHostModule defines module "wasmgate" in rt.
func instantiateHostModule(ctx context.Context, rt wazero.Runtime) error {
	b := rt.NewHostModuleBuilder(abi.ModuleName)
	for name, fn := range hostFunctions {
		sig := abi.ImportSignatures[name]
		b.NewFunctionBuilder().
			WithGoModuleFunction(api.GoModuleFunc(fn), sig.Params, sig.Results).
			WithName(name).
			Export(name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// hostFunctions implement section 4 of ABI.md, one per import.
var hostFunctions = map[string]func(ctx context.Context, mod api.Module, stack []uint64){
	abi.ImportLog:          hostLog,
	abi.ImportConfigGet:    hostConfigGet,
	abi.ImportTimeNow:      hostTimeNow,
	abi.ImportTickSet:      hostTickSet,
	abi.ImportKVGet:        hostKVGet,
	abi.ImportKVSet:        hostKVSet,
	abi.ImportKVAdd:        hostKVAdd,
	abi.ImportKVDelete:     hostKVDelete,
	abi.ImportMetricDefine: hostMetricDefine,
	abi.ImportMetricAdd:    hostMetricAdd,
	abi.ImportMetricSet:    hostMetricSet,

	abi.ImportRequestGet:           hostRequestGet,
	abi.ImportRequestHeader:        hostRequestHeader,
	abi.ImportRequestHeaders:       hostRequestHeaders,
	abi.ImportUpstreamHeaderSet:    hostUpstreamHeader(EditSet),
	abi.ImportUpstreamHeaderAdd:    hostUpstreamHeader(EditAdd),
	abi.ImportUpstreamHeaderRemove: hostUpstreamHeader(EditRemove),
	abi.ImportUpstreamChoose:       hostUpstreamChoose,
	abi.ImportUpstreamURISet:       hostUpstreamURISet,
	abi.ImportReject:               hostReject,
	abi.ImportRejectHeader:         hostRejectHeader,

	abi.ImportMessageInfo:    hostMessageInfo,
	abi.ImportMessageRead:    hostMessageRead,
	abi.ImportMessageReplace: hostMessageReplace,
	abi.ImportMessageDrop:    hostMessageDrop,
	abi.ImportSend:           hostSend,
	abi.ImportClose:          hostClose,

	abi.ImportCloseReasonGet: hostCloseReasonGet,
}

// --- Everywhere ---

func hostLog(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	level := i32(stack[0])
	var l slog.Level
	switch level {
	case abi.LogDebug:
		l = slog.LevelDebug
	case abi.LogInfo:
		l = slog.LevelInfo
	case abi.LogWarn:
		l = slog.LevelWarn
	case abi.LogError:
		l = slog.LevelError
	default:
		trapf("log: level %d is none of LOG_DEBUG..LOG_ERROR", level)
	}
	msg := inst.read(uint32(stack[1]), uint32(stack[2]))
	log := inst.slot.plugin.log
	if !log.Enabled(context.Background(), l) {
		return
	}
	if c := inst.cur; c != nil && c.binding != nil {
		log.Log(context.Background(), l, string(msg), "conn", c.binding.id)
		return
	}
	log.Log(context.Background(), l, string(msg))
}

func hostConfigGet(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	stack[0] = inst.give(uint32(stack[0]), uint32(stack[1]), inst.slot.plugin.spec.Config)
}

func hostTimeNow(_ context.Context, _ api.Module, stack []uint64) {
	stack[0] = uint64(time.Now().UnixNano())
}

func hostTickSet(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	id, ms := uint32(stack[0]), uint32(stack[1])
	s := inst.slot
	switch {
	case ms != 0 && ms < abi.MinTickPeriodMillis:
		stack[0] = negative(abi.ErrInvalidArgument)
		return
	case id != 0 && s.conns[id] == nil:
		stack[0] = negative(abi.ErrNotFound)
		return
	}
	s.setTick(inst, id, time.Duration(ms)*time.Millisecond)
	stack[0] = abi.OK
}

// kvKey is the plugin's key in the shared store: its namespace, a NUL,
// and the guest's key.
func (inst *instance) kvKey(ptr, n uint32) []byte {
	ns := inst.slot.plugin.spec.KVNamespace
	inst.scratch = append(append(append(inst.scratch[:0], ns...), 0), inst.read(ptr, n)...)
	return inst.scratch
}

func kvError(err error) uint64 {
	if errors.Is(err, ErrKVFull) || errors.Is(err, ErrKVTooLarge) {
		return negative(abi.ErrTooLarge)
	}
	trapf("kv: %v", err)
	return 0
}

func hostKVGet(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	key := inst.kvKey(uint32(stack[0]), uint32(stack[1]))
	val, ok := inst.slot.plugin.host.opts.KV.Get(key, inst.value[:0])
	inst.value = val[:0]
	if !ok {
		stack[0] = negative(abi.ErrNotFound)
		return
	}
	stack[0] = inst.give(uint32(stack[2]), uint32(stack[3]), val)
}

func hostKVSet(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	key := inst.kvKey(uint32(stack[0]), uint32(stack[1]))
	val := inst.read(uint32(stack[2]), uint32(stack[3]))
	ttl := int64(stack[4])
	if ttl < 0 {
		stack[0] = negative(abi.ErrInvalidArgument)
		return
	}
	if err := inst.slot.plugin.host.opts.KV.Set(key, val, millis(ttl)); err != nil {
		stack[0] = kvError(err)
		return
	}
	stack[0] = abi.OK
}

func hostKVAdd(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	key := inst.kvKey(uint32(stack[0]), uint32(stack[1]))
	delta, ttl := int64(stack[2]), int64(stack[3])
	if ttl < 0 {
		trapf("kv_add: negative ttl_ms %d", ttl)
	}
	n, err := inst.slot.plugin.host.opts.KV.Add(key, delta, millis(ttl))
	switch {
	case err == nil && n == math.MinInt64:
		trapf("kv_add: the value of %q would reach -2^63", key[len(inst.slot.plugin.spec.KVNamespace)+1:])
	case errors.Is(err, ErrKVFull), errors.Is(err, ErrKVTooLarge):
		stack[0] = 1 << 63 // abi.KVAddFull, -2^63, as the bits of an i64
		return
	case err != nil:
		trapf("kv_add %q: %v", key[len(inst.slot.plugin.spec.KVNamespace)+1:], err)
	}
	stack[0] = uint64(n)
}

func hostKVDelete(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	key := inst.kvKey(uint32(stack[0]), uint32(stack[1]))
	if !inst.slot.plugin.host.opts.KV.Delete(key) {
		stack[0] = negative(abi.ErrNotFound)
		return
	}
	stack[0] = abi.OK
}

func hostMetricDefine(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	kind := i32(stack[0])
	if kind != abi.MetricCounter && kind != abi.MetricGauge {
		trapf("metric_define: kind %d is neither METRIC_COUNTER nor METRIC_GAUGE", kind)
	}
	name := inst.read(uint32(stack[1]), uint32(stack[2]))
	if inst.cur == nil || inst.cur.hook != hookStart {
		stack[0] = negative(abi.ErrWrongHook)
		return
	}
	p := inst.slot.plugin
	id, err := p.host.opts.Metrics.Define(p.spec.Name, string(name), MetricKind(kind))
	switch {
	case errors.Is(err, ErrMetricLimit):
		stack[0] = negative(abi.ErrTooLarge)
	case err != nil:
		stack[0] = negative(abi.ErrInvalidArgument)
	default:
		stack[0] = uint64(uint32(id))
	}
}

func hostMetricAdd(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	p := inst.slot.plugin
	if err := p.host.opts.Metrics.Add(p.spec.Name, i32(stack[0]), int64(stack[1])); err != nil {
		trapf("metric_add: %v", err)
	}
}

func hostMetricSet(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	p := inst.slot.plugin
	if err := p.host.opts.Metrics.Set(p.spec.Name, i32(stack[0]), int64(stack[1])); err != nil {
		trapf("metric_set: %v", err)
	}
}

// --- On the handshake ---

// openCall returns the call in progress if it is on_open, nil otherwise.
func (inst *instance) openCall() *call {
	if c := inst.cur; c != nil && c.hook == hookOpen {
		return c
	}
	return nil
}

// handshakeCall returns the call in progress if it is on_open during a
// handshake, nil otherwise: a reopen may read the request but neither
// edit the upstream request nor reject.
func (inst *instance) handshakeCall() *call {
	if c := inst.openCall(); c != nil && !c.reopen {
		return c
	}
	return nil
}

func hostRequestGet(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	field := i32(stack[0])
	if field < abi.FieldMethod || field > abi.FieldRoute {
		trapf("request_get: field %d is none of FIELD_METHOD..FIELD_ROUTE", field)
	}
	buf, capacity := uint32(stack[1]), uint32(stack[2])
	inst.read(buf, capacity)
	c := inst.openCall()
	if c == nil {
		stack[0] = negative(abi.ErrWrongHook)
		return
	}
	r := c.req
	var v string
	switch field {
	case abi.FieldMethod:
		v = r.Method
	case abi.FieldURI:
		v = r.URI
	case abi.FieldPath:
		v = r.Path
	case abi.FieldQuery:
		v = r.Query
	case abi.FieldHost:
		v = r.Host
	case abi.FieldRemoteAddr:
		v = r.RemoteAddr
	case abi.FieldProtocols:
		inst.scratch = appendList(inst.scratch[:0], r.Protocols)
		stack[0] = inst.give(buf, capacity, inst.scratch)
		return
	case abi.FieldRoute:
		v = r.Route
	}
	inst.scratch = append(inst.scratch[:0], v...)
	stack[0] = inst.give(buf, capacity, inst.scratch)
}

// appendList appends items as an ABI list: each followed by a NUL.
func appendList(b []byte, items []string) []byte {
	for _, s := range items {
		b = append(append(b, s...), 0)
	}
	return b
}

func hostRequestHeader(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	name := inst.read(uint32(stack[0]), uint32(stack[1]))
	buf, capacity := uint32(stack[2]), uint32(stack[3])
	inst.read(buf, capacity)
	c := inst.openCall()
	if c == nil {
		stack[0] = negative(abi.ErrWrongHook)
		return
	}
	values := c.req.Header.Values(string(name))
	if len(values) == 0 {
		stack[0] = negative(abi.ErrNotFound)
		return
	}
	inst.scratch = appendList(inst.scratch[:0], values)
	stack[0] = inst.give(buf, capacity, inst.scratch)
}

func hostRequestHeaders(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	buf, capacity := uint32(stack[0]), uint32(stack[1])
	inst.read(buf, capacity)
	c := inst.openCall()
	if c == nil {
		stack[0] = negative(abi.ErrWrongHook)
		return
	}
	b := inst.scratch[:0]
	for _, k := range slices.Sorted(maps.Keys(c.req.Header)) {
		lower := strings.ToLower(k)
		for _, v := range c.req.Header[k] {
			b = append(append(append(append(b, lower...), 0), v...), 0)
		}
	}
	inst.scratch = b
	stack[0] = inst.give(buf, capacity, b)
}

// reservedHeaders are the headers a filter may not set on the upstream
// request or a refusal: the handshake's own and the hop-by-hop ones.
var reservedHeaders = map[string]bool{
	"Host": true, "Upgrade": true, "Connection": true, "Keep-Alive": true,
	"Proxy-Connection": true, "Te": true, "Trailer": true, "Transfer-Encoding": true,
	"Content-Length": true, "Proxy-Authenticate": true, "Proxy-Authorization": true,
}

// headerName validates a header name a guest gives and returns it in
// canonical form, or "" when the host refuses it.
func headerName(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	for _, c := range b {
		if !isTokenChar(c) {
			return ""
		}
	}
	name := http.CanonicalHeaderKey(string(b))
	if reservedHeaders[name] || strings.HasPrefix(name, "Sec-Websocket-") {
		return ""
	}
	return name
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// headerValue reports whether a guest's header value may be sent.
func headerValue(b []byte) bool {
	for _, c := range b {
		if c == '\r' || c == '\n' || c == 0 {
			return false
		}
	}
	return true
}

// headerArgs reads the (name, value) arguments of an on_open header
// function (the value only when withValue) and checks them; ok is false,
// with the error code in stack[0], when they are refused.
func headerArgs(ctx context.Context, stack []uint64, withValue bool) (c *call, name string, value []byte, ok bool) {
	inst := current(ctx)
	rawName := inst.read(uint32(stack[0]), uint32(stack[1]))
	if withValue {
		value = inst.read(uint32(stack[2]), uint32(stack[3]))
	}
	if c = inst.handshakeCall(); c == nil {
		stack[0] = negative(abi.ErrWrongHook)
		return nil, "", nil, false
	}
	if name = headerName(rawName); name == "" || !headerValue(value) {
		stack[0] = negative(abi.ErrInvalidArgument)
		return nil, "", nil, false
	}
	return c, name, value, true
}

func hostUpstreamHeader(op EditOp) func(ctx context.Context, _ api.Module, stack []uint64) {
	return func(ctx context.Context, _ api.Module, stack []uint64) {
		c, name, value, ok := headerArgs(ctx, stack, op != EditRemove)
		if !ok {
			return
		}
		c.verdict.Edits = append(c.verdict.Edits, HeaderEdit{Op: op, Name: name, Value: string(value)})
		stack[0] = abi.OK
	}
}

func hostUpstreamChoose(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	name := inst.read(uint32(stack[0]), uint32(stack[1]))
	c := inst.handshakeCall()
	if c == nil {
		stack[0] = negative(abi.ErrWrongHook)
		return
	}
	if c.req.HasUpstream == nil || !c.req.HasUpstream(string(name)) {
		stack[0] = negative(abi.ErrNotFound)
		return
	}
	c.verdict.Upstream = string(name)
	stack[0] = abi.OK
}

// maxUpstreamURI bounds a request-target a filter sets: far beyond any
// real path, well inside every server's request-line limit.
const maxUpstreamURI = 8192

func hostUpstreamURISet(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	uri := inst.read(uint32(stack[0]), uint32(stack[1]))
	c := inst.handshakeCall()
	if c == nil {
		stack[0] = negative(abi.ErrWrongHook)
		return
	}
	if !validRequestTarget(uri) {
		stack[0] = negative(abi.ErrInvalidArgument)
		return
	}
	c.verdict.URI = string(uri)
	stack[0] = abi.OK
}

// validRequestTarget reports whether uri may go on the upstream's request
// line as it is: an origin-form target (RFC 9112, section 3.2.1) of
// visible ASCII, so that no byte of it can end the line, split it or
// smuggle a fragment.
func validRequestTarget(uri []byte) bool {
	if len(uri) == 0 || len(uri) > maxUpstreamURI || uri[0] != '/' {
		return false
	}
	for _, b := range uri {
		if b <= ' ' || b >= 0x7f || b == '#' {
			return false
		}
	}
	return true
}

func hostReject(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	status := i32(stack[0])
	body := inst.read(uint32(stack[1]), uint32(stack[2]))
	c := inst.handshakeCall()
	if c == nil {
		stack[0] = negative(abi.ErrWrongHook)
		return
	}
	if status < 400 || status > 599 {
		stack[0] = negative(abi.ErrInvalidArgument)
		return
	}
	c.rejection = &Rejection{Status: int(status), Body: slices.Clone(body)}
	stack[0] = abi.OK
}

func hostRejectHeader(ctx context.Context, _ api.Module, stack []uint64) {
	c, name, value, ok := headerArgs(ctx, stack, true)
	if !ok {
		return
	}
	if c.rejectHeader == nil {
		c.rejectHeader = http.Header{}
	}
	c.rejectHeader.Add(name, string(value))
	stack[0] = abi.OK
}

// --- On messages ---

// message returns the call in progress and its message index, marking
// the index as acted on; ok is false with the error code in stack[0] when
// the call is not on_messages or the index is outside the batch.
func (inst *instance) message(stack []uint64, index int32) (*call, bool) {
	c := inst.cur
	if c == nil || c.hook != hookMessages {
		stack[0] = negative(abi.ErrWrongHook)
		return nil, false
	}
	if index < 0 || int(index) >= len(c.batch) {
		stack[0] = negative(abi.ErrNotFound)
		return nil, false
	}
	c.cursor = max(c.cursor, int(index))
	return c, true
}

// payload is message index as it stands: replaced or original.
func (c *call) payload(index int32) Message {
	if a := &c.acts[index]; a.replaced {
		return a.msg
	}
	return c.batch[index]
}

func hostMessageInfo(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	c, ok := inst.message(stack, i32(stack[0]))
	if !ok {
		// message left the code as an i32 result; this one is an i64.
		stack[0] = uint64(int64(i32(stack[0])))
		return
	}
	m := c.payload(i32(stack[0]))
	stack[0] = uint64(abi.MessageInfo(uint32(len(m.Payload)), int32(m.Type)))
}

func hostMessageRead(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	index, offset := i32(stack[0]), uint32(stack[1])
	dst := inst.read(uint32(stack[2]), uint32(stack[3]))
	c, ok := inst.message(stack, index)
	if !ok {
		return
	}
	p := c.payload(index).Payload
	if uint64(offset) >= uint64(len(p)) {
		stack[0] = 0
		return
	}
	stack[0] = uint64(uint32(copy(dst, p[offset:])))
}

// checkPayload validates a message a guest gives: its type, UTF-8 for
// text, and the route's size limit. It returns an error code, or OK.
func (inst *instance) checkPayload(typ int32, p []byte) int32 {
	if typ != abi.TypeText && typ != abi.TypeBinary {
		trapf("message type %d is neither TYPE_TEXT nor TYPE_BINARY", typ)
	}
	c := inst.cur
	if c != nil && c.binding != nil {
		if limit := c.binding.conn.chain.maxMessageSize; limit > 0 && int64(len(p)) > limit {
			return abi.ErrTooLarge
		}
	}
	if typ == abi.TypeText && !utf8.Valid(p) {
		return abi.ErrInvalidArgument
	}
	return abi.OK
}

func hostMessageReplace(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	index, typ := i32(stack[0]), i32(stack[1])
	p := inst.read(uint32(stack[2]), uint32(stack[3]))
	c, ok := inst.message(stack, index)
	if !ok {
		return
	}
	if code := inst.checkPayload(typ, p); code != abi.OK {
		stack[0] = negative(code)
		return
	}
	c.acts[index] = messageAction{replaced: true, msg: Message{Type: codec.MessageType(typ), Payload: c.dir.buffer(p)}}
	stack[0] = abi.OK
}

func hostMessageDrop(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	index := i32(stack[0])
	c, ok := inst.message(stack, index)
	if !ok {
		return
	}
	c.acts[index].drop = true
	stack[0] = abi.OK
}

// target returns the binding of context id on the calling instance, for
// send and close, or nil.
func (inst *instance) target(id uint32) *binding {
	b := inst.slot.conns[id]
	if b == nil || b.skip.Load() || b.conn.closed.Load() {
		return nil
	}
	return b
}

func hostSend(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	id, flags, typ := uint32(stack[0]), uint32(stack[1]), i32(stack[2])
	p := inst.read(uint32(stack[3]), uint32(stack[4]))
	c := inst.cur
	if c == nil || (c.hook != hookMessages && c.hook != hookTick) {
		stack[0] = negative(abi.ErrWrongHook)
		return
	}
	if code := inst.checkPayload(typ, p); code != abi.OK {
		stack[0] = negative(code)
		return
	}
	b := inst.target(id)
	if b == nil {
		stack[0] = negative(abi.ErrNotFound)
		return
	}
	toClient := flags&abi.DirUpstreamToClient != 0
	if c.hook == hookMessages && b == c.binding {
		c.dir.outs = append(c.dir.outs, output{toClient: toClient, typ: codec.MessageType(typ), payload: c.dir.buffer(p), after: c.cursor})
	} else {
		inst.slot.pending = append(inst.slot.pending, deferred{conn: b.conn, toClient: toClient, typ: codec.MessageType(typ), payload: slices.Clone(p)})
	}
	stack[0] = abi.OK
}

func hostClose(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	id, code := uint32(stack[0]), i32(stack[1])
	reason := inst.read(uint32(stack[2]), uint32(stack[3]))
	c := inst.cur
	if c == nil || (c.hook != hookMessages && c.hook != hookTick && c.hook != hookOpen) {
		stack[0] = negative(abi.ErrWrongHook)
		return
	}
	if code < 0 || code > math.MaxUint16 || !codec.StatusCode(code).ValidOnWire() || len(reason) > 123 || !utf8.Valid(reason) {
		stack[0] = negative(abi.ErrInvalidArgument)
		return
	}
	b := inst.target(id)
	if b == nil {
		stack[0] = negative(abi.ErrNotFound)
		return
	}
	if b == c.binding && (c.hook == hookMessages || c.hook == hookOpen) {
		if !c.closeSet {
			c.closeSet, c.closeCode, c.closeReason = true, codec.StatusCode(code), string(reason)
		}
	} else {
		inst.slot.pending = append(inst.slot.pending, deferred{conn: b.conn, close: true, code: codec.StatusCode(code), reason: string(reason)})
	}
	stack[0] = abi.OK
}

// --- On close ---

func hostCloseReasonGet(ctx context.Context, _ api.Module, stack []uint64) {
	inst := current(ctx)
	buf, capacity := uint32(stack[0]), uint32(stack[1])
	inst.read(buf, capacity)
	c := inst.cur
	if c == nil || c.hook != hookClose {
		stack[0] = negative(abi.ErrWrongHook)
		return
	}
	inst.scratch = append(inst.scratch[:0], c.closeInfo.Reason...)
	stack[0] = inst.give(buf, capacity, inst.scratch)
}

// millis converts a guest's non-negative millisecond count to a Duration,
// capped where the multiplication would overflow (about 292 years).
func millis(ms int64) time.Duration {
	if ms > math.MaxInt64/int64(time.Millisecond) {
		return math.MaxInt64
	}
	return time.Duration(ms) * time.Millisecond
}
