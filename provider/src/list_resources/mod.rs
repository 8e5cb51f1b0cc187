//! List resources: what `terraform query` finds, to adopt existing objects.

pub mod dns_record_set;
