//! The Rust SDK for wasmgate filter plugins: WebAssembly modules that
//! wasmgate runs on the handshakes and messages of the WebSocket
//! connections it proxies. It implements the plugin ABI, version 1
//! (`sdk/ABI.md`), with the standard library only; a plugin implements
//! [`Filter`], registers it with [`register!`], and never sees the ABI's
//! context ids, pointers or result codes, nor writes `unsafe`.
//!
//! ```no_run
//! use std::error::Error;
//! use wasmgate::{Action, Config, Conn, Counter, Filter, Message, MessageType, Request};
//!
//! /// Upper-cases the text messages of clients that present the token.
//! struct Shout {
//!     token: String,
//!     shouted: Counter,
//! }
//!
//! impl Filter for Shout {
//!     type State = ();
//!
//!     fn start(config: &Config) -> Result<Self, Box<dyn Error>> {
//!         let config = config.parse()?;
//!         let token = config["token"].as_str().ok_or("config: token must be a string")?;
//!         Ok(Shout { token: token.to_string(), shouted: Counter::define("shouted_messages")? })
//!     }
//!
//!     fn open(&mut self, _conn: &mut Conn<()>, req: &Request) -> Action {
//!         match req.header("x-token") {
//!             Ok(token) if token == self.token => Action::Continue,
//!             _ => req.reject(401, "bad token"),
//!         }
//!     }
//!
//!     fn message(&mut self, _conn: &mut Conn<()>, msg: &Message) {
//!         if msg.ty() == MessageType::Text && !msg.from_upstream() {
//!             if let Err(e) = msg.replace(MessageType::Text, msg.bytes().to_ascii_uppercase()) {
//!                 wasmgate::warn!("replace: {e}");
//!             }
//!             self.shouted.add(1);
//!         }
//!     }
//! }
//!
//! wasmgate::register!(Shout);
//! ```
//!
//! # The life of an instance
//!
//! wasmgate makes a few instances of each plugin. Each builds its filter
//! with [`Filter::start`] from the plugin's configuration. A connection
//! stays on one instance for its life: [`Filter::open`] on the handshake,
//! [`Filter::message`] for each data message (in both directions),
//! [`Filter::tick`] for the timers the filter set, and [`Filter::close`]
//! when it ends. The SDK keeps a [`Conn`] per connection, with the filter's
//! state for it in [`Conn::state`].
//!
//! An instance runs one hook at a time, on one thread: a filter needs no
//! locks, and must not block. A panic traps (plugins build with
//! `-C panic=abort`); a trap, a hook that runs past the plugin's deadline
//! or memory that grows past its cap discards the instance, and wasmgate
//! starts a fresh one and applies the plugin's `on_error` policy to the
//! connections it served.
//!
//! The functions that act on the host return [`Result`]s whose [`Error`]
//! carries the ABI's code. The host says which hook each is valid in and
//! returns [`Error::WrongHook`] elsewhere.

#![warn(missing_docs)]

mod conn;
mod error;
mod json;
pub mod kv;
mod message;
mod metrics;
mod request;
mod rt;
mod sys;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use conn::{CloseEvent, Conn, ConnId};
pub use error::Error;
pub use json::{Json, JsonError};
pub use message::Message;
pub use metrics::{Counter, Gauge};
pub use request::Request;
#[doc(hidden)]
pub use rt::exports as __private;

/// A plugin's filter. The SDK calls its methods from the ABI's hooks; each
/// has a default but [`Filter::start`], which builds the filter.
pub trait Filter: Sized + 'static {
    /// The filter's state for each connection, in [`Conn::state`]: created
    /// with `Default` for the connection's first hook, dropped after its
    /// last. `()` for none.
    type State: Default + 'static;

    /// Builds the filter of an instance from the plugin's configuration,
    /// once per instance, before any connection. It is the only place to
    /// define metrics. An error refuses the plugin: at startup wasmgate
    /// does not start, on a reload the old configuration stays.
    fn start(config: &Config) -> Result<Self, Box<dyn std::error::Error>>;

    /// Called on each handshake, before the upstream is dialed, and again
    /// (with [`Request::is_reopen`]) when the plugin was replaced on a live
    /// connection. [`Action::Continue`] lets the handshake go on;
    /// [`Action::Reject`] refuses the client (see [`Request::reject`]). A
    /// handshake that `open` rejects or closes gets no `close` (a reopened
    /// connection does).
    ///
    /// The default continues.
    fn open(&mut self, _conn: &mut Conn<Self::State>, _req: &Request) -> Action {
        Action::Continue
    }

    /// Called for each data message, in order. Without
    /// [`Message::replace`] or [`Message::discard`] the message goes on
    /// unchanged. After a [`Conn::close`] of this connection the rest of
    /// the batch is dropped, and `message` is not called for it.
    ///
    /// The default lets the message pass.
    fn message(&mut self, _conn: &mut Conn<Self::State>, _msg: &Message) {}

    /// Called once per connection that `open` let through, when it ends.
    /// After it the SDK drops the connection's state.
    ///
    /// The default does nothing.
    fn close(&mut self, _conn: &mut Conn<Self::State>, _event: &CloseEvent) {}

    /// Called when a timer fires: a connection's, set with
    /// [`Conn::set_tick`], or with `None` the instance's, set with
    /// [`set_tick`].
    ///
    /// The default does nothing.
    fn tick(&mut self, _conn: Option<&mut Conn<Self::State>>) {}
}

