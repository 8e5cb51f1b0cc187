//! What the `dns` and `dhcp` sections share: servers named by the label of their
//! `server "NAME" {}` block, a default server, and environment variables that fill in the
//! default server (or define one named `default` when no block exists).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::framework::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::framework::schema::{Attribute, Block, NestedBlock, Nesting};
use crate::protocol::value::Value;

/// Name of the server the environment defines when no `server` block exists.
pub const ENV_SERVER_NAME: &str = "default";

/// How one section of the provider block names its servers.
#[derive(Debug)]
pub struct Section {
    /// The block name, e.g. `dns`.
    pub block: &'static str,
    /// The kind of server in messages, e.g. `DNS`.
    pub kind: &'static str,
    /// The variable naming the default server.
    pub default_env: &'static str,
    /// The variable whose presence alone defines a server named `default`.
    pub trigger_env: &'static str,
    /// What to write when no server is configured at all.
    pub missing_hint: &'static str,
}

/// The section's block: `default_server` and the `server "NAME" { ... }` blocks, whose
/// content is `server`.
pub fn section_block(section: &Section, description: &str, server: Block) -> NestedBlock {
    NestedBlock {
        name: section.block.into(),
        nesting: Nesting::Single,
        block: Block::new(description)
            .attributes([Attribute::string("default_server")
                .optional()
                .env(section.default_env)
                .description(
                    "The server used when a resource omits `server`. Optional when there is one server.",
                )])
            .block(NestedBlock {
                name: "server".into(),
                nesting: Nesting::Map,
                block: server,
                min_items: 0,
                max_items: 0,
            }),
        min_items: 0,
        max_items: 1,
    }
}

/// The configured servers of one section.
#[derive(Debug)]
pub struct NamedServers<T> {
    servers: BTreeMap<String, Arc<T>>,
    default: Option<String>,
    section: Option<&'static Section>,
}

impl<T> Default for NamedServers<T> {
    fn default() -> Self {
        Self {
            servers: BTreeMap::new(),
            default: None,
            section: None,
        }
    }
}

impl<T> NamedServers<T> {
    /// The server named `name`, or the default one.
    pub fn get(&self, name: Option<&str>) -> Result<Arc<T>, Diagnostic> {
        let (kind, block, hint) = self
            .section
            .map_or(("", "", ""), |s| (s.kind, s.block, s.missing_hint));
        let wanted = match name {
            Some(n) => n.to_string(),
            None => self.default.clone().ok_or_else(|| {
                Diagnostic::error(format!("No {kind} server is configured"), hint)
            })?,
        };
        self.servers.get(&wanted).cloned().ok_or_else(|| {
            let known: Vec<&str> = self.servers.keys().map(String::as_str).collect();
            Diagnostic::error(
                format!("Unknown {kind} server {wanted:?}"),
                format!(
                    "The provider's {block} block defines {}. Use one of those names in `server`.",
                    if known.is_empty() {
                        "no servers".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            )
        })
    }

    /// All servers, by name.
    pub fn all(&self) -> impl Iterator<Item = &Arc<T>> {
        self.servers.values()
    }

    /// The name of the default server, if there is one.
    pub fn default_name(&self) -> Option<&str> {
        self.default.as_deref()
    }
}

/// Builds a section's servers from its block value: picks the default server (the
/// `default_server` attribute, its variable, the only server, or the environment's),
/// fills the default server from the environment with `apply_env`, and builds each server
/// with `build`, which reports its own problems.
pub fn configure<T>(
    section: &'static Section,
    value: &Value,
    lookup: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
    apply_env: impl Fn(&mut Value, &AttributePath, &dyn Fn(&str) -> Option<String>, &mut Diagnostics),
    build: impl Fn(&str, &Value, &AttributePath, &mut Diagnostics) -> Option<T>,
) -> NamedServers<T> {
    let base = AttributePath::attr(section.block);
    let mut servers: BTreeMap<String, Value> = match value.attr("server") {
        Some(Value::Map(m)) => m.clone(),
        _ => BTreeMap::new(),
    };
    let default = value
        .attr("default_server")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| lookup(section.default_env))
        .or_else(|| {
            if servers.len() == 1 {
                servers.keys().next().cloned()
            } else if servers.is_empty() && lookup(section.trigger_env).is_some() {
                Some(ENV_SERVER_NAME.to_string())
            } else {
                None
            }
        });
    if let Some(d) = &default {
        if servers.is_empty() && d == ENV_SERVER_NAME {
            servers.insert(d.clone(), Value::Object(BTreeMap::new()));
        }
        match servers.get_mut(d) {
            Some(v) => apply_env(v, &base.join_attr("server").join_key(d), lookup, diags),
            None => diags.error_at(
                base.join_attr("default_server"),
                format!("Unknown default {} server {d:?}", section.kind),
                format!(
                    "Name one of the `server` blocks of the {} section.",
                    section.block
                ),
            ),
        }
    }
    let mut out = NamedServers {
        servers: BTreeMap::new(),
        default,
        section: Some(section),
    };
    for (name, v) in servers {
        let path = base.join_attr("server").join_key(&name);
        if let Some(server) = build(&name, &v, &path, diags) {
            out.servers.insert(name, Arc::new(server));
        }
    }
    out
}
