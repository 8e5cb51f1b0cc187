//! `rack_dns_records`: many record sets of one zone as one resource, a map keyed
//! `"<name>/<TYPE>"`. For zone-scale configurations: Terraform spends its time per
//! resource, so thousands of record sets plan and apply faster as the entries of one
//! map. Refresh is the same one AXFR per zone; the changes of an apply are sent
//! together, so the client coalesces them into one UPDATE; the plan shows each entry's
//! change inside the map.
//!
//! The resource owns only its keys: record sets of the zone it does not hold are never
//! read into its state, changed or deleted, so it coexists with `rack_dns_record_set`
//! and with records made outside Terraform, as long as no key is in two places.

use std::collections::BTreeMap;

use async_trait::async_trait;
use futures::future::join_all;
use rack_core::dns::{DnsError, Name, RecordType, RrsetChange, ZoneSnapshot};
use serde::{Deserialize, Serialize};

use super::provider_block::DnsServer;
use super::shared::{
    RrsetKey, check_owner, dns_error, equivalent, parse_owner, parse_records, parse_type,
    parse_zone, records_for_state, server,
};
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

/// The TTL of entries that set none, unless `default_ttl` says otherwise.
pub const DEFAULT_TTL: i64 = 3600;

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsRecords;

/// The resource's attributes, as configuration, plan and state hold them.
#[derive(Debug, Deserialize, Serialize)]
struct RecordsModel {
    server: Planned<Option<String>>,
    zone: Planned<Option<String>>,
    default_ttl: Planned<Option<i64>>,
    records: Planned<Option<BTreeMap<String, Entry>>>,
    id: Planned<Option<String>>,
}

/// One record set: its TTL (the resource's `default_ttl` when null) and records.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct Entry {
    ttl: Planned<Option<i64>>,
    records: Planned<Option<Vec<String>>>,
}

impl Entry {
    fn texts(&self) -> Vec<String> {
        self.records.value().cloned().unwrap_or_default()
    }

    fn ttl(&self, default: u32) -> u32 {
        self.ttl
            .value()
            .and_then(|t| u32::try_from(*t).ok())
            .unwrap_or(default)
    }
}

impl RecordsModel {
    fn default_ttl(&self) -> u32 {
        self.default_ttl
            .value()
            .and_then(|t| u32::try_from(*t).ok())
            .unwrap_or(3600)
    }

    fn entries(&self) -> BTreeMap<String, Entry> {
        self.records.value().cloned().unwrap_or_default()
    }

    fn zone(&self) -> Result<Option<Name>, Diagnostic> {
        self.zone
            .value()
            .map(|z| parse_zone(z, &AttributePath::attr("zone")))
            .transpose()
    }

    /// As state: the computed attributes known, `entries` as the records.
    fn state(
        mut self,
        server: &str,
        zone: &Name,
        entries: BTreeMap<String, Entry>,
    ) -> Result<Value, Diagnostic> {
        self.server = Some(server.to_owned()).into();
        self.id = Some(zone.to_string()).into();
        self.records = Some(entries).into();
        typed::to_value(&self, &DnsRecords.schema().value_type())
    }
}

/// The path of entry `key`'s attribute `attr`.
fn entry_path(key: &str, attr: &str) -> AttributePath {
    AttributePath::attr("records").join_key(key).join_attr(attr)
}

/// The record set a map key names in `zone`: `<name>/<TYPE>`, the name relative to the
/// zone (`@` for the apex) or absolute.
fn parse_entry_key(key: &str, zone: &Name) -> Result<RrsetKey, Diagnostic> {
    let path = AttributePath::attr("records").join_key(key);
    let Some((name, rtype)) = key.rsplit_once('/') else {
        return Err(Diagnostic::error(
            format!("Key {key:?} does not name a record set"),
            "Write each key of `records` as `<name>/<TYPE>`, e.g. `www/A`, `@/MX` or \
             `11/PTR`.",
        )
        .at(path));
    };
    let owner = parse_owner(name, zone, &path)?;
    let rtype = parse_type(rtype, &path)?;
    check_owner(&owner, zone, rtype, &path)?;
    Ok(RrsetKey {
        zone: zone.clone(),
        owner,
        rtype,
    })
}

/// The map key of `key`'s record set: its name relative to the zone, `/`, its type.
fn entry_key(key: &RrsetKey) -> String {
    format!("{}/{}", key.owner.relative_to(&key.zone), key.rtype)
}

