//! What a start of the provider binary costs: Terraform starts it several times per
//! command, mostly for work that needs no hypervisor, so it must not load libvirt's client
//! library (and the fifty-odd libraries behind it) until a hypervisor is configured. See
//! `rack_core::libvirt::on_demand`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use rack_provider::plugin::{MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, PROTOCOL_VERSIONS_KEY};

const BINARY: &str = env!("CARGO_BIN_EXE_terraform-provider-rack");

#[test]
fn a_started_provider_has_not_loaded_libvirt() {
    let mut child = Command::new(BINARY)
        .env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env(PROTOCOL_VERSIONS_KEY, "6")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the provider binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut handshake = String::new();
    BufReader::new(stdout)
        .read_line(&mut handshake)
        .expect("the provider writes its handshake");
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", child.id()));
    child.kill().expect("the provider can be stopped");
    child.wait().expect("the provider exits");

    assert!(
        handshake.starts_with("1|6|"),
        "unexpected handshake: {handshake:?}"
    );
    let maps = maps.expect("the provider's memory map is readable");
    let libraries: Vec<&str> = maps
        .lines()
        .filter_map(|line| line.split_whitespace().nth(5))
        .filter(|path| path.contains(".so"))
        .collect();
    assert!(
        !libraries.iter().any(|path| path.contains("libvirt")),
        "the provider loaded libvirt at start: a libvirt function it calls is missing from \
         rack_core::libvirt_on_demand!'s list (compare `nm -D --undefined-only` of a binary \
         that links libvirt). Libraries mapped: {libraries:#?}"
    );
}
