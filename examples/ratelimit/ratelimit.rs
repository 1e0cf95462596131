//! The ratelimit example: limits the messages each client sends, per
//! connection and per user, in fixed one-second windows. A client over a
//! limit is closed with 1008 (policy violation) and a reason naming the
//! limit. See README.md for the configuration.

use std::error::Error;
use std::time::{Duration, UNIX_EPOCH};

use wasmgate::{kv, Action, Config, Conn, Counter, Filter, Json, Message, Request};

/// The close code of a client over a limit: policy violation.
const POLICY_VIOLATION: u16 = 1008;

/// How long a user's count of one second stays in the key-value store:
/// past its second, with a margin for instances whose calls straddle it.
const USER_COUNT_TTL: Duration = Duration::from_secs(3);

/// The configuration.
#[derive(Debug, PartialEq)]
struct Limits {
    /// Messages a connection may send per second; 0 for no limit.
    per_connection: u32,
    /// Messages the connections of one user may send together per second;
    /// 0 for no limit.
    per_user: u32,
    /// The request header that names the user.
    user_header: String,
}

impl Limits {
    fn from_json(config: &Json) -> Result<Limits, String> {
        let members = match config {
            Json::Object(members) => members.as_slice(),
            Json::Null => &[],
            _ => return Err("the configuration must be an object".into()),
        };
        let mut limits = Limits {
            per_connection: 0,
            per_user: 0,
            user_header: "x-user-id".into(),
        };
        for (key, value) in members {
            let limit = || {
                let n = value.as_u64().and_then(|n| u32::try_from(n).ok());
                n.ok_or_else(|| format!("{key} must be a whole number from 0 to {}", u32::MAX))
            };
            match key.as_str() {
                "per_connection" => limits.per_connection = limit()?,
                "per_user" => limits.per_user = limit()?,
                "user_header" => match value.as_str() {
                    Some(name) if !name.is_empty() => limits.user_header = name.into(),
                    _ => return Err("user_header must be a header name".into()),
                },
                _ => return Err(format!("unknown setting {key}")),
            }
        }
        if limits.per_connection == 0 && limits.per_user == 0 {
            return Err("set per_connection, per_user or both".into());
        }
        Ok(limits)
    }
}

struct RateLimit {
    limits: Limits,
    connection_closes: Counter,
    user_closes: Counter,
}

/// What the filter keeps of a connection.
#[derive(Default)]
struct State {
    /// The user, from the handshake's header; `None` without one.
    user: Option<String>,
    /// The second (Unix time) the count is for.
    window: u64,
    /// Messages the connection sent in that second.
    count: u32,
    /// The key-value store failed once already: it is logged once per
    /// connection, not per message.
    store_failed: bool,
}

impl State {
    /// Counts a message sent in `second` and returns the connection's
    /// count for that second.
    fn count(&mut self, second: u64) -> u32 {
        if self.window != second {
            self.window = second;
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
        self.count
    }
}

impl RateLimit {
    /// Closes a client over a limit; the message that crossed it goes no
    /// further.
    fn refuse(&self, conn: &Conn<State>, msg: &Message, counter: Counter, reason: &str) {
        let _ = msg.discard();
        match conn.close(POLICY_VIOLATION, reason) {
            Ok(()) => counter.add(1),
            Err(e) => wasmgate::error!("ratelimit: close: {e}"),
        }
    }
}

impl Filter for RateLimit {
    type State = State;

    fn start(config: &Config) -> Result<Self, Box<dyn Error>> {
        Ok(RateLimit {
            limits: Limits::from_json(&config.parse()?)?,
            connection_closes: Counter::define("ratelimit_connection_closes")?,
            user_closes: Counter::define("ratelimit_user_closes")?,
        })
    }

    fn open(&mut self, conn: &mut Conn<State>, req: &Request) -> Action {
        conn.state.user = req
            .header(&self.limits.user_header)
            .ok()
            .filter(|user| !user.is_empty());
        Action::Continue
    }

    fn message(&mut self, conn: &mut Conn<State>, msg: &Message) {
        if msg.from_upstream() {
            return;
        }
        let limits = &self.limits;
        let second = wasmgate::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if limits.per_connection > 0 && conn.state.count(second) > limits.per_connection {
            let reason = format!(
                "rate limit: over {} messages per second on this connection",
                limits.per_connection
            );
            self.refuse(conn, msg, self.connection_closes, &reason);
            return;
        }
        let state = &mut conn.state;
        let user = match &state.user {
            Some(user) if limits.per_user > 0 => user,
            _ => return,
        };
        match kv::add(format!("{second}:{user}"), 1, USER_COUNT_TTL) {
            Ok(n) if n > i64::from(limits.per_user) => {
                let reason = format!(
                    "rate limit: over {} messages per second for this user",
                    limits.per_user
                );
                self.refuse(conn, msg, self.user_closes, &reason);
            }
            Ok(_) => {}
            // Without the store the user's count is unknown: let the
            // message through, limited per connection only.
            Err(e) if !state.store_failed => {
                state.store_failed = true;
                wasmgate::warn!(
                    "ratelimit: counting for user {user:?}: {e}; limiting per connection only"
                );
            }
            Err(_) => {}
        }
    }
}

wasmgate::register!(RateLimit);

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(config: &str) -> Result<Limits, String> {
        Limits::from_json(&Json::parse(config).unwrap())
    }

    #[test]
    fn config() {
        assert_eq!(
            limits(r#"{"per_connection": 20, "per_user": 50, "user_header": "x-account"}"#),
            Ok(Limits {
                per_connection: 20,
                per_user: 50,
                user_header: "x-account".into()
            })
        );
        assert_eq!(
            limits(r#"{"per_user": 5}"#),
            Ok(Limits {
                per_connection: 0,
                per_user: 5,
                user_header: "x-user-id".into()
            })
        );
        assert_eq!(
            limits("null").unwrap_err(),
            "set per_connection, per_user or both"
        );
        assert_eq!(
            limits(r#"{"per_connection": 0}"#).unwrap_err(),
            "set per_connection, per_user or both"
        );
        assert_eq!(
            limits("[]").unwrap_err(),
            "the configuration must be an object"
        );
        assert_eq!(
            limits(r#"{"per_conection": 5}"#).unwrap_err(),
            "unknown setting per_conection"
        );
        assert_eq!(
            limits(r#"{"per_user": -1}"#).unwrap_err(),
            "per_user must be a whole number from 0 to 4294967295"
        );
        assert_eq!(
            limits(r#"{"per_user": 1.5}"#).unwrap_err(),
            "per_user must be a whole number from 0 to 4294967295"
        );
        assert_eq!(
            limits(r#"{"per_user": "5"}"#).unwrap_err(),
            "per_user must be a whole number from 0 to 4294967295"
        );
        assert_eq!(
            limits(r#"{"per_user": 1, "user_header": ""}"#).unwrap_err(),
            "user_header must be a header name"
        );
    }

    #[test]
    fn windows() {
        let mut s = State::default();
        assert_eq!(s.count(100), 1);
        assert_eq!(s.count(100), 2);
        assert_eq!(s.count(101), 1);
        assert_eq!(s.count(100), 1);
    }
}
