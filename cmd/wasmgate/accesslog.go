package main

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// accessLogFile is an access log written to a file, which reopen opens
// anew: after logrotate has moved it, SIGHUP makes wasmgate write to a
// fresh file at the same path, as nginx does on USR1.
type accessLogFile struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

func openAccessLog(path string) (*accessLogFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	return &accessLogFile{path: path, f: f}, nil
}

func (a *accessLogFile) Write(p []byte) (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.f.Write(p)
}

// reopen opens the path anew. On error the old file stays in use.
func (a *accessLogFile) reopen() error {
	f, err := os.OpenFile(a.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("reopen access log: %w", err)
	}
	a.mu.Lock()
	old := a.f
	a.f = f
	a.mu.Unlock()
	return old.Close()
}

func (a *accessLogFile) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.f.Close()
}

// accessLogger makes the access log that -access-log asks for: nil for
// "off", the log's stream for "stderr", stdout, or a file. Its lines are
// at level info whatever -log-level says: they are a record, not
// diagnostics. file is set for a file, to reopen and close.
func accessLogger(dest string, logs *logFlags, std stdio) (log *slog.Logger, file *accessLogFile, err error) {
	switch dest {
	case "off":
		return nil, nil, nil
	case "stderr", "":
		return logs.handlerLogger(std.err, slog.LevelInfo), nil, nil
	case "stdout":
		return logs.handlerLogger(std.out, slog.LevelInfo), nil, nil
	}
	file, err = openAccessLog(dest)
	if err != nil {
		return nil, nil, err
	}
	return logs.handlerLogger(file, slog.LevelInfo), file, nil
}