/// Whether `key` is the zone's own: the apex SOA and NS belong to `rack_dns_zone`.
fn zone_owned(key: &RrsetKey) -> bool {
    key.rtype == RecordType::Soa || (key.owner == key.zone && key.rtype == RecordType::Ns)
}

/// An entry as the state stores it, from what the zone holds: `kept`'s spelling of the
/// records and its TTL left null when they mean the same.
fn entry_from(
    snapshot: &ZoneSnapshot,
    key: &RrsetKey,
    kept: Option<&Entry>,
    default_ttl: u32,
) -> Option<Entry> {
    let rrset = snapshot.rrset(&key.owner, key.rtype)?;
    let texts = kept.and_then(|k| k.records.value().cloned());
    let records = records_for_state(texts.as_deref(), rrset, &key.zone);
    let ttl = match kept.map(|k| k.ttl.value().copied()) {
        Some(None) if rrset.ttl == default_ttl => None,
        _ => Some(i64::from(rrset.ttl)),
    };
    Some(Entry {
        ttl: ttl.into(),
        records: Some(records).into(),
    })
}

/// One write of an apply: the entry's key, its record set and the change.
struct Write {
    key: String,
    rrset: RrsetKey,
    change: RrsetChange,
}

/// Sends `writes` together (the client coalesces what arrives together into one UPDATE);
/// returns each key with its result.
async fn send(
    srv: &DnsServer,
    zone: &Name,
    writes: Vec<Write>,
) -> Vec<(Write, Result<(), DnsError>)> {
    let results = join_all(
        writes
            .iter()
            .map(|w| srv.client.change(zone, w.change.clone())),
    )
    .await;
    writes.into_iter().zip(results).collect()
}

/// The diagnostic of a failed write of entry `w`.
fn write_error(w: &Write, e: &DnsError, verb: &str) -> Diagnostic {
    match e {
        // An entry not in this resource's state, which the zone holds now.
        DnsError::Conflict { .. } if w.change.prior.is_empty() => Diagnostic::error(
            format!("{} {} exists already", w.rrset.owner, w.rrset.rtype),
            format!(
                "records[{:?}] is not in this resource's state, but the zone holds that \
                 record set, so rack did not overwrite it. When another rack_dns_records of \
                 this zone gave it up in this same apply, apply again: that removal has gone \
                 through now. Otherwise import the record set into this resource, or remove \
                 it from the zone, then apply again.",
                w.key
            ),
        ),
        DnsError::Conflict { .. } => Diagnostic::error(
            format!(
                "{} {} was changed outside Terraform",
                w.rrset.owner, w.rrset.rtype
            ),
            format!(
                "The zone does not hold what Terraform last read for records[{:?}], so rack \
                 did not overwrite it. Run `terraform plan` to see the change (or import the \
                 record set into this resource), then apply again.",
                w.key
            ),
        ),
        e => dns_error(e, &format!("{verb} {} {}", w.rrset.owner, w.rrset.rtype)),
    }
    .at(AttributePath::attr("records").join_key(&w.key))
}

