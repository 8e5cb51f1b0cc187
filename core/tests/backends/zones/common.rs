//! What both servers' tests share: a spec, plain DNS queries and the BIND command-line
//! tools that check TSIG-signed updates and transfers from outside rack.

use rack_core::dns::{Message, Name, RData, RecordType};
use rack_core::zones::{Soa, ZoneSpec};
use rack_lab::process;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::Command;
use std::time::Duration;

pub const SERIAL: u32 = 2024060101;

pub fn name(s: &str) -> Name {
    Name::parse(s).unwrap()
}

/// `zone` with SOA `ns1.farm. hostmaster.farm. SERIAL ...` and NS ns1.farm., ns2.farm.
pub fn spec(zone: &str) -> ZoneSpec {
    ZoneSpec {
        name: name(zone),
        soa: Soa {
            mname: name("ns1.farm."),
            rname: name("hostmaster.farm."),
            serial: SERIAL,
            refresh: 3600,
            retry: 600,
            expire: 86400,
            minimum: 300,
        },
        nameservers: vec![name("ns1.farm."), name("ns2.farm.")],
        ttl: 600,
    }
}

/// One UDP query; panics without an answer.
pub fn query(server: SocketAddr, qname: &Name, qtype: RecordType) -> Message {
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let id = 0x2a00 ^ (std::process::id() as u16);
    let bytes = Message::query(id, qname.clone(), qtype).to_bytes().unwrap();
    sock.send_to(&bytes, server).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = sock
        .recv_from(&mut buf)
        .unwrap_or_else(|e| panic!("no answer from {server} to {qname} {qtype}: {e}"));
    let msg = Message::parse(&buf[..n]).unwrap();
    assert_eq!(msg.header.id, id);
    msg
}

/// The SOA serial and sorted NS names the server answers for `zone`.
pub fn served_soa_and_ns(server: SocketAddr, zone: &Name) -> (u32, Vec<String>) {
    let soa = query(server, zone, RecordType::Soa);
    let serial = soa
        .answers
        .iter()
        .find_map(|r| match &r.rdata {
            RData::Soa { serial, .. } => Some(*serial),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no SOA in the answer: {soa:?}"));
    let ns = query(server, zone, RecordType::Ns);
    let mut names: Vec<String> = ns
        .answers
        .iter()
        .filter(|r| r.name == *zone)
        .map(|r| r.rdata.to_string())
        .collect();
    names.sort();
    (serial, names)
}

/// The rcode of a SOA query for `zone`.
pub fn soa_rcode(server: SocketAddr, zone: &Name) -> u16 {
    query(server, zone, RecordType::Soa).rcode().0
}

fn tool(name: &str) -> std::path::PathBuf {
    process::find_binary(name, "bind9-dnsutils").unwrap_or_else(|e| panic!("{e}"))
}

/// `hmac-sha256:NAME:SECRET` for `-y`.
fn key_arg(key: &(String, String)) -> String {
    format!("hmac-sha256:{}:{}", key.0, key.1)
}

/// Adds `www.<zone> A 192.0.2.1` with nsupdate, signed with `key` (name, base64 secret).
pub fn signed_update(server: SocketAddr, zone: &Name, key: &(String, String)) -> String {
    let script = format!(
        "server 127.0.0.1 {port}\nzone {zone}\nupdate add www.{zone} 300 IN A 192.0.2.1\nsend\n",
        port = server.port()
    );
    let mut child = Command::new(tool("nsupdate"))
        .args(["-y", &key_arg(key)])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(script.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    format!(
        "{}{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The output of `dig AXFR zone`, signed with `key`.
pub fn signed_axfr(server: SocketAddr, zone: &Name, key: &(String, String)) -> String {
    let out = Command::new(tool("dig"))
        .args([
            "@127.0.0.1",
            "-p",
            &server.port().to_string(),
            "-y",
            &key_arg(key),
            "+nocookie",
            &zone.to_string(),
            "AXFR",
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}
