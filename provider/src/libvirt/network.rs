//! `rack_network`: a libvirt virtual network on a hypervisor: NAT, routed, open,
//! isolated, or guests joined to an existing host bridge.
//!
//! What libvirt can change on a running network changes in place: the DHCP ranges
//! (`virNetworkUpdate`, live and persistent together; guests keep their links), autostart,
//! and whether it runs. Everything else is fixed while the network runs, so a change to it
//! replaces the network; core's `REPLACE_ATTRIBUTES` is the list, and the plan names the
//! attribute. Refresh reads every network of a hypervisor in one listing per provider
//! process.

use std::net::IpAddr;

use async_trait::async_trait;
use rack_core::Cidr;
use rack_core::libvirt::{
    DhcpRange, DomainConfig, Hypervisor, IpConfig, LibvirtError, NetworkMode, NetworkSpec,
    NetworkState, plan_update,
};

use serde::{Deserialize, Serialize};

use super::shared::{
    InPlace, ObjectModel, create_object, delete_object, hypervisor_attribute, identity_schema,
    import_id_attribute, import_object, libvirt_diag, object_id, object_result, plan_placement,
    planned_target, read_object, replace_on_hypervisor_change, validate_known,
};
use crate::framework::attrs::obj_set;
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{Attribute, Block, IdentitySchema, Nesting, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::validate::one_of;
use crate::framework::{
    ApplyRequest, AttributePath, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest,
    PlanRequest, ReadRequest, Resource, StateResult,
};
use crate::protocol::value::Value;

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct Network;

/// The modes, as written in configuration.
pub const MODES: &[&str] = &["nat", "route", "open", "isolated", "bridge"];

fn ip_block(family: &str, example_cidr: &str, example_range: (&str, &str)) -> Attribute {
    let range = [
        Attribute::string("start")
            .required()
            .description("First address handed out."),
        Attribute::string("end")
            .required()
            .description("Last address handed out (included)."),
    ];
    Attribute::nested(
        family.to_ascii_lowercase().replace(' ', ""),
        Nesting::Single,
        [
            Attribute::string("cidr").required().description(format!(
                "The network, e.g. `{example_cidr}`. Changing it replaces the network."
            )),
            Attribute::string("gateway")
                .optional()
                .computed()
                .description(
                    "The host's address on the bridge, which guests use as their gateway; the \
                     first address of `cidr` when omitted. Changing it replaces the network.",
                ),
            Attribute::nested("dhcp_ranges", Nesting::Set, range)
                .optional()
                .description(format!(
                    "Address ranges the network's dnsmasq hands out, e.g. `{{ start = \"{}\", \
                     end = \"{}\" }}`. Changed in place: dnsmasq restarts (about a second), \
                     guests keep their links and leases. Empty or omitted: no DHCP.",
                    example_range.0, example_range.1
                )),
        ],
    )
    .optional()
    .description(format!("{family} on the network's bridge."))
}

/// The network's attributes, as its configuration, plan and state hold them. What a plan
/// may leave unknown is [`Planned`] (the computed attributes); the rest is read only once
/// it is known (validation waits for it, plan rules need the whole plan known).
#[derive(Debug, Deserialize, Serialize)]
struct NetworkModel {
    hypervisor: Planned<Option<String>>,
    name: String,
    mode: String,
    bridge: Planned<Option<String>>,
    mtu: Option<u64>,
    ipv4: Option<IpModel>,
    ipv6: Option<IpModel>,
    domain: Option<String>,
    dns_local_only: Option<bool>,
    autostart: Planned<Option<bool>>,
    active: Planned<Option<bool>>,
    uuid: Planned<Option<String>>,
    id: Planned<Option<String>>,
}

/// An `ipv4` or `ipv6` block.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct IpModel {
    cidr: String,
    gateway: Planned<Option<String>>,
    dhcp_ranges: Option<Vec<RangeModel>>,
}

/// One of an address family's DHCP ranges.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct RangeModel {
    start: String,
    end: String,
}

