//! What rack reports about DNS writes is what the server holds: a CNAME the server ignores
//! beside other data fails its create (and leaves plan and destroy working), a write that
//! timed out but that the server carried out later is adopted by the next apply with no
//! import, `-replace` and taint work, two Terraform processes on one zone never lose a
//! record, and values the server cannot hold or that changed by hand since the plan are
//! refused naming the record.

use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use rack_acceptance_tests::{CmdResult, Workdir};

use crate::dns_common::{
    PROVIDER, Server, a_record, hcl_list, record_set, record_set_with, start_named,
};
use rack_lab::Named;

/// `terraform state list`: the addresses in state, sorted.
fn state_list(wd: &Workdir) -> Vec<String> {
    let run = wd.run(&["state", "list", "-no-color"]).success();
    let mut list: Vec<String> = run.stdout.lines().map(str::to_string).collect();
    list.sort();
    list
}

/// `terraform apply -auto-approve` with extra arguments, judged by the caller.
fn apply_with(wd: &Workdir, extra: &[&str]) -> CmdResult {
    let mut args = vec!["apply", "-auto-approve", "-input=false", "-no-color"];
    args.extend_from_slice(extra);
    wd.run(&args)
}

/// An A record set named `a_name` with 10.10.60.2, and a CNAME `www` to `web.farm.`
/// carrying `depends` (a `depends_on` line, or nothing).
fn a_and_cname(a_name: &str, depends: &str) -> String {
    [
        record_set_with("web", "farm.", a_name, "A", &hcl_list(&["10.10.60.2"]), TTL),
        record_set_with(
            "alias",
            "farm.",
            "www",
            "CNAME",
            &hcl_list(&["web.farm."]),
            &format!("{TTL}  {depends}\n"),
        ),
    ]
    .concat()
}

/// The TTL line of the record sets that set one.
const TTL: &str = "  ttl     = 300\n";

#[test]
fn a_cname_beside_an_a_fails_its_create_and_plan_and_destroy_still_work() {
    let (_named, server) = start_named();
    let wd = server.workdir();

    // The CNAME is written after the A (depends_on): the server ignores it.
    let config = a_and_cname("www", "depends_on = [rack_dns_record_set.web]");
    wd.write_main(&format!("{PROVIDER}{config}"));
    let run = apply_with(&wd, &[]).failure();
    let text = run.combined();
    assert!(
        text.contains("www.farm. CNAME") && text.contains("not written"),
        "the CNAME's create must fail naming it:\n{text}"
    );
    assert!(
        !text.contains("rack_dns_record_set.alias: Creation complete"),
        "the CNAME was reported created:\n{text}"
    );
    assert_eq!(state_list(&wd), ["rack_dns_record_set.web"]);
    assert_eq!(server.dig("www.farm.", "A"), ["10.10.60.2"]);
    assert!(server.dig("www.farm.", "CNAME").is_empty());

    // Plan and destroy work with the refresh on; the plan still wants the CNAME.
    let plan = wd.plan();
    assert_eq!(plan.actions("rack_dns_record_set.alias"), ["create"]);
    assert_eq!(plan.actions("rack_dns_record_set.web"), ["no-op"]);
    wd.destroy();
    wd.assert_destroyed();
    assert!(server.axfr_data("farm.").is_empty());

    // Both in one apply with no order: they share one UPDATE, the CNAME goes last and is
    // the one that fails; the state holds exactly what the server holds.
    wd.write_main(&format!("{PROVIDER}{}", a_and_cname("www", "")));
    let run = apply_with(&wd, &[]).failure();
    let text = run.combined();
    assert!(
        text.contains("www.farm. CNAME") && text.contains("not written"),
        "{text}"
    );
    assert_eq!(state_list(&wd), ["rack_dns_record_set.web"]);
    assert_eq!(server.dig("www.farm.", "A"), ["10.10.60.2"]);
    wd.plan();
    wd.destroy();
    assert!(server.axfr_data("farm.").is_empty());
}

