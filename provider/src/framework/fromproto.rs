//! Protobuf messages -> framework types. Pure: no I/O, no state.

use crate::framework::diag::{AttributePath, PathStep};
use crate::protocol::proto::tfplugin6 as pb;
use crate::protocol::value::{Type, Value, ValueError};
use crate::protocol::{json, msgpack};

/// Decodes a DynamicValue: msgpack when present, else JSON; an absent or empty value is null.
pub fn dynamic_value(v: Option<&pb::DynamicValue>, ty: &Type) -> Result<Value, ValueError> {
    match v {
        Some(d) if !d.msgpack.is_empty() => msgpack::decode(&d.msgpack, ty),
        Some(d) if !d.json.is_empty() => json::decode(&d.json, ty),
        _ => Ok(Value::Null),
    }
}

/// Decodes identity data, if present.
pub fn identity(
    v: Option<&pb::ResourceIdentityData>,
    ty: &Type,
) -> Result<Option<Value>, ValueError> {
    match v.and_then(|i| i.identity_data.as_ref()) {
        Some(d) => dynamic_value(Some(d), ty).map(Some),
        None => Ok(None),
    }
}

/// An attribute path.
pub fn attribute_path(p: &pb::AttributePath) -> AttributePath {
    use pb::attribute_path::step::Selector;
    AttributePath(
        p.steps
            .iter()
            .filter_map(|s| s.selector.as_ref())
            .map(|s| match s {
                Selector::AttributeName(n) => PathStep::Attribute(n.clone()),
                Selector::ElementKeyString(k) => PathStep::Key(k.clone()),
                Selector::ElementKeyInt(i) => PathStep::Index(*i),
            })
            .collect(),
    )
}

/// What the client (Terraform or OpenTofu) says it supports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClientCapabilities {
    /// Deferred responses are understood.
    pub deferral_allowed: bool,
    /// Write-only attributes are understood.
    pub write_only_attributes_allowed: bool,
}

/// Client capabilities; absent means none.
pub fn client_capabilities(c: Option<&pb::ClientCapabilities>) -> ClientCapabilities {
    c.map(|c| ClientCapabilities {
        deferral_allowed: c.deferral_allowed,
        write_only_attributes_allowed: c.write_only_attributes_allowed,
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::toproto;

    #[test]
    fn empty_dynamic_value_is_null() {
        assert_eq!(dynamic_value(None, &Type::String).ok(), Some(Value::Null));
        let empty = pb::DynamicValue::default();
        assert_eq!(
            dynamic_value(Some(&empty), &Type::String).ok(),
            Some(Value::Null)
        );
    }

    #[test]
    fn json_dynamic_value_decodes() {
        let d = pb::DynamicValue {
            msgpack: Vec::new(),
            json: br#"{"a":"x"}"#.to_vec(),
        };
        let ty = Type::object([("a", Type::String)]);
        let v = dynamic_value(Some(&d), &ty).ok();
        assert_eq!(
            v.as_ref().and_then(|v| v.attr("a")).and_then(Value::as_str),
            Some("x")
        );
    }

    #[test]
    fn path_round_trip() {
        let p = AttributePath::attr("x").join_key("k").join_index(3);
        assert_eq!(attribute_path(&toproto::attribute_path(&p)), p);
    }

    #[test]
    fn msgpack_round_trip() {
        let ty = Type::object([("a", Type::String), ("n", Type::Number)]);
        let v = Value::Object(
            [
                ("a".to_string(), Value::String("x".into())),
                ("n".to_string(), Value::Unknown),
            ]
            .into(),
        );
        let d = toproto::dynamic_value(&v, &ty).ok();
        assert_eq!(dynamic_value(d.as_ref(), &ty).ok(), Some(v));
    }
}
