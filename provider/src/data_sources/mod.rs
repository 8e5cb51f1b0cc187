//! Data sources: what a configuration reads from the services without managing it.

pub mod dhcp_leases;
pub mod dns_record_set;
pub mod dns_zone;
pub mod hypervisor;
pub mod volume;
