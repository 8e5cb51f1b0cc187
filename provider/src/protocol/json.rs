//! The JSON encoding of cty values, as carried in `DynamicValue.json` and `RawState.json`.
//!
//! - null is `null`; JSON has no unknown values, so encoding one is an error;
//! - numbers are JSON numbers, kept exact; text holding a number is accepted too, and like
//!   cty a string also accepts a number or bool, and a bool accepts `"true"`/`"false"`;
//! - lists, sets and tuples are arrays; maps and objects are objects. Attributes missing from
//!   an object decode as null, as in cty;
//! - a value whose schema type is dynamic is `{"value": ..., "type": <type JSON>}`.

use std::collections::BTreeMap;

use serde_json::Value as Json;

use super::value::{MAX_DEPTH, Number, PathStep, Type, Value, ValueError, ValuePath};

/// Choices for [`decode_with`].
#[derive(Clone, Copy, Debug, Default)]
pub struct DecodeOptions {
    /// Drop object attributes the type does not declare instead of failing; useful for
    /// state written by an older schema.
    pub ignore_undefined_attributes: bool,
}

/// Decodes a JSON value of type `ty`.
pub fn decode(bytes: &[u8], ty: &Type) -> Result<Value, ValueError> {
    decode_with(bytes, ty, DecodeOptions::default())
}

/// Decodes a JSON value of type `ty`, with options.
pub fn decode_with(bytes: &[u8], ty: &Type, options: DecodeOptions) -> Result<Value, ValueError> {
    // serde_json limits nesting to 128 levels while parsing.
    let json: Json = serde_json::from_slice(bytes).map_err(|source| ValueError::Json {
        path: ValuePath::default(),
        source,
    })?;
    from_json(&json, ty, options)
}

/// Interprets already parsed JSON as a value of type `ty`.
pub fn from_json(json: &Json, ty: &Type, options: DecodeOptions) -> Result<Value, ValueError> {
    Decoder {
        path: Vec::new(),
        options,
        depth: 0,
    }
    .value(json, ty)
}

/// Encodes `value` as JSON of type `ty`. Fails on unknown values and infinities.
pub fn encode(value: &Value, ty: &Type) -> Result<Vec<u8>, ValueError> {
    Ok(to_json(value, ty)?.to_string().into_bytes())
}

/// The JSON form of `value`, of type `ty`.
pub fn to_json(value: &Value, ty: &Type) -> Result<Json, ValueError> {
    Encoder { path: Vec::new() }.value(value, ty)
}

