package codec

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// Real opening handshakes, as the browsers send them.
const (
	chromeRequest = "GET /chat?room=1 HTTP/1.1\r\n" +
		"Host: example.com:8080\r\n" +
		"Connection: Upgrade\r\n" +
		"Pragma: no-cache\r\n" +
		"Cache-Control: no-cache\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n" +
		"Upgrade: websocket\r\n" +
		"Origin: http://example.com:8080\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"Accept-Encoding: gzip, deflate, br, zstd\r\n" +
		"Accept-Language: en-US,en;q=0.9\r\n" +
		"Cookie: session=4f2a; theme=dark\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
		"Sec-WebSocket-Protocol: chat, superchat\r\n" +
		"\r\n"
	firefoxRequest = "GET /chat HTTP/1.1\r\n" +
		"Host: example.com:8080\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0\r\n" +
		"Accept: */*\r\n" +
		"Accept-Language: en-US,en;q=0.5\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\n" +
		"Sec-WebSocket-Version: 13\r\n" +
		"Origin: http://example.com:8080\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate\r\n" +
		"Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n" +
		"DNT: 1\r\n" +
		"Connection: keep-alive, Upgrade\r\n" +
		"Sec-Fetch-Dest: empty\r\n" +
		"Sec-Fetch-Mode: websocket\r\n" +
		"Sec-Fetch-Site: same-origin\r\n" +
		"Pragma: no-cache\r\n" +
		"Cache-Control: no-cache\r\n" +
		"Upgrade: websocket\r\n" +
		"\r\n"
)

// minimalRequest is the smallest valid upgrade request; the cases below
// spoil it one way each.
const minimalRequest = "GET /chat HTTP/1.1\r\n" +
	"Host: example.com\r\n" +
	"Upgrade: websocket\r\n" +
	"Connection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Sec-WebSocket-Version: 13\r\n" +
	"\r\n"

// upgradeRaw sends request over an in-memory pipe to u.Upgrade, in writes
// of chunk bytes (all at once if 0), and returns what the client read until
// the server closed, and Upgrade's error.
func upgradeRaw(t *testing.T, u *Upgrader, request string, chunk int) (string, error) {
	t.Helper()
	client, server := net.Pipe()
	defer client.Close()
	errc := make(chan error, 1)
	go func() {
		c, _, err := u.Upgrade(server)
		if c != nil {
			c.CloseNow()
		} else {
			server.Close()
		}
		errc <- err
	}()
	// The server may refuse before it has read the whole request: the
	// write then fails with the pipe closed, which is fine.
	go writeChunks(client, request, chunk)
	// A bound for a broken server, not a timing assertion.
	client.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // a failed deadline shows as a failed read
	resp, err := io.ReadAll(client)
	if err != nil {
		t.Fatalf("reading the answer: %v (got %q)", err, resp)
	}
	return string(resp), <-errc
}

// writeChunks writes s to w in pieces of chunk bytes, or whole if chunk is
// 0, until a write fails.
func writeChunks(w io.Writer, s string, chunk int) {
	if chunk <= 0 {
		chunk = len(s)
	}
	for len(s) > 0 {
		n := min(chunk, len(s))
		if _, err := io.WriteString(w, s[:n]); err != nil {
			return
		}
		s = s[n:]
	}
}

