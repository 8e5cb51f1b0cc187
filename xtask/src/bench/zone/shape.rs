//! The zone the benchmark builds, and what it writes for Terraform: the values every
//! configuration iterates over (one `locals` file in JSON, so the configurations and the
//! state files the benchmark writes hold the same values by construction), the
//! configurations of both forms and of `terraform_data`, and state files.
//!
//! The zone at its full size holds 10,000 resources in the per-item form: 4,000 A record
//! sets in one forward zone, 4,000 PTR record sets in reverse zones of 250 names each,
//! 1,500 DHCP leases, and 250 VMs defined but not running, each with a qcow2 overlay of one
//! base volume (500 resources), spread over the hypervisors. On top of those, each VM has
//! an access port on the switch, in a VLAN of its hypervisor (one named VLAN per
//! hypervisor): 250 `rack_switch_port` and 3 `rack_switch_vlan`, alike in both forms,
//! 10,253 resources in all. A smaller zone keeps those proportions (the VLANs stay one
//! per hypervisor).

use std::collections::HashSet;
use std::fmt::Write as _;

use anyhow::{Context as _, anyhow, bail};
use serde_json::{Map, Value, json};

use super::super::dhcp::{SUBNET, lease};

/// The forward zone (the named fixture's own).
pub(super) const FORWARD_ZONE: &str = rack_lab::named::INITIAL_ZONE;

/// Addresses of one reverse zone (a /24; `.1` to `.250`).
const PER_REVERSE_ZONE: usize = 250;

/// TTL of every record set.
const TTL: u32 = 300;

/// The storage pool on every hypervisor, and the base volume every disk is an overlay of.
pub(super) const POOL: &str = "zone";
pub(super) const BASE: &str = "base.raw";

/// Memory of each VM (never started, so only what libvirt records).
const VM_MEMORY: &str = "64MiB";

/// The switch's bridge (made by the switch fixture), and the tag of hypervisor 0's VLAN
/// (hypervisor `i`'s is this plus `i`).
const BRIDGE: &str = "br0";
const FIRST_TAG: usize = 100;

/// Names of the hypervisors in the provider's `hypervisors` map.
pub(super) fn hypervisor_name(i: usize) -> String {
    format!("hv{i}")
}

/// How many of each kind the zone holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    /// A record sets in the forward zone.
    pub a: usize,
    /// PTR record sets, in reverse zones of [`PER_REVERSE_ZONE`].
    pub ptr: usize,
    /// DHCP leases in one subnet.
    pub leases: usize,
    /// VMs, each with its overlay volume.
    pub vms: usize,
    /// Access ports on the switch, one per VM.
    pub ports: usize,
    /// Named VLANs of the switch, one per hypervisor.
    pub vlans: usize,
    /// Hypervisors the VMs spread over.
    pub hypervisors: usize,
}

impl Shape {
    /// The zone of `resources` record sets, leases, volumes and VMs in the per-item form,
    /// in the issue's proportions (2/5 A, 2/5 PTR, 3/20 leases, 1/20 VMs and their
    /// volumes), with a switch port per VM and a VLAN per hypervisor on top.
    pub fn of(resources: usize, hypervisors: usize) -> anyhow::Result<Self> {
        if resources < 40 {
            bail!("A zone needs at least 40 resources, not {resources}");
        }
        let shape = Self {
            a: resources * 2 / 5,
            ptr: resources * 2 / 5,
            leases: resources * 3 / 20,
            vms: resources / 40,
            ports: resources / 40,
            vlans: hypervisors,
            hypervisors,
        };
        // The subnet holds 8,192 addresses, the reverse zones 250 each.
        if shape.leases > 8000 || shape.a > 250 * 250 {
            bail!("{resources} resources do not fit the zone's address plan");
        }
        Ok(shape)
    }

    /// Resources in the per-item form.
    pub fn resources(&self) -> usize {
        self.a + self.ptr + self.leases + 2 * self.vms + self.ports + self.vlans
    }

