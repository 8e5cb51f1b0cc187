//! cty types and values as Terraform exchanges them with providers.
//!
//! A [`Value`] does not carry its type: the schema supplies it when a value is decoded or
//! encoded ([`super::msgpack`], [`super::json`]). The one exception is a value whose schema
//! type is [`Type::Dynamic`]; its concrete type travels with it in [`Value::Dynamic`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use bigdecimal::BigDecimal;
use bigdecimal::num_bigint::{BigInt, Sign};
use bigdecimal::num_traits::{ToPrimitive, Zero};

/// Deepest nesting of types and values accepted from the wire.
///
/// Dynamic values carry their own type, so without a bound a short input could nest
/// `["list","dynamic"]` inside itself until the stack overflows (decoding recurses, and a
/// 2 MiB thread stack is spent well before 200 levels in debug builds); real schemas stay
/// far below.
pub const MAX_DEPTH: usize = 64;

/// Largest decimal exponent, in absolute value, of a finite [`Number`].
///
/// Numbers are printed in plain notation, so "1e999999999" would otherwise expand into a
/// gigabyte of zeros; the exact value of any `f64` needs at most 1074 fractional digits.
pub const MAX_DECIMAL_EXPONENT: i64 = 10_000;

/// A cty type.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Type {
    /// `bool`.
    Bool,
    /// `number`: an arbitrary-precision number.
    Number,
    /// `string`: UTF-8 text.
    String,
    /// `dynamic`: any type, decided by the value, which then carries it.
    Dynamic,
    /// `list(T)`: ordered elements of one type.
    List(Box<Type>),
    /// `set(T)`: unordered, unique elements of one type.
    Set(Box<Type>),
    /// `map(T)`: string keys to elements of one type.
    Map(Box<Type>),
    /// `object({...})`: named attributes, each with its own type.
    Object {
        /// Every attribute and its type.
        attributes: BTreeMap<String, Type>,
        /// The attributes (a subset of `attributes`) that may be left out.
        optional: BTreeSet<String>,
    },
    /// `tuple([...])`: a fixed number of elements, each with its own type.
    Tuple(Vec<Type>),
}

impl Type {
    /// Parses cty's JSON type specification, for example `["list","string"]` or
    /// `["object",{"a":"string"},["a"]]` (the third element lists optional attributes).
    pub fn from_json(bytes: &[u8]) -> Result<Type, ValueError> {
        let json: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|source| ValueError::Json {
                path: ValuePath::default(),
                source,
            })?;
        Self::from_json_value(&json)
    }

    /// Interprets an already parsed JSON type specification.
    pub fn from_json_value(json: &serde_json::Value) -> Result<Type, ValueError> {
        type_from_json(json, 0)
    }

    /// The JSON type specification, as cty writes it.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        let pair = |kind: &str, inner: &Type| J::Array(vec![J::from(kind), inner.to_json()]);
        match self {
            Type::Bool => J::from("bool"),
            Type::Number => J::from("number"),
            Type::String => J::from("string"),
            Type::Dynamic => J::from("dynamic"),
            Type::List(e) => pair("list", e),
            Type::Set(e) => pair("set", e),
            Type::Map(e) => pair("map", e),
            Type::Object {
                attributes,
                optional,
            } => {
                let attrs = attributes
                    .iter()
                    .map(|(k, t)| (k.clone(), t.to_json()))
                    .collect::<serde_json::Map<_, _>>();
                let mut out = vec![J::from("object"), J::Object(attrs)];
                if !optional.is_empty() {
                    out.push(J::Array(
                        optional.iter().map(|s| J::from(s.as_str())).collect(),
                    ));
                }
                J::Array(out)
            }
            Type::Tuple(elems) => J::Array(vec![
                J::from("tuple"),
                J::Array(elems.iter().map(Type::to_json).collect()),
            ]),
        }
    }

    /// The JSON type specification as compact bytes.
    pub fn to_json_bytes(&self) -> Vec<u8> {
        // Serialising a `serde_json::Value` into memory has no failure mode.
        self.to_json().to_string().into_bytes()
    }

    /// An object type with no optional attributes.
    pub fn object<'a>(attrs: impl IntoIterator<Item = (&'a str, Type)>) -> Type {
        Type::Object {
            attributes: attrs.into_iter().map(|(k, t)| (k.to_owned(), t)).collect(),
            optional: BTreeSet::new(),
        }
    }

    /// A list type.
    pub fn list(element: Type) -> Type {
        Type::List(Box::new(element))
    }

    /// A set type.
    pub fn set(element: Type) -> Type {
        Type::Set(Box::new(element))
    }

    /// A map type.
    pub fn map(element: Type) -> Type {
        Type::Map(Box::new(element))
    }

    /// The same object type with `names` made optional; other types are returned unchanged.
    pub fn with_optional<'a>(mut self, names: impl IntoIterator<Item = &'a str>) -> Type {
        if let Type::Object { optional, .. } = &mut self {
            optional.extend(names.into_iter().map(str::to_owned));
        }
        self
    }

    /// A short name for messages: `string`, `list`, `object`...
    pub fn kind(&self) -> &'static str {
        match self {
            Type::Bool => "bool",
            Type::Number => "number",
            Type::String => "string",
            Type::Dynamic => "dynamic",
            Type::List(_) => "list",
            Type::Set(_) => "set",
            Type::Map(_) => "map",
            Type::Object { .. } => "object",
            Type::Tuple(_) => "tuple",
        }
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

