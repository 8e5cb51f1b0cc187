//! The DHCPv4 options a reservation may carry (RFC 2132 unless noted): their codes, Kea's
//! names and other accepted names, how their data is written and checked, and their form
//! in Kea's `option-data`.

use std::net::Ipv4Addr;

use crate::kea::{OptionData, Reservation};

/// How an option's data is written and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionKind {
    /// One or more IPv4 addresses separated by commas.
    Ipv4List,
    /// One IPv4 address.
    Ipv4,
    /// A domain name.
    Fqdn,
    /// Domain names separated by commas.
    FqdnList,
    /// Text (a name, a path, a URL).
    Text,
    /// A 16-bit unsigned number.
    U16,
    /// A 32-bit unsigned number.
    U32,
    /// Site-specific (224-254 range's upper part): text, sent as its bytes. Kea has no
    /// definition for these codes, so rack writes the text as hex.
    SiteText,
}

/// One DHCPv4 option rack knows: its code, Kea's name for it, other names accepted, and
/// its data's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionDef {
    /// The option code.
    pub code: u8,
    /// Kea's name (`dhcp4` space).
    pub name: &'static str,
    /// Other names accepted in configuration.
    pub aliases: &'static [&'static str],
    /// How its data is written.
    pub kind: OptionKind,
}

const fn def(code: u8, name: &'static str, kind: OptionKind) -> OptionDef {
    OptionDef {
        code,
        name,
        aliases: &[],
        kind,
    }
}

/// The options a lease may carry, by code (RFC 2132 unless noted). Others are refused at
/// plan time, so a typo never reaches the server. Codes 239 to 254 are site-specific
/// (RFC 3942 leaves 224-254 to sites; rack takes the upper part, which vendors use for
/// ZTP and provisioning URLs) and carry text.
pub const OPTIONS: &[OptionDef] = &[
    def(3, "routers", OptionKind::Ipv4List),
    def(4, "time-servers", OptionKind::Ipv4List),
    def(6, "domain-name-servers", OptionKind::Ipv4List),
    def(12, "host-name", OptionKind::Text),
    def(15, "domain-name", OptionKind::Fqdn),
    def(17, "root-path", OptionKind::Text),
    def(26, "interface-mtu", OptionKind::U16),
    def(28, "broadcast-address", OptionKind::Ipv4),
    def(42, "ntp-servers", OptionKind::Ipv4List),
    def(44, "netbios-name-servers", OptionKind::Ipv4List),
    def(51, "dhcp-lease-time", OptionKind::U32),
    def(66, "tftp-server-name", OptionKind::Text),
    def(67, "boot-file-name", OptionKind::Text),
    // RFC 8910 captive-portal URL; ONIE reads its installer URL ("default-url") here.
    OptionDef {
        code: 114,
        name: "v4-captive-portal",
        aliases: &["captive-portal", "url", "default-url"],
        kind: OptionKind::Text,
    },
    def(119, "domain-search", OptionKind::FqdnList),
];

/// First site-specific code rack accepts as text.
pub const SITE_FIRST: u8 = 239;
/// Last site-specific code.
pub const SITE_LAST: u8 = 254;

/// The definition of `code`; site-specific codes get a synthetic one.
pub fn option_by_code(code: u8) -> Option<OptionDef> {
    OPTIONS
        .iter()
        .find(|d| d.code == code)
        .copied()
        .or_else(|| {
            (SITE_FIRST..=SITE_LAST)
                .contains(&code)
                .then_some(OptionDef {
                    code,
                    name: "",
                    aliases: &[],
                    kind: OptionKind::SiteText,
                })
        })
}

/// The definition called `name` (Kea's name or an alias, case-insensitive).
pub fn option_by_name(name: &str) -> Option<OptionDef> {
    let n = name.trim().to_ascii_lowercase();
    OPTIONS
        .iter()
        .find(|d| d.name == n || d.aliases.contains(&n.as_str()))
        .copied()
}

/// Every option rack knows, for messages: `name (code)`, then the site-specific range.
pub fn known_options() -> String {
    let mut names: Vec<String> = OPTIONS
        .iter()
        .map(|d| format!("{} ({})", d.name, d.code))
        .collect();
    names.push(format!("{SITE_FIRST}-{SITE_LAST} (site-specific text)"));
    names.join(", ")
}

