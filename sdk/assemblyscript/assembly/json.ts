// A small JSON reader, for the plugin's configuration: RFC 8259 text in,
// an immutable tree of JSONValue out.

/** The kind of a JSON value. */
export enum JSONKind {
  Null,
  Bool,
  Number,
  String,
  Array,
  Object,
}

/** How deep arrays and objects may nest: deeper text is refused rather than overflow the stack. */
const MAX_DEPTH = 128;

/**
 * A JSON value, from `parseJSON`. The accessors never fail: one that does
 * not fit the value's kind returns its fallback, and `get` and `at` return
 * a JSON null for a member or item that is not there, so lookups chain:
 *
 *     const limit = config.value.get("limits").get("per_minute").asInt(60);
 */
export class JSONValue {
  /** Values come from parseJSON: the constructor is the parser's. */
  constructor(
    /** The value's kind. */
    readonly kind: JSONKind,
    private readonly flag: bool,
    private readonly num: f64,
    /** A string's value, or a number's text. */
    private readonly str: string,
    /** An array's items, or an object's member values in the order of `names`. */
    private readonly items: JSONValue[] | null,
    /** An object's member names, each once, in their first order. */
    private readonly names: string[] | null,
    /** The position of each member name in `names`. */
    private readonly index: Map<string, i32> | null,
  ) {}

  /** Whether the value is null. */
  get isNull(): bool {
    return this.kind == JSONKind.Null;
  }

  /** The value of a bool, else `fallback`. */
  asBool(fallback: bool = false): bool {
    return this.kind == JSONKind.Bool ? this.flag : fallback;
  }

  /** The value of a number, else `fallback`. */
  asNumber(fallback: f64 = 0): f64 {
    return this.kind == JSONKind.Number ? this.num : fallback;
  }

  /**
   * The value of a number as an integer, else `fallback`: exact for an
   * integer written without fraction or exponent, truncated towards zero
   * for other numbers, and `fallback` for a number out of the range of
   * i64.
   */
  asInt(fallback: i64 = 0): i64 {
    if (this.kind != JSONKind.Number) return fallback;
    const s = this.str;
    const neg = s.charCodeAt(0) == 0x2d;
    // An integer literal is read digit by digit: f64 holds only 53 bits.
    const limit: u64 = neg ? <u64>1 << 63 : <u64>i64.MAX_VALUE;
    let v: u64 = 0;
    let i = neg ? 1 : 0;
    for (; i < s.length; i++) {
      const d = s.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) break;
      if (v > (limit - <u64>d) / 10) return fallback;
      v = v * 10 + <u64>d;
    }
    if (i == s.length) return neg ? <i64>(0 - v) : <i64>v;
    const f = this.num;
    if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0)) return fallback;
    return <i64>f;
  }

  /** The value of a string, else `fallback`. */
  asString(fallback: string = ""): string {
    return this.kind == JSONKind.String ? this.str : fallback;
  }

  /** The number of items of an array or members of an object, else 0. */
  get length(): i32 {
    const items = this.items;
    return items == null ? 0 : items.length;
  }

  /** Item `i` of an array, else a JSON null. */
  at(i: i32): JSONValue {
    const items = this.items;
    if (this.kind != JSONKind.Array || items == null || i < 0 || i >= items.length) return NULL;
    return items[i];
  }

  /** Member `name` of an object (the last one when the text repeats a name), else a JSON null. */
  get(name: string): JSONValue {
    const index = this.index;
    const items = this.items;
    if (index == null || items == null || !index.has(name)) return NULL;
    return items[index.get(name)];
  }

  /** Whether an object has member `name` (whose value may be null). */
  has(name: string): bool {
    const index = this.index;
    return index != null && index.has(name);
  }

  /** The member names of an object, in order, else an empty array. */
  keys(): string[] {
    const names = this.names;
    return names == null ? [] : names.slice();
  }
}

const NULL = new JSONValue(JSONKind.Null, false, 0, "", null, null, null);

/** A JSON null (for the SDK: index.ts does not export it). */
export function jsonNull(): JSONValue {
  return NULL;
}

const TRUE = new JSONValue(JSONKind.Bool, true, 0, "", null, null, null);
const FALSE = new JSONValue(JSONKind.Bool, false, 0, "", null, null, null);

/**
 * Parses JSON text (RFC 8259: objects, arrays, strings with escapes,
 * numbers, true, false, null, with white space around them). Returns null
 * when the text is not JSON or nests deeper than 128 levels.
 */
export function parseJSON(text: string): JSONValue | null {
  const p = new Parser(text);
  const v = p.value(0);
  if (v == null) return null;
  p.space();
  return p.i == text.length ? v : null;
}

class Parser {
  /** The position of the next character. */
  i: i32 = 0;

  constructor(readonly s: string) {}

  /** The character at the position, or -1 at the end. */
  peek(): i32 {
    return this.i < this.s.length ? this.s.charCodeAt(this.i) : -1;
  }

