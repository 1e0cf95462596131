//go:build !wasip1

package wasmgate

// Outside GOOS=wasip1 there is no wasmgate host: the package builds, so
// that tools and tests on the development machine can use its types, and
// its host functions go to host, which the package's tests set to a fake.
// With host nil they panic; outside a hook the SDK never reaches them.

// hostFuncs is the host side of the ABI with slices for (pointer, length)
// pairs: the same calls as host_wasip1.go's wrappers.
type hostFuncs interface {
	Log(level int32, msg string)
	ConfigGet(buf []byte) int32
	TimeNow() int64
	TickSet(ctx, periodMillis uint32) int32
	KVGet(key string, buf []byte) int32
	KVSet(key string, val []byte, ttlMillis int64) int32
	KVAdd(key string, delta, ttlMillis int64) int64
	KVDelete(key string) int32
	MetricDefine(kind int32, name string) int32
	MetricAdd(id int32, delta int64)
	MetricSet(id int32, value int64)
	RequestGet(field int32, buf []byte) int32
	RequestHeader(name string, buf []byte) int32
	RequestHeaders(buf []byte) int32
	UpstreamHeaderSet(name, val string) int32
	UpstreamHeaderAdd(name, val string) int32
	UpstreamHeaderRemove(name string) int32
	UpstreamChoose(name string) int32
	UpstreamURISet(uri string) int32
	Reject(status int32, body []byte) int32
	RejectHeader(name, val string) int32
	MessageInfo(index uint32) int64
	MessageRead(index, offset uint32, buf []byte) int32
	MessageReplace(index uint32, typ int32, p []byte) int32
	MessageDrop(index uint32) int32
	Send(ctx, flags uint32, typ int32, p []byte) int32
	Close(ctx, code uint32, reason string) int32
	CloseReasonGet(buf []byte) int32
}

// host receives the host function calls of a build other than wasip1.
var host hostFuncs

func h() hostFuncs {
	if host == nil {
		panic("wasmgate: host functions are only available in a GOOS=wasip1 build run by wasmgate")
	}
	return host
}

func hLog(level int32, msg string)                     { h().Log(level, msg) }
func hConfigGet(buf []byte) int32                      { return h().ConfigGet(buf) }
func hTimeNow() int64                                  { return h().TimeNow() }
func hTickSet(ctx, periodMillis uint32) int32          { return h().TickSet(ctx, periodMillis) }
func hKVGet(key string, buf []byte) int32              { return h().KVGet(key, buf) }
func hKVSet(key string, val []byte, ttl int64) int32   { return h().KVSet(key, val, ttl) }
func hKVAdd(key string, delta, ttl int64) int64        { return h().KVAdd(key, delta, ttl) }
func hKVDelete(key string) int32                       { return h().KVDelete(key) }
func hMetricDefine(kind int32, name string) int32      { return h().MetricDefine(kind, name) }
func hMetricAdd(id int32, delta int64)                 { h().MetricAdd(id, delta) }
func hMetricSet(id int32, value int64)                 { h().MetricSet(id, value) }
func hRequestGet(field int32, buf []byte) int32        { return h().RequestGet(field, buf) }
func hRequestHeader(name string, buf []byte) int32     { return h().RequestHeader(name, buf) }
func hRequestHeaders(buf []byte) int32                 { return h().RequestHeaders(buf) }
func hUpstreamHeaderSet(name, val string) int32        { return h().UpstreamHeaderSet(name, val) }
func hUpstreamHeaderAdd(name, val string) int32        { return h().UpstreamHeaderAdd(name, val) }
func hUpstreamHeaderRemove(name string) int32          { return h().UpstreamHeaderRemove(name) }
func hUpstreamChoose(name string) int32                { return h().UpstreamChoose(name) }
func hUpstreamURISet(uri string) int32                 { return h().UpstreamURISet(uri) }
func hReject(status int32, body []byte) int32          { return h().Reject(status, body) }
func hRejectHeader(name, val string) int32             { return h().RejectHeader(name, val) }
func hMessageInfo(index uint32) int64                  { return h().MessageInfo(index) }
func hMessageRead(index, off uint32, buf []byte) int32 { return h().MessageRead(index, off, buf) }
func hMessageReplace(i uint32, t int32, p []byte) int32 {
	return h().MessageReplace(i, t, p)
}
func hMessageDrop(index uint32) int32                  { return h().MessageDrop(index) }
func hSend(ctx, flags uint32, t int32, p []byte) int32 { return h().Send(ctx, flags, t, p) }
func hClose(ctx, code uint32, reason string) int32     { return h().Close(ctx, code, reason) }
func hCloseReasonGet(buf []byte) int32                 { return h().CloseReasonGet(buf) }
