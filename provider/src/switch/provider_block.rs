//! The provider block's `switch` section: named Open vSwitch switches, each reached over
//! OVSDB (RFC 7047) at its `ovsdb-server`.
//!
//! ```hcl
//! switch {
//!   default_server = "tor1"
//!   server "tor1" {
//!     address     = "ssl:10.0.0.2:6640"
//!     ca_cert     = file("switch-ca.pem")
//!     client_cert = file("rack-cert.pem")
//!     client_key  = var.switch_key
//!   }
//! }
//! ```
//!
//! The default server's settings can also come from `RACK_SWITCH_*` environment
//! variables; with no `server` block at all, `RACK_SWITCH_ADDRESS` defines a server named
//! `default`.

use rack_core::kea::Secret;
use rack_core::ovsdb::{OvsdbError, SwitchClient, SwitchConfig};

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
        "One switch, by a name of your choice (the block label): its `ovsdb-server`. \
         Resources pick it with `server`. rack reads each switch once per run and writes \
         the changes that arrive together in one OVSDB transaction.",
    )
    .attributes([
        Attribute::string("address")
            .optional()
            .env("RACK_SWITCH_ADDRESS")
            .description(
                "Where ovsdb-server listens, in OVS's syntax: `ssl:HOST:PORT` (TLS, the \
                 production path), `tcp:HOST:PORT` or `unix:PATH`. Required.",
            ),
        Attribute::string("ca_cert")
            .optional()
            .env("RACK_SWITCH_CA_CERT")
            .description(
                "PEM certificate(s) of the CA that signed the switch's certificate (`ssl:` \
                 only; required there). As OVS itself does, rack checks the switch's \
                 certificate chain against this CA and not the name in it (`ovs-pki` names \
                 switches by id, not host name), so use a CA of your switches' own.",
            ),
        Attribute::string("client_cert")
            .optional()
            .env("RACK_SWITCH_CLIENT_CERT")
            .description("PEM client certificate that ovsdb-server's CA signed (`ssl:` only)."),
        Attribute::string("client_key")
            .optional()
            .sensitive()
            .env("RACK_SWITCH_CLIENT_KEY")
            .description("PEM private key of `client_cert`."),
        Attribute::string("timeout")
            .optional()
            .env("RACK_SWITCH_TIMEOUT")
            .description("How long connecting and each request may take. Default: `30s`.")
            .validator(duration_validator("A duration such as `30s` or `500ms`.")),
    ])
}

/// The `switch` block of the provider configuration.
pub fn block() -> NestedBlock {
    servers::section_block(
        &SECTION,
        "Open vSwitch switches (their `ovsdb-server`) that `rack_switch_*` resources and data \
         sources use.",
        server_block(),
    )
}

/// One configured switch.
#[derive(Debug)]
pub struct SwitchServer {
    /// The block label.
    pub name: String,
    /// Its OVSDB client.
    pub client: SwitchClient,
}

/// Every configured switch.
pub type SwitchServers = NamedServers<SwitchServer>;

static SECTION: Section = Section {
    block: "switch",
    kind: "switch",
    default_env: "RACK_SWITCH_DEFAULT_SERVER",
    trigger_env: "RACK_SWITCH_ADDRESS",
    missing_hint: "Add a `switch { server \"NAME\" { address = \"ssl:HOST:6640\" ... } }` section \
                   to the rack provider block, or set RACK_SWITCH_ADDRESS (and \
                   RACK_SWITCH_CA_CERT, RACK_SWITCH_CLIENT_CERT, RACK_SWITCH_CLIENT_KEY).",
};

/// Builds the switches from the `switch` block's value (environment fallbacks applied).
pub fn configure(
    value: &Value,
    lookup: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> SwitchServers {
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
) -> Option<SwitchServer> {
    let Some(address) = str_attr(v, "address") else {
        diags.error_at(
            path.join_attr("address"),
            format!("Switch {name:?} has no address"),
            "Set `address`, e.g. `ssl:10.0.0.2:6640` (or RACK_SWITCH_ADDRESS for the default \
             server).",
        );
        return None;
    };
    let mut config = SwitchConfig::new(address);
    if let Some(t) = str_attr(v, "timeout").and_then(|t| parse_duration(t).ok()) {
        config.timeout = t;
    }
    config.ca_cert_pem = str_attr(v, "ca_cert").map(str::to_string);
    config.client_cert_pem = str_attr(v, "client_cert").map(str::to_string);
    config.client_key_pem = str_attr(v, "client_key").map(Secret::new);
    match SwitchClient::new(config) {
        Ok(client) => Some(SwitchServer {
            name: name.to_string(),
            client,
        }),
        Err(e) => {
            let attr = match &e {
                OvsdbError::InvalidAddress { .. } => "address",
                OvsdbError::Tls(m) if m.contains("client key") => "client_key",
                OvsdbError::Tls(m) if m.contains("client certificate") => "client_cert",
                OvsdbError::Tls(m) if m.contains("not ssl:") => "address",
                _ => "ca_cert",
            };
            diags.push(
                Diagnostic::from_error(&e, "Check this switch's settings in the provider block.")
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
    fn the_environment_alone_defines_the_default_switch() {
        let lookup = env(&[("RACK_SWITCH_ADDRESS", "tcp:127.0.0.1:6640")]);
        let mut diags = Diagnostics::new();
        let servers = configure(&Value::Null, &lookup, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        let s = servers.get(None).unwrap();
        assert_eq!(s.name, "default");
        assert_eq!(s.client.address().to_string(), "tcp:127.0.0.1:6640");
    }

    #[test]
    fn bad_settings_point_at_their_attribute() {
        type Vars = &'static [(&'static str, &'static str)];
        let cases: [(Vars, &str); 3] = [
            (&[("RACK_SWITCH_ADDRESS", "10.0.0.2:6640")], "address"),
            (&[("RACK_SWITCH_ADDRESS", "ssl:10.0.0.2:6640")], "ca_cert"),
            (
                &[
                    ("RACK_SWITCH_ADDRESS", "tcp:10.0.0.2:6640"),
                    ("RACK_SWITCH_CA_CERT", "x"),
                ],
                "address",
            ),
        ];
        for (vars, attr) in cases {
            let mut diags = Diagnostics::new();
            configure(&Value::Null, &env(vars), &mut diags);
            let d = diags.into_vec();
            assert_eq!(d.len(), 1, "{vars:?}: {d:?}");
            assert_eq!(
                d[0].attribute.as_ref().map(ToString::to_string),
                Some(format!("switch.server[\"default\"].{attr}")),
                "{vars:?}"
            );
        }
    }

    #[test]
    fn no_switch_is_a_clear_error_when_used() {
        let mut diags = Diagnostics::new();
        let servers = configure(&Value::Null, &env(&[]), &mut diags);
        assert!(
            servers
                .get(None)
                .unwrap_err()
                .detail
                .contains("RACK_SWITCH_ADDRESS")
        );
    }
}
