package proxy

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"net/http"

	"github.com/wasmgate/wasmgate/codec"
)

// consoleHTML is the WebSocket console that a listener with console = true
// serves at "/": a page to connect through the proxy, send text and binary
// messages, and see what comes back, with the negotiated subprotocol and
// extensions. It loads nothing from elsewhere.
//
//go:embed console/index.html
var consoleHTML []byte

// consoleHeader is sent with the page. Its Content-Security-Policy lets
// the page run only its own inline script (by hash) and style, and
// connect only to WebSockets.
var consoleHeader = http.Header{
	"Content-Type":            {"text/html; charset=utf-8"},
	"Content-Security-Policy": {"default-src 'none'; style-src 'unsafe-inline'; script-src '" + scriptHash(consoleHTML) + "'; connect-src ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"},
	"X-Content-Type-Options":  {"nosniff"},
	"Referrer-Policy":         {"no-referrer"},
	"Cache-Control":           {"no-cache"},
}

var notFoundHeader = http.Header{
	"Content-Type":           {"text/plain; charset=utf-8"},
	"X-Content-Type-Options": {"nosniff"},
}

// scriptHash is the CSP source for the one inline script of page.
func scriptHash(page []byte) string {
	_, rest, ok := bytes.Cut(page, []byte("<script>"))
	script, _, ok2 := bytes.Cut(rest, []byte("</script>"))
	if !ok || !ok2 {
		panic("proxy: the console page has no inline script")
	}
	sum := sha256.Sum256(script)
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// consolePage answers a request that is not an upgrade on a listener with
// the console.
func consolePage(req *codec.Request) *codec.PlainResponse {
	if req.Path == "/" || req.Path == "/index.html" {
		return &codec.PlainResponse{Status: http.StatusOK, Header: consoleHeader, Body: consoleHTML}
	}
	return &codec.PlainResponse{Status: http.StatusNotFound, Header: notFoundHeader,
		Body: []byte("404 page not found: this listener serves its WebSocket console at /, and WebSockets\n")}
}
