//! What the DHCP acceptance tests share: the Kea fixture seen by the provider through the
//! `RACK_DHCP_*` variables, raw control-agent commands for changes made behind
//! Terraform's back, and [`Server`]: a Kea with either of the two places rack keeps its
//! reservations in (its configuration, or its PostgreSQL host database), so one test
//! runs against both.

use std::ops::Deref;

use rack_acceptance_tests::Workdir;
use serde_json::{Value, json};

pub use rack_lab::kea::SUBNET;
use rack_lab::{Kea, Postgres};

/// The provider block every DHCP test uses; the server comes from `RACK_DHCP_*`.
pub use rack_acceptance_tests::EMPTY_PROVIDER_CONFIG as PROVIDER;

/// Starts the fixture or fails naming what is missing.
pub fn start() -> Kea {
    Kea::start().unwrap_or_else(|e| panic!("cannot start the Kea fixture: {e}"))
}

/// A workdir whose provider reaches `kea` through the `RACK_DHCP_*` variables (the
/// password never appears in a .tf file).
pub fn workdir(kea: &Kea) -> Workdir {
    let mut wd = Workdir::new();
    wd.set_env("RACK_DHCP_KEA_URL", kea.url.clone());
    wd.set_env("RACK_DHCP_KEA_USERNAME", kea.username.clone());
    wd.set_env("RACK_DHCP_KEA_PASSWORD", kea.password.clone());
    wd.set_env("RACK_DHCP_KEA_TIMEOUT", "10s");
    wd
}

