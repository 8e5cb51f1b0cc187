//! `rack_dns_zone`: a primary zone with its SOA and apex NS set. The zone is created and
//! deleted through the server's zone management (`rndc` or `powerdns` in the provider's
//! `dns` block); its SOA and NS records change in place with signed RFC 2136 UPDATEs.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rack_core::dns::{DnsError, Name, RData, RecordType, RrSet, RrsetChange, ZoneSnapshot};
use rack_core::zones::{Soa, ZoneError, ZoneSpec, check_zone_name};
use serde::{Deserialize, Serialize};

use super::provider_block::DnsServer;
use super::shared::{dns_error, server, soa_of};
use crate::framework::attrs::obj_set;
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{
    Attribute, Block, IdentityAttribute, IdentitySchema, Nesting, Schema,
};
use crate::framework::typed::{self, Planned};
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

/// The state of zone `zone` of server `srv` for the list resource, as import gives it;
/// `Ok(None)` for a zone `rack_dns_zone` cannot manage (a name server inside the zone,
/// which needs glue records rack does not write).
pub(crate) async fn listed_state(
    srv: &DnsServer,
    zone: &Name,
) -> Result<Option<Value>, Diagnostic> {
    let snapshot = srv
        .client
        .zone_fresh(zone)
        .await
        .map_err(|e| dns_error(&e, &format!("read zone {zone}")))?;
    let served = Served::from_snapshot(&snapshot)
        .ok_or_else(|| Diagnostic::error(format!("Zone {zone} has no usable SOA record"), ""))?;
    if served.nameservers.iter().any(|ns| ns.is_subdomain_of(zone)) {
        return Ok(None);
    }
    served.state(&srv.name, &zone.to_string(), None).map(Some)
}

/// The identity of a zone, for the list resource.
pub(crate) fn listed_identity(server: &str, zone: &Name) -> Value {
    identity(server, zone)
}

