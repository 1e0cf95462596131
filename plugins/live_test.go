package plugins

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/internal/guests"
)

// liveEnv is hosts of successive config generations sharing one
// key-value store, where the test guest records its opens, reopens and
// closes (config record_opens).
type liveEnv struct {
	t      *testing.T
	wasm   []byte
	kv     *MemoryKV
	caches *CompilationCaches
}

func newLiveEnv(t *testing.T) *liveEnv {
	wasm := guests.Build(t, "plugins/testdata/guest")
	return &liveEnv{t: t, wasm: wasm, kv: NewMemoryKV(MemoryKVLimits{}), caches: sharedLiveCaches(t, wasm)}
}

// liveCaches compile the test guest once for all the live reload tests,
// as a proxy's hosts share their caches across reloads.
var (
	liveOnce   sync.Once
	liveCaches *CompilationCaches
)

func sharedLiveCaches(t *testing.T, wasm []byte) *CompilationCaches {
	liveOnce.Do(func() {
		liveCaches = NewCompilationCaches()
		// wazero drops compiled code that no runtime uses any more: a
		// plugin that stays loaded keeps it between the tests.
		h := NewHost(HostOptions{Logger: slog.New(slog.DiscardHandler), Caches: liveCaches})
		if _, err := h.Load(context.Background(), Spec{Name: "keep", Wasm: wasm, Instances: 1}); err != nil {
			t.Fatal(err)
		}
	})
	return liveCaches
}