/// Applies `planned` over `prior` (entries by key; `prior` empty on create): every change
/// sent together. The state holds what the zone holds afterwards: planned entries whose
/// write went through (or that exist exactly as planned), prior ones whose write failed.
async fn converge(
    srv: &DnsServer,
    zone: &Name,
    prior: &BTreeMap<String, Entry>,
    planned: &BTreeMap<String, Entry>,
    prior_ttl: u32,
    planned_ttl: u32,
) -> Result<(BTreeMap<String, Entry>, Diagnostics), Diagnostics> {
    let mut writes = Vec::new();
    let mut result = BTreeMap::new();
    for (key, new) in planned {
        let rrset = parse_entry_key(key, zone)?;
        let new_rdata =
            parse_records(&new.texts(), rrset.rtype, zone, &entry_path(key, "records"))?;
        let old = prior.get(key);
        let old_rdata = match old {
            Some(o) => parse_records(&o.texts(), rrset.rtype, zone, &entry_path(key, "records"))?,
            None => Vec::new(),
        };
        let ttl = new.ttl(planned_ttl);
        if let Some(o) = old
            && equivalent(&new.texts(), &old_rdata, rrset.rtype, zone)
            && o.ttl(prior_ttl) == ttl
        {
            result.insert(key.clone(), new.clone());
            continue;
        }
        writes.push(Write {
            key: key.clone(),
            change: RrsetChange {
                name: rrset.owner.clone(),
                rtype: rrset.rtype,
                prior: old_rdata,
                new: Some((ttl, new_rdata)),
            },
            rrset,
        });
    }
    for (key, old) in prior {
        if planned.contains_key(key) {
            continue;
        }
        let rrset = parse_entry_key(key, zone)?;
        let old_rdata =
            parse_records(&old.texts(), rrset.rtype, zone, &entry_path(key, "records"))?;
        writes.push(Write {
            key: key.clone(),
            change: RrsetChange {
                name: rrset.owner.clone(),
                rtype: rrset.rtype,
                prior: old_rdata,
                new: None,
            },
            rrset,
        });
    }
    let mut diags = Diagnostics::new();
    let mut fresh: Option<std::sync::Arc<ZoneSnapshot>> = None;
    for (w, outcome) in send(srv, zone, writes).await {
        let wanted = planned.get(&w.key);
        match outcome {
            Ok(()) => {
                if let Some(new) = wanted {
                    result.insert(w.key.clone(), new.clone());
                }
            }
            Err(e) => {
                // A conflict may be the server already holding what was planned (a write
                // that timed out earlier and went through): read the zone once to tell.
                if matches!(e, DnsError::Conflict { .. }) && fresh.is_none() {
                    fresh = srv.client.zone_fresh(zone).await.ok();
                }
                let now = fresh
                    .as_deref()
                    .and_then(|s| s.rrset(&w.rrset.owner, w.rrset.rtype));
                let done = match (wanted, now) {
                    (Some(new), Some(now)) => {
                        now.ttl == new.ttl(planned_ttl)
                            && equivalent(&new.texts(), &now.rdata, w.rrset.rtype, zone)
                    }
                    (None, None) => matches!(e, DnsError::Conflict { .. }),
                    _ => false,
                };
                if done {
                    if let Some(new) = wanted {
                        result.insert(w.key.clone(), new.clone());
                    }
                    continue;
                }
                if let Some(old) = prior.get(&w.key) {
                    result.insert(w.key.clone(), old.clone());
                }
                diags.push(write_error(
                    &w,
                    &e,
                    if wanted.is_some() { "write" } else { "delete" },
                ));
            }
        }
    }
    Ok((result, diags))
}

