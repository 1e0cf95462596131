package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/internal/guests"
	"github.com/wasmgate/wasmgate/internal/wasmbin"
	"github.com/wasmgate/wasmgate/plugins"
	"github.com/wasmgate/wasmgate/proxy/config"
)

// The tests of this file run the universal test guest
// (plugins/testdata/guest) as filters of a real proxy, between a codec
// client and test upstreams. The guest is driven by its config and by
// "cmd:..." text messages.
//
// Loading a plugin is what costs: compiling the Go guest takes about a
// second (over ten under the race detector), and each plugin block is
// decoded and validated several times, a second per plugin under the race
// detector. So TestFilters starts few proxies, which share an on-disk
// compilation cache so that the guest is compiled once, and groups many
// checks per proxy: the checks of one proxy run one after the other, the
// proxies in parallel.

// guestPath writes the test guest plugin (plugins/testdata/guest) to a
// temporary file and returns its path.
func guestPath(t testing.TB) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "guest.wasm")
	if err := os.WriteFile(path, guests.Build(t, "plugins/testdata/guest"), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// roundTrip sends text and returns the next message the client reads.
func roundTrip(t testing.TB, c *codec.Conn, text string) string {
	t.Helper()
	if err := c.WriteMessage(codec.Text, []byte(text)); err != nil {
		t.Fatalf("write %q: %v", text, err)
	}
	return readText(t, c)
}

func readText(t testing.TB, c *codec.Conn) string {
	t.Helper()
	typ, p := readMsg(t, c)
	if typ != codec.Text {
		t.Fatalf("read a %v message of %d bytes, want text", typ, len(p))
	}
	return string(p)
}

// readMsg reads the next message, failing t after 10s. The payload is a
// copy.
func readMsg(t testing.TB, c *codec.Conn) (codec.MessageType, []byte) {
	t.Helper()
	c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	typ, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return typ, bytes.Clone(p)
}

// expectRoundTrip checks that text sent on c comes back as want.
func expectRoundTrip(t testing.TB, c *codec.Conn, text, want string) {
	t.Helper()
	if got := roundTrip(t, c, text); got != want {
		t.Fatalf("sent %q, got %q, want %q", text, got, want)
	}
}

// readClose reads until the connection ends, for at most 10s.
func readClose(c *codec.Conn) closeResult {
	c.NetConn().SetReadDeadline(time.Now().Add(10 * time.Second))
	return readUntilClose(c)
}

// dialRefused dials url and returns the refusal it expects.
func dialRefused(t testing.TB, url string, d *codec.Dialer) *codec.StatusError {
	t.Helper()
	if d == nil {
		d = &codec.Dialer{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := d.Dial(ctx, url)
	if err == nil {
		c.CloseNow()
		t.Fatalf("dial %s succeeded, want a refusal", url)
	}
	var se *codec.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("dial %s: %v, want a refused handshake", url, err)
	}
	return se
}

// eventually polls cond until it holds, for at most 10s; cond returns
// whether it holds and what it saw, for the failure message.
func eventually(t testing.TB, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, saw := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened; last saw %s", what, saw)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// kvGet reads key of namespace ns from the proxy's key-value store.
func kvGet(p *Proxy, ns, key string) (string, bool) {
	v, ok := p.Plugins().KV().Get([]byte(ns+"\x00"+key), nil)
	return string(v), ok
}

// waitKV waits until key of namespace ns holds want.
func waitKV(t testing.TB, p *Proxy, ns, key, want string) {
	t.Helper()
	eventually(t, fmt.Sprintf("kv %s/%s = %q", ns, key, want), func() (bool, string) {
		v, ok := kvGet(p, ns, key)
		return ok && v == want, fmt.Sprintf("%q (present %v)", v, ok)
	})
}

// metric returns a plugin's metric.
func metric(t testing.TB, p *Proxy, plugin, name string) plugins.MetricSample {
	t.Helper()
	for _, s := range p.Plugins().Metrics().Snapshot() {
		if s.Plugin == plugin && s.Name == name {
			return s
		}
	}
	t.Fatalf("plugin %s has no metric %s", plugin, name)
	return plugins.MetricSample{}
}

// waitGauge waits until a plugin's gauge reads want.
func waitGauge(t testing.TB, p *Proxy, plugin, name string, want int64) {
	t.Helper()
	eventually(t, fmt.Sprintf("gauge %s/%s = %d", plugin, name, want), func() (bool, string) {
		s := metric(t, p, plugin, name)
		return s.Value == want, strconv.FormatInt(s.Value, 10)
	})
}

// lockedBuffer is a log destination the proxy writes and the test reads.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the log lines that contain every one of parts.
func (b *lockedBuffer) lines(parts ...string) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var found []string
	for line := range strings.Lines(b.buf.String()) {
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(line, p)
		}
		if ok {
			found = append(found, strings.TrimSpace(line))
		}
	}
	return found
}

// filterEnv is what the proxies of TestFilters share: the guest's path,
// and a wazero compilation cache directory so that the guest is compiled
// once for all of them.
type filterEnv struct {
	guest, cache string
}

// plugin returns a plugin block running the test guest; attrs are its
// other attributes.
func (e *filterEnv) plugin(name, attrs string) string {
	return fmt.Sprintf("plugin %q {\n  wasm      = %q\n  cache_dir = %q\n%s\n}\n", name, e.guest, e.cache, attrs)
}

// start parses src, with {{name}} replaced by vars, and starts a proxy
// logging to log (nil: nowhere). Its listener "public" must use
// 127.0.0.1:0.
func (e *filterEnv) start(t testing.TB, src string, vars map[string]string, log *slog.Logger) (*Proxy, string) {
	t.Helper()
	return startProxyLogging(t, src, vars, log)
}

// Upstream handlers.

// prefixHandler echoes every message with prefix before it.
func prefixHandler(prefix string) func(*codec.Conn) {
	return func(c *codec.Conn) {
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if c.WriteMessage(typ, append([]byte(prefix), p...)) != nil {
				return
			}
		}
	}
}

// closingHandler closes with 4002 once it has read a message.
func closingHandler(c *codec.Conn) {
	if _, _, err := c.ReadMessage(); err != nil {
		return
	}
	c.Close(4002, "upstream bye") //nolint:errcheck // the client checks
}

// vanishingHandler drops the connection without a close frame once it
// has read a message.
func vanishingHandler(c *codec.Conn) {
	c.ReadMessage() //nolint:errcheck // gone either way
	c.CloseNow()
}

// infoHandler sends "cmd:info" to the client, passes the replies it gets
// to got and echoes everything else.
func infoHandler(got chan<- string) func(*codec.Conn) {
	return func(c *codec.Conn) {
		if c.WriteMessage(codec.Text, []byte("cmd:info")) != nil {
			return
		}
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if bytes.HasPrefix(p, []byte("res:")) {
				got <- string(p)
				continue
			}
			if c.WriteMessage(typ, p) != nil {
				return
			}
		}
	}
}

// recordingHandler echoes, and reports to events every message it gets
// ("msg:" and the text) and how the connection ended ("close:" and the
// code).
func recordingHandler(events chan<- string) func(*codec.Conn) {
	return func(c *codec.Conn) {
		for {
			typ, p, err := c.ReadMessage()
			if err != nil {
				events <- fmt.Sprintf("close:%d", int(codec.CloseStatus(err)))
				var ce *codec.CloseError
				if errors.As(err, &ce) {
					c.Close(ce.Code, "") //nolint:errcheck // completes the handshake
				}
				return
			}
			events <- "msg:" + string(p)
			if c.WriteMessage(typ, p) != nil {
				return
			}
		}
	}
}

