use super::*;

#[test]
fn limits_are_checked_at_their_attribute() {
    let limits = GuestLimits {
        max_vcpus: 16,
        memory_kib: 8 << 20,
    };
    assert!(limit_errors(&config(vec![]), &limits).is_empty());
    let v = config(vec![
        ("memory", Value::from("99TiB")),
        ("max_memory", Value::from("8GiB")),
        ("vcpus", num_value(17)),
        ("max_vcpus", num_value(16)),
    ]);
    let paths: Vec<String> = limit_errors(&v, &limits)
        .iter()
        .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
        .collect();
    assert_eq!(paths, ["memory", "vcpus"]);
}

fn config(pairs: Vec<(&str, Value)>) -> Value {
    let mut base: Vec<(&str, Value)> = vec![
        ("hypervisor", Value::from("kvm1")),
        ("name", Value::from("web1")),
        ("type", Value::from("qemu")),
        ("vcpus", num_value(1)),
        ("max_vcpus", Value::Null),
        ("memory", Value::from("256MiB")),
        ("max_memory", Value::Null),
        ("cpu_mode", Value::Null),
        ("machine", Value::Null),
        ("firmware", Value::from("bios")),
        ("boot", Value::Null),
        ("kernel", Value::Null),
        ("initrd", Value::Null),
        ("cmdline", Value::Null),
        ("disk", Value::List(vec![])),
        ("network_interface", Value::List(vec![])),
        ("graphics", Value::Null),
        ("serial_console", Value::Bool(true)),
        ("console_log", Value::Null),
        ("qemu_guest_agent", Value::Bool(false)),
        ("cloud_init", Value::Null),
        ("running", Value::Bool(true)),
        ("autostart", Value::Bool(false)),
        ("shutdown_timeout", Value::from("60s")),
        ("wait_for_ip", Value::Null),
        ("uuid", Value::Null),
        ("id", Value::Null),
    ];
    for (k, v) in pairs {
        base.retain(|(n, _)| *n != k);
        base.push((k, v));
    }
    Value::object(base)
}

fn iface(network: &str, mac: Option<&str>) -> Value {
    Value::object([
        ("network", Value::from(network)),
        ("bridge", Value::Null),
        ("model", Value::from("virtio")),
        ("mac", mac.map_or(Value::Unknown, Value::from)),
        ("ip_addresses", Value::Unknown),
    ])
}

fn disk(pool: &str, volume: &str) -> Value {
    Value::object([
        ("pool", Value::from(pool)),
        ("volume", Value::from(volume)),
        ("bus", Value::from("virtio")),
        ("device", Value::from("disk")),
        ("readonly", Value::Bool(false)),
        ("serial", Value::Null),
        ("format", Value::Unknown),
        ("target", Value::Unknown),
    ])
}

fn paths(errs: &[Diagnostic]) -> Vec<String> {
    errs.iter()
        .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
        .collect()
}

#[test]
fn memory_texts() {
    assert_eq!(memory_text(2 << 20), "2GiB");
    assert_eq!(memory_text(512 << 10), "512MiB");
    assert_eq!(memory_text(1000), "1000KiB");
}

#[test]
fn seed_texts_compare_without_trailing_blanks() {
    assert!(same_seed_text(
        "#cloud-config\nhostname: a\n",
        "#cloud-config\r\nhostname: a  \n\n\n"
    ));
    assert!(!same_seed_text("a: 1\n", "  a: 1\n"));
    assert!(!same_seed_text("a: 1\n", "a: 2\n"));
}

