//! The provider block's `boot` section: named provisioning servers, HTTP servers that
//! take WebDAV writes (PUT, DELETE) from rack and serve the files to machines that
//! bootstrap.
//!
//! ```hcl
//! boot {
//!   default_server = "prov1"
//!   server "prov1" {
//!     url      = "https://prov1.example/boot/"
//!     username = "rack"
//!     password = var.prov_password
//!     ca_cert  = file("prov-ca.pem")
//!   }
//! }
//! ```
//!
//! The default server's settings can also come from `RACK_BOOT_*` environment variables;
//! with no `server` block at all, `RACK_BOOT_URL` defines a server named `default`.

use rack_core::boot::{BootClient, BootConfig, BootError};
use rack_core::kea::Secret;

use crate::config::servers::{self, NamedServers, Section};
use crate::framework::attrs::str_attr;
use crate::framework::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::framework::env::apply_env;
use crate::framework::schema::{Attribute, Block, NestedBlock};
use crate::framework::timeouts::{duration_validator, parse_duration};
use crate::protocol::value::Value;

/// The server block.
fn server_block() -> Block {
    Block::new(
        "One provisioning server, by a name of your choice (the block label). Resources \
         pick it with `server`. rack reads each file once per run.",
    )
    .attributes([
        Attribute::string("url")
            .optional()
            .env("RACK_BOOT_URL")
            .description(
                "The URL rack writes files below, with WebDAV PUT and DELETE, e.g. \
                 `https://prov1.example/boot/` (a final `/` is added when missing). Required.",
            ),
        Attribute::string("public_url")
            .optional()
            .env("RACK_BOOT_PUBLIC_URL")
            .description(
                "The URL machines fetch the same files below, when it differs from `url` (for \
                 instance plain http on the provisioning network, for boot firmware that \
                 cannot check your CA). Default: `url`. It makes the files' `url`.",
            ),
        Attribute::string("username")
            .optional()
            .env("RACK_BOOT_USERNAME")
            .description("User for HTTP basic authentication; none is sent when omitted."),
        Attribute::string("password")
            .optional()
            .sensitive()
            .env("RACK_BOOT_PASSWORD")
            .description("Password of `username`."),
        Attribute::string("ca_cert")
            .optional()
            .env("RACK_BOOT_CA_CERT")
            .description(
                "PEM certificate(s) of the CA that signed the server's certificate (`https://` \
                 only); the system's CA bundle when omitted.",
            ),
        Attribute::string("timeout")
            .optional()
            .env("RACK_BOOT_TIMEOUT")
            .description("How long each request may take. Default: `120s`.")
            .validator(duration_validator("A duration such as `120s` or `5m`.")),
    ])
}

/// The `boot` block of the provider configuration.
pub fn block() -> NestedBlock {
    servers::section_block(
        &SECTION,
        "Provisioning servers (HTTP with WebDAV writes, such as nginx with `dav_methods PUT \
         DELETE`) that `rack_boot_file` resources and data sources use. Its list resource \
         also needs directories listed as JSON to rack's user (nginx: `autoindex on; \
         autoindex_format json;`).",
        server_block(),
    )
}

/// One configured provisioning server.
#[derive(Debug)]
pub struct BootServer {
    /// The block label.
    pub name: String,
    /// Its client.
    pub client: BootClient,
}

/// Every configured provisioning server.
pub type BootServers = NamedServers<BootServer>;

static SECTION: Section = Section {
    block: "boot",
    kind: "provisioning",
    default_env: "RACK_BOOT_DEFAULT_SERVER",
    trigger_env: "RACK_BOOT_URL",
    missing_hint: "Add a `boot { server \"NAME\" { url = \"https://HOST/boot/\" ... } }` section \
                   to the rack provider block, or set RACK_BOOT_URL (and RACK_BOOT_USERNAME, \
                   RACK_BOOT_PASSWORD, RACK_BOOT_CA_CERT).",
};