/// What [`Filter::open`] decides about a handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The handshake goes on to the next filter, then the upstream.
    Continue,
    /// The client is refused with the status, headers and body given with
    /// [`Request::reject`] and [`Request::reject_header`] (403 with an
    /// empty body without them). Later filters do not run.
    Reject,
}

/// The type of a WebSocket data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// A text message: its payload is UTF-8.
    Text,
    /// A binary message.
    Binary,
}

impl MessageType {
    /// Returns the ABI's number of the type: 1 for text, 2 for binary.
    pub fn code(self) -> i32 {
        match self {
            MessageType::Text => sys::TYPE_TEXT,
            MessageType::Binary => sys::TYPE_BINARY,
        }
    }

    /// Returns the type of an ABI number.
    pub fn from_code(code: i32) -> Option<MessageType> {
        match code {
            sys::TYPE_TEXT => Some(MessageType::Text),
            sys::TYPE_BINARY => Some(MessageType::Binary),
            _ => None,
        }
    }
}

/// The level of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// Details for debugging.
    Debug,
    /// Normal events.
    Info,
    /// Something unexpected that the filter handled.
    Warn,
    /// Something that failed.
    Error,
}

/// Logs `msg` at `level`; wasmgate adds the plugin's name and the
/// connection. The macros [`debug!`], [`info!`], [`warn!`] and [`error!`]
/// format as `format!` does.
pub fn log(level: Level, msg: &str) {
    let level = match level {
        Level::Debug => sys::LOG_DEBUG,
        Level::Info => sys::LOG_INFO,
        Level::Warn => sys::LOG_WARN,
        Level::Error => sys::LOG_ERROR,
    };
    // SAFETY: the host reads msg during the call only.
    unsafe { sys::log(level, msg.as_ptr(), msg.len()) }
}

/// Logs at [`Level::Debug`], formatting as `format!`.
#[macro_export]
macro_rules! debug {
    ($($arg:tt)*) => { $crate::log($crate::Level::Debug, &::std::format!($($arg)*)) };
}

/// Logs at [`Level::Info`], formatting as `format!`.
#[macro_export]
macro_rules! info {
    ($($arg:tt)*) => { $crate::log($crate::Level::Info, &::std::format!($($arg)*)) };
}

/// Logs at [`Level::Warn`], formatting as `format!`.
#[macro_export]
macro_rules! warn {
    ($($arg:tt)*) => { $crate::log($crate::Level::Warn, &::std::format!($($arg)*)) };
}

/// Logs at [`Level::Error`], formatting as `format!`.
#[macro_export]
macro_rules! error {
    ($($arg:tt)*) => { $crate::log($crate::Level::Error, &::std::format!($($arg)*)) };
}

/// The plugin's configuration: the `config` attribute of its HCL block, as
/// JSON (`null` when it has none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    raw: String,
}

impl Config {
    pub(crate) fn new(raw: String) -> Config {
        if raw.is_empty() {
            return Config {
                raw: "null".to_string(),
            };
        }
        Config { raw }
    }

    /// Returns the configuration as the host gave it: JSON text.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Parses the configuration; see [`Json`] to read it.
    pub fn parse(&self) -> Result<Json, JsonError> {
        Json::parse(&self.raw)
    }
}