impl ObjectModel for NetworkModel {
    fn placement(&self) -> (&Planned<Option<String>>, &Planned<Option<bool>>) {
        (&self.hypervisor, &self.active)
    }
}

fn parse_addr(text: &str, path: AttributePath) -> Result<IpAddr, Diagnostic> {
    rack_core::net::parse_ip(text).map_err(|e| {
        Diagnostic::error(
            format!("Invalid address {text:?}"),
            format!("{e}. Write an address such as `10.10.60.1` or `fd10:60::1`."),
        )
        .at(path)
    })
}

/// The first address after the network address: the default gateway.
fn first_host(cidr: &Cidr) -> IpAddr {
    match cidr.network() {
        IpAddr::V4(a) => IpAddr::V4(u32::from(a).saturating_add(1).into()),
        IpAddr::V6(a) => IpAddr::V6(u128::from(a).saturating_add(1).into()),
    }
}

/// The `ipv4` or `ipv6` block (`attr`) as core's model; `None` when it is null.
fn ip_of(obj: Option<&IpModel>, attr: &str, errs: &mut Vec<Diagnostic>) -> Option<IpConfig> {
    let obj = obj?;
    let path = AttributePath::attr(attr);
    let v6 = attr == "ipv6";
    let cidr_text = &obj.cidr;
    let cidr: Cidr = match cidr_text.parse() {
        Ok(c) => c,
        Err(e) => {
            errs.push(
                Diagnostic::error(
                    format!("Invalid network {cidr_text:?}"),
                    format!("{e}. Write the network as a CIDR, e.g. `10.10.60.0/24`."),
                )
                .at(path.join_attr("cidr")),
            );
            return None;
        }
    };
    if cidr.network().is_ipv6() != v6 {
        errs.push(
            Diagnostic::error(
                format!(
                    "{cidr} is not an {} network",
                    if v6 { "IPv6" } else { "IPv4" }
                ),
                format!(
                    "Put IPv4 networks in `ipv4` and IPv6 networks in `ipv6`; move {cidr} there."
                ),
            )
            .at(path.join_attr("cidr")),
        );
        return None;
    }
    let address = match obj.gateway.value() {
        Some(g) => match parse_addr(g, path.join_attr("gateway")) {
            Ok(a) => a,
            Err(d) => {
                errs.push(d);
                return None;
            }
        },
        None => first_host(&cidr),
    };
    if !cidr.contains(address) || address == cidr.network() {
        errs.push(
            Diagnostic::error(
                format!("Gateway {address} is not a host address of {cidr}"),
                "Pick an address inside `cidr` other than the network address, or omit \
                 `gateway` for the first one.",
            )
            .at(path.join_attr("gateway")),
        );
        return None;
    }
    let mut dhcp_ranges = Vec::new();
    if let Some(items) = &obj.dhcp_ranges {
        for RangeModel { start: s, end: e } in items {
            let rpath = path.join_attr("dhcp_ranges");
            let (start, end) = match (
                parse_addr(s, rpath.join_attr("start")),
                parse_addr(e, rpath.join_attr("end")),
            ) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(d), _) | (_, Err(d)) => {
                    errs.push(d);
                    continue;
                }
            };
            let ordered = match (start, end) {
                (IpAddr::V4(a), IpAddr::V4(b)) => u32::from(a) <= u32::from(b),
                (IpAddr::V6(a), IpAddr::V6(b)) => u128::from(a) <= u128::from(b),
                _ => false,
            };
            if !cidr.contains(start) || !cidr.contains(end) || !ordered {
                errs.push(
                    Diagnostic::error(
                        format!("DHCP range {start}-{end} is not valid in {cidr}"),
                        format!(
                            "Both ends must be inside {cidr} and `start` must not come after \
                             `end`."
                        ),
                    )
                    .at(rpath),
                );
                continue;
            }
            if (start..=end).contains(&address) {
                errs.push(
                    Diagnostic::error(
                        format!("DHCP range {start}-{end} includes the gateway {address}"),
                        "Start the range after the gateway's address (or end it before).",
                    )
                    .at(rpath),
                );
                continue;
            }
            dhcp_ranges.push(DhcpRange { start, end });
        }
    }
    dhcp_ranges.sort();
    Some(IpConfig {
        address,
        prefix: cidr.prefix_len(),
        dhcp_ranges,
    })
}

