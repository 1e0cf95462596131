import * as abi from "./abi";

/**
 * The result code of a host call (ABI.md, section 6). Calls that act
 * return a `Code`; calls that also produce a value return a
 * {@link Result}. `Code.OK` is success and every other code is negative;
 * a code the ABI does not define is passed on as it is.
 */
export enum Code {
  /** Success. */
  OK = abi.OK,
  /** No such header, key, message, upstream or connection. */
  NotFound = abi.ERR_NOT_FOUND,
  /** A value the host refuses: a header it may not set, invalid UTF-8, a bad close code. */
  InvalidArgument = abi.ERR_INVALID_ARGUMENT,
  /** Over a limit: the route's message size, the key-value store's. */
  TooLarge = abi.ERR_TOO_LARGE,
  /** Valid only in another hook, or with a request or message whose hook is over. */
  WrongHook = abi.ERR_WRONG_HOOK,
}

/** Returns a short description of a code, for log lines: "not found", ... */
export function codeName(code: Code): string {
  switch (code) {
    case Code.OK:
      return "ok";
    case Code.NotFound:
      return "not found";
    case Code.InvalidArgument:
      return "invalid argument";
    case Code.TooLarge:
      return "too large";
    case Code.WrongHook:
      return "wrong hook";
  }
  return "host error code " + code.toString();
}

/**
 * A value and the code of the host call that produced it. When the call
 * failed (`ok` is false) `value` is the type's empty value: "", an empty
 * array, 0, or an object that does nothing.
 */
export class Result<T> {
  constructor(
    /** `Code.OK`, or why there is no value. */
    readonly code: Code,
    /** The value, meaningful only when `ok`. */
    readonly value: T,
  ) {}

  /** Whether the call succeeded. */
  get ok(): bool {
    return this.code == Code.OK;
  }
}

/** What `Filter.open` decides about a handshake. */
export enum Action {
  /** The handshake goes on to the next filter, then the upstream. */
  Continue = abi.ACTION_CONTINUE,
  /**
   * The client is refused with what `Request.reject` set (403 with an
   * empty body without it). Later filters do not run.
   */
  Reject = abi.ACTION_REJECT,
}

/** The type of a WebSocket data message. */
export enum MessageType {
  /** A text message: its payload is UTF-8. */
  Text = abi.TYPE_TEXT,
  /** A binary message. */
  Binary = abi.TYPE_BINARY,
}

/** Whether t is a type the ABI knows (the host traps on any other). */
export function validType(t: MessageType): bool {
  return t == MessageType.Text || t == MessageType.Binary;
}

/** The level of a log line. */
export enum Level {
  Debug = abi.LOG_DEBUG,
  Info = abi.LOG_INFO,
  Warn = abi.LOG_WARN,
  Error = abi.LOG_ERROR,
}

/** One request header: a name, in lower case as the host gives it, and one value. */
export class Header {
  constructor(
    readonly name: string,
    readonly value: string,
  ) {}
}

/** How a connection ended, given to `Filter.close`. */
export class CloseEvent {
  constructor(
    /** Set when the upstream side ended the connection, clear when the client did. */
    readonly byUpstream: bool,
    /** Set when that side vanished without a close frame; `code` is then 1006. */
    readonly abnormal: bool,
    /** The close code, 1005 when the close frame had none. */
    readonly code: u16,
    /** The close reason. */
    readonly reason: string,
  ) {}
}
