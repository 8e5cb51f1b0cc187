//! What only a Kea server with a `hosts_database` has: its PostgreSQL itself (a real
//! PostgreSQL 15 initialised with `kea-admin db-init pgsql`, which the fixture's
//! kea-dhcp4 uses as its `hosts-database`). A row an operator wrote with psql is refused
//! as a conflict at plan time, naming it, and adopted by import; a wrong password, and a
//! server that admits TLS connections only, are clear diagnostics; with `ca_cert` the
//! connection is TLS; PostgreSQL stopped in the middle of an apply leaves every host with
//! its options, and the next apply converges. The lifecycle, drift and trust stories run
//! against this backend too (`dhcp_lease`, `dhcp_trust`).

use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rack_acceptance_tests::Workdir;
use rack_lab::Postgres;

use crate::dhcp_common::{Backend, PROVIDER, Server, assert_pxe_boot, pxe_lease};

const PXE_MAC: &str = "02:00:00:cc:dd:01";

/// Terraform wraps diagnostics at 78 columns: compare with whitespace collapsed.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn pg(server: &Server) -> &Postgres {
    server.pg.as_ref().expect("the server has a host database")
}

/// The host rows of the fixture's subnet: `mac-hex ip hostname`, one a line, sorted.
fn host_rows(pg: &Postgres) -> String {
    pg.sql(
        "SELECT encode(dhcp_identifier, 'hex') || ' ' || host('0.0.0.0'::inet + ipv4_address) \
         || ' ' || coalesce(hostname, '') FROM hosts WHERE dhcp4_subnet_id = 1 \
         ORDER BY 1;",
    )
    .expect("psql reads the hosts table")
}

/// A row written behind Terraform's back, as an operator would with psql.
fn insert_by_hand(pg: &Postgres, mac_hex: &str, ip: &str, hostname: &str) {
    pg.sql(&format!(
        "INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp4_subnet_id, \
         ipv4_address, hostname) VALUES (decode('{mac_hex}', 'hex'), 0, 1, \
         '{ip}'::inet - '0.0.0.0'::inet, '{hostname}');"
    ))
    .expect("psql insert");
}

fn lease(name: &str, mac: &str, ip: &str, hostname: &str) -> String {
    format!(
        "\nresource \"rack_dhcp_lease\" \"{name}\" {{\n  subnet   = \"10.77.0.0/24\"\n  \
         mac      = \"{mac}\"\n  ip       = \"{ip}\"\n  hostname = \"{hostname}\"\n}}\n"
    )
}

#[test]
fn rows_written_by_hand_conflict_at_plan_time_and_are_adopted_by_import() {
    let server = Server::start(Backend::HostDatabase);
    let pg = pg(&server);
    insert_by_hand(pg, "020000ccdd02", "10.77.0.42", "byhand");
    let wd = server.workdir();

    // The same address, or the same MAC, as the row: refused at plan time, naming it.
    for (body, line) in [
        (
            lease("x", "02:00:00:cc:dd:09", "10.77.0.42", "x"),
            "ip = \"10.77.0.42\"",
        ),
        (
            lease("x", "02:00:00:cc:dd:02", "10.77.0.43", "x"),
            "mac = \"02:00:00:cc:dd:02\"",
        ),
    ] {
        wd.write_main(&format!("{PROVIDER}{body}"));
        let out = wd.plan_fails();
        let text = flat(&out.stderr);
        assert!(
            text.contains("byhand") && text.contains(&flat(line)),
            "the plan should name the hand-made row and point at {line:?}:\n{}",
            out.stderr
        );
    }
    assert_eq!(host_rows(pg).trim(), "020000ccdd02 10.77.0.42 byhand");

    // Import adopts the row, then it is managed like any other.
    wd.write_main(&format!(
        "{PROVIDER}{}{}",
        pxe_lease(PXE_MAC, "10.77.0.40", "node7", ""),
        lease("hand", "02:00:00:cc:dd:02", "10.77.0.42", "byhand")
    ));
    wd.import("rack_dhcp_lease.hand", "10.77.0.0/24/02:00:00:cc:dd:02");
    wd.apply_planned(&[
        ("rack_dhcp_lease.pxe", &["create"]),
        ("rack_dhcp_lease.hand", &["no-op"]),
    ]);
    assert_pxe_boot(&server, PXE_MAC, "10.77.0.40");
    wd.write_main(&format!(
        "{PROVIDER}{}{}",
        pxe_lease(PXE_MAC, "10.77.0.40", "node7", ""),
        lease("hand", "02:00:00:cc:dd:02", "10.77.0.42", "adopted")
    ));
    wd.apply_planned(&[("rack_dhcp_lease.hand", &["update"])]);
    assert!(host_rows(pg).contains("020000ccdd02 10.77.0.42 adopted"));
    wd.destroy();
    assert_eq!(host_rows(pg).trim(), "", "rows left after destroy");
}

