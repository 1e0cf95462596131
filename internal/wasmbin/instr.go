package wasmbin

// Opcodes of the instructions below.
const (
	opUnreachable = 0x00
	opNop         = 0x01
	opBlock       = 0x02
	opLoop        = 0x03
	opIf          = 0x04
	opElse        = 0x05
	opEnd         = 0x0b
	opBr          = 0x0c
	opBrIf        = 0x0d
	opReturn      = 0x0f
	opCall        = 0x10
	opDrop        = 0x1a
	opLocalGet    = 0x20
	opLocalSet    = 0x21
	opLocalTee    = 0x22
	opI32Load     = 0x28
	opI32Store    = 0x36
	opMemorySize  = 0x3f
	opMemoryGrow  = 0x40
	opI32Const    = 0x41
	opI64Const    = 0x42
	opI32Eqz      = 0x45
	opI32Eq       = 0x46
	opI32Add      = 0x6a
	opI32Sub      = 0x6b

	blockEmpty = 0x40 // the block type of a block without results
)

// The functions below each return one instruction, encoded, for a Func's
// Body. Each call returns a new slice.

// Unreachable traps.
func Unreachable() []byte { return []byte{opUnreachable} }

// Nop does nothing.
func Nop() []byte { return []byte{opNop} }

// Block starts a block without parameters or results, ended by End. A
// branch to it jumps to its end.
func Block() []byte { return []byte{opBlock, blockEmpty} }

// Loop starts a loop without parameters or results, ended by End. A branch
// to it jumps to its start.
func Loop() []byte { return []byte{opLoop, blockEmpty} }

// If pops an i32 and runs what follows, up to Else or End, when it is not
// zero. The block has no results.
func If() []byte { return []byte{opIf, blockEmpty} }

// Else starts the part of an If that runs when the condition is zero.
func Else() []byte { return []byte{opElse} }

// End ends a Block, Loop or If. (Encode ends each function body itself.)
func End() []byte { return []byte{opEnd} }

// Br branches to the enclosing block depth levels out (0 is the innermost).
func Br(depth uint32) []byte { return appendU32([]byte{opBr}, depth) }

// BrIf pops an i32 and branches as Br does when it is not zero.
func BrIf(depth uint32) []byte { return appendU32([]byte{opBrIf}, depth) }

// Return returns from the function, with the results on the stack.
func Return() []byte { return []byte{opReturn} }

// Call calls function index (imports first, then defined functions).
func Call(index uint32) []byte { return appendU32([]byte{opCall}, index) }

// Drop pops a value and discards it.
func Drop() []byte { return []byte{opDrop} }

// LocalGet pushes local index (parameters first).
func LocalGet(index uint32) []byte { return appendU32([]byte{opLocalGet}, index) }

// LocalSet pops a value into local index.
func LocalSet(index uint32) []byte { return appendU32([]byte{opLocalSet}, index) }

// LocalTee sets local index to the value on top of the stack, leaving it
// there.
func LocalTee(index uint32) []byte { return appendU32([]byte{opLocalTee}, index) }

// I32Load pops an address and pushes the i32 at address+offset of memory 0.
func I32Load(offset uint32) []byte {
	return appendU32([]byte{opI32Load, 2}, offset) // alignment 2^2
}

// I32Store pops a value and an address, and stores the value at
// address+offset of memory 0.
func I32Store(offset uint32) []byte {
	return appendU32([]byte{opI32Store, 2}, offset) // alignment 2^2
}

// MemorySize pushes the size of memory 0, in pages.
func MemorySize() []byte { return []byte{opMemorySize, 0x00} }

// MemoryGrow pops a number of pages, grows memory 0 by it, and pushes the
// previous size in pages, or -1 when the memory cannot grow.
func MemoryGrow() []byte { return []byte{opMemoryGrow, 0x00} }

// I32Const pushes v.
func I32Const(v int32) []byte { return appendS64([]byte{opI32Const}, int64(v)) }

// I64Const pushes v.
func I64Const(v int64) []byte { return appendS64([]byte{opI64Const}, v) }

// I32Eqz pops an i32 and pushes 1 if it is zero, else 0.
func I32Eqz() []byte { return []byte{opI32Eqz} }

// I32Eq pops two i32s and pushes 1 if they are equal, else 0.
func I32Eq() []byte { return []byte{opI32Eq} }

// I32Add pops two i32s and pushes their sum, wrapping around.
func I32Add() []byte { return []byte{opI32Add} }

// I32Sub pops b, then a, and pushes a-b, wrapping around.
func I32Sub() []byte { return []byte{opI32Sub} }

// Concat joins instructions into one body.
func Concat(instrs ...[]byte) []byte {
	n := 0
	for _, in := range instrs {
		n += len(in)
	}
	out := make([]byte, 0, n)
	for _, in := range instrs {
		out = append(out, in...)
	}
	return out
}
