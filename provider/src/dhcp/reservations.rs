//! `rack_dhcp_reservations`: many reservations of one subnet of one DHCP server as one
//! resource, a map keyed by the client's MAC address (or `client-id:<hex>`, or
//! `circuit-id:<port>` for the relay's circuit ID: a location, not a machine). For
//! zone-scale configurations: Terraform spends its time per resource, so thousands of
//! leases plan and apply faster as the entries of one map. Refresh is the same one read
//! per server; the changes of an apply go to the backend together (one `config-set` on
//! Kea, one transaction in the host database); the plan shows each entry's change
//! inside the map.
//!
//! The resource owns only its keys: reservations of the subnet it does not hold are never
//! read into its state, changed or deleted, so it coexists with `rack_dhcp_lease` and
//! with reservations made outside Terraform, as long as no client is in two places. Each
//! entry is checked and written as `rack_dhcp_lease` checks and writes its reservation:
//! an entry changed on the server between plan and apply is refused, not overwritten.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::Arc;

use async_trait::async_trait;
use rack_core::Cidr;
use rack_core::dhcp::DhcpError;
use rack_core::dhcp::options::same_reservation;
use rack_core::kea::{Change, ConfigError, Expect, HostIdentifier, Reservation};
use serde::{Deserialize, Serialize};

use super::provider_block::DhcpServer;
use super::shared::{
    CIRCUIT_ID_KEY, ClashCheck, LeaseModel, OptionModel, dhcp_error, entry_key, parse_identifier,
    parse_subnet, reservation_attributes, reservation_of, server, state_of, unsupported_attributes,
};
use crate::framework::attrs::obj_set;
use crate::framework::diag::PathStep;
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{
    Attribute, Block, IdentityAttribute, IdentitySchema, Nesting, Schema,
};
use crate::framework::typed::{self, Planned};
use crate::framework::{
    ApplyRequest, AttributePath, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest,
    PlanRequest, ReadRequest, Resource, StateResult,
};
use crate::protocol::value::Value;

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct DhcpReservations;

/// The resource's attributes, as configuration, plan and state hold them.
#[derive(Debug, Deserialize, Serialize)]
struct ReservationsModel {
    server: Planned<Option<String>>,
    subnet: Planned<Option<String>>,
    reservations: Planned<Option<BTreeMap<String, Entry>>>,
    id: Planned<Option<String>>,
}

/// One reservation: `rack_dhcp_lease`'s attributes but its server, subnet and identifier.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct Entry {
    ip: Planned<Option<String>>,
    hostname: Planned<Option<String>>,
    next_server: Planned<Option<String>>,
    boot_file: Planned<Option<String>>,
    options: Planned<Option<Vec<OptionModel>>>,
    client_classes: Planned<Option<Vec<String>>>,
}

impl Entry {
    /// The entry of `key` in `subnet` as the lease model the lease resource checks.
    fn lease(&self, subnet: &str, key: &str) -> LeaseModel {
        let own = |s: &str| Some(s.to_owned());
        let (mac, client_id, circuit_id) = match (
            key.strip_prefix("client-id:"),
            key.strip_prefix(CIRCUIT_ID_KEY),
        ) {
            (Some(c), _) => (None, own(c), None),
            (_, Some(c)) => (None, None, own(c)),
            _ => (own(key), None, None),
        };
        LeaseModel {
            server: Planned::Known(None),
            subnet: Some(subnet.to_owned()).into(),
            mac: mac.into(),
            client_id: client_id.into(),
            circuit_id: circuit_id.into(),
            ip: self.ip.clone(),
            hostname: self.hostname.clone(),
            next_server: self.next_server.clone(),
            boot_file: self.boot_file.clone(),
            options: self.options.clone(),
            client_classes: self.client_classes.clone(),
            id: Planned::Known(None),
        }
    }

    /// The entry part of a lease model.
    fn of(m: LeaseModel) -> Self {
        Self {
            ip: m.ip,
            hostname: m.hostname,
            next_server: m.next_server,
            boot_file: m.boot_file,
            options: m.options,
            client_classes: m.client_classes,
        }
    }
}

