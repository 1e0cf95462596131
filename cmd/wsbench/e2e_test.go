package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

// startTestEcho starts an echo server on 127.0.0.1:0, in this process,
// and returns its ws:// URL.
func startTestEcho(t *testing.T) string {
	t.Helper()
	s, err := startEcho(context.Background(), echoConfig{listen: []string{"127.0.0.1:0"}, procs: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.close(); err != nil {
			t.Errorf("close the echo server: %v", err)
		}
	})
	return "ws://" + s.addrs()[0] + "/bench"
}

// closedURL returns a ws:// URL on a loopback port that nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "ws://" + addr + "/"
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// runCommand runs "wsbench args..." in this process, through the function
// main calls, with stdin as its standard input.
func runCommand(t *testing.T, stdin io.Reader, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	code = run(context.Background(), args, stdio{in: stdin, out: &out, err: &errOut})
	return code, out.String(), errOut.String()
}

// resultLine checks that the last line of out is the RESULT line, decodes
// it into v, and checks that it has every one of fields.
func resultLine(t *testing.T, out string, v any, fields ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	last := lines[len(lines)-1]
	js, ok := strings.CutPrefix(last, "RESULT ")
	if !ok {
		t.Fatalf("the last line is not the RESULT line: %q\nstdout:\n%s", last, out)
	}
	for _, l := range lines[:len(lines)-1] {
		if strings.HasPrefix(l, "RESULT") {
			t.Errorf("a RESULT line before the last line: %q", l)
		}
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatalf("RESULT is not JSON: %v: %s", err, js)
	}
	for _, f := range fields {
		if _, ok := m[f]; !ok {
			t.Errorf("RESULT has no field %q: %s", f, js)
		}
	}
	if err := json.Unmarshal([]byte(js), v); err != nil {
		t.Fatal(err)
	}
}

// checkMeasureLines checks that "MEASURE start" and then "MEASURE end"
// come before the RESULT line.
func checkMeasureLines(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(out, "\n")
	start, end := slices.Index(lines, "MEASURE start"), slices.Index(lines, "MEASURE end")
	if start < 0 || end < start {
		t.Errorf("want a MEASURE start line, then a MEASURE end line; stdout:\n%s", out)
	}
}

// checkLatencies checks that the percentiles are positive and ordered.
func checkLatencies(t *testing.T, p50, p99, p999 float64) {
	t.Helper()
	if p50 <= 0 || p99 < p50 || p999 < p99 {
		t.Errorf("latencies p50 %v, p99 %v, p99.9 %v µs: want 0 < p50 <= p99 <= p99.9", p50, p99, p999)
	}
}

var (
	throughputFields = []string{"mode", "conns", "window", "size", "duration_s", "messages", "msgs_per_s", "mb_per_s",
		"p50_us", "p99_us", "p999_us", "errors", "start_unix_ns", "end_unix_ns"}
	pingpongFields = []string{"mode", "conns", "size", "rtts", "p50_us", "p99_us", "p999_us", "mean_us", "errors"}
	connrateFields = []string{"mode", "conns", "handshakes", "handshakes_per_s", "failures", "p50_us", "p99_us"}
	idleFields     = []string{"mode", "requested", "opened", "failed", "alive", "dropped", "open_s"}
)

// short are the flags that keep a load run short.
var short = []string{"-duration", "200ms", "-warmup", "50ms"}