  space(): void {
    while (true) {
      const c = this.peek();
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) return;
      this.i++;
    }
  }

  value(depth: i32): JSONValue | null {
    this.space();
    const c = this.peek();
    if (c == 0x7b) return this.object(depth + 1); // {
    if (c == 0x5b) return this.array(depth + 1); // [
    if (c == 0x22) {
      const s = this.string();
      return s == null ? null : new JSONValue(JSONKind.String, false, 0, s, null, null, null);
    }
    if (c == 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    if (this.literal("true")) return TRUE;
    if (this.literal("false")) return FALSE;
    if (this.literal("null")) return NULL;
    return null;
  }

  literal(word: string): bool {
    if (this.s.substr(this.i, word.length) != word) return false;
    this.i += word.length;
    return true;
  }

  digits(): bool {
    const start = this.i;
    while (this.peek() >= 0x30 && this.peek() <= 0x39) this.i++;
    return this.i > start;
  }

  number(): JSONValue | null {
    const start = this.i;
    if (this.peek() == 0x2d) this.i++;
    if (this.peek() == 0x30) {
      this.i++;
    } else if (!this.digits()) {
      return null;
    }
    if (this.peek() == 0x2e) {
      this.i++;
      if (!this.digits()) return null;
    }
    if (this.peek() == 0x65 || this.peek() == 0x45) {
      this.i++;
      if (this.peek() == 0x2b || this.peek() == 0x2d) this.i++;
      if (!this.digits()) return null;
    }
    const text = this.s.substring(start, this.i);
    return new JSONValue(JSONKind.Number, false, parseFloat(text), text, null, null, null);
  }

  /** Reads a string from its opening quote to past its closing one. */
  string(): string | null {
    this.i++;
    const s = this.s;
    let parts: string[] | null = null;
    let start = this.i;
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i);
      if (c == 0x22) {
        const last = s.substring(start, this.i);
        this.i++;
        if (parts == null) return last;
        parts.push(last);
        return parts.join("");
      }
      if (c < 0x20) return null;
      if (c != 0x5c) {
        this.i++;
        continue;
      }
      if (parts == null) parts = new Array<string>();
      parts.push(s.substring(start, this.i));
      const e = this.i + 1 < s.length ? s.charCodeAt(this.i + 1) : -1;
      this.i += 2;
      switch (e) {
        case 0x22:
        case 0x5c:
        case 0x2f:
          parts.push(String.fromCharCode(e));
          break;
        case 0x62:
          parts.push("\b");
          break;
        case 0x66:
          parts.push("\f");
          break;
        case 0x6e:
          parts.push("\n");
          break;
        case 0x72:
          parts.push("\r");
          break;
        case 0x74:
          parts.push("\t");
          break;
        case 0x75: {
          // \uXXXX is one UTF-16 code unit, as AssemblyScript strings are:
          // a surrogate pair comes as two escapes and joins up by itself.
          let u = 0;
          for (let k = 0; k < 4; k++) {
            const h = this.peek();
            let d: i32;
            if (h >= 0x30 && h <= 0x39) d = h - 0x30;
            else if (h >= 0x61 && h <= 0x66) d = h - 0x61 + 10;
            else if (h >= 0x41 && h <= 0x46) d = h - 0x41 + 10;
            else return null;
            u = (u << 4) | d;
            this.i++;
          }
          parts.push(String.fromCharCode(u));
          break;
        }
        default:
          return null;
      }
      start = this.i;
    }
    return null;
  }

  array(depth: i32): JSONValue | null {
    if (depth > MAX_DEPTH) return null;
    this.i++;
    const items = new Array<JSONValue>();
    this.space();
    if (this.peek() == 0x5d) {
      this.i++;
    } else {
      while (true) {
        const v = this.value(depth);
        if (v == null) return null;
        items.push(v);
        this.space();
        const c = this.peek();
        this.i++;
        if (c == 0x5d) break;
        if (c != 0x2c) return null;
      }
    }
    return new JSONValue(JSONKind.Array, false, 0, "", items, null, null);
  }

  object(depth: i32): JSONValue | null {
    if (depth > MAX_DEPTH) return null;
    this.i++;
    const names = new Array<string>();
    const values = new Array<JSONValue>();
    const index = new Map<string, i32>();
    this.space();
    if (this.peek() == 0x7d) {
      this.i++;
    } else {
      while (true) {
        this.space();
        if (this.peek() != 0x22) return null;
        const name = this.string();
        if (name == null) return null;
        this.space();
        if (this.peek() != 0x3a) return null;
        this.i++;
        const v = this.value(depth);
        if (v == null) return null;
        if (index.has(name)) {
          values[index.get(name)] = v;
        } else {
          index.set(name, names.length);
          names.push(name);
          values.push(v);
        }
        this.space();
        const c = this.peek();
        this.i++;
        if (c == 0x7d) break;
        if (c != 0x2c) return null;
      }
    }
    return new JSONValue(JSONKind.Object, false, 0, "", values, names, index);
  }
}
