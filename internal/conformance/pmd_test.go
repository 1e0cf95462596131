package conformance

import (
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestAgree checks the harness's reading of permessage-deflate answers
// against RFC 7692 section 7.1, both what it accepts and what it refuses.
func TestAgree(t *testing.T) {
	type params struct {
		serverBits, clientBits         int
		serverTakeover, clientTakeover bool
	}
	const pmdOffer = "permessage-deflate"
	full := params{15, 15, true, true}
	for _, tc := range []struct {
		name    string
		offer   string
		answer  []string
		want    params
		decline bool   // the server declined a valid offer
		wantErr string // "" for success
	}{
		{"declined", pmdOffer, nil, params{}, true, ""},
		{"plain", pmdOffer, []string{"permessage-deflate"}, full, false, ""},
		{"no takeover added by the server", pmdOffer, []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, params{15, 15, false, false}, false, ""},
		{"client window chosen by the server", "permessage-deflate; client_max_window_bits", []string{"permessage-deflate; client_max_window_bits=10"}, params{15, 10, true, true}, false, ""},
		{"client keeps its offered window", "permessage-deflate; client_max_window_bits=12", []string{"permessage-deflate"}, params{15, 12, true, true}, false, ""},
		{"client keeps its offered no takeover", "permessage-deflate; client_no_context_takeover", []string{"permessage-deflate"}, params{15, 15, true, false}, false, ""},
		{"server window lowered", "permessage-deflate; server_max_window_bits=10", []string{"permessage-deflate; server_max_window_bits=9"}, params{9, 15, true, true}, false, ""},
		{"server window limited unasked", pmdOffer, []string{"permessage-deflate; server_max_window_bits=8"}, params{8, 15, true, true}, false, ""},
		{"quoted value", "permessage-deflate; server_max_window_bits=10", []string{`permessage-deflate; server_max_window_bits="10"`}, params{10, 15, true, true}, false, ""},
		{"spaces and case of the header", pmdOffer, []string{"  permessage-deflate ;  server_no_context_takeover  "}, params{15, 15, false, true}, false, ""},
		{"second offer, first invalid", "permessage-deflate; server_max_window_bits=7, permessage-deflate", []string{"permessage-deflate"}, full, false, ""},
		{"second offer, first another extension", "x-webkit-deflate-frame, permessage-deflate", []string{"permessage-deflate"}, full, false, ""},

		{"client window not offered", pmdOffer, []string{"permessage-deflate; client_max_window_bits=10"}, params{}, false, "client_max_window_bits=10, which was not offered"},
		{"client window above the offer", "permessage-deflate; client_max_window_bits=10", []string{"permessage-deflate; client_max_window_bits=11"}, params{}, false, "more than the 10 offered"},
		{"client window without value in an answer", "permessage-deflate; client_max_window_bits", []string{"permessage-deflate; client_max_window_bits"}, params{}, false, "client_max_window_bits without a value"},
		{"server window ignored", "permessage-deflate; server_max_window_bits=10", []string{"permessage-deflate"}, params{}, false, "server_max_window_bits=10 was offered, the answer has none"},
		{"server window raised", "permessage-deflate; server_max_window_bits=10", []string{"permessage-deflate; server_max_window_bits=11"}, params{}, false, "the answer has 11"},
		{"server no takeover ignored", "permessage-deflate; server_no_context_takeover", []string{"permessage-deflate"}, params{}, false, "server_no_context_takeover was offered but not answered"},
		{"window with a leading zero", pmdOffer, []string{"permessage-deflate; server_max_window_bits=09"}, params{}, false, "server_max_window_bits=09 is not a window size"},
		{"window too small", pmdOffer, []string{"permessage-deflate; server_max_window_bits=7"}, params{}, false, "is not a window size"},
		{"takeover with a value", pmdOffer, []string{"permessage-deflate; server_no_context_takeover=true"}, params{}, false, "takes none"},
		{"parameter twice", pmdOffer, []string{"permessage-deflate; client_no_context_takeover; client_no_context_takeover"}, params{}, false, "client_no_context_takeover twice"},
		{"unknown parameter", pmdOffer, []string{"permessage-deflate; level=9"}, params{}, false, "unknown parameter level"},
		{"extension not offered", pmdOffer, []string{"x-webkit-deflate-frame"}, params{}, false, `accepts extension "x-webkit-deflate-frame", which was not offered`},
		{"accepted twice", pmdOffer, []string{"permessage-deflate", "permessage-deflate"}, params{}, false, "accepts 2 extensions"},
		{"invalid offer accepted", "permessage-deflate; server_max_window_bits=16", []string{"permessage-deflate"}, params{}, false, "must be declined"},
		{"malformed answer", pmdOffer, []string{"permessage-deflate; server_max_window_bits=\"10"}, params{}, false, "neither a token nor a quoted string"},
		{"empty element", pmdOffer, []string{"permessage-deflate,"}, params{}, false, "is not a token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, declined, err := agree(tc.offer, tc.answer)
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("agree(%q, %q) = %v, want an error with %q", tc.offer, tc.answer, err, tc.wantErr)
				}
				return
			case err != nil:
				t.Fatalf("agree(%q, %q): %v", tc.offer, tc.answer, err)
			case declined != tc.decline:
				t.Fatalf("declined = %v, want %v", declined, tc.decline)
			case tc.decline:
				if p != nil {
					t.Fatalf("declined, but an agreement %+v", p)
				}
				return
			}
			got := params{p.serverBits, p.clientBits, p.serverTakeover, p.clientTakeover}
			if got != tc.want {
				t.Fatalf("agree(%q, %q) = %+v, want %+v", tc.offer, tc.answer, got, tc.want)
			}
		})
	}
}

