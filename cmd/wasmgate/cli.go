package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// stdio is where one invocation reads and writes: the process's standard
// streams, or a test's buffers. The writers must be safe for concurrent
// use.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// command is one subcommand. Its function returns the exit status; ctx is
// canceled when the process is asked to stop (SIGINT, SIGTERM).
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, std stdio) int
}

// commands returns the subcommands, in the order of the usage text.
func commands() []command {
	return []command{
		{"run", "serve a configuration, or the built-in demo without -config", cmdRun},
		{"validate", "check a configuration and print its diagnostics; start nothing", cmdValidate},
		{"echo", "run a WebSocket echo server", cmdEcho},
		{"client", "connect to a WebSocket server: stdin lines out, messages in", cmdClient},
		{"version", "print the version", cmdVersion},
	}
}

// run runs the command line args (without the program name) and returns
// the exit status: 0 on success, 1 on failure, 2 on a usage error.
func run(ctx context.Context, args []string, std stdio) int {
	if len(args) == 0 {
		return cmdRun(ctx, nil, std)
	}
	name := args[0]
	switch {
	case name == "-h" || name == "-help" || name == "--help":
		writeUsage(std.out)
		return 0
	case name == "help":
		if len(args) == 1 {
			writeUsage(std.out)
			return 0
		}
		if c, ok := lookup(args[1]); ok {
			return c.run(ctx, []string{"-h"}, std)
		}
		fmt.Fprintf(std.err, "wasmgate help: unknown command %q\n\n", args[1])
		writeUsage(std.err)
		return 2
	case strings.HasPrefix(name, "-"):
		// Flags without a command are run's: "wasmgate -listen :9090".
		return cmdRun(ctx, args, std)
	}
	if c, ok := lookup(name); ok {
		return c.run(ctx, args[1:], std)
	}
	fmt.Fprintf(std.err, "wasmgate: unknown command %q\n\n", name)
	writeUsage(std.err)
	return 2
}

func lookup(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// writeUsage writes the top-level usage text.
func writeUsage(w io.Writer) {
	fmt.Fprint(w, `wasmgate is a WebSocket reverse proxy.

Usage:
  wasmgate [run flags]
  wasmgate <command> [flags] [arguments]

With no command, wasmgate runs "run": without -config, a demo proxy on
127.0.0.1:8080 in front of a built-in echo server.

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "wasmgate <command> -h" or "wasmgate help <command>" for its flags.
`)
}

// flagSet is the flags of one subcommand, with its usage text.
type flagSet struct {
	*flag.FlagSet
	name  string
	usage string // what comes before the flags: usage line and description
}

// newFlagSet makes the flag set of the subcommand name. usage is the text
// printed before the flags by -h and after a usage error.
func newFlagSet(name, usage string) *flagSet {
	fs := flag.NewFlagSet("wasmgate "+name, flag.ContinueOnError)
	// Parse would print errors and usage itself, to one writer; parse
	// prints them instead: help to stdout, errors to stderr.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{FlagSet: fs, name: name, usage: usage}
}

// parse parses args, which may mix flags and positional arguments ("--"
// ends the flags), and returns the positional arguments. When ok is false
// the command is over and exits with code: 0 after printing the usage for
// -h, 2 after a bad flag.
func (f *flagSet) parse(args []string, std stdio) (positional []string, code int, ok bool) {
	for {
		err := f.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			f.writeUsage(std.out)
			return nil, 0, false
		}
		if err != nil {
			return nil, f.usageError(std, "%v", err), false
		}
		rest := f.Args()
		if len(rest) == 0 {
			return positional, 0, true
		}
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(positional, rest...), 0, true
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// writeUsage writes the usage text and every flag.
func (f *flagSet) writeUsage(w io.Writer) {
	fmt.Fprint(w, f.usage)
	hasFlags := false
	f.VisitAll(func(*flag.Flag) { hasFlags = true })
	if !hasFlags {
		return
	}
	fmt.Fprint(w, "\nFlags:\n")
	f.SetOutput(w)
	f.PrintDefaults()
	f.SetOutput(io.Discard)
}

// usageError reports a usage error and the usage on stderr, and returns
// the exit status 2.
func (f *flagSet) usageError(std stdio, format string, args ...any) int {
	fmt.Fprintf(std.err, "wasmgate %s: %s\n\n", f.name, fmt.Sprintf(format, args...))
	f.writeUsage(std.err)
	return 2
}

// logFlags are the logging flags of the commands that serve.
type logFlags struct {
	level  slog.Level
	format logFormat
	// levelVar holds the level once logger made the logger: the admin
	// endpoint /logging changes it.
	levelVar slog.LevelVar
}

// register adds -log-level and -log-format to fs.
func (l *logFlags) register(fs *flagSet) {
	fs.TextVar(&l.level, "log-level", slog.LevelInfo, "log `level`: debug, info, warn or error")
	l.format = "text"
	fs.Var(&l.format, "log-format", "log `format`: text or json")
}

// logger returns a logger that writes to w as the flags say.
func (l *logFlags) logger(w io.Writer) *slog.Logger {
	l.levelVar.Set(l.level)
	return l.handlerLogger(w, &l.levelVar)
}

// handlerLogger returns a logger in the flags' format at level.
func (l *logFlags) handlerLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if l.format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// logFormat is the value of -log-format.
type logFormat string

func (f *logFormat) String() string { return string(*f) }

func (f *logFormat) Set(s string) error {
	switch s {
	case "text", "json":
		*f = logFormat(s)
		return nil
	}
	return errors.New(`must be "text" or "json"`)
}
