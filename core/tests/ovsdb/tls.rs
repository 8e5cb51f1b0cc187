//! `ssl:` switches: ovsdb-server with a `pssl:` remote and certificates the test makes.

use rack_core::kea::Secret;
use rack_core::ovsdb::{SwitchClient, SwitchConfig};
use rack_lab::{Ovs, OvsMode, OvsPki};

fn config(ovs: &Ovs, pki: &OvsPki, client: &str) -> SwitchConfig {
    let mut c = SwitchConfig::new(ovs.address());
    c.ca_cert_pem = Some(pki.pem("ca.pem").unwrap());
    c.client_cert_pem = Some(pki.pem(&format!("{client}.pem")).unwrap());
    c.client_key_pem = Some(Secret::new(pki.pem(&format!("{client}.key")).unwrap()));
    c
}

#[tokio::test]
async fn a_client_certificate_of_the_switch_ca_reads_and_another_is_refused() {
    let pki = OvsPki::create().unwrap();
    let ovs = Ovs::start_with(OvsMode::Dummy, Some(&pki.server())).unwrap();
    assert!(ovs.address().starts_with("ssl:127.0.0.1:"));
    let good = SwitchClient::new(config(&ovs, &pki, "client")).unwrap();
    let snap = good.snapshot().await.unwrap();
    assert!(snap.bridge_names().is_empty());

    let rogue = SwitchClient::new(config(&ovs, &pki, "rogue")).unwrap();
    let e = rogue.snapshot().await.unwrap_err().to_string();
    assert!(
        e.starts_with("Cannot reach the switch at ssl:127.0.0.1:"),
        "{e}"
    );
    assert!(
        e.contains("certificate"),
        "the message points at the certificate: {e}"
    );

    let mut wrong_ca = config(&ovs, &pki, "client");
    wrong_ca.ca_cert_pem = Some(pki.pem("rogue-ca.pem").unwrap());
    let e = SwitchClient::new(wrong_ca)
        .unwrap()
        .snapshot()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("TLS handshake failed") && e.contains("certificate"),
        "{e}"
    );
}
