//! The msgpack encoding of cty values, as carried in `DynamicValue.msgpack`.
//!
//! - null is `nil`; an unknown value is any msgpack extension (cty writes `d4 00 00`, or
//!   extension 12 holding a map of refinements, which are dropped here);
//! - a number is an integer of any width, a float, or a string holding a decimal; it is
//!   written as an integer when it fits `i64`, else as a float64 when exact, else as text;
//! - lists, sets and tuples are arrays; maps and objects are maps keyed by name (objects are
//!   written with every attribute, in name order);
//! - a known value whose schema type is dynamic is the array `[type JSON as bin, value]`.

use std::collections::BTreeMap;
use std::convert::Infallible;

use rmp::Marker;
use rmp::encode::{self, ByteBuf, ValueWriteError};

use super::value::{MAX_DEPTH, Number, PathStep, Type, Value, ValueError, ValuePath};

/// The bytes cty writes for an unknown value without refinements: fixext1, type 0, data 0.
pub const UNKNOWN: [u8; 3] = [0xd4, 0x00, 0x00];

/// Decodes a msgpack value of type `ty`.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, ValueError> {
    let mut decoder = Decoder {
        input: bytes,
        pos: 0,
        path: Vec::new(),
        depth: 0,
    };
    let value = decoder.value(ty)?;
    if decoder.pos != bytes.len() {
        return Err(ValueError::TrailingBytes);
    }
    Ok(value)
}

/// Encodes `value` as msgpack of type `ty`.
pub fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, ValueError> {
    let mut encoder = Encoder {
        out: ByteBuf::new(),
        path: Vec::new(),
    };
    encoder.value(value, ty)?;
    Ok(encoder.out.into_vec())
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    path: Vec<PathStep>,
    /// Values being decoded, outermost included.
    depth: usize,
}

/// What a marker announces, reduced to what the decoder needs.
enum Head {
    Nil,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str(usize),
    Bin(usize),
    Array(usize),
    Map(usize),
    Ext(usize),
    Reserved,
}

impl Head {
    fn describe(&self) -> &'static str {
        match self {
            Head::Nil => "nil",
            Head::Bool(_) => "a bool",
            Head::Int(_) | Head::Uint(_) | Head::Float(_) => "a number",
            Head::Str(_) => "a string",
            Head::Bin(_) => "binary data",
            Head::Array(_) => "an array",
            Head::Map(_) => "a map",
            Head::Ext(_) => "an extension",
            Head::Reserved => "the reserved marker 0xc1",
        }
    }
}

impl<'a> Decoder<'a> {
    fn here(&self) -> ValuePath {
        ValuePath(self.path.clone())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ValueError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.input.len())
            .ok_or_else(|| ValueError::Truncated { path: self.here() })?;
        let bytes = &self.input[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], ValueError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn len8(&mut self) -> Result<usize, ValueError> {
        Ok(usize::from(self.array::<1>()?[0]))
    }

    fn len16(&mut self) -> Result<usize, ValueError> {
        Ok(usize::from(u16::from_be_bytes(self.array()?)))
    }

    fn len32(&mut self) -> Result<usize, ValueError> {
        let n = u32::from_be_bytes(self.array()?);
        usize::try_from(n).map_err(|_| ValueError::TooLarge { path: self.here() })
    }

