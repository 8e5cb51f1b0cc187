//! `rack_dns_zone` against a real BIND (rndc) and a real PowerDNS (HTTP API): create ->
//! dig answers -> plan is empty -> import gives the same state -> SOA and NS change in
//! place -> out-of-band changes show in plan -> destroy refuses while unmanaged records are
//! left, `force_destroy` deletes -> nothing is left. Also the zone and record set data
//! sources. Secrets reach Terraform as TF_VAR_ variables, never in .tf text.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use rack_acceptance_tests::{Workdir, run_command};

use crate::dns_common::nsupdate;
use crate::dns_record_set::workdir as env_workdir;
use rack_lab::{Named, PowerDns};

const TF_HEADER: &str = r#"
terraform {
  required_providers {
    rack = { source = "terraform.local/rack/rack" }
  }
}

variable "tsig_secret" {
  type      = string
  sensitive = true
}

variable "admin_secret" {
  type      = string
  sensitive = true
}
"#;

/// TSIG key stored in PowerDNS for the PowerDNS test.
const PDNS_KEY: &str = "rack-tsig";
const PDNS_SECRET: &str = "cmFjay10c2lnLXNlY3JldC1mb3ItcG93ZXJkbnMtdGVzdA==";

/// `dig +short` at `addr`: the answer lines, sorted.
fn dig(addr: SocketAddr, name: &str, rtype: &str) -> Vec<String> {
    let out = Command::new("dig")
        .args([
            &format!("@{}", addr.ip()),
            "-p",
            &addr.port().to_string(),
            "+short",
            "+norecurse",
            name,
            rtype,
        ])
        .output()
        .expect("dig is missing: install the Debian package bind9-dnsutils");
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect();
    lines.sort();
    lines
}

/// The SOA fields dig shows: mname rname serial refresh retry expire minimum.
fn soa(addr: SocketAddr, zone: &str) -> Vec<String> {
    let lines = dig(addr, zone, "SOA");
    assert_eq!(lines.len(), 1, "one SOA for {zone}: {lines:?}");
    lines[0].split_whitespace().map(str::to_string).collect()
}

fn serial(fields: &[String]) -> u64 {
    fields[2].parse().expect("numeric serial")
}

fn named_key(named: &Named) -> String {
    format!(
        "{}:{}:{}",
        named.tsig.algorithm, named.tsig.name, named.tsig.secret
    )
}

/// A workdir with the variables `tsig_secret` and `admin_secret`, and the provider
/// configuration whose one DNS server is `server`, with the attribute and block lines
/// `body`.
fn zone_workdir(
    tsig_secret: &str,
    admin_secret: &str,
    server: &str,
    body: &str,
) -> (Workdir, String) {
    let mut wd = Workdir::new();
    wd.set_env("TF_VAR_tsig_secret", tsig_secret);
    wd.set_env("TF_VAR_admin_secret", admin_secret);
    let provider = format!(
        r#"{TF_HEADER}
provider "rack" {{
  dns {{
    server "{server}" {{
{body}    }}
  }}
}}
"#
    );
    (wd, provider)
}

/// A workdir whose provider manages zones on `pdns` through its API, sending updates to
/// `addr` signed with the key `key_name` (whose secret PowerDNS holds too), and the
/// provider configuration.
pub(crate) fn pdns_workdir(
    pdns: &PowerDns,
    addr: SocketAddr,
    key_name: &str,
    secret: &str,
) -> (Workdir, String) {
    let url = &pdns.api_url;
    let body = format!(
        r#"      address    = "{addr}"
      key_name   = "{key_name}"
      key_secret = var.tsig_secret
      powerdns {{
        url     = "{url}"
        api_key = var.admin_secret
      }}
"#
    );
    zone_workdir(secret, &pdns.api_key, "pdns", &body)
}

/// A workdir whose provider manages zones on `named` through rndc.
pub(crate) fn bind_workdir(named: &Named) -> (Workdir, String) {
    let body = format!(
        r#"      address        = "{dns}"
      key_name       = "{key}"
      key_secret     = var.tsig_secret
      zone_directory = "{dir}"
      rndc {{
        address  = "{rndc}"
        key_name = "{rndc_key}"
        secret   = var.admin_secret
      }}
"#,
        dns = named.dns_addr,
        key = named.tsig.name,
        dir = named.zone_dir.display(),
        rndc = named.rndc_addr,
        rndc_key = named.rndc_key.name,
    );
    let (tsig, rndc) = (&named.tsig.secret, &named.rndc_key.secret);
    zone_workdir(tsig, rndc, "primary", &body)
}

