import { Conn } from "./conn";
import { Config } from "./host";
import { Message } from "./message";
import { Request } from "./request";
import { Action, CloseEvent } from "./types";

/**
 * A plugin's filter: extend it, override the methods the filter needs,
 * and register one instance with `register`. Each method of this class is
 * the ABI's default: `start` succeeds, `open` continues, the others do
 * nothing.
 *
 * The methods run one at a time, never concurrently, each under the
 * plugin's deadline.
 */
export class Filter {
  /**
   * Called once per instance, before any connection, with the plugin's
   * configuration. It is the only place to define metrics. Returning
   * false refuses the plugin: at startup wasmgate does not start, on a
   * reload the old configuration stays (log why before).
   */
  start(config: Config): bool {
    return true;
  }

  /**
   * Called on each handshake, before the upstream is dialed, and again
   * (with `request.reopened` set) when the plugin was replaced on a live
   * connection. Returns `Action.Continue` to let the handshake go on or
   * `Action.Reject` to refuse the client (see `Request.reject`). A
   * connection that `open` rejects, or closes with `conn.close`, gets no
   * `close`.
   */
  open(conn: Conn, request: Request): Action {
    return Action.Continue;
  }

  /**
   * Called for each data message, in order. Without a call to
   * `message.replace` or `message.drop` the message goes on unchanged.
   */
  message(conn: Conn, message: Message): void {}

  /**
   * Called once per connection that `open` let through, when it ends.
   * Afterwards the SDK forgets `conn`.
   */
  close(conn: Conn, event: CloseEvent): void {}

  /**
   * Called when a timer fires: one set with `conn.setTick`, or, with
   * `conn` null, one set with `setTick`.
   */
  tick(conn: Conn | null): void {}
}

let registered: Filter | null = null;

/**
 * Installs the plugin's filter. Call it once, at the top level of the
 * plugin's entry file: wasmgate calls the filter right after the module's
 * initialization. A second call aborts.
 */
export function register(filter: Filter): void {
  if (registered != null) abort("wasmgate: register called twice");
  registered = filter;
}

// The SDK's own (index.ts does not export it).

/** The registered filter, or null. */
export function registeredFilter(): Filter | null {
  return registered;
}
