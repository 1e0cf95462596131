package main

import (
	"context"
	"fmt"

	"github.com/wasmgate/wasmgate/proxy/config"
)

const validateUsage = `Usage: wasmgate validate FILE|DIR

Validate loads the configuration in FILE, or in the .hcl files of the
directory DIR, checks all of it, and prints each error and warning on
stderr as file:line:col with the source it points at. It starts nothing.

It prints "FILE: ok" on stdout and exits 0 when there is no error (there
may be warnings), and exits 1 when there is one.
`

// cmdValidate is "wasmgate validate".
func cmdValidate(_ context.Context, args []string, std stdio) int {
	fs := newFlagSet("validate", validateUsage)
	pos, code, ok := fs.parse(args, std)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		return fs.usageError(std, "want one configuration file or directory, got %d arguments", len(pos))
	}
	path := pos[0]
	cfg, diags := config.Load(path)
	cfg.WriteDiagnostics(std.err, diags) //nolint:errcheck // stderr
	if diags.HasErrors() {
		fmt.Fprintf(std.err, "\n%s: %s\n", path, summarize(diags))
		return 1
	}
	if len(diags) > 0 {
		fmt.Fprintln(std.err)
		fmt.Fprintf(std.out, "%s: ok (%s)\n", path, summarize(diags))
		return 0
	}
	fmt.Fprintf(std.out, "%s: ok\n", path)
	return 0
}
