//! What the apt resources, data source and list resources share: finding the aptly server,
//! aptly's errors as diagnostics, import IDs, the `server` attribute and identity, and the
//! answers of create, read and delete.

use std::sync::Arc;

use rack_core::apt::AptError;
use serde::Deserialize;

use super::provider_block::{AptServer, AptServers};
use crate::config;
use crate::framework::attrs::obj_set;
use crate::framework::schema::{Attribute, IdentityAttribute, IdentitySchema};
use crate::framework::typed::{self, Planned};
use crate::framework::{Context, Diagnostic, Diagnostics, ImportRequest, StateResult};
use crate::protocol::value::Value;

/// The aptly server a resource names (or the default), from the configured provider.
pub fn server(ctx: &Context, name: Option<&str>) -> Result<Arc<AptServer>, Diagnostic> {
    config::clients::<AptServers>(ctx)?.get(name)
}

/// An aptly error as a diagnostic: what rack was doing, the error, what to do about it.
pub fn apt_error(e: &AptError, doing: &str) -> Diagnostic {
    let hint = match e {
        AptError::Unreachable { .. } | AptError::Timeout { .. } => {
            "Check the server's url in the provider block, and that aptly and its proxy run."
        }
        AptError::AuthRefused { .. } => "Check the username and password in the provider block.",
        AptError::FailedFiles { .. } => {
            "aptly could not read the file as a Debian package, or the repository holds another \
             file of the same name, version and architecture."
        }
        _ => "",
    };
    let mut d = Diagnostic::from_error(e, hint);
    d.summary = format!("Cannot {doing}: {}", d.summary);
    d
}

/// The `server` attribute of every apt resource.
pub fn server_attribute() -> Attribute {
    Attribute::string("server")
        .optional()
        .computed()
        .requires_replace()
        .description(
            "Name of an aptly server in the provider's `apt` block; the default server when \
             omitted.",
        )
}

/// The optional `server` attribute of a data source's or list block's configuration.
pub fn server_choice() -> Attribute {
    Attribute::string("server").optional().description(
        "Name of an aptly server in the provider's `apt` block; the default server when omitted.",
    )
}

/// The identity of an object named by `name` (described as `what`) on a server.
pub fn named_identity(name: &str, what: &str) -> IdentitySchema {
    IdentitySchema {
        version: 0,
        attributes: vec![
            IdentityAttribute::optional_string(
                "server",
                "aptly server name; the default server when omitted.",
            ),
            IdentityAttribute::required_string(name, what),
        ],
    }
}

/// Plans `server` as the default server's name when the configuration leaves it out.
pub fn plan_server(ctx: &Context, planned: &mut Value) {
    if planned.attr("server").is_some_and(Value::is_unknown)
        && let Ok(srv) = server(ctx, None)
    {
        obj_set(planned, "server", Value::from(srv.name.as_str()));
    }
}

/// The server a model names.
pub fn server_of(
    ctx: &Context,
    name: &Planned<Option<String>>,
) -> Result<Arc<AptServer>, Diagnostic> {
    server(ctx, name.value().map(String::as_str))
}

/// The error of an apply whose plan lacks what it needs.
pub fn unknown_at_apply() -> Diagnostic {
    Diagnostic::error(
        "Unknown values at apply",
        "This is a bug in the provider; please report it.",
    )
}

/// A known value of a plan or state, or the error of [`unknown_at_apply`].
pub fn known<T: Clone>(v: &Planned<Option<T>>) -> Result<T, Diagnostic> {
    v.value().cloned().ok_or_else(unknown_at_apply)
}

/// What an import names: `[<server>/]<rest>` from an ID (`parts` parts in `rest`,
/// separated by `/`), or the identity's attributes.
#[derive(Debug, Deserialize)]
pub struct ImportTarget {
    /// The server; the default one when `None`.
    pub server: Option<String>,
    /// The parts of the ID after the server (from an identity: its other attributes in
    /// the order the resource reads them).
    #[serde(skip)]
    pub parts: Vec<String>,
}

/// Reads an import: an ID of `parts` parts with an optional leading server name, or an
/// identity whose attributes `names` give the parts. The server's listings are dropped
/// first, so the import reads aptly fresh.
pub async fn import_target(
    ctx: &Context,
    req: &ImportRequest,
    parts: usize,
    names: &[&str],
    usage: &str,
) -> Result<(Arc<AptServer>, Vec<String>), Diagnostic> {
    let (server_name, parts) = match req {
        ImportRequest::Id(id) => {
            let split: Vec<String> = id.split('/').map(str::to_owned).collect();
            if split.iter().any(String::is_empty)
                || !(split.len() == parts || split.len() == parts + 1)
            {
                return Err(Diagnostic::invalid_import_id(id, usage));
            }
            if split.len() == parts + 1 {
                (Some(split[0].clone()), split[1..].to_vec())
            } else {
                (None, split)
            }
        }
        ImportRequest::Identity(v) => {
            let target: ImportTarget = typed::from_value(v)?;
            let parts = names
                .iter()
                .map(|n| {
                    v.attr(n)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                })
                .collect();
            (target.server, parts)
        }
    };
    let srv = server(ctx, server_name.as_deref())?;
    srv.client.invalidate().await;
    Ok((srv, parts))
}

/// The answer of a delete.
pub fn deleted(result: Result<(), Diagnostics>) -> Diagnostics {
    result.err().unwrap_or_default()
}

/// A state result from a state and its identity.
pub fn written(answer: Result<(Value, Value), Diagnostic>) -> Result<StateResult, Diagnostics> {
    let (state, identity) = answer?;
    Ok(StateResult {
        state,
        identity: Some(identity),
        ..StateResult::default()
    })
}
