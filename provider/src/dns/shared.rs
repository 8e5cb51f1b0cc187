//! What the DNS resources, data sources and list resources share: finding the server,
//! naming an RRset, turning rdata text into typed rdata and back, and DNS errors as
//! diagnostics.

use std::collections::BTreeSet;
use std::sync::Arc;

use rack_core::dns::{DnsError, Name, RData, RecordType, RrSet};
use rack_core::zones::Soa;

use super::provider_block::DnsServer;
use super::provider_block::DnsServers;
use crate::config;
use crate::framework::{AttributePath, Context, Diagnostic, Diagnostics};

/// Record types a `rack_dns_record_set` can hold.
pub const RECORD_TYPES: [&str; 15] = [
    "A", "AAAA", "CNAME", "MX", "NS", "PTR", "SRV", "TXT", "CAA", "SSHFP", "TLSA", "NAPTR",
    "DNAME", "SVCB", "HTTPS",
];

/// The server a resource names (or the default), from the configured provider.
pub fn server(ctx: &Context, name: Option<&str>) -> Result<Arc<DnsServer>, Diagnostic> {
    config::clients::<DnsServers>(ctx)?.get(name)
}

/// An RRset's address: zone, absolute owner name and type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RrsetKey {
    /// The zone.
    pub zone: Name,
    /// The absolute owner name.
    pub owner: Name,
    /// The type.
    pub rtype: RecordType,
}

impl RrsetKey {
    /// The import ID: `<zone>/<name relative to the zone>/<TYPE>`.
    pub fn id(&self) -> String {
        format!(
            "{}/{}/{}",
            self.zone,
            self.owner.relative_to(&self.zone),
            self.rtype
        )
    }
}

/// Parses a zone name; the error points at `path`.
pub fn parse_zone(text: &str, path: &AttributePath) -> Result<Name, Diagnostic> {
    Name::parse(text).map_err(|e| {
        Diagnostic::from_error(
            &e,
            "Write the zone as a domain name, e.g. `farm.` or `60.10.10.in-addr.arpa.`.",
        )
        .at(path.clone())
    })
}

/// Resolves an owner (`@`, relative, or absolute) inside `zone`; outside is an error.
pub fn parse_owner(text: &str, zone: &Name, path: &AttributePath) -> Result<Name, Diagnostic> {
    let owner = Name::resolve(text, zone).map_err(|e| {
        Diagnostic::from_error(&e, "Write `@` for the zone apex, a name relative to the zone (`www`), or an absolute name ending in a dot.")
            .at(path.clone())
    })?;
    if !owner.is_subdomain_of(zone) {
        return Err(Diagnostic::error(
            format!("{owner} is outside zone {zone}"),
            format!("A record set's name must be inside its zone. Use a relative name (e.g. `www`) or an absolute name ending in `.{zone}`."),
        )
        .at(path.clone()));
    }
    Ok(owner)
}

/// Record types whose owner BIND's `check-names` (on by default for primary zones) holds
/// to the host name rules, as its `dns_rdata_checkowner` does.
const HOSTNAME_OWNER_TYPES: [RecordType; 3] = [RecordType::A, RecordType::Aaaa, RecordType::Mx];

/// Checks the labels an owner adds below its zone: for A, AAAA and MX, host names (RFC 952,
/// RFC 1123 §2.1: letters, digits and hyphens, not at either end of a label), as BIND's
/// `check-names` demands; for other types also underscores (`_ldap._tcp`, RFC 2782) and `/`
/// (RFC 2317 classless reverse names). A leftmost `*` label, the wildcard, is valid for
/// every type. Anything else (spaces, other punctuation, control bytes) is refused.
pub fn check_owner(
    owner: &Name,
    zone: &Name,
    rtype: RecordType,
    path: &AttributePath,
) -> Result<(), Diagnostic> {
    let below = owner.labels().len().saturating_sub(zone.labels().len());
    let hostname = HOSTNAME_OWNER_TYPES.contains(&rtype);
    for (i, label) in owner.labels().take(below).enumerate() {
        if i == 0 && label == b"*" {
            continue;
        }
        let ok = if hostname {
            label
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && label.first().is_some_and(u8::is_ascii_alphanumeric)
                && label.last().is_some_and(u8::is_ascii_alphanumeric)
        } else {
            label
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/'))
        };
        if !ok {
            let shown = String::from_utf8_lossy(label);
            let allowed = if hostname {
                format!(
                    "The owner of {rtype} records must be a host name (RFC 952, RFC 1123), as the \
                     server's check-names demands: each label holds only letters, digits and \
                     hyphens, and starts and ends with a letter or digit."
                )
            } else {
                "Each label of an owner name holds only letters, digits, hyphens, underscores \
                 (as in `_ldap._tcp`) and `/` (RFC 2317 reverse names)."
                    .to_owned()
            };
            return Err(Diagnostic::error(
                format!("Invalid label {shown:?} in owner name {owner}"),
                format!("{allowed} `*` alone as the leftmost label makes a wildcard. Rename the record set."),
            )
            .at(path.clone()));
        }
    }
    Ok(())
}