// TestRun_DetectsBrokenCompression checks that the harness catches a
// server that compresses against its agreement: beyond its window, into an
// earlier message without context takeover, or with RSV1 where RFC 7692
// does not allow it. The server answers the handshake with answer, sends
// its messages (compressed by the harness's own deflater), and closes.
func TestRun_DetectsBrokenCompression(t *testing.T) {
	block := randomBytes(2000, 1)
	twice := append(append([]byte(nil), block...), block...)
	compressed := func(bits int, takeover bool, msgs ...[]byte) [][]byte {
		d := newDeflater(bits, takeover)
		var out [][]byte
		for _, m := range msgs {
			out = append(out, d.compress(nil, m))
		}
		return out
	}
	frame := func(b0 byte, p []byte) []byte {
		return appendHeader(nil, b0&0x80 != 0, b0>>4&7, Opcode(b0&0xf), int64(len(p)), false, [4]byte{})
	}

	for _, tc := range []struct {
		name   string
		offer  string
		answer string
		reply  func() []byte
		expect [][]byte // the messages the case expects
		want   string
	}{
		{
			name:  "distance beyond the window",
			offer: "permessage-deflate; server_max_window_bits=10", answer: "permessage-deflate; server_max_window_bits=10",
			reply: func() []byte {
				z := compressed(15, false, twice)[0]
				return append(frame(0xc2, z), z...)
			},
			expect: [][]byte{twice},
			want:   "window",
		},
		{
			name:  "earlier message without takeover",
			offer: "permessage-deflate; server_no_context_takeover", answer: "permessage-deflate; server_no_context_takeover",
			reply: func() []byte {
				zs := compressed(15, true, block, block)
				var b []byte
				for _, z := range zs {
					b = append(append(b, frame(0xc2, z)...), z...)
				}
				return b
			},
			expect: [][]byte{block, block},
			want:   "takeover",
		},
		{
			name:  "RSV1 on a continuation",
			offer: "permessage-deflate", answer: "permessage-deflate",
			reply: func() []byte {
				z := compressed(15, true, []byte("Hello, world!"))[0]
				b := append(frame(0x42, z[:3]), z[:3]...)
				return append(append(b, frame(0xc0, z[3:])...), z[3:]...)
			},
			expect: [][]byte{[]byte("Hello, world!")},
			want:   "continuation frame with RSV1 set",
		},
		{
			name:  "RSV1 on a pong",
			offer: "permessage-deflate", answer: "permessage-deflate",
			reply:  func() []byte { return []byte{0xca, 0x00} },
			expect: [][]byte{[]byte("x")},
			want:   "pong frame with RSV1 set",
		},
		{
			name:  "RSV2 with permessage-deflate",
			offer: "permessage-deflate", answer: "permessage-deflate",
			reply:  func() []byte { return []byte{0xa1, 0x01, 'x'} },
			expect: [][]byte{[]byte("x")},
			want:   "RSV bits 010 set; permessage-deflate defines only RSV1",
		},
		{
			name:  "invalid deflate data",
			offer: "permessage-deflate", answer: "permessage-deflate",
			reply:  func() []byte { return []byte{0xc2, 0x03, 0x07, 0x00, 0x00} },
			expect: [][]byte{[]byte("x")},
			want:   "compressed binary message of 3 bytes",
		},
		{
			name:  "accepts an invalid offer",
			offer: "permessage-deflate; x=1", answer: "permessage-deflate",
			reply:  func() []byte { return nil },
			expect: [][]byte{[]byte("x")},
			want:   "must be declined",
		},
		{
			name:  "declines a valid offer",
			offer: "permessage-deflate", answer: "",
			reply:  func() []byte { return nil },
			expect: [][]byte{[]byte("x")},
			want:   "declines the valid offer",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startScriptedServer(t, tc.answer, tc.reply())
			c := Case{ID: "0.1", Name: tc.name, Offer: tc.offer, Run: func(s *Session) error {
				for _, m := range tc.expect {
					if err := s.ExpectMessage(OpBinary, m); err != nil {
						return err
					}
				}
				return nil
			}}
			run(t, Target{Addr: addr, Compression: true}, []Case{c}, mustFailWith(map[string]string{"0.1": tc.want}))
		})
	}
}

