//! Adopting records that exist already: records added out of band with nsupdate ->
//! `terraform query` lists them -> `-generate-config-out` writes resources and import
//! blocks -> applying that imports them without a single write to the server -> the plan
//! is empty. And an `import` block by identity.

use serde_json::Value;

use crate::dns_common::{PROVIDER, start_named};

/// The records an operator created by hand before using rack.
const HAND_MADE: &str = "\
update add web.farm. 300 IN A 10.10.60.2
update add web.farm. 300 IN AAAA 2001:db8::2
update add mail.farm. 300 IN A 10.10.60.25
update add farm. 300 IN MX 10 mail.farm.
update add www.farm. 300 IN CNAME web.farm.
update add info.farm. 300 IN TXT \"v=spf1 mx -all\" \"second string\"
update add _ldap._tcp.farm. 600 IN SRV 0 5 389 web.farm.";

/// What `terraform query` should list for [`HAND_MADE`] plus the fixture's own
/// `ns1.farm. A` (the zone's SOA and apex NS belong to the zone, not to record sets).
const LISTED: [&str; 8] = [
    "_ldap._tcp.farm. SRV",
    "farm. MX",
    "info.farm. TXT",
    "mail.farm. A",
    "ns1.farm. A",
    "web.farm. A",
    "web.farm. AAAA",
    "www.farm. CNAME",
];

const QUERY: &str = r#"list "rack_dns_record_set" "farm" {
  provider = rack

  config {
    zone = "farm."
  }
}
"#;

/// An `import` block adopting the A record set `name` of `farm.` by its identity, and
/// the resource `label` it imports into; `rest` holds the resource's lines after `type`.
fn import_by_identity(label: &str, name: &str, rest: &str) -> String {
    format!(
        r#"{PROVIDER}
import {{
  to       = rack_dns_record_set.{label}
  identity = {{
    zone = "farm."
    name = "{name}"
    type = "A"
  }}
}}

resource "rack_dns_record_set" "{label}" {{
  zone    = "farm."
  name    = "{name}"
  type    = "A"
{rest}}}
"#
    )
}

/// The `list_resource_found` messages of `terraform query -json`.
fn found(messages: &[Value]) -> Vec<&Value> {
    messages
        .iter()
        .filter(|m| m["type"] == "list_resource_found")
        .collect()
}

#[test]
fn query_and_generated_config_adopt_hand_made_records() {
    let (_named, server) = start_named();
    server.nsupdate(HAND_MADE);
    let wd = server.workdir();
    wd.write_main(PROVIDER);
    wd.write_file("farm.tfquery.hcl", QUERY);

    let messages = wd.query_json();
    let mut listed: Vec<String> = found(&messages)
        .iter()
        .map(|m| {
            m.pointer("/list_resource_found/display_name")
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("no display_name in {m}"))
                .to_string()
        })
        .collect();
    listed.sort();
    assert_eq!(listed, LISTED, "terraform query -json:\n{messages:#?}");
    let web = found(&messages)
        .into_iter()
        .find(|m| m.pointer("/list_resource_found/display_name") == Some(&"web.farm. A".into()))
        .expect("web.farm. A listed");
    assert_eq!(
        web.pointer("/list_resource_found/identity"),
        Some(
            &serde_json::json!({"server": "default", "zone": "farm.", "name": "web", "type": "A"})
        ),
        "{web:#}"
    );

    // The human-readable listing names them too.
    let text = wd.query();
    for line in LISTED {
        assert!(text.stdout.contains(line), "{line} missing:\n{text}");
    }

    let out = wd
        .run(&["query", "-no-color", "-generate-config-out=generated.tf"])
        .success();
    let generated = std::fs::read_to_string(wd.path().join("generated.tf"))
        .unwrap_or_else(|e| panic!("no generated.tf ({e})\n{out}"));
    assert_eq!(
        generated
            .matches("resource \"rack_dns_record_set\"")
            .count(),
        LISTED.len(),
        "{generated}"
    );
    assert_eq!(
        generated.matches("import {").count(),
        LISTED.len(),
        "{generated}"
    );
    assert!(generated.contains("identity"), "{generated}");
    assert!(generated.contains("\"10.10.60.2\""), "{generated}");

    // Applying the generated configuration imports, and writes nothing.
    let zone_before = server.axfr("farm.");
    let out = wd.apply();
    assert!(
        out.stdout.contains(&format!(
            "{} imported, 0 added, 0 changed, 0 destroyed",
            LISTED.len()
        )),
        "{out}"
    );
    assert_eq!(
        server.axfr("farm."),
        zone_before,
        "adoption changed the zone"
    );
    wd.assert_plan_empty();

    // Once adopted, the records are managed: a change in the generated file applies.
    let changed = generated.replace("\"10.10.60.2\"", "\"10.10.60.3\"");
    wd.write_file("generated.tf", &changed);
    wd.apply();
    assert_eq!(server.dig("web.farm.", "A"), ["10.10.60.3"]);
    wd.assert_plan_empty();
}

#[test]
fn import_block_by_identity() {
    let (_named, server) = start_named();
    server.nsupdate(
        "update add db.farm. 300 IN A 10.10.60.30\nupdate add db.farm. 300 IN A 10.10.60.31",
    );
    let wd = server.workdir();
    wd.write_main(&import_by_identity(
        "db",
        "db",
        "  ttl     = 300\n  records = [\"10.10.60.31\", \"10.10.60.30\"]\n",
    ));
    let plan = wd.plan();
    let change = plan
        .json
        .get("resource_changes")
        .and_then(Value::as_array)
        .and_then(|c| c.iter().find(|c| c["address"] == "rack_dns_record_set.db"))
        .unwrap_or_else(|| panic!("no change for the import\n{}", plan.run))
        .clone();
    assert_eq!(
        change.pointer("/change/actions"),
        Some(&serde_json::json!(["no-op"])),
        "{change:#}"
    );
    assert!(change.pointer("/change/importing").is_some(), "{change:#}");

    let zone_before = server.axfr("farm.");
    let out = wd.apply();
    assert!(
        out.stdout
            .contains("1 imported, 0 added, 0 changed, 0 destroyed"),
        "{out}"
    );
    assert_eq!(
        server.axfr("farm."),
        zone_before,
        "the import changed the zone"
    );
    let state = wd.resource_values("rack_dns_record_set.db");
    assert_eq!(state["id"], "farm./db/A");
    assert_eq!(state["fqdn"], "db.farm.");
    wd.assert_plan_empty();

    // An identity naming nothing fails and says what it looked for.
    wd.write_main(&import_by_identity(
        "none",
        "nothing-here",
        "  records = [\"10.10.60.99\"]\n",
    ));
    let out = wd.plan_fails();
    assert!(
        out.stderr.contains("nothing-here.farm."),
        "the error should name the missing record set:\n{}",
        out.stderr
    );
}
