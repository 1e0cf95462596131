// Package wasmgate is the Go SDK for wasmgate filter plugins: WebAssembly
// modules that wasmgate runs on the handshakes and messages of the
// WebSocket connections it proxies. It implements the plugin ABI, version
// 1 (sdk/ABI.md), with the standard Go toolchain; a plugin writes a Filter
// and never sees the ABI's context ids, pointers or codes.
//
// # Writing a plugin
//
// A plugin is a main package whose init function registers one Filter,
// and whose main function is empty (wasmgate calls the filter's methods;
// main never runs). Embed Base to get the default of each method and
// write only those you need:
//
//	package main
//
//	import (
//		"bytes"
//
//		wasmgate "github.com/wasmgate/wasmgate/sdk/go"
//	)
//
//	// shout upper-cases the text messages of clients that present the
//	// configured token.
//	type shout struct {
//		wasmgate.Base
//		token    string
//		messages wasmgate.Counter
//	}
//
//	func (s *shout) Start(cfg wasmgate.Config) error {
//		var c struct{ Token string }
//		if err := cfg.Decode(&c); err != nil {
//			return err
//		}
//		s.token = c.Token
//		var err error
//		s.messages, err = wasmgate.NewCounter("shouted_messages")
//		return err
//	}
//
//	func (s *shout) Open(c *wasmgate.Conn, r *wasmgate.Request) wasmgate.Action {
//		if tok, _ := r.Header("x-token"); tok != s.token {
//			return r.Reject(401, []byte("bad token"))
//		}
//		return wasmgate.Continue
//	}
//
//	func (s *shout) Message(c *wasmgate.Conn, m *wasmgate.Message) {
//		if m.Type() == wasmgate.Text && !m.FromUpstream() {
//			if err := m.Replace(wasmgate.Text, bytes.ToUpper(m.Bytes())); err != nil {
//				wasmgate.Warnf("replace: %v", err)
//			}
//			s.messages.Add(1)
//		}
//	}
//
//	func init() { wasmgate.Register(&shout{}) }
//
//	func main() {}
//
// Build it as a WASI reactor with the standard toolchain (Go 1.24 or
// later; TinyGo is not needed):
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o shout.wasm .
//
// and name the file in a plugin block of wasmgate's configuration. The
// config attribute of that block reaches Start as JSON (Config.Decode).
//
// # The life of an instance
//
// wasmgate makes a few instances of each plugin. In each, it first calls
// the module's initializer (running the init functions, and so Register),
// then Filter.Start once. Each connection stays on one instance for its
// life: Open on the handshake, Message for each data message (in both
// directions, Message.FromUpstream tells which), Tick for the timers the
// filter set, and Close when it ends. The SDK keeps a Conn per connection;
// put the filter's own state for it in Conn.Data.
//
// An instance runs one method at a time, on one thread, so a filter needs
// no locks; its methods must not block (no channels, sleeps or goroutines
// that the method waits for). A panic, a method that runs past the
// plugin's deadline or memory that grows past its cap discards the
// instance; wasmgate starts a fresh one and applies the plugin's on_error
// policy to the connections it served.
//
// # Memory and validity
//
// A Request is valid only during Open and a Message only during its call
// of Message: after that they return zero values and ErrWrongHook without
// reaching the host (which would take them for the current hook's). Message.Bytes returns a buffer
// the SDK reuses for every message, so a filter that only inspects
// payloads allocates nothing per message. The functions that need a
// particular hook (sending, closing, defining metrics) return ErrWrongHook
// when called from another.
//
// The module exports wasmgate_abi_v1 and all five hooks, so wasmgate
// assembles messages on the plugin's routes rather than streaming frames.
package wasmgate
