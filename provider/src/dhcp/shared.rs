//! What the DHCP resources, data sources and list resources share: finding the server,
//! the lease's model, options as configured (checked against `rack_core::dhcp::options`),
//! turning a configuration into a reservation and a reservation back into the model of
//! its state (keeping the user's spelling when it means the same), and backend errors as
//! diagnostics.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use rack_core::Cidr;
use rack_core::kea::{ConfigError, HostIdentifier, OptionData, Reservation};
use rack_core::libvirt::DhcpHostError;
use rack_core::net::MacAddress;
use serde::{Deserialize, Serialize};

use super::provider_block::DhcpServer;
use super::provider_block::DhcpServers;
use crate::config;
use crate::framework::schema::{Attribute, Nesting};
use crate::framework::typed::Planned;
use crate::framework::{AttributePath, Context, Diagnostic};
use crate::protocol::value::Type;
use crate::protocol::value::Value;
use rack_core::dhcp::DhcpError;
use rack_core::dhcp::options::{
    ConfiguredOption, from_kea, kind_hint, known_options, label, normalise_data, option_by_code,
    option_by_name, parse_fqdn, same_reservation, sorted_options, to_kea,
};

/// The server a resource names (or the default), from the configured provider.
pub fn server(ctx: &Context, name: Option<&str>) -> Result<Arc<DhcpServer>, Diagnostic> {
    config::clients::<DhcpServers>(ctx)?.get(name)
}

/// A lease's attributes, as its configuration, plan and state hold them. Any of them may
/// be unknown in a configuration or plan ([`Planned`]); what is not known yet reads as
/// not set.
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct LeaseModel {
    pub server: Planned<Option<String>>,
    pub subnet: Planned<Option<String>>,
    pub mac: Planned<Option<String>>,
    pub client_id: Planned<Option<String>>,
    pub circuit_id: Planned<Option<String>>,
    pub ip: Planned<Option<String>>,
    pub hostname: Planned<Option<String>>,
    pub next_server: Planned<Option<String>>,
    pub boot_file: Planned<Option<String>>,
    pub options: Planned<Option<Vec<OptionModel>>>,
    pub client_classes: Planned<Option<Vec<String>>>,
    pub id: Planned<Option<String>>,
}

/// The attributes of one reservation besides its server, subnet and identifier: those of
/// `rack_dhcp_lease`, and of each entry of `rack_dhcp_reservations`.
pub fn reservation_attributes() -> Vec<Attribute> {
    let option = [
        Attribute::string("name").optional().description(
            "The option's name, e.g. `routers`, `domain-name-servers`, `boot-file-name`. Give `name` or `code`.",
        ),
        Attribute::number("code").optional().description(
            "The option's code, e.g. `67`, `114`, or `239`-`254` for site-specific text. Give `name` or `code`.",
        ),
        Attribute::string("data").required().description(
            "The value: addresses separated by commas for address lists, text for names, paths and URLs, a number for numbers.",
        ),
    ];
    vec![
        Attribute::string("ip").required().description(
            "The reserved IPv4 address, inside `subnet`. Better outside the server's dynamic pools.",
        ),
        Attribute::string("hostname")
            .optional()
            .description("The hostname handed to the client."),
        Attribute::string("next_server").optional().description(
            "The boot server's IPv4 address (siaddr, PXE's TFTP server).",
        ),
        Attribute::string("boot_file").optional().description(
            "The boot file in the DHCP header's `file` field, e.g. `pxelinux.0`. To chain-load iPXE \
             from HTTP, put the URL in option 67 (`boot-file-name`) as well or instead.",
        ),
        Attribute::nested("options", Nesting::List, option)
            .optional()
            .description("DHCP options sent to this client only, each by `name` or `code`."),
        Attribute::list("client_classes", Type::String)
            .optional()
            .description("Client classes the client is put in (they must exist on the server)."),
    ]
}

/// One element of `options`: an option by `name` or by `code`, and its `data`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct OptionModel {
    pub name: Option<String>,
    pub code: Option<OptionCode>,
    pub data: Option<String>,
}

/// An option's `code` as written: a whole number, or a number that is not one (a fraction,
/// or one too large), which names no option.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum OptionCode {
    /// A whole number.
    Whole(i64),
    /// Any other number.
    Other(f64),
}