    /// Reverse zones the PTR record sets fill.
    pub fn reverse_zones(&self) -> usize {
        self.ptr.div_ceil(PER_REVERSE_ZONE)
    }

    /// DNS zones the configuration holds (forward and reverse).
    pub fn zones(&self) -> usize {
        1 + self.reverse_zones()
    }

    /// A smaller zone of the same proportions, `resources` as [`Shape::of`] counts them:
    /// the first items of each kind.
    pub fn subset(&self, resources: usize) -> anyhow::Result<Self> {
        let s = Self::of(resources, self.hypervisors)?;
        if s.a > self.a || s.leases > self.leases || s.vms > self.vms {
            bail!(
                "{resources} resources are more than the zone's {}",
                self.resources()
            );
        }
        Ok(s)
    }
}

/// Host `i`'s name (its A record set, and the target of its PTR).
pub(super) fn host(i: usize) -> String {
    format!("n{i:05}")
}

/// Host `i`'s address.
pub(super) fn address(i: usize) -> String {
    format!(
        "10.20.{}.{}",
        i / PER_REVERSE_ZONE,
        i % PER_REVERSE_ZONE + 1
    )
}

/// The reverse zone of host `i`'s address, and the PTR's name in it.
pub(super) fn reverse(i: usize) -> (String, String) {
    (
        format!("{}.20.10.in-addr.arpa.", i / PER_REVERSE_ZONE),
        (i % PER_REVERSE_ZONE + 1).to_string(),
    )
}

/// Every reverse zone of a zone of `shape`.
pub(super) fn reverse_zones(shape: &Shape) -> Vec<String> {
    (0..shape.reverse_zones())
        .map(|z| reverse(z * PER_REVERSE_ZONE).0)
        .collect()
}

/// VM `i`'s name and the hypervisor it is on.
pub(super) fn vm(i: usize, hypervisors: usize) -> (String, String) {
    (format!("vm{i:03}"), hypervisor_name(i % hypervisors))
}

/// The VLANs of the switch, by name (the hypervisor's), with their tags. VM `i`'s port
/// is named as the VM and is in its hypervisor's VLAN.
fn vlans(shape: &Shape) -> Vec<(String, usize)> {
    (0..shape.vlans)
        .map(|i| (hypervisor_name(i), FIRST_TAG + i))
        .collect()
}

/// Which configuration a working directory holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    /// One resource per record set, lease, volume, VM, port and VLAN.
    PerItem,
    /// `rack_dns_records` and `rack_dhcp_reservations` of at most
    /// [`ENTRIES_PER_RESOURCE`] entries each, and the volumes, VMs, ports and VLANs.
    Aggregate,
    /// `terraform_data` in place of every per-item resource.
    Data,
}

/// Entries of one aggregate resource at most. Terraform converts a map of objects in a
/// configuration to the attribute's map type by unifying the types of its entries, which
/// compares every entry's type with every other's, per attribute of the entry: its cost
/// grows with the square of the entries of one resource (the forward zone's 4,000
/// entries in one map took over half a second of each plan). So the aggregate form holds at most this many entries per
/// resource: the forward zone's A record sets are grouped by /24 as the reverse zones
/// are, the leases in groups of this size.
pub(super) const ENTRIES_PER_RESOURCE: usize = PER_REVERSE_ZONE;

/// The file holding the values the configuration of `form` iterates over: for the
/// aggregate form, plain JSON that its `locals` block reads with `jsondecode(file(...))`
/// (Terraform parses every string of a `.tf.json` file as a template, once to find its
/// references and again to evaluate it, which the aggregate form's plan spent about half a
/// second on); for the others, `zone.tf.json`, a `locals` block in JSON syntax.
pub(super) fn values_file(form: Form) -> &'static str {
    match form {
        Form::Aggregate => "zone.json",
        Form::PerItem | Form::Data => "zone.tf.json",
    }
}

