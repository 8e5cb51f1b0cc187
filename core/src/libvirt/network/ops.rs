//! The operations on the networks of a [`Hypervisor`].

use virt::network::Network;
use virt::sys;

use super::plan::plan_update;
use super::spec::{NetworkMode, NetworkSpec, NetworkSpecError};
use super::xml::{ip_index, network_xml, parse_network_xml, range_xml};

use crate::libvirt::connection::not_found;
use crate::libvirt::connection::{Hypervisor, Link, listed_kind};
use crate::libvirt::error::{LibvirtError, ObjectKind, classify, missing_as_none};
use virt::error::ErrorNumber;

/// A network as libvirt holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkState {
    /// The network's name.
    pub name: String,
    /// libvirt's UUID.
    pub uuid: String,
    /// Whether it runs.
    pub active: bool,
    /// Whether it has a persistent definition (false: transient, gone when stopped).
    pub persistent: bool,
    /// Whether libvirt starts it when the daemon starts.
    pub autostart: bool,
    /// The XML libvirt reports: the live definition when active, else the persistent one.
    pub xml: String,
    /// The model read from [`Self::xml`], or why rack cannot model this network.
    pub spec: Result<NetworkSpec, NetworkSpecError>,
}

/// Reads one network's state (on the connection's thread).
pub(crate) fn read_state(link: &Link<'_>, net: &Network) -> Result<NetworkState, LibvirtError> {
    let name = net
        .name()
        .map_err(|e| link.fail("read the name of a network", e))?;
    let action = || format!("read network {name:?}");
    let uuid = net.uuid_string().map_err(|e| link.fail(action(), e))?;
    let active = net.is_active().map_err(|e| link.fail(action(), e))?;
    let persistent = net.is_persistent().map_err(|e| link.fail(action(), e))?;
    let autostart = persistent && net.autostart().map_err(|e| link.fail(action(), e))?;
    let xml = net.xml_desc(0).map_err(|e| link.fail(action(), e))?;
    let spec = parse_network_xml(&xml, autostart);
    Ok(NetworkState {
        name,
        uuid,
        active,
        persistent,
        autostart,
        xml,
        spec,
    })
}

pub(crate) fn lookup(link: &Link<'_>, name: &str) -> Result<Option<Network>, LibvirtError> {
    let found = link.conn().lookup_network_by_name(name);
    missing_as_none(found, ErrorNumber::NoNetwork)
        .map_err(|e| link.fail(format!("look up network {name:?}"), e))
}

/// Checks, where the hypervisor can tell, that the host bridge of a bridge-mode network
/// exists (libvirt itself only notices when a guest is attached).
fn check_host_bridge(link: &Link<'_>, bridge: &str) -> Result<(), LibvirtError> {
    use virt::error::ErrorNumber;
    match link.conn().lookup_interface_by_name(bridge) {
        Ok(_) => Ok(()),
        Err(e) if e.code().is(ErrorNumber::NoInterface) => Err(LibvirtError::MissingBridge {
            uri: link.uri().to_owned(),
            bridge: bridge.to_owned(),
            source: Some(e),
        }),
        // No interface driver there (e.g. built without udev): libvirt will tell later.
        Err(_) => Ok(()),
    }
}

/// Like [`Link::fail`], for an action on the network `spec` (names its bridge when the
/// error is about one).
fn fail_on(
    link: &Link<'_>,
    action: impl Into<String>,
    spec: &NetworkSpec,
    e: virt::error::Error,
) -> LibvirtError {
    classify(link.uri(), action.into(), Some(spec), e)
}

listed_kind!(
    NetworkState,
    Network,
    list: "list networks",
    noun: "network",
    plural: "networks",
    list_all: list_all_networks,
    lookup: lookup,
    read: read_state,
    cache: pub(crate) network_cache,
    methods: networks, refresh_networks, network, network_fresh,
);

