// Package codec implements the WebSocket protocol (RFC 6455) for both roles:
// accepting an upgrade on a server and dialing as a client, reading and
// writing frames and whole messages, ping/pong, and the close handshake.
// It also speaks permessage-deflate (RFC 7692), negotiated per connection
// with Upgrader.Compression and Dialer.Compression: compressed messages
// are inflated as they are read, with the size limit applied to the
// inflated data, and WriteMessage compresses what is worth it.
//
// It is the wire layer of wasmgate, and a WebSocket library in its own right:
// nothing in it knows about proxies or plugins.
//
// A Conn is strict by default. Every rule that RFC 6455 places on the peer is
// checked as frames arrive: masking per role, reserved bits, opcodes, control
// frame sizes and fragmentation, continuation sequencing, close codes, UTF-8
// of text messages and close reasons (fail-fast, across fragment
// boundaries), and frame and message size limits. A violation fails the
// connection with the close code the RFC prescribes (1002, 1007 or 1009),
// and the read returns a *ProtocolError.
//
// Reads and writes allocate nothing per message in steady state: buffers come
// from pools, payloads are unmasked in place, and an idle Conn holds no large
// buffer (nor, with permessage-deflate, a compressor, unless context
// takeover keeps one: see Compression). Payload slices returned by reads
// are borrowed: they are valid only until the next read on the same Conn.
//
// The handshake parsing and the frame cipher come from github.com/gobwas/ws.
package codec
