//! What a start of the provider binary costs: Terraform starts it several times per
//! command, mostly for work that needs no hypervisor, so it must not load libvirt's client
//! library (and the fifty-odd libraries behind it) until a hypervisor is configured. See
//! `rack_core::libvirt::on_demand`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BINARY: &str = env!("CARGO_BIN_EXE_terraform-provider-rack");

/// The magic cookie go-plugin clients pass; without it the binary refuses to serve.
const COOKIE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

#[test]
fn a_started_provider_has_not_loaded_libvirt() {
    let mut child = Command::new(BINARY)
        .env("TF_PLUGIN_MAGIC_COOKIE", COOKIE)
        .env("PLUGIN_PROTOCOL_VERSIONS", "6")
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