/// A string attribute, if known and not null.
fn text(v: &Planned<Option<String>>) -> Option<&str> {
    v.value().map(String::as_str)
}

impl LeaseModel {
    /// The server it names; the default one when `None`.
    pub fn server(&self) -> Option<&str> {
        text(&self.server)
    }

    /// The reservation's identifier from `mac`, `client_id` or `circuit_id`.
    pub fn identifier(&self) -> Result<Option<HostIdentifier>, Diagnostic> {
        match (
            text(&self.mac),
            text(&self.client_id),
            text(&self.circuit_id),
        ) {
            (None, None, Some(c)) => parse_circuit_id(c).map(Some),
            (mac, client_id, _) => identifier_of(mac, client_id),
        }
    }
}

/// Checks one element of `options` (`path` points at it).
pub fn parse_option(v: &OptionModel, path: &AttributePath) -> Result<ConfiguredOption, Diagnostic> {
    let name = v.name.as_deref();
    let code = v.code.as_ref().map(|c| match c {
        OptionCode::Whole(c) => Some(*c),
        OptionCode::Other(_) => None,
    });
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
    let Some(data) = v.data.as_deref() else {
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

/// A reservation's identifier from a MAC address or a client identifier.
pub fn identifier_of(
    mac: Option<&str>,
    client_id: Option<&str>,
) -> Result<Option<HostIdentifier>, Diagnostic> {
    match (mac, client_id) {
        (Some(m), _) => {
            parse_mac(m, &AttributePath::attr("mac")).map(|m| Some(HostIdentifier::HwAddress(m)))
        }
        (None, Some(c)) => HostIdentifier::client_id(c)
            .map(Some)
            .map_err(|e| Diagnostic::from_error(&e, "").at(AttributePath::attr("client_id"))),
        (None, None) => Ok(None),
    }
}

/// Parses a `circuit_id`: `0x` and hex octets, or text (the relay's port name, e.g.
/// `swp3`), 1 to 255 octets (option 82's sub-option length is one octet).
pub fn parse_circuit_id(text: &str) -> Result<HostIdentifier, Diagnostic> {
    let path = AttributePath::attr("circuit_id");
    let hint = "Give the relay's port name as text (e.g. `swp3`), or the circuit ID's octets \
                as `0x` and hex digits (e.g. `0x000401f4`).";
    let octets = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => HostIdentifier::client_id(hex)
            .ok()
            .and_then(|h| h.octets())
            .ok_or_else(|| {
                Diagnostic::error(format!("Circuit ID {text:?} is not hex octets"), hint)
                    .at(path.clone())
            })?,
        None => text.as_bytes().to_vec(),
    };
    if octets.is_empty() {
        return Err(Diagnostic::error("An empty circuit ID", hint).at(path));
    }
    HostIdentifier::circuit_id(&octets).map_err(|e| {
        Diagnostic::error(
            format!("A circuit ID of {} bytes is too long", octets.len()),
            format!(
                "{e}: option 82 carries at most {} octets. {hint}",
                rack_core::kea::config::MAX_CIRCUIT_ID
            ),
        )
        .at(path)
    })
}

/// A circuit ID as `circuit_id` writes it: the text when it is printable ASCII (and
/// does not start with `0x`), otherwise `0x` and hex.
pub fn circuit_id_text(octets: &[u8]) -> String {
    let printable = octets.iter().all(|b| (0x20..0x7f).contains(b));
    match std::str::from_utf8(octets) {
        Ok(t) if printable && !t.starts_with("0x") && !t.starts_with("0X") => t.to_owned(),
        _ => {
            let hex: String = octets.iter().map(|b| format!("{b:02x}")).collect();
            format!("0x{hex}")
        }
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

/// The reservation a (fully known) configuration or plan describes. Every error points at
/// its attribute.
pub fn reservation_of(v: &LeaseModel) -> Result<Reservation, Vec<Diagnostic>> {
    let mut errs = Vec::new();
    let subnet = text(&v.subnet).map(parse_subnet);
    let identifier = v.identifier();
    let mut options = Vec::new();
    if let Some(items) = v.options.value() {
        for (i, item) in items.iter().enumerate() {
            match parse_option(item, &AttributePath::attr("options").join_index(i)) {
                Ok(o) => options.push(to_kea(&o)),
                Err(d) => errs.push(d),
            }
        }
    }
    let addr = |attr: &str, value, errs: &mut Vec<Diagnostic>| match text(value)
        .map(|t| parse_v4(t, attr))
    {
        Some(Ok(ip)) => Some(ip),
        Some(Err(d)) => {
            errs.push(d);
            None
        }
        None => None,
    };
    let ip = addr("ip", &v.ip, &mut errs);
    let next_server = addr("next_server", &v.next_server, &mut errs);
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
                    "Set `mac` (the client's MAC address), `client_id` (its DHCP client identifier, \
                     option 61) or `circuit_id` (the relay's port, option 82).",
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
    if text(&v.circuit_id).is_some() {
        for other in ["mac", "client_id"] {
            let set = if other == "mac" { &v.mac } else { &v.client_id };
            if text(set).is_some() {
                errs.push(
                    Diagnostic::error(
                        format!("Both {other} and circuit_id are set"),
                        format!(
                            "A reservation recognises its client by one identifier: by location \
                             (`circuit_id`, the relay's port) or by `{other}`; keep one."
                        ),
                    )
                    .at(AttributePath::attr("circuit_id")),
                );
            }
        }
    }
    if text(&v.mac).is_some() && text(&v.client_id).is_some() {
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
    if let Some(h) = text(&v.hostname)
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
    r.hostname = v.hostname.value().cloned();
    r.boot_file_name = v.boot_file.value().cloned();
    r.option_data = options;
    r.client_classes = v.client_classes.value().cloned().unwrap_or_default();
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

/// The attributes of `r` that `srv`'s backend cannot store, as diagnostics at `at` (the
/// reservation's attributes' parent).
pub fn unsupported_attributes(
    srv: &DhcpServer,
    r: &Reservation,
    at: &AttributePath,
) -> Vec<Diagnostic> {
    srv.backend
        .unsupported(r)
        .into_iter()
        .map(|(attr, why)| {
            Diagnostic::error(
                format!(
                    "`{attr}` is not supported by the {} backend of server {:?}",
                    srv.backend.kind(),
                    srv.name
                ),
                why,
            )
            .at(at.join_attr(attr))
        })
        .collect()
}

/// How a planned reservation is checked against what its server holds at plan time.
pub struct ClashCheck<'a> {
    /// The server.
    pub srv: &'a DhcpServer,
    /// Whether the reservation is created (an entry exactly as planned is then taken over).
    pub is_new: bool,
    /// Whether its address changes (or it is new): only then does another entry's count.
    pub ip_changed: bool,
    /// Whether its hostname changes (or it is new).
    pub hostname_changed: bool,
    /// Where its attributes are (their parent).
    pub at: AttributePath,
    /// Where its identifier is.
    pub identifier_at: AttributePath,
}

/// A reservation's [`Reservation::summary`], formatted only when displayed.
struct Summary<'a>(&'a Reservation);

impl std::fmt::Display for Summary<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.summary())
    }
}

