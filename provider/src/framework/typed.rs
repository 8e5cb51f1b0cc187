//! Typed values: a resource reads its configuration, plan and state into a Rust struct of
//! its own and writes state from one, instead of walking [`Value`]s attribute by attribute.
//!
//! ```ignore
//! #[derive(Deserialize, Serialize)]
//! struct PoolModel { hypervisor: Planned<String>, name: String, capacity: Option<u64> }
//!
//! let data: PoolModel = typed::from_value(&req.planned)?;   // a Diagnostic at the path
//! let state = typed::to_value(&data, &schema_type)?;        // missing attributes are null
//! ```
//!
//! Reading is a serde [`Deserializer`] over [`Value`] that keeps the attribute path, so a
//! value that does not fit (a number out of range, a string a `TryFrom` refuses, a field the
//! struct needs but the value lacks) becomes a [`Diagnostic`] at that path. Unknown values
//! are handled here and only here: a field of type [`Planned<T>`] takes them (a value
//! with an unknown part anywhere inside, such as a list with one unknown element, is
//! [`Planned::Unknown`] as a whole), any other field reports "not known until apply" at
//! its path. Null reads as `None`.
//!
//! Writing goes through JSON: the struct is serialised with `serde_json`, then read back
//! as a value of the schema's type by [`crate::protocol::json`], which fills attributes the
//! struct does not have with null and gives numbers, lists, sets and maps their cty kinds.
//! [`Planned::Unknown`] survives the trip as an unknown value.

use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::framework::diag::{AttributePath, Diagnostic};
use crate::protocol::json::{self, DecodeOptions};
use crate::protocol::value::{Type, Value};

/// The newtype-struct name [`Planned`] asks for, so the [`Value`] deserializer hands it
/// unknown values instead of refusing them.
const PLANNED: &str = "$rack::Planned";

/// The JSON text that stands for an unknown value on the way out; no user value can be it
/// because it starts with a NUL character.
const UNKNOWN_MARK: &str = "\u{0}rack:unknown";

/// A value that may not be known until apply: computed attributes in a plan, or
/// configuration that depends on another resource's result. It is known only when all of
/// it is: a list with one unknown element reads as [`Planned::Unknown`].
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Planned<T> {
    /// Not known until apply.
    #[default]
    Unknown,
    /// Known (which, for `Planned<Option<T>>`, includes null).
    Known(T),
}

impl<T> Planned<T> {
    /// The value, if known.
    pub fn known(&self) -> Option<&T> {
        match self {
            Planned::Known(v) => Some(v),
            Planned::Unknown => None,
        }
    }

    /// Whether the value is not known yet.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Planned::Unknown)
    }
}

impl<T> Planned<Option<T>> {
    /// The value, if known and not null: what a plan does not know yet reads as absent.
    pub fn value(&self) -> Option<&T> {
        self.known().and_then(Option::as_ref)
    }
}

impl<T> From<T> for Planned<T> {
    fn from(v: T) -> Self {
        Planned::Known(v)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Planned<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Planned<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value, or one not known until apply")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Planned::Unknown)
            }
            fn visit_newtype_struct<D: Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Self::Value, D::Error> {
                T::deserialize(d).map(Planned::Known)
            }
        }
        d.deserialize_newtype_struct(PLANNED, V(std::marker::PhantomData))
    }
}

impl<T: Serialize> Serialize for Planned<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Planned::Known(v) => v.serialize(s),
            Planned::Unknown => s.serialize_str(UNKNOWN_MARK),
        }
    }
}

/// Reads `value` (a configuration, plan or state) into `T`.
pub fn from_value<T: DeserializeOwned>(value: &Value) -> Result<T, Diagnostic> {
    T::deserialize(ValueDeserializer {
        value,
        path: AttributePath::root(),
    })
    .map_err(ReadError::into_diagnostic)
}

/// Writes `data` as a value of `ty`: attributes `data` does not have are null.
pub fn to_value<T: Serialize + ?Sized>(data: &T, ty: &Type) -> Result<Value, Diagnostic> {
    let bug = |what: String| {
        Diagnostic::error(
            "The provider produced a value that does not fit its schema",
            format!("{what}. This is a bug in the provider; please report it."),
        )
    };
    let mut json = serde_json::to_value(data).map_err(|e| bug(e.to_string()))?;
    let mut unknown = Vec::new();
    take_unknown_marks(&mut json, &mut Vec::new(), &mut unknown);
    let mut value =
        json::from_json(&json, ty, DecodeOptions::default()).map_err(|e| bug(e.to_string()))?;
    for path in unknown {
        if let Some(slot) = slot(&mut value, &path) {
            *slot = Value::Unknown;
        }
    }
    Ok(value)
}

