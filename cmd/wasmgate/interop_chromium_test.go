//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

// chromiumPath is Debian's chromium, which .ci/run installs.
const chromiumPath = "/usr/bin/chromium"

// browserTimeout bounds a call into the browser: a page's run of a case
// sends and receives a few MiB through the proxy.
const browserTimeout = 30 * time.Second

// browserCase is a route of the proxy, served on its ws:// and its wss://
// listener, and what a page's WebSocket sees through it.
type browserCase struct {
	name string
	// route is HCL added to the case's routes, beside their path and
	// their upstream, wasmgate's echo server.
	route string
	// sent are the messages the page sends, one at a time, each after the
	// answer to the one before; want are the answers.
	sent, want []interopMessage
	// extensions is the WebSocket's extensions: the Sec-WebSocket-Extensions
	// of the proxy's 101.
	extensions string
	// refused is the HTTP status that refuses the handshake; 0 when it
	// succeeds.
	refused int
}

// The redact filter masks card numbers and e-mail addresses in text
// messages both ways (examples/redact/SPEC.md), and passes binary ones.
var (
	redactInput  = []byte("card 4111 1111 1111 1111, mail jane.doe+x@example.com.")
	redactOutput = []byte("card **** **** **** 1111, mail ***@example.com.")
)

var browserCases = []browserCase{
	{
		name: "echo",
		sent: interopMessages(),
		want: interopMessages(),
	},
	{
		name:       "echo, compressed",
		route:      "compression = true",
		sent:       interopMessages(),
		want:       interopMessages(),
		extensions: noTakeover,
	},
	{
		name:       "echo, compressed with context takeover and a 1 KiB window",
		route:      "compression = true\n  compression_context_takeover = true\n  compression_window_bits = 10",
		sent:       interopMessages(),
		want:       interopMessages(),
		extensions: "permessage-deflate; client_max_window_bits=10",
	},
	{
		name:       "redact filter, compressed",
		route:      "filters = [\"redact\"]\n  compression = true",
		sent:       []interopMessage{{codec.Text, redactInput}, {codec.Binary, redactInput}},
		want:       []interopMessage{{codec.Text, redactOutput}, {codec.Binary, redactInput}},
		extensions: noTakeover,
	},
	{
		name:  "redact filter",
		route: `filters = ["redact"]`,
		sent:  []interopMessage{{codec.Text, redactInput}, {codec.Binary, redactInput}},
		want:  []interopMessage{{codec.Text, redactOutput}, {codec.Binary, redactInput}},
	},
	{
		name:    "auth filter without a token",
		route:   `filters = ["auth"]`,
		refused: http.StatusUnauthorized,
	},
	{
		// A page opened by DevTools on about:blank has an opaque
		// origin: its Origin header is "null".
		name:    "origin not allowed",
		route:   `origins = ["https://chat.example.com"]`,
		refused: http.StatusForbidden,
	},
}

func TestInteropChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a browser")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		skipOrFail(t, "no chromium (.ci/run installs it): %v", err)
	}
	bin := buildWasmgate(t)
	dir := t.TempDir()
	trusted := writeTestCertificate(t, dir, "trusted")
	untrusted := writeTestCertificate(t, dir, "untrusted")
	echo := startTestEcho(t, interopAccepted)
	path := writeFile(t, dir, "wasmgate.hcl", browserConfig(t, echo.Addr().String(), trusted, untrusted))
	p := startProcess(t, bin, "run", "-config", path)
	listeners := map[string]string{}
	for _, name := range []string{"main", "tls", "untrusted"} {
		listeners[name] = p.stdout.waitFor(t, fmt.Sprintf(`listener %q on (wss?://\S+)`, name))[1]
	}

	b := startChromium(t, trusted.spki)
	page := b.newPage(t, "about:blank")
	for i, tc := range browserCases {
		for _, l := range []struct{ scheme, url string }{{"ws", listeners["main"]}, {"wss", listeners["tls"]}} {
			t.Run(l.scheme+"/"+tc.name, func(t *testing.T) {
				url := fmt.Sprintf("%s/case%d/", l.url, i)
				if tc.refused != 0 {
					expectRefusal(t, url, trusted.cert, tc.refused)
				}
				testBrowserCase(t, page, url, tc)
			})
		}
	}
	for _, l := range []struct{ scheme, url string }{{"ws", listeners["main"]}, {"wss", listeners["tls"]}} {
		t.Run(l.scheme+"/console page", func(t *testing.T) {
			testConsolePage(t, b, l.url)
		})
	}
	t.Run("wss with a certificate not trusted", func(t *testing.T) {
		// The browser trusts one key, not every certificate: the listener
		// serves a client that trusts its certificate.
		url := listeners["untrusted"] + "/"
		c, err := dialLikeBrowser(url, untrusted.cert)
		if err != nil {
			t.Fatal(err)
		}
		c.CloseNow()
		testBrowserCase(t, page, url, browserCase{refused: -1})
	})
}

