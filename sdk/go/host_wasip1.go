//go:build wasip1

package wasmgate

import (
	"runtime"
	"unsafe"
)

// The host functions of module wasmgate (ABI.md, section 4). The
// directives need literal names; TestWasmImports checks each against the
// constants of package abi, and each Go signature against
// abi.ImportSignatures. Below them, the h* wrappers turn slices and
// strings into (pointer, length) pairs and keep them alive for the call.

//go:wasmimport wasmgate log
//go:noescape
func importLog(level int32, ptr unsafe.Pointer, n uint32)

//go:wasmimport wasmgate config_get
//go:noescape
func importConfigGet(buf unsafe.Pointer, capacity uint32) int32

//go:wasmimport wasmgate time_now
func importTimeNow() int64

//go:wasmimport wasmgate tick_set
func importTickSet(ctx uint32, periodMillis uint32) int32

//go:wasmimport wasmgate kv_get
//go:noescape
func importKVGet(key unsafe.Pointer, keyLen uint32, buf unsafe.Pointer, capacity uint32) int32

//go:wasmimport wasmgate kv_set
//go:noescape
func importKVSet(key unsafe.Pointer, keyLen uint32, val unsafe.Pointer, valLen uint32, ttlMillis int64) int32

//go:wasmimport wasmgate kv_add
//go:noescape
func importKVAdd(key unsafe.Pointer, keyLen uint32, delta int64, ttlMillis int64) int64

//go:wasmimport wasmgate kv_delete
//go:noescape
func importKVDelete(key unsafe.Pointer, keyLen uint32) int32

//go:wasmimport wasmgate metric_define
//go:noescape
func importMetricDefine(kind int32, name unsafe.Pointer, nameLen uint32) int32

//go:wasmimport wasmgate metric_add
func importMetricAdd(id int32, delta int64)

//go:wasmimport wasmgate metric_set
func importMetricSet(id int32, value int64)

//go:wasmimport wasmgate request_get
//go:noescape
func importRequestGet(field int32, buf unsafe.Pointer, capacity uint32) int32

//go:wasmimport wasmgate request_header
//go:noescape
func importRequestHeader(name unsafe.Pointer, nameLen uint32, buf unsafe.Pointer, capacity uint32) int32

//go:wasmimport wasmgate request_headers
//go:noescape
func importRequestHeaders(buf unsafe.Pointer, capacity uint32) int32

//go:wasmimport wasmgate upstream_header_set
//go:noescape
func importUpstreamHeaderSet(name unsafe.Pointer, nameLen uint32, val unsafe.Pointer, valLen uint32) int32

//go:wasmimport wasmgate upstream_header_add
//go:noescape
func importUpstreamHeaderAdd(name unsafe.Pointer, nameLen uint32, val unsafe.Pointer, valLen uint32) int32

//go:wasmimport wasmgate upstream_header_remove
//go:noescape
func importUpstreamHeaderRemove(name unsafe.Pointer, nameLen uint32) int32

//go:wasmimport wasmgate upstream_choose
//go:noescape
func importUpstreamChoose(name unsafe.Pointer, nameLen uint32) int32

//go:wasmimport wasmgate upstream_uri_set
//go:noescape
func importUpstreamURISet(uri unsafe.Pointer, uriLen uint32) int32

//go:wasmimport wasmgate reject
//go:noescape
func importReject(status int32, body unsafe.Pointer, bodyLen uint32) int32

//go:wasmimport wasmgate reject_header
//go:noescape
func importRejectHeader(name unsafe.Pointer, nameLen uint32, val unsafe.Pointer, valLen uint32) int32

//go:wasmimport wasmgate message_info
func importMessageInfo(index uint32) int64

//go:wasmimport wasmgate message_read
//go:noescape
func importMessageRead(index uint32, offset uint32, buf unsafe.Pointer, capacity uint32) int32

//go:wasmimport wasmgate message_replace
//go:noescape
func importMessageReplace(index uint32, typ int32, ptr unsafe.Pointer, n uint32) int32

//go:wasmimport wasmgate message_drop
func importMessageDrop(index uint32) int32

//go:wasmimport wasmgate send
//go:noescape
func importSend(ctx uint32, flags uint32, typ int32, ptr unsafe.Pointer, n uint32) int32

//go:wasmimport wasmgate close
//go:noescape
func importClose(ctx uint32, code uint32, reason unsafe.Pointer, reasonLen uint32) int32

//go:wasmimport wasmgate close_reason_get
//go:noescape
func importCloseReasonGet(buf unsafe.Pointer, capacity uint32) int32

func hLog(level int32, msg string) {
	importLog(level, stringPtr(msg), uint32(len(msg)))
	runtime.KeepAlive(msg)
}

func hConfigGet(buf []byte) int32 {
	n := importConfigGet(bytesPtr(buf), uint32(len(buf)))
	runtime.KeepAlive(buf)
	return n
}