/// One step into serialised JSON: an object key or an array index.
#[derive(Clone, Debug)]
enum JsonStep {
    Key(String),
    Index(usize),
}

/// Replaces every [`UNKNOWN_MARK`] in `json` with null and records where it was.
fn take_unknown_marks(
    json: &mut serde_json::Value,
    here: &mut Vec<JsonStep>,
    out: &mut Vec<Vec<JsonStep>>,
) {
    use serde_json::Value as J;
    match json {
        J::String(s) if s == UNKNOWN_MARK => {
            *json = J::Null;
            out.push(here.clone());
        }
        J::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                here.push(JsonStep::Index(i));
                take_unknown_marks(item, here, out);
                here.pop();
            }
        }
        J::Object(map) => {
            for (k, item) in map.iter_mut() {
                here.push(JsonStep::Key(k.clone()));
                take_unknown_marks(item, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

/// The value at `path` inside `value`, for overwriting.
fn slot<'a>(value: &'a mut Value, path: &[JsonStep]) -> Option<&'a mut Value> {
    let Some((step, rest)) = path.split_first() else {
        return Some(value);
    };
    let next = match (value, step) {
        (Value::Object(m) | Value::Map(m), JsonStep::Key(k)) => m.get_mut(k)?,
        (Value::List(v) | Value::Set(v) | Value::Tuple(v), JsonStep::Index(i)) => v.get_mut(*i)?,
        (Value::Dynamic { value, .. }, _) => return slot(value, path),
        _ => return None,
    };
    slot(next, rest)
}

/// Why a value could not be read, and where.
#[derive(Debug)]
struct ReadError {
    /// Where; `None` until the deserializer that saw the value attaches its path.
    path: Option<AttributePath>,
    message: String,
    /// The value is unknown where a known one is needed.
    unknown: bool,
}

impl ReadError {
    fn at(mut self, path: &AttributePath) -> Self {
        if self.path.is_none() {
            self.path = Some(path.clone());
        }
        self
    }

    fn into_diagnostic(self) -> Diagnostic {
        let path = self.path.unwrap_or_default();
        let name = if path.is_root() {
            "the resource".to_owned()
        } else {
            format!("`{path}`")
        };
        let d = if self.unknown {
            Diagnostic::error(
                format!("Value not known yet for {name}"),
                format!(
                    "{name} must be known when this operation runs, but it depends on a value \
                     that is only known after apply. Give a known value, or apply the resource \
                     it depends on first."
                ),
            )
        } else {
            Diagnostic::error(
                format!("Invalid value for {name}"),
                format!("{}. Change the value of {name}.", self.message),
            )
        };
        if path.is_root() { d } else { d.at(path) }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ReadError {}

impl de::Error for ReadError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ReadError {
            path: None,
            message: msg.to_string(),
            unknown: false,
        }
    }
}

/// A [`Value`] and where it sits, as a serde deserializer.
struct ValueDeserializer<'a> {
    value: &'a Value,
    path: AttributePath,
}

impl<'a> ValueDeserializer<'a> {
    fn unknown(&self) -> ReadError {
        ReadError {
            path: Some(self.path.clone()),
            message: "not known until apply".to_owned(),
            unknown: true,
        }
    }
}