// TestFilters runs the ABI's hooks and host functions end to end, and the
// faults of plugins, through real proxies.
func TestFilters(t *testing.T) {
	env := &filterEnv{guest: filepath.ToSlash(guestPath(t)), cache: filepath.ToSlash(t.TempDir())}
	// The main proxy starts first: it compiles the guest into the cache
	// that the other proxies then load it from.
	f := startMainFixture(t, env)

	t.Run("Main", func(t *testing.T) {
		t.Parallel()
		f.run(t)
	})
	t.Run("Handshake", func(t *testing.T) {
		t.Parallel()
		testHandshakeFilters(t, env)
	})
	t.Run("OpenFaults", func(t *testing.T) {
		t.Parallel()
		testOpenFaults(t, env)
	})
	t.Run("StartFails", func(t *testing.T) {
		t.Parallel()
		testStartFails(t, env)
	})
	t.Run("ConfigErrors", func(t *testing.T) {
		t.Parallel()
		testConfigErrors(t)
	})
}

// mainFixture is the proxy that most checks share. Its plugins:
//   - main: the guest with request_info_header, upstream header edits,
//     upstream_from_query and a plugin-wide tick; two instances; key-value
//     namespace "shared";
//   - a, b: guests that tag messages with "|a" and "|b"; a has a
//     memory_limit of 32MiB; b has on_error = "pass" and namespace
//     "shared".
//
// All use the checked sandbox: wazero compiles a module anew for the
// plain one.
type mainFixture struct {
	p    *Proxy
	addr string
	logs *lockedBuffer
	// secureAddr is the TLS listener's, with the route "tls"; roots
	// trust its certificate.
	secureAddr string
	roots      *x509.CertPool
	echo       *upstreamServer
	other      *upstreamServer
	info       chan string // replies the "infoer" upstream got
	events     chan string // what the "recorder" upstream saw
}

const mainConfig = `
listener "public" { address = "127.0.0.1:0" }
listener "secure" {
  address = "127.0.0.1:0"
  tls {
    cert_file = "{{cert}}"
    key_file  = "{{key}}"
  }
}
upstream "echo"      { servers = ["ws://{{echo}}"] }
upstream "other"     { servers = ["ws://{{other}}"] }
upstream "closing"   { servers = ["ws://{{closing}}"] }
upstream "vanishing" { servers = ["ws://{{vanishing}}"] }
upstream "infoer"    { servers = ["ws://{{infoer}}"] }
upstream "recorder"  { servers = ["ws://{{recorder}}"] }
upstream "dead"      { servers = ["ws://{{dead}}"] }

{{plugin_main}}
{{plugin_a}}
{{plugin_b}}

route "plain" {
  listener = "public"
  path     = "/plain/"
  upstream = "echo"
}
route "main" {
  listener = "public"
  path     = "/main/"
  upstream = "echo"
  filters  = ["main"]
}
route "small" {
  listener = "public"
  path     = "/small/"
  upstream = "echo"
  filters  = ["main"]
  limits { max_message_size = "1KiB" }
}
route "info" {
  listener = "public"
  path     = "/info/"
  upstream = "infoer"
  filters  = ["main"]
}
route "rec" {
  listener = "public"
  path     = "/rec/"
  upstream = "recorder"
  filters  = ["main"]
}
route "a" {
  listener = "public"
  path     = "/a/"
  upstream = "echo"
  filters  = ["a"]
}
route "b" {
  listener = "public"
  path     = "/b/"
  upstream = "echo"
  filters  = ["b"]
}
route "ab" {
  listener = "public"
  path     = "/ab/"
  upstream = "echo"
  filters  = ["a", "b"]
}
route "ba" {
  listener = "public"
  path     = "/ba/"
  upstream = "echo"
  filters  = ["b", "a"]
}
route "a-closing" {
  listener = "public"
  path     = "/a-closing/"
  upstream = "closing"
  filters  = ["a"]
}
route "a-vanishing" {
  listener = "public"
  path     = "/a-vanishing/"
  upstream = "vanishing"
  filters  = ["a"]
}
route "a-dead" {
  listener = "public"
  path     = "/a-dead/"
  upstream = "dead"
  filters  = ["a"]
}
route "tls" {
  listener = "secure"
  upstream = "echo"
  filters  = ["main"]
}
`

func startMainFixture(t *testing.T, env *filterEnv) *mainFixture {
	f := &mainFixture{
		logs:   &lockedBuffer{},
		info:   make(chan string, 16),
		events: make(chan string, 64),
	}
	f.echo = startUpstream(t, nil, echoHandler)
	f.other = startUpstream(t, nil, prefixHandler("other:"))
	caFile, certFile, keyFile := testCA(t, t.TempDir())
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	f.roots = x509.NewCertPool()
	f.roots.AppendCertsFromPEM(caPEM)
	vars := map[string]string{
		"cert":      filepath.ToSlash(certFile),
		"key":       filepath.ToSlash(keyFile),
		"echo":      f.echo.addr,
		"other":     f.other.addr,
		"closing":   startUpstream(t, nil, closingHandler).addr,
		"infoer":    startUpstream(t, nil, infoHandler(f.info)).addr,
		"recorder":  startUpstream(t, nil, recordingHandler(f.events)).addr,
		"dead":      deadAddr(t),
		"vanishing": startUpstream(t, nil, vanishingHandler).addr,
		// The timeouts are generous (the default is 5ms) so that a slow
		// machine does not fail a call; main's bounds cmd:loop, and a's
		// leaves cmd:oom the time to exhaust a's memory_limit.
		"plugin_main": env.plugin("main", `
  instances    = 2
  timeout      = "250ms"
  kv_namespace = "shared"
  config = {
    request_info_header     = "X-Request-Info"
    set_upstream_headers    = { "x-set" = "by-filter" }
    add_upstream_headers    = { "x-add" = "by-filter" }
    remove_upstream_headers = ["x-remove"]
    upstream_from_query     = "upstream"
    global_tick_ms          = 20
  }`),
		"plugin_a": env.plugin("a", `
  instances    = 1
  memory_limit = "32MiB"
  timeout      = "10s"
  config       = { tag = "a", n = 1 }`),
		"plugin_b": env.plugin("b", `
  instances    = 1
  timeout      = "1s"
  on_error     = "pass"
  kv_namespace = "shared"
  config       = { tag = "b" }`),
	}
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.p, f.addr = env.start(t, mainConfig, vars, log)
	f.secureAddr = f.p.Addr("secure").String()
	return f
}

func (f *mainFixture) url(path string) string { return "ws://" + f.addr + path }

func (f *mainFixture) dial(t testing.TB, path string) *codec.Conn {
	t.Helper()
	c, _ := dialProxy(t, f.url(path), nil)
	return c
}