/// The running configuration, without Kea's `hash`.
pub fn raw_config(kea: &Kea) -> Value {
    let (status, body) = kea
        .command(r#"{"command":"config-get","service":["dhcp4"]}"#)
        .expect("config-get through the agent");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("config-get answer is JSON");
    let mut args = v[0]["arguments"].clone();
    if let Some(m) = args.as_object_mut() {
        m.shift_remove("hash");
    }
    args
}

/// The reservations of the fixture's subnet, as Kea holds them.
pub fn reservations(kea: &Kea) -> Vec<Value> {
    raw_config(kea)["Dhcp4"]["subnet4"][0]["reservations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Edits the fixture subnet's reservations with a raw config-get / config-set: a change
/// made outside Terraform.
pub fn edit_out_of_band(kea: &Kea, edit: impl FnOnce(&mut Vec<Value>)) {
    let mut config = raw_config(kea);
    let slot = &mut config["Dhcp4"]["subnet4"][0]["reservations"];
    if !slot.is_array() {
        *slot = json!([]);
    }
    if let Some(list) = slot.as_array_mut() {
        edit(list);
    }
    let cmd = json!({"command": "config-set", "service": ["dhcp4"], "arguments": config});
    let (status, body) = kea.command(&cmd.to_string()).expect("config-set");
    assert!(
        status == 200 && body.contains("\"result\": 0"),
        "out-of-band config-set failed: {status} {body}"
    );
}

/// Where the Kea server keeps the reservations rack writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// In its configuration, through `config-get` / `config-set` / `config-write`.
    ConfigSet,
    /// In its PostgreSQL host database, as rows of `hosts` and `dhcp4_options`.
    HostDatabase,
}

/// A running Kea with its reservations in `backend`'s place. It derefs to the [`Kea`]
/// fixture (DHCP clients, the agent).
#[derive(Debug)]
pub struct Server {
    // Field order matters: Kea stops before its database does.
    kea: Kea,
    /// The host database, with [`Backend::HostDatabase`].
    pub pg: Option<Postgres>,
}

impl Deref for Server {
    type Target = Kea;
    fn deref(&self) -> &Kea {
        &self.kea
    }
}

/// The host rows of the fixture's subnet in Kea's JSON form, as `config-get` shows
/// reservations: `hw-address`, `ip-address`, `hostname`, `next-server`, `boot-file-name`
/// when set, and `option-data` (`code`, `data`) when the host has options.
const HOSTS_AS_JSON: &str = "SELECT json_strip_nulls(json_build_object(\
    'hw-address', regexp_replace(encode(h.dhcp_identifier, 'hex'), '(..)(?!$)', '\\1:', 'g'), \
    'ip-address', host('0.0.0.0'::inet + h.ipv4_address), \
    'hostname', h.hostname, \
    'next-server', host('0.0.0.0'::inet + h.dhcp4_next_server), \
    'boot-file-name', h.dhcp4_boot_file_name, \
    'option-data', (SELECT json_agg(json_build_object('code', o.code, 'data', o.formatted_value) \
        ORDER BY o.option_id) FROM dhcp4_options o WHERE o.host_id = h.host_id)))::text \
    FROM hosts h WHERE h.dhcp4_subnet_id = 1 AND h.dhcp_identifier_type = 0 ORDER BY h.host_id;";

/// The option codes the tests' out-of-band edits use, by name.
const OPTION_CODES: &[(&str, u8)] = &[
    ("routers", 3),
    ("domain-name-servers", 6),
    ("domain-name", 15),
    ("ntp-servers", 42),
];

impl Server {
    /// Starts Kea (and PostgreSQL first, for [`Backend::HostDatabase`]), or fails naming
    /// what is missing.
    pub fn start(backend: Backend) -> Self {
        match backend {
            Backend::ConfigSet => Self {
                kea: start(),
                pg: None,
            },
            Backend::HostDatabase => {
                let pg = Postgres::started();
                let kea = Kea::start_with_hosts_database(&pg.kea_hosts_database())
                    .unwrap_or_else(|e| panic!("cannot start Kea with the hosts database: {e}"));
                Self { kea, pg: Some(pg) }
            }
        }
    }

    /// A workdir whose provider reaches the server (and its host database) through the
    /// `RACK_DHCP_*` variables.
    pub fn workdir(&self) -> Workdir {
        let mut wd = workdir(&self.kea);
        if let Some(pg) = &self.pg {
            wd.set_env("RACK_DHCP_KEA_HOSTS_DATABASE_URL", pg.url.clone());
            wd.set_env("RACK_DHCP_KEA_HOSTS_DATABASE_PASSWORD", pg.password.clone());
        }
        wd
    }

    /// The secrets that must never be printed.
    pub fn secrets(&self) -> Vec<&str> {
        let mut out = vec![self.kea.password.as_str()];
        out.extend(self.pg.as_ref().map(|pg| pg.password.as_str()));
        out
    }

    /// The reservations of the fixture's subnet, in Kea's JSON form.
    pub fn reservations(&self) -> Vec<Value> {
        match &self.pg {
            None => reservations(&self.kea),
            Some(pg) => {
                let rows = pg.sql(HOSTS_AS_JSON).expect("psql reads the hosts");
                let mut all: Vec<Value> = rows
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(|l| serde_json::from_str(l).expect("a host row as JSON"))
                    .collect();
                // The config-set path holds no reservation in the configuration.
                assert!(
                    reservations(&self.kea).is_empty(),
                    "a reservation went into Kea's configuration, not the database"
                );
                all.retain(|r| r.is_object());
                all
            }
        }
    }

    /// The reservation of `mac`, if any.
    pub fn reservation(&self, mac: &str) -> Option<Value> {
        self.reservations()
            .into_iter()
            .find(|r| r["hw-address"].as_str() == Some(mac))
    }

    /// Changes the reservation of `mac` behind Terraform's back, as Kea's own tools (or
    /// psql) would: `edit` changes its JSON form; in the host database, changed
    /// `ip-address`, `hostname`, `next-server` and `boot-file-name` are updated and
    /// appended `option-data` items (by `name`) inserted.
    pub fn edit_out_of_band(&self, mac: &str, edit: impl FnOnce(&mut Value)) {
        let Some(pg) = &self.pg else {
            edit_out_of_band(&self.kea, |list| {
                if let Some(r) = list.iter_mut().find(|r| r["hw-address"] == mac) {
                    edit(r);
                }
            });
            return;
        };
        let before = self
            .reservation(mac)
            .expect("the reservation to edit exists");
        let mut after = before.clone();
        edit(&mut after);
        let id = format!("decode('{}', 'hex')", mac.replace(':', ""));
        let text = |v: &Value| v.as_str().map(|s| format!("'{}'", s.replace('\'', "''")));
        let mut sql = String::new();
        for (key, column, address) in [
            ("ip-address", "ipv4_address", true),
            ("hostname", "hostname", false),
            ("next-server", "dhcp4_next_server", true),
            ("boot-file-name", "dhcp4_boot_file_name", false),
        ] {
            if before[key] == after[key] {
                continue;
            }
            let value = match (text(&after[key]), address) {
                (Some(v), true) => format!("{v}::inet - '0.0.0.0'::inet"),
                (Some(v), false) => v,
                (None, _) => "NULL".to_owned(),
            };
            sql.push_str(&format!(
                "UPDATE hosts SET {column} = {value} WHERE dhcp_identifier = {id};\n"
            ));
        }
        let count = |v: &Value| v["option-data"].as_array().map_or(0, Vec::len);
        if let Some(added) = after["option-data"].as_array() {
            for o in &added[count(&before).min(added.len())..] {
                let name = o["name"].as_str().expect("an added option has a name");
                let code = OPTION_CODES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, c)| *c)
                    .unwrap_or_else(|| panic!("no code for option {name}"));
                let data = text(&o["data"]).expect("an added option has data");
                sql.push_str(&format!(
                    "INSERT INTO dhcp4_options (host_id, code, formatted_value, space, \
                     persistent, scope_id) SELECT host_id, {code}, {data}, 'dhcp4', false, 3 \
                     FROM hosts WHERE dhcp_identifier = {id};\n"
                ));
            }
        }
        pg.sql(&sql).expect("psql changes the host");
    }

    /// Deletes the reservation of `mac` behind Terraform's back.
    pub fn delete_out_of_band(&self, mac: &str) {
        match &self.pg {
            None => edit_out_of_band(&self.kea, |list| list.retain(|r| r["hw-address"] != mac)),
            Some(pg) => {
                pg.sql(&format!(
                    "DELETE FROM hosts WHERE dhcp_identifier = decode('{}', 'hex');",
                    mac.replace(':', "")
                ))
                .expect("psql deletes the host");
            }
        }
    }
}

