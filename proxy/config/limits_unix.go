//go:build unix

package config

import "syscall"

// defaultMaxConnections returns the default of the global max_connections:
// as many connections as the process's open-file limit leaves room for (see
// connectionsFor). It reads the soft limit, which the Go runtime raises
// toward the hard limit at start-up, so it is the limit the proxy runs
// under. When
// the limit cannot be read it returns 0, no cap, rather than a guess.
func defaultMaxConnections() int {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	// Cur is unsigned on some systems and signed on others; a signed
	// RLIM_INFINITY is the largest int64, so the conversion is safe.
	return connectionsFor(uint64(rl.Cur))
}