func TestThroughput(t *testing.T) {
	url := startTestEcho(t)
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"text", []string{"-c", "4", "-window", "8", "-size", "128"}},
		{"binary", []string{"-c", "2", "-window", "4", "-size", "4096", "-text=false"}},
		{"redactable", []string{"-c", "2", "-size", "256", "-payload", "redactable"}},
		{"larger than the write buffer", []string{"-c", "1", "-window", "2", "-size", "40000"}},
		{"writer goroutine", []string{"-c", "2", "-split"}},
		{"window beyond the socket buffers", []string{"-c", "2", "-window", "16", "-size", "1000000", "-text=false"}},
		{"sources", []string{"-c", "4", "-sources", "127.0.0.2-127.0.0.3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(append([]string{"throughput", "-url", url}, short...), tc.args...)
			code, out, errOut := runCommand(t, nil, args...)
			if code != 0 {
				t.Fatalf("exit status %d; stderr:\n%s", code, errOut)
			}
			var r throughputResult
			resultLine(t, out, &r, throughputFields...)
			checkMeasureLines(t, out)
			if r.Mode != "throughput" || r.Messages == 0 || r.Errors != 0 || r.BadTimestamps != 0 {
				t.Errorf("mode %q, %d messages, %d errors (%s), %d bad timestamps: want throughput, > 0, 0, 0",
					r.Mode, r.Messages, r.Errors, r.FirstError, r.BadTimestamps)
			}
			if r.DurationS <= 0 || r.MsgsPerS <= 0 || r.MBPerS <= 0 || r.EndUnixNs <= r.StartUnixNs {
				t.Errorf("duration %v s, %v msg/s, %v MB/s, interval [%d, %d]: want positive", r.DurationS, r.MsgsPerS, r.MBPerS, r.StartUnixNs, r.EndUnixNs)
			}
			checkLatencies(t, r.P50us, r.P99us, r.P999us)
		})
	}
}

func TestPingpong(t *testing.T) {
	url := startTestEcho(t)
	code, out, errOut := runCommand(t, nil, append([]string{"pingpong", "-url", url, "-c", "2", "-size", "64"}, short...)...)
	if code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, errOut)
	}
	var r pingpongResult
	resultLine(t, out, &r, pingpongFields...)
	checkMeasureLines(t, out)
	if r.Mode != "pingpong" || r.RTTs == 0 || r.Errors != 0 || r.Conns != 2 {
		t.Errorf("mode %q, %d rtts, %d errors over %d conns: want pingpong, > 0, 0, 2", r.Mode, r.RTTs, r.Errors, r.Conns)
	}
	checkLatencies(t, r.P50us, r.P99us, r.P999us)
	if r.MeanUs <= 0 {
		t.Errorf("mean %v µs, want > 0", r.MeanUs)
	}
}

func TestConnrate(t *testing.T) {
	url := startTestEcho(t)
	code, out, errOut := runCommand(t, nil, append([]string{"connrate", "-url", url, "-c", "4"}, short...)...)
	if code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, errOut)
	}
	var r connrateResult
	resultLine(t, out, &r, connrateFields...)
	checkMeasureLines(t, out)
	if r.Mode != "connrate" || r.Handshakes == 0 || r.Failures != 0 {
		t.Errorf("mode %q, %d handshakes, %d failures (%s): want connrate, > 0, 0", r.Mode, r.Handshakes, r.Failures, r.FirstError)
	}
	checkLatencies(t, r.P50us, r.P99us, r.P999us)
}

func TestIdle(t *testing.T) {
	url := startTestEcho(t)
	for _, tc := range []struct {
		name string
		n    int
		args []string
	}{
		{"hold", 50, []string{"-hold", "100ms"}},
		{"until stdin EOF", 20, nil},
		{"sources", 30, []string{"-hold", "10ms", "-sources", "3", "-rate", "100000"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"idle", "-url", url, "-n", itoa(tc.n)}, tc.args...)
			code, out, errOut := runCommand(t, strings.NewReader(""), args...)
			if code != 0 {
				t.Fatalf("exit status %d; stderr:\n%s", code, errOut)
			}
			if want := "READY opened=" + itoa(tc.n) + " failed=0\n"; !strings.HasPrefix(out, want) {
				t.Errorf("stdout starts with %q, want %q", firstLine(out), want)
			}
			var r idleResult
			resultLine(t, out, &r, idleFields...)
			if r.Mode != "idle" || r.Requested != tc.n || r.Opened != tc.n || r.Failed != 0 || r.Alive != tc.n || r.Dropped != 0 {
				t.Errorf("RESULT %+v: want every one of %d connections opened and alive", r, tc.n)
			}
		})
	}
}