impl<'de> Deserializer<'de> for ValueDeserializer<'de> {
    type Error = ReadError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ReadError> {
        let path = self.path.clone();
        let result = match self.value {
            Value::Unknown => return Err(self.unknown()),
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.to_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.to_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(n.to_f64())
                }
            }
            Value::String(s) => visitor.visit_borrowed_str(s),
            Value::List(items) | Value::Tuple(items) => visitor.visit_seq(Elements {
                items: items.iter(),
                index: 0,
                path: &self.path,
                indexed: true,
            }),
            // Terraform cannot point into a set by position: errors name the set itself.
            Value::Set(items) => visitor.visit_seq(Elements {
                items: items.iter(),
                index: 0,
                path: &self.path,
                indexed: false,
            }),
            Value::Object(m) => visitor.visit_map(Entries {
                entries: m.iter(),
                pending: None,
                path: &self.path,
                object: true,
            }),
            Value::Map(m) => visitor.visit_map(Entries {
                entries: m.iter(),
                pending: None,
                path: &self.path,
                object: false,
            }),
            Value::Dynamic { value, .. } => ValueDeserializer {
                value,
                path: self.path.clone(),
            }
            .deserialize_any(visitor),
        };
        result.map_err(|e| e.at(&path))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ReadError> {
        let path = self.path.clone();
        match self.value {
            Value::Null => visitor.visit_none(),
            Value::Unknown => Err(self.unknown()),
            _ => visitor.visit_some(self),
        }
        .map_err(|e| e.at(&path))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ReadError> {
        let path = self.path.clone();
        if name == PLANNED && !self.value.is_fully_known() {
            return visitor.visit_unit().map_err(|e: ReadError| e.at(&path));
        }
        visitor.visit_newtype_struct(self).map_err(|e| e.at(&path))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ReadError> {
        let path = self.path.clone();
        match self.value {
            // Unit variants, as strings: `mode = "nat"`.
            Value::String(s) => visitor
                .visit_enum(s.as_str().into_deserializer())
                .map_err(|e: ReadError| e.at(&path)),
            Value::Unknown => Err(self.unknown()),
            other => Err(de::Error::custom(format!(
                "expected a string naming a choice, found {}",
                other.kind()
            )))
            .map_err(|e: ReadError| e.at(&path)),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }

    /// Attributes the struct does not have are skipped, whatever they hold.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ReadError> {
        visitor.visit_unit()
    }
}

/// The elements of a list, set or tuple.
struct Elements<'a, I> {
    items: I,
    index: usize,
    path: &'a AttributePath,
    indexed: bool,
}

impl<'de, I: Iterator<Item = &'de Value>> SeqAccess<'de> for Elements<'_, I> {
    type Error = ReadError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ReadError> {
        let Some(value) = self.items.next() else {
            return Ok(None);
        };
        let path = if self.indexed {
            self.path.join_index(self.index)
        } else {
            self.path.clone()
        };
        self.index += 1;
        seed.deserialize(ValueDeserializer { value, path })
            .map(Some)
    }
}

/// The attributes of an object, or the entries of a map.
struct Entries<'p, 'de, I> {
    entries: I,
    pending: Option<(&'de str, &'de Value)>,
    path: &'p AttributePath,
    object: bool,
}