/// The contents of [`values_file`]: the values the configuration iterates over.
pub(super) fn locals(shape: &Shape, form: Form) -> String {
    let mut locals = Map::new();
    let a = (0..shape.a).map(|i| (host(i), Value::from(address(i))));
    let leases = (0..shape.leases).map(|i| {
        let (mac, ip, name) = lease(i);
        (name, json!({"mac": mac, "ip": ip}))
    });
    let vms: Map<String, Value> = (0..shape.vms)
        .map(|i| {
            let (name, hv) = vm(i, shape.hypervisors);
            (name, Value::from(hv))
        })
        .collect();
    let vlans: Map<String, Value> = vlans(shape)
        .into_iter()
        .map(|(name, tag)| (name, Value::from(tag)))
        .collect();
    locals.insert("vlans".into(), Value::Object(vlans));
    match form {
        Form::Aggregate => {
            let group = |i: usize| (i / ENTRIES_PER_RESOURCE).to_string();
            locals.insert("a".into(), grouped(a.enumerate(), group));
            locals.insert(
                "reverse".into(),
                grouped(
                    (0..shape.ptr).map(|i| {
                        let (_, name) = reverse(i);
                        (
                            i,
                            (name, Value::from(format!("{}.{FORWARD_ZONE}", host(i)))),
                        )
                    }),
                    |i| reverse(i).0,
                ),
            );
            locals.insert("leases".into(), grouped(leases.enumerate(), group));
            locals.insert("vms".into(), Value::Object(vms));
            return Value::Object(locals).to_string();
        }
        Form::PerItem | Form::Data => {
            let ptr: Map<String, Value> = (0..shape.ptr)
                .map(|i| {
                    let (zone, name) = reverse(i);
                    (host(i), json!({"zone": zone, "name": name}))
                })
                .collect();
            locals.insert("a".into(), Value::Object(a.collect()));
            locals.insert("ptr".into(), Value::Object(ptr));
        }
    }
    locals.insert("leases".into(), Value::Object(leases.collect()));
    locals.insert("vms".into(), Value::Object(vms));
    json!({ "locals": locals }).to_string()
}

/// `items` (item `i`, its key and value) as an object of objects, grouped by `group(i)`.
fn grouped(
    items: impl Iterator<Item = (usize, (String, Value))>,
    group: impl Fn(usize) -> String,
) -> Value {
    let mut groups: Map<String, Value> = Map::new();
    for (i, (key, value)) in items {
        if let Value::Object(m) = groups
            .entry(group(i))
            .or_insert_with(|| Value::Object(Map::new()))
        {
            m.insert(key, value);
        }
    }
    Value::Object(groups)
}

/// Where the provider reaches the hypervisors and the switch (DNS and DHCP come from
/// `RACK_*`).
pub(super) struct Endpoints {
    /// The hypervisors' URIs, in the order of their names.
    pub hypervisors: Vec<String>,
    /// The switch's ovsdb-server.
    pub switch: String,
}

/// The provider block: every hypervisor in one map, and the switch.
fn provider_block(at: &Endpoints) -> String {
    let mut map = String::new();
    for (i, uri) in at.hypervisors.iter().enumerate() {
        let _ = writeln!(map, "    {} = \"{uri}\"", hypervisor_name(i));
    }
    format!(
        "terraform {{\n  required_providers {{\n    rack = {{ source = \"terraform.local/rack/rack\" }}\n  }}\n}}\n\n\
         provider \"rack\" {{\n  hypervisors = {{\n{map}  }}\n  default_hypervisor = \"{}\"\n\n  \
         switch {{\n    server \"tor1\" {{\n      address = \"{}\"\n    }}\n  }}\n}}\n",
        hypervisor_name(0),
        at.switch
    )
}

