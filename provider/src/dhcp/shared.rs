//! What the DHCP resources, data sources and list resources share: finding the server,
//! options as configured (checked against `rack_core::dhcp::options`), turning a configuration into a reservation and a
//! reservation back into state (keeping the user's spelling when it means the same), and
//! backend errors as diagnostics.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use rack_core::Cidr;
use rack_core::kea::{ConfigError, HostIdentifier, OptionData, Reservation};
use rack_core::libvirt::DhcpHostError;
use rack_core::net::MacAddress;

use super::provider_block::DhcpServer;
use super::provider_block::DhcpServers;
use crate::config;
use crate::framework::attrs::str_attr;
use crate::framework::{AttributePath, Context, Diagnostic};
use crate::protocol::value::{Number, Value};
use rack_core::dhcp::DhcpError;
use rack_core::dhcp::options::{
    ConfiguredOption, from_kea, kind_hint, known_options, label, normalise_data, option_by_code,
    option_by_name, parse_fqdn, sorted_options, to_kea,
};

/// The server a resource names (or the default), from the configured provider.
pub fn server(ctx: &Context, name: Option<&str>) -> Result<Arc<DhcpServer>, Diagnostic> {
    config::clients::<DhcpServers>(ctx)?.get(name)
}

/// Checks one element of `options` (`path` points at it).
pub fn parse_option(v: &Value, path: &AttributePath) -> Result<ConfiguredOption, Diagnostic> {
    let name = str_attr(v, "name");
    let code = v
        .attr("code")
        .and_then(Value::as_number)
        .map(Number::to_i64);
    let def = match (name, code) {
        (Some(_), Some(_)) => {
            return Err(Diagnostic::error(
                "An option with both a name and a code",
                "Give either `name` or `code` for each option, not both.",
            )
            .at(path.join_attr("code")));
        }
        (None, None) => {
            return Err(Diagnostic::error(
                "An option with neither a name nor a code",
                format!("Give `name` or `code`. Known options: {}.", known_options()),
            )
            .at(path.clone()));
        }
        (Some(n), None) => option_by_name(n).ok_or_else(|| {
            Diagnostic::error(
                format!("Unknown DHCP option {n:?}"),
                format!("rack knows these options: {}.", known_options()),
            )
            .at(path.join_attr("name"))
        })?,
        (None, Some(c)) => c
            .and_then(|c| u8::try_from(c).ok())
            .and_then(option_by_code)
            .ok_or_else(|| {
                let shown = c.map_or_else(|| "a fraction".to_string(), |c| c.to_string());
                Diagnostic::error(
                    format!("Unknown DHCP option code {shown}"),
                    format!("rack knows these options: {}.", known_options()),
                )
                .at(path.join_attr("code"))
            })?,
    };
    let Some(data) = str_attr(v, "data") else {
        return Err(
            Diagnostic::error("An option without data", "Set `data`.").at(path.join_attr("data"))
        );
    };
    let data = normalise_data(def.kind, data).map_err(|why| {
        Diagnostic::error(
            format!("Bad data for DHCP option {}", label(&def)),
            format!("{why}. {}", kind_hint(def.kind)),
        )
        .at(path.join_attr("data"))
    })?;
    Ok(ConfiguredOption { def, data })
}

/// The reservation's identifier from `mac` or `client_id`.
pub fn identifier_of(v: &Value) -> Result<Option<HostIdentifier>, Diagnostic> {
    match (str_attr(v, "mac"), str_attr(v, "client_id")) {
        (Some(m), _) => {
            parse_mac(m, &AttributePath::attr("mac")).map(|m| Some(HostIdentifier::HwAddress(m)))
        }
        (None, Some(c)) => HostIdentifier::client_id(c)
            .map(Some)
            .map_err(|e| Diagnostic::from_error(&e, "").at(AttributePath::attr("client_id"))),
        (None, None) => Ok(None),
    }
}