/// Builds the servers from the `boot` block's value (environment fallbacks applied).
pub fn configure(
    value: &Value,
    lookup: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> BootServers {
    servers::configure(
        &SECTION,
        value,
        lookup,
        diags,
        |server, path, lookup, diags| apply_env(&server_block(), server, path, lookup, diags),
        server,
    )
}

fn server(
    name: &str,
    v: &Value,
    path: &AttributePath,
    diags: &mut Diagnostics,
) -> Option<BootServer> {
    let Some(url) = str_attr(v, "url") else {
        diags.error_at(
            path.join_attr("url"),
            format!("Provisioning server {name:?} has no url"),
            "Set `url`, e.g. `https://prov1.example/boot/` (or RACK_BOOT_URL for the default \
             server).",
        );
        return None;
    };
    let mut config = BootConfig::new(url);
    if let Some(t) = str_attr(v, "timeout").and_then(|t| parse_duration(t).ok()) {
        config.timeout = t;
    }
    config.public_url = str_attr(v, "public_url").map(str::to_string);
    config.username = str_attr(v, "username").map(str::to_string);
    config.password = str_attr(v, "password").map(Secret::new);
    config.ca_cert_pem = str_attr(v, "ca_cert").map(str::to_string);
    match BootClient::new(config) {
        Ok(client) => Some(BootServer {
            name: name.to_string(),
            client,
        }),
        Err(e) => {
            let attr = match &e {
                BootError::InvalidUrl { url } if str_attr(v, "public_url") == Some(url) => {
                    "public_url"
                }
                BootError::InvalidUrl { .. } => "url",
                BootError::Tls { reason } if reason.contains("not https") => "url",
                _ => "ca_cert",
            };
            diags.push(
                Diagnostic::from_error(
                    &e,
                    "Check this provisioning server's settings in the provider block.",
                )
                .at(path.join_attr(attr)),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixed_env as env;

    #[test]
    fn the_environment_alone_defines_the_default_server() {
        let lookup = env(&[
            ("RACK_BOOT_URL", "http://127.0.0.1:8080/boot"),
            ("RACK_BOOT_USERNAME", "rack"),
            ("RACK_BOOT_PASSWORD", "pw"),
        ]);
        let mut diags = Diagnostics::new();
        let servers = configure(&Value::Null, &lookup, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        let s = servers.get(None).unwrap();
        assert_eq!(s.name, "default");
        assert_eq!(s.client.config().username.as_deref(), Some("rack"));
        let p = rack_core::boot::BootPath::parse("a.ipxe").unwrap();
        assert_eq!(s.client.public_url(&p), "http://127.0.0.1:8080/boot/a.ipxe");
    }

    #[test]
    fn bad_settings_point_at_their_attribute() {
        type Vars = &'static [(&'static str, &'static str)];
        let cases: [(Vars, &str); 3] = [
            (&[("RACK_BOOT_URL", "127.0.0.1/boot")], "url"),
            (
                &[
                    ("RACK_BOOT_URL", "http://127.0.0.1/boot"),
                    ("RACK_BOOT_PUBLIC_URL", "10.0.0.1/boot"),
                ],
                "public_url",
            ),
            (
                &[
                    ("RACK_BOOT_URL", "https://127.0.0.1/boot"),
                    ("RACK_BOOT_CA_CERT", "x"),
                ],
                "ca_cert",
            ),
        ];
        for (vars, attr) in cases {
            let mut diags = Diagnostics::new();
            configure(&Value::Null, &env(vars), &mut diags);
            let d = diags.into_vec();
            assert_eq!(d.len(), 1, "{vars:?}: {d:?}");
            assert_eq!(
                d[0].attribute.as_ref().map(ToString::to_string),
                Some(format!("boot.server[\"default\"].{attr}")),
                "{vars:?}"
            );
        }
    }

    #[test]
    fn no_server_is_a_clear_error_when_used() {
        let mut diags = Diagnostics::new();
        let servers = configure(&Value::Null, &env(&[]), &mut diags);
        assert!(
            servers
                .get(None)
                .unwrap_err()
                .detail
                .contains("RACK_BOOT_URL")
        );
    }
}
