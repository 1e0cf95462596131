package codec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gobwas/httphead"
)

// Compression configures permessage-deflate (RFC 7692) for one endpoint:
// an Upgrader accepts it, a Dialer offers it. The zero value compresses
// with the defaults below and takes over the LZ77 context in both
// directions.
type Compression struct {
	// Threshold: data messages whose payload is shorter are sent
	// uncompressed (each message says whether it is compressed). 0 means
	// DefaultCompressionThreshold; negative compresses everything.
	Threshold int
	// Level is the compress/flate level, 1 (BestSpeed, the default when 0)
	// to 9. Levels above 1 cost much more CPU per message, and, without
	// context takeover, a reset of large tables before every message.
	Level int
	// ServerNoContextTakeover and ClientNoContextTakeover ask for (Dialer)
	// or impose (Upgrader) that the server's, or the client's, compressor
	// starts afresh with each message. With takeover, each connection
	// keeps its compression state between messages: a better ratio on
	// small similar messages, for more memory per connection: on the
	// side that compresses, the compressor's state, about 1.2 MB with
	// compress/flate (a Conn gives it up when it parks); on the side that
	// inflates, the last window of output, up to 40 KiB. Without it, the
	// compressor and decompressor come from pools for each message and an
	// idle connection holds neither.
	ServerNoContextTakeover, ClientNoContextTakeover bool
	// ServerMaxWindowBits and ClientMaxWindowBits, 8 to 15 (0: not set,
	// that is 15), bound the LZ77 window of the server's and the client's
	// compressor: the memory the other side needs to inflate. A Dialer
	// offers them; an Upgrader answers with them (ClientMaxWindowBits
	// only when the client offered client_max_window_bits, as browsers
	// do). compress/flate always compresses with a window of 15 bits, so
	// an endpoint told to use fewer compresses only messages no longer
	// than its window, each on its own (no context takeover), and sends
	// the others uncompressed.
	ServerMaxWindowBits, ClientMaxWindowBits int
}

// DefaultCompressionThreshold is the size under which a message is not
// worth compressing: the header and the cost of a compressor outweigh
// what it saves.
const DefaultCompressionThreshold = 128

// CompressionParams are the permessage-deflate parameters in effect on a
// Conn, as agreed in its handshake.
type CompressionParams struct {
	// ServerNoContextTakeover and ClientNoContextTakeover: the server's,
	// or the client's, compressor starts afresh with each message.
	ServerNoContextTakeover, ClientNoContextTakeover bool
	// ServerMaxWindowBits and ClientMaxWindowBits bound the LZ77 window of
	// the server's and the client's compressor: 8 to 15.
	ServerMaxWindowBits, ClientMaxWindowBits int
}

// extensionName is the token of permessage-deflate in
// Sec-WebSocket-Extensions.
const extensionName = "permessage-deflate"

// The parameters of permessage-deflate (RFC 7692, section 7.1).
const (
	paramServerNoTakeover = "server_no_context_takeover"
	paramClientNoTakeover = "client_no_context_takeover"
	paramServerBits       = "server_max_window_bits"
	paramClientBits       = "client_max_window_bits"
)

// maxWindowBits is the largest LZ77 window, and the one compress/flate
// always uses.
const maxWindowBits = 15

// bitsNoValue stands for client_max_window_bits without a value, which
// an offer may carry: the client supports the parameter.
const bitsNoValue = -1

// deflateParams are the parameters of one offer or answer as written: a
// window of 0 is a parameter absent.
type deflateParams struct {
	serverNoTakeover, clientNoTakeover bool
	serverBits, clientBits             int
}

// String formats p as an element of Sec-WebSocket-Extensions.
func (p deflateParams) String() string {
	var b strings.Builder
	b.WriteString(extensionName)
	if p.serverNoTakeover {
		b.WriteString("; " + paramServerNoTakeover)
	}
	if p.clientNoTakeover {
		b.WriteString("; " + paramClientNoTakeover)
	}
	if p.serverBits > 0 {
		b.WriteString("; " + paramServerBits + "=" + strconv.Itoa(p.serverBits))
	}
	switch {
	case p.clientBits > 0:
		b.WriteString("; " + paramClientBits + "=" + strconv.Itoa(p.clientBits))
	case p.clientBits == bitsNoValue:
		b.WriteString("; " + paramClientBits)
	}
	return b.String()
}

// option is p as gobwas/ws's Dialer offers it.
func (p deflateParams) option() httphead.Option {
	opt := httphead.Option{Name: []byte(extensionName)}
	if p.serverNoTakeover {
		opt.Parameters.Set([]byte(paramServerNoTakeover), nil)
	}
	if p.clientNoTakeover {
		opt.Parameters.Set([]byte(paramClientNoTakeover), nil)
	}
	if p.serverBits > 0 {
		opt.Parameters.Set([]byte(paramServerBits), []byte(strconv.Itoa(p.serverBits)))
	}
	switch {
	case p.clientBits > 0:
		opt.Parameters.Set([]byte(paramClientBits), []byte(strconv.Itoa(p.clientBits)))
	case p.clientBits == bitsNoValue:
		opt.Parameters.Set([]byte(paramClientBits), nil)
	}
	return opt
}

