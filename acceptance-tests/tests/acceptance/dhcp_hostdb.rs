//! `rack_dhcp_lease` on a Kea server with a `hosts_database`: the reservations are rows
//! of Kea's PostgreSQL host database (a real PostgreSQL 15 initialised with `kea-admin
//! db-init pgsql`), which the lab's kea-dhcp4 uses as its `hosts-database`. Apply -> a
//! real DHCP client gets the address and boot options, with Kea's configuration untouched
//! -> plan is empty -> import -> update in place -> changes and deletes made with psql
//! show in plan -> a row written by hand is adopted by import -> destroy leaves no row.
//! A wrong database password is a clear diagnostic.

use rack_acceptance_tests::Workdir;
use rack_lab::{Kea, Postgres};

use crate::dhcp_common::{PROVIDER, assert_pxe_boot, pxe_lease, reservations, workdir};

const PXE_MAC: &str = "02:00:00:cc:dd:01";

/// PostgreSQL, then a Kea that looks reservations up in it.
fn start() -> (Postgres, Kea) {
    let pg = Postgres::started();
    let kea = Kea::start_with_hosts_database(&pg.kea_hosts_database())
        .unwrap_or_else(|e| panic!("cannot start Kea with the hosts database: {e}"));
    (pg, kea)
}

/// A workdir whose provider reaches Kea and its host database through `RACK_DHCP_*`.
fn hostdb_workdir(pg: &Postgres, kea: &Kea, password: &str) -> Workdir {
    let mut wd = workdir(kea);
    wd.set_env("RACK_DHCP_KEA_HOSTS_DATABASE_URL", pg.url.clone());
    wd.set_env("RACK_DHCP_KEA_HOSTS_DATABASE_PASSWORD", password.to_owned());
    wd
}

fn config(pxe_ip: &str) -> String {
    format!("{PROVIDER}\n{}", pxe_lease(PXE_MAC, pxe_ip, "node7", ""))
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

#[test]
fn lease_lifecycle_in_the_hosts_database() {
    let (pg, kea) = start();
    let wd = hostdb_workdir(&pg, &kea, &pg.password);
    wd.write_main(&config("10.77.0.40"));
    let out = wd.apply();
    assert!(!out.stdout.contains(&pg.password), "password printed");

    assert!(
        host_rows(&pg).contains("020000ccdd01 10.77.0.40 node7"),
        "{}",
        host_rows(&pg)
    );
    assert!(
        reservations(&kea).is_empty(),
        "the reservation went into Kea's configuration, not the database"
    );
    assert_pxe_boot(&kea, PXE_MAC, "10.77.0.40");
    wd.assert_plan_empty();
    wd.assert_import_same_state("rack_dhcp_lease.pxe", "10.77.0.0/24/02:00:00:cc:dd:01", &[]);

    // Update in place: the next client sees the new address, Kea was not reconfigured.
    wd.write_main(&config("10.77.0.41"));
    wd.apply_planned(&[("rack_dhcp_lease.pxe", &["update"])]);
    let lease = kea.udhcpc(PXE_MAC, &[67]).expect("udhcpc after update");
    assert_eq!(lease.ip, "10.77.0.41", "{lease:?}");
    wd.assert_plan_empty();

    // A change made with psql shows in plan, and apply puts the planned value back.
    pg.sql(
        "UPDATE hosts SET ipv4_address = '10.77.0.99'::inet - '0.0.0.0'::inet \
         WHERE dhcp_identifier = decode('020000ccdd01', 'hex');",
    )
    .expect("psql update");
    wd.apply_planned(&[("rack_dhcp_lease.pxe", &["update"])]);
    assert!(host_rows(&pg).contains("020000ccdd01 10.77.0.41"));

    // A row deleted with psql is created again.
    pg.sql("DELETE FROM hosts WHERE dhcp_identifier = decode('020000ccdd01', 'hex');")
        .expect("psql delete");
    wd.apply_planned(&[("rack_dhcp_lease.pxe", &["create"])]);
    assert!(host_rows(&pg).contains("020000ccdd01 10.77.0.41"));
    wd.assert_plan_empty();

    // A row an operator wrote by hand is adopted by import, then managed.
    pg.sql(
        "INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, dhcp4_subnet_id, \
         ipv4_address, hostname) VALUES (decode('020000ccdd02', 'hex'), 0, 1, \
         '10.77.0.42'::inet - '0.0.0.0'::inet, 'byhand');",
    )
    .expect("psql insert");
    let hand = "\nresource \"rack_dhcp_lease\" \"hand\" {\n  subnet   = \"10.77.0.0/24\"\n  \
                mac      = \"02:00:00:cc:dd:02\"\n  ip       = \"10.77.0.42\"\n  \
                hostname = \"byhand\"\n}\n";
    wd.write_main(&format!("{}{hand}", config("10.77.0.41")));
    wd.import("rack_dhcp_lease.hand", "10.77.0.0/24/02:00:00:cc:dd:02");
    wd.assert_plan_empty();

    wd.destroy();
    assert_eq!(host_rows(&pg).trim(), "", "rows left after destroy");
}

#[test]
fn a_wrong_database_password_is_a_clear_diagnostic() {
    let (pg, kea) = start();
    let wd = hostdb_workdir(&pg, &kea, "not-the-password");
    wd.write_main(&config("10.77.0.50"));
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
    assert_eq!(host_rows(&pg).trim(), "");
}
