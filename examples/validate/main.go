// Command validate is a filter that lets through only the JSON messages
// of a declared shape, in the configured direction, and drops the others
// or closes their connection. See README.md for its configuration.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags='-s -w' -o validate.wasm .
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"

	wasmgate "github.com/wasmgate/wasmgate/sdk/go"
)

// config is the plugin's configuration; Start fills in the defaults.
type config struct {
	// Fields maps each declared member to its type: string, number,
	// integer, boolean, object, array, null or any.
	Fields map[string]string `json:"fields"`
	// Required lists the members a message must have.
	Required []string `json:"required"`
	// AllowUnknown lets members that Fields does not declare through.
	AllowUnknown bool `json:"allow_unknown"`
	// AllowBinary lets binary messages through, unchecked.
	AllowBinary bool `json:"allow_binary"`
	// OnViolation is "drop" or "close".
	OnViolation string `json:"on_violation"`
	// ErrorReply, with "drop", answers each dropped message with an
	// error message to its sender.
	ErrorReply bool `json:"error_reply"`
	// MaxDepth bounds the nesting of objects and arrays, the message's
	// own object being 1.
	MaxDepth int `json:"max_depth"`
	// Direction is "client_to_upstream", "upstream_to_client" or "both".
	Direction string `json:"direction"`
}

var defaultConfig = config{
	AllowUnknown: true,
	OnViolation:  "drop",
	ErrorReply:   true,
	MaxDepth:     32,
	Direction:    "client_to_upstream",
}

// closePolicyViolation is the close code of a connection closed for a
// message that breaks the schema (RFC 6455, 7.4.1).
const closePolicyViolation = 1008

// maxCloseReason is the longest close reason a close frame can carry.
const maxCloseReason = 123

var errBinary = errors.New("binary message")

type validate struct {
	wasmgate.Base
	schema            *schema
	allowBinary       bool
	closeConn         bool // on a violation: close, rather than drop
	errorReply        bool
	toUpstream        bool // check client-to-upstream messages
	toClient          bool // check upstream-to-client messages
	passed, violating wasmgate.Counter
	// replyBuf holds the error reply, rebuilt for each violation.
	replyBuf []byte
}

func (v *validate) Start(raw wasmgate.Config) error {
	cfg := defaultConfig
	dec := json.NewDecoder(bytes.NewReader(raw.Bytes()))
	// A misspelt option must stop the proxy, not leave a check off.
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return errors.New("config: " + err.Error())
	}
	kinds := make(map[string]kind, len(cfg.Fields))
	for name, typ := range cfg.Fields {
		k, ok := parseKind(typ)
		if !ok {
			return errors.New("config.fields." + name + ": unknown type " + strconv.Quote(typ) +
				"; want string, number, integer, boolean, object, array, null or any")
		}
		kinds[name] = k
	}
	if cfg.MaxDepth < 1 {
		return errors.New("config.max_depth must be at least 1")
	}
	s, err := newSchema(kinds, cfg.Required, cfg.AllowUnknown, cfg.MaxDepth)
	if err != nil {
		return errors.New("config: " + err.Error())
	}
	switch cfg.OnViolation {
	case "drop", "close":
	default:
		return errors.New(`config.on_violation: want "drop" or "close", not ` + strconv.Quote(cfg.OnViolation))
	}
	switch cfg.Direction {
	case "client_to_upstream":
		v.toUpstream = true
	case "upstream_to_client":
		v.toClient = true
	case "both":
		v.toUpstream, v.toClient = true, true
	default:
		return errors.New(`config.direction: want "client_to_upstream", "upstream_to_client" or "both", not ` + strconv.Quote(cfg.Direction))
	}
	v.schema, v.allowBinary = s, cfg.AllowBinary
	v.closeConn, v.errorReply = cfg.OnViolation == "close", cfg.ErrorReply
	if v.passed, err = wasmgate.NewCounter("validate_passed"); err != nil {
		return err
	}
	v.violating, err = wasmgate.NewCounter("validate_violations")
	return err
}

func (v *validate) Message(c *wasmgate.Conn, m *wasmgate.Message) {
	checked := v.toUpstream
	if m.FromUpstream() {
		checked = v.toClient
	}
	if !checked {
		return
	}
	var violation error
	if m.Type() == wasmgate.Binary {
		if v.allowBinary {
			v.passed.Add(1)
			return
		}
		violation = errBinary
	} else {
		violation = v.schema.check(m.Bytes())
	}
	if violation == nil {
		v.passed.Add(1)
		return
	}
	v.violating.Add(1)
	// The message goes no further either way: a close lets the message
	// being handled through unless it is dropped.
	if err := m.Drop(); err != nil {
		wasmgate.Log(wasmgate.LevelError, "drop: "+err.Error())
	}
	detail := violation.Error()
	if v.closeConn {
		if err := c.Close(closePolicyViolation, truncate("invalid message: "+detail, maxCloseReason)); err != nil {
			wasmgate.Log(wasmgate.LevelError, "close: "+err.Error())
		}
		return
	}
	if !v.errorReply {
		return
	}
	v.replyBuf = append(v.replyBuf[:0], `{"error":"invalid message","detail":`...)
	v.replyBuf = appendJSONString(v.replyBuf, detail)
	v.replyBuf = append(v.replyBuf, '}')
	send := c.SendToClient
	if m.FromUpstream() {
		send = c.SendToUpstream
	}
	if err := send(wasmgate.Text, v.replyBuf); err != nil {
		wasmgate.Log(wasmgate.LevelWarn, "error reply: "+err.Error())
	}
}

// truncate cuts s to at most n bytes at a character boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// appendJSONString appends s, which is UTF-8, as a JSON string.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}

func init() { wasmgate.Register(&validate{}) }

func main() {}
