package codec

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/gobwas/httphead"
)

func TestCompression_Accept(t *testing.T) {
	const pmd = "permessage-deflate"
	tests := []struct {
		name   string
		cfg    Compression
		offers []string
		want   string // the answer, "" to decline
	}{
		{"no offer", Compression{}, nil, ""},
		{"another extension only", Compression{}, []string{"x-webkit-deflate-frame"}, ""},
		{"bare offer", Compression{}, []string{pmd}, pmd},
		{"after another extension", Compression{}, []string{"x-webkit-deflate-frame", pmd}, pmd},
		// Browsers offer client_max_window_bits without a value.
		{"browser offer", Compression{}, []string{pmd + "; client_max_window_bits"}, pmd},
		{"browser offer, client window imposed", Compression{ClientMaxWindowBits: 10},
			[]string{pmd + "; client_max_window_bits"}, pmd + "; client_max_window_bits=10"},
		{"client window offered is echoed", Compression{}, []string{pmd + "; client_max_window_bits=12"}, pmd + "; client_max_window_bits=12"},
		{"client window offered, smaller imposed", Compression{ClientMaxWindowBits: 9},
			[]string{pmd + "; client_max_window_bits=12"}, pmd + "; client_max_window_bits=9"},
		{"client window offered, larger configured", Compression{ClientMaxWindowBits: 14},
			[]string{pmd + "; client_max_window_bits=12"}, pmd + "; client_max_window_bits=12"},
		// RFC 7692, section 7.1.2.2: not answered unless offered.
		{"client window not offered cannot be imposed", Compression{ClientMaxWindowBits: 10}, []string{pmd}, pmd},
		{"server_no_context_takeover echoed", Compression{}, []string{pmd + "; server_no_context_takeover"}, pmd + "; server_no_context_takeover"},
		{"client_no_context_takeover echoed", Compression{}, []string{pmd + "; client_no_context_takeover"}, pmd + "; client_no_context_takeover"},
		// Sections 7.1.1.1 and 7.1.1.2: both may be added unasked.
		{"no takeover imposed", Compression{ServerNoContextTakeover: true, ClientNoContextTakeover: true}, []string{pmd},
			pmd + "; server_no_context_takeover; client_no_context_takeover"},
		{"server window offered", Compression{}, []string{pmd + "; server_max_window_bits=10"}, pmd + "; server_max_window_bits=10"},
		{"server window offered, smaller configured", Compression{ServerMaxWindowBits: 9},
			[]string{pmd + "; server_max_window_bits=10"}, pmd + "; server_max_window_bits=9"},
		{"server window offered, larger configured", Compression{ServerMaxWindowBits: 12},
			[]string{pmd + "; server_max_window_bits=10"}, pmd + "; server_max_window_bits=10"},
		{"server window limited unasked", Compression{ServerMaxWindowBits: 12}, []string{pmd}, pmd + "; server_max_window_bits=12"},
		{"server window 15 configured is not announced", Compression{ServerMaxWindowBits: 15}, []string{pmd}, pmd},
		{"every parameter", Compression{}, []string{pmd + "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=15"},
			pmd + "; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=8; client_max_window_bits=15"},
		{"quoted value", Compression{}, []string{pmd + `; server_max_window_bits="10"`}, pmd + "; server_max_window_bits=10"},
		{"window 16", Compression{}, []string{pmd + "; server_max_window_bits=16"}, ""},
		{"window 7", Compression{}, []string{pmd + "; client_max_window_bits=7"}, ""},
		{"window abc", Compression{}, []string{pmd + "; server_max_window_bits=abc"}, ""},
		{"window with a leading zero", Compression{}, []string{pmd + "; server_max_window_bits=08"}, ""},
		{"server window without a value", Compression{}, []string{pmd + "; server_max_window_bits"}, ""},
		{"unknown parameter", Compression{}, []string{pmd + "; mystery"}, ""},
		{"duplicate parameter", Compression{}, []string{pmd + "; server_no_context_takeover; server_no_context_takeover"}, ""},
		{"duplicate valueless window", Compression{}, []string{pmd + "; client_max_window_bits; client_max_window_bits"}, ""},
		{"duplicate window", Compression{}, []string{pmd + "; server_max_window_bits=9; server_max_window_bits=10"}, ""},
		{"value on a flag", Compression{}, []string{pmd + "; client_no_context_takeover=1"}, ""},
		{"malformed", Compression{}, []string{pmd + "; ;"}, ""},
		// Section 5: an offer declined, the next one considered.
		{"first offer invalid, second taken", Compression{},
			[]string{pmd + "; server_max_window_bits=16", pmd + "; client_no_context_takeover"}, pmd + "; client_no_context_takeover"},
		{"first offer taken", Compression{},
			[]string{pmd + "; server_no_context_takeover", pmd + "; client_no_context_takeover"}, pmd + "; server_no_context_takeover"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, ok := tt.cfg.accept(tt.offers)
			got := ""
			if ok {
				got = a.String()
			}
			if got != tt.want {
				t.Fatalf("offers %q answered %q, want %q", tt.offers, got, tt.want)
			}
		})
	}
}

