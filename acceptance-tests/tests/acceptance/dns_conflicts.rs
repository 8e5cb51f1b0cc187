//! A record set changed on the server between `plan -out` and `apply` of that plan: rack's
//! UPDATE carries the planned prior records as prerequisites (RFC 2136 §2.4.3), so the
//! server refuses it, the apply fails naming the record set, and the out-of-band value
//! stays. The next plan shows the difference and the apply after it converges. Other
//! record sets in the same apply are written all the same.

use rack_acceptance_tests::Workdir;

use crate::dns_common::{PROVIDER, Server, a_record, start_named};
use rack_lab::Named;

/// `web` and `db` A record sets with the given addresses.
fn config(web: &str, db: &str) -> String {
    format!("{PROVIDER}{}\n{}", a_record("web", web), a_record("db", db))
}

/// named with `web` at 10.10.60.2 and `db` at 10.10.60.30, applied; the workdir
/// managing them.
fn applied() -> (Named, Server, Workdir) {
    let (named, server) = start_named();
    let wd = server.workdir();
    wd.write_main(&config("10.10.60.2", "10.10.60.30"));
    wd.apply();
    (named, server, wd)
}

/// Saves the plan to `web` = `web`, `db` = `db`, runs `update` with nsupdate behind
/// Terraform's back, then applies the saved plan, which must fail. Returns its stderr.
fn apply_after_change(wd: &Workdir, server: &Server, web: &str, db: &str, update: &str) -> String {
    wd.write_main(&config(web, db));
    wd.save_plan(PLAN);
    server.nsupdate(update);
    wd.apply_saved(PLAN).failure().stderr
}

/// The saved plan's file.
const PLAN: &str = "saved.tfplan";

/// web.farm. set to 10.10.60.99 outside Terraform.
const WEB_CHANGED: &str = "update delete web.farm. A\nupdate add web.farm. 300 IN A 10.10.60.99";

#[test]
fn change_between_plan_and_apply_is_not_overwritten() {
    let (_named, server, wd) = applied();

    let stderr = apply_after_change(&wd, &server, "10.10.60.3", "10.10.60.30", WEB_CHANGED);
    assert!(
        stderr.contains("web.farm. A") && stderr.contains("changed outside Terraform"),
        "the error should name the record set and say why:\n{stderr}"
    );
    assert_eq!(
        server.dig("web.farm.", "A"),
        ["10.10.60.99"],
        "the out-of-band value was overwritten"
    );

    // The next plan sees the out-of-band value and puts the configured one back.
    wd.apply_planned(&[("rack_dns_record_set.web", &["update"])]);
    assert_eq!(server.dig("web.farm.", "A"), ["10.10.60.3"]);
    wd.assert_plan_empty();

    // Deleted out of band between plan and apply: not recreated behind the user's back.
    let deleted = "update delete web.farm. A";
    let stderr = apply_after_change(&wd, &server, "10.10.60.4", "10.10.60.30", deleted);
    assert!(stderr.contains("web.farm. A"), "{stderr}");
    assert!(server.dig("web.farm.", "A").is_empty());
    wd.apply_planned(&[("rack_dns_record_set.web", &["create"])]);
    assert_eq!(server.dig("web.farm.", "A"), ["10.10.60.4"]);
    wd.assert_plan_empty();
}

#[test]
fn one_conflict_does_not_stop_the_other_changes() {
    let (_named, server, wd) = applied();

    // Both change in one apply; only web is changed on the server meanwhile.
    let stderr = apply_after_change(&wd, &server, "10.10.60.3", "10.10.60.31", WEB_CHANGED);
    assert!(stderr.contains("web.farm. A"), "{stderr}");
    assert!(
        !stderr.contains("db.farm."),
        "db was not changed out of band and must not fail:\n{stderr}"
    );
    assert_eq!(server.dig("web.farm.", "A"), ["10.10.60.99"]);
    assert_eq!(server.dig("db.farm.", "A"), ["10.10.60.31"]);

    // db is in state with its new value; only web is left to converge.
    wd.apply_planned(&[
        ("rack_dns_record_set.web", &["update"]),
        ("rack_dns_record_set.db", &["no-op"]),
    ]);
    assert_eq!(server.dig("web.farm.", "A"), ["10.10.60.3"]);
    wd.assert_plan_empty();

    wd.destroy();
    wd.assert_destroyed();
    let left = server.axfr_data("farm.");
    assert!(left.is_empty(), "left behind after destroy: {left:#?}");
}
