// Command redact is the Go build of the redact example: a filter that
// masks card numbers and the local parts of e-mail addresses in the text
// messages of both directions, exactly as examples/redact/SPEC.md says.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags='-s -w' -o redact.wasm .
package main

import wasmgate "github.com/wasmgate/wasmgate/sdk/go"

type filter struct {
	wasmgate.Base
	redactor
}

func (f *filter) Message(_ *wasmgate.Conn, m *wasmgate.Message) {
	if m.Type() != wasmgate.Text {
		return
	}
	out, changed := f.redact(m.Bytes())
	if !changed {
		return
	}
	if err := m.Replace(wasmgate.Text, out); err != nil {
		// Masking keeps UTF-8 valid, so this is the route's size limit: a
		// local part of one or two bytes becomes three. Letting the
		// original through would leak what the filter is there to hide.
		wasmgate.Log(wasmgate.LevelWarn, "redacted message not sent: "+err.Error())
		if err := m.Drop(); err != nil {
			wasmgate.Log(wasmgate.LevelError, "drop: "+err.Error())
		}
	}
}

func init() { wasmgate.Register(&filter{}) }

func main() {}
