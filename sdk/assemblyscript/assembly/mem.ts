// Memory shared by the SDK's calls to the host (internal: index.ts does
// not export it). A pointer the SDK passes to the host is the start of a
// live ArrayBuffer with at most its length, so it always lies inside
// memory: the host traps on anything else.

import * as abi from "./abi";

/** The first size of scratch; it grows to the longest value seen. */
const SCRATCH_SIZE = 1024;

/** Where the host copies the strings of the (buf, cap) -> len calls. */
let scratch = new ArrayBuffer(SCRATCH_SIZE);

/** The host functions of the (buf, cap) -> len convention. */
export const enum Source {
  Config,
  RequestField,
  RequestHeader,
  RequestHeaders,
  KV,
  CloseReason,
}

/**
 * Calls the host function of src with scratch, and again with a larger
 * scratch while the value does not fit (it may change between two calls:
 * the key-value store is shared). `arg` is the request field; `ptr` and
 * `len` the header name or key. Returns the value's length, its bytes
 * being at the start of scratch until the next call, or a negative code.
 */
export function fetch(src: Source, arg: i32 = 0, ptr: usize = 0, len: usize = 0): i32 {
  while (true) {
    const buf = changetype<usize>(scratch);
    const cap = <usize>scratch.byteLength;
    let n: i32;
    switch (src) {
      case Source.Config:
        n = abi.config_get(buf, cap);
        break;
      case Source.RequestField:
        n = abi.request_get(arg, buf, cap);
        break;
      case Source.RequestHeader:
        n = abi.request_header(ptr, len, buf, cap);
        break;
      case Source.RequestHeaders:
        n = abi.request_headers(buf, cap);
        break;
      case Source.KV:
        n = abi.kv_get(ptr, len, buf, cap);
        break;
      default:
        n = abi.close_reason_get(buf, cap);
    }
    if (n <= scratch.byteLength) return n;
    scratch = new ArrayBuffer(n);
  }
}

/** Returns bytes [start, end) of scratch decoded from UTF-8. */
export function scratchString(start: i32, end: i32): string {
  return String.UTF8.decodeUnsafe(changetype<usize>(scratch) + <usize>start, <usize>(end - start));
}

/** Returns a copy of the first n bytes of scratch. */
export function scratchBytes(n: i32): Uint8Array {
  const b = new Uint8Array(n);
  memory.copy(b.dataStart, changetype<usize>(scratch), <usize>n);
  return b;
}

/** Returns byte i of scratch. */
export function scratchByte(i: i32): u8 {
  return load<u8>(changetype<usize>(scratch) + <usize>i);
}

/**
 * Returns the items of the NUL-separated list in the first n bytes of
 * scratch (ABI.md, section 2): every item is followed by one NUL. Bytes
 * after the last NUL make one more item, so a malformed list loses
 * nothing.
 */
export function scratchList(n: i32): string[] {
  const items = new Array<string>();
  let start = 0;
  for (let i = 0; i < n; i++) {
    if (scratchByte(i) == 0) {
      items.push(scratchString(start, i));
      start = i + 1;
    }
  }
  if (start < n) items.push(scratchString(start, n));
  return items;
}

/** Returns s encoded as UTF-8, for a (ptr, len) argument. */
export function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

/** Returns the address of b's first byte. */
export function ptr(b: ArrayBuffer): usize {
  return changetype<usize>(b);
}

/** Returns b's length. */
export function len(b: ArrayBuffer): usize {
  return <usize>b.byteLength;
}