// parseDeflateParams reads the parameters of one permessage-deflate offer
// (answer false) or answer, strictly (RFC 7692, section 7.1): an unknown
// parameter, a parameter twice, a value where none is allowed, or a window
// size that is not 8 to 15 without leading zeroes is an error.
// client_max_window_bits may lack a value in an offer only.
func parseDeflateParams(opt httphead.Option, answer bool) (deflateParams, error) {
	var p deflateParams
	var seen uint8
	var err error
	opt.Parameters.ForEach(func(k, v []byte) bool {
		var bit uint8
		switch string(k) {
		case paramServerNoTakeover:
			bit = 1
			p.serverNoTakeover = true
			if len(v) > 0 {
				err = fmt.Errorf("%s takes no value, got %q", k, v)
			}
		case paramClientNoTakeover:
			bit = 2
			p.clientNoTakeover = true
			if len(v) > 0 {
				err = fmt.Errorf("%s takes no value, got %q", k, v)
			}
		case paramServerBits:
			bit = 4
			if p.serverBits = windowBits(v); p.serverBits == 0 {
				err = fmt.Errorf("%s must be 8 to 15, got %q", k, v)
			}
		case paramClientBits:
			bit = 8
			switch {
			case len(v) == 0 && !answer:
				p.clientBits = bitsNoValue
			default:
				if p.clientBits = windowBits(v); p.clientBits == 0 {
					err = fmt.Errorf("%s must be 8 to 15, got %q", k, v)
				}
			}
		default:
			err = fmt.Errorf("unknown parameter %q", k)
			return false
		}
		if seen&bit != 0 {
			err = fmt.Errorf("parameter %s twice", k)
		}
		seen |= bit
		return err == nil
	})
	return p, err
}

// windowBits parses a window size, "8" to "15", or returns 0.
func windowBits(v []byte) int {
	switch {
	case len(v) == 1 && v[0] >= '8' && v[0] <= '9':
		return int(v[0] - '0')
	case len(v) == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5':
		return 10 + int(v[1]-'0')
	}
	return 0
}

// check panics on a Compression that no endpoint can use: a programmer's
// mistake, not the peer's.
func (cfg *Compression) check() {
	if cfg.Level < 0 || cfg.Level > 9 {
		panic(fmt.Sprintf("codec: Compression.Level %d is not 1 to 9 (or 0 for 1)", cfg.Level))
	}
	for _, b := range []int{cfg.ServerMaxWindowBits, cfg.ClientMaxWindowBits} {
		if b != 0 && (b < 8 || b > maxWindowBits) {
			panic(fmt.Sprintf("codec: Compression window bits %d is not 8 to 15 (or 0 for 15)", b))
		}
	}
}

// accept picks the first offer of permessage-deflate in offers (the
// elements of the client's Sec-WebSocket-Extensions, in its order of
// preference) and returns the answer, or ok false to decline them all.
// An offer that is malformed, or has an unknown, repeated or invalid
// parameter, is declined and the next one considered (RFC 7692, sections
// 5 and 7.1). Every valid offer can be honored: a smaller window than
// compress/flate's is kept by compressing only the messages that fit in
// it (see Compression).
func (cfg *Compression) accept(offers []string) (deflateParams, bool) {
	cfg.check()
	for _, o := range offers {
		opts, ok := httphead.ParseOptions([]byte(o), nil)
		if !ok {
			continue
		}
		for _, opt := range opts {
			if string(opt.Name) != extensionName {
				continue
			}
			offer, err := parseDeflateParams(opt, false)
			if err != nil {
				continue
			}
			return cfg.answer(offer), true
		}
	}
	return deflateParams{}, false
}

// answer is the server's answer to a valid offer.
func (cfg *Compression) answer(offer deflateParams) deflateParams {
	a := deflateParams{
		// RFC 7692, section 7.1.1.1: the server accepts
		// server_no_context_takeover by echoing it, and may add it
		// unasked. Section 7.1.1.2: it may add client_no_context_takeover
		// unasked, and echoing the client's hint makes it explicit.
		serverNoTakeover: offer.serverNoTakeover || cfg.ServerNoContextTakeover,
		clientNoTakeover: offer.clientNoTakeover || cfg.ClientNoContextTakeover,
		// Section 7.1.2.1: an offered server_max_window_bits is accepted
		// with the same or a smaller value; the server may also limit its
		// window unasked.
		serverBits: offer.serverBits,
	}
	if b := cfg.ServerMaxWindowBits; b != 0 && b < maxWindowBits && (a.serverBits == 0 || b < a.serverBits) {
		a.serverBits = b
	}
	// Section 7.1.2.2: client_max_window_bits may be answered only when
	// offered. An offered value binds the client already; it is echoed.
	if offer.clientBits != 0 {
		limit := offer.clientBits
		if limit == bitsNoValue {
			limit = maxWindowBits
		}
		if b := cfg.ClientMaxWindowBits; b != 0 && b < limit {
			limit = b
		}
		if offer.clientBits != bitsNoValue || limit < maxWindowBits {
			a.clientBits = limit
		}
	}
	return a
}