    /// Reads a marker and whatever fixed-size part follows it.
    fn head(&mut self) -> Result<Head, ValueError> {
        let byte = self.array::<1>()?[0];
        Ok(match Marker::from_u8(byte) {
            Marker::Null => Head::Nil,
            Marker::True => Head::Bool(true),
            Marker::False => Head::Bool(false),
            Marker::FixPos(n) => Head::Int(i64::from(n)),
            Marker::FixNeg(n) => Head::Int(i64::from(n)),
            Marker::U8 => Head::Uint(u64::from(self.array::<1>()?[0])),
            Marker::U16 => Head::Uint(u64::from(u16::from_be_bytes(self.array()?))),
            Marker::U32 => Head::Uint(u64::from(u32::from_be_bytes(self.array()?))),
            Marker::U64 => Head::Uint(u64::from_be_bytes(self.array()?)),
            Marker::I8 => Head::Int(i64::from(i8::from_be_bytes(self.array()?))),
            Marker::I16 => Head::Int(i64::from(i16::from_be_bytes(self.array()?))),
            Marker::I32 => Head::Int(i64::from(i32::from_be_bytes(self.array()?))),
            Marker::I64 => Head::Int(i64::from_be_bytes(self.array()?)),
            Marker::F32 => Head::Float(f64::from(f32::from_be_bytes(self.array()?))),
            Marker::F64 => Head::Float(f64::from_be_bytes(self.array()?)),
            Marker::FixStr(n) => Head::Str(usize::from(n)),
            Marker::Str8 => Head::Str(self.len8()?),
            Marker::Str16 => Head::Str(self.len16()?),
            Marker::Str32 => Head::Str(self.len32()?),
            Marker::Bin8 => Head::Bin(self.len8()?),
            Marker::Bin16 => Head::Bin(self.len16()?),
            Marker::Bin32 => Head::Bin(self.len32()?),
            Marker::FixArray(n) => Head::Array(usize::from(n)),
            Marker::Array16 => Head::Array(self.len16()?),
            Marker::Array32 => Head::Array(self.len32()?),
            Marker::FixMap(n) => Head::Map(usize::from(n)),
            Marker::Map16 => Head::Map(self.len16()?),
            Marker::Map32 => Head::Map(self.len32()?),
            Marker::FixExt1 => Head::Ext(1),
            Marker::FixExt2 => Head::Ext(2),
            Marker::FixExt4 => Head::Ext(4),
            Marker::FixExt8 => Head::Ext(8),
            Marker::FixExt16 => Head::Ext(16),
            Marker::Ext8 => Head::Ext(self.len8()?),
            Marker::Ext16 => Head::Ext(self.len16()?),
            Marker::Ext32 => Head::Ext(self.len32()?),
            Marker::Reserved => Head::Reserved,
        })
    }

    fn mismatch(&self, expected: &str, found: &Head) -> ValueError {
        ValueError::Mismatch {
            path: self.here(),
            expected: expected.to_owned(),
            found: found.describe().to_owned(),
        }
    }

