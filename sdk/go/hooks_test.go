//go:build !wasip1

package wasmgate

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/sdk/abi"
)

// funcFilter is a Filter made of functions; a nil one acts as Base.
type funcFilter struct {
	Base
	start   func(Config) error
	open    func(*Conn, *Request) Action
	message func(*Conn, *Message)
	close   func(*Conn, CloseEvent)
	tick    func(*Conn)
}

func (f *funcFilter) Start(cfg Config) error {
	if f.start == nil {
		return nil
	}
	return f.start(cfg)
}

func (f *funcFilter) Open(c *Conn, r *Request) Action {
	if f.open == nil {
		return Continue
	}
	return f.open(c, r)
}

func (f *funcFilter) Message(c *Conn, m *Message) {
	if f.message != nil {
		f.message(c, m)
	}
}

func (f *funcFilter) Close(c *Conn, e CloseEvent) {
	if f.close != nil {
		f.close(c, e)
	}
}

func (f *funcFilter) Tick(c *Conn) {
	if f.tick != nil {
		f.tick(c)
	}
}

func wantErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Errorf("%s: error %v, want %v", what, got, want)
	}
}

func TestRegister(t *testing.T) {
	install(t, newFakeHost(t), nil)
	mustPanic := func(what string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", what)
			}
		}()
		f()
	}
	mustPanic("Register(nil)", func() { Register(nil) })
	Register(Base{})
	mustPanic("a second Register", func() { Register(Base{}) })
}

func TestStartWithoutFilter(t *testing.T) {
	fh := newFakeHost(t)
	install(t, fh, nil)
	if st := onStart(); st != 1 {
		t.Errorf("on_start without a filter = %d, want 1", st)
	}
	if len(fh.logs) != 1 || !strings.Contains(fh.logs[0], "Register") {
		t.Errorf("logs %q", fh.logs)
	}
}

func TestStart(t *testing.T) {
	fh := newFakeHost(t)
	fh.cfg = `{"name":"a longer configuration than the scratch buffer","n":3}`
	var got struct {
		Name string
		N    int
	}
	var raw []byte
	var c Counter
	var g Gauge
	install(t, fh, &funcFilter{start: func(cfg Config) error {
		raw = cfg.Bytes()
		if err := cfg.Decode(&got); err != nil {
			return err
		}
		var err error
		if c, err = NewCounter("requests_total"); err != nil {
			return err
		}
		if g, err = NewGauge("level"); err != nil {
			return err
		}
		_, err = NewGauge("bad name")
		wantErr(t, "NewGauge(bad name)", err, ErrInvalidArgument)
		return SetTick(time.Second)
	}})
	if st := onStart(); st != 0 {
		t.Fatalf("on_start = %d, logs %q", st, fh.logs)
	}
	if string(raw) != fh.cfg || got.Name == "" || got.N != 3 {
		t.Errorf("config %q decoded as %+v", raw, got)
	}
	if fh.getCalls != 2 {
		t.Errorf("config_get called %d times, want 2 (the value does not fit the first buffer)", fh.getCalls)
	}
	if !slices.Equal(fh.metrics, []string{"0:requests_total", "1:level"}) {
		t.Errorf("metrics %q", fh.metrics)
	}
	if fh.ticks[0] != 1000 {
		t.Errorf("plugin-wide tick %d", fh.ticks[0])
	}

	// Metrics: defined only in Start, used anywhere in a hook.
	install(t, fh, &funcFilter{tick: func(*Conn) {
		_, err := NewCounter("late")
		wantErr(t, "NewCounter in Tick", err, ErrWrongHook)
		c.Add(2)
		c.Add(-1) // a counter only goes up
		g.Add(-5)
		g.Set(7)
		g.Add(1)
		var zero Counter
		zero.Add(100)
	}})
	onTick(0)
	if fh.mvals[0] != 2 || fh.mvals[1] != 8 || len(fh.mvals) != 2 {
		t.Errorf("metric values %v", fh.mvals)
	}

	// A failing Start.
	install(t, fh, &funcFilter{start: func(Config) error { return errors.New("boom") }})
	if st := onStart(); st != 1 {
		t.Errorf("on_start with an error = %d", st)
	}
	if last := fh.logs[len(fh.logs)-1]; last != "3 start: boom" {
		t.Errorf("last log %q", last)
	}
}

