//! Creating and deleting primary zones on a DNS server, with their SOA and apex NS set.
//!
//! - [`ZoneManager`]: what every server offers (create, delete, exists);
//! - [`BindZones`]: BIND 9 through `rndc addzone` / `delzone` over the native control
//!   channel client, with the zone file written by rack;
//! - [`PowerDnsZones`]: PowerDNS Authoritative through its HTTP API.
//!
//! Only the zone's existence is managed here. Changing the SOA and NS records of an
//! existing zone, and every other record, goes through signed RFC 2136 UPDATEs with the
//! DNS client; for that, both managers open the zone to updates and transfers signed with
//! the configured TSIG key (`update_key`).

mod bind;
mod powerdns;

pub use bind::BindZones;
pub use powerdns::PowerDnsZones;

use crate::dns::{Name, RData, Record};
use crate::powerdns::PowerDnsError;
use crate::rndc::RndcError;
use async_trait::async_trait;
use std::fmt;
use std::path::PathBuf;
use thiserror::Error;

/// Longest TSIG key name accepted, in characters (a key name is a domain name).
const MAX_KEY_NAME_LEN: usize = 255;

/// A primary zone as rack creates it: its name, SOA and apex NS set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSpec {
    /// The zone's name (its apex).
    pub name: Name,
    /// The SOA record's fields.
    pub soa: Soa,
    /// Name servers for the apex NS set; at least one. Duplicates are dropped.
    pub nameservers: Vec<Name>,
    /// TTL of the SOA and NS records, seconds.
    pub ttl: u32,
}

/// The fields of a SOA record (RFC 1035 §3.3.13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Soa {
    /// Primary name server.
    pub mname: Name,
    /// Responsible mailbox written as a name: `hostmaster.farm.` for `hostmaster@farm`.
    pub rname: Name,
    /// Zone serial.
    pub serial: u32,
    /// Seconds between a secondary's checks for a new serial.
    pub refresh: u32,
    /// Seconds before a secondary retries a failed refresh.
    pub retry: u32,
    /// Seconds after which a secondary that cannot refresh stops answering.
    pub expire: u32,
    /// TTL of negative answers (RFC 2308).
    pub minimum: u32,
}

impl Soa {
    /// These fields as SOA rdata.
    pub fn rdata(&self) -> RData {
        RData::Soa {
            mname: self.mname.clone(),
            rname: self.rname.clone(),
            serial: self.serial,
            refresh: self.refresh,
            retry: self.retry,
            expire: self.expire,
            minimum: self.minimum,
        }
    }
}

impl ZoneSpec {
    /// The apex SOA record followed by one NS record per distinct name server, in the
    /// order given, all with the spec's TTL.
    pub fn records(&self) -> Vec<Record> {
        let mut out = vec![Record::new(self.name.clone(), self.ttl, self.soa.rdata())];
        for ns in self.distinct_nameservers() {
            out.push(Record::new(
                self.name.clone(),
                self.ttl,
                RData::Ns(ns.clone()),
            ));
        }
        out
    }

    /// The name servers without duplicates, first occurrence kept.
    pub fn distinct_nameservers(&self) -> Vec<&Name> {
        let mut out: Vec<&Name> = Vec::with_capacity(self.nameservers.len());
        for ns in &self.nameservers {
            if !out.contains(&ns) {
                out.push(ns);
            }
        }
        out
    }

    /// Checks what every server needs: a plain zone name (see [`check_zone_name`]) and at
    /// least one name server.
    pub fn validate(&self) -> Result<(), ZoneError> {
        check_zone_name(&self.name)?;
        if self.nameservers.is_empty() {
            return Err(ZoneError::NoNameservers {
                zone: self.name.clone(),
            });
        }
        Ok(())
    }
}

/// The zone file rack writes for a new zone: `$ORIGIN`, `$TTL`, the SOA record and the NS
/// records, one per line, with names in their normalised absolute form.
pub fn render_zone_file(spec: &ZoneSpec) -> String {
    let mut out = format!("$ORIGIN {}\n$TTL {}\n", spec.name, spec.ttl);
    for record in spec.records() {
        out.push_str(&record.to_string());
        out.push('\n');
    }
    out
}

/// How a server creates and deletes zones.
#[async_trait]
pub trait ZoneManager: Send + Sync {
    /// Creates the zone with its SOA and NS records; [`ZoneError::Exists`] when the server
    /// already has a zone of that name (which is then left as it is).
    async fn create(&self, spec: &ZoneSpec) -> Result<(), ZoneError>;