/// The path of entry `key`.
fn entry_path(key: &str) -> AttributePath {
    AttributePath::attr("reservations").join_key(key)
}

/// A diagnostic about one lease's attribute moved to entry `key`: its identifier and
/// subnet are the key and the resource's subnet, its other attributes the entry's.
fn at_entry(d: Diagnostic, key: &str) -> Diagnostic {
    let path = entry_path(key);
    let attribute = match d.attribute.as_ref().map(|p| p.0.as_slice()) {
        Some([PathStep::Attribute(a), ..]) if a == "subnet" => AttributePath::attr("subnet"),
        Some([PathStep::Attribute(a), ..])
            if a == "mac" || a == "client_id" || a == "circuit_id" =>
        {
            path
        }
        Some(steps) => AttributePath(path.0.into_iter().chain(steps.iter().cloned()).collect()),
        None => path,
    };
    d.at(attribute)
}

/// The reservation entry `key` describes in `subnet` (written `subnet_text`).
fn reservation(subnet_text: &str, key: &str, e: &Entry) -> Result<Reservation, Diagnostics> {
    reservation_of(&e.lease(subnet_text, key)).map_err(|errs| {
        let mut d = Diagnostics::new();
        for e in errs {
            d.push(at_entry(e, key));
        }
        d
    })
}

impl ReservationsModel {
    /// No entries: what a create starts from and a delete converges to.
    fn empty() -> Self {
        Self {
            server: Planned::Known(None),
            subnet: Planned::Known(None),
            reservations: Planned::Known(None),
            id: Planned::Known(None),
        }
    }

    fn entries(&self) -> BTreeMap<String, Entry> {
        self.reservations.value().cloned().unwrap_or_default()
    }

    fn subnet(&self) -> Result<Option<(Cidr, String)>, Diagnostic> {
        self.subnet
            .value()
            .map(|s| parse_subnet(s).map(|c| (c, s.clone())))
            .transpose()
    }

    /// Every entry as a reservation, by identifier with its key.
    fn by_identifier(
        &self,
        subnet_text: &str,
    ) -> Result<HashMap<HostIdentifier, (String, Reservation)>, Diagnostics> {
        let mut out = HashMap::new();
        for (key, e) in self.entries() {
            let r = reservation(subnet_text, &key, &e)?;
            out.insert(r.identifier.clone(), (key, r));
        }
        Ok(out)
    }

    /// As state: the computed attributes known, `entries` as the reservations.
    fn state(
        mut self,
        server: &str,
        subnet: Cidr,
        entries: BTreeMap<String, Entry>,
    ) -> Result<Value, Diagnostic> {
        self.server = Some(server.to_owned()).into();
        self.id = Some(resource_id(server, subnet)).into();
        self.reservations = Some(entries).into();
        typed::to_value(&self, &DhcpReservations.schema().value_type())
    }
}

/// The `id`: `<server>/<subnet>`, the import ID.
fn resource_id(server: &str, subnet: Cidr) -> String {
    format!("{server}/{subnet}")
}

/// Whether rack can manage reservation `r` as an entry: known by MAC, client identifier
/// or circuit ID, with an address.
fn manageable(r: &Reservation) -> bool {
    matches!(
        r.identifier,
        HostIdentifier::HwAddress(_) | HostIdentifier::ClientId(_) | HostIdentifier::CircuitId(_)
    ) && r.ip_address.is_some()
}

/// What one write of an apply does to its entry.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Create,
    Update,
    Delete,
}

/// One write of an apply: the entry's key, the reservation it writes (or removes), and
/// the reservation the plan was made from.
struct Write {
    key: String,
    kind: Kind,
    wanted: Reservation,
    old: Option<Reservation>,
}

impl Write {
    /// The change and what it expects to find: for a create nothing (or exactly the
    /// planned reservation, taken over); otherwise the reservation the plan was made from.
    fn change(&self) -> (Change, Option<Expect>) {
        let expected = self.old.clone().unwrap_or_else(|| self.wanted.clone());
        let expect: Expect = Arc::new(move |now: Option<&Reservation>| {
            now.is_none_or(|n| same_reservation(n, &expected))
        });
        let change = match self.kind {
            Kind::Create => Change::Add(self.wanted.clone()),
            Kind::Update => Change::Replace(self.wanted.clone()),
            Kind::Delete => Change::Remove {
                subnet: self.wanted.subnet,
                identifier: self.wanted.identifier.clone(),
            },
        };
        (change, Some(expect))
    }