    /// Text from a str or bin body (cty's decoder accepts both).
    fn text(&mut self, head: &Head, expected: &str) -> Result<String, ValueError> {
        let (Head::Str(n) | Head::Bin(n)) = *head else {
            return Err(self.mismatch(expected, head));
        };
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| ValueError::InvalidUtf8 { path: self.here() })
    }

    /// Room for `n` elements, bounded by what the input can still hold (one byte each).
    fn capacity(&self, n: usize) -> usize {
        n.min(self.input.len() - self.pos)
    }

    fn value(&mut self, ty: &Type) -> Result<Value, ValueError> {
        if self.depth >= MAX_DEPTH {
            return Err(ValueError::TooDeep { path: self.here() });
        }
        self.depth += 1;
        let result = self.value_inner(ty);
        self.depth -= 1;
        result
    }

    fn value_inner(&mut self, ty: &Type) -> Result<Value, ValueError> {
        let head = self.head()?;
        if let Head::Ext(n) = head {
            // The type byte and the payload; refinements are not kept.
            self.take(n.saturating_add(1))?;
            return Ok(Value::Unknown);
        }
        if let Head::Nil = head {
            return Ok(Value::Null);
        }
        match ty {
            Type::Dynamic => self.dynamic(head),
            Type::Bool => match head {
                Head::Bool(b) => Ok(Value::Bool(b)),
                other => Err(self.mismatch("a bool", &other)),
            },
            Type::Number => self.number(head).map(Value::Number),
            Type::String => self.text(&head, "a string").map(Value::String),
            Type::List(e) | Type::Set(e) => {
                let Head::Array(n) = head else {
                    return Err(self.mismatch(&format!("a {} (array)", ty.kind()), &head));
                };
                let mut items = Vec::with_capacity(self.capacity(n));
                for i in 0..n {
                    self.path.push(PathStep::Index(i));
                    items.push(self.value(e)?);
                    self.path.pop();
                }
                Ok(match ty {
                    Type::Set(_) => Value::Set(items),
                    _ => Value::List(items),
                })
            }
            Type::Tuple(types) => {
                let Head::Array(n) = head else {
                    return Err(self.mismatch("a tuple (array)", &head));
                };
                if n != types.len() {
                    return Err(ValueError::TupleLength {
                        path: self.here(),
                        expected: types.len(),
                        found: n,
                    });
                }
                let mut items = Vec::with_capacity(n);
                for (i, t) in types.iter().enumerate() {
                    self.path.push(PathStep::Index(i));
                    items.push(self.value(t)?);
                    self.path.pop();
                }
                Ok(Value::Tuple(items))
            }
            Type::Map(e) => {
                let Head::Map(n) = head else {
                    return Err(self.mismatch("a map", &head));
                };
                let mut items = BTreeMap::new();
                for _ in 0..n {
                    let key_head = self.head()?;
                    let key = self.text(&key_head, "a string map key")?;
                    self.path.push(PathStep::Key(key));
                    let item = self.value(e)?;
                    if let Some(PathStep::Key(key)) = self.path.pop() {
                        items.insert(key, item);
                    }
                }
                Ok(Value::Map(items))
            }
            Type::Object {
                attributes,
                optional,
            } => {
                let Head::Map(n) = head else {
                    return Err(self.mismatch("an object (map)", &head));
                };
                let mut items = BTreeMap::new();
                for _ in 0..n {
                    let key_head = self.head()?;
                    let name = self.text(&key_head, "a string attribute name")?;
                    let Some(t) = attributes.get(&name) else {
                        return Err(ValueError::UnsupportedAttribute {
                            path: self.here(),
                            name,
                        });
                    };
                    self.path.push(PathStep::Attribute(name));
                    let item = self.value(t)?;
                    if let Some(PathStep::Attribute(name)) = self.path.pop() {
                        items.insert(name, item);
                    }
                }
                for name in attributes.keys() {
                    if !items.contains_key(name) {
                        if !optional.contains(name) {
                            return Err(ValueError::MissingAttribute {
                                path: self.here(),
                                name: name.clone(),
                            });
                        }
                        items.insert(name.clone(), Value::Null);
                    }
                }
                Ok(Value::Object(items))
            }
        }
    }

    fn number(&mut self, head: Head) -> Result<Number, ValueError> {
        match head {
            Head::Int(i) => Ok(Number::from(i)),
            Head::Uint(u) => Ok(Number::from(u)),
            Head::Float(f) => Number::try_from(f).map_err(|_| ValueError::InvalidNumber {
                path: self.here(),
                text: "NaN".to_owned(),
            }),
            Head::Str(_) | Head::Bin(_) => {
                let text = self.text(&head, "a number")?;
                text.parse().map_err(|_| ValueError::InvalidNumber {
                    path: self.here(),
                    text: text.chars().take(64).collect(),
                })
            }
            other => Err(self.mismatch("a number", &other)),
        }
    }

    fn dynamic(&mut self, head: Head) -> Result<Value, ValueError> {
        if !matches!(head, Head::Array(2)) {
            return Err(self.mismatch("a dynamic value ([type, value] array)", &head));
        }
        let type_head = self.head()?;
        let type_json = self.text(&type_head, "type JSON")?;
        let ty = Type::from_json(type_json.as_bytes())?;
        if ty == Type::Dynamic {
            return Err(ValueError::InvalidType {
                reason: "a dynamic value must name a concrete type".to_owned(),
            });
        }
        let value = self.value(&ty)?;
        Ok(Value::Dynamic {
            ty,
            value: Box::new(value),
        })
    }
}

struct Encoder {
    out: ByteBuf,
    path: Vec<PathStep>,
}

/// Writing into memory cannot fail.
fn done<T>(result: Result<T, ValueWriteError<Infallible>>) -> T {
    match result {
        Ok(v) => v,
        Err(ValueWriteError::InvalidMarkerWrite(e) | ValueWriteError::InvalidDataWrite(e)) => {
            match e {}
        }
    }
}

impl Encoder {
    fn here(&self) -> ValuePath {
        ValuePath(self.path.clone())
    }

