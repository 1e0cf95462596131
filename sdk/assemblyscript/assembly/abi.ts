// The wasmgate plugin ABI, version 1 (sdk/ABI.md): the host functions of
// module "wasmgate" and every number of the contract. The rest of the SDK
// is written on top of this file, and its API covers every call: a plugin
// has no need to import it.
//
// Pointers are offsets into the module's memory and lengths are byte
// counts. A pointer and length that do not lie inside memory, or a value
// outside an enumeration, make the host trap.

// Result codes (ABI.md, section 6).
export const OK: i32 = 0;
export const ERR_NOT_FOUND: i32 = -1;
export const ERR_INVALID_ARGUMENT: i32 = -2;
export const ERR_TOO_LARGE: i32 = -3;
export const ERR_WRONG_HOOK: i32 = -4;
/** The result of kv_add when the store is full: -2^63, a sum no counter reaches. */
export const KV_ADD_FULL: i64 = i64.MIN_VALUE;

// Results of wasmgate_on_open.
export const ACTION_CONTINUE: i32 = 0;
export const ACTION_REJECT: i32 = 1;

// Flags of the hooks and of send.
export const OPEN_TLS: u32 = 1;
export const OPEN_REOPEN: u32 = 2;
export const DIR_UPSTREAM_TO_CLIENT: u32 = 1;
export const CLOSE_BY_UPSTREAM: u32 = 1;
export const CLOSE_ABNORMAL: u32 = 2;

// Message types.
export const TYPE_TEXT: i32 = 1;
export const TYPE_BINARY: i32 = 2;

// Fields of request_get.
export const FIELD_METHOD: i32 = 0;
export const FIELD_URI: i32 = 1;
export const FIELD_PATH: i32 = 2;
export const FIELD_QUERY: i32 = 3;
export const FIELD_HOST: i32 = 4;
export const FIELD_REMOTE_ADDR: i32 = 5;
export const FIELD_PROTOCOLS: i32 = 6;
export const FIELD_ROUTE: i32 = 7;

// Log levels.
export const LOG_DEBUG: i32 = 0;
export const LOG_INFO: i32 = 1;
export const LOG_WARN: i32 = 2;
export const LOG_ERROR: i32 = 3;

// Metric kinds.
export const METRIC_COUNTER: i32 = 0;
export const METRIC_GAUGE: i32 = 1;

/** The shortest period tick_set accepts, in milliseconds. */
export const MIN_TICK_PERIOD_MS: i32 = 10;

// 4.1: everywhere.

@external("wasmgate", "log")
export declare function log(level: i32, ptr: usize, len: usize): void;

@external("wasmgate", "config_get")
export declare function config_get(buf: usize, cap: usize): i32;

@external("wasmgate", "time_now")
export declare function time_now(): i64;

@external("wasmgate", "tick_set")
export declare function tick_set(ctx: u32, periodMs: u32): i32;

@external("wasmgate", "kv_get")
export declare function kv_get(key: usize, keyLen: usize, buf: usize, cap: usize): i32;

@external("wasmgate", "kv_set")
export declare function kv_set(key: usize, keyLen: usize, val: usize, valLen: usize, ttlMs: i64): i32;

@external("wasmgate", "kv_add")
export declare function kv_add(key: usize, keyLen: usize, delta: i64, ttlMs: i64): i64;

@external("wasmgate", "kv_delete")
export declare function kv_delete(key: usize, keyLen: usize): i32;

@external("wasmgate", "metric_define")
export declare function metric_define(kind: i32, name: usize, nameLen: usize): i32;

@external("wasmgate", "metric_add")
export declare function metric_add(id: i32, delta: i64): void;

@external("wasmgate", "metric_set")
export declare function metric_set(id: i32, value: i64): void;

// 4.2: on the handshake.

@external("wasmgate", "request_get")
export declare function request_get(field: i32, buf: usize, cap: usize): i32;

@external("wasmgate", "request_header")
export declare function request_header(name: usize, nameLen: usize, buf: usize, cap: usize): i32;

@external("wasmgate", "request_headers")
export declare function request_headers(buf: usize, cap: usize): i32;

@external("wasmgate", "upstream_header_set")
export declare function upstream_header_set(name: usize, nameLen: usize, val: usize, valLen: usize): i32;

@external("wasmgate", "upstream_header_add")
export declare function upstream_header_add(name: usize, nameLen: usize, val: usize, valLen: usize): i32;

@external("wasmgate", "upstream_header_remove")
export declare function upstream_header_remove(name: usize, nameLen: usize): i32;

@external("wasmgate", "upstream_choose")
export declare function upstream_choose(name: usize, nameLen: usize): i32;

@external("wasmgate", "upstream_uri_set")
export declare function upstream_uri_set(uri: usize, uriLen: usize): i32;

@external("wasmgate", "reject")
export declare function reject(status: i32, body: usize, bodyLen: usize): i32;

@external("wasmgate", "reject_header")
export declare function reject_header(name: usize, nameLen: usize, val: usize, valLen: usize): i32;

// 4.3: on messages.

@external("wasmgate", "message_info")
export declare function message_info(index: u32): i64;

@external("wasmgate", "message_read")
export declare function message_read(index: u32, offset: u32, buf: usize, cap: usize): i32;

@external("wasmgate", "message_replace")
export declare function message_replace(index: u32, type: i32, ptr: usize, len: usize): i32;

@external("wasmgate", "message_drop")
export declare function message_drop(index: u32): i32;

@external("wasmgate", "send")
export declare function send(ctx: u32, flags: u32, type: i32, ptr: usize, len: usize): i32;

@external("wasmgate", "close")
export declare function close(ctx: u32, code: u32, reason: usize, reasonLen: usize): i32;

// 4.4: on close.

@external("wasmgate", "close_reason_get")
export declare function close_reason_get(buf: usize, cap: usize): i32;