/// Sends `signal` (STOP or CONT) to the process `pid`.
fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill (procps) is missing");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// Waits until a socket of `port` on loopback (UDP, or TCP connections not yet accepted or
/// read) holds data no process has read: requests waiting for a stopped server. `ss`
/// reports it as the receive queue.
fn wait_for_queued_requests(port: u16, limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let out = Command::new("ss")
            .args(["-Htuan", &format!("sport = :{port}")])
            .output()
            .expect("ss (iproute2) is missing");
        let queued = String::from_utf8_lossy(&out.stdout).lines().any(|line| {
            line.split_whitespace()
                .nth(2)
                .and_then(|q| q.parse::<u64>().ok())
                .is_some_and(|q| q > 0)
        });
        if queued {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no request reached port {port} within {limit:?}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// Resumes a stopped named when dropped, also when the test fails.
struct Resume(u32);

impl Drop for Resume {
    fn drop(&mut self) {
        signal(self.0, "CONT");
    }
}

const MANY: usize = 40;

fn many_config() -> String {
    format!(
        r#"{PROVIDER}
resource "rack_dns_record_set" "host" {{
  count   = {MANY}
  zone    = "farm."
  name    = "host${{count.index}}"
  type    = "A"
  ttl     = 300
  records = ["10.10.61.${{count.index}}"]
}}
"#
    )
}

#[test]
fn writes_that_timed_out_but_were_carried_out_are_adopted_by_the_next_apply() {
    let (named, server) = start_named();
    let mut wd = server.workdir();
    wd.set_env("RACK_DNS_TIMEOUT", "1s");
    wd.set_env("RACK_DNS_RETRIES", "0");
    wd.write_main(&many_config());
    wd.save_plan("saved.tfplan");

    // named stops answering while the apply sends its UPDATEs; they wait in its socket
    // buffer and are carried out when it resumes, after their timeouts.
    signal(named.pid(), "STOP");
    let resume = Resume(named.pid());
    let first = thread::scope(|s| {
        let apply = s.spawn(|| wd.apply_saved("saved.tfplan"));
        // Resume once UPDATEs wait in named's sockets, and their 1 s timeout has passed:
        // a fixed pause from the start raced Terraform's own start on a busy machine.
        wait_for_queued_requests(named.dns_addr.port(), Duration::from_secs(120));
        thread::sleep(Duration::from_secs(3));
        drop(resume);
        apply.join().expect("the apply thread")
    });
    let first = first.failure();
    assert!(
        first.combined().contains("did not answer"),
        "the first apply should fail on timeouts:\n{first}"
    );
    let hosts = server
        .axfr_data("farm.")
        .into_iter()
        .filter(|l| l.starts_with("host"))
        .count();
    assert_eq!(hosts, MANY, "named carried out every UPDATE once resumed");

    // The next apply converges with no import: what exists is exactly what was planned.
    let second = wd.apply();
    assert!(!second.combined().contains("already exists"), "{second}");
    assert_eq!(state_list(&wd).len(), MANY);
    wd.assert_plan_empty();

    // Something different at a planned name is still a conflict.
    wd.run(&["state", "rm", "-no-color", "rack_dns_record_set.host[0]"])
        .success();
    server.nsupdate("update delete host0.farm. A\nupdate add host0.farm. 300 IN A 10.10.62.1");
    let third = apply_with(&wd, &[]).failure();
    assert!(
        third.combined().contains("host0.farm. A already exists"),
        "{third}"
    );
    assert_eq!(server.dig("host0.farm.", "A"), ["10.10.62.1"]);
}

#[test]
fn replace_and_taint_of_record_sets_work() {
    let (_named, server) = start_named();
    let wd = server.workdir();
    wd.write_main(&format!("{PROVIDER}{}", a_and_cname("web", "")));
    wd.apply();

    // The plan's refresh filled the snapshot before the delete; the create must not trip
    // over it.
    wd.apply_replacing(&["rack_dns_record_set.web", "rack_dns_record_set.alias"]);
    assert_eq!(server.dig("web.farm.", "A"), ["10.10.60.2"]);
    assert_eq!(server.dig("www.farm.", "CNAME"), ["web.farm."]);
    wd.assert_plan_empty();

    wd.taint("rack_dns_record_set.alias");
    let run = wd.apply();
    assert!(
        run.stdout.contains("1 added, 0 changed, 1 destroyed"),
        "{run}"
    );
    assert_eq!(server.dig("www.farm.", "CNAME"), ["web.farm."]);
    wd.assert_plan_empty();
}

/// Five A record sets `<prefix>0..4` with addresses of round `round`.
fn round_config(prefix: &str, octet: u8, round: usize) -> String {
    let mut text = PROVIDER.to_string();
    for i in 0..5 {
        let name = format!("{prefix}{i}");
        let ip = format!("10.{octet}.{round}.{i}");
        text.push_str(&record_set_with(
            &name,
            "farm.",
            &name,
            "A",
            &hcl_list(&[&ip]),
            TTL,
        ));
    }
    text
}

#[test]
fn two_terraform_processes_on_one_zone_never_lose_a_record() {
    let (_named, server) = start_named();
    let one = server.workdir();
    let two = server.workdir();
    for round in 0..10 {
        one.write_main(&round_config("a", 1, round));
        two.write_main(&round_config("b", 2, round));
        let (r1, r2) = thread::scope(|s| {
            let t1 = s.spawn(|| apply_with(&one, &[]));
            let t2 = s.spawn(|| apply_with(&two, &[]));
            (
                t1.join().expect("first apply thread"),
                t2.join().expect("second apply thread"),
            )
        });
        for (prefix, octet, run) in [("a", 1, &r1), ("b", 2, &r2)] {
            if !run.succeeded() {
                continue;
            }
            for i in 0..5 {
                assert_eq!(
                    server.dig(&format!("{prefix}{i}.farm."), "A"),
                    [format!("10.{octet}.{round}.{i}")],
                    "round {round}: {prefix}{i} lost although its apply exited 0"
                );
            }
        }
        r1.success();
        r2.success();
    }
}

/// A TXT record of `strings` strings of 255 bytes, as an HCL expression.
fn txt_of(strings: usize) -> String {
    format!(
        r#"join(" ", [for i in range({strings}) : format("\"%s\"", join("", [for j in range(255) : "x"]))])"#
    )
}

/// Plans `resources` after the provider block; the plan must fail. Returns what Terraform
/// printed.
fn refused(wd: &Workdir, resources: &str) -> String {
    wd.write_main(&format!("{PROVIDER}{resources}"));
    wd.plan_fails().combined()
}

#[test]
fn values_the_server_cannot_hold_are_refused_at_plan_time_at_their_attribute() {
    let (_named, server) = start_named();
    let wd = server.workdir();

    // 257 strings of 1 + 255 bytes: 65,792 bytes of RDATA, over the 65,535 an RR can hold.
    let records = format!("[{}]", txt_of(257));
    let text = refused(
        &wd,
        &record_set_with("big", "farm.", "big", "TXT", &records, ""),
    );
    assert!(
        text.contains("65,535") && text.contains("records = [join("),
        "the plan should refuse the TXT at `records`:\n{text}"
    );

    // An owner name with a space, for an A (host name rules) and for a TXT.
    for (rtype, record) in [("A", "10.10.60.2"), ("TXT", "\"x\"")] {
        let text = refused(
            &wd,
            &record_set("spaced", "farm.", "my host", rtype, &[record]),
        );
        assert!(
            text.contains("name    = \"my host\"") && text.contains("letters, digits"),
            "the plan should refuse the {rtype} owner at `name`, saying what is allowed:\n{text}"
        );
    }

    // What stays valid: SRV under underscore labels, a wildcard A, and nothing was written.
    let fits = format!("[{}]", txt_of(250));
    wd.write_main(
        &[
            PROVIDER.to_owned(),
            record_set("srv", "farm.", "_ldap._tcp", "SRV", &["0 5 389 web.farm."]),
            record_set("wild", "farm.", "*.lab", "A", &["10.10.60.7"]),
            record_set_with("txt", "farm.", "fits", "TXT", &fits, ""),
        ]
        .concat(),
    );
    assert!(server.axfr_data("farm.").is_empty());
    wd.apply();
    assert_eq!(server.dig("x.lab.farm.", "A"), ["10.10.60.7"]);
    wd.assert_plan_empty();
}

/// The TTL of `name`'s A record set as named answers it.
fn ttl_of(server: &Server, name: &str) -> String {
    let out = Command::new("dig")
        .args([
            &format!("@{}", server.addr.ip()),
            "-p",
            &server.addr.port().to_string(),
            "+noall",
            "+answer",
            "+norecurse",
            name,
            "A",
        ])
        .output()
        .expect("dig is missing: install the Debian package bind9-dnsutils");
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no answer for {name}: {text}"))
        .to_string()
}

fn web(ip: &str) -> String {
    format!("{PROVIDER}{}", a_record("web", ip))
}

#[test]
fn a_ttl_changed_by_hand_between_plan_and_apply_is_refused() {
    let (_named, server) = start_named();
    let wd = server.workdir();
    wd.write_main(&web("10.10.60.2"));
    wd.apply();

    wd.write_main(&web("10.10.60.3"));
    wd.save_plan("saved.tfplan");
    // Same records, another TTL: RFC 2136 prerequisites do not compare TTLs.
    server.nsupdate("update delete web.farm. A\nupdate add web.farm. 900 IN A 10.10.60.2");
    let run = wd.apply_saved("saved.tfplan").failure();
    let text = run.combined();
    assert!(
        text.contains("web.farm. A") && text.contains("changed outside Terraform"),
        "{text}"
    );
    assert_eq!(ttl_of(&server, "web.farm."), "900");
    assert_eq!(server.dig("web.farm.", "A"), ["10.10.60.2"]);

    // The next plan shows the TTL and the records to put back, and the apply converges.
    wd.apply_planned(&[("rack_dns_record_set.web", &["update"])]);
    assert_eq!(ttl_of(&server, "web.farm."), "300");
    assert_eq!(server.dig("web.farm.", "A"), ["10.10.60.3"]);
    wd.assert_plan_empty();
}

/// A `rack_dns_zone` with the SOA, name servers and TTL that `add_bind_zone` gives a zone
/// (`refresh` aside).
fn zone_config(provider: &str, zone: &str, refresh: u32) -> String {
    format!(
        r#"{provider}
resource "rack_dns_zone" "z" {{
  name = "{zone}"
  soa = {{
    mname   = "ns1.farm."
    rname   = "hostmaster.farm."
    refresh = {refresh}
    retry   = 600
    expire  = 86400
    minimum = 300
  }}
  nameservers = ["ns1.farm."]
  ttl         = 300
}}
"#
    )
}

#[test]
fn a_zone_that_exists_exactly_as_planned_is_adopted_by_create() {
    let named = Named::start().expect("start named");
    let (wd, provider) = crate::dns_zone::bind_workdir(&named);

    // Created before the apply, as a create whose answer timed out leaves it.
    crate::dns_common::add_bind_zone(&named, "lab.");
    wd.write_main(&zone_config(&provider, "lab.", 3600));
    wd.apply();
    wd.assert_plan_empty();

    // Another SOA than planned is a conflict, refused naming the zone.
    crate::dns_common::add_bind_zone(&named, "other.");
    wd.write_main(&format!(
        "{}{}",
        zone_config(&provider, "lab.", 3600),
        zone_config("", "other.", 7200).replace("\"z\"", "\"other\"")
    ));
    let run = apply_with(&wd, &[]).failure();
    assert!(
        run.combined().contains("Zone other. already exists"),
        "{run}"
    );
}

#[test]
fn a_zone_that_exists_exactly_as_planned_is_adopted_on_powerdns() {
    let pdns = rack_lab::PowerDns::start().expect("start pdns_server");
    // Created before the apply through the PowerDNS API, as a create whose answer timed
    // out leaves it.
    let server = crate::dns_common::add_pdns_zone(&pdns, "lab.");
    let (wd, provider) =
        crate::dns_zone::pdns_workdir(&pdns, server.addr, &server.key.name, &server.key.secret);
    wd.write_main(&zone_config(&provider, "lab.", 3600));
    let run = wd.apply();
    assert!(!run.combined().contains("already exists"), "{run}");
    wd.assert_plan_empty();
    wd.destroy();
    wd.assert_destroyed();
}
