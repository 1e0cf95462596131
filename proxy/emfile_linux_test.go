//go:build linux

package proxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

// emfileChildEnv marks the process that TestEMFILE_Exhaustion starts to
// run TestEMFILEChild: lowering the open-file limit and filling the
// descriptor table would break any other test running beside it.
const emfileChildEnv = "WASMGATE_TEST_EMFILE_CHILD"

// emfileLimit is the open-file limit the child runs its proxy under.
const emfileLimit = 128

// TestEMFILE_Exhaustion runs a proxy out of file descriptors for real, in
// a process of its own (TestEMFILEChild), and checks it came through.
func TestEMFILE_Exhaustion(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestEMFILEChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), emfileChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	// The child's own checks failed it if they failed; these lines prove
	// it ran them rather than skipped.
	for _, want := range []string{"emfile: accept backed off", "emfile: pending client served", "emfile: dial refused with 503"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Fatalf("the child did not report %q:\n%s", want, out)
		}
	}
}

func TestEMFILEChild(t *testing.T) {
	if os.Getenv(emfileChildEnv) == "" {
		t.Skip("run by TestEMFILE_Exhaustion, in a process of its own")
	}
	up := startUpstream(t, nil, echoHandler)
	rec := newFDLogRecorder()
	p, addr := startProxyLogging(t, simpleConfig, map[string]string{"up": up.addr}, slog.New(rec))
	url := "ws://" + addr + "/"

	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	// Each part fills the descriptor table; the connections of the one
	// before must be closed by then, or one could free a descriptor after
	// the table was filled.
	idle := countSockets(t)

	t.Run("accept", func(t *testing.T) {
		// Connect with the last free descriptor: the proxy has none left
		// to accept the connection with.
		fill := fillFDs(t, idle, orig)
		fill.free(1)
		pending, err := net.Dial("tcp", addr)
		if err != nil {
			fill.release()
			t.Fatalf("dial with the last descriptor: %v", err)
		}
		served := make(chan error, 1)
		go func() {
			d := codec.Dialer{NetDial: func(context.Context, string, string) (net.Conn, error) { return pending, nil }}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c, _, err := d.Dial(ctx, url)
			if err == nil {
				err = emfileEcho(c)
				c.CloseNow()
			}
			served <- err
		}()

		fdErr := waitForFDLogLine(t, rec, slog.LevelError, "accept failed: the process is out of file descriptors")
		if got := fdErr.attrs["open_files_limit"]; got != strconv.Itoa(emfileLimit) {
			t.Errorf("open_files_limit=%q in the log line, want %d", got, emfileLimit)
		}
		// Out of descriptors for a while: Accept fails at once each time
		// it is called, so only the back-off bounds how often.
		time.Sleep(time.Second)
		failures := len(rec.find(slog.LevelDebug, "accept failed"))
		errorLines := len(rec.find(slog.LevelError, "accept failed"))
		select {
		case err := <-served:
			t.Errorf("the client was answered while the proxy had no descriptor: %v", err)
		default:
		}
		fill.release()
		if failures > 15 {
			t.Errorf("%d accept failures in about a second: the accept loop spins", failures)
		}
		if errorLines != 1 {
			t.Errorf("%d accept failures logged at error level, want 1 (rate-limited)", errorLines)
		}
		t.Logf("emfile: accept backed off: %d failures, %d logged at error level", failures, errorLines)

		if err := <-served; err != nil {
			t.Fatalf("the client pending while out of descriptors: %v", err)
		}
		waitForFDLogLine(t, rec, slog.LevelInfo, "accepting again")
		c, _ := dialProxy(t, url, nil)
		if err := emfileEcho(c); err != nil {
			t.Fatalf("a new client: %v", err)
		}
		c.CloseNow()
		t.Log("emfile: pending client served, and a new one")
	})

	t.Run("dial", func(t *testing.T) {
		// Two free descriptors: one for the client, one for the proxy to
		// accept it with, none to dial the upstream with.
		fill := fillFDs(t, idle, orig)
		fill.free(2)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, _, err := (&codec.Dialer{}).Dial(ctx, url)
		fill.release()
		var se *codec.StatusError
		if !errors.As(err, &se) {
			if c != nil {
				c.CloseNow()
			}
			t.Fatalf("dial with the proxy out of descriptors: got %v, want a refusal", err)
		}
		if se.Status != http.StatusServiceUnavailable || se.Header.Get("Retry-After") != "1" {
			t.Errorf("refused with %d, Retry-After %q; want 503, Retry-After 1", se.Status, se.Header.Get("Retry-After"))
		}
		warn := rec.find(slog.LevelWarn, "upstream dial failed")
		if len(warn) != 1 || !strings.Contains(warn[0].attrs["err"], "out of file descriptors") ||
			!strings.Contains(warn[0].attrs["err"], "open-file limit "+strconv.Itoa(emfileLimit)) {
			t.Errorf("dial failures logged as %+v, want one line with the cause and the limit", warn)
		}
		// The refusal is counted once it is written.
		limited := map[string]string{"outcome": outcomeLimited, "status": "503"}
		eventually(t, "the refusal counted as limited", func() (bool, string) {
			n, _ := seriesValue(t, p, "wasmgate_handshakes_total", limited)
			return n == 1, fmt.Sprint(n)
		})
		t.Logf("emfile: dial refused with %d, Retry-After %s", se.Status, se.Header.Get("Retry-After"))

		c, _ = dialProxy(t, url, nil)
		if err := emfileEcho(c); err != nil {
			t.Fatalf("a client once descriptors are free: %v", err)
		}
		c.CloseNow()
	})
}

