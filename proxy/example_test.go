package proxy_test

import (
	"context"
	"fmt"
	"log"
	"net"

	"github.com/wasmgate/wasmgate/codec"
	"github.com/wasmgate/wasmgate/proxy"
	"github.com/wasmgate/wasmgate/proxy/config"
)

// A proxy in front of an echo server, configured from HCL in memory.
func Example() {
	// The upstream: an echo server.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				if c, _, err := (&codec.Upgrader{}).Upgrade(nc); err == nil {
					codec.Echo(c)
				} else {
					nc.Close()
				}
			}()
		}
	}()

	src := fmt.Sprintf(`
listener "public" { address = "127.0.0.1:0" }
upstream "echo"   { servers = ["ws://%s"] }
route "all"       { upstream = "echo" }
`, ln.Addr())
	cfg, diags := config.Parse([]byte(src), "example.hcl", ".")
	if diags.HasErrors() {
		log.Fatal(diags)
	}
	p := proxy.New(cfg, nil)
	if err := p.Start(); err != nil {
		log.Fatal(err)
	}
	defer p.Shutdown(context.Background())

	c, _, err := (&codec.Dialer{}).Dial(context.Background(), "ws://"+p.Addr("public").String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(codec.CloseNormal, "")
	c.WriteMessage(codec.Text, []byte("through the proxy"))
	_, msg, _ := c.ReadMessage()
	fmt.Println(string(msg))
	// Output:
	// through the proxy
}