// host makes the host of a new generation.
func (e *liveEnv) host() *Host {
	h := NewHost(HostOptions{Logger: slog.New(slog.DiscardHandler), KV: e.kv, Caches: e.caches})
	e.t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

// load loads version tag of the live plugin "f" into a new host; extra
// is more of its JSON config.
func (e *liveEnv) load(tag, extra string, mod func(*Spec)) *Plugin {
	e.t.Helper()
	spec := Spec{Name: "f", Wasm: e.wasm, Instances: 2, Live: true, Timeout: time.Second,
		Config: []byte(`{"tag":"` + tag + `","record_opens":true` + extra + `}`)}
	if mod != nil {
		mod(&spec)
	}
	return load(e.t, e.host(), spec)
}

// get returns the value the guest stored under key, "" if none.
func (e *liveEnv) get(key string) string {
	v, _ := e.kv.Get([]byte("f\x00"+key), nil)
	return string(v)
}

// counts returns the opens, reopens and closes version tag recorded.
func (e *liveEnv) counts(tag string) string {
	n := func(k string) string {
		if v := e.get(k + ":" + tag); v != "" {
			return v
		}
		return "0"
	}
	return "opens=" + n("opens") + " reopens=" + n("reopens") + " closes=" + n("closes")
}

// send runs one message through c and returns what went on, or the close.
func send(c *Conn, fromUpstream bool, msg string) string {
	res := c.Messages(fromUpstream, text(msg))
	out := strings.Join(payloads(res.Forward), ",")
	if res.Close {
		out += fmt.Sprintf(" close %d %s", res.Code, res.Reason)
	}
	return out
}

func openConn(t *testing.T, ch *Chain, req *Request, peer Peer) *Conn {
	t.Helper()
	c, v := ch.Open(req, peer)
	if v.Reject != nil {
		t.Fatalf("refused: %d %s", v.Reject.Status, v.Reject.Body)
	}
	return c
}

// TestPlugin_Supersede moves the open connections of version 1 of a live
// plugin to version 2 at their next batch, in either direction: version
// 2's on_open runs again with OPEN_REOPEN on the kept request, version 1
// gets no on_close, and the connections end on version 2.
func TestPlugin_Supersede(t *testing.T) {
	e := newLiveEnv(t)
	v1, v2 := e.load("v1", "", nil), e.load("v2", "", nil)
	ch := NewChain(1<<20, v1)
	req := &Request{Method: "GET", URI: "/chat?room=1", Path: "/chat", Query: "room=1", Host: "example.com",
		Header: http.Header{"X-Client": {"a"}}, Route: "r", TLS: true}
	a, b := openConn(t, ch, req, &recordingPeer{}), openConn(t, ch, req, &recordingPeer{})
	// The proxy may reuse the request once Open returned.
	req.Header.Set("X-Client", "changed")
	req.Path = "/changed"
	if got := send(a, false, "m"); got != "m|v1" {
		t.Fatalf("before Supersede: %q", got)
	}

	v1.Supersede(v2)
	if got := send(a, false, "m"); got != "m|v2" {
		t.Errorf("client to upstream after Supersede: %q, want m|v2", got)
	}
	if got := send(b, true, "m"); got != "m|v2" {
		t.Errorf("upstream to client after Supersede: %q, want m|v2", got)
	}
	if got, want := e.counts("v1"), "opens=2 reopens=0 closes=0"; got != want {
		t.Errorf("version 1: %s, want %s", got, want)
	}
	if got, want := e.counts("v2"), "opens=0 reopens=2 closes=0"; got != want {
		t.Errorf("version 2: %s, want %s", got, want)
	}
	if v1.Connections() != 0 || v2.Connections() != 2 {
		t.Errorf("Connections(): version 1 %d, version 2 %d; want 0 and 2", v1.Connections(), v2.Connections())
	}
	if got := v2.Counters().Snapshot().Open; got != 2 {
		t.Errorf("version 2 counted %d on_open calls, want 2", got)
	}

	// What the reopen saw: the request as kept at the handshake, TLS, and
	// no way to edit the upstream request.
	var info reopenInfoJSON
	if err := json.Unmarshal([]byte(e.get("reopen:v2")), &info); err != nil {
		t.Fatalf("reopen:v2 = %q: %v", e.get("reopen:v2"), err)
	}
	r := info.Request
	if r.URI != "/chat?room=1" || r.Path != "/chat" || r.Host != "example.com" || r.Route != "r" || !r.TLS ||
		fmt.Sprint(r.Headers) != "[[x-client a]]" {
		t.Errorf("the reopen read %+v", r)
	}
	if info.Edit != "err wasmgate: wrong hook" {
		t.Errorf("upstream_header_set on a reopen: %q, want ERR_WRONG_HOOK", info.Edit)
	}

	a.Close(CloseInfo{Code: codec.CloseNormal})
	b.Close(CloseInfo{Code: codec.CloseNormal})
	if got, want := e.counts("v2"), "opens=0 reopens=2 closes=2"; got != want {
		t.Errorf("version 2 after the closes: %s, want %s", got, want)
	}
	if got, want := e.counts("v1"), "opens=2 reopens=0 closes=0"; got != want {
		t.Errorf("version 1 after the closes: %s, want %s", got, want)
	}
}

// reopenInfoJSON is what the test guest keeps of a reopen.
type reopenInfoJSON struct {
	Request struct {
		URI, Path, Host, Route string
		TLS                    bool
		Headers                [][2]string
	} `json:"request"`
	Edit string `json:"edit"`
}

// TestPlugin_SupersedeNotLive checks that Supersede moves nothing unless
// both versions are live.
func TestPlugin_SupersedeNotLive(t *testing.T) {
	for _, tt := range []struct {
		name         string
		oldLive, new bool
	}{
		{"old not live", false, true},
		{"new not live", true, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newLiveEnv(t)
			v1 := e.load("v1", "", func(s *Spec) { s.Live = tt.oldLive })
			v2 := e.load("v2", "", func(s *Spec) { s.Live = tt.new })
			c := openConn(t, NewChain(1<<20, v1), &Request{}, &recordingPeer{})
			v1.Supersede(v2)
			if got := send(c, false, "m"); got != "m|v1" {
				t.Errorf("after Supersede: %q, want m|v1", got)
			}
			if c.Boundary() || v2.Connections() != 0 {
				t.Error("Boundary moved the connection")
			}
		})
	}
}

