package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wasmgate/wasmgate/codec"
)

// The interop tests put the built binary between real clients and servers
// of other ecosystems: Node's ws package and Python's websockets as client
// and as upstream server (this file), and headless Chromium
// (interop_chromium_test.go). The peers are the scripts in
// testdata/interop, driven over JSON lines (peer.js and peer.py describe
// the protocol); .ci/run installs their runtimes, so in CI a missing one
// fails the test, where elsewhere it skips.

// interopDir holds the peers' scripts, and Node's node_modules.
const interopDir = "testdata/interop"

// The subprotocols every client offers, and the one every server accepts:
// a server that chose by its own order, or the proxy that offered
// upstream other than the client's list, would show.
var (
	interopOffered  = []string{"chat.v2", "chat.v1"}
	interopAccepted = "chat.v1"
)

// The close that each side starts with: the other end must see exactly it.
const (
	clientCloseCode   = 4001
	clientCloseReason = "bye"
	serverCloseCode   = 4002
	serverCloseReason = "server bye"
)

// interopCase configures both peers and the proxy's routes for one run of
// every combination.
type interopCase struct {
	name string
	// compress makes the clients offer permessage-deflate and the servers
	// accept it.
	compress bool
	// route is HCL added to every route of the proxy's configuration.
	route string
	// clientExtensions is the Sec-WebSocket-Extensions header of the
	// proxy's 101 to a client; "" when there is none.
	clientExtensions string
	// upstreamExtensions is that of a server's 101 to the proxy, by
	// runtime ("node", "python"); "" when there is none.
	upstreamExtensions map[string]string
}

// wasmgate's answer, and its offer's outcome, without context takeover
// (the default): it asks both peers to compress each message on its own.
const noTakeover = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

var interopCases = []interopCase{
	{name: "uncompressed"},
	{
		name: "compressed", compress: true, route: "compression = true",
		clientExtensions: noTakeover,
		upstreamExtensions: map[string]string{
			"node": noTakeover,
			// websockets also bounds both windows to 4 KiB, as RFC 7692
			// lets a server: wasmgate then inflates with a small window,
			// and compresses only messages that fit one.
			"python": noTakeover + "; server_max_window_bits=12; client_max_window_bits=12",
		},
	},
	{
		// Offers on both sides, but the route does not compress: wasmgate
		// declines the client's and offers none upstream.
		name: "offered, route without compression", compress: true,
	},
}

func TestInteropNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		skipOrFail(t, "no node on PATH (.ci/run installs it): %v", err)
	}
	if _, err := os.Stat(filepath.Join(interopDir, "node_modules", "ws", "package.json")); err != nil {
		skipOrFail(t, "no ws package (.ci/run installs it with npm ci --prefix cmd/wasmgate/%s): %v", interopDir, err)
	}
	testInteropPeers(t, interopRuntime{name: "node", command: []string{node}, ext: ".js"})
}

func TestInteropPython(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	const python = "/usr/bin/python3"
	if out, err := exec.Command(python, "-c", "import websockets").CombinedOutput(); err != nil {
		skipOrFail(t, "no %s with the websockets package (.ci/run installs python3-websockets): %v\n%s", python, err, out)
	}
	// -B: no __pycache__ in the source tree.
	testInteropPeers(t, interopRuntime{name: "python", command: []string{python, "-B"}, ext: ".py"})
}

// skipOrFail skips the test for want of a program, or fails it under CI,
// whose .ci/run installs every program these tests need.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format, args...)
}

// interopRuntime runs one ecosystem's peers: command with the script
// client+ext or server+ext of interopDir.
type interopRuntime struct {
	name    string
	command []string
	ext     string
}

