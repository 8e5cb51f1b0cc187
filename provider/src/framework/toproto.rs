//! Framework types -> protobuf messages. Pure: no I/O, no state.

use crate::framework::diag::{AttributePath, Diagnostic, Diagnostics, PathStep, Severity};
use crate::framework::resource::{FunctionError, FunctionSignature, Parameter};
use crate::framework::schema::{
    Attribute, AttributeType, Block, IdentitySchema, NestedBlock, Nesting, Schema,
};
use crate::protocol::msgpack;
use crate::protocol::proto::tfplugin6 as pb;
use crate::protocol::value::{Type, Value, ValueError};

const MARKDOWN: i32 = pb::StringKind::Markdown as i32;

/// A schema.
pub fn schema(s: &Schema) -> pb::Schema {
    pb::Schema {
        version: s.version,
        block: Some(block(&s.block, s.version)),
    }
}

fn block(b: &Block, version: i64) -> pb::schema::Block {
    pb::schema::Block {
        version,
        attributes: b.attributes.iter().map(attribute).collect(),
        block_types: b.blocks.iter().map(nested_block).collect(),
        description: b.description.clone(),
        description_kind: MARKDOWN,
        deprecated: b.deprecated,
        deprecation_message: String::new(),
    }
}

fn attribute(a: &Attribute) -> pb::schema::Attribute {
    let (ty, nested_type) = match &a.ty {
        AttributeType::Plain(t) => (t.to_json_bytes(), None),
        AttributeType::Nested {
            nesting,
            attributes,
        } => (
            Vec::new(),
            Some(pb::schema::Object {
                attributes: attributes.iter().map(attribute).collect(),
                nesting: object_nesting(*nesting) as i32,
                ..Default::default()
            }),
        ),
    };
    pb::schema::Attribute {
        name: a.name.clone(),
        r#type: ty,
        nested_type,
        description: attribute_description(a),
        required: a.required,
        optional: a.optional,
        computed: a.computed,
        sensitive: a.sensitive,
        description_kind: MARKDOWN,
        deprecated: a.deprecation.is_some(),
        deprecation_message: a.deprecation.clone().unwrap_or_default(),
        write_only: a.write_only,
    }
}

/// The attribute's description as shown to users: its own text, then what its
/// validators, plan modifiers, default and environment variable add.
pub fn attribute_description(a: &Attribute) -> String {
    let mut parts = vec![a.description.clone()];
    for v in &a.validators {
        parts.push(v.description());
    }
    for m in &a.plan_modifiers {
        parts.push(m.description());
    }
    if let Some(var) = a.env {
        parts.push(format!(
            "Can also be set with the `{var}` environment variable."
        ));
    }
    if let Some(msg) = &a.deprecation {
        parts.push(format!("**Deprecated**: {msg}"));
    }
    parts.retain(|p| !p.is_empty());
    parts.join(" ")
}

fn object_nesting(n: Nesting) -> pb::schema::object::NestingMode {
    use pb::schema::object::NestingMode as M;
    match n {
        Nesting::Single | Nesting::Group => M::Single,
        Nesting::List => M::List,
        Nesting::Set => M::Set,
        Nesting::Map => M::Map,
    }
}

fn nested_block(nb: &NestedBlock) -> pb::schema::NestedBlock {
    use pb::schema::nested_block::NestingMode as M;
    let nesting = match nb.nesting {
        Nesting::Single => M::Single,
        Nesting::Group => M::Group,
        Nesting::List => M::List,
        Nesting::Set => M::Set,
        Nesting::Map => M::Map,
    };
    pb::schema::NestedBlock {
        type_name: nb.name.clone(),
        block: Some(block(&nb.block, 0)),
        nesting: nesting as i32,
        min_items: nb.min_items,
        max_items: nb.max_items,
    }
}

/// A resource identity schema.
pub fn identity_schema(s: &IdentitySchema) -> pb::ResourceIdentitySchema {
    pb::ResourceIdentitySchema {
        version: s.version,
        identity_attributes: s
            .attributes
            .iter()
            .map(|a| pb::resource_identity_schema::IdentityAttribute {
                name: a.name.clone(),
                r#type: a.ty.to_json_bytes(),
                required_for_import: a.required_for_import,
                optional_for_import: a.optional_for_import,
                description: a.description.clone(),
            })
            .collect(),
    }
}