// TestChain_NoLiveNoRequest checks that a connection whose chain has no
// live plugin keeps nothing for live reload.
func TestChain_NoLiveNoRequest(t *testing.T) {
	e := newLiveEnv(t)
	p := e.load("v1", "", func(s *Spec) { s.Live = false })
	c := openConn(t, NewChain(1<<20, p), &Request{Header: http.Header{"A": {"b"}}}, &recordingPeer{})
	if c.live != nil {
		t.Error("the connection keeps live reload state")
	}
	if c.Boundary() {
		t.Error("Boundary closed the connection")
	}
}

// TestPlugin_SupersedeRefused checks the end of a connection that the
// new version refuses or fails on reopen, through Messages and Boundary.
func TestPlugin_SupersedeRefused(t *testing.T) {
	tests := []struct {
		name     string
		config   string
		failOpen bool
		want     string // the close, "" when the connection lives on
		after    string // what a message gives after the move
	}{
		{name: "reject", config: `,"reject_reopen":true`, want: "1008 rejected by filter f on reload"},
		{name: "close", config: `,"reopen_close":{"code":4001,"reason":"bye"}`, want: "4001 bye"},
		{name: "trap, on_error close", config: `,"trap_in":"reopen"`, want: "1011 filter f failed"},
		{name: "trap, on_error pass", config: `,"trap_in":"reopen"`, failOpen: true, after: "m"},
		{name: "accept", after: "m|v2"},
	}
	for _, tt := range tests {
		for _, boundary := range []bool{false, true} {
			name := tt.name + "/messages"
			if boundary {
				name = tt.name + "/boundary"
			}
			t.Run(name, func(t *testing.T) {
				e := newLiveEnv(t)
				v1 := e.load("v1", "", nil)
				v2 := e.load("v2", tt.config, func(s *Spec) { s.FailOpen = tt.failOpen })
				peer := &recordingPeer{}
				c := openConn(t, NewChain(1<<20, v1), &Request{}, peer)
				if c.Boundary() {
					t.Fatal("Boundary closed with nothing to move")
				}
				v1.Supersede(v2)
				var got string
				if boundary {
					closed := c.Boundary()
					got = strings.Join(peer.closed(), ",")
					if closed != (tt.want != "") {
						t.Errorf("Boundary() = %v", closed)
					}
				} else {
					res := c.Messages(false, text("m"))
					if res.Close {
						got = fmt.Sprintf("%d %s", res.Code, res.Reason)
						if len(res.Forward) != 0 {
							t.Errorf("the batch went on as the connection closed: %q", payloads(res.Forward))
						}
					} else if g := strings.Join(payloads(res.Forward), ","); g != tt.after {
						t.Errorf("the batch of the move gave %q, want %q", g, tt.after)
					}
					if len(peer.closed()) != 0 {
						t.Errorf("the peer was closed too: %q", peer.closed())
					}
				}
				if got != tt.want {
					t.Errorf("closed with %q, want %q", got, tt.want)
				}
				if v1.Connections() != 0 {
					t.Errorf("the connection is still bound to version 1")
				}
				// Later batches: nothing passes a connection being closed.
				res := c.Messages(true, text("m"))
				if tt.want != "" {
					if g := fmt.Sprintf("%d %s", res.Code, res.Reason); !res.Close || g != tt.want || len(res.Forward) != 0 {
						t.Errorf("a later batch: %+v, want nothing passed and a close %s", res, tt.want)
					}
				} else if g := strings.Join(payloads(res.Forward), ","); res.Close || g != tt.after {
					t.Errorf("a later batch: %+v, want %q", res, tt.after)
				}
				c.Close(CloseInfo{Code: codec.CloseNormal})
				// A refused reopen ends with on_close, as the SDKs expect;
				// a failed instance forgot the connection.
				wantCloses := "1"
				if strings.HasPrefix(tt.name, "trap") {
					wantCloses = "0"
				}
				if got := e.counts("v2"); !strings.HasSuffix(got, "closes="+wantCloses) {
					t.Errorf("version 2: %s, want closes=%s", got, wantCloses)
				}
				if got := e.counts("v1"); !strings.HasSuffix(got, "closes=0") {
					t.Errorf("version 1: %s, want no on_close", got)
				}
			})
		}
	}
}

