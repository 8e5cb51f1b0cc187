//! The provider block's `hypervisors` map: every KVM hypervisor of the zone by a name of
//! the user's choice, each a libvirt URI, and the default one.
//!
//! ```hcl
//! hypervisors = {
//!   kvm1 = "qemu:///system"
//!   kvm2 = "qemu+ssh://root@kvm2.dc1.example.net/system"
//! }
//! default_hypervisor = "kvm1"
//! ```
//!
//! Resources name a hypervisor with `hypervisor`; the default is used when they omit it.
//! Each hypervisor gets one [`Hypervisor`] handle per provider process: one libvirt
//! connection, owned by its own thread and opened on first use, so a hypervisor that no
//! resource of the plan touches is never contacted.
//!
//! Environment: `RACK_HYPERVISORS` holds the map as `name=uri` pairs separated by commas
//! (or a single URI, which defines a hypervisor named `default`), used when the attribute
//! is not set; `RACK_DEFAULT_HYPERVISOR` names the default.

use std::collections::BTreeMap;

use rack_core::libvirt::{DEFAULT_CALL_TIMEOUT, Hypervisor};

use crate::config::hypervisors::{ENV_DEFAULT, ENV_HYPERVISORS, Hypervisors};

use crate::framework::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::framework::schema::Attribute;
use crate::framework::timeouts::{duration_validator, parse_duration};
use crate::framework::validate::check;
use crate::protocol::value::{Type, Value};

/// The variable that can set `hypervisor_timeout`.
pub const ENV_TIMEOUT: &str = "RACK_HYPERVISOR_TIMEOUT";
/// The name a lone URI in `RACK_HYPERVISORS` gets.
pub const ENV_HYPERVISOR_NAME: &str = "default";

/// The provider block's attributes for hypervisors.
pub fn attributes() -> Vec<Attribute> {
    vec![
        Attribute::map("hypervisors", Type::String)
            .optional()
            .description(format!(
                "KVM hypervisors by a name of your choice, each a libvirt URI: \
                 `qemu:///system` (local), `qemu+ssh://user@host/system` (honours \
                 `~/.ssh/config`), `qemu+tls://host/system`. Resources pick one with \
                 `hypervisor`. Also from `{ENV_HYPERVISORS}`, as `name=uri` pairs separated \
                 by commas, or a single URI that defines a hypervisor named \
                 `{ENV_HYPERVISOR_NAME}`. rack keeps one connection per hypervisor, and \
                 opens up to three more when it creates or starts VMs, so that several \
                 start at once."
            ))
            .validator(check(
                "Every URI names a libvirt driver and transport, e.g. `qemu:///system`.",
                "Invalid libvirt URI",
                |v| match v {
                    Value::Map(m) => m.iter().try_for_each(|(name, uri)| match uri.as_str() {
                        Some(u) => check_uri(u).map_err(|e| format!("{name}: {e}")),
                        None => Ok(()),
                    }),
                    _ => Ok(()),
                },
            )),
        Attribute::string("default_hypervisor")
            .optional()
            .env(ENV_DEFAULT)
            .description(
                "The hypervisor used when a resource omits `hypervisor`. Optional when there \
                 is one hypervisor.",
            ),
        Attribute::string("hypervisor_timeout")
            .optional()
            .env(ENV_TIMEOUT)
            .description(
                "How long one libvirt call may wait for its answer, queueing included, e.g. \
                 `2m`. Default: `120s`.",
            )
            .validator(duration_validator("A duration such as `90s` or `2m`.")),
    ]
}

