package plugins

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/sdk/abi"
)

var updateConformance = flag.Bool("update-conformance", false,
	"rewrite testdata/sdk-conformance.golden from the Go SDK's guest")

// sdkGuests are the conformance guests of sdk/CONFORMANCE.md, one per SDK,
// committed built so that this test needs nothing but Go.
var sdkGuests = []struct{ lang, path string }{
	{"go", "../sdk/go/conformance/conformance.wasm"},
	{"rust", "../sdk/rust/conformance/conformance.wasm"},
	{"assemblyscript", "../sdk/assemblyscript/conformance/conformance.wasm"},
	{"c", "../sdk/c/conformance/conformance.wasm"},
}

// TestSDKConformance runs one scenario against every SDK's conformance
// guest and requires the same transcript from each: what the guest
// logged, what the chain decided on each handshake and batch, what it did
// from a timer, and the key-value store and metrics it left.
func TestSDKConformance(t *testing.T) {
	golden := filepath.Join("testdata", "sdk-conformance.golden")
	for _, g := range sdkGuests {
		t.Run(g.lang, func(t *testing.T) {
			wasm, err := os.ReadFile(g.path)
			if err != nil {
				t.Fatalf("the %s SDK's conformance guest is missing (rebuild with make wasm): %v", g.lang, err)
			}
			checkCoversABI(t, wasm)
			got := conformanceTranscript(t, wasm)
			if g.lang == "go" && *updateConformance {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("the %s guest's transcript differs from %s:\n%s", g.lang, golden, lineDiff(string(want), got))
			}
		})
	}
}

// checkCoversABI requires a conformance guest to import every host
// function and export every hook of the ABI, as sdk/CONFORMANCE.md says.
func checkCoversABI(t *testing.T, wasm []byte) {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
	imported := map[string]bool{}
	for _, f := range cm.ImportedFunctions() {
		if mod, name, _ := f.Import(); mod == abi.ModuleName {
			imported[name] = true
		}
	}
	for name := range abi.ImportSignatures {
		if !imported[name] {
			t.Errorf("the guest does not import %s", name)
		}
	}
	exported := cm.ExportedFunctions()
	for name := range abi.ExportSignatures {
		if _, ok := exported[name]; !ok {
			t.Errorf("the guest does not export %s", name)
		}
	}
}

// lineDiff shows the lines of got that are not at the same place in want,
// enough to find where a guest departs from the others.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	for i := range max(len(w), len(g)) {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			fmt.Fprintf(&b, "line %d:\n  want %q\n  got  %q\n", i+1, wl, gl)
		}
	}
	return b.String()
}

// confLog keeps the log lines a conformance guest writes ("conf ..."),
// in order, and drops everything else (the host's own lines, a panic
// message on stderr).
type confLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *confLog) Enabled(context.Context, slog.Level) bool { return true }
func (l *confLog) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *confLog) WithGroup(string) slog.Handler            { return l }

func (l *confLog) Handle(_ context.Context, r slog.Record) error {
	if !strings.HasPrefix(r.Message, "conf ") {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, "log "+r.Level.String()+" "+r.Message)
	return nil
}

func (l *confLog) drain() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines
	l.lines = nil
	return lines
}

// transcript is the record of one run of the scenario.
type transcript struct {
	t     *testing.T
	log   *confLog
	lines []string
}

// step starts a step: the guest's log lines so far belong to the previous
// one.
func (tr *transcript) step(name string) {
	tr.flush()
	tr.lines = append(tr.lines, "== "+name)
}

func (tr *transcript) flush() { tr.lines = append(tr.lines, tr.log.drain()...) }

func (tr *transcript) add(format string, args ...any) {
	tr.lines = append(tr.lines, fmt.Sprintf(format, args...))
}

func (tr *transcript) verdict(c *Conn, v *Verdict) {
	if v.Reject != nil {
		r := v.Reject
		tr.add("reject status=%d body=%q header=%s conn=%v", r.Status, r.Body, headerLine(r.Header), c != nil)
		return
	}
	h := http.Header{"X-Remove-Me": {"gone"}, "X-Conf-Add": {"old"}}
	v.Apply(h)
	tr.add("continue upstream=%q uri=%q headers=%s", v.Upstream, v.URI, headerLine(h))
}

func (tr *transcript) result(r *Result) {
	for _, m := range r.Forward {
		tr.add("forward %s", messageLine(m))
	}
	for _, m := range r.Back {
		tr.add("back %s", messageLine(m))
	}
	if r.Close {
		tr.add("close %d %q", r.Code, r.Reason)
	}
}

