//! The key-value store, shared by every instance of the plugin (and by
//! other plugins only when wasmgate is configured so): [`add`] is how
//! instances count together, per user say.
//!
//! Keys and values are bytes: `&str`, `String`, `&[u8]` and `Vec<u8>` all
//! do. A time to live is counted in whole milliseconds (a fraction rounded
//! up); [`FOREVER`] keeps a value until it is deleted.

use std::time::Duration;

use crate::error::{check_unit, Error};
use crate::rt::fetch;
use crate::sys;

/// The time to live of a value that stays until it is deleted.
pub const FOREVER: Duration = Duration::ZERO;

/// Returns the value of `key`; [`Error::NotFound`] when it has none.
pub fn get(key: impl AsRef<[u8]>) -> Result<Vec<u8>, Error> {
    let key = key.as_ref();
    // SAFETY: the host reads key during the call only; fetch passes a
    // buffer it owns with its length.
    fetch(|buf, cap| unsafe { sys::kv_get(key.as_ptr(), key.len(), buf, cap) })
}

/// Stores `value` under `key` for `ttl`; [`Error::TooLarge`] when the
/// store's limits are reached.
pub fn set(key: impl AsRef<[u8]>, value: impl AsRef<[u8]>, ttl: Duration) -> Result<(), Error> {
    let (key, value) = (key.as_ref(), value.as_ref());
    // SAFETY: the host reads key and value during the call only.
    check_unit(unsafe {
        sys::kv_set(
            key.as_ptr(),
            key.len(),
            value.as_ptr(),
            value.len(),
            ttl_millis(ttl),
        )
    })
}

/// Adds `delta` to the integer stored under `key`, atomically, and returns
/// the new value. A missing key counts as 0 and gets `ttl`;
/// [`Error::TooLarge`] when the store's limits are reached. The key must
/// hold a decimal integer and the sum must stay within `i64` (above
/// `i64::MIN`): otherwise the host traps, which ends the hook with an
/// error.
pub fn add(key: impl AsRef<[u8]>, delta: i64, ttl: Duration) -> Result<i64, Error> {
    let key = key.as_ref();
    // SAFETY: the host reads key during the call only.
    match unsafe { sys::kv_add(key.as_ptr(), key.len(), delta, ttl_millis(ttl)) } {
        sys::KV_ADD_FULL => Err(Error::TooLarge),
        n => Ok(n),
    }
}

/// Deletes `key`; [`Error::NotFound`] when it has no value.
pub fn delete(key: impl AsRef<[u8]>) -> Result<(), Error> {
    let key = key.as_ref();
    // SAFETY: the host reads key during the call only.
    check_unit(unsafe { sys::kv_delete(key.as_ptr(), key.len()) })
}

/// Converts a time to live to the argument of `kv_set` and `kv_add`:
/// milliseconds, a fraction rounded up so that a positive duration never
/// becomes "forever", and capped at `i64::MAX`.
fn ttl_millis(ttl: Duration) -> i64 {
    i64::try_from(crate::ceil_millis(ttl)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        assert_eq!(ttl_millis(FOREVER), 0);
        assert_eq!(ttl_millis(Duration::from_nanos(1)), 1);
        assert_eq!(ttl_millis(Duration::from_millis(1500)), 1500);
        assert_eq!(ttl_millis(Duration::from_micros(1500)), 2);
        assert_eq!(ttl_millis(Duration::MAX), i64::MAX);
    }
}
