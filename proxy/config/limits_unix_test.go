//go:build unix

package config

import (
	"math"
	"syscall"
	"testing"
)

// TestDefaultMaxConnections checks the default of the global
// max_connections against the process's open-file limit: each connection
// holds two sockets, after 64 descriptors kept for everything else.
func TestDefaultMaxConnections(t *testing.T) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatalf("getrlimit: %v", err)
	}
	nofile := uint64(rl.Cur)
	want := 1 // the least, for a limit of 66 or fewer
	if nofile > 66 {
		want = int(min((nofile-64)/2, math.MaxInt))
	}
	if got := defaultMaxConnections(); got != want {
		t.Errorf("defaultMaxConnections() = %d, want (%d - 64) / 2 = %d", got, nofile, want)
	}
	cfg, _ := mustParse(t, lines(okListener, okUpstream, okRoute), "")
	if cfg.Limits.MaxConnections != want {
		t.Errorf("Config.Limits.MaxConnections = %d, want %d", cfg.Limits.MaxConnections, want)
	}
}