/// Parses a MAC address that a NIC can own: well formed, unicast, not all zeros.
pub fn parse_mac(text: &str, path: &AttributePath) -> Result<MacAddress, Diagnostic> {
    let mac: MacAddress = text
        .parse()
        .map_err(|e: rack_core::net::MacError| Diagnostic::from_error(&e, "").at(path.clone()))?;
    if !mac.is_unicast() || mac.is_zero() {
        return Err(Diagnostic::error(
            format!("{mac} is not a unicast MAC address"),
            "A DHCP client's MAC address has the multicast bit (the lowest bit of the first \
             octet) clear and is not all zeros; check the address.",
        )
        .at(path.clone()));
    }
    Ok(mac)
}

/// Parses the `subnet` attribute: an IPv4 CIDR.
pub fn parse_subnet(text: &str) -> Result<Cidr, Diagnostic> {
    let path = AttributePath::attr("subnet");
    let cidr: Cidr = text
        .trim()
        .parse()
        .map_err(|e: rack_core::net::CidrError| {
            Diagnostic::from_error(
                &e,
                "Write the subnet as the server has it, e.g. `10.0.0.0/24`.",
            )
            .at(path.clone())
        })?;
    if !matches!(cidr.network(), IpAddr::V4(_)) {
        return Err(Diagnostic::error(
            format!("{cidr} is not an IPv4 subnet"),
            "DHCPv4 reservations live in IPv4 subnets.",
        )
        .at(path));
    }
    Ok(cidr)
}

fn parse_v4(text: &str, attr: &str) -> Result<Ipv4Addr, Diagnostic> {
    text.trim().parse().map_err(|_| {
        Diagnostic::error(
            format!("{text:?} is not an IPv4 address"),
            "Write a dotted-quad IPv4 address, e.g. `10.0.0.10`.",
        )
        .at(AttributePath::attr(attr))
    })
}

/// A list-of-strings attribute; `None` when it or an element is unknown.
pub fn string_list(v: &Value, name: &str) -> Option<Vec<String>> {
    match v.attr(name)? {
        Value::List(items) | Value::Set(items) => items
            .iter()
            .map(|i| i.as_str().map(str::to_string))
            .collect(),
        Value::Null => Some(Vec::new()),
        _ => None,
    }
}

