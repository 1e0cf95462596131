// Plays wasmgate for the SDK's tests: loads the plugin built from
// filter.ts, calls its hooks as the host would, and checks what it logged
// and which host functions it reached. Run by ../test.sh:
//
//   node run.mjs filter.wasm

import { readFileSync } from "node:fs";
import assert from "node:assert/strict";

const ERR_NOT_FOUND = -1;
const KV_ADD_FULL = -(2n ** 63n);
const TYPE_TEXT = 1;
const DIR_UPSTREAM_TO_CLIENT = 1;

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The host's state, and every call of a host function that acts. */
const host = {
  config: '{"greeting":"hello"}',
  request: null, // fields by number, headers as [name, value] pairs
  batch: [], // {type, payload} of the running on_messages
  reason: "",
  kvFull: false,
  calls: [],
  logs: [],
};

let memory;
const bytes = (ptr, len) => new Uint8Array(memory.buffer, ptr, len);
const str = (ptr, len) => dec.decode(bytes(ptr, len));

/** The (buf, cap) -> len convention. */
function give(value, buf, cap) {
  const b = typeof value === "string" ? enc.encode(value) : value;
  bytes(buf, Math.min(b.length, cap)).set(b.subarray(0, cap));
  return b.length;
}

const list = (items) => items.map((s) => s + "\0").join("");

const wasmgate = {
  log: (level, ptr, len) => host.logs.push(level + " " + str(ptr, len)),
  config_get: (buf, cap) => give(host.config, buf, cap),
  time_now: () => 1_700_000_000_000_000_000n,
  tick_set: (ctx, ms) => (ms !== 0 && ms < 10 ? -2 : 0),
  kv_get: () => ERR_NOT_FOUND,
  kv_set: () => 0,
  kv_add: () => (host.kvFull ? KV_ADD_FULL : 1n),
  kv_delete: () => ERR_NOT_FOUND,
  metric_define: () => 0,
  metric_add: () => {},
  metric_set: () => {},
  request_get: (field, buf, cap) => give(field === 6 ? list(host.request.protocols) : host.request.fields[field], buf, cap),
  request_header: (name, nameLen, buf, cap) => {
    const n = str(name, nameLen).toLowerCase();
    const values = host.request.headers.filter(([k]) => k === n).map(([, v]) => v);
    return values.length ? give(list(values), buf, cap) : ERR_NOT_FOUND;
  },
  request_headers: (buf, cap) => give(list(host.request.headers.flat()), buf, cap),
  upstream_header_set: (n, nl, v, vl) => (host.calls.push(`upstream_header_set ${str(n, nl)}=${str(v, vl)}`), 0),
  upstream_header_add: () => 0,
  upstream_header_remove: () => 0,
  upstream_choose: () => 0,
  upstream_uri_set: (u, ul) => (host.calls.push(`upstream_uri_set ${str(u, ul)}`), 0),
  reject: (status, body, bodyLen) => (host.calls.push(`reject ${status} ${str(body, bodyLen)}`), 0),
  reject_header: () => 0,
  message_info: (i) => (i < host.batch.length ? BigInt(host.batch[i].payload.length) | (BigInt(host.batch[i].type) << 32n) : BigInt(ERR_NOT_FOUND)),
  message_read: (i, off, buf, cap) => {
    const p = host.batch[i].payload.subarray(off, off + cap);
    bytes(buf, p.length).set(p);
    return p.length;
  },
  message_replace: (i, type, ptr, len) => (host.calls.push(`replace ${i} ${type} ${str(ptr, len)}`), 0),
  message_drop: (i) => (host.calls.push(`drop ${i}`), 0),
  send: (ctx, flags, type, ptr, len) => (host.calls.push(`send ${ctx} ${str(ptr, len)}`), 0),
  close: (ctx, code, ptr, len) => (host.calls.push(`close ${ctx} ${code} ${str(ptr, len)}`), 0),
  close_reason_get: (buf, cap) => give(host.reason, buf, cap),
};

const wasm = readFileSync(process.argv[2]);
const { instance } = await WebAssembly.instantiate(wasm, { wasmgate });
const g = instance.exports;
memory = g.memory;

/** Runs fn and returns what the guest logged and the host calls it made. */
function run(fn) {
  host.logs = [];
  host.calls = [];
  const result = fn();
  return { result, logs: host.logs, calls: host.calls };
}

function messages(ctx, fromUpstream, ...texts) {
  host.batch = texts.map((t) => ({ type: TYPE_TEXT, payload: enc.encode(t) }));
  return run(() => g.wasmgate_on_messages(ctx, fromUpstream ? DIR_UPSTREAM_TO_CLIENT : 0, texts.length));
}