/// Why server `srv` cannot list or change zones, for the list resource.
pub(crate) fn listing_unsupported(srv: &DnsServer) -> Diagnostic {
    no_zone_management(srv)
}

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
        // Each part is checked once it is known: the SOA's names one by one, also while
        // the rest of the SOA is unknown.
        let Ok(checked) = typed::from_value::<CheckedConfig>(config) else {
            return;
        };
        let zone = match checked
            .name
            .value()
            .map(|n| parse_zone_name(n, &AttributePath::attr("name")))
        {
            Some(Ok(z)) => Some(z),
            Some(Err(d)) => {
                diags.push(d);
                None
            }
            None => None,
        };
        if let Ok(CheckedSoa { soa: Some(soa) }) = typed::from_value(config) {
            let path = AttributePath::attr("soa");
            for (field, text) in [("mname", soa.mname), ("rname", soa.rname)] {
                if let Some(text) = text.value()
                    && let Err(d) = parse_name(text, field, &path.join_attr(field))
                {
                    diags.push(d);
                }
            }
        }
        let Planned::Known(texts) = checked.nameservers else {
            return;
        };
        let path = AttributePath::attr("nameservers");
        if texts.as_ref().is_some_and(Vec::is_empty) {
            diags.error_at(
                path.clone(),
                "No name servers",
                "A zone needs at least one name server in its apex NS set.",
            );
        }
        let mut names = Vec::new();
        for t in texts.iter().flatten() {
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
        let planned: ZoneAttrs = match typed::from_value(&plan.planned) {
            Ok(p) => p,
            Err(d) => return plan.diags.push(d),
        };
        let mut server_name = planned.server().map(str::to_string);
        if planned.server.is_unknown()
            && let Ok(srv) = server(ctx, None)
        {
            obj_set(&mut plan.planned, "server", Value::from(srv.name.as_str()));
            server_name = Some(srv.name.clone());
        }
        let model = match planned.model() {
            Ok(m) => m,
            Err(d) => return plan.diags.push(d),
        };
        let mut creating = prior.is_null();
        if let Ok(Some(old)) = typed::from_value::<Option<ZoneAttrs>>(prior) {
            if let (Ok(Some(old)), Some(new)) = (old.model(), &model) {
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
            if server_name.is_some() && old.server() != server_name.as_deref() {
                plan.requires_replace.push(AttributePath::attr("server"));
                creating = true;
            }
        }
        if creating
            && let Ok(srv) = server(ctx, server_name.as_deref())
            && srv.zones.is_none()
        {
            let attr = if req.config.attr("server").is_some_and(|s| !s.is_null()) {
                AttributePath::attr("server")
            } else {
                AttributePath::attr("name")
            };
            plan.diags.push(no_zone_management(&srv).at(attr));
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let created = async {
            let planned: ZoneAttrs = typed::from_value(&req.planned)?;
            let model = planned.model()?.ok_or_else(unknown_at_apply)?;
            let srv = server(ctx, planned.server())?;
            let zones = srv.zones.clone().ok_or_else(|| no_zone_management(&srv))?;
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
                    return Err(Diagnostic::error(
                        format!("Zone {zone} already exists on server {:?}", srv.name),
                        format!(
                            "It holds another SOA, other name servers or records than planned, and \
                             rack does not take over a different zone silently. Import it: \
                             terraform import ADDRESS {zone}"
                        ),
                    )
                    .into());
                }
                Err(e) => return Err(zone_error(&e, &format!("create zone {zone}")).into()),
            }
            srv.client.invalidate(&zone);
            // The zone exists from here on: state records it, with what went wrong after.
            let problem = match wait_served(&srv, &zone).await {
                Err(e) => Some(dns_error(&e, &format!("read the new zone {zone}"))),
                Ok(_) => settle_ns_ttl(&srv, &model).await.err(),
            };
            let mut result = applied(&srv, &zone, planned).await?;
            if let Some(d) = problem {
                result.diags.push(d);
            }
            Ok(result)
        };
        StateResult::or_failed(created.await, Value::Null)
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let read = async {
            let stored: ZoneAttrs = typed::from_value(&state)?;
            let zone_text = stored.name.value().ok_or_else(|| {
                Diagnostic::error(
                    "Incomplete state",
                    "The stored state lacks the zone name; remove it from state and import the zone again.",
                )
            })?;
            let zone = parse_zone_name(zone_text, &AttributePath::attr("name"))?;
            let srv = server(ctx, stored.server())?;
            let snapshot = match srv.client.zone(&zone).await {
                Ok(s) => s,
                Err(DnsError::ZoneNotFound { .. }) => return Ok(StateResult::default()),
                Err(e) => return Err(dns_error(&e, &format!("read zone {zone}")).into()),
            };
            let served = Served::from_snapshot(&snapshot).ok_or_else(|| {
                Diagnostic::error(
                    format!("Zone {zone} has no usable SOA record"),
                    "The zone transfer did not start with a SOA record; check the server.",
                )
            })?;
            let state = served.state(&srv.name, zone_text, Some(&stored))?;
            Ok(written(&srv.name, &zone, state))
        };
        let read = read.await;
        StateResult::or_failed(read, state)
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let updated = async {
            let planned: ZoneAttrs = typed::from_value(&req.planned)?;
            let prior: ZoneAttrs = typed::from_value(&req.prior)?;
            // What cannot be read here was known and valid at plan time: a provider bug.
            let new = planned
                .model()
                .ok()
                .flatten()
                .ok_or_else(unknown_at_apply)?;
            let old = prior.model().ok().flatten().ok_or_else(unknown_at_apply)?;
            let srv = server(ctx, planned.server())?;
            let zone = new.name.clone();
            if !old.same_ns(&new) {
                replace_ns(&srv, &zone, old.ns_rdata(), new.ttl, new.ns_rdata()).await?;
            }
            if !old.same_soa(&new) {
                // The NS change, if any, is done: refresh shows the zone as it is.
                replace_soa(&srv, &zone, &new.soa(0), new.ttl).await?;
            }
            if old.same_soa(&new) && old.same_ns(&new) {
                // Nothing on the server changes (spelling or force_destroy only).
                let kept = ZoneAttrs {
                    serial: prior.serial,
                    ..planned
                };
                return Ok(written(&srv.name, &zone, kept.state()?));
            }
            applied(&srv, &zone, planned).await
        };
        let updated = updated.await;
        StateResult::or_failed(updated, req.prior)
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let deleted = async {
            let prior: ZoneAttrs = typed::from_value(&req.prior)?;
            let Some(zone) = prior
                .name
                .value()
                .and_then(|n| parse_zone_name(n, &AttributePath::attr("name")).ok())
            else {
                return Ok(());
            };
            let srv = server(ctx, prior.server())?;
            let zones = srv.zones.clone().ok_or_else(|| no_zone_management(&srv))?;
            if !prior.force_destroy() {
                refuse_unmanaged(&srv, &zone).await?;
            }
            let deleted = zones.delete(&zone).await;
            srv.client.invalidate(&zone);
            deleted.map_err(|e| zone_error(&e, &format!("delete zone {zone}")))?;
            Ok::<_, Diagnostic>(())
        };
        match deleted.await {
            Ok(()) => Diagnostics::new(),
            Err(d) => d.into(),
        }
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let imported = async {
            let target = match &req {
                ImportRequest::Id(id) => match id.split_once('/') {
                    Some((s, z)) if !s.is_empty() && !z.is_empty() => ImportTarget {
                        server: Some(s.to_string()),
                        name: Some(z.to_string()),
                    },
                    None if !id.is_empty() => ImportTarget {
                        server: None,
                        name: Some(id.clone()),
                    },
                    _ => {
                        return Err(Diagnostic::invalid_import_id(
                            id,
                            "Use the zone name, e.g. `lab.example.net.`, or `<server>/<zone>` for a server other than the default.",
                        )
                        .into());
                    }
                },
                ImportRequest::Identity(v) => typed::from_value(v)?,
            };
            let zone_text = target.name.unwrap_or_default();
            let zone = parse_zone_name(&zone_text, &AttributePath::attr("name"))?;
            let srv = server(ctx, target.server.as_deref())?;
            let snapshot = srv
                .client
                .zone_fresh(&zone)
                .await
                .map_err(|e| dns_error(&e, &format!("read zone {zone}")))?;
            let served = Served::from_snapshot(&snapshot).ok_or_else(|| {
                Diagnostic::error(format!("Zone {zone} has no usable SOA record"), "")
            })?;
            let state = served.state(&srv.name, &zone_text, None)?;
            Ok(written(&srv.name, &zone, state))
        };
        StateResult::or_failed(imported.await, Value::Null)
    }
}
