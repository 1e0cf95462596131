package abi

// ValueType is a Wasm value type, in the binary format's encoding (the
// same bytes as wazero's api.ValueType).
type ValueType = byte

// The value types the ABI uses.
const (
	I32 ValueType = 0x7f
	I64 ValueType = 0x7e
)

// Signature is a function type: parameters and results.
type Signature struct {
	Params, Results []ValueType
}

func sig(params []ValueType, results ...ValueType) Signature {
	return Signature{Params: params, Results: results}
}

func i32s(n int) []ValueType {
	p := make([]ValueType, n)
	for i := range p {
		p[i] = I32
	}
	return p
}

// ExportSignatures are the signatures of the guest's function exports.
// The host refuses a module whose export of one of these names has another
// signature.
var ExportSignatures = map[string]Signature{
	ExportVersion:    sig(nil),
	ExportInitialize: sig(nil),
	ExportOnStart:    sig(nil, I32),
	ExportOnOpen:     sig(i32s(2), I32),
	ExportOnMessages: sig(i32s(3), I32),
	ExportOnClose:    sig(i32s(3)),
	ExportOnTick:     sig(i32s(1)),
}

// ImportSignatures are the signatures of the host functions of module
// ModuleName.
var ImportSignatures = map[string]Signature{
	ImportLog:          sig(i32s(3)),
	ImportConfigGet:    sig(i32s(2), I32),
	ImportTimeNow:      sig(nil, I64),
	ImportTickSet:      sig(i32s(2), I32),
	ImportKVGet:        sig(i32s(4), I32),
	ImportKVSet:        sig([]ValueType{I32, I32, I32, I32, I64}, I32),
	ImportKVAdd:        sig([]ValueType{I32, I32, I64, I64}, I64),
	ImportKVDelete:     sig(i32s(2), I32),
	ImportMetricDefine: sig(i32s(3), I32),
	ImportMetricAdd:    sig([]ValueType{I32, I64}),
	ImportMetricSet:    sig([]ValueType{I32, I64}),

	ImportRequestGet:           sig(i32s(3), I32),
	ImportRequestHeader:        sig(i32s(4), I32),
	ImportRequestHeaders:       sig(i32s(2), I32),
	ImportUpstreamHeaderSet:    sig(i32s(4), I32),
	ImportUpstreamHeaderAdd:    sig(i32s(4), I32),
	ImportUpstreamHeaderRemove: sig(i32s(2), I32),
	ImportUpstreamChoose:       sig(i32s(2), I32),
	ImportUpstreamURISet:       sig(i32s(2), I32),
	ImportReject:               sig(i32s(3), I32),
	ImportRejectHeader:         sig(i32s(4), I32),

	ImportMessageInfo:    sig(i32s(1), I64),
	ImportMessageRead:    sig(i32s(4), I32),
	ImportMessageReplace: sig(i32s(4), I32),
	ImportMessageDrop:    sig(i32s(1), I32),
	ImportSend:           sig(i32s(5), I32),
	ImportClose:          sig(i32s(4), I32),

	ImportCloseReasonGet: sig(i32s(2), I32),
}