impl Hypervisor {
    /// Defines the network, starts it and sets autostart. If starting fails the
    /// definition is removed again, so a failed create leaves nothing behind.
    ///
    /// Idempotent: a network of that name whose definition is exactly `spec` (a create
    /// that timed out and that libvirtd carried out later, or one made by hand) is
    /// adopted, started and given `spec`'s autostart; any other network of that name is
    /// [`LibvirtError::Exists`], and is left alone.
    pub async fn create_network(&self, spec: &NetworkSpec) -> Result<NetworkState, LibvirtError> {
        spec.validate().map_err(|source| LibvirtError::Spec {
            name: spec.name.clone(),
            source,
        })?;
        let xml = network_xml(spec);
        let spec = spec.clone();
        let cache = self.network_cache();
        self.call(format!("create network {:?}", spec.name), move |link| {
            let name = spec.name.as_str();
            if let Some(net) = lookup(link, name)? {
                let now = read_state(link, &net)?;
                let same = now.persistent
                    && now.spec.as_ref().is_ok_and(|current| {
                        let plan = plan_update(current, &spec);
                        plan.replace.is_empty()
                            && plan.add_ranges.is_empty()
                            && plan.remove_ranges.is_empty()
                    });
                if !same {
                    cache.put(name, now);
                    return Err(LibvirtError::Exists {
                        uri: link.uri().to_owned(),
                        kind: ObjectKind::Network,
                        name: name.to_owned(),
                    });
                }
                tracing::info!(
                    network = name,
                    "adopting the network that is already defined as planned"
                );
                if !now.active {
                    net.create()
                        .map_err(|e| fail_on(link, format!("start network {name:?}"), &spec, e))?;
                }
                if now.autostart != spec.autostart {
                    net.set_autostart(spec.autostart)
                        .map_err(|e| link.fail(format!("set autostart of network {name:?}"), e))?;
                }
                return Ok(cache.kept(name, read_state(link, &net)?));
            }
            if let NetworkMode::Bridge { bridge } = &spec.mode {
                check_host_bridge(link, bridge)?;
            }
            let net = link
                .conn()
                .define_network_xml(&xml)
                .map_err(|e| fail_on(link, format!("define network {name:?}"), &spec, e))?;
            let started = net
                .create()
                .map_err(|e| fail_on(link, format!("start network {name:?}"), &spec, e))
                .and_then(|()| {
                    net.set_autostart(spec.autostart)
                        .map_err(|e| link.fail(format!("set autostart of network {name:?}"), e))
                });
            if let Err(e) = started {
                let _ = net.destroy();
                let _ = net.undefine();
                cache.remove(name);
                return Err(e);
            }
            Ok(cache.kept(name, read_state(link, &net)?))
        })
        .await
    }

    /// Changes the network `desired.name` in place to match `desired` (see the module
    /// documentation for what can change). Fails with
    /// [`LibvirtError::RequiresReplacement`], changing nothing, if anything else differs.
    pub async fn update_network(
        &self,
        desired: &NetworkSpec,
    ) -> Result<NetworkState, LibvirtError> {
        desired.validate().map_err(|source| LibvirtError::Spec {
            name: desired.name.clone(),
            source,
        })?;
        let desired = desired.clone();
        let cache = self.network_cache();
        self.call(format!("update network {:?}", desired.name), move |link| {
            let name = desired.name.as_str();
            let net = lookup(link, name)?
                .ok_or_else(|| not_found(link, ObjectKind::Network, name.to_owned()))?;
            let before = read_state(link, &net)?;
            let current = before.spec.clone().map_err(|source| LibvirtError::Spec {
                name: name.to_owned(),
                source,
            })?;
            let plan = plan_update(&current, &desired);
            if !plan.replace.is_empty() {
                return Err(LibvirtError::RequiresReplacement {
                    name: name.to_owned(),
                    attributes: plan.replace,
                });
            }
            let mut flags = 0;
            if before.active {
                flags |= sys::VIR_NETWORK_UPDATE_AFFECT_LIVE;
            }
            if before.persistent {
                flags |= sys::VIR_NETWORK_UPDATE_AFFECT_CONFIG;
            }
            let steps = plan
                .remove_ranges
                .iter()
                .map(|r| (sys::VIR_NETWORK_UPDATE_COMMAND_DELETE, r))
                .chain(
                    plan.add_ranges
                        .iter()
                        .map(|r| (sys::VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, r)),
                );
            for (command, (v6, range)) in steps {
                let parent = ip_index(&before.xml, *v6)
                    .map_err(|source| LibvirtError::Spec {
                        name: name.to_owned(),
                        source,
                    })?
                    .and_then(|i| i32::try_from(i).ok())
                    .unwrap_or(-1);
                let verb = if command == sys::VIR_NETWORK_UPDATE_COMMAND_DELETE {
                    "remove"
                } else {
                    "add"
                };
                net.update(
                    command,
                    sys::VIR_NETWORK_SECTION_IP_DHCP_RANGE,
                    parent,
                    &range_xml(range),
                    flags,
                )
                .map_err(|e| {
                    fail_on(
                        link,
                        format!("{verb} DHCP range {range} of network {name:?}"),
                        &desired,
                        e,
                    )
                })?;
            }
            if let Some(autostart) = plan.autostart {
                net.set_autostart(autostart)
                    .map_err(|e| link.fail(format!("set autostart of network {name:?}"), e))?;
            }
            Ok(cache.kept(name, read_state(link, &net)?))
        })
        .await
    }

