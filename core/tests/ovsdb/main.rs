//! The OVSDB client against a real ovsdb-server and ovs-vswitchd (Open vSwitch 3.1 in
//! Debian 12), in the lab's dummy mode (no root, no network devices) unless a test says
//! otherwise. They fail (never skip) naming the missing package when OVS is absent.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod tls;

use std::collections::BTreeMap;
use std::time::Duration;

use rack_core::ovsdb::{
    BridgeSpec, Change, InterfaceSpec, OvsdbError, PortSpec, SwitchClient, SwitchConfig, Vlan,
};
use rack_lab::{Ovs, OvsMode};

fn client(address: &str) -> SwitchClient {
    SwitchClient::new(SwitchConfig::new(address)).unwrap()
}

fn bridge(name: &str) -> BridgeSpec {
    BridgeSpec {
        name: name.into(),
        datapath_type: "netdev".into(),
        ..BridgeSpec::default()
    }
}

fn iface(name: &str) -> InterfaceSpec {
    InterfaceSpec {
        name: name.into(),
        kind: "system".into(),
        options: BTreeMap::new(),
    }
}

fn access(name: &str, tag: u16) -> PortSpec {
    PortSpec {
        name: name.into(),
        interfaces: vec![iface(name)],
        vlan_mode: Some("access".into()),
        tag: Some(tag),
        ..PortSpec::default()
    }
}

fn port_change(name: &str, want: Option<PortSpec>, expect: Option<Option<PortSpec>>) -> Change {
    Change::Port {
        bridge: "br0".into(),
        name: name.into(),
        want,
        expect,
    }
}

async fn with_bridge(ovs: &Ovs) -> SwitchClient {
    let c = client(&ovs.address());
    c.apply(Change::Bridge {
        name: "br0".into(),
        want: Some(bridge("br0")),
        expect: Some(None),
    })
    .await
    .unwrap();
    c
}

#[tokio::test]
async fn ports_created_together_share_one_transaction_and_read_back() {
    let ovs = Ovs::started(OvsMode::Dummy);
    let c = with_bridge(&ovs).await;
    let before = c.transactions_made();
    let writes = (1..=8).map(|i| {
        let c = c.clone();
        async move {
            c.apply(port_change(
                &format!("p{i}"),
                Some(access(&format!("p{i}"), 10 + i)),
                Some(None),
            ))
            .await
        }
    });
    for r in futures_join(writes).await {
        r.unwrap();
    }
    assert_eq!(
        c.transactions_made() - before,
        1,
        "eight ports, one transaction"
    );
    let snap = c.snapshot().await.unwrap();
    let p3 = snap.port("br0", "p3").unwrap();
    assert_eq!(p3.spec, access("p3", 13));
    assert!(p3.interfaces[0].ofport.unwrap_or(-1) > 0, "{p3:?}");
    let shown = ovs.vsctl(&["get", "port", "p3", "tag"]).unwrap();
    assert_eq!(shown.trim(), "13");
    // A fresh client reads the switch once for any number of lookups.
    let fresh = client(&ovs.unix_address());
    for i in 1..=8 {
        assert!(
            fresh
                .snapshot()
                .await
                .unwrap()
                .port("br0", &format!("p{i}"))
                .is_some()
        );
    }
    assert_eq!(fresh.reads_made(), 1);
}

async fn futures_join<F: std::future::Future + Send + 'static>(
    fs: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