    /// Deletes the zone and its data; `Ok(false)` when the server had no such zone.
    async fn delete(&self, zone: &Name) -> Result<bool, ZoneError>;

    /// Whether the server has a zone of that name.
    async fn exists(&self, zone: &Name) -> Result<bool, ZoneError>;

    /// The zones the server holds that rack could manage, sorted: on PowerDNS every zone;
    /// on BIND those with a zone file in `zone_directory` that named serves.
    async fn list(&self) -> Result<Vec<Name>, ZoneError>;
}

/// The step of a zone operation that a server refused or could not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Step {
    /// Looking the zone up.
    Lookup,
    /// Adding the zone.
    Create,
    /// Letting the update key update and transfer the zone.
    AllowKey,
    /// Deleting the zone.
    Delete,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Lookup => "look up",
            Self::Create => "create",
            Self::AllowKey => "allow the update key on",
            Self::Delete => "delete",
        })
    }
}

/// Why a zone could not be created, deleted or looked up.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ZoneError {
    /// The zone name has characters rack does not pass to a server's configuration.
    #[error(
        "Zone name {zone} is not supported; use labels of letters, digits, `-` and `_` below the root"
    )]
    InvalidZoneName {
        /// The name as given.
        zone: Name,
    },
    /// The TSIG key name has characters rack does not pass to a server's configuration.
    #[error(
        "TSIG key name `{key}` is not supported; use labels of letters, digits, `-` and `_` separated by dots"
    )]
    InvalidKeyName {
        /// The name as given.
        key: String,
    },
    /// The spec has no name server, and a zone needs an NS set at its apex.
    #[error("Zone {zone} needs at least one name server")]
    NoNameservers {
        /// The zone.
        zone: Name,
    },
    /// A name server is inside the zone, and the zone file has no address for it.
    #[error(
        "Name server {nameserver} is inside zone {zone}; BIND does not load a zone whose in-zone name server has no address record, so use a name server outside the zone"
    )]
    InZoneNameserver {
        /// The zone.
        zone: Name,
        /// The name server at or below the zone's apex.
        nameserver: Name,
    },
    /// The zone directory is not an absolute path that named's configuration can quote.
    #[error(
        "zone_directory `{}` must be an absolute path of letters, digits and `/._-+@,=:~` (named reads it from its configuration)",
        .path.display()
    )]
    InvalidDirectory {
        /// The directory as given.
        path: PathBuf,
    },
    /// The server already has a zone of that name.
    #[error("Zone {zone} already exists on the server")]
    Exists {
        /// The zone.
        zone: Name,
    },
    /// The zone file could not be written.
    #[error(
        "Cannot write zone file {}; zone_directory must exist, be writable by rack and be the directory named reads zone files from (named's `directory` option)",
        .path.display()
    )]
    WriteZoneFile {
        /// The file (or its temporary sibling) being written.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// named refused or failed a control-channel command.
    #[error("Cannot {step} zone {zone} on named{}", bind_hint(*.step, .source, .file))]
    Bind {
        /// What was being done.
        step: Step,
        /// The zone.
        zone: Name,
        /// The zone file rack wrote, for a failed create.
        file: Option<PathBuf>,
        /// What the control channel said.
        #[source]
        source: Box<RndcError>,
    },
    /// The server's zones could not be listed.
    #[error("Cannot list the zones of the server: {what}")]
    List {
        /// What failed, and what to check.
        what: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The PowerDNS API refused or failed a request.
    #[error("Cannot {step} zone {zone} on PowerDNS{}", powerdns_hint(*.step, .source))]
    PowerDns {
        /// What was being done.
        step: Step,
        /// The zone.
        zone: Name,
        /// What the API client said.
        #[source]
        source: Box<PowerDnsError>,
    },
}

/// What to check when named refuses a command; connection and key problems are already
/// explained by the rndc error itself.
fn bind_hint(step: Step, source: &RndcError, file: &Option<PathBuf>) -> String {
    if !matches!(*source, RndcError::Command { .. }) {
        return String::new();
    }
    match (step, file) {
        (Step::Create, Some(file)) => format!(
            "; check `allow-new-zones yes;` in named.conf, that named can read {} (zone_directory must be named's own zone directory, on the same host) and that BIND accepts the zone name and the name server names (`check-names`)",
            file.display()
        ),
        (Step::Delete, _) => {
            "; named deletes only zones added at run time, not zones declared in named.conf"
                .to_owned()
        }
        _ => String::new(),
    }
}

fn powerdns_hint(step: Step, source: &PowerDnsError) -> &'static str {
    match (step, source) {
        (Step::AllowKey, PowerDnsError::Api { .. }) => {
            "; check that the update key is stored in PowerDNS under that name and that the backend stores metadata (for gsqlite3: `gsqlite3-dnssec=yes`)"
        }
        _ => "",
    }
}

