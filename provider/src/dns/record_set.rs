//! `rack_dns_record_set`: exactly one RRset (owner name + type) in a zone, kept with
//! signed RFC 2136 updates. Refresh reads the zone once per provider process (one AXFR),
//! and concurrent writes to a zone go out together as one UPDATE.

use async_trait::async_trait;
use rack_core::dns::{DnsError, RecordType, RrsetChange};

use rack_core::dns::RData;
use serde::{Deserialize, Serialize};

use super::shared::{
    RECORD_TYPES, RrsetKey, check_owner, dns_error, equivalent, key_from, parse_key, parse_owner,
    parse_records, parse_type, parse_zone, records_for_state, server,
};
use crate::framework::attrs::obj_set;
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{Attribute, Block, IdentityAttribute, IdentitySchema, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::validate::{IntBetween, one_of};
use crate::framework::{
    ApplyRequest, AttributePath, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest,
    PlanRequest, ReadRequest, Resource, StateResult,
};
use crate::protocol::value::{Number, Type, Value};

/// TTL when the configuration sets none.
pub const DEFAULT_TTL: i64 = 3600;

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsRecordSet;

/// The record set's attributes, as its configuration, plan and state hold them; what a
/// configuration or plan may leave unknown is [`Planned`].
#[derive(Debug, Deserialize, Serialize)]
struct RecordSetModel {
    server: Planned<Option<String>>,
    zone: Planned<Option<String>>,
    name: Planned<Option<String>>,
    #[serde(rename = "type")]
    rtype: Planned<Option<String>>,
    ttl: Planned<Option<i64>>,
    records: Planned<Option<Vec<String>>>,
    fqdn: Planned<Option<String>>,
    id: Planned<Option<String>>,
}

impl RecordSetModel {
    /// The key, once zone, name and type are known.
    fn key(&self) -> Result<Option<RrsetKey>, Diagnostic> {
        key_from(self.zone.value(), self.name.value(), self.rtype.value())
    }

    /// The server it names; the default one when `None`.
    fn server(&self) -> Option<&str> {
        self.server.value().map(String::as_str)
    }

    /// The TTL; the default when it is not set or out of range.
    fn ttl(&self) -> u32 {
        self.ttl
            .value()
            .and_then(|t| u32::try_from(*t).ok())
            .unwrap_or(3600)
    }

    /// The records' texts (none while unknown).
    fn records(&self) -> Vec<String> {
        self.records.value().cloned().unwrap_or_default()
    }

    /// The records parsed for `key`; an error names the offending record.
    fn rdata(&self, key: &RrsetKey) -> Result<Vec<RData>, Diagnostic> {
        parse_records(
            &self.records(),
            key.rtype,
            &key.zone,
            &AttributePath::attr("records"),
        )
    }

    /// As state: the model with the computed attributes `server`, `fqdn` and `id` known.
    fn state(mut self, server: &str, key: &RrsetKey) -> Result<Value, Diagnostic> {
        self.server = Some(server.to_owned()).into();
        self.fqdn = Some(key.owner.to_string()).into();
        self.id = Some(key.id()).into();
        typed::to_value(&self, &DnsRecordSet.schema().value_type())
    }
}

/// The state object for an RRset.
pub(crate) fn state_value(
    server: &str,
    zone_text: &str,
    name_text: &str,
    key: &RrsetKey,
    ttl: u32,
    records: Vec<String>,
) -> Result<Value, Diagnostic> {
    RecordSetModel {
        server: Planned::Unknown,
        zone: Some(zone_text.to_owned()).into(),
        name: Some(name_text.to_owned()).into(),
        rtype: Some(key.rtype.to_string()).into(),
        ttl: Some(i64::from(ttl)).into(),
        records: Some(records).into(),
        fqdn: Planned::Unknown,
        id: Planned::Unknown,
    }
    .state(server, key)
}

/// The result of an operation that leaves `key`'s RRset on server `srv` as `state` says.
fn written(
    srv: &str,
    key: &RrsetKey,
    state: Result<Value, Diagnostic>,
) -> Result<StateResult, Diagnostics> {
    Ok(StateResult {
        state: state?,
        identity: Some(identity(srv, key)),
        ..StateResult::default()
    })
}

pub(crate) fn identity(server_name: &str, key: &RrsetKey) -> Value {
    Value::object([
        ("server", Value::from(server_name)),
        ("zone", Value::from(key.zone.to_string())),
        ("name", Value::from(key.owner.relative_to(&key.zone))),
        ("type", Value::from(key.rtype.to_string())),
    ])
}

fn conflict_hint(key: &RrsetKey) -> String {
    format!(
        "{} {} changed on the server since Terraform last read it, so rack did not overwrite it. \
         Run `terraform plan` to see the change, then apply again.",
        key.owner, key.rtype
    )
}

/// Whether the zone, read fresh, holds `key`'s RRset with exactly the planned TTL and
/// records.
async fn exists_as_planned(
    client: &rack_core::dns::DnsClient,
    key: &RrsetKey,
    ttl: u32,
    texts: &[String],
) -> bool {
    match client.zone_fresh(&key.zone).await {
        Ok(snapshot) => snapshot.rrset(&key.owner, key.rtype).is_some_and(|set| {
            set.ttl == ttl && equivalent(texts, &set.rdata, key.rtype, &key.zone)
        }),
        Err(e) => {
            tracing::debug!(zone = %key.zone, error = %e, "cannot read the zone to compare an existing record set");
            false
        }
    }
}

#[async_trait]
impl Resource for DnsRecordSet {
    fn type_name(&self) -> &'static str {
        "rack_dns_record_set"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "One DNS record set (all records of one name and type) in a zone, kept with \
                 TSIG-signed dynamic updates (RFC 2136) on BIND, PowerDNS or any RFC 2136 server. \
                 Equivalent spellings of the same records (case, trailing dots, IPv6 \
                 compression, TXT quoting) never show as a change.",
            )
            .attributes([
                Attribute::string("server").optional().computed().description(
                    "Name of a server in the provider's `dns` block; the default server when omitted. \
                     Changing it replaces the record set.",
                ),
                Attribute::string("zone").required().description(
                    "The zone, e.g. `farm.` or `60.10.10.in-addr.arpa.`. Changing it replaces the record set.",
                ),
                Attribute::string("name").required().description(
                    "Owner name: `@` for the apex, a name relative to the zone (`www`), or an absolute \
                     name inside the zone (`www.farm.`). Changing it replaces the record set.",
                ),
                Attribute::string("type")
                    .required()
                    .description("Record type. Changing it replaces the record set.")
                    .validator(one_of(RECORD_TYPES)),
                Attribute::number("ttl")
                    .optional()
                    .default(Value::Number(Number::from(DEFAULT_TTL)))
                    .description("Time to live in seconds. Default: 3600.")
                    .validator(IntBetween(0, 2_147_483_647)),
                Attribute::set("records", Type::String).required().description(
                    "The records' data in zone-file syntax, one element per record, e.g. \
                     `[\"10.10.60.2\"]` for A or `[\"10 mail\"]` for MX. Relative names are relative \
                     to the zone.",
                ),
                Attribute::string("fqdn")
                    .computed()
                    .description("The absolute owner name."),
                Attribute::string("id")
                    .computed()
                    .description("`<zone>/<name>/<TYPE>`, the import ID."),
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
                IdentityAttribute::required_string(
                    "name",
                    "Owner name, relative to the zone (`@` for the apex).",
                ),
                IdentityAttribute::required_string("type", "Record type."),
            ],
        })
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        // A value that does not fit the model (a fractional TTL) is reported by the
        // attribute's own validator.
        let Ok(m) = typed::from_value::<RecordSetModel>(config) else {
            return;
        };
        let zone = match m
            .zone
            .value()
            .map(|z| parse_zone(z, &AttributePath::attr("zone")))
        {
            Some(Ok(z)) => z,
            Some(Err(d)) => return diags.push(d),
            None => return,
        };
        let owner = match m
            .name
            .value()
            .map(|n| parse_owner(n, &zone, &AttributePath::attr("name")))
        {
            Some(Ok(o)) => Some(o),
            Some(Err(d)) => return diags.push(d),
            None => None,
        };
        let Some(rtype) = m
            .rtype
            .value()
            .and_then(|t| parse_type(t, &AttributePath::attr("type")).ok())
        else {
            return;
        };
        if let Some(owner) = &owner
            && let Err(d) = check_owner(owner, &zone, rtype, &AttributePath::attr("name"))
        {
            diags.push(d);
        }
        let Some(records) = m.records.known() else {
            return;
        };
        let records = records.clone().unwrap_or_default();
        let path = AttributePath::attr("records");
        if records.is_empty() {
            diags.error_at(
                path.clone(),
                "No records",
                "A record set needs at least one record; delete the resource to remove the RRset.",
            );
        }
        if let Err(d) = parse_records(&records, rtype, &zone, &path) {
            diags.push(d);
        }
        if matches!(rtype, RecordType::Cname | RecordType::Dname) && records.len() > 1 {
            diags.error_at(
                path,
                format!("A {rtype} record set holds exactly one record"),
                format!("An owner name can have only one {rtype}; keep one element in `records`."),
            );
        }
        if rtype == RecordType::Cname && owner.as_ref() == Some(&zone) {
            diags.error_at(
                AttributePath::attr("name"),
                "A CNAME cannot be at the zone apex",
                "The apex holds the zone's SOA and NS records, and a CNAME cannot coexist with other data (RFC 1034 §3.6.2). Use another name.",
            );
        }
    }

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        let prior = req.prior;
        let Ok(planned) = typed::from_value::<RecordSetModel>(&plan.planned) else {
            return;
        };
        let key = match planned.key() {
            Ok(Some(k)) => k,
            Ok(None) => return,
            Err(d) => return plan.diags.push(d),
        };
        obj_set(
            &mut plan.planned,
            "fqdn",
            Value::from(key.owner.to_string()),
        );
        obj_set(&mut plan.planned, "id", Value::from(key.id()));
        let mut server_name = planned.server().map(str::to_string);
        if planned.server.is_unknown()
            && let Ok(srv) = server(ctx, None)
        {
            obj_set(&mut plan.planned, "server", Value::from(srv.name.as_str()));
            server_name = Some(srv.name.clone());
        }
        let mut is_new = prior.is_null();
        if let Ok(Some(prior)) = typed::from_value::<Option<RecordSetModel>>(prior) {
            if let Ok(Some(old)) = prior.key() {
                for (path, changed) in [
                    ("zone", old.zone != key.zone),
                    ("name", old.owner != key.owner),
                    ("type", old.rtype != key.rtype),
                ] {
                    if changed {
                        plan.requires_replace.push(AttributePath::attr(path));
                        is_new = true;
                    }
                }
            }
            if server_name.is_some() && prior.server() != server_name.as_deref() {
                plan.requires_replace.push(AttributePath::attr("server"));
                is_new = true;
            }
        }
        if !is_new {
            return;
        }
        // CNAME exclusivity against what the zone holds (from the snapshot refresh already read).
        let Ok(srv) = server(ctx, server_name.as_deref()) else {
            return;
        };
        let Ok(snapshot) = srv.client.zone(&key.zone).await else {
            return;
        };
        let others: Vec<RecordType> = snapshot
            .types_at(&key.owner)
            .into_iter()
            .filter(|t| {
                *t != key.rtype && !matches!(t.to_string().as_str(), "RRSIG" | "NSEC" | "NSEC3")
            })
            .collect();
        let clash = if key.rtype == RecordType::Cname {
            !others.is_empty()
        } else {
            others.contains(&RecordType::Cname)
        };
        if clash {
            // A warning, not an error: an error here would also block the refresh that
            // `terraform destroy` and every plan run, and the write itself is checked
            // (the server ignores such a change, and rack reads every UPDATE back).
            let list: Vec<String> = others.iter().map(ToString::to_string).collect();
            plan.diags.push(
                Diagnostic::warning(
                    format!(
                        "{} already has {} records, which cannot coexist with this {}",
                        key.owner,
                        list.join(", "),
                        key.rtype
                    ),
                    "A CNAME must be the only record set at its name (RFC 1034 §3.6.2): the server \
                     will ignore this one and its create will fail. Pick another name, or remove \
                     the other records first.",
                )
                .at(AttributePath::attr("type")),
            );
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let created = async {
            let planned: RecordSetModel = typed::from_value(&req.planned)?;
            let key = planned.key()?.ok_or_else(unknown_at_apply)?;
            let srv = server(ctx, planned.server())?;
            let texts = planned.records();
            let rdata = planned.rdata(&key)?;
            let ttl = planned.ttl();
            let change = RrsetChange {
                name: key.owner.clone(),
                rtype: key.rtype,
                prior: Vec::new(),
                new: Some((ttl, rdata)),
            };
            match srv.client.change(&key.zone, change).await {
                Ok(()) => {}
                // Exactly what was planned exists already, e.g. written by an earlier apply
                // whose UPDATE timed out but that the server carried out later: adopt it.
                Err(DnsError::Conflict { .. })
                    if exists_as_planned(&srv.client, &key, ttl, &texts).await =>
                {
                    tracing::info!(name = %key.owner, rtype = %key.rtype, "record set exists as planned; adopted");
                }
                Err(DnsError::Conflict { .. }) => {
                    return Err(Diagnostic::error(
                        format!("{} {} already exists", key.owner, key.rtype),
                        format!(
                            "The zone already holds this record set with other records or another TTL than planned, \
                             and rack does not take over different records silently. Import it: terraform import ADDRESS {:?}",
                            key.id()
                        ),
                    )
                    .into());
                }
                Err(e) => {
                    return Err(
                        dns_error(&e, &format!("create {} {}", key.owner, key.rtype)).into(),
                    );
                }
            }
            written(&srv.name, &key, planned.state(&srv.name, &key))
        };
        StateResult::or_failed(created.await, Value::Null)
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let read = async {
            let stored: RecordSetModel = typed::from_value(&state)?;
            let key = stored.key()?.ok_or_else(|| {
                Diagnostic::error(
                    "Incomplete state",
                    "The stored state lacks zone, name or type; remove it from state and import the record set again.",
                )
            })?;
            let srv = server(ctx, stored.server())?;
            let snapshot = match srv.client.zone(&key.zone).await {
                Ok(s) => s,
                Err(DnsError::ZoneNotFound { .. }) => return Ok(StateResult::default()),
                Err(e) => return Err(dns_error(&e, &format!("read zone {}", key.zone)).into()),
            };
            let Some(rrset) = snapshot.rrset(&key.owner, key.rtype) else {
                return Ok(StateResult::default());
            };
            let kept = stored
                .records
                .known()
                .map(|r| r.clone().unwrap_or_default());
            let records = records_for_state(kept.as_deref(), rrset, &key.zone);
            let zone = stored.zone.value().map_or("", String::as_str);
            let name = stored.name.value().map_or("", String::as_str);
            written(
                &srv.name,
                &key,
                state_value(&srv.name, zone, name, &key, rrset.ttl, records),
            )
        };
        let read = read.await;
        StateResult::or_failed(read, state)
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let prior_value = req.prior.clone();
        let updated = async {
            let planned: RecordSetModel = typed::from_value(&req.planned)?;
            let prior: RecordSetModel = typed::from_value(&req.prior)?;
            let (Ok(Some(key)), Ok(Some(old_key))) = (planned.key(), prior.key()) else {
                return Err(unknown_at_apply().into());
            };
            let srv = server(ctx, planned.server())?;
            let new_texts = planned.records();
            let old_texts = prior.records();
            let (new, old) = (planned.rdata(&key)?, prior.rdata(&old_key)?);
            let ttl = planned.ttl();
            let same = equivalent(&new_texts, &old, key.rtype, &key.zone) && ttl == prior.ttl();
            if !same {
                // RFC 2136 prerequisites compare records, never TTLs (§3.2.5), so a TTL changed
                // by someone else since the plan is checked against the zone as read here.
                let snapshot = srv
                    .client
                    .zone(&old_key.zone)
                    .await
                    .map_err(|e| dns_error(&e, &format!("read zone {}", old_key.zone)))?;
                if let Some(current) = snapshot.rrset(&old_key.owner, old_key.rtype)
                    && equivalent(&old_texts, &current.rdata, old_key.rtype, &old_key.zone)
                    && current.ttl != prior.ttl()
                {
                    return Err(Diagnostic::error(
                        format!("{} {} was changed outside Terraform", key.owner, key.rtype),
                        format!(
                            "Its TTL is {} on the server, {} when Terraform last read it. {}",
                            current.ttl,
                            prior.ttl(),
                            conflict_hint(&key)
                        ),
                    )
                    .at(AttributePath::attr("ttl"))
                    .into());
                }
                let change = RrsetChange {
                    name: key.owner.clone(),
                    rtype: key.rtype,
                    prior: old,
                    new: Some((ttl, new)),
                };
                srv.client
                    .change(&key.zone, change)
                    .await
                    .map_err(|e| match e {
                        DnsError::Conflict { .. } => Diagnostic::error(
                            format!("{} {} was changed outside Terraform", key.owner, key.rtype),
                            conflict_hint(&key),
                        ),
                        e => dns_error(&e, &format!("update {} {}", key.owner, key.rtype)),
                    })?;
            }
            written(&srv.name, &key, planned.state(&srv.name, &key))
        };
        StateResult::or_failed(updated.await, prior_value)
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let deleted = async {
            let prior: RecordSetModel = typed::from_value(&req.prior)?;
            let Ok(Some(key)) = prior.key() else {
                return Ok(());
            };
            let srv = server(ctx, prior.server())?;
            let change = RrsetChange {
                name: key.owner.clone(),
                rtype: key.rtype,
                prior: prior.rdata(&key)?,
                new: None,
            };
            match srv.client.change(&key.zone, change).await {
                Ok(()) | Err(DnsError::ZoneNotFound { .. }) => Ok(()),
                Err(DnsError::Conflict { .. }) => {
                    // Already gone is what delete wants; anything else changed out of band.
                    match srv.client.zone_fresh(&key.zone).await {
                        Ok(s) if s.rrset(&key.owner, key.rtype).is_none() => Ok(()),
                        _ => Err(Diagnostic::error(
                            format!("{} {} was changed outside Terraform", key.owner, key.rtype),
                            conflict_hint(&key),
                        )),
                    }
                }
                Err(e) => Err(dns_error(
                    &e,
                    &format!("delete {} {}", key.owner, key.rtype),
                )),
            }
        };
        match deleted.await {
            Ok(()) => Diagnostics::new(),
            Err(d) => d.into(),
        }
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let imported = async {
            let target = match &req {
                ImportRequest::Id(id) => {
                    let parts: Vec<&str> = id.split('/').collect();
                    match parts.as_slice() {
                        [z, n, t] => ImportTarget::of(None, z, n, t),
                        [s, z, n, t] => ImportTarget::of(Some(s), z, n, t),
                        _ => {
                            return Err(Diagnostic::invalid_import_id(
                                id,
                                "Use `<zone>/<name>/<TYPE>`, e.g. `farm./www/A` (`@` for the apex), or `<server>/<zone>/<name>/<TYPE>` for a server other than the default.",
                            )
                            .into());
                        }
                    }
                }
                ImportRequest::Identity(v) => typed::from_value(v)?,
            };
            let rtype = target.rtype.to_ascii_uppercase();
            let key = parse_key(&target.zone, &target.name, &rtype)?;
            let srv = server(ctx, target.server.as_deref())?;
            let snapshot = srv
                .client
                .zone_fresh(&key.zone)
                .await
                .map_err(|e| dns_error(&e, &format!("read zone {}", key.zone)))?;
            let Some(rrset) = snapshot.rrset(&key.owner, key.rtype) else {
                return Err(Diagnostic::error(
                    format!("No {} records at {}", key.rtype, key.owner),
                    format!(
                        "Zone {} on server {:?} holds no such record set. Check the name and type.",
                        key.zone, srv.name
                    ),
                )
                .into());
            };
            let records = records_for_state(None, rrset, &key.zone);
            written(
                &srv.name,
                &key,
                state_value(
                    &srv.name,
                    &target.zone,
                    &target.name,
                    &key,
                    rrset.ttl,
                    records,
                ),
            )
        };
        StateResult::or_failed(imported.await, Value::Null)
    }
}

/// What an import names: an import ID's parts, or an identity.
#[derive(Debug, Deserialize)]
struct ImportTarget {
    server: Option<String>,
    #[serde(default)]
    zone: String,
    #[serde(default)]
    name: String,
    #[serde(rename = "type", default)]
    rtype: String,
}

impl ImportTarget {
    fn of(server: Option<&&str>, zone: &str, name: &str, rtype: &str) -> Self {
        Self {
            server: server.map(|s| (*s).to_owned()),
            zone: zone.to_owned(),
            name: name.to_owned(),
            rtype: rtype.to_owned(),
        }
    }
}

/// The error of an apply whose plan lacks what it needs.
fn unknown_at_apply() -> Diagnostic {
    Diagnostic::error(
        "Unknown zone, name or type at apply",
        "This is a bug in the provider; please report it.",
    )
}
