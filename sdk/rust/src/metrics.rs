use crate::error::{check, Error};
use crate::sys;

/// A metric that only goes up. wasmgate exports it as
/// `wasmgate_plugin_<name>_total` (without a second `_total`) with the
/// label `plugin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Counter(i32);

/// A metric that goes up and down, exported as `wasmgate_plugin_<name>`
/// with the label `plugin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Gauge(i32);

fn define(kind: i32, name: &str) -> Result<i32, Error> {
    // SAFETY: the host reads name during the call only.
    check(unsafe { sys::metric_define(kind, name.as_ptr(), name.len()) }).map(|id| id as i32)
}

impl Counter {
    /// Defines a counter named `name` (`[a-zA-Z_][a-zA-Z0-9_]*`, else
    /// [`Error::InvalidArgument`]). Valid only in `Filter::start`
    /// ([`Error::WrongHook`] elsewhere). Defining a name again gives the
    /// same counter.
    pub fn define(name: &str) -> Result<Counter, Error> {
        define(sys::METRIC_COUNTER, name).map(Counter)
    }

    /// Adds `n` to the counter.
    pub fn add(self, n: u64) {
        // SAFETY: a host call without pointers.
        unsafe { sys::metric_add(self.0, i64::try_from(n).unwrap_or(i64::MAX)) }
    }

    /// Returns the host's id of the metric.
    pub fn id(self) -> u32 {
        self.0 as u32
    }
}

impl Gauge {
    /// Defines a gauge, as [`Counter::define`] defines a counter.
    pub fn define(name: &str) -> Result<Gauge, Error> {
        define(sys::METRIC_GAUGE, name).map(Gauge)
    }

    /// Adds `n`, which may be negative, to the gauge.
    pub fn add(self, n: i64) {
        // SAFETY: a host call without pointers.
        unsafe { sys::metric_add(self.0, n) }
    }

    /// Sets the gauge to `v`.
    pub fn set(self, v: i64) {
        // SAFETY: a host call without pointers.
        unsafe { sys::metric_set(self.0, v) }
    }

    /// Returns the host's id of the metric.
    pub fn id(self) -> u32 {
        self.0 as u32
    }
}
