//! `rack_dns_zone`: a primary zone with its SOA and apex NS set. The zone is created and
//! deleted through the server's zone management (`rndc` or `powerdns` in the provider's
//! `dns` block); its SOA and NS records change in place with signed RFC 2136 UPDATEs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rack_core::dns::{DnsError, Name, RData, RecordType, RrSet, RrsetChange, ZoneSnapshot};
use rack_core::zones::{Soa, ZoneError, ZoneSpec, check_zone_name};

use super::provider_block::DnsServer;
use super::shared::{dns_error, server, set_value, string_set};
use crate::framework::attrs::{obj_set, str_attr};
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{
    Attribute, Block, IdentityAttribute, IdentitySchema, Nesting, Schema,
};
use crate::framework::validate::IntBetween;
use crate::framework::{
    ApplyRequest, AttributePath, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest,
    ReadRequest, Resource, StateResult,
};
use crate::protocol::value::{Number, Type, Value};

/// TTL of the SOA and NS records when the configuration sets none.
pub const DEFAULT_TTL: u32 = 3600;
/// SOA refresh when the configuration sets none.
pub const DEFAULT_REFRESH: u32 = 3600;
/// SOA retry when the configuration sets none.
pub const DEFAULT_RETRY: u32 = 600;
/// SOA expire when the configuration sets none: two weeks.
pub const DEFAULT_EXPIRE: u32 = 1_209_600;
/// SOA minimum (negative-answer TTL, RFC 2308) when the configuration sets none.
pub const DEFAULT_MINIMUM: u32 = 300;

/// Largest TTL or SOA timer: RFC 2181 §8 keeps the top bit of a 32-bit TTL clear.
const MAX_SECONDS: i64 = 2_147_483_647;

/// How many unmanaged record sets a refused destroy names; the rest are counted.
const LISTED_RECORDS: usize = 5;

/// How long a new zone may take to answer after the server accepted it. named loads a
/// zone from `rndc addzone` before answering; the margin covers servers that load in the
/// background.
const SERVE_WAIT: Duration = Duration::from_secs(5);

/// Pause between checks while waiting for a new zone to answer.
const SERVE_POLL: Duration = Duration::from_millis(100);

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsZone;

/// The SOA timers, in the order of the nested attribute's declaration.
const TIMERS: [(&str, u32, &str); 4] = [
    (
        "refresh",
        DEFAULT_REFRESH,
        "Seconds between a secondary's checks for a new serial. Default: 3600.",
    ),
    (
        "retry",
        DEFAULT_RETRY,
        "Seconds before a secondary retries a failed refresh. Default: 600.",
    ),
    (
        "expire",
        DEFAULT_EXPIRE,
        "Seconds after which a secondary that cannot refresh stops answering. Default: 1209600 (two weeks).",
    ),
    (
        "minimum",
        DEFAULT_MINIMUM,
        "TTL of negative answers, seconds (RFC 2308). Default: 300.",
    ),
];

fn num(n: u32) -> Value {
    Value::Number(Number::from(u64::from(n)))
}

fn u32_attr(v: &Value, name: &str) -> Option<u32> {
    v.attr(name)
        .and_then(Value::as_number)
        .and_then(Number::to_u64)
        .and_then(|n| u32::try_from(n).ok())
}

/// Parses an absolute name written in an attribute (trailing dot optional).
fn parse_name(text: &str, what: &str, path: &AttributePath) -> Result<Name, Diagnostic> {
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
fn parse_zone_name(text: &str, path: &AttributePath) -> Result<Name, Diagnostic> {
    let zone = parse_name(text, "the zone name", path)?;
    check_zone_name(&zone).map_err(|e| {
        Diagnostic::from_error(&e, "Write the zone as a domain name, e.g. `farm.`.")
            .at(path.clone())
    })?;
    Ok(zone)
}

/// What a zone object says, parsed; `None` while any part is unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ZoneModel {
    name: Name,
    mname: Name,
    rname: Name,
    refresh: u32,
    retry: u32,
    expire: u32,
    minimum: u32,
    nameservers: Vec<Name>,
    ttl: u32,
}

