//! cty numbers: exact decimals and the two infinities.

use std::fmt;
use std::str::FromStr;

use bigdecimal::BigDecimal;
use bigdecimal::num_bigint::{BigInt, Sign};
use bigdecimal::num_traits::{ToPrimitive, Zero};

use super::{MAX_DECIMAL_EXPONENT, ValueError, ValuePath};

/// An arbitrary-precision number, as cty's numbers are. Equality is numeric (`1` equals `1.0`).
///
/// Finite values are exact decimals: a value that arrives as a binary float keeps its exact
/// binary value, so it leaves as the same float. Positive and negative infinity are held too,
/// because cty can encode them; NaN is rejected.
#[derive(Clone, Debug)]
pub struct Number(Repr);

#[derive(Clone, Debug)]
enum Repr {
    /// Always normalised (no trailing zeros in the digits).
    Finite(BigDecimal),
    PositiveInfinity,
    NegativeInfinity,
}

impl Number {
    /// Positive or negative infinity.
    pub fn infinity(negative: bool) -> Number {
        Number(if negative {
            Repr::NegativeInfinity
        } else {
            Repr::PositiveInfinity
        })
    }

    /// True for positive and negative infinity.
    pub fn is_infinite(&self) -> bool {
        !matches!(self.0, Repr::Finite(_))
    }

    /// The exact decimal value, unless the number is infinite.
    pub fn as_big_decimal(&self) -> Option<&BigDecimal> {
        match &self.0 {
            Repr::Finite(d) => Some(d),
            _ => None,
        }
    }

    /// True for finite numbers without a fractional part.
    pub fn is_integer(&self) -> bool {
        self.as_big_decimal()
            .is_some_and(|d| d.as_bigint_and_exponent().1 <= 0)
    }

    fn to_bigint(&self) -> Option<BigInt> {
        let (digits, scale) = self.as_big_decimal()?.as_bigint_and_exponent();
        if scale > 0 {
            return None;
        }
        // Anything past 20 zeros is outside every integer type this is used for.
        let zeros = u32::try_from(-scale).ok().filter(|z| *z <= 20)?;
        Some(digits * BigInt::from(10u8).pow(zeros))
    }

    /// The value as an `i64`, if it is an integer in range.
    pub fn to_i64(&self) -> Option<i64> {
        self.to_bigint()?.to_i64()
    }

    /// The value as a `u64`, if it is a non-negative integer in range.
    pub fn to_u64(&self) -> Option<u64> {
        self.to_bigint()?.to_u64()
    }

    /// The nearest `f64` (infinite when out of range).
    pub fn to_f64(&self) -> f64 {
        match &self.0 {
            Repr::PositiveInfinity => f64::INFINITY,
            Repr::NegativeInfinity => f64::NEG_INFINITY,
            Repr::Finite(d) => {
                let (digits, scale) = d.as_bigint_and_exponent();
                // Rust's float parser rounds correctly, so go through scientific notation.
                format!("{digits}e{}", -scale).parse().unwrap_or(f64::NAN)
            }
        }
    }

    /// The value as an `f64`, if that represents it exactly (infinities included).
    pub fn to_f64_exact(&self) -> Option<f64> {
        let f = self.to_f64();
        match Number::try_from(f) {
            Ok(back) if back == *self => Some(f),
            _ => None,
        }
    }

    fn finite(d: BigDecimal) -> Number {
        Number(Repr::Finite(d.normalized()))
    }
}

impl PartialEq for Number {
    fn eq(&self, other: &Number) -> bool {
        match (&self.0, &other.0) {
            (Repr::Finite(a), Repr::Finite(b)) => a == b,
            (Repr::PositiveInfinity, Repr::PositiveInfinity)
            | (Repr::NegativeInfinity, Repr::NegativeInfinity) => true,
            _ => false,
        }
    }
}

impl From<i64> for Number {
    fn from(v: i64) -> Number {
        Number::finite(BigDecimal::from(v))
    }
}

impl From<u64> for Number {
    fn from(v: u64) -> Number {
        Number::finite(BigDecimal::from(v))
    }
}

impl From<i32> for Number {
    fn from(v: i32) -> Number {
        Number::from(i64::from(v))
    }
}

impl From<BigDecimal> for Number {
    fn from(v: BigDecimal) -> Number {
        Number::finite(v)
    }
}

impl TryFrom<f64> for Number {
    type Error = ValueError;

