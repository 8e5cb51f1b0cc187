//! `rack-core`: the clients for the services rack manages and the domain types they share
//! (names, MAC addresses, CIDRs, sizes). Nothing here knows about Terraform.

pub mod apt;
pub mod boot;
pub mod cloudinit;
pub mod dhcp;
pub mod dns;
pub mod kea;
pub mod libvirt;
pub mod net;
pub mod ovsdb;
pub mod powerdns;
pub mod rndc;
pub mod size;
mod sync;
mod tls;
pub mod zones;

pub use net::{
    AddressError, Cidr, CidrError, DEFAULT_MAC_PREFIX, MacAddress, MacError, MacPrefix,
    ReverseError, derive_mac, parse_ip, ptr_name, reverse_zone,
};
pub use size::{ByteSize, SizeError};
