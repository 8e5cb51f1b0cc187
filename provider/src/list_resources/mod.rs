//! List resources: what `terraform query` finds, to adopt existing objects.

pub mod dhcp_lease;
pub mod dns_record_set;
pub mod vm;
