//! What `rack_dhcp_lease` promises when it is not alone with its server, with the
//! reservations in Kea's configuration and (where marked) in its host database: two
//! Terraform runs writing to one Kea at once never end with exit 0 and a reservation
//! missing; a
//! write Kea carried out after rack gave up on it is adopted by the next apply, not
//! reported as someone else's; a reservation changed by hand between plan and apply is
//! refused, naming it, and left as it is, and so is one a destroy was planned from; a
//! lease can be replaced (`-replace`, taint) on Kea and on a libvirt network; and a
//! subnet's network or broadcast address is refused at plan time.

use std::io::Read;
use std::process::Stdio;
use std::thread;
use std::time::Duration;

use rack_acceptance_tests::{CmdResult, Workdir};
use serde_json::{Value, json};

use crate::dhcp_common::{Backend, PROVIDER, Server, reservations, start, workdir};

/// Terraform wraps diagnostics at 78 columns: compare with whitespace collapsed.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `count` leases of the fixture's subnet; lease `i` has MAC `02:00:00:<tag>:00:<i>` and
/// address `10.77.0.<first + i>`.
fn leases(tag: u8, first: u8, count: u8) -> String {
    format!(
        r#"{PROVIDER}
resource "rack_dhcp_lease" "l" {{
  count    = {count}
  subnet   = "10.77.0.0/24"
  mac      = format("02:00:00:{tag:02x}:00:%02x", count.index)
  ip       = "10.77.0.${{{first} + count.index}}"
  hostname = "n{tag}-${{count.index}}"
}}
"#
    )
}

/// Fails unless the server holds a reservation for each of `wanted`.
#[track_caller]
fn assert_held(server: &Server, wanted: &[String]) {
    assert!(
        missing(server, wanted).is_empty(),
        "{:?}",
        server.reservations()
    );
}

fn macs(tag: u8, count: u8) -> Vec<String> {
    (0..count)
        .map(|i| format!("02:00:00:{tag:02x}:00:{i:02x}"))
        .collect()
}

fn missing(server: &Server, wanted: &[String]) -> Vec<String> {
    let held: Vec<String> = server
        .reservations()
        .iter()
        .filter_map(|r| r["hw-address"].as_str().map(str::to_string))
        .collect();
    wanted
        .iter()
        .filter(|m| !held.contains(m))
        .cloned()
        .collect()
}

/// Runs `terraform <args>` in two working directories at the same moment; returns both
/// results.
fn both(a: &Workdir, b: &Workdir, args: &[&str]) -> (CmdResult, CmdResult) {
    thread::scope(|s| {
        let ta = s.spawn(|| a.run(args));
        let tb = s.spawn(|| b.run(args));
        (
            ta.join().expect("first terraform run"),
            tb.join().expect("second terraform run"),
        )
    })
}

const PER_DIR: u8 = 12;
const ROUNDS: usize = 10;

#[test]
fn concurrent_applies_never_exit_0_with_a_reservation_missing() {
    concurrent_applies_on(Backend::ConfigSet);
}

#[test]
fn concurrent_applies_to_the_hosts_database_never_exit_0_with_a_reservation_missing() {
    concurrent_applies_on(Backend::HostDatabase);
}

fn concurrent_applies_on(backend: Backend) {
    let server = Server::start(backend);
    let a = server.workdir();
    let b = server.workdir();
    a.write_main(&leases(0xa, 2, PER_DIR));
    b.write_main(&leases(0xb, 2 + PER_DIR, PER_DIR));
    a.init();
    b.init();
    let (mine_a, mine_b) = (macs(0xa, PER_DIR), macs(0xb, PER_DIR));
    let apply = ["apply", "-auto-approve", "-input=false", "-no-color"];
    let destroy = ["destroy", "-auto-approve", "-input=false", "-no-color"];
    let mut failures = 0;
    for round in 0..ROUNDS {
        let (ra, rb) = both(&a, &b, &apply);
        // Whoever exited 0 has every one of its reservations in Kea.
        for (result, mine, name) in [(&ra, &mine_a, "first"), (&rb, &mine_b, "second")] {
            if result.succeeded() {
                let lost = missing(&server, mine);
                assert!(
                    lost.is_empty(),
                    "round {round}: the {name} apply exited 0 but Kea lacks {lost:?}\n{result}"
                );
            } else {
                failures += 1;
                assert!(
                    flat(&result.stderr).contains("Kea"),
                    "round {round}: the {name} apply failed without saying why:\n{result}"
                );
            }
        }
        // After a loud failure, another apply converges.
        for (result, wd, mine) in [(&ra, &a, &mine_a), (&rb, &b, &mine_b)] {
            if !result.succeeded() {
                wd.apply();
                assert!(missing(&server, mine).is_empty(), "round {round}");
            }
        }
        let all: Vec<String> = mine_a.iter().chain(&mine_b).cloned().collect();
        assert!(missing(&server, &all).is_empty(), "round {round}");
        a.assert_plan_empty();
        b.assert_plan_empty();

        let (da, db) = both(&a, &b, &destroy);
        for (result, wd) in [(&da, &a), (&db, &b)] {
            if !result.succeeded() {
                failures += 1;
                wd.destroy();
            }
        }
        assert!(
            server.reservations().is_empty(),
            "round {round}: destroy left {:?}",
            server.reservations()
        );
    }
    eprintln!("{failures} loud failures in {ROUNDS} rounds");
}

