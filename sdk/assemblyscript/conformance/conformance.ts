// The AssemblyScript SDK's conformance guest: it does exactly what
// sdk/CONFORMANCE.md says, with the SDK's public API, so that the
// host-side test (plugins/sdk_conformance_test.go) can require the same
// transcript from every SDK. Built by ../build.sh:
//
//     npx asc conformance.ts -o conformance.wasm

import {
  Action,
  CloseEvent,
  Config,
  Conn,
  Counter,
  defineCounter,
  defineGauge,
  Filter,
  Gauge,
  kvAdd,
  kvDelete,
  kvGetString,
  kvSetString,
  logInfo,
  logWarn,
  Message,
  MessageType,
  now,
  register,
  Request,
  setTick,
} from "wasmgate-sdk";
export * from "wasmgate-sdk/exports";

/** 2020-09-13 in Unix nanoseconds, after which time_now must be. */
const TIME_OK: i64 = 1_600_000_000_000_000_000;

function clock(): string {
  return now() > TIME_OK ? "ok" : "bad";
}

function flag(b: bool): string {
  return b ? "1" : "0";
}

/** Returns p with its ASCII letters upper-cased. */
function asciiUpper(p: Uint8Array): Uint8Array {
  const out = new Uint8Array(p.length);
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    out[i] = c >= 0x61 && c <= 0x7a ? c - 0x20 : c;
  }
  return out;
}

class Conformance extends Filter {
  messages: Counter = new Counter(-1);
  openConns: Gauge = new Gauge(-1);

  start(config: Config): bool {
    logInfo("conf start config=" + config.text);
    const c = defineCounter("conf_messages");
    const g = defineGauge("conf_open");
    const c2 = defineCounter("conf_messages");
    const bad = defineCounter("9bad");
    const same = c.value.id == c2.value.id && c.value.id >= 0 && g.value.id >= 0 && g.value.id != c.value.id;
    logInfo("conf start metrics same=" + same.toString() + " bad=" + bad.code.toString());
    logInfo("conf start time=" + clock());
    logInfo("conf start tick=" + setTick(5).toString());
    this.messages = c.value;
    this.openConns = g.value;
    return true;
  }

  open(conn: Conn, request: Request): Action {
    logInfo(
      "conf open method=" + request.method() +
        " uri=" + request.uri() +
        " path=" + request.path() +
        " query=" + request.query() +
        " host=" + request.host() +
        " remote=" + request.remoteAddr() +
        " protocols=" + request.protocols().join(",") +
        " route=" + request.route() +
        " tls=" + flag(conn.tls) +
        " reopen=" + flag(request.reopened),
    );

    const headers = request.headers();
    const names = new Array<string>();
    for (let i = 0; i < headers.length; i++) names.push(headers[i].name);
    logInfo(
      "conf open multi=" + request.headerValues("X-Multi").value.join("|") +
        " missing=" + request.header("x-missing").code.toString() +
        " long=" + String.UTF8.byteLength(request.header("x-long").value).toString() +
        " headers=" + headers.length.toString() +
        " names=" + names.join(","),
    );

    const opens = kvAdd("opens", 1);
    kvSetString("last-path", request.path());
    const last = kvGetString("last-path");
    logInfo(
      "conf open opens=" + opens.value.toString() +
        " last=" + last.value +
        " get_missing=" + kvGetString("nope").code.toString() +
        " delete_missing=" + kvDelete("nope").toString(),
    );

    this.openConns.add(1);

    const path = request.path();
    if (path == "/reject") {
      request.reject(451, "conformance says no");
      request.rejectHeader("x-conf-reason", "test");
      logInfo("conf open reject");
      return Action.Reject;
    }
    if (path == "/close") {
      logInfo("conf open close=" + conn.close(4000, "closed in open").toString());
      return Action.Continue;
    }
    request.setUpstreamHeader("X-Conf", "1");
    request.addUpstreamHeader("x-conf-add", "a");
    request.addUpstreamHeader("x-conf-add", "b");
    request.removeUpstreamHeader("x-remove-me");
    const up = request.setUpstreamHeader("upgrade", "x");
    const ch = request.chooseUpstream("alt");
    const chm = request.chooseUpstream("nope");
    const u = request.setUpstreamURI("/up" + request.uri());
    const ub = request.setUpstreamURI("no-slash");
    logInfo(
      "conf open edits upgrade=" + up.toString() +
        " choose=" + ch.toString() +
        " choose_missing=" + chm.toString() +
        " uri=" + u.toString() +
        " uri_bad=" + ub.toString(),
    );
    return Action.Continue;
  }

