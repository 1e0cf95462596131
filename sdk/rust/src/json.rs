//! A small JSON reader (RFC 8259) for the plugin's configuration, which
//! the host gives as JSON: enough to read settings without a dependency.

use std::fmt;
use std::ops::Index;

/// A JSON value.
///
/// Index it with a key or a position to walk a document without checks:
/// a missing member, a position past the end or a value of another kind
/// gives [`Json::Null`].
///
/// ```
/// let v = wasmgate::Json::parse(r#"{"limits": {"per_user": 50}, "tags": ["a"]}"#).unwrap();
/// assert_eq!(v["limits"]["per_user"].as_u64(), Some(50));
/// assert_eq!(v["tags"][0].as_str(), Some("a"));
/// assert!(v["missing"]["deeper"].is_null());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as written in the text, so that an integer of any size
    /// converts exactly ([`Json::as_i64`]).
    Number(String),
    /// A string, escapes decoded.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object's members, in the order written.
    Object(Vec<(String, Json)>),
}

static NULL: Json = Json::Null;

/// Why a text is not JSON, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonError {
    /// The byte offset in the text where the reader stopped.
    pub offset: usize,
    /// What it expected or found there.
    pub message: &'static str,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for JsonError {}

/// Nesting deeper than this is refused rather than risk the guest's stack.
const MAX_DEPTH: usize = 128;

impl Json {
    /// Parses a complete JSON text: one value, with white space around it.
    pub fn parse(text: &str) -> Result<Json, JsonError> {
        let mut p = Parser {
            text,
            pos: 0,
            depth: 0,
        };
        p.skip_ws();
        let v = p.value()?;
        p.skip_ws();
        if p.pos != text.len() {
            return Err(p.error("unexpected text after the value"));
        }
        Ok(v)
    }

    /// Returns the member `key` of an object (the last one when the key is
    /// repeated), or `None`.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Reports whether the value is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    /// Returns a boolean's value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Returns a string's value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// Returns a number as the nearest `f64`.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    /// Returns a number that is an integer within the range of `i64`
    /// (`3`, `-3`, `3.0`, `3e2`), or `None`.
    pub fn as_i64(&self) -> Option<i64> {
        self.as_integer().and_then(|n| i64::try_from(n).ok())
    }

    /// Returns a number that is an integer within the range of `u64`, or
    /// `None`.
    pub fn as_u64(&self) -> Option<u64> {
        self.as_integer().and_then(|n| u64::try_from(n).ok())
    }

    /// Returns the value of a number that is an integer, exactly, when it
    /// fits an `i128`. It reads the decimal text itself rather than go
    /// through `f64`, which would round large integers (and costs a plugin
    /// the size of a float parser).
    fn as_integer(&self) -> Option<i128> {
        let text = match self {
            Json::Number(n) => n.as_str(),
            _ => return None,
        };
        let (negative, unsigned) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exp) = match unsigned.find(['e', 'E']) {
            Some(i) => (&unsigned[..i], unsigned[i + 1..].parse::<i32>().ok()?),
            None => (unsigned, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digits = [int, frac].concat();
        let significant = digits.trim_end_matches('0');
        if significant.is_empty() {
            return Some(0);
        }
        // The value is significant * 10^exp.
        let exp = i64::from(exp) - frac.len() as i64 + (digits.len() - significant.len()) as i64;
        if exp < 0 {
            return None;
        }
        let mut n: i128 = significant.parse().ok()?;
        for _ in 0..exp {
            n = n.checked_mul(10)?;
        }
        Some(if negative { -n } else { n })
    }

    /// Returns an array's items.
    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// Returns an object's members, in the order written.
    pub fn as_object(&self) -> Option<&[(String, Json)]> {
        match self {
            Json::Object(members) => Some(members),
            _ => None,
        }
    }
}

impl Index<&str> for Json {
    type Output = Json;

    /// Returns the member `key` of an object, or `Null`.
    fn index(&self, key: &str) -> &Json {
        self.get(key).unwrap_or(&NULL)
    }
}

impl Index<usize> for Json {
    type Output = Json;