// run runs the checks on the main proxy, one after the other: they watch
// shared gauges and keys, and the fault checks count on knowing which
// connections are open.
func (f *mainFixture) run(t *testing.T) {
	for _, tt := range []struct {
		name string
		test func(*testing.T)
	}{
		{"OnStart/Config", f.testConfig},
		{"OnStart/GlobalTick", f.testGlobalTick},
		{"OnOpen/RequestInfoAndHeaders", f.testRequestInfo},
		{"OnOpen/TLS", f.testTLS},
		{"OnOpen/ChooseUpstream", f.testChooseUpstream},
		{"OnMessages/Tag", f.testTag},
		{"OnMessages/ChainOrder", f.testChainOrder},
		{"OnMessages/Batch", f.testBatch},
		{"OnMessages/Drop", f.testDrop},
		{"OnMessages/Dup", f.testDup},
		{"OnMessages/ReplaceBinary", f.testReplaceBinary},
		{"OnMessages/ReplaceBadUTF8", f.testReplaceBadUTF8},
		{"OnMessages/ReplaceBig", f.testReplaceBig},
		{"OnMessages/BinaryPasses", f.testBinaryPasses},
		{"OnMessages/Large", f.testLarge},
		{"OnMessages/Fragmented", f.testFragmented},
		{"OnMessages/MixedSizesThroughTwoFilters", f.testMixedSizes},
		{"OnClose", f.testOnClose},
		{"OnTick", f.testOnTick},
		{"Host/Log", f.testLog},
		{"Host/TimeNow", f.testTimeNow},
		{"Host/TickSetInvalid", f.testTickSetInvalid},
		{"Host/KV", f.testKV},
		{"Host/KVNamespaces", f.testKVNamespaces},
		{"Host/Metrics", f.testMetrics},
		{"Host/MessageInfo", f.testMessageInfo},
		{"Host/Close", f.testClose},
		{"Host/WrongHook", f.testWrongHook},
		{"Fault/TrapWithTwoInstances", f.testTrap},
		{"Fault/Loop", f.testLoop},
		{"Fault/OutOfMemory", f.testOOM},
		{"Fault/Pass", f.testPass},
	} {
		t.Run(tt.name, tt.test)
	}
}

// --- on_start ---

func (f *mainFixture) testConfig(t *testing.T) {
	// The HCL object reaches the guest as JSON, keys sorted.
	expectRoundTrip(t, f.dial(t, "/a/"), "cmd:config", `res:{"n":1,"tag":"a"}`)

	got := roundTrip(t, f.dial(t, "/main/"), "cmd:config")
	var cfg map[string]any
	if err := json.Unmarshal([]byte(strings.TrimPrefix(got, "res:")), &cfg); err != nil {
		t.Fatalf("main's config %q: %v", got, err)
	}
	want := map[string]any{
		"request_info_header":     "X-Request-Info",
		"set_upstream_headers":    map[string]any{"x-set": "by-filter"},
		"add_upstream_headers":    map[string]any{"x-add": "by-filter"},
		"remove_upstream_headers": []any{"x-remove"},
		"upstream_from_query":     "upstream",
		"global_tick_ms":          float64(20),
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("main's config is %v, want %v", cfg, want)
	}
}

func (f *mainFixture) testGlobalTick(t *testing.T) {
	// Each instance of main set a plugin-wide tick in on_start, which
	// counts in the key global_ticks.
	ticks := func() int {
		v, _ := kvGet(f.p, "shared", "global_ticks")
		n, _ := strconv.Atoi(v)
		return n
	}
	eventually(t, "a first global tick", func() (bool, string) { n := ticks(); return n > 0, strconv.Itoa(n) })
	first := ticks()
	eventually(t, "more global ticks", func() (bool, string) { n := ticks(); return n > first+2, strconv.Itoa(n) })
}

// --- on_open ---

// requestInfo is what the guest's request_info_header holds.
type requestInfo struct {
	Method     string      `json:"method"`
	URI        string      `json:"uri"`
	Path       string      `json:"path"`
	Query      string      `json:"query"`
	Host       string      `json:"host"`
	RemoteAddr string      `json:"remote_addr"`
	Protocols  []string    `json:"protocols"`
	Route      string      `json:"route"`
	TLS        bool        `json:"tls"`
	Headers    [][2]string `json:"headers"`
	XMulti     []string    `json:"x_multi"`
}

func (f *mainFixture) testRequestInfo(t *testing.T) {
	d := &codec.Dialer{
		Header: http.Header{
			"X-Custom": {"custom value"},
			"X-Multi":  {"one", "two"},
			"X-Set":    {"by-client"},
			"X-Add":    {"by-client"},
			"X-Remove": {"by-client"},
		},
		// The echo upstream selects no subprotocol; the filter sees what
		// the client offered.
		Protocols: []string{"chat.v2", "chat.v1"},
	}
	c, _ := dialProxy(t, f.url("/main/info?k=v&x=1"), d)
	req := f.echo.lastRequest(t)

	raw := req.Header.Get("X-Request-Info")
	var info requestInfo
	if err := json.Unmarshal([]byte(raw), &info); err != nil {
		t.Fatalf("upstream header X-Request-Info %q: %v", raw, err)
	}
	for _, chk := range []struct{ field, got, want string }{
		{"method", info.Method, "GET"},
		{"uri", info.URI, "/main/info?k=v&x=1"},
		{"path", info.Path, "/main/info"},
		{"query", info.Query, "k=v&x=1"},
		{"host", info.Host, f.addr},
		{"remote_addr", info.RemoteAddr, c.LocalAddr().String()},
		{"protocols", strings.Join(info.Protocols, ","), "chat.v2,chat.v1"},
		{"route", info.Route, "main"},
		{"tls", strconv.FormatBool(info.TLS), "false"},
		{"x_multi", strings.Join(info.XMulti, ","), "one,two"},
	} {
		if chk.got != chk.want {
			t.Errorf("request %s = %q, want %q", chk.field, chk.got, chk.want)
		}
	}
	for _, h := range [][2]string{{"x-custom", "custom value"}, {"x-multi", "one"}, {"x-multi", "two"}} {
		if !slices.Contains(info.Headers, h) {
			t.Errorf("request headers %q lack %q", info.Headers, h)
		}
	}

	// The filter's edits of the upstream request.
	for name, want := range map[string]string{
		"X-Set":    "by-filter",
		"X-Add":    "by-client,by-filter",
		"X-Remove": "",
		"X-Custom": "custom value",
	} {
		if got := strings.Join(req.Header.Values(name), ","); got != want {
			t.Errorf("upstream header %s = %q, want %q", name, got, want)
		}
	}
	expectRoundTrip(t, c, "x", "x")
}

func (f *mainFixture) testTLS(t *testing.T) {
	c, _ := dialProxy(t, "wss://"+f.secureAddr+"/secure?q=1", &codec.Dialer{TLSConfig: &tls.Config{RootCAs: f.roots}})
	var info requestInfo
	if err := json.Unmarshal([]byte(f.echo.lastRequest(t).Header.Get("X-Request-Info")), &info); err != nil {
		t.Fatal(err)
	}
	if !info.TLS || info.Route != "tls" || info.URI != "/secure?q=1" || info.Host != f.secureAddr {
		t.Errorf("request info over TLS: %+v", info)
	}
	expectRoundTrip(t, c, "cmd:info", "res:text 8 c2u 0")
}

func (f *mainFixture) testChooseUpstream(t *testing.T) {
	expectRoundTrip(t, f.dial(t, "/main/?upstream=other"), "hi", "other:hi")
	if got := f.other.lastRequest(t).URI; got != "/main/?upstream=other" {
		t.Errorf("the other upstream was asked for %q", got)
	}
	expectRoundTrip(t, f.dial(t, "/main/?upstream=echo"), "hi", "hi")

	se := dialRefused(t, f.url("/main/?upstream=nope"), nil)
	if se.Status != http.StatusBadRequest || string(se.Body) != "unknown upstream nope" {
		t.Errorf("unknown upstream: got %d %q, want 400 %q", se.Status, se.Body, "unknown upstream nope")
	}
}

// --- on_messages ---

func (f *mainFixture) testTag(t *testing.T) {
	// On the way in and on the way out.
	expectRoundTrip(t, f.dial(t, "/a/"), "x", "x|a|a")
}

func (f *mainFixture) testChainOrder(t *testing.T) {
	// Client to upstream through the filters in order; the echo comes
	// back through them in reverse order.
	c := f.dial(t, "/ab/")
	expectRoundTrip(t, c, "x", "x|a|b|b|a")
	// a answers the command; b never sees it.
	expectRoundTrip(t, c, "cmd:info", "res:text 8 c2u 0")
	expectRoundTrip(t, f.dial(t, "/ba/"), "x", "x|b|a|a|b")
}

