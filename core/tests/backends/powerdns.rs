//! The PowerDNS API client against a real pdns_server.

use crate::support::{TIMEOUT, pdns_api};
use rack_core::powerdns::{NewZone, PowerDnsClient, PowerDnsError, TSIG_ALLOW_DNSUPDATE, ZoneKind};
use rack_lab::{PowerDns, process};

#[tokio::test]
async fn zone_lifecycle_and_update_key() {
    let pdns = PowerDns::started();
    let c = pdns_api(&pdns);
    let zone = "pdns.example.";

    assert_eq!(c.get_zone(zone).await.unwrap(), None);
    let created = c
        .create_zone(&NewZone {
            name: zone.into(),
            kind: ZoneKind::Native,
            nameservers: vec!["ns1.pdns.example.".into()],
            soa: Some(
                "ns1.pdns.example. hostmaster.pdns.example. 2024010101 3600 600 86400 300".into(),
            ),
            soa_ttl: 300,
        })
        .await
        .unwrap();
    assert_eq!(created.name, zone);

    let got = c.get_zone(zone).await.unwrap().expect("zone exists");
    assert_eq!(got.kind, "Native");
    assert!(got.serial >= 2024010101, "serial {}", got.serial);
    assert!(got.rrset(zone, "SOA").is_some(), "{got:?}");
    let ns = got.rrset(zone, "NS").expect("NS rrset");
    assert_eq!(ns.records[0].content, "ns1.pdns.example.");

    assert_eq!(
        process::dns_soa(pdns.dns_addr, zone),
        Some((0, 1)),
        "{}",
        pdns.log_tail()
    );

    let dup = c
        .create_zone(&NewZone {
            name: zone.into(),
            kind: ZoneKind::Master,
            nameservers: vec!["ns1.pdns.example.".into()],
            soa: None,
            soa_ttl: 300,
        })
        .await
        .unwrap_err();
    assert!(dup.is_conflict(), "{dup:?}");

    let key = c
        .create_tsig_key(
            "rack-update",
            "hmac-sha256",
            "cmFjay11cGRhdGUtc2VjcmV0LXJhY2stdXBkYXRlIQ==",
        )
        .await
        .unwrap();
    assert_eq!(key.name, "rack-update");
    c.allow_updates_with_key(zone, &key.name).await.unwrap();
    assert_eq!(
        c.get_metadata(zone, TSIG_ALLOW_DNSUPDATE).await.unwrap(),
        vec!["rack-update".to_string()]
    );

    assert!(c.delete_zone(zone).await.unwrap());
    assert_eq!(c.get_zone(zone).await.unwrap(), None);
    assert!(!c.delete_zone(zone).await.unwrap());
    assert!(c.delete_tsig_key(&key.id).await.unwrap());
}

#[tokio::test]
async fn wrong_api_key_is_a_clear_error() {
    let pdns = PowerDns::started();
    let c = PowerDnsClient::new(&pdns.api_url, "not-the-key", TIMEOUT).unwrap();
    let e = c.get_zone("x.").await.unwrap_err();
    assert!(matches!(e, PowerDnsError::Unauthorized { .. }), "{e:?}");
    assert!(e.to_string().contains("api-key"), "{e}");
    assert!(!e.to_string().contains(&pdns.api_key));
}

#[tokio::test]
async fn closed_port_is_a_connect_error() {
    let port = process::free_port().unwrap();
    let c = PowerDnsClient::new(&format!("http://127.0.0.1:{port}"), "k", TIMEOUT).unwrap();
    let e = c.get_zone("x.").await.unwrap_err();
    assert!(matches!(e, PowerDnsError::Connect { .. }), "{e:?}");
}