// testInteropPeers runs, for every interopCase, the runtime's client
// through wasmgate to wasmgate's echo server, the codec's client through
// wasmgate to the runtime's server, and the runtime's client through
// wasmgate to its server.
func testInteropPeers(t *testing.T, rt interopRuntime) {
	bin := buildWasmgate(t)
	for _, tc := range interopCases {
		t.Run(tc.name, func(t *testing.T) {
			echo := startTestEcho(t, interopAccepted)
			server := startPeer(t, rt, "server", tc.compress, "--protocol", interopAccepted)
			port := server.expect(t, "listening").Port
			dir := t.TempDir()
			path := writeFile(t, dir, "wasmgate.hcl", fmt.Sprintf(`
listener "main" {
  address = "127.0.0.1:0"
}

upstream "echo" {
  servers = ["ws://%s/"]
}

upstream "peer" {
  servers = ["ws://127.0.0.1:%d/"]
}

route "echo" {
  path     = "/echo/"
  upstream = "echo"
%s
}

route "peer" {
  path     = "/peer/"
  upstream = "peer"
%s
}
`, echo.Addr(), port, tc.route, tc.route))
			p := startProcess(t, bin, "run", "-config", path)
			url := p.stdout.waitFor(t, `listener "main" on (ws://\S+)`)[1]

			t.Run("client to echo", func(t *testing.T) { testPeerClientToEcho(t, rt, tc, url) })
			t.Run("codec client to server", func(t *testing.T) { testCodecClientToPeer(t, server, tc, url) })
			t.Run("client to server", func(t *testing.T) { testPeerClientToPeer(t, rt, server, tc, url) })
		})
	}
}

// testPeerClientToEcho: every message comes back from wasmgate's echo
// server as it was sent, and the client's close gets the echo server's
// answer, which repeats the code without the reason.
func testPeerClientToEcho(t *testing.T, rt interopRuntime, tc interopCase, url string) {
	client := startPeerClient(t, rt, tc, url+"/echo/"+rt.name)
	for _, m := range interopMessages() {
		client.send(t, sendCommand(m))
		client.expectMessage(t, m)
	}
	client.send(t, closeCommand(0, clientCloseCode, clientCloseReason))
	client.expectClose(t, clientCloseCode, "")
}

// testCodecClientToPeer: the codec's client and the runtime's server see
// each other's messages and closes exactly, and each leg's negotiated
// extensions are those of the case.
func testCodecClientToPeer(t *testing.T, server *peer, tc interopCase, url string) {
	t.Run("client closes", func(t *testing.T) {
		c, ext := dialRecorded(t, url+"/peer/codec", tc.compress)
		if ext != tc.clientExtensions {
			t.Errorf("client's extensions %q, want %q", ext, tc.clientExtensions)
		}
		conn := server.expectOpen(t, "/peer/codec", tc.upstreamExtensions[server.runtime])
		for _, m := range interopMessages() {
			if err := c.WriteMessage(m.typ, m.data); err != nil {
				t.Fatal(err)
			}
			server.expectMessage(t, m)
			expectCodecMessage(t, c, m)
		}
		if err := c.WriteClose(clientCloseCode, clientCloseReason); err != nil {
			t.Fatal(err)
		}
		server.expectServerClose(t, conn, clientCloseCode, clientCloseReason)
		// The server answers with the code and reason it got.
		expectCodecClose(t, c, clientCloseCode, clientCloseReason)
	})
	t.Run("server closes", func(t *testing.T) {
		c, _ := dialRecorded(t, url+"/peer/codec", tc.compress)
		conn := server.expectOpen(t, "/peer/codec", tc.upstreamExtensions[server.runtime])
		server.send(t, closeCommand(conn, serverCloseCode, serverCloseReason))
		expectCodecClose(t, c, serverCloseCode, serverCloseReason)
		// The codec answers with the code alone.
		server.expectServerClose(t, conn, serverCloseCode, "")
	})
}