/// The zone `lab.` with an SOA refresh of `refresh`, `nameservers`, a TTL of 600, and
/// `force_destroy` when given.
fn lab_zone(refresh: u32, nameservers: &[&str], force_destroy: Option<bool>) -> String {
    let ns: Vec<String> = nameservers.iter().map(|n| format!("\"{n}\"")).collect();
    let force = force_destroy.map_or_else(String::new, |f| format!("  force_destroy = {f}\n"));
    format!(
        r#"resource "rack_dns_zone" "lab" {{
  name = "lab."
  soa = {{
    mname   = "ns1.farm."
    rname   = "hostmaster.farm."
    refresh = {refresh}
  }}
  nameservers   = [{ns}]
  ttl           = 600
{force}}}
"#,
        ns = ns.join(", "),
    )
}

fn zone_config(provider: &str, refresh: u32, nameservers: &[&str], force: bool) -> String {
    format!(
        r#"{provider}
{zone}
# Other spellings of the same names never show as a change.
resource "rack_dns_zone" "spelled" {{
  name = "Spelled.Test"
  soa = {{
    mname = "NS1.Farm"
    rname = "HostMaster.farm"
  }}
  nameservers = ["NS1.FARM", "ns2.farm."]
}}
"#,
        zone = lab_zone(refresh, nameservers, Some(force)),
    )
}

#[test]
fn zone_lifecycle_on_bind() {
    let named = Named::start().expect("start named");
    let addr = named.dns_addr;
    let (wd, provider) = bind_workdir(&named);
    let ns12 = ["ns1.farm.", "ns2.farm."];
    wd.write_main(&zone_config(&provider, 3600, &ns12, false));
    wd.apply();

    let first = soa(addr, "lab.");
    assert_eq!(
        first[..2],
        ["ns1.farm.", "hostmaster.farm."],
        "{first:?}\n{}",
        named.log_tail()
    );
    assert_eq!(first[3..], ["3600", "600", "1209600", "300"]);
    assert_eq!(dig(addr, "lab.", "NS"), ns12);
    assert_eq!(dig(addr, "spelled.test.", "NS"), ns12);
    let state = wd.resource_values("rack_dns_zone.lab");
    assert_eq!(state["serial"].as_u64(), Some(serial(&first)));
    assert_eq!(state["server"], "primary");
    wd.assert_plan_empty();

    // Import by ID, then by identity in an import block: the same state.
    wd.assert_import_same_state("rack_dns_zone.lab", "lab.", &[]);
    // Import by `server/zone` takes the server's spelling of the names.
    let spelled = wd.resource_values("rack_dns_zone.spelled");
    wd.state_rm("rack_dns_zone.spelled");
    wd.import("rack_dns_zone.spelled", "primary/Spelled.Test");
    let imported = wd.resource_values("rack_dns_zone.spelled");
    assert_eq!(imported["soa"]["mname"], "ns1.farm.");
    assert_eq!(imported["serial"], spelled["serial"]);
    // The configuration's spelling differs from the server's: an in-place change of state
    // only, which keeps the configuration's spelling from then on.
    wd.apply_planned(&[("rack_dns_zone.spelled", &["update"])]);
    assert_eq!(
        wd.resource_values("rack_dns_zone.spelled")["serial"],
        spelled["serial"]
    );
    wd.assert_plan_empty();
    wd.state_rm("rack_dns_zone.lab");
    wd.write_main(&format!(
        "{}\nimport {{\n  to       = rack_dns_zone.lab\n  identity = {{ name = \"lab.\" }}\n}}\n",
        zone_config(&provider, 3600, &ns12, false)
    ));
    let plan = wd.plan();
    assert!(
        plan.actions("rack_dns_zone.lab")
            .iter()
            .all(|a| a == "no-op"),
        "{:?}",
        plan.actions("rack_dns_zone.lab")
    );
    wd.apply();
    wd.write_main(&zone_config(&provider, 3600, &ns12, false));
    wd.assert_plan_empty();

    // SOA change in place: new refresh, higher serial.
    wd.write_main(&zone_config(&provider, 7200, &ns12, false));
    wd.apply_planned(&[("rack_dns_zone.lab", &["update"])]);
    let second = soa(addr, "lab.");
    assert_eq!(second[3], "7200");
    assert!(serial(&second) > serial(&first), "{first:?} -> {second:?}");
    wd.assert_plan_empty();

    // NS change in place.
    let ns13 = ["ns1.farm.", "ns3.farm."];
    wd.write_main(&zone_config(&provider, 7200, &ns13, false));
    wd.apply_planned(&[("rack_dns_zone.lab", &["update"])]);
    assert_eq!(dig(addr, "lab.", "NS"), ns13, "{}", named.log_tail());
    wd.assert_plan_empty();

    // Out-of-band changes of the NS set and the SOA show in plan; apply puts them back.
    nsupdate(
        addr,
        &named_key(&named),
        "update add lab. 600 IN NS ns9.farm.\nupdate add lab. 600 IN SOA ns1.farm. hostmaster.farm. 4000000000 7200 600 1209600 60",
    );
    wd.apply_planned(&[("rack_dns_zone.lab", &["update"])]);
    assert_eq!(dig(addr, "lab.", "NS"), ns13);
    assert_eq!(soa(addr, "lab.")[6], "300");
    wd.assert_plan_empty();

    // A record no resource manages blocks destroy, and the diagnostic names it.
    nsupdate(
        addr,
        &named_key(&named),
        "update add www.lab. 300 IN A 192.0.2.1",
    );
    let out = wd
        .run(&["destroy", "-auto-approve", "-input=false", "-no-color"])
        .failure();
    assert!(out.stderr.contains("www.lab. A"), "{}", out.stderr);
    assert!(out.stderr.contains("force_destroy"), "{}", out.stderr);
    assert_eq!(dig(addr, "lab.", "NS"), ns13, "zone deleted anyway");

    // force_destroy (an in-place change of state only), then destroy.
    wd.write_main(&zone_config(&provider, 7200, &ns13, true));
    wd.apply_planned(&[("rack_dns_zone.lab", &["update"])]);
    wd.destroy();
    wd.assert_destroyed();
    assert!(dig(addr, "lab.", "SOA").is_empty(), "lab. still served");
    assert!(dig(addr, "spelled.test.", "SOA").is_empty());
    assert!(
        !named.zone_dir.join("lab.db").exists(),
        "zone file left behind"
    );
    assert!(!named.zone_dir.join("spelled.test.db").exists());
}