/// Whether every label is made of ASCII letters, digits, `-` and `_` (names are stored
/// lower-case). Such a name needs no quoting in a server's configuration or a file name.
fn is_plain(name: &Name) -> bool {
    name.labels().all(|l| {
        l.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// Checks that `zone` is a name rack passes to servers: not the root, and only labels of
/// ASCII letters, digits, `-` and `_`. This rules out RFC 2317 classless reverse zones
/// (`0/26.2.0.192.in-addr.arpa.`), which rack does not create.
pub fn check_zone_name(zone: &Name) -> Result<(), ZoneError> {
    if zone.is_root() || !is_plain(zone) {
        return Err(ZoneError::InvalidZoneName { zone: zone.clone() });
    }
    Ok(())
}

/// Checks a TSIG key name: labels of ASCII letters, digits, `-` and `_` separated by dots,
/// with an optional trailing dot.
pub fn check_key_name(key: &str) -> Result<(), ZoneError> {
    let bare = key.strip_suffix('.').unwrap_or(key);
    let ok = !bare.is_empty()
        && key.len() <= MAX_KEY_NAME_LEN
        && bare.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= crate::dns::name::MAX_LABEL_LEN
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if ok {
        Ok(())
    } else {
        Err(ZoneError::InvalidKeyName {
            key: key.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    fn spec(zone: &str) -> ZoneSpec {
        ZoneSpec {
            name: name(zone),
            soa: Soa {
                mname: name("NS1.Farm"),
                rname: name("hostmaster.farm."),
                serial: 2024010101,
                refresh: 3600,
                retry: 600,
                expire: 86400,
                minimum: 300,
            },
            nameservers: vec![name("ns1.farm."), name("ns2.farm"), name("NS1.farm.")],
            ttl: 600,
        }
    }

    #[test]
    fn zone_file_has_origin_ttl_soa_and_distinct_ns() {
        assert_eq!(
            render_zone_file(&spec("Lab")),
            "$ORIGIN lab.\n$TTL 600\n\
             lab. 600 IN SOA ns1.farm. hostmaster.farm. 2024010101 3600 600 86400 300\n\
             lab. 600 IN NS ns1.farm.\n\
             lab. 600 IN NS ns2.farm.\n"
        );
    }

    #[test]
    fn zone_names_must_be_plain() {
        assert!(check_zone_name(&name("lab.")).is_ok());
        assert!(check_zone_name(&name("10.in-addr.arpa")).is_ok());
        assert!(check_zone_name(&name("_tcp.farm")).is_ok());
        for bad in [
            ".",
            "0/26.2.0.192.in-addr.arpa.",
            "a\\032b.farm.",
            "x\\\"y.",
            "a\\;b",
        ] {
            let e = check_zone_name(&name(bad)).unwrap_err();
            assert!(matches!(e, ZoneError::InvalidZoneName { .. }), "{bad}: {e}");
        }
    }

    #[test]
    fn key_names_must_be_plain() {
        for good in ["rack-tsig", "rack-tsig.", "update.farm", "k_1"] {
            assert!(check_key_name(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "a..b", "a b", "a\"; }; //", "k{", &"a".repeat(64)] {
            assert!(check_key_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn spec_needs_a_nameserver() {
        let mut s = spec("lab.");
        s.nameservers.clear();
        let e = s.validate().unwrap_err();
        assert_eq!(e.to_string(), "Zone lab. needs at least one name server");
    }

    #[test]
    fn bind_errors_say_what_to_check() {
        let e = ZoneError::Bind {
            step: Step::Create,
            zone: name("lab."),
            file: Some(PathBuf::from("/var/lib/bind/lab.db")),
            source: Box::new(RndcError::Command {
                command: "addzone".into(),
                result: 1,
                err: "permission denied".into(),
                text: None,
            }),
        };
        let msg = e.to_string();
        assert!(
            msg.starts_with("Cannot create zone lab. on named; check"),
            "{msg}"
        );
        assert!(msg.contains("allow-new-zones"), "{msg}");
        assert!(msg.contains("/var/lib/bind/lab.db"), "{msg}");
        assert!(!msg.contains("permission denied"), "source repeated: {msg}");
    }
}