func TestOpen(t *testing.T) {
	fh := newFakeHost(t)
	fh.fields = map[int32]string{
		abi.FieldMethod: "GET", abi.FieldURI: "/chat?room=1", abi.FieldPath: "/chat",
		abi.FieldQuery: "room=1", abi.FieldHost: "example.com", abi.FieldRemoteAddr: "10.0.0.1:5555",
		abi.FieldProtocols: list("chat.v2", "chat.v1"), abi.FieldRoute: "main",
	}
	fh.headers = [][2]string{{"x-multi", "a"}, {"cookie", strings.Repeat("c", 100)}, {"x-multi", "b"}, {"x-empty", ""}}
	var saved *Request
	install(t, fh, &funcFilter{open: func(c *Conn, r *Request) Action {
		saved = r
		for _, tt := range []struct{ got, want string }{
			{r.Method(), "GET"}, {r.URI(), "/chat?room=1"}, {r.Path(), "/chat"},
			{r.Query(), "room=1"}, {r.Host(), "example.com"}, {r.RemoteAddr(), "10.0.0.1:5555"},
			{r.Route(), "main"},
		} {
			if tt.got != tt.want {
				t.Errorf("request field %q, want %q", tt.got, tt.want)
			}
		}
		if p := r.Protocols(); !slices.Equal(p, []string{"chat.v2", "chat.v1"}) {
			t.Errorf("Protocols() = %q", p)
		}
		if v, ok := r.Header("X-Multi"); v != "a" || !ok {
			t.Errorf("Header(X-Multi) = %q, %v", v, ok)
		}
		if v, ok := r.Header("x-empty"); v != "" || !ok {
			t.Errorf("Header(x-empty) = %q, %v", v, ok)
		}
		if v, ok := r.Header("x-none"); v != "" || ok {
			t.Errorf("Header(x-none) = %q, %v", v, ok)
		}
		if v := r.HeaderValues("x-multi"); !slices.Equal(v, []string{"a", "b"}) {
			t.Errorf("HeaderValues = %q", v)
		}
		if v := r.HeaderValues("x-none"); v != nil {
			t.Errorf("HeaderValues(x-none) = %q", v)
		}
		if h := r.Headers(); len(h) != 4 || h[1].Name != "cookie" || len(h[1].Value) != 100 || h[3] != (Header{"x-empty", ""}) {
			t.Errorf("Headers() = %q", h)
		}
		if r.Reopened() || !c.TLS() || c.ID() != 7 {
			t.Errorf("Reopened %v, TLS %v, ID %d", r.Reopened(), c.TLS(), c.ID())
		}
		for _, err := range []error{
			r.SetUpstreamHeader("x-a", "1"), r.AddUpstreamHeader("x-b", "2"), r.RemoveUpstreamHeader("x-c"),
			r.ChooseUpstream("b"), r.SetUpstreamURI("/v2/chat?room=1"),
		} {
			if err != nil {
				t.Error(err)
			}
		}
		wantErr(t, "SetUpstreamHeader(upgrade)", r.SetUpstreamHeader("upgrade", "x"), ErrInvalidArgument)
		wantErr(t, "ChooseUpstream(zz)", r.ChooseUpstream("zz"), ErrNotFound)
		wantErr(t, "SetUpstreamURI(no slash)", r.SetUpstreamURI("chat"), ErrInvalidArgument)
		wantErr(t, "SendToClient in Open", c.SendToClient(Text, []byte("x")), ErrWrongHook)
		c.Data = "mine"
		return Continue
	}})
	if a := onOpen(7, abi.OpenTLS); a != abi.ActionContinue {
		t.Fatalf("on_open = %d", a)
	}
	if !slices.Equal(fh.upOps, []string{"set x-a=1", "add x-b=2", "remove x-c="}) || fh.chosen != "b" || fh.uri != "/v2/chat?room=1" {
		t.Errorf("upstream ops %q, chosen %q, URI %q", fh.upOps, fh.chosen, fh.uri)
	}
	if c := conns[7]; c == nil || c.Data != "mine" {
		t.Errorf("connection 7 is not kept: %+v", c)
	}

	// The Request is dead after Open: no host call (fakeHost would fail
	// the test), zero values, ErrWrongHook. Also inside another Open.
	check := func() {
		if saved.Method() != "" || saved.Headers() != nil || saved.Protocols() != nil {
			t.Error("a stale Request returns values")
		}
		if _, ok := saved.Header("x-multi"); ok {
			t.Error("a stale Request finds headers")
		}
		wantErr(t, "stale SetUpstreamHeader", saved.SetUpstreamHeader("x", "1"), ErrWrongHook)
		wantErr(t, "stale RejectHeader", saved.RejectHeader("x", "1"), ErrWrongHook)
		wantErr(t, "stale SetUpstreamURI", saved.SetUpstreamURI("/"), ErrWrongHook)
		if saved.Reject(400, nil) != Reject {
			t.Error("a stale Reject does not return Reject")
		}
	}
	check()
	install(t, fh, &funcFilter{open: func(c *Conn, r *Request) Action { check(); return Continue }})
	onOpen(8, 0)
	if conns[8].TLS() {
		t.Error("TLS without OPEN_TLS")
	}
	var nilReq *Request
	wantErr(t, "nil Request", nilReq.ChooseUpstream("b"), ErrWrongHook)
}