    fn mismatch(&self, ty: &Type, value: &Value) -> ValueError {
        let expected = match ty {
            Type::Dynamic => "a value with its type (dynamic)".to_owned(),
            other => format!("a value of type {other}"),
        };
        ValueError::Mismatch {
            path: self.here(),
            expected,
            found: value.kind().to_owned(),
        }
    }

    fn len(&self, n: usize) -> Result<u32, ValueError> {
        u32::try_from(n).map_err(|_| ValueError::TooLarge { path: self.here() })
    }

    fn value(&mut self, value: &Value, ty: &Type) -> Result<(), ValueError> {
        if self.path.len() > MAX_DEPTH {
            return Err(ValueError::TooDeep { path: self.here() });
        }
        match (value, ty) {
            (Value::Unknown, _) => self.out.as_mut_vec().extend_from_slice(&UNKNOWN),
            (Value::Null, _) => match encode::write_nil(&mut self.out) {
                Ok(()) => {}
                Err(e) => match e {},
            },
            (Value::Dynamic { ty: inner, value }, Type::Dynamic) if *inner != Type::Dynamic => {
                done(encode::write_array_len(&mut self.out, 2));
                done(encode::write_bin(&mut self.out, &inner.to_json_bytes()));
                self.value(value, inner)?;
            }
            (Value::Bool(b), Type::Bool) => match encode::write_bool(&mut self.out, *b) {
                Ok(()) => {}
                Err(e) => match e {},
            },
            (Value::Number(n), Type::Number) => self.number(n),
            (Value::String(s), Type::String) => done(encode::write_str(&mut self.out, s)),
            (Value::List(items), Type::List(e)) | (Value::Set(items), Type::Set(e)) => {
                let len = self.len(items.len())?;
                done(encode::write_array_len(&mut self.out, len));
                for (i, item) in items.iter().enumerate() {
                    self.path.push(PathStep::Index(i));
                    self.value(item, e)?;
                    self.path.pop();
                }
            }
            (Value::Tuple(items), Type::Tuple(types)) => {
                if items.len() != types.len() {
                    return Err(ValueError::TupleLength {
                        path: self.here(),
                        expected: types.len(),
                        found: items.len(),
                    });
                }
                let len = self.len(items.len())?;
                done(encode::write_array_len(&mut self.out, len));
                for (i, (item, t)) in items.iter().zip(types).enumerate() {
                    self.path.push(PathStep::Index(i));
                    self.value(item, t)?;
                    self.path.pop();
                }
            }
            (Value::Map(items), Type::Map(e)) => {
                let len = self.len(items.len())?;
                done(encode::write_map_len(&mut self.out, len));
                for (key, item) in items {
                    done(encode::write_str(&mut self.out, key));
                    self.path.push(PathStep::Key(key.clone()));
                    self.value(item, e)?;
                    self.path.pop();
                }
            }
            (
                Value::Object(items),
                Type::Object {
                    attributes,
                    optional,
                },
            ) => {
                if let Some(name) = items.keys().find(|k| !attributes.contains_key(*k)) {
                    return Err(ValueError::UnsupportedAttribute {
                        path: self.here(),
                        name: name.clone(),
                    });
                }
                let len = self.len(attributes.len())?;
                done(encode::write_map_len(&mut self.out, len));
                for (name, t) in attributes {
                    let item = match items.get(name) {
                        Some(item) => item,
                        None if optional.contains(name) => &Value::Null,
                        None => {
                            return Err(ValueError::MissingAttribute {
                                path: self.here(),
                                name: name.clone(),
                            });
                        }
                    };
                    done(encode::write_str(&mut self.out, name));
                    self.path.push(PathStep::Attribute(name.clone()));
                    self.value(item, t)?;
                    self.path.pop();
                }
            }
            (value, ty) => return Err(self.mismatch(ty, value)),
        }
        Ok(())
    }

