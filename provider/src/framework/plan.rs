//! Plan rules, applied in this order (as terraform-plugin-framework does):
//! defaults -> computed attributes left null by the configuration become unknown ->
//! attribute plan modifiers -> the resource's own plan hook (in the server) -> the
//! requires-replace paths are sorted and deduplicated.

use crate::framework::diag::{AttributePath, Diagnostics};
pub use crate::framework::rules::{
    AttributePlan, AttributePlanRequest, PlanModifier, RequiresReplace, UseStateForUnknown,
};
use crate::framework::schema::{Attribute, AttributeType, Block, Nesting, Schema};
use crate::protocol::value::Value;

static NULL: Value = Value::Null;

/// The outcome of planning one resource change.
#[derive(Debug)]
pub struct PlannedChange {
    /// The planned new state (null for destroy).
    pub planned: Value,
    /// Attributes whose change replaces the resource, sorted and deduplicated.
    pub requires_replace: Vec<AttributePath>,
    /// Problems found.
    pub diags: Diagnostics,
}

/// Applies the attribute-level plan rules of `schema` to Terraform's proposed new state.
pub fn plan_attributes(
    schema: &Schema,
    prior: &Value,
    config: &Value,
    proposed: &Value,
) -> PlannedChange {
    let mut out = PlannedChange {
        planned: proposed.clone(),
        requires_replace: Vec::new(),
        diags: Diagnostics::new(),
    };
    if proposed.is_null() {
        return out;
    }
    let root = AttributePath::root();
    apply_defaults(&schema.block, config, &mut out.planned);
    null_write_only(&schema.block, &mut out.planned);
    let exists = !prior.is_null();
    if !exists || out.planned != *prior {
        mark_computed_unknown(&schema.block, config, &mut out.planned);
    }
    modify_block(
        &schema.block,
        &root,
        config,
        prior,
        exists,
        &mut out.planned,
        &mut out.requires_replace,
        &mut out.diags,
    );
    sort_paths(&mut out.requires_replace);
    out
}

/// Sorts and deduplicates requires-replace paths.
pub fn sort_paths(paths: &mut Vec<AttributePath>) {
    paths.sort();
    paths.dedup();
}

fn attr<'a>(v: &'a Value, name: &str) -> &'a Value {
    v.attr(name).unwrap_or(&NULL)
}

fn attr_mut<'a>(v: &'a mut Value, name: &str) -> Option<&'a mut Value> {
    match v {
        Value::Object(m) => m.get_mut(name),
        _ => None,
    }
}

fn nested_attributes(a: &Attribute) -> Option<(Nesting, &[Attribute])> {
    match &a.ty {
        AttributeType::Nested {
            nesting,
            attributes,
        } => Some((*nesting, attributes)),
        AttributeType::Plain(_) => None,
    }
}

fn attrs_block(attributes: &[Attribute]) -> Block {
    Block {
        attributes: attributes.to_vec(),
        ..Block::default()
    }
}

/// Runs `f` on each pair of (config element, planned element) of a nested value that can be
/// matched: the single object, list elements by index, map elements by key.
fn for_matched(
    nesting: Nesting,
    config: &Value,
    planned: &mut Value,
    f: &mut dyn FnMut(&Value, &mut Value),
) {
    match (nesting, config, planned) {
        (Nesting::Single | Nesting::Group, c, p @ Value::Object(_)) => f(c, p),
        (Nesting::List, Value::List(cs), Value::List(ps)) => {
            for (c, p) in cs.iter().zip(ps.iter_mut()) {
                f(c, p);
            }
        }
        (Nesting::Map, Value::Map(cs), Value::Map(ps)) => {
            for (k, p) in ps.iter_mut() {
                f(cs.get(k).unwrap_or(&NULL), p);
            }
        }
        _ => {}
    }
}

fn apply_defaults(block: &Block, config: &Value, planned: &mut Value) {
    for a in &block.attributes {
        let c = attr(config, &a.name);
        let Some(p) = attr_mut(planned, &a.name) else {
            continue;
        };
        if let Some(default) = &a.default
            && c.is_null()
        {
            *p = default.clone();
            continue;
        }
        if let Some((nesting, attributes)) = nested_attributes(a) {
            let inner = attrs_block(attributes);
            for_matched(nesting, c, p, &mut |c, p| apply_defaults(&inner, c, p));
        }
    }
    for nb in &block.blocks {
        let c = attr(config, &nb.name);
        if let Some(p) = attr_mut(planned, &nb.name) {
            for_matched(nb.nesting, c, p, &mut |c, p| {
                apply_defaults(&nb.block, c, p)
            });
        }
    }
}

pub(crate) fn null_write_only(block: &Block, planned: &mut Value) {
    for a in &block.attributes {
        let Some(p) = attr_mut(planned, &a.name) else {
            continue;
        };
        if a.write_only {
            *p = Value::Null;
        } else if let Some((nesting, attributes)) = nested_attributes(a) {
            let inner = attrs_block(attributes);
            for_matched(nesting, &NULL, p, &mut |_, p| null_write_only(&inner, p));
        }
    }
    for nb in &block.blocks {
        if let Some(p) = attr_mut(planned, &nb.name) {
            for_matched(nb.nesting, &NULL, p, &mut |_, p| {
                null_write_only(&nb.block, p)
            });
        }
    }
}

