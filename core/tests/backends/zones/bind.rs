//! `BindZones` against a real named.

use super::common::{self, SERIAL, name, spec};
use crate::support::rndc;
use rack_core::zones::{BindZones, ZoneError, ZoneManager, render_zone_file};
use rack_lab::Named;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn zones(named: &Named, dir: PathBuf, key: Option<&str>) -> BindZones {
    BindZones::new(rndc(named), dir, key.map(str::to_owned))
}

fn tsig(named: &Named) -> (String, String) {
    (named.tsig.name.clone(), named.tsig.secret.clone())
}

/// Files in `dir` whose name starts with a dot (rack's temporary files).
fn hidden_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

fn wait_gone(path: &Path) -> bool {
    // named removes the files of `delzone -clean` shortly after answering.
    let deadline = Instant::now() + Duration::from_secs(5);
    while path.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    !path.exists()
}

#[tokio::test]
async fn create_serve_update_and_delete() {
    let named = Named::started();
    let z = zones(&named, named.zone_dir.clone(), Some(&named.tsig.name));
    let lab = name("lab.");
    let s = spec("lab.");
    let file = named.zone_dir.join("lab.db");

    assert!(!z.exists(&lab).await.unwrap());
    z.create(&s)
        .await
        .unwrap_or_else(|e| panic!("{e}: {:?}\n{}", e, named.log_tail()));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        render_zone_file(&s)
    );
    assert!(hidden_files(&named.zone_dir).is_empty());

    let (serial, ns) = common::served_soa_and_ns(named.dns_addr, &lab);
    assert_eq!(serial, SERIAL, "{}", named.log_tail());
    assert_eq!(ns, vec!["ns1.farm.", "ns2.farm."]);
    assert!(z.exists(&lab).await.unwrap());

    // The update key may change the zone and transfer it.
    let out = common::signed_update(named.dns_addr, &lab, &tsig(&named));
    assert!(out.starts_with("exit status: 0"), "nsupdate: {out}");
    let axfr = common::signed_axfr(named.dns_addr, &lab, &tsig(&named));
    assert!(axfr.contains("www.lab."), "AXFR: {axfr}");
    assert!(axfr.contains("192.0.2.1"), "AXFR: {axfr}");

    // A second create leaves the served zone and its file alone.
    let before = std::fs::read_to_string(&file).unwrap();
    let e = z.create(&s).await.unwrap_err();
    assert!(matches!(e, ZoneError::Exists { .. }), "{e:?}");
    assert_eq!(e.to_string(), "Zone lab. already exists on the server");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), before);
    assert_eq!(common::soa_rcode(named.dns_addr, &lab), 0);

    assert!(z.delete(&lab).await.unwrap());
    assert!(!z.delete(&lab).await.unwrap());
    assert!(!z.exists(&lab).await.unwrap());
    assert_eq!(
        common::soa_rcode(named.dns_addr, &lab),
        5,
        "REFUSED once gone"
    );
    assert!(wait_gone(&file), "delete left {}", file.display());
    assert!(wait_gone(&file.with_extension("db.jnl")), "journal left");
}

#[tokio::test]
async fn without_key_updates_are_refused() {
    let named = Named::started();
    let z = zones(&named, named.zone_dir.clone(), None);
    let lab = name("open.");
    z.create(&spec("open.")).await.unwrap();
    assert_eq!(common::served_soa_and_ns(named.dns_addr, &lab).0, SERIAL);
    let out = common::signed_update(named.dns_addr, &lab, &tsig(&named));
    assert!(out.contains("REFUSED"), "nsupdate: {out}");
    assert!(z.delete(&lab).await.unwrap());
}

#[tokio::test]
async fn missing_zone_directory_is_a_clear_error_and_adds_nothing() {
    let named = Named::started();
    let missing = named.dir().join("no-such-dir");
    let z = zones(&named, missing.clone(), Some(&named.tsig.name));
    let lab = name("lab.");
    let e = z.create(&spec("lab.")).await.unwrap_err();
    assert!(matches!(e, ZoneError::WriteZoneFile { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("zone_directory"), "{msg}");
    assert!(msg.contains(&missing.display().to_string()), "{msg}");
    assert!(!z.exists(&lab).await.unwrap());
    assert!(!missing.exists());
}

#[tokio::test]
async fn refused_addzone_removes_the_zone_file() {
    let named = Named::started();
    let z = zones(&named, named.zone_dir.clone(), Some(&named.tsig.name));
    let lab = name("lab.");
    // named does not load a primary zone whose NS target is not a valid host name
    // (`check-names primary fail`, the default), so addzone fails after rack wrote the file.
    let mut s = spec("lab.");
    s.nameservers = vec![name("ns_1.farm.")];
    let e = z.create(&s).await.unwrap_err();
    assert!(matches!(e, ZoneError::Bind { .. }), "{e:?}");
    eprintln!("{e}: {:?}", std::error::Error::source(&e));
    assert!(e.to_string().contains("allow-new-zones"), "{e}");
    assert!(!named.zone_dir.join("lab.db").exists());
    assert!(hidden_files(&named.zone_dir).is_empty());
    assert!(!z.exists(&lab).await.unwrap());
}

#[tokio::test]
async fn zone_in_named_conf_is_reported_as_existing() {
    let named = Named::started();
    let z = zones(&named, named.zone_dir.clone(), Some(&named.tsig.name));
    let farm = name("farm.");
    assert!(z.exists(&farm).await.unwrap());
    let before = std::fs::read_to_string(named.zone_dir.join("farm.db")).unwrap();
    let mut s = spec("farm.");
    s.nameservers = vec![name("ns1.example.")];
    let e = z.create(&s).await.unwrap_err();
    assert!(matches!(e, ZoneError::Exists { .. }), "{e:?}");
    assert_eq!(
        std::fs::read_to_string(named.zone_dir.join("farm.db")).unwrap(),
        before
    );
}
