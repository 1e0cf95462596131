use std::fmt;

use crate::sys;

/// An error the host reports with one of the ABI's result codes (ABI.md,
/// section 6). [`Error::code`] gives the number back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// No such header, key, message, upstream or connection (`ERR_NOT_FOUND`, -1).
    NotFound,
    /// A value the host refuses, such as a header it may not set, a text
    /// payload that is not UTF-8 or a bad close code (`ERR_INVALID_ARGUMENT`, -2).
    InvalidArgument,
    /// Over a limit: the route's message size, the key-value store's
    /// (`ERR_TOO_LARGE`, -3).
    TooLarge,
    /// Valid only in another hook, or on a reopened connection
    /// (`ERR_WRONG_HOOK`, -4).
    WrongHook,
    /// A result this version of the ABI does not define.
    Other(i32),
}

impl Error {
    /// Returns the error for a negative result code, `None` for a success
    /// (zero or positive).
    pub fn from_code(code: i32) -> Option<Error> {
        (code < 0).then(|| Error::from_negative(code))
    }

    pub(crate) fn from_negative(code: i32) -> Error {
        match code {
            sys::ERR_NOT_FOUND => Error::NotFound,
            sys::ERR_INVALID_ARGUMENT => Error::InvalidArgument,
            sys::ERR_TOO_LARGE => Error::TooLarge,
            sys::ERR_WRONG_HOOK => Error::WrongHook,
            c => Error::Other(c),
        }
    }

    /// Returns the ABI's result code of the error, such as -1 for
    /// [`Error::NotFound`].
    pub fn code(self) -> i32 {
        match self {
            Error::NotFound => sys::ERR_NOT_FOUND,
            Error::InvalidArgument => sys::ERR_INVALID_ARGUMENT,
            Error::TooLarge => sys::ERR_TOO_LARGE,
            Error::WrongHook => sys::ERR_WRONG_HOOK,
            Error::Other(c) => c,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::NotFound => f.write_str("not found"),
            Error::InvalidArgument => f.write_str("invalid argument"),
            Error::TooLarge => f.write_str("too large"),
            Error::WrongHook => f.write_str("wrong hook"),
            Error::Other(c) => write!(f, "host error code {c}"),
        }
    }
}

impl std::error::Error for Error {}

/// Maps a host result: the value of a success, the error of a negative code.
pub(crate) fn check(code: i32) -> Result<u32, Error> {
    match Error::from_code(code) {
        None => Ok(code as u32),
        Some(e) => Err(e),
    }
}

/// Maps a host result that carries no value.
pub(crate) fn check_unit(code: i32) -> Result<(), Error> {
    check(code).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in [-1, -2, -3, -4, -5, i32::MIN] {
            assert_eq!(Error::from_code(code).unwrap().code(), code);
        }
        assert_eq!(Error::from_code(0), None);
        assert_eq!(Error::from_code(7), None);
        assert_eq!(Error::from_code(-1), Some(Error::NotFound));
        assert_eq!(check(12), Ok(12));
        assert_eq!(check(-4), Err(Error::WrongHook));
        assert_eq!(Error::Other(-9).to_string(), "host error code -9");
    }
}