// consoleJS drives the console page (proxy/console/index.html) by its
// element ids: it connects to url, sends a text and a binary message,
// waits for their echoes, closes, and reports what the page shows.
const consoleJS = `async function(url, text) {
  const $ = (id) => document.getElementById(id);
  const until = async (cond) => {
    for (let i = 0; i < 600 && !cond(); i++) await new Promise((r) => setTimeout(r, 50));
    if (!cond()) throw new Error("timed out; the log says: " + ($("log") ? $("log").innerText : "no page"));
  };
  await until(() => document.readyState === "complete" && $("connect"));
  $("url").value = url;
  $("protocols").value = "chat.v2, chat.v1";
  $("connect").click();
  await until(() => $("state").textContent === "open");
  $("message").value = text;
  $("send-text").click();
  $("send-binary").click();
  const received = () => document.querySelectorAll("#log li[data-dir=in]");
  await until(() => received().length === 2);
  const entries = Array.from(received(), (li) => ({type: li.dataset.type, size: Number(li.dataset.size), text: li.firstChild.textContent}));
  $("disconnect").click();
  await until(() => $("state").textContent === "closed");
  return {protocol: $("protocol").textContent, extensions: $("extensions").textContent, close: $("close").textContent, received: entries};
}`

// testConsolePage opens the console page that listenerURL's listener
// serves (http:// for ws://, https:// for wss://) and sends messages
// through it to the compressed echo route of case 1.
func testConsolePage(t *testing.T, b *cdpClient, listenerURL string) {
	t.Helper()
	pageURL := "http" + strings.TrimPrefix(listenerURL, "ws") + "/"
	// Page.navigate answers once the page's document is committed: a
	// script evaluated after it runs in that document, where one
	// evaluated in a tab just created at the URL may find its context
	// destroyed by the navigation.
	page := b.newPage(t, "about:blank")
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	page.c.call(t, page.session, "Page.navigate", map[string]any{"url": pageURL}, &nav)
	if nav.ErrorText != "" {
		t.Fatalf("navigate to %s: %s", pageURL, nav.ErrorText)
	}
	const text = "héllo 🌍 from the console"
	var got struct {
		Protocol, Extensions, Close string
		Received                    []struct {
			Type string
			Size int
			Text string
		}
	}
	// Case 1 is the compressed echo.
	if browserCases[1].extensions != noTakeover {
		t.Fatal("browserCases[1] is not the compressed echo")
	}
	page.call(t, consoleJS, &got, listenerURL+"/case1/", text)
	if got.Protocol != interopAccepted || got.Extensions != noTakeover || got.Close != "1000" {
		t.Errorf("the console shows subprotocol %q, extensions %q and close %q, want %q, %q and 1000",
			got.Protocol, got.Extensions, got.Close, interopAccepted, noTakeover)
	}
	hex := make([]string, 0, len(text))
	for _, c := range []byte(text) {
		hex = append(hex, fmt.Sprintf("%02x", c))
	}
	want := []struct {
		typ, text string
	}{{"text", text}, {"binary", strings.Join(hex, " ")}}
	if len(got.Received) != len(want) {
		t.Fatalf("the console received %+v, want the text and the binary echo", got.Received)
	}
	for i, w := range want {
		if r := got.Received[i]; r.Type != w.typ || r.Size != len(text) || r.Text != w.text {
			t.Errorf("entry %d of the console's log: %+v, want a %s message of %d bytes showing %q", i, r, w.typ, len(text), w.text)
		}
	}
}