  message(conn: Conn, message: Message): void {
    this.messages.add(1);
    const p = message.bytes();
    if (message.type == MessageType.Binary) {
      const rev = new Uint8Array(p.length);
      for (let i = 0; i < p.length; i++) rev[p.length - 1 - i] = p[i];
      message.replace(MessageType.Binary, rev);
      return;
    }
    const text = message.text();
    const colon = text.indexOf(":");
    const name = colon < 0 ? text : text.substring(0, colon);
    const arg = colon < 0 ? "" : text.substring(colon + 1);
    if (name == "info") {
      message.replaceText(
        "info index=" + message.index.toString() +
          " type=" + (<i32>message.type).toString() +
          " len=" + message.length.toString() +
          " dir=" + (message.fromUpstream ? "u2c" : "c2u") +
          " count=" + message.batchLength.toString(),
      );
    } else if (name == "upper") {
      // The name is ASCII, so colon + 1 is the argument's offset in bytes too.
      message.replace(MessageType.Text, asciiUpper(p.subarray(colon + 1)));
    } else if (name == "drop") {
      message.drop();
    } else if (name == "bin") {
      message.replace(MessageType.Binary, p.subarray(colon + 1));
    } else if (name == "send") {
      if (message.fromUpstream) conn.sendTextToUpstream(arg);
      else conn.sendTextToClient(arg);
    } else if (name == "kv") {
      const n = kvAdd(arg, 1);
      message.replaceText("kv " + arg + "=" + (n.ok ? n.value.toString() : n.code.toString()));
    } else if (name == "kvset") {
      const eq = arg.indexOf("=");
      const key = eq < 0 ? arg : arg.substring(0, eq);
      const value = eq < 0 ? "" : arg.substring(eq + 1);
      message.replaceText("kvset=" + kvSetString(key, value, 60000).toString());
    } else if (name == "kvget") {
      const v = kvGetString(arg);
      message.replaceText("kvget " + arg + "=" + (v.ok ? v.value : v.code.toString()));
    } else if (name == "kvdel") {
      message.replaceText("kvdel=" + kvDelete(arg).toString());
    } else if (name == "gauge") {
      const n = I64.parseInt(arg, 10);
      this.openConns.set(n);
      message.replaceText("gauge=" + n.toString());
    } else if (name == "log") {
      logWarn("conf log " + arg);
    } else if (name == "time") {
      message.replaceText("time=" + clock());
    } else if (name == "wrong") {
      message.replaceText("wrong=" + defineCounter("conf_wrong").code.toString());
    } else if (name == "badutf8") {
      const bad = new Uint8Array(2);
      bad[0] = 0xff;
      bad[1] = 0xfe;
      const r = message.replace(MessageType.Text, bad);
      message.replaceText("badutf8=" + r.toString());
    } else if (name == "big") {
      const r = message.replaceText("a".repeat(70000));
      message.replaceText("big=" + r.toString());
    } else if (name == "badclose") {
      message.replaceText("badclose=" + conn.close(1005).toString());
    } else if (name == "tick") {
      message.replaceText("tick=" + conn.setTick(10).toString());
    } else if (name == "close") {
      const sep = arg.indexOf(":");
      const code = <u16>I32.parseInt(sep < 0 ? arg : arg.substring(0, sep), 10);
      conn.close(code, sep < 0 ? "" : arg.substring(sep + 1));
    } else if (name == "trap") {
      abort("conformance: trap requested");
    }
  }

  close(conn: Conn, event: CloseEvent): void {
    const n = kvAdd("closes", 1);
    this.openConns.add(-1);
    logInfo(
      "conf close by=" + (event.byUpstream ? "upstream" : "client") +
        " abnormal=" + flag(event.abnormal) +
        " code=" + event.code.toString() +
        " reason=" + event.reason +
        " closes=" + n.value.toString(),
    );
  }

  tick(conn: Conn | null): void {
    if (conn == null) {
      logInfo("conf tick global");
      return;
    }
    conn.sendTextToClient("tick fired");
    conn.setTick(0);
  }
}

register(new Conformance());