    /// Exact conversion; infinities are kept, NaN is an error.
    fn try_from(v: f64) -> Result<Number, ValueError> {
        if v.is_nan() {
            return Err(ValueError::NotANumber);
        }
        if v.is_infinite() {
            return Ok(Number::infinity(v < 0.0));
        }
        if v == 0.0 {
            return Ok(Number::from(0i64));
        }
        // v = mantissa * 2^exp, with the IEEE 754 binary64 layout.
        let bits = v.to_bits();
        let negative = bits >> 63 == 1;
        let biased = i64::try_from((bits >> 52) & 0x7ff).unwrap_or(0);
        let fraction = bits & ((1u64 << 52) - 1);
        let (mantissa, exp) = if biased == 0 {
            (fraction, -1074i64)
        } else {
            (fraction | (1u64 << 52), biased - 1075)
        };
        let mut digits = BigInt::from(mantissa);
        if negative {
            digits = -digits;
        }
        let exp_abs = u32::try_from(exp.unsigned_abs()).unwrap_or(0);
        let d = if exp >= 0 {
            BigDecimal::new(digits * BigInt::from(2u8).pow(exp_abs), 0)
        } else {
            // m * 2^-k = m * 5^k / 10^k
            BigDecimal::new(digits * BigInt::from(5u8).pow(exp_abs), -exp)
        };
        Ok(Number::finite(d))
    }
}

impl TryFrom<f32> for Number {
    type Error = ValueError;

    /// Exact conversion; infinities are kept, NaN is an error.
    fn try_from(v: f32) -> Result<Number, ValueError> {
        Number::try_from(f64::from(v))
    }
}

/// Checks the decimal grammar `[+-]? (d+ (. d*)? | . d+) ([eE] [+-]? d+)?` and returns the
/// exponent written after `e`, saturated.
fn decimal_exponent(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    let mut mantissa_digits = digits(&mut i);
    if b.get(i) == Some(&b'.') {
        i += 1;
        mantissa_digits += digits(&mut i);
    }
    if mantissa_digits == 0 {
        return None;
    }
    let mut exponent = 0i64;
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        let negative = b.get(i) == Some(&b'-');
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let start = i;
        if digits(&mut i) == 0 {
            return None;
        }
        for d in &b[start..i] {
            exponent = exponent
                .saturating_mul(10)
                .saturating_add(i64::from(d - b'0'));
        }
        if negative {
            exponent = -exponent;
        }
    }
    (i == b.len()).then_some(exponent)
}

impl FromStr for Number {
    type Err = ValueError;

    /// Accepts decimal notation with an optional exponent (`-1.5e3`), and `Inf`, `+Inf`,
    /// `-Inf` in any case, as cty does.
    fn from_str(s: &str) -> Result<Number, ValueError> {
        let invalid = || ValueError::InvalidNumber {
            path: ValuePath::default(),
            text: s.chars().take(64).collect(),
        };
        match s.to_ascii_lowercase().as_str() {
            "inf" | "+inf" => return Ok(Number::infinity(false)),
            "-inf" => return Ok(Number::infinity(true)),
            _ => {}
        }
        let exponent = decimal_exponent(s).ok_or_else(invalid)?;
        // Only the written exponent can be huge; the digits are bounded by the input length.
        let bound = MAX_DECIMAL_EXPONENT.saturating_add(i64::try_from(s.len()).unwrap_or(0));
        if exponent.abs() > bound {
            return Err(invalid());
        }
        let d = BigDecimal::from_str(s).map_err(|_| invalid())?;
        let n = Number::finite(d);
        let scale = n
            .as_big_decimal()
            .map_or(0, |d| d.as_bigint_and_exponent().1);
        if scale.abs() > MAX_DECIMAL_EXPONENT {
            return Err(invalid());
        }
        Ok(n)
    }
}

impl fmt::Display for Number {
    /// Plain notation, shortest exact form: `1`, `-0.25`, `12300`; infinities as `+Inf`/`-Inf`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = match &self.0 {
            Repr::PositiveInfinity => return f.write_str("+Inf"),
            Repr::NegativeInfinity => return f.write_str("-Inf"),
            Repr::Finite(d) => d,
        };
        let (digits, scale) = d.as_bigint_and_exponent();
        if digits.is_zero() {
            return f.write_str("0");
        }
        if digits.sign() == Sign::Minus {
            f.write_str("-")?;
        }
        let magnitude = digits.magnitude().to_string();
        let len = i64::try_from(magnitude.len()).unwrap_or(i64::MAX);
        if scale <= 0 {
            f.write_str(&magnitude)?;
            for _ in 0..-scale {
                f.write_str("0")?;
            }
        } else if scale < len {
            let split = usize::try_from(len - scale).unwrap_or(0);
            write!(f, "{}.{}", &magnitude[..split], &magnitude[split..])?;
        } else {
            f.write_str("0.")?;
            for _ in 0..(scale - len) {
                f.write_str("0")?;
            }
            f.write_str(&magnitude)?;
        }
        Ok(())
    }
}
