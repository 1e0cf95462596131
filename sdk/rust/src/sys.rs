//! The host functions of module `wasmgate` (ABI.md, section 4), declared
//! once for both sides: imports of the `wasmgate` module on wasm32, and
//! stand-ins that panic elsewhere, so that the crate (and a plugin's own
//! unit tests) build and run on the development machine. The SDK never
//! reaches them outside a hook.
//!
//! Every pointer the SDK passes is the start of a live slice with its
//! length (a dangling but aligned pointer for an empty one, which the host
//! does not read), so it always lies inside the guest's memory: the host
//! traps on anything else.

macro_rules! host_functions {
    ($( fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)?; )*) => {
        #[cfg(target_arch = "wasm32")]
        #[link(wasm_import_module = "wasmgate")]
        extern "C" {
            $( pub fn $name($($arg: $ty),*) $(-> $ret)?; )*
        }

        $(
            #[cfg(not(target_arch = "wasm32"))]
            #[allow(clippy::missing_safety_doc)]
            pub unsafe fn $name($(_: $ty),*) $(-> $ret)? {
                no_host(stringify!($name))
            }
        )*
    };
}

#[cfg(not(target_arch = "wasm32"))]
fn no_host(name: &str) -> ! {
    panic!("wasmgate: host function {name} called outside a wasm32 plugin")
}

host_functions! {
    fn log(level: i32, ptr: *const u8, len: usize);
    fn config_get(buf: *mut u8, cap: usize) -> i32;
    fn time_now() -> i64;
    fn tick_set(ctx: u32, period_ms: u32) -> i32;
    fn kv_get(key: *const u8, key_len: usize, buf: *mut u8, cap: usize) -> i32;
    fn kv_set(key: *const u8, key_len: usize, val: *const u8, val_len: usize, ttl_ms: i64) -> i32;
    fn kv_add(key: *const u8, key_len: usize, delta: i64, ttl_ms: i64) -> i64;
    fn kv_delete(key: *const u8, key_len: usize) -> i32;
    fn metric_define(kind: i32, name: *const u8, name_len: usize) -> i32;
    fn metric_add(id: i32, delta: i64);
    fn metric_set(id: i32, value: i64);

    fn request_get(field: i32, buf: *mut u8, cap: usize) -> i32;
    fn request_header(name: *const u8, name_len: usize, buf: *mut u8, cap: usize) -> i32;
    fn request_headers(buf: *mut u8, cap: usize) -> i32;
    fn upstream_header_set(name: *const u8, name_len: usize, val: *const u8, val_len: usize) -> i32;
    fn upstream_header_add(name: *const u8, name_len: usize, val: *const u8, val_len: usize) -> i32;
    fn upstream_header_remove(name: *const u8, name_len: usize) -> i32;
    fn upstream_choose(name: *const u8, name_len: usize) -> i32;
    fn upstream_uri_set(uri: *const u8, uri_len: usize) -> i32;
    fn reject(status: i32, body: *const u8, body_len: usize) -> i32;
    fn reject_header(name: *const u8, name_len: usize, val: *const u8, val_len: usize) -> i32;

    fn message_info(index: u32) -> i64;
    fn message_read(index: u32, offset: u32, buf: *mut u8, cap: usize) -> i32;
    fn message_replace(index: u32, ty: i32, ptr: *const u8, len: usize) -> i32;
    fn message_drop(index: u32) -> i32;
    fn send(ctx: u32, flags: u32, ty: i32, ptr: *const u8, len: usize) -> i32;
    fn close(ctx: u32, code: u32, reason: *const u8, reason_len: usize) -> i32;

    fn close_reason_get(buf: *mut u8, cap: usize) -> i32;
}

// The ABI's numbers (ABI.md, section 6), named as in sdk/abi/abi.go.

pub const ACTION_CONTINUE: i32 = 0;
pub const ACTION_REJECT: i32 = 1;

pub const OPEN_TLS: u32 = 1;
pub const OPEN_REOPEN: u32 = 2;
pub const DIR_UPSTREAM_TO_CLIENT: u32 = 1;
pub const CLOSE_BY_UPSTREAM: u32 = 1;
pub const CLOSE_ABNORMAL: u32 = 2;

pub const TYPE_TEXT: i32 = 1;
pub const TYPE_BINARY: i32 = 2;

pub const FIELD_METHOD: i32 = 0;
pub const FIELD_URI: i32 = 1;
pub const FIELD_PATH: i32 = 2;
pub const FIELD_QUERY: i32 = 3;
pub const FIELD_HOST: i32 = 4;
pub const FIELD_REMOTE_ADDR: i32 = 5;
pub const FIELD_PROTOCOLS: i32 = 6;
pub const FIELD_ROUTE: i32 = 7;

pub const LOG_DEBUG: i32 = 0;
pub const LOG_INFO: i32 = 1;
pub const LOG_WARN: i32 = 2;
pub const LOG_ERROR: i32 = 3;

pub const METRIC_COUNTER: i32 = 0;
pub const METRIC_GAUGE: i32 = 1;

pub const ERR_NOT_FOUND: i32 = -1;
pub const ERR_INVALID_ARGUMENT: i32 = -2;
pub const ERR_TOO_LARGE: i32 = -3;
pub const ERR_WRONG_HOOK: i32 = -4;
pub const KV_ADD_FULL: i64 = i64::MIN;
