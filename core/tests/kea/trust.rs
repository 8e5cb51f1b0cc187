//! The Kea client when it is not the only writer: two clients writing at once lose
//! nothing they report as written, a change checked against what was read is refused
//! when the reservation changed since, an add of what is already there is kept, and the
//! read-back recognises every kind of option rack writes.

use std::sync::Arc;

use rack_core::kea::{Change, ConfigError, Expect, KeaError, OptionData, Reservation};
use serde_json::json;

use super::{add_out_of_band, client, raw_config, reservation, start, subnet};
use rack_lab::Kea;

fn held(kea: &Kea) -> Vec<String> {
    raw_config(kea)["Dhcp4"]["subnet4"][0]["reservations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|r| r["hw-address"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_writing_at_once_lose_nothing_they_report_written() {
    let kea = start();
    // Two processes' worth of clients: separate caches and write queues.
    let (a, b) = (client(&kea), client(&kea));
    let mut written = Vec::new();
    // Rounds of 20 changes, 10 per client, each round racing anew.
    for round in 0..6u16 {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..20u16 {
            let c = if i % 2 == 0 { a.clone() } else { b.clone() };
            let n = round * 20 + i;
            // Addresses 10.77.0.2 up, around the fixture's pool (.100-.150).
            let host = if n + 2 < 100 { n + 2 } else { n + 53 };
            tasks.spawn(async move {
                let m = format!("02:00:00:00:{:02x}:{:02x}", round + 2, i);
                let r = reservation(&m, &format!("10.77.0.{host}"));
                (m, c.apply(Change::Add(r)).await)
            });
        }
        while let Some(done) = tasks.join_next().await {
            let (m, result) = done.unwrap();
            match result {
                Ok(()) => written.push(m),
                Err(e) => assert!(matches!(e, KeaError::ConcurrentChange { .. }), "{e}"),
            }
        }
    }
    let now = held(&kea);
    let lost: Vec<&String> = written.iter().filter(|m| !now.contains(m)).collect();
    assert!(lost.is_empty(), "reported written, not in Kea: {lost:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_over_a_reservation_changed_since_it_was_read_is_refused() {
    let kea = start();
    let c = client(&kea);
    let mut first = reservation("02:00:00:00:00:e1", "10.77.0.90");
    first.hostname = Some("one".into());
    c.apply(Change::Add(first.clone())).await.unwrap();
    // By hand: another hostname.
    let mut config = raw_config(&kea);
    config["Dhcp4"]["subnet4"][0]["reservations"][0]["hostname"] = json!("by-hand");
    let cmd = json!({"command": "config-set", "service": ["dhcp4"], "arguments": config});
    let (status, body) = kea.command(&cmd.to_string()).unwrap();
    assert!(status == 200 && body.contains("\"result\": 0"), "{body}");

    let mut second = first.clone();
    second.hostname = Some("two".into());
    let read = first.clone();
    let expect: Expect =
        Arc::new(move |now: Option<&Reservation>| now.is_none_or(|n| n.same_as(&read)));
    let e = c
        .apply_expecting(Change::Replace(second), expect)
        .await
        .unwrap_err();
    match &e {
        KeaError::Config(ConfigError::Changed { found, .. }) => {
            assert!(found.contains("by-hand"), "{e}")
        }
        other => panic!("expected Changed, got {other:?}"),
    }
    assert!(e.to_string().contains("02:00:00:00:00:e1"), "{e}");
    let config = raw_config(&kea);
    assert_eq!(
        config["Dhcp4"]["subnet4"][0]["reservations"][0]["hostname"],
        json!("by-hand")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_what_is_already_there_succeeds_and_options_read_back() {
    let kea = start();
    let c = client(&kea);
    let mut r = reservation("02:00:00:00:00:e2", "10.77.0.91");
    r.next_server = Some("10.77.0.1".parse().unwrap());
    r.boot_file_name = Some("pxelinux.0".into());
    r.option_data = vec![
        OptionData::by_code(3, "10.77.0.1"),
        OptionData::by_code(67, "http://10.77.0.1/boot.ipxe"),
        // Site-specific, no definition in Kea: hex.
        OptionData::by_code(240, "687474703a2f2f782f"),
    ];
    // Written by someone else first, exactly as rack would.
    add_out_of_band(&kea, r.to_kea_json());
    c.apply(Change::Add(r.clone())).await.unwrap();
    assert_eq!(c.reservations(subnet()).await.unwrap().len(), 1);
    // And written by rack: the read-back finds it (no retries, no failure).
    let mut s = reservation("02:00:00:00:00:e3", "10.77.0.92");
    s.option_data = r.option_data.clone();
    c.apply(Change::Add(s)).await.unwrap();
    assert_eq!(c.reservations(subnet()).await.unwrap().len(), 2);
}
