package codec

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// A request that is not an upgrade, such as a browser's for a page, is
// answered by Upgrader.Plain when it is set, and with 400 otherwise.
func TestUpgrader_Plain(t *testing.T) {
	const page = "GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\nAccept: text/html\r\nConnection: keep-alive\r\n\r\n"
	serve := func(req *Request) *PlainResponse {
		if req.Path != "/index.html" {
			return nil
		}
		return &PlainResponse{
			Status: http.StatusOK,
			Header: http.Header{"Content-Type": {"text/html"}, "Content-Length": {"999"}},
			Body:   []byte("<p>" + req.Host + " " + req.RawQuery + " " + req.Header.Get("Accept")),
		}
	}
	tests := []struct {
		name    string
		plain   func(*Request) *PlainResponse
		request string
		want    []string // substrings of the answer
		wantErr error    // nil: any error but ErrNotUpgrade
		upgrade bool     // the request is upgraded
	}{
		{"page", serve, page, []string{
			"HTTP/1.1 200 OK\r\n", "Content-Type: text/html\r\n", "Content-Length: 28\r\n",
			"Connection: close\r\n\r\n<p>example.com x=1 text/html",
		}, ErrNotUpgrade, false},
		{"Plain declines", serve, strings.Replace(page, "/index.html", "/other", 1),
			[]string{"HTTP/1.1 400 ", "not a WebSocket upgrade request"}, ErrNotUpgrade, false},
		{"no Plain", nil, page, []string{"HTTP/1.1 400 "}, nil, false},
		{"another Upgrade", serve, strings.Replace(page, "\r\n\r\n", "\r\nUpgrade: h2c\r\n\r\n", 1),
			[]string{"HTTP/1.1 400 "}, nil, false},
		{"malformed", serve, strings.Replace(page, "Accept: text/html", "Accept : text/html", 1),
			[]string{"HTTP/1.1 400 ", "whitespace before the colon"}, nil, false},
		{"upgrade", serve, minimalRequest, []string{"HTTP/1.1 101 "}, nil, true},
		{"too large", serve, strings.Replace(page, "\r\n\r\n", "\r\nX-Big: "+strings.Repeat("a", DefaultMaxHeaderBytes)+"\r\n\r\n", 1),
			[]string{"HTTP/1.1 431 "}, ErrHeaderTooLarge, false},
	}
	for _, tt := range tests {
		for _, chunk := range []int{0, 1} {
			t.Run(fmt.Sprintf("%s/chunk=%d", tt.name, chunk), func(t *testing.T) {
				u := &Upgrader{Plain: tt.plain}
				resp, err := upgradeRaw(t, u, tt.request, chunk)
				for _, w := range tt.want {
					if !strings.Contains(resp, w) {
						t.Errorf("answer %q lacks %q", resp, w)
					}
				}
				if strings.Count(resp, "HTTP/1.1 ") != 1 {
					t.Errorf("answer %q is not exactly one response", resp)
				}
				switch {
				case tt.upgrade:
					if err != nil {
						t.Errorf("Upgrade: %v, want an upgrade", err)
					}
				case tt.wantErr != nil:
					if !errors.Is(err, tt.wantErr) {
						t.Errorf("Upgrade: %v, want %v", err, tt.wantErr)
					}
				case err == nil || errors.Is(err, ErrNotUpgrade):
					t.Errorf("Upgrade: %v, want a refusal", err)
				}
			})
		}
	}
}
