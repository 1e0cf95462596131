package codec

import (
	"math/bits"
	"sync"
)

// Buffers come from size-classed pools so that a Conn holds a large buffer
// only while it needs one. Pools store *[]byte so that Get and Put do not
// allocate.
const (
	minPoolShift = 12 // 4 KiB
	maxPoolShift = 24 // 16 MiB
)

var bufPools [maxPoolShift - minPoolShift + 1]sync.Pool

// poolClass returns the index of the smallest class that holds n bytes, or
// -1 when n is larger than the largest class.
func poolClass(n int) int {
	if n <= 1<<minPoolShift {
		return 0
	}
	shift := bits.Len(uint(n - 1))
	if shift > maxPoolShift {
		return -1
	}
	return shift - minPoolShift
}

// getBuffer returns a buffer of at least n bytes (its length is its class
// size).
func getBuffer(n int) *[]byte {
	class := poolClass(n)
	if class < 0 {
		b := make([]byte, n)
		return &b
	}
	if p, ok := bufPools[class].Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, 1<<(class+minPoolShift))
	return &b
}

// putBuffer returns a buffer obtained from getBuffer.
func putBuffer(p *[]byte) {
	if p == nil {
		return
	}
	n := len(*p)
	class := poolClass(n)
	if class < 0 || n != 1<<(class+minPoolShift) {
		return // not a pooled size: let the GC have it
	}
	bufPools[class].Put(p)
}