#[test]
fn a_write_kea_carried_out_after_a_timeout_is_adopted() {
    let server = Server::start(Backend::ConfigSet);
    let kea = &*server;
    let mut wd = workdir(kea);
    wd.set_env("RACK_DHCP_KEA_TIMEOUT", "2s");
    wd.write_main(&leases(0xc, 20, 3));
    wd.init();

    // Freeze kea-dhcp4 the moment it has read the config-set: the write happens, but only
    // after rack's request timed out.
    let log = kea.dhcp4_log();
    let seen_before = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .matches("Received command 'config-set'")
        .count();
    let mut child = wd
        .command(["apply", "-auto-approve", "-input=false", "-no-color"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("terraform apply starts");
    let mut paused = false;
    while child.try_wait().expect("terraform apply runs").is_none() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.matches("Received command 'config-set'").count() > seen_before {
            kea.pause_dhcp4().expect("SIGSTOP kea-dhcp4");
            paused = true;
            break;
        }
        thread::sleep(Duration::from_millis(1));
    }
    assert!(
        paused,
        "the apply ended before kea-dhcp4 received a config-set"
    );
    let status = child.wait().expect("terraform apply ends");
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(
        !status.success(),
        "the apply should fail while kea-dhcp4 is frozen"
    );
    assert!(flat(&stderr).contains("did not answer within"), "{stderr}");
    kea.resume_dhcp4().expect("SIGCONT kea-dhcp4");

    // Kea carried the write out once it ran again ...
    assert_held(&server, &macs(0xc, 3));
    // ... and the next apply takes it as its own, with no import.
    wd.apply();
    wd.assert_plan_empty();
    assert_eq!(reservations(kea).len(), 3, "{:?}", reservations(kea));
    wd.destroy();
    assert!(reservations(kea).is_empty());
}

#[test]
fn a_reservation_changed_by_hand_between_plan_and_apply_is_refused() {
    changed_between_plan_and_apply_on(Backend::ConfigSet);
}

#[test]
fn a_host_row_changed_by_hand_between_plan_and_apply_is_refused() {
    changed_between_plan_and_apply_on(Backend::HostDatabase);
}

fn changed_between_plan_and_apply_on(backend: Backend) {
    let server = Server::start(backend);
    let wd = server.workdir();
    let config = |hostname: &str| {
        format!(
            r#"{PROVIDER}
resource "rack_dhcp_lease" "pxe" {{
  subnet    = "10.77.0.0/24"
  mac       = "02:00:00:00:00:d1"
  ip        = "10.77.0.30"
  hostname  = "{hostname}"
  boot_file = "pxelinux.0"
  options   = [{{ name = "routers", data = "10.77.0.1" }}]
}}
"#
        )
    };
    wd.write_main(&config("pxe1"));
    wd.apply();
    wd.write_main(&config("pxe2"));
    wd.save_plan("saved.tfplan");

    // An operator changes the boot file and adds an option, as Kea's own tools would.
    server.edit_out_of_band("02:00:00:00:00:d1", |r| {
        r["boot-file-name"] = json!("ipxe.efi");
        if let Some(opts) = r["option-data"].as_array_mut() {
            opts.push(json!({"name": "domain-name", "data": "farm.example"}));
        }
    });
    let by_hand = server
        .reservation("02:00:00:00:00:d1")
        .expect("the reservation exists");
    assert_eq!(by_hand["boot-file-name"], json!("ipxe.efi"));

    let out = wd.apply_saved("saved.tfplan").failure();
    let text = flat(&out.stderr);
    assert!(
        text.contains("02:00:00:00:00:d1") && text.contains("changed outside"),
        "{out}"
    );
    let now = server
        .reservation("02:00:00:00:00:d1")
        .expect("the reservation still exists");
    assert_eq!(now, by_hand, "the hand-made change was overwritten");

    // The next plan shows the hand change, and applying it converges.
    wd.apply();
    wd.assert_plan_empty();
    let now = server
        .reservation("02:00:00:00:00:d1")
        .expect("the reservation");
    assert_eq!(now["hostname"], json!("pxe2"));
    assert_eq!(now["boot-file-name"], json!("pxelinux.0"));
    wd.destroy();
}

#[test]
fn a_lease_on_kea_can_be_replaced() {
    replaced_on(Backend::ConfigSet);
}

#[test]
fn a_lease_in_the_hosts_database_can_be_replaced() {
    replaced_on(Backend::HostDatabase);
}

fn replaced_on(backend: Backend) {
    let server = Server::start(backend);
    let wd = server.workdir();
    wd.write_main(&leases(0xe, 40, 2));
    wd.apply();
    let before = server.reservations();
    assert_eq!(before.len(), 2);

    wd.apply_replacing(&["rack_dhcp_lease.l[0]"]);
    wd.assert_plan_empty();
    assert_held(&server, &macs(0xe, 2));
    assert_eq!(server.reservations().len(), 2);

    wd.taint("rack_dhcp_lease.l[1]");
    wd.apply();
    wd.assert_plan_empty();
    assert_held(&server, &macs(0xe, 2));
    assert_eq!(server.reservations().len(), 2);
    let ips: Vec<Value> = server
        .reservations()
        .iter()
        .map(|r| r["ip-address"].clone())
        .collect();
    assert!(
        ips.contains(&json!("10.77.0.40")) && ips.contains(&json!("10.77.0.41")),
        "{ips:?}"
    );

    // Tainted with a changed configuration: replaced, not refused as someone else's.
    wd.write_main(&leases(0xe, 40, 2).replace("hostname = \"n", "hostname = \"m"));
    wd.taint("rack_dhcp_lease.l[0]");
    wd.apply();
    wd.assert_plan_empty();
    let mut names: Vec<String> = server
        .reservations()
        .iter()
        .filter_map(|r| r["hostname"].as_str().map(str::to_string))
        .collect();
    names.sort();
    assert_eq!(names, ["m14-0", "m14-1"]);
    wd.destroy();
    assert!(server.reservations().is_empty());
}

#[test]
fn a_lease_on_a_libvirt_network_can_be_replaced() {
    use crate::libvirt_common::{dhcp_network, host_lines, start, workdir};
    let lv = start();
    let wd = workdir(&lv);
    wd.write_main(&format!(
        r#"{}
resource "rack_dhcp_lease" "l" {{
  count    = 2
  subnet   = "10.10.63.0/24"
  mac      = "02:00:00:63:00:0${{count.index}}"
  ip       = "10.10.63.${{20 + count.index}}"
  hostname = "node${{count.index}}"

  depends_on = [rack_network.trust]
}}
"#,
        dhcp_network("trust", "rktrust0", 63)
    ));
    wd.apply();
    let hosts = || -> Vec<String> {
        host_lines(&lv, "trust")
            .iter()
            .map(|l| l.trim().to_string())
            .collect()
    };
    assert_eq!(hosts().len(), 2, "{:?}", hosts());
    wd.apply_replacing(&["rack_dhcp_lease.l[0]"]);
    wd.assert_plan_empty();
    wd.taint("rack_dhcp_lease.l[1]");
    wd.apply();
    wd.assert_plan_empty();
    let now = hosts();
    assert_eq!(now.len(), 2, "{now:?}");
    assert!(
        now.iter().any(|h| h.contains("10.10.63.20"))
            && now.iter().any(|h| h.contains("10.10.63.21")),
        "{now:?}"
    );
    wd.destroy();
}

#[test]
fn the_subnets_network_and_broadcast_addresses_are_refused_at_plan_time() {
    let kea = start();
    let wd = workdir(&kea);
    for (ip, what) in [("10.77.0.0", "network"), ("10.77.0.255", "broadcast")] {
        wd.write_resources(&format!(
            r#"
resource "rack_dhcp_lease" "x" {{
  subnet = "10.77.0.0/24"
  mac    = "02:00:00:00:00:f1"
  ip     = "{ip}"
}}
"#
        ));
        let out = wd.plan_fails();
        let text = flat(&out.stderr);
        assert!(
            text.contains(&format!(
                "{ip} is the {what} address of subnet 10.77.0.0/24"
            )),
            "{out}"
        );
        assert!(text.contains(&format!("ip = \"{ip}\"")), "{out}");
    }
    assert!(reservations(&kea).is_empty());
}

/// A destroy planned from one reservation removes only that reservation: one changed by
/// hand after the plan is refused, named, kept in Kea and kept in state. A destroy that
/// refreshes first sees the change and removes the reservation as it now is; one already
/// removed by hand is simply gone.
#[test]
fn a_reservation_changed_by_hand_after_the_destroy_plan_is_not_removed() {
    changed_after_the_destroy_plan_on(Backend::ConfigSet);
}

#[test]
fn a_host_row_changed_by_hand_after_the_destroy_plan_is_not_removed() {
    changed_after_the_destroy_plan_on(Backend::HostDatabase);
}

fn changed_after_the_destroy_plan_on(backend: Backend) {
    let server = Server::start(backend);
    let wd = server.workdir();
    let mac = "02:00:00:00:00:d2";
    wd.write_resources(&format!(
        r#"
resource "rack_dhcp_lease" "gone" {{
  subnet   = "10.77.0.0/24"
  mac      = "{mac}"
  ip       = "10.77.0.31"
  hostname = "pxe1"
}}
"#
    ));
    wd.apply();
    wd.save_destroy_plan("destroy.tfplan");

    // An operator gives the reservation to another machine after the plan was made.
    server.edit_out_of_band(mac, |r| {
        r["hostname"] = json!("by-hand");
        r["ip-address"] = json!("10.77.0.32");
    });
    let by_hand = server.reservation(mac).expect("the reservation exists");

    let out = wd.apply_saved("destroy.tfplan").failure();
    let text = flat(&out.stderr);
    assert!(
        text.contains(mac) && text.contains("changed outside") && text.contains("by-hand"),
        "{out}"
    );
    let now = server
        .reservation(mac)
        .expect("the hand-made reservation is still there");
    assert_eq!(now, by_hand, "the hand-made reservation was changed");
    let listed = wd.run(&["state", "list", "-no-color"]).success();
    assert!(
        listed.stdout.contains("rack_dhcp_lease.gone"),
        "the lease left the state: {listed}"
    );

    // A destroy that refreshes first plans from what Kea holds now, and removes it.
    wd.destroy();
    assert!(
        server.reservation(mac).is_none(),
        "{:?}",
        server.reservations()
    );

    // Removed by hand after the destroy plan: already gone is what destroy wants.
    wd.apply();
    wd.save_destroy_plan("destroy.tfplan");
    server.delete_out_of_band(mac);
    wd.apply_saved("destroy.tfplan").success();
    assert!(
        server.reservations().is_empty(),
        "{:?}",
        server.reservations()
    );
    wd.assert_destroyed();
}

/// On a libvirt network too: a lease removed from the configuration is not deleted when
/// its host entry was changed by hand after the plan; once a plan has seen the change,
/// the entry is removed.
#[test]
fn a_host_entry_changed_by_hand_after_the_plan_is_not_removed_from_a_libvirt_network() {
    use crate::libvirt_common::{dhcp_network, host_lines, start, virsh_ok, workdir};
    let lv = start();
    let wd = workdir(&lv);
    let network = dhcp_network("trustd", "rktrust1", 64);
    let lease = r#"
resource "rack_dhcp_lease" "l" {
  subnet   = "10.10.64.0/24"
  mac      = "02:00:00:64:00:01"
  ip       = "10.10.64.20"
  hostname = "node0"

  depends_on = [rack_network.trustd]
}
"#;
    wd.write_main(&format!("{network}{lease}"));
    wd.apply();
    let hosts = || -> Vec<String> {
        host_lines(&lv, "trustd")
            .iter()
            .map(|l| l.trim().to_string())
            .collect()
    };
    assert_eq!(hosts().len(), 1, "{:?}", hosts());

    // The lease leaves the configuration; after the plan, an operator moves the entry.
    wd.write_main(&network);
    wd.save_plan("remove.tfplan");
    virsh_ok(
        &lv,
        &[
            "net-update",
            "trustd",
            "modify",
            "ip-dhcp-host",
            "<host mac='02:00:00:64:00:01' name='by-hand' ip='10.10.64.99'/>",
            "--live",
            "--config",
        ],
    );
    let by_hand = hosts();

    let out = wd.apply_saved("remove.tfplan").failure();
    let text = flat(&out.stderr);
    assert!(
        text.contains("02:00:00:64:00:01")
            && text.contains("changed outside")
            && text.contains("10.10.64.99"),
        "{out}"
    );
    assert_eq!(hosts(), by_hand, "the hand-made entry was changed");
    let listed = wd.run(&["state", "list", "-no-color"]).success();
    assert!(
        listed.stdout.contains("rack_dhcp_lease.l"),
        "the lease left the state: {listed}"
    );

    // A plan that refreshes first sees the entry as it is now, and removes it.
    wd.apply();
    assert!(hosts().is_empty(), "{:?}", hosts());
    wd.assert_plan_empty();
    wd.destroy();
}
