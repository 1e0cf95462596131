import * as abi from "./abi";
import { logError } from "./host";
import { ptr, utf8 } from "./mem";
import { Code, codeName, MessageType, validType } from "./types";

/** The Message of the running call of Filter.message: every other one is over. */
let current: Message | null = null;

/** Holds the payload of the current message once read; it grows to the longest one. */
let payload = new ArrayBuffer(0);
/** The view of payload that bytes() returns, for the message in `loaded`. */
let view = new Uint8Array(0);
let loaded: Message | null = null;

/**
 * One data message of a batch, given to `Filter.message`. It is valid
 * only until that call returns: afterwards `bytes` returns an empty array
 * and `replace` and `drop` return `Code.WrongHook`. `type`, `length` and
 * `bytes` describe the message as it arrived, also after `replace`.
 */
export class Message {
  constructor(
    /** The message's position in its batch, from 0. */
    readonly index: u32,
    /** The number of messages in its batch: those of one read, one direction. */
    readonly batchLength: u32,
    /** The message's type. */
    readonly type: MessageType,
    /** The length of the payload in bytes. */
    readonly length: i32,
    /** Set when the message goes from the upstream to the client, clear when from the client to the upstream. */
    readonly fromUpstream: bool,
  ) {}

  private get valid(): bool {
    return this == current;
  }

  /**
   * The payload. The SDK reads it from the host once per message, into a
   * buffer it reuses for the next message: the array is valid only until
   * `Filter.message` returns (keep a copy with `slice()`).
   */
  bytes(): Uint8Array {
    if (!this.valid) return new Uint8Array(0);
    if (loaded != this) this.load();
    return view;
  }

  /** The payload decoded from UTF-8 (a new string). */
  text(): string {
    const b = this.bytes();
    return String.UTF8.decodeUnsafe(b.dataStart, <usize>b.byteLength);
  }

  private load(): void {
    const n = this.length;
    if (payload.byteLength < n) payload = new ArrayBuffer(n);
    let off = 0;
    while (off < n) {
      const k = abi.message_read(this.index, off, ptr(payload) + <usize>off, <usize>(n - off));
      if (k <= 0) {
        if (k < 0) logError("message_read(" + this.index.toString() + ", " + off.toString() + "): " + codeName(k));
        break;
      }
      off += min(k, n - off);
    }
    view = Uint8Array.wrap(payload, 0, off);
    loaded = this;
  }

  /**
   * Makes the message go on with this type and payload instead:
   * `Code.InvalidArgument` for a text payload that is not UTF-8,
   * `Code.TooLarge` for one over the route's message size. The host
   * copies the payload.
   */
  replace(type: MessageType, payload: Uint8Array): Code {
    return this.replaceWith(type, payload.dataStart, payload.byteLength);
  }

  /** Makes the message go on as a text message of `text`, as `replace`. */
  replaceText(text: string): Code {
    const b = utf8(text);
    return this.replaceWith(MessageType.Text, ptr(b), b.byteLength);
  }

  private replaceWith(type: MessageType, p: usize, n: i32): Code {
    if (!this.valid) return Code.WrongHook;
    if (!validType(type)) return Code.InvalidArgument;
    return abi.message_replace(this.index, type, p, <usize>n);
  }

  /** Makes the message go no further. */
  drop(): Code {
    if (!this.valid) return Code.WrongHook;
    return abi.message_drop(this.index);
  }
}

// The SDK's own (index.ts does not export it).

/** Makes m the valid Message, or none with null. */
export function setCurrentMessage(m: Message | null): void {
  current = m;
  if (m == null) loaded = null;
}