impl ClashCheck<'_> {
    /// What `wanted` collides with among `existing` (its subnet's reservations): another
    /// entry of its identifier, of its address, or (where the backend wants hostnames
    /// unique) of its hostname. `own` leaves out the planner's own entries; `adopt` says
    /// how to take over the entry found with the same identifier.
    pub fn clashes(
        &self,
        wanted: &Reservation,
        existing: &[Reservation],
        own: &dyn Fn(&Reservation) -> bool,
        adopt: &dyn Fn(&Reservation) -> String,
    ) -> Vec<Diagnostic> {
        let srv = self.srv;
        let mut out = Vec::new();
        for other in existing {
            if own(other) {
                continue;
            }
            if self.is_new
                && other.identifier == wanted.identifier
                && same_reservation(other, wanted)
            {
                // Exactly what is planned (e.g. an earlier write that timed out but was
                // carried out): the create takes it over.
                continue;
            }
            // Written out only in a diagnostic: this loop runs once per reservation of the
            // subnet for every lease planned.
            let entry = Summary(other);
            if other.identifier == wanted.identifier {
                out.push(
                    Diagnostic::error(
                        format!(
                            "{} is already reserved in subnet {}",
                            wanted.identifier, wanted.subnet
                        ),
                        format!(
                            "Server {:?} already holds the reservation [{entry}]. rack does not \
                             take over reservations silently: {} or remove it from the server \
                             first.",
                            srv.name,
                            adopt(other)
                        ),
                    )
                    .at(self.identifier_at.clone()),
                );
            } else if srv.backend.unique_hostnames()
                && self.hostname_changed
                && let (Some(mine), Some(theirs)) = (&wanted.hostname, &other.hostname)
                && mine.eq_ignore_ascii_case(theirs)
            {
                out.push(
                    Diagnostic::error(
                        format!(
                            "Hostname {mine} is already used in subnet {}",
                            wanted.subnet
                        ),
                        format!(
                            "Server {:?} ({} backend) holds the reservation [{entry}] with the \
                             same hostname, and its entries may not share one. Pick another \
                             hostname, or change or remove that reservation first.",
                            srv.name,
                            srv.backend.kind()
                        ),
                    )
                    .at(self.at.join_attr("hostname")),
                );
            } else if self.ip_changed
                && let Some(ip) = wanted.ip_address
                && other.ip_address == Some(ip)
            {
                out.push(
                    Diagnostic::error(
                        format!("{ip} is already reserved in subnet {}", wanted.subnet),
                        format!(
                            "Server {:?} holds the reservation [{entry}] for the same address. \
                             Pick another address, or change or remove that reservation first.",
                            srv.name
                        ),
                    )
                    .at(self.at.join_attr("ip")),
                );
            }
        }
        out
    }
}