func (f *mainFixture) testBatch(t *testing.T) {
	// Messages written back to back: the filter sees them in one or a few
	// batches. Drops and sends keep their place.
	c := f.dial(t, "/main/")
	for _, m := range []string{"m1", "cmd:dup d", "m2", "cmd:drop", "m3", "cmd:dup e", "m4"} {
		if err := c.BufferFrame(true, codec.OpText, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"m1", "d", "d#2", "m2", "m3", "e", "e#2", "m4"} {
		if got := readText(t, c); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

func (f *mainFixture) testDrop(t *testing.T) {
	c := f.dial(t, "/main/")
	if err := c.WriteMessage(codec.Text, []byte("cmd:drop")); err != nil {
		t.Fatal(err)
	}
	// Nothing comes back for the dropped message.
	expectRoundTrip(t, c, "after", "after")
}

func (f *mainFixture) testDup(t *testing.T) {
	c := f.dial(t, "/main/")
	// The upstream gets "x" then "x#2", and echoes them in that order.
	expectRoundTrip(t, c, "cmd:dup x", "x")
	if got := readText(t, c); got != "x#2" {
		t.Fatalf("got %q, want x#2", got)
	}
}

func (f *mainFixture) testReplaceBinary(t *testing.T) {
	c := f.dial(t, "/main/")
	if err := c.WriteMessage(codec.Text, []byte("cmd:replace_binary bin")); err != nil {
		t.Fatal(err)
	}
	if typ, p := readMsg(t, c); typ != codec.Binary || string(p) != "bin" {
		t.Fatalf("got %v %q, want binary \"bin\"", typ, p)
	}
}

func (f *mainFixture) testReplaceBadUTF8(t *testing.T) {
	expectRoundTrip(t, f.dial(t, "/main/"), "cmd:replace_bad_utf8", "res:err wasmgate: invalid argument")
}

func (f *mainFixture) testReplaceBig(t *testing.T) {
	// The route's max_message_size is 1KiB.
	c := f.dial(t, "/small/")
	expectRoundTrip(t, c, "cmd:replace_big 1025", "res:err wasmgate: too large")
	expectRoundTrip(t, c, "cmd:replace_big 1024", strings.Repeat("x", 1024))
}

func (f *mainFixture) testBinaryPasses(t *testing.T) {
	c := f.dial(t, "/main/")
	want := []byte{0, 1, 2, 0xfe, 0xff, 'c', 'm', 'd'}
	if err := c.WriteMessage(codec.Binary, want); err != nil {
		t.Fatal(err)
	}
	if typ, p := readMsg(t, c); typ != codec.Binary || !bytes.Equal(p, want) {
		t.Fatalf("got %v % x, want binary % x", typ, p, want)
	}
}

func (f *mainFixture) testLarge(t *testing.T) {
	c := f.dial(t, "/main/")
	for _, typ := range []codec.MessageType{codec.Text, codec.Binary} {
		want := bytes.Repeat([]byte("0123456789abcdef"), 200<<10/16)
		want = append(want, fmt.Sprint(typ)...)
		if err := c.WriteMessage(typ, want); err != nil {
			t.Fatal(err)
		}
		if gt, p := readMsg(t, c); gt != typ || !bytes.Equal(p, want) {
			t.Fatalf("got %v of %d bytes, want %v of %d", gt, len(p), typ, len(want))
		}
	}
}

func (f *mainFixture) testFragmented(t *testing.T) {
	c := f.dial(t, "/a/")
	c.BufferFrame(false, codec.OpText, []byte("frag"))       //nolint:errcheck // Flush reports
	c.BufferFrame(false, codec.OpContinuation, []byte("me")) //nolint:errcheck // Flush reports
	c.BufferFrame(true, codec.OpContinuation, []byte("nt"))  //nolint:errcheck // Flush reports
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	// Tagged as one message on the way in and out.
	if got := readText(t, c); got != "fragment|a|a" {
		t.Fatalf("got %q, want %q", got, "fragment|a|a")
	}
}

func (f *mainFixture) testMixedSizes(t *testing.T) {
	// Small and large messages back to back, through two filters that
	// replace each of them, both ways.
	big := func(n int, fill string) string { return strings.Repeat(fill, n) }
	msgs := []string{"s1", big(100<<10, "A"), "s2", big(40<<10, "B"), big(40<<10, "C"), "s3", big(70<<10, "D")}
	c := f.dial(t, "/ab/")
	for _, m := range msgs {
		if err := c.BufferFrame(true, codec.OpText, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		want := m + "|a|b|b|a"
		if got := readText(t, c); got != want {
			t.Fatalf("got %d bytes starting %.10q, want %d bytes starting %.10q", len(got), got, len(want), want)
		}
	}
}

// --- on_close ---

func (f *mainFixture) testOnClose(t *testing.T) {
	// a writes how each connection ended to its key last_close. The
	// connections of the checks before are all closed once its gauge
	// reads 0 (a has one instance, which runs one hook at a time).
	waitGauge(t, f.p, "a", "open_connections", 0)

	t.Run("ClientCloses", func(t *testing.T) {
		c := f.dial(t, "/a/")
		waitGauge(t, f.p, "a", "open_connections", 1)
		if err := c.Close(4001, "bye"); err != nil {
			t.Fatal(err)
		}
		waitKV(t, f.p, "a", "last_close", "client 4001 bye abnormal=false")
		waitGauge(t, f.p, "a", "open_connections", 0)
	})
	t.Run("UpstreamCloses", func(t *testing.T) {
		c := f.dial(t, "/a-closing/")
		if err := c.WriteMessage(codec.Text, []byte("go")); err != nil {
			t.Fatal(err)
		}
		if res := readClose(c); res.code != 4002 || res.reason != "upstream bye" {
			t.Errorf("client saw the close %d %q (%v), want 4002", res.code, res.reason, res.err)
		}
		waitKV(t, f.p, "a", "last_close", "upstream 4002 upstream bye abnormal=false")
		waitGauge(t, f.p, "a", "open_connections", 0)
	})
	t.Run("ClientVanishes", func(t *testing.T) {
		c := f.dial(t, "/a/")
		expectRoundTrip(t, c, "x", "x|a|a")
		c.CloseNow()
		waitKV(t, f.p, "a", "last_close", "client 1006  abnormal=true")
		waitGauge(t, f.p, "a", "open_connections", 0)
	})
	t.Run("UpstreamVanishes", func(t *testing.T) {
		c := f.dial(t, "/a-vanishing/")
		if err := c.WriteMessage(codec.Text, []byte("go")); err != nil {
			t.Fatal(err)
		}
		if res := readClose(c); res.code != codec.CloseInternalError {
			t.Errorf("client saw the close %d %q (%v), want 1011", res.code, res.reason, res.err)
		}
		waitKV(t, f.p, "a", "last_close", "upstream 1006  abnormal=true")
		waitGauge(t, f.p, "a", "open_connections", 0)
	})
	t.Run("UpstreamUnreachable", func(t *testing.T) {
		// a let the handshake through; the upstream cannot be dialed.
		se := dialRefused(t, f.url("/a-dead/"), nil)
		if se.Status != http.StatusBadGateway {
			t.Errorf("got %d, want 502", se.Status)
		}
		waitKV(t, f.p, "a", "last_close", "client 1006 upstream unavailable abnormal=true")
		waitGauge(t, f.p, "a", "open_connections", 0)
	})
}

// --- on_tick ---

func (f *mainFixture) testOnTick(t *testing.T) {
	c := f.dial(t, "/main/")
	expectRoundTrip(t, c, "cmd:tick 20 3", "res:ok")
	for i := 1; i <= 3; i++ {
		if got, want := readText(t, c), fmt.Sprintf("tick %d", i); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	// The guest stopped its timer after the third tick: nothing more
	// comes.
	c.NetConn().SetReadDeadline(time.Now().Add(150 * time.Millisecond))
	typ, p, err := c.ReadMessage()
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("after the last tick: got %v %q (%v), want nothing", typ, p, err)
	}
}

// --- host functions ---

func (f *mainFixture) testLog(t *testing.T) {
	c := f.dial(t, "/main/")
	expectRoundTrip(t, c, "cmd:log 1 hello-info", "res:ok")
	expectRoundTrip(t, c, "cmd:log 3 hello-error", "res:ok")
	for _, want := range []struct{ msg, level string }{{"hello-info", "INFO"}, {"hello-error", "ERROR"}} {
		lines := f.logs.lines("msg=" + want.msg)
		if len(lines) != 1 {
			t.Errorf("log lines with %q: %q, want one", want.msg, lines)
			continue
		}
		for _, part := range []string{"level=" + want.level, "plugin=main", "conn="} {
			if !strings.Contains(lines[0], part) {
				t.Errorf("log line %q lacks %q", lines[0], part)
			}
		}
	}
}

func (f *mainFixture) testTimeNow(t *testing.T) {
	got := roundTrip(t, f.dial(t, "/main/"), "cmd:time")
	ns, err := strconv.ParseInt(strings.TrimPrefix(got, "res:"), 10, 64)
	if err != nil {
		t.Fatalf("cmd:time: %q", got)
	}
	if d := time.Since(time.Unix(0, ns)); d < -time.Minute || d > time.Minute {
		t.Errorf("time_now is %v off the test's clock", d)
	}
}

func (f *mainFixture) testTickSetInvalid(t *testing.T) {
	c := f.dial(t, "/main/")
	// Below the ABI's 10ms minimum.
	expectRoundTrip(t, c, "cmd:tick 5 1", "res:err wasmgate: invalid argument")
	// Stopping a timer that is not running is fine.
	expectRoundTrip(t, c, "cmd:tick 0 0", "res:ok")
}

func (f *mainFixture) testKV(t *testing.T) {
	c := f.dial(t, "/main/")
	for _, step := range []struct{ cmd, want string }{
		{"kv_get k1", "notfound"},
		{"kv_set k1 v1 0", "ok"},
		{"kv_get k1", "v1"},
		{"kv_set k1 v2 0", "ok"},
		{"kv_get k1", "v2"},
		{"kv_add n 5 0", "5"},
		{"kv_add n -2 0", "3"},
		{"kv_get n", "3"},
		{"kv_delete n", "ok"},
		{"kv_delete n", "notfound"},
		{"kv_get n", "notfound"},
		{"kv_set long v 60000", "ok"},
		{"kv_get long", "v"},
		{"kv_set short v 50", "ok"},
		{"kv_add shortn 7 50", "7"},
	} {
		expectRoundTrip(t, c, "cmd:"+step.cmd, "res:"+step.want)
	}
	// What the guest stored is in the host's store, under its namespace.
	if v, ok := kvGet(f.p, "shared", "k1"); !ok || v != "v2" {
		t.Errorf("host store: shared/k1 = %q, %v", v, ok)
	}
	// The keys with a ttl expire.
	for _, key := range []string{"short", "shortn"} {
		eventually(t, key+" expires", func() (bool, string) {
			got := roundTrip(t, c, "cmd:kv_get "+key)
			return got == "res:notfound", got
		})
	}
	expectRoundTrip(t, c, "cmd:kv_get long", "res:v")
}

func (f *mainFixture) testKVNamespaces(t *testing.T) {
	// main and b share the namespace "shared"; a has its own.
	expectRoundTrip(t, f.dial(t, "/main/"), "cmd:kv_set ns-key from-main 0", "res:ok")
	expectRoundTrip(t, f.dial(t, "/b/"), "cmd:kv_get ns-key", "res:from-main")
	expectRoundTrip(t, f.dial(t, "/a/"), "cmd:kv_get ns-key", "res:notfound")
	expectRoundTrip(t, f.dial(t, "/a/"), "cmd:kv_set ns-key from-a 0", "res:ok")
	expectRoundTrip(t, f.dial(t, "/b/"), "cmd:kv_get ns-key", "res:from-main")
	if v, ok := kvGet(f.p, "a", "ns-key"); !ok || v != "from-a" {
		t.Errorf("host store: a/ns-key = %q, %v", v, ok)
	}
	if _, ok := kvGet(f.p, "main", "ns-key"); ok {
		t.Errorf("host store: main/ns-key exists; main's namespace is shared")
	}
}

func (f *mainFixture) testMetrics(t *testing.T) {
	// The checks before closed their connections.
	waitGauge(t, f.p, "main", "open_connections", 0)
	if s := metric(t, f.p, "main", "open_connections"); s.Kind != plugins.Gauge {
		t.Errorf("open_connections is a %v, want a gauge", s.Kind)
	}
	c := f.dial(t, "/main/")
	// on_open ran before the handshake ended.
	if s := metric(t, f.p, "main", "open_connections"); s.Value != 1 {
		t.Errorf("open_connections = %d with one connection open", s.Value)
	}

	before := metric(t, f.p, "main", "commands_total")
	if before.Kind != plugins.Counter {
		t.Errorf("commands_total is a %v, want a counter", before.Kind)
	}
	expectRoundTrip(t, c, "cmd:gauge_set 42", "res:ok")
	if s := metric(t, f.p, "main", "last_value"); s.Value != 42 || s.Kind != plugins.Gauge {
		t.Errorf("last_value = %d (%v), want gauge 42", s.Value, s.Kind)
	}
	expectRoundTrip(t, c, "cmd:gauge_set -7", "res:ok")
	if s := metric(t, f.p, "main", "last_value"); s.Value != -7 {
		t.Errorf("last_value = %d, want -7", s.Value)
	}
	expectRoundTrip(t, c, "cmd:nonsense", "res:unknown")
	// Counted in the hook, before the reply went out.
	if after := metric(t, f.p, "main", "commands_total"); after.Value != before.Value+3 {
		t.Errorf("commands_total went from %d to %d after 3 commands", before.Value, after.Value)
	}
	// a and b have their own.
	if s := metric(t, f.p, "b", "last_value"); s.Value != 0 {
		t.Errorf("b's last_value = %d, want 0", s.Value)
	}

	c.Close(codec.CloseNormal, "") //nolint:errcheck // the gauge shows the close
	waitGauge(t, f.p, "main", "open_connections", 0)
}

func (f *mainFixture) testMessageInfo(t *testing.T) {
	expectRoundTrip(t, f.dial(t, "/main/"), "cmd:info", "res:text 8 c2u 0")

	// The infoer upstream sends "cmd:info" when connected: main answers it
	// to the upstream, and the client does not see it.
	c := f.dial(t, "/info/")
	select {
	case got := <-f.info:
		if got != "res:text 8 u2c 0" {
			t.Errorf("the upstream got %q, want %q", got, "res:text 8 u2c 0")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream got no reply to its cmd:info")
	}
	expectRoundTrip(t, c, "x", "x")
}

func (f *mainFixture) testClose(t *testing.T) {
	c := f.dial(t, "/rec/")
	// 1005 may not be sent in a close frame.
	expectRoundTrip(t, c, "cmd:close 1005 no", "res:err wasmgate: invalid argument")
	// The messages after the close, in its batch or later, are dropped.
	for _, m := range []string{"r1", "cmd:close 4003 go away", "r2"} {
		if err := c.BufferFrame(true, codec.OpText, []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if res := readClose(c); res.code != 4003 || res.reason != "go away" {
		t.Errorf("client saw the close %d %q (%v), want 4003 \"go away\"", res.code, res.reason, res.err)
	}
	var seen []string
	for {
		select {
		case e := <-f.events:
			seen = append(seen, e)
		case <-time.After(10 * time.Second):
			t.Fatalf("the upstream connection did not end; it saw %q", seen)
		}
		if strings.HasPrefix(seen[len(seen)-1], "close:") {
			break
		}
	}
	// The upstream hears that the client went away.
	if want := []string{"msg:r1", "close:1001"}; !slices.Equal(seen, want) {
		t.Errorf("the upstream saw %q, want %q", seen, want)
	}
}

func (f *mainFixture) testWrongHook(t *testing.T) {
	// upstream_header_set from on_messages.
	expectRoundTrip(t, f.dial(t, "/main/"), "cmd:wrong_hook", "res:err wasmgate: wrong hook")
}

// --- faults ---

// expectFilterFailed checks that c is closed with 1011, as after a fault
// of its filter with on_error = "close".
func expectFilterFailed(t testing.TB, c *codec.Conn, plugin string) {
	t.Helper()
	res := readClose(c)
	if res.code != codec.CloseInternalError || !strings.Contains(res.reason, plugin) {
		t.Errorf("got the close %d %q (%v), want 1011 naming %s", res.code, res.reason, res.err, plugin)
	}
}

// expectServing checks that a connection without filters and a new one
// through main work.
func (f *mainFixture) expectServing(t testing.TB) {
	t.Helper()
	expectRoundTrip(t, f.dial(t, "/plain/"), "plain", "plain")
	expectRoundTrip(t, f.dial(t, "/main/"), "cmd:info", "res:text 8 c2u 0")
}

// expectLogged returns a function that checks that one more log line has
// all of parts than when expectLogged was called.
func (f *mainFixture) expectLogged(t testing.TB, parts ...string) func() {
	before := len(f.logs.lines(parts...))
	return func() {
		t.Helper()
		eventually(t, fmt.Sprintf("a log line with %q", parts), func() (bool, string) {
			n := len(f.logs.lines(parts...))
			return n == before+1, fmt.Sprintf("%d more", n-before)
		})
	}
}

// faultLogged is the start of the log line of a plugin fault.
const faultLogged = `msg="plugin instance failed; replacing it"`

func (f *mainFixture) testTrap(t *testing.T) {
	logged := f.expectLogged(t, faultLogged, "plugin=main", `cause="wasmgate_on_messages: trap:`, "on_error=close")
	// The guest's panic message, from its stderr.
	stderr := f.expectLogged(t, `msg="panic: trap"`, "plugin=main", "stream=stderr")
	// main has two instances, and consecutive connections are pinned to
	// different ones: c1 and c3 to one, c2 to the other.
	c1 := f.dial(t, "/main/")
	c2 := f.dial(t, "/main/")
	c3 := f.dial(t, "/main/")
	expectRoundTrip(t, c2, "before", "before")
	expectRoundTrip(t, c3, "before", "before")
	if err := c1.WriteMessage(codec.Text, []byte("cmd:trap")); err != nil {
		t.Fatal(err)
	}
	expectFilterFailed(t, c1, "main")
	// The failed instance's other connection is closed too.
	expectFilterFailed(t, c3, "main")
	logged()
	stderr()
	// The other instance's connection goes on.
	expectRoundTrip(t, c2, "after", "after")
	expectRoundTrip(t, c2, "cmd:info", "res:text 8 c2u 0")
	// The failed instance was replaced: both instances serve new
	// connections.
	for range 2 {
		expectRoundTrip(t, f.dial(t, "/main/"), "cmd:info", "res:text 8 c2u 0")
	}
	f.expectServing(t)
}

func (f *mainFixture) testLoop(t *testing.T) {
	logged := f.expectLogged(t, faultLogged, "plugin=main", "the call overran its deadline and was stopped")
	c := f.dial(t, "/main/")
	if err := c.WriteMessage(codec.Text, []byte("cmd:loop")); err != nil {
		t.Fatal(err)
	}
	// Other routes are served while main's instance loops, and after.
	expectRoundTrip(t, f.dial(t, "/plain/"), "plain", "plain")
	expectRoundTrip(t, f.dial(t, "/a/"), "x", "x|a|a")
	// The checked sandbox stops the call at main's timeout.
	expectFilterFailed(t, c, "main")
	logged()
	f.expectServing(t)
}

func (f *mainFixture) testOOM(t *testing.T) {
	// a's memory_limit is 32MiB; the guest allocates until its runtime
	// gives up, well within a's timeout.
	logged := f.expectLogged(t, faultLogged, "plugin=a", `cause="wasmgate_on_messages: trap:`)
	stderr := f.expectLogged(t, `msg="fatal error: out of memory"`, "plugin=a", "stream=stderr")
	c := f.dial(t, "/a/")
	if err := c.WriteMessage(codec.Text, []byte("cmd:oom")); err != nil {
		t.Fatal(err)
	}
	expectFilterFailed(t, c, "a")
	logged()
	stderr()
	expectRoundTrip(t, f.dial(t, "/plain/"), "plain", "plain")
	expectRoundTrip(t, f.dial(t, "/a/"), "x", "x|a|a")
}

func (f *mainFixture) testPass(t *testing.T) {
	logged := f.expectLogged(t, faultLogged, "plugin=b", "on_error=pass")
	// b has on_error = "pass": after its fault, its connection stays open
	// and b is skipped.
	c := f.dial(t, "/b/")
	expectRoundTrip(t, c, "x", "x|b|b")
	if err := c.WriteMessage(codec.Text, []byte("cmd:trap")); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMessage(codec.Text, []byte("y")); err != nil {
		t.Fatal(err)
	}
	got := readText(t, c)
	if got == "cmd:trap" {
		// The batch that failed went on unfiltered.
		got = readText(t, c)
	}
	if got != "y" {
		t.Fatalf("after the fault: got %q, want \"y\" untagged", got)
	}
	expectRoundTrip(t, c, "z", "z")
	logged()
	// A new connection gets b's new instance.
	expectRoundTrip(t, f.dial(t, "/b/"), "x", "x|b|b")
	expectRoundTrip(t, f.dial(t, "/plain/"), "plain", "plain")
}

// --- handshake filters ---

const handshakeConfig = `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{echo}}"] }
upstream "based" { servers = ["ws://{{echo}}/base/"] }

{{plugin_guard}}
{{plugin_second}}
{{plugin_shut}}
{{plugin_rewrite}}

route "guard" {
  path     = "/guard/"
  upstream = "echo"
  filters  = ["guard"]
}
route "guard-first" {
  path     = "/guard-first/"
  upstream = "echo"
  filters  = ["guard", "second"]
}
route "guard-last" {
  path     = "/guard-last/"
  upstream = "echo"
  filters  = ["second", "guard"]
}
route "shut" {
  path     = "/shut/"
  upstream = "echo"
  filters  = ["shut"]
}
route "rewrite" {
  path     = "/rewrite/"
  upstream = "echo"
  filters  = ["rewrite"]
}
route "rewrite-based" {
  path     = "/rewrite-based/"
  upstream = "based"
  filters  = ["rewrite"]
}
`

// testHandshakeFilters checks the filters that refuse handshakes: guard
// asks for a header, shut closes in on_open; second refuses nothing.
func testHandshakeFilters(t *testing.T, env *filterEnv) {
	echo := startUpstream(t, nil, echoHandler)
	p, addr := env.start(t, handshakeConfig, map[string]string{
		"echo": echo.addr,
		"plugin_guard": env.plugin("guard", `
  instances = 1
  timeout   = "1s"
  config = {
    require_header = {
      name          = "x-api-key"
      value         = "secret"
      status        = 401
      body          = "missing key"
      reject_header = ["WWW-Authenticate", "ApiKey realm=test"]
    }
  }`),
		"plugin_second": env.plugin("second", `
  instances = 1
  timeout   = "1s"`),
		"plugin_shut": env.plugin("shut", `
  instances = 1
  timeout   = "1s"
  config    = { open_close = { code = 4000, reason = "closed at open" } }`),
		"plugin_rewrite": env.plugin("rewrite", `
  instances = 1
  timeout   = "1s"
  config    = { upstream_uri = "/v2/chat?room=9" }`),
	}, nil)
	url := func(path string) string { return "ws://" + addr + path }
	withKey := func(key string) *codec.Dialer {
		return &codec.Dialer{Header: http.Header{"X-Api-Key": {key}}}
	}
	upstreamRequests := func() int {
		echo.mu.Lock()
		defer echo.mu.Unlock()
		return len(echo.reqs)
	}

	t.Run("Reject", func(t *testing.T) {
		for _, d := range []*codec.Dialer{nil, withKey("wrong")} {
			se := dialRefused(t, url("/guard/"), d)
			if se.Status != http.StatusUnauthorized || string(se.Body) != "missing key" {
				t.Errorf("got %d %q, want 401 \"missing key\"", se.Status, se.Body)
			}
			if got := se.Header.Get("Www-Authenticate"); got != "ApiKey realm=test" {
				t.Errorf("WWW-Authenticate = %q, want the filter's", got)
			}
		}
		if n := upstreamRequests(); n != 0 {
			t.Errorf("the upstream was dialed %d times for refused handshakes", n)
		}
		// The filter that refuses gets no on_close.
		if v, ok := kvGet(p, "guard", "last_close"); ok {
			t.Errorf("guard got on_close for a connection it refused: %q", v)
		}
	})
	t.Run("Accept", func(t *testing.T) {
		c, _ := dialProxy(t, url("/guard/"), withKey("secret"))
		expectRoundTrip(t, c, "x", "x")
	})
	t.Run("UpstreamURI", func(t *testing.T) {
		// The filter's request-target replaces the client's, after the
		// server's base path.
		for path, want := range map[string]string{
			"/rewrite/?token=s3cret":       "/v2/chat?room=9",
			"/rewrite-based/?token=s3cret": "/base/v2/chat?room=9",
		} {
			c, _ := dialProxy(t, url(path), nil)
			expectRoundTrip(t, c, "x", "x")
			if got := echo.lastRequest(t).URI; got != want {
				t.Errorf("%s: the upstream got %q, want %q", path, got, want)
			}
			c.Close(1000, "")
		}
	})
	t.Run("ChainStopsAtReject", func(t *testing.T) {
		// second comes after guard: it never hears of the refused
		// connection, neither on_open nor on_close.
		dialRefused(t, url("/guard-first/"), nil)
		if s := metric(t, p, "second", "open_connections"); s.Value != 0 {
			t.Errorf("second's open_connections = %d after a refusal by guard", s.Value)
		}
		if v, ok := kvGet(p, "second", "last_close"); ok {
			t.Errorf("second got on_close for a connection guard refused: %q", v)
		}
		c, _ := dialProxy(t, url("/guard-first/"), withKey("secret"))
		expectRoundTrip(t, c, "x", "x")
		if s := metric(t, p, "second", "open_connections"); s.Value != 1 {
			t.Errorf("second's open_connections = %d with one connection open", s.Value)
		}
		c.Close(4005, "done") //nolint:errcheck // on_close shows it
		waitKV(t, p, "second", "last_close", "client 4005 done abnormal=false")
		waitGauge(t, p, "second", "open_connections", 0)
	})
	t.Run("FilterBeforeRejectGetsOnClose", func(t *testing.T) {
		// second comes before guard: it let the handshake through, so it
		// hears that the connection closed, abnormally.
		se := dialRefused(t, url("/guard-last/"), nil)
		if se.Status != http.StatusUnauthorized {
			t.Errorf("got %d, want 401", se.Status)
		}
		waitKV(t, p, "second", "last_close", "client 1006 rejected by filter guard abnormal=true")
		waitGauge(t, p, "second", "open_connections", 0)
	})
	t.Run("NoConfig", func(t *testing.T) {
		// second has no config: config_get gives null.
		c, _ := dialProxy(t, url("/guard-last/"), withKey("secret"))
		expectRoundTrip(t, c, "cmd:config", "res:null")
	})
	t.Run("CloseInOpen", func(t *testing.T) {
		before := upstreamRequests()
		se := dialRefused(t, url("/shut/"), nil)
		if se.Status != http.StatusForbidden || string(se.Body) != "closed at open" {
			t.Errorf("got %d %q, want 403 \"closed at open\"", se.Status, se.Body)
		}
		if n := upstreamRequests(); n != before {
			t.Errorf("the upstream was dialed for a handshake a filter closed")
		}
		// Closing in on_open refuses: no on_close follows.
		if v, ok := kvGet(p, "shut", "last_close"); ok {
			t.Errorf("shut got on_close for a connection it closed in on_open: %q", v)
		}
		if s := metric(t, p, "shut", "open_connections"); s.Value != 0 {
			t.Errorf("shut's open_connections = %d", s.Value)
		}
	})
}

// --- faults on the handshake ---

const openFaultsConfig = `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://{{echo}}"] }

{{plugin_trapper}}
{{plugin_trapper_pass}}
{{plugin_looper}}
{{plugin_plainbox}}

route "nofilter" {
  path     = "/nofilter/"
  upstream = "echo"
}
route "trapper" {
  path     = "/trapper/"
  upstream = "echo"
  filters  = ["trapper"]
}
route "trapper-pass" {
  path     = "/trapper-pass/"
  upstream = "echo"
  filters  = ["trapper-pass"]
}
route "looper" {
  path     = "/looper/"
  upstream = "echo"
  filters  = ["looper"]
}
route "plainbox" {
  path     = "/plainbox/"
  upstream = "echo"
  filters  = ["plainbox"]
}
`

// testOpenFaults checks the faults of on_open, and a plugin in the plain
// sandbox. Its proxy compiles the guest a second time (for the plain
// sandbox), which takes long under the race detector: -short skips it.
func testOpenFaults(t *testing.T, env *filterEnv) {
	if testing.Short() {
		t.Skip("loads four more plugins and compiles the guest again; slow under the race detector")
	}
	echo := startUpstream(t, nil, echoHandler)
	_, addr := env.start(t, openFaultsConfig, map[string]string{
		"echo": echo.addr,
		"plugin_trapper": env.plugin("trapper", `
  instances = 1
  timeout   = "1s"
  config    = { trap_in = "open" }`),
		"plugin_trapper_pass": env.plugin("trapper-pass", `
  instances = 1
  timeout   = "1s"
  on_error  = "pass"
  config    = { trap_in = "open", tag = "t" }`),
		"plugin_looper": env.plugin("looper", `
  instances = 1
  timeout   = "20ms"
  sandbox   = "checked"
  config    = { loop_in = "open" }`),
		"plugin_plainbox": env.plugin("plainbox", `
  instances = 1
  timeout   = "1s"
  sandbox   = "plain"
  on_error  = "pass"
  config    = { tag = "p" }`),
	}, nil)
	url := func(path string) string { return "ws://" + addr + path }
	expectServing := func(t *testing.T) {
		t.Helper()
		c, _ := dialProxy(t, url("/nofilter/"), nil)
		expectRoundTrip(t, c, "nofilter", "nofilter")
	}

	t.Run("TrapInOpen", func(t *testing.T) {
		// Twice: the second handshake runs on the replacement instance.
		for range 2 {
			se := dialRefused(t, url("/trapper/"), nil)
			if se.Status != http.StatusInternalServerError || !strings.Contains(string(se.Body), "trapper") {
				t.Errorf("got %d %q, want 500 naming the filter", se.Status, se.Body)
			}
		}
		expectServing(t)
	})
	t.Run("TrapInOpenPass", func(t *testing.T) {
		// The handshake goes on without the filter: no tag.
		c, _ := dialProxy(t, url("/trapper-pass/"), nil)
		expectRoundTrip(t, c, "x", "x")
		expectServing(t)
	})
	t.Run("LoopInOpen", func(t *testing.T) {
		se := dialRefused(t, url("/looper/"), nil)
		if se.Status != http.StatusInternalServerError || !strings.Contains(string(se.Body), "looper") {
			t.Errorf("got %d %q, want 500 naming the filter", se.Status, se.Body)
		}
		expectServing(t)
	})
	t.Run("PlainSandbox", func(t *testing.T) {
		c, _ := dialProxy(t, url("/plainbox/"), nil)
		expectRoundTrip(t, c, "x", "x|p|p")
		expectRoundTrip(t, c, "cmd:info", "res:text 8 c2u 0")
		// A trap in the plain sandbox is a fault like any other.
		if err := c.WriteMessage(codec.Text, []byte("cmd:trap")); err != nil {
			t.Fatal(err)
		}
		if got := roundTrip(t, c, "y"); got != "y" && (got != "cmd:trap" || readText(t, c) != "y") {
			t.Fatalf("after the fault: got %q, want \"y\" untagged", got)
		}
		c2, _ := dialProxy(t, url("/plainbox/"), nil)
		expectRoundTrip(t, c2, "x", "x|p|p")
		expectServing(t)
	})
}

// --- start and configuration ---

func testStartFails(t *testing.T, env *filterEnv) {
	src := `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://` + deadAddr(t) + `"] }
` + env.plugin("failing", `
  instances = 1
  config    = { fail_start = true }`) + `
route "r" {
  upstream = "echo"
  filters  = ["failing"]
}
`
	cfg, diags := config.Parse([]byte(src), "test.hcl", t.TempDir())
	if diags.HasErrors() {
		t.Fatalf("config: %s", diags.Error())
	}
	p := New(cfg, nil)
	err := p.Start()
	if err == nil {
		p.Shutdown(context.Background()) //nolint:errcheck // failing anyway
		t.Fatal("Start succeeded with a plugin whose on_start fails")
	}
	if !strings.Contains(err.Error(), "failing") {
		t.Errorf("Start: %v, want an error naming the plugin", err)
	}
	if a := p.Addr("public"); a != nil {
		t.Errorf("listening on %v after a failed start", a)
	}
}

// testConfigErrors checks that modules a proxy could not run are caught
// when the configuration is parsed, before New and Start. proxy/config
// tests the diagnostics themselves.
func testConfigErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return filepath.ToSlash(path)
	}
	v2 := wasmbin.ABIv1()
	v2.Funcs[0].Export = "wasmgate_abi_v2"
	for _, tt := range []struct {
		name, wasm, want string
	}{
		{"missing file", filepath.ToSlash(filepath.Join(dir, "missing.wasm")), "missing.wasm"},
		{"not Wasm", write("text.wasm", []byte("hello, plugin")), "plugin broken: not a WebAssembly module"},
		{"ABI version 2", write("v2.wasm", v2.Encode()), "plugin broken is built for wasmgate ABI version 2"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := `
listener "public" { address = "127.0.0.1:0" }
upstream "echo" { servers = ["ws://127.0.0.1:1"] }
plugin "broken" { wasm = "` + tt.wasm + `" }
route "r" {
  upstream = "echo"
  filters  = ["broken"]
}
`
			_, diags := config.Parse([]byte(src), "test.hcl", dir)
			if !diags.HasErrors() {
				t.Fatal("the configuration was accepted")
			}
			if msg := diags.Error(); !strings.Contains(msg, tt.want) {
				t.Errorf("diagnostics %q do not mention %q", msg, tt.want)
			}
		})
	}
}

// tickerModule is a plugin without wasmgate_on_messages, so that its
// routes relay frames as they come: on_open sets a 10ms timer on the
// connection, and on_tick sends "tick" to the client.
func tickerModule() []byte {
	i32 := wasmbin.I32
	m := wasmbin.ABIv1()
	m.Imports = []wasmbin.Import{
		{Module: "wasmgate", Name: "tick_set", Params: []byte{i32, i32}, Results: []byte{i32}},
		{Module: "wasmgate", Name: "send", Params: []byte{i32, i32, i32, i32, i32}, Results: []byte{i32}},
	}
	m.Data = []wasmbin.Data{{Offset: 0, Bytes: []byte("tick")}}
	m.Funcs = append(m.Funcs,
		wasmbin.Func{
			Export: "wasmgate_on_open", Params: []byte{i32, i32}, Results: []byte{i32},
			Body: wasmbin.Concat(
				wasmbin.LocalGet(0), wasmbin.I32Const(10), wasmbin.Call(0), wasmbin.Drop(),
				wasmbin.I32Const(0), // ACTION_CONTINUE
			),
		},
		wasmbin.Func{
			Export: "wasmgate_on_tick", Params: []byte{i32},
			Body: wasmbin.Concat(
				// send(ctx, DIR_UPSTREAM_TO_CLIENT, TYPE_TEXT, 0, 4)
				wasmbin.LocalGet(0), wasmbin.I32Const(1), wasmbin.I32Const(1), wasmbin.I32Const(0), wasmbin.I32Const(4),
				wasmbin.Call(1), wasmbin.Drop(),
			),
		},
	)
	return m.Encode()
}

// TestFilters_TickDuringFragmentedMessage checks that a message a filter
// injects from on_tick, on a route where no filter reads messages, does
// not land inside a fragmented message being relayed: a filter that can
// send makes the route assemble messages (ABI.md, section 5.3).
func TestFilters_TickDuringFragmentedMessage(t *testing.T) {
	up := startUpstream(t, nil, func(c *codec.Conn) {
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
		// One message in three frames, 100ms apart: the filter's timer
		// fires in between.
		for i, part := range []string{"part1-", "part2-", "end"} {
			op := codec.OpContinuation
			if i == 0 {
				op = codec.OpText
			}
			if c.WriteFrame(i == 2, op, []byte(part)) != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		codec.Echo(c) //nolint:errcheck // the client checks
	})
	path := filepath.Join(t.TempDir(), "ticker.wasm")
	if err := os.WriteFile(path, tickerModule(), 0o644); err != nil {
		t.Fatal(err)
	}
	src := `
listener "public" { address = "127.0.0.1:0" }
upstream "up" { servers = ["ws://{{up}}"] }
plugin "ticker" {
  wasm      = "{{wasm}}"
  instances = 1
  timeout   = "1s"
}
route "r" {
  upstream = "up"
  filters  = ["ticker"]
}
`
	_, addr := startProxy(t, src, map[string]string{"up": up.addr, "wasm": filepath.ToSlash(path)})
	c, _ := dialProxy(t, "ws://"+addr+"/", nil)
	if got := readText(t, c); got != "tick" {
		t.Fatalf("got %q, want tick", got)
	}
	if err := c.WriteMessage(codec.Text, []byte("go")); err != nil {
		t.Fatal(err)
	}
	for {
		got := readText(t, c)
		if got == "part1-part2-end" {
			break
		}
		if got != "tick" {
			t.Fatalf("got %q, want tick or the upstream's message", got)
		}
	}
}