fn describe(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a bool",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

struct Decoder {
    path: Vec<PathStep>,
    options: DecodeOptions,
    /// Values being decoded, outermost included.
    depth: usize,
}

impl Decoder {
    fn here(&self) -> ValuePath {
        ValuePath(self.path.clone())
    }

    fn mismatch(&self, expected: &str, found: &Json) -> ValueError {
        ValueError::Mismatch {
            path: self.here(),
            expected: expected.to_owned(),
            found: describe(found).to_owned(),
        }
    }

    fn number(&self, text: &str) -> Result<Number, ValueError> {
        text.parse().map_err(|_| ValueError::InvalidNumber {
            path: self.here(),
            text: text.chars().take(64).collect(),
        })
    }

    fn elements(&mut self, items: &[Json], ty: &Type) -> Result<Vec<Value>, ValueError> {
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            self.path.push(PathStep::Index(i));
            out.push(self.value(item, ty)?);
            self.path.pop();
        }
        Ok(out)
    }

    fn value(&mut self, json: &Json, ty: &Type) -> Result<Value, ValueError> {
        if self.depth >= MAX_DEPTH {
            return Err(ValueError::TooDeep { path: self.here() });
        }
        self.depth += 1;
        let result = self.value_inner(json, ty);
        self.depth -= 1;
        result
    }

    fn value_inner(&mut self, json: &Json, ty: &Type) -> Result<Value, ValueError> {
        if json.is_null() {
            return Ok(Value::Null);
        }
        match (ty, json) {
            (Type::Dynamic, Json::Object(fields)) => {
                if let Some(key) = fields.keys().find(|k| *k != "type" && *k != "value") {
                    return Err(ValueError::UnsupportedAttribute {
                        path: self.here(),
                        name: key.clone(),
                    });
                }
                let missing = |name: &str| ValueError::MissingAttribute {
                    path: self.here(),
                    name: name.to_owned(),
                };
                let type_json = fields.get("type").ok_or_else(|| missing("type"))?;
                let value_json = fields.get("value").ok_or_else(|| missing("value"))?;
                let inner = Type::from_json_value(type_json)?;
                if inner == Type::Dynamic {
                    return Err(ValueError::InvalidType {
                        reason: "a dynamic value must name a concrete type".to_owned(),
                    });
                }
                let value = self.value(value_json, &inner)?;
                Ok(Value::Dynamic {
                    ty: inner,
                    value: Box::new(value),
                })
            }
            (Type::Dynamic, other) => {
                Err(self.mismatch("a dynamic value ({\"value\", \"type\"} object)", other))
            }
            (Type::Bool, Json::Bool(b)) => Ok(Value::Bool(*b)),
            (Type::Bool, Json::String(s)) if s == "true" || s == "false" => {
                Ok(Value::Bool(s == "true"))
            }
            (Type::Number, Json::Number(n)) => Ok(Value::Number(self.number(&n.to_string())?)),
            (Type::Number, Json::String(s)) => Ok(Value::Number(self.number(s)?)),
            (Type::String, Json::String(s)) => Ok(Value::String(s.clone())),
            (Type::String, Json::Number(n)) => Ok(Value::String(n.to_string())),
            (Type::String, Json::Bool(b)) => Ok(Value::String(b.to_string())),
            (Type::List(e), Json::Array(items)) => Ok(Value::List(self.elements(items, e)?)),
            (Type::Set(e), Json::Array(items)) => Ok(Value::Set(self.elements(items, e)?)),
            (Type::Tuple(types), Json::Array(items)) => {
                if items.len() != types.len() {
                    return Err(ValueError::TupleLength {
                        path: self.here(),
                        expected: types.len(),
                        found: items.len(),
                    });
                }
                let mut out = Vec::with_capacity(items.len());
                for (i, (item, t)) in items.iter().zip(types).enumerate() {
                    self.path.push(PathStep::Index(i));
                    out.push(self.value(item, t)?);
                    self.path.pop();
                }
                Ok(Value::Tuple(out))
            }
            (Type::Map(e), Json::Object(fields)) => {
                let mut out = BTreeMap::new();
                for (key, item) in fields {
                    self.path.push(PathStep::Key(key.clone()));
                    out.insert(key.clone(), self.value(item, e)?);
                    self.path.pop();
                }
                Ok(Value::Map(out))
            }
            (Type::Object { attributes, .. }, Json::Object(fields)) => {
                let mut out = BTreeMap::new();
                for (name, item) in fields {
                    let Some(t) = attributes.get(name) else {
                        if self.options.ignore_undefined_attributes {
                            continue;
                        }
                        return Err(ValueError::UnsupportedAttribute {
                            path: self.here(),
                            name: name.clone(),
                        });
                    };
                    self.path.push(PathStep::Attribute(name.clone()));
                    out.insert(name.clone(), self.value(item, t)?);
                    self.path.pop();
                }
                for name in attributes.keys() {
                    out.entry(name.clone()).or_insert(Value::Null);
                }
                Ok(Value::Object(out))
            }
            (ty, other) => Err(self.mismatch(&format!("a {}", ty.kind()), other)),
        }
    }
}

struct Encoder {
    path: Vec<PathStep>,
}

impl Encoder {
    fn here(&self) -> ValuePath {
        ValuePath(self.path.clone())
    }