// testPeerClientToPeer: the runtime's client and server, with wasmgate
// between them, see each other's messages and closes exactly.
func testPeerClientToPeer(t *testing.T, rt interopRuntime, server *peer, tc interopCase, url string) {
	t.Run("client closes", func(t *testing.T) {
		client := startPeerClient(t, rt, tc, url+"/peer/"+rt.name)
		conn := server.expectOpen(t, "/peer/"+rt.name, tc.upstreamExtensions[server.runtime])
		for _, m := range interopMessages() {
			client.send(t, sendCommand(m))
			server.expectMessage(t, m)
			client.expectMessage(t, m)
		}
		client.send(t, closeCommand(0, clientCloseCode, clientCloseReason))
		server.expectServerClose(t, conn, clientCloseCode, clientCloseReason)
		client.expectClose(t, clientCloseCode, clientCloseReason)
	})
	t.Run("server closes", func(t *testing.T) {
		client := startPeerClient(t, rt, tc, url+"/peer/"+rt.name)
		conn := server.expectOpen(t, "/peer/"+rt.name, tc.upstreamExtensions[server.runtime])
		server.send(t, closeCommand(conn, serverCloseCode, serverCloseReason))
		client.expectClose(t, serverCloseCode, serverCloseReason)
		server.expectServerClose(t, conn, serverCloseCode, serverCloseReason)
	})
}

// interopMessage is a data message of a test.
type interopMessage struct {
	typ  codec.MessageType
	data []byte
}

func (m interopMessage) String() string {
	return fmt.Sprintf("%v message of %d bytes", m.typ, len(m.data))
}

// interopMessages are the messages each combination sends: text and
// binary, of the sizes around the frame header's length encodings (7-bit,
// 16-bit, 64-bit), one of 1 MiB. Binary payloads from 256 bytes on hold
// every byte value.
func interopMessages() []interopMessage {
	var ms []interopMessage
	for _, n := range []int{0, 1, 125, 126, 64 << 10, 1 << 20} {
		ms = append(ms, interopMessage{codec.Text, interopText(n)}, interopMessage{codec.Binary, interopBinary(n)})
	}
	return ms
}

// interopText is n bytes of valid UTF-8, with characters of one to four
// bytes.
func interopText(n int) []byte {
	runes := []rune("wasmgate ✓ ünïcødé 日本語 🙂 ")
	b := make([]byte, 0, n)
	for i := 0; len(b) < n; i++ {
		r := runes[i%len(runes)]
		if len(b)+utf8.RuneLen(r) > n {
			r = '.'
		}
		b = utf8.AppendRune(b, r)
	}
	return b
}

// interopBinary is n bytes counting 0, 1, ... 255, 0, ...
func interopBinary(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}

// peerEvent is a line a peer script prints (peer.js).
type peerEvent struct {
	Event      string `json:"event"`
	Conn       int    `json:"conn"`
	Port       int    `json:"port"`
	Path       string `json:"path"`
	Protocol   string `json:"protocol"`
	Extensions string `json:"extensions"`
	Type       string `json:"type"`
	Data       []byte `json:"data"` // base64 in JSON
	Code       int    `json:"code"`
	Reason     string `json:"reason"`
	Error      string `json:"error"`
}

func (e peerEvent) String() string {
	if e.Event == "message" {
		return fmt.Sprintf("%s message of %d bytes", e.Type, len(e.Data))
	}
	b, _ := json.Marshal(e)
	return string(b)
}

// peerCommand is a line a peer script reads.
type peerCommand struct {
	Op     string `json:"op"`
	Conn   int    `json:"conn,omitempty"`
	Type   string `json:"type,omitempty"`
	Data   []byte `json:"data"` // base64 in JSON; null for close
	Code   int    `json:"code,omitempty"`
	Reason string `json:"reason,omitempty"`
}

func sendCommand(m interopMessage) peerCommand {
	return peerCommand{Op: "send", Type: messageTypeName(m.typ), Data: m.data}
}

// closeCommand closes a client (conn 0) or a server's connection conn.
func closeCommand(conn, code int, reason string) peerCommand {
	return peerCommand{Op: "close", Conn: conn, Code: code, Reason: reason}
}

func messageTypeName(typ codec.MessageType) string {
	if typ == codec.Text {
		return "text"
	}
	return "binary"
}

// peer is a running peer script.
type peer struct {
	name    string
	runtime string // "node" or "python"
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	events  chan peerEvent // closed when its stdout ends
	stderr  *output
}