func TestCompression_CheckPanics(t *testing.T) {
	for _, cfg := range []Compression{{Level: 10}, {Level: -1}, {ServerMaxWindowBits: 7}, {ClientMaxWindowBits: 16}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%+v: no panic", cfg)
				}
			}()
			cfg.offer()
		}()
	}
}

func TestCompression_Verify(t *testing.T) {
	const pmd = "permessage-deflate"
	tests := []struct {
		name    string
		cfg     Compression
		answer  string
		want    CompressionParams
		wantErr string
	}{
		{"bare", Compression{}, pmd, CompressionParams{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}, ""},
		{"no takeover, unasked", Compression{}, pmd + "; server_no_context_takeover; client_no_context_takeover",
			CompressionParams{true, true, 15, 15}, ""},
		{"server_no_context_takeover asked and granted", Compression{ServerNoContextTakeover: true}, pmd + "; server_no_context_takeover",
			CompressionParams{true, false, 15, 15}, ""},
		{"server_no_context_takeover asked, not granted", Compression{ServerNoContextTakeover: true}, pmd, CompressionParams{}, "server_no_context_takeover was offered"},
		// The client keeps its own word without the server's.
		{"client_no_context_takeover asked, not echoed", Compression{ClientNoContextTakeover: true}, pmd,
			CompressionParams{false, true, 15, 15}, ""},
		{"server window granted", Compression{ServerMaxWindowBits: 10}, pmd + "; server_max_window_bits=10", CompressionParams{false, false, 10, 15}, ""},
		{"server window granted smaller", Compression{ServerMaxWindowBits: 10}, pmd + "; server_max_window_bits=9", CompressionParams{false, false, 9, 15}, ""},
		{"server window larger than asked", Compression{ServerMaxWindowBits: 10}, pmd + "; server_max_window_bits=11", CompressionParams{}, "server_max_window_bits=10 was offered"},
		{"server window asked, not answered", Compression{ServerMaxWindowBits: 10}, pmd, CompressionParams{}, "server_max_window_bits=10 was offered"},
		{"server window limited unasked", Compression{}, pmd + "; server_max_window_bits=12", CompressionParams{false, false, 12, 15}, ""},
		{"client window imposed", Compression{}, pmd + "; client_max_window_bits=10", CompressionParams{false, false, 15, 10}, ""},
		{"client window offered, kept", Compression{ClientMaxWindowBits: 11}, pmd, CompressionParams{false, false, 15, 11}, ""},
		{"client window offered, smaller answered", Compression{ClientMaxWindowBits: 11}, pmd + "; client_max_window_bits=9", CompressionParams{false, false, 15, 9}, ""},
		{"client window larger than offered", Compression{ClientMaxWindowBits: 11}, pmd + "; client_max_window_bits=12", CompressionParams{}, "client_max_window_bits=12 answers"},
		{"client window without a value", Compression{}, pmd + "; client_max_window_bits", CompressionParams{}, "must be 8 to 15"},
		{"window 16", Compression{}, pmd + "; server_max_window_bits=16", CompressionParams{}, "must be 8 to 15"},
		{"window 8", Compression{}, pmd + "; server_max_window_bits=8", CompressionParams{false, false, 8, 15}, ""},
		{"window abc", Compression{}, pmd + "; server_max_window_bits=abc", CompressionParams{}, "must be 8 to 15"},
		{"unknown parameter", Compression{}, pmd + "; mystery=1", CompressionParams{}, `unknown parameter "mystery"`},
		{"duplicate parameter", Compression{}, pmd + "; client_no_context_takeover; client_no_context_takeover", CompressionParams{}, "twice"},
		{"value on a flag", Compression{}, pmd + "; server_no_context_takeover=yes", CompressionParams{}, "takes no value"},
		{"accepted twice", Compression{}, pmd + ", " + pmd, CompressionParams{}, "accepted 2 times"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answers, ok := httphead.ParseOptions([]byte(tt.answer), nil)
			if !ok {
				t.Fatalf("test answer %q does not parse", tt.answer)
			}
			_, got, err := tt.cfg.verify(tt.cfg.offer(), answers)
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, errBadAnswer) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("answer %q: err %v, want one with %q", tt.answer, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("answer %q: %+v, %v; want %+v", tt.answer, got, err, tt.want)
			}
		})
	}
}