/// The configuration (or state) as core's network model.
fn spec_of(v: &NetworkModel) -> Result<NetworkSpec, Vec<Diagnostic>> {
    let mut errs = Vec::new();
    let name = v.name.clone();
    let bridge = v.bridge.value().cloned();
    let mode = match v.mode.as_str() {
        "nat" => NetworkMode::Nat,
        "route" => NetworkMode::Route,
        "open" => NetworkMode::Open,
        "isolated" => NetworkMode::Isolated,
        "bridge" => match &bridge {
            Some(b) => NetworkMode::Bridge { bridge: b.clone() },
            None => {
                errs.push(
                    Diagnostic::error(
                        "Mode bridge needs the host bridge",
                        "Set `bridge` to the name of an existing bridge on the hypervisor, \
                         e.g. `br0`.",
                    )
                    .at(AttributePath::attr("bridge")),
                );
                return Err(errs);
            }
        },
        other => {
            errs.push(
                Diagnostic::error(
                    format!("Unknown mode {other:?}"),
                    format!("Use one of {}.", MODES.join(", ")),
                )
                .at(AttributePath::attr("mode")),
            );
            return Err(errs);
        }
    };
    let is_bridge = matches!(mode, NetworkMode::Bridge { .. });
    let mtu = v.mtu.map(|m| u32::try_from(m).unwrap_or(u32::MAX));
    let ipv4 = ip_of(v.ipv4.as_ref(), "ipv4", &mut errs);
    let ipv6 = ip_of(v.ipv6.as_ref(), "ipv6", &mut errs);
    let local_only = v.dns_local_only.unwrap_or(false);
    let domain = v.domain.as_ref().map(|d| DomainConfig {
        name: d.clone(),
        local_only,
    });
    if local_only && domain.is_none() {
        errs.push(
            Diagnostic::error(
                "dns_local_only without a domain",
                "Set `domain` too, or remove `dns_local_only`.",
            )
            .at(AttributePath::attr("dns_local_only")),
        );
    }
    let spec = NetworkSpec {
        name,
        bridge: if is_bridge { None } else { bridge },
        mode,
        mtu,
        ipv4,
        ipv6,
        domain,
        autostart: v.autostart.value().copied().unwrap_or(true),
    };
    if let Err(e) = spec.validate() {
        use rack_core::libvirt::NetworkSpecError as E;
        let attr = match &e {
            E::Name(_) => "name",
            E::BridgeName(_) => "bridge",
            E::NotForMode { attribute, .. } => attribute,
            E::Mtu(_) => "mtu",
            E::Family { attribute, .. }
            | E::Prefix { attribute, .. }
            | E::Range { attribute, .. } => attribute,
            E::Domain(_) => "domain",
            _ => "name",
        };
        errs.push(
            Diagnostic::error(
                "Invalid network",
                format!("{e}. Fix `{attr}` in the configuration."),
            )
            .at(AttributePath::attr(attr)),
        );
    }
    if errs.is_empty() { Ok(spec) } else { Err(errs) }
}

/// A configuration, plan or state as core's network model.
fn spec_of_value(v: &Value) -> Result<NetworkSpec, Vec<Diagnostic>> {
    spec_of(&typed::from_value(v).map_err(|d| vec![d])?)
}

fn ip_model(ip: &IpConfig) -> IpModel {
    let cidr = Cidr::containing(ip.address, ip.prefix)
        .map(|c| c.to_string())
        .unwrap_or_else(|_| format!("{}/{}", ip.address, ip.prefix));
    let ranges: Vec<RangeModel> = ip
        .dhcp_ranges
        .iter()
        .map(|r| RangeModel {
            start: r.start.to_string(),
            end: r.end.to_string(),
        })
        .collect();
    IpModel {
        cidr,
        gateway: Some(ip.address.to_string()).into(),
        dhcp_ranges: Some(ranges).filter(|r| !r.is_empty()),
    }
}