#[test]
fn bad_input_points_at_the_attribute() {
    let cases = [
        (config(vec![("memory", Value::from("12XB"))]), "memory"),
        (
            config(vec![(
                "network_interface",
                Value::List(vec![
                    iface("farm", Some("52:54:00:00:00:01")),
                    iface("farm", Some("52:54:00:00:00:01")),
                ]),
            )]),
            "network_interface[1].mac",
        ),
        (
            config(vec![(
                "network_interface",
                Value::List(vec![iface("farm", Some("nope"))]),
            )]),
            "network_interface[0].mac",
        ),
        (config(vec![("cmdline", Value::from("quiet"))]), "cmdline"),
        (
            config(vec![(
                "cloud_init",
                Value::object([
                    ("pool", Value::Null),
                    ("user_data", Value::from("#cloud-config\n")),
                    ("meta_data", Value::Null),
                    ("network_config", Value::Null),
                    ("vendor_data", Value::Null),
                ]),
            )]),
            "cloud_init.pool",
        ),
    ];
    for (c, path) in cases {
        let errs = spec_of(&c, &c).unwrap_err();
        assert!(paths(&errs).contains(&path.to_string()), "{path}: {errs:?}");
    }
}

#[test]
fn plan_fills_derived_macs_and_keeps_disk_facts() {
    let mut planned = config(vec![
        (
            "network_interface",
            Value::List(vec![iface("farm", None), iface("farm", None)]),
        ),
        (
            "disk",
            Value::List(vec![disk("p", "root"), disk("p", "data")]),
        ),
    ]);
    let mut prior = planned.clone();
    let mut prior_root = disk("p", "root");
    obj_set(&mut prior_root, "format", Value::from("qcow2"));
    obj_set(&mut prior_root, "target", Value::from("vda"));
    obj_set(&mut prior, "disk", Value::List(vec![prior_root]));
    obj_set(&mut prior, "network_interface", Value::List(vec![]));
    fill_planned(&mut planned, &prior, true);
    let ifaces = items(&planned, "network_interface");
    assert_eq!(
        str_attr(&ifaces[1], "mac"),
        Some(interface_mac("web1", 1).to_string().as_str())
    );
    let disks = items(&planned, "disk");
    assert_eq!(str_attr(&disks[0], "format"), Some("qcow2"));
    assert_eq!(str_attr(&disks[0], "target"), Some("vda"));
    assert!(disks[1].attr("format").is_some_and(Value::is_unknown));
    assert!(disks[1].attr("target").is_some_and(Value::is_unknown));
}

#[test]
fn state_keeps_the_users_spelling_and_order() {
    let mut planned = config(vec![
        ("memory", Value::from("0.25GiB")),
        ("machine", Value::from("pc")),
        (
            "network_interface",
            Value::List(vec![iface("farm", Some("52-54-00-AA-00-01"))]),
        ),
        ("disk", Value::List(vec![disk("p", "b"), disk("p", "a")])),
    ]);
    obj_set(&mut planned, "memory", Value::from("262144KiB"));
    let mut spec = spec_of(&planned, &planned).unwrap();
    spec.machine = Some("pc-i440fx-7.2".into());
    // libvirt lists the hot-plugged disk last.
    spec.disks.reverse();
    let now = DomainState {
        name: "web1".into(),
        uuid: "u-1".into(),
        active: true,
        state: "running",
        persistent: true,
        autostart: false,
        live_memory_kib: None,
        live_vcpus: None,
        xml: String::new(),
        spec: Ok(spec),
    };
    let state = state_of("kvm1", &now, &planned, None).unwrap();
    assert_eq!(str_attr(&state, "memory"), Some("262144KiB"));
    assert_eq!(str_attr(&state, "machine"), Some("pc"));
    let disks = items(&state, "disk");
    assert_eq!(str_attr(&disks[0], "volume"), Some("b"));
    let ifaces = items(&state, "network_interface");
    assert_eq!(str_attr(&ifaces[0], "mac"), Some("52-54-00-AA-00-01"));
    assert_eq!(str_attr(&state, "id"), Some("kvm1/web1"));
    assert_eq!(state.attr("running"), Some(&Value::Bool(true)));
}

#[test]
fn restart_reasons_read_as_the_configuration() {
    let words = restart_words(&["max_memory", "kernel", "boot"], &config(vec![]));
    assert!(words[0].starts_with("memory (beyond"), "{words:?}");
    assert_eq!(words[1], "kernel, initrd or cmdline");
    assert_eq!(words[2], "boot");
}
