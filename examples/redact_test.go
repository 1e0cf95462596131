package examples_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/plugins"
)

// redactBuilds are the four builds of the redact example.
var redactBuilds = []string{"go", "rust", "assemblyscript", "c"}

// redactCases are the examples of examples/redact/SPEC.md and the corners
// of its algorithm.
var redactCases = []struct{ in, want string }{
	{"pay 4111 1111 1111 1111 now", "pay **** **** **** 1111 now"},
	{"4111-1111-1111-1111", "****-****-****-1111"},
	{"order 1234567890123", "order 1234567890123"},
	{"4111111111111111", "************1111"},
	{"mail jane.doe+x@example.com.", "mail ***@example.com."},
	{"a@b", "a@b"},
	{"x@y.io and z@w.org", "***@y.io and ***@w.org"},
	{"@example.com", "@example.com"},
	{"", ""},
	{"no secrets here", "no secrets here"},
	// 12 digits is too short, 20 too long, whatever Luhn says.
	{"411111111111", "411111111111"},
	{"41111111111111111113", "41111111111111111113"},
	// A trailing separator is not part of the card; two in a row end it.
	{"5500 0000 0000 0004 ", "**** **** **** 0004 "},
	{"5500  0000 0000 0004", "5500  0000 0000 0004"},
	{"card:378282246310005.", "card:***********0005."},
	// The second pass reads the first one's output.
	{"4111111111111111@cards.example", "***************@cards.example"},
	{"a.b-c_d%e+f@sub.example.co.uk!", "***@sub.example.co.uk!"},
	{"x@.example.com", "x@.example.com"},
	{"x@example..com", "x@example..com"},
	{"x@-example.com", "x@-example.com"},
	{"x@example.com-", "***@example.com-"},
	{"a@b@c.d", "a@***@c.d"},
	// Non-ASCII bytes are neither local nor domain characters.
	{"é@ü.de ünïcødé jane@exämple.com", "é@ü.de ünïcødé jane@exämple.com"},
	{"日本 jane@example.jp", "日本 ***@example.jp"},
}

// openRedact loads one build of redact into a chain of its own, whose
// messages may be at most maxMessage bytes, and opens a connection on it
// that lasts as long as the test.
func openRedact(t testing.TB, lang string, maxMessage int64) *plugins.Conn {
	t.Helper()
	path := filepath.Join("redact", lang, "redact.wasm")
	wasm, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("the %s build of redact is missing (rebuild with make wasm): %v", lang, err)
	}
	h := plugins.NewHost(plugins.HostOptions{})
	t.Cleanup(func() { h.Close(context.Background()) })
	p, err := h.Load(context.Background(), plugins.Spec{
		Name: "redact-" + lang, Wasm: wasm, Instances: 1,
		// Generous: this test compares outputs, not speed, and a Go
		// guest's garbage collector may pause on a loaded machine.
		Timeout: 2 * time.Second,
	})
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	c, v := plugins.NewChain(maxMessage, p).Open(&plugins.Request{Method: "GET", URI: "/", Path: "/", Header: http.Header{}}, nopPeer{})
	if c == nil {
		t.Fatalf("redact refused the handshake: %+v", v.Reject)
	}
	t.Cleanup(func() { c.Close(plugins.CloseInfo{Code: 1000}) })
	return c
}

// redactAll runs inputs through a build, in batches, in both directions,
// and returns the outputs; the two directions must agree.
func redactAll(t *testing.T, c *plugins.Conn, inputs []string) []string {
	t.Helper()
	out := make([]string, 0, len(inputs))
	for start := 0; start < len(inputs); start += 64 {
		batch := make([]plugins.Message, 0, 64)
		for _, in := range inputs[start:min(start+64, len(inputs))] {
			batch = append(batch, plugins.Message{Type: codec.Text, Payload: []byte(in)})
		}
		var dirs [2][]string
		for i, fromUpstream := range []bool{false, true} {
			r := c.Messages(fromUpstream, batch)
			if r.Close || len(r.Forward) != len(batch) || len(r.Back) != 0 {
				t.Fatalf("batch at %d: close=%v, %d forwarded of %d, %d back", start, r.Close, len(r.Forward), len(batch), len(r.Back))
			}
			for _, m := range r.Forward {
				if m.Type != codec.Text {
					t.Fatalf("a text message came out as %v", m.Type)
				}
				dirs[i] = append(dirs[i], string(m.Payload))
			}
		}
		for i := range dirs[0] {
			if dirs[0][i] != dirs[1][i] {
				t.Fatalf("input %q: client to upstream %q, upstream to client %q", batch[i].Payload, dirs[0][i], dirs[1][i])
			}
		}
		out = append(out, dirs[0]...)
	}
	return out
}

type nopPeer struct{}

func (nopPeer) Send(bool, codec.MessageType, []byte) {}
func (nopPeer) Close(codec.StatusCode, string)       {}

