// The plugin the SDK's tests drive (run.mjs plays the host). Its log
// lines say what it saw; run.mjs checks them and the calls that reached
// the host. Text messages are commands, as in the conformance guest.

import {
  Action,
  CloseEvent,
  Config,
  Conn,
  Filter,
  JSONKind,
  kvAdd,
  logInfo,
  Message,
  MessageType,
  parseJSON,
  register,
  Request,
} from "wasmgate-sdk";
export * from "wasmgate-sdk/exports";

/** What the filter keeps per connection, to use it after its hook. */
class State {
  request: Request | null = null;
  message: Message | null = null;
}

/** The connection last closed, kept past its close. */
let closedConn: Conn | null = null;

class TestFilter extends Filter {
  start(config: Config): bool {
    logInfo("start greeting=" + config.value.get("greeting").asString("?"));
    return !config.value.get("refuse").asBool();
  }

  open(conn: Conn, request: Request): Action {
    const state = new State();
    state.request = request;
    conn.data = state;
    const long = request.header("X-Long");
    const missing = request.header("x-missing");
    logInfo(
      "open path=" + request.path() +
        " long=" + long.value.length.toString() +
        " missing=" + missing.code.toString() +
        " multi=" + request.headerValues("x-multi").value.join("|") +
        " protocols=" + request.protocols().join(","),
    );
    if (request.path() == "/uri") {
      logInfo("uri set=" + request.setUpstreamURI("/up" + request.uri()).toString());
    }
    if (request.path() == "/reject") {
      request.reject(418, "teapot");
      return Action.Reject;
    }
    return Action.Continue;
  }

  message(conn: Conn, message: Message): void {
    const state = conn.data as State;
    const text = message.text();
    logInfo("message " + message.index.toString() + "/" + message.batchLength.toString() + " " + text);
    if (text == "stale-request") {
      logInfo("stale request=" + changetype<Request>(state.request).setUpstreamHeader("x", "1").toString());
    } else if (text == "stale-uri") {
      logInfo("stale uri=" + changetype<Request>(state.request).setUpstreamURI("/x").toString());
    } else if (text == "keep") {
      state.message = message;
    } else if (text == "stale-message") {
      const old = changetype<Message>(state.message);
      logInfo("stale message=" + old.replaceText("x").toString() + " bytes=" + old.bytes().length.toString());
    } else if (text == "close") {
      logInfo("close=" + conn.close(4000, "bye").toString());
    } else if (text == "closed-conn") {
      logInfo("send to closed=" + changetype<Conn>(closedConn).sendTextToClient("hi").toString());
    } else if (text == "kvfull") {
      const r = kvAdd("k", 1);
      logInfo("kvfull code=" + r.code.toString() + " value=" + r.value.toString());
    } else if (text == "badtype") {
      logInfo("badtype=" + message.replace(<MessageType>7, new Uint8Array(0)).toString());
    } else if (text == "abort") {
      abort("boom");
    } else if (text == "wrongcast") {
      // A checked cast: the State is no Message.
      const m = conn.data as Message;
      logInfo("unreachable " + m.index.toString());
    }
  }

  close(conn: Conn, event: CloseEvent): void {
    closedConn = conn;
    logInfo("close code=" + event.code.toString() + " reason=" + event.reason + " upstream=" + event.byUpstream.toString());
  }
}

register(new TestFilter());

/** Logs "json FAIL <what>" unless ok; returns 1 for a failure. */
function check(ok: bool, what: string): i32 {
  if (ok) return 0;
  logInfo("json FAIL " + what);
  return 1;
}

/** Runs the JSON reader's tests and returns the number of failures. */
export function testJSON(): i32 {
  let failures = 0;
  const v = parseJSON(
    ' { "s": "a\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00", "n": -12.5e1, "i": 9007199254740993,' +
      ' "min": -9223372036854775808, "over": 9223372036854775808, "frac": 2.9, "t": true, "f": false,' +
      ' "z": null, "a": [1, [2], {}], "o": {"x": {"y": "deep"}}, "dup": 1, "dup": 2, "é": "ü" } ',
  );
  failures += check(v != null, "parse");
  if (v == null) return failures;
  failures += check(v.kind == JSONKind.Object && v.length == 13, "object of 13 members, got " + v.length.toString());
  failures += check(v.get("s").asString() == 'a"b\\c/d\b\f\n\r\té😀', "escapes: " + v.get("s").asString());
  failures += check(v.get("n").asNumber() == -125, "number");
  failures += check(v.get("n").asInt() == -125, "asInt of -12.5e1");
  failures += check(v.get("i").asInt() == 9007199254740993, "asInt exact beyond 2^53");
  failures += check(v.get("min").asInt() == i64.MIN_VALUE, "asInt of -2^63");
  failures += check(v.get("over").asInt(7) == 7, "asInt out of range");
  failures += check(v.get("frac").asInt() == 2, "asInt truncates");
  failures += check(v.get("t").asBool() && !v.get("f").asBool(true), "bools");
  failures += check(v.get("z").isNull && v.has("z") && !v.has("nope") && v.get("nope").isNull, "null and missing");
  failures += check(v.get("a").length == 3 && v.get("a").at(1).at(0).asInt() == 2, "arrays");
  failures += check(v.get("a").at(3).isNull && v.get("a").at(-1).isNull, "array bounds");
  failures += check(v.get("a").at(2).kind == JSONKind.Object && v.get("a").at(2).length == 0, "empty object");
  failures += check(v.get("o").get("x").get("y").asString() == "deep", "nested objects");
  failures += check(v.get("dup").asInt() == 2, "the last duplicate wins");
  failures += check(v.get("é").asString() == "ü", "non-ASCII names");
  failures += check(v.get("s").asInt(5) == 5 && v.get("n").asString("x") == "x", "fallbacks");
  const keys = v.keys().join(",");
  failures += check(keys == "s,n,i,min,over,frac,t,f,z,a,o,dup,é", "keys: " + keys);

  const bad = [
    "", " ", "{", "[1,]", "{\"a\":1,}", "01", "1.", ".5", "-", "1e", "+1", "tru", "nul", "\"abc",
    "\"\\x\"", "\"\\u12g4\"", "\"a\nb\"", "{a:1}", "[1 2]", "1 2", "{\"a\" 1}", "NaN", "\"\\ud83d", "[" + "[".repeat(200) + "]".repeat(201),
  ];
  for (let i = 0; i < bad.length; i++) failures += check(parseJSON(bad[i]) == null, "accepted " + bad[i]);
  const good = ["0", "-0", "1E+2", "0.5e-3", "\"\"", "[]", "{}", " null ", "\"\\u0000\"", "[".repeat(128) + "]".repeat(128)];
  for (let i = 0; i < good.length; i++) failures += check(parseJSON(good[i]) != null, "refused " + good[i]);
  return failures;
}
