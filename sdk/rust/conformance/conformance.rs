//! The conformance guest of the Rust SDK: it behaves exactly as
//! `sdk/CONFORMANCE.md` says, with the SDK's public API only, so that the
//! host's test (`plugins/sdk_conformance_test.go`) can require the same
//! transcript from every SDK. Every log line it writes starts with `conf `.

use std::error::Error as StdError;
use std::time::{Duration, UNIX_EPOCH};

use wasmgate::{
    info, kv, Action, CloseEvent, Config, Conn, Counter, Error, Filter, Gauge, Message,
    MessageType, Request,
};

struct Conformance {
    messages: Counter,
    open: Gauge,
}

/// The state of a connection.
#[derive(Default)]
struct State {
    /// A `close:` command ran in the current batch: the batch's later
    /// messages are not handled, even when the close failed.
    closed_in_batch: bool,
}

/// The number logged for a call that returns nothing: 0, or the error's
/// code.
fn status(r: Result<(), Error>) -> i32 {
    r.err().map_or(0, Error::code)
}

/// The number logged for a call that returns a number: it, or the error's
/// code.
fn value<T: Into<i64>>(r: Result<T, Error>) -> i64 {
    r.map_or_else(|e| e.code().into(), Into::into)
}

/// A flag as the log lines show it: 0 or 1.
fn flag(set: bool) -> u8 {
    u8::from(set)
}

/// "ok" when the host's clock is after 2020-09-13.
fn time_check() -> &'static str {
    if wasmgate::now() > UNIX_EPOCH + Duration::from_secs(1_600_000_000) {
        "ok"
    } else {
        "bad"
    }
}

impl Filter for Conformance {
    type State = State;

    fn start(config: &Config) -> Result<Self, Box<dyn StdError>> {
        info!("conf start config={}", config.as_str());
        let messages = Counter::define("conf_messages")?;
        let open = Gauge::define("conf_open")?;
        let again = Counter::define("conf_messages");
        let bad = Counter::define("9bad").map(Counter::id);
        let same = again == Ok(messages) && open.id() != messages.id();
        info!("conf start metrics same={same} bad={}", value(bad));
        info!("conf start time={}", time_check());
        info!(
            "conf start tick={}",
            status(wasmgate::set_tick(Duration::from_millis(5)))
        );
        Ok(Conformance { messages, open })
    }

    fn open(&mut self, conn: &mut Conn<State>, req: &Request) -> Action {
        let path = req.path();
        info!(
            "conf open method={} uri={} path={} query={} host={} remote={} protocols={} route={} tls={} reopen={}",
            req.method(),
            req.uri(),
            path,
            req.query(),
            req.host(),
            req.remote_addr(),
            req.protocols().join(","),
            req.route(),
            flag(conn.tls()),
            flag(req.is_reopen()),
        );

        let multi = req.header_values("X-Multi").unwrap_or_default().join("|");
        let missing = status(req.header_values("x-missing").map(drop));
        let long = value(req.header("x-long").map(|v| v.len() as i64));
        let headers = req.headers();
        let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
        info!(
            "conf open multi={multi} missing={missing} long={long} headers={} names={}",
            headers.len(),
            names.join(",")
        );

        let opens = value(kv::add("opens", 1, kv::FOREVER));
        // Its result shows in the get that follows.
        let _ = kv::set("last-path", &path, kv::FOREVER);
        let last = match kv::get("last-path") {
            Ok(v) => String::from_utf8_lossy(&v).into_owned(),
            Err(e) => e.code().to_string(),
        };
        let get_missing = status(kv::get("nope").map(drop));
        let delete_missing = status(kv::delete("nope"));
        info!("conf open opens={opens} last={last} get_missing={get_missing} delete_missing={delete_missing}");

        self.open.add(1);

        match path.as_str() {
            "/reject" => {
                let action = req.reject(451, "conformance says no");
                let _ = req.reject_header("x-conf-reason", "test");
                info!("conf open reject");
                action
            }
            "/close" => {
                info!(
                    "conf open close={}",
                    status(conn.close(4000, "closed in open"))
                );
                Action::Continue
            }
            _ => {
                // The edits' results show in the upstream's handshake.
                let _ = req.set_upstream_header("X-Conf", "1");
                let _ = req.add_upstream_header("x-conf-add", "a");
                let _ = req.add_upstream_header("x-conf-add", "b");
                let _ = req.remove_upstream_header("x-remove-me");
                let up = status(req.set_upstream_header("upgrade", "x"));
                let ch = status(req.choose_upstream("alt"));
                let chm = status(req.choose_upstream("nope"));
                let u = status(req.set_upstream_uri(&format!("/up{}", req.uri())));
                let ub = status(req.set_upstream_uri("no-slash"));
                info!("conf open edits upgrade={up} choose={ch} choose_missing={chm} uri={u} uri_bad={ub}");
                Action::Continue
            }
        }
    }