fn valid_label(l: &str) -> bool {
    !l.is_empty()
        && l.len() <= 63
        && l.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A domain name, lower case without its final dot, if `text` is one.
pub fn parse_fqdn(text: &str) -> Option<String> {
    let t = text.trim();
    let t = t.strip_suffix('.').unwrap_or(t);
    (t.len() <= 253 && t.split('.').all(valid_label)).then(|| t.to_ascii_lowercase())
}

fn split_list(text: &str) -> Vec<&str> {
    text.split(',').map(str::trim).collect()
}

/// Checks `data` for an option of `kind`; returns its normalised form, or what is wrong.
pub fn normalise_data(kind: OptionKind, data: &str) -> Result<String, String> {
    let max = 255;
    match kind {
        OptionKind::Ipv4List => {
            let ips = split_list(data)
                .into_iter()
                .map(|t| {
                    t.parse::<Ipv4Addr>()
                        .map_err(|_| format!("{t:?} is not an IPv4 address"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if ips.len() * 4 > max {
                return Err("too many addresses for one option (at most 63)".into());
            }
            Ok(ips
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "))
        }
        OptionKind::Ipv4 => data
            .trim()
            .parse::<Ipv4Addr>()
            .map(|ip| ip.to_string())
            .map_err(|_| format!("{data:?} is not an IPv4 address")),
        OptionKind::Fqdn => {
            parse_fqdn(data).ok_or_else(|| format!("{data:?} is not a domain name"))
        }
        OptionKind::FqdnList => Ok(split_list(data)
            .into_iter()
            .map(|t| parse_fqdn(t).ok_or_else(|| format!("{t:?} is not a domain name")))
            .collect::<Result<Vec<_>, _>>()?
            .join(", ")),
        OptionKind::U16 => data
            .trim()
            .parse::<u16>()
            .map(|n| n.to_string())
            .map_err(|_| format!("{data:?} is not a number from 0 to 65535")),
        OptionKind::U32 => data
            .trim()
            .parse::<u32>()
            .map(|n| n.to_string())
            .map_err(|_| format!("{data:?} is not a number from 0 to 4294967295")),
        OptionKind::Text | OptionKind::SiteText => {
            if data.is_empty() {
                return Err("the text is empty".into());
            }
            if data.len() > max {
                return Err(format!("the text is {} bytes; at most 255 fit", data.len()));
            }
            if data.chars().any(char::is_control) {
                return Err("the text holds control characters".into());
            }
            if kind == OptionKind::Text && data.contains(',') {
                return Err(
                    "Kea splits option data at commas; this option holds one text without commas"
                        .into(),
                );
            }
            Ok(data.to_string())
        }
    }
}

/// One option as configured: by name or code, with its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredOption {
    /// Its definition.
    pub def: OptionDef,
    /// Its data, normalised.
    pub data: String,
}
/// How messages name an option: `name (code)`, or the code of a site-specific one.
pub fn label(def: &OptionDef) -> String {
    if def.name.is_empty() {
        def.code.to_string()
    } else {
        format!("{} ({})", def.name, def.code)
    }
}

/// How to write the data of an option of `kind`.
pub fn kind_hint(kind: OptionKind) -> &'static str {
    match kind {
        OptionKind::Ipv4List => {
            "Write IPv4 addresses separated by commas, e.g. `10.0.0.1, 10.0.0.2`."
        }
        OptionKind::Ipv4 => "Write one IPv4 address.",
        OptionKind::Fqdn => "Write a domain name, e.g. `farm.example`.",
        OptionKind::FqdnList => "Write domain names separated by commas.",
        OptionKind::U16 | OptionKind::U32 => "Write a decimal number.",
        OptionKind::Text | OptionKind::SiteText => {
            "Write printable text of at most 255 bytes, e.g. a URL."
        }
    }
}

/// The option as Kea's `option-data` entry: by code; site-specific text as hex.
pub fn to_kea(o: &ConfiguredOption) -> OptionData {
    let data = if o.def.kind == OptionKind::SiteText {
        o.data.bytes().map(|b| format!("{b:02x}")).collect()
    } else {
        o.data.clone()
    };
    OptionData::by_code(o.def.code, data)
}

/// An option Kea reports, as (code, normalised data) when rack knows it.
pub fn from_kea(o: &OptionData) -> Option<ConfiguredOption> {
    let def = match (o.code, &o.name) {
        (Some(c), _) => option_by_code(c)?,
        (None, Some(n)) => option_by_name(n)?,
        (None, None) => return None,
    };
    let data = if def.kind == OptionKind::SiteText {
        decode_hex(&o.data).unwrap_or_else(|| o.data.clone())
    } else {
        normalise_data(def.kind, &o.data).unwrap_or_else(|_| o.data.clone())
    };
    Some(ConfiguredOption { def, data })
}

fn decode_hex(text: &str) -> Option<String> {
    let digits: String = text
        .trim()
        .trim_start_matches("0x")
        .chars()
        .filter(|c| *c != ':' && *c != ' ')
        .collect();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..digits.len())
        .step_by(2)
        .map(|i| {
            digits
                .get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}
/// Options as (code, normalised data), sorted: two lists that mean the same compare equal.
pub fn sorted_options(list: &[OptionData]) -> Vec<(u8, String)> {
    let mut v: Vec<(u8, String)> = list
        .iter()
        .map(|o| match from_kea(o) {
            Some(c) => (c.def.code, c.data),
            None => (o.code.unwrap_or(0), o.data.clone()),
        })
        .collect();
    v.sort();
    v
}

/// Whether two reservations mean the same: options compared by code and normalised data,
/// in any order.
pub fn same_reservation(a: &Reservation, b: &Reservation) -> bool {
    a.subnet == b.subnet
        && a.identifier == b.identifier
        && a.ip_address == b.ip_address
        && a.hostname == b.hostname
        && a.next_server == b.next_server
        && a.boot_file_name == b.boot_file_name
        && a.client_classes == b.client_classes
        && sorted_options(&a.option_data) == sorted_options(&b.option_data)
}