/// The VLANs, over `vlans`, and a port per VM, over `vms` (expressions), alike in both
/// forms. A port names its VLAN by reference, which costs little with one VLAN per
/// hypervisor.
fn switch_ports(vms: &str, vlans: &str) -> String {
    format!(
        r#"
resource "rack_switch_vlan" "hv" {{
  for_each = {vlans}
  bridge   = "{BRIDGE}"
  name     = each.key
  tag      = each.value
}}

resource "rack_switch_port" "vm" {{
  for_each = {vms}
  bridge   = "{BRIDGE}"
  name     = each.key
  vlan     = rack_switch_vlan.hv[each.value].name
}}
"#
    )
}

/// The volumes and VMs, over `vms` (an expression). With `by_reference`, each VM names
/// its disk by a reference to its volume, `rack_volume.disk[each.key].name`, as the
/// per-item form and its `terraform_data` baseline do; without, by the same name written
/// out, with `depends_on` the volumes. The order is the same (a reference to one
/// instance already makes the VM depend on every volume), but Terraform evaluates a
/// reference to one instance of a `for_each` resource by building the value of all its
/// instances, so 250 VMs referencing 250 volumes cost about a second of each plan.
fn machines(vms: &str, by_reference: bool) -> String {
    let (volume, depends_on) = if by_reference {
        ("rack_volume.disk[each.key].name", "")
    } else {
        (
            "\"${each.key}.qcow2\"",
            "  depends_on = [rack_volume.disk]\n",
        )
    };
    format!(
        r#"
resource "rack_volume" "disk" {{
  for_each    = {vms}
  hypervisor  = each.value
  pool        = "{POOL}"
  name        = "${{each.key}}.qcow2"
  base_volume = "{BASE}"
}}

resource "rack_vm" "vm" {{
  for_each   = {vms}
  hypervisor = each.value
  name       = each.key
  type       = "qemu"
  memory     = "{VM_MEMORY}"
  running    = false
{depends_on}
  disk {{
    pool   = "{POOL}"
    volume = {volume}
    format = "qcow2"
  }}
}}
"#
    )
}

/// `main.tf` of `form`, for the services at `at` (not used by `terraform_data`).
pub(super) fn main_tf(form: Form, at: &Endpoints) -> String {
    match form {
        Form::PerItem => format!(
            r#"{provider}
resource "rack_dns_record_set" "a" {{
  for_each = local.a
  zone     = "{FORWARD_ZONE}"
  name     = each.key
  type     = "A"
  ttl      = {TTL}
  records  = [each.value]
}}

resource "rack_dns_record_set" "ptr" {{
  for_each = local.ptr
  zone     = each.value.zone
  name     = each.value.name
  type     = "PTR"
  ttl      = {TTL}
  records  = ["${{each.key}}.{FORWARD_ZONE}"]
}}

resource "rack_dhcp_lease" "host" {{
  for_each = local.leases
  subnet   = "{SUBNET}"
  mac      = each.value.mac
  ip       = each.value.ip
  hostname = each.key
}}
{machines}{switch}"#,
            provider = provider_block(at),
            machines = machines("local.vms", true),
            switch = switch_ports("local.vms", "local.vlans")
        ),
        Form::Aggregate => format!(
            r#"{provider}
locals {{
  zone = jsondecode(file("${{path.module}}/{values}"))
}}

resource "rack_dns_records" "forward" {{
  for_each    = local.zone.a
  zone        = "{FORWARD_ZONE}"
  default_ttl = {TTL}
  records     = {{ for name, ip in each.value : "${{name}}/A" => {{ records = [ip] }} }}
}}

resource "rack_dns_records" "reverse" {{
  for_each    = local.zone.reverse
  zone        = each.key
  default_ttl = {TTL}
  records     = {{ for name, target in each.value : "${{name}}/PTR" => {{ records = [target] }} }}
}}

resource "rack_dhcp_reservations" "hosts" {{
  for_each     = local.zone.leases
  subnet       = "{SUBNET}"
  reservations = {{ for name, l in each.value : l.mac => {{ ip = l.ip, hostname = name }} }}
}}
{machines}{switch}"#,
            provider = provider_block(at),
            values = values_file(Form::Aggregate),
            machines = machines("local.zone.vms", false),
            switch = switch_ports("local.zone.vms", "local.zone.vlans")
        ),
        Form::Data => DATA_TF.to_owned(),
    }
}

