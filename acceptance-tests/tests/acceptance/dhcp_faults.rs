//! `rack_dhcp_lease` refusing what cannot work, before anything is written: bad input and
//! conflicts with hand-made reservations fail at plan time pointing at the attribute; and
//! Kea stopped between plan and apply fails clearly, then converges once it is back.

use serde_json::json;

use crate::dhcp_common::{PROVIDER, edit_out_of_band, reservations, start, workdir};

/// Terraform wraps diagnostics at 78 columns: compare with whitespace collapsed.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn lease(body: &str) -> String {
    format!(
        "{PROVIDER}\nresource \"rack_dhcp_lease\" \"x\" {{\n  subnet = \"10.77.0.0/24\"\n{body}\n}}\n"
    )
}

#[test]
fn bad_input_fails_at_plan_time_at_the_attribute() {
    let kea = start();
    edit_out_of_band(&kea, |list| {
        list.push(json!({"hw-address": "02:00:00:00:00:ff", "ip-address": "10.77.0.50", "hostname": "handmade"}));
    });
    let wd = workdir(&kea);
    // (configuration lines, what the message says, the line Terraform shows for the attribute)
    let cases = [
        (
            "  mac = \"02:00:00:zz:00:01\"\n  ip = \"10.77.0.10\"",
            "is not a MAC address",
            "mac = \"02:00:00:zz:00:01\"",
        ),
        (
            "  mac = \"01:00:5e:00:00:01\"\n  ip = \"10.77.0.10\"",
            "is not a unicast MAC address",
            "mac = \"01:00:5e:00:00:01\"",
        ),
        (
            "  mac = \"02:00:00:00:00:01\"\n  ip = \"10.78.0.10\"",
            "10.78.0.10 is not in subnet 10.77.0.0/24",
            "ip = \"10.78.0.10\"",
        ),
        (
            "  mac = \"02:00:00:00:00:01\"\n  ip = \"10.77.0.10\"\n  options = [{ name = \"no-such-option\", data = \"x\" }]",
            "Unknown DHCP option \"no-such-option\"",
            "options = [{ name = \"no-such-option\"",
        ),
        (
            "  mac = \"02:00:00:00:00:01\"\n  ip = \"10.77.0.10\"\n  options = [{ code = 200, data = \"x\" }]",
            "Unknown DHCP option code 200",
            "options = [{ code = 200",
        ),
        (
            "  mac = \"02:00:00:00:00:01\"\n  ip = \"10.77.0.10\"\n  options = [{ name = \"routers\", data = \"10.77.0.300\" }]",
            "Bad data for DHCP option routers (3)",
            "data = \"10.77.0.300\"",
        ),
        (
            "  mac = \"02:00:00:00:00:01\"\n  ip = \"10.77.0.50\"",
            "hw-address 02:00:00:00:00:ff, ip-address 10.77.0.50, hostname handmade",
            "ip = \"10.77.0.50\"",
        ),
        (
            "  mac = \"02-00-00-00-00-FF\"\n  ip = \"10.77.0.51\"",
            "already reserved",
            "mac = \"02-00-00-00-00-FF\"",
        ),
    ];
    for (body, needle, line) in cases {
        wd.write_main(&lease(body));
        let out = wd.plan_fails();
        assert!(
            flat(&out.stderr).contains(needle),
            "plan of {body:?} should fail saying {needle:?}:\n{}",
            out.stderr
        );
        assert!(
            flat(&out.stderr).contains(line),
            "plan of {body:?} should point at {line:?}:\n{}",
            out.stderr
        );
    }
    // Nothing was written.
    assert_eq!(reservations(&kea).len(), 1);
}

#[test]
fn kea_stopped_between_plan_and_apply_then_back() {
    let mut kea = start();
    let wd = workdir(&kea);
    let second = lease("  mac = \"02:00:00:00:00:02\"\n  ip = \"10.77.0.11\"")
        .replace(PROVIDER, "")
        .replace("\"x\"", "\"y\"");
    wd.write_main(&format!(
        "{}{second}",
        lease("  mac = \"02:00:00:00:00:01\"\n  ip = \"10.77.0.10\"\n  boot_file = \"pxelinux.0\"")
    ));
    wd.save_plan("saved.tfplan");

    kea.stop_dhcp4();
    let out = wd.apply_saved("saved.tfplan").failure();
    assert!(
        flat(&out.stderr).contains("cannot reach the dhcp4 server"),
        "{}",
        out.stderr
    );
    assert!(
        flat(&out.stderr).contains("kea-dhcp4 runs"),
        "{}",
        out.stderr
    );
    // The state holds nothing that does not exist.
    assert!(
        !wd.run(&["state", "list"])
            .stdout
            .contains("rack_dhcp_lease"),
        "state after the failed apply"
    );

    kea.restart_dhcp4().expect("kea-dhcp4 starts again");
    assert!(
        reservations(&kea).is_empty(),
        "written while kea-dhcp4 was down"
    );
    wd.apply();
    let addrs: Vec<String> = reservations(&kea)
        .iter()
        .filter_map(|r| r["ip-address"].as_str().map(str::to_string))
        .collect();
    assert_eq!(addrs, ["10.77.0.10", "10.77.0.11"]);
    wd.assert_plan_empty();
    let lease = kea.udhcpc("02:00:00:00:00:01", &[]).expect("udhcpc");
    assert_eq!(lease.ip, "10.77.0.10");
    wd.destroy();
    assert!(reservations(&kea).is_empty());
}
