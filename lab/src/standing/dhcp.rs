//! The standing lab's DHCP server host: PostgreSQL holding Kea's host database, and
//! kea-dhcp4 with kea-ctrl-agent in the DHCP server host's namespace.

use super::{
    DHCP_IFACE, FARM_GATEWAY, FARM_SUBNET, Lab, START_LIMIT, check_port, mkdir, stop_pids,
};
use crate::kea::{self, Dhcp4Conf};
use crate::named;
use crate::postgres;
use crate::process::{self, FixtureError, err};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::process::Command;

impl Lab {
    /// PostgreSQL 15 on 127.0.0.1 (TLS with a throwaway CA, `lab/postgres/tls/ca.pem`)
    /// and a unix socket in `lab/postgres`, run by `pg_ctl` as the `postgres` user; the
    /// cluster, its certificate and Kea's schema are created on the first run, the
    /// role's password kept in `lab/postgres.password`.
    pub(super) fn ensure_postgres(&self) -> Result<(), FixtureError> {
        if let Some(pid) = self.pid("postgres") {
            println!("postgres: running (PID {pid})");
            return Ok(());
        }
        let port = self.settings.pg_port;
        check_port(port, "PostgreSQL", "RACK_LAB_PG_PORT")?;
        let d = self.lab.join("postgres");
        let data = d.join("data");
        let as_postgres = postgres::running_as_root()?;
        let password_file = self.lab.join("postgres.password");
        let fresh = !data.join("PG_VERSION").is_file();
        if fresh {
            let _ = std::fs::remove_dir_all(&d);
            mkdir(&d)?;
            postgres::init_cluster(&d, as_postgres)?;
            // TLS on TCP with a throwaway CA (its certificate: lab/postgres/tls/ca.pem).
            postgres::server_certificate(&d, as_postgres)?;
            named::write(&password_file, &process::random_token())?;
            std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| err(format!("cannot chmod {}: {e}", password_file.display())))?;
        }
        let log = self.lab.join("log").join("postgres.log");
        if as_postgres {
            // The server (user postgres) appends to its log.
            let _ = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&log);
            let mut chown = Command::new("chown");
            chown.arg("postgres:postgres").arg(&log);
            process::run(chown, "chown postgres (its log)")?;
        }
        let tls = d.join("tls");
        let options = postgres::server_options(&d, port)
            + &postgres::tls_options(&tls.join("server.pem"), &tls.join("server.key"));
        let pid = postgres::start_detached(&data, as_postgres, &options, &log)?;
        named::write(&self.lab.join("postgres.pid"), &format!("{pid}\n"))?;
        if fresh {
            let created = postgres::create_kea_schema(
                &process::find_binary("psql", "postgresql")?,
                &process::find_binary("kea-admin", "kea-admin")?,
                &d,
                port,
                self.db_password()?.as_str(),
            );
            if let Err(e) = created {
                stop_pids(&[pid])?;
                let _ = std::fs::remove_dir_all(&data);
                return Err(e);
            }
        }
        println!(
            "postgres: started (PID {pid}) on 127.0.0.1:{port}{}",
            if fresh { ", Kea's schema created" } else { "" }
        );
        Ok(())
    }

    /// The password of the host database's role.
    pub(super) fn db_password(&self) -> Result<String, FixtureError> {
        let file = self.lab.join("postgres.password");
        std::fs::read_to_string(&file)
            .map(|p| p.trim().to_owned())
            .map_err(|e| err(format!("cannot read {}: {e}", file.display())))
    }

    /// kea-dhcp4 in the DHCP server host's namespace on [`DHCP_IFACE`], looking
    /// reservations up in the host database; its control agent on 127.0.0.1.
    pub(super) fn ensure_kea(&self) -> Result<(), FixtureError> {
        let s = &self.settings;
        let d = self.lab.join("kea");
        mkdir(&d)?;
        let password_file = d.join("password");
        if std::fs::metadata(&password_file).map_or(true, |m| m.len() == 0) {
            named::write(&password_file, &process::random_token())?;
        }
        std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| err(format!("cannot chmod {}: {e}", password_file.display())))?;
        let env = [
            ("KEA_PIDFILE_DIR", d.as_path()),
            ("KEA_LOCKFILE_DIR", d.as_path()),
        ];
        let socket = d.join("kea4.sock");
        if let Some(pid) = self.pid("kea-dhcp4") {
            println!("kea-dhcp4: running (PID {pid})");
        } else {
            let dhcp4 = process::find_binary("kea-dhcp4", "kea-dhcp4-server")?;
            let config = d.join("kea-dhcp4.conf");
            // Written once: Kea saves its configuration into it (config-write). A lab
            // from before the host database gets a new one.
            let current = std::fs::read_to_string(&config).unwrap_or_default();
            if !current.contains("\"hosts-database\"") {
                let hosts = postgres::kea_hosts_database_json(
                    &self.lab.join("postgres"),
                    s.pg_port,
                    &self.db_password()?,
                );
                let text = kea::dhcp4_conf(&Dhcp4Conf {
                    interfaces_config: &format!(
                        r#"{{"interfaces": ["{DHCP_IFACE}"], "dhcp-socket-type": "raw"}}"#
                    ),
                    socket: &socket,
                    lease_database: &format!(
                        r#"{{"type": "memfile", "persist": true, "name": "{}", "lfc-interval": 0}}"#,
                        d.join("leases4.csv").display()
                    ),
                    valid_lifetime: 3600,
                    subnet4: &format!(
                        r#"[{{"id": 1, "subnet": "{FARM_SUBNET}",
               "option-data": [{{"name": "routers", "data": "{FARM_GATEWAY}"}}]}}]"#
                    ),
                    log: &d.join("kea-dhcp4.log"),
                    hosts_database: Some(&hosts),
                });
                named::write(&config, &text)?;
            }
            let dhcp_ns = s.dhcp_namespace();
            let ns = dhcp_ns.as_str();
            let mut check = Command::new("ip");
            check
                .args(["netns", "exec", ns])
                .arg(&dhcp4)
                .arg("-t")
                .arg(&config);
            for (k, v) in env {
                check.env(k, v);
            }
            let check_log = self.lab.join("log").join("kea-dhcp4-check.out");
            let checked = check
                .output()
                .map_err(|e| err(format!("cannot run kea-dhcp4 -t: {e}")))?;
            let mut text = checked.stdout;
            text.extend_from_slice(&checked.stderr);
            let _ = std::fs::write(&check_log, text);
            if !checked.status.success() {
                return Err(err(format!(
                    "kea-dhcp4 rejected {}; see {}",
                    config.display(),
                    check_log.display()
                )));
            }
            let pid = self.start(
                "kea-dhcp4",
                &[
                    "ip",
                    "netns",
                    "exec",
                    ns,
                    &dhcp4.to_string_lossy(),
                    "-c",
                    &config.to_string_lossy(),
                ],
                &env,
                START_LIMIT,
                &d.join("kea-dhcp4.log"),
                || std::fs::metadata(&socket).is_ok_and(|m| m.file_type().is_socket()),
            )?;
            println!("kea-dhcp4: started (PID {pid}) in namespace {ns}");
        }
        if let Some(pid) = self.pid("kea-ctrl-agent") {
            println!("kea-ctrl-agent: running (PID {pid})");
            return Ok(());
        }
        check_port(s.kea_port, "kea-ctrl-agent", "RACK_LAB_KEA_PORT")?;
        let agent = process::find_binary("kea-ctrl-agent", "kea-ctrl-agent")?;
        let config = d.join("kea-ctrl-agent.conf");
        named::write(
            &config,
            &kea::ctrl_agent_conf(
                s.kea_port,
                "rack-lab",
                &password_file,
                &socket,
                &d.join("kea-ctrl-agent.log"),
            ),
        )?;
        let password = std::fs::read_to_string(&password_file)
            .map_err(|e| err(format!("cannot read {}: {e}", password_file.display())))?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, s.kea_port));
        let pid = self.start(
            "kea-ctrl-agent",
            &[&agent.to_string_lossy(), "-c", &config.to_string_lossy()],
            &env,
            START_LIMIT,
            &d.join("kea-ctrl-agent.log"),
            || {
                kea::post(
                    addr,
                    Some(("rack", password.trim())),
                    r#"{"command": "list-commands", "service": ["dhcp4"]}"#,
                )
                .is_some_and(|(status, body)| status == 200 && body.contains("\"result\": 0"))
            },
        )?;
        println!(
            "kea-ctrl-agent: started (PID {pid}) on 127.0.0.1:{}",
            s.kea_port
        );
        Ok(())
    }
}
