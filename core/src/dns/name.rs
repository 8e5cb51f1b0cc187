//! Absolute domain names: presentation form (RFC 1035 §5.1), wire form (RFC 1035 §3.1) and
//! message compression (RFC 1035 §4.1.4).

use std::fmt;
use std::str::FromStr;

use super::wire::{Reader, WireError};

/// Longest label in octets (RFC 1035 §2.3.4).
pub const MAX_LABEL_LEN: usize = 63;
/// Longest name in octets of wire form, length octets and root label included (RFC 1035 §2.3.4).
pub const MAX_NAME_LEN: usize = 255;
/// Bound on pointers followed while decoding one name. Pointers must go strictly backwards,
/// which already rules out loops; this caps the work an adversarial message can cause.
const MAX_POINTERS: usize = 128;

/// Why text could not be read as a domain name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Nothing was given.
    #[error("Domain name is empty; use \"@\" for the zone apex")]
    Empty,
    /// Two dots in a row, or a leading dot.
    #[error("Domain name {text:?} has an empty label (two dots in a row or a leading dot)")]
    EmptyLabel {
        /// The text as given.
        text: String,
    },
    /// A label is longer than 63 octets.
    #[error("Domain name {text:?} has a label of {len} octets; at most 63 are allowed")]
    LabelTooLong {
        /// The text as given.
        text: String,
        /// The label's length.
        len: usize,
    },
    /// The whole name is longer than 255 octets in wire form.
    #[error("Domain name {text:?} is {len} octets long in wire form; at most 255 are allowed")]
    TooLong {
        /// The text as given.
        text: String,
        /// The wire length.
        len: usize,
    },
    /// A backslash escape is incomplete or out of range.
    #[error(
        "Domain name {text:?} has a bad escape; use \\DDD with DDD at most 255, or \\ before one character"
    )]
    BadEscape {
        /// The text as given.
        text: String,
    },
}

/// An absolute domain name, stored lower-cased.
///
/// DNS compares names case-insensitively (RFC 4343); rack normalises to ASCII lower case on
/// the way in, so two names that the DNS considers equal are `==` here. Displayed in
/// presentation form with a trailing dot; `.` is the root.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Name {
    /// Labels from the leftmost to the one just below the root; the root has none.
    labels: Vec<Vec<u8>>,
}

impl Name {
    /// The root name `.`.
    pub fn root() -> Self {
        Self::default()
    }

    /// Whether this is the root.
    pub fn is_root(&self) -> bool {
        self.labels.is_empty()
    }

    /// The labels, leftmost first, lower-cased, without the empty root label.
    pub fn labels(&self) -> impl ExactSizeIterator<Item = &[u8]> {
        self.labels.iter().map(Vec::as_slice)
    }

    /// Length of the uncompressed wire form, root label included.
    pub fn wire_len(&self) -> usize {
        1 + self.labels.iter().map(|l| l.len() + 1).sum::<usize>()
    }

