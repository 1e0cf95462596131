import * as abi from "./abi";
import { len, ptr, utf8 } from "./mem";
import { Code, MessageType, validType } from "./types";

/** The connections this instance knows, by context id. */
const conns = new Map<u32, Conn>();

/** The connection of the running on_messages, and whether the filter closed it. */
let batchConn: Conn | null = null;
let batchClosed = false;

/**
 * One proxied connection, as this instance of the plugin sees it. The SDK
 * creates it for the connection's first hook and forgets it after
 * `Filter.close`; a filter may keep it meanwhile (to send to it from
 * another connection's hook, say). Once forgotten, its methods return
 * `Code.NotFound` without reaching the host, which may have given the id
 * to a new connection.
 */
export class Conn {
  /**
   * The filter's own state for the connection; the SDK never reads it.
   * Read it back with a cast, which is checked: `conn.data as MyState`.
   */
  data: Object | null = null;

  private closeSent: bool = false;

  constructor(
    /** The context id, unique among the live connections of the plugin. */
    readonly id: u32,
    /** Whether the client connected with TLS (wss). */
    readonly tls: bool,
  ) {}

  /** Whether `close` succeeded on this connection. */
  get closed(): bool {
    return this.closeSent;
  }

  /**
   * Sends a message to the client. During `Filter.message` of this
   * connection it goes out after the message being handled, in order; to
   * another connection of the instance it goes at once. The other filters
   * of the route do not see it. Valid in `message` and `tick`
   * (`Code.WrongHook` elsewhere); `Code.NotFound` for a closed connection.
   */
  sendToClient(type: MessageType, payload: Uint8Array): Code {
    return this.send(abi.DIR_UPSTREAM_TO_CLIENT, type, payload.dataStart, payload.byteLength);
  }

  /** Sends a message to the upstream, as `sendToClient` does to the client. */
  sendToUpstream(type: MessageType, payload: Uint8Array): Code {
    return this.send(0, type, payload.dataStart, payload.byteLength);
  }

  /** Sends a text message to the client, as `sendToClient`. */
  sendTextToClient(text: string): Code {
    const b = utf8(text);
    return this.send(abi.DIR_UPSTREAM_TO_CLIENT, MessageType.Text, ptr(b), b.byteLength);
  }

  /** Sends a text message to the upstream, as `sendToClient` does to the client. */
  sendTextToUpstream(text: string): Code {
    const b = utf8(text);
    return this.send(0, MessageType.Text, ptr(b), b.byteLength);
  }

  private send(flags: u32, type: MessageType, p: usize, n: i32): Code {
    if (!live(this)) return Code.NotFound;
    if (!validType(type)) return Code.InvalidArgument;
    return abi.send(this.id, flags, type, p, <usize>n);
  }

  /**
   * Closes the connection: the client gets code and reason, the upstream
   * 1001. During `Filter.message` the rest of the batch is dropped (the
   * SDK stops calling `message` for it); during `Filter.open` it refuses
   * the handshake with 403 and the reason as body, and the connection
   * gets no `Filter.close`. Valid in `open`, `message` and `tick`
   * (`Code.WrongHook` elsewhere); `Code.InvalidArgument` for a code that
   * is not valid on the wire.
   */
  close(code: u16, reason: string = ""): Code {
    if (!live(this)) return Code.NotFound;
    const b = utf8(reason);
    const r = abi.close(this.id, code, ptr(b), len(b));
    if (r == Code.OK) {
      this.closeSent = true;
      if (this == batchConn) batchClosed = true;
    }
    return r;
  }

  /**
   * Makes `Filter.tick(this)` run every `periodMs` milliseconds (10 or
   * more) until the connection ends; 0 stops the timer.
   * `Code.InvalidArgument` for a shorter or negative period.
   */
  setTick(periodMs: i32): Code {
    if (!live(this)) return Code.NotFound;
    if (periodMs < 0) return Code.InvalidArgument;
    return abi.tick_set(this.id, periodMs);
  }
}

/** Whether the host may still name c. */
function live(c: Conn): bool {
  return conns.has(c.id) && conns.get(c.id) == c;
}

// The functions below are the SDK's own (index.ts does not export them).

/** Returns the new connection of an on_open. */
export function openConn(id: u32, tls: bool): Conn {
  const c = new Conn(id, tls);
  conns.set(id, c);
  return c;
}

/**
 * Returns the connection of a context id, creating it for an id this
 * instance has not seen (a hook of a connection opened before it took
 * the connection over).
 */
export function connFor(id: u32): Conn {
  if (conns.has(id)) return conns.get(id);
  return openConn(id, false);
}

/** Returns the connection of an on_close: one that is no longer live if the instance never saw it. */
export function closingConn(id: u32): Conn {
  if (conns.has(id)) return conns.get(id);
  return new Conn(id, false);
}

/** Drops a connection the host will not name again. */
export function forget(c: Conn): void {
  if (live(c)) conns.delete(c.id);
}

/** Starts a batch of c's messages. */
export function beginBatch(c: Conn): void {
  batchConn = c;
  batchClosed = false;
}

/** Whether the filter closed the connection of the running batch. */
export function batchWasClosed(): bool {
  return batchClosed;
}

/** Ends the batch. */
export function endBatch(): void {
  batchConn = null;
}