    /// Returns item `i` of an array, or `Null`.
    fn index(&self, i: usize) -> &Json {
        self.as_array()
            .and_then(|items| items.get(i))
            .unwrap_or(&NULL)
    }
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn error(&self, message: &'static str) -> JsonError {
        JsonError {
            offset: self.pos,
            message,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Consumes `b` or fails with `message`.
    fn expect(&mut self, b: u8, message: &'static str) -> Result<(), JsonError> {
        if self.peek() != Some(b) {
            return Err(self.error(message));
        }
        self.pos += 1;
        Ok(())
    }

    fn value(&mut self) -> Result<Json, JsonError> {
        match self.peek() {
            Some(b'{') => self.nested(Parser::object),
            Some(b'[') => self.nested(Parser::array),
            Some(b'"') => self.string().map(Json::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(_) => Err(self.error("expected a value")),
            None => Err(self.error("unexpected end of text")),
        }
    }

    fn nested(&mut self, f: fn(&mut Self) -> Result<Json, JsonError>) -> Result<Json, JsonError> {
        if self.depth == MAX_DEPTH {
            return Err(self.error("nested too deep"));
        }
        self.depth += 1;
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn literal(&mut self, word: &str, v: Json) -> Result<Json, JsonError> {
        if !self.text[self.pos..].starts_with(word) {
            return Err(self.error("expected a value"));
        }
        self.pos += word.len();
        Ok(v)
    }

    fn object(&mut self) -> Result<Json, JsonError> {
        self.pos += 1; // '{'
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key"));
            }
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':', "expected ':' after a key")?;
            self.skip_ws();
            members.push((key, self.value()?));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self) -> Result<Json, JsonError> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.pos += 1; // '"'
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // The run ends at an ASCII byte or at the end: a char boundary.
            out.push_str(&self.text[start..self.pos]);
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                Some(_) => return Err(self.error("control character in a string")),
                None => return Err(self.error("unterminated string")),
            }
        }
    }

