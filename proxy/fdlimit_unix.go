//go:build unix

package proxy

import (
	"math"
	"strconv"
	"syscall"
)

// openFilesLimit returns the process's open-file limit (the soft
// RLIMIT_NOFILE) for a log line: a number, "unlimited" or "unknown".
func openFilesLimit() string {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return "unknown"
	}
	// Cur is unsigned on some systems and signed on others; a signed
	// RLIM_INFINITY is the largest int64, so the conversion is safe.
	cur := uint64(rl.Cur)
	if cur == math.MaxUint64 || cur == math.MaxInt64 {
		return "unlimited"
	}
	return strconv.FormatUint(cur, 10)
}
