package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is the release of wasmgate, set when building one:
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/wasmgate
//
// When it is empty, versionString falls back on the module version in the
// build information (set by "go install module@version", or derived from
// version control), and then on "dev".
var version string

const versionUsage = `Usage: wasmgate version

Version prints the version of wasmgate, and the Go version and platform it
was built with.
`

// cmdVersion is "wasmgate version".
func cmdVersion(_ context.Context, args []string, std stdio) int {
	fs := newFlagSet("version", versionUsage)
	pos, code, ok := fs.parse(args, std)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return fs.usageError(std, "unexpected argument %q", pos[0])
	}
	fmt.Fprintf(std.out, "wasmgate %s (%s %s/%s)\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return 0
}

// versionString is the version to report.
func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
