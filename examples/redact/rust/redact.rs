//! The redact example, Rust build: card numbers and the local parts of
//! e-mail addresses are masked in the text messages of both directions,
//! byte for byte as `../SPEC.md` says. It takes no configuration.

use std::error::Error;

use wasmgate::{Config, Conn, Filter, Message, MessageType};

struct Redact;

impl Filter for Redact {
    type State = ();

    fn start(_config: &Config) -> Result<Self, Box<dyn Error>> {
        Ok(Redact)
    }

    fn message(&mut self, _conn: &mut Conn<()>, msg: &Message) {
        if msg.ty() != MessageType::Text {
            return;
        }
        if let Some(masked) = redact(msg.bytes()) {
            if let Err(e) = msg.replace(MessageType::Text, masked) {
                // Masking keeps UTF-8 valid, so this is the route's size
                // limit (a one-byte local part becomes three): letting the
                // original through would leak what this filter hides.
                wasmgate::warn!("redacted message not sent: {e}");
                if let Err(e) = msg.discard() {
                    wasmgate::error!("drop: {e}");
                }
            }
        }
    }
}

wasmgate::register!(Redact);

/// Returns the payload with its card numbers, then its e-mail addresses,
/// masked; `None` when neither pass changed anything.
fn redact(payload: &[u8]) -> Option<Vec<u8>> {
    let cards = mask_cards(payload);
    let emails = mask_emails(cards.as_deref().unwrap_or(payload));
    emails.or(cards)
}

/// Pass 1: masks every digit but the last four of each card number.
fn mask_cards(s: &[u8]) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    let mut i = 0;
    while i < s.len() {
        if !s[i].is_ascii_digit() || (i > 0 && s[i - 1].is_ascii_digit()) {
            i += 1;
            continue;
        }
        // The candidate: a digit, then digits, each maybe after one
        // separator.
        let start = i;
        let mut digits = 1;
        i += 1;
        loop {
            if i < s.len() && s[i].is_ascii_digit() {
                i += 1;
            } else if i + 1 < s.len() && matches!(s[i], b' ' | b'-') && s[i + 1].is_ascii_digit() {
                i += 2;
            } else {
                break;
            }
            digits += 1;
        }
        if (13..=19).contains(&digits) && luhn(&s[start..i]) {
            // Masking keeps the length, so it can work on a copy in place.
            let out = out.get_or_insert_with(|| s.to_vec());
            let mut seen = 0;
            for b in &mut out[start..i] {
                if b.is_ascii_digit() {
                    if seen < digits - 4 {
                        *b = b'*';
                    }
                    seen += 1;
                }
            }
        }
    }
    out
}

/// Reports whether the digits of a candidate pass the Luhn check.
fn luhn(candidate: &[u8]) -> bool {
    let mut sum = 0;
    for (k, &b) in candidate
        .iter()
        .rev()
        .filter(|b| b.is_ascii_digit())
        .enumerate()
    {
        let mut d = u32::from(b - b'0');
        if k % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

/// Pass 2: replaces the local part of each e-mail address with `***`.
fn mask_emails(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut copied = 0; // s[..copied] is in out
    let mut p = 0; // the local part starts at p or later
    let mut scan = 0;
    while let Some(off) = s[scan..].iter().position(|&b| b == b'@') {
        let a = scan + off;
        scan = a + 1;
        let mut start = a;
        while start > p && is_local(s[start - 1]) {
            start -= 1;
        }
        if start == a {
            continue;
        }
        let mut e = a + 1;
        while e < s.len() && is_domain(s[e]) {
            e += 1;
        }
        while e > a + 1 && matches!(s[e - 1], b'.' | b'-') {
            e -= 1;
        }
        let domain = &s[a + 1..e];
        let valid = !domain.is_empty()
            && !matches!(domain[0], b'.' | b'-')
            && !domain.windows(2).any(|w| w == b"..")
            && domain.contains(&b'.');
        if valid {
            out.extend_from_slice(&s[copied..start]);
            out.extend_from_slice(b"***");
            copied = a;
            p = e;
            scan = e;
        }
    }
    // The first match moves copied to its @, past its local part.
    if copied == 0 {
        return None;
    }
    out.extend_from_slice(&s[copied..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::redact;

    fn check(input: &str, want: &str) {
        let got = redact(input.as_bytes()).unwrap_or_else(|| input.as_bytes().to_vec());
        assert_eq!(String::from_utf8(got).unwrap(), want, "input {input:?}");
    }

    #[test]
    fn spec_cards() {
        check("pay 4111 1111 1111 1111 now", "pay **** **** **** 1111 now");
        check("4111-1111-1111-1111", "****-****-****-1111");
        check("order 1234567890123", "order 1234567890123");
        check("4111111111111111", "************1111");
    }

    #[test]
    fn spec_emails() {
        check("mail jane.doe+x@example.com.", "mail ***@example.com.");
        check("a@b", "a@b");
        check("x@y.io and z@w.org", "***@y.io and ***@w.org");
        check("@example.com", "@example.com");
    }

    #[test]
    fn corners() {
        check("", "");
        check("no secrets here", "no secrets here");
        check("411111111111", "411111111111");
        check("41111111111111111113", "41111111111111111113");
        check("5500 0000 0000 0004 ", "**** **** **** 0004 ");
        check("5500  0000 0000 0004", "5500  0000 0000 0004");
        check("card:378282246310005.", "card:***********0005.");
        check(
            "4111111111111111@cards.example",
            "***************@cards.example",
        );
        check("a.b-c_d%e+f@sub.example.co.uk!", "***@sub.example.co.uk!");
        check("x@.example.com", "x@.example.com");
        check("x@example..com", "x@example..com");
        check("x@-example.com", "x@-example.com");
        check("x@example.com-", "***@example.com-");
        check("a@b@c.d", "a@***@c.d");
        check("x@y.io@z.com", "***@y.io@z.com");
        check(
            "é@ü.de ünïcødé jane@exämple.com",
            "é@ü.de ünïcødé jane@exämple.com",
        );
        check("日本 jane@example.jp", "日本 ***@example.jp");
    }

    #[test]
    fn unchanged_is_none() {
        assert_eq!(redact(b"nothing 1234 here a@b"), None);
    }
}
