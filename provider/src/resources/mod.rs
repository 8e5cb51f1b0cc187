//! Managed resources, one file each.

pub mod dhcp;
pub mod dhcp_lease;
pub mod dns;
pub mod dns_record_set;
pub mod dns_zone;
pub mod libvirt;
pub mod network;
pub mod storage_pool;
pub mod vm;
pub mod volume;