impl ZoneModel {
    fn from_value(v: &Value) -> Result<Option<Self>, Diagnostic> {
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

    fn soa(&self, serial: u32) -> Soa {
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

    fn same_soa(&self, other: &Self) -> bool {
        self.soa(0) == other.soa(0) && self.ttl == other.ttl
    }

    fn same_ns(&self, other: &Self) -> bool {
        self.nameservers == other.nameservers && self.ttl == other.ttl
    }

    fn ns_rdata(&self) -> Vec<RData> {
        self.nameservers.iter().cloned().map(RData::Ns).collect()
    }
}

/// The name servers that are at or below the zone's apex.
fn in_zone_nameservers<'a>(zone: &Name, nameservers: &'a [Name]) -> Vec<&'a Name> {
    nameservers
        .iter()
        .filter(|ns| ns.is_subdomain_of(zone))
        .collect()
}

/// What the server holds at the apex, from a snapshot.
struct Served {
    soa: Soa,
    soa_ttl: u32,
    nameservers: Vec<Name>,
    ns_ttl: Option<u32>,
}

impl Served {
    fn from_snapshot(snapshot: &ZoneSnapshot) -> Option<Self> {
        let soa_set = snapshot.soa();
        let soa = match soa_set.rdata.first()? {
            RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => Soa {
                mname: mname.clone(),
                rname: rname.clone(),
                serial: *serial,
                refresh: *refresh,
                retry: *retry,
                expire: *expire,
                minimum: *minimum,
            },
            _ => return None,
        };
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
    fn ttl(&self, kept: Option<u32>) -> u32 {
        match (kept, self.ns_ttl) {
            (Some(k), Some(ns)) if self.soa_ttl == k && ns != k => ns,
            _ => self.soa_ttl,
        }
    }
}

/// A name for state: the text kept from configuration when it means the same name.
fn keep_name(kept: Option<&str>, served: &Name) -> String {
    match kept {
        Some(k) if Name::parse(k).is_ok_and(|n| n == *served) => k.to_string(),
        _ => served.to_string(),
    }
}

/// The state object for what the server holds, keeping `prior`'s spellings where they
/// mean the same and its `force_destroy`.
fn state_value(server: &str, zone_text: &str, served: &Served, prior: &Value) -> Value {
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

fn identity(server: &str, zone: &Name) -> Value {
    Value::object([
        ("server", Value::from(server)),
        ("name", Value::from(zone.to_string())),
    ])
}

fn no_zone_management(srv: &DnsServer) -> Diagnostic {
    Diagnostic::error(
        format!("DNS server {:?} has no zone management", srv.name),
        format!(
            "rack creates and deletes zones through the server's management interface. Add an \
             `rndc {{ ... }}` block (with `zone_directory`) for BIND, or a `powerdns {{ ... }}` \
             block for PowerDNS, to `server {:?}` in the provider's dns block.",
            srv.name
        ),
    )
}

fn zone_error(e: &ZoneError, what: &str) -> Diagnostic {
    let mut d = Diagnostic::from_error(e, "");
    d.summary = format!("Cannot {what}");
    d
}

/// A serial for a new zone: seconds since the Unix epoch, as BIND's `unixtime` method.
fn initial_serial() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|d| u32::try_from(d.as_secs()).ok())
        .unwrap_or(1)
}

/// Waits until the new zone answers a SOA query; its serial.
async fn wait_served(srv: &DnsServer, zone: &Name) -> Result<u32, DnsError> {
    let deadline = tokio::time::Instant::now() + SERVE_WAIT;
    loop {
        match srv.client.soa_serial(zone).await {
            Err(DnsError::ZoneNotFound { .. }) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(SERVE_POLL).await;
            }
            other => return other,
        }
    }
}

