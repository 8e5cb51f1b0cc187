//! A zone's configuration as a model (SOA timers, nameservers), what the server serves,
//! and the state and identity written from them.

use super::*;

pub(super) fn num(n: u32) -> Value {
    Value::Number(Number::from(u64::from(n)))
}

pub(super) fn u32_attr(v: &Value, name: &str) -> Option<u32> {
    v.attr(name)
        .and_then(Value::as_number)
        .and_then(Number::to_u64)
        .and_then(|n| u32::try_from(n).ok())
}

/// Parses an absolute name written in an attribute (trailing dot optional).
pub(super) fn parse_name(text: &str, what: &str, path: &AttributePath) -> Result<Name, Diagnostic> {
    if what == "rname" && text.contains('@') {
        return Err(Diagnostic::error(
            format!("rname {text:?} is written as a mail address"),
            format!(
                "The SOA's rname is a mailbox written as a domain name: the `@` becomes a dot, \
                 e.g. `{}`.",
                text.replacen('@', ".", 1)
            ),
        )
        .at(path.clone()));
    }
    Name::parse(text).map_err(|e| {
        Diagnostic::from_error(
            &e,
            &format!("Write {what} as an absolute domain name, e.g. `ns1.example.net.`."),
        )
        .at(path.clone())
    })
}

/// A zone name from configuration or state, checked the way zone management checks it.
pub(super) fn parse_zone_name(text: &str, path: &AttributePath) -> Result<Name, Diagnostic> {
    let zone = parse_name(text, "the zone name", path)?;
    check_zone_name(&zone).map_err(|e| {
        Diagnostic::from_error(&e, "Write the zone as a domain name, e.g. `farm.`.")
            .at(path.clone())
    })?;
    Ok(zone)
}

/// What a zone object says, parsed; `None` while any part is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ZoneModel {
    pub(super) name: Name,
    pub(super) mname: Name,
    pub(super) rname: Name,
    pub(super) refresh: u32,
    pub(super) retry: u32,
    pub(super) expire: u32,
    pub(super) minimum: u32,
    pub(super) nameservers: Vec<Name>,
    pub(super) ttl: u32,
}

impl ZoneModel {
    pub(super) fn from_value(v: &Value) -> Result<Option<Self>, Diagnostic> {
        let Some(name) = str_attr(v, "name") else {
            return Ok(None);
        };
        let name = parse_zone_name(name, &AttributePath::attr("name"))?;
        let Some(soa) = v.attr("soa").filter(|s| s.is_fully_known() && !s.is_null()) else {
            return Ok(None);
        };
        let soa_path = AttributePath::attr("soa");
        let (Some(mname), Some(rname)) = (str_attr(soa, "mname"), str_attr(soa, "rname")) else {
            return Ok(None);
        };
        let mname = parse_name(mname, "mname", &soa_path.join_attr("mname"))?;
        let rname = parse_name(rname, "rname", &soa_path.join_attr("rname"))?;
        let timer = |n: &str, d: u32| u32_attr(soa, n).unwrap_or(d);
        let Some(texts) = string_set(v, "nameservers") else {
            return Ok(None);
        };
        let ns_path = AttributePath::attr("nameservers");
        let mut nameservers = texts
            .iter()
            .map(|t| parse_name(t, "a name server", &ns_path))
            .collect::<Result<Vec<_>, _>>()?;
        nameservers.sort_by_key(ToString::to_string);
        nameservers.dedup();
        if v.attr("ttl").is_some_and(Value::is_unknown) {
            return Ok(None);
        }
        Ok(Some(Self {
            name,
            mname,
            rname,
            refresh: timer("refresh", DEFAULT_REFRESH),
            retry: timer("retry", DEFAULT_RETRY),
            expire: timer("expire", DEFAULT_EXPIRE),
            minimum: timer("minimum", DEFAULT_MINIMUM),
            nameservers,
            ttl: u32_attr(v, "ttl").unwrap_or(DEFAULT_TTL),
        }))
    }

    pub(super) fn soa(&self, serial: u32) -> Soa {
        Soa {
            mname: self.mname.clone(),
            rname: self.rname.clone(),
            serial,
            refresh: self.refresh,
            retry: self.retry,
            expire: self.expire,
            minimum: self.minimum,
        }
    }

    pub(super) fn same_soa(&self, other: &Self) -> bool {
        self.soa(0) == other.soa(0) && self.ttl == other.ttl
    }