/// Checks the shape of a libvirt URI (`driver[+transport]://[user@][host[:port]]/path`),
/// so that a typo fails at plan time rather than at the first connection.
pub fn check_uri(uri: &str) -> Result<(), String> {
    let Some((scheme, rest)) = uri.split_once("://") else {
        return Err(format!(
            "{uri:?} is not a libvirt URI; write it as `driver[+transport]://[user@]host/path`, \
             e.g. `qemu:///system` or `qemu+ssh://root@kvm1/system`"
        ));
    };
    let (driver, transport) = match scheme.split_once('+') {
        Some((d, t)) => (d, Some(t)),
        None => (scheme, None),
    };
    if driver.is_empty() || !driver.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!(
            "{uri:?} has no valid driver before `://` (e.g. `qemu`)"
        ));
    }
    if let Some(t) = transport
        && !matches!(
            t,
            "unix" | "ssh" | "libssh" | "libssh2" | "tls" | "tcp" | "ext"
        )
    {
        return Err(format!(
            "{uri:?} has an unknown transport {t:?}; libvirt knows unix, ssh, libssh, \
             libssh2, tls, tcp and ext"
        ));
    }
    if !rest.contains('/') {
        return Err(format!(
            "{uri:?} has no path; add `/system` (or `/session`) after the host"
        ));
    }
    Ok(())
}

/// Parses `RACK_HYPERVISORS`: `name=uri[,name=uri...]`, or one URI.
fn parse_env_map(text: &str) -> Result<BTreeMap<String, String>, String> {
    let text = text.trim();
    if !text.contains('=') || text.split_once('=').is_some_and(|(k, _)| k.contains("://")) {
        return Ok([(ENV_HYPERVISOR_NAME.to_string(), text.to_string())].into());
    }
    let mut out = BTreeMap::new();
    for pair in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, uri)) = pair.split_once('=') else {
            return Err(format!("{pair:?} is not `name=uri`"));
        };
        out.insert(name.trim().to_string(), uri.trim().to_string());
    }
    Ok(out)
}

