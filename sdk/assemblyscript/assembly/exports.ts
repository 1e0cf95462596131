// The module's exports, under the names and signatures of the ABI
// (ABI.md, section 3). A plugin's entry file re-exports them all:
//
//     export * from "wasmgate-sdk/exports";
//
// Exporting every hook makes wasmgate assemble messages on the plugin's
// routes rather than stream frames (ABI.md, section 5.3).

import { onClose, onMessages, onOpen, onStart, onTick } from "./hooks";
// The handlers asconfig.json names with --use: imported so that they are compiled.
import "./runtime";

/** Declares that the module is built for version 1 of the ABI; never called. */
export function wasmgate_abi_v1(): void {}

export function wasmgate_on_start(): i32 {
  return onStart();
}

export function wasmgate_on_open(ctx: u32, flags: u32): i32 {
  return onOpen(ctx, flags);
}

export function wasmgate_on_messages(ctx: u32, flags: u32, count: u32): i32 {
  return onMessages(ctx, flags, count);
}

export function wasmgate_on_close(ctx: u32, flags: u32, code: u32): void {
  onClose(ctx, flags, code);
}

export function wasmgate_on_tick(ctx: u32): void {
  onTick(ctx);
}
