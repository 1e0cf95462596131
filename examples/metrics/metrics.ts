// The metrics example: counts the messages and bytes of every connection
// by type and by the side that sent them, and the connections open, as
// plugin metrics. Messages pass unchanged; payloads are never read.
// Built by sdk/assemblyscript/build.sh:
//
//     npx asc metrics.ts -o metrics.wasm

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
  logError,
  Message,
  MessageType,
  register,
  Request,
} from "wasmgate-sdk";
export * from "wasmgate-sdk/exports";

/** The counters of one side: messages and bytes, by type. */
class Side {
  textMessages: Counter = new Counter(-1);
  textBytes: Counter = new Counter(-1);
  binaryMessages: Counter = new Counter(-1);
  binaryBytes: Counter = new Counter(-1);

  /** Defines the counters <side>_text_messages, <side>_text_bytes, ...; false when one fails. */
  define(side: string): bool {
    const tm = defineCounter(side + "_text_messages");
    const tb = defineCounter(side + "_text_bytes");
    const bm = defineCounter(side + "_binary_messages");
    const bb = defineCounter(side + "_binary_bytes");
    if (!tm.ok || !tb.ok || !bm.ok || !bb.ok) return false;
    this.textMessages = tm.value;
    this.textBytes = tb.value;
    this.binaryMessages = bm.value;
    this.binaryBytes = bb.value;
    return true;
  }

  count(message: Message): void {
    if (message.type == MessageType.Text) {
      this.textMessages.add(1);
      this.textBytes.add(message.length);
    } else {
      this.binaryMessages.add(1);
      this.binaryBytes.add(message.length);
    }
  }
}

class Metrics extends Filter {
  /** What the clients sent, towards the upstream. */
  client: Side = new Side();
  /** What the upstreams sent, towards the client. */
  upstream: Side = new Side();
  openConnections: Gauge = new Gauge(-1);

  start(config: Config): bool {
    const open = defineGauge("open_connections");
    if (!this.client.define("client") || !this.upstream.define("upstream") || !open.ok) {
      logError("metrics: defining the metrics failed");
      return false;
    }
    this.openConnections = open.value;
    return true;
  }

  open(conn: Conn, request: Request): Action {
    // Count each connection once: a reopened one (the plugin was replaced
    // under it) was counted when it opened.
    if (!request.reopened) this.openConnections.add(1);
    return Action.Continue;
  }

  message(conn: Conn, message: Message): void {
    (message.fromUpstream ? this.upstream : this.client).count(message);
  }

  close(conn: Conn, event: CloseEvent): void {
    this.openConnections.add(-1);
  }
}

register(new Metrics());
