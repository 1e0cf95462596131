package codec_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"strings"

	"github.com/wasmgate/wasmgate/codec"
)

// permessage-deflate on both ends: the server imposes no context takeover
// on itself (it then holds no compressor between messages), the client
// asks for a smaller window from the server. Messages are compressed and
// inflated transparently.
func ExampleUpgrader_compression() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	u := &codec.Upgrader{
		Options:     codec.Options{MaxMessageSize: 1 << 20}, // applies to the inflated size
		Compression: &codec.Compression{ServerNoContextTakeover: true},
	}
	go serve(ln, u, func(c *codec.Conn) {
		typ, msg, err := c.ReadMessage()
		if err == nil {
			c.WriteMessage(typ, []byte(strings.ToUpper(string(msg))))
		}
		c.Close(codec.CloseNormal, "")
	})

	d := &codec.Dialer{Compression: &codec.Compression{ServerMaxWindowBits: 12}}
	c, hs, err := d.Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	fmt.Println(hs.Extensions)
	params, _ := c.Compression()
	fmt.Printf("%+v\n", params)
	c.WriteMessage(codec.Text, []byte(strings.Repeat("compress me! ", 20)))
	_, msg, _ := c.ReadMessage()
	fmt.Println(string(msg[:24]))
	// Output:
	// permessage-deflate; server_no_context_takeover; server_max_window_bits=12
	// {ServerNoContextTakeover:true ClientNoContextTakeover:false ServerMaxWindowBits:12 ClientMaxWindowBits:15}
	// COMPRESS ME! COMPRESS ME
}