func TestOpenReject(t *testing.T) {
	fh := newFakeHost(t)
	install(t, fh, &funcFilter{open: func(c *Conn, r *Request) Action {
		if err := r.RejectHeader("www-authenticate", "Key"); err != nil {
			t.Error(err)
		}
		return r.Reject(401, []byte("no key"))
	}})
	if a := onOpen(3, 0); a != abi.ActionReject {
		t.Errorf("on_open = %d", a)
	}
	if fh.reject != "401 no key" || !slices.Equal(fh.rejHdrs, []string{"www-authenticate=Key"}) {
		t.Errorf("reject %q %q", fh.reject, fh.rejHdrs)
	}
	if _, ok := conns[3]; ok {
		t.Error("a rejected connection is kept")
	}

	// A status out of range is not passed to the host (which would trap),
	// and the result is still Reject.
	fh.reject = ""
	install(t, fh, &funcFilter{open: func(c *Conn, r *Request) Action { return r.Reject(200, nil) }})
	if a := onOpen(4, 0); a != abi.ActionReject || fh.reject != "" {
		t.Errorf("on_open = %d, reject %q", a, fh.reject)
	}
	// Any other Action is a rejection.
	install(t, fh, &funcFilter{open: func(c *Conn, r *Request) Action { return 42 }})
	if a := onOpen(5, 0); a != abi.ActionReject {
		t.Errorf("on_open returning Action(42) = %d", a)
	}
	// Close during Open refuses the handshake: the connection is
	// forgotten.
	install(t, fh, &funcFilter{open: func(c *Conn, r *Request) Action {
		if err := c.Close(4000, "no"); err != nil {
			t.Error(err)
		}
		return Continue
	}})
	if a := onOpen(6, 0); a != abi.ActionContinue || len(conns) != 0 || !slices.Equal(fh.closes, []string{"6 4000 no"}) {
		t.Errorf("on_open = %d, conns %v, closes %q", a, conns, fh.closes)
	}
}

