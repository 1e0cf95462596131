package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// child is a copy of this program run by a parent: the extra processes of
// "echo -procs" and "idle -procs", which exist because one process may
// hold at most ~20,000 open files. The parent talks to a child through its
// standard streams only: the child prints a READY line once it is set up
// and a RESULT line at the end, and stops when its stdin reaches EOF, so
// that it also stops when the parent dies.
type child struct {
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	// ready and result receive the first READY and RESULT lines.
	ready, result chan string
	// stdoutDone is closed once the child's stdout reached EOF: it has
	// exited, or is about to.
	stdoutDone chan struct{}
	exited     chan struct{}
	waitErr    error // set before exited is closed
}

// selfExecutable returns the path of this program, to start children.
func selfExecutable() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find this program to start child processes: %w", err)
	}
	return exe, nil
}

// startChild starts exe with args; its stderr goes to stderr.
func startChild(name, exe string, args []string, stderr io.Writer) (*child, error) {
	cmd := exec.Command(exe, args...)
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	ch := &child{
		name: name, cmd: cmd, stdin: stdin,
		ready: make(chan string, 1), result: make(chan string, 1),
		stdoutDone: make(chan struct{}), exited: make(chan struct{}),
	}
	go ch.readStdout(stdout)
	go ch.wait()
	return ch, nil
}

// readStdout picks the READY and RESULT lines out of the child's stdout
// and discards the rest (its table), never blocking the child.
func (ch *child) readStdout(r io.Reader) {
	defer close(ch.stdoutDone)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "READY"):
			offer(ch.ready, line)
		case strings.HasPrefix(line, "RESULT "):
			offer(ch.result, line)
		}
	}
	io.Copy(io.Discard, r) //nolint:errcheck // a line too long: keep the child unblocked
}

// offer sends line unless ch already holds one.
func offer(ch chan<- string, line string) {
	select {
	case ch <- line:
	default:
	}
}

// wait reaps the child once its stdout is drained, as exec.Cmd.Wait asks.
func (ch *child) wait() {
	<-ch.stdoutDone
	ch.waitErr = ch.cmd.Wait()
	close(ch.exited)
}

// await returns the line that lines receives, or an error when the child
// exits without it, ctx is done, or timeout (if positive) passes.
func (ch *child) await(ctx context.Context, lines <-chan string, what string, timeout time.Duration) (string, error) {
	var expire <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expire = t.C
	}
	select {
	case line := <-lines:
		return line, nil
	case <-ch.exited:
		select {
		case line := <-lines:
			return line, nil
		default:
		}
		return "", fmt.Errorf("%s exited before its %s line: %v", ch.name, what, exitText(ch.waitErr))
	case <-ctx.Done():
		return "", fmt.Errorf("%s: waiting for its %s line: %w", ch.name, what, ctx.Err())
	case <-expire:
		return "", fmt.Errorf("%s: no %s line within %v", ch.name, what, timeout)
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// release closes the child's stdin: the signal to finish.
func (ch *child) release() { ch.stdin.Close() }

// stop releases the child and waits up to timeout for it to exit, then
// kills it.
func (ch *child) stop(timeout time.Duration) error {
	ch.release()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-ch.exited:
		var ee *exec.ExitError
		if errors.As(ch.waitErr, &ee) {
			return fmt.Errorf("%s: %w", ch.name, ch.waitErr)
		}
		return nil
	case <-t.C:
		ch.cmd.Process.Kill() //nolint:errcheck // it may have just exited
		<-ch.exited
		return fmt.Errorf("%s: killed after %v", ch.name, timeout)
	}
}