func TestUpgrader_Upgrade_Strict(t *testing.T) {
	replace := func(old, new string) string {
		if !strings.Contains(minimalRequest, old) {
			panic("test case: no " + old)
		}
		return strings.Replace(minimalRequest, old, new, 1)
	}
	addHeader := func(line string) string { return replace("\r\n\r\n", "\r\n"+line+"\r\n\r\n") }
	tests := []struct {
		name    string
		request string
		status  string // status line's code and reason
		body    string // a substring of the body; "" to skip
	}{
		{"two Host headers", addHeader("Host: evil.example"), "400 Bad Request", "Host"},
		{"two equal Host headers", addHeader("Host: example.com"), "400 Bad Request", "Host"},
		{"empty Host", replace("Host: example.com", "Host:"), "400 Bad Request", "Host"},
		{"blank Host", replace("Host: example.com", "Host:  \t "), "400 Bad Request", "Host"},
		{"space inside Host", replace("Host: example.com", "Host: example.com evil.example"), "400 Bad Request", "Host"},
		{"tab inside Host", replace("Host: example.com", "Host: example.com\tevil"), "400 Bad Request", "Host"},
		{"two Upgrade headers", addHeader("Upgrade: websocket"), "400 Bad Request", "Upgrade"},
		{"Connection without upgrade", replace("Connection: Upgrade", "Connection: keep-alive"), "400 Bad Request", "Connection"},
		{"second Connection without upgrade", addHeader("Connection: close"), "400 Bad Request", "Connection"},
		{"two Connection headers", addHeader("Connection: upgrade"), "400 Bad Request", "Connection"},
		{"two keys", addHeader("Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw=="), "400 Bad Request", "Sec-WebSocket-Key"},
		{"key not base64", replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25j*Q=="), "400 Bad Request", "Sec-WebSocket-Key"},
		{"key of 24 bytes not base64 of 16", replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZQAA"), "400 Bad Request", "Sec-WebSocket-Key"},
		{"key with non-canonical padding bits", replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZSBub25jZR=="), "400 Bad Request", "Sec-WebSocket-Key"},
		{"short key", replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ=="), "400 Bad Request", "Sec-WebSocket-Key"},
		{"two equal versions", addHeader("Sec-WebSocket-Version: 13"), "400 Bad Request", "Sec-WebSocket-Version"},
		{"conflicting versions", addHeader("Sec-WebSocket-Version: 8"), "400 Bad Request", "Sec-WebSocket-Version"},
		{"obs-fold with a space", addHeader("User-Agent: a\r\n b"), "400 Bad Request", "folded"},
		{"obs-fold with a tab", addHeader("X-Note: a\r\n\tb"), "400 Bad Request", "folded"},
		{"obs-fold of Host", replace("Host: example.com\r\n", "Host: example.com\r\n evil.example\r\n"), "400 Bad Request", "folded"},
		{"bare LF in the request line", replace("HTTP/1.1\r\n", "HTTP/1.1\n"), "400 Bad Request", "line ending"},
		{"bare LF after a header", replace("Upgrade: websocket\r\n", "Upgrade: websocket\n"), "400 Bad Request", "line ending"},
		{"bare LF ending the head", replace("13\r\n\r\n", "13\r\n\n"), "400 Bad Request", "line ending"},
		{"bare LF everywhere", strings.ReplaceAll(minimalRequest, "\r\n", "\n"), "400 Bad Request", "line ending"},
		{"bare CR in a value", addHeader("X-Note: a\rb"), "400 Bad Request", "line ending"},
		{"NUL in a value", addHeader("X-Note: a\x00b"), "400 Bad Request", "control"},
		{"Content-Length", addHeader("Content-Length: 5"), "400 Bad Request", "Content-Length"},
		{"Content-Length 00", addHeader("Content-Length: 00"), "400 Bad Request", "Content-Length"},
		{"Content-Length list", addHeader("Content-Length: 0, 0"), "400 Bad Request", "Content-Length"},
		{"two Content-Length 0", addHeader("Content-Length: 0\r\nContent-Length: 0"), "400 Bad Request", "Content-Length"},
		{"Transfer-Encoding", addHeader("Transfer-Encoding: chunked"), "400 Bad Request", "Transfer-Encoding"},
		{"Transfer-Encoding in odd case", addHeader("transfer-ENCODING: identity"), "400 Bad Request", "Transfer-Encoding"},
		{"space before the colon", addHeader("Transfer-Encoding : chunked"), "400 Bad Request", "before the colon"},
		{"tab before the colon", replace("Host: example.com", "Host\t: evil.example"), "400 Bad Request", "before the colon"},
		{"header name with a slash", addHeader("X/Y: 1"), "400 Bad Request", "header name"},
		{"header name with UTF-8", addHeader("X-Ünicode: 1"), "400 Bad Request", "header name"},
		{"empty header name", addHeader(": 1"), "400 Bad Request", "header name"},
		{"header line without colon", addHeader("X-Note"), "400 Bad Request", "header name"},
		{"empty line first", "\r\n" + minimalRequest, "400 Bad Request", "request line"},
		{"absolute-form target", replace("GET /chat ", "GET http://example.com/chat "), "400 Bad Request", "request-target"},
		{"authority-form target", replace("GET /chat ", "GET example.com:80 "), "400 Bad Request", "request-target"},
		{"asterisk target", replace("GET /chat ", "GET * "), "400 Bad Request", "request-target"},
		{"empty target", replace("GET /chat ", "GET  "), "400 Bad Request", "request-target"},
		{"space in target", replace("GET /chat ", "GET /chat x "), "400 Bad Request", "request line"},
		{"two spaces after the method", replace("GET /chat ", "GET  /chat "), "400 Bad Request", "request-target"},
		{"tab as separator", replace("GET /chat ", "GET\t/chat "), "400 Bad Request", "method"},
		{"lowercase version", replace("HTTP/1.1\r\n", "http/1.1\r\n"), "400 Bad Request", "version"},
		{"garbage after the version", replace("HTTP/1.1\r\n", "HTTP/1.1 x\r\n"), "400 Bad Request", "request line"},
		{"HTTP/1.2", replace("HTTP/1.1\r\n", "HTTP/1.2\r\n"), "505 HTTP Version Not Supported", ""},
		{"HTTP/1.0", replace("HTTP/1.1\r\n", "HTTP/1.0\r\n"), "505 HTTP Version Not Supported", ""},
		{"HTTP/2.0", replace("HTTP/1.1\r\n", "HTTP/2.0\r\n"), "505 HTTP Version Not Supported", ""},
		{"POST", replace("GET ", "POST "), "405 Method Not Allowed", ""},
		{"lowercase get", replace("GET ", "get "), "405 Method Not Allowed", ""},
		{"CONNECT", replace("GET /chat ", "CONNECT example.com:443 "), "405 Method Not Allowed", ""},
		{"method with a non-token byte", replace("GET ", "G(T "), "400 Bad Request", "method"},
	}
	for _, tt := range tests {
		// Byte by byte too: the checks must hold across reads.
		for _, chunk := range []int{0, 1} {
			t.Run(fmt.Sprintf("%s/chunk=%d", tt.name, chunk), func(t *testing.T) {
				decided := false
				u := &Upgrader{Decide: func(*Request) (*Response, error) { decided = true; return nil, nil }}
				resp, err := upgradeRaw(t, u, tt.request, chunk)
				if err == nil {
					t.Fatalf("Upgrade accepted %q, answering %q", tt.request, resp)
				}
				if decided {
					t.Errorf("Decide saw the request")
				}
				head, body, _ := strings.Cut(resp, "\r\n\r\n")
				if !strings.HasPrefix(head, "HTTP/1.1 "+tt.status+"\r\n") {
					t.Fatalf("answered %q, want %s", resp, tt.status)
				}
				if !strings.Contains(body, tt.body) {
					t.Errorf("body %q does not say %q", body, tt.body)
				}
				if strings.HasPrefix(tt.status, "405") && !strings.Contains(head, "\r\nAllow: GET\r\n") {
					t.Errorf("405 without Allow: GET: %q", head)
				}
			})
		}
	}
}

// TestUpgrader_Upgrade_StrictStopsEarly: a request is refused at its first
// bad line, without waiting for the rest (which never comes here).
func TestUpgrader_Upgrade_StrictStopsEarly(t *testing.T) {
	tests := []struct {
		name    string
		partial string
		status  string
	}{
		{"bare LF", "GET /chat HTTP/1.1\n", "400"},
		{"second Host", "GET /chat HTTP/1.1\r\nHost: a\r\nHost:", "400"},
		{"Transfer-Encoding", "GET /chat HTTP/1.1\r\nTransfer-Encoding:", "400"},
		{"obs-fold", "GET /chat HTTP/1.1\r\nHost: a\r\n ", "400"},
		{"method", "POST ", "405"},
		{"version", "GET / HTTP/1.0\r", "505"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A handshake timeout far beyond upgradeRaw's read bound: an
			// answer comes from the bad line, not from the timeout.
			u := &Upgrader{HandshakeTimeout: time.Hour}
			resp, err := upgradeRaw(t, u, tt.partial, 0)
			if err == nil || !strings.HasPrefix(resp, "HTTP/1.1 "+tt.status+" ") {
				t.Fatalf("got %q and %v, want a %s", resp, err, tt.status)
			}
		})
	}
}

func TestUpgrader_Upgrade_Valid(t *testing.T) {
	tests := []struct {
		name      string
		request   string
		host      string
		uri       string
		protocols []string
		options   []string // ConnectionOptions
	}{
		{"Chrome", chromeRequest, "example.com:8080", "/chat?room=1", []string{"chat", "superchat"}, nil},
		{"Firefox", firefoxRequest, "example.com:8080", "/chat", nil, []string{"keep-alive"}},
		{"minimal", minimalRequest, "example.com", "/chat", nil, nil},
		{"Content-Length 0", strings.Replace(minimalRequest, "\r\n\r\n", "\r\nContent-Length: 0\r\n\r\n", 1), "example.com", "/chat", nil, nil},
		{"connection options", strings.Replace(minimalRequest, "Connection: Upgrade", "Connection: X-Secret ,Upgrade,, Keep-Alive,\tX-A-Rather-Long-Header-Name-Over-32-Bytes", 1),
			"example.com", "/chat", nil, []string{"x-secret", "keep-alive", "x-a-rather-long-header-name-over-32-bytes"}},
		{"names in any case, values with OWS", "GET /a/b?c=d&e HTTP/1.1\r\n" +
			"HOST:\texample.com \r\n" +
			"upgrade:WebSocket\r\n" +
			"connection: keep-alive,  upgrade\r\n" +
			"sec-websocket-key:   dGhlIHNhbXBsZSBub25jZQ==\t\r\n" +
			"SEC-WEBSOCKET-VERSION: 13\r\n" +
			"X-Empty:\r\n" +
			"X-Note: obs-text \xe2\x9c\x93 and \"quotes\", (parens)\r\n" +
			"\r\n", "example.com", "/a/b?c=d&e", nil, []string{"keep-alive"}},
		{"IPv6 host", strings.Replace(minimalRequest, "Host: example.com", "Host: [::1]:8080", 1), "[::1]:8080", "/chat", nil, nil},
	}
	for _, tt := range tests {
		for _, chunk := range []int{0, 1} {
			t.Run(fmt.Sprintf("%s/chunk=%d", tt.name, chunk), func(t *testing.T) {
				var got *Request
				u := &Upgrader{Decide: func(r *Request) (*Response, error) { got = r; return nil, nil }}
				resp, err := upgradeRaw(t, u, tt.request, chunk)
				if err != nil {
					t.Fatalf("Upgrade: %v (answered %q)", err, resp)
				}
				if !strings.HasPrefix(resp, "HTTP/1.1 101 ") {
					t.Fatalf("answered %q", resp)
				}
				if got.Host != tt.host || got.URI != tt.uri || !slices.Equal(got.Protocols, tt.protocols) {
					t.Errorf("got host %q, uri %q, protocols %q; want %q, %q, %q",
						got.Host, got.URI, got.Protocols, tt.host, tt.uri, tt.protocols)
				}
				if !slices.Equal(got.ConnectionOptions, tt.options) {
					t.Errorf("got connection options %q, want %q", got.ConnectionOptions, tt.options)
				}
			})
		}
	}
}

func BenchmarkUpgrade(b *testing.B) {
	nc := &replayConn{data: []byte(chromeRequest)}
	var u Upgrader
	b.ReportAllocs()
	b.SetBytes(int64(len(chromeRequest)))
	for b.Loop() {
		nc.off = 0
		c, _, err := u.Upgrade(nc)
		if err != nil {
			b.Fatal(err)
		}
		c.CloseNow()
	}
}
