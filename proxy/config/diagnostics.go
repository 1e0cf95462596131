package config

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// WriteDiagnostics writes diags to w the way compilers do, so that editors
// and terminals can jump to them: for each, a "file:line:col: severity:
// summary" line, the source line with the offending text underlined, and
// the detail. A diagnostic that points at no source is named after the
// configuration's Source. c may be nil.
func (c *Config) WriteDiagnostics(w io.Writer, diags hcl.Diagnostics) error {
	var files map[string]*hcl.File
	source := "configuration"
	if c != nil {
		files = c.Files
		if c.Source != "" {
			source = c.Source
		}
	}
	ew := &errWriter{w: w}
	for i, d := range diags {
		if i > 0 {
			fmt.Fprintln(ew)
		}
		severity := "error"
		if d.Severity == hcl.DiagWarning {
			severity = "warning"
		}
		where := source
		if s := d.Subject; s != nil {
			where = fmt.Sprintf("%s:%d:%d", s.Filename, s.Start.Line, s.Start.Column)
		}
		fmt.Fprintf(ew, "%s: %s: %s\n", where, severity, d.Summary)
		if s := d.Subject; s != nil {
			if f := files[s.Filename]; f != nil {
				writeSnippet(ew, f.Bytes, *s)
			}
		}
		for line := range strings.Lines(d.Detail) {
			fmt.Fprintf(ew, "  %s", line)
		}
		if d.Detail != "" && !strings.HasSuffix(d.Detail, "\n") {
			fmt.Fprintln(ew)
		}
	}
	return ew.err
}

// errWriter keeps the first write error, so the renderer can write freely.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return len(p), nil
	}
	_, e.err = e.w.Write(p)
	return len(p), nil
}

// writeSnippet writes the line of src where rng starts, and under it a
// caret under each character of rng on that line:
//
//	2 |   adress = "127.0.0.1:8080"
//	  |   ^^^^^^
func writeSnippet(w io.Writer, src []byte, rng hcl.Range) {
	start := rng.Start.Byte
	if start < 0 || start > len(src) {
		return
	}
	lineStart := bytes.LastIndexByte(src[:start], '\n') + 1
	lineEnd := len(src)
	if i := bytes.IndexByte(src[lineStart:], '\n'); i >= 0 {
		lineEnd = lineStart + i
	}
	line := bytes.TrimSuffix(src[lineStart:lineEnd], []byte("\r"))
	from := min(start-lineStart, len(line))
	to := len(line)
	if rng.End.Line == rng.Start.Line {
		to = min(max(rng.End.Byte-lineStart, from), len(line))
	}

	num := strconv.Itoa(rng.Start.Line)
	fmt.Fprintf(w, "  %s | %s\n", num, line)
	// Keep tabs before the subject, so the carets line up under it.
	indent := bytes.Map(func(r rune) rune {
		if r == '\t' {
			return r
		}
		return ' '
	}, line[:from])
	marks := max(utf8.RuneCount(line[from:to]), 1)
	fmt.Fprintf(w, "  %s | %s%s\n", strings.Repeat(" ", len(num)), indent, strings.Repeat("^", marks))
}