// TestPlugin_SupersedeChain checks that connections move to the newest
// version, skipping those between, and stay where they are while the
// newest is closed.
func TestPlugin_SupersedeChain(t *testing.T) {
	e := newLiveEnv(t)
	v1, v2, v3 := e.load("v1", "", nil), e.load("v2", "", nil), e.load("v3", "", nil)
	ch := NewChain(1<<20, v1)
	a, b := openConn(t, ch, &Request{}, &recordingPeer{}), openConn(t, ch, &Request{}, &recordingPeer{})
	v1.Supersede(v2)
	v2.Supersede(v3)
	v3.Supersede(v1) // would be a cycle: ignored
	if got := send(a, false, "m"); got != "m|v3" {
		t.Errorf("after two Supersedes: %q, want m|v3", got)
	}
	if got := e.counts("v2"); got != "opens=0 reopens=0 closes=0" {
		t.Errorf("version 2 was called: %s", got)
	}
	v3.Close(context.Background())
	if got := send(b, false, "m"); got != "m|v1" {
		t.Errorf("with the newest version closed: %q, want m|v1", got)
	}
}

// TestPlugin_SupersedeKeepsTheView checks that a reopen reads the request
// as the filters before it left it at the handshake: the header a filter
// that is not live set there is still what the new version reads.
func TestPlugin_SupersedeKeepsTheView(t *testing.T) {
	e := newLiveEnv(t)
	auth := load(t, e.host(), Spec{Name: "auth", Wasm: e.wasm, Instances: 1,
		Config: []byte(`{"set_upstream_headers":{"X-User":"alice"}}`)})
	gate := `,"require_header":{"name":"x-user","value":"alice","status":401}`
	v1, v2 := e.load("v1", gate, nil), e.load("v2", gate, nil)
	req := &Request{Header: http.Header{"X-User": {"mallory"}}}
	c := openConn(t, NewChain(1<<20, auth, v1), req, &recordingPeer{})
	v1.Supersede(v2)
	if got := send(c, false, "m"); got != "m|v2" {
		t.Errorf("after Supersede: %q, want m|v2 (the gate refused?)", got)
	}
}

// TestPlugin_SupersedeDropsOldTimers checks that a moved connection's
// timers on the old instance stop.
func TestPlugin_SupersedeDropsOldTimers(t *testing.T) {
	e := newLiveEnv(t)
	v1, v2 := e.load("v1", "", nil), e.load("v2", "", nil)
	c := openConn(t, NewChain(1<<20, v1), &Request{}, &recordingPeer{})
	if got := send(c, false, "cmd:tick 1000 5"); got != "" {
		t.Fatalf("cmd:tick: %q", got)
	}
	old := c.binding(0)
	v1.Supersede(v2)
	if c.Boundary() || c.binding(0) == old {
		t.Fatal("Boundary did not move the connection")
	}
	old.slot.mu.Lock()
	defer old.slot.mu.Unlock()
	if tk := old.slot.ticks[old.id]; tk != nil {
		t.Error("the connection's timer on the old instance still runs")
	}
}

// TestConn_RunBatchMoved checks the re-check of a batch that found its
// binding before the other direction moved it: it is not run on the old
// instance, and Messages runs it on the new one.
func TestConn_RunBatchMoved(t *testing.T) {
	e := newLiveEnv(t)
	v1, v2 := e.load("v1", "", nil), e.load("v2", "", nil)
	c := openConn(t, NewChain(1<<20, v1), &Request{}, &recordingPeer{})
	old := c.binding(0)
	v1.Supersede(v2)
	c.Boundary()
	_, _, closed, moved := c.runBatch(&c.c2u, old, false, text("m"), -1)
	if !moved || closed {
		t.Errorf("runBatch on the moved binding: moved %v, closed %v; want moved", moved, closed)
	}
	if got := v1.Counters().Snapshot().Messages; got != 0 {
		t.Errorf("the old version was called %d times", got)
	}
}