fn type_from_json(json: &serde_json::Value, depth: usize) -> Result<Type, ValueError> {
    use serde_json::Value as J;
    let invalid = |reason: String| ValueError::InvalidType { reason };
    if depth > MAX_DEPTH {
        return Err(invalid("nested too deeply".to_owned()));
    }
    let items = match json {
        J::String(s) => {
            return match s.as_str() {
                "bool" => Ok(Type::Bool),
                "number" => Ok(Type::Number),
                "string" => Ok(Type::String),
                "dynamic" => Ok(Type::Dynamic),
                other => Err(invalid(format!("unknown primitive type {other:?}"))),
            };
        }
        J::Array(items) => items,
        other => {
            return Err(invalid(format!(
                "expected a string or an array, found {other}"
            )));
        }
    };
    let Some(J::String(kind)) = items.first() else {
        return Err(invalid("an array type must start with its kind".to_owned()));
    };
    let arity = |n: usize| -> Result<(), ValueError> {
        if items.len() == n {
            Ok(())
        } else {
            Err(invalid(format!("{kind} type needs {} element(s)", n - 1)))
        }
    };
    let inner = |i: usize| type_from_json(&items[i], depth + 1);
    match kind.as_str() {
        "list" => arity(2).and_then(|()| Ok(Type::list(inner(1)?))),
        "set" => arity(2).and_then(|()| Ok(Type::set(inner(1)?))),
        "map" => arity(2).and_then(|()| Ok(Type::map(inner(1)?))),
        "tuple" => {
            arity(2)?;
            let J::Array(elems) = &items[1] else {
                return Err(invalid("tuple element types must be an array".to_owned()));
            };
            let elems = elems
                .iter()
                .map(|e| type_from_json(e, depth + 1))
                .collect::<Result<_, _>>()?;
            Ok(Type::Tuple(elems))
        }
        "object" => {
            if items.len() != 2 && items.len() != 3 {
                return Err(invalid("object type needs 1 or 2 element(s)".to_owned()));
            }
            let J::Object(attrs) = &items[1] else {
                return Err(invalid(
                    "object attribute types must be a JSON object".to_owned(),
                ));
            };
            let attributes = attrs
                .iter()
                .map(|(k, t)| Ok((k.clone(), type_from_json(t, depth + 1)?)))
                .collect::<Result<BTreeMap<_, _>, ValueError>>()?;
            let mut optional = BTreeSet::new();
            if let Some(opt) = items.get(2) {
                let J::Array(names) = opt else {
                    return Err(invalid("optional attributes must be an array".to_owned()));
                };
                for name in names {
                    let J::String(name) = name else {
                        return Err(invalid(
                            "optional attribute names must be strings".to_owned(),
                        ));
                    };
                    if !attributes.contains_key(name) {
                        return Err(invalid(format!(
                            "optional attribute {name:?} is not declared"
                        )));
                    }
                    optional.insert(name.clone());
                }
            }
            Ok(Type::Object {
                attributes,
                optional,
            })
        }
        other => Err(invalid(format!("unknown type kind {other:?}"))),
    }
}

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