/// Replaces the apex NS set; `prior` is what the server is believed to hold.
async fn replace_ns(
    srv: &DnsServer,
    zone: &Name,
    prior: Vec<RData>,
    ttl: u32,
    new: Vec<RData>,
) -> Result<(), Diagnostic> {
    let change = RrsetChange {
        name: zone.clone(),
        rtype: RecordType::Ns,
        prior,
        new: Some((ttl, new)),
    };
    srv.client.change(zone, change).await.map_err(|e| match e {
        DnsError::Conflict { .. } => Diagnostic::error(
            format!("The NS records of {zone} were changed outside Terraform"),
            "rack did not overwrite them. Run `terraform plan` to see the change, then apply again.",
        ),
        e => dns_error(&e, &format!("update the NS records of {zone}")),
    })
}

/// Replaces the SOA with `soa` (its serial ignored) at serial = the server's + 1.
async fn replace_soa(srv: &DnsServer, zone: &Name, soa: &Soa, ttl: u32) -> Result<(), Diagnostic> {
    let what = format!("update the SOA of {zone}");
    let current: Option<RrSet> = srv
        .client
        .query(zone, RecordType::Soa)
        .await
        .map_err(|e| dns_error(&e, &what))?;
    let Some(current) = current else {
        return Err(Diagnostic::error(
            format!("Cannot {what}"),
            format!("Server {:?} answered no SOA record for {zone}.", srv.name),
        ));
    };
    let serial = match current.rdata.first() {
        Some(RData::Soa { serial, .. }) => serial.wrapping_add(1),
        _ => 1,
    };
    let new = Soa {
        serial,
        ..soa.clone()
    };
    let change = RrsetChange {
        name: zone.clone(),
        rtype: RecordType::Soa,
        prior: current.rdata,
        new: Some((ttl, vec![new.rdata()])),
    };
    srv.client.change(zone, change).await.map_err(|e| match e {
        DnsError::Conflict { .. } => Diagnostic::error(
            format!("The SOA of {zone} changed while rack updated it"),
            "Another client updated the zone at the same moment. Apply again.",
        ),
        e => dns_error(&e, &what),
    })
}

/// Whether the zone, read fresh, holds exactly what `model` plans: its SOA (the serial
/// aside) and NS set with the planned TTL (the NS set's TTL aside, which create sets
/// afterwards on PowerDNS), and no other records.
async fn exists_as_planned(srv: &DnsServer, model: &ZoneModel) -> bool {
    srv.client.invalidate(&model.name);
    let snapshot = match srv.client.zone_fresh(&model.name).await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(zone = %model.name, error = %e, "cannot read the existing zone to compare it");
            return false;
        }
    };
    let Some(served) = Served::from_snapshot(&snapshot) else {
        return false;
    };
    served.soa == model.soa(served.soa.serial)
        && served.soa_ttl == model.ttl
        && served.nameservers == model.nameservers
        && unmanaged(&snapshot).is_empty()
}

/// The state after a write: the planned object with the server's serial.
async fn applied(srv: &DnsServer, zone: &Name, mut planned: Value) -> StateResult {
    obj_set(&mut planned, "server", Value::from(srv.name.as_str()));
    let mut diags = Diagnostics::new();
    match srv.client.soa_serial(zone).await {
        Ok(serial) => obj_set(&mut planned, "serial", num(serial)),
        Err(e) => {
            obj_set(&mut planned, "serial", num(0));
            diags.push(Diagnostic::warning(
                format!("Cannot read the serial of {zone}"),
                format!("{e}. The next refresh reads it again."),
            ));
        }
    }
    StateResult {
        identity: Some(identity(&srv.name, zone)),
        state: planned,
        diags,
        ..StateResult::default()
    }
}

