// Package abi mirrors sdk/ABI.md, the contract between wasmgate and its
// filter plugins, as Go constants: the names of the guest's exports and of
// the host's imports, and every code, flag and enumeration value. The host
// (plugins/) and the Go SDK (sdk/go) both import it, so neither spells a
// name or a number of the contract by hand. It imports nothing and builds
// for every target, GOOS=wasip1 included.
package abi

// Version is the ABI version this package describes.
const Version = 1

// ModuleName is the module name of every host function import.
const ModuleName = "wasmgate"

// Guest exports (ABI.md, section 3).
const (
	// ExportMemory is the guest's linear memory: every pointer is an
	// offset into it.
	ExportMemory = "memory"
	// ExportVersion declares ABI version 1; it is never called.
	ExportVersion = "wasmgate_abi_v1"
	// ExportVersionPrefix starts the name of every version export: the
	// host refuses a module that declares a version it does not know.
	ExportVersionPrefix = "wasmgate_abi_v"
	// ExportInitialize is the WASI reactor initializer, called first when
	// present.
	ExportInitialize = "_initialize"
	// ExportOnStart is called once per instance: () -> status.
	ExportOnStart = "wasmgate_on_start"
	// ExportOnOpen is called on each handshake: (ctx, flags) -> action.
	ExportOnOpen = "wasmgate_on_open"
	// ExportOnMessages is called with each batch of data messages:
	// (ctx, flags, count) -> status.
	ExportOnMessages = "wasmgate_on_messages"
	// ExportOnClose is called when a connection ends: (ctx, flags, code).
	ExportOnClose = "wasmgate_on_close"
	// ExportOnTick is called when a timer fires: (ctx).
	ExportOnTick = "wasmgate_on_tick"
)

// Host function imports (ABI.md, section 4).
const (
	ImportLog          = "log"
	ImportConfigGet    = "config_get"
	ImportTimeNow      = "time_now"
	ImportTickSet      = "tick_set"
	ImportKVGet        = "kv_get"
	ImportKVSet        = "kv_set"
	ImportKVAdd        = "kv_add"
	ImportKVDelete     = "kv_delete"
	ImportMetricDefine = "metric_define"
	ImportMetricAdd    = "metric_add"
	ImportMetricSet    = "metric_set"

	ImportRequestGet           = "request_get"
	ImportRequestHeader        = "request_header"
	ImportRequestHeaders       = "request_headers"
	ImportUpstreamHeaderSet    = "upstream_header_set"
	ImportUpstreamHeaderAdd    = "upstream_header_add"
	ImportUpstreamHeaderRemove = "upstream_header_remove"
	ImportUpstreamChoose       = "upstream_choose"
	ImportUpstreamURISet       = "upstream_uri_set"
	ImportReject               = "reject"
	ImportRejectHeader         = "reject_header"

	ImportMessageInfo    = "message_info"
	ImportMessageRead    = "message_read"
	ImportMessageReplace = "message_replace"
	ImportMessageDrop    = "message_drop"
	ImportSend           = "send"
	ImportClose          = "close"

	ImportCloseReasonGet = "close_reason_get"
)

// Result codes of host functions (ABI.md, section 6). Zero and positive
// results are success; negative ones are these errors.
const (
	OK = 0
	// ErrNotFound: no such header, key, index, upstream or connection.
	ErrNotFound = -1
	// ErrInvalidArgument: a value the host refuses.
	ErrInvalidArgument = -2
	// ErrTooLarge: over a limit.
	ErrTooLarge = -3
	// ErrWrongHook: valid only in another hook, or on a replaced
	// connection.
	ErrWrongHook = -4
)

// Results of wasmgate_on_open.
const (
	ActionContinue = 0
	ActionReject   = 1
)

// Flags of wasmgate_on_open.
const (
	OpenTLS    = 1 << 0
	OpenReopen = 1 << 1
)

// Direction flag of wasmgate_on_messages and send: set for messages from
// the upstream to the client.
const DirUpstreamToClient = 1 << 0

// Flags of wasmgate_on_close.
const (
	CloseByUpstream = 1 << 0
	CloseAbnormal   = 1 << 1
)

// Message types, as in message_info, message_replace and send.
const (
	TypeText   = 1
	TypeBinary = 2
)

// Request fields of request_get.
const (
	FieldMethod     = 0
	FieldURI        = 1
	FieldPath       = 2
	FieldQuery      = 3
	FieldHost       = 4
	FieldRemoteAddr = 5
	FieldProtocols  = 6
	FieldRoute      = 7
)

// Log levels of log.
const (
	LogDebug = 0
	LogInfo  = 1
	LogWarn  = 2
	LogError = 3
)

// Metric kinds of metric_define.
const (
	MetricCounter = 0
	MetricGauge   = 1
)

// KVAddFull is the result of kv_add when the key-value store could not
// take a new key: -2^63, a value no counter can hold (kv_add traps rather
// than reach it).
const KVAddFull = -1 << 63

// MinTickPeriodMillis is the shortest period tick_set accepts.
const MinTickPeriodMillis = 10

// MessageInfo packs the result of message_info: the payload's length in
// the low 32 bits and the message type above them.
func MessageInfo(length uint32, typ int32) int64 {
	return int64(typ)<<32 | int64(length)
}

// SplitMessageInfo unpacks a non-negative result of message_info.
func SplitMessageInfo(info int64) (length uint32, typ int32) {
	return uint32(info), int32(info >> 32)
}
