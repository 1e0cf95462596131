package wasmgate

import "unsafe"

// The host functions take pointers into the guest's memory. A pointer the
// SDK passes is either nil (0) with a length of 0, or the first byte of a
// live Go slice or string, so it always lies inside memory with its
// length: the host traps on anything else.

// bytesPtr returns the address of b's first byte, or nil for an empty b.
func bytesPtr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.SliceData(b))
}

// stringPtr returns the address of s's first byte, or nil for an empty s.
func stringPtr(s string) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.StringData(s))
}
