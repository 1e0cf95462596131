package conformance

import (
	"bufio"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// gorillaFailures are the cases that a strict echo server built on
// gorilla/websocket v1.5.3 fails, and why. Each is a real deviation of
// gorilla from RFC 6455, so each proves that its case can fail.
var gorillaFailures = map[string]string{
	"1.4.5":  "gorilla closes the TCP connection without a close frame when a 64-bit length has its most significant bit set (it takes the negative length for a read limit error)",
	"7.3.2":  "gorilla takes a 1-byte close payload for a close without a code and answers with an empty close instead of 1002",
	"7.7.12": "gorilla's list of valid codes lacks 1014 (Bad Gateway, registered with IANA), so it answers close 1014 with 1002",
	"7.5.1":  "gorilla answers a close reason that is not UTF-8 with 1002 instead of 1007",
	"7.5.2":  "gorilla answers a close reason that is not UTF-8 with 1002 instead of 1007",
}

// laxFailures are the cases that the lax echo server fails besides
// gorillaFailures: it neither checks the UTF-8 of text messages (gorilla
// does not) nor enforces the MaxMessageSize it is announced with.
var laxFailures = regexp.MustCompile(`^(6\.3\.\d+|6\.4\.\d+|10\.1\.[3-6])$`)

// TestRun_GorillaStrict runs the suite against a strict echo server built on
// gorilla/websocket and checks that exactly the cases in gorillaFailures
// fail.
func TestRun_GorillaStrict(t *testing.T) {
	addr := startEchoServer(t, echoConfig{checkUTF8: true, readLimit: 16 << 20})
	known := expectFailures(t, func(id string) string { return gorillaFailures[id] })
	run(t, Target{Addr: addr, MaxMessageSize: 16 << 20}, Cases(), known.verdict)
	known.checkAllJudged(t)
}

// TestRun_GorillaLax runs the suite against an echo server that checks
// neither UTF-8 nor its announced message size limit, and checks that the
// UTF-8 and limit cases catch it.
func TestRun_GorillaLax(t *testing.T) {
	addr := startEchoServer(t, echoConfig{})
	known := expectFailures(t, func(id string) string {
		if r, ok := gorillaFailures[id]; ok {
			return r
		}
		if laxFailures.MatchString(id) {
			return "the lax server checks neither UTF-8 nor its limit"
		}
		return ""
	})
	run(t, Target{Addr: addr, MaxMessageSize: 1 << 20}, Cases(), known.verdict)
	known.checkAllJudged(t)
}

// knownFailures judges cases against a list of those expected to fail.
type knownFailures struct {
	reason func(id string) string // why case id fails, "" if it must pass
	mu     sync.Mutex
	judged map[string]bool
}

func expectFailures(t *testing.T, reason func(id string) string) *knownFailures {
	t.Helper()
	k := &knownFailures{reason: reason, judged: make(map[string]bool)}
	for id := range gorillaFailures {
		if !hasCase(id) {
			t.Fatalf("gorillaFailures lists case %s, which does not exist", id)
		}
	}
	return k
}

func (k *knownFailures) verdict(t *testing.T, c Case, err error) {
	k.mu.Lock()
	k.judged[c.ID] = true
	k.mu.Unlock()
	reason := k.reason(c.ID)
	switch {
	case reason != "" && err == nil:
		t.Errorf("case %s passed, but is listed as failing (%s): either the case cannot fail or the list is out of date", c.ID, reason)
	case reason != "":
		t.Logf("fails as expected (%s):\n%v", reason, err)
	case err != nil:
		t.Error(err)
	}
}

// checkAllJudged fails if an expected failure was not run (skipped, or
// filtered out): it would then prove nothing. Filtering with -run is
// allowed.
func (k *knownFailures) checkAllJudged(t *testing.T) {
	t.Helper()
	if strings.Contains(flagValue("test.run"), "/") {
		return
	}
	for _, c := range Cases() {
		if k.reason(c.ID) != "" && !k.judged[c.ID] {
			t.Errorf("case %s is listed as failing but was not run", c.ID)
		}
	}
}

func hasCase(id string) bool {
	for _, c := range Cases() {
		if c.ID == id {
			return true
		}
	}
	return false
}

func flagValue(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// TestRun_DetectsWrongEcho checks that a wrong byte in an echo fails a
// case, and that the failure says where.
func TestRun_DetectsWrongEcho(t *testing.T) {
	addr := startEchoServer(t, echoConfig{mutate: func(p []byte) {
		if len(p) > 0 {
			p[len(p)-1] ^= 0x20
		}
	}})
	want := map[string]string{
		"1.1.2": "got text message of 125 bytes \"wasmgate ✓ κόσμε \"... that differs from byte 124 on (0x10 instead of 0x30)",
		"9.2.1": "that differs from byte 65535 on",
		"5.4":   "expected text message of 18 bytes \"fragment1fragment2\", got text message of 18 bytes \"fragment1fragment\\x12\" that differs from byte 17 on (0x12 instead of 0x32)",
	}
	run(t, Target{Addr: addr}, casesByID(t, "1.1.2", "9.2.1", "5.4"), mustFailWith(want))
}

// TestRun_DetectsBrokenServer checks that the harness reads the server's
// frames strictly, and checks the server's close frame and what follows it.
// The server writes the given bytes right after the handshake, then closes.
func TestRun_DetectsBrokenServer(t *testing.T) {
	const helloEcho, closeEcho = "1.3.2", "7.3.3"
	for _, tc := range []struct {
		name  string
		reply string
		id    string
		want  string
	}{
		{"masked frame", "\x81\x81\x01\x02\x03\x04\x79", helloEcho, "masked text frame; a server must not mask"},
		{"RSV bit", "\xc1\x00", helloEcho, "text frame with RSV bits 100 set"},
		{"reserved opcode", "\x83\x00", helloEcho, "frame with reserved opcode 3"},
		{"non-minimal length", "\x81\x7e\x00\x0dHello, world!", helloEcho, "length 13 in the 16-bit form"},
		{"continuation without message", "\x80\x00", helloEcho, "continuation frame with no message started"},
		{"fragmented ping", "\x09\x00", helloEcho, "fragmented ping frame"},
		{"message inside a message", "\x01\x01a\x81\x00", helloEcho, "text frame while a fragmented text message is unfinished"},
		{"pong instead of echo", "\x8a\x00", helloEcho, "got pong with payload \"\""},
		{"binary instead of text", "\x82\x0dHello, world!", helloEcho, "got binary message of 13 bytes"},
		{"truncated frame", "\x81\x0dHello", helloEcho, "got the TCP connection closed inside a text frame, after 5 of its 13 payload bytes"},
		{"truncated header", "\x81\x7e\x01", helloEcho, "got the TCP connection closed inside a frame header"},
		{"close instead of echo", "\x88\x02\x03\xe8", helloEcho, "got close 1000"},
		{"TCP close instead of close", "", closeEcho, "expected close 1000, got the TCP connection closed (EOF) without a close frame"},
		{"close 1005 on the wire", "\x88\x02\x03\xed", closeEcho, "close frame with code 1005, which must not be sent"},
		{"1-byte close", "\x88\x01\x03", closeEcho, "close frame with a 1-byte payload"},
		{"close reason not UTF-8", "\x88\x04\x03\xe8\xff\xfe", closeEcho, "close reason ff fe is not UTF-8"},
		{"wrong close code", "\x88\x02\x03\xe9", closeEcho, "expected close 1000, got close 1001"},
		{"data after close", "\x88\x02\x03\xe8\x81\x00", closeEcho, "but it sent 2 bytes more"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startServer(t, func(c *websocket.Conn) {
				nc := c.NetConn()
				io.WriteString(nc, tc.reply)
				lingeringClose(nc)
			})
			run(t, Target{Addr: addr}, casesByID(t, tc.id), mustFailWith(map[string]string{tc.id: tc.want}))
		})
	}
}

// mustFailWith is a verdict that requires each case to fail with an error
// that contains want[case ID].
func mustFailWith(want map[string]string) verdict {
	return func(t *testing.T, c Case, err error) {
		switch {
		case err == nil:
			t.Errorf("case %s passed, want a failure with %q", c.ID, want[c.ID])
		case !strings.Contains(err.Error(), want[c.ID]):
			t.Errorf("case %s failed with\n%v\nwant an error with %q", c.ID, err, want[c.ID])
		}
	}
}

func casesByID(t *testing.T, ids ...string) []Case {
	t.Helper()
	var cs []Case
	for _, id := range ids {
		if !hasCase(id) {
			t.Fatalf("no case %s", id)
		}
		for _, c := range Cases() {
			if c.ID == id {
				cs = append(cs, c)
			}
		}
	}
	return cs
}

// TestCases_Table checks the case table: unique, well-formed IDs in
// ascending order, and a name and a Run for each.
func TestCases_Table(t *testing.T) {
	well := regexp.MustCompile(`^\d+(\.\d+)+$`)
	seen := make(map[string]bool)
	var prev []int
	for _, c := range Cases() {
		if !well.MatchString(c.ID) || c.Name == "" || c.Run == nil {
			t.Errorf("case %q %q: malformed", c.ID, c.Name)
		}
		if seen[c.ID] {
			t.Errorf("case %s: duplicate ID", c.ID)
		}
		seen[c.ID] = true
		cur := idNumbers(c.ID)
		if prev != nil && !idLess(prev, cur) {
			t.Errorf("case %s: out of order", c.ID)
		}
		prev = cur
	}
}

func idNumbers(id string) []int {
	var ns []int
	for p := range strings.SplitSeq(id, ".") {
		n := 0
		for _, r := range p {
			n = n*10 + int(r-'0')
		}
		ns = append(ns, n)
	}
	return ns
}

func idLess(a, b []int) bool {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

// TestContent_Text checks that generated text is valid UTF-8 of exactly the
// asked size, and that content read in pieces equals content made at once.
func TestContent_Text(t *testing.T) {
	for _, op := range []Opcode{OpText, OpBinary} {
		for n := range int64(300) {
			checkContent(t, op, n)
		}
		checkContent(t, op, 65536)
		checkContent(t, op, 1<<20+1)
	}
}

func checkContent(t *testing.T, op Opcode, n int64) {
	t.Helper()
	c := newContent(op, n)
	whole := c.bytes()
	if int64(len(whole)) != n || (op == OpText && !utf8.Valid(whole)) {
		t.Fatalf("%s content of %d bytes: got %d bytes, valid UTF-8 %v", op, n, len(whole), utf8.Valid(whole))
	}
	var pieces []byte
	r := &contentReader{c: c}
	buf := make([]byte, 7)
	for {
		k, err := r.Read(buf)
		pieces = append(pieces, buf[:k]...)
		if err == io.EOF {
			break
		}
	}
	if string(pieces) != string(whole) {
		t.Fatalf("%s content of %d bytes: read in pieces differs from whole", op, n)
	}
}

// TestDial_Handshake checks that the harness refuses a bad 101 response.
func TestDial_Handshake(t *testing.T) {
	for _, tc := range []struct {
		name     string
		response func(key string) string
		want     string
	}{
		{"wrong accept", func(string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
		}, "Sec-WebSocket-Accept"},
		{"extension not offered", func(key string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(key) + "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
		}, "extensions"},
		{"200 instead of 101", func(string) string {
			return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
		}, "want 101"},
		{"no Upgrade header", func(key string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(key) + "\r\n\r\n"
		}, "Upgrade"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startRawServer(t, tc.response)
			s, err := dial(Target{Addr: addr}, "", time.Now().Add(5*time.Second))
			if err == nil {
				s.close()
				t.Fatal("handshake succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("handshake error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// startRawServer answers the first request on each connection with
// response(its Sec-WebSocket-Key).
func startRawServer(t *testing.T, response func(key string) string) string {
	t.Helper()
	return startTCPServer(t, func(c net.Conn) {
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		io.WriteString(c, response(req.Header.Get("Sec-WebSocket-Key")))
	})
}

// startTCPServer listens on loopback until the test ends, serving each
// connection with serve in a goroutine of its own, and returns the address.
func startTCPServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	return ln.Addr().String()
}

// echoConfig makes the test echo server strict or lax.
type echoConfig struct {
	checkUTF8 bool  // close with 1007 on a text message that is not UTF-8
	readLimit int64 // gorilla's read limit (0: none)
	compress  bool  // negotiate permessage-deflate

	mutate func(p []byte) // changes each message before it is echoed
}

// startEchoServer starts an echo server built on gorilla/websocket on
// loopback and returns its address.
func startEchoServer(t *testing.T, cfg echoConfig) string {
	t.Helper()
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }, EnableCompression: cfg.compress}
	return startServerWith(t, &up, func(c *websocket.Conn) { serveEcho(c, cfg) })
}

// startServer starts a WebSocket server on loopback that serves each
// connection with serve, and returns its address.
func startServer(t *testing.T, serve func(c *websocket.Conn)) string {
	t.Helper()
	return startServerWith(t, &websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}, serve)
}

// startServerWith is startServer with the upgrader up.
func startServerWith(t *testing.T, up *websocket.Upgrader, serve func(c *websocket.Conn)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		serve(c)
	}))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// serveEcho echoes messages until gorilla reports an error. Gorilla itself
// answers pings, echoes a close, and sends 1002 or 1009 when it fails a
// frame.
func serveEcho(c *websocket.Conn, cfg echoConfig) {
	defer lingeringClose(c.NetConn())
	if cfg.readLimit > 0 {
		c.SetReadLimit(cfg.readLimit)
	}
	for {
		mt, p, err := c.ReadMessage()
		if err != nil {
			return
		}
		if cfg.checkUTF8 && mt == websocket.TextMessage && !utf8.Valid(p) {
			// A generous deadline: on a loaded machine a second (gorilla's
			// own choice for the closes it sends) has been seen to pass.
			c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseInvalidFramePayloadData, ""), time.Now().Add(10*time.Second))
			return
		}
		if cfg.mutate != nil {
			cfg.mutate(p)
		}
		if err := c.WriteMessage(mt, p); err != nil {
			return
		}
	}
}