#[async_trait]
impl Resource for DnsRecords {
    fn type_name(&self) -> &'static str {
        "rack_dns_records"
    }

    fn schema(&self) -> Schema {
        let entry = [
            Attribute::number("ttl")
                .optional()
                .description("Time to live in seconds; `default_ttl` when null.")
                .validator(IntBetween(0, 2_147_483_647)),
            Attribute::set("records", Type::String)
                .required()
                .description(
                    "The records' data in zone-file syntax, one element per record, e.g. \
                 `[\"10.10.60.2\"]` for A. Relative names are relative to the zone.",
                ),
        ];
        Schema::new(
            Block::new(
                "Many record sets of one zone as one resource: a map keyed \
                 `\"<name>/<TYPE>\"`. Meant for zone-scale configurations (thousands of \
                 record sets), where one resource plans and applies far faster than one \
                 `rack_dns_record_set` each. The plan shows each entry's change; refresh is \
                 one zone transfer per zone; the changes of an apply go to the server \
                 together (one UPDATE). It owns only its keys: record sets of the zone it \
                 does not hold are never read into its state, changed or deleted, so it \
                 coexists with `rack_dns_record_set` and with records made elsewhere (keep \
                 each key in one place). Import takes every record set of the zone except \
                 the apex SOA and NS, which belong to `rack_dns_zone`.\n\n\
                 Keep each resource to a few hundred entries, and split a larger zone with \
                 `for_each` over groups of its names (for example one group per /24 of \
                 their addresses): Terraform converts a map of objects in a configuration by \
                 comparing each entry's type with every other entry's, a cost that grows \
                 with the square of the entries of one resource. One resource of 4,000 \
                 record sets spends over half a second of every plan on it, 16 resources of \
                 250 a sixteenth of that.\n\n\
                 An entry moved from one such resource to another of the same zone is a \
                 removal from one and an addition to the other, which Terraform applies in \
                 either order. When the addition comes first, it finds the record set still \
                 there and is refused (\"exists already\"); the removal goes through, and \
                 the next apply completes the move.",
            )
            .attributes([
                Attribute::string("server")
                    .optional()
                    .computed()
                    .description(
                        "Name of a server in the provider's `dns` block; the default server \
                     when omitted. Changing it replaces the resource.",
                    ),
                Attribute::string("zone")
                    .required()
                    .description("The zone, e.g. `farm.`. Changing it replaces the resource."),
                Attribute::number("default_ttl")
                    .optional()
                    .default(Value::Number(Number::from(DEFAULT_TTL)))
                    .description("The TTL of entries that set none. Default: 3600.")
                    .validator(IntBetween(0, 2_147_483_647)),
                Attribute::nested("records", Nesting::Map, entry)
                    .required()
                    .description(
                        "The record sets, keyed `<name>/<TYPE>`: the name relative to the \
                         zone (`www`, `@` for the apex) or absolute inside it, e.g. \
                         `www/A`, `@/MX`, `11/PTR`.",
                    ),
                Attribute::string("id")
                    .computed()
                    .description("The zone, the import ID."),
            ]),
        )
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(IdentitySchema {
            version: 0,
            attributes: vec![
                IdentityAttribute::optional_string(
                    "server",
                    "DNS server name; the default server when omitted.",
                ),
                IdentityAttribute::required_string("zone", "Zone name."),
            ],
        })
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        let Ok(m) = typed::from_value::<RecordsModel>(config) else {
            return;
        };
        let zone = match m.zone() {
            Ok(Some(z)) => z,
            Ok(None) => return,
            Err(d) => return diags.push(d),
        };
        let Some(entries) = m.records.value() else {
            return;
        };
        for (key, entry) in entries {
            let rrset = match parse_entry_key(key, &zone) {
                Ok(r) => r,
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            if zone_owned(&rrset) {
                diags.push(
                    Diagnostic::error(
                        format!("{key:?} is the zone's own record set"),
                        "The apex SOA and NS belong to rack_dns_zone; remove this entry.",
                    )
                    .at(AttributePath::attr("records").join_key(key)),
                );
                continue;
            }
            if let Some(texts) = entry.records.value()
                && let Err(d) =
                    parse_records(texts, rrset.rtype, &zone, &entry_path(key, "records"))
            {
                diags.push(d);
            }
        }
    }

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        let Ok(planned) = typed::from_value::<RecordsModel>(&plan.planned) else {
            return;
        };
        let Ok(Some(zone)) = planned.zone() else {
            return;
        };
        obj_set(&mut plan.planned, "id", Value::from(zone.to_string()));
        let mut server_name = planned.server.value().cloned();
        if planned.server.is_unknown()
            && let Ok(srv) = server(ctx, None)
        {
            obj_set(&mut plan.planned, "server", Value::from(srv.name.as_str()));
            server_name = Some(srv.name.clone());
        }
        if let Ok(Some(prior)) = typed::from_value::<Option<RecordsModel>>(req.prior) {
            if let Ok(Some(old)) = prior.zone()
                && old != zone
            {
                plan.requires_replace.push(AttributePath::attr("zone"));
            }
            if server_name.is_some() && prior.server.value() != server_name.as_ref() {
                plan.requires_replace.push(AttributePath::attr("server"));
            }
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        self.apply(ctx, &Value::Null, req.planned).await
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let read = async {
            let stored: RecordsModel = typed::from_value(&state)?;
            let zone = stored.zone()?.ok_or_else(|| {
                Diagnostic::error(
                    "Incomplete state",
                    "The stored state lacks the zone; remove it from state and import again.",
                )
            })?;
            let srv = server(ctx, stored.server.value().map(String::as_str))?;
            let snapshot = match srv.client.zone(&zone).await {
                Ok(s) => s,
                Err(DnsError::ZoneNotFound { .. }) => return Ok(StateResult::default()),
                Err(e) => return Err(dns_error(&e, &format!("read zone {zone}")).into()),
            };
            let default_ttl = stored.default_ttl();
            let mut entries = BTreeMap::new();
            for (key, kept) in stored.entries() {
                let rrset = parse_entry_key(&key, &zone)?;
                if let Some(e) = entry_from(&snapshot, &rrset, Some(&kept), default_ttl) {
                    entries.insert(key, e);
                }
            }
            let name = srv.name.clone();
            let state = stored.state(&name, &zone, entries)?;
            Ok::<_, Diagnostics>(written(&name, &zone, state))
        };
        let read = read.await;
        StateResult::or_failed(read, state)
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        self.apply(ctx, &req.prior, req.planned).await
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let deleted = async {
            let prior: RecordsModel = typed::from_value(&req.prior)?;
            let Some(zone) = prior.zone()? else {
                return Ok(Diagnostics::new());
            };
            let srv = server(ctx, prior.server.value().map(String::as_str))?;
            let ttl = prior.default_ttl();
            match converge(&srv, &zone, &prior.entries(), &BTreeMap::new(), ttl, ttl).await {
                Ok((_, diags)) => Ok(diags),
                Err(d) => Err(d),
            }
        };
        deleted.await.unwrap_or_else(|d: Diagnostics| d)
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let imported = async {
            let (server_name, zone_text) = match &req {
                ImportRequest::Id(id) => match id.split_once('/') {
                    Some((s, z)) if !s.is_empty() && !z.is_empty() => {
                        (Some(s.to_owned()), z.to_owned())
                    }
                    None if !id.is_empty() => (None, id.clone()),
                    _ => {
                        return Err(Diagnostic::invalid_import_id(
                            id,
                            "Use the zone, e.g. `farm.`, or `<server>/<zone>` for a server \
                             other than the default.",
                        )
                        .into());
                    }
                },
                ImportRequest::Identity(v) => {
                    let t: IdentityModel = typed::from_value(v)?;
                    (t.server, t.zone)
                }
            };
            let zone = parse_zone(&zone_text, &AttributePath::attr("zone"))?;
            let srv = server(ctx, server_name.as_deref())?;
            let state = whole_zone(&srv, &zone, &zone_text).await?;
            Ok::<_, Diagnostics>(written(&srv.name, &zone, state))
        };
        StateResult::or_failed(imported.await, Value::Null)
    }
}