/// The import ID and `id` attribute: `<server>/<subnet>/<identifier>`.
pub fn lease_id(server: &str, r: &Reservation) -> String {
    format!("{server}/{}/{}", r.subnet, identifier_text(&r.identifier))
}

/// An identifier as import IDs write it: the MAC address, or `<kind>:<hex>`
/// (`client-id:01:52:...`, `circuit-id:73:77:70:33`).
pub fn identifier_text(id: &HostIdentifier) -> String {
    match id {
        HostIdentifier::HwAddress(m) => m.to_string(),
        other => format!("{}:{}", other.kind(), other.value()),
    }
}

/// The prefix of a `rack_dhcp_reservations` key naming a relay's circuit ID.
pub const CIRCUIT_ID_KEY: &str = "circuit-id:";

/// An identifier as `rack_dhcp_reservations`' keys write it: as [`identifier_text`], but
/// a circuit ID as `circuit_id` writes it (`circuit-id:swp3`, `circuit-id:0x000401f4`).
pub fn entry_key(id: &HostIdentifier) -> String {
    match id {
        HostIdentifier::CircuitId(_) => format!(
            "{CIRCUIT_ID_KEY}{}",
            circuit_id_text(&id.octets().unwrap_or_default())
        ),
        other => identifier_text(other),
    }
}

/// Parses [`entry_key`]'s form, the MAC in any spelling [`parse_mac`] takes; errors at
/// `path`.
pub fn parse_identifier(text: &str, path: &AttributePath) -> Result<HostIdentifier, Diagnostic> {
    let parsed = if let Some(c) = text.strip_prefix(CIRCUIT_ID_KEY) {
        parse_circuit_id(c).map(Some)
    } else if let Some(c) = text.strip_prefix("client-id:") {
        identifier_of(None, Some(c))
    } else {
        identifier_of(Some(text), None)
    };
    match parsed {
        Ok(Some(id)) => Ok(id),
        Ok(None) => Err(Diagnostic::error(
            "No client identifier",
            "Give a MAC address, `client-id:<hex>` or `circuit-id:<port>`.",
        )
        .at(path.clone())),
        Err(d) => Err(d.at(path.clone())),
    }
}