// TestPlugin_SupersedeConcurrent runs both directions of connections
// while they move: every message passes exactly one version of the
// filter, never none, and a direction that reached version 2 never goes
// back. Run it with -race.
func TestPlugin_SupersedeConcurrent(t *testing.T) {
	e := newLiveEnv(t)
	v1, v2 := e.load("v1", "", nil), e.load("v2", "", nil)
	ch := NewChain(1<<20, v1)
	// Each direction runs batches before Supersede (warm counts them) and
	// goes on, without waiting, until it has run a few on version 2.
	const conns, before, after = 3, 5, 20
	var wg, warm sync.WaitGroup
	errs := make(chan error, 2*conns)
	for range conns {
		c := openConn(t, ch, &Request{}, &recordingPeer{})
		for _, fromUpstream := range []bool{false, true} {
			wg.Add(1)
			warm.Add(1)
			go func() {
				defer wg.Done()
				onV2 := 0
				for i := 0; onV2 < after; i++ {
					if i == before {
						warm.Done()
					}
					res := c.Messages(fromUpstream, text("a", "b"))
					switch got := strings.Join(payloads(res.Forward), ","); {
					case got == "a|v2,b|v2":
						onV2++
					case got == "a|v1,b|v1" && onV2 == 0:
					default:
						if i < before {
							warm.Done()
						}
						errs <- fmt.Errorf("batch %d from upstream %v: %q (%d on version 2 before)", i, fromUpstream, got, onV2)
						return
					}
				}
			}()
		}
		t.Cleanup(func() { c.Close(CloseInfo{Code: codec.CloseNormal}) })
	}
	warm.Wait()
	v1.Supersede(v2)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got, want := e.counts("v2"), fmt.Sprintf("opens=0 reopens=%d closes=0", conns); got != want {
		t.Errorf("version 2: %s, want %s: each connection reopened once", got, want)
	}
}

// TestHost_RetireAfterSupersede ties live reload to the graceful close:
// the retired host's live plugin closes when its last connection moved
// away, and the moved connections go on.
func TestHost_RetireAfterSupersede(t *testing.T) {
	e := newLiveEnv(t)
	v1, v2 := e.load("v1", "", nil), e.load("v2", "", nil)
	ch := NewChain(1<<20, v1)
	a, b := openConn(t, ch, &Request{}, &recordingPeer{}), openConn(t, ch, &Request{}, &recordingPeer{})
	v1.Supersede(v2)
	v1.host.Retire()
	if v1.Closed() {
		t.Fatal("closed at Retire with two connections")
	}
	if got := send(a, false, "m"); got != "m|v2" {
		t.Errorf("first connection: %q", got)
	}
	if v1.Closed() {
		t.Fatal("closed with a connection left")
	}
	if b.Boundary() {
		t.Fatal("Boundary closed the second connection")
	}
	if !v1.Closed() {
		t.Error("still open after its last connection moved away")
	}
	if got := send(b, true, "m"); got != "m|v2" {
		t.Errorf("second connection: %q", got)
	}
}

// TestConn_BoundaryNoAllocs checks Boundary's cost when nothing is to
// move.
func TestConn_BoundaryNoAllocs(t *testing.T) {
	e := newLiveEnv(t)
	c := openConn(t, NewChain(1<<20, e.load("v1", "", nil)), &Request{}, &recordingPeer{})
	if n := testing.AllocsPerRun(100, func() { c.Boundary() }); n != 0 {
		t.Errorf("Boundary allocates %v times", n)
	}
}

// BenchmarkConnBoundary measures Boundary of a live connection with
// nothing to move: the proxy calls it between every two messages of a
// streamed route.
func BenchmarkConnBoundary(b *testing.B) {
	h := benchHost(b)
	p, err := h.Load(context.Background(), Spec{Name: "live", Live: true, Instances: 1,
		Wasm: rawGuest(nil, nil, continueOpen)})
	if err != nil {
		b.Fatal(err)
	}
	c, _ := NewChain(0, p).Open(&Request{}, &recordingPeer{})
	b.ReportAllocs()
	for b.Loop() {
		if c.Boundary() {
			b.Fatal("closed")
		}
	}
}