// startPeerClient starts the runtime's client, connecting to url, and
// checks its open event.
func startPeerClient(t *testing.T, rt interopRuntime, tc interopCase, url string) *peer {
	t.Helper()
	args := []string{url}
	for _, p := range interopOffered {
		args = append(args, "--protocol", p)
	}
	client := startPeer(t, rt, "client", tc.compress, args...)
	open := client.expect(t, "open")
	if open.Protocol != interopAccepted || open.Extensions != tc.clientExtensions {
		t.Errorf("client's subprotocol %q and extensions %q, want %q and %q",
			open.Protocol, open.Extensions, interopAccepted, tc.clientExtensions)
	}
	return client
}

// startPeer starts the runtime's script role ("client" or "server") with
// args, and --compress if compress. The test's cleanup ends it.
func startPeer(t *testing.T, rt interopRuntime, role string, compress bool, args ...string) *peer {
	t.Helper()
	if compress {
		args = append([]string{"--compress"}, args...)
	}
	script := filepath.Join(interopDir, role+rt.ext)
	p := &peer{
		name:    rt.name + " " + role,
		runtime: rt.name,
		cmd:     exec.Command(rt.command[0], slices.Concat(rt.command[1:], []string{script}, args)...),
		events:  make(chan peerEvent, 64),
		stderr:  newOutput(),
	}
	p.cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	stop := make(chan struct{})
	read := make(chan struct{})
	go func() {
		defer close(read)
		p.readEvents(stdout, stop)
	}()
	t.Cleanup(func() {
		// Closing stdin ends a server; a client has ended by itself,
		// unless the test failed half way.
		p.stdin.Close()
		exited := make(chan struct{})
		go func() {
			<-read // Wait must come after the last read of stdout
			p.cmd.Wait()
			close(exited)
		}()
		close(stop)
		select {
		case <-exited:
		case <-time.After(testTimeout):
			p.cmd.Process.Kill()
			<-exited
		}
	})
	return p
}

