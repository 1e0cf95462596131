// The wasmgate SDK for AssemblyScript: filter plugins for wasmgate, the
// WebSocket proxy, on version 1 of its plugin ABI (sdk/ABI.md). A plugin
// extends Filter, registers an instance, and re-exports the SDK's hooks:
//
//     import { Conn, Filter, Message, MessageType, register } from "wasmgate-sdk";
//     export * from "wasmgate-sdk/exports";
//
//     class Shout extends Filter {
//       message(conn: Conn, message: Message): void {
//         if (message.type == MessageType.Text) message.replaceText(message.text().toUpperCase());
//       }
//     }
//
//     register(new Shout());
//
// Host calls report failures with a Code (or a Result that carries one),
// never by aborting: AssemblyScript has no exceptions to catch.

export { Conn } from "./conn";
export { Filter, register } from "./filter";
export {
  Config,
  Counter,
  defineCounter,
  defineGauge,
  Gauge,
  kvAdd,
  kvDelete,
  kvGet,
  kvGetString,
  kvSet,
  kvSetString,
  log,
  logDebug,
  logError,
  logInfo,
  logWarn,
  now,
  setTick,
} from "./host";
export { JSONKind, JSONValue, parseJSON } from "./json";
export { Message } from "./message";
export { Request } from "./request";
export { Action, CloseEvent, Code, codeName, Header, Level, MessageType, Result } from "./types";