    /// Starts (`active`) or stops the network `name`; nothing happens when it is already
    /// so. Guests attached to a network that is stopped lose their link until it runs
    /// again and they are reattached.
    pub async fn set_network_active(
        &self,
        name: &str,
        active: bool,
    ) -> Result<NetworkState, LibvirtError> {
        let name = name.to_owned();
        let cache = self.network_cache();
        let verb = if active { "start" } else { "stop" };
        self.call(format!("{verb} network {name:?}"), move |link| {
            let net = lookup(link, &name)?
                .ok_or_else(|| not_found(link, ObjectKind::Network, name.clone()))?;
            let action = || format!("{verb} network {name:?}");
            let now = net.is_active().map_err(|e| link.fail(action(), e))?;
            if now != active {
                let done = if active { net.create() } else { net.destroy() };
                if let Err(e) = done {
                    let spec = read_state(link, &net).ok().and_then(|s| s.spec.ok());
                    return Err(match &spec {
                        Some(spec) => fail_on(link, action(), spec, e),
                        None => link.fail(action(), e),
                    });
                }
            }
            Ok(cache.kept(&name, read_state(link, &net)?))
        })
        .await
    }

    /// Stops the network if it runs and removes its definition. Returns whether there
    /// was a network of that name.
    pub async fn delete_network(&self, name: &str) -> Result<bool, LibvirtError> {
        let name = name.to_owned();
        let cache = self.network_cache();
        self.call(format!("delete network {name:?}"), move |link| {
            let Some(net) = lookup(link, &name)? else {
                cache.remove(&name);
                return Ok(false);
            };
            let action = || format!("delete network {name:?}");
            if net.is_active().map_err(|e| link.fail(action(), e))? {
                net.destroy().map_err(|e| link.fail(action(), e))?;
            }
            // A transient network is gone once destroyed.
            if net.is_persistent().unwrap_or(false) {
                net.undefine().map_err(|e| link.fail(action(), e))?;
            }
            cache.remove(&name);
            Ok(true)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn listing_is_filled_once_and_follows_our_writes() {
        let hv = Hypervisor::new("test:///default").unwrap();
        let before = hv.networks().await.unwrap();
        assert!(before.iter().any(|n| n.name == "default"), "{before:?}");
        let mut spec = NetworkSpec::new("rack-unit-isolated", NetworkMode::Isolated);
        spec.bridge = Some("rkunit0".into());
        let created = hv.create_network(&spec).await.unwrap();
        assert_eq!(created.spec.clone().unwrap(), spec);
        assert_eq!(hv.network(&spec.name).await.unwrap(), Some(created));
        assert_eq!(hv.networks().await.unwrap().len(), before.len() + 1);
        assert!(hv.delete_network(&spec.name).await.unwrap());
        assert_eq!(hv.network(&spec.name).await.unwrap(), None);
    }
}
