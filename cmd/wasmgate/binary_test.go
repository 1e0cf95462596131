package main

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

// TestBinary builds wasmgate with go build and runs it as a process, to
// check what only a process shows: -ldflags, real signals, exit statuses.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if runtime.GOOS == "windows" {
		t.Skip("sends SIGTERM")
	}
	bin := buildWasmgate(t)

	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(bin, "version").Output()
		if err != nil {
			t.Fatal(err)
		}
		if want := "wasmgate v9.8.7-test (" + runtime.Version(); !strings.HasPrefix(string(out), want) {
			t.Errorf("got %q, want it to start with %q", out, want)
		}
	})

	t.Run("usage error", func(t *testing.T) {
		err := exec.Command(bin, "bogus").Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Errorf("got %v, want exit status 2", err)
		}
	})

	t.Run("SIGTERM drains", func(t *testing.T) {
		echo := startTestEcho(t)
		path := writeFile(t, t.TempDir(), "wasmgate.hcl", proxyConfig("ws://"+echo.Addr().String()+"/"))
		p := startProcess(t, bin, "run", "-config", path)
		url := p.stdout.waitFor(t, `listener "main" on (ws://\S+)`)[1]
		c := dial(t, url+"/echo/")
		roundTrip(t, c, "hello")

		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		expectClose(t, c, codec.CloseGoingAway)
		c.Close(codec.CloseNormal, "")
		if code := p.wait(t); code != 0 {
			t.Errorf("exit status %d, want 0; stderr:\n%s", code, p.stderr)
		}
	})

	t.Run("second signal exits at once", func(t *testing.T) {
		echo := startTestEcho(t)
		path := writeFile(t, t.TempDir(), "wasmgate.hcl", proxyConfig("ws://"+echo.Addr().String()+"/")+`
limits {
  close_timeout = "1m"
}
`)
		p := startProcess(t, bin, "run", "-config", path, "-drain-timeout", "1m")
		url := p.stdout.waitFor(t, `listener "main" on ws://(\S+)`)[1]
		// A client that never answers the close frame keeps the drain
		// going for a minute.
		nc := rawUpgrade(t, url, "/echo/")
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		awaitCloseFrame(t, nc)
		start := time.Now()
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := p.wait(t); code != 1 {
			t.Errorf("exit status %d, want 1; stderr:\n%s", code, p.stderr)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("exiting took %v after the second signal", took)
		}
		if want := "second signal"; !strings.Contains(p.stderr.String(), want) {
			t.Errorf("stderr does not contain %q:\n%s", want, p.stderr)
		}
	})
}

// process is a wasmgate process started by a test.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *output
}

// startProcess starts bin with args. The test's cleanup kills it.
func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), stdout: newOutput(), stderr: newOutput()}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
	return p
}

// wait waits for the process to exit and returns its exit status.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	select {
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	case <-time.After(testTimeout):
		p.cmd.Process.Signal(os.Kill)
		t.Fatalf("no exit within %v; stderr:\n%s", testTimeout, p.stderr)
		return -1
	}
}

// rawUpgrade opens a WebSocket connection to addr by hand, so that the
// test controls every byte: the connection answers nothing.
func rawUpgrade(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(testTimeout))
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
	if _, err := io.WriteString(nc, req); err != nil {
		t.Fatal(err)
	}
	var resp []byte
	buf := make([]byte, 1)
	for !bytes.HasSuffix(resp, []byte("\r\n\r\n")) {
		if _, err := nc.Read(buf); err != nil {
			t.Fatalf("reading the upgrade response: %v (got %q)", err, resp)
		}
		resp = append(resp, buf[0])
	}
	if !bytes.HasPrefix(resp, []byte("HTTP/1.1 101 ")) {
		t.Fatalf("upgrade refused: %q", resp)
	}
	return nc
}

// awaitCloseFrame reads from nc until a close frame with code 1001 has
// arrived. The server's frames are unmasked.
func awaitCloseFrame(t *testing.T, nc net.Conn) {
	t.Helper()
	var got []byte
	buf := make([]byte, 256)
	for !bytes.Contains(got, []byte{0x88}) || !bytes.Contains(got, []byte{0x03, 0xe9}) {
		n, err := nc.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			t.Fatalf("no close frame: %v (got % x)", err, got)
		}
	}
}