/// Builds the hypervisors from the provider block's value (environment fallbacks applied
/// here). Starts one connection thread per hypervisor; nothing connects yet.
pub fn configure(
    config: &Value,
    lookup: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> Hypervisors {
    let timeout = match config
        .attr("hypervisor_timeout")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| lookup(ENV_TIMEOUT))
    {
        Some(t) => match parse_duration(&t) {
            Ok(d) => d,
            Err(e) => {
                diags.error_at(
                    AttributePath::attr("hypervisor_timeout"),
                    "Invalid hypervisor timeout",
                    format!("{e}. Write a duration such as `90s` or `2m`."),
                );
                DEFAULT_CALL_TIMEOUT
            }
        },
        None => DEFAULT_CALL_TIMEOUT,
    };
    let uris: BTreeMap<String, String> = match config.attr("hypervisors") {
        Some(Value::Map(m)) => m
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|u| (k.clone(), u.to_string())))
            .collect(),
        _ => match lookup(ENV_HYPERVISORS) {
            Some(text) => match parse_env_map(&text) {
                Ok(m) => m,
                Err(e) => {
                    diags.error_at(
                        AttributePath::attr("hypervisors"),
                        format!("Invalid value in environment variable {ENV_HYPERVISORS}"),
                        format!(
                            "{e}. Write `name=uri` pairs separated by commas, e.g. \
                             `kvm1=qemu:///system,kvm2=qemu+ssh://root@kvm2/system`."
                        ),
                    );
                    BTreeMap::new()
                }
            },
            None => BTreeMap::new(),
        },
    };
    let default = config
        .attr("default_hypervisor")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or_else(|| lookup(ENV_DEFAULT))
        .or_else(|| {
            (uris.len() == 1)
                .then(|| uris.keys().next().cloned())
                .flatten()
        });
    if let Some(d) = &default
        && !uris.contains_key(d)
    {
        diags.error_at(
            AttributePath::attr("default_hypervisor"),
            format!("Unknown default hypervisor {d:?}"),
            "Name one of the keys of the `hypervisors` map.",
        );
    }
    let mut by_name = BTreeMap::new();
    for (name, uri) in uris {
        let path = AttributePath::attr("hypervisors").join_key(&name);
        if let Err(e) = check_uri(&uri) {
            diags.error_at(path, "Invalid libvirt URI", e);
            continue;
        }
        match Hypervisor::with_timeout(uri, timeout) {
            Ok(h) => {
                by_name.insert(name, h);
            }
            Err(e) => diags.push(
                Diagnostic::from_error(
                    &e,
                    "Check the process limits of the machine running Terraform.",
                )
                .at(path),
            ),
        }
    }
    Hypervisors::new(by_name, default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixed_env as env;

    fn config(pairs: &[(&str, &str)], default: Option<&str>) -> Value {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(*v)))
            .collect();
        let mut attrs = vec![("hypervisors", Value::Map(map))];
        if let Some(d) = default {
            attrs.push(("default_hypervisor", Value::from(d)));
        }
        Value::object(attrs)
    }

    #[test]
    fn uris_are_checked() {
        assert!(check_uri("qemu:///system").is_ok());
        assert!(check_uri("qemu+ssh://root@kvm1/system").is_ok());
        assert!(check_uri("qemu+tls://kvm1.example.net/system").is_ok());
        assert!(check_uri("test:///default").is_ok());
        assert!(check_uri("qemu+unix:///system?socket=/tmp/x/libvirt-sock").is_ok());
        assert!(check_uri("kvm1").unwrap_err().contains("not a libvirt URI"));
        assert!(
            check_uri("qemu+smtp://h/system")
                .unwrap_err()
                .contains("unknown transport")
        );
        assert!(check_uri("qemu+ssh://h").unwrap_err().contains("no path"));
    }

    #[tokio::test]
    async fn one_hypervisor_is_the_default() {
        let mut diags = Diagnostics::new();
        let hvs = configure(
            &config(&[("kvm1", "test:///default")], None),
            &env(&[]),
            &mut diags,
        );
        assert!(diags.is_empty(), "{diags:?}");
        let h = hvs.get(None).unwrap();
        assert_eq!(h.name, "kvm1");
        assert_eq!(h.handle.uri(), "test:///default");
        let e = hvs.get(Some("kvm9")).unwrap_err();
        assert!(
            e.summary.contains("kvm9") && e.detail.contains("kvm1"),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn several_need_a_default_or_an_explicit_name() {
        let mut diags = Diagnostics::new();
        let c = config(
            &[("kvm1", "test:///default"), ("kvm2", "test:///default")],
            None,
        );
        let hvs = configure(&c, &env(&[]), &mut diags);
        assert!(diags.is_empty());
        assert!(hvs.get(None).unwrap_err().summary.contains("No default"));
        assert_eq!(hvs.get(Some("kvm2")).unwrap().name, "kvm2");
        let hvs = configure(&c, &env(&[(ENV_DEFAULT, "kvm2")]), &mut diags);
        assert_eq!(hvs.get(None).unwrap().name, "kvm2");
    }

    #[tokio::test]
    async fn environment_supplies_the_map() {
        let mut diags = Diagnostics::new();
        let hvs = configure(
            &Value::Null,
            &env(&[(ENV_HYPERVISORS, "qemu+ssh://root@kvm1/system")]),
            &mut diags,
        );
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(hvs.get(None).unwrap().name, ENV_HYPERVISOR_NAME);
        let hvs = configure(
            &Value::Null,
            &env(&[
                (ENV_HYPERVISORS, "a=test:///default, b=qemu:///system"),
                (ENV_DEFAULT, "b"),
            ]),
            &mut diags,
        );
        assert!(diags.is_empty(), "{diags:?}");
        assert_eq!(hvs.get(None).unwrap().handle.uri(), "qemu:///system");
        assert_eq!(hvs.all().count(), 2);
    }

    #[tokio::test]
    async fn bad_values_point_at_the_attribute() {
        let mut diags = Diagnostics::new();
        configure(
            &config(&[("kvm1", "kvm1.example.net")], Some("kvm2")),
            &env(&[]),
            &mut diags,
        );
        let d = diags.into_vec();
        let paths: Vec<String> = d
            .iter()
            .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
            .collect();
        assert!(
            paths.contains(&"default_hypervisor".to_string()),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"hypervisors[\"kvm1\"]".to_string()),
            "{paths:?}"
        );
    }

    #[test]
    fn no_hypervisor_says_how_to_add_one() {
        let hvs = Hypervisors::default();
        let e = hvs.get(None).unwrap_err();
        assert!(e.detail.contains(ENV_HYPERVISORS), "{e:?}");
    }
}
