use std::marker::PhantomData;

use crate::error::{check_unit, Error};
use crate::rt::fetch_string;
use crate::{log, sys, Action, Level};

/// The WebSocket handshake of a connection, given to `Filter::open`, whose
/// call bounds its life.
///
/// The getters return the empty string or list when the host refuses the
/// call, which it does only outside `open`. Strings that are not UTF-8
/// (header values may carry any byte) have U+FFFD in place of the bad
/// bytes.
#[derive(Debug)]
pub struct Request {
    reopen: bool,
    /// Not Send: it stands for the running hook.
    _hook: PhantomData<*const ()>,
}

impl Request {
    pub(crate) fn new(reopen: bool) -> Request {
        Request {
            reopen,
            _hook: PhantomData,
        }
    }

    /// Reports whether this `open` reruns for a live connection after the
    /// plugin was replaced: no handshake is in progress, and the methods
    /// that edit the upstream request or the refusal return
    /// [`Error::WrongHook`].
    pub fn is_reopen(&self) -> bool {
        self.reopen
    }

    fn field(&self, field: i32) -> String {
        // SAFETY: fetch passes a buffer it owns with its length.
        fetch_string(|buf, cap| unsafe { sys::request_get(field, buf, cap) }).unwrap_or_default()
    }

    /// Returns the method (`GET`).
    pub fn method(&self) -> String {
        self.field(sys::FIELD_METHOD)
    }

    /// Returns the path and query as the client sent them.
    pub fn uri(&self) -> String {
        self.field(sys::FIELD_URI)
    }

    /// Returns the path.
    pub fn path(&self) -> String {
        self.field(sys::FIELD_PATH)
    }

    /// Returns the query, without `?`.
    pub fn query(&self) -> String {
        self.field(sys::FIELD_QUERY)
    }

    /// Returns the host the client asked for.
    pub fn host(&self) -> String {
        self.field(sys::FIELD_HOST)
    }

    /// Returns the client's address, `ip:port`.
    pub fn remote_addr(&self) -> String {
        self.field(sys::FIELD_REMOTE_ADDR)
    }

    /// Returns the name of the route the request matched.
    pub fn route(&self) -> String {
        self.field(sys::FIELD_ROUTE)
    }

    /// Returns the subprotocols the client offered, in order.
    pub fn protocols(&self) -> Vec<String> {
        split_list(&self.field(sys::FIELD_PROTOCOLS))
    }

    /// Returns the first value of header `name` (matched without regard to
    /// case); [`Error::NotFound`] when the request has none.
    pub fn header(&self, name: &str) -> Result<String, Error> {
        let values = self.header_values(name)?;
        Ok(values.into_iter().next().unwrap_or_default())
    }

    /// Returns every value of header `name` (matched without regard to
    /// case); [`Error::NotFound`] when the request has none.
    pub fn header_values(&self, name: &str) -> Result<Vec<String>, Error> {
        // SAFETY: the host reads name during the call only; fetch passes a
        // buffer it owns with its length.
        let list = fetch_string(|buf, cap| unsafe {
            sys::request_header(name.as_ptr(), name.len(), buf, cap)
        })?;
        Ok(split_list(&list))
    }

    /// Returns every header as `(name, value)`, names in lower case; a
    /// header with several values comes once per value.
    pub fn headers(&self) -> Vec<(String, String)> {
        // SAFETY: fetch passes a buffer it owns with its length.
        let list =
            fetch_string(|buf, cap| unsafe { sys::request_headers(buf, cap) }).unwrap_or_default();
        let mut items = split_list(&list).into_iter();
        let mut headers = Vec::new();
        while let Some(name) = items.next() {
            headers.push((name, items.next().unwrap_or_default()));
        }
        headers
    }

    /// Replaces a header of the request sent upstream. Handshake headers
    /// (`Host`, `Upgrade`, `Connection`, `Sec-WebSocket-*`) and hop-by-hop
    /// headers cannot be set: [`Error::InvalidArgument`].
    pub fn set_upstream_header(&self, name: &str, value: &str) -> Result<(), Error> {
        // SAFETY: the host reads both strings during the call only.
        check_unit(unsafe {
            sys::upstream_header_set(name.as_ptr(), name.len(), value.as_ptr(), value.len())
        })
    }