    fn number(&mut self, n: &Number) {
        if let Some(i) = n.to_i64() {
            done(encode::write_sint(&mut self.out, i));
        } else if let Some(f) = n.to_f64_exact() {
            done(encode::write_f64(&mut self.out, f));
        } else {
            done(encode::write_str(&mut self.out, &n.to_string()));
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::protocol::value::arb::{self, dynamic, num};
    use proptest::prelude::*;

    /// (type, value, bytes as encoded; decoding the bytes gives the value back).
    fn canonical() -> Vec<(Type, Value, Vec<u8>)> {
        let list_s = Type::list(Type::String);
        vec![
            (Type::Bool, Value::Bool(true), vec![0xc3]),
            (Type::Bool, Value::Bool(false), vec![0xc2]),
            (Type::Bool, Value::Null, vec![0xc0]),
            (Type::Bool, Value::Unknown, vec![0xd4, 0x00, 0x00]),
            (Type::Number, num("5"), vec![0x05]),
            (Type::Number, num("-1"), vec![0xff]),
            (Type::Number, num("-33"), vec![0xd0, 0xdf]),
            (Type::Number, num("200"), vec![0xcc, 0xc8]),
            (
                Type::Number,
                num("65536"),
                vec![0xce, 0x00, 0x01, 0x00, 0x00],
            ),
            (
                Type::Number,
                num("9223372036854775807"),
                vec![0xcf, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            ),
            (
                Type::Number,
                num("-9223372036854775808"),
                vec![0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0],
            ),
            (
                Type::Number,
                num("1.5"),
                vec![0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0],
            ),
            (
                Type::Number,
                num("9223372036854775808"),
                vec![0xcb, 0x43, 0xe0, 0, 0, 0, 0, 0, 0],
            ),
            (
                Type::Number,
                Value::Number(Number::infinity(false)),
                vec![0xcb, 0x7f, 0xf0, 0, 0, 0, 0, 0, 0],
            ),
            (
                Type::Number,
                Value::Number(Number::infinity(true)),
                vec![0xcb, 0xff, 0xf0, 0, 0, 0, 0, 0, 0],
            ),
            (Type::Number, num("0.1"), [&[0xa3][..], b"0.1"].concat()),
            (
                Type::Number,
                num("18446744073709551617"),
                [&[0xb4][..], b"18446744073709551617"].concat(),
            ),
            (
                Type::String,
                Value::from("hé"),
                vec![0xa3, b'h', 0xc3, 0xa9],
            ),
            (
                Type::String,
                Value::from("x".repeat(32)),
                [&[0xd9, 32][..], "x".repeat(32).as_bytes()].concat(),
            ),
            (list_s.clone(), Value::List(vec![]), vec![0x90]),
            (
                list_s.clone(),
                Value::List(vec!["a".into(), Value::Null, Value::Unknown]),
                vec![0x93, 0xa1, b'a', 0xc0, 0xd4, 0, 0],
            ),
            (
                Type::set(Type::Number),
                Value::Set(vec![num("1"), num("2")]),
                vec![0x92, 0x01, 0x02],
            ),
            (
                Type::map(Type::Bool),
                Value::Map(
                    [
                        ("b".to_owned(), Value::Unknown),
                        ("a".to_owned(), true.into()),
                    ]
                    .into(),
                ),
                vec![0x82, 0xa1, b'a', 0xc3, 0xa1, b'b', 0xd4, 0, 0],
            ),
            (
                Type::Tuple(vec![Type::String, Type::Number]),
                Value::Tuple(vec!["x".into(), num("1")]),
                vec![0x92, 0xa1, b'x', 0x01],
            ),
            (
                Type::object([("name", Type::String), ("size", Type::Number)]),
                Value::object([("name", "a".into()), ("size", Value::Null)]),
                [
                    &[0x82, 0xa4][..],
                    b"name",
                    &[0xa1, b'a', 0xa4],
                    b"size",
                    &[0xc0],
                ]
                .concat(),
            ),
            (
                Type::object([("a", list_s.clone())]),
                Value::object([("a", Value::List(vec![Value::Unknown]))]),
                vec![0x81, 0xa1, b'a', 0x91, 0xd4, 0, 0],
            ),
            (
                Type::Dynamic,
                dynamic(Type::String, "hi".into()),
                [&[0x92, 0xc4, 8][..], b"\"string\"", &[0xa2, b'h', b'i']].concat(),
            ),
            (
                Type::Dynamic,
                dynamic(list_s.clone(), Value::List(vec![Value::Null])),
                [
                    &[0x92, 0xc4, 17][..],
                    b"[\"list\",\"string\"]",
                    &[0x91, 0xc0],
                ]
                .concat(),
            ),
            (
                Type::Dynamic,
                dynamic(Type::Number, Value::Unknown),
                [&[0x92, 0xc4, 8][..], b"\"number\"", &[0xd4, 0, 0]].concat(),
            ),
            (Type::Dynamic, Value::Null, vec![0xc0]),
            (Type::Dynamic, Value::Unknown, vec![0xd4, 0, 0]),
            (
                Type::map(Type::Dynamic),
                Value::Map([("k".to_owned(), dynamic(Type::Bool, true.into()))].into()),
                [&[0x81, 0xa1, b'k', 0x92, 0xc4, 6][..], b"\"bool\"", &[0xc3]].concat(),
            ),
        ]
    }

    #[test]
    fn canonical_bytes_both_ways() {
        for (ty, value, bytes) in canonical() {
            assert_eq!(encode(&value, &ty).unwrap(), bytes, "encode {value:?}");
            assert_eq!(decode(&bytes, &ty).unwrap(), value, "decode {bytes:02x?}");
        }
    }

    /// Encodings other senders may use, and what they decode to.
    #[test]
    fn other_encodings_decode() {
        let refined = [
            0xc7, 0x03, 0x0c, // ext8, 3 bytes, type 12
            0x81, 0x01, 0xc2, // {1: false}: definitely not null
        ];
        let cases: Vec<(Type, Vec<u8>, Value)> = vec![
            (Type::String, refined.to_vec(), Value::Unknown),
            (Type::Number, vec![0xd5, 0x05, 0xab, 0xcd], Value::Unknown),
            (Type::Dynamic, vec![0xc7, 0x00, 0x00], Value::Unknown),
            (Type::Number, vec![0xca, 0x3f, 0xc0, 0x00, 0x00], num("1.5")),
            (
                Type::Number,
                vec![0xca, 0x3d, 0xcc, 0xcc, 0xcd],
                Value::Number(Number::try_from(0.1f32).unwrap()),
            ),
            (Type::Number, vec![0xd1, 0xff, 0xfe], num("-2")),
            (Type::Number, vec![0xcd, 0x01, 0x00], num("256")),
            (Type::Number, vec![0xd0, 0x05], num("5")),
            (
                Type::Number,
                [&[0xa8][..], b"1.25e100"].concat(),
                num("125e98"),
            ),
            (
                Type::Number,
                [&[0xa4][..], b"-Inf"].concat(),
                Value::Number(Number::infinity(true)),
            ),
            (
                Type::Number,
                vec![0xcb, 0x40, 0x45, 0, 0, 0, 0, 0, 0],
                num("42"),
            ),
            (Type::String, vec![0xc4, 0x02, b'o', b'k'], "ok".into()),
            (
                Type::Dynamic,
                [&[0x92, 0xa6][..], b"\"bool\"", &[0xc2]].concat(),
                dynamic(Type::Bool, false.into()),
            ),
            (
                Type::object([("b", Type::Bool), ("a", Type::Bool)]),
                vec![0x82, 0xa1, b'b', 0xc3, 0xa1, b'a', 0xc2],
                Value::object([("a", false.into()), ("b", true.into())]),
            ),
            (
                Type::object([("a", Type::Bool), ("b", Type::Bool)]).with_optional(["b"]),
                vec![0x81, 0xa1, b'a', 0xc3],
                Value::object([("a", true.into()), ("b", Value::Null)]),
            ),
            (
                Type::set(Type::Bool),
                vec![0xdc, 0x00, 0x02, 0xc3, 0xc2],
                Value::Set(vec![false.into(), true.into()]),
            ),
        ];
        for (ty, bytes, want) in cases {
            assert_eq!(decode(&bytes, &ty).unwrap(), want, "{bytes:02x?}");
        }
    }

    #[test]
    fn bad_input_is_an_error_with_a_path() {
        let obj = Type::object([("a", Type::list(Type::Number)), ("b", Type::String)]);
        let cases: Vec<(Type, Vec<u8>, &str)> = vec![
            (Type::String, vec![], "Truncated msgpack"),
            (Type::String, vec![0xa3, b'a'], "Truncated msgpack"),
            (
                Type::Bool,
                vec![0xc3, 0xc3],
                "Unexpected bytes after the value",
            ),
            (Type::Bool, vec![0x01], "Expected a bool, found a number"),
            (Type::String, vec![0xa1, 0xff], "Invalid UTF-8"),
            (
                Type::Number,
                [&[0xa1][..], b"x"].concat(),
                "Invalid number \"x\"",
            ),
            (
                Type::Number,
                vec![0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 1],
                "Invalid number \"NaN\"",
            ),
            (
                obj.clone(),
                [&[0x82, 0xa1, b'a', 0x92, 0x01, 0xc3][..]].concat(),
                "Expected a number at attribute \"a\", element 1, found a bool",
            ),
            (
                obj.clone(),
                vec![0x81, 0xa1, b'z', 0xc0],
                "Unsupported attribute \"z\"",
            ),
            (
                obj.clone(),
                vec![0x81, 0xa1, b'a', 0xc0],
                "Missing attribute \"b\"",
            ),
            (
                Type::Tuple(vec![Type::Bool]),
                vec![0x90],
                "Expected a tuple of 1 element(s), found 0",
            ),
            (
                Type::map(Type::Bool),
                vec![0x81, 0x01, 0xc3],
                "Expected a string map key, found a number",
            ),
            (
                Type::Dynamic,
                vec![0x91, 0xc0],
                "Expected a dynamic value ([type, value] array), found an array",
            ),
            (
                Type::Dynamic,
                [&[0x92, 0xa4][..], b"\"no\"", &[0xc0]].concat(),
                "Invalid type specification: unknown primitive type \"no\"",
            ),
            (
                Type::list(Type::Bool),
                vec![0xdd, 0xff, 0xff, 0xff, 0xff],
                "Truncated msgpack at element 0",
            ),
            (
                Type::Bool,
                vec![0xc1],
                "Expected a bool, found the reserved marker 0xc1",
            ),
        ];
        for (ty, bytes, message) in cases {
            let err = decode(&bytes, &ty).unwrap_err();
            assert_eq!(err.to_string(), message, "{bytes:02x?}");
        }
    }

    #[test]
    fn nesting_dynamic_in_itself_is_bounded() {
        let ty_json = br#"["list","dynamic"]"#;
        let mut bytes = Vec::new();
        for _ in 0..(MAX_DEPTH * 2) {
            bytes.extend_from_slice(&[0x92, 0xc4, 18]);
            bytes.extend_from_slice(ty_json);
            bytes.push(0x91);
        }
        bytes.push(0xc0);
        let err = decode(&bytes, &Type::Dynamic).unwrap_err();
        assert!(matches!(err, ValueError::TooDeep { .. }), "{err}");
    }

    #[test]
    fn encoding_checks_the_value_against_the_type() {
        let obj = Type::object([("a", Type::Bool)]);
        let cases: Vec<(Type, Value, &str)> = vec![
            (
                Type::Bool,
                "x".into(),
                "Expected a value of type \"bool\", found a string",
            ),
            (
                Type::Dynamic,
                "x".into(),
                "Expected a value with its type (dynamic), found a string",
            ),
            (obj.clone(), Value::object([]), "Missing attribute \"a\""),
            (
                obj.clone(),
                Value::object([("a", true.into()), ("c", true.into())]),
                "Unsupported attribute \"c\"",
            ),
            (
                Type::list(obj),
                Value::List(vec![Value::object([("a", Value::from(1))])]),
                "Expected a value of type \"bool\" at element 0, attribute \"a\", found a number",
            ),
        ];
        for (ty, value, message) in cases {
            assert_eq!(encode(&value, &ty).unwrap_err().to_string(), message);
        }
        let optional = Type::object([("a", Type::Bool)]).with_optional(["a"]);
        assert_eq!(
            encode(&Value::object([]), &optional).unwrap(),
            vec![0x81, 0xa1, b'a', 0xc0]
        );
    }

    proptest! {
        #[test]
        fn round_trip((ty, value) in arb::typed_value(true)) {
            let bytes = encode(&value, &ty).unwrap();
            prop_assert_eq!(decode(&bytes, &ty).unwrap(), value);
        }
    }
}