#[test]
fn a_wrong_database_password_is_a_clear_diagnostic() {
    let server = Server::start(Backend::HostDatabase);
    let pg = pg(&server);
    let mut wd = server.workdir();
    wd.set_env("RACK_DHCP_KEA_HOSTS_DATABASE_PASSWORD", "not-the-password");
    wd.write_main(&format!(
        "{PROVIDER}{}",
        pxe_lease(PXE_MAC, "10.77.0.50", "node7", "")
    ));
    let out = wd.apply_fails();
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("refused the password") && text.contains("hosts database"),
        "{text}"
    );
    assert!(
        !text.contains("not-the-password"),
        "password printed: {text}"
    );
    assert_eq!(host_rows(pg).trim(), "");
}

/// Kea (through its unix socket) and rack (over TCP with TLS, checking the server's
/// certificate against `ca_cert`) share a PostgreSQL that admits TCP clients over TLS
/// only.
#[test]
fn the_hosts_database_over_tls() {
    let pg = Postgres::start_with_tls()
        .unwrap_or_else(|e| panic!("cannot start PostgreSQL with TLS: {e}"));
    let kea = rack_lab::Kea::start_with_hosts_database(&pg.kea_hosts_database())
        .unwrap_or_else(|e| panic!("cannot start Kea with the hosts database: {e}"));
    let ca = pg.ca_cert_pem.clone().expect("the fixture's CA");
    let mut wd = crate::dhcp_common::workdir(&kea);
    wd.set_env("RACK_DHCP_KEA_HOSTS_DATABASE_URL", pg.url.clone());
    wd.set_env("RACK_DHCP_KEA_HOSTS_DATABASE_PASSWORD", pg.password.clone());
    wd.write_main(&format!(
        "{PROVIDER}{}",
        pxe_lease(PXE_MAC, "10.77.0.60", "node7", "")
    ));

    // Without the CA the client does not use TLS, and the server says it admits no such
    // connection: the diagnostic names pg_hba.conf and ca_cert.
    let out = wd.plan_fails();
    let text = flat(&out.stderr);
    assert!(
        text.contains("does not admit") && text.contains("ca_cert"),
        "{}",
        out.stderr
    );

    wd.set_env("RACK_DHCP_KEA_HOSTS_DATABASE_CA_CERT", ca);
    wd.apply();
    assert!(host_rows(&pg).contains("020000ccdd01 10.77.0.60 node7"));
    let lease = kea
        .udhcpc(PXE_MAC, &[67])
        .expect("udhcpc gets the reservation");
    assert_eq!(lease.ip, "10.77.0.60", "{lease:?}");
    wd.assert_plan_empty();
    let sessions = pg
        .sql("SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'rack' AND NOT s.ssl;")
        .expect("psql reads pg_stat_ssl");
    assert_eq!(sessions.trim(), "0", "a rack session without TLS");
    wd.destroy();
    assert_eq!(host_rows(&pg).trim(), "");
}

/// Hosts whose option rows are missing (a host written without its options).
fn hosts_without_options(pg: &Postgres) -> String {
    pg.sql(
        "SELECT encode(h.dhcp_identifier, 'hex') FROM hosts h WHERE NOT EXISTS \
         (SELECT 1 FROM dhcp4_options o WHERE o.host_id = h.host_id) ORDER BY 1;",
    )
    .expect("psql reads the hosts")
}