/// Keeps the spelling of `prior`'s block where it means the same as `now` (addresses
/// written in another form, a range set in another order).
fn keep_spelling(prior: Option<&IpModel>, attr: &str, now: Option<IpModel>) -> Option<IpModel> {
    let mut errs = Vec::new();
    let same = prior.is_some()
        && now.is_some()
        && ip_of(prior, attr, &mut errs) == ip_of(now.as_ref(), attr, &mut errs);
    if same && errs.is_empty() {
        prior.cloned()
    } else {
        now
    }
}

/// The state for a network as libvirt holds it, keeping `prior`'s spelling.
/// The state of a network for the list resource, as import gives it; `None` when rack
/// cannot model the network.
pub(crate) fn listed_state(hv: &str, now: &NetworkState) -> Option<Value> {
    state_of(hv, now, &Value::Null).ok()
}

fn state_of(hv: &str, now: &NetworkState, prior: &Value) -> Result<Value, Diagnostic> {
    let spec = now.spec.as_ref().map_err(|e| {
        Diagnostic::error(
            format!("Network {:?} cannot be managed by rack", now.name),
            format!(
                "{e}. rack manages NAT, routed, open, isolated and host-bridge networks; \
                 change the network on the hypervisor (virsh net-edit) or remove it from the \
                 configuration."
            ),
        )
    })?;
    let (mode, bridge) = match &spec.mode {
        NetworkMode::Bridge { bridge } => ("bridge", Some(bridge.clone())),
        m => (m.as_str(), spec.bridge.clone()),
    };
    // What the prior value (configuration, plan or state) spelled out, where it can be read.
    let prior: Option<NetworkModel> = typed::from_value(prior).ok().flatten();
    let prior = prior.as_ref();
    // `dns_local_only` is optional and not computed: false stays null unless the prior
    // value spelled it out.
    let dns_local_only = match (&spec.domain, prior.and_then(|p| p.dns_local_only)) {
        (Some(d), _) if d.local_only => Some(true),
        (_, Some(false)) => Some(false),
        _ => None,
    };
    let model = NetworkModel {
        hypervisor: Some(hv.to_owned()).into(),
        name: now.name.clone(),
        mode: mode.to_owned(),
        bridge: bridge.into(),
        mtu: spec.mtu.map(u64::from),
        ipv4: keep_spelling(
            prior.and_then(|p| p.ipv4.as_ref()),
            "ipv4",
            spec.ipv4.as_ref().map(ip_model),
        ),
        ipv6: keep_spelling(
            prior.and_then(|p| p.ipv6.as_ref()),
            "ipv6",
            spec.ipv6.as_ref().map(ip_model),
        ),
        domain: spec.domain.as_ref().map(|d| d.name.clone()),
        dns_local_only,
        autostart: Some(now.autostart).into(),
        active: Some(now.active).into(),
        uuid: Some(now.uuid.clone()).into(),
        id: Some(object_id(hv, &now.name)).into(),
    };
    typed::to_value(&model, &Network.schema().value_type())
}

/// Where each of core's replace reasons lives in the schema.
fn replace_path(attr: &str) -> AttributePath {
    match attr {
        "ipv4.address" => AttributePath::attr("ipv4").join_attr("gateway"),
        "ipv4.prefix" => AttributePath::attr("ipv4").join_attr("cidr"),
        "ipv6.address" => AttributePath::attr("ipv6").join_attr("gateway"),
        "ipv6.prefix" => AttributePath::attr("ipv6").join_attr("cidr"),
        other => AttributePath::attr(other),
    }
}

fn result(hv: &str, now: &NetworkState, planned: &Value) -> StateResult {
    object_result(hv, &now.name, state_of(hv, now, planned), planned)
}

