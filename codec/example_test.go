package codec_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

// serve accepts one connection on ln and upgrades it with u.
func serve(ln net.Listener, u *codec.Upgrader, handle func(*codec.Conn)) {
	nc, err := ln.Accept()
	if err != nil {
		return
	}
	c, _, err := u.Upgrade(nc)
	if err != nil {
		nc.Close()
		return
	}
	handle(c)
}

// A server that greets by subprotocol, and a client that dials it.
func ExampleUpgrader_Upgrade() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()

	u := &codec.Upgrader{
		Options: codec.Options{MaxMessageSize: 1 << 20},
		// Decide runs before any byte of the answer is written.
		Decide: func(req *codec.Request) (*codec.Response, error) {
			if req.Path != "/chat" {
				return nil, &codec.RejectError{Status: http.StatusNotFound, Body: "no such room"}
			}
			for _, p := range req.Protocols {
				if p == "chat.v2" {
					return &codec.Response{Protocol: p}, nil
				}
			}
			return nil, nil
		},
	}
	go serve(ln, u, func(c *codec.Conn) {
		c.WriteMessage(codec.Text, []byte("welcome, "+c.Subprotocol()))
		c.Close(codec.CloseNormal, "bye")
	})

	d := &codec.Dialer{Protocols: []string{"chat.v1", "chat.v2"}}
	c, hs, err := d.Dial(context.Background(), "ws://"+ln.Addr().String()+"/chat")
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	_, msg, _ := c.ReadMessage()
	fmt.Printf("subprotocol %s: %s\n", hs.Protocol, msg)
	_, _, err = c.ReadMessage()
	var ce *codec.CloseError
	if errors.As(err, &ce) {
		fmt.Println("closed:", ce.Code, ce.Reason)
	}
	// Output:
	// subprotocol chat.v2: welcome, chat.v2
	// closed: 1000 (normal closure) bye
}

// A refused handshake is a *StatusError with the server's status and body.
func ExampleDialer_Dial_refused() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go serve(ln, &codec.Upgrader{Decide: func(*codec.Request) (*codec.Response, error) {
		return nil, &codec.RejectError{Status: http.StatusUnauthorized, Body: "token required"}
	}}, nil)

	_, _, err = (&codec.Dialer{HandshakeTimeout: 5 * time.Second}).Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	var se *codec.StatusError
	if errors.As(err, &se) {
		fmt.Println(se.Status, string(se.Body))
	}
	// Output:
	// 401 token required
}

// Echo serves a Conn as an echo endpoint; frames keep their shape.
func ExampleEcho() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go serve(ln, &codec.Upgrader{}, func(c *codec.Conn) { codec.Echo(c) })

	c, _, err := (&codec.Dialer{}).Dial(context.Background(), "ws://"+ln.Addr().String()+"/")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(codec.CloseNormal, "")
	// A message in two frames: BufferFrame queues, Flush sends both at once.
	c.BufferFrame(false, codec.OpText, []byte("hello, "))
	c.BufferFrame(true, codec.OpContinuation, []byte("world"))
	c.Flush()
	typ, msg, _ := c.ReadMessage()
	fmt.Println(typ, string(msg))
	// Output:
	// text hello, world
}
