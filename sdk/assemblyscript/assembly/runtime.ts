// AssemblyScript's environment functions, bound to the host. By default
// the compiler imports abort, trace and seed from module "env", which
// wasmgate refuses; the SDK's asconfig.json points them here instead
// (--use abort=... and so on).

import * as abi from "./abi";

/** The size of the abort line: a fixed buffer, as memory may be what ran out. */
const LINE_CAP: i32 = 512;
const line = memory.data(LINE_CAP);

/** Writes s at line[n..] as UTF-8, whole characters only, and returns the new length. */
function put(n: i32, s: string): i32 {
  for (let i = 0; i < s.length; i++) {
    let c = <u32>s.charCodeAt(i);
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const d = <u32>s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    // A lone surrogate is written as U+FFFD: the line stays UTF-8.
    if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
    const size = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    if (n + size > LINE_CAP) break;
    const p = line + <usize>n;
    if (size == 1) {
      store<u8>(p, c);
    } else if (size == 2) {
      store<u8>(p, 0xc0 | (c >> 6));
      store<u8>(p, 0x80 | (c & 0x3f), 1);
    } else if (size == 3) {
      store<u8>(p, 0xe0 | (c >> 12));
      store<u8>(p, 0x80 | ((c >> 6) & 0x3f), 1);
      store<u8>(p, 0x80 | (c & 0x3f), 2);
    } else {
      store<u8>(p, 0xf0 | (c >> 18));
      store<u8>(p, 0x80 | ((c >> 12) & 0x3f), 1);
      store<u8>(p, 0x80 | ((c >> 6) & 0x3f), 2);
      store<u8>(p, 0x80 | (c & 0x3f), 3);
    }
    n += size;
  }
  return n;
}

/** Writes v in decimal at line[n..] and returns the new length. */
function putNumber(n: i32, v: u32): i32 {
  let digits: i32 = 1;
  for (let t = v; t >= 10; t /= 10) digits++;
  if (n + digits > LINE_CAP) return n;
  for (let i = digits - 1; i >= 0; i--) {
    store<u8>(line + <usize>(n + i), 0x30 + v % 10);
    v /= 10;
  }
  return n + digits;
}

/**
 * Replaces `abort`, called by a failed assert, an out-of-bounds access,
 * memory exhausted and the like: it logs the message at LOG_ERROR, then
 * traps, which ends the hook with an error (ABI.md, section 7). It
 * allocates nothing.
 */
export function wasmgateAbort(
  message: string | null = null,
  fileName: string | null = null,
  lineNumber: u32 = 0,
  columnNumber: u32 = 0,
): void {
  let n = put(0, "abort: ");
  n = put(n, message != null ? message : "(no message)");
  if (fileName != null) {
    n = put(n, " at ");
    n = put(n, fileName);
    n = put(n, ":");
    n = putNumber(n, lineNumber);
    n = put(n, ":");
    n = putNumber(n, columnNumber);
  }
  abi.log(abi.LOG_ERROR, line, <usize>n);
  unreachable();
}

/** Replaces `trace`: it logs the message and its first `n` numbers at LOG_DEBUG. */
export function wasmgateTrace(message: string, n: i32 = 0, a0: f64 = 0, a1: f64 = 0, a2: f64 = 0, a3: f64 = 0, a4: f64 = 0): void {
  let s = "trace: " + message;
  const args: f64[] = [a0, a1, a2, a3, a4];
  for (let i = 0; i < min(n, args.length); i++) s += " " + args[i].toString();
  const b = String.UTF8.encode(s);
  abi.log(abi.LOG_DEBUG, changetype<usize>(b), <usize>b.byteLength);
}

/** Replaces `seed`, which seeds Math.random: the host's clock. */
export function wasmgateSeed(): f64 {
  return <f64>abi.time_now();
}