    /// Parses presentation text (RFC 1035 §5.1) as an absolute name; a missing trailing dot
    /// is taken as if present. `\DDD` and `\X` escapes are understood.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        if text.is_empty() {
            return Err(NameError::Empty);
        }
        Self::parse_labels(text).map(|(name, _)| name)
    }

    /// Resolves a record owner or rdata name given relative to `zone`, as in a zone file
    /// (RFC 1035 §5.1): `@` is the zone apex, a name ending in an unescaped dot is absolute,
    /// anything else is relative to the zone (`www` in `farm.` is `www.farm.`).
    pub fn resolve(owner: &str, zone: &Name) -> Result<Self, NameError> {
        match owner {
            "" => Err(NameError::Empty),
            "@" => Ok(zone.clone()),
            _ => {
                let (relative, absolute) = Self::parse_labels(owner)?;
                if absolute {
                    Ok(relative)
                } else {
                    relative.append(zone).map_err(|len| NameError::TooLong {
                        text: owner.to_owned(),
                        len,
                    })
                }
            }
        }
    }

    /// Parses text into labels; the flag says whether it ended in an unescaped dot.
    fn parse_labels(text: &str) -> Result<(Self, bool), NameError> {
        if text == "." {
            return Ok((Self::root(), true));
        }
        let bad_escape = || NameError::BadEscape {
            text: text.to_owned(),
        };
        let mut labels = Vec::new();
        let mut label = Vec::new();
        let mut absolute = false;
        let mut bytes = text.bytes().peekable();
        while let Some(b) = bytes.next() {
            match b {
                b'.' => {
                    if label.is_empty() {
                        return Err(NameError::EmptyLabel {
                            text: text.to_owned(),
                        });
                    }
                    labels.push(std::mem::take(&mut label));
                    if bytes.peek().is_none() {
                        absolute = true;
                    }
                }
                b'\\' => {
                    let first = bytes.next().ok_or_else(bad_escape)?;
                    if first.is_ascii_digit() {
                        let d2 = bytes
                            .next()
                            .filter(u8::is_ascii_digit)
                            .ok_or_else(bad_escape)?;
                        let d3 = bytes
                            .next()
                            .filter(u8::is_ascii_digit)
                            .ok_or_else(bad_escape)?;
                        let value = u32::from(first - b'0') * 100
                            + u32::from(d2 - b'0') * 10
                            + u32::from(d3 - b'0');
                        label.push(u8::try_from(value).map_err(|_| bad_escape())?);
                    } else {
                        label.push(first);
                    }
                }
                other => label.push(other),
            }
        }
        if !label.is_empty() {
            labels.push(label);
        }
        let mut name = Self { labels };
        name.lowercase();
        name.check(text)?;
        Ok((name, absolute))
    }

    fn lowercase(&mut self) {
        for label in &mut self.labels {
            label.make_ascii_lowercase();
        }
    }

    fn check(&self, text: &str) -> Result<(), NameError> {
        if let Some(long) = self.labels.iter().find(|l| l.len() > MAX_LABEL_LEN) {
            return Err(NameError::LabelTooLong {
                text: text.to_owned(),
                len: long.len(),
            });
        }
        let len = self.wire_len();
        if len > MAX_NAME_LEN {
            return Err(NameError::TooLong {
                text: text.to_owned(),
                len,
            });
        }
        Ok(())
    }

    /// This name with `suffix` appended; the error is the wire length if it exceeds 255.
    fn append(mut self, suffix: &Name) -> Result<Self, usize> {
        self.labels.extend(suffix.labels.iter().cloned());
        let len = self.wire_len();
        if len > MAX_NAME_LEN {
            Err(len)
        } else {
            Ok(self)
        }
    }

    /// Whether this name is `zone` or below it.
    pub fn is_subdomain_of(&self, zone: &Name) -> bool {
        self.labels.len() >= zone.labels.len()
            && self.labels[self.labels.len() - zone.labels.len()..] == zone.labels[..]
    }

    /// This name as a zone-file owner relative to `zone`: `@` for the apex, the leading
    /// labels for a name below it (`www`), and the absolute form for a name outside it.
    pub fn relative_to(&self, zone: &Name) -> String {
        if self == zone {
            return "@".to_owned();
        }
        if !self.is_subdomain_of(zone) {
            return self.to_string();
        }
        let keep = self.labels.len() - zone.labels.len();
        let mut out = String::new();
        for (i, label) in self.labels.iter().take(keep).enumerate() {
            if i > 0 {
                out.push('.');
            }
            push_escaped_label(&mut out, label);
        }
        out
    }

    /// The parent name (one label less); `None` for the root.
    pub fn parent(&self) -> Option<Name> {
        self.labels.split_first().map(|(_, rest)| Name {
            labels: rest.to_vec(),
        })
    }

    /// Appends the uncompressed wire form (RFC 1035 §3.1).
    pub fn encode(&self, out: &mut Vec<u8>) {
        for label in &self.labels {
            // Labels are at most 63 octets: checked by every constructor.
            out.push(u8::try_from(label.len()).unwrap_or(0));
            out.extend_from_slice(label);
        }
        out.push(0);
    }

    /// Decodes a name at the reader's position, following compression pointers (RFC 1035
    /// §4.1.4) into the whole message when `allow_compression` is set. Pointers must point
    /// strictly before the label they replace, so decoding always terminates.
    pub(crate) fn decode(r: &mut Reader<'_>, allow_compression: bool) -> Result<Self, WireError> {
        let start = r.pos();
        let mut labels = Vec::new();
        let mut wire_len = 1usize;
        // Once a pointer is followed, reads come from this reader over the whole message.
        let mut jumped: Option<Reader<'_>> = None;
        let mut pointers = 0usize;
        loop {
            let cur = match &mut jumped {
                Some(j) => j,
                None => &mut *r,
            };
            let here = cur.pos();
            let len = cur.u8("label length")?;
            match len & 0xC0 {
                0x00 if len == 0 => break,
                0x00 => {
                    let label = cur.bytes(usize::from(len), "label")?;
                    wire_len += label.len() + 1;
                    if wire_len > MAX_NAME_LEN {
                        return Err(WireError::NameTooLong { offset: start });
                    }
                    labels.push(label.to_ascii_lowercase());
                }
                0xC0 => {
                    if !allow_compression {
                        return Err(WireError::CompressionNotAllowed { offset: here });
                    }
                    let low = cur.u8("compression pointer")?;
                    let target = (usize::from(len & 0x3F) << 8) | usize::from(low);
                    pointers += 1;
                    if target >= here || pointers > MAX_POINTERS {
                        return Err(WireError::ForwardPointer {
                            offset: here,
                            target,
                        });
                    }
                    let msg = cur.msg();
                    jumped = Some(Reader::window(msg, target, msg.len()));
                }
                _ => {
                    return Err(WireError::BadLabelType {
                        octet: len,
                        offset: here,
                    });
                }
            }
        }
        Ok(Self { labels })
    }
}

