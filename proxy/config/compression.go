package config

// Compression is a route's permessage-deflate (RFC 7692): the proxy
// accepts a client's offer and offers it to the upstream, each leg
// negotiating on its own, so that filters always see whole uncompressed
// messages.
type Compression struct {
	// Threshold: messages shorter than this many bytes are sent
	// uncompressed (compression_threshold, default 128 bytes).
	Threshold int64
	// WindowBits, 8 to 15, bounds the LZ77 window of the peers'
	// compressors, and so the memory wasmgate needs to inflate what they
	// send (compression_window_bits, default 15): the client_max_window_bits
	// asked of clients that offer the parameter, the server_max_window_bits
	// offered to upstreams.
	WindowBits int
	// ContextTakeover keeps each connection's compression state between
	// messages (compression_context_takeover, default false): a better
	// ratio on small similar messages, for up to a few hundred KiB more
	// per connection on each side that sends compressed messages. Without
	// it the proxy asks both peers to compress each message on its own,
	// and its own compressors come from a pool.
	ContextTakeover bool
}

// Defaults of a route's compression.
const (
	defaultCompressionThreshold = 128
	defaultWindowBits           = 15
)

// routeCompression checks a route's compression attributes.
func (l *loader) routeCompression(b *routeBody) *Compression {
	on := b.Compression != nil && *b.Compression
	c := &Compression{Threshold: defaultCompressionThreshold, WindowBits: defaultWindowBits}
	if n, ok := l.size(b.CompressionThreshold, b.CompressionThresholdRange, "compression_threshold", 0, 0); ok {
		c.Threshold = n
	}
	if b.CompressionWindowBits != nil && !l.failed(b.CompressionWindowBitsRange) {
		v := *b.CompressionWindowBits
		if v < 8 || v > 15 || v != float64(int(v)) {
			l.errorf(b.CompressionWindowBitsRange, "Invalid compression_window_bits",
				"compression_window_bits = %s is not a window size: give a whole number from 8 "+
					"to 15, the base-2 logarithm of the LZ77 window (15 is 32 KiB, the "+
					"largest and the default).", formatNumber(v))
		} else {
			c.WindowBits = int(v)
		}
	}
	if b.CompressionContextTakeover != nil {
		c.ContextTakeover = *b.CompressionContextTakeover
	}
	if on {
		return c
	}
	for _, a := range []struct {
		set  bool
		name string
	}{
		{b.CompressionThreshold != nil, "compression_threshold"},
		{b.CompressionWindowBits != nil, "compression_window_bits"},
		{b.CompressionContextTakeover != nil, "compression_context_takeover"},
	} {
		if a.set {
			l.warnf(b.DefRange, "Compression settings unused",
				"Route %q sets %s but not compression = true, so it has no effect. "+
					"Turn compression on, or remove the setting.", b.Name, a.name)
			break
		}
	}
	return nil
}
