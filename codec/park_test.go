package codec

import (
	"errors"
	"net"
	"runtime"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// readOrPark reads frames from c, parking whenever it goes idle, until a
// read fails with something else or yields a frame. It counts the parks.
func readOrPark(t *testing.T, c *Conn) (Frame, int, error) {
	t.Helper()
	parks := 0
	for {
		f, err := c.ReadFrame()
		if err != ErrIdle {
			return f, parks, err
		}
		resumed := make(chan struct{})
		if err := c.Park(func() { close(resumed) }); err != nil {
			t.Fatalf("park: %v", err)
		}
		parks++
		select {
		case <-resumed:
		case <-time.After(10 * time.Second):
			t.Fatal("a parked Conn was never resumed")
		}
	}
}

func skipUnlessParkable(t *testing.T, c *Conn) {
	t.Helper()
	if !c.park.supported {
		t.Skip("no poller on " + runtime.GOOS)
	}
}

func TestConn_Park_ResumesOnInput(t *testing.T) {
	peer, nc := tcpPair(t)
	// The heartbeat keeps a later deadline set across the park: input
	// must bring parking back anyway.
	c := NewConn(nc, ServerRole, &Options{
		ParkAfter:         10 * time.Millisecond,
		HeartbeatInterval: time.Hour,
		Heartbeat:         func() error { return nil },
	}, nil)
	skipUnlessParkable(t, c)
	if _, err := c.ReadFrame(); err != ErrIdle {
		t.Fatalf("read on a silent connection: %v, want ErrIdle", err)
	}
	resumed := make(chan struct{})
	if err := c.Park(func() { close(resumed) }); err != nil {
		t.Fatal(err)
	}
	if !c.Parked() {
		t.Fatal("not parked after Park")
	}
	if err := c.Park(func() {}); err == nil {
		t.Fatal("a second Park succeeded")
	}
	if err := NewConn(peer, ClientRole, nil, nil).WriteMessage(Text, []byte("wake up")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-resumed:
	case <-time.After(10 * time.Second):
		t.Fatal("input did not resume the parked Conn")
	}
	if c.Parked() {
		t.Fatal("still parked after resuming")
	}
	f, _, err := readOrPark(t, c)
	if err != nil || string(f.Payload) != "wake up" {
		t.Fatalf("read %q, %v; want the message", f.Payload, err)
	}
	// Silent again: idle again.
	if _, err := c.ReadFrame(); err != ErrIdle {
		t.Fatalf("read after the message: %v, want ErrIdle", err)
	}
}

func TestConn_Park_ResumesAtOnceWhenInputWaits(t *testing.T) {
	peer, nc := tcpPair(t)
	c := NewConn(nc, ServerRole, &Options{ParkAfter: 10 * time.Millisecond}, nil)
	skipUnlessParkable(t, c)
	if _, err := c.ReadFrame(); err != ErrIdle {
		t.Fatalf("got %v, want ErrIdle", err)
	}
	// The message is in the socket before Park: the level-triggered
	// registration fires at once.
	if err := NewConn(peer, ClientRole, nil, nil).WriteMessage(Binary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	f, _, err := func() (Frame, int, error) {
		resumed := make(chan struct{})
		if err := c.Park(func() { close(resumed) }); err != nil {
			t.Fatal(err)
		}
		<-resumed
		return readOrPark(t, c)
	}()
	if err != nil || len(f.Payload) != 3 {
		t.Fatalf("read %v, %v", f.Payload, err)
	}
}

func TestConn_Park_CloseNowResumes(t *testing.T) {
	_, nc := tcpPair(t)
	c := NewConn(nc, ServerRole, &Options{ParkAfter: 10 * time.Millisecond}, nil)
	skipUnlessParkable(t, c)
	if _, err := c.ReadFrame(); err != ErrIdle {
		t.Fatalf("got %v, want ErrIdle", err)
	}
	resumed := make(chan struct{})
	if err := c.Park(func() { close(resumed) }); err != nil {
		t.Fatal(err)
	}
	c.CloseNow()
	select {
	case <-resumed:
	case <-time.After(10 * time.Second):
		t.Fatal("CloseNow did not resume the parked Conn")
	}
	if _, err := c.ReadFrame(); err == nil || err == ErrIdle {
		t.Fatalf("read after CloseNow: %v, want the closed connection's error", err)
	}
	// Parking a closed Conn resumes at once.
	again := make(chan struct{})
	if err := c.Park(func() { close(again) }); err != nil {
		t.Fatal(err)
	}
	<-again
}

func TestConn_Park_PeerHangupResumes(t *testing.T) {
	peer, nc := tcpPair(t)
	c := NewConn(nc, ServerRole, &Options{ParkAfter: 10 * time.Millisecond}, nil)
	skipUnlessParkable(t, c)
	if _, err := c.ReadFrame(); err != ErrIdle {
		t.Fatalf("got %v, want ErrIdle", err)
	}
	resumed := make(chan struct{})
	if err := c.Park(func() { close(resumed) }); err != nil {
		t.Fatal(err)
	}
	peer.Close()
	<-resumed
	if _, _, err := readOrPark(t, c); err == nil {
		t.Fatal("read after the peer hung up succeeded")
	}
}

func TestConn_Park_KeepaliveRunsWhileParked(t *testing.T) {
	// The peer never reads nor answers: the pings go out while the Conn
	// is parked, and the missing pong ends the read.
	peer, nc := tcpPair(t)
	c := NewConn(nc, ServerRole, &Options{
		ParkAfter:    5 * time.Millisecond,
		PingInterval: 20 * time.Millisecond,
		PongTimeout:  20 * time.Millisecond,
	}, nil)
	skipUnlessParkable(t, c)
	_, parks, err := readOrPark(t, c)
	if !errors.Is(err, ErrPongTimeout) {
		t.Fatalf("got %v, want ErrPongTimeout", err)
	}
	if parks == 0 {
		t.Fatal("never parked")
	}
	var b [2]byte
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := peer.Read(b[:]); err != nil || b[0] != 0x80|byte(OpPing) {
		t.Fatalf("the peer got %x, %v; want a ping", b, err)
	}
}

func TestConn_Park_HeartbeatRunsWhileParked(t *testing.T) {
	_, nc := tcpPair(t)
	stop := errors.New("stop")
	beats := 0
	c := NewConn(nc, ServerRole, &Options{
		ParkAfter:         5 * time.Millisecond,
		HeartbeatInterval: 15 * time.Millisecond,
		Heartbeat: func() error {
			beats++
			if beats == 3 {
				return stop
			}
			return nil
		},
	}, nil)
	skipUnlessParkable(t, c)
	if _, parks, err := readOrPark(t, c); !errors.Is(err, stop) || parks == 0 {
		t.Fatalf("got %v after %d parks, want the heartbeat's error after some", err, parks)
	}
}

func TestConn_Park_ReadMessageOnlyBetweenMessages(t *testing.T) {
	peer, nc := tcpPair(t)
	c := NewConn(nc, ServerRole, &Options{ParkAfter: 5 * time.Millisecond}, nil)
	skipUnlessParkable(t, c)
	w := NewConn(peer, ClientRole, nil, nil)
	go func() {
		w.WriteFrame(false, OpText, []byte("first half, ")) //nolint:errcheck // the read below fails if it did
		time.Sleep(50 * time.Millisecond)                   // several ParkAfter periods inside the message
		w.WriteFrame(true, OpContinuation, []byte("second half"))
	}()
	var typ MessageType
	var p []byte
	var err error
	for {
		typ, p, err = c.ReadMessage()
		if err != ErrIdle {
			break
		}
		resumed := make(chan struct{})
		if err := c.Park(func() { close(resumed) }); err != nil {
			t.Fatal(err)
		}
		<-resumed
	}
	if err != nil || typ != Text || string(p) != "first half, second half" {
		t.Fatalf("got %v %q, %v; want the whole message", typ, p, err)
	}
}

func TestConn_Park_Unsupported(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	stop := errors.New("stop")
	c := NewConn(b, ServerRole, &Options{
		ParkAfter:         time.Millisecond,
		HeartbeatInterval: 20 * time.Millisecond,
		Heartbeat:         func() error { return stop },
	}, nil)
	if err := c.Park(func() {}); !errors.Is(err, ErrParkUnsupported) {
		t.Fatalf("Park on a pipe: %v, want ErrParkUnsupported", err)
	}
	// Reads never go idle where Park cannot follow.
	if _, err := c.ReadFrame(); !errors.Is(err, stop) {
		t.Fatalf("got %v, want the heartbeat's error", err)
	}
}

func TestConn_PingsWhenHeartbeatIsMoreFrequent(t *testing.T) {
	// A heartbeat more frequent than the pings must not postpone them:
	// the peer stays silent, so the ping goes out and its pong is missed.
	_, nc := tcpPair(t)
	beats := 0
	c := NewConn(nc, ServerRole, &Options{
		PingInterval:      30 * time.Millisecond,
		PongTimeout:       30 * time.Millisecond,
		HeartbeatInterval: 5 * time.Millisecond,
		Heartbeat:         func() error { beats++; return nil },
	}, nil)
	if _, err := c.ReadFrame(); !errors.Is(err, ErrPongTimeout) {
		t.Fatalf("got %v after %d heartbeats, want ErrPongTimeout", err, beats)
	}
}

func TestConn_Park_BeforeTheFirstRead(t *testing.T) {
	t.Run("keepalive runs", func(t *testing.T) {
		_, nc := tcpPair(t)
		c := NewConn(nc, ServerRole, &Options{PingInterval: 10 * time.Millisecond, PongTimeout: 10 * time.Millisecond}, nil)
		skipUnlessParkable(t, c)
		resumed := make(chan struct{})
		if err := c.Park(func() { close(resumed) }); err != nil {
			t.Fatal(err)
		}
		select {
		case <-resumed:
		case <-time.After(10 * time.Second):
			t.Fatal("the keepalive never resumed a Conn parked before reading")
		}
		if _, _, err := readOrPark(t, c); !errors.Is(err, ErrPongTimeout) {
			t.Fatalf("got %v, want ErrPongTimeout", err)
		}
	})
	t.Run("input left from the handshake", func(t *testing.T) {
		_, nc := tcpPair(t)
		rec := &recordConn{}
		if err := NewConn(rec, ClientRole, nil, nil).WriteMessage(Text, []byte("early")); err != nil {
			t.Fatal(err)
		}
		c := NewConn(nc, ServerRole, nil, rec.buf)
		skipUnlessParkable(t, c)
		resumed := make(chan struct{})
		if err := c.Park(func() { close(resumed) }); err != nil {
			t.Fatal(err)
		}
		select {
		case <-resumed:
		case <-time.After(10 * time.Second):
			t.Fatal("buffered input did not resume the Conn")
		}
		if _, p, err := c.ReadMessage(); err != nil || string(p) != "early" {
			t.Fatalf("read %q, %v", p, err)
		}
	})
}

func TestConn_Park_FirstInputWaitsLessLong(t *testing.T) {
	// A Conn that never had input goes idle after FirstParkAfter even with
	// a ParkAfter of an hour; after input, ParkAfter applies.
	peer, nc := tcpPair(t)
	c := NewConn(nc, ServerRole, &Options{ParkAfter: time.Hour}, nil)
	skipUnlessParkable(t, c)
	if _, err := c.ReadFrame(); err != ErrIdle {
		t.Fatalf("first read: %v, want ErrIdle", err)
	}
	if err := NewConn(peer, ClientRole, nil, nil).WriteMessage(Text, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readOrPark(t, c); err != nil {
		t.Fatal(err)
	}
	if got := c.parkAfter(); got != time.Hour {
		t.Fatalf("after input the Conn parks after %v, want ParkAfter", got)
	}
}
