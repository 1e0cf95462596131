package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wasmgate/wasmgate/codec"
)

func TestEMFILE_ReportDue(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type step struct {
		at       time.Duration // after t0
		reset    bool          // reset before this failure
		due      bool
		unlogged int
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"first failure is logged", []step{{at: 0, due: true}}},
		{"later ones wait for the interval", []step{
			{at: 0, due: true},
			{at: time.Second, due: false},
			{at: fdReportInterval - 1, due: false},
			{at: fdReportInterval, due: true, unlogged: 2},
			{at: fdReportInterval + 1, due: false},
		}},
		{"a quiet interval logs the next at once", []step{
			{at: 0, due: true},
			{at: 5 * fdReportInterval, due: true},
		}},
		{"reset forgets", []step{
			{at: 0, due: true},
			{at: time.Second, due: false},
			{at: 2 * time.Second, reset: true, due: true},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r fdReport
			for i, s := range tt.steps {
				if s.reset {
					r.reset()
				}
				due, unlogged := r.due(t0.Add(s.at))
				if due != s.due || unlogged != s.unlogged {
					t.Fatalf("step %d: due(%v) = %v, %d; want %v, %d", i, s.at, due, unlogged, s.due, s.unlogged)
				}
			}
		})
	}
}

func TestEMFILE_Advice(t *testing.T) {
	// How a failed socket(2) surfaces from an upstream dial.
	dialErr := func(errno syscall.Errno) error {
		return &codec.DialError{Op: "connect", URL: "ws://127.0.0.1:1/", Err: &net.OpError{
			Op: "dial", Net: "tcp", Err: os.NewSyscallError("socket", errno),
		}}
	}
	tests := []struct {
		name string
		err  error
		want string // in the advice; empty: not ok
	}{
		{"EMFILE at dial", dialErr(syscall.EMFILE), "ulimit -n"},
		{"ENFILE at dial", dialErr(syscall.ENFILE), "fs.file-max"},
		{"EMFILE at accept", &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}, "the process is out of file descriptors"},
		{"wrapped", fmt.Errorf("dial upstream: %w", dialErr(syscall.EMFILE)), "max_connections"},
		{"refused", dialErr(syscall.ECONNREFUSED), ""},
		{"other", errors.New("boom"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			advice, ok := fdAdvice(tt.err)
			if ok != (tt.want != "") || !strings.Contains(advice, tt.want) {
				t.Fatalf("fdAdvice(%v) = %q, %v; want one with %q", tt.err, advice, ok, tt.want)
			}
		})
	}
}

// failingListener fails Accept with errs in turn, then hands out conn,
// then reports itself closed.
type failingListener struct {
	mu   sync.Mutex
	errs []error
	conn net.Conn
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		return nil, err
	}
	if c := l.conn; c != nil {
		l.conn = nil
		return c, nil
	}
	return nil, net.ErrClosed
}

func (l *failingListener) Close() error { return nil }

func (l *failingListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

func TestEMFILE_AcceptLoop(t *testing.T) {
	emfile := &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	client, server := net.Pipe()
	defer client.Close()
	ln := &failingListener{errs: []error{emfile, emfile, emfile, errors.New("accept4: no buffer space")}, conn: server}
	rec := newFDLogRecorder()
	p := New(parseConfig(t, simpleConfig, map[string]string{"up": "127.0.0.1:1"}), slog.New(rec))

	p.acceptLoop(&socket{key: "not a listener of the configuration", ln: ln}) // returns at net.ErrClosed
	p.conns.Wait()

	if n := len(rec.find(slog.LevelDebug, "accept failed")); n != 4 {
		t.Errorf("%d failures logged at debug level, want 4", n)
	}
	errs := rec.find(slog.LevelError, "accept failed")
	if len(errs) != 1 {
		t.Fatalf("%d failures logged at error level, want 1 (rate-limited): %v", len(errs), errs)
	}
	if e := errs[0]; !strings.Contains(e.msg, "out of file descriptors") || !strings.Contains(e.msg, "ulimit -n") ||
		e.attrs["open_files_limit"] == "" || e.attrs["max_connections"] == "" {
		t.Errorf("the error line lacks the cause, the limits or the advice: %+v", e)
	}
	again := rec.find(slog.LevelInfo, "accepting again")
	if len(again) != 1 || again[0].attrs["failed_accepts"] != "4" {
		t.Errorf("recovery logged as %+v, want one line with failed_accepts=4", again)
	}
}

// fdLogRecorder is a slog.Handler that keeps every line, for tests to
// look for.
type fdLogRecorder struct {
	mu    *sync.Mutex
	lines *[]fdLogLine
	attrs []slog.Attr // of this handler (WithAttrs)
}

type fdLogLine struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func newFDLogRecorder() *fdLogRecorder {
	return &fdLogRecorder{mu: &sync.Mutex{}, lines: &[]fdLogLine{}}
}

func (r *fdLogRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *fdLogRecorder) Handle(_ context.Context, rec slog.Record) error {
	l := fdLogLine{level: rec.Level, msg: rec.Message, attrs: map[string]string{}}
	for _, a := range r.attrs {
		l.attrs[a.Key] = a.Value.String()
	}
	rec.Attrs(func(a slog.Attr) bool {
		l.attrs[a.Key] = a.Value.String()
		return true
	})
	r.mu.Lock()
	*r.lines = append(*r.lines, l)
	r.mu.Unlock()
	return nil
}

func (r *fdLogRecorder) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &fdLogRecorder{mu: r.mu, lines: r.lines, attrs: append(r.attrs[:len(r.attrs):len(r.attrs)], attrs...)}
}

func (r *fdLogRecorder) WithGroup(string) slog.Handler { return r }

// find returns the lines at level whose message starts with prefix.
func (r *fdLogRecorder) find(level slog.Level, prefix string) []fdLogLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	var found []fdLogLine
	for _, l := range *r.lines {
		if l.level == level && strings.HasPrefix(l.msg, prefix) {
			found = append(found, l)
		}
	}
	return found
}
