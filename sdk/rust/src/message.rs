use std::cell::{Cell, UnsafeCell};

use crate::error::{check_unit, Error};
use crate::{sys, MessageType};

/// One data message of a batch, given to `Filter::message`, whose call
/// bounds its life.
///
/// [`Message::ty`], [`Message::len`] and [`Message::bytes`] describe the
/// message as it arrived, also after [`Message::replace`].
#[derive(Debug)]
pub struct Message {
    index: u32,
    ty: MessageType,
    len: u32,
    count: u32,
    from_upstream: bool,
    /// How many bytes of the payload `buf` holds, once loaded.
    loaded: Cell<Option<usize>>,
    /// The SDK's payload buffer, reused for every message: written only
    /// before the message's payload is loaded, that is before `bytes` has
    /// handed out any reference into it.
    buf: UnsafeCell<Vec<u8>>,
}

impl Message {
    pub(crate) fn new(buf: Vec<u8>, from_upstream: bool, count: u32) -> Message {
        Message {
            index: 0,
            ty: MessageType::Binary,
            len: 0,
            count,
            from_upstream,
            loaded: Cell::new(None),
            buf: UnsafeCell::new(buf),
        }
    }

    /// Makes the value describe message `index` of the batch.
    pub(crate) fn reset(&mut self, index: u32, ty: MessageType, len: u32) {
        self.index = index;
        self.ty = ty;
        self.len = len;
        self.loaded.set(None);
    }

    pub(crate) fn into_buffer(self) -> Vec<u8> {
        self.buf.into_inner()
    }

    /// Returns the message's position in its batch, from 0.
    pub fn index(&self) -> usize {
        self.index as usize
    }

    /// Returns the number of messages in the batch.
    pub fn batch_len(&self) -> usize {
        self.count as usize
    }

    /// Returns the message's type.
    pub fn ty(&self) -> MessageType {
        self.ty
    }

    /// Reports whether the message goes from the upstream to the client;
    /// false means from the client to the upstream.
    pub fn from_upstream(&self) -> bool {
        self.from_upstream
    }

    /// Returns the length of the payload in bytes.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Reports whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Returns the payload. The SDK reads it from the host on the first
    /// call, into a buffer it reuses for every message, so a filter that
    /// does not look at payloads copies none, and one that does allocates
    /// nothing per message once the buffer has grown.
    pub fn bytes(&self) -> &[u8] {
        let n = match self.loaded.get() {
            Some(n) => n,
            None => {
                // SAFETY: loaded is None, so no reference into buf exists
                // (bytes hands them out only once loaded is set, and reset,
                // which clears it, takes &mut self).
                let buf = unsafe { &mut *self.buf.get() };
                let n = self.read_into(buf);
                self.loaded.set(Some(n));
                n
            }
        };
        // SAFETY: buf is not written while loaded is set.
        unsafe { &(&*self.buf.get())[..n] }
    }

    /// Reads the payload into buf, growing it, and returns the number of
    /// bytes read.
    fn read_into(&self, buf: &mut Vec<u8>) -> usize {
        let n = self.len();
        if buf.len() < n {
            buf.resize(n, 0);
        }
        let mut off = 0;
        while off < n {
            let rest = &mut buf[off..n];
            // SAFETY: the host writes at most rest.len() bytes into rest.
            let k =
                unsafe { sys::message_read(self.index, off as u32, rest.as_mut_ptr(), rest.len()) };
            if k <= 0 {
                // The host read nothing more: only a bug can get here.
                break;
            }
            off += (k as usize).min(n - off);
        }
        off
    }

    /// Returns the payload as text when it is UTF-8, as the payload of a
    /// text message always is.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(self.bytes()).ok()
    }

    /// Makes the message go on with type `ty` and `payload` instead; the
    /// host copies the payload, which may be (part of) [`Message::bytes`].
    /// [`Error::InvalidArgument`] for a text payload that is not UTF-8,
    /// [`Error::TooLarge`] for one over the route's message size.
    pub fn replace(&self, ty: MessageType, payload: impl AsRef<[u8]>) -> Result<(), Error> {
        let p = payload.as_ref();
        // SAFETY: the host reads p during the call only.
        check_unit(unsafe { sys::message_replace(self.index, ty.code(), p.as_ptr(), p.len()) })
    }

    /// Makes the message go no further.
    pub fn discard(&self) -> Result<(), Error> {
        // SAFETY: a host call without pointers.
        check_unit(unsafe { sys::message_drop(self.index) })
    }
}

/// Unpacks a result of `message_info`: `length | type << 32`, or a
/// negative code.
pub(crate) fn split_info(info: i64) -> Result<(MessageType, u32), Error> {
    if info < 0 {
        return Err(Error::from_negative(
            i32::try_from(info).unwrap_or(i32::MIN),
        ));
    }
    let ty = (info >> 32) as i32;
    let ty = MessageType::from_code(ty).ok_or(Error::Other(ty))?;
    Ok((ty, info as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info() {
        assert_eq!(split_info(5 | 1 << 32), Ok((MessageType::Text, 5)));
        assert_eq!(split_info(2 << 32), Ok((MessageType::Binary, 0)));
        assert_eq!(
            split_info(0xffff_ffff | 2 << 32),
            Ok((MessageType::Binary, u32::MAX))
        );
        assert_eq!(split_info(-1), Err(Error::NotFound));
        assert_eq!(split_info(i64::MIN), Err(Error::Other(i32::MIN)));
        assert_eq!(split_info(3 << 32), Err(Error::Other(3)));
    }
}