func TestOpenReopen(t *testing.T) {
	fh := newFakeHost(t)
	fh.reopen = true
	install(t, fh, &funcFilter{open: func(c *Conn, r *Request) Action {
		if !r.Reopened() {
			t.Error("Reopened() is false")
		}
		wantErr(t, "SetUpstreamHeader on reopen", r.SetUpstreamHeader("x", "1"), ErrWrongHook)
		return Reject
	}})
	onOpen(9, abi.OpenReopen)
	if _, ok := conns[9]; !ok {
		t.Error("a reopened connection is forgotten after Reject; it ends with on_close")
	}
}

func TestMessages(t *testing.T) {
	fh := newFakeHost(t)
	fh.chunk = 3
	var got []string
	var saved *Message
	install(t, fh, &funcFilter{message: func(c *Conn, m *Message) {
		saved = m
		got = append(got, strings.Join([]string{
			m.Type().String(), string(rune('0'+m.Index())) + "/" + string(rune('0'+m.BatchLen())), string(rune('0' + m.Len())),
			map[bool]string{true: "u2c", false: "c2u"}[m.FromUpstream()], m.Text(),
		}, " "))
		if !slices.Equal(m.Bytes(), []byte(m.Text())) {
			t.Error("Bytes and Text differ")
		}
		switch m.Text() {
		case "drop":
			if err := m.Drop(); err != nil {
				t.Error(err)
			}
		case "upper":
			if err := m.Replace(Text, []byte("UPPER")); err != nil {
				t.Error(err)
			}
			if m.Text() != "upper" {
				t.Error("Bytes changed after Replace")
			}
		case "bad":
			wantErr(t, "Replace with bad UTF-8", m.Replace(Text, []byte{0xff}), ErrInvalidArgument)
			wantErr(t, "Replace with a bad type", m.Replace(9, nil), ErrInvalidArgument)
		case "echo":
			if err := c.SendToClient(Text, []byte("echo!")); err != nil {
				t.Error(err)
			}
			if err := c.SendToUpstream(Binary, nil); err != nil {
				t.Error(err)
			}
			wantErr(t, "Send with a bad type", c.SendToClient(0, nil), ErrInvalidArgument)
		case "close":
			wantErr(t, "Close(1)", c.Close(1, ""), ErrInvalidArgument)
			if err := c.Close(4001, "bye"); err != nil {
				t.Error(err)
			}
		}
	}})
	st, out := fh.runBatch(2, 0, "hello world", "b:\x00\x01", "", "drop", "upper", "bad", "echo")
	if st != 0 {
		t.Errorf("status %d", st)
	}
	want := []string{"pass", "pass", "pass", "drop", "replace(1,UPPER)", "pass", "pass"}
	if !slices.Equal(out, want) {
		t.Errorf("outcomes %q, want %q", out, want)
	}
	wantGot := []string{"text 0/7 ; c2u hello world", "binary 1/7 2 c2u \x00\x01", "text 2/7 0 c2u ", "text 3/7 4 c2u drop", "text 4/7 5 c2u upper", "text 5/7 3 c2u bad", "text 6/7 4 c2u echo"}
	if !slices.Equal(got, wantGot) {
		t.Errorf("filter saw %q, want %q", got, wantGot)
	}
	if !slices.Equal(fh.sent, []string{"send(2,1,1,echo!)", "send(2,0,2,)"}) {
		t.Errorf("sent %q", fh.sent)
	}
	// hello world (11 bytes) in 3-byte reads, then 1+0+1+2+1+2 reads.
	if fh.reads != 4+1+0+2+2+1+2 {
		t.Errorf("%d calls of message_read", fh.reads)
	}

	// After the batch, the Message is dead.
	if saved.Bytes() != nil {
		t.Error("a stale Message returns its payload")
	}
	wantErr(t, "stale Drop", saved.Drop(), ErrWrongHook)
	wantErr(t, "stale Replace", saved.Replace(Text, nil), ErrWrongHook)

	// Close stops the batch; the connection's next batch runs.
	got = nil
	_, out = fh.runBatch(2, abi.DirUpstreamToClient, "a", "close", "b", "c")
	if !slices.Equal(got, []string{"text 0/4 1 u2c a", "text 1/4 5 u2c close"}) || !slices.Equal(fh.closes, []string{"2 4001 bye"}) {
		t.Errorf("filter saw %q, closes %q", got, fh.closes)
	}
	got = nil
	fh.runBatch(2, 0, "x")
	if len(got) != 1 {
		t.Errorf("the batch after a close: filter saw %q", got)
	}
	// A batch whose message_info fails is a guest error.
	fh.batch = nil
	if st := onMessages(2, 0, 1); st != 1 {
		t.Errorf("status %d for a failing message_info", st)
	}
}

