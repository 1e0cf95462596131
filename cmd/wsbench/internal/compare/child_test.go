package compare

import (
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineRecorder collects a child's stdout lines.
type lineRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (l *lineRecorder) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
}

func (l *lineRecorder) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lines)
}

func TestChild_releaseAndLines(t *testing.T) {
	var rec lineRecorder
	c, err := startChild(childSpec{
		name: "sh", argv: []string{"sh", "-c", "echo one; echo oops >&2; cat >/dev/null; echo two"},
		logPath: filepath.Join(t.TempDir(), "sh.log"), stdin: true, onLine: rec.add,
	})
	if err != nil {
		t.Fatal(err)
	}
	c.release() // cat reads EOF
	if err := c.wait(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	<-c.linesDone
	if got := rec.get(); !slices.Equal(got, []string{"one", "two"}) {
		t.Errorf("lines %q, want one, two", got)
	}
	if got := c.logTail(5); got != "oops" {
		t.Errorf("log %q, want the stderr line", got)
	}
	if got := c.exitDesc(); got != "exit status 0" {
		t.Errorf("exitDesc %q", got)
	}
}

func TestChild_stop(t *testing.T) {
	c, err := startChild(childSpec{
		name: "sleep", argv: []string{"sleep", "60"}, logPath: filepath.Join(t.TempDir(), "sleep.log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.exited() {
		t.Fatal("exited at once")
	}
	c.stop()
	if !c.exited() {
		t.Fatal("still running after stop")
	}
	if err := c.exitErr(); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("exit: %v, want terminated by SIGTERM", err)
	}
}

func TestChild_waitTimesOut(t *testing.T) {
	c, err := startChild(childSpec{
		name: "sleep", argv: []string{"sleep", "60"}, logPath: filepath.Join(t.TempDir(), "sleep.log"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.wait(50 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Errorf("wait: %v", err)
	}
	if !c.exited() {
		t.Error("wait left it running")
	}
}

func TestChild_startFails(t *testing.T) {
	_, err := startChild(childSpec{
		name: "missing", argv: []string{filepath.Join(t.TempDir(), "no-such-program")},
		logPath: filepath.Join(t.TempDir(), "x.log"), onLine: func(string) {},
	})
	if err == nil {
		t.Fatal("no error")
	}
}
