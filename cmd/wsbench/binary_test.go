package main

import (
	"bufio"
	"io"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestBinary builds wsbench and runs it as processes, to cover what only
// processes show: the child processes of echo -procs and idle -procs, and
// stopping by closing stdin.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if runtime.GOOS != "linux" {
		t.Skip("-procs needs SO_REUSEPORT, which wsbench sets on Linux only")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	bin := filepath.Join(t.TempDir(), "wsbench")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	echo := startProcess(t, bin, "echo", "-listen", "127.0.0.1:0", "-listen", "127.0.0.1:0", "-procs", "2", "-stdin-eof")
	addrs, ok := strings.CutPrefix(echo.line(t), "READY ")
	if !ok || len(strings.Split(addrs, ",")) != 2 {
		t.Fatalf("echo printed %q, want READY and two addresses", addrs)
	}
	url := "ws://" + strings.Split(addrs, ",")[1] + "/"

	idle := startProcess(t, bin, "idle", "-url", url, "-n", "300", "-procs", "2", "-rate", "100000")
	if line := idle.line(t); line != "READY opened=300 failed=0" {
		t.Fatalf("idle printed %q, want READY opened=300 failed=0", line)
	}
	idle.stdin.Close() // the hold ends at EOF on stdin
	var out strings.Builder
	for {
		line, err := idle.stdout.ReadString('\n')
		out.WriteString(line)
		if err != nil {
			break
		}
	}
	if code := idle.wait(t); code != 0 {
		t.Errorf("idle: exit status %d", code)
	}
	var r idleResult
	resultLine(t, out.String(), &r, idleFields...)
	if r.Procs != 2 || r.Requested != 300 || r.Opened != 300 || r.Alive != 300 || r.Dropped != 0 || r.Failed != 0 {
		t.Errorf("idle RESULT %+v: want 300 opened and alive over 2 processes", r)
	}

	echo.stdin.Close()
	if code := echo.wait(t); code != 0 {
		t.Errorf("echo: exit status %d", code)
	}
}

// process is a running wsbench.
type process struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr *syncBuffer
}

func startProcess(t *testing.T, bin string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), stderr: &syncBuffer{}}
	p.cmd.Stderr = p.stderr
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdout = bufio.NewReader(stdout)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
	return p
}

// line reads the next line of stdout, for up to 10 s.
func (p *process) line(t *testing.T) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		line, _ := p.stdout.ReadString('\n')
		got <- strings.TrimSuffix(line, "\n")
	}()
	select {
	case line := <-got:
		return line
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no line on stdout within 10 s; stderr:\n%s", p.cmd.Args, p.stderr.String())
		return ""
	}
}

// wait waits up to 20 s for the process to exit and returns its status.
func (p *process) wait(t *testing.T) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(20 * time.Second):
		t.Fatalf("%s did not exit; stderr:\n%s", p.cmd.Args, p.stderr.String())
		return -1
	}
}
