//! What the DHCP acceptance tests share: the Kea fixture seen by the provider through the
//! `RACK_DHCP_*` variables, and raw control-agent commands for changes made behind
//! Terraform's back.

use rack_acceptance_tests::Workdir;
use serde_json::{Value, json};

use rack_lab::Kea;
pub use rack_lab::kea::SUBNET;

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

/// The reservation of `mac`, if any.
pub fn reservation(kea: &Kea, mac: &str) -> Option<Value> {
    reservations(kea)
        .into_iter()
        .find(|r| r["hw-address"].as_str() == Some(mac))
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
