//! OVSDB's JSON notation of values (RFC 7047 section 5.1): atoms, `["set", [...]]`,
//! `["map", [[k, v], ...]]`, `["uuid", "..."]` and `["named-uuid", "..."]`. No I/O.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// `["uuid", u]`.
pub fn uuid(u: &str) -> Value {
    json!(["uuid", u])
}

/// `["named-uuid", n]`: a row inserted earlier in the same transaction.
pub fn named(n: &str) -> Value {
    json!(["named-uuid", n])
}

/// A set of atoms.
pub fn set(atoms: impl IntoIterator<Item = Value>) -> Value {
    json!(["set", atoms.into_iter().collect::<Vec<_>>()])
}

/// An optional atom: the empty set for `None`.
pub fn optional<T: Into<Value>>(v: Option<T>) -> Value {
    match v {
        Some(v) => v.into(),
        None => set([]),
    }
}

/// A string-to-string map.
pub fn map(m: &BTreeMap<String, String>) -> Value {
    json!([
        "map",
        m.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>()
    ])
}

/// The atoms of a set column (a lone atom is a set of one).
pub fn atoms(v: &Value) -> Vec<&Value> {
    match v.as_array().map(Vec::as_slice) {
        Some([tag, Value::Array(items)]) if tag == "set" => items.iter().collect(),
        _ => vec![v],
    }
}

/// The uuid of `["uuid", u]`.
pub fn as_uuid(v: &Value) -> Option<&str> {
    match v.as_array().map(Vec::as_slice) {
        Some([tag, Value::String(u)]) if tag == "uuid" => Some(u),
        _ => None,
    }
}

/// The uuids of a set of references.
pub fn uuids(v: &Value) -> Vec<String> {
    atoms(v)
        .into_iter()
        .filter_map(as_uuid)
        .map(str::to_owned)
        .collect()
}

/// A string map column; values that are not strings are skipped.
pub fn as_map(v: &Value) -> BTreeMap<String, String> {
    match v.as_array().map(Vec::as_slice) {
        Some([tag, Value::Array(pairs)]) if tag == "map" => pairs
            .iter()
            .filter_map(|p| match p.as_array().map(Vec::as_slice) {
                Some([Value::String(k), Value::String(v)]) => Some((k.clone(), v.clone())),
                _ => None,
            })
            .collect(),
        _ => BTreeMap::new(),
    }
}

/// An optional string column (`None` for the empty set).
pub fn opt_string(v: &Value) -> Option<String> {
    atoms(v).first().and_then(|a| a.as_str()).map(str::to_owned)
}

/// An optional integer column.
pub fn opt_int(v: &Value) -> Option<i64> {
    atoms(v).first().and_then(|a| a.as_i64())
}

/// An integer set column.
pub fn ints(v: &Value) -> Vec<i64> {
    atoms(v).into_iter().filter_map(Value::as_i64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_read_back_what_is_written() {
        let m: BTreeMap<String, String> = [("peer".to_owned(), "p2".to_owned())].into();
        assert_eq!(as_map(&map(&m)), m);
        assert_eq!(ints(&set([json!(10), json!(20)])), vec![10, 20]);
        assert_eq!(ints(&json!(10)), vec![10]);
        assert_eq!(opt_int(&optional::<i64>(None)), None);
        assert_eq!(opt_string(&json!("access")).as_deref(), Some("access"));
        assert_eq!(uuids(&set([uuid("a"), uuid("b")])), vec!["a", "b"]);
        assert_eq!(uuids(&uuid("a")), vec!["a"]);
    }
}