#[tokio::test]
async fn updates_in_place_trunks_bonds_and_removal_leave_the_rest() {
    let ovs = Ovs::started(OvsMode::Dummy);
    let c = with_bridge(&ovs).await;
    ovs.vsctl(&["add-port", "br0", "theirs"]).unwrap();
    c.apply(port_change("p1", Some(access("p1", 10)), Some(None)))
        .await
        .unwrap();
    let mut trunk = access("p1", 10);
    trunk.vlan_mode = Some("trunk".into());
    trunk.tag = None;
    trunk.trunks = [10, 20].into();
    c.apply(port_change(
        "p1",
        Some(trunk.clone()),
        Some(Some(access("p1", 10))),
    ))
    .await
    .unwrap();
    assert_eq!(
        ovs.vsctl(&["get", "port", "p1", "trunks"]).unwrap().trim(),
        "[10, 20]"
    );
    let uuid_before = ovs.vsctl(&["get", "interface", "p1", "_uuid"]).unwrap();

    let mut bond = trunk.clone();
    bond.name = "p1".into();
    bond.interfaces = vec![iface("p1"), iface("p1b")];
    bond.bond_mode = Some("active-backup".into());
    bond.lacp = Some("active".into());
    bond.bond_updelay = 100;
    c.apply(port_change("p1", Some(bond.clone()), Some(Some(trunk))))
        .await
        .unwrap();
    let snap = c.snapshot().await.unwrap();
    assert_eq!(snap.port("br0", "p1").unwrap().spec, bond);
    assert_eq!(
        ovs.vsctl(&["get", "interface", "p1", "_uuid"]).unwrap(),
        uuid_before,
        "the member that stayed was updated in place, not replaced"
    );

    c.apply(port_change("p1", None, None)).await.unwrap();
    let ports = ovs.vsctl(&["list-ports", "br0"]).unwrap();
    assert_eq!(ports.trim(), "theirs");
    assert!(
        ovs.vsctl(&["--if-exists", "get", "interface", "p1b", "name"])
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_change_made_out_of_band_is_refused_naming_the_port() {
    let ovs = Ovs::started(OvsMode::Dummy);
    let c = with_bridge(&ovs).await;
    c.apply(port_change("p1", Some(access("p1", 10)), Some(None)))
        .await
        .unwrap();
    c.snapshot().await.unwrap();
    ovs.vsctl(&["set", "port", "p1", "tag=99"]).unwrap();
    // The client's snapshot still says 10: the transaction's wait fails, the client
    // reads again and refuses the change instead of overwriting 99.
    let e = c
        .apply(port_change(
            "p1",
            Some(access("p1", 20)),
            Some(Some(access("p1", 10))),
        ))
        .await
        .unwrap_err();
    assert!(matches!(e, OvsdbError::Changed { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("port \"p1\"") && text.contains("tag is 99, expected 10"),
        "{text}"
    );
    assert_eq!(
        ovs.vsctl(&["get", "port", "p1", "tag"]).unwrap().trim(),
        "99"
    );
    // Without an expectation the same change goes through after one fresh read.
    c.apply(port_change("p1", Some(access("p1", 20)), None))
        .await
        .unwrap();
    assert_eq!(
        ovs.vsctl(&["get", "port", "p1", "tag"]).unwrap().trim(),
        "20"
    );
}

#[tokio::test]
async fn vlans_live_in_the_bridge_external_ids() {
    let ovs = Ovs::started(OvsMode::Dummy);
    let c = with_bridge(&ovs).await;
    let web = Vlan {
        name: "web".into(),
        tag: 110,
        description: "front end".into(),
    };
    let change = |want: Option<Vlan>, expect| Change::Vlan {
        bridge: "br0".into(),
        name: "web".into(),
        want,
        expect,
    };
    c.apply(change(Some(web.clone()), Some(None)))
        .await
        .unwrap();
    let ids = ovs
        .vsctl(&["get", "bridge", "br0", "external_ids"])
        .unwrap();
    assert!(ids.contains("\"rack-vlan:web\"=\"110:front end\""), "{ids}");
    assert_eq!(
        c.snapshot().await.unwrap().bridge("br0").unwrap().vlans,
        vec![web.clone()]
    );
    let e = c.apply(change(Some(web.clone()), Some(None))).await;
    assert!(e.is_ok(), "already in effect: {e:?}");
    c.apply(change(None, None)).await.unwrap();
    assert!(c.snapshot().await.unwrap().vlan("br0", "web").is_none());
}

#[tokio::test]
async fn bad_changes_get_clear_errors() {
    let ovs = Ovs::started(OvsMode::Dummy);
    let c = with_bridge(&ovs).await;
    let e = c
        .apply(Change::Port {
            bridge: "nope".into(),
            name: "p1".into(),
            want: Some(access("p1", 1)),
            expect: Some(None),
        })
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "bridge \"nope\" does not exist on the switch"
    );
    ovs.vsctl(&["add-port", "br0", "taken"]).unwrap();
    let e = c
        .apply(port_change("p2", Some(access("taken", 1)), Some(None)))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("interface \"taken\""), "{e}");
    // A patch interface whose peer does not exist: committed, then reported by vswitchd.
    let mut patch = access("pp", 1);
    patch.interfaces[0].kind = "patch".into();
    let e = c
        .apply(port_change("pp", Some(patch), Some(None)))
        .await
        .unwrap_err();
    assert!(matches!(e, OvsdbError::InterfaceFailed { .. }), "{e}");

    let unreachable = client("tcp:127.0.0.1:1");
    let e = unreachable.snapshot().await.unwrap_err();
    assert!(
        e.to_string()
            .starts_with("Cannot reach the switch at tcp:127.0.0.1:1"),
        "{e}"
    );
}

#[tokio::test]
async fn an_idle_connection_stays_open_by_answering_echo() {
    let ovs = Ovs::started(OvsMode::Dummy);
    // ovsdb-server probes an idle TCP connection with echo after 5 s and drops it when
    // no answer comes within another 5 s (unix sockets are not probed).
    let c = client(&ovs.address());
    c.snapshot().await.unwrap();
    ovs.vsctl(&["set", "Open_vSwitch", ".", "other_config:x=y"])
        .unwrap();
    tokio::time::sleep(Duration::from_secs(12)).await;
    c.invalidate().await;
    c.snapshot().await.unwrap();
    let log = std::fs::read_to_string(ovs.dir().join("ovsdb-server.log")).unwrap_or_default();
    assert!(!log.contains("no response to inactivity probe"), "{log}");
}
