package wasmgate

import (
	"math"
	"time"

	"github.com/wasmgate/wasmgate/sdk/abi"
)

// hookKind is the hook the guest is running in: the host functions are
// valid only during a hook, some only during one (ABI.md, section 4).
type hookKind uint8

const (
	hookNone hookKind = iota
	hookStart
	hookOpen
	hookMessages
	hookClose
	hookTick
)

// scratchSize is the first size of the buffer host functions copy
// strings into; it grows to the longest value seen.
const scratchSize = 1024

// The state of the instance. A guest is never re-entered and never runs
// on two threads, so none of it needs a lock.
var (
	filter     Filter = Base{}
	registered bool
	current    hookKind
	// conns are the connections the guest knows, by context id.
	conns = map[uint32]*Conn{}
	// scratch receives the strings of the (buf, cap) -> len calls.
	scratch = make([]byte, scratchSize)
	// msg is the Message of every call of Filter.Message; msgBuf holds
	// its payload once read.
	msg    Message
	msgBuf []byte
	// batchConn is the connection of the running on_messages;
	// batchClosed is set when the filter closes it.
	batchConn   *Conn
	batchClosed bool
)

// Register installs the plugin's filter. Call it exactly once, from an
// init function of the plugin's main package: the host calls the hooks
// right after the module's initialization. It panics when f is nil or when
// a filter is already registered.
func Register(f Filter) {
	if f == nil {
		panic("wasmgate: Register with a nil Filter")
	}
	if registered {
		panic("wasmgate: Register called twice")
	}
	filter, registered = f, true
}

// inHook reports whether the guest is running in a hook, where the
// functions of section 4.1 are valid.
func inHook() bool { return current != hookNone }

// fetch calls a host function of the (buf, cap) -> len convention with
// the scratch buffer, and again with a larger one while the value does not
// fit (it may change between two calls: the key-value store is shared).
// The bytes it returns alias scratch: copy them before the next call.
func fetch(get func(buf []byte) int32) ([]byte, error) {
	for {
		n := get(scratch)
		if n < 0 {
			return nil, errorFor(n)
		}
		if int(n) <= len(scratch) {
			return scratch[:n], nil
		}
		scratch = make([]byte, n)
	}
}

// millis converts a non-negative duration to milliseconds, rounding a
// fraction up so that a positive duration never becomes 0.
func millis(d time.Duration) int64 {
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	return int64(ms)
}

// tickMillis converts a timer period to the argument of tick_set: 0 stops
// the timer, other periods must be whole milliseconds from
// abi.MinTickPeriodMillis to math.MaxInt32 (fractions are rounded up).
func tickMillis(period time.Duration) (uint32, error) {
	if period == 0 {
		return 0, nil
	}
	if period < 0 {
		return 0, ErrInvalidArgument
	}
	ms := millis(period)
	if ms < abi.MinTickPeriodMillis || ms > math.MaxInt32 {
		return 0, ErrInvalidArgument
	}
	return uint32(ms), nil
}

// ttlMillis converts a time to live to the argument of kv_set and kv_add:
// 0 keeps the value until it is deleted.
func ttlMillis(ttl time.Duration) (int64, error) {
	if ttl < 0 {
		return 0, ErrInvalidArgument
	}
	return millis(ttl), nil
}

// conn returns the connection of a context id, creating it for an id the
// guest has not seen (a hook of a connection opened before this instance
// took it over).
func conn(ctx uint32) *Conn {
	c := conns[ctx]
	if c == nil {
		c = &Conn{id: ctx}
		conns[ctx] = c
	}
	return c
}

// onStart is the hook wasmgate_on_start: () -> status.
func onStart() int32 {
	current = hookStart
	status := start()
	current = hookNone
	return status
}

func start() int32 {
	if !registered {
		Log(LevelError, "no filter is registered: call wasmgate.Register from an init function of the plugin")
		return 1
	}
	raw, err := fetch(hConfigGet)
	if err != nil {
		Errorf("reading the configuration: %v", err)
		return 1
	}
	var cfg Config
	if len(raw) > 0 {
		cfg.raw = append([]byte(nil), raw...)
	}
	if err := filter.Start(cfg); err != nil {
		Errorf("start: %v", err)
		return 1
	}
	return 0
}

// onOpen is the hook wasmgate_on_open: (ctx, flags) -> action.
func onOpen(ctx, flags uint32) int32 {
	c := conn(ctx)
	c.tls = flags&abi.OpenTLS != 0
	r := &Request{conn: c, reopen: flags&abi.OpenReopen != 0, valid: true}
	current = hookOpen
	a := filter.Open(c, r)
	current = hookNone
	r.valid = false
	if a != Continue {
		a = Reject
	}
	// A rejected handshake, or one closed during Open (which the host
	// turns into a rejection), gets no on_close: forget the connection
	// now. A reopened connection is live and ends with on_close.
	if !r.reopen && (a == Reject || c.closed) {
		forget(c)
	}
	return int32(a)
}

// onMessages is the hook wasmgate_on_messages: (ctx, flags, count) ->
// status. It calls Filter.Message for each message of the batch with the
// same Message value, and stops when the filter closed the connection
// (the host drops the rest of the batch).
func onMessages(ctx, flags, count uint32) int32 {
	c := conn(ctx)
	m := &msg
	*m = Message{count: count, fromUpstream: flags&abi.DirUpstreamToClient != 0, valid: true}
	batchConn, batchClosed = c, false
	current = hookMessages
	status := int32(0)
	for i := uint32(0); i < count && !batchClosed; i++ {
		info := hMessageInfo(i)
		n, t, err := splitInfo(info)
		if err != nil {
			Errorf("message_info(%d) of a batch of %d: %v", i, count, err)
			status = 1
			break
		}
		m.index, m.typ, m.n, m.got, m.loaded = i, t, n, 0, false
		filter.Message(c, m)
	}
	current = hookNone
	m.valid = false
	batchConn = nil
	return status
}

// splitInfo unpacks a result of message_info: the payload's length and
// the message type, or the error of a negative result.
func splitInfo(info int64) (uint32, MessageType, error) {
	if info < 0 {
		if info < math.MinInt32 {
			return 0, 0, errorFor(math.MinInt32)
		}
		return 0, 0, errorFor(int32(info))
	}
	n, t := abi.SplitMessageInfo(info)
	return n, MessageType(t), nil
}

// onClose is the hook wasmgate_on_close: (ctx, flags, code).
func onClose(ctx, flags, code uint32) {
	c := conns[ctx]
	if c == nil {
		c = &Conn{id: ctx}
	}
	e := CloseEvent{
		ByUpstream: flags&abi.CloseByUpstream != 0,
		Abnormal:   flags&abi.CloseAbnormal != 0,
		Code:       uint16(code),
	}
	current = hookClose
	if b, err := fetch(hCloseReasonGet); err == nil && len(b) > 0 {
		e.Reason = string(b)
	}
	filter.Close(c, e)
	current = hookNone
	forget(c)
}

// onTick is the hook wasmgate_on_tick: (ctx).
func onTick(ctx uint32) {
	var c *Conn
	if ctx != 0 {
		c = conn(ctx)
	}
	current = hookTick
	filter.Tick(c)
	current = hookNone
}

// forget drops a connection that the host will not name again.
func forget(c *Conn) {
	if conns[c.id] == c {
		delete(conns, c.id)
	}
	c.gone = true
}
