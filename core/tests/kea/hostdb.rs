//! Reservations in Kea's PostgreSQL host database: a real PostgreSQL 15 with Kea's schema
//! (`kea-admin db-init pgsql`) and a kea-dhcp4 using it as its `hosts-database`, from the
//! lab; what the client writes is checked in the rows, read back, and served to busybox
//! `udhcpc`.

use std::sync::Arc;

use rack_core::dhcp::options::same_reservation;
use rack_core::dhcp::{DhcpBackend, DhcpError, KeaHostDbBackend};
use rack_core::kea::hostdb::{HostDbClient, HostDbConfig, HostDbError, Request, SubnetIds};
use rack_core::kea::{Change, ConfigError, OptionData, Reservation, Secret};
use rack_lab::{Kea, Postgres};

use super::{assert_pxe_lease, client, hex, mac, pxe_reservation, reservation, subnet};

/// PostgreSQL, then a Kea that looks reservations up in it.
fn start() -> (Postgres, Kea) {
    let pg = Postgres::started();
    let kea = Kea::start_with_hosts_database(&pg.kea_hosts_database())
        .unwrap_or_else(|e| panic!("cannot start Kea with the hosts database: {e}"));
    (pg, kea)
}

fn hosts_client(pg: &Postgres) -> HostDbClient {
    HostDbClient::new(HostDbConfig::new(&pg.url, Some(Secret::new(&pg.password)))).unwrap()
}

fn backend(pg: &Postgres, kea: &Kea) -> KeaHostDbBackend {
    KeaHostDbBackend {
        kea: client(kea),
        hosts: hosts_client(pg),
    }
}

/// A row written behind the client's back, as an operator would with psql.
fn insert_by_hand(pg: &Postgres, mac_hex: &str, ip: &str, hostname: &str) {
    pg.sql(&format!(
        "INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp4_subnet_id, \
         ipv4_address, hostname) VALUES (decode('{mac_hex}', 'hex'), 0, 1, \
         '{ip}'::inet - '0.0.0.0'::inet, '{hostname}');"
    ))
    .unwrap();
}

