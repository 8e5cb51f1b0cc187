//! `rack_dns_record_set` against a real BIND: apply -> dig answers -> plan is empty ->
//! import gives the same state -> update in place -> out-of-band change and delete show
//! in plan -> destroy leaves nothing behind.

use rack_acceptance_tests::Workdir;

use crate::dns_common::{PROVIDER, Server, a_record, record_set};
use rack_lab::Named;

/// `dig +short` against the fixture: the answer lines, sorted.
pub fn dig(named: &Named, name: &str, rtype: &str) -> Vec<String> {
    Server::of_named(named).dig(name, rtype)
}

/// A change made outside Terraform, with nsupdate and the fixture's key.
pub fn nsupdate(named: &Named, commands: &str) {
    Server::of_named(named).nsupdate(commands);
}

/// A workdir whose provider reaches `named` through the RACK_DNS_* variables (the TSIG
/// secret never appears in a .tf file).
pub fn workdir(named: &Named) -> Workdir {
    Server::of_named(named).workdir()
}

fn config(web_ip: &str, mx: &str) -> String {
    [
        PROVIDER.to_owned(),
        a_record("web", web_ip),
        record_set("mx", "farm", "@", "MX", &[mx]),
        record_set(
            "txt",
            "farm.",
            "info.farm.",
            "TXT",
            &[r#""v=spf1 -all""#, r#""hello world""#],
        ),
        record_set("mail", "farm.", "mail", "A", &["10.10.60.25"]),
        record_set("v6", "farm.", "web", "AAAA", &["2001:DB8:0:0::10"]),
    ]
    .concat()
}

#[test]
fn record_set_lifecycle() {
    let named = Named::start().expect("start named");
    let wd = workdir(&named);
    wd.write_main(&config("10.10.60.2", "10 MAIL.farm."));
    wd.apply();

    Server::of_named(&named).assert_answers(&[
        ("web.farm.", "A", &["10.10.60.2"]),
        ("farm.", "MX", &["10 mail.farm."]),
        ("web.farm.", "AAAA", &["2001:db8::10"]),
        (
            "info.farm.",
            "TXT",
            &[r#""hello world""#, r#""v=spf1 -all""#],
        ),
    ]);
    // Other spellings of the same data (case, IPv6 form, TXT quoting) are no change.
    wd.assert_plan_empty();

    // Import by ID gives the same state.
    wd.assert_import_same_state("rack_dns_record_set.web", "farm./web/A", &[]);
    wd.assert_plan_empty();

    // Update in place.
    wd.write_main(&config("10.10.60.3", "20 mail"));
    wd.apply_planned(&[
        ("rack_dns_record_set.web", &["update"]),
        ("rack_dns_record_set.mx", &["update"]),
    ]);
    assert_eq!(dig(&named, "web.farm.", "A"), ["10.10.60.3"]);
    assert_eq!(dig(&named, "farm.", "MX"), ["20 mail.farm."]);
    wd.assert_plan_empty();

    // Out-of-band change: refresh shows it, apply puts it back.
    nsupdate(&named, "update add web.farm. 300 IN A 10.10.60.99");
    wd.apply_planned(&[("rack_dns_record_set.web", &["update"])]);
    assert_eq!(dig(&named, "web.farm.", "A"), ["10.10.60.3"]);

    // Out-of-band delete: the record set leaves state and is recreated.
    nsupdate(&named, "update delete web.farm. AAAA");
    wd.apply_planned(&[("rack_dns_record_set.v6", &["create"])]);
    assert_eq!(dig(&named, "web.farm.", "AAAA"), ["2001:db8::10"]);
    wd.assert_plan_empty();

    // A changed name replaces.
    wd.write_main(&config("10.10.60.3", "20 mail").replace(
        "name    = \"web\"\n  type    = \"A\"",
        "name    = \"www\"\n  type    = \"A\"",
    ));
    let plan = wd.plan();
    assert_eq!(
        plan.actions("rack_dns_record_set.web"),
        ["delete", "create"]
    );
    wd.apply();
    assert_eq!(dig(&named, "www.farm.", "A"), ["10.10.60.3"]);
    assert!(dig(&named, "web.farm.", "A").is_empty());

    wd.destroy();
    wd.assert_destroyed();
    for (name, rtype) in [
        ("www.farm.", "A"),
        ("farm.", "MX"),
        ("info.farm.", "TXT"),
        ("web.farm.", "AAAA"),
    ] {
        assert!(
            dig(&named, name, rtype).is_empty(),
            "{name} {rtype} left behind"
        );
    }
}

#[test]
fn bad_input_is_caught_at_plan_time() {
    let named = Named::start().expect("start named");
    let wd = workdir(&named);
    let cases = [
        (
            "name = \"www.example.\"\n  type = \"A\"\n  records = [\"10.0.0.1\"]",
            "outside zone",
        ),
        (
            "name = \"www\"\n  type = \"A\"\n  records = [\"10.0.0.300\"]",
            "records",
        ),
        (
            "name = \"www\"\n  type = \"MX\"\n  records = [\"mail.farm.\"]",
            "preference",
        ),
        (
            "name = \"www\"\n  type = \"CNAME\"\n  records = [\"a.farm.\", \"b.farm.\"]",
            "exactly one",
        ),
        (
            "name = \"www\"\n  type = \"A\"\n  ttl = -1\n  records = [\"10.0.0.1\"]",
            "ttl",
        ),
    ];
    for (body, needle) in cases {
        wd.write_main(&format!(
            "{PROVIDER}\nresource \"rack_dns_record_set\" \"x\" {{\n  zone = \"farm.\"\n  {body}\n}}\n"
        ));
        let out = wd.plan_fails();
        assert!(
            out.stderr.contains(needle),
            "plan of {body:?} should fail mentioning {needle:?}:\n{}",
            out.stderr
        );
    }
}

#[test]
fn wrong_key_and_unreachable_server_say_what_to_check() {
    let named = Named::start().expect("start named");
    let mut wd = workdir(&named);
    wd.set_env("RACK_DNS_KEY_SECRET", "c2VjcmV0IHRoYXQgaXMgd3Jvbmc=");
    let www = |zone: &str| {
        let www = record_set("x", zone, "www", "A", &["10.0.0.1"]);
        format!("{PROVIDER}{www}")
    };
    wd.write_main(&www("farm."));
    let out = wd.apply_fails();
    assert!(out.stderr.contains("secret"), "{}", out.stderr);
    // Nothing was written.
    assert!(dig(&named, "www.farm.", "A").is_empty());

    wd.set_env("RACK_DNS_ADDRESS", "127.0.0.1:9");
    wd.set_env("RACK_DNS_KEY_SECRET", named.tsig.secret.clone());
    let out = wd.apply_fails();
    assert!(out.stderr.contains("127.0.0.1:9"), "{}", out.stderr);

    // A zone the server does not have.
    wd.set_env("RACK_DNS_ADDRESS", named.dns_addr.to_string());
    wd.write_main(&www("nope."));
    let out = wd.apply_fails();
    assert!(out.stderr.contains("nope."), "{}", out.stderr);
}
