//! What the boot resource and data source share: finding the server, errors as
//! diagnostics, the path's check and the `server` attribute's planning.

use std::sync::Arc;

use rack_core::boot::{BootError, BootPath, Remote};

use super::provider_block::{BootServer, BootServers};
use crate::config;
use crate::framework::attrs::obj_set;
use crate::framework::validate::{Check, check};
use crate::framework::{AttributePath, Context, Diagnostic};
use crate::protocol::value::Value;

/// The server a resource names (or the default), from the configured provider.
pub fn server(ctx: &Context, name: Option<&str>) -> Result<Arc<BootServer>, Diagnostic> {
    config::clients::<BootServers>(ctx)?.get(name)
}

/// A provisioning server's error as a diagnostic: what rack was doing, the error, what to
/// do about it.
pub fn boot_error(e: &BootError, doing: &str) -> Diagnostic {
    let hint = match e {
        BootError::Unauthorized { .. } => {
            "Check `username` and `password` of this server in the provider's `boot` block (or \
             RACK_BOOT_USERNAME and RACK_BOOT_PASSWORD) against the server's users."
        }
        BootError::Unreachable { .. } | BootError::Timeout { .. } => {
            "Check the server's `url` in the provider's `boot` block and that it runs."
        }
        _ => "",
    };
    let mut d = Diagnostic::from_error(e, hint);
    d.summary = format!("Cannot {doing}: {}", d.summary);
    d
}

/// What the server holds at `path` (read once per run), or a diagnostic.
pub async fn remote(srv: &BootServer, path: &BootPath) -> Result<Option<Arc<Remote>>, Diagnostic> {
    srv.client
        .file(path)
        .await
        .map_err(|e| boot_error(&e, &format!("read {}", srv.client.public_url(path))))
}

/// `path` checked, or a diagnostic at the `path` attribute.
pub fn boot_path(path: &str) -> Result<BootPath, Diagnostic> {
    BootPath::parse(path).map_err(|e| {
        Diagnostic::from_error(&e, "Give the path relative to the server's `url`.")
            .at(AttributePath::attr("path"))
    })
}

/// The validator of every `path` attribute.
pub fn path_validator() -> Check<impl Fn(&Value) -> Result<(), String> + Send + Sync> {
    check(
        "A path below the server's URL: segments of letters, digits and `-._~+=,@` separated \
         by `/`, no `.` or `..` segment, no leading or trailing `/`.",
        "Invalid boot file path",
        |v| match v.as_str() {
            Some(s) => BootPath::parse(s).map(|_| ()).map_err(|e| e.to_string()),
            None => Ok(()),
        },
    )
}

/// The `server` attribute of the resource and the data source.
pub fn server_attribute(computed: bool) -> crate::framework::schema::Attribute {
    let a = crate::framework::schema::Attribute::string("server")
        .optional()
        .description(
            "Name of a server in the provider's `boot` block; the default server when omitted.",
        );
    if computed {
        a.computed().requires_replace()
    } else {
        a
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