func hTimeNow() int64 { return importTimeNow() }

func hTickSet(ctx, periodMillis uint32) int32 { return importTickSet(ctx, periodMillis) }

func hKVGet(key string, buf []byte) int32 {
	n := importKVGet(stringPtr(key), uint32(len(key)), bytesPtr(buf), uint32(len(buf)))
	runtime.KeepAlive(key)
	runtime.KeepAlive(buf)
	return n
}

func hKVSet(key string, val []byte, ttlMillis int64) int32 {
	n := importKVSet(stringPtr(key), uint32(len(key)), bytesPtr(val), uint32(len(val)), ttlMillis)
	runtime.KeepAlive(key)
	runtime.KeepAlive(val)
	return n
}

func hKVAdd(key string, delta, ttlMillis int64) int64 {
	n := importKVAdd(stringPtr(key), uint32(len(key)), delta, ttlMillis)
	runtime.KeepAlive(key)
	return n
}

func hKVDelete(key string) int32 {
	n := importKVDelete(stringPtr(key), uint32(len(key)))
	runtime.KeepAlive(key)
	return n
}

func hMetricDefine(kind int32, name string) int32 {
	n := importMetricDefine(kind, stringPtr(name), uint32(len(name)))
	runtime.KeepAlive(name)
	return n
}

func hMetricAdd(id int32, delta int64) { importMetricAdd(id, delta) }

func hMetricSet(id int32, value int64) { importMetricSet(id, value) }

func hRequestGet(field int32, buf []byte) int32 {
	n := importRequestGet(field, bytesPtr(buf), uint32(len(buf)))
	runtime.KeepAlive(buf)
	return n
}

func hRequestHeader(name string, buf []byte) int32 {
	n := importRequestHeader(stringPtr(name), uint32(len(name)), bytesPtr(buf), uint32(len(buf)))
	runtime.KeepAlive(name)
	runtime.KeepAlive(buf)
	return n
}

func hRequestHeaders(buf []byte) int32 {
	n := importRequestHeaders(bytesPtr(buf), uint32(len(buf)))
	runtime.KeepAlive(buf)
	return n
}

func hUpstreamHeaderSet(name, val string) int32 {
	n := importUpstreamHeaderSet(stringPtr(name), uint32(len(name)), stringPtr(val), uint32(len(val)))
	runtime.KeepAlive(name)
	runtime.KeepAlive(val)
	return n
}

func hUpstreamHeaderAdd(name, val string) int32 {
	n := importUpstreamHeaderAdd(stringPtr(name), uint32(len(name)), stringPtr(val), uint32(len(val)))
	runtime.KeepAlive(name)
	runtime.KeepAlive(val)
	return n
}

func hUpstreamHeaderRemove(name string) int32 {
	n := importUpstreamHeaderRemove(stringPtr(name), uint32(len(name)))
	runtime.KeepAlive(name)
	return n
}

func hUpstreamChoose(name string) int32 {
	n := importUpstreamChoose(stringPtr(name), uint32(len(name)))
	runtime.KeepAlive(name)
	return n
}

func hUpstreamURISet(uri string) int32 {
	n := importUpstreamURISet(stringPtr(uri), uint32(len(uri)))
	runtime.KeepAlive(uri)
	return n
}

func hReject(status int32, body []byte) int32 {
	n := importReject(status, bytesPtr(body), uint32(len(body)))
	runtime.KeepAlive(body)
	return n
}

func hRejectHeader(name, val string) int32 {
	n := importRejectHeader(stringPtr(name), uint32(len(name)), stringPtr(val), uint32(len(val)))
	runtime.KeepAlive(name)
	runtime.KeepAlive(val)
	return n
}

func hMessageInfo(index uint32) int64 { return importMessageInfo(index) }

func hMessageRead(index, offset uint32, buf []byte) int32 {
	n := importMessageRead(index, offset, bytesPtr(buf), uint32(len(buf)))
	runtime.KeepAlive(buf)
	return n
}

func hMessageReplace(index uint32, typ int32, p []byte) int32 {
	n := importMessageReplace(index, typ, bytesPtr(p), uint32(len(p)))
	runtime.KeepAlive(p)
	return n
}

func hMessageDrop(index uint32) int32 { return importMessageDrop(index) }

func hSend(ctx, flags uint32, typ int32, p []byte) int32 {
	n := importSend(ctx, flags, typ, bytesPtr(p), uint32(len(p)))
	runtime.KeepAlive(p)
	return n
}

func hClose(ctx, code uint32, reason string) int32 {
	n := importClose(ctx, code, stringPtr(reason), uint32(len(reason)))
	runtime.KeepAlive(reason)
	return n
}

func hCloseReasonGet(buf []byte) int32 {
	n := importCloseReasonGet(bytesPtr(buf), uint32(len(buf)))
	runtime.KeepAlive(buf)
	return n
}