    /// Decodes the escape after a backslash.
    fn escape(&mut self) -> Result<char, JsonError> {
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                return self.unicode_escape();
            }
            _ => return Err(self.error("invalid escape")),
        };
        self.pos += 1;
        Ok(c)
    }

    /// Decodes the XXXX of \uXXXX, and a low surrogate's escape after a
    /// high one.
    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let hi = self.hex4()?;
        let cp = match hi {
            0xD800..=0xDBFF => {
                if !self.text[self.pos..].starts_with("\\u") {
                    return Err(self.error("high surrogate without a low one"));
                }
                self.pos += 2;
                let lo = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&lo) {
                    return Err(self.error("high surrogate without a low one"));
                }
                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error("low surrogate without a high one")),
            _ => hi,
        };
        char::from_u32(cp).ok_or_else(|| self.error("invalid code point"))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self
            .text
            .as_bytes()
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("short \\u escape"))?;
        let mut v = 0;
        for &d in digits {
            let x = (d as char)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid hex digit in a \\u escape"))?;
            v = v * 16 + x;
        }
        self.pos += 4;
        Ok(v)
    }

    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error("expected a digit")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.required_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.required_digits()?;
        }
        Ok(Json::Number(self.text[start..self.pos].to_string()))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn required_digits(&mut self) -> Result<(), JsonError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.error("expected a digit"));
        }
        self.digits();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> Json {
        Json::Number(s.to_string())
    }

    fn string(s: &str) -> Json {
        Json::String(s.to_string())
    }

    #[test]
    fn values() {
        assert_eq!(Json::parse("null"), Ok(Json::Null));
        assert_eq!(Json::parse(" true "), Ok(Json::Bool(true)));
        assert_eq!(Json::parse("\t\r\nfalse"), Ok(Json::Bool(false)));
        assert_eq!(Json::parse("-12.5e+3"), Ok(num("-12.5e+3")));
        assert_eq!(Json::parse("0"), Ok(num("0")));
        assert_eq!(Json::parse("[]"), Ok(Json::Array(vec![])));
        assert_eq!(Json::parse("{ }"), Ok(Json::Object(vec![])));
        assert_eq!(
            Json::parse(r#"{"a": [1, "x", {"b": null}], "c": {}}"#),
            Ok(Json::Object(vec![
                (
                    "a".into(),
                    Json::Array(vec![
                        num("1"),
                        string("x"),
                        Json::Object(vec![("b".into(), Json::Null)])
                    ])
                ),
                ("c".into(), Json::Object(vec![])),
            ]))
        );
    }

    #[test]
    fn strings() {
        assert_eq!(
            Json::parse(r#""a\"b\\c\/d\b\f\n\r\t""#),
            Ok(string("a\"b\\c/d\u{8}\u{c}\n\r\t"))
        );
        assert_eq!(Json::parse(r#""\u0041\u00e9\u20AC""#), Ok(string("Aé€")));
        assert_eq!(Json::parse(r#""\ud83d\ude00!""#), Ok(string("😀!")));
        assert_eq!(Json::parse("\"héllo 😀\""), Ok(string("héllo 😀")));
        assert_eq!(Json::parse(r#""\u0000""#), Ok(string("\0")));
    }

    #[test]
    fn errors() {
        for (text, offset) in [
            ("", 0),
            ("nul", 0),
            ("[1,]", 3),
            ("[1 2]", 3),
            ("{\"a\" 1}", 5),
            ("{a: 1}", 1),
            ("{\"a\": 1,}", 8),
            ("\"abc", 4),
            ("\"a\nb\"", 2),
            (r#""\x""#, 2),
            (r#""\u12""#, 3),
            (r#""\u12g4""#, 3),
            (r#""\ud83d""#, 7),
            (r#""\ud83dx""#, 7),
            (r#""\ud83d\u0041""#, 13),
            (r#""\ude00""#, 7),
            ("01", 1),
            ("-", 1),
            ("1.", 2),
            (".5", 0),
            ("1e", 2),
            ("+1", 0),
            ("1 2", 2),
            ("[", 1),
            ("{", 1),
        ] {
            match Json::parse(text) {
                Err(e) => assert_eq!(e.offset, offset, "{text:?}: {e}"),
                Ok(v) => panic!("{text:?} parsed as {v:?}"),
            }
        }
    }

    #[test]
    fn depth() {
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(Json::parse(&ok).is_ok());
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert_eq!(Json::parse(&deep).unwrap_err().message, "nested too deep");
    }

    #[test]
    fn accessors() {
        let v =
            Json::parse(r#"{"n": 3, "n": 4, "s": "x", "b": true, "a": [1.5], "o": {"k": null}}"#)
                .unwrap();
        assert_eq!(v["n"].as_i64(), Some(4));
        assert_eq!(v["s"].as_str(), Some("x"));
        assert_eq!(v["b"].as_bool(), Some(true));
        assert_eq!(v["a"][0].as_f64(), Some(1.5));
        assert_eq!(v["a"][0].as_i64(), None);
        assert!(v["a"][1].is_null());
        assert!(v["o"]["k"].is_null());
        assert!(v["o"].get("k").is_some());
        assert!(v["o"].get("z").is_none());
        assert!(v["s"]["x"].is_null());
        assert_eq!(v["a"].as_array().map(<[Json]>::len), Some(1));
        assert_eq!(v.as_object().map(<[(String, Json)]>::len), Some(6));
        assert_eq!(v["s"].as_i64(), None);
        assert_eq!(v["n"].as_str(), None);
    }

    #[test]
    fn integers() {
        let int = |s: &str| Json::parse(s).unwrap().as_i64();
        let uint = |s: &str| Json::parse(s).unwrap().as_u64();
        assert_eq!(int("9007199254740993"), Some(9_007_199_254_740_993));
        assert_eq!(int("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(int("9223372036854775808"), None);
        assert_eq!(int("-0"), Some(0));
        assert_eq!(int("2.0"), Some(2));
        assert_eq!(int("25e-1"), None);
        assert_eq!(int("1e3"), Some(1000));
        assert_eq!(int("1e400"), None);
        assert_eq!(uint("18446744073709551615"), Some(u64::MAX));
        assert_eq!(uint("-1"), None);
        assert_eq!(uint("1E2"), Some(100));
        assert_eq!(int("1.50e1"), Some(15));
        assert_eq!(int("0.5"), None);
        assert_eq!(int("0e999999"), Some(0));
        assert_eq!(int("-12e+2"), Some(-1200));
        assert_eq!(int("1e-0"), Some(1));
        assert_eq!(int("100e-2"), Some(1));
        assert_eq!(int("1e19"), None);
        assert_eq!(uint("1e19"), Some(10_000_000_000_000_000_000));
        assert_eq!(uint("1e2147483647"), None);
    }
}