/// The reservation a (fully known) configuration or plan describes. Every error points at
/// its attribute.
pub fn reservation_of(v: &Value) -> Result<Reservation, Vec<Diagnostic>> {
    let mut errs = Vec::new();
    let subnet = str_attr(v, "subnet").map(parse_subnet);
    let identifier = identifier_of(v);
    let mut options = Vec::new();
    if let Some(Value::List(items)) = v.attr("options") {
        for (i, item) in items.iter().enumerate() {
            match parse_option(item, &AttributePath::attr("options").join_index(i)) {
                Ok(o) => options.push(to_kea(&o)),
                Err(d) => errs.push(d),
            }
        }
    }
    let addr = |attr: &str, errs: &mut Vec<Diagnostic>| match str_attr(v, attr)
        .map(|t| parse_v4(t, attr))
    {
        Some(Ok(ip)) => Some(ip),
        Some(Err(d)) => {
            errs.push(d);
            None
        }
        None => None,
    };
    let ip = addr("ip", &mut errs);
    let next_server = addr("next_server", &mut errs);
    let subnet = match subnet {
        Some(Ok(s)) => Some(s),
        Some(Err(d)) => {
            errs.push(d);
            None
        }
        None => {
            errs.push(
                Diagnostic::error("No subnet", "Set `subnet`.").at(AttributePath::attr("subnet")),
            );
            None
        }
    };
    let identifier = match identifier {
        Ok(Some(id)) => Some(id),
        Ok(None) => {
            errs.push(
                Diagnostic::error(
                    "No client identifier",
                    "Set `mac` (the client's MAC address) or `client_id` (its DHCP client identifier, option 61).",
                )
                .at(AttributePath::attr("mac")),
            );
            None
        }
        Err(d) => {
            errs.push(d);
            None
        }
    };
    if str_attr(v, "mac").is_some() && str_attr(v, "client_id").is_some() {
        errs.push(
            Diagnostic::error(
                "Both mac and client_id are set",
                "A reservation recognises its client by one identifier; keep `mac` or `client_id`.",
            )
            .at(AttributePath::attr("client_id")),
        );
    }
    if let (Some(s), Some(ip)) = (subnet, ip)
        && !s.contains(IpAddr::V4(ip))
    {
        errs.push(
            Diagnostic::error(
                format!("{ip} is not in subnet {s}"),
                "Reserve an address inside the lease's subnet.",
            )
            .at(AttributePath::attr("ip")),
        );
    }
    if let (Some(s), Some(ip)) = (subnet, ip)
        && let Some(what) = reserved_address(s, ip)
    {
        errs.push(
            Diagnostic::error(
                format!("{ip} is the {what} address of subnet {s}"),
                "No client can use it: reserve an address between the subnet's first and \
                 last usable addresses.",
            )
            .at(AttributePath::attr("ip")),
        );
    }
    if let Some(h) = str_attr(v, "hostname")
        && parse_fqdn(h).is_none()
    {
        errs.push(
            Diagnostic::error(
                format!("{h:?} is not a valid hostname"),
                "Use letters, digits and hyphens, with dots between labels.",
            )
            .at(AttributePath::attr("hostname")),
        );
    }
    let (Some(subnet), Some(identifier)) = (subnet, identifier) else {
        return Err(errs);
    };
    if !errs.is_empty() {
        return Err(errs);
    }
    let mut r = Reservation::new(subnet, identifier);
    r.ip_address = ip;
    r.next_server = next_server;
    r.hostname = str_attr(v, "hostname").map(str::to_string);
    r.boot_file_name = str_attr(v, "boot_file").map(str::to_string);
    r.option_data = options;
    r.client_classes = string_list(v, "client_classes").unwrap_or_default();
    Ok(r)
}

/// `network` or `broadcast` when `ip` is that address of `subnet` (a /31 or /32 has
/// neither: RFC 3021 uses both addresses of a /31).
fn reserved_address(subnet: Cidr, ip: Ipv4Addr) -> Option<&'static str> {
    let (IpAddr::V4(net), len) = (subnet.network(), subnet.prefix_len()) else {
        return None;
    };
    if len > 30 {
        return None;
    }
    let host_bits = u32::MAX.checked_shr(u32::from(len)).unwrap_or(0);
    if ip == net {
        Some("network")
    } else if u32::from(ip) == u32::from(net) | host_bits {
        Some("broadcast")
    } else {
        None
    }
}

/// The import ID and `id` attribute: `<server>/<subnet>/<identifier>`.
pub fn lease_id(server: &str, r: &Reservation) -> String {
    let id = match &r.identifier {
        HostIdentifier::HwAddress(m) => m.to_string(),
        other => format!("{}:{}", other.kind(), other.value()),
    };
    format!("{server}/{}/{id}", r.subnet)
}

fn text_or_null(s: Option<String>) -> Value {
    s.map_or(Value::Null, Value::String)
}

fn option_value(o: &OptionData, spelled_by_name: Option<bool>) -> Value {
    let known = from_kea(o);
    let (name, code, data) = match &known {
        Some(c) => {
            let by_name =
                spelled_by_name.unwrap_or(!c.def.name.is_empty()) && !c.def.name.is_empty();
            if by_name {
                (Value::from(c.def.name), Value::Null, c.data.clone())
            } else {
                (
                    Value::Null,
                    Value::Number(Number::from(i64::from(c.def.code))),
                    c.data.clone(),
                )
            }
        }
        None => (
            text_or_null(o.name.clone()),
            o.code
                .map_or(Value::Null, |c| Value::Number(Number::from(i64::from(c)))),
            o.data.clone(),
        ),
    };
    Value::object([
        ("name", name),
        ("code", code),
        ("data", Value::String(data)),
    ])
}

