//! Environment-variable fallbacks for provider configuration: every setting of the provider
//! block can also come from the variable its attribute names.

use std::collections::BTreeMap;

use crate::framework::diag::{AttributePath, Diagnostics};
use crate::framework::schema::{AttributeType, Block};
use crate::protocol::value::{Number, Type, Value};

/// Fills attributes that the configuration leaves null from their environment variables,
/// read through `lookup`. Values that do not parse as the attribute's type are errors at
/// that attribute. Secrets are never echoed in diagnostics.
pub fn apply_env(
    block: &Block,
    config: &mut Value,
    path: &AttributePath,
    lookup: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) {
    let Value::Object(attrs) = config else { return };
    fill(block, attrs, path, lookup, diags);
}

fn fill(
    block: &Block,
    attrs: &mut BTreeMap<String, Value>,
    path: &AttributePath,
    lookup: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) {
    for a in &block.attributes {
        let Some(var) = a.env else { continue };
        let current = attrs.entry(a.name.clone()).or_insert(Value::Null);
        if !current.is_null() {
            continue;
        }
        let Some(text) = lookup(var) else { continue };
        let AttributeType::Plain(ty) = &a.ty else {
            continue;
        };
        match parse(ty, &text) {
            Some(v) => *current = v,
            None => diags.error_at(
                path.join_attr(&a.name),
                format!("Invalid value in environment variable {var}"),
                format!("{var} must hold a {} for `{}`.", type_word(ty), a.name),
            ),
        }
    }
}

fn parse(ty: &Type, text: &str) -> Option<Value> {
    match ty {
        Type::String => Some(Value::String(text.to_string())),
        Type::Bool => match text.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" => Some(Value::Bool(true)),
            "0" | "false" | "no" => Some(Value::Bool(false)),
            _ => None,
        },
        Type::Number => text.trim().parse::<Number>().ok().map(Value::Number),
        _ => None,
    }
}

fn type_word(ty: &Type) -> &'static str {
    match ty {
        Type::Bool => "boolean (true or false)",
        Type::Number => "number",
        _ => "string",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::schema::Attribute;

    #[test]
    fn env_fills_only_null_attributes() {
        let block = Block::new("").attributes([
            Attribute::string("address")
                .optional()
                .env("RACK_X_ADDRESS"),
            Attribute::number("retries")
                .optional()
                .env("RACK_X_RETRIES"),
            Attribute::string("other").optional().env("RACK_X_OTHER"),
        ]);
        let mut config = Value::Object(
            [
                ("address".to_string(), Value::Null),
                ("retries".to_string(), Value::Null),
                ("other".to_string(), Value::String("set".into())),
            ]
            .into(),
        );
        let lookup = |k: &str| match k {
            "RACK_X_ADDRESS" => Some("127.0.0.1:53".to_string()),
            "RACK_X_RETRIES" => Some("3".to_string()),
            "RACK_X_OTHER" => Some("from-env".to_string()),
            _ => None,
        };
        let mut diags = Diagnostics::new();
        apply_env(
            &block,
            &mut config,
            &AttributePath::root(),
            &lookup,
            &mut diags,
        );
        assert!(diags.is_empty());
        assert_eq!(
            config.attr("address").and_then(Value::as_str),
            Some("127.0.0.1:53")
        );
        assert_eq!(config.attr("retries"), Some(&Value::Number(3.into())));
        assert_eq!(config.attr("other").and_then(Value::as_str), Some("set"));
    }

    #[test]
    fn bad_env_value_points_at_attribute() {
        let block = Block::new("").attributes([Attribute::number("retries")
            .optional()
            .env("RACK_X_RETRIES")]);
        let mut config = Value::Object([("retries".to_string(), Value::Null)].into());
        let mut diags = Diagnostics::new();
        apply_env(
            &block,
            &mut config,
            &AttributePath::root(),
            &|_| Some("many".to_string()),
            &mut diags,
        );
        let d = diags.into_vec();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].attribute, Some(AttributePath::attr("retries")));
    }
}