impl DnsRecords {
    /// Create (`prior` null) and update: converges the zone from `prior`'s entries to
    /// `planned`'s.
    async fn apply(&self, ctx: &Context, prior: &Value, planned: Value) -> StateResult {
        let applied = async {
            let planned_m: RecordsModel = typed::from_value(&planned)?;
            let prior_m: Option<RecordsModel> = typed::from_value(prior)?;
            let zone = planned_m.zone()?.ok_or_else(|| {
                Diagnostic::error(
                    "Unknown zone at apply",
                    "This is a bug in the provider; please report it.",
                )
            })?;
            let srv = server(ctx, planned_m.server.value().map(String::as_str))?;
            let prior_entries = prior_m
                .as_ref()
                .map(RecordsModel::entries)
                .unwrap_or_default();
            let prior_ttl = prior_m
                .as_ref()
                .map_or(planned_m.default_ttl(), RecordsModel::default_ttl);
            let (entries, diags) = converge(
                &srv,
                &zone,
                &prior_entries,
                &planned_m.entries(),
                prior_ttl,
                planned_m.default_ttl(),
            )
            .await?;
            let name = srv.name.clone();
            let mut out = written(&name, &zone, planned_m.state(&name, &zone, entries)?);
            out.diags = diags;
            Ok::<_, Diagnostics>(out)
        };
        let fallback = if prior.is_null() {
            Value::Null
        } else {
            prior.clone()
        };
        StateResult::or_failed(applied.await, fallback)
    }
}

/// The state of a resource holding every record set of `zone` (written `zone_text`) on
/// `srv` but its SOA and apex NS, as import and the list resource give it.
pub(crate) async fn whole_zone(
    srv: &DnsServer,
    zone: &Name,
    zone_text: &str,
) -> Result<Value, Diagnostic> {
    let snapshot = srv
        .client
        .zone_fresh(zone)
        .await
        .map_err(|e| dns_error(&e, &format!("read zone {zone}")))?;
    let mut entries = BTreeMap::new();
    for rrset in snapshot.rrsets() {
        let key = RrsetKey {
            zone: zone.clone(),
            owner: rrset.name.clone(),
            rtype: rrset.rtype,
        };
        if zone_owned(&key) {
            continue;
        }
        if let Some(e) = entry_from(&snapshot, &key, None, DEFAULT_TTL as u32) {
            entries.insert(entry_key(&key), e);
        }
    }
    let model = RecordsModel {
        server: Planned::Unknown,
        zone: Some(zone_text.to_owned()).into(),
        default_ttl: Some(DEFAULT_TTL).into(),
        records: Planned::Unknown,
        id: Planned::Unknown,
    };
    model.state(&srv.name, zone, entries)
}

/// The identity of the resource of `zone` on server `srv`.
pub(crate) fn identity(srv: &str, zone: &Name) -> Value {
    Value::object([
        ("server", Value::from(srv)),
        ("zone", Value::from(zone.to_string())),
    ])
}

/// The resource's identity.
#[derive(Debug, Deserialize)]
struct IdentityModel {
    server: Option<String>,
    #[serde(default)]
    zone: String,
}

/// The result of an operation that leaves the resource of `zone` on `srv` as `state`.
fn written(srv: &str, zone: &Name, state: Value) -> StateResult {
    StateResult {
        state,
        identity: Some(identity(srv, zone)),
        ..StateResult::default()
    }
}