/// The state of a reservation read from the server. Where `prior` (the state or plan
/// being refreshed) means the same thing, its spelling is kept, so `AA-BB-...` against
/// the server's `aa:bb:...`, or an option by code against Kea's name, never shows as a
/// change.
pub fn state_of(server: &str, r: &Reservation, prior: &Value) -> Value {
    let prior_r = reservation_of(prior).ok();
    let keep = |attr: &str, same: bool, fresh: Value| -> Value {
        match prior.attr(attr) {
            Some(v) if same && !v.is_unknown() => v.clone(),
            _ => fresh,
        }
    };
    let p = prior_r.as_ref();
    let (mac, client_id) = match &r.identifier {
        HostIdentifier::HwAddress(m) => (Value::from(m.to_string()), Value::Null),
        other => (Value::Null, Value::from(other.value())),
    };
    let same_id = p.is_some_and(|p| p.identifier == r.identifier);
    let options =
        if p.is_some_and(|p| sorted_options(&p.option_data) == sorted_options(&r.option_data)) {
            keep("options", true, Value::Null)
        } else if r.option_data.is_empty() {
            match prior.attr("options") {
                Some(Value::List(_)) => Value::List(Vec::new()),
                _ => Value::Null,
            }
        } else {
            // Keep the prior element where it means the same; otherwise spell the option the
            // way the prior state spelled the same code, or by name.
            let prior_items: Vec<(u8, String, bool, Value)> = match prior.attr("options") {
                Some(Value::List(items)) => items
                    .iter()
                    .filter_map(|i| {
                        parse_option(i, &AttributePath::root())
                            .ok()
                            .map(|c| (c.def.code, c.data, str_attr(i, "name").is_some(), i.clone()))
                    })
                    .collect(),
                _ => Vec::new(),
            };
            Value::List(
                r.option_data
                    .iter()
                    .map(|o| {
                        let known = from_kea(o);
                        let code = known.as_ref().map(|c| c.def.code);
                        if let Some(c) = &known
                            && let Some((.., v)) = prior_items
                                .iter()
                                .find(|(pc, pd, ..)| *pc == c.def.code && *pd == c.data)
                        {
                            return v.clone();
                        }
                        let by_name = prior_items
                            .iter()
                            .find(|(c, ..)| Some(*c) == code)
                            .map(|(_, _, n, _)| *n);
                        option_value(o, by_name)
                    })
                    .collect(),
            )
        };
    let classes = if r.client_classes.is_empty() {
        match prior.attr("client_classes") {
            Some(Value::List(_)) => Value::List(Vec::new()),
            _ => Value::Null,
        }
    } else {
        Value::List(
            r.client_classes
                .iter()
                .cloned()
                .map(Value::String)
                .collect(),
        )
    };
    Value::object([
        ("server", Value::from(server)),
        (
            "subnet",
            keep(
                "subnet",
                p.is_some_and(|p| p.subnet == r.subnet),
                Value::from(r.subnet.to_string()),
            ),
        ),
        ("mac", if same_id { keep("mac", true, mac) } else { mac }),
        (
            "client_id",
            if same_id {
                keep("client_id", true, client_id)
            } else {
                client_id
            },
        ),
        (
            "ip",
            keep(
                "ip",
                p.is_some_and(|p| p.ip_address == r.ip_address),
                text_or_null(r.ip_address.map(|i| i.to_string())),
            ),
        ),
        ("hostname", text_or_null(r.hostname.clone())),
        (
            "next_server",
            keep(
                "next_server",
                p.is_some_and(|p| p.next_server == r.next_server),
                text_or_null(r.next_server.map(|i| i.to_string())),
            ),
        ),
        ("boot_file", text_or_null(r.boot_file_name.clone())),
        ("options", options),
        ("client_classes", classes),
        ("id", Value::from(lease_id(server, r))),
    ])
}

