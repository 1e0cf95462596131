//go:build race

package main

// raceEnabled: the race detector makes sync.Pool drop items on purpose,
// so allocation counts mean nothing in a race build.
const raceEnabled = true
