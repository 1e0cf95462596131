package netpoll

import (
	"net"
	"syscall"
	"testing"
	"time"
)

func socketPair(t *testing.T) (net.Conn, syscall.RawConn) {
	t.Helper()
	if !Supported() {
		t.Skip("no poller on this platform")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close(); nc.Close() })
	raw, err := nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return peer, raw
}

func TestWatch_FiresOnceOnInput(t *testing.T) {
	peer, raw := socketPair(t)
	fired := make(chan struct{}, 2)
	if err := Watch(raw, func() { fired <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-fired:
		t.Fatal("fired before any input")
	case <-time.After(20 * time.Millisecond):
	}
	peer.Write([]byte("x"))
	select {
	case <-fired:
	case <-time.After(10 * time.Second):
		t.Fatal("input did not fire the watch")
	}
	// One-shot: unread input does not fire it again.
	peer.Write([]byte("y"))
	select {
	case <-fired:
		t.Fatal("a one-shot watch fired twice")
	case <-time.After(20 * time.Millisecond):
	}
	if Cancel(raw) {
		t.Fatal("Cancel after firing reported a pending watch")
	}
	// Level-triggered: watching again with input waiting fires at once.
	if err := Watch(raw, func() { fired <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-fired:
	case <-time.After(10 * time.Second):
		t.Fatal("waiting input did not fire a new watch")
	}
	Cancel(raw)
}

func TestCancel_StopsAPendingWatch(t *testing.T) {
	peer, raw := socketPair(t)
	fired := make(chan struct{}, 1)
	if err := Watch(raw, func() { fired <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	if !Cancel(raw) {
		t.Fatal("Cancel of a pending watch reported none")
	}
	peer.Write([]byte("x"))
	select {
	case <-fired:
		t.Fatal("a canceled watch fired")
	case <-time.After(20 * time.Millisecond):
	}
}

func TestWatch_HangupFires(t *testing.T) {
	peer, raw := socketPair(t)
	fired := make(chan struct{}, 1)
	if err := Watch(raw, func() { fired <- struct{}{} }); err != nil {
		t.Fatal(err)
	}
	peer.Close()
	select {
	case <-fired:
	case <-time.After(10 * time.Second):
		t.Fatal("the peer's close did not fire the watch")
	}
	Cancel(raw)
}