/// An option from the server as an element of `options`: by name, unless
/// `spelled_by_name` (how the prior value wrote the same code) says by code, or the
/// catalogue knows it by code only.
fn option_model(o: &OptionData, spelled_by_name: Option<bool>) -> OptionModel {
    match from_kea(o) {
        Some(c) => {
            let by_name =
                spelled_by_name.unwrap_or(!c.def.name.is_empty()) && !c.def.name.is_empty();
            if by_name {
                OptionModel {
                    name: Some(c.def.name.to_owned()),
                    code: None,
                    data: Some(c.data),
                }
            } else {
                OptionModel {
                    name: None,
                    code: Some(OptionCode::Whole(i64::from(c.def.code))),
                    data: Some(c.data),
                }
            }
        }
        None => OptionModel {
            name: o.name.clone(),
            code: o.code.map(|c| OptionCode::Whole(i64::from(c))),
            data: Some(o.data.clone()),
        },
    }
}

/// `prior`'s value of an attribute when it is known and `same` (it means what the server
/// holds); otherwise `fresh`.
fn keep<T: Clone>(prior: Option<&Planned<T>>, same: bool, fresh: T) -> Planned<T> {
    match prior {
        Some(Planned::Known(v)) if same => v.clone(),
        _ => fresh,
    }
    .into()
}

/// The state of a reservation read from the server. Where `prior` (the state or plan
/// being refreshed) means the same thing, its spelling is kept, so `AA-BB-...` against
/// the server's `aa:bb:...`, or an option by code against Kea's name, never shows as a
/// change.
pub fn state_of(server: &str, r: &Reservation, prior: Option<&LeaseModel>) -> LeaseModel {
    let prior_r = prior.and_then(|m| reservation_of(m).ok());
    let p = prior_r.as_ref();
    let (mac, client_id, circuit_id) = match &r.identifier {
        HostIdentifier::HwAddress(m) => (Some(m.to_string()), None, None),
        HostIdentifier::CircuitId(_) => (
            None,
            None,
            Some(circuit_id_text(&r.identifier.octets().unwrap_or_default())),
        ),
        other => (None, Some(other.value()), None),
    };
    let same_id = p.is_some_and(|p| p.identifier == r.identifier);
    let options =
        if p.is_some_and(|p| sorted_options(&p.option_data) == sorted_options(&r.option_data)) {
            keep(prior.map(|m| &m.options), true, None)
        } else if r.option_data.is_empty() {
            // Empty: a list where the prior value held one, null where it held none.
            prior
                .and_then(|m| m.options.value())
                .map(|_| Vec::new())
                .into()
        } else {
            // Keep the prior element where it means the same; otherwise spell the option the
            // way the prior state spelled the same code, or by name.
            let prior_items: Vec<(u8, String, bool, &OptionModel)> = prior
                .and_then(|m| m.options.value())
                .into_iter()
                .flatten()
                .filter_map(|i| {
                    parse_option(i, &AttributePath::root())
                        .ok()
                        .map(|c| (c.def.code, c.data, i.name.is_some(), i))
                })
                .collect();
            Some(
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
                            return (*v).clone();
                        }
                        let by_name = prior_items
                            .iter()
                            .find(|(c, ..)| Some(*c) == code)
                            .map(|(_, _, n, _)| *n);
                        option_model(o, by_name)
                    })
                    .collect(),
            )
            .into()
        };
    let client_classes = if r.client_classes.is_empty() {
        prior
            .and_then(|m| m.client_classes.value())
            .map(|_| Vec::new())
    } else {
        Some(r.client_classes.clone())
    };
    LeaseModel {
        server: Some(server.to_owned()).into(),
        subnet: keep(
            prior.map(|m| &m.subnet),
            p.is_some_and(|p| p.subnet == r.subnet),
            Some(r.subnet.to_string()),
        ),
        mac: keep(prior.map(|m| &m.mac), same_id, mac),
        client_id: keep(prior.map(|m| &m.client_id), same_id, client_id),
        circuit_id: keep(prior.map(|m| &m.circuit_id), same_id, circuit_id),
        ip: keep(
            prior.map(|m| &m.ip),
            p.is_some_and(|p| p.ip_address == r.ip_address),
            r.ip_address.map(|i| i.to_string()),
        ),
        hostname: r.hostname.clone().into(),
        next_server: keep(
            prior.map(|m| &m.next_server),
            p.is_some_and(|p| p.next_server == r.next_server),
            r.next_server.map(|i| i.to_string()),
        ),
        boot_file: r.boot_file_name.clone().into(),
        options,
        client_classes: client_classes.into(),
        id: Some(lease_id(server, r)).into(),
    }
}