/// The resource's identity.
pub fn identity(server: &str, r: &Reservation) -> Value {
    let (mac, client_id) = match &r.identifier {
        HostIdentifier::HwAddress(m) => (Value::from(m.to_string()), Value::Null),
        other => (Value::Null, Value::from(other.value())),
    };
    Value::object([
        ("server", Value::from(server)),
        ("subnet", Value::from(r.subnet.to_string())),
        ("mac", mac),
        ("client_id", client_id),
    ])
}

/// A backend error as a diagnostic; the error's own text says what to check. Conflicts
/// and unknown subnets point at the attribute at fault.
pub fn dhcp_error(e: &DhcpError, what: &str) -> Diagnostic {
    let mut d = Diagnostic::from_error(e, "");
    d.summary = format!("Cannot {what}");
    match e {
        DhcpError::Config(ConfigError::Conflict { what, .. }) => {
            let attr = if what.starts_with("IP") {
                "ip"
            } else if what.starts_with("MAC") {
                "mac"
            } else if what.starts_with("hostname") {
                "hostname"
            } else {
                "client_id"
            };
            d.at(AttributePath::attr(attr))
        }
        DhcpError::Config(ConfigError::SubnetNotFound { .. }) => {
            d.at(AttributePath::attr("subnet"))
        }
        DhcpError::Libvirt(e) if matches!(**e, DhcpHostError::SubnetNotFound { .. }) => {
            d.at(AttributePath::attr("subnet"))
        }
        _ => d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rack_core::dhcp::options::same_reservation;

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::object(pairs.iter().map(|(k, v)| (*k, v.clone())))
    }

    fn lease(ip: &str, options: Vec<Value>) -> Value {
        obj(&[
            ("subnet", Value::from("10.77.0.0/24")),
            ("mac", Value::from("52-54-00-AA-BB-CC")),
            ("ip", Value::from(ip)),
            ("options", Value::List(options)),
        ])
    }

    fn opt(name: Option<&str>, code: Option<i64>, data: &str) -> Value {
        obj(&[
            ("name", name.map_or(Value::Null, Value::from)),
            (
                "code",
                code.map_or(Value::Null, |c| Value::Number(Number::from(c))),
            ),
            ("data", Value::from(data)),
        ])
    }

    #[test]
    fn the_catalogue_checks_names_codes_and_data() {
        let p = AttributePath::attr("options").join_index(0);
        let o = parse_option(&opt(Some("routers"), None, "10.0.0.1,10.0.0.2"), &p).unwrap();
        assert_eq!((o.def.code, o.data.as_str()), (3, "10.0.0.1, 10.0.0.2"));
        let o = parse_option(&opt(None, Some(67), "ipxe.efi"), &p).unwrap();
        assert_eq!(o.def.name, "boot-file-name");
        let o = parse_option(&opt(Some("url"), None, "http://onie/x"), &p).unwrap();
        assert_eq!(o.def.code, 114);
        let o = parse_option(&opt(None, Some(239), "http://ztp/a b"), &p).unwrap();
        assert_eq!(to_kea(&o).data, "687474703a2f2f7a74702f612062");
        assert_eq!(from_kea(&to_kea(&o)).unwrap().data, "http://ztp/a b");

        let e = parse_option(&opt(Some("no-such-option"), None, "x"), &p).unwrap_err();
        assert_eq!(e.attribute, Some(p.join_attr("name")));
        assert!(e.detail.contains("routers (3)"), "{}", e.detail);
        let e = parse_option(&opt(None, Some(200), "x"), &p).unwrap_err();
        assert_eq!(e.attribute, Some(p.join_attr("code")));
        let e = parse_option(&opt(Some("routers"), None, "10.0.0.300"), &p).unwrap_err();
        assert_eq!(e.attribute, Some(p.join_attr("data")));
        assert!(e.detail.contains("10.0.0.300"), "{}", e.detail);
        assert!(parse_option(&opt(Some("interface-mtu"), None, "70000"), &p).is_err());
        assert!(parse_option(&opt(Some("routers"), Some(3), "10.0.0.1"), &p).is_err());
        assert!(parse_option(&opt(None, None, "10.0.0.1"), &p).is_err());
        assert!(parse_option(&opt(Some("boot-file-name"), None, "a,b"), &p).is_err());
    }

    #[test]
    fn macs_must_be_well_formed_unicast() {
        let p = AttributePath::attr("mac");
        assert!(parse_mac("52:54:00:aa:bb:cc", &p).is_ok());
        assert!(parse_mac("5254.00aa.bbcc", &p).is_ok());
        for bad in [
            "52:54:00:aa:bb",
            "zz:54:00:aa:bb:cc",
            "01:00:5e:00:00:01",
            "00:00:00:00:00:00",
        ] {
            let e = parse_mac(bad, &p).unwrap_err();
            assert_eq!(e.attribute, Some(p.clone()), "{bad}");
        }
    }

    #[test]
    fn the_ip_must_be_inside_the_subnet() {
        let errs = reservation_of(&lease("10.78.0.5", vec![])).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].attribute, Some(AttributePath::attr("ip")));
        assert!(reservation_of(&lease("10.77.0.5", vec![])).is_ok());
    }

    #[test]
    fn the_subnets_network_and_broadcast_addresses_are_refused() {
        for (ip, what) in [("10.77.0.0", "network"), ("10.77.0.255", "broadcast")] {
            let errs = reservation_of(&lease(ip, vec![])).unwrap_err();
            assert_eq!(errs.len(), 1, "{ip}");
            assert_eq!(errs[0].attribute, Some(AttributePath::attr("ip")));
            assert!(errs[0].summary.contains(what), "{}", errs[0].summary);
        }
        assert!(reservation_of(&lease("10.77.0.1", vec![])).is_ok());
        assert!(reservation_of(&lease("10.77.0.254", vec![])).is_ok());
        let p31: Cidr = "10.0.0.0/31".parse().unwrap();
        assert_eq!(reserved_address(p31, "10.0.0.0".parse().unwrap()), None);
    }

    #[test]
    fn equivalent_spellings_keep_the_configured_form() {
        let config = lease(
            "10.77.0.5",
            vec![
                opt(None, Some(67), "ipxe.efi"),
                opt(Some("routers"), None, "10.77.0.1,10.77.0.2"),
            ],
        );
        let r = reservation_of(&config).unwrap();
        // Kea reports by name and code, with its own spacing.
        let mut read = r.clone();
        read.option_data = vec![
            OptionData {
                name: Some("routers".into()),
                code: Some(3),
                data: "10.77.0.1, 10.77.0.2".into(),
            },
            OptionData {
                name: Some("boot-file-name".into()),
                code: Some(67),
                data: "ipxe.efi".into(),
            },
        ];
        assert!(same_reservation(&r, &read));
        let state = state_of("default", &read, &config);
        assert_eq!(state.attr("mac"), Some(&Value::from("52-54-00-AA-BB-CC")));
        assert_eq!(state.attr("options"), config.attr("options"));
        assert_eq!(
            state.attr("id"),
            Some(&Value::from("default/10.77.0.0/24/52:54:00:aa:bb:cc"))
        );

        // A real change shows, spelled as the configuration spelled that option.
        read.option_data[1].data = "other.efi".into();
        let state = state_of("default", &read, &config);
        let Some(Value::List(items)) = state.attr("options") else {
            panic!("{state:?}")
        };
        assert!(
            items.contains(&opt(None, Some(67), "other.efi")),
            "{items:?}"
        );
        assert!(items.contains(&opt(Some("routers"), None, "10.77.0.1,10.77.0.2")));
    }
}