// filledFDs holds descriptors that fill the process's table, under a
// lowered open-file limit.
type filledFDs struct {
	fds  []int
	orig syscall.Rlimit // the limit that release gives back
}

// fillFDs waits for the process to have no more than idle sockets open
// (see countSockets), lowers its open-file limit to emfileLimit, then
// opens /dev/null until it is out of descriptors. The test gives them back
// (release), at the latest when it ends.
func fillFDs(t testing.TB, idle int, orig syscall.Rlimit) *filledFDs {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); countSockets(t) > idle; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d sockets still open, %d when idle", countSockets(t), idle)
		}
	}
	lowered := orig
	lowered.Cur = emfileLimit
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lowered); err != nil {
		t.Fatal(err)
	}
	f := &filledFDs{orig: orig}
	t.Cleanup(f.release)
	for {
		fd, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if errors.Is(err, syscall.EMFILE) {
			return f
		}
		if err != nil {
			t.Fatalf("open /dev/null: %v", err)
		}
		f.fds = append(f.fds, fd)
		if len(f.fds) > emfileLimit {
			t.Fatalf("%d descriptors opened under a limit of %d", len(f.fds), emfileLimit)
		}
	}
}

// countSockets counts the process's open sockets. Other descriptors may
// be opened once and kept (the codec's epoll set for parked connections,
// at the first one): they are not counted.
func countSockets(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}

// release ends the shortage: it raises the open-file limit back first, in
// one system call, so that no goroutine sees the table half freed (the
// proxy could accept with the first descriptor closed and find none to
// dial its upstream with, or the upstream none to accept with), then
// closes the descriptors.
func (f *filledFDs) release() {
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &f.orig) //nolint:errcheck // raising back to the limit the process had
	f.free(len(f.fds))
}

// free closes n of the descriptors.
func (f *filledFDs) free(n int) {
	for _, fd := range f.fds[len(f.fds)-n:] {
		syscall.Close(fd) //nolint:errcheck // /dev/null
	}
	f.fds = f.fds[:len(f.fds)-n]
}

// emfileEcho sends a message on c and reads back its echo.
func emfileEcho(c *codec.Conn) error {
	if err := c.WriteMessage(codec.Text, []byte("hi")); err != nil {
		return err
	}
	_, got, err := c.ReadMessage()
	if err == nil && string(got) != "hi" {
		err = errors.New("echoed " + strconv.Quote(string(got)))
	}
	return err
}

// waitForFDLogLine waits for a line at level whose message starts with
// prefix, and returns the first.
func waitForFDLogLine(t testing.TB, rec *fdLogRecorder, level slog.Level, prefix string) fdLogLine {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if lines := rec.find(level, prefix); len(lines) > 0 {
			return lines[0]
		}
	}
	t.Fatalf("no %s line %q", level, prefix)
	return fdLogLine{}
}