// startScriptedServer answers each opening handshake with a 101 whose
// Sec-WebSocket-Extensions is extensions (none if ""), writes reply, and
// closes as a careful server does.
func startScriptedServer(t *testing.T, extensions string, reply []byte) string {
	t.Helper()
	return startTCPServer(t, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			c.Close()
			return
		}
		resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(req.Header.Get("Sec-WebSocket-Key")) + "\r\n"
		if extensions != "" {
			resp += "Sec-WebSocket-Extensions: " + extensions + "\r\n"
		}
		io.WriteString(c, resp+"\r\n")
		c.Write(reply)
		lingeringClose(c)
	})
}

// TestPayloadKinds checks the payloads of the compression cases: of the
// asked size, the same on every call (the harness makes the expected echo
// anew), and UTF-8 for text.
func TestPayloadKinds(t *testing.T) {
	for _, k := range append(payloadKinds, repeatedBlock) {
		for _, n := range []int{0, 1, 16, 1000, 131072} {
			a, b := k.make(n, 1), k.make(n, 1)
			if len(a) != n || string(a) != string(b) {
				t.Fatalf("%s payload of %d bytes: got %d bytes, deterministic %v", k.name, n, len(a), string(a) == string(b))
			}
			if k.op == OpText && !utf8.Valid(a) {
				t.Fatalf("%s payload of %d bytes is not UTF-8", k.name, n)
			}
		}
	}
}

