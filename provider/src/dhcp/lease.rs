//! `rack_dhcp_lease`: one DHCPv4 host reservation (a static lease) in a subnet of a DHCP
//! server: the client's MAC address or client identifier bound to an address, a
//! hostname, and the options it needs to boot.
//!
//! Refresh reads the server's reservations once per provider process; the writes of one
//! apply go to the server together (on Kea 2.2: one `config-set` and one `config-write`).

use async_trait::async_trait;
use serde::Deserialize;
use std::sync::Arc;

use rack_core::kea::{Change, ConfigError, Expect, HostIdentifier, Reservation};

use super::provider_block::DhcpServer;
use super::shared::{
    ClashCheck, LeaseModel, OptionModel, dhcp_error, identifier_of, identity, lease_id,
    parse_circuit_id, parse_mac, parse_option, parse_subnet, reservation_attributes,
    reservation_of, server, state_of, unsupported_attributes,
};
use crate::framework::attrs::obj_set;
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{Attribute, Block, IdentityAttribute, IdentitySchema, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::{
    ApplyRequest, AttributePath, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest,
    PlanRequest, ReadRequest, Resource, StateResult,
};
use crate::protocol::value::Value;
use rack_core::dhcp::DhcpError;
use rack_core::dhcp::options::same_reservation;

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct DhcpLease;

/// The `options` of a configuration or plan element by element: an element with a part
/// not known yet is [`Planned::Unknown`] while the others can be checked. A list not known
/// at all does not read.
#[derive(Debug, Deserialize)]
struct OptionItems {
    options: Option<Vec<Planned<OptionModel>>>,
}

impl OptionItems {
    /// Whether `value` holds a list of options with an element not known yet.
    fn partly_unknown(value: &Value) -> bool {
        typed::from_value::<OptionItems>(value).is_ok_and(|o| {
            o.options
                .unwrap_or_default()
                .iter()
                .any(Planned::is_unknown)
        })
    }
}

/// An import identity.
#[derive(Debug, Deserialize)]
struct LeaseIdentity {
    server: Option<String>,
    subnet: Option<String>,
    mac: Option<String>,
    client_id: Option<String>,
    #[serde(default)]
    circuit_id: Option<String>,
}

fn ident_attr(id: &HostIdentifier) -> &'static str {
    match id {
        HostIdentifier::HwAddress(_) => "mac",
        HostIdentifier::CircuitId(_) => "circuit_id",
        _ => "client_id",
    }
}

/// The state and identity of reservation `r` on server `server`, as `model` describes
/// it, with the computed `server` and `id` known.
pub(super) fn lease_result(
    server: &str,
    r: &Reservation,
    mut model: LeaseModel,
) -> Result<StateResult, Diagnostic> {
    model.server = Some(server.to_owned()).into();
    model.id = Some(lease_id(server, r)).into();
    Ok(StateResult {
        state: typed::to_value(&model, &DhcpLease.schema().value_type())?,
        identity: Some(identity(server, r)),
        ..StateResult::default()
    })
}

/// The reservation of `r`'s identifier in `r`'s subnet as the server holds it now,
/// read afresh.
async fn read_back(srv: &DhcpServer, r: &Reservation) -> Result<Option<Reservation>, DhcpError> {
    srv.backend.forget().await;
    Ok(srv
        .backend
        .reservations(r.subnet)
        .await?
        .iter()
        .find(|x| x.identifier == r.identifier)
        .cloned())
}

/// After a failed write: state is what the server holds (so the next plan starts from the
/// truth, keeping `prior`'s spelling), or `fallback` when the server cannot be read either.
async fn state_after_failure(
    srv: &DhcpServer,
    r: &Reservation,
    prior: &LeaseModel,
    fallback: Value,
    d: Diagnostic,
) -> StateResult {
    match read_back(srv, r).await {
        Ok(Some(now)) => {
            let state = lease_result(&srv.name, &now, state_of(&srv.name, &now, Some(prior)));
            let mut result = StateResult::or_failed(state.map_err(Diagnostics::from), fallback);
            result.diags.push(d);
            result
        }
        Ok(None) => StateResult::failed(Value::Null, d),
        Err(_) => StateResult::failed(fallback, d),
    }
}