    /// The diagnostic of its failure on server `srv`, at its entry (or the attribute
    /// inside it a conflict names).
    fn error(&self, srv: &DhcpServer, e: &DhcpError) -> Diagnostic {
        let r = &self.wanted;
        let d = match e {
            DhcpError::Config(ConfigError::Changed { found, .. }) if self.kind == Kind::Create => {
                Diagnostic::error(
                    format!(
                        "{} is already reserved in subnet {}",
                        r.identifier, r.subnet
                    ),
                    format!(
                        "Server {:?} holds the reservation [{found}], which is not the planned \
                         one. rack does not take over reservations silently: import the subnet \
                         into this resource (and keep the entry), or remove the reservation \
                         from the server first.",
                        srv.name
                    ),
                )
            }
            DhcpError::Config(ConfigError::Changed { found, .. }) => Diagnostic::error(
                format!(
                    "The reservation of {} in subnet {} was changed outside Terraform",
                    r.identifier, r.subnet
                ),
                format!(
                    "Server {:?} now holds [{found}], which is not what the plan was made \
                     from, so rack did not {} it. Run `terraform plan` to see the change, then \
                     apply again.",
                    srv.name,
                    if self.kind == Kind::Delete {
                        "remove"
                    } else {
                        "overwrite"
                    }
                ),
            ),
            e => {
                let what = match self.kind {
                    Kind::Create => "reserve",
                    Kind::Update => "update the reservation of",
                    Kind::Delete => "remove the reservation of",
                };
                dhcp_error(e, &format!("{what} {}", r.identifier))
            }
        };
        at_entry(d, &self.key)
    }
}

/// Applies `planned` over `prior` (entries by key; `prior` empty on create), every change
/// sent together. The result holds what the server holds afterwards: planned entries
/// whose write went through, prior ones whose write failed.
async fn converge(
    srv: &DhcpServer,
    subnet_text: &str,
    prior: &ReservationsModel,
    planned: &ReservationsModel,
) -> Result<(BTreeMap<String, Entry>, Diagnostics), Diagnostics> {
    let prior_entries = prior.entries();
    let planned_entries = planned.entries();
    let mut old = prior.by_identifier(subnet_text)?;
    let mut result = BTreeMap::new();
    let mut writes = Vec::new();
    for (key, entry) in &planned_entries {
        let wanted = reservation(subnet_text, key, entry)?;
        let before = old.remove(&wanted.identifier).map(|(_, r)| r);
        let kind = match &before {
            Some(b) if same_reservation(b, &wanted) => {
                result.insert(key.clone(), entry.clone());
                continue;
            }
            Some(_) => Kind::Update,
            None => Kind::Create,
        };
        writes.push(Write {
            key: key.clone(),
            kind,
            wanted,
            old: before,
        });
    }
    // Removals first: an address an entry gives up is free for another entry of the
    // same apply.
    let removals = old.into_values().map(|(key, r)| Write {
        key,
        kind: Kind::Delete,
        wanted: r.clone(),
        old: Some(r),
    });
    let writes: Vec<Write> = removals.chain(writes).collect();
    let outcomes = srv
        .backend
        .apply_all(writes.iter().map(Write::change).collect())
        .await;
    // An entry removed by someone else since the refresh is put back.
    let mut outcomes: Vec<_> = writes.into_iter().zip(outcomes).collect();
    let again: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, (w, o))| {
            w.kind == Kind::Update
                && matches!(o, Err(DhcpError::Config(ConfigError::NotFound { .. })))
        })
        .map(|(i, _)| i)
        .collect();
    if !again.is_empty() {
        let changes = again
            .iter()
            .map(|&i| (Change::Add(outcomes[i].0.wanted.clone()), None))
            .collect();
        for (i, o) in again.into_iter().zip(srv.backend.apply_all(changes).await) {
            outcomes[i].1 = o;
        }
    }
    let mut diags = Diagnostics::new();
    for (w, outcome) in outcomes {
        match (outcome, w.kind) {
            (Ok(()), Kind::Delete)
            | (Err(DhcpError::Config(ConfigError::NotFound { .. })), Kind::Delete) => {}
            (Ok(()), _) => {
                if let Some(e) = planned_entries.get(&w.key) {
                    result.insert(w.key.clone(), e.clone());
                }
            }
            (Err(e), _) => {
                if let Some(kept) = prior_entries.get(&w.key)
                    && w.kind != Kind::Create
                {
                    result.insert(w.key.clone(), kept.clone());
                }
                diags.push(w.error(srv, &e));
            }
        }
    }
    Ok((result, diags))
}