// TestDialer_Compression dials fixed responses: what the Dialer offers, and
// how it takes each answer.
func TestDialer_Compression(t *testing.T) {
	const head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptToken + "\r\n"
	tests := []struct {
		name      string
		cfg       *Compression
		answer    string // header lines of the response's extensions
		wantOffer string
		wantExt   string
		wantErr   bool
	}{
		{"nothing offered, nothing answered", nil, "", "", "", false},
		{"nothing offered, deflate answered", nil, "Sec-WebSocket-Extensions: permessage-deflate\r\n", "", "", true},
		{"offered, declined", &Compression{}, "", "permessage-deflate; client_max_window_bits", "", false},
		{"offered, accepted", &Compression{}, "Sec-WebSocket-Extensions: permessage-deflate\r\n",
			"permessage-deflate; client_max_window_bits", "permessage-deflate", false},
		{"every parameter offered", &Compression{ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 10, ClientMaxWindowBits: 9},
			"Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; server_max_window_bits=10\r\n",
			"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9",
			"permessage-deflate; server_no_context_takeover; server_max_window_bits=10", false},
		{"an extension not offered", &Compression{}, "Sec-WebSocket-Extensions: x-webkit-deflate-frame\r\n", "permessage-deflate; client_max_window_bits", "", true},
		{"accepted twice, two headers", &Compression{}, "Sec-WebSocket-Extensions: permessage-deflate\r\nSec-WebSocket-Extensions: permessage-deflate\r\n",
			"permessage-deflate; client_max_window_bits", "", true},
		{"invalid window", &Compression{}, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits=16\r\n", "permessage-deflate; client_max_window_bits", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &responseConn{resp: []byte(head + tt.answer + "\r\n")}
			d := &Dialer{Compression: tt.cfg, NetDial: func(context.Context, string, string) (net.Conn, error) { return rc, nil }}
			c, hs, err := d.Dial(context.Background(), "ws://example.com/")
			// gobwas/ws writes no space after the semicolons.
			offer := headerValues(rc.req.String(), "Sec-WebSocket-Extensions")
			if offer != strings.ReplaceAll(tt.wantOffer, "; ", ";") {
				t.Errorf("offered %q, want %q", offer, tt.wantOffer)
			}
			if tt.wantErr {
				var de *DialError
				if !errors.As(err, &de) || de.Op != "handshake" {
					t.Fatalf("err %v, want a handshake *DialError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			_, ok := c.Compression()
			if hs.Extensions != tt.wantExt || c.Extensions() != tt.wantExt || ok != (tt.wantExt != "") {
				t.Fatalf("extensions %q / %q (compression %v), want %q", hs.Extensions, c.Extensions(), ok, tt.wantExt)
			}
		})
	}
}

// TestUpgrader_Compression answers raw requests: the answer's header, and
// offers split across headers and commas.
func TestUpgrader_Compression(t *testing.T) {
	tests := []struct {
		name    string
		u       Upgrader
		headers string
		want    string // the Sec-WebSocket-Extensions line, "" for none
	}{
		{"not configured", Upgrader{}, "Sec-WebSocket-Extensions: permessage-deflate\r\n", ""},
		{"configured", Upgrader{Compression: &Compression{}}, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n", "permessage-deflate"},
		{"first offer invalid, in one header", Upgrader{Compression: &Compression{}},
			"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=16, permessage-deflate; server_no_context_takeover\r\n",
			"permessage-deflate; server_no_context_takeover"},
		{"first offer invalid, two headers", Upgrader{Compression: &Compression{}},
			"Sec-WebSocket-Extensions: permessage-deflate; foo\r\nSec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n",
			"permessage-deflate; client_no_context_takeover"},
		{"chosen by Decide", Upgrader{Decide: func(*Request) (*Response, error) {
			return &Response{Compression: &Compression{ServerNoContextTakeover: true}}, nil
		}}, "Sec-WebSocket-Extensions: permessage-deflate\r\n", "permessage-deflate; server_no_context_takeover"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := "GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" + tt.headers + "\r\n"
			resp, err := upgradeRaw(t, &tt.u, req, 0)
			if err != nil {
				t.Fatal(err)
			}
			if got := headerValues(resp, "Sec-WebSocket-Extensions"); got != tt.want {
				t.Fatalf("answered %q, want %q\n%s", got, tt.want, resp)
			}
		})
	}
}

// headerValues returns the values of the header name in a raw request or
// response head, joined with " | ".
func headerValues(head, name string) string {
	var vs []string
	for line := range strings.SplitSeq(head, "\r\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			vs = append(vs, strings.TrimSpace(v))
		}
	}
	return strings.Join(vs, " | ")
}
