//go:build !unix

package proxy

// openFilesLimit returns the process's open-file limit for a log line:
// "unknown" on systems without a per-process one to read.
func openFilesLimit() string { return "unknown" }
