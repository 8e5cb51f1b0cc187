//! What the DNS acceptance tests share beyond `dns_record_set`'s helpers: a DNS server seen
//! as an address plus a TSIG key (BIND and PowerDNS alike), `dig`, `nsupdate` and AXFR
//! against it, and extra zones added with rack-core's own zone managers.

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use rack_acceptance_tests::Workdir;
use rack_core::dns::Name;
use rack_core::powerdns::PowerDnsClient;
use rack_core::rndc::{RndcClient, RndcKey};
use rack_core::zones::{BindZones, PowerDnsZones, Soa, ZoneManager, ZoneSpec};

use rack_lab::named::Key;
use rack_lab::{Named, PowerDns};

/// Deadline for one rndc or PowerDNS API call made while setting a test up.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// The provider block every DNS test uses; the server comes from `RACK_DNS_*`.
pub use rack_acceptance_tests::EMPTY_PROVIDER_CONFIG as PROVIDER;

/// A DNS server that accepts updates and transfers signed with `key`.
#[derive(Debug, Clone)]
pub struct Server {
    /// DNS over UDP and TCP.
    pub addr: SocketAddr,
    /// The TSIG key.
    pub key: Key,
}

/// Starts the named fixture (zone `farm.`, open to its TSIG key) or fails; returns it with
/// the server as the provider sees it. Keep the fixture alive as long as the server is used.
pub fn start_named() -> (Named, Server) {
    let named = Named::start().expect("start named");
    let server = Server::of_named(&named);
    (named, server)
}

impl Server {
    /// The named fixture with its update key.
    pub fn of_named(named: &Named) -> Self {
        Self {
            addr: named.dns_addr,
            key: named.tsig.clone(),
        }
    }

    fn dig_command(&self) -> Command {
        let mut cmd = Command::new("dig");
        cmd.args([
            &format!("@{}", self.addr.ip()),
            "-p",
            &self.addr.port().to_string(),
        ]);
        cmd
    }

    /// `dig +short +norecurse <args>`: the answer lines, sorted.
    pub fn dig_args(&self, args: &[&str]) -> Vec<String> {
        let out = self
            .dig_command()
            .args(["+short", "+norecurse"])
            .args(args)
            .output()
            .expect("dig is missing: install the Debian package bind9-dnsutils");
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    }

    /// `dig +short` for one name and type.
    pub fn dig(&self, name: &str, rtype: &str) -> Vec<String> {
        self.dig_args(&[name, rtype])
    }

    /// Every record of `zone` by a signed AXFR, as `owner TYPE rdata` lines (TTL and class
    /// dropped, whitespace collapsed), sorted, SOA included once.
    pub fn axfr(&self, zone: &str) -> Vec<String> {
        let out = self
            .dig_command()
            .args(["-y", &self.key_arg(), zone, "AXFR", "+noall", "+answer"])
            .output()
            .expect("dig is missing: install the Debian package bind9-dnsutils");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && !text.contains("Transfer failed"),
            "AXFR of {zone} failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with(';'))
            .map(|l| {
                let fields: Vec<&str> = l.split_whitespace().collect();
                // owner ttl class type rdata...
                format!("{} {} {}", fields[0], fields[3], fields[4..].join(" "))
            })
            .collect();
        lines.sort();
        lines.dedup();
        lines
    }

    /// The AXFR lines of `zone` that are neither its SOA nor its apex NS set nor the glue
    /// the fixture puts in every zone: what record sets added.
    pub fn axfr_data(&self, zone: &str) -> Vec<String> {
        let apex = format!("{} ", zone);
        let glue = format!("ns1.{zone} A 127.0.0.1");
        self.axfr(zone)
            .into_iter()
            .filter(|l| {
                !(l.starts_with(&format!("{apex}SOA "))
                    || l.starts_with(&format!("{apex}NS "))
                    || *l == glue)
            })
            .collect()
    }

    fn key_arg(&self) -> String {
        format!(
            "{}:{}:{}",
            self.key.algorithm, self.key.name, self.key.secret
        )
    }

    /// Fails unless `dig` answers each `(name, type)` with exactly `answers` (sorted).
    #[track_caller]
    pub fn assert_answers(&self, expected: &[(&str, &str, &[&str])]) {
        for (name, rtype, answers) in expected {
            assert_eq!(self.dig(name, rtype), *answers, "{name} {rtype}");
        }
    }

    /// Sends `commands` with nsupdate, signed with the key: a change made outside
    /// Terraform. Fails the test when the server refuses it.
    pub fn nsupdate(&self, commands: &str) {
        nsupdate(self.addr, &self.key_arg(), commands);
    }

