//! `rack_dns_records`, many record sets of one zone as one resource, against a real BIND:
//! apply -> dig answers -> plan is empty -> entries added, changed and removed in place
//! -> changes and deletes made with nsupdate show in plan and are put back -> a change
//! made between plan and apply is refused, naming the entry -> import of the whole zone
//! -> destroy removes only its own keys, never the zone's other records.

use crate::dns_common::{PROVIDER, start_named};

/// A `rack_dns_records` named `name` of the zone `farm.` holding `entries`.
fn records(name: &str, entries: &str) -> String {
    format!(
        r#"resource "rack_dns_records" "{name}" {{
  zone        = "farm."
  default_ttl = 600
  records = {{
{entries}
  }}
}}
"#
    )
}

fn config(entries: &str) -> String {
    format!("{PROVIDER}\n{}", records("farm", entries))
}

const FIRST: &str = r#"    "www/A"    = { records = ["10.10.60.2", "10.10.60.3"] }
    "api/A"    = { ttl = 300, records = ["10.10.60.4"] }
    "txt/TXT"  = { records = ["\"hello world\""] }
    "@/MX"     = { records = ["10 mail.farm."] }
    "mail/A"   = { records = ["10.10.60.25"] }"#;

const SECOND: &str = r#"    "www/A"    = { records = ["10.10.60.2"] }
    "api/A"    = { ttl = 300, records = ["10.10.60.4"] }
    "@/MX"     = { records = ["10 mail.farm."] }
    "mail/A"   = { records = ["10.10.60.25"] }
    "v6/AAAA"  = { records = ["2001:db8::7"] }"#;

#[test]
fn records_lifecycle_owning_only_its_keys() {
    let (_named, server) = start_named();
    server.nsupdate("update add other.farm. 300 IN A 10.10.60.99");
    let wd = server.workdir();
    wd.write_main(&config(FIRST));
    wd.apply();
    assert_eq!(server.dig("www.farm.", "A"), ["10.10.60.2", "10.10.60.3"]);
    assert_eq!(server.dig("txt.farm.", "TXT"), ["\"hello world\""]);
    assert_eq!(server.dig("farm.", "MX"), ["10 mail.farm."]);
    wd.assert_plan_empty();

    // One resource updated in place: an entry changed, one removed, one added.
    wd.write_main(&config(SECOND));
    wd.apply_planned(&[("rack_dns_records.farm", &["update"])]);
    assert_eq!(server.dig("www.farm.", "A"), ["10.10.60.2"]);
    assert!(server.dig("txt.farm.", "TXT").is_empty());
    assert_eq!(server.dig("v6.farm.", "AAAA"), ["2001:db8::7"]);
    assert_eq!(
        server.dig("other.farm.", "A"),
        ["10.10.60.99"],
        "not its key"
    );
    wd.assert_plan_empty();

    // Out of band: a changed entry and a deleted one show in plan; apply puts them back.
    server.nsupdate(
        "update delete www.farm. A\nupdate add www.farm. 600 IN A 10.10.60.50\n\
         update delete v6.farm. AAAA",
    );
    let plan = wd.plan();
    assert!(plan.has_changes, "drift not seen\n{}", plan.run);
    assert!(
        plan.run.stdout.contains("www/A") && plan.run.stdout.contains("v6/AAAA"),
        "the plan names the entries\n{}",
        plan.run
    );
    wd.apply();
    assert_eq!(server.dig("www.farm.", "A"), ["10.10.60.2"]);
    assert_eq!(server.dig("v6.farm.", "AAAA"), ["2001:db8::7"]);
    wd.assert_plan_empty();

    // A change made between plan and apply is refused, naming the entry, not clobbered.
    wd.write_main(&config(&SECOND.replace("10.10.60.4", "10.10.60.5")));
    wd.save_plan("saved.tfplan");
    server.nsupdate("update delete api.farm. A\nupdate add api.farm. 300 IN A 10.10.60.77");
    let out = wd.apply_saved("saved.tfplan").failure();
    let text = out.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains("api.farm.") && text.contains("changed outside Terraform"),
        "{out}"
    );
    assert_eq!(server.dig("api.farm.", "A"), ["10.10.60.77"], "clobbered");
    wd.apply();
    assert_eq!(server.dig("api.farm.", "A"), ["10.10.60.5"]);
    wd.assert_plan_empty();

    // Import takes the whole zone (but its SOA and apex NS), records made elsewhere too.
    let adopter = server.workdir();
    adopter.write_main(&format!(
        "{PROVIDER}\nresource \"rack_dns_records\" \"farm\" {{\n  zone = \"farm.\"\n  records = {{}}\n}}\n"
    ));
    adopter.import("rack_dns_records.farm", "farm.");
    let imported = adopter.resource_values("rack_dns_records.farm");
    let records = imported["records"].as_object().expect("records is a map");
    for (key, want) in [
        ("www/A", "10.10.60.2"),
        ("api/A", "10.10.60.5"),
        ("v6/AAAA", "2001:db8::7"),
        ("other/A", "10.10.60.99"),
        ("@/MX", "10 mail.farm."),
    ] {
        assert_eq!(
            records[key]["records"],
            serde_json::json!([want]),
            "{key} in {imported:#}"
        );
    }
    assert!(
        !records.contains_key("@/SOA") && !records.contains_key("@/NS"),
        "the zone's own record sets were imported: {imported:#}"
    );
    assert_eq!(records["api/A"]["ttl"], 300, "{imported:#}");

    // terraform query finds the zone as one item.
    adopter.write_file(
        "farm.tfquery.hcl",
        "list \"rack_dns_records\" \"farm\" {\n  provider = rack\n  config {\n    zone = \"farm.\"\n  }\n}\n",
    );
    assert_eq!(adopter.query_display_names(), ["records of farm."]);

    // Destroy removes its own keys only.
    wd.destroy();
    assert!(server.dig("www.farm.", "A").is_empty());
    assert!(server.dig("farm.", "MX").is_empty());
    assert_eq!(server.dig("other.farm.", "A"), ["10.10.60.99"]);
}

/// Two `rack_dns_records` of one zone, `a` holding `a_entries` and `b` `b_entries`.
fn two(a_entries: &str, b_entries: &str) -> String {
    format!(
        "{PROVIDER}\n{}{}",
        records("a", a_entries),
        records("b", b_entries)
    )
}

/// Terraform applies the two resources in either order. When the new holder goes first,
/// its write finds the record set still there and is refused with a diagnostic saying so;
/// the old holder's removal goes through, and the next apply completes the move.
#[test]
fn an_entry_moved_between_two_resources_converges() {
    let (_named, server) = start_named();
    let wd = server.workdir();
    let www = r#"    "www/A" = { records = ["10.10.60.2"] }"#;
    let api = r#"    "api/A" = { records = ["10.10.60.4"] }"#;
    wd.write_main(&two(&format!("{www}\n{api}"), ""));
    wd.apply();
    wd.assert_plan_empty();

    // `www` leaves `a` for `b`, with another address.
    let www2 = r#"    "www/A" = { records = ["10.10.60.3"] }"#;
    wd.write_main(&two(api, www2));
    let first = wd.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    if !first.succeeded() {
        let said = first.combined();
        assert!(
            said.contains("www.farm. A exists already") && said.contains("apply again"),
            "{said}"
        );
        wd.apply();
    }
    assert_eq!(server.dig("www.farm.", "A"), ["10.10.60.3"]);
    assert_eq!(server.dig("api.farm.", "A"), ["10.10.60.4"]);
    wd.assert_plan_empty();
}
