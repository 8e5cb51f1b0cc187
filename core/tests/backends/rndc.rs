//! The native rndc client against a real named.

use crate::support::{TIMEOUT, rndc, rndc_key, rndc_with};
use rack_core::rndc::{RndcAlgorithm, RndcClient, RndcError, RndcKey};
use rack_lab::{Named, process};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

#[tokio::test]
async fn status_answers() {
    let named = Named::started();
    let text = rndc(&named).status().await.unwrap();
    assert!(text.contains("server is up and running"), "{text}");
}

#[tokio::test]
async fn legacy_hmac_md5_key_works() {
    let named = Named::started();
    let k = &named.rndc_md5_key;
    let c = rndc_with(
        &named,
        RndcKey {
            name: k.name.clone(),
            algorithm: RndcAlgorithm::HmacMd5,
            secret: k.secret.clone(),
        },
    );
    let text = c.status().await.unwrap();
    assert!(text.contains("server is up and running"), "{text}");
}

#[tokio::test]
async fn addzone_showzone_reload_delzone() {
    let named = Named::started();
    let c = rndc(&named);
    let zone = "lab.example.";
    let file = named.write_zone_file(zone).unwrap();
    let path = named.zone_dir.join(&file);

    assert_eq!(c.showzone(zone).await.unwrap(), None);
    let t = Instant::now();
    c.addzone(zone, &format!(r#"type primary; file "{file}";"#))
        .await
        .unwrap();
    eprintln!("addzone took {:?}", t.elapsed());

    let (rcode, answers) = process::dns_soa(named.dns_addr, zone).expect("no DNS answer");
    assert_eq!((rcode, answers), (0, 1), "SOA of the new zone");

    let shown = c.showzone(zone).await.unwrap().expect("zone is shown");
    assert!(shown.contains("lab.example"), "{shown}");
    assert!(shown.contains(&file), "{shown}");

    c.reload(zone).await.unwrap();

    let again = c
        .addzone(zone, &format!(r#"{{ type primary; file "{file}"; }};"#))
        .await
        .unwrap_err();
    assert!(again.is_exists(), "{again}");
    assert!(again.to_string().contains("already exists"), "{again}");

    c.delzone(zone, true).await.unwrap();
    assert_eq!(c.showzone(zone).await.unwrap(), None);
    let (rcode, _) = process::dns_soa(named.dns_addr, zone).expect("no DNS answer");
    assert_eq!(rcode, 5, "REFUSED once the zone is gone");
    // -clean removes the zone file (named does it shortly after answering).
    let deadline = Instant::now() + Duration::from_secs(5);
    while path.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!path.exists(), "delzone -clean left {}", path.display());

    let gone = c.delzone(zone, true).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
}

#[tokio::test]
async fn initial_zone_is_served() {
    let named = Named::started();
    assert_eq!(
        process::dns_soa(named.dns_addr, "farm."),
        Some((0, 1)),
        "{}",
        named.log_tail()
    );
}

#[tokio::test]
async fn wrong_secret_is_an_authentication_error() {
    let named = Named::started();
    let wrong = "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCB3cm9uZyE=";
    let c = rndc_with(
        &named,
        RndcKey {
            algorithm: RndcAlgorithm::HmacSha256,
            secret: wrong.into(),
            ..rndc_key(&named)
        },
    );
    let e = c.status().await.unwrap_err();
    assert!(matches!(e, RndcError::Auth { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("Authentication"), "{msg}");
    assert!(!msg.contains("d3Jvbmcg"), "secret leaked: {msg}");
}

#[tokio::test]
async fn wrong_algorithm_is_an_authentication_error() {
    let named = Named::started();
    let c = rndc_with(
        &named,
        RndcKey {
            algorithm: RndcAlgorithm::HmacSha512,
            ..rndc_key(&named)
        },
    );
    let e = c.status().await.unwrap_err();
    assert!(matches!(e, RndcError::Auth { .. }), "{e:?}");
}

#[tokio::test]
async fn closed_port_is_a_connect_error() {
    let port = process::free_port().unwrap();
    let c = RndcClient::new(
        SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
        RndcKey {
            name: "k".into(),
            algorithm: RndcAlgorithm::HmacSha256,
            secret: "c2VjcmV0".into(),
        },
        TIMEOUT,
    );
    let e = c.status().await.unwrap_err();
    assert!(matches!(e, RndcError::Connect { .. }), "{e:?}");
    assert!(e.to_string().contains("controls"), "{e}");
}