/// The per-item form with `terraform_data` in place of each resource: the same keys, and
/// an `input` object of strings holding what the resource's arguments hold.
const DATA_TF: &str = r#"
resource "terraform_data" "a" {
  for_each = local.a
  input    = { zone = "farm.", name = each.key, type = "A", ttl = "300", record = each.value }
}

resource "terraform_data" "ptr" {
  for_each = local.ptr
  input    = { zone = each.value.zone, name = each.value.name, type = "PTR", ttl = "300", record = "${each.key}.farm." }
}

resource "terraform_data" "host" {
  for_each = local.leases
  input    = { subnet = "10.78.0.0/19", mac = each.value.mac, ip = each.value.ip, hostname = each.key }
}

resource "terraform_data" "disk" {
  for_each = local.vms
  input    = { hypervisor = each.value, pool = "zone", name = "${each.key}.qcow2", base_volume = "base.raw" }
}

resource "terraform_data" "vm" {
  for_each = local.vms
  input    = { hypervisor = each.value, name = each.key, memory = "64MiB", volume = terraform_data.disk[each.key].output.name }
}

resource "terraform_data" "vlan" {
  for_each = local.vlans
  input    = { bridge = "br0", name = each.key, tag = tostring(each.value) }
}

resource "terraform_data" "port" {
  for_each = local.vms
  input    = { bridge = "br0", name = each.key, vlan = terraform_data.vlan[each.value].output.name }
}
"#;

/// The `input` of every `terraform_data` of [`DATA_TF`], by resource name and key, as
/// [`locals`] and [`DATA_TF`] make them.
fn data_inputs(shape: &Shape) -> Vec<(&'static str, Vec<(String, Value)>)> {
    let a = (0..shape.a)
        .map(|i| {
            let input = json!({"zone": FORWARD_ZONE, "name": host(i), "type": "A",
                "ttl": TTL.to_string(), "record": address(i)});
            (host(i), input)
        })
        .collect();
    let ptr = (0..shape.ptr)
        .map(|i| {
            let (zone, name) = reverse(i);
            let input = json!({"zone": zone, "name": name, "type": "PTR",
                "ttl": TTL.to_string(), "record": format!("{}.{FORWARD_ZONE}", host(i))});
            (host(i), input)
        })
        .collect();
    let hosts = (0..shape.leases)
        .map(|i| {
            let (mac, ip, name) = lease(i);
            let input = json!({"subnet": SUBNET, "mac": mac, "ip": ip, "hostname": name});
            (name, input)
        })
        .collect();
    let (mut disks, mut vms, mut ports) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..shape.vms {
        let (name, hv) = vm(i, shape.hypervisors);
        ports.push((
            name.clone(),
            json!({"bridge": BRIDGE, "name": name, "vlan": hv}),
        ));
        let volume = format!("{name}.qcow2");
        disks.push((
            name.clone(),
            json!({"hypervisor": hv, "pool": POOL, "name": volume, "base_volume": BASE}),
        ));
        vms.push((
            name.clone(),
            json!({"hypervisor": hv, "name": name, "memory": VM_MEMORY, "volume": volume}),
        ));
    }
    let vlans = vlans(shape)
        .into_iter()
        .map(|(name, tag)| {
            let input = json!({"bridge": BRIDGE, "name": name, "tag": tag.to_string()});
            (name, input)
        })
        .collect();
    vec![
        ("a", a),
        ("ptr", ptr),
        ("host", hosts),
        ("disk", disks),
        ("vm", vms),
        ("vlan", vlans),
        ("port", ports),
    ]
}