/// A value; it does not carry its type (the schema gives it), except where the type is
/// [`Type::Dynamic`].
///
/// Equality is structural, except that numbers compare numerically and sets compare as
/// sets (order and repeated elements do not matter). `Unknown` equals `Unknown`.
#[derive(Clone, Debug)]
pub enum Value {
    /// Not yet known (during planning). Any refinement sent by Terraform is dropped.
    Unknown,
    /// Explicitly absent.
    Null,
    /// A `bool`.
    Bool(bool),
    /// A `number`.
    Number(Number),
    /// A `string`.
    String(String),
    /// A `list`.
    List(Vec<Value>),
    /// A `set`, in no particular order.
    Set(Vec<Value>),
    /// A `map`.
    Map(BTreeMap<String, Value>),
    /// An `object`: every attribute of the type, by name.
    Object(BTreeMap<String, Value>),
    /// A `tuple`.
    Tuple(Vec<Value>),
    /// A value whose schema type is Dynamic: the concrete type travels with it.
    Dynamic {
        /// The concrete type; never [`Type::Dynamic`] itself.
        ty: Type,
        /// The value, of type `ty` (may be null or unknown).
        value: Box<Value>,
    },
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value as V;
        match (self, other) {
            (V::Unknown, V::Unknown) | (V::Null, V::Null) => true,
            (V::Bool(a), V::Bool(b)) => a == b,
            (V::Number(a), V::Number(b)) => a == b,
            (V::String(a), V::String(b)) => a == b,
            (V::List(a), V::List(b)) | (V::Tuple(a), V::Tuple(b)) => a == b,
            (V::Set(a), V::Set(b)) => {
                a.iter().all(|x| b.contains(x)) && b.iter().all(|y| a.contains(y))
            }
            (V::Map(a), V::Map(b)) | (V::Object(a), V::Object(b)) => a == b,
            (V::Dynamic { ty: t1, value: v1 }, V::Dynamic { ty: t2, value: v2 }) => {
                t1 == t2 && v1 == v2
            }
            _ => false,
        }
    }
}

impl Value {
    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True for [`Value::Unknown`] (not for a dynamic value wrapping one).
    pub fn is_unknown(&self) -> bool {
        matches!(self, Value::Unknown)
    }

    /// True when no [`Value::Unknown`] appears at any depth.
    pub fn is_fully_known(&self) -> bool {
        match self {
            Value::Unknown => false,
            Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => true,
            Value::List(v) | Value::Set(v) | Value::Tuple(v) => v.iter().all(Value::is_fully_known),
            Value::Map(m) | Value::Object(m) => m.values().all(Value::is_fully_known),
            Value::Dynamic { value, .. } => value.is_fully_known(),
        }
    }

    /// The text of a string value.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// A bool value.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A number value.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }

    /// An attribute of an object value.
    pub fn attr(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(attrs) => attrs.get(name),
            _ => None,
        }
    }

    /// The null value of a type. For objects too this is [`Value::Null`], not an object
    /// whose attributes are null.
    pub fn null_of(_ty: &Type) -> Value {
        Value::Null
    }

    /// An object value from attribute names and values.
    pub fn object<'a>(attrs: impl IntoIterator<Item = (&'a str, Value)>) -> Value {
        Value::Object(attrs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    /// Whether the value has the shape of `ty`: right kinds at every depth, every required
    /// object attribute present and no undeclared one, tuple lengths right, and a concrete
    /// type (not `dynamic`) wherever the type is dynamic. Null and unknown fit any type.
    pub fn conforms(&self, ty: &Type) -> bool {
        match (self, ty) {
            (Value::Unknown | Value::Null, _) => true,
            (Value::Dynamic { ty: inner, value }, Type::Dynamic) => {
                *inner != Type::Dynamic && value.conforms(inner)
            }
            (_, Type::Dynamic) | (Value::Dynamic { .. }, _) => false,
            (Value::Bool(_), Type::Bool)
            | (Value::Number(_), Type::Number)
            | (Value::String(_), Type::String) => true,
            (Value::List(v), Type::List(e)) | (Value::Set(v), Type::Set(e)) => {
                v.iter().all(|x| x.conforms(e))
            }
            (Value::Map(m), Type::Map(e)) => m.values().all(|x| x.conforms(e)),
            (
                Value::Object(m),
                Type::Object {
                    attributes,
                    optional,
                },
            ) => {
                m.iter()
                    .all(|(k, v)| attributes.get(k).is_some_and(|t| v.conforms(t)))
                    && attributes
                        .keys()
                        .all(|k| m.contains_key(k) || optional.contains(k))
            }
            (Value::Tuple(v), Type::Tuple(ts)) => {
                v.len() == ts.len() && v.iter().zip(ts).all(|(x, t)| x.conforms(t))
            }
            _ => false,
        }
    }

    /// A short name of the value's kind, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Unknown => "an unknown value",
            Value::Null => "null",
            Value::Bool(_) => "a bool",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::List(_) => "a list",
            Value::Set(_) => "a set",
            Value::Map(_) => "a map",
            Value::Object(_) => "an object",
            Value::Tuple(_) => "a tuple",
            Value::Dynamic { .. } => "a dynamic value",
        }
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::String(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::String(v)
    }
}