/// Returns the host's wall-clock time.
pub fn now() -> SystemTime {
    // SAFETY: a host call without pointers.
    let ns = unsafe { sys::time_now() };
    if ns >= 0 {
        UNIX_EPOCH + Duration::from_nanos(ns as u64)
    } else {
        UNIX_EPOCH - Duration::from_nanos(ns.unsigned_abs())
    }
}

/// Makes [`Filter::tick`] run with `None` every `period`, from 10 ms
/// (whole milliseconds, a fraction rounded up), for the instance as a
/// whole: each instance has its own timer. A zero period stops it;
/// [`Error::InvalidArgument`] for a shorter or longer one than the host
/// accepts.
pub fn set_tick(period: Duration) -> Result<(), Error> {
    let ms = tick_millis(period)?;
    // SAFETY: a host call without pointers.
    error::check_unit(unsafe { sys::tick_set(0, ms) })
}

/// Returns the whole milliseconds of `d`, a fraction rounded up.
fn ceil_millis(d: Duration) -> u128 {
    (d.as_nanos() + 999_999) / 1_000_000
}

/// Converts a timer period to the argument of `tick_set`; the host checks
/// the minimum.
fn tick_millis(period: Duration) -> Result<u32, Error> {
    match ceil_millis(period) {
        ms if ms <= i32::MAX as u128 => Ok(ms as u32),
        _ => Err(Error::InvalidArgument),
    }
}

/// Registers the plugin's [`Filter`]: it generates the module's exports
/// (`wasmgate_abi_v1`, the five hooks and the WASI reactor's
/// `_initialize`), which call the filter's methods. Use it once, in the
/// plugin's crate:
///
/// ```no_run
/// # use wasmgate::{Config, Filter};
/// struct MyFilter;
///
/// impl Filter for MyFilter {
///     type State = ();
///
///     fn start(_config: &Config) -> Result<Self, Box<dyn std::error::Error>> {
///         Ok(MyFilter)
///     }
/// }
///
/// wasmgate::register!(MyFilter);
/// ```
#[macro_export]
macro_rules! register {
    ($filter:ty) => {
        const _: () = {
            #[no_mangle]
            pub extern "C" fn _initialize() {
                $crate::__private::initialize()
            }

            #[no_mangle]
            pub extern "C" fn wasmgate_abi_v1() {}

            #[no_mangle]
            pub extern "C" fn wasmgate_on_start() -> i32 {
                $crate::__private::on_start::<$filter>()
            }

            #[no_mangle]
            pub extern "C" fn wasmgate_on_open(ctx: u32, flags: u32) -> i32 {
                $crate::__private::on_open(ctx, flags)
            }

            #[no_mangle]
            pub extern "C" fn wasmgate_on_messages(ctx: u32, flags: u32, count: u32) -> i32 {
                $crate::__private::on_messages(ctx, flags, count)
            }

            #[no_mangle]
            pub extern "C" fn wasmgate_on_close(ctx: u32, flags: u32, code: u32) {
                $crate::__private::on_close(ctx, flags, code)
            }

            #[no_mangle]
            pub extern "C" fn wasmgate_on_tick(ctx: u32) {
                $crate::__private::on_tick(ctx)
            }
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_periods() {
        assert_eq!(tick_millis(Duration::ZERO), Ok(0));
        assert_eq!(tick_millis(Duration::from_millis(10)), Ok(10));
        assert_eq!(tick_millis(Duration::from_micros(10_001)), Ok(11));
        assert_eq!(tick_millis(Duration::from_millis(5)), Ok(5));
        assert_eq!(
            tick_millis(Duration::from_millis(i32::MAX as u64)),
            Ok(i32::MAX as u32)
        );
        assert_eq!(
            tick_millis(Duration::from_millis(i32::MAX as u64 + 1)),
            Err(Error::InvalidArgument)
        );
        assert_eq!(tick_millis(Duration::MAX), Err(Error::InvalidArgument));
    }

    #[test]
    fn message_types() {
        for t in [MessageType::Text, MessageType::Binary] {
            assert_eq!(MessageType::from_code(t.code()), Some(t));
        }
        assert_eq!(MessageType::from_code(0), None);
    }

    #[test]
    fn config() {
        assert_eq!(Config::new(String::new()).as_str(), "null");
        assert!(Config::new("null".into()).parse().unwrap().is_null());
        let c = Config::new(r#"{"a":1}"#.into());
        assert_eq!(c.as_str(), r#"{"a":1}"#);
        assert_eq!(c.parse().unwrap()["a"].as_i64(), Some(1));
    }
}
