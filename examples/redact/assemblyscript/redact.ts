// The redact example in AssemblyScript: card numbers and the local parts
// of e-mail addresses are masked in the text messages of both directions,
// by the algorithm of ../SPEC.md, which the four builds of the example
// share byte for byte. Built by sdk/assemblyscript/build.sh:
//
//     npx asc redact.ts -o redact.wasm

import { Code, codeName, Conn, Filter, logError, logWarn, Message, MessageType, register } from "wasmgate-sdk";
export * from "wasmgate-sdk/exports";

/** Holds pass 1's output; it grows to the longest message seen. */
let cards = new Uint8Array(0);
/** Holds pass 2's output; it grows to the longest output seen. */
let emails = new Uint8Array(0);

/** Makes emails hold at least n bytes, keeping its first `used`. */
function reserveEmails(n: i32, used: i32): void {
  if (emails.length >= n) return;
  const b = new Uint8Array(max(n, 2 * emails.length));
  memory.copy(b.dataStart, emails.dataStart, <usize>used);
  emails = b;
}

function isDigit(c: u8): bool {
  return c >= 0x30 && c <= 0x39;
}

function isCardSeparator(c: u8): bool {
  return c == 0x20 || c == 0x2d;
}

function isAlnum(c: u8): bool {
  return isDigit(c) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** A–Z a–z 0–9 . _ % + - */
function isLocal(c: u8): bool {
  return isAlnum(c) || c == 0x2e || c == 0x5f || c == 0x25 || c == 0x2b || c == 0x2d;
}

/** A–Z a–z 0–9 . - */
function isDomain(c: u8): bool {
  return isAlnum(c) || c == 0x2e || c == 0x2d;
}

/** Whether the digits of src[start, end) (separators skipped) pass the Luhn check. */
function luhn(src: Uint8Array, start: i32, end: i32): bool {
  let sum = 0;
  let double = false;
  for (let i = end - 1; i >= start; i--) {
    const c = src[i];
    if (!isDigit(c)) continue;
    let d = <i32>c - 0x30;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 == 0;
}

/**
 * Pass 1: copies src into `cards` with every digit of each card number but
 * the last four replaced by '*', and reports whether it masked any.
 */
function maskCards(src: Uint8Array): bool {
  const n = src.length;
  if (cards.length < n) cards = new Uint8Array(n);
  memory.copy(cards.dataStart, src.dataStart, <usize>n);
  let changed = false;
  let i = 0;
  while (i < n) {
    if (!isDigit(src[i])) {
      i++;
      continue;
    }
    // A candidate starts here: the scan skips whole candidates, and a
    // candidate ends before a non-digit, so src[i-1] is no digit.
    let end = i + 1;
    let digits = 1;
    while (end < n) {
      if (isDigit(src[end])) {
        end++;
      } else if (isCardSeparator(src[end]) && end + 1 < n && isDigit(src[end + 1])) {
        end += 2;
      } else {
        break;
      }
      digits++;
    }
    if (digits >= 13 && digits <= 19 && luhn(src, i, end)) {
      let mask = digits - 4;
      for (let j = i; mask > 0; j++) {
        if (isDigit(cards[j])) {
          cards[j] = 0x2a;
          mask--;
        }
      }
      changed = true;
    }
    i = end;
  }
  return changed;
}

/** Whether src[start, end) is a valid domain: not empty, no leading '.' or '-', no "..", a dot. */
function validDomain(src: Uint8Array, start: i32, end: i32): bool {
  if (end == start || src[start] == 0x2e || src[start] == 0x2d) return false;
  let dot = false;
  for (let i = start; i < end; i++) {
    if (src[i] != 0x2e) continue;
    if (i + 1 < end && src[i + 1] == 0x2e) return false;
    dot = true;
  }
  return dot;
}

/**
 * Pass 2: writes the first n bytes of `cards` into `emails` with the local
 * part of each e-mail address replaced by "***", and returns the length
 * written, or -1 when there was no address.
 */
function maskEmails(n: i32): i32 {
  const src = cards;
  let out = 0;
  let copied = 0; // src[0, copied) is in emails[0, out)
  let p = 0;
  let a = 0;
  while (a < n) {
    if (src[a] != 0x40) {
      a++;
      continue;
    }
    let s = a;
    while (s > p && isLocal(src[s - 1])) s--;
    if (s == a) {
      a++;
      continue;
    }
    let e = a + 1;
    while (e < n && isDomain(src[e])) e++;
    while (e > a + 1 && (src[e - 1] == 0x2e || src[e - 1] == 0x2d)) e--;
    if (!validDomain(src, a + 1, e)) {
      a++;
      continue;
    }
    reserveEmails(out + (s - copied) + 3, out);
    memory.copy(emails.dataStart + <usize>out, src.dataStart + <usize>copied, <usize>(s - copied));
    out += s - copied;
    emails[out++] = 0x2a;
    emails[out++] = 0x2a;
    emails[out++] = 0x2a;
    copied = a;
    p = e;
    a = e;
  }
  // A match sets copied to its @, which is past a local part: never 0.
  if (copied == 0) return -1;
  reserveEmails(out + (n - copied), out);
  memory.copy(emails.dataStart + <usize>out, src.dataStart + <usize>copied, <usize>(n - copied));
  return out + n - copied;
}

class Redact extends Filter {
  message(conn: Conn, message: Message): void {
    if (message.type != MessageType.Text) return;
    const src = message.bytes();
    const cardsChanged = maskCards(src);
    const n = maskEmails(src.length);
    if (!cardsChanged && n < 0) return;
    const out = n < 0 ? cards.subarray(0, src.length) : emails.subarray(0, n);
    const r = message.replace(MessageType.Text, out);
    if (r == Code.OK) return;
    // Masking keeps UTF-8 valid, so this is the route's size limit: a
    // local part of one or two bytes becomes three. Letting the original
    // through would leak what the filter is there to hide.
    logWarn("redacted message not sent: " + codeName(r));
    const d = message.drop();
    if (d != Code.OK) logError("drop: " + codeName(d));
  }
}

register(new Redact());