// FuzzAgree checks the reading of extension headers on any input: no
// panic, and an agreement only with windows of 8 to 15 bits, within what
// the answer and the offer allow.
func FuzzAgree(f *testing.F) {
	for _, seed := range [][2]string{
		{"permessage-deflate", "permessage-deflate"},
		{"permessage-deflate; client_max_window_bits", "permessage-deflate; client_max_window_bits=10; server_no_context_takeover"},
		{"permessage-deflate; server_max_window_bits=10, permessage-deflate", `permessage-deflate; server_max_window_bits="9"`},
		{"x-webkit-deflate-frame, permessage-deflate; client_no_context_takeover", "permessage-deflate; client_no_context_takeover"},
		{"permessage-deflate; x=\"a\\\"b\"", "permessage-deflate"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, offer, answer string) {
		var answers []string
		if answer != "" {
			answers = []string{answer}
		}
		p, declined, err := agree(offer, answers)
		if err != nil || p == nil {
			if p != nil || (declined && err != nil) {
				t.Fatalf("agree(%q, %q) = %v, %v, %v", offer, answer, p, declined, err)
			}
			return
		}
		for _, b := range []int{p.serverBits, p.clientBits} {
			if b < 8 || b > 15 {
				t.Fatalf("agree(%q, %q): window bits %d", offer, answer, b)
			}
		}
		if a, _ := parseExtensions(answers); len(a) != 1 || a[0].name != extPMD {
			t.Fatalf("agree(%q, %q) accepted an answer that is not one permessage-deflate", offer, answer)
		}
	})
}

// TestRun_DetectsShortHistory checks that the harness's compressed
// messages use the history that context takeover allows: a server that
// agrees to takeover but inflates each message with less history than
// the client's window (none, or the last KiB) fails the echoes of a
// message sent again, which the harness compresses into references to
// the one before.
func TestRun_DetectsShortHistory(t *testing.T) {
	for _, tc := range []struct {
		name    string
		history int
		id      string
		fails   bool
	}{
		{"no history", 0, "13.1.3", true},
		{"1 KiB of history", 1 << 10, "13.1.4", true},
		// The control: with the whole window, the same server passes.
		{"32 KiB of history", 32 << 10, "13.1.4", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := startForgetfulServer(t, tc.history)
			judge := mustFailWith(map[string]string{tc.id: "message 2 of 8"})
			if !tc.fails {
				judge = func(t *testing.T, _ Case, err error) {
					if err != nil {
						t.Error(err)
					}
				}
			}
			run(t, Target{Addr: addr, Compression: true}, casesByID(t, tc.id), judge)
		})
	}
}

// startForgetfulServer accepts permessage-deflate with context takeover
// and echoes each message uncompressed, but inflates with only the last
// history bytes of the messages before. It reads only what the cases of
// TestRun_DetectsShortHistory send: final, masked data frames.
func startForgetfulServer(t *testing.T, history int) string {
	t.Helper()
	return startTCPServer(t, func(c net.Conn) { serveForgetful(c, history) })
}

func serveForgetful(c net.Conn, history int) {
	defer lingeringClose(c)
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+
		acceptKey(req.Header.Get("Sec-WebSocket-Key"))+"\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
	var past []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(br, h[:]); err != nil {
			return
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126, 127:
			ext := make([]byte, map[int]int{126: 2, 127: 8}[n])
			if _, err := io.ReadFull(br, ext); err != nil {
				return
			}
			n = 0
			for _, b := range ext {
				n = n<<8 | int(b)
			}
		}
		var key [4]byte
		p := make([]byte, n)
		if _, err := io.ReadFull(br, key[:]); err != nil {
			return
		}
		if _, err := io.ReadFull(br, p); err != nil {
			return
		}
		maskBytes(p, key, 0)
		if op := Opcode(h[0] & 0xf); op.isControl() {
			return
		}
		if h[0]&0x40 != 0 {
			dict := past[max(0, len(past)-history):]
			r := flate.NewReaderDict(io.MultiReader(bytes.NewReader(p), bytes.NewReader(deflateTail[:])), dict)
			out, err := io.ReadAll(r)
			if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
				return // the echo never comes: the case fails
			}
			past = append(past, out...)
			p = out
		}
		c.Write(appendFrame(nil, Frame{Fin: true, Opcode: Opcode(h[0] & 0xf), Payload: p}, false, [4]byte{}))
	}
}
