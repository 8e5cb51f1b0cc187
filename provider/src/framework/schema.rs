//! Schemas of providers, resources, data sources, ephemeral and list resources.
//!
//! A schema is declared with builders:
//!
//! ```
//! use rack_provider::framework::schema::{Attribute, Block, Schema};
//! let schema = Schema::new(Block::new("A DNS record set.").attributes([
//!     Attribute::string("zone").required().requires_replace().description("Zone name."),
//!     Attribute::number("ttl").optional().computed().description("TTL in seconds."),
//! ]));
//! assert_eq!(schema.block.attributes.len(), 2);
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::framework::rules::{PlanModifier, RequiresReplace, UseStateForUnknown, Validator};
use crate::protocol::value::{Type, Value};

/// How a nested attribute or block repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nesting {
    /// Exactly one object (or null).
    Single,
    /// One object that is never null (blocks only).
    Group,
    /// An ordered list of objects.
    List,
    /// A set of objects.
    Set,
    /// A map from string keys to objects.
    Map,
}

/// The type of an attribute: a plain cty type, or nested attributes.
#[derive(Clone, Debug)]
pub enum AttributeType {
    /// A plain value of this type.
    Plain(Type),
    /// Nested attributes, repeated according to `nesting`.
    Nested {
        /// How the nested object repeats.
        nesting: Nesting,
        /// The nested object's attributes.
        attributes: Vec<Attribute>,
    },
}

/// One attribute of a block.
#[derive(Clone)]
pub struct Attribute {
    /// Attribute name, snake_case.
    pub name: String,
    /// Its type.
    pub ty: AttributeType,
    /// Markdown description for docs and language servers.
    pub description: String,
    /// Must be set in configuration.
    pub required: bool,
    /// May be set in configuration.
    pub optional: bool,
    /// The provider may set it.
    pub computed: bool,
    /// Terraform hides the value in its output.
    pub sensitive: bool,
    /// The value is sent to the provider but never stored in plan or state.
    pub write_only: bool,
    /// A deprecation message: setting the attribute gives a warning with this text.
    pub deprecation: Option<String>,
    /// Planned when the configuration leaves the attribute null (needs `computed`).
    pub default: Option<Value>,
    /// The environment variable that supplies the value when configuration leaves it null
    /// (provider configuration only).
    pub env: Option<&'static str>,
    /// Checks of the configured value.
    pub validators: Vec<Arc<dyn Validator>>,
    /// Rules applied while planning.
    pub plan_modifiers: Vec<Arc<dyn PlanModifier>>,
}

impl std::fmt::Debug for Attribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attribute")
            .field("name", &self.name)
            .field("ty", &self.ty)
            .field("required", &self.required)
            .field("optional", &self.optional)
            .field("computed", &self.computed)
            .field("sensitive", &self.sensitive)
            .field("write_only", &self.write_only)
            .finish_non_exhaustive()
    }
}

impl Attribute {
    /// An attribute of a plain type; make it required, optional or computed next.
    pub fn new(name: impl Into<String>, ty: Type) -> Self {
        Self {
            name: name.into(),
            ty: AttributeType::Plain(ty),
            description: String::new(),
            required: false,
            optional: false,
            computed: false,
            sensitive: false,
            write_only: false,
            deprecation: None,
            default: None,
            env: None,
            validators: Vec::new(),
            plan_modifiers: Vec::new(),
        }
    }

    /// A string attribute.
    pub fn string(name: impl Into<String>) -> Self {
        Self::new(name, Type::String)
    }

    /// A number attribute.
    pub fn number(name: impl Into<String>) -> Self {
        Self::new(name, Type::Number)
    }

    /// A bool attribute.
    pub fn bool(name: impl Into<String>) -> Self {
        Self::new(name, Type::Bool)
    }

    /// A list attribute.
    pub fn list(name: impl Into<String>, element: Type) -> Self {
        Self::new(name, Type::List(Box::new(element)))
    }

    /// A set attribute.
    pub fn set(name: impl Into<String>, element: Type) -> Self {
        Self::new(name, Type::Set(Box::new(element)))
    }

    /// A map attribute.
    pub fn map(name: impl Into<String>, element: Type) -> Self {
        Self::new(name, Type::Map(Box::new(element)))
    }