impl From<Number> for Value {
    fn from(v: Number) -> Value {
        Value::Number(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Number(Number::from(v))
    }
}

/// One step from a value to a value inside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathStep {
    /// An object attribute.
    Attribute(String),
    /// A list, set or tuple element, by position in the encoding.
    Index(usize),
    /// A map element.
    Key(String),
}

/// Where in a value something went wrong; empty for the value itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ValuePath(pub Vec<PathStep>);

impl ValuePath {
    /// The steps, outermost first.
    pub fn steps(&self) -> &[PathStep] {
        &self.0
    }

    /// Empty for the value itself, otherwise " at " and the path; for error messages.
    pub fn location(&self) -> String {
        if self.0.is_empty() {
            String::new()
        } else {
            format!(" at {self}")
        }
    }
}

impl fmt::Display for ValuePath {
    /// For example `attribute "disks", element 2, key "size"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match step {
                PathStep::Attribute(a) => write!(f, "attribute {a:?}")?,
                PathStep::Index(n) => write!(f, "element {n}")?,
                PathStep::Key(k) => write!(f, "key {k:?}")?,
            }
        }
        Ok(())
    }
}

/// Why a type or value could not be decoded or encoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// A type specification is not valid cty type JSON.
    #[error("Invalid type specification: {reason}")]
    InvalidType {
        /// What is wrong with it.
        reason: String,
    },
    /// The input is not well-formed JSON.
    #[error("Malformed JSON{}", .path.location())]
    Json {
        /// Where, when known.
        path: ValuePath,
        /// The parser's complaint.
        #[source]
        source: serde_json::Error,
    },
    /// The msgpack input ends in the middle of a value.
    #[error("Truncated msgpack{}", .path.location())]
    Truncated {
        /// The value being read.
        path: ValuePath,
    },
    /// Bytes are left after the top-level value.
    #[error("Unexpected bytes after the value")]
    TrailingBytes,
    /// Something of another kind was found where the type asks for `expected`.
    #[error("Expected {expected}{}, found {found}", .path.location())]
    Mismatch {
        /// Where.
        path: ValuePath,
        /// What the type asks for.
        expected: String,
        /// What was there.
        found: String,
    },
    /// An object has an attribute its type does not declare.
    #[error("Unsupported attribute {name:?}{}", .path.location())]
    UnsupportedAttribute {
        /// The object.
        path: ValuePath,
        /// The undeclared attribute.
        name: String,
    },
    /// An object lacks an attribute that its type requires.
    #[error("Missing attribute {name:?}{}", .path.location())]
    MissingAttribute {
        /// The object.
        path: ValuePath,
        /// The missing attribute.
        name: String,
    },
    /// A tuple has the wrong number of elements.
    #[error("Expected a tuple of {expected} element(s){}, found {found}", .path.location())]
    TupleLength {
        /// The tuple.
        path: ValuePath,
        /// Elements in the type.
        expected: usize,
        /// Elements in the value.
        found: usize,
    },
    /// Text that should hold a number does not.
    #[error("Invalid number {text:?}{}", .path.location())]
    InvalidNumber {
        /// Where.
        path: ValuePath,
        /// The text, cut to 64 characters.
        text: String,
    },
    /// A number is NaN, which cty cannot hold.
    #[error("Not a number (NaN)")]
    NotANumber,
    /// JSON has no way to write infinity.
    #[error("Infinite number cannot be written as JSON{}", .path.location())]
    InfiniteInJson {
        /// Where.
        path: ValuePath,
    },
    /// JSON has no way to write an unknown value.
    #[error("Unknown value cannot be written as JSON{}", .path.location())]
    UnknownInJson {
        /// Where.
        path: ValuePath,
    },
    /// A string is not valid UTF-8.
    #[error("Invalid UTF-8{}", .path.location())]
    InvalidUtf8 {
        /// Where.
        path: ValuePath,
    },
    /// Values or types are nested deeper than [`MAX_DEPTH`].
    #[error("Nested too deeply{}", .path.location())]
    TooDeep {
        /// Where the limit was reached.
        path: ValuePath,
    },
    /// A collection is too large for the encoding.
    #[error("Too many elements{}", .path.location())]
    TooLarge {
        /// The collection.
        path: ValuePath,
    },
}