    /// Adds a value to a header of the request sent upstream, with the
    /// limits of [`Request::set_upstream_header`].
    pub fn add_upstream_header(&self, name: &str, value: &str) -> Result<(), Error> {
        // SAFETY: the host reads both strings during the call only.
        check_unit(unsafe {
            sys::upstream_header_add(name.as_ptr(), name.len(), value.as_ptr(), value.len())
        })
    }

    /// Removes a header from the request sent upstream, with the limits of
    /// [`Request::set_upstream_header`].
    pub fn remove_upstream_header(&self, name: &str) -> Result<(), Error> {
        // SAFETY: the host reads name during the call only.
        check_unit(unsafe { sys::upstream_header_remove(name.as_ptr(), name.len()) })
    }

    /// Makes the connection dial the named upstream instead of the route's;
    /// [`Error::NotFound`] for an unknown name.
    pub fn choose_upstream(&self, name: &str) -> Result<(), Error> {
        // SAFETY: the host reads name during the call only.
        check_unit(unsafe { sys::upstream_choose(name.as_ptr(), name.len()) })
    }

    /// Replaces the request-target (path and query, as in
    /// `/v2/chat?room=1`) sent to the upstream, after its server's base
    /// path. Filters later in the route read the new one.
    /// [`Error::InvalidArgument`] unless it starts with `/` and is at most
    /// 8192 bytes of visible ASCII without `#` (percent-encode anything
    /// else).
    pub fn set_upstream_uri(&self, uri: &str) -> Result<(), Error> {
        // SAFETY: the host reads uri during the call only.
        check_unit(unsafe { sys::upstream_uri_set(uri.as_ptr(), uri.len()) })
    }

    /// Sets the refusal sent to the client if `open` returns
    /// [`Action::Reject`]: a status from 400 to 599 and a body. Without it
    /// the refusal is 403 with an empty body. [`Error::InvalidArgument`]
    /// for another status.
    pub fn try_reject(&self, status: u16, body: impl AsRef<[u8]>) -> Result<Action, Error> {
        let body = body.as_ref();
        // SAFETY: the host reads body during the call only.
        check_unit(unsafe { sys::reject(status.into(), body.as_ptr(), body.len()) })?;
        Ok(Action::Reject)
    }

    /// Sets the refusal as [`Request::try_reject`] does and returns
    /// [`Action::Reject`] for `open` to return:
    ///
    /// ```no_run
    /// # use wasmgate::{Action, Conn, Request};
    /// # fn open(conn: &mut Conn<()>, req: &Request) -> Action {
    /// if req.header("authorization").is_err() {
    ///     return req.reject(401, "who are you?");
    /// }
    /// Action::Continue
    /// # }
    /// ```
    ///
    /// When the refusal cannot be set, it logs why and the client gets the
    /// default refusal, 403 with an empty body.
    pub fn reject(&self, status: u16, body: impl AsRef<[u8]>) -> Action {
        self.try_reject(status, body).unwrap_or_else(|e| {
            log(Level::Error, &format!("reject with status {status}: {e}"));
            Action::Reject
        })
    }

    /// Adds a header to the refusal, with the limits of
    /// [`Request::set_upstream_header`].
    pub fn reject_header(&self, name: &str, value: &str) -> Result<(), Error> {
        // SAFETY: the host reads both strings during the call only.
        check_unit(unsafe {
            sys::reject_header(name.as_ptr(), name.len(), value.as_ptr(), value.len())
        })
    }
}

/// Returns the items of a NUL-terminated list (ABI.md, section 2). Text
/// after the last NUL, which a correct host never sends, makes one more
/// item.
fn split_list(list: &str) -> Vec<String> {
    if list.is_empty() {
        return Vec::new();
    }
    let list = list.strip_suffix('\0').unwrap_or(list);
    list.split('\0').map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::split_list;

    #[test]
    fn lists() {
        assert_eq!(split_list(""), Vec::<String>::new());
        assert_eq!(split_list("a\0"), ["a"]);
        assert_eq!(split_list("chat.v2\0chat.v1\0"), ["chat.v2", "chat.v1"]);
        assert_eq!(split_list("\0"), [""]);
        assert_eq!(split_list("a\0\0b\0"), ["a", "", "b"]);
        assert_eq!(split_list("a\0b"), ["a", "b"]);
    }
}