func TestMessagesAllocations(t *testing.T) {
	fh := newFakeHost(t)
	n := 0
	install(t, fh, &funcFilter{message: func(c *Conn, m *Message) { n += len(m.Bytes()) }})
	fh.runBatch(1, 0, strings.Repeat("x", 1000), "b:yy", "zzz")
	allocs := testing.AllocsPerRun(100, func() { onMessages(1, 0, 3) })
	if allocs != 0 {
		t.Errorf("%v allocations per batch, want 0", allocs)
	}
	if n == 0 {
		t.Error("the filter read nothing")
	}
}

func BenchmarkMessages(b *testing.B) {
	fh := newFakeHost(b)
	msgs := make([]string, 16)
	for i := range msgs {
		msgs[i] = strings.Repeat("m", 100)
	}
	saved := struct {
		host    hostFuncs
		filter  Filter
		conns   map[uint32]*Conn
		scratch []byte
	}{host, filter, conns, scratch}
	defer func() { host, filter, conns, scratch = saved.host, saved.filter, saved.conns, saved.scratch }()
	host, filter, conns = fh, &funcFilter{message: func(c *Conn, m *Message) { _ = m.Bytes() }}, map[uint32]*Conn{}
	fh.runBatch(1, 0, msgs...)
	b.ReportAllocs()
	for b.Loop() {
		onMessages(1, 0, uint32(len(msgs)))
	}
}

func TestClose(t *testing.T) {
	fh := newFakeHost(t)
	var events []CloseEvent
	var closed *Conn
	install(t, fh, &funcFilter{close: func(c *Conn, e CloseEvent) {
		events = append(events, e)
		closed = c
		wantErr(t, "SendToClient in Close", c.SendToClient(Text, nil), ErrWrongHook)
		wantErr(t, "Close in Close", c.Close(1000, ""), ErrWrongHook)
	}})
	onOpen(4, 0)
	fh.reason = "a reason longer than eight bytes"
	onClose(4, abi.CloseByUpstream, 4001)
	fh.reason = ""
	onClose(5, abi.CloseAbnormal, 1006)
	want := []CloseEvent{{ByUpstream: true, Code: 4001, Reason: "a reason longer than eight bytes"}, {Abnormal: true, Code: 1006}}
	if !slices.Equal(events, want) {
		t.Errorf("events %+v, want %+v", events, want)
	}
	if len(conns) != 0 {
		t.Errorf("connections kept after on_close: %v", conns)
	}
	// A forgotten connection is not named to the host again.
	install(t, fh, &funcFilter{tick: func(*Conn) {
		wantErr(t, "send to a closed connection", closed.SendToClient(Text, nil), ErrNotFound)
		wantErr(t, "tick of a closed connection", closed.SetTick(time.Second), ErrNotFound)
	}})
	onTick(0)
}

func TestTick(t *testing.T) {
	fh := newFakeHost(t)
	var seen []*Conn
	install(t, fh, &funcFilter{tick: func(c *Conn) {
		seen = append(seen, c)
		if c == nil {
			return
		}
		if err := c.SendToClient(Text, []byte("tick")); err != nil {
			t.Error(err)
		}
		if err := c.SetTick(20 * time.Millisecond); err != nil {
			t.Error(err)
		}
		wantErr(t, "SetTick(5ms)", c.SetTick(5*time.Millisecond), ErrInvalidArgument)
		if err := c.SetTick(0); err != nil {
			t.Error(err)
		}
	}})
	onTick(0)
	onTick(11) // unknown: created
	if len(seen) != 2 || seen[0] != nil || seen[1] == nil || seen[1].ID() != 11 || conns[11] != seen[1] {
		t.Errorf("Tick saw %v", seen)
	}
	if !slices.Equal(fh.sent, []string{"send(11,1,1,tick)"}) || fh.ticks[11] != 0 {
		t.Errorf("sent %q, ticks %v", fh.sent, fh.ticks)
	}
}