impl<'de, I: Iterator<Item = (&'de String, &'de Value)>> MapAccess<'de> for Entries<'_, 'de, I> {
    type Error = ReadError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ReadError> {
        let Some((k, v)) = self.entries.next() else {
            return Ok(None);
        };
        self.pending = Some((k.as_str(), v));
        seed.deserialize(k.as_str().into_deserializer()).map(Some)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, ReadError> {
        let Some((k, value)) = self.pending.take() else {
            return Err(de::Error::custom(
                "a map value was asked for before its key",
            ));
        };
        let path = if self.object {
            self.path.join_attr(k)
        } else {
            self.path.join_key(k)
        };
        seed.deserialize(ValueDeserializer { value, path })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Serialize};

    use super::*;
    use crate::protocol::value::Number;

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Nat,
        Isolated,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Disk {
        pool: String,
        size: Option<u64>,
    }

    #[derive(Debug, Deserialize, Serialize, PartialEq)]
    struct Model {
        name: String,
        id: Planned<String>,
        vcpus: u32,
        mode: Mode,
        comment: Option<String>,
        disk: Vec<Disk>,
        tags: BTreeMap<String, String>,
        ranges: Vec<String>,
    }

    fn ty() -> Type {
        Type::object([
            ("name", Type::String),
            ("id", Type::String),
            ("vcpus", Type::Number),
            ("mode", Type::String),
            ("comment", Type::String),
            ("extra", Type::Bool),
            (
                "disk",
                Type::List(Box::new(Type::object([
                    ("pool", Type::String),
                    ("size", Type::Number),
                ]))),
            ),
            ("tags", Type::Map(Box::new(Type::String))),
            ("ranges", Type::Set(Box::new(Type::String))),
        ])
    }

    fn value() -> Value {
        Value::object([
            ("name", Value::from("web1")),
            ("id", Value::Unknown),
            ("vcpus", Value::Number(Number::from(2i64))),
            ("mode", Value::from("nat")),
            ("comment", Value::Null),
            ("extra", Value::Null),
            (
                "disk",
                Value::List(vec![Value::object([
                    ("pool", Value::from("vms")),
                    ("size", Value::Number(Number::from(10i64))),
                ])]),
            ),
            (
                "tags",
                Value::Map(BTreeMap::from([("env".to_owned(), Value::from("prod"))])),
            ),
            (
                "ranges",
                Value::Set(vec![Value::from("a"), Value::from("b")]),
            ),
        ])
    }

    #[test]
    fn reads_and_writes_a_model() {
        let m: Model = from_value(&value()).unwrap();
        assert_eq!(m.name, "web1");
        assert!(m.id.is_unknown());
        assert_eq!(m.vcpus, 2);
        assert_eq!(m.mode, Mode::Nat);
        assert_eq!(m.comment, None);
        assert_eq!(
            m.disk,
            vec![Disk {
                pool: "vms".into(),
                size: Some(10)
            }]
        );
        assert_eq!(m.tags["env"], "prod");
        let back = to_value(&m, &ty()).unwrap();
        assert_eq!(back, value());
        assert!(back.conforms(&ty()));
    }

    #[test]
    fn a_value_that_does_not_fit_points_at_its_path() {
        let mut v = value();
        if let Value::Object(m) = &mut v {
            m.insert(
                "disk".into(),
                Value::List(vec![
                    Value::object([("pool", Value::from("vms")), ("size", Value::Null)]),
                    Value::object([
                        ("pool", Value::from("vms")),
                        ("size", Value::Number(Number::from(-1i64))),
                    ]),
                ]),
            );
        }
        let d = from_value::<Model>(&v).unwrap_err();
        assert_eq!(d.attribute.unwrap().to_string(), "disk[1].size");
        assert!(d.summary.contains("disk[1].size"), "{}", d.summary);

        let mut v = value();
        if let Value::Object(m) = &mut v {
            m.insert("mode".into(), Value::from("bridge"));
        }
        let d = from_value::<Model>(&v).unwrap_err();
        assert_eq!(d.attribute.unwrap().to_string(), "mode");
        assert!(d.detail.contains("bridge"), "{}", d.detail);

        let mut v = value();
        if let Value::Object(m) = &mut v {
            m.insert(
                "tags".into(),
                Value::Map(BTreeMap::from([("env".to_owned(), Value::Bool(true))])),
            );
        }
        let d = from_value::<Model>(&v).unwrap_err();
        assert_eq!(d.attribute.unwrap().to_string(), "tags[\"env\"]");
    }

    #[test]
    fn unknown_is_refused_except_where_planned() {
        let mut v = value();
        if let Value::Object(m) = &mut v {
            m.insert("name".into(), Value::Unknown);
        }
        let d = from_value::<Model>(&v).unwrap_err();
        assert_eq!(d.attribute.unwrap().to_string(), "name");
        assert!(
            d.summary.starts_with("Value not known yet"),
            "{}",
            d.summary
        );

        let mut v = value();
        if let Value::Object(m) = &mut v {
            m.insert("comment".into(), Value::Unknown);
        }
        assert!(from_value::<Model>(&v).is_err());
    }

    #[test]
    fn planned_is_unknown_when_any_part_is() {
        #[derive(Debug, Deserialize)]
        struct Partly {
            names: Planned<Option<Vec<String>>>,
            n: Planned<Option<u64>>,
        }
        let v = Value::object([
            ("names", Value::List(vec![Value::from("a"), Value::Unknown])),
            ("n", Value::Null),
        ]);
        let p: Partly = from_value(&v).unwrap();
        assert!(p.names.is_unknown());
        assert_eq!(p.n, Planned::Known(None));
        assert_eq!(p.n.value(), None);
        let v = Value::object([
            ("names", Value::List(vec![Value::from("a")])),
            ("n", Value::Number(Number::from(3i64))),
        ]);
        let p: Partly = from_value(&v).unwrap();
        assert_eq!(p.names.value(), Some(&vec!["a".to_owned()]));
        assert_eq!(p.n.value(), Some(&3));
    }

    #[test]
    fn unknown_inside_lists_survives_writing() {
        #[derive(Serialize)]
        struct Out {
            names: Vec<Planned<String>>,
            n: Planned<u64>,
        }
        let ty = Type::object([
            ("names", Type::List(Box::new(Type::String))),
            ("n", Type::Number),
        ]);
        let v = to_value(
            &Out {
                names: vec![Planned::Known("a".into()), Planned::Unknown],
                n: Planned::Unknown,
            },
            &ty,
        )
        .unwrap();
        assert_eq!(
            v,
            Value::object([
                ("names", Value::List(vec![Value::from("a"), Value::Unknown])),
                ("n", Value::Unknown),
            ])
        );
    }

    #[test]
    fn a_missing_field_names_the_object() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Needs {
            name: String,
            absent: String,
        }
        let d = from_value::<Needs>(&value()).unwrap_err();
        assert!(d.detail.contains("absent"), "{}", d.detail);
        assert!(d.attribute.is_none());
    }
}
