//! Every record type `rack_dns_record_set` supports, against a real BIND: apply -> dig
//! shows the normalised data -> the plan is empty although the configuration spells the
//! data differently (case, relative names, uncompressed IPv6) -> destroy leaves only
//! the zone's own records. And a PTR in a reverse zone named with the provider functions.

use crate::dns_common::{
    PROVIDER, Server, add_bind_zone, hcl_list, record_set, record_set_with, start_named,
};
use rack_lab::Named;

/// A TXT string longer than one 255-byte `<character-string>`.
fn long_text() -> String {
    "0123456789".repeat(30)
}

/// One record set per type, each written in a spelling BIND normalises differently.
fn config() -> String {
    let long = format!("\"{}\"", long_text());
    let depends_on = |what: &str| format!("  depends_on = [{what}]\n");
    [
        PROVIDER.to_owned(),
        record_set("a", "farm.", "Host", "A", &["10.10.60.3", "10.10.60.2"]),
        record_set(
            "aaaa",
            "farm",
            "host",
            "AAAA",
            &[
                "2001:0DB8:0000:0000:0000:0000:0000:0010",
                "2001:db8:0:0:1:0:0:1",
            ],
        ),
        record_set("cname", "farm.", "WWW", "CNAME", &["HOST"]),
        // BIND refuses an MX or NS whose in-zone target has no address
        // (check-integrity), so the targets come first.
        r#"
resource "rack_dns_record_set" "mail" {
  for_each = { mail = "10.10.60.25", mail2 = "10.10.60.26" }
  zone     = "farm."
  name     = each.key
  type     = "A"
  records  = [each.value]
}
"#
        .to_owned(),
        record_set_with(
            "mx",
            "farm.",
            "@",
            "MX",
            &hcl_list(&["10 MAIL.FARM.", "20 mail2"]),
            &depends_on("rack_dns_record_set.mail"),
        ),
        record_set_with(
            "ns",
            "farm.",
            "sub",
            "NS",
            &hcl_list(&["ns1.sub", "NS2.Sub.Farm."]),
            &depends_on("rack_dns_record_set.glue1, rack_dns_record_set.glue2"),
        ),
        record_set("glue1", "farm.", "ns1.sub", "A", &["10.10.61.1"]),
        record_set("glue2", "farm.", "ns2.sub.farm.", "A", &["10.10.61.2"]),
        record_set("ptr", "farm.", "alias", "PTR", &["Host"]),
        record_set_with(
            "srv",
            "farm.",
            "_ldap._tcp",
            "SRV",
            &hcl_list(&["0 5 389 host", "10 5 389 BACKUP.farm."]),
            "  ttl     = 600\n",
        ),
        record_set(
            "txt",
            "farm.",
            "txt",
            "TXT",
            &[r#""v=spf1 -all""#, r#""two" "strings""#, &long, "unquoted"],
        ),
        record_set(
            "caa",
            "farm.",
            "@",
            "CAA",
            &[
                r#"0 issue "letsencrypt.org""#,
                r#"128 iodef "mailto:ops@farm.example""#,
            ],
        ),
        record_set(
            "sshfp",
            "farm.",
            "host",
            "SSHFP",
            &["4 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"],
        ),
        record_set(
            "tlsa",
            "farm.",
            "_443._tcp.host",
            "TLSA",
            &["3 1 1 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"],
        ),
        record_set(
            "naptr",
            "farm.",
            "sip",
            "NAPTR",
            &[r#"100 10 "U" "E2U+sip" "!^.*$!sip:info@farm.example!" ."#],
        ),
        record_set("dname", "farm.", "old", "DNAME", &["New"]),
        record_set(
            "svcb",
            "farm.",
            "_dns.resolver",
            "SVCB",
            &["1 Host alpn=h2,h3 port=8443"],
        ),
        record_set(
            "https",
            "farm.",
            "web",
            "HTTPS",
            &["1 . alpn=h2 port=443", "0 host.farm."],
        ),
    ]
    .concat()
}

#[test]
fn every_record_type() {
    let (_named, server) = start_named();
    let wd = server.workdir();
    wd.write_main(&config());
    wd.apply();

    let long = long_text();
    let expected: Vec<(&str, &str, Vec<String>)> = vec![
        (
            "host.farm.",
            "A",
            vec!["10.10.60.2".into(), "10.10.60.3".into()],
        ),
        (
            "host.farm.",
            "AAAA",
            vec!["2001:db8::10".into(), "2001:db8::1:0:0:1".into()],
        ),
        ("www.farm.", "CNAME", vec!["host.farm.".into()]),
        (
            "farm.",
            "MX",
            vec!["10 mail.farm.".into(), "20 mail2.farm.".into()],
        ),
        ("alias.farm.", "PTR", vec!["host.farm.".into()]),
        (
            "_ldap._tcp.farm.",
            "SRV",
            vec!["0 5 389 host.farm.".into(), "10 5 389 backup.farm.".into()],
        ),
        (
            "txt.farm.",
            "TXT",
            vec![
                "\"two\" \"strings\"".into(),
                "\"unquoted\"".into(),
                "\"v=spf1 -all\"".into(),
                format!("\"{}\" \"{}\"", &long[..255], &long[255..]),
            ],
        ),
        (
            "farm.",
            "CAA",
            vec![
                "0 issue \"letsencrypt.org\"".into(),
                "128 iodef \"mailto:ops@farm.example\"".into(),
            ],
        ),
        (
            "host.farm.",
            "SSHFP",
            vec![
                // dig breaks long hex after 56 digits.
                "4 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF01234567 89ABCDEF".into(),
            ],
        ),
        (
            "_443._tcp.host.farm.",
            "TLSA",
            vec!["3 1 1 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF01 23456789".into()],
        ),
        (
            "sip.farm.",
            "NAPTR",
            vec!["100 10 \"U\" \"E2U+sip\" \"!^.*$!sip:info@farm.example!\" .".into()],
        ),
        ("old.farm.", "DNAME", vec!["new.farm.".into()]),
        (
            "_dns.resolver.farm.",
            "SVCB",
            vec!["1 host.farm. alpn=\"h2,h3\" port=8443".into()],
        ),
        (
            "web.farm.",
            "HTTPS",
            vec!["0 host.farm.".into(), "1 . alpn=\"h2\" port=443".into()],
        ),
    ];
    let mut mismatches = Vec::new();
    for (name, rtype, want) in &expected {
        let got = server.dig(name, rtype);
        let mut want = want.clone();
        want.sort();
        if got != want {
            mismatches.push(format!("{name} {rtype}: dig {got:?}, expected {want:?}"));
        }
    }
    // The delegation and its glue sit below a zone cut: the zone's AXFR shows them.
    let zone = server.axfr("farm.");
    for line in [
        "sub.farm. NS ns1.sub.farm.",
        "sub.farm. NS ns2.sub.farm.",
        "ns1.sub.farm. A 10.10.61.1",
        "ns2.sub.farm. A 10.10.61.2",
    ] {
        if !zone.iter().any(|l| l == line) {
            mismatches.push(format!("AXFR lacks {line:?}"));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{}\nAXFR:\n{}",
        mismatches.join("\n"),
        zone.join("\n")
    );

    // The configuration's spellings (upper case, relative names, uncompressed IPv6,
    // unquoted TXT) mean what the server holds: no change.
    wd.assert_plan_empty();

    // Import by ID gives the same address; the records arrive in the server's normalised
    // form, so the next apply only rewrites the state: nothing is sent to the server (the
    // SOA serial stays), and the plan after it is empty.
    for (resource, id) in [
        ("aaaa", "farm/host/AAAA"),
        ("txt", "farm./txt/TXT"),
        ("svcb", "farm./_dns.resolver/SVCB"),
    ] {
        let address = format!("rack_dns_record_set.{resource}");
        let before = wd.resource_values(&address);
        wd.state_rm(&address);
        wd.import(&address, id);
        let after = wd.resource_values(&address);
        for attr in ["zone", "type", "ttl", "fqdn", "id", "server"] {
            assert_eq!(before[attr], after[attr], "{address} {attr} after import");
        }
    }
    let serial = server.dig("farm.", "SOA");
    wd.apply();
    assert_eq!(
        server.dig("farm.", "SOA"),
        serial,
        "apply after import wrote to the zone"
    );
    wd.assert_plan_empty();

    wd.destroy();
    wd.assert_destroyed();
    let left = server.axfr_data("farm.");
    assert!(left.is_empty(), "left behind after destroy: {left:#?}");
}

#[test]
fn ptr_in_a_reverse_zone_named_by_the_functions() {
    let named = Named::start().expect("start named");
    add_bind_zone(&named, "60.10.10.in-addr.arpa.");
    let server = Server::of_named(&named);
    let wd = server.workdir();
    wd.write_resources(
        r#"
locals {
  hosts = {
    web  = "10.10.60.2"
    mail = "10.10.60.25"
  }
}

resource "rack_dns_record_set" "ptr" {
  for_each = local.hosts
  zone     = provider::rack::reverse_zone("10.10.60.0/24")
  name     = provider::rack::ptr_name(each.value)
  type     = "PTR"
  records  = ["${each.key}.farm."]
}

output "zone" {
  value = rack_dns_record_set.ptr["web"].zone
}

output "fqdn" {
  value = rack_dns_record_set.ptr["web"].fqdn
}
"#,
    );
    wd.apply();
    assert_eq!(server.dig_args(&["-x", "10.10.60.2"]), ["web.farm."]);
    assert_eq!(server.dig_args(&["-x", "10.10.60.25"]), ["mail.farm."]);
    assert_eq!(wd.output("zone"), "60.10.10.in-addr.arpa.");
    assert_eq!(wd.output("fqdn"), "2.60.10.10.in-addr.arpa.");
    wd.assert_plan_empty();
    wd.assert_import_same_state(
        "rack_dns_record_set.ptr[\"web\"]",
        "60.10.10.in-addr.arpa./2.60.10.10.in-addr.arpa./PTR",
        &[],
    );
    wd.assert_plan_empty();

    wd.destroy();
    wd.assert_destroyed();
    assert!(server.dig_args(&["-x", "10.10.60.2"]).is_empty());
    let left = server.axfr_data("60.10.10.in-addr.arpa.");
    assert!(left.is_empty(), "left behind after destroy: {left:#?}");
}