    /// Nested attributes.
    pub fn nested(
        name: impl Into<String>,
        nesting: Nesting,
        attributes: impl IntoIterator<Item = Attribute>,
    ) -> Self {
        let mut a = Self::new(name, Type::Dynamic);
        a.ty = AttributeType::Nested {
            nesting,
            attributes: attributes.into_iter().collect(),
        };
        a
    }

    /// Must be set in configuration.
    #[must_use]
    pub fn required(mut self) -> Self {
        self.required = true;
        self.optional = false;
        self
    }

    /// May be set in configuration.
    #[must_use]
    pub fn optional(mut self) -> Self {
        self.optional = true;
        self.required = false;
        self
    }

    /// Set by the provider (combine with `optional` for "set by the user or else by us").
    #[must_use]
    pub fn computed(mut self) -> Self {
        self.computed = true;
        self
    }

    /// Hidden in Terraform's output.
    #[must_use]
    pub fn sensitive(mut self) -> Self {
        self.sensitive = true;
        self
    }

    /// Sent to the provider, never stored in plan or state.
    #[must_use]
    pub fn write_only(mut self) -> Self {
        self.write_only = true;
        self
    }

    /// Markdown description.
    #[must_use]
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Deprecated, with a message telling what to use instead.
    #[must_use]
    pub fn deprecated(mut self, message: impl Into<String>) -> Self {
        self.deprecation = Some(message.into());
        self
    }

    /// A default planned when configuration leaves the attribute null; implies computed.
    #[must_use]
    pub fn default(mut self, value: Value) -> Self {
        self.default = Some(value);
        self.computed = true;
        self
    }

    /// The environment variable that supplies the value when configuration leaves it null.
    #[must_use]
    pub fn env(mut self, var: &'static str) -> Self {
        self.env = Some(var);
        self
    }

    /// Adds a validator.
    #[must_use]
    pub fn validator(mut self, v: impl Validator + 'static) -> Self {
        self.validators.push(Arc::new(v));
        self
    }

    /// Adds a plan modifier.
    #[must_use]
    pub fn plan_modifier(mut self, m: impl PlanModifier + 'static) -> Self {
        self.plan_modifiers.push(Arc::new(m));
        self
    }

    /// A change of this attribute replaces the resource.
    #[must_use]
    pub fn requires_replace(self) -> Self {
        self.plan_modifier(RequiresReplace)
    }

    /// Keeps the prior state's value instead of "known after apply" when it cannot change.
    #[must_use]
    pub fn use_state_for_unknown(self) -> Self {
        self.plan_modifier(UseStateForUnknown)
    }

    /// The cty type of the attribute's value.
    pub fn value_type(&self) -> Type {
        match &self.ty {
            AttributeType::Plain(t) => t.clone(),
            AttributeType::Nested {
                nesting,
                attributes,
            } => {
                let object =
                    object_type(attributes.iter().map(|a| (a.name.clone(), a.value_type())));
                wrap(*nesting, object)
            }
        }
    }
}

/// A nested block.
#[derive(Clone, Debug)]
pub struct NestedBlock {
    /// Block type name.
    pub name: String,
    /// How it repeats.
    pub nesting: Nesting,
    /// Its content.
    pub block: Block,
    /// Minimum number of blocks (0 = none required).
    pub min_items: i64,
    /// Maximum number of blocks (0 = unlimited).
    pub max_items: i64,
}

/// A block: attributes and nested blocks.
#[derive(Clone, Debug, Default)]
pub struct Block {
    /// Attributes, in declaration order.
    pub attributes: Vec<Attribute>,
    /// Nested blocks, in declaration order.
    pub blocks: Vec<NestedBlock>,
    /// Markdown description.
    pub description: String,
    /// Whether the whole block is deprecated.
    pub deprecated: bool,
}

impl Block {
    /// An empty block with a description.
    pub fn new(description: impl Into<String>) -> Self {
        Self {
            description: description.into(),
            ..Self::default()
        }
    }

    /// Adds attributes.
    #[must_use]
    pub fn attributes(mut self, attributes: impl IntoIterator<Item = Attribute>) -> Self {
        self.attributes.extend(attributes);
        self
    }

    /// Adds a nested block.
    #[must_use]
    pub fn block(mut self, block: NestedBlock) -> Self {
        self.blocks.push(block);
        self
    }

    /// Adds nested blocks.
    #[must_use]
    pub fn blocks(mut self, blocks: impl IntoIterator<Item = NestedBlock>) -> Self {
        self.blocks.extend(blocks);
        self
    }