func TestKV(t *testing.T) {
	fh := newFakeHost(t)
	install(t, fh, &funcFilter{tick: func(*Conn) {
		long := strings.Repeat("v", 50)
		if err := KVSet("k", []byte(long), 1500*time.Microsecond); err != nil {
			t.Error(err)
		}
		if v, err := KVGet("k"); string(v) != long || err != nil {
			t.Errorf("KVGet = %q, %v", v, err)
		}
		_, err := KVGet("none")
		wantErr(t, "KVGet(none)", err, ErrNotFound)
		wantErr(t, "KVSet too large", KVSet("big", make([]byte, 101), 0), ErrTooLarge)
		wantErr(t, "KVSet negative TTL", KVSet("k", nil, -1), ErrInvalidArgument)
		if n, err := KVAdd("n", -5, 0); n != -5 || err != nil {
			t.Errorf("KVAdd = %d, %v: a negative result is a value", n, err)
		}
		if n, err := KVAdd("n", 2, 0); n != -3 || err != nil {
			t.Errorf("KVAdd = %d, %v", n, err)
		}
		_, err = KVAdd("full", 1, 0)
		wantErr(t, "KVAdd in a full store", err, ErrTooLarge)
		if err := KVDelete("n"); err != nil {
			t.Error(err)
		}
		wantErr(t, "KVDelete again", KVDelete("n"), ErrNotFound)
		if !Now().Equal(time.Unix(0, fh.now)) {
			t.Errorf("Now() = %v", Now())
		}
		Log(LevelWarn, "warned")
		Debugf("%d-%s", 1, "x")
		Log(99, "clamped")
	}})
	onTick(0)
	if fh.kv["k#ttl"] != "2" {
		t.Errorf("ttl of k: %q ms, want 2 (rounded up)", fh.kv["k#ttl"])
	}
	if !slices.Equal(fh.logs, []string{"2 warned", "0 1-x", "3 clamped"}) {
		t.Errorf("logs %q", fh.logs)
	}
}

// Outside a hook nothing reaches the host: fakeHost fails the test if it
// does.
func TestOutsideHook(t *testing.T) {
	fh := newFakeHost(t)
	install(t, fh, Base{})
	_, err := KVGet("k")
	wantErr(t, "KVGet", err, ErrWrongHook)
	wantErr(t, "KVSet", KVSet("k", nil, 0), ErrWrongHook)
	_, err = KVAdd("k", 1, 0)
	wantErr(t, "KVAdd", err, ErrWrongHook)
	wantErr(t, "KVDelete", KVDelete("k"), ErrWrongHook)
	wantErr(t, "SetTick", SetTick(time.Second), ErrWrongHook)
	_, err = NewCounter("c")
	wantErr(t, "NewCounter", err, ErrWrongHook)
	c := &Conn{id: 1}
	wantErr(t, "Conn.SetTick", c.SetTick(time.Second), ErrWrongHook)
	wantErr(t, "Conn.Close", c.Close(1000, ""), ErrWrongHook)
	wantErr(t, "Conn.SendToUpstream", c.SendToUpstream(Text, nil), ErrWrongHook)
	if d := time.Since(Now()); d < -time.Minute || d > time.Minute {
		t.Errorf("Now() outside a hook is %v away", d)
	}
	Counter{id: 0, defined: true}.Add(1)
	Gauge{id: 0, defined: true}.Set(1)
	if len(fh.logs) != 0 || len(fh.mvals) != 0 {
		t.Errorf("host reached: logs %q, metrics %v", fh.logs, fh.mvals)
	}
}
