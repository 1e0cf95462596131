package compare

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// stopGrace is how long a child gets to exit after SIGTERM before it is
// killed.
const stopGrace = 5 * time.Second

// childSpec says how to start a child process.
type childSpec struct {
	// name names the child in errors and progress.
	name string
	// argv is the program and its arguments.
	argv []string
	// cpus is the taskset CPU list the child is pinned to; "" leaves it
	// unpinned.
	cpus string
	// env is added to this process's environment.
	env []string
	// dir is the working directory; "" for this process's.
	dir string
	// logPath receives the child's stderr, and its stdout too when onLine
	// is nil.
	logPath string
	// onLine, when set, is called with each line of the child's stdout,
	// from a goroutine of its own, in order.
	onLine func(line string)
	// stdin gives the child a pipe as its stdin, closed by release.
	stdin bool
}

// child is a started child process, in a process group of its own (so a
// Ctrl-C in the terminal reaches compare, which stops its children in
// order, and so that killing it reaches its own children, such as
// nginx's worker).
type child struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	stdin   io.WriteCloser
	// done is closed when the process has exited; waitErr is then
	// Wait's result.
	done    chan struct{}
	waitErr error
	// linesDone is closed when stdout has reached its end and onLine
	// has returned for the last line; nil without onLine.
	linesDone chan struct{}
}

// startChild starts the child that s describes.
func startChild(s childSpec) (*child, error) {
	argv := s.argv
	if s.cpus != "" {
		// taskset execs the program, so the pid is the program's own.
		argv = append([]string{"taskset", "-c", s.cpus}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = s.dir
	if len(s.env) > 0 {
		cmd.Env = append(os.Environ(), s.env...)
	}
	cmd.SysProcAttr = childProcAttr()
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", s.name, err)
	}
	defer logFile.Close() // the child has its own copy
	cmd.Stderr = logFile
	cmd.Stdout = logFile
	var stdoutRead, stdoutWrite *os.File
	if s.onLine != nil {
		// A pipe of our own rather than cmd.StdoutPipe, so that waiting
		// for the exit does not depend on reading stdout to its end.
		if stdoutRead, stdoutWrite, err = os.Pipe(); err != nil {
			return nil, fmt.Errorf("start %s: %w", s.name, err)
		}
		cmd.Stdout = stdoutWrite
	}
	c := &child{name: s.name, cmd: cmd, logPath: s.logPath, done: make(chan struct{})}
	if s.stdin {
		if c.stdin, err = cmd.StdinPipe(); err != nil {
			return nil, fmt.Errorf("start %s: %w", s.name, err)
		}
	}
	err = cmd.Start()
	if stdoutWrite != nil {
		stdoutWrite.Close()
	}
	if err != nil {
		if stdoutRead != nil {
			stdoutRead.Close()
		}
		return nil, fmt.Errorf("start %s: %w", s.name, err)
	}
	if stdoutRead != nil {
		c.linesDone = make(chan struct{})
		go readChildLines(stdoutRead, s.onLine, c.linesDone)
	}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// readChildLines calls onLine with each line of r until its end.
func readChildLines(r *os.File, onLine func(string), done chan<- struct{}) {
	defer close(done)
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		onLine(sc.Text())
	}
	// A read error (or a line over 1 MiB) ends the lines early; the
	// caller notices the missing RESULT. Drain so the child never blocks
	// on a full pipe.
	io.Copy(io.Discard, r)
}

// pid returns the child's process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the child has exited.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// release closes the child's stdin: a wsbench child run with -stdin-eof
// (echo) or without -hold (idle) takes it as the signal to finish.
func (c *child) release() {
	if c.stdin != nil {
		c.stdin.Close()
	}
}

// wait waits up to timeout for the child to exit on its own, then stops
// it, and returns how it exited.
func (c *child) wait(timeout time.Duration) error {
	select {
	case <-c.done:
		return c.exitErr()
	case <-time.After(timeout):
	}
	c.stop()
	return fmt.Errorf("%s did not finish within %v", c.name, timeout)
}

// stop ends the child: SIGTERM, then SIGKILL to its whole process group
// after stopGrace. It returns once the child has exited.
func (c *child) stop() {
	if c.exited() {
		return
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(stopGrace):
		// The group leader has not been reaped yet, so its pid still
		// names this group and nothing else.
		syscall.Kill(-c.pid(), syscall.SIGKILL)
		<-c.done
	}
}

// exitErr describes how the child exited: nil for status 0.
func (c *child) exitErr() error {
	if c.waitErr == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", c.name, c.waitErr)
}

// exitDesc says how the child exited, status 0 included.
func (c *child) exitDesc() string {
	if c.waitErr == nil {
		return "exit status 0"
	}
	return c.waitErr.Error()
}

// logTail returns the last lines of the child's log, at most n.
func (c *child) logTail(n int) string {
	return fileTail(c.logPath, n)
}

// fileTail returns the last n lines of the file at path ("" if it cannot
// be read).
func fileTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return strings.TrimSpace(s)
}

// errStopped is the error of work cut short because compare was
// interrupted.
var errStopped = errors.New("interrupted")

// indent prefixes every line of s with two spaces, for logs quoted in
// progress output.
func indent(s string) string {
	var b bytes.Buffer
	for line := range strings.Lines(s) {
		b.WriteString("  ")
		b.WriteString(line)
	}
	if b.Len() > 0 && !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
		b.WriteByte('\n')
	}
	return b.String()
}