func headerLine(h http.Header) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(h)) {
		parts = append(parts, k+"="+strings.Join(h[k], "|"))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func messageLine(m Message) string {
	if len(m.Payload) > 80 {
		return fmt.Sprintf("%d %d bytes", m.Type, len(m.Payload))
	}
	return fmt.Sprintf("%d %q", m.Type, m.Payload)
}

func msgs(items ...any) []Message {
	var out []Message
	for _, it := range items {
		switch v := it.(type) {
		case string:
			out = append(out, Message{Type: codec.Text, Payload: []byte(v)})
		case []byte:
			out = append(out, Message{Type: codec.Binary, Payload: v})
		}
	}
	return out
}

// conformanceTranscript runs the scenario against one guest.
func conformanceTranscript(t *testing.T, wasm []byte) string {
	cl := &confLog{}
	h := NewHost(HostOptions{Logger: slog.New(cl)})
	defer h.Close(context.Background())
	tr := &transcript{t: t, log: cl}

	tr.step("load")
	p, err := h.Load(context.Background(), Spec{
		Name: "conf", Wasm: wasm, Instances: 1,
		Config: []byte(`{"greeting":"hi \"there\"","list":[1,2.5,true,null]}`),
		// Generous: the scenario checks behaviour, not speed, and a Go
		// guest's garbage collector may pause on a loaded machine.
		Timeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	chain := NewChain(64<<10, p)
	hasUpstream := func(name string) bool { return name == "alt" }
	request := func(path, query string) *Request {
		uri := path
		if query != "" {
			uri += "?" + query
		}
		return &Request{
			Method: "GET", URI: uri, Path: path, Query: query, Host: "conf.example",
			RemoteAddr: "192.0.2.7:5555", Protocols: []string{"chat.v2", "chat.v1"},
			Header: http.Header{
				"X-Multi":     {"a", "b"},
				"X-Long":      {strings.Repeat("L", 5000)},
				"X-Remove-Me": {"gone"},
				"User-Agent":  {"conformance"},
			},
			Route: "conf", TLS: true, HasUpstream: hasUpstream,
		}
	}

	tr.step("open A")
	peerA := &recordingPeer{}
	a, v := chain.Open(request("/chat/a", "room=1&x=%20"), peerA)
	tr.verdict(a, v)
	if a == nil {
		t.Fatalf("A was refused: %s", strings.Join(tr.lines, "\n"))
	}

	tr.step("A client to upstream")
	tr.result(a.Messages(false, msgs(
		"info", "upper:abc-xyz", "drop", "bin:raw", "send:hello", "kv:k", []byte{1, 2, 3},
		"wrong", "badutf8", "big", "badclose", "time", "log:seen", "gauge:7", "plain text", "info")))

	tr.step("A upstream to client")
	tr.result(a.Messages(true, msgs("info", "upper:down", "send:to upstream", []byte("abc"), "kv:k")))

	tr.step("A key-value")
	tr.result(a.Messages(false, msgs("kvset:color=blue", "kvget:color", "kvdel:color", "kvget:color", "kvdel:color")))

	tr.step("A timer")
	tr.result(a.Messages(false, msgs("tick")))
	deadline := time.Now().Add(10 * time.Second)
	for {
		peerA.mu.Lock()
		sent := slices.Clone(peerA.sent)
		peerA.mu.Unlock()
		if len(sent) > 0 {
			// The timer stops itself: wait a few periods to see it stay
			// stopped.
			time.Sleep(50 * time.Millisecond)
			peerA.mu.Lock()
			sent = slices.Clone(peerA.sent)
			peerA.mu.Unlock()
			for _, s := range sent {
				tr.add("peer send %s", s)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the timer set with tick never fired")
		}
		time.Sleep(5 * time.Millisecond)
	}

	tr.step("A closes from a filter")
	tr.result(a.Messages(false, msgs("close:4001:bye now", "after")))
	a.Close(CloseInfo{Code: 4001, Reason: "bye now"})
	tr.add("peer closes %q", peerA.closed())

	tr.step("open B rejected")
	b, v := chain.Open(request("/reject", ""), &recordingPeer{})
	tr.verdict(b, v)

	tr.step("open C closed in open")
	c, v := chain.Open(request("/close", ""), &recordingPeer{})
	tr.verdict(c, v)

	tr.step("open D, closed by the upstream")
	d, v := chain.Open(request("/d", ""), &recordingPeer{})
	tr.verdict(d, v)
	if d != nil {
		tr.result(d.Messages(true, msgs("info")))
		d.Close(CloseInfo{ByUpstream: true, Abnormal: true, Code: 1006})
	}

	tr.step("open E, traps")
	peerE := &recordingPeer{}
	e, v := chain.Open(request("/e", ""), peerE)
	tr.verdict(e, v)
	if e != nil {
		tr.result(e.Messages(false, msgs("plain", "trap", "never seen")))
		e.Close(CloseInfo{Code: 1000})
		tr.add("peer closes %q", peerE.closed())
	}

	tr.step("open F, on a fresh instance")
	f, v := chain.Open(request("/f", ""), &recordingPeer{})
	tr.verdict(f, v)
	if f != nil {
		tr.result(f.Messages(false, msgs("kv:k", "info")))
		f.Close(CloseInfo{Code: 1005})
	}

	tr.step("state")
	kv := h.KV()
	for _, key := range []string{"opens", "closes", "k", "last-path", "color"} {
		if val, ok := kv.Get([]byte("conf\x00"+key), nil); ok {
			tr.add("kv %s=%s", key, val)
		} else {
			tr.add("kv %s missing", key)
		}
	}
	for _, s := range h.Metrics().Snapshot() {
		tr.add("metric %s %s %d", s.Plugin, s.Name, s.Value)
	}
	tr.flush()
	return strings.Join(tr.lines, "\n") + "\n"
}
