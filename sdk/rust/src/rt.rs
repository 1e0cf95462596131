//! The runtime behind the exports that [`register!`](crate::register)
//! generates: the instance's filter and connections, the buffers of the
//! `(buf, cap) -> len` calls, and the dispatch of each hook.
//!
//! A guest is never re-entered and never runs on two threads, so the
//! state lives in thread-locals (plain statics on wasm32) without locks.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::mem;

use crate::error::{check, Error};
use crate::message::split_info;
use crate::{sys, Action, CloseEvent, Config, Conn, ConnId, Filter, Level, Message, Request};

/// The first size of the buffer the host copies strings into; it grows to
/// the longest value seen.
const SCRATCH_SIZE: usize = 1024;

/// The hooks of a running filter, with the filter's type erased so that
/// the thread-local below needs none.
trait Hooks {
    fn open(&mut self, ctx: u32, flags: u32) -> i32;
    fn messages(&mut self, ctx: u32, flags: u32, count: u32) -> i32;
    fn close(&mut self, ctx: u32, flags: u32, code: u32);
    fn tick(&mut self, ctx: u32);
}

thread_local! {
    static INSTANCE: RefCell<Option<Box<dyn Hooks>>> = const { RefCell::new(None) };
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// The connection of the running hook (0 for none or the plugin), and
    /// whether the filter closed it during the hook.
    static HOOK_CONN: Cell<u32> = const { Cell::new(0) };
    static HOOK_CLOSED: Cell<bool> = const { Cell::new(false) };
}

/// Calls a host function of the `(buf, cap) -> len` convention with the
/// SDK's buffer, again with a larger one while the value does not fit (it
/// may change between two calls: the key-value store is shared), and
/// returns a copy of the value.
pub(crate) fn fetch(mut get: impl FnMut(*mut u8, usize) -> i32) -> Result<Vec<u8>, Error> {
    SCRATCH.with(|scratch| {
        let mut buf = scratch.borrow_mut();
        if buf.is_empty() {
            buf.resize(SCRATCH_SIZE, 0);
        }
        loop {
            let n = check(get(buf.as_mut_ptr(), buf.len()))? as usize;
            if n <= buf.len() {
                return Ok(buf[..n].to_vec());
            }
            buf.resize(n, 0);
        }
    })
}

