//! `rack_dns_zone`: a primary zone with its SOA and apex NS set. The zone is created and
//! deleted through the server's zone management (`rndc` or `powerdns` in the provider's
//! `dns` block); its SOA and NS records change in place with signed RFC 2136 UPDATEs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rack_core::dns::{DnsError, Name, RData, RecordType, RrSet, RrsetChange, ZoneSnapshot};
use rack_core::zones::{Soa, ZoneError, ZoneSpec, check_zone_name};

use super::provider_block::DnsServer;
use super::shared::{dns_error, server, set_value, soa_of, string_set};
use crate::framework::attrs::{obj_set, str_attr};
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{
    Attribute, Block, IdentityAttribute, IdentitySchema, Nesting, Schema,
};
use crate::framework::validate::IntBetween;
use crate::framework::{
    ApplyRequest, AttributePath, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest,
    PlanRequest, ReadRequest, Resource, StateResult,
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

mod model;
mod ops;
mod schema;
#[cfg(test)]
mod tests;

use model::*;
use ops::*;
use schema::*;

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

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        let prior = req.prior;
        let config = req.config;
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
                        Diagnostic::invalid_import_id(
                            id,
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