/// Every host row and option row, for comparisons.
fn dump(pg: &Postgres) -> String {
    pg.sql(
        "SELECT h.host_id, encode(h.dhcp_identifier, 'hex'), h.dhcp_identifier_type, \
         h.dhcp4_subnet_id, '0.0.0.0'::inet + h.ipv4_address, h.hostname, \
         '0.0.0.0'::inet + h.dhcp4_next_server, h.dhcp4_boot_file_name, \
         o.code, o.formatted_value, encode(o.value, 'hex'), o.space, o.scope_id \
         FROM hosts h LEFT JOIN dhcp4_options o ON o.host_id = h.host_id \
         ORDER BY h.host_id, o.option_id;",
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_rows_reach_a_dhcp_client_and_change_without_reconfiguration() {
    let (pg, kea) = start();
    let b = backend(&pg, &kea);
    // A reservation rack does not manage stays as it is throughout.
    insert_by_hand(&pg, "0200000000ee", "10.77.0.90", "handmade");
    let config_before = super::raw_config(&kea);

    let mut r = pxe_reservation();
    r.option_data.push(OptionData::by_code(240, hex("ztp")));
    b.apply(Change::Add(r.clone())).await.unwrap();

    // The rows: one host in subnet 1, its options of scope host in dhcp4.
    let rows = dump(&pg);
    eprintln!("{rows}");
    let ours: Vec<&str> = rows
        .lines()
        .filter(|l| l.contains("020000000001"))
        .collect();
    assert_eq!(ours.len(), 3, "{rows}");
    assert!(
        ours[0].contains("|020000000001|0|1|10.77.0.42|node1|10.77.0.5|pxelinux.0|"),
        "{rows}"
    );
    assert!(rows.contains("|67|boot/grubx64.efi||dhcp4|3"), "{rows}");
    assert!(
        rows.contains(&format!("|240||{}|dhcp4|3", hex("ztp"))),
        "{rows}"
    );
    // Kea's configuration is not touched.
    assert_eq!(super::raw_config(&kea), config_before);

    // Read back: ours and the hand-made one.
    let read = b.reservations(subnet()).await.unwrap();
    assert_eq!(read.len(), 2, "{read:?}");
    let back = read.iter().find(|x| x.identifier == r.identifier).unwrap();
    assert!(same_reservation(back, &r), "{back:?}");
    assert!(
        read.iter()
            .any(|x| x.hostname.as_deref() == Some("handmade"))
    );

    let lease = kea.udhcpc("02:00:00:00:00:01", &[67, 114, 240]).unwrap();
    eprintln!("udhcpc: {lease:?}");
    assert_pxe_lease(&lease);
    assert_eq!(lease.options.get("opt240"), Some(&hex("ztp")), "{lease:?}");

    // Update in place: the same row, a new address, one option fewer.
    let host_id = |rows: &str| {
        rows.lines()
            .find(|l| l.contains("020000000001"))
            .and_then(|l| l.split('|').next())
            .map(str::to_owned)
    };
    let id_before = host_id(&rows);
    let mut moved = r.clone();
    moved.ip_address = Some("10.77.0.43".parse().unwrap());
    moved.option_data.pop();
    b.apply(Change::Replace(moved.clone())).await.unwrap();
    let rows = dump(&pg);
    assert_eq!(host_id(&rows), id_before, "{rows}");
    assert!(rows.contains("|10.77.0.43|node1|"), "{rows}");
    assert!(!rows.contains("|240|"), "{rows}");
    let read = b.reservations(subnet()).await.unwrap();
    let back = read.iter().find(|x| x.identifier == r.identifier).unwrap();
    assert!(same_reservation(back, &moved), "{back:?}");
    let lease = kea.udhcpc("02:00:00:00:00:01", &[]).unwrap();
    assert_eq!(lease.ip, "10.77.0.43", "Kea serves the updated row at once");

    // Delete: the host and its options go; the hand-made row stays.
    b.apply(Change::Remove {
        subnet: subnet(),
        identifier: mac("02:00:00:00:00:01"),
    })
    .await
    .unwrap();
    let rows = dump(&pg);
    assert_eq!(rows.lines().count(), 1, "{rows}");
    assert!(
        rows.contains("|0200000000ee|0|1|10.77.0.90|handmade|"),
        "{rows}"
    );
    assert_eq!(
        pg.sql("SELECT count(*) FROM dhcp4_options;")
            .unwrap()
            .trim(),
        "0"
    );
    assert_eq!(b.reservations(subnet()).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_and_rows_changed_since_read_are_refused_naming_them() {
    let (pg, kea) = start();
    insert_by_hand(&pg, "0200000000aa", "10.77.0.60", "handmade");
    let b = backend(&pg, &kea);
    let untouched = dump(&pg);

    // Same MAC as the hand-made row.
    let e = b
        .apply(Change::Add(reservation("02:00:00:00:00:aa", "10.77.0.61")))
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(e, DhcpError::Config(ConfigError::Conflict { .. })),
        "{e:?}"
    );
    assert!(text.contains("MAC address 02:00:00:00:00:aa"), "{text}");
    assert!(text.contains("hostname handmade"), "{text}");

    // Same address in the subnet.
    let e = b
        .apply(Change::Add(reservation("02:00:00:00:00:bb", "10.77.0.60")))
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("IP address 10.77.0.60"), "{e}");
    assert!(e.contains("hw-address 02:00:00:00:00:aa"), "{e}");

    // Planned against a reservation that has been changed by hand since: refused inside
    // the transaction, naming what is there now.
    let expect = Arc::new(|now: Option<&Reservation>| {
        now.is_some_and(|r| r.hostname.as_deref() == Some("as-planned"))
    });
    let e = b
        .apply_expecting(
            Change::Replace(reservation("02:00:00:00:00:aa", "10.77.0.62")),
            expect,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, DhcpError::Config(ConfigError::Changed { .. })),
        "{e:?}"
    );
    assert!(e.to_string().contains("hostname handmade"), "{e}");
    assert_eq!(dump(&pg), untouched, "nothing was written");

    // An import vouches for the row as it is: the add takes it over.
    let mut adopted = reservation("02:00:00:00:00:aa", "10.77.0.60");
    adopted.hostname = Some("adopted".into());
    b.apply_expecting(
        Change::Add(adopted),
        Arc::new(|now: Option<&Reservation>| {
            now.is_some_and(|r| r.hostname.as_deref() == Some("handmade"))
        }),
    )
    .await
    .unwrap();
    assert!(dump(&pg).contains("|adopted|"));

    // One transaction for a batch: the refused change fails alone.
    let hosts = hosts_client(&pg);
    let ids = SubnetIds(vec![(subnet(), 1)]);
    let outcomes = hosts
        .apply_batch(
            &ids,
            &[
                Request {
                    change: Change::Add(reservation("02:00:00:00:00:01", "10.77.0.71")),
                    expect: None,
                },
                Request {
                    change: Change::Add(reservation("02:00:00:00:00:02", "10.77.0.60")),
                    expect: None,
                },
                Request {
                    change: Change::Add(reservation("02:00:00:00:00:03", "10.77.0.73")),
                    expect: None,
                },
            ],
        )
        .await
        .unwrap();
    assert!(outcomes[0].is_ok() && outcomes[2].is_ok(), "{outcomes:?}");
    let e = outcomes[1].as_ref().unwrap_err().to_string();
    assert!(e.contains("IP address 10.77.0.60"), "{e}");
    assert_eq!(
        pg.sql("SELECT count(*) FROM hosts;").unwrap().trim(),
        "3",
        "{}",
        dump(&pg)
    );

    // Changes that arrive together are written together, each answered.
    let (x, y) = tokio::join!(
        b.apply(Change::Add(reservation("02:00:00:00:00:04", "10.77.0.74"))),
        b.apply(Change::Add(reservation("02:00:00:00:00:05", "10.77.0.75"))),
    );
    x.unwrap();
    y.unwrap();
    assert_eq!(b.reservations(subnet()).await.unwrap().len(), 5);

    // Kea's unique index backs rack's check: a second row for the same MAC and subnet
    // is refused by the database itself.
    let e = pg
        .sql(
            "INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp4_subnet_id) \
             VALUES (decode('020000000001', 'hex'), 0, 1);",
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("key_dhcp4_identifier_subnet_id"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_unknown_schema_and_no_server_are_clear_errors() {
    let pg = Postgres::started();

    let wrong = HostDbClient::new(HostDbConfig::new(
        &pg.url,
        Some(Secret::new("not-the-password")),
    ))
    .unwrap();
    let e = wrong.check().await.unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, HostDbError::AuthFailed { .. }), "{e:?}");
    assert!(
        text.contains("refused the password of user \"kea\""),
        "{text}"
    );
    assert!(!format!("{e:?}").contains("not-the-password"), "{e:?}");
    assert!(
        !format!("{wrong:?}").contains("not-the-password"),
        "{wrong:?}"
    );

    let with_password = pg.url.replace("kea@", "kea:secret@");
    let e = HostDbClient::new(HostDbConfig::new(with_password, None)).unwrap_err();
    assert!(matches!(e, HostDbError::PasswordInUrl), "{e:?}");

    hosts_client(&pg).check().await.unwrap();
    pg.sql("UPDATE schema_version SET version = 12;").unwrap();
    let e = hosts_client(&pg).check().await.unwrap_err().to_string();
    assert!(
        e.contains("schema version 12.0") && e.contains("13.0"),
        "{e}"
    );

    let port = pg.addr.port();
    drop(pg);
    let gone = HostDbClient::new(HostDbConfig::new(
        format!("postgresql://kea@127.0.0.1:{port}/kea"),
        Some(Secret::new("x")),
    ))
    .unwrap();
    let e = gone.check().await.unwrap_err();
    assert!(matches!(e, HostDbError::Unreachable { .. }), "{e:?}");
    assert!(
        e.to_string().contains(&format!("127.0.0.1:{port}/kea")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_while_postgres_is_down_fails_and_the_next_one_reconnects() {
    let mut pg = Postgres::started();
    let mut config = HostDbConfig::new(&pg.url, Some(Secret::new(&pg.password)));
    config.timeout = std::time::Duration::from_secs(5);
    let hosts = HostDbClient::new(config).unwrap();
    let ids = SubnetIds(vec![(subnet(), 1)]);
    let add =
        |last: &str, ip: &str| Change::Add(reservation(&format!("02:00:00:00:00:{last}"), ip));

    hosts
        .apply(&ids, add("01", "10.77.0.41"), None)
        .await
        .unwrap();
    pg.stop();
    let e = hosts
        .apply(&ids, add("02", "10.77.0.42"), None)
        .await
        .unwrap_err();
    eprintln!("with PostgreSQL stopped: {e}");
    assert!(
        matches!(
            e,
            HostDbError::Unreachable { .. } | HostDbError::Database { .. }
        ),
        "{e:?}"
    );

    pg.restart()
        .unwrap_or_else(|e| panic!("{e}\n{}", pg.log_tail()));
    hosts
        .apply(&ids, add("02", "10.77.0.42"), None)
        .await
        .unwrap();
    let read = hosts.reservations(&ids, subnet()).await.unwrap();
    assert_eq!(read.len(), 2, "{read:?}");
    // Nothing half-written: every host that is there is whole.
    assert_eq!(
        pg.sql("SELECT count(*) FROM hosts WHERE ipv4_address IS NULL;")
            .unwrap()
            .trim(),
        "0"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_the_database_checks_the_servers_certificate() {
    let pg = Postgres::start_with_tls()
        .unwrap_or_else(|e| panic!("cannot start PostgreSQL with TLS: {e}"));
    let ca = pg.ca_cert_pem.clone().expect("the fixture's CA");
    let with_ca = |ca: Option<String>| {
        let mut config = HostDbConfig::new(&pg.url, Some(Secret::new(&pg.password)));
        config.ca_cert_pem = ca;
        HostDbClient::new(config)
    };

    // The server's certificate, checked against its CA: connected.
    with_ca(Some(ca)).unwrap().check().await.unwrap();

    // Without TLS the server (hostssl only) admits nobody over TCP, and says so.
    let e = with_ca(None).unwrap().check().await.unwrap_err();
    assert!(matches!(e, HostDbError::NotAdmitted { .. }), "{e:?}");
    assert!(
        e.to_string().contains("pg_hba.conf") && e.to_string().contains("ca_cert"),
        "{e}"
    );

    // Another CA: the certificate is refused, and the error says it is about TLS.
    let other = Postgres::start_with_tls()
        .unwrap_or_else(|e| panic!("cannot start PostgreSQL with TLS: {e}"));
    let e = with_ca(other.ca_cert_pem.clone())
        .unwrap()
        .check()
        .await
        .unwrap_err();
    let chain = format!("{e}: {:?}", std::error::Error::source(&e));
    assert!(matches!(e, HostDbError::Unreachable { .. }), "{e:?}");
    assert!(chain.to_lowercase().contains("certificate"), "{chain}");

    // A CA setting that is not PEM is refused before any connection.
    let e = with_ca(Some("not a certificate".to_owned())).unwrap_err();
    assert!(
        matches!(e, HostDbError::Tls { .. }) && e.to_string().contains("CA certificate"),
        "{e:?}"
    );
}
