//! A zone's attributes as configuration, plan and state hold them (typed, with
//! [`Planned`] for unknowns), the model parsed from them (SOA timers, nameservers), what
//! the server serves, and the state and identity written from it.

use super::*;

pub(super) fn num(n: u32) -> Value {
    Value::Number(Number::from(u64::from(n)))
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

/// The zone's attributes, as its configuration, plan and state hold them; what a
/// configuration or plan may leave unknown is [`Planned`].
#[derive(Debug, Deserialize, Serialize)]
pub(super) struct ZoneAttrs {
    pub(super) server: Planned<Option<String>>,
    pub(super) name: Planned<Option<String>>,
    pub(super) soa: Planned<Option<SoaAttrs>>,
    pub(super) nameservers: Planned<Option<Vec<String>>>,
    pub(super) ttl: Planned<Option<u32>>,
    pub(super) force_destroy: Planned<Option<bool>>,
    pub(super) serial: Planned<Option<u32>>,
}

/// The `soa` attribute's fields; a timer that is null takes its default.
#[derive(Debug, Deserialize, Serialize)]
pub(super) struct SoaAttrs {
    pub(super) mname: Option<String>,
    pub(super) rname: Option<String>,
    pub(super) refresh: Option<u32>,
    pub(super) retry: Option<u32>,
    pub(super) expire: Option<u32>,
    pub(super) minimum: Option<u32>,
}

impl ZoneAttrs {
    /// The server it names; the default one when `None`.
    pub(super) fn server(&self) -> Option<&str> {
        self.server.value().map(String::as_str)
    }

    /// Whether a destroy may delete records this resource does not manage.
    pub(super) fn force_destroy(&self) -> bool {
        self.force_destroy.value().copied().unwrap_or(false)
    }

    /// The zone these attributes describe, parsed; `None` while any part is unknown.
    pub(super) fn model(&self) -> Result<Option<ZoneModel>, Diagnostic> {
        let Some(name) = self.name.value() else {
            return Ok(None);
        };
        let name = parse_zone_name(name, &AttributePath::attr("name"))?;
        let Some(soa) = self.soa.value() else {
            return Ok(None);
        };
        let soa_path = AttributePath::attr("soa");
        let (Some(mname), Some(rname)) = (&soa.mname, &soa.rname) else {
            return Ok(None);
        };
        let mname = parse_name(mname, "mname", &soa_path.join_attr("mname"))?;
        let rname = parse_name(rname, "rname", &soa_path.join_attr("rname"))?;
        let Some(texts) = self.nameservers.known() else {
            return Ok(None);
        };
        let ns_path = AttributePath::attr("nameservers");
        let mut nameservers = texts
            .iter()
            .flatten()
            .map(|t| parse_name(t, "a name server", &ns_path))
            .collect::<Result<Vec<_>, _>>()?;
        nameservers.sort_by_key(ToString::to_string);
        nameservers.dedup();
        let Some(ttl) = self.ttl.known() else {
            return Ok(None);
        };
        Ok(Some(ZoneModel {
            name,
            mname,
            rname,
            refresh: soa.refresh.unwrap_or(DEFAULT_REFRESH),
            retry: soa.retry.unwrap_or(DEFAULT_RETRY),
            expire: soa.expire.unwrap_or(DEFAULT_EXPIRE),
            minimum: soa.minimum.unwrap_or(DEFAULT_MINIMUM),
            nameservers,
            ttl: ttl.unwrap_or(DEFAULT_TTL),
        }))
    }

    /// As state.
    pub(super) fn state(&self) -> Result<Value, Diagnostic> {
        typed::to_value(self, &DnsZone.schema().value_type())
    }
}

/// What a zone's attributes say, parsed.
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

    /// The state for what server `server` holds, keeping `prior`'s spellings where they
    /// mean the same and its `force_destroy`.
    pub(super) fn state(
        &self,
        server: &str,
        zone_text: &str,
        prior: Option<&ZoneAttrs>,
    ) -> Result<Value, Diagnostic> {
        let kept_ttl = prior.and_then(|p| p.ttl.value()).copied();
        let prior_soa = prior.and_then(|p| p.soa.value());
        let kept_name =
            |field: fn(&SoaAttrs) -> &Option<String>| prior_soa.and_then(|s| field(s).as_deref());
        let kept_ns = prior
            .and_then(|p| p.nameservers.value())
            .cloned()
            .unwrap_or_default();
        let kept_parsed: Option<Vec<Name>> = kept_ns.iter().map(|t| Name::parse(t).ok()).collect();
        let nameservers = match kept_parsed {
            Some(mut k) => {
                k.sort_by_key(ToString::to_string);
                k.dedup();
                if k == self.nameservers {
                    kept_ns
                } else {
                    self.nameservers.iter().map(ToString::to_string).collect()
                }
            }
            None => self.nameservers.iter().map(ToString::to_string).collect(),
        };
        let soa = SoaAttrs {
            mname: Some(keep_name(kept_name(|s| &s.mname), &self.soa.mname)),
            rname: Some(keep_name(kept_name(|s| &s.rname), &self.soa.rname)),
            refresh: Some(self.soa.refresh),
            retry: Some(self.soa.retry),
            expire: Some(self.soa.expire),
            minimum: Some(self.soa.minimum),
        };
        ZoneAttrs {
            server: Some(server.to_owned()).into(),
            name: Some(zone_text.to_owned()).into(),
            soa: Some(soa).into(),
            nameservers: Some(nameservers).into(),
            ttl: Some(self.ttl(kept_ttl)).into(),
            force_destroy: Some(prior.is_some_and(ZoneAttrs::force_destroy)).into(),
            serial: Some(self.soa.serial).into(),
        }
        .state()
    }
}

/// A name for state: the text kept from configuration when it means the same name.
pub(super) fn keep_name(kept: Option<&str>, served: &Name) -> String {
    match kept {
        Some(k) if Name::parse(k).is_ok_and(|n| n == *served) => k.to_string(),
        _ => served.to_string(),
    }
}

pub(super) fn identity(server: &str, zone: &Name) -> Value {
    Value::object([
        ("server", Value::from(server)),
        ("name", Value::from(zone.to_string())),
    ])
}

/// What validate reads of the configuration; the SOA's names are read on their own
/// ([`CheckedSoa`]), so that a SOA known only in part still has them checked.
#[derive(Debug, Deserialize)]
pub(super) struct CheckedConfig {
    pub(super) name: Planned<Option<String>>,
    pub(super) nameservers: Planned<Option<Vec<String>>>,
}

/// The SOA's names in a configuration, each as far as it is known.
#[derive(Debug, Deserialize)]
pub(super) struct CheckedSoa {
    pub(super) soa: Option<SoaNames>,
}

/// See [`CheckedSoa`].
#[derive(Debug, Deserialize)]
pub(super) struct SoaNames {
    pub(super) mname: Planned<Option<String>>,
    pub(super) rname: Planned<Option<String>>,
}

/// What an import names: the parts of an import ID, or an identity.
#[derive(Debug, Deserialize)]
pub(super) struct ImportTarget {
    pub(super) server: Option<String>,
    pub(super) name: Option<String>,
}
