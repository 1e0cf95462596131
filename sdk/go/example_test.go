package wasmgate_test

import (
	"fmt"
	"strings"

	wasmgate "github.com/wasmgate/wasmgate/sdk/go"
)

// counter counts the text messages of each connection, and closes a
// connection after the limit its configuration sets.
type counter struct {
	wasmgate.Base // the defaults of Start, Open, Close and Tick
	limit         int
}

func (f *counter) Start(cfg wasmgate.Config) error {
	var c struct {
		Limit int `json:"limit"`
	}
	c.Limit = 100
	if err := cfg.Decode(&c); err != nil {
		return err
	}
	f.limit = c.Limit
	return nil
}

func (f *counter) Message(c *wasmgate.Conn, m *wasmgate.Message) {
	if m.Type() != wasmgate.Text || m.FromUpstream() {
		return
	}
	n, _ := c.Data.(int)
	n++
	c.Data = n
	if n > f.limit {
		if err := c.Close(4008, "too many messages"); err != nil {
			wasmgate.Errorf("close: %v", err)
		}
	}
}

// A plugin registers its filter in an init function; its main is empty.
// Build it with GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared.
func Example() {
	// In the plugin's main package:
	//
	//	func init() { wasmgate.Register(&counter{}) }
	//
	//	func main() {}
	var _ wasmgate.Filter = &counter{}
}

// Base gives every Filter method the ABI's default, so a filter that
// embeds it writes only what it needs.
func ExampleBase() {
	type gate struct{ wasmgate.Base }
	var f wasmgate.Filter = gate{}
	fmt.Println(f.Start(wasmgate.Config{}), f.Open(nil, nil))
	// Output: <nil> continue
}

// The types print as the ABI names them.
func ExampleMessageType() {
	names := []string{}
	for _, t := range []wasmgate.MessageType{wasmgate.Text, wasmgate.Binary} {
		names = append(names, t.String())
	}
	fmt.Println(strings.Join(names, " "), wasmgate.LevelWarn, wasmgate.Reject)
	// Output: text binary warn reject
}