/// A `rack_dhcp_lease` named `pxe` in the fixture's subnet that boots over the network:
/// next-server, boot file and the `boot-file-name` option, then `more_options` (HCL list
/// items, each ending with a comma).
pub fn pxe_lease(mac: &str, ip: &str, hostname: &str, more_options: &str) -> String {
    format!(
        r#"resource "rack_dhcp_lease" "pxe" {{
  subnet      = "10.77.0.0/24"
  mac         = "{mac}"
  ip          = "{ip}"
  hostname    = "{hostname}"
  next_server = "10.77.0.1"
  boot_file   = "pxelinux.0"
  options = [
    {{ name = "boot-file-name", data = "http://10.77.0.1/boot.ipxe" }},{more_options}
  ]
}}
"#
    )
}

/// Runs udhcpc for `mac` (asking for option 67) and checks that it got `ip` with the
/// boot settings [`pxe_lease`] writes; returns the lease for further checks.
pub fn assert_pxe_boot(kea: &Kea, mac: &str, ip: &str) -> rack_lab::udhcpc::DhcpLease {
    let lease = kea.udhcpc(mac, &[67]).expect("udhcpc gets the reservation");
    assert_eq!(lease.ip, ip, "{lease:?}");
    assert_eq!(lease.siaddr.as_deref(), Some("10.77.0.1"), "{lease:?}");
    assert_eq!(lease.boot_file.as_deref(), Some("pxelinux.0"), "{lease:?}");
    assert_eq!(
        lease.options.get("bootfile").map(String::as_str),
        Some("http://10.77.0.1/boot.ipxe"),
        "{lease:?}"
    );
    lease
}