    /// A workdir whose provider reaches this server through the `RACK_DNS_*` variables
    /// (the secret never appears in a .tf file).
    pub fn workdir(&self) -> Workdir {
        let mut wd = Workdir::new();
        wd.set_env("RACK_DNS_ADDRESS", self.addr.to_string());
        wd.set_env("RACK_DNS_KEY_NAME", self.key.name.clone());
        wd.set_env("RACK_DNS_KEY_ALGORITHM", self.key.algorithm.clone());
        wd.set_env("RACK_DNS_KEY_SECRET", self.key.secret.clone());
        wd
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(f)
}

fn name(text: &str) -> Name {
    Name::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// A zone with SOA and apex NS `ns1.farm.` (outside the zone, so no glue is needed).
fn spec(zone: &str) -> ZoneSpec {
    ZoneSpec {
        name: name(zone),
        soa: Soa {
            mname: name("ns1.farm."),
            rname: name("hostmaster.farm."),
            serial: 1,
            refresh: 3600,
            retry: 600,
            expire: 86400,
            minimum: 300,
        },
        nameservers: vec![name("ns1.farm.")],
        ttl: 300,
    }
}

/// Adds `zone` to the named fixture (zone file + `rndc addzone`), open to updates and
/// transfers signed with the fixture's TSIG key, as rack's BIND zone manager sets it up.
pub fn add_bind_zone(named: &Named, zone: &str) {
    let k = &named.rndc_key;
    let rndc = RndcClient::new(
        named.rndc_addr,
        RndcKey {
            name: k.name.clone(),
            algorithm: k.algorithm.parse().expect("rndc key algorithm"),
            secret: k.secret.clone(),
        },
        SETUP_TIMEOUT,
    );
    let zones = BindZones::new(rndc, named.zone_dir.clone(), Some(named.tsig.name.clone()));
    if let Err(e) = block_on(zones.create(&spec(zone))) {
        panic!(
            "cannot add zone {zone} to named: {e}: {e:?}\n{}",
            named.log_tail()
        );
    }
}

/// Name of the TSIG key [`add_pdns_zone`] creates in PowerDNS.
const PDNS_KEY: &str = "rack-update";

/// Creates `zone` in PowerDNS through its API (rack's PowerDNS zone manager), with a new
/// TSIG key allowed to update and transfer it. Returns the server as the provider sees it.
pub fn add_pdns_zone(pdns: &PowerDns, zone: &str) -> Server {
    let key = Key {
        name: PDNS_KEY.to_owned(),
        algorithm: "hmac-sha256".to_owned(),
        secret: random_secret(),
    };
    let client = PowerDnsClient::new(&pdns.api_url, &pdns.api_key, SETUP_TIMEOUT)
        .expect("a PowerDNS API client");
    let result = block_on(async {
        client
            .create_tsig_key(&key.name, &key.algorithm, &key.secret)
            .await
            .map_err(|e| format!("create TSIG key: {e}: {e:?}"))?;
        PowerDnsZones::new(client, Some(key.name.clone()))
            .create(&spec(zone))
            .await
            .map_err(|e| format!("create zone {zone}: {e}: {e:?}"))
    });
    if let Err(e) = result {
        panic!("PowerDNS setup failed: {e}\n{}", pdns.log_tail());
    }
    Server {
        addr: pdns.dns_addr,
        key,
    }
}

/// A base64 secret of 32 random bytes.
fn random_secret() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").expect("/dev/urandom"),
        &mut bytes,
    )
    .expect("read /dev/urandom");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Sends `commands` with nsupdate to `addr`, signed with `key` (algorithm:name:secret).
/// Fails the test when the server refuses it.
pub fn nsupdate(addr: SocketAddr, key: &str, commands: &str) {
    let mut child = Command::new("nsupdate")
        .args(["-y", key])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nsupdate is missing: install the Debian package bind9-dnsutils");
    let script = format!("server {} {}\n{commands}\nsend\n", addr.ip(), addr.port());
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write to nsupdate");
    let out = child.wait_with_output().expect("nsupdate");
    assert!(
        out.status.success(),
        "nsupdate failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Resource `name`: the A record set `name` in `farm.` with a TTL of 300, holding `ip`.
pub fn a_record(name: &str, ip: &str) -> String {
    record_set_with(
        name,
        "farm.",
        name,
        "A",
        &hcl_list(&[ip]),
        "  ttl     = 300\n",
    )
}

/// Resource `label`: the record set `name` of type `rtype` in `zone`, holding `records`
/// (each written as an HCL string).
pub fn record_set(label: &str, zone: &str, name: &str, rtype: &str, records: &[&str]) -> String {
    record_set_with(label, zone, name, rtype, &hcl_list(records), "")
}

/// Resource `label` as [`record_set`] writes it, with `records` an HCL expression and
/// `extra` attribute lines (`ttl`, `depends_on`, ...) after it.
pub fn record_set_with(
    label: &str,
    zone: &str,
    name: &str,
    rtype: &str,
    records: &str,
    extra: &str,
) -> String {
    format!(
        r#"
resource "rack_dns_record_set" "{label}" {{
  zone    = "{zone}"
  name    = "{name}"
  type    = "{rtype}"
  records = {records}
{extra}}}
"#
    )
}

/// An HCL list of `items`, each an HCL string (quotes and backslashes escaped).
pub fn hcl_list(items: &[&str]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|item| format!("\"{}\"", item.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("[{}]", quoted.join(", "))
}
