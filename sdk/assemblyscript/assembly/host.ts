// The host functions valid in every hook (ABI.md, section 4.1).

import * as abi from "./abi";
import { jsonNull, JSONValue, parseJSON } from "./json";
import { fetch, len, ptr, scratchBytes, scratchString, Source, utf8 } from "./mem";
import { Code, Level, Result } from "./types";

/**
 * Logs `message` at `level`; wasmgate adds the plugin's name and the
 * connection. A level outside Debug..Error is taken as the nearest.
 */
export function log(level: Level, message: string): void {
  const b = utf8(message);
  abi.log(min(max(<i32>level, Level.Debug), Level.Error), ptr(b), len(b));
}

/** Logs at `Level.Debug`. */
export function logDebug(message: string): void {
  log(Level.Debug, message);
}

/** Logs at `Level.Info`. */
export function logInfo(message: string): void {
  log(Level.Info, message);
}

/** Logs at `Level.Warn`. */
export function logWarn(message: string): void {
  log(Level.Warn, message);
}

/** Logs at `Level.Error`. */
export function logError(message: string): void {
  log(Level.Error, message);
}

/** The host's wall-clock time, in nanoseconds since the Unix epoch. */
export function now(): i64 {
  return abi.time_now();
}

/**
 * Makes `Filter.tick(null)` run every `periodMs` milliseconds (10 or
 * more) for the plugin as a whole; 0 stops the timer. Each instance of
 * the plugin has its own. `Code.InvalidArgument` for a shorter or
 * negative period.
 */
export function setTick(periodMs: i32): Code {
  if (periodMs < 0) return Code.InvalidArgument;
  return abi.tick_set(0, periodMs);
}

// The key-value store is shared by every instance of the plugin (and by
// other plugins only when wasmgate is configured so): kvAdd is how
// instances count together. A time to live is in milliseconds; 0 keeps
// the value until it is deleted, and a negative one is
// Code.InvalidArgument.

/** The value of `key`; `Code.NotFound` when it has none. */
export function kvGet(key: string): Result<Uint8Array> {
  const n = kvFetch(key);
  if (n < 0) return new Result<Uint8Array>(n, new Uint8Array(0));
  return new Result<Uint8Array>(Code.OK, scratchBytes(n));
}

/** The value of `key` decoded from UTF-8; `Code.NotFound` when it has none. */
export function kvGetString(key: string): Result<string> {
  const n = kvFetch(key);
  if (n < 0) return new Result<string>(n, "");
  return new Result<string>(Code.OK, scratchString(0, n));
}

function kvFetch(key: string): i32 {
  const k = utf8(key);
  return fetch(Source.KV, 0, ptr(k), len(k));
}

/** Stores `value` under `key`; `Code.TooLarge` when the store's limits are reached. */
export function kvSet(key: string, value: Uint8Array, ttlMs: i64 = 0): Code {
  if (ttlMs < 0) return Code.InvalidArgument;
  const k = utf8(key);
  return abi.kv_set(ptr(k), len(k), value.dataStart, <usize>value.byteLength, ttlMs);
}

/** Stores `value`, encoded as UTF-8, under `key`, as `kvSet`. */
export function kvSetString(key: string, value: string, ttlMs: i64 = 0): Code {
  if (ttlMs < 0) return Code.InvalidArgument;
  const k = utf8(key);
  const v = utf8(value);
  return abi.kv_set(ptr(k), len(k), ptr(v), len(v), ttlMs);
}

/**
 * Atomically adds `delta` to the integer stored under `key` and returns
 * the new value, which may be negative. A missing key counts as 0 and gets
 * `ttlMs`; `Code.TooLarge` when the store's limits are reached. The key
 * must hold a decimal integer and the sum must not overflow: the host
 * traps otherwise.
 */
export function kvAdd(key: string, delta: i64, ttlMs: i64 = 0): Result<i64> {
  if (ttlMs < 0) return new Result<i64>(Code.InvalidArgument, 0);
  const k = utf8(key);
  const n = abi.kv_add(ptr(k), len(k), delta, ttlMs);
  if (n == abi.KV_ADD_FULL) return new Result<i64>(Code.TooLarge, 0);
  return new Result<i64>(Code.OK, n);
}

/** Deletes `key`; `Code.NotFound` when it has no value. */
export function kvDelete(key: string): Code {
  const k = utf8(key);
  return abi.kv_delete(ptr(k), len(k));
}

/**
 * A metric that only goes up, from `defineCounter`. One that failed to be
 * defined (`id` -1) does nothing.
 */
export class Counter {
  constructor(
    /** The metric's id, shared with the other instances of the plugin. */
    readonly id: i32,
  ) {}

  /** Adds `delta` to the counter; a counter only goes up, so a delta <= 0 does nothing. */
  add(delta: i64): void {
    if (this.id >= 0 && delta > 0) abi.metric_add(this.id, delta);
  }
}

/**
 * A metric that goes up and down, from `defineGauge`. One that failed to
 * be defined (`id` -1) does nothing.
 */
export class Gauge {
  constructor(
    /** The metric's id, shared with the other instances of the plugin. */
    readonly id: i32,
  ) {}

  /** Adds `delta`, which may be negative, to the gauge. */
  add(delta: i64): void {
    if (this.id >= 0) abi.metric_add(this.id, delta);
  }

  /** Sets the gauge to `value`. */
  set(value: i64): void {
    if (this.id >= 0) abi.metric_set(this.id, value);
  }
}

/**
 * Defines a counter. Valid only in `Filter.start` (`Code.WrongHook`
 * elsewhere). The name matches `[a-zA-Z_][a-zA-Z0-9_]*`
 * (`Code.InvalidArgument` otherwise); wasmgate exports it with a `plugin`
 * label. Defining a name again returns the same counter.
 */
export function defineCounter(name: string): Result<Counter> {
  const id = defineMetric(abi.METRIC_COUNTER, name);
  if (id < 0) return new Result<Counter>(id, new Counter(-1));
  return new Result<Counter>(Code.OK, new Counter(id));
}

/** Defines a gauge, as `defineCounter` defines a counter. */
export function defineGauge(name: string): Result<Gauge> {
  const id = defineMetric(abi.METRIC_GAUGE, name);
  if (id < 0) return new Result<Gauge>(id, new Gauge(-1));
  return new Result<Gauge>(Code.OK, new Gauge(id));
}

function defineMetric(kind: i32, name: string): i32 {
  const n = utf8(name);
  return abi.metric_define(kind, ptr(n), len(n));
}

/** The plugin's configuration: the `config` attribute of its HCL block. */
export class Config {
  private parsed: JSONValue | null = null;

  constructor(
    /** The configuration as JSON text, "null" when the plugin has none. */
    readonly text: string,
  ) {}

  /**
   * The configuration parsed, on first use (a plugin that never reads it
   * has no JSON parser compiled in): a JSON null when the plugin has none.
   */
  get value(): JSONValue {
    let v = this.parsed;
    if (v == null) {
      // wasmgate gives valid JSON: null would mean a broken host.
      v = parseJSON(this.text);
      if (v == null) v = jsonNull();
      this.parsed = v;
    }
    return v;
  }
}
