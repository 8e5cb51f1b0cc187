//! cty types and values as Terraform exchanges them with providers.
//!
//! A [`Value`] does not carry its type: the schema supplies it when a value is decoded or
//! encoded ([`super::msgpack`], [`super::json`]). The one exception is a value whose schema
//! type is [`Type::Dynamic`]; its concrete type travels with it in [`Value::Dynamic`].
//!
//! `ty`: the types; `number`: cty's exact numbers; this file: values, paths into them, and
//! the errors of decoding and encoding them.

mod number;
mod ty;

pub use number::Number;
pub use ty::Type;

use std::collections::BTreeMap;
use std::fmt;

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

impl Default for Value {
    /// Null: what an absent value is.
    fn default() -> Self {
        Value::Null
    }
}

/// Strategies shared by the codec tests: a type together with a value conforming to it.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod arb;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