#[async_trait]
impl Resource for DhcpReservations {
    fn type_name(&self) -> &'static str {
        "rack_dhcp_reservations"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Many static DHCPv4 leases (host reservations) of one subnet as one resource: a \
                 map keyed by the client's MAC address, `client-id:<hex>` for a client \
                 identifier (option 61), or `circuit-id:<port>` for the circuit ID a relay \
                 adds (option 82: the address follows the switch port). Each entry holds what a `rack_dhcp_lease` holds: \
                 the address, hostname and boot options. Meant for zone-scale configurations \
                 (thousands of leases), where one resource plans and applies far faster than \
                 one `rack_dhcp_lease` each. The plan shows each entry's change; refresh is \
                 the same one read per server; the changes of an apply go to the server \
                 together (on Kea, one `config-set`; in a host database, one transaction).\n\n\
                 It owns only its keys: reservations of the subnet it does not hold are never \
                 read into its state, changed or deleted, so it coexists with \
                 `rack_dhcp_lease` and with reservations made by hand (keep each client in \
                 one place). An entry whose client or address another reservation of the \
                 subnet already holds is refused at plan time, naming it. An entry changed \
                 on the server between plan and apply is neither overwritten nor removed: \
                 the apply fails naming it and the other entries are still written. Import \
                 takes every reservation of the subnet known by a MAC address or client \
                 identifier, those a `rack_dhcp_lease` holds too: write every imported entry \
                 into the configuration (`terraform query -generate-config-out` does), as an \
                 entry left out is deleted by the next apply.\n\n\
                 Keep each resource to a few hundred entries, and split a larger subnet with \
                 `for_each` over groups of its clients, several resources on one subnet \
                 each owning its own keys: Terraform converts a map of objects in a \
                 configuration by comparing each entry's type with every other entry's, per \
                 attribute of the entry, a cost that grows with the square of the entries of \
                 one resource.",
            )
            .attributes([
                Attribute::string("server")
                    .optional()
                    .computed()
                    .description(
                        "Name of a server in the provider's `dhcp` block; the default server when \
                     omitted. Changing it replaces the resource.",
                    ),
                Attribute::string("subnet").required().description(
                    "The subnet, as a CIDR equal to one of the server's subnets, e.g. \
                     `10.10.60.0/24`. Changing it replaces the resource.",
                ),
                Attribute::nested("reservations", Nesting::Map, reservation_attributes())
                    .required()
                    .description(
                        "The reservations, keyed by the client's MAC address \
                         (`52:54:00:12:34:56`, `52-54-00-12-34-56` or `5254.0012.3456`, any \
                         case; unicast), `client-id:<hex>` (e.g. \
                         `client-id:01:52:54:00:12:34:56`), or `circuit-id:` and the circuit \
                         ID a DHCP relay adds in option 82 (sub-option 1), as \
                         `rack_dhcp_lease`'s `circuit_id` takes it: the relay's port name as \
                         text (`circuit-id:swp3`) or `0x` and hex octets \
                         (`circuit-id:0x000401f4`), 1 to 255 octets. Circuit IDs are for Kea \
                         servers only, and only behind a relay: Kea also takes option 82 from \
                         a client that is not relayed. No two entries may name the same \
                         client or the same address.",
                    ),
                Attribute::string("id")
                    .computed()
                    .description("`<server>/<subnet>`: the import ID."),
            ]),
        )
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(IdentitySchema {
            version: 0,
            attributes: vec![
                IdentityAttribute::optional_string(
                    "server",
                    "DHCP server name; the default server when omitted.",
                ),
                IdentityAttribute::required_string("subnet", "The subnet, as a CIDR."),
            ],
        })
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        let Ok(m) = typed::from_value::<ReservationsModel>(config) else {
            return;
        };
        let subnet = match m.subnet() {
            Ok(s) => s,
            Err(d) => return diags.push(d),
        };
        let Some(entries) = m.reservations.value() else {
            return;
        };
        let mut clients: HashMap<HostIdentifier, &str> = HashMap::new();
        let mut addresses: HashMap<Ipv4Addr, &str> = HashMap::new();
        for (key, entry) in entries {
            let id = match parse_identifier(key, &entry_path(key)) {
                Ok(id) => id,
                Err(d) => {
                    diags.push(d);
                    continue;
                }
            };
            if let Some(first) = clients.insert(id.clone(), key) {
                diags.push(
                    Diagnostic::error(
                        format!("Two entries for {id}"),
                        format!(
                            "Keys {first:?} and {key:?} name the same client; keep one of them."
                        ),
                    )
                    .at(entry_path(key)),
                );
            }
            let Some((_, subnet_text)) = &subnet else {
                continue;
            };
            let lease = entry.lease(subnet_text, key);
            let known = [
                &lease.ip,
                &lease.hostname,
                &lease.next_server,
                &lease.boot_file,
            ]
            .iter()
            .all(|a| !a.is_unknown())
                && !lease.options.is_unknown()
                && !lease.client_classes.is_unknown();
            if !known {
                continue;
            }
            match reservation(subnet_text, key, entry) {
                Ok(r) => {
                    if let Some(ip) = r.ip_address
                        && let Some(first) = addresses.insert(ip, key)
                    {
                        diags.push(
                            Diagnostic::error(
                                format!("{ip} is in two entries"),
                                format!(
                                    "Entries {first:?} and {key:?} reserve the same address; \
                                     give each client an address of its own."
                                ),
                            )
                            .at(entry_path(key).join_attr("ip")),
                        );
                    }
                }
                Err(errs) => diags.extend(errs),
            }
        }
    }

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        let Ok(planned) = typed::from_value::<ReservationsModel>(&plan.planned) else {
            return;
        };
        let Ok(Some((subnet, subnet_text))) = planned.subnet() else {
            return;
        };
        let mut server_name = planned.server.value().cloned();
        if planned.server.is_unknown()
            && let Ok(srv) = server(ctx, None)
        {
            obj_set(&mut plan.planned, "server", Value::from(srv.name.as_str()));
            server_name = Some(srv.name.clone());
        }
        let Some(server_name) = server_name else {
            return;
        };
        obj_set(
            &mut plan.planned,
            "id",
            Value::from(resource_id(&server_name, subnet)),
        );
        let prior = typed::from_value::<Option<ReservationsModel>>(req.prior)
            .ok()
            .flatten();
        let mut ours = HashMap::new();
        if let Some(prior) = &prior {
            let old_subnet = prior.subnet().ok().flatten().map(|(c, _)| c);
            if old_subnet.is_some_and(|o| o != subnet) {
                plan.requires_replace.push(AttributePath::attr("subnet"));
            } else if prior.server.value() != Some(&server_name) {
                plan.requires_replace.push(AttributePath::attr("server"));
            } else if let Some((_, old_text)) = prior.subnet().ok().flatten() {
                ours = prior.by_identifier(&old_text).unwrap_or_default();
            }
        }
        let srv = match server(ctx, Some(&server_name)) {
            Ok(s) => s,
            Err(d) => return plan.diags.push(d.at(AttributePath::attr("server"))),
        };
        // Entries not known yet are checked at apply.
        let wanted: Vec<(String, Reservation)> = planned
            .entries()
            .iter()
            .filter_map(|(k, e)| Some((k.clone(), reservation(&subnet_text, k, e).ok()?)))
            .collect();
        let mut unsupported = Vec::new();
        for (key, r) in &wanted {
            // Relative to the entry: an unsupported identifier is the entry's key.
            let relative = unsupported_attributes(&srv, r, &AttributePath(Vec::new()));
            unsupported.extend(relative.into_iter().map(|d| at_entry(d, key)));
        }
        if !unsupported.is_empty() {
            for d in unsupported {
                plan.diags.push(d);
            }
            return;
        }
        let existing = match srv.backend.reservations(subnet).await {
            Ok(list) => list,
            Err(e) => {
                return plan.diags.push(dhcp_error(
                    &e,
                    &format!(
                        "check the reservations against {} server {:?}",
                        srv.backend.kind(),
                        srv.name
                    ),
                ));
            }
        };
        for (_, r) in ours.values() {
            // A replacement plans its create afterwards, with no prior state.
            srv.note_replacing(r.subnet, r.identifier.clone());
        }
        let is_new = req.prior.is_null();
        let planned_ids: HashMap<&HostIdentifier, &Reservation> =
            wanted.iter().map(|(_, r)| (&r.identifier, r)).collect();
        // The resource's own entries, and a reservation exactly as one of its new entries
        // plans it (taken over by the create).
        let own = |other: &Reservation| {
            ours.contains_key(&other.identifier)
                || (is_new && srv.is_replacing(other.subnet, &other.identifier))
                || planned_ids
                    .get(&other.identifier)
                    .is_some_and(|p| same_reservation(p, other))
        };
        for (key, r) in &wanted {
            let before = ours.get(&r.identifier).map(|(_, b)| b);
            let check = ClashCheck {
                srv: &srv,
                is_new: before.is_none(),
                ip_changed: before.is_none_or(|b| b.ip_address != r.ip_address),
                hostname_changed: before.is_none_or(|b| b.hostname != r.hostname),
                at: entry_path(key),
                identifier_at: entry_path(key),
            };
            for d in check.clashes(r, &existing, &own, &|_| {
                "import the subnet into this resource".to_owned()
            }) {
                plan.diags.push(d);
            }
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        self.apply(ctx, &Value::Null, req.planned).await
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let read = async {
            let stored: ReservationsModel = typed::from_value(&state)?;
            let (subnet, subnet_text) = stored.subnet()?.ok_or_else(|| {
                Diagnostic::error(
                    "Incomplete state",
                    "The stored state lacks the subnet; remove it from state and import again.",
                )
            })?;
            let srv = server(ctx, stored.server.value().map(String::as_str))?;
            let list = srv
                .backend
                .reservations(subnet)
                .await
                .map_err(|e| dhcp_error(&e, &format!("read the reservations of {subnet}")))?;
            let mut entries = BTreeMap::new();
            for (key, kept) in stored.entries() {
                let Ok(id) = parse_identifier(&key, &entry_path(&key)) else {
                    continue;
                };
                if let Some(now) = list.iter().find(|r| r.identifier == id) {
                    // A tainted resource is planned as a create, with no prior state: this
                    // is how that plan knows the reservation is its own, deleted first.
                    srv.note_replacing(now.subnet, now.identifier.clone());
                    let prior = kept.lease(&subnet_text, &key);
                    entries.insert(key, Entry::of(state_of(&srv.name, now, Some(&prior))));
                }
            }
            let name = srv.name.clone();
            let state = stored.state(&name, subnet, entries)?;
            Ok::<_, Diagnostics>(written(&name, subnet, state))
        };
        let read = read.await;
        StateResult::or_failed(read, state)
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        self.apply(ctx, &req.prior, req.planned).await
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let deleted = async {
            let prior: ReservationsModel = typed::from_value(&req.prior)?;
            let Some((_, subnet_text)) = prior.subnet()? else {
                return Ok(Diagnostics::new());
            };
            let srv = server(ctx, prior.server.value().map(String::as_str))?;
            converge(&srv, &subnet_text, &prior, &ReservationsModel::empty())
                .await
                .map(|(_, diags)| diags)
        };
        deleted.await.unwrap_or_else(|d: Diagnostics| d)
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let imported = async {
            let (server_name, subnet_text) = match &req {
                ImportRequest::Id(id) => {
                    let parts: Vec<&str> = id.split('/').collect();
                    match parts.as_slice() {
                        [net, len] => (None, format!("{net}/{len}")),
                        [s, net, len] if !s.is_empty() => {
                            (Some((*s).to_owned()), format!("{net}/{len}"))
                        }
                        _ => {
                            return Err(Diagnostic::invalid_import_id(
                                id,
                                "Use the subnet, e.g. `10.10.60.0/24`, or \
                                 `<server>/<subnet>` for a server other than the default.",
                            )
                            .into());
                        }
                    }
                }
                ImportRequest::Identity(v) => {
                    let t: IdentityModel = typed::from_value(v)?;
                    (t.server, t.subnet)
                }
            };
            let subnet = parse_subnet(&subnet_text)?;
            let srv = server(ctx, server_name.as_deref())?;
            let state = whole_subnet(&srv, subnet, &subnet_text).await?;
            Ok::<_, Diagnostics>(written(&srv.name, subnet, state))
        };
        StateResult::or_failed(imported.await, Value::Null)
    }
}