    /// The attribute with this name.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes.iter().find(|a| a.name == name)
    }

    /// The object type of this block's values.
    pub fn value_type(&self) -> Type {
        let attrs = self
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.value_type()))
            .chain(self.blocks.iter().map(|b| {
                let object = b.block.value_type();
                (b.name.clone(), wrap(b.nesting, object))
            }));
        object_type(attrs)
    }
}

/// A versioned schema.
#[derive(Clone, Debug, Default)]
pub struct Schema {
    /// State version; bump it and provide an upgrade when stored state changes shape.
    pub version: i64,
    /// The top-level block.
    pub block: Block,
}

impl Schema {
    /// A version-0 schema.
    pub fn new(block: Block) -> Self {
        Self { version: 0, block }
    }

    /// Sets the state version.
    #[must_use]
    pub fn version(mut self, version: i64) -> Self {
        self.version = version;
        self
    }

    /// The object type of values of this schema.
    pub fn value_type(&self) -> Type {
        self.block.value_type()
    }

    /// Whether any attribute, at any depth, is write-only.
    pub fn has_write_only(&self) -> bool {
        fn any(attrs: &[Attribute]) -> bool {
            attrs.iter().any(|a| {
                a.write_only
                    || matches!(&a.ty, AttributeType::Nested { attributes, .. } if any(attributes))
            })
        }
        fn block(b: &Block) -> bool {
            any(&b.attributes) || b.blocks.iter().any(|nb| block(&nb.block))
        }
        block(&self.block)
    }
}

/// One attribute of a resource identity.
#[derive(Clone, Debug)]
pub struct IdentityAttribute {
    /// Attribute name.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Markdown description.
    pub description: String,
    /// Must be given to import by identity.
    pub required_for_import: bool,
    /// May be given to import by identity.
    pub optional_for_import: bool,
}

impl IdentityAttribute {
    /// A string identity attribute required for import.
    pub fn required_string(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ty: Type::String,
            description: description.into(),
            required_for_import: true,
            optional_for_import: false,
        }
    }

    /// A string identity attribute that import may omit.
    pub fn optional_string(name: impl Into<String>, description: impl Into<String>) -> Self {
        Self {
            optional_for_import: true,
            required_for_import: false,
            ..Self::required_string(name, description)
        }
    }
}

/// The schema of a resource's identity: the attributes that name one remote object.
#[derive(Clone, Debug, Default)]
pub struct IdentitySchema {
    /// Identity version.
    pub version: i64,
    /// The attributes.
    pub attributes: Vec<IdentityAttribute>,
}

impl IdentitySchema {
    /// The object type of identity values.
    pub fn value_type(&self) -> Type {
        object_type(
            self.attributes
                .iter()
                .map(|a| (a.name.clone(), a.ty.clone())),
        )
    }
}

fn object_type(attrs: impl Iterator<Item = (String, Type)>) -> Type {
    Type::Object {
        attributes: attrs.collect::<BTreeMap<_, _>>(),
        optional: Default::default(),
    }
}

fn wrap(nesting: Nesting, object: Type) -> Type {
    match nesting {
        Nesting::Single | Nesting::Group => object,
        Nesting::List => Type::List(Box::new(object)),
        Nesting::Set => Type::Set(Box::new(object)),
        Nesting::Map => Type::Map(Box::new(object)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_type_covers_attributes_and_blocks() {
        let block = Block::new("")
            .attributes([
                Attribute::string("a").required(),
                Attribute::nested("n", Nesting::List, [Attribute::number("x").optional()])
                    .optional(),
            ])
            .block(NestedBlock {
                name: "b".into(),
                nesting: Nesting::Set,
                block: Block::new("").attributes([Attribute::bool("c").optional()]),
                min_items: 0,
                max_items: 0,
            });
        let inner_n = Type::object([("x", Type::Number)]);
        let inner_b = Type::object([("c", Type::Bool)]);
        let want = Type::object([
            ("a", Type::String),
            ("n", Type::List(Box::new(inner_n))),
            ("b", Type::Set(Box::new(inner_b))),
        ]);
        assert_eq!(block.value_type(), want);
    }

    #[test]
    fn write_only_is_found_at_depth() {
        let s = Schema::new(
            Block::new("").attributes([Attribute::nested(
                "graphics",
                Nesting::Single,
                [Attribute::string("password").optional().write_only()],
            )
            .optional()]),
        );
        assert!(s.has_write_only());
    }
}