    fn elements<'a>(
        &mut self,
        items: impl Iterator<Item = (&'a Value, &'a Type)>,
    ) -> Result<Json, ValueError> {
        let mut out = Vec::new();
        for (i, (item, t)) in items.enumerate() {
            self.path.push(PathStep::Index(i));
            out.push(self.value(item, t)?);
            self.path.pop();
        }
        Ok(Json::Array(out))
    }

    fn value(&mut self, value: &Value, ty: &Type) -> Result<Json, ValueError> {
        Ok(match (value, ty) {
            (Value::Unknown, _) => return Err(ValueError::UnknownInJson { path: self.here() }),
            (Value::Null, _) => Json::Null,
            (Value::Dynamic { ty: inner, value }, Type::Dynamic) if *inner != Type::Dynamic => {
                let mut fields = serde_json::Map::new();
                fields.insert("value".to_owned(), self.value(value, inner)?);
                fields.insert("type".to_owned(), inner.to_json());
                Json::Object(fields)
            }
            (Value::Bool(b), Type::Bool) => Json::Bool(*b),
            (Value::Number(n), Type::Number) => {
                if n.is_infinite() {
                    return Err(ValueError::InfiniteInJson { path: self.here() });
                }
                let text = n.to_string();
                let number =
                    text.parse::<serde_json::Number>()
                        .map_err(|_| ValueError::InvalidNumber {
                            path: self.here(),
                            text: text.chars().take(64).collect(),
                        })?;
                Json::Number(number)
            }
            (Value::String(s), Type::String) => Json::String(s.clone()),
            (Value::List(items), Type::List(e)) | (Value::Set(items), Type::Set(e)) => {
                self.elements(items.iter().map(|item| (item, &**e)))?
            }
            (Value::Tuple(items), Type::Tuple(types)) => {
                if items.len() != types.len() {
                    return Err(ValueError::TupleLength {
                        path: self.here(),
                        expected: types.len(),
                        found: items.len(),
                    });
                }
                self.elements(items.iter().zip(types))?
            }
            (Value::Map(items), Type::Map(e)) => {
                let mut out = serde_json::Map::new();
                for (key, item) in items {
                    self.path.push(PathStep::Key(key.clone()));
                    out.insert(key.clone(), self.value(item, e)?);
                    self.path.pop();
                }
                Json::Object(out)
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
                let mut out = serde_json::Map::new();
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
                    self.path.push(PathStep::Attribute(name.clone()));
                    out.insert(name.clone(), self.value(item, t)?);
                    self.path.pop();
                }
                Json::Object(out)
            }
            (value, ty) => {
                let expected = match ty {
                    Type::Dynamic => "a value with its type (dynamic)".to_owned(),
                    other => format!("a value of type {other}"),
                };
                return Err(ValueError::Mismatch {
                    path: self.here(),
                    expected,
                    found: value.kind().to_owned(),
                });
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::protocol::value::arb::{self, dynamic, num};
    use proptest::prelude::*;

    /// (type, value, text as encoded; decoding the text gives the value back).
    fn canonical() -> Vec<(Type, Value, &'static str)> {
        let obj = Type::object([("name", Type::String), ("tags", Type::map(Type::String))]);
        vec![
            (Type::Bool, Value::Bool(true), "true"),
            (Type::Bool, Value::Null, "null"),
            (Type::Number, num("42"), "42"),
            (Type::Number, num("-0.25"), "-0.25"),
            (Type::Number, num("1e3"), "1000"),
            (
                Type::Number,
                num("123456789012345678901234567890.000000000000000000001"),
                "123456789012345678901234567890.000000000000000000001",
            ),
            (Type::String, Value::from("a\"b\n"), r#""a\"b\n""#),
            (
                Type::set(Type::Number),
                Value::Set(vec![num("1"), num("2")]),
                "[1,2]",
            ),
            (
                Type::list(Type::String),
                Value::List(vec!["a".into(), Value::Null]),
                r#"["a",null]"#,
            ),
            (
                Type::Tuple(vec![Type::Bool, Type::String]),
                Value::Tuple(vec![false.into(), "x".into()]),
                r#"[false,"x"]"#,
            ),
            (
                obj.clone(),
                Value::object([
                    ("name", "vm".into()),
                    ("tags", Value::Map([("k".to_owned(), "v".into())].into())),
                ]),
                r#"{"name":"vm","tags":{"k":"v"}}"#,
            ),
            (
                Type::Dynamic,
                dynamic(Type::list(Type::Number), Value::List(vec![num("1")])),
                r#"{"value":[1],"type":["list","number"]}"#,
            ),
            (
                Type::Dynamic,
                dynamic(Type::String, Value::Null),
                r#"{"value":null,"type":"string"}"#,
            ),
            (Type::Dynamic, Value::Null, "null"),
            (
                Type::object([("d", Type::Dynamic)]),
                Value::object([("d", dynamic(Type::Bool, true.into()))]),
                r#"{"d":{"value":true,"type":"bool"}}"#,
            ),
        ]
    }

    #[test]
    fn canonical_text_both_ways() {
        for (ty, value, text) in canonical() {
            assert_eq!(
                String::from_utf8(encode(&value, &ty).unwrap()).unwrap(),
                text,
                "encode {value:?}"
            );
            assert_eq!(
                decode(text.as_bytes(), &ty).unwrap(),
                value,
                "decode {text}"
            );
        }
    }

    #[test]
    fn lenient_forms_decode_as_cty_does() {
        let obj = Type::object([("a", Type::String), ("b", Type::Number)]);
        let cases: Vec<(Type, &str, Value)> = vec![
            (Type::Number, r#""12.5""#, num("12.5")),
            (
                Type::Number,
                r#""-Inf""#,
                Value::Number(Number::infinity(true)),
            ),
            (Type::Number, "1.0e2", num("100")),
            (Type::String, "12.50", "12.50".into()),
            (Type::String, "true", "true".into()),
            (Type::Bool, r#""false""#, false.into()),
            (
                obj.clone(),
                r#"{"b":1}"#,
                Value::object([("a", Value::Null), ("b", num("1"))]),
            ),
            (
                Type::Dynamic,
                r#"{"type":"number","value":"7"}"#,
                dynamic(Type::Number, num("7")),
            ),
        ];
        for (ty, text, want) in cases {
            assert_eq!(decode(text.as_bytes(), &ty).unwrap(), want, "{text}");
        }
        let lenient = DecodeOptions {
            ignore_undefined_attributes: true,
        };
        assert_eq!(
            decode_with(br#"{"a":"x","gone":1}"#, &obj, lenient).unwrap(),
            Value::object([("a", "x".into()), ("b", Value::Null)])
        );
    }

    #[test]
    fn bad_input_is_an_error_with_a_path() {
        let obj = Type::object([("a", Type::list(Type::Number))]);
        let cases: Vec<(Type, &str, &str)> = vec![
            (Type::Bool, "tru", "Malformed JSON"),
            (Type::Bool, "1", "Expected a bool, found a number"),
            (Type::Bool, r#""yes""#, "Expected a bool, found a string"),
            (Type::Number, r#""1x""#, "Invalid number \"1x\""),
            (
                obj.clone(),
                r#"{"a":[1,true]}"#,
                "Expected a number at attribute \"a\", element 1, found a bool",
            ),
            (obj.clone(), r#"{"z":1}"#, "Unsupported attribute \"z\""),
            (
                Type::Tuple(vec![Type::Bool]),
                "[true,false]",
                "Expected a tuple of 1 element(s), found 2",
            ),
            (
                Type::map(Type::Number),
                r#"{"k":{}}"#,
                "Expected a number at key \"k\", found an object",
            ),
            (
                Type::Dynamic,
                r#"{"value":1}"#,
                "Missing attribute \"type\"",
            ),
            (
                Type::Dynamic,
                r#"{"value":1,"type":"number","x":2}"#,
                "Unsupported attribute \"x\"",
            ),
            (
                Type::Dynamic,
                "1",
                "Expected a dynamic value ({\"value\", \"type\"} object), found a number",
            ),
        ];
        for (ty, text, message) in cases {
            let err = decode(text.as_bytes(), &ty).unwrap_err();
            assert_eq!(err.to_string(), message, "{text}");
        }
    }

    #[test]
    fn encoding_rejects_what_json_cannot_say() {
        let ty = Type::object([("a", Type::list(Type::Number))]);
        let unknown = Value::object([("a", Value::List(vec![num("1"), Value::Unknown]))]);
        assert_eq!(
            encode(&unknown, &ty).unwrap_err().to_string(),
            "Unknown value cannot be written as JSON at attribute \"a\", element 1"
        );
        let infinite = Value::Number(Number::infinity(false));
        assert_eq!(
            encode(&infinite, &Type::Number).unwrap_err().to_string(),
            "Infinite number cannot be written as JSON"
        );
        assert!(encode(&"x".into(), &Type::Dynamic).is_err());
        assert!(encode(&Value::object([]), &ty).is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let mut ty = Type::Bool;
        for _ in 0..100 {
            ty = Type::list(ty);
        }
        let text = format!("{}{}", "[".repeat(100), "]".repeat(100));
        let err = decode(text.as_bytes(), &ty).unwrap_err();
        assert!(matches!(err, ValueError::TooDeep { .. }), "{err}");
    }

    proptest! {
        #[test]
        fn round_trip((ty, value) in arb::typed_value(false)) {
            let bytes = encode(&value, &ty).unwrap();
            prop_assert_eq!(decode(&bytes, &ty).unwrap(), value);
        }
    }
}
