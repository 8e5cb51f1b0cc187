//! Static DHCP host entries of a running libvirt network, seen by a real DHCP client:
//! busybox `udhcpc` in a namespace of its own, joined to the network's bridge by a veth
//! pair, obtains exactly the address of its entry; changes and deletes take effect
//! without restarting the network's dnsmasq (same PID throughout).

use std::net::Ipv4Addr;
use std::time::Instant;

use rack_core::Cidr;
use rack_core::libvirt::{
    DhcpHost, DhcpHostError, HostChange, Hypervisor, LibvirtError, NetworkSpec,
};
use rack_core::net::MacAddress;

use crate::{ip, isolated_spec, start};
use rack_lab::Libvirt;

const MAC: &str = "02:00:00:93:00:01";
const OTHER_MAC: &str = "02:00:00:93:00:02";

fn mac(s: &str) -> MacAddress {
    s.parse().unwrap()
}

fn v4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn host(m: &str, addr: &str, name: Option<&str>) -> DhcpHost {
    DhcpHost {
        mac: Some(mac(m)),
        ip: Some(v4(addr)),
        name: name.map(str::to_owned),
    }
}

/// The persistent definition as libvirtd saved it (`/etc/libvirt/qemu/networks`).
fn saved_definition(fixture: &Libvirt, network: &str) -> String {
    let path = fixture
        .dir()
        .join("etc/qemu/networks")
        .join(format!("{network}.xml"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Creates the isolated network of the other tests (10.92.0.1/24, range .10-.20,
/// rkback0); its spec and its IPv4 subnet.
async fn isolated_network(hv: &Hypervisor) -> (NetworkSpec, Cidr) {
    let spec = isolated_spec();
    hv.create_network(&spec).await.unwrap();
    (spec, "10.92.0.0/24".parse().unwrap())
}

#[tokio::test]
async fn host_entries_reach_a_dhcp_client_without_restarting_dnsmasq() {
    let (fixture, hv) = start();
    let (spec, subnet) = isolated_network(&hv).await;
    let dnsmasq = fixture
        .dnsmasq_pid(&spec.name)
        .expect("dnsmasq runs for the network");
    let t = Instant::now();
    let client = fixture
        .dhcp_client("rkback0")
        .unwrap_or_else(|e| panic!("cannot attach a DHCP client: {e}"));
    eprintln!("client's bridge port forwarding after {:?}", t.elapsed());

    // Add: read back from the cache and from libvirt, saved, served.
    assert!(hv.dhcp_hosts(&spec.name, subnet).await.unwrap().is_empty());
    let entry = host(MAC, "10.92.0.50", Some("node1"));
    let t = Instant::now();
    let changed = hv
        .change_dhcp_host(&spec.name, subnet, HostChange::Add(entry.clone()))
        .await
        .unwrap();
    eprintln!("add a DHCP host: {:?}", t.elapsed());
    assert!(changed);
    assert_eq!(
        hv.dhcp_hosts(&spec.name, subnet).await.unwrap(),
        vec![entry.clone()]
    );
    assert_eq!(
        hv.dhcp_hosts_fresh(&spec.name, subnet).await.unwrap(),
        vec![entry.clone()]
    );
    let saved = saved_definition(&fixture, &spec.name);
    assert!(
        saved.contains("mac='02:00:00:93:00:01'") && saved.contains("ip='10.92.0.50'"),
        "persistent definition:\n{saved}"
    );
    let t = Instant::now();
    let lease = client.udhcpc(MAC, &[]).unwrap();
    eprintln!("udhcpc got {lease:?} in {:?}", t.elapsed());
    assert_eq!(lease.ip, "10.92.0.50", "{lease:?}");
    assert_eq!(
        lease.options.get("hostname").map(String::as_str),
        Some("node1"),
        "{lease:?}"
    );
    assert_eq!(fixture.dnsmasq_pid(&spec.name), Some(dnsmasq), "restarted");
    // libvirt reports the lease (`virsh net-dhcp-leases`), all of them or by MAC, once
    // dnsmasq's lease script (libvirt's lease helper) has recorded it: after the ACK,
    // asynchronously.
    let t = Instant::now();
    let leases = loop {
        let leases = hv.dhcp_leases(&spec.name, None).await.unwrap();
        if !leases.is_empty() || t.elapsed() > std::time::Duration::from_secs(10) {
            break leases;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    eprintln!("libvirt reported the lease {:?} after udhcpc", t.elapsed());
    let ours: Vec<_> = leases.iter().filter(|l| l.mac == Some(mac(MAC))).collect();
    assert_eq!(ours.len(), 1, "{leases:?}");
    assert_eq!(ours[0].ip, ip("10.92.0.50"));
    assert_eq!((ours[0].prefix, ours[0].iface.as_str()), (24, "rkback0"));
    assert!(ours[0].expiry > 0, "{leases:?}");
    let by_mac = hv.dhcp_leases(&spec.name, Some(mac(MAC))).await.unwrap();
    assert_eq!(by_mac, vec![ours[0].clone()]);
    assert!(
        hv.dhcp_leases(&spec.name, Some(mac(OTHER_MAC)))
            .await
            .unwrap()
            .is_empty()
    );

    // Another entry for the same address, MAC or hostname is refused, naming this one.
    for wanted in [
        host(OTHER_MAC, "10.92.0.50", None),
        host(MAC, "10.92.0.51", None),
        host(OTHER_MAC, "10.92.0.51", Some("NODE1")),
    ] {
        let e = hv
            .change_dhcp_host(&spec.name, subnet, HostChange::Add(wanted))
            .await
            .unwrap_err();
        assert!(matches!(e, DhcpHostError::Conflict { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.contains("[mac 02:00:00:93:00:01, ip 10.92.0.50, name node1]"),
            "{text}"
        );
    }

    // Modify in place: new address and no hostname; the client gets the new address.
    let moved = host(MAC, "10.92.0.60", None);
    let t = Instant::now();
    assert!(
        hv.change_dhcp_host(&spec.name, subnet, HostChange::Modify(moved.clone()))
            .await
            .unwrap()
    );
    eprintln!("modify a DHCP host: {:?}", t.elapsed());
    assert!(
        !hv.change_dhcp_host(&spec.name, subnet, HostChange::Modify(moved.clone()))
            .await
            .unwrap(),
        "no change, no call"
    );
    assert_eq!(
        hv.dhcp_hosts(&spec.name, subnet).await.unwrap(),
        vec![moved.clone()]
    );
    let lease = client.udhcpc(MAC, &[]).unwrap();
    assert_eq!(lease.ip, "10.92.0.60", "{lease:?}");
    assert_eq!(fixture.dnsmasq_pid(&spec.name), Some(dnsmasq), "restarted");

    // A second entry beside it; then delete the first.
    let other = host(OTHER_MAC, "10.92.0.61", Some("node2"));
    hv.change_dhcp_host(&spec.name, subnet, HostChange::Add(other.clone()))
        .await
        .unwrap();
    let t = Instant::now();
    assert!(
        hv.change_dhcp_host(&spec.name, subnet, HostChange::Delete(mac(MAC)))
            .await
            .unwrap()
    );
    eprintln!("delete a DHCP host: {:?}", t.elapsed());
    assert!(
        !hv.change_dhcp_host(&spec.name, subnet, HostChange::Delete(mac(MAC)))
            .await
            .unwrap(),
        "deleting what is gone is nothing to do"
    );
    assert_eq!(
        hv.dhcp_hosts_fresh(&spec.name, subnet).await.unwrap(),
        vec![other]
    );
    assert!(!saved_definition(&fixture, &spec.name).contains("02:00:00:93:00:01"));
    // Without its entry the client gets an address of the dynamic range.
    let lease = client.udhcpc(MAC, &[]).unwrap();
    let got = v4(&lease.ip);
    assert!(
        (v4("10.92.0.10")..=v4("10.92.0.20")).contains(&got),
        "{lease:?}"
    );
    let lease = client.udhcpc(OTHER_MAC, &[]).unwrap();
    assert_eq!(lease.ip, "10.92.0.61", "{lease:?}");
    assert_eq!(fixture.dnsmasq_pid(&spec.name), Some(dnsmasq), "restarted");
    // The network model does not see host entries: nothing to change on the network.
    let state = hv.network(&spec.name).await.unwrap().unwrap();
    assert_eq!(state.spec.clone().unwrap(), spec, "{}", state.xml);
}

/// A change of the host entries of `network`'s `subnet`, which must fail; its error.
async fn change_error(
    hv: &Hypervisor,
    network: &str,
    subnet: Cidr,
    change: HostChange,
) -> DhcpHostError {
    hv.change_dhcp_host(network, subnet, change)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn host_entry_errors_say_what_to_check() {
    let (_fixture, hv) = start();
    let (spec, subnet) = isolated_network(&hv).await;
    let wrong: Cidr = "10.99.0.0/24".parse().unwrap();
    let change = HostChange::Add(host(MAC, "10.99.0.5", None));
    let e = change_error(&hv, &spec.name, wrong, change).await;
    assert!(
        e.to_string().contains("its IPv4 subnets: 10.92.0.0/24"),
        "{e}"
    );
    let e = hv.dhcp_leases("nowhere", None).await.unwrap_err();
    assert!(e.to_string().contains("\"nowhere\" does not exist"), "{e}");
    let e = hv.dhcp_hosts("nowhere", subnet).await.unwrap_err();
    assert!(
        matches!(e, DhcpHostError::Libvirt(LibvirtError::NotFound { .. })),
        "{e:?}"
    );
    let change = HostChange::Add(host(MAC, "10.92.0.5", None));
    let e = change_error(&hv, "nowhere", subnet, change).await;
    assert!(e.to_string().contains("\"nowhere\" does not exist"), "{e}");
    let change = HostChange::Modify(host(MAC, "10.92.0.5", None));
    let e = change_error(&hv, &spec.name, subnet, change).await;
    assert!(matches!(e, DhcpHostError::NotFound { .. }), "{e:?}");
}