    fn message(&mut self, conn: &mut Conn<State>, msg: &Message) {
        if msg.index() == 0 {
            conn.state.closed_in_batch = false;
        }
        if conn.state.closed_in_batch {
            return;
        }
        self.messages.add(1);
        let payload = msg.bytes();
        if msg.ty() == MessageType::Binary {
            let reversed: Vec<u8> = payload.iter().rev().copied().collect();
            let _ = msg.replace(MessageType::Binary, reversed);
            return;
        }
        let text = String::from_utf8_lossy(payload);
        let (name, arg) = text.split_once(':').unwrap_or((&text, ""));
        let reply = match name {
            "info" => format!(
                "info index={} type={} len={} dir={} count={}",
                msg.index(),
                msg.ty().code(),
                msg.len(),
                if msg.from_upstream() { "u2c" } else { "c2u" },
                msg.batch_len()
            ),
            "upper" => arg.to_ascii_uppercase(),
            "drop" => {
                let _ = msg.discard();
                return;
            }
            "bin" => {
                let _ = msg.replace(MessageType::Binary, arg);
                return;
            }
            "send" => {
                let _ = if msg.from_upstream() {
                    conn.send_to_upstream(MessageType::Text, arg)
                } else {
                    conn.send_to_client(MessageType::Text, arg)
                };
                return;
            }
            "kv" => format!("kv {arg}={}", value(kv::add(arg, 1, kv::FOREVER))),
            "kvset" => {
                let (key, val) = arg.split_once('=').unwrap_or((arg, ""));
                format!(
                    "kvset={}",
                    status(kv::set(key, val, Duration::from_secs(60)))
                )
            }
            "kvget" => match kv::get(arg) {
                Ok(v) => format!("kvget {arg}={}", String::from_utf8_lossy(&v)),
                Err(e) => format!("kvget {arg}={}", e.code()),
            },
            "kvdel" => format!("kvdel={}", status(kv::delete(arg))),
            "gauge" => {
                let n = arg.parse().unwrap_or(0);
                self.open.set(n);
                format!("gauge={n}")
            }
            "log" => {
                wasmgate::warn!("conf log {arg}");
                return;
            }
            "time" => format!("time={}", time_check()),
            "wrong" => format!(
                "wrong={}",
                value(Counter::define("conf_wrong").map(Counter::id))
            ),
            "badutf8" => format!(
                "badutf8={}",
                status(msg.replace(MessageType::Text, [0xff, 0xfe]))
            ),
            "big" => format!(
                "big={}",
                status(msg.replace(MessageType::Text, "a".repeat(70_000)))
            ),
            "badclose" => format!("badclose={}", status(conn.close(1005, ""))),
            "tick" => format!("tick={}", status(conn.set_tick(Duration::from_millis(10)))),
            "close" => {
                let (code, reason) = arg.split_once(':').unwrap_or((arg, ""));
                // A code that does not parse is one the host refuses.
                let _ = conn.close(code.parse().unwrap_or(0), reason);
                conn.state.closed_in_batch = true;
                return;
            }
            "trap" => panic!("conformance trap"),
            _ => return,
        };
        let _ = msg.replace(MessageType::Text, reply);
    }

    fn close(&mut self, _conn: &mut Conn<State>, event: &CloseEvent) {
        let closes = value(kv::add("closes", 1, kv::FOREVER));
        self.open.add(-1);
        info!(
            "conf close by={} abnormal={} code={} reason={} closes={closes}",
            if event.by_upstream {
                "upstream"
            } else {
                "client"
            },
            flag(event.abnormal),
            event.code,
            event.reason,
        );
    }

    fn tick(&mut self, conn: Option<&mut Conn<State>>) {
        match conn {
            Some(conn) => {
                let _ = conn.send_to_client(MessageType::Text, "tick fired");
                let _ = conn.set_tick(Duration::ZERO);
            }
            None => info!("conf tick global"),
        }
    }
}

wasmgate::register!(Conformance);
