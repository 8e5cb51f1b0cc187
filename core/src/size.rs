//! Sizes in bytes as people write them: `30GiB`, `512MiB`, `1G`, `1.5TiB`, `10GB`,
//! `1073741824`. Used for volume capacities, and meant for guest memory too.
//!
//! Units follow libvirt and `qemu-img`: the single letters `K`, `M`, `G`, `T`, `P`, `E`
//! and the IEC forms `KiB` ... `EiB` are powers of 1024; the SI forms `kB`/`KB`, `MB`,
//! `GB`, `TB`, `PB`, `EB` are powers of 1000; `B` or no unit is bytes. Units are
//! case-insensitive except that `b` alone is refused (bits or bytes?). A decimal
//! fraction is accepted when the result is a whole number of bytes (`1.5GiB`, not
//! `0.3KiB`). Whitespace between the number and the unit is allowed.

use std::fmt;
use std::str::FromStr;

/// A number of bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ByteSize(pub u64);

/// Why a size cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SizeError {
    /// Nothing was given.
    #[error("Size is empty; give a number of bytes or a number with a unit, such as 30GiB")]
    Empty,
    /// The number part is not a number.
    #[error("Size {0:?} does not start with a number; write it like 30GiB, 512MiB or 1073741824")]
    Number(String),
    /// The unit is not one rack knows.
    #[error(
        "Size {input:?} has an unknown unit {unit:?}; use B, KiB, MiB, GiB, TiB, PiB, EiB (or K, M, G, T, P, E: the same powers of 1024), or kB, MB, GB, TB, PB, EB (powers of 1000)"
    )]
    Unit {
        /// The whole input.
        input: String,
        /// The unit as written.
        unit: String,
    },
    /// A fraction that does not come out as whole bytes.
    #[error("Size {0:?} is not a whole number of bytes; use a smaller unit")]
    Fraction(String),
    /// More than 2^64 - 1 bytes.
    #[error("Size {0:?} is too large; at most 16 EiB - 1 byte")]
    TooLarge(String),
}

/// The multiplier of a unit, or `None` if it is not one.
fn unit_factor(unit: &str) -> Option<u64> {
    const K: u64 = 1024;
    const D: u64 = 1000;
    if unit == "b" {
        return None;
    }
    let factor = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => K,
        "m" | "mib" => K.pow(2),
        "g" | "gib" => K.pow(3),
        "t" | "tib" => K.pow(4),
        "p" | "pib" => K.pow(5),
        "e" | "eib" => K.pow(6),
        "kb" => D,
        "mb" => D.pow(2),
        "gb" => D.pow(3),
        "tb" => D.pow(4),
        "pb" => D.pow(5),
        "eb" => D.pow(6),
        _ => return None,
    };
    Some(factor)
}

impl FromStr for ByteSize {
    type Err = SizeError;

    fn from_str(input: &str) -> Result<Self, SizeError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(SizeError::Empty);
        }
        let number_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .unwrap_or(s.len());
        let (number, unit) = s.split_at(number_end);
        let number = number.replace('_', "");
        let unit = unit.trim_start();
        let (whole, fraction) = match number.split_once('.') {
            Some((w, f)) => (w, f),
            None => (number.as_str(), ""),
        };
        let digits_ok = |d: &str| d.chars().all(|c| c.is_ascii_digit());
        if (whole.is_empty() && fraction.is_empty())
            || !digits_ok(whole)
            || !digits_ok(fraction)
            || (number.contains('.') && fraction.is_empty())
        {
            return Err(SizeError::Number(input.to_owned()));
        }
        let factor = unit_factor(unit).ok_or_else(|| SizeError::Unit {
            input: input.to_owned(),
            unit: unit.to_owned(),
        })?;
        let too_large = || SizeError::TooLarge(input.to_owned());
        // whole.fraction * factor = (whole * 10^n + fraction) * factor / 10^n, in u128:
        // at most 20 + 19 digits before the division, so a long fraction is refused.
        if fraction.len() > 18 || whole.len() > 20 {
            return Err(too_large());
        }
        let scale = 10u128.pow(u32::try_from(fraction.len()).map_err(|_| too_large())?);
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| too_large())?
        };
        let fraction: u128 = if fraction.is_empty() {
            0
        } else {
            fraction.parse().map_err(|_| too_large())?
        };
        let scaled = whole
            .checked_mul(scale)
            .and_then(|w| w.checked_add(fraction))
            .and_then(|n| n.checked_mul(u128::from(factor)))
            .ok_or_else(too_large)?;
        if !scaled.is_multiple_of(scale) {
            return Err(SizeError::Fraction(input.to_owned()));
        }
        u64::try_from(scaled / scale)
            .map(ByteSize)
            .map_err(|_| too_large())
    }
}