// TestIdle_Dropped checks that connections the server cut while they were
// held are counted as dropped.
func TestIdle_Dropped(t *testing.T) {
	s, err := startEcho(context.Background(), echoConfig{listen: []string{"127.0.0.1:0"}, procs: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	stdinR, stdinW := io.Pipe()
	var out, errOut syncBuffer
	done := make(chan int)
	go func() {
		done <- run(context.Background(), []string{"idle", "-url", "ws://" + s.addrs()[0] + "/", "-n", "10"},
			stdio{in: stdinR, out: &out, err: &errOut})
	}()
	waitForLine(t, &out, "READY opened=10 failed=0")
	s.close() // cuts every held connection
	stdinW.Close()
	if code := <-done; code != 0 {
		t.Fatalf("exit status %d; stderr:\n%s", code, errOut.String())
	}
	var r idleResult
	resultLine(t, out.String(), &r, idleFields...)
	if r.Opened != 10 || r.Alive != 0 || r.Dropped != 10 || r.FirstError == "" {
		t.Errorf("RESULT %+v: want 10 opened, 0 alive, 10 dropped, and the first error", r)
	}
}

// TestDialFailure checks that every mode reports a server that cannot be
// reached, and ends.
func TestDialFailure(t *testing.T) {
	url := closedURL(t)
	for _, tc := range []struct {
		name  string
		args  []string
		check func(t *testing.T, out string)
	}{
		{"throughput", append([]string{"throughput", "-url", url, "-c", "3"}, short...), func(t *testing.T, out string) {
			var r throughputResult
			resultLine(t, out, &r, throughputFields...)
			if r.Errors != 3 || r.Messages != 0 || !strings.Contains(r.FirstError, "refused") {
				t.Errorf("%d errors (%q), %d messages: want 3 connection refused, 0", r.Errors, r.FirstError, r.Messages)
			}
		}},
		{"pingpong", append([]string{"pingpong", "-url", url, "-c", "2"}, short...), func(t *testing.T, out string) {
			var r pingpongResult
			resultLine(t, out, &r, pingpongFields...)
			if r.Errors != 2 || r.RTTs != 0 {
				t.Errorf("%d errors, %d rtts: want 2, 0", r.Errors, r.RTTs)
			}
		}},
		{"connrate", append([]string{"connrate", "-url", url, "-c", "2"}, short...), func(t *testing.T, out string) {
			var r connrateResult
			resultLine(t, out, &r, connrateFields...)
			if r.Failures == 0 || r.Handshakes != 0 || !strings.Contains(r.FirstError, "refused") {
				t.Errorf("%d failures (%q), %d handshakes: want > 0 connection refused, 0", r.Failures, r.FirstError, r.Handshakes)
			}
		}},
		{"idle", []string{"idle", "-url", url, "-n", "5", "-hold", "1ms"}, func(t *testing.T, out string) {
			var r idleResult
			resultLine(t, out, &r, idleFields...)
			if r.Failed != 5 || r.Opened != 0 || r.Alive != 0 || r.FirstError == "" {
				t.Errorf("RESULT %+v: want 5 failed, none opened", r)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCommand(t, nil, tc.args...)
			if code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
			if errOut == "" {
				t.Error("nothing on stderr")
			}
			tc.check(t, out)
		})
	}
}

func TestEchoCommand(t *testing.T) {
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	var errOut syncBuffer
	done := make(chan int)
	go func() {
		done <- run(context.Background(), []string{"echo", "-listen", "127.0.0.1:0", "-listen", "127.0.0.1:0", "-stdin-eof"},
			stdio{in: stdinR, out: stdoutW, err: &errOut})
	}()
	line, err := bufio.NewReader(stdoutR).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, stdoutR) //nolint:errcheck // nothing more is expected
	addrs, ok := strings.CutPrefix(strings.TrimSpace(line), "READY ")
	if !ok || len(strings.Split(addrs, ",")) != 2 {
		t.Fatalf("first line %q: want READY and two addresses", line)
	}
	for _, addr := range strings.Split(addrs, ",") {
		if strings.HasSuffix(addr, ":0") {
			t.Errorf("READY shows %s, not the bound port", addr)
		}
		checkEcho(t, "ws://"+addr+"/")
	}
	stdinW.Close()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit status %d; stderr:\n%s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("echo did not stop at EOF on stdin")
	}
}

// checkEcho checks what the echo server sends back: messages of both
// types, a fragmented message (frame by frame), after a ping.
func checkEcho(t *testing.T, url string) {
	t.Helper()
	c, _, err := (&codec.Dialer{}).Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(codec.CloseNormal, "")
	c.NetConn().SetDeadline(time.Now().Add(5 * time.Second))
	if err := c.Ping([]byte("p")); err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		typ codec.MessageType
		p   string
	}{{codec.Text, "hello"}, {codec.Binary, "\x00\xff"}} {
		if err := c.WriteMessage(m.typ, []byte(m.p)); err != nil {
			t.Fatal(err)
		}
		typ, p, err := c.ReadMessage()
		if err != nil || typ != m.typ || string(p) != m.p {
			t.Errorf("echo of %v %q: got %v %q, %v", m.typ, m.p, typ, p, err)
		}
	}
	if err := c.WriteFrame(false, codec.OpText, []byte("frag")); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteFrame(true, codec.OpContinuation, []byte("ment")); err != nil {
		t.Fatal(err)
	}
	for _, want := range []codec.Frame{{Fin: false, Opcode: codec.OpText, Payload: []byte("frag")}, {Fin: true, Opcode: codec.OpContinuation, Payload: []byte("ment")}} {
		f, err := c.ReadFrame()
		if err != nil || f.Fin != want.Fin || f.Opcode != want.Opcode || string(f.Payload) != string(want.Payload) {
			t.Errorf("frame %+v, %v; want %+v", f, err, want)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want int
	}{
		{"no command", nil, 2},
		{"unknown command", []string{"bogus"}, 2},
		{"help", []string{"help"}, 0},
		{"command help", []string{"throughput", "-h"}, 0},
		{"no url", []string{"throughput"}, 2},
		{"not a ws url", []string{"pingpong", "-url", "http://127.0.0.1:1/"}, 2},
		{"size below the timestamp", []string{"throughput", "-url", "ws://127.0.0.1:1/", "-size", "15"}, 2},
		{"zero window", []string{"throughput", "-url", "ws://127.0.0.1:1/", "-window", "0"}, 2},
		{"bad payload", []string{"throughput", "-url", "ws://127.0.0.1:1/", "-payload", "json"}, 2},
		{"bad sources", []string{"connrate", "-url", "ws://127.0.0.1:1/", "-sources", "127.0.0.9-127.0.0.2"}, 2},
		{"zero conns", []string{"connrate", "-url", "ws://127.0.0.1:1/", "-c", "0"}, 2},
		{"bad procs", []string{"idle", "-url", "ws://127.0.0.1:1/", "-procs", "some"}, 2},
		{"zero rate", []string{"idle", "-url", "ws://127.0.0.1:1/", "-rate", "0"}, 2},
		{"echo without -listen", []string{"echo"}, 2},
		{"echo on a bad address", []string{"echo", "-listen", "127.0.0.1:99999"}, 1},
		{"positional argument", []string{"pingpong", "-url", "ws://127.0.0.1:1/", "extra"}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runCommand(t, nil, tc.args...)
			if code != tc.want {
				t.Errorf("exit status %d, want %d; stderr:\n%s", code, tc.want, errOut)
			}
			if tc.want != 0 && errOut == "" {
				t.Error("nothing on stderr")
			}
		})
	}
}

func TestIdleConfig_Procs(t *testing.T) {
	for _, tc := range []struct {
		n     int
		procs string
		want  int
	}{
		{10000, "auto", 1}, {18000, "auto", 1}, {18001, "auto", 2}, {100000, "auto", 6}, {100, "3", 3}, {2, "5", 2},
	} {
		cfg, err := idleConfigOf("ws://127.0.0.1:1/", tc.n, "", tc.procs, 5000, 64, 0)
		if err != nil || cfg.procs != tc.want {
			t.Errorf("-n %d -procs %s: %d processes, %v; want %d", tc.n, tc.procs, cfg.procs, err, tc.want)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// waitForLine waits until out holds line, for up to 10 s.
func waitForLine(t *testing.T, out *syncBuffer, line string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if slices.Contains(strings.Split(out.String(), "\n"), line) {
			return
		}
	}
	t.Fatalf("no line %q; stdout:\n%s", line, out.String())
}
