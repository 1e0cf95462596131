package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

// testTimeout bounds every wait of the tests.
const testTimeout = 10 * time.Second

// output is a goroutine-safe buffer that a test can wait on.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed, and replaced, on each write
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	close(o.changed)
	o.changed = make(chan struct{})
	return o.buf.Write(p)
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitFor waits until the output matches the regular expression expr, and
// returns the submatches.
func (o *output) waitFor(t testing.TB, expr string) []string {
	t.Helper()
	re := regexp.MustCompile(expr)
	timeout := time.NewTimer(testTimeout)
	defer timeout.Stop()
	for {
		o.mu.Lock()
		m := re.FindStringSubmatch(o.buf.String())
		changed := o.changed
		o.mu.Unlock()
		if m != nil {
			return m
		}
		select {
		case <-changed:
		case <-timeout.C:
			t.Fatalf("no output matching %q within %v; got:\n%s", expr, testTimeout, o.String())
		}
	}
}

// invocation is a run of the command line in the test's process.
type invocation struct {
	stdout, stderr *output
	cancel         context.CancelFunc // stands for SIGINT or SIGTERM
	done           chan int           // receives the exit status
}

// start runs the command line args in a new goroutine, stdin as its
// standard input (nil: empty). The test's cleanup stops it.
func start(t *testing.T, stdin io.Reader, args ...string) *invocation {
	t.Helper()
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	ctx, cancel := context.WithCancel(context.Background())
	inv := &invocation{stdout: newOutput(), stderr: newOutput(), cancel: cancel, done: make(chan int, 1)}
	go func() {
		inv.done <- run(ctx, args, stdio{in: stdin, out: inv.stdout, err: inv.stderr})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-inv.done:
		case <-time.After(testTimeout):
			t.Errorf("wasmgate %s did not return within %v of its cancellation", strings.Join(args, " "), testTimeout)
		}
	})
	return inv
}

// wait waits for the invocation to return, and returns its exit status.
func (inv *invocation) wait(t testing.TB) int {
	t.Helper()
	select {
	case code := <-inv.done:
		inv.done <- code // for the cleanup
		return code
	case <-time.After(testTimeout):
		t.Fatalf("no exit within %v\nstdout:\n%s\nstderr:\n%s", testTimeout, inv.stdout, inv.stderr)
		return -1
	}
}

// stop cancels the invocation as a signal would, and returns its exit
// status.
func (inv *invocation) stop(t testing.TB) int {
	t.Helper()
	inv.cancel()
	return inv.wait(t)
}

// runCmd runs the command line args to completion and returns its exit
// status and outputs.
func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	inv := start(t, strings.NewReader(stdin), args...)
	code = inv.wait(t)
	return code, inv.stdout.String(), inv.stderr.String()
}

// startTestEcho starts an echo server on a loopback port for the test.
func startTestEcho(t *testing.T, protocols ...string) *echoServer {
	t.Helper()
	s, err := startEcho("127.0.0.1:0", protocols, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("echo server shutdown: %v", err)
		}
	})
	return s
}

// dial connects a WebSocket client to url for the test.
func dial(t *testing.T, url string) *codec.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, _, err := (&codec.Dialer{}).Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c
}

// roundTrip sends msg on c and checks that it comes back.
func roundTrip(t *testing.T, c *codec.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(codec.Text, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	c.NetConn().SetReadDeadline(time.Now().Add(testTimeout))
	typ, p, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read the echo of %q: %v", msg, err)
	}
	if typ != codec.Text || string(p) != msg {
		t.Fatalf("got %v %q, want text %q", typ, p, msg)
	}
	c.NetConn().SetReadDeadline(time.Time{})
}

// expectClose reads from c until the peer's close, and checks its code.
func expectClose(t *testing.T, c *codec.Conn, want codec.StatusCode) {
	t.Helper()
	c.NetConn().SetReadDeadline(time.Now().Add(testTimeout))
	_, _, err := c.ReadMessage()
	if got := codec.CloseStatus(err); got != want {
		t.Fatalf("read ended with %v (close status %v), want close %v", err, got, want)
	}
}

// writeFile writes a file under dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