#[async_trait]
impl Resource for Network {
    fn type_name(&self) -> &'static str {
        "rack_network"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "A libvirt virtual network on a KVM hypervisor.\n\n\
                 Changed in place: `ipv4.dhcp_ranges`, `ipv6.dhcp_ranges`, `autostart` and \
                 `active`. libvirt cannot change anything else on a running network without \
                 stopping it, which cuts every guest off, so a change to `hypervisor`, \
                 `name`, `mode`, `bridge`, `mtu`, the `cidr` or `gateway` of either family \
                 (adding or removing a family too), `domain` or `dns_local_only` replaces \
                 the network, and the plan names the attribute.\n\n\
                 Drift: a network stopped out of band shows as `active` changing back to \
                 `true`; one undefined out of band is created again. Static DHCP leases on \
                 the network (`rack_dhcp_lease` through a libvirt DHCP server) are not part \
                 of this resource and never show as its drift.",
            )
            .attributes([
                hypervisor_attribute("network"),
                Attribute::string("name")
                    .required()
                    .description("The network's name on the hypervisor. Changing it replaces the network."),
                Attribute::string("mode")
                    .required()
                    .validator(one_of(MODES.iter().copied()))
                    .description(
                        "`nat` (a bridge of libvirt's, masqueraded to the host's routes), `route` \
                         (routed, no NAT), `open` (routed, no firewall rules from libvirt), \
                         `isolated` (no forwarding: guests reach each other and the host), or \
                         `bridge` (guests join the existing host bridge named in `bridge`; no \
                         addresses, DHCP or DNS from libvirt).",
                    ),
                Attribute::string("bridge").optional().computed().description(
                    "For mode `bridge`: the existing host bridge (required). Otherwise the name \
                     of the bridge libvirt creates, at most 15 characters; libvirt picks \
                     `virbrN` when omitted.",
                ),
                Attribute::number("mtu")
                    .optional()
                    .description("MTU of the bridge (68 to 65535); the kernel's default when omitted."),
                ip_block("IPv4", "10.10.60.0/24", ("10.10.60.100", "10.10.60.199")),
                ip_block("IPv6", "fd10:60::/64", ("fd10:60::100", "fd10:60::1ff")),
                Attribute::string("domain").optional().description(
                    "DNS domain of the network's dnsmasq: guests' DHCP hostnames resolve under \
                     it, e.g. `vm.dc1.example.net`.",
                ),
                Attribute::bool("dns_local_only").optional().description(
                    "Whether dnsmasq answers names in `domain` only itself and never forwards \
                     them upstream. Needs `domain`.",
                ),
                Attribute::bool("autostart")
                    .optional()
                    .computed()
                    .default(Value::Bool(true))
                    .description("Whether libvirt starts the network when its daemon starts. Default: `true`."),
                Attribute::bool("active")
                    .optional()
                    .computed()
                    .default(Value::Bool(true))
                    .description(
                        "Whether the network runs. Default `true`: a network stopped out of band is \
                         started again by the next apply.",
                    ),
                Attribute::string("uuid")
                    .computed()
                    .use_state_for_unknown()
                    .description("libvirt's UUID of the network."),
                import_id_attribute("<name>"),
            ]),
        )
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        identity_schema(&[("name", "The network's name.")])
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        validate_known(
            config,
            &[
                "name",
                "mode",
                "bridge",
                "mtu",
                "ipv4",
                "ipv6",
                "domain",
                "dns_local_only",
            ],
            diags,
            spec_of,
        );
    }

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        let prior = req.prior;
        plan_placement(ctx, &mut plan.planned, &["name"]);
        // The default gateway is known at plan time.
        for family in ["ipv4", "ipv6"] {
            let Some(Value::Object(ip)) = plan.planned.attr(family).cloned() else {
                continue;
            };
            if ip.get("gateway").is_some_and(Value::is_unknown)
                && let Some(Ok(cidr)) = ip
                    .get("cidr")
                    .and_then(Value::as_str)
                    .map(str::parse::<Cidr>)
            {
                let mut ip = ip;
                ip.insert("gateway".into(), Value::from(first_host(&cidr).to_string()));
                obj_set(&mut plan.planned, family, Value::Object(ip));
            }
        }
        if prior.is_null() {
            return;
        }
        // The bridge libvirt picked stays when the configuration leaves it out.
        if plan.planned.attr("bridge").is_some_and(Value::is_unknown)
            && let Some(b) = prior.attr("bridge")
        {
            obj_set(&mut plan.planned, "bridge", b.clone());
        }
        replace_on_hypervisor_change(prior, plan);
        if !plan.planned.is_fully_known() {
            return;
        }
        let (Ok(current), Ok(desired)) = (spec_of_value(prior), spec_of_value(&plan.planned))
        else {
            return;
        };
        let changes = plan_update(&current, &desired);
        for attr in changes.replace {
            plan.requires_replace.push(replace_path(attr));
        }
        if prior.attr("dns_local_only") != plan.planned.attr("dns_local_only")
            && current.domain != desired.domain
        {
            plan.requires_replace
                .push(AttributePath::attr("dns_local_only"));
        }
        if !plan.requires_replace.is_empty() {
            obj_set(&mut plan.planned, "uuid", Value::Unknown);
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let planned = req.planned;
        let created = async {
            let (m, spec, hv) = planned_target(ctx, &planned, "network", spec_of)?;
            let (now, diags) = create_object(
                &hv,
                &spec.name,
                ("network", "network"),
                m.want_active(),
                async || hv.handle.create_network(&spec).await,
                async || hv.handle.set_network_active(&spec.name, false).await,
            )
            .await?;
            let mut out = result(&hv.name, &now, &planned);
            out.diags.extend(diags);
            Ok(out)
        };
        StateResult::or_failed(created.await, Value::Null)
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let fetch = |hv: Hypervisor, name: String| async move { hv.network(&name).await };
        read_object(ctx, req.state, "network", fetch, result).await
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let (prior, planned) = (req.prior, req.planned);
        let (m, desired, hv) = match planned_target(ctx, &planned, "network", spec_of) {
            Ok(t) => t,
            Err(d) => return StateResult::failed(prior, d),
        };
        let name = desired.name.clone();
        let fail = |e: &LibvirtError| {
            libvirt_diag(
                &e.clone(),
                &format!("Updating network {name:?} on hypervisor {:?}.", hv.name),
            )
        };
        let steps = InPlace {
            fail,
            result: |n: &NetworkState, base: &Value| result(&hv.name, n, base),
        };
        steps
            .run(
                (prior, &planned, m.want_active()),
                async || hv.handle.update_network(&desired).await,
                async || hv.handle.create_network(&desired).await,
                async || hv.handle.network_fresh(&name).await,
                async |on| hv.handle.set_network_active(&name, on).await,
                |n| n.active,
            )
            .await
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let hint = "Check that no running guest still needs it.";
        let delete = |hv: Hypervisor, name: String| async move {
            hv.delete_network(&name).await.map(|_| ())
        };
        delete_object(ctx, &req.prior, "network", hint, delete).await
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let fetch = |hv: Hypervisor, name: String| async move { hv.network_fresh(&name).await };
        import_object(ctx, &req, "network", "net-list", fetch, |hv, now| {
            result(hv, now, &Value::Null)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::value::Number;

    fn config(pairs: Vec<(&str, Value)>) -> Value {
        let mut base = vec![
            ("name", Value::from("farm")),
            ("mode", Value::from("route")),
            ("bridge", Value::Null),
            ("mtu", Value::Null),
            ("ipv4", Value::Null),
            ("ipv6", Value::Null),
            ("domain", Value::Null),
            ("dns_local_only", Value::Null),
            ("autostart", Value::Bool(true)),
        ];
        for attr in ["hypervisor", "active", "uuid", "id"] {
            base.push((attr, Value::Null));
        }
        for (k, v) in pairs {
            base.retain(|(n, _)| *n != k);
            base.push((k, v));
        }
        Value::object(base)
    }

    fn ipv4(cidr: &str, gateway: Option<&str>, ranges: &[(&str, &str)]) -> Value {
        let ranges: Vec<Value> = ranges
            .iter()
            .map(|(s, e)| Value::object([("start", Value::from(*s)), ("end", Value::from(*e))]))
            .collect();
        Value::object([
            ("cidr", Value::from(cidr)),
            ("gateway", gateway.map_or(Value::Null, Value::from)),
            (
                "dhcp_ranges",
                if ranges.is_empty() {
                    Value::Null
                } else {
                    Value::Set(ranges)
                },
            ),
        ])
    }

    #[test]
    fn configuration_becomes_the_model() {
        let c = config(vec![(
            "ipv4",
            ipv4("10.10.60.0/24", None, &[("10.10.60.100", "10.10.60.199")]),
        )]);
        let spec = spec_of_value(&c).unwrap();
        assert_eq!(spec.mode, NetworkMode::Route);
        let ip = spec.ipv4.unwrap();
        assert_eq!(ip.address.to_string(), "10.10.60.1");
        assert_eq!(ip.prefix, 24);
        assert_eq!(ip.dhcp_ranges.len(), 1);
    }

    #[test]
    fn bad_input_points_at_the_attribute() {
        let cases = [
            (
                config(vec![("ipv4", ipv4("10.10.60.0/33", None, &[]))]),
                "ipv4.cidr",
            ),
            (
                config(vec![(
                    "ipv4",
                    ipv4("10.10.60.0/24", Some("10.10.61.1"), &[]),
                )]),
                "ipv4.gateway",
            ),
            (
                config(vec![(
                    "ipv4",
                    ipv4("10.10.60.0/24", None, &[("10.10.60.200", "10.10.61.10")]),
                )]),
                "ipv4.dhcp_ranges",
            ),
            (
                config(vec![("ipv6", ipv4("10.10.60.0/24", None, &[]))]),
                "ipv6.cidr",
            ),
            (config(vec![("mode", Value::from("bridge"))]), "bridge"),
            (
                config(vec![("bridge", Value::from("a-very-long-bridge-name"))]),
                "bridge",
            ),
            (
                config(vec![("mtu", Value::Number(Number::from(20u64)))]),
                "mtu",
            ),
            (
                config(vec![("dns_local_only", Value::Bool(true))]),
                "dns_local_only",
            ),
            (
                config(vec![
                    ("mode", Value::from("bridge")),
                    ("bridge", Value::from("br0")),
                    ("mtu", Value::Number(Number::from(1500u64))),
                ]),
                "mtu",
            ),
        ];
        for (c, path) in cases {
            let errs = spec_of_value(&c).unwrap_err();
            let paths: Vec<String> = errs
                .iter()
                .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
                .collect();
            assert!(paths.contains(&path.to_string()), "{path}: {errs:?}");
        }
    }

    #[test]
    fn state_keeps_the_users_spelling() {
        let spec = spec_of_value(&config(vec![
            ("ipv6", ipv4("fd10:60::/64", Some("fd10:60::1"), &[])),
            ("domain", Value::from("farm.test")),
        ]))
        .unwrap();
        let now = NetworkState {
            name: "farm".into(),
            uuid: "u".into(),
            active: true,
            persistent: true,
            autostart: true,
            xml: String::new(),
            spec: Ok(spec),
        };
        let prior = config(vec![(
            "ipv6",
            ipv4("fd10:0060::/64", Some("fd10:60:0::1"), &[]),
        )]);
        let state = state_of("kvm1", &now, &prior).unwrap();
        assert_eq!(
            state.attr("ipv6").and_then(|v| v.attr("cidr")),
            Some(&Value::from("fd10:0060::/64"))
        );
        assert_eq!(state.attr("id"), Some(&Value::from("kvm1/farm")));
        // Not set in the configuration: stays null (Terraform refuses a new false).
        assert_eq!(state.attr("dns_local_only"), Some(&Value::Null));
        let prior = config(vec![("dns_local_only", Value::Bool(false))]);
        let state = state_of("kvm1", &now, &prior).unwrap();
        assert_eq!(state.attr("dns_local_only"), Some(&Value::Bool(false)));
    }

    #[test]
    fn replace_reasons_map_to_attributes() {
        assert_eq!(replace_path("ipv4.prefix").to_string(), "ipv4.cidr");
        assert_eq!(replace_path("ipv6.address").to_string(), "ipv6.gateway");
        assert_eq!(replace_path("mtu").to_string(), "mtu");
    }
}
