//! Validators: checks of configured values, run at validate and plan time so bad input is
//! caught before anything is written.

use std::collections::BTreeMap;

use crate::framework::diag::{AttributePath, Diagnostic, Diagnostics};
pub use crate::framework::rules::Validator;
use crate::framework::schema::{Attribute, AttributeType, Block, Nesting};
use crate::protocol::value::Value;

/// A validator from a closure that returns the detail of the error, if any.
pub struct Check<F> {
    description: String,
    summary: String,
    check: F,
}

/// A validator from a closure: `check` returns `Err(detail)` when the value is bad; the
/// diagnostic's summary is `summary`.
pub fn check<F>(description: impl Into<String>, summary: impl Into<String>, check: F) -> Check<F>
where
    F: Fn(&Value) -> Result<(), String> + Send + Sync,
{
    Check {
        description: description.into(),
        summary: summary.into(),
        check,
    }
}

impl<F> Validator for Check<F>
where
    F: Fn(&Value) -> Result<(), String> + Send + Sync,
{
    fn description(&self) -> String {
        self.description.clone()
    }

    fn validate(&self, value: &Value, path: &AttributePath, diags: &mut Diagnostics) {
        if let Err(detail) = (self.check)(value) {
            diags.error_at(path.clone(), self.summary.clone(), detail);
        }
    }
}

/// The string must be one of `allowed`.
pub struct OneOf(pub Vec<String>);

/// The string must be one of `allowed`.
pub fn one_of<I, S>(allowed: I) -> OneOf
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    OneOf(allowed.into_iter().map(Into::into).collect())
}

impl Validator for OneOf {
    fn description(&self) -> String {
        let quoted: Vec<String> = self.0.iter().map(|s| format!("`{s}`")).collect();
        format!("One of {}.", quoted.join(", "))
    }

    fn validate(&self, value: &Value, path: &AttributePath, diags: &mut Diagnostics) {
        if let Some(s) = value.as_str()
            && !self.0.iter().any(|a| a == s)
        {
            diags.error_at(
                path.clone(),
                format!("Invalid value {s:?}"),
                format!("Use one of: {}.", self.0.join(", ")),
            );
        }
    }
}

/// A whole number within `min..=max`.
pub struct IntBetween(pub i64, pub i64);

impl Validator for IntBetween {
    fn description(&self) -> String {
        format!("A whole number from {} to {}.", self.0, self.1)
    }

    fn validate(&self, value: &Value, path: &AttributePath, diags: &mut Diagnostics) {
        let Some(n) = value.as_number() else { return };
        match n.to_i64() {
            Some(i) if n.is_integer() && (self.0..=self.1).contains(&i) => {}
            _ => diags.error_at(
                path.clone(),
                format!("Value {n} is out of range"),
                format!("Use a whole number from {} to {}.", self.0, self.1),
            ),
        }
    }
}

/// Runs every validator and deprecation check of `block` over a configuration value.
/// Unknown and null values are not validated (they are checked again once known).
pub fn validate_block(
    block: &Block,
    config: &Value,
    path: &AttributePath,
    diags: &mut Diagnostics,
) {
    let Value::Object(attrs) = config else { return };
    validate_attributes(&block.attributes, attrs, path, diags);
    for nb in &block.blocks {
        let Some(v) = attrs.get(&nb.name) else {
            continue;
        };
        let p = path.join_attr(&nb.name);
        for_each_element(nb.nesting, v, &p, &mut |elem, ep| {
            validate_block(&nb.block, elem, ep, diags)
        });
    }
}

fn validate_attributes(
    attributes: &[Attribute],
    values: &BTreeMap<String, Value>,
    path: &AttributePath,
    diags: &mut Diagnostics,
) {
    for a in attributes {
        let Some(v) = values.get(&a.name) else {
            continue;
        };
        if v.is_null() {
            continue;
        }
        let p = path.join_attr(&a.name);
        if let Some(msg) = &a.deprecation {
            diags.push(
                Diagnostic::warning(format!("Attribute {} is deprecated", a.name), msg.clone())
                    .at(p.clone()),
            );
        }
        if v.is_unknown() {
            continue;
        }
        for validator in &a.validators {
            validator.validate(v, &p, diags);
        }
        if let AttributeType::Nested {
            nesting,
            attributes,
        } = &a.ty
        {
            for_each_element(*nesting, v, &p, &mut |elem, ep| {
                if let Value::Object(inner) = elem {
                    validate_attributes(attributes, inner, ep, diags);
                }
            });
        }
    }
}

/// Calls `f` for each known, non-null object of a nested value, with its path.
pub(crate) fn for_each_element(
    nesting: Nesting,
    value: &Value,
    path: &AttributePath,
    f: &mut dyn FnMut(&Value, &AttributePath),
) {
    match (nesting, value) {
        (Nesting::Single | Nesting::Group, v @ Value::Object(_)) => f(v, path),
        (Nesting::List, Value::List(items)) => {
            for (i, item) in items.iter().enumerate() {
                f(item, &path.join_index(i));
            }
        }
        (Nesting::Set, Value::Set(items)) => {
            // Set elements have no address Terraform can point at; report at the set.
            for item in items {
                f(item, path);
            }
        }
        (Nesting::Map, Value::Map(items)) => {
            for (k, item) in items {
                f(item, &path.join_key(k));
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::schema::Attribute;

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::object(pairs.iter().cloned())
    }

    #[test]
    fn one_of_points_at_the_attribute() {
        let block = Block::new("").attributes([Attribute::string("mode")
            .required()
            .validator(one_of(["nat", "route"]))]);
        let mut diags = Diagnostics::new();
        validate_block(
            &block,
            &obj(&[("mode", Value::String("bridge".into()))]),
            &AttributePath::root(),
            &mut diags,
        );
        let d: Vec<_> = diags.into_vec();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].attribute, Some(AttributePath::attr("mode")));
        assert!(d[0].detail.contains("nat, route"));
    }

    #[test]
    fn unknown_and_null_are_not_validated() {
        let block = Block::new("").attributes([
            Attribute::string("a").optional().validator(one_of(["x"])),
            Attribute::string("b").optional().validator(one_of(["x"])),
        ]);
        let mut diags = Diagnostics::new();
        validate_block(
            &block,
            &obj(&[("a", Value::Unknown), ("b", Value::Null)]),
            &AttributePath::root(),
            &mut diags,
        );
        assert!(diags.is_empty());
    }

    #[test]
    fn deprecated_attribute_warns() {
        let block = Block::new("").attributes([Attribute::string("old")
            .optional()
            .deprecated("Use `new` instead.")]);
        let mut diags = Diagnostics::new();
        validate_block(
            &block,
            &obj(&[("old", Value::String("v".into()))]),
            &AttributePath::root(),
            &mut diags,
        );
        assert!(!diags.has_errors());
        assert_eq!(diags.iter().count(), 1);
    }

    #[test]
    fn nested_list_paths_carry_the_index() {
        let block = Block::new("").attributes([Attribute::nested(
            "opts",
            Nesting::List,
            [Attribute::number("code")
                .required()
                .validator(IntBetween(1, 254))],
        )
        .optional()]);
        let cfg = obj(&[(
            "opts",
            Value::List(vec![
                obj(&[("code", Value::Number(67.into()))]),
                obj(&[("code", Value::Number(300.into()))]),
            ]),
        )]);
        let mut diags = Diagnostics::new();
        validate_block(&block, &cfg, &AttributePath::root(), &mut diags);
        let d = diags.into_vec();
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].attribute.as_ref().map(ToString::to_string).as_deref(),
            Some("opts[1].code")
        );
    }
}