impl DhcpReservations {
    /// Create (`prior` null) and update: converges the subnet from `prior`'s entries to
    /// `planned`'s.
    async fn apply(&self, ctx: &Context, prior: &Value, planned: Value) -> StateResult {
        let applied = async {
            let planned_m: ReservationsModel = typed::from_value(&planned)?;
            let prior_m: Option<ReservationsModel> = typed::from_value(prior)?;
            let (subnet, subnet_text) = planned_m.subnet()?.ok_or_else(|| {
                Diagnostic::error(
                    "Unknown subnet at apply",
                    "This is a bug in the provider; please report it.",
                )
            })?;
            let srv = server(ctx, planned_m.server.value().map(String::as_str))?;
            let none = ReservationsModel::empty();
            let prior_m = prior_m.as_ref().unwrap_or(&none);
            let (entries, diags) = converge(&srv, &subnet_text, prior_m, &planned_m).await?;
            let name = srv.name.clone();
            let mut out = written(&name, subnet, planned_m.state(&name, subnet, entries)?);
            out.diags = diags;
            Ok::<_, Diagnostics>(out)
        };
        StateResult::or_failed(applied.await, prior.clone())
    }
}

/// The state of a resource holding every reservation of `subnet` (written `subnet_text`)
/// on `srv` known by a MAC address, client identifier or circuit ID, as import and the list resource
/// give it; read afresh.
pub(crate) async fn whole_subnet(
    srv: &DhcpServer,
    subnet: Cidr,
    subnet_text: &str,
) -> Result<Value, Diagnostic> {
    srv.backend.forget().await;
    let list = srv
        .backend
        .reservations(subnet)
        .await
        .map_err(|e| dhcp_error(&e, &format!("read the reservations of {subnet}")))?;
    let entries = list
        .iter()
        .filter(|r| manageable(r))
        .map(|r| {
            (
                entry_key(&r.identifier),
                Entry::of(state_of(&srv.name, r, None)),
            )
        })
        .collect();
    let model = ReservationsModel {
        server: Planned::Unknown,
        subnet: Some(subnet_text.to_owned()).into(),
        reservations: Planned::Unknown,
        id: Planned::Unknown,
    };
    model.state(&srv.name, subnet, entries)
}

