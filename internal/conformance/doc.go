// Package conformance is a WebSocket conformance suite that runs inside go
// test against any echo server. It is written from RFC 6455 and follows the
// case categories of the Autobahn|Testsuite (with their numbering): framing
// (1), pings and pongs (2), reserved bits (3), opcodes (4), fragmentation
// (5), UTF-8 (6), closing (7), large messages (9), the server's message
// size limit (10), and permessage-deflate (RFC 7692): compressed messages
// (12) and the extension's parameters and negotiation (13).
//
// The compression cases run when the target says it compresses
// (Target.Compression). The harness then plays a strict client: it checks
// the server's answer to each offer against RFC 7692 section 7.1, and
// compresses and inflates with its own DEFLATE code, which uses the whole
// window the server allowed it and checks that the server keeps to the
// window and the context takeover it agreed to, as compress/flate cannot.
//
// The suite is black-box: it speaks raw bytes over TCP, does the opening
// handshake itself, and writes frames that no WebSocket library would write
// (unmasked, with RSV bits, reserved opcodes, invalid UTF-8, split across
// TCP writes of any size). It reads the server's frames strictly, and every
// case checks one exact outcome: the echo of a message, a pong, or a close
// with a given code followed by the server closing the TCP connection.
//
// What the suite holds a server to, beyond the echo itself: it fails a
// connection with a close frame carrying the exact code (1002 for a protocol
// error, 1007 for invalid UTF-8, 1009 for a message over its limit), never
// with a bare TCP close; it sends nothing after its close frame; and it
// closes the TCP connection within 3 seconds of the closing handshake. A
// server that closes its socket with client data still unread makes the
// kernel reset the connection, which can destroy its close frame in flight:
// it should drain its input (a lingering close) as the test server in this
// package does.
//
// A test runs the whole suite against a server with
//
//	conformance.Run(t, conformance.Target{Addr: addr, MaxMessageSize: 1 << 20})
//
// which runs each case as a subtest named after its ID and name, so that
// -run selects cases: -run 'TestEcho/5\.' runs the fragmentation cases. The
// compression cases of a server that compresses run with
//
//	conformance.RunCases(t, conformance.Target{Addr: addr, Compression: true}, conformance.CompressionCases())
package conformance