/// The resource's identity.
pub fn identity(server: &str, r: &Reservation) -> Value {
    let (mac, client_id, circuit_id) = match &r.identifier {
        HostIdentifier::HwAddress(m) => (Value::from(m.to_string()), Value::Null, Value::Null),
        HostIdentifier::CircuitId(_) => (
            Value::Null,
            Value::Null,
            Value::from(circuit_id_text(&r.identifier.octets().unwrap_or_default())),
        ),
        other => (Value::Null, Value::from(other.value()), Value::Null),
    };
    Value::object([
        ("server", Value::from(server)),
        ("subnet", Value::from(r.subnet.to_string())),
        ("mac", mac),
        ("client_id", client_id),
        ("circuit_id", circuit_id),
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
    use crate::dhcp::lease::DhcpLease;
    use crate::framework::Resource;
    use crate::framework::typed;
    use crate::protocol::value::Number;
    use rack_core::dhcp::options::same_reservation;

    fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::object(pairs.iter().map(|(k, v)| (*k, v.clone())))
    }

    fn lease(ip: &str, options: Vec<Value>) -> Value {
        obj(&[
            ("server", Value::Null),
            ("subnet", Value::from("10.77.0.0/24")),
            ("mac", Value::from("52-54-00-AA-BB-CC")),
            ("client_id", Value::Null),
            ("circuit_id", Value::Null),
            ("ip", Value::from(ip)),
            ("hostname", Value::Null),
            ("next_server", Value::Null),
            ("boot_file", Value::Null),
            ("options", Value::List(options)),
            ("client_classes", Value::Null),
            ("id", Value::Null),
        ])
    }

    #[test]
    fn circuit_ids_are_text_or_hex_of_1_to_255_octets() {
        let swp3 = parse_circuit_id("swp3").unwrap();
        assert_eq!(swp3, HostIdentifier::circuit_id(b"swp3").unwrap());
        assert_eq!(parse_circuit_id("0x73777033").unwrap(), swp3);
        assert_eq!(parse_circuit_id("0X73:77:70:33").unwrap(), swp3);
        assert_eq!(circuit_id_text(b"swp3"), "swp3");
        assert_eq!(circuit_id_text(&[0, 4, 1, 0xf4]), "0x000401f4");
        assert_eq!(circuit_id_text(b"0x12"), "0x30783132");
        parse_circuit_id(&"p".repeat(255)).unwrap();
        for (bad, says) in [
            ("", "An empty circuit ID"),
            ("0x", "not hex octets"),
            ("0xabc", "not hex octets"),
            (&"p".repeat(256), "A circuit ID of 256 bytes is too long"),
        ] {
            let d = parse_circuit_id(bad).unwrap_err();
            assert!(d.summary.contains(says), "{bad:?}: {d:?}");
            assert_eq!(
                d.attribute.as_ref().map(ToString::to_string).as_deref(),
                Some("circuit_id")
            );
        }
        let mut l = lease("10.77.0.10", vec![]);
        obj_set_for_test(&mut l, "circuit_id", Value::from("swp3"));
        let errs = reservation_of(&model(&l)).unwrap_err();
        assert!(
            errs.iter()
                .any(|d| d.summary == "Both mac and circuit_id are set"),
            "{errs:?}"
        );
        obj_set_for_test(&mut l, "mac", Value::Null);
        let r = reservation_of(&model(&l)).unwrap();
        assert_eq!(r.identifier, swp3);
        let state = state_of("kea1", &r, None);
        assert_eq!(state.circuit_id.value().map(String::as_str), Some("swp3"));
        assert_eq!(
            identity("kea1", &r).attr("circuit_id"),
            Some(&Value::from("swp3"))
        );
    }

    fn obj_set_for_test(v: &mut Value, name: &str, new: Value) {
        crate::framework::attrs::obj_set(v, name, new);
    }

    /// A lease or option value read into its model.
    fn model<T: serde::de::DeserializeOwned>(v: &Value) -> T {
        typed::from_value(v).unwrap()
    }

    fn option(v: &Value, path: &AttributePath) -> Result<ConfiguredOption, Diagnostic> {
        parse_option(&model(v), path)
    }

    fn reservation(v: &Value) -> Result<Reservation, Vec<Diagnostic>> {
        reservation_of(&model(v))
    }

    /// The state of `r` refreshed from `prior`, as a value.
    fn refreshed(r: &Reservation, prior: &Value) -> Value {
        let m = state_of("default", r, Some(&model(prior)));
        typed::to_value(&m, &DhcpLease.schema().value_type()).unwrap()
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
        let o = option(&opt(Some("routers"), None, "10.0.0.1,10.0.0.2"), &p).unwrap();
        assert_eq!((o.def.code, o.data.as_str()), (3, "10.0.0.1, 10.0.0.2"));
        let o = option(&opt(None, Some(67), "ipxe.efi"), &p).unwrap();
        assert_eq!(o.def.name, "boot-file-name");
        let o = option(&opt(Some("url"), None, "http://onie/x"), &p).unwrap();
        assert_eq!(o.def.code, 114);
        let o = option(&opt(None, Some(239), "http://ztp/a b"), &p).unwrap();
        assert_eq!(to_kea(&o).data, "687474703a2f2f7a74702f612062");
        assert_eq!(from_kea(&to_kea(&o)).unwrap().data, "http://ztp/a b");

        let e = option(&opt(Some("no-such-option"), None, "x"), &p).unwrap_err();
        assert_eq!(e.attribute, Some(p.join_attr("name")));
        assert!(e.detail.contains("routers (3)"), "{}", e.detail);
        let e = option(&opt(None, Some(200), "x"), &p).unwrap_err();
        assert_eq!(e.attribute, Some(p.join_attr("code")));
        let e = option(&opt(Some("routers"), None, "10.0.0.300"), &p).unwrap_err();
        assert_eq!(e.attribute, Some(p.join_attr("data")));
        assert!(e.detail.contains("10.0.0.300"), "{}", e.detail);
        assert!(option(&opt(Some("interface-mtu"), None, "70000"), &p).is_err());
        assert!(option(&opt(Some("routers"), Some(3), "10.0.0.1"), &p).is_err());
        assert!(option(&opt(None, None, "10.0.0.1"), &p).is_err());
        assert!(option(&opt(Some("boot-file-name"), None, "a,b"), &p).is_err());
    }

    #[test]
    fn a_code_that_is_not_a_whole_number_names_no_option() {
        let p = AttributePath::attr("options").join_index(0);
        let fraction = Value::Number(Number::try_from(67.5).unwrap());
        let v = obj(&[
            ("name", Value::Null),
            ("code", fraction),
            ("data", Value::from("x")),
        ]);
        let e = option(&v, &p).unwrap_err();
        assert_eq!(e.summary, "Unknown DHCP option code a fraction");
        assert_eq!(e.attribute, Some(p.join_attr("code")));
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
        let errs = reservation(&lease("10.78.0.5", vec![])).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].attribute, Some(AttributePath::attr("ip")));
        assert!(reservation(&lease("10.77.0.5", vec![])).is_ok());
    }

    #[test]
    fn the_subnets_network_and_broadcast_addresses_are_refused() {
        for (ip, what) in [("10.77.0.0", "network"), ("10.77.0.255", "broadcast")] {
            let errs = reservation(&lease(ip, vec![])).unwrap_err();
            assert_eq!(errs.len(), 1, "{ip}");
            assert_eq!(errs[0].attribute, Some(AttributePath::attr("ip")));
            assert!(errs[0].summary.contains(what), "{}", errs[0].summary);
        }
        assert!(reservation(&lease("10.77.0.1", vec![])).is_ok());
        assert!(reservation(&lease("10.77.0.254", vec![])).is_ok());
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
        let r = reservation(&config).unwrap();
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
        let state = refreshed(&read, &config);
        assert_eq!(state.attr("mac"), Some(&Value::from("52-54-00-AA-BB-CC")));
        assert_eq!(state.attr("options"), config.attr("options"));
        assert_eq!(
            state.attr("id"),
            Some(&Value::from("default/10.77.0.0/24/52:54:00:aa:bb:cc"))
        );

        // A real change shows, spelled as the configuration spelled that option.
        read.option_data[1].data = "other.efi".into();
        let state = refreshed(&read, &config);
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
