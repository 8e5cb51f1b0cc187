//! `rack_dns_record_set`: exactly one RRset (owner name + type) in a zone, kept with
//! signed RFC 2136 updates. Refresh reads the zone once per provider process (one AXFR),
//! and concurrent writes to a zone go out together as one UPDATE.

use async_trait::async_trait;
use rack_core::dns::{DnsError, RecordType, RrsetChange};

use super::shared::{
    RECORD_TYPES, RrsetKey, check_owner, dns_error, equivalent, key_of, parse_owner, parse_records,
    parse_type, parse_zone, records_for_state, server, set_value, string_set,
};
use crate::framework::attrs::{obj_set, str_attr};
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{Attribute, Block, IdentityAttribute, IdentitySchema, Schema};
use crate::framework::validate::{IntBetween, one_of};
use crate::framework::{
    ApplyRequest, AttributePath, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest,
    ReadRequest, Resource, StateResult,
};
use crate::protocol::value::{Number, Type, Value};

/// TTL when the configuration sets none.
pub const DEFAULT_TTL: i64 = 3600;

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsRecordSet;

fn ttl_of(v: &Value) -> u32 {
    v.attr("ttl")
        .and_then(Value::as_number)
        .and_then(Number::to_u64)
        .and_then(|t| u32::try_from(t).ok())
        .unwrap_or(3600)
}

/// The state object for an RRset.
pub(crate) fn state_value(
    server: &str,
    zone_text: &str,
    name_text: &str,
    key: &RrsetKey,
    ttl: u32,
    records: Vec<String>,
) -> Value {
    Value::object([
        ("server", Value::from(server)),
        ("zone", Value::from(zone_text)),
        ("name", Value::from(name_text)),
        ("type", Value::from(key.rtype.to_string())),
        ("ttl", Value::Number(Number::from(u64::from(ttl)))),
        ("records", set_value(records)),
        ("fqdn", Value::from(key.owner.to_string())),
        ("id", Value::from(key.id())),
    ])
}