#[test]
fn zone_deleted_out_of_band_is_recreated() {
    let named = Named::start().expect("start named");
    let (wd, provider) = bind_workdir(&named);
    let config = format!(
        r#"{provider}
resource "rack_dns_zone" "gone" {{
  name        = "gone."
  soa         = {{ mname = "ns1.farm.", rname = "hostmaster.farm." }}
  nameservers = ["ns1.farm."]
}}
"#
    );
    wd.write_main(&config);
    wd.apply();
    // Delete the zone behind Terraform's back with the rndc tool.
    let conf = named.dir().join("rndc-oob.conf");
    std::fs::write(
        &conf,
        format!(
            "key \"{}\" {{ algorithm {}; secret \"{}\"; }};\n",
            named.rndc_key.name, named.rndc_key.algorithm, named.rndc_key.secret
        ),
    )
    .expect("write rndc.conf");
    let out = Command::new("rndc")
        .arg("-c")
        .arg(&conf)
        .args([
            "-s",
            &named.rndc_addr.ip().to_string(),
            "-p",
            &named.rndc_addr.port().to_string(),
            "-y",
            &named.rndc_key.name,
            "delzone",
            "-clean",
            "gone.",
        ])
        .output()
        .expect("rndc is missing: install the Debian package bind9");
    assert!(
        out.status.success(),
        "rndc delzone: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    wd.apply_planned(&[("rack_dns_zone.gone", &["create"])]);
    assert_eq!(dig(named.dns_addr, "gone.", "NS"), ["ns1.farm."]);
    wd.destroy();
}

#[test]
fn zone_with_record_sets_applies_and_destroys() {
    let named = Named::start().expect("start named");
    let addr = named.dns_addr;
    let (wd, provider) = bind_workdir(&named);
    wd.write_main(&format!(
        r#"{provider}
resource "rack_dns_zone" "lab" {{
  name        = "lab."
  soa         = {{ mname = "ns1.farm.", rname = "hostmaster.farm." }}
  nameservers = ["ns1.farm."]
}}

resource "rack_dns_record_set" "web" {{
  zone    = rack_dns_zone.lab.name
  name    = "web"
  type    = "A"
  records = ["10.10.60.2"]
}}

resource "rack_dns_record_set" "mail" {{
  zone    = rack_dns_zone.lab.name
  name    = "@"
  type    = "MX"
  records = ["10 mail.farm."]
}}
"#
    ));
    wd.apply();
    assert_eq!(dig(addr, "web.lab.", "A"), ["10.10.60.2"]);
    assert_eq!(dig(addr, "lab.", "MX"), ["10 mail.farm."]);
    wd.assert_plan_empty();
    wd.destroy();
    wd.assert_destroyed();
    assert!(dig(addr, "lab.", "SOA").is_empty());
}

#[test]
fn zone_mistakes_are_caught_at_plan_time() {
    let named = Named::start().expect("start named");
    // RACK_DNS_* only: a server without rndc or powerdns.
    let wd = env_workdir(&named);
    wd.write_resources(
        r#"
resource "rack_dns_zone" "x" {
  name        = "x."
  soa         = { mname = "ns1.farm.", rname = "hostmaster.farm." }
  nameservers = ["ns1.farm."]
}
"#,
    );
    let out = wd.plan_fails();
    assert!(out.stderr.contains("no zone management"), "{}", out.stderr);
    assert!(out.stderr.contains("rndc"), "{}", out.stderr);

    let (wd, provider) = bind_workdir(&named);
    for (body, needle) in [
        (r#"nameservers = ["ns1.x."]"#, "inside zone x."),
        (r#"nameservers = []"#, "at least one name server"),
    ] {
        wd.write_main(&format!(
            "{provider}\nresource \"rack_dns_zone\" \"x\" {{\n  name = \"x.\"\n  soa = {{ mname = \"ns1.farm.\", rname = \"hostmaster.farm.\" }}\n  {body}\n}}\n"
        ));
        let out = wd.plan_fails();
        assert!(out.stderr.contains(needle), "{body}: {}", out.stderr);
    }
    wd.write_main(&format!(
        "{provider}\nresource \"rack_dns_zone\" \"x\" {{\n  name = \"x.\"\n  soa = {{ mname = \"ns1.farm.\", rname = \"hostmaster@farm\" }}\n  nameservers = [\"ns1.farm.\"]\n}}\n"
    ));
    let out = wd.plan_fails();
    assert!(out.stderr.contains("hostmaster.farm"), "{}", out.stderr);
}

#[test]
fn data_sources_read_a_zone_and_a_record_set() {
    let named = Named::start().expect("start named");
    nsupdate(
        named.dns_addr,
        &named_key(&named),
        "update add web.farm. 300 IN A 10.10.60.2\nupdate add web.farm. 300 IN A 10.10.60.3",
    );
    let wd = env_workdir(&named);
    wd.write_resources(
        r#"
data "rack_dns_zone" "farm" {
  name = "farm"
}

data "rack_dns_record_set" "web" {
  zone = "farm."
  name = "web"
  type = "A"
}

output "serial" {
  value = data.rack_dns_zone.farm.serial
}

output "soa" {
  value = data.rack_dns_zone.farm.soa
}

output "nameservers" {
  value = data.rack_dns_zone.farm.nameservers
}

output "web_in_zone" {
  value = [for s in data.rack_dns_zone.farm.record_sets : s.records if s.name == "web" && s.type == "A"]
}

output "web" {
  value = data.rack_dns_record_set.web
}
"#,
    );
    wd.apply();
    let outputs = wd.outputs();
    assert_eq!(outputs["serial"]["value"].as_u64(), Some(2));
    assert_eq!(outputs["soa"]["value"]["mname"], "ns1.farm.");
    assert_eq!(outputs["soa"]["value"]["refresh"], 3600);
    assert_eq!(
        outputs["nameservers"]["value"],
        serde_json::json!(["ns1.farm."])
    );
    assert_eq!(
        outputs["web_in_zone"]["value"],
        serde_json::json!([["10.10.60.2", "10.10.60.3"]])
    );
    let web = &outputs["web"]["value"];
    assert_eq!(web["fqdn"], "web.farm.");
    assert_eq!(web["ttl"], 300);
    assert_eq!(web["server"], "default");
    assert_eq!(
        web["records"],
        serde_json::json!(["10.10.60.2", "10.10.60.3"])
    );

    // A record set that does not exist is an error naming it.
    wd.write_resources(
        r#"
data "rack_dns_record_set" "none" {
  zone = "farm."
  name = "nothing"
  type = "AAAA"
}
"#,
    );
    let out = wd.plan_fails();
    assert!(
        out.stderr.contains("No AAAA records at nothing.farm."),
        "{}",
        out.stderr
    );
}

/// PowerDNS holding the TSIG key [`PDNS_KEY`].
pub(crate) fn pdns_with_key() -> PowerDns {
    let pdns = PowerDns::start().expect("start pdns_server");
    let mut cmd = Command::new("pdnsutil");
    cmd.arg(format!("--config-dir={}", pdns.dir().display()))
        .args(["import-tsig-key", PDNS_KEY, "hmac-sha256", PDNS_SECRET]);
    run_command(cmd, Duration::from_secs(60))
        .expect("pdnsutil is missing: install the Debian package pdns-server")
        .success();
    pdns
}

/// A workdir whose provider manages the zones of `pdns` from [`pdns_with_key`], sending
/// updates signed with that key, and the provider configuration.
pub(crate) fn pdns_zone_workdir(pdns: &PowerDns) -> (Workdir, String) {
    pdns_workdir(pdns, pdns.dns_addr, PDNS_KEY, PDNS_SECRET)
}

#[test]
fn zone_lifecycle_on_powerdns() {
    let pdns = pdns_with_key();
    let addr = pdns.dns_addr;
    let (wd, provider) = pdns_zone_workdir(&pdns);
    let config = |refresh: u32, ns: &str, with_record: bool| {
        let record = if with_record {
            r#"
resource "rack_dns_record_set" "web" {
  zone    = rack_dns_zone.lab.name
  name    = "web"
  type    = "A"
  records = ["10.10.60.2"]
}
"#
        } else {
            ""
        };
        format!(
            "{provider}\n{}{record}",
            lab_zone(refresh, &["ns1.farm.", ns], None)
        )
    };
    wd.write_main(&config(3600, "ns2.farm.", true));
    wd.apply();
    let first = soa(addr, "lab.");
    assert_eq!(
        first[3..],
        ["3600", "600", "1209600", "300"],
        "{}",
        pdns.log_tail()
    );
    assert_eq!(dig(addr, "lab.", "NS"), ["ns1.farm.", "ns2.farm."]);
    assert_eq!(dig(addr, "web.lab.", "A"), ["10.10.60.2"]);
    let state = wd.resource_values("rack_dns_zone.lab");
    assert_eq!(state["ttl"], 600, "NS TTL brought to the configured one");
    wd.assert_plan_empty();
    // The record set's creation moved the serial after the zone's state was written.
    wd.run(&["apply", "-refresh-only", "-auto-approve", "-no-color"])
        .success();
    wd.assert_import_same_state("rack_dns_zone.lab", "lab.", &[]);
    wd.assert_plan_empty();

    wd.write_main(&config(7200, "ns2.farm.", true));
    assert_eq!(wd.plan().actions("rack_dns_zone.lab"), ["update"]);
    wd.apply();
    let second = soa(addr, "lab.");
    assert_eq!(second[3], "7200", "{}", pdns.log_tail());
    assert!(serial(&second) > serial(&first), "{first:?} -> {second:?}");
    wd.assert_plan_empty();

    wd.write_main(&config(7200, "ns3.farm.", true));
    assert_eq!(wd.plan().actions("rack_dns_zone.lab"), ["update"]);
    wd.apply();
    assert_eq!(dig(addr, "lab.", "NS"), ["ns1.farm.", "ns3.farm."]);
    wd.assert_plan_empty();

    wd.destroy();
    wd.assert_destroyed();
    assert!(dig(addr, "lab.", "SOA").is_empty(), "lab. still served");
}