// redactCorpus makes inputs that hit the algorithm's corners more often
// than random bytes would: digits in runs with separators, at signs,
// dots and domain characters, and multi-byte UTF-8.
func redactCorpus(n int) []string {
	rng := rand.New(rand.NewPCG(7, 42))
	pieces := []string{
		"4111", "1111", "5500", "0000", "0004", "3782", "8224", "6310", "005", "7", "42",
		" ", " ", "-", "--", "@", "@", ".", "..", "_", "%", "+", "a", "Zed", "x.y",
		"example", ".com", ".org", "-", "é", "日本", "\u2028", "!", ":", "\n",
	}
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for range 1 + rng.IntN(24) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		out[i] = b.String()
	}
	return out
}

// TestRedactBuildsAgree runs the four builds of redact on the SPEC's
// cases and on a generated corpus: every build must give the SPEC's
// outputs, and all four must agree on every input.
func TestRedactBuildsAgree(t *testing.T) {
	inputs := make([]string, len(redactCases))
	for i, c := range redactCases {
		inputs[i] = c.in
	}
	corpus := redactCorpus(2000)
	var reference []string // the Go build's outputs on the corpus
	for _, lang := range redactBuilds {
		t.Run(lang, func(t *testing.T) {
			c := openRedact(t, lang, 1<<20)
			for i, got := range redactAll(t, c, inputs) {
				if got != redactCases[i].want {
					t.Errorf("%q: got %q, want %q", redactCases[i].in, got, redactCases[i].want)
				}
			}
			outs := redactAll(t, c, corpus)
			if reference == nil {
				reference = outs
				return
			}
			diffs := 0
			for i := range outs {
				if outs[i] != reference[i] {
					if diffs++; diffs <= 10 {
						t.Errorf("%q: %s gives %q, go gives %q", corpus[i], lang, outs[i], reference[i])
					}
				}
			}
			if diffs > 0 {
				t.Errorf("%s differs from go on %d of %d generated inputs", lang, diffs, len(corpus))
			}
		})
	}
}

// TestRedactOverTheLimit checks SPEC.md's rule for a message that masking
// makes too long: it is dropped, never passed unmasked.
func TestRedactOverTheLimit(t *testing.T) {
	for _, lang := range redactBuilds {
		t.Run(lang, func(t *testing.T) {
			c := openRedact(t, lang, 16)
			// 16 bytes in, 18 once masked; the last one fits as it is.
			r := c.Messages(false, []plugins.Message{
				{Type: codec.Text, Payload: []byte("a@b.co 123456789")},
				{Type: codec.Text, Payload: []byte("b@c.de")},
				{Type: codec.Text, Payload: []byte("fits as it is")},
			})
			var got []string
			for _, m := range r.Forward {
				got = append(got, string(m.Payload))
			}
			if want := []string{"***@c.de", "fits as it is"}; !slices.Equal(got, want) || r.Close {
				t.Fatalf("forwarded %q (close=%v), want %q", got, r.Close, want)
			}
		})
	}
}

// TestRedact runs the redact example as a user does, with its own
// configuration: both directions are masked, binary messages pass.
func TestRedact(t *testing.T) {
	e := startExample(t, "redact", nil)
	c := e.mustDial(t, "/", nil)

	// Client to upstream, and back through the echo: masked on the way in.
	if got := roundTrip(t, c, "card 4111 1111 1111 1111, mail jane@example.com"); got != "card **** **** **** 1111, mail ***@example.com" {
		t.Fatalf("client to upstream: got %q", got)
	}
	// Upstream to client alone: the backend turns a binary message,
	// which redact does not touch, into text.
	send(t, c, codec.Binary, "text:ops@example.org paid with 5500-0000-0000-0004")
	expect(t, c, codec.Text, "***@example.org paid with ****-****-****-0004")
	send(t, c, codec.Binary, "\x004111111111111111")
	expect(t, c, codec.Binary, "\x004111111111111111")
	if got := roundTrip(t, c, "nothing to hide"); got != "nothing to hide" {
		t.Fatalf("plain text: got %q", got)
	}
}

// BenchmarkRedact measures each build on a batch of 16 chat-sized text
// messages, one in four with something to mask: the cost per message of
// the same algorithm in four languages.
func BenchmarkRedact(b *testing.B) {
	batch := make([]plugins.Message, 16)
	for i := range batch {
		p := "the quick brown fox jumps over the lazy dog, message number 12, nothing to see"
		if i%4 == 0 {
			p = "please bill 4111 1111 1111 1111 and mail the receipt to jane.doe@example.com"
		}
		batch[i] = plugins.Message{Type: codec.Text, Payload: []byte(p)}
	}
	for _, lang := range redactBuilds {
		b.Run(lang, func(b *testing.B) {
			c := openRedact(b, lang, 1<<20)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if r := c.Messages(false, batch); len(r.Forward) != len(batch) {
					b.Fatalf("%d of %d messages forwarded", len(r.Forward), len(batch))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(batch)), "ns/msg")
		})
	}
}
