//! `rack_dns_record_set` on PowerDNS through RFC 2136 (the zone created through the
//! PowerDNS API with a TSIG key allowed to update and transfer it): create -> the server
//! answers -> plan is empty -> import gives the same state -> update in place ->
//! out-of-band change is detected and put back -> destroy leaves nothing behind.

use crate::dns_common::{PROVIDER, add_pdns_zone, hcl_list, record_set, record_set_with};
use rack_lab::PowerDns;

fn config(web: &str, mx: &str) -> String {
    [
        PROVIDER.to_owned(),
        record_set_with(
            "web",
            "lab.",
            "web",
            "A",
            &hcl_list(&[web]),
            "  ttl     = 300\n",
        ),
        record_set("mail", "lab.", "mail", "A", &["10.20.0.25"]),
        record_set("mx", "lab", "@", "MX", &[mx]),
        record_set(
            "txt",
            "lab.",
            "info",
            "TXT",
            &[r#""v=spf1 mx -all""#, r#""two" "strings""#],
        ),
        record_set(
            "v6",
            "lab.",
            "web",
            "AAAA",
            &["2001:0db8:0000:0000:0000:0000:0000:0002"],
        ),
    ]
    .concat()
}

#[test]
fn record_sets_on_powerdns() {
    let pdns = PowerDns::start().unwrap_or_else(|e| panic!("cannot start PowerDNS: {e}"));
    let server = add_pdns_zone(&pdns, "lab.");
    let wd = server.workdir();
    wd.write_main(&config("10.20.0.2", "10 MAIL"));
    let out = wd.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(out.succeeded(), "{out}\n{}", pdns.log_tail());

    server.assert_answers(&[
        ("web.lab.", "A", &["10.20.0.2"]),
        ("web.lab.", "AAAA", &["2001:db8::2"]),
        ("lab.", "MX", &["10 mail.lab."]),
        (
            "info.lab.",
            "TXT",
            &[r#""two" "strings""#, r#""v=spf1 mx -all""#],
        ),
    ]);
    wd.assert_plan_empty();
    wd.assert_import_same_state("rack_dns_record_set.web", "lab./web/A", &[]);
    wd.assert_plan_empty();

    // Update in place.
    wd.write_main(&config("10.20.0.3", "20 mail.lab."));
    wd.apply_planned(&[
        ("rack_dns_record_set.web", &["update"]),
        ("rack_dns_record_set.mx", &["update"]),
    ]);
    assert_eq!(server.dig("web.lab.", "A"), ["10.20.0.3"]);
    assert_eq!(server.dig("lab.", "MX"), ["20 mail.lab."]);
    wd.assert_plan_empty();

    // Drift: a record added by hand shows in the plan and is removed by apply.
    server.nsupdate("zone lab.\nupdate add web.lab. 300 IN A 10.20.0.99");
    assert_eq!(server.dig("web.lab.", "A"), ["10.20.0.3", "10.20.0.99"]);
    wd.apply_planned(&[("rack_dns_record_set.web", &["update"])]);
    assert_eq!(server.dig("web.lab.", "A"), ["10.20.0.3"]);

    // A record set deleted by hand is created again.
    server.nsupdate("zone lab.\nupdate delete info.lab. TXT");
    wd.apply_planned(&[("rack_dns_record_set.txt", &["create"])]);
    assert_eq!(
        server.dig("info.lab.", "TXT"),
        ["\"two\" \"strings\"", "\"v=spf1 mx -all\""]
    );
    wd.assert_plan_empty();

    wd.destroy();
    wd.assert_destroyed();
    let left = server.axfr_data("lab.");
    assert!(left.is_empty(), "left behind after destroy: {left:#?}");
}
