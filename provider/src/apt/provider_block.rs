//! The provider block's `apt` section: named aptly API servers.
//!
//! ```hcl
//! apt {
//!   default_server = "repo1"
//!   server "repo1" {
//!     url      = "https://apt.example:8443"
//!     username = "rack"
//!     password = var.aptly_password
//!     ca_cert  = file("apt-ca.pem")
//!   }
//! }
//! ```
//!
//! The default server's settings can also come from `RACK_APT_*` environment variables;
//! with no `server` block at all, `RACK_APT_URL` defines a server named `default`.

use rack_core::apt::{AptError, AptlyClient, AptlyConfig};
use rack_core::kea::Secret;

use crate::config::servers::{self, NamedServers, Section};
use crate::framework::attrs::str_attr;
use crate::framework::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::framework::env::apply_env;
use crate::framework::schema::{Attribute, Block, NestedBlock};
use crate::protocol::value::Value;

/// The server block.
fn server_block() -> Block {
    Block::new(
        "One aptly server, by a name of your choice (the block label): its REST API \
         (`aptly api serve`), which has no authentication of its own, behind a proxy that \
         gives it HTTP basic authentication and TLS. Resources pick it with `server`. rack \
         reads each listing (repositories, snapshots, publications, and the packages of each \
         repository or snapshot) once per run.",
    )
    .attributes([
        Attribute::string("url")
            .optional()
            .env("RACK_APT_URL")
            .description(
                "The API's base URL, `https://host:port` (rack adds `/api/...`). Required.",
            ),
        Attribute::string("username")
            .optional()
            .env("RACK_APT_USERNAME")
            .description("User for HTTP basic authentication."),
        Attribute::string("password")
            .optional()
            .sensitive()
            .env("RACK_APT_PASSWORD")
            .description("Password for HTTP basic authentication."),
        Attribute::string("ca_cert")
            .optional()
            .env("RACK_APT_CA_CERT")
            .description(
                "PEM certificate(s) of the CA that signed the server's certificate, for \
                 `https` (e.g. `file(\"ca.pem\")`). Default: the system's CAs.",
            ),
    ])
}

/// The `apt` block of the provider configuration.
pub fn block() -> NestedBlock {
    servers::section_block(
        &SECTION,
        "aptly servers that `rack_apt_*` resources and data sources use.",
        server_block(),
    )
}

/// One configured aptly server.
#[derive(Debug)]
pub struct AptServer {
    /// The block label.
    pub name: String,
    /// Its client.
    pub client: AptlyClient,
}

/// Every configured aptly server.
pub type AptServers = NamedServers<AptServer>;

static SECTION: Section = Section {
    block: "apt",
    kind: "aptly",
    default_env: "RACK_APT_DEFAULT_SERVER",
    trigger_env: "RACK_APT_URL",
    missing_hint: "Add an `apt { server \"NAME\" { url = \"https://HOST:PORT\" ... } }` section \
                   to the rack provider block, or set RACK_APT_URL (and RACK_APT_USERNAME, \
                   RACK_APT_PASSWORD, RACK_APT_CA_CERT).",
};

/// Builds the servers from the `apt` block's value (environment fallbacks applied).
pub fn configure(
    value: &Value,
    lookup: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> AptServers {
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
) -> Option<AptServer> {
    let Some(url) = str_attr(v, "url") else {
        diags.error_at(
            path.join_attr("url"),
            format!("aptly server {name:?} has no url"),
            "Set `url`, e.g. `https://apt.example:8443` (or RACK_APT_URL for the default server).",
        );
        return None;
    };
    let mut config = AptlyConfig::new(url);
    config.username = str_attr(v, "username").map(str::to_string);
    config.password = str_attr(v, "password").map(Secret::new);
    config.ca_cert_pem = str_attr(v, "ca_cert").map(str::to_string);
    match AptlyClient::new(config) {
        Ok(client) => Some(AptServer {
            name: name.to_string(),
            client,
        }),
        Err(e) => {
            let attr = match &e {
                AptError::InvalidUrl { .. } => "url",
                AptError::Tls { reason } if reason.contains("not https") => "url",
                _ => "ca_cert",
            };
            diags.push(
                Diagnostic::from_error(&e, "Check this server's settings in the provider block.")
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
            ("RACK_APT_URL", "http://127.0.0.1:8080/"),
            ("RACK_APT_USERNAME", "rack"),
            ("RACK_APT_PASSWORD", "pw"),
        ]);
        let mut diags = Diagnostics::new();
        let servers = configure(&Value::Null, &lookup, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        let s = servers.get(None).unwrap();
        assert_eq!(s.name, "default");
        assert_eq!(s.client.config().url, "http://127.0.0.1:8080");
        assert_eq!(s.client.config().username.as_deref(), Some("rack"));
    }

    #[test]
    fn bad_settings_point_at_their_attribute() {
        for (vars, attr) in [
            (&[("RACK_APT_URL", "127.0.0.1:8080")][..], "url"),
            (
                &[
                    ("RACK_APT_URL", "https://127.0.0.1:8080"),
                    ("RACK_APT_CA_CERT", "x"),
                ][..],
                "ca_cert",
            ),
        ] {
            let vars: &'static [(&'static str, &'static str)] = vars;
            let mut diags = Diagnostics::new();
            configure(&Value::Null, &env(vars), &mut diags);
            let d = diags.into_vec();
            assert_eq!(d.len(), 1, "{vars:?}: {d:?}");
            assert_eq!(
                d[0].attribute.as_ref().map(ToString::to_string).as_deref(),
                Some(format!("apt.server[\"default\"].{attr}").as_str()),
                "{d:?}"
            );
        }
    }
}