// browserConfig is the proxy's configuration for browserCases: a ws://
// listener "main", a wss:// one "tls" with the trusted certificate, and
// another, "untrusted", with the untrusted one. Case i has a route for the
// path /casei/ on "main" and on "tls".
func browserConfig(t *testing.T, echoAddr string, trusted, untrusted testCertificate) string {
	t.Helper()
	redact, err := filepath.Abs("../../examples/redact/go/redact.wasm")
	if err != nil {
		t.Fatal(err)
	}
	auth, err := filepath.Abs("../../examples/auth/auth.wasm")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `
listener "main" {
  address = "127.0.0.1:0"
  console = true
}

listener "tls" {
  address = "127.0.0.1:0"
  console = true
  tls {
    cert_file = %q
    key_file  = %q
  }
}

listener "untrusted" {
  address = "127.0.0.1:0"
  tls {
    cert_file = %q
    key_file  = %q
  }
}

upstream "echo" {
  servers = ["ws://%s/"]
}

# Go guests: a garbage collection can pause a call for tens of
# milliseconds, and the machine is shared.
plugin "redact" {
  wasm         = %q
  instances    = 1
  timeout      = "1s"
  memory_limit = "32MiB"
}

plugin "auth" {
  wasm      = %q
  instances = 1
  timeout   = "1s"
  config    = { secret = "0123456789abcdef0123456789abcdef" }
}

route "untrusted" {
  listener = "untrusted"
  upstream = "echo"
}
`, trusted.certFile, trusted.keyFile, untrusted.certFile, untrusted.keyFile, echoAddr, redact, auth)
	for i, tc := range browserCases {
		for _, l := range []string{"main", "tls"} {
			fmt.Fprintf(&b, "\nroute \"case%d-%s\" {\n  listener = %q\n  path     = \"/case%d/\"\n  upstream = \"echo\"\n  %s\n}\n",
				i, l, l, i, tc.route)
		}
	}
	return b.String()
}

// expectRefusal checks that the proxy refuses a handshake like the
// browser's with the status want: the browser itself only sees that the
// connection failed.
func expectRefusal(t *testing.T, url string, cert *x509.Certificate, want int) {
	t.Helper()
	c, err := dialLikeBrowser(url, cert)
	if err == nil {
		c.CloseNow()
		t.Fatalf("the proxy accepted a handshake for %s, want the status %d", url, want)
	}
	var se *codec.StatusError
	if !errors.As(err, &se) || se.Status != want {
		t.Fatalf("dial %s: %v, want the status %d", url, err, want)
	}
}

// dialLikeBrowser connects the codec's client to url with the Origin and
// subprotocols of the page's WebSocket, trusting cert for wss.
func dialLikeBrowser(url string, cert *x509.Certificate) (*codec.Conn, error) {
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	d := codec.Dialer{
		Header:    http.Header{"Origin": {"null"}},
		Protocols: interopOffered,
		TLSConfig: &tls.Config{RootCAs: roots},
	}
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, _, err := d.Dial(ctx, url)
	return c, err
}

// browserReport is what the page's script (browserWebSocketJS) returns.
type browserReport struct {
	Opened     bool             `json:"opened"`
	Error      bool             `json:"error"`
	Protocol   string           `json:"protocol"`
	Extensions string           `json:"extensions"`
	Received   []browserMessage `json:"received"`
	Close      *browserClose    `json:"close"`
	Unexpected string           `json:"unexpected,omitempty"`
}

// browserMessage is a message the page sends, or one it received.
type browserMessage struct {
	Type string `json:"type"`
	Data []byte `json:"data"` // base64 in JSON
}

