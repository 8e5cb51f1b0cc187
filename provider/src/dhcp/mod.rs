//! The DHCP family: the provider block's `dhcp` section and its servers, the
//! `rack_dhcp_lease` and `rack_dhcp_reservations` resources, the `rack_dhcp_leases` data
//! source and the list resources of both resources. The backends themselves (Kea,
//! libvirt) and the option catalogue are `rack_core::dhcp`'s.

pub mod lease;
pub mod lease_list;
pub mod leases_data;
pub mod provider_block;
pub mod reservations;
pub mod reservations_list;
pub mod shared;

use std::sync::Arc;

use rack_core::dhcp::LeaseBook;

use crate::config::Family;
use crate::config::hypervisors::Hypervisors;
use crate::protocol::value::Value;

/// The DHCP family, as the provider registers it. A `libvirt` server reaches its
/// hypervisor through the configured [`Hypervisors`], so the family that builds them is
/// registered before this one.
pub fn family() -> Family {
    Family {
        blocks: vec![provider_block::block()],
        configure: |config, lookup, diags, clients| {
            let value = config.attr("dhcp").cloned().unwrap_or(Value::Null);
            let hypervisors = clients.get::<Hypervisors>().unwrap_or_default();
            let servers = provider_block::configure(&value, lookup, diags, &hypervisors);
            // The active leases of the servers outside libvirt, where `rack_vm`'s
            // `wait_for_ip` finds a VM's address (libvirt knows its own networks' leases).
            clients.insert(LeaseBook::new(
                servers
                    .all()
                    .filter(|s| s.backend.kind() != "libvirt")
                    .map(|s| (s.name.clone(), Arc::clone(&s.backend)))
                    .collect(),
            ));
            clients.insert(servers);
        },
        resources: vec![
            Arc::new(lease::DhcpLease),
            Arc::new(reservations::DhcpReservations),
        ],
        data_sources: vec![Arc::new(leases_data::DhcpLeasesData)],
        list_resources: vec![
            Arc::new(lease_list::DhcpLeaseList),
            Arc::new(reservations_list::DhcpReservationsList),
        ],
        ..Family::default()
    }
}