/// Strategies shared by the codec tests: a type together with a value conforming to it.
#[cfg(test)]
pub(crate) mod arb {
    use super::*;
    use proptest::prelude::*;

    fn name() -> impl Strategy<Value = String> {
        prop_oneof![Just("a".to_owned()), Just("b".to_owned()), "[a-z_é]{1,6}"]
    }

    pub(crate) fn number() -> impl Strategy<Value = Number> {
        prop_oneof![
            any::<i64>().prop_map(Number::from),
            any::<u64>().prop_map(Number::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| Number::try_from(f).unwrap_or_else(|_| Number::from(0i64))),
            (any::<i64>(), -40i64..40)
                .prop_map(|(d, s)| Number::from(BigDecimal::new(d.into(), s))),
            "-?[0-9]{20,40}(\\.[0-9]{1,30})?".prop_map(|s| s.parse().unwrap_or(Number::from(0i64))),
        ]
    }

    /// Types of any shape, `dynamic` included at any depth.
    pub(crate) fn ty() -> impl Strategy<Value = Type> {
        let leaf = prop_oneof![
            3 => Just(Type::Bool),
            3 => Just(Type::Number),
            3 => Just(Type::String),
            1 => Just(Type::Dynamic),
        ];
        leaf.prop_recursive(4, 24, 4, |inner| {
            prop_oneof![
                inner.clone().prop_map(Type::list),
                inner.clone().prop_map(Type::set),
                inner.clone().prop_map(Type::map),
                prop::collection::vec(inner.clone(), 0..4).prop_map(Type::Tuple),
                (
                    prop::collection::btree_map(name(), inner.clone(), 0..4),
                    any::<prop::sample::Index>()
                )
                    .prop_map(|(attributes, pick)| {
                        let optional = if attributes.is_empty() {
                            BTreeSet::new()
                        } else {
                            let i = pick.index(attributes.len());
                            attributes.keys().skip(i).take(1).cloned().collect()
                        };
                        Type::Object {
                            attributes,
                            optional,
                        }
                    }),
            ]
        })
    }

    /// A value of `ty`; `unknowns` allows unknown values at any depth.
    pub(crate) fn value(ty: &Type, unknowns: bool) -> BoxedStrategy<Value> {
        let known = known_value(ty, unknowns);
        let unknown_weight = u32::from(unknowns);
        prop_oneof![
            1 => Just(Value::Null),
            unknown_weight => Just(Value::Unknown),
            6 => known,
        ]
        .boxed()
    }