/// The planned object with every computed attribute known, as stored after a write.
fn applied(mut planned: Value, server: &str, key: &RrsetKey) -> Value {
    obj_set(&mut planned, "server", Value::from(server));
    obj_set(&mut planned, "fqdn", Value::from(key.owner.to_string()));
    obj_set(&mut planned, "id", Value::from(key.id()));
    planned
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
        let zone =
            match str_attr(config, "zone").map(|z| parse_zone(z, &AttributePath::attr("zone"))) {
                Some(Ok(z)) => z,
                Some(Err(d)) => return diags.push(d),
                None => return,
            };
        let owner = match str_attr(config, "name")
            .map(|n| parse_owner(n, &zone, &AttributePath::attr("name")))
        {
            Some(Ok(o)) => Some(o),
            Some(Err(d)) => return diags.push(d),
            None => None,
        };
        let Some(rtype) =
            str_attr(config, "type").and_then(|t| parse_type(t, &AttributePath::attr("type")).ok())
        else {
            return;
        };
        if let Some(owner) = &owner
            && let Err(d) = check_owner(owner, &zone, rtype, &AttributePath::attr("name"))
        {
            diags.push(d);
        }
        let Some(records) = string_set(config, "records") else {
            return;
        };
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

    async fn modify_plan(
        &self,
        ctx: &Context,
        prior: &Value,
        _config: &Value,
        plan: &mut PlannedChange,
    ) {
        let key = match key_of(&plan.planned) {
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
        if plan.planned.attr("server").is_some_and(Value::is_unknown)
            && let Ok(srv) = server(ctx, None)
        {
            obj_set(&mut plan.planned, "server", Value::from(srv.name.as_str()));
        }
        let server_name = str_attr(&plan.planned, "server").map(str::to_string);
        let mut is_new = prior.is_null();
        if !prior.is_null() {
            if let Ok(Some(old)) = key_of(prior) {
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
            if server_name.is_some() && str_attr(prior, "server") != server_name.as_deref() {
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
        let planned = req.planned;
        let key = match key_of(&planned) {
            Ok(Some(k)) => k,
            Ok(None) => {
                return StateResult::failed(
                    Value::Null,
                    Diagnostic::error(
                        "Unknown zone, name or type at apply",
                        "This is a bug in the provider; please report it.",
                    ),
                );
            }
            Err(d) => return StateResult::failed(Value::Null, d),
        };
        let server_name = str_attr(&planned, "server").map(str::to_string);
        let srv = match server(ctx, server_name.as_deref()) {
            Ok(s) => s,
            Err(d) => return StateResult::failed(Value::Null, d),
        };
        let texts = string_set(&planned, "records").unwrap_or_default();
        let rdata = match parse_records(
            &texts,
            key.rtype,
            &key.zone,
            &AttributePath::attr("records"),
        ) {
            Ok(r) => r,
            Err(d) => return StateResult::failed(Value::Null, d),
        };
        let ttl = ttl_of(&planned);
        let change = RrsetChange {
            name: key.owner.clone(),
            rtype: key.rtype,
            prior: Vec::new(),
            new: Some((ttl, rdata)),
        };
        let created = || StateResult {
            identity: Some(identity(&srv.name, &key)),
            state: applied(planned.clone(), &srv.name, &key),
            ..StateResult::default()
        };
        match srv.client.change(&key.zone, change).await {
            Ok(()) => created(),
            // Exactly what was planned exists already, e.g. written by an earlier apply
            // whose UPDATE timed out but that the server carried out later: adopt it.
            Err(DnsError::Conflict { .. })
                if exists_as_planned(&srv.client, &key, ttl, &texts).await =>
            {
                tracing::info!(name = %key.owner, rtype = %key.rtype, "record set exists as planned; adopted");
                created()
            }
            Err(DnsError::Conflict { .. }) => StateResult::failed(
                Value::Null,
                Diagnostic::error(
                    format!("{} {} already exists", key.owner, key.rtype),
                    format!(
                        "The zone already holds this record set with other records or another TTL than planned, \
                         and rack does not take over different records silently. Import it: terraform import ADDRESS {:?}",
                        key.id()
                    ),
                ),
            ),
            Err(e) => StateResult::failed(
                Value::Null,
                dns_error(&e, &format!("create {} {}", key.owner, key.rtype)),
            ),
        }
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let key = match key_of(&state) {
            Ok(Some(k)) => k,
            Ok(None) => {
                return StateResult::failed(
                    state,
                    Diagnostic::error(
                        "Incomplete state",
                        "The stored state lacks zone, name or type; remove it from state and import the record set again.",
                    ),
                );
            }
            Err(d) => return StateResult::failed(state, d),
        };
        let server_name = str_attr(&state, "server").map(str::to_string);
        let srv = match server(ctx, server_name.as_deref()) {
            Ok(s) => s,
            Err(d) => return StateResult::failed(state, d),
        };
        let snapshot = match srv.client.zone(&key.zone).await {
            Ok(s) => s,
            Err(DnsError::ZoneNotFound { .. }) => return StateResult::default(),
            Err(e) => {
                return StateResult::failed(
                    state,
                    dns_error(&e, &format!("read zone {}", key.zone)),
                );
            }
        };
        let Some(rrset) = snapshot.rrset(&key.owner, key.rtype) else {
            return StateResult::default();
        };
        let kept = string_set(&state, "records");
        let records = records_for_state(kept.as_deref(), rrset, &key.zone);
        StateResult {
            state: state_value(
                &srv.name,
                str_attr(&state, "zone").unwrap_or_default(),
                str_attr(&state, "name").unwrap_or_default(),
                &key,
                rrset.ttl,
                records,
            ),
            identity: Some(identity(&srv.name, &key)),
            ..StateResult::default()
        }
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let (prior, planned) = (req.prior, req.planned);
        let (Ok(Some(key)), Ok(Some(old_key))) = (key_of(&planned), key_of(&prior)) else {
            return StateResult::failed(
                prior,
                Diagnostic::error(
                    "Unknown zone, name or type at apply",
                    "This is a bug in the provider; please report it.",
                ),
            );
        };
        let server_name = str_attr(&planned, "server").map(str::to_string);
        let srv = match server(ctx, server_name.as_deref()) {
            Ok(s) => s,
            Err(d) => return StateResult::failed(prior, d),
        };
        let new_texts = string_set(&planned, "records").unwrap_or_default();
        let old_texts = string_set(&prior, "records").unwrap_or_default();
        let path = AttributePath::attr("records");
        let (new, old) = match (
            parse_records(&new_texts, key.rtype, &key.zone, &path),
            parse_records(&old_texts, old_key.rtype, &old_key.zone, &path),
        ) {
            (Ok(n), Ok(o)) => (n, o),
            (Err(d), _) | (_, Err(d)) => return StateResult::failed(prior, d),
        };
        let ttl = ttl_of(&planned);
        let same = equivalent(&new_texts, &old, key.rtype, &key.zone) && ttl == ttl_of(&prior);
        if !same {
            // RFC 2136 prerequisites compare records, never TTLs (§3.2.5), so a TTL changed
            // by someone else since the plan is checked against the zone as read here.
            let snapshot = match srv.client.zone(&old_key.zone).await {
                Ok(s) => s,
                Err(e) => {
                    return StateResult::failed(
                        prior,
                        dns_error(&e, &format!("read zone {}", old_key.zone)),
                    );
                }
            };
            if let Some(current) = snapshot.rrset(&old_key.owner, old_key.rtype)
                && equivalent(&old_texts, &current.rdata, old_key.rtype, &old_key.zone)
                && current.ttl != ttl_of(&prior)
            {
                return StateResult::failed(
                    prior.clone(),
                    Diagnostic::error(
                        format!("{} {} was changed outside Terraform", key.owner, key.rtype),
                        format!(
                            "Its TTL is {} on the server, {} when Terraform last read it. {}",
                            current.ttl,
                            ttl_of(&prior),
                            conflict_hint(&key)
                        ),
                    )
                    .at(AttributePath::attr("ttl")),
                );
            }
            let change = RrsetChange {
                name: key.owner.clone(),
                rtype: key.rtype,
                prior: old,
                new: Some((ttl, new)),
            };
            match srv.client.change(&key.zone, change).await {
                Ok(()) => {}
                Err(DnsError::Conflict { .. }) => {
                    return StateResult::failed(
                        prior,
                        Diagnostic::error(
                            format!("{} {} was changed outside Terraform", key.owner, key.rtype),
                            conflict_hint(&key),
                        ),
                    );
                }
                Err(e) => {
                    return StateResult::failed(
                        prior,
                        dns_error(&e, &format!("update {} {}", key.owner, key.rtype)),
                    );
                }
            }
        }
        StateResult {
            identity: Some(identity(&srv.name, &key)),
            state: applied(planned, &srv.name, &key),
            ..StateResult::default()
        }
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let prior = req.prior;
        let mut diags = Diagnostics::new();
        let Ok(Some(key)) = key_of(&prior) else {
            return diags;
        };
        let srv = match server(ctx, str_attr(&prior, "server")) {
            Ok(s) => s,
            Err(d) => {
                diags.push(d);
                return diags;
            }
        };
        let texts = string_set(&prior, "records").unwrap_or_default();
        let old = match parse_records(
            &texts,
            key.rtype,
            &key.zone,
            &AttributePath::attr("records"),
        ) {
            Ok(o) => o,
            Err(d) => {
                diags.push(d);
                return diags;
            }
        };
        let change = RrsetChange {
            name: key.owner.clone(),
            rtype: key.rtype,
            prior: old,
            new: None,
        };
        match srv.client.change(&key.zone, change).await {
            Ok(()) | Err(DnsError::ZoneNotFound { .. }) => {}
            Err(DnsError::Conflict { .. }) => {
                // Already gone is what delete wants; anything else changed out of band.
                match srv.client.zone_fresh(&key.zone).await {
                    Ok(s) if s.rrset(&key.owner, key.rtype).is_none() => {}
                    _ => diags.error(
                        format!("{} {} was changed outside Terraform", key.owner, key.rtype),
                        conflict_hint(&key),
                    ),
                }
            }
            Err(e) => diags.push(dns_error(
                &e,
                &format!("delete {} {}", key.owner, key.rtype),
            )),
        }
        diags
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let (server_name, zone, name, rtype) = match &req {
            ImportRequest::Id(id) => {
                let parts: Vec<&str> = id.split('/').collect();
                match parts.as_slice() {
                    [z, n, t] => (None, z.to_string(), n.to_string(), t.to_ascii_uppercase()),
                    [s, z, n, t] => (
                        Some(s.to_string()),
                        z.to_string(),
                        n.to_string(),
                        t.to_ascii_uppercase(),
                    ),
                    _ => {
                        return StateResult::failed(
                            Value::Null,
                            Diagnostic::invalid_import_id(
                                id,
                                "Use `<zone>/<name>/<TYPE>`, e.g. `farm./www/A` (`@` for the apex), or `<server>/<zone>/<name>/<TYPE>` for a server other than the default.",
                            ),
                        );
                    }
                }
            }
            ImportRequest::Identity(v) => (
                str_attr(v, "server").map(str::to_string),
                str_attr(v, "zone").unwrap_or_default().to_string(),
                str_attr(v, "name").unwrap_or_default().to_string(),
                str_attr(v, "type").unwrap_or_default().to_ascii_uppercase(),
            ),
        };
        let probe = Value::object([
            ("zone", Value::from(zone.as_str())),
            ("name", Value::from(name.as_str())),
            ("type", Value::from(rtype.as_str())),
        ]);
        let key = match key_of(&probe) {
            Ok(Some(k)) => k,
            Ok(None) => {
                return StateResult::failed(
                    Value::Null,
                    Diagnostic::error("Incomplete import identity", "Give zone, name and type."),
                );
            }
            Err(d) => return StateResult::failed(Value::Null, d),
        };
        let srv = match server(ctx, server_name.as_deref()) {
            Ok(s) => s,
            Err(d) => return StateResult::failed(Value::Null, d),
        };
        let snapshot = match srv.client.zone_fresh(&key.zone).await {
            Ok(s) => s,
            Err(e) => {
                return StateResult::failed(
                    Value::Null,
                    dns_error(&e, &format!("read zone {}", key.zone)),
                );
            }
        };
        let Some(rrset) = snapshot.rrset(&key.owner, key.rtype) else {
            return StateResult::failed(
                Value::Null,
                Diagnostic::error(
                    format!("No {} records at {}", key.rtype, key.owner),
                    format!(
                        "Zone {} on server {:?} holds no such record set. Check the name and type.",
                        key.zone, srv.name
                    ),
                ),
            );
        };
        let records = records_for_state(None, rrset, &key.zone);
        StateResult {
            state: state_value(&srv.name, &zone, &name, &key, rrset.ttl, records),
            identity: Some(identity(&srv.name, &key)),
            ..StateResult::default()
        }
    }
}