fn bug(what: &str) -> Diagnostic {
    Diagnostic::error(
        format!("Incomplete lease at {what}"),
        "An attribute the lease needs is unknown or invalid here; this is a bug in the provider, please report it.",
    )
}

fn first_error(errs: Vec<Diagnostic>, what: &str) -> Diagnostics {
    let mut d = Diagnostics::new();
    if errs.is_empty() {
        d.push(bug(what));
    }
    for e in errs {
        d.push(e);
    }
    d
}

#[async_trait]
impl Resource for DhcpLease {
    fn type_name(&self) -> &'static str {
        "rack_dhcp_lease"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "A static DHCPv4 lease (host reservation): a client, known by its MAC address or \
                 client identifier, gets a fixed address, a hostname and the options it needs to \
                 boot (PXE next-server and boot file, iPXE, ONIE or ZTP URLs).\n\n\
                 Known options: `routers` (3), `time-servers` (4), `domain-name-servers` (6), \
                 `host-name` (12), `domain-name` (15), `root-path` (17), `interface-mtu` (26), \
                 `broadcast-address` (28), `ntp-servers` (42), `netbios-name-servers` (44), \
                 `dhcp-lease-time` (51), `tftp-server-name` (66), `boot-file-name` (67), \
                 `v4-captive-portal` (114, also `captive-portal`, `url`, `default-url`: the \
                 URL ONIE reads), `domain-search` (119), and the site-specific codes 239 to \
                 254 as text. Anything else is refused at plan time.\n\n\
                 A lease whose MAC address or address is already reserved in the subnet, by \
                 rack or by hand, is refused with the existing entry named, unless it is \
                 exactly the planned reservation (e.g. written by an apply whose request \
                 timed out), which is then taken over. A reservation changed on the server \
                 between plan and apply is not overwritten: the apply fails naming it. Nor \
                 is it removed: a destroy, or a lease removed from the configuration, deletes \
                 the reservation only while it is the one the plan was made from (one \
                 already gone counts as deleted); otherwise it fails naming the reservation \
                 and what the server holds, and the lease stays in the state. A plan that \
                 refreshes first (a plain `terraform destroy`) is made from the server's \
                 current reservation and removes it. On a \
                 Kea server every write is read back and checked, so an apply never succeeds \
                 with a reservation missing; see the `kea` block of the provider's `dhcp` \
                 section for what that check does and does not cover when several writers \
                 share one Kea. Equivalent spellings (MAC case and separators, an option by \
                 name or by code) never show as a change. The subnet's network and broadcast \
                 addresses are refused at plan time.",
            )
            .attributes([
                Attribute::string("server").optional().computed().description(
                    "Name of a server in the provider's `dhcp` block; the default server when omitted. \
                     Changing it replaces the lease.",
                ),
                Attribute::string("subnet").required().description(
                    "The subnet, as a CIDR equal to one of the server's subnets, e.g. `10.10.60.0/24`. \
                     Changing it replaces the lease.",
                ),
                Attribute::string("mac").optional().description(
                    "The client's MAC address (`52:54:00:12:34:56`, `52-54-00-12-34-56` or \
                     `5254.0012.3456`, any case); unicast. Set this or `client_id`. Changing it replaces the lease.",
                ),
                Attribute::string("client_id").optional().description(
                    "The client identifier (option 61) in hex, e.g. `01:52:54:00:12:34:56`, instead of `mac`. \
                     Changing it replaces the lease.",
                ),
                Attribute::string("circuit_id").optional().description(
                    "The circuit ID the DHCP relay adds (option 82, sub-option 1: the relay's port), \
                     instead of `mac`: the address then follows the port, whatever machine is \
                     plugged in. Text such as `swp3`, or `0x` and hex octets; 1 to 255 octets. \
                     Kea servers only (its `circuit-id` reservations, identifier type 2 in a host \
                     database); trust it only behind a relay, as Kea also takes option 82 from an \
                     unrelayed client. Changing it replaces the lease. A relay's remote ID \
                     (sub-option 2) cannot be reserved by: Kea 2.2 has no `remote-id` host \
                     identifier in DHCPv4, and its `flex-id` hook is not open source.",
                ),
            ])
            .attributes(reservation_attributes())
            .attributes([
                Attribute::string("id").computed().description(
                    "`<server>/<subnet>/<mac>`: the import ID (`<server>/<subnet>/client-id:<hex>` for a client identifier, \
                     `<server>/<subnet>/circuit-id:<hex>` for a circuit ID).",
                ),
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
                IdentityAttribute::optional_string("mac", "The client's MAC address."),
                IdentityAttribute::optional_string(
                    "client_id",
                    "The client identifier in hex, instead of `mac`.",
                ),
                IdentityAttribute::optional_string(
                    "circuit_id",
                    "The relay's circuit ID (text, or `0x` and hex), instead of `mac`.",
                ),
            ],
        })
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        let Ok(m) = typed::from_value::<LeaseModel>(config) else {
            return;
        };
        // Check each attribute that is known; a wholly known configuration is checked as
        // the reservation it describes.
        if config.is_fully_known() {
            if let Err(errs) = reservation_of(&m) {
                for e in errs {
                    diags.push(e);
                }
            }
            return;
        }
        if let Some(s) = m.subnet.value()
            && let Err(d) = parse_subnet(s)
        {
            diags.push(d);
        }
        if let Some(mac) = m.mac.value()
            && let Err(d) = parse_mac(mac, &AttributePath::attr("mac"))
        {
            diags.push(d);
        }
        if let Some(c) = m.circuit_id.value()
            && let Err(d) = parse_circuit_id(c)
        {
            diags.push(d);
        }
        if let Ok(OptionItems {
            options: Some(items),
        }) = typed::from_value(config)
        {
            for (i, item) in items.iter().enumerate() {
                if let Some(item) = item.known()
                    && let Err(d) =
                        parse_option(item, &AttributePath::attr("options").join_index(i))
                {
                    diags.push(d);
                }
            }
        }
    }

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        let prior = req.prior;
        let Ok(mut planned) = typed::from_value::<LeaseModel>(&plan.planned) else {
            return;
        };
        if planned.server.is_unknown()
            && let Ok(srv) = server(ctx, None)
        {
            obj_set(&mut plan.planned, "server", Value::from(srv.name.as_str()));
            planned.server = Some(srv.name.clone()).into();
        }
        let server_name = planned.server().map(str::to_string);
        let prior_model = typed::from_value::<Option<LeaseModel>>(prior)
            .ok()
            .flatten();
        let old = prior_model.as_ref().and_then(|p| reservation_of(p).ok());
        let mut is_new = prior.is_null();
        if !prior.is_null() {
            let old_server = prior_model.as_ref().and_then(LeaseModel::server);
            if server_name.is_some() && old_server != server_name.as_deref() {
                plan.requires_replace.push(AttributePath::attr("server"));
                is_new = true;
            }
            if let Some(old) = &old {
                if let Some(Ok(s)) = planned.subnet.value().map(|s| parse_subnet(s))
                    && s != old.subnet
                {
                    plan.requires_replace.push(AttributePath::attr("subnet"));
                    is_new = true;
                }
                let unknown_id = planned.mac.is_unknown()
                    || planned.client_id.is_unknown()
                    || planned.circuit_id.is_unknown();
                let same_id = matches!(
                    planned.identifier(),
                    Ok(Some(ref id)) if *id == old.identifier
                );
                if unknown_id || !same_id {
                    plan.requires_replace
                        .push(AttributePath::attr(ident_attr(&old.identifier)));
                    is_new = true;
                }
            }
        }
        if OptionItems::partly_unknown(&plan.planned) {
            // An option not known yet: checked at apply.
            return;
        }
        let Ok(wanted) = reservation_of(&planned) else {
            // Unknown values (checked at apply), or errors validate reported already.
            return;
        };
        let name = server_name.clone().unwrap_or_default();
        obj_set(
            &mut plan.planned,
            "id",
            Value::from(lease_id(&name, &wanted)),
        );
        let srv = match server(ctx, server_name.as_deref()) {
            Ok(s) => s,
            Err(d) => return plan.diags.push(d.at(AttributePath::attr("server"))),
        };
        let unsupported = unsupported_attributes(&srv, &wanted, &AttributePath::root());
        if !unsupported.is_empty() {
            for d in unsupported {
                plan.diags.push(d);
            }
            return;
        }
        let existing = match srv.backend.reservations(wanted.subnet).await {
            Ok(list) => list,
            Err(e) => {
                return plan.diags.push(dhcp_error(
                    &e,
                    &format!(
                        "check the lease against {} server {:?}",
                        srv.backend.kind(),
                        srv.name
                    ),
                ));
            }
        };
        if let Some(o) = &old {
            // Also when nothing forces a replacement here: `-replace` plans the create
            // half afterwards, with no prior state.
            srv.note_replacing(o.subnet, o.identifier.clone());
        }
        let ip_changed = is_new
            || old
                .as_ref()
                .is_none_or(|o| o.ip_address != wanted.ip_address);
        let hostname_changed = is_new || old.as_ref().is_none_or(|o| o.hostname != wanted.hostname);
        let own = |other: &Reservation| {
            // The lease's own entry, also when it is being replaced (destroyed first).
            old.as_ref()
                .is_some_and(|o| o.identifier == other.identifier && o.subnet == other.subnet)
                || (prior.is_null() && srv.is_replacing(other.subnet, &other.identifier))
        };
        let check = ClashCheck {
            srv: &srv,
            is_new: prior.is_null(),
            ip_changed,
            hostname_changed,
            at: AttributePath::root(),
            identifier_at: AttributePath::attr(ident_attr(&wanted.identifier)),
        };
        for d in check.clashes(&wanted, &existing, &own, &|other| {
            format!(
                "import it (terraform import ADDRESS {:?})",
                lease_id(&srv.name, other)
            )
        }) {
            plan.diags.push(d);
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let created = async {
            let planned: LeaseModel = typed::from_value(&req.planned)?;
            let r = reservation_of(&planned).map_err(|errs| first_error(errs, "create"))?;
            let srv = server(ctx, planned.server())?;
            let planned_r = r.clone();
            let expect: Expect = Arc::new(move |now: Option<&Reservation>| {
                now.is_none_or(|n| same_reservation(n, &planned_r))
            });
            match srv
                .backend
                .apply_expecting(Change::Add(r.clone()), expect)
                .await
            {
                Ok(()) => Ok(lease_result(&srv.name, &r, planned)?),
                Err(e @ DhcpError::Config(ConfigError::Conflict { .. })) => {
                    Err(dhcp_error(&e, &format!("reserve {}", r.identifier)).into())
                }
                Err(DhcpError::Config(ConfigError::Changed { found, .. })) => {
                    Err(Diagnostic::error(
                        format!(
                            "{} is already reserved in subnet {}",
                            r.identifier, r.subnet
                        ),
                        format!(
                            "Server {:?} holds the reservation [{found}], which is not the \
                             planned one. rack does not take over reservations silently: import \
                             it (terraform import ADDRESS {:?}) or remove it from the server \
                             first.",
                            srv.name,
                            lease_id(&srv.name, &r)
                        ),
                    )
                    .at(AttributePath::attr(ident_attr(&r.identifier)))
                    .into())
                }
                Err(e) => {
                    let d = dhcp_error(&e, &format!("reserve {}", r.identifier));
                    Ok(state_after_failure(&srv, &r, &planned, Value::Null, d).await)
                }
            }
        };
        StateResult::or_failed(created.await, Value::Null)
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let read = async {
            let stored: LeaseModel = typed::from_value(&state)?;
            let r = reservation_of(&stored).map_err(|errs| first_error(errs, "read"))?;
            let srv = server(ctx, stored.server())?;
            let list = srv.backend.reservations(r.subnet).await.map_err(|e| {
                dhcp_error(&e, &format!("read the reservation of {}", r.identifier))
            })?;
            let Some(now) = list.iter().find(|x| x.identifier == r.identifier).cloned() else {
                return Ok(StateResult::default());
            };
            // A tainted lease is planned as a create, with no prior state: this is how
            // that plan knows the reservation is its own, deleted first.
            srv.note_replacing(now.subnet, now.identifier.clone());
            Ok(lease_result(
                &srv.name,
                &now,
                state_of(&srv.name, &now, Some(&stored)),
            )?)
        };
        let read = read.await;
        StateResult::or_failed(read, state)
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let prior_value = req.prior.clone();
        let updated = async {
            let planned: LeaseModel = typed::from_value(&req.planned)?;
            let prior: LeaseModel = typed::from_value(&req.prior)?;
            let r = reservation_of(&planned).map_err(|errs| first_error(errs, "update"))?;
            let srv = server(ctx, planned.server())?;
            let old = reservation_of(&prior).ok();
            let unchanged = old.as_ref().is_some_and(|old| same_reservation(old, &r));
            if !unchanged {
                let what = format!("update the reservation of {}", r.identifier);
                // Only over the reservation the plan was made from: a hand-made change since
                // then is refused, not overwritten. One removed since then is put back.
                let mut result = match old {
                    Some(old) => {
                        let expect: Expect = Arc::new(move |now: Option<&Reservation>| {
                            now.is_none_or(|n| same_reservation(n, &old))
                        });
                        srv.backend
                            .apply_expecting(Change::Replace(r.clone()), expect)
                            .await
                    }
                    None => srv.backend.apply(Change::Replace(r.clone())).await,
                };
                if matches!(result, Err(DhcpError::Config(ConfigError::NotFound { .. }))) {
                    // Removed by someone else since the refresh: put it back.
                    result = srv.backend.apply(Change::Add(r.clone())).await;
                }
                match result {
                    Ok(()) => {}
                    Err(e @ DhcpError::Config(ConfigError::Conflict { .. })) => {
                        return Err(dhcp_error(&e, &what).into());
                    }
                    Err(DhcpError::Config(ConfigError::Changed { found, .. })) => {
                        return Err(Diagnostic::error(
                            format!(
                                "The reservation of {} in subnet {} was changed outside Terraform",
                                r.identifier, r.subnet
                            ),
                            format!(
                                "Server {:?} now holds [{found}], which is not what the plan was \
                                 made from, so rack did not overwrite it. Run `terraform plan` to \
                                 see the change, then apply again.",
                                srv.name
                            ),
                        )
                        .into());
                    }
                    Err(e) => {
                        let d = dhcp_error(&e, &what);
                        let fallback = req.prior.clone();
                        return Ok(state_after_failure(&srv, &r, &prior, fallback, d).await);
                    }
                }
            }
            Ok(lease_result(&srv.name, &r, planned)?)
        };
        StateResult::or_failed(updated.await, prior_value)
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let deleted = async {
            let prior: LeaseModel = typed::from_value(&req.prior)?;
            let Ok(r) = reservation_of(&prior) else {
                return Ok(());
            };
            let srv = server(ctx, prior.server())?;
            let change = Change::Remove {
                subnet: r.subnet,
                identifier: r.identifier.clone(),
            };
            // Only the reservation the plan was made from: one changed by hand since then is
            // refused and kept, on Kea checked in the configuration being written.
            let old = r.clone();
            let expect: Expect = Arc::new(move |now: Option<&Reservation>| {
                now.is_none_or(|n| same_reservation(n, &old))
            });
            match srv.backend.apply_expecting(change, expect).await {
                // Already gone is what delete wants.
                Ok(()) | Err(DhcpError::Config(ConfigError::NotFound { .. })) => Ok(()),
                Err(DhcpError::Config(ConfigError::Changed { found, .. })) => {
                    Err(Diagnostic::error(
                        format!(
                            "The reservation of {} in subnet {} was changed outside Terraform",
                            r.identifier, r.subnet
                        ),
                        format!(
                            "Server {:?} now holds [{found}], which is not what the plan was \
                             made from, so rack did not remove it and keeps it in the state. Run \
                             `terraform plan` to see the change, then destroy again (or remove \
                             the reservation from the server yourself).",
                            srv.name
                        ),
                    ))
                }
                Err(e) => Err(dhcp_error(
                    &e,
                    &format!("remove the reservation of {}", r.identifier),
                )),
            }
        };
        match deleted.await {
            Ok(()) => Diagnostics::new(),
            Err(d) => d.into(),
        }
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let usage = "Use `<subnet>/<mac>` for the default server, e.g. \
                     `10.10.60.0/24/52:54:00:12:34:56`, or `<server>/<subnet>/<mac>`; \
                     `client-id:<hex>` in place of the MAC for a client identifier, \
                     `circuit-id:<hex>` for a relay's circuit ID.";
        let imported = async {
            let (server_name, subnet, ident) = match &req {
                ImportRequest::Id(id) => {
                    let parts: Vec<&str> = id.split('/').collect();
                    match parts.as_slice() {
                        [net, len, ident] => (None, format!("{net}/{len}"), ident.to_string()),
                        [s, net, len, ident] => (
                            Some(s.to_string()),
                            format!("{net}/{len}"),
                            ident.to_string(),
                        ),
                        _ => return Err(Diagnostic::invalid_import_id(id, usage)),
                    }
                }
                ImportRequest::Identity(v) => {
                    let target: LeaseIdentity = typed::from_value(v)?;
                    let ident = match (target.mac, target.client_id, target.circuit_id) {
                        (Some(m), ..) => m,
                        (None, Some(c), _) => format!("client-id:{c}"),
                        (None, None, Some(c)) => {
                            let id = parse_circuit_id(&c)?;
                            format!("circuit-id:{}", id.value())
                        }
                        (None, None, None) => String::new(),
                    };
                    (target.server, target.subnet.unwrap_or_default(), ident)
                }
            };
            let subnet = parse_subnet(&subnet)?;
            let identifier = match (
                ident.strip_prefix("client-id:"),
                ident.strip_prefix("circuit-id:"),
            ) {
                (Some(c), _) => identifier_of(None, Some(c)),
                (_, Some(c)) => parse_circuit_id(&format!("0x{}", c.replace(':', ""))).map(Some),
                _ => identifier_of(Some(&ident), None),
            }?
            .ok_or_else(|| Diagnostic::error("No client identifier in the import ID", usage))?;
            let srv = server(ctx, server_name.as_deref())?;
            let key = Reservation::new(subnet, identifier);
            match read_back(&srv, &key).await {
                Ok(Some(r)) => lease_result(&srv.name, &r, state_of(&srv.name, &r, None)),
                Ok(None) => Err(Diagnostic::error(
                    format!("No reservation for {} in subnet {subnet}", key.identifier),
                    format!(
                        "Server {:?} holds no such reservation. Check the subnet and the MAC address \
                         (`terraform query` with a `list \"rack_dhcp_lease\"` block shows what it holds).",
                        srv.name
                    ),
                )),
                Err(e) => Err(dhcp_error(&e, "read the reservations")),
            }
        };
        StateResult::or_failed(imported.await.map_err(Diagnostics::from), Value::Null)
    }
}