/// The record sets that no `rack_dns_zone` manages: all but the apex SOA and NS.
fn unmanaged(snapshot: &ZoneSnapshot) -> Vec<String> {
    snapshot
        .rrsets()
        .filter(|s| {
            !(s.name == snapshot.zone && matches!(s.rtype, RecordType::Soa | RecordType::Ns))
        })
        .map(|s| format!("{} {}", s.name, s.rtype))
        .collect()
}

fn schema_block() -> Block {
    let mut soa_attrs = vec![
        Attribute::string("mname")
            .required()
            .description("The primary name server, e.g. `ns1.example.net.`."),
        Attribute::string("rname").required().description(
            "The responsible person's mailbox written as a name: `hostmaster.example.net.` \
             for hostmaster@example.net.",
        ),
    ];
    for (name, default, text) in TIMERS {
        soa_attrs.push(
            Attribute::number(name)
                .optional()
                .default(num(default))
                .description(text)
                .validator(IntBetween(0, MAX_SECONDS)),
        );
    }
    Block::new(
        "A primary DNS zone with its SOA record and apex NS set. rack creates and deletes the \
         zone through the server's zone management (`rndc` for BIND, `powerdns` for PowerDNS, \
         in the provider's `dns` block) and changes the SOA and NS records in place with \
         TSIG-signed dynamic updates; the new zone accepts updates and transfers signed with \
         the server's key, so `rack_dns_record_set` can fill it.\n\n\
         Destroying a zone that still holds records other than its SOA and NS fails unless \
         `force_destroy` is true; record sets that depend on the zone in the same \
         configuration are destroyed first. On PowerDNS the server chooses the initial serial.",
    )
    .attributes([
        Attribute::string("server")
            .optional()
            .computed()
            .description(
                "Name of a server in the provider's `dns` block; the default server when omitted. \
             The server needs `rndc` or `powerdns`. Changing it replaces the zone.",
            ),
        Attribute::string("name").required().description(
            "The zone's name, e.g. `lab.example.net.` (the trailing dot is optional). Changing \
             it replaces the zone.",
        ),
        Attribute::nested("soa", Nesting::Single, soa_attrs)
            .required()
            .description(
                "The SOA record's fields; the serial is managed by rack and the server. A change \
                 updates the SOA in place and increments the serial.",
            ),
        Attribute::set("nameservers", Type::String)
            .required()
            .description(
                "The apex NS set: absolute names of the zone's name servers, e.g. \
             `[\"ns1.example.net.\"]`. They must be outside the zone, because rack creates no \
             address records for them. Changes are applied in place.",
            ),
        Attribute::number("ttl")
            .optional()
            .default(num(DEFAULT_TTL))
            .description("TTL of the SOA and NS records, seconds. Default: 3600.")
            .validator(IntBetween(0, MAX_SECONDS)),
        Attribute::bool("force_destroy")
            .optional()
            .default(Value::Bool(false))
            .description(
                "Destroy the zone even when it holds records that are not managed by this \
                 resource. Default: false. Set it and apply before destroying.",
            ),
        Attribute::number("serial")
            .computed()
            .description("The SOA serial the server reports."),
    ])
}