/// The cty type of an object of strings, as state files write it.
fn string_object_type(value: &Value) -> Value {
    let fields: Map<String, Value> = value
        .as_object()
        .map(|m| {
            m.keys()
                .map(|k| (k.clone(), Value::from("string")))
                .collect()
        })
        .unwrap_or_default();
    json!(["object", fields])
}

/// A state file (format version 4) holding `resources`.
fn state_file(resources: Vec<Value>) -> String {
    json!({
        "version": 4,
        "terraform_version": "1.15.5",
        "serial": 1,
        "lineage": lineage(),
        "outputs": {},
        "resources": resources,
        "check_results": null
    })
    .to_string()
}

/// A fresh lineage (a UUID from the kernel).
fn lineage() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "00000000-0000-4000-8000-000000000000".to_owned())
}

/// One managed resource of a state file.
fn state_resource(rtype: &str, name: &str, provider: &str, instances: Vec<Value>) -> Value {
    json!({
        "mode": "managed",
        "type": rtype,
        "name": name,
        "provider": provider,
        "instances": instances
    })
}

const BUILTIN: &str = "provider[\"terraform.io/builtin/terraform\"]";
const RACK: &str = "provider[\"terraform.local/rack/rack\"]";

/// The state of `shape`'s `terraform_data`, as `terraform apply` would leave it.
pub(super) fn data_state(shape: &Shape) -> String {
    let mut n = 0_u64;
    let resources = data_inputs(shape)
        .into_iter()
        .map(|(name, items)| {
            let instances = items
                .into_iter()
                .map(|(key, input)| {
                    n += 1;
                    let typed = json!({"value": input, "type": string_object_type(&input)});
                    let mut instance = json!({
                        "index_key": key,
                        "schema_version": 0,
                        "attributes": {
                            "id": format!("00000000-0000-4000-8000-{n:012x}"),
                            "input": typed,
                            "output": typed,
                            "triggers_replace": null
                        },
                        "sensitive_attributes": [],
                        "identity_schema_version": 0
                    });
                    let needs = match name {
                        "vm" => Some("disk"),
                        "port" => Some("vlan"),
                        _ => None,
                    };
                    if let Some(needs) = needs {
                        instance["dependencies"] = json!([format!("terraform_data.{needs}")]);
                    }
                    instance
                })
                .collect();
            state_resource("terraform_data", name, BUILTIN, instances)
        })
        .collect();
    state_file(resources)
}

/// One per-item instance: its attributes and identity.
fn rack_instance(key: &str, attributes: Value, identity: Value) -> Value {
    json!({
        "index_key": key,
        "schema_version": 0,
        "attributes": attributes,
        "sensitive_attributes": [],
        "identity_schema_version": 0,
        "identity": identity
    })
}

/// A record set's state as rack writes it.
fn record_set(key: &str, zone: &str, name: &str, rtype: &str, record: &str) -> Value {
    let fqdn = format!("{name}.{zone}");
    rack_instance(
        key,
        json!({
            "fqdn": fqdn,
            "id": format!("{zone}/{name}/{rtype}"),
            "name": name,
            "records": [record],
            "server": "default",
            "ttl": TTL,
            "type": rtype,
            "zone": zone
        }),
        json!({"name": name, "server": "default", "type": rtype, "zone": zone}),
    )
}

