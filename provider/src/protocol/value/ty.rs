//! cty types, and their JSON form in schemas and dynamic values.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::{MAX_DEPTH, ValueError, ValuePath};

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