/// A function definition.
pub fn function(f: &FunctionSignature) -> pb::Function {
    pb::Function {
        parameters: f.parameters.iter().map(parameter).collect(),
        variadic_parameter: f.variadic.as_ref().map(parameter),
        r#return: Some(pb::function::Return {
            r#type: f.returns.to_json_bytes(),
        }),
        summary: f.summary.clone(),
        description: f.description.clone(),
        description_kind: MARKDOWN,
        deprecation_message: f.deprecation.clone().unwrap_or_default(),
    }
}

fn parameter(p: &Parameter) -> pb::function::Parameter {
    pb::function::Parameter {
        name: p.name.clone(),
        r#type: p.ty.to_json_bytes(),
        allow_null_value: p.allow_null,
        allow_unknown_values: false,
        description: p.description.clone(),
        description_kind: MARKDOWN,
    }
}

/// A function error.
pub fn function_error(e: &FunctionError) -> pb::FunctionError {
    pb::FunctionError {
        text: e.text.clone(),
        function_argument: e.argument.and_then(|i| i64::try_from(i).ok()),
    }
}

/// Diagnostics.
pub fn diagnostics(d: Diagnostics) -> Vec<pb::Diagnostic> {
    d.into_iter().map(|d| diagnostic(&d)).collect()
}

/// One diagnostic.
pub fn diagnostic(d: &Diagnostic) -> pb::Diagnostic {
    let severity = match d.severity {
        Severity::Error => pb::diagnostic::Severity::Error,
        Severity::Warning => pb::diagnostic::Severity::Warning,
    };
    pb::Diagnostic {
        severity: severity as i32,
        summary: d.summary.clone(),
        detail: d.detail.clone(),
        attribute: d
            .attribute
            .as_ref()
            .filter(|p| !p.is_root())
            .map(attribute_path),
    }
}

/// An attribute path.
pub fn attribute_path(p: &AttributePath) -> pb::AttributePath {
    use pb::attribute_path::step::Selector;
    pb::AttributePath {
        steps: p
            .0
            .iter()
            .map(|s| pb::attribute_path::Step {
                selector: Some(match s {
                    PathStep::Attribute(n) => Selector::AttributeName(n.clone()),
                    PathStep::Key(k) => Selector::ElementKeyString(k.clone()),
                    PathStep::Index(i) => Selector::ElementKeyInt(*i),
                }),
            })
            .collect(),
    }
}

/// A value as a msgpack DynamicValue.
pub fn dynamic_value(v: &Value, ty: &Type) -> Result<pb::DynamicValue, ValueError> {
    Ok(pb::DynamicValue {
        msgpack: msgpack::encode(v, ty)?,
        json: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framework::schema::Attribute;

    #[test]
    fn attribute_flags_and_kinds() {
        let s = Schema::new(
            Block::new("Thing.").attributes([
                Attribute::string("name").required().description("Name."),
                Attribute::string("password")
                    .optional()
                    .sensitive()
                    .write_only(),
            ]),
        )
        .version(2);
        let p = schema(&s);
        assert_eq!(p.version, 2);
        let b = p.block.unwrap_or_default();
        assert_eq!(b.description_kind, MARKDOWN);
        assert_eq!(b.attributes.len(), 2);
        assert!(b.attributes[0].required);
        assert_eq!(b.attributes[0].r#type, b"\"string\"".to_vec());
        assert!(b.attributes[1].write_only && b.attributes[1].sensitive);
    }

    #[test]
    fn diagnostic_path_steps() {
        use pb::attribute_path::step::Selector;
        let d = Diagnostic::error("Bad", "Fix it.")
            .at(AttributePath::attr("a").join_index(1).join_key("k"));
        let p = diagnostic(&d);
        assert_eq!(p.severity, pb::diagnostic::Severity::Error as i32);
        let steps: Vec<_> = p
            .attribute
            .unwrap_or_default()
            .steps
            .into_iter()
            .filter_map(|s| s.selector)
            .collect();
        assert_eq!(
            steps,
            vec![
                Selector::AttributeName("a".into()),
                Selector::ElementKeyInt(1),
                Selector::ElementKeyString("k".into()),
            ]
        );
    }

    #[test]
    fn function_error_argument_index() {
        let e = function_error(&FunctionError::argument(1, "bad prefix"));
        assert_eq!(e.function_argument, Some(1));
        assert_eq!(e.text, "bad prefix");
    }
}