    fn known_value(ty: &Type, unknowns: bool) -> BoxedStrategy<Value> {
        let small = 0..3usize;
        match ty {
            Type::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
            Type::Number => number().prop_map(Value::Number).boxed(),
            Type::String => ".{0,8}".prop_map(Value::String).boxed(),
            Type::Dynamic => ty_leafish()
                .prop_flat_map(move |t| {
                    value(&t, unknowns).prop_map(move |v| Value::Dynamic {
                        ty: t.clone(),
                        value: Box::new(v),
                    })
                })
                .boxed(),
            Type::List(e) => prop::collection::vec(value(e, unknowns), small)
                .prop_map(Value::List)
                .boxed(),
            Type::Set(e) => prop::collection::vec(value(e, unknowns), small)
                .prop_map(Value::Set)
                .boxed(),
            Type::Map(e) => prop::collection::btree_map(name(), value(e, unknowns), small)
                .prop_map(Value::Map)
                .boxed(),
            Type::Tuple(ts) => ts
                .iter()
                .map(|t| value(t, unknowns))
                .collect::<Vec<_>>()
                .prop_map(Value::Tuple)
                .boxed(),
            Type::Object { attributes, .. } => attributes
                .iter()
                .map(|(k, t)| {
                    let k = k.clone();
                    value(t, unknowns).prop_map(move |v| (k.clone(), v))
                })
                .collect::<Vec<_>>()
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect()))
                .boxed(),
        }
    }

    /// Concrete types for dynamic values, kept small.
    fn ty_leafish() -> impl Strategy<Value = Type> {
        prop_oneof![
            Just(Type::Bool),
            Just(Type::Number),
            Just(Type::String),
            Just(Type::list(Type::String)),
            Just(Type::object([("x", Type::Number), ("y", Type::Dynamic)])),
            Just(Type::Tuple(vec![Type::Bool, Type::map(Type::Number)])),
        ]
    }

    /// A type and a value conforming to it.
    pub(crate) fn typed_value(unknowns: bool) -> impl Strategy<Value = (Type, Value)> {
        ty().prop_flat_map(move |t| value(&t, unknowns).prop_map(move |v| (t.clone(), v)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn n(s: &str) -> Number {
        s.parse().unwrap()
    }

    #[test]
    fn type_json_round_trips_cty_spellings() {
        for spec in [
            r#""string""#,
            r#""dynamic""#,
            r#"["list","string"]"#,
            r#"["set",["map","bool"]]"#,
            r#"["object",{"a":"string","b":"number"}]"#,
            r#"["object",{"a":"string","b":"number"},["b"]]"#,
            r#"["tuple",["bool",["list","dynamic"]]]"#,
            r#"["tuple",[]]"#,
        ] {
            let ty = Type::from_json(spec.as_bytes()).unwrap();
            assert_eq!(String::from_utf8(ty.to_json_bytes()).unwrap(), spec);
        }
        let ty = Type::from_json(br#"["object",{"b":"number","a":"string"},["a"]]"#).unwrap();
        assert_eq!(
            ty,
            Type::object([("a", Type::String), ("b", Type::Number)]).with_optional(["a"])
        );
    }

    #[test]
    fn type_json_rejects_nonsense() {
        for spec in [
            r#""strin""#,
            r#"["list"]"#,
            r#"["list","string","x"]"#,
            r#"["object",["a"]]"#,
            r#"["object",{"a":"string"},["b"]]"#,
            r#"["tuple","string"]"#,
            r#"[]"#,
            r#"42"#,
            r#"["list""#,
        ] {
            assert!(Type::from_json(spec.as_bytes()).is_err(), "{spec}");
        }
        let deep = format!("{}\"string\"{}", "[\"list\",".repeat(200), "]".repeat(200));
        assert!(Type::from_json(deep.as_bytes()).is_err());
    }

    #[test]
    fn number_display_is_shortest_exact_decimal() {
        let cases = [
            ("1", "1"),
            ("1.0", "1"),
            ("-0.0", "0"),
            ("12300", "12300"),
            ("1.23e4", "12300"),
            ("-0.25", "-0.25"),
            ("1e-3", "0.001"),
            (".5", "0.5"),
            ("+7", "7"),
            (
                "123456789012345678901234567890.5",
                "123456789012345678901234567890.5",
            ),
            ("inf", "+Inf"),
            ("-Inf", "-Inf"),
        ];
        for (input, shown) in cases {
            assert_eq!(n(input).to_string(), shown, "{input}");
        }
        assert_eq!(Number::try_from(0.5f64).unwrap().to_string(), "0.5");
        assert_eq!(
            Number::try_from(0.1f64).unwrap().to_string(),
            "0.1000000000000000055511151231257827021181583404541015625"
        );
        assert_eq!(
            Number::try_from(1e20f64).unwrap().to_string(),
            "100000000000000000000"
        );
    }

    #[test]
    fn number_rejects_bad_text() {
        for bad in [
            "",
            "-",
            "1.2.3",
            "e5",
            "1e",
            "0x10",
            "1_000",
            "NaN",
            " 1",
            "1e999999999",
        ] {
            assert!(bad.parse::<Number>().is_err(), "{bad:?}");
        }
        assert!(Number::try_from(f64::NAN).is_err());
    }

    #[test]
    fn number_conversions() {
        assert_eq!(n("42").to_i64(), Some(42));
        assert_eq!(n("4.2e1").to_i64(), Some(42));
        assert_eq!(n("4.25").to_i64(), None);
        assert_eq!(n("-1").to_u64(), None);
        assert_eq!(n("18446744073709551615").to_u64(), Some(u64::MAX));
        assert_eq!(n("18446744073709551615").to_i64(), None);
        assert_eq!(n("1e30").to_i64(), None);
        assert!(n("1e30").is_integer());
        assert!(!n("0.5").is_integer());
        assert!(!n("inf").is_integer());
        assert_eq!(n("0.1").to_f64(), 0.1);
        assert_eq!(n("0.1").to_f64_exact(), None);
        assert_eq!(n("0.5").to_f64_exact(), Some(0.5));
        assert_eq!(n("-inf").to_f64_exact(), Some(f64::NEG_INFINITY));
        assert_eq!(n("1e400").to_f64(), f64::INFINITY);
        assert_eq!(n("1"), n("1.000"));
        assert_ne!(n("inf"), n("-inf"));
        assert_eq!(
            Number::try_from(f64::MIN_POSITIVE / 4.0).unwrap().to_f64(),
            f64::MIN_POSITIVE / 4.0
        );
    }

    #[test]
    fn sets_compare_as_sets() {
        let a = Value::Set(vec![Value::from(1), Value::from(2), Value::from(2)]);
        let b = Value::Set(vec![Value::from(2), Value::from(1)]);
        assert_eq!(a, b);
        assert_ne!(a, Value::Set(vec![Value::from(1)]));
        assert_ne!(a, Value::List(vec![Value::from(1), Value::from(2)]));
    }

    #[test]
    fn conforms_checks_shape() {
        let ty = Type::object([("a", Type::String), ("b", Type::list(Type::Number))])
            .with_optional(["b"]);
        assert!(Value::object([("a", "x".into())]).conforms(&ty));
        assert!(Value::object([("a", Value::Unknown), ("b", Value::Null)]).conforms(&ty));
        assert!(!Value::object([("b", Value::Null)]).conforms(&ty));
        assert!(!Value::object([("a", "x".into()), ("c", Value::Null)]).conforms(&ty));
        assert!(!Value::object([("a", Value::from(1))]).conforms(&ty));
        assert!(Value::Null.conforms(&ty));
        let dynamic = Value::Dynamic {
            ty: Type::String,
            value: Box::new("x".into()),
        };
        assert!(dynamic.conforms(&Type::Dynamic));
        assert!(!dynamic.conforms(&Type::String));
        assert!(!Value::from("x").conforms(&Type::Dynamic));
        assert!(!Value::Tuple(vec![]).conforms(&Type::Tuple(vec![Type::Bool])));
    }

    #[test]
    fn error_messages_name_the_path() {
        let err = ValueError::Mismatch {
            path: ValuePath(vec![
                PathStep::Attribute("a".into()),
                PathStep::Index(2),
                PathStep::Key("k".into()),
            ]),
            expected: "a string".into(),
            found: "a bool".into(),
        };
        assert_eq!(
            err.to_string(),
            r#"Expected a string at attribute "a", element 2, key "k", found a bool"#
        );
    }

    proptest! {
        #[test]
        fn number_text_round_trips(x in arb::number()) {
            prop_assert_eq!(x.to_string().parse::<Number>().unwrap(), x);
        }

        #[test]
        fn f64_round_trips_exactly(f in any::<f64>().prop_filter("not NaN", |f| !f.is_nan())) {
            let x = Number::try_from(f).unwrap();
            prop_assert_eq!(x.to_f64_exact(), Some(f));
        }

        #[test]
        fn generated_values_conform((ty, v) in arb::typed_value(true)) {
            prop_assert!(v.conforms(&ty));
        }

        #[test]
        fn type_json_round_trips(ty in arb::ty()) {
            prop_assert_eq!(Type::from_json(&ty.to_json_bytes()).unwrap(), ty);
        }
    }
}

impl Default for Value {
    /// Null: what an absent value is.
    fn default() -> Self {
        Value::Null
    }
}
