//! Zone-file presentation helpers shared by the rdata parsers: tokens (RFC 1035 §5.1),
//! `<character-string>` escapes, and hex.

use std::fmt::Write as _;

/// One whitespace-separated item of presentation text, escapes still in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    /// The text, without surrounding quotes when `quoted`; escapes are not yet resolved.
    pub(crate) raw: &'a str,
    /// Whether the whole item was a quoted string.
    pub(crate) quoted: bool,
}

/// Splits rdata text into tokens (RFC 1035 §5.1): whitespace separates, `"..."` groups,
/// a backslash protects the next character, parentheses only group lines and are dropped.
/// An unquoted token may contain a quoted part (`alpn="h2,h3"`), kept verbatim.
pub(crate) fn tokenize(text: &str) -> Result<Vec<Token<'_>>, &'static str> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let Some(&b) = bytes.get(i) else { break };
        if b.is_ascii_whitespace() || b == b'(' || b == b')' {
            i += 1;
            continue;
        }
        if b == b'"' {
            let start = i + 1;
            let end = closing_quote(bytes, start).ok_or("has an unterminated quoted string")?;
            tokens.push(Token {
                raw: text.get(start..end).ok_or("is not valid text")?,
                quoted: true,
            });
            i = end + 1;
            continue;
        }
        let start = i;
        while let Some(&c) = bytes.get(i) {
            match c {
                b'\\' => i += 2,
                b'"' => {
                    i = closing_quote(bytes, i + 1).ok_or("has an unterminated quoted string")? + 1
                }
                c if c.is_ascii_whitespace() || c == b'(' || c == b')' => break,
                _ => i += 1,
            }
        }
        let end = i.min(bytes.len());
        tokens.push(Token {
            raw: text.get(start..end).ok_or("is not valid text")?,
            quoted: false,
        });
    }
    Ok(tokens)
}

/// Index of the quote closing a string that starts at `from`, skipping escaped characters.
fn closing_quote(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    loop {
        match bytes.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
}

/// Resolves `\DDD` and `\X` escapes of a `<character-string>` (RFC 1035 §5.1).
pub(crate) fn unescape(raw: &str) -> Result<Vec<u8>, &'static str> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let first = bytes.next().ok_or("ends in a lone backslash")?;
        if first.is_ascii_digit() {
            let mut value = u32::from(first - b'0');
            for _ in 0..2 {
                let d = bytes
                    .next()
                    .filter(u8::is_ascii_digit)
                    .ok_or("has a \\DDD escape without three digits")?;
                value = value * 10 + u32::from(d - b'0');
            }
            out.push(u8::try_from(value).map_err(|_| "has a \\DDD escape above 255")?);
        } else {
            out.push(first);
        }
    }
    Ok(out)
}

/// Writes bytes as the inside of a quoted `<character-string>`: `"` and `\` escaped,
/// non-printable octets (and anything outside ASCII) as `\DDD`.
pub(crate) fn push_quoted_content(out: &mut String, bytes: &[u8]) {
    for &b in bytes {
        match b {
            b'"' | b'\\' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7E => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
}

/// A quoted `<character-string>`.
pub(crate) fn quoted(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 2);
    out.push('"');
    push_quoted_content(&mut out, bytes);
    out.push('"');
    out
}

/// Lower-case hex with no separators.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Decodes hex digits (either case, no separators).
pub(crate) fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let hi = char::from(*pair.first()?).to_digit(16)?;
            let lo = char::from(*pair.get(1)?).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raws(text: &str) -> Vec<(&str, bool)> {
        tokenize(text)
            .unwrap()
            .into_iter()
            .map(|t| (t.raw, t.quoted))
            .collect()
    }

    #[test]
    fn tokens() {
        assert_eq!(
            raws("  10   mail.farm. "),
            [("10", false), ("mail.farm.", false)]
        );
        assert_eq!(raws(r#""a b" c"#), [("a b", true), ("c", false)]);
        assert_eq!(raws(r#""a\"b""#), [(r#"a\"b"#, true)]);
        assert_eq!(raws(r"a\ b"), [(r"a\ b", false)]);
        assert_eq!(
            raws(r#"alpn="h2 x" port=1"#),
            [(r#"alpn="h2 x""#, false), ("port=1", false)]
        );
        assert_eq!(raws("( 1\n 2 )"), [("1", false), ("2", false)]);
        assert_eq!(raws(r#""""#), [("", true)]);
        assert!(tokenize(r#""abc"#).is_err());
    }

    #[test]
    fn escapes() {
        assert_eq!(unescape(r#"a\046b\\c\""#).unwrap(), b"a.b\\c\"");
        assert!(unescape(r"\25").is_err());
        assert!(unescape(r"\300").is_err());
        assert!(unescape("\\").is_err());
        assert_eq!(quoted(b"a\"b\\c\x01 \xff"), r#""a\"b\\c\001 \255""#);
    }

    #[test]
    fn hex_round_trip() {
        assert_eq!(hex(&[0xAB, 0x01]), "ab01");
        assert_eq!(unhex("AB01"), Some(vec![0xAB, 0x01]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }
}
