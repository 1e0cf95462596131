use std::time::Duration;

use crate::error::{check_unit, Error};
use crate::{rt, sys, tick_millis, MessageType};

/// The context id of a connection: a handle to send to it, close it or set
/// its timer from any hook of the instance (the connection must be pinned
/// to this instance, as every connection that reached this instance's
/// hooks is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub(crate) u32);

impl ConnId {
    /// Returns the context id, unique among the live connections of the
    /// plugin.
    pub fn get(self) -> u32 {
        self.0
    }

    /// Sends a message to the client. In `message` of the same connection
    /// it goes out after the message being handled; to another connection
    /// at once. The other filters of the route do not see it. Valid in
    /// `message` and `tick` ([`Error::WrongHook`] elsewhere);
    /// [`Error::NotFound`] for a closed connection,
    /// [`Error::InvalidArgument`] for a text payload that is not UTF-8,
    /// [`Error::TooLarge`] over the route's message size.
    pub fn send_to_client(self, ty: MessageType, payload: impl AsRef<[u8]>) -> Result<(), Error> {
        self.send(sys::DIR_UPSTREAM_TO_CLIENT, ty, payload.as_ref())
    }

    /// Sends a message to the upstream, as [`ConnId::send_to_client`] does
    /// to the client.
    pub fn send_to_upstream(self, ty: MessageType, payload: impl AsRef<[u8]>) -> Result<(), Error> {
        self.send(0, ty, payload.as_ref())
    }

    fn send(self, flags: u32, ty: MessageType, p: &[u8]) -> Result<(), Error> {
        // SAFETY: the host reads p during the call only.
        check_unit(unsafe { sys::send(self.0, flags, ty.code(), p.as_ptr(), p.len()) })
    }

    /// Closes the connection: the client gets `code` and `reason` (at most
    /// 123 bytes), the upstream 1001. In `message` the rest of the batch is
    /// dropped (the SDK calls `message` no more for it); in `open` it
    /// refuses the handshake with 403 and the reason as the body, and the
    /// connection gets no `close`. Valid in `open`, `message` and `tick`
    /// ([`Error::WrongHook`] elsewhere); [`Error::InvalidArgument`] for a
    /// code that is not valid on the wire (such as 1005) or a reason too
    /// long.
    pub fn close(self, code: u16, reason: &str) -> Result<(), Error> {
        // SAFETY: the host reads reason during the call only.
        check_unit(unsafe { sys::close(self.0, code.into(), reason.as_ptr(), reason.len()) })?;
        rt::closed(self.0);
        Ok(())
    }

    /// Makes `Filter::tick` run for the connection every `period`, from
    /// 10 ms (whole milliseconds, a fraction rounded up), until it ends. A
    /// zero period stops the timer; [`Error::InvalidArgument`] for a
    /// shorter or longer one than the host accepts.
    pub fn set_tick(self, period: Duration) -> Result<(), Error> {
        let ms = tick_millis(period)?;
        // SAFETY: a host call without pointers.
        check_unit(unsafe { sys::tick_set(self.0, ms) })
    }
}

/// One proxied connection, as this instance of the plugin sees it: its id,
/// and the filter's own state for it in [`Conn::state`]. The SDK creates it
/// with `S::default()` for the connection's first hook, and drops it after
/// `Filter::close` (or after `open` refused the connection).
#[derive(Debug)]
pub struct Conn<S> {
    id: ConnId,
    pub(crate) tls: bool,
    /// The filter's state for this connection.
    pub state: S,
}

impl<S: Default> Conn<S> {
    pub(crate) fn new(id: ConnId) -> Conn<S> {
        Conn {
            id,
            tls: false,
            state: S::default(),
        }
    }
}

impl<S> Conn<S> {
    /// Returns the connection's id, a handle that can be kept after the
    /// hook (to send to this connection from another's hook, say).
    pub fn id(&self) -> ConnId {
        self.id
    }

    /// Reports whether the client connected with TLS (wss).
    pub fn tls(&self) -> bool {
        self.tls
    }

    /// Sends a message to the client: [`ConnId::send_to_client`].
    pub fn send_to_client(&self, ty: MessageType, payload: impl AsRef<[u8]>) -> Result<(), Error> {
        self.id.send_to_client(ty, payload)
    }

    /// Sends a message to the upstream: [`ConnId::send_to_upstream`].
    pub fn send_to_upstream(
        &self,
        ty: MessageType,
        payload: impl AsRef<[u8]>,
    ) -> Result<(), Error> {
        self.id.send_to_upstream(ty, payload)
    }

    /// Closes the connection: [`ConnId::close`].
    pub fn close(&self, code: u16, reason: &str) -> Result<(), Error> {
        self.id.close(code, reason)
    }

    /// Sets the connection's timer: [`ConnId::set_tick`].
    pub fn set_tick(&self, period: Duration) -> Result<(), Error> {
        self.id.set_tick(period)
    }
}

/// How a connection ended, given to `Filter::close`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseEvent {
    /// The upstream side ended the connection; false when the client did.
    pub by_upstream: bool,
    /// That side vanished without a close frame; `code` is then 1006.
    pub abnormal: bool,
    /// The close code, 1005 when the close frame had none.
    pub code: u16,
    /// The close reason.
    pub reason: String,
}
