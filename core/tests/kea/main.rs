//! The Kea client against a real kea-dhcp4 and kea-ctrl-agent (Kea 2.2 in Debian 12),
//! with busybox udhcpc as the DHCP client in a network namespace of the fixture's own.
//! They fail (never skip) naming the missing binary when Kea or busybox is absent.
//! `hostdb` does the same with the reservations in Kea's PostgreSQL host database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod hostdb;
mod trust;

use rack_core::Cidr;
use rack_core::kea::{
    Change, ConfigError, HostIdentifier, KeaClient, KeaConfig, KeaError, LeaseQuery, OptionData,
    Reservation, Secret,
};
use rack_lab::Kea;
use rack_lab::kea::DhcpLease;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn start() -> Kea {
    match Kea::start() {
        Ok(k) => {
            eprintln!(
                "Kea ready in {:?} (kea-dhcp4 pid {})",
                k.startup,
                k.dhcp4_pid()
            );
            k
        }
        Err(e) => panic!("cannot start the Kea fixture: {e}"),
    }
}

fn client(kea: &Kea) -> KeaClient {
    let mut config =
        KeaConfig::new(&kea.url).with_basic_auth(&kea.username, Secret::new(&kea.password));
    config.timeout = Duration::from_secs(10);
    KeaClient::new(config).unwrap()
}

fn subnet() -> Cidr {
    rack_lab::kea::SUBNET.parse().unwrap()
}

fn mac(s: &str) -> HostIdentifier {
    HostIdentifier::HwAddress(s.parse().unwrap())
}

fn reservation(mac_text: &str, ip: &str) -> Reservation {
    let mut r = Reservation::new(subnet(), mac(mac_text));
    r.ip_address = Some(ip.parse().unwrap());
    r
}