fn leases_with_options(count: u8) -> String {
    let mut out = PROVIDER.to_owned();
    for i in 0..count {
        out.push_str(&format!(
            "\nresource \"rack_dhcp_lease\" \"n{i}\" {{\n  subnet   = \"10.77.0.0/24\"\n  \
             mac      = \"02:00:00:ee:00:{i:02x}\"\n  ip       = \"10.77.0.{}\"\n  \
             hostname = \"n{i}\"\n  options  = [{{ name = \"routers\", data = \"10.77.0.1\" }},\n    \
             {{ name = \"domain-name\", data = \"farm.example\" }}]\n}}\n",
            70 + u32::from(i)
        ));
    }
    out
}

/// PostgreSQL is stopped while rack's transaction waits inside it (the test holds the
/// subnet's advisory lock that rack's writers take): the apply fails saying so, nothing
/// of that batch is written, no host lacks its options, and once PostgreSQL is back (Kea
/// reconnects by itself) the next apply converges.
#[test]
fn postgres_stopped_in_the_middle_of_an_apply_then_back() {
    let mut server = Server::start(Backend::HostDatabase);
    let wd: Workdir = server.workdir();
    wd.write_main(&leases_with_options(3));
    wd.apply();
    let before = host_rows(pg(&server));

    // Another session holds the lock of subnet 1 (the key rack's writers use).
    let key = (0x7261_636b_i64 << 32) | 1;
    let pgr = pg(&server);
    let mut holder = Command::new("psql")
        .arg("-h")
        .arg(&pgr.socket_dir)
        .args([
            "-p",
            &pgr.addr.port().to_string(),
            "-U",
            "postgres",
            "-d",
            "kea",
        ])
        .args([
            "-c",
            &format!("SELECT pg_advisory_lock({key}); SELECT pg_sleep(120);"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("psql holds the subnet's lock");
    let waiting = |pg: &Postgres| {
        pg.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rack' \
             AND wait_event_type = 'Lock';",
        )
        .is_ok_and(|n| n.trim() != "0")
    };

    wd.write_main(&leases_with_options(8));
    let apply = wd
        .command(["apply", "-auto-approve", "-input=false", "-no-color"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("terraform apply starts");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !waiting(pg(&server)) {
        assert!(
            Instant::now() < deadline,
            "rack's transaction never waited for the subnet's lock"
        );
        thread::sleep(Duration::from_millis(50));
    }
    server.pg.as_mut().expect("the host database").stop();
    let out = apply.wait_with_output().expect("terraform apply ends");
    let _ = holder.kill();
    let _ = holder.wait();
    let stderr = flat(&String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "the apply went through: {stderr}");
    assert!(stderr.contains("hosts database"), "{stderr}");

    let pg_mut = server.pg.as_mut().expect("the host database");
    pg_mut.restart().expect("PostgreSQL starts again");
    let pg = pg(&server);
    assert_eq!(host_rows(pg), before, "the stopped batch wrote something");
    assert_eq!(
        hosts_without_options(pg).trim(),
        "",
        "a host lacks its options"
    );

    // The next apply converges; Kea serves the new hosts from the database again.
    wd.apply();
    wd.assert_plan_empty();
    assert_eq!(host_rows(pg).lines().count(), 8, "{}", host_rows(pg));
    assert_eq!(
        hosts_without_options(pg).trim(),
        "",
        "a host lacks its options"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let lease = loop {
        match server.udhcpc("02:00:00:ee:00:07", &[15]) {
            Ok(lease) => break lease,
            Err(e) if Instant::now() > deadline => panic!("Kea does not serve the new host: {e}"),
            Err(_) => thread::sleep(Duration::from_secs(1)),
        }
    };
    assert_eq!(lease.ip, "10.77.0.77", "{lease:?}");
    wd.destroy();
    assert_eq!(host_rows(pg).trim(), "");
}
