//go:build !unix

package config

// defaultMaxConnections returns the default of the global max_connections:
// 0, no cap, on systems without a per-process open-file limit to derive one
// from.
func defaultMaxConnections() int {
	return 0
}