/// The configuration as `config-get` answers it through the fixture's raw channel.
fn raw_config(kea: &Kea) -> Value {
    let (status, body) = kea
        .command(r#"{"command":"config-get","service":["dhcp4"]}"#)
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let mut args = v[0]["arguments"].clone();
    args.as_object_mut().unwrap().shift_remove("hash");
    args
}

/// Adds a reservation entry behind the client's back with a raw config-get/config-set.
fn add_out_of_band(kea: &Kea, entry: Value) {
    let mut config = raw_config(kea);
    config["Dhcp4"]["subnet4"][0]["reservations"]
        .as_array_mut()
        .unwrap()
        .push(entry);
    let cmd = json!({"command": "config-set", "service": ["dhcp4"], "arguments": config});
    let (status, body) = kea.command(&cmd.to_string()).unwrap();
    assert!(
        status == 200 && body.contains("\"result\": 0"),
        "{status} {body}"
    );
}

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

/// A PXE client's reservation: address, hostname, next-server, boot file and options.
fn pxe_reservation() -> Reservation {
    let mut r = reservation("02:00:00:00:00:01", "10.77.0.42");
    r.hostname = Some("node1".into());
    r.next_server = Some("10.77.0.5".parse().unwrap());
    r.boot_file_name = Some("pxelinux.0".into());
    r.option_data = vec![
        OptionData::by_code(67, "boot/grubx64.efi"),
        OptionData::by_code(114, "http://portal.example/"),
    ];
    r
}

/// What `udhcpc` (asking for options 67 and 114) gets for [`pxe_reservation`].
fn assert_pxe_lease(lease: &DhcpLease) {
    assert_eq!(lease.ip, "10.77.0.42");
    assert_eq!(lease.siaddr.as_deref(), Some("10.77.0.5"));
    assert_eq!(lease.boot_file.as_deref(), Some("pxelinux.0"));
    assert_eq!(
        lease.options.get("hostname").map(String::as_str),
        Some("node1")
    );
    assert_eq!(
        lease.options.get("bootfile").map(String::as_str),
        Some("boot/grubx64.efi"),
        "{lease:?}"
    );
    assert_eq!(
        lease.options.get("opt114"),
        Some(&hex("http://portal.example/")),
        "{lease:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservation_lifecycle_reaches_a_dhcp_client() {
    let kea = start();
    let c = client(&kea);
    let before = raw_config(&kea);

    let r = pxe_reservation();
    c.apply(Change::Add(r.clone())).await.unwrap();

    // The reservation is there, and nothing else moved.
    let after = raw_config(&kea);
    let entries = after["Dhcp4"]["subnet4"][0]["reservations"]
        .as_array()
        .unwrap();
    assert_eq!(entries.len(), 1, "{after}");
    assert_eq!(entries[0]["hostname"], "node1");
    let mut stripped = after.clone();
    stripped["Dhcp4"]["subnet4"][0]["reservations"] = json!([]);
    assert_eq!(
        serde_json::to_string(&stripped).unwrap(),
        serde_json::to_string(&before).unwrap(),
        "only the reservation may change"
    );
    // config-write persisted it.
    let file = std::fs::read_to_string(&kea.config_file).unwrap();
    assert!(file.contains("pxelinux.0"), "{file}");
    // Reads come from the configuration Kea reports.
    let read = c.reservations(subnet()).await.unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].ip_address, r.ip_address);
    assert_eq!(read[0].next_server, r.next_server);
    assert_eq!(read[0].boot_file_name, r.boot_file_name);

    let started = Instant::now();
    let lease = kea.udhcpc("02:00:00:00:00:01", &[67, 114]).unwrap();
    eprintln!("udhcpc: {:?} in {:?}", lease, started.elapsed());
    assert_pxe_lease(&lease);

    // Update in place: a new address, same place in the list.
    let mut moved = r.clone();
    moved.ip_address = Some("10.77.0.43".parse().unwrap());
    c.apply(Change::Replace(moved)).await.unwrap();
    let read = c.reservations(subnet()).await.unwrap();
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].ip_address, Some("10.77.0.43".parse().unwrap()));
    let lease = kea.udhcpc("02:00:00:00:00:01", &[]).unwrap();
    assert_eq!(lease.ip, "10.77.0.43");

    // Active leases, by subnet and by MAC.
    let leases = c.leases(LeaseQuery::Subnet(subnet())).await.unwrap();
    assert!(
        leases
            .iter()
            .any(|l| l.ip_address.to_string() == "10.77.0.43"
                && l.hw_address == Some("02:00:00:00:00:01".parse().unwrap())),
        "{leases:?}"
    );
    let by_mac = c
        .leases(LeaseQuery::HwAddress("02:00:00:00:00:01".parse().unwrap()))
        .await
        .unwrap();
    assert!(!by_mac.is_empty(), "{by_mac:?}");
    let none = c
        .leases(LeaseQuery::HwAddress("02:00:00:00:00:99".parse().unwrap()))
        .await
        .unwrap();
    assert!(none.is_empty(), "{none:?}");

    // Delete.
    c.apply(Change::Remove {
        subnet: subnet(),
        identifier: mac("02:00:00:00:00:01"),
    })
    .await
    .unwrap();
    assert!(c.reservations(subnet()).await.unwrap().is_empty());
    let after_delete = raw_config(&kea);
    assert_eq!(
        serde_json::to_string(&after_delete).unwrap(),
        serde_json::to_string(&before).unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_with_reservations_made_outside_rack_name_the_entry() {
    let kea = start();
    add_out_of_band(
        &kea,
        json!({"hw-address": "02:00:00:00:00:AA", "ip-address": "10.77.0.60", "hostname": "handmade"}),
    );
    let c = client(&kea);

    let e = c
        .apply(Change::Add(reservation("02:00:00:00:00:aa", "10.77.0.61")))
        .await
        .unwrap_err();
    assert!(
        matches!(e, KeaError::Config(ConfigError::Conflict { .. })),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("hostname handmade") && text.contains("same MAC address 02:00:00:00:00:aa"),
        "{text}"
    );

    let e = c
        .apply(Change::Add(reservation("02:00:00:00:00:bb", "10.77.0.60")))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("hostname handmade") && e.contains("same IP address 10.77.0.60"),
        "{e}"
    );
    // Refused changes send no config-set: list-commands and one config-get only.
    assert_eq!(c.calls_made(), 2);
    assert_eq!(c.reservations(subnet()).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_changes_coalesce_into_few_config_sets() {
    let kea = start();
    let c = client(&kea);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50u8 {
        let c = c.clone();
        tasks.spawn(async move {
            let r = reservation(
                &format!("02:00:00:00:01:{i:02x}"),
                &format!("10.77.0.{}", i + 2),
            );
            c.apply(Change::Add(r)).await
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap();
    }
    let calls = c.calls_made();
    eprintln!("50 changes: {calls} calls in {:?}", started.elapsed());
    // list-commands, then per batch config-get (base and check: the cache was empty),
    // config-set, config-write. 50 one-by-one writes would be 150 calls.
    assert!(calls <= 10, "{calls} calls for 50 changes");
    let read = c.reservations(subnet()).await.unwrap();
    assert_eq!(read.len(), 50);
    // One config-get per process for reads: these come from the cache.
    let cached = c.calls_made();
    c.reservations(subnet()).await.unwrap();
    c.configuration().await.unwrap();
    assert_eq!(c.calls_made(), cached);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_underneath_is_kept_and_ours_applied_onto_it() {
    let kea = start();
    let c = client(&kea);
    assert!(c.reservations(subnet()).await.unwrap().is_empty());
    // Someone edits the configuration after our read, before our write.
    add_out_of_band(
        &kea,
        json!({"hw-address": "02:00:00:00:00:cc", "ip-address": "10.77.0.70"}),
    );
    c.apply(Change::Add(reservation("02:00:00:00:00:01", "10.77.0.71")))
        .await
        .unwrap();
    let config = raw_config(&kea);
    let entries = config["Dhcp4"]["subnet4"][0]["reservations"]
        .as_array()
        .unwrap();
    assert_eq!(entries.len(), 2, "both, theirs kept: {config}");
    // The read-back refilled the cache with the server's configuration.
    let calls = c.calls_made();
    assert_eq!(c.reservations(subnet()).await.unwrap().len(), 2);
    assert_eq!(c.calls_made(), calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kea_rejections_show_kea_text_and_spare_the_neighbours() {
    let kea = start();
    let c = client(&kea);
    let mut bad = reservation("02:00:00:00:00:01", "10.77.0.80");
    bad.option_data = vec![OptionData::by_name("no-such-option", "x")];
    let good = reservation("02:00:00:00:00:02", "10.77.0.81");
    let (bad_result, good_result) = tokio::join!(
        c.apply(Change::Add(bad)),
        c.apply(Change::Add(good.clone()))
    );
    let e = bad_result.unwrap_err();
    assert!(matches!(e, KeaError::ConfigRejected { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("dhcp4.no-such-option' does not exist"),
        "{e}"
    );
    good_result.unwrap();
    let read = c.reservations(subnet()).await.unwrap();
    assert_eq!(read, vec![good]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_stopped_server_and_stopped_agent_are_distinct_errors() {
    let mut kea = start();
    let mut config = KeaConfig::new(&kea.url).with_basic_auth("rack", Secret::new("wrong"));
    config.timeout = Duration::from_secs(10);
    let wrong = KeaClient::new(config).unwrap();
    let e = wrong.reservations(subnet()).await.unwrap_err();
    assert!(
        matches!(e, KeaError::AuthRefused { status: 401, .. }),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("check the username and password"),
        "{e}"
    );
    assert!(!format!("{e:?}").contains("wrong"), "{e:?}");

    let c = client(&kea);
    let e = c
        .reservations(Cidr::new("10.99.0.0".parse().unwrap(), 24).unwrap())
        .await;
    let e = e.unwrap_err().to_string();
    assert!(e.contains("10.77.0.0/24"), "{e}");

    // The agent answers, the server behind it does not.
    kea.stop_dhcp4();
    let e = client(&kea).reservations(subnet()).await.unwrap_err();
    assert!(matches!(e, KeaError::ServerUnavailable { .. }), "{e:?}");
    assert!(e.to_string().contains("check that kea-dhcp4 runs"), "{e}");

    kea.stop_agent();
    let fresh = client(&kea);
    let e = fresh.reservations(subnet()).await.unwrap_err();
    assert!(matches!(e, KeaError::Unreachable { .. }), "{e:?}");
    assert!(e.to_string().contains(&kea.url), "{e}");
}
