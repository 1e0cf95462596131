package wasmgate

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/wasmgate/wasmgate/sdk/abi"
)

// Filter is a plugin's filter: the SDK calls its methods from the ABI's
// hooks. Embed Base to get the default of every method and write only
// those the filter needs.
//
// The methods run one at a time, never concurrently, and must not block:
// a goroutine that waits (on a channel, a lock or time.Sleep) while the
// host is in a hook stops the instance.
type Filter interface {
	// Start is called once per instance, after the module's
	// initialization and before any connection, with the plugin's
	// configuration. It is the only place to define metrics. A non-nil
	// error refuses the plugin: at startup wasmgate does not start, on a
	// reload the old configuration stays.
	Start(cfg Config) error
	// Open is called on each handshake, before the upstream is dialed,
	// and again (with r.Reopened() set) when the plugin was replaced on a
	// live connection. It returns Continue to let the handshake go on or
	// Reject to refuse the client (see Request.Reject). A connection that
	// Open rejects, or closes with c.Close, gets no Close.
	Open(c *Conn, r *Request) Action
	// Message is called for each data message, in order. Without a call to
	// m.Replace or m.Drop the message goes on unchanged.
	Message(c *Conn, m *Message)
	// Close is called once per connection that was let through Open,
	// when it ends. After it the SDK forgets c.
	Close(c *Conn, e CloseEvent)
	// Tick is called when a timer fires: one set with c.SetTick, or, with
	// c nil, one set with the package's SetTick.
	Tick(c *Conn)
}

// Base implements every method of Filter with the ABI's default: Start
// succeeds, Open continues, the others do nothing. Embed it in a filter.
type Base struct{}

// Start returns nil.
func (Base) Start(Config) error { return nil }

// Open returns Continue.
func (Base) Open(*Conn, *Request) Action { return Continue }

// Message lets the message pass unchanged.
func (Base) Message(*Conn, *Message) {}

// Close does nothing.
func (Base) Close(*Conn, CloseEvent) {}

// Tick does nothing.
func (Base) Tick(*Conn) {}

// Action is what Filter.Open decides about a handshake.
type Action int32

const (
	// Continue lets the handshake go on to the next filter, then the
	// upstream.
	Continue Action = abi.ActionContinue
	// Reject refuses the client with the status, headers and body given
	// with Request.Reject and Request.RejectHeader (403 with an empty body
	// without them). Later filters do not run.
	Reject Action = abi.ActionReject
)

// String returns "continue" or "reject".
func (a Action) String() string {
	switch a {
	case Continue:
		return "continue"
	case Reject:
		return "reject"
	}
	return "Action(" + strconv.Itoa(int(a)) + ")"
}

// MessageType is the type of a WebSocket data message.
type MessageType int32

const (
	// Text is a text message: its payload is UTF-8.
	Text MessageType = abi.TypeText
	// Binary is a binary message.
	Binary MessageType = abi.TypeBinary
)

// String returns "text" or "binary".
func (t MessageType) String() string {
	switch t {
	case Text:
		return "text"
	case Binary:
		return "binary"
	}
	return "MessageType(" + strconv.Itoa(int(t)) + ")"
}

func (t MessageType) valid() bool { return t == Text || t == Binary }

// Header is one request header: a name (in lower case, as the host gives
// it) and one value.
type Header struct {
	Name, Value string
}

// CloseEvent says how a connection ended.
type CloseEvent struct {
	// ByUpstream is set when the upstream side ended the connection,
	// clear when the client did.
	ByUpstream bool
	// Abnormal is set when that side vanished without a close frame; Code
	// is then 1006.
	Abnormal bool
	// Code is the close code, 1005 when the close frame had none.
	Code uint16
	// Reason is the close reason.
	Reason string
}

// Config is the plugin's configuration: the config attribute of its HCL
// block, as JSON.
type Config struct {
	raw []byte
}

// Bytes returns the configuration as JSON: "null" when the plugin has
// none. The slice is the caller's.
func (c Config) Bytes() []byte {
	if c.raw == nil {
		return []byte("null")
	}
	return bytes.Clone(c.raw)
}

// Decode unmarshals the configuration into v with encoding/json. A plugin
// without configuration leaves v unchanged.
func (c Config) Decode(v any) error {
	raw := c.raw
	if raw == nil {
		raw = []byte("null")
	}
	return json.Unmarshal(raw, v)
}

// Level is the level of a log line.
type Level int32

// The log levels.
const (
	LevelDebug Level = abi.LogDebug
	LevelInfo  Level = abi.LogInfo
	LevelWarn  Level = abi.LogWarn
	LevelError Level = abi.LogError
)

// String returns "debug", "info", "warn" or "error".
func (l Level) String() string {
	switch l {
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	}
	return "Level(" + strconv.Itoa(int(l)) + ")"
}

// clamp returns the nearest level the ABI defines: the host traps on any
// other value.
func (l Level) clamp() Level {
	return min(max(l, LevelDebug), LevelError)
}