#[async_trait]
impl Resource for DnsZone {
    fn type_name(&self) -> &'static str {
        "rack_dns_zone"
    }

    fn schema(&self) -> Schema {
        Schema::new(schema_block())
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(IdentitySchema {
            version: 0,
            attributes: vec![
                IdentityAttribute::optional_string(
                    "server",
                    "DNS server name; the default server when omitted.",
                ),
                IdentityAttribute::required_string("name", "Zone name."),
            ],
        })
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        let zone = match str_attr(config, "name")
            .map(|n| parse_zone_name(n, &AttributePath::attr("name")))
        {
            Some(Ok(z)) => Some(z),
            Some(Err(d)) => {
                diags.push(d);
                None
            }
            None => None,
        };
        if let Some(soa) = config.attr("soa") {
            let path = AttributePath::attr("soa");
            for field in ["mname", "rname"] {
                if let Some(text) = str_attr(soa, field)
                    && let Err(d) = parse_name(text, field, &path.join_attr(field))
                {
                    diags.push(d);
                }
            }
        }
        let Some(texts) = string_set(config, "nameservers") else {
            return;
        };
        let path = AttributePath::attr("nameservers");
        if texts.is_empty() && config.attr("nameservers").is_some_and(|v| !v.is_null()) {
            diags.error_at(
                path.clone(),
                "No name servers",
                "A zone needs at least one name server in its apex NS set.",
            );
        }
        let mut names = Vec::new();
        for t in &texts {
            match parse_name(t, "a name server", &path) {
                Ok(n) => names.push(n),
                Err(d) => diags.push(d),
            }
        }
        if let Some(zone) = zone {
            let inside = in_zone_nameservers(&zone, &names);
            if !inside.is_empty() {
                let list: Vec<String> = inside.iter().map(ToString::to_string).collect();
                diags.error_at(
                    path,
                    format!("Name server {} is inside zone {zone}", list.join(", ")),
                    "A name server inside its own zone needs an address record (glue) in the zone, \
                     which rack_dns_zone does not create, and BIND refuses to load or update a zone \
                     whose in-zone name server has no address. Use name servers outside the zone \
                     (e.g. in the parent zone).",
                );
            }
        }
    }

    async fn modify_plan(
        &self,
        ctx: &Context,
        prior: &Value,
        config: &Value,
        plan: &mut PlannedChange,
    ) {
        if plan.planned.attr("server").is_some_and(Value::is_unknown)
            && let Ok(srv) = server(ctx, None)
        {
            obj_set(&mut plan.planned, "server", Value::from(srv.name.as_str()));
        }
        let server_name = str_attr(&plan.planned, "server").map(str::to_string);
        let model = match ZoneModel::from_value(&plan.planned) {
            Ok(m) => m,
            Err(d) => return plan.diags.push(d),
        };
        let mut creating = prior.is_null();
        if !prior.is_null() {
            let old = ZoneModel::from_value(prior).ok().flatten();
            if let (Some(old), Some(new)) = (&old, &model) {
                if old.name != new.name {
                    plan.requires_replace.push(AttributePath::attr("name"));
                    creating = true;
                } else if old.same_soa(new) && old.same_ns(new) {
                    // Only spelling or force_destroy changed: the serial stays.
                    if let Some(serial) = prior.attr("serial") {
                        obj_set(&mut plan.planned, "serial", serial.clone());
                    }
                }
            }
            if server_name.is_some() && str_attr(prior, "server") != server_name.as_deref() {
                plan.requires_replace.push(AttributePath::attr("server"));
                creating = true;
            }
        }
        if creating
            && let Ok(srv) = server(ctx, server_name.as_deref())
            && srv.zones.is_none()
        {
            let attr = if config.attr("server").is_some_and(|s| !s.is_null()) {
                AttributePath::attr("server")
            } else {
                AttributePath::attr("name")
            };
            plan.diags.push(no_zone_management(&srv).at(attr));
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let planned = req.planned;
        let model = match ZoneModel::from_value(&planned) {
            Ok(Some(m)) => m,
            Ok(None) => {
                return StateResult::failed(
                    Value::Null,
                    Diagnostic::error(
                        "Unknown zone attributes at apply",
                        "This is a bug in the provider; please report it.",
                    ),
                );
            }
            Err(d) => return StateResult::failed(Value::Null, d),
        };
        let srv = match server(ctx, str_attr(&planned, "server")) {
            Ok(s) => s,
            Err(d) => return StateResult::failed(Value::Null, d),
        };
        let Some(zones) = srv.zones.clone() else {
            return StateResult::failed(Value::Null, no_zone_management(&srv));
        };
        let zone = model.name.clone();
        let spec = ZoneSpec {
            name: zone.clone(),
            soa: model.soa(initial_serial()),
            nameservers: model.nameservers.clone(),
            ttl: model.ttl,
        };
        match zones.create(&spec).await {
            Ok(()) => {}
            // Exactly what was planned exists already, e.g. created by an earlier apply
            // whose request timed out but that the server carried out later: adopt it.
            Err(ZoneError::Exists { .. }) if exists_as_planned(&srv, &model).await => {
                tracing::info!(%zone, "zone exists as planned; adopted");
            }
            Err(ZoneError::Exists { .. }) => {
                return StateResult::failed(
                    Value::Null,
                    Diagnostic::error(
                        format!("Zone {zone} already exists on server {:?}", srv.name),
                        format!(
                            "It holds another SOA, other name servers or records than planned, and \
                             rack does not take over a different zone silently. Import it: \
                             terraform import ADDRESS {zone}"
                        ),
                    ),
                );
            }
            Err(e) => {
                return StateResult::failed(
                    Value::Null,
                    zone_error(&e, &format!("create zone {zone}")),
                );
            }
        }
        srv.client.invalidate(&zone);
        if let Err(e) = wait_served(&srv, &zone).await {
            let mut result = applied(&srv, &zone, planned).await;
            result
                .diags
                .push(dns_error(&e, &format!("read the new zone {zone}")));
            return result;
        }
        // PowerDNS gives the NS set its default TTL: bring it to the configured one.
        if let Ok(snapshot) = srv.client.zone_fresh(&zone).await
            && let Some(ns) = snapshot.rrset(&zone, RecordType::Ns)
            && ns.ttl != model.ttl
            && let Err(d) =
                replace_ns(&srv, &zone, ns.rdata.clone(), model.ttl, model.ns_rdata()).await
        {
            let mut result = applied(&srv, &zone, planned).await;
            result.diags.push(d);
            return result;
        }
        applied(&srv, &zone, planned).await
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let Some(zone_text) = str_attr(&state, "name").map(str::to_string) else {
            return StateResult::failed(
                state,
                Diagnostic::error(
                    "Incomplete state",
                    "The stored state lacks the zone name; remove it from state and import the zone again.",
                ),
            );
        };
        let zone = match parse_zone_name(&zone_text, &AttributePath::attr("name")) {
            Ok(z) => z,
            Err(d) => return StateResult::failed(state, d),
        };
        let srv = match server(ctx, str_attr(&state, "server")) {
            Ok(s) => s,
            Err(d) => return StateResult::failed(state, d),
        };
        let snapshot = match srv.client.zone(&zone).await {
            Ok(s) => s,
            Err(DnsError::ZoneNotFound { .. }) => return StateResult::default(),
            Err(e) => {
                return StateResult::failed(state, dns_error(&e, &format!("read zone {zone}")));
            }
        };
        let Some(served) = Served::from_snapshot(&snapshot) else {
            return StateResult::failed(
                state,
                Diagnostic::error(
                    format!("Zone {zone} has no usable SOA record"),
                    "The zone transfer did not start with a SOA record; check the server.",
                ),
            );
        };
        StateResult {
            state: state_value(&srv.name, &zone_text, &served, &state),
            identity: Some(identity(&srv.name, &zone)),
            ..StateResult::default()
        }
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let (prior, planned) = (req.prior, req.planned);
        let (Ok(Some(new)), Ok(Some(old))) = (
            ZoneModel::from_value(&planned),
            ZoneModel::from_value(&prior),
        ) else {
            return StateResult::failed(
                prior,
                Diagnostic::error(
                    "Unknown zone attributes at apply",
                    "This is a bug in the provider; please report it.",
                ),
            );
        };
        let srv = match server(ctx, str_attr(&planned, "server")) {
            Ok(s) => s,
            Err(d) => return StateResult::failed(prior, d),
        };
        let zone = new.name.clone();
        if !old.same_ns(&new)
            && let Err(d) = replace_ns(&srv, &zone, old.ns_rdata(), new.ttl, new.ns_rdata()).await
        {
            return StateResult::failed(prior, d);
        }
        if !old.same_soa(&new)
            && let Err(d) = replace_soa(&srv, &zone, &new.soa(0), new.ttl).await
        {
            // The NS change, if any, is done: refresh shows the zone as it is.
            return StateResult::failed(prior, d);
        }
        if old.same_soa(&new) && old.same_ns(&new) {
            // Nothing on the server changes (spelling or force_destroy only).
            let mut planned = planned;
            obj_set(
                &mut planned,
                "serial",
                prior.attr("serial").cloned().unwrap_or(Value::Null),
            );
            return StateResult {
                identity: Some(identity(&srv.name, &zone)),
                state: planned,
                ..StateResult::default()
            };
        }
        applied(&srv, &zone, planned).await
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let prior = req.prior;
        let mut diags = Diagnostics::new();
        let Some(zone) = str_attr(&prior, "name")
            .and_then(|n| parse_zone_name(n, &AttributePath::attr("name")).ok())
        else {
            return diags;
        };
        let srv = match server(ctx, str_attr(&prior, "server")) {
            Ok(s) => s,
            Err(d) => {
                diags.push(d);
                return diags;
            }
        };
        let Some(zones) = srv.zones.clone() else {
            diags.push(no_zone_management(&srv));
            return diags;
        };
        let force = prior
            .attr("force_destroy")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if !force {
            match srv.client.zone_fresh(&zone).await {
                Ok(snapshot) => {
                    let left = unmanaged(&snapshot);
                    if !left.is_empty() {
                        let mut listed: Vec<String> =
                            left.iter().take(LISTED_RECORDS).cloned().collect();
                        if left.len() > LISTED_RECORDS {
                            listed.push(format!("and {} more", left.len() - LISTED_RECORDS));
                        }
                        diags.error(
                            format!(
                                "Zone {zone} still holds {} record set(s) besides its SOA and NS",
                                left.len()
                            ),
                            format!(
                                "rack does not delete records that Terraform does not manage: {}. \
                                 Delete them, manage them with rack_dns_record_set (import them, \
                                 so that Terraform destroys them first), or set \
                                 `force_destroy = true` on the zone and apply before destroying.",
                                listed.join(", ")
                            ),
                        );
                        return diags;
                    }
                }
                Err(DnsError::ZoneNotFound { .. }) => {}
                Err(e) => {
                    diags.push(dns_error(
                        &e,
                        &format!("read zone {zone} before deleting it"),
                    ));
                    return diags;
                }
            }
        }
        if let Err(e) = zones.delete(&zone).await {
            diags.push(zone_error(&e, &format!("delete zone {zone}")));
        }
        srv.client.invalidate(&zone);
        diags
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let (server_name, zone_text) = match &req {
            ImportRequest::Id(id) => match id.split_once('/') {
                Some((s, z)) if !s.is_empty() && !z.is_empty() => {
                    (Some(s.to_string()), z.to_string())
                }
                None if !id.is_empty() => (None, id.clone()),
                _ => {
                    return StateResult::failed(
                        Value::Null,
                        Diagnostic::error(
                            format!("Invalid import ID {id:?}"),
                            "Use the zone name, e.g. `lab.example.net.`, or `<server>/<zone>` for a server other than the default.",
                        ),
                    );
                }
            },
            ImportRequest::Identity(v) => (
                str_attr(v, "server").map(str::to_string),
                str_attr(v, "name").unwrap_or_default().to_string(),
            ),
        };
        let zone = match parse_zone_name(&zone_text, &AttributePath::attr("name")) {
            Ok(z) => z,
            Err(d) => return StateResult::failed(Value::Null, d),
        };
        let srv = match server(ctx, server_name.as_deref()) {
            Ok(s) => s,
            Err(d) => return StateResult::failed(Value::Null, d),
        };
        let snapshot = match srv.client.zone_fresh(&zone).await {
            Ok(s) => s,
            Err(e) => {
                return StateResult::failed(
                    Value::Null,
                    dns_error(&e, &format!("read zone {zone}")),
                );
            }
        };
        let Some(served) = Served::from_snapshot(&snapshot) else {
            return StateResult::failed(
                Value::Null,
                Diagnostic::error(format!("Zone {zone} has no usable SOA record"), ""),
            );
        };
        StateResult {
            state: state_value(&srv.name, &zone_text, &served, &Value::Null),
            identity: Some(identity(&srv.name, &zone)),
            ..StateResult::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    fn config(ns: &[&str]) -> Value {
        Value::object([
            ("server", Value::Null),
            ("name", Value::from("Lab.Farm")),
            (
                "soa",
                Value::object([
                    ("mname", Value::from("ns1.example.")),
                    ("rname", Value::from("hostmaster.example.")),
                    ("refresh", num(7200)),
                    ("retry", Value::Null),
                    ("expire", Value::Null),
                    ("minimum", Value::Null),
                ]),
            ),
            (
                "nameservers",
                set_value(ns.iter().map(|s| (*s).to_string())),
            ),
            ("ttl", Value::Null),
            ("force_destroy", Value::Null),
            ("serial", Value::Null),
        ])
    }

    #[test]
    fn model_normalises_and_fills_defaults() {
        let m = ZoneModel::from_value(&config(&["NS2.example", "ns1.example."]))
            .unwrap()
            .unwrap();
        assert_eq!(m.name, n("lab.farm."));
        assert_eq!(m.nameservers, vec![n("ns1.example."), n("ns2.example.")]);
        assert_eq!(
            (m.refresh, m.retry, m.ttl),
            (7200, DEFAULT_RETRY, DEFAULT_TTL)
        );
        let other = ZoneModel::from_value(&config(&["ns1.example", "ns2.EXAMPLE."]))
            .unwrap()
            .unwrap();
        assert!(m.same_ns(&other) && m.same_soa(&other));
    }

    #[tokio::test]
    async fn in_zone_nameservers_and_mail_rnames_are_refused() {
        let mut diags = Diagnostics::new();
        DnsZone
            .validate(&config(&["ns1.lab.farm.", "ns1.example."]), &mut diags)
            .await;
        let all: Vec<String> = diags.iter().map(|d| d.summary.clone()).collect();
        assert_eq!(all, ["Name server ns1.lab.farm. is inside zone lab.farm."]);

        let e = parse_name("hostmaster@farm", "rname", &AttributePath::attr("soa")).unwrap_err();
        assert!(e.detail.contains("hostmaster.farm"), "{}", e.detail);
    }

    #[test]
    fn state_keeps_equivalent_spellings() {
        let served = Served {
            soa: Soa {
                mname: n("ns1.example."),
                rname: n("hostmaster.example."),
                serial: 7,
                refresh: 7200,
                retry: 600,
                expire: 1_209_600,
                minimum: 300,
            },
            soa_ttl: 3600,
            nameservers: vec![n("ns1.example."), n("ns2.example.")],
            ns_ttl: Some(3600),
        };
        let mut prior = config(&["NS2.example", "ns1.example."]);
        obj_set(&mut prior, "ttl", num(3600));
        let state = state_value("default", "Lab.Farm", &served, &prior);
        assert_eq!(
            string_set(&state, "nameservers").unwrap(),
            ["NS2.example", "ns1.example."]
        );
        assert_eq!(state.attr("serial"), Some(&num(7)));
        // A drifted NS TTL shows as a change of `ttl`.
        let drifted = Served {
            ns_ttl: Some(60),
            ..served
        };
        let state = state_value("default", "Lab.Farm", &drifted, &prior);
        assert_eq!(state.attr("ttl"), Some(&num(60)));
    }
}