/// Largest RDATA of one record: RDLENGTH is a 16-bit field (RFC 1035 §3.2.1).
pub const MAX_RDATA_LEN: usize = 65_535;

/// Parses a record type name.
pub fn parse_type(text: &str, path: &AttributePath) -> Result<RecordType, Diagnostic> {
    if !RECORD_TYPES.contains(&text) {
        return Err(Diagnostic::error(
            format!("Unsupported record type {text:?}"),
            format!("Use one of {} (upper case).", RECORD_TYPES.join(", ")),
        )
        .at(path.clone()));
    }
    text.parse().map_err(|_| {
        Diagnostic::error(format!("Unsupported record type {text:?}"), "").at(path.clone())
    })
}

/// The key of an object with `zone`, `name` and `type`, when all three are known.
pub fn key_from(
    zone: Option<&String>,
    name: Option<&String>,
    rtype: Option<&String>,
) -> Result<Option<RrsetKey>, Diagnostic> {
    let (Some(zone), Some(name), Some(rtype)) = (zone, name, rtype) else {
        return Ok(None);
    };
    parse_key(zone, name, rtype).map(Some)
}

/// The key of the RRset of type `rtype` at `name` in `zone`, as written in configuration;
/// an error points at the attribute of that name.
pub fn parse_key(zone: &str, name: &str, rtype: &str) -> Result<RrsetKey, Diagnostic> {
    let zone = parse_zone(zone, &AttributePath::attr("zone"))?;
    let owner = parse_owner(name, &zone, &AttributePath::attr("name"))?;
    let rtype = parse_type(rtype, &AttributePath::attr("type"))?;
    Ok(RrsetKey { zone, owner, rtype })
}

/// The fields of SOA rdata; `None` for rdata of another type.
pub fn soa_of(rdata: &RData) -> Option<Soa> {
    match rdata {
        RData::Soa {
            mname,
            rname,
            serial,
            refresh,
            retry,
            expire,
            minimum,
        } => Some(Soa {
            mname: mname.clone(),
            rname: rname.clone(),
            serial: *serial,
            refresh: *refresh,
            retry: *retry,
            expire: *expire,
            minimum: *minimum,
        }),
        _ => None,
    }
}

/// Parses rdata texts; an error names the offending record.
pub fn parse_records(
    texts: &[String],
    rtype: RecordType,
    zone: &Name,
    path: &AttributePath,
) -> Result<Vec<RData>, Diagnostic> {
    texts
        .iter()
        .map(|t| {
            let rdata = RData::parse(rtype, t, zone).map_err(|e| {
                Diagnostic::from_error(
                    &e,
                    &format!("Fix the record {t:?}: each element of `records` is one {rtype} record's data in zone-file syntax."),
                )
                .at(path.clone())
            })?;
            let len = rdata.to_wire().map_or(usize::MAX, |w| w.len());
            if len > MAX_RDATA_LEN {
                let start: String = t.chars().take(40).collect();
                return Err(Diagnostic::error(
                    format!("{rtype} record too long"),
                    format!(
                        "The record starting {start:?} is {len} bytes on the wire; one record's data holds at most 65,535 bytes (RFC 1035 §3.2.1). Split it into several records."
                    ),
                )
                .at(path.clone()));
            }
            Ok(rdata)
        })
        .collect()
}

/// Normalised presentation forms, as a set.
pub fn normalised(rdata: &[RData]) -> BTreeSet<String> {
    rdata.iter().map(ToString::to_string).collect()
}

/// Whether the texts mean the same records as `rdata` (same set after normalisation).
pub fn equivalent(texts: &[String], rdata: &[RData], rtype: RecordType, zone: &Name) -> bool {
    match parse_records(texts, rtype, zone, &AttributePath::root()) {
        Ok(parsed) => normalised(&parsed) == normalised(rdata),
        Err(_) => false,
    }
}

/// The records of an RRset as the state stores them: `kept` when it means the same (so a
/// user's spelling never shows as a diff), otherwise the server's normalised forms.
pub fn records_for_state(kept: Option<&[String]>, rrset: &RrSet, zone: &Name) -> Vec<String> {
    match kept {
        Some(k) if equivalent(k, &rrset.rdata, rrset.rtype, zone) => k.to_vec(),
        _ => normalised(&rrset.rdata).into_iter().collect(),
    }
}

/// A DNS error as a diagnostic; the error's own text says what to check.
pub fn dns_error(e: &DnsError, what: &str) -> Diagnostic {
    let mut d = Diagnostic::from_error(e, "");
    d.summary = format!("Cannot {what}");
    d
}