    pub(super) fn same_ns(&self, other: &Self) -> bool {
        self.nameservers == other.nameservers && self.ttl == other.ttl
    }

    pub(super) fn ns_rdata(&self) -> Vec<RData> {
        self.nameservers.iter().cloned().map(RData::Ns).collect()
    }
}

/// The name servers that are at or below the zone's apex.
pub(super) fn in_zone_nameservers<'a>(zone: &Name, nameservers: &'a [Name]) -> Vec<&'a Name> {
    nameservers
        .iter()
        .filter(|ns| ns.is_subdomain_of(zone))
        .collect()
}

/// What the server holds at the apex, from a snapshot.
pub(super) struct Served {
    pub(super) soa: Soa,
    pub(super) soa_ttl: u32,
    pub(super) nameservers: Vec<Name>,
    pub(super) ns_ttl: Option<u32>,
}

impl Served {
    pub(super) fn from_snapshot(snapshot: &ZoneSnapshot) -> Option<Self> {
        let soa_set = snapshot.soa();
        let soa = soa_of(soa_set.rdata.first()?)?;
        let ns_set = snapshot.rrset(&snapshot.zone, RecordType::Ns);
        let mut nameservers: Vec<Name> = ns_set
            .map(|s| {
                s.rdata
                    .iter()
                    .filter_map(|r| match r {
                        RData::Ns(n) => Some(n.clone()),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        nameservers.sort_by_key(ToString::to_string);
        Some(Self {
            soa,
            soa_ttl: soa_set.ttl,
            nameservers,
            ns_ttl: ns_set.map(|s| s.ttl),
        })
    }

    /// The TTL to report: the SOA's, unless the NS set's differs from the one in state
    /// (so a drift of either shows as a change of `ttl`).
    pub(super) fn ttl(&self, kept: Option<u32>) -> u32 {
        match (kept, self.ns_ttl) {
            (Some(k), Some(ns)) if self.soa_ttl == k && ns != k => ns,
            _ => self.soa_ttl,
        }
    }
}

/// A name for state: the text kept from configuration when it means the same name.
pub(super) fn keep_name(kept: Option<&str>, served: &Name) -> String {
    match kept {
        Some(k) if Name::parse(k).is_ok_and(|n| n == *served) => k.to_string(),
        _ => served.to_string(),
    }
}

/// The state object for what the server holds, keeping `prior`'s spellings where they
/// mean the same and its `force_destroy`.
pub(super) fn state_value(server: &str, zone_text: &str, served: &Served, prior: &Value) -> Value {
    let prior_soa = prior.attr("soa").cloned().unwrap_or(Value::Null);
    let kept_ns = string_set(prior, "nameservers").unwrap_or_default();
    let kept_parsed: Option<Vec<Name>> = kept_ns.iter().map(|t| Name::parse(t).ok()).collect();
    let nameservers = match kept_parsed {
        Some(mut k) => {
            k.sort_by_key(ToString::to_string);
            k.dedup();
            if k == served.nameservers {
                kept_ns
            } else {
                served.nameservers.iter().map(ToString::to_string).collect()
            }
        }
        None => served.nameservers.iter().map(ToString::to_string).collect(),
    };
    let soa = Value::object([
        (
            "mname",
            Value::from(keep_name(str_attr(&prior_soa, "mname"), &served.soa.mname)),
        ),
        (
            "rname",
            Value::from(keep_name(str_attr(&prior_soa, "rname"), &served.soa.rname)),
        ),
        ("refresh", num(served.soa.refresh)),
        ("retry", num(served.soa.retry)),
        ("expire", num(served.soa.expire)),
        ("minimum", num(served.soa.minimum)),
    ]);
    let force_destroy = prior
        .attr("force_destroy")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Value::object([
        ("server", Value::from(server)),
        ("name", Value::from(zone_text)),
        ("soa", soa),
        ("nameservers", set_value(nameservers)),
        ("ttl", num(served.ttl(u32_attr(prior, "ttl")))),
        ("force_destroy", Value::Bool(force_destroy)),
        ("serial", num(served.soa.serial)),
    ])
}

pub(super) fn identity(server: &str, zone: &Name) -> Value {
    Value::object([
        ("server", Value::from(server)),
        ("name", Value::from(zone.to_string())),
    ])
}
