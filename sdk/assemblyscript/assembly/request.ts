import * as abi from "./abi";
import { Conn } from "./conn";
import { fetch, len, ptr, scratchByte, scratchList, scratchString, Source, utf8 } from "./mem";
import { Code, Header, Result } from "./types";

/** The Request of the running on_open: every other one is over. */
let current: Request | null = null;

/**
 * The WebSocket handshake of a connection, given to `Filter.open`. It is
 * valid only during that call: afterwards its getters return empty values
 * and its other methods `Code.WrongHook`, without reaching the host
 * (which would take them for the current hook's connection).
 */
export class Request {
  constructor(
    /** The connection being opened. */
    readonly conn: Conn,
    /**
     * Set when this `open` reruns for a live connection after the plugin
     * was replaced: no handshake is in progress, and the methods that
     * edit the upstream request or the refusal return `Code.WrongHook`.
     */
    readonly reopened: bool,
  ) {}

  private get valid(): bool {
    return this == current;
  }

  private field(f: i32): string {
    if (!this.valid) return "";
    const n = fetch(Source.RequestField, f);
    return n > 0 ? scratchString(0, n) : "";
  }

  /** The request's method (GET). */
  method(): string {
    return this.field(abi.FIELD_METHOD);
  }

  /** The request's path and query as the client sent them. */
  uri(): string {
    return this.field(abi.FIELD_URI);
  }

  /** The request's path. */
  path(): string {
    return this.field(abi.FIELD_PATH);
  }

  /** The request's query, without "?". */
  query(): string {
    return this.field(abi.FIELD_QUERY);
  }

  /** The host the client asked for. */
  host(): string {
    return this.field(abi.FIELD_HOST);
  }

  /** The client's address, ip:port. */
  remoteAddr(): string {
    return this.field(abi.FIELD_REMOTE_ADDR);
  }

  /** The name of the route the request matched. */
  route(): string {
    return this.field(abi.FIELD_ROUTE);
  }

  /** The subprotocols the client offered, in order. */
  protocols(): string[] {
    if (!this.valid) return [];
    const n = fetch(Source.RequestField, abi.FIELD_PROTOCOLS);
    return n > 0 ? scratchList(n) : [];
  }

  /**
   * The first value of the named header, matched without regard to case;
   * `Code.NotFound` when the request has none.
   */
  header(name: string): Result<string> {
    const n = this.fetchHeader(name);
    if (n < 0) return new Result<string>(n, "");
    let end = 0;
    while (end < n && scratchByte(end) != 0) end++;
    return new Result<string>(Code.OK, scratchString(0, end));
  }

  /**
   * Every value of the named header, matched without regard to case;
   * `Code.NotFound` when the request has none.
   */
  headerValues(name: string): Result<string[]> {
    const n = this.fetchHeader(name);
    if (n < 0) return new Result<string[]>(n, []);
    return new Result<string[]>(Code.OK, scratchList(n));
  }

  private fetchHeader(name: string): i32 {
    if (!this.valid) return Code.WrongHook;
    const b = utf8(name);
    return fetch(Source.RequestHeader, 0, ptr(b), len(b));
  }

  /**
   * Every header of the request, in order, names in lower case; a header
   * with several values comes once per value.
   */
  headers(): Header[] {
    const headers = new Array<Header>();
    if (!this.valid) return headers;
    const n = fetch(Source.RequestHeaders);
    if (n <= 0) return headers;
    const items = scratchList(n);
    for (let i = 0; i < items.length; i += 2) {
      headers.push(new Header(items[i], i + 1 < items.length ? items[i + 1] : ""));
    }
    return headers;
  }

  /**
   * Replaces a header of the request sent upstream. Handshake headers
   * (Host, Upgrade, Connection, Sec-WebSocket-*) and hop-by-hop headers
   * cannot be set: `Code.InvalidArgument`.
   */
  setUpstreamHeader(name: string, value: string): Code {
    if (!this.valid) return Code.WrongHook;
    const n = utf8(name);
    const v = utf8(value);
    return abi.upstream_header_set(ptr(n), len(n), ptr(v), len(v));
  }

  /** Adds a value to a header of the request sent upstream, with the limits of `setUpstreamHeader`. */
  addUpstreamHeader(name: string, value: string): Code {
    if (!this.valid) return Code.WrongHook;
    const n = utf8(name);
    const v = utf8(value);
    return abi.upstream_header_add(ptr(n), len(n), ptr(v), len(v));
  }

  /** Removes a header from the request sent upstream, with the limits of `setUpstreamHeader`. */
  removeUpstreamHeader(name: string): Code {
    if (!this.valid) return Code.WrongHook;
    const n = utf8(name);
    return abi.upstream_header_remove(ptr(n), len(n));
  }

  /** Makes the connection dial the named upstream instead of the route's; `Code.NotFound` for an unknown name. */
  chooseUpstream(name: string): Code {
    if (!this.valid) return Code.WrongHook;
    const n = utf8(name);
    return abi.upstream_choose(ptr(n), len(n));
  }

  /**
   * Replaces the request-target (path and query, as in
   * `"/v2/chat?room=1"`) sent to the upstream, after its server's base
   * path. Filters later in the route read the new one.
   * `Code.InvalidArgument` unless it starts with `"/"` and is at most 8192
   * bytes of visible ASCII without `"#"` (percent-encode anything else).
   */
  setUpstreamURI(uri: string): Code {
    if (!this.valid) return Code.WrongHook;
    const u = utf8(uri);
    return abi.upstream_uri_set(ptr(u), len(u));
  }

  /**
   * Sets the refusal sent to the client if `open` returns
   * `Action.Reject`: a status from 400 to 599 (`Code.InvalidArgument`
   * otherwise) and a body.
   *
   *     request.reject(401, "who are you?");
   *     return Action.Reject;
   */
  reject(status: i32, body: string = ""): Code {
    if (!this.valid) return Code.WrongHook;
    const b = utf8(body);
    return abi.reject(status, ptr(b), len(b));
  }

  /** Adds a header to the refusal sent if `open` returns `Action.Reject`. */
  rejectHeader(name: string, value: string): Code {
    if (!this.valid) return Code.WrongHook;
    const n = utf8(name);
    const v = utf8(value);
    return abi.reject_header(ptr(n), len(n), ptr(v), len(v));
  }
}

// The SDK's own (index.ts does not export it).

/** Makes r the valid Request, or none with null. */
export function setCurrentRequest(r: Request | null): void {
  current = r;
}
