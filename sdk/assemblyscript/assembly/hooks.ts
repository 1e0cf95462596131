// The ABI's hooks (ABI.md, section 3), turned into calls of the
// registered Filter. exports.ts exports them under the ABI's names.

import * as abi from "./abi";
import { beginBatch, batchWasClosed, closingConn, Conn, connFor, endBatch, forget, openConn } from "./conn";
import { Filter, registeredFilter } from "./filter";
import { Config, logError } from "./host";
import { fetch, scratchString, Source } from "./mem";
import { Message, setCurrentMessage } from "./message";
import { Request, setCurrentRequest } from "./request";
import { Action, CloseEvent, codeName, MessageType } from "./types";

/** The filter of the hooks after wasmgate_on_start, which checks there is one. */
function filter(): Filter {
  return changetype<Filter>(registeredFilter());
}

export function onStart(): i32 {
  if (registeredFilter() == null) {
    logError("no filter is registered: call register(new MyFilter()) at the top level of the plugin's entry file");
    return 1;
  }
  const n = fetch(Source.Config);
  if (n < 0) {
    logError("reading the configuration: " + codeName(n));
    return 1;
  }
  return filter().start(new Config(n > 0 ? scratchString(0, n) : "null")) ? 0 : 1;
}

export function onOpen(ctx: u32, flags: u32): i32 {
  const c = openConn(ctx, (flags & abi.OPEN_TLS) != 0);
  const r = new Request(c, (flags & abi.OPEN_REOPEN) != 0);
  setCurrentRequest(r);
  const a = filter().open(c, r) == Action.Continue ? Action.Continue : Action.Reject;
  setCurrentRequest(null);
  // A rejected handshake, or one closed during open (which the host turns
  // into a rejection), gets no on_close: forget the connection now. A
  // reopened connection is live and ends with on_close.
  if (!r.reopened && (a == Action.Reject || c.closed)) forget(c);
  return a;
}

export function onMessages(ctx: u32, flags: u32, count: u32): i32 {
  const c = connFor(ctx);
  const fromUpstream = (flags & abi.DIR_UPSTREAM_TO_CLIENT) != 0;
  let status = 0;
  beginBatch(c);
  // The host drops the rest of the batch once the filter closed the
  // connection: stop calling the filter too.
  for (let i: u32 = 0; i < count && !batchWasClosed(); i++) {
    const info = abi.message_info(i);
    if (info < 0) {
      logError("message_info(" + i.toString() + ") of a batch of " + count.toString() + ": " + codeName(<i32>info));
      status = 1;
      break;
    }
    const m = new Message(i, count, <MessageType>(info >>> 32), <i32>(info & 0xffffffff), fromUpstream);
    setCurrentMessage(m);
    filter().message(c, m);
    setCurrentMessage(null);
  }
  endBatch();
  return status;
}

export function onClose(ctx: u32, flags: u32, code: u32): void {
  const c = closingConn(ctx);
  const n = fetch(Source.CloseReason);
  const e = new CloseEvent(
    (flags & abi.CLOSE_BY_UPSTREAM) != 0,
    (flags & abi.CLOSE_ABNORMAL) != 0,
    <u16>code,
    n > 0 ? scratchString(0, n) : "",
  );
  filter().close(c, e);
  forget(c);
}

export function onTick(ctx: u32): void {
  const c: Conn | null = ctx == 0 ? null : connFor(ctx);
  filter().tick(c);
}