// lingeringClose closes nc as a careful server does: it sends FIN, then
// reads and drops what the client still sends (its close frame, the rest of
// a refused message) until the client closes too. Closing a socket with
// unread data would reset the connection instead.
func lingeringClose(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
	nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, nc)
	nc.Close()
}

// gorillaCompressionFailures says why gorilla/websocket v1.5.3, with
// compression on, fails a compression case, or returns "". Each is a real
// deviation from RFC 7692 (or, for invalid DEFLATE data, gorilla leaving
// the close to an application that, like its examples, does not send one),
// so each proves that its case can fail.
func gorillaCompressionFailures(id string) string {
	switch {
	case id == "12.8.1" || id == "12.8.2" || id == "12.8.3":
		return "gorilla does not check RSV1 on control frames and continuation frames (RFC 7692 §6.1)"
	case id == "12.8.6" || id == "12.8.7":
		return "gorilla hands the flate error to the application, which closes without a close frame"
	case id == "12.8.9":
		return "gorilla's read limit counts compressed bytes, so 106 KB on the wire inflate past its 16 MiB limit"
	case regexp.MustCompile(`^13\.(8|9|10|11)\.\d+$|^13\.13\.2$`).MatchString(id):
		return "gorilla answers every offer with server_no_context_takeover; client_no_context_takeover and ignores an offered server_max_window_bits (RFC 7692 §7.1.2.1)"
	case strings.HasPrefix(id, "13.12."):
		return "gorilla accepts permessage-deflate whatever its parameters instead of declining an invalid offer (RFC 7692 §5)"
	}
	return ""
}

// TestRun_GorillaCompression runs the compression cases against a strict
// echo server built on gorilla/websocket with compression on, and checks
// that exactly the cases that gorillaCompressionFailures names fail. Those
// that pass include every echo with the parameters gorilla accepts: its
// compress/flate data is checked by the harness's own decoder.
func TestRun_GorillaCompression(t *testing.T) {
	addr := startEchoServer(t, echoConfig{checkUTF8: true, readLimit: 16 << 20, compress: true})
	cases := CompressionCases()
	known := expectFailures(t, gorillaCompressionFailures)
	run(t, Target{Addr: addr, MaxMessageSize: 16 << 20, Compression: true}, cases, known.verdict)
	known.checkAllJudged(t)
}