/// [`fetch`] for a value that is text; bytes that are not UTF-8 become
/// U+FFFD.
pub(crate) fn fetch_string(get: impl FnMut(*mut u8, usize) -> i32) -> Result<String, Error> {
    fetch(get).map(|b| match String::from_utf8(b) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// Records that the filter closed connection `ctx`: when it is the running
/// hook's, the SDK stops calling `message` for the rest of the batch, and a
/// connection closed in `open` gets no `close`.
pub(crate) fn closed(ctx: u32) {
    if ctx != 0 && HOOK_CONN.with(Cell::get) == ctx {
        HOOK_CLOSED.with(|c| c.set(true));
    }
}

/// Marks the start of a hook for connection `ctx` (0 for none).
fn enter(ctx: u32) {
    HOOK_CONN.with(|c| c.set(ctx));
    HOOK_CLOSED.with(|c| c.set(false));
}

/// Reports whether the filter closed the running hook's connection.
fn hook_closed() -> bool {
    HOOK_CLOSED.with(Cell::get)
}

/// The running filter and what it knows of its connections.
struct Instance<F: Filter> {
    filter: F,
    conns: BTreeMap<u32, Conn<F::State>>,
    /// The payload buffer of every message, lent to each batch's Message.
    buf: Vec<u8>,
}

/// Returns connection `ctx`, creating it on its first hook (`open`, or any
/// other should the host name a connection the instance has not seen).
fn conn_entry<S: Default>(conns: &mut BTreeMap<u32, Conn<S>>, ctx: u32) -> &mut Conn<S> {
    conns.entry(ctx).or_insert_with(|| Conn::new(ConnId(ctx)))
}

impl<F: Filter> Hooks for Instance<F> {
    fn open(&mut self, ctx: u32, flags: u32) -> i32 {
        enter(ctx);
        let reopen = flags & sys::OPEN_REOPEN != 0;
        let Instance { filter, conns, .. } = self;
        let conn = conn_entry(conns, ctx);
        conn.tls = flags & sys::OPEN_TLS != 0;
        let action = filter.open(conn, &Request::new(reopen));
        // A rejected handshake, or one closed during open (which the host
        // turns into a rejection), gets no on_close: forget it now. A
        // reopened connection is live and ends with on_close.
        if !reopen && (action == Action::Reject || hook_closed()) {
            conns.remove(&ctx);
        }
        match action {
            Action::Continue => sys::ACTION_CONTINUE,
            Action::Reject => sys::ACTION_REJECT,
        }
    }

    fn messages(&mut self, ctx: u32, flags: u32, count: u32) -> i32 {
        enter(ctx);
        let Instance { filter, conns, buf } = self;
        let conn = conn_entry(conns, ctx);
        let mut msg = Message::new(
            mem::take(buf),
            flags & sys::DIR_UPSTREAM_TO_CLIENT != 0,
            count,
        );
        let mut status = 0;
        for index in 0..count {
            if hook_closed() {
                // The host drops the rest of the batch.
                break;
            }
            // SAFETY: a host call without pointers.
            match split_info(unsafe { sys::message_info(index) }) {
                Ok((ty, len)) => msg.reset(index, ty, len),
                Err(e) => {
                    crate::log(
                        Level::Error,
                        &format!("message_info({index}) of a batch of {count}: {e}"),
                    );
                    status = 1;
                    break;
                }
            }
            filter.message(conn, &msg);
        }
        *buf = msg.into_buffer();
        status
    }

    fn close(&mut self, ctx: u32, flags: u32, code: u32) {
        enter(ctx);
        let mut conn = self
            .conns
            .remove(&ctx)
            .unwrap_or_else(|| Conn::new(ConnId(ctx)));
        let event = CloseEvent {
            by_upstream: flags & sys::CLOSE_BY_UPSTREAM != 0,
            abnormal: flags & sys::CLOSE_ABNORMAL != 0,
            code: code as u16,
            // SAFETY: fetch passes a buffer it owns with its length.
            reason: fetch_string(|buf, cap| unsafe { sys::close_reason_get(buf, cap) })
                .unwrap_or_default(),
        };
        self.filter.close(&mut conn, &event);
    }

    fn tick(&mut self, ctx: u32) {
        enter(ctx);
        if ctx == 0 {
            self.filter.tick(None);
        } else {
            self.filter.tick(Some(conn_entry(&mut self.conns, ctx)));
        }
    }
}

/// Runs `f` on the instance; `default` when `wasmgate_on_start` has not
/// built one (the host calls no other hook then).
fn with_instance<R>(default: R, f: impl FnOnce(&mut dyn Hooks) -> R) -> R {
    let r = INSTANCE.with(|i| i.borrow_mut().as_mut().map(|h| f(h.as_mut())));
    enter(0);
    r.unwrap_or(default)
}

/// The implementation of the exports, for [`register!`](crate::register)
/// only.
#[doc(hidden)]
pub mod exports {
    use super::*;

    #[cfg(target_arch = "wasm32")]
    extern "C" {
        /// Runs the module's static constructors (WASI libc's environment,
        /// among others); wasm-ld defines it.
        fn __wasm_call_ctors();
    }

    /// `_initialize`: exporting it makes wasm-ld build a WASI reactor
    /// rather than a command, whose every export would rerun the
    /// constructors (and leak what they allocate) on each call.
    pub fn initialize() {
        #[cfg(target_arch = "wasm32")]
        // SAFETY: the host calls _initialize once, first, as WASI reactors
        // expect.
        unsafe {
            __wasm_call_ctors()
        }
    }

    pub fn on_start<F: Filter>() -> i32 {
        enter(0);
        // A panic is logged through the host, with the plugin's name and
        // the connection, rather than on stderr; then it traps (the
        // plugins build with panic=abort).
        std::panic::set_hook(Box::new(|info| crate::log(Level::Error, &info.to_string())));
        // SAFETY: fetch passes a buffer it owns with its length.
        let raw = match fetch_string(|buf, cap| unsafe { sys::config_get(buf, cap) }) {
            Ok(raw) => raw,
            Err(e) => {
                crate::log(Level::Error, &format!("reading the configuration: {e}"));
                return 1;
            }
        };
        let status = match F::start(&Config::new(raw)) {
            Ok(filter) => {
                let instance = Instance {
                    filter,
                    conns: BTreeMap::new(),
                    buf: Vec::new(),
                };
                INSTANCE.with(|i| *i.borrow_mut() = Some(Box::new(instance)));
                0
            }
            Err(e) => {
                crate::log(Level::Error, &format!("start: {e}"));
                1
            }
        };
        enter(0);
        status
    }

    pub fn on_open(ctx: u32, flags: u32) -> i32 {
        with_instance(sys::ACTION_CONTINUE, |h| h.open(ctx, flags))
    }

    pub fn on_messages(ctx: u32, flags: u32, count: u32) -> i32 {
        with_instance(0, |h| h.messages(ctx, flags, count))
    }

    pub fn on_close(ctx: u32, flags: u32, code: u32) {
        with_instance((), |h| h.close(ctx, flags, code));
    }

    pub fn on_tick(ctx: u32) {
        with_instance((), |h| h.tick(ctx));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A value served the way the host serves one: copied up to the
    /// capacity, its full length returned.
    fn serve<'a>(value: &'a [u8], calls: &'a mut usize) -> impl FnMut(*mut u8, usize) -> i32 + 'a {
        move |buf, cap| {
            *calls += 1;
            let n = value.len().min(cap);
            // SAFETY: fetch passes a buffer of cap bytes.
            unsafe { std::ptr::copy_nonoverlapping(value.as_ptr(), buf, n) };
            value.len() as i32
        }
    }

    #[test]
    fn fetch_grows_the_buffer() {
        let mut calls = 0;
        assert_eq!(fetch(serve(b"short", &mut calls)).unwrap(), b"short");
        assert_eq!(calls, 1);

        let long: Vec<u8> = (0..5000).map(|i| i as u8).collect();
        calls = 0;
        assert_eq!(fetch(serve(&long, &mut calls)).unwrap(), long);
        assert_eq!(calls, 2);

        // The buffer kept its size: a second long value fits at once.
        calls = 0;
        assert_eq!(fetch(serve(&long, &mut calls)).unwrap(), long);
        assert_eq!(calls, 1);
    }

    #[test]
    fn fetch_errors() {
        assert_eq!(fetch(|_, _| -1), Err(Error::NotFound));
        assert_eq!(fetch_string(|_, _| -4), Err(Error::WrongHook));
        let mut calls = 0;
        assert_eq!(
            fetch_string(serve(b"a\xffb", &mut calls)).unwrap(),
            "a\u{fffd}b"
        );
    }
}