/// Appends a label in presentation form, escaping what RFC 1035 §5.1 and zone-file readers
/// treat specially and writing non-printable octets as `\DDD`.
fn push_escaped_label(out: &mut String, label: &[u8]) {
    for &b in label {
        match b {
            b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x21..=0x7E => out.push(char::from(b)),
            _ => out.push_str(&format!("\\{b:03}")),
        }
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.labels.is_empty() {
            return f.write_str(".");
        }
        let mut out = String::with_capacity(self.wire_len() + 4);
        for label in &self.labels {
            push_escaped_label(&mut out, label);
            out.push('.');
        }
        f.write_str(&out)
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({self})")
    }
}

impl FromStr for Name {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        s.parse().unwrap()
    }

    #[test]
    fn lower_cased_with_trailing_dot() {
        assert_eq!(n("MAIL.Farm.").to_string(), "mail.farm.");
        assert_eq!(n("MAIL.Farm."), n("mail.farm"));
        assert_eq!(n(".").to_string(), ".");
        assert!(n(".").is_root());
    }

    #[test]
    fn escapes() {
        let name = n(r"a\.b.farm.");
        assert_eq!(name.labels().next().unwrap(), b"a.b");
        assert_eq!(name.to_string(), r"a\.b.farm.");
        assert_eq!(n(r"\065\066c.farm.").to_string(), "abc.farm.");
        assert_eq!(n(r"sp\032ace.farm.").to_string(), r"sp\032ace.farm.");
        assert_eq!(n(r"x\000y.").labels().next().unwrap(), b"x\0y");
        assert!(matches!(
            Name::parse(r"a\256."),
            Err(NameError::BadEscape { .. })
        ));
        assert!(matches!(
            Name::parse(r"a\25"),
            Err(NameError::BadEscape { .. })
        ));
        assert!(matches!(
            Name::parse("a\\"),
            Err(NameError::BadEscape { .. })
        ));
    }

    #[test]
    fn limits() {
        let l63 = "a".repeat(63);
        assert!(Name::parse(&format!("{l63}.farm.")).is_ok());
        assert!(matches!(
            Name::parse(&format!("{l63}b.farm.")),
            Err(NameError::LabelTooLong { len: 64, .. })
        ));
        // 4 labels of 63 = 4 * 64 + 1 = 257 octets.
        let long = [l63.as_str(); 4].join(".");
        assert!(matches!(
            Name::parse(&long),
            Err(NameError::TooLong { len: 257, .. })
        ));
        // 3 labels of 63 and one of 61 = 255 octets exactly.
        let max = format!("{l63}.{l63}.{l63}.{}", "a".repeat(61));
        assert_eq!(Name::parse(&max).unwrap().wire_len(), 255);
        assert!(matches!(
            Name::parse("a..b"),
            Err(NameError::EmptyLabel { .. })
        ));
        assert!(matches!(
            Name::parse(".a"),
            Err(NameError::EmptyLabel { .. })
        ));
        assert_eq!(Name::parse(""), Err(NameError::Empty));
    }

    #[test]
    fn resolve_owner() {
        let zone = n("farm.");
        assert_eq!(Name::resolve("@", &zone).unwrap(), zone);
        assert_eq!(Name::resolve("www", &zone).unwrap(), n("www.farm."));
        assert_eq!(Name::resolve("WWW.Lab", &zone).unwrap(), n("www.lab.farm."));
        assert_eq!(Name::resolve("www.farm.", &zone).unwrap(), n("www.farm."));
        assert_eq!(Name::resolve("other.", &zone).unwrap(), n("other."));
        assert_eq!(
            Name::resolve(r"a\.", &zone).unwrap().to_string(),
            r"a\..farm."
        );
        assert_eq!(Name::resolve("", &zone), Err(NameError::Empty));
        let l63 = "a".repeat(63);
        let deep = n(&format!("{l63}.{l63}.{l63}."));
        assert!(matches!(
            Name::resolve(&"b".repeat(62), &deep),
            Err(NameError::TooLong { .. })
        ));
    }

    #[test]
    fn subdomain_and_relative() {
        let zone = n("farm.");
        assert!(n("www.farm.").is_subdomain_of(&zone));
        assert!(zone.is_subdomain_of(&zone));
        assert!(!n("farm2.").is_subdomain_of(&zone));
        assert!(!n("xfarm.").is_subdomain_of(&zone));
        assert!(n("anything.").is_subdomain_of(&Name::root()));
        assert_eq!(zone.relative_to(&zone), "@");
        assert_eq!(n("www.lab.farm.").relative_to(&zone), "www.lab");
        assert_eq!(n(r"a\.b.farm.").relative_to(&zone), r"a\.b");
        assert_eq!(n("other.").relative_to(&zone), "other.");
        assert_eq!(n("www.farm.").parent(), Some(zone));
        assert_eq!(Name::root().parent(), None);
    }

    #[test]
    fn wire_round_trip() {
        let name = n("www.Farm.");
        let mut out = Vec::new();
        name.encode(&mut out);
        assert_eq!(out, b"\x03www\x04farm\x00");
        let decoded = Name::decode(&mut Reader::new(&out), true).unwrap();
        assert_eq!(decoded, name);
        let mut root = Vec::new();
        Name::root().encode(&mut root);
        assert_eq!(root, [0]);
    }

    #[test]
    fn decodes_pointers_and_lowercases() {
        // RFC 1035 §4.1.4 example: F.ISI.ARPA at 20, FOO.F.ISI.ARPA at 40, ARPA by pointer at 64.
        let mut msg = vec![0u8; 20];
        msg.extend_from_slice(b"\x01F\x03ISI\x04ARPA\x00");
        msg.resize(40, 0);
        msg.extend_from_slice(b"\x03FOO\xC0\x14");
        msg.resize(64, 0);
        msg.extend_from_slice(b"\xC0\x1A");
        let mut r = Reader::window(&msg, 20, msg.len());
        assert_eq!(Name::decode(&mut r, true).unwrap(), n("f.isi.arpa."));
        let mut r = Reader::window(&msg, 40, msg.len());
        assert_eq!(Name::decode(&mut r, true).unwrap(), n("foo.f.isi.arpa."));
        assert_eq!(r.pos(), 46, "reader continues after the pointer");
        let mut r = Reader::window(&msg, 64, msg.len());
        assert_eq!(Name::decode(&mut r, true).unwrap(), n("arpa."));
        let mut r = Reader::window(&msg, 40, msg.len());
        assert!(matches!(
            Name::decode(&mut r, false),
            Err(WireError::CompressionNotAllowed { offset: 44 })
        ));
    }

    #[test]
    fn rejects_loops_and_bad_labels() {
        let self_loop = b"\xC0\x00";
        assert!(matches!(
            Name::decode(&mut Reader::new(self_loop), true),
            Err(WireError::ForwardPointer { .. })
        ));
        let forward = b"\xC0\x02\x00";
        assert!(Name::decode(&mut Reader::new(forward), true).is_err());
        let mutual = b"\x01a\xC0\x04\xC0\x00";
        let mut r = Reader::window(mutual, 2, mutual.len());
        // 2 -> 4 is forward.
        assert!(Name::decode(&mut r, true).is_err());
        assert!(matches!(
            Name::decode(&mut Reader::new(b"\x41"), true),
            Err(WireError::BadLabelType { octet: 0x41, .. })
        ));
        assert!(matches!(
            Name::decode(&mut Reader::new(b"\x05ab"), true),
            Err(WireError::Truncated { .. })
        ));
        // A name growing past 255 octets through pointers.
        let mut msg = Vec::new();
        let mut prev: Option<usize> = None;
        for _ in 0..10 {
            let at = msg.len();
            msg.push(30);
            msg.extend_from_slice(&[b'a'; 30]);
            match prev {
                Some(p) => msg.extend_from_slice(&[0xC0 | (p >> 8) as u8, p as u8]),
                None => msg.push(0),
            }
            prev = Some(at);
        }
        let last = prev.unwrap();
        let mut r = Reader::window(&msg, last, msg.len());
        assert!(matches!(
            Name::decode(&mut r, true),
            Err(WireError::NameTooLong { .. })
        ));
    }
}