// effective is the server's view of the parameters it answered.
func (a deflateParams) effective() CompressionParams {
	p := CompressionParams{
		ServerNoContextTakeover: a.serverNoTakeover,
		ClientNoContextTakeover: a.clientNoTakeover,
		ServerMaxWindowBits:     maxWindowBits,
		ClientMaxWindowBits:     maxWindowBits,
	}
	if a.serverBits > 0 {
		p.ServerMaxWindowBits = a.serverBits
	}
	if a.clientBits > 0 {
		p.ClientMaxWindowBits = a.clientBits
	}
	return p
}

// offer is what a Dialer with cfg offers. It always offers
// client_max_window_bits, so that a server that needs a smaller window
// from the client can accept rather than decline.
func (cfg *Compression) offer() deflateParams {
	cfg.check()
	o := deflateParams{
		serverNoTakeover: cfg.ServerNoContextTakeover,
		clientNoTakeover: cfg.ClientNoContextTakeover,
		serverBits:       cfg.ServerMaxWindowBits,
		clientBits:       cfg.ClientMaxWindowBits,
	}
	if o.clientBits == 0 {
		o.clientBits = bitsNoValue
	}
	return o
}

// errBadAnswer words a server's answer that the client must refuse.
var errBadAnswer = errors.New("codec: bad permessage-deflate answer")

// verify checks the server's answer to the offer strictly (RFC 7692,
// section 7.1) and returns the parameters in effect for the client.
// answers are the extensions the server accepted, which gobwas/ws has
// already checked are ones the client offered.
func (cfg *Compression) verify(offer deflateParams, answers []httphead.Option) (deflateParams, CompressionParams, error) {
	if len(answers) > 1 {
		return deflateParams{}, CompressionParams{}, fmt.Errorf("%w: %s accepted %d times", errBadAnswer, extensionName, len(answers))
	}
	a, err := parseDeflateParams(answers[0], true)
	if err != nil {
		return a, CompressionParams{}, fmt.Errorf("%w: %v", errBadAnswer, err)
	}
	// Section 7.1.1.1: a server that accepts an offer of
	// server_no_context_takeover echoes it.
	if offer.serverNoTakeover && !a.serverNoTakeover {
		return a, CompressionParams{}, fmt.Errorf("%w: %s was offered and not accepted", errBadAnswer, paramServerNoTakeover)
	}
	// Section 7.1.2.1: an offered server_max_window_bits is accepted
	// with the same or a smaller value.
	if offer.serverBits > 0 && (a.serverBits == 0 || a.serverBits > offer.serverBits) {
		return a, CompressionParams{}, fmt.Errorf("%w: %s=%d was offered, the answer has %d", errBadAnswer, paramServerBits, offer.serverBits, a.serverBits)
	}
	// Section 7.1.2.2: client_max_window_bits only if offered, and no
	// larger than offered.
	if a.clientBits > 0 {
		limit := offer.clientBits
		if limit == bitsNoValue {
			limit = maxWindowBits
		}
		if limit == 0 || a.clientBits > limit {
			return a, CompressionParams{}, fmt.Errorf("%w: %s=%d answers an offer of %s", errBadAnswer, paramClientBits, a.clientBits, offer)
		}
	}
	p := a.effective()
	// The client keeps its own promises whatever the answer says.
	p.ClientNoContextTakeover = p.ClientNoContextTakeover || offer.clientNoTakeover
	if a.clientBits == 0 && offer.clientBits > 0 {
		p.ClientMaxWindowBits = offer.clientBits
	}
	return a, p, nil
}

// Extensions returns the Sec-WebSocket-Extensions value agreed in the
// handshake, as the server answered it, or "" when no extension is in use.
func (c *Conn) Extensions() string {
	if c.fl == nil {
		return ""
	}
	return c.fl.ext
}

// Compression returns the permessage-deflate parameters in effect, and
// whether permessage-deflate was agreed.
func (c *Conn) Compression() (CompressionParams, bool) {
	if c.fl == nil {
		return CompressionParams{}, false
	}
	return c.fl.params, true
}

// deflateAgreement is what an Upgrader agreed: the settings it used and
// its answer.
type deflateAgreement struct {
	cfg    *Compression
	answer deflateParams
}

// negotiateDeflate answers the client's offers of permessage-deflate with
// the Compression in force for this handshake, or returns nil to decline.
func (u *Upgrader) negotiateDeflate(req *Request, resp *Response) *deflateAgreement {
	cfg := u.Compression
	if resp.Compression != nil {
		cfg = resp.Compression
	}
	if cfg == nil {
		return nil
	}
	answer, ok := cfg.accept(req.Extensions)
	if !ok {
		return nil
	}
	return &deflateAgreement{cfg: cfg, answer: answer}
}