/// The state of `shape` in the per-item form: the record sets and leases written as
/// rack's import would write them; the volumes and VMs (whose state holds what libvirt
/// made: UUIDs, paths), the switch's VLANs and ports taken from `applied`, the state the
/// aggregate form's apply left, since both forms declare them alike.
pub(super) fn per_item_state(shape: &Shape, applied: &str) -> anyhow::Result<String> {
    let a = (0..shape.a)
        .map(|i| record_set(&host(i), FORWARD_ZONE, &host(i), "A", &address(i)))
        .collect();
    let ptr = (0..shape.ptr)
        .map(|i| {
            let (zone, name) = reverse(i);
            let target = format!("{}.{FORWARD_ZONE}", host(i));
            record_set(&host(i), &zone, &name, "PTR", &target)
        })
        .collect();
    let leases = (0..shape.leases)
        .map(|i| {
            let (mac, ip, name) = lease(i);
            rack_instance(
                &name,
                json!({
                    "boot_file": null,
                    "client_classes": null,
                    "client_id": null,
                    "hostname": name,
                    "id": format!("default/{SUBNET}/{mac}"),
                    "ip": ip,
                    "mac": mac,
                    "next_server": null,
                    "options": null,
                    "server": "default",
                    "subnet": SUBNET
                }),
                json!({"client_id": null, "mac": mac, "server": "default", "subnet": SUBNET}),
            )
        })
        .collect();
    let mut resources = vec![
        state_resource("rack_dns_record_set", "a", RACK, a),
        state_resource("rack_dns_record_set", "ptr", RACK, ptr),
        state_resource("rack_dhcp_lease", "host", RACK, leases),
    ];
    let applied: Value = serde_json::from_str(applied).context("The applied state is not JSON")?;
    let machines: HashSet<String> = (0..shape.vms).map(|i| vm(i, shape.hypervisors).0).collect();
    let switch_vlans: HashSet<String> = vlans(shape).into_iter().map(|(name, _)| name).collect();
    for (rtype, name, keep) in [
        ("rack_volume", "disk", &machines),
        ("rack_vm", "vm", &machines),
        ("rack_switch_vlan", "hv", &switch_vlans),
        ("rack_switch_port", "vm", &machines),
    ] {
        let resource = applied["resources"]
            .as_array()
            .and_then(|l| l.iter().find(|r| r["type"] == rtype && r["name"] == name))
            .ok_or_else(|| anyhow!("The applied state has no {rtype}.{name}"))?;
        let mut resource = resource.clone();
        if let Some(instances) = resource["instances"].as_array_mut() {
            instances.retain(|inst| inst["index_key"].as_str().is_some_and(|k| keep.contains(k)));
            if instances.len() != keep.len() {
                bail!(
                    "The applied state holds {} of the {} {rtype}.{name} instances",
                    instances.len(),
                    keep.len()
                );
            }
        }
        resources.push(resource);
    }
    Ok(state_file(resources))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_full_zone_has_the_issue_s_shape() {
        let s = Shape::of(10_000, 3).unwrap();
        assert_eq!(
            (s.a, s.ptr, s.leases, s.vms, s.ports, s.vlans),
            (4000, 4000, 1500, 250, 250, 3)
        );
        assert_eq!(s.resources(), 10_253);
        assert_eq!(s.reverse_zones(), 16);
        assert_eq!(s.subset(1000).unwrap().resources(), 1028);
        assert_eq!(s.subset(3000).unwrap().resources(), 3078);
        assert!(s.subset(20_000).is_err());
        assert_eq!(reverse(0), ("0.20.10.in-addr.arpa.".into(), "1".into()));
        assert_eq!(reverse(3999).0, "15.20.10.in-addr.arpa.");
        assert_eq!(address(3999), "10.20.15.250");
        assert_eq!(vm(4, 3), ("vm004".into(), "hv1".into()));
    }

    #[test]
    fn locals_and_states_agree() {
        let s = Shape::of(100, 3).unwrap();
        let locals: Value = serde_json::from_str(&locals(&s, Form::Aggregate)).unwrap();
        assert_eq!(locals["a"]["0"].as_object().unwrap().len(), s.a);
        assert_eq!(
            locals["reverse"]["0.20.10.in-addr.arpa."]["1"],
            "n00000.farm."
        );
        let full: Value = serde_json::from_str(&super::locals(
            &Shape::of(10_000, 3).unwrap(),
            Form::Aggregate,
        ))
        .unwrap();
        for (kind, groups, entries) in [("a", 16, 4000), ("reverse", 16, 4000), ("leases", 6, 1500)]
        {
            let groups_of = full[kind].as_object().unwrap();
            assert_eq!(groups_of.len(), groups, "{kind}");
            let sizes: Vec<usize> = groups_of
                .values()
                .map(|g| g.as_object().unwrap().len())
                .collect();
            assert!(sizes.iter().all(|&n| n <= ENTRIES_PER_RESOURCE), "{kind}");
            assert_eq!(sizes.iter().sum::<usize>(), entries, "{kind}");
        }
        assert_eq!(full["a"]["15"]["n03999"], "10.20.15.250");
        assert_eq!(full["vlans"]["hv2"], 102);
        let data: Value = serde_json::from_str(&data_state(&s)).unwrap();
        let count: usize = data["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["instances"].as_array().unwrap().len())
            .sum();
        assert_eq!(count, s.resources());
        let vm = &data["resources"][4]["instances"][0]["attributes"]["input"];
        assert_eq!(vm["value"]["volume"], "vm000.qcow2");
        assert_eq!(vm["type"][1]["volume"], "string");
        let port = &data["resources"][6]["instances"][1];
        assert_eq!(port["attributes"]["input"]["value"]["vlan"], "hv1");
        assert_eq!(port["dependencies"][0], "terraform_data.vlan");
        assert_eq!(
            data["resources"][5]["instances"][0]["attributes"]["input"]["value"]["tag"],
            "100"
        );

        let machines =
            json!([{"index_key": "vm000"}, {"index_key": "vm001"}, {"index_key": "vm002"}]);
        let applied = json!({"resources": [
            {"type": "rack_volume", "name": "disk", "instances": machines},
            {"type": "rack_vm", "name": "vm", "instances": machines},
            {"type": "rack_switch_vlan", "name": "hv", "instances": [{"index_key": "hv0"}, {"index_key": "hv1"}, {"index_key": "hv2"}]},
            {"type": "rack_switch_port", "name": "vm", "instances": machines}
        ]});
        let small = s.subset(80).unwrap();
        let state: Value =
            serde_json::from_str(&per_item_state(&small, &applied.to_string()).unwrap()).unwrap();
        let ptr = &state["resources"][1]["instances"][0];
        assert_eq!(ptr["attributes"]["id"], "0.20.10.in-addr.arpa./1/PTR");
        assert_eq!(ptr["attributes"]["fqdn"], "1.0.20.10.in-addr.arpa.");
        assert_eq!(ptr["identity"]["name"], "1");
        assert_eq!(
            state["resources"][4]["instances"].as_array().unwrap().len(),
            2
        );
        assert_eq!(state["resources"][5]["type"], "rack_switch_vlan");
        assert_eq!(
            state["resources"][5]["instances"].as_array().unwrap().len(),
            3
        );
        assert_eq!(
            state["resources"][6]["instances"].as_array().unwrap().len(),
            2
        );
        let more = Shape::of(200, 3).unwrap();
        assert!(per_item_state(&more, &applied.to_string()).is_err());
        assert!(DATA_TF.contains(&format!("subnet = \"{SUBNET}\"")));
        assert!(DATA_TF.contains(&format!("zone = \"{FORWARD_ZONE}\"")));
        assert!(DATA_TF.contains(&format!("bridge = \"{BRIDGE}\"")));
        let at = Endpoints {
            hypervisors: vec!["qemu+tcp://a/system".into()],
            switch: "tcp:127.0.0.1:6640".into(),
        };
        for form in [Form::PerItem, Form::Aggregate] {
            let tf = main_tf(form, &at);
            assert!(tf.contains("address = \"tcp:127.0.0.1:6640\""), "{form:?}");
            assert!(
                tf.contains("resource \"rack_switch_port\" \"vm\""),
                "{form:?}"
            );
        }
    }
}