/// Adds `d` to `diags` and returns nothing, for `?`-less early returns.
pub fn push(diags: &mut Diagnostics, d: Diagnostic) {
    diags.push(d);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone() -> Name {
        Name::parse("farm.").unwrap()
    }

    #[test]
    fn owners_resolve_and_stay_inside_the_zone() {
        let p = AttributePath::attr("name");
        assert_eq!(parse_owner("@", &zone(), &p).unwrap().to_string(), "farm.");
        assert_eq!(
            parse_owner("www", &zone(), &p).unwrap().to_string(),
            "www.farm."
        );
        assert_eq!(
            parse_owner("WWW.Farm.", &zone(), &p).unwrap().to_string(),
            "www.farm."
        );
        let e = parse_owner("www.example.", &zone(), &p).unwrap_err();
        assert!(e.summary.contains("outside zone farm."));
        assert_eq!(e.attribute, Some(p));
    }

    #[test]
    fn equivalent_spellings() {
        let rdata = parse_records(
            &["10 mail.farm.".into()],
            RecordType::Mx,
            &zone(),
            &AttributePath::root(),
        )
        .unwrap();
        assert!(equivalent(
            &["10 MAIL.farm.".into()],
            &rdata,
            RecordType::Mx,
            &zone()
        ));
        assert!(equivalent(
            &["10 mail".into()],
            &rdata,
            RecordType::Mx,
            &zone()
        ));
        assert!(!equivalent(
            &["20 mail".into()],
            &rdata,
            RecordType::Mx,
            &zone()
        ));
        let v6 = parse_records(
            &["2001:db8::1".into()],
            RecordType::Aaaa,
            &zone(),
            &AttributePath::root(),
        )
        .unwrap();
        assert!(equivalent(
            &["2001:DB8:0:0::1".into()],
            &v6,
            RecordType::Aaaa,
            &zone()
        ));
    }

    #[test]
    fn bad_rdata_names_the_record() {
        let e = parse_records(
            &["mail.farm.".into()],
            RecordType::Mx,
            &zone(),
            &AttributePath::attr("records"),
        )
        .unwrap_err();
        assert!(e.detail.contains("mail.farm."), "{}", e.detail);
        assert_eq!(e.attribute, Some(AttributePath::attr("records")));
    }

    #[test]
    fn owner_labels_follow_the_rules_of_their_type() {
        let p = AttributePath::attr("name");
        let ok = |owner: &str, rtype| {
            let o = parse_owner(owner, &zone(), &p).unwrap();
            check_owner(&o, &zone(), rtype, &p)
        };
        for (owner, rtype) in [
            ("www", RecordType::A),
            ("web-1.lab", RecordType::Aaaa),
            ("@", RecordType::Mx),
            ("*", RecordType::A),
            ("*.lab", RecordType::A),
            ("_ldap._tcp", RecordType::Srv),
            ("_dmarc", RecordType::Txt),
            ("*._tcp", RecordType::Txt),
            ("0/26", RecordType::Cname),
        ] {
            assert!(ok(owner, rtype).is_ok(), "{owner} {rtype}");
        }
        for (owner, rtype) in [
            ("my host", RecordType::A),
            ("my host", RecordType::Txt),
            ("_ldap._tcp", RecordType::A),
            ("-web", RecordType::A),
            ("web-", RecordType::Mx),
            ("a.*", RecordType::A),
            ("a.*", RecordType::Txt),
            ("w@w", RecordType::Cname),
        ] {
            let e = ok(owner, rtype).unwrap_err();
            assert!(e.detail.contains("letters, digits"), "{}", e.detail);
            assert_eq!(e.attribute, Some(p.clone()));
        }
        // The zone's own labels are not the record set's to fix.
        let odd = Name::parse("my_zone.").unwrap();
        let o = parse_owner("www", &odd, &p).unwrap();
        assert!(check_owner(&o, &odd, RecordType::A, &p).is_ok());
    }

    #[test]
    fn record_data_over_65535_bytes_is_refused() {
        let path = AttributePath::attr("records");
        let txt = |strings: usize| {
            let s = format!("\"{}\"", "x".repeat(255));
            vec![vec![s; strings].join(" ")]
        };
        // 256 strings of 1 + 255 bytes: 65,536 bytes.
        let e = parse_records(&txt(256), RecordType::Txt, &zone(), &path).unwrap_err();
        assert!(e.detail.contains("65536 bytes"), "{}", e.detail);
        assert_eq!(e.attribute, Some(path.clone()));
        assert!(parse_records(&txt(255), RecordType::Txt, &zone(), &path).is_ok());
    }

    #[test]
    fn id_format() {
        let k = RrsetKey {
            zone: zone(),
            owner: Name::parse("www.farm.").unwrap(),
            rtype: RecordType::A,
        };
        assert_eq!(k.id(), "farm./www/A");
    }
}