const tests = {
  "the exports are the ABI's"() {
    assert.deepEqual(
      WebAssembly.Module.exports(new WebAssembly.Module(wasm)).map((e) => e.name).sort(),
      ["_initialize", "memory", "testJSON", "wasmgate_abi_v1", "wasmgate_on_close", "wasmgate_on_messages",
        "wasmgate_on_open", "wasmgate_on_start", "wasmgate_on_tick"],
    );
    assert.deepEqual(
      [...new Set(WebAssembly.Module.imports(new WebAssembly.Module(wasm)).map((i) => i.module))],
      ["wasmgate"],
    );
  },

  "start reads the configuration"() {
    g._initialize();
    const r = run(() => g.wasmgate_on_start());
    assert.equal(r.result, 0);
    assert.deepEqual(r.logs, ["1 start greeting=hello"]);
    host.config = '{"refuse":true}';
    assert.equal(g.wasmgate_on_start(), 1, "start returning false is status 1");
  },

  "open reads the request, long values in a second call"() {
    host.request = {
      fields: ["GET", "/a?q", "/a", "q", "h", "1.2.3.4:5", null, "r"],
      protocols: ["p1", "p2"],
      headers: [["x-long", "L".repeat(5000)], ["x-multi", "1"], ["x-multi", "2"]],
    };
    const r = run(() => g.wasmgate_on_open(1, 0));
    assert.equal(r.result, 0);
    assert.deepEqual(r.logs, ["1 open path=/a long=5000 missing=-1 multi=1|2 protocols=p1,p2"]);
  },

  "a Request after its open reaches no host"() {
    const r = messages(1, false, "stale-request");
    assert.deepEqual(r.logs, ["1 message 0/1 stale-request", "1 stale request=-4"]);
    assert.deepEqual(r.calls, []);
  },

  "a Request after its open sets no upstream URI"() {
    const r = messages(1, false, "stale-uri");
    assert.deepEqual(r.logs, ["1 message 0/1 stale-uri", "1 stale uri=-4"]);
    assert.deepEqual(r.calls, []);
  },

  "a Message after its call reaches no host"() {
    const r = messages(1, false, "keep", "stale-message");
    assert.deepEqual(r.logs, ["1 message 0/2 keep", "1 message 1/2 stale-message", "1 stale message=-4 bytes=0"]);
    assert.deepEqual(r.calls, []);
  },

  "a close stops the batch"() {
    const r = messages(1, true, "close", "never seen");
    assert.deepEqual(r.logs, ["1 message 0/2 close", "1 close=0"]);
    assert.deepEqual(r.calls, ["close 1 4000 bye"]);
  },

  "a rejected connection is forgotten"() {
    host.request.fields[2] = "/reject";
    const r = run(() => g.wasmgate_on_open(2, 0));
    assert.equal(r.result, 1);
    assert.deepEqual(r.calls, ["reject 418 teapot"]);
    host.request.fields[2] = "/a";
  },

  "open sets the upstream URI"() {
    host.request.fields[1] = "/uri?x=1";
    host.request.fields[2] = "/uri";
    const r = run(() => g.wasmgate_on_open(5, 0));
    assert.equal(r.result, 0);
    assert.deepEqual(r.logs.slice(1), ["1 uri set=0"]);
    assert.deepEqual(r.calls, ["upstream_uri_set /up/uri?x=1"]);
    host.request.fields[1] = "/a?q";
    host.request.fields[2] = "/a";
  },

  "a closed connection reaches no host"() {
    host.reason = "gone away";
    const c = run(() => g.wasmgate_on_close(1, 1, 1001));
    assert.deepEqual(c.logs, ["1 close code=1001 reason=gone away upstream=true"]);
    g.wasmgate_on_open(3, 0);
    const r = messages(3, false, "closed-conn");
    assert.deepEqual(r.logs, ["1 message 0/1 closed-conn", "1 send to closed=-1"]);
    assert.deepEqual(r.calls, []);
  },

  "kv_add's full store is Code.TooLarge"() {
    host.kvFull = true;
    const r = messages(3, false, "kvfull");
    assert.deepEqual(r.logs.slice(1), ["1 kvfull code=-3 value=0"]);
  },

  "a type the ABI does not know is refused before the host"() {
    const r = messages(3, false, "badtype");
    assert.deepEqual(r.logs.slice(1), ["1 badtype=-2"]);
    assert.deepEqual(r.calls, []);
  },

  "abort logs at LOG_ERROR and traps"() {
    assert.throws(() => messages(3, false, "abort"), WebAssembly.RuntimeError);
    assert.equal(host.logs.at(-1), "3 abort: boom");
  },

  "a wrong cast of Conn.data traps"() {
    g._initialize();
    g.wasmgate_on_start();
    g.wasmgate_on_open(4, 0);
    assert.throws(() => messages(4, false, "wrongcast"), WebAssembly.RuntimeError);
    assert.match(host.logs.at(-1), /^3 abort: invalid downcast at filter\.ts:\d+:\d+$/);
  },

  "the JSON reader"() {
    const r = run(() => g.testJSON());
    assert.deepEqual(r.logs, []);
    assert.equal(r.result, 0);
  },
};

let failed = 0;
for (const [name, test] of Object.entries(tests)) {
  try {
    test();
    console.log("ok   " + name);
  } catch (e) {
    failed++;
    console.log("FAIL " + name + "\n" + e.message);
  }
}
process.exit(failed ? 1 : 0);