impl ByteSize {
    /// The number of bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl From<u64> for ByteSize {
    fn from(n: u64) -> Self {
        Self(n)
    }
}

impl fmt::Display for ByteSize {
    /// The largest power-of-1024 unit that divides the size exactly: `30GiB`,
    /// `1536MiB`, `1000B`. Reads back to the same size.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 6] = ["EiB", "PiB", "TiB", "GiB", "MiB", "KiB"];
        if self.0 != 0 {
            for (i, unit) in UNITS.iter().enumerate() {
                let factor = 1024u64.pow(6 - i as u32);
                if self.0.is_multiple_of(factor) {
                    return write!(f, "{}{unit}", self.0 / factor);
                }
            }
        }
        write!(f, "{}B", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(s: &str) -> u64 {
        s.parse::<ByteSize>()
            .unwrap_or_else(|e| panic!("{s}: {e}"))
            .0
    }

    #[test]
    fn units() {
        assert_eq!(size("1073741824"), 1 << 30);
        assert_eq!(size("30GiB"), 30 << 30);
        assert_eq!(size("30 GiB"), 30 << 30);
        assert_eq!(size("512MiB"), 512 << 20);
        assert_eq!(size("1G"), 1 << 30);
        assert_eq!(size("1g"), 1 << 30);
        assert_eq!(size("4k"), 4096);
        assert_eq!(size("10GB"), 10_000_000_000);
        assert_eq!(size("1kB"), 1000);
        assert_eq!(size("1KB"), 1000);
        assert_eq!(size("7B"), 7);
        assert_eq!(size("1.5GiB"), 3 << 29);
        assert_eq!(size("0.5KiB"), 512);
        assert_eq!(size("1_000"), 1000);
        assert_eq!(size(" 2T "), 2 << 40);
        assert_eq!(size("15EiB"), 15 << 60);
        assert_eq!(size("0"), 0);
    }

    #[test]
    fn refusals() {
        let err = |s: &str| s.parse::<ByteSize>().unwrap_err();
        assert_eq!(err(""), SizeError::Empty);
        assert!(matches!(err("GiB"), SizeError::Number(_)));
        assert!(matches!(err("1.GiB"), SizeError::Number(_)));
        assert!(matches!(err("-1"), SizeError::Number(_)));
        assert!(matches!(err("1.2.3G"), SizeError::Number(_)));
        assert!(matches!(err("10 gigs"), SizeError::Unit { .. }));
        assert!(matches!(err("8b"), SizeError::Unit { .. }));
        assert!(matches!(err("0.3KiB"), SizeError::Fraction(_)));
        assert!(matches!(err("16EiB"), SizeError::TooLarge(_)));
        assert!(matches!(
            err("99999999999999999999999"),
            SizeError::TooLarge(_)
        ));
        assert!(err("10 gigs").to_string().contains("unknown unit \"gigs\""));
    }

    #[test]
    fn display_reads_back() {
        for (n, s) in [
            (30u64 << 30, "30GiB"),
            (1536 << 20, "1536MiB"),
            (1000, "1000B"),
            (0, "0B"),
            (4096, "4KiB"),
        ] {
            assert_eq!(ByteSize(n).to_string(), s);
            assert_eq!(size(s), n);
        }
    }
}