fn mark_computed_unknown(block: &Block, config: &Value, planned: &mut Value) {
    for a in &block.attributes {
        let c = attr(config, &a.name);
        let Some(p) = attr_mut(planned, &a.name) else {
            continue;
        };
        if a.computed && c.is_null() && a.default.is_none() && !a.write_only {
            *p = Value::Unknown;
        } else if let Some((nesting, attributes)) = nested_attributes(a) {
            let inner = attrs_block(attributes);
            for_matched(nesting, c, p, &mut |c, p| {
                mark_computed_unknown(&inner, c, p)
            });
        }
    }
    for nb in &block.blocks {
        let c = attr(config, &nb.name);
        if let Some(p) = attr_mut(planned, &nb.name) {
            for_matched(nb.nesting, c, p, &mut |c, p| {
                mark_computed_unknown(&nb.block, c, p)
            });
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn modify_block(
    block: &Block,
    path: &AttributePath,
    config: &Value,
    prior: &Value,
    exists: bool,
    planned: &mut Value,
    replace: &mut Vec<AttributePath>,
    diags: &mut Diagnostics,
) {
    for a in &block.attributes {
        let p = path.join_attr(&a.name);
        let c = attr(config, &a.name);
        let s = attr(prior, &a.name);
        let Some(value) = attr_mut(planned, &a.name) else {
            continue;
        };
        if !a.plan_modifiers.is_empty() {
            let req = AttributePlanRequest {
                path: &p,
                config: c,
                prior: s,
                resource_exists: exists,
            };
            let mut plan = AttributePlan {
                value: std::mem::replace(value, Value::Null),
                requires_replace: false,
                diags: Diagnostics::new(),
            };
            for m in &a.plan_modifiers {
                m.modify(&req, &mut plan);
            }
            *value = plan.value;
            if plan.requires_replace {
                replace.push(p.clone());
            }
            diags.extend(plan.diags);
        }
        if let Some((Nesting::Single, attributes)) = nested_attributes(a) {
            let inner = attrs_block(attributes);
            modify_block(&inner, &p, c, s, exists, value, replace, diags);
        }
    }
    for nb in &block.blocks {
        if matches!(nb.nesting, Nesting::Single | Nesting::Group) {
            let p = path.join_attr(&nb.name);
            let c = attr(config, &nb.name);
            let s = attr(prior, &nb.name);
            if let Some(value) = attr_mut(planned, &nb.name) {
                modify_block(&nb.block, &p, c, s, exists, value, replace, diags);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::schema::Attribute;

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::object(pairs.iter().cloned())
    }

    fn s(v: &str) -> Value {
        Value::String(v.into())
    }

    fn schema() -> Schema {
        Schema::new(
            Block::new("").attributes([
                Attribute::string("name").required().requires_replace(),
                Attribute::string("id").computed().use_state_for_unknown(),
                Attribute::string("address").computed(),
                Attribute::number("ttl")
                    .optional()
                    .default(Value::Number(3600.into())),
                Attribute::string("secret").optional().write_only(),
            ]),
        )
    }

    /// A configuration naming the thing `name`, with `secret`.
    fn config(name: &str, secret: Value) -> Value {
        obj(&[
            ("name", s(name)),
            ("id", Value::Null),
            ("address", Value::Null),
            ("ttl", Value::Null),
            ("secret", secret),
        ])
    }

    #[test]
    fn create_marks_computed_unknown_and_applies_defaults() {
        let config = config("a", s("hunter2"));
        let out = plan_attributes(&schema(), &Value::Null, &config, &config);
        assert_eq!(out.planned.attr("id"), Some(&Value::Unknown));
        assert_eq!(out.planned.attr("address"), Some(&Value::Unknown));
        assert_eq!(out.planned.attr("ttl"), Some(&Value::Number(3600.into())));
        assert_eq!(out.planned.attr("secret"), Some(&Value::Null));
        assert!(out.requires_replace.is_empty());
    }

    /// The state of a thing created with name `a`.
    fn prior() -> Value {
        obj(&[
            ("name", s("a")),
            ("id", s("42")),
            ("address", s("10.0.0.1")),
            ("ttl", Value::Number(3600.into())),
            ("secret", Value::Null),
        ])
    }

    #[test]
    fn unchanged_update_keeps_computed_values() {
        let prior = prior();
        let config = config("a", s("hunter2"));
        // Terraform's proposed new state copies computed values from prior state.
        let out = plan_attributes(&schema(), &prior, &config, &prior);
        assert_eq!(out.planned, prior);
        assert!(out.requires_replace.is_empty());
    }

    #[test]
    fn changed_update_uses_state_for_unknown_and_requires_replace() {
        let prior = prior();
        let config = config("b", Value::Null);
        let proposed = obj(&[
            ("name", s("b")),
            ("id", s("42")),
            ("address", s("10.0.0.1")),
            ("ttl", Value::Number(3600.into())),
            ("secret", Value::Null),
        ]);
        let out = plan_attributes(&schema(), &prior, &config, &proposed);
        assert_eq!(out.planned.attr("id"), Some(&s("42")));
        assert_eq!(out.planned.attr("address"), Some(&Value::Unknown));
        assert_eq!(out.requires_replace, vec![AttributePath::attr("name")]);
    }

    #[test]
    fn destroy_plans_null() {
        let out = plan_attributes(
            &schema(),
            &obj(&[("name", s("a"))]),
            &Value::Null,
            &Value::Null,
        );
        assert!(out.planned.is_null());
    }

    #[test]
    fn requires_replace_paths_are_sorted_and_unique() {
        let mut paths = vec![
            AttributePath::attr("b"),
            AttributePath::attr("a"),
            AttributePath::attr("b"),
        ];
        sort_paths(&mut paths);
        assert_eq!(
            paths,
            vec![AttributePath::attr("a"), AttributePath::attr("b")]
        );
    }
}
