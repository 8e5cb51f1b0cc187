//! The PostgreSQL fixture against the real server: it starts with Kea's schema, a Kea
//! uses it as its host database, and dropping it stops the server and removes its dir.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rack_lab::{Kea, Postgres};

#[test]
fn postgres_holds_keas_schema_and_kea_uses_it() {
    let pg = Postgres::started();
    assert_eq!(
        pg.sql("SELECT version, minor FROM schema_version;")
            .unwrap()
            .trim(),
        "13|0"
    );
    let pid = pg.pid();
    assert_ne!(pid, 0);
    let dir = pg.dir().to_owned();

    let kea = Kea::start_with_hosts_database(&pg.kea_hosts_database())
        .unwrap_or_else(|e| panic!("Kea with the hosts database: {e}\n{}", pg.log_tail()));
    let log = std::fs::read_to_string(kea.dhcp4_log()).unwrap();
    assert!(log.contains("postgresql"), "{log}");
    drop(kea);

    drop(pg);
    // pg_ctl daemonises the postmaster, so it is an orphan that the system reaps a
    // little later: a zombie counts as stopped.
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let running = state
        .rsplit_once(") ")
        .is_some_and(|(_, rest)| !rest.starts_with('Z'));
    assert!(!running, "the postmaster {pid} still runs: {state}");
    assert!(!dir.exists(), "{} is left behind", dir.display());
}