// browserClose is the WebSocket's close event.
type browserClose struct {
	Code     int    `json:"code"`
	Reason   string `json:"reason"`
	WasClean bool   `json:"wasClean"`
}

// testBrowserCase runs tc in page against url. A case with refused set
// (-1 for a failure other than an HTTP status) must see the WebSocket
// fail without opening: an error event, then the close 1006.
func testBrowserCase(t *testing.T, page *cdpPage, url string, tc browserCase) {
	t.Helper()
	sent := []browserMessage{}
	for _, m := range tc.sent {
		sent = append(sent, browserMessage{messageTypeName(m.typ), m.data})
	}
	var got browserReport
	page.call(t, browserWebSocketJS, &got, url, interopOffered, sent, browserClose{Code: clientCloseCode, Reason: clientCloseReason})

	want := browserReport{
		Opened:     true,
		Protocol:   interopAccepted,
		Extensions: tc.extensions,
		// The echo server answers the page's close with its code alone.
		Close: &browserClose{Code: clientCloseCode, WasClean: true},
	}
	if tc.refused != 0 {
		want = browserReport{Error: true, Close: &browserClose{Code: 1006}}
	}
	if got.Opened != want.Opened || got.Error != want.Error || got.Protocol != want.Protocol ||
		got.Extensions != want.Extensions || got.Unexpected != "" || got.Close == nil || *got.Close != *want.Close {
		got.Received = nil // reported below
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("the page's WebSocket to %s saw %s, want %s", url, g, w)
	}
	for i, m := range tc.want {
		if i >= len(got.Received) {
			t.Errorf("the page received %d messages, want %d", len(got.Received), len(tc.want))
			break
		}
		if r := got.Received[i]; r.Type != messageTypeName(m.typ) || !bytes.Equal(r.Data, m.data) {
			t.Errorf("message %d: the page received a %s message of %d bytes, want the %v\n%s",
				i, r.Type, len(r.Data), m, firstDifference(r.Data, m.data))
		}
	}
	if len(got.Received) > len(tc.want) {
		t.Errorf("the page received %d messages, want %d", len(got.Received), len(tc.want))
	}
}

// browserWebSocketJS opens a WebSocket to url offering protocols, sends
// each message once the previous one's answer has arrived, then closes
// with close.code and close.reason. It reports what it saw: whether it
// opened, its protocol and extensions, each message received (its type
// and its bytes, UTF-8 for text, in base64), whether an error event fired,
// and the close event; unexpected names an event that came where
// another was due (a timeout after 8s counts as one).
const browserWebSocketJS = `async (url, protocols, messages, close) => {
  const decode = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const encode = (bytes) => {
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) {
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    }
    return btoa(s);
  };
  const report = { opened: false, error: false, protocol: '', extensions: '', received: [], close: null };
  const events = [];
  let wake = null;
  const push = (e) => { events.push(e); if (wake) wake(); };
  const next = () => new Promise((resolve) => {
    if (events.length > 0) { resolve(events.shift()); return; }
    const timer = setTimeout(() => { wake = null; resolve({ kind: 'timeout' }); }, 8000);
    wake = () => { clearTimeout(timer); wake = null; resolve(events.shift()); };
  });

  const ws = new WebSocket(url, protocols);
  ws.binaryType = 'arraybuffer';
  ws.onopen = () => push({ kind: 'open' });
  ws.onmessage = (e) => push({ kind: 'message', data: e.data });
  ws.onerror = () => { report.error = true; };
  ws.onclose = (e) => push({ kind: 'close', code: e.code, reason: e.reason, wasClean: e.wasClean });

  let e = await next();
  if (e.kind === 'open') {
    report.opened = true;
    report.protocol = ws.protocol;
    report.extensions = ws.extensions;
    for (const m of messages) {
      const bytes = decode(m.data || '');
      ws.send(m.type === 'text' ? new TextDecoder().decode(bytes) : bytes);
      e = await next();
      if (e.kind !== 'message') break;
      const text = typeof e.data === 'string';
      const got = text ? new TextEncoder().encode(e.data) : new Uint8Array(e.data);
      report.received.push({ type: text ? 'text' : 'binary', data: encode(got) });
    }
    if (e.kind === 'open' || e.kind === 'message') {
      ws.close(close.code, close.reason);
      e = await next();
    }
  }
  if (e.kind === 'close') {
    report.close = { code: e.code, reason: e.reason, wasClean: e.wasClean };
  } else {
    report.unexpected = e.kind;
    ws.close();
  }
  return report;
}`

