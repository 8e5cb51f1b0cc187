//! `PowerDnsZones` against a real pdns_server.

use super::common::{self, SERIAL, name, spec};
use crate::support::pdns_api;
use rack_core::powerdns::{TSIG_ALLOW_AXFR, TSIG_ALLOW_DNSUPDATE};
use rack_core::zones::{PowerDnsZones, ZoneError, ZoneManager};
use rack_lab::PowerDns;

const KEY: &str = "rack-update";
const SECRET: &str = "cmFjay11cGRhdGUtc2VjcmV0LXJhY2stdXBkYXRlIQ==";

#[tokio::test]
async fn create_serve_update_and_delete() {
    let pdns = PowerDns::started();
    let client = pdns_api(&pdns);
    client
        .create_tsig_key(KEY, "hmac-sha256", SECRET)
        .await
        .unwrap();
    let z = PowerDnsZones::new(client.clone(), Some(KEY.to_owned()));
    let lab = name("lab.");
    let key = (KEY.to_owned(), SECRET.to_owned());

    assert!(!z.exists(&lab).await.unwrap());
    z.create(&spec("lab."))
        .await
        .unwrap_or_else(|e| panic!("{e}: {e:?}\n{}", pdns.log_tail()));
    assert!(z.exists(&lab).await.unwrap());

    let (serial, ns) = common::served_soa_and_ns(pdns.dns_addr, &lab);
    eprintln!("served serial {serial}");
    assert!(serial >= SERIAL, "serial {serial}");
    assert_eq!(ns, vec!["ns1.farm.", "ns2.farm."]);
    let stored = client.get_zone("lab.").await.unwrap().unwrap();
    eprintln!(
        "kind {}, SOA {:?}, NS ttl {:?}",
        stored.kind,
        stored
            .rrset("lab.", "SOA")
            .map(|r| (r.ttl, r.records[0].content.clone())),
        stored.rrset("lab.", "NS").map(|r| r.ttl)
    );
    assert_eq!(stored.kind, "Native");
    assert_eq!(
        client
            .get_metadata("lab.", TSIG_ALLOW_DNSUPDATE)
            .await
            .unwrap(),
        vec![KEY.to_string()]
    );
    // Set through the zone's master_tsig_key_ids, PowerDNS stores the key name absolute.
    assert_eq!(
        client.get_metadata("lab.", TSIG_ALLOW_AXFR).await.unwrap(),
        vec![format!("{KEY}.")]
    );

    let out = common::signed_update(pdns.dns_addr, &lab, &key);
    assert!(
        out.starts_with("exit status: 0"),
        "nsupdate: {out}\n{}",
        pdns.log_tail()
    );
    let axfr = common::signed_axfr(pdns.dns_addr, &lab, &key);
    assert!(
        axfr.contains("192.0.2.1"),
        "AXFR: {axfr}\n{}",
        pdns.log_tail()
    );

    let e = z.create(&spec("lab.")).await.unwrap_err();
    assert!(matches!(e, ZoneError::Exists { .. }), "{e:?}");

    assert!(z.delete(&lab).await.unwrap());
    assert!(!z.delete(&lab).await.unwrap());
    assert!(!z.exists(&lab).await.unwrap());
}

#[tokio::test]
async fn unknown_update_key_leaves_no_zone_behind() {
    let pdns = PowerDns::started();
    let client = pdns_api(&pdns);
    let z = PowerDnsZones::new(client, Some("rack-no-such-key".to_owned()));
    let lab = name("lab.");
    let e = z.create(&spec("lab.")).await.unwrap_err();
    assert!(matches!(e, ZoneError::PowerDns { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("update key"), "{msg}");
    assert!(!z.exists(&lab).await.unwrap(), "zone left behind");
}
