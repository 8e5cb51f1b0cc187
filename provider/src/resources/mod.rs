//! Managed resources, one file each.

pub mod dns;
pub mod dns_record_set;
pub mod dns_zone;