/// The identity of the resource of `subnet` on server `srv`.
pub(crate) fn identity(srv: &str, subnet: Cidr) -> Value {
    Value::object([
        ("server", Value::from(srv)),
        ("subnet", Value::from(subnet.to_string())),
    ])
}

/// The resource's identity.
#[derive(Debug, Deserialize)]
struct IdentityModel {
    server: Option<String>,
    #[serde(default)]
    subnet: String,
}

/// The result of an operation that leaves the resource of `subnet` on `srv` as `state`.
fn written(srv: &str, subnet: Cidr, state: Value) -> StateResult {
    StateResult {
        state,
        identity: Some(identity(srv, subnet)),
        ..StateResult::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ip: &str) -> Value {
        Value::object([
            ("ip", Value::from(ip)),
            ("hostname", Value::Null),
            ("next_server", Value::Null),
            ("boot_file", Value::Null),
            ("options", Value::Null),
            ("client_classes", Value::Null),
        ])
    }

    /// The diagnostics `validate` gives a configuration of `entries` in 10.77.0.0/24.
    fn validated(entries: &[(&str, &str)]) -> Vec<Diagnostic> {
        let config = Value::object([
            ("server", Value::Null),
            ("subnet", Value::from("10.77.0.0/24")),
            (
                "reservations",
                Value::Map(
                    entries
                        .iter()
                        .map(|(k, ip)| ((*k).to_owned(), entry(ip)))
                        .collect(),
                ),
            ),
            ("id", Value::Null),
        ]);
        let mut diags = Diagnostics::new();
        futures::executor::block_on(DhcpReservations.validate(&config, &mut diags));
        diags.into_vec()
    }

    fn at(key: &str, attr: Option<&str>) -> Option<AttributePath> {
        let p = entry_path(key);
        Some(attr.map_or(p.clone(), |a| p.join_attr(a)))
    }

    #[test]
    fn distinct_clients_and_addresses_pass() {
        let d = validated(&[
            ("52:54:00:00:00:01", "10.77.0.10"),
            ("52-54-00-00-00-02", "10.77.0.11"),
            ("client-id:01:52:54:00:00:00:03", "10.77.0.12"),
            ("circuit-id:swp3", "10.77.0.13"),
            ("circuit-id:0x000401f4", "10.77.0.14"),
        ]);
        assert!(d.is_empty(), "{d:?}");
    }

    #[test]
    fn circuit_id_keys_are_checked_at_their_entry() {
        let long = format!("circuit-id:{}", "p".repeat(256));
        for (key, summary) in [
            ("circuit-id:", "An empty circuit ID"),
            (long.as_str(), "A circuit ID of 256 bytes is too long"),
            ("circuit-id:0xzz", "Circuit ID \"0xzz\" is not hex octets"),
        ] {
            let d = validated(&[(key, "10.77.0.10")]);
            assert_eq!(d.len(), 1, "{key}: {d:?}");
            assert_eq!(d[0].summary, summary, "{key}");
            assert_eq!(d[0].attribute, at(key, None), "{key}");
        }
        let max = format!("circuit-id:{}", "p".repeat(255));
        assert!(validated(&[(max.as_str(), "10.77.0.10")]).is_empty());
        // The text and the hex of one port name the same client.
        let d = validated(&[
            ("circuit-id:swp3", "10.77.0.10"),
            ("circuit-id:0x73777033", "10.77.0.11"),
        ]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].summary.starts_with("Two entries"), "{d:?}");
        assert_eq!(
            entry_key(&parse_identifier("circuit-id:0x73777033", &at("k", None).unwrap()).unwrap()),
            "circuit-id:swp3"
        );
        let binary = HostIdentifier::circuit_id(&[0, 4, 1, 0xf4]).unwrap();
        assert_eq!(entry_key(&binary), "circuit-id:0x000401f4");
    }

    #[test]
    fn a_key_must_be_a_unicast_mac_or_a_client_id() {
        for key in [
            "01:00:5e:00:00:01",
            "node1",
            "52:54:00:00:00",
            "client-id:zz",
        ] {
            let d = validated(&[(key, "10.77.0.10")]);
            assert_eq!(d.len(), 1, "{key}: {d:?}");
            assert_eq!(d[0].attribute, at(key, None), "{key}");
        }
    }

    #[test]
    fn one_client_or_one_address_in_two_entries_is_refused() {
        let d = validated(&[
            ("52:54:00:00:00:01", "10.77.0.10"),
            ("52-54-00-00-00-01", "10.77.0.11"),
        ]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].summary.starts_with("Two entries"), "{d:?}");

        let d = validated(&[
            ("52:54:00:00:00:01", "10.77.0.10"),
            ("52:54:00:00:00:02", "10.77.0.10"),
        ]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].summary, "10.77.0.10 is in two entries");
        assert_eq!(d[0].attribute, at("52:54:00:00:00:02", Some("ip")));
    }

    #[test]
    fn an_entrys_own_errors_point_inside_it() {
        let d = validated(&[("52:54:00:00:00:01", "10.78.0.10")]);
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].attribute, at("52:54:00:00:00:01", Some("ip")));
    }
}