// readEvents reads p's events until its stdout ends or stop is closed. A
// line that is not an event is passed on as the event "garbage".
func (p *peer) readEvents(stdout io.Reader, stop <-chan struct{}) {
	defer close(p.events)
	r := bufio.NewReaderSize(stdout, 1<<20)
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var e peerEvent
			if jerr := json.Unmarshal(line, &e); jerr != nil {
				e = peerEvent{Event: "garbage", Error: string(line)}
			}
			select {
			case p.events <- e:
			case <-stop:
				io.Copy(io.Discard, stdout)
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// send writes a command to p.
func (p *peer) send(t *testing.T, cmd peerCommand) {
	t.Helper()
	line, err := json.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.stdin.Write(append(line, '\n')); err != nil {
		t.Fatalf("command to %s: %v; stderr:\n%s", p.name, err, p.stderr)
	}
}

// expect returns p's next event, which must be of the kind event.
func (p *peer) expect(t *testing.T, event string) peerEvent {
	t.Helper()
	select {
	case e, ok := <-p.events:
		if !ok {
			t.Fatalf("%s exited, waiting for its %s event; stderr:\n%s", p.name, event, p.stderr)
		}
		if e.Event != event {
			t.Fatalf("%s: got the event %v, want %s; stderr:\n%s", p.name, e, event, p.stderr)
		}
		return e
	case <-time.After(testTimeout):
		t.Fatalf("%s: no %s event within %v; stderr:\n%s", p.name, event, testTimeout, p.stderr)
		return peerEvent{}
	}
}

// expectMessage checks that p's next event is the message m.
func (p *peer) expectMessage(t *testing.T, m interopMessage) {
	t.Helper()
	e := p.expect(t, "message")
	if e.Type != messageTypeName(m.typ) || !bytes.Equal(e.Data, m.data) {
		t.Fatalf("%s received a %v, want the %v\n%s", p.name, e, m, firstDifference(e.Data, m.data))
	}
}

// expectOpen checks that the server p's next event is the opening of a
// connection for path, with the offered subprotocol it accepts and the
// extensions ext, and returns the connection's id.
func (p *peer) expectOpen(t *testing.T, path, ext string) int {
	t.Helper()
	e := p.expect(t, "open")
	if e.Path != path || e.Protocol != interopAccepted || e.Extensions != ext {
		t.Errorf("%s: connection %d for %q with subprotocol %q and extensions %q, want %q, %q and %q",
			p.name, e.Conn, e.Path, e.Protocol, e.Extensions, path, interopAccepted, ext)
	}
	return e.Conn
}

// expectClose checks that the client p's next event is its close, with
// the code and reason received.
func (p *peer) expectClose(t *testing.T, code int, reason string) {
	t.Helper()
	e := p.expect(t, "close")
	if e.Code != code || e.Reason != reason {
		t.Errorf("%s closed with %d %q, want %d %q", p.name, e.Code, e.Reason, code, reason)
	}
}

// expectServerClose checks that the server p's next event is the close of
// connection conn, with the code and reason received.
func (p *peer) expectServerClose(t *testing.T, conn, code int, reason string) {
	t.Helper()
	e := p.expect(t, "close")
	if e.Conn != conn || e.Code != code || e.Reason != reason {
		t.Errorf("%s: connection %d closed with %d %q, want connection %d with %d %q",
			p.name, e.Conn, e.Code, e.Reason, conn, code, reason)
	}
}

// firstDifference describes where got first differs from want.
func firstDifference(got, want []byte) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("first difference at byte %d: %#x, want %#x", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(got), len(want))
}

// dialRecorded connects the codec's client to url, offering
// interopOffered, checks the subprotocol, and returns the connection and
// the Sec-WebSocket-Extensions header of the 101, which it reads from the
// wire (the Handshake leaves the handshake's own headers out).
func dialRecorded(t *testing.T, url string, compress bool) (*codec.Conn, string) {
	t.Helper()
	var rec *responseRecorder
	d := codec.Dialer{
		Protocols: interopOffered,
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			rec = &responseRecorder{Conn: nc}
			return rec, nil
		},
	}
	if compress {
		d.Compression = &codec.Compression{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, hs, err := d.Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	if hs.Protocol != interopAccepted {
		t.Errorf("codec client's subprotocol %q, want %q", hs.Protocol, interopAccepted)
	}
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(rec.head)), nil)
	if err != nil {
		t.Fatalf("the recorded 101: %v\n%q", err, rec.head)
	}
	return c, resp.Header.Get("Sec-WebSocket-Extensions")
}

// responseRecorder keeps what a client connection reads up to the end of
// the HTTP response head.
type responseRecorder struct {
	net.Conn
	head []byte
	done bool
}

func (r *responseRecorder) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if !r.done {
		r.head = append(r.head, p[:n]...)
		if i := bytes.Index(r.head, []byte("\r\n\r\n")); i >= 0 {
			r.head, r.done = r.head[:i+4], true
		}
	}
	return n, err
}

// expectCodecMessage reads the message m from c.
func expectCodecMessage(t *testing.T, c *codec.Conn, m interopMessage) {
	t.Helper()
	c.NetConn().SetReadDeadline(time.Now().Add(testTimeout))
	typ, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read the echo of the %v: %v", m, err)
	}
	if typ != m.typ || !bytes.Equal(p, m.data) {
		t.Fatalf("codec client received a %v, want the %v\n%s", interopMessage{typ, p}, m, firstDifference(p, m.data))
	}
}

// expectCodecClose reads from c until the peer's close, which must have
// the code and reason.
func expectCodecClose(t *testing.T, c *codec.Conn, code int, reason string) {
	t.Helper()
	c.NetConn().SetReadDeadline(time.Now().Add(testTimeout))
	_, _, err := c.ReadMessage()
	var ce *codec.CloseError
	if !errors.As(err, &ce) || int(ce.Code) != code || ce.Reason != reason {
		t.Errorf("codec client's read ended with %v, want the close %d %q", err, code, reason)
	}
}
