package examples_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/wasmgate/wasmgate/codec"
)

// validateMessages have the shape examples/validate/wasmgate.hcl declares.
var validateMessages = []string{
	`{"type":"chat","id":1,"payload":{"text":"hi"}}`,
	` {"id": -2.5e1, "type": "ping"} `,
	`{"type":"t\u00e9","id":3,"payload":{"deep":[[{"x":null}]]}}`,
}

// validateViolation is a message that breaks that shape; detail is what
// the filter says of it.
type validateViolation struct {
	name    string
	typ     codec.MessageType
	payload string
	detail  string
}

// validateViolations break the shape one way each.
var validateViolations = []validateViolation{
	{"not JSON", codec.Text, `hello`, "invalid JSON at byte 0"},
	{"truncated", codec.Text, `{"type":"chat","id":1`, "invalid JSON at byte 21"},
	{"not an object", codec.Text, `["chat",1]`, "not an object"},
	{"missing field", codec.Text, `{"type":"chat"}`, "missing field id"},
	{"wrong type", codec.Text, `{"type":"chat","id":"1"}`, "field id: want number, got string"},
	{"unknown field", codec.Text, `{"type":"chat","id":1,"admin":true}`, "unknown field admin"},
	{"duplicate field", codec.Text, `{"type":"chat","id":1,"id":"x"}`, "duplicate field id"},
	{"binary", codec.Binary, "\x00\x01", "binary message"},
}

// TestValidateDrop runs the /chat route of examples/validate: valid
// messages are echoed unchanged; each violation goes no further and is
// answered with an error message, and the connection stays usable.
func TestValidateDrop(t *testing.T) {
	e := startExample(t, "validate", nil)
	c := e.mustDial(t, "/chat", nil)
	for _, m := range validateMessages {
		validateEcho(t, c, m)
	}
	deep := `{"type":"deep","id":1,"payload":` + strings.Repeat("[", 32) + strings.Repeat("]", 32) + `}`
	for _, v := range append(slices.Clip(validateViolations),
		validateViolation{"too deep", codec.Text, deep, "nesting deeper than 32"}) {
		t.Run(v.name, func(t *testing.T) {
			send(t, c, v.typ, v.payload)
			expect(t, c, codec.Text, `{"error":"invalid message","detail":"`+v.detail+`"}`)
			// Had the violation gone upstream, its echo would come first.
			validateEcho(t, c, validateMessages[0])
		})
	}

	counts := map[string]int64{}
	for _, m := range e.Proxy.Plugins().Metrics().Snapshot() {
		if m.Plugin == "validate" {
			counts[m.Name] = m.Value
		}
	}
	wantPassed := int64(len(validateMessages) + len(validateViolations) + 1)
	if counts["validate_passed"] != wantPassed || counts["validate_violations"] != int64(len(validateViolations)+1) {
		t.Errorf("metrics %v, want %d passed and %d violations", counts, wantPassed, len(validateViolations)+1)
	}
}

// TestValidateClose runs the /strict route of examples/validate: valid
// messages are echoed unchanged, and each violation closes the
// connection with 1008 and the violation as the reason.
func TestValidateClose(t *testing.T) {
	e := startExample(t, "validate", nil)
	c := e.mustDial(t, "/strict", nil)
	for _, m := range validateMessages {
		validateEcho(t, c, m)
	}
	deep := `{"type":"deep","id":1,"payload":` + strings.Repeat("[", 8) + strings.Repeat("]", 8) + `}`
	long := `{"type":"chat","id":1,"` + strings.Repeat("k", 200) + `":0}`
	for _, v := range append(slices.Clip(validateViolations),
		validateViolation{"too deep", codec.Text, deep, "nesting deeper than 8"},
		// A member name the client wrote is cut so that the reason fits.
		validateViolation{"long name", codec.Text, long, "unknown field " + strings.Repeat("k", 64) + "..."}) {
		t.Run(v.name, func(t *testing.T) {
			c := e.mustDial(t, "/strict", nil)
			send(t, c, v.typ, v.payload)
			ce := closed(t, c)
			if want := "invalid message: " + v.detail; ce.Code != codec.ClosePolicyViolation || ce.Reason != want {
				t.Errorf("closed with %d %q, want 1008 %q", ce.Code, ce.Reason, want)
			}
		})
	}
}

// validateEcho sends a text message and requires it back unchanged.
func validateEcho(t *testing.T, c *codec.Conn, payload string) {
	t.Helper()
	send(t, c, codec.Text, payload)
	expect(t, c, codec.Text, payload)
}
