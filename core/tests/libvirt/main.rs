//! The libvirt client against a real libvirtd 9.0 (Debian 12) that each test starts in
//! network and mount namespaces of its own (see `support/libvirt.rs`). What libvirt holds
//! is checked through the client, what exists is checked in the namespace: the bridge
//! (`ip -n NS link`), dnsmasq's process and configuration, the NAT rules. The tests fail
//! (never skip) naming the missing binary when libvirt, QEMU, dnsmasq or tini is absent.
//! Storage pools and volumes are in `storage.rs` (files checked on disk and with
//! `qemu-img`; the logical pool needs lvm2 and a free loop device).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dhcp_hosts;
mod storage;
mod vm;
mod vm_adoption;
mod volume_adoption;

use rack_core::libvirt::{
    DhcpRange, DomainConfig, Hypervisor, IpConfig, LibvirtError, NetworkMode, NetworkSpec,
    NetworkState,
};
use rack_lab::Libvirt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

fn start() -> (Libvirt, Hypervisor) {
    let fixture = Libvirt::start().unwrap_or_else(|e| panic!("cannot start libvirtd: {e}"));
    eprintln!(
        "libvirtd ready in {:?} (namespace {})",
        fixture.startup,
        fixture.namespace()
    );
    let hv = Hypervisor::with_timeout(&fixture.uri, Duration::from_secs(60)).unwrap();
    (fixture, hv)
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn range(a: &str, b: &str) -> DhcpRange {
    DhcpRange {
        start: ip(a),
        end: ip(b),
    }
}

fn nat_spec() -> NetworkSpec {
    NetworkSpec {
        name: "farm".into(),
        mode: NetworkMode::Nat,
        bridge: Some("rkfarm0".into()),
        mtu: Some(1400),
        ipv4: Some(IpConfig {
            address: ip("10.91.0.1"),
            prefix: 24,
            dhcp_ranges: vec![range("10.91.0.100", "10.91.0.150")],
        }),
        ipv6: Some(IpConfig {
            address: ip("fd91::1"),
            prefix: 64,
            dhcp_ranges: vec![],
        }),
        domain: Some(DomainConfig {
            name: "farm.test".into(),
            local_only: true,
        }),
        autostart: true,
    }
}

fn isolated_spec() -> NetworkSpec {
    NetworkSpec {
        name: "backplane".into(),
        mode: NetworkMode::Isolated,
        bridge: Some("rkback0".into()),
        mtu: None,
        ipv4: Some(IpConfig {
            address: ip("10.92.0.1"),
            prefix: 24,
            dhcp_ranges: vec![range("10.92.0.10", "10.92.0.20")],
        }),
        ipv6: None,
        domain: None,
        autostart: false,
    }
}

fn spec_of(state: &NetworkState) -> NetworkSpec {
    state.spec.clone().unwrap()
}

/// `ip -o link show dev` in the namespace: the interface's line, or `None` if absent.
fn link(fixture: &Libvirt, dev: &str) -> Option<String> {
    fixture.ip(&["-o", "link", "show", "dev", dev]).ok()
}

/// The interface index at the start of an `ip -o link` line.
fn ifindex(line: &str) -> u32 {
    line.split(':').next().unwrap().trim().parse().unwrap()
}

fn nat_rules(fixture: &Libvirt) -> String {
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            fixture.namespace(),
            "iptables",
            "-t",
            "nat",
            "-S",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn nat_and_isolated_networks_create_update_destroy() {
    let (fixture, hv) = start();
    let (uri, version) = hv.ping().await.unwrap();
    assert!(uri.starts_with("qemu+unix:///system"), "{uri}");
    assert!(version >= 9_000_000, "libvirt {version}");
    assert!(
        hv.networks().await.unwrap().is_empty(),
        "the fixture defines no network"
    );

    // Create: both defined, started, autostart as asked, read back equal to the spec.
    let t = Instant::now();
    let nat = hv.create_network(&nat_spec()).await.unwrap();
    eprintln!("NAT network define+start: {:?}", t.elapsed());
    let t = Instant::now();
    let isolated = hv.create_network(&isolated_spec()).await.unwrap();
    eprintln!("isolated network define+start: {:?}", t.elapsed());
    for (state, spec) in [(&nat, nat_spec()), (&isolated, isolated_spec())] {
        assert!(state.active && state.persistent, "{state:?}");
        assert_eq!(state.autostart, spec.autostart);
        assert_eq!(spec_of(state), spec, "{}", state.xml);
        assert_eq!(state.uuid.len(), 36);
    }
    let names: Vec<String> = hv
        .networks()
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect();
    assert_eq!(names, ["backplane", "farm"]);

    // What exists in the namespace: bridges with the MTU, dnsmasq per network serving
    // the ranges, masquerading for the NAT network only.
    let farm_link = link(&fixture, "rkfarm0").expect("bridge rkfarm0 exists");
    assert!(farm_link.contains("mtu 1400"), "{farm_link}");
    assert!(link(&fixture, "rkback0").is_some(), "bridge rkback0 exists");
    let farm_dnsmasq = fixture.dnsmasq_pid("farm").expect("dnsmasq runs for farm");
    assert!(
        fixture.dnsmasq_pid("backplane").is_some(),
        "dnsmasq runs for backplane"
    );
    let conf = std::fs::read_to_string(fixture.dnsmasq_conf("farm")).unwrap();
    assert!(
        conf.contains("dhcp-range=10.91.0.100,10.91.0.150"),
        "{conf}"
    );
    assert!(
        conf.contains("domain=farm.test") && conf.contains("local=/farm.test/"),
        "{conf}"
    );
    let conf = std::fs::read_to_string(fixture.dnsmasq_conf("backplane")).unwrap();
    assert!(conf.contains("dhcp-range=10.92.0.10,10.92.0.20"), "{conf}");
    let rules = nat_rules(&fixture);
    assert!(
        rules.contains("10.91.0.0/24") && rules.contains("MASQUERADE"),
        "{rules}"
    );
    assert!(!rules.contains("10.92.0.0/24"), "{rules}");

    // Update in place: DHCP ranges through virNetworkUpdate, autostart off. The bridge
    // is the same interface afterwards (guests would keep their link).
    let mut want = nat_spec();
    want.autostart = false;
    want.ipv4.as_mut().unwrap().dhcp_ranges = vec![
        range("10.91.0.100", "10.91.0.120"),
        range("10.91.0.200", "10.91.0.210"),
    ];
    let t = Instant::now();
    let updated = hv.update_network(&want).await.unwrap();
    eprintln!(
        "in-place update (1 range removed, 2 added, autostart): {:?}",
        t.elapsed()
    );
    assert_eq!(spec_of(&updated), want, "{}", updated.xml);
    assert!(updated.active && !updated.autostart);
    assert_eq!(updated.uuid, nat.uuid);
    let fresh = hv.network_fresh("farm").await.unwrap().unwrap();
    assert_eq!(spec_of(&fresh), want);
    assert_eq!(
        hv.network("farm").await.unwrap().unwrap(),
        fresh,
        "cache follows our writes"
    );
    let after = link(&fixture, "rkfarm0").expect("bridge rkfarm0 still exists");
    assert_eq!(
        ifindex(&after),
        ifindex(&farm_link),
        "the bridge was not recreated"
    );
    let conf = std::fs::read_to_string(fixture.dnsmasq_conf("farm")).unwrap();
    assert!(
        conf.contains("dhcp-range=10.91.0.100,10.91.0.120")
            && conf.contains("dhcp-range=10.91.0.200,10.91.0.210")
            && !conf.contains("10.91.0.150"),
        "{conf}"
    );
    let new_dnsmasq = fixture
        .dnsmasq_pid("farm")
        .expect("dnsmasq runs for farm after the update");
    eprintln!("dnsmasq for farm: pid {farm_dnsmasq} before, {new_dnsmasq} after");

    // What libvirt cannot change live is refused, and nothing changes.
    let mut replace = want.clone();
    replace.mtu = Some(1500);
    replace.domain = None;
    match hv.update_network(&replace).await {
        Err(LibvirtError::RequiresReplacement { name, attributes }) => {
            assert_eq!(name, "farm");
            assert_eq!(attributes, ["mtu", "domain"]);
        }
        other => panic!("expected RequiresReplacement, got {other:?}"),
    }
    assert_eq!(
        spec_of(&hv.network_fresh("farm").await.unwrap().unwrap()),
        want
    );

    // A second create of exactly the same network adopts it (a create that timed out
    // and that libvirtd carried out later); a different one of the same name is refused.
    let adopted = hv.create_network(&isolated_spec()).await.unwrap();
    assert_eq!(adopted.uuid, isolated.uuid);
    let mut other = isolated_spec();
    other.mtu = Some(1400);
    let e = hv.create_network(&other).await.unwrap_err();
    assert!(matches!(e, LibvirtError::Exists { .. }), "{e:?}");
    assert!(e.to_string().contains("import it"), "{e}");

    // Destroy leaves nothing: no definition, bridge, dnsmasq, config file or NAT rule.
    let t = Instant::now();
    assert!(hv.delete_network("farm").await.unwrap());
    eprintln!("NAT network destroy+undefine: {:?}", t.elapsed());
    assert!(hv.delete_network("backplane").await.unwrap());
    assert!(
        !hv.delete_network("farm").await.unwrap(),
        "second delete finds nothing"
    );
    assert!(hv.networks().await.unwrap().is_empty());
    assert!(hv.refresh_networks().await.unwrap().is_empty());
    assert!(hv.network_fresh("farm").await.unwrap().is_none());
    assert!(link(&fixture, "rkfarm0").is_none() && link(&fixture, "rkback0").is_none());
    assert!(fixture.dnsmasq_pid("farm").is_none() && fixture.dnsmasq_pid("backplane").is_none());
    assert!(!fixture.dnsmasq_conf("farm").exists());
    assert!(!nat_rules(&fixture).contains("10.91.0.0/24"));
}

#[tokio::test]
async fn cache_is_filled_once_and_fresh_reads_see_out_of_band_changes() {
    let (_fixture, hv) = start();
    let other = Hypervisor::new(hv.uri()).unwrap();
    let mut spec = isolated_spec();
    spec.ipv4.as_mut().unwrap().dhcp_ranges.clear();
    hv.create_network(&spec).await.unwrap();
    assert_eq!(hv.networks().await.unwrap().len(), 1);

    // Many concurrent reads through one connection's bounded channel.
    let mut reads = tokio::task::JoinSet::new();
    for i in 0..40 {
        let hv = hv.clone();
        reads.spawn(async move {
            if i % 2 == 0 {
                hv.network("backplane").await
            } else {
                hv.network_fresh("backplane").await
            }
        });
    }
    while let Some(r) = reads.join_next().await {
        assert_eq!(r.unwrap().unwrap().unwrap().name, "backplane");
    }

    // Deleted behind the first handle's back (another connection): its cache still
    // answers from the listing, a fresh read and a refresh see the truth.
    assert!(other.delete_network("backplane").await.unwrap());
    assert!(hv.network("backplane").await.unwrap().is_some(), "cached");
    assert!(hv.network_fresh("backplane").await.unwrap().is_none());
    assert!(
        hv.network("backplane").await.unwrap().is_none(),
        "fresh read updates the cache"
    );
    hv.create_network(&spec).await.unwrap();
    assert!(other.refresh_networks().await.unwrap().len() == 1);

    // Stopped out of band: seen as inactive.
    assert!(other.delete_network("backplane").await.unwrap());
    assert!(hv.refresh_networks().await.unwrap().is_empty());
}

#[tokio::test]
async fn errors_say_what_to_check() {
    let (fixture, hv) = start();

    // A bridge-mode network onto a host bridge that does not exist, then one that does.
    let mut bridged = NetworkSpec::new(
        "lan",
        NetworkMode::Bridge {
            bridge: "rkhost0".into(),
        },
    );
    let e = hv.create_network(&bridged).await.unwrap_err();
    assert!(matches!(e, LibvirtError::MissingBridge { .. }), "{e:?}");
    assert!(e.to_string().contains("\"rkhost0\" does not exist"), "{e}");
    assert!(
        hv.network_fresh("lan").await.unwrap().is_none(),
        "nothing left behind"
    );
    fixture
        .ip(&["link", "add", "rkhost0", "type", "bridge"])
        .unwrap();
    bridged.autostart = true;
    let state = hv.create_network(&bridged).await.unwrap();
    assert_eq!(spec_of(&state), bridged, "{}", state.xml);
    assert!(hv.delete_network("lan").await.unwrap());

    // A subnet already used by another network: refused at start, definition removed.
    hv.create_network(&isolated_spec()).await.unwrap();
    let mut clash = nat_spec();
    clash.ipv4.as_mut().unwrap().address = ip("10.92.0.1");
    clash.ipv4.as_mut().unwrap().dhcp_ranges = vec![range("10.92.0.100", "10.92.0.110")];
    let e = hv.create_network(&clash).await.unwrap_err();
    assert!(matches!(e, LibvirtError::InUse { .. }), "{e:?}");
    assert!(
        e.to_string()
            .contains("choose another bridge name or subnet"),
        "{e}"
    );
    assert!(
        hv.network_fresh("farm").await.unwrap().is_none(),
        "definition removed"
    );

    // An invalid spec never reaches libvirt.
    let mut bad = nat_spec();
    bad.bridge = Some("much-too-long-bridge-name".into());
    let e = hv.create_network(&bad).await.unwrap_err();
    assert!(matches!(e, LibvirtError::Spec { .. }), "{e:?}");

    // Updating a network that does not exist.
    let e = hv.update_network(&nat_spec()).await.unwrap_err();
    assert!(matches!(e, LibvirtError::NotFound { .. }), "{e:?}");

    // No daemon behind the URI.
    let nowhere = format!(
        "qemu+unix:///system?socket={}/nowhere.sock",
        fixture.dir().display()
    );
    let e = Hypervisor::new(nowhere).unwrap().ping().await.unwrap_err();
    assert!(matches!(e, LibvirtError::Connect { .. }), "{e:?}");
    assert!(e.to_string().contains("check the URI"), "{e}");
    assert!(hv.delete_network("backplane").await.unwrap());
}

#[tokio::test]
async fn node_info_names_the_domain_types_that_work() {
    let (_fixture, hv) = start();
    let info = hv.node_info().await.unwrap();
    assert_eq!(info.driver, "QEMU", "{info:?}");
    assert!(info.libvirt_version.starts_with("9."), "{info:?}");
    assert!(info.cpus >= 1 && info.memory_bytes > 0, "{info:?}");
    assert_eq!(info.arch, "x86_64", "{info:?}");
    assert!(info.domain_types.iter().any(|t| t == "qemu"), "{info:?}");
    // These machines have /dev/kvm without hardware virtualisation for nested guests.
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap();
    let hw = cpuinfo.split_whitespace().any(|w| w == "vmx" || w == "svm");
    if !hw {
        assert!(!info.domain_types.iter().any(|t| t == "kvm"), "{info:?}");
        assert!(
            info.unusable_domain_types
                .get("kvm")
                .is_some_and(|why| why.contains("vmx")),
            "{info:?}"
        );
    }
}