// testCertificate is a self-signed certificate for 127.0.0.1, in PEM
// files.
type testCertificate struct {
	certFile, keyFile string
	cert              *x509.Certificate
	// spki is the base64 of the SHA-256 of its public key (its
	// SubjectPublicKeyInfo), as --ignore-certificate-errors-spki-list
	// takes it.
	spki string
}

// writeTestCertificate makes a key and a certificate for 127.0.0.1 and
// localhost, valid for a day, and writes them to name.crt and name.key in
// dir.
func writeTestCertificate(t *testing.T, dir, name string) testCertificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: "wasmgate interop test " + name},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return testCertificate{
		certFile: writeFile(t, dir, name+".crt", string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))),
		keyFile:  writeFile(t, dir, name+".key", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))),
		cert:     cert,
		spki:     base64.StdEncoding.EncodeToString(sum[:]),
	}
}

// startChromium starts headless Chromium, trusting certificates with the
// public key whose SPKI hash is spki, and connects to its DevTools. The
// test's cleanup kills the browser with every process it started.
func startChromium(t *testing.T, spki string) *cdpClient {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(chromiumPath,
		"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-quic",
		"--remote-debugging-port=0", "--user-data-dir="+dir,
		"--ignore-certificate-errors-spki-list="+spki,
		"about:blank")
	// Its own process group, so that the cleanup reaches the renderers
	// and helpers too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := newOutput()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		// Whatever is left of it after Browser.close below.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
		// Processes that outlived the browser are reaped by init: wait
		// for that, a while, so that none is left when the test ends.
		for deadline := time.Now().Add(testTimeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if syscall.Kill(-cmd.Process.Pid, 0) == syscall.ESRCH {
				return
			}
		}
		t.Logf("chromium's process group %d outlived the test", cmd.Process.Pid)
	})

	// Chromium writes its DevTools port and path, one a line, once it
	// listens.
	portFile := filepath.Join(dir, "DevToolsActivePort")
	deadline := time.After(testTimeout)
	for {
		if b, err := os.ReadFile(portFile); err == nil {
			if lines := strings.Fields(string(b)); len(lines) == 2 {
				c := dialCDP(t, "ws://127.0.0.1:"+lines[0]+lines[1])
				t.Cleanup(func() { c.closeBrowser(exited) })
				return c
			}
		}
		select {
		case <-exited:
			t.Fatalf("chromium exited before it listened; output:\n%s", out)
		case <-deadline:
			t.Fatalf("no %s within %v; chromium's output:\n%s", portFile, testTimeout, out)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// cdpClient speaks the Chrome DevTools Protocol, JSON over a WebSocket,
// with the codec's client. It only makes calls: events are dropped.
type cdpClient struct {
	conn *codec.Conn
	done chan struct{} // closed when reading ends
	err  error         // why reading ended; read after done

	mu     sync.Mutex
	lastID int
	calls  map[int]chan cdpMessage
}

// cdpMessage is a message from the browser: a call's response (ID set)
// or an event.
type cdpMessage struct {
	ID     int             `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// dialCDP connects to the browser's DevTools WebSocket at url. The test's
// cleanup closes the connection.
func dialCDP(t *testing.T, url string) *cdpClient {
	t.Helper()
	c := &cdpClient{conn: dial(t, url), done: make(chan struct{}), calls: map[int]chan cdpMessage{}}
	go c.readResponses()
	t.Cleanup(func() {
		c.conn.CloseNow()
		<-c.done
	})
	return c
}

// readResponses hands each response to its call, until the connection
// ends.
func (c *cdpClient) readResponses() {
	defer close(c.done)
	for {
		_, p, err := c.conn.ReadMessage()
		if err != nil {
			c.err = err
			return
		}
		var m cdpMessage
		if err := json.Unmarshal(p, &m); err != nil {
			c.err = fmt.Errorf("a DevTools message: %w", err)
			return
		}
		c.mu.Lock()
		call := c.calls[m.ID]
		delete(c.calls, m.ID)
		c.mu.Unlock()
		if call != nil {
			call <- m
		}
	}
}

// call calls method with params in the session (the browser's own when
// ""), and decodes the result into result, if not nil.
func (c *cdpClient) call(t *testing.T, session, method string, params, result any) {
	t.Helper()
	call := make(chan cdpMessage, 1)
	c.mu.Lock()
	c.lastID++
	id := c.lastID
	c.calls[id] = call
	c.mu.Unlock()
	req, err := json.Marshal(struct {
		ID        int    `json:"id"`
		SessionID string `json:"sessionId,omitempty"`
		Method    string `json:"method"`
		Params    any    `json:"params"`
	}{id, session, method, params})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.conn.WriteMessage(codec.Text, req); err != nil {
		t.Fatalf("DevTools %s: %v", method, err)
	}
	select {
	case m := <-call:
		if m.Error != nil {
			t.Fatalf("DevTools %s: error %d: %s", method, m.Error.Code, m.Error.Message)
		}
		if result != nil {
			if err := json.Unmarshal(m.Result, result); err != nil {
				t.Fatalf("DevTools %s: %v in %s", method, err, m.Result)
			}
		}
	case <-c.done:
		t.Fatalf("DevTools %s: the connection ended: %v", method, c.err)
	case <-time.After(browserTimeout):
		t.Fatalf("DevTools %s: no response within %v", method, browserTimeout)
	}
}

// closeBrowser asks the browser to exit, which it does after ending the
// processes it started, and waits until exited is closed, for a while.
func (c *cdpClient) closeBrowser(exited <-chan struct{}) {
	c.mu.Lock()
	c.lastID++
	id := c.lastID
	c.mu.Unlock()
	// The browser may exit before it answers: the answer is not waited for.
	c.conn.WriteMessage(codec.Text, fmt.Appendf(nil, `{"id":%d,"method":"Browser.close"}`, id))
	select {
	case <-exited:
	case <-time.After(testTimeout):
	}
}

// cdpPage is a browser tab, attached to a session of the client.
type cdpPage struct {
	c       *cdpClient
	session string
}

// newPage opens a tab on url and attaches to it.
func (c *cdpClient) newPage(t *testing.T, url string) *cdpPage {
	t.Helper()
	var target struct {
		TargetID string `json:"targetId"`
	}
	c.call(t, "", "Target.createTarget", map[string]any{"url": url}, &target)
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	c.call(t, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	return &cdpPage{c: c, session: attached.SessionID}
}

// call calls the JavaScript function fn (its source) in the page with
// args, each passed as JSON, awaits the promise it returns and decodes the
// value into result.
func (p *cdpPage) call(t *testing.T, fn string, result any, args ...any) {
	t.Helper()
	var expr strings.Builder
	fmt.Fprintf(&expr, "(%s)(", fn)
	for i, a := range args {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			expr.WriteString(", ")
		}
		expr.Write(b)
	}
	expr.WriteString(")")
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	p.c.call(t, p.session, "Runtime.evaluate", map[string]any{
		"expression":    expr.String(),
		"awaitPromise":  true,
		"returnByValue": true,
	}, &r)
	if d := r.ExceptionDetails; d != nil {
		t.Fatalf("the page threw: %s %s", d.Text, d.Exception.Description)
	}
	if err := json.Unmarshal(r.Result.Value, result); err != nil {
		t.Fatalf("the page returned %s: %v", r.Result.Value, err)
	}
}
